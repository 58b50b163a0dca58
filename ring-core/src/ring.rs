//! [`Ring`]: a validated ring over some memory, the source of its producer and consumer
//! handles.

use crate::consumer::Consumer;
use crate::entry::Entry;
use crate::error::{ClaimError, LayoutError};
use crate::format::{self, Config, Geometry, RawRegion};
use crate::layout::{ConsumerLine, OverflowLine, ProducerLine, WaitLine};
use crate::producer::Producer;
use crate::protocol::registry::{RecoverError, Recovered};
use crate::protocol::{Mode, RawRing};
use crate::shared::{Keep, Shared};
use crate::sync::Ordering::{Acquire, Relaxed};
use alloc::sync::Arc;
use core::sync::atomic::AtomicI32;

/// Memory a ring can live in.
///
/// `Send + Sync + 'static` because producer and consumer handles own a reference to it and may
/// move to other threads.
///
/// # Safety
///
/// [`Memory::raw`] returns the same region on every call, and that region satisfies the
/// contract of [`RawRegion::new`] for as long as the value lives.
pub unsafe trait Memory: Send + Sync + 'static {
    /// The region.
    fn raw(&self) -> RawRegion;

    /// Whether every byte of the region is known to be zero (freshly created memory), so that
    /// formatting may skip writing zeroes (see [`format::format`]). `false` unless overridden.
    /// An implementation must stop reporting `true` once anything may have written the bytes
    /// (for example after handing out the base address or the file descriptor): stale bytes
    /// taken for zeroes make the overflow area report corruption.
    fn is_fresh_zeroed(&self) -> bool {
        false
    }
}

// SAFETY: the caller of `RawRegion::new` promised the contract for the region's whole use.
unsafe impl Memory for RawRegion {
    fn raw(&self) -> RawRegion {
        *self
    }
}

/// A ring of `T` in memory `M`: validated once, addressed through trusted private copies.
///
/// [`Ring::producer`] and [`Ring::consumer`] make handles that own a reference to the ring's
/// memory, so they can move to other threads and outlive the `Ring` value; cloning a `Ring` is
/// cheap (a reference count). Another process attaches its own `Ring` to the same memory.
///
/// # Dropping
///
/// The memory is released when the last of the `Ring` values and the handles made from them
/// is dropped. For a ring made by `Ring::create_shm` (or over a region from
/// `Region::shm_create` or `Region::hugetlbfs_create`) that also **removes the file's name**:
/// processes that have attached keep their mappings, but one that has not attached yet will
/// not find the ring. Keep the creator alive until its peers have attached, or call
/// `ring.region().keep_file()` to leave the file in place. A ring attached with
/// `Ring::open_shm` never removes the name; a creator that is killed leaves it behind.
///
/// # Examples
///
/// ```
/// use ring_core::{Completion, Config, Ring};
///
/// let ring = Ring::<Completion>::create_heap(Config::new(8)).unwrap();
/// let mut tx = ring.producer().unwrap();
/// let mut rx = ring.consumer().unwrap();
/// let t = std::thread::spawn(move || tx.push(Completion::new(1, 0, 0)).unwrap());
/// t.join().unwrap();
/// assert_eq!(rx.pop().unwrap().user_data, 1);
/// ```
pub struct Ring<T: Entry, M: Memory = crate::DefaultMemory> {
    /// The protocol view, pointing into `shared.mem`; valid while `shared` lives.
    raw: RawRing<'static, T>,
    region: RawRegion,
    geo: Geometry,
    shared: Arc<Shared<M>>,
}

impl<T: Entry, M: Memory> Clone for Ring<T, M> {
    fn clone(&self) -> Self {
        Ring {
            raw: self.raw,
            region: self.region,
            geo: self.geo,
            shared: self.shared.clone(),
        }
    }
}

// SAFETY: all shared state is reached through atomics or protocol-arbitrated payload cells;
// `T: Send + Sync` (Entry) and `M: Send + Sync` (Memory).
unsafe impl<T: Entry, M: Memory> Send for Ring<T, M> {}
// SAFETY: as above; `&Ring` only hands out handles whose operations follow the protocol.
unsafe impl<T: Entry, M: Memory> Sync for Ring<T, M> {}

impl<T: Entry, M: Memory> core::fmt::Debug for Ring<T, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ring")
            .field("geometry", &self.geo)
            .field("region", &self.region)
            .finish()
    }
}

