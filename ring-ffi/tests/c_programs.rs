//! The C programs of `examples/c/`, compiled with the system C compiler against the libraries
//! this package builds, sharing rings with Rust processes.
//!
//! - `errors.c`: bad input from C gets an error code, never a crash.
//! - `producer.c` feeds this (Rust) test process through `/dev/shm`: a burst that fills the
//!   ring and its overflow area, then a stream; every entry is checked here.
//! - this process feeds `consumer.c`: the C consumer sleeps in a reap before anything is pushed
//!   and must be woken; then the ring and its overflow area are filled while it pauses; every
//!   entry is checked there.
//! - `records.c` (record rings): reads completion records with attributes, and data records,
//!   that this process writes over an SPSC record ring that wraps its positions; and writes
//!   them, as one producer of an MPSC record ring, for this process to read.
//! - `aio_copy.c` (asynchronous system calls, `cring_aio_*`): copies a file through a pool with
//!   several reads in flight; the copy is compared with the source byte for byte.
//!
//! Each program is built three ways: linked statically (`libring_ffi.a`), linked dynamically
//! (`libring_ffi.so`), and statically with `-fsanitize=address,undefined`; always with
//! `-std=c11 -Wall -Wextra -Werror -pedantic`. When `valgrind` is on `PATH`, `errors.c` and the
//! C consumer also run under memcheck (`--leak-check=full`, errors fail the test).
//!
//! The libraries are the ones cargo built for this test run: the package's `cdylib` and
//! `staticlib` are compiled with its `rlib`, into the `deps` directory beside this test's
//! executable. Every wait on a child is bounded ([`DEADLINE`]); a child still running when a
//! test ends is killed, and the `/dev/shm` files are removed on every path (the Rust `Region`
//! unlinks its file on drop, also while unwinding).

use ring_core::{Completion, Config, PopError, PushAllError, PushError, Ring};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use testkit::Peer;

/// Bound on every wait on a child process.
const DEADLINE: Duration = Duration::from_secs(90);
/// Ring geometry shared with the C programs: small, so that the overflow area is used.
const CAPACITY: u32 = 64;
const OVERFLOW: u32 = 256;
/// Entries per run (fewer under valgrind, which is some 50 times slower).
const COUNT: u64 = 50_000;
const VALGRIND_COUNT: u64 = 10_000;
/// Native libraries a Rust staticlib needs on Linux (`rustc --print native-static-libs`).
const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// The completion for sequence number `seq` (the same as `example_entry()` in example.h).
fn entry(seq: u64) -> Completion {
    Completion::new(
        seq,
        (seq % 1_000_003) as i32 - 500_000,
        0xC0DE_0000 | (seq & 0xFFFF) as u32,
    )
}

// ---------------------------------------------------------------------------------------------
// Building

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
enum Variant {
    /// Linked with libring_ffi.a.
    Static,
    /// Linked with libring_ffi.so.
    Shared,
    /// Linked with libring_ffi.a, with AddressSanitizer and UndefinedBehaviorSanitizer.
    Sanitized,
}

const VARIANTS: [Variant; 3] = [Variant::Static, Variant::Shared, Variant::Sanitized];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the libraries built for this test run.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe
        .parent()
        .expect("test executable has a directory")
        .to_path_buf();
    let candidates = [
        deps.clone(),
        deps.parent().map(Path::to_path_buf).unwrap_or_default(),
    ];
    for dir in &candidates {
        if dir.join("libring_ffi.a").exists() && dir.join("libring_ffi.so").exists() {
            return dir.clone();
        }
    }
    panic!(
        "libring_ffi.a / libring_ffi.so not found in {candidates:?}; cargo builds them with the \
         package's rlib for its tests (`cargo build -p ring-ffi` also does)"
    );
}

fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ring-ffi-c");
    std::fs::create_dir_all(&dir).expect("create the output directory");
    dir
}

fn compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_string())
}

/// Compiles `examples/c/<program>.c` as `variant` (once per test binary) and returns the
/// executable.
fn build(program: &str, variant: Variant) -> PathBuf {
    type Cell = Arc<OnceLock<PathBuf>>;
    static BUILT: OnceLock<Mutex<HashMap<(String, Variant), Cell>>> = OnceLock::new();
    let cell: Cell = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry((program.to_string(), variant))
        .or_default()
        .clone();
    // Different programs compile concurrently; each once.
    cell.get_or_init(|| compile(program, variant)).clone()
}

