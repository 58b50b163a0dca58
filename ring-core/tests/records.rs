//! The byte ring (spec/RECORDS.md): the spec tables against the code, wrap with padding,
//! BUSY/DISCARD, MPSC with threads, a hostile peer, two processes, attributes, attach checks.
//! Every loop is bounded (iteration counts or `common::DEADLINE`).

mod common;

use core::mem::{offset_of, size_of};
use ring_core::layout::OverflowLine;
use ring_core::record::attrs::{
    self, attr_id, attr_status, completion_len, parse_completion, AttrError, AttrStatus,
    AttrWriter, Known,
};
use ring_core::record::layout::{self as rl, record_type, RecordProducerLine};
use ring_core::record::{
    HandleError, ReadError, RecordConfig, RecordCorruption, RecordLayoutError, RecordRing,
    ReserveError,
};
use ring_core::{Completion, Config, LayoutError, Mode, RawRegion, Region, Ring};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Peer, Rng, DEADLINE};

// ---------------------------------------------------------------------------------------------
// Spec tables.

fn records_md() -> String {
    let path = format!("{}/../spec/RECORDS.md", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The table rows (cells, trimmed, backticks removed) after the marker line `marker`.
fn table_after(doc: &str, marker: &str) -> Vec<Vec<Vec<String>>> {
    let mut out = Vec::new();
    let lines: Vec<&str> = doc.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.trim() != marker {
            continue;
        }
        let mut rows = Vec::new();
        for l in &lines[i + 1..] {
            let l = l.trim();
            if !l.starts_with('|') {
                break;
            }
            let cells: Vec<String> = l
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().replace('`', ""))
                .collect();
            rows.push(cells);
        }
        // Header and separator rows.
        out.push(rows.into_iter().skip(2).collect());
    }
    out
}

fn num(s: &str) -> u64 {
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).unwrap_or_else(|e| panic!("{s}: {e}"))
    } else {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }
}

#[test]
fn records_spec_tables_match_code() {
    let doc = records_md();
    let code: BTreeMap<&str, u64> = [
        ("INCOMPAT_RECORDS", rl::INCOMPAT_RECORDS),
        ("RECORDS_V1", rl::RECORDS_V1.into()),
        ("INCOMPAT_RECORD_OVERFLOW", rl::INCOMPAT_RECORD_OVERFLOW),
        ("INCOMPAT_RELEASE_END", rl::INCOMPAT_RELEASE_END),
        ("OVERFLOW_ACTIVE", rl::OVERFLOW_ACTIVE),
        ("OVERFLOW_COUNT_SHIFT", rl::OVERFLOW_COUNT_SHIFT.into()),
        (
            "SPSC_OVERFLOW_PRODUCER_SLOTS",
            ring_core::record::format::SPSC_OVERFLOW_PRODUCER_SLOTS.into(),
        ),
        ("RECORD_HEADER_LEN", rl::RECORD_HEADER_LEN.into()),
        ("RECORD_ALIGN", rl::RECORD_ALIGN.into()),
        ("MIN_DATA_CAPACITY", rl::MIN_DATA_CAPACITY.into()),
        ("MAX_DATA_CAPACITY", rl::MAX_DATA_CAPACITY.into()),
        ("MAX_LEN_FIELD", rl::MAX_LEN_FIELD.into()),
        ("LEN_SHIFT", rl::LEN_SHIFT.into()),
        ("TYPE_SHIFT", rl::TYPE_SHIFT.into()),
        ("TYPE_MASK", rl::TYPE_MASK),
        ("DISCARD", rl::DISCARD),
        ("BUSY", rl::BUSY),
        ("record_type::NONE", record_type::NONE.into()),
        ("record_type::PAD", record_type::PAD.into()),
        ("record_type::DATA", record_type::DATA.into()),
        ("record_type::COMPLETION", record_type::COMPLETION.into()),
        ("record_type::USER_FIRST", record_type::USER_FIRST.into()),
        ("record_type::MAX", record_type::MAX.into()),
        ("attr_status::REQUESTED", attr_status::REQUESTED.into()),
        ("attr_status::UNSUPPORTED", attr_status::UNSUPPORTED.into()),
        ("attr_status::SUPPORTED", attr_status::SUPPORTED.into()),
        ("attr_status::HANDLED", attr_status::HANDLED.into()),
        ("attr_status::FAILED", attr_status::FAILED.into()),
        ("attr_id::DURATION_NS", attr_id::DURATION_NS.into()),
        ("attr_id::QUEUE_TIME_NS", attr_id::QUEUE_TIME_NS.into()),
        (
            "attr_id::BYTES_TRANSFERRED",
            attr_id::BYTES_TRANSFERRED.into(),
        ),
        ("attr_id::WORKER_CPU", attr_id::WORKER_CPU.into()),
        ("attr_id::CACHE_HIT", attr_id::CACHE_HIT.into()),
        ("attr_id::USER_FIRST", attr_id::USER_FIRST.into()),
    ]
    .into_iter()
    .collect();
    let mut doc_consts = BTreeMap::new();
    for table in table_after(&doc, "<!-- constants -->") {
        for row in table {
            assert!(
                doc_consts.insert(row[0].clone(), num(&row[1])).is_none(),
                "{} listed twice",
                row[0]
            );
        }
    }
    let doc_keys: Vec<&str> = doc_consts.keys().map(String::as_str).collect();
    let code_keys: Vec<&str> = code.keys().copied().collect();
    assert_eq!(doc_keys, code_keys, "constants listed in RECORDS.md");
    for (k, v) in &code {
        assert_eq!(doc_consts[*k], *v, "value of {k}");
    }

    // Layout tables.
    type Fields = Vec<(&'static str, usize, usize)>;
    let structs: Vec<(&str, usize, Fields)> = vec![
        (
            "RecordProducerLine",
            size_of::<RecordProducerLine>(),
            vec![
                ("tail", offset_of!(RecordProducerLine, tail), 8),
                ("owner", offset_of!(RecordProducerLine, owner), 4),
                ("reserved32", offset_of!(RecordProducerLine, reserved32), 4),
                (
                    "full_refusals",
                    offset_of!(RecordProducerLine, full_refusals),
                    8,
                ),
                ("discarded", offset_of!(RecordProducerLine, discarded), 8),
                ("reserved", offset_of!(RecordProducerLine, reserved), 96),
            ],
        ),
        (
            "RecordOverflowLine",
            size_of::<OverflowLine>(),
            vec![
                ("state", offset_of!(OverflowLine, state), 8),
                ("head", offset_of!(OverflowLine, head), 4),
                ("release_end", offset_of!(OverflowLine, release_end), 4),
                ("overflowed", offset_of!(OverflowLine, overflowed), 8),
                ("activations", offset_of!(OverflowLine, activations), 8),
                ("reserved", offset_of!(OverflowLine, reserved), 96),
            ],
        ),
        (
            "CompletionHead",
            size_of::<Completion>(),
            vec![
                ("user_data", offset_of!(Completion, user_data), 8),
                ("result", offset_of!(Completion, result), 4),
                ("flags", offset_of!(Completion, flags), 4),
            ],
        ),
    ];
    for (name, size, fields) in structs {
        let marker = format!("<!-- layout: {name} {size} -->");
        let tables = table_after(&doc, &marker);
        assert_eq!(tables.len(), 1, "one table marked {marker}");
        let rows: Vec<(String, usize, usize)> = tables[0]
            .iter()
            .map(|r| (r[3].clone(), num(&r[0]) as usize, num(&r[1]) as usize))
            .collect();
        let want: Vec<(String, usize, usize)> = fields
            .iter()
            .map(|(n, o, s)| (n.to_string(), *o, *s))
            .collect();
        assert_eq!(rows, want, "fields of {name}");
        let end = rows.last().map(|(_, o, s)| o + s).unwrap_or(0);
        assert_eq!(end, size, "{name} rows tile the struct");
    }

    // The record example, against the header encoding and against the bytes a ring writes.
    let marker = doc
        .lines()
        .find(|l| l.starts_with("<!-- record-example "))
        .expect("record example");
    let args: Vec<u64> = marker
        .trim_start_matches("<!-- record-example ")
        .trim_end_matches(" -->")
        .split(' ')
        .map(num)
        .collect();
    let (cap, start, a, b) = (args[0] as u32, args[1] as u32, args[2], args[3]);
    let ring = RecordRing::create_heap(RecordConfig::new(cap).initial_position(start)).unwrap();
    let mut tx = ring.producer().unwrap();
    tx.push(&vec![1u8; a as usize]).unwrap();
    tx.push(&vec![2u8; b as usize]).unwrap();
    let base = ring.memory().as_ptr();
    let data = ring.geometry().data_offset as usize;
    let rows = &table_after(&doc, marker)[0];
    assert_eq!(rows.len(), 3);
    for row in rows {
        let (pos, off, word) = (num(&row[0]) as u32, num(&row[1]) as usize, num(&row[2]));
        assert_eq!(pos & (cap - 1), off as u32, "offset of {pos:#x}");
        // SAFETY: the offset lies inside the data area of the live ring; read atomically.
        let found = unsafe { &*(base.add(data + off) as *const AtomicU64) }.load(Ordering::Acquire);
        assert_eq!(found, word, "header word at position {pos:#x}");
    }
}

// ---------------------------------------------------------------------------------------------
// Single-threaded behaviour.

fn payload(tag: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (tag.wrapping_mul(31).wrapping_add(i as u64)) as u8)
        .collect()
}

