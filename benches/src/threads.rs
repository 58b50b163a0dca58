//! Workloads between threads: throughput (SPSC, batches, several producers and consumers),
//! round-trip latency, and the cost of moving a cache line between two cores.
//!
//! Every runner starts its threads, pins thread `i` to allowed core `i` (wrapping: on a 2-core
//! machine the third and fourth threads share cores 0 and 1 with the first two), has each
//! thread build its handles, releases them all at once through a barrier, and times from the
//! release until the last thread finishes. Consumers check every entry they receive (order per
//! producer, and the total), so a queue that lost or duplicated entries would fail the run.

use crate::affinity;
use crate::clock;
use crate::peers::{item, BatchRx, BatchTx, Item, Rx, Tx};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

/// Cookie that tells an echoing side to stop.
pub const STOP: u64 = u64::MAX;

/// How a thread waits when its queue is full or empty: spin briefly, then yield. Identical for
/// every queue. Yielding matters when threads outnumber cores (MPSC, MPMC on two cores).
#[derive(Default)]
pub struct Backoff(u32);

impl Backoff {
    /// Polls spun before each poll also yields.
    pub const SPINS: u32 = 64;

    /// One failed poll.
    #[inline(always)]
    pub fn pause(&mut self) {
        if self.0 < Self::SPINS {
            self.0 += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }

    /// A successful poll.
    #[inline(always)]
    pub fn reset(&mut self) {
        self.0 = 0;
    }
}

/// Releases all the threads of a run at once and records when.
pub struct Gate<'a> {
    barrier: &'a Barrier,
    start: &'a OnceLock<Instant>,
}

impl Gate<'_> {
    /// Waits for every thread of the run; the last to arrive records the start time.
    pub fn open(&self) {
        if self.barrier.wait().is_leader() {
            let _ = self.start.set(Instant::now());
        }
    }
}

/// One thread of a run: it builds its handles, opens the gate, works, and returns when it
/// finished.
pub type Job<'a> = Box<dyn FnOnce(&Gate<'_>) -> Instant + Send + 'a>;

/// Runs `jobs` on their own threads (job `i` pinned to allowed core `i`, wrapping) and returns
/// the time from the gate's opening to the last job's end.
pub fn run_jobs(jobs: Vec<Job<'_>>) -> Duration {
    let barrier = Barrier::new(jobs.len());
    let start = OnceLock::new();
    let ends: Vec<Instant> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .enumerate()
            .map(|(i, job)| {
                let gate = Gate {
                    barrier: &barrier,
                    start: &start,
                };
                s.spawn(move || {
                    affinity::pin(affinity::core(i));
                    job(&gate)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("benchmark thread panicked"))
            .collect()
    });
    let start = *start.get().expect("gate opened");
    ends.into_iter()
        .max()
        .map_or(Duration::ZERO, |e| e.saturating_duration_since(start))
}

#[inline(always)]
fn push_spin<T: Tx>(tx: &mut T, mut v: Item, w: &mut Backoff) {
    loop {
        match tx.push(v) {
            Ok(()) => return w.reset(),
            Err(back) => {
                v = back;
                w.pause();
            }
        }
    }
}

/// One producer and one consumer move `n` entries one at a time; returns the elapsed time.
pub fn spsc<TX: Tx, RX: Rx>(
    n: u64,
    make_tx: impl FnOnce() -> TX + Send,
    make_rx: impl FnOnce() -> RX + Send,
) -> Duration {
    run_jobs(vec![
        Box::new(move |g: &Gate<'_>| {
            let mut tx = make_tx();
            g.open();
            let mut w = Backoff::default();
            for i in 0..n {
                push_spin(&mut tx, item(i), &mut w);
            }
            Instant::now()
        }),
        Box::new(move |g: &Gate<'_>| {
            let mut rx = make_rx();
            g.open();
            let mut w = Backoff::default();
            let mut next = 0;
            while next < n {
                match rx.pop() {
                    Some(v) => {
                        assert_eq!(v.user_data, next, "out of order");
                        next += 1;
                        w.reset();
                    }
                    None => w.pause(),
                }
            }
            Instant::now()
        }),
    ])
}

