//! [`Target`]: a ring that completions go to (a ring of fixed [`Completion`]s, or a record
//! ring of completion records with attributes).

use ring_core::record::attrs::{attr_id, attr_status, AttrError, AttrWriter, COMPLETION_HEAD_LEN};
use ring_core::record::layout::record_type;
use ring_core::record::{HandleError, RecordProducer, RecordRing, ReserveError};
use ring_core::{ClaimError, Completion, Memory, Mode, Producer, PushError, Ring};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type MakeProducer = dyn Fn() -> Result<Producer<Completion>, ClaimError> + Send + Sync;
type MakeRecordProducer = dyn Fn() -> Result<RecordProducer, HandleError> + Send + Sync;

/// Payload bytes of the largest completion record the pool writes: the completion and four
/// attributes (three `u64` values of 16 bytes each, one `u32` of 8 bytes).
pub const COMPLETION_RECORD_LEN: usize = COMPLETION_HEAD_LEN + 3 * 16 + 8;

/// Where a target's completions go.
pub(crate) enum Sink {
    /// A ring of fixed `Completion`s.
    Fixed {
        /// Makes a producer of its own for a worker (multi-producer rings only).
        make: Option<Box<MakeProducer>>,
        /// The producer made when the target was created: used by workers that could not get
        /// one of their own (single-producer rings, or every producer record taken).
        shared: Mutex<Producer<Completion>>,
    },
    /// A record ring of completion records with attributes.
    Records {
        /// As for `Fixed` (MPSC record rings only).
        make: Option<Box<MakeRecordProducer>>,
        /// As for `Fixed`.
        shared: Mutex<RecordProducer>,
    },
}

pub(crate) struct TargetInner {
    pub(crate) id: u64,
    pub(crate) sink: Sink,
    pub(crate) capacity: u32,
    /// Completions meant for this ring that a pool, when dropped, could not post (the ring
    /// stayed full for the pool's shutdown timeout, or refused them): kept here for
    /// [`Target::take_undelivered`].
    pub(crate) returned: Mutex<Vec<(Completion, String)>>,
}

impl TargetInner {
    /// Whether completions carry attributes (and so whether workers measure them).
    #[inline]
    pub(crate) fn wants_attrs(&self) -> bool {
        matches!(self.sink, Sink::Records { .. })
    }
}

/// A worker's own producer for one target.
pub(crate) enum Own {
    Fixed(Producer<Completion>),
    Records(RecordProducer),
}

/// What a completion record says besides the completion (times in ns of `CLOCK_MONOTONIC`).
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct AttrValues {
    /// Submission to start; `None` if the operation never started.
    pub(crate) queue_ns: Option<u64>,
    /// Start to end of the system call (retries included); `None` if it never started.
    pub(crate) run_ns: Option<u64>,
    /// The CPU the worker ran on; `None` if unknown or not posted by a worker.
    pub(crate) cpu: Option<u32>,
    /// Whether the operation moves bytes (its result, when not negative, counts them).
    pub(crate) transfers: bool,
}

/// Why a record ring cannot be made a [`Target`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordTargetError {
    /// The first producer handle could not be made.
    Handle(HandleError),
    /// The ring's largest record is smaller than a completion record with its attributes.
    TooSmall {
        /// The ring's largest record payload, in bytes.
        max_record_len: u32,
        /// The payload bytes a completion record needs ([`COMPLETION_RECORD_LEN`]).
        needed: usize,
    },
}

impl fmt::Display for RecordTargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordTargetError::Handle(e) => {
                write!(f, "record ring target: no producer handle: {e}")
            }
            RecordTargetError::TooSmall {
                max_record_len,
                needed,
            } => write!(
                f,
                "record ring target: the ring's largest record holds {max_record_len} payload \
                 bytes, a completion record with attributes needs {needed} (use a data area of \
                 at least 256 bytes)"
            ),
        }
    }
}

impl std::error::Error for RecordTargetError {}

impl From<HandleError> for RecordTargetError {
    fn from(e: HandleError) -> Self {
        RecordTargetError::Handle(e)
    }
}

