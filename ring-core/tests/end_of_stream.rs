//! End of stream (layout 1.3, PROTOCOL.md "End of stream"): producers close, consumers drain
//! what is left and then get a distinct `Closed` outcome from every taking call and wait;
//! sleepers are woken by the close; a closed stream takes no producer; a producer that dies
//! without closing never makes the stream look closed. In one process (all modes, with and
//! without the overflow area) and across processes.

mod common;

use common::{Peer, ShmGuard, Transport, DEADLINE};
use ring_core::{
    ClaimError, Completion, Config, Mode, PopError, Producer, Ring, WaitError, WaitOutcome,
};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const MODES: [Mode; 4] = [Mode::Spsc, Mode::Mpsc, Mode::Spmc, Mode::Mpmc];

fn cfg(mode: Mode, overflow: bool) -> Config {
    let c = Config::new(8).mode(mode).initial_index(u32::MAX - 5);
    if overflow {
        c.overflow(16)
    } else {
        c
    }
}

/// Every taking call and wait of a drained, closed ring says `Closed`.
fn assert_closed(ring: &Ring<u64>, rx: &mut ring_core::Consumer<u64>, what: &str) {
    assert_eq!(rx.pop(), Err(PopError::Closed), "{what}: pop");
    assert_eq!(
        rx.pop_into(&mut [0; 4]),
        Err(PopError::Closed),
        "{what}: pop_into"
    );
    assert!(matches!(rx.view(4), Err(PopError::Closed)), "{what}: view");
    let t = Some(Duration::from_secs(5));
    assert_eq!(
        rx.reap(&mut [0; 4], 1, t),
        Err(WaitError::Closed),
        "{what}: reap"
    );
    assert_eq!(rx.wait(1, t), Ok(WaitOutcome::Closed(0)), "{what}: wait");
    let pos = rx.position();
    assert_eq!(
        rx.wait_beyond(pos, 1, t),
        Ok(WaitOutcome::Closed(0)),
        "{what}: wait_beyond"
    );
    assert!(ring.stream().closed, "{what}");
    assert!(
        matches!(ring.producer(), Err(ClaimError::Closed)),
        "{what}: a closed stream takes no producer"
    );
}

/// Producers push `per` entries each (more than the ring holds: with an overflow area some
/// spill), close, and a consumer in this thread reaps until `Closed`: every entry arrives once.
#[test]
fn consumer_drains_then_sees_closed_in_every_mode() {
    for mode in MODES {
        for overflow in [false, true] {
            let what = format!("{mode:?} overflow={overflow}");
            let ring = Ring::<u64>::create_heap(cfg(mode, overflow)).unwrap();
            let producers = if mode.multi_producer() { 3 } else { 1 };
            let per = 200u64;
            let mut rx = ring.consumer().unwrap();
            rx.set_spin(0);
            let handles: Vec<Producer<u64>> =
                (0..producers).map(|_| ring.producer().unwrap()).collect();
            let threads: Vec<_> = handles
                .into_iter()
                .enumerate()
                .map(|(p, mut tx)| {
                    std::thread::spawn(move || {
                        for i in 0..per {
                            let v = (p as u64) << 32 | i;
                            tx.push_wait(v, Some(DEADLINE)).expect("push_wait");
                        }
                        tx.close();
                    })
                })
                .collect();
            let mut got = Vec::new();
            let mut out = [0u64; 16];
            let end = Instant::now() + DEADLINE;
            loop {
                assert!(Instant::now() < end, "{what}: no end of stream");
                match rx.reap(&mut out, 1, Some(Duration::from_secs(10))) {
                    Ok(n) => got.extend_from_slice(&out[..n]),
                    Err(WaitError::Closed) => break,
                    Err(e) => panic!("{what}: reap: {e}"),
                }
            }
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(got.len() as u64, per * producers as u64, "{what}");
            for p in 0..producers as u64 {
                let mine: Vec<u64> = got.iter().copied().filter(|v| v >> 32 == p).collect();
                let want: Vec<u64> = (0..per).map(|i| p << 32 | i).collect();
                assert_eq!(mine, want, "{what}: producer {p}'s entries once, in order");
            }
            assert_closed(&ring, &mut rx, &what);
        }
    }
}

