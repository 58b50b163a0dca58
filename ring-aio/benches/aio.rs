//! Random 4 KiB preads from a page-cached file at queue depth 1, 32 and 256, one submitting
//! thread: ring-aio against glibc POSIX AIO (aio_read + aio_suspend), io_uring
//! (IORING_OP_READ), tokio's spawn_blocking and a hand-written thread pool with
//! crossbeam-channel. Prints operations per second and ratios, and the share of a ring-aio
//! operation's worker time spent posting its completion.
//!
//! ```text
//! cargo bench -p ring-aio --bench aio [-- --file-mib 256 --ops 200000 --workers N]
//! ```
//!
//! `--workers` (default: twice the CPUs) bounds the threads of ring-aio's pool, of tokio's
//! blocking pool and of the hand-written pool alike (glibc's POSIX AIO runs one file's requests
//! on one thread whatever it is given). Reads from the page cache keep a CPU busy for their
//! whole length, so threads beyond the CPUs only take turns: on the 2-CPU test machine, 4
//! workers gave ring-aio 3.35-3.65x POSIX AIO at depth 32 (with `ring_aio::Reaper`) where 16
//! gave 2.48-2.90x, in runs that alternated the two.
//!
//! `AIO_DEPTHS=1,32` picks the queue depths; `AIO_SPIN=N` sets how many polls ring-aio's
//! reaping consumer makes before it sleeps (ring-core's default is 100). `--only NAME` runs
//! one method (`ring-aio`, `posix-aio`, `io_uring`, `tokio`, `crossbeam`, or `posting` for
//! the posting share alone); `ring-aio-min1`, `ring-aio-reaper` and `ring-aio-tuned` pick one
//! of ring-aio's three reapers. The posting share runs with one worker per spare CPU and with
//! `--workers`, under each reaper; `--posting-workers N` and `--posting-reaper NAME` (`min1`,
//! `reaper` or `tuned`) run one of those alone; `--posting-clock cpu` times it on the workers'
//! thread CPU clock instead of the monotonic clock (`ring_aio::Timing`).
//!
//! ring-aio runs three times per depth: with a reaper that waits for one completion
//! (`min = 1`, as every peer's loop does) through the consumer's `reap`; the same through
//! `ring_aio::Reaper` (adaptive yielding polls before it sleeps); and with a tuned reaper
//! (`--reap-div N`, default 2: it waits for `in_flight / N` completions, so that the ring's
//! wake-up target wakes it once per that many; `--reap-yields N`, default 20: it first polls
//! N times, yielding the CPU between polls). A wake-up is a system call made by the worker that posts the completion, and on a
//! virtual machine one that wakes an idle vCPU costs microseconds: the tuned reaper is how a
//! program that submits and reaps on one thread avoids most of them. Each run prints the
//! ring's `wakeups` and `sleeps` counters per operation.
//!
//! The file (`$TMPDIR/ring-aio-bench-<MiB>.dat`) is written once and read through before the
//! measurements so that it sits in the page cache.

use ring_aio::{
    Backpressure, CpuSet, Op, Output, Pool, PoolConfig, Reaper, Submission, SubmissionId, Target,
    Timing,
};
use ring_core::{Completion, Config, Mode, Ring};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const BLOCK: usize = 4096;

#[derive(Clone, Copy)]
struct Params {
    fd: i32,
    blocks: u64,
    ops: usize,
    workers: usize,
    /// ring-aio's `PoolConfig::worker_cpus` (the peers' pools are never pinned).
    worker_cpus: Option<CpuSet>,
}

/// Block offsets drawn by xorshift (the same sequence for every method).
fn offsets(blocks: u64, n: usize) -> Vec<u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % blocks) * BLOCK as u64
        })
        .collect()
}

fn check(r: isize) {
    assert_eq!(r, BLOCK as isize, "short or failed read");
}

/// What a ring-aio run measured besides its rate.
#[derive(Clone, Copy, Default)]
struct Extra {
    /// With timing: CPU ns per operation running it, and posting its completion.
    times: Option<(f64, f64, f64)>,
    /// Wake-ups issued by the workers (the ring's `wakeups` counter), per operation.
    wakeups: f64,
    /// Times the reaper went to sleep, per operation.
    sleeps: f64,
    /// The submitting and reaping thread's CPU time per operation (ns).
    reaper_ns: f64,
    /// Completions per reaping round (and so submissions per batch).
    batch: f64,
}

