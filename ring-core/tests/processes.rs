//! Two real processes sharing one ring.
//!
//! The test binary re-executes itself (the shared harness in `common/mod.rs`): a parent test
//! spawns a [`Peer`] with a role; the [`child`] test runs that role in the child process and
//! is a no-op in a normal run. Every wait on the other process is bounded by [`DEADLINE`], and
//! every `/dev/shm` file is removed on every path.

mod common;

use common::{
    child_ring, decode_with, expected_hash, mix, receive, report, snooze_upto, tagged_entry,
    unique_name, Claim, Params, Peer, Rng, ShmGuard, Transport, DEADLINE,
};
use ring_core::{
    ClaimError, Completion, Consumer, Mode, PopError, Producer, PushAllError, PushError, Ring,
};
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Both indices start here, so every test crosses the u32 wrap early.
const START: u32 = u32::MAX - 100;

/// Entries per producer (the debug build is fast enough for the full count: about 1 s for the
/// whole file on 2 cores).
fn per_producer() -> u64 {
    1_000_000
}

// ---------------------------------------------------------------------------------------------
// Entries: user_data = producer << 32 | seq; result and flags are derived from both, so a torn
// or stale read is caught.

const FLAGS_MAGIC: u32 = 0xC0DE_0000;

fn entry(p: u64, seq: u64) -> Completion {
    tagged_entry(p, seq, 0x5A5A_5A5A, FLAGS_MAGIC)
}

/// Splits a received entry into (producer, seq), checking its payload.
fn decode(c: &Completion) -> Result<(u64, u64), String> {
    decode_with(c, entry)
}

/// Spin, then yield: the wait used whenever the ring is full or empty.
fn snooze(step: &mut u32) {
    snooze_upto(step, 7);
}

/// Why a loop gave up.
fn stop_reason(stop: &AtomicBool, deadline: Instant, parent: Option<u32>) -> Option<String> {
    if stop.load(Ordering::Relaxed) {
        return Some("stopped".into());
    }
    if Instant::now() > deadline {
        return Some("deadline expired".into());
    }
    if let Some(ppid) = parent {
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } as u32 != ppid {
            return Some("parent process went away".into());
        }
    }
    None
}

/// What one producer did.
#[derive(Default, Debug)]
struct Produced {
    /// Reserved slots left unwritten at commit (discarded in multi-producer modes, given back
    /// in single-producer modes).
    abandoned: u64,
    /// Attempts refused because the ring was full.
    full: u64,
}