#[test]
fn wrap_with_padding_both_modes() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        // 64 bytes, positions starting 32 bytes before the 2^32 wrap.
        let ring = RecordRing::create_heap(
            RecordConfig::new(64)
                .mode(mode)
                .initial_position(0u32.wrapping_sub(32)),
        )
        .unwrap();
        assert_eq!(ring.max_record_len(), 24);
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        let mut out = Vec::new();
        let mut pads_seen = 0;
        let mut rng = Rng::new(7);
        for i in 0..2000u64 {
            let len = rng.below(25) as usize;
            let p = payload(i, len);
            let before = ring.counters().tail;
            tx.push(&p).unwrap();
            let after = ring.counters().tail;
            let used = after.wrapping_sub(before);
            let size = rl::record_size(len as u32);
            if used != size {
                // A padding record to the end of the area went first.
                assert_eq!(used - size, 64 - (before & 63), "{mode:?}: padding size");
                assert_eq!(after & 63, size & 63, "{mode:?}: record at offset 0");
                pads_seen += 1;
            }
            let info = rx.pop_into(&mut out).unwrap();
            assert_eq!(out, p, "{mode:?}: record {i}");
            assert_eq!(info.record_type, record_type::DATA);
            assert_eq!(rx.read().err(), Some(ReadError::Empty));
        }
        assert!(pads_seen > 100, "{mode:?}: padding exercised ({pads_seen})");
        let c = ring.counters();
        assert_eq!(c.tail, c.head);
    }
}

#[test]
fn fill_to_full_then_drain_in_order() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let ring = RecordRing::create_heap(RecordConfig::new(256).mode(mode)).unwrap();
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        for round in 0..50u64 {
            let mut pushed = Vec::new();
            loop {
                let p = payload(round * 100 + pushed.len() as u64, 5 + pushed.len() % 11);
                match tx.push(&p) {
                    Ok(()) => pushed.push(p),
                    Err(ReserveError::Full { needed, free }) => {
                        assert!(needed > free);
                        break;
                    }
                    Err(e) => panic!("{mode:?}: {e}"),
                }
            }
            assert!(pushed.len() >= 8);
            let mut got = Vec::new();
            let n = rx
                .read_batch(usize::MAX, usize::MAX, |r| got.push(r.to_vec()))
                .unwrap();
            assert_eq!(n, pushed.len());
            assert_eq!(got, pushed, "{mode:?}: round {round}");
        }
        assert!(ring.counters().full_refusals >= 50);
    }
}

#[test]
fn discard_and_dropped_reservation_are_skipped() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let ring = RecordRing::create_heap(RecordConfig::new(128).mode(mode)).unwrap();
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        for i in 0..500u64 {
            tx.push(&payload(i, 3)).unwrap();
            tx.reserve(9).unwrap().discard();
            {
                let mut r = tx.reserve(4).unwrap();
                r.write(0, b"lost");
                // dropped without commit: discarded
            }
            let mut r = tx.reserve(20).unwrap();
            r.write(0, b"kept");
            r.truncate(4);
            r.commit();
            let mut out = Vec::new();
            rx.pop_into(&mut out).unwrap();
            assert_eq!(out, payload(i, 3));
            rx.pop_into(&mut out).unwrap();
            assert_eq!(out, b"kept", "{mode:?}");
            assert_eq!(rx.read().err(), Some(ReadError::Empty));
        }
        assert_eq!(ring.counters().discarded, 1000);
    }
}

#[test]
fn mpsc_busy_record_holds_up_only_what_follows() {
    let ring = RecordRing::create_heap(RecordConfig::new(1024).mode(Mode::Mpsc)).unwrap();
    let (mut a, mut b) = (ring.producer().unwrap(), ring.producer().unwrap());
    let mut rx = ring.consumer().unwrap();
    b.push(b"before").unwrap();
    let mut held = a.reserve(4).unwrap();
    let pos = held.position();
    b.push(b"after").unwrap();
    assert_eq!(rx.read().unwrap().to_vec(), b"before");
    assert_eq!(rx.read().err(), Some(ReadError::Pending { position: pos }));
    // The BUSY header is what a reader sees.
    let data = ring.geometry().data_offset as usize;
    // SAFETY: the offset lies inside the live ring's data area; read atomically.
    let w =
        unsafe { &*(ring.memory().as_ptr().add(data + (pos & 1023) as usize) as *const AtomicU64) }
            .load(Ordering::Acquire);
    assert_ne!(w & rl::BUSY, 0);
    assert_eq!(rl::header_seq(w), pos);
    held.write(0, b"held");
    held.commit();
    assert_eq!(rx.read().unwrap().to_vec(), b"held");
    assert_eq!(rx.read().unwrap().to_vec(), b"after");
    assert_eq!(rx.read().err(), Some(ReadError::Empty));
}

#[test]
fn handles_claims_and_limits() {
    let ring = RecordRing::create_heap(RecordConfig::new(64)).unwrap();
    let tx = ring.producer().unwrap();
    assert!(matches!(ring.producer(), Err(HandleError::Claim(_))));
    let rx = ring.consumer().unwrap();
    assert!(matches!(ring.consumer(), Err(HandleError::Claim(_))));
    drop((tx, rx));
    let mut tx = ring.producer().unwrap();
    assert_eq!(
        tx.push(&[0; 25]).err(),
        Some(ReserveError::TooLarge { len: 25, max: 24 })
    );
    tx.push(&[0; 24]).unwrap();
    assert!(matches!(
        RecordConfig::new(48).region_len(),
        Err(RecordLayoutError::DataCapacity { found: 48 })
    ));
    assert!(matches!(
        RecordConfig::new(64).mode(Mode::Mpmc).region_len(),
        Err(RecordLayoutError::Mode { found: 3 })
    ));
    assert!(matches!(
        RecordConfig::new(64).initial_position(4).region_len(),
        Err(RecordLayoutError::InitialPosition { found: 4 })
    ));
}

#[test]
fn attach_checks() {
    let ring = RecordRing::create_heap(RecordConfig::new(1024).mode(Mode::Mpsc)).unwrap();
    let mem = ring.memory();
    // SAFETY: the view covers the live ring's bytes, used only through ring code.
    let view = unsafe { RawRegion::new(NonNull::new(mem.as_ptr()).unwrap(), mem.len()) };
    // A fixed-entry reader refuses it at check 6, naming bits 5 and 8 (an MPSC record ring
    // has `INCOMPAT_RELEASE_END`).
    assert_eq!(
        ring_core::attach::<Completion>(&view).err(),
        Some(LayoutError::UnknownIncompatFeatures { bits: 0x120 })
    );
    let again = RecordRing::attach(view).unwrap();
    assert_eq!(again.geometry(), ring.geometry());
    // A record reader refuses a fixed ring.
    let fixed = Ring::<Completion>::create_heap(Config::new(8)).unwrap();
    let fm = fixed.memory();
    // SAFETY: as above.
    let fview = unsafe { RawRegion::new(NonNull::new(fm.as_ptr()).unwrap(), fm.len()) };
    assert!(matches!(
        RecordRing::attach(fview),
        Err(RecordLayoutError::NotRecords { .. })
    ));
    // Header fields a peer rewrote.
    let base = mem.as_ptr();
    let word32 = |off: usize| {
        // SAFETY: header words of the live region, accessed atomically.
        unsafe { &*(base.add(off) as *const AtomicU32) }
    };
    type Check = fn(&RecordLayoutError) -> bool;
    let cases: [(usize, u32, Check); 4] = [
        (20, 2, |e| matches!(e, RecordLayoutError::Mode { found: 2 })),
        (48, 48, |e| {
            matches!(e, RecordLayoutError::DataCapacity { found: 48 })
        }),
        (52, 1, |e| {
            matches!(
                e,
                RecordLayoutError::Layout(LayoutError::EntryFormat {
                    expected: 2,
                    found: 1
                })
            )
        }),
        (64, 24, |e| {
            matches!(e, RecordLayoutError::Layout(LayoutError::SlotLayout { .. }))
        }),
    ];
    for (off, bad, check) in cases {
        let old = word32(off).swap(bad, Ordering::Relaxed);
        let e = RecordRing::attach(view).expect_err("refused");
        assert!(check(&e), "offset {off}: {e}");
        word32(off).store(old, Ordering::Relaxed);
    }
    let inc = word32(32);
    let old = inc.load(Ordering::Relaxed);
    assert_eq!(
        old,
        0x20 | 0x2 | 0x4 | 0x100,
        "records, wait block, producer records, release_end"
    );
    inc.store(old | 0x1, Ordering::Relaxed);
    assert_eq!(
        RecordRing::attach(view).err(),
        Some(RecordLayoutError::Features { bits: 1 })
    );
    // Without the producer-records bit, row 5 must be absent.
    inc.store(old & !0x4, Ordering::Relaxed);
    assert!(matches!(
        RecordRing::attach(view),
        Err(RecordLayoutError::Layout(LayoutError::ProducerSlots {
            found: 64
        }))
    ));
    inc.store(old, Ordering::Relaxed);
    RecordRing::attach(view).unwrap();
}

/// The 8-byte word at byte `off` of `ring`'s data area (`off` a multiple of 8 inside it).
fn data_word(ring: &RecordRing<Region>, off: u32) -> &AtomicU64 {
    let g = ring.geometry();
    assert!(
        off % 8 == 0 && off < g.capacity,
        "word {off} outside the data area"
    );
    // SAFETY: an aligned word inside the live region's data area (checked above), borrowed no
    // longer than the ring, and accessed only atomically.
    unsafe {
        &*(ring
            .memory()
            .as_ptr()
            .add(g.data_offset as usize + off as usize) as *const AtomicU64)
    }
}

