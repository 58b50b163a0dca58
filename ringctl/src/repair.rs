//! `repair`: what can be put right in a ring whose participants died, through ring-core's
//! public API.
//!
//! - **Positions dead producers reserved and never published** (multi-producer rings with
//!   producer records, and single-producer rings with an overflow area): [`Ring::recover`]
//!   publishes them as discarded and frees the dead producers' records.
//! - **A dead single-consumer claim** (SPSC, MPSC): taken over with [`Ring::consumer`], which
//!   also moves the shared head past what the dead consumer finished, then given back.
//! - **A dead single-producer claim** (SPSC, SPMC): given back by a compare-and-swap of the
//!   claim word from the dead process's id to 0, which is what a successor's takeover and
//!   release amount to (the next producer starts from the shared tail, recovering it from the
//!   lap tags in SPMC, whether the word was free or dead). No producer handle is made, so
//!   nothing a producer does when its handle drops happens here.
//! - **Record rings** (spec/RECORDS.md): the same four repairs through `RecordRing`:
//!   [`RecordRing::recover`] for records dead producers reserved and never committed (MPSC
//!   rings, and the overflow area of SPSC rings that have one; an SPSC data area never holds
//!   one), a consumer handle for a dead consumer claim, a compare-and-swap for a dead SPSC
//!   producer claim (after recovery, which the successor of that claim would otherwise run),
//!   and the waiter count. Recovery cannot apply to an SPSC ring without an overflow area (no
//!   producer records, and nothing a dead producer leaves pending there): only its claims are
//!   repaired.
//! - **The waiter count of dead sleepers**: the wait line's `waiters` word counts sleepers
//!   without naming them (spec/PROTOCOL.md, 19.8: a consumer killed while asleep leaves it one
//!   too high, and every producer then makes a wake-up system call per publication). Only in
//!   single-consumer modes can a dead sleeper be told from a live one: while this process holds
//!   the consumer claim no other consumer exists, so every announcement in the word is a dead
//!   one, and it is reset to 0. In multi-consumer modes consumers are not recorded, and the
//!   count is left alone (resetting it could leave a live sleeper asleep until its timeout).

use crate::report::mode_name;
use ring_core::inspect::owner_alive;
use ring_core::layout::entry_format;
use ring_core::record::layout::RecordProducerLine;
use ring_core::record::RecordRing;
use ring_core::{Completion, Entry, Memory, Mode, RecoverError, Region, Ring};
use serde::Serialize;
use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

/// What `repair` did and what it left alone.
#[derive(Debug, Default, Serialize)]
pub struct RepairReport {
    /// The ring file.
    pub path: String,
    /// Its mode.
    pub mode: &'static str,
    /// What was changed.
    pub actions: Vec<String>,
    /// What was looked at and left as it was, and why.
    pub notes: Vec<String>,
}

/// Opens `path` read-write and repairs it.
pub fn repair(path: &Path) -> Result<RepairReport, String> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("{}: cannot open it read-write: {e}", path.display()))?;
    if !file.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Err(format!("{}: not a regular file", path.display()));
    }
    let region = Region::from_fd(OwnedFd::from(file))
        .map_err(|e| format!("{}: cannot map it: {e}", path.display()))?;
    // Read the entry description with the same checks as the read-only commands.
    let raw = region.raw();
    let ptr = std::ptr::NonNull::new(raw.as_ptr()).ok_or("mapping at address 0")?;
    // SAFETY: `region` keeps the mapping alive while `view` is used (this function).
    let ro = unsafe { ring_core::inspect::ReadOnlyRegion::new(ptr, raw.len()) };
    let view = ring_core::inspect::inspect(&ro)
        .map_err(|e| format!("{}: not a valid ring: {e}", path.display()))?;
    let h = *view.header();
    if view.unknown_incompat() != 0 {
        return Err(format!(
            "{}: incompat bits {:#x} are unknown to this ringctl's ring-core: refusing to write",
            path.display(),
            view.unknown_incompat()
        ));
    }
    let report = RepairReport {
        path: path.display().to_string(),
        mode: mode_name(h.mode),
        ..Default::default()
    };
    if view.records().is_some() {
        return repair_records(region, report);
    }
    let (fmt, size, align) = (h.entry_format, h.entry_size, h.entry_align);
    macro_rules! try_types {
        ($($t:ty),* $(,)?) => {
            $(
                if fmt == <$t as Entry>::FORMAT
                    && size as usize == std::mem::size_of::<$t>()
                    && align as usize == std::mem::align_of::<$t>()
                {
                    return repair_typed::<$t>(region, report);
                }
            )*
        };
    }
    if fmt == entry_format::COMPLETION_V1 {
        try_types!(Completion);
    } else if fmt == entry_format::OPAQUE {
        try_types!(
            u8, [u8; 2], [u8; 3], [u8; 4], [u8; 5], [u8; 6], [u8; 7], [u8; 8], [u8; 12], [u8; 16],
            [u8; 24], [u8; 32], [u8; 64], u16, [u16; 3], [u16; 5], [u16; 6], [u16; 7], [u16; 12],
            u32, [u32; 2], [u32; 3], [u32; 4], [u32; 5], [u32; 6], [u32; 7], [u32; 8], [u32; 9],
            [u32; 10], [u32; 11], [u32; 12], [u32; 13], [u32; 14], [u32; 15], [u32; 16], u64,
            [u64; 2], [u64; 3], [u64; 4], [u64; 5], [u64; 6], [u64; 7], [u64; 8], [u64; 16], u128,
            [u128; 2], [u128; 3], [u128; 4],
        );
    }
    Err(format!(
        "{}: entries of format {fmt}, {size} bytes with alignment {align} are not among the \
         types ringctl can attach with (the completion format; opaque entries of up to 16 \
         4-byte, 16 8-byte or 4 16-byte words, and common byte sizes); nothing was changed",
        path.display()
    ))
}

