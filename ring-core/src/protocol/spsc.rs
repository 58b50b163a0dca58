//! The single-producer/single-consumer protocol: indices only (so its flavors run over packed
//! slots, which carry no lap tags).
//!
//! The producer owns `tail`, the consumer owns `head`; each keeps its own index privately (the
//! trusted copy) and reads the other's with Acquire. The fill level is `tail - head` in wrapping
//! u32 arithmetic; the ring is empty at 0 and full at `capacity`, so no slot is wasted. A batch
//! is published or released with a single Release store and no read-modify-write.
//!
//! Each side also keeps a private copy of the *other* side's index, refreshed (Acquire) only
//! when the copy says there is not enough room (producer) or not enough entries (consumer).
//! The copy is never ahead of the real index, so decisions made from it are conservative, and
//! the slots it covers were already synchronised by the Acquire load that produced it. This is
//! what keeps the two sides off each other's index line while the ring is neither full nor
//! empty (on the 2-core VM here a line transfer costs about 200 ns).
//!
//! Untrusted peer: a fill level above `capacity` is impossible for honest participants and is
//! reported as [`Corruption::IndicesOutOfRange`]; every loaded value is checked before it
//! replaces the private copy.

use super::push_error;
use super::wait::{Reached, Waker};
use super::{ConsumerCursor, PackedLane, ProducerCursor, RawRing, Refusals, Shortfall, Span};
use crate::error::{Corruption, PopError, PushError};
use crate::layout::{stream::CLOSED, ProducerLine};
use crate::sync::{
    AtomicU32,
    Ordering::{Acquire, Release},
};

/// P1: read `head` (Acquire: the consumer's reads of the slots it released happen before our
/// overwrites), compute `free = capacity - (tail - head)`, take `min(n, free)`.
pub(super) fn reserve<T>(
    ring: &RawRing<'_, T>,
    cur: &mut ProducerCursor,
    n: u32,
    exact: bool,
) -> Result<Span, Shortfall> {
    let tail = cur.tail;
    let cap = ring.capacity();
    // The cached head is validated (`tail - head <= cap`) when loaded, and `tail` only grows
    // by what it allowed, so this cannot underflow.
    let mut free = cap - tail.wrapping_sub(cur.head_cache);
    if free < n {
        let head = ring.cons.head.load(Acquire);
        let used = tail.wrapping_sub(head);
        if used > cap {
            return Err(Shortfall::Corrupt(Corruption::IndicesOutOfRange {
                tail,
                head,
            }));
        }
        cur.head_cache = head;
        free = cap - used;
    }
    if free == 0 || (exact && free < n) {
        return Err(Shortfall::Short { have: free });
    }
    Ok(Span::ring(tail, n.min(free)))
}

/// P2: after writing the first `keep` payloads, one Release store of `tail` publishes them all.
pub(super) fn publish<T>(ring: &RawRing<'_, T>, cur: &mut ProducerCursor, span: Span, keep: u32) {
    debug_assert_eq!(span.start, cur.tail);
    if keep == 0 {
        return;
    }
    cur.tail = span.start.wrapping_add(keep);
    ring.prod.tail.store(cur.tail, Release);
}

/// C1: read `tail` (Acquire: the producer's payload writes happen before our reads), compute
/// `avail = tail - head`, take `min(n, avail)`.
pub(super) fn claim<T>(
    ring: &RawRing<'_, T>,
    cur: &mut ConsumerCursor,
    n: u32,
) -> Result<Span, Shortfall> {
    let head = cur.head;
    let mut avail = cur.tail_cache.wrapping_sub(head);
    if avail < n {
        let tail = ring.prod.tail.load(Acquire);
        avail = tail.wrapping_sub(head);
        if avail > ring.capacity() {
            return Err(Shortfall::Corrupt(Corruption::IndicesOutOfRange {
                tail,
                head,
            }));
        }
        cur.tail_cache = tail;
    }
    if avail == 0 || n == 0 {
        return Err(Shortfall::Short { have: avail });
    }
    Ok(Span::ring(head, n.min(avail)))
}

