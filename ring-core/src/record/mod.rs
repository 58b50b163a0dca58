//! The byte ring: variable-length records in the same region format (spec/RECORDS.md).
//!
//! A [`RecordRing`] lays a data area of a power-of-two number of bytes over memory you choose,
//! like [`crate::Ring`], and carries records of any length up to half of it: each is an 8-byte
//! header (its position as a sequence field, its length, a type, DISCARD/BUSY flags) followed by
//! the payload, 8-byte aligned, with a padding record where one would cross the end of the
//! area. Producers write records in place ([`RecordProducer::reserve`]); the consumer reads
//! them in place ([`RecordConsumer::read`]). Modes: SPSC and MPSC (lock-free reservation by
//! compare-and-swap; a producer stalled inside a record holds up only what follows it).
//! [`attrs`] encodes completions followed by attributes.
//!
//! Each handle picks its flavor once, when it is made: the SPSC producer
//! keeps its position privately and publishes with one Release store per record; the MPSC
//! producer reserves by compare-and-swap of the 64-bit `tail` word; the consumer of an MPSC
//! ring treats unwritten headers as pending and zeroes what it releases.
//!
//! # Examples
//!
//! ```
//! use ring_core::record::{RecordConfig, RecordRing};
//!
//! let ring = RecordRing::create_heap(RecordConfig::new(4096)).unwrap();
//! let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
//! let mut rec = tx.reserve(5).unwrap();
//! rec.write(0, b"hello");
//! rec.commit();
//! tx.push(b"world!").unwrap();
//! assert_eq!(rx.read().unwrap().to_vec(), b"hello");
//! let mut buf = Vec::new();
//! rx.pop_into(&mut buf).unwrap();
//! assert_eq!(buf, b"world!");
//! assert!(rx.read().is_err()); // empty
//! ```

pub mod attrs;
#[cfg(all(feature = "std", not(ring_core_loom)))]
mod blocking;
pub mod errors;
pub mod format;
pub mod layout;
#[cfg(ring_core_loom)]
pub mod model;
mod mpsc;
mod overflow;
mod recovery;
mod rx;
mod spsc;

pub use errors::{
    HandleError, ReadError, RecordCorruption, RecordLayoutError, RecordWaitError, ReserveError,
};
pub use format::{attach_records, format_records, RecordConfig, RecordGeometry};

use crate::format::RawRegion;
use crate::layout::{ConsumerLine, WaitLine};
use crate::protocol::wait::Waker;
use crate::protocol::Mode;
use crate::ring::Memory;
use crate::shared::{Keep, Shared};
use crate::sync::{AtomicU32, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::AtomicI32;
use layout::{record_type, tail_pos, Area, RecordProducerLine, DISCARD, RECORD_ALIGN};

/// The protocol view of a record ring: trusted copies only.
#[derive(Copy, Clone, Debug)]
pub(crate) struct RawRecords<'a> {
    pub(crate) area: Area<'a>,
    pub(crate) prod: &'a RecordProducerLine,
    pub(crate) cons: &'a ConsumerLine,
    pub(crate) wait: Option<&'a WaitLine>,
    pub(crate) mode: Mode,
    /// The producer records (MPSC rings that have them, and rings with an overflow area).
    pub(crate) registry: Option<crate::protocol::registry::Registry<'a>>,
    /// The overflow area, if the ring has one.
    pub(crate) overflow: Option<overflow::OverflowArea<'a>>,
    /// `INCOMPAT_RELEASE_END`: a starting consumer finishes an announced release (7.3).
    pub(crate) release_end: bool,
}

/// A reservation: where it started (before any padding record), where the record is, and its
/// payload length.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Resv {
    pub(crate) start: u32,
    pub(crate) pos: u32,
    pub(crate) len: u32,
}

/// A record ring in memory `M`: validated once, addressed through trusted private copies.
///
/// # Examples
///
/// ```
/// use ring_core::record::{RecordConfig, RecordRing};
/// use ring_core::Mode;
///
/// let ring = RecordRing::create_heap(RecordConfig::new(1024).mode(Mode::Mpsc)).unwrap();
/// std::thread::scope(|s| {
///     for t in 0..2u8 {
///         let ring = &ring;
///         s.spawn(move || {
///             let mut tx = ring.producer().unwrap();
///             for i in 0..50u8 {
///                 while tx.push(&[t, i]).is_err() {
///                     std::thread::yield_now();
///                 }
///             }
///         });
///     }
///     let mut rx = ring.consumer().unwrap();
///     let mut got = 0;
///     while got < 100 {
///         if let Ok(r) = rx.read() {
///             assert_eq!(r.len(), 2);
///             got += 1;
///         }
///     }
/// });
/// ```
pub struct RecordRing<M: Memory = crate::DefaultMemory> {
    raw: RawRecords<'static>,
    geo: RecordGeometry,
    shared: Arc<Shared<M>>,
}

// SAFETY: all shared state is reached through atomics or protocol-arbitrated payload bytes;
// `M: Send + Sync`.
unsafe impl<M: Memory> Send for RecordRing<M> {}
// SAFETY: as above; `&RecordRing` only hands out handles that follow the protocol.
unsafe impl<M: Memory> Sync for RecordRing<M> {}

impl<M: Memory> Clone for RecordRing<M> {
    fn clone(&self) -> Self {
        RecordRing {
            raw: self.raw,
            geo: self.geo,
            shared: self.shared.clone(),
        }
    }
}

impl<M: Memory> core::fmt::Debug for RecordRing<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecordRing")
            .field("geometry", &self.geo)
            .finish()
    }
}

/// Counters and positions of a record ring (a snapshot; the words move while it is taken).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordCounters {
    /// Producer position.
    pub tail: u32,
    /// Reservations made (MPSC; wraps; 0 in SPSC).
    pub reservations: u32,
    /// Consumer position.
    pub head: u32,
    /// Reservations refused for lack of room.
    pub full_refusals: u64,
    /// Records committed as discarded.
    pub discarded: u64,
    /// Wake-ups issued (0 without a wait block).
    pub wakeups: u64,
    /// Times a consumer was about to sleep (0 without a wait block).
    pub sleeps: u64,
    /// Records committed in the overflow area (discarded ones not counted; 0 without one).
    pub overflowed: u64,
    /// Times the overflow area went from inactive to active.
    pub activations: u64,
    /// Overflow producer position (the tail bits of `state`).
    pub overflow_tail: u32,
    /// Overflow consumer position.
    pub overflow_head: u32,
    /// Whether the overflow area is active (producers route every record to it).
    pub overflow_active: bool,
}

impl<M: Memory> RecordRing<M> {
    /// Formats `mem` as a new, empty record ring.
    ///
    /// # Errors
    ///
    /// [`RecordLayoutError`] for an invalid configuration or unsuitable memory.
    pub fn create(mem: M, cfg: RecordConfig) -> Result<Self, RecordLayoutError> {
        let region = mem.raw();
        let geo = format_records(&region, &cfg, crate::current_pid(), mem.is_fresh_zeroed())?;
        Ok(Self::new(mem, region, geo))
    }

