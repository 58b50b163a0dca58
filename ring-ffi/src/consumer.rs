//! Consumers: pop, batch pop, reap with a minimum and a timeout, waiting, in-place views, and
//! the eventfd handshake.

use crate::dynring::{timeout, ConsumerDyn, WaitEnd};
use crate::handles::Table;
use crate::ring::ring_of;
use crate::status::{boundary, cring_status};
use crate::types::*;
use crate::{handle_out, out_ptr, put};
use core::ffi::{c_int, c_void};

pub(crate) static CONSUMERS: Table<Box<dyn ConsumerDyn>> = Table::new("consumer", 3);

/// Opens a consumer of the ring. In single-consumer modes (SPSC, MPSC) this claims the
/// consumer side, in shared memory, so across processes too, until the consumer is closed; a
/// claim left by a process that no longer exists is taken over.
///
/// Ownership: the caller owns `*out` and closes it with `cring_consumer_close()`. The consumer
/// keeps the ring alive: closing the ring handle first is allowed.
///
/// Thread safety: any thread. The consumer serves one call at a time (a concurrent call on the
/// same consumer returns `CRING_STATUS_IN_USE`, also while another thread sleeps in
/// `cring_consumer_reap()`): give each consuming thread its own consumer (several are allowed
/// in SPMC and MPMC modes).
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (`ring`), `CRING_STATUS_NULL_POINTER` (`out`),
/// `CRING_STATUS_BUSY` (another live consumer holds the single-consumer claim),
/// `CRING_STATUS_CORRUPT`, `CRING_STATUS_NO_RESOURCES`. On failure `*out` is `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_consumer`.
#[no_mangle]
pub unsafe extern "C" fn cring_consumer_open(
    ring: cring_ring,
    out: *mut cring_consumer,
) -> cring_status {
    let open = || CONSUMERS.insert(ring_of(ring)?.consumer()?);
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_consumer { id }, open) }
}

/// Closes a consumer: releases an open view (its entries count as consumed) and the
/// single-consumer claim.
///
/// Thread safety: any thread. If a call on the consumer is still running in another thread
/// (for example sleeping in `cring_consumer_reap()`), the consumer is released when that call
/// returns.
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (not open, for example closed already).
#[no_mangle]
pub extern "C" fn cring_consumer_close(consumer: cring_consumer) -> cring_status {
    boundary(|| CONSUMERS.remove(consumer.id))
}

/// Takes one entry (from the ring, or the overflow area when the ring is drained) and copies it
/// to `*entry` (`entry_size` bytes).
///
/// Thread safety: see `cring_consumer_open()`.
///
/// Errors: `CRING_STATUS_EMPTY` (nothing available; `*entry` untouched),
/// `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_NULL_POINTER` (`entry`),
/// `CRING_STATUS_ENTRY_MISMATCH` (`entry_size`), `CRING_STATUS_MISALIGNED`,
/// `CRING_STATUS_WRONG_STATE` (a view is open), `CRING_STATUS_CORRUPT`.
///
/// # Safety
///
/// `entry` is NULL or writable for `entry_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn cring_consumer_pop(
    consumer: cring_consumer,
    entry: *mut c_void,
    entry_size: usize,
) -> cring_status {
    boundary(|| {
        let mut g = CONSUMERS.get_mut(consumer.id)?;
        // SAFETY: the caller's guarantee for `entry`.
        unsafe { g.get_mut().pop(entry.cast(), entry_size) }
    })
}

/// Takes up to `capacity` entries into the array `entries` without waiting and stores how many
/// in `*count` (0 when nothing is available: the status is still `CRING_STATUS_OK`). The
/// elements of `entries` past `*count` are overwritten with unspecified bytes.
///
/// Thread safety: see `cring_consumer_open()`.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`count`, or `entries` with `capacity > 0`), and as for
/// `cring_consumer_pop()` except `CRING_STATUS_EMPTY`. On failure `*count` is 0.
///
/// # Safety
///
/// `entries` is NULL or writable for `capacity * entry_size` bytes; `count` is NULL or valid
/// for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_consumer_pop_into(
    consumer: cring_consumer,
    entries: *mut c_void,
    capacity: usize,
    entry_size: usize,
    count: *mut usize,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(count, "count")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, 0) };
        let mut g = CONSUMERS.get_mut(consumer.id)?;
        // SAFETY: the caller's guarantee for `entries`.
        let n = unsafe { g.get_mut().pop_into(entries.cast(), capacity, entry_size) }?;
        // SAFETY: as above.
        unsafe { put(out, n) };
        Ok(())
    })
}

