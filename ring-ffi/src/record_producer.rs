//! Record producers: reserve/commit in place, push, and completion records with attributes.
//!
//! # The open reservation
//!
//! A `RecordMut<'p>` borrows its `RecordProducer` mutably, yet a C caller keeps a reservation
//! open across calls, so the handle object owns both, as the fixed-entry producers of
//! `dynring` do: the producer lives in its own heap allocation reached through a raw pointer
//! (`Box::leak`, freed with `Box::from_raw` in `Drop`), and the open reservation is a
//! `RecordMut<'static>` made from a `&'static mut RecordProducer` reborrowed through it. The
//! `'static` claims more than is true; what makes it sound is the **exclusive-borrow
//! invariant**: the pointer is reborrowed for a reservation only while none is open, and while
//! one is open the reservation holds the only reference to the producer (every method checks
//! first, through [`RecProducer::producer`]); `Drop` drops the reservation before it frees the
//! producer.

use crate::handles::Table;
use crate::records::{cring_record_producer, cring_records, records_of, CRING_RECORD_TYPE_DATA};
use crate::status::{boundary, cring_status, Fail};
use crate::types::*;
use crate::{handle_out, in_ptr, out_ptr, put};
use core::ffi::c_void;
use ring_core::record::attrs::{attr_size, AttrError, AttrWriter, MAX_ATTR_VALUE};
use ring_core::record::layout::record_type;
use ring_core::record::{RecordMut, RecordProducer};
use ring_core::Completion;
use std::ptr::NonNull;

/// Bytes of the completion at the start of a completion record's payload.
pub const CRING_COMPLETION_HEAD_LEN: u32 = 16;
/// Bytes of an attribute's header (`id`, `status`, value length).
pub const CRING_ATTR_HEADER_LEN: u32 = 4;
/// Largest attribute value, in bytes.
pub const CRING_MAX_ATTR_VALUE: u32 = 255;

const _: () =
    assert!(CRING_COMPLETION_HEAD_LEN as usize == ring_core::record::attrs::COMPLETION_HEAD_LEN);
const _: () = assert!(CRING_ATTR_HEADER_LEN as usize == ring_core::record::attrs::ATTR_HEADER_LEN);
const _: () = assert!(CRING_MAX_ATTR_VALUE as usize == MAX_ATTR_VALUE);

pub(crate) static RECORD_PRODUCERS: Table<RecProducer> = Table::new("record producer", 5);

/// An open reservation.
struct Open {
    /// Borrows `*RecProducer::producer` (see the module docs for why `'static` is sound).
    rec: RecordMut<'static>,
    /// For a completion record begun with `cring_completion_record_begin()`: the payload bytes
    /// its attributes fill so far.
    attrs: Option<usize>,
}

/// The object behind a record producer handle.
pub(crate) struct RecProducer {
    /// The open reservation. While `Some`, its `&mut` is the only reference to `*producer`.
    open: Option<Open>,
    /// From `Box::leak`; freed in `Drop`, after `open`.
    producer: NonNull<RecordProducer>,
}

// SAFETY: `RecordProducer` is `Send`, and the object owns its allocation, which moves with it.
// An open `RecordMut` is `!Send` only because it holds references into the shared ring (the
// data area's bytes, the producer line's atomics); the protocol gives the reservation exclusive
// use of its bytes whichever thread writes them (as it does between processes), and nothing in
// it is tied to the thread that made it.
unsafe impl Send for RecProducer {}
// SAFETY: every method takes `&mut self`; a `&RecProducer` gives access to nothing.
unsafe impl Sync for RecProducer {}

impl Drop for RecProducer {
    fn drop(&mut self) {
        // The reservation borrows the producer: end it first (dropping it uncommitted commits
        // it as discarded, which consumers skip).
        self.open = None;
        // SAFETY: `producer` came from `Box::leak` in `RecProducer::new` and is freed only here,
        // once; the reservation, the only other reference to it, was dropped just above.
        drop(unsafe { Box::from_raw(self.producer.as_ptr()) });
    }
}

impl RecProducer {
    fn new(p: RecordProducer) -> RecProducer {
        RecProducer {
            open: None,
            producer: NonNull::from(Box::leak(Box::new(p))),
        }
    }

    /// The producer, if no reservation is open.
    fn producer(&mut self) -> Result<&mut RecordProducer, Fail> {
        if self.open.is_some() {
            return Err(Fail::new(
                cring_status::WrongState,
                "record producer: a reservation is open: commit or discard it first",
            ));
        }
        // SAFETY: the allocation is live until `Drop`, and no reservation is open, so no other
        // reference to the producer exists; the new one is tied to `&mut self`.
        Ok(unsafe { self.producer.as_mut() })
    }

