//! The record consumer: read in place and release, copy out, reap.
//!
//! The open record of `cring_record_read()` is a `RecordRef<'static>` that borrows the
//! `RecordConsumer` mutably; the handle object owns both under the same exclusive-borrow
//! invariant as the record producer (see `record_producer`): the consumer lives in its own heap
//! allocation reached through a raw pointer, is reborrowed for a view only while none is open,
//! and `Drop` drops the view before it frees the consumer.

use crate::dynring::timeout;
use crate::handles::Table;
use crate::records::{cring_record_consumer, cring_records, records_of};
use crate::status::{boundary, cring_status, Fail};
use crate::{handle_out, out_ptr, put};
use core::ffi::c_void;
use ring_core::record::{RecordConsumer, RecordRef};
use std::ptr::NonNull;

pub(crate) static RECORD_CONSUMERS: Table<RecConsumer> = Table::new("record consumer", 6);

/// The object behind a record consumer handle.
pub(crate) struct RecConsumer {
    /// The record handed out by `cring_record_read()`. While `Some`, its `&mut` is the only
    /// reference to `*consumer`.
    view: Option<RecordRef<'static>>,
    /// From `Box::leak`; freed in `Drop`, after `view`.
    consumer: NonNull<RecordConsumer>,
}

// SAFETY: `RecordConsumer` is `Send`, and the object owns its allocation. An open `RecordRef`
// is `!Send` only because it refers into the shared ring; the record is the consumer's until
// released whichever thread reads it, and nothing in it is tied to a thread.
unsafe impl Send for RecConsumer {}
// SAFETY: every method takes `&mut self`; a `&RecConsumer` gives access to nothing.
unsafe impl Sync for RecConsumer {}

impl Drop for RecConsumer {
    fn drop(&mut self) {
        // The view borrows the consumer: end it first (which releases its record).
        self.view = None;
        // SAFETY: `consumer` came from `Box::leak` in `RecConsumer::new` and is freed only here,
        // once; the view, the only other reference to it, was dropped just above.
        drop(unsafe { Box::from_raw(self.consumer.as_ptr()) });
    }
}

impl RecConsumer {
    fn new(c: RecordConsumer) -> RecConsumer {
        RecConsumer {
            view: None,
            consumer: NonNull::from(Box::leak(Box::new(c))),
        }
    }

    /// The consumer, if no record is open.
    fn consumer(&mut self) -> Result<&mut RecordConsumer, Fail> {
        if self.view.is_some() {
            return Err(Fail::new(
                cring_status::WrongState,
                "record consumer: a record is open: release it first (cring_record_release())",
            ));
        }
        // SAFETY: the allocation is live until `Drop`, and no view is open, so no other
        // reference to the consumer exists; the new one is tied to `&mut self`.
        Ok(unsafe { self.consumer.as_mut() })
    }

    /// Opens the next record; returns its payload address, length and type.
    fn read(&mut self) -> Result<(*const u8, usize, u8), Fail> {
        self.consumer()?;
        // SAFETY: the allocation is live until `Drop`, and no view is open (checked just
        // above), so this is the only reference to the consumer. It is held only by the view
        // made from it, stored in `self.view` below (or dropped with the error); while that is
        // `Some` nothing else dereferences `consumer`, and `release` and `Drop` drop the view
        // before the consumer is reached again or freed.
        let c: &'static mut RecordConsumer = unsafe { &mut *self.consumer.as_ptr() };
        let r = c.read()?;
        let out = (r.as_ptr(), r.len(), r.record_type());
        self.view = Some(r);
        Ok(out)
    }
}

/// Called by `cring_record_reap()` for each record: `ctx` as given, the payload (`len` bytes,
/// valid only during the call) and the record type.
pub type cring_record_fn = Option<
    unsafe extern "C" fn(ctx: *mut c_void, data: *const c_void, len: usize, record_type: u32),
>;

/// Opens the consumer of the record ring: claims the consumer side, in shared memory, so
/// across processes too, until the consumer is closed (a claim left by a process that no
/// longer exists is taken over).
///
/// Ownership: the caller owns `*out` and closes it with `cring_record_consumer_close()`. The
/// consumer keeps the ring's memory alive: closing the ring handle first is allowed.
///
/// Thread safety: any thread. The consumer serves one call at a time (a concurrent call on the
/// same consumer returns `CRING_STATUS_IN_USE`).
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (`records`), `CRING_STATUS_NULL_POINTER` (`out`),
/// `CRING_STATUS_BUSY` (another live consumer holds the ring, in this or another process),
/// `CRING_STATUS_CORRUPT`, `CRING_STATUS_NO_RESOURCES`. On failure `*out` is `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_record_consumer`.
#[no_mangle]
pub unsafe extern "C" fn cring_record_consumer_open(
    records: cring_records,
    out: *mut cring_record_consumer,
) -> cring_status {
    let open = || {
        let c = records_of(records)?.consumer()?;
        RECORD_CONSUMERS.insert(RecConsumer::new(c))
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_record_consumer { id }, open) }
}

