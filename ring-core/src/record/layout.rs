//! The byte layout of a record ring (spec/RECORDS.md): constants, the record producer line,
//! the record header word, and the data area addressed through trusted copies.

use crate::sync::{AtomicU32, AtomicU64};

/// `incompat` bit 5: the region is a record ring.
pub const INCOMPAT_RECORDS: u64 = 0x20;
/// `incompat` bit 7 (layout 1.4): the record ring has an overflow area (table row 3,
/// spec/RECORDS.md, section 13). Requires `INCOMPAT_PRODUCERS`.
pub const INCOMPAT_RECORD_OVERFLOW: u64 = 0x80;
/// `incompat` bit 8 (layout 1.4): every consumer of this record region maintains
/// `release_end` (spec/RECORDS.md, section 7.3), so a consumer that starts after a dead one may
/// finish the release it announced there. Set by the creator on MPSC record rings and on record
/// rings with an overflow area; without it a consumer never reads `release_end`.
pub const INCOMPAT_RELEASE_END: u64 = 0x100;
/// Bit 32 of a record overflow `state` word: the overflow area is active (the same bit as
/// [`crate::layout::overflow_state::ACTIVE`]).
pub const OVERFLOW_ACTIVE: u64 = crate::layout::overflow_state::ACTIVE;
/// Bit position of the reservation count (31 bits) in a record overflow `state` word.
pub const OVERFLOW_COUNT_SHIFT: u32 = 33;
/// `entry_format` of a record ring whose records are encoded as spec/RECORDS.md, section 5.
pub const RECORDS_V1: u32 = 2;
/// Bytes of a record header (also the header's `payload_offset`).
pub const RECORD_HEADER_LEN: u32 = 8;
/// Alignment of every record and position (also the header's `entry_align`).
pub const RECORD_ALIGN: u32 = 8;
/// Smallest data area in bytes.
pub const MIN_DATA_CAPACITY: u32 = 32;
/// Largest data area in bytes (2^31).
pub const MAX_DATA_CAPACITY: u32 = 1 << 31;
/// Largest value of a header's `len` field (24 bits).
pub const MAX_LEN_FIELD: u32 = 0xff_ffff;
/// Bit position of `len` in the header word.
pub const LEN_SHIFT: u32 = 32;
/// Bit position of `type` in the header word.
pub const TYPE_SHIFT: u32 = 56;
/// Width mask of `type`.
pub const TYPE_MASK: u64 = 0x3f;
/// Header bit 62: the record was abandoned; consumers skip it.
pub const DISCARD: u64 = 1 << 62;
/// Header bit 63: the record is reserved and being written (MPSC).
pub const BUSY: u64 = 1 << 63;

/// Record types (the header's 6-bit `type` field).
pub mod record_type {
    /// Never valid: a header word of type 0 has not been written.
    pub const NONE: u8 = 0;
    /// Padding to the end of the data area.
    pub const PAD: u8 = 1;
    /// Opaque bytes.
    pub const DATA: u8 = 2;
    /// A completion followed by attributes (spec/RECORDS.md, section 9).
    pub const COMPLETION: u8 = 3;
    /// First type applications may use (32 to 63).
    pub const USER_FIRST: u8 = 32;
    /// Largest type.
    pub const MAX: u8 = 63;
}

/// The producer line of a record ring (table row 0, 128 bytes).
#[repr(C, align(128))]
#[derive(Debug)]
pub struct RecordProducerLine {
    /// Bits 0..32: the producer position; bits 32..64: the reservation count.
    pub tail: AtomicU64,
    /// Single-producer claim word (0 in MPSC).
    pub owner: AtomicU32,
    /// Reserved, zero.
    pub reserved32: AtomicU32,
    /// Reservations refused for lack of room.
    pub full_refusals: AtomicU64,
    /// Records committed as discarded.
    pub discarded: AtomicU64,
    /// Reserved, zero.
    pub reserved: [AtomicU64; 12],
}

