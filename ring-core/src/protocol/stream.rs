//! End of stream (layout 1.3, `INCOMPAT_STREAM`; spec/PROTOCOL.md, "End of stream"): the
//! producer line's `stream` word.
//!
//! - E1 (single producer, close): after its last publication, the producer sets `CLOSED` and
//!   `CLOSE_REQUESTED` (`fetch_or`, SeqCst), then wakes every sleeper unconditionally (W1's
//!   wake-up without its check).
//! - E2 (several producers, join): a producer handle is made by incrementing the producer count
//!   (compare-and-swap, AcqRel) unless `CLOSED` is set; it holds one unit until it leaves.
//! - E3 (several producers, leave or close): after its last publication, the producer
//!   decrements the count, adding `CLOSE_REQUESTED` if it closes (compare-and-swap, AcqRel);
//!   the one whose decrement leaves the count at 0 while `CLOSE_REQUESTED` is set also sets
//!   `CLOSED` in the same compare-and-swap, then wakes every sleeper. Recovery makes a dead
//!   producer leave when it frees its record (R5).
//! - E4 (consumer): a consumer that finds nothing to take loads `stream` (Acquire); if `CLOSED`
//!   is set, it checks again for entries (the Acquire load made every publication before the
//!   close visible) and reports the end of the stream only if there are none, in the ring and
//!   in the overflow area.
//!
//! The count saturates at `PRODUCERS_MASK`: a join beyond it is refused. Every
//! compare-and-swap loop here gives up after [`super::RETRY_BUDGET`] attempts against a word
//! that keeps changing (a hostile peer), reporting corruption rather than spinning.

use crate::error::{ClaimError, Corruption};
use crate::layout::stream::{CLOSED, CLOSE_REQUESTED, PRODUCERS_MASK};
use crate::sync::{
    AtomicU32,
    Ordering::{AcqRel, Acquire, SeqCst},
};

/// Whether `word` says the stream is closed (E4's first load).
#[inline(always)]
pub(crate) fn closed(word: &AtomicU32) -> bool {
    word.load(Acquire) & CLOSED != 0
}

/// E1: a single producer closes the stream. Returns whether this call closed it (it was not
/// closed before).
pub(crate) fn close_single(word: &AtomicU32) -> bool {
    word.fetch_or(CLOSED | CLOSE_REQUESTED, SeqCst) & CLOSED == 0
}

/// E2: a producer of a multi-producer ring joins.
pub(crate) fn join(word: &AtomicU32) -> Result<(), ClaimError> {
    let mut v = word.load(Acquire);
    for _ in 0..super::RETRY_BUDGET {
        if v & CLOSED != 0 {
            return Err(ClaimError::Closed);
        }
        if v & PRODUCERS_MASK == PRODUCERS_MASK {
            return Err(ClaimError::TooManyProducers {
                limit: PRODUCERS_MASK,
            });
        }
        match word.compare_exchange_weak(v, v + 1, AcqRel, Acquire) {
            Ok(_) => return Ok(()),
            Err(now) => v = now,
        }
    }
    Err(ClaimError::Corrupt(Corruption::Livelock))
}

/// E3: a producer of a multi-producer ring leaves (`close`: and asks for the stream to close).
/// Returns whether this call closed the stream (the caller then wakes every sleeper). A count
/// already at 0 (a peer rewrote it) is left at 0: the stream then closes if asked to.
pub(crate) fn leave(word: &AtomicU32, close: bool) -> bool {
    let mut v = word.load(Acquire);
    for _ in 0..super::RETRY_BUDGET {
        let count = (v & PRODUCERS_MASK).saturating_sub(1);
        let mut new = (v & !PRODUCERS_MASK) | count;
        if close {
            new |= CLOSE_REQUESTED;
        }
        if count == 0 && new & CLOSE_REQUESTED != 0 {
            new |= CLOSED;
        }
        match word.compare_exchange_weak(v, new, AcqRel, Acquire) {
            Ok(_) => return new & CLOSED != 0 && v & CLOSED == 0,
            Err(now) => v = now,
        }
    }
    false
}

/// What the stream word says, for display and for [`crate::Ring::stream`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StreamState {
    /// No producer will publish again; consumers report the end once they drained the ring.
    pub closed: bool,
    /// A producer asked for the stream to close (multi-producer rings: it closes when the last
    /// producer leaves).
    pub close_requested: bool,
    /// Producers taking part (multi-producer rings; 0 in single-producer rings).
    pub producers: u32,
}

impl StreamState {
    /// Decodes a `stream` word.
    pub fn from_word(v: u32) -> Self {
        StreamState {
            closed: v & CLOSED != 0,
            close_requested: v & CLOSE_REQUESTED != 0,
            producers: v & PRODUCERS_MASK,
        }
    }
}