/// Closes the record consumer: gives the consumer claim back. An open record is released
/// (consumed).
///
/// Thread safety: any thread. If a call on the consumer is still running in another thread,
/// the consumer is released when that call returns.
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (not open, for example closed already).
#[no_mangle]
pub extern "C" fn cring_record_consumer_close(consumer: cring_record_consumer) -> cring_status {
    boundary(|| RECORD_CONSUMERS.remove(consumer.id))
}

/// Opens the next record to read in place: stores the address of its payload in `*data`, its
/// length in `*len`, and its type in `*record_type` (if not NULL). Discarded and padding
/// records are skipped. The record stays valid, and is not reused, until
/// `cring_record_release()`; while it is open, the consumer's other functions return
/// `CRING_STATUS_WRONG_STATE`. A completion record's payload is read with
/// `cring_attr_iter_init()`.
///
/// Ownership: `*data` points into the ring (8-byte aligned); do not free it; do not write
/// through it. A peer that breaks the protocol could change these bytes while you read them:
/// check what you read as you would any input.
///
/// Thread safety: see `cring_record_consumer_open()`.
///
/// Errors: `CRING_STATUS_EMPTY` (no record is ready: the ring is empty, or in MPSC the next
/// record is reserved and not committed yet; the message says which), `CRING_STATUS_CORRUPT`
/// (an invalid record header or positions: the consumer does not move),
/// `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_NULL_POINTER` (`data`,
/// `len`), `CRING_STATUS_WRONG_STATE` (a record is open already). On failure `*data` is NULL
/// and `*len` 0.
///
/// # Safety
///
/// `data` is NULL or valid for writing a pointer; `len` is NULL or valid for writing a
/// `size_t`; `record_type` is NULL or valid for writing a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_record_read(
    consumer: cring_record_consumer,
    data: *mut *const c_void,
    len: *mut usize,
    record_type: *mut u32,
) -> cring_status {
    boundary(|| {
        let data = out_ptr(data, "data")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(data, core::ptr::null()) };
        let len = out_ptr(len, "len")?;
        // SAFETY: as above.
        unsafe { put(len, 0) };
        let ty = if record_type.is_null() {
            None
        } else {
            Some(out_ptr(record_type, "record_type")?)
        };
        let mut g = RECORD_CONSUMERS.get_mut(consumer.id)?;
        let (p, n, t) = g.get_mut().read()?;
        // SAFETY: as above, for each of the three.
        unsafe {
            put(data, p.cast());
            put(len, n);
            if let Some(ty) = ty {
                put(ty, u32::from(t));
            }
        }
        Ok(())
    })
}

/// Releases the record opened by `cring_record_read()`: it is consumed and its bytes given
/// back to producers.
///
/// Thread safety: see `cring_record_consumer_open()`.
///
/// Errors: `CRING_STATUS_WRONG_STATE` (no record is open), `CRING_STATUS_BAD_HANDLE`,
/// `CRING_STATUS_IN_USE`.
#[no_mangle]
pub extern "C" fn cring_record_release(consumer: cring_record_consumer) -> cring_status {
    boundary(|| {
        let mut g = RECORD_CONSUMERS.get_mut(consumer.id)?;
        match g.get_mut().view.take() {
            Some(r) => {
                drop(r);
                Ok(())
            }
            None => Err(Fail::new(
                cring_status::WrongState,
                "record consumer: no record is open",
            )),
        }
    })
}

