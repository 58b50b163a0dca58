//! [`AsyncReaper`] and [`AsyncRecordReaper`]: awaiting completions in a tokio program
//! (feature `tokio`).

use ring_core::record::{ReadError, RecordConsumer, RecordRing, RecordView, RecordWaitError};
use ring_core::{Completion, Consumer, Memory, PopError, Ring, WaitError};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The ring's eventfd as registered with tokio (the ring owns and closes the descriptor; the
/// consumer next to it keeps the ring alive).
struct EventFd(RawFd);

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

fn wait_error(e: WaitError) -> io::Error {
    io::Error::other(format!("completion ring: {e}"))
}

/// A consumer of a completion ring that tokio tasks can await: it sleeps on the ring's eventfd
/// through [`AsyncFd`] instead of blocking a thread.
///
/// # Examples
///
/// ```
/// use ring_aio::{AsyncReaper, Op, Pool, PoolConfig, Submission, Target};
/// use ring_core::{Completion, Config, Mode, Ring};
///
/// let ring = Ring::<Completion>::create_heap(Config::new(64).mode(Mode::Mpsc)).unwrap();
/// let target = Target::new(&ring).unwrap();
/// let pool = Pool::new(PoolConfig::new()).unwrap();
/// let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
/// rt.block_on(async {
///     let mut reaper = AsyncReaper::new(&ring).unwrap();
///     for i in 0..3 {
///         pool.submit(Submission::new(Op::nop(), &target).cookie(i)).unwrap();
///     }
///     let mut out = [Completion::default(); 8];
///     let mut got = 0;
///     while got < 3 {
///         got += reaper.reap(&mut out[got..], 1).await.unwrap();
///     }
///     assert_eq!(got, 3);
/// });
/// ```
pub struct AsyncReaper {
    // Deregistered from tokio before the consumer (and with it the ring and its eventfd)
    // goes: fields drop in declaration order.
    fd: AsyncFd<EventFd>,
    rx: Consumer<Completion>,
}

impl std::fmt::Debug for AsyncReaper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncReaper")
            .field("eventfd", &self.fd.get_ref().0)
            .finish()
    }
}

impl AsyncReaper {
    /// Takes the consumer side of `ring` and registers its eventfd (created if the ring has
    /// none in this process) with the current tokio runtime.
    ///
    /// # Errors
    ///
    /// The ring's consumer claim error, an eventfd error (for example a ring without the wait
    /// block), or tokio's registration error (called outside a runtime with I/O enabled).
    pub fn new<M: Memory>(ring: &Ring<Completion, M>) -> io::Result<Self> {
        let raw = match ring.eventfd() {
            Some(fd) => fd.as_raw_fd(),
            None => ring.create_eventfd()?.as_raw_fd(),
        };
        let rx = ring
            .consumer()
            .map_err(|e| io::Error::other(format!("completion ring consumer: {e}")))?;
        // SAFETY: the descriptor is the ring's eventfd, open until the ring's shared state is
        // dropped; `rx` keeps that state alive and is dropped after `fd` (field order), and a
        // ring's eventfd is never replaced once attached (ring-core refuses a second one).
        let fd = unsafe { AsyncFd::register_with_interest(EventFd(raw), Interest::READABLE) }?;
        Ok(AsyncReaper { fd, rx })
    }

    /// Takes up to `out.len()` completions, waiting (asynchronously) until at least `min` of
    /// them (at least 1, at most `out.len()`) were taken. Returns how many.
    ///
    /// # Errors
    ///
    /// A ring error (corruption, wake-ups suppressed) when nothing was taken, the end of the
    /// stream (`UnexpectedEof`: the producers closed it and nothing is left), or an error of
    /// the eventfd's registration.
    pub async fn reap(&mut self, out: &mut [Completion], min: usize) -> io::Result<usize> {
        let min = min.clamp(1, out.len().max(1));
        let mut got = 0;
        loop {
            match self.rx.pop_into(&mut out[got..]) {
                Ok(n) => got += n,
                Err(PopError::Closed) if got == 0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "completion ring: end of stream (the producers closed it, it is drained)",
                    ))
                }
                Err(PopError::Corrupt(c)) if got == 0 => {
                    return Err(wait_error(WaitError::Corrupt(c)))
                }
                Err(_) => return Ok(got),
            }
            if got >= min || got == out.len() {
                return Ok(got);
            }
            // Announce a sleeper (producers then signal the eventfd) and re-check.
            if self.rx.eventfd_prepare().map_err(wait_error)? {
                self.rx.eventfd_finish();
                continue;
            }
            let mut guard = self.fd.readable().await?;
            self.rx.eventfd_finish();
            guard.clear_ready();
        }
    }

    /// The consumer, for non-async use (`pop`, `reap` with a timeout, `position`).
    pub fn consumer(&mut self) -> &mut Consumer<Completion> {
        &mut self.rx
    }
}

fn record_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("completion record ring: {e}"))
}

/// How long a reserved but uncommitted record (MPSC) may hold the reaper up before it runs
/// the ring's recovery (its producer may have died).
const RECOVERY_AFTER: Duration = Duration::from_millis(100);

