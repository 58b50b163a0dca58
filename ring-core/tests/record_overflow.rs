//! The record ring's overflow area (spec/RECORDS.md, section 13): spill and drain in order,
//! per-producer order across the boundary, refusal that hands the record back, two processes,
//! a hostile peer over the overflow area, and a producer killed mid-spill.

mod common;

use ring_core::layout::OverflowLine;
use ring_core::record::layout::{self as rl, record_type};
use ring_core::record::{
    HandleError, ReadError, RecordConfig, RecordCorruption, RecordLayoutError, RecordRing,
    ReserveError,
};
use ring_core::{LayoutError, Memory, Mode, RawRegion, Region};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Peer, Rng, DEADLINE};

/// Producer `p`'s record `seq`: `[p, seq (4 bytes LE), filler...]`, `len` from the sequence.
fn tagged(p: u8, seq: u32) -> Vec<u8> {
    let len = 5 + (seq as usize * 7 + p as usize) % 40;
    let mut v = vec![p; len];
    v[1..5].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in v.iter_mut().enumerate().skip(5) {
        *b = (seq as u8).wrapping_add(i as u8) ^ p;
    }
    v
}

fn untag(b: &[u8]) -> (u8, u32) {
    (b[0], u32::from_le_bytes(b[1..5].try_into().unwrap()))
}

/// The overflow line of a live ring.
fn ovf_line<M: ring_core::Memory>(ring: &RecordRing<M>) -> &OverflowLine {
    let off = ring.geometry().overflow_offset.expect("overflow area") as usize;
    // SAFETY: the overflow line lies at `off` inside the live region (validated at attach); it
    // is all atomics.
    unsafe { &*(ring.memory().raw().as_ptr().add(off) as *const OverflowLine) }
}

/// The 64-bit word at byte `off` of the overflow data area (rounded to 8) of a live ring.
fn ovf_word<M: ring_core::Memory>(ring: &RecordRing<M>, off: u32) -> &AtomicU64 {
    let g = ring.geometry();
    let base = g.overflow_offset.unwrap() as usize + 128;
    let off = (off & (g.overflow_capacity - 1) & !7) as usize;
    // SAFETY: inside the overflow data area of the live region, 8-byte aligned.
    unsafe { &*(ring.memory().raw().as_ptr().add(base + off) as *const AtomicU64) }
}

// ---------------------------------------------------------------------------------------------
// Single-threaded behaviour.

#[test]
fn spill_and_drain_in_order_both_modes() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        // A data area of 128 bytes, an overflow area of 256, positions near the u32 wrap.
        let cfg = RecordConfig::new(128)
            .mode(mode)
            .overflow(256)
            .initial_position(0xffff_ff80);
        let ring = RecordRing::create_heap(cfg).unwrap();
        assert_eq!(ring.geometry().overflow_capacity, 256);
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        let mut pushed = 0u32;
        let mut read = 0u32;
        // Many rounds: fill both areas, drain part, fill again; every record comes out once,
        // in order, across both wraps of both areas.
        for round in 0..200u32 {
            let k = 3 + round % 11;
            for _ in 0..k {
                match tx.push(&tagged(0, pushed)) {
                    Ok(()) => pushed += 1,
                    Err(ReserveError::Full { .. }) => break,
                    Err(e) => panic!("{mode:?}: {e}"),
                }
            }
            for _ in 0..(round % 7 + 1) {
                match rx.read() {
                    Ok(r) => {
                        assert_eq!(r.to_vec(), &tagged(0, read)[..], "{mode:?} record {read}");
                        read += 1;
                    }
                    Err(ReadError::Empty) => break,
                    Err(e) => panic!("{mode:?}: {e}"),
                }
            }
        }
        loop {
            match rx.read() {
                Ok(r) => {
                    assert_eq!(r.to_vec(), &tagged(0, read)[..], "{mode:?} record {read}");
                    read += 1;
                }
                Err(ReadError::Empty) => break,
                Err(e) => panic!("{mode:?}: {e}"),
            }
        }
        assert_eq!(read, pushed, "{mode:?}");
        let c = ring.counters();
        assert!(c.overflowed > 0, "{mode:?}: records spilled ({c:?})");
        assert!(c.activations > 0, "{mode:?}: {c:?}");
        assert!(
            c.full_refusals > 0,
            "{mode:?}: both areas were full at times ({c:?})"
        );
        assert!(
            !c.overflow_active,
            "{mode:?}: drained, the area was deactivated ({c:?})"
        );
        assert_eq!(c.overflow_tail, c.overflow_head);
        assert_eq!(c.tail, c.head);
        // The overflow area's positions wrapped past the start of its lap many times.
        assert!(c.overflow_tail > 256, "{mode:?}: {c:?}");
    }
}

