//! [`Pool`]: the elastic worker pool, submissions, ordering, cancellation.

use crate::cpus::CpuSet;
use crate::op::{Class, Op, Output, Ran};
use crate::signal;
use crate::slots::{Claim, Outputs};
use crate::target::{
    current_cpu, mono_ns, post_fixed, post_record, AttrValues, Own, PostError, RoomWait, Sink,
    Target,
};
use ring_core::Completion;
use std::collections::{HashMap, VecDeque};
use std::ffi::c_int;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Bits of [`Completion::flags`] that the pool sets.
pub mod flags {
    /// An [`crate::Output`] waits under the submission's id ([`crate::Pool::take_output`]).
    pub const OUTPUT: u32 = 1;
    /// The cancellation took effect: the result is `-ECANCELED`.
    pub const CANCELED: u32 = 2;
    /// With [`CANCELED`]: the operation was running and its worker was interrupted.
    pub const INTERRUPTED: u32 = 4;
    /// The raw result did not fit the `i32` result (which is then `-EOVERFLOW`): the value is
    /// in [`crate::Output::Wide`].
    pub const WIDE: u32 = 8;
}

/// What a submission does when the pool already holds [`PoolConfig::queue_depth`]
/// outstanding submissions.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Backpressure {
    /// Refuse at once with [`SubmitError::QueueFull`].
    Fail,
    /// Wait for room, up to the timeout (`None`: no limit), then refuse with
    /// [`SubmitError::TimedOut`].
    Wait(Option<Duration>),
}

/// Whether, and with which clock, a pool's workers time each operation and the posting of its
/// completion ([`Stats::run_ns`], [`Stats::post_ns`], [`Stats::clock_ns`]). Each timed
/// operation costs four reads of the clock.
///
/// # Examples
///
/// ```
/// use ring_aio::{PoolConfig, Timing};
///
/// let cfg = PoolConfig::new().timing(Timing::Elapsed);
/// assert_eq!(cfg.timing, Timing::Elapsed);
/// assert_eq!(PoolConfig::new().timing, Timing::Off);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Timing {
    /// No timing (the default): the statistics' times stay 0.
    #[default]
    Off,
    /// Elapsed time on the monotonic clock (`CLOCK_MONOTONIC`, read without a system call
    /// where the kernel offers it in the vDSO, as it does with a TSC clock source: some 25 ns
    /// a read). It counts the time a worker was preempted inside an interval, so measure with
    /// no more busy threads than CPUs. The clock for short intervals, such as a posting of
    /// about 100 ns.
    Elapsed,
    /// The worker thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`): preemption is not counted,
    /// but the clock is a system call (some 550 ns a read on a virtual machine), a part of
    /// which lands inside every interval it closes ([`Stats::clock_ns`] measures that part),
    /// and whose cache and TLB disturbance lands in the interval after it.
    ThreadCpu,
}

impl Timing {
    /// One reading of this clock, in nanoseconds (`None` when off).
    #[inline]
    fn now(self) -> Option<u64> {
        match self {
            Timing::Off => None,
            Timing::Elapsed => Some(crate::target::mono_ns()),
            Timing::ThreadCpu => Some(thread_cpu_ns()),
        }
    }
}

/// How a [`Pool`] is set up.
///
/// # Examples
///
/// ```
/// use ring_aio::{Backpressure, PoolConfig};
/// use std::time::Duration;
///
/// let cfg = PoolConfig::new()
///     .max_workers(8)
///     .queue_depth(256)
///     .idle_timeout(Duration::from_millis(200))
///     .ordered(true)
///     .backpressure(Backpressure::Fail);
/// assert_eq!(cfg.max_workers, 8);
/// ```
#[derive(Copy, Clone, Debug)]
pub struct PoolConfig {
    /// Most worker threads at once (at least 1). Operations that block (a disk, a socket)
    /// want many; operations that keep a CPU busy for their whole length (reads from the page
    /// cache) run best with about twice the CPUs, since more workers only take turns (the
    /// `aio` bench: 4 workers on 2 CPUs beat 16 by about a fifth at depth 32).
    pub max_workers: usize,
    /// Workers kept alive when idle (the others exit after [`Self::idle_timeout`]).
    pub min_workers: usize,
    /// How long an idle worker above [`Self::min_workers`] waits for work before exiting.
    pub idle_timeout: Duration,
    /// Most submissions outstanding at once: accepted and whose result is not known yet
    /// (queued, waiting behind others on their descriptor, or running). A submission stops
    /// counting when its worker starts posting its completion, so a caller that has reaped a
    /// completion can always submit again.
    pub queue_depth: usize,
    /// Per-descriptor ordered mode: operations on one descriptor run one at a time, in
    /// submission order. Without it they run concurrently, except that fsync/fdatasync wait
    /// for earlier writes and close for everything earlier (and later ones for the close).
    pub ordered: bool,
    /// The signal that interrupts a running operation being cancelled (`None`: running
    /// operations are never interrupted and their cancellation is always too late).
    pub interrupt_signal: Option<c_int>,
    /// What [`Pool::submit`] and [`Pool::submit_batch`] do against a full queue.
    pub backpressure: Backpressure,
    /// Whether, and with which clock, workers time running each operation and posting its
    /// completion ([`Stats::run_ns`], [`Stats::post_ns`], [`Stats::clock_ns`]).
    pub timing: Timing,
    /// The CPUs the workers may run on (`None`, the default: wherever the scheduler puts
    /// them). Each worker restricts itself to the set when it starts. [`Pool::new`] refuses a
    /// set the kernel would refuse ([`CpuSet::check_usable`]: none of its CPUs online and in
    /// the process's cpuset). See [`CpuSet`] for why keeping the workers off the submitting
    /// thread's CPU can pay.
    pub worker_cpus: Option<CpuSet>,
    /// How long dropping the pool (and [`Pool::shutdown`]) waits for room in a ring that
    /// stays full before it stops waiting and hands the completions it could not post back
    /// ([`Target::take_undelivered`] after a drop, [`Pool::undelivered`] after `shutdown`).
    /// [`Pool::shutdown_timeout`] takes its own. `Duration::MAX` waits for room for ever,
    /// for programs whose consumer is sure to keep reaping until the pool is gone.
    pub shutdown_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig::new()
    }
}

impl PoolConfig {
    /// Up to 32 workers, none kept idle, 1 s idle timeout, 4096 outstanding, unordered,
    /// interrupts on [`crate::default_interrupt_signal`], backpressure by waiting, no timing,
    /// a 5 s shutdown timeout.
    pub fn new() -> Self {
        PoolConfig {
            max_workers: 32,
            min_workers: 0,
            idle_timeout: Duration::from_secs(1),
            queue_depth: 4096,
            ordered: false,
            interrupt_signal: Some(signal::default_signal()),
            backpressure: Backpressure::Wait(None),
            timing: Timing::Off,
            worker_cpus: None,
            shutdown_timeout: Duration::from_secs(5),
        }
    }

    /// Sets [`Self::max_workers`].
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = n;
        self
    }

    /// Sets [`Self::min_workers`].
    pub fn min_workers(mut self, n: usize) -> Self {
        self.min_workers = n;
        self
    }

    /// Sets [`Self::idle_timeout`].
    pub fn idle_timeout(mut self, t: Duration) -> Self {
        self.idle_timeout = t;
        self
    }

    /// Sets [`Self::queue_depth`].
    pub fn queue_depth(mut self, n: usize) -> Self {
        self.queue_depth = n;
        self
    }

    /// Sets [`Self::ordered`].
    pub fn ordered(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    /// Sets [`Self::interrupt_signal`].
    pub fn interrupt_signal(mut self, sig: Option<c_int>) -> Self {
        self.interrupt_signal = sig;
        self
    }

    /// Sets [`Self::backpressure`].
    pub fn backpressure(mut self, bp: Backpressure) -> Self {
        self.backpressure = bp;
        self
    }

    /// Sets [`Self::timing`].
    pub fn timing(mut self, clock: Timing) -> Self {
        self.timing = clock;
        self
    }

    /// Sets [`Self::worker_cpus`].
    pub fn worker_cpus(mut self, cpus: Option<CpuSet>) -> Self {
        self.worker_cpus = cpus;
        self
    }

    /// Sets [`Self::shutdown_timeout`].
    pub fn shutdown_timeout(mut self, t: Duration) -> Self {
        self.shutdown_timeout = t;
        self
    }
}