/// C2: after reading the payloads, one Release store of `head` frees the slots.
pub(super) fn release<T>(ring: &RawRing<'_, T>, cur: &mut ConsumerCursor, span: Span) {
    debug_assert_eq!(span.start, cur.head);
    if span.len == 0 {
        return;
    }
    cur.head = span.start.wrapping_add(span.len);
    ring.cons.head.store(cur.head, Release);
}

/// The SPSC producer flavor (no overflow area): P1/P2 with everything resolved when the handle
/// is made. The hot path is the cached-room check, the payload write and one Release store of
/// `tail`; reloading and validating `head` is out of line.
#[derive(Debug)]
pub(crate) struct SpscTx<'a, T> {
    /// The private trusted tail: the next position to publish.
    pub(crate) tail: u32,
    /// `head + capacity` for the last validated `head`: positions before it are free. Never
    /// ahead of the real limit, because `head` only moves forward.
    limit: u32,
    lane: PackedLane<'a, T>,
    tail_word: &'a AtomicU32,
    head_word: &'a AtomicU32,
    wait: Option<Waker<'a>>,
    refusals: Refusals<'a>,
}

impl<'a, T: Copy> SpscTx<'a, T> {
    /// A producer of the packed ring `ring` (whose slots are `lane`) starting at `cur`
    /// (validated by [`RawRing::producer_cursor`]).
    pub(crate) fn new(
        ring: &RawRing<'a, T>,
        lane: PackedLane<'a, T>,
        cur: ProducerCursor,
        wait: Option<Waker<'a>>,
    ) -> Self {
        SpscTx {
            tail: cur.tail,
            limit: cur.head_cache.wrapping_add(lane.capacity()),
            lane,
            tail_word: &ring.prod.tail,
            head_word: &ring.cons.head,
            wait,
            refusals: Refusals::new(ring),
        }
    }

    /// P1 for one position, P2 after writing it. The inline part has no loop and no call but
    /// the wake-up; a producer whose cached room is used up goes out of line.
    #[inline(always)]
    pub(crate) fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        if self.tail == self.limit {
            return self.push_slow(value);
        }
        self.put(value);
        Ok(())
    }

    /// Writes `value` at the private tail and publishes it (P2), then W1.
    #[inline(always)]
    fn put(&mut self, value: T) {
        let tail = self.tail;
        // SAFETY: `tail` is before `limit`, so its slot was released by the consumer (seen
        // with the Acquire load of `head` that set `limit`) and is ours until we publish.
        unsafe { self.lane.write(tail, value) };
        self.tail = tail.wrapping_add(1);
        self.tail_word.store(tail.wrapping_add(1), Release);
        if let Some(w) = &self.wait {
            w.published_at(Reached::At(tail.wrapping_add(1)));
        }
    }

    /// `push` with the cached room used up: reload `head`, then push or refuse.
    #[cold]
    #[inline(never)]
    fn push_slow(&mut self, value: T) -> Result<(), PushError<T>> {
        match self.refill(1, true) {
            Ok(_) => {
                self.put(value);
                Ok(())
            }
            Err(e) => Err(push_error(value, e)),
        }
    }

    /// P1: up to `n` positions (exactly `n` or none when `exact`) from the private tail.
    #[inline]
    pub(crate) fn reserve(&mut self, n: u32, exact: bool) -> Result<Span, Shortfall> {
        let mut free = self.limit.wrapping_sub(self.tail);
        if free < n {
            free = self.refill(n, exact)?;
        }
        Ok(Span::ring(self.tail, n.min(free)))
    }

    /// P2: publish the first `keep` positions of `span` (which starts at the private tail);
    /// the rest is simply not published (a single producer takes it back).
    #[inline(always)]
    pub(crate) fn publish(&mut self, span: Span, keep: u32) {
        debug_assert_eq!(span.start, self.tail);
        if keep == 0 {
            return;
        }
        self.tail = span.start.wrapping_add(keep);
        self.tail_word.store(self.tail, Release);
        if let Some(w) = &self.wait {
            w.published_at(Reached::At(self.tail));
        }
    }

    /// The payload slots, for writing in place.
    #[inline(always)]
    pub(crate) fn lane(&self) -> PackedLane<'a, T> {
        self.lane
    }

    /// Reloads `head` (Acquire), validates it (`tail - head <= capacity`) and returns the free
    /// positions: at least `n`, or a shortfall (`n == 0` or, without `exact`, some room is not
    /// a shortfall).
    #[cold]
    #[inline(never)]
    fn refill(&mut self, n: u32, exact: bool) -> Result<u32, Shortfall> {
        let room = room(
            self.head_word,
            self.tail,
            self.lane.capacity(),
            n,
            exact,
            &mut self.refusals,
        );
        match room {
            Ok(limit) => {
                self.limit = limit;
                Ok(limit.wrapping_sub(self.tail))
            }
            Err(e) => {
                // Forget the room seen, so that the next reservation comes back here (and ends
                // the refusal episode when it is granted) instead of taking the cached room.
                self.limit = self.tail;
                Err(e)
            }
        }
    }

    /// The state a [`crate::SpscProducer`] takes over: the private tail and limit, the
    /// slots, the two index words, the wait block and the refusal counter.
    pub(crate) fn parts(&self) -> (u32, u32, PackedLane<'a, T>, &'a AtomicU32, &'a AtomicU32) {
        (
            self.tail,
            self.limit,
            self.lane,
            self.tail_word,
            self.head_word,
        )
    }

    /// The wake-up check and the refusal counter (see [`Self::parts`]).
    pub(crate) fn waker_and_refusals(&self) -> (Option<Waker<'a>>, Refusals<'a>) {
        (self.wait, self.refusals)
    }

    /// Takes back the state a [`crate::SpscProducer`] moved on.
    pub(crate) fn resume(&mut self, tail: u32, limit: u32, refusals: Refusals<'a>) {
        self.tail = tail;
        self.limit = limit;
        self.refusals = refusals;
    }
}