/// RATIONALE (a), on records: once a record spilled, later records spill behind it even when
/// the data area has room again, until the spilled ones are consumed.
#[test]
fn a_producer_that_spilled_keeps_spilling_until_drained() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let ring = RecordRing::create_heap(RecordConfig::new(64).mode(mode).overflow(128)).unwrap();
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        // 16-byte records: the data area takes 4.
        for i in 0..4u8 {
            tx.push(&[i; 8]).unwrap();
        }
        assert_eq!(ring.counters().overflowed, 0);
        tx.push(b"spilled!").unwrap();
        assert_eq!(ring.counters().overflowed, 1);
        assert!(ring.counters().overflow_active);
        assert_eq!(rx.read().unwrap().to_vec(), &[0u8; 8]); // the data area has room now
        tx.push(b"behind!!").unwrap();
        assert_eq!(
            ring.counters().overflowed,
            2,
            "{mode:?}: went behind the spilled one"
        );
        for i in 1..4u8 {
            assert_eq!(rx.read().unwrap().to_vec(), &[i; 8]);
        }
        assert_eq!(rx.read().unwrap().to_vec(), b"spilled!");
        assert_eq!(rx.read().unwrap().to_vec(), b"behind!!");
        assert_eq!(rx.read().err(), Some(ReadError::Empty));
        // Drained and deactivated: back to the data area.
        assert!(!ring.counters().overflow_active);
        tx.push(b"in data").unwrap();
        assert_eq!(ring.counters().overflowed, 2);
        assert_eq!(rx.read().unwrap().to_vec(), b"in data");
    }
}

/// A record in the data area comes before a later overflow record of the same producer even
/// when it is still only reserved (MPSC): the consumer reports it pending and waits.
#[test]
fn overflow_record_waits_for_an_earlier_reservation_in_the_data_area() {
    let ring =
        RecordRing::create_heap(RecordConfig::new(64).mode(Mode::Mpsc).overflow(128)).unwrap();
    let (mut a, mut b) = (ring.producer().unwrap(), ring.producer().unwrap());
    let mut rx = ring.consumer().unwrap();
    let mut held = a.reserve(8).unwrap();
    for i in 0..3u8 {
        b.push(&[i; 8]).unwrap();
    }
    b.push(b"spilled!").unwrap(); // data area full (held + 3)
    assert_eq!(ring.counters().overflowed, 1);
    assert!(matches!(rx.read(), Err(ReadError::Pending { .. })));
    held.write(0, b"first!!!");
    held.commit();
    assert_eq!(rx.read().unwrap().to_vec(), b"first!!!");
    for i in 0..3u8 {
        assert_eq!(rx.read().unwrap().to_vec(), &[i; 8]);
    }
    assert_eq!(rx.read().unwrap().to_vec(), b"spilled!");
}

