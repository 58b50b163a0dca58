//! [`SpscProducer`]: the producer of a packed SPSC ring with no dispatch at all.
//!
//! A [`Producer`] chooses its flavor when it is made and matches on it in every call, and its
//! out-of-line paths take the handle by reference. When a caller pushes in a loop, that
//! reference makes the handle's address escape, so the compiler keeps the private `tail` in
//! memory and stores it on every push: one store more than the payload and the shared `tail`,
//! which halves the rate at which two cores can exchange entries (benches/results/
//! spsc_probe.md). An `SpscProducer` is for such loops: a single implementation (P1/P2 of
//! spec/PROTOCOL.md section 4 over packed slots), whose only out-of-line call, the reload of
//! `head`, takes and returns plain values.

use crate::entry::Entry;
use crate::error::{Corruption, PushAllError, PushError};
use crate::producer::{fill_runs, push_all_error, Producer};
use crate::protocol::push_error;
use crate::protocol::spsc::{room, room_for_one};
use crate::protocol::wait::{Reached, Waker};
use crate::protocol::{PackedLane, Refusals, Shortfall};
use crate::sync::{AtomicU32, Ordering::Release};
use alloc::boxed::Box;

/// The producer of an SPSC ring with packed slots (layout 1.4, the default for SPSC rings
/// without an overflow area), for callers that push in tight loops.
///
/// It does what [`Producer::push`], [`Producer::push_all`] and [`Producer::push_some`] do, with
/// nothing chosen per call and nothing of the handle passed to an out-of-line function, so
/// that in a loop the compiler keeps its state in registers. Made with
/// [`Producer::into_spsc`]; [`SpscProducer::into_producer`] turns it back (for the zero-copy
/// [`Producer::reserve`] and the rest). It holds the producer claim as the `Producer` did.
///
/// # Examples
///
/// ```
/// use ring_core::{Config, PushError, Ring};
///
/// let ring = Ring::<u64>::create_heap(Config::new(4)).unwrap();
/// let (tx, mut rx) = ring.split().unwrap();
/// let mut tx = tx.into_spsc().unwrap();
/// let producer = std::thread::spawn(move || {
///     for i in 0..1000u64 {
///         let mut v = i;
///         while let Err(PushError::Full(back)) = tx.push(v) {
///             v = back; // the consumer is behind: try again
///             std::thread::yield_now();
///         }
///     }
///     tx.close();
/// });
/// let mut next = 0;
/// loop {
///     match rx.pop() {
///         Ok(v) => {
///             assert_eq!(v, next);
///             next += 1;
///         }
///         Err(ring_core::PopError::Closed) => break,
///         Err(_) => std::thread::yield_now(),
///     }
/// }
/// producer.join().unwrap();
/// assert_eq!(next, 1000);
/// ```
#[derive(Debug)]
pub struct SpscProducer<T: Entry> {
    /// The private trusted tail: the next position to publish.
    tail: u32,
    /// `head + capacity` for the last validated `head`: positions before it are free. Never
    /// ahead of the real limit, because `head` only moves forward.
    limit: u32,
    slots: PackedLane<'static, T>,
    tail_word: &'static AtomicU32,
    head_word: &'static AtomicU32,
    wait: Option<Waker<'static>>,
    refusals: Refusals<'static>,
    /// The handle this one came from: it holds the claim and the memory, and closes or gives
    /// up the side when dropped. Its own copy of the state above is stale until
    /// [`Self::into_producer`] brings it up to date. Boxed, so that the handle is a few words
    /// the compiler can keep in registers (no part of it is ever passed to a function that
    /// is not inlined).
    inner: Box<Producer<T>>,
}

// SAFETY: as for `Producer`: the handle reaches shared memory only through atomics and payload
// cells whose use the protocol arbitrates, and it owns (through `inner`) a reference to the
// memory; `T: Entry` is `Send + Sync`.
unsafe impl<T: Entry> Send for SpscProducer<T> {}
// SAFETY: every method that touches shared memory takes `&mut self` (or `self`).
unsafe impl<T: Entry> Sync for SpscProducer<T> {}

