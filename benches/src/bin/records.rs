//! The byte ring against the fixed ring, in one run: 24-byte records (a 16-byte completion
//! plus one 4-byte attribute, 32 bytes in the ring with the header) against `Completion`
//! entries (16 bytes, 24-byte slots), SPSC and MPSC between threads and SPSC between two
//! processes sharing a memfd. Every ring runs without the wait block (busy polling), with the
//! same number of entries in flight at most (4096). Rounds alternate the contenders; the
//! table shows medians of million entries per second and the ratio records / fixed.
//!
//! `cargo run --release -p benches --bin records [-- ROUNDS [ENTRIES]]` (defaults 5 and
//! 2,000,000).

use ring_core::record::attrs::{attr_id, completion_len, AttrWriter};
use ring_core::record::{ReadError, RecordConfig, RecordRing};
use ring_core::{Completion, Config, Mode, PopError, Region, Ring};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SLOTS: u32 = 4096;
const CHILD_ENV: &str = "RECORDS_BENCH_CHILD";

/// The record: a completion and one 4-byte attribute (24 bytes), written in place.
#[inline(always)]
fn write_record(tx: &mut ring_core::record::RecordProducer, i: u64) -> bool {
    let Ok(mut rec) = tx.reserve(completion_len(&[4])) else {
        return false;
    };
    let mut w = AttrWriter::new(&mut rec, Completion::new(i, 0, 0)).expect("room for the head");
    w.push_u32(attr_id::WORKER_CPU, (i & 7) as u32)
        .expect("room for the attribute");
    rec.commit();
    true
}

/// A raw 24-byte record through `push` (the copy API), for comparison.
#[inline(always)]
fn push_raw(tx: &mut ring_core::record::RecordProducer, i: u64) -> bool {
    let mut b = [0u8; 24];
    b[..8].copy_from_slice(&i.to_le_bytes());
    tx.push(&b).is_ok()
}

fn record_ring(mode: Mode) -> RecordRing {
    RecordRing::create_heap(RecordConfig::new(SLOTS * 32).mode(mode).wait(false)).unwrap()
}

fn fixed_ring(mode: Mode) -> Ring<Completion> {
    Ring::create_heap(Config::new(SLOTS).mode(mode).wait(false)).unwrap()
}

/// Consumes `n` records, checking cookies per producer; returns the elapsed time from start.
fn consume_records(rx: &mut ring_core::record::RecordConsumer, n: u64, batch: bool) -> u64 {
    let mut got = 0u64;
    let mut sum = 0u64;
    while got < n {
        if batch {
            match rx.read_batch(64, usize::MAX, |r| {
                sum = sum.wrapping_add(first_word(r));
            }) {
                Ok(k) => got += k as u64,
                Err(ReadError::Empty | ReadError::Pending { .. }) => std::hint::spin_loop(),
                Err(e) => panic!("{e}"),
            }
        } else {
            match rx.read() {
                Ok(r) => {
                    sum = sum.wrapping_add(first_word(&r));
                    got += 1;
                }
                Err(ReadError::Empty | ReadError::Pending { .. }) => std::hint::spin_loop(),
                Err(e) => panic!("{e}"),
            }
        }
    }
    sum
}

fn consume_fixed(rx: &mut ring_core::Consumer<Completion>, n: u64, batch: bool) -> u64 {
    let mut got = 0u64;
    let mut sum = 0u64;
    let mut buf = [Completion::new(0, 0, 0); 64];
    while got < n {
        if batch {
            match rx.pop_into(&mut buf) {
                Ok(0) => std::hint::spin_loop(),
                Ok(k) => {
                    for c in &buf[..k] {
                        sum = sum.wrapping_add(c.user_data);
                    }
                    got += k as u64
                }
                Err(e) => panic!("{e}"),
            }
        } else {
            match rx.pop() {
                Ok(c) => {
                    sum = sum.wrapping_add(c.user_data);
                    got += 1;
                }
                Err(PopError::Empty) => std::hint::spin_loop(),
                Err(e) => panic!("{e}"),
            }
        }
    }
    sum
}

#[derive(Copy, Clone, PartialEq)]
enum Shape {
    Spsc,
    SpscBatch,
    Mpsc2,
}

