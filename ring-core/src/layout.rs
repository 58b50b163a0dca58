//! The byte layout of a ring region, version 1.4 (spec/LAYOUT.md is the contract).
//!
//! ```text
//! offset  size  block
//! 0       256   Header: identity, version, features, geometry, block table
//! 256     128   ProducerLine: tail, producer claim, producer counters
//! 384     128   ConsumerLine: head, consumer claim
//! 512     cap * stride   slot array (Slot<T>, or PackedSlot<T> in packed SPSC rings), 128-byte aligned
//! ```
//!
//! Every field is little-endian and naturally aligned. Every block other than the header is found
//! through the header's block table, never at an assumed offset, so later minor versions may move
//! blocks or add new ones (the overflow area and the wait words are reserved table rows).
//!
//! All shared words are atomics: another process may write them at any time, so they are never
//! read as plain memory. The structs below are `#[repr(C)]` and their sizes and offsets are
//! pinned by compile-time assertions (normal builds only: loom's atomics have other sizes).

use crate::sync::{AtomicU32, AtomicU64, PayloadCell};

// Every field is little-endian and the structs below are read in native byte order.
#[cfg(not(target_endian = "little"))]
compile_error!("ring-core's layout is little-endian; big-endian targets are not supported");
use core::mem::MaybeUninit;

/// `b"CRINGv1\0"` read as a little-endian `u64`: the first eight bytes of every region.
pub const MAGIC: u64 = u64::from_le_bytes(*b"CRINGv1\0");
/// Layout major version written by this crate. A reader refuses any other major version.
pub const VERSION_MAJOR: u32 = 1;
/// Layout minor version written by this crate. Minor versions only add compatible things.
pub const VERSION_MINOR: u32 = 4;
/// Size in bytes of the header block in layout 1.x.
pub const HEADER_LEN: u32 = 256;
/// Size in bytes of the producer line and of the consumer line.
pub const LINE_LEN: u32 = 128;
/// Alignment, in bytes, that every block and the region base must have.
pub const BLOCK_ALIGN: u64 = 128;
/// Number of rows in the header's block table.
pub const BLOCK_COUNT: usize = 8;
/// Smallest capacity a ring may have (with one slot "full at n" and "free at n + 1" collide).
pub const MIN_CAPACITY: u32 = 2;
/// Largest capacity a ring may have: half the index space, so that `tail - head` never aliases.
pub const MAX_CAPACITY: u32 = 1 << 31;
/// Offset of the payload inside a slot whose payload alignment is at most 8.
pub const SLOT_HEADER_LEN: u32 = 8;

/// Feature bits. A reader refuses a region with an unknown bit in `incompat`, refuses to write to
/// one with an unknown bit in `ro_compat`, and ignores unknown bits in `compat`.
pub mod features {
    /// incompat (1.1): the overflow area (table row [`super::Block::Overflow`]) is present;
    /// producers spill into it when the ring is full and route every entry through it while it
    /// is active. A reader that does not know this would miss spilled entries and break
    /// per-producer order, so it must refuse the region.
    pub const INCOMPAT_OVERFLOW: u64 = 1 << 0;
    /// incompat (1.1): the wait block (table row [`super::Block::Wait`]) is present; consumers
    /// may sleep on its futex word and every producer must follow the wake-up protocol after
    /// publishing. A producer that does not know this would leave sleepers asleep, so it is an
    /// incompatible feature, not a compatible one.
    pub const INCOMPAT_WAIT: u64 = 1 << 1;
    /// incompat (1.2): the producer records (table row [`super::Block::Producers`]) are
    /// present; every producer of a multi-producer ring registers in one and records what it is
    /// about to reserve before each reservation, so that the positions of a producer that died
    /// can be found and released. A producer that does not know this would reserve without a
    /// record, and recovery could then take its live reservations for a dead one's, so it must
    /// refuse the region.
    pub const INCOMPAT_PRODUCERS: u64 = 1 << 2;
    /// incompat (1.3): the producer line's [`super::ProducerLine::stream`] word is kept (end
    /// of stream): producers of a multi-producer ring count themselves in it while they take
    /// part, a producer side closes the stream in it, and consumers that drained the ring report
    /// the end of the stream once it is closed. A producer that does not know this would not
    /// count itself, and the stream could close while it still publishes, so it must refuse the
    /// region.
    pub const INCOMPAT_STREAM: u64 = 1 << 3;
    /// incompat (1.3, with [`INCOMPAT_WAIT`]): sleepers publish the position they wait for in
    /// [`super::WaitLine::wake_target`], and producers publishing into the ring wake them only
    /// once the producer index reaches it. A sleeper that does not know this would publish no
    /// target and could be left asleep, so it must refuse the region.
    pub const INCOMPAT_WAIT_TARGET: u64 = 1 << 4;
    /// incompat (1.4, SPSC rings without an overflow area only): the ring's slots carry no
    /// slot header ([`super::PackedSlot`]): `payload_offset` is 0 and `slot_stride` is the entry
    /// size rounded up to `max(entry_align, 4)`. The SPSC protocol never uses lap tags, so the
    /// tags only cost room: a 16-byte entry fills 16 bytes instead of 24, four to a cache line.
    /// A reader that does not know this would address the slots at the wrong stride, so it
    /// must refuse the region.
    pub const INCOMPAT_PACKED: u64 = 1 << 6;
    /// Every incompat bit this crate understands (for fixed-entry rings; the record ring's bit 5
    /// is checked by [`crate::record`]).
    pub const INCOMPAT_KNOWN: u64 = INCOMPAT_OVERFLOW
        | INCOMPAT_WAIT
        | INCOMPAT_PRODUCERS
        | INCOMPAT_STREAM
        | INCOMPAT_WAIT_TARGET
        | INCOMPAT_PACKED;
    /// Every ro_compat bit this crate understands.
    pub const RO_COMPAT_KNOWN: u64 = 0;
}

