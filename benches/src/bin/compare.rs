//! `compare`: a short run of every benchmark, ours and each peer side by side, and one table.
//!
//! ```text
//! cargo run --release -p benches --bin compare [-- --reps N --scale F --out DIR --only LIST]
//! ```
//!
//! Each repetition first measures the cost of moving a cache line between the two cores, then
//! runs every contender of every group once, in an order rotated from one repetition to the
//! next, so that machine drift (other load, frequency, the host's scheduling of the virtual
//! cores) hits ours and the peers alike. Threads are pinned to distinct cores where there are
//! enough cores. The table holds, per metric, the median over repetitions, and the ratio
//! ours / peer computed within each repetition (the two ran seconds apart, in the same
//! conditions): its median over repetitions and its range (for throughput higher is better, for
//! latency lower is better).
//!
//! It prints the table and writes `results/compare.md` (table, machine, load average, cache-line
//! cost per repetition) and `results/compare.svg` (the ratios as a bar chart) under this crate,
//! or under `--out`.
//!
//! Options (or environment variables):
//! - `--reps N` (`COMPARE_REPS`, default 7): repetitions;
//! - `--scale F` (`COMPARE_SCALE`, default 1.0): multiplies every run's length;
//! - `--out DIR` (`COMPARE_OUT`): where to write the results (default: `benches/results`);
//! - `--only a,b` (`COMPARE_ONLY`): only these groups (`spsc`, `batch`, `mpsc`, `mpmc`,
//!   `rtt-threads`, `rtt-procs`, `wake`, `uring`, `overflow`, `reap`, `records`);
//! - `BENCH_PIN=0`: no thread pinning.

use benches::records::{self, Medium, RecPeer};
use benches::{affinity, machine, paths, stats, threads, workloads, xproc};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use workloads::{Many, PingPong, Spsc};
use xproc::{Wake, XPingPong};

const GROUPS: [&str; 11] = [
    "spsc",
    "batch",
    "mpsc",
    "mpmc",
    "rtt-threads",
    "rtt-procs",
    "wake",
    "uring",
    "overflow",
    "reap",
    "records",
];

/// A 1-minute load average at the start of a run from which on the machine counts as busy
/// (compare's own threads raise it only while it runs).
const BUSY_LOAD: f64 = 1.0;

struct Opts {
    reps: usize,
    scale: f64,
    out: PathBuf,
    only: Vec<String>,
}

impl Opts {
    fn parse() -> Result<Opts, String> {
        let env = |k: &str| std::env::var(k).ok();
        let mut reps = env("COMPARE_REPS");
        let mut scale = env("COMPARE_SCALE");
        let mut out = env("COMPARE_OUT");
        let mut only = env("COMPARE_ONLY");
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut val = || args.next().ok_or(format!("{a} needs a value"));
            match a.as_str() {
                "--reps" => reps = Some(val()?),
                "--scale" => scale = Some(val()?),
                "--out" => out = Some(val()?),
                "--only" => only = Some(val()?),
                "--bench" => {} // passed by `cargo bench`; nothing to do
                "-h" | "--help" => {
                    println!("usage: compare [--reps N] [--scale F] [--out DIR] [--only GROUPS]");
                    println!("groups: {}", GROUPS.join(","));
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?} (try --help)")),
            }
        }
        let reps = reps.map_or(Ok(7), |r| r.parse().map_err(|_| "bad --reps"))?;
        let scale: f64 = scale.map_or(Ok(1.0), |s| s.parse().map_err(|_| "bad --scale"))?;
        let only: Vec<String> = only
            .map(|o| o.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default();
        for g in &only {
            if !GROUPS.contains(&g.as_str()) {
                return Err(format!("unknown group {g:?}; groups: {}", GROUPS.join(",")));
            }
        }
        Ok(Opts {
            reps: reps.max(1),
            scale: if scale > 0.0 { scale } else { 1.0 },
            out: out.map_or_else(
                || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results"),
                PathBuf::from,
            ),
            only,
        })
    }

    fn wants(&self, group: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|g| g == group)
    }

    fn n(&self, base: u64) -> u64 {
        ((base as f64 * self.scale) as u64).max(1)
    }
}

/// Per-repetition values of every metric, by key `group/contender/stat`.
#[derive(Default)]
struct Store {
    /// The repetition being run.
    rep: usize,
    series: BTreeMap<String, Vec<(usize, f64)>>,
    failures: BTreeMap<String, String>,
}

impl Store {
    fn add(&mut self, key: String, v: f64) {
        let rep = self.rep;
        self.series.entry(key).or_default().push((rep, v));
    }

    fn fail(&mut self, key: String, why: String) {
        self.failures.entry(key).or_insert(why);
    }

