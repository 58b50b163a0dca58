//! Producers: push, batch push, blocking push, zero-copy reserve/commit.

use crate::dynring::{timeout, ProducerDyn, ProducerEnd};
use crate::handles::Table;
use crate::ring::ring_of;
use crate::status::{boundary, cring_status};
use crate::types::*;
use crate::{handle_out, out_ptr, put};
use core::ffi::c_void;

pub(crate) static PRODUCERS: Table<Box<dyn ProducerDyn>> = Table::new("producer", 2);

/// Opens a producer of the ring. In single-producer modes (SPSC, SPMC) this claims the
/// producer side, in shared memory, so across processes too, until the producer is closed; a
/// claim left by a process that no longer exists is taken over.
///
/// Ownership: the caller owns `*out` and closes it with `cring_producer_close()`. The producer
/// keeps the ring alive: closing the ring handle first is allowed.
///
/// Thread safety: any thread. The producer serves one call at a time (a concurrent call on the
/// same producer returns `CRING_STATUS_IN_USE`): give each producing thread its own producer
/// (several are allowed in MPSC and MPMC modes).
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (`ring`), `CRING_STATUS_NULL_POINTER` (`out`),
/// `CRING_STATUS_BUSY` (another live producer holds the single-producer claim, in this or
/// another process), `CRING_STATUS_CORRUPT`, `CRING_STATUS_NO_RESOURCES`. On failure `*out` is
/// `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_producer`.
#[no_mangle]
pub unsafe extern "C" fn cring_producer_open(
    ring: cring_ring,
    out: *mut cring_producer,
) -> cring_status {
    let open = || PRODUCERS.insert(ring_of(ring)?.producer()?);
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_producer { id }, open) }
}

/// Closes a producer: releases the single-producer claim. An open reservation is abandoned
/// (nothing of it is published; in multi-producer modes its slots are published as discarded,
/// which consumers skip).
///
/// Thread safety: any thread. If a call on the producer is still running in another thread,
/// the producer is released when that call returns.
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (not open, for example closed already).
#[no_mangle]
pub extern "C" fn cring_producer_close(producer: cring_producer) -> cring_status {
    boundary(|| PRODUCERS.remove(producer.id))
}

/// Closes the ring's stream (end of stream, layout 1.3) and the producer handle: consumers
/// take what is left and then get `CRING_STATUS_CLOSED` from pop, pop_into, view, reap and
/// the waits; sleeping consumers are woken; no producer can be opened on the ring any more
/// (`CRING_STATUS_CLOSED`). In multi-producer modes the stream closes once every producer has
/// closed or left. `cring_producer_close()` never closes the stream (it gives a single
/// producer's side up, or leaves a multi-producer stream), nor does `cring_producer_release()`.
///
/// A producer process that dies without closing never closes the stream: consumers keep
/// waiting (their waits end by their timeouts); in multi-producer rings, recovery
/// (`cring_consumer_*` waits run it on their own) makes the dead producer leave.
///
/// Thread safety: as `cring_producer_close()`.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE` (a call is running on it: the
/// handle stays open).
#[no_mangle]
pub extern "C" fn cring_producer_close_stream(producer: cring_producer) -> cring_status {
    end(producer, ProducerEnd::Close)
}

/// Closes the producer handle without closing the ring's stream, as `cring_producer_close()`
/// does (this names it): in single-producer modes another producer (in this or another
/// process) may then claim the side and go on.
///
/// Thread safety: as `cring_producer_close()`.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE` (a call is running on it: the
/// handle stays open).
#[no_mangle]
pub extern "C" fn cring_producer_release(producer: cring_producer) -> cring_status {
    end(producer, ProducerEnd::Release)
}

fn end(producer: cring_producer, how: ProducerEnd) -> cring_status {
    boundary(|| {
        PRODUCERS.get_mut(producer.id)?.get_mut().set_end(how);
        PRODUCERS.remove(producer.id)
    })
}

