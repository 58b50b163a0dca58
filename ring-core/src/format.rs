//! Formatting a region (`create`) and validating one (`attach`), on raw memory (no `std`).
//!
//! Attach reads every header field once, checks it, and keeps private trusted copies
//! ([`Geometry`]); protocol code addresses the region only through those copies, whatever a
//! peer writes into the header afterwards.

use crate::entry::Entry;
use crate::error::LayoutError;
use crate::layout::*;
use crate::protocol::{Mode, RawRing};
use crate::sync::{fence, Ordering};
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

/// A span of memory that holds (or will hold) a ring region.
///
/// It is a pointer and a length, not an owner: something else (a [`crate::Region`], a mapping
/// of the caller's) keeps the memory alive.
#[derive(Copy, Clone, Debug)]
pub struct RawRegion {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a RawRegion is an address range; all access through it goes through atomics or
// through payload cells whose ownership the ring protocol arbitrates across threads.
unsafe impl Send for RawRegion {}
// SAFETY: as above.
unsafe impl Sync for RawRegion {}

impl RawRegion {
    /// Describes `len` bytes at `ptr`.
    ///
    /// # Safety
    ///
    /// For as long as the `RawRegion` (or anything built from it) is used: the bytes are mapped,
    /// readable and writable, and every other user (thread or process) accesses them only
    /// through a ring of this layout. `ptr` need not be aligned; [`format()`] and [`attach()`]
    /// check alignment.
    pub const unsafe fn new(ptr: NonNull<u8>, len: usize) -> Self {
        RawRegion { ptr, len }
    }

    /// Base address.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: callers check `len >= HEADER_LEN` and 128-byte alignment first; Header is all
        // atomics, valid for any bytes.
        unsafe { &*(self.ptr.as_ptr() as *const Header) }
    }

    /// # Safety
    /// `offset + size_of::<U>() <= len`, `offset` aligned for `U`, `U` valid for any bytes, and
    /// the memory stays valid for `'a`.
    pub(crate) unsafe fn at<'a, U>(&self, offset: u64) -> &'a U {
        // SAFETY: caller guarantees bounds and alignment.
        unsafe { &*(self.ptr.as_ptr().add(offset as usize) as *const U) }
    }
}

/// How to lay out a new ring.
///
/// # Examples
///
/// ```
/// use ring_core::{Config, Mode};
///
/// let cfg = Config::new(1024).mode(Mode::Mpsc).initial_index(u32::MAX - 10);
/// assert_eq!(cfg.capacity, 1024);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Number of slots: a power of two in `2..=2^31`.
    pub capacity: u32,
    /// Producer/consumer multiplicity.
    pub mode: Mode,
    /// Value both indices start at. Starting just below `u32::MAX` exercises the wrap at once.
    pub initial_index: u32,
    /// Slots in the overflow area (a power of two in `2..=2^31`), or 0 for none. With an
    /// overflow area a full ring spills entries into it instead of refusing them.
    pub overflow_capacity: u32,
    /// Whether the region has the wait block, so that consumers can sleep until entries arrive
    /// (producers then pay one fence per publication). On by default.
    pub wait: bool,
    /// Producer records of a multi-producer ring (layout 1.2): how many producer handles may
    /// exist at once, across every process. 0 (the default) means
    /// [`crate::layout::DEFAULT_PRODUCER_SLOTS`] in multi-producer modes; single-producer modes
    /// have none (their claim word is enough).
    pub producers: u32,
    /// Lay the region out for peers written against layout 1.2: without the end-of-stream word
    /// (`INCOMPAT_STREAM`) and without wake-up targets (`INCOMPAT_WAIT_TARGET`), so that a 1.2
    /// reader accepts it. Consumers of such a ring never see the end of the stream, and
    /// producers wake sleepers after every publication. Off by default.
    pub legacy: bool,
    /// Give an SPSC ring without an overflow area packed slots (layout 1.4, `INCOMPAT_PACKED`):
    /// the payloads alone, without the lap tags the SPSC protocol never uses, so a 16-byte
    /// entry takes 16 bytes instead of 24. On by default; ignored in other modes, with an
    /// overflow area, and for legacy rings. Turn it off for peers written against layout 1.3.
    pub packed: bool,
}

impl Config {
    /// An SPSC ring of `capacity` slots whose indices start at 0.
    pub const fn new(capacity: u32) -> Self {
        Config {
            capacity,
            mode: Mode::Spsc,
            initial_index: 0,
            overflow_capacity: 0,
            wait: true,
            producers: 0,
            legacy: false,
            packed: true,
        }
    }

