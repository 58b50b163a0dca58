//! `inspect` (entry-type-agnostic, read-only) against `attach::<T>`: the same verdict on every
//! header a peer could write, except for the checks that need the entry type, and the live
//! words as the ring's own accessors report them.

use ring_core::inspect::{inspect, InspectError, ReadOnlyRegion};
use ring_core::layout::{features, Block};
use ring_core::record::{
    attach_records, RecordConfig, RecordGeometry, RecordLayoutError, RecordRing,
};
use ring_core::{attach, Completion, Config, Entry, LayoutError, Memory, Mode, RawRegion, Ring};
use std::ptr::NonNull;

#[derive(Clone, Copy)]
#[repr(C, align(128))]
struct Chunk([u8; 128]);

/// An aligned private copy of a ring's bytes that the test may rewrite freely.
struct Buf(Vec<Chunk>);

impl Buf {
    fn copy_of<T: Entry>(ring: &Ring<T>) -> Buf {
        let len = ring.geometry().region_len as usize;
        // SAFETY: the ring is quiet (this test's only thread) and `len` bytes are mapped.
        unsafe { Buf::copy_bytes(ring.region().as_ptr(), len) }
    }
    /// # Safety
    /// `len` bytes at `ptr` are mapped and nobody writes them during the call.
    unsafe fn copy_bytes(ptr: *const u8, len: usize) -> Buf {
        let mut v = vec![Chunk([0; 128]); len.div_ceil(128)];
        // SAFETY: the caller's guarantee.
        let src = unsafe { std::slice::from_raw_parts(ptr, len) };
        for (i, b) in src.iter().enumerate() {
            v[i / 128].0[i % 128] = *b;
        }
        Buf(v)
    }
    fn len(&self) -> usize {
        self.0.len() * 128
    }
    fn ptr(&mut self) -> NonNull<u8> {
        NonNull::new(self.0.as_mut_ptr() as *mut u8).unwrap()
    }
    fn put_u32(&mut self, off: usize, v: u32) {
        for (k, b) in v.to_le_bytes().into_iter().enumerate() {
            self.0[(off + k) / 128].0[(off + k) % 128] = b;
        }
    }
    fn put_u64(&mut self, off: usize, v: u64) {
        self.put_u32(off, v as u32);
        self.put_u32(off + 4, (v >> 32) as u32);
    }
    fn verdicts<T: Entry>(&mut self) -> (Result<(), LayoutError>, Result<(), InspectError>) {
        let (ptr, len) = (self.ptr(), self.len());
        // SAFETY: the buffer is ours, mapped, and nobody else touches it.
        let raw = unsafe { RawRegion::new(ptr, len) };
        // SAFETY: as above.
        let ro = unsafe { ReadOnlyRegion::new(ptr, len) };
        (attach::<T>(&raw).map(|_| ()), inspect(&ro).map(|_| ()))
    }
}

fn agree<T: Entry>(ring: &Ring<T>) -> usize {
    let mut cases = 0;
    let values32 = [
        0u32,
        1,
        2,
        3,
        4,
        7,
        8,
        16,
        24,
        128,
        255,
        256,
        384,
        4096,
        1 << 31,
        u32::MAX,
    ];
    for off in (0..256).step_by(4) {
        for &v in &values32 {
            let mut b = Buf::copy_of(ring);
            b.put_u32(off, v);
            let (a, i) = b.verdicts::<T>();
            check(off, v as u64, a, i);
            cases += 1;
        }
    }
    let values64 = [0u64, 1, 8, 0x10, 1 << 40, u64::MAX, u64::MAX - 127];
    for off in (0..256).step_by(8) {
        for &v in &values64 {
            let mut b = Buf::copy_of(ring);
            b.put_u64(off, v);
            let (a, i) = b.verdicts::<T>();
            check(off, v, a, i);
            cases += 1;
        }
    }
    cases
}

fn check(off: usize, v: u64, a: Result<(), LayoutError>, i: Result<(), InspectError>) {
    match a {
        Ok(()) => assert_eq!(i, Ok(()), "offset {off} value {v:#x}: attach accepts"),
        // Unknown features: inspect reports them instead of refusing.
        Err(LayoutError::UnknownIncompatFeatures { .. })
        | Err(LayoutError::UnknownReadOnlyFeatures { .. }) => {}
        // The entry checks are replaced by entry-agnostic ones.
        Err(LayoutError::EntryFormat { .. })
        | Err(LayoutError::EntrySize { .. })
        | Err(LayoutError::EntryAlign { .. })
        | Err(LayoutError::SlotLayout { .. }) => {}
        Err(e) => assert_eq!(
            i,
            Err(InspectError::Layout(e)),
            "offset {off} value {v:#x}: attach refuses"
        ),
    }
}

