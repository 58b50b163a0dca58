//! One non-blocking call is bounded per call, not per position (issue 14, item 3).
//!
//! A peer plays the *freeing game* against an honest participant: as soon as the honest side
//! has taken positions with its compare-and-swap (MP2, MC2; O2 and MC2 in O5 in the overflow
//! area), the peer rewrites the lap tags of the last [`HOLD`] of them so that the ownership
//! re-check (MP3, MC3, O3) has to wait there, and then frees them again, one at a time
//! (producers) or a claim at a time (consumers), each time just before the re-check budget
//! (`RETRY_BUDGET`) would run out. If the
//! budget were per position (or per claim of a call that claims several times), the peer could
//! hold one call for about `batch x budget`; with a budget per call it holds the call for about
//! one budget, whatever the batch size.
//!
//! The peer cannot see the honest thread's polls, so it measures them by that thread's CPU time
//! (`pthread_getcpuclockid`): a calibration round holds a re-check for good and measures the
//! CPU time of the call that reports `Corruption::Stalled`, `C`; in the game the peer frees
//! something every `C / 2` of the honest thread's CPU time. What is asserted is a *count*: how
//! many times the peer had to free something while one call was still running. With a budget
//! per call that is at most 2 (the call gives up at about `C`), and it does not depend on the
//! batch size; with a budget per position or per claim it grows with the batch size or the
//! number of claims (1024 positions, 32 claims here), and the peer stops playing after
//! [`GIVE_UP`] frees so that the test stays short even then. Timing only paces the peer; no
//! assertion is about time.
//!
//! The honest side wins the race now and then (the peer rewrites the tags after the honest
//! compare-and-swap, while the re-check is already walking the span); such a round is not
//! "played" and is retried (at most [`ATTEMPTS`] rounds), and each game requires at least one
//! played round (it stops after [`PLAYED`]). Every game runs under a watchdog. Measured: the
//! peer wins one round in 2 to 20 in debug builds, fewer in release builds, and every played
//! round ends after 1 or 2 frees.

use ring_core::layout::{ConsumerLine, OverflowLine, ProducerLine, Slot, LINE_LEN};
use ring_core::{Config, Corruption, Mode, PopError, PushAllError, Ring};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// The most frees the peer may need while one call runs (a budget per call needs 1 or 2).
const BOUND: u32 = 4;
/// After this many frees during one call the peer frees everything and stops playing.
const GIVE_UP: u32 = 12;
/// How many positions of each span the peer holds: the last ones, which the re-check reaches
/// last, so that the peer has time to hold them before the re-check gets there (more than
/// [`GIVE_UP`], so that a budget per position would need more frees than the peer makes).
const HOLD: u32 = 32;
/// Rounds per game that must be played (the peer won the race at least once).
const PLAYED: u32 = 3;
/// Attempts per game at most.
const ATTEMPTS: u32 = 2000;

// ---------------------------------------------------------------------------------------------
// Raw access to the region, as a peer sees it
// ---------------------------------------------------------------------------------------------

/// A shared structure of type `L` at byte `off` of the ring's region.
fn at<L>(ring: &Ring<u64>, off: u64) -> &L {
    let off = off as usize;
    assert!(off + std::mem::size_of::<L>() <= ring.memory().len());
    // SAFETY: in bounds of the ring's memory (checked above); every offset used here is one of
    // the layout's (128-aligned lines, slots at a multiple of the slot's alignment); the
    // structures read this way (lines, slots) are atomics where a peer may touch them.
    unsafe { &*(ring.memory().as_ptr().add(off) as *const L) }
}

/// A lane of slots as the peer sees it: the ring's, or the overflow area's (whose lap tags are
/// stored biased by the slot index, spec/LAYOUT.md).
#[derive(Copy, Clone)]
struct Lane<'a> {
    ring: &'a Ring<u64>,
    slots: u64,
    cap: u32,
    biased: bool,
}

