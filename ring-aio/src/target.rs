//! [`Target`]: a ring that completions go to.

use ring_core::{ClaimError, Completion, Memory, Producer, Ring};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type MakeProducer = dyn Fn() -> Result<Producer<Completion>, ClaimError> + Send + Sync;

pub(crate) struct TargetInner {
    pub(crate) id: u64,
    /// Makes a producer of its own for a worker (multi-producer rings only).
    pub(crate) make: Option<Box<MakeProducer>>,
    /// The producer made when the target was created: used by workers that could not get one
    /// of their own (single-producer rings, or every producer record taken).
    pub(crate) shared: Mutex<Producer<Completion>>,
    pub(crate) capacity: u32,
}

/// A ring of [`Completion`]s that submissions name as the place their completion goes.
///
/// Made from any ring-core ring of `Completion`s, in this process's memory or shared with
/// another process. In multi-producer modes (MPSC, MPMC) every pool worker posts through a
/// producer of its own (each holds one of the ring's producer records while the worker lives;
/// when none is left a worker shares the target's own producer under a lock); in
/// single-producer modes the target holds the ring's producer claim and workers share it.
///
/// Cloning is cheap (a reference count).
///
/// # Examples
///
/// ```
/// use ring_aio::Target;
/// use ring_core::{Completion, Config, Mode, Ring};
///
/// let ring = Ring::<Completion>::create_heap(Config::new(64).mode(Mode::Mpsc)).unwrap();
/// let target = Target::new(&ring).unwrap();
/// assert_eq!(target.capacity(), 64);
/// ```
#[derive(Clone)]
pub struct Target {
    pub(crate) inner: Arc<TargetInner>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("id", &self.inner.id)
            .field("capacity", &self.inner.capacity)
            .field("per_worker_producers", &self.inner.make.is_some())
            .finish()
    }
}

static NEXT_TARGET: AtomicU64 = AtomicU64::new(1);

impl Target {
    /// A target posting into `ring`.
    ///
    /// # Errors
    ///
    /// The [`ClaimError`] of making the first producer: in single-producer modes
    /// [`ClaimError::Busy`] when another producer holds the claim; in multi-producer modes
    /// [`ClaimError::NoProducerRecord`] when every record is taken.
    pub fn new<M: Memory>(ring: &Ring<Completion, M>) -> Result<Self, ClaimError> {
        let shared = ring.producer()?;
        let make: Option<Box<MakeProducer>> = if ring.mode().multi_producer() {
            let ring = ring.clone();
            Some(Box::new(move || ring.producer()))
        } else {
            None
        };
        Ok(Target {
            inner: Arc::new(TargetInner {
                id: NEXT_TARGET.fetch_add(1, Ordering::Relaxed),
                make,
                shared: Mutex::new(shared),
                capacity: ring.capacity(),
            }),
        })
    }

    /// The ring's capacity.
    pub fn capacity(&self) -> u32 {
        self.inner.capacity
    }
}