impl RecordProducerLine {
    /// A formatted producer line whose position is `tail`.
    pub fn new(tail: u32) -> Self {
        RecordProducerLine {
            tail: AtomicU64::new(u64::from(tail)),
            owner: AtomicU32::new(0),
            reserved32: AtomicU32::new(0),
            full_refusals: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            reserved: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Bytes a record with `len` payload bytes occupies: the header plus the payload rounded up to
/// a multiple of 8. `len` must be at most `MAX_LEN_FIELD`.
#[inline(always)]
pub const fn record_size(len: u32) -> u32 {
    RECORD_HEADER_LEN + ((len + 7) & !7)
}

/// The largest payload a data area of `capacity` bytes takes: its record may use at most half
/// the area, so that it always fits after at most one padding record.
#[inline]
pub const fn max_record_len(capacity: u32) -> u32 {
    let half = capacity / 2 - RECORD_HEADER_LEN;
    if half < MAX_LEN_FIELD {
        half
    } else {
        MAX_LEN_FIELD
    }
}

/// Encodes a header word.
#[inline(always)]
pub const fn header(seq: u32, len: u32, ty: u8, flags: u64) -> u64 {
    seq as u64 | ((len as u64) << LEN_SHIFT) | (((ty as u64) & TYPE_MASK) << TYPE_SHIFT) | flags
}

/// The `seq` field of a header word.
#[inline(always)]
pub const fn header_seq(w: u64) -> u32 {
    w as u32
}

/// The `len` field of a header word.
#[inline(always)]
pub const fn header_len(w: u64) -> u32 {
    ((w >> LEN_SHIFT) as u32) & MAX_LEN_FIELD
}

/// The `type` field of a header word.
#[inline(always)]
pub const fn header_type(w: u64) -> u8 {
    ((w >> TYPE_SHIFT) & TYPE_MASK) as u8
}

/// The position bits of the producer `tail` word.
#[inline(always)]
pub(crate) const fn tail_pos(w: u64) -> u32 {
    w as u32
}

/// The `tail` word after a reservation of `need` bytes (position advanced, count plus one).
#[inline(always)]
pub(crate) const fn tail_after(w: u64, need: u32) -> u64 {
    let pos = (w as u32).wrapping_add(need);
    let count = ((w >> 32) as u32).wrapping_add(1);
    pos as u64 | ((count as u64) << 32)
}

/// The overflow `state` word after a reservation of `need` bytes: position advanced, `ACTIVE`
/// set, reservation count (bits 33..64) plus one.
#[inline(always)]
pub(crate) const fn overflow_after(w: u64, need: u32) -> u64 {
    let pos = (w as u32).wrapping_add(need);
    let count = ((w >> OVERFLOW_COUNT_SHIFT) as u32).wrapping_add(1) & 0x7fff_ffff;
    pos as u64 | OVERFLOW_ACTIVE | ((count as u64) << OVERFLOW_COUNT_SHIFT)
}

/// One 8-byte word of a model data area: the header atomic and the payload bytes are kept
/// apart so that loom sees atomics where headers live and checks payload accesses for races.
#[cfg(ring_core_loom)]
#[derive(Debug)]
pub struct Word {
    pub(crate) hdr: AtomicU64,
    pub(crate) data: crate::sync::PayloadCell<[u8; 8]>,
}

#[cfg(ring_core_loom)]
impl Word {
    /// A zero word.
    pub fn new() -> Self {
        Word {
            hdr: AtomicU64::new(0),
            data: crate::sync::PayloadCell::new([0; 8]),
        }
    }
}

#[cfg(ring_core_loom)]
impl Default for Word {
    fn default() -> Self {
        Self::new()
    }
}

/// The data area, addressed only through its trusted capacity and mask: every address is
/// `base + (pos & mask) + k` with `k` checked against the end of the area by the caller.
/// Records of up to this many bytes (header included) are zeroed by word stores inline.
#[cfg(not(ring_core_loom))]
const SMALL_ZERO: u32 = 64;

#[derive(Copy, Clone, Debug)]
pub(crate) struct Area<'a> {
    #[cfg(not(ring_core_loom))]
    base: *mut u8,
    #[cfg(not(ring_core_loom))]
    _life: core::marker::PhantomData<&'a [u8]>,
    #[cfg(ring_core_loom)]
    words: &'a [Word],
    cap: u32,
    mask: u32,
}

#[cfg(ring_core_loom)]
impl Area<'static> {
    /// An area of no bytes (for a view of no record, never read).
    pub(crate) const EMPTY: Self = Area {
        words: &[],
        cap: 0,
        mask: 0,
    };
}

// SAFETY: the area is shared memory whose header words are atomics and whose payload bytes
// are handed out only to the participant the protocol gives them to.
unsafe impl Send for Area<'_> {}
// SAFETY: as above.
unsafe impl Sync for Area<'_> {}

impl<'a> Area<'a> {
    /// The data area of `cap` bytes at `base`.
    ///
    /// # Safety
    ///
    /// `base` is 8-byte aligned and `cap` bytes from it are mapped, readable and writable for
    /// `'a`, and used by others only through this protocol; `cap` is a power of two >= 32.
    #[cfg(not(ring_core_loom))]
    pub(crate) unsafe fn new(base: *mut u8, cap: u32) -> Self {
        Area {
            base,
            _life: core::marker::PhantomData,
            cap,
            mask: cap - 1,
        }
    }

