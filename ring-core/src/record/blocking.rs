//! The eventfd of a record ring (spec/RECORDS.md, section 11; the mechanism of PROTOCOL.md
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
    /// assert_eq!(rx.read().unwrap().bytes(), b"x");
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
