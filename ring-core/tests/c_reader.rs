//! The executable reference: `spec/reader/cring_reader.c`, the independent C11 consumer that
//! spec/PROTOCOL.md section 20 ("Writing a compatible reader") describes, run against rings
//! that ring-core creates.
//!
//! The reader is compiled with `gcc -std=c11 -O2 -Wall -Wextra -Werror -pedantic` (and once
//! more with `-fsanitize=address,undefined`) into `CARGO_TARGET_TMPDIR`; without `gcc` every
//! test here prints why and passes without running. Each test creates a ring under `/dev/shm`
//! (a unique name, removed on every path: the `Region` unlinks its file on drop, also while
//! unwinding, and [`ShmGuard`] removes hand-made files), runs the reader as a child process
//! and produces from this process:
//!
//! - entries `user_data = producer << 32 | seq` with `result` and `flags` derived from both,
//!   which the reader checks, with each producer's order;
//! - first a burst that fills the ring and spills into the overflow area before the reader
//!   starts, then (once the reader has drained it, deactivated the area (O6) and gone to sleep
//!   on the futex (W2)) a stream from one producer (SPSC) or two producer threads (MPSC), with
//!   pauses so that the reader sleeps and is woken again;
//! - indices starting at `u32::MAX - 100`, so the ring's positions cross the `u32` wrap.
//!
//! The reader's summary line must report exactly the count, each producer's count, as many
//! overflow entries as the ring's `overflowed` counter, and the final ring head that matches
//! `tail`. Rings are layout 1.3 (the end-of-stream word, wake-up targets, which the reader arms
//! when it sleeps) unless a test says `legacy` (`Config::legacy(true)`: the 1.2 bits only).
//!
//! End of stream (E1 to E4): the same runs, but the reader is not told the count (`-`): once it
//! has drained everything and sleeps (with a futex timeout of 20 s, so that a missed wake-up
//! shows in its `timeouts` field), the producers close the stream (SPSC: `close`; MPSC:
//! both close, or one closes and the other is dropped), and the reader must report every entry
//! and then the end. Other tests check that it reports an end of stream that comes before the
//! count it was told, needs the end-of-stream word to read without a count, refuses regions
//! (one per attach check it can be made to fail), reports a wrong entry, an extra entry and a
//! busy consumer side, and takes over a claim left by a dead process. Every wait on the child
//! is bounded by [`DEADLINE`]: a child still running then is killed and the test fails with its
//! output.

use ring_core::{Completion, Config, Mode, PopError, Producer, PushError, Ring};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Bound on every wait on the child (and on the producers, which wait for it).
const DEADLINE: Duration = Duration::from_secs(60);
/// Both indices start here, so the ring crosses the `u32` wrap after 101 positions.
const START: u32 = u32::MAX - 100;
/// Small, so that producers spill into the overflow area.
const CAPACITY: u32 = 64;
const OVERFLOW: u32 = 128;
/// Entries per producer.
const PER_PRODUCER: u64 = 100_000;
/// Entries per producer under the sanitizers.
const SANITIZED_PER_PRODUCER: u64 = 20_000;
/// The reader's exit statuses (see the comment at the top of cring_reader.c).
const EXIT_MISMATCH: i32 = 1;
const EXIT_USAGE: i32 = 2;
const EXIT_REFUSED: i32 = 3;
const EXIT_NO_CONSUMER: i32 = 4;

/// Producer `p`'s entry number `seq`: the pattern cring_reader.c checks.
fn entry(p: u64, seq: u64) -> Completion {
    Completion::new(
        p << 32 | seq,
        (seq as u32 ^ 0x5A5A_5A5A) as i32,
        0xC0DE_0000 | p as u32,
    )
}

// ---------------------------------------------------------------------------------------------
// Building

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Build {
    /// `-O2`, the flags the spec names.
    Optimized,
    /// `-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all`.
    Sanitized,
}

fn source() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/reader/cring_reader.c")
}

/// The compiled reader, or `None` (with a message) when `gcc` is not installed. Compiled once
/// per test binary and build; a compiler error fails the test.
fn reader(build: Build) -> Option<PathBuf> {
    static OPTIMIZED: OnceLock<Option<PathBuf>> = OnceLock::new();
    static SANITIZED: OnceLock<Option<PathBuf>> = OnceLock::new();
    let cell = match build {
        Build::Optimized => &OPTIMIZED,
        Build::Sanitized => &SANITIZED,
    };
    let exe = cell.get_or_init(|| compile(build)).clone();
    if exe.is_none() {
        eprintln!(
            "SKIPPED: gcc not found on PATH; spec/reader/cring_reader.c was not compiled or run"
        );
    }
    exe
}

fn compile(build: Build) -> Option<PathBuf> {
    match Command::new("gcc").arg("--version").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("running gcc --version: {e}"),
        Ok(_) => {}
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-reader");
    std::fs::create_dir_all(&dir).expect("create the output directory");
    let name = format!("cring_reader-{build:?}").to_lowercase();
    // Compile to a name of our own, then rename into place: concurrent test runs never see a
    // half-written executable.
    let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
    let mut cmd = Command::new("gcc");
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]);
    match build {
        Build::Optimized => cmd.arg("-O2"),
        Build::Sanitized => cmd.args([
            "-O1",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
        ]),
    };
    let out = cmd
        .arg(source())
        .arg("-o")
        .arg(&tmp)
        .output()
        .expect("run gcc");
    assert!(
        out.status.success(),
        "gcc failed to compile {} ({build:?}):\n{}",
        source().display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let exe = dir.join(name);
    std::fs::rename(&tmp, &exe).expect("rename the executable into place");
    Some(exe)
}

// ---------------------------------------------------------------------------------------------
// The child