/// ring-aio: keep `depth` preads in flight, reap, take each buffer back and resubmit.
///
/// The reaper's policy.
#[derive(Clone, Copy)]
struct Policy {
    /// 0 waits for one completion (`min = 1`), as POSIX AIO's `aio_suspend`, io_uring's
    /// `submit_and_wait(1)` and the channels' `recv` do; `N` waits for `max(1, in_flight / N)`
    /// (a sleeping reaper is then woken once per that many completions, by the ring's wake-up
    /// target; they are in flight, so the wait ends).
    div: usize,
    /// Polls before a wait that may sleep, yielding the CPU between them (the workers run
    /// meanwhile, and a reaper that finds its completions this way needs no wake-up).
    yields: usize,
    /// Waits through `ring_aio::Reaper` (adaptive yielding polls, then sleep) instead of
    /// the consumer's `reap`.
    adaptive: bool,
}

impl Policy {
    /// Reaping as the peers do: one completion, sleeping when there is none.
    const ONE: Policy = Policy {
        div: 0,
        yields: 0,
        adaptive: false,
    };
    /// One completion, through `ring_aio::Reaper`.
    const ADAPTIVE: Policy = Policy {
        div: 0,
        yields: 0,
        adaptive: true,
    };

    fn describe(&self) -> String {
        let min = match self.div {
            0 => "min 1".to_string(),
            d => format!("min in flight / {d}"),
        };
        if self.adaptive {
            return format!("ring_aio::Reaper {min}");
        }
        format!("reaper {min}, {} yielding polls", self.yields)
    }
}

