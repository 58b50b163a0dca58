//! Read-only inspection of a ring region without knowing its entry type, for tools such as
//! `ringctl`.
//!
//! [`crate::attach`] needs the entry type, because a participant must agree with the region on
//! it. An inspector only reads: [`inspect`] performs the same header checks as `attach`
//! (spec/LAYOUT.md, section 9), except that the entry checks 10 to 13 become
//! "`entry_align` is a power of two of at most 128 and `slot_stride` / `payload_offset` are the
//! values section 6 gives for `entry_size` and `entry_align`", and that unknown `incompat` and
//! `ro_compat` bits are reported ([`Inspection::unknown_incompat`]) rather than refused: a
//! reader that never writes can show what it understands of a region made by a newer creator.
//!
//! Every word is read with an atomic load of its own width (Relaxed, `magic` Acquire) and never
//! written, so the memory may be mapped read-only (`PROT_READ`). The header is read once into a
//! [`HeaderSnapshot`]; every later address is computed from that snapshot and checked against
//! the block it belongs to, so nothing another process writes into the region afterwards can
//! move a read outside it. The live words ([`Inspection::producer`] and the others) are
//! loaded one at a time each call: a consistent picture only when the ring is quiet.
//!
//! # Examples
//!
//! ```
//! use ring_core::inspect::{inspect, ReadOnlyRegion};
//! use ring_core::{Completion, Config, Mode, Ring};
//!
//! let ring = Ring::<Completion>::create_heap(Config::new(8).mode(Mode::Mpsc)).unwrap();
//! ring.producer().unwrap().push(Completion::new(7, 0, 0)).unwrap();
//! let mem = ring.region();
//! let ptr = core::ptr::NonNull::new(mem.as_ptr()).unwrap();
//! // SAFETY: the ring keeps the region mapped while `view` is used.
//! let region = unsafe { ReadOnlyRegion::new(ptr, mem.len()) };
//! let view = inspect(&region).unwrap();
//! assert_eq!(view.header().capacity, 8);
//! assert_eq!(view.header().entry_size, 16);
//! let (p, c) = (view.producer(), view.consumer());
//! assert_eq!(p.tail.wrapping_sub(c.head), 1);
//! assert_eq!(view.header().producer_slots, 64);
//! ```

use crate::error::LayoutError;
use crate::layout::{
    features, mode_bits, Block, ConsumerLine, OverflowLine, ProducerLine, ProducerRecord,
    RegistryLine, WaitLine, BLOCK_ALIGN, BLOCK_COUNT, LINE_LEN, SLOT_HEADER_LEN,
};
use crate::protocol::Mode;
use core::fmt;
use core::mem::offset_of;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// A span of memory holding a ring region that is only ever read.
///
/// Like [`crate::RawRegion`] it is a pointer and a length, not an owner; unlike it, the memory
/// need not be writable.
#[derive(Copy, Clone, Debug)]
pub struct ReadOnlyRegion {
    ptr: NonNull<u8>,
    len: usize,
}

