//! Single-thread costs: the overflow path, reaping in batches, and io_uring's own completion
//! path for reference.
//!
//! These run on one thread: they measure the instructions and cache behaviour of the operations
//! themselves, not the traffic between cores. Each primitive returns the total time of `n`
//! operations (for criterion's `iter_custom`); the `*_costs` helpers return medians for
//! `compare`.

use crate::clock;
use crate::peers::{item, Item};
use crate::stats::median;
use ring_core::{Config, Ring};
use std::time::{Duration, Instant};

/// Entries per overflow round (the overflow area's capacity).
pub const OVERFLOW_N: u32 = 4096;
/// Capacity of the ring in front of the overflow area.
pub const SPILL_RING: u32 = 64;

/// The rings of the overflow benchmarks: a ring of [`SPILL_RING`] slots with an overflow area of
/// [`OVERFLOW_N`], and for comparison a plain ring of `2 * OVERFLOW_N`. No wait block.
pub struct Overflow {
    spill: Ring<Item>,
    plain: Ring<Item>,
}

impl Default for Overflow {
    fn default() -> Self {
        Self::new()
    }
}

impl Overflow {
    /// Creates the two rings.
    pub fn new() -> Self {
        Overflow {
            spill: Ring::create_heap(Config::new(SPILL_RING).overflow(OVERFLOW_N).wait(false))
                .expect("overflow ring"),
            plain: Ring::create_heap(Config::new(2 * OVERFLOW_N).wait(false)).expect("ring"),
        }
    }

    /// Runs `rounds` of: fill the small ring, push `k <= OVERFLOW_N` entries that spill into the
    /// overflow area, drain the ring, reap the spilled entries in batches of 32, and look once
    /// more so that the area is deactivated. Returns the time spent in the spilling pushes and
    /// in the reaping of the spilled entries, for `n` entries each.
    pub fn spill(&self, n: u64) -> (Duration, Duration) {
        let mut tx = self.spill.producer().unwrap();
        let mut rx = self.spill.consumer().unwrap();
        let mut out = [Item::default(); 32];
        let (mut push, mut reap) = (Duration::ZERO, Duration::ZERO);
        let mut left = n;
        while left > 0 {
            let k = left.min(u64::from(OVERFLOW_N));
            left -= k;
            for i in 0..u64::from(SPILL_RING) {
                tx.push(item(i)).expect("ring has room");
            }
            let t = Instant::now();
            for i in 0..k {
                tx.push(item(i)).expect("overflow area has room");
            }
            push += t.elapsed();
            let mut got = 0;
            while got < SPILL_RING as usize {
                let want = (SPILL_RING as usize - got).min(32);
                got += rx.reap(&mut out[..want], 1, None).unwrap();
            }
            let t = Instant::now();
            let mut got = 0;
            while got < k as usize {
                let want = (k as usize - got).min(32);
                got += rx.reap(&mut out[..want], want, None).unwrap();
            }
            reap += t.elapsed();
            // The area stays active until a consumer finds it drained (O6): one more look.
            assert!(rx.pop().is_err());
            assert!(
                !self.spill.counters().overflow_active,
                "overflow area still active"
            );
        }
        tx.release(); // the next call claims the side again: keep the stream open
        (push, reap)
    }

    /// As [`Self::spill`] on the plain ring: `n` pushes with room, reaped in batches of 32.
    pub fn plain(&self, n: u64) -> (Duration, Duration) {
        let mut tx = self.plain.producer().unwrap();
        let mut rx = self.plain.consumer().unwrap();
        let mut out = [Item::default(); 32];
        let (mut push, mut reap) = (Duration::ZERO, Duration::ZERO);
        let mut left = n;
        while left > 0 {
            let k = left.min(u64::from(OVERFLOW_N));
            left -= k;
            let t = Instant::now();
            for i in 0..k {
                tx.push(item(i)).expect("ring has room");
            }
            push += t.elapsed();
            let t = Instant::now();
            let mut got = 0;
            while got < k as usize {
                let want = (k as usize - got).min(32);
                got += rx.reap(&mut out[..want], want, None).unwrap();
            }
            reap += t.elapsed();
        }
        (push, reap)
    }
}

/// The overflow path against the plain ring path, per entry (nanoseconds).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct OverflowCosts {
    /// `push` into a full ring that spills into the overflow area.
    pub spill_push: f64,
    /// `reap` (batches of 32) of the spilled entries from the overflow area.
    pub overflow_reap: f64,
    /// `push` into a ring with room.
    pub ring_push: f64,
    /// `reap` (batches of 32) from the ring.
    pub ring_reap: f64,
}

/// Medians over `rounds` rounds of [`OVERFLOW_N`] entries.
pub fn overflow_costs(rounds: usize) -> OverflowCosts {
    let o = Overflow::new();
    let per = |d: Duration| d.as_nanos() as f64 / f64::from(OVERFLOW_N);
    let (mut sp, mut sr, mut rp, mut rr) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let (p, r) = o.spill(u64::from(OVERFLOW_N));
        sp.push(per(p));
        sr.push(per(r));
        let (p, r) = o.plain(u64::from(OVERFLOW_N));
        rp.push(per(p));
        rr.push(per(r));
    }
    OverflowCosts {
        spill_push: median(&sp),
        overflow_reap: median(&sr),
        ring_push: median(&rp),
        ring_reap: median(&rr),
    }
}

/// A ring (capacity 4096, with the wait block, as a reaping consumer's would be) for timing
/// `reap` calls.
pub struct Reaper {
    ring: Ring<Item>,
}

