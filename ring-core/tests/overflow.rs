//! The overflow area (layout 1.1): a full ring spills into it, a full overflow area hands the
//! entry back, reapers drain it in order, and it deactivates once drained.
//!
//! - In-process, every mode, with and without the wait block, ring capacities 2/4/64, overflow
//!   capacities 2/8/256, indices near `u32::MAX`: exact counters and order for single pushes,
//!   batches, reservations (committed, partly committed, dropped) and views across the
//!   ring/overflow boundary; overflow indices that wrap across `u32::MAX` too.
//! - Threads: MPSC and MPMC, 3 producers on a ring of 4 with an overflow area of 16 or 64, so
//!   the area activates and deactivates many times; nothing lost or duplicated, per-producer
//!   order (per consumer), exact refusal and discard counters.
//! - Two processes (the test binary re-executes itself: the shared harness in `common/mod.rs`): a child producer
//!   process bursts while the parent sleeps in `reap`, with an overflow area large enough, too
//!   small (refusals counted on both sides), and with `push_wait`; and producers in both
//!   processes spill and recover repeatedly across the u32 index wrap.
//!
//! Every wait is bounded: loops check a deadline, blocking calls have timeouts, and a child
//! that does not finish in time is killed and the test fails with its output.

mod common;

use common::{
    child_ring, decode_with, expected_hash, mix, orphaned, receive, report, snooze_upto,
    tagged_entry, unique_name, Claim, Params, Peer, Rng, ShmGuard, Transport, DEADLINE,
};
use ring_core::layout::{initial_lap_tag, overflow_state, Slot};
use ring_core::{
    Completion, Config, Consumer, Counters, Mode, PopError, Producer, PushAllError, PushError, Ring,
};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const MODES: [Mode; 4] = [Mode::Spsc, Mode::Mpsc, Mode::Spmc, Mode::Mpmc];

// ---------------------------------------------------------------------------------------------
// Entries: user_data = producer << 32 | seq; result and flags are derived from both, so a torn
// or stale read is caught.

const FLAGS_MAGIC: u32 = 0x0F10_0000;

fn entry(p: u64, seq: u64) -> Completion {
    tagged_entry(p, seq, 0x3C3C_3C3C, FLAGS_MAGIC)
}

fn decode(c: &Completion) -> Result<(u64, u64), String> {
    decode_with(c, entry)
}

/// Spin, then yield.
fn snooze(step: &mut u32) {
    snooze_upto(step, 6);
}

// ---------------------------------------------------------------------------------------------
// In-process, single-threaded: exact counters and order.

fn ring_u64(cfg: Config) -> Ring<u64> {
    Ring::<u64>::create_heap(cfg).expect("create")
}

/// Every configuration of the single-threaded tests: mode, wait block, ring capacity, overflow
/// capacity, initial index.
fn for_each_config(mut f: impl FnMut(Config, &str)) {
    for mode in MODES {
        for wait in [true, false] {
            for cap in [2u32, 4, 64] {
                for ocap in [2u32, 8, 256] {
                    for init in [u32::MAX - 1, u32::MAX - cap / 2 - 1, 0] {
                        let cfg = Config::new(cap)
                            .mode(mode)
                            .wait(wait)
                            .overflow(ocap)
                            .initial_index(init);
                        let ctx = format!(
                            "{mode:?} wait {wait} cap {cap} overflow {ocap} initial {init:#x}"
                        );
                        f(cfg, &ctx);
                    }
                }
            }
        }
    }
}

/// The counters a quiet ring must show.
#[track_caller]
fn expect_counters(ring: &Ring<u64>, want: Counters, ctx: &str) {
    let c = ring.counters();
    assert_eq!(c, want, "{ctx}");
}

/// Drains everything with `reap(.., 0, None)` (never blocks) into a vector.
fn drain(rx: &mut Consumer<u64>, room: usize) -> Vec<u64> {
    let mut out = vec![0u64; room];
    let n = rx.reap(&mut out, 0, None).expect("reap");
    out.truncate(n);
    out
}

#[test]
fn spill_counters_order_and_deactivation_every_mode() {
    for_each_config(|cfg, ctx| {
        let (cap, ocap, init) = (cfg.capacity, cfg.overflow_capacity, cfg.initial_index);
        let ring = ring_u64(cfg);
        assert_eq!(ring.lines().overflow_capacity(), ocap, "{ctx}");
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        let quiet = Counters {
            tail: init,
            head: init,
            ..Counters::default()
        };
        expect_counters(&ring, quiet, ctx);

        // The ring fills first; nothing spills.
        let mut next = 0u64;
        for _ in 0..cap {
            tx.push(next).unwrap();
            next += 1;
        }
        let full = Counters {
            tail: init.wrapping_add(cap),
            ..quiet
        };
        expect_counters(&ring, full, ctx);

        // Then every push spills into the overflow area, activating it once.
        for i in 0..ocap {
            tx.push(next).unwrap();
            next += 1;
            let c = ring.counters();
            assert_eq!(
                (c.overflowed, c.overflow_pending, c.overflow_active),
                (u64::from(i) + 1, i + 1, true),
                "{ctx}: spill {i}"
            );
            assert_eq!(c.overflow_activations, 1, "{ctx}: spill {i}");
            assert_eq!(
                c.tail,
                init.wrapping_add(cap),
                "{ctx}: the ring is untouched"
            );
        }

        // Both full: every kind of push is refused and the value handed back; the five
        // refusals in a row are one refusal episode of this handle, counted once.
        assert_eq!(tx.push(777), Err(PushError::Full(777)), "{ctx}");
        assert_eq!(
            tx.push_all(&[1]),
            Err(PushAllError::Full { free: 0 }),
            "{ctx}"
        );
        assert_eq!(tx.push_some(&[1, 2]), Ok(0), "{ctx}");
        assert!(
            matches!(tx.reserve(1), Err(PushAllError::Full { free: 0 })),
            "{ctx}"
        );
        let err = tx.push(778).unwrap_err();
        assert_eq!(err.into_inner(), 778);
        let spilled = Counters {
            full_refusals: 1,
            overflowed: u64::from(ocap),
            overflow_pending: ocap,
            overflow_active: true,
            overflow_activations: 1,
            ..full
        };
        expect_counters(&ring, spilled, ctx);

        // Reaping returns everything in push order: the ring, then the overflow area; the
        // final empty claim finds the area drained and deactivates it.
        let got = drain(&mut rx, (cap + ocap) as usize + 1);
        assert_eq!(got, (0..next).collect::<Vec<_>>(), "{ctx}");
        let drained = Counters {
            head: init.wrapping_add(cap),
            overflow_pending: 0,
            overflow_active: false,
            ..spilled
        };
        expect_counters(&ring, drained, ctx);
        assert_eq!(rx.pop(), Err(PopError::Empty), "{ctx}");

        // Producers are back on the ring.
        tx.push(next).unwrap();
        let c = ring.counters();
        assert_eq!(
            c.tail,
            init.wrapping_add(cap + 1),
            "{ctx}: back on the ring"
        );
        assert_eq!(
            (c.overflowed, c.overflow_active),
            (u64::from(ocap), false),
            "{ctx}"
        );
        assert_eq!(rx.pop(), Ok(next), "{ctx}");
        next += 1;

        // While the area is active, pushes go to it even when the ring has room again.
        for _ in 0..cap {
            tx.push(next).unwrap();
            next += 1;
        }
        tx.push(next).unwrap(); // spills: second activation
        next += 1;
        let first = next - u64::from(cap) - 1;
        assert_eq!(rx.pop(), Ok(first), "{ctx}"); // one ring slot free again
        tx.push(next).unwrap(); // still to the overflow area
        next += 1;
        let c = ring.counters();
        assert_eq!(c.overflow_activations, 2, "{ctx}");
        assert_eq!(c.overflowed, u64::from(ocap) + 2, "{ctx}");
        assert_eq!(c.overflow_pending, 2, "{ctx}");
        assert_eq!(
            c.tail,
            init.wrapping_add(2 * cap + 1),
            "{ctx}: ring tail unmoved"
        );
        // A pop that takes the last ring entry leaves the area active; the overflow entries
        // follow in order; an empty pop deactivates.
        let mut seen = Vec::new();
        loop {
            match rx.pop() {
                Ok(v) => seen.push(v),
                Err(PopError::Empty) => break,
                Err(e) => panic!("{ctx}: {e}"),
            }
            if seen.len() == cap as usize - 1 {
                assert!(ring.counters().overflow_active, "{ctx}");
            }
        }
        assert_eq!(seen, (first + 1..next).collect::<Vec<_>>(), "{ctx}");
        let c = ring.counters();
        assert!(!c.overflow_active, "{ctx}: deactivated by the empty pop");
        assert_eq!(c.overflow_pending, 0, "{ctx}");
        assert_eq!(c.full_refusals, 1, "{ctx}");
        assert_eq!(
            (c.wakeups, c.sleeps, c.waiters),
            (0, 0, 0),
            "{ctx}: nobody slept"
        );
        assert_eq!(c.discarded, 0, "{ctx}");
        assert_eq!(c.tail, c.head, "{ctx}");
    });
}

