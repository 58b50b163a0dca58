//! The lap-tag protocol, used by every mode except SPSC, and by every overflow area.
//!
//! Each slot carries `seq`, its lap tag. For a position `p` mapping to the slot:
//!
//! | `seq`          | meaning                                                      |
//! |----------------|--------------------------------------------------------------|
//! | `p`            | free for `p`: a producer may write it                        |
//! | `p + 1`        | published for `p`: a consumer may read it                    |
//! | `p + capacity` | consumed; free for `p + capacity` (the next lap)             |
//!
//! Distances are wrapping differences `seq - p` compared for *equality* with a small set of
//! values, never ordered as signed or widened numbers, so they stay right across the u32 wrap.
//!
//! The side with several participants claims positions with a compare-and-swap on its shared
//! index after checking the lap tags of the positions it wants (Vyukov's bounded MPMC queue,
//! generalised to batches). The side with one participant keeps its index privately, as in
//! SPSC. After a successful compare-and-swap each lap tag is checked again: an index can only
//! have been confused with an older value of itself (ABA) after 2^32 operations during one
//! stall, and the re-check turns that case into a bounded wait for the owned slot to become
//! ready instead of an overwrite or a read of an unpublished entry (spec/PROTOCOL.md, "ABA";
//! the argument in spec/RATIONALE.md).
//!
//! The functions here work on a [`Lane`] (the slots) and the index words passed to them, so the
//! same code serves the ring and its overflow area. Spans they return say [`super::Place::Ring`];
//! the overflow code re-labels its own.

use super::intent::Intent;
use super::{Lane, Shortfall, Span, RETRY_BUDGET};
use crate::error::Corruption;
use crate::layout::slot_meta;
use crate::sync::{
    spin_hint, AtomicU32,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

/// How many lap tags one public call may load in the retry loops of multi-participant
/// reservations and claims (over all its retries, rounds and lanes: the budget is the call's,
/// shared by every step), before it reports [`Corruption::Livelock`]. Each retry means another
/// participant made progress (or a peer is rewriting an index), so honest peers stay far
/// below it.
pub const SCAN_BUDGET: u32 = 1 << 22;

/// What is left of one public call's budgets (spec/PROTOCOL.md, section 6.6): the scan budget
/// of its rounds and the retry budget of its ownership re-checks. One value per call, shared by
/// every reservation or claim the call makes, so that a call that claims several times (a
/// multi-consumer `pop_into`, or an overflow reservation that tries the ring first) cannot be
/// held for one budget per claim.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Budget {
    /// Lap tags the call's rounds may still load ([`SCAN_BUDGET`] at the start).
    pub(crate) scan: u32,
    /// Polls the call's re-checks may still make ([`RETRY_BUDGET`] at the start).
    pub(crate) retry: u32,
}

impl Budget {
    /// A fresh budget, for the start of a public call.
    pub(crate) const fn new() -> Budget {
        Budget {
            scan: SCAN_BUDGET,
            retry: RETRY_BUDGET,
        }
    }
}

/// What a producer at `pos` makes of a lap tag.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(super) enum ForProducer {
    /// `seq == pos`: free.
    Free,
    /// `seq == pos - cap` (reserved a lap ago, unpublished) or `pos - cap + 1` (published a
    /// lap ago, not yet consumed): the ring is full at `pos`.
    Behind,
    /// Anything else: a stale index (multi-producer) or corruption.
    Other,
}

/// What a consumer at `pos` makes of a lap tag.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(super) enum ForConsumer {
    /// `seq == pos + 1`: published.
    Ready,
    /// `seq == pos` (not yet published) or, with several consumers, `pos - cap + 1` (a lap ago,
    /// claimed but not yet freed by a slower consumer): nothing to read yet.
    NotYet,
    /// Anything else: a stale index (multi-consumer) or corruption.
    Other,
}

#[inline(always)]
pub(super) fn for_producer(seq: u32, pos: u32, cap: u32) -> ForProducer {
    let d = seq.wrapping_sub(pos);
    if d == 0 {
        ForProducer::Free
    } else if d == 0u32.wrapping_sub(cap) || d == 1u32.wrapping_sub(cap) {
        ForProducer::Behind
    } else {
        ForProducer::Other
    }
}