    /// Validates `mem` as an existing record ring (made by this or another process).
    ///
    /// # Errors
    ///
    /// The first [`RecordLayoutError`] found (spec/RECORDS.md, section 3.2).
    pub fn attach(mem: M) -> Result<Self, RecordLayoutError> {
        let region = mem.raw();
        let geo = attach_records(&region)?;
        Ok(Self::new(mem, region, geo))
    }

    #[cfg(not(ring_core_loom))]
    fn new(mem: M, region: RawRegion, geo: RecordGeometry) -> Self {
        let base = region.as_ptr();
        // SAFETY: attach validated every block inside the region (128-byte aligned, expected
        // lengths); `mem` moves into the `Arc` that every holder of these references keeps
        // alive; the structs are all atomics.
        let raw = unsafe {
            RawRecords {
                area: Area::new(base.add(geo.data_offset as usize), geo.capacity),
                prod: &*(base.add(geo.producer_offset as usize) as *const RecordProducerLine),
                cons: &*(base.add(geo.consumer_offset as usize) as *const ConsumerLine),
                wait: geo
                    .wait_offset
                    .map(|o| &*(base.add(o as usize) as *const WaitLine)),
                mode: geo.mode,
                registry: geo
                    .producers_offset
                    .map(|o| crate::protocol::registry::Registry {
                        line: &*(base.add(o as usize) as *const crate::layout::RegistryLine),
                        records: core::slice::from_raw_parts(
                            base.add(o as usize + crate::layout::LINE_LEN as usize)
                                as *const crate::layout::ProducerRecord,
                            geo.producer_slots as usize,
                        ),
                    }),
                overflow: geo.overflow_offset.map(|o| overflow::OverflowArea {
                    line: &*(base.add(o as usize) as *const crate::layout::OverflowLine),
                    area: Area::new(
                        base.add(o as usize + crate::layout::LINE_LEN as usize),
                        geo.overflow_capacity,
                    ),
                }),
                release_end: geo.release_end,
            }
        };
        RecordRing {
            raw,
            geo,
            shared: Arc::new(Shared {
                mem,
                eventfd: AtomicI32::new(-1),
            }),
        }
    }

    #[cfg(ring_core_loom)]
    fn new(_mem: M, _region: RawRegion, _geo: RecordGeometry) -> Self {
        unimplemented!("model builds use record::model::HeapRecordRing")
    }

    /// The trusted geometry.
    pub fn geometry(&self) -> &RecordGeometry {
        &self.geo
    }

    /// The memory the ring lives in.
    pub fn memory(&self) -> &M {
        &self.shared.mem
    }

    /// Bytes of the data area.
    pub fn capacity(&self) -> u32 {
        self.geo.capacity
    }

    /// The largest payload a record may have in this ring.
    pub fn max_record_len(&self) -> u32 {
        layout::max_record_len(self.geo.capacity)
    }

    /// SPSC or MPSC.
    pub fn mode(&self) -> Mode {
        self.geo.mode
    }

    /// A snapshot of the positions and counters.
    pub fn counters(&self) -> RecordCounters {
        counters(&self.raw)
    }

    /// Recovery of dead MPSC producers (spec/RECORDS.md, section 7.2): commits as discarded
    /// every record that a producer whose process no longer exists reserved and never
    /// committed, and frees those producers' records. Never touches a live producer's record.
    ///
    /// # Errors
    ///
    /// [`crate::RecoverError::NoRecords`] for an SPSC ring (or an MPSC ring without producer
    /// records); [`crate::RecoverError::Busy`] while another live process recovers.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::record::{RecordConfig, RecordRing};
    /// use ring_core::Mode;
    ///
    /// let ring = RecordRing::create_heap(RecordConfig::new(256).mode(Mode::Mpsc)).unwrap();
    /// ring.producer().unwrap().push(b"x").unwrap();
    /// assert_eq!(ring.recover().unwrap().positions, 0); // nothing stuck
    /// ```
    pub fn recover(&self) -> Result<crate::Recovered, crate::RecoverError> {
        recovery::recover(&self.raw)
    }

    fn keep(&self) -> (Arc<dyn Keep>, &'static AtomicI32) {
        let keep: Arc<dyn Keep> = self.shared.clone();
        // SAFETY: the slot lives inside the `Arc` allocation, which does not move and lives as
        // long as any clone; the handle keeps `keep` next to this reference.
        let eventfd = unsafe { &*core::ptr::addr_of!(self.shared.eventfd) };
        (keep, eventfd)
    }

    /// A producer handle; in SPSC it takes the producer claim word.
    ///
    /// # Errors
    ///
    /// [`HandleError::Claim`] when another live producer holds an SPSC ring;
    /// [`HandleError::Corrupt`] when the positions found are inconsistent.
    pub fn producer(&self) -> Result<RecordProducer, HandleError> {
        let (keep, eventfd) = self.keep();
        RecordProducer::new(self.raw, keep, eventfd)
    }

    /// The consumer handle (takes the consumer claim word).
    ///
    /// # Errors
    ///
    /// As for [`RecordRing::producer`].
    pub fn consumer(&self) -> Result<RecordConsumer, HandleError> {
        let (keep, eventfd) = self.keep();
        RecordConsumer::new(self.raw, keep, eventfd)
    }
}

#[cfg(feature = "std")]
impl RecordRing<crate::Region> {
    /// A record ring on the heap (zeroed memory), for threads of one process.
    ///
    /// # Errors
    ///
    /// [`crate::RegionError`] for an invalid configuration or failed allocation.
    pub fn create_heap(cfg: RecordConfig) -> Result<Self, crate::RegionError> {
        let len = cfg.region_len().map_err(region_error)?;
        let mem = crate::Region::heap(len as usize)?;
        Self::create(mem, cfg).map_err(region_error)
    }

    /// A record ring in a new memfd, whose descriptor another process can map
    /// ([`crate::Region::from_fd`], then [`RecordRing::attach`]).
    ///
    /// # Errors
    ///
    /// As for [`RecordRing::create_heap`].
    pub fn create_memfd(name: &str, cfg: RecordConfig) -> Result<Self, crate::RegionError> {
        let len = cfg.region_len().map_err(region_error)?;
        let mem = crate::Region::memfd(name, len as usize)?;
        Self::create(mem, cfg).map_err(region_error)
    }
}

#[cfg(feature = "std")]
fn region_error(e: RecordLayoutError) -> crate::RegionError {
    match e {
        RecordLayoutError::Layout(l) => l.into(),
        RecordLayoutError::DataCapacity { found } => crate::LayoutError::Capacity { found }.into(),
        RecordLayoutError::Mode { found } => crate::LayoutError::Mode { found }.into(),
        RecordLayoutError::NotRecords { incompat }
        | RecordLayoutError::Features { bits: incompat } => {
            crate::LayoutError::UnknownIncompatFeatures { bits: incompat }.into()
        }
        RecordLayoutError::InitialPosition { found } => {
            crate::LayoutError::Capacity { found }.into()
        }
    }
}

