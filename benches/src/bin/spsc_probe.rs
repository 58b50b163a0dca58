//! `spsc_probe`: the two-thread SPSC single-entry benchmark of `compare --only spsc`, run on
//! rtrb, the floor ring and the variants of [`benches::floor2`] side by side, to find which
//! design choice separates their throughput.
//!
//! ```text
//! cargo run --release -p benches --bin spsc_probe -- [--reps N] [--n N] [--cap C] [--base B] LIST
//! ```
//!
//! `LIST`: contender names (see `--help`); the base (`--base`, default rtrb) is always run.
//! Each repetition runs every contender once, rotated; the table shows per contender the median
//! throughput, the median and range over repetitions of its ratio to the base in the same
//! repetition, and (for contenders run through this binary's own loop, not the `-h` ones) per
//! entry the share of polls that found the ring empty and of pushes refused as full.
//!
//! Harness knobs (environment): `PROBE_SPINS` (spins before yielding, default 64, as
//! [`benches::threads::Backoff`]), `PROBE_PAUSE=0` (spin without the `pause` instruction),
//! `PROBE_CDELAY=k` / `PROBE_PDELAY=k` (k `pause`s after each successful pop / push),
//! `PROBE_CWORK=k` / `PROBE_PWORK=k` (k dependent multiply-adds, a few cycles each, likewise),
//! `PROBE_VERBOSE=1` (every run on stderr), `BENCH_PIN=0` (no pinning).

use benches::floor::HeapFloor;
use benches::floor2::{Place, VRing, VRx, VTx};
use benches::peers::{item, Item, Rx, Tx};
use benches::threads::{self, run_jobs, Gate};
use benches::{affinity, stats};
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
struct Cfg {
    spins: u32,
    pause: bool,
    cdelay: u32,
    pdelay: u32,
    cwork: u32,
    pwork: u32,
}

struct Wait<'a>(u32, &'a Cfg);

impl Wait<'_> {
    #[inline(always)]
    fn pause(&mut self) {
        if self.0 < self.1.spins {
            self.0 += 1;
            if self.1.pause {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
    }
}

#[inline(always)]
fn delay(k: u32) {
    for _ in 0..k {
        std::hint::spin_loop();
    }
}

/// About `k` dependent multiply-adds (3-4 cycles each): a few cycles of work without `pause`.
#[inline(always)]
fn work(k: u32, seed: u64) -> u64 {
    let mut x = seed;
    for _ in 0..k {
        x = std::hint::black_box(x.wrapping_mul(0x9E37_79B9).wrapping_add(1));
    }
    x
}

/// Result of one run: elapsed, polls that found nothing, pushes refused.
type Out = (Duration, u64, u64);

/// `threads::spsc` with the knobs of [`Cfg`] and the counts of failed operations.
fn spsc<TX: Tx, RX: Rx>(
    n: u64,
    cfg: &Cfg,
    make_tx: impl FnOnce() -> TX + Send,
    make_rx: impl FnOnce() -> RX + Send,
) -> Out {
    let (mut empties, mut fulls) = (0u64, 0u64);
    let (e, f) = (&mut empties, &mut fulls);
    let d = run_jobs(vec![
        Box::new(move |g: &Gate<'_>| {
            let mut tx = make_tx();
            g.open();
            let mut w = Wait(0, cfg);
            let mut fulls = 0u64;
            let mut sink = 0u64;
            for i in 0..n {
                let mut v = item(i);
                loop {
                    match tx.push(v) {
                        Ok(()) => {
                            w.0 = 0;
                            break;
                        }
                        Err(back) => {
                            v = back;
                            fulls += 1;
                            w.pause();
                        }
                    }
                }
                delay(cfg.pdelay);
                sink = sink.wrapping_add(work(cfg.pwork, i));
            }
            let end = Instant::now();
            // Written once at the end: the two counters share a line.
            *f = fulls;
            std::hint::black_box(sink);
            end
        }),
        Box::new(move |g: &Gate<'_>| {
            let mut rx = make_rx();
            g.open();
            let mut w = Wait(0, cfg);
            let mut next = 0;
            let mut empties = 0u64;
            let mut sink = 0u64;
            while next < n {
                match rx.pop() {
                    Some(v) => {
                        assert_eq!(v.user_data, next, "out of order");
                        next += 1;
                        w.0 = 0;
                        delay(cfg.cdelay);
                        sink = sink.wrapping_add(work(cfg.cwork, next));
                    }
                    None => {
                        empties += 1;
                        w.pause();
                    }
                }
            }
            let end = Instant::now();
            *e = empties;
            std::hint::black_box(sink);
            end
        }),
    ]);
    (d, empties, fulls)
}