/// What a finished reader said.
struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The `key=value` fields of the summary line (`cring_reader: <verdict> key=value ...`).
    fn summary(&self) -> HashMap<String, String> {
        let line = self
            .stdout
            .lines()
            .rev()
            .find(|l| l.starts_with("cring_reader: "))
            .unwrap_or_else(|| panic!("no summary line: {self}"));
        let mut fields = HashMap::new();
        let mut words = line.split_whitespace().skip(1);
        fields.insert(
            "verdict".to_string(),
            words.next().unwrap_or("").to_string(),
        );
        for w in words {
            if let Some((k, v)) = w.split_once('=') {
                fields.insert(k.to_string(), v.to_string());
            }
        }
        fields
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// A running reader; killed (and reaped) if still running when dropped.
struct Reader {
    child: Option<Child>,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

impl Reader {
    fn spawn(exe: &Path, args: &[String]) -> Reader {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", exe.display()));
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Reader {
            child: Some(child),
            stdout,
            stderr,
        }
    }

    /// Whether the child has exited (without reaping its output).
    fn has_exited(&mut self) -> bool {
        let child = self.child.as_mut().expect("running");
        matches!(child.try_wait(), Ok(Some(_)))
    }

    /// Waits for the child until `deadline`; past it, kills it and fails.
    fn finish(mut self, deadline: Instant) -> Outcome {
        let mut child = self.child.take().expect("running");
        let status = loop {
            match child.try_wait().expect("try_wait") {
                Some(status) => break status,
                None if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let out = self.output_text();
                    panic!("the C reader did not finish in {DEADLINE:?}; killed it.\n{out}");
                }
                None => thread::sleep(Duration::from_millis(5)),
            }
        };
        let stdout = self.stdout.take().map(|h| h.join().unwrap()).unwrap();
        let stderr = self.stderr.take().map(|h| h.join().unwrap()).unwrap();
        Outcome {
            status,
            stdout,
            stderr,
        }
    }

    /// Everything the child wrote, once it is gone.
    fn output_text(&mut self) -> String {
        let out = self.stdout.take().map(|h| h.join().unwrap_or_default());
        let err = self.stderr.take().map(|h| h.join().unwrap_or_default());
        format!(
            "--- stdout\n{}--- stderr\n{}",
            out.unwrap_or_default(),
            err.unwrap_or_default()
        )
    }

    /// Kills the child and fails with its output.
    fn fail(mut self, why: &str) -> ! {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let out = self.output_text();
        panic!("{why}\n{out}");
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the reader to completion on `/dev/shm/<name>` (nothing to produce meanwhile). Its own
/// timeout is short: everything it needs is already there (and it retries a magic of 0, the
/// mark of a region still being formatted, only that long).
fn run_reader(exe: &Path, name: &str, count: u64, producers: u64) -> Outcome {
    let args = [
        name.to_string(),
        count.to_string(),
        producers.to_string(),
        "--timeout=0.2".to_string(),
    ];
    Reader::spawn(exe, &args).finish(Instant::now() + DEADLINE)
}

// ---------------------------------------------------------------------------------------------
// Shared-memory names

fn unique_name(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "ring-core-c-reader-{}-{test}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes `/dev/shm/<name>` on drop (also while unwinding).
struct ShmGuard(PathBuf);

impl ShmGuard {
    fn new(name: &str) -> ShmGuard {
        ShmGuard(PathBuf::from(ring_core::region::SHM_DIR).join(name))
    }
}

impl Drop for ShmGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn shm_path(name: &str) -> PathBuf {
    PathBuf::from(ring_core::region::SHM_DIR).join(name)
}

// ---------------------------------------------------------------------------------------------
// Consuming across the wrap, with overflow and sleeping

/// Pushes `value`, retrying while the ring (and its overflow area) is full, until `stop` or
/// the deadline.
fn push_until(
    tx: &mut Producer<Completion>,
    value: Completion,
    stop: &AtomicBool,
    deadline: Instant,
) -> Result<(), String> {
    let mut value = value;
    let mut spins = 0u32;
    loop {
        match tx.push(value) {
            Ok(()) => return Ok(()),
            Err(PushError::Full(back)) => {
                value = back;
                if stop.load(Ordering::Relaxed) {
                    return Err("stopped".to_string());
                }
                if Instant::now() > deadline {
                    return Err(format!("still full at {DEADLINE:?}: the reader is stuck"));
                }
                spins += 1;
                if spins % 64 == 0 {
                    thread::sleep(Duration::from_micros(50));
                } else {
                    thread::yield_now();
                }
            }
            Err(PushError::Corrupt(_, c)) => return Err(format!("push: {c:?}")),
        }
    }
}

/// Polls `cond` every millisecond until it holds; fails (killing the reader) if the reader
/// exits first or the deadline passes.
fn wait_until(reader: &mut Option<Reader>, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        let r = reader.as_mut().expect("reader");
        if r.has_exited() {
            reader
                .take()
                .unwrap()
                .fail(&format!("the C reader exited while waiting for: {what}"));
        }
        if Instant::now() > deadline {
            reader
                .take()
                .unwrap()
                .fail(&format!("timed out waiting for: {what}"));
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// How a run ends.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Finish {
    /// The reader is told the count; the producers are dropped when they are done (dropping
    /// never closes the stream).
    Count,
    /// The reader reads until the end of the stream (count `-`) and sleeps with a long futex
    /// timeout; once it has drained everything and sleeps, every producer closes
    /// (`Producer::close`).
    Close,
    /// As [`Finish::Close`], but only producer 0 closes and the others are dropped (MPSC:
    /// whichever leaves last closes the stream, E3).
    DropLast,
}

/// One run's parameters.
#[derive(Copy, Clone, Debug)]
struct Run {
    mode: Mode,
    producers: u64,
    per_producer: u64,
    build: Build,
    /// The ring has the wait block (the reader sleeps on the futex); otherwise it polls.
    wait: bool,
    /// `Config::legacy(true)`: a ring for layout-1.2 peers, without the 1.3 incompat bits.
    legacy: bool,
    finish: Finish,
}

impl Run {
    fn new(mode: Mode, producers: u64, per_producer: u64) -> Run {
        Run {
            mode,
            producers,
            per_producer,
            build: Build::Optimized,
            wait: true,
            legacy: false,
            finish: Finish::Count,
        }
    }
}

/// The futex timeout the reader uses when reading until the end of the stream: long, so that a
/// wake-up that never comes shows as `timeouts=1` or more instead of passing unnoticed.
const LONG_SLEEP: &str = "--sleep=20";

/// One run: `producers` producers, `per_producer` entries each, the reader built as `build`,
/// sleeping on the futex when `wait` (the ring has the wait block) or polling otherwise, told
/// the count or reading until the end of the stream as `finish` says.
fn consume_across_the_wrap(run: Run) {
    let Run {
        mode,
        producers,
        per_producer,
        build,
        wait,
        legacy,
        finish,
    } = run;
    let Some(exe) = reader(build) else { return };
    let name = unique_name(&format!("{mode:?}").to_lowercase());
    let _guard = ShmGuard::new(&name);
    let cfg = Config::new(CAPACITY)
        .mode(mode)
        .initial_index(START)
        .overflow(OVERFLOW)
        .wait(wait)
        .legacy(legacy);
    let ring = Ring::<Completion>::create_shm(&name, cfg).expect("create_shm");
    let mut txs: Vec<Producer<Completion>> = (0..producers)
        .map(|_| ring.producer().expect("producer"))
        .collect();
    let total = producers * per_producer;

    // 1. A burst before the reader runs: fills the ring and spills into the overflow area.
    let burst = u64::from(CAPACITY + OVERFLOW / 2) / producers;
    for seq in 0..burst {
        for (p, tx) in txs.iter_mut().enumerate() {
            tx.push(entry(p as u64, seq))
                .expect("the ring and its overflow area have room for the burst");
        }
    }
    let c = ring.counters();
    assert!(c.overflow_active, "the burst spilled: {c:?}");
    assert_eq!(
        c.overflowed,
        burst * producers - u64::from(CAPACITY),
        "{c:?}"
    );

    // 2. The reader drains the burst (the ring first, then the overflow area: O4, O5),
    //    deactivates the area (O6) and, with the wait block, goes to sleep (W2).
    let count = if finish == Finish::Count {
        total.to_string()
    } else {
        "-".to_string()
    };
    let mut args = vec![name.clone(), count, producers.to_string()];
    if !wait {
        args.push("--poll".to_string());
    }
    if finish != Finish::Count {
        args.push(LONG_SLEEP.to_string());
    }
    let mut child = Some(Reader::spawn(&exe, &args));
    let drained_and_asleep = || {
        let c = ring.counters();
        c.head == c.tail
            && c.overflow_pending == 0
            && !c.overflow_active
            && (!wait || (c.waiters > 0 && c.sleeps > 0))
    };
    wait_until(
        &mut child,
        "the reader drains the burst and sleeps",
        drained_and_asleep,
    );

    // 3. The rest, from one thread per producer, with pauses (the reader sleeps and is woken
    //    by W1) between runs that outpace it (the ring spills again). Each thread hands its
    //    producer back.
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + DEADLINE;
    type Handed = Result<Producer<Completion>, String>;
    let results: Vec<Handed> = thread::scope(|s| {
        let handles: Vec<_> = txs
            .drain(..)
            .enumerate()
            .map(|(p, mut tx)| {
                let stop = &stop;
                s.spawn(move || -> Handed {
                    for seq in burst..per_producer {
                        push_until(&mut tx, entry(p as u64, seq), stop, deadline)?;
                        if seq % 10_000 == 0 {
                            thread::sleep(Duration::from_millis(2));
                        }
                    }
                    Ok(tx)
                })
            })
            .collect();
        // Supervise: a reader that exits early, or the deadline, stops the producers.
        while !handles.iter().all(|h| h.is_finished()) {
            if Instant::now() > deadline || child.as_mut().unwrap().has_exited() {
                stop.store(true, Ordering::Relaxed);
                break;
            }
            thread::sleep(Duration::from_millis(2));
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut handed = Vec::new();
    let mut failed = Vec::new();
    for (p, r) in results.into_iter().enumerate() {
        match r {
            Ok(tx) => handed.push(tx),
            Err(e) => failed.push(format!("producer {p}: {e}")),
        }
    }
    if !failed.is_empty() {
        drop(handed);
        child.take().unwrap().fail(&failed.join("\n"));
    }

    // 4. The end. Told the count, the reader needs nothing more: the producers go. Reading
    //    until the end of the stream, it must sleep on the drained ring first; then the
    //    producers close the stream (E1, E3), which must wake it (it sleeps LONG_SLEEP).
    if finish == Finish::Count {
        drop(handed);
    } else {
        wait_until(
            &mut child,
            "the reader drains everything and sleeps",
            drained_and_asleep,
        );
        assert!(
            !ring.stream().closed,
            "the stream is open before the producers close it: {:?}",
            ring.stream()
        );
        if mode == Mode::Mpsc {
            assert_eq!(ring.stream().producers, producers as u32, "all joined");
        }
        for (p, tx) in handed.into_iter().enumerate() {
            if finish == Finish::Close || (p == 0 && mode == Mode::Mpsc) {
                tx.close();
            } else {
                drop(tx);
            }
        }
        assert!(
            ring.stream().closed,
            "the last producer closed the stream: {:?}",
            ring.stream()
        );
    }
    let out = child.take().unwrap().finish(Instant::now() + DEADLINE);
    assert_eq!(out.code(), Some(0), "reader: {out}");
    eprintln!("{run:?}: {}", out.stdout.trim()); // shown with --nocapture

    // 5. The summary agrees with the ring, exactly.
    let f = out.summary();
    let c = ring.counters();
    let num = |k: &str| -> u64 {
        f.get(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("summary field {k}: {out}"))
    };
    assert_eq!(f["verdict"], "ok", "{out}");
    assert_eq!(
        f["mode"],
        if mode == Mode::Spsc { "spsc" } else { "mpsc" },
        "{out}"
    );
    let mut incompat = 0x1;
    if wait {
        incompat |= 0x2;
    }
    if mode == Mode::Mpsc {
        incompat |= 0x4;
    }
    if !legacy {
        incompat |= 0x8;
        if wait {
            incompat |= 0x10;
        }
    }
    assert_eq!(f["incompat"], format!("{incompat:#x}"), "{out}");
    assert_eq!(num("consumed"), total, "{out}");
    let per: Vec<String> = (0..producers).map(|_| per_producer.to_string()).collect();
    assert_eq!(f["per_producer"], per.join(","), "{out}");
    assert_eq!(num("discarded"), 0, "{out}");
    assert_eq!(num("overflow"), c.overflowed, "{out}\n{c:?}");
    assert_eq!(num("ring") + num("overflow"), total, "{out}");
    assert!(num("deactivations") >= 1, "{out}");
    if wait {
        assert!(num("sleeps") >= 1, "{out}");
        assert!(c.wakeups >= 1, "{c:?}");
        if legacy {
            assert_eq!(
                num("armed"),
                0,
                "no wake-up targets in a legacy ring: {out}"
            );
        } else {
            assert!(num("armed") >= 1, "the reader armed wake-up targets: {out}");
        }
    }
    if finish == Finish::Count {
        assert!(
            f["closed"] == "0",
            "a stream whose producers were dropped, or a legacy one, never closes: {out}"
        );
    } else {
        assert_eq!(
            f["closed"], "1",
            "the reader saw the end of the stream: {out}"
        );
        // Every futex wait was ended by a wake-up (targets, the close's wake-up), none by
        // its timeout.
        assert_eq!(num("timeouts"), 0, "a wake-up was missed: {out}\n{c:?}");
    }
    // Every ring entry moved both indices by one from START: across the wrap.
    let ring_entries = num("ring");
    assert!(
        ring_entries > u64::from(u32::MAX - START),
        "the ring crossed the wrap: {out}"
    );
    let head = START.wrapping_add(ring_entries as u32);
    assert_eq!(f["head"], format!("0x{head:08x}"), "{out}");
    assert_eq!((c.tail, c.head), (head, head), "{c:?}");
    assert_eq!(c.overflow_pending, 0, "{c:?}");
    assert!(
        !c.overflow_active,
        "the final pop deactivated the area: {c:?}"
    );
    assert_eq!(c.waiters, 0, "the reader retired: {c:?}");
    // The reader gave its claim back, and left nothing behind.
    let mut rx = ring
        .consumer()
        .expect("the reader released the consumer side");
    // Closed: the producers closed it. A legacy ring has no end-of-stream word and never
    // reports the end.
    let closed = !legacy && finish != Finish::Count;
    let expected = if closed {
        PopError::Closed
    } else {
        PopError::Empty
    };
    assert_eq!(rx.pop(), Err(expected), "{:?}", ring.stream());
}

#[test]
fn spsc_one_producer_across_the_wrap_with_overflow_and_sleep() {
    consume_across_the_wrap(Run::new(Mode::Spsc, 1, PER_PRODUCER));
}

#[test]
fn mpsc_two_producers_across_the_wrap_with_overflow_and_sleep() {
    consume_across_the_wrap(Run::new(Mode::Mpsc, 2, PER_PRODUCER));
}

#[test]
fn mpsc_two_producers_sanitized() {
    consume_across_the_wrap(Run {
        build: Build::Sanitized,
        ..Run::new(Mode::Mpsc, 2, SANITIZED_PER_PRODUCER)
    });
}

#[test]
fn spsc_sanitized() {
    consume_across_the_wrap(Run {
        build: Build::Sanitized,
        ..Run::new(Mode::Spsc, 1, SANITIZED_PER_PRODUCER)
    });
}

#[test]
fn mpsc_polling_without_wait_block() {
    consume_across_the_wrap(Run {
        wait: false,
        ..Run::new(Mode::Mpsc, 2, PER_PRODUCER / 4)
    });
}

// ---------------------------------------------------------------------------------------------
// End of stream (layout 1.3, E1 to E4) and layout-1.2 rings

#[test]
fn spsc_until_the_end_of_the_stream_close() {
    consume_across_the_wrap(Run {
        finish: Finish::Close,
        ..Run::new(Mode::Spsc, 1, PER_PRODUCER / 4)
    });
}

#[test]
fn mpsc_until_the_end_of_the_stream_every_producer_closes() {
    consume_across_the_wrap(Run {
        finish: Finish::Close,
        ..Run::new(Mode::Mpsc, 2, PER_PRODUCER / 4)
    });
}

#[test]
fn mpsc_until_the_end_of_the_stream_one_closes_the_other_drops() {
    consume_across_the_wrap(Run {
        finish: Finish::DropLast,
        ..Run::new(Mode::Mpsc, 2, PER_PRODUCER / 4)
    });
}

#[test]
fn until_the_end_of_the_stream_sanitized() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        consume_across_the_wrap(Run {
            build: Build::Sanitized,
            finish: if mode == Mode::Spsc {
                Finish::Close
            } else {
                Finish::DropLast
            },
            ..Run::new(mode, if mode == Mode::Spsc { 1 } else { 2 }, 5_000)
        });
    }
}

#[test]
fn until_the_end_of_the_stream_polling_without_wait_block() {
    consume_across_the_wrap(Run {
        wait: false,
        finish: Finish::Close,
        ..Run::new(Mode::Mpsc, 2, PER_PRODUCER / 10)
    });
}

#[test]
fn legacy_rings_without_the_1_3_bits() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        for wait in [true, false] {
            consume_across_the_wrap(Run {
                wait,
                legacy: true,
                ..Run::new(mode, if mode == Mode::Spsc { 1 } else { 2 }, 10_000)
            });
        }
    }
}

#[test]
fn until_the_end_of_the_stream_needs_the_stream_word() {
    let Some(exe) = reader(Build::Optimized) else {
        return;
    };
    let name = unique_name("legacy-until-closed");
    let cfg = Config::new(CAPACITY)
        .mode(Mode::Mpsc)
        .overflow(OVERFLOW)
        .legacy(true);
    let ring = Ring::<Completion>::create_shm(&name, cfg).expect("create_shm");
    let args = [name.clone(), "-".to_string(), "1".to_string()];
    let out = Reader::spawn(&exe, &args).finish(Instant::now() + DEADLINE);
    assert_eq!(out.code(), Some(EXIT_USAGE), "{out}");
    assert!(out.stdout.contains("cring_reader: no-stream\n"), "{out}");
    assert!(out.stderr.contains("INCOMPAT_STREAM"), "{out}");
    // It left the consumer side free.
    drop(
        ring.consumer()
            .expect("the reader never claimed the consumer side"),
    );
}

#[test]
fn reports_an_end_of_stream_before_the_count() {
    let Some(exe) = reader(Build::Optimized) else {
        return;
    };
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let name = unique_name("early-end");
        let cfg = Config::new(CAPACITY)
            .mode(mode)
            .initial_index(START)
            .overflow(OVERFLOW);
        let ring = Ring::<Completion>::create_shm(&name, cfg).expect("create_shm");
        let mut tx = ring.producer().expect("producer");
        for seq in 0..3 {
            tx.push(entry(0, seq)).expect("room");
        }
        tx.close();
        // Told 5, it finds 3 and the end of the stream.
        let out = run_reader(&exe, &name, 5, 1);
        assert_eq!(out.code(), Some(EXIT_MISMATCH), "{mode:?}: {out}");
        assert!(
            out.stderr.contains("end of stream after 3 of 5 entries"),
            "{mode:?}: {out}"
        );
        let f = out.summary();
        assert_eq!(f["verdict"], "FAILED", "{mode:?}: {out}");
        assert_eq!(f["closed"], "1", "{mode:?}: {out}");
        assert_eq!(f["consumed"], "3", "{mode:?}: {out}");
    }
}

#[test]
fn closed_and_empty_from_the_start() {
    let Some(exe) = reader(Build::Optimized) else {
        return;
    };
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let name = unique_name("closed-empty");
        let cfg = Config::new(CAPACITY).mode(mode).overflow(OVERFLOW);
        let ring = Ring::<Completion>::create_shm(&name, cfg).expect("create_shm");
        ring.producer().expect("producer").close();
        let args = [
            name.clone(),
            "-".to_string(),
            "1".to_string(),
            LONG_SLEEP.to_string(),
        ];
        let out = Reader::spawn(&exe, &args).finish(Instant::now() + DEADLINE);
        assert_eq!(out.code(), Some(0), "{mode:?}: {out}");
        let f = out.summary();
        assert_eq!(f["closed"], "1", "{mode:?}: {out}");
        assert_eq!(f["consumed"], "0", "{mode:?}: {out}");
        assert_eq!(f["sleeps"], "0", "{mode:?}: {out}");
    }
}

// ---------------------------------------------------------------------------------------------
// Refusals and errors

/// Header offsets (spec/LAYOUT.md section 2).
const H_MAGIC: usize = 0;
const H_VERSION_MAJOR: usize = 8;
const H_MODE: usize = 20;
const H_INCOMPAT: usize = 32;
const H_RO_COMPAT: usize = 40;
const H_CAPACITY: usize = 48;
const H_ENTRY_FORMAT: usize = 52;
const H_REGION_LEN: usize = 72;
const H_BLOCKS: usize = 88;
const H_PRODUCER_SLOTS: usize = 220;

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}
fn get32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn get64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// The bytes of a fresh MPSC ring with an overflow area, the wait block, producer records,
/// the end-of-stream word and wake-up targets (incompat 0x1f), made by ring-core.
fn fresh_mpsc_bytes() -> Vec<u8> {
    let name = unique_name("template");
    let _guard = ShmGuard::new(&name);
    let cfg = Config::new(CAPACITY)
        .mode(Mode::Mpsc)
        .initial_index(START)
        .overflow(OVERFLOW);
    let ring = Ring::<Completion>::create_shm(&name, cfg).expect("create_shm");
    let bytes = std::fs::read(shm_path(&name)).expect("read the region");
    drop(ring);
    assert_eq!(get64(&bytes, H_INCOMPAT), 0x1f);
    bytes
}

/// Writes `bytes` to a new `/dev/shm` file.
fn write_shm(name: &str, bytes: &[u8]) -> ShmGuard {
    let guard = ShmGuard::new(name);
    std::fs::write(&guard.0, bytes).expect("write the region");
    guard
}

#[test]
fn refuses_what_attach_must_refuse() {
    let Some(exe) = reader(Build::Optimized) else {
        return;
    };
    let fresh = fresh_mpsc_bytes();
    let region_len = get64(&fresh, H_REGION_LEN) as usize;
    type Edit = fn(&mut Vec<u8>, usize);
    let cases: &[(&str, u32, Edit)] = &[
        ("the unchanged region", 0, |_, _| {}),
        ("bad magic", 3, |b, _| put64(b, H_MAGIC, 0x1234)),
        ("magic 0 (never formatted)", 3, |b, _| put64(b, H_MAGIC, 0)),
        ("layout version 2", 4, |b, _| put32(b, H_VERSION_MAJOR, 2)),
        ("the 1.2 bits only (a region for 1.2 peers)", 0, |b, _| {
            put64(b, H_INCOMPAT, 0x7)
        }),
        ("no wake-up targets", 0, |b, _| put64(b, H_INCOMPAT, 0xf)),
        ("no end-of-stream word", 0, |b, _| {
            put64(b, H_INCOMPAT, 0x17)
        }),
        ("unknown incompat bit 5", 6, |b, _| {
            put64(b, H_INCOMPAT, 0x1f | 0x20)
        }),
        ("unknown ro_compat bit", 7, |b, _| put64(b, H_RO_COMPAT, 1)),
        ("SPMC mode", 8, |b, _| put32(b, H_MODE, 2)),
        ("MPMC mode", 8, |b, _| put32(b, H_MODE, 3)),
        ("invalid mode", 8, |b, _| put32(b, H_MODE, 7)),
        ("capacity 48", 9, |b, _| put32(b, H_CAPACITY, 48)),
        ("opaque entries", 10, |b, _| put32(b, H_ENTRY_FORMAT, 0)),
        ("truncated region", 14, |b, len| b.truncate(len - 128)),
        ("consumer line on the producer line", 17, |b, _| {
            let producer = get64(b, H_BLOCKS);
            put64(b, H_BLOCKS + 16, producer)
        }),
        ("overflow bit cleared", 18, |b, _| {
            put64(b, H_INCOMPAT, 0x1e)
        }),
        ("producer records without slots", 19, |b, _| {
            put32(b, H_PRODUCER_SLOTS, 0)
        }),
        ("slot array one slot short", 20, |b, _| {
            let len = get64(b, H_BLOCKS + 2 * 16 + 8);
            put64(b, H_BLOCKS + 2 * 16 + 8, len - 24)
        }),
        ("wait bit cleared", 22, |b, _| put64(b, H_INCOMPAT, 0x1d)),
        (
            "wait bit and wait block gone, wake-up targets kept",
            24,
            |b, _| {
                put64(b, H_INCOMPAT, 0x1d);
                put64(b, H_BLOCKS + 4 * 16, 0);
                put64(b, H_BLOCKS + 4 * 16 + 8, 0)
            },
        ),
        ("wait block gone, all bits kept", 22, |b, _| {
            put64(b, H_BLOCKS + 4 * 16, 0);
            put64(b, H_BLOCKS + 4 * 16 + 8, 0)
        }),
    ];
    for (what, check, edit) in cases {
        let mut bytes = fresh.clone();
        edit(&mut bytes, region_len);
        let name = unique_name("refuse");
        let _guard = write_shm(&name, &bytes);
        let out = run_reader(&exe, &name, 0, 1);
        if *check == 0 {
            assert_eq!(out.code(), Some(0), "{what}: {out}");
            continue;
        }
        assert_eq!(out.code(), Some(EXIT_REFUSED), "{what}: {out}");
        assert!(
            out.stdout.contains(&format!("refused check={check}\n")),
            "{what}: expected check {check}: {out}"
        );
    }
}

#[test]
fn refuses_rings_it_does_not_implement() {
    let Some(exe) = reader(Build::Optimized) else {
        return;
    };
    // Several consumers: check 8, narrowed to the single-consumer modes.
    for mode in [Mode::Spmc, Mode::Mpmc] {
        let name = unique_name("multi-consumer");
        let _ring = Ring::<Completion>::create_shm(&name, Config::new(CAPACITY).mode(mode))
            .expect("create_shm");
        let out = run_reader(&exe, &name, 0, 1);
        assert_eq!(out.code(), Some(EXIT_REFUSED), "{mode:?}: {out}");
        assert!(out.stdout.contains("refused check=8\n"), "{mode:?}: {out}");
    }
    // Another entry type: check 10.
    let name = unique_name("u64");
    let _ring = Ring::<u64>::create_shm(&name, Config::new(CAPACITY)).expect("create_shm");
    let out = run_reader(&exe, &name, 0, 1);
    assert_eq!(out.code(), Some(EXIT_REFUSED), "{out}");
    assert!(out.stdout.contains("refused check=10\n"), "{out}");
}

#[test]
fn reports_wrong_and_extra_entries() {
    let Some(exe) = reader(Build::Optimized) else {
        return;
    };
    let cases: &[(&str, &[Completion], u64, &str)] = &[
        (
            "a gap in the sequence",
            &[entry(0, 0), entry(0, 2)],
            2,
            "mismatch at entry 1",
        ),
        (
            "a wrong result",
            &[entry(0, 0), Completion::new(1, 0, 0xC0DE_0000)],
            2,
            "mismatch at entry 1",
        ),
        (
            "an unknown producer",
            &[entry(1, 0)],
            1,
            "mismatch at entry 0",
        ),
        (
            "one entry too many",
            &[entry(0, 0), entry(0, 1), entry(0, 2)],
            2,
            "one more entry",
        ),
    ];
    for (what, entries, count, message) in cases {
        let name = unique_name("wrong");
        let cfg = Config::new(CAPACITY).mode(Mode::Mpsc).initial_index(START);
        let ring = Ring::<Completion>::create_shm(&name, cfg).expect("create_shm");
        let mut tx = ring.producer().expect("producer");
        for e in *entries {
            tx.push(*e).expect("room");
        }
        let out = run_reader(&exe, &name, *count, 1);
        assert_eq!(out.code(), Some(EXIT_MISMATCH), "{what}: {out}");
        assert!(out.stderr.contains(message), "{what}: {out}");
        assert_eq!(out.summary()["verdict"], "FAILED", "{what}: {out}");
    }
}

#[test]
fn busy_consumer_side_and_takeover_from_a_dead_holder() {
    let Some(exe) = reader(Build::Optimized) else {
        return;
    };
    // A live holder (this process): busy.
    let name = unique_name("busy");
    let cfg = Config::new(CAPACITY)
        .overflow(OVERFLOW)
        .initial_index(START);
    let ring = Ring::<Completion>::create_shm(&name, cfg).expect("create_shm");
    let rx = ring.consumer().expect("consumer");
    let out = run_reader(&exe, &name, 0, 1);
    assert_eq!(out.code(), Some(EXIT_NO_CONSUMER), "{out}");
    assert!(out.stderr.contains("busy"), "{out}");
    drop(rx);

    // A dead holder (a child that has exited and been reaped): taken over.
    let mut dead = Command::new("true").spawn().expect("spawn true");
    let pid = dead.id();
    dead.wait().expect("reap true");
    let mut bytes = std::fs::read(shm_path(&name)).expect("read the region");
    let consumer_line = get64(&bytes, H_BLOCKS + 16) as usize;
    put32(&mut bytes, consumer_line + 4, pid);
    let copy = unique_name("dead-holder");
    let _guard = write_shm(&copy, &bytes);
    let out = run_reader(&exe, &copy, 0, 1);
    assert_eq!(out.code(), Some(0), "{out}");
    let after = std::fs::read(shm_path(&copy)).expect("read the copy");
    assert_eq!(
        get32(&after, consumer_line + 4),
        0,
        "the reader gave the claim back"
    );
}

/// Layout 1.4: an SPSC ring without an overflow area has packed slots (LAYOUT.md section 6.1).
/// The reader, written from the spec, reads them at the packed stride across the wrap, asleep
/// between bursts (with the wait block) or polling, until the producer closes the stream.
#[test]
fn packed_spsc_rings_across_the_wrap() {
    for build in [Build::Optimized, Build::Sanitized] {
        for wait in [true, false] {
            packed_spsc(build, wait);
        }
    }
}

fn packed_spsc(build: Build, wait: bool) {
    let Some(exe) = reader(build) else { return };
    let name = unique_name("packed");
    let _guard = ShmGuard::new(&name);
    let cfg = Config::new(CAPACITY).initial_index(START).wait(wait);
    assert!(cfg.packs());
    let ring = Ring::<Completion>::create_shm(&name, cfg).expect("create_shm");
    assert!(ring.geometry().packed);
    let mut tx = ring.producer().expect("producer");
    let total = 20_000u64;
    // A full ring before the reader starts, then the rest while it runs.
    for seq in 0..u64::from(CAPACITY) {
        tx.push(entry(0, seq)).expect("room for a ring's worth");
    }
    let mut args = vec![name.clone(), "-".to_string(), "1".to_string()];
    if !wait {
        args.push("--poll".to_string());
    }
    args.push(LONG_SLEEP.to_string());
    let child = Reader::spawn(&exe, &args);
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + DEADLINE;
    for seq in u64::from(CAPACITY)..total {
        if let Err(e) = push_until(&mut tx, entry(0, seq), &stop, deadline) {
            drop(tx);
            child.fail(&e);
        }
        if seq % 5_000 == 0 {
            thread::sleep(Duration::from_millis(2));
        }
    }
    tx.close();
    let out = child.finish(Instant::now() + DEADLINE);
    assert_eq!(out.code(), Some(0), "reader: {out}");
    let f = out.summary();
    let num = |k: &str| -> u64 {
        f.get(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("summary field {k}: {out}"))
    };
    assert_eq!(f["verdict"], "ok", "{out}");
    assert_eq!(f["mode"], "spsc", "{out}");
    let incompat = if wait {
        0x2 | 0x8 | 0x10 | 0x40
    } else {
        0x8 | 0x40
    };
    assert_eq!(f["incompat"], format!("{incompat:#x}"), "{out}");
    assert_eq!(num("consumed"), total, "{out}");
    assert_eq!(num("ring"), total, "{out}");
    assert_eq!(f["closed"], "1", "{out}");
    assert_eq!(num("timeouts"), 0, "a wake-up was missed: {out}");
    let head = START.wrapping_add(total as u32);
    assert_eq!(f["head"], format!("0x{head:08x}"), "{out}");
    let c = ring.counters();
    assert_eq!((c.tail, c.head), (head, head), "{c:?}");
}

// ---------------------------------------------------------------------------------------------
// The record reader (spec/reader/records_reader.c) taking over from a killed Rust consumer
// (spec/RECORDS.md, section 7.3)

mod common;

use ring_core::record::attrs::{attr_id, attr_status, completion_len, AttrWriter};
use ring_core::record::{RecordConfig, RecordConsumer, RecordProducer, RecordRing};
use ring_core::Region;

/// `spec/reader/records_reader.c`, compiled with the flags the spec names (once per test
/// binary), or `None` without `gcc`.
fn records_reader() -> Option<PathBuf> {
    static EXE: OnceLock<Option<PathBuf>> = OnceLock::new();
    let exe = EXE
        .get_or_init(|| {
            match Command::new("gcc").arg("--version").output() {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
                Err(e) => panic!("running gcc --version: {e}"),
                Ok(_) => {}
            }
            let src =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/reader/records_reader.c");
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-reader");
            std::fs::create_dir_all(&dir).expect("create the output directory");
            let tmp = dir.join(format!("records_reader.{}.tmp", std::process::id()));
            let out = Command::new("gcc")
                .args([
                    "-std=c11",
                    "-O2",
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-pedantic",
                ])
                .arg(&src)
                .arg("-o")
                .arg(&tmp)
                .output()
                .expect("run gcc");
            assert!(
                out.status.success(),
                "gcc failed to compile {}:\n{}",
                src.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let exe = dir.join("records_reader");
            std::fs::rename(&tmp, &exe).expect("rename the executable into place");
            Some(exe)
        })
        .clone();
    if exe.is_none() {
        eprintln!("SKIPPED: gcc not found on PATH; spec/reader/records_reader.c was not run");
    }
    exe
}

/// Producer `p`'s record `seq` as records_reader.c checks it: a completion (`user_data = p <<
/// 32 | seq`, `result = seq`, `flags = p`) with DURATION_NS = 3 seq, a user attribute of
/// `seq % 5` bytes and WORKER_CPU = p. `false` when there is no room.
fn push_record(tx: &mut RecordProducer, p: u32, seq: u32) -> bool {
    let user = (seq % 5) as usize;
    let Ok(mut rec) = tx.reserve(completion_len(&[8, user, 4])) else {
        return false;
    };
    let c = Completion::new(u64::from(p) << 32 | u64::from(seq), seq as i32, p);
    let mut w = AttrWriter::new(&mut rec, c).expect("room for the completion");
    w.push_u64(attr_id::DURATION_NS, u64::from(seq) * 3)
        .expect("room");
    let value: Vec<u8> = (0..user as u32).map(|i| (seq + i) as u8).collect();
    w.push(0x8001, attr_status::HANDLED, &value).expect("room");
    w.push_u32(attr_id::WORKER_CPU, p).expect("room");
    w.finish();
    rec.commit();
    true
}

/// How the Rust consumer dies.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Death {
    /// SIGKILL inside `read_batch`'s callback for its `die`-th record: the records before it in
    /// the batch are zeroed, the shared `head` is not stored past them (the state of section
    /// 7.3), and the record in hand is intact.
    MidBatch { batch: usize },
    /// As `MidBatch`, but the first batch takes exactly the records of the data area, so that
    /// `head` is stored at the end of the data area and the consumer dies in the overflow area.
    DataThenOverflow { batch: usize },
    /// SIGKILL while it holds a `RecordRef` (read, not released), every earlier record
    /// released.
    HoldingRecord,
}

/// One takeover scenario.
#[derive(Copy, Clone, Debug)]
struct Takeover {
    mode: Mode,
    producers: u32,
    capacity: u32,
    overflow: u32,
    initial: u32,
    /// Records each producer writes before the consumer starts.
    prefill: u32,
    /// Records each producer writes in all when it keeps producing (else `prefill`).
    each: u32,
    /// The consumer delivers this many records, then dies at the next.
    die: u64,
    death: Death,
    /// The producers stay and write the rest while the C reader runs (each writes one record
    /// before the reader starts); otherwise they are dropped before it starts.
    keep_producing: bool,
}

/// The Rust consumer of a takeover scenario (the `child` test in a child process): attaches to
/// `/dev/shm/<shm>`, takes the consumer side, checks each producer's order, and kills itself
/// with SIGKILL as `death` says after `die` records, reporting beforehand what it delivered.
fn consume_and_die(params: &common::Params) {
    let region = Region::shm_open(params.get("shm")).expect("shm_open");
    let ring = RecordRing::attach(region).expect("attach");
    let mut rx: RecordConsumer = ring.consumer().expect("consumer");
    let producers = params.num("producers") as usize;
    let die = params.num("die");
    let batch = params.num("batch") as usize;
    let mut first = params.num("first") as usize;
    let hold = params.get("death") == "hold";
    let mut next = vec![0u64; producers];
    let mut got = 0u64;
    let deadline = Instant::now() + DEADLINE;
    let report_and_die = |next: &[u64], got: u64| -> ! {
        let list: Vec<String> = next.iter().map(u64::to_string).collect();
        common::report("delivered", got);
        common::report("next", list.join(","));
        // SAFETY: getpid and kill have no preconditions.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        unreachable!("SIGKILL");
    };
    let check = |bytes: &[u8; 8], next: &mut [u64]| {
        let user_data = u64::from_le_bytes(*bytes);
        let (p, seq) = ((user_data >> 32) as usize, user_data & 0xffff_ffff);
        assert!(
            p < producers && seq == next[p],
            "record {user_data:#x} out of order"
        );
        next[p] += 1;
    };
    loop {
        assert!(Instant::now() < deadline, "the consumer ran out of records");
        if hold {
            match rx.read() {
                Ok(r) => {
                    if got == die {
                        // The record is read and not released.
                        let _held = r;
                        report_and_die(&next, got);
                    }
                    let mut b = [0u8; 8];
                    r.copy_to(0, &mut b);
                    check(&b, &mut next);
                    got += 1;
                }
                Err(_) => thread::yield_now(),
            }
        } else {
            let max = if first != 0 { first } else { batch };
            if let Ok(n) = rx.read_batch(max, usize::MAX, |v| {
                if got == die {
                    report_and_die(&next, got);
                }
                let mut b = [0u8; 8];
                v.copy_to(0, &mut b);
                check(&b, &mut next);
                got += 1;
            }) {
                first -= n.min(first);
            }
        }
    }
}

/// A producer that dies mid-record (the `child` test in a child process): as producer 0, it
/// writes records until `spill` says (the first one that spills into the overflow area, else
/// 3 records), reserves one more, reports how many it committed and kills itself with SIGKILL
/// before committing it.
fn reserve_and_die(params: &common::Params) {
    let region = Region::shm_open(params.get("shm")).expect("shm_open");
    let ring = RecordRing::attach(region).expect("attach");
    let mut tx = ring.producer().expect("producer");
    let spill = params.get("spill") == "1";
    let mut seq = 0;
    while if spill {
        ring.counters().overflowed == 0
    } else {
        seq < 3
    } {
        assert!(push_record(&mut tx, 0, seq), "room for record {seq}");
        seq += 1;
    }
    let held = tx.reserve(completion_len(&[8, 0, 4])).expect("room");
    common::report("pushed", seq);
    // SAFETY: getpid and kill have no preconditions.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    unreachable!("SIGKILL with {held:?} reserved");
}

#[test]
fn child() {
    let Some((role, params)) = common::child_role() else {
        return;
    };
    match role.as_str() {
        "records_consume_and_die" => consume_and_die(&params),
        "records_reserve_and_die" => reserve_and_die(&params),
        other => panic!("unknown child role {other}"),
    }
}

/// A header word of the data area (`overflow`: of the overflow data area) at position `pos`.
fn header_word(ring: &RecordRing<Region>, overflow: bool, pos: u32) -> u64 {
    let g = ring.geometry();
    let (off, cap) = match overflow {
        false => (g.data_offset as usize, g.capacity),
        true => (
            g.overflow_offset.expect("an overflow area") as usize + 128,
            g.overflow_capacity,
        ),
    };
    // SAFETY: an 8-aligned word inside the mapped data area, read atomically.
    unsafe {
        (*(ring.memory().as_ptr().add(off + (pos & (cap - 1)) as usize) as *const AtomicU64))
            .load(Ordering::Acquire)
    }
}

fn takeover(t: Takeover) {
    let Some(exe) = records_reader() else { return };
    let name = unique_name("records-takeover");
    let _guard = ShmGuard::new(&name);
    let mut cfg = RecordConfig::new(t.capacity)
        .mode(t.mode)
        .initial_position(t.initial);
    if t.overflow != 0 {
        cfg = cfg.overflow(t.overflow);
    }
    let region =
        Region::shm_create(&name, cfg.region_len().unwrap() as usize, 0o600).expect("shm_create");
    let ring = RecordRing::create(region, cfg).expect("create");
    let mut txs: Vec<RecordProducer> = (0..t.producers)
        .map(|_| ring.producer().expect("producer"))
        .collect();
    for seq in 0..t.prefill {
        for (p, tx) in txs.iter_mut().enumerate() {
            assert!(
                push_record(tx, p as u32, seq),
                "{t:?}: no room for the prefill"
            );
        }
    }
    if t.overflow != 0 {
        assert!(ring.counters().overflowed > 0, "{t:?}: the prefill spilled");
    }

    // The Rust consumer, killed where the scenario says.
    let data_records = u64::from(t.prefill * t.producers) - ring.counters().overflowed;
    let (death, batch, first) = match t.death {
        Death::MidBatch { batch } => ("batch", batch, 0),
        Death::DataThenOverflow { batch } => ("batch", batch, data_records),
        Death::HoldingRecord => ("hold", 1, 0),
    };
    let mut peer = common::Peer::spawn(
        "records_consume_and_die",
        &[
            ("producers", t.producers.to_string()),
            ("die", t.die.to_string()),
            ("batch", batch.to_string()),
            ("first", first.to_string()),
            ("death", death.to_string()),
        ],
        &common::Transport::Shm(&name),
    );
    let dead_pid = peer.pid();
    assert_eq!(peer.expect("delivered"), t.die.to_string(), "{t:?}");
    let from: Vec<u64> = peer
        .expect("next")
        .split(',')
        .map(|s| s.parse().expect("a number"))
        .collect();
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = peer.poll() {
            break s;
        }
        assert!(Instant::now() < deadline, "{t:?}: the consumer did not die");
        thread::sleep(Duration::from_millis(2));
    };
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{t:?}");
    }
    assert_eq!(from.iter().sum::<u64>(), t.die, "{t:?}");

    // The state the dead consumer left: its claim, and (mid-batch, with records zeroed
    // before the one in hand) a zero word at the shared head of the area it was reading.
    let c = ring.counters();
    let claim = {
        let cons = ring.geometry().consumer_offset as usize;
        // SAFETY: the consumer line's claim word, inside the mapped region, read atomically.
        unsafe {
            (*(ring.memory().as_ptr().add(cons + 4) as *const AtomicU32)).load(Ordering::Acquire)
        }
    };
    assert_eq!(claim, dead_pid, "{t:?}: the dead consumer's claim is left");
    let mut zeroed = false;
    if let Death::MidBatch { batch } | Death::DataThenOverflow { batch } = t.death {
        if t.die % batch as u64 != 0 {
            // Records released but `head` not stored: in the data area, or in the overflow
            // area when the data area was drained.
            zeroed = header_word(&ring, false, c.head) == 0
                && (c.head != c.tail || t.mode == Mode::Mpsc)
                || (t.overflow != 0 && header_word(&ring, true, c.overflow_head) == 0);
            assert!(zeroed, "{t:?}: no zeroed record at the shared head: {c:?}");
        }
    }

    // The C reader takes over and drains the rest.
    let each = if t.keep_producing { t.each } else { t.prefill };
    let remaining = u64::from(each) * u64::from(t.producers) - t.die;
    let from_arg = from
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    if t.keep_producing {
        // Each producer reserves once more first, so that no intent of a live producer still
        // covers a record the dead consumer zeroed (section 7.3: such a word reads as pending
        // until its producer reserves again).
        for (p, tx) in txs.iter_mut().enumerate() {
            assert!(push_record(tx, p as u32, t.prefill), "{t:?}: no room");
        }
    } else {
        // Gone: their records freed (intents cleared); what they wrote is all there is.
        txs.clear();
    }
    let args = [
        name.clone(),
        remaining.to_string(),
        t.producers.to_string(),
        "--timeout=30".to_string(),
        format!("--from={from_arg}"),
    ];
    let reader = Reader::spawn(&exe, &args);
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for (p, mut tx) in txs.drain(..).enumerate() {
            let stop = &stop;
            s.spawn(move || {
                for seq in t.prefill + 1..t.each {
                    while !push_record(&mut tx, p as u32, seq) {
                        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                            return;
                        }
                        thread::yield_now();
                    }
                }
            });
        }
    });
    stop.store(true, Ordering::Relaxed);
    let out = reader.finish(Instant::now() + DEADLINE);
    assert_eq!(out.code(), Some(0), "{t:?} (zeroed words {zeroed}): {out}");
    assert!(
        out.stderr.contains(&format!(
            "took over the consumer claim of dead process {dead_pid}"
        )),
        "{t:?}: {out}"
    );
    // Every record once: the dead consumer delivered each producer's 0..from[p] in order, the
    // reader from[p]..each in order and nothing more.
    let c = ring.counters();
    let mut want = format!("records {remaining} head {}", c.tail);
    for p in 0..t.producers {
        want.push_str(&format!(" p{p}={each}"));
    }
    if t.overflow != 0 {
        want.push_str(" overflow ");
    }
    let line = out.stdout.trim();
    assert!(line.starts_with(&want), "{t:?}: want {want:?}: {out}");
    if t.overflow != 0 {
        assert!(
            line.ends_with(&format!(" ohead {}", c.overflow_tail)),
            "{t:?}: {out}"
        );
        assert_eq!(c.overflow_head, c.overflow_tail, "{t:?}");
    }
    assert_eq!((c.head, claim_after(&ring)), (c.tail, 0), "{t:?}");
}

