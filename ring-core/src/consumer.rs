//! [`Consumer`]: the consuming side of a ring, and [`ReadView`], its in-place view.
//!
//! As for producers, the flavor is picked once when the handle is made: SPSC without an
//! overflow area, MPSC without one, or the general flavor for everything else.

use crate::entry::Entry;
use crate::error::{ClaimError, Corruption, PopError, Side};
use crate::layout::{slot_meta, PackedSlot, Slot};
use crate::protocol::claim::{claim, unclaim};
use crate::protocol::general::GeneralRx;
use crate::protocol::mpsc::ScRx;
use crate::protocol::spsc::SpscRx;
use crate::protocol::{AnyLane, ConsumerCursor, Mode, Place, RawRing, Shortfall, Span};
use crate::shared::Keep;
use crate::sync::Ordering::Relaxed;
use alloc::sync::Arc;
use core::mem::MaybeUninit;
use core::sync::atomic::AtomicI32;

#[repr(u8)]
enum Flavor<'a, T> {
    Spsc(SpscRx<'a, T>),
    Sc(ScRx<'a, T>),
    General(GeneralRx<'a, T>),
}

impl<T> core::fmt::Debug for Flavor<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Flavor::Spsc(_) => "Spsc",
            Flavor::Sc(_) => "Sc",
            Flavor::General(_) => "General",
        })
    }
}

/// Default number of polls a waiting consumer makes before it sleeps.
pub const DEFAULT_SPIN: u32 = 100;

/// How long, by default, a waiting consumer held up by an unpublished reservation sleeps
/// before it runs recovery (`Consumer::set_recovery_after`).
pub const DEFAULT_RECOVERY_AFTER: core::time::Duration = core::time::Duration::from_millis(100);

/// The consuming side of a ring (one of several in multi-consumer modes).
///
/// A consumer owns a reference to its ring: it can be moved to another thread and outlive the
/// [`crate::Ring`] value it came from. In single-consumer modes it holds the consumer claim
/// (recorded in shared memory) until it is dropped.
///
/// # Examples
///
/// ```
/// use ring_core::{Config, Ring};
///
/// let ring = Ring::<u16>::create_heap(Config::new(8)).unwrap();
/// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
/// tx.push_all(&[1, 2, 3]).unwrap();
/// let mut out = [0u16; 8];
/// assert_eq!(rx.pop_into(&mut out).unwrap(), 3);
/// assert_eq!(&out[..3], &[1, 2, 3]);
/// ```
pub struct Consumer<T: Entry> {
    flavor: Flavor<'static, T>,
    pub(crate) raw: RawRing<'static, T>,
    /// This process's eventfd slot for the ring (-1 when none is attached).
    #[cfg_attr(not(any(feature = "std", ring_core_loom)), allow(dead_code))]
    pub(crate) eventfd: &'static AtomicI32,
    token: u32,
    /// Polls of the spin phase before a wait sleeps.
    #[cfg_attr(not(any(feature = "std", ring_core_loom)), allow(dead_code))]
    pub(crate) spin: u32,
    /// Whether this consumer is announced for an eventfd wait (prepare succeeded, not finished).
    pub(crate) eventfd_armed: bool,
    /// How long a wait held up by an unpublished reservation sleeps before recovery.
    #[cfg_attr(not(any(feature = "std", ring_core_loom)), allow(dead_code))]
    pub(crate) recovery_after: Option<core::time::Duration>,
    /// Keeps the memory that `flavor`, `raw` and `eventfd` point into alive; dropped last.
    _keep: Arc<dyn Keep>,
}

// SAFETY: as for `Producer`: shared memory is reached through atomics and protocol-arbitrated
// payload cells, and the handle owns a reference to the memory.
unsafe impl<T: Entry> Send for Consumer<T> {}
// SAFETY: every method that touches shared memory takes `&mut self`.
unsafe impl<T: Entry> Sync for Consumer<T> {}

impl<T: Entry> Drop for Consumer<T> {
    fn drop(&mut self) {
        if self.eventfd_armed {
            if let Some(w) = self.raw.wait {
                crate::protocol::wait::retire(w, crate::protocol::wait::waiters::EVENTFD);
            }
        }
        unclaim(&self.raw.cons.owner, self.token);
    }
}