/// Reaps like `io_getevents`: takes up to `capacity` entries into `entries`, from the ring and
/// then the overflow area, sleeping (futex, woken by producers in any process) until at least
/// `min` were taken or `timeout_ns` nanoseconds passed (`CRING_TIMEOUT_INFINITE`: no limit;
/// `min == 0` never sleeps). Stores the number taken in `*count`, whatever the status: entries
/// taken are never dropped. The elements of `entries` past `*count` are overwritten with
/// unspecified bytes.
///
/// Returns `CRING_STATUS_OK` when `*count >= min` (`min` is capped at `capacity`), and
/// `CRING_STATUS_TIMED_OUT` when fewer were taken before the timeout (`*count` of them are in
/// `entries`).
///
/// Thread safety: see `cring_consumer_open()`. Not async-signal-safe.
///
/// Errors (with `*count == 0`): `CRING_STATUS_INTERRUPTED` (a signal interrupted the sleep),
/// `CRING_STATUS_NO_WAIT_BLOCK` / `CRING_STATUS_WAKEUPS_SUPPRESSED` (it would have to sleep but
/// cannot), `CRING_STATUS_CORRUPT`, `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`,
/// `CRING_STATUS_NULL_POINTER` (`count`, or `entries` with `capacity > 0`),
/// `CRING_STATUS_ENTRY_MISMATCH`, `CRING_STATUS_MISALIGNED`, `CRING_STATUS_WRONG_STATE`.
///
/// # Safety
///
/// `entries` is NULL or writable for `capacity * entry_size` bytes; `count` is NULL or valid
/// for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_consumer_reap(
    consumer: cring_consumer,
    entries: *mut c_void,
    capacity: usize,
    entry_size: usize,
    min: usize,
    timeout_ns: i64,
    count: *mut usize,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(count, "count")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, 0) };
        let mut g = CONSUMERS.get_mut(consumer.id)?;
        // SAFETY: the caller's guarantee for `entries`.
        let r = unsafe {
            g.get_mut().reap(
                entries.cast(),
                capacity,
                entry_size,
                min,
                timeout(timeout_ns),
            )
        };
        // SAFETY: as above.
        unsafe { put(out, r.n) };
        r.status
    })
}

/// Waits until at least `min` entries can be taken by this consumer (ring and overflow area),
/// polling then sleeping, at most `timeout_ns` nanoseconds (`CRING_TIMEOUT_INFINITE`: no
/// limit). Takes nothing. Stores the number seen in `*available` (if not NULL). `min == 0`
/// returns at once.
///
/// Returns `CRING_STATUS_OK` when the condition holds, `CRING_STATUS_TIMED_OUT` when the
/// timeout expired first, `CRING_STATUS_CLOSED` when the producers closed the stream (layout
/// 1.3) before `min` arrived (fewer will ever come: `*available` says how many are there).
/// `min` has the type of `cring_consumer_reap()`'s.
///
/// Thread safety: see `cring_consumer_open()`.
///
/// Errors: `CRING_STATUS_INTERRUPTED`, `CRING_STATUS_NO_WAIT_BLOCK`,
/// `CRING_STATUS_WAKEUPS_SUPPRESSED`, `CRING_STATUS_CORRUPT`, `CRING_STATUS_BAD_HANDLE`,
/// `CRING_STATUS_IN_USE`, `CRING_STATUS_WRONG_STATE` (a view is open).
///
/// # Safety
///
/// `available` is NULL or valid for writing a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_consumer_wait(
    consumer: cring_consumer,
    min: usize,
    timeout_ns: i64,
    available: *mut u32,
) -> cring_status {
    // SAFETY: the caller's guarantee for `available`.
    unsafe { wait(consumer, None, min, timeout_ns, available) }
}

/// Waits until at least `min` entries exist beyond consumer index `position` (from
/// `cring_consumer_position()`), counting reserved ring positions and pending overflow entries:
/// the semantics of acall's `acall_ring_pwait`. Otherwise as `cring_consumer_wait()`.
///
/// # Safety
///
/// `available` is NULL or valid for writing a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_consumer_wait_beyond(
    consumer: cring_consumer,
    position: u32,
    min: usize,
    timeout_ns: i64,
    available: *mut u32,
) -> cring_status {
    // SAFETY: the caller's guarantee for `available`.
    unsafe { wait(consumer, Some(position), min, timeout_ns, available) }
}

/// # Safety
/// `available` is NULL or valid for writing a `u32`.
unsafe fn wait(
    consumer: cring_consumer,
    beyond: Option<u32>,
    min: usize,
    timeout_ns: i64,
    available: *mut u32,
) -> cring_status {
    boundary(|| {
        let out = if available.is_null() {
            None
        } else {
            Some(out_ptr(available, "available")?)
        };
        let mut g = CONSUMERS.get_mut(consumer.id)?;
        let (n, end) = g.get_mut().wait(beyond, min, timeout(timeout_ns))?;
        if let Some(out) = out {
            // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
            unsafe { put(out, n) };
        }
        match end {
            WaitEnd::Ready => Ok(()),
            WaitEnd::TimedOut => Err(crate::status::Fail::of(cring_status::TimedOut)),
            WaitEnd::Closed => Err(crate::status::Fail::of(cring_status::Closed)),
        }
    })
}