impl ReadOnlyRegion {
    /// Describes `len` bytes at `ptr`.
    ///
    /// # Safety
    ///
    /// For as long as the `ReadOnlyRegion` (or an [`Inspection`] made from it) is used, the
    /// `len` bytes at `ptr` stay mapped and readable, and every other user accesses the words
    /// of the layout only atomically (as every participant of a ring does). `ptr` need not be
    /// aligned: [`inspect`] checks alignment.
    pub const unsafe fn new(ptr: NonNull<u8>, len: usize) -> Self {
        ReadOnlyRegion { ptr, len }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Loads the `u32` at `offset`. Out of range or misaligned offsets give `None`.
    fn u32_at(&self, offset: u64) -> Option<u32> {
        let end = offset.checked_add(4)?;
        if end > self.len as u64 || offset % 4 != 0 {
            return None;
        }
        // SAFETY: `offset + 4 <= len` (checked above) and the constructor's contract keeps the
        // bytes mapped and readable; the base is 128-byte aligned (checked by `inspect` before
        // any other load) and `offset` is a multiple of 4, so the word is aligned. An atomic
        // load never writes, so it is allowed on read-only memory, and peers access the word
        // atomically too.
        let word = unsafe { &*(self.ptr.as_ptr().add(offset as usize) as *const AtomicU32) };
        Some(word.load(Ordering::Relaxed))
    }

    /// Loads the `u64` at `offset` with `order`. Out of range or misaligned offsets give `None`.
    fn u64_at(&self, offset: u64, order: Ordering) -> Option<u64> {
        let end = offset.checked_add(8)?;
        if end > self.len as u64 || offset % 8 != 0 {
            return None;
        }
        // SAFETY: as in `u32_at`, with an 8-byte word at a multiple of 8.
        let word = unsafe { &*(self.ptr.as_ptr().add(offset as usize) as *const AtomicU64) };
        Some(word.load(order))
    }
}

/// Why [`inspect`] refused a region.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InspectError {
    /// A header check shared with [`crate::attach`] failed (spec/LAYOUT.md, section 9).
    Layout(LayoutError),
    /// `entry_align` is not a power of two of at most 128.
    EntryAlign {
        /// The value found.
        found: u32,
    },
    /// `slot_stride` or `payload_offset` differ from what `entry_size` and `entry_align` give
    /// (spec/LAYOUT.md, section 6).
    SlotLayout {
        /// `entry_size` found.
        entry_size: u32,
        /// `entry_align` found.
        entry_align: u32,
        /// `slot_stride` found.
        found_stride: u32,
        /// `slot_stride` the entry size and alignment give (0 if it does not fit a `u32`).
        expected_stride: u32,
        /// `payload_offset` found.
        found_payload_offset: u32,
        /// `payload_offset` the entry alignment gives.
        expected_payload_offset: u32,
    },
    /// A record region (`INCOMPAT_RECORDS`) failed a check of spec/RECORDS.md section 3.2
    /// that fixed-entry rings do not have (the shared ones are [`InspectError::Layout`]).
    Records(crate::record::RecordLayoutError),
}

impl From<crate::record::RecordLayoutError> for InspectError {
    fn from(e: crate::record::RecordLayoutError) -> Self {
        match e {
            crate::record::RecordLayoutError::Layout(l) => InspectError::Layout(l),
            e => InspectError::Records(e),
        }
    }
}

impl From<LayoutError> for InspectError {
    fn from(e: LayoutError) -> Self {
        InspectError::Layout(e)
    }
}

impl fmt::Display for InspectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InspectError::Layout(e) => fmt::Display::fmt(e, f),
            InspectError::Records(e) => fmt::Display::fmt(e, f),
            InspectError::EntryAlign { found } => write!(
                f,
                "header field entry_align is {found}, not a power of two of at most 128"
            ),
            InspectError::SlotLayout {
                entry_size,
                entry_align,
                found_stride,
                expected_stride,
                found_payload_offset,
                expected_payload_offset,
            } => write!(
                f,
                "slot layout does not match entries of {entry_size} bytes with alignment \
                 {entry_align}: slot_stride {found_stride} (expected {expected_stride}), \
                 payload_offset {found_payload_offset} (expected {expected_payload_offset})"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for InspectError {}

/// One row of the block table: `(0, 0)` means absent.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockRow {
    /// Offset from the region base.
    pub offset: u64,
    /// Length in bytes (0: absent).
    pub len: u64,
}

/// Every header field, each loaded once, after the checks of [`inspect`] passed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct HeaderSnapshot {
    /// Layout major version (1).
    pub version_major: u32,
    /// Layout minor version.
    pub version_minor: u32,
    /// Header length in bytes.
    pub header_len: u32,
    /// The mode.
    pub mode: Mode,
    /// Compatible feature bits.
    pub compat: u64,
    /// Incompatible feature bits (all of them, known or not).
    pub incompat: u64,
    /// Read-only-compatible feature bits.
    pub ro_compat: u64,
    /// Number of ring slots.
    pub capacity: u32,
    /// Entry format identifier ([`crate::layout::entry_format`]).
    pub entry_format: u32,
    /// Entry payload size in bytes.
    pub entry_size: u32,
    /// Entry payload alignment in bytes.
    pub entry_align: u32,
    /// Distance between slots.
    pub slot_stride: u32,
    /// Payload offset inside a slot.
    pub payload_offset: u32,
    /// Bytes the creator laid out.
    pub region_len: u64,
    /// Where the ring's indices started (informational).
    pub initial_index: u32,
    /// The creator's process id (informational).
    pub creator_pid: u32,
    /// The block table.
    pub blocks: [BlockRow; BLOCK_COUNT],
    /// Overflow slots (0 without the overflow area).
    pub overflow_capacity: u32,
    /// Producer records (0 without them).
    pub producer_slots: u32,
}

