//! The MPSC record producer (spec/RECORDS.md, MR1-MR4): reservation by compare-and-swap of the
//! 64-bit `tail` word (position and reservation count), a BUSY header right after it, the
//! payload in place, and a Release store of the committed header.

use super::errors::{RecordCorruption, ReserveError};
use super::layout::*;
use super::{RawRecords, Resv};
use crate::protocol::intent::Intent;
use crate::protocol::lap::SCAN_BUDGET;
use crate::protocol::wait::Waker;
use crate::sync::{
    AtomicU32, AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

/// One lane's shared words as a reserving producer sees them: the data area (or the overflow
/// data area), the 64-bit producer word (`tail`, or the overflow `state`) and the consumer
/// position word.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Lane<'a> {
    pub(crate) area: Area<'a>,
    pub(crate) tail_word: &'a AtomicU64,
    pub(crate) head_word: &'a AtomicU32,
    /// The overflow lane: the producer word is `state` (tail, `ACTIVE`, count from bit 33).
    pub(crate) overflow: bool,
}

/// A producer's private copy of a lane's consumer position, with the reservation count of the
/// producer word it was validated against (RECORDS.md, MR1: the head cache and its age).
///
/// The copy is trusted only while fewer than `2^32 / capacity - 1` reservations were made since
/// then: each moves the position by at most `capacity` bytes, so the real distance `tail -
/// head` is then below 2^32 and the u32 distance is exact. An older copy is reloaded: without
/// that, a producer idle while the others moved 2^32 bytes would read a full area as half
/// empty and overwrite unread records (found by the spin model, `rec-stale-head-cache`).
#[derive(Copy, Clone, Debug)]
pub(crate) struct HeadCache {
    /// The last consumer position loaded and validated: never ahead of the real one.
    pub(crate) head: u32,
    /// The reservation count of a producer word loaded before `head`.
    count: u32,
    /// How many reservations the copy may age: `2^32 / capacity - 2`.
    max_age: u32,
}

impl HeadCache {
    /// A copy of `head_word`, validated against the producer word loaded just before it.
    pub(crate) fn load(lane: &Lane<'_>) -> Self {
        let w = lane.tail_word.load(Acquire);
        let head = lane.head_word.load(Acquire);
        HeadCache {
            head,
            count: lane.count(w),
            max_age: max_age(lane.area.capacity()),
        }
    }

    /// The cached position, if it is young enough to compare with the position in `w`.
    #[inline(always)]
    pub(crate) fn get(&self, lane: &Lane<'_>, w: u64) -> Option<u32> {
        let age = lane.count(w).wrapping_sub(self.count) & lane.count_mask();
        (age <= self.max_age).then_some(self.head)
    }

    /// [`HeadCache::get`] on the data area's lane (a 32-bit count in the high half of `tail`),
    /// whose producers know their lane without reading it from the handle.
    #[inline(always)]
    fn get_data(&self, w: u64) -> Option<u32> {
        let age = ((w >> 32) as u32).wrapping_sub(self.count);
        (age <= self.max_age).then_some(self.head)
    }

    /// Replaces the copy by `head`, validated against the producer word `w` (loaded before it).
    #[inline(always)]
    pub(crate) fn set(&mut self, lane: &Lane<'_>, w: u64, head: u32) {
        self.head = head;
        self.count = lane.count(w);
    }
}

/// `2^32 / capacity - 2`: the reservations after which a head cache may be 2^32 bytes behind
/// (one less than the bound, for the reservation being made).
const fn max_age(capacity: u32) -> u32 {
    ((1u64 << 32) / capacity as u64) as u32 - 2
}

impl Lane<'_> {
    /// The reservation count of a producer word of this lane.
    #[inline(always)]
    pub(crate) fn count(&self, w: u64) -> u32 {
        if self.overflow {
            ((w >> OVERFLOW_COUNT_SHIFT) as u32) & 0x7fff_ffff
        } else {
            (w >> 32) as u32
        }
    }

    /// The mask of the reservation count's width (31 bits on the overflow lane).
    #[inline(always)]
    fn count_mask(&self) -> u32 {
        if self.overflow {
            0x7fff_ffff
        } else {
            u32::MAX
        }
    }
}

