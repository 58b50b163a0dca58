//! The peer is untrusted: garbage in the shared indices and lap tags must give typed errors,
//! never a panic, a hang, or a value that was never pushed.
//!
//! Deterministic single-threaded cases pin the exact error for each kind of corruption; then a
//! hostile thread scribbles over the shared words of a live ring in every mode while this side
//! keeps producing and consuming, for a bounded time.

mod common;

use common::Rng;
use ring_core::layout::{Header, Slot};
use ring_core::{ClaimError, Config, Corruption, Mode, PopError, PushAllError, PushError, Ring};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MODES: [Mode; 4] = [Mode::Spsc, Mode::Mpsc, Mode::Spmc, Mode::Mpmc];

/// A ring whose slots carry lap tags in every mode (SPSC too: `packed(false)`), so that the
/// tests below can forge them.
fn ring(mode: Mode, cap: u32, init: u32) -> Ring<u64> {
    let cfg = Config::new(cap)
        .mode(mode)
        .initial_index(init)
        .packed(false);
    Ring::<u64>::create_heap(cfg).unwrap()
}

/// An SPSC ring, packed (layout 1.4) or with lap tags.
fn spsc_ring(packed: bool, cap: u32, init: u32) -> Ring<u64> {
    if packed {
        packed_ring(cap, init)
    } else {
        ring(Mode::Spsc, cap, init)
    }
}

/// An SPSC ring with packed slots (layout 1.4): no lap tags to forge, only indices and header.
fn packed_ring(cap: u32, init: u32) -> Ring<u64> {
    let ring = Ring::<u64>::create_heap(Config::new(cap).initial_index(init)).unwrap();
    assert!(ring.geometry().packed);
    ring
}

/// The slot that position `pos` maps to, found from the trusted geometry.
fn slot(ring: &Ring<u64>, pos: u32) -> &Slot<u64> {
    let g = ring.geometry();
    let i = (pos & (g.capacity - 1)) as usize;
    let off = g.slots_offset as usize + i * Slot::<u64>::STRIDE;
    assert!(off + Slot::<u64>::STRIDE <= ring.memory().len());
    // SAFETY: in bounds of the ring's memory (checked above), aligned (slots are 128-aligned
    // and the stride is a multiple of the slot's alignment); Slot's shared words are atomics.
    unsafe { &*(ring.memory().as_ptr().add(off) as *const Slot<u64>) }
}

fn header(ring: &Ring<u64>) -> &Header {
    // SAFETY: the region is 128-aligned and at least a header long; Header is all atomics.
    unsafe { &*(ring.memory().as_ptr() as *const Header) }
}

fn oor(tail: u32, head: u32) -> Corruption {
    Corruption::IndicesOutOfRange { tail, head }
}

// ---------------------------------------------------------------------------------------------
// Deterministic cases
// ---------------------------------------------------------------------------------------------

#[test]
fn spsc_producer_sees_head_out_of_range() {
    for (init, packed) in [0, u32::MAX - 1, u32::MAX]
        .into_iter()
        .flat_map(|i| [(i, true), (i, false)])
    {
        let cap = 4;
        let ring = spsc_ring(packed, cap, init);
        let mut tx = ring.producer().unwrap();
        // Fill the ring: the producer keeps a private copy of `head` and only reloads (and
        // checks) the shared one when the copy shows no room, as it does now.
        tx.push_all(&[1, 2, 3, 4]).unwrap();
        let tail = init.wrapping_add(4);
        let head = &ring.lines().consumer_line().head;
        for bad in [
            tail.wrapping_sub(cap + 1), // head too far behind
            tail.wrapping_add(1),       // head ahead of tail
            tail ^ 0x8000_0000,
            tail.wrapping_sub(u32::MAX / 2),
        ] {
            head.store(bad, SeqCst);
            let c = oor(tail, bad);
            assert_eq!(tx.push(9), Err(PushError::Corrupt(9, c)), "head {bad:#x}");
            assert_eq!(tx.push_all(&[9]), Err(PushAllError::Corrupt(c)));
            assert_eq!(tx.push_some(&[9, 9]), Err(c));
            assert_eq!(tx.reserve(1).err(), Some(PushAllError::Corrupt(c)));
            assert_eq!(tx.reserve_exact(2).err(), Some(PushAllError::Corrupt(c)));
            let counters = ring.counters();
            assert_eq!(counters.tail, tail, "corruption published something");
            assert_eq!(counters.full_refusals, 0, "corruption counted as full");
        }
        // tail - head == capacity is plausible: Full, not corruption.
        head.store(tail.wrapping_sub(cap), SeqCst);
        assert_eq!(tx.push(9), Err(PushError::Full(9)));
        // Repaired: the ring works again.
        head.store(init, SeqCst);
        let mut rx = ring.consumer().unwrap();
        let mut out = [0; 4];
        assert_eq!(rx.pop_into(&mut out), Ok(4));
        assert_eq!(out, [1, 2, 3, 4]);
        tx.push(5).unwrap();
        assert_eq!(rx.pop(), Ok(5));
    }
}