/// Copies the next record's payload into `buf` (`cap` bytes) and consumes it; stores its length
/// in `*len` and its type in `*record_type` (if not NULL).
///
/// Thread safety: see `cring_record_consumer_open()`.
///
/// Errors: `CRING_STATUS_TOO_LARGE` (the payload is longer than `cap`: nothing is copied, the
/// record stays next, and `*len` is its length, so a buffer of that size takes it),
/// `CRING_STATUS_NULL_POINTER` (`len`, or `buf` with `cap > 0`), and as for
/// `cring_record_read()`. On other failures `*len` is 0.
///
/// # Safety
///
/// `buf` is NULL or writable for `cap` bytes, and does not overlap the ring; `len` is NULL or
/// valid for writing a `size_t`; `record_type` is NULL or valid for writing a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_record_pop_into(
    consumer: cring_record_consumer,
    buf: *mut c_void,
    cap: usize,
    len: *mut usize,
    record_type: *mut u32,
) -> cring_status {
    boundary(|| {
        let len = out_ptr(len, "len")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(len, 0) };
        let ty = if record_type.is_null() {
            None
        } else {
            Some(out_ptr(record_type, "record_type")?)
        };
        if buf.is_null() && cap > 0 {
            return Err(Fail::null("buf"));
        }
        let mut g = RECORD_CONSUMERS.get_mut(consumer.id)?;
        let r = g.get_mut().consumer()?.read()?;
        let n = r.len();
        if n > cap {
            // Not consumed: forgetting the record leaves the consumer at its position (it
            // holds no resource besides the borrow), so the next call finds it again.
            core::mem::forget(r);
            // SAFETY: as above.
            unsafe { put(len, n) };
            return Err(Fail::new(
                cring_status::TooLarge,
                format!("record consumer: the next record has {n} bytes, the buffer {cap}"),
            ));
        }
        if n > 0 {
            // SAFETY: `buf` is non-NULL (n > 0, so cap > 0) and writable for `cap >= n` bytes
            // that do not overlap the ring (the caller's guarantee).
            let dst = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), n) };
            r.copy_to(0, dst);
        }
        let t = r.record_type();
        drop(r);
        // SAFETY: as above.
        unsafe {
            put(len, n);
            if let Some(ty) = ty {
                put(ty, u32::from(t));
            }
        }
        Ok(())
    })
}

/// Reaps like `io_getevents`: hands up to `max` records to `callback` (each in place, with
/// `ctx`, released when the callback returns), stopping early once `byte_budget` payload bytes
/// were handed over (the first record is handed over whatever its size), and sleeping on the
/// ring's wait block (futex, woken by producers in any process) until at least `min` were
/// handed over or `timeout_ns` nanoseconds passed (`CRING_TIMEOUT_INFINITE`: no limit;
/// `min == 0` never sleeps). A record reserved and not committed holds up what follows it; if
/// it stays so, the reap runs `cring_records_recover()` now and then, in case its producer
/// died. Stores the number handed over in `*count`, whatever the status.
///
/// Returns `CRING_STATUS_OK` when `*count >= min` (`min` is capped at `max`) or the byte budget
/// was reached (`SIZE_MAX`: no byte limit; 0 never sleeps), `CRING_STATUS_TIMED_OUT` when fewer were handed over before the timeout.
///
/// The callback must not unwind (C++ exceptions, `longjmp`) out of the call. Calls it makes on
/// this consumer return `CRING_STATUS_IN_USE`.
///
/// Thread safety: see `cring_record_consumer_open()`. Not async-signal-safe.
///
/// Errors (with `*count` handed over before them): `CRING_STATUS_INTERRUPTED`,
/// `CRING_STATUS_NO_WAIT_BLOCK` / `CRING_STATUS_WAKEUPS_SUPPRESSED` (it would have to sleep but
/// cannot), `CRING_STATUS_CORRUPT` (nothing handed over), `CRING_STATUS_IO` (the futex call
/// failed), `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_NULL_POINTER`
/// (`callback`, `count`), `CRING_STATUS_WRONG_STATE` (a record is open).
///
/// # Safety
///
/// `callback` is NULL or a function that may be called with `ctx` and the record's payload;
/// `count` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_record_reap(
    consumer: cring_record_consumer,
    min: usize,
    max: usize,
    byte_budget: usize,
    timeout_ns: i64,
    callback: cring_record_fn,
    ctx: *mut c_void,
    count: *mut usize,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(count, "count")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, 0) };
        let f = callback.ok_or_else(|| Fail::null("callback"))?;
        let mut g = RECORD_CONSUMERS.get_mut(consumer.id)?;
        let c = g.get_mut().consumer()?;
        let (mut n, mut bytes) = (0usize, 0usize);
        let r = c.reap(min, max, byte_budget, timeout(timeout_ns), |v| {
            n += 1;
            bytes = bytes.saturating_add(v.len());
            // SAFETY: the caller guarantees `f` may be called with `ctx` and a payload; the
            // payload is valid for `len` bytes during the call (the record is released after).
            unsafe { f(ctx, v.as_ptr().cast(), v.len(), u32::from(v.record_type())) };
        });
        // SAFETY: as above (also when the reap failed after handing records over).
        unsafe { put(out, n) };
        r?;
        if n < min.min(max) && bytes < byte_budget {
            return Err(Fail::new(
                cring_status::TimedOut,
                format!("record consumer: {n} of at least {min} records before the timeout"),
            ));
        }
        Ok(())
    })
}

