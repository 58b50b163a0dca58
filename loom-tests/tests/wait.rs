//! Loom models of the wait/wake handshake (W1/W2) with the model futex: a consumer that goes to
//! sleep and is never woken is a deadlock, which loom reports. So these tests fail on a lost
//! wake-up rather than hang.
#![cfg(ring_core_loom)]

use loom::sync::Arc;
use loom::thread;
use loom_tests::{check, discard_one, tag, values, HeapRing, START};
use ring_core::{Mode, WaitOutcome};

#[test]
fn spsc_sleeper_is_woken() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spsc, START).with_wait());
        let r = ring.clone();
        let p = thread::spawn(move || {
            let mut tx = r.producer().unwrap();
            tx.push(7).unwrap();
        });
        let mut rx = ring.consumer().unwrap();
        rx.set_spin(0);
        assert_eq!(rx.wait(1, None), Ok(WaitOutcome::Ready(1)));
        assert_eq!(rx.pop(), Ok(7));
        p.join().unwrap();
    });
}

#[test]
fn mpsc_reap_sleeps_until_both_arrive() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpsc, START).with_wait());
        let hs: Vec<_> = (0..2u64)
            .map(|p| {
                let r = ring.clone();
                thread::spawn(move || {
                    let mut tx = r.producer().unwrap();
                    tx.push(p << 32).unwrap();
                    vec![p << 32]
                })
            })
            .collect();
        let mut rx = ring.consumer().unwrap();
        rx.set_spin(0);
        let mut out = [0u64; 2];
        let n = rx.reap(&mut out, 2, None).unwrap();
        assert_eq!(n, 2);
        let pushed: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        check(&pushed, &[out.to_vec()]);
    });
}

#[test]
fn reap_across_the_overflow_boundary_while_sleeping() {
    loom::model(|| {
        let ring = Arc::new(
            HeapRing::<u64>::new(2, Mode::Spsc, START)
                .with_overflow(2)
                .with_wait(),
        );
        let r = ring.clone();
        let p = thread::spawn(move || {
            let mut tx = r.producer().unwrap();
            for v in values(0, 3) {
                tx.push(v).unwrap(); // 2 in the ring, 1 spills (nothing is consumed meanwhile
                                     // in some executions; in others the ring drains first)
            }
        });
        let mut rx = ring.consumer().unwrap();
        rx.set_spin(0);
        let mut out = [0u64; 3];
        let mut n = 0;
        while n < 3 {
            n += rx.reap(&mut out[n..], 3 - n, None).unwrap();
        }
        p.join().unwrap();
        check(&[values(0, 3)], &[out.to_vec()]);
    });
}

/// The SPSC flavor's W1 after a single push (`SpscTx::put`) and after a batch
/// (`SpscTx::publish`), the second crossing the u32 wrap: the consumer sleeps in `reap(min = 2)`
/// until both publications are in.
#[test]
fn spsc_push_then_batch_wake_across_the_wrap() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spsc, START).with_wait());
        let r = ring.clone();
        let p = thread::spawn(move || {
            let mut tx = r.producer().unwrap();
            tx.push(tag(0, 0)).unwrap();
            tx.push_all(&[tag(0, 1)]).unwrap();
        });
        let mut rx = ring.consumer().unwrap();
        rx.set_spin(0);
        let mut out = [0u64; 2];
        let mut n = 0;
        while n < 2 {
            n += rx.reap(&mut out[n..], 2 - n, None).unwrap();
        }
        p.join().unwrap();
        check(&[values(0, 2)], &[out.to_vec()]);
    });
}

/// A slot published as discarded can unblock entries behind it, so publishing it must wake
/// sleepers too: producer A reserves position 0 and abandons it, producer B publishes position
/// 1; a consumer asleep because position 0 was not ready must be woken by A's discard.
fn discard_wakes(ring: HeapRing<u64>) {
    let ring = Arc::new(ring);
    let r = ring.clone();
    let a = thread::spawn(move || {
        let mut tx = r.producer().unwrap();
        assert!(discard_one(&mut tx), "an empty ring refused one slot");
    });
    let r = ring.clone();
    let b = thread::spawn(move || {
        let mut tx = r.producer().unwrap();
        tx.push(1 << 32).unwrap();
    });
    let mut rx = ring.consumer().unwrap();
    rx.set_spin(0);
    let mut out = [0u64; 1];
    assert_eq!(rx.reap(&mut out, 1, None), Ok(1));
    assert_eq!(out[0], 1 << 32);
    a.join().unwrap();
    b.join().unwrap();
}

/// The MPSC flavors (`MpTx::publish`, `ScRx`).
#[test]
fn discarded_publication_wakes_sleepers() {
    loom::model(|| discard_wakes(HeapRing::new(2, Mode::Mpsc, START).with_wait()));
}

/// The general flavor (an MPSC ring with an overflow area: `RawRing::publish`).
#[test]
fn discarded_publication_wakes_sleepers_general() {
    loom::model(|| {
        discard_wakes(
            HeapRing::new(2, Mode::Mpsc, START)
                .with_overflow(2)
                .with_wait(),
        )
    });
}
