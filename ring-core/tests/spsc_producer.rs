//! `SpscProducer`: the dispatch-free producer of packed SPSC rings does what `Producer` does.

use ring_core::{Config, Corruption, Mode, PopError, PushAllError, PushError, Ring, WaitOutcome};
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

fn ring(cap: u32, init: u32) -> Ring<u64> {
    Ring::<u64>::create_heap(Config::new(cap).initial_index(init)).unwrap()
}

#[test]
fn only_packed_spsc_rings_give_one() {
    for cfg in [
        Config::new(8).mode(Mode::Mpsc),
        Config::new(8).mode(Mode::Spmc),
        Config::new(8).overflow(8),
        Config::new(8).packed(false),
        Config::new(8).legacy(true),
    ] {
        let ring = Ring::<u64>::create_heap(cfg).unwrap();
        let tx = ring.producer().unwrap();
        let mut tx = tx.into_spsc().expect_err("not a packed SPSC ring");
        tx.push(1).unwrap(); // handed back intact
    }
    assert!(ring(8, 0).producer().unwrap().into_spsc().is_ok());
}

#[test]
fn pushes_across_the_wrap_and_counts_refusal_episodes() {
    for init in [0, u32::MAX - 5, u32::MAX] {
        let ring = ring(4, init);
        let (tx, mut rx) = ring.split().unwrap();
        let mut tx = tx.into_spsc().unwrap();
        let mut next_in = 0u64;
        let mut next_out = 0u64;
        for round in 0..20 {
            // Fill, then a few refused pushes: one episode each round.
            while tx.push(next_in).is_ok() {
                next_in += 1;
            }
            assert_eq!(tx.push(99), Err(PushError::Full(99)));
            assert_eq!(tx.push_all(&[1]), Err(PushAllError::Full { free: 0 }));
            assert_eq!(tx.push_some(&[1, 2]), Ok(0));
            assert_eq!(ring.counters().full_refusals, round + 1, "init {init:#x}");
            // Drain part of it, then batches.
            for _ in 0..3 {
                assert_eq!(rx.pop(), Ok(next_out));
                next_out += 1;
            }
            let vals: Vec<u64> = (next_in..next_in + 5).collect();
            assert_eq!(tx.push_all(&vals[..4]), Err(PushAllError::Full { free: 3 }));
            let k = tx.push_some(&vals).unwrap();
            assert_eq!(k, 3);
            next_in += k as u64;
            let mut out = [0u64; 8];
            let n = rx.pop_into(&mut out).unwrap();
            assert_eq!(n, 4);
            for v in &out[..n] {
                assert_eq!(*v, next_out);
                next_out += 1;
            }
        }
        assert_eq!(
            tx.push_all(&[0; 5]),
            Err(PushAllError::TooLarge { capacity: 4 })
        );
        assert_eq!(ring.counters().tail, init.wrapping_add(next_in as u32));
    }
}

#[test]
fn a_corrupt_head_hands_the_entry_back() {
    let init = u32::MAX - 1;
    let ring = ring(4, init);
    let mut tx = ring.producer().unwrap().into_spsc().unwrap();
    tx.push_all(&[1, 2, 3, 4]).unwrap();
    let tail = init.wrapping_add(4);
    let head = &ring.lines().consumer_line().head;
    for bad in [
        tail.wrapping_add(1),
        tail.wrapping_sub(5),
        tail ^ 0x8000_0000,
    ] {
        head.store(bad, SeqCst);
        let c = Corruption::IndicesOutOfRange { tail, head: bad };
        assert_eq!(tx.push(9), Err(PushError::Corrupt(9, c)));
        assert_eq!(tx.push_all(&[9]), Err(PushAllError::Corrupt(c)));
        assert_eq!(tx.push_some(&[9]), Err(c));
        assert_eq!(ring.counters().tail, tail, "nothing published");
        assert_eq!(ring.counters().full_refusals, 0, "not counted as full");
    }
    head.store(init.wrapping_add(2), SeqCst);
    tx.push(5).unwrap();
}

