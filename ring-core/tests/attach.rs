//! Attach refusals: every header field, corrupted in turn, is refused with its own typed error
//! whose message names the field; restoring the field makes the same memory attach again.
//!
//! The corruption is written into the live header through `ring_core::layout::Header`'s atomics
//! and the ring is attached again through a second view of the same memory
//! (`Region::from_raw`), as a peer process would.
//!
//! Two region shapes are covered: the default `Config::new(8)` (wait block on, no overflow
//! area: slots at 512, wait block at 640, 768 bytes) and `Config::new(8).wait(false)
//! .overflow(4)` (overflow block at 640, 896 bytes), plus both together (wait block at 896).
//! In the multi-producer modes (MPSC, MPMC) each shape also has `PSLOTS` producer records
//! (layout 1.2): a block of `PROD_LEN` bytes at the end of the single-producer shape.

use ring_core::layout::{
    features, Header, BLOCK_COUNT, DEFAULT_PRODUCER_SLOTS, HEADER_LEN, LINE_LEN, MAGIC,
    MAX_PRODUCER_SLOTS, VERSION_MAJOR,
};
use ring_core::{
    ClaimError, Completion, Config, Corruption, Entry, LayoutError, Mode, PopError, PushError,
    RecoverError, Region, Ring,
};
use std::ptr::NonNull;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};

const CAP: u32 = 8;
/// Length of the slot array of a `u64` ring of `CAP` slots (8 slots of 16 bytes).
const SLOTS_LEN: u64 = CAP as u64 * 16;
/// Offset of the wait block of a default ring: right after the slots (already 128-aligned).
const WAIT_OFF: u64 = 512 + SLOTS_LEN;
/// Region length of a default single-producer `u64` ring of `CAP` slots: 512 bytes of header
/// and lines, the slots, and the 128-byte wait block. (The lengths below are single-producer
/// ones too; the multi-producer shapes add `PROD_LEN`, see [`region_len`].)
const LEN: u64 = WAIT_OFF + LINE_LEN as u64;
/// Region length of the same ring without the wait block.
const PLAIN_LEN: u64 = 512 + SLOTS_LEN;
/// Overflow slots of the overflow shapes.
const OCAP: u32 = 4;
/// Offset and length of the overflow block (its 128-byte line, then `OCAP` slots of 16).
const OVF_OFF: u64 = 512 + SLOTS_LEN;
const OVF_LEN: u64 = LINE_LEN as u64 + OCAP as u64 * 16;
/// Region length of `Config::new(CAP).wait(false).overflow(OCAP)`: the overflow block rounded
/// up to 128 bytes.
const OVF_REGION: u64 = (OVF_OFF + OVF_LEN).div_ceil(128) * 128;
/// Wait block offset and region length with both the overflow area and the wait block.
const BOTH_WAIT_OFF: u64 = OVF_REGION;
const BOTH_LEN: u64 = BOTH_WAIT_OFF + LINE_LEN as u64;
/// Producer records of the multi-producer shapes (layout 1.2; single-producer shapes have none).
const PSLOTS: u32 = 2;
/// Length of their block: the registry line and `PSLOTS` records of 128 bytes.
const PROD_LEN: u64 = LINE_LEN as u64 * (1 + PSLOTS as u64);
const MODES: [Mode; 4] = [Mode::Spsc, Mode::Mpsc, Mode::Spmc, Mode::Mpmc];

/// The default shape (wait block, no overflow area) in `mode`, with `PSLOTS` producer records
/// in the multi-producer modes, and slots with lap tags in every mode (`packed(false)`: packed
/// SPSC slots have their own tests, `packed_*`).
fn base_cfg(mode: Mode) -> Config {
    Config::new(CAP)
        .mode(mode)
        .initial_index(u32::MAX - 2)
        .producers(PSLOTS)
        .packed(false)
}

/// Region length of `cfg`'s shape without producer records: where the producer records start.
fn sp_len(cfg: Config) -> u64 {
    match (cfg.overflow_capacity != 0, cfg.wait) {
        (false, true) => LEN,
        (false, false) => PLAIN_LEN,
        (true, false) => OVF_REGION,
        (true, true) => BOTH_LEN,
    }
}

/// `(offset, len)` of the producer records row of `cfg`'s shape: at the end in the
/// multi-producer modes, absent in the others.
fn prod_row(cfg: Config) -> (u64, u64) {
    if cfg.mode.multi_producer() {
        (sp_len(cfg), PROD_LEN)
    } else {
        (0, 0)
    }
}

/// Region length of `cfg`'s shape.
fn region_len(cfg: Config) -> u64 {
    sp_len(cfg) + prod_row(cfg).1
}

/// An overflow area and no wait block.
fn ovf_cfg(mode: Mode) -> Config {
    base_cfg(mode).wait(false).overflow(OCAP)
}

/// An overflow area and the wait block.
fn both_cfg(mode: Mode) -> Config {
    base_cfg(mode).overflow(OCAP)
}

fn new_ring<T: Entry>(mode: Mode) -> Ring<T> {
    new_ring_cfg(base_cfg(mode))
}

fn new_ring_cfg<T: Entry>(cfg: Config) -> Ring<T> {
    Ring::<T>::create_heap(cfg).unwrap()
}

fn header<T: Entry>(ring: &Ring<T>) -> &Header {
    // SAFETY: the region is 4096-aligned heap memory of at least HEADER_LEN bytes that lives as
    // long as `ring`; Header is all atomics.
    unsafe { &*(ring.memory().as_ptr() as *const Header) }
}

/// A second, non-owning view of `len` bytes at `offset` into the ring's memory.
fn view_at<T: Entry>(ring: &Ring<T>, offset: usize, len: usize) -> Region {
    assert!(offset + len <= ring.memory().len());
    // SAFETY: in bounds of the ring's memory, which outlives every use in these tests; all
    // access through either view is through the ring layout's atomics.
    unsafe {
        Region::from_raw(
            NonNull::new(ring.memory().as_ptr().add(offset)).unwrap(),
            len,
        )
    }
}

fn view<T: Entry>(ring: &Ring<T>) -> Region {
    view_at(ring, 0, ring.memory().len())
}

/// Raw bytes of the header and the two lines (512 bytes), to restore after a corruption.
fn snapshot<T: Entry>(ring: &Ring<T>) -> Vec<u8> {
    let p = ring.memory().as_ptr();
    (0..512)
        // SAFETY: in bounds; no other thread touches this ring while the test runs.
        .map(|i| unsafe { p.add(i).read_volatile() })
        .collect()
}

fn restore<T: Entry>(ring: &Ring<T>, bytes: &[u8]) {
    let p = ring.memory().as_ptr();
    for (i, b) in bytes.iter().enumerate() {
        // SAFETY: in bounds; no other thread touches this ring.
        unsafe { p.add(i).write_volatile(*b) };
    }
}

fn attach_err<T: Entry, U: Entry>(ring: &Ring<T>) -> LayoutError {
    Ring::<U>::attach(view(ring)).expect_err("attach should have refused")
}

/// Corrupts one thing in a fresh `u64` ring, checks the exact refusal and that its message
/// mentions every `keywords`, then restores the bytes and checks that attach succeeds again.
#[track_caller]
fn refuse(mode: Mode, corrupt: impl FnOnce(&Header), expected: LayoutError, keywords: &[&str]) {
    refuse_in(base_cfg(mode), corrupt, expected, keywords);
}

/// As [`refuse`], for a ring of any shape.
#[track_caller]
fn refuse_in(cfg: Config, corrupt: impl FnOnce(&Header), expected: LayoutError, keywords: &[&str]) {
    let ring = new_ring_cfg::<u64>(cfg);
    Ring::<u64>::attach(view(&ring)).expect("pristine ring attaches");
    let saved = snapshot(&ring);
    corrupt(header(&ring));
    let err = attach_err::<u64, u64>(&ring);
    assert_eq!(err, expected, "{cfg:?}");
    check_display(&err, keywords);
    restore(&ring, &saved);
    Ring::<u64>::attach(view(&ring)).expect("restored ring attaches");
}

#[track_caller]
fn check_display(err: &LayoutError, keywords: &[&str]) {
    let msg = err.to_string();
    for k in keywords {
        assert!(
            msg.contains(k),
            "message {msg:?} of {err:?} does not mention {k:?}"
        );
    }
    // std::error::Error is implemented (usable with `?` into Box<dyn Error>).
    let _: &dyn std::error::Error = err;
}

/// Corruption that is accepted: attach succeeds, and `check` sees the result.
#[track_caller]
fn accept(corrupt: impl FnOnce(&Header), check: impl FnOnce(&Ring<u64>)) {
    let ring = new_ring::<u64>(Mode::Mpmc);
    corrupt(header(&ring));
    let other = Ring::<u64>::attach(view(&ring)).expect("attach should accept");
    check(&other);
}