/// How long a poster waits for room in a full ring: until the pool gives up on waiting
/// (its shutdown timed out) or, for the thread posting cancelled jobs during a shutdown, until
/// a deadline.
#[derive(Copy, Clone)]
pub(crate) struct RoomWait<'a> {
    /// Set (and never cleared) when the pool stops waiting for room.
    pub(crate) give_up: &'a AtomicBool,
    /// A deadline of this poster's own.
    pub(crate) deadline: Option<Instant>,
}

impl RoomWait<'_> {
    /// Whether to stop waiting.
    fn over(&self) -> bool {
        self.give_up.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// One pause of the wait for room (`round` counts from 1): spin, yield, then sleep 50 µs
    /// doubling up to 1.6 ms, as ring-core's `push_wait`, so that giving up is seen within
    /// one such pause.
    fn pause(round: u32) {
        if round < 64 {
            std::hint::spin_loop();
        } else if round < 128 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(50u64 << (round - 128).min(5)));
        }
    }
}

/// Why a completion was not posted.
#[derive(Debug)]
pub(crate) enum PostError {
    /// The ring stayed full until the wait for room ended ([`RoomWait`]).
    Full,
    /// The ring refused it (corruption, a record that could not be written), in words.
    Refused(String),
}

/// Pushes one completion into a fixed ring, waiting while the ring and its overflow area are
/// full, as long as `room` allows.
#[inline]
pub(crate) fn post_fixed(
    p: &mut Producer<Completion>,
    c: Completion,
    room: RoomWait<'_>,
) -> Result<(), PostError> {
    match p.push(c) {
        Ok(()) => Ok(()),
        Err(PushError::Full(c)) => post_fixed_slow(p, c, room),
        Err(e) => Err(PostError::Refused(e.to_string())),
    }
}

#[cold]
fn post_fixed_slow(
    p: &mut Producer<Completion>,
    c: Completion,
    room: RoomWait<'_>,
) -> Result<(), PostError> {
    let mut round = 0u32;
    let mut c = c;
    loop {
        round = round.saturating_add(1);
        RoomWait::pause(round);
        match p.push(c) {
            Ok(()) => return Ok(()),
            Err(PushError::Full(v)) => c = v,
            Err(e) => return Err(PostError::Refused(e.to_string())),
        }
        if room.over() {
            return Err(PostError::Full);
        }
    }
}

/// Writes one completion record with its attributes, waiting while the ring is full as long
/// as `room` allows. Nothing is written on error.
pub(crate) fn post_record(
    p: &mut RecordProducer,
    c: Completion,
    a: &AttrValues,
    room: RoomWait<'_>,
) -> Result<(), PostError> {
    let mut round = 0u32;
    loop {
        match p.reserve_typed(COMPLETION_RECORD_LEN, record_type::COMPLETION) {
            Ok(mut rec) => {
                // Dropping `rec` on an error below publishes it as discarded: the consumer
                // skips it, and the completion is reported undelivered by the caller.
                let mut w =
                    AttrWriter::new(&mut rec, c).map_err(|e| PostError::Refused(e.to_string()))?;
                write_attrs(&mut w, c.result, a).map_err(|e| PostError::Refused(e.to_string()))?;
                w.finish();
                rec.commit();
                return Ok(());
            }
            Err(ReserveError::Full { .. }) => {}
            Err(e) => return Err(PostError::Refused(e.to_string())),
        }
        if round > 0 && room.over() {
            return Err(PostError::Full);
        }
        round = round.saturating_add(1);
        RoomWait::pause(round);
    }
}

fn write_attrs(w: &mut AttrWriter<'_, '_>, result: i32, a: &AttrValues) -> Result<(), AttrError> {
    // A value that does not apply (the operation never ran, no CPU known, a failed transfer)
    // is reported as "supported", without a value.
    let opt64 = |w: &mut AttrWriter<'_, '_>, id, v: Option<u64>| match v {
        Some(v) => w.push_u64(id, v),
        None => w.push(id, attr_status::SUPPORTED, &[]),
    };
    opt64(w, attr_id::QUEUE_TIME_NS, a.queue_ns)?;
    opt64(w, attr_id::DURATION_NS, a.run_ns)?;
    match a.cpu {
        Some(cpu) => w.push_u32(attr_id::WORKER_CPU, cpu)?,
        None => w.push(attr_id::WORKER_CPU, attr_status::SUPPORTED, &[])?,
    }
    if a.transfers {
        let bytes = u64::try_from(result).ok();
        opt64(w, attr_id::BYTES_TRANSFERRED, bytes)?;
    }
    Ok(())
}

