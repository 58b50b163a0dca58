//! The MPSC record producer (spec/RECORDS.md, MR1-MR4): reservation by compare-and-swap of the
//! 64-bit `tail` word (position and reservation count), a BUSY header right after it, the
//! payload in place, and a Release store of the committed header.

use super::errors::{RecordCorruption, ReserveError};
use super::layout::*;
use super::{RawRecords, Resv};
use crate::protocol::lap::SCAN_BUDGET;
use crate::protocol::registry::Intent;
use crate::protocol::wait::Waker;
use crate::sync::{
    AtomicU32, AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

/// The MPSC producer flavor.
#[derive(Debug)]
pub(crate) struct MpTx<'a> {
    /// The last `head` loaded (validated): never ahead of the real one.
    head_cache: u32,
    area: Area<'a>,
    max_len: u32,
    tail_word: &'a AtomicU64,
    head_word: &'a AtomicU32,
    refusals: &'a AtomicU64,
    pub(super) discarded: &'a AtomicU64,
    wait: Option<Waker<'a>>,
    /// This producer's intent words (RR2: stored before every compare-and-swap of `tail`).
    intent: Option<Intent<'a>>,
}

impl<'a> MpTx<'a> {
    /// A producer of `raw` (no claim, no check: every reservation validates afresh).
    pub(crate) fn new(
        raw: &RawRecords<'a>,
        intent: Option<Intent<'a>>,
        wait: Option<Waker<'a>>,
    ) -> Self {
        MpTx {
            intent,
            head_cache: raw.cons.head.load(Acquire),
            area: raw.area,
            max_len: max_record_len(raw.area.capacity()),
            tail_word: &raw.prod.tail,
            head_word: &raw.cons.head,
            refusals: &raw.prod.full_refusals,
            discarded: &raw.prod.discarded,
            wait,
        }
    }

    /// MR1-MR3: take room for a record of `len` payload bytes (and a padding record before it
    /// if needed), mark it BUSY.
    #[inline(always)]
    pub(crate) fn reserve(&mut self, len: usize, ty: u8) -> Result<Resv, ReserveError> {
        if len > self.max_len as usize {
            return Err(ReserveError::TooLarge {
                len,
                max: self.max_len,
            });
        }
        let len = len as u32;
        let cap = self.area.capacity();
        let size = record_size(len);
        let w = self.tail_word.load(Acquire);
        let t = tail_pos(w);
        let off = self.area.offset(t);
        let pad = if off + size > cap { cap - off } else { 0 };
        let need = pad + size;
        let used = t.wrapping_sub(self.head_cache);
        let r = if used <= cap && need <= cap - used && t % RECORD_ALIGN == 0 {
            if let Some(i) = &self.intent {
                i.span(t, need);
            }
            match self
                .tail_word
                .compare_exchange_weak(w, tail_after(w, need), AcqRel, Acquire)
            {
                Ok(_) => Resv {
                    start: t,
                    pos: t.wrapping_add(pad),
                    len,
                },
                Err(now) => self.reserve_slow(now, len)?,
            }
        } else {
            self.reserve_slow(w, len)?
        };
        self.mark(&r, ty);
        Ok(r)
    }

    /// MR3: the padding header (committed at once, Release) and the BUSY header (Relaxed).
    #[inline(always)]
    fn mark(&self, r: &Resv, ty: u8) {
        if r.pos != r.start {
            let pad = r.pos.wrapping_sub(r.start);
            self.area.header(r.start).store(
                header(r.start, pad - RECORD_HEADER_LEN, record_type::PAD, 0),
                Release,
            );
        }
        self.area
            .header(r.pos)
            .store(header(r.pos, r.len, ty, BUSY), Relaxed);
    }

