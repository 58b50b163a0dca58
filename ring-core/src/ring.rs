//! [`Ring`]: a validated ring over some memory, and its producer and consumer handles.

use crate::entry::Entry;
use crate::error::{ClaimError, Corruption, LayoutError, PopError, PushAllError, PushError};
use crate::format::{self, Config, Geometry, RawRegion};
use crate::protocol::{ConsumerCursor, Mode, ProducerCursor, RawRing, Shortfall, Span};
use crate::sync::Ordering::{AcqRel, Acquire, Relaxed};
use core::marker::PhantomData;
use core::sync::atomic::AtomicI32;

/// Memory a ring can live in.
///
/// # Safety
///
/// [`Memory::raw`] returns the same region on every call, and that region satisfies the
/// contract of [`RawRegion::new`] for as long as the value lives.
pub unsafe trait Memory {
    /// The region.
    fn raw(&self) -> RawRegion;

    /// Whether every byte of the region is known to be zero (freshly created memory), so that
    /// formatting may skip writing zeroes (see [`format::format`]). `false` unless overridden.
    /// An implementation must stop reporting `true` once anything may have written the bytes
    /// (for example after handing out the base address or the file descriptor): stale bytes
    /// taken for zeroes make the overflow area report corruption.
    fn is_fresh_zeroed(&self) -> bool {
        false
    }
}

// SAFETY: the caller of `RawRegion::new` promised the contract for the region's whole use.
unsafe impl Memory for RawRegion {
    fn raw(&self) -> RawRegion {
        *self
    }
}

/// A ring of `T` in memory `M`: validated once, addressed through trusted private copies.
///
/// Handles borrow the ring: [`Ring::producer`] and [`Ring::consumer`]. Use scoped threads (or
/// keep the ring in a `static`/`Arc` and scope handles) to share one ring among threads; another
/// process attaches its own `Ring` to the same memory.
///
/// # Examples
///
/// ```
/// use ring_core::{Completion, Config, Ring, Region};
///
/// let ring = Ring::<Completion>::create_heap(Config::new(8)).unwrap();
/// let mut tx = ring.producer().unwrap();
/// let mut rx = ring.consumer().unwrap();
/// tx.push(Completion::new(1, 0, 0)).unwrap();
/// assert_eq!(rx.pop().unwrap().user_data, 1);
/// ```
pub struct Ring<T: Entry, M: Memory = crate::DefaultMemory> {
    mem: M,
    region: RawRegion,
    geo: Geometry,
    /// This process's eventfd for the ring, or -1 (owned: closed on drop).
    pub(crate) eventfd: AtomicI32,
    _entries: PhantomData<T>,
}

impl<T: Entry, M: Memory> Drop for Ring<T, M> {
    fn drop(&mut self) {
        let fd = self.eventfd.swap(-1, Relaxed);
        #[cfg(all(feature = "std", not(loom)))]
        if fd >= 0 {
            // SAFETY: the ring owns this descriptor (set by `create_eventfd` / `set_eventfd`)
            // and no handle outlives the ring.
            unsafe { libc::close(fd) };
        }
        #[cfg(not(all(feature = "std", not(loom))))]
        let _ = fd;
    }
}

// SAFETY: all shared state is reached through atomics or protocol-arbitrated payload cells;
// `T: Send + Sync` (Entry) and the memory handle is only read.
unsafe impl<T: Entry, M: Memory + Send> Send for Ring<T, M> {}
// SAFETY: as above; `&Ring` only hands out handles whose operations follow the protocol.
unsafe impl<T: Entry, M: Memory + Sync> Sync for Ring<T, M> {}

impl<T: Entry, M: Memory> core::fmt::Debug for Ring<T, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ring")
            .field("geometry", &self.geo)
            .field("region", &self.region)
            .finish()
    }
}