fn threads_records(shape: Shape, n: u64, attrs: bool) -> Duration {
    let mode = if shape == Shape::Mpsc2 {
        Mode::Mpsc
    } else {
        Mode::Spsc
    };
    let ring = record_ring(mode);
    let producers = if shape == Shape::Mpsc2 { 2 } else { 1 };
    let per = n / producers;
    let mut rx = ring.consumer().unwrap();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..producers {
            let ring = &ring;
            s.spawn(move || {
                let mut tx = ring.producer().unwrap();
                for i in 0..per {
                    loop {
                        let ok = if attrs {
                            write_record(&mut tx, i)
                        } else {
                            push_raw(&mut tx, i)
                        };
                        if ok {
                            break;
                        }
                        std::hint::spin_loop();
                    }
                }
            });
        }
        let sum = consume_records(&mut rx, per * producers, shape == Shape::SpscBatch);
        std::hint::black_box(sum);
    });
    start.elapsed()
}

fn threads_fixed(shape: Shape, n: u64) -> Duration {
    let mode = if shape == Shape::Mpsc2 {
        Mode::Mpsc
    } else {
        Mode::Spsc
    };
    let ring = fixed_ring(mode);
    let producers = if shape == Shape::Mpsc2 { 2 } else { 1 };
    let per = n / producers;
    let mut rx = ring.consumer().unwrap();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..producers {
            let ring = &ring;
            s.spawn(move || {
                let mut tx = ring.producer().unwrap();
                for i in 0..per {
                    let mut c = Completion::new(i, 0, (i & 7) as u32);
                    while let Err(e) = tx.push(c) {
                        c = e.into_inner();
                        std::hint::spin_loop();
                    }
                }
            });
        }
        let sum = consume_fixed(&mut rx, per * producers, shape == Shape::SpscBatch);
        std::hint::black_box(sum);
    });
    start.elapsed()
}