    /// The model data area over `words` (capacity `8 * words.len()`, a power of two).
    #[cfg(ring_core_loom)]
    pub(crate) fn new(words: &'a [Word]) -> Self {
        let cap = (words.len() * 8) as u32;
        Area {
            words,
            cap,
            mask: cap - 1,
        }
    }

    /// Bytes in the area.
    #[inline(always)]
    pub(crate) fn capacity(&self) -> u32 {
        self.cap
    }

    /// Offset of `pos` in the area.
    #[inline(always)]
    pub(crate) fn offset(&self, pos: u32) -> u32 {
        pos & self.mask
    }

    /// The header word at `pos` (rounded down to a multiple of 8, so any value is in bounds).
    #[inline(always)]
    pub(crate) fn header(&self, pos: u32) -> &'a AtomicU64 {
        let off = (pos & self.mask & !7) as usize;
        #[cfg(not(ring_core_loom))]
        {
            // SAFETY: `off + 8 <= cap` (a multiple of 8 below `cap`, itself a multiple of 8), the
            // base is 8-byte aligned, and an AtomicU64 is valid for any bytes.
            unsafe { &*(self.base.add(off) as *const AtomicU64) }
        }
        #[cfg(ring_core_loom)]
        {
            &self.words[off / 8].hdr
        }
    }

    /// Address of the payload of the record at `pos`.
    ///
    /// # Safety
    ///
    /// The record at `pos` (8-byte aligned) has been checked to fit the area:
    /// `offset(pos) + record_size(len) <= capacity`.
    #[cfg(not(ring_core_loom))]
    #[inline(always)]
    pub(crate) unsafe fn payload(&self, pos: u32) -> *mut u8 {
        // SAFETY: the caller checked that the record, header included, lies in the area.
        unsafe {
            self.base
                .add((pos & self.mask) as usize + RECORD_HEADER_LEN as usize)
        }
    }

    /// Copies `src` into the payload of the record at `pos`, from payload byte `at`.
    ///
    /// # Safety
    ///
    /// The caller owns the record's bytes (reserved, not committed) and
    /// `offset(pos) + 8 + at + src.len() <= capacity`.
    #[inline(always)]
    pub(crate) unsafe fn write(&self, pos: u32, at: usize, src: &[u8]) {
        #[cfg(not(ring_core_loom))]
        {
            // SAFETY: in bounds and owned, per the caller; payload bytes are only copied with
            // atomic accesses in this build (a peer writing them gives wrong bytes, no race).
            unsafe { crate::sync::bytes::copy_in(self.payload(pos).add(at), src) }
        }
        #[cfg(ring_core_loom)]
        {
            let start = (pos & self.mask) as usize + 8 + at;
            for (i, b) in src.iter().enumerate() {
                let k = start + i;
                // SAFETY: the caller owns these bytes; loom checks that claim.
                self.words[k / 8]
                    .data
                    .with_mut(|p| unsafe { (*p)[k % 8] = *b });
            }
        }
    }

    /// Copies payload bytes of the record at `pos`, from payload byte `at`, into `dst`.
    ///
    /// # Safety
    ///
    /// The record is committed and not yet released by this consumer, and
    /// `offset(pos) + 8 + at + dst.len() <= capacity`. (Model builds only: a view reads
    /// through its payload pointer otherwise.)
    #[cfg(ring_core_loom)]
    #[inline(always)]
    pub(crate) unsafe fn read(&self, pos: u32, at: usize, dst: &mut [u8]) {
        {
            let start = (pos & self.mask) as usize + 8 + at;
            for (i, b) in dst.iter_mut().enumerate() {
                let k = start + i;
                // SAFETY: the record is ours to read; loom checks that claim.
                *b = self.words[k / 8].data.with(|p| unsafe { (*p)[k % 8] });
            }
        }
    }

