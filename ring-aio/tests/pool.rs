//! The pool's guarantees: ordering per descriptor, fsync barriers, cancellation in each state,
//! close with operations in flight, bursts through a full ring with overflow, batches and
//! backpressure, elasticity, and no lost or duplicated completion. Every wait is bounded.

use ring_aio::{
    flags, Backpressure, CancelOutcome, CpuSet, Op, Output, Pool, PoolConfig, Submission,
    SubmissionId, SubmitError, Target, Timing,
};
use ring_core::{Completion, Config, Consumer, Mode, Ring};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The longest any single wait in these tests may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

fn ring(cap: u32, overflow: u32) -> Ring<Completion> {
    let mut cfg = Config::new(cap).mode(Mode::Mpsc);
    if overflow > 0 {
        cfg = cfg.overflow(overflow);
    }
    Ring::create_heap(cfg).unwrap()
}

/// Reaps exactly `n` completions or panics at the deadline.
fn reap_n(rx: &mut Consumer<Completion>, n: usize) -> Vec<Completion> {
    let mut out = vec![Completion::default(); n];
    let mut got = 0;
    let start = Instant::now();
    while got < n {
        let left = DEADLINE
            .checked_sub(start.elapsed())
            .unwrap_or_else(|| panic!("only {got} of {n} completions within {DEADLINE:?}"));
        got += rx.reap(&mut out[got..], n - got, Some(left)).unwrap();
    }
    out
}

/// Whether a completion arrives within `wait` (used to check that one has NOT arrived yet).
fn nothing_within(rx: &mut Consumer<Completion>, wait: Duration) -> bool {
    let mut out = [Completion::default(); 1];
    rx.reap(&mut out, 1, Some(wait)).unwrap() == 0
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    unsafe {
        (
            <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[0]),
            <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[1]),
        )
    }
}

fn temp_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ring-aio-test-{tag}-{}", std::process::id()))
}

fn submit(pool: &Pool, op: Op, t: &Target, cookie: u64) -> SubmissionId {
    pool.submit(Submission::new(op, t).cookie(cookie))
        .map_err(|r| r.error)
        .unwrap()
}

/// Ordered mode: 400 appends with up to 8 workers land in the file, and complete, in
/// submission order. (Short appends often keep their order without ordered mode too; the next
/// test is the one that fails without it.)
#[test]
fn ordered_per_fd() {
    let ring = ring(1024, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(8).ordered(true)).unwrap();
    let path = temp_path("ordered");
    let _ = std::fs::remove_file(&path);
    let file = std::fs::OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .unwrap();
    let fd = file.as_raw_fd();
    let n = 400u64;
    for i in 0..n {
        submit(
            &pool,
            Op::write(fd, format!("{i:07}\n").into_bytes()),
            &t,
            i,
        );
    }
    let mut rx = ring.consumer().unwrap();
    let done = reap_n(&mut rx, n as usize);
    let cookies: Vec<u64> = done.iter().map(|c| c.user_data).collect();
    assert_eq!(cookies, (0..n).collect::<Vec<_>>(), "completion order");
    assert!(done.iter().all(|c| c.result == 8));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<u64> = text.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(lines, (0..n).collect::<Vec<_>>(), "file order");
    std::fs::remove_file(&path).unwrap();
}

/// Ordered mode: a later operation on the descriptor does not start while an earlier one is
/// blocked (here an fsync, which would otherwise fail at once, behind a read of an empty
/// pipe), and starts once it completes.
#[test]
fn ordered_holds_later_operations_behind_a_blocked_one() {
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(4).ordered(true)).unwrap();
    let (r, w) = pipe();
    submit(&pool, Op::read(r.as_raw_fd(), vec![0; 3]), &t, 1);
    submit(&pool, Op::fsync(r.as_raw_fd()), &t, 2);
    submit(&pool, Op::nop(), &t, 3); // no descriptor: not held
    let mut rx = ring.consumer().unwrap();
    assert_eq!(reap_n(&mut rx, 1)[0].user_data, 3);
    assert!(nothing_within(&mut rx, Duration::from_millis(100)));
    std::fs::File::from(w).write_all(b"abc").unwrap();
    let done = reap_n(&mut rx, 2);
    assert_eq!((done[0].user_data, done[0].result), (1, 3));
    assert_eq!((done[1].user_data, done[1].result), (2, -libc::EINVAL));
}

/// fsync waits for an earlier write that is blocked (a write larger than the pipe's buffer),
/// while unrelated operations go on.
#[test]
fn fsync_barrier_waits_for_earlier_writes() {
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(4)).unwrap();
    let (r, w) = pipe();
    let big = 1 << 20; // far more than a pipe holds: the write blocks until we read
    submit(&pool, Op::write(w.as_raw_fd(), vec![7u8; big]), &t, 1);
    submit(&pool, Op::fsync(w.as_raw_fd()), &t, 2);
    submit(&pool, Op::nop(), &t, 3);
    let mut rx = ring.consumer().unwrap();
    // The nop is not held up by the barrier.
    let first = reap_n(&mut rx, 1);
    assert_eq!(first[0].user_data, 3);
    // Neither the write nor the fsync can complete while nobody reads.
    assert!(nothing_within(&mut rx, Duration::from_millis(100)));
    let mut reader = std::fs::File::from(r);
    let mut sink = vec![0u8; big];
    reader.read_exact(&mut sink).unwrap();
    let rest = reap_n(&mut rx, 2);
    assert_eq!(rest[0].user_data, 1, "the write completes first");
    assert_eq!(rest[0].result, big as i32);
    assert_eq!(rest[1].user_data, 2);
    // fsync of a pipe: EINVAL, but only after the write.
    assert_eq!(rest[1].result, -libc::EINVAL);
}