impl<'a> Lane<'a> {
    fn ring(ring: &'a Ring<u64>) -> Lane<'a> {
        let g = ring.geometry();
        Lane {
            ring,
            slots: g.slots_offset,
            cap: g.capacity,
            biased: false,
        }
    }

    fn overflow(ring: &'a Ring<u64>) -> Lane<'a> {
        let g = ring.geometry();
        assert!(g.overflow_capacity > 0);
        Lane {
            ring,
            slots: g.overflow_offset + u64::from(LINE_LEN),
            cap: g.overflow_capacity,
            biased: true,
        }
    }

    fn slot(self, pos: u32) -> &'a Slot<u64> {
        let i = u64::from(pos & (self.cap - 1));
        at(self.ring, self.slots + i * Slot::<u64>::STRIDE as u64)
    }

    /// Stores the (decoded) lap tag `tag` for `pos`.
    fn set(self, pos: u32, tag: u32) {
        let bias = if self.biased { pos & (self.cap - 1) } else { 0 };
        self.slot(pos).seq.store(tag.wrapping_sub(bias), SeqCst);
    }
}

/// The index the honest side moves with its compare-and-swap: a `u32` word, or the low half of
/// the overflow area's `state`.
#[derive(Copy, Clone)]
enum Index<'a> {
    Word(&'a AtomicU32),
    State(&'a AtomicU64),
}

impl Index<'_> {
    fn load(self) -> u32 {
        match self {
            Index::Word(w) => w.load(SeqCst),
            Index::State(w) => w.load(SeqCst) as u32,
        }
    }
}

fn tail_word(ring: &Ring<u64>) -> Index<'_> {
    Index::Word(&at::<ProducerLine>(ring, ring.geometry().producer_offset).tail)
}

fn head_word(ring: &Ring<u64>) -> Index<'_> {
    Index::Word(&at::<ConsumerLine>(ring, ring.geometry().consumer_offset).head)
}

fn overflow_line(ring: &Ring<u64>) -> &OverflowLine {
    at::<OverflowLine>(ring, ring.geometry().overflow_offset)
}

// ---------------------------------------------------------------------------------------------
// The honest thread's CPU time
// ---------------------------------------------------------------------------------------------

/// The CPU-time clock of one thread. Only read while that thread is alive: the honest thread
/// waits for the peer at its end (see [`round`]).
#[derive(Copy, Clone)]
struct CpuClock(libc::clockid_t);

impl CpuClock {
    fn of_this_thread() -> CpuClock {
        let mut id: libc::clockid_t = 0;
        // SAFETY: `pthread_self()` names the calling thread; `id` is a valid place to write.
        let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
        assert_eq!(rc, 0, "pthread_getcpuclockid failed: {rc}");
        CpuClock(id)
    }

    fn now(self) -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid place to write; the clock is a live thread's (the contract of
        // this type).
        let rc = unsafe { libc::clock_gettime(self.0, &mut ts) };
        assert_eq!(
            rc, 0,
            "clock_gettime of the honest thread's CPU clock failed"
        );
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
}

// ---------------------------------------------------------------------------------------------
// One round: an honest call against the peer
// ---------------------------------------------------------------------------------------------

/// What the honest call returned.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Entries pushed or taken.
    Done(usize),
    /// `Corruption::Stalled`: the re-check budget ran out.
    Stalled,
    /// Anything else (a test failure).
    Other(String),
}

/// How the peer frees held positions once the interval has passed.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Free {
    /// Never (calibration).
    Never,
    /// The lowest held position (beats a budget per position).
    Lowest,
    /// Every held position (beats a budget per claim, in a call that claims several times).
    All,
}

/// Which side the honest call is on.
#[derive(Copy, Clone, Debug)]
enum Side {
    /// The peer watches `tail`; a held position's tag reads "a lap behind", a free one `pos`.
    Producer,
    /// The peer watches `head`; a held position's tag reads `pos` (not yet published), a free
    /// one `pos + 1`.
    Consumer,
}

impl Side {
    fn expected(self, pos: u32) -> u32 {
        match self {
            Side::Producer => pos,
            Side::Consumer => pos.wrapping_add(1),
        }
    }

    fn held(self, pos: u32, cap: u32) -> u32 {
        match self {
            Side::Producer => pos.wrapping_sub(cap),
            Side::Consumer => pos,
        }
    }
}

/// What one round showed.
#[derive(Debug)]
struct Round {
    outcome: Outcome,
    /// Frees the peer made while the call was running.
    frees: u32,
    /// The peer held at least one position (it won the race).
    held: bool,
    /// CPU time of the honest call.
    cpu: Duration,
}

impl Round {
    /// The peer made the honest call wait: it reported `Stalled`, or was still running at the
    /// first free (which comes only after `interval` of its CPU time).
    fn played(&self) -> bool {
        self.held && (self.outcome == Outcome::Stalled || self.frees > 0)
    }
}

