//! Loom models of every mode's protocol, driving the shipped `Producer` / `Consumer` handles at
//! capacity 2 with the indices starting just below `u32::MAX`, so every execution crosses the
//! wrap.
//!
//! Shape: every thread polls in a loop with `yield_now`, but for a bounded number of attempts.
//! A participant that is preempted between reserving a position and publishing it blocks the
//! consumers behind that position (a documented property of the protocol), and loom explores
//! unfair schedules in which the spinning threads starve it for ever; unbounded polling would
//! turn those schedules into "exceeded maximum branches" failures that say nothing about
//! safety. So a producer hands a value back after a few failed attempts (it is then not
//! pushed), and after all threads are joined the main thread drains the ring. Each test then
//! checks, for every execution: the entries delivered are exactly those pushed (nothing lost,
//! nothing duplicated, nothing that was never pushed), each producer's entries arrive in the
//! order pushed (per consumer, with several consumers), and loom's payload cells report any
//! read of an unpublished entry or overwrite of an unconsumed one as a data race.
#![cfg(ring_core_loom)]

use loom::sync::Arc;
use loom::thread;
use loom_tests::HeapRing;
use ring_core::Mode;

use loom_tests::{
    check, consume, discard_one, drain, flavor, produce, tag, values, ATTEMPTS, START,
};

/// Each handle picks its flavor when it is made; the models in this crate rely on which one
/// (an SPSC ring without an overflow area runs `SpscTx`/`SpscRx`, an MPSC ring without one
/// `MpTx`/`ScRx`, an MPMC ring without one `MpTx` and the general consumer, everything else
/// the general flavor). One execution, no threads: this only pins the mapping.
#[test]
fn flavors_as_the_models_assume() {
    loom::model(|| {
        let cases = [
            (Mode::Spsc, false, "Spsc", "Spsc"),
            (Mode::Mpsc, false, "Mp", "Sc"),
            (Mode::Spmc, false, "General", "General"),
            (Mode::Mpmc, false, "Mp", "General"),
            (Mode::Spsc, true, "General", "General"),
            (Mode::Mpsc, true, "General", "General"),
            (Mode::Spmc, true, "General", "General"),
            (Mode::Mpmc, true, "General", "General"),
        ];
        for (mode, overflow, tx, rx) in cases {
            for wait in [false, true] {
                let ring =
                    HeapRing::<u64>::build(2, mode, START, if overflow { 2 } else { 0 }, wait);
                let (p, c) = (ring.producer().unwrap(), ring.consumer().unwrap());
                let what = format!("{mode:?}, overflow {overflow}, wait {wait}");
                assert_eq!(flavor(&p), tx, "producer of {what}");
                assert_eq!(flavor(&c), rx, "consumer of {what}");
            }
        }
        // An SPSC ring whose slots carry lap tags (`Config::packed(false)`, or a ring made
        // before layout 1.4) takes the general flavor: the SPSC flavors run over packed slots.
        let ring = HeapRing::<u64>::new(2, Mode::Spsc, START).unpacked();
        let (p, c) = (ring.producer().unwrap(), ring.consumer().unwrap());
        assert_eq!(flavor(&p), "General");
        assert_eq!(flavor(&c), "General");
    });
}

/// `SpscProducer` (the dispatch-free producer of packed SPSC rings): single pushes and a
/// batch, across the wrap, against the shipped SPSC consumer.
#[test]
fn spsc_producer_wrap() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spsc, START));
        let r = ring.clone();
        let t = thread::spawn(move || {
            let mut tx = r.producer().unwrap().into_spsc().unwrap();
            let vals = values(0, 4);
            let mut sent = 0;
            // One at a time, then the rest as one `push_some`.
            for _ in 0..ATTEMPTS {
                match tx.push(vals[sent]) {
                    Ok(()) => sent += 1,
                    Err(ring_core::PushError::Full(_)) => {}
                    Err(e) => panic!("unexpected {e:?}"),
                }
                if sent == 2 {
                    break;
                }
                thread::yield_now();
            }
            if sent == 2 {
                for _ in 0..ATTEMPTS {
                    sent += tx.push_some(&vals[sent..]).unwrap();
                    if sent == vals.len() {
                        break;
                    }
                    thread::yield_now();
                }
            }
            vals[..sent].to_vec()
        });
        let mut got = consume(&ring, 4);
        let pushed = t.join().unwrap();
        got.extend(drain(&ring));
        check(&[pushed], &[got]);
    });
}

