//! Dead MPSC record producers (spec/RECORDS.md, section 7.2): producer records with byte-span
//! intents, and recovery of the record a dead producer reserved and never committed.
//!
//! Every MPSC producer holds a record of the producer-records block (LAYOUT.md, section 14) and
//! stores, before every compare-and-swap of `tail`, the span it is about to reserve: `ring_len
//! = need` then `ring_start = t` (Release each). Recovery walks the records from `head` to
//! `tail`; at a pending record (header zero, or BUSY with its own position) that no live
//! producer's intent covers, the reserver is dead: recovery commits the record as discarded
//! (and the padding record before it, if that was not written), so that the consumer moves on.

use super::layout::*;
use super::RawRecords;
use crate::protocol::registry::{alive, RecoverError, Recovered, Registry};
use crate::sync::Ordering::{Acquire, Relaxed, Release};

/// One record as recovery reads it: each intent's start before its length (Acquire), then the
/// owner.
#[derive(Copy, Clone, Debug)]
struct Seen {
    owner: u32,
    alive: bool,
    /// The data area intent (start, length).
    ring: (u32, u32),
    /// The overflow intent (start, length).
    ovf: (u32, u32),
}

impl Seen {
    fn intent(&self, overflow: bool) -> (u32, u32) {
        if overflow {
            self.ovf
        } else {
            self.ring
        }
    }
}

fn covers(s: &Seen, pos: u32, overflow: bool) -> bool {
    let (start, len) = s.intent(overflow);
    s.owner != 0 && pos.wrapping_sub(start) < len
}

/// Where a lane's walk started and stopped: a dead record whose intent reaches into
/// `[stop, tail)` keeps its intent (a later run needs it).
#[derive(Copy, Clone, Debug)]
struct Walked {
    stop: u32,
    tail: u32,
}

impl Walked {
    /// Whether the intent `(start, len)` may still name pending bytes the walk did not reach.
    fn needs(&self, (start, len): (u32, u32)) -> bool {
        let left = self.tail.wrapping_sub(self.stop);
        let ahead = start.wrapping_sub(self.stop);
        left != 0 && len != 0 && (ahead < left || self.stop.wrapping_sub(start) < len)
    }
}

/// RR3-RR5: recovers the records dead MPSC producers reserved and never committed, then frees
/// their producer records.
pub(crate) fn recover(raw: &RawRecords<'_>) -> Result<Recovered, RecoverError> {
    let reg = raw.registry.ok_or(RecoverError::NoRecords)?;
    let me = reg.lock()?;
    let mut done = Recovered::default();
    // RR4 over the data area (MPSC: an SPSC data area never holds a pending record), then the
    // overflow area.
    let main = if raw.mode == crate::protocol::Mode::Mpsc {
        let head = raw.cons.head.load(Acquire);
        let tail = tail_pos(raw.prod.tail.load(Acquire));
        Some(walk(raw.area, head, tail, &reg, false, &mut done))
    } else {
        None
    };
    let ovf = raw.overflow.map(|o| {
        let head = o.line.head.load(Acquire);
        let tail = tail_pos(o.line.state.load(Acquire));
        walk(o.area, head, tail, &reg, true, &mut done)
    });
    // RR5: free the records of dead owners.
    for r in reg.records {
        let owner = r.owner.load(Acquire);
        if owner == 0 || alive(owner, r.start_time.load(Acquire)) {
            continue;
        }
        let ring = (r.ring_start.load(Acquire), r.ring_len.load(Acquire));
        let ovfi = (r.overflow_start.load(Acquire), r.overflow_len.load(Acquire));
        if main.is_some_and(|w| w.needs(ring)) || ovf.is_some_and(|w| w.needs(ovfi)) {
            continue; // Its span may still be pending beyond where the walk stopped.
        }
        // Release: a consumer that reads the intent gone (section 7.3) also sees the
        // discarded records committed above.
        r.ring_len.store(0, Release);
        r.overflow_len.store(0, Release);
        r.start_time.store(0, Relaxed);
        if r.owner.compare_exchange(owner, 0, Release, Relaxed).is_ok() {
            done.records += 1;
        }
    }
    reg.unlock(me, done, &raw.prod.discarded);
    Ok(done)
}