impl<T: Entry> Producer<T> {
    /// This producer as an [`SpscProducer`], if its ring is an SPSC ring with packed slots
    /// (layout 1.4: every SPSC ring without an overflow area, unless made with
    /// [`crate::Config::packed`] off); otherwise the producer itself, unchanged.
    ///
    /// # Errors
    ///
    /// Hands `self` back when the ring is not a packed SPSC ring.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Mode, Ring};
    ///
    /// let spsc = Ring::<u32>::create_heap(Config::new(8)).unwrap();
    /// assert!(spsc.producer().unwrap().into_spsc().is_ok());
    /// let mpsc = Ring::<u32>::create_heap(Config::new(8).mode(Mode::Mpsc)).unwrap();
    /// assert!(mpsc.producer().unwrap().into_spsc().is_err());
    /// ```
    // The error hands the producer back by value, as `PushError::Full` hands the entry back.
    #[allow(clippy::result_large_err)]
    #[inline(always)]
    pub fn into_spsc(self) -> Result<SpscProducer<T>, Self> {
        let Some(tx) = self.spsc_flavor() else {
            return Err(self);
        };
        let (tail, limit, slots, tail_word, head_word) = tx.parts();
        let (wait, refusals) = tx.waker_and_refusals();
        Ok(SpscProducer {
            tail,
            limit,
            slots,
            tail_word,
            head_word,
            wait,
            refusals,
            inner: Box::new(self),
        })
    }
}