/// What the peer plays on: the lane, the index the honest side moves in it, and `boundaries`,
/// positions the peer keeps "not yet published" (consumer side) until the index reaches them,
/// so that the honest consumer claims one segment per claim.
struct Board<'a> {
    lane: Lane<'a>,
    index: Index<'a>,
    boundaries: Vec<u32>,
}

/// Runs `call` on a fresh thread while this thread plays the peer on `board`.
fn round(
    board: &Board<'_>,
    side: Side,
    free: Free,
    interval: Duration,
    call: impl FnOnce() -> Outcome + Send,
) -> Round {
    let Board {
        lane,
        index,
        ref boundaries,
    } = *board;
    let cap = lane.cap;
    let start = index.load();
    for &b in boundaries {
        lane.set(b, side.held(b, cap));
    }
    let (clock_tx, clock_rx) = mpsc::channel();
    let go = Barrier::new(2);
    let end = Barrier::new(2);
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let honest = s.spawn(|| {
            let clock = CpuClock::of_this_thread();
            clock_tx.send(clock).unwrap();
            go.wait();
            let t0 = clock.now();
            let outcome = call();
            let cpu = clock.now() - t0;
            done.store(true, SeqCst);
            // Stay alive (so that the peer may read this thread's clock) until the peer is done.
            end.wait();
            (outcome, cpu)
        });
        let clock: CpuClock = clock_rx.recv().unwrap();
        go.wait();

        let mut seen = start;
        let mut held: std::collections::VecDeque<u32> = Default::default();
        let mut ever_held = false;
        let mut frees = 0u32;
        let mut since: Option<Duration> = None;
        let mut playing = true;
        let deadline = Instant::now() + Duration::from_secs(60);
        let release = |held: &mut std::collections::VecDeque<u32>| {
            for p in held.drain(..) {
                lane.set(p, side.expected(p));
            }
        };
        while !done.load(SeqCst) {
            let now = index.load();
            if playing && now != seen {
                // Hold the last HOLD positions of the span just taken, from its far end: the
                // re-check walks the span upwards, so it meets the lowest of them first.
                let len = now.wrapping_sub(seen).min(cap);
                let low = len.saturating_sub(HOLD);
                for i in (low..len).rev() {
                    let p = seen.wrapping_add(i);
                    lane.set(p, side.held(p, cap));
                }
                held.extend((low..len).map(|i| seen.wrapping_add(i)));
                ever_held |= len > low;
                if boundaries.contains(&now) {
                    lane.set(now, side.expected(now));
                }
                seen = now;
                since.get_or_insert_with(|| clock.now());
                continue;
            }
            if Instant::now() > deadline {
                // The watchdog: whatever the code does, let the call finish; the test fails.
                playing = false;
                frees = u32::MAX;
                release(&mut held);
            }
            match (since, free) {
                (Some(t0), Free::Lowest | Free::All) if !held.is_empty() => {
                    let t = clock.now();
                    if t.saturating_sub(t0) >= interval && !done.load(SeqCst) {
                        frees = frees.saturating_add(1);
                        if free == Free::Lowest {
                            let p = held.pop_front().unwrap();
                            lane.set(p, side.expected(p));
                            since = Some(t);
                        } else {
                            release(&mut held);
                            since = None;
                        }
                        if frees >= GIVE_UP {
                            playing = false;
                            release(&mut held);
                        }
                    } else {
                        thread::sleep(Duration::from_micros(50));
                    }
                }
                // Waiting for the honest compare-and-swap: spin, it is a race.
                (_, _) if held.is_empty() => std::hint::spin_loop(),
                _ => thread::sleep(Duration::from_micros(50)),
            }
        }
        release(&mut held);
        end.wait();
        let (outcome, cpu) = honest.join().unwrap();
        Round {
            outcome,
            frees,
            held: ever_held,
            cpu,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The games
// ---------------------------------------------------------------------------------------------

/// Runs the test body on its own thread and fails if it takes longer than `limit`.
fn watchdog(name: &str, limit: Duration, body: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let h = thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            body();
            let _ = tx.send(());
        })
        .unwrap();
    match rx.recv_timeout(limit) {
        Ok(()) => h.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The body panicked: report its message.
            if let Err(e) = h.join() {
                std::panic::resume_unwind(e);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name}: not finished within {limit:?}"),
    }
}

/// The honest call of one round.
type Call = Box<dyn FnOnce() -> Outcome + Send>;

