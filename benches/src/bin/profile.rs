//! `profile`: single-thread loops of one contender's operations, to be run under
//! `valgrind --tool=callgrind`, which counts the instructions each operation executes.
//!
//! ```text
//! cargo build --release -p benches --bin profile
//! valgrind --tool=callgrind --callgrind-out-file=cg.out target/release/profile ours-spsc
//! callgrind_annotate --inclusive=yes cg.out | grep -E 'push_one|pop_one'
//! ```
//!
//! Each mode pushes and pops [`ITERS`] entries one at a time (`push_one`, `pop_one` are not
//! inlined, so callgrind attributes each operation's instructions to them), or in batches of 32
//! for the `*-batch` modes; the `*-poll` modes poll an empty ring [`ITERS`] times (what a
//! busy-polling consumer runs while it waits). Instruction counts do not show the cost of moving cache lines
//! between cores (callgrind runs threads one at a time and simulates no coherence); the
//! throughput and latency benchmarks do.

use benches::floor::HeapFloor;
use benches::peers::{item, ringbuf_pair, BatchRx, BatchTx, Item, OursCopy, OursZeroCopy, Rx, Tx};
use ring_core::{Config, Mode, Ring};
use std::hint::black_box;

/// Operations per mode.
const ITERS: u64 = 1_000_000;

#[inline(never)]
fn push_one<T: Tx>(tx: &mut T, v: Item) {
    if tx.push(v).is_err() {
        panic!("full");
    }
}

#[inline(never)]
fn pop_one<R: Rx>(rx: &mut R) -> Item {
    rx.pop().expect("empty")
}

#[inline(never)]
fn push_batch<T: BatchTx>(tx: &mut T, first: u64) {
    assert!(tx.push_batch(32, |i| item(first + i as u64)), "full");
}

#[inline(never)]
fn pop_batch<R: BatchRx>(rx: &mut R) -> u64 {
    let mut s = 0;
    assert_eq!(rx.pop_batch(32, |v| s += v.user_data), 32);
    s
}

#[inline(never)]
fn poll_empty<R: Rx>(rx: &mut R) -> bool {
    rx.pop().is_some()
}

/// Polls an empty ring: what a busy-polling consumer runs while it waits.
fn polls<R: Rx>(mut rx: R) {
    let mut hits = 0;
    for _ in 0..ITERS {
        hits += u64::from(poll_empty(&mut rx));
    }
    assert_eq!(black_box(hits), 0);
}

fn single<T: Tx, R: Rx>(mut tx: T, mut rx: R) {
    let mut s = 0;
    for i in 0..ITERS {
        push_one(&mut tx, item(i));
        s += pop_one(&mut rx).user_data;
    }
    black_box(s);
}

fn batch<T: BatchTx, R: BatchRx>(mut tx: T, mut rx: R) {
    let mut s = 0;
    for i in 0..ITERS / 32 {
        push_batch(&mut tx, i * 32);
        s += pop_batch(&mut rx);
    }
    black_box(s);
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let cfg = |m: Mode| Config::new(4096).mode(m).wait(false);
    match mode.as_str() {
        "ours-spsc" | "ours-mpsc" | "ours-mpmc" | "ours-spsc-wait" => {
            let m = match mode.as_str() {
                "ours-mpsc" => Mode::Mpsc,
                "ours-mpmc" => Mode::Mpmc,
                _ => Mode::Spsc,
            };
            let ring = Ring::<Item>::create_heap(cfg(m).wait(mode == "ours-spsc-wait")).unwrap();
            single(ring.producer().unwrap(), ring.consumer().unwrap());
        }
        "ours-batch" => {
            let ring = Ring::<Item>::create_heap(cfg(Mode::Spsc)).unwrap();
            batch(
                OursCopy::new(ring.producer().unwrap()),
                OursCopy::new(ring.consumer().unwrap()),
            );
        }
        "ours-zc-batch" => {
            let ring = Ring::<Item>::create_heap(cfg(Mode::Spsc)).unwrap();
            batch(
                OursZeroCopy(ring.producer().unwrap()),
                OursZeroCopy(ring.consumer().unwrap()),
            );
        }
        "ours-poll" => {
            let ring = Ring::<Item>::create_heap(cfg(Mode::Spsc)).unwrap();
            polls(ring.consumer().unwrap());
        }
        "floor-poll" => {
            let f = HeapFloor::<Item>::new(4096);
            polls(f.split::<true>().1);
        }
        "rtrb-poll" => {
            polls(rtrb::RingBuffer::<Item>::new(4096).1);
        }
        "floor" => {
            let f = HeapFloor::<Item>::new(4096);
            let (tx, rx) = f.split::<true>();
            single(tx, rx);
        }
        "floor-batch" => {
            let f = HeapFloor::<Item>::new(4096);
            let (tx, rx) = f.split::<true>();
            batch(tx, rx);
        }
        "rtrb" => {
            let (tx, rx) = rtrb::RingBuffer::<Item>::new(4096);
            single(tx, rx);
        }
        "rtrb-batch" => {
            let (tx, rx) = rtrb::RingBuffer::<Item>::new(4096);
            batch(tx, rx);
        }
        "ringbuf" => {
            let (tx, rx) = ringbuf_pair(4096);
            single(tx, rx);
        }
        "arrayqueue" => {
            let q = crossbeam_queue::ArrayQueue::<Item>::new(4096);
            single(&q, &q);
        }
        _ => {
            eprintln!(
                "usage: profile MODE; modes: ours-spsc ours-spsc-wait ours-mpsc ours-mpmc ours-batch \
                 ours-zc-batch floor floor-batch rtrb rtrb-batch ringbuf arrayqueue ours-poll \
                 floor-poll rtrb-poll"
            );
            std::process::exit(2);
        }
    }
}
