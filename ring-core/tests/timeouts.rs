//! Any `Duration` is a valid timeout: one too large for a deadline means "no deadline", never a
//! panic (`Instant + Duration` overflow).

use ring_core::{Config, Mode, Ring, WaitOutcome};
use std::time::Duration;

/// Timeouts whose deadline cannot be represented, or only just.
const HUGE: [Duration; 4] = [
    Duration::MAX,
    Duration::from_secs(u64::MAX),
    Duration::from_secs(u64::MAX / 2),
    Duration::from_secs(1 << 40),
];

#[test]
fn huge_timeouts_return_at_once_when_entries_are_ready() {
    for mode in [Mode::Spsc, Mode::Mpsc] {
        for t in HUGE {
            let ring = Ring::<u64>::create_heap(Config::new(8).mode(mode).overflow(8)).unwrap();
            let (mut tx, mut rx) = ring.split().unwrap();
            tx.push_all(&[1, 2, 3]).unwrap();
            // `Ready` carries the count seen, at least `min` (modes may stop counting at `min`).
            let r = rx.wait(2, Some(t)).unwrap();
            assert!(
                matches!(r, WaitOutcome::Ready(n) if n >= 2),
                "{mode:?} {t:?}: {r:?}"
            );
            let pos = rx.position();
            let r = rx.wait_beyond(pos, 3, Some(t)).unwrap();
            assert!(
                matches!(r, WaitOutcome::Ready(n) if n >= 3),
                "{mode:?} {t:?}: {r:?}"
            );
            let mut out = [0u64; 8];
            assert_eq!(rx.reap(&mut out, 3, Some(t)).unwrap(), 3, "{mode:?} {t:?}");
            assert_eq!(&out[..3], &[1, 2, 3]);
            tx.push_wait(4, Some(t)).unwrap();
            assert_eq!(rx.pop(), Ok(4));
        }
    }
}

#[test]
fn huge_timeouts_wait_for_the_entry_that_comes() {
    for t in HUGE {
        let ring = Ring::<u64>::create_heap(Config::new(2)).unwrap();
        let (mut tx, mut rx) = ring.split().unwrap();
        // A full ring: push_wait waits for the consumer, which frees a slot later.
        tx.push_all(&[1, 2]).unwrap();
        let consumer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let mut out = [0u64; 2];
            // Then reap waits (with the huge timeout) for the third entry.
            let first = rx.reap(&mut out, 1, Some(t)).unwrap();
            assert!(first >= 1);
            let mut got = out[..first].to_vec();
            while got.len() < 3 {
                let n = rx.reap(&mut out, 1, Some(t)).unwrap();
                got.extend_from_slice(&out[..n]);
            }
            got
        });
        tx.push_wait(3, Some(t)).unwrap();
        assert_eq!(consumer.join().unwrap(), [1, 2, 3], "{t:?}");
    }
}
