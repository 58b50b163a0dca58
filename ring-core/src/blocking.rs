//! Waiting and waking (requires `std`): io_getevents-style [`Consumer::reap`],
//! acall-style [`Consumer::wait_beyond`], a blocking push, the wake-up controls and the eventfd.
//!
//! Sleeping uses a futex on the wait block's `futex` word (shared, so producers in other
//! processes wake it) and follows the handshake of spec/PROTOCOL.md, "Waiting": announce, re-check,
//! sleep. Nothing on the wait path allocates or takes a lock; before sleeping a consumer polls
//! [`Consumer::set_spin`] times.

use crate::consumer::Consumer;
use crate::entry::Entry;
use crate::error::{Corruption, PopError, PushError};
use crate::layout::wait_flags;
use crate::producer::Producer;
use crate::protocol::wait;
use crate::protocol::wait::waiters::{EVENTFD, FUTEX};
use crate::ring::{Memory, Ring};
use crate::sync::Ordering::{Relaxed, SeqCst};
use crate::sys::{futex_wait, FutexWait};
use std::fmt;
use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How a wait ended without error.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The condition holds; the count seen.
    Ready(u32),
    /// The timeout expired first; the count seen last.
    TimedOut(u32),
    /// The producers closed the stream (layout 1.3) before the count reached `min`: no more
    /// will come. The count seen last (those entries can still be taken).
    Closed(u32),
}

/// Why a wait (or a reap that had nothing to return) failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitError {
    /// A signal interrupted the sleep (`EINTR`).
    Interrupted,
    /// Wake-ups are suppressed ([`Ring::set_wakeups_suppressed`]): sleeping could last for ever.
    WakeupsSuppressed,
    /// The ring was created without the wait block ([`crate::Config::wait`]).
    NoWaitBlock,
    /// The shared state is corrupt.
    Corrupt(Corruption),
    /// The futex system call failed (the errno): sleeping is not possible here.
    Futex(i32),
    /// No eventfd is attached to this process's view of the ring.
    NoEventfd,
    /// The stream is closed and drained (layout 1.3): nothing was taken and nothing will come.
    Closed,
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Interrupted => {
                f.write_str("consumer: the wait was interrupted by a signal (EINTR)")
            }
            WaitError::WakeupsSuppressed => f.write_str(
                "consumer: wake-ups are suppressed on this ring (Ring::set_wakeups_suppressed), \
                 so a sleep could last for ever: poll instead",
            ),
            WaitError::NoWaitBlock => f.write_str(
                "consumer: the ring has no wait block (created with Config::wait(false)), so \
                 consumers cannot sleep on it: poll instead",
            ),
            WaitError::Corrupt(c) => write!(f, "consumer: wait refused: {c}"),
            WaitError::Futex(e) => write!(
                f,
                "consumer: the futex wait failed: {} (errno {e})",
                io::Error::from_raw_os_error(*e)
            ),
            WaitError::NoEventfd => f.write_str(
                "consumer: no eventfd is attached to this process's view of the ring \
                 (Ring::create_eventfd or Ring::set_eventfd first)",
            ),
            WaitError::Closed => f.write_str(
                "consumer: end of stream: the producers closed the ring and every entry was taken",
            ),
        }
    }
}

impl std::error::Error for WaitError {}

/// The deadline `timeout` from now; `None` (no deadline) for no timeout, and for a timeout so
/// large that the deadline cannot be represented (`Duration::MAX` and the like): such a wait is
/// unbounded in practice anyway.
pub(crate) fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// A wait's `min` as the ring counts entries, lowered to `most` (the most that can be ready).
fn clamp_min(min: usize, most: u32) -> u32 {
    u32::try_from(min).unwrap_or(u32::MAX).min(most)
}