fn compile(program: &str, variant: Variant) -> PathBuf {
    let libs = lib_dir();
    let src = crate_dir().join("examples/c").join(format!("{program}.c"));
    let exe = out_dir().join(format!("{program}-{variant:?}").to_lowercase());
    let mut cmd = Command::new(compiler());
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(&src)
        .arg("-o")
        .arg(&exe);
    match variant {
        Variant::Static => {
            cmd.arg("-O1")
                .arg(libs.join("libring_ffi.a"))
                .args(NATIVE_LIBS);
        }
        Variant::Shared => {
            cmd.arg("-O1")
                .arg("-L")
                .arg(&libs)
                .arg("-Wl,-Bdynamic")
                .arg("-lring_ffi")
                // DT_RPATH, not DT_RUNPATH: it takes precedence over the LD_LIBRARY_PATH cargo
                // sets for tests, which also lists target/debug, where an older
                // libring_ffi.so from an earlier `cargo build` may lie.
                .arg("-Wl,--disable-new-dtags")
                .arg(format!("-Wl,-rpath,{}", libs.display()));
        }
        Variant::Sanitized => {
            cmd.args([
                "-O0",
                "-fsanitize=address,undefined",
                "-fno-sanitize-recover=all",
                "-fno-omit-frame-pointer",
            ])
            .arg(libs.join("libring_ffi.a"))
            .args(NATIVE_LIBS);
        }
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", compiler()));
    assert!(
        out.status.success(),
        "compiling {program}.c ({variant:?}) failed: {cmd:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The dynamic build must really need the shared library (its name is in .dynstr), and the
    // static ones must not.
    let image = std::fs::read(&exe).expect("read the executable");
    let needs_so = image.windows(14).any(|w| w == b"libring_ffi.so");
    assert_eq!(
        needs_so,
        variant == Variant::Shared,
        "{program} ({variant:?})"
    );
    exe
}

fn valgrind() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("valgrind"))
        .find(|p| p.is_file())
}

/// How to run a built program.
#[derive(Clone, Debug)]
struct Runner {
    exe: PathBuf,
    under_valgrind: bool,
    label: String,
}

impl Runner {
    fn new(program: &str, variant: Variant) -> Runner {
        Runner {
            exe: build(program, variant),
            under_valgrind: false,
            label: format!("{program} ({variant:?})"),
        }
    }

