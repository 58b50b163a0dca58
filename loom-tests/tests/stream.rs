//! Loom models of layout 1.3 over the shipped code: the end of the stream (E1-E4) and wake-up
//! targets (W1T/W2T). The model ring (`HeapRing`) keeps the end-of-stream word and has sleepers
//! publish targets. A consumer that sleeps and is never woken is a deadlock of the model futex,
//! which loom reports: these tests fail on a lost wake-up (a lost close, a missed target) rather
//! than hang. Every consumer loop is bounded, so a consumer that never sees the end fails too.
//!
//! Where the model has one producer, the consumer runs on a spawned thread and the model's main
//! thread only joins: with the consumer on the main thread, loom 0.7 explored a single execution
//! of a push-and-close model (one `pop_into` against one producer thread), and the E4 mutant
//! `rust-e4-no-recheck-at-end` survived. The models with two producers keep the consumer on the
//! main thread (as loom-tests/tests/wait.rs does): a fourth thread takes minutes, and the
//! preemption bound then no longer reaches the lost wake-up the hole models exist for.
#![cfg(ring_core_loom)]

use loom::sync::Arc;
use loom::thread;
use loom_tests::{check, tag, HeapRing, START};
use ring_core::Consumer as Rx;
use ring_core::{Mode, PopError, WaitError, WaitOutcome};

/// Reaps with `reap(min)` until the end of the stream, at most `rounds` calls; returns what it
/// took, in order. Fails if the end is not reported within `rounds` calls, and checks that the
/// end, once reported, stays reported (by `pop`, `pop_into` and `reap`).
fn reap_to_end(rx: &mut Rx<u64>, min: usize, rounds: usize) -> Vec<u64> {
    let mut got = Vec::new();
    let mut out = [0u64; 2];
    for _ in 0..rounds {
        match rx.reap(&mut out, min, None) {
            Ok(n) => {
                assert!(n > 0, "reap without a timeout returned nothing and no end");
                got.extend_from_slice(&out[..n]);
            }
            Err(WaitError::Closed) => {
                assert_eq!(rx.pop(), Err(PopError::Closed));
                assert_eq!(rx.pop_into(&mut out), Err(PopError::Closed));
                assert_eq!(rx.reap(&mut out, min, None), Err(WaitError::Closed));
                return got;
            }
            Err(e) => panic!("reap: {e:?} after {got:?}"),
        }
    }
    panic!("no end of stream after {rounds} reaps (took {got:?})");
}

/// Runs `f` with a new consumer of `ring` on a spawned thread.
fn consumer<R: Send + 'static>(
    ring: &Arc<HeapRing<u64>>,
    f: impl FnOnce(&mut Rx<u64>) -> R + Send + 'static,
) -> thread::JoinHandle<R> {
    let r = ring.clone();
    thread::spawn(move || {
        let mut rx = r.consumer().unwrap();
        rx.set_spin(0);
        f(&mut rx)
    })
}

/// (a) E1 + E4, SPSC: the producer pushes one entry and closes; the consumer sleeps in
/// `reap(min = 2)`, which the close must end. It must take the entry and then see the end,
/// never the end first (the close comes after the publication, and E4 re-checks after seeing
/// `CLOSED`).
#[test]
fn spsc_push_close_then_drain_and_end() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spsc, START).with_wait());
        let r = ring.clone();
        let p = thread::spawn(move || {
            let mut tx = r.producer().unwrap();
            tx.push(tag(0, 0)).unwrap();
            tx.close();
        });
        let c = consumer(&ring, |rx| (reap_to_end(rx, 2, 3), rx.stream().closed));
        p.join().unwrap();
        let (got, closed) = c.join().unwrap();
        assert_eq!(got, vec![tag(0, 0)]);
        assert!(closed);
    });
}