/// Mode bits of the header's `mode` word.
pub mod mode_bits {
    /// Several producers may push concurrently (reservation by compare-and-swap).
    pub const MULTI_PRODUCER: u32 = 1 << 0;
    /// Several consumers may pop concurrently (claim by compare-and-swap).
    pub const MULTI_CONSUMER: u32 = 1 << 1;
    /// Every mode bit defined by layout 1.x.
    pub const KNOWN: u32 = MULTI_PRODUCER | MULTI_CONSUMER;
}

/// Entry format identifiers of the header's `entry_format` word.
pub mod entry_format {
    /// Caller-defined plain-data entries: only size and alignment are described.
    pub const OPAQUE: u32 = 0;
    /// [`crate::Completion`]: `u64 user_data, i32 result, u32 flags`, 16 bytes.
    pub const COMPLETION_V1: u32 = 1;
}

/// Bits of a slot's `meta` word (meaningful in every mode except SPSC).
pub mod slot_meta {
    /// The slot was reserved and then abandoned: consumers consume it without delivering it.
    pub const DISCARDED: u32 = 1 << 0;
}

/// The rows of the header's block table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Block {
    /// The producer line ([`ProducerLine`]).
    Producer = 0,
    /// The consumer line ([`ConsumerLine`]).
    Consumer = 1,
    /// The slot array (`capacity` slots of `slot_stride` bytes).
    Slots = 2,
    /// The overflow area (reserved; offset and length zero in layout 1.0).
    Overflow = 3,
    /// The wait/notify words (reserved; offset and length zero in layout 1.0).
    Wait = 4,
    /// The producer records (1.2; offset and length zero without
    /// [`features::INCOMPAT_PRODUCERS`]): a [`RegistryLine`] and `producer_slots`
    /// [`ProducerRecord`]s.
    Producers = 5,
}

impl Block {
    /// Human-readable block name used in errors.
    pub const fn name(index: usize) -> &'static str {
        match index {
            0 => "producer",
            1 => "consumer",
            2 => "slots",
            3 => "overflow",
            4 => "wait",
            5 => "producers",
            _ => "reserved",
        }
    }
}

/// One row of the block table: where a block lives in the region. `len == 0` means absent.
#[repr(C)]
#[derive(Debug)]
pub struct BlockEntry {
    /// Offset of the block from the region base, in bytes (a multiple of [`BLOCK_ALIGN`]).
    pub offset: AtomicU64,
    /// Length of the block in bytes.
    pub len: AtomicU64,
}