/// Makes a fresh ring for one round, and the honest call to make on it.
type Setup<'s> = &'s dyn Fn() -> (Ring<u64>, Call);

/// A game: a fresh ring per round from `setup`, and the board the peer plays on from `board`.
/// Calibrates `C` with [`Free::Never`], then plays `free` every `C / 2` until [`PLAYED`]
/// rounds were played (at most [`ATTEMPTS`]), checking each one.
fn game(name: &str, side: Side, free: Free, setup: Setup<'_>, board: fn(&Ring<u64>) -> Board<'_>) {
    // Calibration: the re-check held for good reports `Stalled` after the whole budget.
    let mut budget = Vec::new();
    for _ in 0..ATTEMPTS {
        let (ring, call) = setup();
        let r = round(&board(&ring), side, Free::Never, Duration::MAX, call);
        match r.outcome {
            Outcome::Stalled => budget.push(r.cpu),
            Outcome::Done(_) => {} // the honest side won the race
            Outcome::Other(e) => panic!("{name}: calibration: unexpected outcome {e}"),
        }
        if budget.len() == 3 {
            break;
        }
    }
    assert!(
        !budget.is_empty(),
        "{name}: the peer never won the race in {ATTEMPTS} calibration rounds"
    );
    budget.sort();
    let c = budget[budget.len() / 2];
    let interval = c / 2;

    let mut played = 0;
    let mut attempts = 0;
    let mut worst = 0;
    while played < PLAYED && attempts < ATTEMPTS {
        attempts += 1;
        let (ring, call) = setup();
        let r = round(&board(&ring), side, free, interval, call);
        assert_ne!(
            r.frees,
            u32::MAX,
            "{name}: the peer's watchdog fired: {r:?}"
        );
        assert!(
            matches!(r.outcome, Outcome::Done(_) | Outcome::Stalled),
            "{name}: the call must return entries or a typed Stalled error: {r:?}"
        );
        if r.played() {
            played += 1;
            worst = worst.max(r.frees);
            eprintln!(
                "{name}: played round: {:?}, {} frees, call CPU {:.2} x C (C = {c:?})",
                r.outcome,
                r.frees,
                r.cpu.as_secs_f64() / c.as_secs_f64()
            );
            assert!(
                r.frees <= BOUND,
                "{name}: one call was held over {} frees of the peer, each after half a \
                 re-check budget of its CPU time (bound {BOUND}): the budget is not per call \
                 ({r:?}, C = {c:?})",
                r.frees
            );
        }
    }
    assert!(
        played > 0,
        "{name}: the peer never won the race in {attempts} rounds"
    );
    eprintln!("{name}: {played} rounds played in {attempts} attempts, at most {worst} frees");
}

/// Segments of a consumer game: one claim each.
const SEGMENT: u32 = 512;

/// Producer boards: the lane the honest reservation lands in and its index.
fn ring_tail(ring: &Ring<u64>) -> Board<'_> {
    Board {
        lane: Lane::ring(ring),
        index: tail_word(ring),
        boundaries: Vec::new(),
    }
}

fn overflow_tail(ring: &Ring<u64>) -> Board<'_> {
    Board {
        lane: Lane::overflow(ring),
        index: Index::State(&overflow_line(ring).state),
        boundaries: Vec::new(),
    }
}

/// Consumer boards: a full lane cut into segments of [`SEGMENT`] entries.
fn segments<'a>(lane: Lane<'a>, index: Index<'a>) -> Board<'a> {
    let start = index.load();
    Board {
        lane,
        index,
        boundaries: (1..lane.cap / SEGMENT)
            .map(|i| start.wrapping_add(i * SEGMENT))
            .collect(),
    }
}

fn ring_head(ring: &Ring<u64>) -> Board<'_> {
    segments(Lane::ring(ring), head_word(ring))
}

fn overflow_head(ring: &Ring<u64>) -> Board<'_> {
    segments(Lane::overflow(ring), Index::Word(&overflow_line(ring).head))
}

fn push_outcome(r: Result<(), PushAllError>, n: usize) -> Outcome {
    match r {
        Ok(()) => Outcome::Done(n),
        Err(PushAllError::Corrupt(Corruption::Stalled { .. })) => Outcome::Stalled,
        Err(e) => Outcome::Other(format!("{e:?}")),
    }
}