/// The shared words of a ring: its producer, consumer, overflow and wait lines, for inspection
/// tools and for tests that play a hostile peer ([`Ring::lines`]).
///
/// Every field of these lines is an atomic, so reading or writing them is memory-safe whatever
/// the ring is doing; writing them breaks the ring for honest participants exactly as a
/// hostile peer would (spec/PROTOCOL.md, "The untrusted peer").
#[derive(Copy, Clone, Debug)]
pub struct Lines<'a> {
    producer: &'a ProducerLine,
    consumer: &'a ConsumerLine,
    overflow: Option<&'a OverflowLine>,
    wait: Option<&'a WaitLine>,
    overflow_capacity: u32,
}

impl<'a> Lines<'a> {
    /// The producer line (`tail`, the producer claim, producer counters).
    pub fn producer_line(&self) -> &'a ProducerLine {
        self.producer
    }

    /// The consumer line (`head`, the consumer claim).
    pub fn consumer_line(&self) -> &'a ConsumerLine {
        self.consumer
    }

    /// The overflow line, if the ring has an overflow area.
    pub fn overflow_line(&self) -> Option<&'a OverflowLine> {
        self.overflow
    }

    /// The wait line, if the ring has the wait block.
    pub fn wait_line(&self) -> Option<&'a WaitLine> {
        self.wait
    }

    /// The number of slots in the overflow area (0 without one).
    pub fn overflow_capacity(&self) -> u32 {
        self.overflow_capacity
    }
}

/// A snapshot of a ring's indices and counters (each read separately: a consistent snapshot
/// only when the ring is quiet).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Producer index of the ring.
    pub tail: u32,
    /// Consumer index of the ring.
    pub head: u32,
    /// Refusal episodes: reservations refused for lack of space (the ring full and, if there
    /// is one, the overflow area full too), counted once per run of consecutive refusals by
    /// one producer handle (a granted reservation ends the run).
    pub full_refusals: u64,
    /// Reserved slots published as discarded.
    pub discarded: u64,
    /// Entries that went through the overflow area.
    pub overflowed: u64,
    /// Entries pending in the overflow area (reserved there and not yet claimed).
    pub overflow_pending: u32,
    /// Whether the overflow area is active (producers route entries to it).
    pub overflow_active: bool,
    /// Times the overflow area was activated.
    pub overflow_activations: u64,
    /// Wake-ups issued (by producers or forced).
    pub wakeups: u64,
    /// Times a consumer went to sleep.
    pub sleeps: u64,
    /// Consumers currently announced as sleeping or about to: futex sleepers plus eventfd
    /// waiters (the two halves of the wait line's `waiters` word).
    pub waiters: u32,
}

impl<T: Entry, M: Memory> Ring<T, M> {
    /// Formats `mem` as a new, empty ring and returns it.
    ///
    /// # Errors
    ///
    /// [`LayoutError::Capacity`] for a capacity that is not a power of two in `2..=2^31`,
    /// [`LayoutError::Misaligned`] / [`LayoutError::RegionTooShort`] for unsuitable memory.
    ///
    /// Formatting memory that others are using is not undefined behaviour (they treat the
    /// ring's contents as untrusted) but breaks their ring: attach from other processes after
    /// this returns.
    pub fn create(mem: M, cfg: Config) -> Result<Self, LayoutError> {
        let region = mem.raw();
        let geo = format::format::<T>(&region, &cfg, crate::current_pid(), mem.is_fresh_zeroed())?;
        Ok(Self::new(mem, region, geo))
    }

    /// Validates `mem` as an existing ring of `T` (made by this or another process).
    ///
    /// # Errors
    ///
    /// A [`LayoutError`] naming the first header field found inconsistent.
    pub fn attach(mem: M) -> Result<Self, LayoutError> {
        let region = mem.raw();
        let geo = format::attach::<T>(&region)?;
        Ok(Self::new(mem, region, geo))
    }

    fn new(mem: M, region: RawRegion, geo: Geometry) -> Self {
        // SAFETY: `geo` was validated from `region` for `T`, and `region` is `mem`'s range,
        // which stays valid while `mem` lives; `mem` moves into the `Arc` below, which every
        // holder of `raw` (this value, its clones, its handles) keeps alive.
        let raw = unsafe { geo.raw::<T>(&region) };
        Ring {
            raw,
            region,
            geo,
            shared: Arc::new(Shared {
                mem,
                eventfd: AtomicI32::new(-1),
            }),
        }
    }