    fn valgrind(program: &str) -> Option<Runner> {
        valgrind()?;
        Some(Runner {
            exe: build(program, Variant::Static),
            under_valgrind: true,
            label: format!("{program} (valgrind)"),
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = if self.under_valgrind {
            let mut c = Command::new(valgrind().expect("valgrind"));
            c.args([
                "-q",
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,possible",
                "--show-leak-kinds=definite,possible",
            ])
            .arg(&self.exe);
            c
        } else {
            Command::new(&self.exe)
        };
        cmd.args(args)
            .env(
                "ASAN_OPTIONS",
                "detect_leaks=1:abort_on_error=0:halt_on_error=1",
            )
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
        cmd
    }
}

// ---------------------------------------------------------------------------------------------
// Child processes: supervised by the workspace's harness (`testkit::Peer`), each wait bounded
// by [`DEADLINE`].

/// Starts `runner`'s program with `args` (its stdin piped when `stdin` holds).
fn spawn(runner: &Runner, args: &[&str], stdin: bool) -> Peer {
    Peer::spawn_command(runner.command(args), &runner.label, stdin).bound_each_wait(DEADLINE)
}

/// A fresh `/dev/shm` name for one run.
fn shm_name(what: &str) -> String {
    testkit::unique_name_in("ring-ffi-test", what)
}

fn new_ring(name: &str) -> Ring<Completion> {
    Ring::<Completion>::create_shm(name, Config::new(CAPACITY).overflow(OVERFLOW))
        .unwrap_or_else(|e| panic!("create_shm({name}): {e}"))
}

// ---------------------------------------------------------------------------------------------
// Tests

/// `errors.c`: every misuse returns its status; under the sanitizers and valgrind nothing
/// touches memory it should not.
#[test]
fn c_errors_program() {
    let mut runners: Vec<Runner> = VARIANTS.iter().map(|&v| Runner::new("errors", v)).collect();
    runners.extend(Runner::valgrind("errors"));
    for r in &runners {
        let mut peer = spawn(r, &[], false);
        let out = peer.wait_exit();
        assert!(
            out.iter().any(|l| l == "errors: ok"),
            "{}: {out:?}",
            r.label
        );
    }
}

/// A C producer process feeds this Rust process over `/dev/shm`.
fn c_producer_to_rust(runner: &Runner) {
    let name = shm_name("c2rust");
    let ring = new_ring(&name);
    let count = COUNT;
    let mut peer = spawn(runner, &[&name, &count.to_string()], false);

    // 1. The producer fills the ring and the overflow area before we read anything.
    let burst: u64 = peer.expect_line("burst ").parse().expect("burst count");
    assert_eq!(burst, u64::from(CAPACITY + OVERFLOW), "{}", runner.label);
    let c = ring.counters();
    assert!(c.full_refusals >= 1, "{c:?}");
    assert!(c.overflow_active, "{c:?}");
    assert_eq!(c.overflow_pending, OVERFLOW, "{c:?}");
    assert_eq!(c.overflowed, u64::from(OVERFLOW), "{c:?}");

    // 2. Take everything, checking each entry, with reap (a minimum and a timeout) and pops.
    let mut rx = ring.consumer().expect("consumer");
    let mut buf = vec![Completion::default(); 128];
    let mut next = 0u64;
    let deadline = Instant::now() + DEADLINE;
    let mut round = 0u64;
    while next < count {
        let got = if round % 3 == 2 {
            match rx.pop() {
                Ok(e) => {
                    buf[0] = e;
                    1
                }
                Err(PopError::Empty) => 0,
                Err(e) => panic!("pop: {e}"),
            }
        } else {
            let min = (1 + round as usize % 32).min((count - next) as usize);
            rx.reap(&mut buf, min, Some(Duration::from_millis(100)))
                .unwrap_or_else(|e| panic!("reap: {e}"))
        };
        round += 1;
        for e in &buf[..got] {
            assert_eq!(*e, entry(next), "{}: entry {next}", runner.label);
            next += 1;
        }
        if got == 0 {
            peer.check_alive();
            if Instant::now() > deadline {
                peer.fail(format!("only {next} of {count} entries arrived"));
            }
        }
    }
    let out = peer.wait_exit();
    assert!(
        out.iter().any(|l| l.starts_with(&format!("done {count} "))),
        "{}: {out:?}",
        runner.label
    );
    // The C producer closed the stream when it was done (`cring_producer_close_stream`): the
    // end of the stream, across processes.
    assert_eq!(rx.pop(), Err(PopError::Closed));
    assert!(ring.stream().closed);
    let c = ring.counters();
    assert!(c.overflowed >= u64::from(OVERFLOW), "{c:?}");
}

#[test]
fn c_producer_feeds_rust_consumer() {
    for v in VARIANTS {
        c_producer_to_rust(&Runner::new("producer", v));
    }
}

/// This Rust process feeds a C consumer process over `/dev/shm`.
fn rust_to_c_consumer(runner: &Runner, count: u64) {
    let name = shm_name("rust2c");
    let ring = new_ring(&name);
    let mut peer = spawn(runner, &[&name, &count.to_string()], true);
    peer.expect_line("ready");
    let mut tx = ring.producer().expect("producer");

    // 1. Wait until the consumer sleeps in its reap, then wake it with one batch.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let c = ring.counters();
        if c.sleeps >= 1 && c.waiters >= 1 {
            break;
        }
        peer.check_alive();
        if Instant::now() > deadline {
            peer.fail("the consumer never went to sleep");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let first: Vec<Completion> = (0..4).map(entry).collect();
    tx.push_all(&first).expect("push_all");
    assert_eq!(peer.expect_line("woken "), "4");
    peer.expect_line("paused");

    // 2. While it pauses, fill the ring and the overflow area: exactly their capacity fits.
    let mut seq = 4u64;
    loop {
        match tx.push(entry(seq)) {
            Ok(()) => seq += 1,
            Err(PushError::Full(_)) => break,
            Err(e) => panic!("push: {e}"),
        }
    }
    assert_eq!(seq - 4, u64::from(CAPACITY + OVERFLOW), "{}", runner.label);
    assert_eq!(
        tx.push_all(&[entry(seq)]),
        Err(PushAllError::Full { free: 0 })
    );
    let c = ring.counters();
    assert_eq!(c.overflowed, u64::from(OVERFLOW), "{c:?}");
    peer.send("go");

    // 3. Stream the rest, waiting while the ring is full.
    let mut batch = Vec::with_capacity(16);
    while seq < count {
        if seq % 5 == 0 {
            let n = (1 + seq % 16).min(count - seq);
            batch.clear();
            batch.extend((seq..seq + n).map(entry));
            match tx.push_all(&batch) {
                Ok(()) => seq += n,
                Err(PushAllError::Full { .. }) => std::thread::sleep(Duration::from_micros(50)),
                Err(e) => panic!("push_all: {e}"),
            }
        } else {
            match tx.push_wait(entry(seq), Some(Duration::from_millis(200))) {
                Ok(()) => seq += 1,
                Err(PushError::Full(_)) => {}
                Err(e) => panic!("push_wait: {e}"),
            }
        }
        if seq % 1024 == 0 || seq == count {
            peer.check_alive();
            if Instant::now() > deadline + DEADLINE {
                peer.fail(format!("stuck after {seq} of {count} entries"));
            }
        }
    }
    let done = peer.expect_line("done ");
    assert!(
        done.starts_with(&format!("{count} ")),
        "{}: {done}",
        runner.label
    );
    peer.wait_exit();
}

#[test]
fn rust_producer_feeds_c_consumer() {
    for v in VARIANTS {
        rust_to_c_consumer(&Runner::new("consumer", v), COUNT);
    }
}

#[test]
fn c_consumer_under_valgrind() {
    let Some(runner) = Runner::valgrind("consumer") else {
        eprintln!("valgrind is not on PATH: skipping the memcheck run of the C consumer");
        return;
    };
    rust_to_c_consumer(&runner, VALGRIND_COUNT);
}

// ---------------------------------------------------------------------------------------------
// `aio_copy.c`: copies a file through a ring-aio pool (cring_aio_*), several reads in flight;
// the copy must equal the source byte for byte.

/// Deterministic, non-repeating bytes (a position-dependent mix), so that a chunk written at a
/// wrong offset, twice, or not at all shows in the comparison.
fn pattern(len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| {
            let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i >> 7);
            (x >> 29) as u8
        })
        .collect()
}

/// Runs `aio_copy SRC DST DEPTH CHUNK` on a source of `len` bytes and compares the copy.
fn aio_copy(runner: &Runner, len: usize, depth: u32, chunk: u32) {
    let dir = out_dir();
    let tag = format!("{}-{len}-{depth}-{chunk}", std::process::id());
    let label = runner.label.replace([' ', '(', ')'], "");
    let src = dir.join(format!("aio-src-{label}-{tag}"));
    let dst = dir.join(format!("aio-dst-{label}-{tag}"));
    let data = pattern(len);
    std::fs::write(&src, &data).expect("write the source");
    let _ = std::fs::remove_file(&dst);
    let args = [
        src.to_str().unwrap(),
        dst.to_str().unwrap(),
        &depth.to_string(),
        &chunk.to_string(),
    ];
    let mut peer = spawn(runner, &args, false);
    let out = peer.wait_exit();
    let line = out
        .iter()
        .find(|l| l.starts_with("copied "))
        .unwrap_or_else(|| panic!("{}: {out:?}", runner.label));
    assert!(
        line.starts_with(&format!("copied {len} bytes, depth {depth}, ")),
        "{}: {line}",
        runner.label
    );
    // With more chunks than slots, every slot was reading at once at the start.
    let chunks = len.div_ceil(chunk as usize);
    let want_in_flight = chunks.min(depth as usize);
    assert!(
        line.contains(&format!("most reads in flight {want_in_flight},")),
        "{}: {line}",
        runner.label
    );
    let copy = std::fs::read(&dst).expect("read the copy");
    assert_eq!(copy.len(), data.len(), "{}: copy length", runner.label);
    if let Some(at) = copy.iter().zip(&data).position(|(a, b)| a != b) {
        panic!(
            "{}: the copy differs from the source at byte {at}",
            runner.label
        );
    }
    std::fs::remove_file(&src).unwrap();
    std::fs::remove_file(&dst).unwrap();
}

/// A file whose size is not a multiple of the chunk, with 8 reads in flight; a single
/// partial chunk; an empty file; one read at a time.
#[test]
fn c_aio_copy_program() {
    for v in VARIANTS {
        let r = Runner::new("aio_copy", v);
        aio_copy(&r, 3 * 1024 * 1024 + 4321, 8, 65536);
        aio_copy(&r, 1000, 8, 4096);
        aio_copy(&r, 0, 4, 4096);
        aio_copy(&r, 200_000, 1, 8192);
    }
}

#[test]
fn c_aio_copy_under_valgrind() {
    let Some(runner) = Runner::valgrind("aio_copy") else {
        eprintln!("valgrind is not on PATH: skipping the memcheck run of aio_copy.c");
        return;
    };
    aio_copy(&runner, 300_000 + 17, 8, 16384);
}

// ---------------------------------------------------------------------------------------------
// Record rings: `records.c` reads completion records with attributes that this process writes,
// and writes them for this process to read (the records are described in records.c).

mod records {
    use super::*;
    use ring_core::record::attrs::{attr_id, attr_status, AttrStatus, AttrWriter, Known};
    use ring_core::record::layout::record_type;
    use ring_core::record::{RecordConfig, RecordProducer, RecordRing, RecordView, ReserveError};
    use ring_core::{Mode, Region};