/// `CLOCK_MONOTONIC` in nanoseconds.
pub(crate) fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// The CPU the calling thread runs on, if the system says.
pub(crate) fn current_cpu() -> Option<u32> {
    // SAFETY: sched_getcpu has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).ok()
}

/// A ring that submissions name as the place their completion goes.
///
/// Two kinds:
///
/// - [`Target::new`]: a ring of fixed [`Completion`]s (16 bytes each). A full ring spills into
///   its overflow area; when that is full too the worker waits for room.
/// - [`Target::records`]: a record ring ([`RecordRing`]) of *completion records*: the same
///   completion followed by attributes (spec/RECORDS.md, section 9): `QUEUE_TIME_NS` (from
///   submission to the start of the system call), `DURATION_NS` (the system call's run time,
///   wall clock, retries after a stray signal included), `WORKER_CPU` (where the worker ran
///   when it finished, `sched_getcpu`) and, for reads, writes and socket messages,
///   `BYTES_TRANSFERRED` (the result). A value that does not apply (an operation cancelled
///   before it started has no queue or run time; a failed transfer moved no counted bytes)
///   is written with status `SUPPORTED` and no value. Workers read the clocks only for such
///   targets. A full record ring makes the worker wait for room (record rings have no
///   overflow area).
///
/// Made from a ring in this process's memory or shared with another process. In
/// multi-producer modes (MPSC, MPMC) every pool worker posts through a producer of its own
/// (each holds one of the ring's producer records while the worker lives; when none is left a
/// worker shares the target's own producer under a lock); in single-producer modes the target
/// holds the ring's producer claim and workers share it.
///
/// Cloning is cheap (a reference count).
///
/// # Examples
///
/// ```
/// use ring_aio::Target;
/// use ring_core::{Completion, Config, Mode, Ring};
///
/// let ring = Ring::<Completion>::create_heap(Config::new(64).mode(Mode::Mpsc)).unwrap();
/// let target = Target::new(&ring).unwrap();
/// assert_eq!(target.capacity(), 64);
/// assert!(!target.has_attributes());
/// ```
#[derive(Clone)]
pub struct Target {
    pub(crate) inner: Arc<TargetInner>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, own) = match &self.inner.sink {
            Sink::Fixed { make, .. } => ("completions", make.is_some()),
            Sink::Records { make, .. } => ("completion records", make.is_some()),
        };
        f.debug_struct("Target")
            .field("id", &self.inner.id)
            .field("kind", &kind)
            .field("capacity", &self.inner.capacity)
            .field("per_worker_producers", &own)
            .finish()
    }
}

static NEXT_TARGET: AtomicU64 = AtomicU64::new(1);

impl Target {
    /// A target posting into `ring`.
    ///
    /// # Errors
    ///
    /// The [`ClaimError`] of making the first producer: in single-producer modes
    /// [`ClaimError::Busy`] when another producer holds the claim; in multi-producer modes
    /// [`ClaimError::NoProducerRecord`] when every record is taken.
    pub fn new<M: Memory>(ring: &Ring<Completion, M>) -> Result<Self, ClaimError> {
        let shared = ring.producer()?;
        let make: Option<Box<MakeProducer>> = if ring.mode().multi_producer() {
            let ring = ring.clone();
            Some(Box::new(move || ring.producer()))
        } else {
            None
        };
        Ok(Target {
            inner: Arc::new(TargetInner {
                id: NEXT_TARGET.fetch_add(1, Ordering::Relaxed),
                sink: Sink::Fixed {
                    make,
                    shared: Mutex::new(shared),
                },
                capacity: ring.capacity(),
                returned: Mutex::new(Vec::new()),
            }),
        })
    }