#[test]
fn layout_constants_match_a_u64_ring() {
    /// (offset, len) of a block-table row.
    type Row = (u64, u64);
    assert_eq!(
        (LEN, PLAIN_LEN, OVF_REGION, BOTH_LEN, PROD_LEN),
        (768, 640, 896, 1024, 384)
    );
    for mode in MODES {
        let mp = mode.multi_producer();
        // (shape, single-producer region_len, incompat without records, overflow_capacity,
        // overflow row, wait row)
        let shapes: [(Config, u64, u64, u32, Row, Row); 4] = [
            (
                base_cfg(mode),
                LEN,
                features::INCOMPAT_WAIT,
                0,
                (0, 0),
                (WAIT_OFF, 128),
            ),
            (base_cfg(mode).wait(false), PLAIN_LEN, 0, 0, (0, 0), (0, 0)),
            (
                ovf_cfg(mode),
                OVF_REGION,
                features::INCOMPAT_OVERFLOW,
                OCAP,
                (OVF_OFF, OVF_LEN),
                (0, 0),
            ),
            (
                both_cfg(mode),
                BOTH_LEN,
                features::INCOMPAT_OVERFLOW | features::INCOMPAT_WAIT,
                OCAP,
                (OVF_OFF, OVF_LEN),
                (BOTH_WAIT_OFF, 128),
            ),
        ];
        for (cfg, sp, incompat, ocap, ovf_row, wait_row) in shapes {
            // Layout 1.3: the end-of-stream word always, wake-up targets with the wait block.
            let incompat = incompat
                | features::INCOMPAT_STREAM
                | if incompat & features::INCOMPAT_WAIT != 0 {
                    features::INCOMPAT_WAIT_TARGET
                } else {
                    0
                };
            // Multi-producer modes: the producer records follow, ending the region.
            let (prod_row, pslots, incompat, len) = if mp {
                (
                    (sp, PROD_LEN),
                    PSLOTS,
                    incompat | features::INCOMPAT_PRODUCERS,
                    sp + PROD_LEN,
                )
            } else {
                ((0, 0), 0, incompat, sp)
            };
            assert_eq!(region_len(cfg), len, "{cfg:?}");
            let ring = new_ring_cfg::<u64>(cfg);
            let h = header(&ring);
            assert_eq!(cfg.region_len::<u64>(), Ok(len), "{cfg:?}");
            assert_eq!(h.region_len.load(Relaxed), len, "{cfg:?}");
            assert_eq!(ring.memory().len() as u64, len, "{cfg:?}");
            assert_eq!(h.header_len.load(Relaxed), HEADER_LEN);
            assert_eq!(h.version_minor.load(Relaxed), 4);
            assert_eq!(h.incompat.load(Relaxed), incompat, "{cfg:?}");
            assert_eq!(h.compat.load(Relaxed), 0);
            assert_eq!(h.ro_compat.load(Relaxed), 0);
            assert_eq!(h.overflow_capacity.load(Relaxed), ocap, "{cfg:?}");
            assert_eq!(h.producer_slots.load(Relaxed), pslots, "{cfg:?}");
            assert_eq!(h.blocks[0].offset.load(Relaxed), 256);
            assert_eq!(h.blocks[1].offset.load(Relaxed), 384);
            assert_eq!(h.blocks[2].offset.load(Relaxed), 512);
            assert_eq!(h.blocks[2].len.load(Relaxed), SLOTS_LEN);
            let row = |i: usize| {
                (
                    h.blocks[i].offset.load(Relaxed),
                    h.blocks[i].len.load(Relaxed),
                )
            };
            assert_eq!(row(3), ovf_row, "{cfg:?}: overflow row");
            assert_eq!(row(4), wait_row, "{cfg:?}: wait row");
            assert_eq!(row(5), prod_row, "{cfg:?}: producers row");
            for i in 6..BLOCK_COUNT {
                assert_eq!(row(i), (0, 0), "{cfg:?}: reserved row {i}");
            }
            let g = ring.geometry();
            assert_eq!(g.slots_offset, 512);
            assert_eq!(g.region_len, len);
            assert_eq!(g.overflow_capacity, ocap);
            if ocap != 0 {
                assert_eq!(g.overflow_offset, OVF_OFF);
            }
            assert_eq!(
                g.wait_offset,
                (wait_row.1 != 0).then_some(wait_row.0),
                "{cfg:?}"
            );
            assert_eq!(g.producers_offset, mp.then_some(sp), "{cfg:?}");
            assert_eq!(g.producer_slots, pslots, "{cfg:?}");
            assert_eq!(ring.lines().overflow_capacity(), ocap);
            assert_eq!(ring.lines().wait_line().is_some(), cfg.wait);
            // A second view attaches to the same geometry.
            let other = Ring::<u64>::attach(view(&ring)).expect("attach");
            assert_eq!(other.geometry(), g, "{cfg:?}");
        }
    }
    // Without `Config::producers`, a multi-producer ring gets DEFAULT_PRODUCER_SLOTS records.
    for mode in [Mode::Mpsc, Mode::Mpmc] {
        let cfg = Config::new(CAP).mode(mode);
        let len = LEN + LINE_LEN as u64 * (1 + u64::from(DEFAULT_PRODUCER_SLOTS));
        assert_eq!(cfg.region_len::<u64>(), Ok(len));
        let ring = new_ring_cfg::<u64>(cfg);
        let h = header(&ring);
        assert_eq!(h.producer_slots.load(Relaxed), DEFAULT_PRODUCER_SLOTS);
        assert_eq!(
            (
                h.blocks[5].offset.load(Relaxed),
                h.blocks[5].len.load(Relaxed)
            ),
            (LEN, len - LEN)
        );
        assert_eq!(ring.geometry().producer_slots, DEFAULT_PRODUCER_SLOTS);
    }
    // The plain ring size helper leaves out every optional block.
    assert_eq!(
        ring_core::layout::region_len_for::<u64>(CAP),
        Some(PLAIN_LEN)
    );
}