#[test]
fn turns_back_into_a_producer_and_hands_the_side_over() {
    let ring = ring(8, 0);
    let mut rx = ring.consumer().unwrap();
    let mut fast = ring.producer().unwrap().into_spsc().unwrap();
    fast.push_all(&[1, 2, 3]).unwrap();
    // The producer it turns back into goes on where it left off.
    let mut tx = fast.into_producer();
    let mut chunk = tx.reserve(2).unwrap();
    chunk.write(0, 4);
    chunk.write(1, 5);
    chunk.commit();
    let mut fast = tx.into_spsc().unwrap();
    fast.push(6).unwrap();
    // Released: the side is free for another producer, which goes on too.
    fast.release();
    assert!(!ring.stream().closed);
    let mut next = ring.producer().unwrap().into_spsc().unwrap();
    next.push(7).unwrap();
    let mut out = [0u64; 8];
    assert_eq!(rx.pop_into(&mut out), Ok(7));
    assert_eq!(out[..7], [1, 2, 3, 4, 5, 6, 7]);
    // Closed: the consumer sees the end after the last entry.
    next.push(8).unwrap();
    next.close();
    assert!(ring.stream().closed);
    assert_eq!(rx.pop(), Ok(8));
    assert_eq!(rx.pop(), Err(PopError::Closed));
}

