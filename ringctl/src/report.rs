//! What `list` and `inspect` show: a report built from a read-only view, printed for people
//! or serialised as JSON.

use crate::ringfile::{display_name, RingFile};
use ring_core::inspect::{owner_alive, Inspection};
use ring_core::layout::{entry_format, features, wait_flags, Block};
use ring_core::Mode;
use serde::Serialize;
use std::fmt::Write as _;

/// Layout 1.3: `incompat` bit 3, the producer line's `stream` word is live.
pub use ring_core::layout::features::INCOMPAT_STREAM;
/// Layout 1.3: `incompat` bit 4, the wait line's `wake_target` word is live.
pub use ring_core::layout::features::INCOMPAT_WAIT_TARGET;
use ring_core::layout::stream::{
    CLOSED as STREAM_CLOSED, CLOSE_REQUESTED as STREAM_CLOSE_REQUESTED,
    PRODUCERS_MASK as STREAM_JOINED_MASK,
};
use ring_core::layout::wake_target::ARMED as WAKE_TARGET_ARMED;
use ring_core::layout::{ProducerLine, WaitLine};
use ring_core::record::layout::{
    INCOMPAT_RECORDS, INCOMPAT_RECORD_OVERFLOW, INCOMPAT_RELEASE_END, RECORDS_V1,
};
/// Offset of the `stream` word (u32) in the producer line.
const STREAM_OFFSET: u64 = core::mem::offset_of!(ProducerLine, stream) as u64;
/// Offset of the `wake_target` word (u64) in the wait line.
const WAKE_TARGET_OFFSET: u64 = core::mem::offset_of!(WaitLine, wake_target) as u64;

/// A process id named in the ring, and whether it is alive.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Pid {
    /// The process id.
    pub pid: u32,
    /// Whether it is alive (ring-core's rule: exists, not a zombie, same start time).
    pub alive: bool,
}

impl Pid {
    fn of(pid: u32, start_time: u64) -> Option<Pid> {
        (pid != 0).then(|| Pid {
            pid,
            alive: owner_alive(pid, start_time),
        })
    }

    fn show(p: &Option<Pid>) -> String {
        match p {
            None => "-".into(),
            Some(p) if p.alive => p.pid.to_string(),
            Some(p) => format!("{}:dead", p.pid),
        }
    }
}