impl<T: Entry> core::fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Consumer")
            .field("mode", &self.raw.mode)
            .field("flavor", &self.flavor)
            .finish()
    }
}

impl<T: Entry> Consumer<T> {
    /// Claims the consumer side (single-consumer modes), recovers and validates the starting
    /// indices and picks the flavor.
    ///
    /// # Safety
    ///
    /// `raw` (and `eventfd`) point into memory that `keep` keeps alive and valid.
    pub(crate) unsafe fn new(
        raw: RawRing<'static, T>,
        keep: Arc<dyn Keep>,
        eventfd: &'static AtomicI32,
    ) -> Result<Self, ClaimError> {
        let token = if raw.mode.multi_consumer() {
            0
        } else {
            claim(&raw.cons.owner, Side::Consumer)?
        };
        let cur = match raw.consumer_cursor() {
            Ok(cur) => cur,
            Err(c) => {
                unclaim(&raw.cons.owner, token);
                return Err(ClaimError::Corrupt(c));
            }
        };
        let flavor = match (raw.mode, raw.packed, raw.ovf.is_some()) {
            // Packed slots (1.4): SPSC without an overflow area. An SPSC ring with lap tags
            // takes the general flavor.
            (Mode::Spsc, Some(lane), _) => Flavor::Spsc(SpscRx::new(&raw, lane, cur)),
            (Mode::Mpsc, None, false) => Flavor::Sc(ScRx::new(&raw, cur)),
            _ => Flavor::General(GeneralRx::new(raw, cur)),
        };
        Ok(Consumer {
            flavor,
            raw,
            eventfd,
            token,
            spin: DEFAULT_SPIN,
            eventfd_armed: false,
            recovery_after: Some(DEFAULT_RECOVERY_AFTER),
            _keep: keep,
        })
    }

    /// Pops one entry, from the ring or, when the ring is empty, from the overflow area.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] when nothing is published, [`PopError::Closed`] when nothing is
    /// left and the producers closed the stream (layout 1.3: [`crate::Producer::close`]),
    /// [`PopError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, PopError, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(2)).unwrap();
    /// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// assert_eq!(rx.pop(), Err(PopError::Empty));
    /// tx.push(7).unwrap();
    /// assert_eq!(rx.pop(), Ok(7));
    /// ```
    #[inline(always)]
    pub fn pop(&mut self) -> Result<T, PopError> {
        // The dedicated flavors inline; the general one out of line. It hands its entry back
        // through `slot` and returns a register-sized result, so that every arm yields its
        // entry as a value and the caller's copy of the result is not routed through memory.
        // Telling "empty" from "closed and drained" (E4) happens where each flavor finds
        // nothing: inline in the SPSC flavor (a load and a test on the empty path), out of line
        // in the others.
        match &mut self.flavor {
            Flavor::Spsc(f) => f.pop(),
            Flavor::Sc(f) => f.pop(),
            Flavor::General(_) => {
                let mut slot = MaybeUninit::uninit();
                match self.pop_general(&mut slot) {
                    // SAFETY: `pop_general` initialised `slot` when it returned `Ok`.
                    Ok(()) => Ok(unsafe { slot.assume_init() }),
                    Err(e) => Err(e),
                }
            }
        }
    }

    #[inline(never)]
    fn pop_general(&mut self, slot: &mut MaybeUninit<T>) -> Result<(), PopError> {
        if let Flavor::General(f) = &mut self.flavor {
            match f.pop() {
                Ok(v) => {
                    slot.write(v);
                    Ok(())
                }
                Err(PopError::Empty) => Err(self.empty_or_closed()),
                Err(e) => Err(e),
            }
        } else {
            Err(PopError::Empty)
        }
    }

    /// E4 after a pop found nothing: `Closed` if the stream is closed and nothing is left to
    /// take (checked after the Acquire load of the closed word), else `Empty`.
    #[cold]
    #[inline(never)]
    fn empty_or_closed(&self) -> PopError {
        if self.at_end() {
            PopError::Closed
        } else {
            PopError::Empty
        }
    }

    /// E4's first load: whether the ring keeps the end-of-stream word and it says closed.
    #[inline]
    pub(crate) fn stream_closed_now(&self) -> bool {
        self.raw.stream && crate::protocol::stream::closed(&self.raw.prod.stream)
    }