/// Cancelling a queued operation completes it at once with -ECANCELED, even while every
/// worker is busy; its buffer is handed back.
#[test]
fn cancel_queued() {
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(1)).unwrap();
    let (r, w) = pipe();
    // Occupies the only worker.
    let blocker = submit(&pool, Op::read(r.as_raw_fd(), vec![0; 8]), &t, 1);
    let queued = submit(&pool, Op::read(r.as_raw_fd(), vec![0; 99]), &t, 2);
    assert_eq!(pool.cancel(queued), CancelOutcome::Canceled);
    let mut rx = ring.consumer().unwrap();
    let c = reap_n(&mut rx, 1)[0];
    assert_eq!(c.user_data, 2);
    assert_eq!(c.result, -libc::ECANCELED);
    assert_eq!(
        c.flags & (flags::CANCELED | flags::INTERRUPTED),
        flags::CANCELED
    );
    match pool.take_output(queued) {
        Some(Output::Buffer(b)) => assert_eq!(b.len(), 99),
        other => panic!("buffer not handed back: {other:?}"),
    }
    // Cancelling again: it has completed.
    assert_eq!(pool.cancel(queued), CancelOutcome::TooLate);
    // Let the blocker finish normally.
    std::fs::File::from(w).write_all(b"abc").unwrap();
    let c = reap_n(&mut rx, 1)[0];
    assert_eq!((c.user_data, c.result), (1, 3));
    assert!(matches!(pool.take_output(blocker), Some(Output::Buffer(b)) if b == b"abc"));
}

/// Cancelling a read blocked on an empty pipe interrupts its worker.
#[test]
fn cancel_running_interrupts() {
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(2)).unwrap();
    let (r, _w) = pipe();
    let id = submit(&pool, Op::read(r.as_raw_fd(), vec![0; 8]), &t, 9);
    // Wait until a worker has it (nothing else can take the worker's time).
    let start = Instant::now();
    while pool.stats().queued > 0 || pool.stats().idle == pool.stats().workers {
        assert!(start.elapsed() < DEADLINE);
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    let outcome = pool.cancel(id);
    assert!(
        matches!(
            outcome,
            CancelOutcome::Interrupted | CancelOutcome::Signalled
        ),
        "{outcome:?}"
    );
    let mut rx = ring.consumer().unwrap();
    let c = reap_n(&mut rx, 1)[0];
    assert_eq!(c.user_data, 9);
    assert_eq!(c.result, -libc::ECANCELED);
    assert_eq!(
        c.flags & (flags::CANCELED | flags::INTERRUPTED),
        flags::CANCELED | flags::INTERRUPTED
    );
    assert!(
        nothing_within(&mut rx, Duration::from_millis(20)),
        "one completion only"
    );
}

/// Many interrupts in a row: every blocked read is interrupted, including those signalled
/// just before they entered the system call (the pool signals again until they react).
#[test]
fn cancel_running_repeatedly() {
    let ring = ring(256, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(4)).unwrap();
    let (r, _w) = pipe();
    let mut rx = ring.consumer().unwrap();
    for round in 0..50u64 {
        let id = submit(&pool, Op::read(r.as_raw_fd(), vec![0; 1]), &t, round);
        // Cancel at once: the job may be queued, about to run, or running.
        let outcome = pool.cancel(id);
        assert!(
            matches!(
                outcome,
                CancelOutcome::Canceled | CancelOutcome::Interrupted | CancelOutcome::Signalled
            ),
            "{outcome:?}"
        );
        let c = reap_n(&mut rx, 1)[0];
        assert_eq!((c.user_data, c.result), (round, -libc::ECANCELED));
    }
}

/// A running operation that is not interruptible completes normally; a completed one is too
/// late; an id never issued is unknown.
#[test]
fn cancel_too_late_and_unknown() {
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(2)).unwrap();
    let ts = Box::new(libc::timespec {
        tv_sec: 0,
        tv_nsec: 200_000_000,
    });
    let ts_ptr = &*ts as *const libc::timespec as usize;
    // SAFETY: nanosleep reads the timespec, which lives until the completion is reaped below.
    let op = unsafe { Op::syscall(libc::SYS_nanosleep, [ts_ptr, 0, 0, 0, 0, 0], false) };
    let id = submit(&pool, op, &t, 5);
    let start = Instant::now();
    while pool.stats().queued > 0 || pool.stats().idle == pool.stats().workers {
        assert!(start.elapsed() < DEADLINE);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(pool.cancel(id), CancelOutcome::TooLate);
    let mut rx = ring.consumer().unwrap();
    let c = reap_n(&mut rx, 1)[0];
    assert_eq!((c.user_data, c.result, c.flags), (5, 0, 0));
    drop(ts);
    assert_eq!(pool.cancel(id), CancelOutcome::TooLate);
    assert_eq!(pool.cancel(SubmissionId(1 << 40)), CancelOutcome::Unknown);
}