/// A row of the block table.
#[derive(Clone, Debug, Serialize)]
pub struct BlockReport {
    /// Row index.
    pub row: usize,
    /// Block name.
    pub name: &'static str,
    /// Offset in bytes.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// The producer line.
#[derive(Clone, Debug, Serialize)]
pub struct ProducerReport {
    /// Producer index (a byte position in a record ring).
    pub tail: u32,
    /// Record rings: the reservation count in the high half of the `tail` word (MPSC
    /// reservations made, wrapping). `None` for fixed-entry rings.
    pub reservations: Option<u32>,
    /// Single-producer claim (`None`: free).
    pub claim: Option<Pid>,
    /// Refusal episodes.
    pub full_refusals: u64,
    /// Positions published as discarded.
    pub discarded: u64,
    /// The layout 1.3 `stream` word (`None`: the ring has no `INCOMPAT_STREAM`).
    pub stream: Option<StreamReport>,
}

/// The layout 1.3 `stream` word.
#[derive(Clone, Debug, Serialize)]
pub struct StreamReport {
    /// The raw word.
    pub word: u32,
    /// Bit 31.
    pub closed: bool,
    /// Bit 30.
    pub close_requested: bool,
    /// Bits 0..16.
    pub producers_joined: u32,
}

/// The consumer line.
#[derive(Clone, Debug, Serialize)]
pub struct ConsumerReport {
    /// Consumer index.
    pub head: u32,
    /// Single-consumer claim (`None`: free).
    pub claim: Option<Pid>,
}

/// The overflow line.
#[derive(Clone, Debug, Serialize)]
pub struct OverflowReport {
    /// Slots (bytes in a record ring).
    pub capacity: u32,
    /// `ACTIVE`.
    pub active: bool,
    /// Overflow tail.
    pub tail: u32,
    /// Overflow head.
    pub head: u32,
    /// `tail - head`.
    pub pending: u32,
    /// Entries that went through it.
    pub overflowed: u64,
    /// Activations.
    pub activations: u64,
}

/// The wait line.
#[derive(Clone, Debug, Serialize)]
pub struct WaitReport {
    /// Futex word.
    pub futex: u32,
    /// Consumers announced on the futex.
    pub futex_waiters: u32,
    /// Consumers announced on the eventfd.
    pub eventfd_waiters: u32,
    /// Raw flags.
    pub flags: u32,
    /// Flag names.
    pub flag_names: Vec<&'static str>,
    /// Wake-ups issued.
    pub wakeups: u64,
    /// Sleeps.
    pub sleeps: u64,
    /// The layout 1.3 `wake_target` word (`None`: no `INCOMPAT_WAIT_TARGET`).
    pub wake_target: Option<WakeTargetReport>,
}

/// The layout 1.3 `wake_target` word.
#[derive(Clone, Debug, Serialize)]
pub struct WakeTargetReport {
    /// The raw word.
    pub word: u64,
    /// Bit 32.
    pub armed: bool,
    /// Bits 0..32: the lowest position a sleeper waits for.
    pub target: u32,
}

/// The registry line.
#[derive(Clone, Debug, Serialize)]
pub struct RegistryReport {
    /// Recovery claim (`None`: nobody recovers).
    pub recoverer: Option<Pid>,
    /// Recovery runs.
    pub recoveries: u64,
    /// Positions recovery discarded.
    pub recovered: u64,
    /// Records freed.
    pub reclaimed: u64,
}

/// A held producer record.
#[derive(Clone, Debug, Serialize)]
pub struct RecordReport {
    /// Record index.
    pub index: u32,
    /// Owner.
    pub owner: Pid,
    /// Owner's start time.
    pub start_time: u64,
    /// Ring intent `[start, len]`.
    pub ring_intent: [u32; 2],
    /// Overflow intent `[start, len]`.
    pub overflow_intent: [u32; 2],
}

/// A process that the ring names, with its role.
#[derive(Clone, Debug, Serialize)]
pub struct Participant {
    /// "creator", "producer claim", "consumer claim", "recoverer", "producer record N".
    pub role: String,
    /// The process.
    #[serde(flatten)]
    pub pid: Pid,
}

/// Everything `inspect` shows.
#[derive(Clone, Debug, Serialize)]
pub struct RingReport {
    /// Name (file name under /dev/shm, else the path).
    pub name: String,
    /// The file.
    pub path: String,
    /// File length.
    pub file_len: u64,
    /// "1.2".
    pub layout: String,
    /// Header length.
    pub header_len: u32,
    /// Region length.
    pub region_len: u64,
    /// "SPSC", "MPSC", "SPMC", "MPMC".
    pub mode: &'static str,
    /// "entries" (fixed-size entries in slots) or "records" (a byte ring of variable-length
    /// records, spec/RECORDS.md: capacities, positions and fill are in bytes).
    pub kind: &'static str,
    /// Ring slots (bytes of the data area in a record ring).
    pub capacity: u32,
    /// Record rings: the largest payload a record may have. `None` for fixed-entry rings.
    pub max_record_len: Option<u32>,
    /// Entry format identifier.
    pub entry_format: u32,
    /// Its name ("opaque", "completion", "unknown").
    pub entry_format_name: &'static str,
    /// Entry size.
    pub entry_size: u32,
    /// Entry alignment.
    pub entry_align: u32,
    /// Slot stride.
    pub slot_stride: u32,
    /// Payload offset.
    pub payload_offset: u32,
    /// Initial index.
    pub initial_index: u32,
    /// Creator.
    pub creator: Option<Pid>,
    /// compat bits.
    pub compat: u64,
    /// incompat bits.
    pub incompat: u64,
    /// ro_compat bits.
    pub ro_compat: u64,
    /// Names of the incompat bits.
    pub features: Vec<String>,
    /// incompat bits neither ring-core nor this tool knows.
    pub unknown_incompat: u64,
    /// Block table rows present.
    pub blocks: Vec<BlockReport>,
    /// `tail - head` (wrapping): entries in the ring, reserved ones included in multi-producer
    /// modes; above `capacity` only in an inconsistent snapshot of a busy ring, or corruption.
    pub fill: u32,
    /// Producer line.
    pub producer: ProducerReport,
    /// Consumer line.
    pub consumer: ConsumerReport,
    /// Overflow line.
    pub overflow: Option<OverflowReport>,
    /// Wait line.
    pub wait: Option<WaitReport>,
    /// Registry line.
    pub registry: Option<RegistryReport>,
    /// Producer records slots.
    pub producer_slots: u32,
    /// Held producer records.
    pub records: Vec<RecordReport>,
    /// Every process the ring names.
    pub participants: Vec<Participant>,
    /// Whether the ring names processes and all of them are dead.
    pub all_dead: bool,
}

/// A `list` row.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// Mode.
    pub mode: &'static str,
    /// "entries" or "records" (see [`RingReport::kind`]).
    pub kind: &'static str,
    /// Ring slots (bytes in a record ring).
    pub capacity: u32,
    /// Entry size (0 in a record ring).
    pub entry_size: u32,
    /// Fill level.
    pub fill: u32,
    /// Overflow slots (0: none).
    pub overflow_capacity: u32,
    /// Overflow fill (`None`: no overflow area).
    pub overflow_fill: Option<u32>,
    /// Creator.
    pub creator: Option<Pid>,
    /// Producer claim.
    pub producer_claim: Option<Pid>,
    /// Consumer claim.
    pub consumer_claim: Option<Pid>,
    /// Owners of held producer records.
    pub producer_records: Vec<Pid>,
    /// Whether every process named is dead.
    pub all_dead: bool,
}