#[test]
fn a_second_view_uses_the_overflow_area_and_wait_block() {
    // Attach finds the optional blocks through the table: what a second view spills into the
    // overflow area, the first view reaps in order.
    for cfg in [
        ovf_cfg(Mode::Mpsc),
        both_cfg(Mode::Spsc),
        both_cfg(Mode::Mpmc),
    ] {
        let ring = new_ring_cfg::<u64>(cfg);
        let other = Ring::<u64>::attach(view(&ring)).expect("attach");
        let mut tx = other.producer().unwrap();
        let n = u64::from(CAP + OCAP);
        for v in 0..n {
            tx.push(v).unwrap();
        }
        assert_eq!(tx.push(99), Err(PushError::Full(99)), "{cfg:?}");
        let c = ring.counters();
        assert_eq!(
            (
                c.overflowed,
                c.overflow_pending,
                c.overflow_active,
                c.full_refusals
            ),
            (u64::from(OCAP), OCAP, true, 1),
            "{cfg:?}"
        );
        let mut rx = ring.consumer().unwrap();
        let mut out = [0u64; 16];
        assert_eq!(rx.pop_into(&mut out), Ok(n as usize), "{cfg:?}");
        assert_eq!(&out[..n as usize], &(0..n).collect::<Vec<_>>()[..]);
        assert!(!other.counters().overflow_active, "{cfg:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Identity, version, features, mode
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_magic() {
    for found in [
        MAGIC ^ 1,
        MAGIC.swap_bytes(),
        u64::MAX,
        0x0000_0000_0000_0001,
    ] {
        refuse(
            Mode::Spsc,
            |h| h.magic.store(found, Relaxed),
            LayoutError::BadMagic { found },
            &["magic"],
        );
    }
}

#[test]
fn zero_magic_is_bad_magic_zero() {
    refuse(
        Mode::Mpsc,
        |h| h.magic.store(0, Relaxed),
        LayoutError::BadMagic { found: 0 },
        &["magic", "0x0000000000000000"],
    );
    // A region nobody formatted yet (zeroed memory).
    let blank = Region::heap(LEN as usize).unwrap();
    assert_eq!(
        Ring::<u64>::attach(blank).err(),
        Some(LayoutError::BadMagic { found: 0 })
    );
}

#[test]
fn attach_during_create_sees_bad_magic_zero_or_the_complete_ring() {
    // The creator writes magic last (Release); an attacher polling meanwhile sees either
    // BadMagic { found: 0 } or a ring that passes every check.
    for mode in MODES {
        let cfg = Config::new(CAP).mode(mode).initial_index(7);
        let len = cfg.region_len::<u64>().unwrap() as usize;
        let base = Region::heap(len).unwrap();
        let addr = base.as_ptr() as usize;
        let at = move || {
            // SAFETY: `base` (heap memory of `len` bytes) outlives the scope below.
            unsafe { Region::from_raw(NonNull::new(addr as *mut u8).unwrap(), len) }
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        std::thread::scope(|s| {
            let attacher = s.spawn(move || {
                let mut refusals = 0u64;
                loop {
                    match Ring::<u64>::attach_mode(at(), mode) {
                        Ok(r) => {
                            assert_eq!(r.capacity(), CAP);
                            assert_eq!(r.counters().tail, 7);
                            return refusals;
                        }
                        Err(LayoutError::BadMagic { found: 0 }) => refusals += 1,
                        Err(e) => panic!("{mode:?}: attach during create: {e:?}"),
                    }
                    assert!(Instant::now() < deadline, "{mode:?}: never attached");
                    std::hint::spin_loop();
                }
            });
            std::thread::sleep(Duration::from_millis(2));
            let ring = Ring::<u64>::create(at(), cfg);
            ring.expect("create");
            attacher.join().expect("attacher failed");
        });
        drop(base);
    }
}

#[test]
fn unsupported_major_version() {
    for (major, minor) in [
        (2, 0),
        (0, 0),
        (2, 3),
        (u32::MAX, 1),
        (VERSION_MAJOR + 1, 0),
    ] {
        refuse(
            Mode::Spsc,
            |h| {
                h.version_major.store(major, Relaxed);
                h.version_minor.store(minor, Relaxed);
            },
            LayoutError::UnsupportedVersion { major, minor },
            &["version", &format!("{major}.{minor}")],
        );
    }
}

#[test]
fn newer_minor_version_is_accepted() {
    accept(
        |h| h.version_minor.store(9, Relaxed),
        |r| assert_eq!(r.geometry().version_minor, 9),
    );
}

#[test]
fn unknown_incompat_bit() {
    // Bits 0 (overflow) and 1 (wait) are known since 1.1, bit 2 (producer records) since 1.2,
    // bits 3 (end of stream) and 4 (wake-up targets) since 1.3, bit 6 (packed slots) since
    // 1.4; bit 5 is the record ring's, which a fixed-entry reader refuses. Only the others are
    // reported, with or without known bits beside them.
    assert_eq!(features::INCOMPAT_KNOWN, 0b101_1111);
    for stored in [
        1u64 << 5,
        1 << 7,
        1 << 63,
        features::INCOMPAT_WAIT | 1 << 7,
        features::INCOMPAT_PRODUCERS | 1 << 5,
        features::INCOMPAT_KNOWN | 1 << 40,
        u64::MAX,
    ] {
        let bits = stored & !features::INCOMPAT_KNOWN;
        for cfg in [
            base_cfg(Mode::Mpmc),
            ovf_cfg(Mode::Mpmc),
            base_cfg(Mode::Spsc),
        ] {
            refuse_in(
                cfg,
                |h| h.incompat.store(stored, Relaxed),
                LayoutError::UnknownIncompatFeatures { bits },
                &["incompat", &format!("{bits:#x}")],
            );
        }
    }
}

#[test]
fn unknown_ro_compat_bit() {
    for bits in [1u64, 1 << 17, u64::MAX] {
        refuse(
            Mode::Spmc,
            |h| h.ro_compat.store(bits, Relaxed),
            LayoutError::UnknownReadOnlyFeatures { bits },
            &["ro_compat", &format!("{bits:#x}")],
        );
    }
}

#[test]
fn incompat_is_checked_before_ro_compat() {
    refuse(
        Mode::Spsc,
        |h| {
            h.incompat.store(features::INCOMPAT_WAIT | 1 << 5, Relaxed);
            h.ro_compat.store(8, Relaxed);
        },
        LayoutError::UnknownIncompatFeatures { bits: 1 << 5 },
        &["incompat"],
    );
}

#[test]
fn unknown_compat_bits_are_accepted() {
    for bits in [1u64, 1 << 40, u64::MAX] {
        accept(
            |h| h.compat.store(bits, Relaxed),
            |r| {
                assert_eq!(r.geometry().compat, bits);
                // And the ring is usable.
                r.producer().unwrap().push(5).unwrap();
                assert_eq!(r.consumer().unwrap().pop(), Ok(5));
            },
        );
    }
}

#[test]
fn undefined_mode_bits() {
    for found in [4u32, 5, 7, 1 << 31, u32::MAX] {
        refuse(
            Mode::Mpsc,
            |h| h.mode.store(found, Relaxed),
            LayoutError::Mode { found },
            &["mode", &format!("{found:#x}")],
        );
    }
}

#[test]
fn mode_mismatch_via_attach_mode() {
    for created in MODES {
        let ring = new_ring::<u64>(created);
        for wanted in MODES {
            let r = Ring::<u64>::attach_mode(view(&ring), wanted);
            if wanted == created {
                assert_eq!(r.expect("same mode attaches").mode(), created);
            } else {
                let err = r.expect_err("other mode refused");
                assert_eq!(
                    err,
                    LayoutError::ModeMismatch {
                        expected: wanted.bits(),
                        found: created.bits()
                    }
                );
                check_display(&err, &["mode"]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Geometry and entry description
// ---------------------------------------------------------------------------------------------

#[test]
fn capacity_not_a_power_of_two_in_range() {
    for found in [
        0u32,
        1,
        3,
        6,
        7,
        9,
        12,
        (1 << 31) + 1,
        u32::MAX - 1,
        u32::MAX,
    ] {
        refuse(
            Mode::Spsc,
            |h| h.capacity.store(found, Relaxed),
            LayoutError::Capacity { found },
            &["capacity", &found.to_string()],
        );
    }
}

#[test]
fn capacity_not_matching_the_slot_block() {
    // A valid power of two that disagrees with the slot block's length.
    for (cap, expected) in [(16u32, 256u64), (4, 64), (1 << 31, (1u64 << 31) * 16)] {
        refuse(
            Mode::Mpmc,
            |h| h.capacity.store(cap, Relaxed),
            LayoutError::BlockLength {
                block: "slots",
                expected,
                found: SLOTS_LEN,
            },
            &["slots", "length"],
        );
    }
}

#[test]
fn entry_format_mismatch() {
    // A Completion ring attached as u128 (same size) and a u64 ring attached as Completion.
    let ring = new_ring::<Completion>(Mode::Spsc);
    let err = attach_err::<Completion, u128>(&ring);
    assert_eq!(
        err,
        LayoutError::EntryFormat {
            expected: 0,
            found: 1
        }
    );
    check_display(&err, &["entry_format"]);
    Ring::<Completion>::attach(view(&ring)).expect("attach as its own type");

    let ring = new_ring::<u64>(Mode::Mpsc);
    let err = attach_err::<u64, Completion>(&ring);
    assert_eq!(
        err,
        LayoutError::EntryFormat {
            expected: 1,
            found: 0
        }
    );
    check_display(&err, &["entry_format"]);

    refuse(
        Mode::Spsc,
        |h| h.entry_format.store(7, Relaxed),
        LayoutError::EntryFormat {
            expected: 0,
            found: 7,
        },
        &["entry_format", "7"],
    );
}

#[test]
fn entry_size_mismatch() {
    let ring = new_ring::<u64>(Mode::Spsc);
    let err = attach_err::<u64, u32>(&ring);
    assert_eq!(
        err,
        LayoutError::EntrySize {
            expected: 4,
            found: 8
        }
    );
    check_display(&err, &["entry_size"]);
    let err = attach_err::<u64, [u64; 2]>(&ring);
    assert_eq!(
        err,
        LayoutError::EntrySize {
            expected: 16,
            found: 8
        }
    );
    // Same format, size and alignment: another plain integer type attaches.
    Ring::<i64>::attach(view(&ring)).expect("i64 over u64");

    for found in [0u32, 4, 16, u32::MAX] {
        refuse(
            Mode::Mpmc,
            |h| h.entry_size.store(found, Relaxed),
            LayoutError::EntrySize { expected: 8, found },
            &["entry_size"],
        );
    }
}

#[test]
fn entry_align_mismatch() {
    let ring = new_ring::<u64>(Mode::Spsc);
    let err = attach_err::<u64, [u32; 2]>(&ring);
    assert_eq!(
        err,
        LayoutError::EntryAlign {
            expected: 4,
            found: 8
        }
    );
    check_display(&err, &["entry_align"]);
    for found in [0u32, 4, 16, 3, 256] {
        refuse(
            Mode::Spsc,
            |h| h.entry_align.store(found, Relaxed),
            LayoutError::EntryAlign { expected: 8, found },
            &["entry_align"],
        );
    }
}

#[test]
fn slot_stride_and_payload_offset() {
    for stride in [0u32, 8, 24, 32, u32::MAX] {
        refuse(
            Mode::Mpsc,
            |h| h.slot_stride.store(stride, Relaxed),
            LayoutError::SlotLayout {
                stride: 16,
                found_stride: stride,
                found_payload_offset: 8,
            },
            &["slot_stride", "payload_offset"],
        );
    }
    for poff in [0u32, 4, 16] {
        refuse(
            Mode::Mpsc,
            |h| h.payload_offset.store(poff, Relaxed),
            LayoutError::SlotLayout {
                stride: 16,
                found_stride: 16,
                found_payload_offset: poff,
            },
            &["slot_stride", "payload_offset"],
        );
    }
}

#[test]
fn header_len_out_of_range() {
    for found in [0u32, 8, HEADER_LEN - 1, LEN as u32 + 1, u32::MAX] {
        refuse(
            Mode::Spsc,
            |h| h.header_len.store(found, Relaxed),
            LayoutError::HeaderLength { found },
            &["header_len", &found.to_string()],
        );
    }
    // Larger than 256 and within the region, but then the blocks lie inside the header.
    refuse(
        Mode::Spsc,
        |h| h.header_len.store(384, Relaxed),
        LayoutError::Block {
            block: "producer",
            offset: 256,
            len: 128,
        },
        &["producer"],
    );
}

// ---------------------------------------------------------------------------------------------
// Region length and the block table
// ---------------------------------------------------------------------------------------------

#[test]
fn region_len_larger_than_the_memory() {
    for mode in [Mode::Spsc, Mode::Mpmc] {
        let len = region_len(base_cfg(mode));
        for found in [len + 1, len + 4096, u64::MAX] {
            refuse(
                mode,
                |h| h.region_len.store(found, Relaxed),
                LayoutError::RegionTooShort {
                    needed: found,
                    available: len,
                },
                &[&found.to_string(), &len.to_string()],
            );
        }
    }
}

#[test]
fn region_len_smaller_than_the_header_or_the_blocks() {
    for found in [0u64, 255] {
        refuse(
            Mode::Mpmc,
            |h| h.region_len.store(found, Relaxed),
            LayoutError::RegionLength {
                found,
                available: region_len(base_cfg(Mode::Mpmc)),
            },
            &["region_len"],
        );
    }
    // One byte short of the last block: the wait block by default, the slots without it, the
    // overflow area when it is last, the producer records in the multi-producer modes.
    refuse(
        Mode::Spmc,
        |h| h.region_len.store(LEN - 1, Relaxed),
        LayoutError::Block {
            block: "wait",
            offset: WAIT_OFF,
            len: 128,
        },
        &["wait"],
    );
    refuse_in(
        base_cfg(Mode::Spmc).wait(false),
        |h| h.region_len.store(PLAIN_LEN - 1, Relaxed),
        LayoutError::Block {
            block: "slots",
            offset: 512,
            len: SLOTS_LEN,
        },
        &["slots"],
    );
    refuse_in(
        ovf_cfg(Mode::Spsc),
        |h| h.region_len.store(OVF_OFF + OVF_LEN - 1, Relaxed),
        LayoutError::Block {
            block: "overflow",
            offset: OVF_OFF,
            len: OVF_LEN,
        },
        &["overflow"],
    );
    // The padding after the overflow block is not needed by it.
    refuse_in(
        both_cfg(Mode::Spsc),
        |h| h.region_len.store(BOTH_LEN - 1, Relaxed),
        LayoutError::Block {
            block: "wait",
            offset: BOTH_WAIT_OFF,
            len: 128,
        },
        &["wait"],
    );
    for mode in [Mode::Mpsc, Mode::Mpmc] {
        for cfg in [
            base_cfg(mode),
            base_cfg(mode).wait(false),
            ovf_cfg(mode),
            both_cfg(mode),
        ] {
            refuse_in(
                cfg,
                |h| h.region_len.store(region_len(cfg) - 1, Relaxed),
                LayoutError::Block {
                    block: "producers",
                    offset: sp_len(cfg),
                    len: PROD_LEN,
                },
                &["producers"],
            );
        }
    }
}

#[test]
fn memory_shorter_than_the_ring() {
    let ring = new_ring::<u64>(Mode::Spsc);
    for len in [LEN as usize - 1, 512, 300, HEADER_LEN as usize] {
        let err = Ring::<u64>::attach(view_at(&ring, 0, len)).expect_err("short region");
        assert_eq!(
            err,
            LayoutError::RegionTooShort {
                needed: LEN,
                available: len as u64
            },
            "len {len}"
        );
        check_display(&err, &["too short", &LEN.to_string()]);
    }
    for len in [0usize, 1, 255] {
        let err = Ring::<u64>::attach(view_at(&ring, 0, len)).expect_err("tiny region");
        assert_eq!(
            err,
            LayoutError::RegionTooShort {
                needed: HEADER_LEN as u64,
                available: len as u64
            },
            "len {len}"
        );
    }
    // A longer memory than region_len is fine.
    let big = Region::heap(2 * LEN as usize).unwrap();
    let r = Ring::<u64>::create(big, Config::new(CAP)).unwrap();
    // SAFETY: in bounds of `r`'s memory.
    let shorter =
        unsafe { Region::from_raw(NonNull::new(r.memory().as_ptr()).unwrap(), LEN as usize) };
    Ring::<u64>::attach(shorter).expect("exactly region_len bytes suffice");
}

#[test]
fn misaligned_base() {
    let ring = new_ring::<u64>(Mode::Spsc);
    for off in [1usize, 8, 64, 127] {
        let v = view_at(&ring, off, LEN as usize - off);
        let addr = v.as_ptr() as usize;
        let err = Ring::<u64>::attach(v).expect_err("misaligned");
        assert_eq!(err, LayoutError::Misaligned { addr });
        check_display(&err, &["aligned", &format!("{addr:#x}")]);
    }
    // Creating on misaligned memory is refused the same way.
    let base = Region::heap(4096).unwrap();
    // SAFETY: in bounds of `base`, which outlives the attempt.
    let v = unsafe { Region::from_raw(NonNull::new(base.as_ptr().add(64)).unwrap(), 2048) };
    let addr = v.as_ptr() as usize;
    assert_eq!(
        Ring::<u64>::create(v, Config::new(CAP)).err(),
        Some(LayoutError::Misaligned { addr })
    );
}

/// Sets block-table row `row` to `(offset, len)`.
fn set_row(h: &Header, row: usize, offset: u64, len: u64) {
    h.blocks[row].offset.store(offset, Relaxed);
    h.blocks[row].len.store(len, Relaxed);
}

#[test]
fn block_offsets_out_of_range_misaligned_or_in_the_header() {
    let names = ["producer", "consumer", "slots"];
    let region = region_len(base_cfg(Mode::Mpmc));
    for (row, name) in names.iter().enumerate() {
        let len = if row == 2 { SLOTS_LEN } else { 128 };
        for offset in [
            region,                   // starts at the end
            region - 128 + 8,         // misaligned, and runs past the end
            4096,                     // beyond the region
            0,                        // the header itself
            128,                      // inside the header
            256 + 8 * row as u64 + 8, // misaligned
            u64::MAX - 127,           // offset + len overflows
            1 << 40,
        ] {
            refuse(
                Mode::Mpmc,
                |h| h.blocks[row].offset.store(offset, Relaxed),
                LayoutError::Block {
                    block: name,
                    offset,
                    len,
                },
                &[name, "block"],
            );
        }
        // A length that overflows or runs past region_len.
        for bad_len in [u64::MAX, region] {
            let offset = [256, 384, 512][row];
            refuse(
                Mode::Mpmc,
                |h| h.blocks[row].len.store(bad_len, Relaxed),
                LayoutError::Block {
                    block: name,
                    offset,
                    len: bad_len,
                },
                &[name],
            );
        }
    }
}

#[test]
fn overlapping_blocks() {
    // Producer moved onto the consumer line: the later row of the pair is named.
    refuse(
        Mode::Spsc,
        |h| set_row(h, 0, 384, 128),
        LayoutError::Block {
            block: "consumer",
            offset: 384,
            len: 128,
        },
        &["consumer", "overlapping"],
    );
    // Consumer moved onto the producer line.
    refuse(
        Mode::Spsc,
        |h| set_row(h, 1, 256, 128),
        LayoutError::Block {
            block: "consumer",
            offset: 256,
            len: 128,
        },
        &["consumer"],
    );
    // Slots starting on the consumer line.
    refuse(
        Mode::Spsc,
        |h| set_row(h, 2, 384, SLOTS_LEN),
        LayoutError::Block {
            block: "slots",
            offset: 384,
            len: SLOTS_LEN,
        },
        &["slots"],
    );
    // A reserved (wait) row laid over the slots.
    refuse(
        Mode::Spsc,
        |h| set_row(h, 4, 512, 128),
        LayoutError::Block {
            block: "wait",
            offset: 512,
            len: 128,
        },
        &["wait"],
    );
}

#[test]
fn block_wrong_length_or_missing() {
    let cases: [(usize, u64, LayoutError); 6] = [
        (
            0,
            64,
            LayoutError::BlockLength {
                block: "producer",
                expected: 128,
                found: 64,
            },
        ),
        (
            1,
            64,
            LayoutError::BlockLength {
                block: "consumer",
                expected: 128,
                found: 64,
            },
        ),
        (
            2,
            64,
            LayoutError::BlockLength {
                block: "slots",
                expected: SLOTS_LEN,
                found: 64,
            },
        ),
        (
            2,
            SLOTS_LEN - 16,
            LayoutError::BlockLength {
                block: "slots",
                expected: SLOTS_LEN,
                found: SLOTS_LEN - 16,
            },
        ),
        // Nonzero offset with zero length.
        (
            0,
            0,
            LayoutError::Block {
                block: "producer",
                offset: 256,
                len: 0,
            },
        ),
        (
            1,
            0,
            LayoutError::Block {
                block: "consumer",
                offset: 384,
                len: 0,
            },
        ),
    ];
    for (row, len, expected) in cases {
        refuse(
            Mode::Mpsc,
            |h| h.blocks[row].len.store(len, Relaxed),
            expected,
            &[["producer", "consumer", "slots"][row]],
        );
    }
    // A required row that is absent altogether.
    for (row, name, expected) in [
        (0, "producer", 128),
        (1, "consumer", 128),
        (2, "slots", SLOTS_LEN),
    ] {
        refuse(
            Mode::Mpsc,
            |h| set_row(h, row, 0, 0),
            LayoutError::BlockLength {
                block: name,
                expected,
                found: 0,
            },
            &[name, "length"],
        );
    }
}

#[test]
fn reserved_rows_out_of_range() {
    let region = region_len(base_cfg(Mode::Mpmc));
    for row in 3..BLOCK_COUNT {
        let name = match row {
            3 => "overflow",
            4 => "wait",
            5 => "producers",
            _ => "reserved",
        };
        for (offset, len) in [
            (1u64 << 40, 128u64),
            (4096, 128),
            (0, 8),
            (region, 1), // starts at the end
            (520, 8),
        ] {
            refuse(
                Mode::Mpmc,
                |h| set_row(h, row, offset, len),
                LayoutError::Block {
                    block: name,
                    offset,
                    len,
                },
                &[name],
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Live indices
// ---------------------------------------------------------------------------------------------

#[test]
fn inconsistent_live_indices_are_left_to_the_handles() {
    // The live indices move while a peer reads them, so attach cannot judge them (no snapshot
    // of the pair is consistent); SPSC handles check them when they start, and every operation
    // checks what it relies on.
    for mode in MODES {
        let ring = new_ring::<u64>(mode);
        let raw = ring.lines();
        let (tail, head) = (&raw.producer_line().tail, &raw.consumer_line().head);
        let h0 = head.load(SeqCst);
        for (t, hd) in [
            (h0.wrapping_add(CAP + 1), h0),
            (h0.wrapping_add(u32::MAX / 2), h0),
            (h0, h0.wrapping_add(1)), // head ahead of tail
            (0, 1 << 31),
        ] {
            tail.store(t, SeqCst);
            head.store(hd, SeqCst);
            let other = Ring::<u64>::attach_mode(view(&ring), mode)
                .expect("attach does not judge the live indices");
            if mode == Mode::Spsc {
                let c = Corruption::IndicesOutOfRange { tail: t, head: hd };
                assert_eq!(other.producer().err(), Some(ClaimError::Corrupt(c)));
                assert_eq!(other.consumer().err(), Some(ClaimError::Corrupt(c)));
            } else {
                // Lap modes rely on the lap tags; whatever the indices say, a handle either
                // starts (a single side recovers its index from the tags, and may find them
                // inconsistent) and each operation works or reports a typed refusal.
                match other.producer() {
                    Ok(mut tx) => {
                        let r = tx.push(1);
                        tx.release(); // keep the stream open for the next round
                        match r {
                            Ok(()) | Err(PushError::Full(1)) | Err(PushError::Corrupt(1, _)) => {}
                            r => panic!("{mode:?}: push over tail {t:#x} head {hd:#x}: {r:?}"),
                        }
                    }
                    Err(ClaimError::Corrupt(_)) if !mode.multi_producer() => {}
                    Err(e) => panic!("{mode:?}: producer over tail {t:#x} head {hd:#x}: {e:?}"),
                }
                match other.consumer() {
                    Ok(mut rx) => match rx.pop() {
                        Ok(1) | Err(PopError::Empty) | Err(PopError::Corrupt(_)) => {}
                        r => panic!("{mode:?}: pop over tail {t:#x} head {hd:#x}: {r:?}"),
                    },
                    Err(ClaimError::Corrupt(_)) if !mode.multi_consumer() => {}
                    Err(e) => panic!("{mode:?}: consumer over tail {t:#x} head {hd:#x}: {e:?}"),
                }
            }
        }
        // Full (tail - head == capacity) and empty are consistent, across the wrap.
        for (t, hd) in [
            (h0.wrapping_add(CAP), h0),
            (3, 3u32.wrapping_sub(CAP)),
            (5, 5),
        ] {
            tail.store(t, SeqCst);
            head.store(hd, SeqCst);
            let r = Ring::<u64>::attach(view(&ring)).expect("consistent indices");
            assert_eq!(r.len(), t.wrapping_sub(hd), "{mode:?}");
            if mode == Mode::Spsc {
                // Released, not dropped: dropping a single producer closes the stream.
                r.producer()
                    .expect("consistent indices: producer")
                    .release();
                r.consumer().expect("consistent indices: consumer");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A real second mapping (memfd)
// ---------------------------------------------------------------------------------------------

#[test]
fn memfd_second_mapping_sees_corruption_and_repair() {
    let region = Region::memfd("ring-core-attach-test", 1 << 16).unwrap();
    let ring = Ring::<Completion>::create(region, Config::new(64).mode(Mode::Mpsc)).unwrap();
    let fd = || ring.memory().fd().unwrap().try_clone_to_owned().unwrap();
    let h = header(&ring);

    let incompat = h.incompat.load(SeqCst);
    assert_eq!(
        incompat,
        features::INCOMPAT_WAIT
            | features::INCOMPAT_PRODUCERS
            | features::INCOMPAT_STREAM
            | features::INCOMPAT_WAIT_TARGET
    );
    h.incompat.store(incompat | 1 << 9, SeqCst);
    let err = Ring::<Completion>::attach(Region::from_fd(fd()).unwrap()).unwrap_err();
    assert_eq!(err, LayoutError::UnknownIncompatFeatures { bits: 1 << 9 });
    h.incompat.store(incompat, SeqCst);

    h.capacity.store(48, SeqCst);
    let err = Ring::<Completion>::attach(Region::from_fd(fd()).unwrap()).unwrap_err();
    assert_eq!(err, LayoutError::Capacity { found: 48 });
    h.capacity.store(64, SeqCst);

    let err = Ring::<u64>::attach(Region::from_fd(fd()).unwrap()).unwrap_err();
    assert_eq!(
        err,
        LayoutError::EntryFormat {
            expected: 0,
            found: 1
        }
    );

    let err =
        Ring::<Completion>::attach_mode(Region::from_fd(fd()).unwrap(), Mode::Mpmc).unwrap_err();
    assert_eq!(
        err,
        LayoutError::ModeMismatch {
            expected: 3,
            found: 1
        }
    );

    let other = Ring::<Completion>::attach_mode(Region::from_fd(fd()).unwrap(), Mode::Mpsc)
        .expect("repaired header attaches");
    ring.producer()
        .unwrap()
        .push(Completion::new(42, -5, 1))
        .unwrap();
    assert_eq!(
        other.consumer().unwrap().pop(),
        Ok(Completion::new(42, -5, 1))
    );

    // The trusted copy is private: corrupting the header after attach changes nothing for it.
    h.capacity.store(2, SeqCst);
    h.blocks[2].offset.store(1 << 40, SeqCst);
    assert_eq!(other.capacity(), 64);
    assert_eq!(other.geometry().slots_offset, 512);
    other
        .producer()
        .unwrap()
        .push_all(&[Completion::default(); 64])
        .unwrap();
    assert_eq!(ring.len(), 64);
}

// ---------------------------------------------------------------------------------------------
// Layout 1.1: the overflow area and the wait block
// ---------------------------------------------------------------------------------------------

/// The overflow-area shapes, with and without the wait block, in every mode.
fn overflow_shapes() -> Vec<Config> {
    MODES
        .iter()
        .flat_map(|&m| [ovf_cfg(m), both_cfg(m)])
        .collect()
}

/// The shapes without an overflow area: the default (wait block) and the plain ring.
fn plain_shapes() -> Vec<Config> {
    MODES
        .iter()
        .flat_map(|&m| [base_cfg(m), base_cfg(m).wait(false)])
        .collect()
}

#[test]
fn overflow_capacity_invalid_with_the_overflow_feature() {
    for cfg in overflow_shapes() {
        for found in [0u32, 1, 3, 6, 12, (1 << 31) + 1, 3 << 30, u32::MAX] {
            refuse_in(
                cfg,
                |h| h.overflow_capacity.store(found, Relaxed),
                LayoutError::OverflowCapacity { found },
                &["overflow_capacity", &found.to_string()],
            );
        }
        // A valid power of two that disagrees with the overflow block's length.
        for cap in [2u32, 8, 1 << 31] {
            refuse_in(
                cfg,
                |h| h.overflow_capacity.store(cap, Relaxed),
                LayoutError::BlockLength {
                    block: "overflow",
                    expected: 128 + u64::from(cap) * 16,
                    found: OVF_LEN,
                },
                &["overflow", "length"],
            );
        }
    }
}

/// A feature bit set on a ring without its block: refused for the zero count (`zero` naming
/// it), and, once `set_count` gives a valid count too, for the missing block (`block`,
/// `expected` bytes long).
fn feature_without_its_block(
    shapes: Vec<Config>,
    bit: u64,
    set_count: impl Fn(&Header),
    zero: (LayoutError, &str),
    block: (&'static str, u64),
) {
    for cfg in shapes {
        refuse_in(
            cfg,
            |h| {
                h.incompat.fetch_or(bit, Relaxed);
            },
            zero.0,
            &[zero.1, "0"],
        );
        // With a valid count too, the block is still missing.
        refuse_in(
            cfg,
            |h| {
                h.incompat.fetch_or(bit, Relaxed);
                set_count(h);
            },
            LayoutError::BlockLength {
                block: block.0,
                expected: block.1,
                found: 0,
            },
            &[block.0, "length", "0"],
        );
    }
}

#[test]
fn overflow_feature_without_an_overflow_area() {
    // INCOMPAT_OVERFLOW set on a ring that has none: overflow_capacity 0 is invalid.
    feature_without_its_block(
        plain_shapes(),
        features::INCOMPAT_OVERFLOW,
        |h| h.overflow_capacity.store(4, Relaxed),
        (
            LayoutError::OverflowCapacity { found: 0 },
            "overflow_capacity",
        ),
        ("overflow", OVF_LEN),
    );
}

#[test]
fn overflow_capacity_nonzero_without_the_overflow_feature() {
    for cfg in plain_shapes() {
        for found in [1u32, 2, 4, 1 << 31, u32::MAX] {
            refuse_in(
                cfg,
                |h| h.overflow_capacity.store(found, Relaxed),
                LayoutError::OverflowCapacity { found },
                &["overflow_capacity", &found.to_string()],
            );
        }
    }
    // The feature bit cleared on a ring that has an overflow area: its capacity is left over.
    for cfg in overflow_shapes() {
        refuse_in(
            cfg,
            |h| {
                h.incompat.fetch_and(!features::INCOMPAT_OVERFLOW, Relaxed);
            },
            LayoutError::OverflowCapacity { found: OCAP },
            &["overflow_capacity"],
        );
        // And with the capacity zeroed as well, the block itself is unexpected.
        refuse_in(
            cfg,
            |h| {
                h.incompat.fetch_and(!features::INCOMPAT_OVERFLOW, Relaxed);
                h.overflow_capacity.store(0, Relaxed);
            },
            LayoutError::BlockLength {
                block: "overflow",
                expected: 0,
                found: OVF_LEN,
            },
            &["overflow", "expected 0"],
        );
    }
}

#[test]
fn overflow_row_wrong_length_or_missing() {
    for cfg in overflow_shapes() {
        for found in [
            128u64,       // the line without its slots
            OVF_LEN - 16, // one slot short
            OVF_LEN + 16, // one slot too many (still inside the region)
            OVF_LEN - 1,
            OCAP as u64 * 16, // the slots without the line
        ] {
            refuse_in(
                cfg,
                |h| h.blocks[3].len.store(found, Relaxed),
                LayoutError::BlockLength {
                    block: "overflow",
                    expected: OVF_LEN,
                    found,
                },
                &["overflow", "length", &found.to_string()],
            );
        }
        // Absent altogether.
        refuse_in(
            cfg,
            |h| set_row(h, 3, 0, 0),
            LayoutError::BlockLength {
                block: "overflow",
                expected: OVF_LEN,
                found: 0,
            },
            &["overflow", "length"],
        );
        // An offset with length zero is a malformed row, not an absent one.
        refuse_in(
            cfg,
            |h| h.blocks[3].len.store(0, Relaxed),
            LayoutError::Block {
                block: "overflow",
                offset: OVF_OFF,
                len: 0,
            },
            &["overflow"],
        );
    }
}

#[test]
fn wait_row_wrong_length_missing_or_unannounced() {
    // (shape, wait offset, region length)
    for mode in MODES {
        for (cfg, off) in [(base_cfg(mode), WAIT_OFF), (both_cfg(mode), BOTH_WAIT_OFF)] {
            for found in [64u64, 127, 8] {
                refuse_in(
                    cfg,
                    |h| h.blocks[4].len.store(found, Relaxed),
                    LayoutError::BlockLength {
                        block: "wait",
                        expected: 128,
                        found,
                    },
                    &["wait", "length", &found.to_string()],
                );
            }
            // Longer than the region allows or, in the multi-producer modes, running into the
            // producer records (the later row is named).
            let expected = if mode.multi_producer() {
                let (offset, len) = prod_row(cfg);
                LayoutError::Block {
                    block: "producers",
                    offset,
                    len,
                }
            } else {
                LayoutError::Block {
                    block: "wait",
                    offset: off,
                    len: 256,
                }
            };
            refuse_in(
                cfg,
                |h| h.blocks[4].len.store(256, Relaxed),
                expected,
                &[if mode.multi_producer() {
                    "producers"
                } else {
                    "wait"
                }],
            );
            // Missing with INCOMPAT_WAIT.
            refuse_in(
                cfg,
                |h| set_row(h, 4, 0, 0),
                LayoutError::BlockLength {
                    block: "wait",
                    expected: 128,
                    found: 0,
                },
                &["wait", "length"],
            );
            refuse_in(
                cfg,
                |h| h.blocks[4].len.store(0, Relaxed),
                LayoutError::Block {
                    block: "wait",
                    offset: off,
                    len: 0,
                },
                &["wait"],
            );
            // Present without INCOMPAT_WAIT.
            refuse_in(
                cfg,
                |h| {
                    h.incompat.fetch_and(!features::INCOMPAT_WAIT, Relaxed);
                },
                LayoutError::BlockLength {
                    block: "wait",
                    expected: 0,
                    found: 128,
                },
                &["wait", "expected 0"],
            );
        }
        // INCOMPAT_WAIT announced on a ring without the block.
        for cfg in [base_cfg(mode).wait(false), ovf_cfg(mode)] {
            refuse_in(
                cfg,
                |h| {
                    h.incompat.fetch_or(features::INCOMPAT_WAIT, Relaxed);
                },
                LayoutError::BlockLength {
                    block: "wait",
                    expected: 128,
                    found: 0,
                },
                &["wait", "length"],
            );
        }
    }
}

/// Row `row` of `cfg`'s block table (`block`, at `off`, `len` long) moved out of range,
/// misaligned, into the header, or to where offset + length overflows u64, and then given a
/// length running past the region: each refused while the table is scanned, naming the row.
fn refuse_misplaced_row(cfg: Config, row: usize, block: &'static str, off: u64, len: u64) {
    let region = cfg.region_len::<u64>().unwrap();
    let bad_offsets = [
        region,           // starts at the end
        region - 128 + 8, // misaligned
        4096,             // beyond the region
        0,                // the header itself
        128,              // inside the header
        520,              // misaligned
        u64::MAX - 127,   // offset + len overflows
        1 << 40,
        // Aligned and starting inside the region, but running past its end.
        (region - len + 1).div_ceil(128) * 128,
    ];
    for offset in bad_offsets {
        refuse_in(
            cfg,
            |h| h.blocks[row].offset.store(offset, Relaxed),
            LayoutError::Block { block, offset, len },
            &[block, "block"],
        );
    }
    for bad_len in [u64::MAX, region, region - off + 1] {
        refuse_in(
            cfg,
            |h| h.blocks[row].len.store(bad_len, Relaxed),
            LayoutError::Block {
                block,
                offset: off,
                len: bad_len,
            },
            &[block],
        );
    }
}

#[test]
fn overflow_and_wait_blocks_out_of_range_or_overlapping() {
    // Out of range, misaligned, in the header, or overflowing u64: refused while the table is
    // scanned, naming the row itself.
    for mode in MODES {
        for cfg in [ovf_cfg(mode), both_cfg(mode)] {
            refuse_misplaced_row(cfg, 3, "overflow", OVF_OFF, OVF_LEN);
        }
        for (cfg, off) in [(base_cfg(mode), WAIT_OFF), (both_cfg(mode), BOTH_WAIT_OFF)] {
            refuse_misplaced_row(cfg, 4, "wait", off, 128);
        }

        // Overlaps: the later row of the pair is named, with its own offset and length.
        // The wait block moved onto the producer line, the consumer line, the slots.
        for offset in [256u64, 384, 512] {
            refuse_in(
                base_cfg(mode),
                |h| h.blocks[4].offset.store(offset, Relaxed),
                LayoutError::Block {
                    block: "wait",
                    offset,
                    len: 128,
                },
                &["wait", "overlapping"],
            );
        }
        // The overflow block moved onto the lines or the slots.
        for offset in [256u64, 384, 512] {
            refuse_in(
                ovf_cfg(mode),
                |h| h.blocks[3].offset.store(offset, Relaxed),
                LayoutError::Block {
                    block: "overflow",
                    offset,
                    len: OVF_LEN,
                },
                &["overflow"],
            );
        }
        // The wait block moved into the overflow block (its line, its slots).
        for offset in [OVF_OFF, OVF_OFF + 128] {
            refuse_in(
                both_cfg(mode),
                |h| h.blocks[4].offset.store(offset, Relaxed),
                LayoutError::Block {
                    block: "wait",
                    offset,
                    len: 128,
                },
                &["wait"],
            );
        }
        // The overflow block moved so that its slots cover the wait block: the wait row (the
        // later one) is named.
        refuse_in(
            both_cfg(mode),
            |h| h.blocks[3].offset.store(BOTH_WAIT_OFF - 128, Relaxed),
            LayoutError::Block {
                block: "wait",
                offset: BOTH_WAIT_OFF,
                len: 128,
            },
            &["wait"],
        );
        // The overflow block grown over the wait block.
        refuse_in(
            both_cfg(mode),
            |h| h.blocks[3].len.store(OVF_LEN + 128, Relaxed),
            LayoutError::Block {
                block: "wait",
                offset: BOTH_WAIT_OFF,
                len: 128,
            },
            &["wait"],
        );
        // The slots grown into the overflow block.
        refuse_in(
            ovf_cfg(mode),
            |h| h.blocks[2].len.store(SLOTS_LEN + 16, Relaxed),
            LayoutError::Block {
                block: "overflow",
                offset: OVF_OFF,
                len: OVF_LEN,
            },
            &["overflow"],
        );
        // A reserved row laid over the overflow area or the wait block.
        refuse_in(
            both_cfg(mode),
            |h| set_row(h, 6, OVF_OFF + 128, 64),
            LayoutError::Block {
                block: "reserved",
                offset: OVF_OFF + 128,
                len: 64,
            },
            &["reserved"],
        );
        refuse_in(
            base_cfg(mode),
            |h| set_row(h, 7, WAIT_OFF, 128),
            LayoutError::Block {
                block: "reserved",
                offset: WAIT_OFF,
                len: 128,
            },
            &["reserved"],
        );
    }
}

#[test]
fn attach_checks_blocks_before_the_overflow_capacity() {
    // Both wrong: the block table is checked first (spec/LAYOUT.md's order), then the
    // overflow capacity, then the block lengths.
    refuse_in(
        ovf_cfg(Mode::Mpsc),
        |h| {
            h.blocks[3].offset.store(4096, Relaxed);
            h.overflow_capacity.store(3, Relaxed);
        },
        LayoutError::Block {
            block: "overflow",
            offset: 4096,
            len: OVF_LEN,
        },
        &["overflow"],
    );
    refuse_in(
        ovf_cfg(Mode::Mpsc),
        |h| {
            h.blocks[3].len.store(128, Relaxed);
            h.overflow_capacity.store(3, Relaxed);
        },
        LayoutError::OverflowCapacity { found: 3 },
        &["overflow_capacity"],
    );
}

#[test]
fn creating_with_an_invalid_overflow_capacity_is_refused() {
    for found in [1u32, 3, 6, (1 << 31) + 1, u32::MAX] {
        let cfg = Config::new(CAP).overflow(found);
        assert_eq!(
            cfg.region_len::<u64>(),
            Err(LayoutError::OverflowCapacity { found })
        );
        let big = Region::heap(4096).unwrap();
        assert_eq!(
            Ring::<u64>::create(big, cfg).err(),
            Some(LayoutError::OverflowCapacity { found })
        );
    }
    // Too short for the optional blocks.
    for cfg in [
        base_cfg(Mode::Spsc),
        ovf_cfg(Mode::Mpsc),
        both_cfg(Mode::Mpmc),
    ] {
        let needed = cfg.region_len::<u64>().unwrap();
        let short = Region::heap(needed as usize - 1).unwrap();
        assert_eq!(
            Ring::<u64>::create(short, cfg).err(),
            Some(LayoutError::RegionTooShort {
                needed,
                available: needed - 1
            })
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Layout 1.2: the producer records
// ---------------------------------------------------------------------------------------------

/// The multi-producer shapes, which have `PSLOTS` producer records, with and without the other
/// optional blocks.
fn producer_shapes() -> Vec<Config> {
    shapes_of([Mode::Mpsc, Mode::Mpmc])
}

/// The single-producer shapes, which have none.
fn single_producer_shapes() -> Vec<Config> {
    shapes_of([Mode::Spsc, Mode::Spmc])
}

/// Every block combination (wait block or none, overflow area, both) in each of `modes`.
fn shapes_of(modes: [Mode; 2]) -> Vec<Config> {
    modes
        .iter()
        .flat_map(|&m| {
            [
                base_cfg(m),
                base_cfg(m).wait(false),
                ovf_cfg(m),
                both_cfg(m),
            ]
        })
        .collect()
}

#[test]
fn producer_slots_invalid_with_the_producers_feature() {
    for cfg in producer_shapes() {
        for found in [0u32, MAX_PRODUCER_SLOTS + 1, 1 << 31, u32::MAX] {
            refuse_in(
                cfg,
                |h| h.producer_slots.store(found, Relaxed),
                LayoutError::ProducerSlots { found },
                &["producer_slots", &found.to_string()],
            );
        }
        // A valid count that disagrees with the block's length.
        for n in [1u32, PSLOTS + 1, DEFAULT_PRODUCER_SLOTS, MAX_PRODUCER_SLOTS] {
            refuse_in(
                cfg,
                |h| h.producer_slots.store(n, Relaxed),
                LayoutError::BlockLength {
                    block: "producers",
                    expected: LINE_LEN as u64 * (1 + u64::from(n)),
                    found: PROD_LEN,
                },
                &["producers", "length", &PROD_LEN.to_string()],
            );
        }
    }
}

#[test]
fn producer_slots_nonzero_without_the_producers_feature() {
    for cfg in single_producer_shapes() {
        for found in [
            1u32,
            PSLOTS,
            DEFAULT_PRODUCER_SLOTS,
            MAX_PRODUCER_SLOTS,
            u32::MAX,
        ] {
            refuse_in(
                cfg,
                |h| h.producer_slots.store(found, Relaxed),
                LayoutError::ProducerSlots { found },
                &["producer_slots", &found.to_string()],
            );
        }
    }
    // The feature bit cleared on a ring that has records: their count is left over.
    for cfg in producer_shapes() {
        refuse_in(
            cfg,
            |h| {
                h.incompat.fetch_and(!features::INCOMPAT_PRODUCERS, Relaxed);
            },
            LayoutError::ProducerSlots { found: PSLOTS },
            &["producer_slots", &PSLOTS.to_string()],
        );
        // And with the count zeroed as well, the block itself is unexpected.
        refuse_in(
            cfg,
            |h| {
                h.incompat.fetch_and(!features::INCOMPAT_PRODUCERS, Relaxed);
                h.producer_slots.store(0, Relaxed);
            },
            LayoutError::BlockLength {
                block: "producers",
                expected: 0,
                found: PROD_LEN,
            },
            &["producers", "expected 0"],
        );
    }
}

#[test]
fn producers_feature_without_producer_records() {
    // INCOMPAT_PRODUCERS set on a ring that has none: producer_slots 0 is invalid.
    feature_without_its_block(
        single_producer_shapes(),
        features::INCOMPAT_PRODUCERS,
        |h| h.producer_slots.store(PSLOTS, Relaxed),
        (LayoutError::ProducerSlots { found: 0 }, "producer_slots"),
        ("producers", PROD_LEN),
    );
}

#[test]
fn producers_row_wrong_length_or_missing() {
    for cfg in producer_shapes() {
        let off = sp_len(cfg);
        for found in [
            8u64,
            64,
            LINE_LEN as u64,            // the registry line without the records
            PROD_LEN - LINE_LEN as u64, // one record short
            PROD_LEN - 1,
        ] {
            refuse_in(
                cfg,
                |h| h.blocks[5].len.store(found, Relaxed),
                LayoutError::BlockLength {
                    block: "producers",
                    expected: PROD_LEN,
                    found,
                },
                &["producers", "length", &found.to_string()],
            );
        }
        // One record too many: the block is last, so it runs past region_len.
        refuse_in(
            cfg,
            |h| h.blocks[5].len.store(PROD_LEN + 128, Relaxed),
            LayoutError::Block {
                block: "producers",
                offset: off,
                len: PROD_LEN + 128,
            },
            &["producers", "block"],
        );
        // Absent altogether.
        refuse_in(
            cfg,
            |h| set_row(h, 5, 0, 0),
            LayoutError::BlockLength {
                block: "producers",
                expected: PROD_LEN,
                found: 0,
            },
            &["producers", "length"],
        );
        // An offset with length zero is a malformed row, not an absent one.
        refuse_in(
            cfg,
            |h| h.blocks[5].len.store(0, Relaxed),
            LayoutError::Block {
                block: "producers",
                offset: off,
                len: 0,
            },
            &["producers"],
        );
    }
}

#[test]
fn producers_block_out_of_range_or_overlapping() {
    let producers_at = |offset: u64| LayoutError::Block {
        block: "producers",
        offset,
        len: PROD_LEN,
    };
    for cfg in producer_shapes() {
        let region = region_len(cfg);
        let off = sp_len(cfg);
        // Out of range, misaligned, in the header, or overflowing u64: refused while the table
        // is scanned, naming the row itself.
        for offset in [
            region,           // starts at the end
            region - 128 + 8, // misaligned
            4096,             // beyond the region
            0,                // the header itself
            128,              // inside the header
            off + 8,          // misaligned
            u64::MAX - 127,   // offset + len overflows
            1 << 40,
            off + 128, // aligned and starting inside the region, but running past its end
        ] {
            refuse_in(
                cfg,
                |h| h.blocks[5].offset.store(offset, Relaxed),
                producers_at(offset),
                &["producers", "block"],
            );
        }
        for bad_len in [u64::MAX, region, PROD_LEN + 1] {
            refuse_in(
                cfg,
                |h| h.blocks[5].len.store(bad_len, Relaxed),
                LayoutError::Block {
                    block: "producers",
                    offset: off,
                    len: bad_len,
                },
                &["producers"],
            );
        }

        // Overlaps: row 5 is later than every other block, so it is the one named, with its own
        // offset and length. The records moved onto the producer line, the consumer line, the
        // slots.
        for offset in [256u64, 384, 512] {
            refuse_in(
                cfg,
                |h| h.blocks[5].offset.store(offset, Relaxed),
                producers_at(offset),
                &["producers", "overlapping"],
            );
        }
        // The records moved onto the wait block, or into the overflow block.
        let mut inside = Vec::new();
        if let Some(wait) = cfg.wait.then(|| sp_len(cfg) - 128) {
            inside.push(wait);
        }
        if cfg.overflow_capacity != 0 {
            inside.extend([OVF_OFF, OVF_OFF + 128]);
        }
        for offset in inside {
            refuse_in(
                cfg,
                |h| h.blocks[5].offset.store(offset, Relaxed),
                producers_at(offset),
                &["producers", "overlapping"],
            );
        }
        // Another block moved into the records, or grown into them: still row 5 is named.
        if cfg.wait {
            for offset in [off, off + 128] {
                refuse_in(
                    cfg,
                    |h| h.blocks[4].offset.store(offset, Relaxed),
                    producers_at(off),
                    &["producers"],
                );
            }
        }
        if cfg.overflow_capacity != 0 {
            refuse_in(
                cfg,
                |h| h.blocks[3].offset.store(off, Relaxed),
                producers_at(off),
                &["producers"],
            );
        } else if !cfg.wait {
            // The slots are the block before the records: grown by one slot.
            refuse_in(
                cfg,
                |h| h.blocks[2].len.store(SLOTS_LEN + 16, Relaxed),
                producers_at(off),
                &["producers"],
            );
        }
        // A reserved row laid over the records is named itself (the later row).
        refuse_in(
            cfg,
            |h| set_row(h, 6, off + 128, 128),
            LayoutError::Block {
                block: "reserved",
                offset: off + 128,
                len: 128,
            },
            &["reserved"],
        );
    }
}

#[test]
fn attach_checks_producer_slots_after_the_table_and_before_the_lengths() {
    // spec/LAYOUT.md's order: the block table (checks 16, 17), the overflow capacity (18), the
    // producer records count (19), then the block lengths (20 to 23, the producers row last).
    let cfg = both_cfg(Mode::Mpmc);
    refuse_in(
        cfg,
        |h| {
            h.blocks[5].offset.store(4096, Relaxed);
            h.producer_slots.store(0, Relaxed);
        },
        LayoutError::Block {
            block: "producers",
            offset: 4096,
            len: PROD_LEN,
        },
        &["producers"],
    );
    refuse_in(
        cfg,
        |h| {
            h.overflow_capacity.store(3, Relaxed);
            h.producer_slots.store(0, Relaxed);
        },
        LayoutError::OverflowCapacity { found: 3 },
        &["overflow_capacity"],
    );
    refuse_in(
        cfg,
        |h| {
            h.blocks[0].len.store(64, Relaxed);
            h.blocks[5].len.store(64, Relaxed);
            h.producer_slots.store(MAX_PRODUCER_SLOTS + 1, Relaxed);
        },
        LayoutError::ProducerSlots {
            found: MAX_PRODUCER_SLOTS + 1,
        },
        &["producer_slots"],
    );
    refuse_in(
        cfg,
        |h| {
            h.blocks[4].len.store(64, Relaxed);
            h.blocks[5].len.store(64, Relaxed);
        },
        LayoutError::BlockLength {
            block: "wait",
            expected: 128,
            found: 64,
        },
        &["wait"],
    );
}

#[test]
fn creating_with_too_many_producer_records_is_refused() {
    for mode in [Mode::Mpsc, Mode::Mpmc] {
        for found in [MAX_PRODUCER_SLOTS + 1, u32::MAX] {
            let cfg = base_cfg(mode).producers(found);
            assert_eq!(
                cfg.region_len::<u64>(),
                Err(LayoutError::ProducerSlots { found })
            );
            let big = Region::heap(4096).unwrap();
            assert_eq!(
                Ring::<u64>::create(big, cfg).err(),
                Some(LayoutError::ProducerSlots { found })
            );
        }
        // The largest count is laid out and attaches.
        let cfg = base_cfg(mode).producers(MAX_PRODUCER_SLOTS);
        let len = LEN + LINE_LEN as u64 * (1 + u64::from(MAX_PRODUCER_SLOTS));
        assert_eq!(cfg.region_len::<u64>(), Ok(len));
        let ring = new_ring_cfg::<u64>(cfg);
        let other = Ring::<u64>::attach(view(&ring)).expect("attach");
        assert_eq!(other.geometry().producer_slots, MAX_PRODUCER_SLOTS);
        assert_eq!(other.geometry().producers_offset, Some(LEN));
    }
    // Single-producer modes have no records, whatever the configuration asks for.
    for mode in [Mode::Spsc, Mode::Spmc] {
        let cfg = base_cfg(mode).producers(u32::MAX);
        assert_eq!(cfg.region_len::<u64>(), Ok(LEN));
        assert_eq!(new_ring_cfg::<u64>(cfg).geometry().producer_slots, 0);
    }
}

#[test]
fn a_multi_producer_ring_without_records_is_accepted() {
    // What a 1.1 creator writes for a multi-producer ring: no INCOMPAT_PRODUCERS, 0 in the
    // header word it calls `reserved32`, row 5 absent, `version_minor = 1`, and the region
    // ending where the records would start. A 1.2 reader accepts it; its producers run without
    // records (as many as they like), and there is nothing to recover from.
    for cfg in producer_shapes() {
        let ring = new_ring_cfg::<u64>(cfg);
        let h = header(&ring);
        let len = sp_len(cfg);
        h.incompat.fetch_and(!features::INCOMPAT_PRODUCERS, Relaxed);
        h.producer_slots.store(0, Relaxed);
        set_row(h, 5, 0, 0);
        h.version_minor.store(1, Relaxed);
        h.region_len.store(len, Relaxed);
        let old = Ring::<u64>::attach_mode(view_at(&ring, 0, len as usize), cfg.mode)
            .expect("a 1.1 multi-producer ring attaches");
        let g = old.geometry();
        assert_eq!(g.version_minor, 1);
        assert_eq!((g.producers_offset, g.producer_slots), (None, 0), "{cfg:?}");
        assert_eq!(g.region_len, len);
        let mut txs: Vec<_> = (0..=PSLOTS)
            .map(|_| old.producer().expect("no record needed"))
            .collect();
        for (v, tx) in txs.iter_mut().enumerate() {
            tx.push(v as u64).unwrap();
        }
        let mut rx = old.consumer().unwrap();
        for v in 0..=u64::from(PSLOTS) {
            assert_eq!(rx.pop(), Ok(v), "{cfg:?}");
        }
        assert_eq!(old.recover(), Err(RecoverError::NoRecords), "{cfg:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Packed slots (layout 1.4, `INCOMPAT_PACKED`): SPSC rings without an overflow area.
// ---------------------------------------------------------------------------------------------

/// The default SPSC shape, packed.
fn packed_cfg() -> Config {
    Config::new(CAP).initial_index(u32::MAX - 2)
}

#[test]
fn packed_spsc_layout() {
    // (shape, wait row, region_len): u64 entries take 8 bytes a slot, the slots 64 bytes, and
    // the next block starts at the next multiple of 128.
    let slots_len = u64::from(CAP) * 8;
    for (cfg, wait_row, len) in [
        (packed_cfg(), (640, 128), 768),
        (packed_cfg().wait(false), (0, 0), 640),
    ] {
        assert!(cfg.packs());
        let ring = new_ring_cfg::<u64>(cfg);
        let h = header(&ring);
        let incompat = h.incompat.load(Relaxed);
        assert_ne!(incompat & features::INCOMPAT_PACKED, 0, "{cfg:?}");
        assert_eq!(incompat & features::INCOMPAT_OVERFLOW, 0);
        assert_eq!(h.version_minor.load(Relaxed), 4);
        assert_eq!(h.slot_stride.load(Relaxed), 8);
        assert_eq!(h.payload_offset.load(Relaxed), 0);
        assert_eq!(h.blocks[2].offset.load(Relaxed), 512);
        assert_eq!(h.blocks[2].len.load(Relaxed), slots_len);
        let wait = (
            h.blocks[4].offset.load(Relaxed),
            h.blocks[4].len.load(Relaxed),
        );
        assert_eq!(wait, wait_row, "{cfg:?}");
        assert_eq!(h.region_len.load(Relaxed), len, "{cfg:?}");
        assert_eq!(cfg.region_len::<u64>(), Ok(len));
        assert!(ring.geometry().packed);
        // The payloads lie at 512 + 8 * (pos & mask): write across the wrap, read the bytes.
        let (mut tx, mut rx) = ring.split().unwrap();
        for v in 1..=20u64 {
            tx.push(v * 0x0101).unwrap();
            let pos = (u32::MAX - 2).wrapping_add(v as u32 - 1);
            let off = 512 + 8 * (pos & (CAP - 1)) as usize;
            assert!(off + 8 <= ring.memory().len());
            // SAFETY: in bounds (checked above) and 8-aligned; the entry is published and
            // nobody writes it before the pop below.
            let found = unsafe { (ring.memory().as_ptr().add(off) as *const u64).read_volatile() };
            assert_eq!(found, v * 0x0101);
            assert_eq!(rx.pop(), Ok(v * 0x0101));
        }
    }
    // Entries of other sizes: the stride is the size rounded up to max(align, 4).
    let ring = new_ring_cfg::<ring_core::Completion>(packed_cfg());
    assert_eq!(header(&ring).slot_stride.load(Relaxed), 16);
    let ring = new_ring_cfg::<u8>(packed_cfg());
    assert_eq!(header(&ring).slot_stride.load(Relaxed), 4);
    let ring = new_ring_cfg::<[u32; 3]>(packed_cfg());
    assert_eq!(header(&ring).slot_stride.load(Relaxed), 12);
    // Never packed: other modes, an overflow area, legacy rings, or `packed(false)`.
    for cfg in [
        packed_cfg().mode(Mode::Mpsc),
        packed_cfg().mode(Mode::Spmc),
        packed_cfg().overflow(OCAP),
        packed_cfg().legacy(true),
        packed_cfg().packed(false),
    ] {
        assert!(!cfg.packs(), "{cfg:?}");
        let ring = new_ring_cfg::<u64>(cfg);
        assert_eq!(
            header(&ring).incompat.load(Relaxed) & features::INCOMPAT_PACKED,
            0
        );
        assert_eq!(header(&ring).slot_stride.load(Relaxed), 16);
        assert!(!ring.geometry().packed);
    }
}

#[test]
fn packed_slots_outside_spsc_without_overflow_are_refused() {
    use ring_core::layout::mode_bits::MULTI_PRODUCER;
    // Packed slots in a multi-producer ring, or beside an overflow area: undefined layouts.
    refuse_in(
        packed_cfg(),
        |h| h.mode.store(MULTI_PRODUCER, Relaxed),
        LayoutError::PackedSlots {
            mode: MULTI_PRODUCER,
            overflow: false,
        },
        &["INCOMPAT_PACKED", "SPSC"],
    );
    // An SPSC ring with an overflow area whose header claims packed slots, consistently
    // (packed stride, block lengths to match): refused by check 25 alone.
    refuse_in(
        ovf_cfg(Mode::Spsc),
        |h| {
            h.incompat.fetch_or(features::INCOMPAT_PACKED, Relaxed);
            h.slot_stride.store(8, Relaxed);
            h.payload_offset.store(0, Relaxed);
            h.blocks[2].len.store(u64::from(CAP) * 8, Relaxed);
            h.blocks[3].len.store(128 + u64::from(OCAP) * 8, Relaxed);
        },
        LayoutError::PackedSlots {
            mode: 0,
            overflow: true,
        },
        &["INCOMPAT_PACKED", "overflow area"],
    );
    // The stride and payload offset of a packed ring are fixed by the entry type.
    for (stride, poff) in [(16, 0), (8, 8), (16, 8), (4, 0)] {
        refuse_in(
            packed_cfg(),
            |h| {
                h.slot_stride.store(stride, Relaxed);
                h.payload_offset.store(poff, Relaxed);
            },
            LayoutError::SlotLayout {
                stride: 8,
                found_stride: stride,
                found_payload_offset: poff,
            },
            &["slot_stride"],
        );
    }
    // A ring with lap tags whose header claims packed slots: the tagged stride is refused.
    refuse_in(
        base_cfg(Mode::Spsc),
        |h| {
            h.incompat.fetch_or(features::INCOMPAT_PACKED, Relaxed);
        },
        LayoutError::SlotLayout {
            stride: 8,
            found_stride: 16,
            found_payload_offset: 8,
        },
        &["slot_stride"],
    );
    // And a packed ring whose header drops the bit: the packed stride is refused.
    refuse_in(
        packed_cfg(),
        |h| {
            h.incompat.fetch_and(!features::INCOMPAT_PACKED, Relaxed);
        },
        LayoutError::SlotLayout {
            stride: 16,
            found_stride: 8,
            found_payload_offset: 0,
        },
        &["slot_stride"],
    );
}