/// The region header (256 bytes at offset 0). Written once by the creator, `magic` last with
/// Release ordering; read once by each attacher into private trusted copies.
#[repr(C)]
#[derive(Debug)]
pub struct Header {
    /// [`MAGIC`]. Zero while the creator is still formatting the region.
    pub magic: AtomicU64,
    /// [`VERSION_MAJOR`].
    pub version_major: AtomicU32,
    /// [`VERSION_MINOR`].
    pub version_minor: AtomicU32,
    /// Size of this header in bytes ([`HEADER_LEN`] in 1.x; a reader accepts larger values).
    pub header_len: AtomicU32,
    /// [`mode_bits`]: which sides may have several participants.
    pub mode: AtomicU32,
    /// Compatible feature bits: unknown ones may be ignored.
    pub compat: AtomicU64,
    /// Incompatible feature bits: an unknown one means "do not touch this region".
    pub incompat: AtomicU64,
    /// Read-only-compatible feature bits: with an unknown one a reader may only read.
    pub ro_compat: AtomicU64,
    /// Number of slots: a power of two in `MIN_CAPACITY..=MAX_CAPACITY`.
    pub capacity: AtomicU32,
    /// [`entry_format`] identifier.
    pub entry_format: AtomicU32,
    /// Size of one entry payload in bytes.
    pub entry_size: AtomicU32,
    /// Alignment of one entry payload in bytes (a power of two, at most [`BLOCK_ALIGN`]).
    pub entry_align: AtomicU32,
    /// Distance in bytes between consecutive slots.
    pub slot_stride: AtomicU32,
    /// Offset of the payload inside a slot (`max(8, entry_align)`).
    pub payload_offset: AtomicU32,
    /// Total bytes of the region the creator laid out (every block ends at or before it).
    pub region_len: AtomicU64,
    /// The index value the ring started at (informational; the live indices are authoritative).
    pub initial_index: AtomicU32,
    /// Process id of the creator (informational).
    pub creator_pid: AtomicU32,
    /// The block table, indexed by [`Block`]. Rows 6..8 are reserved and zero in layout 1.x.
    pub blocks: [BlockEntry; BLOCK_COUNT],
    /// Number of overflow slots (1.1, with [`features::INCOMPAT_OVERFLOW`]): a power of two in
    /// `MIN_CAPACITY..=MAX_CAPACITY`; 0 without the feature.
    pub overflow_capacity: AtomicU32,
    /// Number of producer records (1.2, with [`features::INCOMPAT_PRODUCERS`]): in
    /// `1..=MAX_PRODUCER_SLOTS`; 0 without the feature.
    pub producer_slots: AtomicU32,
    /// Reserved, zero.
    pub reserved: [AtomicU64; 4],
}

/// The producer line (128 bytes, its own pair of cache lines).
#[repr(C, align(128))]
#[derive(Debug)]
pub struct ProducerLine {
    /// Producer index: positions below it are reserved (multi-producer) or published (single).
    pub tail: AtomicU32,
    /// Single-producer claim: 0 when free, otherwise the owner's token (its process id).
    pub owner: AtomicU32,
    /// Pushes refused because the ring was full.
    pub full_refusals: AtomicU64,
    /// Reserved slots published as discarded (abandoned zero-copy reservations).
    pub discarded: AtomicU64,
    /// End of stream (1.3, with [`features::INCOMPAT_STREAM`]): [`stream`] bits. Zero in
    /// rings without the feature.
    pub stream: AtomicU32,
    /// Reserved, zero.
    pub reserved32: AtomicU32,
    /// Reserved, zero.
    pub reserved: [AtomicU64; 12],
}

/// Bits of [`ProducerLine::stream`] (1.3, [`features::INCOMPAT_STREAM`]).
///
/// Multi-producer rings count the producers that take part in bits 0..16 (a producer joins
/// when its handle is made and leaves when it closes or is dropped; recovery makes a dead
/// producer leave when it frees its record); single-producer rings leave the count at 0.
pub mod stream {
    /// Mask of the count of producers taking part (multi-producer rings).
    pub const PRODUCERS_MASK: u32 = 0xffff;
    /// A producer asked to close the stream: it closes when the last producer leaves
    /// (multi-producer rings). Set together with [`CLOSED`] in single-producer rings.
    pub const CLOSE_REQUESTED: u32 = 1 << 30;
    /// The stream is closed: no producer will publish again. Final. Consumers that find the
    /// ring (and the overflow area) drained after seeing it report the end of the stream.
    pub const CLOSED: u32 = 1 << 31;
}

/// The consumer line (128 bytes, its own pair of cache lines).
#[repr(C, align(128))]
#[derive(Debug)]
pub struct ConsumerLine {
    /// Consumer index: positions below it are consumed (single) or claimed (multi-consumer).
    pub head: AtomicU32,
    /// Single-consumer claim: 0 when free, otherwise the owner's token (its process id).
    pub owner: AtomicU32,
    /// Record rings (MPSC consumers, spec/RECORDS.md MC3 and 7.3): the end of the record the
    /// consumer is zeroing, stored before the zeroing, so that a successor can finish a
    /// release the consumer died in. Fixed-entry rings: reserved, zero.
    pub release_end: AtomicU32,
    /// Reserved, zero.
    pub reserved32: AtomicU32,
    /// Reserved, zero.
    pub reserved: [AtomicU64; 14],
}