/// Pushes one entry (copied from `*entry`, `entry_size` bytes). When the ring is full and it
/// has an overflow area, the entry goes there (consumers reap it in order).
///
/// Thread safety: see `cring_producer_open()`.
///
/// Errors: `CRING_STATUS_FULL` (ring and overflow area full: nothing was pushed; try again
/// later), `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_NULL_POINTER`
/// (`entry`), `CRING_STATUS_ENTRY_MISMATCH` (`entry_size` is not the ring's entry size),
/// `CRING_STATUS_MISALIGNED` (`entry` not aligned to the entry's alignment),
/// `CRING_STATUS_WRONG_STATE` (a reservation is open), `CRING_STATUS_CORRUPT`.
///
/// # Safety
///
/// `entry` is NULL or readable for `entry_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn cring_producer_push(
    producer: cring_producer,
    entry: *const c_void,
    entry_size: usize,
) -> cring_status {
    boundary(|| {
        let mut g = PRODUCERS.get_mut(producer.id)?;
        // SAFETY: the caller's guarantee for `entry`.
        unsafe { g.get_mut().push(entry.cast(), entry_size, None) }
    })
}

/// Pushes one entry, waiting while the ring (and its overflow area) is full, up to
/// `timeout_ns` nanoseconds (`CRING_TIMEOUT_INFINITE`, or any negative value: no limit; 0: do
/// not wait). The wait polls with a growing pause (spin, yield, then sleeps of 50 µs doubling
/// up to 1 ms), so consumers pay nothing to wake it.
///
/// Thread safety: see `cring_producer_open()`.
///
/// Errors: `CRING_STATUS_FULL` (the timeout expired; nothing was pushed), and as for
/// `cring_producer_push()`.
///
/// # Safety
///
/// `entry` is NULL or readable for `entry_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn cring_producer_push_wait(
    producer: cring_producer,
    entry: *const c_void,
    entry_size: usize,
    timeout_ns: i64,
) -> cring_status {
    boundary(|| {
        let mut g = PRODUCERS.get_mut(producer.id)?;
        // SAFETY: the caller's guarantee for `entry`.
        unsafe {
            g.get_mut()
                .push(entry.cast(), entry_size, Some(timeout(timeout_ns)))
        }
    })
}

/// Pushes all `count` entries of the array `entries` or none of them (one publication for the
/// batch). `count == 0` does nothing (`entries` may then be NULL).
///
/// Thread safety: see `cring_producer_open()`.
///
/// Errors: `CRING_STATUS_FULL` (fewer than `count` slots free: nothing was pushed),
/// `CRING_STATUS_TOO_LARGE` (`count` exceeds the capacity: it can never fit), and as for
/// `cring_producer_push()`.
///
/// # Safety
///
/// `entries` is NULL or readable for `count * entry_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn cring_producer_push_all(
    producer: cring_producer,
    entries: *const c_void,
    count: usize,
    entry_size: usize,
) -> cring_status {
    boundary(|| {
        let mut g = PRODUCERS.get_mut(producer.id)?;
        // SAFETY: the caller's guarantee for `entries`.
        unsafe { g.get_mut().push_all(entries.cast(), count, entry_size) }
    })
}

/// Pushes as many of the `count` entries of `entries` as fit, in order, and stores how many in
/// `*pushed` (0 when the ring is full: the status is still `CRING_STATUS_OK`).
///
/// Thread safety: see `cring_producer_open()`.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`pushed`, or `entries` with `count > 0`), and as for
/// `cring_producer_push()` except `CRING_STATUS_FULL`. On failure `*pushed` is 0.
///
/// # Safety
///
/// `entries` is NULL or readable for `count * entry_size` bytes; `pushed` is NULL or valid for
/// writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_producer_push_some(
    producer: cring_producer,
    entries: *const c_void,
    count: usize,
    entry_size: usize,
    pushed: *mut usize,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(pushed, "pushed")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, 0) };
        let mut g = PRODUCERS.get_mut(producer.id)?;
        // SAFETY: the caller's guarantee for `entries`.
        let n = unsafe { g.get_mut().push_some(entries.cast(), count, entry_size) }?;
        // SAFETY: as above.
        unsafe { put(out, n) };
        Ok(())
    })
}

