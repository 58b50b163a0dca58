//! Reading completion records: the completion, then an iterator over its attributes
//! (spec/RECORDS.md, section 9). The iterator works on any copy of the payload (in place after
//! `cring_record_read()`, or a buffer filled by `cring_record_pop_into()`).

use crate::record_producer::bytes_arg;
use crate::status::{boundary, cring_status, Fail};
use crate::types::cring_completion;
use crate::{out_ptr, put};
use core::ffi::c_void;
use ring_core::record::attrs::COMPLETION_HEAD_LEN;
use ring_core::record::attrs::{attr_id, attr_size, attr_status, parse_completion, AttrError};

/// Attribute id: time the operation took, in ns (8-byte value).
pub const CRING_ATTR_DURATION_NS: u16 = 1;
/// Attribute id: time from submission to start, in ns (8-byte value).
pub const CRING_ATTR_QUEUE_TIME_NS: u16 = 2;
/// Attribute id: bytes moved (8-byte value).
pub const CRING_ATTR_BYTES_TRANSFERRED: u16 = 3;
/// Attribute id: CPU the worker ran on (4-byte value).
pub const CRING_ATTR_WORKER_CPU: u16 = 4;
/// Attribute id: cache hit (1) or miss (0) (1-byte value).
pub const CRING_ATTR_CACHE_HIT: u16 = 5;
/// First attribute id left to applications (up to 0xffff); ids from 6 below it are reserved.
pub const CRING_ATTR_USER_FIRST: u16 = 0x8000;

/// Attribute status: asked for, not answered (no value).
pub const CRING_ATTR_STATUS_REQUESTED: u8 = 1;
/// Attribute status: the completer does not know or cannot produce it (no value).
pub const CRING_ATTR_STATUS_UNSUPPORTED: u8 = 2;
/// Attribute status: known, but did not apply to this operation (no value).
pub const CRING_ATTR_STATUS_SUPPORTED: u8 = 3;
/// Attribute status: the value is present and valid.
pub const CRING_ATTR_STATUS_HANDLED: u8 = 4;
/// Attribute status: tried and failed; a 4-byte value is a positive errno.
pub const CRING_ATTR_STATUS_FAILED: u8 = 5;

const _: () = assert!(CRING_ATTR_DURATION_NS == attr_id::DURATION_NS);
const _: () = assert!(CRING_ATTR_QUEUE_TIME_NS == attr_id::QUEUE_TIME_NS);
const _: () = assert!(CRING_ATTR_BYTES_TRANSFERRED == attr_id::BYTES_TRANSFERRED);
const _: () = assert!(CRING_ATTR_WORKER_CPU == attr_id::WORKER_CPU);
const _: () = assert!(CRING_ATTR_CACHE_HIT == attr_id::CACHE_HIT);
const _: () = assert!(CRING_ATTR_USER_FIRST == attr_id::USER_FIRST);
const _: () = assert!(CRING_ATTR_STATUS_REQUESTED == attr_status::REQUESTED);
const _: () = assert!(CRING_ATTR_STATUS_UNSUPPORTED == attr_status::UNSUPPORTED);
const _: () = assert!(CRING_ATTR_STATUS_SUPPORTED == attr_status::SUPPORTED);
const _: () = assert!(CRING_ATTR_STATUS_HANDLED == attr_status::HANDLED);
const _: () = assert!(CRING_ATTR_STATUS_FAILED == attr_status::FAILED);

/// The iterator state: `done` values.
const GOING: u32 = 0;
const ENDED: u32 = 1;
const MALFORMED: u32 = 2;

/// An iterator over the attributes of a completion record's payload, set up by
/// `cring_attr_iter_init()` and advanced by `cring_attr_next()`. Treat the fields as private.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct cring_attr_iter {
    /// The payload.
    pub data: *const c_void,
    /// Its length in bytes.
    pub len: usize,
    /// Payload offset of the next attribute.
    pub offset: usize,
    /// 0 while attributes may follow, 1 at the end, 2 after a malformed attribute.
    pub done: u32,
    /// Always 0.
    pub reserved: u32,
}