impl Default for Reaper {
    fn default() -> Self {
        Self::new()
    }
}

impl Reaper {
    /// Creates the ring.
    pub fn new() -> Self {
        Reaper {
            ring: Ring::create_heap(Config::new(4096)).expect("ring"),
        }
    }

    /// Total time of `calls` calls of `reap(out[..batch], batch, timeout)`, each with `batch`
    /// entries ready (pushed with `push_all` before the call, outside the timed region; TSC
    /// time stamps around each call).
    pub fn time(&self, batch: usize, calls: u64, timeout: Option<Duration>) -> Duration {
        let mut tx = self.ring.producer().unwrap();
        let mut rx = self.ring.consumer().unwrap();
        let src: Vec<Item> = (0..batch as u64).map(item).collect();
        let mut out = vec![Item::default(); batch];
        let mut ticks = 0u64;
        for _ in 0..calls {
            tx.push_all(&src).unwrap();
            let t0 = clock::ticks();
            let n = rx.reap(&mut out, batch, timeout).unwrap();
            ticks += clock::ticks().wrapping_sub(t0);
            debug_assert_eq!(n, batch);
        }
        std::hint::black_box(&out);
        clock::ticks_to_duration(ticks)
    }
}

/// Nanoseconds per `reap` call of `batch` entries: median over `rounds` blocks of `calls`.
pub fn reap_cost(batch: usize, calls: u64, rounds: usize, timeout: Option<Duration>) -> f64 {
    let r = Reaper::new();
    let v: Vec<f64> = (0..rounds)
        .map(|_| r.time(batch, calls, timeout).as_nanos() as f64 / calls as f64)
        .collect();
    median(&v)
}

/// Total time for one thread to post `batches` batches of `batch` completions to a ring of ours
/// (`push_all`) and reap them (`reap`): the counterpart of [`uring_nop_time`].
pub fn ours_post_reap_time(batch: usize, batches: u64) -> Duration {
    let ring = Ring::<Item>::create_heap(Config::new(4096)).expect("ring");
    let mut tx = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();
    let src: Vec<Item> = (0..batch as u64).map(item).collect();
    let mut out = vec![Item::default(); batch];
    let t = Instant::now();
    for _ in 0..batches {
        tx.push_all(&src).unwrap();
        let n = rx.reap(&mut out, batch, None).unwrap();
        debug_assert_eq!(n, batch);
    }
    let d = t.elapsed();
    std::hint::black_box(&out);
    d
}

/// Whether io_uring can be used here (`io_uring_setup` may be refused in sandboxes); the error
/// text when not.
pub fn uring_available() -> Result<(), String> {
    io_uring::IoUring::new(8)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Total time of io_uring's own completion path for `batches` batches: `batch` NOPs submitted,
/// `submit_and_wait` for all of them, the completions reaped from the CQ ring. `Err` with the
/// reason when io_uring is unavailable.
pub fn uring_nop_time(batch: usize, batches: u64) -> Result<Duration, String> {
    use io_uring::{opcode, IoUring};
    let mut ring =
        IoUring::new((batch as u32).next_power_of_two().max(8)).map_err(|e| e.to_string())?;
    let mut sum = 0u64;
    let t = Instant::now();
    for _ in 0..batches {
        {
            let mut sq = ring.submission();
            for i in 0..batch as u64 {
                let e = opcode::Nop::new().build().user_data(i);
                // SAFETY: a NOP references no buffers; the queue has room for `batch` entries.
                unsafe { sq.push(&e) }.map_err(|e| e.to_string())?;
            }
        }
        ring.submit_and_wait(batch).map_err(|e| e.to_string())?;
        let mut got = 0;
        for cqe in ring.completion() {
            sum = sum.wrapping_add(cqe.user_data());
            got += 1;
        }
        if got != batch {
            return Err(format!("io_uring returned {got} of {batch} completions"));
        }
    }
    let d = t.elapsed();
    std::hint::black_box(sum);
    Ok(d)
}

/// Nanoseconds per completion, median over `rounds` blocks of `batches` batches of 32:
/// ours ([`ours_post_reap_time`]) and io_uring's ([`uring_nop_time`], `Err` if unavailable).
pub fn completion_costs(batches: u64, rounds: usize) -> (f64, Result<f64, String>) {
    let per = |d: Duration| d.as_nanos() as f64 / (32 * batches) as f64;
    let ours: Vec<f64> = (0..rounds)
        .map(|_| per(ours_post_reap_time(32, batches)))
        .collect();
    let uring: Result<Vec<f64>, String> = (0..rounds)
        .map(|_| uring_nop_time(32, batches).map(per))
        .collect();
    (median(&ours), uring.map(|v| median(&v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_thread_paths_run() {
        let o = Overflow::new();
        let (p, r) = o.spill(100);
        assert!(p > Duration::ZERO && r > Duration::ZERO);
        o.spill(u64::from(OVERFLOW_N) + 10);
        o.plain(u64::from(OVERFLOW_N) + 10);
        let r = Reaper::new();
        r.time(32, 10, None);
        r.time(1, 10, Some(Duration::ZERO));
        assert!(ours_post_reap_time(32, 10) > Duration::ZERO);
        // io_uring may be refused in sandboxes: either it works or it says why.
        match uring_nop_time(32, 10) {
            Ok(d) => assert!(d > Duration::ZERO),
            Err(e) => assert!(!e.is_empty()),
        }
    }
}