/// `SpscProducer` and `SpscConsumer` together: pushes, then a close, against `pop` and
/// `pop_into`, across the wrap; the consumer sees every entry, in order, before the end.
#[test]
fn spsc_dispatch_free_handles_wrap_and_close() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spsc, START));
        let r = ring.clone();
        let t = thread::spawn(move || {
            let mut tx = r.producer().unwrap().into_spsc().unwrap();
            let vals = values(0, 3);
            let mut sent = 0;
            for _ in 0..ATTEMPTS * 2 {
                match tx.push(vals[sent]) {
                    Ok(()) => sent += 1,
                    Err(ring_core::PushError::Full(_)) => thread::yield_now(),
                    Err(e) => panic!("unexpected {e:?}"),
                }
                if sent == vals.len() {
                    break;
                }
            }
            tx.close();
            vals[..sent].to_vec()
        });
        let mut rx = ring.consumer().unwrap().into_spsc().unwrap();
        let mut got = Vec::new();
        let mut closed = false;
        for i in 0..ATTEMPTS * 2 {
            let r = if i % 2 == 0 {
                rx.pop().map(|v| got.push(v))
            } else {
                let mut buf = [0u64; 2];
                rx.pop_into(&mut buf)
                    .map(|n| got.extend_from_slice(&buf[..n]))
            };
            match r {
                Ok(()) => {}
                Err(ring_core::PopError::Empty) => thread::yield_now(),
                Err(ring_core::PopError::Closed) => {
                    closed = true;
                    break;
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        let pushed = t.join().unwrap();
        if closed {
            // The end came after every entry: nothing is left.
            assert_eq!(got, pushed, "the end was reported before every entry");
        }
        drop(rx);
        got.extend(drain_to_end(&ring));
        check(&[pushed], &[got]);
    });
}

/// The dispatch-free handles' zero-copy paths: `SpscProducer::reserve` chunks (some dropped
/// without a commit, some committed in part) against `SpscConsumer::view`, across the wrap, then
/// the end of the stream.
#[test]
fn spsc_chunks_and_views_wrap_and_close() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spsc, START));
        let r = ring.clone();
        let t = thread::spawn(move || {
            let mut tx = r.producer().unwrap().into_spsc().unwrap();
            let vals = values(0, 3);
            let mut sent = 0;
            for attempt in 0..ATTEMPTS * 2 {
                // Two at a time: the last chunk has more room than values (a partial fill).
                match tx.reserve(2) {
                    Ok(mut chunk) => {
                        let n = chunk.fill_from(vals[sent..].iter().copied());
                        if attempt == 0 {
                            // Left without a commit (it goes out of scope here): the positions
                            // are taken back.
                            continue;
                        }
                        // The first attempt that writes two publishes only one of them.
                        sent += if n == 2 && sent == 0 {
                            chunk.commit_first(1)
                        } else {
                            chunk.commit()
                        };
                    }
                    Err(ring_core::PushAllError::Full { .. }) => thread::yield_now(),
                    Err(e) => panic!("unexpected {e:?}"),
                }
                if sent == vals.len() {
                    break;
                }
            }
            tx.close();
            // (`min`: a commit that claimed more than was written shows in the check below.)
            vals[..sent.min(vals.len())].to_vec()
        });
        let mut rx = ring.consumer().unwrap().into_spsc().unwrap();
        let mut got = Vec::new();
        let mut closed = false;
        for _ in 0..ATTEMPTS * 2 {
            match rx.view(2) {
                Ok(view) => got.extend(view.iter()),
                Err(ring_core::PopError::Empty) => thread::yield_now(),
                Err(ring_core::PopError::Closed) => {
                    closed = true;
                    break;
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        let pushed = t.join().unwrap();
        if closed {
            assert_eq!(got, pushed, "the end was reported before every entry");
        }
        drop(rx);
        got.extend(drain_to_end(&ring));
        check(&[pushed], &[got]);
    });
}

/// Drains what is left of a closed ring.
fn drain_to_end(ring: &HeapRing<u64>) -> Vec<u64> {
    let mut rx = ring.consumer().unwrap();
    let mut got = Vec::new();
    loop {
        match rx.pop() {
            Ok(v) => got.push(v),
            Err(ring_core::PopError::Closed) => return got,
            Err(e) => panic!("unexpected {e:?} after the close"),
        }
    }
}

