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
                "ring indices out of range: tail {tail} is more than the capacity ahead of head {head}"
            ),
            Corruption::SlotSequence { position, seq } => {
                write!(f, "slot lap tag {seq} is invalid for position {position}")
            }
            Corruption::Stalled { position } => {
                write!(f, "owned position {position} never became ready")
            }
            Corruption::Livelock => f.write_str("shared index changed without progress beyond the retry budget"),
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
            PushError::Full(_) => f.write_str("ring is full"),
            PushError::Corrupt(_, c) => write!(f, "push refused: {c}"),
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
            PushAllError::Full { free } => write!(f, "ring has only {free} free slots"),
            PushAllError::TooLarge { capacity } => {
                write!(f, "batch larger than the ring's capacity {capacity}")
            }
            PushAllError::Corrupt(c) => write!(f, "push refused: {c}"),
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
            PopError::Empty => f.write_str("ring is empty"),
            PopError::Closed => {
                f.write_str("end of stream: the producers closed the ring and it is drained")
            }
            PopError::Corrupt(c) => write!(f, "pop refused: {c}"),
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
    /// The ring was created for a different mode than the caller requires.
    ModeMismatch {
        /// Mode bits required.
        expected: u32,
        /// Mode bits found.
        found: u32,
    },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LayoutError::*;
        match *self {
            Misaligned { addr } => write!(f, "region base {addr:#x} is not 128-byte aligned"),
            RegionTooShort { needed, available } => {
                write!(f, "region too short: {needed} bytes needed, {available} available")
            }
            BadMagic { found } => write!(f, "bad magic {found:#018x}: not a ring region (or not yet formatted)"),
            UnsupportedVersion { major, minor } => {
                write!(f, "layout version {major}.{minor} not supported (this crate reads 1.x)")
            }
            HeaderLength { found } => write!(f, "invalid header_len {found}"),
            UnknownIncompatFeatures { bits } => write!(f, "unknown incompat feature bits {bits:#x}"),
            UnknownReadOnlyFeatures { bits } => {
                write!(f, "unknown ro_compat feature bits {bits:#x}: region may only be read")
            }
            Mode { found } => write!(f, "invalid mode word {found:#x}"),
            Capacity { found } => {
                write!(f, "capacity {found} is not a power of two between 2 and 2^31")
            }
            OverflowCapacity { found } => write!(
                f,
                "overflow_capacity {found} is invalid (a power of two between 2 and 2^31 with the overflow feature, 0 without)"
            ),
            ProducerSlots { found } => write!(
                f,
                "producer_slots {found} is invalid (1 to {} with the producer records feature, 0 without)",
                crate::layout::MAX_PRODUCER_SLOTS
            ),
            EntryFormat { expected, found } => {
                write!(f, "entry_format {found} does not match the entry type's {expected}")
            }
            EntrySize { expected, found } => {
                write!(f, "entry_size {found} does not match the entry type's {expected}")
            }
            EntryAlign { expected, found } => {
                write!(f, "entry_align {found} does not match the entry type's {expected}")
            }
            SlotLayout { stride, found_stride, found_payload_offset } => write!(
                f,
                "slot_stride {found_stride} / payload_offset {found_payload_offset} do not match the expected stride {stride}"
            ),
            RegionLength { found, available } => {
                write!(f, "region_len {found} invalid for {available} bytes available")
            }
            Block { block, offset, len } => write!(
                f,
                "{block} block at offset {offset} length {len} is out of range, misaligned or overlapping"
            ),
            FeatureWithout { feature, requires } => write!(
                f,
                "the header sets the feature bit {feature} without {requires}, which it requires"
            ),
            BlockLength { block, expected, found } => {
                write!(f, "{block} block length {found}, expected {expected}")
            }
            ModeMismatch { expected, found } => {
                write!(f, "ring mode {found:#x} does not match the required {expected:#x}")
            }
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
                write!(f, "the {side} side is already claimed by process {owner}")?;
                if *owner == crate::current_pid() {
                    f.write_str(" (this process: another handle of it holds the side)")?;
                }
                Ok(())
            }
            ClaimError::Closed => f.write_str(
                "the ring's stream is closed: no producer may join it (create a new ring)",
            ),
            ClaimError::TooManyProducers { limit } => {
                write!(
                    f,
                    "the ring already counts {limit} producers, the most it can"
                )
            }
            ClaimError::NoProducerRecord { records } => write!(
                f,
                "all {records} producer records are held by live producers (Config::producers)"
            ),
            ClaimError::Corrupt(c) => write!(f, "claim refused: {c}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ClaimError {}

/// A reservation's shortfall as the error of a one-entry push, handing the entry back.
#[cold]
pub(crate) fn push_error<T>(value: T, e: crate::protocol::Shortfall) -> PushError<T> {
    match e {
        crate::protocol::Shortfall::Short { .. } => PushError::Full(value),
        crate::protocol::Shortfall::Corrupt(c) => PushError::Corrupt(value, c),
    }
}