    fn median(&self, key: &str) -> Result<f64, String> {
        if let Some(why) = self.failures.get(key) {
            return Err(why.clone());
        }
        match self.series.get(key) {
            Some(v) if !v.is_empty() => {
                Ok(stats::median(&v.iter().map(|x| x.1).collect::<Vec<_>>()))
            }
            _ => Err("not run".into()),
        }
    }

    /// `a / b` per repetition, for the repetitions that have both.
    fn ratios(&self, a: &str, b: &str) -> Vec<f64> {
        let (Some(a), Some(b)) = (self.series.get(a), self.series.get(b)) else {
            return Vec::new();
        };
        a.iter()
            .filter_map(|&(rep, x)| {
                b.iter()
                    .find(|&&(r, _)| r == rep)
                    .filter(|&&(_, y)| y > 0.0)
                    .map(|&(_, y)| x / y)
            })
            .collect()
    }
}

fn rotated<T: Copy>(v: &[T], rep: usize) -> Vec<T> {
    let mut r = v.to_vec();
    if !r.is_empty() {
        let k = rep % r.len();
        r.rotate_left(k);
    }
    r
}

fn mops(items: u64, d: Duration) -> f64 {
    items as f64 / d.as_secs_f64() / 1e6
}

fn progress(msg: &str) {
    eprintln!("  {msg}");
}

fn run_rep(rep: usize, o: &Opts, s: &mut Store, c2c: &mut Vec<f64>, loads: &mut Vec<String>) {
    let t = threads::cache_line_transfer(o.n(200_000));
    let load = machine::loadavg();
    eprintln!(
        "repetition {}/{}: cache-line transfer {t:.1} ns, load {load}",
        rep + 1,
        o.reps,
    );
    c2c.push(t);
    loads.push(load);

    if o.wants("spsc") {
        let n = o.n(2_000_000);
        for c in rotated(&Spsc::SINGLE, rep) {
            let v = mops(n, c.single(n));
            progress(&format!("spsc {}: {v:.1} M/s", c.name()));
            s.add(format!("spsc/{}/mops", c.name()), v);
        }
    }
    if o.wants("batch") {
        let n = o.n(8_000_000);
        for c in rotated(&Spsc::BATCH, rep) {
            if let Some(d) = c.batch(n, 32) {
                let v = mops(n, d);
                progress(&format!("batch32 {}: {v:.1} M/s", c.name()));
                s.add(format!("batch/{}/mops", c.name()), v);
            }
        }
    }
    for (group, list, consumers) in [("mpsc", &Many::MPSC[..], 1), ("mpmc", &Many::MPMC[..], 2)] {
        if !o.wants(group) {
            continue;
        }
        let per = o.n(500_000);
        for c in rotated(list, rep) {
            if let Some(d) = c.run(2, consumers, per) {
                let v = mops(2 * per, d);
                progress(&format!("{group} {}: {v:.1} M/s", c.name()));
                s.add(format!("{group}/{}/mops", c.name()), v);
            }
        }
    }
    if o.wants("rtt-threads") {
        let rounds = o.n(20_000) as usize;
        for c in rotated(&PingPong::ALL, rep) {
            let mut v = c.run(rounds, rounds / 10);
            let p = stats::Percentiles::of(&mut v);
            progress(&format!(
                "rtt-threads {}: p50 {:.0} ns, p99 {:.0} ns",
                c.name(),
                p.p50,
                p.p99
            ));
            s.add(format!("rtt-threads/{}/p50", c.name()), p.p50);
            s.add(format!("rtt-threads/{}/p99", c.name()), p.p99);
        }
    }
    if o.wants("rtt-procs") {
        for c in rotated(&XPingPong::ALL, rep) {
            let rounds = o.n(if c.blocking() { 3_000 } else { 20_000 }) as usize;
            let budget = Duration::from_secs_f64(1.5 * o.scale);
            match c.run(rounds, rounds / 10, budget) {
                Ok(mut v) => {
                    let p = stats::Percentiles::of(&mut v);
                    progress(&format!(
                        "rtt-procs {}: p50 {:.0} ns, p99 {:.0} ns ({} round trips)",
                        c.name(),
                        p.p50,
                        p.p99,
                        p.n
                    ));
                    s.add(format!("rtt-procs/{}/p50", c.name()), p.p50);
                    s.add(format!("rtt-procs/{}/p99", c.name()), p.p99);
                }
                Err(e) => {
                    progress(&format!("rtt-procs {}: failed: {e}", c.name()));
                    s.fail(format!("rtt-procs/{}/p50", c.name()), e.clone());
                    s.fail(format!("rtt-procs/{}/p99", c.name()), e);
                }
            }
        }
    }
    if o.wants("wake") {
        let samples = o.n(300) as usize;
        let budget = Duration::from_secs_f64(3.0 * o.scale);
        for c in rotated(&Wake::ALL, rep) {
            match c.run(samples, budget) {
                Ok(mut v) => {
                    let p = stats::Percentiles::of(&mut v);
                    progress(&format!(
                        "wake {}: p50 {:.0} ns, p99 {:.0} ns ({} wake-ups)",
                        c.name(),
                        p.p50,
                        p.p99,
                        p.n
                    ));
                    s.add(format!("wake/{}/p50", c.name()), p.p50);
                    s.add(format!("wake/{}/p99", c.name()), p.p99);
                }
                Err(e) => {
                    progress(&format!("wake {}: failed: {e}", c.name()));
                    s.fail(format!("wake/{}/p50", c.name()), e.clone());
                    s.fail(format!("wake/{}/p99", c.name()), e);
                }
            }
        }
    }
    let pin = Pinned::core0();
    if o.wants("uring") {
        let (ours, uring) = paths::completion_costs(o.n(2_000), 5);
        s.add("uring/ours/ns".into(), ours);
        match uring {
            Ok(v) => {
                progress(&format!(
                    "completion path: ours {ours:.1} ns, io_uring NOP {v:.1} ns per completion"
                ));
                s.add("uring/io_uring NOP/ns".into(), v);
            }
            Err(e) => {
                progress(&format!(
                    "completion path: ours {ours:.1} ns; io_uring unavailable: {e}"
                ));
                s.fail("uring/io_uring NOP/ns".into(), format!("unavailable: {e}"));
            }
        }
    }
    if o.wants("overflow") {
        let c = paths::overflow_costs(o.n(20) as usize);
        progress(&format!(
            "overflow: spill push {:.1} ns vs ring push {:.1} ns; overflow reap {:.1} ns vs ring reap {:.1} ns (per entry)",
            c.spill_push, c.ring_push, c.overflow_reap, c.ring_reap
        ));
        s.add("overflow/spill push/ns".into(), c.spill_push);
        s.add("overflow/ring push/ns".into(), c.ring_push);
        s.add("overflow/overflow reap/ns".into(), c.overflow_reap);
        s.add("overflow/ring reap/ns".into(), c.ring_reap);
    }
    if o.wants("reap") {
        for batch in [1usize, 8, 32, 256] {
            let calls = o.n(16_000 / batch.min(64) as u64);
            let v = paths::reap_cost(batch, calls, 5, None);
            let t = paths::reap_cost(batch, calls, 5, Some(Duration::ZERO));
            progress(&format!(
                "reap {batch}: {v:.1} ns per call ({t:.1} ns with a timeout)"
            ));
            s.add(format!("reap/{batch}/ns"), v);
            s.add(format!("reap/{batch} timeout/ns"), t);
        }
    }
    drop(pin);
    if o.wants("records") {
        run_records(rep, o, s);
    }
}