    /// Zeroes `size` bytes from `pos` (8-byte aligned), word by word, in no particular order:
    /// section 7.3's finishing of a dead consumer's release, which is repeated whole if it is
    /// cut short.
    ///
    /// # Safety
    ///
    /// As for [`Self::zero`].
    pub(crate) unsafe fn zero_span(&self, pos: u32, size: u32) {
        let off = (pos & self.mask & !7) as usize;
        #[cfg(not(ring_core_loom))]
        // SAFETY: the caller's contract, passed on.
        unsafe {
            zero_words(self.base.add(off), size as usize)
        };
        #[cfg(ring_core_loom)]
        for w in &self.words[off / 8..(off + size as usize) / 8] {
            w.hdr.store(0, crate::sync::Ordering::Relaxed);
            // SAFETY: the consumer owns the bytes; loom checks that claim.
            w.data.with_mut(|p| unsafe { *p = [0; 8] });
        }
    }

    /// Zeroes `size` bytes from `pos` (8-byte aligned) before the consumer releases them
    /// (MPSC, spec/RECORDS.md section 7), in the crash-safe order of section 7.3: the header
    /// word is first stored with `DISCARD` set, then the other words are zeroed, then the header
    /// word. A consumer killed anywhere in between leaves a successor a record that is intact,
    /// discarded with its size, or all zero, never a zero header before non-zero words.
    ///
    /// # Safety
    ///
    /// The consumer owns the bytes (consumed, `head` not yet stored past them) and
    /// `offset(pos) + size <= capacity`.
    #[inline(always)]
    pub(crate) unsafe fn zero(&self, pos: u32, size: u32) {
        let off = (pos & self.mask & !7) as usize;
        #[cfg(not(ring_core_loom))]
        {
            use crate::sync::Ordering::Relaxed;
            use core::sync::atomic::{compiler_fence, Ordering::SeqCst};
            // SAFETY: `off + 8 <= off + size` is in the area and owned, per the caller;
            // 8-aligned (the base is, `off` is a multiple of 8).
            let hdr = unsafe { &*(self.base.add(off) as *const AtomicU64) };
            if size > 8 {
                // Step 1: the header word, marked DISCARD (its size kept), before any other word
                // is zeroed; the compiler fences keep the three steps in program order, which is
                // what a kill at an instruction boundary leaves behind.
                hdr.store(hdr.load(Relaxed) | DISCARD, Relaxed);
                compiler_fence(SeqCst);
            }
            if (16..=SMALL_ZERO).contains(&size) {
                // Step 2 for small records (the common case): a few word stores inline, not a
                // call. Sizes are multiples of 8 from an 8-aligned offset; the words from 8 on
                // are stored, the first and last ones of a block overlapping in the middle
                // when the span is shorter than the block.
                let zero = |at: u32| {
                    // SAFETY: `8 <= at` and `at + 8 <= size`: the uses below store blocks of
                    // 8, 16 or 32 bytes starting at 8 and ending at `size` (sizes 16-24, 32-40
                    // and 48-64 in turn), so in bounds and owned, per the caller; 8-aligned (as
                    // above); an AtomicU64 is valid for any bytes.
                    let w = unsafe { &*(self.base.add(off + at as usize) as *const AtomicU64) };
                    w.store(0, Relaxed);
                };
                if size <= 24 {
                    zero(8);
                    zero(size - 8);
                } else if size <= 40 {
                    zero(8);
                    zero(16);
                    zero(size - 16);
                    zero(size - 8);
                } else {
                    for at in [8, 16, 24, 32] {
                        zero(at);
                        zero(size - 40 + at);
                    }
                }
            } else if size > SMALL_ZERO {
                // SAFETY: the caller's contract, passed on (the words after the header).
                unsafe { zero_words(self.base.add(off + 8), size as usize - 8) }
            }
            // Step 3: the header word last.
            compiler_fence(SeqCst);
            hdr.store(0, Relaxed);
        }
        #[cfg(ring_core_loom)]
        {
            for w in &self.words[off / 8..(off + size as usize) / 8] {
                w.hdr.store(0, crate::sync::Ordering::Relaxed);
                // SAFETY: the consumer owns the bytes; loom checks that claim.
                w.data.with_mut(|p| unsafe { *p = [0; 8] });
            }
        }
    }
}

