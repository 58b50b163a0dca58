//! `profile`: single-thread loops of one contender's operations, to be run under
//! `valgrind --tool=callgrind`, which counts the instructions each operation executes; and
//! `profile check`, which runs them under callgrind itself and compares ours with its peers.
//!
//! ```text
//! cargo build --release -p benches --bin profile
//! valgrind --tool=callgrind --callgrind-out-file=cg.out target/release/profile ours-spsc
//! callgrind_annotate --inclusive=yes cg.out | grep -E 'push_one|pop_one'
//! cargo run --release -p benches --bin profile -- check
//! ```
//!
//! `profile MODE [ITERS]`: each mode pushes and pops `ITERS` (default [`DEFAULT_ITERS`])
//! entries one at a time (`push_one`, `pop_one` are not inlined, so callgrind attributes each
//! operation's instructions to them), or in batches of 32 for the `*-batch` modes (`ITERS` is
//! then a multiple of 32); the `*-poll` modes poll an empty ring `ITERS` times (what a
//! busy-polling consumer runs while it waits). Every mode checks what it popped. Instruction
//! counts do not show the cost of moving cache lines between cores (callgrind runs threads one
//! at a time and simulates no coherence); the throughput and latency benchmarks do.
//!
//! `profile check [--json] [--out FILE] [--iters N]`: see [`CHECKS`].

use benches::floor::HeapFloor;
use benches::peers::{item, ringbuf_pair, BatchRx, BatchTx, Item, OursCopy, OursZeroCopy, Rx, Tx};
use ring_core::record::attrs::{attr_id, completion_len, AttrWriter, Known};
use ring_core::record::{RecordConfig, RecordConsumer, RecordProducer, RecordRing};
use ring_core::{Config, Mode, Ring};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

// --- the check's limits ---------------------------------------------------------------------

/// What a row's counts are per.
#[derive(Clone, Copy)]
enum Unit {
    /// One entry pushed and popped (one at a time, or its 1/32 share of a batch of 32).
    Entry,
    /// One poll of an empty ring.
    Poll,
}

/// One row of the check: instructions per [`Unit`] of mode `ours` against mode `peer`.
struct Check {
    /// What the row measures.
    measure: &'static str,
    /// The mode counted as ours.
    ours: &'static str,
    /// The mode it is compared with.
    peer: &'static str,
    /// What the counts are per.
    unit: Unit,
    /// Largest accepted ratio ours / peer of instructions per unit; `None`: informational row,
    /// printed but never failing.
    limit: Option<f64>,
}

