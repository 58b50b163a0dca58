//! Attach to a region whose header bytes the fuzzer chooses: `Ok` or a typed `LayoutError`,
//! never a panic, a crash or an out-of-bounds access. When attach accepts, making handles and
//! one operation each must not misbehave either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ring_core::{Completion, Ring};

fuzz_target!(|data: &[u8]| {
    // A 128-aligned region of 64 KiB; the fuzzer's bytes overwrite its start (the header and
    // the block table, and whatever else it reaches).
    let region = ring_core::Region::heap(1 << 16).expect("heap region");
    let len = data.len().min(1 << 16);
    // SAFETY: the region is 64 KiB of writable memory that nothing else uses yet.
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), region.as_ptr(), len) };
    if let Ok(ring) = Ring::<Completion>::attach(region) {
        if let Ok(mut tx) = ring.producer() {
            let _ = tx.push(Completion::new(1, 2, 3));
        }
        if let Ok(mut rx) = ring.consumer() {
            let _ = rx.pop();
        }
        let _ = ring.counters();
        let _ = ring.recover();
    }
});