/// The time left before `deadline`: `Some(None)` without a deadline, `Some(Some(left))` with
/// time left, `None` once it has passed.
pub(crate) fn remaining(deadline: Option<Instant>) -> Option<Option<Duration>> {
    match deadline {
        None => Some(None),
        Some(d) => d
            .checked_duration_since(Instant::now())
            .filter(|r| !r.is_zero())
            .map(Some),
    }
}

impl<T: Entry> Consumer<T> {
    /// Sets how many times a wait polls before it sleeps (default
    /// [`crate::consumer::DEFAULT_SPIN`]; 0 sleeps at once).
    pub fn set_spin(&mut self, polls: u32) {
        self.spin = polls;
    }

    /// Sets how long a wait sleeps, while held up by a reserved position that is not
    /// published, before it runs [`Consumer::recover`] (multi-producer rings with producer
    /// records; default [`crate::consumer::DEFAULT_RECOVERY_AFTER`]); `None` never recovers on
    /// its own. A live producer normally publishes within microseconds, so this only matters
    /// when one died.
    pub fn set_recovery_after(&mut self, after: Option<Duration>) {
        self.recovery_after = after;
    }

    /// The consumer's position: its ring head (the next position it will consume). Pass it to
    /// [`Self::wait_beyond`].
    pub fn position(&self) -> u32 {
        if self.raw.mode().multi_consumer() {
            self.raw
                .consumer_line()
                .head
                .load(crate::sync::Ordering::Acquire)
        } else {
            self.cursor().head
        }
    }

    /// The most entries that can be ready at once: the ring's capacity plus the overflow
    /// area's.
    fn most_ready(&self) -> u32 {
        self.raw
            .capacity()
            .saturating_add(self.raw.overflow_capacity())
    }