/// The rows `profile check` measures, and their limits (tune them here).
///
/// Each mode runs twice under callgrind, at N and 2N operations (N = [`CHECK_ITERS`]);
/// (total(2N) - total(N)) / N is its exact count of instructions per operation, set-up
/// (allocation, formatting the 4096-slot ring, process start) cancelled. A row passes when
/// ours / peer <= `limit`.
const CHECKS: &[Check] = &[
    // --- limited rows: the check fails when one of these is above its limit ---
    Check {
        measure: "SPSC push+pop",
        ours: "ours-spsc",
        peer: "rtrb",
        unit: Unit::Entry,
        limit: Some(1.1),
    },
    Check {
        measure: "SPSC push+pop, wait block",
        ours: "ours-spsc-wait",
        peer: "rtrb",
        unit: Unit::Entry,
        limit: Some(1.3),
    },
    // Target 1.5 (issue 9) missed by one instruction since end of stream (layout 1.3): an
    // empty poll must tell "empty" from "closed and drained", a load of the closed word and a
    // test (25 against rtrb's 16; 22 before). This limit guards the level reached.
    Check {
        measure: "poll of an empty ring",
        ours: "ours-poll",
        peer: "rtrb-poll",
        unit: Unit::Poll,
        limit: Some(1.6),
    },
    // Target 1.0 (issue 9) not met: `push_all` / `pop_into` copy every entry once more than
    // rtrb's chunks (through the caller's slice) and slots are 24 bytes apart (the slot header),
    // so the copies cannot be one `memcpy`. Since issue 14 item 5 every payload copy is made of
    // word-sized atomic accesses (a peer rewriting a slot gives wrong bytes, never a data race),
    // which the compiler may not merge or vectorise: 1.67 before, 1.99 since. This limit guards
    // the level reached.
    Check {
        measure: "batches of 32",
        ours: "ours-batch",
        peer: "rtrb-batch",
        unit: Unit::Entry,
        limit: Some(2.05),
    },
    // The like-for-like comparison with rtrb's chunk API through the dispatching handles (1.25
    // with plain copies; 1.43 once the view copied each entry out with atomic loads instead of
    // lending a reference into memory a peer may change; 1.18 since views read eight slots per
    // step). The dispatch-free handles' row below meets the target.
    Check {
        measure: "batches of 32, zero-copy",
        ours: "ours-zc-batch",
        peer: "rtrb-batch",
        unit: Unit::Entry,
        limit: Some(1.25),
    },
    // The same loop through the dispatch-free handles' chunks and views
    // (`SpscProducer::reserve_exact`, `SpscConsumer::view`): the issue 9 target, 1.0.
    Check {
        measure: "batches of 32, Spsc chunks",
        ours: "ours-spsc-batch",
        peer: "rtrb-batch",
        unit: Unit::Entry,
        limit: Some(1.0),
    },
    Check {
        measure: "MPSC push+pop",
        ours: "ours-mpsc",
        peer: "arrayqueue",
        unit: Unit::Entry,
        limit: Some(1.0),
    },
    // The dispatch-free handles (`SpscProducer`, `SpscConsumer`). They are made for loops
    // that inline `push` and `pop`, where their state stays in registers (3 stores per push);
    // in this out-of-line `push_one` the producer's reload of `head`, which takes plain
    // values, makes the function save 5 callee-saved registers on every call. This limit
    // guards the level reached.
    Check {
        measure: "SPSC push+pop, SpscProducer + SpscConsumer",
        ours: "ours-spsc-fast",
        peer: "rtrb",
        unit: Unit::Entry,
        limit: Some(1.12),
    },
    // The empty poll without the flavor dispatch and its stack frame (issue 9's 1.5 target).
    Check {
        measure: "poll of an empty ring, SpscConsumer",
        ours: "ours-poll-fast",
        peer: "rtrb-poll",
        unit: Unit::Poll,
        limit: Some(1.5),
    },
    // The record ring (variable-length records) against the fixed ring carrying the same
    // 16-byte `Completion` (issue 10's throughput target is against the fixed ring). A record
    // costs more than a fixed entry by design: a header word to write and validate (sequence,
    // type, flags, length against the producer position, the end of the area and half the
    // area), a padding record where one would cross the end, and, in MPSC, a BUSY mark before
    // the payload and the zeroing of what the consumer releases. When these rows were added
    // the counts were 166.05, 411.01 and 222.10 (ratios 2.27, 5.63, 2.50); the hot paths then
    // went to 151.09, 304.01 and 199.12 instructions per record (ratios 2.07, 4.16, 2.24, the
    // fixed ring at 73.02 and 89.00). Then the payload copies became word-sized atomic
    // accesses, as the fixed ring's (a peer writing a record being copied gives wrong bytes,
    // never a data race; MPSC zeroing too, out of line): 172.09, 329.02 and 226.12 (ratios
    // 2.36, 4.51, 2.54), about 21 instructions for the 16-byte copy the compiler no longer
    // merges. Then reading in place became `unsafe` (trusted peers only), so these loops read
    // through the safe copying API: `copy_to` for the plain records, `completion()` (the
    // payload copied into an `AttrList`, then parsed) for completions: 178.09, 409.02 and
    // 230.12 (ratios 2.44, 5.60, 2.59). Then the MPSC consumer's release took the crash-safe
    // order of RECORDS.md 7.3 (the header marked DISCARD, the rest zeroed, the header last: a
    // load and a store more): 234.12 (2.63); and it announces each record's end in
    // `release_end` before zeroing it (7.3, so that a successor can finish a release the
    // consumer died in): 237.13 (2.66). Then payload copies at 8-aligned offsets became word
    // stores without the leading-byte loop, and completions were written and read in words
    // (below): 160.10, 275.02 and 219.13 (ratios 2.19, 3.77, 2.46). Then the MPSC producer's
    // head-cache age check stopped testing which lane it is on (an `MpTx` is always on the
    // data lane): 216.13 (2.43). Then the consumer's side: the validated record (`Found`) is
    // its header word and `RecordView` has word-sized fields (161.10 here, +1: the length is
    // taken from the word once more), and the MPSC consumer zeroes a released record of 16 to
    // 32 bytes inline, straight-line, instead of calling out (pop_one 122 -> 110): 204.15
    // (2.29). Then `RecordRef` became one pointer, its view kept in the consumer's lane state
    // (a store of the view at `read`, loads of its fields through the pointer: 168.10 here,
    // 211.15 in MPSC), because a four-word `RecordRef` moved out of `read`'s `Result` was
    // copied through the stack with loads wider than its stores, a forwarding stall that cost
    // a third of the consumer's throughput between threads (this loop never moved it, so it
    // shows only the added instructions). These limits guard that level (about 5% above it).
    Check {
        measure: "records SPSC 16 B push+read",
        ours: "rec-spsc",
        peer: "ours-spsc",
        unit: Unit::Entry,
        limit: Some(2.42),
    },
    // A completion and one 4-byte attribute written with `AttrWriter`, read back with
    // `completion()` and `known()` (the completion loaded as two words, the attribute list
    // copied out, the attribute's header parsed, its status and value decoded). 405 when this
    // row was added (its copy and parse were byte-wise, through an owned buffer moved on the
    // stack); 269 since `AttrWriter` stores words, `completion()` copies the list in words into
    // registers and nothing called while the `RecordRef` is held can unwind (so it is not kept
    // in memory); 235 with the `unsafe` in-place `completion_in_place()`, for comparison. 275
    // since `truncate` to the reserved length stores nothing (six instructions here, for a
    // store-forwarding stall behind the payload's stores between threads: about 1.6x the
    // throughput of this row between threads). 246.02 (3.37; push_one 90 -> 61) since the
    // `RecordMut` lives in registers: no address of it reaches an out-of-line call (truncate
    // and the overflow commit take plain values, the drop glue is one call that inlines into
    // landing pads), `commit` publishes in place instead of moving the handle, and
    // `completion_len` is inline and const (the writer's checks fold away); it used to be
    // copied with 16-byte loads right after its fields' narrower stores (store-forwarding
    // stalls: 17.5 -> 3.8 ns per produced record in one thread). 233.02 (3.19; pop_one 176 ->
    // 161) since `known()` is a named iterator (`KnownAttrs`) that decodes a handled
    // well-known attribute from one 8-byte load without building an `Attr` (and whose `next`
    // inlines: the `filter_map` closure it replaces could stay out of line, its item
    // returned through memory: 12.8 -> 6.8 ns per consumed record in one thread, with the
    // word-sized `Found` and `RecordView` below). Limit about 5% above.
    Check {
        measure: "records SPSC completion+attr",
        ours: "rec-spsc-attr",
        peer: "ours-spsc",
        unit: Unit::Entry,
        limit: Some(3.35),
    },
    Check {
        measure: "records MPSC 16 B push+read",
        ours: "rec-mpsc",
        peer: "ours-mpsc",
        unit: Unit::Entry,
        limit: Some(2.49),
    },
    // The completion row through an MPSC ring (a reservation by compare-and-swap, a BUSY
    // mark, the zeroing of what the consumer releases): 481.06 before the completion was
    // written and read in words, 339.07 (3.81) since; 308.07 (3.46; push_one 122 -> 91) with
    // the `RecordMut` in registers and the lane-free head-cache check (above; 30.4 -> 6.1 ns
    // per produced record in one thread). 282.07 (3.17; pop_one 203 -> 180) with the
    // consumer's work (above: `KnownAttrs`, the word-sized `Found` and `RecordView`, the
    // inline zeroing of a released record of up to 32 bytes: 15.4 -> 8.7 ns per consumed
    // record in one thread). 279.07 (3.14; pop_one 183 -> 177) since `KnownAttrs::next` is
    // always inline, its uncommon cases in an out-of-line walk that takes and returns plain
    // values: compare's consumer loop had called `next` out of line, with the copied
    // attribute list stored to the stack for it. Limit about 5% above.
    Check {
        measure: "records MPSC completion+attr",
        ours: "rec-mpsc-attr",
        peer: "ours-mpsc",
        unit: Unit::Entry,
        limit: Some(3.35),
    },
    // --- informational rows: printed, never failing ---
    Check {
        measure: "SPSC push+pop vs the floor",
        ours: "ours-spsc",
        peer: "floor",
        unit: Unit::Entry,
        limit: None,
    },
    Check {
        measure: "MPMC push+pop",
        ours: "ours-mpmc",
        peer: "arrayqueue",
        unit: Unit::Entry,
        limit: None,
    },
];