/// A snapshot of a ring's indices and counters (each read separately: a consistent snapshot
/// only when the ring is quiet).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Producer index of the ring.
    pub tail: u32,
    /// Consumer index of the ring.
    pub head: u32,
    /// Pushes (or reservations) refused for lack of space (the ring full and, if there is one,
    /// the overflow area full too).
    pub full_refusals: u64,
    /// Reserved slots published as discarded.
    pub discarded: u64,
    /// Entries that went through the overflow area.
    pub overflowed: u64,
    /// Entries pending in the overflow area (reserved there and not yet claimed).
    pub overflow_pending: u32,
    /// Whether the overflow area is active (producers route entries to it).
    pub overflow_active: bool,
    /// Times the overflow area was activated.
    pub overflow_activations: u64,
    /// Wake-ups issued (by producers or forced).
    pub wakeups: u64,
    /// Times a consumer went to sleep.
    pub sleeps: u64,
    /// Consumers currently announced as sleeping or about to.
    pub waiters: u32,
}

impl<T: Entry, M: Memory> Ring<T, M> {
    /// Formats `mem` as a new, empty ring and returns it.
    ///
    /// # Errors
    ///
    /// [`LayoutError::Capacity`] for a capacity that is not a power of two in `2..=2^31`,
    /// [`LayoutError::Misaligned`] / [`LayoutError::RegionTooShort`] for unsuitable memory.
    ///
    /// Formatting memory that others are using is not undefined behaviour (they treat the
    /// ring's contents as untrusted) but breaks their ring: attach from other processes after
    /// this returns.
    pub fn create(mem: M, cfg: Config) -> Result<Self, LayoutError> {
        let region = mem.raw();
        let geo = format::format::<T>(&region, &cfg, crate::current_pid(), mem.is_fresh_zeroed())?;
        Ok(Ring {
            mem,
            region,
            geo,
            eventfd: AtomicI32::new(-1),
            _entries: PhantomData,
        })
    }

    /// Validates `mem` as an existing ring of `T` (made by this or another process).
    ///
    /// # Errors
    ///
    /// A [`LayoutError`] naming the first header field found inconsistent.
    pub fn attach(mem: M) -> Result<Self, LayoutError> {
        let region = mem.raw();
        let geo = format::attach::<T>(&region)?;
        Ok(Ring {
            mem,
            region,
            geo,
            eventfd: AtomicI32::new(-1),
            _entries: PhantomData,
        })
    }

    /// Like [`Ring::attach`], also requiring the given mode.
    pub fn attach_mode(mem: M, mode: Mode) -> Result<Self, LayoutError> {
        let ring = Self::attach(mem)?;
        if ring.geo.mode != mode {
            return Err(LayoutError::ModeMismatch {
                expected: mode.bits(),
                found: ring.geo.mode.bits(),
            });
        }
        Ok(ring)
    }

    /// The protocol view of the ring.
    pub fn raw(&self) -> RawRing<'_, T> {
        // SAFETY: `geo` was validated from `self.region` for `T`, and `self.mem` keeps the
        // region alive for as long as `self` is borrowed.
        unsafe { self.geo.raw::<T>(&self.region) }
    }

    /// The validated geometry (trusted copies of the header).
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }

    /// The memory the ring lives in.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// Mutable access to the memory handle, for methods that cannot move the memory.
    #[cfg(feature = "std")]
    pub(crate) fn memory_mut(&mut self) -> &mut M {
        &mut self.mem
    }

    /// Number of slots.
    pub fn capacity(&self) -> u32 {
        self.geo.capacity
    }

    /// The ring's mode.
    pub fn mode(&self) -> Mode {
        self.geo.mode
    }

    /// An estimate of how many entries are in the ring (exact when nothing is in flight).
    pub fn len(&self) -> u32 {
        self.raw().len_estimate()
    }

    /// Whether the ring looks empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The indices and counters.
    pub fn counters(&self) -> Counters {
        let raw = self.raw();
        let ovf = raw.overflow_line();
        let w = raw.wait_line();
        Counters {
            tail: raw.prod.tail.load(Acquire),
            head: raw.cons.head.load(Acquire),
            full_refusals: raw.prod.full_refusals.load(Relaxed),
            discarded: raw.prod.discarded.load(Relaxed),
            overflowed: ovf.map_or(0, |o| o.overflowed.load(Relaxed)),
            overflow_pending: raw.overflow_pending(),
            overflow_active: raw.overflow_active(),
            overflow_activations: ovf.map_or(0, |o| o.activations.load(Relaxed)),
            wakeups: w.map_or(0, |w| w.wakeups.load(Relaxed)),
            sleeps: w.map_or(0, |w| w.sleeps.load(Relaxed)),
            waiters: w.map_or(0, |w| w.waiters.load(Relaxed)),
        }
    }

    /// A producer handle. In single-producer modes this claims the producer side (recorded in
    /// shared memory, so across processes too) until the handle is dropped; a claim left by a
    /// process that no longer exists is taken over.
    ///
    /// # Errors
    ///
    /// [`ClaimError::Busy`] if another live producer holds the claim;
    /// [`ClaimError::Corrupt`] if the shared indices are inconsistent.
    pub fn producer(&self) -> Result<Producer<'_, T>, ClaimError> {
        let mut p = self.raw().producer()?;
        p.eventfd = Some(&self.eventfd);
        Ok(p)
    }

    /// A consumer handle; claims the consumer side in single-consumer modes (see
    /// [`Ring::producer`]).
    ///
    /// # Errors
    ///
    /// As for [`Ring::producer`].
    pub fn consumer(&self) -> Result<Consumer<'_, T>, ClaimError> {
        let mut c = self.raw().consumer()?;
        c.eventfd = Some(&self.eventfd);
        Ok(c)
    }
}

