//! Waiting on a record ring (`wait`, `wait_beyond`) and its eventfd (spec/RECORDS.md, section
//! 11; the eventfd mechanism of PROTOCOL.md
//! section 19.7): producers that hold the descriptor signal it whenever they wake sleepers, so
//! a consumer can wait for records in `epoll` next to its other descriptors.

use super::{RecordConsumer, RecordRing, RecordWaitError};
use crate::layout::{wait_flags, waiters};
use crate::protocol::wait;
use crate::ring::Memory;
use crate::sync::Ordering::{Relaxed, SeqCst};
use std::io;
use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};

impl<M: Memory> RecordRing<M> {
    /// Creates an eventfd for the ring (close-on-exec, non-blocking), attaches it in this
    /// process and marks the ring as having one (`wait_flags::EVENTFD`): from then on every
    /// producer made from this `RecordRing` signals it whenever it wakes sleepers. Producers in
    /// other processes need the descriptor ([`RecordRing::set_eventfd`]).
    ///
    /// # Errors
    ///
    /// As for [`RecordRing::set_eventfd`], and the `eventfd` call's.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::record::{RecordConfig, RecordRing};
    ///
    /// let ring = RecordRing::create_heap(RecordConfig::new(256)).unwrap();
    /// ring.create_eventfd().unwrap();
    /// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// assert!(!rx.eventfd_prepare().unwrap()); // nothing yet: wait on the descriptor
    /// tx.push(b"x").unwrap(); // wakes: the eventfd becomes readable
    /// rx.eventfd_finish();
    /// assert_eq!(rx.read().unwrap().to_vec(), b"x");
    /// ```
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

    /// Attaches an eventfd (made by [`RecordRing::create_eventfd`] here or in another process)
    /// to this process's view of the ring, which owns it from now on.
    ///
    /// # Errors
    ///
    /// `Unsupported` without the wait block; `AlreadyExists` if one is attached (`fd` is then
    /// closed).
    pub fn set_eventfd(&self, fd: OwnedFd) -> io::Result<()> {
        let w = self.raw.wait.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "the record ring has no wait block",
            )
        })?;
        let raw = fd.into_raw_fd();
        if self
            .shared
            .eventfd
            .compare_exchange(-1, raw, SeqCst, SeqCst)
            .is_err()
        {
            // SAFETY: `raw` came from the OwnedFd above and was stored nowhere.
            drop(unsafe { OwnedFd::from_raw_fd(raw) });
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "an eventfd is already attached to this record ring",
            ));
        }
        w.flags.fetch_or(wait_flags::EVENTFD, SeqCst);
        Ok(())
    }

    /// This process's eventfd for the ring, if attached.
    pub fn eventfd(&self) -> Option<BorrowedFd<'_>> {
        let fd = self.shared.eventfd.load(Relaxed);
        // SAFETY: a non-negative value is a descriptor the ring owns until its last holder is
        // dropped (never replaced); the borrow ties it to the ring.
        (fd >= 0).then(|| unsafe { BorrowedFd::borrow_raw(fd) })
    }

    /// Wakes every sleeping consumer and signals the eventfd: a forced wake-up.
    pub fn wake_all(&self) {
        if let Some(w) = self.raw.wait {
            wait::wake(w, &self.shared.eventfd, u32::MAX);
        }
    }
}

impl RecordConsumer {
    /// Prepares to wait on the ring's eventfd: announces this consumer as an eventfd sleeper
    /// (W2), so producers signal it, and re-checks. Returns `true` if records are already there
    /// (then do not wait). Call [`RecordConsumer::eventfd_finish`] after the wait either way.
    ///
    /// # Errors
    ///
    /// [`RecordWaitError::NoWaitBlock`], [`RecordWaitError::NoEventfd`] (none attached in this
    /// process), [`RecordWaitError::WakeupsSuppressed`]; the announcement is withdrawn then.
    pub fn eventfd_prepare(&mut self) -> Result<bool, RecordWaitError> {
        let w = self.wait.ok_or(RecordWaitError::NoWaitBlock)?;
        if self.eventfd.load(Relaxed) < 0 {
            return Err(RecordWaitError::NoEventfd);
        }
        wait::announce_target(w, waiters::EVENTFD, None);
        if w.flags.load(Relaxed) & wait_flags::NO_WAKE != 0 {
            wait::retire(w, waiters::EVENTFD);
            return Err(RecordWaitError::WakeupsSuppressed);
        }
        if self.eventfd_armed {
            wait::retire(w, waiters::EVENTFD);
        }
        self.eventfd_armed = true;
        w.sleeps.fetch_add(1, Relaxed);
        Ok(self.has_more())
    }