#[test]
fn corrupt_positions_and_headers_are_typed_errors() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let ring = RecordRing::create_heap(RecordConfig::new(256).mode(mode)).unwrap();
        let base = ring.memory().as_ptr();
        let g = *ring.geometry();
        // SAFETY: words of the live region, accessed atomically.
        let tail = unsafe { &*(base.add(g.producer_offset as usize) as *const AtomicU64) };
        // SAFETY: as above.
        let head = unsafe { &*(base.add(g.consumer_offset as usize) as *const AtomicU32) };
        let hdr = |off: u32| data_word(&ring, off);
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        tx.push(b"0123456789").unwrap();
        // A hostile length.
        let good = hdr(0).load(Ordering::Relaxed);
        for (bad, why) in [
            (
                rl::header(0, 200, record_type::DATA, 0),
                "past the producer",
            ),
            (rl::header(0, 10, record_type::NONE, 0), "type 0"),
            (rl::header(8, 10, record_type::DATA, 0), "sequence"),
            (rl::header(0, 100, record_type::PAD, 0), "padding"),
        ] {
            hdr(0).store(bad, Ordering::Relaxed);
            match rx.read() {
                Err(ReadError::Corrupt(RecordCorruption::Header {
                    position: 0,
                    header,
                    ..
                })) => {
                    assert_eq!(header, bad, "{mode:?} {why}")
                }
                other => panic!("{mode:?} {why}: {other:?}"),
            }
        }
        hdr(0).store(good, Ordering::Relaxed);
        assert_eq!(rx.read().unwrap().to_vec(), b"0123456789");
        // A hostile producer position.
        let t = tail.load(Ordering::Relaxed);
        tail.store(t + 4096, Ordering::Relaxed);
        assert!(matches!(
            rx.read(),
            Err(ReadError::Corrupt(
                RecordCorruption::IndicesOutOfRange { .. }
            ))
        ));
        tail.store(t, Ordering::Relaxed);
        // A hostile consumer position: the producer refuses rather than overwrite.
        let h = head.load(Ordering::Relaxed);
        head.store(h.wrapping_add(1 << 20), Ordering::Relaxed);
        let mut spent = 0;
        let e = loop {
            spent += 1;
            assert!(spent < 1000, "{mode:?}: producer never refused");
            match tx.push(&[1; 20]) {
                Ok(()) => continue,
                Err(e) => break e,
            }
        };
        assert!(matches!(e, ReserveError::Corrupt(_)), "{mode:?}: {e}");
        head.store(h, Ordering::Relaxed);
    }
}

