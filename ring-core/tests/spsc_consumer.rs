//! `SpscConsumer`: the dispatch-free consumer of packed SPSC rings does what `Consumer` does.

use ring_core::{Config, Corruption, Mode, PopError, Ring};
use std::sync::atomic::Ordering::SeqCst;

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
        let rx = ring.consumer().unwrap();
        let mut rx = rx.into_spsc().expect_err("not a packed SPSC ring");
        assert_eq!(rx.pop(), Err(PopError::Empty)); // handed back intact
    }
}

#[test]
fn pops_across_the_wrap_and_reports_the_end() {
    for init in [0, u32::MAX - 5, u32::MAX] {
        let ring = Ring::<u64>::create_heap(Config::new(4).initial_index(init)).unwrap();
        let (tx, rx) = ring.split().unwrap();
        let mut tx = tx.into_spsc().unwrap();
        let mut rx = rx.into_spsc().unwrap();
        let (mut next_in, mut next_out) = (0u64, 0u64);
        for _ in 0..20 {
            assert_eq!(rx.pop(), Err(PopError::Empty));
            assert_eq!(rx.pop_into(&mut [0; 4]), Ok(0));
            assert_eq!(rx.pop_into(&mut []), Ok(0));
            let k = tx
                .push_some(&[next_in, next_in + 1, next_in + 2, next_in + 3])
                .unwrap();
            next_in += k as u64;
            assert_eq!(rx.pop(), Ok(next_out));
            next_out += 1;
            let mut out = [0u64; 2];
            let n = rx.pop_into(&mut out).unwrap();
            for v in &out[..n] {
                assert_eq!(*v, next_out);
                next_out += 1;
            }
            while let Ok(v) = rx.pop() {
                assert_eq!(v, next_out);
                next_out += 1;
            }
        }
        assert_eq!(next_in, next_out);
        assert_eq!(ring.counters().head, init.wrapping_add(next_out as u32));
        tx.push(next_in).unwrap();
        tx.close();
        assert_eq!(rx.pop_into(&mut [0; 4]), Ok(1), "the entry before the end");
        assert_eq!(rx.pop_into(&mut [0; 4]), Err(PopError::Closed));
        assert_eq!(rx.pop(), Err(PopError::Closed));
        assert_eq!(
            rx.pop_into(&mut []),
            Ok(0),
            "an empty buffer is never the end"
        );
    }
}

#[test]
fn a_corrupt_tail_is_a_typed_error() {
    let init = u32::MAX - 1;
    let ring = Ring::<u64>::create_heap(Config::new(4).initial_index(init)).unwrap();
    let mut rx = ring.consumer().unwrap().into_spsc().unwrap();
    let tail = &ring.lines().producer_line().tail;
    for bad in [
        init.wrapping_add(5),
        init.wrapping_sub(1),
        init ^ 0x4000_0000,
    ] {
        tail.store(bad, SeqCst);
        let c = Corruption::IndicesOutOfRange {
            tail: bad,
            head: init,
        };
        assert_eq!(rx.pop(), Err(PopError::Corrupt(c)));
        assert_eq!(rx.pop_into(&mut [0; 3]), Err(PopError::Corrupt(c)));
        assert_eq!(ring.counters().head, init, "nothing consumed");
    }
    tail.store(init, SeqCst);
    assert_eq!(rx.pop(), Err(PopError::Empty));
}

#[test]
fn turns_back_into_a_consumer_that_goes_on() {
    let ring = Ring::<u64>::create_heap(Config::new(8)).unwrap();
    let (mut tx, rx) = ring.split().unwrap();
    tx.push_all(&[1, 2, 3, 4]).unwrap();
    let mut fast = rx.into_spsc().unwrap();
    assert_eq!(fast.pop(), Ok(1));
    let mut rx = fast.into_consumer();
    assert_eq!(rx.pop(), Ok(2));
    let fast = rx.into_spsc().unwrap();
    // Dropped: the side is free, and the next consumer starts where this one stopped.
    drop(fast);
    let mut next = ring.consumer().unwrap().into_spsc().unwrap();
    assert_eq!(next.pop(), Ok(3));
    assert_eq!(next.capacity(), 8);
}

/// `SpscConsumer::view`: claims what is published (at most `max`), releases it when dropped,
/// reports the end after the last entry, and refuses a forged `tail`.
#[test]
fn views_release_on_drop_and_report_the_end() {
    for init in [0, u32::MAX - 2, u32::MAX] {
        let ring = Ring::<u64>::create_heap(Config::new(4).initial_index(init)).unwrap();
        let (mut tx, rx) = ring.split().unwrap();
        let mut rx = rx.into_spsc().unwrap();
        assert_eq!(rx.view(4).err(), Some(PopError::Empty));
        let mut expect = 0u64;
        for round in 0..10u64 {
            let base = round * 3;
            tx.push_all(&[base, base + 1, base + 2]).unwrap();
            assert_eq!(rx.view(0).err(), Some(PopError::Empty));
            {
                let view = rx.view(2).unwrap();
                assert_eq!(view.len(), 2);
                assert!(!view.is_empty());
                // Iterating twice reads the same claimed entries.
                assert_eq!(view.iter().collect::<Vec<_>>(), [base, base + 1]);
                assert_eq!(view.iter().count(), 2);
                assert_eq!(ring.len(), 3, "claimed until the view drops");
            }
            assert_eq!(ring.len(), 1);
            let view = rx.view(8).unwrap();
            assert_eq!(view.iter().collect::<Vec<_>>(), [base + 2]);
            drop(view);
            expect += 3;
        }
        assert_eq!(ring.counters().head, init.wrapping_add(expect as u32));
        tx.close();
        assert_eq!(rx.view(1).err(), Some(PopError::Closed));
    }
    // A forged tail a lap and more ahead of the head is refused, not read.
    let ring = Ring::<u64>::create_heap(Config::new(4)).unwrap();
    let rx = ring.consumer().unwrap();
    let mut rx = rx.into_spsc().unwrap();
    ring.lines().producer_line().tail.store(9, SeqCst);
    assert!(matches!(
        rx.view(2),
        Err(PopError::Corrupt(Corruption::IndicesOutOfRange {
            tail: 9,
            head: 0
        }))
    ));
}

/// Chunks and views between two threads: every entry once, in order, across many wraps.
#[test]
fn chunks_and_views_between_threads() {
    const N: u64 = 200_000;
    let ring = Ring::<u64>::create_heap(Config::new(64).initial_index(u32::MAX - 100)).unwrap();
    let (tx, rx) = ring.split().unwrap();
    let (mut tx, mut rx) = (tx.into_spsc().unwrap(), rx.into_spsc().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut next = 0u64;
            while next < N {
                assert!(std::time::Instant::now() < deadline, "producer stuck");
                let want = ((next % 13) + 1).min(N - next) as usize;
                match tx.reserve(want) {
                    Ok(mut chunk) => {
                        let n = chunk.fill_from(next..);
                        assert_eq!(chunk.commit(), n);
                        next += n as u64;
                    }
                    Err(_) => std::hint::spin_loop(),
                }
            }
            tx.close();
        });
        let mut expect = 0u64;
        loop {
            assert!(std::time::Instant::now() < deadline, "consumer stuck");
            match rx.view(17) {
                Ok(view) => {
                    for v in view.iter() {
                        assert_eq!(v, expect);
                        expect += 1;
                    }
                }
                Err(PopError::Empty) => std::hint::spin_loop(),
                Err(PopError::Closed) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(expect, N);
    });
}