/// A consumer asleep with no entry coming is woken by the close (a lost wake-up would end the
/// wait by its timeout instead, and the outcome would be `TimedOut`).
#[test]
fn close_wakes_a_sleeper() {
    for mode in MODES {
        let ring = Ring::<u64>::create_heap(cfg(mode, false)).unwrap();
        let mut rx = ring.consumer().unwrap();
        rx.set_spin(0);
        let tx = ring.producer().unwrap();
        let seen = ring.clone();
        let closer = std::thread::spawn(move || {
            // Close only once the consumer went to sleep.
            let sleeps = || {
                let w = seen.lines().wait_line().expect("wait block");
                w.sleeps.load(Ordering::Relaxed)
            };
            let end = Instant::now() + DEADLINE;
            while sleeps() == 0 {
                assert!(Instant::now() < end, "the consumer never slept");
                std::thread::yield_now();
            }
            tx.close();
        });
        let r = rx.wait(1, Some(DEADLINE));
        closer.join().unwrap();
        assert_eq!(r, Ok(WaitOutcome::Closed(0)), "{mode:?}");
    }
}

/// In multi-producer modes the stream closes when one producer closed and the last one left;
/// a producer that only leaves (drop) does not close it.
#[test]
fn several_producers_close_when_the_last_leaves() {
    for mode in [Mode::Mpsc, Mode::Mpmc] {
        let ring = Ring::<u64>::create_heap(cfg(mode, false)).unwrap();
        let (a, mut b) = (ring.producer().unwrap(), ring.producer().unwrap());
        assert_eq!(ring.stream().producers, 2);
        drop(a); // leaves, does not close
        let s = ring.stream();
        assert!(!s.closed && !s.close_requested && s.producers == 1, "{s:?}");
        let c = ring.producer().unwrap(); // the stream is open: producers may join
        c.close(); // asks; b still takes part
        let s = ring.stream();
        assert!(!s.closed && s.close_requested && s.producers == 1, "{s:?}");
        b.push(7).unwrap();
        let mut rx = ring.consumer().unwrap();
        assert_eq!(rx.pop(), Ok(7));
        assert_eq!(
            rx.pop(),
            Err(PopError::Empty),
            "{mode:?}: b still takes part"
        );
        b.push(8).unwrap();
        drop(b); // the last one leaves: closed
        assert!(ring.stream().closed);
        assert_eq!(
            rx.pop(),
            Ok(8),
            "{mode:?}: entries before the close are delivered"
        );
        assert_closed(&ring, &mut rx, &format!("{mode:?}"));
    }
}

/// A single producer given up with `release` (or dropped) leaves the stream open for a
/// successor; only `close` ends it.
#[test]
fn released_single_producer_does_not_close() {
    for mode in [Mode::Spsc, Mode::Spmc] {
        let ring = Ring::<u64>::create_heap(cfg(mode, true)).unwrap();
        let mut tx = ring.producer().unwrap();
        tx.push(1).unwrap();
        tx.release();
        let mut rx = ring.consumer().unwrap();
        assert_eq!(rx.pop(), Ok(1));
        assert_eq!(rx.pop(), Err(PopError::Empty), "{mode:?}");
        let tx = ring.producer().expect("a successor claims the side");
        drop(tx); // dropping does not close either
        assert_eq!(rx.pop(), Err(PopError::Empty), "{mode:?}");
        ring.producer().expect("another successor").close();
        assert_closed(&ring, &mut rx, &format!("{mode:?}"));
    }
}

/// A ring laid out for 1.2 peers keeps no end-of-stream word: closing only drops.
#[test]
fn legacy_rings_never_close() {
    let ring = Ring::<u64>::create_heap(cfg(Mode::Mpsc, false).legacy(true)).unwrap();
    let tx = ring.producer().unwrap();
    tx.close();
    let mut rx = ring.consumer().unwrap();
    assert_eq!(rx.pop(), Err(PopError::Empty));
    assert!(!ring.stream().closed);
    ring.producer().expect("no end of stream in a legacy ring");
}

// ---------------------------------------------------------------------------------------------
// Across processes

const COUNT: u64 = 5_000;

/// Child roles: `produce` pushes `count` entries into the shared ring and then closes its
/// producer (`close=1`) or waits to be killed (`close=0`: it reports `pushed` and sleeps).
#[test]
fn child() {
    let Some((role, params)) = common::child_role() else {
        return;
    };
    match role.as_str() {
        "produce" => {
            let mode = if params.num("mp") == 1 {
                Mode::Mpsc
            } else {
                Mode::Spsc
            };
            let ring = common::child_ring::<Completion>(&params, mode);
            let mut tx = ring.producer().expect("producer");
            common::report("joined", 1);
            let id = params.num("id");
            for i in 0..params.num("count") {
                let e = Completion::new(id << 32 | i, i as i32, 0);
                tx.push_wait(e, Some(DEADLINE)).expect("push_wait");
            }
            if params.num("close") == 1 {
                tx.close();
                common::report("closed", 1);
            } else {
                common::report("pushed", 1);
                let end = Instant::now() + DEADLINE;
                while Instant::now() < end && !common::orphaned(&params) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                panic!("produce close=0: not killed");
            }
        }
        other => panic!("unknown child role {other}"),
    }
    common::report("done", 1);
}

