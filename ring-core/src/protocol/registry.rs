//! Producer records and recovery (layout 1.2, `INCOMPAT_PRODUCERS`; spec/PROTOCOL.md, section
//! "Producer records and recovery").
//!
//! In a multi-producer ring a producer that dies between reserving positions (the
//! compare-and-swap of `tail`, or of the overflow `state`) and publishing them leaves them
//! reserved and unpublished for good: consumers stop at the first of them. To make such
//! positions recoverable, every producer of a ring with producer records
//!
//! - R1. holds a record (its owner word claimed with its process id, its start time beside it)
//!   for as long as its handle lives;
//! - R2. before every reservation attempt, stores the span it is about to reserve into its
//!   record's intent for that lane (Release), so that the intent is visible to anyone who sees
//!   the compare-and-swap's result (the AcqRel compare-and-swaps of the index chain their
//!   releases), and keeps it there until its next attempt, that is until after it published
//!   the span.
//!
//! Recovery (one process at a time, under the registry's `recoverer` claim word):
//!
//! - R3. per lane, load the consumer index, then the producer index (Acquire), then every
//!   record (owner, and each intent's start before its length, Acquire), judging each owner
//!   alive or dead;
//! - R4. for each position `p` from the consumer index up to the producer index (at most a
//!   lap), load its tag (Acquire): if it reads "free for `p`" (reserved, unpublished) and no
//!   live record's intent covers `p`, its reserver is dead; publish it as discarded
//!   (`meta = DISCARDED`, then the tag from `p` to `p + 1` by compare-and-swap, Release);
//! - R5. free the records of dead owners (clear them, then release the owner word).
//!
//! Why a live producer's positions are never touched: its reservation of `p` happened before
//! recovery loaded an index at or beyond `p + 1`, and its intent covering `p` was stored before
//! that compare-and-swap, so recovery sees that intent, or a later one; a later intent is
//! stored (Release) only after `p` was published, so recovery then also sees `p`'s tag
//! published and leaves it alone.

use super::intent::Intent;
use super::{Lane, RawRing};
use crate::layout::overflow_state::TAIL_MASK;
use crate::layout::{slot_meta, ProducerRecord, RegistryLine};
use crate::sync::{
    AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

/// The producer records of a ring: the registry line and the records.
#[derive(Debug)]
pub(crate) struct Registry<'a> {
    pub(crate) line: &'a RegistryLine,
    pub(crate) records: &'a [ProducerRecord],
}

impl Clone for Registry<'_> {
    fn clone(&self) -> Self {
        *self
    }
}
impl Copy for Registry<'_> {}

/// What one recovery run did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Positions reserved by dead producers and never published, now published as discarded
    /// (ring and overflow area).
    pub positions: u32,
    /// Records of dead producers freed for new producers.
    pub records: u32,
}

/// Why recovery did not run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RecoverError {
    /// A multi-producer ring without producer records (made by layout 1.1): its producers do
    /// not record what they reserve, so nothing can be recovered safely.
    NoRecords,
    /// Another live participant is recovering right now, or (single-producer rings) a live
    /// producer holds the claim and will publish what it reserved (its process id).
    Busy {
        /// The recovering process.
        recoverer: u32,
    },
}