/// The identity of an accepted submission: what [`Pool::cancel`] and [`Pool::take_output`]
/// take. Ids increase with submission order and are never reused by a pool.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubmissionId(pub u64);

impl SubmissionId {
    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// An operation, the ring its completion goes to, and the cookie the completion carries.
///
/// # Examples
///
/// ```
/// use ring_aio::{Op, Submission, Target};
/// use ring_core::{Completion, Config, Mode, Ring};
///
/// let ring = Ring::<Completion>::create_heap(Config::new(8).mode(Mode::Mpsc)).unwrap();
/// let target = Target::new(&ring).unwrap();
/// let sub = Submission::new(Op::nop(), &target).cookie(42);
/// assert_eq!(sub.op().name(), "nop");
/// ```
#[derive(Debug)]
pub struct Submission {
    op: Op,
    target: Target,
    cookie: Option<u64>,
}

impl Submission {
    /// `op`, completing into `target`, with the submission id as its cookie.
    pub fn new(op: Op, target: &Target) -> Self {
        Submission {
            op,
            target: target.clone(),
            cookie: None,
        }
    }

    /// Sets the cookie the completion carries in `user_data` (by default the submission's id).
    pub fn cookie(mut self, cookie: u64) -> Self {
        self.cookie = Some(cookie);
        self
    }

    /// The operation.
    pub fn op(&self) -> &Op {
        &self.op
    }

    /// The operation, handed back (with its buffers).
    pub fn into_op(self) -> Op {
        self.op
    }
}

/// Why a submission was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubmitError {
    /// The pool holds `depth` outstanding submissions (its queue depth) and the backpressure
    /// policy is [`Backpressure::Fail`].
    QueueFull {
        /// The queue depth.
        depth: usize,
    },
    /// The queue stayed full (`depth` outstanding) for the whole wait.
    TimedOut {
        /// The queue depth.
        depth: usize,
        /// How long the submission waited.
        waited: Duration,
    },
    /// The pool is shutting down.
    ShutDown,
    /// The operation's buffers total more bytes than a completion's `i32` result can report.
    TooLarge {
        /// The operation.
        op: &'static str,
        /// Its buffers' total length.
        bytes: usize,
    },
    /// No worker thread exists and a new one could not be started.
    NoWorker {
        /// The error of the thread spawn.
        error: String,
    },
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::QueueFull { depth } => write!(
                f,
                "submission refused: the pool already holds {depth} outstanding submissions (its queue depth)"
            ),
            SubmitError::TimedOut { depth, waited } => write!(
                f,
                "submission refused: the pool stayed at its queue depth of {depth} for {waited:?}"
            ),
            SubmitError::ShutDown => f.write_str("submission refused: the pool is shutting down"),
            SubmitError::TooLarge { op, bytes } => write!(
                f,
                "submission refused: {op} buffers of {bytes} bytes exceed what a completion result (i32) can report"
            ),
            SubmitError::NoWorker { error } => {
                write!(f, "submission refused: no worker thread could be started: {error}")
            }
        }
    }
}

impl std::error::Error for SubmitError {}

/// A refused submission: the error, and the submission handed back (with its buffers).
#[derive(Debug)]
pub struct Refused {
    /// Why.
    pub error: SubmitError,
    /// The submission, untouched.
    pub submission: Submission,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.error, self.submission.op.name())
    }
}

impl std::error::Error for Refused {}

/// The result of [`Pool::submit_batch`]: the accepted prefix, and if the batch stopped, why
/// and what was not submitted.
#[derive(Debug)]
pub struct Batch {
    /// Ids of the accepted submissions, in batch order (`ids.len()` were accepted).
    pub ids: Vec<SubmissionId>,
    /// The error of the first refused submission, if any.
    pub error: Option<SubmitError>,
    /// The refused submission followed by the rest of the batch, untouched.
    pub unsubmitted: Vec<Submission>,
}

impl Batch {
    /// How many were accepted.
    pub fn accepted(&self) -> usize {
        self.ids.len()
    }
}

/// What [`Pool::cancel`] did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The operation had not started: it will not run, and its completion, carrying
    /// `-ECANCELED` with [`flags::CANCELED`], has been posted before `cancel` returns (by the
    /// cancelling thread, which waits for room in the ring as a worker would).
    Canceled,
    /// The operation was running and its worker was interrupted: the completion carries
    /// `-ECANCELED` with [`flags::CANCELED`] | [`flags::INTERRUPTED`].
    Interrupted,
    /// The operation is running and its worker was signalled, but had not reacted within a
    /// short wait: the completion will tell (`-ECANCELED` with [`flags::INTERRUPTED`], or the
    /// normal result if the call finished first). The pool keeps signalling until it does.
    Signalled,
    /// Too late: the operation completed, is completing, or is running and cannot be
    /// interrupted. Its completion carries its normal result.
    TooLate,
    /// No submission with this id was ever accepted by this pool.
    Unknown,
}

/// A snapshot of the pool's counters.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Worker threads alive.
    pub workers: usize,
    /// Of them, waiting for work.
    pub idle: usize,
    /// Worker threads started so far.
    pub spawned: u64,
    /// Submissions accepted whose completion has not been posted yet.
    pub outstanding: usize,
    /// Of them, waiting in the run queue.
    pub queued: usize,
    /// Completions posted (those that could not be posted are counted too, and kept in
    /// [`Pool::undelivered`]).
    pub completed: u64,
    /// With [`PoolConfig::timing`]: time (nanoseconds, on the chosen [`Timing`] clock)
    /// spent running the operations.
    pub run_ns: u64,
    /// With [`PoolConfig::timing`]: time (nanoseconds, on the chosen clock) spent handing
    /// back outputs and posting completions into rings, wake-ups of sleeping consumers
    /// included.
    pub post_ns: u64,
    /// With [`PoolConfig::timing`]: time (nanoseconds, on the chosen clock) of one empty
    /// interval per operation, measured by the workers as the two above are (two
    /// back-to-back reads of the clock). Each of `run_ns` and `post_ns` includes about this
    /// much of the clock's own cost; subtract it for the net figures.
    pub clock_ns: u64,
    /// Completions that could not be posted (a ring reported corruption, or stayed full
    /// until a shutdown stopped waiting for room), kept in [`Pool::undelivered`].
    pub undelivered: usize,
}

/// What [`Pool::shutdown_timeout`] could not finish within its timeout.
///
/// Nothing is lost: every completion the pool could not post is here (or, for operations
/// still running, will be posted by their worker, or kept for [`Pool::undelivered`] if their
/// ring is still full then).
#[derive(Debug)]
pub struct Undelivered {
    /// Completions that were not posted, each with its target and the reason in words (the
    /// ring stayed full, with its overflow area, until the timeout; or the ring refused it).
    pub completions: Vec<(Completion, Target, String)>,
    /// Operations still running a system call that could not be interrupted (or not yet):
    /// their completions come later. Dropping the pool waits for them.
    pub running: usize,
}

impl fmt::Display for Undelivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pool shutdown: {} completions could not be posted (their rings stayed full or \
             refused them) and {} operations are still running",
            self.completions.len(),
            self.running
        )
    }
}

impl std::error::Error for Undelivered {}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// In the run queue.
    Queued,
    /// Waiting behind earlier operations on its descriptor.
    Blocked,
    /// A worker runs it.
    Running(libc::pthread_t),
    /// Its result is known and being posted.
    Posting { interrupted: bool },
}

struct Meta {
    phase: Phase,
    fd: Option<RawFd>,
    interruptible: bool,
    cancel: bool,
    /// Callers of `cancel` waiting for the outcome.
    cancel_waiters: u32,
}

struct Job {
    id: u64,
    /// Where its output goes.
    slot: Claim,
    op: Op,
    target: Target,
    cookie: u64,
    class: Class,
    /// When it was accepted (`CLOCK_MONOTONIC` ns), for targets whose completions carry
    /// attributes; 0 otherwise.
    queued_at: u64,
}