fn claim_after(ring: &RecordRing<Region>) -> u32 {
    let cons = ring.geometry().consumer_offset as usize;
    // SAFETY: the consumer line's claim word, inside the mapped region, read atomically.
    unsafe { (*(ring.memory().as_ptr().add(cons + 4) as *const AtomicU32)).load(Ordering::Acquire) }
}

/// Records of the pattern are 48 or 56 bytes: 4096 bytes hold at least 73 of them.
const TAKEOVER: Takeover = Takeover {
    mode: Mode::Mpsc,
    producers: 2,
    capacity: 4096,
    overflow: 0,
    // Offset 3096: the 18th record or so needs a padding record before it.
    initial: 0u32.wrapping_sub(1000),
    prefill: 30,
    each: 3_000,
    die: 40,
    death: Death::MidBatch { batch: 64 },
    keep_producing: false,
};

/// A Rust MPSC consumer killed in the middle of a batch, after zeroing 40 records (and a
/// padding record at the end of the data area) without storing `head`: the C reader takes the
/// dead claim over, steps over the zero words (7.3), and delivers every other record once,
/// with the producers gone or still writing.
#[test]
fn record_reader_takes_over_from_a_consumer_killed_mid_batch() {
    takeover(TAKEOVER);
    takeover(Takeover {
        keep_producing: true,
        ..TAKEOVER
    });
    // A batch stored once (16 records), then 8 zeroed records.
    takeover(Takeover {
        die: 24,
        death: Death::MidBatch { batch: 16 },
        keep_producing: true,
        ..TAKEOVER
    });
}

