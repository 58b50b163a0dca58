//! Small runs of every flavor for Miri (`cargo +nightly miri test -p ring-core --test
//! miri_small`, with `MIRIFLAGS=-Zmiri-disable-isolation`): heap rings, threads, a few laps
//! across the u32 wrap. They also run as ordinary tests (quickly).

use ring_core::{Config, Mode, PopError, Ring};

const MODES: [Mode; 4] = [Mode::Spsc, Mode::Mpsc, Mode::Spmc, Mode::Mpmc];

/// Every mode, with and without an overflow area: single pushes and pops, batches, a
/// reservation committed in part and one dropped, a view, across the wrap.
#[test]
fn every_flavor_on_one_thread() {
    for mode in MODES {
        for overflow in [0, 4] {
            let cfg = Config::new(4)
                .mode(mode)
                .overflow(overflow)
                .initial_index(u32::MAX - 5);
            let ring = Ring::<u64>::create_heap(cfg).unwrap();
            let (mut tx, mut rx) = ring.split().unwrap();
            let mut next = 0u64;
            let mut want = 0u64;
            for _ in 0..3 {
                tx.push(next).unwrap();
                next += 1;
                tx.push_all(&[next, next + 1]).unwrap();
                next += 2;
                let mut chunk = tx.reserve(2).unwrap();
                chunk.write(0, next);
                chunk.commit_first(1);
                next += 1;
                // Nothing written: given back (single producer) or discarded (several).
                if let Ok(chunk) = tx.reserve(1) {
                    drop(chunk);
                }
                let mut out = [0u64; 8];
                let n = rx.pop_into(&mut out[..2]).unwrap();
                for v in &out[..n] {
                    assert_eq!(*v, want, "{mode:?} {overflow}");
                    want += 1;
                }
                if let Ok(view) = rx.view(8) {
                    for v in view.iter() {
                        assert_eq!(v, want, "{mode:?} {overflow}");
                        want += 1;
                    }
                }
                while let Ok(v) = rx.pop() {
                    assert_eq!(v, want, "{mode:?} {overflow}");
                    want += 1;
                }
                assert_eq!(rx.pop(), Err(PopError::Empty));
            }
            assert_eq!(want, next, "{mode:?} {overflow}");
        }
    }
}