/// N of the check (a multiple of 32, for the batch modes): each mode runs at N and 2N.
const CHECK_ITERS: u64 = 200_000;

// --- the modes ------------------------------------------------------------------------------

/// Operations per mode when `ITERS` is not given.
const DEFAULT_ITERS: u64 = 1_000_000;

/// Entries per batch of the `*-batch` modes.
const BATCH: u64 = 32;

/// Every mode, for the usage message.
const MODES: &str =
    "ours-spsc ours-spsc-fast ours-spsc-wait ours-mpsc ours-mpmc ours-batch ours-zc-batch ours-spsc-batch floor \
                     floor-batch rtrb rtrb-batch ringbuf arrayqueue ours-poll floor-poll rtrb-poll \
                     rec-spsc rec-spsc-attr rec-mpsc rec-mpsc-attr";

#[inline(never)]
fn push_one<T: Tx>(tx: &mut T, v: Item) {
    if tx.push(v).is_err() {
        panic!("full");
    }
}

#[inline(never)]
fn pop_one<R: Rx>(rx: &mut R) -> Item {
    rx.pop().expect("empty")
}

#[inline(never)]
fn push_batch<T: BatchTx>(tx: &mut T, first: u64) {
    assert!(
        tx.push_batch(BATCH as usize, |i| item(first + i as u64)),
        "full"
    );
}