#[inline(always)]
pub(super) fn for_consumer(seq: u32, pos: u32, cap: u32, multi: bool) -> ForConsumer {
    let d = seq.wrapping_sub(pos);
    if d == 1 {
        ForConsumer::Ready
    } else if d == 0 || (multi && d == 1u32.wrapping_sub(cap)) {
        ForConsumer::NotYet
    } else {
        ForConsumer::Other
    }
}

/// Scans the lap tags of `start..start + n` for producing; returns how many leading positions
/// are free, or the first position whose tag is neither free nor behind.
#[inline]
pub(super) fn scan_free<T>(lane: &Lane<'_, T>, start: u32, n: u32) -> Result<u32, (u32, u32)> {
    let cap = lane.capacity();
    let mut k = 0;
    while k < n {
        let pos = start.wrapping_add(k);
        let seq = lane.tag(pos);
        match for_producer(seq, pos, cap) {
            ForProducer::Free => k += 1,
            ForProducer::Behind => break,
            ForProducer::Other => return Err((pos, seq)),
        }
    }
    Ok(k)
}

/// Scans the lap tags of `start..start + n` for consuming; returns how many leading positions
/// are published, or the first position whose tag is neither published nor not-yet.
#[inline]
pub(super) fn scan_ready<T>(
    lane: &Lane<'_, T>,
    start: u32,
    n: u32,
    multi: bool,
) -> Result<u32, (u32, u32)> {
    let cap = lane.capacity();
    let mut k = 0;
    while k < n {
        let pos = start.wrapping_add(k);
        let seq = lane.tag(pos);
        match for_consumer(seq, pos, cap, multi) {
            ForConsumer::Ready => k += 1,
            ForConsumer::NotYet => break,
            ForConsumer::Other => return Err((pos, seq)),
        }
    }
    Ok(k)
}

/// MP3 / MC3: after a successful compare-and-swap, every owned position's tag must read
/// `pos + offset` (0 for producers, 1 for consumers). Only an ABA on the index (or a peer
/// rewriting tags) makes this wait at all. The wait is bounded per call, not per position nor
/// per claim: every poll is taken from `retry`, what is left of the public call's
/// [`RETRY_BUDGET`] (see [`Budget`]), so a peer that releases each position (or each claim of a
/// call that claims several times) just before the budget runs out cannot hold one call for
/// more than one budget in all, whatever the batch size.
pub(super) fn verify_owned<T>(
    lane: &Lane<'_, T>,
    span: Span,
    offset: u32,
    retry: &mut u32,
) -> Result<(), Shortfall> {
    for i in 0..span.len {
        let pos = span.at(i);
        let expected = pos.wrapping_add(offset);
        while lane.tag(pos) != expected {
            if *retry == 0 {
                return Err(Shortfall::Corrupt(Corruption::Stalled { position: pos }));
            }
            *retry -= 1;
            spin_hint();
            #[cfg(all(feature = "std", not(ring_core_loom)))]
            if *retry % 64 == 0 {
                std::thread::yield_now();
            }
        }
    }
    Ok(())
}

/// Single producer. SP1: scan the lap tags from the private tail (Acquire: a consumer's read
/// of the previous lap happens before our write).
pub(super) fn reserve_single<T>(
    lane: &Lane<'_, T>,
    tail: u32,
    n: u32,
    exact: bool,
) -> Result<Span, Shortfall> {
    let n = n.min(lane.capacity());
    let k = scan_free(lane, tail, n).map_err(|(position, seq)| {
        Shortfall::Corrupt(Corruption::SlotSequence { position, seq })
    })?;
    if k == 0 || (exact && k < n) {
        return Err(Shortfall::Short { have: k });
    }
    Ok(Span::ring(tail, k))
}

/// SP2 (tags): for each kept position, store `meta` (Relaxed) then `seq = pos + 1` (Release:
/// publishes the payload and `meta`). The caller then stores its tail (Release), which only
/// waiters and fill-level estimates read.
pub(super) fn publish_kept<T>(lane: &Lane<'_, T>, span: Span, keep: u32) {
    for i in 0..keep {
        let pos = span.at(i);
        lane.slot(pos).meta.store(0, Relaxed);
        lane.set_tag(pos, pos.wrapping_add(1));
    }
}

