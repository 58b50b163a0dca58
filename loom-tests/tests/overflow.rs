//! Loom models of the overflow area: spill when the ring is full, route through the area while
//! it is active, drain it in order, deactivate, and return to the ring; per-producer order
//! across the boundary in both directions. Ring capacity 2 with indices starting just below
//! `u32::MAX`, overflow capacity 2. The test shape is that of `protocols.rs` (bounded polling,
//! final drain, exact checks).
#![cfg(ring_core_loom)]

use loom::sync::Arc;
use loom::thread;
use loom_tests::{check, consume, drain, produce, values, HeapRing, START};
use ring_core::Mode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set (outside the model) when some execution used the overflow area, so each test can show
/// that it explored the spill path at all.
fn note_overflow(ring: &HeapRing<u64>, seen: &AtomicBool) {
    let line = ring.overflow_line().expect("overflow area");
    if line.overflowed.load(loom::sync::atomic::Ordering::Relaxed) > 0 {
        seen.store(true, Ordering::Relaxed);
    }
}

#[test]
fn spsc_spill_and_return_in_order() {
    static SPILLED: AtomicBool = AtomicBool::new(false);
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spsc, START).with_overflow(2));
        let r = ring.clone();
        let p = thread::spawn(move || produce(&r, &values(0, 4)));
        let mut got = consume(&ring, 3);
        let pushed = p.join().unwrap();
        got.extend(drain(&ring));
        note_overflow(&ring, &SPILLED);
        check(&[pushed], &[got]);
        assert!(!ring.overflow_active(), "drained but still active");
    });
    assert!(
        SPILLED.load(Ordering::Relaxed),
        "no execution used the overflow area"
    );
}

#[test]
fn mpsc_two_producers_across_the_boundary() {
    static SPILLED: AtomicBool = AtomicBool::new(false);
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpsc, START).with_overflow(2));
        let hs: Vec<_> = (0..2u64)
            .map(|p| {
                let r = ring.clone();
                thread::spawn(move || produce(&r, &values(p, 2)))
            })
            .collect();
        let mut got = consume(&ring, 2);
        let pushed: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        got.extend(drain(&ring));
        note_overflow(&ring, &SPILLED);
        check(&pushed, &[got]);
    });
    assert!(
        SPILLED.load(Ordering::Relaxed),
        "no execution used the overflow area"
    );
}

#[test]
fn mpmc_two_consumers_across_the_boundary() {
    static SPILLED: AtomicBool = AtomicBool::new(false);
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpmc, START).with_overflow(2));
        let r = ring.clone();
        let p = thread::spawn(move || produce(&r, &values(0, 3)));
        let r = ring.clone();
        let c = thread::spawn(move || consume(&r, 2));
        let mine = consume(&ring, 1);
        let pushed = p.join().unwrap();
        let theirs = c.join().unwrap();
        let rest = drain(&ring);
        note_overflow(&ring, &SPILLED);
        check(&[pushed], &[mine, theirs, rest]);
    });
    assert!(
        SPILLED.load(Ordering::Relaxed),
        "no execution used the overflow area"
    );
}