#[inline(never)]
fn pop_batch<R: BatchRx>(rx: &mut R) -> u64 {
    let mut s = 0;
    assert_eq!(
        rx.pop_batch(BATCH as usize, |v| s += v.user_data),
        BATCH as usize
    );
    s
}

#[inline(never)]
fn poll_empty<R: Rx>(rx: &mut R) -> bool {
    rx.pop().is_some()
}

/// The record ring's producer: a 16-byte record (the entry's bytes) copied in with `push`, or
/// a completion record with one 4-byte attribute (24 bytes) written in place with
/// [`AttrWriter`].
/// `C`: completion records (a constant, so that each mode's loop holds only its own code).
struct RecTx<const C: bool> {
    tx: RecordProducer,
}

impl<const C: bool> Tx for RecTx<C> {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        if !C {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&v.user_data.to_le_bytes());
            b[8..12].copy_from_slice(&v.result.to_le_bytes());
            b[12..].copy_from_slice(&v.flags.to_le_bytes());
            return self.tx.push(&b).map_err(|_| v);
        }
        let Ok(mut rec) = self.tx.reserve(completion_len(&[4])) else {
            return Err(v);
        };
        let Ok(mut w) = AttrWriter::new(&mut rec, v) else {
            return Err(v);
        };
        if w.push_u32(attr_id::WORKER_CPU, v.user_data as u32).is_err() {
            return Err(v);
        }
        w.finish();
        rec.commit();
        Ok(())
    }
}

/// The record ring's consumer: reads the record in place and rebuilds the entry (checking the
/// attribute of a completion record).
struct RecRx<const C: bool> {
    rx: RecordConsumer,
}