pub(crate) fn counters(raw: &RawRecords<'_>) -> RecordCounters {
    let w = raw.prod.tail.load(Acquire);
    let (wakeups, sleeps) = raw.wait.map_or((0, 0), |l| {
        (l.wakeups.load(Relaxed), l.sleeps.load(Relaxed))
    });
    let mut c = RecordCounters {
        tail: tail_pos(w),
        reservations: (w >> 32) as u32,
        head: raw.cons.head.load(Acquire),
        full_refusals: raw.prod.full_refusals.load(Relaxed),
        discarded: raw.prod.discarded.load(Relaxed),
        wakeups,
        sleeps,
        ..RecordCounters::default()
    };
    if let Some(o) = raw.overflow {
        let s = o.line.state.load(Acquire);
        c.overflowed = o.line.overflowed.load(Relaxed);
        c.activations = o.line.activations.load(Relaxed);
        c.overflow_tail = tail_pos(s);
        c.overflow_head = o.line.head.load(Acquire);
        c.overflow_active = s & layout::OVERFLOW_ACTIVE != 0;
    }
    c
}

enum TxFlavor<'a> {
    Spsc(spsc::SpscTx<'a>),
    Mp(mpsc::MpTx<'a>),
}

/// A producer handle of a record ring.
///
/// Dropping it gives the SPSC claim back.
pub struct RecordProducer {
    flavor: TxFlavor<'static>,
    /// The overflow area (rings that have one): routing, spilling, committing there.
    ovf: Option<overflow::OvfTx<'static>>,
    owner: Option<(&'static AtomicU32, u32)>,
    /// The producer record held (MPSC with records): registry and index.
    record: Option<(crate::protocol::registry::Registry<'static>, u32)>,
    _keep: Arc<dyn Keep>,
}

// SAFETY: the flavor holds references into memory kept alive by `_keep`, reached through
// atomics or bytes this producer owns under the protocol.
unsafe impl Send for RecordProducer {}

impl core::fmt::Debug for RecordProducer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let flavor = match self.flavor {
            TxFlavor::Spsc(_) => "Spsc",
            TxFlavor::Mp(_) => "Mp",
        };
        f.debug_struct("RecordProducer")
            .field("flavor", &flavor)
            .finish()
    }
}

impl RecordProducer {
    pub(crate) fn new(
        raw: RawRecords<'static>,
        keep: Arc<dyn Keep>,
        eventfd: &'static AtomicI32,
    ) -> Result<Self, HandleError> {
        // Records carry no wake-up targets (positions are bytes): wake after every publication.
        let wait = raw.wait.map(|line| Waker {
            line,
            eventfd,
            targets: false,
        });
        // A producer record: every MPSC producer of a ring that has them, and every producer
        // of a ring with an overflow area (RR1).
        let record = match raw.registry {
            Some(reg) if raw.mode == Mode::Mpsc || raw.overflow.is_some() => {
                let index = match reg.register() {
                    Some(i) => i,
                    None => {
                        // Every record held: free the dead owners' records, once.
                        let _ = recovery::recover(&raw);
                        reg.register().ok_or(HandleError::Claim(
                            crate::ClaimError::NoProducerRecord {
                                records: reg.records.len() as u32,
                            },
                        ))?
                    }
                };
                // Byte intents start empty (nothing reserved), not at one position. Release:
                // a consumer that reads this 0 as "no intent" (RECORDS.md 7.3) must also see
                // the records the previous holder committed before it gave the record back.
                if let Some(rec) = reg.record(index) {
                    rec.ring_len.store(0, Release);
                    rec.overflow_len.store(0, Release);
                }
                Some((reg, index))
            }
            _ => None,
        };
        let unregister = |record: Option<(crate::protocol::registry::Registry<'_>, u32)>| {
            if let Some((reg, index)) = record {
                reg.unregister(index);
            }
        };
        let rec = record.and_then(|(reg, i)| reg.record(i));
        let ovf = raw.overflow.map(|o| {
            overflow::OvfTx::new(
                o,
                &raw.prod.full_refusals,
                &raw.prod.discarded,
                rec.map(crate::protocol::intent::Intent::overflow),
                wait,
            )
        });
        match raw.mode {
            Mode::Mpsc => {
                let intent = rec.map(crate::protocol::intent::Intent::ring);
                let mut tx = mpsc::MpTx::new(&raw, intent, wait);
                tx.count_full = ovf.is_none();
                Ok(RecordProducer {
                    flavor: TxFlavor::Mp(tx),
                    ovf,
                    owner: None,
                    record,
                    _keep: keep,
                })
            }
            _ => {
                let token = match crate::protocol::claim::claim(
                    &raw.prod.owner,
                    crate::error::Side::Producer,
                ) {
                    Ok(t) => t,
                    Err(e) => {
                        unregister(record);
                        return Err(e.into());
                    }
                };
                let tail = tail_pos(raw.prod.tail.load(Acquire));
                let head = raw.cons.head.load(Acquire);
                if tail.wrapping_sub(head) > raw.area.capacity()
                    || tail % RECORD_ALIGN != 0
                    || head % RECORD_ALIGN != 0
                {
                    crate::protocol::claim::unclaim(&raw.prod.owner, token);
                    unregister(record);
                    return Err(HandleError::Corrupt(RecordCorruption::IndicesOutOfRange {
                        tail,
                        head,
                    }));
                }
                if raw.overflow.is_some() {
                    // As O7: a predecessor that died inside an overflow reservation left it
                    // pending; nobody else will commit it (spec/RECORDS.md, section 13.5).
                    let _ = recovery::recover(&raw);
                }
                let mut tx = spsc::SpscTx::new(&raw, tail, head, wait);
                tx.count_full = ovf.is_none();
                Ok(RecordProducer {
                    flavor: TxFlavor::Spsc(tx),
                    ovf,
                    owner: Some((&raw.prod.owner, token)),
                    record,
                    _keep: keep,
                })
            }
        }
    }

    /// RO1-RO3 (rings with an overflow area): the data area while the overflow area is
    /// inactive and the data area has room, else the overflow area; refused when both are
    /// full. The reservation, and whether it is in the overflow area: the caller makes the
    /// `RecordMut` (inline, so that it can live in registers).
    #[cold]
    #[inline(never)]
    fn reserve_routed(&mut self, len: usize, ty: u8) -> Result<(Resv, bool), ReserveError> {
        let RecordProducer { flavor, ovf, .. } = self;
        let Some(o) = ovf.as_mut() else {
            return Err(ReserveError::Corrupt(RecordCorruption::Livelock));
        };
        let max = match flavor {
            TxFlavor::Spsc(tx) => layout::max_record_len(tx.area().capacity()),
            TxFlavor::Mp(tx) => layout::max_record_len(tx.area().capacity()),
        };
        if len > max as usize {
            return Err(ReserveError::TooLarge { len, max });
        }
        let len32 = len as u32;
        let mut s = o.state();
        for _ in 0..crate::protocol::lap::SCAN_BUDGET {
            if s & layout::OVERFLOW_ACTIVE == 0 {
                let r = match flavor {
                    TxFlavor::Spsc(tx) => tx.reserve(len),
                    TxFlavor::Mp(tx) => tx.reserve(len, ty),
                };
                match r {
                    Ok(resv) => return Ok((resv, false)),
                    Err(ReserveError::Full { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            match o.spill(s, len32, ty)? {
                overflow::Spill::Got(resv) => return Ok((resv, true)),
                overflow::Spill::Inactive(now) => s = now,
            }
        }
        Err(ReserveError::Corrupt(RecordCorruption::Livelock))
    }

    /// Reserves a data record of `len` payload bytes to write in place; commit it with
    /// [`RecordMut::commit`]. Dropping the reservation uncommitted discards it.
    ///
    /// # Errors
    ///
    /// [`ReserveError::TooLarge`] beyond [`RecordRing::max_record_len`], [`ReserveError::Full`]
    /// when the data area has no room now, [`ReserveError::Corrupt`] for corrupt positions.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::record::{RecordConfig, RecordRing, ReserveError};
    ///
    /// let ring = RecordRing::create_heap(RecordConfig::new(64)).unwrap();
    /// let mut tx = ring.producer().unwrap();
    /// assert!(matches!(tx.reserve(100), Err(ReserveError::TooLarge { max: 24, .. })));
    /// let mut r = tx.reserve(3).unwrap();
    /// r.write(0, b"abc");
    /// r.commit();
    /// ```
    #[inline]
    pub fn reserve(&mut self, len: usize) -> Result<RecordMut<'_>, ReserveError> {
        self.reserve_typed(len, record_type::DATA)
    }

    /// Like [`RecordProducer::reserve`], with a record type (`DATA`, `COMPLETION`, or a user
    /// type `32..=63`).
    ///
    /// # Panics
    ///
    /// For type `NONE`, `PAD` or above 63.
    ///
    /// # Errors
    ///
    /// As for [`RecordProducer::reserve`].
    #[inline(always)]
    pub fn reserve_typed(&mut self, len: usize, ty: u8) -> Result<RecordMut<'_>, ReserveError> {
        assert!(
            ty > record_type::PAD && ty <= record_type::MAX,
            "record type {ty} is not one a producer may write"
        );
        if self.ovf.is_some() {
            let (resv, spilled) = self.reserve_routed(len, ty)?;
            // A reservation of `len` bytes: said here, a caller's constant length stays one
            // after the paths join (and the checks against it fold away).
            let resv = Resv {
                len: len as u32,
                ..resv
            };
            let target = match &self.ovf {
                Some(o) if spilled => Target::Ovf(o),
                _ => Target::of(&mut self.flavor),
            };
            return Ok(RecordMut::new(target, resv, ty));
        }
        Ok(match &mut self.flavor {
            TxFlavor::Spsc(tx) => {
                let resv = tx.reserve(len)?;
                RecordMut::new(Target::Spsc(tx), resv, ty)
            }
            TxFlavor::Mp(tx) => {
                let resv = tx.reserve(len, ty)?;
                RecordMut::new(Target::Mp(tx), resv, ty)
            }
        })
    }

    /// Reserves, copies `bytes` in and commits a data record.
    ///
    /// # Errors
    ///
    /// As for [`RecordProducer::reserve`]; nothing is written on error.
    #[inline(always)]
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), ReserveError> {
        self.push_typed(bytes, record_type::DATA)
    }

    /// [`RecordProducer::push`] with a record type.
    ///
    /// # Errors
    ///
    /// As for [`RecordProducer::reserve`].
    #[inline(always)]
    pub fn push_typed(&mut self, bytes: &[u8], ty: u8) -> Result<(), ReserveError> {
        assert!(
            ty > record_type::PAD && ty <= record_type::MAX,
            "record type {ty} is not one a producer may write"
        );
        if self.ovf.is_some() {
            return self.push_routed(bytes, ty);
        }
        // The copy cannot fail or panic, so no guard is needed between reserve and commit.
        match &mut self.flavor {
            TxFlavor::Spsc(tx) => tx.push(bytes, ty)?,
            TxFlavor::Mp(tx) => tx.push(bytes, ty)?,
        }
        Ok(())
    }
}

impl RecordProducer {
    /// [`RecordProducer::push_typed`] on a ring with an overflow area: out of line as a whole.
    #[cold]
    #[inline(never)]
    fn push_routed(&mut self, bytes: &[u8], ty: u8) -> Result<(), ReserveError> {
        let mut r = self.reserve_typed(bytes.len(), ty)?;
        r.write(0, bytes);
        r.commit();
        Ok(())
    }
}

impl Drop for RecordProducer {
    fn drop(&mut self) {
        if let Some((word, token)) = self.owner {
            crate::protocol::claim::unclaim(word, token);
        }
        if let Some((reg, index)) = self.record {
            // Every reservation of this handle is committed by now (a `RecordMut` borrows it).
            reg.unregister(index);
        }
    }
}

/// A reserved record being written in place. [`RecordMut::commit`] publishes it;
/// [`RecordMut::discard`], or dropping it, publishes it as discarded (consumers skip it).
pub struct RecordMut<'p> {
    /// Where the record was reserved (resolved once, at reservation).
    target: Target<'p>,
    /// The data area the record lives in.
    area: Area<'static>,
    resv: Resv,
    ty: u8,
}

/// The lane a reservation was made in: the producer flavor's data area, or the overflow area.
enum Target<'p> {
    Spsc(&'p mut spsc::SpscTx<'static>),
    Mp(&'p mut mpsc::MpTx<'static>),
    Ovf(&'p overflow::OvfTx<'static>),
}

