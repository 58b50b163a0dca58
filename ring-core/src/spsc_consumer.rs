//! [`SpscConsumer`]: the consumer of a packed SPSC ring with no dispatch at all.
//!
//! The counterpart of [`crate::SpscProducer`]: a [`Consumer`] matches on its flavor in every
//! call and keeps a stack frame for the other flavors' out-of-line paths, which is most of
//! what a poll of an empty ring costs. An `SpscConsumer` runs the SPSC steps C1/C2
//! (spec/PROTOCOL.md section 4) alone; its only out-of-line call, reporting a corrupt `tail`,
//! takes plain values.

use crate::consumer::{Consumer, Iter};
use crate::entry::Entry;
use crate::error::PopError;
use crate::protocol::spsc::SpscRx;
use crate::protocol::{Shortfall, Span};
use alloc::boxed::Box;

/// The consumer of an SPSC ring with packed slots (layout 1.4, the default for SPSC rings
/// without an overflow area), for callers that poll in tight loops.
///
/// It does what [`Consumer::pop`] and [`Consumer::pop_into`] do, with nothing chosen per
/// call. Made with [`Consumer::into_spsc`]; [`SpscConsumer::into_consumer`] turns it back (for
/// waiting, [`Consumer::view`] and the rest). It holds the consumer claim as the `Consumer`
/// did.
///
/// # Examples
///
/// ```
/// use ring_core::{Config, PopError, Ring};
///
/// let ring = Ring::<u64>::create_heap(Config::new(8)).unwrap();
/// let (mut tx, rx) = ring.split().unwrap();
/// let mut rx = rx.into_spsc().unwrap();
/// assert_eq!(rx.pop(), Err(PopError::Empty));
/// tx.push_all(&[1, 2, 3]).unwrap();
/// tx.close();
/// assert_eq!(rx.pop(), Ok(1));
/// let mut out = [0; 4];
/// assert_eq!(rx.pop_into(&mut out), Ok(2));
/// assert_eq!(out[..2], [2, 3]);
/// assert_eq!(rx.pop(), Err(PopError::Closed));
/// ```
#[derive(Debug)]
pub struct SpscConsumer<T: Entry> {
    /// The flavor's state, run here; the copy inside `inner` is stale until
    /// [`Self::into_consumer`] brings it up to date.
    rx: SpscRx<'static, T>,
    /// The handle this one came from: it holds the claim and the memory. Boxed, so that the
    /// handle is a few words the compiler can keep in registers.
    inner: Box<Consumer<T>>,
}

// SAFETY: as for `Consumer`: the handle reaches shared memory only through atomics and payload
// cells whose use the protocol arbitrates, and it owns (through `inner`) a reference to the
// memory; `T: Entry` is `Send + Sync`.
unsafe impl<T: Entry> Send for SpscConsumer<T> {}
// SAFETY: every method that touches shared memory takes `&mut self` (or `self`).
unsafe impl<T: Entry> Sync for SpscConsumer<T> {}

impl<T: Entry> Consumer<T> {
    /// This consumer as an [`SpscConsumer`], if its ring is an SPSC ring with packed slots
    /// (layout 1.4: every SPSC ring without an overflow area, unless made with
    /// [`crate::Config::packed`] off); otherwise the consumer itself, unchanged.
    ///
    /// # Errors
    ///
    /// Hands `self` back when the ring is not a packed SPSC ring.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let spsc = Ring::<u32>::create_heap(Config::new(8)).unwrap();
    /// assert!(spsc.consumer().unwrap().into_spsc().is_ok());
    /// let with_overflow = Ring::<u32>::create_heap(Config::new(8).overflow(8)).unwrap();
    /// assert!(with_overflow.consumer().unwrap().into_spsc().is_err());
    /// ```
    // The error hands the consumer back by value, as `PushError::Full` hands the entry back.
    #[allow(clippy::result_large_err)]
    #[inline(always)]
    pub fn into_spsc(self) -> Result<SpscConsumer<T>, Self> {
        match self.spsc_flavor() {
            Some(rx) => Ok(SpscConsumer {
                rx: *rx,
                inner: Box::new(self),
            }),
            None => Err(self),
        }
    }
}