/// Pushes `entry(p, 0..count)` in order with a random mix of `push`, `push_all`, `push_some`
/// and `reserve` + `commit` (sometimes committing only part of a reservation), retrying with
/// spin + yield while the ring is full.
fn produce(
    tx: &mut Producer<Completion>,
    p: u64,
    count: u64,
    stop: &AtomicBool,
    deadline: Instant,
    parent: Option<u32>,
) -> Result<Produced, String> {
    let mut rng = Rng::new(p + 1);
    let mut stats = Produced::default();
    let mut batch = Vec::with_capacity(64);
    let mut seq = 0u64;
    let mut step = 0u32;
    while seq < count {
        let b = (rng.below(48) + 1).min(count - seq);
        let pushed = match rng.below(4) {
            0 => match tx.push(entry(p, seq)) {
                Ok(()) => 1,
                Err(PushError::Full(_)) => 0,
                Err(e) => return Err(format!("producer {p}: push at {seq}: {e}")),
            },
            1 => {
                batch.clear();
                batch.extend((seq..seq + b).map(|s| entry(p, s)));
                match tx.push_all(&batch) {
                    Ok(()) => b,
                    Err(PushAllError::Full { .. }) => 0,
                    Err(e) => return Err(format!("producer {p}: push_all at {seq}: {e}")),
                }
            }
            2 => {
                batch.clear();
                batch.extend((seq..seq + b).map(|s| entry(p, s)));
                match tx.push_some(&batch) {
                    Ok(n) => n as u64,
                    Err(e) => return Err(format!("producer {p}: push_some at {seq}: {e}")),
                }
            }
            _ => match tx.reserve(b as usize) {
                Ok(mut chunk) => {
                    let n = chunk.len();
                    if n == 0 || n as u64 > b {
                        return Err(format!("producer {p}: reserve({b}) gave {n} slots"));
                    }
                    // Now and then abandon the second half of a reservation.
                    let keep = if n > 1 && rng.below(16) == 0 {
                        n / 2
                    } else {
                        n
                    };
                    match rng.below(3) {
                        0 => {
                            for i in 0..keep {
                                chunk.write(i, entry(p, seq + i as u64));
                            }
                        }
                        1 => {
                            for i in 0..keep {
                                // SAFETY: every participant of this ring is this test's
                                // processes, all honest.
                                unsafe { *chunk.get_mut(i) = entry(p, seq + i as u64) };
                            }
                        }
                        _ => {
                            let w = chunk.fill_from((seq..seq + keep as u64).map(|s| entry(p, s)));
                            if w != keep {
                                return Err(format!("producer {p}: fill_from wrote {w}/{keep}"));
                            }
                        }
                    }
                    let published = chunk.commit();
                    if published != keep {
                        return Err(format!("producer {p}: commit published {published}/{keep}"));
                    }
                    stats.abandoned += (n - keep) as u64;
                    keep as u64
                }
                Err(PushAllError::Full { .. }) => 0,
                Err(e) => return Err(format!("producer {p}: reserve at {seq}: {e}")),
            },
        };
        if pushed == 0 {
            stats.full += 1;
            if step % 64 == 63 {
                if let Some(why) = stop_reason(stop, deadline, parent) {
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

/// Receives entries with a rotating mix of `pop_into`, `view` and `pop`, handing each to `f`.
/// Returns how many were received this round (0 when the ring looked empty).
fn consume_round(
    rx: &mut Consumer<Completion>,
    buf: &mut [Completion],
    round: u64,
    f: impl FnMut(&Completion) -> Result<(), String>,
) -> Result<usize, String> {
    let max = 1 + (mix(round) % buf.len() as u64) as usize;
    let how = [Claim::PopInto, Claim::View, Claim::Pop][(round % 3) as usize];
    receive(rx, buf, max, how, f)
}

/// Checks that entries arrive as `0, 1, 2, ...` per producer: nothing lost, duplicated or
/// reordered.
struct InOrder {
    next: Vec<u64>,
    got: u64,
}

impl InOrder {
    fn new(producers: usize) -> InOrder {
        InOrder {
            next: vec![0; producers],
            got: 0,
        }
    }

    fn check(&mut self, c: &Completion) -> Result<(), String> {
        let (p, seq) = decode(c)?;
        let Some(next) = self.next.get_mut(p as usize) else {
            return Err(format!("entry from unknown producer {p}: {c:?}"));
        };
        if seq != *next {
            return Err(format!(
                "producer {p}: expected seq {next}, received {seq} ({})",
                if seq < *next {
                    "duplicate or reordered"
                } else {
                    "entries lost or reordered"
                }
            ));
        }
        *next += 1;
        self.got += 1;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Child side.

/// The re-exec entry point: runs the role named by [`common::ROLE_VAR`], or nothing.
#[test]
fn child() {
    let Some((role, params)) = common::child_role() else {
        return;
    };
    let parent = Some(params.parent());
    let deadline = Instant::now() + DEADLINE;
    let stop = AtomicBool::new(false);
    match role.as_str() {
        "mpsc-produce" => child_mpsc_produce(&params, parent, deadline, &stop),
        "mpmc-consume" => child_mpmc_consume(&params, parent, deadline),
        "spsc-hold" => {
            let ring = child_ring(&params, Mode::Spsc);
            let mut tx = ring.producer().expect("claim the SPSC producer side");
            report("claimed", std::process::id());
            // Streams until the parent kills us (or the deadline / the parent's exit).
            let r = produce(
                &mut tx,
                params.num("id"),
                u32::MAX as u64,
                &stop,
                deadline,
                parent,
            );
            panic!("spsc-hold was not killed: {r:?}");
        }
        "spsc-takeover" => {
            let ring = child_ring(&params, Mode::Spsc);
            let before = ring.lines().producer_line().owner.load(Ordering::Acquire);
            report("owner-before", before);
            let mut tx = ring
                .producer()
                .expect("take over the dead producer's claim");
            let after = ring.lines().producer_line().owner.load(Ordering::Acquire);
            assert_eq!(after, std::process::id(), "claim now ours");
            report("took-over", before);
            let count = params.num("count");
            let r = produce(&mut tx, params.num("id"), count, &stop, deadline, parent);
            let stats = r.unwrap_or_else(|e| panic!("{e}"));
            report("abandoned", stats.abandoned);
            tx.release(); // hand the side back without closing the stream
            let released = ring.lines().producer_line().owner.load(Ordering::Acquire);
            assert_eq!(released, 0, "claim released");
        }
        other => panic!("unknown child role {other}"),
    }
    report("done", 1);
}

fn child_mpsc_produce(params: &Params, parent: Option<u32>, deadline: Instant, stop: &AtomicBool) {
    let ring = child_ring(params, Mode::Mpsc);
    report("attached", std::process::id());
    let (producers, count) = (params.num("producers"), params.num("count"));
    let results: Vec<Result<Produced, String>> = thread::scope(|s| {
        let handles: Vec<_> = (0..producers)
            .map(|p| {
                let ring = &ring;
                s.spawn(move || {
                    let mut tx = ring.producer().map_err(|e| format!("producer(): {e}"))?;
                    let r = produce(&mut tx, p, count, stop, deadline, parent);
                    if r.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("producer panicked".into())))
            .collect()
    });
    let mut abandoned = 0;
    let mut full = 0;
    for r in results {
        let stats = r.unwrap_or_else(|e| panic!("{e}"));
        abandoned += stats.abandoned;
        full += stats.full;
    }
    report("abandoned", abandoned);
    report("full", full);
}

/// Two consumer threads; each keeps a bitmap of what it received per producer and checks that
/// per-producer sequence numbers increase. Reports per-producer counts, duplicates, missing
/// entries, order violations and an order-independent hash.
fn child_mpmc_consume(params: &Params, parent: Option<u32>, deadline: Instant) {
    let ring = child_ring(params, Mode::Mpmc);
    report("attached", std::process::id());
    let (producers, count, consumers) = (
        params.num("producers") as usize,
        params.num("count"),
        params.num("consumers"),
    );
    let total = producers as u64 * count;
    let words = count.div_ceil(64) as usize;
    let consumed = AtomicU64::new(0);
    let stop = AtomicBool::new(false);

    struct Seen {
        bits: Vec<Vec<u64>>,
        dups: u64,
        order: u64,
        hash: u64,
        got: u64,
        error: Option<String>,
    }

    let results: Vec<Seen> = thread::scope(|s| {
        let handles: Vec<_> = (0..consumers)
            .map(|t| {
                let (ring, consumed, stop) = (&ring, &consumed, &stop);
                s.spawn(move || {
                    let mut seen = Seen {
                        bits: vec![vec![0u64; words]; producers],
                        dups: 0,
                        order: 0,
                        hash: 0,
                        got: 0,
                        error: None,
                    };
                    let mut last = vec![None::<u64>; producers];
                    let mut rx = match ring.consumer() {
                        Ok(rx) => rx,
                        Err(e) => {
                            seen.error = Some(format!("consumer(): {e}"));
                            stop.store(true, Ordering::Relaxed);
                            return seen;
                        }
                    };
                    let mut buf = vec![Completion::default(); 64];
                    let mut round = t * 1_000_003;
                    let mut step = 0u32;
                    while consumed.load(Ordering::Relaxed) < total {
                        round += 1;
                        let r = consume_round(&mut rx, &mut buf, round, |c| {
                            let (p, sq) = decode(c)?;
                            if p as usize >= producers || sq >= count {
                                return Err(format!("entry out of range: {c:?}"));
                            }
                            let (w, b) = ((sq / 64) as usize, sq % 64);
                            let word = &mut seen.bits[p as usize][w];
                            if *word & (1 << b) != 0 {
                                seen.dups += 1;
                            }
                            *word |= 1 << b;
                            // One consumer claims positions in increasing order, so it sees
                            // each producer's entries in increasing order.
                            if last[p as usize].is_some_and(|l| l >= sq) {
                                seen.order += 1;
                            }
                            last[p as usize] = Some(sq);
                            seen.hash = seen.hash.wrapping_add(mix(c.user_data));
                            seen.got += 1;
                            Ok(())
                        });
                        match r {
                            Ok(0) => {
                                if step % 64 == 63 {
                                    if let Some(why) = stop_reason(stop, deadline, parent) {
                                        seen.error = Some(format!("consumer {t}: {why}"));
                                        break;
                                    }
                                }
                                snooze(&mut step);
                            }
                            Ok(n) => {
                                consumed.fetch_add(n as u64, Ordering::Relaxed);
                                step = 0;
                            }
                            Err(e) => {
                                seen.error = Some(format!("consumer {t}: {e}"));
                                stop.store(true, Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                    seen
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("consumer thread panicked"))
            .collect()
    });

    let mut union = vec![vec![0u64; words]; producers];
    let (mut dups, mut order, mut hash) = (0u64, 0u64, 0u64);
    for (t, seen) in results.iter().enumerate() {
        if let Some(e) = &seen.error {
            panic!("{e}");
        }
        report(&format!("consumer{t}"), seen.got);
        dups += seen.dups;
        order += seen.order;
        hash = hash.wrapping_add(seen.hash);
        for (u, b) in union.iter_mut().zip(&seen.bits) {
            for (uw, bw) in u.iter_mut().zip(b) {
                dups += u64::from((*uw & *bw).count_ones());
                *uw |= *bw;
            }
        }
    }
    let mut missing = 0;
    for (p, u) in union.iter().enumerate() {
        let n: u64 = u.iter().map(|w| u64::from(w.count_ones())).sum();
        report(&format!("count{p}"), n);
        missing += count - n;
    }
    report("dups", dups);
    report("missing", missing);
    report("order", order);
    report("hash", hash);
    // Nothing beyond the expected entries.
    let mut rx = ring.consumer().expect("consumer");
    assert_eq!(
        rx.pop(),
        Err(PopError::Empty),
        "an extra entry is in the ring"
    );
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// The child runs 3 producer threads; the parent consumes and checks every entry.
fn mpsc_child_produces(ring: &Ring<Completion>, transport: Transport<'_>) {
    const PRODUCERS: usize = 3;
    let count = per_producer();
    let mut peer = Peer::spawn(
        "mpsc-produce",
        &[
            ("producers", PRODUCERS.to_string()),
            ("count", count.to_string()),
        ],
        &transport,
    );
    let mut rx = ring.consumer().expect("consumer");
    let mut order = InOrder::new(PRODUCERS);
    let total = PRODUCERS as u64 * count;
    let mut buf = vec![Completion::default(); 256];
    let mut round = 0u64;
    let mut step = 0u32;
    let mut child_exited = false;
    while order.got < total {
        round += 1;
        match consume_round(&mut rx, &mut buf, round, |c| order.check(c)) {
            Ok(0) => {
                if child_exited {
                    // The child's publications all happened before it exited and we reaped
                    // it; an empty ring now means entries are missing.
                    peer.fail(format!(
                        "child exited but only {}/{total} entries arrived (next per producer: {:?})",
                        order.got, order.next
                    ));
                }
                if let Some(status) = peer.poll_sometimes() {
                    if !status.success() {
                        peer.fail(format!("child failed: {status}"));
                    }
                    child_exited = true;
                }
                snooze(&mut step);
            }
            Ok(_) => step = 0,
            Err(e) => peer.fail(format!("after {} entries: {e}", order.got)),
        }
    }
    assert_eq!(
        rx.pop(),
        Err(PopError::Empty),
        "an extra entry is in the ring"
    );
    let reports = peer.finish();
    let abandoned = peer.number(&reports, "abandoned");
    let c = ring.counters();
    assert_eq!(
        c.discarded, abandoned,
        "discarded counter vs abandoned slots"
    );
    let advanced = START.wrapping_add((total + abandoned) as u32);
    assert_eq!(
        (c.tail, c.head),
        (advanced, advanced),
        "indices after the run"
    );
    assert!(c.tail < START, "the indices wrapped");
    eprintln!(
        "mpsc: {total} entries, {abandoned} discarded, {} full refusals, child reported {} full waits",
        c.full_refusals, reports["full"]
    );
}

#[test]
fn mpsc_shm_child_produces_parent_consumes() {
    let name = unique_name("mpsc-shm");
    let guard = ShmGuard::new(&name);
    let cfg = ring_core::Config::new(1024)
        .mode(Mode::Mpsc)
        .initial_index(START);
    let ring = Ring::<Completion>::create_shm(&name, cfg).expect("create_shm");
    assert!(guard.0.exists());
    mpsc_child_produces(&ring, Transport::Shm(&name));
    drop(ring);
    assert!(
        !guard.0.exists(),
        "the region removes its /dev/shm file on drop"
    );
}

#[test]
fn mpsc_memfd_child_produces_parent_consumes() {
    let cfg = ring_core::Config::new(1024)
        .mode(Mode::Mpsc)
        .initial_index(START);
    let ring = Ring::<Completion>::create_memfd("ring-core-test-mpsc", cfg).expect("memfd");
    mpsc_child_produces(&ring, Transport::Memfd(&ring));
}

/// The parent produces with 2 threads; the child consumes with 2 threads and reports.
#[test]
fn mpmc_shm_parent_produces_child_consumes() {
    const PRODUCERS: u64 = 2;
    let count = per_producer();
    let name = unique_name("mpmc-shm");
    let _guard = ShmGuard::new(&name);
    let cfg = ring_core::Config::new(1024)
        .mode(Mode::Mpmc)
        .initial_index(START);
    let ring = Ring::<Completion>::create_shm(&name, cfg).expect("create_shm");
    let mut peer = Peer::spawn(
        "mpmc-consume",
        &[
            ("producers", PRODUCERS.to_string()),
            ("count", count.to_string()),
            ("consumers", "2".to_string()),
        ],
        &Transport::Shm(&name),
    );
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + DEADLINE;
    let mut early_exit = None;
    let results: Vec<Result<Produced, String>> = thread::scope(|s| {
        let handles: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let (ring, stop) = (&ring, &stop);
                s.spawn(move || {
                    let mut tx = ring.producer().map_err(|e| format!("producer(): {e}"))?;
                    produce(&mut tx, p, count, stop, deadline, None)
                })
            })
            .collect();
        // Supervise the child while the producers run: a child that dies stops them.
        while !handles.iter().all(|h| h.is_finished()) {
            if Instant::now() > deadline {
                stop.store(true, Ordering::Relaxed);
                break;
            }
            match peer.child.try_wait() {
                Ok(Some(status)) => {
                    early_exit = Some(status);
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
                Ok(None) => thread::sleep(Duration::from_millis(5)),
                Err(_) => break,
            }
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("producer panicked".into())))
            .collect()
    });
    if let Some(status) = early_exit {
        peer.status = Some(status);
    }
    let mut abandoned = 0;
    for r in results {
        match r {
            Ok(stats) => abandoned += stats.abandoned,
            Err(e) => peer.fail(e),
        }
    }
    let reports = peer.finish();
    for p in 0..PRODUCERS {
        let n = peer.number(&reports, &format!("count{p}"));
        assert_eq!(n, count, "distinct entries of producer {p} received");
    }
    assert_eq!(peer.number(&reports, "dups"), 0, "entries delivered twice");
    assert_eq!(peer.number(&reports, "missing"), 0, "entries lost");
    assert_eq!(peer.number(&reports, "order"), 0, "per-producer order");
    let delivered = peer.number(&reports, "consumer0") + peer.number(&reports, "consumer1");
    assert_eq!(delivered, PRODUCERS * count, "deliveries overall");
    assert_eq!(
        peer.number(&reports, "hash"),
        expected_hash(PRODUCERS, count),
        "hash of delivered cookies"
    );
    let c = ring.counters();
    assert_eq!(
        c.discarded, abandoned,
        "discarded counter vs abandoned slots"
    );
    let advanced = START.wrapping_add((PRODUCERS * count + abandoned) as u32);
    assert_eq!(
        (c.tail, c.head),
        (advanced, advanced),
        "indices after the run"
    );
    eprintln!(
        "mpmc: consumer0 {} consumer1 {}, {abandoned} discarded, {} full refusals",
        reports["consumer0"], reports["consumer1"], c.full_refusals
    );
}

/// A producer process is killed with SIGKILL while it holds the SPSC producer claim; another
/// process then takes the claim over and the ring keeps working.
#[test]
fn spsc_claim_taken_over_after_sigkill() {
    const KILLED: u64 = 1;
    const SUCCESSOR: u64 = 2;
    let cfg = ring_core::Config::new(64)
        .mode(Mode::Spsc)
        .initial_index(START);
    let ring = Ring::<Completion>::create_memfd("ring-core-test-spsc-kill", cfg).expect("memfd");
    let owner =
        |ring: &Ring<Completion>| ring.lines().producer_line().owner.load(Ordering::Acquire);
    let mut rx = ring.consumer().expect("consumer");
    let mut buf = vec![Completion::default(); 32];

    // The first producer claims the producer side and streams until killed.
    let mut a = Peer::spawn(
        "spsc-hold",
        &[("id", KILLED.to_string())],
        &Transport::Memfd(&ring),
    );
    let a_pid: u32 = a.expect("claimed").parse().expect("pid");
    assert_eq!(a_pid, a.pid());
    assert_eq!(owner(&ring), a_pid, "claim recorded in shared memory");
    match ring.producer() {
        Err(ClaimError::Busy { owner, .. }) => assert_eq!(owner, a_pid),
        other => a.fail(format!(
            "producer() while a live process holds it: {other:?}"
        )),
    }
    // Receive a few laps so that the kill lands mid-stream.
    let mut next_a = 0u64;
    let mut round = 0u64;
    let mut step = 0u32;
    let mut check_a = |c: &Completion| -> Result<(), String> {
        match decode(c)? {
            (KILLED, s) if s == next_a => {
                next_a += 1;
                Ok(())
            }
            other => Err(format!("expected ({KILLED}, {next_a}), got {other:?}")),
        }
    };
    let mut got = 0;
    while got < 4 * 64 + 7 {
        round += 1;
        match consume_round(&mut rx, &mut buf, round, &mut check_a) {
            Ok(0) => {
                if let Some(s) = a.poll_sometimes() {
                    a.fail(format!("producer exited early: {s}"));
                }
                snooze(&mut step);
            }
            Ok(n) => got += n,
            Err(e) => a.fail(e),
        }
    }
    a.child.kill().expect("SIGKILL");
    let status = a.child.wait().expect("reap the killed producer");
    a.status = Some(status);
    assert_eq!(status.signal(), Some(libc::SIGKILL), "killed by SIGKILL");
    assert_eq!(
        owner(&ring),
        a_pid,
        "the dead process's claim is left behind"
    );
    drop(a);
    // Drain what the killed producer had published: a gap-free continuation.
    loop {
        round += 1;
        match consume_round(&mut rx, &mut buf, round, &mut check_a) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => panic!("draining the killed producer's entries: {e}"),
        }
    }
    assert!(next_a >= got as u64);

    // A new producer process takes the claim over and the ring keeps working.
    let count: u64 = if cfg!(debug_assertions) {
        50_000
    } else {
        200_000
    };
    let mut b = Peer::spawn(
        "spsc-takeover",
        &[("id", SUCCESSOR.to_string()), ("count", count.to_string())],
        &Transport::Memfd(&ring),
    );
    let mut order = InOrder::new(3);
    let mut exited = false;
    while order.got < count {
        round += 1;
        match consume_round(&mut rx, &mut buf, round, |c| {
            if decode(c)?.0 != SUCCESSOR {
                return Err(format!(
                    "entry from the killed producer after takeover: {c:?}"
                ));
            }
            order.check(c)
        }) {
            Ok(0) => {
                if exited {
                    b.fail(format!("successor exited, {}/{count} arrived", order.got));
                }
                if let Some(s) = b.poll_sometimes() {
                    if !s.success() {
                        b.fail(format!("successor failed: {s}"));
                    }
                    exited = true;
                }
                snooze(&mut step);
            }
            Ok(_) => step = 0,
            Err(e) => b.fail(e),
        }
    }
    let reports = b.finish();
    assert_eq!(reports["owner-before"], a_pid.to_string());
    assert_eq!(reports["took-over"], a_pid.to_string());
    assert_eq!(owner(&ring), 0, "the successor released its claim on exit");
    assert_eq!(rx.pop(), Err(PopError::Empty));

    // And this process can produce now too.
    let mut tx = ring.producer().expect("claim is free again");
    tx.push(entry(3, 0)).expect("push");
    assert_eq!(rx.pop(), Ok(entry(3, 0)));
    drop(tx);
    let c = ring.counters();
    assert_eq!(c.tail, c.head);
    assert_eq!(c.discarded, 0, "single-producer rings never discard");
    eprintln!(
        "spsc: killed producer delivered {next_a} entries, successor {count}, {} full refusals",
        c.full_refusals
    );
}
