//! Two processes, one ring in `/dev/shm`: throughput and round-trip latency.
//!
//! ```text
//! cargo run --release -p ring-core --example demo
//! ```
//!
//! The parent creates three rings under `/dev/shm` (names include its pid) and starts a second
//! copy of this program with `--child <base name>`, which attaches to them with
//! [`Ring::open_shm`]. As soon as the child reports that it has attached, the parent removes
//! the names ([`ring_core::Region::unlink`]): both processes keep their mappings and nothing is
//! left behind even if either is killed later. Before that moment a SIGINT/SIGTERM handler
//! removes them.
//!
//! 1. Throughput: the child streams 2 x 2,500,000 [`Completion`]s from two producer threads
//!    into an MPSC ring, in batches (zero-copy `reserve` + `commit`, and `push_some`); the
//!    parent consumes them in place with `view`, checks per-producer order and completeness,
//!    and prints entries/s, MB/s and the ring's counters.
//! 2. Latency: two SPSC rings carry a ping-pong between the processes, both sides
//!    busy-polling; the parent prints the round-trip percentiles.

use ring_core::{Completion, Config, Consumer, Mode, PopError, Producer, Ring};
use std::error::Error;
use std::ffi::{c_char, c_int, CString};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

/// Producer threads in the child.
const PRODUCERS: u64 = 2;
/// Entries per producer thread.
const PER_PRODUCER: u64 = 2_500_000;
/// Entries per batch.
const BATCH: usize = 64;
/// Capacity of the throughput ring.
const DATA_CAPACITY: u32 = 4096;
/// Measured round trips, after the warm-up ones.
const ROUND_TRIPS: usize = 100_000;
const WARMUP: usize = 5_000;
/// The latency phase stops early on a machine too busy to finish within this.
const LATENCY_BUDGET: Duration = Duration::from_secs(15);
/// Bound on every wait on the other process.
const DEADLINE: Duration = Duration::from_secs(60);
/// Cookies with a meaning of their own on the ping ring.
const GO: u64 = u64::MAX - 1;
const STOP: u64 = u64::MAX;

/// The `/dev/shm` paths the signal handler removes (NUL-terminated, leaked on purpose).
static CLEANUP: [AtomicPtr<c_char>; 3] = [
    AtomicPtr::new(std::ptr::null_mut()),
    AtomicPtr::new(std::ptr::null_mut()),
    AtomicPtr::new(std::ptr::null_mut()),
];

/// SIGINT/SIGTERM before the names are unlinked: remove them and exit at once. Only
/// async-signal-safe calls (atomic loads, `unlink`, `_exit`).
extern "C" fn on_signal(sig: c_int) {
    for slot in &CLEANUP {
        let p = slot.load(Ordering::SeqCst);
        if !p.is_null() {
            // SAFETY: `p` is a NUL-terminated path leaked by `register_cleanup`, never freed.
            unsafe { libc::unlink(p) };
        }
    }
    // SAFETY: _exit is async-signal-safe and ends the process without running destructors.
    unsafe { libc::_exit(128 + sig) }
}

fn set_signal_handlers(handler: libc::sighandler_t) {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `handler` is SIG_DFL or `on_signal`, which only makes async-signal-safe calls.
        unsafe { libc::signal(sig, handler) };
    }
}

fn register_cleanup(names: &[String; 3]) -> Result<()> {
    for (slot, name) in CLEANUP.iter().zip(names) {
        let path = CString::new(format!("{}/{name}", ring_core::region::SHM_DIR))?;
        slot.store(path.into_raw(), Ordering::SeqCst);
    }
    set_signal_handlers(on_signal as extern "C" fn(c_int) as libc::sighandler_t);
    Ok(())
}

/// After the unlink: default signal behaviour again (nothing is left to clean up).
fn unregister_cleanup() {
    set_signal_handlers(libc::SIG_DFL);
}

fn entry(p: u64, seq: u64) -> Completion {
    Completion::new(p << 32 | seq, seq as i32, p as u32)
}