/// The `records` group's name of one case: medium, shape and record size.
fn record_case(medium: Medium, producers: usize, size: usize) -> String {
    let shape = if producers == 1 {
        "SPSC".to_string()
    } else {
        format!("MPSC {producers} producers")
    };
    format!("{}, {shape}, {size} B", medium.name())
}

/// The records group's involuntary context switches per run, as a table (median and largest
/// over the repetitions, per case and contender), or `None` when the group did not run.
fn switch_table(s: &Store) -> Option<String> {
    let mut t = String::from("| Case |");
    for p in RecPeer::ALL {
        let _ = write!(t, " {} |", p.name());
    }
    t.push_str("\n|---|");
    t.push_str(&"---:|".repeat(RecPeer::ALL.len()));
    t.push('\n');
    let mut any = false;
    for medium in Medium::ALL {
        for producers in [1usize, 2] {
            for size in records::SIZES {
                let case = record_case(medium, producers, size);
                let _ = write!(t, "| {case} |");
                for p in RecPeer::ALL {
                    let key = format!("records/{case}: {}/switched", p.name());
                    match s.series.get(&key) {
                        Some(v) if !v.is_empty() => {
                            any = true;
                            let xs: Vec<f64> = v.iter().map(|x| x.1).collect();
                            let max = xs.iter().copied().fold(0.0, f64::max);
                            let _ = write!(t, " {:.0} ({max:.0}) |", stats::median(&xs));
                        }
                        _ => t.push_str(" — |"),
                    }
                }
                t.push('\n');
            }
        }
    }
    any.then_some(t)
}

/// The record ring against its peers: every case (medium, shape, size) runs each of its
/// contenders once, in an order rotated from one repetition to the next.
fn run_records(rep: usize, o: &Opts, s: &mut Store) {
    for medium in Medium::ALL {
        for producers in [1usize, 2] {
            for size in records::SIZES {
                let case = record_case(medium, producers, size);
                let peers: Vec<RecPeer> = RecPeer::ALL
                    .into_iter()
                    .filter(|p| p.applies(size))
                    .collect();
                for c in rotated(&peers, rep) {
                    let per = o.n(c.records(size) / producers as u64);
                    let key = format!("records/{case}: {}/mops", c.name());
                    match c.run(medium, producers, size, per) {
                        Ok(m) => {
                            let v = mops(per * producers as u64, m.elapsed);
                            progress(&format!(
                                "records {case} {}: {v:.2} M/s (switched out {} times)",
                                c.name(),
                                m.switched_out
                            ));
                            s.add(key, v);
                            s.add(
                                format!("records/{case}: {}/switched", c.name()),
                                m.switched_out as f64,
                            );
                        }
                        Err(e) => {
                            progress(&format!("records {case} {}: {e}", c.name()));
                            s.fail(key, e);
                        }
                    }
                }
            }
        }
    }
}