fn repair_typed<T: Entry>(
    region: Region,
    mut report: RepairReport,
) -> Result<RepairReport, String> {
    let path = report.path.clone();
    let ring = Ring::<T>::attach(region).map_err(|e| format!("{path}: cannot attach: {e}"))?;
    let mode = ring.mode();
    // Producer side.
    if mode.multi_producer() {
        match ring.recover() {
            Ok(r) => report.actions.push(format!(
                "recovery ran: {} positions reserved by dead producers published as discarded, \
                 {} producer records of dead processes freed",
                r.positions, r.records
            )),
            Err(RecoverError::NoRecords) => report.notes.push(
                "no producer records (a layout 1.1 ring): positions of dead producers cannot be \
                 recovered"
                    .into(),
            ),
            Err(e) => report.notes.push(format!("recovery did not run: {e}")),
        }
    } else {
        let line = ring.lines().producer_line();
        let owner = line.owner.load(Acquire);
        if owner != 0 && !owner_alive(owner, 0) {
            match line.owner.compare_exchange(owner, 0, AcqRel, Relaxed) {
                Ok(_) => report.actions.push(format!(
                    "released the producer claim of dead process {owner}"
                )),
                Err(now) => report.notes.push(format!(
                    "the producer claim changed from {owner} to {now} meanwhile; left alone"
                )),
            }
        } else if owner != 0 {
            report
                .notes
                .push(format!("producer claim held by live process {owner}"));
        }
        if ring.geometry().overflow_capacity != 0 {
            match ring.recover() {
                Ok(r) => report.actions.push(format!(
                    "overflow recovery ran: {} positions a dead producer reserved published as \
                     discarded",
                    r.positions
                )),
                Err(e) => report
                    .notes
                    .push(format!("overflow recovery did not run: {e}")),
            }
        }
    }
    // Consumer side.
    let waiters_of = |ring: &Ring<T>| {
        ring.lines()
            .wait_line()
            .map_or(0, |w| w.waiters.load(Acquire))
    };
    if mode.multi_consumer() {
        let waiters = waiters_of(&ring);
        if waiters != 0 {
            report.notes.push(format!(
                "{} consumers announced as sleeping; several consumers are allowed and are not \
                 recorded, so dead sleepers cannot be told from live ones: waiter count left \
                 as it is",
                (waiters & 0xffff) + (waiters >> 16)
            ));
        }
    } else {
        let owner = ring.lines().consumer_line().owner.load(Acquire);
        let dead_claim = owner != 0 && !owner_alive(owner, 0);
        let waiters = waiters_of(&ring);
        if owner != 0 && !dead_claim {
            report.notes.push(format!(
                "consumer claim held by live process {owner}: left alone{}",
                if waiters != 0 {
                    " (and so is the waiter count: that consumer may be asleep)"
                } else {
                    ""
                }
            ));
        } else if dead_claim || waiters != 0 {
            match ring.consumer() {
                Ok(consumer) => {
                    if dead_claim {
                        report.actions.push(format!(
                            "took over the consumer claim of dead process {owner} (the shared \
                             head moved past what it had finished) and released it"
                        ));
                    }
                    // This process holds the only consumer claim: every announcement left in
                    // `waiters` belongs to a consumer that is gone.
                    if let Some(w) = ring.lines().wait_line() {
                        let old = w.waiters.swap(0, AcqRel);
                        if old != 0 {
                            report.actions.push(format!(
                                "reset the waiter count of dead sleepers: {} on the futex, {} on \
                                 an eventfd, now 0",
                                old & 0xffff,
                                old >> 16
                            ));
                        }
                    }
                    drop(consumer);
                }
                Err(e) => report
                    .notes
                    .push(format!("could not take the consumer claim: {e}")),
            }
        }
    }
    if report.actions.is_empty() {
        report.notes.push("nothing to repair".into());
    }
    Ok(report)
}

