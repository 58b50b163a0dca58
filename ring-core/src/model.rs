//! Model-checking support (only with `--cfg ring_core_loom`): a ring whose shared structures
//! are allocated on the heap, so that the `loom-tests` crate can run the shipped handles under
//! loom, whose atomics do not have the layout of the mapped ones.

use crate::consumer::Consumer;
use crate::entry::Entry;
use crate::error::ClaimError;
use crate::layout::{
    initial_lap_tag, ConsumerLine, OverflowLine, PackedSlot, ProducerLine, ProducerRecord,
    RegistryLine, Slot, WaitLine,
};

/// Producer records of a multi-producer model ring.
const MODEL_PRODUCER_SLOTS: usize = 4;
use crate::producer::Producer;
use crate::protocol::{Mode, RawRing};
use crate::shared::Keep;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::AtomicI32;

/// The heap structures (one allocation, kept alive by every handle).
struct Parts<T> {
    prod: ProducerLine,
    cons: ConsumerLine,
    slots: Vec<Slot<T>>,
    /// The same ring's slots packed (1.4), used when the ring packs: SPSC, no overflow area,
    /// and `packed` (as `Config::packs`).
    packed_slots: Vec<PackedSlot<T>>,
    packed: bool,
    mode: Mode,
    overflow: Option<(OverflowLine, Vec<Slot<T>>)>,
    wait: Option<WaitLine>,
    /// Producer records (multi-producer modes, as layout 1.2 creates them).
    registry: Option<(RegistryLine, Vec<ProducerRecord>)>,
    eventfd: AtomicI32,
}

// SAFETY: as for `Ring`: the structures are atomics and protocol-arbitrated payload cells.
unsafe impl<T: Send> Send for Parts<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Parts<T> {}

impl<T: Send> Keep for Parts<T> {}

/// A ring's shared structures on the heap, initialised as `format` initialises a region.
pub struct HeapRing<T> {
    parts: Arc<Parts<T>>,
}

impl<T: Entry> HeapRing<T> {
    /// An empty ring of `capacity` slots whose indices start at `initial_index`.
    pub fn new(capacity: u32, mode: Mode, initial_index: u32) -> Self {
        Self::build(capacity, mode, initial_index, 0, false)
    }

    /// An empty ring, optionally with an overflow area of `overflow` slots (0: none; zeroed:
    /// biased tags, indices at 0) and the wait block.
    pub fn build(capacity: u32, mode: Mode, initial_index: u32, overflow: u32, wait: bool) -> Self {
        let slots = (0..capacity)
            .map(|i| Slot::new(initial_lap_tag(i, initial_index, capacity)))
            .collect();
        HeapRing {
            parts: Arc::new(Parts {
                prod: ProducerLine::new(initial_index),
                cons: ConsumerLine::new(initial_index),
                slots,
                packed_slots: (0..capacity).map(|_| PackedSlot::new()).collect(),
                packed: true,
                mode,
                overflow: (overflow != 0).then(|| {
                    let slots = (0..overflow).map(|_| Slot::new(0)).collect();
                    (OverflowLine::new(), slots)
                }),
                wait: wait.then(WaitLine::new),
                registry: mode.multi_producer().then(|| {
                    let records = (0..MODEL_PRODUCER_SLOTS)
                        .map(|_| ProducerRecord::new())
                        .collect();
                    (RegistryLine::new(), records)
                }),
                eventfd: AtomicI32::new(-1),
            }),
        }
    }

    /// Adds an overflow area of `capacity` slots (zeroed: biased tags, indices at 0).
    pub fn with_overflow(mut self, capacity: u32) -> Self {
        let parts = Arc::get_mut(&mut self.parts).expect("no handles yet");
        let slots = (0..capacity).map(|_| Slot::new(0)).collect();
        parts.overflow = Some((OverflowLine::new(), slots));
        self
    }

    /// Gives an SPSC ring without an overflow area slots with lap tags instead of packed ones
    /// (as `Config::packed(false)`): its handles then take the general flavor.
    pub fn unpacked(mut self) -> Self {
        let parts = Arc::get_mut(&mut self.parts).expect("no handles yet");
        parts.packed = false;
        self
    }

    /// Adds the wait block.
    pub fn with_wait(mut self) -> Self {
        let parts = Arc::get_mut(&mut self.parts).expect("no handles yet");
        parts.wait = Some(WaitLine::new());
        self
    }

    /// Whether the overflow area is active.
    pub fn overflow_active(&self) -> bool {
        self.raw().overflow_active()
    }

    fn raw(&self) -> RawRing<'static, T> {
        // SAFETY: the structures live in the `Arc` allocation, which never moves; every holder
        // of the returned view (a handle) also holds a clone of the `Arc`.
        let p: &'static Parts<T> = unsafe { &*Arc::as_ptr(&self.parts) };
        let packs = p.packed && p.mode == Mode::Spsc && p.overflow.is_none();
        let mut raw = if packs {
            RawRing::from_packed_parts(&p.prod, &p.cons, &p.packed_slots)
        } else {
            RawRing::from_parts(&p.prod, &p.cons, &p.slots, p.mode)
        }
        .expect("valid capacity");
        if let Some((line, slots)) = &p.overflow {
            raw = raw
                .with_overflow(line, slots)
                .expect("valid overflow capacity");
        }
        if let Some(w) = &p.wait {
            raw = raw.with_wait(w, true);
        }
        raw = raw.with_stream();
        if let Some((line, records)) = &p.registry {
            raw = raw.with_registry(line, records);
        }
        raw
    }

    fn keep(&self) -> (Arc<dyn Keep>, &'static AtomicI32) {
        // SAFETY: as in `raw`.
        let eventfd = unsafe { &(*Arc::as_ptr(&self.parts)).eventfd };
        (self.parts.clone(), eventfd)
    }

    /// A producer handle.
    pub fn producer(&self) -> Result<Producer<T>, ClaimError> {
        let (keep, eventfd) = self.keep();
        // SAFETY: `raw()` and `eventfd` point into `self.parts`, which `keep` keeps alive.
        unsafe { Producer::new(self.raw(), keep, eventfd) }
    }

    /// A consumer handle.
    pub fn consumer(&self) -> Result<Consumer<T>, ClaimError> {
        let (keep, eventfd) = self.keep();
        // SAFETY: as in `producer`.
        unsafe { Consumer::new(self.raw(), keep, eventfd) }
    }

    /// Recovery (as [`crate::Ring::recover`]). Under the model every process counts as alive,
    /// so it must never publish anything: a position it published would be a live producer's.
    pub fn recover(&self) -> Result<crate::Recovered, crate::RecoverError> {
        crate::protocol::registry::recover(&self.raw())
    }

    /// Forces a wake-up of every sleeper (as [`crate::Ring::wake_all`]).
    pub fn wake_all(&self) {
        if let Some(w) = self.parts.wait.as_ref() {
            crate::protocol::wait::wake(w, &self.parts.eventfd, u32::MAX);
        }
    }

    /// The wait line, if the ring has one.
    pub fn wait_line(&self) -> Option<&WaitLine> {
        self.parts.wait.as_ref()
    }

    /// The overflow line, if the ring has one.
    pub fn overflow_line(&self) -> Option<&OverflowLine> {
        self.parts.overflow.as_ref().map(|(l, _)| l)
    }
}
