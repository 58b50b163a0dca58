//! [`Producer`]: the producing side of a ring, and [`WriteChunk`], its zero-copy reservation.
//!
//! A producer picks its flavor once, when it is made (crossbeam-channel's `flavors` are the
//! model): SPSC without an overflow area, MPSC/MPMC without one, or the general flavor for
//! everything else. Every public call is one `match` into a complete implementation.

use crate::entry::Entry;
use crate::error::{ClaimError, Corruption, PushAllError, PushError, Side};
use crate::protocol::claim::{claim, unclaim};
use crate::protocol::general::GeneralTx;
use crate::protocol::intent::Intent;
use crate::protocol::mpsc::MpTx;
use crate::protocol::registry;
use crate::protocol::spsc::SpscTx;
use crate::protocol::stream;
use crate::protocol::wait::Waker;
use crate::protocol::{AnyLane, Mode, RawRing, Shortfall, SlotKind, Span};
use crate::shared::Keep;
use alloc::sync::Arc;
use core::sync::atomic::AtomicI32;

#[repr(u8)]
enum Flavor<'a, T> {
    Spsc(SpscTx<'a, T>),
    Mp(MpTx<'a, T>),
    General(GeneralTx<'a, T>),
}

impl<T> core::fmt::Debug for Flavor<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Flavor::Spsc(_) => "Spsc",
            Flavor::Mp(_) => "Mp",
            Flavor::General(_) => "General",
        })
    }
}

/// The producing side of a ring (one of several in multi-producer modes).
///
/// A producer owns a reference to its ring: it can be moved to another thread and outlive the
/// [`crate::Ring`] value it came from. In single-producer modes it holds the producer claim
/// (recorded in shared memory) until it is dropped.
///
/// # Examples
///
/// ```
/// use ring_core::{Config, Mode, Ring};
///
/// let ring = Ring::<u64>::create_heap(Config::new(4).mode(Mode::Mpsc)).unwrap();
/// let mut a = ring.producer().unwrap();
/// let mut b = ring.producer().unwrap(); // several producers in MPSC mode
/// a.push(1).unwrap();
/// b.push_all(&[2, 3]).unwrap();
/// assert_eq!(a.push_some(&[4, 5]).unwrap(), 1); // as many as fit
/// assert!(b.push(6).is_err()); // full: the entry is handed back
/// ```
pub struct Producer<T: Entry> {
    flavor: Flavor<'static, T>,
    raw: RawRing<'static, T>,
    token: u32,
    /// Several producers, layout 1.2: the index of the producer record this handle holds.
    record: Option<u32>,
    /// [`Producer::close`] was called: dropping closes the stream (in multi-producer rings,
    /// once every producer has left).
    closing: bool,
    /// This process's eventfd slot for the ring (for the wake-up at the close).
    eventfd: &'static AtomicI32,
    /// Keeps the memory that `flavor` and `raw` point into alive; dropped after them.
    _keep: Arc<dyn Keep>,
}

// SAFETY: the handle reaches shared memory only through atomics and payload cells whose use
// the protocol arbitrates (between threads as between processes), and it owns a reference to
// the memory (`_keep`, `Send + Sync`); `T: Entry` is `Send + Sync`.
unsafe impl<T: Entry> Send for Producer<T> {}
// SAFETY: every method that touches shared memory takes `&mut self`.
unsafe impl<T: Entry> Sync for Producer<T> {}

impl<T: Entry> Drop for Producer<T> {
    fn drop(&mut self) {
        // Every reservation of this handle is published by now (chunks publish on drop).
        let raw = &self.raw;
        let closed = if !raw.stream {
            false
        } else if raw.mode.multi_producer() {
            if let (Some(reg), Some(i)) = (raw.registry, self.record) {
                reg.unregister(i);
            }
            // E3: leave (and close, if asked) after the last publication.
            stream::leave(&raw.prod.stream, self.closing)
        } else if self.closing {
            // E1: a single producer closes before it gives up its claim, so that no successor
            // can publish after the close.
            stream::close_single(&raw.prod.stream)
        } else {
            false
        };
        if !raw.stream {
            if let (Some(reg), Some(i)) = (raw.registry, self.record) {
                reg.unregister(i);
            }
        }
        unclaim(&raw.prod.owner, self.token);
        if closed {
            // Sleepers must see the end: wake every one, whatever its target.
            if let Some(w) = raw.wait {
                crate::protocol::wait::wake(w, self.eventfd, u32::MAX);
            }
        }
    }
}