/// Spawns this executable as the producing child over the memfd `fd`.
fn spawn_child(kind: &str, fd: std::os::fd::BorrowedFd<'_>, n: u64) -> std::process::Child {
    let dup = fd.try_clone_to_owned().expect("dup");
    let raw = dup.as_raw_fd();
    let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
    cmd.env(CHILD_ENV, format!("{kind} {raw} {n}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // SAFETY: fcntl is async-signal-safe; the descriptor stays open in the parent until after
    // spawn.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(raw, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawn child");
    drop(dup);
    child
}

fn child_main(spec: &str) {
    let mut it = spec.split_whitespace();
    let kind = it.next().expect("kind");
    let fd: i32 = it.next().expect("fd").parse().expect("fd");
    let n: u64 = it.next().expect("n").parse().expect("n");
    // SAFETY: the parent passed this descriptor to this process alone.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let region = Region::from_fd(owned).expect("from_fd");
    match kind {
        "records" => {
            let ring = RecordRing::attach(region).expect("attach records");
            let mut tx = ring.producer().expect("producer");
            for i in 0..n {
                while !write_record(&mut tx, i) {
                    std::hint::spin_loop();
                }
            }
        }
        _ => {
            let ring = Ring::<Completion>::attach(region).expect("attach fixed");
            let mut tx = ring.producer().expect("producer");
            for i in 0..n {
                let mut c = Completion::new(i, 0, (i & 7) as u32);
                while let Err(e) = tx.push(c) {
                    c = e.into_inner();
                    std::hint::spin_loop();
                }
            }
        }
    }
}

/// Two processes: the child produces `n`, the parent consumes; timed from the first entry the
/// parent receives to the last (so process start-up is excluded).
fn processes(records: bool, n: u64) -> Duration {
    if records {
        let ring =
            RecordRing::create_memfd("records-bench", RecordConfig::new(SLOTS * 32).wait(false))
                .unwrap();
        let mut child = spawn_child("records", ring.memory().fd().unwrap(), n);
        let mut rx = ring.consumer().unwrap();
        let first = loop {
            match rx.read() {
                Ok(_) => break Instant::now(),
                Err(ReadError::Empty) => std::hint::spin_loop(),
                Err(e) => panic!("{e}"),
            }
        };
        std::hint::black_box(consume_records(&mut rx, n - 1, true));
        let t = first.elapsed();
        assert!(child.wait().unwrap().success());
        t
    } else {
        let ring = Ring::<Completion>::create_memfd("fixed-bench", Config::new(SLOTS).wait(false))
            .unwrap();
        let mut child = spawn_child("fixed", ring.memory().fd().unwrap(), n);
        let mut rx = ring.consumer().unwrap();
        let first = loop {
            match rx.pop() {
                Ok(_) => break Instant::now(),
                Err(PopError::Empty) => std::hint::spin_loop(),
                Err(e) => panic!("{e}"),
            }
        };
        std::hint::black_box(consume_fixed(&mut rx, n - 1, true));
        let t = first.elapsed();
        assert!(child.wait().unwrap().success());
        t
    }
}

/// One thread, an SPSC ring, `n` times: produce one entry, consume it. No cross-core traffic,
/// so it measures the code path alone (and under callgrind, its instructions).
fn single(kind: &str, n: u64) -> Duration {
    let start;
    let mode = if kind.ends_with("-mpsc") {
        Mode::Mpsc
    } else {
        Mode::Spsc
    };
    match kind.trim_end_matches("-mpsc") {
        "fixed" => {
            let ring = fixed_ring(mode);
            let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
            let mut sum = 0u64;
            start = Instant::now();
            for i in 0..n {
                tx.push(Completion::new(i, 0, (i & 7) as u32)).unwrap();
                sum = sum.wrapping_add(rx.pop().unwrap().user_data);
            }
            std::hint::black_box(sum);
        }
        k => {
            let ring = record_ring(mode);
            let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
            let mut sum = 0u64;
            let attrs = k == "records";
            start = Instant::now();
            for i in 0..n {
                let ok = if attrs {
                    write_record(&mut tx, i)
                } else {
                    push_raw(&mut tx, i)
                };
                assert!(ok);
                let r = rx.read().unwrap();
                sum = sum.wrapping_add(first_word(&r));
            }
            std::hint::black_box(sum);
        }
    }
    start.elapsed()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child_main(&spec);
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("single") {
        // `records single KIND N`: one workload alone (for callgrind).
        let n = args.get(3).map_or(1_000_000, |s| s.parse().expect("N"));
        std::hint::black_box(single(&args[2], n));
        return;
    }
    let rounds: usize = args.get(1).map_or(5, |s| s.parse().expect("ROUNDS"));
    let n: u64 = args
        .get(2)
        .map_or(2_000_000, |s| s.parse().expect("ENTRIES"));
    println!(
        "records vs fixed ring: {n} entries per run, {rounds} rounds, medians in M entries/s \
         (24-byte records = 16-byte completion + one 4-byte attribute; fixed = Completion)"
    );
    println!("| workload | records (M/s) | fixed (M/s) | ratio records/fixed |");
    println!("|----------|---------------|-------------|---------------------|");
    type Run = Box<dyn Fn() -> Duration>;
    let cases: Vec<(&str, Run, Run)> = vec![
        (
            "one thread, write then read (reserve+attrs / push)",
            Box::new(move || single("records", n)),
            Box::new(move || single("fixed", n)),
        ),
        (
            "one thread, write then read (push 24 B copy / push)",
            Box::new(move || single("raw", n)),
            Box::new(move || single("fixed", n)),
        ),
        (
            "one thread, MPSC ring, write then read (reserve+attrs / push)",
            Box::new(move || single("records-mpsc", n)),
            Box::new(move || single("fixed-mpsc", n)),
        ),
        (
            "threads SPSC, reserve+attrs / push, read / pop",
            Box::new(move || threads_records(Shape::Spsc, n, true)),
            Box::new(move || threads_fixed(Shape::Spsc, n)),
        ),
        (
            "threads SPSC, push 24 B copy / push, read / pop",
            Box::new(move || threads_records(Shape::Spsc, n, false)),
            Box::new(move || threads_fixed(Shape::Spsc, n)),
        ),
        (
            "threads SPSC, batch reads of 64",
            Box::new(move || threads_records(Shape::SpscBatch, n, true)),
            Box::new(move || threads_fixed(Shape::SpscBatch, n)),
        ),
        (
            "threads MPSC, 2 producers",
            Box::new(move || threads_records(Shape::Mpsc2, n, true)),
            Box::new(move || threads_fixed(Shape::Mpsc2, n)),
        ),
        (
            "processes SPSC (memfd), batch reads",
            Box::new(move || processes(true, n)),
            Box::new(move || processes(false, n)),
        ),
    ];
    for (name, rec, fix) in cases {
        let (mut r, mut f) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            r.push(n as f64 / rec().as_secs_f64() / 1e6);
            f.push(n as f64 / fix().as_secs_f64() / 1e6);
        }
        let (r, f) = (median(r), median(f));
        println!("| {name} | {r:.1} | {f:.1} | {:.2}x |", r / f);
    }
}

/// The first 8 payload bytes of `r`, copied out.
#[inline(always)]
fn first_word(r: &ring_core::record::RecordView<'_>) -> u64 {
    let mut b = [0u8; 8];
    r.copy_to(0, &mut b);
    u64::from_le_bytes(b)
}