#[test]
fn batches_and_reservations_across_the_boundary() {
    for mode in MODES {
        for wait in [true, false] {
            for init in [u32::MAX - 2, u32::MAX] {
                let ctx = format!("{mode:?} wait {wait} initial {init:#x}");
                let ring = ring_u64(
                    Config::new(4)
                        .mode(mode)
                        .wait(wait)
                        .overflow(8)
                        .initial_index(init),
                );
                let mut tx = ring.producer().unwrap();
                let mut rx = ring.consumer().unwrap();
                let mut expected = Vec::new();

                // push_all: 3 fit in the ring; a batch of 2 does not fit in the 1 free slot and
                // goes whole to the overflow area; the next single push follows it there.
                tx.push_all(&[0, 1, 2]).unwrap();
                tx.push_all(&[3, 4]).unwrap();
                let c = ring.counters();
                assert_eq!(c.tail, init.wrapping_add(3), "{ctx}: ring slot left free");
                assert_eq!((c.overflowed, c.overflow_active), (2, true), "{ctx}");
                tx.push(5).unwrap();
                assert_eq!(ring.counters().tail, init.wrapping_add(3), "{ctx}");
                expected.extend(0..6);
                // A batch larger than both the ring and the overflow area is refused as too
                // large (not counted); the limit is the larger of the two capacities.
                assert_eq!(
                    tx.push_all(&[9; 9]),
                    Err(PushAllError::TooLarge { capacity: 8 }),
                    "{ctx}"
                );
                // A batch larger than the overflow space left is refused whole (counted).
                assert_eq!(tx.push_all(&[6, 7, 8]).map_err(|_| ()), Ok(()), "{ctx}");
                expected.extend(6..9);
                assert_eq!(
                    tx.push_all(&[9, 10, 11]),
                    Err(PushAllError::Full { free: 2 }),
                    "{ctx}"
                );
                assert_eq!(ring.counters().full_refusals, 1, "{ctx}");

                // push_some takes what fits in the overflow area.
                assert_eq!(tx.push_some(&[9, 10, 11]), Ok(2), "{ctx}");
                expected.extend(9..11);
                assert_eq!(tx.push_some(&[11]), Ok(0), "{ctx}");
                assert_eq!(ring.counters().full_refusals, 2, "{ctx}");
                assert_eq!(ring.counters().overflowed, 8, "{ctx}");

                // Drain everything: order is push order.
                assert_eq!(drain(&mut rx, 32), expected, "{ctx}");
                assert!(!ring.counters().overflow_active, "{ctx}");
                expected.clear();

                // push_some on an empty ring stops at the ring's free space (one reservation),
                // the next call spills.
                let vals: Vec<u64> = (100..110).collect();
                assert_eq!(tx.push_some(&vals), Ok(4), "{ctx}");
                assert_eq!(tx.push_some(&vals[4..]), Ok(6), "{ctx}");
                expected.extend(100..110);
                let c = ring.counters();
                assert_eq!((c.overflowed, c.overflow_pending), (14, 6), "{ctx}");

                // reserve + commit in the overflow area (the area is active).
                let mut chunk = tx.reserve(2).unwrap();
                assert_eq!(chunk.len(), 2, "{ctx}");
                chunk.write(0, 110);
                // SAFETY: every participant of this heap ring is this test.
                unsafe { *chunk.get_mut(1) = 111 };
                assert_eq!(chunk.commit(), 2, "{ctx}");
                expected.extend(110..112);
                assert_eq!(ring.counters().overflowed, 16, "{ctx}");
                assert_eq!(ring.counters().discarded, 0, "{ctx}");
                // The area is full now.
                assert!(tx.reserve(1).is_err(), "{ctx}");
                assert_eq!(ring.counters().full_refusals, 3, "{ctx}");

                // Drain the ring part only (4 entries), then the overflow ones by views.
                let mut out = [0u64; 4];
                assert_eq!(rx.pop_into(&mut out), Ok(4), "{ctx}");
                assert_eq!(&out, &[100, 101, 102, 103], "{ctx}");
                {
                    let view = rx.view(3).unwrap();
                    assert_eq!(view.claimed(), 3, "{ctx}");
                    let v: Vec<u64> = view.iter().collect();
                    assert_eq!(v, vec![104, 105, 106], "{ctx}");
                    // Several consumers claim by moving the shared overflow head at once; a
                    // single consumer stores its head when it releases.
                    let pending = if mode.multi_consumer() { 5 } else { 8 };
                    assert_eq!(ring.counters().overflow_pending, pending, "{ctx}");
                }
                assert_eq!(ring.counters().overflow_pending, 5, "{ctx}");
                {
                    let view = rx.view(100).unwrap();
                    assert_eq!(view.claimed(), 5, "{ctx}");
                    let v: Vec<u64> = view.iter().collect();
                    assert_eq!(v, vec![107, 108, 109, 110, 111], "{ctx}");
                }
                assert!(ring.counters().overflow_active, "{ctx}: no empty claim yet");
                assert!(matches!(rx.view(4), Err(PopError::Empty)), "{ctx}");
                assert!(!ring.counters().overflow_active, "{ctx}");
                expected.clear();

                // Reservations dropped or partly committed in the overflow area are published
                // as discarded (every mode: overflow reservations cannot be taken back), and
                // consumers skip them.
                tx.push_all(&[200, 201, 202, 203]).unwrap(); // ring full
                let ring_discarded_before = ring.counters().discarded;
                {
                    let mut chunk = tx.reserve(3).unwrap();
                    assert_eq!(chunk.len(), 3, "{ctx}");
                    chunk.write(0, 204);
                    // dropped: nothing published, all three discarded
                }
                let c = ring.counters();
                assert_eq!(c.discarded, ring_discarded_before + 3, "{ctx}");
                assert_eq!((c.overflowed, c.overflow_pending), (16, 3), "{ctx}");
                let mut chunk = tx.reserve(3).unwrap();
                assert_eq!(chunk.fill_from([205, 206]), 2, "{ctx}");
                assert_eq!(chunk.commit(), 2, "{ctx}");
                let c = ring.counters();
                assert_eq!(c.discarded, ring_discarded_before + 4, "{ctx}");
                assert_eq!((c.overflowed, c.overflow_pending), (18, 6), "{ctx}");
                tx.push(207).unwrap();
                let got = drain(&mut rx, 32);
                assert_eq!(got, vec![200, 201, 202, 203, 205, 206, 207], "{ctx}");
                assert!(!ring.counters().overflow_active, "{ctx}");

                // A ring reservation dropped: given back by a single producer, discarded by
                // several.
                let before = ring.counters();
                drop(tx.reserve(2).unwrap());
                let after = ring.counters();
                if mode.multi_producer() {
                    assert_eq!(after.discarded, before.discarded + 2, "{ctx}");
                    assert_eq!(after.tail, before.tail.wrapping_add(2), "{ctx}");
                } else {
                    assert_eq!(after.discarded, before.discarded, "{ctx}");
                    assert_eq!(after.tail, before.tail, "{ctx}");
                }
                assert_eq!(rx.pop(), Err(PopError::Empty), "{ctx}");
                assert_eq!(ring.counters().overflowed, 19, "{ctx}");
                assert_eq!(ring.counters().overflow_activations, 3, "{ctx}");
                let c = ring.counters();
                assert_eq!(c.tail, c.head, "{ctx}");
            }
        }
    }
}