impl<T: Entry> core::fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Producer")
            .field("mode", &self.raw.mode)
            .field("flavor", &self.flavor)
            .finish()
    }
}

impl<T: Entry> Producer<T> {
    /// Claims the producer side (single-producer modes), validates the starting indices and
    /// picks the flavor.
    ///
    /// # Safety
    ///
    /// `raw` (and `eventfd`) point into memory that `keep` keeps alive and valid.
    pub(crate) unsafe fn new(
        raw: RawRing<'static, T>,
        keep: Arc<dyn Keep>,
        eventfd: &'static AtomicI32,
    ) -> Result<Self, ClaimError> {
        let token = if raw.mode.multi_producer() {
            0
        } else {
            claim(&raw.prod.owner, Side::Producer)?
        };
        let mut cur = match raw.producer_cursor() {
            Ok(cur) => cur,
            Err(c) => {
                unclaim(&raw.prod.owner, token);
                return Err(ClaimError::Corrupt(c));
            }
        };
        // End of stream (1.3): a closed stream takes no producer; several producers join it
        // (E2) before they take a record, so that recovery, which makes the owner of a freed
        // record leave, never makes leave one that had not joined.
        if raw.stream {
            if raw.mode.multi_producer() {
                stream::join(&raw.prod.stream)?;
            } else if stream::closed(&raw.prod.stream) {
                unclaim(&raw.prod.owner, token);
                return Err(ClaimError::Closed);
            }
        }
        // Several producers with records (layout 1.2): hold one (R1). When all are taken,
        // recovery may free those of dead processes.
        let record = match (raw.mode.multi_producer(), raw.registry) {
            (true, Some(reg)) => {
                let i = match reg.register() {
                    Some(i) => i,
                    None => {
                        let _ = registry::recover(&raw);
                        match reg.register() {
                            Some(i) => i,
                            None => {
                                if raw.stream {
                                    stream::leave(&raw.prod.stream, false);
                                }
                                return Err(ClaimError::NoProducerRecord {
                                    records: reg.records.len() as u32,
                                });
                            }
                        }
                    }
                };
                Some(i)
            }
            _ => None,
        };
        cur.record = record;
        let wait = raw.wait.map(|line| Waker {
            line,
            eventfd,
            targets: raw.wait_target,
        });
        let intent = record
            .and_then(|i| raw.registry.and_then(|reg| reg.record(i)))
            .map(Intent::ring);
        let flavor = match (raw.mode, raw.packed, intent) {
            // Packed slots (1.4) only exist in SPSC rings without an overflow area; an SPSC
            // ring with lap tags (an older layout, or `Config::packed(false)`) takes the
            // general flavor.
            (Mode::Spsc, Some(lane), _) => Flavor::Spsc(SpscTx::new(&raw, lane, cur, wait)),
            (Mode::Mpsc | Mode::Mpmc, None, Some(intent)) if raw.ovf.is_none() => {
                Flavor::Mp(MpTx::new(&raw, intent, wait))
            }
            _ => Flavor::General(GeneralTx::new(raw, cur, wait)),
        };
        Ok(Producer {
            flavor,
            raw,
            token,
            record,
            closing: false,
            eventfd,
            _keep: keep,
        })
    }

