//! The single-producer/single-consumer protocol: indices only.
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

use super::{ConsumerCursor, ProducerCursor, RawRing, Shortfall, Span};
use crate::error::Corruption;
use crate::sync::Ordering::{Acquire, Release};

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