/// The head of the overflow area (1.1): its indices, its "active" flag and its counters. The
/// overflow slots (`overflow_capacity` of them, same stride as the ring's) follow it.
///
/// `state` packs the overflow producer index and the flag into one word so that a producer's
/// reservation and a consumer's deactivation cannot both succeed: bits 0..32 are the overflow
/// tail, bit 32 is [`overflow_state::ACTIVE`].
///
/// Overflow lap tags are stored *biased*: the stored word is `tag - (position & mask)`, so that
/// zeroed memory is the formatted state (every slot free for its first lap, indices at 0) and
/// formatting an overflow area writes nothing.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct OverflowLine {
    /// Overflow tail (low 32 bits) and [`overflow_state`] flags (high 32 bits).
    pub state: AtomicU64,
    /// Overflow head: positions below it are consumed (single) or claimed (multi-consumer).
    pub head: AtomicU32,
    /// Record rings (the overflow consumer, spec/RECORDS.md RO6 and 7.3): the end of the
    /// overflow record being zeroed, stored before the zeroing. Fixed-entry rings: reserved,
    /// zero.
    pub release_end: AtomicU32,
    /// Entries that went through the overflow area (published there).
    pub overflowed: AtomicU64,
    /// Times the overflow area went from inactive to active.
    pub activations: AtomicU64,
    /// Reserved, zero.
    pub reserved: [AtomicU64; 12],
}

/// The head of the producer records block (1.2): who is recovering, and what recovery did.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct RegistryLine {
    /// Recovery claim word: 0 when nobody recovers, otherwise the recovering process's id
    /// (a claim word like the producer line's `owner`, taken over from a dead process).
    pub recoverer: AtomicU32,
    /// Reserved, zero.
    pub reserved32: AtomicU32,
    /// Recovery runs completed.
    pub recoveries: AtomicU64,
    /// Positions recovery published as discarded (they are also counted in the producer line's
    /// `discarded`).
    pub recovered: AtomicU64,
    /// Producer records of dead processes that recovery freed.
    pub reclaimed: AtomicU64,
    /// Reserved, zero.
    pub reserved: [AtomicU64; 12],
}

/// One producer's record (1.2): who holds it, and the positions it is about to reserve or has
/// reserved and not yet published, in the ring and in the overflow area. Its own 128 bytes:
/// its owner writes an intent before every reservation.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct ProducerRecord {
    /// 0 when free, otherwise the owning process's id.
    pub owner: AtomicU32,
    /// Reserved, zero.
    pub reserved32: AtomicU32,
    /// The owner's start time (Linux: field 22 of `/proc/<pid>/stat`, clock ticks since boot),
    /// so that a new process that reuses a dead owner's id is not taken for it; 0 when unknown.
    pub start_time: AtomicU64,
    /// Ring intent, first position: with `ring_len`, the span `ring_start .. ring_start +
    /// ring_len` the owner is about to reserve (or has reserved and not yet published) in the
    /// ring. Two words, each stored with Release before the reservation; `ring_len` is never
    /// 0 while the record is owned (1 between batches), so a one-position reservation stores
    /// `ring_start` alone.
    pub ring_start: AtomicU32,
    /// Ring intent, number of positions (see `ring_start`).
    pub ring_len: AtomicU32,
    /// Overflow intent, first position (as `ring_start`, for the overflow area).
    pub overflow_start: AtomicU32,
    /// Overflow intent, number of positions.
    pub overflow_len: AtomicU32,
    /// Reserved, zero.
    pub reserved: [AtomicU64; 12],
}

/// Largest number of producer records a region may have.
pub const MAX_PRODUCER_SLOTS: u32 = 4096;
/// Producer records a multi-producer ring gets unless its configuration says otherwise.
pub const DEFAULT_PRODUCER_SLOTS: u32 = 64;

/// Flags in the high half of [`OverflowLine::state`].
pub mod overflow_state {
    /// Set while the overflow area is in use: every producer routes its entries to it (never to
    /// the ring) until a consumer finds it drained and clears the flag.
    pub const ACTIVE: u64 = 1 << 32;
    /// Mask of the overflow tail.
    pub const TAIL_MASK: u64 = 0xffff_ffff;
}

