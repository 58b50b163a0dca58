//! The single-producer/single-consumer protocol: indices only.
//!
//! The producer owns `tail`, the consumer owns `head`; each keeps its own index privately (the
//! trusted copy) and reads the other's with Acquire. The fill level is `tail - head` in wrapping
//! u32 arithmetic; the ring is empty at 0 and full at `capacity`, so no slot is wasted. A batch
//! is published or released with a single Release store and no read-modify-write.
//!
//! Untrusted peer: a fill level above `capacity` is impossible for honest participants and is
//! reported as [`Corruption::IndicesOutOfRange`].

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
    let head = ring.cons.head.load(Acquire);
    let used = tail.wrapping_sub(head);
    if used > ring.capacity() {
        return Err(Shortfall::Corrupt(Corruption::IndicesOutOfRange {
            tail,
            head,
        }));
    }
    let free = ring.capacity() - used;
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
    let tail = ring.prod.tail.load(Acquire);
    let avail = tail.wrapping_sub(head);
    if avail > ring.capacity() {
        return Err(Shortfall::Corrupt(Corruption::IndicesOutOfRange {
            tail,
            head,
        }));
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
