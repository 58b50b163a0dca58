//! An honest producer and consumer over a ring whose bytes the fuzzer rewrites between their
//! operations (a hostile peer): every operation returns a value or a typed error, never a
//! panic, a crash, an out-of-bounds access or an endless loop.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ring_core::{Completion, Config, Mode, Ring};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mode = [Mode::Spsc, Mode::Mpsc, Mode::Spmc, Mode::Mpmc][usize::from(sel & 3)];
    let overflow = if sel & 4 != 0 { 4 } else { 0 };
    let cfg = Config::new(4).mode(mode).overflow(overflow).wait(sel & 8 != 0);
    let Ok(ring) = Ring::<Completion>::create_heap(cfg) else {
        return;
    };
    let base = ring.memory().as_ptr();
    let len = ring.memory().len();
    let (Ok(mut tx), Ok(mut rx)) = (ring.producer(), ring.consumer()) else {
        return;
    };
    // Each step: an operation chosen by one byte, then a write of 4 fuzzer bytes at a
    // fuzzer-chosen 4-aligned offset past the header (the live words: indices, tags, payloads,
    // overflow and wait lines, producer records).
    for step in rest.chunks(7) {
        let [op, o0, o1, b0, b1, b2, b3] = match *step {
            [a, b, c, d, e, f, g] => [a, b, c, d, e, f, g],
            _ => return,
        };
        match op % 6 {
            0 => drop(tx.push(Completion::new(u64::from(op), 0, 0))),
            1 => drop(tx.push_all(&[Completion::default(); 2])),
            2 => drop(rx.pop()),
            3 => drop(rx.pop_into(&mut [Completion::default(); 3])),
            4 => drop(rx.view(2).map(|v| v.iter().count())),
            _ => drop(ring.recover()),
        }
        let off = 256 + usize::from(u16::from_le_bytes([o0, o1])) * 4 % (len - 256 - 4);
        let word = u32::from_le_bytes([b0, b1, b2, b3]);
        // SAFETY: `off + 4 <= len`, 4-aligned, inside the region; every shared word is an
        // atomic, so an atomic store is what a peer in another process would do.
        let w = unsafe { &*(base.add(off & !3) as *const core::sync::atomic::AtomicU32) };
        w.store(word, core::sync::atomic::Ordering::Relaxed);
    }
});