    /// Records per run: the data areas are small, so the ring wraps and fills many times.
    const RECORDS: u64 = 20_000;
    const APP_ATTR: u16 = 0x9001;

    fn completion(seq: u64) -> Completion {
        Completion::new(
            seq,
            (seq % 1000) as i32 - 500,
            0xA770_0000 | (seq & 0xFFFF) as u32,
        )
    }

    fn is_data(seq: u64) -> bool {
        seq % 5 == 4
    }

    fn create(name: &str, cfg: RecordConfig) -> RecordRing<Region> {
        let len = cfg.region_len().expect("region_len") as usize;
        let region = Region::shm_create(name, len, 0o600)
            .unwrap_or_else(|e| panic!("shm_create({name}): {e}"));
        RecordRing::create(region, cfg).unwrap_or_else(|e| panic!("create({name}): {e}"))
    }

    /// Writes record `seq` as records.c describes; `false` when the ring is full.
    fn write(tx: &mut RecordProducer, seq: u64) -> bool {
        if is_data(seq) {
            return match tx.push(&vec![seq as u8; (seq % 50) as usize]) {
                Ok(()) => true,
                Err(ReserveError::Full { .. }) => false,
                Err(e) => panic!("push: {e}"),
            };
        }
        let mut rec = match tx.reserve(16 + 16 + 8 + 8 + 8) {
            Ok(r) => r,
            Err(ReserveError::Full { .. }) => return false,
            Err(e) => panic!("reserve: {e}"),
        };
        let mut w = AttrWriter::new(&mut rec, completion(seq)).unwrap();
        w.push_u64(attr_id::DURATION_NS, seq * 10).unwrap();
        w.push(APP_ATTR, attr_status::HANDLED, b"xyz").unwrap();
        w.push(
            attr_id::WORKER_CPU,
            attr_status::FAILED,
            &95u32.to_le_bytes(),
        )
        .unwrap();
        if seq % 2 == 0 {
            w.push_u8(attr_id::CACHE_HIT, 1).unwrap();
        }
        w.finish();
        rec.commit();
        true
    }