    fn open(&mut self) -> Result<&mut Open, Fail> {
        self.open.as_mut().ok_or_else(|| {
            Fail::new(
                cring_status::WrongState,
                "record producer: no reservation is open",
            )
        })
    }

    /// Reserves `len` bytes of type `ty` and returns the payload's address.
    fn reserve(&mut self, len: usize, ty: u8) -> Result<*mut u8, Fail> {
        self.producer()?;
        // SAFETY: the allocation is live until `Drop`, and no reservation is open (checked just
        // above), so this is the only reference to the producer. It is held only by the
        // reservation made from it, stored in `self.open` below (or dropped with the error);
        // while that is `Some` nothing else dereferences `producer`, and `commit`, `discard`
        // and `Drop` drop the reservation before the producer is reached again or freed.
        let p: &'static mut RecordProducer = unsafe { &mut *self.producer.as_ptr() };
        let mut rec = p.reserve_typed(len, ty)?;
        let data = rec.as_mut_ptr();
        self.open = Some(Open { rec, attrs: None });
        Ok(data)
    }

    fn commit(&mut self) -> Result<(), Fail> {
        let open = self.open()?;
        if let Some(at) = open.attrs {
            open.rec.truncate(at);
        }
        self.open.take().expect("checked").rec.commit();
        Ok(())
    }
}

fn record_type_arg(ty: u32) -> Result<u8, Fail> {
    match u8::try_from(ty) {
        Ok(t) if t > record_type::PAD && t <= record_type::MAX => Ok(t),
        _ => Err(Fail::invalid(format!(
            "record type {ty} is not one a producer may write (CRING_RECORD_TYPE_DATA, \
             CRING_RECORD_TYPE_COMPLETION, or CRING_RECORD_TYPE_USER_FIRST..=CRING_RECORD_TYPE_MAX)"
        ))),
    }
}

impl From<AttrError> for Fail {
    fn from(e: AttrError) -> Fail {
        let status = match e {
            AttrError::NoRoom { .. } => cring_status::TooLarge,
            AttrError::ValueTooLong { .. } | AttrError::Invalid { .. } => {
                cring_status::InvalidArgument
            }
            AttrError::NotCompletion { .. } => cring_status::WrongState,
            AttrError::Malformed { .. } | AttrError::ValueLength { .. } => cring_status::Corrupt,
        };
        Fail::new(status, e.to_string())
    }
}

/// Opens a producer of the record ring. In SPSC rings this claims the producer side, in shared
/// memory, so across processes too, until the producer is closed (a claim left by a process
/// that no longer exists is taken over); in MPSC rings it takes one of the ring's producer
/// records.
///
/// Ownership: the caller owns `*out` and closes it with `cring_record_producer_close()`. The
/// producer keeps the ring's memory alive: closing the ring handle first is allowed.
///
/// Thread safety: any thread. The producer serves one call at a time (a concurrent call on the
/// same producer returns `CRING_STATUS_IN_USE`): give each producing thread its own producer
/// (several are allowed in MPSC rings).
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (`records`), `CRING_STATUS_NULL_POINTER` (`out`),
/// `CRING_STATUS_BUSY` (another live producer holds an SPSC ring, or every producer record of
/// an MPSC ring is taken), `CRING_STATUS_CORRUPT`, `CRING_STATUS_NO_RESOURCES`. On failure
/// `*out` is `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_record_producer`.
#[no_mangle]
pub unsafe extern "C" fn cring_record_producer_open(
    records: cring_records,
    out: *mut cring_record_producer,
) -> cring_status {
    let open = || {
        let p = records_of(records)?.producer()?;
        RECORD_PRODUCERS.insert(RecProducer::new(p))
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_record_producer { id }, open) }
}

/// Closes a record producer: gives the SPSC claim or the MPSC producer record back. An open
/// reservation is committed as discarded (consumers skip it).
///
/// Thread safety: any thread. If a call on the producer is still running in another thread,
/// the producer is released when that call returns.
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (not open, for example closed already).
#[no_mangle]
pub extern "C" fn cring_record_producer_close(producer: cring_record_producer) -> cring_status {
    boundary(|| RECORD_PRODUCERS.remove(producer.id))
}

