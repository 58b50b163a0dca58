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

    fn header(&self) -> &Header {
        // SAFETY: callers check `len >= HEADER_LEN` and 128-byte alignment first; Header is all
        // atomics, valid for any bytes.
        unsafe { &*(self.ptr.as_ptr() as *const Header) }
    }

    /// # Safety
    /// `offset + size_of::<U>() <= len`, `offset` aligned for `U`, `U` valid for any bytes, and
    /// the memory stays valid for `'a`.
    unsafe fn at<'a, U>(&self, offset: u64) -> &'a U {
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

fn check_capacity(cap: u32) -> Result<(), LayoutError> {
    if (MIN_CAPACITY..=MAX_CAPACITY).contains(&cap) && cap.is_power_of_two() {
        Ok(())
    } else {
        Err(LayoutError::Capacity { found: cap })
    }
}

fn check_base(region: &RawRegion, needed: u64) -> Result<(), LayoutError> {
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
    cons.head.store(cfg.initial_index, r);
    cons.owner.store(0, r);
    cons.reserved.iter().for_each(|w| w.store(0, r));
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
        let line = unsafe { region.at::<OverflowLine>(off) };
        line.state.store(0, r);
        line.head.store(0, r);
        line.reserved32.store(0, r);
        line.overflowed.store(0, r);
        line.activations.store(0, r);
        line.reserved.iter().for_each(|w| w.store(0, r));
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
        let w = unsafe { region.at::<WaitLine>(place.wait.0) };
        w.futex.store(0, r);
        w.waiters.store(0, r);
        w.flags.store(0, r);
        w.reserved32.store(0, r);
        w.wakeups.store(0, r);
        w.sleeps.store(0, r);
        w.wake_target.store(0, r);
        w.reserved.iter().for_each(|x| x.store(0, r));
    }
    if producer_slots != 0 {
        let (off, _) = place.producers;
        // SAFETY: the placement puts the registry line and the records inside `needed` bytes,
        // 128-byte aligned.
        let line = unsafe { region.at::<RegistryLine>(off) };
        line.recoverer.store(0, r);
        line.reserved32.store(0, r);
        line.recoveries.store(0, r);
        line.recovered.store(0, r);
        line.reclaimed.store(0, r);
        line.reserved.iter().for_each(|w| w.store(0, r));
        for i in 0..u64::from(producer_slots) {
            // SAFETY: as above; record `i` lies at `off + 128 * (1 + i)`.
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
    h.magic.store(MAGIC, Ordering::Release);
    attach::<T>(region)
}

/// Attach checks 16 and 17 (spec/LAYOUT.md, section 9) on the block table's rows `(offset,
/// len)`, loaded once: every present row is non-empty, 128-byte aligned, after the header and
/// inside `region_len`; absent rows are `(0, 0)`; no two present rows overlap. Shared by every
/// reader of the region format (fixed-entry rings, record rings, `inspect`).
pub(crate) fn check_block_rows(
    rows: &[(u64, u64); BLOCK_COUNT],
    header_len: u32,
    region_len: u64,
) -> Result<(), LayoutError> {
    for (i, &(offset, len)) in rows.iter().enumerate() {
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
            let ((a, al), (b, bl)) = (rows[i], rows[j]);
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

/// Validates that `region` holds a ring of `T` this crate can use, and returns its trusted
/// geometry. Each refusal names the field at fault (spec/LAYOUT.md, "Attach checks").
pub fn attach<T: Entry>(region: &RawRegion) -> Result<Geometry, LayoutError> {
    check_entry::<T>();
    check_base(region, HEADER_LEN as u64)?;
    let avail = region.len() as u64;
    let h = region.header();
    let r = Ordering::Relaxed;
    let magic = h.magic.load(Ordering::Acquire);
    if magic != MAGIC {
        return Err(LayoutError::BadMagic { found: magic });
    }
    let (major, minor) = (h.version_major.load(r), h.version_minor.load(r));
    if major != VERSION_MAJOR {
        return Err(LayoutError::UnsupportedVersion { major, minor });
    }
    let header_len = h.header_len.load(r);
    if header_len < HEADER_LEN || u64::from(header_len) > avail {
        return Err(LayoutError::HeaderLength { found: header_len });
    }
    // Loaded once: the same value decides refusal here and the block checks below.
    let incompat_bits = h.incompat.load(r);
    let incompat = incompat_bits & !features::INCOMPAT_KNOWN;
    if incompat != 0 {
        return Err(LayoutError::UnknownIncompatFeatures { bits: incompat });
    }
    let ro = h.ro_compat.load(r) & !features::RO_COMPAT_KNOWN;
    if ro != 0 {
        return Err(LayoutError::UnknownReadOnlyFeatures { bits: ro });
    }
    let mode_word = h.mode.load(r);
    let mode = Mode::from_bits(mode_word).ok_or(LayoutError::Mode { found: mode_word })?;
    let capacity = h.capacity.load(r);
    check_capacity(capacity)?;
    let (format, size, align) = (
        h.entry_format.load(r),
        h.entry_size.load(r),
        h.entry_align.load(r),
    );
    if format != T::FORMAT {
        return Err(LayoutError::EntryFormat {
            expected: T::FORMAT,
            found: format,
        });
    }
    if size != size_of::<T>() as u32 {
        return Err(LayoutError::EntrySize {
            expected: size_of::<T>() as u32,
            found: size,
        });
    }
    if align != align_of::<T>() as u32 {
        return Err(LayoutError::EntryAlign {
            expected: align_of::<T>() as u32,
            found: align,
        });
    }
    // 1.4: packed slots have their own stride and payload offset (check 13).
    let packed = incompat_bits & features::INCOMPAT_PACKED != 0;
    let (stride, poff) = (h.slot_stride.load(r), h.payload_offset.load(r));
    let (want_stride, want_poff) = slot_geometry::<T>(packed);
    if stride != want_stride || poff != want_poff {
        return Err(LayoutError::SlotLayout {
            stride: want_stride,
            found_stride: stride,
            found_payload_offset: poff,
        });
    }
    let region_len = h.region_len.load(r);
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
    let mut rows = [(0u64, 0u64); BLOCK_COUNT];
    for (i, row) in h.blocks.iter().enumerate() {
        rows[i] = (row.offset.load(r), row.len.load(r));
    }
    check_block_rows(&rows, header_len, region_len)?;
    let slots_len = u64::from(capacity) * u64::from(stride);
    let overflow_capacity = h.overflow_capacity.load(r);
    let overflow_len = if incompat_bits & features::INCOMPAT_OVERFLOW != 0 {
        check_capacity(overflow_capacity).map_err(|_| LayoutError::OverflowCapacity {
            found: overflow_capacity,
        })?;
        u64::from(LINE_LEN) + u64::from(overflow_capacity) * u64::from(stride)
    } else if overflow_capacity != 0 {
        return Err(LayoutError::OverflowCapacity {
            found: overflow_capacity,
        });
    } else {
        0
    };
    let wait = incompat_bits & features::INCOMPAT_WAIT != 0;
    let wait_target = incompat_bits & features::INCOMPAT_WAIT_TARGET != 0;
    let producer_slots = h.producer_slots.load(r);
    let producers_len = if incompat_bits & features::INCOMPAT_PRODUCERS != 0 {
        if !(1..=crate::layout::MAX_PRODUCER_SLOTS).contains(&producer_slots) {
            return Err(LayoutError::ProducerSlots {
                found: producer_slots,
            });
        }
        u64::from(LINE_LEN) * (1 + u64::from(producer_slots))
    } else if producer_slots != 0 {
        return Err(LayoutError::ProducerSlots {
            found: producer_slots,
        });
    } else {
        0
    };
    let required = [
        (Block::Producer, LINE_LEN as u64),
        (Block::Consumer, LINE_LEN as u64),
        (Block::Slots, slots_len),
        (Block::Overflow, overflow_len),
        (Block::Wait, if wait { LINE_LEN as u64 } else { 0 }),
        (Block::Producers, producers_len),
    ];
    for (b, expected) in required {
        let (_, found) = rows[b as usize];
        if found != expected {
            return Err(LayoutError::BlockLength {
                block: Block::name(b as usize),
                expected,
                found,
            });
        }
    }
    // 1.3: wake-up targets live in the wait block.
    if wait_target && !wait {
        return Err(LayoutError::FeatureWithout {
            feature: "INCOMPAT_WAIT_TARGET",
            requires: "INCOMPAT_WAIT",
        });
    }
    // 1.4: packed slots are defined for SPSC rings without an overflow area only (check 25).
    if packed && (mode != Mode::Spsc || incompat_bits & features::INCOMPAT_OVERFLOW != 0) {
        return Err(LayoutError::PackedSlots {
            mode: mode_word,
            overflow: incompat_bits & features::INCOMPAT_OVERFLOW != 0,
        });
    }
    let geo = Geometry {
        mode,
        capacity,
        version_minor: minor,
        compat: h.compat.load(r),
        producer_offset: rows[Block::Producer as usize].0,
        consumer_offset: rows[Block::Consumer as usize].0,
        slots_offset: rows[Block::Slots as usize].0,
        region_len,
        overflow_capacity: if overflow_len != 0 {
            overflow_capacity
        } else {
            0
        },
        overflow_offset: rows[Block::Overflow as usize].0,
        wait_offset: wait.then_some(rows[Block::Wait as usize].0),
        producers_offset: (producers_len != 0).then_some(rows[Block::Producers as usize].0),
        producer_slots: if producers_len != 0 {
            producer_slots
        } else {
            0
        },
        stream: incompat_bits & features::INCOMPAT_STREAM != 0,
        wait_target,
        packed,
    };
    // The live indices are not checked here: they move while we read them, so no snapshot of
    // the pair is consistent. Each handle validates the indices it depends on when it is
    // created and on every operation (spec/PROTOCOL.md, "The untrusted peer").
    Ok(geo)
}