fn ring_aio(
    p: &Params,
    offs: &[u64],
    depth: usize,
    timing: Timing,
    policy: Policy,
) -> (f64, Extra) {
    let Policy {
        div,
        yields,
        adaptive,
    } = policy;
    let ring = Ring::<Completion>::create_heap(
        Config::new((depth as u32).next_power_of_two().max(64)).mode(Mode::Mpsc),
    )
    .unwrap();
    let target = Target::new(&ring).unwrap();
    let pool = Pool::new(
        PoolConfig::new()
            .max_workers(p.workers.min(depth))
            .min_workers(p.workers.min(depth))
            .queue_depth(depth)
            .backpressure(Backpressure::Fail)
            .timing(timing)
            .worker_cpus(p.worker_cpus),
    )
    .unwrap();
    let mut reaper = Reaper::new(&ring).unwrap();
    if let Some(spin) = std::env::var("AIO_SPIN").ok().and_then(|v| v.parse().ok()) {
        reaper.consumer().set_spin(spin);
    }
    let mut done = vec![Completion::default(); depth];
    let mut next = 0;
    let mut finished = 0;
    let start = Instant::now();
    let cpu0 = thread_cpu_ns();
    let mut rounds = 0u64;
    let mut spare: Vec<Vec<u8>> = (0..depth).map(|_| vec![0u8; BLOCK]).collect();
    while finished < offs.len() {
        let mut subs = Vec::new();
        while next < offs.len() && (next - finished) < depth {
            let buf = spare.pop().unwrap();
            subs.push(Submission::new(Op::pread(p.fd, buf, offs[next]), &target));
            next += 1;
        }
        if !subs.is_empty() {
            let b = pool.submit_batch(subs);
            assert!(b.error.is_none(), "{:?}", b.error);
        }
        let in_flight = next - finished;
        let min = match div {
            0 => 1,
            d => (in_flight / d).max(1),
        };
        let mut n = 0;
        let rx = reaper.consumer();
        for _ in 0..yields {
            n += rx.reap(&mut done[n..], 0, Some(Duration::ZERO)).unwrap();
            if n >= min {
                break;
            }
            std::thread::yield_now();
        }
        if n < min {
            let left = &mut done[n..];
            n += if adaptive {
                reaper.reap(left, min - n, Some(Duration::from_secs(30)))
            } else {
                rx.reap(left, min - n, Some(Duration::from_secs(30)))
            }
            .unwrap();
        }
        assert!(n > 0);
        for c in &done[..n] {
            check(c.result as isize);
            match pool.take_output(SubmissionId(c.user_data)) {
                Some(Output::Buffer(mut b)) => {
                    b.resize(BLOCK, 0);
                    spare.push(b);
                }
                other => panic!("{other:?}"),
            }
        }
        finished += n;
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let reaper_ns = thread_cpu_ns().saturating_sub(cpu0) as f64 / offs.len() as f64;
    let ops_s = offs.len() as f64 / secs;
    let times = (timing != Timing::Off).then(|| {
        let s = pool.stats();
        let n = s.completed as f64;
        (
            s.run_ns as f64 / n,
            s.post_ns as f64 / n,
            s.clock_ns as f64 / n,
        )
    });
    let c = ring.counters();
    let n = offs.len() as f64;
    let extra = Extra {
        times,
        wakeups: c.wakeups as f64 / n,
        sleeps: c.sleeps as f64 / n,
        reaper_ns,
        batch: n / rounds.max(1) as f64,
    };
    (ops_s, extra)
}

/// One reading of the clock `id`, in nanoseconds.
fn clock_ns(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The calling thread's CPU clock (what the pool's `Timing::ThreadCpu` reads), in nanoseconds.
fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// The process's CPU time (every thread's, those that exited included), in nanoseconds.
fn process_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// The monotonic clock (what the pool's `Timing::Elapsed` reads), in nanoseconds.
fn mono_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// What one read of `clock` adds to an interval it closes: the median time between two
/// back-to-back reads. Part of a read's cost lands inside every measured interval, so
/// `timing`'s per-operation figures include it once each (run and posting are each closed by
/// one read). The thread CPU clock is a system call on a VM (no vDSO), some 550 ns; the
/// monotonic clock some 25 ns.
fn clock_floor_ns(clock: Timing) -> f64 {
    let read = match clock {
        Timing::ThreadCpu => thread_cpu_ns,
        _ => mono_ns,
    };
    let mut d: Vec<u64> = (0..20_001)
        .map(|_| {
            let a = read();
            read().saturating_sub(a)
        })
        .collect();
    d.sort_unstable();
    d[d.len() / 2] as f64
}

/// The CPUs this thread may run on, split into the first and the rest (`None` with fewer than
/// two).
fn split_cpus() -> Option<(CpuSet, CpuSet)> {
    let all = CpuSet::current().ok()?;
    let mut cpus = all.iter();
    let (mut first, mut rest) = (CpuSet::new(), CpuSet::new());
    first.insert(cpus.next()?);
    for c in cpus {
        rest.insert(c);
    }
    (!rest.is_empty()).then_some((first, rest))
}

/// glibc POSIX AIO: `depth` aiocbs; aio_suspend on the in-flight ones, then aio_error on each.
fn posix_aio(p: &Params, offs: &[u64], depth: usize) -> f64 {
    let mut bufs: Vec<Vec<u8>> = (0..depth).map(|_| vec![0u8; BLOCK]).collect();
    // SAFETY: aiocb is plain data; zero is its documented initial state.
    let mut cbs: Vec<libc::aiocb> = (0..depth).map(|_| unsafe { std::mem::zeroed() }).collect();
    let mut busy = vec![false; depth];
    let mut next = 0;
    let mut finished = 0;
    let start = Instant::now();
    let mut list: Vec<*const libc::aiocb> = Vec::with_capacity(depth);
    while finished < offs.len() {
        for i in 0..depth {
            if !busy[i] && next < offs.len() {
                let cb = &mut cbs[i];
                cb.aio_fildes = p.fd;
                cb.aio_buf = bufs[i].as_mut_ptr().cast();
                cb.aio_nbytes = BLOCK;
                cb.aio_offset = offs[next] as i64;
                // SAFETY: the aiocb and its buffer stay in place and untouched until the
                // request completes (checked with aio_error below).
                assert_eq!(unsafe { libc::aio_read(cb) }, 0);
                busy[i] = true;
                next += 1;
            }
        }
        list.clear();
        list.extend((0..depth).filter(|&i| busy[i]).map(|i| &cbs[i] as *const _));
        // SAFETY: every pointer names a submitted aiocb.
        unsafe { libc::aio_suspend(list.as_ptr(), list.len() as i32, std::ptr::null()) };
        for i in 0..depth {
            // SAFETY: a submitted aiocb.
            if busy[i] && unsafe { libc::aio_error(&cbs[i]) } != libc::EINPROGRESS {
                // SAFETY: the request has completed; aio_return collects it once.
                check(unsafe { libc::aio_return(&mut cbs[i]) });
                busy[i] = false;
                finished += 1;
            }
        }
    }
    offs.len() as f64 / start.elapsed().as_secs_f64()
}

/// io_uring: IORING_OP_READ with `depth` entries.
fn io_uring(p: &Params, offs: &[u64], depth: usize) -> f64 {
    use io_uring::{opcode, types, IoUring};
    let mut ring = IoUring::new(depth.next_power_of_two() as u32).unwrap();
    let mut bufs: Vec<Vec<u8>> = (0..depth).map(|_| vec![0u8; BLOCK]).collect();
    let mut free: Vec<usize> = (0..depth).collect();
    let mut next = 0;
    let mut finished = 0;
    let start = Instant::now();
    while finished < offs.len() {
        {
            let mut sq = ring.submission();
            while next < offs.len() {
                let Some(i) = free.pop() else { break };
                let e = opcode::Read::new(types::Fd(p.fd), bufs[i].as_mut_ptr(), BLOCK as u32)
                    .offset(offs[next])
                    .build()
                    .user_data(i as u64);
                // SAFETY: the buffer stays alive and untouched until its completion.
                unsafe { sq.push(&e).unwrap() };
                next += 1;
            }
        }
        ring.submit_and_wait(1).unwrap();
        for cqe in ring.completion() {
            check(cqe.result() as isize);
            free.push(cqe.user_data() as usize);
            finished += 1;
        }
    }
    offs.len() as f64 / start.elapsed().as_secs_f64()
}

/// tokio: spawn_blocking(pread), results back through a std channel.
fn tokio_blocking(p: &Params, offs: &[u64], depth: usize) -> f64 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(p.workers.min(depth))
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<(isize, Vec<u8>)>();
    let mut spare: Vec<Vec<u8>> = (0..depth).map(|_| vec![0u8; BLOCK]).collect();
    let fd = p.fd;
    let mut next = 0;
    let mut finished = 0;
    let start = Instant::now();
    while finished < offs.len() {
        while next < offs.len() && next - finished < depth {
            let mut buf = spare.pop().unwrap();
            let off = offs[next] as i64;
            let tx = tx.clone();
            rt.spawn_blocking(move || {
                // SAFETY: `buf` is owned by the closure and BLOCK bytes long.
                let r = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), BLOCK, off) };
                let _ = tx.send((r, buf));
            });
            next += 1;
        }
        let (r, buf) = rx.recv().unwrap();
        check(r);
        spare.push(buf);
        finished += 1;
        while let Ok((r, buf)) = rx.try_recv() {
            check(r);
            spare.push(buf);
            finished += 1;
        }
    }
    offs.len() as f64 / start.elapsed().as_secs_f64()
}