/// Killed while holding a record it had read and not released: the reader delivers that record
/// (the dead consumer never counted it), and every other record once.
#[test]
fn record_reader_takes_over_from_a_consumer_killed_holding_a_record() {
    takeover(Takeover {
        death: Death::HoldingRecord,
        ..TAKEOVER
    });
    takeover(Takeover {
        death: Death::HoldingRecord,
        keep_producing: true,
        ..TAKEOVER
    });
}

/// The overflow area (zeroed on release in every mode): a consumer killed in the middle of a
/// batch of spilled records, in MPSC and SPSC rings, after a batch that ended at the end of the
/// data area (an SPSC consumer does not zero the data area: records it read there and did not
/// release are delivered again, LAYOUT.md section 11), and in MPSC also with data area records
/// zeroed in the same batch.
///
/// Not run: an MPSC ring whose producers keep producing. The dead consumer zeroed their last
/// data-area records; while the overflow area is active they reserve only there, so their
/// data-area intents keep covering those zero words, which any successor (Rust or C) then
/// reads as pending, and the overflow area is never drained (spec/RECORDS.md, 7.3, limits).
#[test]
fn record_reader_takes_over_in_the_overflow_area() {
    for (mode, producers) in [(Mode::Mpsc, 2), (Mode::Spsc, 1)] {
        // 1024 + 2048 bytes: each producer's 40 records (80 in MPSC) fill the data area and
        // spill; the consumer dies inside the overflow area.
        let t = Takeover {
            mode,
            producers,
            capacity: 1024,
            overflow: 4096,
            initial: 0u32.wrapping_sub(512),
            prefill: 80 / producers,
            die: 50,
            death: Death::DataThenOverflow { batch: 64 },
            ..TAKEOVER
        };
        takeover(t);
        if mode == Mode::Mpsc {
            takeover(Takeover {
                death: Death::MidBatch { batch: 64 },
                ..t
            });
        }
        if mode == Mode::Spsc {
            takeover(Takeover {
                keep_producing: true,
                ..t
            });
        }
    }
}