    /// Gives or refuses an SPSC ring without an overflow area packed slots (see
    /// [`Config::packed`](Self#structfield.packed)).
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Ring};
    ///
    /// let packed = Ring::<ring_core::Completion>::create_heap(Config::new(64)).unwrap();
    /// let tagged =
    ///     Ring::<ring_core::Completion>::create_heap(Config::new(64).packed(false)).unwrap();
    /// assert!(packed.memory().len() < tagged.memory().len());
    /// ```
    pub const fn packed(mut self, packed: bool) -> Self {
        self.packed = packed;
        self
    }

    /// Whether this configuration lays out packed slots: [`Config::packed`], SPSC, no overflow
    /// area, not legacy.
    pub const fn packs(&self) -> bool {
        self.packed
            && matches!(self.mode, Mode::Spsc)
            && self.overflow_capacity == 0
            && !self.legacy
    }

    /// Lays the region out for layout-1.2 peers (see [`Config::legacy`](Self#structfield.legacy)).
    pub const fn legacy(mut self, legacy: bool) -> Self {
        self.legacy = legacy;
        self
    }

    /// Sets how many producer handles a multi-producer ring can have at once (1 to
    /// [`crate::layout::MAX_PRODUCER_SLOTS`]; ignored in single-producer modes).
    pub const fn producers(mut self, n: u32) -> Self {
        self.producers = n;
        self
    }

    /// The number of producer records this configuration lays out.
    pub const fn producer_slots(&self) -> u32 {
        if !self.mode.multi_producer() {
            0
        } else if self.producers == 0 {
            crate::layout::DEFAULT_PRODUCER_SLOTS
        } else {
            self.producers
        }
    }

    /// Adds an overflow area of `capacity` slots (0: none).
    pub const fn overflow(mut self, capacity: u32) -> Self {
        self.overflow_capacity = capacity;
        self
    }

    /// Adds or leaves out the wait block.
    pub const fn wait(mut self, wait: bool) -> Self {
        self.wait = wait;
        self
    }

    fn placement<T>(&self) -> Result<Placement, LayoutError> {
        check_capacity(self.capacity)?;
        if self.overflow_capacity != 0 {
            check_capacity(self.overflow_capacity).map_err(|_| LayoutError::OverflowCapacity {
                found: self.overflow_capacity,
            })?;
        }
        let producers = self.producer_slots();
        if producers > crate::layout::MAX_PRODUCER_SLOTS {
            return Err(LayoutError::ProducerSlots { found: producers });
        }
        let place = if self.packs() {
            placement_packed::<T>(self.capacity, self.wait)
        } else {
            placement_for::<T>(self.capacity, self.overflow_capacity, self.wait, producers)
        };
        place.ok_or(LayoutError::Capacity {
            found: self.capacity,
        })
    }

    /// Sets the mode.
    pub const fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the starting index.
    pub const fn initial_index(mut self, index: u32) -> Self {
        self.initial_index = index;
        self
    }

    /// Bytes a region needs for this configuration with entries of type `T`.
    pub fn region_len<T: Entry>(&self) -> Result<u64, LayoutError> {
        Ok(self.placement::<T>()?.region_len)
    }
}

/// The private, trusted copy of a validated region's geometry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// The mode recorded in the header.
    pub mode: Mode,
    /// Number of slots.
    pub capacity: u32,
    /// Layout minor version found.
    pub version_minor: u32,
    /// Compatible feature bits found (unknown ones are ignored).
    pub compat: u64,
    /// Offset of the producer line.
    pub producer_offset: u64,
    /// Offset of the consumer line.
    pub consumer_offset: u64,
    /// Offset of the slot array.
    pub slots_offset: u64,
    /// Bytes the creator laid out.
    pub region_len: u64,
    /// Slots in the overflow area (0: none).
    pub overflow_capacity: u32,
    /// Offset of the overflow block (its line; the slots follow at `+ 128`), if present.
    pub overflow_offset: u64,
    /// Offset of the wait block, if present.
    pub wait_offset: Option<u64>,
    /// Offset of the producer records block, if present.
    pub producers_offset: Option<u64>,
    /// Number of producer records (0: none).
    pub producer_slots: u32,
    /// Whether the end-of-stream word is kept (1.3, `INCOMPAT_STREAM`).
    pub stream: bool,
    /// Whether sleepers publish wake-up targets (1.3, `INCOMPAT_WAIT_TARGET`).
    pub wait_target: bool,
    /// Whether the slots are packed (1.4, `INCOMPAT_PACKED`).
    pub packed: bool,
}