/// Reserves a data record (`CRING_RECORD_TYPE_DATA`) of `len` payload bytes and stores the
/// address of its payload in `*data`: write the payload there, then publish it with
/// `cring_record_commit()` or give it up with `cring_record_discard()`. While the reservation
/// is open, the producer's other functions return `CRING_STATUS_WRONG_STATE`.
///
/// Ownership: `*data` points into the ring: `len` writable bytes, 8-byte aligned, valid until
/// the reservation is committed or discarded (or the producer closed). Do not free it. Its
/// previous contents are unspecified.
///
/// Thread safety: see `cring_record_producer_open()`.
///
/// Errors: `CRING_STATUS_FULL` (no room now: nothing was reserved; try again later),
/// `CRING_STATUS_TOO_LARGE` (`len` exceeds the ring's largest record,
/// `cring_records_info.max_record_len`: it can never fit), `CRING_STATUS_BAD_HANDLE`,
/// `CRING_STATUS_IN_USE`, `CRING_STATUS_NULL_POINTER` (`data`), `CRING_STATUS_WRONG_STATE` (a
/// reservation is open already), `CRING_STATUS_CORRUPT`. On failure `*data` is NULL.
///
/// # Safety
///
/// `data` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn cring_record_reserve(
    producer: cring_record_producer,
    len: usize,
    data: *mut *mut c_void,
) -> cring_status {
    // SAFETY: the caller's guarantee for `data`.
    unsafe { cring_record_reserve_typed(producer, len, CRING_RECORD_TYPE_DATA, data) }
}

/// `cring_record_reserve()` for a record of type `record_type`: `CRING_RECORD_TYPE_DATA`,
/// `CRING_RECORD_TYPE_COMPLETION` (whose payload you then lay out yourself, as
/// spec/RECORDS.md says), or an application type from `CRING_RECORD_TYPE_USER_FIRST` to
/// `CRING_RECORD_TYPE_MAX`.
///
/// Ownership, thread safety: as for `cring_record_reserve()`.
///
/// Errors: `CRING_STATUS_INVALID_ARGUMENT` (another `record_type`: nothing was reserved), and
/// as for `cring_record_reserve()`.
///
/// # Safety
///
/// `data` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn cring_record_reserve_typed(
    producer: cring_record_producer,
    len: usize,
    record_type: u32,
    data: *mut *mut c_void,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(data, "data")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, core::ptr::null_mut()) };
        let ty = record_type_arg(record_type)?;
        let mut g = RECORD_PRODUCERS.get_mut(producer.id)?;
        let p = g.get_mut().reserve(len, ty)?;
        // SAFETY: as above.
        unsafe { put(out, p.cast()) };
        Ok(())
    })
}

/// Shrinks the open reservation to its first `len` payload bytes (the rest is given back to
/// the ring): for a record reserved at its largest size and written shorter.
///
/// Thread safety: see `cring_record_producer_open()`.
///
/// Errors: `CRING_STATUS_INVALID_ARGUMENT` (`len` exceeds the reservation's length),
/// `CRING_STATUS_WRONG_STATE` (no reservation is open, or it is a completion record being
/// written with `cring_attr_push()`, whose length `cring_completion_record_finish()` sets),
/// `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`.
#[no_mangle]
pub extern "C" fn cring_record_truncate(
    producer: cring_record_producer,
    len: usize,
) -> cring_status {
    boundary(|| {
        let mut g = RECORD_PRODUCERS.get_mut(producer.id)?;
        let open = g.get_mut().open()?;
        if open.attrs.is_some() {
            return Err(Fail::new(
                cring_status::WrongState,
                "record producer: the open reservation is a completion record being written with \
                 cring_attr_push(); cring_completion_record_finish() sets its length",
            ));
        }
        if len > open.rec.len() {
            return Err(Fail::invalid(format!(
                "record producer: cannot truncate a {}-byte reservation to {len} bytes",
                open.rec.len()
            )));
        }
        open.rec.truncate(len);
        Ok(())
    })
}

/// Publishes the open reservation: the consumer sees the record (a sleeping consumer is woken).
/// A completion record begun with `cring_completion_record_begin()` is first cut to the
/// attributes written (as `cring_completion_record_finish()` does).
///
/// Thread safety: see `cring_record_producer_open()`.
///
/// Errors: `CRING_STATUS_WRONG_STATE` (no reservation is open), `CRING_STATUS_BAD_HANDLE`,
/// `CRING_STATUS_IN_USE`.
#[no_mangle]
pub extern "C" fn cring_record_commit(producer: cring_record_producer) -> cring_status {
    boundary(|| RECORD_PRODUCERS.get_mut(producer.id)?.get_mut().commit())
}