#[test]
fn spsc_consumer_sees_tail_out_of_range() {
    for (init, packed) in [
        (0, true),
        (0, false),
        (u32::MAX - 2, true),
        (u32::MAX - 2, false),
    ] {
        let cap = 4;
        let ring = spsc_ring(packed, cap, init);
        let mut rx = ring.consumer().unwrap();
        {
            let mut tx = ring.producer().unwrap();
            tx.push(7).unwrap();
            tx.release(); // keep the stream open: the test expects `Empty` at the end
        }
        let good_tail = init.wrapping_add(1);
        let tail = &ring.lines().producer_line().tail;
        for bad in [
            init.wrapping_add(cap + 1), // far ahead
            init.wrapping_sub(1),       // behind head
            init ^ 0x4000_0000,
            init.wrapping_add(u32::MAX / 2 + 1),
        ] {
            tail.store(bad, SeqCst);
            let c = oor(bad, init);
            assert_eq!(rx.pop(), Err(PopError::Corrupt(c)), "tail {bad:#x}");
            assert_eq!(rx.pop_into(&mut [0; 3]), Err(PopError::Corrupt(c)));
            assert_eq!(rx.view(2).err(), Some(PopError::Corrupt(c)));
            assert_eq!(ring.counters().head, init, "corruption consumed something");
        }
        tail.store(good_tail, SeqCst);
        assert_eq!(rx.pop(), Ok(7));
        assert_eq!(rx.pop(), Err(PopError::Empty));
    }
}

#[test]
fn spsc_claim_with_corrupt_indices() {
    for packed in [true, false] {
        spsc_claim_with_corrupt_indices_in(packed);
    }
}

fn spsc_claim_with_corrupt_indices_in(packed: bool) {
    let init = u32::MAX - 1;
    let ring = spsc_ring(packed, 8, init);
    let raw = ring.lines();
    let (tail, head) = (&raw.producer_line().tail, &raw.consumer_line().head);
    for (t, h) in [(init.wrapping_add(9), init), (init, init.wrapping_add(1))] {
        tail.store(t, SeqCst);
        head.store(h, SeqCst);
        assert_eq!(
            ring.producer().err(),
            Some(ClaimError::Corrupt(oor(t, h))),
            "producer claim over tail {t:#x} head {h:#x}"
        );
        assert_eq!(
            ring.consumer().err(),
            Some(ClaimError::Corrupt(oor(t, h))),
            "consumer claim over tail {t:#x} head {h:#x}"
        );
        // The refused claims were given back.
        assert_eq!(raw.producer_line().owner.load(SeqCst), 0);
        assert_eq!(raw.consumer_line().owner.load(SeqCst), 0);
        let shown = ClaimError::Corrupt(oor(t, h)).to_string();
        assert!(
            shown.contains(&t.to_string()) && shown.contains(&h.to_string()),
            "{shown}"
        );
    }
    tail.store(init, SeqCst);
    head.store(init, SeqCst);
    let mut tx = ring.producer().expect("claim after repair");
    let mut rx = ring.consumer().expect("claim after repair");
    tx.push(1).unwrap();
    assert_eq!(rx.pop(), Ok(1));
}