impl Geometry {
    /// The ring protocol view of `region` under this geometry.
    ///
    /// # Safety
    ///
    /// `region` is the region this geometry was validated from (or one with the same length
    /// and layout), `T` is the entry type it was validated for, and the region's memory stays
    /// valid for `'a`.
    pub(crate) unsafe fn raw<'a, T>(&self, region: &RawRegion) -> RawRing<'a, T> {
        // SAFETY: attach checked that each block lies inside the region, is 128-byte aligned,
        // and has its expected length; the structs are all atomics or plain-data payload cells.
        unsafe {
            let prod = region.at::<ProducerLine>(self.producer_offset);
            let cons = region.at::<ConsumerLine>(self.consumer_offset);
            let base = region.as_ptr().add(self.slots_offset as usize);
            let cap = self.capacity as usize;
            let mut raw = if self.packed {
                let slots = core::slice::from_raw_parts(base as *const PackedSlot<T>, cap);
                RawRing::from_packed_parts(prod, cons, slots)
            } else {
                let slots = core::slice::from_raw_parts(base as *const Slot<T>, cap);
                RawRing::from_parts(prod, cons, slots, self.mode)
            }
            .expect("attach validated the capacity");
            if self.overflow_capacity != 0 {
                let line = region.at::<OverflowLine>(self.overflow_offset);
                let base = region
                    .as_ptr()
                    .add((self.overflow_offset + u64::from(LINE_LEN)) as usize)
                    as *const Slot<T>;
                let oslots = core::slice::from_raw_parts(base, self.overflow_capacity as usize);
                raw = raw
                    .with_overflow(line, oslots)
                    .expect("attach validated the overflow capacity");
            }
            if let Some(off) = self.wait_offset {
                raw = raw.with_wait(region.at::<WaitLine>(off), self.wait_target);
            }
            raw.stream = self.stream;
            if let Some(off) = self.producers_offset {
                let line = region.at::<RegistryLine>(off);
                let base = region.as_ptr().add((off + u64::from(LINE_LEN)) as usize)
                    as *const ProducerRecord;
                let records = core::slice::from_raw_parts(base, self.producer_slots as usize);
                raw = raw.with_registry(line, records);
            }
            raw
        }
    }
}

/// `(slot_stride, payload_offset)` of a ring of `T` with packed slots (1.4) or with lap tags.
const fn slot_geometry<T>(packed: bool) -> (u32, u32) {
    if packed {
        (PackedSlot::<T>::STRIDE as u32, 0)
    } else {
        (Slot::<T>::STRIDE as u32, Slot::<T>::PAYLOAD_OFFSET as u32)
    }
}

pub(crate) fn check_capacity(cap: u32) -> Result<(), LayoutError> {
    if (MIN_CAPACITY..=MAX_CAPACITY).contains(&cap) && cap.is_power_of_two() {
        Ok(())
    } else {
        Err(LayoutError::Capacity { found: cap })
    }
}

pub(crate) fn check_base(region: &RawRegion, needed: u64) -> Result<(), LayoutError> {
    if region.as_ptr() as usize % BLOCK_ALIGN as usize != 0 {
        return Err(LayoutError::Misaligned {
            addr: region.as_ptr() as usize,
        });
    }
    if (region.len() as u64) < needed {
        return Err(LayoutError::RegionTooShort {
            needed,
            available: region.len() as u64,
        });
    }
    Ok(())
}

fn check_entry<T: Entry>() {
    // A compile-time style guard; `Entry` promises align <= 128.
    debug_assert!(align_of::<T>() <= BLOCK_ALIGN as usize);
}

// Formatting steps shared by fixed-entry and record rings (spec/LAYOUT.md, section 8): the
// lines and blocks both kinds have are formatted all zero.

/// Formats the consumer line: `head` at `head`, claim free, reserved words zero.
pub(crate) fn clear_consumer_line(c: &ConsumerLine, head: u32) {
    let r = Ordering::Relaxed;
    c.head.store(head, r);
    c.owner.store(0, r);
    c.release_end.store(0, r);
    c.reserved32.store(0, r);
    c.reserved.iter().for_each(|w| w.store(0, r));
}