/// A hand-written pool: workers take (offset, buffer) from one crossbeam channel and send the
/// result back on another.
fn crossbeam_pool(p: &Params, offs: &[u64], depth: usize) -> f64 {
    let (jtx, jrx) = crossbeam_channel::bounded::<(u64, Vec<u8>)>(depth);
    let (rtx, rrx) = crossbeam_channel::bounded::<(isize, Vec<u8>)>(depth);
    let fd = p.fd;
    let workers: Vec<_> = (0..p.workers.min(depth))
        .map(|_| {
            let (jrx, rtx) = (jrx.clone(), rtx.clone());
            std::thread::spawn(move || {
                while let Ok((off, mut buf)) = jrx.recv() {
                    // SAFETY: `buf` is owned here and BLOCK bytes long.
                    let r = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), BLOCK, off as i64) };
                    if rtx.send((r, buf)).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    drop((jrx, rtx));
    let mut spare: Vec<Vec<u8>> = (0..depth).map(|_| vec![0u8; BLOCK]).collect();
    let mut next = 0;
    let mut finished = 0;
    let start = Instant::now();
    while finished < offs.len() {
        while next < offs.len() && next - finished < depth {
            jtx.send((offs[next], spare.pop().unwrap())).unwrap();
            next += 1;
        }
        let (r, buf) = rrx.recv().unwrap();
        check(r);
        spare.push(buf);
        finished += 1;
        while let Ok((r, buf)) = rrx.try_recv() {
            check(r);
            spare.push(buf);
            finished += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    drop(jtx);
    for w in workers {
        w.join().unwrap();
    }
    offs.len() as f64 / secs
}

fn prepare(mib: u64) -> std::fs::File {
    let path = std::env::temp_dir().join(format!("ring-aio-bench-{mib}.dat"));
    let want = mib << 20;
    if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(want) {
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk: Vec<u8> = (0..1u32 << 20).map(|i| (i * 2654435761) as u8).collect();
        for _ in 0..mib {
            f.write_all(&chunk).unwrap();
        }
        f.sync_all().unwrap();
    }
    let mut f = std::fs::File::open(&path).unwrap();
    // Read it all once: into the page cache.
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf).unwrap() > 0 {}
    f
}

fn main() {
    let mut args = std::env::args().skip(1);
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (mut mib, mut ops, mut workers, mut reps) = (256u64, 200_000usize, 2 * cpus, 3usize);
    let mut only: Option<String> = None;
    // The posting share's runs: which worker counts and reapers (all by default).
    let mut posting_workers: Option<usize> = None;
    let mut posting_reaper: Option<String> = None;
    let mut clock = Timing::Elapsed;
    let mut tuned = Policy {
        div: 2,
        yields: 20,
        adaptive: false,
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--file-mib" => mib = args.next().and_then(|v| v.parse().ok()).expect("MiB"),
            "--ops" => ops = args.next().and_then(|v| v.parse().ok()).expect("N"),
            "--workers" => workers = args.next().and_then(|v| v.parse().ok()).expect("N"),
            "--reps" => reps = args.next().and_then(|v| v.parse().ok()).expect("N"),
            "--only" => only = args.next(),
            "--posting-workers" => {
                posting_workers = Some(args.next().and_then(|v| v.parse().ok()).expect("N"))
            }
            "--posting-reaper" => posting_reaper = args.next(),
            "--posting-clock" => {
                clock = match args.next().as_deref() {
                    Some("cpu") => Timing::ThreadCpu,
                    Some("elapsed") => Timing::Elapsed,
                    other => panic!("--posting-clock cpu|elapsed, not {other:?}"),
                }
            }
            "--reap-div" => tuned.div = args.next().and_then(|v| v.parse().ok()).expect("N"),
            "--reap-yields" => tuned.yields = args.next().and_then(|v| v.parse().ok()).expect("N"),
            _ => {} // `--bench` and other harness arguments
        }
    }
    let file = prepare(mib);
    let p = Params {
        fd: file.as_raw_fd(),
        blocks: (mib << 20) / BLOCK as u64,
        ops,
        workers,
        worker_cpus: None,
    };
    println!(
        "random {BLOCK}-byte preads from a {mib} MiB page-cached file, {} ops per run (depth 1: a quarter), best of {reps}, up to {} worker threads, {} CPUs",
        p.ops,
        p.workers,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:>5} {:>12} {:>12} {:>12} {:>12} {:>12}   ratios ring-aio / (posix-aio, io_uring, tokio, crossbeam)",
        "depth", "ring-aio", "posix-aio", "io_uring", "tokio-sb", "crossbeam"
    );
    let depths: Vec<usize> = match std::env::var("AIO_DEPTHS") {
        Ok(v) => v.split(',').map(|d| d.parse().expect("depth")).collect(),
        Err(_) => vec![1, 32, 256],
    };
    let depths = if only.as_deref() == Some("posting") {
        Vec::new()
    } else {
        depths
    };
    for &depth in &depths {
        let n = if depth == 1 { p.ops / 4 } else { p.ops };
        let offs = offsets(p.blocks, n);
        // Best of `reps` runs each (the machine is shared: the best run is the least
        // disturbed one); a method left out with --only shows as NaN. The process's CPU time
        // per operation (every thread's, the least of the runs) is kept too: what a method
        // costs, less sensitive to other load on the machine than its rate.
        let cpu = std::cell::RefCell::new(Vec::<(String, f64)>::new());
        let run = |name: &str, f: &dyn Fn() -> f64| -> f64 {
            if only.as_deref().is_some_and(|o| !name.starts_with(o)) {
                return f64::NAN;
            }
            let mut best = f64::INFINITY;
            let rate = (0..reps)
                .map(|_| {
                    let c0 = process_cpu_ns();
                    let r = f();
                    best = best.min(process_cpu_ns().saturating_sub(c0) as f64 / n as f64);
                    r
                })
                .fold(0.0, f64::max);
            cpu.borrow_mut().push((name.to_string(), best));
            rate
        };
        let extra = std::cell::Cell::new(Extra::default());
        let ra = run("ring-aio-min1", &|| {
            let (r, e) = ring_aio(&p, &offs, depth, Timing::Off, Policy::ONE);
            extra.set(e);
            r
        });
        let extra_b = std::cell::Cell::new(Extra::default());
        let rb = if tuned.div > 0 || tuned.yields > 0 {
            run("ring-aio-tuned", &|| {
                let (r, e) = ring_aio(&p, &offs, depth, Timing::Off, tuned);
                extra_b.set(e);
                r
            })
        } else {
            f64::NAN
        };
        let extra_c = std::cell::Cell::new(Extra::default());
        let rc = run("ring-aio-reaper", &|| {
            let (r, e) = ring_aio(&p, &offs, depth, Timing::Off, Policy::ADAPTIVE);
            extra_c.set(e);
            r
        });
        let pa = run("posix-aio", &|| posix_aio(&p, &offs, depth));
        let iu = run("io_uring", &|| io_uring(&p, &offs, depth));
        let tk = run("tokio", &|| tokio_blocking(&p, &offs, depth));
        let cb = run("crossbeam", &|| crossbeam_pool(&p, &offs, depth));
        println!(
            "{depth:>5} {:>10.0}/s {:>10.0}/s {:>10.0}/s {:>10.0}/s {:>10.0}/s   {:.2}x {:.2}x {:.2}x {:.2}x",
            ra,
            pa,
            iu,
            tk,
            cb,
            ra / pa,
            ra / iu,
            ra / tk,
            ra / cb
        );
        let cpu = cpu.into_inner();
        if !cpu.is_empty() {
            let list: Vec<String> = cpu
                .iter()
                .map(|(name, ns)| format!("{name} {ns:.0}"))
                .collect();
            println!(
                "      process CPU ns per op (all threads, least of the runs): {}",
                list.join(", ")
            );
        }
        let e = extra.get();
        if !ra.is_nan() {
            println!(
                "      ring-aio, reaper min = 1 (last run): {:.3} wake-ups and {:.3} reaper sleeps per operation; reaper {:.0} ns CPU per op, {:.1} per round",
                e.wakeups, e.sleeps, e.reaper_ns, e.batch
            );
        }
        for (policy, r, e) in [(tuned, rb, &extra_b), (Policy::ADAPTIVE, rc, &extra_c)] {
            if r.is_nan() {
                continue;
            }
            let e = e.get();
            println!(
                "      ring-aio, {}: {r:.0}/s   {:.2}x {:.2}x {:.2}x {:.2}x; \
                 {:.3} wake-ups and {:.3} reaper sleeps per operation; reaper {:.0} ns CPU per op, {:.1} per round (last run)",
                policy.describe(),
                r / pa,
                r / iu,
                r / tk,
                r / cb,
                e.wakeups,
                e.sleeps,
                e.reaper_ns,
                e.batch
            );
        }
    }
    // The posting share: the workers' time spent posting (output hand-back, ring push, waking
    // the sleeping consumer) against running the pread; with one worker per spare CPU and
    // with the full worker count. Timed on the monotonic clock (`Timing::Elapsed`, a vDSO
    // read of some 25 ns) unless `--posting-clock cpu` asks for the thread CPU clock, a system
    // call on a VM (some 550 ns, five times the posting it measures; its cache and TLB
    // disturbance lands in the posting interval right after it, and runs scattered by
    // several points of share).
    // Each measured interval is closed by one read of the clock, whose own cost partly lands
    // inside it. Taken off two ways: the median of back-to-back reads here (a quiet thread),
    // and the mean of an empty interval measured by the workers themselves after each
    // operation (`Stats::clock_ns`: the same threads under the same load, so what preemption
    // adds at a clock read lands in it too).
    if only.as_deref().is_some_and(|o| o != "posting") {
        return;
    }
    let offs = offsets(p.blocks, p.ops);
    let clock_ns = clock_floor_ns(clock);
    let clock_name = match clock {
        Timing::ThreadCpu => "thread CPU clock",
        _ => "monotonic clock",
    };
    println!("{clock_name}: {clock_ns:.0} ns per read (taken off each interval)");
    let policies = [
        ("min1", Policy::ONE),
        ("reaper", Policy::ADAPTIVE),
        ("tuned", tuned),
    ];
    let counts = match posting_workers {
        Some(w) => vec![w.max(1)],
        None => vec![cpus.saturating_sub(1).max(1), p.workers],
    };
    for (workers, d) in counts.into_iter().flat_map(|w| {
        policies
            .iter()
            .filter(|(name, _)| posting_reaper.as_deref().map_or(true, |r| r == *name))
            .map(move |&(_, d)| (w, d))
    }) {
        // One worker per spare CPU: the submitting and reaping thread (this one) on the first
        // CPU, the workers on the others (`PoolConfig::worker_cpus`). Left to the scheduler,
        // some runs posted 3-4 times slower, with the worker and this thread seen on the same
        // CPU, in runs that came and went with the placement. The full worker count (more
        // workers than CPUs) runs unpinned, as the peers do.
        let pins = (workers < cpus).then(split_cpus).flatten();
        let q = Params {
            workers,
            worker_cpus: pins.map(|(_, rest)| rest),
            ..p
        };
        let own = CpuSet::current().ok();
        if let Some((first, _)) = pins {
            first.pin_current_thread().expect("pin the reaping thread");
        }
        let reaper = match pins {
            Some((first, rest)) => format!(
                "{}, reaper on CPU {:?}, workers on {:?}",
                d.describe(),
                first,
                rest
            ),
            None => d.describe(),
        };
        // `reps` runs: the last one's figures, and the median and range of the share netted
        // of the workers' own empty interval (the runs differ by what else the machine runs).
        let mut shares = Vec::new();
        let mut last = None;
        for _ in 0..reps.max(1) {
            let (ops_s, extra) = ring_aio(&q, &offs, 32, clock, d);
            if let Some((run_ns, post_ns, wclock)) = extra.times {
                let (wrun, wpost) = ((run_ns - wclock).max(0.0), (post_ns - wclock).max(0.0));
                shares.push(wpost / (wrun + wpost) * 100.0);
                // Each run's figures: runs scatter by what else the machine runs (a run whose
                // worker is preempted inside its postings shows it here).
                println!(
                    "    run: {ops_s:.0}/s, pread {run_ns:.0} ns, posting {post_ns:.0} ns (as \
                     read), empty interval {wclock:.0} ns, share {:.1}%, {:.1} completions per \
                     reap",
                    shares[shares.len() - 1],
                    extra.batch
                );
                last = Some((ops_s, extra, run_ns, post_ns, wclock));
            }
        }
        if let (Some(_), Some(own)) = (pins, own) {
            own.pin_current_thread().expect("restore the thread's CPUs");
        }
        let Some((ops_s, extra, run_ns, post_ns, wclock)) = last else {
            continue;
        };
        shares.sort_by(f64::total_cmp);
        let (run, post) = ((run_ns - clock_ns).max(0.0), (post_ns - clock_ns).max(0.0));
        let (wrun, wpost) = ((run_ns - wclock).max(0.0), (post_ns - wclock).max(0.0));
        println!(
            "completion posting, depth 32, {workers} workers, {reaper} ({ops_s:.0}/s with timing, \
             {clock_name}): {post:.0} ns per op ({post_ns:.0} as read) = {:.1}% of a worker's \
             time per op (pread {run:.0} ns + posting; {:.1}% as read); net of the workers' own \
             empty interval ({wclock:.0} ns): {wpost:.0} ns = {:.1}%",
            post / (run + post) * 100.0,
            post_ns / (run_ns + post_ns) * 100.0,
            wpost / (wrun + wpost) * 100.0,
        );
        println!(
            "  {:.3} wake-ups and {:.3} reaper sleeps per operation; over {} runs the share net \
             of the workers' own interval: median {:.1}%, {:.1}-{:.1}%",
            extra.wakeups,
            extra.sleeps,
            shares.len(),
            shares[shares.len() / 2],
            shares[0],
            shares[shares.len() - 1]
        );
    }
}