    /// Waits until `count()` reaches `min`, spinning, then sleeping on the futex (W2) with the
    /// wake-up target `target()` (the ring position whose publication completes the wait), and
    /// ending early when the stream is closed (E4).
    fn wait_for(
        &mut self,
        min: u32,
        timeout: Option<Duration>,
        target: impl Fn(&Self) -> u32,
        count: impl Fn(&Self) -> (u32, bool),
    ) -> Result<WaitOutcome, WaitError> {
        // `count` returns the count and whether the wait may end below `min` (saturation).
        let done = |(n, enough): (u32, bool)| n >= min || enough;
        // E4: closed, then count again (the Acquire load of the closed word made every
        // publication before the close visible).
        let closed = |s: &Self| -> Option<WaitOutcome> {
            if !s.stream_closed_now() {
                return None;
            }
            let c = count(s);
            Some(if done(c) {
                WaitOutcome::Ready(c.0)
            } else {
                WaitOutcome::Closed(c.0)
            })
        };
        let deadline = deadline_after(timeout);
        loop {
            let mut c = count(self);
            for _ in 0..self.spin {
                if done(c) {
                    break;
                }
                crate::sync::spin_hint();
                c = count(self);
            }
            let n = c.0;
            if done(c) {
                return Ok(WaitOutcome::Ready(n));
            }
            if let Some(end) = closed(self) {
                return Ok(end);
            }
            let Some(left) = remaining(deadline) else {
                return Ok(WaitOutcome::TimedOut(n));
            };
            let Some(w) = self.raw.wait_line() else {
                return Err(WaitError::NoWaitBlock);
            };
            if w.flags.load(Relaxed) & wait_flags::NO_WAKE != 0 {
                return Err(WaitError::WakeupsSuppressed);
            }
            // W2: announce (and publish the target), fence, snapshot the futex word, re-check
            // (the condition, the end of the stream, and that wake-ups were not suppressed
            // meanwhile: a producer that saw NO_WAKE skips us).
            let goal = self
                .raw
                .wait_target
                .then(|| (target(self), self.position(), self.raw.capacity()));
            let seen = wait::announce_target(w, FUTEX, goal);
            if w.flags.load(Relaxed) & wait_flags::NO_WAKE != 0 {
                wait::retire(w, FUTEX);
                return Err(WaitError::WakeupsSuppressed);
            }
            let c = count(self);
            if done(c) {
                wait::retire(w, FUTEX);
                return Ok(WaitOutcome::Ready(c.0));
            }
            if let Some(end) = closed(self) {
                wait::retire(w, FUTEX);
                return Ok(end);
            }
            // W2T with an overflow area: overflow entries count towards the wait, and the target
            // (computed before the fence) may have missed some published before it. Seen now,
            // after the fence, they lower the target: re-arm, fence again and re-check, so that
            // the ring publication that completes the wait reaches the armed target (spin
            // configuration `target-mpsc-ovf-min2`). Later overflow publications wake anyway.
            if let (Some((armed, _, _)), true) = (goal, self.raw.ovf.is_some()) {
                let now = target(self);
                if (now.wrapping_sub(armed) as i32) < 0 {
                    wait::rearm(w, now, self.position(), self.raw.capacity());
                    let c = count(self);
                    if done(c) {
                        wait::retire(w, FUTEX);
                        return Ok(WaitOutcome::Ready(c.0));
                    }
                    if let Some(end) = closed(self) {
                        wait::retire(w, FUTEX);
                        return Ok(end);
                    }
                }
            }
            // Held up by a reserved position that is not published (the ring has producer
            // records): sleep at most `recovery_after`, then run recovery, in case its
            // producer died (a dead producer never wakes anyone).
            let held_up = match (self.raw.registry.is_some(), self.recovery_after) {
                (true, Some(after)) if self.raw.beyond(self.position()) > c.0 => Some(after),
                _ => None,
            };
            let sleep = match (held_up, left) {
                (Some(after), Some(left)) => Some(after.min(left)),
                (Some(after), None) => Some(after),
                (None, left) => left,
            };
            w.sleeps.fetch_add(1, Relaxed);
            let r = futex_wait(&w.futex, seen, sleep);
            wait::retire(w, FUTEX);
            match r {
                FutexWait::Woken => {}
                FutexWait::Interrupted => return Err(WaitError::Interrupted),
                FutexWait::Failed(e) => return Err(WaitError::Futex(e)),
                FutexWait::TimedOut if held_up.is_some() && remaining(deadline).is_some() => {
                    // Recovery by another process in progress is as good as our own.
                    let _ = self.recover();
                }
                FutexWait::TimedOut => {
                    let c = count(self);
                    if done(c) {
                        return Ok(WaitOutcome::Ready(c.0));
                    }
                    return Ok(closed(self).unwrap_or(WaitOutcome::TimedOut(c.0)));
                }
            }
        }
    }