#[test]
fn lap_consumer_sees_invalid_lap_tag() {
    for mode in [Mode::Mpsc, Mode::Spmc, Mode::Mpmc] {
        for init in [0, u32::MAX] {
            let cap = 4u32;
            let ring = ring(mode, cap, init);
            let mut tx = ring.producer().unwrap();
            let mut rx = ring.consumer().unwrap();
            let p = init;
            tx.push(11).unwrap();
            let seq = &slot(&ring, p).seq;
            assert_eq!(
                seq.load(SeqCst),
                p.wrapping_add(1),
                "{mode:?}: published tag"
            );
            let mut garbage = vec![
                p.wrapping_add(2),
                p.wrapping_add(cap),
                p.wrapping_sub(1),
                p ^ 0x8000_0000,
                p.wrapping_add(12345),
            ];
            if !mode.multi_consumer() {
                // `p + 1 - cap` (a lap behind, claimed by a slower consumer) is only plausible
                // with several consumers.
                garbage.push(p.wrapping_add(1).wrapping_sub(cap));
            }
            for g in garbage {
                seq.store(g, SeqCst);
                let c = Corruption::SlotSequence {
                    position: p,
                    seq: g,
                };
                assert_eq!(rx.pop(), Err(PopError::Corrupt(c)), "{mode:?} seq {g:#x}");
                assert_eq!(
                    rx.pop_into(&mut [0; 2]),
                    Err(PopError::Corrupt(c)),
                    "{mode:?}"
                );
                assert_eq!(rx.view(3).err(), Some(PopError::Corrupt(c)), "{mode:?}");
                assert_eq!(
                    ring.counters().head,
                    p,
                    "{mode:?}: consumed despite corruption"
                );
                assert!(c.to_string().contains(&g.to_string()));
            }
            // Plausible "not yet" tags give Empty.
            let mut not_yet = vec![p];
            if mode.multi_consumer() {
                not_yet.push(p.wrapping_add(1).wrapping_sub(cap));
            }
            for g in not_yet {
                seq.store(g, SeqCst);
                assert_eq!(rx.pop(), Err(PopError::Empty), "{mode:?} seq {g:#x}");
            }
            seq.store(p.wrapping_add(1), SeqCst);
            assert_eq!(rx.pop(), Ok(11), "{mode:?}: repaired");
        }
    }
}

#[test]
fn lap_producer_sees_invalid_lap_tag_with_unchanged_tail() {
    for mode in [Mode::Mpsc, Mode::Spmc, Mode::Mpmc] {
        for init in [0, u32::MAX - 1] {
            let cap = 4u32;
            let ring = ring(mode, cap, init);
            let mut tx = ring.producer().unwrap();
            let t = init;
            let seq = &slot(&ring, t).seq;
            assert_eq!(seq.load(SeqCst), t, "{mode:?}: free tag");
            for g in [
                t.wrapping_add(1),
                t.wrapping_add(2),
                t.wrapping_add(cap),
                t.wrapping_sub(1),
                t ^ 0x8000_0000,
            ] {
                seq.store(g, SeqCst);
                let c = Corruption::SlotSequence {
                    position: t,
                    seq: g,
                };
                assert_eq!(
                    tx.push(5),
                    Err(PushError::Corrupt(5, c)),
                    "{mode:?} seq {g:#x}"
                );
                assert_eq!(
                    tx.push_all(&[5, 6]),
                    Err(PushAllError::Corrupt(c)),
                    "{mode:?}"
                );
                assert_eq!(tx.push_some(&[5]), Err(c), "{mode:?}");
                assert_eq!(
                    tx.reserve(2).err(),
                    Some(PushAllError::Corrupt(c)),
                    "{mode:?}"
                );
                let counters = ring.counters();
                assert_eq!(counters.tail, t, "{mode:?}: reserved despite corruption");
                assert_eq!(counters.full_refusals, 0, "{mode:?}");
            }
            // "A lap behind" tags are plausible: the ring is full there.
            for g in [t.wrapping_sub(cap), t.wrapping_add(1).wrapping_sub(cap)] {
                seq.store(g, SeqCst);
                assert_eq!(tx.push(5), Err(PushError::Full(5)), "{mode:?} seq {g:#x}");
            }
            seq.store(t, SeqCst);
            // A garbage tag on the second slot of a batch: the first slot's entry alone may go
            // in, or nothing; never a write into the corrupt slot.
            let t1 = t.wrapping_add(1);
            let seq1 = &slot(&ring, t1).seq;
            seq1.store(t1 ^ 0x1000, SeqCst);
            let c1 = Corruption::SlotSequence {
                position: t1,
                seq: t1 ^ 0x1000,
            };
            assert_eq!(
                tx.push_all(&[1, 2]),
                Err(PushAllError::Corrupt(c1)),
                "{mode:?}"
            );
            assert_eq!(ring.counters().tail, t, "{mode:?}");
            match tx.push_some(&[1, 2]) {
                Ok(1) => assert_eq!(ring.counters().tail, t1, "{mode:?}"),
                Ok(n) => panic!("{mode:?}: push_some pushed {n} over a corrupt slot"),
                Err(c) => {
                    assert_eq!(c, c1, "{mode:?}");
                    assert_eq!(ring.counters().tail, t, "{mode:?}");
                    tx.push(1).unwrap();
                }
            }
            seq1.store(t1, SeqCst);
            tx.push(2).unwrap();
            let mut rx = ring.consumer().unwrap();
            assert_eq!(rx.pop(), Ok(1), "{mode:?}");
            assert_eq!(rx.pop(), Ok(2), "{mode:?}");
            assert_eq!(rx.pop(), Err(PopError::Empty), "{mode:?}");
        }
    }
}