/// RECORDS.md 7.3, `release_end`: a consumer died after zeroing the record of a producer that
/// stays alive and idle (its intent still covers the zero words) without storing `head`. The C
/// reader finishes that release (zeroes up to `release_end`, stores `head` there) and reads on,
/// instead of taking the zero words for a pending reservation until its timeout.
#[test]
fn record_reader_finishes_a_dead_consumers_release() {
    use ring_core::record::layout::{header_len, record_size};
    let Some(exe) = records_reader() else { return };
    let name = unique_name("records-release-end");
    let _guard = ShmGuard::new(&name);
    let cfg = RecordConfig::new(1024).mode(Mode::Mpsc);
    let region =
        Region::shm_create(&name, cfg.region_len().unwrap() as usize, 0o600).expect("shm_create");
    let ring = RecordRing::create(region, cfg).expect("create");
    let (mut idle, mut busy) = (ring.producer().unwrap(), ring.producer().unwrap());
    assert!(push_record(&mut idle, 0, 0));
    assert!(push_record(&mut busy, 1, 0));
    let g = *ring.geometry();
    let base = ring.memory().as_ptr();
    // SAFETY: 8-aligned words of the live region (the data area's first word, the consumer
    // line's `release_end` at offset 8), accessed atomically.
    let word = |off: usize| unsafe { &*(base.add(off) as *const AtomicU64) };
    // SAFETY: as above.
    let release_end = unsafe { &*(base.add(g.consumer_offset as usize + 8) as *const AtomicU32) };
    let data = g.data_offset as usize;
    let size = record_size(header_len(word(data).load(Ordering::Acquire)));
    // The dying consumer: delivered producer 0's record 0, announced its end, zeroed it.
    release_end.store(size, Ordering::Relaxed);
    for w in (0..size as usize).step_by(8) {
        word(data + w).store(0, Ordering::Relaxed);
    }
    let args = [
        name.clone(),
        "1".to_string(),
        "2".to_string(),
        "--timeout=20".to_string(),
        "--from=1,0".to_string(),
    ];
    let out = Reader::spawn(&exe, &args).finish(Instant::now() + DEADLINE);
    assert_eq!(out.code(), Some(0), "{out}");
    assert!(
        out.stderr
            .contains(&format!("finished a dead consumer's release up to {size}")),
        "{out}"
    );
    let c = ring.counters();
    assert!(
        out.stdout
            .trim()
            .starts_with(&format!("records 1 head {} p0=1 p1=1", c.tail)),
        "{out}"
    );
    assert_eq!(c.head, c.tail);
    drop((idle, busy));
}

