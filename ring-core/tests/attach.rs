//! Attach refusals: every header field, corrupted in turn, is refused with its own typed error
//! whose message names the field; restoring the field makes the same memory attach again.
//!
//! The corruption is written into the live header through `ring_core::layout::Header`'s atomics
//! and the ring is attached again through a second view of the same memory
//! (`Region::from_raw`), as a peer process would.

use ring_core::layout::{Header, BLOCK_COUNT, HEADER_LEN, MAGIC, VERSION_MAJOR};
use ring_core::{
    ClaimError, Completion, Config, Corruption, Entry, LayoutError, Mode, PopError, PushError,
    Region, Ring,
};
use std::ptr::NonNull;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::{Duration, Instant};

const CAP: u32 = 8;
/// Region length of a `u64` ring of `CAP` slots: 512 bytes of header and lines, 8 slots of 16.
const LEN: u64 = 512 + CAP as u64 * 16;
const MODES: [Mode; 4] = [Mode::Spsc, Mode::Mpsc, Mode::Spmc, Mode::Mpmc];

fn new_ring<T: Entry>(mode: Mode) -> Ring<T> {
    Ring::<T>::create_heap(Config::new(CAP).mode(mode).initial_index(u32::MAX - 2)).unwrap()
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
    let ring = new_ring::<u64>(mode);
    Ring::<u64>::attach(view(&ring)).expect("pristine ring attaches");
    let saved = snapshot(&ring);
    corrupt(header(&ring));
    let err = attach_err::<u64, u64>(&ring);
    assert_eq!(err, expected, "{mode:?}");
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
    let ring = new_ring::<u64>(Mode::Spsc);
    let h = header(&ring);
    assert_eq!(h.region_len.load(Relaxed), LEN);
    assert_eq!(ring.memory().len() as u64, LEN);
    assert_eq!(h.header_len.load(Relaxed), HEADER_LEN);
    assert_eq!(h.blocks[0].offset.load(Relaxed), 256);
    assert_eq!(h.blocks[1].offset.load(Relaxed), 384);
    assert_eq!(h.blocks[2].offset.load(Relaxed), 512);
    assert_eq!(h.blocks[2].len.load(Relaxed), LEN - 512);
    for row in &h.blocks[3..] {
        assert_eq!((row.offset.load(Relaxed), row.len.load(Relaxed)), (0, 0));
    }
    assert_eq!(ring.geometry().slots_offset, 512);
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
        let base = Region::heap(LEN as usize).unwrap();
        let addr = base.as_ptr() as usize;
        let at = move || {
            // SAFETY: `base` (heap memory of LEN bytes) outlives the scope below.
            unsafe { Region::from_raw(NonNull::new(addr as *mut u8).unwrap(), LEN as usize) }
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
            let ring = Ring::<u64>::create(at(), Config::new(CAP).mode(mode).initial_index(7));
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
    for bits in [1u64, 1 << 5, 1 << 63, u64::MAX] {
        refuse(
            Mode::Mpmc,
            |h| h.incompat.store(bits, Relaxed),
            LayoutError::UnknownIncompatFeatures { bits },
            &["incompat", &format!("{bits:#x}")],
        );
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
            h.incompat.store(2, Relaxed);
            h.ro_compat.store(4, Relaxed);
        },
        LayoutError::UnknownIncompatFeatures { bits: 2 },
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
                found: LEN - 512,
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
    for found in [LEN + 1, LEN + 4096, u64::MAX] {
        refuse(
            Mode::Mpmc,
            |h| h.region_len.store(found, Relaxed),
            LayoutError::RegionTooShort {
                needed: found,
                available: LEN,
            },
            &[&found.to_string(), &LEN.to_string()],
        );
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
                available: LEN,
            },
            &["region_len"],
        );
    }
    refuse(
        Mode::Mpmc,
        |h| h.region_len.store(LEN - 1, Relaxed),
        LayoutError::Block {
            block: "slots",
            offset: 512,
            len: LEN - 512,
        },
        &["slots"],
    );
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
    for (row, name) in names.iter().enumerate() {
        let len = if row == 2 { LEN - 512 } else { 128 };
        for offset in [
            LEN,                      // starts at the end
            LEN - 128 + 8,            // misaligned, and runs past the end
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
        for bad_len in [u64::MAX, LEN] {
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
        |h| set_row(h, 2, 384, LEN - 512),
        LayoutError::Block {
            block: "slots",
            offset: 384,
            len: LEN - 512,
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
                expected: LEN - 512,
                found: 64,
            },
        ),
        (
            2,
            LEN - 512 - 16,
            LayoutError::BlockLength {
                block: "slots",
                expected: LEN - 512,
                found: LEN - 512 - 16,
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
        (2, "slots", LEN - 512),
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
    for row in 3..BLOCK_COUNT {
        let name = match row {
            3 => "overflow",
            4 => "wait",
            _ => "reserved",
        };
        for (offset, len) in [
            (1u64 << 40, 128u64),
            (4096, 128),
            (0, 8),
            (640, 1),
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
        let raw = ring.raw();
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
                    Ok(mut tx) => match tx.push(1) {
                        Ok(()) | Err(PushError::Full(1)) | Err(PushError::Corrupt(1, _)) => {}
                        r => panic!("{mode:?}: push over tail {t:#x} head {hd:#x}: {r:?}"),
                    },
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
                r.producer().expect("consistent indices: producer");
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

    h.incompat.store(1 << 9, SeqCst);
    let err = Ring::<Completion>::attach(Region::from_fd(fd()).unwrap()).unwrap_err();
    assert_eq!(err, LayoutError::UnknownIncompatFeatures { bits: 1 << 9 });
    h.incompat.store(0, SeqCst);

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