/// close through the pool waits for a read in flight on the descriptor, and closes it.
#[test]
fn close_waits_for_operations_in_flight() {
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(4)).unwrap();
    let (r, w) = pipe();
    let raw = r.as_raw_fd();
    submit(&pool, Op::read(raw, vec![0; 4]), &t, 1);
    submit(&pool, Op::close(r), &t, 2);
    let mut rx = ring.consumer().unwrap();
    assert!(nothing_within(&mut rx, Duration::from_millis(100)));
    std::fs::File::from(w).write_all(b"data").unwrap();
    let done = reap_n(&mut rx, 2);
    assert_eq!((done[0].user_data, done[0].result), (1, 4));
    assert_eq!((done[1].user_data, done[1].result), (2, 0));
}

/// close_cancelling cancels what is queued and interrupts what runs on the descriptor, then
/// closes it; every operation gets its one completion.
#[test]
fn close_cancelling_operations_in_flight() {
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(2)).unwrap();
    let (r, _w) = pipe();
    let raw = r.as_raw_fd();
    for i in 0..6 {
        submit(&pool, Op::read(raw, vec![0; 4]), &t, i);
    }
    // Wait until the two workers have taken two of them (four stay queued).
    let start = Instant::now();
    while pool.stats().queued != 4 {
        assert!(start.elapsed() < DEADLINE, "{:?}", pool.stats());
        std::thread::sleep(Duration::from_millis(1));
    }
    submit(&pool, Op::close_cancelling(r), &t, 100);
    let mut rx = ring.consumer().unwrap();
    let done = reap_n(&mut rx, 7);
    let mut by_cookie: HashMap<u64, Completion> = HashMap::new();
    for c in &done {
        assert!(
            by_cookie.insert(c.user_data, *c).is_none(),
            "duplicate {c:?}"
        );
    }
    for i in 0..6 {
        assert_eq!(by_cookie[&i].result, -libc::ECANCELED, "read {i}");
    }
    let interrupted = (0..6)
        .filter(|i| by_cookie[i].flags & flags::INTERRUPTED != 0)
        .count();
    assert_eq!(interrupted, 2, "the two running reads were interrupted");
    assert_eq!(by_cookie[&100].result, 0);
    assert_eq!(done.last().unwrap().user_data, 100, "close completes last");
    // SAFETY: F_GETFD on a number that should now be closed; no memory involved.
    let r = unsafe { libc::fcntl(raw, libc::F_GETFD) };
    // The number may have been reused by another test's descriptor; only check when not.
    if r == -1 {
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EBADF)
        );
    }
}