/// What [`take`] got.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Took {
    /// The reservation (not yet marked) and the producer word its compare-and-swap replaced.
    Got(Resv, u64),
    /// Overflow lane only: `state` changed to this value with `ACTIVE` clear (a consumer
    /// deactivated the area): the caller tries the data area again (RO1).
    Inactive(u64),
}

/// MR1/MR2 (and RO2 on the overflow lane) with retries, starting from the producer word `w`:
/// a lost compare-and-swap, a cached `head` that says full, a stale or corrupt position.
/// Bounded by `SCAN_BUDGET` attempts. A refusal (`Full`) is not counted here.
pub(crate) fn take(
    lane: &Lane<'_>,
    head_cache: &mut HeadCache,
    intent: Option<&Intent<'_>>,
    mut w: u64,
    len: u32,
) -> Result<Took, ReserveError> {
    let cap = lane.area.capacity();
    let size = record_size(len);
    let mut spent: u32 = 0;
    // After a change of the word: on the overflow lane, an inactive area goes back to RO1.
    let moved = |now: u64| lane.overflow && now & OVERFLOW_ACTIVE == 0;
    let corrupt = |tail, head| {
        Err(ReserveError::Corrupt(if lane.overflow {
            RecordCorruption::OverflowIndicesOutOfRange { tail, head }
        } else {
            RecordCorruption::IndicesOutOfRange { tail, head }
        }))
    };
    loop {
        spent += 1;
        let t = tail_pos(w);
        if t % RECORD_ALIGN != 0 {
            // Only a peer writes a misaligned position; unchanged on reload, it is corrupt.
            let now = lane.tail_word.load(Acquire);
            if now == w || spent >= SCAN_BUDGET {
                return corrupt(t, head_cache.head);
            }
            if moved(now) {
                return Ok(Took::Inactive(now));
            }
            w = now;
            continue;
        }
        let off = lane.area.offset(t);
        let pad = if off + size > cap { cap - off } else { 0 };
        let need = pad + size;
        // A head cache too old to compare with `t` counts as no room (MR1: reload it).
        let mut used = head_cache
            .get(lane, w)
            .map_or(u32::MAX, |h| t.wrapping_sub(h));
        if used > cap || need > cap - used {
            let head = lane.head_word.load(Acquire);
            used = t.wrapping_sub(head);
            if head % RECORD_ALIGN != 0 {
                return corrupt(t, head);
            }
            if used <= cap {
                head_cache.set(lane, w, head);
                if need > cap - used {
                    // Full as of a producer word we loaded before `head`: the real room is at
                    // most this (`head` only grows after our load of it, `tail` too).
                    let now = lane.tail_word.load(Acquire);
                    if now == w {
                        return Err(ReserveError::Full {
                            needed: need,
                            free: cap - used,
                        });
                    }
                    if moved(now) {
                        return Ok(Took::Inactive(now));
                    }
                    w = now;
                    if spent >= SCAN_BUDGET {
                        return Err(ReserveError::Corrupt(RecordCorruption::Livelock));
                    }
                    continue;
                }
            } else {
                // Our position is stale (the consumer passed it) or the words are corrupt.
                // If the producer word (position and reservation count) did not change
                // around our load of `head`, `t` was the real position when `head` was
                // loaded, and honest peers keep `t - head <= capacity`: corrupt.
                let now = lane.tail_word.load(Acquire);
                if now == w || spent >= SCAN_BUDGET {
                    return corrupt(tail_pos(now), head);
                }
                if moved(now) {
                    return Ok(Took::Inactive(now));
                }
                w = now;
                continue;
            }
        }
        if let Some(i) = intent {
            i.span(t, need);
        }
        let next = if lane.overflow {
            overflow_after(w, need)
        } else {
            tail_after(w, need)
        };
        match lane
            .tail_word
            .compare_exchange_weak(w, next, AcqRel, Acquire)
        {
            Ok(_) => {
                return Ok(Took::Got(
                    Resv {
                        start: t,
                        pos: t.wrapping_add(pad),
                        len,
                    },
                    w,
                ))
            }
            Err(now) => {
                if moved(now) {
                    return Ok(Took::Inactive(now));
                }
                w = now
            }
        }
        if spent >= SCAN_BUDGET {
            return Err(ReserveError::Corrupt(RecordCorruption::Livelock));
        }
    }
}