    /// E4 after a batch call took nothing: the stream is closed and nothing is left.
    #[cold]
    #[inline(never)]
    pub(crate) fn at_end(&self) -> bool {
        self.stream_closed_now() && self.raw.ready(&self.cursor(), 1) == 0
    }

    /// The end-of-stream state as the ring's shared word says it (see [`crate::Ring::stream`]).
    pub fn stream(&self) -> crate::StreamState {
        crate::StreamState::from_word(if self.raw.stream {
            self.raw.prod.stream.load(crate::sync::Ordering::Acquire)
        } else {
            0
        })
    }

    /// Pops up to `out.len()` entries into `out` (one claim and one release for the batch),
    /// from the ring and then from the overflow area, and returns how many; 0 when empty.
    ///
    /// # Errors
    ///
    /// [`PopError::Closed`] when it took nothing, nothing is left and the producers closed the
    /// stream; [`PopError::Corrupt`] when the shared state is inconsistent (only when nothing
    /// was taken: entries already taken are returned, and the next call reports it).
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(8)).unwrap();
    /// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// tx.push_all(&[1, 2, 3]).unwrap();
    /// let mut out = [0; 2];
    /// assert_eq!(rx.pop_into(&mut out).unwrap(), 2);
    /// assert_eq!(out, [1, 2]);
    /// ```
    pub fn pop_into(&mut self, out: &mut [T]) -> Result<usize, PopError> {
        let n = self.take_into(out)?;
        if n == 0 && !out.is_empty() && self.at_end() {
            return Err(PopError::Closed);
        }
        Ok(n)
    }

    fn take_into(&mut self, out: &mut [T]) -> Result<usize, Corruption> {
        match &mut self.flavor {
            Flavor::Spsc(f) => return spsc_pop_into(f, out),
            // One scan budget for every round of this call.
            Flavor::General(f) => f.begin(),
            Flavor::Sc(_) => {}
        }
        let mut filled = 0usize;
        // Each round either fills at least one entry, consumes at least one discarded slot, or
        // stops: `out.len()` rounds of entries plus a lap of each lane's discarded slots.
        let rounds = out
            .len()
            .saturating_add(self.raw.capacity() as usize)
            .saturating_add(self.raw.overflow_capacity() as usize);
        for _ in 0..=rounds {
            let want = u32::try_from(out.len() - filled).unwrap_or(u32::MAX);
            if want == 0 {
                break;
            }
            let span = match self.claim_span(want) {
                Ok(span) => span,
                Err(Shortfall::Short { .. }) => break,
                Err(Shortfall::Corrupt(c)) if filled == 0 => return Err(c),
                Err(Shortfall::Corrupt(_)) => break,
            };
            let lane = self.lane(&span);
            let before = filled;
            for i in 0..span.len {
                let pos = span.at(i);
                if !self.is_discarded(&span, pos) {
                    // SAFETY: claimed and published (observed with Acquire), not yet released,
                    // not discarded.
                    out[filled] = unsafe { lane.read(pos) };
                    filled += 1;
                }
            }
            self.release_span(span);
            if filled > before && filled == out.len() {
                break;
            }
        }
        Ok(filled)
    }

    /// Claims up to `max` published entries to be read in place; they are released when the
    /// view is dropped (one release for the whole view). A view covers the ring or, when the
    /// ring is empty, the overflow area (one of them: call again for the rest).
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] when nothing is published, [`PopError::Closed`] when nothing is
    /// left and the producers closed the stream, [`PopError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u64>::create_heap(Config::new(8)).unwrap();
    /// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// tx.push_all(&[5, 6, 7]).unwrap();
    /// {
    ///     let view = rx.view(8).unwrap();
    ///     assert_eq!(view.iter().sum::<u64>(), 18);
    /// } // released here
    /// assert!(ring.is_empty());
    /// ```
    pub fn view(&mut self, max: usize) -> Result<ReadView<'_, T>, PopError> {
        if max == 0 {
            return Err(PopError::Empty);
        }
        let n = u32::try_from(max).unwrap_or(u32::MAX);
        if let Flavor::General(f) = &mut self.flavor {
            f.begin();
        }
        match self.claim_span(n) {
            Ok(span) => Ok(ReadView {
                lane: self.lane(&span),
                consumer: self,
                span,
            }),
            Err(Shortfall::Short { .. }) if self.at_end() => Err(PopError::Closed),
            Err(Shortfall::Short { .. }) => Err(PopError::Empty),
            Err(Shortfall::Corrupt(c)) => Err(PopError::Corrupt(c)),
        }
    }

    /// The ring's capacity.
    pub fn capacity(&self) -> u32 {
        self.raw.capacity()
    }

    /// The ring's mode.
    pub fn mode(&self) -> Mode {
        self.raw.mode
    }

    /// Recovery of dead producers' reservations, as [`crate::Ring::recover`].
    ///
    /// # Errors
    ///
    /// As for [`crate::Ring::recover`].
    pub fn recover(&self) -> Result<crate::Recovered, crate::RecoverError> {
        crate::protocol::registry::recover(&self.raw)
    }

    /// This consumer's private indices, as the wait conditions read them.
    pub(crate) fn cursor(&self) -> ConsumerCursor {
        match &self.flavor {
            Flavor::Spsc(f) => ConsumerCursor {
                head: f.head,
                ovf_head: 0,
                tail_cache: f.tail_cache,
            },
            Flavor::Sc(f) => ConsumerCursor {
                head: f.head,
                ovf_head: 0,
                tail_cache: f.head,
            },
            Flavor::General(f) => f.cur,
        }
    }

    /// The SPSC flavor, if this consumer has it ([`Consumer::into_spsc`]).
    pub(crate) fn spsc_flavor(&self) -> Option<&SpscRx<'static, T>> {
        match &self.flavor {
            Flavor::Spsc(f) => Some(f),
            _ => None,
        }
    }

    /// The SPSC flavor, if this consumer has it, to bring its state up to date.
    pub(crate) fn spsc_flavor_mut(&mut self) -> Option<&mut SpscRx<'static, T>> {
        match &mut self.flavor {
            Flavor::Spsc(f) => Some(f),
            _ => None,
        }
    }

    /// The SPSC flavor inline, the others out of line (so batch calls stay small).
    #[inline(always)]
    fn claim_span(&mut self, n: u32) -> Result<Span, Shortfall> {
        match &mut self.flavor {
            Flavor::Spsc(f) => f.claim(n),
            _ => self.claim_span_other(n),
        }
    }

    #[inline(never)]
    fn claim_span_other(&mut self, n: u32) -> Result<Span, Shortfall> {
        match &mut self.flavor {
            Flavor::Spsc(f) => f.claim(n),
            Flavor::Sc(f) => f.claim(n),
            Flavor::General(f) => f.claim(n),
        }
    }

    /// The SPSC flavor inline, the others out of line (so batch calls stay small).
    #[inline(always)]
    fn release_span(&mut self, span: Span) {
        match &mut self.flavor {
            Flavor::Spsc(f) => f.release(span),
            _ => self.release_span_other(span),
        }
    }

    #[inline(never)]
    fn release_span_other(&mut self, span: Span) {
        match &mut self.flavor {
            Flavor::Spsc(f) => f.release(span),
            Flavor::Sc(f) => f.release(span),
            Flavor::General(f) => f.release(span),
        }
    }

    #[inline(always)]
    fn is_discarded(&self, span: &Span, pos: u32) -> bool {
        match &self.flavor {
            Flavor::Spsc(_) => false,
            Flavor::Sc(f) => f.is_discarded(pos),
            Flavor::General(f) => f.is_discarded(span, pos),
        }
    }

    #[inline(always)]
    fn lane(&self, span: &Span) -> AnyLane<'static, T> {
        match &self.flavor {
            Flavor::Spsc(f) => AnyLane::Packed(f.lane()),
            Flavor::Sc(f) => AnyLane::Tagged(f.lane()),
            Flavor::General(f) => AnyLane::Tagged(f.lane(span)),
        }
    }
}