/// Several producers. MP1: read `tail` (Acquire), scan the lap tags from it (Acquire). MP2:
/// compare-and-swap `tail` from `t` to `t + k` (AcqRel). MP3: re-check every owned lap tag
/// (Acquire), the ABA guard.
///
/// Why the index accesses are not Relaxed: every reservation of a position below `t` was made
/// after its producer saw that slot free, and the AcqRel compare-and-swaps chain those
/// observations together, so a producer that reads `t` with Acquire cannot then read a lap tag
/// older than "one lap behind". That makes the classification exact: a tag outside
/// {free, behind} with `tail` unchanged is corruption, not a stale read. With Relaxed index
/// accesses a weakly ordered machine (and the loom model) can show a tag from two laps back
/// and a correct ring would report [`Corruption::SlotSequence`].
pub(super) fn reserve_multi<T>(
    lane: &Lane<'_, T>,
    tail_word: &AtomicU32,
    n: u32,
    exact: bool,
    intent: Option<Intent<'_>>,
    budget: &mut Budget,
) -> Result<Span, Shortfall> {
    let n = n.min(lane.capacity());
    let mut tail = tail_word.load(Acquire);
    // The budget counts lap tags loaded, not rounds: a round rescans up to `n` tags, and a
    // peer that keeps moving the index must not multiply the work by the batch size. It is
    // the caller's, shared by every step of one call (see [`Budget`]).
    while budget.scan > 0 {
        let k = match scan_free(lane, tail, n) {
            Ok(k) => {
                budget.scan = budget.scan.saturating_sub(k + 1);
                k
            }
            Err((position, seq)) => {
                budget.scan = budget
                    .scan
                    .saturating_sub(position.wrapping_sub(tail).saturating_add(1));
                // A tag from the future means our tail is stale; an unchanged tail means the
                // tag is corrupt.
                let now = tail_word.load(Acquire);
                if now == tail {
                    return Err(Shortfall::Corrupt(Corruption::SlotSequence {
                        position,
                        seq,
                    }));
                }
                tail = now;
                continue;
            }
        };
        if k == 0 || (exact && k < n) {
            return Err(Shortfall::Short { have: k });
        }
        // R2: record the span before trying to take it.
        if let Some(i) = &intent {
            i.span(tail, k);
        }
        match tail_word.compare_exchange_weak(tail, tail.wrapping_add(k), AcqRel, Acquire) {
            Ok(_) => {
                let span = Span::ring(tail, k);
                verify_owned(lane, span, 0, &mut budget.retry)?;
                return Ok(span);
            }
            Err(now) => tail = now,
        }
    }
    Err(Shortfall::Corrupt(Corruption::Livelock))
}

/// MP4: for each position, store `meta` (Relaxed; `DISCARDED` beyond `keep`) then
/// `seq = pos + 1` (Release). A multi-producer reservation is always published in full.
pub(super) fn publish_all<T>(lane: &Lane<'_, T>, span: Span, keep: u32) {
    for i in 0..span.len {
        let pos = span.at(i);
        let meta = if i < keep { 0 } else { slot_meta::DISCARDED };
        lane.slot(pos).meta.store(meta, Relaxed);
        lane.set_tag(pos, pos.wrapping_add(1));
    }
}

/// Single consumer. SC1: scan the lap tags from the private head (Acquire: the producer's
/// payload and `meta` writes happen before our reads).
pub(super) fn claim_single<T>(lane: &Lane<'_, T>, head: u32, n: u32) -> Result<Span, Shortfall> {
    let n = n.min(lane.capacity());
    let k = scan_ready(lane, head, n, false).map_err(|(position, seq)| {
        Shortfall::Corrupt(Corruption::SlotSequence { position, seq })
    })?;
    if k == 0 {
        return Err(Shortfall::Short { have: 0 });
    }
    Ok(Span::ring(head, k))
}