/// The mode's name.
pub fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Spsc => "SPSC",
        Mode::Mpsc => "MPSC",
        Mode::Spmc => "SPMC",
        _ => "MPMC",
    }
}

fn feature_names(incompat: u64) -> Vec<String> {
    (0..64)
        .filter(|b| incompat & (1u64 << b) != 0)
        .map(|b| match 1u64 << b {
            features::INCOMPAT_OVERFLOW => "overflow".to_string(),
            features::INCOMPAT_WAIT => "wait".to_string(),
            features::INCOMPAT_PRODUCERS => "producer-records".to_string(),
            INCOMPAT_STREAM => "stream".to_string(),
            INCOMPAT_WAIT_TARGET => "wait-target".to_string(),
            features::INCOMPAT_PACKED => "packed-slots".to_string(),
            INCOMPAT_RECORDS => "records".to_string(),
            INCOMPAT_RECORD_OVERFLOW => "record-overflow".to_string(),
            INCOMPAT_RELEASE_END => "release-end".to_string(),
            _ => format!("unknown-bit-{b}"),
        })
        .collect()
}

/// Builds the report of a ring file.
pub fn report(f: &RingFile) -> RingReport {
    let v: &Inspection = &f.view;
    let h = v.header();
    let p = v.producer();
    let c = v.consumer();
    let blocks = h
        .blocks
        .iter()
        .enumerate()
        .filter(|(_, r)| r.len != 0)
        .map(|(row, r)| BlockReport {
            row,
            // Row 2 of a record ring is its data area of bytes, not slots.
            name: match row {
                2 if v.records().is_some() => "data",
                _ => Block::name(row),
            },
            offset: r.offset,
            len: r.len,
        })
        .collect();
    let stream = (h.incompat & INCOMPAT_STREAM != 0)
        .then(|| v.block_u32(Block::Producer, STREAM_OFFSET))
        .flatten()
        .map(|word| StreamReport {
            word,
            closed: word & STREAM_CLOSED != 0,
            close_requested: word & STREAM_CLOSE_REQUESTED != 0,
            producers_joined: word & STREAM_JOINED_MASK,
        });
    let overflow = v.overflow().map(|o| OverflowReport {
        capacity: h.overflow_capacity,
        active: o.active,
        tail: o.tail,
        head: o.head,
        pending: o.tail.wrapping_sub(o.head),
        overflowed: o.overflowed,
        activations: o.activations,
    });
    let wait = v.wait().map(|w| {
        let mut flag_names = Vec::new();
        if w.flags & wait_flags::NO_WAKE != 0 {
            flag_names.push("no-wake");
        }
        if w.flags & wait_flags::EVENTFD != 0 {
            flag_names.push("eventfd");
        }
        let wake_target = (h.incompat & INCOMPAT_WAIT_TARGET != 0)
            .then(|| v.block_u64(Block::Wait, WAKE_TARGET_OFFSET))
            .flatten()
            .map(|word| WakeTargetReport {
                word,
                armed: word & WAKE_TARGET_ARMED != 0,
                target: word as u32,
            });
        WaitReport {
            futex: w.futex,
            futex_waiters: w.futex_waiters,
            eventfd_waiters: w.eventfd_waiters,
            flags: w.flags,
            flag_names,
            wakeups: w.wakeups,
            sleeps: w.sleeps,
            wake_target,
        }
    });
    let registry = v.registry().map(|r| RegistryReport {
        recoverer: Pid::of(r.recoverer, 0),
        recoveries: r.recoveries,
        recovered: r.recovered,
        reclaimed: r.reclaimed,
    });
    let records: Vec<RecordReport> = (0..h.producer_slots)
        .filter_map(|i| v.record(i).map(|r| (i, r)))
        .filter(|(_, r)| r.owner != 0)
        .map(|(index, r)| RecordReport {
            index,
            owner: Pid::of(r.owner, r.start_time).expect("owner is not 0"),
            start_time: r.start_time,
            ring_intent: [r.ring_start, r.ring_len],
            overflow_intent: [r.overflow_start, r.overflow_len],
        })
        .collect();
    let creator = Pid::of(h.creator_pid, 0);
    let producer_claim = Pid::of(p.owner, 0);
    let consumer_claim = Pid::of(c.owner, 0);
    let mut participants = Vec::new();
    let mut add = |role: String, pid: &Option<Pid>| {
        if let Some(pid) = pid {
            participants.push(Participant {
                role,
                pid: pid.clone(),
            });
        }
    };
    add("creator".into(), &creator);
    add("producer claim".into(), &producer_claim);
    add("consumer claim".into(), &consumer_claim);
    if let Some(r) = &registry {
        add("recoverer".into(), &r.recoverer);
    }
    for r in &records {
        add(
            format!("producer record {}", r.index),
            &Some(r.owner.clone()),
        );
    }
    let all_dead = !participants.is_empty() && participants.iter().all(|p| !p.pid.alive);
    RingReport {
        name: display_name(&f.path),
        path: f.path.display().to_string(),
        file_len: f.file_len,
        layout: format!("{}.{}", h.version_major, h.version_minor),
        header_len: h.header_len,
        region_len: h.region_len,
        mode: mode_name(h.mode),
        kind: if v.records().is_some() {
            "records"
        } else {
            "entries"
        },
        capacity: h.capacity,
        max_record_len: v
            .records()
            .map(|g| ring_core::record::layout::max_record_len(g.capacity)),
        entry_format: h.entry_format,
        entry_format_name: match h.entry_format {
            _ if v.records().is_some() && h.entry_format == RECORDS_V1 => "records v1",
            entry_format::OPAQUE => "opaque",
            entry_format::COMPLETION_V1 => "completion",
            _ => "unknown",
        },
        entry_size: h.entry_size,
        entry_align: h.entry_align,
        slot_stride: h.slot_stride,
        payload_offset: h.payload_offset,
        initial_index: h.initial_index,
        creator,
        compat: h.compat,
        incompat: h.incompat,
        ro_compat: h.ro_compat,
        features: feature_names(h.incompat),
        unknown_incompat: v.unknown_incompat(),
        blocks,
        fill: p.tail.wrapping_sub(c.head),
        producer: ProducerReport {
            tail: p.tail,
            reservations: v.record_reservations(),
            claim: producer_claim,
            full_refusals: p.full_refusals,
            discarded: p.discarded,
            stream,
        },
        consumer: ConsumerReport {
            head: c.head,
            claim: consumer_claim,
        },
        overflow,
        wait,
        registry,
        producer_slots: h.producer_slots,
        records,
        participants,
        all_dead,
    }
}

