//! Model-checking support for record rings (only with `--cfg ring_core_loom`): the shared
//! structures on the heap, the data area as model words, driven by the shipped handles.

use super::layout::{RecordProducerLine, Word};
use super::{HandleError, RawRecords, RecordConsumer, RecordCounters, RecordProducer};
use crate::layout::{ConsumerLine, OverflowLine, ProducerRecord, RegistryLine, WaitLine};
use crate::protocol::Mode;
use crate::shared::Keep;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::AtomicI32;

struct Parts {
    prod: RecordProducerLine,
    cons: ConsumerLine,
    words: Vec<Word>,
    wait: Option<WaitLine>,
    mode: Mode,
    registry: Option<(RegistryLine, Vec<ProducerRecord>)>,
    overflow: Option<(OverflowLine, Vec<Word>)>,
    eventfd: AtomicI32,
}

// SAFETY: as for `RecordRing`: atomics, and payload cells the protocol hands to one
// participant at a time (which loom checks).
unsafe impl Send for Parts {}
// SAFETY: as above.
unsafe impl Sync for Parts {}

impl Keep for Parts {}

/// A record ring's shared structures on the heap, formatted (data area zero).
pub struct HeapRecordRing {
    parts: Arc<Parts>,
}

impl HeapRecordRing {
    /// An empty record ring with a data area of `capacity` bytes (a power of two >= 32) whose
    /// positions start at `initial` (a multiple of 8).
    pub fn new(capacity: u32, mode: Mode, initial: u32, wait: bool) -> Self {
        Self::with_overflow(capacity, 0, mode, initial, wait)
    }

    /// As [`HeapRecordRing::new`], with an overflow area of `overflow` bytes (0: none; else a
    /// power of two >= 32), and then producer records in either mode.
    pub fn with_overflow(
        capacity: u32,
        overflow: u32,
        mode: Mode,
        initial: u32,
        wait: bool,
    ) -> Self {
        assert!(capacity.is_power_of_two() && capacity >= 32 && initial % 8 == 0);
        assert!(overflow == 0 || (overflow.is_power_of_two() && overflow >= 32));
        HeapRecordRing {
            parts: Arc::new(Parts {
                prod: RecordProducerLine::new(initial),
                cons: ConsumerLine::new(initial),
                words: (0..capacity / 8).map(|_| Word::new()).collect(),
                wait: wait.then(WaitLine::new),
                mode,
                overflow: (overflow != 0).then(|| {
                    (
                        OverflowLine::new(),
                        (0..overflow / 8).map(|_| Word::new()).collect(),
                    )
                }),
                registry: (mode == Mode::Mpsc || overflow != 0).then(|| {
                    (
                        RegistryLine::new(),
                        (0..4).map(|_| ProducerRecord::new()).collect(),
                    )
                }),
                eventfd: AtomicI32::new(-1),
            }),
        }
    }

    fn raw(&self) -> RawRecords<'static> {
        // SAFETY: the structures live in the `Arc` allocation, which never moves; every handle
        // holding the view also holds a clone of the `Arc`.
        let p: &'static Parts = unsafe { &*Arc::as_ptr(&self.parts) };
        RawRecords {
            area: super::layout::Area::new(&p.words),
            prod: &p.prod,
            cons: &p.cons,
            wait: p.wait.as_ref(),
            mode: p.mode,
            registry: p
                .registry
                .as_ref()
                .map(|(line, records)| crate::protocol::registry::Registry { line, records }),
            overflow: p
                .overflow
                .as_ref()
                .map(|(line, words)| super::overflow::OverflowArea {
                    line,
                    area: super::layout::Area::new(words),
                }),
            release_end: true,
        }
    }

    /// A producer handle.
    pub fn producer(&self) -> Result<RecordProducer, HandleError> {
        // SAFETY: as in `raw`.
        let eventfd = unsafe { &(*Arc::as_ptr(&self.parts)).eventfd };
        RecordProducer::new(self.raw(), self.parts.clone(), eventfd)
    }

    /// The consumer handle.
    pub fn consumer(&self) -> Result<RecordConsumer, HandleError> {
        // SAFETY: as in `raw`.
        let eventfd = unsafe { &(*Arc::as_ptr(&self.parts)).eventfd };
        RecordConsumer::new(self.raw(), self.parts.clone(), eventfd)
    }

    /// Recovery (under the model every owner counts as alive, so it must never commit
    /// anything).
    pub fn recover(&self) -> Result<crate::Recovered, crate::RecoverError> {
        super::recovery::recover(&self.raw())
    }

    /// Positions and counters.
    pub fn counters(&self) -> RecordCounters {
        super::counters(&self.raw())
    }
}