/// One descriptor's dispatched operations (queued, running or posting) by id, in id order.
///
/// A deque sorted by id rather than a search tree: ids are taken in submission order, so an
/// insertion almost always goes at the back, and operations finish roughly in that order,
/// so a removal is near the front; both are a binary search and a short shift, under the
/// pool's lock, instead of a tree's node walk and rebalancing.
#[derive(Default)]
struct Active(VecDeque<(u64, Class)>);

impl Active {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn insert(&mut self, id: u64, class: Class) {
        match self.0.back() {
            Some(&(last, _)) if last > id => {
                let at = self.0.partition_point(|&(i, _)| i < id);
                debug_assert!(!matches!(self.0.get(at), Some(&(i, _)) if i == id));
                self.0.insert(at, (id, class));
            }
            _ => self.0.push_back((id, class)),
        }
    }

    /// Removes `id`; whether it was there.
    fn remove(&mut self, id: u64) -> bool {
        match self.0.binary_search_by_key(&id, |&(i, _)| i) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().map(|&(i, _)| i)
    }

    /// The classes of the operations with ids below `id`.
    fn before(&self, id: u64) -> impl Iterator<Item = Class> + '_ {
        self.0
            .iter()
            .take_while(move |&&(i, _)| i < id)
            .map(|&(_, c)| c)
    }
}

/// One descriptor's operations: those dispatched (queued, running or posting) and those
/// waiting behind them.
#[derive(Default)]
struct FdState {
    active: Active,
    blocked: VecDeque<Job>,
    n_active_write: usize,
    n_active_close: usize,
    n_blocked_write: usize,
    n_blocked_close: usize,
}

fn waits(ordered: bool, me: Class, earlier: Class) -> bool {
    ordered
        || me == Class::Close
        || earlier == Class::Close
        || (me == Class::Sync && earlier == Class::Write)
}

impl FdState {
    fn count(&mut self, class: Class, active: bool, add: bool) {
        let c = match (class, active) {
            (Class::Write, true) => &mut self.n_active_write,
            (Class::Close, true) => &mut self.n_active_close,
            (Class::Write, false) => &mut self.n_blocked_write,
            (Class::Close, false) => &mut self.n_blocked_close,
            _ => return,
        };
        if add {
            *c += 1;
        } else {
            *c -= 1;
        }
    }

    /// Whether a new operation (later than every other) must wait.
    fn must_wait(&self, ordered: bool, class: Class) -> bool {
        let any = !self.active.is_empty() || !self.blocked.is_empty();
        ((ordered || class == Class::Close) && any)
            || self.n_active_close + self.n_blocked_close > 0
            || (class == Class::Sync && self.n_active_write + self.n_blocked_write > 0)
    }

    fn add_active(&mut self, id: u64, class: Class) {
        self.active.insert(id, class);
        self.count(class, true, true);
    }

    fn is_empty(&self) -> bool {
        self.active.is_empty() && self.blocked.is_empty()
    }
}

struct State {
    next_id: u64,
    run: VecDeque<Job>,
    jobs: IdMap<u64, Meta>,
    fds: IdMap<RawFd, FdState>,
    workers: usize,
    idle: usize,
    /// Workers looking for work without the lock before they sleep (counted in and out
    /// under the lock; each takes the lock and looks at the run queue again before it
    /// sleeps, so a job queued while it is counted here needs no wake-up).
    spinning: usize,
    spawned: u64,
    shutdown: bool,
    /// Running jobs being interrupted, re-signalled until they leave `Running`.
    interrupts: Vec<u64>,
    interrupter: bool,
    /// The pool's threads (workers and the interrupter) not known to have finished: joined
    /// when the pool is dropped; finished ones are let go whenever a thread is started.
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Jobs cancelled before they started, taken out of the queues: whoever cancelled them
    /// posts their completions once it has released the lock ([`Inner::flush_cancelled`]).
    cancelled: Vec<Job>,
    /// Threads waiting on `event_cv` (a notification is a system call: made only when
    /// someone waits).
    event_waiters: usize,
    /// Outcomes (interrupted or not) of cancelled jobs that finished while a `cancel` call
    /// waited for them.
    cancel_results: IdMap<u64, bool>,
    /// Jobs retired (`finish`): their completion posted, or kept as undelivered.
    completed: u64,
    /// Each worker's "posting" flag (set by the worker, without the lock, while it posts a
    /// completion; cleared under the lock when it retires the job), so that a shutdown can
    /// tell a worker posting from one running a system call.
    posting: Vec<Arc<Flag>>,
}

struct Inner {
    cfg: PoolConfig,
    state: Mutex<State>,
    /// Workers wait here for work.
    work_cv: Condvar,
    /// Submitters wait here for room.
    space_cv: Condvar,
    /// `cancel`, `drain` and the pool's drop wait here for phase changes and worker exits.
    event_cv: Condvar,
    /// What finished operations hand back, by submission id: a slot per job (claimed at
    /// submission) that the poster fills without a lock and the caller empties.
    outputs: Outputs,
    /// Submissions counted against the queue depth (accepted, result not known yet). Raised
    /// under the state lock; lowered by workers without it.
    outstanding: AtomicUsize,
    /// Submitters waiting on `space_cv` (announced under the state lock before re-checking
    /// `outstanding`, so a worker that lowers it either is seen or sees them).
    space_waiters: AtomicUsize,
    /// Workers looking for work without the lock (spinning before they sleep), and a copy of
    /// the run queue's length for them to watch.
    queued: AtomicUsize,
    /// Completions that could not be posted, with their target and why.
    undelivered: Mutex<Vec<(Completion, Target, String)>>,
    /// Set when a shutdown's wait for room has timed out: posters stop waiting for room in a
    /// full ring and keep the completion in `undelivered` instead. Never cleared.
    give_up: AtomicBool,
    run_ns: AtomicU64,
    post_ns: AtomicU64,
    clock_ns: AtomicU64,
}