impl core::fmt::Display for RecoverError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RecoverError::NoRecords => {
                f.write_str("the ring has no producer records (single-producer ring or layout 1.1)")
            }
            RecoverError::Busy { recoverer } => write!(
                f,
                "process {recoverer} is recovering the ring right now, or (single-producer \
                 ring) holds the producer claim and will publish what it reserved"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RecoverError {}

/// This process's start time (see [`ProducerRecord::start_time`]), 0 if unknown.
fn my_start_time() -> u64 {
    crate::process_start_time(crate::current_pid()).unwrap_or(0)
}

/// Whether the owner of a record is alive: its process exists, is not a zombie, and (when both
/// are known) started when the record says; a start time that cannot be read counts as
/// matching (spec/LAYOUT.md, section 14). Shared with the record ring's recovery and
/// `inspect::owner_alive`.
pub(crate) fn alive(owner: u32, start_time: u64) -> bool {
    if !crate::pid_alive(owner) {
        return false;
    }
    if start_time == 0 {
        return true;
    }
    crate::process_start_time(owner).map_or(true, |t| t == start_time)
}

impl<'a> Registry<'a> {
    /// R1: claims a free record for this process; `None` when every record is taken.
    pub(crate) fn register(&self) -> Option<u32> {
        let me = crate::current_pid().max(1);
        for (i, rec) in self.records.iter().enumerate() {
            if rec.owner.load(Relaxed) != 0 {
                continue;
            }
            if rec.owner.compare_exchange(0, me, AcqRel, Relaxed).is_ok() {
                // A recovery that reads the record before these stores sees start time 0
                // ("unknown": alive while the process is) and intents 0 (nothing reserved).
                // Length 1 from the start: see `Intent::one`. Release, as every store of an
                // intent: a reader that finds the previous owner's intent gone through this
                // value must also see what that owner published before giving the record back
                // (our compare-and-swap above read its Release store of `owner`).
                rec.ring_len.store(1, Release);
                rec.overflow_len.store(1, Release);
                rec.start_time.store(my_start_time(), Release);
                return Some(i as u32);
            }
        }
        None
    }

    /// Releases the record `index` (the handle's reservations are all published by then).
    pub(crate) fn unregister(&self, index: u32) {
        if let Some(rec) = self.records.get(index as usize) {
            // Release, like every intent store: a recovery that reads these (its intent gone)
            // must also see the publications that came before them.
            rec.ring_len.store(0, Release);
            rec.overflow_len.store(0, Release);
            rec.start_time.store(0, Relaxed);
            let me = crate::current_pid().max(1);
            let _ = rec.owner.compare_exchange(me, 0, Release, Relaxed);
        }
    }

    /// The record `index`, if it exists.
    #[inline(always)]
    pub(crate) fn record(&self, index: u32) -> Option<&'a ProducerRecord> {
        self.records.get(index as usize)
    }

    /// R3 (RR3 for record rings): takes the recovery claim word (a dead holder's is taken
    /// over). Returns the token to give to [`Registry::unlock`].
    pub(crate) fn lock(&self) -> Result<u32, RecoverError> {
        let me = crate::current_pid().max(1);
        let mut expected = 0;
        for _ in 0..4 {
            match self
                .line
                .recoverer
                .compare_exchange(expected, me, AcqRel, Acquire)
            {
                Ok(_) => return Ok(me),
                Err(0) => expected = 0,
                Err(cur) if cur == me || crate::pid_alive(cur) => {
                    return Err(RecoverError::Busy { recoverer: cur })
                }
                Err(cur) => expected = cur,
            }
        }
        Err(RecoverError::Busy {
            recoverer: self.line.recoverer.load(Relaxed),
        })
    }

    /// The end of a recovery run (R5/RR5): adds what it did to the counters (`discarded`, the
    /// producer line's, and the registry's `recovered`, `reclaimed`, `recoveries`; Relaxed:
    /// statistics), then gives the recovery claim back (Release).
    pub(crate) fn unlock(&self, me: u32, done: Recovered, discarded: &AtomicU64) {
        if done.positions != 0 {
            discarded.fetch_add(u64::from(done.positions), Relaxed);
            self.line
                .recovered
                .fetch_add(u64::from(done.positions), Relaxed);
        }
        self.line
            .reclaimed
            .fetch_add(u64::from(done.records), Relaxed);
        self.line.recoveries.fetch_add(1, Relaxed);
        let _ = self
            .line
            .recoverer
            .compare_exchange(me, 0, Release, Relaxed);
    }
}