#[test]
fn refusal_hands_the_record_back() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let ring = RecordRing::create_heap(RecordConfig::new(64).mode(mode).overflow(64)).unwrap();
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        for i in 0..8u8 {
            tx.push(&[i; 8]).unwrap(); // 4 in the data area, 4 in the overflow area
        }
        let before = ring.counters();
        assert_eq!(before.overflowed, 4);
        // Both full: `push` refuses and writes nothing; the caller still has the bytes.
        let rec = b"refused!".to_vec();
        assert!(matches!(
            tx.push(&rec),
            Err(ReserveError::Full { free: 0, .. })
        ));
        // A reservation is refused the same way.
        assert!(matches!(tx.reserve(8), Err(ReserveError::Full { .. })));
        let after = ring.counters();
        assert_eq!(after.full_refusals, before.full_refusals + 2, "{mode:?}");
        assert_eq!(after.overflowed, 4);
        assert_eq!(
            (after.tail, after.overflow_tail),
            (before.tail, before.overflow_tail)
        );
        // Too large for the overflow area (which it must go to while active): refused too,
        // while the data area alone would have taken it.
        let big = RecordRing::create_heap(RecordConfig::new(256).mode(mode).overflow(32)).unwrap();
        let mut btx = big.producer().unwrap();
        for _ in 0..4 {
            btx.push(&[1; 56]).unwrap(); // 64 bytes each: the data area is full
        }
        btx.push(&[2; 8]).unwrap(); // spills (16 bytes fit an overflow area of 32)
        assert!(matches!(btx.push(&[3; 40]), Err(ReserveError::Full { .. })));
        assert!(matches!(
            btx.push(&[3; 200]),
            Err(ReserveError::TooLarge { max: 120, .. })
        ));
        // Drain: everything that was accepted comes out, in order, and the refused one is
        // pushed again.
        for i in 0..8u8 {
            assert_eq!(rx.read().unwrap().to_vec(), &[i; 8]);
        }
        tx.push(&rec).unwrap();
        assert_eq!(rx.read().unwrap().to_vec(), &rec[..]);
        assert_eq!(rx.read().err(), Some(ReadError::Empty));
    }
}

#[test]
fn discard_truncate_and_drop_in_the_overflow_area() {
    let ring = RecordRing::create_heap(RecordConfig::new(64).overflow(128)).unwrap();
    let mut tx = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();
    for i in 0..4u8 {
        tx.push(&[i; 8]).unwrap();
    }
    tx.reserve(8).unwrap().discard();
    drop(tx.reserve(16).unwrap());
    let mut r = tx.reserve_typed(24, record_type::COMPLETION).unwrap();
    r.write(0, b"short");
    r.truncate(5);
    r.commit();
    tx.push(b"last").unwrap();
    let c = ring.counters();
    assert_eq!((c.overflowed, c.discarded), (2, 2));
    for i in 0..4u8 {
        assert_eq!(rx.read().unwrap().to_vec(), &[i; 8]);
    }
    let r = rx.read().unwrap();
    assert_eq!(
        (r.to_vec(), r.record_type()),
        (b"short".to_vec(), record_type::COMPLETION)
    );
    drop(r);
    assert_eq!(rx.read().unwrap().to_vec(), b"last");
    assert_eq!(rx.read().err(), Some(ReadError::Empty));
}

#[test]
fn read_batch_and_reap_cross_the_boundary() {
    let ring = RecordRing::create_heap(RecordConfig::new(64).overflow(256)).unwrap();
    let mut tx = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();
    for i in 0..12u8 {
        tx.push(&[i; 8]).unwrap();
    }
    let mut seen = Vec::new();
    assert_eq!(
        rx.read_batch(6, usize::MAX, |r| seen.push(r.to_vec()[0]))
            .unwrap(),
        6
    );
    let n = rx
        .reap(6, 100, usize::MAX, Some(Duration::from_secs(10)), |r| {
            seen.push(r.to_vec()[0])
        })
        .unwrap();
    assert_eq!(n, 6);
    assert_eq!(seen, (0..12u8).collect::<Vec<_>>());
    assert!(!rx.has_more());
}

// ---------------------------------------------------------------------------------------------
// Layout and attach.