impl<const C: bool> Rx for RecRx<C> {
    #[inline(always)]
    fn pop(&mut self) -> Option<Item> {
        let r = self.rx.read().ok()?;
        if !C {
            if r.len() != 16 {
                return None;
            }
            let mut b = [0u8; 16];
            r.copy_to(0, &mut b);
            let u = u64::from_le_bytes(b[..8].try_into().unwrap());
            let res = i32::from_le_bytes(b[8..12].try_into().unwrap());
            let f = u32::from_le_bytes(b[12..].try_into().unwrap());
            return Some(Item::new(u, res, f));
        }
        let (c, attrs) = r.completion().ok()?;
        let first = attrs.known().next();
        match first {
            Some(Ok(Known::WorkerCpu(cpu))) if cpu == c.user_data as u32 => Some(c),
            _ => None,
        }
    }
}

/// Sum of the entries `0..n`, what a mode that moved `n` entries must have popped.
fn expected_sum(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Polls an empty ring `iters` times: what a busy-polling consumer runs while it waits.
fn polls<R: Rx>(mut rx: R, iters: u64) {
    let mut hits = 0;
    for _ in 0..iters {
        hits += u64::from(poll_empty(&mut rx));
    }
    assert_eq!(black_box(hits), 0);
}

fn single<T: Tx, R: Rx>(mut tx: T, mut rx: R, iters: u64) {
    let mut s = 0;
    for i in 0..iters {
        push_one(&mut tx, item(i));
        s += pop_one(&mut rx).user_data;
    }
    assert_eq!(black_box(s), expected_sum(iters));
}

fn batch<T: BatchTx, R: BatchRx>(mut tx: T, mut rx: R, iters: u64) {
    let mut s = 0;
    for i in 0..iters / BATCH {
        push_batch(&mut tx, i * BATCH);
        s += pop_batch(&mut rx);
    }
    assert_eq!(black_box(s), expected_sum(iters));
}

/// Runs `mode` for `iters` operations; `Err` for an unknown mode or an unusable `iters`.
fn run_mode(mode: &str, iters: u64) -> Result<(), String> {
    if mode.ends_with("-batch") && iters % BATCH != 0 {
        return Err(format!(
            "{mode}: ITERS must be a multiple of {BATCH}, not {iters}"
        ));
    }
    let cfg = |m: Mode| Config::new(4096).mode(m).wait(false);
    match mode {
        "ours-spsc" | "ours-mpsc" | "ours-mpmc" | "ours-spsc-wait" => {
            let m = match mode {
                "ours-mpsc" => Mode::Mpsc,
                "ours-mpmc" => Mode::Mpmc,
                _ => Mode::Spsc,
            };
            let ring = Ring::<Item>::create_heap(cfg(m).wait(mode == "ours-spsc-wait")).unwrap();
            single(ring.producer().unwrap(), ring.consumer().unwrap(), iters);
        }
        "ours-spsc-fast" => {
            let ring = Ring::<Item>::create_heap(cfg(Mode::Spsc)).unwrap();
            let tx = ring.producer().unwrap().into_spsc().unwrap();
            single(tx, ring.consumer().unwrap().into_spsc().unwrap(), iters);
        }
        "ours-poll-fast" => {
            let ring = Ring::<Item>::create_heap(cfg(Mode::Spsc)).unwrap();
            polls(ring.consumer().unwrap().into_spsc().unwrap(), iters);
        }
        "ours-batch" => {
            let ring = Ring::<Item>::create_heap(cfg(Mode::Spsc)).unwrap();
            batch(
                OursCopy::new(ring.producer().unwrap()),
                OursCopy::new(ring.consumer().unwrap()),
                iters,
            );
        }
        "ours-zc-batch" => {
            let ring = Ring::<Item>::create_heap(cfg(Mode::Spsc)).unwrap();
            batch(
                OursZeroCopy(ring.producer().unwrap()),
                OursZeroCopy(ring.consumer().unwrap()),
                iters,
            );
        }
        "ours-spsc-batch" => {
            let ring = Ring::<Item>::create_heap(cfg(Mode::Spsc)).unwrap();
            let (tx, rx) = ring.split().unwrap();
            batch(
                OursZeroCopy(tx.into_spsc().unwrap()),
                OursZeroCopy(rx.into_spsc().unwrap()),
                iters,
            );
        }
        "ours-poll" => {
            let ring = Ring::<Item>::create_heap(cfg(Mode::Spsc)).unwrap();
            polls(ring.consumer().unwrap(), iters);
        }
        "floor-poll" => {
            let f = HeapFloor::<Item>::new(4096);
            polls(f.split::<true>().1, iters);
        }
        "rtrb-poll" => {
            polls(rtrb::RingBuffer::<Item>::new(4096).1, iters);
        }
        "floor" => {
            let f = HeapFloor::<Item>::new(4096);
            let (tx, rx) = f.split::<true>();
            single(tx, rx, iters);
        }
        "floor-batch" => {
            let f = HeapFloor::<Item>::new(4096);
            let (tx, rx) = f.split::<true>();
            batch(tx, rx, iters);
        }
        "rtrb" => {
            let (tx, rx) = rtrb::RingBuffer::<Item>::new(4096);
            single(tx, rx, iters);
        }
        "rtrb-batch" => {
            let (tx, rx) = rtrb::RingBuffer::<Item>::new(4096);
            batch(tx, rx, iters);
        }
        "ringbuf" => {
            let (tx, rx) = ringbuf_pair(4096);
            single(tx, rx, iters);
        }
        "arrayqueue" => {
            let q = crossbeam_queue::ArrayQueue::<Item>::new(4096);
            single(&q, &q, iters);
        }
        "rec-spsc" | "rec-spsc-attr" | "rec-mpsc" | "rec-mpsc-attr" => {
            let m = if mode.starts_with("rec-mpsc") {
                Mode::Mpsc
            } else {
                Mode::Spsc
            };
            // The same bytes as the fixed ring's 4096 16-byte slots.
            let cfg = RecordConfig::new(4096 * 16).mode(m).wait(false);
            let ring = RecordRing::create_heap(cfg).unwrap();
            let (tx, rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
            if mode.ends_with("-attr") {
                single(RecTx::<true> { tx }, RecRx::<true> { rx }, iters);
            } else {
                single(RecTx::<false> { tx }, RecRx::<false> { rx }, iters);
            }
        }
        _ => return Err(format!("unknown mode {mode:?}")),
    }
    Ok(())
}

// --- the check ------------------------------------------------------------------------------

/// Options of `profile check`.
struct CheckArgs {
    json: bool,
    out: Option<PathBuf>,
    iters: u64,
}

/// One measured row.
struct Row<'a> {
    check: &'a Check,
    ours: f64,
    peer: f64,
    ratio: f64,
    /// `None` for informational rows.
    pass: Option<bool>,
}

/// The two whole-program totals of one mode, at N and 2N.
struct Totals {
    mode: &'static str,
    at_n: u64,
    at_2n: u64,
}

fn parse_check_args(args: &[String]) -> Result<CheckArgs, String> {
    let mut a = CheckArgs {
        json: false,
        out: None,
        iters: CHECK_ITERS,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--json" => a.json = true,
            "--out" => {
                let f = it.next().ok_or("--out needs a file name")?;
                a.out = Some(PathBuf::from(f));
            }
            "--iters" => {
                let n = it.next().ok_or("--iters needs a number")?;
                a.iters = parse_iters(n)?;
            }
            _ => return Err(format!("check: unknown option {arg:?}")),
        }
    }
    if a.iters % BATCH != 0 {
        return Err(format!("check: --iters must be a multiple of {BATCH}"));
    }
    Ok(a)
}