#[test]
fn header_rewritten_after_attach_changes_nothing() {
    // The geometry is a private copy: a peer rewriting the header cannot redirect this side.
    for mode in MODES {
        let ring = ring(mode, 8, u32::MAX - 3);
        let h = header(&ring);
        h.capacity.store(1 << 30, SeqCst);
        h.slot_stride.store(4096, SeqCst);
        h.blocks[2].offset.store(1 << 40, SeqCst);
        h.blocks[0].offset.store(0, SeqCst);
        h.magic.store(0, SeqCst);
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        for round in 0..5u64 {
            tx.push_all(&[round * 10 + 1; 8]).unwrap();
            assert_eq!(tx.push(0), Err(PushError::Full(0)), "{mode:?}");
            let mut out = [0; 8];
            assert_eq!(rx.pop_into(&mut out), Ok(8), "{mode:?}");
            assert_eq!(out, [round * 10 + 1; 8], "{mode:?}");
        }
        assert_eq!(ring.capacity(), 8);
    }
}

// ---------------------------------------------------------------------------------------------
// A hostile thread against a live ring
// ---------------------------------------------------------------------------------------------

/// Shared control of one episode.
struct Ctl {
    /// Set when the episode is over.
    stop: AtomicBool,
    /// Producers and consumers that hold their handles.
    ready: AtomicUsize,
    /// How many producers and consumers there are.
    parties: usize,
}

/// The most CPU time a single operation may use, even under attack. The protocol bounds each
/// call by a number of steps (`SCAN_BUDGET` tag loads, `RETRY_BUDGET` polls with a yield every
/// 64): tens of milliseconds of CPU time at most. It is CPU time, not elapsed time, because a
/// call that ends in `Stalled` yields 2^14 times, and each yield lasts as long as the other
/// runnable threads make it: on a loaded machine such a call takes seconds of elapsed time
/// while its own work stays the same.
const OP_LIMIT: Duration = Duration::from_secs(10);
/// How long the threads may take to stop once asked, and the longest a single operation may
/// take in elapsed time (a call that blocks instead of spinning uses no CPU time).
const STOP_LIMIT: Duration = Duration::from_secs(30);

#[derive(Default, Debug)]
struct Tally {
    ok: u64,
    full_or_empty: u64,
    corrupt: u64,
    slot_sequence: u64,
    out_of_range: u64,
    stalled: u64,
    livelock: u64,
    zeros: u64,
    /// The longest operation, elapsed time.
    max_op: Duration,
    /// The longest operation, CPU time of its thread.
    max_op_cpu: Duration,
}

impl Tally {
    fn corruption(&mut self, c: Corruption) {
        self.corrupt += 1;
        match c {
            Corruption::IndicesOutOfRange { .. } => self.out_of_range += 1,
            Corruption::SlotSequence { .. } => self.slot_sequence += 1,
            Corruption::Stalled { .. } => self.stalled += 1,
            Corruption::Livelock => self.livelock += 1,
            _ => {}
        }
    }
    fn add(&mut self, o: &Tally) {
        self.ok += o.ok;
        self.full_or_empty += o.full_or_empty;
        self.corrupt += o.corrupt;
        self.slot_sequence += o.slot_sequence;
        self.out_of_range += o.out_of_range;
        self.stalled += o.stalled;
        self.livelock += o.livelock;
        self.zeros += o.zeros;
        self.max_op = self.max_op.max(o.max_op);
        self.max_op_cpu = self.max_op_cpu.max(o.max_op_cpu);
    }
}

