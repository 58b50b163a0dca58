//! R2's intent words (spec/PROTOCOL.md, section 17.1): before its compare-and-swap, a producer
//! with a record stores the span it is about to reserve in one lane (the ring or the overflow
//! area), so that recovery can tell a dead producer's unpublished positions from a live one's.

use crate::layout::ProducerRecord;
use crate::sync::{
    AtomicU32,
    Ordering::{Acquire, Release},
};

/// One lane's intent words in a record.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Intent<'a> {
    pub(crate) start: &'a AtomicU32,
    pub(crate) len: &'a AtomicU32,
}

impl<'a> Intent<'a> {
    /// The ring intent of `rec`.
    pub(crate) fn ring(rec: &'a ProducerRecord) -> Self {
        Intent {
            start: &rec.ring_start,
            len: &rec.ring_len,
        }
    }

    /// The overflow intent of `rec`.
    pub(crate) fn overflow(rec: &'a ProducerRecord) -> Self {
        Intent {
            start: &rec.overflow_start,
            len: &rec.overflow_len,
        }
    }

    /// R2 for a span of `len` positions from `start` (before the compare-and-swap).
    #[inline(always)]
    pub(crate) fn span(&self, start: u32, len: u32) {
        self.len.store(len, Release);
        self.start.store(start, Release);
    }

    /// R2 for one position (the length word already reads 1).
    #[inline(always)]
    pub(crate) fn one(&self, start: u32) {
        self.start.store(start, Release);
    }

    /// Back to a length of 1 after a batch (published or refused), so that later one-position
    /// reservations, which store only the start, do not claim more than they reserve.
    #[inline(always)]
    pub(crate) fn reset(&self) {
        self.len.store(1, Release);
    }

    /// Whether the intent covers `pos`. The start first (Acquire): the length stored before it
    /// (R2 stores the length first) is then visible too, so the pair read is never older than
    /// the start's intent (a one-position intent stores only the start and relies on the
    /// length stored earlier). Belt and braces: the intents that matter were stored before the
    /// compare-and-swap whose result recovery loaded first.
    pub(crate) fn covers(&self, pos: u32) -> bool {
        let start = self.start.load(Acquire);
        let len = self.len.load(Acquire);
        pos.wrapping_sub(start) < len
    }
}
