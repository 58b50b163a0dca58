//! What a ring's handles share and keep alive: the memory the ring lives in, and this
//! process's per-ring state (its eventfd), dropped with the last `Ring` value or handle.

use crate::sync::Ordering::Relaxed;
use core::sync::atomic::AtomicI32;

/// What handles keep alive: the memory a ring lives in (and this process's per-ring state).
pub(crate) trait Keep: Send + Sync {}

/// A ring's memory and this process's eventfd for it, shared by the `Ring` values and the
/// handles made from them, and dropped with the last of them.
pub(crate) struct Shared<M> {
    pub(crate) mem: M,
    /// This process's eventfd for the ring, or -1 (owned: closed on drop).
    pub(crate) eventfd: AtomicI32,
}

impl<M: Send + Sync> Keep for Shared<M> {}

impl<M> Drop for Shared<M> {
    fn drop(&mut self) {
        let fd = self.eventfd.swap(-1, Relaxed);
        #[cfg(all(feature = "std", not(ring_core_loom)))]
        if fd >= 0 {
            // SAFETY: this value owns the descriptor (set by `create_eventfd` / `set_eventfd`)
            // and no handle that could write to it is left: each holds a reference to `self`.
            unsafe { libc::close(fd) };
        }
        #[cfg(not(all(feature = "std", not(ring_core_loom))))]
        let _ = fd;
    }
}