impl HeaderSnapshot {
    /// The snapshot of a header whose checks passed (`mode` the checked `mode` word).
    fn of(w: &crate::format::HeaderWords, mode: Mode) -> Self {
        HeaderSnapshot {
            version_major: w.version_major,
            version_minor: w.version_minor,
            header_len: w.header_len,
            mode,
            compat: w.compat,
            incompat: w.incompat,
            ro_compat: w.ro_compat,
            capacity: w.capacity,
            entry_format: w.entry_format,
            entry_size: w.entry_size,
            entry_align: w.entry_align,
            slot_stride: w.slot_stride,
            payload_offset: w.payload_offset,
            region_len: w.region_len,
            initial_index: w.initial_index,
            creator_pid: w.creator_pid,
            blocks: w.rows.map(|(offset, len)| BlockRow { offset, len }),
            overflow_capacity: w.overflow_capacity,
            producer_slots: w.producer_slots,
        }
    }
}

/// The producer line's words.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ProducerSnapshot {
    /// Producer index.
    pub tail: u32,
    /// Single-producer claim word: 0 or the holder's process id.
    pub owner: u32,
    /// Refusal episodes.
    pub full_refusals: u64,
    /// Positions published as discarded.
    pub discarded: u64,
}

/// The consumer line's words.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSnapshot {
    /// Consumer index.
    pub head: u32,
    /// Single-consumer claim word: 0 or the holder's process id.
    pub owner: u32,
}

/// The overflow line's words.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct OverflowSnapshot {
    /// The raw `state` word.
    pub state: u64,
    /// Whether `ACTIVE` is set.
    pub active: bool,
    /// The overflow tail (low half of `state`).
    pub tail: u32,
    /// The overflow head.
    pub head: u32,
    /// Entries published in the overflow area.
    pub overflowed: u64,
    /// Activations.
    pub activations: u64,
}

/// The wait line's words.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct WaitSnapshot {
    /// The futex word (a wake-up sequence).
    pub futex: u32,
    /// The raw `waiters` word.
    pub waiters: u32,
    /// Consumers announced on the futex (bits 0..16).
    pub futex_waiters: u32,
    /// Consumers announced on the eventfd (bits 16..32).
    pub eventfd_waiters: u32,
    /// [`crate::layout::wait_flags`] bits.
    pub flags: u32,
    /// Wake-ups issued.
    pub wakeups: u64,
    /// Sleeps.
    pub sleeps: u64,
}

/// The registry line's words (producer records block).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RegistrySnapshot {
    /// Recovery claim word: 0 or the recovering process's id.
    pub recoverer: u32,
    /// Recovery runs completed.
    pub recoveries: u64,
    /// Positions recovery discarded.
    pub recovered: u64,
    /// Records of dead owners freed.
    pub reclaimed: u64,
}

/// One producer record's words.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RecordSnapshot {
    /// 0 when free, else the owner's process id.
    pub owner: u32,
    /// The owner's start time (0: unknown).
    pub start_time: u64,
    /// Ring intent, first position.
    pub ring_start: u32,
    /// Ring intent, number of positions.
    pub ring_len: u32,
    /// Overflow intent, first position.
    pub overflow_start: u32,
    /// Overflow intent, number of positions.
    pub overflow_len: u32,
}

/// A validated, read-only view of a region ([`inspect`]).
#[derive(Copy, Clone, Debug)]
pub struct Inspection {
    region: ReadOnlyRegion,
    header: HeaderSnapshot,
    /// A record region's validated geometry (`None`: a fixed-entry ring).
    records: Option<crate::record::RecordGeometry>,
}