    /// Like [`Ring::attach`], also requiring the given mode.
    pub fn attach_mode(mem: M, mode: Mode) -> Result<Self, LayoutError> {
        let ring = Self::attach(mem)?;
        if ring.geo.mode != mode {
            return Err(LayoutError::ModeMismatch {
                expected: mode.bits(),
                found: ring.geo.mode.bits(),
            });
        }
        Ok(ring)
    }

    /// The protocol view of the ring.
    pub(crate) fn raw(&self) -> RawRing<'_, T> {
        self.raw
    }

    /// This process's eventfd slot for the ring.
    pub(crate) fn eventfd_slot(&self) -> &AtomicI32 {
        &self.shared.eventfd
    }

    /// The ring's shared lines, for inspection (and for tests that play a hostile peer).
    pub fn lines(&self) -> Lines<'_> {
        let raw = self.raw();
        Lines {
            producer: raw.prod,
            consumer: raw.cons,
            overflow: raw.overflow_line(),
            wait: raw.wait_line(),
            overflow_capacity: raw.overflow_capacity(),
        }
    }

    /// The validated geometry (trusted copies of the header).
    pub fn geometry(&self) -> &Geometry {
        &self.geo
    }

    /// The memory the ring lives in.
    pub fn memory(&self) -> &M {
        &self.shared.mem
    }

    /// Number of slots.
    pub fn capacity(&self) -> u32 {
        self.geo.capacity
    }

    /// The ring's mode.
    pub fn mode(&self) -> Mode {
        self.geo.mode
    }

    /// An estimate of how many entries are in the ring (exact when nothing is in flight).
    pub fn len(&self) -> u32 {
        self.raw().len_estimate()
    }

    /// Whether the ring looks empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The end-of-stream state (layout 1.3): whether the stream is closed, whether a producer
    /// asked to close it, and how many producers take part (multi-producer rings). A ring laid
    /// out without the end-of-stream word ([`Config::legacy`](crate::Config#structfield.legacy))
    /// always reads as open.
    ///
    /// A producer process that died without closing leaves the stream open (it is never
    /// closed by a death): consumers keep waiting, and their waits end by their timeouts. In
    /// multi-producer rings with producer records, recovery ([`Ring::recover`], run by waiting
    /// consumers on their own) makes a dead producer leave, so a stream that another producer
    /// asked to close closes once the dead one is recovered. In single-producer rings a
    /// successor may take the dead producer's claim over and go on.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Mode, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(8).mode(Mode::Mpsc)).unwrap();
    /// let (a, b) = (ring.producer().unwrap(), ring.producer().unwrap());
    /// assert_eq!(ring.stream().producers, 2);
    /// a.close(); // asks to close; b still takes part
    /// assert!(!ring.stream().closed && ring.stream().close_requested);
    /// drop(b); // the last producer leaves: closed
    /// assert!(ring.stream().closed);
    /// ```
    pub fn stream(&self) -> crate::StreamState {
        let raw = self.raw();
        crate::StreamState::from_word(if raw.stream {
            raw.prod.stream.load(Acquire)
        } else {
            0
        })
    }

    /// The indices and counters.
    pub fn counters(&self) -> Counters {
        let raw = self.raw();
        let ovf = raw.overflow_line();
        let w = raw.wait_line();
        Counters {
            tail: raw.prod.tail.load(Acquire),
            head: raw.cons.head.load(Acquire),
            full_refusals: raw.prod.full_refusals.load(Relaxed),
            discarded: raw.prod.discarded.load(Relaxed),
            overflowed: ovf.map_or(0, |o| o.overflowed.load(Relaxed)),
            overflow_pending: raw.overflow_pending(),
            overflow_active: raw.overflow_active(),
            overflow_activations: ovf.map_or(0, |o| o.activations.load(Relaxed)),
            wakeups: w.map_or(0, |w| w.wakeups.load(Relaxed)),
            sleeps: w.map_or(0, |w| w.sleeps.load(Relaxed)),
            waiters: w.map_or(0, |w| {
                let v = w.waiters.load(Relaxed);
                (v & crate::layout::waiters::FUTEX_MASK) + (v >> 16)
            }),
        }
    }

    /// A producer handle. In single-producer modes this claims the producer side (recorded in
    /// shared memory, so across processes too) until the handle is dropped; a claim left by a
    /// process that no longer exists is taken over. The handle owns a reference to the ring.
    ///
    /// # Errors
    ///
    /// [`ClaimError::Busy`] if another live producer holds the claim;
    /// [`ClaimError::Corrupt`] if the shared indices are inconsistent.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{ClaimError, Config, Ring};
    ///
    /// let ring = Ring::<u32>::create_heap(Config::new(8)).unwrap();
    /// let tx = ring.producer().unwrap();
    /// assert!(matches!(ring.producer(), Err(ClaimError::Busy { .. }))); // SPSC: one producer
    /// drop(tx);
    /// assert!(ring.producer().is_ok());
    /// ```
    pub fn producer(&self) -> Result<Producer<T>, ClaimError> {
        let (keep, eventfd) = self.keep();
        // SAFETY: `self.raw` and `eventfd` point into `self.shared`, which `keep` keeps alive.
        unsafe { Producer::new(self.raw, keep, eventfd) }
    }

    /// A consumer handle; claims the consumer side in single-consumer modes (see
    /// [`Ring::producer`]).
    ///
    /// # Errors
    ///
    /// As for [`Ring::producer`].
    pub fn consumer(&self) -> Result<Consumer<T>, ClaimError> {
        let (keep, eventfd) = self.keep();
        // SAFETY: as in `producer`.
        unsafe { Consumer::new(self.raw, keep, eventfd) }
    }

    /// Recovery: finds positions reserved by producers whose processes no longer exist and that
    /// they never published, and publishes them as discarded, so that consumers get past them.
    /// In multi-producer rings (layout 1.2 producer records) it also frees the dead producers'
    /// records; in single-producer rings it takes the producer claim over from a dead holder
    /// for the duration (as a successor producer would, spec/PROTOCOL.md, section 17). Never
    /// touches a live producer's reservations, however slow it is (section 17.1). Consumers
    /// waiting with `Consumer::reap` or `Consumer::wait` run it themselves when they are held
    /// up in multi-producer rings; call it from a supervisor, or after learning that a producer
    /// process died, to unblock polling consumers.
    ///
    /// # Errors
    ///
    /// [`RecoverError::NoRecords`] for a multi-producer ring without producer records (layout
    /// 1.1); [`RecoverError::Busy`] while another live process recovers, or, in a
    /// single-producer ring, while a live producer holds the claim.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Mode, Ring};
    ///
    /// let ring = Ring::<u64>::create_heap(Config::new(8).mode(Mode::Mpsc)).unwrap();
    /// ring.producer().unwrap().push(1).unwrap();
    /// // Nothing is stuck: recovery finds nothing to do.
    /// assert_eq!(ring.recover().unwrap().positions, 0);
    /// ```
    pub fn recover(&self) -> Result<Recovered, RecoverError> {
        crate::protocol::registry::recover(&self.raw)
    }

    /// A producer and a consumer (the usual start for SPSC rings).
    ///
    /// # Errors
    ///
    /// As for [`Ring::producer`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let (mut tx, mut rx) = Ring::<u64>::create_heap(Config::new(64)).unwrap().split().unwrap();
    /// let t = std::thread::spawn(move || {
    ///     for i in 0..1000 {
    ///         while tx.push(i).is_err() {
    ///             std::thread::yield_now();
    ///         }
    ///     }
    /// });
    /// let mut sum = 0;
    /// let mut got = 0;
    /// while got < 1000 {
    ///     if let Ok(v) = rx.pop() {
    ///         sum += v;
    ///         got += 1;
    ///     }
    /// }
    /// t.join().unwrap();
    /// assert_eq!(sum, 999 * 1000 / 2);
    /// ```
    pub fn split(&self) -> Result<(Producer<T>, Consumer<T>), ClaimError> {
        Ok((self.producer()?, self.consumer()?))
    }

    /// A reference to the shared state for a new handle, and the eventfd slot inside it with
    /// the lifetime the handle's fields carry.
    fn keep(&self) -> (Arc<dyn Keep>, &'static AtomicI32) {
        let keep: Arc<dyn Keep> = self.shared.clone();
        // SAFETY: the slot lives inside the `Arc` allocation, which does not move and lives
        // as long as any clone of the `Arc`; the handle stores `keep` next to this reference
        // and drops it after every field that points into it.
        let eventfd = unsafe { &*core::ptr::addr_of!(self.shared.eventfd) };
        (keep, eventfd)
    }
}
