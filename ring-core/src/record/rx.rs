//! The record consumer (spec/RECORDS.md, RC1-RC3 and MC1-MC3). One consumer in both modes;
//! the MPSC flavor also treats a zero or BUSY header at its position as pending, and zeroes
//! what it releases, so that a reserved but unwritten header always reads 0.

use super::errors::{ReadError, RecordCorruption};
use super::layout::*;
use super::RawRecords;
use crate::layout::ProducerRecord;
use crate::sync::{
    AtomicU32, AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

/// The consumer state.
#[derive(Debug)]
pub(crate) struct Rx<'a> {
    /// The private trusted position: the next byte to read.
    pub(crate) head: u32,
    /// The last value stored into the shared `head`.
    stored: u32,
    /// The last validated producer position; never ahead of the real one, except after a
    /// committed header that a peer forged beyond it (MC1a), which the next load of `tail`
    /// reports as corrupt positions.
    tail_cache: u32,
    pub(crate) area: Area<'a>,
    tail_word: &'a AtomicU64,
    head_word: &'a AtomicU32,
    /// `release_end` (MPSC): stored before each record is zeroed (MC3, section 7.3).
    release_word: &'a AtomicU32,
    /// MPSC: pending headers and zeroing on release.
    multi: bool,
    /// The MPSC data area's consumer: with nothing validated ahead, it reads the header at its
    /// position before it loads `tail` (MC1a). Not on the overflow lane.
    header_first: bool,
    /// MPSC with producer records: the records, to tell a reservation from released bytes.
    records: &'a [ProducerRecord],
    /// The overflow lane: its intents are the records' overflow words, and its errors name
    /// the overflow area.
    overflow: bool,
    /// Records delivered (consumed) through this lane by this handle (wraps).
    pub(crate) delivered: u64,
    /// The record last read through this lane: what a `RecordRef` dereferences to.
    pub(crate) view: super::RecordView<'static>,
}

/// A validated, deliverable record: its header word (`seq` is its position; no flags). One
/// word, so that moving it through memory (out of line returns, `Result`s the compiler keeps on
/// the stack) is one 8-byte store and load, never a wider load over narrower stores (a
/// store-forwarding stall).
#[derive(Copy, Clone, Debug)]
pub(crate) struct Found(u64);

impl Found {
    /// The record's position.
    #[inline(always)]
    pub(crate) fn pos(self) -> u32 {
        header_seq(self.0)
    }

    /// Its payload length.
    #[inline(always)]
    pub(crate) fn len(self) -> u32 {
        header_len(self.0)
    }

    /// Its header word.
    #[inline(always)]
    pub(crate) fn word(self) -> u64 {
        self.0
    }
}

impl<'a> Rx<'a> {
    /// A consumer starting at `head` (validated by the caller), with `tail` validated too.
    pub(crate) fn new(raw: &RawRecords<'a>, head: u32, tail: u32, multi: bool) -> Self {
        Rx {
            head,
            stored: head,
            tail_cache: tail,
            area: raw.area,
            tail_word: &raw.prod.tail,
            head_word: &raw.cons.head,
            release_word: &raw.cons.release_end,
            multi,
            header_first: multi,
            records: raw.registry.map_or(&[], |r| r.records),
            overflow: false,
            delivered: 0,
            view: super::RecordView::none(),
        }
    }

    /// The consumer of the overflow lane (spec/RECORDS.md, section 13): `area` the overflow
    /// data area, `line` the overflow line (the low 32 bits of its `state` are the producer
    /// position); `head` and `tail` validated by the caller.
    /// Always read as MPSC (pending headers, zeroing on release).
    pub(crate) fn overflow(
        area: Area<'a>,
        line: &'a crate::layout::OverflowLine,
        records: &'a [ProducerRecord],
        head: u32,
        tail: u32,
    ) -> Self {
        Rx {
            head,
            stored: head,
            tail_cache: tail,
            area,
            tail_word: &line.state,
            head_word: &line.head,
            release_word: &line.release_end,
            multi: true,
            header_first: false,
            records,
            overflow: true,
            delivered: 0,
            view: super::RecordView::none(),
        }
    }