fn names(base: &str) -> [String; 3] {
    [
        format!("{base}-data"),
        format!("{base}-ping"),
        format!("{base}-pong"),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("--child") => match args.get(2) {
            Some(base) => child(base),
            None => Err("--child needs the ring name".into()),
        },
        Some(other) => Err(format!("unknown argument {other:?} (run without arguments)").into()),
        None => parent(),
    };
    if let Err(e) = result {
        let who = if args.len() > 1 { "demo child" } else { "demo" };
        eprintln!("{who}: error: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Parent.

/// The child process; killed if still running when dropped.
struct ChildProc {
    child: Child,
    lines: mpsc::Receiver<String>,
    deadline: Instant,
    exited: bool,
}

impl ChildProc {
    /// Waits for the next stdout line of the child.
    fn line(&mut self, within: Duration) -> Result<String> {
        self.lines
            .recv_timeout(within)
            .map_err(|e| format!("no word from the child process ({e})").into())
    }

    /// Fails if the child has exited or the deadline has passed.
    fn check(&mut self) -> Result<()> {
        if Instant::now() > self.deadline {
            return Err("deadline expired waiting on the child process".into());
        }
        if let Some(status) = self.child.try_wait()? {
            self.exited = true;
            return Err(format!("child process exited unexpectedly: {status}").into());
        }
        Ok(())
    }

    fn wait(&mut self, within: Duration) -> Result<()> {
        let until = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.exited = true;
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("child process failed: {status}").into())
                };
            }
            if Instant::now() > until {
                return Err("child process did not exit in time".into());
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if !self.exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn parent() -> Result<()> {
    let t0 = Instant::now();
    let base = format!("ring-core-demo-{}", std::process::id());
    let names = names(&base);
    register_cleanup(&names)?;

    let data_cfg = Config::new(DATA_CAPACITY).mode(Mode::Mpsc);
    // The errors name the file (for example "/dev/shm/...: create shm file failed: ...").
    let data = Ring::<Completion>::create_shm(&names[0], data_cfg)?;
    let ping = Ring::<Completion>::create_shm(&names[1], Config::new(64).wait(false))?;
    let pong = Ring::<Completion>::create_shm(&names[2], Config::new(64).wait(false))?;

    println!("ring-core demo: two processes sharing rings in /dev/shm");
    println!(
        "  data ring: {} x {}-byte Completion, {:?}, {} bytes at {}",
        data.capacity(),
        std::mem::size_of::<Completion>(),
        data.mode(),
        data.memory().len(),
        data.memory()
            .path()
            .map_or("?".into(), |p| p.display().to_string()),
    );

    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(["--child", &base])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting the child process: {e}"))?;
    let out = child.stdout.take().ok_or("no child stdout")?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut child = ChildProc {
        child,
        lines: rx,
        deadline: Instant::now() + DEADLINE,
        exited: false,
    };

    // Once the child has attached, nobody needs the names any more.
    let hello = child.line(Duration::from_secs(10))?;
    if hello != "attached" {
        return Err(format!("unexpected first line from the child: {hello:?}").into());
    }
    data.region().unlink()?;
    ping.region().unlink()?;
    pong.region().unlink()?;
    unregister_cleanup();
    let left: Vec<&String> = names
        .iter()
        .filter(|n| {
            std::path::Path::new(ring_core::region::SHM_DIR)
                .join(n)
                .exists()
        })
        .collect();
    if !left.is_empty() {
        return Err(format!("names still present after unlink: {left:?}").into());
    }
    println!(
        "  child pid {} attached; /dev/shm names removed (the mappings live on)",
        child.child.id()
    );

    let mut ping_tx = ping.producer()?;
    let mut pong_rx = pong.consumer()?;

    // Phase 1: throughput.
    let mut rx = data.consumer()?;
    let total = PRODUCERS * PER_PRODUCER;
    let start = Instant::now();
    push_spin(&mut ping_tx, Completion::new(GO, 0, 0), &mut child)?;
    let mut next = [0u64; PRODUCERS as usize];
    let mut got = 0u64;
    let mut idle = 0u32;
    while got < total {
        match rx.view(1024) {
            Ok(view) => {
                for c in view.iter() {
                    let (p, seq) = (c.user_data >> 32, c.user_data & 0xffff_ffff);
                    let Some(n) = next.get_mut(p as usize) else {
                        return Err(format!("entry from unknown producer: {c:?}").into());
                    };
                    if seq != *n || c != entry(p, seq) {
                        return Err(format!(
                            "producer {p}: expected seq {n}, received {c:?} (lost, duplicated or reordered)"
                        )
                        .into());
                    }
                    *n += 1;
                    got += 1;
                }
            }
            Err(PopError::Empty) => {
                // Three busy threads may share fewer cores: let a producer run now and then.
                idle = idle.wrapping_add(1);
                if idle % 64 == 0 {
                    thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
                if idle % (1 << 16) == 0 {
                    child.check()?;
                }
            }
            Err(e) => return Err(format!("consumer: {e}").into()),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if rx.pop() != Err(PopError::Empty) {
        return Err("an entry beyond the expected ones arrived".into());
    }
    let counters = data.counters();
    let bytes = got * std::mem::size_of::<Completion>() as u64;
    println!();
    println!(
        "throughput: {} entries from {PRODUCERS} producer threads in {secs:.3} s",
        group(got)
    );
    println!(
        "  {:.1} M entries/s, {:.0} MB/s of entries",
        got as f64 / secs / 1e6,
        bytes as f64 / secs / 1e6
    );
    println!("  verified: every entry once, each producer's entries in order");
    println!(
        "  counters: tail {}, head {}, full_refusals {}, discarded {}",
        counters.tail,
        counters.head,
        group(counters.full_refusals),
        counters.discarded
    );
    println!(
        "  (full_refusals: how often a producer found the ring full and had to wait for the \
         consumer, counted once per run of refused attempts, not per retry: nothing is lost, \
         the producer retries; 0 means the consumer always kept up. discarded: reserved slots \
         given up, which consumers skip)"
    );

    // Phase 2: round-trip latency.
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    let mut spins = 0u32;
    let latency_start = Instant::now();
    let mut stopped_early = false;
    for i in 0..(WARMUP + ROUND_TRIPS) as u64 {
        if i % 1024 == 0 && latency_start.elapsed() > LATENCY_BUDGET && !samples.is_empty() {
            stopped_early = true;
            break;
        }
        let sent = Instant::now();
        if ping_tx.push(Completion::new(i, 0, 0)).is_err() {
            return Err("ping ring unexpectedly full".into());
        }
        let back = loop {
            match pong_rx.pop() {
                Ok(c) => break c,
                Err(PopError::Empty) => {
                    // A round trip takes a few hundred spins; far more means the peer is not
                    // running (fewer free cores than busy threads): give up the core.
                    spins = spins.wrapping_add(1);
                    if spins % 1024 == 0 {
                        thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                    if spins % (1 << 20) == 0 {
                        child.check()?;
                    }
                }
                Err(e) => return Err(format!("pong: {e}").into()),
            }
        };
        let ns = sent.elapsed().as_nanos() as u64;
        if back.user_data != i {
            return Err(format!("pong {} for ping {i}", back.user_data).into());
        }
        if i >= WARMUP as u64 {
            samples.push(ns);
        }
    }
    push_spin(&mut ping_tx, Completion::new(STOP, 0, 0), &mut child)?;
    samples.sort_unstable();
    let pct = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!();
    println!(
        "latency: {} round trips over two SPSC rings, both sides busy-polling, no wait block ({} warm-up)",
        group(samples.len() as u64),
        group(WARMUP as u64)
    );
    println!(
        "  p50 {} ns, p90 {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
        group(pct(0.50)),
        group(pct(0.90)),
        group(pct(0.99)),
        group(pct(0.999)),
        group(*samples.last().unwrap_or(&0))
    );
    if stopped_early {
        println!(
            "  (stopped after {} s: the machine is too busy for busy-polling)",
            LATENCY_BUDGET.as_secs()
        );
    }

    child.wait(Duration::from_secs(10))?;
    while let Ok(line) = child.lines.recv_timeout(Duration::from_millis(200)) {
        println!("  child: {line}");
    }
    drop((ping_tx, pong_rx, rx));
    println!();
    println!("done in {:.2} s", t0.elapsed().as_secs_f64());
    Ok(())
}

fn push_spin(tx: &mut Producer<Completion>, c: Completion, child: &mut ChildProc) -> Result<()> {
    let mut c = c;
    let mut spins = 0u32;
    loop {
        match tx.push(c) {
            Ok(()) => return Ok(()),
            Err(ring_core::PushError::Full(back)) => {
                c = back;
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if spins % (1 << 16) == 0 {
                    child.check()?;
                }
            }
            Err(e) => return Err(e.to_string().into()),
        }
    }
}

/// `1234567` as `1,234,567`.
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Child.

/// Gives up when the parent goes away (we are re-parented) or the deadline passes.
#[derive(Copy, Clone)]
struct Watch {
    ppid: libc::pid_t,
    deadline: Instant,
}

impl Watch {
    fn check(&self) -> Result<(), String> {
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } != self.ppid {
            return Err("parent process went away".into());
        }
        if Instant::now() > self.deadline {
            return Err("deadline expired".into());
        }
        Ok(())
    }
}

fn pop_spin(rx: &mut Consumer<Completion>, watch: Watch) -> Result<Completion, String> {
    let mut spins = 0u32;
    loop {
        match rx.pop() {
            Ok(c) => return Ok(c),
            Err(PopError::Empty) => {
                spins = spins.wrapping_add(1);
                if spins % 1024 == 0 {
                    thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
                if spins % (1 << 16) == 0 {
                    watch.check()?;
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Streams `entry(p, 0..PER_PRODUCER)` in batches: even batches are reserved and written in
/// place, odd ones copied with `push_some`.
fn stream(tx: &mut Producer<Completion>, p: u64, watch: Watch) -> Result<u64, String> {
    let mut seq = 0u64;
    let mut buf = Vec::with_capacity(BATCH);
    let mut batches = 0u64;
    let mut waits = 0u32;
    while seq < PER_PRODUCER {
        let want = (PER_PRODUCER - seq).min(BATCH as u64);
        let n = if batches % 2 == 0 {
            match tx.reserve(want as usize) {
                Ok(mut chunk) => {
                    chunk.fill_from((seq..).map(|s| entry(p, s)));
                    chunk.commit() as u64
                }
                Err(ring_core::PushAllError::Full { .. }) => 0,
                Err(e) => return Err(e.to_string()),
            }
        } else {
            buf.clear();
            buf.extend((seq..seq + want).map(|s| entry(p, s)));
            tx.push_some(&buf).map_err(|e| e.to_string())? as u64
        };
        if n == 0 {
            waits = waits.wrapping_add(1);
            if waits % 64 == 0 {
                thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
            if waits % (1 << 16) == 0 {
                watch.check()?;
            }
        } else {
            seq += n;
            batches += 1;
        }
    }
    Ok(batches)
}

fn child(base: &str) -> Result<()> {
    let watch = Watch {
        // SAFETY: getppid has no preconditions.
        ppid: unsafe { libc::getppid() },
        deadline: Instant::now() + DEADLINE,
    };
    let [data_name, ping_name, pong_name] = names(base);
    let data = Ring::<Completion>::open_shm(&data_name)?;
    let ping = Ring::<Completion>::open_shm(&ping_name)?;
    let pong = Ring::<Completion>::open_shm(&pong_name)?;
    if data.mode() != Mode::Mpsc || ping.mode() != Mode::Spsc || pong.mode() != Mode::Spsc {
        return Err("unexpected ring modes".into());
    }
    let mut ping_rx = ping.consumer()?;
    let mut pong_tx = pong.producer()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "attached")?;
        out.flush()?;
    }

    let go = pop_spin(&mut ping_rx, watch)?;
    if go.user_data != GO {
        return Err(format!("expected GO, got {go:?}").into());
    }
    let batches: Vec<Result<u64, String>> = thread::scope(|s| {
        let handles: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let data = &data;
                s.spawn(move || {
                    let mut tx = data.producer().map_err(|e| e.to_string())?;
                    stream(&mut tx, p, watch)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("producer panicked".into())))
            .collect()
    });
    let mut total_batches = 0;
    for b in batches {
        total_batches += b?;
    }

    let mut echoed = 0u64;
    loop {
        let c = pop_spin(&mut ping_rx, watch)?;
        if c.user_data == STOP {
            break;
        }
        let mut c = c;
        let mut spins = 0u32;
        while let Err(e) = pong_tx.push(c) {
            c = e.into_inner();
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins % (1 << 16) == 0 {
                watch.check()?;
            }
        }
        echoed += 1;
    }
    println!(
        "streamed {} entries in {} batches from {PRODUCERS} threads, echoed {} pings",
        group(PRODUCERS * PER_PRODUCER),
        group(total_batches),
        group(echoed)
    );
    Ok(())
}