/// `pop_into` of the SPSC flavor: one claim, a copy loop, one release (no discarded slots).
#[inline]
fn spsc_pop_into<T: Entry>(f: &mut SpscRx<'static, T>, out: &mut [T]) -> Result<usize, Corruption> {
    let want = u32::try_from(out.len()).unwrap_or(u32::MAX);
    let span = match f.claim(want) {
        Ok(span) => span,
        Err(Shortfall::Short { .. }) => return Ok(0),
        Err(Shortfall::Corrupt(c)) => return Err(c),
    };
    // SAFETY: claimed and published (observed with Acquire), not yet released.
    unsafe {
        f.lane()
            .read_into(span.start, &mut out[..span.len as usize])
    };
    f.release(span);
    Ok(span.len as usize)
}

/// Entries claimed by [`Consumer::view`], read in place, released on drop.
#[derive(Debug)]
pub struct ReadView<'c, T: Entry> {
    consumer: &'c mut Consumer<T>,
    lane: AnyLane<'static, T>,
    span: Span,
}

impl<T: Entry> ReadView<'_, T> {
    /// Number of claimed positions (including any discarded ones, which [`Self::iter`] skips).
    pub fn claimed(&self) -> usize {
        self.span.len as usize
    }

    /// The claimed entries, in order, skipping discarded slots, each copied out of its slot
    /// with word-sized atomic loads (so a peer that rewrites a claimed slot meanwhile can only
    /// give wrong values, never undefined behaviour). The slots stay claimed until the view is
    /// dropped: one release for the whole view.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(4)).unwrap();
    /// let (mut tx, mut rx) = ring.split().unwrap();
    /// tx.push_all(&[1, 2, 3]).unwrap();
    /// let view = rx.view(4).unwrap();
    /// assert_eq!(view.iter().collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        let (start, len) = (self.span.start, self.span.len as usize);
        let runs = match self.lane {
            AnyLane::Tagged(l) => {
                let (first, second) = l.runs(start, len);
                Runs::Tagged {
                    first: first.iter(),
                    second: second.iter(),
                    // Only lap-tag slots can be discarded: not those of an SPSC ring (its
                    // overflow area's can).
                    skip_discarded: self.consumer.raw.mode != Mode::Spsc
                        || self.span.place == Place::Overflow,
                }
            }
            AnyLane::Packed(l) => {
                let (first, second) = l.runs(start, len);
                Runs::Packed {
                    first: first.iter(),
                    second: second.iter(),
                }
            }
        };
        Iter { runs }
    }

    /// A pointer to the payload of claimed position `i` (`i < claimed()`), for callers that
    /// read in place through their own means (the C ABI hands these to C code). Reading
    /// through it is the caller's `unsafe`: the slot stays claimed until the view is dropped,
    /// but a peer may write it meanwhile, so a reader that trusts its peers less than fully
    /// must copy with atomic accesses, as [`Self::iter`] does. Discarded positions are not
    /// skipped here ([`Self::is_discarded`] tells them).
    ///
    /// # Panics
    ///
    /// If `i >= claimed()`.
    pub fn entry_ptr(&self, i: usize) -> *const T {
        assert!(
            i < self.claimed(),
            "entry {i} of a view of {}",
            self.claimed()
        );
        self.lane.payload_ptr(self.span.at(i as u32)).cast_const()
    }

    /// Whether claimed position `i` was published as discarded (skipped by [`Self::iter`]).
    ///
    /// # Panics
    ///
    /// If `i >= claimed()`.
    pub fn is_discarded(&self, i: usize) -> bool {
        assert!(
            i < self.claimed(),
            "entry {i} of a view of {}",
            self.claimed()
        );
        let skip = self.consumer.raw.mode != Mode::Spsc || self.span.place == Place::Overflow;
        skip && self.lane.discarded_bit(self.span.at(i as u32))
    }
}

