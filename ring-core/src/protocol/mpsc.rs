//! The lap-tag flavors without an overflow area: the producer of an MPSC or MPMC ring
//! ([`MpTx`]) and the consumer of an MPSC ring ([`ScRx`]).
//!
//! They run the steps of [`super::lap`] (MP1..MP4, SC1/SC2; spec/PROTOCOL.md) for one entry
//! with every pointer resolved when the handle is made: the producer reads `tail`, checks the
//! slot's lap tag, compare-and-swaps `tail`, re-checks the tag (the ABA guard), writes the
//! payload and publishes the tag; the consumer checks the tag at its private head, reads the
//! payload, frees the tag and stores `head`. Everything that is not that straight line (a full
//! ring, a discarded slot, a stale or corrupt tag, the wake-up) is out of line. Batches use the
//! general lap functions, whose per-call cost is spread over the batch.

use super::intent::Intent;
use super::lap::{self, Budget, ForConsumer, ForProducer, SCAN_BUDGET};
use super::push_error;
use super::wait::{Reached, Waker};
use super::{ConsumerCursor, Lane, RawRing, Refusals, Shortfall, Span};
use crate::error::{Corruption, PopError, PushError};
use crate::layout::slot_meta;
use crate::sync::{
    AtomicU32, AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

/// The producer flavor of MPSC and MPMC rings without an overflow area.
#[derive(Debug)]
pub(crate) struct MpTx<'a, T> {
    lane: Lane<'a, T>,
    tail_word: &'a AtomicU32,
    /// This producer's ring intent (R2: stored before every compare-and-swap of `tail`).
    intent: Intent<'a>,
    discarded: &'a AtomicU64,
    wait: Option<Waker<'a>>,
    refusals: Refusals<'a>,
}

impl<'a, T: Copy> MpTx<'a, T> {
    pub(crate) fn new(ring: &RawRing<'a, T>, intent: Intent<'a>, wait: Option<Waker<'a>>) -> Self {
        MpTx {
            lane: ring.main(),
            tail_word: &ring.prod.tail,
            intent,
            discarded: &ring.prod.discarded,
            wait,
            refusals: Refusals::new(ring),
        }
    }