/// A handle that also writes `K` words of its own (on the running thread's stack) per
/// successful operation: `K` more entries in the store buffer per entry, nothing shared.
struct Stores<H, const K: usize>(H, [u64; K]);

impl<H: Tx, const K: usize> Tx for Stores<H, K> {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        let r = self.0.push(v);
        if r.is_ok() {
            for w in self.1.iter_mut() {
                // SAFETY: a valid, aligned, exclusively borrowed word.
                unsafe { std::ptr::write_volatile(w, v.user_data) };
            }
        }
        r
    }
}

impl<H: Rx, const K: usize> Rx for Stores<H, K> {
    #[inline(always)]
    fn pop(&mut self) -> Option<Item> {
        let r = self.0.pop();
        if let Some(v) = &r {
            for w in self.1.iter_mut() {
                // SAFETY: as above.
                unsafe { std::ptr::write_volatile(w, v.user_data) };
            }
        }
        r
    }
}

/// A handle that also reads `K` words of its own per successful operation (the control for
/// [`Stores`]: the same extra instructions, no stores).
struct Loads<H, const K: usize>(H, [u64; K]);

impl<H: Tx, const K: usize> Tx for Loads<H, K> {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        let r = self.0.push(v);
        if r.is_ok() {
            for w in self.1.iter() {
                // SAFETY: a valid, aligned word.
                std::hint::black_box(unsafe { std::ptr::read_volatile(w) });
            }
        }
        r
    }
}

/// A handle that also runs `K` dependent register additions per successful push (inline
/// assembly without memory operands): extra work with no load and no store.
struct Alu<H, const K: usize>(H);

impl<H: Tx, const K: usize> Tx for Alu<H, K> {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        let r = self.0.push(v);
        if r.is_ok() {
            let mut x = v.user_data;
            for _ in 0..K {
                // SAFETY: adds 1 to a register; touches no memory, no stack, no flags used.
                unsafe { std::arch::asm!("add {0}, 1", inout(reg) x, options(nomem, nostack)) };
            }
            // Keep `x` alive without memory: a register-only no-op on it.
            // SAFETY: as above.
            unsafe { std::arch::asm!("/* {0} */", in(reg) x, options(nomem, nostack)) };
        }
        r
    }
}

/// A 24-byte slot: a header word (never written here) and the payload, as ring-core's slots.
#[derive(Clone, Copy)]
#[repr(C)]
struct Slot24 {
    _meta: u64,
    item: Item,
}

/// A 32-byte slot: the payload first, then 16 bytes never written (2 entries per line).
#[derive(Clone, Copy)]
#[repr(C)]
struct Slot32 {
    item: Item,
    _pad: [u64; 2],
}

/// The variant ring over slots of `S`, writing and reading only the payload at offset `OFF`.
struct PartTx<S, const OFF: usize>(VTx<S, u32, false, false, 1>);
struct PartRx<S, const OFF: usize>(VRx<S, u32, false, false>);

impl<S: Copy, const OFF: usize> Tx for PartTx<S, OFF> {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        self.0.push_part::<Item, OFF>(v)
    }
}

impl<S: Copy, const OFF: usize> Rx for PartRx<S, OFF> {
    #[inline(always)]
    fn pop(&mut self) -> Option<Item> {
        self.0.pop_part::<Item, OFF>()
    }
}

