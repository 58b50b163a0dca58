//! Dropping a pool wakes every idle worker at once (none waits out its idle timeout) and joins
//! its threads (workers and the interrupter): none is left once the drop returns. Alone in its
//! test binary, so that no other test's pool has threads.

use ring_aio::{CancelOutcome, Op, Pool, PoolConfig, Submission, Target};
use ring_core::{Completion, Config, Mode, Ring};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// Names of this process's threads that belong to a pool.
fn pool_threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .filter(|n| n.starts_with("ring-aio"))
        .collect()
}

#[test]
fn drop_joins_every_thread() {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    let (r, _w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for round in 0..20 {
        let ring = Ring::<Completion>::create_heap(Config::new(256).mode(Mode::Mpsc)).unwrap();
        let target = Target::new(&ring).unwrap();
        let cfg = PoolConfig::new()
            .max_workers(8)
            .idle_timeout(Duration::from_secs(3600));
        let pool = Pool::new(cfg).unwrap();
        for i in 0..64 {
            pool.submit(Submission::new(Op::nop(), &target).cookie(i))
                .unwrap();
        }
        // A read blocked on the empty pipe, cancelled while it runs: starts the interrupter.
        let id = pool
            .submit(Submission::new(
                Op::read(r.as_raw_fd(), vec![0; 1]),
                &target,
            ))
            .unwrap();
        while pool.stats().outstanding > 1 {
            std::thread::yield_now();
        }
        let outcome = pool.cancel(id);
        assert!(
            matches!(
                outcome,
                CancelOutcome::Canceled | CancelOutcome::Interrupted | CancelOutcome::Signalled
            ),
            "{outcome:?}"
        );
        assert!(
            !pool_threads().is_empty(),
            "round {round}: the pool has threads"
        );
        // With an idle timeout of an hour, a worker that missed the shutdown would hold the
        // drop for that long: the drop runs in a thread, and the test fails if it has not
        // returned within a minute.
        let (tx, rx) = std::sync::mpsc::channel();
        let dropper = std::thread::spawn(move || {
            drop(pool);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("round {round}: the pool's drop hung"));
        dropper.join().unwrap();
        let left = pool_threads();
        assert!(
            left.is_empty(),
            "round {round}: threads left after drop: {left:?}"
        );
    }
}