/// The entries of a [`ReadView`], in order ([`ReadView::iter`]).
#[derive(Debug)]
pub struct Iter<'v, T> {
    runs: Runs<'v, T>,
}

impl<'v, T: Entry> Iter<'v, T> {
    /// The entries of two runs of packed slots (an SPSC view), claimed by the caller.
    #[inline(always)]
    pub(crate) fn packed(first: &'v [PackedSlot<T>], second: &'v [PackedSlot<T>]) -> Self {
        Iter {
            runs: Runs::Packed {
                first: first.iter(),
                second: second.iter(),
            },
        }
    }
}

/// Folds `f` over the payloads of a run of packed slots, eight slots per step (the loads of a
/// step are independent, and the loop's own bookkeeping is paid once per eight).
///
/// # Safety
///
/// Every slot of `run` is claimed by the caller and published (seen with Acquire).
#[inline(always)]
unsafe fn fold_packed<T: Entry, B>(
    run: &[PackedSlot<T>],
    mut acc: B,
    f: &mut impl FnMut(B, T) -> B,
) -> B {
    use crate::protocol::load_payload;
    let mut steps = run.chunks_exact(8);
    for q in &mut steps {
        // SAFETY: claimed and published (the caller's contract), for each of the eight.
        unsafe {
            acc = f(acc, load_payload(&q[0]));
            acc = f(acc, load_payload(&q[1]));
            acc = f(acc, load_payload(&q[2]));
            acc = f(acc, load_payload(&q[3]));
            acc = f(acc, load_payload(&q[4]));
            acc = f(acc, load_payload(&q[5]));
            acc = f(acc, load_payload(&q[6]));
            acc = f(acc, load_payload(&q[7]));
        }
    }
    for slot in steps.remainder() {
        // SAFETY: as above.
        acc = f(acc, unsafe { load_payload(slot) });
    }
    acc
}