/// The `incompat` bits this crate interprets (the others are shown, not interpreted).
const KNOWN_INCOMPAT: u64 = features::INCOMPAT_KNOWN;

/// `(slot_stride, payload_offset)` of spec/LAYOUT.md section 6 for an entry of `size` bytes
/// with alignment `align` (a power of two of at most 128); the stride is `None` if it does not
/// fit a `u32`.
/// With `packed` (1.4, `INCOMPAT_PACKED`) the slot has no header: the payload is at 0 and
/// the stride is the size rounded up to `max(align, 4)`.
fn slot_layout(size: u32, align: u32, packed: bool) -> (Option<u32>, u32) {
    let slot_align = u64::from(align.max(4));
    let payload_offset = if packed {
        0
    } else {
        align.max(SLOT_HEADER_LEN)
    };
    let unrounded = u64::from(payload_offset) + u64::from(size);
    let stride = unrounded.div_ceil(slot_align) * slot_align;
    (u32::try_from(stride).ok(), payload_offset)
}

/// Validates the header of `region` as attach does, without an entry type (module docs), and
/// returns a view of it. Nothing is written.
///
/// # Errors
///
/// [`InspectError::Layout`] with the [`LayoutError`] `attach` would give for the header
/// checks it shares; [`InspectError::EntryAlign`] / [`InspectError::SlotLayout`] in place of
/// attach's entry checks.
pub fn inspect(region: &ReadOnlyRegion) -> Result<Inspection, InspectError> {
    let avail = region.len as u64;
    // SAFETY: `ReadOnlyRegion::new`'s contract: the bytes stay mapped and readable, and every
    // other user accesses the words of the layout atomically; `load_header` only loads.
    let w = unsafe { crate::format::load_header(region.ptr.as_ptr(), region.len) }?;
    if w.has(crate::record::layout::INCOMPAT_RECORDS) {
        return inspect_records(region, &w);
    }
    // Checks 6 and 7 are not made: unknown bits are reported (`unknown_incompat`).
    let mode = Mode::from_bits(w.mode).ok_or(LayoutError::Mode { found: w.mode })?;
    debug_assert_eq!(mode.bits() & !mode_bits::KNOWN, 0);
    crate::format::check_capacity(w.capacity)?;
    let (entry_size, entry_align) = (w.entry_size, w.entry_align);
    if !entry_align.is_power_of_two() || u64::from(entry_align) > BLOCK_ALIGN {
        return Err(InspectError::EntryAlign { found: entry_align });
    }
    let (stride, poff) = (w.slot_stride, w.payload_offset);
    let packed = w.has(features::INCOMPAT_PACKED);
    let (expected_stride, expected_poff) = slot_layout(entry_size, entry_align, packed);
    if expected_stride != Some(stride) || poff != expected_poff {
        return Err(InspectError::SlotLayout {
            entry_size,
            entry_align,
            found_stride: stride,
            expected_stride: expected_stride.unwrap_or(0),
            found_payload_offset: poff,
            expected_payload_offset: expected_poff,
        });
    }
    // Checks 14 to 25, as attach makes them.
    w.check_fixed_blocks(avail, mode, stride)?;
    let header = HeaderSnapshot::of(&w, mode);
    Ok(Inspection {
        region: *region,
        header,
        records: None,
    })
}

/// [`inspect`] for a record region (spec/RECORDS.md, section 3.2): the record attach checks,
/// except that unknown `incompat` and `ro_compat` bits are reported, not refused, as for
/// fixed-entry rings.
fn inspect_records(
    region: &ReadOnlyRegion,
    w: &crate::format::HeaderWords,
) -> Result<Inspection, InspectError> {
    use crate::record::format::{check_records, RECORD_INCOMPAT_KNOWN};
    let mut known = *w;
    known.incompat &= RECORD_INCOMPAT_KNOWN;
    known.ro_compat &= features::RO_COMPAT_KNOWN;
    let geo = check_records(&known, region.len as u64)?;
    let header = HeaderSnapshot::of(w, geo.mode);
    Ok(Inspection {
        region: *region,
        header,
        records: Some(geo),
    })
}