/// One producer pushes `n` entries in batches of exactly `batch`; one consumer takes up to
/// `batch` at a time. Returns the elapsed time.
pub fn spsc_batch<TX: BatchTx, RX: BatchRx>(
    n: u64,
    batch: usize,
    make_tx: impl FnOnce() -> TX + Send,
    make_rx: impl FnOnce() -> RX + Send,
) -> Duration {
    run_jobs(vec![
        Box::new(move |g: &Gate<'_>| {
            let mut tx = make_tx();
            g.open();
            let mut w = Backoff::default();
            let mut i = 0;
            while i < n {
                let k = batch.min((n - i) as usize);
                if tx.push_batch(k, |j| item(i + j as u64)) {
                    i += k as u64;
                    w.reset();
                } else {
                    w.pause();
                }
            }
            Instant::now()
        }),
        Box::new(move |g: &Gate<'_>| {
            let mut rx = make_rx();
            g.open();
            let mut w = Backoff::default();
            let mut next = 0;
            while next < n {
                let got = rx.pop_batch(batch, |v| {
                    assert_eq!(v.user_data, next, "out of order");
                    next += 1;
                });
                if got == 0 {
                    w.pause();
                } else {
                    w.reset();
                }
            }
            Instant::now()
        }),
    ])
}

/// `producers` producers push `per_producer` entries each, one at a time; `consumers`
/// consumers pop until everything is taken. Returns the elapsed time. With one consumer, the
/// order of each producer's entries is checked; always, the total count and checksum.
pub fn many<TX: Tx, RX: Rx>(
    producers: usize,
    consumers: usize,
    per_producer: u64,
    make_tx: &(dyn Fn() -> TX + Sync),
    make_rx: &(dyn Fn() -> RX + Sync),
) -> Duration {
    let done = AtomicUsize::new(0);
    let taken = AtomicU64::new(0);
    let sum = AtomicU64::new(0);
    let mut jobs: Vec<Job<'_>> = Vec::new();
    for p in 0..producers as u64 {
        let done = &done;
        jobs.push(Box::new(move |g: &Gate<'_>| {
            let mut tx = make_tx();
            g.open();
            let mut w = Backoff::default();
            for i in 0..per_producer {
                push_spin(&mut tx, item(p << 40 | i), &mut w);
            }
            done.fetch_add(1, Ordering::Release);
            Instant::now()
        }));
    }
    for _ in 0..consumers {
        let (done, taken, sum) = (&done, &taken, &sum);
        jobs.push(Box::new(move |g: &Gate<'_>| {
            let mut rx = make_rx();
            g.open();
            let mut w = Backoff::default();
            let mut next = vec![0u64; producers];
            let (mut count, mut check) = (0u64, 0u64);
            loop {
                match rx.pop() {
                    Some(v) => {
                        let (p, i) = ((v.user_data >> 40) as usize, v.user_data & ((1 << 40) - 1));
                        if consumers == 1 {
                            assert_eq!(i, next[p], "producer {p} out of order");
                            next[p] += 1;
                        }
                        count += 1;
                        check = check.wrapping_add(i);
                        w.reset();
                    }
                    None if done.load(Ordering::Acquire) == producers => match rx.pop() {
                        // Everything was pushed before `done`; one more look drains the rest.
                        Some(v) => {
                            count += 1;
                            check = check.wrapping_add(v.user_data & ((1 << 40) - 1));
                        }
                        None => break,
                    },
                    None => w.pause(),
                }
            }
            taken.fetch_add(count, Ordering::Relaxed);
            sum.fetch_add(check, Ordering::Relaxed);
            Instant::now()
        }));
    }
    let elapsed = run_jobs(jobs);
    let total = producers as u64 * per_producer;
    assert_eq!(
        taken.load(Ordering::Relaxed),
        total,
        "entries lost or duplicated"
    );
    let per = per_producer.wrapping_sub(1).wrapping_mul(per_producer) / 2;
    assert_eq!(
        sum.load(Ordering::Relaxed),
        per.wrapping_mul(producers as u64),
        "checksum"
    );
    elapsed
}