/// Formats an overflow line: all zero (`state` 0: tail 0, inactive; `head` 0; counters 0).
pub(crate) fn clear_overflow_line(line: &OverflowLine) {
    let r = Ordering::Relaxed;
    line.state.store(0, r);
    line.head.store(0, r);
    line.release_end.store(0, r);
    line.overflowed.store(0, r);
    line.activations.store(0, r);
    line.reserved.iter().for_each(|w| w.store(0, r));
}

/// Formats the wait line: all zero.
pub(crate) fn clear_wait_line(w: &WaitLine) {
    let r = Ordering::Relaxed;
    w.futex.store(0, r);
    w.waiters.store(0, r);
    w.flags.store(0, r);
    w.reserved32.store(0, r);
    w.wakeups.store(0, r);
    w.sleeps.store(0, r);
    w.wake_target.store(0, r);
    w.reserved.iter().for_each(|x| x.store(0, r));
}

/// Formats the producer records block at `off`: the registry line and `slots` records, all
/// zero (LAYOUT.md, section 8, step 9).
///
/// # Safety
///
/// `off` is a multiple of 128 and the block's `128 * (1 + slots)` bytes lie inside `region`,
/// which nobody else uses while it is formatted.
pub(crate) unsafe fn clear_producer_records(region: &RawRegion, off: u64, slots: u32) {
    let r = Ordering::Relaxed;
    // SAFETY: the caller's guarantee: the registry line lies at `off`, 128-byte aligned.
    let line = unsafe { region.at::<RegistryLine>(off) };
    line.recoverer.store(0, r);
    line.reserved32.store(0, r);
    line.recoveries.store(0, r);
    line.recovered.store(0, r);
    line.reclaimed.store(0, r);
    line.reserved.iter().for_each(|w| w.store(0, r));
    for i in 0..u64::from(slots) {
        // SAFETY: as above; record `i` lies at `off + 128 * (1 + i)`, inside the block.
        let rec = unsafe { region.at::<ProducerRecord>(off + u64::from(LINE_LEN) * (1 + i)) };
        rec.owner.store(0, r);
        rec.reserved32.store(0, r);
        rec.start_time.store(0, r);
        rec.ring_start.store(0, r);
        rec.ring_len.store(0, r);
        rec.overflow_start.store(0, r);
        rec.overflow_len.store(0, r);
        rec.reserved.iter().for_each(|w| w.store(0, r));
    }
}

