//! `Reaper`: `Consumer::reap`'s semantics with adaptive yielding polls before a sleep. Every
//! wait is bounded.

use ring_aio::{Op, Pool, PoolConfig, Reaper, Submission, Target};
use ring_core::{Completion, Config, Mode, Ring, WaitError};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

/// Every completion of many small operations arrives once, reaped with `min = 1` and with a
/// larger `min`.
#[test]
fn reaps_every_completion_once() {
    let ring = Ring::<Completion>::create_heap(Config::new(64).mode(Mode::Mpsc)).unwrap();
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(4).queue_depth(32)).unwrap();
    let mut reaper = Reaper::new(&ring).unwrap();
    let total = 20_000u64;
    let mut seen = vec![false; total as usize];
    let (mut next, mut done) = (0u64, 0u64);
    let mut out = [Completion::default(); 32];
    let start = Instant::now();
    while done < total {
        while next < total && next - done < 32 {
            pool.submit(Submission::new(Op::nop(), &t).cookie(next))
                .unwrap();
            next += 1;
        }
        let min = if done % 2 == 0 {
            1
        } else {
            ((next - done) / 2) as usize
        };
        let n = reaper.reap(&mut out, min, Some(DEADLINE)).unwrap();
        assert!(n >= min.min(out.len()), "{n} < {min}");
        for c in &out[..n] {
            assert!(!std::mem::replace(&mut seen[c.user_data as usize], true));
        }
        done += n as u64;
        assert!(start.elapsed() < DEADLINE * 3);
    }
    assert!(seen.iter().all(|&s| s));
}

/// A wait that finds nothing times out with what it has, and each wait that had to sleep
/// halves the polling budget, down to its floor of 2.
#[test]
fn budget_halves_when_polling_does_not_pay() {
    let ring = Ring::<Completion>::create_heap(Config::new(8).mode(Mode::Mpsc)).unwrap();
    let mut reaper = Reaper::new(&ring).unwrap().max_yields(64);
    assert_eq!(reaper.budget(), 64);
    let mut out = [Completion::default(); 4];
    // A zero timeout looks once: no polling, so nothing to learn from.
    assert_eq!(reaper.reap(&mut out, 1, Some(Duration::ZERO)).unwrap(), 0);
    assert_eq!(reaper.budget(), 64);
    let mut budgets = Vec::new();
    for _ in 0..7 {
        let n = reaper
            .reap(&mut out, 1, Some(Duration::from_millis(5)))
            .unwrap();
        assert_eq!(n, 0);
        budgets.push(reaper.budget());
    }
    assert_eq!(budgets, [32, 16, 8, 4, 2, 2, 2]);
    // Already there: taken at once, budget unchanged.
    let mut tx = ring.producer().unwrap();
    tx.push(Completion::new(7, 0, 0)).unwrap();
    assert_eq!(reaper.reap(&mut out, 1, Some(DEADLINE)).unwrap(), 1);
    assert_eq!(out[0].user_data, 7);
    assert_eq!(reaper.budget(), 2);
    // No polling at all when asked.
    let mut plain = Reaper::from_consumer(reaper.into_consumer()).max_yields(0);
    assert_eq!(
        plain
            .reap(&mut out, 1, Some(Duration::from_millis(5)))
            .unwrap(),
        0
    );
    assert_eq!(plain.budget(), 0);
}

/// Polling that finds a completion raises the budget again (up to the maximum): a producer
/// thread posts while the reaper polls.
#[test]
fn budget_grows_when_polling_pays() {
    let ring = Ring::<Completion>::create_heap(Config::new(1024).mode(Mode::Mpsc)).unwrap();
    let mut reaper = Reaper::new(&ring).unwrap().max_yields(1_000_000);
    // Room for all the ring holds: each reap empties it, so the next one polls.
    let mut out = vec![Completion::default(); 1024];
    // Down to the floor first.
    for _ in 0..25 {
        reaper
            .reap(&mut out, 1, Some(Duration::from_millis(1)))
            .unwrap();
    }
    assert_eq!(reaper.budget(), 2);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let mut tx = ring.producer().unwrap();
    let feeder = std::thread::spawn(move || {
        let mut i = 0;
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            if tx.push(Completion::new(i, 0, 0)).is_ok() {
                i += 1;
            }
            std::thread::yield_now();
        }
    });
    // Reaps until the budget has grown above its floor (polling found completions).
    let start = Instant::now();
    while reaper.budget() <= 2 {
        assert!(start.elapsed() < DEADLINE, "the budget never grew");
        reaper.reap(&mut out, 1, Some(DEADLINE)).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    feeder.join().unwrap();
}

/// The end of the stream and nothing left: `WaitError::Closed`, as `Consumer::reap`.
#[test]
fn closed_stream_ends_the_wait() {
    let ring = Ring::<Completion>::create_heap(Config::new(8)).unwrap();
    let mut tx = ring.producer().unwrap();
    tx.push(Completion::new(1, 0, 0)).unwrap();
    tx.push(Completion::new(2, 0, 0)).unwrap();
    tx.close();
    let mut reaper = Reaper::new(&ring).unwrap();
    let mut out = [Completion::default(); 4];
    assert_eq!(reaper.reap(&mut out, 4, Some(DEADLINE)).unwrap(), 2);
    assert_eq!(
        reaper.reap(&mut out, 1, Some(DEADLINE)),
        Err(WaitError::Closed)
    );
}