/// The general flavor over an SPSC ring with lap tags, across the wrap.
#[test]
fn spsc_unpacked_single_wrap() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spsc, START).unpacked());
        let r = ring.clone();
        let t = thread::spawn(move || produce(&r, &values(0, 3)));
        let mut got = consume(&ring, 4);
        let pushed = t.join().unwrap();
        got.extend(drain(&ring));
        check(&[pushed], &[got]);
    });
}

#[test]
fn spsc_single_wrap() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spsc, START));
        let r = ring.clone();
        let t = thread::spawn(move || produce(&r, &values(0, 3)));
        let mut got = consume(&ring, 4);
        let pushed = t.join().unwrap();
        got.extend(drain(&ring));
        check(&[pushed], &[got]);
    });
}

#[test]
fn mpsc_two_producers_wrap() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpsc, START));
        let hs: Vec<_> = (0..2u64)
            .map(|p| {
                let r = ring.clone();
                thread::spawn(move || produce(&r, &values(p, 2)))
            })
            .collect();
        let mut got = consume(&ring, 3);
        let pushed: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        got.extend(drain(&ring));
        check(&pushed, &[got]);
    });
}

/// Handles made while others run (issue 14, item 6: "attach racing a live producer"): the
/// consumer of an MPSC ring is made (its head recovered from the lap tags, PROTOCOL.md section
/// 17), dropped after one entry and made again (takeover, recovering the head a second time)
/// while a producer is between its compare-and-swap and its publication, and a second
/// producer registers (producer record, stream join) in the middle of it. Header validation
/// itself (`format::attach`) reads mapped memory and is not modelled: the header never changes
/// after formatting, and its checks are tested and fuzzed.
#[test]
fn handles_made_while_a_producer_runs() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpsc, START));
        let r = ring.clone();
        let a = thread::spawn(move || produce(&r, &values(0, 2)));
        let r = ring.clone();
        let b = thread::spawn(move || produce(&r, &values(1, 1)));
        let mut got = consume(&ring, 1); // made, one poll, dropped
        got.extend(consume(&ring, 2)); // made again: takeover mid-stream
        let pushed = vec![a.join().unwrap(), b.join().unwrap()];
        got.extend(drain(&ring));
        check(&pushed, &[got]);
    });
}

#[test]
fn spmc_two_consumers_wrap() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spmc, START));
        let r = ring.clone();
        let p = thread::spawn(move || produce(&r, &values(0, 3)));
        let r = ring.clone();
        let c = thread::spawn(move || consume(&r, 2));
        let mine = consume(&ring, 2);
        let pushed = p.join().unwrap();
        let theirs = c.join().unwrap();
        let rest = drain(&ring);
        check(&[pushed], &[mine, theirs, rest]);
    });
}

#[test]
fn mpmc_two_by_two_wrap() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpmc, START));
        let hs: Vec<_> = (0..2u64)
            .map(|p| {
                let r = ring.clone();
                thread::spawn(move || produce(&r, &values(p, 1)))
            })
            .collect();
        let r = ring.clone();
        let c = thread::spawn(move || consume(&r, 2));
        let mine = consume(&ring, 2);
        let pushed: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        let theirs = c.join().unwrap();
        let rest = drain(&ring);
        check(&pushed, &[mine, theirs, rest]);
    });
}

#[test]
fn spsc_batches_wrap() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Spsc, START));
        let r = ring.clone();
        let t = thread::spawn(move || {
            let mut tx = r.producer().unwrap();
            let vals = values(0, 3);
            let mut sent = 0;
            for _ in 0..ATTEMPTS {
                sent += tx.push_some(&vals[sent..]).unwrap();
                if sent == vals.len() {
                    break;
                }
                thread::yield_now();
            }
            vals[..sent].to_vec()
        });
        let mut rx = ring.consumer().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u64; 2];
        for _ in 0..ATTEMPTS {
            let n = rx.pop_into(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            thread::yield_now();
        }
        drop(rx);
        let pushed = t.join().unwrap();
        got.extend(drain(&ring));
        check(&[pushed], &[got]);
    });
}

