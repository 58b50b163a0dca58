//! Cross-process completion: a child process (this test binary, re-executed) runs a pool
//! whose workers post into a ring in /dev/shm (a completion ring, or a record ring of
//! completion records with attributes) that the parent consumes. The completions carry
//! the result of `getpid` run by the workers: the child's pid, so they ran in the child,
//! as threads of the submitting process.

use ring_aio::{Op, Pool, PoolConfig, Submission, Target};
use ring_core::record::attrs::Known;
use ring_core::record::{RecordConfig, RecordRing};
use ring_core::{Completion, Config, Mode, Ring};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "RING_AIO_XPROC_CHILD";
const COUNT: u64 = 20_000;
const DEADLINE: Duration = Duration::from_secs(30);

/// The child's role; a no-op in a normal test run.
#[test]
fn xproc_child() {
    let Ok(name) = std::env::var(CHILD_ENV) else {
        return;
    };
    let ring = Ring::<Completion>::open_shm(&name).expect("child: open the shared ring");
    let target = Target::new(&ring).expect("child: target");
    let pool = Pool::new(PoolConfig::new().max_workers(4).queue_depth(1024)).unwrap();
    for chunk in (0..COUNT).collect::<Vec<_>>().chunks(100) {
        let subs = chunk
            .iter()
            .map(|&i| {
                // SAFETY: getpid takes no arguments and has no effect.
                let op = unsafe { Op::syscall(libc::SYS_getpid, [0; 6], false) };
                Submission::new(op, &target).cookie(i)
            })
            .collect();
        let b = pool.submit_batch(subs);
        assert!(b.error.is_none(), "child: {:?}", b.error);
    }
    assert!(pool.drain(Some(DEADLINE)), "child: drain");
    drop(pool);
}

#[test]
fn cross_process_completions() {
    if std::env::var(CHILD_ENV).is_ok() || std::env::var(RECORDS_CHILD_ENV).is_ok() {
        return;
    }
    let name = format!("ring-aio-xproc-{}", std::process::id());
    // Smaller than the burst, with an overflow area: the child's workers wait when both are
    // full, and the parent's reaping makes room.
    let ring =
        Ring::<Completion>::create_shm(&name, Config::new(256).mode(Mode::Mpsc).overflow(1024))
            .unwrap();
    let mut rx = ring.consumer().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "xproc_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &name)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let child_pid = child.id() as i32;
    let mut seen = vec![false; COUNT as usize];
    let mut got = 0u64;
    let mut buf = vec![Completion::default(); 512];
    let start = Instant::now();
    let mut failure = None;
    while got < COUNT {
        if start.elapsed() > DEADLINE {
            failure = Some(format!(
                "only {got} of {COUNT} completions within {DEADLINE:?}"
            ));
            break;
        }
        let n = rx
            .reap(&mut buf, 1, Some(Duration::from_millis(100)))
            .unwrap();
        for c in &buf[..n] {
            if c.result != child_pid {
                failure = Some(format!("{c:?}: result is not the child's pid {child_pid}"));
            }
            match seen.get_mut(c.user_data as usize) {
                Some(s) if !*s => *s = true,
                _ => failure = Some(format!("{c:?}: unknown or duplicate cookie")),
            }
        }
        got += n as u64;
        if failure.is_some() {
            break;
        }
    }
    // Bounded wait for the child; killed if it overstays.
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if start.elapsed() > DEADLINE + Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(f) = failure {
        panic!("{f}");
    }
    assert!(status.is_some_and(|s| s.success()), "child: {status:?}");
    let mut one = [Completion::default(); 1];
    assert_eq!(rx.reap(&mut one, 0, None).unwrap(), 0, "nothing extra");
}

// ---------------------------------------------------------------------------------------------
// The same across processes with a record ring: the child's workers post completion records
// with attributes into a /dev/shm record ring that the parent reads.

const RECORDS_CHILD_ENV: &str = "RING_AIO_XPROC_RECORDS_CHILD";
const RECORDS: u64 = 5_000;

/// The child's role for the record ring; a no-op in a normal test run.
#[test]
fn xproc_records_child() {
    let Ok(name) = std::env::var(RECORDS_CHILD_ENV) else {
        return;
    };
    let region = ring_core::Region::shm_open(&name).expect("child: open the shared region");
    let ring = RecordRing::attach(region).expect("child: attach the record ring");
    let target = Target::records(&ring).expect("child: target");
    let pool = Pool::new(PoolConfig::new().max_workers(4).queue_depth(256)).unwrap();
    for chunk in (0..RECORDS).collect::<Vec<_>>().chunks(50) {
        let subs = chunk
            .iter()
            .map(|&i| {
                // SAFETY: getpid takes no arguments and has no effect.
                let op = unsafe { Op::syscall(libc::SYS_getpid, [0; 6], false) };
                Submission::new(op, &target).cookie(i)
            })
            .collect();
        let b = pool.submit_batch(subs);
        assert!(b.error.is_none(), "child: {:?}", b.error);
    }
    assert!(pool.drain(Some(DEADLINE)), "child: drain");
    drop(pool);
}

#[test]
fn cross_process_completion_records() {
    if std::env::var(RECORDS_CHILD_ENV).is_ok() || std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let name = format!("ring-aio-xproc-rec-{}", std::process::id());
    // 4 KiB of records (about 50 completion records): the child's workers wait for room that
    // the parent's reading makes.
    let cfg = RecordConfig::new(4096).mode(Mode::Mpsc);
    let len = cfg.region_len().unwrap() as usize;
    let region = ring_core::Region::shm_create(&name, len, 0o600).unwrap();
    let ring = RecordRing::create(region, cfg).unwrap();
    let mut rx = ring.consumer().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "xproc_records_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(RECORDS_CHILD_ENV, &name)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let child_pid = child.id() as i32;
    let mut seen = vec![false; RECORDS as usize];
    let mut got = 0u64;
    let start = Instant::now();
    let mut failure: Option<String> = None;
    while got < RECORDS && failure.is_none() {
        if start.elapsed() > DEADLINE {
            failure = Some(format!(
                "only {got} of {RECORDS} records within {DEADLINE:?}"
            ));
            break;
        }
        let n = rx
            .reap(1, 64, usize::MAX, Some(Duration::from_millis(100)), |r| {
                let (c, attrs) = match r.completion() {
                    Ok(x) => x,
                    Err(e) => {
                        failure.get_or_insert(format!("not a completion record: {e}"));
                        return;
                    }
                };
                if c.result != child_pid {
                    failure.get_or_insert(format!("{c:?}: result is not the child's pid"));
                }
                match seen.get_mut(c.user_data as usize) {
                    Some(s) if !*s => *s = true,
                    _ => {
                        failure.get_or_insert(format!("{c:?}: unknown or duplicate cookie"));
                    }
                }
                let known: Result<Vec<Known>, _> = attrs.known().collect();
                match known {
                    Ok(k) if k.iter().any(|a| matches!(a, Known::DurationNs(_))) => {}
                    other => {
                        failure.get_or_insert(format!("{c:?}: attributes {other:?}"));
                    }
                }
            })
            .unwrap();
        got += n as u64;
    }
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if start.elapsed() > DEADLINE + Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(f) = failure {
        panic!("{f}");
    }
    assert!(status.is_some_and(|s| s.success()), "child: {status:?}");
    assert!(rx.read().is_err(), "nothing extra");
}
