//! Model checks of ring-core under loom.
//!
//! Build and run with `RUSTFLAGS="--cfg loom" cargo test -p loom-tests --release`. Under that
//! cfg ring-core's `sync` facade swaps in loom's atomics and `UnsafeCell`, and [`HeapRing`]
//! allocates the very structures the protocol code uses on the heap; the tests then drive the
//! shipped [`ring_core::Producer`] / [`ring_core::Consumer`] handles.

#![cfg(loom)]

use ring_core::layout::{initial_lap_tag, ConsumerLine, ProducerLine, Slot};
use ring_core::{Mode, RawRing};

/// A ring's shared structures on the heap, initialised as `format` initialises a region.
pub struct HeapRing<T> {
    prod: ProducerLine,
    cons: ConsumerLine,
    slots: Vec<Slot<T>>,
    mode: Mode,
}

impl<T> HeapRing<T> {
    /// An empty ring of `capacity` slots whose indices start at `initial_index`.
    pub fn new(capacity: u32, mode: Mode, initial_index: u32) -> Self {
        let slots = (0..capacity)
            .map(|i| Slot::new(initial_lap_tag(i, initial_index, capacity)))
            .collect();
        HeapRing {
            prod: ProducerLine::new(initial_index),
            cons: ConsumerLine::new(initial_index),
            slots,
            mode,
        }
    }

    /// The protocol view the handles are built from.
    pub fn raw(&self) -> RawRing<'_, T> {
        RawRing::from_parts(&self.prod, &self.cons, &self.slots, self.mode).expect("valid capacity")
    }
}