fn tag(producer: u64, seq: u64) -> u64 {
    ((producer + 1) << 32) | seq
}

/// The CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; the clock id is a constant Linux knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `op`, recording how long it took; fails if it used more than [`OP_LIMIT`] of CPU time
/// (more work than the protocol's budgets allow) or took more than [`STOP_LIMIT`] (blocked).
fn timed<R>(t: &mut Tally, what: &str, op: impl FnOnce() -> R) -> R {
    let (start, start_cpu) = (Instant::now(), thread_cpu_time());
    let r = op();
    let (took, cpu) = (start.elapsed(), thread_cpu_time().saturating_sub(start_cpu));
    assert!(
        cpu < OP_LIMIT,
        "{what} used {cpu:?} of CPU time ({took:?} elapsed): unbounded work?"
    );
    assert!(
        took < STOP_LIMIT,
        "{what} took {took:?} ({cpu:?} of CPU time): unbounded wait?"
    );
    t.max_op = t.max_op.max(took);
    t.max_op_cpu = t.max_op_cpu.max(cpu);
    r
}

/// One producer: pushes distinct tagged values with every operation until `stop`. Returns its
/// tally and the upper bound of the sequence numbers it ever wrote into a slot.
fn hostile_produce(ring: &Ring<u64>, seed: u64, id: u64, ctl: &Ctl) -> (Tally, u64) {
    let mut t = Tally::default();
    let mut handle = Some(ring.producer().expect("producer claim"));
    ctl.ready.fetch_add(1, SeqCst);
    let mut rng = Rng::new(seed + 5);
    let mut next = 1u64; // every value ever handed to the ring has a sequence below `next`
    let mut batch = [0u64; 8];
    while !ctl.stop.load(SeqCst) {
        // Now and then hand the side over to a successor, under attack: the claim recovers or
        // checks the shared index and may refuse it.
        if rng.below(64) == 0 {
            // Released, not dropped: dropping a single producer closes the stream.
            if let Some(tx) = handle.take() {
                tx.release();
            }
        }
        let tx = match handle {
            Some(ref mut tx) => tx,
            None => match timed(&mut t, "producer claim", || ring.producer()) {
                Ok(tx) => handle.insert(tx),
                Err(ClaimError::Corrupt(c)) => {
                    t.corruption(c);
                    std::thread::yield_now();
                    continue;
                }
                Err(e) => panic!("producer claim: {e:?}"),
            },
        };
        let k = 1 + rng.below(8) as usize;
        for (i, b) in batch.iter_mut().enumerate().take(k) {
            *b = tag(id, next + i as u64);
        }
        match rng.below(4) {
            0 => match timed(&mut t, "push", || tx.push(batch[0])) {
                Ok(()) => t.ok += 1,
                Err(PushError::Full(v)) => {
                    assert_eq!(v, batch[0], "push handed back another value");
                    t.full_or_empty += 1
                }
                Err(PushError::Corrupt(v, c)) => {
                    assert_eq!(v, batch[0], "push handed back another value");
                    t.corruption(c)
                }
            },
            1 => match timed(&mut t, "push_all", || tx.push_all(&batch[..k])) {
                Ok(()) => t.ok += 1,
                Err(PushAllError::Full { free }) => {
                    assert!(free < k, "push_all refused {k} with {free} free");
                    t.full_or_empty += 1
                }
                Err(PushAllError::TooLarge { .. }) => {
                    assert!(k > ring.capacity() as usize, "TooLarge for {k}");
                    t.full_or_empty += 1
                }
                Err(PushAllError::Corrupt(c)) => t.corruption(c),
            },
            2 => match timed(&mut t, "push_some", || tx.push_some(&batch[..k])) {
                Ok(n) => {
                    assert!(n <= k, "push_some pushed {n} of {k}");
                    t.ok += 1
                }
                Err(c) => t.corruption(c),
            },
            _ => {
                let keep_all = rng.below(4) != 0;
                let r = timed(&mut t, "reserve/commit", || match tx.reserve(k) {
                    Ok(mut chunk) => {
                        assert!(
                            !chunk.is_empty() && chunk.len() <= k,
                            "chunk of {}",
                            chunk.len()
                        );
                        let n = if keep_all {
                            chunk.len()
                        } else {
                            chunk.len() / 2
                        };
                        for (i, v) in batch.iter().enumerate().take(n) {
                            chunk.write(i, *v);
                        }
                        Ok(chunk.commit())
                    }
                    Err(e) => Err(e),
                });
                match r {
                    Ok(_) => t.ok += 1,
                    Err(PushAllError::Full { .. }) => t.full_or_empty += 1,
                    Err(PushAllError::Corrupt(c)) => t.corruption(c),
                    Err(e) => panic!("reserve({k}): {e:?}"),
                }
            }
        }
        // Every value of the batch may have been written into a slot: never reuse them.
        next += k as u64;
        if rng.below(16) == 0 {
            std::thread::yield_now();
        }
    }
    (t, next)
}