impl<'a, T: Entry> RawRing<'a, T> {
    /// A producer handle over these structures (what [`Ring::producer`] returns).
    ///
    /// # Errors
    ///
    /// As for [`Ring::producer`].
    pub fn producer(self) -> Result<Producer<'a, T>, ClaimError> {
        let token = if self.mode.multi_producer() {
            0
        } else {
            claim(&self.prod.owner)?
        };
        match self.producer_cursor() {
            Ok(cur) => Ok(Producer {
                raw: self,
                cur,
                token,
                eventfd: None,
            }),
            Err(c) => {
                unclaim(&self.prod.owner, token);
                Err(ClaimError::Corrupt(c))
            }
        }
    }

    /// A consumer handle over these structures (what [`Ring::consumer`] returns).
    ///
    /// # Errors
    ///
    /// As for [`Ring::producer`].
    pub fn consumer(self) -> Result<Consumer<'a, T>, ClaimError> {
        let token = if self.mode.multi_consumer() {
            0
        } else {
            claim(&self.cons.owner)?
        };
        match self.consumer_cursor() {
            Ok(cur) => Ok(Consumer {
                raw: self,
                cur,
                token,
                eventfd: None,
                spin: DEFAULT_SPIN,
                eventfd_armed: false,
            }),
            Err(c) => {
                unclaim(&self.cons.owner, token);
                Err(ClaimError::Corrupt(c))
            }
        }
    }
}

fn claim(owner: &crate::sync::AtomicU32) -> Result<u32, ClaimError> {
    let me = crate::current_pid().max(1);
    let mut expected = 0;
    // Each failed attempt observed a different owner word; a few attempts cover "free",
    // "left by an exited process" and the races between them.
    for _ in 0..4 {
        match owner.compare_exchange(expected, me, AcqRel, Acquire) {
            Ok(_) => return Ok(me),
            Err(0) => expected = 0,
            Err(cur) if cur == me || crate::pid_alive(cur) => {
                return Err(ClaimError::Busy { owner: cur })
            }
            Err(cur) => expected = cur,
        }
    }
    Err(ClaimError::Busy {
        owner: owner.load(Acquire),
    })
}

/// Default number of polls a waiting consumer makes before it sleeps.
pub const DEFAULT_SPIN: u32 = 100;

/// W1 (continued): advance the futex word, wake sleepers, signal the eventfd if one is attached
/// and this process holds it.
pub(crate) fn wake<T>(raw: &RawRing<'_, T>, eventfd: Option<&AtomicI32>) {
    if let Some(w) = raw.wait {
        crate::protocol::wait::bump(w);
        crate::sys::futex_wake(&w.futex);
        if w.flags.load(Relaxed) & crate::layout::wait_flags::EVENTFD != 0 {
            if let Some(fd) = eventfd.map(|e| e.load(Relaxed)).filter(|&fd| fd >= 0) {
                crate::sys::eventfd_signal(fd);
            }
        }
    }
}