/// Several consumers. MC1: read `head` (Acquire), scan the lap tags from it (Acquire). MC2:
/// compare-and-swap `head` from `h` to `h + k` (AcqRel). MC3: re-check every claimed lap tag
/// reads `pos + 1` (Acquire), the ABA guard. The index orderings matter for the same reason as
/// in [`reserve_multi`]: reading `h` with Acquire brings every publication below `h` into view.
///
/// `allowed` runs after the scan and before the compare-and-swap; if it returns false the claim
/// reports nothing available (the overflow area uses it: its entries may only be taken while
/// the ring is empty, checked after their publication is in view).
pub(super) fn claim_multi<T>(
    lane: &Lane<'_, T>,
    head_word: &AtomicU32,
    n: u32,
    allowed: impl Fn() -> bool,
    budget: &mut Budget,
) -> Result<Span, Shortfall> {
    let n = n.min(lane.capacity());
    let mut head = head_word.load(Acquire);
    while budget.scan > 0 {
        let k = match scan_ready(lane, head, n, true) {
            Ok(k) => {
                budget.scan = budget.scan.saturating_sub(k + 1);
                k
            }
            Err((position, seq)) => {
                budget.scan = budget
                    .scan
                    .saturating_sub(position.wrapping_sub(head).saturating_add(1));
                let now = head_word.load(Acquire);
                if now == head {
                    return Err(Shortfall::Corrupt(Corruption::SlotSequence {
                        position,
                        seq,
                    }));
                }
                head = now;
                continue;
            }
        };
        if k == 0 || !allowed() {
            return Err(Shortfall::Short { have: 0 });
        }
        match head_word.compare_exchange_weak(head, head.wrapping_add(k), AcqRel, Acquire) {
            Ok(_) => {
                let span = Span::ring(head, k);
                verify_owned(lane, span, 1, &mut budget.retry)?;
                return Ok(span);
            }
            Err(now) => head = now,
        }
    }
    Err(Shortfall::Corrupt(Corruption::Livelock))
}

/// SC2 / MC4 (tags): for each position, store `seq = pos + capacity` (Release: our reads happen
/// before the next lap's write). A single consumer then stores its head (Release).
pub(super) fn free_slots<T>(lane: &Lane<'_, T>, span: Span) {
    let cap = lane.capacity();
    for i in 0..span.len {
        let pos = span.at(i);
        lane.set_tag(pos, pos.wrapping_add(cap));
    }
}

/// Where a new single producer starts: `tail`, moved past positions a previous producer
/// published (SP2) but died before storing `tail` for. Such a position's tag reads `pos + 1`
/// (published) or `pos + capacity` (published and already consumed). At most one lap is
/// scanned; the recovered value is stored back (Release).
pub(super) fn recover_tail<T>(
    lane: &Lane<'_, T>,
    tail_word: &AtomicU32,
) -> Result<u32, Corruption> {
    let cap = lane.capacity();
    let start = tail_word.load(Acquire);
    let mut t = start;
    for _ in 0..cap {
        let seq = lane.tag(t);
        let d = seq.wrapping_sub(t);
        if d == 1 || d == cap {
            t = t.wrapping_add(1);
            continue;
        }
        match for_producer(seq, t, cap) {
            ForProducer::Free | ForProducer::Behind => break,
            ForProducer::Other => return Err(Corruption::SlotSequence { position: t, seq }),
        }
    }
    if t != start {
        tail_word.store(t, Release);
    }
    Ok(t)
}

/// Where a new single consumer starts: `head`, moved past positions a previous consumer freed
/// (SC2) but died before storing `head` for. Such a position's tag reads `pos + capacity`
/// (freed) or `pos + capacity + 1` (freed and already republished). Entries the previous
/// consumer read but had not freed are delivered again: a consumer's death gives at-least-once
/// delivery for the entries it held.
pub(super) fn recover_head<T>(
    lane: &Lane<'_, T>,
    head_word: &AtomicU32,
) -> Result<u32, Corruption> {
    let cap = lane.capacity();
    let start = head_word.load(Acquire);
    let mut h = start;
    for _ in 0..cap {
        let seq = lane.tag(h);
        let d = seq.wrapping_sub(h);
        if d == cap || d == cap.wrapping_add(1) {
            h = h.wrapping_add(1);
            continue;
        }
        match for_consumer(seq, h, cap, false) {
            ForConsumer::Ready | ForConsumer::NotYet => break,
            ForConsumer::Other => return Err(Corruption::SlotSequence { position: h, seq }),
        }
    }
    if h != start {
        head_word.store(h, Release);
    }
    Ok(h)
}