/// Pins the main thread to allowed core 0 for single-thread measurements.
struct Pinned;

impl Pinned {
    fn core0() -> Self {
        affinity::pin(affinity::core(0));
        Pinned
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        affinity::unpin();
    }
}

#[derive(Copy, Clone, PartialEq)]
enum Unit {
    /// Million entries per second: higher is better.
    Mops,
    /// Nanoseconds: lower is better.
    Ns,
}

struct Target {
    text: &'static str,
    /// The least "advantage" (ours better by this factor: ratio for throughput, 1/ratio for
    /// latency) that meets the target.
    min_advantage: f64,
}

struct Row {
    bench: String,
    unit: Unit,
    ours: String,
    ours_key: String,
    peer: String,
    peer_key: Option<String>,
    target: Option<Target>,
}

struct Cell {
    row: Row,
    ours: Result<f64, String>,
    peer: Option<Result<f64, String>>,
    /// Ours / peer in each repetition (both measured in it, one after the other).
    ratios: Vec<f64>,
}

impl Cell {
    /// The median of the per-repetition ratios.
    fn ratio(&self) -> Option<f64> {
        match (&self.ours, &self.peer) {
            (Ok(_), Some(Ok(_))) if !self.ratios.is_empty() => Some(stats::median(&self.ratios)),
            _ => None,
        }
    }

    /// The smallest and largest per-repetition ratio.
    fn range(&self) -> Option<(f64, f64)> {
        self.ratio()?;
        let lo = self.ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self
            .ratios
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        Some((lo, hi))
    }

    /// How many times better ours is (>1: ours better).
    fn advantage(&self) -> Option<f64> {
        self.ratio().map(|r| match self.row.unit {
            Unit::Mops => r,
            Unit::Ns => 1.0 / r,
        })
    }

    fn met(&self) -> Option<bool> {
        let t = self.row.target.as_ref()?;
        Some(
            self.advantage()
                .is_some_and(|a| a >= t.min_advantage - 1e-9),
        )
    }
}

fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    let mut add = |bench: &str,
                   unit: Unit,
                   ours: (&str, String),
                   peer: (&str, Option<String>),
                   target: Option<Target>| {
        rows.push(Row {
            bench: bench.to_string(),
            unit,
            ours: ours.0.to_string(),
            ours_key: ours.1,
            peer: peer.0.to_string(),
            peer_key: peer.1,
            target,
        })
    };
    let k = |g: &str, c: &str, st: &str| format!("{g}/{c}/{st}");

    let b = "SPSC single, throughput";
    for p in Spsc::SINGLE.iter().skip(3) {
        let target = (*p == Spsc::Rtrb).then_some(Target {
            text: ">= 1.00 (at least rtrb)",
            min_advantage: 1.0,
        });
        add(
            b,
            Unit::Mops,
            ("ours", k("spsc", "ours", "mops")),
            (p.name(), Some(k("spsc", p.name(), "mops"))),
            target,
        );
    }
    add(
        b,
        Unit::Mops,
        ("ours (wait block)", k("spsc", "ours (wait block)", "mops")),
        ("rtrb", Some(k("spsc", "rtrb", "mops"))),
        None,
    );
    add(
        b,
        Unit::Mops,
        (
            "ours (SpscProducer/SpscConsumer)",
            k("spsc", "ours (SpscProducer/SpscConsumer)", "mops"),
        ),
        ("rtrb", Some(k("spsc", "rtrb", "mops"))),
        Some(Target {
            text: ">= 1.00 (at least rtrb)",
            min_advantage: 1.0,
        }),
    );
    let b = "SPSC batches of 32, throughput";
    add(
        b,
        Unit::Mops,
        ("ours (push_all/pop_into)", k("batch", "ours", "mops")),
        ("rtrb chunks", Some(k("batch", "rtrb", "mops"))),
        Some(Target {
            text: ">= 1.00 (at least rtrb chunks)",
            min_advantage: 1.0,
        }),
    );
    add(
        b,
        Unit::Mops,
        ("ours (zero-copy)", k("batch", "ours (zero-copy)", "mops")),
        ("rtrb chunks", Some(k("batch", "rtrb", "mops"))),
        None,
    );
    add(
        b,
        Unit::Mops,
        (
            "ours (SpscProducer/SpscConsumer chunks)",
            k("batch", "ours (SpscProducer/SpscConsumer)", "mops"),
        ),
        ("rtrb chunks", Some(k("batch", "rtrb", "mops"))),
        Some(Target {
            text: ">= 1.00 (at least rtrb chunks)",
            min_advantage: 1.0,
        }),
    );
    for p in ["ringbuf", "floor ring"] {
        add(
            b,
            Unit::Mops,
            ("ours (push_all/pop_into)", k("batch", "ours", "mops")),
            (p, Some(k("batch", p, "mops"))),
            None,
        );
    }
    let b = "MPSC 2 producers, throughput";
    for p in Many::MPSC.iter().skip(1) {
        let target = (*p == Many::ArrayQueue).then_some(Target {
            text: ">= 1.50",
            min_advantage: 1.5,
        });
        add(
            b,
            Unit::Mops,
            ("ours", k("mpsc", "ours", "mops")),
            (p.name(), Some(k("mpsc", p.name(), "mops"))),
            target,
        );
    }
    let b = "MPMC 2x2, throughput";
    for p in Many::MPMC.iter().skip(1) {
        add(
            b,
            Unit::Mops,
            ("ours", k("mpmc", "ours", "mops")),
            (p.name(), Some(k("mpmc", p.name(), "mops"))),
            None,
        );
    }
    for st in ["p50", "p99"] {
        let b = format!("Round trip, threads, {st}");
        for p in PingPong::ALL.iter().skip(1) {
            add(
                &b,
                Unit::Ns,
                ("ours", k("rtt-threads", "ours", st)),
                (p.name(), Some(k("rtt-threads", p.name(), st))),
                None,
            );
        }
    }
    for st in ["p50", "p99"] {
        let b = format!("Round trip, processes, {st}");
        for p in XPingPong::ALL.iter().skip(1) {
            let target = match (st, *p) {
                ("p50", XPingPong::Floor) => Some(Target {
                    text: "<= 1.15 (within 15% of the floor)",
                    min_advantage: 1.0 / 1.15,
                }),
                ("p50", XPingPong::Ipmpsc) => Some(Target {
                    text: "<= 0.33 (3x better)",
                    min_advantage: 3.0,
                }),
                _ => None,
            };
            add(
                &b,
                Unit::Ns,
                ("ours", k("rtt-procs", "ours", st)),
                (p.name(), Some(k("rtt-procs", p.name(), st))),
                target,
            );
        }
    }
    for st in ["p50", "p99"] {
        let b = format!("Wake-up across processes, {st}");
        let target = (st == "p50").then_some(Target {
            text: "<= 1.10 (within 10% of a bare futex)",
            min_advantage: 1.0 / 1.10,
        });
        add(
            &b,
            Unit::Ns,
            ("ours (futex)", k("wake", "ours (futex)", st)),
            ("bare futex wake", Some(k("wake", "bare futex wake", st))),
            target,
        );
        add(
            &b,
            Unit::Ns,
            ("ours (eventfd)", k("wake", "ours (eventfd)", st)),
            (
                "bare eventfd write",
                Some(k("wake", "bare eventfd write", st)),
            ),
            None,
        );
    }
    add(
        "Completion path, batches of 32, per completion",
        Unit::Ns,
        ("ours (push_all + reap, one thread)", "uring/ours/ns".into()),
        (
            "io_uring NOP submit + reap",
            Some("uring/io_uring NOP/ns".into()),
        ),
        None,
    );
    add(
        "Overflow path, push per entry",
        Unit::Ns,
        (
            "ours, spilling into overflow",
            "overflow/spill push/ns".into(),
        ),
        ("ours, ring with room", Some("overflow/ring push/ns".into())),
        None,
    );
    add(
        "Overflow path, reap per entry (batches of 32)",
        Unit::Ns,
        ("ours, from overflow", "overflow/overflow reap/ns".into()),
        ("ours, from the ring", Some("overflow/ring reap/ns".into())),
        None,
    );
    for batch in [1, 8, 32, 256] {
        add(
            &format!("Reap cost per call, batch of {batch}"),
            Unit::Ns,
            ("ours, no timeout", format!("reap/{batch}/ns")),
            (
                "ours, with a timeout",
                Some(format!("reap/{batch} timeout/ns")),
            ),
            None,
        );
    }
    for medium in Medium::ALL {
        for producers in [1usize, 2] {
            for size in records::SIZES {
                let case = record_case(medium, producers, size);
                let b = format!("Records, {case}, throughput");
                let key = |p: RecPeer| format!("records/{case}: {}/mops", p.name());
                let ours = || (RecPeer::Ours.name(), key(RecPeer::Ours));
                if size == 16 {
                    // Issue 10's target: the fixed ring carrying the same payload (24 bytes).
                    add(
                        &b,
                        Unit::Mops,
                        (RecPeer::OursCompletion.name(), key(RecPeer::OursCompletion)),
                        (RecPeer::Fixed24.name(), Some(key(RecPeer::Fixed24))),
                        Some(Target {
                            text: ">= 0.80 (of the fixed ring, same payload)",
                            min_advantage: 0.8,
                        }),
                    );
                    add(
                        &b,
                        Unit::Mops,
                        (RecPeer::OursCompletion.name(), key(RecPeer::OursCompletion)),
                        (RecPeer::Fixed.name(), Some(key(RecPeer::Fixed))),
                        None,
                    );
                    add(
                        &b,
                        Unit::Mops,
                        ours(),
                        (RecPeer::Fixed.name(), Some(key(RecPeer::Fixed))),
                        None,
                    );
                }
                for p in [RecPeer::Ipmpsc, RecPeer::Pipe] {
                    let target =
                        (medium == Medium::Processes && p == RecPeer::Ipmpsc).then_some(Target {
                            text: ">= 5.00 (5x ipmpsc)",
                            min_advantage: 5.0,
                        });
                    add(&b, Unit::Mops, ours(), (p.name(), Some(key(p))), target);
                }
            }
        }
    }
    rows
}