    /// Closes the stream (layout 1.3): consumers take what is left and then get
    /// [`crate::PopError::Closed`] (and [`crate::WaitError::Closed`],
    /// [`crate::WaitOutcome::Closed`]), sleeping consumers are woken, and no producer can be
    /// made for the ring any more ([`ClaimError::Closed`]).
    ///
    /// Dropping a producer never closes the stream: in single-producer modes it gives the side
    /// up (another producer may claim it and go on, as after [`Producer::release`]), so that a
    /// producer that fails or is handed over does not make its partial stream look complete.
    /// In multi-producer modes a dropped producer leaves the stream, and the stream closes once
    /// a producer has closed it and every producer has left (closed or dropped); recovery makes a producer
    /// that died leave when it frees its record, so a dead producer never closes a stream that
    /// no one asked to close. In a ring laid out without the end-of-stream word
    /// ([`crate::Config::legacy`]) this only drops the producer.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, PopError, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(8)).unwrap();
    /// let (mut tx, mut rx) = ring.split().unwrap();
    /// tx.push_all(&[1, 2]).unwrap();
    /// tx.close();
    /// assert_eq!(rx.pop(), Ok(1));
    /// assert_eq!(rx.pop(), Ok(2));
    /// assert_eq!(rx.pop(), Err(PopError::Closed));
    /// ```
    pub fn close(mut self) {
        self.closing = true;
    }

    /// Gives the producer side up without closing the stream, which is what dropping does too
    /// (this names it): in single-producer modes the claim is released and another producer
    /// (of this or another process) may take the side over and go on; in multi-producer modes
    /// the producer leaves.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(8)).unwrap();
    /// let mut tx = ring.producer().unwrap();
    /// tx.push(1).unwrap();
    /// tx.release(); // hand the side over
    /// let mut next = ring.producer().unwrap();
    /// next.push(2).unwrap();
    /// assert!(!ring.stream().closed);
    /// ```
    pub fn release(self) {
        drop(self);
    }