/// Gives up the open reservation: it is published as discarded, and consumers skip it.
///
/// Thread safety: see `cring_record_producer_open()`.
///
/// Errors: `CRING_STATUS_WRONG_STATE` (no reservation is open), `CRING_STATUS_BAD_HANDLE`,
/// `CRING_STATUS_IN_USE`.
#[no_mangle]
pub extern "C" fn cring_record_discard(producer: cring_record_producer) -> cring_status {
    boundary(|| {
        let mut g = RECORD_PRODUCERS.get_mut(producer.id)?;
        let p = g.get_mut();
        p.open()?;
        p.open.take().expect("checked").rec.discard();
        Ok(())
    })
}

/// Copies `len` bytes from `data` into a new data record and publishes it (reserve, copy and
/// commit in one call).
///
/// Thread safety: see `cring_record_producer_open()`.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`data` with `len > 0`), and as for
/// `cring_record_reserve()`; nothing is published on failure.
///
/// # Safety
///
/// `data` is NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cring_record_push(
    producer: cring_record_producer,
    data: *const c_void,
    len: usize,
) -> cring_status {
    // SAFETY: the caller's guarantee for `data`.
    unsafe { cring_record_push_typed(producer, data, len, CRING_RECORD_TYPE_DATA) }
}

/// `cring_record_push()` for a record of type `record_type` (see
/// `cring_record_reserve_typed()`).
///
/// Thread safety: see `cring_record_producer_open()`.
///
/// Errors: `CRING_STATUS_INVALID_ARGUMENT` (`record_type`), and as for `cring_record_push()`.
///
/// # Safety
///
/// `data` is NULL or readable for `len` bytes, and does not overlap the ring.
#[no_mangle]
pub unsafe extern "C" fn cring_record_push_typed(
    producer: cring_record_producer,
    data: *const c_void,
    len: usize,
    record_type: u32,
) -> cring_status {
    boundary(|| {
        let ty = record_type_arg(record_type)?;
        // SAFETY: the caller guarantees `len` readable bytes at a non-NULL `data`.
        let bytes = unsafe { bytes_arg(data, len, "data") }?;
        let mut g = RECORD_PRODUCERS.get_mut(producer.id)?;
        g.get_mut().producer()?.push_typed(bytes, ty)?;
        Ok(())
    })
}

/// A `(pointer, length)` argument as a slice (empty for `len == 0`, whatever the pointer).
///
/// # Safety
/// `p` is NULL or readable for `len` bytes, which nothing writes while the slice lives.
pub(crate) unsafe fn bytes_arg<'a>(
    p: *const c_void,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], Fail> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Fail::null(what));
    }
    if isize::try_from(len).is_err() {
        return Err(Fail::invalid(format!("`{what}` length {len} is too large")));
    }
    // SAFETY: non-NULL, `len` readable bytes (the caller's guarantee), `len <= isize::MAX`;
    // bytes have no alignment or validity requirement.
    Ok(unsafe { core::slice::from_raw_parts(p.cast::<u8>(), len) })
}

/// Bytes an attribute with a value of `value_len` bytes occupies in a completion record
/// (its 4-byte header and value, rounded up to 8). A completion record with attributes of
/// value lengths `v1..vn` needs `CRING_COMPLETION_HEAD_LEN + cring_attr_size(v1) + ... +
/// cring_attr_size(vn)` payload bytes.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn cring_attr_size(value_len: usize) -> usize {
    attr_size(value_len.min(usize::MAX - 16))
}