const NAMES: &[(&str, &str)] = &[
    ("rtrb", "rtrb 0.4"),
    ("floor", "benches::floor, cached (compare's 'floor ring')"),
    ("floorU", "benches::floor, uncached"),
    ("rtrb-h", "rtrb through threads::spsc (compare's harness)"),
    ("floor-h", "floor through threads::spsc"),
    ("floorU-h", "floor, uncached, through threads::spsc"),
    (
        "v...-h",
        "any v variant below through threads::spsc (e.g. v-h, v-r2-h, v-sep-h)",
    ),
    (
        "v-h-pst1",
        "v-h, the producer storing 1 more word of its own per push",
    ),
    (
        "v-h-pst2",
        "v-h, the producer storing 2 more words per push",
    ),
    ("v-h-cst2", "v-h, the consumer storing 2 more words per pop"),
    (
        "rtrb-h-pst1",
        "rtrb-h, the producer storing 1 more word per push",
    ),
    (
        "rtrb-h-pst2",
        "rtrb-h, the producer storing 2 more words per push",
    ),
    (
        "ours-h",
        "ring-core SPSC, no wait block, through threads::spsc",
    ),
    (
        "ours-spsc-h",
        "ring-core SPSC, no wait block, SpscProducer + SpscConsumer, through threads::spsc",
    ),
    (
        "v-h-alu4",
        "v-h, the producer adding 4 register-only instructions per push (control)",
    ),
    (
        "v-h-alu16",
        "v-h, the producer adding 16 register-only instructions per push",
    ),
    (
        "v-h-pld2",
        "v-h, the producer reading 2 words per push through black_box (spills)",
    ),
    (
        "v",
        "variant = floor: u32, free-running, tail@0 head@128 slots@256, one alloc",
    ),
    ("v-usize", "v with usize indices"),
    ("v-r2", "v with indices in 0..2cap (rtrb's wrap)"),
    ("v-usize-r2", "usize + 0..2cap"),
    (
        "v-sep",
        "v with slots in their own allocation, head line first",
    ),
    (
        "v-rtrb",
        "usize + 0..2cap + separate slots, head first: rtrb's design",
    ),
    ("v-vol", "v with volatile payload copy"),
    ("v-headfirst", "v with head's line before tail's"),
    (
        "v-line64",
        "v with index words 64 bytes apart, slots at 128",
    ),
    ("v-off512", "v with slots at 512"),
    ("v-refill4", "v re-reading head when < 4 free"),
    ("v-refill64", "v re-reading head when < 64 free"),
    ("v-refill1024", "v re-reading head when < 1024 free"),
];