    /// Pushes one entry.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] when no slot is free, [`PushError::Corrupt`] when the shared state
    /// is inconsistent; both hand the entry back.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, PushError, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(2)).unwrap();
    /// let mut tx = ring.producer().unwrap();
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// assert_eq!(tx.push(3), Err(PushError::Full(3)));
    /// ```
    #[inline(always)]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        // The SPSC flavor inline; the others in one out-of-line call, so that this function
        // stays small enough to be inlined into the caller's loop.
        match &mut self.flavor {
            Flavor::Spsc(f) => f.push(value),
            Flavor::Mp(f) => f.push(value),
            _ => self.push_other(value),
        }
    }

    /// The SPSC flavor, if this producer has it ([`Producer::into_spsc`]).
    pub(crate) fn spsc_flavor(&self) -> Option<&SpscTx<'static, T>> {
        match &self.flavor {
            Flavor::Spsc(f) => Some(f),
            _ => None,
        }
    }

    /// The SPSC flavor, if this producer has it, to bring its state up to date.
    pub(crate) fn spsc_flavor_mut(&mut self) -> Option<&mut SpscTx<'static, T>> {
        match &mut self.flavor {
            Flavor::Spsc(f) => Some(f),
            _ => None,
        }
    }

    #[inline(never)]
    fn push_other(&mut self, value: T) -> Result<(), PushError<T>> {
        match &mut self.flavor {
            Flavor::Spsc(f) => f.push(value),
            Flavor::Mp(f) => f.push(value),
            Flavor::General(f) => f.push(value),
        }
    }

    /// Pushes all of `values` or none of them (one publication for the whole batch).
    ///
    /// # Errors
    ///
    /// [`PushAllError::Full`] (with the number of free slots) or [`PushAllError::TooLarge`];
    /// nothing is pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, PushAllError, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(4)).unwrap();
    /// let mut tx = ring.producer().unwrap();
    /// tx.push_all(&[1, 2, 3]).unwrap();
    /// assert_eq!(tx.push_all(&[4, 5]), Err(PushAllError::Full { free: 1 }));
    /// ```
    pub fn push_all(&mut self, values: &[T]) -> Result<(), PushAllError> {
        if values.is_empty() {
            return Ok(());
        }
        let cap = self.largest_batch();
        let n = u32::try_from(values.len()).ok().filter(|&n| n <= cap);
        let n = n.ok_or(PushAllError::TooLarge {
            capacity: cap as usize,
        })?;
        let span = self.reserve_span(n, true).map_err(push_all_error)?;
        self.fill(span, values);
        Ok(())
    }

    /// Pushes as many of `values` as fit, in order, and returns how many (0 when full).
    ///
    /// # Errors
    ///
    /// [`Corruption`] when the shared state is inconsistent; nothing is pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(4)).unwrap();
    /// let mut tx = ring.producer().unwrap();
    /// assert_eq!(tx.push_some(&[1, 2, 3, 4, 5, 6]).unwrap(), 4);
    /// assert_eq!(tx.push_some(&[5, 6]).unwrap(), 0);
    /// ```
    pub fn push_some(&mut self, values: &[T]) -> Result<usize, Corruption> {
        if values.is_empty() {
            return Ok(0);
        }
        let n = u32::try_from(values.len()).unwrap_or(u32::MAX);
        match self.reserve_span(n, false) {
            Ok(span) => {
                self.fill(span, &values[..span.len as usize]);
                Ok(span.len as usize)
            }
            Err(Shortfall::Short { .. }) => Ok(0),
            Err(Shortfall::Corrupt(c)) => Err(c),
        }
    }

    /// Writes `values` into a reserved span of the same length and publishes it.
    #[inline]
    fn fill(&mut self, span: Span, values: &[T]) {
        debug_assert_eq!(span.len as usize, values.len());
        // SAFETY: every position of the span is reserved by us and not yet published.
        unsafe { self.lane(&span).write_from(span.start, values) };
        self.publish_span(span, span.len);
    }

    /// Reserves up to `max` slots (at least one when `max > 0`; an empty chunk for `max == 0`) to
    /// be filled in place and committed.
    ///
    /// # Errors
    ///
    /// [`PushAllError::Full`] when no slot is free, [`PushAllError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u64>::create_heap(Config::new(8)).unwrap();
    /// let mut tx = ring.producer().unwrap();
    /// let mut chunk = tx.reserve(3).unwrap();
    /// for i in 0..chunk.len() {
    ///     chunk.write(i, 10 + i as u64);
    /// }
    /// chunk.commit();
    /// assert_eq!(ring.len(), 3);
    /// ```
    pub fn reserve(&mut self, max: usize) -> Result<WriteChunk<'_, T>, PushAllError> {
        self.reserve_chunk(max, false)
    }

    /// Reserves exactly `n` slots, or none.
    ///
    /// # Errors
    ///
    /// As for [`Producer::push_all`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u64>::create_heap(Config::new(4)).unwrap();
    /// let mut tx = ring.producer().unwrap();
    /// let mut chunk = tx.reserve_exact(2).unwrap();
    /// assert_eq!(chunk.fill_from([7, 8]), 2);
    /// assert_eq!(chunk.commit(), 2);
    /// assert!(tx.reserve_exact(3).is_err()); // only 2 free
    /// ```
    pub fn reserve_exact(&mut self, n: usize) -> Result<WriteChunk<'_, T>, PushAllError> {
        if n > self.largest_batch() as usize {
            return Err(PushAllError::TooLarge {
                capacity: self.largest_batch() as usize,
            });
        }
        self.reserve_chunk(n, true)
    }

    fn reserve_chunk(
        &mut self,
        max: usize,
        exact: bool,
    ) -> Result<WriteChunk<'_, T>, PushAllError> {
        if max == 0 {
            // An empty chunk: nothing reserved, nothing to publish.
            return Ok(WriteChunk {
                lane: self.lane(&Span::ring(0, 0)),
                producer: self,
                span: Span::ring(0, 0),
                written: 0,
                done: true,
            });
        }
        let n = u32::try_from(max).unwrap_or(u32::MAX);
        let span = self.reserve_span(n, exact).map_err(push_all_error)?;
        Ok(WriteChunk {
            lane: self.lane(&span),
            producer: self,
            span,
            written: 0,
            done: false,
        })
    }

    /// The ring's capacity.
    pub fn capacity(&self) -> u32 {
        self.raw.capacity()
    }

    /// The largest all-or-nothing batch that can ever fit: the larger of the ring's capacity
    /// and the overflow area's (a batch goes whole to one or the other).
    pub fn largest_batch(&self) -> u32 {
        self.raw.capacity().max(self.raw.overflow_capacity())
    }

    /// The ring's mode.
    pub fn mode(&self) -> Mode {
        self.raw.mode
    }

    /// The SPSC flavor inline, the others out of line (so batch calls stay small).
    #[inline(always)]
    fn reserve_span(&mut self, n: u32, exact: bool) -> Result<Span, Shortfall> {
        match &mut self.flavor {
            Flavor::Spsc(f) => f.reserve(n, exact),
            _ => self.reserve_span_other(n, exact),
        }
    }

    #[inline(never)]
    fn reserve_span_other(&mut self, n: u32, exact: bool) -> Result<Span, Shortfall> {
        match &mut self.flavor {
            Flavor::Spsc(f) => f.reserve(n, exact),
            Flavor::Mp(f) => f.reserve(n, exact),
            Flavor::General(f) => f.reserve(n, exact),
        }
    }

    /// The SPSC flavor inline, the others out of line (so batch calls stay small).
    #[inline(always)]
    fn publish_span(&mut self, span: Span, keep: u32) {
        match &mut self.flavor {
            Flavor::Spsc(f) => f.publish(span, keep),
            _ => self.publish_span_other(span, keep),
        }
    }

    #[inline(never)]
    fn publish_span_other(&mut self, span: Span, keep: u32) {
        match &mut self.flavor {
            Flavor::Spsc(f) => f.publish(span, keep),
            Flavor::Mp(f) => f.publish(span, keep),
            Flavor::General(f) => f.publish(span, keep),
        }
    }

    #[inline(always)]
    fn lane(&self, span: &Span) -> AnyLane<'static, T> {
        match &self.flavor {
            Flavor::Spsc(f) => AnyLane::Packed(f.lane()),
            Flavor::Mp(f) => AnyLane::Tagged(f.lane()),
            Flavor::General(f) => AnyLane::Tagged(f.lane(span)),
        }
    }
}