/// Reaps until `Closed`, or until `stop()` says so; returns the cookies.
fn reap_all(
    rx: &mut ring_core::Consumer<Completion>,
    peers: &mut [Peer],
    stop: impl Fn(usize) -> bool,
) -> (Vec<u64>, bool) {
    let mut got = Vec::new();
    let mut out = [Completion::default(); 64];
    let end = Instant::now() + DEADLINE;
    loop {
        if Instant::now() >= end {
            let n = got.len();
            peers[0].fail(format!("reaped {n} entries without an end of stream"));
        }
        for p in peers.iter_mut() {
            p.poll_sometimes();
        }
        match rx.reap(&mut out, 1, Some(Duration::from_millis(200))) {
            Ok(n) => got.extend(out[..n].iter().map(|c| c.user_data)),
            Err(WaitError::Closed) => return (got, true),
            Err(e) => peers[0].fail(format!("reap: {e}")),
        }
        if stop(got.len()) {
            return (got, false);
        }
    }
}

#[test]
fn end_of_stream_across_processes() {
    for mp in [false, true] {
        let mode = if mp { Mode::Mpsc } else { Mode::Spsc };
        let name = common::unique_name("eos");
        let _guard = ShmGuard::new(&name);
        let ring =
            Ring::<Completion>::create_shm(&name, Config::new(64).mode(mode).overflow(64)).unwrap();
        let mut rx = ring.consumer().unwrap();
        let producers = if mp { 2 } else { 1 };
        // Several producers: the stream closes once one closed and the last left, so a
        // producer that closes before the other has joined would close it early. Hold a
        // producer of our own until every child has joined.
        let anchor = mp.then(|| ring.producer().unwrap());
        let mut peers: Vec<Peer> = (0..producers)
            .map(|id| {
                Peer::spawn(
                    "produce",
                    &[
                        ("mp", u64::from(mp).to_string()),
                        ("id", id.to_string()),
                        ("count", COUNT.to_string()),
                        ("close", "1".to_string()),
                    ],
                    &Transport::Shm(&name),
                )
            })
            .collect();
        for p in &mut peers {
            p.expect("joined");
        }
        drop(anchor); // leaves without closing
        let (got, closed) = reap_all(&mut rx, &mut peers, |_| false);
        assert!(closed);
        for p in &mut peers {
            p.finish();
        }
        assert_eq!(got.len() as u64, COUNT * producers, "{mode:?}");
        for id in 0..producers {
            let mine: Vec<u64> = got.iter().copied().filter(|c| c >> 32 == id).collect();
            assert_eq!(mine, (0..COUNT).map(|i| id << 32 | i).collect::<Vec<_>>());
        }
        assert_eq!(rx.pop(), Err(PopError::Closed));
    }
}

/// A producer killed before it closes leaves the stream open: the consumer drains what it
/// pushed and then times out (never `Closed`). With several producers and producer records,
/// recovery makes the dead one leave, so a stream another producer asked to close then closes.
#[test]
fn a_dead_producer_never_closes_the_stream() {
    for mp in [false, true] {
        let mode = if mp { Mode::Mpsc } else { Mode::Spsc };
        let name = common::unique_name("eos-dead");
        let _guard = ShmGuard::new(&name);
        let ring = Ring::<Completion>::create_shm(&name, Config::new(64).mode(mode)).unwrap();
        let mut rx = ring.consumer().unwrap();
        let mut peer = Peer::spawn(
            "produce",
            &[
                ("mp", u64::from(mp).to_string()),
                ("id", "0".to_string()),
                ("count", "50".to_string()),
                ("close", "0".to_string()),
            ],
            &Transport::Shm(&name),
        );
        let (got, closed) = reap_all(&mut rx, std::slice::from_mut(&mut peer), |n| n == 50);
        assert!(!closed && got.len() == 50, "{mode:?}");
        peer.expect("pushed");
        peer.child.kill().unwrap();
        peer.status = Some(peer.child.wait().unwrap());
        let mut out = [Completion::default(); 4];
        assert_eq!(
            rx.reap(&mut out, 1, Some(Duration::from_millis(300))),
            Ok(0),
            "{mode:?}: a dead producer's stream stays open"
        );
        assert!(!ring.stream().closed);
        if mp {
            assert_eq!(ring.stream().producers, 1, "the dead one still counts");
            ring.producer().unwrap().close(); // asks; the dead one has not left
            assert!(!ring.stream().closed && ring.stream().close_requested);
            let r = ring.recover().unwrap();
            assert_eq!(r.records, 1, "recovery freed the dead producer's record");
            assert!(ring.stream().closed, "the dead producer left at recovery");
            assert_eq!(rx.reap(&mut out, 1, Some(DEADLINE)), Err(WaitError::Closed));
        }
    }
}