/// Two threads per mode (a producer and a consumer; two producers in MPSC), handles moved
/// into the threads and outliving the `Ring` value.
#[test]
fn threads_with_owned_handles() {
    for mode in MODES {
        let ring = Ring::<u64>::create_heap(
            Config::new(4)
                .mode(mode)
                .overflow(2)
                .initial_index(u32::MAX - 3),
        )
        .unwrap();
        let producers = if mode.multi_producer() { 2 } else { 1 };
        let txs: Vec<_> = (0..producers).map(|_| ring.producer().unwrap()).collect();
        let mut rx = ring.consumer().unwrap();
        drop(ring);
        let per = 12u64;
        let threads: Vec<_> = txs
            .into_iter()
            .enumerate()
            .map(|(p, mut tx)| {
                std::thread::spawn(move || {
                    for i in 0..per {
                        let mut v = (p as u64) << 32 | i;
                        loop {
                            match tx.push(v) {
                                Ok(()) => break,
                                Err(e) => v = e.into_inner(),
                            }
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut next = vec![0u64; producers];
        let mut got = 0;
        while got < per * producers as u64 {
            match rx.pop() {
                Ok(v) => {
                    let p = (v >> 32) as usize;
                    assert_eq!(v & 0xffff_ffff, next[p], "{mode:?}");
                    next[p] += 1;
                    got += 1;
                }
                Err(_) => std::thread::yield_now(),
            }
        }
        threads.into_iter().for_each(|t| t.join().unwrap());
    }
}

/// A peer that breaks the protocol inside this process: a third thread keeps moving the SPSC
/// ring's `tail` one position ahead of what the producer published, so the honest consumer
/// reads slots the honest producer is writing at the same time. The outcome is wrong values or
/// typed errors, and under Miri (whose data-race detector checks every access) no data race:
/// payloads are copied with word-sized atomic accesses on both sides (issue 14, item 5). With
/// plain copies Miri reports the race here.
#[test]
fn a_forged_index_races_no_payload() {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    use std::sync::Arc;
    let ring = Ring::<[u64; 2]>::create_heap(Config::new(4)).unwrap();
    let (mut tx, mut rx) = ring.split().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = if cfg!(miri) { 40 } else { 20_000 };
    let forger = {
        let (ring, stop) = (ring.clone(), stop.clone());
        std::thread::spawn(move || {
            let tail = &ring.lines().producer_line().tail;
            while !stop.load(Relaxed) {
                let t = tail.load(Relaxed);
                let _ = tail.compare_exchange(t, t.wrapping_add(1), Relaxed, Relaxed);
                std::thread::yield_now();
            }
        })
    };
    let producer = std::thread::spawn(move || {
        for i in 0..rounds {
            let _ = tx.push([i, !i]); // refused or accepted: either is fine here
            std::thread::yield_now();
        }
    });
    let mut taken = 0u64;
    for _ in 0..rounds {
        match rx.pop() {
            Ok(_) => taken += 1, // wrong bytes are possible: nothing to check
            Err(PopError::Empty | PopError::Corrupt(_) | PopError::Closed) => {}
        }
        std::thread::yield_now();
    }
    producer.join().unwrap();
    stop.store(true, Relaxed);
    forger.join().unwrap();
    let _ = taken;
}

/// An MPSC record ring on one thread across the wrap: records of 0 to 40 payload bytes (released
/// by the consumer's inline zeroing of 16- to 32-byte records and the out-of-line one), and
/// completions read with `completion()` and `known()`: under Miri no out-of-bounds access and
/// no uninitialised read; every released byte reads 0 again.
#[test]
fn mpsc_records_released_inline_and_out_of_line() {
    use ring_core::record::attrs::{attr_id, completion_len, AttrWriter, Known};
    use ring_core::record::{RecordConfig, RecordRing};
    use ring_core::Completion;
    let ring = RecordRing::create_heap(RecordConfig::new(128).mode(Mode::Mpsc)).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    for i in 0..24u32 {
        let len = (i % 6) as usize * 8;
        tx.push(&vec![i as u8 | 1; len]).unwrap();
        assert_eq!(rx.read().unwrap().to_vec(), vec![i as u8 | 1; len]);
        let mut rec = tx.reserve(completion_len(&[4])).unwrap();
        let mut w = AttrWriter::new(&mut rec, Completion::new(u64::from(i), 0, 0)).unwrap();
        w.push_u32(attr_id::WORKER_CPU, i).unwrap();
        w.finish();
        rec.commit();
        let r = rx.read().unwrap();
        let (c, list) = r.completion().unwrap();
        assert_eq!(c.user_data, u64::from(i));
        assert_eq!(list.known().next(), Some(Ok(Known::WorkerCpu(i))));
    }
    let base = ring.memory().as_ptr();
    let g = *ring.geometry();
    for k in 0..g.capacity as usize {
        // SAFETY: inside the data area of the live region; no other handle runs.
        let b = unsafe { *base.add(g.data_offset as usize + k) };
        assert_eq!(b, 0, "byte {k}");
    }
}

/// The record ring's copies, under a forger that writes plausible committed headers at the
/// positions the honest producer is about to fill, so that the consumer copies records the
/// producer is writing: wrong bytes or typed errors, and under Miri no data race, because the
/// producer's `push` and the consumer's `pop_into` copy payloads with atomic accesses.
#[test]
fn a_forged_record_header_races_no_payload() {
    use ring_core::record::layout::{self as rl, record_type};
    use ring_core::record::{RecordConfig, RecordRing};
    use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
    use std::sync::Arc;
    let ring = Arc::new(RecordRing::create_heap(RecordConfig::new(64)).unwrap());
    let g = *ring.geometry();
    let base = ring.memory().as_ptr() as usize;
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = if cfg!(miri) { 30 } else { 20_000 };
    let forger = {
        let (ring, stop) = (ring.clone(), stop.clone());
        std::thread::spawn(move || {
            let _keep = &ring;
            // SAFETY: the consumer line's head word, inside the live region; atomic access.
            let head = unsafe { &*((base + g.consumer_offset as usize) as *const AtomicU32) };
            let mut k = 0u32;
            while !stop.load(Relaxed) {
                let pos = head.load(Relaxed).wrapping_add(8 * (k % 4));
                let off = g.data_offset as usize + (pos % g.capacity) as usize;
                // SAFETY: an 8-aligned header word inside the data area; atomic access.
                let word = unsafe { &*((base + off) as *const AtomicU64) };
                word.store(rl::header(pos, 16, record_type::DATA, 0), Relaxed);
                k = k.wrapping_add(1);
                std::thread::yield_now();
            }
        })
    };
    let producer = std::thread::spawn(move || {
        for i in 0..rounds {
            let _ = tx.push(&[i as u8; 16]); // refused or accepted: either is fine here
            std::thread::yield_now();
        }
    });
    let mut buf = Vec::new();
    for _ in 0..rounds {
        let _ = rx.pop_into(&mut buf); // data, wrong bytes or a typed error: all fine here
        std::thread::yield_now();
    }
    producer.join().unwrap();
    stop.store(true, Relaxed);
    forger.join().unwrap();
}

/// The dispatch-free handles' chunks and views (`Lane::runs` without bounds checks, views read
/// eight slots per step) across the wrap between two threads, and the record ring's copying
/// `completion()` (inline and heap-held payloads) under a forger rewriting the record being
/// read: under Miri no out-of-bounds access, no uninitialised read, no data race.
#[test]
fn spsc_chunks_views_and_copied_completions() {
    use ring_core::record::attrs::{attr_status, completion_len, AttrWriter};
    use ring_core::record::{RecordConfig, RecordRing};
    use ring_core::Completion;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
    use std::sync::Arc;
    let n = if cfg!(miri) { 60u64 } else { 20_000 };
    let ring = Ring::<u64>::create_heap(Config::new(16).initial_index(u32::MAX - 9)).unwrap();
    let (tx, rx) = ring.split().unwrap();
    let (mut tx, mut rx) = (tx.into_spsc().unwrap(), rx.into_spsc().unwrap());
    let producer = std::thread::spawn(move || {
        let mut next = 0u64;
        while next < n {
            if let Ok(mut chunk) = tx.reserve((next % 11 + 1) as usize) {
                next += chunk.fill_from(next..n) as u64;
                chunk.commit();
            }
            std::thread::yield_now();
        }
        tx.close();
    });
    let mut want = 0u64;
    loop {
        match rx.view(13) {
            Ok(view) => view.iter().for_each(|v| {
                assert_eq!(v, want);
                want += 1;
            }),
            Err(PopError::Empty) => std::thread::yield_now(),
            Err(PopError::Closed) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    producer.join().unwrap();
    assert_eq!(want, n);

    // Completions of 1 and of 9 attributes (inline and heap-held copies), while a forger
    // rewrites payload words of the record being read.
    let ring = Arc::new(RecordRing::create_heap(RecordConfig::new(512)).unwrap());
    let g = *ring.geometry();
    let base = ring.memory().as_ptr() as usize;
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let forger = {
        let (ring, stop) = (ring.clone(), stop.clone());
        std::thread::spawn(move || {
            let _keep = &ring;
            let mut k = 0usize;
            while !stop.load(Relaxed) {
                // Payload words of the completion records, which start at 0 and 256 (their
                // headers, and the filler records' after them, are never touched).
                let off = g.data_offset as usize + [16, 24, 272, 280][k % 4];
                // SAFETY: an 8-aligned word inside the data area; atomic access.
                unsafe { &*((base + off) as *const AtomicU64) }.store(k as u64, Relaxed);
                k += 1;
                std::thread::yield_now();
            }
        })
    };
    for attrs in [1usize, 9, 1, 9] {
        let lens = vec![8usize; attrs];
        let mut rec = tx.reserve(completion_len(&lens)).unwrap();
        let mut w = AttrWriter::new(&mut rec, Completion::new(7, 0, 0)).unwrap();
        for i in 0..attrs {
            w.push(0x8000 + i as u16, attr_status::HANDLED, &[i as u8; 8])
                .unwrap();
        }
        w.finish();
        rec.commit();
        let r = rx.read().unwrap();
        // Wrong bytes or a malformed list are possible (the forger): both are fine here.
        if let Ok((_, list)) = r.completion() {
            let _ = list.iter().count();
            // The decoder's word loads (`KnownAttrs`), over inline and heap-held lists.
            let _ = list.known().count();
        }
        drop(r);
        // Pad to the next half of the area, so that records start at 0 and 256.
        let used = (8 + completion_len(&lens) + 7) & !7;
        if used < 256 {
            let mut pad = tx.reserve(256 - used - 8).unwrap();
            pad.write(0, &[0]);
            pad.commit();
            rx.read().unwrap();
        }
    }
    stop.store(true, Relaxed);
    forger.join().unwrap();
}