/// A producer's batch of 1024 (`push_all`, or `push_some` when `some`): its re-check (MP3, or
/// O3 in the overflow area) covers 1024 positions. With `spill`, the ring (64 slots) is full
/// first, so the batch goes to the overflow area (4096 slots); otherwise to the ring (4096).
fn producer_game(name: &'static str, mode: Mode, some: bool, spill: bool) {
    watchdog(name, Duration::from_secs(300), move || {
        let setup = move || {
            let cfg = if spill {
                Config::new(64).mode(mode).overflow(4096)
            } else {
                Config::new(4096).mode(mode)
            };
            let ring = Ring::<u64>::create_heap(cfg).unwrap();
            let mut tx = ring.producer().unwrap();
            if spill {
                tx.push_all(&[7; 64]).unwrap();
            }
            let call: Call = Box::new(move || {
                let values: Vec<u64> = (0..1024).collect();
                if some {
                    match tx.push_some(&values) {
                        Ok(n) => Outcome::Done(n),
                        Err(Corruption::Stalled { .. }) => Outcome::Stalled,
                        Err(e) => Outcome::Other(format!("{e:?}")),
                    }
                } else {
                    push_outcome(tx.push_all(&values), values.len())
                }
            });
            (ring, call)
        };
        let board = if spill { overflow_tail } else { ring_tail };
        game(name, Side::Producer, Free::Lowest, &setup, board)
    });
}

#[test]
fn mpsc_push_all_is_bounded_per_call() {
    producer_game("MPSC push_all(1024)", Mode::Mpsc, false, false);
}

#[test]
fn mpsc_push_some_is_bounded_per_call() {
    producer_game("MPSC push_some(1024)", Mode::Mpsc, true, false);
}

#[test]
fn mpmc_push_all_is_bounded_per_call() {
    producer_game("MPMC push_all(1024)", Mode::Mpmc, false, false);
}

#[test]
fn overflow_push_all_is_bounded_per_call() {
    producer_game(
        "MPSC push_all(1024) into the overflow area",
        Mode::Mpsc,
        false,
        true,
    );
}

/// A consumer taking a full lane of 16384 entries that the peer cuts into 32 segments of
/// [`SEGMENT`] (a boundary position stays "not yet published" until the index reaches it), so
/// that one `pop_into` of 16384 claims 32 times, each claim re-checking 512 positions (MC3, or
/// MC3 in O5 for the overflow area). With `spill`, the entries are in the overflow area
/// (16384 slots) behind a ring of 64 that another consumer drained.
fn consumer_game(name: &'static str, spill: bool) {
    const N: u32 = 16384;
    watchdog(name, Duration::from_secs(300), move || {
        let setup = move || {
            let cfg = if spill {
                Config::new(64).mode(Mode::Mpmc).overflow(N)
            } else {
                Config::new(N).mode(Mode::Mpmc)
            };
            let ring = Ring::<u64>::create_heap(cfg).unwrap();
            let mut tx = ring.producer().unwrap();
            if spill {
                // Fill the ring, spill everything else, then empty the ring (O4: overflow
                // entries are taken only while the ring is empty).
                tx.push_all(&[u64::MAX; 64]).unwrap();
                let values: Vec<u64> = (0..u64::from(N)).collect();
                tx.push_all(&values).unwrap();
                let mut other = ring.consumer().unwrap();
                assert_eq!(other.pop_into(&mut [0; 64]), Ok(64));
            } else {
                let values: Vec<u64> = (0..u64::from(N)).collect();
                tx.push_all(&values).unwrap();
            }
            let mut rx = ring.consumer().unwrap();
            let call: Call = Box::new(move || {
                let mut out = vec![0u64; N as usize];
                match rx.pop_into(&mut out) {
                    // What was taken is what was pushed, in order.
                    Ok(n) if out[..n].iter().zip(0..).all(|(&v, i)| v == i) => Outcome::Done(n),
                    Ok(_) => Outcome::Other("entries out of order".into()),
                    Err(PopError::Corrupt(Corruption::Stalled { .. })) => Outcome::Stalled,
                    Err(e) => Outcome::Other(format!("{e:?}")),
                }
            });
            (ring, call)
        };
        let board = if spill { overflow_head } else { ring_head };
        game(name, Side::Consumer, Free::All, &setup, board)
    });
}

#[test]
fn mpmc_pop_into_is_bounded_per_call() {
    consumer_game("MPMC pop_into(16384)", false);
}

#[test]
fn overflow_pop_into_is_bounded_per_call() {
    consumer_game("MPMC pop_into(16384) from the overflow area", true);
}
