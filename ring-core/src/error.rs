//! Error types, one small enum per operation.

use core::fmt;

/// What was found inconsistent in the shared state while operating on a live ring.
///
/// The shared state is written by other, untrusted participants. Whatever they write, an
/// operation either succeeds correctly or returns one of these; it never reads or writes out of
/// bounds, panics, delivers an entry twice, or loops without bound.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The producer index is more than `capacity` positions ahead of the consumer index.
    IndicesOutOfRange {
        /// Producer index read.
        tail: u32,
        /// Consumer index read.
        head: u32,
    },
    /// A slot's lap tag holds a value no correct participant writes at this position.
    SlotSequence {
        /// The position being produced or consumed.
        position: u32,
        /// The lap tag found.
        seq: u32,
    },
    /// A slot this participant owns did not become ready within the bounded wait (a peer
    /// rewrote it, or a peer stopped mid-operation while 2^32 others went by; see spec/).
    Stalled {
        /// The position owned.
        position: u32,
    },
    /// The shared index kept changing without any progress for longer than the retry budget.
    Livelock,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Corruption::IndicesOutOfRange { tail, head } => write!(
                f,
                "the ring's shared state is corrupt: the producer index (tail) {tail} is more \
                 than the ring's capacity ahead of the consumer index (head) {head}"
            ),
            Corruption::SlotSequence { position, seq } => write!(
                f,
                "the ring's shared state is corrupt: the slot of position {position} holds lap \
                 tag {seq}, which no correct participant writes there"
            ),
            Corruption::Stalled { position } => write!(
                f,
                "the ring's slot of position {position}, owned by this participant, never became \
                 ready within the bounded wait (a peer rewrote it, or stopped in the middle of \
                 an operation)"
            ),
            Corruption::Livelock => f.write_str(
                "the ring's shared index kept changing without progress for longer than the \
                 retry budget (a peer rewrites it)",
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Corruption {}

/// Error of a single push; the entry is always handed back.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PushError<T> {
    /// The ring is full.
    Full(T),
    /// The shared state is corrupt; nothing was written.
    Corrupt(T, Corruption),
}