/// [`room`] for one position (the single push), with fewer arguments to pass.
#[cold]
#[inline(never)]
pub(crate) fn room_for_one(
    head_word: &AtomicU32,
    tail: u32,
    cap: u32,
    refusals: &mut Refusals<'_>,
) -> Result<u32, Shortfall> {
    room_inline(head_word, tail, cap, 1, true, refusals)
}

/// P1's reload of `head`, out of line, over plain values: loads `head` (Acquire), validates it
/// against `tail` (`tail - head <= capacity`) and returns the new limit (`head + capacity`) when
/// at least `n` positions are free (some, without `exact`), or the shortfall, counting a
/// refusal episode in `refusals`. Handles whose hot path must keep the private `tail` in a
/// register call this with values only, so that no address of theirs escapes.
#[cold]
#[inline(never)]
pub(crate) fn room(
    head_word: &AtomicU32,
    tail: u32,
    cap: u32,
    n: u32,
    exact: bool,
    refusals: &mut Refusals<'_>,
) -> Result<u32, Shortfall> {
    room_inline(head_word, tail, cap, n, exact, refusals)
}

#[inline(always)]
fn room_inline(
    head_word: &AtomicU32,
    tail: u32,
    cap: u32,
    n: u32,
    exact: bool,
    refusals: &mut Refusals<'_>,
) -> Result<u32, Shortfall> {
    let head = head_word.load(Acquire);
    let used = tail.wrapping_sub(head);
    if used > cap {
        return Err(Shortfall::Corrupt(Corruption::IndicesOutOfRange {
            tail,
            head,
        }));
    }
    let free = cap - used;
    if n == 0 || free == 0 || (exact && free < n) {
        if n != 0 && (!exact || n <= cap) {
            refusals.refused();
        }
        return Err(Shortfall::Short { have: free });
    }
    refusals.granted();
    Ok(head.wrapping_add(cap))
}

/// The SPSC consumer flavor (no overflow area): C1/C2 with the cached-entries check inline.
/// `Copy`: an [`crate::SpscConsumer`] runs a copy and hands it back.
#[derive(Debug)]
pub(crate) struct SpscRx<'a, T> {
    /// The private trusted head: the next position to consume.
    pub(crate) head: u32,
    /// The last validated `tail`: positions before it are published. Never ahead of the real
    /// `tail`.
    pub(crate) tail_cache: u32,
    /// The ring's capacity (trusted: `lane.capacity()`), kept at hand for the range check.
    capacity: u32,
    lane: PackedLane<'a, T>,
    head_word: &'a AtomicU32,
    /// The producer line: `tail`, and the end-of-stream word beside it (same base register).
    prod: &'a ProducerLine,
}