/// Formats `region` as an empty ring of `T` laid out per `cfg`, and validates the result.
///
/// Everything the layout covers is written; the payload bytes are left as they were. `magic`
/// is written last, with Release ordering, so a concurrent [`attach`] either sees zero
/// ([`LayoutError::BadMagic`]) or the complete header.
///
/// Formatting a region that others are using is not undefined behaviour for them (they treat
/// its contents as untrusted), but it breaks their ring.
///
/// `zeroed` says the region's bytes are known to be zero (a fresh memfd, `/dev/shm` file,
/// anonymous mapping or zeroed allocation): the overflow slots, whose formatted state is all
/// zeroes, are then not written (on anonymous memory they take no physical pages until used).
pub fn format<T: Entry>(
    region: &RawRegion,
    cfg: &Config,
    pid: u32,
    zeroed: bool,
) -> Result<Geometry, LayoutError> {
    check_entry::<T>();
    let place = cfg.placement::<T>()?;
    let needed = place.region_len;
    check_base(region, needed)?;
    let h = region.header();
    let r = Ordering::Relaxed;
    h.magic.store(0, Ordering::Release);
    fence(Ordering::SeqCst);
    h.version_major.store(VERSION_MAJOR, r);
    h.version_minor.store(VERSION_MINOR, r);
    h.header_len.store(HEADER_LEN, r);
    h.mode.store(cfg.mode.bits(), r);
    h.compat.store(0, r);
    let mut incompat = 0;
    if cfg.overflow_capacity != 0 {
        incompat |= features::INCOMPAT_OVERFLOW;
    }
    if cfg.wait {
        incompat |= features::INCOMPAT_WAIT;
    }
    let producer_slots = cfg.producer_slots();
    if producer_slots != 0 {
        incompat |= features::INCOMPAT_PRODUCERS;
    }
    let packed = cfg.packs();
    if packed {
        incompat |= features::INCOMPAT_PACKED;
    }
    if !cfg.legacy {
        incompat |= features::INCOMPAT_STREAM;
        if cfg.wait {
            incompat |= features::INCOMPAT_WAIT_TARGET;
        }
    }
    h.incompat.store(incompat, r);
    h.ro_compat.store(0, r);
    h.capacity.store(cfg.capacity, r);
    h.entry_format.store(T::FORMAT, r);
    h.entry_size.store(size_of::<T>() as u32, r);
    h.entry_align.store(align_of::<T>() as u32, r);
    let (stride, poff) = slot_geometry::<T>(packed);
    h.slot_stride.store(stride, r);
    h.payload_offset.store(poff, r);
    h.region_len.store(needed, r);
    h.initial_index.store(cfg.initial_index, r);
    h.creator_pid.store(pid, r);
    let rows: [(u64, u64); BLOCK_COUNT] = [
        (PRODUCER_OFFSET, LINE_LEN as u64),
        (CONSUMER_OFFSET, LINE_LEN as u64),
        place.slots,
        place.overflow,
        place.wait,
        place.producers,
        (0, 0),
        (0, 0),
    ];
    for (row, (off, len)) in h.blocks.iter().zip(rows) {
        row.offset.store(off, r);
        row.len.store(len, r);
    }
    h.overflow_capacity.store(cfg.overflow_capacity, r);
    h.producer_slots.store(producer_slots, r);
    for w in &h.reserved {
        w.store(0, r);
    }
    // SAFETY: `check_base` verified the region holds `needed` bytes at 128-byte alignment, and
    // the rows above place every block inside it.
    let prod = unsafe { region.at::<ProducerLine>(PRODUCER_OFFSET) };
    // SAFETY: as above.
    let cons = unsafe { region.at::<ConsumerLine>(CONSUMER_OFFSET) };
    prod.tail.store(cfg.initial_index, r);
    prod.owner.store(0, r);
    prod.full_refusals.store(0, r);
    prod.discarded.store(0, r);
    prod.stream.store(0, r);
    prod.reserved32.store(0, r);
    prod.reserved.iter().for_each(|w| w.store(0, r));
    clear_consumer_line(cons, cfg.initial_index);
    let base = region.as_ptr().wrapping_add(SLOTS_OFFSET as usize) as *const Slot<T>;
    // Packed slots have no slot header: nothing to write (payloads are left as they were).
    for i in (0..cfg.capacity).filter(|_| !packed) {
        // SAFETY: `i < capacity` and the slot array spans `capacity * STRIDE` bytes in bounds.
        let slot = unsafe { &*base.add(i as usize) };
        slot.seq
            .store(initial_lap_tag(i, cfg.initial_index, cfg.capacity), r);
        slot.meta.store(0, r);
    }
    if cfg.overflow_capacity != 0 {
        let (off, _) = place.overflow;
        // SAFETY: the placement puts the overflow line and its slots inside `needed` bytes,
        // 128-byte aligned.
        clear_overflow_line(unsafe { region.at::<OverflowLine>(off) });
        if !zeroed {
            let base = region
                .as_ptr()
                .wrapping_add((off + u64::from(LINE_LEN)) as usize)
                as *const Slot<T>;
            for i in 0..cfg.overflow_capacity {
                // SAFETY: `i < overflow_capacity`; the overflow slots lie inside the region.
                let slot = unsafe { &*base.add(i as usize) };
                // Biased tags: zero means "free for the first lap".
                slot.seq.store(0, r);
                slot.meta.store(0, r);
            }
        }
    }
    if cfg.wait {
        // SAFETY: the placement puts the wait line inside `needed` bytes, 128-byte aligned.
        clear_wait_line(unsafe { region.at::<WaitLine>(place.wait.0) });
    }
    if producer_slots != 0 {
        // SAFETY: the placement puts the registry line and the records inside `needed` bytes,
        // 128-byte aligned; the region is being formatted.
        unsafe { clear_producer_records(region, place.producers.0, producer_slots) };
    }
    h.magic.store(MAGIC, Ordering::Release);
    attach::<T>(region)
}

// ---------------------------------------------------------------------------------------------
// Attach checks shared by every reader of the region format: fixed-entry rings ([`attach`]),
// record rings (`record::format::attach_records`) and `inspect` (spec/LAYOUT.md, section 9;
// spec/RECORDS.md, section 3.2). Each reader runs them in the spec's order around its own
// checks (6 to 13, which depend on what it reads).