    /// MR1/MR2 with retries: a lost compare-and-swap, a cached `head` that says full, a stale
    /// or corrupt position. Bounded by `SCAN_BUDGET` attempts.
    #[cold]
    #[inline(never)]
    fn reserve_slow(&mut self, mut w: u64, len: u32) -> Result<Resv, ReserveError> {
        let cap = self.area.capacity();
        let size = record_size(len);
        let mut spent: u32 = 0;
        loop {
            spent += 1;
            let t = tail_pos(w);
            if t % RECORD_ALIGN != 0 {
                // Only a peer writes a misaligned position; unchanged on reload, it is corrupt.
                let now = self.tail_word.load(Acquire);
                if now == w || spent >= SCAN_BUDGET {
                    return Err(ReserveError::Corrupt(RecordCorruption::IndicesOutOfRange {
                        tail: t,
                        head: self.head_cache,
                    }));
                }
                w = now;
                continue;
            }
            let off = self.area.offset(t);
            let pad = if off + size > cap { cap - off } else { 0 };
            let need = pad + size;
            let mut used = t.wrapping_sub(self.head_cache);
            if used > cap || need > cap - used {
                let head = self.head_word.load(Acquire);
                used = t.wrapping_sub(head);
                if head % RECORD_ALIGN != 0 {
                    return Err(ReserveError::Corrupt(RecordCorruption::IndicesOutOfRange {
                        tail: t,
                        head,
                    }));
                }
                if used <= cap {
                    self.head_cache = head;
                    if need > cap - used {
                        // Full as of a `tail` we loaded before `head`: the real room is at most
                        // this (`head` only grows after our load of it, `tail` too).
                        let now = self.tail_word.load(Acquire);
                        if now == w {
                            self.refusals.fetch_add(1, Relaxed);
                            return Err(ReserveError::Full {
                                needed: need,
                                free: cap - used,
                            });
                        }
                        w = now;
                        if spent >= SCAN_BUDGET {
                            return Err(ReserveError::Corrupt(RecordCorruption::Livelock));
                        }
                        continue;
                    }
                } else {
                    // Our `tail` is stale (the consumer passed it) or the words are corrupt.
                    // If the `tail` word (position and reservation count) did not change
                    // around our load of `head`, `t` was the real position when `head` was
                    // loaded, and honest peers keep `t - head <= capacity`: corrupt.
                    let now = self.tail_word.load(Acquire);
                    if now == w || spent >= SCAN_BUDGET {
                        return Err(ReserveError::Corrupt(RecordCorruption::IndicesOutOfRange {
                            tail: tail_pos(now),
                            head,
                        }));
                    }
                    w = now;
                    continue;
                }
            }
            if let Some(i) = &self.intent {
                i.span(t, need);
            }
            match self
                .tail_word
                .compare_exchange_weak(w, tail_after(w, need), AcqRel, Acquire)
            {
                Ok(_) => {
                    return Ok(Resv {
                        start: t,
                        pos: t.wrapping_add(pad),
                        len,
                    })
                }
                Err(now) => w = now,
            }
            if spent >= SCAN_BUDGET {
                return Err(ReserveError::Corrupt(RecordCorruption::Livelock));
            }
        }
    }

    /// MR4: the committed header (Release publishes the payload), then W1.
    #[inline(always)]
    pub(crate) fn commit(&mut self, r: &Resv, ty: u8, flags: u64) {
        self.area
            .header(r.pos)
            .store(header(r.pos, r.len, ty, flags), Release);
        if let Some(w) = &self.wait {
            w.published_at(crate::protocol::wait::Reached::Any);
        }
    }

    /// Shrinks an uncommitted reservation: the bytes it gives up become a discarded filler
    /// record, committed at once (before the record itself, so a consumer that sees the record
    /// committed also sees the filler).
    pub(crate) fn truncate(&mut self, r: &mut Resv, len: u32) {
        let old = record_size(r.len);
        let new = record_size(len);
        if new < old {
            let at = r.pos.wrapping_add(new);
            self.area.header(at).store(
                header(
                    at,
                    old - new - RECORD_HEADER_LEN,
                    record_type::DATA,
                    DISCARD,
                ),
                Release,
            );
        }
        r.len = len;
    }

    /// The data area.
    #[inline(always)]
    pub(crate) fn area(&self) -> Area<'a> {
        self.area
    }
}