/// `repair` of a record ring (spec/RECORDS.md): recovery of dead producers (7.2, 13.5), the
/// claims of dead single participants, the waiter count of dead sleepers.
fn repair_records(region: Region, mut report: RepairReport) -> Result<RepairReport, String> {
    let path = report.path.clone();
    let ring = RecordRing::attach(region).map_err(|e| format!("{path}: cannot attach: {e}"))?;
    let geo = *ring.geometry();
    let base = ring.memory().as_ptr();
    // SAFETY: attach validated the record producer line and the consumer line inside the
    // mapped region (128-byte aligned, of their lengths); `ring` keeps the mapping alive for
    // as long as these references are used (this function); both structs are all atomics.
    let (prod, cons) = unsafe {
        (
            &*(base.add(geo.producer_offset as usize) as *const RecordProducerLine),
            &*(base.add(geo.consumer_offset as usize) as *const ring_core::layout::ConsumerLine),
        )
    };
    // SAFETY: as above, for the wait line when attach found one.
    let wait = geo
        .wait_offset
        .map(|o| unsafe { &*(base.add(o as usize) as *const ring_core::layout::WaitLine) });

    // Producer side: recovery first (an SPSC producer's successor would run it before its
    // first reservation), then the SPSC producer claim.
    let recoverable = geo.mode == Mode::Mpsc || geo.overflow_capacity != 0;
    if recoverable {
        let what = if geo.mode == Mode::Mpsc {
            "recovery ran"
        } else {
            "overflow recovery ran"
        };
        match ring.recover() {
            Ok(r) => report.actions.push(format!(
                "{what}: {} records reserved by dead producers and never committed, committed \
                 as discarded; {} producer records of dead processes freed",
                r.positions, r.records
            )),
            Err(RecoverError::NoRecords) => report
                .notes
                .push("no producer records: records of dead producers cannot be recovered".into()),
            Err(e) => report.notes.push(format!("recovery did not run: {e}")),
        }
    } else {
        report.notes.push(
            "an SPSC record ring without an overflow area: no producer records, and a dead \
             producer leaves nothing pending (its tail moves only when a record is committed), \
             so there is nothing to recover"
                .into(),
        );
    }
    if geo.mode == Mode::Spsc {
        let owner = prod.owner.load(Acquire);
        if owner != 0 && !owner_alive(owner, 0) {
            match prod.owner.compare_exchange(owner, 0, AcqRel, Relaxed) {
                Ok(_) => report.actions.push(format!(
                    "released the producer claim of dead process {owner}"
                )),
                Err(now) => report.notes.push(format!(
                    "the producer claim changed from {owner} to {now} meanwhile; left alone"
                )),
            }
        } else if owner != 0 {
            report
                .notes
                .push(format!("producer claim held by live process {owner}"));
        }
    }

    // Consumer side (a single consumer in both modes).
    let owner = cons.owner.load(Acquire);
    let dead_claim = owner != 0 && !owner_alive(owner, 0);
    let waiters = wait.map_or(0, |w| w.waiters.load(Acquire));
    if owner != 0 && !dead_claim {
        report.notes.push(format!(
            "consumer claim held by live process {owner}: left alone{}",
            if waiters != 0 {
                " (and so is the waiter count: that consumer may be asleep)"
            } else {
                ""
            }
        ));
    } else if dead_claim || waiters != 0 {
        match ring.consumer() {
            Ok(consumer) => {
                if dead_claim {
                    report.actions.push(format!(
                        "took over the consumer claim of dead process {owner} and released it \
                         (the next consumer steps over records it had released without storing \
                         head, RECORDS.md 7.3)"
                    ));
                }
                // This process holds the only consumer claim: every announcement left in
                // `waiters` belongs to a consumer that is gone.
                if let Some(w) = wait {
                    let old = w.waiters.swap(0, AcqRel);
                    if old != 0 {
                        report.actions.push(format!(
                            "reset the waiter count of dead sleepers: {} on the futex, {} on an \
                             eventfd, now 0",
                            old & 0xffff,
                            old >> 16
                        ));
                    }
                }
                drop(consumer);
            }
            Err(e) => report
                .notes
                .push(format!("could not take the consumer claim: {e}")),
        }
    }
    if report.actions.is_empty() {
        report.notes.push("nothing to repair".into());
    }
    Ok(report)
}