/// The wait/notify words (1.1): where consumers sleep and what producers check after
/// publishing.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct WaitLine {
    /// Consumer futex word: a wake-up sequence that a waker increments before `FUTEX_WAKE`.
    pub futex: AtomicU32,
    /// Consumers that announced they are about to sleep: futex sleepers in bits 0..16,
    /// eventfd waiters in bits 16..32 ([`waiters`]).
    pub waiters: AtomicU32,
    /// [`wait_flags`] bits.
    pub flags: AtomicU32,
    /// Reserved, zero.
    pub reserved32: AtomicU32,
    /// Wake-ups issued by producers (or forced).
    pub wakeups: AtomicU64,
    /// Times a consumer went to sleep.
    pub sleeps: AtomicU64,
    /// Wake-up target (1.3, with [`features::INCOMPAT_WAIT_TARGET`]): [`wake_target`] bits.
    pub wake_target: AtomicU64,
    /// Reserved, zero.
    pub reserved: [AtomicU64; 11],
}

/// The two counts packed in [`WaitLine::waiters`]: consumers announced to sleep on the futex in
/// bits 0..16, consumers announced to wait on the eventfd in bits 16..32. A producer's W1 wakes
/// if the word is non-zero; it makes the `FUTEX_WAKE` system call only if the futex half is.
/// A participant that counts every waiter in the low half (as layout 1.1 first specified) stays
/// compatible: its eventfd waiters only cost a useless `FUTEX_WAKE`.
pub mod waiters {
    /// One consumer about to sleep on the futex.
    pub const FUTEX: u32 = 1;
    /// One consumer about to wait on the eventfd.
    pub const EVENTFD: u32 = 1 << 16;
    /// The futex sleepers' half.
    pub const FUTEX_MASK: u32 = 0xffff;
    /// The eventfd waiters' half.
    pub const EVENTFD_MASK: u32 = 0xffff_0000;
}

/// Encoding of [`WaitLine::wake_target`] (1.3, [`features::INCOMPAT_WAIT_TARGET`]): while
/// [`ARMED`](wake_target::ARMED) is set, the low 32 bits are the lowest ring position a
/// sleeper waits for: a producer that published into the ring wakes sleepers only once the
/// producer index has reached it (`tail - target` as `i32` is `>= 0`).
/// [`ANY`](wake_target::ANY) asks for a wake-up after any publication.
pub mod wake_target {
    /// Mask of the target position.
    pub const POSITION_MASK: u64 = 0xffff_ffff;
    /// A target is set.
    pub const ARMED: u64 = 1 << 32;
    /// Wake after any publication (a sleeper that could not lower the target).
    pub const ANY: u64 = 1 << 33;
}

/// Bits of [`WaitLine::flags`].
pub mod wait_flags {
    /// Consumers poll and never sleep: producers skip the wake-up check (and its fence).
    pub const NO_WAKE: u32 = 1 << 0;
    /// An eventfd is attached: producers that hold it signal it whenever they wake sleepers.
    pub const EVENTFD: u32 = 1 << 1;
}

/// One slot of the ring: an 8-byte slot header and the entry payload.
///
/// `seq` is the slot's lap tag: for the position `p` that maps to this slot it holds `p` while
/// the slot is free for `p`, and `p + 1` once the entry for `p` is published; consuming it stores
/// `p + capacity`, the next lap's "free". SPSC rings do not use `seq` or `meta`.
#[repr(C)]
#[derive(Debug)]
pub struct Slot<T> {
    /// Lap tag (see above).
    pub seq: AtomicU32,
    /// [`slot_meta`] bits, written before `seq` is published.
    pub meta: AtomicU32,
    /// The entry payload. Initialised once published; plain data, so any bytes are a valid `T`.
    pub payload: PayloadCell<MaybeUninit<T>>,
}

impl<T> Slot<T> {
    /// Offset of the payload inside the slot.
    pub const PAYLOAD_OFFSET: usize = core::mem::offset_of!(Slot<T>, payload);
    /// Distance between consecutive slots.
    pub const STRIDE: usize = core::mem::size_of::<Slot<T>>();
}

/// One slot of a packed ring (1.4, [`features::INCOMPAT_PACKED`]): the payload alone, with no
/// slot header. Slots are `max(align_of::<T>(), 4)`-aligned, so every payload is 4-aligned (the
/// word-sized copies need it) and the stride is the entry size rounded up to that alignment.
#[repr(C, align(4))]
#[derive(Debug)]
pub struct PackedSlot<T> {
    /// The entry payload. Initialised once published; plain data, so any bytes are a valid `T`.
    pub payload: PayloadCell<MaybeUninit<T>>,
}

impl<T> PackedSlot<T> {
    /// Distance between consecutive slots (the payload is at offset 0).
    pub const STRIDE: usize = core::mem::size_of::<PackedSlot<T>>();
}

#[cfg(ring_core_loom)]
impl<T> PackedSlot<T> {
    /// An unwritten slot (model builds allocate slots on the heap).
    pub fn new() -> Self {
        PackedSlot {
            payload: PayloadCell::new(MaybeUninit::uninit()),
        }
    }
}

