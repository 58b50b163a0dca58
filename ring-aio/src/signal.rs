//! The interrupt signal: a handler that does nothing, installed without `SA_RESTART`, so a
//! worker's blocking system call returns `EINTR` when the signal is sent to it.

use std::ffi::c_int;
use std::io;
use std::sync::Mutex;

/// Signals this process installed the handler for (the installation is process-wide).
static INSTALLED: Mutex<Vec<c_int>> = Mutex::new(Vec::new());

extern "C" fn interrupt_handler(_sig: c_int) {}

/// The default interrupt signal: `SIGRTMIN() + 6` (C libraries reserve the first few
/// real-time signals for themselves and report the rest from `SIGRTMIN()`).
pub fn default_signal() -> c_int {
    libc::SIGRTMIN() + 6
}

/// Installs the do-nothing handler for `sig` (once per process), refusing a signal that
/// already has another handler.
pub(crate) fn install(sig: c_int) -> io::Result<()> {
    let mut done = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if done.contains(&sig) {
        return Ok(());
    }
    if sig <= 0 || sig > libc::SIGRTMAX() || sig == libc::SIGKILL || sig == libc::SIGSTOP {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {sig} cannot carry worker interrupts"),
        ));
    }
    // SAFETY: sigaction is plain data; zero is a valid value.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: querying the current action only writes `old`.
    if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let handler = interrupt_handler as extern "C" fn(c_int) as libc::sighandler_t;
    if old.sa_sigaction != libc::SIG_DFL
        && old.sa_sigaction != libc::SIG_IGN
        && old.sa_sigaction != handler
    {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "signal {sig} already has a handler; pick another interrupt signal \
                 (PoolConfig::interrupt_signal)"
            ),
        ));
    }
    // SAFETY: as above.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler;
    // No SA_RESTART: the interrupted call must return EINTR instead of being restarted.
    act.sa_flags = 0;
    // SAFETY: `act.sa_mask` is a valid sigset to initialize.
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    // SAFETY: `act` is fully initialized and its handler is async-signal-safe (it does
    // nothing).
    if unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    done.push(sig);
    Ok(())
}

/// Unblocks `sig` in the calling thread (workers inherit the submitting thread's mask).
pub(crate) fn unblock(sig: c_int) {
    // SAFETY: sigset_t is plain data and is initialized by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}