impl<T: Entry> SpscConsumer<T> {
    /// Pops one entry (as [`Consumer::pop`]).
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] when nothing is published, [`PopError::Closed`] when nothing is
    /// left and the producer closed the stream, [`PopError::Corrupt`] when the producer's index
    /// is out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, PopError, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(2)).unwrap();
    /// let (mut tx, rx) = ring.split().unwrap();
    /// let mut rx = rx.into_spsc().unwrap();
    /// tx.push(7).unwrap();
    /// assert_eq!(rx.pop(), Ok(7));
    /// assert_eq!(rx.pop(), Err(PopError::Empty));
    /// ```
    #[inline(always)]
    pub fn pop(&mut self) -> Result<T, PopError> {
        self.rx.pop()
    }

    /// Pops up to `out.len()` entries into `out`; returns how many (as [`Consumer::pop_into`]).
    ///
    /// # Errors
    ///
    /// [`PopError::Closed`] when nothing is left, `out` is not empty and the producer closed
    /// the stream; [`PopError::Corrupt`]. An empty ring that is not closed is `Ok(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(4)).unwrap();
    /// let (mut tx, rx) = ring.split().unwrap();
    /// let mut rx = rx.into_spsc().unwrap();
    /// tx.push_all(&[1, 2, 3]).unwrap();
    /// let mut out = [0; 2];
    /// assert_eq!(rx.pop_into(&mut out), Ok(2));
    /// assert_eq!(out, [1, 2]);
    /// ```
    #[inline]
    pub fn pop_into(&mut self, out: &mut [T]) -> Result<usize, PopError> {
        let want = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let span = match self.rx.claim(want) {
            Ok(span) => span,
            Err(Shortfall::Short { .. }) if !out.is_empty() && self.rx.at_end() => {
                return Err(PopError::Closed)
            }
            Err(Shortfall::Short { .. }) => return Ok(0),
            Err(Shortfall::Corrupt(c)) => return Err(PopError::Corrupt(c)),
        };
        // SAFETY: claimed and published (observed with Acquire), not yet released.
        unsafe {
            self.rx
                .lane()
                .read_into(span.start, &mut out[..span.len as usize])
        };
        self.rx.release(span);
        Ok(span.len as usize)
    }

    /// Claims up to `max` published entries to be read in place (as [`Consumer::view`]); they
    /// are released when the view is dropped, with one Release store of `head`.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] when nothing is published (or `max` is 0), [`PopError::Closed`]
    /// when nothing is left and the producer closed the stream, [`PopError::Corrupt`] when the
    /// producer's index is out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, PopError, Ring};
    ///
    /// let ring = Ring::<u64>::create_heap(Config::new(8)).unwrap();
    /// let (mut tx, rx) = ring.split().unwrap();
    /// let mut rx = rx.into_spsc().unwrap();
    /// tx.push_all(&[5, 6, 7]).unwrap();
    /// {
    ///     let view = rx.view(2).unwrap();
    ///     assert_eq!(view.len(), 2);
    ///     assert_eq!(view.iter().sum::<u64>(), 11);
    /// } // released here
    /// assert_eq!(ring.len(), 1);
    /// tx.close();
    /// assert_eq!(rx.view(8).unwrap().iter().collect::<Vec<_>>(), [7]);
    /// assert_eq!(rx.view(8).err(), Some(PopError::Closed));
    /// ```
    #[inline]
    pub fn view(&mut self, max: usize) -> Result<SpscReadView<'_, T>, PopError> {
        if max == 0 {
            return Err(PopError::Empty);
        }
        let n = u32::try_from(max).unwrap_or(u32::MAX);
        match self.rx.claim(n) {
            Ok(span) => Ok(SpscReadView {
                start: span.start,
                len: span.len,
                consumer: self,
            }),
            Err(Shortfall::Short { .. }) if self.rx.at_end() => Err(PopError::Closed),
            Err(Shortfall::Short { .. }) => Err(PopError::Empty),
            Err(Shortfall::Corrupt(c)) => Err(PopError::Corrupt(c)),
        }
    }

    /// The ring's capacity.
    pub fn capacity(&self) -> u32 {
        self.rx.lane().capacity()
    }

    /// The [`Consumer`] this handle came from, up to date.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(4)).unwrap();
    /// let (mut tx, rx) = ring.split().unwrap();
    /// let mut fast = rx.into_spsc().unwrap();
    /// tx.push_all(&[1, 2]).unwrap();
    /// assert_eq!(fast.pop(), Ok(1));
    /// let mut rx = fast.into_consumer();
    /// assert_eq!(rx.view(4).unwrap().iter().collect::<Vec<_>>(), [2]);
    /// ```
    pub fn into_consumer(self) -> Consumer<T> {
        let SpscConsumer { rx, mut inner } = self;
        if let Some(f) = inner.spsc_flavor_mut() {
            *f = rx;
        }
        *inner
    }
}

/// Entries claimed by [`SpscConsumer::view`], read in place, released when the view drops.
#[derive(Debug)]
pub struct SpscReadView<'c, T: Entry> {
    consumer: &'c mut SpscConsumer<T>,
    /// The first claimed position: the consumer's private head when the view was made.
    start: u32,
    /// How many positions, from `start`, are claimed (all published: seen with Acquire).
    len: u32,
}

impl<T: Entry> SpscReadView<'_, T> {
    /// Number of claimed entries (at least 1).
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Always `false`: a view holds at least one entry (an empty ring gives
    /// [`PopError::Empty`] instead of a view).
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The claimed entries, in order, each copied out of its slot with word-sized atomic loads
    /// (a peer that rewrites a claimed slot meanwhile can only give wrong values, never
    /// undefined behaviour). The slots stay claimed until the view is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(4)).unwrap();
    /// let (mut tx, rx) = ring.split().unwrap();
    /// let mut rx = rx.into_spsc().unwrap();
    /// tx.push_all(&[1, 2, 3]).unwrap();
    /// let view = rx.view(4).unwrap();
    /// assert_eq!(view.iter().max(), Some(3));
    /// ```
    #[inline]
    pub fn iter(&self) -> Iter<'_, T> {
        let (first, second) = self.consumer.rx.lane().runs(self.start, self.len as usize);
        Iter::packed(first, second)
    }
}

impl<T: Entry> Drop for SpscReadView<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // C2: the span starts at the private head (the view borrows the consumer, so the head
        // has not moved) and was claimed whole.
        self.consumer.rx.release(Span::ring(self.start, self.len));
    }
}
