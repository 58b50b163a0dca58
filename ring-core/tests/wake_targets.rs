//! Wake-ups that respect `min` (layout 1.3, `INCOMPAT_WAIT_TARGET`): a sleeper publishes the
//! position it waits for and producers wake it only once the producer index reaches it. These
//! tests count wake-ups and sleeps (the wait line's counters); they time nothing.
//!
//! Every wait has a timeout, so a lost wake-up shows as a wait that ends `TimedOut` with fewer
//! than `min` entries while the producer still had entries to give (checked), never as a hang.

mod common;

use common::{Peer, ShmGuard, Transport, DEADLINE};
use ring_core::{Completion, Config, Consumer, Mode, Ring, WaitError};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

const COUNT: u64 = 200_000;
const MIN: usize = 32;

/// Reaps `count` entries with `reap(min = MIN)`; returns the wake-ups and sleeps counted by the
/// ring during the run, and how many `reap` calls may have waited (fewer than `min` entries in
/// the ring when the call began: an upper bound, since entries may arrive meanwhile; a call
/// that began with `min` entries never waits). Every entry must arrive once, in order.
fn consume(
    ring: &Ring<Completion>,
    rx: &mut Consumer<Completion>,
    count: u64,
    peer: Option<&mut Peer>,
) -> (u64, u64, u64) {
    let w = ring.lines().wait_line().expect("wait block");
    let (wake0, sleep0) = (w.wakeups.load(Relaxed), w.sleeps.load(Relaxed));
    let mut out = [Completion::default(); 256];
    let mut next = 0u64;
    let mut waiting = 0u64;
    let end = Instant::now() + DEADLINE;
    let mut peer = peer;
    while next < count {
        assert!(Instant::now() < end, "only {next} of {count} arrived");
        if let Some(p) = peer.as_deref_mut() {
            p.poll_sometimes();
        }
        let min = MIN.min((count - next) as usize);
        if (ring.len() as usize) < min {
            waiting += 1;
        }
        match rx.reap(&mut out, min, Some(Duration::from_secs(5))) {
            Ok(n) => {
                for c in &out[..n] {
                    assert_eq!(c.user_data, next, "entries once, in order");
                    next += 1;
                }
            }
            Err(WaitError::Closed) => break,
            Err(e) => panic!("reap: {e}"),
        }
    }
    assert_eq!(next, count);
    (
        w.wakeups.load(Relaxed) - wake0,
        w.sleeps.load(Relaxed) - sleep0,
        waiting,
    )
}

fn produce(tx: &mut ring_core::Producer<Completion>, count: u64) {
    for i in 0..count {
        tx.push_wait(Completion::new(i, 0, 0), Some(DEADLINE))
            .expect("push_wait");
        if i % 64 == 0 {
            // Let the consumer fall asleep now and then, as a real producer does.
            std::thread::yield_now();
        }
    }
}

#[test]
fn child() {
    let Some((role, params)) = common::child_role() else {
        return;
    };
    match role.as_str() {
        "produce" => {
            let ring = common::child_ring::<Completion>(&params, Mode::Spsc);
            let mut tx = ring.producer().expect("producer");
            produce(&mut tx, params.num("count"));
            tx.close();
        }
        other => panic!("unknown child role {other}"),
    }
    common::report("done", 1);
}

/// Wake-ups per sleep, in one process and across processes. Before wake-up targets a producer
/// woke the consumer after every publication while it was announced, which across processes
/// meant about ten times as many wake-ups as sleeps; now each sleep is ended by about one
/// wake-up, plus at most one per call whose announcement found its entries (its target stays
/// armed, and the next publication past it wakes nobody in particular).
#[test]
fn wakeups_follow_sleeps() {
    let cfg = Config::new(1024).mode(Mode::Spsc);
    // In one process.
    let ring = Ring::<Completion>::create_heap(cfg).unwrap();
    let (mut tx, mut rx) = ring.split().unwrap();
    rx.set_spin(0);
    let t = std::thread::spawn(move || produce(&mut tx, COUNT));
    let (wakes, sleeps, waiting) = consume(&ring, &mut rx, COUNT, None);
    t.join().unwrap();
    eprintln!("in one process: {wakes} wake-ups, {sleeps} sleeps, {waiting} waiting calls");
    check(wakes, sleeps, waiting, "in one process");

    // Across processes.
    let name = common::unique_name("wake-targets");
    let _guard = ShmGuard::new(&name);
    let ring = Ring::<Completion>::create_shm(&name, cfg).unwrap();
    let mut rx = ring.consumer().unwrap();
    rx.set_spin(0);
    let mut peer = Peer::spawn(
        "produce",
        &[("count", COUNT.to_string())],
        &Transport::Shm(&name),
    );
    let (wakes, sleeps, waiting) = consume(&ring, &mut rx, COUNT, Some(&mut peer));
    peer.finish();
    eprintln!("across processes: {wakes} wake-ups, {sleeps} sleeps, {waiting} waiting calls");
    check(wakes, sleeps, waiting, "across processes");

    // For comparison, a ring laid out for 1.2 peers (no targets: a producer wakes after every
    // publication while a sleeper is announced). Printed, not judged.
    let name = common::unique_name("wake-legacy");
    let _guard = ShmGuard::new(&name);
    let ring = Ring::<Completion>::create_shm(&name, cfg.legacy(true)).unwrap();
    let mut rx = ring.consumer().unwrap();
    rx.set_spin(0);
    let mut peer = Peer::spawn(
        "produce",
        &[("count", COUNT.to_string())],
        &Transport::Shm(&name),
    );
    let (wakes, sleeps, waiting) = consume(&ring, &mut rx, COUNT, Some(&mut peer));
    peer.finish();
    eprintln!(
        "across processes, without targets: {wakes} wake-ups, {sleeps} sleeps, {waiting} waiting calls"
    );
}

