//! Completions as completion records with attributes (a record ring target): one record per
//! submission with plausible queue time, run time, worker CPU and bytes transferred; unknown
//! attribute ids skipped by the reader; a burst larger than the ring arrives complete; every
//! cancellation outcome gives exactly one record. Every wait is bounded.

use ring_aio::{flags, CancelOutcome, Op, Pool, PoolConfig, Submission, SubmissionId, Target};
use ring_core::record::attrs::{attr_id, attr_status, AttrStatus, AttrWriter};
use ring_core::record::{RecordConfig, RecordConsumer, RecordRing};
use ring_core::{Completion, Mode};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The longest any single wait in these tests may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// What a reader that knows the well-known ids makes of a completion record. `None`: absent;
/// `Some(None)`: present without a value (status "supported": did not apply).
#[derive(Clone, Debug, Default, PartialEq)]
struct Rec {
    c: Completion,
    queue_ns: Option<Option<u64>>,
    run_ns: Option<Option<u64>>,
    cpu: Option<Option<u32>>,
    bytes: Option<Option<u64>>,
    /// Attributes with ids this reader does not know (skipped).
    skipped: usize,
}

fn decode(payload: &[u8]) -> Rec {
    let (c, attrs) = ring_core::record::attrs::parse_completion(payload).unwrap();
    let mut rec = Rec {
        c,
        ..Rec::default()
    };
    for a in attrs {
        let a = a.unwrap();
        let v64 = || match a.status {
            AttrStatus::Handled => Some(u64::from_le_bytes(a.value.try_into().unwrap())),
            AttrStatus::Supported => {
                assert!(a.value.is_empty());
                None
            }
            other => panic!("unexpected status {other:?} for id {}", a.id),
        };
        match a.id {
            attr_id::QUEUE_TIME_NS => rec.queue_ns = Some(v64()),
            attr_id::DURATION_NS => rec.run_ns = Some(v64()),
            attr_id::BYTES_TRANSFERRED => rec.bytes = Some(v64()),
            attr_id::WORKER_CPU => {
                rec.cpu = Some(match a.status {
                    AttrStatus::Handled => Some(u32::from_le_bytes(a.value.try_into().unwrap())),
                    _ => None,
                })
            }
            _ => rec.skipped += 1,
        }
    }
    rec
}

fn record_ring(cap: u32) -> RecordRing {
    RecordRing::create_heap(RecordConfig::new(cap).mode(Mode::Mpsc)).unwrap()
}

/// Reaps exactly `n` completion records or panics at the deadline.
fn reap_n(rx: &mut RecordConsumer, n: usize) -> Vec<Rec> {
    let mut out = Vec::with_capacity(n);
    let start = Instant::now();
    while out.len() < n {
        let left = DEADLINE
            .checked_sub(start.elapsed())
            .unwrap_or_else(|| panic!("only {} of {n} records within {DEADLINE:?}", out.len()));
        let want = n - out.len();
        rx.reap(1, want, usize::MAX, Some(left), |r| {
            assert_eq!(r.record_type(), 3, "a completion record");
            out.push(decode(&r.to_vec()));
        })
        .unwrap();
    }
    out
}

/// Whether no record arrives within `wait`.
fn nothing_within(rx: &mut RecordConsumer, wait: Duration) -> bool {
    rx.reap(1, 1, usize::MAX, Some(wait), |_| {}).unwrap() == 0
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

fn submit(pool: &Pool, op: Op, t: &Target, cookie: u64) -> SubmissionId {
    pool.submit(Submission::new(op, t).cookie(cookie))
        .map_err(|r| r.error)
        .unwrap()
}

fn cpus() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    u32::try_from(n).unwrap_or(1).max(1)
}