impl Inspection {
    /// The header, as checked.
    pub fn header(&self) -> &HeaderSnapshot {
        &self.header
    }

    /// `incompat` bits this crate does not interpret (0 for a region it could attach to).
    pub fn unknown_incompat(&self) -> u64 {
        let known = if self.records.is_some() {
            crate::record::format::RECORD_INCOMPAT_KNOWN
        } else {
            KNOWN_INCOMPAT
        };
        self.header.incompat & !known
    }

    /// A record region's validated geometry (spec/RECORDS.md; capacities in bytes), or `None`
    /// for a ring of fixed-size entries. In a record region [`Inspection::producer`] reads the
    /// record producer line, whose `tail` is the low half of a 64-bit word
    /// ([`Inspection::record_reservations`] is the high half), and [`Inspection::overflow`]
    /// the record overflow area (positions in bytes).
    pub fn records(&self) -> Option<&crate::record::RecordGeometry> {
        self.records.as_ref()
    }

    /// A record region's reservation count (the high half of the record producer line's
    /// `tail` word: MPSC reservations made, wrapping); `None` for a fixed-entry ring.
    pub fn record_reservations(&self) -> Option<u32> {
        self.records?;
        let off = offset_of!(crate::record::layout::RecordProducerLine, tail) as u64;
        self.block_u64(Block::Producer, off)
            .map(|w| (w >> 32) as u32)
    }

    /// `ro_compat` bits this crate does not interpret.
    pub fn unknown_ro_compat(&self) -> u64 {
        self.header.ro_compat & !features::RO_COMPAT_KNOWN
    }

    /// Loads the `u32` at byte `offset` of block `block`, if the block is present and the word
    /// lies inside it (4-byte aligned). For fields a newer layout adds that this crate does not
    /// name yet.
    pub fn block_u32(&self, block: Block, offset: u64) -> Option<u32> {
        let at = self.word_offset(block, offset, 4)?;
        self.region.u32_at(at)
    }

    /// Loads the `u64` at byte `offset` of block `block` (see [`Inspection::block_u32`]).
    pub fn block_u64(&self, block: Block, offset: u64) -> Option<u64> {
        let at = self.word_offset(block, offset, 8)?;
        self.region.u64_at(at, Ordering::Relaxed)
    }

    /// The offset in the region of a `size`-byte word at `offset` inside `block`, if it lies
    /// inside the block (whose row `inspect` checked to lie inside the region).
    fn word_offset(&self, block: Block, offset: u64, size: u64) -> Option<u64> {
        let row = self.header.blocks[block as usize];
        if row.len == 0 || offset.checked_add(size)? > row.len {
            return None;
        }
        row.offset.checked_add(offset)
    }

    fn line_u32(&self, block: Block, offset: usize) -> u32 {
        self.block_u32(block, offset as u64).unwrap_or(0)
    }

    fn line_u64(&self, block: Block, offset: usize) -> u64 {
        self.block_u64(block, offset as u64).unwrap_or(0)
    }

    /// The producer line's words.
    pub fn producer(&self) -> ProducerSnapshot {
        let b = Block::Producer;
        if self.records.is_some() {
            use crate::record::layout::RecordProducerLine as L;
            return ProducerSnapshot {
                // The position: the low half of the 64-bit word (little-endian).
                tail: self.line_u64(b, offset_of!(L, tail)) as u32,
                owner: self.line_u32(b, offset_of!(L, owner)),
                full_refusals: self.line_u64(b, offset_of!(L, full_refusals)),
                discarded: self.line_u64(b, offset_of!(L, discarded)),
            };
        }
        ProducerSnapshot {
            tail: self.line_u32(b, offset_of!(ProducerLine, tail)),
            owner: self.line_u32(b, offset_of!(ProducerLine, owner)),
            full_refusals: self.line_u64(b, offset_of!(ProducerLine, full_refusals)),
            discarded: self.line_u64(b, offset_of!(ProducerLine, discarded)),
        }
    }

    /// The consumer line's words.
    pub fn consumer(&self) -> ConsumerSnapshot {
        let b = Block::Consumer;
        ConsumerSnapshot {
            head: self.line_u32(b, offset_of!(ConsumerLine, head)),
            owner: self.line_u32(b, offset_of!(ConsumerLine, owner)),
        }
    }