/// A burst of 10x the ring's capacity with nobody reaping: the ring fills, the overflow area
/// fills, workers wait; then every completion is reaped exactly once.
#[test]
fn burst_through_full_ring_and_overflow() {
    let cap = 32u32;
    let ring = ring(cap, 128);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(4)).unwrap();
    let n = 10 * cap as u64;
    let batch = pool.submit_batch(
        (0..n)
            .map(|i| Submission::new(Op::nop(), &t).cookie(i))
            .collect(),
    );
    assert_eq!(batch.accepted(), n as usize);
    assert!(batch.error.is_none());
    // Wait until ring and overflow are full and the rest is held by waiting workers. (A
    // worker counts its completion done just after posting it, so the outstanding count can
    // trail the ring's fill level for a moment: both are waited for.)
    let start = Instant::now();
    while ring.counters().overflow_pending < 128
        || pool.stats().outstanding != (n - 32 - 128) as usize
    {
        assert!(
            start.elapsed() < DEADLINE,
            "{:?}, outstanding {}",
            ring.counters(),
            pool.stats().outstanding
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut rx = ring.consumer().unwrap();
    let done = reap_n(&mut rx, n as usize);
    let mut seen = vec![false; n as usize];
    for c in done {
        assert_eq!(c.result, 0);
        assert!(!std::mem::replace(&mut seen[c.user_data as usize], true));
    }
    assert!(ring.counters().overflowed >= 128);
    assert!(pool.drain(Some(DEADLINE)));
    assert!(nothing_within(&mut rx, Duration::from_millis(10)));
}

/// Batches stop at the first refusal and hand back the rest; waiting backpressure times out
/// with a typed error; the queue depth counts outstanding submissions.
#[test]
fn batch_and_backpressure() {
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    let cfg = PoolConfig::new()
        .max_workers(2)
        .queue_depth(4)
        .backpressure(Backpressure::Fail);
    let pool = Pool::new(cfg).unwrap();
    let (r, w) = pipe();
    let subs = (0..6)
        .map(|i| Submission::new(Op::read(r.as_raw_fd(), vec![0; 1]), &t).cookie(i))
        .collect();
    let batch = pool.submit_batch(subs);
    assert_eq!(batch.accepted(), 4);
    assert_eq!(batch.error, Some(SubmitError::QueueFull { depth: 4 }));
    assert_eq!(batch.unsubmitted.len(), 2);
    let refused = pool
        .submit_with(
            Submission::new(Op::nop(), &t),
            Backpressure::Wait(Some(Duration::from_millis(30))),
        )
        .unwrap_err();
    assert!(matches!(
        refused.error,
        SubmitError::TimedOut { depth: 4, .. }
    ));
    assert_eq!(refused.submission.op().name(), "nop");
    // Room appears as reads complete: a waiting submission gets in.
    std::fs::File::from(w).write_all(b"abcd").unwrap();
    let id = pool
        .submit_with(
            Submission::new(Op::nop(), &t).cookie(99),
            Backpressure::Wait(Some(DEADLINE)),
        )
        .unwrap();
    let mut rx = ring.consumer().unwrap();
    let done = reap_n(&mut rx, 5);
    assert!(done.iter().any(|c| c.user_data == 99));
    let _ = id;
}

/// Buffers totalling more than an i32 result can report are refused and handed back.
#[test]
fn too_large_is_refused() {
    let ring = ring(8, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new()).unwrap();
    // 3 x 1 GiB of zeroed memory: mapped lazily, never touched.
    let huge: Vec<Vec<u8>> = (0..3).map(|_| vec![0u8; 1 << 30]).collect();
    let refused = pool
        .submit(Submission::new(Op::readv(0, huge, None), &t))
        .unwrap_err();
    assert_eq!(
        refused.error,
        SubmitError::TooLarge {
            op: "readv",
            bytes: 3 << 30
        }
    );
    assert_eq!(pool.stats().outstanding, 0);
    drop(refused);
}

/// Workers start on demand up to the maximum and exit after the idle timeout.
#[test]
fn elastic_workers() {
    let ring = ring(256, 0);
    let t = Target::new(&ring).unwrap();
    let cfg = PoolConfig::new()
        .max_workers(3)
        .idle_timeout(Duration::from_millis(50));
    let pool = Pool::new(cfg).unwrap();
    let (r, w) = pipe();
    for i in 0..5 {
        submit(&pool, Op::read(r.as_raw_fd(), vec![0; 1]), &t, i);
    }
    let s = pool.stats();
    assert_eq!(s.workers, 3, "{s:?}");
    assert_eq!(s.outstanding, 5);
    std::fs::File::from(w).write_all(b"12345").unwrap();
    let mut rx = ring.consumer().unwrap();
    reap_n(&mut rx, 5);
    let start = Instant::now();
    while pool.stats().workers > 0 {
        assert!(start.elapsed() < DEADLINE, "{:?}", pool.stats());
        std::thread::sleep(Duration::from_millis(5));
    }
    // And they come back.
    submit(&pool, Op::nop(), &t, 7);
    assert_eq!(reap_n(&mut rx, 1)[0].user_data, 7);
}

/// Typed operations against real files and sockets.
#[test]
fn typed_operations() {
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(2)).unwrap();
    let mut rx = ring.consumer().unwrap();
    let dir = temp_path("ops");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f");
    // openat
    let open = Op::openat(
        libc::AT_FDCWD,
        &path,
        libc::O_CREAT | libc::O_RDWR | libc::O_CLOEXEC,
        0o600,
    )
    .unwrap();
    submit(&pool, open, &t, 1);
    let c = reap_n(&mut rx, 1)[0];
    assert!(c.result >= 0, "{c:?}");
    let fd = c.result;
    // writev, fallocate, fdatasync, readv, statx
    submit(
        &pool,
        Op::writev(fd, vec![b"abc".to_vec(), b"defg".to_vec()], Some(0)),
        &t,
        2,
    );
    submit(&pool, Op::fallocate(fd, 0, 0, 4096), &t, 3);
    submit(&pool, Op::fdatasync(fd), &t, 4);
    let done = reap_n(&mut rx, 3);
    let res: HashMap<u64, i32> = done.iter().map(|c| (c.user_data, c.result)).collect();
    assert_eq!(res[&2], 7);
    assert_eq!(res[&3], 0);
    assert_eq!(res[&4], 0);
    assert_eq!(done[2].user_data, 4, "fdatasync after the writes");
    let id = submit(
        &pool,
        Op::readv(fd, vec![vec![0; 2], vec![0; 5]], Some(0)),
        &t,
        5,
    );
    assert_eq!(reap_n(&mut rx, 1)[0].result, 7);
    match pool.take_output(id) {
        Some(Output::Buffers(b)) => assert_eq!(b, vec![b"ab".to_vec(), b"cdefg".to_vec()]),
        other => panic!("{other:?}"),
    }
    let id = submit(
        &pool,
        Op::statx(libc::AT_FDCWD, &path, 0, libc::STATX_SIZE).unwrap(),
        &t,
        6,
    );
    assert_eq!(reap_n(&mut rx, 1)[0].result, 0);
    match pool.take_output(id) {
        Some(Output::Statx(s)) => assert_eq!(s.stx_size, 4096),
        other => panic!("{other:?}"),
    }
    // SAFETY: `fd` came from the openat above and is owned here.
    let owned = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    submit(&pool, Op::close(owned), &t, 7);
    assert_eq!(reap_n(&mut rx, 1)[0].result, 0);
    // statx of a missing file: -ENOENT, no output.
    let c = {
        submit(
            &pool,
            Op::statx(libc::AT_FDCWD, &dir.join("missing"), 0, libc::STATX_SIZE).unwrap(),
            &t,
            8,
        );
        reap_n(&mut rx, 1)[0]
    };
    assert_eq!((c.result, c.flags & flags::OUTPUT), (-libc::ENOENT, 0));
    std::fs::remove_dir_all(&dir).unwrap();

    // Sockets: accept, connect, sendmsg, recvmsg over TCP on loopback.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let acc = submit(
        &pool,
        Op::accept(listener.as_raw_fd(), libc::SOCK_CLOEXEC),
        &t,
        10,
    );
    // SAFETY: plain socket creation.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(s >= 0);
    // SAFETY: `s` was just created and is owned here.
    let client = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(s) };
    submit(&pool, Op::connect(s, addr.into()), &t, 11);
    let done = reap_n(&mut rx, 2);
    let res: HashMap<u64, i32> = done.iter().map(|c| (c.user_data, c.result)).collect();
    assert_eq!(res[&11], 0);
    let server_fd = res[&10];
    assert!(server_fd >= 0);
    // SAFETY: accept returned a new descriptor that the caller owns.
    let server = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(server_fd) };
    match pool.take_output(acc) {
        Some(Output::Peer(p)) => assert_eq!(p.to_socket_addr().unwrap().ip(), addr.ip()),
        other => panic!("{other:?}"),
    }
    submit(
        &pool,
        Op::sendmsg(
            s,
            vec![b"hel".to_vec(), b"lo".to_vec()],
            None,
            Vec::new(),
            0,
        ),
        &t,
        12,
    );
    assert_eq!(reap_n(&mut rx, 1)[0].result, 5);
    let rid = submit(
        &pool,
        Op::recvmsg(
            server.as_raw_fd(),
            vec![vec![0; 5]],
            Vec::new(),
            libc::MSG_WAITALL,
        ),
        &t,
        13,
    );
    assert_eq!(reap_n(&mut rx, 1)[0].result, 5);
    match pool.take_output(rid) {
        Some(Output::Msg { bufs, .. }) => assert_eq!(bufs[0], b"hello"),
        other => panic!("{other:?}"),
    }
    drop(client);
    drop(server);
}