/// Every header field, each loaded once: `magic` first (Acquire: it publishes the rest), then
/// the others (Relaxed). Every check reads this one snapshot, so a peer that rewrites the
/// header meanwhile cannot make two checks see two values of a field.
#[derive(Copy, Clone, Debug)]
pub(crate) struct HeaderWords {
    pub(crate) version_major: u32,
    pub(crate) version_minor: u32,
    pub(crate) header_len: u32,
    pub(crate) mode: u32,
    pub(crate) compat: u64,
    pub(crate) incompat: u64,
    pub(crate) ro_compat: u64,
    pub(crate) capacity: u32,
    pub(crate) entry_format: u32,
    pub(crate) entry_size: u32,
    pub(crate) entry_align: u32,
    pub(crate) slot_stride: u32,
    pub(crate) payload_offset: u32,
    pub(crate) region_len: u64,
    /// Informational (read by `inspect` only, which a model build leaves out).
    #[cfg_attr(ring_core_loom, allow(dead_code))]
    pub(crate) initial_index: u32,
    /// Informational, as `initial_index`.
    #[cfg_attr(ring_core_loom, allow(dead_code))]
    pub(crate) creator_pid: u32,
    /// The block table's rows `(offset, len)`.
    pub(crate) rows: [(u64, u64); BLOCK_COUNT],
    pub(crate) overflow_capacity: u32,
    pub(crate) producer_slots: u32,
}

/// Checks 1 to 5 on the `len` bytes at `base` (alignment, length, `magic`, `version_major`,
/// `header_len`) and returns the header, loaded once.
///
/// # Safety
///
/// The `len` bytes at `base` stay mapped and readable during the call, and every other user
/// accesses the header's words atomically only. Nothing is written.
pub(crate) unsafe fn load_header(base: *const u8, len: usize) -> Result<HeaderWords, LayoutError> {
    let avail = len as u64;
    if base as usize % BLOCK_ALIGN as usize != 0 {
        return Err(LayoutError::Misaligned {
            addr: base as usize,
        });
    }
    if avail < u64::from(HEADER_LEN) {
        return Err(LayoutError::RegionTooShort {
            needed: u64::from(HEADER_LEN),
            available: avail,
        });
    }
    // SAFETY: the first `HEADER_LEN` bytes are mapped and readable (checked above, and the
    // caller's guarantee) and 128-byte aligned; `Header` is all atomics, valid for any bytes,
    // and only loaded from (allowed on read-only memory; peers access the words atomically).
    let h = unsafe { &*(base as *const Header) };
    let r = Ordering::Relaxed;
    let magic = h.magic.load(Ordering::Acquire);
    if magic != MAGIC {
        return Err(LayoutError::BadMagic { found: magic });
    }
    let mut rows = [(0u64, 0u64); BLOCK_COUNT];
    for (row, b) in rows.iter_mut().zip(&h.blocks) {
        *row = (b.offset.load(r), b.len.load(r));
    }
    let w = HeaderWords {
        version_major: h.version_major.load(r),
        version_minor: h.version_minor.load(r),
        header_len: h.header_len.load(r),
        mode: h.mode.load(r),
        compat: h.compat.load(r),
        incompat: h.incompat.load(r),
        ro_compat: h.ro_compat.load(r),
        capacity: h.capacity.load(r),
        entry_format: h.entry_format.load(r),
        entry_size: h.entry_size.load(r),
        entry_align: h.entry_align.load(r),
        slot_stride: h.slot_stride.load(r),
        payload_offset: h.payload_offset.load(r),
        region_len: h.region_len.load(r),
        initial_index: h.initial_index.load(r),
        creator_pid: h.creator_pid.load(r),
        rows,
        overflow_capacity: h.overflow_capacity.load(r),
        producer_slots: h.producer_slots.load(r),
    };
    if w.version_major != VERSION_MAJOR {
        return Err(LayoutError::UnsupportedVersion {
            major: w.version_major,
            minor: w.version_minor,
        });
    }
    if w.header_len < HEADER_LEN || u64::from(w.header_len) > avail {
        return Err(LayoutError::HeaderLength {
            found: w.header_len,
        });
    }
    Ok(w)
}

impl HeaderWords {
    /// Whether `incompat` has all of `bits`.
    pub(crate) fn has(&self, bits: u64) -> bool {
        self.incompat & bits == bits
    }