fn check(wakes: u64, sleeps: u64, waiting: u64, what: &str) {
    assert!(
        sleeps > 0,
        "{what}: the consumer never slept: the test tests nothing"
    );
    // With targets, a wake-up needs an armed target, and a target is armed by a sleeper's
    // announcement, disarmed by the one wake-up that passes it. An announcement ends in a
    // sleep, or, when the entries arrive while announcing, in the call returning: at most one
    // such announcement per waiting call. So wake-ups <= sleeps + waiting calls (+ the close).
    // How many announcements end without a sleep depends on timing (which made a fixed
    // wake-ups-per-sleep bound flaky); the sum does not. Without targets a producer wakes a
    // sleeper at every publication while it is announced: tens of thousands more here.
    assert!(
        wakes <= sleeps + waiting + 10,
        "{what}: {wakes} wake-ups for {sleeps} sleeps and {waiting} waiting calls"
    );
}

/// A wait completed by a ring publication together with an entry already in the overflow area:
/// the target must count the overflow entry (spin configuration `target-mpsc-ovf-min2` found a
/// target that ignored it). Position 1 is reserved by a producer that publishes it only once
/// the consumer sleeps waiting for 2 entries (position 1 and the overflow entry); a target of
/// head + 2 would never be reached (the producer index stays at head + 1) and the wait would end
/// by its timeout instead.
#[test]
fn a_target_counts_the_overflow_area() {
    use std::sync::mpsc;
    let ring = Ring::<u64>::create_heap(Config::new(2).mode(Mode::Mpsc).overflow(4)).unwrap();
    let mut b = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();
    rx.set_spin(0);
    // No periodic recovery while held up by the reserved position: it would end each sleep
    // after 100 ms and hide a lost wake-up.
    rx.set_recovery_after(None);
    b.push(10).unwrap(); // position 0
    let (reserved_tx, reserved_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let r = ring.clone();
    let a = std::thread::spawn(move || {
        let mut a = r.producer().unwrap();
        let mut chunk = a.reserve_exact(1).unwrap(); // position 1, held
        reserved_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        chunk.write(0, 11);
        chunk.commit();
    });
    reserved_rx.recv().unwrap();
    b.push(12).unwrap(); // the ring is full: the overflow area
    assert_eq!(rx.pop(), Ok(10));
    let sleeps = ring.lines().wait_line().unwrap().sleeps.load(Relaxed);
    let wakeups = ring.lines().wait_line().unwrap().wakeups.load(Relaxed);
    let seen = ring.clone();
    let waker = std::thread::spawn(move || {
        let end = Instant::now() + DEADLINE;
        while seen.lines().wait_line().unwrap().sleeps.load(Relaxed) == sleeps {
            assert!(Instant::now() < end, "the consumer never slept");
            std::thread::yield_now();
        }
        go_tx.send(()).unwrap();
    });
    // A lost wake-up ends the wait by its timeout, with the same outcome: count the wake-ups.
    let r = rx.wait(2, Some(Duration::from_secs(10)));
    waker.join().unwrap();
    a.join().unwrap();
    assert_eq!(r, Ok(ring_core::WaitOutcome::Ready(2)));
    let woken = ring.lines().wait_line().unwrap().wakeups.load(Relaxed) - wakeups;
    assert!(
        woken >= 1,
        "the publication that completed the wait woke nobody"
    );
    assert_eq!(rx.pop(), Ok(11));
    assert_eq!(rx.pop(), Ok(12));
}