fn run_one(name: &str, n: u64, cap: usize, cfg: &Cfg) -> Out {
    // `v...-h`: the variant through `threads::spsc` (compare's harness) instead of ours.
    let (name, h) = match name.strip_suffix("-h") {
        Some(b) if b.starts_with('v') => (b, true),
        _ => (name, false),
    };
    macro_rules! var {
        ($i:ty, $r2:expr, $vol:expr, $refill:expr, $place:expr) => {{
            let r = VRing::<Item, $i>::new(cap, $place);
            let (tx, rx) = r.split::<$r2, $vol, $refill>();
            if h {
                (threads::spsc(n, move || tx, move || rx), 0, 0)
            } else {
                spsc(n, cfg, move || tx, move || rx)
            }
        }};
    }
    let f = Place::FLOOR;
    let sep = Place {
        separate: true,
        head_first: true,
        ..f
    };
    match name {
        "rtrb" => {
            let (tx, rx) = rtrb::RingBuffer::<Item>::new(cap);
            spsc(n, cfg, move || tx, move || rx)
        }
        "floor" => {
            let fl = HeapFloor::<Item>::new(cap as u32);
            let (tx, rx) = fl.split::<true>();
            spsc(n, cfg, move || tx, move || rx)
        }
        "floorU" => {
            let fl = HeapFloor::<Item>::new(cap as u32);
            let (tx, rx) = fl.split::<false>();
            spsc(n, cfg, move || tx, move || rx)
        }
        // Through `threads::spsc`, compare's own harness (no counts).
        "rtrb-h" => {
            let (tx, rx) = rtrb::RingBuffer::<Item>::new(cap);
            (threads::spsc(n, move || tx, move || rx), 0, 0)
        }
        "floor-h" => {
            let fl = HeapFloor::<Item>::new(cap as u32);
            let (tx, rx) = fl.split::<true>();
            (threads::spsc(n, move || tx, move || rx), 0, 0)
        }
        "floorU-h" => {
            let fl = HeapFloor::<Item>::new(cap as u32);
            let (tx, rx) = fl.split::<false>();
            (threads::spsc(n, move || tx, move || rx), 0, 0)
        }
        "ours-h" => {
            let ring = benches::workloads::ours_ring(ring_core::Mode::Spsc, false);
            (
                threads::spsc(n, || ring.producer().unwrap(), || ring.consumer().unwrap()),
                0,
                0,
            )
        }
        "ours-spsc-h" => {
            let ring = benches::workloads::ours_ring(ring_core::Mode::Spsc, false);
            let tx = || ring.producer().unwrap().into_spsc().unwrap();
            let rx = || ring.consumer().unwrap().into_spsc().unwrap();
            (threads::spsc(n, tx, rx), 0, 0)
        }
        "v24" if h => {
            let r = VRing::<Slot24, u32>::new(cap, f);
            let (tx, rx) = r.split::<false, false, 1>();
            let (tx, rx) = (PartTx::<_, 8>(tx), PartRx::<_, 8>(rx));
            (threads::spsc(n, move || tx, move || rx), 0, 0)
        }
        "v24a" if h => {
            let r = VRing::<Slot24, u32>::new(cap, f);
            let (tx, rx) = r.split::<false, false, 1>();
            let (tx, rx) = (PartTx::<_, 0>(tx), PartRx::<_, 0>(rx));
            (threads::spsc(n, move || tx, move || rx), 0, 0)
        }
        "v32" if h => {
            let r = VRing::<Slot32, u32>::new(cap, f);
            let (tx, rx) = r.split::<false, false, 1>();
            let (tx, rx) = (PartTx::<_, 0>(tx), PartRx::<_, 0>(rx));
            (threads::spsc(n, move || tx, move || rx), 0, 0)
        }
        "v-h-alu4" => {
            let r = VRing::<Item, u32>::new(cap, f);
            let (tx, rx) = r.split::<false, false, 1>();
            (threads::spsc(n, move || Alu::<_, 4>(tx), move || rx), 0, 0)
        }
        "v-h-alu16" => {
            let r = VRing::<Item, u32>::new(cap, f);
            let (tx, rx) = r.split::<false, false, 1>();
            (threads::spsc(n, move || Alu::<_, 16>(tx), move || rx), 0, 0)
        }
        "v-h-pld2" => {
            let r = VRing::<Item, u32>::new(cap, f);
            let (tx, rx) = r.split::<false, false, 1>();
            (
                threads::spsc(n, move || Loads(tx, [0; 2]), move || rx),
                0,
                0,
            )
        }
        "v-h-pst1" | "v-h-pst2" | "v-h-cst2" | "rtrb-h-pst1" | "rtrb-h-pst2" => {
            let r = VRing::<Item, u32>::new(cap, f);
            let (tx, rx) = r.split::<false, false, 1>();
            let (rt, rr) = rtrb::RingBuffer::<Item>::new(cap);
            let d = match name {
                "v-h-pst1" => threads::spsc(n, move || Stores(tx, [0; 1]), move || rx),
                "v-h-pst2" => threads::spsc(n, move || Stores(tx, [0; 2]), move || rx),
                "v-h-cst2" => threads::spsc(n, move || tx, move || Stores(rx, [0; 2])),
                "rtrb-h-pst1" => threads::spsc(n, move || Stores(rt, [0; 1]), move || rr),
                _ => threads::spsc(n, move || Stores(rt, [0; 2]), move || rr),
            };
            (d, 0, 0)
        }
        "v" => var!(u32, false, false, 1, f),
        "v-usize" => var!(usize, false, false, 1, f),
        "v-r2" => var!(u32, true, false, 1, f),
        "v-usize-r2" => var!(usize, true, false, 1, f),
        "v-sep" => var!(u32, false, false, 1, sep),
        "v-rtrb" => var!(usize, true, false, 1, sep),
        "v-vol" => var!(u32, false, true, 1, f),
        "v-headfirst" => var!(
            u32,
            false,
            false,
            1,
            Place {
                head_first: true,
                ..f
            }
        ),
        "v-line64" => var!(
            u32,
            false,
            false,
            1,
            Place {
                line: 64,
                slot_off: 128,
                ..f
            }
        ),
        "v-off512" => var!(u32, false, false, 1, Place { slot_off: 512, ..f }),
        "v-refill4" => var!(u32, false, false, 4, f),
        "v-refill64" => var!(u32, false, false, 64, f),
        "v-refill1024" => var!(u32, false, false, 1024, f),
        other => panic!("unknown contender {other:?} (try --help)"),
    }
}