/// (a') E4 in the SPSC flavor's `pop` (inline, the busy-polling path): the entry, then the end;
/// a pop that reports the end must not leave the entry behind.
#[test]
fn spsc_pop_never_reports_the_end_before_the_entry() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spsc, START));
        let r = ring.clone();
        let p = thread::spawn(move || {
            let mut tx = r.producer().unwrap();
            tx.push(tag(0, 0)).unwrap();
            tx.close();
        });
        let c = consumer(&ring, |rx| {
            let mut got = Vec::new();
            for _ in 0..3 {
                match rx.pop() {
                    Ok(v) => got.push(v),
                    Err(PopError::Empty) => thread::yield_now(),
                    Err(PopError::Closed) => return (got, true),
                    Err(e) => panic!("pop: {e:?}"),
                }
            }
            (got, false)
        });
        p.join().unwrap();
        let (mut got, ended) = c.join().unwrap();
        if ended {
            assert_eq!(
                got,
                vec![tag(0, 0)],
                "the end reported before the entry was taken"
            );
        } else {
            // Not ended within the polls: what is left must still come, then the end.
            let mut rx = ring.consumer().unwrap();
            while got.is_empty() {
                got.push(rx.pop().unwrap());
            }
            assert_eq!(got, vec![tag(0, 0)]);
            assert_eq!(rx.pop(), Err(PopError::Closed));
        }
    });
}

/// (b) E2 + E3 + E4, MPSC: two producers each push one entry; one closes, the other drops
/// (leaves). The stream closes when the last one leaves, whichever order; the consumer sleeps
/// in `reap(min = 2)` and must get both entries and then the end.
#[test]
fn mpsc_close_and_drop_last_one_closes() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpsc, START).with_wait());
        // Both join before either can leave, as handles made by the application would.
        let mut txs: Vec<_> = (0..2).map(|_| ring.producer().unwrap()).collect();
        let t1 = txs.pop().unwrap();
        let t0 = txs.pop().unwrap();
        let a = thread::spawn(move || {
            let mut tx = t0;
            tx.push(tag(0, 0)).unwrap();
            tx.close();
        });
        let b = thread::spawn(move || {
            let mut tx = t1;
            tx.push(tag(1, 0)).unwrap();
            drop(tx);
        });
        // The consumer on the model's main thread: on a fourth thread the model takes minutes.
        let mut rx = ring.consumer().unwrap();
        rx.set_spin(0);
        let (got, closed) = (reap_to_end(&mut rx, 2, 3), rx.stream().closed);
        a.join().unwrap();
        b.join().unwrap();
        check(&[vec![tag(0, 0)], vec![tag(1, 0)]], &[got]);
        assert!(closed);
    });
}

/// (c) W1T with a hole, MPSC: two producers publish one entry each while the consumer sleeps in
/// `wait(2)` (target: head + 2). When the producer of the later position publishes first, the
/// earlier position is a hole: the sleeper cannot finish yet, and the producer that fills the
/// hole must find the target reached (it reads the shared `tail` with a read-modify-write) and
/// wake it. On b6c41b4 (the futex snapshot taken after W2T) this model deadlocks: a waker
/// disarmed the target between the sleeper's arm and its snapshot. Capacity 4, so that two reservations do not fill the ring (a full ring ends the wait
/// early, `Ready(1)`, by design).
#[test]
fn mpsc_target_reached_by_whichever_publishes_last() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(4, Mode::Mpsc, START).with_wait());
        let hs: Vec<_> = (0..2u64)
            .map(|p| {
                let r = ring.clone();
                thread::spawn(move || {
                    let mut tx = r.producer().unwrap();
                    tx.push(tag(p, 0)).unwrap();
                    tx.release();
                })
            })
            .collect();
        // The consumer on the model's main thread (as in wait.rs): so placed, the bound of 2
        // preemptions reaches the lost wake-up; on a fourth thread it does not, and the model
        // takes minutes.
        let mut rx = ring.consumer().unwrap();
        rx.set_spin(0);
        assert_eq!(rx.wait(2, None), Ok(WaitOutcome::Ready(2)));
        let mut out = [0u64; 2];
        assert_eq!(rx.pop_into(&mut out), Ok(2));
        // Nobody closed: the stream stays open.
        assert!(!rx.stream().closed);
        assert_eq!(rx.pop(), Err(PopError::Empty));
        for h in hs {
            h.join().unwrap();
        }
        check(&[vec![tag(0, 0)], vec![tag(1, 0)]], &[out.to_vec()]);
    });
}