    /// Checks that `r` is record `seq` as records.c describes.
    fn check(r: &RecordView<'_>, seq: u64, label: &str) {
        if is_data(seq) {
            assert_eq!(r.record_type(), record_type::DATA, "{label}: record {seq}");
            assert_eq!(
                r.to_vec(),
                vec![seq as u8; (seq % 50) as usize],
                "{label}: record {seq}"
            );
            return;
        }
        let (c, attrs) = r
            .completion()
            .unwrap_or_else(|e| panic!("{label}: record {seq}: {e}"));
        assert_eq!(c, completion(seq), "{label}: record {seq}");
        let all: Vec<_> = attrs.iter().collect::<Result<_, _>>().unwrap();
        assert!(
            all.iter()
                .any(|a| a.id == APP_ATTR && a.value == b"xyz" && a.status == AttrStatus::Handled),
            "{label}: record {seq}: {all:?}"
        );
        let known: Vec<Known> = attrs.known().collect::<Result<_, _>>().unwrap();
        let mut want = vec![
            Known::DurationNs(seq * 10),
            Known::NotHandled {
                id: attr_id::WORKER_CPU,
                status: AttrStatus::Failed,
            },
        ];
        if seq % 2 == 0 {
            want.push(Known::CacheHit(true));
        }
        assert_eq!(known, want, "{label}: record {seq}");
        let cpu = all.iter().find(|a| a.id == attr_id::WORKER_CPU).unwrap();
        assert_eq!(cpu.value, 95u32.to_le_bytes(), "{label}: record {seq}");
    }