    /// Waits until at least `min` entries can be taken by this consumer (from the ring or the
    /// overflow area), or `timeout` passes (`None`: no limit), or the space producers can use
    /// is full (then fewer than `min` entries are ready, but no more can arrive until some are
    /// taken: the wait returns `Ready` rather than outlast producers that are being refused).
    /// `min = 0` returns at once; a `min` above the ring's capacity plus the overflow area's is
    /// lowered to that sum.
    ///
    /// # Errors
    ///
    /// [`WaitError::Interrupted`] if a signal interrupts the sleep; [`WaitError::NoWaitBlock`]
    /// or [`WaitError::WakeupsSuppressed`] if it would have to sleep but cannot;
    /// [`WaitError::Futex`] if the futex call fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring, WaitOutcome};
    /// use std::time::Duration;
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(8)).unwrap();
    /// let mut rx = ring.consumer().unwrap();
    /// let r = rx.wait(1, Some(Duration::from_millis(10))).unwrap();
    /// assert_eq!(r, WaitOutcome::TimedOut(0));
    /// ring.producer().unwrap().push(5).unwrap();
    /// assert_eq!(rx.wait(1, None).unwrap(), WaitOutcome::Ready(1));
    /// ```
    pub fn wait(
        &mut self,
        min: usize,
        timeout: Option<Duration>,
    ) -> Result<WaitOutcome, WaitError> {
        let min = clamp_min(min, self.most_ready());
        let cap = self.raw.capacity();
        // The ring position that completes the wait: `min` ahead of the head, less what the
        // overflow area holds (those count too), at least one and at most a lap ahead.
        let target = move |c: &Self| {
            let ahead = min.saturating_sub(c.raw.overflow_pending()).clamp(1, cap);
            c.position().wrapping_add(ahead)
        };
        self.wait_for(min, timeout, target, |c| {
            let n = c.raw.ready(&c.cursor(), min.max(1));
            // Nothing more can arrive until this consumer takes some: stop waiting for more.
            (n, n > 0 && c.raw.saturated(&c.cursor()))
        })
    }

    /// Waits until at least `min` entries exist beyond `position` (a consumer index, for
    /// example from [`Self::position`]), counting reserved ring positions and the overflow
    /// area's pending entries: the semantics of acall's `acall_ring_pwait`.
    ///
    /// # Errors
    ///
    /// As for [`Self::wait`].
    pub fn wait_beyond(
        &mut self,
        position: u32,
        min: usize,
        timeout: Option<Duration>,
    ) -> Result<WaitOutcome, WaitError> {
        let min = clamp_min(min, self.most_ready());
        let cap = self.raw.capacity();
        let target = move |c: &Self| {
            let ahead = min.saturating_sub(c.raw.overflow_pending()).clamp(1, cap);
            position.wrapping_add(ahead)
        };
        self.wait_for(min, timeout, target, |c| (c.raw.beyond(position), false))
    }

    /// Fills `out` with up to `out.len()` entries, from the ring and then from the overflow
    /// area, waiting up to `timeout` (`None`: no limit) until at least `min` were taken. Returns
    /// how many were taken: `min` or more, or fewer if the timeout expired (like
    /// `io_getevents`). `min = 0` never blocks.
    ///
    /// # Errors
    ///
    /// Only when nothing was taken: [`WaitError::Closed`] (the end of the stream: the
    /// producers closed it and nothing is left), [`WaitError::Interrupted`] (a signal),
    /// [`WaitError::Corrupt`],
    /// [`WaitError::NoWaitBlock`] / [`WaitError::WakeupsSuppressed`] (it would have to sleep),
    /// [`WaitError::Futex`]. Entries already taken are always returned, never dropped; an error
    /// met after some were taken ends the call early with them (the next call reports it).
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    /// use std::time::Duration;
    ///
    /// let ring = Ring::<u64>::create_heap(Config::new(4).overflow(16)).unwrap();
    /// let mut tx = ring.producer().unwrap();
    /// for i in 0..10 {
    ///     tx.push(i).unwrap(); // 4 in the ring, 6 spill into the overflow area
    /// }
    /// let mut rx = ring.consumer().unwrap();
    /// let mut out = [0u64; 16];
    /// let n = rx.reap(&mut out, 10, Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(&out[..n], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    /// ```
    pub fn reap(
        &mut self,
        out: &mut [T],
        min: usize,
        timeout: Option<Duration>,
    ) -> Result<usize, WaitError> {
        let min = min.min(out.len());
        let deadline = deadline_after(timeout);
        let mut n = 0;
        loop {
            match self.pop_into(&mut out[n..]) {
                Ok(k) => n += k,
                Err(PopError::Closed) if n == 0 => return Err(WaitError::Closed),
                Err(PopError::Corrupt(c)) if n == 0 => return Err(WaitError::Corrupt(c)),
                Err(_) => return Ok(n),
            }
            if n >= min || n == out.len() {
                return Ok(n);
            }
            let left = match remaining(deadline) {
                Some(left) => left,
                None => return Ok(n),
            };
            match self.wait(min - n, left) {
                Ok(WaitOutcome::Ready(_)) => {}
                Ok(WaitOutcome::TimedOut(_)) | Ok(WaitOutcome::Closed(_)) => {
                    match self.pop_into(&mut out[n..]) {
                        Ok(k) => n += k,
                        Err(PopError::Closed) if n == 0 => return Err(WaitError::Closed),
                        Err(_) => {}
                    }
                    return Ok(n);
                }
                Err(_) if n > 0 => return Ok(n),
                Err(e) => return Err(e),
            }
        }
    }

    /// Prepares to wait on the ring's eventfd (for example in `epoll`): announces this consumer
    /// as a sleeper, so producers signal the eventfd, and re-checks. Returns `true` if entries
    /// are already available (then do not wait; call [`Self::eventfd_finish`]).
    ///
    /// # Errors
    ///
    /// [`WaitError::NoWaitBlock`] without the wait block, [`WaitError::NoEventfd`] without an
    /// eventfd in this process, [`WaitError::WakeupsSuppressed`] while wake-ups are suppressed
    /// (nobody would signal the eventfd); the announcement is withdrawn in each case.
    pub fn eventfd_prepare(&mut self) -> Result<bool, WaitError> {
        let w = self.raw.wait_line().ok_or(WaitError::NoWaitBlock)?;
        if self.eventfd.load(Relaxed) < 0 {
            return Err(WaitError::NoEventfd);
        }
        let goal = self.raw.wait_target.then(|| {
            let head = self.position();
            (head.wrapping_add(1), head, self.raw.capacity())
        });
        wait::announce_target(w, EVENTFD, goal);
        if w.flags.load(Relaxed) & wait_flags::NO_WAKE != 0 {
            wait::retire(w, EVENTFD);
            return Err(WaitError::WakeupsSuppressed);
        }
        if self.eventfd_armed {
            // Already announced by an earlier prepare: keep one announcement.
            wait::retire(w, EVENTFD);
        }
        self.eventfd_armed = true;
        w.sleeps.fetch_add(1, Relaxed);
        Ok(self.raw.ready(&self.cursor(), 1) > 0 || self.stream_closed_now())
    }

    /// Ends an eventfd wait begun with [`Self::eventfd_prepare`]: withdraws the announcement
    /// (only if a prepare succeeded and was not finished yet) and drains the eventfd's counter
    /// (non-blocking).
    pub fn eventfd_finish(&mut self) {
        if let (Some(w), true) = (self.raw.wait_line(), self.eventfd_armed) {
            wait::retire(w, EVENTFD);
        }
        self.eventfd_armed = false;
        let fd = self.eventfd.load(Relaxed);
        if fd >= 0 {
            let mut buf = 0u64;
            // SAFETY: reads 8 bytes into a local from a descriptor this ring owns (non-blocking).
            unsafe { libc::read(fd, (&mut buf as *mut u64).cast(), 8) };
        }
    }
}