/// How many records this consumer handle has delivered (read and released, or handed to a
/// reap callback), in either area: the position `cring_record_wait_beyond()` counts from.
/// Starts at 0 for every consumer handle and wraps at 2^64.
///
/// Thread safety: see `cring_record_consumer_open()`.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_NULL_POINTER`
/// (`delivered`), `CRING_STATUS_WRONG_STATE` (a record is open). On failure `*delivered` is
/// left unchanged.
///
/// # Safety
///
/// `delivered` is NULL or valid for writing a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_record_delivered(
    consumer: cring_record_consumer,
    delivered: *mut u64,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(delivered, "delivered")?;
        let mut g = RECORD_CONSUMERS.get_mut(consumer.id)?;
        let n = g.get_mut().consumer()?.delivered();
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, n) };
        Ok(())
    })
}

/// Waits until at least `min` records can be read by this consumer (data area and overflow
/// area: committed records from its position, up to the first one reserved and not yet
/// committed), polling then sleeping on the ring's wait block, at most `timeout_ns`
/// nanoseconds (`CRING_TIMEOUT_INFINITE`: no limit). Reads nothing. Stores the number seen in
/// `*available` (if not NULL; it saturates at `UINT32_MAX`). `min == 0` returns at once.
/// `cring_record_wait_beyond()` from `cring_record_delivered()`.
///
/// Returns `CRING_STATUS_OK` when the condition holds, `CRING_STATUS_TIMED_OUT` when the
/// timeout expired first. While a record reserved and not committed holds the count up, the
/// wait polls (at most 100 ms between looks) and runs `cring_records_recover()` now and then,
/// in case its producer died.
///
/// Thread safety: see `cring_record_consumer_open()`. Not async-signal-safe.
///
/// Errors: `CRING_STATUS_INTERRUPTED`, `CRING_STATUS_NO_WAIT_BLOCK` /
/// `CRING_STATUS_WAKEUPS_SUPPRESSED` (it would have to sleep but cannot),
/// `CRING_STATUS_IO` (the futex call failed), `CRING_STATUS_CORRUPT`,
/// `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`, `CRING_STATUS_WRONG_STATE` (a record is
/// open).
///
/// # Safety
///
/// `available` is NULL or valid for writing a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_record_wait(
    consumer: cring_record_consumer,
    min: usize,
    timeout_ns: i64,
    available: *mut u32,
) -> cring_status {
    // SAFETY: the caller's guarantee for `available`.
    unsafe { record_wait(consumer, None, min, timeout_ns, available) }
}

/// Waits until at least `min` records exist beyond `position`, a value of
/// `cring_record_delivered()` taken earlier: the records this consumer delivered since then
/// plus those it can read now (see `cring_record_wait()`), in either area. The semantics of
/// acall's `acall_ring_pwait`, counted in records. `*available` (if not NULL) receives that
/// count (saturating at `UINT32_MAX`). Otherwise as `cring_record_wait()`.
///
/// # Safety
///
/// `available` is NULL or valid for writing a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_record_wait_beyond(
    consumer: cring_record_consumer,
    position: u64,
    min: usize,
    timeout_ns: i64,
    available: *mut u32,
) -> cring_status {
    // SAFETY: the caller's guarantee for `available`.
    unsafe { record_wait(consumer, Some(position), min, timeout_ns, available) }
}

/// # Safety
/// `available` is NULL or valid for writing a `u32`.
unsafe fn record_wait(
    consumer: cring_record_consumer,
    beyond: Option<u64>,
    min: usize,
    timeout_ns: i64,
    available: *mut u32,
) -> cring_status {
    use ring_core::WaitOutcome;
    boundary(|| {
        let out = if available.is_null() {
            None
        } else {
            Some(out_ptr(available, "available")?)
        };
        if let Some(out) = out {
            // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
            unsafe { put(out, 0) };
        }
        let mut g = RECORD_CONSUMERS.get_mut(consumer.id)?;
        let c = g.get_mut().consumer()?;
        let r = match beyond {
            Some(p) => c.wait_beyond(p, min, timeout(timeout_ns))?,
            None => c.wait(min, timeout(timeout_ns))?,
        };
        let (n, status) = match r {
            WaitOutcome::Ready(n) => (n, None),
            WaitOutcome::TimedOut(n) => (n, Some(cring_status::TimedOut)),
            // Record rings have no end of stream; kept for completeness.
            WaitOutcome::Closed(n) => (n, Some(cring_status::Closed)),
        };
        if let Some(out) = out {
            // SAFETY: as above.
            unsafe { put(out, n) };
        }
        match status {
            None => Ok(()),
            Some(s) => Err(Fail::of(s)),
        }
    })
}