/// RECORDS.md 7.3, `INCOMPAT_RELEASE_END`: on a region without the bit (formatted by a layout
/// that did not maintain `release_end`) the C reader never reads the word. A stale value inside
/// `(head, tail]`, with nothing zeroed: the reader delivers both records and finishes nothing.
/// With the bit, the same stale value would make it pass the first record (checked last).
#[test]
fn record_reader_reads_release_end_only_with_its_bit() {
    use ring_core::record::layout::{header_len, record_size, INCOMPAT_RELEASE_END};
    let Some(exe) = records_reader() else { return };
    for with_bit in [false, true] {
        let name = unique_name("records-release-end-bit");
        let _guard = ShmGuard::new(&name);
        let cfg = RecordConfig::new(1024).mode(Mode::Mpsc);
        let region = Region::shm_create(&name, cfg.region_len().unwrap() as usize, 0o600)
            .expect("shm_create");
        let ring = RecordRing::create(region, cfg).expect("create");
        let (mut p0, mut p1) = (ring.producer().unwrap(), ring.producer().unwrap());
        assert!(push_record(&mut p0, 0, 0));
        assert!(push_record(&mut p1, 1, 0));
        let g = *ring.geometry();
        let base = ring.memory().as_ptr();
        // SAFETY: 8-aligned words of the live region (the header's `incompat` at 32, the data
        // area's first word), accessed atomically.
        let word = |off: usize| unsafe { &*(base.add(off) as *const AtomicU64) };
        // SAFETY: the consumer line's `release_end` at offset 8, 4-aligned.
        let release_end =
            unsafe { &*(base.add(g.consumer_offset as usize + 8) as *const AtomicU32) };
        let size = record_size(header_len(
            word(g.data_offset as usize).load(Ordering::Acquire),
        ));
        release_end.store(size, Ordering::Relaxed);
        if !with_bit {
            word(32).fetch_and(!INCOMPAT_RELEASE_END, Ordering::Relaxed);
        }
        let (count, from) = if with_bit { ("1", "1,0") } else { ("2", "0,0") };
        let args = [
            name.clone(),
            count.to_string(),
            "2".to_string(),
            "--timeout=20".to_string(),
            format!("--from={from}"),
        ];
        let out = Reader::spawn(&exe, &args).finish(Instant::now() + DEADLINE);
        assert_eq!(out.code(), Some(0), "with the bit: {with_bit}: {out}");
        assert_eq!(
            out.stderr.contains("finished a dead consumer's release"),
            with_bit,
            "{out}"
        );
        let c = ring.counters();
        let want = if with_bit {
            format!("records 1 head {} p0=1 p1=1", c.tail)
        } else {
            format!("records 2 head {} p0=1 p1=1", c.tail)
        };
        assert!(out.stdout.trim().starts_with(&want), "{out}");
        drop((p0, p1));
    }
}