    /// Ends an eventfd wait: withdraws the announcement and drains the eventfd's counter.
    pub fn eventfd_finish(&mut self) {
        if let (Some(w), true) = (self.wait, self.eventfd_armed) {
            wait::retire(w, waiters::EVENTFD);
        }
        self.eventfd_armed = false;
        let fd = self.eventfd.load(Relaxed);
        if fd >= 0 {
            let mut buf = 0u64;
            // SAFETY: reads 8 bytes into a local from a descriptor the ring owns (non-blocking).
            unsafe { libc::read(fd, (&mut buf as *mut u64).cast(), 8) };
        }
    }
}

impl RecordConsumer {
    /// How many records this handle has delivered (read and released), in either area: the
    /// position [`RecordConsumer::wait_beyond`] counts from. Starts at 0 for every handle and
    /// wraps.
    pub fn delivered(&self) -> u64 {
        let o = self.ovf.as_ref().map_or(0, |o| o.rx.delivered);
        self.rx.delivered.wrapping_add(o)
    }

    /// How many records can be read now (counted up to `limit`, without consuming): committed
    /// records from the consumer's position in the data area, and, once every record there is
    /// committed and counted, in the overflow area. A pending (reserved, not committed) record
    /// ends the count, since nothing after it can be read before it.
    pub fn ready(&self, limit: usize) -> usize {
        self.ready_held(limit).0
    }

    /// [`RecordConsumer::ready`], and whether a pending (or invalid) header ended the count
    /// below `limit`.
    fn ready_held(&self, limit: usize) -> (usize, bool) {
        let (n, all) = self.rx.count_ready(limit);
        if !all {
            return (n, n < limit);
        }
        match &self.ovf {
            Some(o) if n < limit => {
                let (k, all) = o.rx.count_ready(limit - n);
                (n + k, !all && n + k < limit)
            }
            _ => (n, false),
        }
    }

    /// Waits until at least `min` records can be read ([`RecordConsumer::ready`]), or `timeout`
    /// passes (`None`: no limit); returns the count seen. `min = 0` returns at once. Nothing is
    /// consumed.
    ///
    /// # Errors
    ///
    /// As for [`RecordConsumer::wait_beyond`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::record::{RecordConfig, RecordRing};
    /// use ring_core::WaitOutcome;
    /// use std::time::Duration;
    ///
    /// let ring = RecordRing::create_heap(RecordConfig::new(256)).unwrap();
    /// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// let r = rx.wait(1, Some(Duration::from_millis(10))).unwrap();
    /// assert_eq!(r, WaitOutcome::TimedOut(0));
    /// tx.push(b"a").unwrap();
    /// tx.push(b"bc").unwrap();
    /// assert_eq!(rx.wait(2, None).unwrap(), WaitOutcome::Ready(2));
    /// ```
    pub fn wait(
        &mut self,
        min: usize,
        timeout: Option<std::time::Duration>,
    ) -> Result<crate::WaitOutcome, RecordWaitError> {
        let at = self.delivered();
        self.wait_beyond(at, min, timeout)
    }