/// An elastic pool of worker threads running system calls and posting their completions
/// into ring-core rings.
///
/// Every accepted submission gets exactly one completion, in the ring its [`Target`] names:
/// its normal result, or `-ECANCELED` if it was cancelled. Completions are posted with the
/// ring's producer; a full ring spills into its overflow area, and when that is full too (or
/// absent) the worker waits for room: nothing is dropped or overwritten.
///
/// Dropping the pool cancels what is still outstanding (each cancelled submission still gets
/// its completion) and waits for the workers to exit; call [`Pool::drain`] first to let
/// everything finish instead.
///
/// # Examples
///
/// ```
/// use ring_aio::{Op, Pool, PoolConfig, Submission, Target};
/// use ring_core::{Completion, Config, Mode, Ring};
/// use std::time::Duration;
///
/// let ring = Ring::<Completion>::create_heap(Config::new(64).mode(Mode::Mpsc)).unwrap();
/// let target = Target::new(&ring).unwrap();
/// let pool = Pool::new(PoolConfig::new().max_workers(4)).unwrap();
///
/// let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
/// use std::os::fd::AsRawFd;
/// pool.submit(Submission::new(Op::write(w.as_raw_fd(), b"hi".to_vec()), &target)).unwrap();
/// let id = pool
///     .submit(Submission::new(Op::read(r.as_raw_fd(), vec![0; 16]), &target))
///     .unwrap();
///
/// let mut rx = ring.consumer().unwrap();
/// let mut out = [Completion::default(); 2];
/// assert_eq!(rx.reap(&mut out, 2, Some(Duration::from_secs(5))).unwrap(), 2);
/// let read = out.iter().find(|c| c.user_data == id.get()).unwrap();
/// assert_eq!(read.result, 2);
/// match pool.take_output(id) {
///     Some(ring_aio::Output::Buffer(b)) => assert_eq!(b, b"hi"),
///     other => panic!("{other:?}"),
/// }
/// ```
pub struct Pool {
    inner: Arc<Inner>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.inner.cfg)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Pool {
    /// A pool with no worker yet (workers start on demand, up to
    /// [`PoolConfig::max_workers`]).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `max_workers == 0`, `queue_depth == 0` or an unusable interrupt
    /// signal; `AlreadyExists` if the interrupt signal already has a handler that is not the
    /// pool's; the error of starting [`PoolConfig::min_workers`] threads.
    pub fn new(cfg: PoolConfig) -> io::Result<Pool> {
        if cfg.max_workers == 0 || cfg.queue_depth == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a pool needs at least one worker and a queue depth of at least one \
                     (max_workers {}, queue_depth {})",
                    cfg.max_workers, cfg.queue_depth
                ),
            ));
        }
        if let Some(cpus) = cfg.worker_cpus {
            cpus.check_usable()?;
        }
        if let Some(sig) = cfg.interrupt_signal {
            signal::install(sig)?;
        }
        let pool = Pool {
            inner: Arc::new(Inner {
                cfg,
                state: Mutex::new(State {
                    next_id: 1,
                    run: VecDeque::new(),
                    jobs: IdMap::default(),
                    fds: IdMap::default(),
                    workers: 0,
                    idle: 0,
                    spinning: 0,
                    spawned: 0,
                    shutdown: false,
                    interrupts: Vec::new(),
                    interrupter: false,
                    threads: Vec::new(),
                    cancelled: Vec::new(),
                    event_waiters: 0,
                    cancel_results: IdMap::default(),
                    completed: 0,
                    posting: Vec::new(),
                }),
                work_cv: Condvar::new(),
                space_cv: Condvar::new(),
                event_cv: Condvar::new(),
                outputs: Outputs::new(cfg.queue_depth),
                outstanding: AtomicUsize::new(0),
                space_waiters: AtomicUsize::new(0),
                queued: AtomicUsize::new(0),
                undelivered: Mutex::new(Vec::new()),
                give_up: AtomicBool::new(false),
                run_ns: AtomicU64::new(0),
                post_ns: AtomicU64::new(0),
                clock_ns: AtomicU64::new(0),
            }),
        };
        {
            let mut st = pool.inner.lock();
            for _ in 0..cfg.min_workers.min(cfg.max_workers) {
                pool.inner.spawn_worker(&mut st)?;
            }
        }
        Ok(pool)
    }

    /// The configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.cfg
    }

    /// Submits one operation, with the configured [`Backpressure`].
    ///
    /// # Errors
    ///
    /// [`Refused`] (boxed: it holds the whole submission), handing the submission back.
    pub fn submit(&self, sub: Submission) -> Result<SubmissionId, Box<Refused>> {
        self.submit_with(sub, self.inner.cfg.backpressure)
    }

    /// Submits one operation with the given backpressure policy.
    ///
    /// # Errors
    ///
    /// [`Refused`] (boxed: it holds the whole submission), handing the submission back.
    pub fn submit_with(
        &self,
        sub: Submission,
        bp: Backpressure,
    ) -> Result<SubmissionId, Box<Refused>> {
        let st = self.inner.lock();
        let (st, r) = self.inner.submit_locked(st, sub, bp);
        self.inner.flush_cancelled(st, None);
        r
    }

    /// Submits `subs` in order (taking the pool's lock once per 16 submissions,
    /// so that workers finishing meanwhile are not held up by a long batch) and stops at
    /// the first refusal: returns the ids of the accepted prefix, the refusal's error, and the
    /// refused submission with everything after it, untouched.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_aio::{Backpressure, Op, Pool, PoolConfig, Submission, SubmitError, Target};
    /// use ring_core::{Completion, Config, Mode, Ring};
    ///
    /// let ring = Ring::<Completion>::create_heap(Config::new(8).mode(Mode::Mpsc)).unwrap();
    /// let target = Target::new(&ring).unwrap();
    /// let cfg = PoolConfig::new().queue_depth(3).backpressure(Backpressure::Fail);
    /// let pool = Pool::new(cfg).unwrap();
    /// let (r, _w) = std::os::unix::net::UnixStream::pair().unwrap();
    /// use std::os::fd::AsRawFd;
    /// // Reads of an empty socket stay outstanding: the fourth is refused.
    /// let subs = (0..5).map(|_| Submission::new(Op::read(r.as_raw_fd(), vec![0; 1]), &target));
    /// let batch = pool.submit_batch(subs.collect());
    /// assert_eq!(batch.accepted(), 3);
    /// assert_eq!(batch.error, Some(SubmitError::QueueFull { depth: 3 }));
    /// assert_eq!(batch.unsubmitted.len(), 2);
    /// drop(pool); // cancels the three reads
    /// ```
    pub fn submit_batch(&self, subs: Vec<Submission>) -> Batch {
        let mut ids = Vec::with_capacity(subs.len());
        let mut st = self.inner.lock();
        let mut it = subs.into_iter();
        let mut chunk = 0;
        while let Some(sub) = it.next() {
            if chunk == BATCH_CHUNK {
                // Let the workers waiting for the lock in (to retire their jobs and take new
                // ones) before going on.
                self.inner.flush_cancelled(st, None);
                st = self.inner.lock();
                chunk = 0;
            }
            chunk += 1;
            let (g, r) = self
                .inner
                .submit_locked(st, sub, self.inner.cfg.backpressure);
            st = g;
            match r {
                Ok(id) => ids.push(id),
                Err(refused) => {
                    self.inner.flush_cancelled(st, None);
                    let mut unsubmitted = vec![refused.submission];
                    unsubmitted.extend(it);
                    return Batch {
                        ids,
                        error: Some(refused.error),
                        unsubmitted,
                    };
                }
            }
        }
        self.inner.flush_cancelled(st, None);
        Batch {
            ids,
            error: None,
            unsubmitted: Vec::new(),
        }
    }

    /// Cancels a submission (see [`CancelOutcome`]). A running interruptible operation is
    /// signalled and this call waits a little (up to 20 ms) to report whether the
    /// interruption took.
    pub fn cancel(&self, id: SubmissionId) -> CancelOutcome {
        let id = id.0;
        let mut st = self.inner.lock();
        let outcome = self.inner.cancel_locked(&mut st, id);
        if outcome != CancelOutcome::Signalled {
            self.inner.flush_cancelled(st, None);
            return outcome;
        }
        let deadline = Instant::now() + Duration::from_millis(20);
        if let Some(m) = st.jobs.get_mut(&id) {
            m.cancel_waiters += 1;
        }
        let result = loop {
            if let Some(interrupted) = st.cancel_results.get(&id) {
                break Some(*interrupted);
            }
            match st.jobs.get(&id).map(|m| m.phase) {
                Some(Phase::Posting { interrupted }) => break Some(interrupted),
                Some(_) => {}
                None => break None,
            }
            let now = Instant::now();
            if now >= deadline {
                break None;
            }
            st = self.inner.wait_event(st, deadline - now);
        };
        if let Some(m) = st.jobs.get_mut(&id) {
            m.cancel_waiters -= 1;
        } else {
            st.cancel_results.remove(&id);
        }
        match result {
            Some(true) => CancelOutcome::Interrupted,
            Some(false) => CancelOutcome::TooLate,
            None => CancelOutcome::Signalled,
        }
    }

    /// Takes what a completed operation handed back (its completion has [`flags::OUTPUT`]).
    /// Outputs stay in the pool until taken.
    pub fn take_output(&self, id: SubmissionId) -> Option<Output> {
        self.inner.outputs.take(id.0)
    }

    /// Waits until no submission is outstanding, or `timeout` passes. Returns whether the
    /// pool is empty.
    pub fn drain(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut st = self.inner.lock();
        while !st.jobs.is_empty() {
            let wait = match deadline {
                None => Duration::from_millis(100),
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(Duration::from_millis(100)),
                    _ => return false,
                },
            };
            st = self.inner.wait_event(st, wait);
        }
        true
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        let st = self.inner.lock();
        Stats {
            workers: st.workers,
            idle: st.idle,
            spawned: st.spawned,
            outstanding: st.jobs.len(),
            queued: st.run.len(),
            completed: st.completed,
            run_ns: self.inner.run_ns.load(Relaxed),
            post_ns: self.inner.post_ns.load(Relaxed),
            clock_ns: self.inner.clock_ns.load(Relaxed),
            undelivered: self
                .inner
                .undelivered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .len(),
        }
    }

    /// Shuts the pool down without waiting for its workers: every later submission is refused
    /// with [`SubmitError::ShutDown`] (submitters waiting for room too), every outstanding
    /// submission is cancelled as by [`Pool::cancel`] (each still gets exactly one completion),
    /// and workers exit once the operations still running have completed. The completions of
    /// those that had not started are posted by this call, which waits for room in a full
    /// ring up to [`PoolConfig::shutdown_timeout`] and keeps what it could not post for
    /// [`Pool::undelivered`]. Dropping the pool does this and then waits for the workers.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_aio::{Op, Pool, PoolConfig, Submission, SubmitError, Target};
    /// use ring_core::{Completion, Config, Mode, Ring};
    ///
    /// let ring = Ring::<Completion>::create_heap(Config::new(8).mode(Mode::Mpsc)).unwrap();
    /// let target = Target::new(&ring).unwrap();
    /// let pool = Pool::new(PoolConfig::new()).unwrap();
    /// pool.shutdown();
    /// let refused = pool.submit(Submission::new(Op::nop(), &target)).unwrap_err();
    /// assert_eq!(refused.error, SubmitError::ShutDown);
    /// ```
    pub fn shutdown(&self) {
        let deadline = Instant::now().checked_add(self.inner.cfg.shutdown_timeout);
        self.begin_shutdown(deadline);
    }

    /// Refuses later submissions and cancels every outstanding one, posting the completions
    /// of those that had not started with room waited for up to `deadline` (`None`: no limit).
    fn begin_shutdown(&self, deadline: Option<Instant>) {
        let mut st = self.inner.lock();
        st.shutdown = true;
        let ids: Vec<u64> = st.jobs.keys().copied().collect();
        for id in ids {
            self.inner.cancel_locked(&mut st, id);
        }
        self.inner.flush_cancelled(st, deadline);
        let _st = self.inner.lock();
        self.inner.work_cv.notify_all();
        self.inner.space_cv.notify_all();
    }

    /// Shuts the pool down as [`Pool::shutdown`] does and waits, up to `timeout`, until every
    /// outstanding submission's completion is posted. A ring nobody makes room in cannot hold
    /// this call (or the pool's drop) for ever: at the timeout, every thread waiting for room
    /// stops waiting, and the completions it could not post are handed back here. `Ok` means
    /// every completion was posted.
    ///
    /// After a timeout the pool no longer waits for room at all: an operation still running
    /// (a system call that cannot be interrupted) that completes later into a full ring
    /// leaves its completion in [`Pool::undelivered`].
    ///
    /// # Errors
    ///
    /// [`Undelivered`]: the completions not posted (taken out of [`Pool::undelivered`], with
    /// any kept there earlier) and how many operations are still running.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_aio::{Op, Pool, PoolConfig, Submission, Target};
    /// use ring_core::{Completion, Config, Mode, Ring};
    /// use std::time::Duration;
    ///
    /// // A ring of 4 (no overflow area) and 10 submissions: nobody reaps.
    /// let ring = Ring::<Completion>::create_heap(Config::new(4).mode(Mode::Mpsc)).unwrap();
    /// let target = Target::new(&ring).unwrap();
    /// let pool = Pool::new(PoolConfig::new().max_workers(2)).unwrap();
    /// for i in 0..10 {
    ///     pool.submit(Submission::new(Op::nop(), &target).cookie(i)).unwrap();
    /// }
    /// let lost = pool.shutdown_timeout(Duration::from_millis(50)).unwrap_err();
    /// assert_eq!(lost.running, 0);
    /// // Four in the ring, the other six handed back.
    /// assert_eq!(lost.completions.len(), 6);
    /// let mut rx = ring.consumer().unwrap();
    /// let mut out = [Completion::default(); 10];
    /// assert_eq!(rx.reap(&mut out, 0, None).unwrap(), 4);
    /// ```
    pub fn shutdown_timeout(&self, timeout: Duration) -> Result<(), Undelivered> {
        let deadline = Instant::now().checked_add(timeout);
        self.begin_shutdown(deadline);
        let mut st = self.inner.lock();
        // Wait for what is outstanding to be posted, until the deadline.
        while !st.jobs.is_empty() {
            let left = match deadline {
                None => Duration::from_millis(100),
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(Duration::from_millis(100)),
                    _ => break,
                },
            };
            st = self.inner.wait_event(st, left);
        }
        if !st.jobs.is_empty() {
            // Stop every wait for room (a poster sees this within one pause of at most
            // 1.6 ms), then wait for everything but the running system calls to be done:
            // every worker's posting (its flag) and every cancelled job's. Posting cannot
            // block otherwise, so this wait ends.
            self.inner.give_up.store(true, SeqCst);
            while st.posting.iter().any(|f| f.0.load(Relaxed))
                || st
                    .jobs
                    .values()
                    .any(|m| !matches!(m.phase, Phase::Running(_)))
            {
                st = self.inner.wait_event(st, Duration::from_millis(2));
            }
        }
        let running = st.jobs.len();
        drop(st);
        let completions = self.inner.take_undelivered();
        if completions.is_empty() && running == 0 {
            Ok(())
        } else {
            Err(Undelivered {
                completions,
                running,
            })
        }
    }

    /// Completions that could not be posted, each with its target and the reason in words
    /// (taken: the list is emptied): those whose ring reported corruption, those that a
    /// [`Pool::shutdown`] could not post within [`PoolConfig::shutdown_timeout`], and, after a
    /// [`Pool::shutdown_timeout`] that timed out, those of operations that completed later
    /// into a full ring.
    pub fn undelivered(&self) -> Vec<(Completion, Target, String)> {
        self.inner.take_undelivered()
    }
}