/// Begins a completion record: reserves a record of type `CRING_RECORD_TYPE_COMPLETION` with
/// room for `*completion` and `attr_room` bytes of attributes (the sum of `cring_attr_size()`
/// of the values to come), and writes the completion. Append attributes with
/// `cring_attr_push()`, then publish with `cring_completion_record_finish()` (the record is
/// cut to what was written) or give it up with `cring_record_discard()`.
///
/// Thread safety: see `cring_record_producer_open()`.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`completion`), `CRING_STATUS_FULL` (no room now),
/// `CRING_STATUS_TOO_LARGE` (the record can never fit), `CRING_STATUS_WRONG_STATE` (a
/// reservation is open already), `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`,
/// `CRING_STATUS_CORRUPT`. Nothing is reserved on failure.
///
/// # Safety
///
/// `completion` is NULL or points to a `cring_completion`.
#[no_mangle]
pub unsafe extern "C" fn cring_completion_record_begin(
    producer: cring_record_producer,
    completion: *const cring_completion,
    attr_room: usize,
) -> cring_status {
    boundary(|| {
        let c = in_ptr(completion, "completion")?;
        // SAFETY: the caller guarantees a readable `cring_completion` (plain integers).
        let c = unsafe { c.read() };
        let len = attr_room
            .checked_add(CRING_COMPLETION_HEAD_LEN as usize)
            .ok_or_else(|| Fail::invalid(format!("attr_room {attr_room} is too large")))?;
        let mut g = RECORD_PRODUCERS.get_mut(producer.id)?;
        let p = g.get_mut();
        p.reserve(len, record_type::COMPLETION)?;
        let open = p.open.as_mut().expect("just reserved");
        let at = AttrWriter::new(
            &mut open.rec,
            Completion::new(c.user_data, c.result, c.flags),
        )
        .map(|w| w.written());
        match at {
            Ok(at) => {
                open.attrs = Some(at);
                Ok(())
            }
            Err(e) => {
                // Cannot happen (the record has at least 16 bytes); never leave it open.
                p.open.take().expect("open").rec.discard();
                Err(e.into())
            }
        }
    })
}

/// Appends an attribute to the completion record begun with
/// `cring_completion_record_begin()`: its `id` (`CRING_ATTR_*` or an application id from
/// `CRING_ATTR_USER_FIRST`), its `status` (`CRING_ATTR_STATUS_*`) and `len` value bytes from
/// `value` (little-endian numbers for the well-known ids: 8 bytes for durations and byte
/// counts, 4 for the CPU, 1 for the cache hit; no value for a requested, unsupported or
/// supported attribute).
///
/// Thread safety: see `cring_record_producer_open()`.
///
/// Errors: `CRING_STATUS_TOO_LARGE` (the attribute does not fit in the room left: nothing was
/// written; the record stays open), `CRING_STATUS_INVALID_ARGUMENT` (`id` or `status` 0, or
/// `len > CRING_MAX_ATTR_VALUE`), `CRING_STATUS_NULL_POINTER` (`value` with `len > 0`),
/// `CRING_STATUS_WRONG_STATE` (no completion record is being written),
/// `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`.
///
/// # Safety
///
/// `value` is NULL or readable for `len` bytes, and does not overlap the open reservation.
#[no_mangle]
pub unsafe extern "C" fn cring_attr_push(
    producer: cring_record_producer,
    id: u16,
    status: u8,
    value: *const c_void,
    len: usize,
) -> cring_status {
    boundary(|| {
        if len > MAX_ATTR_VALUE {
            return Err(AttrError::ValueTooLong { len }.into());
        }
        // SAFETY: the caller guarantees `len` readable bytes at a non-NULL `value`, not in the
        // reservation that is written below.
        let value = unsafe { bytes_arg(value, len, "value") }?;
        let mut g = RECORD_PRODUCERS.get_mut(producer.id)?;
        let open = g.get_mut().open()?;
        let Some(at) = open.attrs else {
            return Err(Fail::new(
                cring_status::WrongState,
                "record producer: the open reservation is not a completion record begun with \
                 cring_completion_record_begin()",
            ));
        };
        let mut w = AttrWriter::resume(&mut open.rec, at)?;
        w.push(id, status, value)?;
        open.attrs = Some(w.written());
        Ok(())
    })
}

/// Ends the completion record begun with `cring_completion_record_begin()`: cuts it to the
/// completion and the attributes written, and publishes it. Stores its payload length in
/// `*len` if `len` is not NULL.
///
/// Thread safety: see `cring_record_producer_open()`.
///
/// Errors: `CRING_STATUS_WRONG_STATE` (no completion record is being written),
/// `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IN_USE`.
///
/// # Safety
///
/// `len` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_completion_record_finish(
    producer: cring_record_producer,
    len: *mut usize,
) -> cring_status {
    boundary(|| {
        let out = if len.is_null() {
            None
        } else {
            Some(out_ptr(len, "len")?)
        };
        let mut g = RECORD_PRODUCERS.get_mut(producer.id)?;
        let p = g.get_mut();
        let Some(at) = p.open()?.attrs else {
            return Err(Fail::new(
                cring_status::WrongState,
                "record producer: the open reservation is not a completion record begun with \
                 cring_completion_record_begin()",
            ));
        };
        p.commit()?;
        if let Some(out) = out {
            // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
            unsafe { put(out, at) };
        }
        Ok(())
    })
}
