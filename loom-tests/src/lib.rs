//! Model checks of ring-core under loom.
//!
//! Build and run with `RUSTFLAGS="--cfg ring_core_loom" cargo test -p loom-tests --release`.
//! Under that cfg (named for ring-core, so a downstream crate's own `--cfg loom` leaves
//! ring-core's atomics alone) ring-core's `sync` facade swaps in loom's atomics and
//! `UnsafeCell`, its `sys` module a model futex (a loom mutex and condition variable: a wait
//! nobody wakes is a deadlock loom reports), and `ring_core::model::HeapRing` allocates the
//! very structures the protocol code uses on the heap; the tests then drive the shipped
//! [`ring_core::Producer`] / [`ring_core::Consumer`] handles, in the same flavors a ring in
//! mapped memory picks.

#![cfg(ring_core_loom)]

use loom::thread;
pub use ring_core::model::HeapRing;
use ring_core::{PopError, Producer, PushError};

/// Indices start here: every model crosses the u32 wrap.
pub const START: u32 = u32::MAX - 1;
/// Attempts per operation before a thread gives up (see the test crate's docs).
pub const ATTEMPTS: usize = 3;

/// The value a producer pushes: its id in the high half, its sequence in the low half.
pub fn tag(producer: u64, seq: u64) -> u64 {
    producer << 32 | seq
}

/// Pushes `values` in order, each with up to `ATTEMPTS` tries; stops at the first value that
/// does not fit. Returns what was pushed.
pub fn produce(ring: &HeapRing<u64>, values: &[u64]) -> Vec<u64> {
    let mut tx = ring.producer().unwrap();
    let mut pushed = Vec::new();
    for &v in values {
        let mut ok = false;
        for _ in 0..ATTEMPTS {
            match tx.push(v) {
                Ok(()) => {
                    ok = true;
                    break;
                }
                Err(PushError::Full(_)) => thread::yield_now(),
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        if !ok {
            break;
        }
        pushed.push(v);
    }
    pushed
}

/// Pops with up to `polls` attempts in total.
pub fn consume(ring: &HeapRing<u64>, polls: usize) -> Vec<u64> {
    let mut rx = ring.consumer().unwrap();
    let mut got = Vec::new();
    for _ in 0..polls {
        match rx.pop() {
            Ok(v) => got.push(v),
            Err(PopError::Empty) => thread::yield_now(),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    got
}

/// Everything left in the ring, once all other threads are joined.
pub fn drain(ring: &HeapRing<u64>) -> Vec<u64> {
    let mut rx = ring.consumer().unwrap();
    let mut got = Vec::new();
    loop {
        match rx.pop() {
            Ok(v) => got.push(v),
            Err(PopError::Empty) => return got,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
}

/// `streams` are the per-consumer delivery sequences (in delivery order); `pushed` the
/// per-producer pushed sequences. Checks exact delivery and per-producer order per stream.
pub fn check(pushed: &[Vec<u64>], streams: &[Vec<u64>]) {
    for s in streams {
        for p in 0..pushed.len() as u64 {
            let mine: Vec<_> = s.iter().filter(|&&v| v >> 32 == p).collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "producer {p} out of order in {s:?}"
            );
        }
    }
    let mut all: Vec<u64> = streams.concat();
    all.sort_unstable();
    let mut want: Vec<u64> = pushed.concat();
    want.sort_unstable();
    assert_eq!(all, want, "delivered {streams:?} but pushed {pushed:?}");
}

/// `n` tagged values of producer `p`.
pub fn values(p: u64, n: u64) -> Vec<u64> {
    (0..n).map(|s| tag(p, s)).collect()
}

/// The flavor a producer or consumer handle picked when it was made, as its `Debug` output
/// names it (`Spsc`, `Mp`, `Sc` or `General`).
pub fn flavor(handle: &impl core::fmt::Debug) -> String {
    let shown = format!("{handle:?}");
    let rest = shown
        .split("flavor: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no flavor in {shown}"));
    rest.chars().take_while(|c| c.is_alphanumeric()).collect()
}

/// Abandons one reservation of a single slot (a `WriteChunk` dropped unwritten: published as
/// discarded in multi-producer modes), with up to `ATTEMPTS` tries; returns whether it reserved.
pub fn discard_one(tx: &mut Producer<u64>) -> bool {
    for _ in 0..ATTEMPTS {
        if let Ok(chunk) = tx.reserve(1) {
            drop(chunk);
            return true;
        }
        thread::yield_now();
    }
    false
}