    /// Checks 14 to 17: `region_len` fits the memory (`avail` bytes) and the header, then
    /// every present row of the block table is non-empty, 128-byte aligned, after the header
    /// and inside `region_len`, absent rows are `(0, 0)`, and no two present rows overlap.
    pub(crate) fn check_table(&self, avail: u64) -> Result<(), LayoutError> {
        let (region_len, header_len) = (self.region_len, self.header_len);
        if region_len > avail {
            return Err(LayoutError::RegionTooShort {
                needed: region_len,
                available: avail,
            });
        }
        if region_len < u64::from(header_len) {
            return Err(LayoutError::RegionLength {
                found: region_len,
                available: avail,
            });
        }
        for (i, &(offset, len)) in self.rows.iter().enumerate() {
            if len == 0 && offset == 0 {
                continue;
            }
            let bad = LayoutError::Block {
                block: Block::name(i),
                offset,
                len,
            };
            let end = offset.checked_add(len).ok_or(bad)?;
            if len == 0
                || offset % BLOCK_ALIGN != 0
                || offset < u64::from(header_len)
                || end > region_len
            {
                return Err(bad);
            }
        }
        for i in 0..BLOCK_COUNT {
            for j in 0..i {
                let ((a, al), (b, bl)) = (self.rows[i], self.rows[j]);
                // Both rows end at or before `region_len` (checked above): no overflow.
                if al != 0 && bl != 0 && a < b + bl && b < a + al {
                    return Err(LayoutError::Block {
                        block: Block::name(i),
                        offset: a,
                        len: al,
                    });
                }
            }
        }
        Ok(())
    }

    /// Check 18 for the slot overflow area (`INCOMPAT_OVERFLOW`, LAYOUT.md section 12) of
    /// slots of `stride` bytes: `overflow_capacity` is a valid capacity with the feature and 0
    /// without it. Returns the overflow block's length (0 without the feature).
    pub(crate) fn slot_overflow_len(&self, stride: u32) -> Result<u64, LayoutError> {
        let oc = self.overflow_capacity;
        let bad = LayoutError::OverflowCapacity { found: oc };
        if self.has(features::INCOMPAT_OVERFLOW) {
            check_capacity(oc).map_err(|_| bad)?;
            Ok(u64::from(LINE_LEN) + u64::from(oc) * u64::from(stride))
        } else if oc != 0 {
            Err(bad)
        } else {
            Ok(0)
        }
    }

    /// Check 19: `producer_slots` is in `1..=MAX_PRODUCER_SLOTS` with `INCOMPAT_PRODUCERS` and
    /// 0 without it. Returns the producer records block's length (0 without the feature).
    pub(crate) fn producers_len(&self) -> Result<u64, LayoutError> {
        let ps = self.producer_slots;
        if self.has(features::INCOMPAT_PRODUCERS) {
            if !(1..=MAX_PRODUCER_SLOTS).contains(&ps) {
                return Err(LayoutError::ProducerSlots { found: ps });
            }
            Ok(u64::from(LINE_LEN) * (1 + u64::from(ps)))
        } else if ps != 0 {
            Err(LayoutError::ProducerSlots { found: ps })
        } else {
            Ok(0)
        }
    }

    /// The wait block's length: one line with `INCOMPAT_WAIT`, else 0 (absent).
    pub(crate) fn wait_len(&self) -> u64 {
        if self.has(features::INCOMPAT_WAIT) {
            u64::from(LINE_LEN)
        } else {
            0
        }
    }

    /// Checks 20 to 23: rows 0 to 5 have the lengths `required` gives (producer line,
    /// consumer line, slots or data area, overflow block, wait block, producer records; 0 for
    /// an absent block).
    pub(crate) fn check_block_lengths(&self, required: [u64; 6]) -> Result<(), LayoutError> {
        for (i, expected) in required.into_iter().enumerate() {
            let found = self.rows[i].1;
            if found != expected {
                return Err(LayoutError::BlockLength {
                    block: Block::name(i),
                    expected,
                    found,
                });
            }
        }
        Ok(())
    }

    /// Checks 14 to 25 of a fixed-entry ring whose slots are `stride` bytes (`mode` the
    /// checked `mode` word, `avail` the bytes of memory). Returns the lengths of the overflow
    /// block and of the producer records block (0 for absent ones).
    pub(crate) fn check_fixed_blocks(
        &self,
        avail: u64,
        mode: Mode,
        stride: u32,
    ) -> Result<(u64, u64), LayoutError> {
        self.check_table(avail)?;
        let overflow_len = self.slot_overflow_len(stride)?;
        let producers_len = self.producers_len()?;
        self.check_block_lengths([
            u64::from(LINE_LEN),
            u64::from(LINE_LEN),
            u64::from(self.capacity) * u64::from(stride),
            overflow_len,
            self.wait_len(),
            producers_len,
        ])?;
        self.check_feature_pairs(mode)?;
        Ok((overflow_len, producers_len))
    }