#[test]
fn push_wait_on_a_full_overflow_area_times_out_and_hands_the_value_back() {
    for mode in MODES {
        let ring = ring_u64(Config::new(2).mode(mode).overflow(2));
        let mut tx = ring.producer().unwrap();
        for v in 0..4 {
            tx.push_wait(v, Some(Duration::ZERO)).unwrap();
        }
        let t = Instant::now();
        let r = tx.push_wait(9, Some(Duration::from_millis(30)));
        let took = t.elapsed();
        assert_eq!(r, Err(PushError::Full(9)), "{mode:?}");
        assert!(took >= Duration::from_millis(30), "{mode:?}: {took:?}");
        assert!(took < Duration::from_secs(2), "{mode:?}: {took:?}");
        // push_wait retried many times while refused: one refusal episode, counted once.
        assert_eq!(ring.counters().full_refusals, 1, "{mode:?}");
        // A consumer (on another thread) that frees space lets a waiting push through.
        thread::scope(|s| {
            s.spawn(|| {
                thread::sleep(Duration::from_millis(20));
                let mut rx = ring.consumer().unwrap();
                let mut out = [0u64; 8];
                assert_eq!(rx.pop_into(&mut out), Ok(4));
                assert_eq!(&out[..4], &[0, 1, 2, 3]);
            });
            tx.push_wait(10, Some(Duration::from_secs(10))).unwrap();
        });
        let mut rx = ring.consumer().unwrap();
        assert_eq!(rx.pop(), Ok(10), "{mode:?}");
        // The second push_wait was refused until the consumer made room: the same episode
        // (the handle's previous reservation, in the timed-out push_wait, was refused), so
        // not counted again.
        assert_eq!(ring.counters().full_refusals, 1, "{mode:?}");
    }
}

/// Overflow indices that wrap across `u32::MAX`: the overflow line and its biased lap tags are
/// set to the state they would have after `2^32 - 3` overflow entries (a state this crate
/// reaches only after that many spills), then spills and drains cross the wrap.
#[test]
fn overflow_indices_wrap_across_u32_max() {
    for mode in MODES {
        for ocap in [2u32, 4, 8] {
            let ctx = format!("{mode:?} overflow {ocap}");
            let ring = ring_u64(
                Config::new(2)
                    .mode(mode)
                    .overflow(ocap)
                    .initial_index(u32::MAX - 1),
            );
            let start = u32::MAX - 2;
            let line = ring.lines().overflow_line().expect("overflow line");
            line.state.store(u64::from(start), Ordering::SeqCst);
            line.head.store(start, Ordering::SeqCst);
            let base = ring.geometry().overflow_offset as usize + 128;
            for i in 0..ocap {
                let off = base + i as usize * Slot::<u64>::STRIDE;
                // SAFETY: inside the overflow block of the ring's memory (validated geometry);
                // the lap tag is the slot's first field, an aligned AtomicU32; no handle
                // exists yet.
                let seq = unsafe { &*(ring.memory().as_ptr().add(off) as *const AtomicU32) };
                // Biased: the stored word is tag - slot index.
                seq.store(
                    initial_lap_tag(i, start, ocap).wrapping_sub(i),
                    Ordering::SeqCst,
                );
            }
            let mut tx = ring.producer().unwrap();
            let mut rx = ring.consumer().unwrap();
            let mut next = 0u64;
            let mut expect_next = 0u64;
            for round in 0..(3 * ocap + 5) {
                let k = 1 + (round % ocap);
                for _ in 0..(2 + k) {
                    tx.push(next).unwrap();
                    next += 1;
                }
                let c = ring.counters();
                assert_eq!(c.overflow_pending, k, "{ctx} round {round}");
                assert!(c.overflow_active, "{ctx} round {round}");
                let got = drain(&mut rx, 64);
                assert_eq!(
                    got,
                    (expect_next..next).collect::<Vec<_>>(),
                    "{ctx} round {round}"
                );
                expect_next = next;
                assert!(!ring.counters().overflow_active, "{ctx} round {round}");
            }
            let tail = (line.state.load(Ordering::SeqCst) & overflow_state::TAIL_MASK) as u32;
            assert!(tail < start, "{ctx}: the overflow tail wrapped ({tail:#x})");
            assert_eq!(line.head.load(Ordering::SeqCst), tail, "{ctx}");
            let c = ring.counters();
            assert_eq!(c.overflow_activations, u64::from(3 * ocap + 5), "{ctx}");
            assert_eq!(c.overflowed, u64::from(tail.wrapping_sub(start)), "{ctx}");
        }
    }
}