/// One attribute, as `cring_attr_next()` reads it.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct cring_attr {
    /// Its value: `len` bytes inside the payload (NULL when `len` is 0). Numbers are
    /// little-endian; `cring_attr_value_u64()` decodes them.
    pub value: *const c_void,
    /// Its id (`CRING_ATTR_*`, or an application's from `CRING_ATTR_USER_FIRST`). Skip ids you
    /// do not know.
    pub id: u16,
    /// Its status (`CRING_ATTR_STATUS_*`; a later version may add others).
    pub status: u8,
    /// Always 0.
    pub reserved: u8,
    /// Bytes of the value (0 to `CRING_MAX_ATTR_VALUE`).
    pub len: u32,
}

/// Reads the completion at the start of a completion record's payload (`len` bytes at `data`,
/// as `cring_record_read()` or `cring_record_pop_into()` gave them) into `*completion` (if not
/// NULL), and sets `*iter` up to read its attributes with `cring_attr_next()`.
///
/// Ownership: `*iter` refers to `data`, which must stay valid while it is used; it owns
/// nothing (no clean-up).
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_CORRUPT` (a payload shorter than `CRING_COMPLETION_HEAD_LEN`),
/// `CRING_STATUS_NULL_POINTER` (`iter`, or `data` with `len > 0`). On failure `*iter` yields
/// nothing (`cring_attr_next()` returns `CRING_STATUS_EMPTY`).
///
/// # Safety
///
/// `data` is NULL or readable for `len` bytes (for as long as `*iter` is used); `completion`
/// is NULL or valid for writing a `cring_completion`; `iter` is NULL or valid for writing a
/// `cring_attr_iter`.
#[no_mangle]
pub unsafe extern "C" fn cring_attr_iter_init(
    data: *const c_void,
    len: usize,
    completion: *mut cring_completion,
    iter: *mut cring_attr_iter,
) -> cring_status {
    boundary(|| {
        let it = out_ptr(iter, "iter")?;
        let empty = cring_attr_iter {
            data: core::ptr::null(),
            len: 0,
            offset: 0,
            done: ENDED,
            reserved: 0,
        };
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(it, empty) };
        let c_out = if completion.is_null() {
            None
        } else {
            Some(out_ptr(completion, "completion")?)
        };
        // SAFETY: the caller guarantees `len` readable bytes at a non-NULL `data`.
        let payload = unsafe { bytes_arg(data, len, "data") }?;
        let (c, _) = parse_completion(payload).map_err(attr_fail)?;
        // SAFETY: as above, for both out pointers.
        unsafe {
            if let Some(p) = c_out {
                put(
                    p,
                    cring_completion {
                        user_data: c.user_data,
                        result: c.result,
                        flags: c.flags,
                    },
                );
            }
            put(
                it,
                cring_attr_iter {
                    data,
                    len,
                    offset: COMPLETION_HEAD_LEN,
                    done: GOING,
                    reserved: 0,
                },
            );
        }
        Ok(())
    })
}

fn attr_fail(e: AttrError) -> Fail {
    Fail::new(cring_status::Corrupt, format!("completion record: {e}"))
}

/// Reads the next attribute into `*attr` and advances `*iter`. Returns `CRING_STATUS_EMPTY` at
/// the end of the list (and from then on).
///
/// Ownership: `attr->value` points into the payload `*iter` reads.
///
/// Thread safety: any thread; one thread at a time per iterator.
///
/// Errors: `CRING_STATUS_CORRUPT` (a malformed attribute: a truncated header, id or status 0,
/// or a value running past the end of the payload; the message gives its offset; the
/// iterator stops there and returns this again), `CRING_STATUS_INVALID_ARGUMENT` (`*iter` was
/// not set up by `cring_attr_iter_init()`), `CRING_STATUS_NULL_POINTER` (`iter`, `attr`).
///
/// # Safety
///
/// `iter` is NULL or points to a `cring_attr_iter` set up by `cring_attr_iter_init()` whose
/// payload is still readable; `attr` is NULL or valid for writing a `cring_attr`.
#[no_mangle]
pub unsafe extern "C" fn cring_attr_next(
    iter: *mut cring_attr_iter,
    attr: *mut cring_attr,
) -> cring_status {
    boundary(|| {
        let it_ptr = out_ptr(iter, "iter")?;
        let out = out_ptr(attr, "attr")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees a `cring_attr_iter`
        // (integers and a pointer: any bytes are a valid value).
        let mut it = unsafe { it_ptr.read() };
        match it.done {
            GOING => {}
            ENDED => return Err(Fail::new(cring_status::Empty, "no more attributes")),
            MALFORMED => {
                return Err(Fail::new(
                    cring_status::Corrupt,
                    format!(
                        "completion record: the attribute list is malformed at payload offset {}",
                        it.offset
                    ),
                ))
            }
            d => return Err(Fail::invalid(format!("attribute iterator state {d}"))),
        }
        if it.offset < COMPLETION_HEAD_LEN
            || it.offset > it.len
            || it.offset % 8 != 0
            || (it.data.is_null() && it.len > 0)
        {
            return Err(Fail::invalid(format!(
                "attribute iterator at offset {} of a {}-byte payload was not set up by \
                 cring_attr_iter_init()",
                it.offset, it.len
            )));
        }
        // SAFETY: the caller guarantees the payload `cring_attr_iter_init()` checked is still
        // readable for `len` bytes.
        let payload = unsafe { bytes_arg(it.data, it.len, "iter->data") }?;
        // The library's iterator starts 16 bytes into the slice it is given, after the
        // completion: hand it the payload from 16 bytes before the next attribute.
        let base = it.offset - COMPLETION_HEAD_LEN;
        let (_, mut attrs) = parse_completion(&payload[base..]).map_err(attr_fail)?;
        let result = match attrs.next() {
            None => {
                it.done = ENDED;
                Err(Fail::new(cring_status::Empty, "no more attributes"))
            }
            Some(Err(AttrError::Malformed { offset, reason })) => {
                it.done = MALFORMED;
                it.offset = base + offset;
                Err(attr_fail(AttrError::Malformed {
                    offset: base + offset,
                    reason,
                }))
            }
            Some(Err(e)) => {
                it.done = MALFORMED;
                Err(attr_fail(e))
            }
            Some(Ok(a)) => {
                it.offset += attr_size(a.value.len());
                let value = cring_attr {
                    value: if a.value.is_empty() {
                        core::ptr::null()
                    } else {
                        a.value.as_ptr().cast()
                    },
                    id: a.id,
                    status: raw_status(a.status),
                    reserved: 0,
                    len: a.value.len() as u32,
                };
                // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
                unsafe { put(out, value) };
                Ok(())
            }
        };
        // SAFETY: as for the read above; the caller guarantees it is writable.
        unsafe { put(it_ptr, it) };
        result
    })
}

fn raw_status(s: ring_core::record::attrs::AttrStatus) -> u8 {
    use ring_core::record::attrs::AttrStatus::*;
    match s {
        Requested => attr_status::REQUESTED,
        Unsupported => attr_status::UNSUPPORTED,
        Supported => attr_status::SUPPORTED,
        Handled => attr_status::HANDLED,
        Failed => attr_status::FAILED,
        Other(x) => x,
    }
}

/// Decodes an attribute's value as a little-endian unsigned number of 1, 2, 4 or 8 bytes (the
/// well-known ids' values, an errno of a failed attribute) into `*value`.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_INVALID_ARGUMENT` (a value of another length, or none),
/// `CRING_STATUS_NULL_POINTER` (`attr`, `value`). On failure `*value` is 0.
///
/// # Safety
///
/// `attr` is NULL or points to a `cring_attr` filled by `cring_attr_next()` whose payload is
/// still readable; `value` is NULL or valid for writing a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_attr_value_u64(
    attr: *const cring_attr,
    value: *mut u64,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(value, "value")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, 0) };
        let a = crate::in_ptr(attr, "attr")?;
        // SAFETY: the caller guarantees a `cring_attr` (any bytes are a valid value).
        let a = unsafe { a.read() };
        let n = a.len as usize;
        if !matches!(n, 1 | 2 | 4 | 8) {
            return Err(Fail::invalid(format!(
                "attribute {} has a {n}-byte value, not a number of 1, 2, 4 or 8 bytes",
                a.id
            )));
        }
        // SAFETY: the caller guarantees the value's `len` bytes are readable.
        let bytes = unsafe { bytes_arg(a.value, n, "attr->value") }?;
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(bytes);
        // SAFETY: as above.
        unsafe { put(out, u64::from_le_bytes(b)) };
        Ok(())
    })
}
