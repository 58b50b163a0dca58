//! The SPSC record producer (spec/RECORDS.md, RP1-RP3): a private position, a cached limit,
//! and one Release store of `tail` per commit. Nobody else reserves, so headers are written at
//! commit time and published by the `tail` store; no BUSY marks, no zeroing.

use super::errors::{RecordCorruption, ReserveError};
use super::layout::*;
use super::{RawRecords, Resv};
use crate::protocol::wait::Waker;
use crate::sync::{
    AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};

/// The SPSC producer flavor.
#[derive(Debug)]
pub(crate) struct SpscTx<'a> {
    /// The private trusted position: every byte before it is published.
    tail: u32,
    /// `head + capacity` for the last validated `head`: bytes before it are free. Never ahead
    /// of the real limit, because `head` only moves forward.
    limit: u32,
    area: Area<'a>,
    max_len: u32,
    tail_word: &'a AtomicU64,
    head_word: &'a AtomicU32,
    refusals: &'a AtomicU64,
    /// Whether a refusal counts in `full_refusals` (not when an overflow area takes over).
    pub(super) count_full: bool,
    pub(super) discarded: &'a AtomicU64,
    wait: Option<Waker<'a>>,
}

impl<'a> SpscTx<'a> {
    /// A producer starting at `tail` with the validated `head` (checked by the caller).
    pub(crate) fn new(raw: &RawRecords<'a>, tail: u32, head: u32, wait: Option<Waker<'a>>) -> Self {
        SpscTx {
            tail,
            limit: head.wrapping_add(raw.area.capacity()),
            area: raw.area,
            max_len: max_record_len(raw.area.capacity()),
            tail_word: &raw.prod.tail,
            head_word: &raw.cons.head,
            refusals: &raw.prod.full_refusals,
            count_full: true,
            discarded: &raw.prod.discarded,
            wait,
        }
    }

    /// RP1: room for a record of `len` payload bytes at the private position, with a padding
    /// record first if it would cross the end of the data area.
    #[inline(always)]
    pub(crate) fn reserve(&mut self, len: usize) -> Result<Resv, ReserveError> {
        if len > self.max_len as usize {
            return Err(ReserveError::TooLarge {
                len,
                max: self.max_len,
            });
        }
        let (r, need) = self.place(len as u32);
        if need > self.limit.wrapping_sub(self.tail) {
            // Out of line over plain values, so that no address of the handle escapes.
            let refusals = self.count_full.then_some(self.refusals);
            self.limit = refill(
                self.head_word,
                self.tail,
                self.area.capacity(),
                need,
                refusals,
            )?;
        }
        Ok(r)
    }

    /// Where a record of `len` payload bytes (at most `max_len`) goes from the private
    /// position, and the bytes it needs (its size, plus the padding record before it if it
    /// would cross the end of the data area).
    #[inline(always)]
    fn place(&self, len: u32) -> (Resv, u32) {
        let cap = self.area.capacity();
        let size = record_size(len);
        let off = self.area.offset(self.tail);
        let pad = if off + size > cap { cap - off } else { 0 };
        let r = Resv {
            start: self.tail,
            pos: self.tail.wrapping_add(pad),
            len,
        };
        (r, pad + size)
    }

    /// RP3: the padding header (if any) and the record header (Relaxed), then one Release
    /// store of `tail` publishes both and the payload; then W1.
    #[inline(always)]
    pub(crate) fn commit(&mut self, r: &Resv, ty: u8, flags: u64) {
        debug_assert_eq!(r.start, self.tail);
        let next = r.pos.wrapping_add(record_size(r.len));
        self.tail = next;
        publish(self.area, self.tail_word, &self.wait, r, ty, flags);
    }

    /// RP1-RP3 for a record of type `ty` holding `bytes`: reserve, copy, publish. Everything
    /// but the common case (a record too large, the cached room used up) goes out of line as a
    /// whole, so that nothing is live across a call on the inline path. The handle's fields
    /// are read before the payload is written (a write through the area's pointer could
    /// otherwise make the compiler read them again).
    #[inline(always)]
    pub(crate) fn push(&mut self, bytes: &[u8], ty: u8) -> Result<(), ReserveError> {
        if bytes.len() > self.max_len as usize {
            return self.push_slow(bytes, ty);
        }
        let (r, need) = self.place(bytes.len() as u32);
        if need > self.limit.wrapping_sub(self.tail) {
            return self.push_slow(bytes, ty);
        }
        self.put(bytes, ty, &r);
        Ok(())
    }

    /// `push` out of the common case: RP1 in full (the refusal or the reload of `head`).
    #[cold]
    #[inline(never)]
    fn push_slow(&mut self, bytes: &[u8], ty: u8) -> Result<(), ReserveError> {
        let r = self.reserve(bytes.len())?;
        self.put(bytes, ty, &r);
        Ok(())
    }

    /// RP2/RP3 for `bytes` into the reservation `r` (at the private position).
    #[inline(always)]
    fn put(&mut self, bytes: &[u8], ty: u8, r: &Resv) {
        let (area, tail_word) = (self.area, self.tail_word);
        self.tail = r.pos.wrapping_add(record_size(r.len));
        // SAFETY: the reservation is ours and holds `bytes.len()` payload bytes in the area.
        unsafe { super::write_payload(area, r.pos, 0, bytes) };
        publish(area, tail_word, &self.wait, r, ty, 0);
    }

    /// The data area.
    #[inline(always)]
    pub(crate) fn area(&self) -> Area<'a> {
        self.area
    }
}

/// RP1 with the cached room used up: reload `head` (Acquire), validate it against the private
/// position `tail`, and return the new limit (`head + cap`) if `need` bytes are free; refuse
/// (counting the refusal in `refusals`, when given) if not.
#[cold]
#[inline(never)]
fn refill(
    head_word: &AtomicU32,
    tail: u32,
    cap: u32,
    need: u32,
    refusals: Option<&AtomicU64>,
) -> Result<u32, ReserveError> {
    let head = head_word.load(Acquire);
    let used = tail.wrapping_sub(head);
    if used > cap || head % RECORD_ALIGN != 0 {
        return Err(ReserveError::Corrupt(RecordCorruption::IndicesOutOfRange {
            tail,
            head,
        }));
    }
    if need > cap - used {
        if let Some(r) = refusals {
            r.fetch_add(1, Relaxed);
        }
        return Err(ReserveError::Full {
            needed: need,
            free: cap - used,
        });
    }
    Ok(head.wrapping_add(cap))
}

/// RP3 for the reservation `r` (the private position already moved past it): the padding
/// header (if any) and the record header (Relaxed), then one Release store of `tail`
/// publishes both and the payload; then W1, on a copy of the waker, so that its call takes
/// that copy's address, not the handle's.
#[inline(always)]
fn publish(
    area: Area<'_>,
    tail_word: &AtomicU64,
    wait: &Option<Waker<'_>>,
    r: &Resv,
    ty: u8,
    flags: u64,
) {
    if r.pos != r.start {
        let pad = r.pos.wrapping_sub(r.start);
        area.header(r.start).store(
            header(r.start, pad - RECORD_HEADER_LEN, record_type::PAD, 0),
            Relaxed,
        );
    }
    area.header(r.pos)
        .store(header(r.pos, r.len, ty, flags), Relaxed);
    let next = r.pos.wrapping_add(record_size(r.len));
    tail_word.store(u64::from(next), Release);
    if let Some(w) = *wait {
        w.published_at(crate::protocol::wait::Reached::Any);
    }
}