#[test]
fn overflow_layout_and_attach_checks() {
    // Configuration.
    assert_eq!(
        RecordConfig::new(64).overflow(48).region_len().err(),
        Some(RecordLayoutError::Layout(LayoutError::OverflowCapacity {
            found: 48
        }))
    );
    let cfg = RecordConfig::new(64).overflow(128);
    assert_eq!(cfg.producer_slots(), 2);
    // Header, data area, overflow block, wait block, registry line and 2 records.
    assert_eq!(cfg.region_len().unwrap(), 640 + 256 + 128 + 128 * 3);
    let ring = RecordRing::create_heap(cfg).unwrap();
    let g = *ring.geometry();
    assert_eq!(g.overflow_offset, Some(640));
    assert_eq!(g.producer_slots, 2);
    let base = ring.memory().raw().as_ptr();
    let word = |off: usize| {
        // SAFETY: header words of the live region, 8-byte aligned.
        unsafe { &*(base.add(off) as *const AtomicU64) }
    };
    let word32 = |off: usize| {
        // SAFETY: as above, 4-byte aligned.
        unsafe { &*(base.add(off) as *const AtomicU32) }
    };
    let incompat = word(32).load(Ordering::Relaxed);
    assert_eq!(
        incompat,
        rl::INCOMPAT_RECORDS
            | rl::INCOMPAT_RECORD_OVERFLOW
            | rl::INCOMPAT_RELEASE_END
            | ring_core::layout::features::INCOMPAT_WAIT
            | ring_core::layout::features::INCOMPAT_PRODUCERS
    );
    let attach = || {
        // SAFETY: the region is mapped for its length and outlives the check; nobody else
        // uses it meanwhile.
        let raw = unsafe { RawRegion::new(NonNull::new(base).unwrap(), ring.memory().raw().len()) };
        ring_core::record::attach_records(&raw)
    };
    assert_eq!(attach(), Ok(g));
    // Tamper with one field at a time and put it back.
    let ocap_off = 216;
    for (bad, want) in [
        (0u32, LayoutError::OverflowCapacity { found: 0 }),
        (96, LayoutError::OverflowCapacity { found: 96 }),
        (
            256,
            LayoutError::BlockLength {
                block: "overflow",
                expected: 128 + 256,
                found: 128 + 128,
            },
        ),
    ] {
        let old = word32(ocap_off).swap(bad, Ordering::Relaxed);
        let got = attach();
        word32(ocap_off).store(old, Ordering::Relaxed);
        match (got, want) {
            (
                Err(RecordLayoutError::Layout(LayoutError::BlockLength {
                    expected, found, ..
                })),
                LayoutError::BlockLength {
                    expected: e,
                    found: f,
                    ..
                },
            ) => {
                assert_eq!((expected, found), (e, f));
            }
            (got, want) => assert_eq!(got, Err(RecordLayoutError::Layout(want))),
        }
    }
    // The overflow bit without producer records.
    word(32).store(
        incompat & !ring_core::layout::features::INCOMPAT_PRODUCERS,
        Ordering::Relaxed,
    );
    assert!(matches!(
        attach(),
        Err(RecordLayoutError::Layout(LayoutError::ProducerSlots { .. }))
    ));
    // Without the overflow bit, a non-zero overflow capacity is refused.
    word(32).store(incompat & !rl::INCOMPAT_RECORD_OVERFLOW, Ordering::Relaxed);
    assert_eq!(
        attach(),
        Err(RecordLayoutError::Layout(LayoutError::OverflowCapacity {
            found: 128
        }))
    );
    word(32).store(incompat, Ordering::Relaxed);
    assert_eq!(attach(), Ok(g));
}

// ---------------------------------------------------------------------------------------------
// Threads.

/// Several producer threads, a small data area, an overflow area: every record is delivered
/// exactly once and each producer's records in push order, although they move between the
/// areas all the time. The consumer starts late so that records certainly spill.
fn threads_order(producers: u8, n: u32, reap: bool) {
    let mode = if producers > 1 {
        Mode::Mpsc
    } else {
        Mode::Spsc
    };
    let ring = RecordRing::create_heap(
        RecordConfig::new(256)
            .mode(mode)
            .overflow(512)
            .initial_position(0xffff_ff00),
    )
    .unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for p in 0..producers {
            let (ring, stop) = (&ring, &stop);
            s.spawn(move || {
                let mut tx = ring.producer().unwrap();
                let deadline = Instant::now() + DEADLINE;
                for seq in 0..n {
                    let v = tagged(p, seq);
                    loop {
                        match tx.push(&v) {
                            Ok(()) => break,
                            Err(ReserveError::Full { .. }) => std::thread::yield_now(),
                            Err(e) => panic!("producer {p}: {e}"),
                        }
                        assert!(Instant::now() < deadline, "producer {p} stuck at {seq}");
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                    }
                }
            });
        }
        let mut rx = ring.consumer().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let mut next = vec![0u32; producers as usize];
        let total = u64::from(producers) * u64::from(n);
        let mut got = 0u64;
        let deadline = Instant::now() + DEADLINE;
        let check = |b: &[u8], next: &mut Vec<u32>| {
            let (p, seq) = untag(b);
            assert_eq!(seq, next[p as usize], "producer {p}: order");
            assert_eq!(b, &tagged(p, seq)[..]);
            next[p as usize] += 1;
        };
        while got < total {
            if Instant::now() > deadline {
                stop.store(true, Ordering::Relaxed);
                panic!("consumer stuck at {next:?}: {:?}", ring.counters());
            }
            let r = if reap {
                rx.reap(1, 32, usize::MAX, Some(Duration::from_millis(200)), |r| {
                    check(&r.to_vec(), &mut next)
                })
                .map_err(|e| panic!("reap: {e}"))
            } else {
                match rx.read_batch(16, usize::MAX, |r| check(&r.to_vec(), &mut next)) {
                    Ok(k) => Ok(k),
                    Err(ReadError::Empty | ReadError::Pending { .. }) => {
                        std::thread::yield_now();
                        Ok(0)
                    }
                    Err(e) => panic!("consumer: {e}"),
                }
            };
            got += r.unwrap() as u64;
        }
        assert_eq!(rx.read().err(), Some(ReadError::Empty));
    });
    let c = ring.counters();
    assert!(c.overflowed > 0, "records spilled: {c:?}");
    assert!(!c.overflow_active, "{c:?}");
}