/// Dropping the pool shuts it down ([`Pool::shutdown_timeout`] with
/// [`PoolConfig::shutdown_timeout`]), waits for the operations still running (interruptible
/// ones are interrupted; the pool's threads are joined, so raw operations' memory is no
/// longer used once the drop returns), and hands every completion it could not post to its
/// [`Target`] ([`Target::take_undelivered`]). A ring that stays full holds the drop up for
/// at most the shutdown timeout; only a system call that cannot be interrupted can hold it
/// longer.
impl Drop for Pool {
    fn drop(&mut self) {
        let undelivered = match self.shutdown_timeout(self.inner.cfg.shutdown_timeout) {
            Ok(()) => Vec::new(),
            Err(u) => u.completions,
        };
        let mut st = self.inner.lock();
        while st.workers > 0 || st.interrupter {
            st = self.inner.wait_event(st, Duration::from_millis(100));
        }
        // Every thread has counted itself out and is returning: join them, so that none is
        // left running (or holding its stack) once the pool is gone.
        let threads = std::mem::take(&mut st.threads);
        drop(st);
        for h in threads {
            let _ = h.join();
        }
        // What could not be posted (including what the shutdown above reported) goes to the
        // targets, which outlive the pool for whoever holds them.
        for (c, target, why) in undelivered.into_iter().chain(self.inner.take_undelivered()) {
            target
                .inner
                .returned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((c, why));
        }
    }
}

/// The calling thread's CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID): unlike a wall
/// clock it does not count the time the thread was preempted.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// How many submissions [`Pool::submit_batch`] makes under one hold of the pool's lock.
const BATCH_CHUNK: usize = 16;