impl<T: Entry> SpscProducer<T> {
    /// Pushes one entry (as [`Producer::push`]).
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] when no slot is free, [`PushError::Corrupt`] when the consumer's
    /// index is out of range; both hand the entry back.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, PushError, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(2)).unwrap();
    /// let mut tx = ring.producer().unwrap().into_spsc().unwrap();
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// assert_eq!(tx.push(3), Err(PushError::Full(3)));
    /// ```
    #[inline(always)]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        let tail = self.tail;
        if tail == self.limit {
            // P1's reload, out of line over plain values (the refusal state is copied out and
            // back, so that no address of the handle escapes).
            let mut refusals = self.refusals;
            let r = room_for_one(self.head_word, tail, self.slots.capacity(), &mut refusals);
            self.refusals = refusals;
            match r {
                Ok(limit) => self.limit = limit,
                Err(e) => return Err(push_error(value, e)),
            }
        }
        // SAFETY: `tail` is before `limit`, so its slot was released by the consumer (seen with
        // the Acquire load of `head` that set `limit`) and is ours until we publish it.
        unsafe { self.slots.write(tail, value) };
        self.publish(tail.wrapping_add(1));
        Ok(())
    }

    /// Pushes all of `values` or none (as [`Producer::push_all`]).
    ///
    /// # Errors
    ///
    /// [`PushAllError::Full`] when fewer slots are free, [`PushAllError::TooLarge`] when
    /// `values` is longer than the ring, [`PushAllError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, PushAllError, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(4)).unwrap();
    /// let mut tx = ring.producer().unwrap().into_spsc().unwrap();
    /// tx.push_all(&[1, 2, 3]).unwrap();
    /// assert_eq!(tx.push_all(&[4, 5]), Err(PushAllError::Full { free: 1 }));
    /// ```
    #[inline]
    pub fn push_all(&mut self, values: &[T]) -> Result<(), PushAllError> {
        let cap = self.slots.capacity();
        if values.len() > cap as usize {
            return Err(PushAllError::TooLarge {
                capacity: cap as usize,
            });
        }
        let n = values.len() as u32;
        self.room_for(n, true).map_err(push_all_error)?;
        self.fill(values);
        Ok(())
    }

    /// Pushes as many of `values` as fit, in order; returns how many (as
    /// [`Producer::push_some`]).
    ///
    /// # Errors
    ///
    /// [`Corruption`] when the consumer's index is out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(4)).unwrap();
    /// let mut tx = ring.producer().unwrap().into_spsc().unwrap();
    /// assert_eq!(tx.push_some(&[1, 2, 3, 4, 5, 6]).unwrap(), 4);
    /// assert_eq!(tx.push_some(&[7]).unwrap(), 0);
    /// ```
    #[inline]
    pub fn push_some(&mut self, values: &[T]) -> Result<usize, Corruption> {
        let n = u32::try_from(values.len()).unwrap_or(u32::MAX);
        let free = match self.room_for(n, false) {
            Ok(free) => free,
            Err(Shortfall::Short { .. }) => return Ok(0),
            Err(Shortfall::Corrupt(c)) => return Err(c),
        };
        let k = n.min(free) as usize;
        self.fill(&values[..k]);
        Ok(k)
    }

    /// Reserves up to `max` free slots to be written in place (as [`Producer::reserve`]); the
    /// chunk publishes what was written when it is committed. Fewer than `max` free slots is
    /// not an error: the chunk is shorter.
    ///
    /// # Errors
    ///
    /// [`PushAllError::Full`] when no slot is free (and `max > 0`), [`PushAllError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u64>::create_heap(Config::new(4)).unwrap();
    /// let mut tx = ring.producer().unwrap().into_spsc().unwrap();
    /// let mut chunk = tx.reserve(8).unwrap();
    /// assert_eq!(chunk.len(), 4);
    /// assert_eq!(chunk.fill_from([1, 2, 3]), 3);
    /// assert_eq!(chunk.commit(), 3);
    /// assert_eq!(ring.len(), 3);
    /// ```
    #[inline]
    pub fn reserve(&mut self, max: usize) -> Result<SpscWriteChunk<'_, T>, PushAllError> {
        if max == 0 {
            return Ok(self.chunk(0));
        }
        let n = u32::try_from(max).unwrap_or(u32::MAX);
        let free = self.room_for(n, false).map_err(push_all_error)?;
        Ok(self.chunk(n.min(free)))
    }

    /// Reserves exactly `n` free slots, or none (as [`Producer::reserve_exact`]).
    ///
    /// # Errors
    ///
    /// [`PushAllError::Full`] when fewer slots are free, [`PushAllError::TooLarge`] when `n`
    /// is more than the ring holds, [`PushAllError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, PushAllError, Ring};
    ///
    /// let ring = Ring::<u64>::create_heap(Config::new(4)).unwrap();
    /// let (tx, rx) = ring.split().unwrap();
    /// let (mut tx, mut rx) = (tx.into_spsc().unwrap(), rx.into_spsc().unwrap());
    /// let mut chunk = tx.reserve_exact(3).unwrap();
    /// for i in 0..chunk.len() {
    ///     chunk.write(i, 10 * i as u64);
    /// }
    /// chunk.commit();
    /// assert_eq!(tx.reserve_exact(2).err(), Some(PushAllError::Full { free: 1 }));
    /// assert_eq!(rx.view(4).unwrap().iter().collect::<Vec<_>>(), [0, 10, 20]);
    /// ```
    #[inline]
    pub fn reserve_exact(&mut self, n: usize) -> Result<SpscWriteChunk<'_, T>, PushAllError> {
        let cap = self.slots.capacity();
        if n > cap as usize {
            return Err(PushAllError::TooLarge {
                capacity: cap as usize,
            });
        }
        if n == 0 {
            return Ok(self.chunk(0));
        }
        let n = n as u32;
        self.room_for(n, true).map_err(push_all_error)?;
        Ok(self.chunk(n))
    }

    /// A chunk of the `len` positions from the private tail (which are free).
    #[inline(always)]
    fn chunk(&mut self, len: u32) -> SpscWriteChunk<'_, T> {
        SpscWriteChunk {
            start: self.tail,
            len,
            written: 0,
            producer: self,
        }
    }

    /// The ring's capacity.
    pub fn capacity(&self) -> u32 {
        self.slots.capacity()
    }

    /// Closes the stream (as [`Producer::close`]).
    pub fn close(self) {
        self.into_producer().close();
    }

    /// Gives the producer side up without closing the stream (as [`Producer::release`]).
    pub fn release(self) {
        self.into_producer().release();
    }

    /// The [`Producer`] this handle came from, up to date.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(4)).unwrap();
    /// let mut fast = ring.producer().unwrap().into_spsc().unwrap();
    /// fast.push(1).unwrap();
    /// let mut tx = fast.into_producer();
    /// let mut chunk = tx.reserve(1).unwrap();
    /// chunk.write(0, 2);
    /// chunk.commit();
    /// assert_eq!(ring.len(), 2);
    /// ```
    pub fn into_producer(self) -> Producer<T> {
        let SpscProducer {
            tail,
            limit,
            refusals,
            mut inner,
            ..
        } = self;
        if let Some(tx) = inner.spsc_flavor_mut() {
            tx.resume(tail, limit, refusals);
        }
        *inner
    }

    /// At least `n` free positions (some, without `exact`) from the private tail: how many.
    #[inline(always)]
    fn room_for(&mut self, n: u32, exact: bool) -> Result<u32, Shortfall> {
        let free = self.limit.wrapping_sub(self.tail);
        if free >= n && n != 0 {
            return Ok(free);
        }
        let mut refusals = self.refusals;
        let r = room(
            self.head_word,
            self.tail,
            self.slots.capacity(),
            n,
            exact,
            &mut refusals,
        );
        self.refusals = refusals;
        match r {
            Ok(limit) => {
                self.limit = limit;
                Ok(limit.wrapping_sub(self.tail))
            }
            Err(e) => {
                // Forget the room seen, so that the next call comes back to `room` (and ends
                // the refusal episode when it is granted).
                self.limit = self.tail;
                Err(e)
            }
        }
    }

    /// Writes `values` (for which there is room) from the private tail and publishes them.
    #[inline(always)]
    fn fill(&mut self, values: &[T]) {
        if values.is_empty() {
            return;
        }
        // SAFETY: the caller made sure the positions `tail..tail + values.len()` are free
        // (before `limit`); they are ours until we publish them.
        unsafe { self.slots.write_from(self.tail, values) };
        self.publish(self.tail.wrapping_add(values.len() as u32));
    }

    /// P2 up to `next`, then W1.
    #[inline(always)]
    fn publish(&mut self, next: u32) {
        self.tail = next;
        self.tail_word.store(next, Release);
        // A copy of the waker, so that the call below takes its address, not the handle's.
        if let Some(w) = self.wait {
            w.published_at(Reached::At(next));
        }
    }
}