    /// This process writes records for the C consumer, over an SPSC ring whose positions start
    /// just below the 2^32 wrap.
    fn rust_to_c(runner: &Runner) {
        let name = shm_name("rec-rust2c");
        let ring = create(
            &name,
            RecordConfig::new(1024).initial_position(u32::MAX - 511),
        );
        let mut peer = spawn(runner, &["consume", &name, &RECORDS.to_string()], false);
        peer.expect_line("ready");
        let mut tx = ring.producer().expect("producer");
        let deadline = Instant::now() + DEADLINE;
        let mut full = 0u64;
        for seq in 0..RECORDS {
            while !write(&mut tx, seq) {
                full += 1;
                if full % 256 == 0 {
                    peer.check_alive();
                    if Instant::now() > deadline {
                        peer.fail(format!("stuck at record {seq}"));
                    }
                }
                std::thread::sleep(Duration::from_micros(20));
            }
        }
        assert_eq!(
            peer.expect_line("done "),
            RECORDS.to_string(),
            "{}",
            runner.label
        );
        peer.wait_exit();
        let c = ring.counters();
        assert_eq!(c.head, c.tail, "{c:?}");
        assert!(c.tail < u32::MAX - 511, "the positions wrapped: {c:?}");
    }

    #[test]
    fn rust_records_feed_c_consumer() {
        for v in VARIANTS {
            rust_to_c(&Runner::new("records", v));
        }
    }

    /// The C producer writes records for this process, over an MPSC ring (the C program is one
    /// of its producers; a Rust producer of this process writes between them, after the end).
    fn c_to_rust(runner: &Runner) {
        let name = shm_name("rec-c2rust");
        let ring = create(&name, RecordConfig::new(2048).mode(Mode::Mpsc).producers(4));
        let mut rx = ring.consumer().expect("consumer");
        let mut peer = spawn(runner, &["produce", &name, &RECORDS.to_string()], false);
        let deadline = Instant::now() + DEADLINE;
        let mut next = 0u64;
        let mut round = 0u64;
        while next < RECORDS {
            let got = if round % 2 == 0 {
                rx.reap(1, 64, usize::MAX, Some(Duration::from_millis(100)), |r| {
                    check(r, next, &runner.label);
                    next += 1;
                })
                .unwrap_or_else(|e| panic!("{}: reap: {e}", runner.label))
            } else {
                match rx.read() {
                    Ok(r) => {
                        check(&r, next, &runner.label);
                        next += 1;
                        1
                    }
                    Err(_) => 0,
                }
            };
            round += 1;
            if got == 0 {
                peer.check_alive();
                if Instant::now() > deadline {
                    peer.fail(format!("only {next} of {RECORDS} records arrived"));
                }
                std::thread::yield_now();
            }
        }
        let out = peer.wait_exit();
        assert!(
            out.iter().any(|l| l == &format!("done {RECORDS}")),
            "{}: {out:?}",
            runner.label
        );
        assert!(rx.read().is_err(), "{}: a record too many", runner.label);
        // The C producer's record was given back: a new producer may take it.
        let mut tx = ring.producer().expect("producer");
        assert!(write(&mut tx, 0));
        check(&rx.read().unwrap(), 0, &runner.label);
    }

    #[test]
    fn c_records_feed_rust_consumer() {
        for v in VARIANTS {
            c_to_rust(&Runner::new("records", v));
        }
    }

    #[test]
    fn c_records_under_valgrind() {
        let Some(runner) = Runner::valgrind("records") else {
            eprintln!("valgrind is not on PATH: skipping the memcheck run of records.c");
            return;
        };
        rust_to_c(&runner);
        c_to_rust(&runner);
    }
}