/// Two threads, entries in order, and a consumer that sleeps: every sleep is ended by a
/// wake-up, not by its (long) timeout.
#[test]
fn two_threads_in_order_with_a_sleeping_consumer() {
    const N: u64 = 200_000;
    let ring = ring(64, u32::MAX - 1000);
    let (tx, mut rx) = ring.split().unwrap();
    let mut tx = tx.into_spsc().unwrap();
    let producer = std::thread::spawn(move || {
        for i in 0..N {
            let mut v = i;
            loop {
                match tx.push(v) {
                    Ok(()) => break,
                    Err(PushError::Full(back)) => {
                        v = back;
                        std::hint::spin_loop();
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            if i % 50_000 == 0 {
                std::thread::sleep(Duration::from_millis(5)); // let the consumer sleep
            }
        }
        tx.close();
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut next = 0u64;
    let mut buf = [0u64; 64];
    loop {
        assert!(Instant::now() < deadline, "stuck at {next}");
        match rx.wait(1, Some(Duration::from_secs(20))) {
            Ok(WaitOutcome::Ready(_)) => {}
            Ok(WaitOutcome::Closed(_)) => {}
            Ok(other) => panic!("a wake-up was missed: {other:?} at {next}"),
            Err(e) => panic!("{e:?}"),
        }
        match rx.pop_into(&mut buf) {
            Ok(n) => {
                for v in &buf[..n] {
                    assert_eq!(*v, next);
                    next += 1;
                }
            }
            Err(PopError::Closed) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    producer.join().unwrap();
    assert_eq!(next, N);
}

/// `SpscProducer`'s chunks: written in place across the wrap, committed whole or in part,
/// dropped without a commit (nothing published), refused when full or too large; what a
/// `SpscConsumer` view reads is exactly what was committed, in order.
#[test]
fn chunks_commit_in_place_across_the_wrap() {
    for init in [0, u32::MAX - 5, u32::MAX] {
        let ring = Ring::<u64>::create_heap(Config::new(8).initial_index(init)).unwrap();
        let (tx, rx) = ring.split().unwrap();
        let (mut tx, mut rx) = (tx.into_spsc().unwrap(), rx.into_spsc().unwrap());
        let (mut next_in, mut next_out) = (0u64, 0u64);
        for round in 0..40 {
            // A chunk dropped without a commit publishes nothing and is taken back.
            {
                let mut chunk = tx.reserve(3).unwrap();
                chunk.fill_from([900, 901, 902]);
            }
            let mut chunk = tx.reserve(5).unwrap();
            let len = chunk.len();
            assert!((1..=5).contains(&len));
            for i in 0..len {
                chunk.write(i, next_in + i as u64);
            }
            // Every third round publishes only part of what it wrote.
            let keep = if round % 3 == 0 { len / 2 } else { len };
            assert_eq!(chunk.commit_first(keep), keep);
            next_in += keep as u64;
            let view = rx
                .view(3)
                .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
            let got: Vec<u64> = view.iter().collect();
            assert_eq!(got.len(), view.len());
            for v in got {
                assert_eq!(v, next_out);
                next_out += 1;
            }
        }
        // A chunk filled in part publishes only what was written.
        while let Ok(view) = rx.view(8) {
            for v in view.iter() {
                assert_eq!(v, next_out);
                next_out += 1;
            }
        }
        {
            let mut chunk = tx.reserve(4).unwrap();
            assert!(chunk.len() >= 2);
            assert_eq!(chunk.fill_from([next_in]), 1);
            assert_eq!(chunk.written(), 1);
            assert_eq!(chunk.commit(), 1);
            next_in += 1;
            let view = rx.view(8).unwrap();
            assert_eq!(view.len(), 1, "only the written entry is published");
            assert_eq!(view.iter().collect::<Vec<_>>(), [next_out]);
            next_out += 1;
        }
        // Fill the ring with chunks, then the refusals.
        while let Ok(mut chunk) = tx.reserve(3) {
            let n = chunk.fill_from(next_in..);
            assert_eq!(n, chunk.len(), "an endless source fills the chunk");
            next_in += chunk.commit() as u64;
        }
        assert_eq!(tx.reserve(1).err(), Some(PushAllError::Full { free: 0 }));
        assert_eq!(
            tx.reserve_exact(1).err(),
            Some(PushAllError::Full { free: 0 })
        );
        assert_eq!(
            tx.reserve_exact(9).err(),
            Some(PushAllError::TooLarge { capacity: 8 })
        );
        let empty = tx.reserve(0).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.commit(), 0);
        let mut out = Vec::new();
        while let Ok(view) = rx.view(5) {
            out.extend(view.iter());
        }
        assert_eq!(out, (next_out..next_in).collect::<Vec<_>>());
        assert_eq!(ring.counters().full_refusals, 1, "one refusal episode");
    }
}

/// A chunk's writes must start at entry 0 and go in order.
#[test]
#[should_panic(expected = "write out of order or range")]
fn chunk_writes_in_order() {
    let ring = Ring::<u64>::create_heap(Config::new(4)).unwrap();
    let mut tx = ring.producer().unwrap().into_spsc().unwrap();
    let mut chunk = tx.reserve(4).unwrap();
    chunk.write(1, 5);
}

/// `reserve_exact` gives exactly `n` or nothing, and a commit wakes a waiting consumer.
#[test]
fn exact_chunks_and_wake_ups() {
    let ring = Ring::<u64>::create_heap(Config::new(8).wait(true)).unwrap();
    let (tx, mut rx) = ring.split().unwrap();
    let mut tx = tx.into_spsc().unwrap();
    let waiter = std::thread::scope(|s| {
        let h = s.spawn(move || {
            let r = rx.wait(3, Some(Duration::from_secs(20)));
            (r, rx)
        });
        std::thread::sleep(Duration::from_millis(20));
        let mut chunk = tx.reserve_exact(3).unwrap();
        assert_eq!(chunk.len(), 3);
        assert_eq!(chunk.fill_from([1, 2, 3, 4]), 3);
        assert_eq!(chunk.commit(), 3);
        h.join().unwrap()
    });
    let (r, mut rx) = waiter;
    assert_eq!(r, Ok(WaitOutcome::Ready(3)));
    let mut out = [0u64; 8];
    assert_eq!(rx.pop_into(&mut out), Ok(3));
    assert_eq!(out[..3], [1, 2, 3]);
    let mut tx = tx;
    assert_eq!(
        tx.reserve_exact(9).err(),
        Some(PushAllError::TooLarge { capacity: 8 })
    );
    assert!(tx.reserve_exact(8).is_ok());
}