/// (c') The same with `reap(min = 2)`, which takes what is there and waits for the rest (its
/// second wait arms head + 1 after taking one).
#[test]
fn mpsc_reap_min2_woken_by_the_last_publication() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpsc, START).with_wait());
        let hs: Vec<_> = (0..2u64)
            .map(|p| {
                let r = ring.clone();
                thread::spawn(move || {
                    let mut tx = r.producer().unwrap();
                    tx.push(tag(p, 0)).unwrap();
                })
            })
            .collect();
        // The consumer on the model's main thread (see the test above).
        let mut rx = ring.consumer().unwrap();
        rx.set_spin(0);
        let mut out = [0u64; 2];
        assert_eq!(rx.reap(&mut out, 2, None), Ok(2));
        for h in hs {
            h.join().unwrap();
        }
        check(&[vec![tag(0, 0)], vec![tag(1, 0)]], &[out.to_vec()]);
    });
}

/// W2T/W1T, SPSC: the consumer sleeps in `wait(2)` (target head + 2) while the producer pushes
/// twice; the first publication is below the target (no wake-up needed), the second reaches it
/// and must wake the sleeper. Nobody closes, so only the target's wake-up can end the wait.
/// Capacity 4: a full ring would end the wait early (`Ready(1)`, saturation) by design.
#[test]
fn spsc_sleeper_woken_at_its_target() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(4, Mode::Spsc, START).with_wait());
        let r = ring.clone();
        let p = thread::spawn(move || {
            let mut tx = r.producer().unwrap();
            tx.push(tag(0, 0)).unwrap();
            tx.push(tag(0, 1)).unwrap();
        });
        let c = consumer(&ring, |rx| {
            assert_eq!(rx.wait(2, None), Ok(WaitOutcome::Ready(2)));
            let mut out = [0u64; 2];
            assert_eq!(rx.pop_into(&mut out), Ok(2));
            out
        });
        p.join().unwrap();
        assert_eq!(c.join().unwrap(), [tag(0, 0), tag(0, 1)]);
    });
}

/// (d) E1's forced wake-up: a consumer asleep in `wait(1)` while the producer closes without
/// pushing must be woken and return `Closed(0)` (its target, head + 1, is never reached).
#[test]
fn close_without_entries_wakes_the_sleeper() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spsc, START).with_wait());
        let tx = ring.producer().unwrap();
        let p = thread::spawn(move || tx.close());
        let c = consumer(&ring, |rx| {
            assert_eq!(rx.wait(1, None), Ok(WaitOutcome::Closed(0)));
            assert_eq!(rx.pop(), Err(PopError::Closed));
        });
        p.join().unwrap();
        c.join().unwrap();
    });
}

/// (d') The same through E3 (several producers): the closing producer is the last to leave, so
/// its compare-and-swap sets `CLOSED` and it wakes the sleeper.
#[test]
fn mpsc_close_without_entries_wakes_the_sleeper() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpsc, START).with_wait());
        let tx = ring.producer().unwrap();
        let p = thread::spawn(move || tx.close());
        let c = consumer(&ring, |rx| {
            assert_eq!(rx.wait(1, None), Ok(WaitOutcome::Closed(0)));
            assert_eq!(rx.pop(), Err(PopError::Closed));
        });
        p.join().unwrap();
        c.join().unwrap();
        assert!(ring.producer().is_err(), "a closed stream took a producer");
    });
}
