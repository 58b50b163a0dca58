//! Every mode (SPSC, MPSC, SPMC, MPMC), every operation, across the u32 index wrap.
//!
//! Single-threaded sequences check exact results (FIFO order, `Full`/`Empty`, counters, index
//! values); the threaded stress checks that nothing is lost, duplicated or reordered per
//! producer. Every wait is bounded by a deadline so that a bug fails the test instead of
//! hanging it.

mod common;

use common::Rng;
use ring_core::{
    ClaimError, Config, Consumer, LayoutError, Mode, PopError, Producer, PushAllError, PushError,
    RegionError, Ring, Side,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MODES: [Mode; 4] = [Mode::Spsc, Mode::Mpsc, Mode::Spmc, Mode::Mpmc];
const CAPACITIES: [u32; 3] = [2, 4, 64];
/// Longest any spin-wait in this file may last before the test fails.
const DEADLINE: Duration = Duration::from_secs(30);

/// The initial indices tried for a capacity: 0, and values that make the indices wrap across
/// `u32::MAX` within the first lap or two.
fn initials(cap: u32) -> [u32; 4] {
    [0, u32::MAX - 3, u32::MAX - cap / 2, u32::MAX]
}

/// Runs `f` for every mode, capacity and initial index.
fn for_each_config(mut f: impl FnMut(Mode, u32, u32, &str)) {
    for mode in MODES {
        for cap in CAPACITIES {
            for init in initials(cap) {
                let ctx = format!("{mode:?} cap {cap} initial {init:#x}");
                f(mode, cap, init, &ctx);
            }
        }
    }
}

fn ring(mode: Mode, cap: u32, init: u32) -> Ring<u64> {
    Ring::<u64>::create_heap(Config::new(cap).mode(mode).initial_index(init)).expect("create")
}

/// [`ring`] with a producer and a consumer handle: the setup most single-threaded tests start
/// with.
fn ring_with_handles(mode: Mode, cap: u32, init: u32) -> (Ring<u64>, Producer<u64>, Consumer<u64>) {
    let ring = ring(mode, cap, init);
    let tx = ring.producer().unwrap();
    let rx = ring.consumer().unwrap();
    (ring, tx, rx)
}

// ---------------------------------------------------------------------------------------------
// Single push / pop
// ---------------------------------------------------------------------------------------------

#[test]
fn single_push_pop_fill_drain_many_laps() {
    for_each_config(|mode, cap, init, ctx| {
        let (ring, mut tx, mut rx) = ring_with_handles(mode, cap, init);
        let (mut pushed, mut popped, mut refusals) = (0u64, 0u64, 0u64);
        assert_eq!(rx.pop(), Err(PopError::Empty), "{ctx}: new ring not empty");
        assert!(ring.is_empty(), "{ctx}");
        // Each lap starts at a different offset in the slot array: `skew` entries are pushed and
        // popped first.
        for lap in 0..(3 * cap as u64 + 5) {
            let skew = lap % (cap as u64);
            for _ in 0..skew {
                pushed += 1;
                tx.push(pushed).unwrap();
                popped += 1;
                assert_eq!(rx.pop(), Ok(popped), "{ctx}: skew pop");
            }
            for i in 0..cap {
                assert_eq!(ring.len(), i, "{ctx}: len while filling");
                pushed += 1;
                assert_eq!(tx.push(pushed), Ok(()), "{ctx}: lap {lap} push {i}");
            }
            assert_eq!(ring.len(), cap, "{ctx}: full len");
            // Full: the value is handed back every time; the three refusals in a row are one
            // refusal episode (the pushes before them were granted), counted once.
            for k in 0..3u64 {
                let v = 1_000_000 + k;
                assert_eq!(tx.push(v), Err(PushError::Full(v)), "{ctx}: lap {lap} full");
            }
            refusals += 1;
            let c = ring.counters();
            assert_eq!(
                c.tail,
                init.wrapping_add(pushed as u32),
                "{ctx}: tail at full"
            );
            assert_eq!(
                c.head,
                init.wrapping_add(popped as u32),
                "{ctx}: head at full"
            );
            assert_eq!(c.full_refusals, refusals, "{ctx}: full_refusals");
            assert_eq!(c.discarded, 0, "{ctx}");
            for _ in 0..cap {
                popped += 1;
                assert_eq!(rx.pop(), Ok(popped), "{ctx}: lap {lap} FIFO");
            }
            assert_eq!(rx.pop(), Err(PopError::Empty), "{ctx}: lap {lap} drained");
            assert_eq!(
                rx.pop(),
                Err(PopError::Empty),
                "{ctx}: lap {lap} drained twice"
            );
            assert!(ring.is_empty(), "{ctx}");
            let c = ring.counters();
            assert_eq!(c.tail, c.head, "{ctx}: empty means tail == head");
            assert_eq!(
                c.head,
                init.wrapping_add(popped as u32),
                "{ctx}: head after drain"
            );
        }
        // The run went through the wrap for the near-MAX initial indices.
        if init != 0 {
            assert!(ring.counters().tail < init, "{ctx}: tail did not wrap");
        }
        assert_eq!(ring.counters().full_refusals, refusals, "{ctx}");
    });
}

#[test]
fn interleaved_push_pop_random_fill_levels() {
    // A model check against VecDeque with random operation sequences.
    for_each_config(|mode, cap, init, ctx| {
        let (ring, mut tx, mut rx) = ring_with_handles(mode, cap, init);
        let mut model = std::collections::VecDeque::new();
        let mut rng = Rng::new(u64::from(cap) ^ u64::from(init) ^ mode as u64);
        let mut next = 1u64;
        // Refusal episodes: a refused push counts only if the previous push was granted (or
        // there was none); pops in between do not end an episode.
        let (mut refusals, mut refusing) = (0, false);
        for step in 0..(40 * cap as usize + 200) {
            if rng.below(2) == 0 {
                let r = tx.push(next);
                if model.len() < cap as usize {
                    assert_eq!(r, Ok(()), "{ctx}: step {step}");
                    model.push_back(next);
                    next += 1;
                    refusing = false;
                } else {
                    assert_eq!(r, Err(PushError::Full(next)), "{ctx}: step {step}");
                    if !refusing {
                        refusals += 1;
                        refusing = true;
                    }
                }
            } else {
                let want = model.pop_front().ok_or(PopError::Empty);
                assert_eq!(rx.pop(), want, "{ctx}: step {step}");
            }
            assert_eq!(ring.len() as usize, model.len(), "{ctx}: step {step}");
            assert_eq!(
                ring.counters().full_refusals,
                refusals,
                "{ctx}: step {step} refusal episodes"
            );
        }
        assert_eq!(ring.counters().full_refusals, refusals, "{ctx}");
    });
}

/// `full_refusals` counts refusal episodes: a refused reservation counts only if the same
/// handle's previous reservation was granted (or it is the handle's first); consecutive
/// refusals by one handle count once, and each handle has its own episode.
#[test]
fn full_refusals_count_episodes_per_handle() {
    const CAP: u32 = 4;
    const OCAP: u32 = 4;
    for (mode, ocap) in [(Mode::Spsc, 0), (Mode::Mpsc, 0), (Mode::Spsc, OCAP)] {
        let ctx = format!("{mode:?} overflow {ocap}");
        let mut cfg = Config::new(CAP).mode(mode).initial_index(u32::MAX - 1);
        if ocap > 0 {
            cfg = cfg.overflow(ocap);
        }
        let ring = Ring::<u64>::create_heap(cfg).expect("create");
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        let refusals = || ring.counters().full_refusals;
        // Fill the ring (and the overflow area): nothing refused yet.
        for v in 0..u64::from(CAP + ocap) {
            tx.push(v).unwrap();
        }
        assert_eq!(refusals(), 0, "{ctx}: filling");
        // Three refusals in a row by one handle: one episode.
        for k in 0..3 {
            assert_eq!(
                tx.push(100),
                Err(PushError::Full(100)),
                "{ctx}: refusal {k}"
            );
            assert_eq!(refusals(), 1, "{ctx}: after refusal {k}");
        }
        // Free one slot the producer can use (with an active overflow area pushes keep going
        // there: pop the ring's entries and one of the area's). A granted push ends the
        // episode without counting; the next two refusals are a new episode.
        let to_pop = if ocap > 0 { CAP + 1 } else { 1 };
        for _ in 0..to_pop {
            rx.pop().unwrap();
        }
        tx.push(200).unwrap();
        assert_eq!(refusals(), 1, "{ctx}: a granted push does not count");
        for k in 0..2 {
            assert_eq!(
                tx.push(201),
                Err(PushError::Full(201)),
                "{ctx}: refusal {k}"
            );
            assert_eq!(refusals(), 2, "{ctx}: second episode, refusal {k}");
        }
        if mode.multi_producer() {
            // Two handles refused in turn: each one's episode counts once.
            let mut a = ring.producer().unwrap();
            let mut b = ring.producer().unwrap();
            for k in 0..2 {
                assert_eq!(a.push(300), Err(PushError::Full(300)), "{ctx}: a {k}");
                assert_eq!(b.push(400), Err(PushError::Full(400)), "{ctx}: b {k}");
                assert_eq!(refusals(), 4, "{ctx}: a and b, round {k}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------------

#[test]
fn push_all_is_all_or_nothing_across_the_wrap() {
    for_each_config(|mode, cap, init, ctx| {
        let (ring, mut tx, mut rx) = ring_with_handles(mode, cap, init);
        let capu = cap as usize;
        let too_big: Vec<u64> = (1..=capu as u64 + 1).collect();
        assert_eq!(
            tx.push_all(&too_big),
            Err(PushAllError::TooLarge { capacity: capu }),
            "{ctx}"
        );
        assert_eq!(tx.push_all(&[]), Ok(()), "{ctx}: empty batch");
        assert!(ring.is_empty(), "{ctx}: refused batches pushed something");
        assert_eq!(
            ring.counters().full_refusals,
            0,
            "{ctx}: TooLarge is not a full refusal"
        );

        let mut next = 1u64;
        let mut expect = 1u64;
        let mut refusals = 0u64;
        for round in 0..(4 * capu + 6) {
            // Leave `used` entries in the ring, then try a batch that does not fit.
            let used = round % (capu + 1);
            let batch: Vec<u64> = (next..next + used as u64).collect();
            assert_eq!(
                tx.push_all(&batch),
                Ok(()),
                "{ctx}: round {round} fill {used}"
            );
            next += used as u64;
            let free = capu - used;
            if free < capu {
                let over: Vec<u64> = (next..next + free as u64 + 1).collect();
                let before = ring.counters();
                assert_eq!(
                    tx.push_all(&over),
                    Err(PushAllError::Full { free }),
                    "{ctx}: round {round}"
                );
                // The batch of `used` (> 0) just before was granted: a new refusal episode.
                refusals += 1;
                let after = ring.counters();
                assert_eq!(
                    after.tail, before.tail,
                    "{ctx}: refused batch moved the tail"
                );
                assert_eq!(
                    after.full_refusals, refusals,
                    "{ctx}: round {round} refusals"
                );
            }
            // Exactly the free space fits (when there is some).
            if free > 0 {
                let fit: Vec<u64> = (next..next + free as u64).collect();
                assert_eq!(tx.push_all(&fit), Ok(()), "{ctx}: round {round} exact fit");
                next += free as u64;
            }
            assert_eq!(ring.len(), cap, "{ctx}: round {round}");
            // Drain with pop_into in uneven pieces; nothing beyond the published entries.
            let mut out = vec![0u64; capu + 3];
            let mut total = 0;
            let piece = 1 + round % 3;
            while total < capu {
                let want = piece.min(out.len());
                let got = rx.pop_into(&mut out[..want]).unwrap();
                assert!(
                    got > 0 && got <= want,
                    "{ctx}: pop_into gave {got} of {want}"
                );
                for &v in &out[..got] {
                    assert_eq!(v, expect, "{ctx}: round {round} FIFO");
                    expect += 1;
                }
                total += got;
            }
            assert_eq!(total, capu, "{ctx}");
            assert_eq!(rx.pop_into(&mut out).unwrap(), 0, "{ctx}: drained");
            assert_eq!(rx.pop_into(&mut out[..0]).unwrap(), 0, "{ctx}: empty out");
        }
        assert_eq!(ring.counters().full_refusals, refusals, "{ctx}");
        assert_eq!(expect, next, "{ctx}");
        let c = ring.counters();
        assert_eq!(c.tail, init.wrapping_add((next - 1) as u32), "{ctx}: tail");
        assert_eq!(c.head, c.tail, "{ctx}: head");
    });
}

#[test]
fn push_some_takes_as_many_as_fit() {
    for_each_config(|mode, cap, init, ctx| {
        let (ring, mut tx, mut rx) = ring_with_handles(mode, cap, init);
        let capu = cap as usize;
        let mut next = 1u64;
        let mut expect = 1u64;
        // Refusal episodes: a push_some that pushed nothing counts only if the previous one
        // pushed something (or there was none).
        let (mut refusals, mut refusing) = (0, false);
        assert_eq!(tx.push_some(&[]), Ok(0), "{ctx}");
        for round in 0..(3 * capu + 5) {
            let len = 1 + round % (2 * capu + 1);
            let vals: Vec<u64> = (next..next + len as u64).collect();
            let free = capu - ring.len() as usize;
            let n = tx.push_some(&vals).unwrap();
            assert_eq!(n, len.min(free), "{ctx}: round {round}");
            if n == 0 {
                if !refusing {
                    refusals += 1;
                }
                refusing = true;
            } else {
                refusing = false;
            }
            next += n as u64;
            assert_eq!(
                ring.counters().full_refusals,
                refusals,
                "{ctx}: round {round}"
            );
            // Pop a varying number (leaving some behind so batches straddle the slot array's end).
            let k = round % (capu + 1);
            let mut out = vec![0; k];
            let got = rx.pop_into(&mut out).unwrap();
            assert_eq!(got, k.min(ring.len() as usize + got), "{ctx}");
            for &v in &out[..got] {
                assert_eq!(v, expect, "{ctx}: FIFO");
                expect += 1;
            }
        }
        // Finally a full ring refuses push_some with Ok(0), and a drained one accepts `cap`.
        let vals: Vec<u64> = (next..next + 2 * capu as u64).collect();
        let n = tx.push_some(&vals).unwrap();
        next += n as u64;
        assert_eq!(ring.len(), cap, "{ctx}");
        assert_eq!(tx.push_some(&vals[n..]), Ok(0), "{ctx}: full");
        while let Ok(v) = rx.pop() {
            assert_eq!(v, expect, "{ctx}");
            expect += 1;
        }
        assert_eq!(expect, next, "{ctx}: lost entries");
    });
}

// ---------------------------------------------------------------------------------------------
// Zero-copy producer side
// ---------------------------------------------------------------------------------------------

#[test]
fn reserve_write_get_mut_fill_from_commit() {
    for_each_config(|mode, cap, init, ctx| {
        let (ring, mut tx, mut rx) = ring_with_handles(mode, cap, init);
        let capu = cap as usize;
        let mut next = 1u64;
        let mut expect = 1u64;
        for round in 0..(3 * capu + 4) {
            let want = 1 + round % (capu + 2);
            let free = capu - ring.len() as usize;
            let mut chunk = tx.reserve(want).unwrap();
            assert_eq!(chunk.len(), want.min(free), "{ctx}: round {round}");
            assert!(!chunk.is_empty(), "{ctx}");
            let len = chunk.len();
            // Mix the three ways of writing: write, get_mut, fill_from.
            let mut i = 0;
            if len > 0 {
                chunk.write(0, next);
                i = 1;
            }
            if len > 1 {
                // SAFETY: every participant of this heap ring is this test.
                unsafe { *chunk.get_mut(1) = next + 1 };
                i = 2;
            }
            let filled = chunk.fill_from((next + i as u64)..);
            assert_eq!(filled, len - i, "{ctx}: fill_from count");
            assert_eq!(chunk.commit(), len, "{ctx}: commit count");
            next += len as u64;
            assert_eq!(
                ring.counters().tail,
                init.wrapping_add((next - 1) as u32),
                "{ctx}"
            );
            // Pop roughly half so later reservations straddle the end of the slot array.
            for _ in 0..len.div_ceil(2) {
                assert_eq!(rx.pop(), Ok(expect), "{ctx}: round {round}");
                expect += 1;
            }
        }
        while let Ok(v) = rx.pop() {
            assert_eq!(v, expect, "{ctx}");
            expect += 1;
        }
        assert_eq!(expect, next, "{ctx}");
        assert_eq!(ring.counters().discarded, 0, "{ctx}");
        // A full ring: reserve refuses with Full { free: 0 } and counts it (the push_all
        // before it was granted, so this refusal starts an episode); refused again, it does not
        // count again.
        tx.push_all(&vec![7; capu]).unwrap();
        let before = ring.counters().full_refusals;
        for _ in 0..2 {
            assert_eq!(
                tx.reserve(1).err(),
                Some(PushAllError::Full { free: 0 }),
                "{ctx}"
            );
            assert_eq!(ring.counters().full_refusals, before + 1, "{ctx}");
        }
    });
}

#[test]
fn reserve_exact_refusals() {
    for_each_config(|mode, cap, init, ctx| {
        let ring = ring(mode, cap, init);
        let mut tx = ring.producer().unwrap();
        let capu = cap as usize;
        assert_eq!(
            tx.reserve_exact(capu + 1).err(),
            Some(PushAllError::TooLarge { capacity: capu }),
            "{ctx}"
        );
        tx.push(1).unwrap();
        assert_eq!(
            tx.reserve_exact(capu).err(),
            Some(PushAllError::Full { free: capu - 1 }),
            "{ctx}"
        );
        let mut chunk = tx.reserve_exact(capu - 1).unwrap();
        assert_eq!(chunk.len(), capu - 1, "{ctx}");
        assert_eq!(chunk.fill_from(100..), capu - 1, "{ctx}");
        assert_eq!(chunk.commit(), capu - 1, "{ctx}");
        assert_eq!(ring.len(), cap, "{ctx}");
        let mut rx = ring.consumer().unwrap();
        let mut out = vec![0; capu];
        assert_eq!(rx.pop_into(&mut out).unwrap(), capu, "{ctx}");
        let want: Vec<u64> = std::iter::once(1)
            .chain(100..100 + capu as u64 - 1)
            .collect();
        assert_eq!(out, want, "{ctx}");
    });
}

#[test]
fn dropped_chunk_single_producer_publishes_nothing_and_returns_the_slots() {
    for mode in [Mode::Spsc, Mode::Spmc] {
        for cap in CAPACITIES {
            for init in initials(cap) {
                let ctx = format!("{mode:?} cap {cap} initial {init:#x}");
                let (ring, mut tx, mut rx) = ring_with_handles(mode, cap, init);
                let capu = cap as usize;
                tx.push(1).unwrap();
                assert_eq!(rx.pop(), Ok(1), "{ctx}");
                for round in 0..3 {
                    let mut chunk = tx.reserve(capu).unwrap();
                    assert_eq!(chunk.len(), capu, "{ctx}: round {round}");
                    if round > 0 {
                        // Even written entries are not published by a drop.
                        chunk.write(0, 666);
                    }
                    drop(chunk);
                    let c = ring.counters();
                    assert_eq!(c.tail, init.wrapping_add(1), "{ctx}: tail moved by a drop");
                    assert_eq!(c.discarded, 0, "{ctx}: single producer never discards");
                    assert_eq!(rx.pop(), Err(PopError::Empty), "{ctx}: round {round}");
                }
                // The slots can be reserved again in full and published.
                let mut chunk = tx.reserve_exact(capu).unwrap();
                chunk.fill_from(10..);
                assert_eq!(chunk.commit(), capu, "{ctx}");
                for i in 0..capu as u64 {
                    assert_eq!(rx.pop(), Ok(10 + i), "{ctx}");
                }
                assert_eq!(rx.pop(), Err(PopError::Empty), "{ctx}");
                // Partial commit: write 2 of 4 (or 1 of 2), publish those only.
                let n = capu.min(4);
                let mut chunk = tx.reserve_exact(n).unwrap();
                chunk.write(0, 20);
                if n > 2 {
                    chunk.write(1, 21);
                }
                let keep = if n > 2 { 2 } else { 1 };
                assert_eq!(chunk.commit(), keep, "{ctx}");
                let c = ring.counters();
                assert_eq!(
                    c.tail.wrapping_sub(c.head),
                    keep as u32,
                    "{ctx}: partial commit"
                );
                assert_eq!(c.discarded, 0, "{ctx}");
                assert_eq!(rx.pop(), Ok(20), "{ctx}");
                if keep == 2 {
                    assert_eq!(rx.pop(), Ok(21), "{ctx}");
                }
                assert_eq!(rx.pop(), Err(PopError::Empty), "{ctx}");
                // The unpublished rest is reserved again by the next push.
                tx.push(30).unwrap();
                assert_eq!(rx.pop(), Ok(30), "{ctx}");
                assert_eq!(
                    ring.counters().tail,
                    init.wrapping_add(1 + capu as u32 + keep as u32 + 1),
                    "{ctx}"
                );
            }
        }
    }
}

#[test]
fn dropped_chunk_multi_producer_publishes_discarded_slots() {
    for mode in [Mode::Mpsc, Mode::Mpmc] {
        for cap in CAPACITIES {
            for init in initials(cap) {
                let ctx = format!("{mode:?} cap {cap} initial {init:#x}");
                let (ring, mut tx, mut rx) = ring_with_handles(mode, cap, init);
                let capu = cap as usize;
                let mut discarded = 0u64;
                let mut pos = 0u32; // positions used so far

                // A whole dropped chunk: published as discarded, consumed without delivery.
                let chunk = tx.reserve(capu).unwrap();
                assert_eq!(chunk.len(), capu, "{ctx}");
                drop(chunk);
                discarded += capu as u64;
                pos += cap;
                let c = ring.counters();
                assert_eq!(c.tail, init.wrapping_add(pos), "{ctx}: tail after discard");
                assert_eq!(c.discarded, discarded, "{ctx}: discarded counter");
                assert_eq!(ring.len(), cap, "{ctx}: discarded slots occupy the ring");
                assert_eq!(
                    tx.push(5),
                    Err(PushError::Full(5)),
                    "{ctx}: full of discards"
                );
                assert_eq!(rx.pop(), Err(PopError::Empty), "{ctx}: discards delivered");
                assert_eq!(
                    ring.counters().head,
                    init.wrapping_add(pos),
                    "{ctx}: skipped"
                );
                assert!(ring.is_empty(), "{ctx}");

                // Entries around a discarded chunk: a, [discard x (cap-2)], b.
                tx.push(1).unwrap();
                if capu > 2 {
                    let mut chunk = tx.reserve_exact(capu - 2).unwrap();
                    chunk.write(0, 999); // written, but dropped: still discarded
                    drop(chunk);
                    discarded += capu as u64 - 2;
                }
                tx.push(2).unwrap();
                pos += cap;
                assert_eq!(ring.counters().discarded, discarded, "{ctx}");
                assert_eq!(rx.pop(), Ok(1), "{ctx}");
                assert_eq!(rx.pop(), Ok(2), "{ctx}: discarded slots not skipped");
                assert_eq!(rx.pop(), Err(PopError::Empty), "{ctx}");

                // pop_into and view skip them too.
                tx.push(3).unwrap();
                if capu > 2 {
                    drop(tx.reserve_exact(capu - 2).unwrap());
                    discarded += capu as u64 - 2;
                }
                tx.push(4).unwrap();
                pos += cap;
                let mut out = [0u64; 128];
                assert_eq!(rx.pop_into(&mut out[..2]).unwrap(), 2, "{ctx}");
                assert_eq!(&out[..2], &[3, 4], "{ctx}");
                tx.push(5).unwrap();
                if capu > 2 {
                    drop(tx.reserve_exact(capu - 2).unwrap());
                    discarded += capu as u64 - 2;
                }
                tx.push(6).unwrap();
                pos += cap;
                {
                    let view = rx.view(capu).unwrap();
                    assert_eq!(view.claimed(), capu, "{ctx}: claimed counts discards");
                    let got: Vec<u64> = view.iter().collect();
                    assert_eq!(got, vec![5, 6], "{ctx}: view skips discards");
                }
                assert_eq!(ring.counters().head, init.wrapping_add(pos), "{ctx}");

                // Partial commit: write 2 of 4 (1 of 2), commit; the rest is discarded.
                let n = capu.min(4);
                let keep = n / 2;
                let mut chunk = tx.reserve_exact(n).unwrap();
                for i in 0..keep {
                    chunk.write(i, 40 + i as u64);
                }
                assert_eq!(chunk.commit(), keep, "{ctx}");
                discarded += (n - keep) as u64;
                pos += n as u32;
                let c = ring.counters();
                assert_eq!(c.discarded, discarded, "{ctx}: partial commit discards");
                assert_eq!(
                    c.tail,
                    init.wrapping_add(pos),
                    "{ctx}: MP publishes whole span"
                );
                for i in 0..keep {
                    assert_eq!(rx.pop(), Ok(40 + i as u64), "{ctx}");
                }
                assert_eq!(rx.pop(), Err(PopError::Empty), "{ctx}");
                assert_eq!(ring.counters().head, init.wrapping_add(pos), "{ctx}");
            }
        }
    }
}

#[test]
#[should_panic(expected = "out of order")]
fn chunk_write_out_of_order_panics() {
    let ring = ring(Mode::Spsc, 8, 0);
    let mut tx = ring.producer().unwrap();
    let mut chunk = tx.reserve(4).unwrap();
    chunk.write(1, 1);
}

#[test]
#[should_panic(expected = "out of order or range")]
fn chunk_write_out_of_range_panics() {
    let ring = ring(Mode::Mpmc, 4, 0);
    let mut tx = ring.producer().unwrap();
    let mut chunk = tx.reserve(2).unwrap();
    chunk.write(0, 1);
    chunk.write(1, 2);
    chunk.write(2, 3);
}

// ---------------------------------------------------------------------------------------------
// Consumer views
// ---------------------------------------------------------------------------------------------

#[test]
fn view_iterates_in_order_and_releases_on_drop() {
    for_each_config(|mode, cap, init, ctx| {
        let (ring, mut tx, mut rx) = ring_with_handles(mode, cap, init);
        let capu = cap as usize;
        assert!(
            matches!(rx.view(4), Err(PopError::Empty)),
            "{ctx}: empty view"
        );
        assert!(
            matches!(rx.view(0), Err(PopError::Empty)),
            "{ctx}: zero view"
        );
        let mut next = 1u64;
        let mut expect = 1u64;
        for round in 0..(3 * capu + 3) {
            let n = tx
                .push_some(&(next..next + capu as u64).collect::<Vec<_>>())
                .unwrap();
            next += n as u64;
            let avail = ring.len() as usize;
            let max = 1 + round % (capu + 1);
            let head_before = ring.counters().head;
            {
                let view = rx.view(max).unwrap();
                assert_eq!(view.claimed(), max.min(avail), "{ctx}: round {round}");
                let got: Vec<u64> = view.iter().collect();
                let want: Vec<u64> = (expect..expect + view.claimed() as u64).collect();
                assert_eq!(got, want, "{ctx}: round {round} view order");
                // Iterating twice gives the same entries (the view holds them).
                assert_eq!(view.iter().count(), got.len(), "{ctx}");
                // Not released yet: the producer cannot reuse these slots.
                if avail == capu {
                    assert_eq!(tx.push(0), Err(PushError::Full(0)), "{ctx}: view not held");
                }
                expect += got.len() as u64;
            }
            let released = ring.counters().head.wrapping_sub(head_before);
            assert_eq!(released as usize, max.min(avail), "{ctx}: released on drop");
            // Leave a few behind now and then so views straddle the wrap.
            if round % 2 == 1 {
                while let Ok(v) = rx.pop() {
                    assert_eq!(v, expect, "{ctx}");
                    expect += 1;
                }
            }
        }
        while let Ok(v) = rx.pop() {
            assert_eq!(v, expect, "{ctx}");
            expect += 1;
        }
        assert_eq!(expect, next, "{ctx}");
    });
}

// ---------------------------------------------------------------------------------------------
// Claims and capacities
// ---------------------------------------------------------------------------------------------

#[test]
fn single_sides_are_claimed_multi_sides_coexist() {
    let me = std::process::id().max(1);
    for mode in MODES {
        let ring = ring(mode, 8, u32::MAX - 1);
        let p1 = ring.producer().unwrap();
        let p2 = ring.producer();
        if mode.multi_producer() {
            let p2 = p2.expect("several producers in MP mode");
            let p3 = ring.producer().expect("several producers in MP mode");
            drop((p2, p3));
        } else {
            assert_eq!(
                p2.err(),
                Some(ClaimError::Busy {
                    side: Side::Producer,
                    owner: me
                }),
                "{mode:?}"
            );
            assert_eq!(
                ring.lines().producer_line().owner.load(Ordering::Relaxed),
                me
            );
        }
        // Gives the side up without closing the stream (dropping would close it).
        p1.release();
        if !mode.multi_producer() {
            assert_eq!(
                ring.lines().producer_line().owner.load(Ordering::Relaxed),
                0
            );
        }
        let mut p = ring.producer().expect("claim after the first was dropped");

        let c1 = ring.consumer().unwrap();
        let c2 = ring.consumer();
        if mode.multi_consumer() {
            let c2 = c2.expect("several consumers in MC mode");
            let c3 = ring.consumer().expect("several consumers in MC mode");
            drop((c2, c3));
        } else {
            assert_eq!(
                c2.err(),
                Some(ClaimError::Busy {
                    side: Side::Consumer,
                    owner: me
                }),
                "{mode:?}"
            );
        }
        drop(c1);
        let mut c = ring.consumer().expect("claim after the first was dropped");

        // A re-claimed handle continues where the previous one stopped.
        p.push(1).unwrap();
        p.release(); // hand over without closing the stream
        let mut p = ring.producer().unwrap();
        p.push(2).unwrap();
        assert_eq!(c.pop(), Ok(1), "{mode:?}");
        drop(c);
        let mut c = ring.consumer().unwrap();
        assert_eq!(c.pop(), Ok(2), "{mode:?}");
        assert_eq!(c.pop(), Err(PopError::Empty), "{mode:?}");
    }
}

#[test]
fn successor_of_a_single_side_recovers_an_index_its_predecessor_did_not_store() {
    for init in [0, u32::MAX - 1, u32::MAX] {
        // SPMC: a producer published three entries (tags) but died before storing `tail`.
        let spmc = ring(Mode::Spmc, 4, init);
        let mut rx = spmc.consumer().unwrap();
        let mut dead = spmc.producer().unwrap();
        dead.push_all(&[1, 2, 3]).unwrap();
        dead.release(); // it "died": it never closed the stream
        let tail = &spmc.lines().producer_line().tail;
        tail.store(init, Ordering::SeqCst);
        // One of them was even consumed already (its tag now reads "free a lap later").
        assert_eq!(rx.pop(), Ok(1));
        let mut tx = spmc.producer().expect("successor producer");
        assert_eq!(
            tail.load(Ordering::SeqCst),
            init.wrapping_add(3),
            "SPMC tail recovered"
        );
        tx.push(4).unwrap();
        for v in [2, 3, 4] {
            assert_eq!(rx.pop(), Ok(v), "SPMC initial {init:#x}");
        }
        assert_eq!(rx.pop(), Err(PopError::Empty));

        // MPSC: a consumer freed two slots but died before storing `head`; producers have
        // already reused those slots.
        let mpsc = ring(Mode::Mpsc, 4, init);
        let mut tx = mpsc.producer().unwrap();
        tx.push_all(&[1, 2, 3, 4]).unwrap();
        {
            let mut rx = mpsc.consumer().unwrap();
            assert_eq!(rx.pop(), Ok(1));
            assert_eq!(rx.pop(), Ok(2));
        }
        let head = &mpsc.lines().consumer_line().head;
        head.store(init, Ordering::SeqCst);
        tx.push_all(&[5, 6]).unwrap();
        let mut rx = mpsc.consumer().expect("successor consumer");
        assert_eq!(
            head.load(Ordering::SeqCst),
            init.wrapping_add(2),
            "MPSC head recovered"
        );
        for v in [3, 4, 5, 6] {
            assert_eq!(rx.pop(), Ok(v), "MPSC initial {init:#x}");
        }
        assert_eq!(rx.pop(), Err(PopError::Empty));
    }
}

#[test]
fn claim_held_by_another_live_process_is_busy_and_a_dead_one_is_taken_over() {
    // pid 1 always exists.
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let dead = child.id();
    child.wait().unwrap();
    for mode in [Mode::Spsc, Mode::Spmc, Mode::Mpsc] {
        let ring = ring(mode, 4, 0);
        let (owner, take): (&std::sync::atomic::AtomicU32, bool) = if mode.multi_producer() {
            (&ring.lines().consumer_line().owner, false)
        } else {
            (&ring.lines().producer_line().owner, true)
        };
        owner.store(1, Ordering::Relaxed);
        let busy = if take {
            ring.producer().err()
        } else {
            ring.consumer().err()
        };
        let side = if take { Side::Producer } else { Side::Consumer };
        assert_eq!(busy, Some(ClaimError::Busy { side, owner: 1 }), "{mode:?}");
        owner.store(dead, Ordering::Relaxed);
        let ok = if take {
            ring.producer().map(drop)
        } else {
            ring.consumer().map(drop)
        };
        assert_eq!(
            ok,
            Ok(()),
            "{mode:?}: claim of exited pid {dead} not taken over"
        );
        assert_eq!(
            owner.load(Ordering::Relaxed),
            0,
            "{mode:?}: claim not released"
        );
    }
}

#[test]
fn invalid_capacities_are_refused() {
    for mode in MODES {
        for cap in [0u32, 1, 3, 5, 6, 12, 100, (1 << 31) + 1, u32::MAX] {
            let r = Ring::<u64>::create_heap(Config::new(cap).mode(mode));
            assert!(
                matches!(
                    r,
                    Err(RegionError::Layout(LayoutError::Capacity { found })) if found == cap
                ),
                "{mode:?} capacity {cap}: {r:?}"
            );
            assert_eq!(
                Config::new(cap).region_len::<u64>(),
                Err(LayoutError::Capacity { found: cap })
            );
        }
        for cap in [2u32, 8, 1024] {
            let ring = Ring::<u64>::create_heap(Config::new(cap).mode(mode)).unwrap();
            assert_eq!(ring.capacity(), cap);
            assert_eq!(ring.mode(), mode);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Threaded stress
// ---------------------------------------------------------------------------------------------

/// Entries per producer.
fn stress_n() -> u64 {
    200_000
}

fn tag(producer: u64, seq: u64) -> u64 {
    ((producer + 1) << 32) | seq
}

fn untag(v: u64) -> (usize, u64) {
    (((v >> 32) - 1) as usize, v & 0xffff_ffff)
}

struct Shared {
    abort: AtomicBool,
    delivered: AtomicU64,
    discarded: AtomicU64,
    deadline: Instant,
}

impl Shared {
    /// Fails (and makes every other thread stop) on an error or when the deadline passed.
    fn check(&self, what: &str) -> Result<(), String> {
        if self.abort.load(Ordering::Relaxed) {
            return Err(format!("{what}: aborted by another thread"));
        }
        if Instant::now() > self.deadline {
            self.abort.store(true, Ordering::Relaxed);
            return Err(format!("{what}: deadline passed (lost entries or a hang?)"));
        }
        Ok(())
    }
    /// Makes every other thread stop, and returns the message.
    fn fail(&self, msg: String) -> String {
        self.abort.store(true, Ordering::Relaxed);
        msg
    }
}

fn produce(ring: &Ring<u64>, id: u64, n: u64, sh: &Shared) -> Result<(), String> {
    let mut tx = ring.producer().map_err(|e| format!("producer {id}: {e}"))?;
    let mp = ring.mode().multi_producer();
    let cap = ring.capacity() as u64;
    let mut rng = Rng::new(id + 17);
    let mut seq = 1u64;
    let mut batch = [0u64; 8];
    let mut spins = 0u32;
    while seq <= n {
        spins += 1;
        if spins % 256 == 0 {
            sh.check(&format!("producer {id} at {seq}"))?;
        }
        // Now and then hand over to a successor handle (a new claim on single sides): it must
        // start exactly where this one stopped, while the other side keeps running.
        if rng.below(1024) == 0 {
            drop(tx);
            tx = ring
                .producer()
                .map_err(|e| sh.fail(format!("producer {id}: re-claim: {e}")))?;
        }
        let left = n - seq + 1;
        let progressed = match rng.below(8) {
            0..=2 => match tx.push(tag(id, seq)) {
                Ok(()) => 1,
                Err(PushError::Full(v)) if v == tag(id, seq) => 0,
                Err(e) => return Err(sh.fail(format!("producer {id}: push: {e:?}"))),
            },
            3 | 4 => {
                let k = 1 + rng.below(left.min(cap).min(8));
                for (i, b) in batch.iter_mut().enumerate().take(k as usize) {
                    *b = tag(id, seq + i as u64);
                }
                match tx.push_all(&batch[..k as usize]) {
                    Ok(()) => k,
                    Err(PushAllError::Full { free }) if (free as u64) < k => 0,
                    Err(e) => return Err(sh.fail(format!("producer {id}: push_all {k}: {e:?}"))),
                }
            }
            5 => {
                let k = 1 + rng.below(left.min(8));
                for (i, b) in batch.iter_mut().enumerate().take(k as usize) {
                    *b = tag(id, seq + i as u64);
                }
                match tx.push_some(&batch[..k as usize]) {
                    Ok(m) if m as u64 <= k => m as u64,
                    r => return Err(sh.fail(format!("producer {id}: push_some {k}: {r:?}"))),
                }
            }
            _ => {
                let k = 1 + rng.below(left.min(8));
                let style = rng.below(8);
                match tx.reserve(k as usize) {
                    Ok(mut chunk) => {
                        let len = chunk.len() as u64;
                        if len == 0 || len > k {
                            return Err(sh.fail(format!("producer {id}: reserve {k} gave {len}")));
                        }
                        // Usually write everything; sometimes only a prefix, sometimes nothing.
                        let keep = match style {
                            0 => 0,
                            1 => rng.below(len),
                            _ => len,
                        };
                        for i in 0..keep {
                            if i % 2 == 0 {
                                chunk.write(i as usize, tag(id, seq + i));
                            } else {
                                // SAFETY: every participant of this heap ring is this test.
                                unsafe { *chunk.get_mut(i as usize) = tag(id, seq + i) };
                            }
                        }
                        if style == 0 && keep == 0 {
                            drop(chunk);
                        } else if chunk.commit() as u64 != keep {
                            return Err(sh.fail(format!("producer {id}: commit count")));
                        }
                        if mp {
                            sh.discarded.fetch_add(len - keep, Ordering::Relaxed);
                        }
                        keep
                    }
                    Err(PushAllError::Full { free: 0 }) => 0,
                    Err(e) => return Err(sh.fail(format!("producer {id}: reserve {k}: {e:?}"))),
                }
            }
        };
        if progressed == 0 {
            std::thread::yield_now();
        }
        seq += progressed;
    }
    Ok(())
}

fn consume(ring: &Ring<u64>, id: u64, total: u64, sh: &Shared) -> Result<Vec<u64>, String> {
    let mut rx = ring.consumer().map_err(|e| format!("consumer {id}: {e}"))?;
    let mut rng = Rng::new(id + 1001);
    let mut got = Vec::with_capacity(total as usize);
    let mut buf = [0u64; 8];
    let mut spins = 0u32;
    while sh.delivered.load(Ordering::Relaxed) < total {
        spins += 1;
        if spins % 256 == 0 {
            sh.check(&format!("consumer {id} after {} entries", got.len()))
                .map_err(|e| {
                    format!(
                        "{e}; delivered {} of {total}",
                        sh.delivered.load(Ordering::Relaxed)
                    )
                })?;
        }
        if rng.below(1024) == 0 {
            drop(rx);
            rx = ring
                .consumer()
                .map_err(|e| sh.fail(format!("consumer {id}: re-claim: {e}")))?;
        }
        let k = 1 + rng.below(8) as usize;
        let n = match rng.below(3) {
            0 => match rx.pop() {
                Ok(v) => {
                    got.push(v);
                    1
                }
                Err(PopError::Empty | PopError::Closed) => 0,
                Err(e) => return Err(sh.fail(format!("consumer {id}: pop: {e:?}"))),
            },
            1 => match rx.pop_into(&mut buf[..k]) {
                Ok(m) if m <= k => {
                    got.extend_from_slice(&buf[..m]);
                    m
                }
                Err(PopError::Closed) => 0,
                r => return Err(sh.fail(format!("consumer {id}: pop_into: {r:?}"))),
            },
            _ => match rx.view(k) {
                Ok(view) => {
                    if view.claimed() > k {
                        return Err(sh.fail(format!("consumer {id}: view too big")));
                    }
                    let before = got.len();
                    got.extend(view.iter());
                    got.len() - before
                }
                // A single producer that is done closes the stream.
                Err(PopError::Empty | PopError::Closed) => 0,
                Err(e) => return Err(sh.fail(format!("consumer {id}: view: {e:?}"))),
            },
        };
        if n == 0 {
            std::thread::yield_now();
        } else {
            sh.delivered.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    Ok(got)
}

fn stress(mode: Mode, cap: u32) {
    let n = stress_n();
    let producers: u64 = if mode.multi_producer() { 3 } else { 1 };
    let consumers: u64 = if mode.multi_consumer() { 2 } else { 1 };
    let total = producers * n;
    // Start so that the indices wrap about a third of the way through.
    let init = u32::MAX - (total / 3) as u32;
    let ctx = format!("{mode:?} cap {cap} initial {init:#x}");
    let ring = Ring::<u64>::create_heap(Config::new(cap).mode(mode).initial_index(init)).unwrap();
    let sh = Shared {
        abort: AtomicBool::new(false),
        delivered: AtomicU64::new(0),
        discarded: AtomicU64::new(0),
        deadline: Instant::now() + DEADLINE,
    };
    let started = Instant::now();
    let (prod_results, received) = std::thread::scope(|s| {
        let ps: Vec<_> = (0..producers)
            .map(|id| {
                let (ring, sh) = (&ring, &sh);
                s.spawn(move || produce(ring, id, n, sh))
            })
            .collect();
        let cs: Vec<_> = (0..consumers)
            .map(|id| {
                let (ring, sh) = (&ring, &sh);
                s.spawn(move || consume(ring, id, total, sh))
            })
            .collect();
        let p: Vec<_> = ps
            .into_iter()
            .map(|h| h.join().expect("producer panicked"))
            .collect();
        let c: Vec<_> = cs
            .into_iter()
            .map(|h| h.join().expect("consumer panicked"))
            .collect();
        (p, c)
    });
    for r in prod_results {
        r.unwrap_or_else(|e| panic!("{ctx}: {e}"));
    }
    let received: Vec<Vec<u64>> = received
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{ctx}: {e}")))
        .collect();

    // Per consumer, per producer: strictly increasing (for a single consumer, exactly 1..=n).
    let mut seen = vec![vec![false; n as usize + 1]; producers as usize];
    for (c, got) in received.iter().enumerate() {
        let mut last = vec![0u64; producers as usize];
        for &v in got {
            let (p, s) = untag(v);
            assert!(
                p < producers as usize && (1..=n).contains(&s),
                "{ctx}: consumer {c} got a value never pushed: {v:#x}"
            );
            assert!(
                s > last[p],
                "{ctx}: consumer {c}: producer {p} order broken: {s} after {}",
                last[p]
            );
            if consumers == 1 {
                assert_eq!(s, last[p] + 1, "{ctx}: producer {p}: gap or reorder");
            }
            last[p] = s;
            assert!(!seen[p][s as usize], "{ctx}: ({p}, {s}) delivered twice");
            seen[p][s as usize] = true;
        }
    }
    for (p, seen) in seen.iter().enumerate() {
        let missing = seen[1..].iter().filter(|&&b| !b).count();
        assert_eq!(missing, 0, "{ctx}: producer {p}: {missing} entries lost");
    }
    let delivered: usize = received.iter().map(Vec::len).sum();
    assert_eq!(delivered as u64, total, "{ctx}");

    let c = ring.counters();
    let discarded = sh.discarded.load(Ordering::Relaxed);
    assert_eq!(c.discarded, discarded, "{ctx}: discarded counter");
    assert_eq!(c.head, c.tail, "{ctx}: ring not empty at the end");
    assert_eq!(
        c.tail,
        init.wrapping_add((total + discarded) as u32),
        "{ctx}: positions used"
    );
    assert!(c.tail < init, "{ctx}: indices did not wrap");
    if mode.multi_producer() {
        assert!(
            discarded > 0,
            "{ctx}: the run never discarded (test is weak)"
        );
    }
    eprintln!(
        "{ctx}: {total} entries, {discarded} discarded, {} full refusals, {:?}",
        c.full_refusals,
        started.elapsed()
    );
}

#[test]
fn stress_spsc() {
    stress(Mode::Spsc, 4);
    stress(Mode::Spsc, 64);
}

#[test]
fn stress_mpsc() {
    stress(Mode::Mpsc, 4);
    stress(Mode::Mpsc, 64);
}

#[test]
fn stress_spmc() {
    stress(Mode::Spmc, 4);
    stress(Mode::Spmc, 64);
}

#[test]
fn stress_mpmc() {
    stress(Mode::Mpmc, 4);
    stress(Mode::Mpmc, 64);
}
