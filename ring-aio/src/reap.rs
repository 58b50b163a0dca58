//! [`Reaper`]: reaping completions with an adaptive wait that spares the workers most
//! wake-ups.

use ring_core::{ClaimError, Completion, Consumer, Memory, PopError, Ring, WaitError};
use std::time::{Duration, Instant};

/// The most yielding polls a [`Reaper`] makes before it sleeps, by default.
pub const DEFAULT_MAX_YIELDS: u32 = 64;

/// The fewest yielding polls a [`Reaper`] makes before it sleeps (so that it notices when
/// polling starts to pay again).
const MIN_YIELDS: u32 = 2;

/// A consumer of a completion ring whose waits first poll while yielding the CPU, and sleep
/// only when polling does not pay.
///
/// Why: a consumer asleep in [`Consumer::reap`] is woken by the worker whose completion
/// arrives, and that wake-up is a system call in the worker's posting path; on a virtual
/// machine, one that wakes an idle vCPU costs microseconds, many times the rest of posting.
/// A thread that keeps operations in flight usually finds the next completion within a few
/// microseconds. [`Reaper::reap`] has the semantics of [`Consumer::reap`] (at least `min`
/// completions, or fewer at the timeout), but before it sleeps it polls up to a budget of
/// times, calling `sched_yield` between polls so that the workers run meanwhile. The budget
/// adapts: it grows (up to [`Reaper::max_yields`]) when polling finds completions and halves
/// each time the wait had to sleep anyway, so a consumer of slow operations (a quiet socket)
/// soon sleeps at once and burns almost nothing.
///
/// For throughput, combine it with a larger `min` (a part of what is in flight): see the
/// crate docs, "Reaping for throughput".
///
/// # Examples
///
/// ```
/// use ring_aio::{Op, Pool, PoolConfig, Reaper, Submission, Target};
/// use ring_core::{Completion, Config, Mode, Ring};
/// use std::time::Duration;
///
/// let ring = Ring::<Completion>::create_heap(Config::new(64).mode(Mode::Mpsc)).unwrap();
/// let target = Target::new(&ring).unwrap();
/// let pool = Pool::new(PoolConfig::new().max_workers(2)).unwrap();
/// let mut reaper = Reaper::new(&ring).unwrap();
/// for i in 0..8 {
///     pool.submit(Submission::new(Op::nop(), &target).cookie(i)).unwrap();
/// }
/// let mut out = [Completion::default(); 8];
/// let mut got = 0;
/// while got < 8 {
///     got += reaper.reap(&mut out[got..], 1, Some(Duration::from_secs(5))).unwrap();
/// }
/// assert!(out.iter().all(|c| c.result == 0));
/// ```
#[derive(Debug)]
pub struct Reaper {
    rx: Consumer<Completion>,
    /// Yielding polls the next wait makes before sleeping.
    budget: u32,
    max: u32,
}

impl Reaper {
    /// Takes the consumer side of `ring`.
    ///
    /// # Errors
    ///
    /// The ring's consumer claim error (another consumer holds a single-consumer ring).
    pub fn new<M: Memory>(ring: &Ring<Completion, M>) -> Result<Self, ClaimError> {
        Ok(Self::from_consumer(ring.consumer()?))
    }

    /// Wraps a consumer.
    pub fn from_consumer(rx: Consumer<Completion>) -> Self {
        Reaper {
            rx,
            budget: DEFAULT_MAX_YIELDS,
            max: DEFAULT_MAX_YIELDS,
        }
    }

    /// Sets the most yielding polls before a sleep (default [`DEFAULT_MAX_YIELDS`]; 0 never
    /// polls, as [`Consumer::reap`]).
    pub fn max_yields(mut self, n: u32) -> Self {
        self.max = n;
        self.budget = n;
        self
    }

    /// The yielding polls the next wait will make before it sleeps (the adapted budget).
    pub fn budget(&self) -> u32 {
        self.budget
    }

    /// The consumer (for `pop`, `view`, the eventfd, ...).
    pub fn consumer(&mut self) -> &mut Consumer<Completion> {
        &mut self.rx
    }

    /// The consumer, handed back.
    pub fn into_consumer(self) -> Consumer<Completion> {
        self.rx
    }

    /// Polling did not pay this time: poll less before the next sleep.
    fn shrink(&mut self) {
        self.budget = (self.budget / 2).max(MIN_YIELDS.min(self.max));
    }

    /// Takes into `out` what can be taken now: `Ok(None)` to go on, `Err` to return.
    fn poll(
        &mut self,
        out: &mut [Completion],
        n: &mut usize,
    ) -> Result<(), Result<usize, WaitError>> {
        match self.rx.pop_into(&mut out[*n..]) {
            Ok(k) => {
                *n += k;
                Ok(())
            }
            Err(PopError::Closed) if *n == 0 => Err(Err(WaitError::Closed)),
            Err(PopError::Corrupt(c)) if *n == 0 => Err(Err(WaitError::Corrupt(c))),
            Err(_) => Err(Ok(*n)),
        }
    }

    /// Fills `out` with up to `out.len()` completions, waiting up to `timeout` (`None`: no
    /// limit) until at least `min` were taken: [`Consumer::reap`]'s semantics, with the
    /// adaptive polling described on [`Reaper`] before any sleep. Returns how many were
    /// taken.
    ///
    /// # Errors
    ///
    /// As [`Consumer::reap`]: only when nothing was taken.
    pub fn reap(
        &mut self,
        out: &mut [Completion],
        min: usize,
        timeout: Option<Duration>,
    ) -> Result<usize, WaitError> {
        let min = min.min(out.len());
        let mut n = 0;
        if let Err(r) = self.poll(out, &mut n) {
            return r;
        }
        if n >= min || n == out.len() {
            return Ok(n);
        }
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut polls = 0;
        while polls < self.budget {
            // The clock before every 8th poll, the first included (without a vDSO it is a
            // system call): a wait whose time is up polls no more.
            if polls % 8 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                if polls > 0 {
                    self.shrink();
                }
                return Ok(n);
            }
            std::thread::yield_now();
            polls += 1;
            if let Err(r) = self.poll(out, &mut n) {
                return r;
            }
            if n >= min {
                // Polling paid: allow twice what it took, and more than before.
                self.budget = self.budget.max(polls.saturating_mul(2)).min(self.max);
                return Ok(n);
            }
        }
        self.shrink();
        let left = match deadline {
            None => None,
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) => Some(left),
                None => return Ok(n),
            },
        };
        match self.rx.reap(&mut out[n..], min - n, left) {
            Ok(k) => Ok(n + k),
            Err(_) if n > 0 => Ok(n),
            Err(e) => Err(e),
        }
    }
}