fn unclaim(owner: &crate::sync::AtomicU32, token: u32) {
    if token != 0 {
        let _ = owner.compare_exchange(token, 0, AcqRel, Relaxed);
    }
}

/// The producing side of a ring (one of several in multi-producer modes).
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
pub struct Producer<'r, T> {
    raw: RawRing<'r, T>,
    cur: ProducerCursor,
    token: u32,
    /// This process's eventfd for the ring (from [`Ring::set_eventfd`]), if any.
    eventfd: Option<&'r AtomicI32>,
}

impl<T> Drop for Producer<'_, T> {
    fn drop(&mut self) {
        unclaim(&self.raw.prod.owner, self.token);
    }
}

impl<T> core::fmt::Debug for Producer<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Producer")
            .field("mode", &self.raw.mode)
            .field("cursor", &self.cur)
            .finish()
    }
}

impl<T> Producer<'_, T> {
    /// Publishes a reserved span and, if consumers sleep, wakes them (W1).
    fn publish(&mut self, span: Span, keep: u32) {
        if self.raw.publish(&mut self.cur, span, keep) {
            wake(&self.raw, self.eventfd);
        }
    }
}

impl<'r, T: Entry> Producer<'r, T> {
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
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        match self.raw.reserve(&mut self.cur, 1, true) {
            Ok(span) => {
                // SAFETY: the reservation gives us exclusive ownership of `span.start`.
                unsafe { self.raw.write(span.place, span.start, value) };
                self.publish(span, 1);
                Ok(())
            }
            Err(Shortfall::Short { .. }) => Err(PushError::Full(value)),
            Err(Shortfall::Corrupt(c)) => Err(PushError::Corrupt(value, c)),
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
        match self.raw.reserve(&mut self.cur, n, true) {
            Ok(span) => {
                self.fill(span, values);
                Ok(())
            }
            Err(Shortfall::Short { have }) => Err(PushAllError::Full {
                free: have as usize,
            }),
            Err(Shortfall::Corrupt(c)) => Err(PushAllError::Corrupt(c)),
        }
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
        match self.raw.reserve(&mut self.cur, n, false) {
            Ok(span) => {
                self.fill(span, &values[..span.len as usize]);
                Ok(span.len as usize)
            }
            Err(Shortfall::Short { .. }) => Ok(0),
            Err(Shortfall::Corrupt(c)) => Err(c),
        }
    }