#[cfg(ring_core_loom)]
impl<T> Default for PackedSlot<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(ring_core_loom)]
impl<T> Slot<T> {
    /// A free slot whose lap tag is `seq` (model builds allocate slots on the heap).
    pub fn new(seq: u32) -> Self {
        Slot {
            seq: AtomicU32::new(seq),
            meta: AtomicU32::new(0),
            payload: PayloadCell::new(MaybeUninit::uninit()),
        }
    }
}

#[cfg(ring_core_loom)]
impl ProducerLine {
    /// A zeroed producer line whose tail is `tail`.
    pub fn new(tail: u32) -> Self {
        ProducerLine {
            tail: AtomicU32::new(tail),
            owner: AtomicU32::new(0),
            full_refusals: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            stream: AtomicU32::new(0),
            reserved32: AtomicU32::new(0),
            reserved: Default::default(),
        }
    }
}

#[cfg(ring_core_loom)]
impl RegistryLine {
    /// A zeroed registry line.
    pub fn new() -> Self {
        RegistryLine {
            recoverer: AtomicU32::new(0),
            reserved32: AtomicU32::new(0),
            recoveries: AtomicU64::new(0),
            recovered: AtomicU64::new(0),
            reclaimed: AtomicU64::new(0),
            reserved: Default::default(),
        }
    }
}

#[cfg(ring_core_loom)]
impl Default for RegistryLine {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(ring_core_loom)]
impl ProducerRecord {
    /// A free record.
    pub fn new() -> Self {
        ProducerRecord {
            owner: AtomicU32::new(0),
            reserved32: AtomicU32::new(0),
            start_time: AtomicU64::new(0),
            ring_start: AtomicU32::new(0),
            ring_len: AtomicU32::new(0),
            overflow_start: AtomicU32::new(0),
            overflow_len: AtomicU32::new(0),
            reserved: Default::default(),
        }
    }
}

#[cfg(ring_core_loom)]
impl Default for ProducerRecord {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(ring_core_loom)]
impl Default for OverflowLine {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(ring_core_loom)]
impl Default for WaitLine {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(ring_core_loom)]
impl OverflowLine {
    /// A zeroed overflow line (indices at 0, inactive).
    pub fn new() -> Self {
        OverflowLine {
            state: AtomicU64::new(0),
            head: AtomicU32::new(0),
            release_end: AtomicU32::new(0),
            overflowed: AtomicU64::new(0),
            activations: AtomicU64::new(0),
            reserved: Default::default(),
        }
    }
}

#[cfg(ring_core_loom)]
impl WaitLine {
    /// A zeroed wait line.
    pub fn new() -> Self {
        WaitLine {
            futex: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
            flags: AtomicU32::new(0),
            reserved32: AtomicU32::new(0),
            wakeups: AtomicU64::new(0),
            sleeps: AtomicU64::new(0),
            wake_target: AtomicU64::new(0),
            reserved: Default::default(),
        }
    }
}

#[cfg(ring_core_loom)]
impl ConsumerLine {
    /// A zeroed consumer line whose head is `head`.
    pub fn new(head: u32) -> Self {
        ConsumerLine {
            head: AtomicU32::new(head),
            owner: AtomicU32::new(0),
            release_end: AtomicU32::new(head),
            reserved32: AtomicU32::new(0),
            reserved: Default::default(),
        }
    }
}

/// The lap tag a freshly formatted slot `slot` holds: the first position at or after
/// `initial_index` (wrapping) that maps to the slot, i.e.
/// `initial_index + ((slot - initial_index) & (capacity - 1))`.
pub const fn initial_lap_tag(slot: u32, initial_index: u32, capacity: u32) -> u32 {
    initial_index.wrapping_add(slot.wrapping_sub(initial_index) & (capacity - 1))
}

/// Offset of the producer line in a region formatted by this crate.
pub const PRODUCER_OFFSET: u64 = HEADER_LEN as u64;
/// Offset of the consumer line in a region formatted by this crate.
pub const CONSUMER_OFFSET: u64 = PRODUCER_OFFSET + LINE_LEN as u64;
/// Offset of the slot array in a region formatted by this crate.
pub const SLOTS_OFFSET: u64 = CONSUMER_OFFSET + LINE_LEN as u64;