    /// A corruption error of this lane.
    #[cold]
    fn corrupt(&self, c: RecordCorruption) -> ReadError {
        ReadError::Corrupt(match (self.overflow, c) {
            (true, RecordCorruption::IndicesOutOfRange { tail, head }) => {
                RecordCorruption::OverflowIndicesOutOfRange { tail, head }
            }
            (
                true,
                RecordCorruption::Header {
                    position,
                    header,
                    reason,
                },
            ) => RecordCorruption::OverflowHeader {
                position,
                header,
                reason,
            },
            (_, c) => c,
        })
    }

    /// RC1/MC1: reload and validate the producer position.
    #[cold]
    #[inline(never)]
    fn reload_tail(&mut self) -> Result<(), ReadError> {
        let t = tail_pos(self.tail_word.load(Acquire));
        if t.wrapping_sub(self.head) > self.area.capacity() || t % RECORD_ALIGN != 0 {
            return Err(self.corrupt(RecordCorruption::IndicesOutOfRange {
                tail: t,
                head: self.head,
            }));
        }
        self.tail_cache = t;
        Ok(())
    }

    /// Whether bytes are published (or, in MPSC, reserved) beyond the position: what a waiter
    /// waits for. Loads `tail` afresh.
    pub(crate) fn has_more(&self) -> bool {
        tail_pos(self.tail_word.load(Acquire)) != self.head
    }

