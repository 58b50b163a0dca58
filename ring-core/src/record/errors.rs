//! Typed errors of the record ring (spec/RECORDS.md). Every message names the side and the
//! values involved.

use crate::error::{ClaimError, LayoutError};
use core::fmt;

/// Shared state of a record ring that no honest participant writes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RecordCorruption {
    /// The producer position is more than the data area ahead of the consumer position, or one
    /// of them is not a multiple of 8.
    IndicesOutOfRange {
        /// Producer position read (or kept).
        tail: u32,
        /// Consumer position read (or kept).
        head: u32,
    },
    /// A record header that fails validation (spec/RECORDS.md, section 6.1).
    Header {
        /// The position of the record.
        position: u32,
        /// The header word found.
        header: u64,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The overflow area's positions (the tail in `state` and the overflow `head`) are more
    /// than the overflow area apart, or one of them is not a multiple of 8.
    OverflowIndicesOutOfRange {
        /// Overflow producer position read.
        tail: u32,
        /// Overflow consumer position read (or kept).
        head: u32,
    },
    /// A record header in the overflow area that fails validation (spec/RECORDS.md, section
    /// 6.1 over the overflow area).
    OverflowHeader {
        /// The overflow position of the record.
        position: u32,
        /// The header word found.
        header: u64,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The shared producer position kept changing without this producer getting a reservation
    /// within the retry budget (`SCAN_BUDGET`).
    Livelock,
}

impl fmt::Display for RecordCorruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RecordCorruption::IndicesOutOfRange { tail, head } => write!(
                f,
                "record ring positions out of range: producer position {tail:#x} and consumer \
                 position {head:#x} are more than the data area apart or not multiples of 8"
            ),
            RecordCorruption::Header {
                position,
                header,
                reason,
            } => write!(
                f,
                "record ring: invalid record header {header:#018x} at position {position:#x}: {reason}"
            ),
            RecordCorruption::OverflowIndicesOutOfRange { tail, head } => write!(
                f,
                "record ring overflow area positions out of range: overflow producer position \
                 {tail:#x} and overflow consumer position {head:#x} are more than the overflow \
                 area apart or not multiples of 8"
            ),
            RecordCorruption::OverflowHeader {
                position,
                header,
                reason,
            } => write!(
                f,
                "record ring overflow area: invalid record header {header:#018x} at overflow \
                 position {position:#x}: {reason}"
            ),
            RecordCorruption::Livelock => f.write_str(
                "record ring producer: the shared producer position changed without progress \
                 beyond the retry budget",
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RecordCorruption {}

/// Why a record ring could not be formatted or attached.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RecordLayoutError {
    /// A check shared with fixed-entry rings failed (spec/LAYOUT.md, section 9).
    Layout(LayoutError),
    /// The region is not a record ring (`INCOMPAT_RECORDS` is not set).
    NotRecords {
        /// The `incompat` word found.
        incompat: u64,
    },
    /// `incompat` has bits a record reader refuses (anything but `INCOMPAT_RECORDS` and
    /// `INCOMPAT_WAIT`).
    Features {
        /// The refused bits.
        bits: u64,
    },
    /// A mode other than SPSC (0) or MPSC (1).
    Mode {
        /// The mode word found (or asked for).
        found: u32,
    },
    /// The data area is not a power of two in `MIN_DATA_CAPACITY..=MAX_DATA_CAPACITY` bytes.
    DataCapacity {
        /// The capacity found (or asked for).
        found: u32,
    },
    /// The initial position is not a multiple of 8.
    InitialPosition {
        /// The position asked for.
        found: u32,
    },
}

impl From<LayoutError> for RecordLayoutError {
    fn from(e: LayoutError) -> Self {
        RecordLayoutError::Layout(e)
    }
}

impl fmt::Display for RecordLayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RecordLayoutError::Layout(e) => write!(f, "record ring region: {e}"),
            RecordLayoutError::NotRecords { incompat } => write!(
                f,
                "region is not a record ring: incompat {incompat:#x} lacks INCOMPAT_RECORDS (0x20)"
            ),
            RecordLayoutError::Features { bits } => write!(
                f,
                "record ring region has incompat bits {bits:#x} a record reader does not support"
            ),
            RecordLayoutError::Mode { found } => write!(
                f,
                "record ring mode word {found} is not SPSC (0) or MPSC (1)"
            ),
            RecordLayoutError::DataCapacity { found } => write!(
                f,
                "record ring data area of {found} bytes is not a power of two in 32..=2^31"
            ),
            RecordLayoutError::InitialPosition { found } => write!(
                f,
                "record ring initial position {found:#x} is not a multiple of 8"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RecordLayoutError {}

/// Why a record could not be reserved (nothing was written; nothing changed).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReserveError {
    /// The payload is larger than the ring's largest record (`max`, half the data area less
    /// the header, at most `MAX_LEN_FIELD`).
    TooLarge {
        /// Payload bytes asked for.
        len: usize,
        /// Largest payload this ring takes.
        max: u32,
    },
    /// The data area has no room for the record now (with an overflow area: neither has the
    /// overflow area, or the record is too large for it; `needed` and `free` are then the
    /// overflow area's). The record was not written: the caller still has it.
    Full {
        /// Bytes the record needs (header, padding to 8, and a padding record at the end of
        /// the data area if one is needed).
        needed: u32,
        /// Bytes free.
        free: u32,
    },
    /// The shared state is corrupt.
    Corrupt(RecordCorruption),
}

impl fmt::Display for ReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ReserveError::TooLarge { len, max } => write!(
                f,
                "record producer: a {len}-byte record exceeds this ring's largest record of {max} bytes"
            ),
            ReserveError::Full { needed, free } => write!(
                f,
                "record producer: ring full: the record needs {needed} bytes, {free} are free"
            ),
            ReserveError::Corrupt(c) => write!(f, "record producer: {c}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ReserveError {}

/// Why no record was read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// No record is in the ring.
    Empty,
    /// The next record is reserved but not committed yet (MPSC, or any record ring's overflow
    /// area): its producer is still writing it, or stalled, or dead. Records after it wait
    /// behind it.
    Pending {
        /// Its position (a data area position, or an overflow position when the overflow
        /// area holds the consumer up).
        position: u32,
    },
    /// The shared state is corrupt; the consumer did not move.
    Corrupt(RecordCorruption),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ReadError::Empty => f.write_str("record consumer: ring empty"),
            ReadError::Pending { position } => write!(
                f,
                "record consumer: the record at position {position:#x} is reserved but not committed"
            ),
            ReadError::Corrupt(c) => write!(f, "record consumer: {c}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ReadError {}

/// Why a blocking call on a record consumer failed (a timeout is not an error: it returns
/// what was delivered).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RecordWaitError {
    /// The ring was formatted without a wait block.
    NoWaitBlock,
    /// Wake-ups are suppressed (`NO_WAKE`): consumers must poll.
    WakeupsSuppressed,
    /// No eventfd is attached to this process's view of the ring.
    NoEventfd,
    /// A signal interrupted the sleep.
    Interrupted,
    /// The futex call failed with this errno.
    Futex(i32),
    /// The shared state is corrupt.
    Corrupt(RecordCorruption),
}

impl fmt::Display for RecordWaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RecordWaitError::NoWaitBlock => {
                f.write_str("record consumer: the ring has no wait block, cannot sleep")
            }
            RecordWaitError::WakeupsSuppressed => {
                f.write_str("record consumer: wake-ups are suppressed (NO_WAKE), cannot sleep")
            }
            RecordWaitError::Interrupted => f.write_str("record consumer: sleep interrupted"),
            RecordWaitError::NoEventfd => {
                f.write_str("record consumer: no eventfd is attached to this record ring")
            }
            RecordWaitError::Futex(e) => write!(f, "record consumer: futex wait failed: errno {e}"),
            RecordWaitError::Corrupt(c) => write!(f, "record consumer: {c}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RecordWaitError {}

/// Why a record producer or consumer handle could not be made.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HandleError {
    /// The side's claim word is held by a live process (spec/LAYOUT.md, section 11).
    Claim(ClaimError),
    /// The positions found are inconsistent; the claim was given back.
    Corrupt(RecordCorruption),
}

impl From<ClaimError> for HandleError {
    fn from(e: ClaimError) -> Self {
        HandleError::Claim(e)
    }
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandleError::Claim(e) => write!(f, "record ring handle: {e}"),
            HandleError::Corrupt(c) => write!(f, "record ring handle: {c}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HandleError {}