impl<T> Clone for SpscRx<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SpscRx<'_, T> {}

impl<'a, T: Copy> SpscRx<'a, T> {
    /// E4 for this flavor (no overflow area), once nothing was found: the stream is closed
    /// (the word, on `tail`'s line, with Acquire) and `tail` loaded again (made final by that
    /// load) still equals the private head.
    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        closed_at(self.prod, self.head)
    }

    /// A consumer of the packed ring `ring` (whose slots are `lane`) starting at `cur`
    /// (validated by [`RawRing::consumer_cursor`]).
    pub(crate) fn new(ring: &RawRing<'a, T>, lane: PackedLane<'a, T>, cur: ConsumerCursor) -> Self {
        SpscRx {
            head: cur.head,
            tail_cache: cur.tail_cache,
            capacity: lane.capacity(),
            lane,
            head_word: &ring.cons.head,
            prod: ring.prod,
        }
    }

    /// C1 for one position, C2 after reading it. Reloading `tail` is inline: polling an empty
    /// ring is a busy-polling consumer's hot path.
    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Result<T, PopError> {
        // The lane is read only on the path that takes an entry (the empty poll stays short).
        let (head, prod) = (self.head, self.prod);
        if head == self.tail_cache {
            let tail = prod.tail.load(Acquire);
            if tail == head {
                // E4, whole for this flavor (no overflow area).
                if closed_at(prod, head) {
                    return Err(PopError::Closed);
                }
                return Err(PopError::Empty);
            }
            if tail.wrapping_sub(head) > self.capacity {
                return Err(pop_corrupt(tail, head));
            }
            self.tail_cache = tail;
        }
        // SAFETY: `head` is before the validated `tail`, published (seen with Acquire) and
        // ours until we store `head`.
        let value = unsafe { self.lane.read(head) };
        self.head = head.wrapping_add(1);
        self.head_word.store(head.wrapping_add(1), Release);
        Ok(value)
    }

    /// C1: up to `n` published positions from the private head.
    #[inline]
    pub(crate) fn claim(&mut self, n: u32) -> Result<Span, Shortfall> {
        let mut avail = self.tail_cache.wrapping_sub(self.head);
        if avail < n {
            avail = self.refill()?;
        }
        if n == 0 {
            return Err(Shortfall::Short { have: avail });
        }
        Ok(Span::ring(self.head, n.min(avail)))
    }

    /// C2: free the claimed span (which starts at the private head) with one Release store.
    #[inline(always)]
    pub(crate) fn release(&mut self, span: Span) {
        debug_assert_eq!(span.start, self.head);
        if span.len == 0 {
            return;
        }
        self.head = span.start.wrapping_add(span.len);
        self.head_word.store(self.head, Release);
    }

    /// The payload slots, for reading in place.
    #[inline(always)]
    pub(crate) fn lane(&self) -> PackedLane<'a, T> {
        self.lane
    }

    /// Reloads `tail` (Acquire), validates it (`tail - head <= capacity`) and returns how many
    /// entries are published; nothing published is a shortfall.
    #[inline]
    fn refill(&mut self) -> Result<u32, Shortfall> {
        let tail = self.prod.tail.load(Acquire);
        let avail = tail.wrapping_sub(self.head);
        if avail > self.lane.capacity() {
            return Err(corrupt(tail, self.head));
        }
        self.tail_cache = tail;
        if avail == 0 {
            return Err(Shortfall::Short { have: 0 });
        }
        Ok(avail)
    }
}

/// E4 for a single consumer without an overflow area whose private head is `head`: the
/// closed word (on `tail`'s line, Acquire), then `tail` again, which that load made final.
#[inline(always)]
fn closed_at(prod: &ProducerLine, head: u32) -> bool {
    prod.stream.load(Acquire) & CLOSED != 0 && prod.tail.load(Acquire) == head
}

#[cold]
fn corrupt(tail: u32, head: u32) -> Shortfall {
    Shortfall::Corrupt(Corruption::IndicesOutOfRange { tail, head })
}

#[cold]
#[inline(never)]
fn pop_corrupt(tail: u32, head: u32) -> PopError {
    PopError::Corrupt(Corruption::IndicesOutOfRange { tail, head })
}