/// Slots reserved by [`SpscProducer::reserve`] or [`SpscProducer::reserve_exact`], written in
/// place (with atomic stores) and published by [`SpscWriteChunk::commit`].
///
/// Entries `0..k` written contiguously from 0 are what `commit` publishes, with one Release
/// store of `tail`. Dropping the chunk without committing publishes nothing: the single
/// producer simply takes the positions back.
#[derive(Debug)]
pub struct SpscWriteChunk<'p, T: Entry> {
    producer: &'p mut SpscProducer<T>,
    /// The first reserved position: the producer's private tail when the chunk was made.
    start: u32,
    /// How many positions, from `start`, are reserved (all before the producer's limit).
    len: u32,
    /// Entries `0..written` have been written.
    written: u32,
}

impl<T: Entry> SpscWriteChunk<'_, T> {
    /// Number of reserved slots.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether no slot is reserved (only for a reservation of 0 slots).
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many entries, from 0, count as written.
    #[inline(always)]
    pub fn written(&self) -> usize {
        self.written as usize
    }

    /// Writes entry `i`. Entries must be written in order from 0 for `commit` to publish them.
    ///
    /// # Panics
    ///
    /// If `i >= len()` or `i` skips an unwritten entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(4)).unwrap();
    /// let mut tx = ring.producer().unwrap().into_spsc().unwrap();
    /// let mut chunk = tx.reserve(2).unwrap();
    /// chunk.write(0, 5);
    /// chunk.write(0, 6); // rewrite before commit
    /// assert_eq!(chunk.commit(), 1);
    /// ```
    #[inline]
    pub fn write(&mut self, i: usize, value: T) {
        assert!(
            i < self.len() && i as u32 <= self.written,
            "write out of order or range"
        );
        // SAFETY: position `start + i` is reserved by this chunk (before the producer's limit)
        // and not yet published.
        unsafe {
            self.producer
                .slots
                .write(self.start.wrapping_add(i as u32), value)
        };
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
    /// let mut tx = ring.producer().unwrap().into_spsc().unwrap();
    /// let mut chunk = tx.reserve(8).unwrap();
    /// assert_eq!(chunk.fill_from((0..5).map(|i| i * i)), 5);
    /// assert_eq!(chunk.commit(), 5);
    /// ```
    #[inline]
    pub fn fill_from<I: IntoIterator<Item = T>>(&mut self, iter: I) -> usize {
        let from = self.written;
        let runs = self
            .producer
            .slots
            .runs(self.start.wrapping_add(from), (self.len - from) as usize);
        // SAFETY: every position of the chunk is reserved by it and not yet published;
        // `fill_runs` writes them from `written` on, in order.
        let n = unsafe { fill_runs(runs, iter.into_iter()) };
        self.written = from + n;
        n as usize
    }

    /// Publishes the written entries (P2: one Release store of `tail`) and gives the rest
    /// back. Returns how many were published.
    #[inline]
    pub fn commit(self) -> usize {
        let keep = self.written;
        self.publish(keep)
    }

    /// Publishes only the first `k` written entries (at most [`Self::written`]) and gives the
    /// rest back. Returns how many were published.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(4)).unwrap();
    /// let mut tx = ring.producer().unwrap().into_spsc().unwrap();
    /// let mut chunk = tx.reserve(4).unwrap();
    /// chunk.fill_from([1, 2, 3]);
    /// assert_eq!(chunk.commit_first(2), 2);
    /// assert_eq!(ring.len(), 2);
    /// ```
    #[inline]
    pub fn commit_first(self, k: usize) -> usize {
        let keep = u32::try_from(k).unwrap_or(u32::MAX).min(self.written);
        self.publish(keep)
    }

    #[inline(always)]
    fn publish(self, keep: u32) -> usize {
        if keep != 0 {
            self.producer.publish(self.start.wrapping_add(keep));
        }
        keep as usize
    }
}