impl<'p> Target<'p> {
    /// The same lane, reborrowed (a tag and a pointer, copied).
    #[inline(always)]
    fn reborrow(&mut self) -> Target<'_> {
        match self {
            Target::Spsc(t) => Target::Spsc(t),
            Target::Mp(t) => Target::Mp(t),
            Target::Ovf(o) => Target::Ovf(o),
        }
    }

    /// The data area of the producer's flavor.
    #[inline(always)]
    fn of(flavor: &'p mut TxFlavor<'static>) -> Self {
        match flavor {
            TxFlavor::Spsc(t) => Target::Spsc(t),
            TxFlavor::Mp(t) => Target::Mp(t),
        }
    }
}

impl core::fmt::Debug for RecordMut<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecordMut")
            .field("position", &self.resv.pos)
            .field("len", &self.resv.len)
            .field("type", &self.ty)
            .finish()
    }
}

impl<'p> RecordMut<'p> {
    #[inline(always)]
    fn new(target: Target<'p>, resv: Resv, ty: u8) -> Self {
        let area = match &target {
            Target::Spsc(t) => t.area(),
            Target::Mp(t) => t.area(),
            Target::Ovf(o) => o.area(),
        };
        RecordMut {
            target,
            area,
            resv,
            ty,
        }
    }

