//! Waiting and waking (layout 1.1's wait block): timeouts, `min = 0`, `wait_beyond`, a signal
//! interrupting a sleep, suppressed wake-ups, rings without the wait block, forced wake-ups,
//! the eventfd, and a million sleep/wake hand-offs between two processes.
//!
//! Every blocking call has a timeout or runs on a thread the test gives up on after a bound,
//! so a lost wake-up fails the test instead of hanging it. The two-process tests re-execute
//! the test binary (the shared harness in `common/mod.rs`); a child that does not finish in
//! time is killed.

mod common;

use common::{orphaned, report, unique_name, Params, Peer, ShmGuard, DEADLINE};
use ring_core::{Config, Mode, PopError, Ring, WaitError, WaitOutcome};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Once};
use std::thread;
use std::time::{Duration, Instant};

const MODES: [Mode; 4] = [Mode::Spsc, Mode::Mpsc, Mode::Spmc, Mode::Mpmc];
/// How much later than asked a timed wait may return (lenient: a loaded 2-core machine).
const SLACK: Duration = Duration::from_secs(2);

fn heap(cfg: Config) -> Arc<Ring<u64>> {
    Arc::new(Ring::<u64>::create_heap(cfg).expect("create"))
}

/// Runs `f` on its own thread and returns its result, or fails the test if it has not
/// finished within `limit` (the thread is abandoned: a hang fails instead of hanging).
#[track_caller]
fn bounded<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(r) => r,
        Err(e) => panic!("did not finish within {limit:?} ({e})"),
    }
}

/// Polls `cond` until it holds, failing the test after `limit`.
#[track_caller]
fn until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_micros(200));
    }
}