impl RingReport {
    /// The `list` row of this ring.
    pub fn summary(&self) -> Summary {
        Summary {
            name: self.name.clone(),
            path: self.path.clone(),
            mode: self.mode,
            kind: self.kind,
            capacity: self.capacity,
            entry_size: self.entry_size,
            fill: self.fill,
            overflow_capacity: self.overflow.as_ref().map_or(0, |o| o.capacity),
            overflow_fill: self.overflow.as_ref().map(|o| o.pending),
            creator: self.creator.clone(),
            producer_claim: self.producer.claim.clone(),
            consumer_claim: self.consumer.claim.clone(),
            producer_records: self.records.iter().map(|r| r.owner.clone()).collect(),
            all_dead: self.all_dead,
        }
    }
}

/// The `list` table.
pub fn list_table(rows: &[Summary]) -> String {
    let header = [
        "NAME", "MODE", "CAPACITY", "ENTRY", "FILL", "OVERFLOW", "CREATOR", "PRODUCER", "CONSUMER",
        "RECORDS",
    ];
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        let records = if r.producer_records.is_empty() {
            "-".to_string()
        } else {
            r.producer_records
                .iter()
                .map(|p| Pid::show(&Some(p.clone())))
                .collect::<Vec<_>>()
                .join(",")
        };
        cells.push(vec![
            r.name.clone(),
            r.mode.to_string(),
            r.capacity.to_string(),
            if r.kind == "records" {
                "records".to_string()
            } else {
                r.entry_size.to_string()
            },
            r.fill.to_string(),
            match r.overflow_fill {
                Some(n) => format!("{n}/{}", r.overflow_capacity),
                None => "-".into(),
            },
            Pid::show(&r.creator),
            Pid::show(&r.producer_claim),
            Pid::show(&r.consumer_claim),
            records,
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| cells.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                // Numbers right-aligned, text left-aligned; the last column unpadded.
                if i == row.len() - 1 {
                    c.clone()
                } else if (2..=4).contains(&i) {
                    format!("{c:>w$}", w = widths[i])
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

fn alive_word(p: &Option<Pid>) -> String {
    match p {
        None => "none".into(),
        Some(p) => format!("pid {} ({})", p.pid, if p.alive { "alive" } else { "dead" }),
    }
}

/// The `inspect` text.
pub fn inspect_text(r: &RingReport) -> String {
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(w, "ring {} ({}, {} bytes)", r.name, r.path, r.file_len);
    let _ = writeln!(
        w,
        "  layout      {} (header {} bytes, region {} bytes)",
        r.layout, r.header_len, r.region_len
    );
    let _ = writeln!(w, "  mode        {}", r.mode);
    // Record rings count bytes where fixed-entry rings count slots and entries.
    let records = r.kind == "records";
    let (unit, units) = if records {
        ("bytes", "bytes")
    } else {
        ("slots", "entries")
    };
    if let Some(max) = r.max_record_len {
        let _ = writeln!(
            w,
            "  records     format {} ({}), {}-byte aligned, {}-byte record headers; payloads up to {max} bytes",
            r.entry_format, r.entry_format_name, r.entry_align, r.payload_offset
        );
        let _ = writeln!(
            w,
            "  capacity    {} bytes of data area, positions started at {}",
            r.capacity, r.initial_index
        );
    } else {
        let _ = writeln!(
            w,
            "  entries     format {} ({}), {} bytes, alignment {}; slot stride {}, payload offset {}",
            r.entry_format,
            r.entry_format_name,
            r.entry_size,
            r.entry_align,
            r.slot_stride,
            r.payload_offset
        );
        let _ = writeln!(
            w,
            "  capacity    {} slots, indices started at {}",
            r.capacity, r.initial_index
        );
    }
    let _ = writeln!(w, "  creator     {}", alive_word(&r.creator));
    let feats = if r.features.is_empty() {
        "none".to_string()
    } else {
        r.features.join(", ")
    };
    let _ = writeln!(
        w,
        "  features    incompat {:#x}: {feats}; compat {:#x}; ro_compat {:#x}",
        r.incompat, r.compat, r.ro_compat
    );
    if r.unknown_incompat != 0 {
        let _ = writeln!(
            w,
            "  warning     incompat bits {:#x} are unknown to this ringctl: the words they add are not shown",
            r.unknown_incompat
        );
    }
    let _ = writeln!(w, "blocks");
    for b in &r.blocks {
        let _ = writeln!(
            w,
            "  {} {:<10} offset {:>8}  len {:>8}",
            b.row, b.name, b.offset, b.len
        );
    }
    let p = &r.producer;
    let _ = writeln!(w, "producer line");
    match p.reservations {
        Some(n) => {
            let _ = writeln!(w, "  tail            {} ({n} reservations)", p.tail);
        }
        None => {
            let _ = writeln!(w, "  tail            {}", p.tail);
        }
    }
    if r.mode == "SPSC" || r.mode == "SPMC" {
        let _ = writeln!(w, "  claim           {}", alive_word(&p.claim));
    } else {
        let _ = writeln!(
            w,
            "  claim           unused (several producers: see producer records)"
        );
    }
    let _ = writeln!(w, "  full refusals   {}", p.full_refusals);
    let _ = writeln!(w, "  discarded       {}", p.discarded);
    match &p.stream {
        None => {
            let _ = writeln!(w, "  stream          n/a (no INCOMPAT_STREAM)");
        }
        Some(s) => {
            let state = if s.closed {
                "closed"
            } else if s.close_requested {
                "close requested"
            } else {
                "open"
            };
            let _ = writeln!(
                w,
                "  stream          {state}, {} producers joined (word {:#010x})",
                s.producers_joined, s.word
            );
        }
    }
    let _ = writeln!(w, "consumer line");
    let _ = writeln!(w, "  head            {}", r.consumer.head);
    if r.mode == "SPSC" || r.mode == "MPSC" {
        let _ = writeln!(w, "  claim           {}", alive_word(&r.consumer.claim));
    } else {
        let _ = writeln!(w, "  claim           unused (several consumers)");
    }
    let over = if r.fill > r.capacity {
        " (more than the capacity: a busy ring read mid-update, or corruption)"
    } else {
        ""
    };
    let _ = writeln!(
        w,
        "fill              {} of {} {unit}{over}",
        r.fill, r.capacity
    );
    match &r.overflow {
        None => {
            let _ = writeln!(w, "overflow area     none");
        }
        Some(ov) => {
            let _ = writeln!(w, "overflow area");
            let _ = writeln!(
                w,
                "  state           {}, tail {}, head {}, {} of {} {unit} pending",
                if ov.active { "active" } else { "inactive" },
                ov.tail,
                ov.head,
                ov.pending,
                ov.capacity
            );
            let _ = writeln!(
                w,
                "  overflowed      {} {}, {} activations",
                ov.overflowed,
                if records { "records" } else { units },
                ov.activations
            );
        }
    }
    match &r.wait {
        None => {
            let _ = writeln!(w, "wait block        none");
        }
        Some(wt) => {
            let _ = writeln!(w, "wait block");
            let _ = writeln!(
                w,
                "  waiters         {} on the futex, {} on an eventfd",
                wt.futex_waiters, wt.eventfd_waiters
            );
            let flags = if wt.flag_names.is_empty() {
                "none".to_string()
            } else {
                wt.flag_names.join(", ")
            };
            let _ = writeln!(w, "  flags           {:#x}: {flags}", wt.flags);
            let _ = writeln!(
                w,
                "  futex word      {}; {} wake-ups, {} sleeps",
                wt.futex, wt.wakeups, wt.sleeps
            );
            match &wt.wake_target {
                None => {
                    let _ = writeln!(w, "  wake target     n/a (no INCOMPAT_WAIT_TARGET)");
                }
                Some(t) if t.armed => {
                    let _ = writeln!(w, "  wake target     armed, position {}", t.target);
                }
                Some(_) => {
                    let _ = writeln!(w, "  wake target     not armed");
                }
            }
        }
    }
    match &r.registry {
        None => {
            let _ = writeln!(w, "producer records  none");
        }
        Some(reg) => {
            let _ = writeln!(
                w,
                "producer records  {} slots, {} held",
                r.producer_slots,
                r.records.len()
            );
            let _ = writeln!(
                w,
                "  recovery        recoverer {}; {} runs, {} positions discarded, {} records freed",
                alive_word(&reg.recoverer),
                reg.recoveries,
                reg.recovered,
                reg.reclaimed
            );
            for rec in &r.records {
                let _ = writeln!(
                    w,
                    "  #{:<4} {}, start time {}, ring intent {}+{}, overflow intent {}+{}",
                    rec.index,
                    alive_word(&Some(rec.owner.clone())),
                    rec.start_time,
                    rec.ring_intent[0],
                    rec.ring_intent[1],
                    rec.overflow_intent[0],
                    rec.overflow_intent[1]
                );
            }
        }
    }
    let alive: Vec<String> = r
        .participants
        .iter()
        .map(|p| {
            format!(
                "{} {} ({})",
                p.role,
                p.pid.pid,
                if p.pid.alive { "alive" } else { "dead" }
            )
        })
        .collect();
    let _ = writeln!(
        w,
        "participants      {}{}",
        if alive.is_empty() {
            "none recorded".to_string()
        } else {
            alive.join("; ")
        },
        if r.all_dead { "  [all dead]" } else { "" }
    );
    o
}