/// Where this crate places each block for a ring of `capacity` slots of `T` with
/// `overflow_capacity` overflow slots (0: none) and an optional wait block.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// `(offset, len)` of the slot array.
    pub slots: (u64, u64),
    /// `(offset, len)` of the overflow block (line + slots), `(0, 0)` if absent.
    pub overflow: (u64, u64),
    /// `(offset, len)` of the wait block, `(0, 0)` if absent.
    pub wait: (u64, u64),
    /// `(offset, len)` of the producer records block (registry line + records), `(0, 0)` if
    /// absent.
    pub producers: (u64, u64),
    /// Total bytes.
    pub region_len: u64,
}

const fn align_up(x: u64) -> Option<u64> {
    match x.checked_add(BLOCK_ALIGN - 1) {
        Some(v) => Some(v / BLOCK_ALIGN * BLOCK_ALIGN),
        None => None,
    }
}

/// The placement of every block for slots with lap tags ([`Slot`]), or `None` if the size
/// overflows `u64`.
pub const fn placement_for<T>(
    capacity: u32,
    overflow_capacity: u32,
    wait: bool,
    producer_slots: u32,
) -> Option<Placement> {
    placement_with_stride(
        Slot::<T>::STRIDE as u64,
        capacity,
        overflow_capacity,
        wait,
        producer_slots,
    )
}

/// The placement of every block of a packed SPSC ring (1.4: [`PackedSlot`]s, no overflow area,
/// no producer records), or `None` if the size overflows `u64`.
pub const fn placement_packed<T>(capacity: u32, wait: bool) -> Option<Placement> {
    placement_with_stride(PackedSlot::<T>::STRIDE as u64, capacity, 0, wait, 0)
}

/// The placement of every block when the ring's and the overflow area's slots are `stride`
/// bytes apart (spec/LAYOUT.md, section 1).
const fn placement_with_stride(
    stride: u64,
    capacity: u32,
    overflow_capacity: u32,
    wait: bool,
    producer_slots: u32,
) -> Option<Placement> {
    let Some(slots_len) = stride.checked_mul(capacity as u64) else {
        return None;
    };
    let Some(end) = SLOTS_OFFSET.checked_add(slots_len) else {
        return None;
    };
    let Some(mut end) = align_up(end) else {
        return None;
    };
    let mut overflow = (0, 0);
    if overflow_capacity != 0 {
        let Some(ov_slots) = stride.checked_mul(overflow_capacity as u64) else {
            return None;
        };
        let Some(len) = (LINE_LEN as u64).checked_add(ov_slots) else {
            return None;
        };
        overflow = (end, len);
        let Some(e) = end.checked_add(len) else {
            return None;
        };
        let Some(e) = align_up(e) else { return None };
        end = e;
    }
    let mut wait_block = (0, 0);
    if wait {
        wait_block = (end, LINE_LEN as u64);
        end += LINE_LEN as u64;
    }
    let mut producers = (0, 0);
    if producer_slots != 0 {
        let len = (LINE_LEN as u64) * (1 + producer_slots as u64);
        producers = (end, len);
        end += len;
    }
    Some(Placement {
        slots: (SLOTS_OFFSET, slots_len),
        overflow,
        wait: wait_block,
        producers,
        region_len: end,
    })
}

/// Bytes needed for a plain ring (no overflow area, no wait block) of `capacity` slots of `T`,
/// or `None` if the size overflows `u64`.
pub const fn region_len_for<T>(capacity: u32) -> Option<u64> {
    match placement_for::<T>(capacity, 0, false, 0) {
        Some(p) => Some(p.region_len),
        None => None,
    }
}

#[cfg(not(ring_core_loom))]
mod pinned {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    const _: () = assert!(size_of::<Header>() == HEADER_LEN as usize);
    const _: () = assert!(align_of::<Header>() == 8);
    const _: () = assert!(offset_of!(Header, magic) == 0);
    const _: () = assert!(offset_of!(Header, version_major) == 8);
    const _: () = assert!(offset_of!(Header, version_minor) == 12);
    const _: () = assert!(offset_of!(Header, header_len) == 16);
    const _: () = assert!(offset_of!(Header, mode) == 20);
    const _: () = assert!(offset_of!(Header, compat) == 24);
    const _: () = assert!(offset_of!(Header, incompat) == 32);
    const _: () = assert!(offset_of!(Header, ro_compat) == 40);
    const _: () = assert!(offset_of!(Header, capacity) == 48);
    const _: () = assert!(offset_of!(Header, entry_format) == 52);
    const _: () = assert!(offset_of!(Header, entry_size) == 56);
    const _: () = assert!(offset_of!(Header, entry_align) == 60);
    const _: () = assert!(offset_of!(Header, slot_stride) == 64);
    const _: () = assert!(offset_of!(Header, payload_offset) == 68);
    const _: () = assert!(offset_of!(Header, region_len) == 72);
    const _: () = assert!(offset_of!(Header, initial_index) == 80);
    const _: () = assert!(offset_of!(Header, creator_pid) == 84);
    const _: () = assert!(offset_of!(Header, blocks) == 88);
    const _: () = assert!(size_of::<BlockEntry>() == 16);
    const _: () = assert!(offset_of!(Header, overflow_capacity) == 216);
    const _: () = assert!(offset_of!(Header, producer_slots) == 220);
    const _: () = assert!(offset_of!(Header, reserved) == 224);