impl Area<'_> {
    /// [`Area::zero`] for a record of 16 to 32 bytes (a header and one to three words), as
    /// straight-line code: the header word marked DISCARD, then the words at 8, `max(size -
    /// 16, 8)` and `size - 8` (which cover the others, storing one twice when the record is
    /// shorter than 32 bytes), then the header word zeroed: the order of section 7.3.
    ///
    /// # Safety
    ///
    /// As for [`Area::zero`], and `16 <= size <= 32`.
    #[inline(always)]
    pub(crate) unsafe fn zero_small(&self, pos: u32, size: u32) {
        debug_assert!((16..=32).contains(&size) && size % 8 == 0);
        #[cfg(not(ring_core_loom))]
        {
            use crate::sync::Ordering::Relaxed;
            use core::sync::atomic::{compiler_fence, Ordering::SeqCst};
            let off = (pos & self.mask & !7) as usize;
            // SAFETY: `off + at + 8 <= off + size` for the offsets used (8, `max(size - 16,
            // 8)` and `size - 8`, all at most `size - 8`), in the area and owned, per the
            // caller; 8-aligned; an AtomicU64 is valid for any bytes.
            let word =
                |at: u32| unsafe { &*(self.base.add(off + at as usize) as *const AtomicU64) };
            let hdr = word(0);
            hdr.store(hdr.load(Relaxed) | DISCARD, Relaxed);
            compiler_fence(SeqCst);
            word(8).store(0, Relaxed);
            word(size.saturating_sub(16).max(8)).store(0, Relaxed);
            word(size - 8).store(0, Relaxed);
            compiler_fence(SeqCst);
            hdr.store(0, Relaxed);
        }
        // SAFETY: the caller's contract.
        #[cfg(ring_core_loom)]
        unsafe {
            self.zero(pos, size)
        }
    }
}

/// Zeroes `size` bytes (a multiple of 8) at the 8-aligned `at`, word by word with atomic
/// stores (as every access to the area in this build: a peer writing these bytes meanwhile is
/// no data race). Out of line: larger records only, and it keeps the release path small
/// enough to be inlined.
///
/// # Safety
///
/// `at..at + size` lies in the data area, is 8-aligned and is owned by the caller.
#[cfg(not(ring_core_loom))]
#[cold]
#[inline(never)]
unsafe fn zero_words(at: *mut u8, size: usize) {
    for i in (0..size).step_by(8) {
        // SAFETY: `i + 8 <= size` (a multiple of 8), so in bounds and owned, per the caller;
        // 8-aligned; an AtomicU64 is valid for any bytes.
        let w = unsafe { &*(at.add(i) as *const AtomicU64) };
        w.store(0, crate::sync::Ordering::Relaxed);
    }
}

#[cfg(all(test, not(ring_core_loom)))]
mod tests {
    use super::*;

    /// `Area::zero` (and `Area::zero_small`, at every other offset for its sizes) clears
    /// exactly the span asked for, for every size up to past the inline limit and at offsets
    /// that end at the end of the area.
    #[test]
    fn zero_clears_exactly_its_span() {
        const CAP: u32 = 256;
        for size in (8..=SMALL_ZERO + 64).step_by(8) {
            for off in (0..=CAP - size).step_by(8) {
                let mut words = [u64::MAX; (CAP / 8) as usize];
                // SAFETY: the buffer is 8-aligned, `CAP` bytes long, and outlives the area.
                let area = unsafe { Area::new(words.as_mut_ptr() as *mut u8, CAP) };
                // A position a lap later than `off`: only its offset matters.
                // SAFETY: `off + size <= CAP`; nobody else uses the buffer; `zero_small`
                // for the sizes it takes (16 to 32).
                unsafe {
                    if (16..=32).contains(&size) && off % 16 == 8 {
                        area.zero_small(off + CAP, size)
                    } else {
                        area.zero(off + CAP, size)
                    }
                };
                for (i, w) in words.iter().enumerate() {
                    let at = i as u32 * 8;
                    let inside = at >= off && at < off + size;
                    assert_eq!(
                        *w == 0,
                        inside,
                        "size {size} at {off}: word at {at} is {w:#x}"
                    );
                }
            }
        }
    }
}
