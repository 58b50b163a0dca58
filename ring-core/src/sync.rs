//! The synchronisation facade.
//!
//! Protocol code names its atomics and its payload cell through this module only. A normal build
//! maps them to `core`'s atomics and a transparent `UnsafeCell`, so the shared structures can be
//! cast out of mapped bytes with a pinned layout. A model build (`RUSTFLAGS="--cfg ring_core_loom"`) maps
//! them to loom's, so the very same protocol code runs under the model checker on structures the
//! test allocates on the heap.

#[cfg(not(ring_core_loom))]
pub use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(ring_core_loom)]
pub use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// A cell holding an entry payload.
///
/// Under the model this is loom's `UnsafeCell`, which lets loom see a data race on a payload;
/// otherwise a transparent wrapper over `core::cell::UnsafeCell` with the same closure API.
#[cfg(not(ring_core_loom))]
#[repr(transparent)]
#[derive(Debug)]
pub struct PayloadCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(ring_core_loom))]
impl<T> PayloadCell<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a mutable pointer to the contents.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// A cell holding an entry payload (model build: loom's `UnsafeCell`).
#[cfg(ring_core_loom)]
#[derive(Debug)]
pub struct PayloadCell<T>(loom::cell::UnsafeCell<T>);

#[cfg(ring_core_loom)]
impl<T> PayloadCell<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(loom::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.0.with(f)
    }

    /// Runs `f` with a mutable pointer to the contents.
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.0.with_mut(f)
    }
}

/// One step of a bounded wait: a CPU relax hint, or a model-visible yield under loom (a spinning
/// thread that never yields would make loom explore forever).
#[inline(always)]
pub fn spin_hint() {
    #[cfg(ring_core_loom)]
    loom::thread::yield_now();
    #[cfg(not(ring_core_loom))]
    core::hint::spin_loop();
}