fn env_u32(k: &str, d: u32) -> u32 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn main() {
    let mut reps = 7usize;
    let mut n = 2_000_000u64;
    let mut cap = 4096usize;
    let mut list: Vec<String> = Vec::new();
    let mut base = String::from("rtrb");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reps" => reps = args.next().and_then(|v| v.parse().ok()).expect("--reps N"),
            "--n" => n = args.next().and_then(|v| v.parse().ok()).expect("--n ITEMS"),
            "--cap" => cap = args.next().and_then(|v| v.parse().ok()).expect("--cap C"),
            "--base" => base = args.next().expect("--base NAME"),
            "--bench" => {}
            "-h" | "--help" => {
                println!(
                    "usage: spsc_probe [--reps N] [--n ITEMS] [--cap C] [--base NAME] CONTENDER..."
                );
                for (k, d) in NAMES {
                    println!("  {k:14} {d}");
                }
                return;
            }
            _ => list.push(a),
        }
    }
    let _ = affinity::allowed_cores();
    let cfg = Cfg {
        spins: env_u32("PROBE_SPINS", 64),
        pause: env_u32("PROBE_PAUSE", 1) != 0,
        cdelay: env_u32("PROBE_CDELAY", 0),
        pdelay: env_u32("PROBE_PDELAY", 0),
        cwork: env_u32("PROBE_CWORK", 0),
        pwork: env_u32("PROBE_PWORK", 0),
    };
    let verbose = env_u32("PROBE_VERBOSE", 0) != 0;
    list.retain(|c| *c != base);
    list.insert(0, base.clone());
    // Per contender and repetition: (M/s, empties per entry, fulls per entry).
    let mut res: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); list.len()];
    let mut c2c = Vec::new();
    for rep in 0..reps {
        // The host moves the two virtual cores: the cost of moving a line between them (5 ns
        // on one physical core's two threads, 30+ ns across cores) sets the absolute numbers.
        c2c.push(threads::cache_line_transfer(20_000));
        let k = rep % list.len();
        let order: Vec<usize> = (0..list.len()).cycle().skip(k).take(list.len()).collect();
        for i in order {
            let (d, e, f) = run_one(&list[i], n, cap, &cfg);
            if verbose {
                eprintln!(
                    "rep {rep} {:14} {:7.1} M/s empty/e {:.3} full/e {:.3}",
                    list[i],
                    n as f64 / d.as_secs_f64() / 1e6,
                    e as f64 / n as f64,
                    f as f64 / n as f64
                );
            }
            res[i].push((
                n as f64 / d.as_secs_f64() / 1e6,
                e as f64 / n as f64,
                f as f64 / n as f64,
            ));
        }
        eprint!(".");
    }
    eprintln!();
    println!(
        "n={n} cap={cap} reps={reps} spins={} pause={} cdelay={} pdelay={} cwork={} pwork={} pin={}",
        cfg.spins,
        cfg.pause,
        cfg.cdelay,
        cfg.pdelay,
        cfg.cwork,
        cfg.pwork,
        affinity::enabled()
    );
    println!(
        "cache-line transfer per repetition (ns): {}",
        c2c.iter()
            .map(|t| format!("{t:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:14} {:>8} {:>7} {:>13} {:>9} {:>9}",
        "contender", "M/s", "/base", "range", "empty/e", "full/e"
    );
    for (i, name) in list.iter().enumerate() {
        let col = |f: fn(&(f64, f64, f64)) -> f64| -> Vec<f64> { res[i].iter().map(f).collect() };
        let ratios: Vec<f64> = res[i].iter().zip(&res[0]).map(|(a, b)| a.0 / b.0).collect();
        let lo = ratios.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().cloned().fold(0.0, f64::max);
        println!(
            "{:14} {:8.1} {:7.2} {:>13} {:9.3} {:9.3}",
            name,
            stats::median(&col(|x| x.0)),
            stats::median(&ratios),
            format!("{lo:.2}-{hi:.2}"),
            stats::median(&col(|x| x.1)),
            stats::median(&col(|x| x.2)),
        );
    }
}