#[test]
fn inspect_and_attach_agree_on_rewritten_headers() {
    let cfgs = [
        Config::new(4),
        Config::new(4).packed(false),
        Config::new(8).mode(Mode::Mpmc).overflow(4).producers(3),
        Config::new(16).mode(Mode::Mpsc).wait(false),
        Config::new(2).mode(Mode::Spmc).overflow(2),
    ];
    let mut cases = 0;
    for cfg in cfgs {
        cases += agree(&Ring::<Completion>::create_heap(cfg).unwrap());
        cases += agree(&Ring::<u8>::create_heap(cfg).unwrap());
        cases += agree(&Ring::<u128>::create_heap(cfg).unwrap());
        cases += agree(&Ring::<[u32; 3]>::create_heap(cfg).unwrap());
    }
    assert!(cases > 1000);
}

#[test]
fn entry_checks_without_an_entry_type() {
    // Packed slots (1.4): the stride is the size rounded up to max(4, align), payload at 0.
    let packed = Ring::<[u32; 3]>::create_heap(Config::new(4)).unwrap();
    let mut b = Buf::copy_of(&packed);
    b.put_u32(56, 13); // entry_size: 13 -> 16, not 12
    assert!(matches!(
        b.verdicts::<[u32; 3]>().1,
        Err(InspectError::SlotLayout {
            expected_stride: 16,
            found_stride: 12,
            expected_payload_offset: 0,
            ..
        })
    ));
    // Slots with lap tags.
    let ring = Ring::<[u32; 3]>::create_heap(Config::new(4).packed(false)).unwrap();
    let mut b = Buf::copy_of(&ring);
    b.put_u32(60, 3); // entry_align
    assert_eq!(
        b.verdicts::<[u32; 3]>().1,
        Err(InspectError::EntryAlign { found: 3 })
    );
    let mut b = Buf::copy_of(&ring);
    b.put_u32(56, 13); // entry_size: stride 8 + 13 -> 24, not 20
    assert!(matches!(
        b.verdicts::<[u32; 3]>().1,
        Err(InspectError::SlotLayout {
            expected_stride: 24,
            found_stride: 20,
            ..
        })
    ));
    let mut b = Buf::copy_of(&ring);
    b.put_u32(56, u32::MAX); // a stride that does not fit a u32
    assert!(matches!(
        b.verdicts::<[u32; 3]>().1,
        Err(InspectError::SlotLayout {
            expected_stride: 0,
            ..
        })
    ));
    // A valid opaque layout for another type is accepted (no entry type to compare with).
    let mut b = Buf::copy_of(&ring);
    b.put_u32(56, 16);
    b.put_u32(64, 24);
    b.put_u64(88 + 16 * 2 + 8, 4 * 24); // row 2 len
    let (a, i) = b.verdicts::<[u32; 3]>();
    assert!(a.is_err());
    assert_eq!(i, Ok(()));
}

#[test]
fn unknown_features_are_reported_and_extra_words_read_inside_their_block() {
    let ring =
        Ring::<Completion>::create_heap(Config::new(8).mode(Mode::Mpsc).overflow(4)).unwrap();
    let mut b = Buf::copy_of(&ring);
    // Bits no layout defines (bits 3 and 4 are taken by layout 1.3, bit 6 by 1.4, which
    // this MPSC ring must not set: packed slots are SPSC's).
    b.put_u64(
        32,
        (features::INCOMPAT_KNOWN & !features::INCOMPAT_PACKED) | 0x3 << 40,
    );
    let (ptr, len) = (b.ptr(), b.len());
    // SAFETY: the buffer is ours and stays alive while `view` is used.
    let view = inspect(&unsafe { ReadOnlyRegion::new(ptr, len) }).unwrap();
    assert_eq!(view.unknown_incompat(), 0x3 << 40);
    assert_eq!(view.block_u32(Block::Producer, 24), Some(0));
    assert_eq!(view.block_u64(Block::Wait, 32), Some(0));
    assert_eq!(view.block_u64(Block::Wait, 121), None, "misaligned");
    assert_eq!(view.block_u64(Block::Wait, 124), None, "past the block");
    assert_eq!(view.block_u32(Block::Producer, u64::MAX - 1), None);
    assert_eq!(view.block_u32(Block::Overflow, 0), Some(0));
}

#[test]
fn live_words_match_the_rings_accessors() {
    let cfg = Config::new(8).mode(Mode::Mpsc).overflow(4).producers(2);
    let ring = Ring::<Completion>::create_heap(cfg).unwrap();
    let mut tx = ring.producer().unwrap();
    let rx = ring.consumer().unwrap();
    for i in 0..10 {
        tx.push(Completion::new(i, 0, 0)).unwrap();
    }
    let r = ring.region();
    // SAFETY: the ring keeps the region mapped while `view` is used.
    let view = inspect(&unsafe { ReadOnlyRegion::new(NonNull::new(r.as_ptr()).unwrap(), r.len()) })
        .unwrap();
    let c = ring.counters();
    let me = std::process::id();
    assert_eq!(view.producer().tail, c.tail);
    assert_eq!(view.consumer().head, c.head);
    assert_eq!(view.consumer().owner, me);
    let o = view.overflow().unwrap();
    assert!(o.active);
    assert_eq!(o.tail.wrapping_sub(o.head), 2);
    assert_eq!(o.overflowed, c.overflowed);
    assert_eq!(view.wait().unwrap().waiters, 0);
    let owners: Vec<u32> = (0..2).map(|i| view.record(i).unwrap().owner).collect();
    assert_eq!(owners.iter().filter(|&&o| o == me).count(), 1);
    assert!(view.record(2).is_none());
    assert!(ring_core::inspect::owner_alive(me, 0));
    assert!(!ring_core::inspect::owner_alive(0, 0));
    assert!(!ring_core::inspect::owner_alive(u32::MAX, 0));
    drop((tx, rx));
}