    /// MP1..MP4 for one entry. The inline part is the uncontended first attempt, with no loop
    /// and no call but the wake-up; anything else (a full ring, a lost compare-and-swap, a
    /// stale or corrupt tag) goes out of line.
    #[inline(always)]
    pub(crate) fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        // Copies, so that the atomic operations below do not make the compiler reload them.
        let (lane, tail_word) = (self.lane, self.tail_word);
        // MP1: read `tail` (Acquire), then the lap tag of its slot (Acquire).
        let tail = tail_word.load(Acquire);
        let slot = lane.slot(tail);
        if slot.seq.load(Acquire) != tail {
            return self.push_slow(value);
        }
        // R2: record the position before trying to take it (the length word reads 1).
        self.intent.one(tail);
        // MP2: free for `tail`: take it.
        if tail_word
            .compare_exchange_weak(tail, tail.wrapping_add(1), AcqRel, Acquire)
            .is_err()
        {
            return self.push_slow(value);
        }
        // MP3: the ABA guard: the tag must still say "free for `tail`".
        if slot.seq.load(Acquire) != tail {
            return self.push_owned_slow(tail, value);
        }
        self.refusals.granted();
        self.put(lane, tail, value);
        Ok(())
    }

    /// MP4 for an owned position whose tag was re-checked: write, publish, W1.
    #[inline(always)]
    fn put(&self, lane: Lane<'a, T>, tail: u32, value: T) {
        let slot = lane.slot(tail);
        // SAFETY: the compare-and-swap gave us `tail` and MP3 saw its slot free for it: no one
        // else touches the payload until we publish.
        unsafe { lane.write(tail, value) };
        // MP4: `meta` (Relaxed), then the tag (Release: publishes the payload and `meta`).
        slot.meta.store(0, Relaxed);
        slot.seq.store(tail.wrapping_add(1), Release);
        if let Some(w) = &self.wait {
            w.published_at(Reached::Shared(self.tail_word));
        }
    }

    /// MP1..MP4 with retries: the contended, full or corrupt cases.
    #[cold]
    #[inline(never)]
    fn push_slow(&mut self, value: T) -> Result<(), PushError<T>> {
        let mut tail = self.tail_word.load(Acquire);
        let mut spent: u32 = 0;
        loop {
            let seq = self.lane.slot(tail).seq.load(Acquire);
            if seq == tail {
                self.intent.one(tail);
                match self.tail_word.compare_exchange_weak(
                    tail,
                    tail.wrapping_add(1),
                    AcqRel,
                    Acquire,
                ) {
                    Ok(_) => {
                        self.refusals.granted();
                        return self.push_owned_slow(tail, value);
                    }
                    Err(now) => tail = now,
                }
            } else {
                match self.contended(tail, seq) {
                    Ok(now) => tail = now,
                    Err(e) => return Err(push_error(value, e)),
                }
            }
            spent += 1;
            if spent >= SCAN_BUDGET {
                return Err(push_error(value, Shortfall::Corrupt(Corruption::Livelock)));
            }
        }
    }

    /// MP3 and MP4 for an owned position, waiting (boundedly) for its tag if needed.
    #[cold]
    #[inline(never)]
    fn push_owned_slow(&mut self, tail: u32, value: T) -> Result<(), PushError<T>> {
        let mut retry = Budget::new().retry;
        if let Err(e) = lap::verify_owned(&self.lane, Span::ring(tail, 1), 0, &mut retry) {
            return Err(push_error(value, e));
        }
        self.put(self.lane, tail, value);
        Ok(())
    }

    /// The tag at `tail` was not "free for `tail`": a full ring (tag one lap behind), a stale
    /// `tail` (another producer moved it), or corruption (`tail` unchanged). Returns the tail
    /// to try next.
    #[cold]
    #[inline(never)]
    fn contended(&mut self, tail: u32, seq: u32) -> Result<u32, Shortfall> {
        match lap::for_producer(seq, tail, self.lane.capacity()) {
            ForProducer::Free => Ok(tail),
            ForProducer::Behind => {
                self.refusals.refused();
                Err(Shortfall::Short { have: 0 })
            }
            ForProducer::Other => {
                let now = self.tail_word.load(Acquire);
                if now == tail {
                    Err(Shortfall::Corrupt(Corruption::SlotSequence {
                        position: tail,
                        seq,
                    }))
                } else {
                    Ok(now)
                }
            }
        }
    }

    /// MP1..MP3 for up to `n` positions (exactly `n` or none when `exact`).
    pub(crate) fn reserve(&mut self, n: u32, exact: bool) -> Result<Span, Shortfall> {
        if n == 0 || (exact && n > self.lane.capacity()) {
            return Err(Shortfall::Short { have: 0 });
        }
        let mut budget = Budget::new();
        let r = lap::reserve_multi(
            &self.lane,
            self.tail_word,
            n,
            exact,
            Some(self.intent),
            &mut budget,
        );
        match r {
            Err(Shortfall::Short { .. }) => {
                self.intent.reset();
                self.refusals.refused();
            }
            Ok(_) => self.refusals.granted(),
            Err(Shortfall::Corrupt(_)) => self.intent.reset(),
        }
        r
    }

    /// MP4 for a reserved span: the first `keep` as entries, the rest as discarded.
    pub(crate) fn publish(&mut self, span: Span, keep: u32) {
        lap::publish_all(&self.lane, span, keep);
        // One-position reservations store only the start: the length goes back to 1.
        self.intent.reset();
        if keep < span.len {
            self.discarded
                .fetch_add(u64::from(span.len - keep), Relaxed);
        }
        if span.len != 0 {
            if let Some(w) = &self.wait {
                w.published_at(Reached::Shared(self.tail_word));
            }
        }
    }

    /// The payload slots, for writing in place.
    #[inline(always)]
    pub(crate) fn lane(&self) -> Lane<'a, T> {
        self.lane
    }
}

/// The consumer flavor of MPSC rings without an overflow area.
#[derive(Debug)]
pub(crate) struct ScRx<'a, T> {
    /// The private trusted head: the next position to consume.
    pub(crate) head: u32,
    lane: Lane<'a, T>,
    head_word: &'a AtomicU32,
    /// The end-of-stream word, if the ring keeps it (1.3).
    stream: Option<&'a AtomicU32>,
}