/// MR3 (and RO3): the padding header (committed at once, Release) and the BUSY header
/// (Relaxed).
#[inline(always)]
pub(crate) fn mark(area: &Area<'_>, r: &Resv, ty: u8) {
    if r.pos != r.start {
        let pad = r.pos.wrapping_sub(r.start);
        area.header(r.start).store(
            header(r.start, pad - RECORD_HEADER_LEN, record_type::PAD, 0),
            Release,
        );
    }
    area.header(r.pos)
        .store(header(r.pos, r.len, ty, BUSY), Relaxed);
}

/// Shrinks an uncommitted reservation of a lane with BUSY marks: the bytes it gives up become
/// a discarded filler record, committed at once (before the record itself, so a consumer that
/// sees the record committed also sees the filler). The record at `pos` goes from `old_len`
/// payload bytes to `len`. Plain values (no `&mut Resv`), so that the caller's reservation
/// need not live in memory for the call.
pub(crate) fn truncate_marked(area: &Area<'_>, pos: u32, old_len: u32, len: u32) {
    let old = record_size(old_len);
    let new = record_size(len);
    if new < old {
        let at = pos.wrapping_add(new);
        area.header(at).store(
            header(
                at,
                old - new - RECORD_HEADER_LEN,
                record_type::DATA,
                DISCARD,
            ),
            Release,
        );
    }
}