fn parse_iters(s: &str) -> Result<u64, String> {
    match s.replace('_', "").parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("ITERS must be a positive integer, not {s:?}")),
    }
}

/// Fails with a clear message when `valgrind` cannot be run.
fn require_valgrind() -> Result<(), String> {
    let missing = "valgrind is not installed (or not on PATH); `profile check` counts \
                   instructions with `valgrind --tool=callgrind`: install it, e.g. \
                   `apt-get install -y valgrind`";
    match Command::new("valgrind").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "`valgrind --version` failed ({}): {missing}",
            o.status
        )),
        Err(e) => Err(format!("{missing} ({e})")),
    }
}

/// Reads the instruction total of a callgrind output file (its `summary:` line, else
/// `totals:`).
fn read_total(path: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read callgrind output {}: {e}", path.display()))?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    field("summary:")
        .or_else(|| field("totals:"))
        .ok_or_else(|| format!("no summary:/totals: line in {}", path.display()))
}

/// Runs this executable under callgrind for `iters` operations of `mode` and returns the
/// exact instruction total. `width` pads `iters` with zeros so that the argument parsed by
/// the child has the same length in both runs of a mode.
fn callgrind_total(exe: &Path, mode: &str, iters: u64, width: usize) -> Result<u64, String> {
    let out = std::env::temp_dir().join(format!(
        "profile-check-{}-{mode}-{iters}.callgrind",
        std::process::id()
    ));
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .arg(mode)
        .arg(format!("{iters:0width$}"))
        .output()
        .map_err(|e| format!("cannot start valgrind: {e}"))?;
    let total = if output.status.success() {
        read_total(&out)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!(
            "`valgrind --tool=callgrind {} {mode} {iters}` failed ({}); its last lines:\n{}",
            exe.display(),
            output.status,
            tail.join("\n")
        ))
    };
    let _ = std::fs::remove_file(&out);
    total
}