/// One consumer: pops with every operation until `stop`; checks each value's tag and returns
/// its tally and the highest sequence seen per producer.
fn hostile_consume(ring: &Ring<u64>, seed: u64, producers: u64, ctl: &Ctl) -> (Tally, Vec<u64>) {
    let mut t = Tally::default();
    let mut handle = Some(ring.consumer().expect("consumer claim"));
    ctl.ready.fetch_add(1, SeqCst);
    let mut rng = Rng::new(seed + 99);
    let id = seed;
    let mut max_seen = vec![0u64; producers as usize];
    let mut buf = [0u64; 8];
    let mut check = |t: &mut Tally, v: u64| {
        if v == 0 {
            // A slot no producer wrote yet (the region starts zeroed), read through a forged
            // lap tag or index.
            t.zeros += 1;
            return;
        }
        let (p, s) = ((v >> 32).wrapping_sub(1), v & 0xffff_ffff);
        assert!(
            p < producers && s >= 1,
            "consumer {id}: value {v:#x} was never pushed"
        );
        max_seen[p as usize] = max_seen[p as usize].max(s);
    };
    while !ctl.stop.load(SeqCst) {
        if rng.below(64) == 0 {
            handle = None;
        }
        let rx = match handle {
            Some(ref mut rx) => rx,
            None => match timed(&mut t, "consumer claim", || ring.consumer()) {
                Ok(rx) => handle.insert(rx),
                Err(ClaimError::Corrupt(c)) => {
                    t.corruption(c);
                    std::thread::yield_now();
                    continue;
                }
                Err(e) => panic!("consumer claim: {e:?}"),
            },
        };
        let k = 1 + rng.below(8) as usize;
        match rng.below(3) {
            0 => match timed(&mut t, "pop", || rx.pop()) {
                Ok(v) => {
                    t.ok += 1;
                    check(&mut t, v)
                }
                // A peer may set the end-of-stream bit: a wrong outcome, as the docs say.
                Err(PopError::Empty | PopError::Closed) => t.full_or_empty += 1,
                Err(PopError::Corrupt(c)) => t.corruption(c),
            },
            1 => match timed(&mut t, "pop_into", || rx.pop_into(&mut buf[..k])) {
                Ok(n) => {
                    assert!(n <= k, "pop_into returned {n} for {k}");
                    t.ok += 1;
                    for &v in &buf[..n] {
                        check(&mut t, v);
                    }
                }
                // A peer may set the end-of-stream bit: a wrong outcome, as the docs say.
                Err(PopError::Empty | PopError::Closed) => t.full_or_empty += 1,
                Err(PopError::Corrupt(c)) => t.corruption(c),
            },
            _ => {
                let r = timed(&mut t, "view", || match rx.view(k) {
                    Ok(view) => {
                        assert!(view.claimed() <= k, "view claimed {}", view.claimed());
                        Ok(view.iter().collect::<Vec<_>>())
                    }
                    Err(e) => Err(e),
                });
                match r {
                    Ok(vals) => {
                        t.ok += 1;
                        for v in vals {
                            check(&mut t, v);
                        }
                    }
                    Err(PopError::Empty | PopError::Closed) => t.full_or_empty += 1,
                    Err(PopError::Corrupt(c)) => t.corruption(c),
                }
            }
        }
        if rng.below(16) == 0 {
            std::thread::yield_now();
        }
    }
    (t, max_seen)
}