    /// A target posting completion records with attributes into the record ring `ring`
    /// (MPSC for several workers to post at once; an SPSC ring works too, its one producer
    /// shared by the workers under a lock).
    ///
    /// # Errors
    ///
    /// [`RecordTargetError::TooSmall`] when the ring's largest record cannot hold a completion
    /// record with its attributes ([`COMPLETION_RECORD_LEN`] bytes: any data area of 256 bytes
    /// or more can); [`RecordTargetError::Handle`] when the first producer cannot be made (an
    /// SPSC ring's claim is held, or every producer record of an MPSC ring is taken).
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_aio::{RecordTargetError, Target};
    /// use ring_core::record::{RecordConfig, RecordRing};
    /// use ring_core::Mode;
    ///
    /// let ring = RecordRing::create_heap(RecordConfig::new(4096).mode(Mode::Mpsc)).unwrap();
    /// let target = Target::records(&ring).unwrap();
    /// assert_eq!(target.capacity(), 4096);
    /// assert!(target.has_attributes());
    ///
    /// let tiny = RecordRing::create_heap(RecordConfig::new(64).mode(Mode::Mpsc)).unwrap();
    /// assert!(matches!(Target::records(&tiny), Err(RecordTargetError::TooSmall { .. })));
    /// ```
    pub fn records<M: Memory>(ring: &RecordRing<M>) -> Result<Self, RecordTargetError> {
        let max_record_len = ring.max_record_len();
        if (max_record_len as usize) < COMPLETION_RECORD_LEN {
            return Err(RecordTargetError::TooSmall {
                max_record_len,
                needed: COMPLETION_RECORD_LEN,
            });
        }
        let shared = ring.producer()?;
        let make: Option<Box<MakeRecordProducer>> = if ring.mode() == Mode::Mpsc {
            let ring = ring.clone();
            Some(Box::new(move || ring.producer()))
        } else {
            None
        };
        Ok(Target {
            inner: Arc::new(TargetInner {
                id: NEXT_TARGET.fetch_add(1, Ordering::Relaxed),
                sink: Sink::Records {
                    make,
                    shared: Mutex::new(shared),
                },
                capacity: ring.capacity(),
                returned: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The ring's capacity (entries of a completion ring, bytes of a record ring's data
    /// area).
    pub fn capacity(&self) -> u32 {
        self.inner.capacity
    }

    /// Whether completions carry attributes (a record ring target).
    pub fn has_attributes(&self) -> bool {
        self.inner.wants_attrs()
    }

    /// Takes the completions meant for this ring that a [`crate::Pool`] could not post when
    /// it was dropped, each with the reason in words: the ring stayed full (with its
    /// overflow area) for the pool's [`crate::PoolConfig::shutdown_timeout`], or refused the
    /// completion. A dropped pool does not wait for room for ever; it hands such completions
    /// here, to whoever still holds the target (any clone), so that none is lost. Empty
    /// unless a pool was dropped while nobody made room in this ring.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_aio::{Op, Pool, PoolConfig, Submission, Target};
    /// use ring_core::{Completion, Config, Mode, Ring};
    /// use std::time::Duration;
    ///
    /// // A ring of 4 and nobody reaping: the fifth completion finds no room.
    /// let ring = Ring::<Completion>::create_heap(Config::new(4).mode(Mode::Mpsc)).unwrap();
    /// let target = Target::new(&ring).unwrap();
    /// let cfg = PoolConfig::new().max_workers(1).shutdown_timeout(Duration::from_millis(50));
    /// let pool = Pool::new(cfg).unwrap();
    /// for i in 0..6 {
    ///     pool.submit(Submission::new(Op::nop(), &target).cookie(i)).unwrap();
    /// }
    /// drop(pool); // waits up to 50 ms for room, then hands the rest to the target
    /// let back = target.take_undelivered();
    /// let mut rx = ring.consumer().unwrap();
    /// let mut out = [Completion::default(); 8];
    /// let in_ring = rx.reap(&mut out, 0, None).unwrap();
    /// assert_eq!((in_ring, back.len()), (4, 2));
    /// ```
    pub fn take_undelivered(&self) -> Vec<(Completion, String)> {
        std::mem::take(
            &mut *self
                .inner
                .returned
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }
}