/// Measures every mode of [`CHECKS`] (each once, at N and 2N).
fn measure(iters: u64) -> Result<Vec<Totals>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let width = (2 * iters).to_string().len();
    let mut totals: Vec<Totals> = Vec::new();
    for mode in CHECKS.iter().flat_map(|c| [c.ours, c.peer]) {
        if totals.iter().any(|t| t.mode == mode) {
            continue;
        }
        let at_n = callgrind_total(&exe, mode, iters, width)?;
        let at_2n = callgrind_total(&exe, mode, 2 * iters, width)?;
        eprintln!("callgrind {mode:<15} total(N) {at_n:>12}  total(2N) {at_2n:>12}");
        if at_2n <= at_n {
            return Err(format!(
                "{mode}: total at 2N ({at_2n}) is not above the total at N ({at_n})"
            ));
        }
        totals.push(Totals { mode, at_n, at_2n });
    }
    Ok(totals)
}

/// Instructions per operation of `mode`: (total(2N) - total(N)) / N.
fn per_op(totals: &[Totals], mode: &str, iters: u64) -> f64 {
    let t = totals.iter().find(|t| t.mode == mode).expect("measured");
    (t.at_2n - t.at_n) as f64 / iters as f64
}

fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::Entry => "entry",
        Unit::Poll => "poll",
    }
}

fn table(rows: &[Row], iters: u64) -> String {
    let mut s = format!(
        "instructions per entry (per poll for polls), callgrind: (total(2N) - total(N)) / N, \
         N = {iters}\n"
    );
    s += &format!(
        "{:<28} {:<15} {:<11} {:>9} {:>9} {:>7} {:>6}  {}\n",
        "measure", "ours", "peer", "ours/op", "peer/op", "ratio", "limit", "result"
    );
    for r in rows {
        let (limit, result) = match (r.check.limit, r.pass) {
            (Some(l), Some(p)) => (format!("{l:.2}"), if p { "pass" } else { "FAIL" }),
            _ => ("-".to_string(), "info"),
        };
        s += &format!(
            "{:<28} {:<15} {:<11} {:>9.2} {:>9.2} {:>7.3} {:>6}  {}\n",
            r.check.measure, r.check.ours, r.check.peer, r.ours, r.peer, r.ratio, limit, result
        );
    }
    s
}

