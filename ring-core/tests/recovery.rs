//! Producers killed with SIGKILL at any instruction do not wedge the ring (PROTOCOL.md,
//! "Producer records and recovery"; section 17 for single producers).
//!
//! Producers are child processes (this test binary started again with a role, by the shared
//! harness `common::Peer`) that stream tagged entries into a ring under `/dev/shm` until they are killed; the consumer
//! (the test) kills one at random every so often, starts a replacement, and keeps consuming.
//! At the end every producer is killed, recovery runs, and the ring must drain completely:
//! nothing wedged, each producer's delivered entries exactly `0..n` in order (its published
//! entries all arrive; what it reserved and never published is discarded, and can only be at
//! the end of its stream), nothing duplicated.
//!
//! `RING_KILLS` sets the number of kills per configuration (default 60; the target run
//! used 10,000).

mod common;

use common::{Params, Peer, ShmGuard, Transport};
use ring_core::{Completion, Config, Mode, PopError, Ring};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How a child produces.
#[derive(Copy, Clone, Debug)]
enum Style {
    /// `push`, one entry at a time.
    Single,
    /// `push_all` of 8.
    Batch,
    /// `reserve_exact(4)`, written in place, committed.
    ZeroCopy,
    /// As `ZeroCopy`, but writing each entry takes about 20 µs: most kills land while the
    /// producer holds a reservation.
    SlowZeroCopy,
}

impl Style {
    fn name(self) -> &'static str {
        match self {
            Style::Single => "single",
            Style::Batch => "batch",
            Style::ZeroCopy => "zero-copy",
            Style::SlowZeroCopy => "slow-zero-copy",
        }
    }

    fn from(s: &str) -> Style {
        match s {
            "single" => Style::Single,
            "batch" => Style::Batch,
            "slow-zero-copy" => Style::SlowZeroCopy,
            _ => Style::ZeroCopy,
        }
    }
}

fn entry(id: u64, seq: u64) -> Completion {
    Completion::new(id << 40 | seq, seq as i32, id as u32)
}