    /// RC2/MC2: the next deliverable record at or after the private position. The inline part
    /// is the common case: a committed record of a delivered type, no flags, that passes every
    /// check of section 6.1 (the same checks, in one expression); anything else (nothing cached,
    /// padding, a discard, a pending or invalid header) goes out of line.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Result<Found, ReadError> {
        let h = self.head;
        let area = self.area;
        let cap = area.capacity();
        // Validated bytes beyond the position: never above `cap`.
        let mut avail = self.tail_cache.wrapping_sub(h);
        if avail == 0 {
            if self.header_first {
                // MC1a (spec/RECORDS.md, section 7): the header at the position first. A
                // committed record there proves `tail >= h + size` for honest producers, so
                // `tail`, whose line the producers are compare-and-swapping, is not loaded.
                let w = area.header(h).load(Acquire);
                if let Some(f) = committed(w, h, cap - area.offset(h), cap) {
                    self.tail_cache = h.wrapping_add(record_size(f.len()));
                    return Ok(f);
                }
                if header_seq(w) == h && w & BUSY != 0 {
                    // Reserved, being written: pending without loading `tail` either.
                    self.flush();
                    return Err(ReadError::Pending { position: h });
                }
            }
            // RC1/MC1 inline: an empty ring costs one load.
            let t = tail_pos(self.tail_word.load(Acquire));
            avail = t.wrapping_sub(h);
            if avail == 0 {
                return Err(ReadError::Empty);
            }
            if avail > cap || t % RECORD_ALIGN != 0 {
                return self.next_slow();
            }
            self.tail_cache = t;
        }
        // The bytes a record at `h` may span: before the producer position and before the end
        // of the area (computed before the header's Acquire load, which later loads cannot
        // pass).
        let off = area.offset(h);
        let room = avail.min(cap - off);
        let w = area.header(h).load(Acquire);
        match committed(w, h, room, cap) {
            Some(f) => Ok(f),
            None => self.next_slow(),
        }
    }

    /// RC2/MC2 in full: skipping (and, in MPSC, zeroing) padding and discarded records, reloading
    /// `tail`, reporting pending and invalid headers. Bounded: at most two reloads of `tail` per
    /// call, each allowing at most `capacity / 8` skips.
    #[cold]
    #[inline(never)]
    fn next_slow(&mut self) -> Result<Found, ReadError> {
        let mut reloads = 0;
        loop {
            let h = self.head;
            if h == self.tail_cache {
                if reloads == 2 {
                    self.flush();
                    return Err(ReadError::Empty);
                }
                reloads += 1;
                if let Err(e) = self.reload_tail() {
                    self.flush();
                    return Err(e);
                }
                if h == self.tail_cache {
                    self.flush();
                    return Err(ReadError::Empty);
                }
            }
            let w = self.area.header(h).load(Acquire);
            // MPSC pending: nothing written yet (0), BUSY for this position, or a header left
            // at this offset for an earlier lap (a recovery that raced this consumer's own
            // release; its reserver overwrites it): spec/RECORDS.md, section 7.2.
            if self.multi
                && (w == 0
                    || (header_seq(w) == h && w & BUSY != 0)
                    || (header_seq(w) != h
                        && h.wrapping_sub(header_seq(w)) & self.area.capacity().wrapping_sub(1)
                            == 0))
            {
                if w == 0 && !self.records.is_empty() && self.released_word(h) {
                    // Zeroed and released by a consumer that died before storing `head`:
                    // step over it (spec/RECORDS.md, section 7.3).
                    self.head = h.wrapping_add(RECORD_ALIGN);
                    continue;
                }
                self.flush();
                return Err(ReadError::Pending { position: h });
            }
            let size = match self.validate(h, w) {
                Ok(s) => s,
                Err(e) => {
                    self.flush();
                    return Err(e);
                }
            };
            let ty = header_type(w);
            if ty == record_type::PAD || w & DISCARD != 0 {
                if self.multi {
                    let z = if ty == record_type::PAD {
                        RECORD_HEADER_LEN
                    } else {
                        size
                    };
                    self.releasing(h.wrapping_add(z));
                    // SAFETY: the record is validated to lie inside the area, is consumed,
                    // and `head` has not been stored past it.
                    unsafe { self.area.zero(h, z) };
                }
                self.head = h.wrapping_add(size);
                continue;
            }
            // `validate` checked `seq(w) == h` and BUSY clear; DISCARD is clear here.
            return Ok(Found(w));
        }
    }

    /// MC3's announcement before zeroing the record that ends at `end`.
    #[inline(always)]
    fn releasing(&self, end: u32) {
        announce_release(self.release_word, end);
    }

    /// Section 7.3, at the start of a consumer (MPSC lanes): finishes the release a consumer
    /// that died while zeroing left behind. Its `release_end` lies beyond `head` and not
    /// beyond the validated `tail`: every byte between was consumed by it (it announces the
    /// end of a record before zeroing it, and zeroes records in order), so they are zeroed
    /// (again) and `head` is stored there. Repeating this after a crash in the middle does the
    /// same again. A `release_end` outside that window (a live consumer's, at or behind
    /// `head`) changes nothing.
    pub(crate) fn finish_release(&mut self) {
        if !self.multi {
            return;
        }
        let (h, e) = (self.head, self.release_word.load(Acquire));
        let n = e.wrapping_sub(h);
        if n == 0 || n > self.tail_cache.wrapping_sub(h) || e % RECORD_ALIGN != 0 {
            return;
        }
        let first = n.min(self.area.capacity() - self.area.offset(h));
        // SAFETY: `[h, e)` lies below the validated `tail` (so in at most two runs of the
        // area, split at its end), was consumed by the dead consumer, and is ours (we hold the
        // consumer claim and `head` has not been stored past it).
        unsafe {
            self.area.zero_span(h, first);
            if n > first {
                self.area.zero_span(h.wrapping_add(first), n - first);
            }
        }
        self.head = e;
        self.flush();
    }

    /// Whether the zero word at `h` (below the validated `tail`) is released space rather than
    /// a reservation: no producer record's intent covers it (every reserver stores one before
    /// its compare-and-swap, which the Acquire load of `tail` synchronised with), and it still
    /// reads 0 after the records were read (a later intent means the reservation was
    /// committed, which the second load then shows).
    #[cold]
    #[inline(never)]
    fn released_word(&self, h: u32) -> bool {
        for r in self.records {
            let (start, len) = if self.overflow {
                (r.overflow_start.load(Acquire), r.overflow_len.load(Acquire))
            } else {
                (r.ring_start.load(Acquire), r.ring_len.load(Acquire))
            };
            if r.owner.load(Acquire) != 0 && h.wrapping_sub(start) < len {
                return false;
            }
        }
        self.area.header(h).load(Acquire) == 0
    }

    /// spec/RECORDS.md, section 6.1; returns the record's size.
    #[inline(always)]
    fn validate(&self, h: u32, w: u64) -> Result<u32, ReadError> {
        let cap = self.area.capacity();
        let bad = |reason| {
            Err(self.corrupt(RecordCorruption::Header {
                position: h,
                header: w,
                reason,
            }))
        };
        let ty = header_type(w);
        if ty == record_type::NONE {
            return bad("type 0: no record was written here");
        }
        if header_seq(w) != h {
            return bad("its sequence field does not name this position");
        }
        if w & BUSY != 0 {
            return bad("BUSY is set in a published record");
        }
        let size = record_size(header_len(w));
        let off = self.area.offset(h);
        if size > self.tail_cache.wrapping_sub(h) {
            return bad("the record runs past the producer position");
        }
        if off + size > cap {
            return bad("the record runs past the end of the data area");
        }
        if ty == record_type::PAD {
            if size != cap - off {
                return bad("a padding record that does not end at the end of the data area");
            }
        } else if size > cap / 2 {
            return bad("a record larger than half the data area");
        }
        Ok(size)
    }

    /// RC3/MC3 for the record just delivered (at the private position): zero it in MPSC and
    /// move past it. The shared `head` is stored by [`Rx::flush`].
    #[inline(always)]
    pub(crate) fn consume(&mut self, f: Found) {
        let pos = f.pos();
        debug_assert_eq!(pos, self.head);
        let size = record_size(f.len());
        if self.multi {
            self.releasing(pos.wrapping_add(size));
            // SAFETY: `next` validated the record inside the area; it is ours until `head` is
            // stored past it.
            unsafe { self.area.zero(pos, size) };
        }
        self.head = pos.wrapping_add(size);
        self.delivered = self.delivered.wrapping_add(1);
    }

    /// RC3/MC3 for one record just delivered (at the private position, `len` payload bytes),
    /// and the Release store of `head` past it: [`Rx::consume`] then [`Rx::flush`], without
    /// the test whether `head` moved (it moved by at least 8 bytes, and by at most the
    /// capacity since the last store, so it differs from the value stored).
    #[inline(always)]
    pub(crate) fn release_one(&mut self, pos: u32, len: u32) {
        debug_assert_eq!(pos, self.head);
        let size = record_size(len);
        if self.multi {
            if (16..=32).contains(&size) {
                // A small record (16 bytes of payload or a completion with an attribute): MC3
                // inline, in the order of `zero_released` (`release_end`, the header marked
                // DISCARD, the other words, the header zeroed), straight-line stores.
                self.releasing(pos.wrapping_add(size));
                // SAFETY: `next` validated the record inside the area; it is ours until `head`
                // is stored past it; `16 <= size <= 32`.
                unsafe { self.area.zero_small(pos, size) };
            } else {
                // SAFETY: as above.
                unsafe { zero_released(&self.area, self.release_word, pos, size) };
            }
        }
        let head = pos.wrapping_add(size);
        self.head = head;
        self.delivered = self.delivered.wrapping_add(1);
        self.stored = head;
        self.head_word.store(head, Release);
        if self.overflow {
            self.released_overflow();
        }
    }

    /// RO7 after a release on the overflow lane, if it released everything up to the last
    /// producer position loaded.
    #[cold]
    #[inline(never)]
    fn released_overflow(&self) {
        if self.head == self.tail_cache {
            self.deactivate();
        }
    }

    /// Counts, without consuming anything, the records that can be read from the private
    /// position now: committed records of a delivered type (padding and discarded ones are
    /// passed over, not counted), up to `limit`, stopping at a pending or invalid header.
    /// Returns the count and whether the walk reached the producer position (loaded once,
    /// Acquire). Bounded: every step passes at least 8 bytes and never the producer position.
    #[cfg(all(feature = "std", not(ring_core_loom)))]
    pub(crate) fn count_ready(&self, limit: usize) -> (usize, bool) {
        let cap = self.area.capacity();
        let t = tail_pos(self.tail_word.load(Acquire));
        if t.wrapping_sub(self.head) > cap || t % RECORD_ALIGN != 0 {
            return (0, false);
        }
        let mut p = self.head;
        let mut n = 0;
        while p != t && n < limit {
            let w = self.area.header(p).load(Acquire);
            let size = record_size(header_len(w));
            let ty = header_type(w);
            let off = self.area.offset(p);
            if header_seq(w) != p
                || w & BUSY != 0
                || ty == record_type::NONE
                || size > t.wrapping_sub(p)
                || off + size > cap
                || (ty == record_type::PAD && size != cap - off)
                || (ty != record_type::PAD && size > cap / 2)
            {
                return (n, false);
            }
            if ty != record_type::PAD && w & DISCARD == 0 {
                n += 1;
            }
            p = p.wrapping_add(size);
        }
        (n, p == t)
    }

    /// Stores the private position into `head` (Release) if it moved. On the overflow lane,
    /// having released everything up to the last producer position loaded, also RO7.
    #[inline(always)]
    pub(crate) fn flush(&mut self) {
        if self.head != self.stored {
            self.stored = self.head;
            self.head_word.store(self.head, Release);
            if self.overflow && self.head == self.tail_cache {
                self.deactivate();
            }
        }
    }

    /// RO7 (overflow lane; its producer word is `state`): clear `ACTIVE` if every reserved
    /// overflow position is consumed, by compare-and-swap from the very value checked (a
    /// reservation in between changes the position and the count, and the clear fails). The
    /// overflow `head` is stored by then.
    #[cold]
    #[inline(never)]
    pub(crate) fn deactivate(&self) {
        debug_assert!(self.overflow && self.head == self.stored);
        let s = self.tail_word.load(Acquire);
        if s & OVERFLOW_ACTIVE != 0 && tail_pos(s) == self.head {
            let _ = self
                .tail_word
                .compare_exchange(s, s & !OVERFLOW_ACTIVE, AcqRel, Relaxed);
        }
    }
}