/// No completion lost or duplicated over many operations from several submitting threads
/// into two rings, reaped concurrently: 10^6 nops (a few seconds in a debug build).
#[test]
fn no_lost_or_duplicated_completions() {
    let total: u64 = 1_000_000;
    let rings = [ring(1024, 0), ring(256, 1024)];
    let targets: Vec<Target> = rings.iter().map(|r| Target::new(r).unwrap()).collect();
    let pool = Pool::new(PoolConfig::new().max_workers(4).queue_depth(2048)).unwrap();
    let seen: Vec<std::sync::atomic::AtomicU8> = (0..total)
        .map(|_| std::sync::atomic::AtomicU8::new(0))
        .collect();
    let submitters = 2u64;
    std::thread::scope(|s| {
        for (k, r) in rings.iter().enumerate() {
            let seen = &seen;
            let mut rx = r.consumer().unwrap();
            s.spawn(move || {
                let mut buf = vec![Completion::default(); 512];
                let start = Instant::now();
                let want = total / 2; // even cookies to ring 0, odd to ring 1
                let mut got = 0;
                while got < want {
                    assert!(
                        start.elapsed() < Duration::from_secs(120),
                        "ring {k}: {got}"
                    );
                    let n = rx
                        .reap(&mut buf, 1, Some(Duration::from_millis(100)))
                        .unwrap();
                    for c in &buf[..n] {
                        assert_eq!(c.user_data % 2, k as u64);
                        assert_eq!(c.result, 0);
                        let prev = seen[c.user_data as usize]
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        assert_eq!(prev, 0, "duplicate cookie {}", c.user_data);
                    }
                    got += n as u64;
                }
            });
        }
        for sidx in 0..submitters {
            let (pool, targets) = (&pool, &targets);
            s.spawn(move || {
                let mut i = sidx;
                while i < total {
                    let mut subs = Vec::with_capacity(128);
                    while subs.len() < 128 && i < total {
                        let t = &targets[(i % 2) as usize];
                        subs.push(Submission::new(Op::nop(), t).cookie(i));
                        i += submitters;
                    }
                    let b = pool.submit_batch(subs);
                    assert!(b.error.is_none(), "{:?}", b.error);
                }
            });
        }
    });
    assert!(seen
        .iter()
        .all(|s| s.load(std::sync::atomic::Ordering::Relaxed) == 1));
    assert_eq!(pool.stats().completed, total);
    assert!(pool.undelivered().is_empty());
}