/// The consumer's position: the ring index of the next entry it will take (for
/// `cring_consumer_wait_beyond()`).
///
/// Thread safety: see `cring_consumer_open()`.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_NULL_POINTER`
/// (`position`), `CRING_STATUS_WRONG_STATE` (a view is open).
///
/// # Safety
///
/// `position` is NULL or valid for writing a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_consumer_position(
    consumer: cring_consumer,
    position: *mut u32,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(position, "position")?;
        let mut g = CONSUMERS.get_mut(consumer.id)?;
        let p = g.get_mut().position()?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, p) };
        Ok(())
    })
}

/// Sets how many times a wait or reap polls before it sleeps (`CRING_DEFAULT_SPIN` until
/// changed; 0 sleeps at once).
///
/// Thread safety: see `cring_consumer_open()`.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_WRONG_STATE`.
#[no_mangle]
pub extern "C" fn cring_consumer_set_spin(consumer: cring_consumer, polls: u32) -> cring_status {
    boundary(|| {
        let mut g = CONSUMERS.get_mut(consumer.id)?;
        g.get_mut().set_spin(polls)
    })
}

/// Claims up to `max` published entries to be read in place: stores the address of each in
/// `entries[0..*count]` (entry-aligned pointers to `entry_size` bytes) and their number in
/// `*count` (at least 1). The entries stay valid, and are not reused, until
/// `cring_consumer_release()`, which consumes them all at once. While a view is open, the
/// consumer's other functions return `CRING_STATUS_WRONG_STATE`.
///
/// Ownership: the pointers point into the ring; do not free them; do not write through them.
///
/// Thread safety: see `cring_consumer_open()`.
///
/// Errors: `CRING_STATUS_EMPTY` (nothing available; no view is open),
/// `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_NULL_POINTER` (`entries`,
/// `count`), `CRING_STATUS_INVALID_ARGUMENT` (`max == 0`), `CRING_STATUS_ENTRY_MISMATCH`
/// (`entry_size`), `CRING_STATUS_WRONG_STATE` (a view is open already),
/// `CRING_STATUS_CORRUPT`. On failure `*count` is 0.
///
/// # Safety
///
/// `entries` is NULL or writable for `max` pointers; `count` is NULL or valid for writing a
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_consumer_view(
    consumer: cring_consumer,
    max: usize,
    entry_size: usize,
    entries: *mut *const c_void,
    count: *mut usize,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(count, "count")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, 0) };
        let mut g = CONSUMERS.get_mut(consumer.id)?;
        // SAFETY: the caller's guarantee for `entries`.
        let n = unsafe { g.get_mut().view(max, entry_size, entries.cast()) }?;
        // SAFETY: as above.
        unsafe { put(out, n) };
        Ok(())
    })
}

/// Releases the open view: its entries are consumed and their slots given back to producers.
///
/// Thread safety: see `cring_consumer_open()`.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_WRONG_STATE` (no
/// view open).
#[no_mangle]
pub extern "C" fn cring_consumer_release(consumer: cring_consumer) -> cring_status {
    boundary(|| {
        let mut g = CONSUMERS.get_mut(consumer.id)?;
        g.get_mut().release()
    })
}

/// Prepares to wait on the ring's eventfd (`cring_ring_create_eventfd()`) in `poll`/`epoll`:
/// announces this consumer as a sleeper, so producers signal the eventfd, then re-checks.
/// Stores 1 in `*ready` if entries are already available (then do not wait), else 0. Either
/// way, call `cring_consumer_eventfd_finish()` after waiting (or instead of it).
///
/// Thread safety: see `cring_consumer_open()`.
///
/// Errors: `CRING_STATUS_NO_WAIT_BLOCK`, `CRING_STATUS_WAKEUPS_SUPPRESSED` (nobody would
/// signal the eventfd), `CRING_STATUS_WRONG_STATE` (no eventfd attached in this process, or a
/// view is open), `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_NULL_POINTER`
/// (`ready`). On failure nothing is announced.
///
/// # Safety
///
/// `ready` is NULL or valid for writing an `int`.
#[no_mangle]
pub unsafe extern "C" fn cring_consumer_eventfd_prepare(
    consumer: cring_consumer,
    ready: *mut c_int,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(ready, "ready")?;
        let mut g = CONSUMERS.get_mut(consumer.id)?;
        let r = g.get_mut().eventfd_prepare()?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, r as c_int) };
        Ok(())
    })
}

/// Ends an eventfd wait begun with `cring_consumer_eventfd_prepare()`: withdraws the
/// announcement and drains the eventfd's counter (without blocking).
///
/// Thread safety: see `cring_consumer_open()`.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_WRONG_STATE`.
#[no_mangle]
pub extern "C" fn cring_consumer_eventfd_finish(consumer: cring_consumer) -> cring_status {
    boundary(|| {
        let mut g = CONSUMERS.get_mut(consumer.id)?;
        g.get_mut().eventfd_finish()
    })
}