#[cold]
pub(crate) fn push_all_error(e: Shortfall) -> PushAllError {
    match e {
        Shortfall::Short { have } => PushAllError::Full {
            free: have as usize,
        },
        Shortfall::Corrupt(c) => PushAllError::Corrupt(c),
    }
}

/// Slots reserved by [`Producer::reserve`], written in place and published by
/// [`WriteChunk::commit`].
///
/// Entries `0..k` that were written (contiguously from 0) are what `commit` publishes. Dropping
/// the chunk without committing publishes nothing: a single producer simply takes the
/// reservation back; in multi-producer modes the slots are published as *discarded*, which
/// consumers skip (and [`crate::Counters::discarded`] counts).
#[derive(Debug)]
pub struct WriteChunk<'p, T: Entry> {
    producer: &'p mut Producer<T>,
    lane: AnyLane<'static, T>,
    span: Span,
    /// Entries 0..written have been written.
    written: u32,
    done: bool,
}

impl<T: Entry> WriteChunk<'_, T> {
    /// Number of reserved slots.
    pub fn len(&self) -> usize {
        self.span.len as usize
    }

    /// Whether no slot is reserved (only for a reservation of 0 slots).
    pub fn is_empty(&self) -> bool {
        self.span.len == 0
    }

    /// Writes entry `i`. Entries must be written in order from 0 for `commit` to publish them.
    ///
    /// # Panics
    ///
    /// If `i >= len()` or `i` skips an unwritten entry.
    pub fn write(&mut self, i: usize, value: T) {
        assert!(
            i < self.len() && i as u32 <= self.written,
            "write out of order or range"
        );
        // SAFETY: position `span.at(i)` is reserved by this chunk and not yet published.
        unsafe { self.lane.write(self.span.at(i as u32), value) };
        if i as u32 == self.written {
            self.written += 1;
        }
    }

    /// Fills the rest of the chunk from `iter` (from the first unwritten entry), returning how
    /// many entries were written.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u64>::create_heap(Config::new(8)).unwrap();
    /// let (mut tx, mut rx) = ring.split().unwrap();
    /// let mut chunk = tx.reserve(8).unwrap();
    /// assert_eq!(chunk.fill_from((0..5).map(|i| i * i)), 5);
    /// chunk.commit();
    /// assert_eq!(rx.pop_into(&mut [0; 8]).unwrap(), 5);
    /// ```
    pub fn fill_from<I: IntoIterator<Item = T>>(&mut self, iter: I) -> usize {
        let start = self.written;
        let (pos, len) = (self.span.at(start), (self.span.len - start) as usize);
        let iter = iter.into_iter();
        let n = match self.lane {
            // SAFETY: every position of the span is reserved by this chunk and not yet
            // published; `fill_runs` writes the positions from `written` on, in order.
            AnyLane::Tagged(l) => unsafe { fill_runs(l.runs(pos, len), iter) },
            // SAFETY: as above.
            AnyLane::Packed(l) => unsafe { fill_runs(l.runs(pos, len), iter) },
        };
        self.written = start + n;
        n as usize
    }

    /// In-place access to entry `i` (the slot's current bytes: a stale entry until written).
    /// Obtaining it counts entry `i` as written.
    ///
    /// # Safety
    ///
    /// The reference points into memory that other participants map. The reservation makes
    /// the slot this chunk's alone under the protocol, but a peer that does not follow it (a
    /// forged index or tag, in this process or another) could write the slot while the
    /// reference lives, which would be a data race: call this only when every participant
    /// that can write the ring's memory is trusted. [`Self::write`] and [`Self::fill_from`]
    /// copy with atomic stores and need no such trust.
    ///
    /// # Panics
    ///
    /// If `i >= len()` or `i` skips an unwritten entry.
    pub unsafe fn get_mut(&mut self, i: usize) -> &mut T {
        let p = self.entry_ptr(i);
        // SAFETY: reserved by this chunk and unpublished, so no honest participant touches the
        // payload; `&mut self` makes the reference unique and it cannot outlive the chunk;
        // `T: Entry` makes any bytes a valid `T`; the caller vouches for the peers.
        unsafe { &mut *p }
    }

    /// A pointer to the payload of entry `i`, for callers that write in place through their
    /// own means (the C ABI hands it to C code); writing through it is the caller's `unsafe`
    /// (see [`Self::get_mut`]). Obtaining it counts entry `i` as written.
    ///
    /// # Panics
    ///
    /// If `i >= len()` or `i` skips an unwritten entry.
    pub fn entry_ptr(&mut self, i: usize) -> *mut T {
        assert!(
            i < self.len() && i as u32 <= self.written,
            "access out of order or range"
        );
        if i as u32 == self.written {
            self.written += 1;
        }
        self.lane.payload_ptr(self.span.at(i as u32))
    }

    /// Publishes the written entries (and gives back or discards the rest). Returns how many
    /// were published.
    pub fn commit(mut self) -> usize {
        self.finish(self.written)
    }

    /// Publishes only the first `k` written entries (at most [`Self::written`]) and gives back
    /// or discards the rest, as [`Self::commit`] does. Returns how many were published.
    pub fn commit_first(mut self, k: usize) -> usize {
        let keep = u32::try_from(k).unwrap_or(u32::MAX).min(self.written);
        self.finish(keep)
    }

    /// How many entries, from 0, count as written.
    pub fn written(&self) -> usize {
        self.written as usize
    }

    fn finish(&mut self, keep: u32) -> usize {
        if !self.done {
            self.done = true;
            self.producer.publish_span(self.span, keep);
        }
        keep as usize
    }
}

/// Writes values from `iter` into the slots of `runs`, in order, until either runs out;
/// returns how many were written.
///
/// # Safety
///
/// Every slot of `runs` is reserved by the caller and not yet published.
#[inline(always)]
pub(crate) unsafe fn fill_runs<T, S: SlotKind<T>>(
    runs: (&[S], &[S]),
    mut iter: impl Iterator<Item = T>,
) -> u32 {
    let mut n = 0u32;
    for run in [runs.0, runs.1] {
        for slot in run {
            let Some(v) = iter.next() else {
                return n;
            };
            // SAFETY: reserved by the caller and not yet published.
            unsafe { crate::protocol::store_payload(slot, v) };
            n += 1;
        }
    }
    n
}

impl<T: Entry> Drop for WriteChunk<'_, T> {
    fn drop(&mut self) {
        self.finish(0);
    }
}