/// Dropping the pool cancels what is outstanding; each gets its completion.
#[test]
fn drop_cancels_outstanding() {
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(2)).unwrap();
    let (r, _w) = pipe();
    for i in 0..5 {
        submit(&pool, Op::read(r.as_raw_fd(), vec![0; 1]), &t, i);
    }
    std::thread::sleep(Duration::from_millis(20));
    drop(pool);
    let mut rx = ring.consumer().unwrap();
    let done = reap_n(&mut rx, 5);
    assert!(done.iter().all(|c| c.result == -libc::ECANCELED));
    assert!(nothing_within(&mut rx, Duration::from_millis(10)));
}

/// A batch longer than the pool's lock is held for at once (16 submissions) keeps its order:
/// contiguous increasing ids for the accepted prefix, the refusal in a later chunk reported,
/// and the rest handed back untouched, in order.
#[test]
fn long_batch_refused_in_a_later_chunk() {
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    let cfg = PoolConfig::new()
        .max_workers(2)
        .queue_depth(37)
        .backpressure(Backpressure::Fail);
    let pool = Pool::new(cfg).unwrap();
    let (r, w) = pipe();
    let subs = (0..50)
        .map(|i| Submission::new(Op::read(r.as_raw_fd(), vec![0; 1]), &t).cookie(i))
        .collect();
    let batch = pool.submit_batch(subs);
    assert_eq!(batch.accepted(), 37);
    assert_eq!(batch.error, Some(SubmitError::QueueFull { depth: 37 }));
    assert!(batch.ids.windows(2).all(|p| p[1].get() == p[0].get() + 1));
    assert_eq!(batch.unsubmitted.len(), 13);
    assert!(batch.unsubmitted.iter().all(|s| s.op().name() == "read"));
    // Every accepted read completes once the pipe has data for all of them.
    std::fs::File::from(w).write_all(&[7u8; 37]).unwrap();
    let mut rx = ring.consumer().unwrap();
    let mut cookies: Vec<u64> = reap_n(&mut rx, 37)
        .iter()
        .map(|c| {
            assert_eq!(c.result, 1);
            c.user_data
        })
        .collect();
    cookies.sort_unstable();
    assert_eq!(cookies, (0..37).collect::<Vec<u64>>());
    assert!(pool.drain(Some(DEADLINE)));
}

/// Jobs submitted while workers are looking for work, going to sleep or asleep are all run:
/// bursts of 1 to 8 submissions separated by pauses of varied length (so that the workers
/// are caught in every phase), each burst reaped within the deadline.
#[test]
fn no_job_waits_for_a_wake_up_that_never_comes() {
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    // Idle workers would find a job left without a wake-up only after the idle timeout:
    // longer than the deadline, so that such a job fails the test.
    let cfg = PoolConfig::new()
        .max_workers(4)
        .min_workers(4)
        .idle_timeout(DEADLINE * 3);
    let pool = Pool::new(cfg).unwrap();
    let mut rx = ring.consumer().unwrap();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut cookie = 0u64;
    for _ in 0..3000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let k = 1 + (x % 8) as usize;
        for _ in 0..k {
            pool.submit(Submission::new(Op::nop(), &t).cookie(cookie))
                .map_err(|r| r.error)
                .unwrap();
            cookie += 1;
        }
        let done = reap_n(&mut rx, k);
        assert!(done.iter().all(|c| c.result == 0));
        match (x >> 8) % 4 {
            0 => {}
            1 => std::thread::yield_now(),
            2 => std::thread::sleep(Duration::from_micros(20)),
            _ => std::thread::sleep(Duration::from_micros(300)),
        }
    }
    assert!(pool.drain(Some(DEADLINE)));
}

/// Runs `f` on a thread of its own and returns its result, or fails the test if it has not
/// returned within the deadline (the thread is left behind: the test fails instead of
/// hanging).
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(DEADLINE)
        .unwrap_or_else(|_| panic!("{what} did not return within {DEADLINE:?}"))
}