/// A map keyed by submission ids or descriptors (hashed by [`IdHasher`]).
type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Hashes the pool's own keys (sequential submission ids, descriptor numbers) with one
/// multiplication (Fibonacci hashing): the keys are not chosen by an adversary who could
/// aim collisions at the table, and the state lock is held while the maps are used, so the
/// default (SipHash) hasher's cost is paid by every thread waiting for that lock.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(FIB);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(FIB);
    }
    fn write_i32(&mut self, x: i32) {
        self.write_u64(x as u32 as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// 2^64 divided by the golden ratio (odd): multiplying by it spreads sequential keys over
/// the high bits, which the table's control bytes use, and keeps the low bits distinct.
const FIB: u64 = 0x9E37_79B9_7F4A_7C15;

/// A worker's "posting" flag, on a cache line of its own (only its worker writes it).
#[repr(align(128))]
struct Flag(AtomicBool);

/// A worker's producers, one per target it posted to (`None`: use the target's shared one).
type Cache = Vec<(u64, Option<Own>)>;

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_undelivered(&self) -> Vec<(Completion, Target, String)> {
        std::mem::take(&mut *self.undelivered.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A submission stops counting against the queue depth; wakes a waiting submitter. With
    /// the state lock held by the caller when `locked`.
    fn release_depth(&self, locked: bool) {
        self.outstanding.fetch_sub(1, SeqCst);
        if self.space_waiters.load(SeqCst) > 0 {
            if locked {
                self.space_cv.notify_one();
            } else {
                // Taking the lock orders this notification after the waiter's re-check.
                let _st = self.lock();
                self.space_cv.notify_one();
            }
        }
    }

    /// Pushes a runnable job and wakes or starts a worker for it if needed.
    fn push_run(&self, st: &mut State, job: Job, front: bool) {
        if front {
            st.run.push_front(job);
        } else {
            st.run.push_back(job);
        }
        self.queued.store(st.run.len(), SeqCst);
        // One wake-up per queued job beyond those the spinning workers will take, while there
        // are sleeping workers to take them (a wake-up is a system call, which on a virtual
        // machine costs microseconds; beyond that, the workers' own loops take the rest).
        let n = st.run.len();
        if n > st.spinning && n - st.spinning <= st.idle {
            self.work_cv.notify_one();
        }
    }

    fn submit_locked<'a>(
        self: &'a Arc<Self>,
        mut st: MutexGuard<'a, State>,
        sub: Submission,
        bp: Backpressure,
    ) -> (MutexGuard<'a, State>, Result<SubmissionId, Box<Refused>>) {
        let refuse = |st, error, submission| (st, Err(Box::new(Refused { error, submission })));
        let bytes = sub.op.data_len();
        if bytes > i32::MAX as usize {
            let op = sub.op.name();
            return refuse(st, SubmitError::TooLarge { op, bytes }, sub);
        }
        let depth = self.cfg.queue_depth;
        // Read only when the queue is full (a clock read per submission, under the lock, for
        // nothing otherwise).
        let mut started: Option<Instant> = None;
        loop {
            if st.shutdown {
                return refuse(st, SubmitError::ShutDown, sub);
            }
            if self.outstanding.load(SeqCst) < depth {
                break;
            }
            let start = *started.get_or_insert_with(Instant::now);
            let wait = match bp {
                Backpressure::Fail => return refuse(st, SubmitError::QueueFull { depth }, sub),
                Backpressure::Wait(None) => Duration::from_millis(100),
                Backpressure::Wait(Some(t)) => match t.checked_sub(start.elapsed()) {
                    Some(left) if !left.is_zero() => left,
                    _ => {
                        let waited = start.elapsed();
                        return refuse(st, SubmitError::TimedOut { depth, waited }, sub);
                    }
                },
            };
            self.space_waiters.fetch_add(1, SeqCst);
            if self.outstanding.load(SeqCst) < depth {
                self.space_waiters.fetch_sub(1, SeqCst);
                break;
            }
            st = self
                .space_cv
                .wait_timeout(st, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            self.space_waiters.fetch_sub(1, SeqCst);
        }
        // Start a worker first if the job would otherwise wait for one, so that a failure to
        // start one leaves nothing half-submitted.
        if st.run.len() >= st.idle + st.spinning && st.workers < self.cfg.max_workers {
            if let Err(e) = self.spawn_worker(&mut st) {
                if st.workers == 0 {
                    let error = SubmitError::NoWorker {
                        error: e.to_string(),
                    };
                    return refuse(st, error, sub);
                }
            }
        }
        let id = st.next_id;
        st.next_id += 1;
        let class = sub.op.class();
        let fd = sub.op.fd();
        let cancel_earlier = sub.op.cancels_earlier();
        let meta = Meta {
            phase: Phase::Queued,
            fd,
            interruptible: sub.op.interruptible(),
            cancel: false,
            cancel_waiters: 0,
        };
        let queued_at = if sub.target.inner.wants_attrs() {
            mono_ns()
        } else {
            0
        };
        let job = Job {
            id,
            slot: self.outputs.claim(id),
            cookie: sub.cookie.unwrap_or(id),
            op: sub.op,
            target: sub.target,
            class,
            queued_at,
        };
        self.outstanding.fetch_add(1, SeqCst);
        let mut earlier = Vec::new();
        let runnable = match fd {
            Some(fd) => {
                let ordered = self.cfg.ordered;
                let f = st.fds.entry(fd).or_default();
                if cancel_earlier {
                    earlier.extend(f.active.ids());
                    earlier.extend(f.blocked.iter().map(|j| j.id));
                }
                if f.must_wait(ordered, class) {
                    f.count(class, false, true);
                    f.blocked.push_back(job);
                    None
                } else {
                    f.add_active(id, class);
                    Some(job)
                }
            }
            None => Some(job),
        };
        let phase = if runnable.is_some() {
            Phase::Queued
        } else {
            Phase::Blocked
        };
        st.jobs.insert(id, Meta { phase, ..meta });
        if let Some(job) = runnable {
            self.push_run(&mut st, job, false);
        }
        for e in earlier {
            self.cancel_locked(&mut st, e);
        }
        (st, Ok(SubmissionId(id)))
    }

    fn spawn_worker(self: &Arc<Self>, st: &mut State) -> io::Result<()> {
        let inner = self.clone();
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let mine = flag.clone();
        let h = std::thread::Builder::new()
            .name(format!("ring-aio-{}", st.spawned))
            .stack_size(256 * 1024)
            .spawn(move || inner.worker(mine))?;
        st.posting.push(flag);
        st.threads.retain(|h| !h.is_finished());
        st.threads.push(h);
        st.workers += 1;
        st.spawned += 1;
        Ok(())
    }

    fn cancel_locked(self: &Arc<Self>, st: &mut State, id: u64) -> CancelOutcome {
        let next_id = st.next_id;
        let Some(meta) = st.jobs.get_mut(&id) else {
            return if id != 0 && id < next_id {
                CancelOutcome::TooLate
            } else {
                CancelOutcome::Unknown
            };
        };
        match meta.phase {
            Phase::Queued | Phase::Blocked => {
                // Taken out of its queue and completed by the caller (flush_cancelled), so
                // that the cancellation does not wait for a free worker.
                let was_blocked = meta.phase == Phase::Blocked;
                meta.cancel = true;
                meta.phase = Phase::Posting { interrupted: false };
                self.release_depth(true);
                let job = if was_blocked {
                    let fd = meta
                        .fd
                        .expect("only operations on a descriptor are blocked");
                    let f = st
                        .fds
                        .get_mut(&fd)
                        .expect("a blocked job's descriptor is tracked");
                    let pos = f.blocked.iter().position(|j| j.id == id);
                    let job = pos
                        .and_then(|p| f.blocked.remove(p))
                        .expect("a blocked job is in its descriptor's queue");
                    // Active until its completion is posted, so later operations on the
                    // descriptor keep their place behind it.
                    f.count(job.class, false, false);
                    f.add_active(id, job.class);
                    job
                } else {
                    let pos = st.run.iter().position(|j| j.id == id);
                    let job = pos
                        .and_then(|p| st.run.remove(p))
                        .expect("a queued job is in the run queue");
                    self.queued.store(st.run.len(), SeqCst);
                    job
                };
                st.cancelled.push(job);
                CancelOutcome::Canceled
            }
            Phase::Running(thread) => match self.cfg.interrupt_signal {
                Some(sig) if meta.interruptible => {
                    if !meta.cancel {
                        meta.cancel = true;
                        // SAFETY: the worker `thread` is alive: it runs this job and cannot
                        // leave `Running` (let alone exit) without the lock we hold.
                        unsafe { libc::pthread_kill(thread, sig) };
                        st.interrupts.push(id);
                        if !st.interrupter {
                            let inner = self.clone();
                            if let Ok(h) = std::thread::Builder::new()
                                .name("ring-aio-interrupter".into())
                                .stack_size(64 * 1024)
                                .spawn(move || inner.interrupter())
                            {
                                st.threads.retain(|h| !h.is_finished());
                                st.threads.push(h);
                                st.interrupter = true;
                            }
                        }
                    }
                    CancelOutcome::Signalled
                }
                _ => CancelOutcome::TooLate,
            },
            Phase::Posting { .. } => CancelOutcome::TooLate,
        }
    }

    /// Re-sends the interrupt to running jobs being cancelled, in case a signal arrived just
    /// before its worker entered the system call (and so interrupted nothing).
    fn interrupter(self: Arc<Self>) {
        let sig = self.cfg.interrupt_signal.unwrap_or(0);
        let mut round = 0u32;
        loop {
            let pause = if round < 200 { 1 } else { 20 };
            std::thread::sleep(Duration::from_millis(pause));
            round = round.saturating_add(1);
            let mut st = self.lock();
            let State {
                interrupts, jobs, ..
            } = &mut *st;
            interrupts.retain(|id| match jobs.get(id) {
                Some(Meta {
                    phase: Phase::Running(thread),
                    ..
                }) => {
                    // SAFETY: as in `cancel_locked`: the worker cannot leave `Running`
                    // without the lock we hold.
                    unsafe { libc::pthread_kill(*thread, sig) };
                    true
                }
                _ => false,
            });
            if st.interrupts.is_empty() {
                st.interrupter = false;
                self.notify_event(&st);
                return;
            }
        }
    }

    fn worker(self: Arc<Self>, posting: Arc<Flag>) {
        if let Some(sig) = self.cfg.interrupt_signal {
            signal::unblock(sig);
        }
        if let Some(cpus) = self.cfg.worker_cpus {
            // `Pool::new` checked that the kernel accepts the set; should the process have
            // been restricted since, the worker runs where it is allowed to.
            let _ = cpus.pin_current_thread();
        }
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let mut cache: Cache = Vec::new();
        let mut st = self.lock();
        loop {
            if let Some(job) = st.run.pop_front() {
                self.queued.store(st.run.len(), SeqCst);
                let cancelled = match st.jobs.get_mut(&job.id) {
                    Some(meta) => {
                        meta.phase = Phase::Running(me);
                        meta.cancel
                    }
                    None => true,
                };
                drop(st);
                let (id, class) = self.execute(job, cancelled, me, &mut cache, &posting);
                st = self.lock();
                posting.0.store(false, Relaxed);
                self.finish(&mut st, id, class);
                continue;
            }
            if st.shutdown && st.jobs.is_empty() {
                break;
            }
            // Look for work a little without the lock before sleeping: a submitter that keeps
            // a queue full hands the next job over without a wake-up.
            st.spinning += 1;
            drop(st);
            let mut found = false;
            for round in 0..40 {
                if self.queued.load(Relaxed) > 0 {
                    found = true;
                    break;
                }
                if round < 30 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            st = self.lock();
            // Counted out before looking at the queue again (under this same hold of the
            // lock): a job queued while this worker was counted is seen here.
            st.spinning -= 1;
            // A shutdown notified while this worker looked without the lock would otherwise be
            // missed, and the pool's drop would wait out the idle timeout.
            if found || !st.run.is_empty() || (st.shutdown && st.jobs.is_empty()) {
                continue;
            }
            st.idle += 1;
            let (g, to) = self
                .work_cv
                .wait_timeout(st, self.cfg.idle_timeout)
                .unwrap_or_else(|e| e.into_inner());
            st = g;
            st.idle -= 1;
            if to.timed_out()
                && st.run.is_empty()
                && !st.shutdown
                && st.workers > self.cfg.min_workers
            {
                // Release the producers (their records) before counting ourselves out, then
                // look once more for work that arrived meanwhile.
                drop(st);
                cache.clear();
                st = self.lock();
                if st.run.is_empty() {
                    break;
                }
            }
        }
        drop(st);
        drop(cache);
        let mut st = self.lock();
        st.workers -= 1;
        st.posting.retain(|f| !Arc::ptr_eq(f, &posting));
        self.notify_event(&st);
    }

    /// Waits on `event_cv` up to `wait`.
    fn wait_event<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        wait: Duration,
    ) -> MutexGuard<'a, State> {
        st.event_waiters += 1;
        let mut st = self
            .event_cv
            .wait_timeout(st, wait)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        st.event_waiters -= 1;
        st
    }

    /// Wakes the `event_cv` waiters, if any.
    fn notify_event(&self, st: &State) {
        if st.event_waiters > 0 {
            self.event_cv.notify_all();
        }
    }

    /// Runs (or, if cancelled, skips) one job and posts its completion; the caller retires it
    /// (`finish`) with the returned id and class.
    fn execute(
        &self,
        job: Job,
        cancelled: bool,
        me: libc::pthread_t,
        cache: &mut Cache,
        posting: &Flag,
    ) -> (u64, Class) {
        let Job {
            id,
            slot,
            op,
            target,
            cookie,
            class,
            queued_at,
        } = job;
        let timing = self.cfg.timing;
        let t0 = timing.now();
        // Attribute clocks only for targets that carry them.
        let wants = target.inner.wants_attrs();
        let transfers = wants && op.transfers();
        let started = (wants && !cancelled).then(mono_ns);
        let (raw, mut flags, output) = if cancelled {
            self.to_posting(&mut self.lock(), id, false);
            (-(libc::ECANCELED as i64), flags::CANCELED, op.into_output())
        } else {
            let mut op = op;
            let mut retries = 0;
            loop {
                match op.run() {
                    Ran::Done(r, out) => {
                        // No lock: the phase stays `Running` until `finish` (a cancel arriving
                        // meanwhile is too late, which `finish` reports).
                        self.release_depth(false);
                        break (r, 0, out);
                    }
                    Ran::Retry(o) => {
                        let mut st = self.lock();
                        let m = st.jobs.get_mut(&id);
                        match m {
                            Some(m) if m.cancel => {
                                self.to_posting(&mut st, id, true);
                                drop(st);
                                break (
                                    -(libc::ECANCELED as i64),
                                    flags::CANCELED | flags::INTERRUPTED,
                                    o.into_output(),
                                );
                            }
                            Some(m) if retries < 16 => {
                                // A signal not meant as a cancellation: run the call again.
                                m.phase = Phase::Running(me);
                                retries += 1;
                                op = o;
                            }
                            Some(_) => {
                                self.to_posting(&mut st, id, false);
                                drop(st);
                                break (-(libc::EINTR as i64), 0, o.into_output());
                            }
                            None => {
                                drop(st);
                                break (-(libc::EINTR as i64), 0, o.into_output());
                            }
                        }
                    }
                }
            }
        };
        let t1 = timing.now();
        let attrs = if wants {
            let ended = started.map(|_| mono_ns());
            AttrValues {
                queue_ns: started.map(|s| s.saturating_sub(queued_at)),
                run_ns: started.zip(ended).map(|(s, e)| e.saturating_sub(s)),
                cpu: current_cpu(),
                transfers,
            }
        } else {
            AttrValues::default()
        };
        let mut output = output;
        let result = match i32::try_from(raw) {
            Ok(r) => r,
            Err(_) => {
                flags |= flags::WIDE;
                if output.is_none() {
                    output = Some(Output::Wide(raw));
                }
                -libc::EOVERFLOW
            }
        };
        if self.outputs.put(id, slot, output) {
            flags |= flags::OUTPUT;
        }
        posting.0.store(true, Relaxed);
        self.post(
            cache,
            &target,
            Completion::new(cookie, result, flags),
            &attrs,
            None,
        );
        if let (Some(t0), Some(t1), Some(t2)) = (t0, t1, timing.now()) {
            // An empty interval, closed by a read as the two above are: what one read adds
            // to an interval in this thread, under the same load (preemption included).
            let t3 = timing.now().unwrap_or(t2);
            self.run_ns.fetch_add(t1.saturating_sub(t0), Relaxed);
            self.post_ns.fetch_add(t2.saturating_sub(t1), Relaxed);
            self.clock_ns.fetch_add(t3.saturating_sub(t2), Relaxed);
        }
        (id, class)
    }

    /// A running job's result is known: it is now being posted, and stops counting against
    /// the queue depth.
    fn to_posting(&self, st: &mut State, id: u64, interrupted: bool) {
        if let Some(m) = st.jobs.get_mut(&id) {
            m.phase = Phase::Posting { interrupted };
            if m.cancel {
                self.notify_event(st);
            }
            self.release_depth(true);
        }
    }

    /// Posts one completion: through the worker's own producer for the target, or the
    /// target's shared one; waits while the ring and its overflow area are full, until
    /// `deadline` (`None`: no limit of its own) or until the pool gives up waiting for room
    /// (a shutdown that timed out). What cannot be posted is kept in `undelivered`. `attrs`
    /// is read only for targets whose completions carry attributes.
    fn post(
        &self,
        cache: &mut Cache,
        target: &Target,
        c: Completion,
        attrs: &AttrValues,
        deadline: Option<Instant>,
    ) {
        let t = &target.inner;
        let idx = match cache.iter().position(|(tid, _)| *tid == t.id) {
            Some(i) => i,
            None => {
                let own = match &t.sink {
                    Sink::Fixed { make, .. } => {
                        make.as_ref().and_then(|make| make().ok()).map(Own::Fixed)
                    }
                    Sink::Records { make, .. } => {
                        make.as_ref().and_then(|make| make().ok()).map(Own::Records)
                    }
                };
                cache.push((t.id, own));
                cache.len() - 1
            }
        };
        let room = RoomWait {
            give_up: &self.give_up,
            deadline,
        };
        let r = match (&mut cache[idx].1, &t.sink) {
            (Some(Own::Fixed(p)), _) => post_fixed(p, c, room),
            (Some(Own::Records(p)), _) => post_record(p, c, attrs, room),
            (None, Sink::Fixed { shared, .. }) => post_fixed(
                &mut shared.lock().unwrap_or_else(|e| e.into_inner()),
                c,
                room,
            ),
            (None, Sink::Records { shared, .. }) => post_record(
                &mut shared.lock().unwrap_or_else(|e| e.into_inner()),
                c,
                attrs,
                room,
            ),
        };
        if let Err(e) = r {
            // Described in words, not matched: ring-core may add refusal reasons.
            let why = match e {
                PostError::Full => format!(
                    "the completion ring (capacity {}) stayed full, with its overflow area, \
                     until the pool's shutdown stopped waiting for room",
                    t.capacity
                ),
                PostError::Refused(e) => {
                    format!("the completion ring refused the completion: {e}")
                }
            };
            self.undelivered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((c, target.clone(), why));
        }
    }

    /// Posts the completions of jobs cancelled before they started (taken out of the queues
    /// by `cancel_locked`), with the lock released, and retires them. Waits for room until
    /// `deadline` (`None`: as a worker does).
    fn flush_cancelled<'a>(&'a self, mut st: MutexGuard<'a, State>, deadline: Option<Instant>) {
        while !st.cancelled.is_empty() {
            let jobs = std::mem::take(&mut st.cancelled);
            drop(st);
            let mut none: Cache = Vec::new();
            for job in jobs {
                let Job {
                    id,
                    slot,
                    op,
                    target,
                    cookie,
                    class,
                    queued_at: _,
                } = job;
                // Never started: no queue or run time, and not posted by a worker.
                let attrs = AttrValues {
                    transfers: op.transfers(),
                    ..AttrValues::default()
                };
                let mut flags = flags::CANCELED;
                if self.outputs.put(id, slot, op.into_output()) {
                    flags |= flags::OUTPUT;
                }
                // The target's shared producer (a cache entry of `None`): a cancelling thread
                // takes no producer record of its own.
                none.clear();
                none.push((target.inner.id, None));
                self.post(
                    &mut none,
                    &target,
                    Completion::new(cookie, -libc::ECANCELED, flags),
                    &attrs,
                    deadline,
                );
                let mut st = self.lock();
                self.finish(&mut st, id, class);
            }
            st = self.lock();
        }
    }

    /// Retires a posted job: its descriptor's bookkeeping (dispatching what waited for it)
    /// and the queue depth.
    fn finish(&self, st: &mut State, id: u64, class: Class) {
        let meta = st.jobs.remove(&id);
        st.completed += 1;
        if let Some(m) = &meta {
            if m.cancel_waiters > 0 {
                st.cancel_results
                    .insert(id, matches!(m.phase, Phase::Posting { interrupted: true }));
            }
        }
        if let Some(fd) = meta.as_ref().and_then(|m| m.fd) {
            self.release_fd(st, fd, id, class);
        }
        self.notify_event(st);
        if st.shutdown && st.jobs.is_empty() {
            self.work_cv.notify_all();
        }
    }

    fn release_fd(&self, st: &mut State, fd: RawFd, id: u64, class: Class) {
        let ordered = self.cfg.ordered;
        let Some(f) = st.fds.get_mut(&fd) else {
            return;
        };
        if f.active.remove(id) {
            f.count(class, true, false);
        }
        let mut ready = Vec::new();
        let (mut any_b, mut write_b, mut close_b) = (false, false, false);
        let mut i = 0;
        while i < f.blocked.len() {
            let (jid, c) = (f.blocked[i].id, f.blocked[i].class);
            let on_active = f.active.before(jid).any(|u| waits(ordered, c, u));
            let on_blocked = ((ordered || c == Class::Close) && any_b)
                || close_b
                || (c == Class::Sync && write_b);
            if !on_active && !on_blocked {
                let job = f.blocked.remove(i).expect("index checked");
                f.count(c, false, false);
                f.add_active(jid, c);
                ready.push(job);
            } else {
                any_b = true;
                write_b |= c == Class::Write;
                close_b |= c == Class::Close;
                if ordered {
                    break;
                }
                i += 1;
            }
        }
        if f.is_empty() {
            st.fds.remove(&fd);
        }
        for job in ready {
            if let Some(m) = st.jobs.get_mut(&job.id) {
                m.phase = Phase::Queued;
            }
            self.push_run(st, job, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn active_keeps_id_order() {
        let mut a = Active::default();
        assert!(a.is_empty());
        for id in [3, 5, 9] {
            a.insert(id, Class::Plain);
        }
        // An operation activated late (it waited behind others) keeps its place.
        a.insert(4, Class::Sync);
        a.insert(1, Class::Write);
        assert_eq!(a.ids().collect::<Vec<_>>(), [1, 3, 4, 5, 9]);
        assert_eq!(
            a.before(5).collect::<Vec<_>>(),
            [Class::Write, Class::Plain, Class::Sync]
        );
        assert!(a.before(1).next().is_none());
        assert!(a.remove(4));
        assert!(!a.remove(4));
        assert!(!a.remove(7));
        assert!(a.remove(1));
        assert_eq!(a.ids().collect::<Vec<_>>(), [3, 5, 9]);
        for id in [3, 5, 9] {
            assert!(a.remove(id));
        }
        assert!(a.is_empty());
    }

    #[test]
    fn id_hasher_keeps_sequential_ids_apart() {
        let b = BuildHasherDefault::<IdHasher>::default();
        // Every run of 2^k sequential ids fills 2^k distinct buckets of a 2^k table, and the
        // top 7 bits (the table's control bytes) take many values.
        for k in [4u32, 8, 12] {
            let mask = (1u64 << k) - 1;
            let start = 12_345u64;
            let mut low: Vec<u64> = (start..start + (1 << k))
                .map(|id| b.hash_one(id) & mask)
                .collect();
            low.sort_unstable();
            low.dedup();
            assert_eq!(low.len(), 1 << k);
        }
        let mut top: Vec<u64> = (1u64..1000).map(|id| b.hash_one(id) >> 57).collect();
        top.sort_unstable();
        top.dedup();
        assert!(top.len() > 100, "{} distinct control bytes", top.len());
        // Descriptors hash like their numbers.
        assert_ne!(b.hash_one(3i32), b.hash_one(4i32));
    }
}