/// RR4 over one lane (`area` with the positions `head` then `tail`, loaded in that order with
/// Acquire): commits as discarded every pending record no live producer's intent covers.
fn walk(
    area: Area<'_>,
    head: u32,
    tail: u32,
    reg: &Registry<'_>,
    overflow: bool,
    done: &mut Recovered,
) -> Walked {
    let cap = area.capacity();
    // The records, read once per lane at its first pending record: after this lane's
    // positions, so that every reservation below `tail` has its intent among them.
    let mut seen: Option<alloc::vec::Vec<Seen>> = None;
    // Where the walk stopped: a dead record whose intent reaches into `[stop, tail)` keeps its
    // intent (a later run needs it), so RR5 does not free it.
    let mut stop = tail;
    if tail.wrapping_sub(head) <= cap && head % RECORD_ALIGN == 0 && tail % RECORD_ALIGN == 0 {
        let mut p = head;
        // Each step moves at least 8 bytes forward, never past `tail`; a header that keeps
        // changing under us (a hostile peer) costs a step too.
        let mut steps = 0u32;
        while p != tail && steps <= cap / RECORD_ALIGN + 64 {
            steps += 1;
            let w = area.header(p).load(Acquire);
            let pending = w == 0 || (header_seq(w) == p && w & BUSY != 0);
            if !pending {
                let size = record_size(header_len(w));
                let off = area.offset(p);
                if header_seq(w) != p
                    || header_type(w) == record_type::NONE
                    || size > tail.wrapping_sub(p)
                    || off + size > cap
                {
                    break; // Invalid: the consumer reports it; recovery stops.
                }
                p = p.wrapping_add(size);
                continue;
            }
            let records = seen.get_or_insert_with(|| {
                reg.records
                    .iter()
                    .map(|r| {
                        let rs = r.ring_start.load(Acquire);
                        let rl = r.ring_len.load(Acquire);
                        let os = r.overflow_start.load(Acquire);
                        let ol = r.overflow_len.load(Acquire);
                        let owner = r.owner.load(Acquire);
                        let st = r.start_time.load(Acquire);
                        Seen {
                            owner,
                            alive: owner != 0 && alive(owner, st),
                            ring: (rs, rl),
                            ovf: (os, ol),
                        }
                    })
                    .collect()
            });
            if records.iter().any(|s| s.alive && covers(s, p, overflow)) {
                // A live producer is writing it: skip it if its length is known, else stop.
                if w != 0 {
                    let size = record_size(header_len(w));
                    if size <= tail.wrapping_sub(p) && area.offset(p) + size <= cap {
                        p = p.wrapping_add(size);
                        continue;
                    }
                }
                break;
            }
            // No live producer covers `p`: its reserver is dead. The span it reserved: from the
            // dead intents covering `p`, which must agree.
            let mut span: Option<(u32, u32)> = None;
            let mut ambiguous = false;
            for s in records
                .iter()
                .filter(|s| !s.alive && covers(s, p, overflow))
            {
                match span {
                    None => span = Some(s.intent(overflow)),
                    Some(x) if x == s.intent(overflow) => {}
                    Some(_) => ambiguous = true,
                }
            }
            let end = match (span, ambiguous) {
                (Some((s, n)), false) => s.wrapping_add(n),
                _ if w != 0 => p.wrapping_add(record_size(header_len(w))),
                _ => break,
            };
            let bytes = end.wrapping_sub(p);
            if bytes < RECORD_HEADER_LEN
                || bytes > tail.wrapping_sub(p)
                || bytes % RECORD_ALIGN != 0
            {
                break;
            }
            // The record part never crosses the end: if the span does, it starts with the
            // padding record its producer did not write.
            let off = area.offset(p);
            let (pad, rec_at) = if off + bytes > cap {
                (cap - off, p.wrapping_add(cap - off))
            } else {
                (0, p)
            };
            let rec_len = bytes - pad - RECORD_HEADER_LEN;
            if pad != 0 && (pad < RECORD_HEADER_LEN || bytes - pad < RECORD_HEADER_LEN) {
                break;
            }
            // Re-check the header (a live producer's publication is seen by now, see the spec),
            // then commit the record as discarded before the padding record that leads to it.
            let now = area.header(p).load(Acquire);
            if now != w {
                continue; // Changed: look at it again.
            }
            let discard = header(rec_at, rec_len, record_type::DATA, DISCARD);
            if pad == 0 {
                if area
                    .header(p)
                    .compare_exchange(w, discard, Release, Relaxed)
                    .is_err()
                {
                    continue;
                }
            } else {
                // The record part's word must still be 0 (its producer died before MR3): a
                // compare-and-swap, so that a word someone else wrote meanwhile is left alone.
                if area
                    .header(rec_at)
                    .compare_exchange(0, discard, Release, Relaxed)
                    .is_err()
                {
                    break;
                }
                let padw = header(p, pad - RECORD_HEADER_LEN, record_type::PAD, 0);
                if area
                    .header(p)
                    .compare_exchange(w, padw, Release, Relaxed)
                    .is_err()
                {
                    continue;
                }
            }
            done.positions += 1;
            p = end;
        }
        stop = p;
    }
    Walked { stop, tail }
}