/// The common case of RC2/MC2: `w`, the header word at `h`, names a committed record of a
/// delivered type without flags, of at most `room` bytes and at most half the `cap`-byte area
/// (section 6.1's checks in one expression, for the records that need no other step).
#[inline(always)]
fn committed(w: u64, h: u32, room: u32, cap: u32) -> Option<Found> {
    let size = record_size(header_len(w));
    let ty = header_type(w);
    (header_seq(w) == h
        && w & (BUSY | DISCARD) == 0
        && ty > record_type::PAD
        && size <= room
        && size <= cap / 2)
        .then_some(Found(w))
}

/// MC3's zeroing of a released record, out of line so that the single consumer's release,
/// which never zeroes, stays small enough to be inlined: `release_end` first (section 7.3),
/// then the record.
///
/// # Safety
///
/// As for [`Area::zero`].
#[inline(never)]
unsafe fn zero_released(area: &Area<'_>, release_word: &AtomicU32, pos: u32, size: u32) {
    announce_release(release_word, pos.wrapping_add(size));
    // SAFETY: the caller's contract.
    unsafe { area.zero(pos, size) }
}

/// MC3's first step (section 7.3): `release_end` names the end of the record about to be
/// zeroed. Relaxed: what matters is that a consumer killed while zeroing has stored it, and
/// the compiler fence keeps the store before the zeroing in program order.
#[inline(always)]
fn announce_release(release_word: &AtomicU32, end: u32) {
    release_word.store(end, Relaxed);
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}