/// R3..R5 over `raw`'s ring and overflow area. `head` is the single consumer's private ring
/// head, if the caller is that consumer (it may be ahead of the shared one).
pub(crate) fn recover<T>(raw: &RawRing<'_, T>) -> Result<Recovered, RecoverError> {
    if !raw.mode.multi_producer() {
        return recover_single(raw);
    }
    let reg = raw.registry.ok_or(RecoverError::NoRecords)?;
    let me = reg.lock()?;
    let mut done = Recovered::default();
    // The ring. The consumer index first: loaded after the producer index, it could be ahead
    // of the value loaded (consumers moved on meanwhile), and the span between them would
    // then take in positions nobody has reserved yet.
    let head = raw.cons.head.load(Acquire);
    let tail = raw.prod.tail.load(Acquire);
    done.positions += recover_lane(&reg, &raw.main(), head, tail, false);
    // The overflow area.
    if let Some(o) = &raw.ovf {
        let head = o.line.head.load(Acquire);
        let tail = (o.line.state.load(Acquire) & TAIL_MASK) as u32;
        done.positions += recover_lane(&reg, &o.lane, head, tail, true);
    }
    // R5: free the records of dead owners.
    for rec in reg.records {
        let owner = rec.owner.load(Acquire);
        if owner == 0 || alive(owner, rec.start_time.load(Acquire)) {
            continue;
        }
        rec.ring_len.store(0, Release);
        rec.overflow_len.store(0, Release);
        rec.start_time.store(0, Relaxed);
        if rec
            .owner
            .compare_exchange(owner, 0, Release, Relaxed)
            .is_ok()
        {
            done.records += 1;
            // E3 for the dead owner: it joined before it registered (1.3), so it leaves now.
            if raw.stream && super::stream::leave(&raw.prod.stream, false) {
                if let Some(w) = raw.wait {
                    let no_eventfd = core::sync::atomic::AtomicI32::new(-1);
                    super::wait::wake(w, &no_eventfd, u32::MAX);
                }
            }
        }
    }
    reg.unlock(me, done, &raw.prod.discarded);
    Ok(done)
}

/// R3/R4 on one lane, whose consumer index is `head` and producer index (loaded after it,
/// Acquire) `tail`; `overflow` says which lane's intents apply.
fn recover_lane<T>(
    reg: &Registry<'_>,
    lane: &Lane<'_, T>,
    head: u32,
    tail: u32,
    overflow: bool,
) -> u32 {
    let reserved = tail.wrapping_sub(head);
    if reserved == 0 || reserved > lane.capacity() {
        // Nothing reserved, or indices no honest ring can have: touch nothing.
        return 0;
    }
    // R3: the live records' intents, read after the producer index.
    let mut n = 0;
    for i in 0..reserved {
        let pos = head.wrapping_add(i);
        // R4: only a reserved position whose tag still says "free for it".
        if lane.tag(pos) != pos {
            continue;
        }
        if reg
            .records
            .iter()
            .any(|rec| live_covers(rec, overflow, pos))
        {
            continue;
        }
        // The intents were read after the tag here; read the tag again after them (see the
        // module docs): still "free" means its reserver is dead.
        if lane.tag(pos) != pos {
            continue;
        }
        lane.slot(pos).meta.store(slot_meta::DISCARDED, Relaxed);
        if lane.cas_tag(pos, pos, pos.wrapping_add(1)) {
            n += 1;
        }
    }
    n
}

/// Whether `rec` belongs to a live producer whose intent (picked by `intent`) covers `pos`.
fn live_covers(rec: &ProducerRecord, overflow: bool, pos: u32) -> bool {
    let owner = rec.owner.load(Acquire);
    if owner == 0 {
        return false;
    }
    let intent = if overflow {
        Intent::overflow(rec)
    } else {
        Intent::ring(rec)
    };
    intent.covers(pos) && alive(owner, rec.start_time.load(Acquire))
}

/// Recovery of a single-producer ring: only the overflow area can hold a dead producer's
/// unpublished reservations (O7). Take the producer claim (taken over from a dead holder; a
/// live holder answers `Busy`), publish them as discarded, give the claim back.
fn recover_single<T>(raw: &RawRing<'_, T>) -> Result<Recovered, RecoverError> {
    let Some(o) = &raw.ovf else {
        return Ok(Recovered::default());
    };
    let token = crate::protocol::claim::claim(&raw.prod.owner, crate::error::Side::Producer)
        .map_err(|e| match e {
            crate::error::ClaimError::Busy { owner, .. } => RecoverError::Busy { recoverer: owner },
            _ => RecoverError::Busy { recoverer: 0 },
        })?;
    let n = super::overflow::discard_orphans(o);
    if n != 0 {
        raw.prod.discarded.fetch_add(u64::from(n), Relaxed);
    }
    crate::protocol::claim::unclaim(&raw.prod.owner, token);
    Ok(Recovered {
        positions: n,
        records: 0,
    })
}