    fn fill(&mut self, span: Span, values: &[T]) {
        debug_assert_eq!(span.len as usize, values.len());
        for (i, v) in values.iter().enumerate() {
            // SAFETY: every position of the span is reserved by us and not yet published.
            unsafe { self.raw.write(span.place, span.at(i as u32), *v) };
        }
        self.publish(span, span.len);
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
    pub fn reserve(&mut self, max: usize) -> Result<WriteChunk<'_, 'r, T>, PushAllError> {
        self.reserve_inner(max, false)
    }

    /// Reserves exactly `n` slots, or none.
    ///
    /// # Errors
    ///
    /// As for [`Producer::push_all`].
    pub fn reserve_exact(&mut self, n: usize) -> Result<WriteChunk<'_, 'r, T>, PushAllError> {
        if n > self.largest_batch() as usize {
            return Err(PushAllError::TooLarge {
                capacity: self.largest_batch() as usize,
            });
        }
        self.reserve_inner(n, true)
    }

    fn reserve_inner(
        &mut self,
        max: usize,
        exact: bool,
    ) -> Result<WriteChunk<'_, 'r, T>, PushAllError> {
        if max == 0 {
            // An empty chunk: nothing reserved, nothing to publish.
            let span = Span::ring(self.cur.tail, 0);
            return Ok(WriteChunk {
                producer: self,
                span,
                written: 0,
                done: true,
            });
        }
        let n = u32::try_from(max).unwrap_or(u32::MAX);
        match self.raw.reserve(&mut self.cur, n, exact) {
            Ok(span) => Ok(WriteChunk {
                producer: self,
                span,
                written: 0,
                done: false,
            }),
            Err(Shortfall::Short { have }) => Err(PushAllError::Full {
                free: have as usize,
            }),
            Err(Shortfall::Corrupt(c)) => Err(PushAllError::Corrupt(c)),
        }
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
}

/// Slots reserved by [`Producer::reserve`], written in place and published by
/// [`WriteChunk::commit`].
///
/// Entries `0..k` that were written (contiguously from 0) are what `commit` publishes. Dropping
/// the chunk without committing publishes nothing: a single producer simply takes the
/// reservation back; in multi-producer modes the slots are published as *discarded*, which
/// consumers skip (and [`Counters::discarded`] counts).
#[derive(Debug)]
pub struct WriteChunk<'p, 'r, T> {
    producer: &'p mut Producer<'r, T>,
    span: Span,
    /// Entries 0..written have been written.
    written: u32,
    done: bool,
}

impl<T: Entry> WriteChunk<'_, '_, T> {
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
        unsafe {
            self.producer
                .raw
                .write(self.span.place, self.span.at(i as u32), value)
        };
        if i as u32 == self.written {
            self.written += 1;
        }
    }

    /// Fills the chunk from `iter`, returning how many entries were written.
    pub fn fill_from<I: IntoIterator<Item = T>>(&mut self, iter: I) -> usize {
        let start = self.written as usize;
        for (i, v) in (start..self.len()).zip(iter) {
            self.write(i, v);
        }
        self.written as usize - start
    }

    /// In-place access to entry `i` (the slot's current bytes: a stale entry until written).
    /// Obtaining it counts entry `i` as written.
    ///
    /// # Panics
    ///
    /// If `i >= len()` or `i` skips an unwritten entry.
    pub fn get_mut(&mut self, i: usize) -> &mut T {
        assert!(
            i < self.len() && i as u32 <= self.written,
            "access out of order or range"
        );
        if i as u32 == self.written {
            self.written += 1;
        }
        // SAFETY: reserved by this chunk, unpublished, and `&mut self` makes the reference
        // unique; `T: Entry` makes any bytes a valid `T`.
        unsafe {
            self.producer
                .raw
                .get_mut(self.span.place, self.span.at(i as u32))
        }
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
            let p = &mut *self.producer;
            p.publish(self.span, keep);
        }
        keep as usize
    }
}

impl<T> Drop for WriteChunk<'_, '_, T> {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            let p = &mut *self.producer;
            p.publish(self.span, 0);
        }
    }
}

/// The consuming side of a ring (one of several in multi-consumer modes).
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
pub struct Consumer<'r, T> {
    pub(crate) raw: RawRing<'r, T>,
    pub(crate) cur: ConsumerCursor,
    token: u32,
    /// This process's eventfd for the ring, if any.
    pub(crate) eventfd: Option<&'r AtomicI32>,
    /// Polls of the spin phase before a wait sleeps.
    #[cfg_attr(not(any(feature = "std", loom)), allow(dead_code))]
    pub(crate) spin: u32,
    /// Whether this consumer is announced for an eventfd wait (prepare succeeded, not finished).
    #[cfg_attr(not(any(feature = "std", loom)), allow(dead_code))]
    pub(crate) eventfd_armed: bool,
}

impl<T> Drop for Consumer<'_, T> {
    fn drop(&mut self) {
        if self.eventfd_armed {
            if let Some(w) = self.raw.wait {
                crate::protocol::wait::retire(w);
            }
        }
        unclaim(&self.raw.cons.owner, self.token);
    }
}

impl<T> core::fmt::Debug for Consumer<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Consumer")
            .field("mode", &self.raw.mode)
            .field("cursor", &self.cur)
            .finish()
    }
}

