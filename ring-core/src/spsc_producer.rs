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
use crate::error::{push_error, Corruption, PushAllError, PushError};
use crate::producer::{push_all_error, Producer};
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