/// Reserves up to `max` slots (at least one) to be filled in place, and stores how many in
/// `*reserved`. Then get each slot's address with `cring_producer_entry()`, fill it, and
/// publish with `cring_producer_commit()` (or give up with `cring_producer_abort()`). While a
/// reservation is open, the producer's other push functions return `CRING_STATUS_WRONG_STATE`.
/// `max == 0` opens an empty reservation.
///
/// Thread safety: see `cring_producer_open()`.
///
/// Errors: `CRING_STATUS_FULL` (no slot free), `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`,
/// `CRING_STATUS_NULL_POINTER` (`reserved`), `CRING_STATUS_ENTRY_MISMATCH` (`entry_size`),
/// `CRING_STATUS_WRONG_STATE` (a reservation is open already), `CRING_STATUS_CORRUPT`. On
/// failure `*reserved` is 0 and no reservation is open.
///
/// # Safety
///
/// `reserved` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_producer_reserve(
    producer: cring_producer,
    max: usize,
    entry_size: usize,
    reserved: *mut usize,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(reserved, "reserved")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, 0) };
        let mut g = PRODUCERS.get_mut(producer.id)?;
        let n = g.get_mut().reserve(max, false, entry_size)?;
        // SAFETY: as above.
        unsafe { put(out, n) };
        Ok(())
    })
}

/// Reserves exactly `count` slots, or none (see `cring_producer_reserve()`).
///
/// Thread safety: see `cring_producer_open()`.
///
/// Errors: `CRING_STATUS_FULL` (fewer than `count` free), `CRING_STATUS_TOO_LARGE` (`count`
/// exceeds the capacity), and as for `cring_producer_reserve()`.
#[no_mangle]
pub extern "C" fn cring_producer_reserve_exact(
    producer: cring_producer,
    count: usize,
    entry_size: usize,
) -> cring_status {
    boundary(|| {
        let mut g = PRODUCERS.get_mut(producer.id)?;
        g.get_mut().reserve(count, true, entry_size)?;
        Ok(())
    })
}

/// The address of reserved slot `index` of the open reservation, to be written in place (an
/// entry-aligned pointer to `entry_size` bytes of stale contents). Slots are taken in order:
/// `index` must be at most the number taken so far (taking one again is allowed). Taking a
/// slot counts it as written: `cring_producer_commit()` publishes every slot taken.
///
/// Ownership: the pointer is valid until the reservation is committed or aborted, or the
/// producer closed.
///
/// Thread safety: see `cring_producer_open()`.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_NULL_POINTER`
/// (`entry`), `CRING_STATUS_WRONG_STATE` (no reservation open), `CRING_STATUS_INVALID_ARGUMENT`
/// (`index` outside the reservation or out of order).
///
/// # Safety
///
/// `entry` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn cring_producer_entry(
    producer: cring_producer,
    index: usize,
    entry: *mut *mut c_void,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(entry, "entry")?;
        let mut g = PRODUCERS.get_mut(producer.id)?;
        let p = g.get_mut().entry(index)?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, p.cast()) };
        Ok(())
    })
}

/// Publishes the slots of the open reservation that were taken with `cring_producer_entry()`
/// (one publication; sleeping consumers are woken) and gives back or discards the rest.
/// Stores the number published in `*published` if it is not NULL.
///
/// Thread safety: see `cring_producer_open()`.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_WRONG_STATE` (no
/// reservation open).
///
/// # Safety
///
/// `published` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_producer_commit(
    producer: cring_producer,
    published: *mut usize,
) -> cring_status {
    boundary(|| {
        let out = if published.is_null() {
            None
        } else {
            Some(out_ptr(published, "published")?)
        };
        let mut g = PRODUCERS.get_mut(producer.id)?;
        let n = g.get_mut().commit()?;
        if let Some(out) = out {
            // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
            unsafe { put(out, n) };
        }
        Ok(())
    })
}

/// Abandons the open reservation: nothing of it is published (in multi-producer modes its
/// slots are published as discarded, which consumers skip and `cring_counters.discarded`
/// counts).
///
/// Thread safety: see `cring_producer_open()`.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_WRONG_STATE` (no
/// reservation open).
#[no_mangle]
pub extern "C" fn cring_producer_abort(producer: cring_producer) -> cring_status {
    boundary(|| {
        let mut g = PRODUCERS.get_mut(producer.id)?;
        g.get_mut().abort()
    })
}