    #[inline(always)]
    fn area(&self) -> Area<'static> {
        self.area
    }

    /// Payload bytes.
    pub fn len(&self) -> usize {
        self.resv.len as usize
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.resv.len == 0
    }

    /// The record's position.
    pub fn position(&self) -> u32 {
        self.resv.pos
    }

    /// The record type it will be committed with.
    pub fn record_type(&self) -> u8 {
        self.ty
    }

    /// Changes the record type (see [`RecordProducer::reserve_typed`]).
    ///
    /// # Panics
    ///
    /// For type `NONE`, `PAD` or above 63.
    #[inline]
    pub fn set_type(&mut self, ty: u8) {
        assert!(
            ty > record_type::PAD && ty <= record_type::MAX,
            "record type {ty} is not one a producer may write"
        );
        self.ty = ty;
    }

    /// Copies `src` into the payload from byte `at`.
    ///
    /// # Panics
    ///
    /// If `at + src.len()` exceeds the payload length.
    #[inline(always)]
    pub fn write(&mut self, at: usize, src: &[u8]) {
        // A copy: the panic message given `&self.resv.len` would take the handle's address
        // and keep it in memory on every path.
        let len = self.resv.len as usize;
        assert!(
            at.checked_add(src.len()).is_some_and(|e| e <= len),
            "write of {} bytes at {at} past a {len}-byte record",
            src.len(),
        );
        // SAFETY: the reservation is ours until committed, and its bytes lie in the area
        // (reserve placed the record so that it does not cross the end).
        unsafe { write_payload(self.area(), self.resv.pos, at, src) };
    }

    /// Stores the 8 payload bytes from `at` as one word: `w.to_le_bytes()`, what
    /// [`attrs::AttrWriter`] writes the completion and small attributes with. Unchecked, so
    /// without a panic path: a caller that holds the record across no call that may unwind
    /// keeps it in registers.
    ///
    /// # Safety
    ///
    /// `at` is a multiple of 8 and `at + 8 <= self.len()`.
    #[inline(always)]
    pub(crate) unsafe fn write_word_unchecked(&mut self, at: usize, w: u64) {
        debug_assert!(at % 8 == 0 && at + 8 <= self.resv.len as usize);
        #[cfg(not(ring_core_loom))]
        // SAFETY: the reservation is ours until committed and lies in the area (reserve placed
        // it so); the payload is 8-byte aligned (records and their 8-byte header are), so is
        // `at`: the word is an aligned `AtomicU64` inside the record (the caller's bound).
        unsafe {
            (*self
                .area()
                .payload(self.resv.pos)
                .add(at)
                .cast::<crate::sync::AtomicU64>())
            .store(u64::from_le(w), Relaxed)
        };
        #[cfg(ring_core_loom)]
        // SAFETY: as above.
        unsafe {
            self.area().write(self.resv.pos, at, &w.to_le_bytes())
        };
    }

    /// The payload, to write in place (its previous bytes are unspecified).
    ///
    /// # Safety
    ///
    /// The slice borrows memory that other participants map. The reservation makes the bytes
    /// this handle's alone under the protocol, but a peer that does not follow it (a forged
    /// position, in this process or another) could read or write them while the slice lives,
    /// which would be a data race: call this only when every participant that can write the
    /// ring's memory is trusted. [`Self::write`] and [`attrs::AttrWriter`] copy with atomic
    /// stores and need no such trust.
    #[cfg(not(ring_core_loom))]
    #[inline]
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `write`: the bytes are ours and in bounds; the slice borrows `self`,
        // which cannot be committed while it lives; the caller vouches for the peers.
        unsafe {
            core::slice::from_raw_parts_mut(
                self.area().payload(self.resv.pos),
                self.resv.len as usize,
            )
        }
    }

    /// A pointer to the first payload byte, for callers that write in place through their own
    /// means (the C ABI hands it to C code). Writing through it is the caller's `unsafe`: see
    /// [`Self::as_mut_slice`].
    #[cfg(not(ring_core_loom))]
    #[inline]
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        // SAFETY: the reservation lies inside the area (reserve placed it so); only the
        // address is computed here.
        unsafe { self.area().payload(self.resv.pos) }
    }

    /// Shrinks the payload to `len` bytes (the bytes given up are returned to the ring, as a
    /// discarded filler record in MPSC).
    ///
    /// # Panics
    ///
    /// If `len` exceeds the current length.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        assert!(
            len <= self.resv.len as usize,
            "truncate can only shrink a record"
        );
        // SAFETY: checked above.
        unsafe { self.truncate_unchecked(len) }
    }

    /// [`Self::truncate`] without its check (and its panic path).
    ///
    /// # Safety
    ///
    /// `len <= self.len()` (a larger one would make the lane publish bytes it never
    /// reserved).
    #[inline(always)]
    pub(crate) unsafe fn truncate_unchecked(&mut self, len: usize) {
        debug_assert!(len <= self.resv.len as usize);
        let len = len as u32;
        if len == self.resv.len {
            // Nothing to give back, and no store: a store into the reservation here, read back
            // as part of a wider load at the commit, could not be forwarded and would wait for
            // the payload's stores to reach the cache, which, for a record whose line the
            // consumer holds, is a transfer between cores on every record.
            return;
        }
        // Lanes with BUSY marks commit a filler for the bytes given up (SPSC publishes
        // nothing before the commit). Plain values: the address of the reservation passed to
        // an out-of-line call would keep the whole `RecordMut` in memory.
        let Resv { pos, len: old, .. } = self.resv;
        match &self.target {
            Target::Spsc(_) => {}
            Target::Mp(t) => t.truncate(pos, old, len),
            Target::Ovf(o) => o.truncate(pos, old, len),
        }
        self.resv.len = len;
    }

    /// Publishes the record with `flags` (0 or DISCARD). Called once: by `commit` and
    /// `discard`, which then forget the handle, or by `drop`.
    #[inline(always)]
    fn finish(&mut self, flags: u64) {
        match &mut self.target {
            Target::Spsc(t) => {
                t.commit(&self.resv, self.ty, flags);
                if flags != 0 {
                    t.discarded.fetch_add(1, Relaxed);
                }
            }
            Target::Mp(t) => {
                t.commit(&self.resv, self.ty, flags);
                if flags != 0 {
                    t.discarded.fetch_add(1, Relaxed);
                }
            }
            Target::Ovf(o) => o.commit(self.resv.pos, self.resv.len, self.ty, flags),
        }
    }

    /// Publishes the record.
    #[inline(always)]
    pub fn commit(mut self) {
        // Published in place, then forgotten (not published again by `drop`; a `RecordMut`
        // owns nothing to free). Not `ManuallyDrop::new(self).finish(..)`: that moves the
        // handle first, a copy that loads it whole right after its fields' narrower stores.
        self.finish(0);
        core::mem::forget(self);
    }

    /// Publishes the record as discarded: consumers skip it.
    #[inline]
    pub fn discard(mut self) {
        self.finish(DISCARD);
        core::mem::forget(self);
    }
}

impl Drop for RecordMut<'_> {
    /// Dropped uncommitted: published as discarded, out of line through the lane alone and the
    /// reservation by value (so that no address of the `RecordMut` or its fields is taken, and
    /// it can live in registers, even where a panic could drop it).
    ///
    /// One call, so that the drop glue stays small enough to be inlined into the landing pads
    /// of callers that may unwind while holding a reservation (out of line, it would take the
    /// handle's address there and keep it in memory on the hot path too).
    #[inline(always)]
    fn drop(&mut self) {
        let (resv, ty) = (self.resv, self.ty);
        discard_dropped(self.target.reborrow(), resv, ty);
    }
}

