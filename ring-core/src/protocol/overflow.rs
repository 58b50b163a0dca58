//! The overflow area: where entries go when the ring is full, and how they come back out in
//! order (spec/PROTOCOL.md, "Overflow").
//!
//! The overflow area is a second lane of slots with lap tags (biased, so zeroed memory is its
//! initial state) and its own indices. Its tail shares one word, `state`, with the `ACTIVE`
//! flag, which is the heart of the ordering argument:
//!
//! - O1. A producer reads `state` (Acquire). While `ACTIVE` is clear it uses the ring.
//! - O2. If the ring is full, or `ACTIVE` is set, it reserves overflow positions: it scans their
//!   lap tags from the tail in `state` and compare-and-swaps `state` to `ACTIVE | tail + k`
//!   (AcqRel). That one word both reserves and (if needed) activates, so once a producer has
//!   put an entry in the overflow area, `ACTIVE` stays set at least until that entry has been
//!   claimed; every later entry of that producer goes to the overflow area behind it.
//! - O3. After the compare-and-swap the owned tags are re-checked (the ABA guard, as MP3), the
//!   entries written, and each tag published with a Release store (as MP4).
//! - O4. A consumer takes overflow entries only when the ring is empty in the strong sense
//!   `tail == head` (nothing reserved and unclaimed), checked *after* the lap tags of the
//!   overflow entries it is about to claim were read with Acquire. Any ring entry pushed by the
//!   same producer before an overflow entry was reserved, hence visible once that entry's
//!   publication is, and it keeps `tail != head` until claimed: ring entries of a producer are
//!   always taken before its later overflow entries.
//! - O5. Claims and releases follow SC1/SC2 (single consumer, private head, stored after the
//!   tags) or MC1..MC4 (several consumers, compare-and-swap of the overflow head).
//! - O6. A consumer that finds the overflow area drained (`tail in state == head`, all reserved
//!   positions claimed) clears `ACTIVE` with a compare-and-swap of `state`; a producer's
//!   reservation in between changes `state`, so the clear fails and the area stays active.
//!
//! Producers that read `ACTIVE` clear just before another producer activated the area may still
//! put one entry each in the ring ("stragglers"); O4 makes consumers take those first, and each
//! straggler's next entry goes to the overflow area.

use super::lap;
use super::{ConsumerCursor, Overflow, Place, ProducerCursor, RawRing, Shortfall, Span};
use crate::error::Corruption;
use crate::layout::overflow_state::{ACTIVE, TAIL_MASK};
use crate::sync::Ordering::{AcqRel, Acquire, Relaxed, Release};

/// O1..O3: reserve up to `n` positions (exactly `n` or none when `exact`) in the ring while the
/// overflow area is inactive and the ring has room, otherwise in the overflow area.
pub(super) fn reserve<T>(
    ring: &RawRing<'_, T>,
    o: &Overflow<'_, T>,
    cur: &mut ProducerCursor,
    n: u32,
    exact: bool,
    budget: &mut lap::Budget,
) -> Result<Span, Shortfall> {
    if n == 0 {
        return Err(Shortfall::Short { have: 0 });
    }
    let cap = o.lane.capacity();
    let mut state = o.line.state.load(Acquire);
    while budget.scan > 0 {
        budget.scan -= 1;
        if state & ACTIVE == 0 {
            // O1: inactive: the ring first.
            match ring.reserve_ring(cur, n, exact, budget) {
                Err(Shortfall::Short { .. }) => {}
                other => return other,
            }
        }
        // O2: spill (activating if needed).
        if exact && n > cap {
            return Err(Shortfall::Short { have: 0 });
        }
        let want = n.min(cap);
        let tail = (state & TAIL_MASK) as u32;
        let k = match lap::scan_free(&o.lane, tail, want) {
            Ok(k) => k,
            Err((position, seq)) => {
                budget.scan = budget
                    .scan
                    .saturating_sub(position.wrapping_sub(tail).saturating_add(1));
                let now = o.line.state.load(Acquire);
                if now == state {
                    return Err(Shortfall::Corrupt(Corruption::SlotSequence {
                        position,
                        seq,
                    }));
                }
                state = now;
                continue;
            }
        };
        budget.scan = budget.scan.saturating_sub(k);
        if k == 0 || (exact && k < want) {
            return Err(Shortfall::Short { have: k });
        }
        let next = ACTIVE | u64::from(tail.wrapping_add(k));
        // R2 (several producers with records): record the span before trying to take it.
        if let Some(i) = ring.intent(cur, true) {
            i.span(tail, k);
        }
        match o
            .line
            .state
            .compare_exchange_weak(state, next, AcqRel, Acquire)
        {
            Ok(_) => {
                if state & ACTIVE == 0 {
                    o.line.activations.fetch_add(1, Relaxed);
                }
                // O3: the ABA guard, as MP3.
                let span = Span::overflow(tail, k);
                lap::verify_owned(&o.lane, span, 0, &mut budget.retry)?;
                return Ok(span);
            }
            Err(now) => state = now,
        }
    }
    Err(Shortfall::Corrupt(Corruption::Livelock))
}