impl<T> PushError<T> {
    /// The entry that was not pushed.
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(v) | PushError::Corrupt(v, _) => v,
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str(
                "producer: the ring (and its overflow area, if it has one) is full; the entry \
                 was handed back",
            ),
            PushError::Corrupt(_, c) => {
                write!(f, "producer: push refused, the entry was handed back: {c}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl<T: fmt::Debug> std::error::Error for PushError<T> {}

/// Error of an all-or-nothing batch push; nothing was pushed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PushAllError {
    /// Fewer than the requested number of slots were free.
    Full {
        /// Slots that were free when checked.
        free: usize,
    },
    /// The batch is larger than the ring's capacity and the overflow area's, and can never fit.
    TooLarge {
        /// The largest batch that can fit (the larger of the two capacities).
        capacity: usize,
    },
    /// The shared state is corrupt.
    Corrupt(Corruption),
}

impl fmt::Display for PushAllError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushAllError::Full { free } => write!(
                f,
                "producer: only {free} slots are free, fewer than the batch needs; nothing was \
                 pushed"
            ),
            PushAllError::TooLarge { capacity } => write!(
                f,
                "producer: the batch is larger than the ring can ever hold at once ({capacity} \
                 entries, the larger of the ring's and the overflow area's capacities); nothing \
                 was pushed"
            ),
            PushAllError::Corrupt(c) => write!(f, "producer: batch push refused: {c}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PushAllError {}

/// Error of a single pop.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PopError {
    /// No published entry is available (the stream is open: more may come).
    Empty,
    /// The stream is closed and drained: every producer closed it ([`crate::Producer::close`])
    /// and every entry published before was taken. Final.
    Closed,
    /// The shared state is corrupt.
    Corrupt(Corruption),
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PopError::Empty => f.write_str(
                "consumer: the ring is empty (the stream is open: more entries may come)",
            ),
            PopError::Closed => f.write_str(
                "consumer: end of stream: the producers closed the ring and every entry was taken",
            ),
            PopError::Corrupt(c) => write!(f, "consumer: pop refused, nothing was taken: {c}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PopError {}

impl From<Corruption> for PopError {
    fn from(c: Corruption) -> Self {
        PopError::Corrupt(c)
    }
}

/// Why a region was refused by `create` or `attach`. Each variant names the field at fault.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayoutError {
    /// The region's base address is not aligned to 128 bytes.
    Misaligned {
        /// The base address.
        addr: usize,
    },
    /// The region is shorter than the layout needs.
    RegionTooShort {
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// `magic` is wrong (zero: the creator has not finished formatting, or not a ring at all).
    BadMagic {
        /// The value found.
        found: u64,
    },
    /// `version_major` is not one this crate reads.
    UnsupportedVersion {
        /// Major version found.
        major: u32,
        /// Minor version found.
        minor: u32,
    },
    /// `header_len` is smaller than layout 1.x's header or larger than the region.
    HeaderLength {
        /// The value found.
        found: u32,
    },
    /// `incompat` has bits this crate does not know: the region must not be touched.
    UnknownIncompatFeatures {
        /// The unknown bits.
        bits: u64,
    },
    /// `ro_compat` has bits this crate does not know: the region may only be read.
    UnknownReadOnlyFeatures {
        /// The unknown bits.
        bits: u64,
    },
    /// `mode` has undefined bits.
    Mode {
        /// The value found.
        found: u32,
    },
    /// `capacity` is not a power of two in `2..=2^31`.
    Capacity {
        /// The value found.
        found: u32,
    },
    /// `overflow_capacity` is not a power of two in `2..=2^31` with the overflow feature, or not
    /// 0 without it.
    OverflowCapacity {
        /// The value found.
        found: u32,
    },
    /// `producer_slots` is not in `1..=MAX_PRODUCER_SLOTS` with the producer records feature,
    /// or not 0 without it (also: a configuration asking for more records than that).
    ProducerSlots {
        /// The value found.
        found: u32,
    },
    /// `entry_format` differs from the entry type's.
    EntryFormat {
        /// The type's format.
        expected: u32,
        /// The value found.
        found: u32,
    },
    /// `entry_size` differs from the entry type's size.
    EntrySize {
        /// The type's size.
        expected: u32,
        /// The value found.
        found: u32,
    },
    /// `entry_align` differs from the entry type's alignment.
    EntryAlign {
        /// The type's alignment.
        expected: u32,
        /// The value found.
        found: u32,
    },
    /// `slot_stride` or `payload_offset` differs from the slot layout of the entry type.
    SlotLayout {
        /// The expected stride.
        stride: u32,
        /// The stride found.
        found_stride: u32,
        /// The payload offset found.
        found_payload_offset: u32,
    },
    /// `region_len` is smaller than the header (a `region_len` beyond the memory available is
    /// [`LayoutError::RegionTooShort`]).
    RegionLength {
        /// The value found.
        found: u64,
        /// Bytes available.
        available: u64,
    },
    /// A block-table row lies outside `region_len`, overlaps the header or another block, or is
    /// misaligned.
    Block {
        /// Name of the block ("producer", "consumer", "slots", "overflow", "wait", "reserved").
        block: &'static str,
        /// Offset found.
        offset: u64,
        /// Length found.
        len: u64,
    },
    /// A feature bit is set without a feature it depends on.
    FeatureWithout {
        /// The feature found.
        feature: &'static str,
        /// The feature it requires, missing.
        requires: &'static str,
    },
    /// A required block is missing or has the wrong length.
    BlockLength {
        /// Name of the block.
        block: &'static str,
        /// Length expected.
        expected: u64,
        /// Length found.
        found: u64,
    },
    /// The header sets `INCOMPAT_PACKED` (1.4: slots without lap tags) on a ring that is not
    /// SPSC or that has an overflow area: packed slots are defined for neither.
    PackedSlots {
        /// The mode word found.
        mode: u32,
        /// Whether `INCOMPAT_OVERFLOW` is set too.
        overflow: bool,
    },
    /// The ring was created for a different mode than the caller requires.
    ModeMismatch {
        /// Mode bits required.
        expected: u32,
        /// Mode bits found.
        found: u32,
    },
}

/// A header mode word in words: `SPSC`, `MPSC`, `SPMC`, `MPMC`, or `an undefined mode`.
pub(crate) fn mode_name(bits: u32) -> &'static str {
    use crate::layout::mode_bits::{MULTI_CONSUMER, MULTI_PRODUCER};
    match bits {
        0 => "SPSC",
        MULTI_PRODUCER => "MPSC",
        MULTI_CONSUMER => "SPMC",
        b if b == MULTI_PRODUCER | MULTI_CONSUMER => "MPMC",
        _ => "an undefined mode",
    }
}

/// A header `entry_format` in words: `OPAQUE`, `COMPLETION_V1`, or `an unknown format`.
pub(crate) fn format_name(format: u32) -> &'static str {
    use crate::layout::entry_format::{COMPLETION_V1, OPAQUE};
    match format {
        OPAQUE => "OPAQUE",
        COMPLETION_V1 => "COMPLETION_V1",
        _ => "an unknown format",
    }
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::layout::{HEADER_LEN, MAX_PRODUCER_SLOTS, VERSION_MAJOR, VERSION_MINOR};
        use LayoutError::*;
        match *self {
            Misaligned { addr } => write!(
                f,
                "the region's base address {addr:#x} is not aligned to 128 bytes, as the ring \
                 layout requires"
            ),
            RegionTooShort {
                needed,
                available: 0,
            } => write!(
                f,
                "the region is too short: it is empty, {needed} bytes needed (a file its creator \
                 has not sized yet: retry shortly)"
            ),
            RegionTooShort { needed, available } => write!(
                f,
                "the region is too short for the ring: {needed} bytes needed, {available} \
                 available"
            ),
            BadMagic { found: 0 } => f.write_str(
                "magic is 0x0000000000000000: not a ring yet (its creator has not finished \
                 formatting it: retry shortly), or not a ring at all",
            ),
            BadMagic { found } => write!(
                f,
                "magic is {found:#018x}, not the ring layout's (\"CRINGv1\"): not a ring"
            ),
            UnsupportedVersion { major, minor } => write!(
                f,
                "the ring has layout version {major}.{minor}, which this library cannot read \
                 (it reads {VERSION_MAJOR}.x, up to {VERSION_MAJOR}.{VERSION_MINOR})"
            ),
            HeaderLength { found } => write!(
                f,
                "header_len {found} is invalid (at least {HEADER_LEN} bytes, and within the \
                 region)"
            ),
            UnknownIncompatFeatures { bits } => write!(
                f,
                "the ring uses incompatible features this library does not know (incompat \
                 bits {bits:#x}; made by a newer version?): it must not be touched"
            ),
            UnknownReadOnlyFeatures { bits } => write!(
                f,
                "the ring uses features this library does not know (ro_compat bits {bits:#x}; \
                 made by a newer version?): it may only be read"
            ),
            Mode { found } => write!(
                f,
                "the mode word {found:#x} has undefined bits (SPSC is 0x0, MPSC 0x1, SPMC 0x2, \
                 MPMC 0x3)"
            ),
            Capacity { found } => write!(
                f,
                "capacity {found} is not a power of two between 2 and 2^31"
            ),
            OverflowCapacity { found } => write!(
                f,
                "overflow_capacity {found} is invalid (a power of two between 2 and 2^31 with \
                 the overflow area, 0 without)"
            ),
            ProducerSlots { found } => write!(
                f,
                "producer_slots {found} is invalid (1 to {MAX_PRODUCER_SLOTS} producer records \
                 in a multi-producer ring that has them, 0 without)"
            ),
            EntryFormat { expected, found } => write!(
                f,
                "entry_format: the ring holds entries of format {} ({found}), but the entry type \
                 is of format {} ({expected})",
                format_name(found),
                format_name(expected)
            ),
            EntrySize { expected, found } => write!(
                f,
                "entry_size: the ring's entries are {found} bytes, but the entry type's are \
                 {expected} bytes"
            ),
            EntryAlign { expected, found } => write!(
                f,
                "entry_align: the ring's entries are aligned to {found} bytes, but the entry \
                 type to {expected} bytes"
            ),
            SlotLayout {
                stride,
                found_stride,
                found_payload_offset,
            } => write!(
                f,
                "slot_stride {found_stride} / payload_offset {found_payload_offset}: the ring's \
                 slots are {found_stride} bytes apart, but the entry type needs slots {stride} \
                 bytes apart"
            ),
            RegionLength { found, available } => write!(
                f,
                "region_len {found} is smaller than the header (the region has {available} \
                 bytes)"
            ),
            Block { block, offset, len } => write!(
                f,
                "the {block} block (offset {offset}, length {len}) is out of the region, \
                 misaligned, or overlapping the header or another block"
            ),
            FeatureWithout { feature, requires } => write!(
                f,
                "the header sets the feature {feature} without {requires}, which it requires"
            ),
            BlockLength {
                block,
                expected,
                found,
            } => write!(
                f,
                "the {block} block length is {found} bytes, expected {expected}"
            ),
            PackedSlots { mode, overflow } => write!(
                f,
                "the header sets INCOMPAT_PACKED (slots without lap tags) on {} ring (mode \
                 word {mode:#x}){}; packed slots are only defined for SPSC rings without an \
                 overflow area",
                match mode {
                    0 => "an SPSC",
                    _ => "a multi-participant",
                },
                if overflow {
                    " with an overflow area"
                } else {
                    ""
                }
            ),
            ModeMismatch { expected, found } => write!(
                f,
                "the ring is {} (mode word {found:#x}), but {} (mode word {expected:#x}) is \
                 required",
                mode_name(found),
                mode_name(expected)
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LayoutError {}

/// One side of a ring.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// The producing side.
    Producer,
    /// The consuming side.
    Consumer,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Producer => "producer",
            Side::Consumer => "consumer",
        })
    }
}

/// Error of claiming the single producer or single consumer side.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClaimError {
    /// Another live participant holds the claim.
    Busy {
        /// Which side.
        side: Side,
        /// The owner's token: its process id.
        owner: u32,
    },
    /// The stream is closed (layout 1.3): no producer may join it again.
    Closed,
    /// The multi-producer ring counts as many producers as its stream word can hold.
    TooManyProducers {
        /// The most producers at once.
        limit: u32,
    },
    /// The shared indices are inconsistent.
    Corrupt(Corruption),
    /// Every producer record of the ring is held by a live producer (layout 1.2): the ring
    /// was created for at most `records` producers at once ([`crate::Config::producers`]).
    NoProducerRecord {
        /// The number of records.
        records: u32,
    },
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimError::Busy { side, owner } => {
                if *owner == crate::current_pid() {
                    write!(
                        f,
                        "the ring's {side} side is already claimed by this process (pid \
                         {owner}): another {side} handle of this process holds it; drop that \
                         one first"
                    )
                } else {
                    write!(
                        f,
                        "the ring's {side} side is already claimed by process {owner} (a pid, \
                         alive): a single-{side} ring has one {side} at a time"
                    )
                }
            }
            ClaimError::Closed => f.write_str(
                "producer: the ring's stream is closed, no producer may join it (create a new \
                 ring)",
            ),
            ClaimError::TooManyProducers { limit } => write!(
                f,
                "producer: the ring already counts {limit} producers, the most its stream word \
                 can hold"
            ),
            ClaimError::NoProducerRecord { records } => write!(
                f,
                "producer: all {records} producer records of the ring are held by live \
                 producers (the ring was created with Config::producers({records}))"
            ),
            ClaimError::Corrupt(c) => write!(f, "claiming a side of the ring was refused: {c}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ClaimError {}
