//! Cross-process completion: a child process (this test binary, re-executed) runs a pool
//! whose workers post into a ring in /dev/shm that the parent consumes. The completions carry
//! the result of `getpid` run by the workers: the child's pid, so they ran in the child,
//! as threads of the submitting process.

use ring_aio::{Op, Pool, PoolConfig, Submission, Target};
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
    if std::env::var(CHILD_ENV).is_ok() {
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
