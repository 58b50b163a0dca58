//! Time stamps for latency samples.
//!
//! Within a process, round trips are timed with the CPU's time-stamp counter on x86-64 (a few
//! nanoseconds to read, against ~20 ns for `clock_gettime` under a hypervisor), calibrated once
//! against the monotonic clock. Across processes (wake-up latency) both sides read
//! `CLOCK_MONOTONIC`, which is the same clock in every process.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A raw time stamp: TSC ticks on x86-64, monotonic nanoseconds elsewhere.
#[inline(always)]
pub fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` reads a counter; it has no memory effects and exists on every x86-64.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        mono_ns()
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: comparable between processes on one machine.
#[inline]
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

static TICKS_PER_NS: OnceLock<f64> = OnceLock::new();

/// Ticks per nanosecond (calibrated on first use over about 20 ms).
pub fn ticks_per_ns() -> f64 {
    *TICKS_PER_NS.get_or_init(|| {
        if cfg!(not(target_arch = "x86_64")) {
            return 1.0;
        }
        let (i0, t0) = (Instant::now(), ticks());
        while i0.elapsed() < Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        let (t1, el) = (ticks(), i0.elapsed());
        (t1.wrapping_sub(t0)) as f64 / el.as_nanos() as f64
    })
}

/// Converts a tick count to nanoseconds.
#[inline]
pub fn ticks_to_ns(t: u64) -> f64 {
    t as f64 / ticks_per_ns()
}

/// Converts a tick count to a [`Duration`].
pub fn ticks_to_duration(t: u64) -> Duration {
    Duration::from_nanos(ticks_to_ns(t).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibrated_ticks_track_the_monotonic_clock() {
        let tpn = ticks_per_ns();
        assert!(tpn > 0.01 && tpn < 100.0, "{tpn} ticks/ns");
        let (a, m) = (ticks(), mono_ns());
        std::thread::sleep(Duration::from_millis(5));
        let (b, n) = (ticks(), mono_ns());
        let by_ticks = ticks_to_ns(b - a);
        let by_mono = (n - m) as f64;
        assert!(
            (by_ticks / by_mono - 1.0).abs() < 0.25,
            "{by_ticks} vs {by_mono}"
        );
    }
}