/// The hostile peer: scribbles over tail, head, lap tags, slot meta words and the header, with
/// wild values and plausible ones (near the live indices). Most attacks are transient (the old
/// value is put back a moment later unless this side changed it meanwhile), so the ring also
/// runs between attacks; the others stay.
fn hostile_peer(ring: &Ring<u64>, seed: u64, ctl: &Ctl) -> u64 {
    let packed = ring.geometry().packed;
    use std::sync::atomic::AtomicU32;
    let mut rng = Rng::new(seed);
    let raw = ring.lines();
    let (tail, head) = (&raw.producer_line().tail, &raw.consumer_line().head);
    let cap = ring.capacity();
    let h = header(ring);
    let mut writes = 0u64;
    // Attack only once every participant holds its handle (claims check the indices), and
    // let the ring run normally for a moment first.
    while ctl.ready.load(SeqCst) < ctl.parties && !ctl.stop.load(SeqCst) {
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_micros(rng.below(5_000)));
    while !ctl.stop.load(SeqCst) {
        let near = |rng: &mut Rng, base: u32| {
            base.wrapping_add(rng.below(4 * cap as u64) as u32)
                .wrapping_sub(2 * cap)
        };
        let bad = match rng.below(3) {
            0 => rng.next() as u32,
            1 => near(&mut rng, tail.load(SeqCst)),
            _ => near(&mut rng, head.load(SeqCst)),
        };
        let word: &AtomicU32 = match rng.below(10) {
            0 | 1 => tail,
            2 | 3 => head,
            // A packed ring's slots are payloads alone: forging them only gives wrong
            // values (which the consumer's check would flag), so the indices take those turns.
            4..=5 if packed => tail,
            6..=8 if packed => head,
            4..=7 => &slot(ring, rng.next() as u32).seq,
            8 => &slot(ring, rng.next() as u32).meta,
            _ => {
                h.capacity.store(rng.next() as u32, SeqCst);
                h.blocks[2].offset.store(rng.next(), SeqCst);
                h.slot_stride.store(rng.next() as u32, SeqCst);
                &h.entry_size
            }
        };
        let old = word.swap(bad, SeqCst);
        writes += 1;
        if rng.below(4) != 0 {
            for _ in 0..rng.below(50) {
                std::hint::spin_loop();
            }
            if rng.below(2) == 0 {
                std::thread::yield_now();
            }
            let _ = word.compare_exchange(bad, old, SeqCst, SeqCst);
        }
        if rng.below(2) == 0 {
            std::thread::sleep(Duration::from_micros(rng.below(500)));
        } else {
            std::thread::yield_now();
        }
    }
    writes
}