/// Copies `src` into the payload of the reserved record at `pos` from payload byte `at`:
/// word stores when `at` is a multiple of 8 (payloads are 8-byte aligned), so that a constant
/// length becomes a few stores, not a loop.
///
/// # Safety
///
/// As for [`Area::write`].
#[inline(always)]
pub(crate) unsafe fn write_payload(area: Area<'_>, pos: u32, at: usize, src: &[u8]) {
    #[cfg(not(ring_core_loom))]
    if at % 8 == 0 {
        // SAFETY: the caller's contract (owned, in bounds); payloads are 8-byte aligned, so
        // the destination is when `at` is; every access is atomic.
        unsafe { crate::sync::bytes::copy_in_aligned(area.payload(pos).add(at), src) };
        return;
    }
    // SAFETY: the caller's contract.
    unsafe { area.write(pos, at, src) }
}

/// RP3, MR4 or RO4 for a dropped reservation: publishes it as discarded.
#[cold]
#[inline(never)]
fn discard_dropped(target: Target<'_>, r: Resv, ty: u8) {
    match target {
        Target::Spsc(t) => {
            t.commit(&r, ty, DISCARD);
            t.discarded.fetch_add(1, Relaxed);
        }
        Target::Mp(t) => {
            t.commit(&r, ty, DISCARD);
            t.discarded.fetch_add(1, Relaxed);
        }
        Target::Ovf(o) => o.commit(r.pos, r.len, ty, DISCARD),
    }
}

/// The consumer handle of a record ring. Dropping it gives the claim back.
pub struct RecordConsumer {
    rx: rx::Rx<'static>,
    /// The overflow area's consumer (rings that have one).
    ovf: Option<overflow::OvfRx<'static>>,
    raw: RawRecords<'static>,
    /// This process's eventfd slot for the ring (-1 when none is attached).
    #[cfg_attr(not(all(feature = "std", not(ring_core_loom))), allow(dead_code))]
    eventfd: &'static AtomicI32,
    /// Whether an eventfd wait was prepared and not finished.
    #[cfg_attr(not(all(feature = "std", not(ring_core_loom))), allow(dead_code))]
    eventfd_armed: bool,
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    wait: Option<&'static WaitLine>,
    owner: (&'static AtomicU32, u32),
    _keep: Arc<dyn Keep>,
}

// SAFETY: as for `RecordProducer`.
unsafe impl Send for RecordConsumer {}

impl core::fmt::Debug for RecordConsumer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecordConsumer")
            .field("head", &self.rx.head)
            .finish()
    }
}

/// What [`RecordConsumer::pop_into`] copied: the record's type and position.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RecordInfo {
    /// Record type.
    pub record_type: u8,
    /// Position.
    pub position: u32,
    /// Payload bytes.
    pub len: u32,
}

impl RecordConsumer {
    pub(crate) fn new(
        raw: RawRecords<'static>,
        keep: Arc<dyn Keep>,
        eventfd: &'static AtomicI32,
    ) -> Result<Self, HandleError> {
        let token = crate::protocol::claim::claim(&raw.cons.owner, crate::error::Side::Consumer)?;
        let head = raw.cons.head.load(Acquire);
        let tail = tail_pos(raw.prod.tail.load(Acquire));
        if tail.wrapping_sub(head) > raw.area.capacity()
            || tail % RECORD_ALIGN != 0
            || head % RECORD_ALIGN != 0
        {
            crate::protocol::claim::unclaim(&raw.cons.owner, token);
            return Err(HandleError::Corrupt(RecordCorruption::IndicesOutOfRange {
                tail,
                head,
            }));
        }
        let ovf = match raw.overflow {
            Some(o) => {
                // The overflow positions: as the data area's (section 13.2).
                let head = o.line.head.load(Acquire);
                let tail = tail_pos(o.line.state.load(Acquire));
                if tail.wrapping_sub(head) > o.area.capacity()
                    || tail % RECORD_ALIGN != 0
                    || head % RECORD_ALIGN != 0
                {
                    crate::protocol::claim::unclaim(&raw.cons.owner, token);
                    return Err(HandleError::Corrupt(
                        RecordCorruption::OverflowIndicesOutOfRange { tail, head },
                    ));
                }
                let records = raw.registry.map_or(&[][..], |r| r.records);
                let mut rx = rx::Rx::overflow(o.area, o.line, records, head, tail);
                if raw.release_end {
                    rx.finish_release();
                }
                Some(overflow::OvfRx::new(rx))
            }
            None => None,
        };
        let mut rx = rx::Rx::new(&raw, head, tail, raw.mode == Mode::Mpsc);
        // Only where every consumer maintains `release_end` (section 7.3): elsewhere (a region
        // formatted without the bit) the word may hold any stale value.
        if raw.release_end {
            rx.finish_release();
        }
        Ok(RecordConsumer {
            ovf,
            rx,
            raw,
            eventfd,
            eventfd_armed: false,
            wait: raw.wait,
            owner: (&raw.cons.owner, token),
            _keep: keep,
        })
    }