/// RECORDS.md 7.2 and 13.5: a producer killed between reserving and committing a record, in the
/// data area and in the overflow area. Held up by its pending record, the C reader runs
/// recovery (RR3-RR5): it commits the record as discarded, frees the dead producer's record, and
/// reads on to the live producer's records behind it. Without recovery it would wait for the
/// record until its timeout.
#[test]
fn record_reader_recovers_a_dead_producers_record() {
    let Some(exe) = records_reader() else { return };
    for spill in [false, true] {
        let name = unique_name("records-dead-producer");
        let _guard = ShmGuard::new(&name);
        let cfg = match spill {
            false => RecordConfig::new(1024).mode(Mode::Mpsc),
            true => RecordConfig::new(256).mode(Mode::Mpsc).overflow(1024),
        };
        let region = Region::shm_create(&name, cfg.region_len().unwrap() as usize, 0o600)
            .expect("shm_create");
        let ring = RecordRing::create(region, cfg).expect("create");
        let mut peer = common::Peer::spawn(
            "records_reserve_and_die",
            &[("spill", u8::from(spill).to_string())],
            &common::Transport::Shm(&name),
        );
        let pushed: u32 = peer.expect("pushed").parse().expect("a number");
        let deadline = Instant::now() + DEADLINE;
        while peer.poll().is_none() {
            assert!(Instant::now() < deadline, "the producer did not die");
            thread::sleep(Duration::from_millis(5));
        }
        let mut live = ring.producer().unwrap();
        for seq in 0..3 {
            assert!(push_record(&mut live, 1, seq));
        }
        assert_eq!(ring.counters().overflowed > 0, spill);
        let args = [
            name.clone(),
            (pushed + 3).to_string(),
            "2".to_string(),
            "--timeout=20".to_string(),
        ];
        let out = Reader::spawn(&exe, &args).finish(Instant::now() + DEADLINE);
        assert_eq!(out.code(), Some(0), "spill {spill}: {out}");
        assert!(
            out.stderr
                .contains("recovered 1 records of dead producers, freed 1 producer records"),
            "spill {spill}: {out}"
        );
        assert!(
            out.stdout
                .trim()
                .starts_with(&format!("records {} head", pushed + 3)),
            "spill {spill}: {out}"
        );
        assert!(
            out.stdout.contains(&format!("p0={pushed} p1=3")),
            "spill {spill}: {out}"
        );
        let c = ring.counters();
        assert_eq!(c.discarded, 1, "spill {spill}");
        drop(live);
    }
}