/// The MPSC producer flavor.
#[derive(Debug)]
pub(crate) struct MpTx<'a> {
    /// The last `head` loaded (validated) and its age.
    head_cache: HeadCache,
    lane: Lane<'a>,
    max_len: u32,
    refusals: &'a AtomicU64,
    /// Whether a refusal counts in `full_refusals` (not when an overflow area takes over).
    pub(super) count_full: bool,
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
        let lane = Lane {
            area: raw.area,
            tail_word: &raw.prod.tail,
            head_word: &raw.cons.head,
            overflow: false,
        };
        MpTx {
            intent,
            head_cache: HeadCache::load(&lane),
            lane,
            max_len: max_record_len(raw.area.capacity()),
            refusals: &raw.prod.full_refusals,
            count_full: true,
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
        let r = match self.reserve_fast(len) {
            Ok(r) => r,
            // `take` reserves `len` bytes; said here, a caller's constant length stays one
            // after the paths join (and the checks against it fold away).
            Err(w) => Resv {
                len,
                ..self.reserve_slow(w, len)?
            },
        };
        mark(&self.lane.area, &r, ty);
        Ok(r)
    }

    /// MR1-MR2 in the common case: `tail` loaded once, room by the cached `head`, the intent,
    /// one compare-and-swap. When any of it fails, nothing is reserved and the error is the
    /// `tail` word to go on from (the one loaded, or the one the compare-and-swap found), with
    /// which the caller goes on in [`take`].
    #[inline(always)]
    fn reserve_fast(&mut self, len: u32) -> Result<Resv, u64> {
        let area = self.lane.area;
        let cap = area.capacity();
        let size = record_size(len);
        let w = self.lane.tail_word.load(Acquire);
        let t = tail_pos(w);
        let off = area.offset(t);
        let pad = if off + size > cap { cap - off } else { 0 };
        let need = pad + size;
        // The data lane (`MpTx` never reserves in the overflow area).
        debug_assert!(!self.lane.overflow);
        let used = self
            .head_cache
            .get_data(w)
            .map_or(u32::MAX, |h| t.wrapping_sub(h));
        if used > cap || need > cap - used || t % RECORD_ALIGN != 0 {
            return Err(w);
        }
        if let Some(i) = &self.intent {
            i.span(t, need);
        }
        self.lane
            .tail_word
            .compare_exchange_weak(w, tail_after(w, need), AcqRel, Acquire)?;
        Ok(Resv {
            start: t,
            pos: t.wrapping_add(pad),
            len,
        })
    }

    #[cold]
    #[inline(never)]
    fn reserve_slow(&mut self, w: u64, len: u32) -> Result<Resv, ReserveError> {
        match take(
            &self.lane,
            &mut self.head_cache,
            self.intent.as_ref(),
            w,
            len,
        ) {
            Ok(Took::Got(r, _)) => Ok(r),
            // The data area's lane never reports a deactivation.
            Ok(Took::Inactive(_)) => Err(ReserveError::Corrupt(RecordCorruption::Livelock)),
            Err(e) => {
                if self.count_full && matches!(e, ReserveError::Full { .. }) {
                    self.refusals.fetch_add(1, Relaxed);
                }
                Err(e)
            }
        }
    }

    /// MR4: the committed header (Release publishes the payload), then W1.
    #[inline(always)]
    pub(crate) fn commit(&mut self, r: &Resv, ty: u8, flags: u64) {
        self.lane
            .area
            .header(r.pos)
            .store(header(r.pos, r.len, ty, flags), Release);
        // A copy of the waker, so that its call takes that copy's address, not the handle's.
        if let Some(w) = self.wait {
            w.published_at(crate::protocol::wait::Reached::Any);
        }
    }

    /// MR1-MR4 for a record of type `ty` holding `bytes`: reserve (with its BUSY mark), copy,
    /// commit. Everything but the common case goes out of line as a whole, so that nothing is
    /// live across a call on the inline path; the area is read from the handle once, before
    /// anything is written.
    #[inline(always)]
    pub(crate) fn push(&mut self, bytes: &[u8], ty: u8) -> Result<(), ReserveError> {
        if bytes.len() > self.max_len as usize {
            return Err(ReserveError::TooLarge {
                len: bytes.len(),
                max: self.max_len,
            });
        }
        let area = self.lane.area;
        let r = match self.reserve_fast(bytes.len() as u32) {
            Ok(r) => r,
            Err(w) => return self.push_slow(bytes, ty, w),
        };
        mark(&area, &r, ty);
        self.put(area, bytes, ty, &r);
        Ok(())
    }

    /// `push` out of the common case: MR1-MR2 in full from the `tail` word `w`, then as `push`.
    #[cold]
    #[inline(never)]
    fn push_slow(&mut self, bytes: &[u8], ty: u8, w: u64) -> Result<(), ReserveError> {
        let r = self.reserve_slow(w, bytes.len() as u32)?;
        let area = self.lane.area;
        mark(&area, &r, ty);
        self.put(area, bytes, ty, &r);
        Ok(())
    }

    /// The payload of the marked reservation `r`, then MR4.
    #[inline(always)]
    fn put(&self, area: Area<'_>, bytes: &[u8], ty: u8, r: &Resv) {
        // SAFETY: the reservation is ours and holds `bytes.len()` payload bytes in the area.
        unsafe { super::write_payload(area, r.pos, 0, bytes) };
        area.header(r.pos)
            .store(header(r.pos, r.len, ty, 0), Release);
        // A copy of the waker, so that its call takes that copy's address, not the handle's.
        if let Some(w) = self.wait {
            w.published_at(crate::protocol::wait::Reached::Any);
        }
    }

    /// Shrinks an uncommitted reservation (see [`truncate_marked`]).
    pub(crate) fn truncate(&self, pos: u32, old_len: u32, len: u32) {
        truncate_marked(&self.lane.area, pos, old_len, len);
    }

    /// The data area.
    #[inline(always)]
    pub(crate) fn area(&self) -> Area<'a> {
        self.lane.area
    }
}