// ---------------------------------------------------------------------------------------------
// Record regions (spec/RECORDS.md): `inspect` makes the record attach checks.

fn record_verdicts(
    b: &mut Buf,
) -> (
    Result<RecordGeometry, RecordLayoutError>,
    Result<Option<RecordGeometry>, InspectError>,
) {
    let (ptr, len) = (b.ptr(), b.len());
    // SAFETY: the buffer is ours, mapped, and nobody else touches it.
    let raw = unsafe { RawRegion::new(ptr, len) };
    // SAFETY: as above.
    let ro = unsafe { ReadOnlyRegion::new(ptr, len) };
    (
        attach_records(&raw),
        inspect(&ro).map(|v| v.records().copied()),
    )
}

/// `inspect` and `attach_records` give the same verdict on every rewritten header word of a
/// record region, except that `inspect` reports unknown feature bits instead of refusing them
/// (and a header without `INCOMPAT_RECORDS` is a fixed-entry ring to it).
#[test]
fn inspect_and_attach_records_agree_on_rewritten_headers() {
    let cfgs = [
        RecordConfig::new(256),
        RecordConfig::new(64)
            .mode(Mode::Mpsc)
            .overflow(128)
            .producers(3),
        RecordConfig::new(32).overflow(32).wait(false),
    ];
    let values = [
        0u64,
        1,
        2,
        8,
        0x20,
        0x80,
        0xa6,
        128,
        256,
        4096,
        1 << 31,
        1 << 40,
        u64::from(u32::MAX),
        u64::MAX,
    ];
    let mut cases = 0;
    for cfg in cfgs {
        let ring = RecordRing::create_heap(cfg).unwrap();
        let len = ring.geometry().region_len as usize;
        let base = ring.memory().raw().as_ptr();
        for off in (0..256).step_by(4) {
            for &v in &values {
                // SAFETY: the ring is quiet (no handles) and `len` bytes are mapped.
                let mut b = unsafe { Buf::copy_bytes(base, len) };
                if off % 8 == 0 {
                    b.put_u64(off, v);
                } else {
                    b.put_u32(off, v as u32);
                }
                let (a, i) = record_verdicts(&mut b);
                let at = format!("offset {off} value {v:#x}");
                match a {
                    Ok(g) => assert_eq!(i, Ok(Some(g)), "{at}: attach accepts"),
                    Err(RecordLayoutError::NotRecords { .. })
                    | Err(RecordLayoutError::Features { .. })
                    | Err(RecordLayoutError::Layout(LayoutError::UnknownReadOnlyFeatures {
                        ..
                    })) => {}
                    Err(RecordLayoutError::Layout(e)) => {
                        assert_eq!(i, Err(InspectError::Layout(e)), "{at}: attach refuses")
                    }
                    Err(e) => assert_eq!(i, Err(InspectError::Records(e)), "{at}: attach refuses"),
                }
                cases += 1;
            }
        }
    }
    assert!(cases > 1000);
}

/// The live words of a record region as `inspect` reads them match the ring's counters.
#[test]
fn record_region_live_words_match_the_counters() {
    let cfg = RecordConfig::new(64)
        .mode(Mode::Mpsc)
        .overflow(128)
        .initial_position(u32::MAX - 31);
    let ring = RecordRing::create_heap(cfg).unwrap();
    let mut tx = ring.producer().unwrap();
    let rx = ring.consumer().unwrap();
    for i in 0..6u8 {
        tx.push(&[i; 8]).unwrap(); // 4 in the data area, 2 spill
    }
    let c = ring.counters();
    let raw = ring.memory().raw();
    // SAFETY: the ring keeps the region mapped while `view` is used.
    let ro = unsafe { ReadOnlyRegion::new(NonNull::new(raw.as_ptr()).unwrap(), raw.len()) };
    let view = inspect(&ro).unwrap();
    assert_eq!(view.records(), Some(ring.geometry()));
    assert_eq!(view.unknown_incompat(), 0);
    let p = view.producer();
    assert_eq!((p.tail, p.full_refusals, p.discarded), (c.tail, 0, 0));
    assert_eq!(view.record_reservations(), Some(c.reservations));
    assert_eq!(view.consumer().head, c.head);
    assert_eq!(view.consumer().owner, std::process::id());
    let o = view.overflow().unwrap();
    assert_eq!(
        (o.tail, o.head, o.active),
        (c.overflow_tail, c.overflow_head, true)
    );
    assert_eq!((o.overflowed, o.activations), (c.overflowed, c.activations));
    assert_eq!(view.header().overflow_capacity, 128);
    drop((tx, rx));
}