/// O4/O5: claim up to `n` overflow entries, only while the ring is empty (`tail == head`).
/// Finding nothing, try O6.
pub(super) fn claim<T>(
    ring: &RawRing<'_, T>,
    o: &Overflow<'_, T>,
    cur: &mut ConsumerCursor,
    n: u32,
    budget: &mut lap::Budget,
) -> Result<Span, Shortfall> {
    let multi = ring.mode.multi_consumer();
    let ring_head = cur.head;
    let ring_empty = || {
        let tail = ring.prod.tail.load(Acquire);
        let head = if multi {
            ring.cons.head.load(Acquire)
        } else {
            ring_head
        };
        tail == head
    };
    let r = if multi {
        lap::claim_multi(&o.lane, &o.line.head, n, ring_empty, budget)
    } else {
        lap::claim_single(&o.lane, cur.ovf_head, n).and_then(|span| {
            if ring_empty() {
                Ok(span)
            } else {
                Err(Shortfall::Short { have: 0 })
            }
        })
    };
    match r {
        Ok(span) => Ok(Span {
            place: Place::Overflow,
            ..span
        }),
        Err(Shortfall::Short { .. }) => {
            try_deactivate(o, if multi { None } else { Some(cur.ovf_head) });
            Err(Shortfall::Short { have: 0 })
        }
        Err(c) => Err(c),
    }
}

/// O6: clear `ACTIVE` if every reserved overflow position has been claimed. `head` is the
/// single consumer's private overflow head, or `None` to read the shared one.
fn try_deactivate<T>(o: &Overflow<'_, T>, head: Option<u32>) {
    let state = o.line.state.load(Acquire);
    if state & ACTIVE == 0 {
        return;
    }
    let head = head.unwrap_or_else(|| o.line.head.load(Acquire));
    if (state & TAIL_MASK) as u32 == head {
        // Fails (and leaves the area active) if a producer reserved in the meantime.
        let _ = o
            .line
            .state
            .compare_exchange(state, state & !ACTIVE, AcqRel, Relaxed);
    }
}

/// O5: free the tags (Release); a single consumer then stores its overflow head (Release).
pub(super) fn release<T>(
    ring: &RawRing<'_, T>,
    o: &Overflow<'_, T>,
    cur: &mut ConsumerCursor,
    span: Span,
) {
    lap::free_slots(&o.lane, span);
    if !ring.mode.multi_consumer() {
        debug_assert_eq!(span.start, cur.ovf_head);
        cur.ovf_head = span.start.wrapping_add(span.len);
        o.line.head.store(cur.ovf_head, Release);
    }
}

/// O7 (single producer, at handle creation): publish as discarded every overflow position that
/// is reserved (between the overflow head and tail) but still unpublished (its tag reads
/// "free" for it). With one producer, such positions can only be a previous producer's that
/// died between O2 and O3: nobody else will ever publish them. Each is published as MP4
/// publishes a discarded position (`meta = DISCARDED`, Relaxed; then the tag, with a
/// compare-and-swap from "free" to "published", Release), so consumers consume it and reach
/// what follows. At most one lap of the overflow area is examined. Returns how many were
/// published.
pub(crate) fn discard_orphans<T>(o: &Overflow<'_, T>) -> u32 {
    let cap = o.lane.capacity();
    let head = o.line.head.load(Acquire);
    let tail = (o.line.state.load(Acquire) & TAIL_MASK) as u32;
    let reserved = tail.wrapping_sub(head).min(cap);
    let mut n = 0;
    for i in 0..reserved {
        let pos = head.wrapping_add(i);
        if o.lane.tag(pos) != pos {
            continue;
        }
        o.lane
            .slot(pos)
            .meta
            .store(crate::layout::slot_meta::DISCARDED, Relaxed);
        if o.lane.cas_tag(pos, pos, pos.wrapping_add(1)) {
            n += 1;
        }
    }
    n
}
