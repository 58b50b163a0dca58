//! The operating-system side of waiting: futex and eventfd calls (Linux), with stand-ins for
//! builds without `std` (no system calls: sleeping is not available, waking only advances the
//! futex word) and for the loom model (a yield).

use crate::sync::AtomicU32;
use core::time::Duration;

/// How a futex wait ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(ring_core_loom, allow(dead_code))] // the model futex only wakes
pub enum FutexWait {
    /// Woken, or the word no longer held the expected value (`EAGAIN`), or a spurious return.
    Woken,
    /// The timeout expired.
    TimedOut,
    /// A signal handler ran (`EINTR`).
    Interrupted,
    /// The call failed otherwise (for example `ENOSYS`): sleeping is not possible.
    Failed(i32),
}

/// Sleeps while `word == expected`, at most `timeout` (none: no limit). Shared (not
/// process-private) futex, so wakers in other processes reach it.
#[cfg(all(feature = "std", not(ring_core_loom)))]
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> FutexWait {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, aligned u32 in memory mapped for the duration of the call; the
    // timespec pointer is null or points to a local that outlives the call. FUTEX_WAIT without
    // FUTEX_PRIVATE_FLAG keys the wait on the physical page, as sharing across processes needs.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            tsp,
            0usize,
            0u32,
        )
    };
    if r == 0 {
        return FutexWait::Woken;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ETIMEDOUT) => FutexWait::TimedOut,
        Some(libc::EINTR) => FutexWait::Interrupted,
        Some(libc::EAGAIN) => FutexWait::Woken,
        Some(e) => FutexWait::Failed(e),
        None => FutexWait::Failed(0),
    }
}

/// Wakes every sleeper on `word`.
#[cfg(all(feature = "std", not(ring_core_loom)))]
pub fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE only reads the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            0usize,
            0usize,
            0u32,
        );
    }
}

/// Adds 1 to an eventfd's counter (errors, such as a closed descriptor, are ignored: the futex
/// wake-up has already been issued).
#[cfg(all(feature = "std", not(ring_core_loom)))]
pub fn eventfd_signal(fd: i32) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a local to a descriptor; a bad descriptor yields EBADF.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

#[cfg(ring_core_loom)]
loom::lazy_static! {
    /// Model futex: one mutex and condition variable for every futex word.
    static ref MODEL_FUTEX: (loom::sync::Mutex<()>, loom::sync::Condvar) =
        (loom::sync::Mutex::new(()), loom::sync::Condvar::new());
}

/// Model build: a futex made of a loom mutex and condition variable. The value check happens
/// under the mutex, and [`futex_wake`] notifies under it, so the model futex itself loses no
/// wake-up; the timeout is ignored, so a wait that nobody wakes is a deadlock that loom
/// reports — which is how the models detect a lost wake-up in the protocol.
#[cfg(ring_core_loom)]
pub fn futex_wait(word: &AtomicU32, expected: u32, _timeout: Option<Duration>) -> FutexWait {
    let (lock, cv) = &*MODEL_FUTEX;
    let guard = lock.lock().unwrap();
    if word.load(crate::sync::Ordering::SeqCst) != expected {
        return FutexWait::Woken;
    }
    drop(cv.wait(guard).unwrap());
    FutexWait::Woken
}

/// Model build: wake every model-futex sleeper.
#[cfg(ring_core_loom)]
pub fn futex_wake(_word: &AtomicU32) {
    let (lock, cv) = &*MODEL_FUTEX;
    let _guard = lock.lock().unwrap();
    cv.notify_all();
}

/// No `std`: there is no system call to sleep with; report a timeout so callers return.
#[cfg(all(not(feature = "std"), not(ring_core_loom)))]
pub fn futex_wait(_word: &AtomicU32, _expected: u32, _timeout: Option<Duration>) -> FutexWait {
    FutexWait::TimedOut
}

/// Without a kernel futex the word's advance is the whole wake-up.
#[cfg(all(not(feature = "std"), not(ring_core_loom)))]
pub fn futex_wake(_word: &AtomicU32) {}

/// Without `std` there is no eventfd.
#[cfg(not(all(feature = "std", not(ring_core_loom))))]
pub fn eventfd_signal(_fd: i32) {}