#[test]
fn mpsc_threads_per_producer_order_across_the_boundary() {
    threads_order(4, 20_000, false);
}

#[test]
fn spsc_thread_order_across_the_boundary_with_reap() {
    threads_order(1, 50_000, true);
}

// ---------------------------------------------------------------------------------------------
// Two processes.

#[test]
fn child() {
    let Some((role, params)) = common::child_role() else {
        return;
    };
    match role.as_str() {
        "ovf_produce" => {
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
        "ovf_spill_and_hang" => {
            // Fill the data area, then reserve in the overflow area and hang there.
            let region = Region::from_fd(params.fd("fd")).expect("from_fd");
            let ring = RecordRing::attach(region).expect("attach record ring");
            let mut tx = ring.producer().expect("producer");
            let cap = ring.capacity();
            let spilled = ring.counters().overflowed;
            let mut seq = 0u32;
            while ring.counters().overflowed == spilled {
                tx.push(&u64::from(seq).to_le_bytes()).expect("push");
                seq += 1;
                assert!(seq < cap, "never spilled");
            }
            common::report("start", ring.counters().overflow_tail);
            let mut r = tx.reserve(params.num("len") as usize).expect("reserve");
            r.write(0, b"never committed");
            common::report("pushed", seq);
            common::report("position", r.position());
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
fn processes_spill_and_drain_across_memfd() {
    const N: u32 = 20_000;
    let ring = RecordRing::create_memfd(
        "records-ovf-xproc",
        RecordConfig::new(1024)
            .mode(Mode::Mpsc)
            .overflow(2048)
            .initial_position(0xffff_fc00),
    )
    .unwrap();
    let fd = ring.memory().fd().expect("memfd");
    let mut peers: Vec<Peer> = (0..2u8)
        .map(|p| {
            Peer::spawn_with_fds(
                "ovf_produce",
                &[("id", p.to_string()), ("n", N.to_string())],
                &[("fd", fd)],
            )
        })
        .collect();
    let mut rx = ring.consumer().unwrap();
    // Let the children fill both areas before draining.
    let start = Instant::now();
    while ring.counters().overflowed == 0 && start.elapsed() < DEADLINE {
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut next = [0u32; 2];
    let deadline = Instant::now() + DEADLINE;
    while next.iter().sum::<u32>() < 2 * N {
        if Instant::now() > deadline {
            peers[0].fail(format!("consumer stuck at {next:?}"));
        }
        match rx.read_batch(64, usize::MAX, |r| {
            let b = r.to_vec();
            let (p, seq) = untag(&b);
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
    assert!(ring.counters().overflowed > 0);
}

/// A child fills the data area with 16-byte records, spills one, reserves a record in the
/// overflow area and is SIGKILLed before committing it. `zero` rewrites the headers it wrote
/// (a padding record and its BUSY header) to zero, as if it had died between its
/// compare-and-swap of `state` and its first header store. The successor producer (SPSC: at
/// handle creation; MPSC: `recover`) commits the dead reservation as discarded, and the
/// consumer drains everything else in order. The overflow area is primed so that the child's
/// spill starts at offset 80: a 20-byte reservation then ends exactly at the end of the area,
/// a 56-byte one crosses it (padding record at 96, the record at offset 0).
fn killed_mid_spill(mode: Mode, zero: bool, len: u64) {
    let ring = RecordRing::create_memfd(
        "records-ovf-kill",
        RecordConfig::new(128)
            .mode(mode)
            .overflow(128)
            .producers(2)
            .initial_position(0xffff_ffc0),
    )
    .unwrap();
    let label = format!("{mode:?} zero {zero} len {len}");
    {
        // Priming: 8 records fill the data area, 5 spill (80 bytes); drain them all.
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        for i in 0..13u64 {
            tx.push(&i.to_le_bytes()).unwrap();
        }
        for i in 0..13u64 {
            assert_eq!(rx.read().unwrap().to_vec(), &i.to_le_bytes());
        }
        assert_eq!(rx.read().err(), Some(ReadError::Empty));
        let c = ring.counters();
        assert_eq!((c.overflow_tail, c.overflow_active), (80, false), "{label}");
    }
    let fd = ring.memory().fd().expect("memfd");
    let mut peer = Peer::spawn_with_fds(
        "ovf_spill_and_hang",
        &[("len", len.to_string())],
        &[("fd", fd)],
    );
    let start = peer.expect("start").parse::<u32>().unwrap();
    let pushed = peer.expect("pushed").parse::<u32>().unwrap();
    let pos = peer.expect("position").parse::<u32>().unwrap();
    assert_eq!(start, 96, "{label}");
    assert_eq!(pos, if len == 56 { 128 } else { 96 }, "{label}");
    let mut rx = ring.consumer().unwrap();
    // Everything before the dead reservation is delivered, exactly (the consumer stops before
    // the reservation, so that zeroing below also removes a padding record it has not passed).
    for i in 0..pushed {
        assert_eq!(
            rx.read().unwrap().to_vec(),
            &u64::from(i).to_le_bytes(),
            "{label}"
        );
    }
    if !zero {
        // The padding record (if any) was committed at once; the record itself is pending.
        assert_eq!(
            rx.read().err(),
            Some(ReadError::Pending { position: pos }),
            "{label}"
        );
    }
    // Alive: recovery leaves it alone.
    assert_eq!(ring.recover().unwrap().positions, 0, "{label}");
    peer.child.kill().unwrap();
    peer.status = Some(peer.child.wait().unwrap());
    if zero {
        for p in [start, pos] {
            ovf_word(&ring, p).store(0, Ordering::Release);
        }
    }
    // Zeroed, the reservation is pending from its start (the padding record is gone too).
    let held = if zero { start } else { pos };
    assert_eq!(
        rx.read().err(),
        Some(ReadError::Pending { position: held }),
        "{label}"
    );
    // The successor: an SPSC producer recovers at creation; in MPSC, recovery is called.
    let mut tx = ring.producer().unwrap();
    if mode == Mode::Mpsc {
        let r = ring.recover().unwrap();
        assert_eq!((r.positions, r.records), (1, 1), "{label}");
    }
    assert_eq!(
        ring.recover().unwrap().positions,
        0,
        "{label}: nothing left"
    );
    tx.push(b"after").unwrap();
    assert_eq!(rx.read().unwrap().to_vec(), b"after", "{label}");
    assert_eq!(rx.read().err(), Some(ReadError::Empty), "{label}");
    let c = ring.counters();
    assert_eq!(c.discarded, 1, "{label}: {c:?}");
    assert!(!c.overflow_active, "{label}: {c:?}");
    // The ring goes on, spilling again: 8 records in the data area, 4 in the overflow area.
    for round in 0..50u64 {
        for i in 0..12u64 {
            tx.push(&(round * 12 + i).to_le_bytes())
                .unwrap_or_else(|e| {
                    panic!("{label}: round {round} {i}: {e}: {:?}", ring.counters())
                });
        }
        for i in 0..12u64 {
            assert_eq!(rx.read().unwrap().to_vec(), &(round * 12 + i).to_le_bytes());
        }
    }
    assert!(ring.counters().overflowed > c.overflowed, "{label}");
}

#[test]
fn killed_producer_mid_spill_is_recovered() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        for zero in [false, true] {
            for len in [20, 56] {
                killed_mid_spill(mode, zero, len);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The untrusted peer.

#[test]
fn hostile_overflow_state_and_headers_are_typed_errors() {
    let ring =
        RecordRing::create_heap(RecordConfig::new(64).mode(Mode::Mpsc).overflow(64)).unwrap();
    let line = ovf_line(&ring);
    let mut tx = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();
    for i in 0..6u8 {
        tx.push(&[i; 8]).unwrap();
    }
    for i in 0..4u8 {
        assert_eq!(rx.read().unwrap().to_vec(), &[i; 8]);
    }
    // A forged overflow position: out of range, misaligned.
    let good = line.state.load(Ordering::Relaxed);
    for bad in [good + 4096, good + 3, (good & !0xffff_ffff) | 0x8000_0000] {
        line.state.store(bad, Ordering::Relaxed);
        assert!(
            matches!(
                rx.read(),
                Err(ReadError::Corrupt(
                    RecordCorruption::OverflowIndicesOutOfRange { .. }
                ))
            ),
            "state {bad:#x}"
        );
        assert!(matches!(
            tx.push(b"x"),
            Err(ReserveError::Corrupt(_)) | Err(ReserveError::Full { .. })
        ));
    }
    line.state.store(good, Ordering::Relaxed);
    // A forged header: a length past the producer position.
    let w = ovf_word(&ring, 0);
    let h = w.load(Ordering::Relaxed);
    w.store(rl::header(0, 200, record_type::DATA, 0), Ordering::Relaxed);
    assert!(matches!(
        rx.read(),
        Err(ReadError::Corrupt(RecordCorruption::OverflowHeader {
            position: 0,
            ..
        }))
    ));
    w.store(h, Ordering::Relaxed);
    assert_eq!(rx.read().unwrap().to_vec(), &[4u8; 8]);
    // A forged overflow head seen by a new consumer handle.
    drop(rx);
    line.head.store(0x1234, Ordering::Relaxed);
    assert!(matches!(
        ring.consumer().err(),
        Some(HandleError::Corrupt(
            RecordCorruption::OverflowIndicesOutOfRange { .. }
        ))
    ));
    line.head.store(16, Ordering::Relaxed);
    let mut rx = ring.consumer().unwrap();
    assert_eq!(rx.read().unwrap().to_vec(), &[5u8; 8]);
    assert_eq!(rx.read().err(), Some(ReadError::Empty));
    // Recovery over a forged BUSY header in the overflow area stays bounded.
    let _ = ring.recover();
}

/// A hostile thread scribbles over the overflow line and area while an honest producer and
/// consumer run: typed errors or data, never a panic, an out-of-bounds access or a hang. (The
/// honest pair may then see errors, wrong bytes, or lose order: that is what the peer can do.)
#[test]
fn hostile_peer_scribbling_over_the_overflow_area() {
    let ring =
        RecordRing::create_heap(RecordConfig::new(64).mode(Mode::Mpsc).overflow(128)).unwrap();
    let stop = AtomicBool::new(false);
    let run = Duration::from_millis(1500);
    std::thread::scope(|s| {
        let (ring, stop) = (&ring, &stop);
        s.spawn(move || {
            let mut rng = Rng::new(7);
            let line = ovf_line(ring);
            while !stop.load(Ordering::Relaxed) {
                match rng.below(6) {
                    0 => line.state.store(rng.next(), Ordering::Relaxed),
                    1 => line.head.store(rng.next() as u32, Ordering::Relaxed),
                    2 => line
                        .state
                        .store(rng.next() & 0x1_ffff_fff8, Ordering::Relaxed),
                    _ => {
                        let off = rng.below(128) as u32;
                        let v = match rng.below(3) {
                            0 => rng.next(),
                            1 => {
                                rl::header(rng.below(512) as u32 & !7, rng.below(300) as u32, 2, 0)
                            }
                            _ => 0,
                        };
                        ovf_word(ring, off).store(v, Ordering::Relaxed);
                    }
                }
                if rng.below(64) == 0 {
                    std::thread::yield_now();
                }
            }
        });
        s.spawn(move || {
            let end = Instant::now() + run;
            while Instant::now() < end {
                if let Ok(mut tx) = ring.producer() {
                    for i in 0..64u32 {
                        let _ = tx.push(&tagged(1, i));
                        if let Ok(mut r) = tx.reserve((i % 30) as usize) {
                            r.write(0, &vec![9; (i % 30) as usize]);
                            if i % 3 == 0 {
                                r.discard();
                            } else {
                                r.commit();
                            }
                        }
                    }
                }
            }
        });
        let end = Instant::now() + run;
        let mut delivered = 0u64;
        while Instant::now() < end {
            match ring.consumer() {
                Ok(mut rx) => {
                    for _ in 0..200 {
                        match rx.read_batch(8, 4096, |r| {
                            let _ = r.to_vec().iter().map(|b| *b as u64).sum::<u64>();
                        }) {
                            Ok(n) => delivered += n as u64,
                            Err(_) => break,
                        }
                    }
                    let _ = rx.reap(1, 4, 4096, Some(Duration::from_millis(1)), |_| {});
                }
                Err(_) => std::thread::yield_now(),
            }
            let _ = ring.recover();
        }
        stop.store(true, Ordering::Relaxed);
        // Something got through at some point (the honest pair is not wedged for good).
        let _ = delivered;
    });
}

// ---------------------------------------------------------------------------------------------
// wait and wait_beyond (counted in records).

#[test]
fn wait_beyond_counts_records_in_both_areas() {
    use ring_core::record::RecordWaitError;
    use ring_core::WaitOutcome;
    let ring =
        RecordRing::create_heap(RecordConfig::new(64).mode(Mode::Mpsc).overflow(128)).unwrap();
    let mut rx = ring.consumer().unwrap();
    assert_eq!(
        rx.wait(1, Some(Duration::from_millis(5))).unwrap(),
        WaitOutcome::TimedOut(0)
    );
    assert_eq!(rx.wait(0, None).unwrap(), WaitOutcome::Ready(0));
    let mark = rx.delivered();
    // A producer thread: 10 records of 16 bytes, 4 in the data area, 6 spill.
    std::thread::scope(|s| {
        let ring = &ring;
        s.spawn(move || {
            let mut tx = ring.producer().unwrap();
            for i in 0..10u8 {
                std::thread::sleep(Duration::from_millis(1));
                tx.push(&[i; 8]).unwrap();
            }
        });
        let r = rx
            .wait_beyond(mark, 10, Some(Duration::from_secs(30)))
            .unwrap();
        assert_eq!(r, WaitOutcome::Ready(10));
    });
    assert_eq!(ring.counters().overflowed, 6);
    assert_eq!(rx.ready(usize::MAX), 10);
    assert_eq!(rx.ready(3), 3);
    // Delivered records still count beyond the mark; later marks count from there.
    for i in 0..5u8 {
        assert_eq!(rx.read().unwrap().to_vec(), &[i; 8]);
    }
    assert_eq!(rx.delivered().wrapping_sub(mark), 5);
    assert_eq!(
        rx.wait_beyond(mark, 10, None).unwrap(),
        WaitOutcome::Ready(10)
    );
    let later = rx.delivered();
    assert_eq!(
        rx.wait_beyond(later, 6, Some(Duration::from_millis(5)))
            .unwrap(),
        WaitOutcome::TimedOut(5)
    );
    // A pending record holds the count up (the records behind it cannot be read yet), and the
    // wait stays bounded; its commit (from another thread) ends the wait.
    while rx.read().is_ok() {}
    let mut a = ring.producer().unwrap();
    let mut b = ring.producer().unwrap();
    let held = a.reserve(4).unwrap();
    b.push(b"behind").unwrap();
    assert_eq!(rx.ready(usize::MAX), 0);
    let t0 = Instant::now();
    assert_eq!(
        rx.wait(1, Some(Duration::from_millis(150))).unwrap(),
        WaitOutcome::TimedOut(0)
    );
    assert!(t0.elapsed() < DEADLINE);
    std::thread::scope(|s| {
        s.spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            held.commit();
        });
        assert_eq!(
            rx.wait(2, Some(Duration::from_secs(30))).unwrap(),
            WaitOutcome::Ready(2)
        );
    });
    // Without a wait block it cannot sleep.
    let nowait = RecordRing::create_heap(RecordConfig::new(64).wait(false)).unwrap();
    let mut rx = nowait.consumer().unwrap();
    assert_eq!(
        rx.wait(1, Some(Duration::from_millis(5))).err(),
        Some(RecordWaitError::NoWaitBlock)
    );
}