impl<'a, T: Copy> ScRx<'a, T> {
    /// A consumer starting at `cur` (recovered by [`RawRing::consumer_cursor`]).
    pub(crate) fn new(ring: &RawRing<'a, T>, cur: ConsumerCursor) -> Self {
        ScRx {
            head: cur.head,
            lane: ring.main(),
            head_word: &ring.cons.head,
            stream: ring.stream.then_some(&ring.prod.stream),
        }
    }

    /// SC1/SC2 for one entry; discarded slots are consumed on the way (out of line).
    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Result<T, PopError> {
        let (lane, head) = (self.lane, self.head);
        let slot = lane.slot(head);
        // SC1: the tag (Acquire) must say "published for `head`", and the entry not discarded.
        if slot.seq.load(Acquire) != head.wrapping_add(1)
            || slot.meta.load(Relaxed) & slot_meta::DISCARDED != 0
        {
            return self.pop_slow();
        }
        // SAFETY: published for `head` (seen with Acquire), not discarded, and ours (the only
        // consumer) until we free the tag.
        let value = unsafe { lane.read(head) };
        // SC2: free the tag for the next lap (Release), then store `head` (Release).
        slot.seq.store(head.wrapping_add(lane.capacity()), Release);
        self.head = head.wrapping_add(1);
        self.head_word.store(self.head, Release);
        Ok(value)
    }

    /// Not a plain published entry at `head`: nothing yet, corruption, or discarded slots to
    /// consume (at most a lap of them) before the next entry.
    #[cold]
    #[inline(never)]
    fn pop_slow(&mut self) -> Result<T, PopError> {
        let mut closed = false;
        for _ in 0..=self.lane.capacity() {
            let head = self.head;
            let slot = self.lane.slot(head);
            let seq = slot.seq.load(Acquire);
            match lap::for_consumer(seq, head, self.lane.capacity(), false) {
                ForConsumer::Ready => {}
                // E4 (no overflow area here): with the closed word seen (Acquire), the tag
                // loaded after it is final: not published means drained.
                ForConsumer::NotYet if closed => return Err(PopError::Closed),
                ForConsumer::NotYet => match self.stream {
                    Some(w) if super::stream::closed(w) => {
                        closed = true;
                        continue;
                    }
                    _ => return Err(PopError::Empty),
                },
                ForConsumer::Other => {
                    return Err(PopError::Corrupt(Corruption::SlotSequence {
                        position: head,
                        seq,
                    }))
                }
            }
            let value = if slot.meta.load(Relaxed) & slot_meta::DISCARDED != 0 {
                None
            } else {
                // SAFETY: as in `pop`.
                Some(unsafe { self.lane.read(head) })
            };
            self.release(Span::ring(head, 1));
            if let Some(v) = value {
                return Ok(v);
            }
        }
        Err(PopError::Empty)
    }

    /// SC1: up to `n` published positions from the private head.
    #[inline]
    pub(crate) fn claim(&mut self, n: u32) -> Result<Span, Shortfall> {
        if n == 0 {
            return Err(Shortfall::Short { have: 0 });
        }
        lap::claim_single(&self.lane, self.head, n)
    }

    /// SC2: free the tags of a claimed span (which starts at the private head), then store
    /// `head` once.
    #[inline]
    pub(crate) fn release(&mut self, span: Span) {
        debug_assert_eq!(span.start, self.head);
        if span.len == 0 {
            return;
        }
        lap::free_slots(&self.lane, span);
        self.head = span.start.wrapping_add(span.len);
        self.head_word.store(self.head, Release);
    }

    /// Whether the claimed position `pos` was published as discarded.
    #[inline(always)]
    pub(crate) fn is_discarded(&self, pos: u32) -> bool {
        self.lane.slot(pos).meta.load(Relaxed) & slot_meta::DISCARDED != 0
    }

    /// The payload slots, for reading in place.
    #[inline(always)]
    pub(crate) fn lane(&self) -> Lane<'a, T> {
        self.lane
    }
}