/// Waits until the ring and its overflow area hold `n` completions.
fn wait_full(ring: &Ring<Completion>, n: u32) {
    let start = Instant::now();
    loop {
        let c = ring.counters();
        if c.tail.wrapping_sub(c.head) + c.overflow_pending >= n {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "{c:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Every cookie in `0..n` exactly once across what was reaped and what was handed back.
fn exactly_once(n: u64, reaped: &[Completion], back: &[Completion]) {
    let mut seen = vec![0u32; n as usize];
    for c in reaped.iter().chain(back) {
        seen[c.user_data as usize] += 1;
    }
    assert!(
        seen.iter().all(|&k| k == 1),
        "counts per cookie: {seen:?} ({} reaped, {} handed back)",
        reaped.len(),
        back.len()
    );
}

/// Dropping a pool whose ring stays full (nobody reaps) returns: workers waiting for room and
/// the cancelled submissions' completions stop waiting after the shutdown timeout, and every
/// completion that could not be posted is handed to the target. Nothing is lost: each
/// submission is in the ring or handed back, exactly once; a running read is interrupted and
/// accounted for the same way.
#[test]
fn drop_with_a_full_ring_is_bounded_and_hands_back_the_rest() {
    let ring = ring(8, 16);
    let t = Target::new(&ring).unwrap();
    let cfg = PoolConfig::new()
        .max_workers(3)
        .shutdown_timeout(Duration::from_millis(100));
    let pool = Pool::new(cfg).unwrap();
    let (r, _w) = pipe();
    // One read that blocks (interrupted at drop), then 100 nops: the ring and its overflow
    // area take 24, two workers wait for room, the rest stays queued.
    submit(&pool, Op::read(r.as_raw_fd(), vec![0; 1]), &t, 0);
    let n = 101u64;
    for i in 1..n {
        submit(&pool, Op::nop(), &t, i);
    }
    wait_full(&ring, 24);
    bounded("the pool's drop", move || drop(pool));
    let back = t.take_undelivered();
    assert!(
        back.iter().all(|(_, why)| why.contains("stayed full")),
        "{back:?}"
    );
    let back: Vec<Completion> = back.into_iter().map(|(c, _)| c).collect();
    let mut rx = ring.consumer().unwrap();
    let reaped = reap_n(&mut rx, 24);
    assert!(nothing_within(&mut rx, Duration::from_millis(10)));
    assert_eq!(back.len() as u64, n - 24);
    exactly_once(n, &reaped, &back);
    // The read was cancelled (interrupted while running), wherever it ended up; queued nops
    // were cancelled before they started.
    let read = reaped
        .iter()
        .chain(&back)
        .find(|c| c.user_data == 0)
        .unwrap();
    assert_eq!(read.result, -libc::ECANCELED);
    assert!(back.iter().any(|c| c.flags & flags::CANCELED != 0));
    assert!(t.take_undelivered().is_empty(), "taken once");
}

/// `shutdown_timeout` returns at its timeout with what it could not post; an operation that
/// cannot be interrupted is reported as running, and its completion is posted later (the
/// ring has room by then).
#[test]
fn shutdown_timeout_reports_undelivered_and_running() {
    let ring = ring(4, 0);
    let t = Target::new(&ring).unwrap();
    // No interrupt signal: a running read cannot be interrupted.
    let cfg = PoolConfig::new().max_workers(2).interrupt_signal(None);
    let pool = Pool::new(cfg).unwrap();
    let (r, w) = pipe();
    submit(&pool, Op::read(r.as_raw_fd(), vec![0; 1]), &t, 0);
    let start = Instant::now();
    while pool.stats().queued != 0 || pool.stats().outstanding != 1 {
        assert!(start.elapsed() < DEADLINE);
        std::thread::sleep(Duration::from_millis(1));
    }
    let n = 10u64;
    for i in 1..n {
        submit(&pool, Op::nop(), &t, i);
    }
    wait_full(&ring, 4);
    let pool = std::sync::Arc::new(pool);
    let p2 = pool.clone();
    let lost = bounded("shutdown_timeout", move || {
        p2.shutdown_timeout(Duration::from_millis(50))
    })
    .unwrap_err();
    assert_eq!(lost.running, 1, "the read still runs");
    assert!(lost.to_string().contains("1 operations are still running"));
    let back: Vec<Completion> = lost.completions.iter().map(|(c, _, _)| *c).collect();
    assert_eq!(back.len(), 5, "9 nops, 4 in the ring");
    assert!(pool.undelivered().is_empty(), "handed back once");
    let mut rx = ring.consumer().unwrap();
    let mut reaped = reap_n(&mut rx, 4);
    // The ring has room now: the read's completion is posted when it finishes.
    std::fs::File::from(w).write_all(b"x").unwrap();
    reaped.extend(reap_n(&mut rx, 1));
    assert_eq!(reaped.last().map(|c| (c.user_data, c.result)), Some((0, 1)));
    exactly_once(n, &reaped, &back);
    let pool = std::sync::Arc::into_inner(pool).unwrap();
    bounded("the pool's drop", move || drop(pool));
    assert!(t.take_undelivered().is_empty());
}

/// `shutdown_timeout(Duration::MAX)` keeps the old promise: the drop waits for room for as
/// long as it takes, and a consumer that keeps reaping gets every completion from the ring.
#[test]
fn unbounded_shutdown_timeout_waits_for_the_consumer() {
    let ring = ring(4, 0);
    let t = Target::new(&ring).unwrap();
    let cfg = PoolConfig::new()
        .max_workers(2)
        .shutdown_timeout(Duration::MAX);
    let pool = Pool::new(cfg).unwrap();
    let n = 12u64;
    for i in 0..n {
        submit(&pool, Op::nop(), &t, i);
    }
    wait_full(&ring, 4);
    let (tx, dropped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(pool);
        let _ = tx.send(());
    });
    // Well past any bounded wait's pauses, the drop still waits for room.
    assert!(dropped.recv_timeout(Duration::from_millis(200)).is_err());
    let mut rx = ring.consumer().unwrap();
    let reaped = reap_n(&mut rx, n as usize);
    dropped
        .recv_timeout(DEADLINE)
        .expect("the drop returns once the ring has room");
    assert!(t.take_undelivered().is_empty());
    exactly_once(n, &reaped, &[]);
}

/// Every completion's output moves through the pool (slot, hand-back): it stays small because
/// the 128-byte socket addresses are boxed. Unboxed it was 200 bytes; boxed, 64.
#[test]
fn output_stays_small() {
    let size = std::mem::size_of::<Output>();
    assert!(size <= 80, "Output is {size} bytes");
    assert!(std::mem::size_of::<ring_aio::SockAddr>() >= 128);
}

/// `Timing`: each clock is read around running and posting, and the two measure different
/// things: a sleeping operation's 2 ms count on the monotonic clock (`Elapsed`), not on the
/// worker's CPU clock (`ThreadCpu`); `Off` leaves the statistics at 0.
#[test]
fn timing_reads_the_chosen_clock() {
    const OPS: u64 = 10;
    let ts = Box::new(libc::timespec {
        tv_sec: 0,
        tv_nsec: 2_000_000,
    });
    let ts_ptr = &*ts as *const libc::timespec as usize;
    for clock in [Timing::Off, Timing::Elapsed, Timing::ThreadCpu] {
        let ring = ring(64, 0);
        let t = Target::new(&ring).unwrap();
        let pool = Pool::new(PoolConfig::new().max_workers(1).timing(clock)).unwrap();
        for i in 0..OPS {
            // SAFETY: nanosleep reads the timespec, which lives until every completion is
            // reaped below.
            let op = unsafe { Op::syscall(libc::SYS_nanosleep, [ts_ptr, 0, 0, 0, 0, 0], false) };
            submit(&pool, op, &t, i);
        }
        let mut rx = ring.consumer().unwrap();
        let done = reap_n(&mut rx, OPS as usize);
        assert!(done.iter().all(|c| c.result == 0), "{done:?}");
        // A worker adds its times before it retires the job (`completed`), after posting.
        let start = Instant::now();
        while pool.stats().completed < OPS {
            assert!(start.elapsed() < DEADLINE, "{:?}", pool.stats());
            std::thread::sleep(Duration::from_millis(1));
        }
        let s = pool.stats();
        let slept = OPS * 2_000_000;
        match clock {
            Timing::Off => assert_eq!((s.run_ns, s.post_ns, s.clock_ns), (0, 0, 0), "{s:?}"),
            Timing::Elapsed => {
                assert!(s.run_ns >= slept, "{clock:?}: {s:?}");
                assert!(s.post_ns > 0, "{clock:?}: {s:?}");
            }
            Timing::ThreadCpu => {
                // Sleeping takes no CPU time: far below the 20 ms slept, whatever the load.
                assert!(s.run_ns < slept / 2, "{clock:?}: {s:?}");
                assert!(s.post_ns > 0, "{clock:?}: {s:?}");
            }
        }
    }
    drop(ts);
}

/// `worker_cpus`: the workers run only on the CPUs of the set (the last CPU this thread may
/// use, so that on a machine with several the pin is not the scheduler's own choice); a set
/// with no usable CPU, or none at all, is refused by `Pool::new`, which leaves the calling
/// thread's own CPUs as they were.
#[test]
fn workers_run_on_their_cpus() {
    let allowed = CpuSet::current().unwrap();
    let cpu = allowed.iter().last().unwrap();
    let mut set = CpuSet::new();
    assert!(set.insert(cpu));
    let ring = ring(64, 0);
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(2).worker_cpus(Some(set))).unwrap();
    const OPS: usize = 16;
    let seen: Vec<Box<u32>> = (0..OPS).map(|_| Box::new(u32::MAX)).collect();
    for (i, b) in seen.iter().enumerate() {
        let p = &**b as *const u32 as usize;
        // SAFETY: getcpu writes the CPU number into the u32, which lives (boxed, not moved)
        // until every completion is reaped below; the node and cache pointers may be null.
        let op = unsafe { Op::syscall(libc::SYS_getcpu, [p, 0, 0, 0, 0, 0], false) };
        submit(&pool, op, &t, i as u64);
    }
    let mut rx = ring.consumer().unwrap();
    let done = reap_n(&mut rx, OPS);
    assert!(done.iter().all(|c| c.result == 0), "{done:?}");
    let cpus: Vec<u32> = seen.iter().map(|b| **b).collect();
    assert!(
        cpus.iter().all(|&c| c as usize == cpu),
        "{cpus:?}, pinned to {cpu}"
    );

    let mut elsewhere = CpuSet::new();
    assert!(elsewhere.insert(CpuSet::MAX - 1));
    if !allowed.contains(CpuSet::MAX - 1) {
        let e = Pool::new(PoolConfig::new().worker_cpus(Some(elsewhere)))
            .err()
            .unwrap();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("no CPU that is online"), "{e}");
    }
    let e = Pool::new(PoolConfig::new().worker_cpus(Some(CpuSet::new())))
        .err()
        .unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    assert_eq!(CpuSet::current().unwrap(), allowed);
}