    /// The next record, borrowed in place; it is released when the [`RecordRef`] drops.
    ///
    /// # Errors
    ///
    /// [`ReadError::Empty`]; [`ReadError::Pending`] when the next record is reserved but not
    /// committed (MPSC); [`ReadError::Corrupt`] for an invalid header or positions (the
    /// consumer does not move).
    #[inline(always)]
    pub fn read(&mut self) -> Result<RecordRef<'_>, ReadError> {
        match self.rx.next() {
            Ok(f) => Ok(RecordRef::new(&mut self.rx, f)),
            Err(ReadError::Empty) if self.ovf.is_some() => self.read_overflow(),
            Err(e) => Err(e),
        }
    }

    /// [`RecordConsumer::read`] with the data area read empty (rings with an overflow area).
    #[cold]
    #[inline(never)]
    fn read_overflow(&mut self) -> Result<RecordRef<'_>, ReadError> {
        let (f, in_ovf) = self.next_overflow()?;
        let rx = match (&mut self.ovf, in_ovf) {
            (Some(o), true) => &mut o.rx,
            _ => &mut self.rx,
        };
        Ok(RecordRef::new(rx, f))
    }

    /// RO5 (the data area read empty): the next overflow record, delivered only while the
    /// data area is empty in the strong sense (its `tail`, loaded after the record's header,
    /// equals our `head`); a record found in the data area meanwhile comes first. Returns the
    /// record and whether it is in the overflow area. Finding the overflow area drained too,
    /// RO7.
    #[cold]
    #[inline(never)]
    fn next_overflow(&mut self) -> Result<(rx::Found, bool), ReadError> {
        let Some(o) = self.ovf.as_mut() else {
            return Err(ReadError::Empty);
        };
        for _ in 0..2 {
            match o.next() {
                Ok(f) => {
                    // After the header's Acquire load: the data area's `tail`.
                    if tail_pos(self.raw.prod.tail.load(Acquire)) == self.rx.head {
                        return Ok((f, true));
                    }
                    // A record was reserved in the data area: it goes first.
                    match self.rx.next() {
                        Ok(f) => return Ok((f, false)),
                        Err(ReadError::Empty) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(ReadError::Empty) => {
                    o.deactivate();
                    return Err(ReadError::Empty);
                }
                Err(e) => return Err(e),
            }
        }
        // The data area's `tail` keeps moving while it reads empty: only a peer does that
        // for long; report what a caller can retry.
        Err(ReadError::Empty)
    }

    /// The next record of either area, and whether it is in the overflow area.
    #[inline(always)]
    fn next_any(&mut self) -> Result<(rx::Found, bool), ReadError> {
        match self.rx.next() {
            Ok(f) => Ok((f, false)),
            Err(ReadError::Empty) if self.ovf.is_some() => self.next_overflow(),
            Err(e) => Err(e),
        }
    }

    /// Copies the next record's payload into `out` (replacing its contents) and releases it.
    ///
    /// # Errors
    ///
    /// As for [`RecordConsumer::read`]; `out` is left unchanged on error.
    pub fn pop_into(&mut self, out: &mut Vec<u8>) -> Result<RecordInfo, ReadError> {
        let r = self.read()?;
        out.clear();
        out.resize(r.len(), 0);
        r.copy_to(0, out);
        Ok(RecordInfo {
            record_type: r.record_type(),
            position: r.position(),
            len: r.len() as u32,
        })
    }

    /// Reads up to `max` records in place, handing each to `f`, and releases them all with one
    /// store. Stops early once `byte_budget` payload bytes were delivered (the first record is
    /// delivered whatever its size).
    ///
    /// # Errors
    ///
    /// Only when no record was delivered: the error [`RecordConsumer::read`] would give. (An
    /// error after some records ends the batch; the next call reports it.)
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::record::{RecordConfig, RecordRing};
    ///
    /// let ring = RecordRing::create_heap(RecordConfig::new(256)).unwrap();
    /// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// for i in 0..5u8 {
    ///     tx.push(&[i; 3]).unwrap();
    /// }
    /// let mut seen = Vec::new();
    /// assert_eq!(rx.read_batch(10, usize::MAX, |r| seen.push(r.to_vec()[0])).unwrap(), 5);
    /// assert_eq!(seen, [0, 1, 2, 3, 4]);
    /// ```
    pub fn read_batch(
        &mut self,
        max: usize,
        byte_budget: usize,
        mut f: impl FnMut(&RecordView<'_>),
    ) -> Result<usize, ReadError> {
        let mut n = 0;
        let mut bytes = 0usize;
        while n < max {
            match self.next_any() {
                Ok((found, in_ovf)) => {
                    let rx = match (&mut self.ovf, in_ovf) {
                        (Some(o), true) => &mut o.rx,
                        _ => &mut self.rx,
                    };
                    let view = RecordView::new(rx.area, found);
                    f(&view);
                    rx.consume(found);
                    n += 1;
                    bytes = bytes.saturating_add(found.len() as usize);
                    if bytes >= byte_budget {
                        break;
                    }
                }
                Err(e) if n == 0 => return Err(e),
                Err(_) => break,
            }
        }
        self.rx.flush();
        if let Some(o) = &mut self.ovf {
            o.rx.flush();
        }
        Ok(n)
    }

    /// Recovery of dead MPSC producers, as [`RecordRing::recover`].
    ///
    /// # Errors
    ///
    /// As for [`RecordRing::recover`].
    pub fn recover(&self) -> Result<crate::Recovered, crate::RecoverError> {
        recovery::recover(&self.raw)
    }

    /// Whether the producer position is beyond the consumer's (records published, or in MPSC
    /// reserved): what a waiter waits for.
    pub fn has_more(&self) -> bool {
        self.rx.has_more() || self.ovf.as_ref().is_some_and(|o| o.has_more())
    }

    /// io_getevents-style reaping: delivers up to `max` records (and at most about
    /// `byte_budget` payload bytes, see [`RecordConsumer::read_batch`]) to `f`, sleeping on the
    /// ring's wait block until at least `min` were delivered or `timeout` (none: no limit)
    /// passed. Returns how many were delivered (fewer than `min` on timeout).
    ///
    /// # Errors
    ///
    /// [`RecordWaitError::NoWaitBlock`] / [`RecordWaitError::WakeupsSuppressed`] when it would
    /// have to sleep and cannot, [`RecordWaitError::Corrupt`] for corrupt state with nothing
    /// delivered, and the futex failures.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::record::{RecordConfig, RecordRing};
    /// use std::time::Duration;
    ///
    /// let ring = RecordRing::create_heap(RecordConfig::new(256)).unwrap();
    /// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// let t = std::thread::spawn(move || {
    ///     for i in 0..3u8 {
    ///         tx.push(&[i]).unwrap();
    ///     }
    /// });
    /// let mut n = 0;
    /// while n < 3 {
    ///     n += rx.reap(1, 8, usize::MAX, Some(Duration::from_secs(10)), |_| {}).unwrap();
    /// }
    /// t.join().unwrap();
    /// ```
    #[cfg(all(feature = "std", not(ring_core_loom)))]
    pub fn reap(
        &mut self,
        min: usize,
        max: usize,
        byte_budget: usize,
        timeout: Option<std::time::Duration>,
        mut f: impl FnMut(&RecordView<'_>),
    ) -> Result<usize, RecordWaitError> {
        let deadline = crate::blocking::deadline_after(timeout);
        let min = min.min(max);
        let mut n = 0;
        let mut budget = byte_budget;
        let mut held_since: Option<std::time::Instant> = None;
        loop {
            let before = n;
            match self.read_batch(max - n, budget, |r| {
                budget = budget.saturating_sub(r.len());
                f(r)
            }) {
                Ok(k) => n += k,
                Err(ReadError::Corrupt(c)) if n == 0 => return Err(RecordWaitError::Corrupt(c)),
                Err(ReadError::Corrupt(_)) => return Ok(n),
                Err(_) => {}
            }
            if n >= min || n >= max || budget == 0 {
                return Ok(n);
            }
            if n > before {
                continue;
            }
            let Some(left) = crate::blocking::remaining(deadline) else {
                return Ok(n);
            };
            if self.has_more() {
                // A record is reserved but not committed (MPSC), or corrupt: poll politely, and
                // run recovery now and then in case its producer died.
                self.recover_if_held(&mut held_since);
                std::thread::yield_now();
                continue;
            }
            held_since = None;
            // W2: announce, fence, snapshot the futex word, re-check, sleep.
            self.sleep_w2(left, |c| c.has_more())?;
        }
    }
}

impl Drop for RecordConsumer {
    fn drop(&mut self) {
        crate::protocol::claim::unclaim(self.owner.0, self.owner.1);
    }
}

/// A committed record, borrowed in place: type, position and payload.
#[derive(Debug)]
pub struct RecordView<'c> {
    /// The first payload byte (the record was validated inside the area).
    #[cfg(not(ring_core_loom))]
    payload: *const u8,
    #[cfg(ring_core_loom)]
    area: Area<'static>,
    /// The payload length (from `word`, as a `usize`).
    len: usize,
    /// The validated header word: position (`seq`), type. Word-sized fields and no padding, so
    /// that a copy the compiler makes through the stack is whole-word stores and loads.
    word: u64,
    _life: core::marker::PhantomData<&'c ()>,
}

// SAFETY: the view reads shared memory that the consumer holding it owns under the protocol
// (as `Area`, which it replaces, is `Send` and `Sync`); it hands out only shared reads.
unsafe impl Send for RecordView<'_> {}
// SAFETY: as above.
unsafe impl Sync for RecordView<'_> {}

impl RecordView<'_> {
    /// A view of no record (an empty payload, never read): what a consumer lane holds before
    /// its first read.
    fn none() -> Self {
        RecordView {
            #[cfg(not(ring_core_loom))]
            payload: core::ptr::NonNull::<u64>::dangling()
                .as_ptr()
                .cast_const()
                .cast(),
            #[cfg(ring_core_loom)]
            area: Area::EMPTY,
            len: 0,
            word: 0,
            _life: core::marker::PhantomData,
        }
    }

    /// The view of the validated record `f` of `area`.
    #[inline(always)]
    fn new(area: Area<'static>, f: rx::Found) -> Self {
        RecordView {
            // SAFETY: the consumer validated the record (header and payload) inside the area.
            #[cfg(not(ring_core_loom))]
            payload: unsafe { area.payload(f.pos()) },
            #[cfg(ring_core_loom)]
            area,
            len: f.len() as usize,
            word: f.word(),
            _life: core::marker::PhantomData,
        }
    }

    /// Payload bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the payload is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The record type.
    #[inline]
    pub fn record_type(&self) -> u8 {
        layout::header_type(self.word)
    }

    /// The record's position.
    #[inline]
    pub fn position(&self) -> u32 {
        layout::header_seq(self.word)
    }

    /// The payload, in place.
    ///
    /// # Safety
    ///
    /// The slice borrows memory that other participants map. Honest producers never write a
    /// record a consumer holds, but a peer that does not follow the protocol (in this process
    /// or another) could write it while the slice lives, which would be a data race: call this
    /// only when every participant that can write the ring's memory is trusted.
    /// [`Self::copy_to`] and [`Self::to_vec`] copy with atomic loads and need no such trust.
    #[cfg(not(ring_core_loom))]
    #[inline]
    pub unsafe fn bytes(&self) -> &[u8] {
        // SAFETY: the consumer validated the record inside the area and holds it until the
        // view's borrow ends; the caller vouches that no one writes it meanwhile.
        unsafe { core::slice::from_raw_parts(self.payload, self.len) }
    }

    /// A pointer to the first payload byte, for callers that read in place through their own
    /// means (the C ABI hands it to C code). Reading through it is the caller's `unsafe`: see
    /// [`Self::bytes`].
    #[cfg(not(ring_core_loom))]
    #[inline]
    pub fn as_ptr(&self) -> *const u8 {
        self.payload
    }

    /// The first two payload words (a completion's 16 bytes), loaded atomically, as
    /// little-endian values.
    ///
    /// # Safety
    ///
    /// `self.len() >= 16`.
    #[cfg(not(ring_core_loom))]
    #[inline(always)]
    pub(crate) unsafe fn load_head(&self) -> (u64, u64) {
        debug_assert!(self.len >= 16);
        let p = self.payload.cast::<crate::sync::AtomicU64>();
        // SAFETY: both words lie in the validated, held payload (`len >= 16`), which is 8-byte
        // aligned (records and their 8-byte header are); atomic, so a peer writing them gives
        // wrong values, no race.
        let (w0, w1) = unsafe { ((*p).load(Relaxed), (*p.add(1)).load(Relaxed)) };
        (u64::from_le(w0), u64::from_le(w1))
    }

    /// Word `k` of a completion's attribute list (payload bytes `16 + 8k ..`), loaded
    /// atomically, in memory order (its bytes as they are in the ring).
    ///
    /// # Safety
    ///
    /// `16 + 8 * k + 8 <= self.len()`.
    #[cfg(not(ring_core_loom))]
    #[inline(always)]
    pub(crate) unsafe fn load_list_word(&self, k: usize) -> u64 {
        debug_assert!(16 + 8 * k + 8 <= self.len);
        // SAFETY: in the validated, held payload (the caller's bound), 8-byte aligned (so is
        // the payload); atomic, so a peer writing it gives a wrong value, no race.
        unsafe {
            (*self
                .payload
                .add(16 + 8 * k)
                .cast::<crate::sync::AtomicU64>())
            .load(Relaxed)
        }
    }

    /// The payload, copied out with atomic loads (a peer that rewrites the record meanwhile can
    /// give wrong bytes, never undefined behaviour).
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::record::{RecordConfig, RecordRing};
    ///
    /// let ring = RecordRing::create_heap(RecordConfig::new(256)).unwrap();
    /// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// tx.push(b"abc").unwrap();
    /// assert_eq!(rx.read().unwrap().to_vec(), b"abc");
    /// ```
    #[inline]
    pub fn to_vec(&self) -> alloc::vec::Vec<u8> {
        let mut v = alloc::vec![0; self.len];
        self.copy_to(0, &mut v);
        v
    }

    /// Copies payload bytes from `at` into `dst`.
    ///
    /// # Panics
    ///
    /// If `at + dst.len()` exceeds the payload length.
    #[inline]
    pub fn copy_to(&self, at: usize, dst: &mut [u8]) {
        assert!(
            at.checked_add(dst.len()).is_some_and(|e| e <= self.len),
            "read of {} bytes at {at} past a {}-byte record",
            dst.len(),
            self.len
        );
        // SAFETY: in bounds (checked above against a validated length) and held; copied with
        // atomic accesses (a peer writing the record meanwhile gives wrong bytes, no race).
        // Payloads are 8-byte aligned (records are, and so is their 8-byte header), so a copy
        // from a multiple of 8 needs no leading bytes.
        #[cfg(not(ring_core_loom))]
        unsafe {
            let (src, n) = (self.payload.add(at), dst.len());
            if at % 8 == 0 {
                crate::sync::bytes::copy_out_aligned(src, dst.as_mut_ptr(), n)
            } else {
                crate::sync::bytes::copy_out(src, dst)
            }
        };
        // SAFETY: as above.
        #[cfg(ring_core_loom)]
        unsafe {
            self.area.read(self.position(), at, dst)
        };
    }
}

/// A record borrowed from the consumer; released (and, in MPSC, zeroed) when dropped.
///
/// One pointer: the view it dereferences to is kept in the consumer's lane state, so that
/// moving a `RecordRef` (out of the `Result` of [`RecordConsumer::read`], into a variable) is
/// a register move. A wider handle is copied through the stack by such moves, with loads
/// wider than the stores that built it, which cannot be forwarded: that stall cost a third of
/// the consumer's throughput between threads in the usual `let r = match rx.read() { .. }`.
pub struct RecordRef<'c> {
    /// The lane the record was read from; its `view` is this record's.
    rx: &'c mut rx::Rx<'static>,
}

impl core::fmt::Debug for RecordRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("RecordRef").field(&self.rx.view).finish()
    }
}

impl<'c> RecordRef<'c> {
    #[inline(always)]
    fn new(rx: &'c mut rx::Rx<'static>, f: rx::Found) -> Self {
        rx.view = RecordView::new(rx.area, f);
        RecordRef { rx }
    }
}

impl<'c> core::ops::Deref for RecordRef<'c> {
    type Target = RecordView<'c>;
    #[inline]
    fn deref(&self) -> &RecordView<'c> {
        &self.rx.view
    }
}

impl Drop for RecordRef<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        let (pos, len) = (self.rx.view.position(), self.rx.view.len as u32);
        self.rx.release_one(pos, len);
    }
}
