//! An MPSC record producer's head cache that is 2^32 bytes old (spec/VERIFICATION.md, section
//! 9: found by the spin model of the record ring, configuration `rec-stale-head-cache`).
//!
//! MR1 trusts the cached `head` whenever `t - head_cache <= capacity` (u32 arithmetic). A
//! producer that made its cache and then stayed idle while the others reserved (and the
//! consumer consumed) 2^32 - 16 MiB bytes sees `t - head_cache` small again although the real
//! distance is 2^32 larger: it reserves in a full ring and overwrites the oldest unconsumed
//! record. This test drives exactly that with 16 MiB records (4 GiB of discarded records pass
//! through a 32 MiB area: about a second) and expects what the spec promises: `Full` for the
//! idle producer, and the consumer delivering the record that was there.
//!
//! It failed before MR1 got the head cache's age limit (the reservation succeeded and the
//! consumer then waited at a header that names another lap).

use ring_core::record::{ReadError, RecordConfig, RecordRing};
use ring_core::Mode;

#[test]
fn an_idle_producer_with_a_head_cache_from_the_previous_wrap_sees_a_full_ring() {
    const CAP: u32 = 1 << 25;
    const SIZE: u32 = CAP / 2; // the largest record: header + payload
    let len = (SIZE - 8) as usize;
    let ring = RecordRing::create_heap(RecordConfig::new(CAP).mode(Mode::Mpsc)).unwrap();
    let mut idle = ring.producer().unwrap(); // its head cache: 0
    let mut busy = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();

    // 255 records of 16 MiB, discarded and consumed: both positions reach 2^32 - 16 MiB.
    for _ in 0..255 {
        busy.reserve(len).unwrap().discard();
        assert_eq!(rx.read().err(), Some(ReadError::Empty));
    }
    let c = ring.counters();
    assert_eq!(
        (c.tail, c.head),
        (0u32.wrapping_sub(SIZE), 0u32.wrapping_sub(SIZE))
    );

    // Two committed records fill the area; `tail` wraps to 16 MiB.
    for _ in 0..2 {
        busy.reserve(len).unwrap().commit();
    }
    let c = ring.counters();
    assert_eq!(c.tail.wrapping_sub(c.head), CAP, "the area is full");
    assert_eq!(c.tail, SIZE);

    // The idle producer: `t - head_cache` = 16 MiB - 0 looks like half an area in use.
    let r = idle.push(&[7u8; 8]);
    assert!(
        r.is_err(),
        "a producer with a 2^32-byte-old head cache reserved in a full ring (tail now {:#x}, \
         head {:#x})",
        ring.counters().tail,
        ring.counters().head
    );
    // The oldest record is still there.
    let rec = rx.read().expect("the first committed record");
    assert_eq!(rec.len(), len);
}