/// Round trips between two threads over two queues, both sides busy-polling: side A pushes a
/// ping and spins until the pong returns; side B echoes. Returns the round-trip times in
/// nanoseconds of the `rounds` measured round trips (after `warmup` unmeasured ones).
pub fn pingpong<TA: Tx, RA: Rx, RB: Rx, TB: Tx>(
    rounds: usize,
    warmup: usize,
    make_a: impl FnOnce() -> (TA, RA) + Send,
    make_b: impl FnOnce() -> (RB, TB) + Send,
) -> Vec<f64> {
    let mut samples = Vec::with_capacity(rounds);
    let out = &mut samples;
    run_jobs(vec![
        Box::new(move |g: &Gate<'_>| {
            let (mut tx, mut rx) = make_a();
            g.open();
            for r in 0..(warmup + rounds) as u64 {
                let t0 = clock::ticks();
                let mut v = item(r);
                while let Err(back) = tx.push(v) {
                    v = back;
                    std::hint::spin_loop();
                }
                let back = loop {
                    if let Some(b) = rx.pop() {
                        break b;
                    }
                    std::hint::spin_loop();
                };
                let t1 = clock::ticks();
                assert_eq!(back.user_data, r, "wrong pong");
                if r >= warmup as u64 {
                    out.push(t1.wrapping_sub(t0));
                }
            }
            let mut v = item(STOP);
            while let Err(back) = tx.push(v) {
                v = back;
                std::hint::spin_loop();
            }
            Instant::now()
        }),
        Box::new(move |g: &Gate<'_>| {
            let (mut rx, mut tx) = make_b();
            g.open();
            loop {
                let v = loop {
                    if let Some(v) = rx.pop() {
                        break v;
                    }
                    std::hint::spin_loop();
                };
                if v.user_data == STOP {
                    break;
                }
                let mut v = v;
                while let Err(back) = tx.push(v) {
                    v = back;
                    std::hint::spin_loop();
                }
            }
            Instant::now()
        }),
    ]);
    samples.into_iter().map(clock::ticks_to_ns).collect()
}

/// The cost of moving one cache line between allowed cores 0 and 1: two threads take turns
/// incrementing one atomic word (each waits to see the other's increment), `rounds` times.
/// Returns the median over blocks of 1,000 round trips of the time per one-way transfer, in
/// nanoseconds.
pub fn cache_line_transfer(rounds: u64) -> f64 {
    #[repr(align(128))]
    struct Padded(AtomicU64);
    let word = Padded(AtomicU64::new(0));
    let mut blocks = Vec::new();
    let (w, out) = (&word, &mut blocks);
    run_jobs(vec![
        Box::new(move |g: &Gate<'_>| {
            g.open();
            let mut t0 = clock::ticks();
            for r in 0..rounds {
                let v = 2 * r;
                w.0.store(v + 1, Ordering::Release);
                while w.0.load(Ordering::Acquire) != v + 2 {
                    std::hint::spin_loop();
                }
                if (r + 1) % 1000 == 0 {
                    let t1 = clock::ticks();
                    out.push(clock::ticks_to_ns(t1 - t0) / 2000.0);
                    t0 = t1;
                }
            }
            Instant::now()
        }),
        Box::new(move |g: &Gate<'_>| {
            g.open();
            for r in 0..rounds {
                let v = 2 * r + 1;
                while w.0.load(Ordering::Acquire) != v {
                    std::hint::spin_loop();
                }
                w.0.store(v + 1, Ordering::Release);
            }
            Instant::now()
        }),
    ]);
    crate::stats::median(&blocks)
}