impl<T: Entry> Producer<T> {
    /// Pushes one entry, waiting up to `timeout` (`None`: no limit) while the ring (and the
    /// overflow area, if any) is full. The wait polls with a growing pause (spin, yield, then
    /// sleeps of 50 µs doubling up to 1.6 ms), so a consumer pays nothing to wake it.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] when the timeout expires, [`PushError::Corrupt`]; both hand the
    /// entry back.
    pub fn push_wait(&mut self, value: T, timeout: Option<Duration>) -> Result<(), PushError<T>> {
        let deadline = deadline_after(timeout);
        let mut value = value;
        let mut round = 0u32;
        loop {
            match self.push(value) {
                Ok(()) => return Ok(()),
                Err(PushError::Full(v)) => value = v,
                Err(e) => return Err(e),
            }
            if remaining(deadline).is_none() {
                return Err(PushError::Full(value));
            }
            round = round.saturating_add(1);
            if round < 64 {
                core::hint::spin_loop();
            } else if round < 128 {
                std::thread::yield_now();
            } else {
                let pause = Duration::from_micros(50u64 << (round - 128).min(5));
                let pause = match remaining(deadline) {
                    Some(Some(left)) => pause.min(left),
                    _ => pause,
                };
                std::thread::sleep(pause);
            }
        }
    }
}