    const _: () = assert!(size_of::<OverflowLine>() == LINE_LEN as usize);
    const _: () = assert!(offset_of!(OverflowLine, state) == 0);
    const _: () = assert!(offset_of!(OverflowLine, head) == 8);
    const _: () = assert!(offset_of!(OverflowLine, overflowed) == 16);
    const _: () = assert!(offset_of!(OverflowLine, activations) == 24);

    const _: () = assert!(size_of::<RegistryLine>() == LINE_LEN as usize);
    const _: () = assert!(offset_of!(RegistryLine, recoverer) == 0);
    const _: () = assert!(offset_of!(RegistryLine, recoveries) == 8);
    const _: () = assert!(offset_of!(RegistryLine, recovered) == 16);
    const _: () = assert!(offset_of!(RegistryLine, reclaimed) == 24);

    const _: () = assert!(size_of::<ProducerRecord>() == LINE_LEN as usize);
    const _: () = assert!(offset_of!(ProducerRecord, owner) == 0);
    const _: () = assert!(offset_of!(ProducerRecord, start_time) == 8);
    const _: () = assert!(offset_of!(ProducerRecord, ring_start) == 16);
    const _: () = assert!(offset_of!(ProducerRecord, ring_len) == 20);
    const _: () = assert!(offset_of!(ProducerRecord, overflow_start) == 24);
    const _: () = assert!(offset_of!(ProducerRecord, overflow_len) == 28);

    const _: () = assert!(size_of::<WaitLine>() == LINE_LEN as usize);
    const _: () = assert!(offset_of!(WaitLine, futex) == 0);
    const _: () = assert!(offset_of!(WaitLine, waiters) == 4);
    const _: () = assert!(offset_of!(WaitLine, flags) == 8);
    const _: () = assert!(offset_of!(WaitLine, wakeups) == 16);
    const _: () = assert!(offset_of!(WaitLine, sleeps) == 24);

    const _: () = assert!(size_of::<ProducerLine>() == LINE_LEN as usize);
    const _: () = assert!(align_of::<ProducerLine>() == BLOCK_ALIGN as usize);
    const _: () = assert!(offset_of!(ProducerLine, tail) == 0);
    const _: () = assert!(offset_of!(ProducerLine, owner) == 4);
    const _: () = assert!(offset_of!(ProducerLine, full_refusals) == 8);
    const _: () = assert!(offset_of!(ProducerLine, discarded) == 16);

    const _: () = assert!(size_of::<ConsumerLine>() == LINE_LEN as usize);
    const _: () = assert!(align_of::<ConsumerLine>() == BLOCK_ALIGN as usize);
    const _: () = assert!(offset_of!(ConsumerLine, head) == 0);
    const _: () = assert!(offset_of!(ConsumerLine, owner) == 4);

    const _: () = assert!(offset_of!(Slot<u64>, seq) == 0);
    const _: () = assert!(offset_of!(Slot<u64>, meta) == 4);
    const _: () = assert!(Slot::<u64>::PAYLOAD_OFFSET == SLOT_HEADER_LEN as usize);
    const _: () = assert!(Slot::<u8>::STRIDE == 12);
    const _: () = assert!(Slot::<[u64; 2]>::STRIDE == 24);
    const _: () = assert!(Slot::<u128>::PAYLOAD_OFFSET == 16);
    // Packed slots (1.4): the entry size rounded up to max(align, 4), payload at 0.
    const _: () = assert!(PackedSlot::<u8>::STRIDE == 4);
    const _: () = assert!(PackedSlot::<[u8; 5]>::STRIDE == 8);
    const _: () = assert!(PackedSlot::<u64>::STRIDE == 8);
    const _: () = assert!(PackedSlot::<crate::Completion>::STRIDE == 16);
    const _: () = assert!(PackedSlot::<[u32; 3]>::STRIDE == 12);
    const _: () = assert!(PackedSlot::<u128>::STRIDE == 16);
    const _: () = assert!(offset_of!(PackedSlot<u64>, payload) == 0);
    const _: () = assert!(SLOTS_OFFSET % BLOCK_ALIGN == 0);
}