#[track_caller]
fn assert_took(took: Duration, at_least: Duration, ctx: &str) {
    assert!(
        took >= at_least,
        "{ctx}: returned after {took:?}, before {at_least:?}"
    );
    assert!(
        took < at_least + SLACK,
        "{ctx}: returned after {took:?}, far later than {at_least:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Timeouts, min = 0, wait_beyond

#[test]
fn wait_and_reap_honour_their_timeouts() {
    for mode in MODES {
        for ocap in [0u32, 4] {
            for spin in [0u32, 100, 10_000] {
                let ctx = format!("{mode:?} overflow {ocap} spin {spin}");
                let ring = heap(
                    Config::new(4)
                        .mode(mode)
                        .overflow(ocap)
                        .initial_index(u32::MAX - 1),
                );
                let r = ring.clone();
                let c2 = ctx.clone();
                bounded(DEADLINE, move || {
                    let ctx = c2;
                    let mut rx = r.consumer().unwrap();
                    rx.set_spin(spin);
                    for ms in [1u64, 30, 120] {
                        let d = Duration::from_millis(ms);
                        let before = r.counters();
                        let t = Instant::now();
                        assert_eq!(rx.wait(1, Some(d)), Ok(WaitOutcome::TimedOut(0)), "{ctx}");
                        assert_took(t.elapsed(), d, &ctx);
                        let after = r.counters();
                        // (A 1 ms timeout may expire during a long spin phase.)
                        if ms >= 30 {
                            assert!(after.sleeps > before.sleeps, "{ctx}: never slept");
                        }
                        assert_eq!(after.waiters, 0, "{ctx}: announcement withdrawn");
                        assert_eq!(after.wakeups, before.wakeups, "{ctx}: nobody woke it");

                        let mut out = [0u64; 8];
                        let t = Instant::now();
                        assert_eq!(rx.reap(&mut out, 1, Some(d)), Ok(0), "{ctx}");
                        assert_took(t.elapsed(), d, &ctx);
                    }
                    // Fewer than `min`: the count seen, after the timeout.
                    let mut tx = r.producer().unwrap();
                    tx.push_all(&[1, 2]).unwrap();
                    let d = Duration::from_millis(40);
                    let t = Instant::now();
                    assert_eq!(rx.wait(3, Some(d)), Ok(WaitOutcome::TimedOut(2)), "{ctx}");
                    assert_took(t.elapsed(), d, &ctx);
                    let mut out = [0u64; 8];
                    let t = Instant::now();
                    assert_eq!(rx.reap(&mut out, 5, Some(d)), Ok(2), "{ctx}");
                    assert_took(t.elapsed(), d, &ctx);
                    assert_eq!(&out[..2], &[1, 2], "{ctx}");
                    // Enough: at once.
                    tx.push_all(&[3, 4, 5]).unwrap();
                    let t = Instant::now();
                    assert_eq!(
                        rx.wait(3, Some(Duration::from_secs(30))),
                        Ok(WaitOutcome::Ready(3)),
                        "{ctx}"
                    );
                    assert_eq!(
                        rx.reap(&mut out, 3, Some(Duration::from_secs(30))),
                        Ok(3),
                        "{ctx}"
                    );
                    assert!(t.elapsed() < SLACK, "{ctx}: {:?}", t.elapsed());
                    assert_eq!(&out[..3], &[3, 4, 5], "{ctx}");
                    // A zero timeout never sleeps.
                    let sleeps = r.counters().sleeps;
                    assert_eq!(
                        rx.wait(1, Some(Duration::ZERO)),
                        Ok(WaitOutcome::TimedOut(0)),
                        "{ctx}"
                    );
                    assert_eq!(rx.reap(&mut out, 1, Some(Duration::ZERO)), Ok(0), "{ctx}");
                    assert_eq!(r.counters().sleeps, sleeps, "{ctx}");
                });
            }
        }
    }
}

#[test]
fn min_zero_never_blocks() {
    for mode in MODES {
        for cfg in [
            Config::new(2).mode(mode),
            Config::new(2).mode(mode).overflow(2),
            Config::new(2).mode(mode).wait(false),
        ] {
            let ring = heap(cfg);
            if cfg.wait {
                // Even with wake-ups suppressed: nothing to wait for.
                ring.set_wakeups_suppressed(true).unwrap();
            }
            let r = ring.clone();
            bounded(Duration::from_secs(10), move || {
                let mut rx = r.consumer().unwrap();
                let mut out = [0u64; 4];
                let pos = rx.position();
                assert_eq!(rx.wait(0, None), Ok(WaitOutcome::Ready(0)), "{cfg:?}");
                assert_eq!(rx.reap(&mut out, 0, None), Ok(0), "{cfg:?}");
                assert_eq!(
                    rx.wait_beyond(pos, 0, None),
                    Ok(WaitOutcome::Ready(0)),
                    "{cfg:?}"
                );
                // An empty output buffer: min is clamped to it.
                assert_eq!(rx.reap(&mut [], 5, None), Ok(0), "{cfg:?}");
                r.producer().unwrap().push(7).unwrap();
                assert_eq!(rx.reap(&mut out, 0, None), Ok(1), "{cfg:?}");
                assert_eq!(out[0], 7);
                assert_eq!(r.counters().sleeps, 0, "{cfg:?}");
            });
        }
    }
}

#[test]
fn wait_beyond_counts_from_a_position() {
    for mode in MODES {
        let ctx = format!("{mode:?}");
        let init = u32::MAX - 2;
        let ring = heap(Config::new(4).mode(mode).overflow(4).initial_index(init));
        let r = ring.clone();
        bounded(DEADLINE, move || {
            let short = Some(Duration::from_millis(5));
            let mut tx = r.producer().unwrap();
            let mut rx = r.consumer().unwrap();
            let p0 = rx.position();
            assert_eq!(p0, init, "{ctx}");
            tx.push_all(&[1, 2, 3]).unwrap();
            assert_eq!(
                rx.wait_beyond(p0, 3, short),
                Ok(WaitOutcome::Ready(3)),
                "{ctx}"
            );
            assert_eq!(
                rx.wait_beyond(p0, 4, short),
                Ok(WaitOutcome::TimedOut(3)),
                "{ctx}"
            );
            assert_eq!(rx.pop(), Ok(1), "{ctx}");
            let p1 = rx.position();
            assert_eq!(
                p1,
                init.wrapping_add(1),
                "{ctx}: the position crosses the wrap"
            );
            assert_eq!(
                rx.wait_beyond(p1, 2, short),
                Ok(WaitOutcome::Ready(2)),
                "{ctx}"
            );
            assert_eq!(
                rx.wait_beyond(p1, 3, short),
                Ok(WaitOutcome::TimedOut(2)),
                "{ctx}"
            );
            // An older position still counts from where it is.
            assert_eq!(
                rx.wait_beyond(p0, 3, short),
                Ok(WaitOutcome::Ready(3)),
                "{ctx}"
            );
            // Spilled entries count too: the ring holds 4, the overflow area the rest.
            tx.push_all(&[4, 5]).unwrap();
            tx.push(6).unwrap();
            let c = r.counters();
            assert_eq!((c.overflow_pending, c.overflow_active), (1, true), "{ctx}");
            assert_eq!(
                rx.wait_beyond(p1, 5, short),
                Ok(WaitOutcome::Ready(5)),
                "{ctx}"
            );
            assert_eq!(
                rx.wait_beyond(p1, 6, short),
                Ok(WaitOutcome::TimedOut(5)),
                "{ctx}"
            );
            // A position ahead of the tail counts nothing (not a huge wrapped number).
            let ahead = p1.wrapping_add(100);
            assert_eq!(
                rx.wait_beyond(ahead, 2, short),
                Ok(WaitOutcome::TimedOut(1)), // only the overflow entry
                "{ctx}"
            );
            let mut out = [0u64; 8];
            assert_eq!(rx.reap(&mut out, 5, short), Ok(5), "{ctx}");
            assert_eq!(&out[..5], &[2, 3, 4, 5, 6], "{ctx}");
            // Reserved ring positions count for wait_beyond (the tail moved), not for wait,
            // where the producers reserve by moving the shared tail.
            let p = rx.position();
            let chunk = tx.reserve(2).unwrap();
            let expect_beyond = if mode.multi_producer() { 2 } else { 0 };
            assert_eq!(
                rx.wait_beyond(p, 2, Some(Duration::ZERO)),
                Ok(if expect_beyond == 2 {
                    WaitOutcome::Ready(2)
                } else {
                    WaitOutcome::TimedOut(0)
                }),
                "{ctx}"
            );
            drop(chunk);
            drop(tx);
            // A sleeper in wait_beyond is woken by a producer on another thread.
            let p = rx.position();
            let r2 = r.clone();
            let pusher = thread::spawn(move || {
                until(Duration::from_secs(20), "the sleeper", || {
                    r2.counters().waiters > 0
                });
                let mut tx = r2.producer().unwrap();
                tx.push_all(&[10, 11]).unwrap();
            });
            rx.set_spin(0);
            let t = Instant::now();
            let w = rx.wait_beyond(
                p,
                (2 + expect_beyond) as usize,
                Some(Duration::from_secs(30)),
            );
            assert_eq!(w, Ok(WaitOutcome::Ready(2 + expect_beyond)), "{ctx}");
            assert!(t.elapsed() < Duration::from_secs(10), "{ctx}");
            pusher.join().unwrap();
            assert!(r.counters().wakeups > 0, "{ctx}");
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Signals

extern "C" fn on_sigusr1(_: libc::c_int) {}

/// Installs a no-op SIGUSR1 handler without SA_RESTART (once per process).
fn install_sigusr1() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction is a valid starting value; the handler is an
        // async-signal-safe no-op; sigemptyset/sigaction only read and write the struct.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigusr1 as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = 0; // no SA_RESTART: an interrupted futex wait returns EINTR
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(
                libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()),
                0,
                "sigaction"
            );
        }
    });
}

/// Runs `op` on a new thread, waits until it sleeps on the ring's futex, then sends it
/// SIGUSR1 (again every 20 ms, in case a signal lands just before the sleep) until it returns.
/// If it does not return within a bound, pushes entries to release it and fails.
fn interrupt<R: Send + std::fmt::Debug + 'static>(
    ring: &Arc<Ring<u64>>,
    sleeps_needed: u64,
    op: impl FnOnce(&Ring<u64>) -> R + Send + 'static,
) -> R {
    install_sigusr1();
    let (tx, rx) = mpsc::channel();
    let r = ring.clone();
    let h = thread::spawn(move || {
        let out = op(&r);
        let _ = tx.send(());
        out
    });
    until(Duration::from_secs(20), "the thread to sleep", || {
        let c = ring.counters();
        c.waiters > 0 && c.sleeps >= sleeps_needed
    });
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        // SAFETY: the thread has not been joined yet (its pthread_t is valid), and the
        // process has a handler for SIGUSR1. A thread that already returned may report ESRCH.
        let rc = unsafe { libc::pthread_kill(h.as_pthread_t(), libc::SIGUSR1) };
        assert!(rc == 0 || rc == libc::ESRCH, "pthread_kill: {rc}");
        if rx.recv_timeout(Duration::from_millis(20)).is_ok() {
            break;
        }
        if Instant::now() > end {
            // Enough for any of the waits below (they want at most 3).
            ring.producer().unwrap().push_all(&[0, 0, 0]).unwrap();
            let r = h.join().unwrap();
            panic!("the signal never interrupted the sleep; released by a push: {r:?}");
        }
    }
    h.join().expect("waiter thread")
}