    /// The overflow line's words, if the region has an overflow area.
    pub fn overflow(&self) -> Option<OverflowSnapshot> {
        let b = Block::Overflow;
        let has = match self.records {
            Some(g) => g.overflow_offset.is_some(),
            None => self.header.incompat & features::INCOMPAT_OVERFLOW != 0,
        };
        if !has {
            return None;
        }
        let state = self.block_u64(b, offset_of!(OverflowLine, state) as u64)?;
        Some(OverflowSnapshot {
            state,
            active: state & crate::layout::overflow_state::ACTIVE != 0,
            tail: (state & crate::layout::overflow_state::TAIL_MASK) as u32,
            head: self.line_u32(b, offset_of!(OverflowLine, head)),
            overflowed: self.line_u64(b, offset_of!(OverflowLine, overflowed)),
            activations: self.line_u64(b, offset_of!(OverflowLine, activations)),
        })
    }

    /// The wait line's words, if the region has a wait block.
    pub fn wait(&self) -> Option<WaitSnapshot> {
        let b = Block::Wait;
        if self.header.incompat & features::INCOMPAT_WAIT == 0 {
            return None;
        }
        let waiters = self.block_u32(b, offset_of!(WaitLine, waiters) as u64)?;
        Some(WaitSnapshot {
            futex: self.line_u32(b, offset_of!(WaitLine, futex)),
            waiters,
            futex_waiters: waiters & crate::layout::waiters::FUTEX_MASK,
            eventfd_waiters: waiters >> 16,
            flags: self.line_u32(b, offset_of!(WaitLine, flags)),
            wakeups: self.line_u64(b, offset_of!(WaitLine, wakeups)),
            sleeps: self.line_u64(b, offset_of!(WaitLine, sleeps)),
        })
    }

    /// The registry line's words, if the region has producer records.
    pub fn registry(&self) -> Option<RegistrySnapshot> {
        let b = Block::Producers;
        if self.header.incompat & features::INCOMPAT_PRODUCERS == 0 {
            return None;
        }
        let recoverer = self.block_u32(b, offset_of!(RegistryLine, recoverer) as u64)?;
        Some(RegistrySnapshot {
            recoverer,
            recoveries: self.line_u64(b, offset_of!(RegistryLine, recoveries)),
            recovered: self.line_u64(b, offset_of!(RegistryLine, recovered)),
            reclaimed: self.line_u64(b, offset_of!(RegistryLine, reclaimed)),
        })
    }

    /// Producer record `i` (`i < producer_slots`), if the region has producer records.
    pub fn record(&self, i: u32) -> Option<RecordSnapshot> {
        if self.header.incompat & features::INCOMPAT_PRODUCERS == 0
            || i >= self.header.producer_slots
        {
            return None;
        }
        let base = u64::from(LINE_LEN) * (1 + u64::from(i));
        let b = Block::Producers;
        let at = |off: usize| base + off as u64;
        Some(RecordSnapshot {
            owner: self.block_u32(b, at(offset_of!(ProducerRecord, owner)))?,
            start_time: self.block_u64(b, at(offset_of!(ProducerRecord, start_time)))?,
            ring_start: self.block_u32(b, at(offset_of!(ProducerRecord, ring_start)))?,
            ring_len: self.block_u32(b, at(offset_of!(ProducerRecord, ring_len)))?,
            overflow_start: self.block_u32(b, at(offset_of!(ProducerRecord, overflow_start)))?,
            overflow_len: self.block_u32(b, at(offset_of!(ProducerRecord, overflow_len)))?,
        })
    }
}

/// Whether the process a claim word or record names is alive, as ring-core judges it when it
/// takes a claim over or recovers (spec/LAYOUT.md, sections 11 and 14): not a valid process id,
/// no such process, or a zombie means dead; with `start_time != 0`, a process now running under
/// that id with another start time is dead too. `owner == 0` (free) is not alive. Without
/// `std` every non-zero owner counts as alive.
pub fn owner_alive(owner: u32, start_time: u64) -> bool {
    owner != 0 && crate::protocol::registry::alive(owner, start_time)
}