/// The two runs of claimed slots, of one slot kind or the other.
#[derive(Debug)]
enum Runs<'v, T> {
    Tagged {
        first: core::slice::Iter<'v, Slot<T>>,
        second: core::slice::Iter<'v, Slot<T>>,
        skip_discarded: bool,
    },
    Packed {
        first: core::slice::Iter<'v, PackedSlot<T>>,
        second: core::slice::Iter<'v, PackedSlot<T>>,
    },
}

/// The next slot of two runs: the first, then (swapped in) the second.
#[inline(always)]
fn next_slot<'v, S>(
    first: &mut core::slice::Iter<'v, S>,
    second: &mut core::slice::Iter<'v, S>,
) -> Option<&'v S> {
    match first.next() {
        Some(slot) => Some(slot),
        None => {
            // The first run is done: continue with the second (then both are empty).
            core::mem::swap(first, second);
            first.next()
        }
    }
}

impl<'v, T: Entry> Iterator for Iter<'v, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        match &mut self.runs {
            Runs::Tagged {
                first,
                second,
                skip_discarded,
            } => loop {
                let slot = next_slot(first, second)?;
                if *skip_discarded && slot.meta.load(Relaxed) & slot_meta::DISCARDED != 0 {
                    continue;
                }
                // SAFETY: the view claimed this slot, saw it published (Acquire) and not
                // discarded, and releases it only when it drops, which the `'v` borrow
                // prevents.
                return Some(unsafe { crate::protocol::load_payload(slot) });
            },
            Runs::Packed { first, second } => {
                let slot = next_slot(first, second)?;
                // SAFETY: as above (packed slots are never discarded).
                Some(unsafe { crate::protocol::load_payload(slot) })
            }
        }
    }

    /// Two plain loops over the two runs of slots (what `for_each`, `sum` and friends use).
    #[inline]
    fn fold<B, F>(self, init: B, mut f: F) -> B
    where
        F: FnMut(B, Self::Item) -> B,
    {
        let mut acc = init;
        match self.runs {
            Runs::Tagged {
                first,
                second,
                skip_discarded,
            } => {
                for run in [first, second] {
                    for slot in run {
                        if skip_discarded && slot.meta.load(Relaxed) & slot_meta::DISCARDED != 0 {
                            continue;
                        }
                        // SAFETY: as in `next`.
                        acc = f(acc, unsafe { crate::protocol::load_payload(slot) });
                    }
                }
            }
            Runs::Packed { first, second } => {
                for run in [first, second] {
                    // SAFETY: as in `next`.
                    acc = unsafe { fold_packed(run.as_slice(), acc, &mut f) };
                }
            }
        }
        acc
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.runs {
            Runs::Tagged {
                first,
                second,
                skip_discarded,
            } => {
                let n = first.len() + second.len();
                (if *skip_discarded { 0 } else { n }, Some(n))
            }
            Runs::Packed { first, second } => {
                let n = first.len() + second.len();
                (n, Some(n))
            }
        }
    }
}

impl<T: Entry> Drop for ReadView<'_, T> {
    fn drop(&mut self) {
        self.consumer.release_span(self.span);
    }
}