    /// Checks 24 (1.3: wake-up targets live in the wait block) and 25 (1.4: packed slots only
    /// in SPSC rings without an overflow area), for fixed-entry rings; `mode` is the checked
    /// `mode` word.
    pub(crate) fn check_feature_pairs(&self, mode: Mode) -> Result<(), LayoutError> {
        if self.has(features::INCOMPAT_WAIT_TARGET) && !self.has(features::INCOMPAT_WAIT) {
            return Err(LayoutError::FeatureWithout {
                feature: "INCOMPAT_WAIT_TARGET",
                requires: "INCOMPAT_WAIT",
            });
        }
        let overflow = self.has(features::INCOMPAT_OVERFLOW);
        if self.has(features::INCOMPAT_PACKED) && (mode != Mode::Spsc || overflow) {
            return Err(LayoutError::PackedSlots {
                mode: self.mode,
                overflow,
            });
        }
        Ok(())
    }
}

/// Validates that `region` holds a ring of `T` this crate can use, and returns its trusted
/// geometry. Each refusal names the field at fault (spec/LAYOUT.md, "Attach checks").
pub fn attach<T: Entry>(region: &RawRegion) -> Result<Geometry, LayoutError> {
    check_entry::<T>();
    // SAFETY: `RawRegion::new`'s contract: the bytes stay mapped and readable and every other
    // user goes through a ring of this layout (atomics only for the header).
    let w = unsafe { load_header(region.as_ptr(), region.len()) }?;
    let avail = region.len() as u64;
    let incompat = w.incompat & !features::INCOMPAT_KNOWN;
    if incompat != 0 {
        return Err(LayoutError::UnknownIncompatFeatures { bits: incompat });
    }
    let ro = w.ro_compat & !features::RO_COMPAT_KNOWN;
    if ro != 0 {
        return Err(LayoutError::UnknownReadOnlyFeatures { bits: ro });
    }
    let mode = Mode::from_bits(w.mode).ok_or(LayoutError::Mode { found: w.mode })?;
    let capacity = w.capacity;
    check_capacity(capacity)?;
    if w.entry_format != T::FORMAT {
        return Err(LayoutError::EntryFormat {
            expected: T::FORMAT,
            found: w.entry_format,
        });
    }
    if w.entry_size != size_of::<T>() as u32 {
        return Err(LayoutError::EntrySize {
            expected: size_of::<T>() as u32,
            found: w.entry_size,
        });
    }
    if w.entry_align != align_of::<T>() as u32 {
        return Err(LayoutError::EntryAlign {
            expected: align_of::<T>() as u32,
            found: w.entry_align,
        });
    }
    // 1.4: packed slots have their own stride and payload offset (check 13).
    let packed = w.has(features::INCOMPAT_PACKED);
    let (stride, poff) = (w.slot_stride, w.payload_offset);
    let (want_stride, want_poff) = slot_geometry::<T>(packed);
    if stride != want_stride || poff != want_poff {
        return Err(LayoutError::SlotLayout {
            stride: want_stride,
            found_stride: stride,
            found_payload_offset: poff,
        });
    }
    let (overflow_len, producers_len) = w.check_fixed_blocks(avail, mode, stride)?;
    let rows = w.rows;
    let wait = w.has(features::INCOMPAT_WAIT);
    let (region_len, minor) = (w.region_len, w.version_minor);
    let geo = Geometry {
        mode,
        capacity,
        version_minor: minor,
        compat: w.compat,
        producer_offset: rows[Block::Producer as usize].0,
        consumer_offset: rows[Block::Consumer as usize].0,
        slots_offset: rows[Block::Slots as usize].0,
        region_len,
        overflow_capacity: if overflow_len != 0 {
            w.overflow_capacity
        } else {
            0
        },
        overflow_offset: rows[Block::Overflow as usize].0,
        wait_offset: wait.then_some(rows[Block::Wait as usize].0),
        producers_offset: (producers_len != 0).then_some(rows[Block::Producers as usize].0),
        producer_slots: if producers_len != 0 {
            w.producer_slots
        } else {
            0
        },
        stream: w.has(features::INCOMPAT_STREAM),
        wait_target: w.has(features::INCOMPAT_WAIT_TARGET),
        packed,
    };
    // The live indices are not checked here: they move while we read them, so no snapshot of
    // the pair is consistent. Each handle validates the indices it depends on when it is
    // created and on every operation (spec/PROTOCOL.md, "The untrusted peer").
    Ok(geo)
}