/// Waits until the pool has started every queued job (a worker holds it).
fn wait_started(pool: &Pool) {
    let start = Instant::now();
    while pool.stats().queued > 0 || pool.stats().idle == pool.stats().workers {
        assert!(start.elapsed() < DEADLINE, "the job never started");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Each submission gives one completion record whose attributes are plausible: a 2 ms
/// nanosleep ran for at least 2 ms; queue and run time fit inside the time the test waited;
/// the CPU is one of the machine's; bytes transferred equal the result of reads and writes,
/// are "not applicable" for a failed read, and absent for operations that move no bytes.
#[test]
fn completion_records_carry_attributes() {
    let ring = record_ring(4096);
    let t = Target::records(&ring).unwrap();
    assert!(t.has_attributes());
    let pool = Pool::new(PoolConfig::new().max_workers(4)).unwrap();
    let path = std::env::temp_dir().join(format!("ring-aio-rec-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let file = std::fs::File::create_new(&path).unwrap();
    let ts = Box::new(libc::timespec {
        tv_sec: 0,
        tv_nsec: 2_000_000,
    });
    let ts_ptr = &*ts as *const libc::timespec as usize;

    let before = Instant::now();
    // SAFETY: nanosleep reads the timespec, which lives until the records are reaped below.
    let sleep = unsafe { Op::syscall(libc::SYS_nanosleep, [ts_ptr, 0, 0, 0, 0, 0], false) };
    submit(&pool, sleep, &t, 1);
    submit(&pool, Op::pwrite(file.as_raw_fd(), vec![7; 1000], 0), &t, 2);
    submit(&pool, Op::nop(), &t, 3);
    submit(&pool, Op::read(-1, vec![0; 16]), &t, 4);
    let mut rx = ring.consumer().unwrap();
    let mut got: HashMap<u64, Rec> = reap_n(&mut rx, 4)
        .into_iter()
        .map(|r| (r.c.user_data, r))
        .collect();
    // The pwrite has completed: read the bytes back.
    let rd = std::fs::File::open(&path).unwrap();
    submit(&pool, Op::pread(rd.as_raw_fd(), vec![0; 4096], 0), &t, 5);
    got.extend(reap_n(&mut rx, 1).into_iter().map(|r| (r.c.user_data, r)));
    let elapsed = before.elapsed().as_nanos() as u64;
    drop(ts);
    assert_eq!(got.len(), 5, "one record per submission: {got:?}");
    assert!(nothing_within(&mut rx, Duration::from_millis(20)));

    for (cookie, r) in &got {
        let queue = r.queue_ns.expect("queue time present").expect("handled");
        let run = r.run_ns.expect("run time present").expect("handled");
        assert!(queue <= elapsed, "{cookie}: queue {queue} > {elapsed}");
        assert!(run <= elapsed, "{cookie}: run {run} > {elapsed}");
        let cpu = r.cpu.expect("cpu present").expect("handled");
        assert!(cpu < cpus(), "{cookie}: cpu {cpu}");
        assert_eq!(r.skipped, 0);
        assert_eq!(r.c.flags & flags::CANCELED, 0);
    }
    let sleep = &got[&1];
    assert_eq!(sleep.c.result, 0);
    assert!(sleep.run_ns.unwrap().unwrap() >= 2_000_000, "{sleep:?}");
    assert_eq!(sleep.bytes, None, "nanosleep moves no bytes");
    assert_eq!(got[&2].c.result, 1000);
    assert_eq!(got[&2].bytes, Some(Some(1000)));
    assert_eq!(got[&3].bytes, None);
    assert_eq!(got[&4].c.result, -libc::EBADF);
    assert_eq!(got[&4].bytes, Some(None), "a failed read: not applicable");
    assert_eq!(got[&5].c.result, 1000);
    assert_eq!(got[&5].bytes, Some(Some(1000)));
    assert_eq!(pool.stats().undelivered, 0);
    std::fs::remove_file(&path).unwrap();
}

/// A reader that knows the well-known ids skips ids it does not know (a reserved one and a
/// user one) between them, in a record another producer writes next to the pool's.
#[test]
fn reader_skips_unknown_attribute_ids() {
    let ring = record_ring(4096);
    let t = Target::records(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(1)).unwrap();
    {
        let mut tx = ring.producer().unwrap();
        let mut rec = tx.reserve(128).unwrap();
        let mut w = AttrWriter::new(&mut rec, Completion::new(77, 5, 0)).unwrap();
        w.push(0x8001, attr_status::HANDLED, &[1, 2, 3, 4, 5, 6, 7, 8, 9])
            .unwrap();
        w.push_u64(attr_id::DURATION_NS, 123).unwrap();
        w.push(99, attr_status::HANDLED, &[0xff; 3]).unwrap();
        w.push_u64(attr_id::BYTES_TRANSFERRED, 5).unwrap();
        w.finish();
        rec.commit();
    }
    submit(&pool, Op::nop(), &t, 78);
    let mut rx = ring.consumer().unwrap();
    let got = reap_n(&mut rx, 2);
    assert_eq!(got[0].c, Completion::new(77, 5, 0));
    assert_eq!(got[0].skipped, 2);
    assert_eq!(got[0].run_ns, Some(Some(123)));
    assert_eq!(got[0].bytes, Some(Some(5)));
    assert_eq!(got[1].c.user_data, 78);
    assert_eq!(got[1].skipped, 0);
    // ring-core's own decoder skips them too.
    let mut tx = ring.producer().unwrap();
    let mut rec = tx.reserve(64).unwrap();
    let mut w = AttrWriter::new(&mut rec, Completion::new(1, 0, 0)).unwrap();
    w.push(0x9000, attr_status::HANDLED, &[1]).unwrap();
    w.push_u32(attr_id::WORKER_CPU, 2).unwrap();
    w.finish();
    rec.commit();
    let r = rx.read().unwrap();
    let (_, attrs) = r.completion().unwrap();
    let known: Vec<_> = attrs.known().collect::<Result<_, _>>().unwrap();
    assert_eq!(known, [ring_core::record::attrs::Known::WorkerCpu(2)]);
}

/// 2000 completions through a 256-byte record ring (three records fit): workers wait for
/// room; every submission arrives exactly once, none undelivered.
#[test]
fn burst_larger_than_the_ring_arrives_complete() {
    let ring = record_ring(256);
    let t = Target::records(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(4)).unwrap();
    const N: u64 = 2000;
    let subs = (0..N).map(|i| Submission::new(Op::nop(), &t).cookie(i));
    let batch = pool.submit_batch(subs.collect());
    assert_eq!(batch.accepted() as u64, N, "{:?}", batch.error);
    let mut rx = ring.consumer().unwrap();
    let mut seen = vec![false; N as usize];
    for r in reap_n(&mut rx, N as usize) {
        let i = r.c.user_data as usize;
        assert!(!seen[i], "duplicate completion {i}");
        seen[i] = true;
        assert_eq!(r.c.result, 0);
    }
    assert!(seen.iter().all(|&s| s));
    assert!(nothing_within(&mut rx, Duration::from_millis(20)));
    assert!(pool.drain(Some(DEADLINE)));
    assert_eq!(pool.stats().undelivered, 0);
    assert!(
        ring.counters().full_refusals > 0,
        "the ring was full at times"
    );
}

/// Cancelling in each state gives exactly one record: queued and blocked (never started:
/// -ECANCELED, queue and run time and bytes not applicable), running (interrupted: run time
/// measured), running but not interruptible (too late: normal result), completed (too late:
/// no second record).
#[test]
fn cancel_in_each_state_gives_one_record() {
    let ring = record_ring(4096);
    let t = Target::records(&ring).unwrap();
    let mut rx = ring.consumer().unwrap();

    // Queued: the only worker is busy.
    let pool = Pool::new(PoolConfig::new().max_workers(1)).unwrap();
    let (r, w) = pipe();
    submit(&pool, Op::read(r.as_raw_fd(), vec![0; 8]), &t, 1);
    let queued = submit(&pool, Op::read(r.as_raw_fd(), vec![0; 8]), &t, 2);
    assert_eq!(pool.cancel(queued), CancelOutcome::Canceled);
    let c = &reap_n(&mut rx, 1)[0];
    assert_eq!((c.c.user_data, c.c.result), (2, -libc::ECANCELED));
    assert_eq!(c.c.flags & flags::INTERRUPTED, 0);
    assert_eq!(
        (c.queue_ns, c.run_ns, c.bytes),
        (Some(None), Some(None), Some(None))
    );
    assert!(nothing_within(&mut rx, Duration::from_millis(20)));
    std::fs::File::from(w).write_all(b"abc").unwrap();
    let c = &reap_n(&mut rx, 1)[0];
    assert_eq!((c.c.user_data, c.c.result, c.bytes), (1, 3, Some(Some(3))));
    drop(pool);

    // Blocked behind an earlier operation on its descriptor (ordered mode).
    let pool = Pool::new(PoolConfig::new().max_workers(2).ordered(true)).unwrap();
    let (r, w) = pipe();
    submit(&pool, Op::read(r.as_raw_fd(), vec![0; 8]), &t, 3);
    let blocked = submit(&pool, Op::read(r.as_raw_fd(), vec![0; 8]), &t, 4);
    assert_eq!(pool.cancel(blocked), CancelOutcome::Canceled);
    let c = &reap_n(&mut rx, 1)[0];
    assert_eq!((c.c.user_data, c.c.result), (4, -libc::ECANCELED));
    assert_eq!((c.queue_ns, c.run_ns), (Some(None), Some(None)));
    std::fs::File::from(w).write_all(b"x").unwrap();
    let c = &reap_n(&mut rx, 1)[0];
    assert_eq!((c.c.user_data, c.c.result), (3, 1));
    assert!(nothing_within(&mut rx, Duration::from_millis(20)));

    // Running and interruptible: a read of an empty pipe.
    let (r, _w) = pipe();
    let running = submit(&pool, Op::read(r.as_raw_fd(), vec![0; 8]), &t, 5);
    wait_started(&pool);
    std::thread::sleep(Duration::from_millis(20));
    let outcome = pool.cancel(running);
    assert!(
        matches!(
            outcome,
            CancelOutcome::Interrupted | CancelOutcome::Signalled
        ),
        "{outcome:?}"
    );
    let c = &reap_n(&mut rx, 1)[0];
    assert_eq!((c.c.user_data, c.c.result), (5, -libc::ECANCELED));
    assert_eq!(
        c.c.flags & (flags::CANCELED | flags::INTERRUPTED),
        flags::CANCELED | flags::INTERRUPTED
    );
    assert!(matches!(c.run_ns, Some(Some(_))), "it ran: {c:?}");
    assert!(matches!(c.queue_ns, Some(Some(_))), "it started: {c:?}");
    assert_eq!(c.bytes, Some(None));
    assert!(nothing_within(&mut rx, Duration::from_millis(20)));

    // Running, not interruptible: too late, completes normally.
    let ts = Box::new(libc::timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    });
    let ts_ptr = &*ts as *const libc::timespec as usize;
    // SAFETY: nanosleep reads the timespec, which lives until the record is reaped below.
    let op = unsafe { Op::syscall(libc::SYS_nanosleep, [ts_ptr, 0, 0, 0, 0, 0], false) };
    let sleeping = submit(&pool, op, &t, 6);
    wait_started(&pool);
    assert_eq!(pool.cancel(sleeping), CancelOutcome::TooLate);
    let c = &reap_n(&mut rx, 1)[0];
    drop(ts);
    assert_eq!((c.c.user_data, c.c.result, c.c.flags), (6, 0, 0));
    assert!(c.run_ns.unwrap().unwrap() >= 100_000_000, "{c:?}");
    assert!(nothing_within(&mut rx, Duration::from_millis(20)));

    // Completed: too late, no second record.
    let done = submit(&pool, Op::nop(), &t, 7);
    let c = &reap_n(&mut rx, 1)[0];
    assert_eq!((c.c.user_data, c.c.result), (7, 0));
    assert_eq!(pool.cancel(done), CancelOutcome::TooLate);
    assert!(nothing_within(&mut rx, Duration::from_millis(50)));
    assert_eq!(pool.stats().undelivered, 0);
}

/// Dropping the pool cancels what is outstanding; each gets its one record.
#[test]
fn drop_cancels_into_records() {
    let ring = record_ring(1024);
    let t = Target::records(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(2)).unwrap();
    let (r, _w) = pipe();
    for i in 0..6 {
        submit(&pool, Op::read(r.as_raw_fd(), vec![0; 1]), &t, i);
    }
    let mut rx = ring.consumer().unwrap();
    // The pool's drop may wait for room while the ring (1024 bytes, 12 records) fills.
    std::thread::scope(|s| {
        s.spawn(move || drop(pool));
        let got = reap_n(&mut rx, 6);
        let mut cookies: Vec<u64> = got.iter().map(|r| r.c.user_data).collect();
        cookies.sort_unstable();
        assert_eq!(cookies, [0, 1, 2, 3, 4, 5]);
        assert!(got.iter().all(|r| r.c.result == -libc::ECANCELED));
    });
    assert!(nothing_within(&mut rx, Duration::from_millis(20)));
}

/// A fixed-ring target carries no attributes; a record ring too small for a completion record
/// is refused with a typed error.
#[test]
fn target_kinds() {
    let fixed =
        ring_core::Ring::<Completion>::create_heap(ring_core::Config::new(8).mode(Mode::Mpsc))
            .unwrap();
    assert!(!Target::new(&fixed).unwrap().has_attributes());
    let tiny = record_ring(128);
    let err = Target::records(&tiny).unwrap_err();
    assert!(
        matches!(
            err,
            ring_aio::RecordTargetError::TooSmall {
                max_record_len: 56,
                needed: ring_aio::COMPLETION_RECORD_LEN
            }
        ),
        "{err}"
    );
    // SPSC record ring: the workers share the target's one producer.
    let spsc = RecordRing::create_heap(RecordConfig::new(512)).unwrap();
    let t = Target::records(&spsc).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(4)).unwrap();
    for i in 0..100 {
        submit(&pool, Op::nop(), &t, i);
    }
    let mut rx = spsc.consumer().unwrap();
    let mut got: Vec<u64> = reap_n(&mut rx, 100).iter().map(|r| r.c.user_data).collect();
    got.sort_unstable();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

/// A record ring nobody reads does not hold the pool's drop for ever: after the shutdown
/// timeout the completions that found no room are handed to the target, and every
/// submission is accounted for exactly once (read from the ring or handed back).
#[test]
fn drop_with_a_full_record_ring_is_bounded() {
    let ring = record_ring(1024);
    let t = Target::records(&ring).unwrap();
    let cfg = PoolConfig::new()
        .max_workers(2)
        .shutdown_timeout(Duration::from_millis(100));
    let pool = Pool::new(cfg).unwrap();
    let n = 50u64;
    for i in 0..n {
        submit(&pool, Op::nop(), &t, i);
    }
    // The ring holds a dozen records; wait until the workers are held up by it.
    let start = Instant::now();
    while pool.stats().outstanding as u64 > n - 10 && start.elapsed() < DEADLINE {
        std::thread::sleep(Duration::from_millis(1));
    }
    let (tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(pool);
        let _ = tx.send(());
    });
    done.recv_timeout(DEADLINE)
        .expect("the pool's drop returns within the deadline");
    let back = t.take_undelivered();
    assert!(!back.is_empty());
    let mut rx = ring.consumer().unwrap();
    let read = reap_n(&mut rx, n as usize - back.len());
    assert!(nothing_within(&mut rx, Duration::from_millis(10)));
    let mut seen = vec![0u32; n as usize];
    for c in read.iter().map(|r| r.c).chain(back.iter().map(|(c, _)| *c)) {
        seen[c.user_data as usize] += 1;
    }
    assert!(seen.iter().all(|&k| k == 1), "{seen:?}");
}