#[test]
fn mpsc_push_all_and_view() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpsc, START));
        let hs: Vec<_> = (0..2u64)
            .map(|p| {
                let r = ring.clone();
                thread::spawn(move || {
                    let mut tx = r.producer().unwrap();
                    let vals = if p == 0 { values(0, 2) } else { values(1, 1) };
                    for _ in 0..ATTEMPTS {
                        if tx.push_all(&vals).is_ok() {
                            return vals;
                        }
                        thread::yield_now();
                    }
                    Vec::new()
                })
            })
            .collect();
        let mut rx = ring.consumer().unwrap();
        let mut got = Vec::new();
        for _ in 0..ATTEMPTS {
            if let Ok(view) = rx.view(2) {
                got.extend(view.iter());
            }
            thread::yield_now();
        }
        drop(rx);
        let pushed: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        got.extend(drain(&ring));
        check(&pushed, &[got]);
    });
}

#[test]
fn mpmc_reserve_commit_and_discard() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpmc, START));
        let r = ring.clone();
        // Producer 0 abandons one reservation (published as discarded), then commits one entry
        // written in place.
        let a = thread::spawn(move || {
            let mut tx = r.producer().unwrap();
            for _ in 0..ATTEMPTS {
                if let Ok(chunk) = tx.reserve(1) {
                    drop(chunk);
                    break;
                }
                thread::yield_now();
            }
            for _ in 0..ATTEMPTS {
                if let Ok(mut chunk) = tx.reserve(1) {
                    // SAFETY: every participant of this model ring is this test.
                    unsafe { *chunk.get_mut(0) = tag(0, 0) };
                    assert_eq!(chunk.commit(), 1);
                    return vec![tag(0, 0)];
                }
                thread::yield_now();
            }
            Vec::new()
        });
        let r = ring.clone();
        let b = thread::spawn(move || produce(&r, &values(1, 1)));
        let got = consume(&ring, 3);
        let pushed = vec![a.join().unwrap(), b.join().unwrap()];
        let rest = drain(&ring);
        check(&pushed, &[got, rest]);
    });
}

/// The MPSC consumer flavor's single pop over a discarded slot (its out-of-line path), with the
/// MPSC producer flavor's abandoned reservation and single push, across the wrap: producer 0
/// abandons one reservation (published as discarded) and then pushes one entry, producer 1
/// pushes one; the consumer pops (`ScRx::pop`), then the main thread drains with `pop` too.
#[test]
fn mpsc_pop_skips_discarded() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpsc, START));
        let r = ring.clone();
        let a = thread::spawn(move || {
            let mut tx = r.producer().unwrap();
            assert!(discard_one(&mut tx), "an empty ring refused one slot");
            drop(tx);
            produce(&r, &values(0, 1))
        });
        let r = ring.clone();
        let b = thread::spawn(move || produce(&r, &values(1, 1)));
        let mut got = consume(&ring, 3);
        let pushed = vec![a.join().unwrap(), b.join().unwrap()];
        got.extend(drain(&ring));
        check(&pushed, &[got]);
    });
}

/// Recovery racing live producers (layout 1.2 producer records): under the model every process
/// is alive, so recovery must leave every position alone, however the reservation, the intent
/// and the publication interleave with its loads. A position it published as discarded would
/// be a live producer's: its entry lost (or, published twice, duplicated).
#[test]
fn mpsc_recovery_never_touches_live_producers() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpsc, START));
        let r = ring.clone();
        let p = thread::spawn(move || produce(&r, &values(0, 2)));
        let r = ring.clone();
        let rec = thread::spawn(move || {
            for _ in 0..2 {
                let done = r.recover().unwrap();
                assert_eq!(
                    done.positions, 0,
                    "recovery published a live producer's position"
                );
                thread::yield_now();
            }
        });
        let mut got = consume(&ring, 2);
        let pushed = p.join().unwrap();
        rec.join().unwrap();
        got.extend(drain(&ring));
        check(&[pushed], &[got]);
    });
}

/// Recovery racing one publication, the consumer and the producer's release of its record:
/// the model found that the release of a record must store with Release (a recovery that sees
/// the intent gone must see the publications before it; mutant `rust-unregister-relaxed`).
#[test]
fn mpsc_recovery_races_publication_and_release() {
    loom::model(|| {
        let ring = Arc::new(HeapRing::<u64>::new(2, Mode::Mpsc, START));
        let r = ring.clone();
        let p = thread::spawn(move || produce(&r, &values(0, 1)));
        let r = ring.clone();
        let rec = thread::spawn(move || r.recover().unwrap());
        let mut got = consume(&ring, 1);
        let pushed = p.join().unwrap();
        let done = rec.join().unwrap();
        got.extend(drain(&ring));
        assert_eq!(done.positions, 0, "{got:?} {pushed:?}");
        check(&[pushed], &[got]);
    });
}
