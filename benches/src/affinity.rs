//! Pinning threads to cores (`sched_setaffinity`), so that each side of a benchmark runs on a
//! core of its own and the numbers do not depend on where the scheduler happened to put it.
//!
//! Set `BENCH_PIN=0` to leave placement to the scheduler.

use std::sync::OnceLock;

/// The cores this process may run on, in order: the calling thread's `sched_getaffinity` mask
/// at first use, so call it once before pinning anything ([`crate::child::run_child_if_requested`]
/// does).
pub fn allowed_cores() -> &'static [usize] {
    static CORES: OnceLock<Vec<usize>> = OnceLock::new();
    CORES.get_or_init(|| {
        // SAFETY: a zeroed cpu_set_t is a valid empty set; the call writes at most its size.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: pid 0 is this thread; `set` is valid for writes of `size_of::<cpu_set_t>()`.
        let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
        let mut v = Vec::new();
        if r == 0 {
            for c in 0..libc::CPU_SETSIZE as usize {
                // SAFETY: `c` is below CPU_SETSIZE.
                if unsafe { libc::CPU_ISSET(c, &set) } {
                    v.push(c);
                }
            }
        }
        if v.is_empty() {
            v.push(0);
        }
        v
    })
}

/// Whether pinning is enabled (`BENCH_PIN` is not `0`).
pub fn enabled() -> bool {
    std::env::var("BENCH_PIN").map_or(true, |v| v != "0")
}

/// The `i`-th allowed core (wrapping when there are fewer cores than roles).
pub fn core(i: usize) -> usize {
    let cores = allowed_cores();
    cores[i % cores.len()]
}

/// Pins the calling thread to `core`. Returns whether it is pinned (false when disabled or
/// refused).
pub fn pin(core: usize) -> bool {
    if !enabled() {
        return false;
    }
    // SAFETY: a zeroed cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit inside `set`; `core` comes from the allowed set (< CPU_SETSIZE).
    unsafe { libc::CPU_SET(core % libc::CPU_SETSIZE as usize, &mut set) };
    // SAFETY: pid 0 is this thread; `set` is a valid cpu_set_t of the size passed.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) == 0 }
}

/// Lets the calling thread run on every allowed core again.
pub fn unpin() {
    // SAFETY: a zeroed cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in allowed_cores() {
        // SAFETY: `c` is below CPU_SETSIZE (it came from CPU_ISSET over that range).
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: as in `pin`.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
}