/// Handles replaced in the middle of a spill: a new producer keeps routing to the active area,
/// and a new single consumer resumes at the overflow head, including past positions that a
/// previous consumer freed but died before storing the head for (their lap tags say "freed";
/// a crash between the two steps is emulated by moving the shared overflow head back).
#[test]
fn new_handles_resume_inside_the_overflow_area() {
    for mode in MODES {
        for init in [0u32, u32::MAX - 1] {
            let ctx = format!("{mode:?} initial {init:#x}");
            let ring = ring_u64(Config::new(2).mode(mode).overflow(8).initial_index(init));
            let line = ring.lines().overflow_line().unwrap();
            {
                let mut tx = ring.producer().unwrap();
                for v in 0..5 {
                    tx.push(v).unwrap(); // 2 in the ring, 3 spilled
                }
                tx.release(); // hand over without closing the stream
            }
            {
                // A new producer while the area is active: it goes on spilling.
                let mut tx = ring.producer().unwrap();
                assert_eq!(tx.push_some(&[5, 6, 7]), Ok(3), "{ctx}");
                assert_eq!(ring.counters().overflow_pending, 6, "{ctx}");
                assert_eq!(ring.counters().tail, init.wrapping_add(2), "{ctx}");
            }
            {
                let mut rx = ring.consumer().unwrap();
                let mut out = [0u64; 4];
                assert_eq!(rx.pop_into(&mut out), Ok(4), "{ctx}");
                assert_eq!(out, [0, 1, 2, 3], "{ctx}");
            }
            assert_eq!(line.head.load(Ordering::SeqCst), 2, "{ctx}");
            if !mode.multi_consumer() {
                // The previous consumer freed overflow positions 0 and 1 but "died" before
                // storing its head: the new one must skip them, not deliver them again.
                line.head.store(0, Ordering::SeqCst);
            }
            let mut rx = ring.consumer().unwrap();
            assert_eq!(line.head.load(Ordering::SeqCst), 2, "{ctx}: head recovered");
            let got = drain(&mut rx, 16);
            assert_eq!(got, vec![4, 5, 6, 7], "{ctx}");
            let c = ring.counters();
            assert!(!c.overflow_active, "{ctx}");
            assert_eq!((c.overflowed, c.overflow_activations), (6, 1), "{ctx}");
            // And the ring is used again.
            ring.producer().unwrap().push(8).unwrap();
            assert_eq!(ring.counters().tail, init.wrapping_add(3), "{ctx}");
            assert_eq!(rx.pop(), Ok(8), "{ctx}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Threads: per-producer order across the boundary in both directions.

/// What one producer did.
#[derive(Default, Debug, Clone, Copy)]
struct Produced {
    /// Reserved slots abandoned (published as discarded: every mode used here has several
    /// producers).
    abandoned: u64,
    /// Refusal episodes: operations refused for lack of space, counted only when this
    /// handle's previous operation was granted (as `full_refusals` counts them).
    refusals: u64,
}

/// Pushes `entry(p, 0..count)` in order with a random mix of `push`, `push_all`, `push_some`
/// and `reserve` + `commit` (sometimes committing only part of a reservation, sometimes
/// dropping it), batches of at most `max_batch`, retrying while refused. Counts the refusal
/// episodes (a run of refused operations ended by a granted one is counted once in
/// `full_refusals`) and the abandoned slots. `give_up` is checked now and then while refused.
fn produce(
    tx: &mut Producer<Completion>,
    p: u64,
    count: u64,
    max_batch: u64,
    give_up: &dyn Fn() -> Option<String>,
) -> Result<Produced, String> {
    let mut rng = Rng::new(p * 104_729 + 3);
    let mut stats = Produced::default();
    let mut batch = Vec::with_capacity(max_batch as usize);
    let mut seq = 0u64;
    let mut step = 0u32;
    // Whether this handle's last operation was refused (a refusal episode is under way).
    let mut refusing = false;
    while seq < count {
        let b = (rng.below(max_batch) + 1).min(count - seq);
        let (pushed, refused) = match rng.below(4) {
            0 => match tx.push(entry(p, seq)) {
                Ok(()) => (1, false),
                Err(PushError::Full(v)) if v == entry(p, seq) => (0, true),
                Err(e) => return Err(format!("producer {p}: push at {seq}: {e:?}")),
            },
            1 => {
                batch.clear();
                batch.extend((seq..seq + b).map(|s| entry(p, s)));
                match tx.push_all(&batch) {
                    Ok(()) => (b, false),
                    Err(PushAllError::Full { .. }) => (0, true),
                    Err(e) => return Err(format!("producer {p}: push_all at {seq}: {e}")),
                }
            }
            2 => {
                batch.clear();
                batch.extend((seq..seq + b).map(|s| entry(p, s)));
                match tx.push_some(&batch) {
                    Ok(0) => (0, true),
                    Ok(n) => (n as u64, false),
                    Err(e) => return Err(format!("producer {p}: push_some at {seq}: {e}")),
                }
            }
            _ => match tx.reserve(b as usize) {
                Ok(mut chunk) => {
                    let n = chunk.len();
                    if n == 0 || n as u64 > b {
                        return Err(format!("producer {p}: reserve({b}) gave {n} slots"));
                    }
                    let keep = match rng.below(16) {
                        0 => 0,
                        1 => n / 2,
                        _ => n,
                    };
                    if keep == 0 {
                        drop(chunk);
                    } else {
                        let w = chunk.fill_from((seq..seq + keep as u64).map(|s| entry(p, s)));
                        if w != keep {
                            return Err(format!("producer {p}: fill_from wrote {w}/{keep}"));
                        }
                        let published = chunk.commit();
                        if published != keep {
                            return Err(format!(
                                "producer {p}: commit published {published}/{keep}"
                            ));
                        }
                    }
                    stats.abandoned += (n - keep) as u64;
                    (keep as u64, false)
                }
                Err(PushAllError::Full { .. }) => (0, true),
                Err(e) => return Err(format!("producer {p}: reserve at {seq}: {e}")),
            },
        };
        // Every operation that was not refused was a granted reservation (a reservation
        // dropped without committing anything included), which ends an episode.
        if refused && !refusing {
            stats.refusals += 1;
        }
        refusing = refused;
        if pushed == 0 {
            if step % 64 == 63 {
                if let Some(why) = give_up() {
                    return Err(format!("producer {p} at {seq}/{count}: {why}"));
                }
            }
            snooze(&mut step);
        } else {
            seq += pushed;
            step = 0;
        }
    }
    Ok(stats)
}

/// What one consumer saw: a bitmap per producer, its own per-producer order, a hash.
struct Tally {
    bits: Vec<Vec<u64>>,
    last: Vec<Option<u64>>,
    count: u64,
    dups: u64,
    order: u64,
    hash: u64,
    got: u64,
    /// A gap-free check (single consumer only): the next sequence number per producer.
    next: Vec<u64>,
    gap_free: bool,
}

impl Tally {
    fn new(producers: usize, count: u64, gap_free: bool) -> Tally {
        let words = count.div_ceil(64) as usize;
        Tally {
            bits: vec![vec![0; words]; producers],
            last: vec![None; producers],
            count,
            dups: 0,
            order: 0,
            hash: 0,
            got: 0,
            next: vec![0; producers],
            gap_free,
        }
    }

    fn check(&mut self, c: &Completion) -> Result<(), String> {
        let (p, seq) = decode(c)?;
        let pi = p as usize;
        if pi >= self.bits.len() || seq >= self.count {
            return Err(format!("entry out of range: {c:?}"));
        }
        let (w, b) = ((seq / 64) as usize, seq % 64);
        if self.bits[pi][w] & (1 << b) != 0 {
            self.dups += 1;
        }
        self.bits[pi][w] |= 1 << b;
        if self.last[pi].is_some_and(|l| l >= seq) {
            self.order += 1;
        }
        self.last[pi] = Some(seq);
        if self.gap_free {
            if seq != self.next[pi] {
                return Err(format!(
                    "producer {p}: expected seq {}, received {seq}",
                    self.next[pi]
                ));
            }
            self.next[pi] += 1;
        }
        self.hash = self.hash.wrapping_add(mix(c.user_data));
        self.got += 1;
        Ok(())
    }
}

/// Merges consumers' tallies: (distinct per producer, duplicates across and within, order
/// violations, hash, deliveries).
fn merge(tallies: &[Tally]) -> (Vec<u64>, u64, u64, u64, u64) {
    let producers = tallies[0].bits.len();
    let words = tallies[0].bits[0].len();
    let mut union = vec![vec![0u64; words]; producers];
    let (mut dups, mut order, mut hash, mut got) = (0, 0, 0u64, 0);
    for t in tallies {
        dups += t.dups;
        order += t.order;
        hash = hash.wrapping_add(t.hash);
        got += t.got;
        for (u, b) in union.iter_mut().zip(&t.bits) {
            for (uw, bw) in u.iter_mut().zip(b) {
                dups += u64::from((*uw & *bw).count_ones());
                *uw |= *bw;
            }
        }
    }
    let distinct = union
        .iter()
        .map(|u| u.iter().map(|w| u64::from(w.count_ones())).sum())
        .collect();
    (distinct, dups, order, hash, got)
}

/// One round of receiving with a rotating mix of `reap` (sleeping up to a few milliseconds when
/// the ring has the wait block), `pop_into`, `view` and `pop`. Returns how many entries.
fn consume_round(
    rx: &mut Consumer<Completion>,
    buf: &mut [Completion],
    round: u64,
    can_sleep: bool,
    mut f: impl FnMut(&Completion) -> Result<(), String>,
) -> Result<usize, String> {
    let max = 1 + (mix(round) % buf.len() as u64) as usize;
    match round % 4 {
        0 => {
            let (min, timeout) = if can_sleep {
                ((1 + max / 4).min(4), Some(Duration::from_millis(2)))
            } else {
                (0, None)
            };
            let n = rx
                .reap(&mut buf[..max], min, timeout)
                .map_err(|e| format!("reap: {e}"))?;
            for c in &buf[..n] {
                f(c)?;
            }
            Ok(n)
        }
        r => {
            let how = [Claim::PopInto, Claim::View, Claim::Pop][(r - 1) as usize];
            receive(rx, buf, max, how, f)
        }
    }
}

fn per_producer_threads() -> u64 {
    200_000
}

/// 3 producer threads on a ring of 4 with an overflow area of `ocap`; one consumer (MPSC) or
/// two (MPMC).
fn threaded_order(mode: Mode, ocap: u32, wait: bool) {
    const PRODUCERS: u64 = 3;
    let count = per_producer_threads();
    let consumers = if mode.multi_consumer() { 2 } else { 1 };
    let ctx = format!("{mode:?} overflow {ocap} wait {wait}");
    let start = u32::MAX - 1000;
    let ring = Ring::<Completion>::create_heap(
        Config::new(4)
            .mode(mode)
            .overflow(ocap)
            .wait(wait)
            .initial_index(start),
    )
    .expect("create");
    let stop = AtomicBool::new(false);
    let consumed = AtomicU64::new(0);
    let deadline = Instant::now() + DEADLINE;
    let total = PRODUCERS * count;
    let give_up = || {
        if stop.load(Ordering::Relaxed) {
            Some("stopped".to_string())
        } else if Instant::now() > deadline {
            Some("deadline expired".to_string())
        } else {
            None
        }
    };
    let t0 = Instant::now();
    type Results<T> = Vec<Result<T, String>>;
    let (produced, tallies): (Results<Produced>, Results<Tally>) = thread::scope(|s| {
        let prods: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let (ring, stop, give_up) = (&ring, &stop, &give_up);
                s.spawn(move || {
                    let mut tx = ring.producer().map_err(|e| e.to_string())?;
                    let r = produce(&mut tx, p, count, 4, give_up);
                    if r.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    r
                })
            })
            .collect();
        let cons: Vec<_> = (0..consumers)
            .map(|t| {
                let (ring, stop, consumed, give_up) = (&ring, &stop, &consumed, &give_up);
                s.spawn(move || {
                    let mut tally = Tally::new(PRODUCERS as usize, count, consumers == 1);
                    let mut rx = ring.consumer().map_err(|e| e.to_string())?;
                    let mut buf = vec![Completion::default(); 32];
                    let mut round = t as u64 * 1_000_003;
                    let mut step = 0u32;
                    while consumed.load(Ordering::Relaxed) < total {
                        round += 1;
                        match consume_round(&mut rx, &mut buf, round, wait, |c| tally.check(c)) {
                            Ok(0) => {
                                if step % 64 == 63 {
                                    if let Some(why) = give_up() {
                                        return Err(format!(
                                            "consumer {t} after {}: {why}",
                                            tally.got
                                        ));
                                    }
                                }
                                snooze(&mut step);
                            }
                            Ok(n) => {
                                consumed.fetch_add(n as u64, Ordering::Relaxed);
                                step = 0;
                            }
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                return Err(format!("consumer {t}: {e}"));
                            }
                        }
                    }
                    // The last consumer's empty claim deactivates the area.
                    let _ = rx.pop();
                    Ok(tally)
                })
            })
            .collect();
        (
            prods
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
                .collect(),
            cons.into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
                .collect(),
        )
    });
    let elapsed = t0.elapsed();
    let mut sum = Produced::default();
    for r in produced {
        let p = r.unwrap_or_else(|e| panic!("{ctx}: {e}"));
        sum.abandoned += p.abandoned;
        sum.refusals += p.refusals;
    }
    let tallies: Vec<Tally> = tallies
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{ctx}: {e}")))
        .collect();
    let (distinct, dups, order, hash, got) = merge(&tallies);
    assert_eq!(dups, 0, "{ctx}: duplicates");
    assert_eq!(order, 0, "{ctx}: per-producer order (per consumer)");
    assert_eq!(
        distinct,
        vec![count; PRODUCERS as usize],
        "{ctx}: lost entries"
    );
    assert_eq!(got, total, "{ctx}: deliveries");
    assert_eq!(hash, expected_hash(PRODUCERS, count), "{ctx}");
    let mut rx = ring.consumer().unwrap();
    assert_eq!(rx.pop(), Err(PopError::Empty), "{ctx}: an extra entry");
    let c = ring.counters();
    assert_eq!(c.full_refusals, sum.refusals, "{ctx}: full_refusals");
    assert_eq!(c.discarded, sum.abandoned, "{ctx}: discarded");
    assert!(c.overflowed > 0, "{ctx}: nothing overflowed");
    assert!(c.overflowed <= total, "{ctx}");
    assert!(c.overflow_activations > 1, "{ctx}: activations {c:?}");
    assert!(!c.overflow_active, "{ctx}");
    assert_eq!(c.overflow_pending, 0, "{ctx}");
    // Every position taken, in the ring or in the overflow area, was delivered or discarded.
    let line = ring.lines().overflow_line().unwrap();
    let ovf_tail = line.state.load(Ordering::SeqCst) & overflow_state::TAIL_MASK;
    let ring_taken = u64::from(c.tail.wrapping_sub(start));
    assert_eq!(c.tail, c.head, "{ctx}");
    assert_eq!(
        ring_taken + ovf_tail,
        total + c.discarded,
        "{ctx}: positions"
    );
    assert!(ring_taken + c.overflowed >= total, "{ctx}");
    eprintln!(
        "{ctx}: {total} entries in {elapsed:?}; overflowed {} ({} activations), {} refusals, \
         {} discarded, {} wakeups, {} sleeps",
        c.overflowed, c.overflow_activations, c.full_refusals, c.discarded, c.wakeups, c.sleeps
    );
}

#[test]
fn mpsc_threads_order_across_the_boundary_overflow_16() {
    threaded_order(Mode::Mpsc, 16, true);
}

#[test]
fn mpsc_threads_order_across_the_boundary_overflow_64() {
    threaded_order(Mode::Mpsc, 64, false);
}

#[test]
fn mpmc_threads_order_across_the_boundary_overflow_16() {
    threaded_order(Mode::Mpmc, 16, false);
}

#[test]
fn mpmc_threads_order_across_the_boundary_overflow_64() {
    threaded_order(Mode::Mpmc, 64, true);
}

// ---------------------------------------------------------------------------------------------
// Two processes (the harness is in common/mod.rs).

/// The indices start here, so the two-process tests cross the u32 wrap early.
const START: u32 = u32::MAX - 100;

/// The re-exec entry point: runs the role named by [`common::ROLE_VAR`], or nothing.
#[test]
fn child() {
    let Some((role, params)) = common::child_role() else {
        return;
    };
    match role.as_str() {
        "burst" => child_burst(&params),
        "refuse" => child_refuse(&params),
        "blocking" => child_blocking(&params),
        "mix" => child_mix(&params),
        other => panic!("unknown child role {other}"),
    }
    report("done", 1);
}

// ---------------------------------------------------------------------------------------------
// 1. Bursts while the parent sleeps in reap.

/// Each round: wait until the parent has drained the previous burst and sleeps in `reap`
/// again (ring and overflow area empty, area inactive, a waiter announced), then `producers`
/// threads push `per_thread` entries each with `push` (none may be refused). Reports how many
/// landed in the ring (the ring's tail moved) and in the overflow area.
fn child_burst(params: &Params) {
    let ring = child_ring::<Completion>(params, Mode::Mpsc);
    let (producers, per_thread, rounds) = (
        params.num("producers"),
        params.num("per_thread"),
        params.num("rounds"),
    );
    let deadline = Instant::now() + DEADLINE;
    let (mut ring_landed, mut ovf_landed) = (0u64, 0u64);
    for round in 0..rounds {
        loop {
            let c = ring.counters();
            if c.waiters > 0 && c.tail == c.head && c.overflow_pending == 0 && !c.overflow_active {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: parent never slept: {c:?}"
            );
            assert!(!orphaned(params), "parent went away");
            thread::sleep(Duration::from_micros(200));
        }
        let before = ring.counters();
        thread::scope(|s| {
            for p in 0..producers {
                let ring = &ring;
                s.spawn(move || {
                    let mut tx = ring.producer().expect("producer");
                    for i in 0..per_thread {
                        let seq = round * per_thread + i;
                        if let Err(e) = tx.push(entry(p, seq)) {
                            panic!("round {round}: producer {p} seq {seq}: {e:?}");
                        }
                    }
                });
            }
        });
        let after = ring.counters();
        let burst = producers * per_thread;
        let in_ring = u64::from(after.tail.wrapping_sub(before.tail));
        ring_landed += in_ring;
        ovf_landed += burst - in_ring;
    }
    report("ring_landed", ring_landed);
    report("ovf_landed", ovf_landed);
}

fn burst_while_parent_sleeps(ring: &Ring<Completion>, transport: Transport<'_>) {
    const PRODUCERS: u64 = 3;
    const PER_THREAD: u64 = 64;
    const ROUNDS: u64 = 50;
    let cap = u64::from(ring.capacity());
    let burst = PRODUCERS * PER_THREAD;
    assert!(
        burst >= 10 * cap,
        "a burst is at least 10x the ring's capacity"
    );
    assert!(burst <= cap + u64::from(ring.lines().overflow_capacity()));
    let mut peer = Peer::spawn(
        "burst",
        &[
            ("producers", PRODUCERS.to_string()),
            ("per_thread", PER_THREAD.to_string()),
            ("rounds", ROUNDS.to_string()),
        ],
        &transport,
    );
    let mut rx = ring.consumer().expect("consumer");
    rx.set_spin(0);
    let mut tally = Tally::new(PRODUCERS as usize, ROUNDS * PER_THREAD, true);
    // One more than a burst, so the reap's last claim finds nothing and deactivates the area.
    let mut buf = vec![Completion::default(); burst as usize + 1];
    for round in 0..ROUNDS {
        let sleeps_before = ring.counters().sleeps;
        let t = Instant::now();
        // Before the burst exists: this sleeps until all of it is there.
        let n = match rx.reap(&mut buf, burst as usize, Some(Duration::from_secs(20))) {
            Ok(n) => n,
            Err(e) => peer.fail(format!("round {round}: reap: {e}")),
        };
        if n != burst as usize {
            peer.fail(format!(
                "round {round}: reap returned {n}/{burst} after {:?} (a lost wake-up?): {:?}",
                t.elapsed(),
                ring.counters()
            ));
        }
        for c in &buf[..n] {
            if let Err(e) = tally.check(c) {
                peer.fail(format!("round {round}: {e}"));
            }
        }
        let c = ring.counters();
        let r = round + 1;
        assert!(
            c.sleeps > sleeps_before,
            "round {round}: the reaper never slept"
        );
        // Every entry of the round landed in the ring or in the overflow area: what did not
        // advance the ring's tail went through the overflow area. (The reaper drains the ring
        // once it is full, so a few stragglers of a round may land in the ring after the first
        // `cap`; at least `burst - cap` spill each round.)
        let in_ring = u64::from(c.tail.wrapping_sub(START));
        assert_eq!(c.overflowed + in_ring, r * burst, "round {round}: {c:?}");
        assert!(
            c.overflowed >= r * (burst - cap) - in_ring.saturating_sub(r * cap),
            "round {round}: {c:?}"
        );
        assert!(c.overflow_activations >= r, "round {round}: {c:?}");
        assert!(!c.overflow_active, "round {round}: {c:?}");
        assert_eq!(c.overflow_pending, 0, "round {round}");
        assert_eq!(c.tail, c.head, "round {round}");
        if let Some(s) = peer.poll_ok() {
            if round + 1 < ROUNDS {
                peer.fail(format!("child exited early: {s}"));
            }
        }
    }
    let reports = peer.finish();
    let ovf_landed = peer.number(&reports, "ovf_landed");
    let ring_landed = peer.number(&reports, "ring_landed");
    let c = ring.counters();
    assert_eq!(tally.got, ROUNDS * burst);
    assert_eq!(ring_landed + ovf_landed, ROUNDS * burst);
    assert_eq!(c.overflowed, ovf_landed, "overflowed vs the child's tally");
    assert!(
        c.overflowed >= ROUNDS * (burst - cap) / 2,
        "most of each burst spilled: {c:?}"
    );
    assert!(c.overflowed <= tally.got);
    assert_eq!((c.full_refusals, c.discarded), (0, 0));
    assert!(c.sleeps >= ROUNDS, "sleeps {c:?}");
    assert!(c.wakeups >= ROUNDS, "wakeups {c:?}");
    assert_eq!(c.waiters, 0);
    assert!(c.tail < START, "the ring indices wrapped");
    assert_eq!(rx.pop(), Err(PopError::Empty));
    eprintln!(
        "burst: {} entries in {ROUNDS} rounds, overflowed {}, {} sleeps, {} wakeups",
        tally.got, c.overflowed, c.sleeps, c.wakeups
    );
}

fn burst_cfg() -> Config {
    Config::new(8)
        .mode(Mode::Mpsc)
        .overflow(256)
        .initial_index(START)
}

#[test]
fn burst_while_parent_sleeps_shm() {
    let name = unique_name("burst");
    let _guard = ShmGuard::new(&name);
    let ring = Ring::<Completion>::create_shm(&name, burst_cfg()).expect("create_shm");
    burst_while_parent_sleeps(&ring, Transport::Shm(&name));
}

#[test]
fn burst_while_parent_sleeps_memfd() {
    let ring = Ring::<Completion>::create_memfd("ring-core-ovf-burst", burst_cfg()).expect("memfd");
    burst_while_parent_sleeps(&ring, Transport::Memfd(&ring));
}

// ---------------------------------------------------------------------------------------------
// 2. An overflow area too small: refusals counted on both sides; push_wait instead.

/// `producers` threads push `count` entries each with `push`; a refused entry (handed back
/// intact) is skipped. Reports per producer the accepted count and hash, and in total the
/// skipped entries and the refusal episodes (a run of refused pushes by one producer, ended
/// by an accepted one, counts once, as in `full_refusals`).
fn child_refuse(params: &Params) {
    let ring = child_ring::<Completion>(params, Mode::Mpsc);
    let (producers, count) = (params.num("producers"), params.num("count"));
    let results: Vec<(u64, u64, u64, u64)> = thread::scope(|s| {
        let hs: Vec<_> = (0..producers)
            .map(|p| {
                let ring = &ring;
                s.spawn(move || {
                    let mut tx = ring.producer().expect("producer");
                    let (mut accepted, mut skipped, mut episodes, mut hash) = (0u64, 0, 0, 0u64);
                    let mut refusing = false;
                    let mut step = 0u32;
                    for seq in 0..count {
                        match tx.push(entry(p, seq)) {
                            Ok(()) => {
                                accepted += 1;
                                hash = hash.wrapping_add(mix(p << 32 | seq));
                                refusing = false;
                                step = 0;
                            }
                            Err(PushError::Full(v)) => {
                                assert_eq!(v, entry(p, seq), "the refused value is handed back");
                                skipped += 1;
                                if !refusing {
                                    episodes += 1;
                                    refusing = true;
                                }
                                snooze(&mut step);
                            }
                            Err(e) => panic!("producer {p} seq {seq}: {e:?}"),
                        }
                    }
                    (accepted, skipped, episodes, hash)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("producer"))
            .collect()
    });
    let (mut skipped, mut refusals) = (0, 0);
    for (p, (accepted, skips, episodes, hash)) in results.iter().enumerate() {
        report(&format!("accepted{p}"), accepted);
        report(&format!("hash{p}"), hash);
        skipped += skips;
        refusals += episodes;
    }
    report("skipped", skipped);
    report("refusals", refusals);
}

/// `producers` threads push `count` entries each with `push_wait` (nothing may be refused).
fn child_blocking(params: &Params) {
    let ring = child_ring::<Completion>(params, Mode::Mpsc);
    let (producers, count) = (params.num("producers"), params.num("count"));
    thread::scope(|s| {
        for p in 0..producers {
            let ring = &ring;
            s.spawn(move || {
                let mut tx = ring.producer().expect("producer");
                for seq in 0..count {
                    if let Err(e) = tx.push_wait(entry(p, seq), Some(Duration::from_secs(30))) {
                        panic!("producer {p} seq {seq}: push_wait: {e:?}");
                    }
                }
            });
        }
    });
}

/// The parent's side of the "refuse" and "blocking" roles: reap in batches of at least `min`
/// (sleeping until that many are ready) until the child has exited and nothing is left.
/// Returns what arrived per producer (in order, gaps allowed) and the number of reaps that hit
/// their timeout.
fn reap_until_child_exits(
    peer: &mut Peer,
    ring: &Ring<Completion>,
    producers: usize,
    count: u64,
) -> (Tally, u32) {
    let mut rx = ring.consumer().expect("consumer");
    rx.set_spin(0);
    let mut tally = Tally::new(producers, count, false);
    let mut buf = vec![Completion::default(); 64];
    let timeout = Duration::from_millis(300);
    let mut timeouts = 0u32;
    loop {
        // Once the child is seen to have exited, everything it published is in view: reap
        // without blocking until nothing is left.
        let exited = peer.poll_ok().is_some();
        let min = if exited { 0 } else { 16 };
        let t = Instant::now();
        let n = match rx.reap(&mut buf, min, Some(timeout)) {
            Ok(n) => n,
            Err(e) => peer.fail(format!("reap: {e}")),
        };
        if t.elapsed() >= timeout {
            timeouts += 1;
        }
        for c in &buf[..n] {
            if let Err(e) = tally.check(c) {
                peer.fail(e);
            }
        }
        if exited && n == 0 {
            break;
        }
    }
    // The empty claims above deactivated the area.
    assert!(!ring.counters().overflow_active);
    (tally, timeouts)
}

#[test]
fn overflow_too_small_refusals_are_counted_on_both_sides() {
    const PRODUCERS: usize = 3;
    const COUNT: u64 = 20_000;
    let name = unique_name("refuse");
    let _guard = ShmGuard::new(&name);
    let cfg = Config::new(8)
        .mode(Mode::Mpsc)
        .overflow(16)
        .initial_index(START);
    let ring = Ring::<Completion>::create_shm(&name, cfg).expect("create_shm");
    let mut peer = Peer::spawn(
        "refuse",
        &[
            ("producers", PRODUCERS.to_string()),
            ("count", COUNT.to_string()),
        ],
        &Transport::Shm(&name),
    );
    let (tally, timeouts) = reap_until_child_exits(&mut peer, &ring, PRODUCERS, COUNT);
    let reports = peer.finish();
    assert_eq!(tally.dups, 0, "duplicates");
    assert_eq!(tally.order, 0, "per-producer order");
    let mut accepted = 0;
    let mut hash = 0u64;
    for p in 0..PRODUCERS {
        let a = peer.number(&reports, &format!("accepted{p}"));
        let got: u64 = tally.bits[p]
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum();
        assert_eq!(
            got, a,
            "producer {p}: every accepted entry arrives exactly once"
        );
        accepted += a;
        hash = hash.wrapping_add(peer.number(&reports, &format!("hash{p}")));
    }
    assert_eq!(tally.got, accepted);
    assert_eq!(tally.hash, hash, "the accepted cookies");
    let skipped = peer.number(&reports, "skipped");
    let refusals = peer.number(&reports, "refusals");
    assert_eq!(accepted + skipped, PRODUCERS as u64 * COUNT);
    let c = ring.counters();
    assert_eq!(
        c.full_refusals, refusals,
        "full_refusals vs the child's refusal episodes"
    );
    assert!(refusals > 0, "the overflow area never filled");
    assert!(refusals <= skipped, "more episodes than refused pushes");
    assert!(c.overflowed > 0 && c.overflowed <= accepted, "{c:?}");
    assert_eq!(c.discarded, 0);
    assert!(c.sleeps > 0 && c.wakeups > 0, "{c:?}");
    assert!(
        timeouts <= 2,
        "{timeouts} reaps timed out while the child was pushing"
    );
    eprintln!(
        "refuse: {accepted} accepted, {skipped} refused in {refusals} episodes, overflowed {} \
         ({} activations), {} sleeps, {} wakeups, {timeouts} timed-out reaps",
        c.overflowed, c.overflow_activations, c.sleeps, c.wakeups
    );
}

#[test]
fn overflow_too_small_push_wait_refuses_nothing() {
    const PRODUCERS: usize = 3;
    const COUNT: u64 = 20_000;
    let cfg = Config::new(8)
        .mode(Mode::Mpsc)
        .overflow(16)
        .initial_index(START);
    let ring = Ring::<Completion>::create_memfd("ring-core-ovf-blocking", cfg).expect("memfd");
    let mut peer = Peer::spawn(
        "blocking",
        &[
            ("producers", PRODUCERS.to_string()),
            ("count", COUNT.to_string()),
        ],
        &Transport::Memfd(&ring),
    );
    let (tally, timeouts) = reap_until_child_exits(&mut peer, &ring, PRODUCERS, COUNT);
    peer.finish();
    assert_eq!(tally.dups, 0, "duplicates");
    assert_eq!(tally.order, 0, "per-producer order");
    for p in 0..PRODUCERS {
        let got: u64 = tally.bits[p]
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum();
        assert_eq!(got, COUNT, "producer {p}: nothing lost");
    }
    assert_eq!(tally.hash, expected_hash(PRODUCERS as u64, COUNT));
    let c = ring.counters();
    assert!(c.overflowed > 0 && c.overflowed <= tally.got, "{c:?}");
    assert!(c.sleeps > 0 && c.wakeups > 0, "{c:?}");
    assert!(
        timeouts <= 2,
        "{timeouts} reaps timed out while the child was pushing"
    );
    eprintln!(
        "push_wait: {} entries, overflowed {} ({} activations), {} internal refusal episodes, \
         {} sleeps, {} wakeups",
        tally.got, c.overflowed, c.overflow_activations, c.full_refusals, c.sleeps, c.wakeups
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Spill and recover repeatedly across the u32 wrap, producers in two processes.

fn child_mix(params: &Params) {
    let ring = child_ring::<Completion>(params, Mode::Mpsc);
    let (first, producers, count) = (
        params.num("first"),
        params.num("producers"),
        params.num("count"),
    );
    let deadline = Instant::now() + DEADLINE;
    let give_up = || {
        if Instant::now() > deadline {
            Some("deadline expired".to_string())
        } else if orphaned(params) {
            Some("parent went away".to_string())
        } else {
            None
        }
    };
    let results: Vec<Result<Produced, String>> = thread::scope(|s| {
        let hs: Vec<_> = (first..first + producers)
            .map(|p| {
                let (ring, give_up) = (&ring, &give_up);
                s.spawn(move || {
                    let mut tx = ring.producer().map_err(|e| e.to_string())?;
                    produce(&mut tx, p, count, 8, give_up)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
            .collect()
    });
    let (mut abandoned, mut refusals) = (0, 0);
    for r in results {
        let s = r.unwrap_or_else(|e| panic!("{e}"));
        abandoned += s.abandoned;
        refusals += s.refusals;
    }
    report("abandoned", abandoned);
    report("refusals", refusals);
}

#[test]
fn spill_and_recover_across_the_wrap_in_two_processes() {
    const CHILD_PRODUCERS: u64 = 2;
    const PRODUCERS: u64 = 3;
    let count: u64 = 300_000;
    let start = u32::MAX - 50;
    let name = unique_name("mix");
    let _guard = ShmGuard::new(&name);
    let cfg = Config::new(8)
        .mode(Mode::Mpsc)
        .overflow(32)
        .initial_index(start);
    let ring = Ring::<Completion>::create_shm(&name, cfg).expect("create_shm");
    let mut peer = Peer::spawn(
        "mix",
        &[
            ("first", "0".to_string()),
            ("producers", CHILD_PRODUCERS.to_string()),
            ("count", count.to_string()),
        ],
        &Transport::Shm(&name),
    );
    let total = PRODUCERS * count;
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + DEADLINE;
    let t0 = Instant::now();
    let (mine, tally) = thread::scope(|s| {
        let (ring_ref, stop_ref) = (&ring, &stop);
        let producer = s.spawn(move || {
            let give_up = || {
                if stop_ref.load(Ordering::Relaxed) {
                    Some("stopped".to_string())
                } else if Instant::now() > deadline {
                    Some("deadline expired".to_string())
                } else {
                    None
                }
            };
            let mut tx = ring_ref.producer().map_err(|e| e.to_string())?;
            produce(&mut tx, PRODUCERS - 1, count, 8, &give_up)
        });
        let mut rx = ring.consumer().expect("consumer");
        let mut tally = Tally::new(PRODUCERS as usize, count, true);
        let mut buf = vec![Completion::default(); 48];
        let mut round = 0u64;
        let mut step = 0u32;
        let mut child_exited = false;
        while tally.got < total {
            round += 1;
            match consume_round(&mut rx, &mut buf, round, true, |c| tally.check(c)) {
                Ok(0) => {
                    if step % 64 == 63 {
                        if child_exited && producer.is_finished() {
                            stop.store(true, Ordering::Relaxed);
                            peer.fail(format!(
                                "every producer finished but only {}/{total} arrived (next: {:?})",
                                tally.got, tally.next
                            ));
                        }
                        if peer.poll_ok().is_some() {
                            child_exited = true;
                        }
                    }
                    snooze(&mut step);
                }
                Ok(_) => step = 0,
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    peer.fail(format!("after {} entries: {e}", tally.got));
                }
            }
        }
        let _ = rx.pop(); // the empty claim that deactivates the area
        (producer.join().expect("producer thread"), tally)
    });
    let elapsed = t0.elapsed();
    let mine = mine.unwrap_or_else(|e| panic!("{e}"));
    let reports = peer.finish();
    let abandoned = peer.number(&reports, "abandoned") + mine.abandoned;
    let refusals = peer.number(&reports, "refusals") + mine.refusals;
    assert_eq!(tally.got, total);
    assert_eq!(tally.hash, expected_hash(PRODUCERS, count));
    let mut rx = ring.consumer().expect("consumer");
    assert_eq!(rx.pop(), Err(PopError::Empty), "an extra entry");
    let c = ring.counters();
    assert_eq!(
        c.full_refusals, refusals,
        "full_refusals vs both processes' refusal episodes"
    );
    assert_eq!(c.discarded, abandoned, "discarded vs abandoned slots");
    assert!(c.overflowed > 0 && c.overflowed <= total, "{c:?}");
    assert!(c.overflow_activations > 10, "few activations: {c:?}");
    assert!(!c.overflow_active && c.overflow_pending == 0, "{c:?}");
    assert_eq!(c.tail, c.head);
    assert!(c.tail < start, "the ring indices wrapped");
    let line = ring.lines().overflow_line().unwrap();
    let ovf_tail = line.state.load(Ordering::SeqCst) & overflow_state::TAIL_MASK;
    let ring_taken = u64::from(c.tail.wrapping_sub(start));
    assert_eq!(
        ring_taken + ovf_tail,
        total + c.discarded,
        "positions taken"
    );
    eprintln!(
        "mix: {total} entries in {elapsed:?}, overflowed {} in {} activations, {} refusals, \
         {} discarded, {} sleeps, {} wakeups",
        c.overflowed, c.overflow_activations, c.full_refusals, c.discarded, c.sleeps, c.wakeups
    );
}