#[test]
fn a_signal_interrupts_a_sleeping_wait() {
    for mode in MODES {
        let ring = heap(Config::new(4).mode(mode).overflow(4));
        // wait, no timeout.
        let r = interrupt(&ring, 1, |ring| {
            let mut rx = ring.consumer().unwrap();
            rx.set_spin(0);
            rx.wait(1, None)
        });
        assert_eq!(r, Err(WaitError::Interrupted), "{mode:?}: wait");
        let c = ring.counters();
        assert_eq!(c.waiters, 0, "{mode:?}: the announcement is withdrawn");
        // wait with a (long) timeout.
        let r = interrupt(&ring, c.sleeps + 1, |ring| {
            let mut rx = ring.consumer().unwrap();
            rx.set_spin(0);
            let t = Instant::now();
            (rx.wait(1, Some(Duration::from_secs(60))), t.elapsed())
        });
        assert_eq!(r.0, Err(WaitError::Interrupted), "{mode:?}: timed wait");
        assert!(r.1 < Duration::from_secs(30), "{mode:?}");
        // wait_beyond.
        let c = ring.counters();
        let r = interrupt(&ring, c.sleeps + 1, |ring| {
            let mut rx = ring.consumer().unwrap();
            rx.set_spin(0);
            let p = rx.position();
            rx.wait_beyond(p, 1, None)
        });
        assert_eq!(r, Err(WaitError::Interrupted), "{mode:?}: wait_beyond");
        // reap with nothing taken: the error.
        let c = ring.counters();
        let r = interrupt(&ring, c.sleeps + 1, |ring| {
            let mut rx = ring.consumer().unwrap();
            rx.set_spin(0);
            let mut out = [0u64; 4];
            rx.reap(&mut out, 1, None)
        });
        assert_eq!(r, Err(WaitError::Interrupted), "{mode:?}: reap");
        // reap with something taken: what was taken is returned, never dropped.
        ring.producer().unwrap().push(42).unwrap();
        let c = ring.counters();
        let r = interrupt(&ring, c.sleeps + 1, |ring| {
            let mut rx = ring.consumer().unwrap();
            rx.set_spin(0);
            let mut out = [0u64; 4];
            let n = rx.reap(&mut out, 3, None);
            (n, out[0])
        });
        assert_eq!(r, (Ok(1), 42), "{mode:?}: reap after taking one");
        assert_eq!(ring.counters().waiters, 0, "{mode:?}");
        let mut rx = ring.consumer().unwrap();
        assert_eq!(rx.pop(), Err(PopError::Empty), "{mode:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Suppressed wake-ups, rings without the wait block

#[test]
fn suppressed_wakeups_refuse_to_sleep() {
    for mode in MODES {
        let ctx = format!("{mode:?}");
        let ring = heap(Config::new(4).mode(mode).overflow(2));
        let r = ring.clone();
        bounded(DEADLINE, move || {
            let long = Some(Duration::from_secs(30));
            let w = r.lines().wait_line().expect("wait line");
            r.set_wakeups_suppressed(true).unwrap();
            assert_ne!(
                w.flags.load(Ordering::SeqCst) & ring_core::layout::wait_flags::NO_WAKE,
                0
            );
            let mut rx = r.consumer().unwrap();
            let mut out = [0u64; 4];
            let p = rx.position();
            let t = Instant::now();
            assert_eq!(rx.wait(1, long), Err(WaitError::WakeupsSuppressed), "{ctx}");
            assert_eq!(rx.wait(1, None), Err(WaitError::WakeupsSuppressed), "{ctx}");
            assert_eq!(
                rx.wait_beyond(p, 1, long),
                Err(WaitError::WakeupsSuppressed),
                "{ctx}"
            );
            assert_eq!(
                rx.reap(&mut out, 1, long),
                Err(WaitError::WakeupsSuppressed),
                "{ctx}"
            );
            assert!(t.elapsed() < SLACK, "{ctx}: it slept");
            // A zero timeout would not sleep anyway: it times out.
            assert_eq!(
                rx.wait(1, Some(Duration::ZERO)),
                Ok(WaitOutcome::TimedOut(0)),
                "{ctx}"
            );
            assert_eq!(r.counters().sleeps, 0, "{ctx}");
            assert_eq!(r.counters().waiters, 0, "{ctx}");

            // With entries there is nothing to sleep for.
            let mut tx = r.producer().unwrap();
            tx.push_all(&[1, 2]).unwrap();
            assert_eq!(rx.wait(2, None), Ok(WaitOutcome::Ready(2)), "{ctx}");
            assert_eq!(rx.reap(&mut out, 1, None), Ok(2), "{ctx}");
            // Taken some, would have to sleep for more: what was taken is returned.
            tx.push(3).unwrap();
            assert_eq!(rx.reap(&mut out, 2, long), Ok(1), "{ctx}");
            assert_eq!(out[0], 3);

            // W1 with a waiter announced (and, layout 1.3, its target armed: any
            // publication): a producer wakes unless suppressed.
            w.waiters.store(1, Ordering::SeqCst);
            use ring_core::layout::wake_target::{ANY, ARMED};
            w.wake_target.store(ARMED | ANY, Ordering::SeqCst);
            let (futex, wakeups) = (w.futex.load(Ordering::SeqCst), r.counters().wakeups);
            tx.push(4).unwrap();
            assert_eq!(
                r.counters().wakeups,
                wakeups,
                "{ctx}: suppressed, no wake-up"
            );
            assert_eq!(w.futex.load(Ordering::SeqCst), futex, "{ctx}");
            r.set_wakeups_suppressed(false).unwrap();
            assert_eq!(
                w.flags.load(Ordering::SeqCst) & ring_core::layout::wait_flags::NO_WAKE,
                0
            );
            tx.push(5).unwrap();
            assert_eq!(
                r.counters().wakeups,
                wakeups + 1,
                "{ctx}: re-enabled, woken"
            );
            assert_eq!(
                w.futex.load(Ordering::SeqCst),
                futex.wrapping_add(1),
                "{ctx}"
            );
            w.waiters.store(0, Ordering::SeqCst);
            tx.push(6).unwrap();
            assert_eq!(
                r.counters().wakeups,
                wakeups + 1,
                "{ctx}: no waiter, no wake-up"
            );
            assert_eq!(rx.reap(&mut out, 3, None), Ok(3), "{ctx}");
            assert_eq!(&out[..3], &[4, 5, 6], "{ctx}");

            // Re-enabled: waits sleep again, time out, and are woken by a push.
            let d = Duration::from_millis(20);
            let t = Instant::now();
            assert_eq!(rx.wait(1, Some(d)), Ok(WaitOutcome::TimedOut(0)), "{ctx}");
            assert_took(t.elapsed(), d, &ctx);
            assert!(r.counters().sleeps > 0, "{ctx}");
            drop(tx);
            let r2 = r.clone();
            let pusher = thread::spawn(move || {
                until(Duration::from_secs(20), "the sleeper", || {
                    r2.counters().waiters > 0
                });
                r2.producer().unwrap().push(7).unwrap();
            });
            rx.set_spin(0);
            assert_eq!(rx.reap(&mut out, 1, long), Ok(1), "{ctx}");
            assert_eq!(out[0], 7);
            pusher.join().unwrap();
        });
    }
}

#[test]
fn a_ring_without_the_wait_block_cannot_sleep() {
    for mode in MODES {
        for ocap in [0u32, 2] {
            let ctx = format!("{mode:?} overflow {ocap}");
            let ring = heap(Config::new(2).mode(mode).overflow(ocap).wait(false));
            assert!(ring.lines().wait_line().is_none());
            assert_eq!(ring.geometry().wait_offset, None);
            let r = ring.clone();
            bounded(DEADLINE, move || {
                let long = Some(Duration::from_secs(30));
                let mut rx = r.consumer().unwrap();
                let mut out = [0u64; 8];
                let p = rx.position();
                let t = Instant::now();
                assert_eq!(rx.wait(1, long), Err(WaitError::NoWaitBlock), "{ctx}");
                assert_eq!(rx.wait(1, None), Err(WaitError::NoWaitBlock), "{ctx}");
                assert_eq!(
                    rx.wait_beyond(p, 1, long),
                    Err(WaitError::NoWaitBlock),
                    "{ctx}"
                );
                assert_eq!(
                    rx.reap(&mut out, 1, None),
                    Err(WaitError::NoWaitBlock),
                    "{ctx}"
                );
                assert!(t.elapsed() < SLACK, "{ctx}");
                assert_eq!(rx.eventfd_prepare(), Err(WaitError::NoWaitBlock), "{ctx}");
                assert_eq!(
                    r.set_wakeups_suppressed(true),
                    Err(WaitError::NoWaitBlock),
                    "{ctx}"
                );
                let e = r
                    .create_eventfd()
                    .expect_err("no eventfd without the wait block");
                assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{ctx}");
                assert!(r.eventfd().is_none(), "{ctx}");
                r.wake_all(); // harmless
                              // Entries present: ready, no sleeping needed.
                let mut tx = r.producer().unwrap();
                let n = 2 + ocap as u64;
                for v in 0..n {
                    tx.push(v).unwrap();
                }
                assert_eq!(
                    rx.wait(n as usize, None),
                    Ok(WaitOutcome::Ready(n as u32)),
                    "{ctx}"
                );
                assert_eq!(
                    rx.wait_beyond(p, n as usize, None),
                    Ok(WaitOutcome::Ready(n as u32))
                );
                assert_eq!(rx.reap(&mut out, n as usize, None), Ok(n as usize), "{ctx}");
                assert_eq!(&out[..n as usize], &(0..n).collect::<Vec<_>>()[..], "{ctx}");
                // Some taken, more wanted: what was taken is returned.
                tx.push(9).unwrap();
                assert_eq!(rx.reap(&mut out, 2, long), Ok(1), "{ctx}");
                let c = r.counters();
                assert_eq!((c.wakeups, c.sleeps, c.waiters), (0, 0, 0), "{ctx}");
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Forced and shared wake-ups, spills

#[test]
fn wake_all_forces_a_sleeper_awake() {
    for mode in MODES {
        let ctx = format!("{mode:?}");
        let ring = heap(Config::new(4).mode(mode));
        let w = ring.lines().wait_line().unwrap();
        let futex0 = w.futex.load(Ordering::SeqCst);
        let r = ring.clone();
        let d = Duration::from_millis(800);
        let h = thread::spawn(move || {
            let mut rx = r.consumer().unwrap();
            rx.set_spin(0);
            let t = Instant::now();
            (rx.wait(1, Some(d)), t.elapsed())
        });
        until(Duration::from_secs(20), "the sleeper", || {
            let c = ring.counters();
            c.waiters == 1 && c.sleeps == 1
        });
        ring.wake_all();
        let c = ring.counters();
        assert_eq!(c.wakeups, 1, "{ctx}: a forced wake-up is counted");
        assert_eq!(
            w.futex.load(Ordering::SeqCst),
            futex0.wrapping_add(1),
            "{ctx}"
        );
        // The waiter wakes, finds nothing, and sleeps again until its timeout.
        until(
            Duration::from_secs(20),
            "the sleeper to sleep again",
            || ring.counters().sleeps >= 2,
        );
        let (res, took) = h.join().unwrap();
        assert_eq!(res, Ok(WaitOutcome::TimedOut(0)), "{ctx}");
        assert_took(took, d, &ctx);
        let c = ring.counters();
        assert_eq!((c.wakeups, c.waiters), (1, 0), "{ctx}");

        // wake_all, then a push: the waiter keeps waiting after the forced wake, then is Ready.
        let r = ring.clone();
        let h = thread::spawn(move || {
            let mut rx = r.consumer().unwrap();
            rx.set_spin(0);
            let t = Instant::now();
            (rx.wait(1, Some(Duration::from_secs(30))), t.elapsed())
        });
        let s0 = c.sleeps;
        until(Duration::from_secs(20), "the sleeper", || {
            let c = ring.counters();
            c.waiters == 1 && c.sleeps == s0 + 1
        });
        ring.wake_all();
        until(
            Duration::from_secs(20),
            "the sleeper to sleep again",
            || {
                let c = ring.counters();
                c.waiters == 1 && c.sleeps == s0 + 2
            },
        );
        ring.producer().unwrap().push(1).unwrap();
        let (res, took) = h.join().unwrap();
        assert_eq!(res, Ok(WaitOutcome::Ready(1)), "{ctx}");
        assert!(took < Duration::from_secs(20), "{ctx}");
        assert_eq!(
            ring.counters().wakeups,
            3,
            "{ctx}: two forced, one by the push"
        );
    }
}

#[test]
fn one_publication_wakes_every_sleeper() {
    for mode in [Mode::Spmc, Mode::Mpmc] {
        let ring = heap(Config::new(4).mode(mode).overflow(4));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let r = ring.clone();
                thread::spawn(move || {
                    let mut rx = r.consumer().unwrap();
                    rx.set_spin(0);
                    rx.wait(1, Some(Duration::from_secs(30)))
                })
            })
            .collect();
        until(Duration::from_secs(20), "three sleepers", || {
            ring.counters().waiters == 3
        });
        let t = Instant::now();
        ring.producer().unwrap().push(5).unwrap();
        for h in hs {
            assert_eq!(h.join().unwrap(), Ok(WaitOutcome::Ready(1)), "{mode:?}");
        }
        assert!(t.elapsed() < Duration::from_secs(20), "{mode:?}");
        let c = ring.counters();
        assert_eq!(
            (c.wakeups, c.waiters),
            (1, 0),
            "{mode:?}: one wake-up for all"
        );
    }
}

#[test]
fn a_spill_into_the_overflow_area_wakes_a_sleeper() {
    for mode in MODES {
        let ring = heap(Config::new(2).mode(mode).overflow(4));
        let mut tx = ring.producer().unwrap();
        tx.push_all(&[1, 2]).unwrap(); // the ring is full
        let r = ring.clone();
        let h = thread::spawn(move || {
            let mut rx = r.consumer().unwrap();
            rx.set_spin(0);
            let w = rx.wait(4, Some(Duration::from_secs(30)));
            let mut out = [0u64; 8];
            let n = rx.reap(&mut out, 0, None).unwrap();
            (w, out[..n].to_vec())
        });
        until(Duration::from_secs(20), "the sleeper", || {
            ring.counters().waiters == 1
        });
        tx.push(3).unwrap();
        tx.push(4).unwrap();
        let (w, got) = h.join().unwrap();
        assert_eq!(w, Ok(WaitOutcome::Ready(4)), "{mode:?}");
        assert_eq!(got, vec![1, 2, 3, 4], "{mode:?}");
        let c = ring.counters();
        assert!(c.wakeups >= 1, "{mode:?}");
        assert_eq!(c.overflowed, 2, "{mode:?}");
    }
}

/// An entry behind a reservation that its producer then drops: the slot is published as
/// discarded, and that publication must wake a sleeper (it makes the entry behind it
/// claimable), in the ring and in the overflow area. Without the wake-up the consumer sleeps
/// to its timeout with an entry available (a regression test).
#[test]
fn a_dropped_reservation_wakes_a_sleeper() {
    for mode in [Mode::Mpsc, Mode::Mpmc] {
        for spill in [false, true] {
            let ctx = format!("{mode:?} in the overflow area: {spill}");
            let ring = heap(Config::new(2).mode(mode).overflow(4));
            let mut a = ring.producer().unwrap();
            let mut b = ring.producer().unwrap();
            if spill {
                a.push_all(&[100, 101]).unwrap(); // the ring is full: the next go to overflow
            }
            let chunk = a.reserve(1).unwrap(); // pending
            b.push(7).unwrap(); // behind it
            let r = ring.clone();
            let h = thread::spawn(move || {
                let mut rx = r.consumer().unwrap();
                rx.set_spin(0);
                let mut out = [0u64; 4];
                let mut got = Vec::new();
                let t = Instant::now();
                // The ring's entries (if any) come first; then the entry behind the reservation.
                while !got.contains(&7) && t.elapsed() < Duration::from_secs(10) {
                    match rx.reap(&mut out, 1, Some(Duration::from_secs(10))) {
                        Ok(n) => got.extend_from_slice(&out[..n]),
                        Err(e) => panic!("reap: {e}"),
                    }
                }
                (got, t.elapsed())
            });
            until(Duration::from_secs(20), "the consumer to sleep", || {
                let c = ring.counters();
                c.waiters == 1 && c.sleeps >= 1
            });
            let wakeups = ring.counters().wakeups;
            drop(chunk); // published as discarded
            let (got, took) = h.join().unwrap();
            let want = if spill { vec![100, 101, 7] } else { vec![7] };
            assert_eq!(got, want, "{ctx}");
            assert!(
                took < Duration::from_secs(5),
                "{ctx}: woken only after {took:?}"
            );
            let c = ring.counters();
            assert!(
                c.wakeups > wakeups,
                "{ctx}: no wake-up for the discarded slot"
            );
            assert_eq!(c.discarded, 1, "{ctx}");
        }
    }
}

/// `reap(out, min, timeout)` with `min` larger than the ring can hold: io_getevents
/// semantics, it collects entries as they come until `min` (a regression test: `reap` used to
/// wait for all `min - n` to be ready at once, which a ring of 4 never holds, and so slept
/// until its timeout while the producer waited on the full ring).
#[test]
fn reap_collects_more_than_the_ring_holds() {
    for ocap in [0u32, 2] {
        let ring = heap(Config::new(4).mode(Mode::Spsc).overflow(ocap));
        let r = ring.clone();
        let producer = thread::spawn(move || {
            let mut tx = r.producer().unwrap();
            for v in 0..64u64 {
                tx.push_wait(v, Some(Duration::from_secs(20))).unwrap();
            }
        });
        let r = ring.clone();
        let (n, out, took) = bounded(DEADLINE, move || {
            let mut rx = r.consumer().unwrap();
            let mut out = [0u64; 64];
            let t = Instant::now();
            let n = rx
                .reap(&mut out, 64, Some(Duration::from_secs(10)))
                .unwrap();
            (n, out, t.elapsed())
        });
        producer.join().unwrap();
        assert_eq!(
            n, 64,
            "overflow {ocap}: reap returned {n} entries after {took:?}"
        );
        assert!(
            took < Duration::from_secs(5),
            "overflow {ocap}: reap took {took:?}"
        );
        assert_eq!(out, std::array::from_fn::<u64, 64, _>(|i| i as u64));
    }
}

/// The same while the overflow area stays active: the reaper drained the ring and every
/// published overflow entry, but an overflow reservation was still pending, so the area could
/// not be deactivated. Until a consumer finds it drained, producers route every entry to the
/// overflow area, so at most `overflow_capacity` entries are ever ready at once: a `reap`
/// that waited for more than that would sleep until its timeout while the producer is refused
/// (it once did; waits are now clamped to what is sure to become ready at once).
#[test]
fn reap_collects_while_the_overflow_area_stays_active() {
    // Ring of 2, overflow area of 4: reap wants 2 + 5 = 7.
    let ring = heap(Config::new(2).mode(Mode::Mpsc).overflow(4));
    let r = ring.clone();
    let (tx_go, rx_go) = mpsc::channel::<()>();
    let producer = thread::spawn(move || {
        let mut tx = r.producer().unwrap();
        tx.push_all(&[0, 1]).unwrap(); // the ring is full
        let mut chunk = tx.reserve(1).unwrap(); // an overflow reservation, pending
        rx_go.recv().unwrap(); // the reaper has drained the ring and sleeps
        chunk.write(0, 2);
        chunk.commit();
        for v in 3..7u64 {
            tx.push_wait(v, Some(Duration::from_secs(20))).unwrap();
        }
    });
    // The reaper starts once the ring is full and the overflow reservation is pending, so it
    // drains the ring before it sleeps (a reap takes what it can before waiting).
    until(
        Duration::from_secs(20),
        "the producer to fill and reserve",
        || {
            let c = ring.counters();
            c.tail == 2 && c.overflow_pending == 1
        },
    );
    let r = ring.clone();
    let reaper = thread::spawn(move || {
        let mut rx = r.consumer().unwrap();
        rx.set_spin(0);
        let mut out = [0u64; 16];
        let t = Instant::now();
        let n = rx.reap(&mut out, 7, Some(Duration::from_secs(6))).unwrap();
        (n, out, t.elapsed())
    });
    until(Duration::from_secs(20), "the reaper to sleep", || {
        let c = ring.counters();
        c.waiters == 1 && c.head == 2 && c.tail == 2
    });
    assert!(ring.counters().overflow_active);
    tx_go.send(()).unwrap();
    let (n, out, took) = reaper.join().unwrap();
    producer.join().unwrap();
    assert_eq!(n, 7, "reap returned {n} entries after {took:?}");
    assert!(took < Duration::from_secs(3), "reap took {took:?}");
    assert_eq!(&out[..7], &[0, 1, 2, 3, 4, 5, 6]);
}

/// CPU time consumed by the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec on our stack.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Overflow entries that cannot be taken yet (O4: the ring is not empty, a ring reservation
/// is still unpublished) must not satisfy a wait: `wait` promises entries that "can be taken
/// by this consumer", and `reap` sleeps, not spins, until the reservation is published (a
/// regression test: `RawRing::ready` used to count them, so `wait` returned `Ready`, `pop`
/// `Empty`, and `reap` busy-spun until its timeout).
#[test]
fn wait_does_not_count_overflow_entries_that_cannot_be_taken() {
    for mode in [Mode::Mpsc, Mode::Mpmc] {
        let ring = heap(Config::new(2).mode(mode).overflow(2));
        let r = ring.clone();
        bounded(DEADLINE, move || {
            let mut a = r.producer().unwrap();
            let mut b = r.producer().unwrap();
            let mut rx = r.consumer().unwrap();
            let mut chunk = a.reserve(1).unwrap(); // ring position 0, unpublished
            b.push(1).unwrap(); // ring position 1: the ring is full
            b.push(2).unwrap(); // spills: an overflow entry behind the pending one
            assert_eq!(rx.pop(), Err(PopError::Empty), "{mode:?}: O4 holds it back");
            let w = rx.wait(1, Some(Duration::from_millis(50)));
            assert_eq!(rx.pop(), Err(PopError::Empty), "{mode:?}");
            assert_eq!(
                w,
                Ok(WaitOutcome::TimedOut(0)),
                "{mode:?}: wait reported entries that cannot be taken"
            );
            let mut out = [0u64; 4];
            let (cpu, t) = (thread_cpu(), Instant::now());
            assert_eq!(
                rx.reap(&mut out, 1, Some(Duration::from_millis(300))),
                Ok(0)
            );
            let (cpu, wall) = (thread_cpu() - cpu, t.elapsed());
            assert!(
                cpu < wall / 2,
                "{mode:?}: reap spun for {cpu:?} of CPU in {wall:?} instead of sleeping"
            );
            chunk.write(0, 0);
            chunk.commit();
            assert_eq!(rx.reap(&mut out, 3, Some(Duration::from_secs(10))), Ok(3));
            assert_eq!(&out[..3], &[0, 1, 2], "{mode:?}");
        });
    }
}

// ---------------------------------------------------------------------------------------------
// eventfd (in-process)

fn poll_in(fd: BorrowedFd<'_>, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd on the stack.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    assert!(r >= 0, "poll: {}", std::io::Error::last_os_error());
    r == 1 && p.revents & libc::POLLIN != 0
}

#[test]
fn eventfd_in_process() {
    for mode in MODES {
        let ring = heap(Config::new(4).mode(mode).overflow(2));
        let r = ring.clone();
        bounded(DEADLINE, move || {
            let mut rx = r.consumer().unwrap();
            // No eventfd yet: nothing would be signalled; nothing is announced.
            assert_eq!(rx.eventfd_prepare(), Err(WaitError::NoEventfd), "{mode:?}");
            assert_eq!(r.counters().waiters, 0, "{mode:?}");
            let fd = r.create_eventfd().unwrap().try_clone_to_owned().unwrap();
            let w = r.lines().wait_line().unwrap();
            let flags = w.flags.load(Ordering::SeqCst);
            assert_ne!(
                flags & ring_core::layout::wait_flags::EVENTFD,
                0,
                "{mode:?}"
            );
            let mut out = [0u64; 8];
            for round in 0..20u64 {
                assert_eq!(rx.eventfd_prepare(), Ok(false), "{mode:?} round {round}");
                assert_eq!(r.counters().waiters, 1, "{mode:?}: announced");
                // In the eventfd half of the word: producers signal the eventfd but make no
                // FUTEX_WAKE call (nobody sleeps on the futex).
                assert_eq!(
                    w.waiters.load(Ordering::SeqCst),
                    ring_core::layout::waiters::EVENTFD,
                    "{mode:?}: announced as an eventfd waiter"
                );
                assert!(!poll_in(fd.as_fd(), 0), "{mode:?}: signalled too early");
                let r2 = r.clone();
                let pusher = thread::spawn(move || {
                    thread::sleep(Duration::from_millis(2));
                    let mut tx = r2.producer().unwrap();
                    // The ring (4) and the overflow area (2): the spill signals too.
                    for v in 0..6 {
                        tx.push(round * 10 + v).unwrap();
                    }
                });
                assert!(poll_in(fd.as_fd(), 10_000), "{mode:?}: never signalled");
                pusher.join().unwrap();
                rx.eventfd_finish();
                assert!(!poll_in(fd.as_fd(), 0), "{mode:?}: not drained");
                assert_eq!(r.counters().waiters, 0, "{mode:?}: withdrawn");
                assert_eq!(rx.reap(&mut out, 6, Some(Duration::from_secs(10))), Ok(6));
                let want: Vec<u64> = (0..6).map(|v| round * 10 + v).collect();
                assert_eq!(out[..6], want[..], "{mode:?}");
            }
            // Entries already there: prepare says so, and there is nothing to poll for.
            r.producer().unwrap().push(99).unwrap();
            assert_eq!(rx.eventfd_prepare(), Ok(true));
            rx.eventfd_finish();
            assert_eq!(rx.pop(), Ok(99));
            assert_eq!(r.counters().waiters, 0);
            // Suppressed wake-ups: nobody would signal; refused, nothing left announced.
            r.set_wakeups_suppressed(true).unwrap();
            assert_eq!(rx.eventfd_prepare(), Err(WaitError::WakeupsSuppressed));
            assert_eq!(r.counters().waiters, 0);
            r.set_wakeups_suppressed(false).unwrap();
            // One eventfd per Ring value.
            let e = r.create_eventfd().expect_err("a second eventfd");
            assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{mode:?}");
            let other = fd.try_clone().unwrap();
            let e = r.set_eventfd(other).expect_err("a second eventfd");
            assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{mode:?}");
            assert!(r.eventfd().is_some());
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Two processes (the harness is in common/mod.rs).

/// The re-exec entry point: runs the role named by [`common::ROLE_VAR`], or nothing.
#[test]
fn child() {
    let Some((role, params)) = common::child_role() else {
        return;
    };
    match role.as_str() {
        "pong" => child_pong(&params),
        "eventfd" => child_eventfd(&params),
        other => panic!("unknown child role {other}"),
    }
    report("done", 1);
}

// ---------------------------------------------------------------------------------------------
// Sleep/wake hand-offs between two processes

/// Timeout of each receive: a lost wake-up fails after this instead of hanging.
const HANDOFF_TIMEOUT: Duration = Duration::from_secs(5);

/// Receives `2i` on `ping`, answers `2i + 1` on `pong`, `rounds` times; every receive sleeps
/// (spin 0) unless the value is already there.
fn child_pong(params: &Params) {
    let ping = Ring::<u64>::open_shm(params.get("ping")).expect("open ping");
    let pong = Ring::<u64>::open_shm(params.get("pong")).expect("open pong");
    let rounds = params.num("rounds");
    let mut rx = ping.consumer().expect("ping consumer");
    let mut tx = pong.producer().expect("pong producer");
    rx.set_spin(0);
    report("ready", std::process::id());
    let mut buf = [0u64; 1];
    for i in 0..rounds {
        match rx.reap(&mut buf, 1, Some(HANDOFF_TIMEOUT)) {
            Ok(1) => {}
            other => panic!(
                "hand-off {}: receive returned {other:?} after {HANDOFF_TIMEOUT:?} (lost wake-up?): {:?}",
                2 * i,
                ping.counters()
            ),
        }
        assert_eq!(buf[0], 2 * i, "ping sequence");
        if let Err(e) = tx.push(2 * i + 1) {
            panic!("pong push at {i}: {e:?}");
        }
        if i % 65_536 == 0 && orphaned(params) {
            panic!("parent went away");
        }
    }
}

/// Sleep/wake hand-offs (half of them round trips). About 4 µs each on a 2-core machine, in
/// debug and release builds alike (the futex system calls dominate), so the full count runs
/// in both.
fn handoffs() -> u64 {
    1_000_000
}

#[test]
fn sleep_wake_handoffs_between_two_processes() {
    let rounds = handoffs() / 2;
    let (ping_name, pong_name) = (unique_name("ping"), unique_name("pong"));
    let _guards = (ShmGuard::new(&ping_name), ShmGuard::new(&pong_name));
    let cfg = Config::new(2).initial_index(u32::MAX - 5);
    let ping = Ring::<u64>::create_shm(&ping_name, cfg).expect("create ping");
    let pong = Ring::<u64>::create_shm(&pong_name, cfg).expect("create pong");
    let mut peer = Peer::spawn_with_fds(
        "pong",
        &[
            ("ping", ping_name.clone()),
            ("pong", pong_name.clone()),
            ("rounds", rounds.to_string()),
        ],
        &[],
    );
    peer.expect("ready");
    let mut tx = ping.producer().expect("ping producer");
    let mut rx = pong.consumer().expect("pong consumer");
    rx.set_spin(0);
    let mut buf = [0u64; 1];
    let t = Instant::now();
    for i in 0..rounds {
        if let Err(e) = tx.push(2 * i) {
            peer.fail(format!("ping push at {i}: {e:?}"));
        }
        match rx.reap(&mut buf, 1, Some(HANDOFF_TIMEOUT)) {
            Ok(1) => {}
            other => peer.fail(format!(
                "hand-off {}: receive returned {other:?} (lost wake-up?): ping {:?} pong {:?}",
                2 * i + 1,
                ping.counters(),
                pong.counters()
            )),
        }
        if buf[0] != 2 * i + 1 {
            peer.fail(format!(
                "pong sequence: expected {}, got {}",
                2 * i + 1,
                buf[0]
            ));
        }
        if i % 4096 == 0 && t.elapsed() > DEADLINE {
            peer.fail(format!("deadline expired after {i} round trips"));
        }
    }
    let took = t.elapsed();
    peer.finish();
    let (a, b) = (ping.counters(), pong.counters());
    for (name, c) in [("ping", a), ("pong", b)] {
        assert_eq!(c.tail, c.head, "{name}");
        assert_eq!(c.tail, (u32::MAX - 5).wrapping_add(rounds as u32), "{name}");
        assert!(c.sleeps > 0 && c.wakeups > 0, "{name}: {c:?}");
        // Nearly every receive sleeps (the answer needs the other process to wake up first);
        // leave room for a loaded machine.
        assert!(c.sleeps >= rounds / 10, "{name}: only {} sleeps", c.sleeps);
        assert_eq!(c.waiters, 0, "{name}");
        assert_eq!(c.full_refusals, 0, "{name}");
    }
    let n = 2 * rounds;
    eprintln!(
        "{n} hand-offs in {took:?}: {:.0} hand-offs/s, {:.2} µs each; sleeps {} + {}, wakeups {} + {}",
        n as f64 / took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / n as f64,
        a.sleeps,
        b.sleeps,
        a.wakeups,
        b.wakeups
    );
}

// ---------------------------------------------------------------------------------------------
// eventfd between two processes

/// Round 0 without the eventfd attached (the parent's poll must not be signalled); then
/// `set_eventfd` with the inherited descriptor and `rounds` rounds of one push each, each once
/// the parent has prepared (announced itself) with the ring drained.
fn child_eventfd(params: &Params) {
    let ring = Ring::<u64>::open_shm(params.get("shm")).expect("open");
    let rounds = params.num("rounds");
    let efd = params.fd("efd");
    let deadline = Instant::now() + DEADLINE;
    let mut tx = ring.producer().expect("producer");
    let wait_for_parent = |round: u64| loop {
        let c = ring.counters();
        if c.waiters > 0 && c.tail == c.head {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "round {round}: parent never prepared: {c:?}"
        );
        assert!(!orphaned(params), "parent went away");
        thread::sleep(Duration::from_micros(100));
    };
    wait_for_parent(0);
    tx.push(1000).expect("push");
    report("pushed-without-eventfd", 1);
    ring.set_eventfd(efd).expect("set_eventfd");
    assert!(ring.eventfd().is_some());
    for round in 1..=rounds {
        wait_for_parent(round);
        tx.push(1000 + round).expect("push");
    }
}

#[test]
fn eventfd_signalled_by_a_producer_in_another_process() {
    const ROUNDS: u64 = 50;
    let name = unique_name("eventfd");
    let _guard = ShmGuard::new(&name);
    let ring = Ring::<u64>::create_shm(&name, Config::new(4).mode(Mode::Mpsc)).expect("create");
    let efd = ring.create_eventfd().expect("eventfd");
    let mut peer = Peer::spawn_with_fds(
        "eventfd",
        &[("shm", name.clone()), ("rounds", ROUNDS.to_string())],
        &[("efd", efd)],
    );
    let mut rx = ring.consumer().expect("consumer");
    let mut out = [0u64; 4];
    // Round 0: the child has not attached the eventfd yet: its push wakes futex sleepers
    // only; the eventfd stays quiet (a producer signals only a descriptor it holds).
    if rx.eventfd_prepare() != Ok(false) {
        peer.fail("round 0: entries before the first push");
    }
    peer.expect("pushed-without-eventfd");
    let signalled = poll_in(efd, 200);
    rx.eventfd_finish();
    if signalled {
        peer.fail("round 0: signalled by a process without the descriptor");
    }
    match rx.reap(&mut out, 1, Some(Duration::from_secs(10))) {
        Ok(1) if out[0] == 1000 => {}
        other => peer.fail(format!("round 0: reap {other:?} {out:?}")),
    }
    let w0 = ring.counters().wakeups;
    for round in 1..=ROUNDS {
        if rx.eventfd_prepare() != Ok(false) {
            peer.fail(format!("round {round}: entries before the push"));
        }
        let signalled = poll_in(efd, 10_000);
        rx.eventfd_finish();
        if !signalled {
            peer.fail(format!(
                "round {round}: the eventfd was not signalled: {:?}",
                ring.counters()
            ));
        }
        if poll_in(efd, 0) {
            peer.fail(format!(
                "round {round}: eventfd_finish did not drain the counter"
            ));
        }
        match rx.reap(&mut out, 1, Some(Duration::from_secs(10))) {
            Ok(1) if out[0] == 1000 + round => {}
            other => peer.fail(format!("round {round}: reap {other:?} {out:?}")),
        }
    }
    peer.finish();
    let c = ring.counters();
    assert_eq!(c.tail, c.head);
    assert_eq!(c.waiters, 0);
    assert!(c.wakeups >= w0 + ROUNDS, "{c:?}");
    assert_eq!(rx.pop(), Err(PopError::Empty));
    // The eventfd is this process's and still attached.
    assert_eq!(ring.eventfd().map(|f| f.as_raw_fd()), Some(efd.as_raw_fd()));
}