    /// Waits until at least `min` records exist beyond `position`, a value of
    /// [`RecordConsumer::delivered`] taken earlier: the records this handle delivered since
    /// then plus those it can read now ([`RecordConsumer::ready`]), in either area; or until
    /// `timeout` passes (`None`: no limit). The semantics of acall's `acall_ring_pwait`,
    /// counted in records. Returns `Ready(count)` or `TimedOut(count)` (counts saturate at
    /// `u32::MAX`); never `Closed` (record rings have no end of stream). A `min` larger than the
    /// records both areas can hold at once can only time out, unless the consumer reads
    /// meanwhile.
    ///
    /// While it is held up by a pending record it polls (sleeping at most 100 ms at a time) and
    /// runs recovery every 100 ms, in case that record's producer died.
    ///
    /// # Errors
    ///
    /// [`RecordWaitError::NoWaitBlock`] / [`RecordWaitError::WakeupsSuppressed`] when it would
    /// have to sleep and cannot; [`RecordWaitError::Interrupted`] if a signal interrupts the
    /// sleep; [`RecordWaitError::Futex`] if the futex call fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::record::{RecordConfig, RecordRing};
    /// use ring_core::WaitOutcome;
    /// use std::time::Duration;
    ///
    /// let ring = RecordRing::create_heap(RecordConfig::new(64).overflow(128)).unwrap();
    /// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// let mark = rx.delivered();
    /// let t = std::thread::spawn(move || {
    ///     for i in 0..6u8 {
    ///         tx.push(&[i; 8]).unwrap(); // 4 in the data area, 2 spill
    ///     }
    /// });
    /// let r = rx.wait_beyond(mark, 6, Some(Duration::from_secs(10))).unwrap();
    /// assert_eq!(r, WaitOutcome::Ready(6));
    /// t.join().unwrap();
    /// rx.read().unwrap(); // one delivered: it still counts beyond `mark`
    /// assert_eq!(rx.wait_beyond(mark, 6, None).unwrap(), WaitOutcome::Ready(6));
    /// ```
    pub fn wait_beyond(
        &mut self,
        position: u64,
        min: usize,
        timeout: Option<std::time::Duration>,
    ) -> Result<crate::WaitOutcome, RecordWaitError> {
        use crate::WaitOutcome::{Ready, TimedOut};
        use std::time::Instant;
        let deadline = crate::blocking::deadline_after(timeout);
        // The count beyond `position`, and whether a pending record holds it up.
        let seen = |c: &Self| -> (usize, bool) {
            let done = c.delivered().wrapping_sub(position);
            let done = usize::try_from(done).unwrap_or(usize::MAX);
            let (k, held) = c.ready_held(min.saturating_sub(done));
            (done.saturating_add(k), held)
        };
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let mut held_since: Option<Instant> = None;
        loop {
            let (n, held) = seen(self);
            if n >= min {
                return Ok(Ready(count(n)));
            }
            let Some(left) = crate::blocking::remaining(deadline) else {
                return Ok(TimedOut(count(n)));
            };
            if self.wait.is_none() {
                return Err(RecordWaitError::NoWaitBlock);
            }
            // Held up by a pending record (its commit wakes us, but a dead producer never
            // commits): sleep at most `RECOVERY_AFTER`, and run recovery that often.
            let sleep = if held {
                self.recover_if_held(&mut held_since);
                Some(left.map_or(RECOVERY_AFTER, |l| l.min(RECOVERY_AFTER)))
            } else {
                held_since = None;
                left
            };
            self.sleep_w2(sleep, |c| seen(c).0 != n)?;
        }
    }

    /// Runs recovery if the consumer has been held up by a pending record (MPSC: reserved,
    /// not committed) for `RECOVERY_AFTER` since `*held_since` (set now if unset): its
    /// producer may be dead, and a dead producer never commits nor wakes anyone.
    pub(crate) fn recover_if_held(&self, held_since: &mut Option<std::time::Instant>) {
        let since = *held_since.get_or_insert_with(std::time::Instant::now);
        if self.raw.registry.is_some() && since.elapsed() >= RECOVERY_AFTER {
            let _ = self.recover();
            *held_since = None;
        }
    }

    /// W2 on the futex unit for the blocking calls: refuses without a wait block or with
    /// wake-ups suppressed; announces the consumer, re-checks with `changed` (true: do not
    /// sleep), counts the sleep, sleeps at most `left` (`None`: no limit) and withdraws.
    pub(crate) fn sleep_w2(
        &self,
        left: Option<std::time::Duration>,
        changed: impl FnOnce(&Self) -> bool,
    ) -> Result<(), RecordWaitError> {
        use crate::sys::{futex_wait, FutexWait};
        let w = self.wait.ok_or(RecordWaitError::NoWaitBlock)?;
        if w.flags.load(Relaxed) & wait_flags::NO_WAKE != 0 {
            return Err(RecordWaitError::WakeupsSuppressed);
        }
        let snap = wait::announce_target(w, waiters::FUTEX, None);
        if changed(self) {
            wait::retire(w, waiters::FUTEX);
            return Ok(());
        }
        w.sleeps.fetch_add(1, Relaxed);
        let r = futex_wait(&w.futex, snap, left);
        wait::retire(w, waiters::FUTEX);
        match r {
            FutexWait::Woken | FutexWait::TimedOut => Ok(()),
            FutexWait::Interrupted => Err(RecordWaitError::Interrupted),
            FutexWait::Failed(e) => Err(RecordWaitError::Futex(e)),
        }
    }
}

/// How long a blocking call held up by a pending record waits before it runs recovery (and
/// the longest it sleeps meanwhile).
const RECOVERY_AFTER: std::time::Duration = std::time::Duration::from_millis(100);