fn fmt_val(unit: Unit, v: &Result<f64, String>) -> String {
    match v {
        Ok(x) => match unit {
            Unit::Mops => format!("{x:.1} M/s"),
            Unit::Ns if *x >= 10_000.0 => format!("{:.1} µs", x / 1000.0),
            Unit::Ns if *x >= 100.0 => format!("{x:.0} ns"),
            Unit::Ns => format!("{x:.1} ns"),
        },
        Err(e) => e.clone(),
    }
}

fn table(cells: &[Cell]) -> String {
    let mut t = String::new();
    t.push_str("| Benchmark | Ours | Ours: median | Peer | Peer: median | Ours / peer | Range over reps | Better | Target | Met |\n");
    t.push_str("|---|---|---:|---|---:|---:|---|---|---|---|\n");
    for c in cells {
        let r = &c.row;
        let better = match r.unit {
            Unit::Mops => "higher",
            Unit::Ns => "lower",
        };
        let peer = c
            .peer
            .as_ref()
            .map_or("—".to_string(), |p| fmt_val(r.unit, p));
        let ratio = c.ratio().map_or("—".to_string(), |x| format!("{x:.2}"));
        let range = c
            .range()
            .map_or("—".to_string(), |(lo, hi)| format!("{lo:.2}–{hi:.2}"));
        let target = r.target.as_ref().map_or("", |t| t.text);
        let met = match c.met() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.bench,
            r.ours,
            fmt_val(r.unit, &c.ours),
            r.peer,
            peer,
            ratio,
            range,
            better,
            target,
            met
        );
    }
    t
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A horizontal bar chart of the advantage of ours over each peer (log scale, 1 = parity).
fn svg(cells: &[Cell], subtitle: &str) -> String {
    // Ours against the peers only (rows that compare two paths of ours stay in the table).
    let bars: Vec<&Cell> = cells
        .iter()
        .filter(|c| c.advantage().is_some() && !c.row.peer.starts_with("ours"))
        .collect();
    let (w, label_w, row_h, top) = (1400.0, 760.0, 22.0, 70.0);
    let h = top + row_h * bars.len() as f64 + 60.0;
    let plot_w = w - label_w - 90.0;
    let lo = bars
        .iter()
        .filter_map(|c| c.advantage())
        .fold(0.5f64, f64::min)
        .log2()
        .floor()
        .max(-6.0);
    let hi = bars
        .iter()
        .filter_map(|c| c.advantage())
        .fold(2.0f64, f64::max)
        .log2()
        .ceil()
        .min(6.0);
    // Bars beyond the axis (syscall baselines are orders of magnitude apart) are clipped; their
    // labels give the value.
    let x = |adv: f64| label_w + (adv.log2().clamp(lo, hi) - lo) / (hi - lo) * plot_w;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="10" y="22" font-size="16" font-weight="bold">ring-core against its peers: how many times better ours is (log scale; right of 1 = ours better)</text>"##
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="42" fill="#444">{}</text>"##,
        esc(subtitle)
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="58" fill="#444">throughput: ours / peer; latency and cost: peer / ours. Black ticks: targets. Median over the repetitions of one compare run of the per-repetition ratio.</text>"##
    );
    // Grid at powers of two.
    let mut e = lo as i32;
    while e <= hi as i32 {
        let v = 2f64.powi(e);
        let gx = x(v);
        let stroke = if e == 0 { "#000" } else { "#ccc" };
        let _ = writeln!(
            s,
            r##"<line x1="{gx:.1}" y1="{:.1}" x2="{gx:.1}" y2="{:.1}" stroke="{stroke}"/>"##,
            top - 6.0,
            top + row_h * bars.len() as f64
        );
        let lbl = if v >= 1.0 {
            format!("{v:.0}x")
        } else {
            format!("1/{:.0}", 1.0 / v)
        };
        let _ = writeln!(
            s,
            r##"<text x="{gx:.1}" y="{:.1}" text-anchor="middle" fill="#444">{lbl}</text>"##,
            top + row_h * bars.len() as f64 + 16.0
        );
        e += 1;
    }
    for (i, c) in bars.iter().enumerate() {
        let adv = c.advantage().unwrap();
        let y = top + row_h * i as f64;
        let (x0, x1) = (x(1.0), x(adv));
        let (bx, bw) = if x1 >= x0 {
            (x0, x1 - x0)
        } else {
            (x1, x0 - x1)
        };
        let color = match c.met() {
            Some(false) => "#d9534f",
            _ if adv >= 1.0 => "#4a9a5b",
            _ => "#e39b3b",
        };
        let label = format!("{}: {} vs {}", c.row.bench, c.row.ours, c.row.peer);
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            label_w - 8.0,
            y + 15.0,
            esc(&label)
        );
        let _ = writeln!(
            s,
            r##"<rect x="{bx:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"/>"##,
            y + 4.0,
            bw.max(1.0),
            row_h - 8.0
        );
        let tx = x1.max(x0) + 4.0;
        let _ = writeln!(
            s,
            r##"<text x="{tx:.1}" y="{:.1}" fill="#222">{adv:.2}x</text>"##,
            y + 15.0
        );
        if let Some(t) = &c.row.target {
            let gx = x(t.min_advantage);
            let _ = writeln!(
                s,
                r##"<line x1="{gx:.1}" y1="{:.1}" x2="{gx:.1}" y2="{:.1}" stroke="#000" stroke-width="3"/>"##,
                y + 1.0,
                y + row_h - 1.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

fn main() {
    benches::child::run_child_if_requested();
    let o = match Opts::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("compare: {e}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let load_before = machine::loadavg();
    let desc = machine::describe();
    eprintln!("compare: {} repetitions, scale {}\n{desc}", o.reps, o.scale);
    let mut store = Store::default();
    let mut c2c = Vec::new();
    let mut loads = Vec::new();
    for rep in 0..o.reps {
        store.rep = rep;
        run_rep(rep, &o, &mut store, &mut c2c, &mut loads);
    }
    let load_after = machine::loadavg();
    let elapsed = started.elapsed();

    let cells: Vec<Cell> = rows()
        .into_iter()
        .filter(|r| o.wants(r.ours_key.split('/').next().unwrap_or("")))
        .map(|row| Cell {
            ours: store.median(&row.ours_key),
            peer: row.peer_key.as_deref().map(|k| store.median(k)),
            ratios: row
                .peer_key
                .as_deref()
                .map_or_else(Vec::new, |k| store.ratios(&row.ours_key, k)),
            row,
        })
        .collect();

    let tbl = table(&cells);
    let c2c_list = c2c
        .iter()
        .map(|v| format!("{v:.1}"))
        .collect::<Vec<_>>()
        .join(", ");
    let c2c_med = stats::median(&c2c);
    let mut md = String::new();
    let _ = writeln!(md, "# ring-core against its peers: one run of `compare`\n");
    let _ = writeln!(
        md,
        "Generated by `cargo run --release -p benches --bin compare` on {} ({} repetitions, scale {}, {:.0} s). \
         Every value is the median over the repetitions; a ratio is ours / peer within each repetition, \
         then its median (and range) over the repetitions (throughput: higher is better; latency and \
         cost: lower is better). Ours and every peer ran \
         interleaved, repetition by repetition, in the same process.\n",
        utc_now(),
        o.reps,
        o.scale,
        elapsed.as_secs_f64()
    );
    let _ = writeln!(md, "## Machine\n\n{desc}- Load average (1, 5, 15 min): {load_before} at the start, {load_after} at the end");
    let one_min = |l: &str| {
        l.split_whitespace()
            .next()
            .and_then(|x| x.parse::<f64>().ok())
    };
    let busy = one_min(&load_before).is_some_and(|x| x >= BUSY_LOAD);
    if busy {
        let _ = writeln!(
            md,
            "- **Not a quiet machine:** the 1-minute load average was {} at the start (other work was running; a quiet start reads below {BUSY_LOAD}). Threads yield and get descheduled, so the throughput values and ratios of this run are not reliable.",
            one_min(&load_before).unwrap_or(0.0)
        );
    }
    let _ = writeln!(
        md,
        "- Cache-line transfer between the two cores, one way, measured at the start of each repetition: {c2c_list} ns (median {c2c_med:.1} ns)"
    );
    let _ = writeln!(
        md,
        "- Load average (1, 5, 15 min) at the start of each repetition: {}\n",
        loads.join("; ")
    );
    let _ = writeln!(md, "## Results\n\n{tbl}");
    let _ = writeln!(md, "![ratios](compare.svg)\n");
    if let Some(t) = switch_table(&store) {
        let _ = writeln!(
            md,
            "## Records: how often the runs were switched out\n\n\
             Involuntary context switches per run of the `records` group (this process and its \
             producer processes, set-up included), median (largest) over the repetitions. A few \
             come from set-up (pinning a running thread moves it through the kernel's stopper \
             task). With one producer every thread has a core of its own, so more than a few \
             mean other work took a core during the run (preemption, or a `yield` that found \
             another task runnable) and that run's speed is suspect; with two producers the second producer \
             and the consumer share core 0 and switch between each other by design.\n\n{t}"
        );
    }
    let met: Vec<String> = cells
        .iter()
        .filter_map(|c| {
            c.met().map(|m| {
                format!(
                    "- {}, {} vs {}: target {}, {} ({})",
                    c.row.bench,
                    c.row.ours,
                    c.row.peer,
                    c.row.target.as_ref().unwrap().text,
                    if m { "met" } else { "**missed**" },
                    c.ratio()
                        .map_or("no ratio".into(), |r| format!("ratio {r:.2}"))
                )
            })
        })
        .collect();
    if !met.is_empty() {
        let _ = writeln!(md, "## Targets\n\n{}\n", met.join("\n"));
    }
    let _ = writeln!(
        md,
        "## How it was measured\n\n\
         - Entries are 16 bytes (`ring_core::Completion`), every queue has capacity 4096; ours is created without the wait block in busy-polling benchmarks (`Config::wait(false)`), with it for the wake-up benchmarks and the `ours (wait block)` row.\n\
         - Throughput: the consumer checks every entry (order per producer, totals); time from a common start barrier to the last consumer's end. Waiting on a full or empty queue spins 64 polls, then yields, for every contender. MPSC runs 3 threads and MPMC 4 threads on 2 cores: thread i is pinned to core i mod 2.\n\
         - Round trips: one side pushes a cookie and spins until it returns, the other echoes it; TSC-timed per round trip; p50 and p99 per repetition, then the median over repetitions.\n\
         - Between processes the child is this same executable started again; rings and the floor ring live in `/dev/shm`. Pipe and Unix socket use blocking reads (syscall baselines); ipmpsc is busy-polled with `try_recv`.\n\
         - Wake-up: the consumer process is asleep in the kernel (`/proc/<pid>/stat` says `S`) before each wake-up; latency is from just before the producer's `push` (or futex increment, eventfd write) to the consumer holding the entry, on `CLOCK_MONOTONIC` in both processes.\n\
         - The floor ring is the minimal shared-memory SPSC ring in `benches/src/floor.rs` (cached peer indices); `floor ring, uncached indices` re-reads the peer's index on every operation (the cost of not caching it).\n\
         - Records (`records` group): payloads of 16, 64, 256 and 4096 bytes, M records per second. Ours is a record ring with a 128 KiB data area (`push`, then `read` in place); ipmpsc has a 128 KiB buffer (bincode bytes, zero-copy receive, busy-polled `try_recv`); the pipe carries one `write` per length-prefixed record (buffer set to 128 KiB), read through a `BufReader` with blocking reads; the fixed ring (`Completion`, 4096 entries) and completion records (a `Completion` and one 4-byte attribute, 24 bytes) run in the 16-byte cases. The consumer (core 0) checks every record's length, first and last 8 bytes and per-producer order; producer p runs on core p+1 mod 2. Between processes the producers are child processes, released together once attached; start-up is not timed. ipmpsc and the pipe move an eighth as many records per run as the rings.\n"
    );

    if busy {
        eprintln!(
            "compare: warning: the 1-minute load average was {load_before} at the start: not a quiet machine, throughput ratios are not reliable"
        );
    }
    print!("{tbl}");
    println!("\ncache-line transfer per repetition: {c2c_list} ns; load average {load_before} -> {load_after}");
    for m in &met {
        println!("{m}");
    }
    let subtitle = format!(
        "{} reps, load {} -> {}, cache-line transfer median {:.0} ns; {}",
        o.reps,
        load_before,
        load_after,
        c2c_med,
        desc.lines().next().unwrap_or("").trim_start_matches("- ")
    );
    if let Err(e) = std::fs::create_dir_all(&o.out)
        .and_then(|()| std::fs::write(o.out.join("compare.md"), &md))
        .and_then(|()| std::fs::write(o.out.join("compare.svg"), svg(&cells, &subtitle)))
    {
        eprintln!("compare: writing results to {}: {e}", o.out.display());
        std::process::exit(1);
    }
    eprintln!(
        "wrote {} and compare.svg ({:.0} s)",
        o.out.join("compare.md").display(),
        elapsed.as_secs_f64()
    );
}
