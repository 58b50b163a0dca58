//! Loom models of the byte ring (spec/RECORDS.md), driving the shipped `RecordProducer` /
//! `RecordConsumer` over `ring_core::record::model::HeapRecordRing`, whose data area is model
//! words (a loom atomic where headers live, a loom cell for payload bytes, so that a read of
//! an uncommitted payload, an overwrite of an unreleased one, or the consumer's zeroing racing a
//! producer's write is reported as a data race).
//!
//! Shape as in `protocols.rs`: every thread tries each operation a bounded number of times
//! (a producer gives up at the first record that does not fit; the consumer stops after a few
//! empty or pending reads), then the main thread drains the ring; every execution must deliver
//! exactly the records committed, each once, per producer in order, with their bytes.
#![cfg(ring_core_loom)]

use loom::sync::Arc;
use loom::thread;
use ring_core::record::model::HeapRecordRing;
use ring_core::record::{ReadError, RecordConsumer, ReserveError};
use ring_core::Mode;

const ATTEMPTS: usize = 3;

/// The payload of record `seq` of producer `p`, `len` bytes.
fn bytes(p: u8, seq: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| p.wrapping_mul(16) ^ seq ^ (i as u8) << 4)
        .collect()
}

/// Pushes records of these lengths in order, each with up to `ATTEMPTS` tries (odd ones through
/// `reserve` / `write` / `commit`, even ones through `push`); optionally discards a reservation
/// before each. Returns the payloads committed.
fn produce(ring: &HeapRecordRing, p: u8, lens: &[usize], discard_first: bool) -> Vec<Vec<u8>> {
    let mut tx = ring.producer().unwrap();
    let mut pushed = Vec::new();
    for (seq, &len) in lens.iter().enumerate() {
        if discard_first {
            match tx.reserve(1) {
                Ok(r) => r.discard(),
                Err(ReserveError::Full { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        let v = bytes(p, seq as u8, len);
        let mut ok = false;
        for _ in 0..ATTEMPTS {
            // Odd records through reserve, write and commit (MR3/MR4 as a caller drives them),
            // even ones through `push` (the same steps in one call).
            let r = if seq % 2 == 1 {
                tx.reserve(len).map(|mut rec| {
                    rec.write(0, &v);
                    rec.commit();
                })
            } else {
                tx.push(&v)
            };
            match r {
                Ok(()) => {
                    ok = true;
                    break;
                }
                Err(ReserveError::Full { .. }) => thread::yield_now(),
                Err(e) => panic!("producer {p}: {e}"),
            }
        }
        if !ok {
            break;
        }
        pushed.push(v);
    }
    pushed
}

/// Reads with up to `ATTEMPTS` consecutive empty/pending polls; returns the payloads.
fn consume(rx: &mut RecordConsumer, want: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut misses = 0;
    while got.len() < want && misses < ATTEMPTS {
        match rx.read() {
            Ok(r) => {
                let mut v = vec![0; r.len()];
                r.copy_to(0, &mut v);
                got.push(v);
                misses = 0;
            }
            Err(ReadError::Empty | ReadError::Pending { .. }) => {
                misses += 1;
                thread::yield_now();
            }
            Err(e) => panic!("consumer: {e}"),
        }
    }
    got
}

/// Drains what is left (every producer has finished, so nothing is pending).
fn drain(rx: &mut RecordConsumer) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    loop {
        match rx.read() {
            Ok(r) => {
                let mut v = vec![0; r.len()];
                r.copy_to(0, &mut v);
                got.push(v);
            }
            Err(ReadError::Empty) => return got,
            Err(e) => panic!("drain: {e}"),
        }
    }
}

/// SPSC over a 32-byte data area starting 8 bytes before the end and before the 2^32 wrap:
/// the first record needs a padding record, the second waits for the consumer to release the
/// first, the third lands at offset 0 again.
#[test]
fn records_spsc_wrap_with_padding() {
    loom::model(|| {
        let ring = Arc::new(HeapRecordRing::new(32, Mode::Spsc, u32::MAX - 7, false));
        let lens = [4usize, 1, 8];
        let p = {
            let ring = ring.clone();
            thread::spawn(move || produce(&ring, 0, &lens, false))
        };
        let mut rx = ring.consumer().unwrap();
        let mut got = consume(&mut rx, lens.len());
        let pushed = p.join().unwrap();
        got.extend(drain(&mut rx));
        assert_eq!(got, pushed);
        let c = ring.counters();
        assert_eq!(c.tail, c.head);
    });
}

/// MPSC: two producers race for reservations across the end of a 64-byte area (one of them
/// also discards a reservation first), while the consumer reads, zeroing what it releases.
#[test]
fn records_mpsc_reservation_race_with_discard() {
    loom::model(|| {
        let ring = Arc::new(HeapRecordRing::new(64, Mode::Mpsc, u32::MAX - 23, false));
        let a = {
            let ring = ring.clone();
            thread::spawn(move || produce(&ring, 1, &[8], false))
        };
        let b = {
            let ring = ring.clone();
            thread::spawn(move || produce(&ring, 2, &[3], true))
        };
        let mut rx = ring.consumer().unwrap();
        let mut got = consume(&mut rx, 2);
        let (pa, pb) = (a.join().unwrap(), b.join().unwrap());
        got.extend(drain(&mut rx));
        let mut want: Vec<Vec<u8>> = pa.into_iter().chain(pb).collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "exactly the committed records, each once");
        let c = ring.counters();
        assert_eq!(c.tail, c.head);
        assert_eq!(c.discarded, 1);
    });
}

/// MPSC, one producer per thread with two records each, small area: per-producer order across
/// refusals and the wrap.
#[test]
fn records_mpsc_per_producer_order() {
    loom::model(|| {
        let ring = Arc::new(HeapRecordRing::new(32, Mode::Mpsc, u32::MAX - 15, false));
        let a = {
            let ring = ring.clone();
            thread::spawn(move || produce(&ring, 1, &[2, 5], false))
        };
        let mut rx = ring.consumer().unwrap();
        let b = produce(&ring, 2, &[1], false);
        let mut got = consume(&mut rx, 3);
        let pa = a.join().unwrap();
        got.extend(drain(&mut rx));
        let of = |p: u8| -> Vec<Vec<u8>> {
            got.iter()
                .filter(|v| v.first().map(|b| b & 0xf0) == Some(p.wrapping_mul(16) & 0xf0))
                .cloned()
                .collect()
        };
        assert_eq!(of(1), pa, "producer 1 in order");
        assert_eq!(of(2), b, "producer 2");
        assert_eq!(got.len(), pa.len() + b.len());
    });
}

/// Recovery racing a live producer's reservation and commit: every owner is alive under the
/// model, so recovery must never commit anything, and the record arrives intact.
#[test]
fn records_mpsc_recovery_races_a_live_producer() {
    loom::model(|| {
        let ring = Arc::new(HeapRecordRing::new(32, Mode::Mpsc, u32::MAX - 15, false));
        let a = {
            let ring = ring.clone();
            thread::spawn(move || produce(&ring, 1, &[4, 8], false))
        };
        let r = ring.recover().unwrap();
        assert_eq!(r.positions, 0);
        let pushed = a.join().unwrap();
        let mut rx = ring.consumer().unwrap();
        assert_eq!(drain(&mut rx), pushed);
    });
}

/// The overflow area's hand-over (spec/RECORDS.md, section 13.4), SPSC: a 32-byte data area
/// (two 16-byte records) and a 32-byte overflow area. The producer pushes four records while
/// the consumer reads, so records spill, the consumer drains and deactivates the overflow area
/// while the producer may be spilling again (the hand-over race on `state`), and the producer
/// comes back to the data area. Every execution must deliver exactly the records committed, in
/// push order (a spilled record never overtakes an earlier data-area record, nor a later
/// data-area record an earlier spilled one), and leave the area inactive once drained.
#[test]
fn record_overflow_hand_over_keeps_order() {
    loom::model(|| {
        let ring = Arc::new(HeapRecordRing::with_overflow(
            32,
            32,
            Mode::Spsc,
            u32::MAX - 15,
            false,
        ));
        let lens = [8usize, 8, 8, 8];
        let p = {
            let ring = ring.clone();
            thread::spawn(move || produce(&ring, 0, &lens, false))
        };
        let mut rx = ring.consumer().unwrap();
        let mut got = consume(&mut rx, lens.len());
        let pushed = p.join().unwrap();
        got.extend(drain(&mut rx));
        assert_eq!(got, pushed, "every committed record once, in push order");
        let c = ring.counters();
        assert_eq!((c.tail, c.overflow_tail), (c.head, c.overflow_head));
        assert!(!c.overflow_active, "drained: deactivated");
    });
}

/// MPSC with an overflow area: two producers (one record each, then one more for producer 1)
/// race for the data area and the overflow area while the consumer reads; per-producer order
/// and no loss across the boundary, stragglers included.
#[test]
fn record_overflow_mpsc_per_producer_order() {
    loom::model(|| {
        let ring = Arc::new(HeapRecordRing::with_overflow(32, 32, Mode::Mpsc, 0, false));
        let a = {
            let ring = ring.clone();
            thread::spawn(move || produce(&ring, 1, &[8, 8], false))
        };
        let b = {
            let ring = ring.clone();
            thread::spawn(move || produce(&ring, 2, &[8], false))
        };
        let mut rx = ring.consumer().unwrap();
        let mut got = consume(&mut rx, 3);
        let (pa, pb) = (a.join().unwrap(), b.join().unwrap());
        got.extend(drain(&mut rx));
        let of = |p: u8| -> Vec<Vec<u8>> {
            got.iter()
                .filter(|v| v.first().map(|b| b & 0xf0) == Some(p.wrapping_mul(16) & 0xf0))
                .cloned()
                .collect()
        };
        assert_eq!(of(1), pa, "producer 1 in order");
        assert_eq!(of(2), pb, "producer 2");
        assert_eq!(got.len(), pa.len() + pb.len());
        assert!(!ring.counters().overflow_active);
    });
}