/// One episode: a fresh ring, its producers and consumers, and a hostile peer, for `run`.
fn episode(mode: Mode, packed: bool, cap: u32, run: Duration, seed: u64, total: &mut Tally) -> u64 {
    let ctx = format!("{mode:?} cap {cap} episode {seed}");
    let producers: u64 = if mode.multi_producer() { 2 } else { 1 };
    let consumers: u64 = if mode.multi_consumer() { 2 } else { 1 };
    let init = u32::MAX - (seed as u32 % 16) * cap;
    let ring = Arc::new(if packed {
        packed_ring(cap, init)
    } else {
        ring(mode, cap, init)
    });
    let ctl = Arc::new(Ctl {
        stop: AtomicBool::new(false),
        ready: AtomicUsize::new(0),
        parties: (producers + consumers) as usize,
    });

    // Detached threads, so that a hang fails the test below instead of blocking a join.
    type Job = Box<dyn FnOnce() -> Box<dyn std::any::Any + Send> + Send>;
    let spawn = |f: Job| std::thread::spawn(f);
    let mut prods = Vec::new();
    for id in 0..producers {
        let (ring, ctl) = (Arc::clone(&ring), Arc::clone(&ctl));
        prods.push(spawn(Box::new(move || {
            Box::new(hostile_produce(&ring, id + 10 * seed, id, &ctl))
        })));
    }
    let mut cons = Vec::new();
    for id in 0..consumers {
        let (ring, ctl) = (Arc::clone(&ring), Arc::clone(&ctl));
        cons.push(spawn(Box::new(move || {
            Box::new(hostile_consume(&ring, id + 10 * seed, producers, &ctl))
        })));
    }
    let peer = {
        let (ring, ctl) = (Arc::clone(&ring), Arc::clone(&ctl));
        spawn(Box::new(move || Box::new(hostile_peer(&ring, seed, &ctl))))
    };

    std::thread::sleep(run);
    ctl.stop.store(true, SeqCst);
    let deadline = Instant::now() + STOP_LIMIT;
    loop {
        let mut hs = prods
            .iter()
            .chain(cons.iter())
            .chain(std::iter::once(&peer));
        if hs.all(|h| h.is_finished()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{ctx}: a thread did not stop within {STOP_LIMIT:?} of the request: hang"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let unwrap =
        |h: std::thread::JoinHandle<Box<dyn std::any::Any + Send>>, who: &str| match h.join() {
            Ok(b) => b,
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{ctx}: {who} panicked: {msg}")
            }
        };
    let mut bounds = Vec::new();
    for h in prods {
        let (t, bound) = *unwrap(h, "producer").downcast::<(Tally, u64)>().unwrap();
        total.add(&t);
        bounds.push(bound);
    }
    for h in cons {
        let (t, max_seen) = *unwrap(h, "consumer")
            .downcast::<(Tally, Vec<u64>)>()
            .unwrap();
        total.add(&t);
        for (p, &s) in max_seen.iter().enumerate() {
            assert!(
                s < bounds[p],
                "{ctx}: producer {p} never pushed sequence {s} (it stopped below {})",
                bounds[p]
            );
        }
    }
    *unwrap(peer, "peer").downcast::<u64>().unwrap()
}

/// Episodes of `EPISODE` each, with fresh rings, for `run` in all.
fn chaos(mode: Mode, cap: u32, run: Duration) {
    chaos_in(mode, false, cap, run)
}

/// The fewest successful operations a run must see for its checks to mean something.
const MIN_OK: u64 = 1000;
/// How long a run may go on past its `run` time to reach [`MIN_OK`] and a first corruption.
/// What a run does in a given time depends on the CPU its threads get: on a loaded machine
/// (other test binaries, a model checker) a one-second run has done fewer than [`MIN_OK`]
/// operations, so the run goes on, in fresh episodes, until it has. This only bounds a ring
/// that never succeeds (or a peer that is never seen), which must fail rather than spin.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Whether a run has done enough for its checks to mean something.
fn enough(total: &Tally, writes: u64) -> bool {
    total.ok > MIN_OK && total.corrupt > 0 && writes > 0
}

fn chaos_in(mode: Mode, packed: bool, cap: u32, run: Duration) {
    const EPISODE: Duration = Duration::from_millis(50);
    let started = Instant::now();
    let mut total = Tally::default();
    let mut writes = 0;
    let mut episodes = 0u64;
    // Episodes for `run`, then more while too little was done (a loaded machine), up to
    // `RUN_LIMIT`: the thresholds below count operations, not time.
    while started.elapsed() < run || (!enough(&total, writes) && started.elapsed() < RUN_LIMIT) {
        writes += episode(mode, packed, cap, EPISODE, episodes, &mut total);
        episodes += 1;
    }
    let ctx = format!("{mode:?} cap {cap} packed {packed}");
    eprintln!(
        "{ctx}: {episodes} episodes, {writes} hostile writes, {total:?}, {:?}",
        started.elapsed()
    );
    assert!(
        total.ok > MIN_OK,
        "{ctx}: too little ever succeeded in {episodes} episodes over {:?} (test is weak)",
        started.elapsed()
    );
    assert!(
        total.corrupt > 0,
        "{ctx}: no corruption was ever reported in {episodes} episodes (test is weak)"
    );
    assert!(writes > 0, "{ctx}: the hostile peer never wrote");
}

fn run_time() -> Duration {
    Duration::from_millis(1000)
}

#[test]
fn hostile_peer_spsc() {
    chaos(Mode::Spsc, 4, run_time());
    chaos(Mode::Spsc, 64, run_time());
}

#[test]
fn hostile_peer_spsc_packed() {
    chaos_in(Mode::Spsc, true, 4, run_time());
    chaos_in(Mode::Spsc, true, 64, run_time());
}

#[test]
fn hostile_peer_mpsc() {
    chaos(Mode::Mpsc, 4, run_time());
    chaos(Mode::Mpsc, 64, run_time());
}

#[test]
fn hostile_peer_spmc() {
    chaos(Mode::Spmc, 4, run_time());
    chaos(Mode::Spmc, 64, run_time());
}

#[test]
fn hostile_peer_mpmc() {
    chaos(Mode::Mpmc, 4, run_time());
    chaos(Mode::Mpmc, 64, run_time());
}
