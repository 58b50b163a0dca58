//! A single producer that dies between reserving overflow positions and publishing them (O2 and
//! O3) does not block the overflow area for good: its successor publishes them as discarded
//! (PROTOCOL.md, section 17). Here the "death" is a reservation that is never committed nor
//! dropped (`mem::forget`), followed by the producer handle's drop, which is what a SIGKILL
//! leaves behind as far as the shared memory is concerned (ring-core/tests/processes.rs kills
//! real processes).

use ring_core::{Config, Mode, PopError, Ring};

#[test]
fn successor_discards_overflow_reservations_of_a_dead_single_producer() {
    for mode in [Mode::Spsc, Mode::Spmc] {
        for init in [0, u32::MAX - 2] {
            let ctx = format!("{mode:?} init {init:#x}");
            let ring =
                Ring::<u64>::create_heap(Config::new(4).mode(mode).overflow(8).initial_index(init))
                    .unwrap();
            let mut rx = ring.consumer().unwrap();
            let mut tx = ring.producer().unwrap();
            tx.push_all(&[1, 2, 3, 4]).unwrap(); // the ring is full
            tx.push(5).unwrap(); // spills: the overflow area is active
            let mut chunk = tx.reserve(3).unwrap(); // overflow positions, never published
            assert_eq!(chunk.fill_from([90, 91, 92]), 3);
            std::mem::forget(chunk);
            tx.release(); // a killed producer closes nothing

            // The consumer takes what was published and then stops at the orphans.
            let mut got = Vec::new();
            while let Ok(v) = rx.pop() {
                got.push(v);
            }
            assert_eq!(got, [1, 2, 3, 4, 5], "{ctx}");
            assert_eq!(
                rx.pop(),
                Err(PopError::Empty),
                "{ctx}: blocked by the orphans"
            );

            // The successor publishes them as discarded; the stream goes on behind them.
            let mut tx = ring.producer().unwrap();
            assert_eq!(ring.counters().discarded, 3, "{ctx}");
            tx.push(6).unwrap();
            tx.push(7).unwrap();
            let mut rest = Vec::new();
            while let Ok(v) = rx.pop() {
                rest.push(v);
            }
            assert_eq!(rest, [6, 7], "{ctx}");
            // Drained: the area deactivates and the ring is used again.
            tx.push(8).unwrap();
            assert_eq!(rx.pop(), Ok(8), "{ctx}");
            assert!(!ring.counters().overflow_active, "{ctx}");
            // A later successor finds nothing to discard.
            tx.release();
            let _tx = ring.producer().unwrap();
            assert_eq!(ring.counters().discarded, 3, "{ctx}");
        }
    }
}