/// MC1a: with nothing validated ahead, the MPSC consumer takes a committed header at its
/// position as proof of the reservation and does not load `tail`. A header a peer forges
/// beyond `tail` is therefore delivered (wrong bytes, as any forged record), and the next load
/// of `tail` reports the consumer's position past it as corrupt (spec/RECORDS.md, section 12).
/// The SPSC consumer loads `tail` first and sees nothing.
#[test]
fn a_committed_header_forged_beyond_tail() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let ring = RecordRing::create_heap(RecordConfig::new(256).mode(mode)).unwrap();
        let hdr = |off: u32| data_word(&ring, off);
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        tx.push(b"first").unwrap();
        assert_eq!(rx.read().unwrap().to_vec(), b"first");
        // Position 16 = tail: nothing reserved there. Forge a committed 8-byte record.
        hdr(16).store(rl::header(16, 8, record_type::DATA, 0), Ordering::Relaxed);
        match mode {
            Mode::Spsc => assert!(matches!(rx.read(), Err(ReadError::Empty))),
            _ => {
                assert_eq!(
                    rx.read().unwrap().len(),
                    8,
                    "MPSC delivers the forged record"
                );
                assert!(
                    matches!(
                        rx.read(),
                        Err(ReadError::Corrupt(RecordCorruption::IndicesOutOfRange {
                            tail: 16,
                            head: 32
                        }))
                    ),
                    "the consumer's position past tail is reported"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Threads.

/// Record `seq` of producer `p`: its length and bytes are a function of both, so the consumer
/// checks every byte.
fn tagged(p: u8, seq: u32) -> Vec<u8> {
    let len = 5 + ((seq as usize * 7 + p as usize) % 60);
    let mut v = vec![0u8; len];
    v[0] = p;
    v[1..5].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in v[5..].iter_mut().enumerate() {
        *b = (seq as usize + i * 13 + p as usize) as u8;
    }
    v
}

#[test]
fn mpsc_threads_no_loss_no_duplicate_per_producer_order() {
    const PRODUCERS: u8 = 4;
    const EACH: u32 = 20_000;
    let ring = RecordRing::create_heap(
        RecordConfig::new(1024)
            .mode(Mode::Mpsc)
            .initial_position(0xffff_fe00),
    )
    .unwrap();
    let deadline = Instant::now() + DEADLINE;
    std::thread::scope(|s| {
        for p in 0..PRODUCERS {
            let ring = &ring;
            s.spawn(move || {
                let mut tx = ring.producer().unwrap();
                for seq in 0..EACH {
                    let v = tagged(p, seq);
                    loop {
                        match tx.push(&v) {
                            Ok(()) => break,
                            Err(ReserveError::Full { .. }) => std::thread::yield_now(),
                            Err(e) => panic!("producer {p}: {e}"),
                        }
                        assert!(Instant::now() < deadline, "producer {p} stuck");
                    }
                }
            });
        }
        let mut rx = ring.consumer().unwrap();
        let mut next = [0u32; PRODUCERS as usize];
        let mut got = 0u64;
        while got < u64::from(PRODUCERS) * u64::from(EACH) {
            assert!(Instant::now() < deadline, "consumer stuck after {got}");
            match rx.read_batch(64, usize::MAX, |r| {
                let b = r.to_vec();
                let p = b[0];
                let seq = u32::from_le_bytes(b[1..5].try_into().unwrap());
                assert_eq!(
                    seq, next[p as usize],
                    "producer {p}: order (no loss, no duplicate)"
                );
                assert_eq!(b, &tagged(p, seq)[..], "producer {p} record {seq}: bytes");
                next[p as usize] += 1;
            }) {
                Ok(n) => got += n as u64,
                Err(ReadError::Empty | ReadError::Pending { .. }) => std::thread::yield_now(),
                Err(e) => panic!("consumer: {e}"),
            }
        }
        assert!(next.iter().all(|&n| n == EACH));
        assert_eq!(rx.read().err(), Some(ReadError::Empty));
    });
}

#[test]
fn spsc_threads_with_reap() {
    const N: u32 = 50_000;
    let ring =
        RecordRing::create_heap(RecordConfig::new(512).initial_position(0xffff_ff00)).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let deadline = Instant::now() + DEADLINE;
    let t = std::thread::spawn(move || {
        for seq in 0..N {
            let v = tagged(1, seq);
            while tx.push(&v).is_err() {
                assert!(Instant::now() < deadline, "producer stuck");
                std::thread::yield_now();
            }
        }
    });
    let mut next = 0u32;
    while next < N {
        assert!(Instant::now() < deadline, "consumer stuck at {next}");
        rx.reap(1, 32, 4096, Some(Duration::from_millis(200)), |r| {
            assert_eq!(r.to_vec(), &tagged(1, next)[..]);
            next += 1;
        })
        .unwrap();
    }
    t.join().unwrap();
    // Nothing more arrives: reap times out with nothing.
    assert_eq!(
        rx.reap(1, 8, usize::MAX, Some(Duration::from_millis(20)), |_| {})
            .unwrap(),
        0
    );
}

// ---------------------------------------------------------------------------------------------
// A hostile peer.

/// An honest producer and consumer run while a third thread scribbles random values (and
/// plausible headers) into the data area and both positions. Every call must return (typed
/// error or data) without panicking or running out of bounds; the test is bounded by
/// iteration counts, and a watchdog fails it if a thread does not finish by the deadline.
#[test]
fn hostile_peer_scribbling_gives_typed_errors_or_data() {
    for (mode, positions) in [
        (Mode::Spsc, false),
        (Mode::Mpsc, false),
        (Mode::Spsc, true),
        (Mode::Mpsc, true),
    ] {
        let ring = Arc::new(RecordRing::create_heap(RecordConfig::new(512).mode(mode)).unwrap());
        let g = *ring.geometry();
        let base = ring.memory().as_ptr() as usize;
        // Handles first: making one checks the positions, which the scribbler then ruins.
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = std::sync::mpsc::channel::<(&str, u64, u64)>();
        let hostile = {
            let stop = stop.clone();
            let done = done_tx.clone();
            std::thread::spawn(move || {
                let mut rng = Rng::new(99);
                let word = |off: usize| {
                    // SAFETY: `off` is a multiple of 8 inside the live region; atomic access.
                    unsafe { &*((base + off) as *const AtomicU64) }
                };
                let mut writes = 0u64;
                while !stop.load(Ordering::Relaxed) && writes < 3_000_000 {
                    let r = rng.next();
                    let pick = if positions { r % 10 } else { 2 + r % 8 };
                    match pick {
                        0 => word(g.producer_offset as usize)
                            .store(rng.next() & !7, Ordering::Relaxed),
                        1 => {
                            // SAFETY: the consumer line's head word, atomically.
                            let h = unsafe {
                                &*((base + g.consumer_offset as usize) as *const AtomicU32)
                            };
                            h.store(rng.next() as u32 & !7, Ordering::Relaxed)
                        }
                        2..=5 => {
                            // A plausible header at a random record position.
                            let off = (rng.below(u64::from(g.capacity / 8)) * 8) as usize;
                            // SAFETY: the consumer line's head word, atomically.
                            let h = unsafe {
                                &*((base + g.consumer_offset as usize) as *const AtomicU32)
                            };
                            let seq = h
                                .load(Ordering::Relaxed)
                                .wrapping_add((rng.below(64) * 8) as u32);
                            let w = rl::header(
                                seq,
                                rng.below(600) as u32,
                                rng.below(64) as u8,
                                rng.next() & (rl::BUSY | rl::DISCARD),
                            );
                            word(g.data_offset as usize + off).store(w, Ordering::Relaxed)
                        }
                        _ => {
                            let off = (rng.below(u64::from(g.capacity / 8)) * 8) as usize;
                            word(g.data_offset as usize + off).store(rng.next(), Ordering::Relaxed)
                        }
                    }
                    writes += 1;
                    // Let the honest pair make progress between scribbles.
                    std::thread::sleep(Duration::from_micros(20));
                }
                let _ = done.send(("hostile", writes, 0));
            })
        };
        let producer = {
            let ring = ring.clone();
            let done = done_tx.clone();
            std::thread::spawn(move || {
                let (mut ok, mut err) = (0u64, 0u64);
                let mut rng = Rng::new(5);
                for i in 0..200_000u64 {
                    let len = rng.below(u64::from(ring.max_record_len()) + 1) as usize;
                    match tx.reserve(len) {
                        Ok(mut r) => {
                            r.write(0, &vec![i as u8; r.len()]);
                            if i % 7 == 0 {
                                r.discard();
                            } else {
                                r.commit();
                            }
                            ok += 1;
                        }
                        Err(_) => err += 1,
                    }
                }
                let _ = done.send(("producer", ok, err));
            })
        };
        let consumer = {
            let ring = ring.clone();
            let done = done_tx.clone();
            std::thread::spawn(move || {
                let _ = &ring;
                let (mut ok, mut err) = (0u64, 0u64);
                let mut sum = 0u64;
                let mut buf = Vec::new();
                for i in 0..200_000u64 {
                    if i % 3 == 0 {
                        match rx.pop_into(&mut buf) {
                            Ok(info) => {
                                assert_eq!(info.len as usize, buf.len());
                                assert!(buf.len() <= 256);
                                ok += 1;
                            }
                            Err(_) => err += 1,
                        }
                    } else {
                        match rx.read() {
                            Ok(r) => {
                                assert!(r.len() <= 256, "length {} beyond half the area", r.len());
                                sum += r.to_vec().iter().map(|&b| u64::from(b)).sum::<u64>();
                                ok += 1;
                            }
                            Err(_) => err += 1,
                        }
                    }
                }
                std::hint::black_box(sum);
                let _ = done.send(("consumer", ok, err));
            })
        };
        drop(done_tx);
        let deadline = Instant::now() + DEADLINE;
        let mut finished = Vec::new();
        while finished.len() < 2 {
            let left = deadline.saturating_duration_since(Instant::now());
            match done_rx.recv_timeout(left) {
                Ok(m) => {
                    if m.0 != "hostile" {
                        finished.push(m)
                    }
                }
                Err(e) => {
                    panic!("{mode:?}: an honest participant did not finish: {e} ({finished:?})")
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        hostile.join().expect("hostile thread");
        producer.join().expect("producer did not panic");
        consumer.join().expect("consumer did not panic");
        eprintln!("{mode:?}, positions scribbled {positions}: {finished:?}");
        for (who, ok, err) in &finished {
            assert_eq!(ok + err, 200_000, "{mode:?} {who}: every call returned");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Two processes.

#[test]
fn child() {
    let Some((role, params)) = common::child_role() else {
        return;
    };
    match role.as_str() {
        "records_produce" => {
            let region = Region::from_fd(params.fd("fd")).expect("from_fd");
            let ring = RecordRing::attach(region).expect("attach record ring");
            let p = params.num("id") as u8;
            let n = params.num("n") as u32;
            let mut tx = ring.producer().expect("producer");
            let deadline = Instant::now() + DEADLINE;
            for seq in 0..n {
                let v = tagged(p, seq);
                loop {
                    match tx.push(&v) {
                        Ok(()) => break,
                        Err(ReserveError::Full { .. }) => std::thread::yield_now(),
                        Err(e) => panic!("child producer {p}: {e}"),
                    }
                    assert!(Instant::now() < deadline && !common::orphaned(&params));
                }
            }
            common::report("pushed", n);
        }
        "records_reserve_and_hang" => {
            let region = Region::from_fd(params.fd("fd")).expect("from_fd");
            let ring = RecordRing::attach(region).expect("attach record ring");
            let mut tx = ring.producer().expect("producer");
            tx.push(b"before").expect("push");
            let start = ring.counters().tail;
            let mut r = tx.reserve(params.num("len") as usize).expect("reserve");
            r.write(0, b"never committed");
            common::report("start", start);
            common::report("position", r.position());
            // Hold the reservation until killed (or orphaned), bounded.
            let deadline = Instant::now() + DEADLINE;
            while Instant::now() < deadline && !common::orphaned(&params) {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::process::exit(3);
        }
        other => panic!("unknown child role {other}"),
    }
    common::report("done", 1);
}

#[test]
fn processes_mpsc_records_across_memfd() {
    const N: u32 = 20_000;
    let ring = RecordRing::create_memfd(
        "records-xproc",
        RecordConfig::new(4096)
            .mode(Mode::Mpsc)
            .initial_position(0xffff_f000),
    )
    .unwrap();
    let fd = ring.memory().fd().expect("memfd");
    assert!(fd.as_raw_fd() >= 0);
    let mut peers: Vec<Peer> = (0..2u8)
        .map(|p| {
            Peer::spawn_with_fds(
                "records_produce",
                &[("id", p.to_string()), ("n", N.to_string())],
                &[("fd", fd)],
            )
        })
        .collect();
    let mut rx = ring.consumer().unwrap();
    let mut next = [0u32; 2];
    let deadline = Instant::now() + DEADLINE;
    while next.iter().sum::<u32>() < 2 * N {
        if Instant::now() > deadline {
            peers[0].fail(format!("consumer stuck at {next:?}"));
        }
        match rx.read_batch(64, usize::MAX, |r| {
            let b = r.to_vec();
            let p = b[0];
            let seq = u32::from_le_bytes(b[1..5].try_into().unwrap());
            assert_eq!(seq, next[p as usize], "child {p}: order");
            assert_eq!(b, &tagged(p, seq)[..]);
            next[p as usize] += 1;
        }) {
            Ok(_) => {}
            Err(ReadError::Empty | ReadError::Pending { .. }) => std::thread::yield_now(),
            Err(e) => panic!("consumer: {e}"),
        }
    }
    for peer in &mut peers {
        let r = peer.finish();
        assert_eq!(peer.number(&r, "pushed"), u64::from(N));
    }
    assert_eq!(rx.read().err(), Some(ReadError::Empty));
}

// ---------------------------------------------------------------------------------------------
// Attributes.

#[test]
fn attributes_round_trip_through_the_ring() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let ring = RecordRing::create_heap(RecordConfig::new(1024).mode(mode)).unwrap();
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        for i in 0..300u64 {
            // Reserve generously, write fewer attributes, let `finish` truncate.
            let mut rec = tx.reserve(completion_len(&[8, 8, 8, 4, 1, 255])).unwrap();
            let mut w = AttrWriter::new(&mut rec, Completion::new(i, -(i as i32), 7)).unwrap();
            w.push_u64(attr_id::DURATION_NS, i * 1000).unwrap();
            w.push(attr_id::QUEUE_TIME_NS, attr_status::REQUESTED, &[])
                .unwrap();
            w.push(0x9000, attr_status::HANDLED, b"user value").unwrap();
            w.push_u8(attr_id::CACHE_HIT, (i % 2) as u8).unwrap();
            w.push(
                attr_id::BYTES_TRANSFERRED,
                attr_status::FAILED,
                &5i32.to_le_bytes(),
            )
            .unwrap();
            let used = w.finish();
            assert_eq!(used, completion_len(&[8, 0, 10, 1, 4]));
            rec.commit();
            tx.push(b"plain").unwrap();

            let r = rx.read().unwrap();
            assert_eq!(r.len(), used);
            let (c, list) = r.completion().unwrap();
            assert_eq!((c.user_data, c.result, c.flags), (i, -(i as i32), 7));
            let all: Vec<_> = list.iter().collect::<Result<_, _>>().unwrap();
            assert_eq!(all.len(), 5);
            assert_eq!(all[2].id, 0x9000);
            assert_eq!(all[2].value, b"user value");
            assert_eq!(all[1].status, AttrStatus::Requested);
            let known: Vec<Known> = list.known().collect::<Result<_, _>>().unwrap();
            assert_eq!(
                known,
                [
                    Known::DurationNs(i * 1000),
                    Known::NotHandled {
                        id: attr_id::QUEUE_TIME_NS,
                        status: AttrStatus::Requested
                    },
                    Known::CacheHit(i % 2 == 1),
                    Known::NotHandled {
                        id: attr_id::BYTES_TRANSFERRED,
                        status: AttrStatus::Failed
                    },
                ]
            );
            drop(r);
            let r = rx.read().unwrap();
            assert_eq!(
                r.completion().err(),
                Some(AttrError::NotCompletion {
                    record_type: record_type::DATA
                })
            );
        }
    }
}

#[test]
fn attribute_writer_limits() {
    let ring = RecordRing::create_heap(RecordConfig::new(1024)).unwrap();
    let mut tx = ring.producer().unwrap();
    let mut small = tx.reserve(8).unwrap();
    assert_eq!(
        AttrWriter::new(&mut small, Completion::new(1, 0, 0)).err(),
        Some(AttrError::NoRoom {
            needed: 16,
            left: 8
        })
    );
    drop(small);
    let mut rec = tx.reserve(completion_len(&[4])).unwrap();
    let mut w = AttrWriter::new(&mut rec, Completion::new(1, 0, 0)).unwrap();
    assert_eq!(
        w.push(0, 4, &[]).err(),
        Some(AttrError::Invalid { id: 0, status: 4 })
    );
    assert_eq!(
        w.push(9, 0, &[]).err(),
        Some(AttrError::Invalid { id: 9, status: 0 })
    );
    assert_eq!(
        w.push(9, 4, &[0; 256]).err(),
        Some(AttrError::ValueTooLong { len: 256 })
    );
    assert_eq!(
        w.push_u64(1, 5).err(),
        Some(AttrError::NoRoom {
            needed: 16,
            left: 8
        })
    );
    w.push_u32(attr_id::WORKER_CPU, 2).unwrap();
    assert_eq!(
        w.push(9, 4, &[]).err(),
        Some(AttrError::NoRoom { needed: 8, left: 0 })
    );
    assert_eq!(w.finish(), 24);
    rec.commit();
}

#[test]
fn malformed_attribute_lists_are_typed_errors() {
    let head = |extra: &[u8]| {
        let mut v = vec![0u8; 16];
        v[..8].copy_from_slice(&77u64.to_le_bytes());
        v.extend_from_slice(extra);
        v
    };
    assert!(matches!(
        parse_completion(&[0; 15]),
        Err(AttrError::Malformed { offset: 0, .. })
    ));
    let cases: [(&[u8], usize); 5] = [
        (&[1, 0, 4], 16),                              // truncated header
        (&[0, 0, 4, 0, 0, 0, 0, 0], 16),               // id 0
        (&[1, 0, 0, 0, 0, 0, 0, 0], 16),               // status 0
        (&[1, 0, 4, 8, 1, 2, 3, 4], 16),               // value runs past the end
        (&[1, 0, 4, 4, 1, 2, 3, 4, 2, 0, 4, 200], 24), // second one runs past the end
    ];
    for (extra, at) in cases {
        let buf = head(extra);
        let (c, list) = parse_completion(&buf).unwrap();
        assert_eq!(c.user_data, 77);
        let items: Vec<_> = list.collect();
        let last = items.last().expect("an item");
        assert!(
            matches!(last, Err(AttrError::Malformed { offset, .. }) if *offset == at),
            "{extra:?}: {items:?}"
        );
        assert!(items[..items.len() - 1].iter().all(Result::is_ok));
    }
    // An unknown id is skipped by `known`; a known id with a wrong-size handled value is typed.
    let buf = head(&[0x34, 0x12, 4, 2, 9, 9, 0, 0, 4, 0, 4, 2, 1, 0, 0, 0]);
    let known: Vec<_> = parse_completion(&buf).unwrap().1.known().collect();
    assert_eq!(
        known,
        [Err(AttrError::ValueLength {
            id: attr_id::WORKER_CPU,
            expected: 4,
            found: 2
        })]
    );
    // Random bytes never panic and always end.
    let mut rng = Rng::new(3);
    for _ in 0..20_000 {
        let len = 16 + rng.below(64) as usize;
        let buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let (_, list) = parse_completion(&buf).unwrap();
        assert!(list.clone().count() <= (len - 16) / 8 + 1);
        let _ = list.known().count();
    }
    let _ = attrs::attr_size(0);
}

/// `known()` decodes the common attributes from whole words (a fast path); it must give exactly
/// what decoding each attribute of the walk gives, for every well-known id (and its
/// neighbours), status and value length around the defined ones, at the end of the list or
/// followed by another attribute, and for random lists.
#[test]
fn known_agrees_with_decoding_each_attribute() {
    fn by_attr(list: &[u8]) -> Vec<Result<Known, AttrError>> {
        let (_, attrs) = parse_completion(list).unwrap();
        attrs
            .filter_map(|a| match a {
                Ok(a) => a.known(),
                Err(e) => Some(Err(e)),
            })
            .collect()
    }
    let check = |buf: &[u8]| {
        let (_, attrs) = parse_completion(buf).unwrap();
        assert_eq!(attrs.known().collect::<Vec<_>>(), by_attr(buf), "{buf:?}");
    };
    for id in 0..8u16 {
        for status in 0..7u8 {
            for vlen in 0..=12u8 {
                for cut in 0..=4 {
                    let mut buf = vec![0u8; 16];
                    buf.extend_from_slice(&id.to_le_bytes());
                    buf.extend_from_slice(&[status, vlen]);
                    buf.extend((0..vlen).map(|i| 0xa0 + i));
                    buf.resize(16 + attrs::attr_size(vlen as usize), 0);
                    // A second attribute (worker CPU 9) after the first.
                    buf.extend_from_slice(&[4, 0, attr_status::HANDLED, 4, 9, 0, 0, 0]);
                    // Cut the list short by 0, 4, 8, 12 or 16 bytes (a truncated list).
                    let keep = buf.len().saturating_sub(cut * 4).max(16);
                    check(&buf[..keep]);
                }
            }
        }
    }
    let mut rng = Rng::new(11);
    for _ in 0..20_000 {
        let len = 16 + rng.below(64) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Mostly plausible headers: small ids, handled, small lengths.
        for at in (16..len.saturating_sub(4)).step_by(8) {
            if rng.below(4) != 0 {
                buf[at] = rng.below(7) as u8;
                buf[at + 1] = 0;
                buf[at + 2] = if rng.below(4) == 0 {
                    rng.below(7) as u8
                } else {
                    4
                };
                buf[at + 3] = [0, 1, 4, 8, 9][rng.below(5) as usize];
            }
        }
        check(&buf);
    }
}

/// Many short lives: fill a ring with honest records, let a hostile peer rewrite a few words
/// (plausible or random headers, either position), then run a mix of honest calls. Each call
/// returns data within bounds or a typed error; nothing panics; every loop is counted.
#[test]
fn hostile_states_sequential() {
    let mut rng = Rng::new(2024);
    let (mut reads, mut errors, mut pushes) = (0u64, 0u64, 0u64);
    for round in 0..6000u32 {
        let mode = if round % 2 == 0 {
            Mode::Spsc
        } else {
            Mode::Mpsc
        };
        let start = (rng.next() as u32) & !7;
        let ring =
            RecordRing::create_heap(RecordConfig::new(256).mode(mode).initial_position(start))
                .unwrap();
        let g = *ring.geometry();
        let base = ring.memory().as_ptr() as usize;
        let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
        for i in 0..rng.below(12) {
            let _ = tx.push(&payload(i, rng.below(60) as usize));
        }
        for _ in 0..rng.below(3) + 1 {
            let word = |off: usize| {
                // SAFETY: a multiple of 8 inside the live region; atomic access.
                unsafe { &*((base + off) as *const AtomicU64) }
            };
            let c = ring.counters();
            match rng.below(6) {
                0 => word(g.producer_offset as usize).store(
                    u64::from(c.tail.wrapping_add((rng.below(80) as u32).wrapping_sub(40))),
                    Ordering::Relaxed,
                ),
                1 => {
                    // SAFETY: the consumer line's head word, atomically.
                    let h = unsafe { &*((base + g.consumer_offset as usize) as *const AtomicU32) };
                    h.store(
                        c.head.wrapping_add((rng.below(80) as u32).wrapping_sub(40)),
                        Ordering::Relaxed,
                    )
                }
                2 | 3 => {
                    let off = (rng.below(32) * 8) as u32;
                    let seq = c.head.wrapping_add((rng.below(16) * 8) as u32);
                    let w = rl::header(
                        seq,
                        rng.below(300) as u32,
                        rng.below(64) as u8,
                        rng.next() & (rl::BUSY | rl::DISCARD),
                    );
                    word(g.data_offset as usize + off as usize).store(w, Ordering::Relaxed)
                }
                _ => {
                    let off = (rng.below(32) * 8) as usize;
                    word(g.data_offset as usize + off).store(rng.next(), Ordering::Relaxed)
                }
            }
        }
        let mut buf = Vec::new();
        for _ in 0..40 {
            match rng.below(5) {
                4 => {
                    // Recovery over scribbled state must return (it may discard a forged BUSY
                    // record that no live producer's intent covers: the peer could do that).
                    let _ = ring.recover();
                }
                0 => match rx.read() {
                    Ok(r) => {
                        assert!(r.len() <= 120);
                        let _ = r.to_vec().iter().fold(0u8, |a, &b| a ^ b);
                        let _ = r.completion();
                        reads += 1;
                    }
                    Err(_) => errors += 1,
                },
                1 => match rx.read_batch(4, 64, |r| assert!(r.len() <= 120)) {
                    Ok(n) => reads += n as u64,
                    Err(_) => errors += 1,
                },
                2 => match rx.pop_into(&mut buf) {
                    Ok(_) => reads += 1,
                    Err(_) => errors += 1,
                },
                _ => match tx.push(&payload(7, rng.below(100) as usize)) {
                    Ok(()) => pushes += 1,
                    Err(_) => errors += 1,
                },
            }
        }
    }
    eprintln!("sequential hostile: {reads} records read, {pushes} pushed, {errors} typed errors");
    assert!(reads > 0 && errors > 0 && pushes > 0);
}

// ---------------------------------------------------------------------------------------------
// Dead producers.

#[test]
fn recovery_leaves_live_producers_alone() {
    let ring = RecordRing::create_heap(RecordConfig::new(256).mode(Mode::Mpsc)).unwrap();
    let (mut a, mut b) = (ring.producer().unwrap(), ring.producer().unwrap());
    let mut rx = ring.consumer().unwrap();
    let mut held = a.reserve(10).unwrap();
    b.push(b"behind").unwrap();
    assert!(matches!(rx.read(), Err(ReadError::Pending { .. })));
    let r = ring.recover().unwrap();
    assert_eq!(
        (r.positions, r.records),
        (0, 0),
        "a live producer's record is left alone"
    );
    assert!(matches!(rx.read(), Err(ReadError::Pending { .. })));
    held.write(0, b"0123456789");
    held.commit();
    assert_eq!(rx.read().unwrap().to_vec(), b"0123456789");
    assert_eq!(rx.read().unwrap().to_vec(), b"behind");
    // SPSC rings have no producer records.
    let spsc = RecordRing::create_heap(RecordConfig::new(64)).unwrap();
    assert_eq!(
        spsc.recover().err(),
        Some(ring_core::RecoverError::NoRecords)
    );
}

/// A child process reserves a record and is killed before committing it. `zero` rewrites the
/// headers it had written (its padding record and its BUSY header) to zero, as if it had died
/// between its compare-and-swap and its first header store. Recovery commits the record as
/// discarded (and the padding record), the consumer passes it, and the dead producer's record
/// is freed.
fn recover_killed_producer(zero: bool, len: u64) {
    let cfg = RecordConfig::new(256)
        .mode(Mode::Mpsc)
        .initial_position(256 - 48)
        .producers(2);
    let ring = RecordRing::create_memfd("records-kill", cfg).unwrap();
    let fd = ring.memory().fd().expect("memfd");
    let mut peer = Peer::spawn_with_fds(
        "records_reserve_and_hang",
        &[("len", len.to_string())],
        &[("fd", fd)],
    );
    let start = peer.expect("start").parse::<u32>().unwrap();
    let pos = peer.expect("position").parse::<u32>().unwrap();
    let mut rx = ring.consumer().unwrap();
    assert_eq!(rx.read().unwrap().to_vec(), b"before");
    if zero {
        peer.child.kill().unwrap();
        peer.status = Some(peer.child.wait().unwrap());
        let data = ring.geometry().data_offset as usize;
        for p in [start, pos] {
            // SAFETY: a header word inside the live ring's data area, written atomically.
            unsafe {
                &*(ring.memory().as_ptr().add(data + (p & 255) as usize) as *const AtomicU64)
            }
            .store(0, Ordering::Release);
        }
        // Nothing written at the reservation's start: pending there.
        assert_eq!(
            rx.read().err(),
            Some(ReadError::Pending { position: start })
        );
    } else {
        // The padding record (if any) was committed at once; the record itself is pending.
        assert_eq!(rx.read().err(), Some(ReadError::Pending { position: pos }));
        // Alive: nothing to recover.
        assert_eq!(ring.recover().unwrap().positions, 0);
        peer.child.kill().unwrap();
        peer.status = Some(peer.child.wait().unwrap());
    }
    // Another producer (a record of 2 is free) commits behind the dead one's record.
    let mut tx = ring.producer().unwrap();
    tx.push(b"after").unwrap();
    assert!(matches!(rx.read(), Err(ReadError::Pending { .. })));
    let r = ring.recover().unwrap();
    assert_eq!((r.positions, r.records), (1, 1), "zero {zero}, len {len}");
    assert_eq!(
        rx.read().unwrap().to_vec(),
        b"after",
        "zero {zero}, len {len}"
    );
    assert_eq!(rx.read().err(), Some(ReadError::Empty));
    assert_eq!(ring.counters().discarded, 1);
    // The ring goes on across the wrap.
    for i in 0..100u64 {
        tx.push(&payload(i, 30)).unwrap();
        assert_eq!(rx.read().unwrap().to_vec(), &payload(i, 30)[..]);
    }
}

#[test]
fn recovery_of_a_killed_producer_busy_record() {
    recover_killed_producer(false, 20);
}

#[test]
fn recovery_of_a_killed_producer_unwritten_headers() {
    recover_killed_producer(true, 20);
}

#[test]
fn recovery_of_a_killed_producer_across_the_end() {
    // 40 bytes from offset 224 cross the end: a padding record, then the record at offset 0.
    recover_killed_producer(false, 40);
    recover_killed_producer(true, 40);
}

// ---------------------------------------------------------------------------------------------
// A reader written from the spec alone, in C.

/// Producer `p`'s record `seq` as spec/reader/records_reader.c expects it.
fn write_c_pattern(tx: &mut ring_core::record::RecordProducer, p: u32, seq: u32) -> bool {
    let user = (seq % 5) as usize;
    let Ok(mut rec) = tx.reserve(completion_len(&[8, 4, user])) else {
        return false;
    };
    let c = Completion::new(u64::from(p) << 32 | u64::from(seq), seq as i32, p);
    let mut w = AttrWriter::new(&mut rec, c).unwrap();
    w.push_u64(attr_id::DURATION_NS, u64::from(seq) * 3)
        .unwrap();
    let value: Vec<u8> = (0..user as u32).map(|i| (seq + i) as u8).collect();
    // The user attribute goes between the two well-known ones: the reader must skip it.
    w.push(0x8001, attr_status::HANDLED, &value).unwrap();
    w.push_u32(attr_id::WORKER_CPU, p).unwrap();
    w.finish();
    rec.commit();
    true
}

/// Compiles the C reader into an executable of its own (`tag` keeps tests running in parallel
/// apart: each removes its executable at the end).
fn compile_c_reader(tag: &str) -> Option<std::path::PathBuf> {
    if std::process::Command::new("gcc")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("gcc not found: the C reader test does not run");
        return None;
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("records-reader");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join(format!("records_reader.{tag}.{}", std::process::id()));
    let src = format!(
        "{}/../spec/reader/records_reader.c",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = std::process::Command::new("gcc")
        .args([
            "-std=c11",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-o",
        ])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gcc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(exe)
}

/// Runs spec/reader/records_reader.c in its own process as the consumer of `ring` (under
/// /dev/shm as `name`) while `producers` threads of this process write `each` records of the
/// pattern apiece; each producer writes its first `prefill` records before the reader starts.
/// Returns the reader's standard output, after asserting that it succeeded.
fn run_c_reader(
    exe: &std::path::Path,
    name: &str,
    ring: &RecordRing<Region>,
    producers: u32,
    each: u32,
    prefill: u32,
) -> String {
    let deadline = Instant::now() + DEADLINE;
    let mut txs = Vec::new();
    for p in 0..producers {
        let mut tx = ring.producer().unwrap();
        for seq in 0..prefill {
            assert!(
                write_c_pattern(&mut tx, p, seq),
                "prefill: producer {p} refused at {seq}"
            );
        }
        txs.push(tx);
    }
    let mut child = std::process::Command::new(exe)
        .args([
            name,
            &(each * producers).to_string(),
            &producers.to_string(),
            "--timeout=60",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::scope(|s| {
        for (p, mut tx) in (0..producers).zip(txs) {
            s.spawn(move || {
                for seq in prefill..each {
                    while !write_c_pattern(&mut tx, p, seq) {
                        assert!(Instant::now() < deadline, "producer {p} stuck at {seq}");
                        std::thread::yield_now();
                    }
                }
            });
        }
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name}: the C reader did not finish");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.success(),
        "{name}: reader failed: {stdout}\n{stderr}"
    );
    stdout
}

#[test]
fn c_reader_consumes_records_across_processes() {
    let Some(exe) = compile_c_reader("plain") else {
        return;
    };
    for (mode, producers) in [(Mode::Spsc, 1u32), (Mode::Mpsc, 2)] {
        const EACH: u32 = 30_000;
        let name = common::unique_name(&format!("records-c-{mode:?}"));
        let cfg = RecordConfig::new(2048)
            .mode(mode)
            .initial_position(0u32.wrapping_sub(1024));
        let region = Region::shm_create(&name, cfg.region_len().unwrap() as usize, 0o600).unwrap();
        let ring = RecordRing::create(region, cfg).unwrap();
        let stdout = run_c_reader(&exe, &name, &ring, producers, EACH, 0);
        let c = ring.counters();
        let mut want = format!("records {} head {}", EACH * producers, c.tail);
        for p in 0..producers {
            want.push_str(&format!(" p{p}={EACH}"));
        }
        assert_eq!(stdout, want, "{mode:?}");
        assert_eq!(c.head, c.tail);
    }
    // The reader is not blind: a record with a wrong attribute value is reported.
    let name = common::unique_name("records-c-wrong");
    let cfg = RecordConfig::new(256);
    let region = Region::shm_create(&name, cfg.region_len().unwrap() as usize, 0o600).unwrap();
    let ring = RecordRing::create(region, cfg).unwrap();
    let mut tx = ring.producer().unwrap();
    let mut rec = tx.reserve(completion_len(&[8, 4])).unwrap();
    let mut w = AttrWriter::new(&mut rec, Completion::new(0, 0, 0)).unwrap();
    w.push_u64(attr_id::DURATION_NS, 1).unwrap(); // 0 * 3 expected
    w.push_u32(attr_id::WORKER_CPU, 0).unwrap();
    w.finish();
    rec.commit();
    let out = std::process::Command::new(&exe)
        .args([name.as_str(), "1", "1", "--timeout=10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let _ = std::fs::remove_file(&exe);
}

/// The C reader drains a record ring with an overflow area (spec/RECORDS.md, section 13)
/// that a Rust producer spills into: each producer's first records are written before the
/// reader starts, so the data area fills and they spill for certain; the rest race the reader.
/// Every record arrives once and in per-producer order (the reader checks the order and the
/// bytes), the reader delivered from the overflow area exactly the records committed there,
/// and it left the area drained and inactive (RO7).
#[test]
fn c_reader_drains_the_overflow_area_across_processes() {
    let Some(exe) = compile_c_reader("overflow") else {
        return;
    };
    // Records of the pattern are 56 bytes: a 512-byte data area holds 9 of them.
    const PREFILL: u32 = 20;
    for (mode, producers) in [(Mode::Spsc, 1u32), (Mode::Mpsc, 2)] {
        const EACH: u32 = 20_000;
        let name = common::unique_name(&format!("records-c-ovf-{mode:?}"));
        let cfg = RecordConfig::new(512)
            .mode(mode)
            .overflow(4096)
            .initial_position(0u32.wrapping_sub(256));
        let region = Region::shm_create(&name, cfg.region_len().unwrap() as usize, 0o600).unwrap();
        let ring = RecordRing::create(region, cfg).unwrap();
        let stdout = run_c_reader(&exe, &name, &ring, producers, EACH, PREFILL);
        let c = ring.counters();
        assert!(
            c.overflowed >= u64::from(producers * PREFILL - 9),
            "{mode:?}: {c:?}"
        );
        assert!(c.activations >= 1, "{mode:?}: {c:?}");
        let mut want = format!("records {} head {}", EACH * producers, c.tail);
        for p in 0..producers {
            want.push_str(&format!(" p{p}={EACH}"));
        }
        want.push_str(&format!(
            " overflow {} ohead {}",
            c.overflowed, c.overflow_tail
        ));
        assert_eq!(stdout, want, "{mode:?}: {c:?}");
        assert_eq!(c.head, c.tail, "{mode:?}");
        assert_eq!(c.overflow_head, c.overflow_tail, "{mode:?}");
        assert!(
            !c.overflow_active,
            "{mode:?}: the reader left the area active"
        );
        // Inactive again: the next record goes to the data area.
        let mut tx = ring.producer().unwrap();
        tx.push(&[1, 2, 3]).unwrap();
        let after = ring.counters();
        assert_eq!(after.overflow_tail, c.overflow_tail, "{mode:?}");
        assert_ne!(after.tail, c.tail, "{mode:?}");
    }
    // The reader checks the records it takes from the overflow area too: a spilled record with
    // a wrong attribute value is reported.
    let name = common::unique_name("records-c-ovf-wrong");
    let cfg = RecordConfig::new(512).overflow(4096);
    let region = Region::shm_create(&name, cfg.region_len().unwrap() as usize, 0o600).unwrap();
    let ring = RecordRing::create(region, cfg).unwrap();
    let mut tx = ring.producer().unwrap();
    for seq in 0..9 {
        assert!(write_c_pattern(&mut tx, 0, seq));
    }
    assert_eq!(ring.counters().overflowed, 0);
    let mut rec = tx.reserve(completion_len(&[8, 4])).unwrap();
    let mut w = AttrWriter::new(&mut rec, Completion::new(9, 9, 0)).unwrap();
    w.push_u64(attr_id::DURATION_NS, 1).unwrap(); // 9 * 3 expected
    w.push_u32(attr_id::WORKER_CPU, 0).unwrap();
    w.finish();
    rec.commit();
    assert_eq!(ring.counters().overflowed, 1);
    let out = std::process::Command::new(&exe)
        .args([name.as_str(), "10", "1", "--timeout=10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("record 9 at 0 in the overflow area"),
        "{out:?}"
    );
    let _ = std::fs::remove_file(&exe);
}

#[test]
fn eventfd_signals_a_consumer_waiting_in_poll() {
    use std::os::fd::AsRawFd as _;
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let ring = RecordRing::create_heap(RecordConfig::new(1024).mode(mode)).unwrap();
        let fd = ring.create_eventfd().unwrap().as_raw_fd();
        let mut rx = ring.consumer().unwrap();
        let mut tx = ring.producer().unwrap();
        let mut got = 0u32;
        for round in 0..20u32 {
            if !rx.eventfd_prepare().unwrap() {
                let t = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(2));
                    tx.push(&round.to_le_bytes()).unwrap();
                    tx
                });
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd; bounded timeout.
                let n = unsafe { libc::poll(&mut pfd, 1, DEADLINE.as_millis() as i32) };
                assert_eq!(
                    n, 1,
                    "{mode:?} round {round}: the eventfd was never signalled"
                );
                tx = t.join().unwrap();
            } else {
                panic!("{mode:?}: records before the push");
            }
            rx.eventfd_finish();
            assert_eq!(rx.read().unwrap().to_vec(), round.to_le_bytes());
            got += 1;
        }
        assert_eq!(got, 20);
        assert!(ring.counters().wakeups >= 20);
    }
}

/// A consumer that dies after zeroing a record (MC3) but before storing `head` leaves zero
/// words that no producer reserved: the next consumer steps over them (no producer record's
/// intent covers them), and still stops at a real reservation.
#[test]
fn consumer_death_between_zeroing_and_head_store_does_not_wedge() {
    let ring = RecordRing::create_heap(RecordConfig::new(512).mode(Mode::Mpsc)).unwrap();
    let (mut tx, mut other) = (ring.producer().unwrap(), ring.producer().unwrap());
    for (i, len) in [(0u64, 10usize), (1, 40), (2, 7)] {
        tx.push(&payload(i, len)).unwrap();
    }
    let mut rx = ring.consumer().unwrap();
    assert_eq!(rx.read().unwrap().to_vec(), &payload(0, 10)[..]);
    let pos = ring.counters().head;
    drop(rx);
    // The dead consumer's work: record 1 zeroed, `head` not stored past it.
    let data = ring.geometry().data_offset as usize;
    let size = rl::record_size(40) as usize;
    for k in (0..size).step_by(8) {
        // SAFETY: words of the live ring's data area, written atomically.
        unsafe {
            &*(ring.memory().as_ptr().add(data + (pos as usize & 511) + k) as *const AtomicU64)
        }
        .store(0, Ordering::Release);
    }
    let held = other.reserve(5).unwrap(); // a real reservation after record 2
    let mut rx = ring.consumer().unwrap();
    assert_eq!(rx.read().unwrap().to_vec(), &payload(2, 7)[..]);
    assert_eq!(
        rx.read().err(),
        Some(ReadError::Pending {
            position: held.position()
        })
    );
    drop(held); // discarded
    assert_eq!(rx.read().err(), Some(ReadError::Empty));
    tx.push(b"on").unwrap();
    assert_eq!(rx.read().unwrap().to_vec(), b"on");
}

/// A timeout too large for a deadline (`Duration::MAX`) means "no limit" in the record
/// consumer's blocking calls, as in the fixed ring's (it used to overflow `Instant` and panic).
#[test]
fn huge_timeouts_wait_without_limit() {
    let ring = RecordRing::create_heap(RecordConfig::new(256).overflow(256)).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let t = std::thread::spawn(move || {
        for i in 0..2u8 {
            std::thread::sleep(Duration::from_millis(5));
            tx.push(&[i]).unwrap();
        }
        tx
    });
    assert_eq!(
        rx.wait(1, Some(Duration::MAX)).unwrap(),
        ring_core::WaitOutcome::Ready(1)
    );
    let mut got = Vec::new();
    while got.len() < 2 {
        rx.reap(1, 8, usize::MAX, Some(Duration::MAX), |r| {
            got.push(r.to_vec()[0])
        })
        .unwrap();
    }
    assert_eq!(got, [0, 1]);
    drop(t.join().unwrap());
}

/// `completion()` copies the payload out (inline up to 64 bytes, on the heap past that) and
/// reads what `completion_in_place` reads, for every number of attributes from 0 to 12.
#[test]
fn copied_completions_match_in_place_ones() {
    use ring_core::record::attrs::{completion_len, AttrWriter};
    let ring = RecordRing::create_heap(RecordConfig::new(4096)).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    for n in 0..=12usize {
        let lens: Vec<usize> = (0..n).map(|i| [8, 4, 1, 0, 13][i % 5]).collect();
        let len = completion_len(&lens);
        let mut rec = tx.reserve(len).unwrap();
        let mut w = AttrWriter::new(&mut rec, Completion::new(n as u64, -7, 3)).unwrap();
        for (i, &l) in lens.iter().enumerate() {
            let value: Vec<u8> = (0..l).map(|b| (i * 16 + b) as u8).collect();
            w.push(0x8000 + i as u16, attr_status::HANDLED, &value)
                .unwrap();
        }
        w.finish();
        rec.commit();
        let r = rx.read().unwrap();
        assert_eq!(r.len(), len);
        let (c, list) = r.completion().unwrap();
        assert_eq!(c, Completion::new(n as u64, -7, 3));
        assert_eq!(list.byte_len(), len - 16);
        assert_eq!(list.is_empty(), n == 0);
        let copied: Vec<_> = list.iter().collect::<Result<_, _>>().unwrap();
        // SAFETY: every participant of this heap ring is this test.
        let (c2, attrs) = unsafe { r.completion_in_place() }.unwrap();
        let in_place: Vec<_> = attrs.collect::<Result<_, _>>().unwrap();
        assert_eq!((c, &copied), (c2, &in_place), "{n} attributes, {len} bytes");
        assert_eq!(copied.len(), n);
        for (i, a) in copied.iter().enumerate() {
            assert_eq!(a.id, 0x8000 + i as u16);
            assert_eq!(a.value.len(), lens[i]);
            assert!(a
                .value
                .iter()
                .enumerate()
                .all(|(b, &v)| v == (i * 16 + b) as u8));
        }
        // A clone reads the same.
        assert_eq!(list.clone().iter().count(), n);
        assert_eq!((&list).into_iter().count(), n);
    }
    // Not a completion record.
    tx.push(b"plain").unwrap();
    assert!(matches!(
        rx.read().unwrap().completion(),
        Err(ring_core::record::attrs::AttrError::NotCompletion { .. })
    ));
}

/// `completion()` (the completion read from the ring in two words, the list copied in words,
/// a partial last word byte by byte, inline up to 48 list bytes and on the heap past that)
/// gives exactly what `parse_completion` gives for the same bytes: the completion, every
/// attribute, and the error with its offset and reason, for lists of every length from 0 to
/// 80 bytes, well-formed, malformed at some point, or random.
#[test]
fn copied_completions_match_parsed_bytes_for_any_list() {
    let ring = RecordRing::create_heap(RecordConfig::new(4096)).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let mut rng = Rng::new(10);
    let (mut errors, mut clean) = (0, 0);
    for list_len in 0..=80usize {
        for variant in 0..4 {
            let len = 16 + list_len;
            let mut payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if variant > 0 {
                // Well-formed attributes while they fit; variant 2 breaks the last one's id,
                // variant 3 its length.
                let mut at = 16;
                let mut last = None;
                while at + 4 <= len {
                    let mut vlen = [0usize, 1, 4, 8, 13][rng.below(5) as usize];
                    if at + attrs::attr_size(vlen) > len {
                        vlen = 0;
                    }
                    if at + attrs::attr_size(vlen) > len {
                        break;
                    }
                    payload[at..at + 2].copy_from_slice(&(1 + rng.below(9) as u16).to_le_bytes());
                    payload[at + 2] = 1 + rng.below(6) as u8;
                    payload[at + 3] = vlen as u8;
                    last = Some(at);
                    at += attrs::attr_size(vlen);
                }
                match (variant, last) {
                    (2, Some(a)) => payload[a..a + 2].copy_from_slice(&[0, 0]),
                    (3, Some(a)) => payload[a + 3] = 255,
                    _ => {}
                }
            }
            let mut rec = tx.reserve_typed(len, record_type::COMPLETION).unwrap();
            rec.write(0, &payload);
            rec.commit();
            let r = rx.read().unwrap();
            let (c, list) = r.completion().unwrap();
            let (c2, parsed) = parse_completion(&payload).unwrap();
            assert_eq!(c, c2, "{list_len} list bytes, variant {variant}");
            let expected: Vec<_> = parsed.collect();
            let copied: Vec<_> = list.iter().collect();
            assert_eq!(copied, expected, "{list_len} list bytes, variant {variant}");
            assert_eq!(list.clone().iter().collect::<Vec<_>>(), expected);
            assert_eq!(list.byte_len(), list_len);
            let failed = expected.iter().any(|a| a.is_err());
            errors += usize::from(failed);
            clean += usize::from(!failed);
            // After an error the walk ends: it is the last item.
            assert!(expected.iter().rev().skip(1).all(|a| a.is_ok()));
        }
    }
    // Both kinds were exercised (lists of a multiple of 8 bytes, variant 1, are well-formed).
    assert!(
        errors > 100 && clean >= 11,
        "{errors} malformed lists, {clean} clean"
    );
}

/// RECORDS.md 7.3, the release order: a consumer killed while releasing a record leaves it
/// marked DISCARD with its size (and some of its words zeroed); a successor skips it and
/// delivers what follows. And what the reference's release leaves is all zero.
#[test]
fn a_release_cut_short_leaves_a_discarded_record() {
    let ring = RecordRing::create_heap(RecordConfig::new(1024).mode(Mode::Mpsc)).unwrap();
    let base = ring.memory().as_ptr();
    let data = ring.geometry().data_offset as usize;
    // SAFETY: 8-aligned words of the live ring's data area, accessed atomically.
    let word = |off: usize| unsafe { &*(base.add(data + off) as *const AtomicU64) };
    let mut tx = ring.producer().unwrap();
    tx.push(&[7u8; 40]).unwrap(); // 48 bytes at 0
    tx.push(b"next").unwrap();
    {
        // What the dying consumer had done: step 1 (the header marked DISCARD) and part of
        // step 2 (the words from 8 to 24 zeroed), `head` not stored.
        let h = word(0).load(Ordering::Relaxed);
        word(0).store(h | rl::DISCARD, Ordering::Relaxed);
        word(8).store(0, Ordering::Relaxed);
        word(16).store(0, Ordering::Relaxed);
    }
    let mut rx = ring.consumer().unwrap();
    assert_eq!(rx.read().unwrap().to_vec(), b"next");
    assert_eq!(rx.read().err(), Some(ReadError::Empty));
    // The skipped record and the delivered one are all zero now (the successor's release).
    for off in (0..64).step_by(8) {
        assert_eq!(word(off).load(Ordering::Relaxed), 0, "word at {off}");
    }
}

/// RECORDS.md 7.3, `release_end`: a consumer that died after zeroing a record whose producer
/// is alive and idle (its intent still covers the record) without storing `head`. Its
/// successor finishes the release (zeroes up to `release_end`, stores `head` there) instead of
/// taking the zero words for a pending reservation for good; in the data area and in the
/// overflow area.
#[test]
fn a_successor_finishes_a_dead_consumers_release() {
    for in_overflow in [false, true] {
        let cfg = RecordConfig::new(64).mode(Mode::Mpsc);
        let cfg = if in_overflow { cfg.overflow(256) } else { cfg };
        let ring = RecordRing::create_heap(cfg).unwrap();
        let base = ring.memory().as_ptr();
        let g = *ring.geometry();
        let (mut idle, mut busy) = (ring.producer().unwrap(), ring.producer().unwrap());
        if in_overflow {
            // Two 24-byte records in the 64-byte data area: the next 24-byte records spill.
            busy.push(&[1u8; 16]).unwrap();
            busy.push(&[2u8; 16]).unwrap();
            assert_eq!(ring.counters().overflowed, 0);
        }
        idle.push(b"idle's last").unwrap(); // 24 bytes; `idle` reserves nothing after it
        busy.push(b"after").unwrap();
        // The lane the two records are in: its data bytes, `head` and `release_end`.
        let (data, head, release_end): (usize, &AtomicU32, &AtomicU32) = if in_overflow {
            assert_eq!(ring.counters().overflowed, 2);
            let line = g.overflow_offset.unwrap() as usize;
            // SAFETY: the overflow line of the live ring: `head` at 8, `release_end` at 12.
            unsafe {
                (
                    line + 128,
                    &*(base.add(line + 8) as *const AtomicU32),
                    &*(base.add(line + 12) as *const AtomicU32),
                )
            }
        } else {
            let c = g.consumer_offset as usize;
            // SAFETY: the consumer line of the live ring: `head` at 0, `release_end` at 8.
            unsafe {
                (
                    g.data_offset as usize,
                    &*(base.add(c) as *const AtomicU32),
                    &*(base.add(c + 8) as *const AtomicU32),
                )
            }
        };
        if in_overflow {
            // A consumer takes the data area's two records (and leaves).
            let mut rx = ring.consumer().unwrap();
            for i in 1..=2u8 {
                assert_eq!(rx.read().unwrap().to_vec(), [i; 16]);
            }
        }
        let h = head.load(Ordering::Acquire);
        let off = |p: u32| data + (p as usize & if in_overflow { 255 } else { 63 });
        // The dying consumer: delivered "idle's last", announced its end, zeroed it; no `head`.
        release_end.store(h + 24, Ordering::Relaxed); // an 11-byte payload: 24 bytes
        for w in (0..24).step_by(8) {
            // SAFETY: 8-aligned words of the lane's data bytes, accessed atomically.
            unsafe { &*(base.add(off(h) + w) as *const AtomicU64) }.store(0, Ordering::Relaxed);
        }
        let mut rx = ring.consumer().unwrap();
        assert_eq!(
            rx.read().unwrap().to_vec(),
            b"after",
            "overflow area: {in_overflow}"
        );
        assert_eq!(rx.read().err(), Some(ReadError::Empty));
        drop((idle, busy));
    }
}

/// RECORDS.md 7.3, `INCOMPAT_RELEASE_END`: a 1.4 creator sets the bit exactly on the rings
/// whose lanes are zeroed on release (MPSC, or with an overflow area), and a consumer reads
/// `release_end` only when the bit is set. A stale value inside `(head, tail]`, as a consumer
/// that does not maintain the word could leave, with nothing zeroed: on a region without the
/// bit every record is delivered; with the bit the starting consumer trusts the word and passes
/// the first record (the hazard the bit exists to rule out), in the data area and in the
/// overflow area.
#[test]
fn release_end_is_read_only_with_its_feature_bit() {
    for (cfg, bit) in [
        (RecordConfig::new(64), false),
        (RecordConfig::new(64).mode(Mode::Mpsc), true),
        (RecordConfig::new(64).overflow(256), true),
        (RecordConfig::new(64).mode(Mode::Mpsc).overflow(256), true),
    ] {
        let ring = RecordRing::create_heap(cfg).unwrap();
        assert_eq!(ring.geometry().release_end, bit, "{cfg:?}");
        let incompat = {
            let mem = ring.memory();
            // SAFETY: the header's `incompat` word (offset 32) of the live region, 8-aligned.
            unsafe { &*(mem.as_ptr().add(32) as *const AtomicU64) }.load(Ordering::Relaxed)
        };
        assert_eq!(incompat & rl::INCOMPAT_RELEASE_END != 0, bit, "{cfg:?}");
    }
    let run = |with_bit: bool, in_overflow: bool| -> Vec<Vec<u8>> {
        let cfg = RecordConfig::new(64).mode(Mode::Mpsc);
        let cfg = if in_overflow { cfg.overflow(256) } else { cfg };
        let ring = RecordRing::create_heap(cfg).unwrap();
        let base = ring.memory().as_ptr();
        let g = *ring.geometry();
        let mut p = ring.producer().unwrap();
        if in_overflow {
            // Fill the 64-byte data area (24 + 24 + 16 bytes); the next records spill.
            p.push(&[1u8; 16]).unwrap();
            p.push(&[2u8; 16]).unwrap();
            p.push(&[3u8; 8]).unwrap();
            p.push(b"first").unwrap();
            p.push(b"second").unwrap();
            assert_eq!(ring.counters().overflowed, 2);
            // The overflow records wait behind the data area's: take those first.
            let mut rx = ring.consumer().unwrap();
            assert_eq!(rx.read().unwrap().to_vec(), [1u8; 16]);
            assert_eq!(rx.read().unwrap().to_vec(), [2u8; 16]);
            assert_eq!(rx.read().unwrap().to_vec(), [3u8; 8]);
        } else {
            p.push(b"first").unwrap();
            p.push(b"second").unwrap();
        }
        // SAFETY: `head` of the lane (consumer line offset 0, or overflow line offset 8) and
        // `release_end` (offset 8, or 12) of the live ring, 4-aligned.
        let (head, release_end) = unsafe {
            match g.overflow_offset.filter(|_| in_overflow) {
                Some(o) => (
                    &*(base.add(o as usize + 8) as *const AtomicU32),
                    &*(base.add(o as usize + 12) as *const AtomicU32),
                ),
                None => (
                    &*(base.add(g.consumer_offset as usize) as *const AtomicU32),
                    &*(base.add(g.consumer_offset as usize + 8) as *const AtomicU32),
                ),
            }
        };
        // A stale end: past `head`, within the written bytes, on a record boundary (16 bytes).
        release_end.store(
            head.load(Ordering::Relaxed).wrapping_add(16),
            Ordering::Relaxed,
        );
        // SAFETY: the header's `incompat` word of the live region, 8-aligned.
        let incompat = unsafe { &*(base.add(32) as *const AtomicU64) };
        if !with_bit {
            incompat.fetch_and(!rl::INCOMPAT_RELEASE_END, Ordering::Relaxed);
        }
        let mem = ring.memory();
        // SAFETY: the view covers the live ring's bytes, used only through ring code.
        let view = unsafe { RawRegion::new(NonNull::new(mem.as_ptr()).unwrap(), mem.len()) };
        let again = RecordRing::attach(view).unwrap();
        assert_eq!(again.geometry().release_end, with_bit);
        let mut rx = again.consumer().unwrap();
        let mut got = Vec::new();
        while let Ok(r) = rx.read() {
            got.push(r.to_vec());
        }
        got
    };
    for in_overflow in [false, true] {
        assert_eq!(
            run(false, in_overflow),
            [b"first".to_vec(), b"second".to_vec()],
            "without the bit, overflow area: {in_overflow}"
        );
        assert_eq!(
            run(true, in_overflow),
            [b"second".to_vec()],
            "with the bit, overflow area: {in_overflow}"
        );
    }
}