impl<'r, T: Entry> Consumer<'r, T> {
    /// Pops one entry.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] when nothing is published, [`PopError::Corrupt`].
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
    pub fn pop(&mut self) -> Result<T, PopError> {
        // Discarded slots are consumed without being delivered; at most a lap of them.
        for _ in 0..=self
            .raw
            .capacity()
            .saturating_add(self.raw.overflow_capacity())
        {
            let span = match self.raw.claim(&mut self.cur, 1) {
                Ok(span) => span,
                Err(Shortfall::Short { .. }) => return Err(PopError::Empty),
                Err(Shortfall::Corrupt(c)) => return Err(PopError::Corrupt(c)),
            };
            let value = if self.raw.is_discarded(&span, span.start) {
                None
            } else {
                // SAFETY: claimed and published (observed with Acquire), not yet released.
                Some(unsafe { self.raw.read(span.place, span.start) })
            };
            self.raw.release(&mut self.cur, span);
            if let Some(v) = value {
                return Ok(v);
            }
        }
        Err(PopError::Empty)
    }

    /// Pops up to `out.len()` entries into `out` (one claim and one release for the batch) and
    /// returns how many; 0 when empty.
    ///
    /// # Errors
    ///
    /// [`Corruption`] when the shared state is inconsistent.
    pub fn pop_into(&mut self, out: &mut [T]) -> Result<usize, Corruption> {
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
            let span = match self.raw.claim(&mut self.cur, want) {
                Ok(span) => span,
                Err(Shortfall::Short { .. }) => break,
                Err(Shortfall::Corrupt(c)) if filled == 0 => return Err(c),
                Err(Shortfall::Corrupt(_)) => break,
            };
            let before = filled;
            for i in 0..span.len {
                let pos = span.at(i);
                if !self.raw.is_discarded(&span, pos) {
                    // SAFETY: claimed and published (observed with Acquire), not yet released.
                    out[filled] = unsafe { self.raw.read(span.place, pos) };
                    filled += 1;
                }
            }
            self.raw.release(&mut self.cur, span);
            if filled > before && filled == out.len() {
                break;
            }
        }
        Ok(filled)
    }

    /// Claims up to `max` published entries to be read in place; they are released when the
    /// view is dropped (one release for the whole view).
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] when nothing is published, [`PopError::Corrupt`].
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
    ///     assert_eq!(view.iter().copied().sum::<u64>(), 18);
    /// } // released here
    /// assert!(ring.is_empty());
    /// ```
    pub fn view(&mut self, max: usize) -> Result<ReadView<'_, 'r, T>, PopError> {
        if max == 0 {
            return Err(PopError::Empty);
        }
        let n = u32::try_from(max).unwrap_or(u32::MAX);
        match self.raw.claim(&mut self.cur, n) {
            Ok(span) => Ok(ReadView {
                consumer: self,
                span,
            }),
            Err(Shortfall::Short { .. }) => Err(PopError::Empty),
            Err(Shortfall::Corrupt(c)) => Err(PopError::Corrupt(c)),
        }
    }

    /// The ring's capacity.
    pub fn capacity(&self) -> u32 {
        self.raw.capacity()
    }
}

/// Entries claimed by [`Consumer::view`], read in place, released on drop.
#[derive(Debug)]
pub struct ReadView<'c, 'r, T> {
    consumer: &'c mut Consumer<'r, T>,
    span: Span,
}

impl<'c, 'r, T: Entry> ReadView<'c, 'r, T> {
    /// Number of claimed positions (including any discarded ones, which [`Self::iter`] skips).
    pub fn claimed(&self) -> usize {
        self.span.len as usize
    }

    /// The claimed entries, in order, skipping discarded slots.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        let raw = self.consumer.raw;
        let span = self.span;
        (0..span.len)
            .map(move |i| span.at(i))
            .filter(move |&p| !raw.is_discarded(&span, p))
            .map(move |p| {
                // SAFETY: claimed and published, released only when the view (borrowed here) drops.
                unsafe { raw.get(span.place, p) }
            })
    }
}

impl<T> Drop for ReadView<'_, '_, T> {
    fn drop(&mut self) {
        let c = &mut *self.consumer;
        c.raw.release(&mut c.cur, self.span);
    }
}