/// A consumer of a record ring (for example the ring of a [`crate::Target::records`] target,
/// whose completion records carry attributes) that tokio tasks can await: it sleeps on the
/// ring's eventfd through [`AsyncFd`] instead of blocking a thread.
///
/// # Examples
///
/// ```
/// use ring_aio::{AsyncRecordReaper, Op, Pool, PoolConfig, Submission, Target};
/// use ring_core::record::{RecordConfig, RecordRing};
/// use ring_core::Mode;
///
/// let ring = RecordRing::create_heap(RecordConfig::new(4096).mode(Mode::Mpsc)).unwrap();
/// let target = Target::records(&ring).unwrap();
/// let pool = Pool::new(PoolConfig::new()).unwrap();
/// let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
/// rt.block_on(async {
///     let mut reaper = AsyncRecordReaper::new(&ring).unwrap();
///     for i in 0..3 {
///         pool.submit(Submission::new(Op::nop(), &target).cookie(i)).unwrap();
///     }
///     let mut cookies = Vec::new();
///     while cookies.len() < 3 {
///         reaper
///             .reap(1, 8, |r| cookies.push(r.completion().unwrap().0.user_data))
///             .await
///             .unwrap();
///     }
///     cookies.sort();
///     assert_eq!(cookies, [0, 1, 2]);
/// });
/// ```
pub struct AsyncRecordReaper {
    // Deregistered from tokio before the consumer (and with it the ring and its eventfd)
    // goes: fields drop in declaration order.
    fd: AsyncFd<EventFd>,
    rx: RecordConsumer,
}

impl std::fmt::Debug for AsyncRecordReaper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncRecordReaper")
            .field("eventfd", &self.fd.get_ref().0)
            .finish()
    }
}

impl AsyncRecordReaper {
    /// Takes the consumer side of the record ring `ring` and registers its eventfd (created if
    /// the ring has none in this process) with the current tokio runtime.
    ///
    /// # Errors
    ///
    /// The ring's consumer claim error, an eventfd error (for example a ring without the wait
    /// block), or tokio's registration error (called outside a runtime with I/O enabled).
    pub fn new<M: Memory>(ring: &RecordRing<M>) -> io::Result<Self> {
        let raw = match ring.eventfd() {
            Some(fd) => fd.as_raw_fd(),
            None => ring.create_eventfd()?.as_raw_fd(),
        };
        let rx = ring
            .consumer()
            .map_err(|e| io::Error::other(format!("record ring consumer: {e}")))?;
        // SAFETY: the descriptor is the ring's eventfd, open until the ring's shared state is
        // dropped; `rx` keeps that state alive and is dropped after `fd` (field order), and a
        // ring's eventfd is never replaced once attached (ring-core refuses a second one).
        let fd = unsafe { AsyncFd::register_with_interest(EventFd(raw), Interest::READABLE) }?;
        Ok(AsyncRecordReaper { fd, rx })
    }

    /// Hands up to `max` records (at least 1) to `f`, in order, waiting (asynchronously) until
    /// at least `min` of them (at least 1, at most `max`) were delivered. Returns how many.
    ///
    /// A record that a producer has reserved but not committed (MPSC) holds the ones after it
    /// back: the reaper then yields to the runtime and retries, and runs the ring's recovery
    /// when it has waited 100 ms (its producer may have died).
    ///
    /// # Errors
    ///
    /// A ring error (corruption, wake-ups suppressed, no wait block) when nothing was
    /// delivered, or an error of the eventfd's registration.
    pub async fn reap(
        &mut self,
        min: usize,
        max: usize,
        mut f: impl FnMut(&RecordView<'_>),
    ) -> io::Result<usize> {
        let max = max.max(1);
        let min = min.clamp(1, max);
        let mut got = 0;
        let mut held_since: Option<Instant> = None;
        loop {
            match self.rx.read_batch(max - got, usize::MAX, &mut f) {
                Ok(n) => got += n,
                Err(ReadError::Corrupt(c)) if got == 0 => {
                    return Err(record_error(RecordWaitError::Corrupt(c)))
                }
                Err(ReadError::Corrupt(_)) => return Ok(got),
                Err(ReadError::Empty | ReadError::Pending { .. }) => {}
            }
            if got >= min {
                return Ok(got);
            }
            if self.rx.has_more() {
                // Pending: a producer is still writing the next record (or died doing so).
                let since = *held_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= RECOVERY_AFTER {
                    let _ = self.rx.recover();
                    held_since = None;
                }
                tokio::task::yield_now().await;
                continue;
            }
            held_since = None;
            // Announce a sleeper (producers then signal the eventfd) and re-check.
            if self.rx.eventfd_prepare().map_err(record_error)? {
                self.rx.eventfd_finish();
                continue;
            }
            let mut guard = self.fd.readable().await?;
            self.rx.eventfd_finish();
            guard.clear_ready();
        }
    }

    /// The consumer, for non-async use (`read`, `reap` with a timeout).
    pub fn consumer(&mut self) -> &mut RecordConsumer {
        &mut self.rx
    }
}