/// The child role `producer`: streams entries until killed (or until the parent is gone).
fn produce(params: &Params) {
    let name = params.get("shm");
    let id = params.num("id");
    let style = Style::from(params.get("style"));
    let ring = Ring::<Completion>::open_shm(name).unwrap();
    // A single producer's successor may find the claim still held for a moment by the
    // predecessor the parent just killed (until its death is seen): retry.
    let mut tx = loop {
        match ring.producer() {
            Ok(tx) => break tx,
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    common::report("ready", id);
    let mut seq = 0u64;
    let mut rounds = 0u32;
    loop {
        let done = match style {
            Style::Single => tx.push(entry(id, seq)).map(|()| 1).unwrap_or(0),
            Style::Batch => {
                let batch: Vec<_> = (0..8).map(|i| entry(id, seq + i)).collect();
                tx.push_all(&batch).map(|()| 8).unwrap_or(0)
            }
            Style::ZeroCopy | Style::SlowZeroCopy => match tx.reserve_exact(4) {
                Ok(mut chunk) => {
                    for i in 0..4 {
                        if let Style::SlowZeroCopy = style {
                            let t = Instant::now();
                            while t.elapsed() < Duration::from_micros(20) {
                                std::hint::spin_loop();
                            }
                        }
                        chunk.write(i, entry(id, seq + i as u64));
                    }
                    chunk.commit();
                    4
                }
                Err(_) => 0,
            },
        };
        if done == 0 {
            std::thread::yield_now();
        }
        seq += done;
        rounds = rounds.wrapping_add(1);
        if rounds % 4096 == 0 && common::orphaned(params) {
            return;
        }
    }
}

/// Starts producer `id` and waits (bounded) until it holds its producer handle (so that its
/// id's entries have an owner). The child is killed when its `Peer` drops.
fn spawn(name: &str, id: u64, style: Style) -> Peer {
    let mut peer = Peer::spawn(
        "producer",
        &[("id", id.to_string()), ("style", style.name().to_string())],
        &Transport::Shm(name),
    );
    peer.expect("ready");
    peer
}

fn kill(mut p: Peer) {
    let _ = p.child.kill();
    p.status = Some(p.child.wait().unwrap());
}

/// The child side of every test: runs only in children.
#[test]
fn child() {
    let Some((role, params)) = common::child_role() else {
        return;
    };
    match role.as_str() {
        "producer" => produce(&params),
        other => panic!("unknown child role {other}"),
    }
}

/// Delivered entries per producer id, checked to be `0..n` in order.
#[derive(Default)]
struct Tally {
    next: HashMap<u64, u64>,
    total: u64,
}

impl Tally {
    fn take(&mut self, c: Completion, ctx: &str) {
        let (id, seq) = (c.user_data >> 40, c.user_data & ((1 << 40) - 1));
        let next = self.next.entry(id).or_insert(0);
        assert_eq!(
            seq, *next,
            "{ctx}: producer {id} out of order, duplicated or with a hole"
        );
        assert_eq!(
            (c.result, c.flags),
            (seq as i32, id as u32),
            "{ctx}: bytes of {id}/{seq}"
        );
        *next += 1;
        self.total += 1;
    }
}

fn kills() -> u32 {
    std::env::var("RING_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}

fn storm(mode: Mode, overflow: u32, style: Style, producers: u64) {
    let ctx = format!("{mode:?} overflow {overflow} {style:?}");
    let name = common::unique_name(&format!("recovery-{overflow}-{}", style.name()));
    let _guard = ShmGuard::new(&name);
    let ring = Ring::<Completion>::create_shm(&name, Config::new(64).mode(mode).overflow(overflow))
        .unwrap();
    let mut rx = ring.consumer().unwrap();
    rx.set_recovery_after(Some(Duration::from_millis(2)));
    let mut next_id = 0u64;
    // The running producers: killed on drop, so that a failing test leaves no process behind.
    let mut kids: Vec<Peer> = (0..producers)
        .map(|_| {
            next_id += 1;
            spawn(&name, next_id, style)
        })
        .collect();
    let mut tally = Tally::default();
    let mut out = [Completion::default(); 64];
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let total_kills = kills();
    for k in 0..total_kills {
        // Consume for a little while (a random amount), then kill a random producer.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let until = tally.total + 1 + rng % 300;
        let t0 = Instant::now();
        while tally.total < until {
            let n = rx
                .reap(&mut out, 1, Some(Duration::from_millis(20)))
                .unwrap();
            out[..n].iter().for_each(|&c| tally.take(c, &ctx));
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{ctx}: wedged after {k} kills ({} entries delivered, counters {:?})",
                tally.total,
                ring.counters()
            );
        }
        let victim = kids.swap_remove((rng as usize / 7) % kids.len());
        kill(victim);
        next_id += 1;
        kids.push(spawn(&name, next_id, style));
    }
    drop(kids);
    // Everyone is dead: recover and drain, within a bound.
    let t0 = Instant::now();
    loop {
        let _ = ring.recover();
        match rx.pop_into(&mut out) {
            Ok(0) => {
                let c = ring.counters();
                if c.tail == c.head && c.overflow_pending == 0 {
                    break;
                }
            }
            Ok(n) => out[..n].iter().for_each(|&c| tally.take(c, &ctx)),
            Err(e) => panic!("{ctx}: {e}"),
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{ctx}: wedged at the end, counters {:?}",
            ring.counters()
        );
    }
    assert_eq!(rx.pop(), Err(PopError::Empty));
    let c = ring.counters();
    eprintln!(
        "{ctx}: {total_kills} kills, {} entries from {} producers, {} discarded, counters {c:?}",
        tally.total,
        tally.next.len(),
        c.discarded
    );
    // Every producer that ran published something (they start streaming at once).
    assert!(tally.total > 0, "{ctx}");
}

#[test]
fn mpsc_producers_killed_at_random_do_not_wedge_the_ring() {
    for style in [
        Style::Single,
        Style::Batch,
        Style::ZeroCopy,
        Style::SlowZeroCopy,
    ] {
        storm(Mode::Mpsc, 0, style, 2);
    }
}

#[test]
fn mpsc_with_overflow_producers_killed_at_random_do_not_wedge_the_ring() {
    for style in [Style::Batch, Style::ZeroCopy, Style::SlowZeroCopy] {
        storm(Mode::Mpsc, 64, style, 2);
    }
}

#[test]
fn spsc_with_overflow_producer_killed_at_random_does_not_wedge_the_ring() {
    storm(Mode::Spsc, 64, Style::ZeroCopy, 1);
    storm(Mode::Spsc, 64, Style::SlowZeroCopy, 1);
}