impl<T: Entry, M: Memory> Ring<T, M> {
    /// Wakes every sleeping consumer (and signals the eventfd), whether or not there are
    /// entries: a forced wake-up. A woken wait re-checks its condition and sleeps again if it
    /// still does not hold; to make waiters return, give them a timeout or an entry.
    pub fn wake_all(&self) {
        if let Some(w) = self.raw().wait_line() {
            wait::wake(w, self.eventfd_slot(), u32::MAX);
        }
    }

    /// Suppresses wake-ups (`true`) for rings whose consumers only poll, or re-enables them.
    /// While suppressed, producers still make the W1 check but never wake anyone, and a
    /// consumer's wait returns [`WaitError::WakeupsSuppressed`] instead of sleeping.
    pub fn set_wakeups_suppressed(&self, suppressed: bool) -> Result<(), WaitError> {
        let w = self.raw().wait_line().ok_or(WaitError::NoWaitBlock)?;
        if suppressed {
            w.flags.fetch_or(wait_flags::NO_WAKE, SeqCst);
        } else {
            w.flags.fetch_and(!wait_flags::NO_WAKE, SeqCst);
        }
        Ok(())
    }

    /// Creates an eventfd for the ring (close-on-exec, non-blocking), attaches it in this
    /// process and marks the ring as having one: from now on every producer that holds it
    /// signals it whenever it wakes sleepers. Producers in other processes must be given the
    /// descriptor (inherit it, or send it over a Unix socket with `SCM_RIGHTS`) and call
    /// [`Ring::set_eventfd`] with it.
    pub fn create_eventfd(&self) -> io::Result<BorrowedFd<'_>> {
        // SAFETY: plain eventfd creation; the result is checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        self.set_eventfd(unsafe { OwnedFd::from_raw_fd(fd) })?;
        Ok(self.eventfd().expect("just set"))
    }

    /// Attaches an eventfd (created by [`Ring::create_eventfd`] in this or another process) to
    /// this process's view of the ring; the ring owns it from now on and closes it on drop.
    /// Only one eventfd can be attached per `Ring` value: replacing it while producers may be
    /// writing to it would race with the close.
    ///
    /// # Errors
    ///
    /// `Unsupported` without the wait block; `AlreadyExists` if one is attached (`fd` is then
    /// closed).
    pub fn set_eventfd(&self, fd: OwnedFd) -> io::Result<()> {
        let w = self.raw().wait_line().ok_or_else(|| {
            io::Error::new(io::ErrorKind::Unsupported, "the ring has no wait block")
        })?;
        let raw = fd.into_raw_fd();
        if self
            .eventfd_slot()
            .compare_exchange(-1, raw, SeqCst, SeqCst)
            .is_err()
        {
            // SAFETY: `raw` came from the OwnedFd just above and was not stored anywhere.
            drop(unsafe { OwnedFd::from_raw_fd(raw) });
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "an eventfd is already attached",
            ));
        }
        w.flags.fetch_or(wait_flags::EVENTFD, SeqCst);
        Ok(())
    }

    /// This process's eventfd for the ring, if attached.
    pub fn eventfd(&self) -> Option<BorrowedFd<'_>> {
        let fd = self.eventfd_slot().load(Relaxed);
        // SAFETY: a non-negative value is a descriptor the ring owns until it is dropped (it is
        // never replaced: `set_eventfd` refuses a second one); the borrow ties the result to the
        // ring.
        (fd >= 0).then(|| unsafe { BorrowedFd::borrow_raw(fd) })
    }
}