/// A JSON string literal (the strings here are plain ASCII names).
fn js(s: &str) -> String {
    format!("{s:?}")
}

fn json(rows: &[Row], totals: &[Totals], iters: u64, pass: bool) -> String {
    let rows: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "    {{\"measure\": {}, \"ours_mode\": {}, \"peer_mode\": {}, \"unit\": {}, \
                 \"ours\": {:.4}, \"peer\": {:.4}, \"ratio\": {:.4}, \"limit\": {}, \"pass\": {}}}",
                js(r.check.measure),
                js(r.check.ours),
                js(r.check.peer),
                js(unit_name(r.check.unit)),
                r.ours,
                r.peer,
                r.ratio,
                r.check.limit.map_or("null".to_string(), |l| l.to_string()),
                r.pass.map_or("null".to_string(), |p| p.to_string()),
            )
        })
        .collect();
    let totals: Vec<String> = totals
        .iter()
        .map(|t| format!("    {}: [{}, {}]", js(t.mode), t.at_n, t.at_2n))
        .collect();
    format!(
        "{{\n  \"tool\": \"callgrind\",\n  \"n\": {iters},\n  \"pass\": {pass},\n  \"rows\": [\n{}\n  ],\n  \
         \"totals_n_2n\": {{\n{}\n  }}\n}}\n",
        rows.join(",\n"),
        totals.join(",\n")
    )
}

/// `profile check`: exit 0 when every limited row passes, 1 when one fails, 2 on errors.
fn check(args: &[String]) -> ExitCode {
    let a = match parse_check_args(args) {
        Ok(a) => a,
        Err(e) => return usage(&e),
    };
    let totals = match require_valgrind().and_then(|()| measure(a.iters)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("profile check: error: {e}");
            return ExitCode::from(2);
        }
    };
    let rows: Vec<Row> = CHECKS
        .iter()
        .map(|c| {
            let ours = per_op(&totals, c.ours, a.iters);
            let peer = per_op(&totals, c.peer, a.iters);
            let ratio = ours / peer;
            Row {
                check: c,
                ours,
                peer,
                ratio,
                pass: c.limit.map(|l| ratio <= l),
            }
        })
        .collect();
    let failed: Vec<&Row> = rows.iter().filter(|r| r.pass == Some(false)).collect();
    let report = if a.json {
        json(&rows, &totals, a.iters, failed.is_empty())
    } else {
        table(&rows, a.iters)
    };
    print!("{report}");
    if let Some(path) = &a.out {
        if let Err(e) = std::fs::write(path, &report) {
            eprintln!("profile check: error: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if failed.is_empty() {
        eprintln!("profile check: every limited row passes");
        return ExitCode::SUCCESS;
    }
    for r in &failed {
        eprintln!(
            "profile check: FAIL {}: {} / {} = {:.2} / {:.2} instructions per {} = {:.4} > limit {:.2}",
            r.check.measure,
            r.check.ours,
            r.check.peer,
            r.ours,
            r.peer,
            unit_name(r.check.unit),
            r.ratio,
            r.check.limit.unwrap_or(f64::NAN),
        );
    }
    eprintln!(
        "profile check: {} of {} limited rows failed",
        failed.len(),
        CHECKS.iter().filter(|c| c.limit.is_some()).count()
    );
    ExitCode::FAILURE
}

fn usage(err: &str) -> ExitCode {
    eprintln!(
        "profile: {err}\nusage: profile MODE [ITERS]   (ITERS default {DEFAULT_ITERS})\n       \
         profile check [--json] [--out FILE] [--iters N]   (N default {CHECK_ITERS})\n\
         modes: {MODES}"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first() else {
        return usage("no mode given");
    };
    if mode == "check" {
        return check(&args[1..]);
    }
    if args.len() > 2 {
        return usage("too many arguments");
    }
    let iters = match args.get(1).map(|s| parse_iters(s)).transpose() {
        Ok(n) => n.unwrap_or(DEFAULT_ITERS),
        Err(e) => return usage(&e),
    };
    match run_mode(mode, iters) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => usage(&e),
    }
}
