//! The C ABI of `ring-core`: regions, rings, producers and consumers for programs written in C
//! (or anything that calls C).
//!
//! The package builds `libring_ffi.so` (cdylib) and `libring_ffi.a` (staticlib); the header is
//! `include/cring.h`, generated from this source by cbindgen and checked in (the `header` test
//! fails when it is out of date; `CRING_UPDATE_HEADER=1 cargo test -p ring-ffi --test header`
//! regenerates it). See `README.md` beside this crate for building and linking.
//!
//! # Conventions of the ABI
//!
//! - Every function that can fail returns a [`cring_status`]; results come back through out
//!   pointers. A function that returns a handle writes `{0}` (never a valid handle) to its out
//!   pointer when it fails.
//! - Handles (`cring_region`, `cring_ring`, `cring_producer`, `cring_consumer`, and for record
//!   rings `cring_records`, `cring_record_producer`, `cring_record_consumer`; for
//!   asynchronous system calls `cring_aio_pool`, `cring_aio_target`) are small
//!   structs holding a generational id, passed by value. A closed handle, a handle of another
//!   kind, or any made-up value gives `CRING_STATUS_BAD_HANDLE`, never undefined behaviour: ids
//!   are never reused.
//! - Every entry point is a panic boundary: a panic inside the library is caught and returned
//!   as `CRING_STATUS_PANIC` (and poisons the handle involved); it never unwinds into C.
//! - Entries cross the ABI as pointers plus the caller's `entry_size` (`sizeof` of its entry
//!   type), which must equal the ring's entry size; entry pointers must be aligned to the
//!   entry's alignment.
//! - Region, ring and the handle-table functions may be called from any thread. A producer or
//!   consumer handle serves one call at a time: a call made while another thread is inside a
//!   call on the same handle returns `CRING_STATUS_IN_USE` at once (no call ever blocks on a
//!   lock of the library; only opening and closing handles take one). Use one producer or
//!   consumer handle per thread.
//! - Failures record a message for the calling thread: `cring_last_error_message()`.
//!
//! # Entry types
//!
//! Completions (`cring_completion`, 16 bytes) are the main type. Rings of caller-defined
//! "opaque" entries are supported for an alignment of 4, 8 or 16 bytes and every size that is a
//! non-zero multiple of the alignment up to [`CRING_MAX_OPAQUE_ENTRY_SIZE`] bytes (each supported
//! type is compiled in, so the menu is kept small; smaller alignments can be padded); such
//! a ring has the same header as a Rust `Ring<T>` of a `#[repr(C)]` type of that size and
//! alignment, so C and Rust programs share it.
//!
//! # Record rings
//!
//! Record rings (`cring_records_*`, `cring_record_*`) carry variable-length records instead of
//! entries: a payload of bytes and a type, written and read in place (spec/RECORDS.md). A
//! completion record is a `cring_completion` followed by attributes, each an id, a status and
//! a value: written with `cring_completion_record_begin()`, `cring_attr_push()` and
//! `cring_completion_record_finish()`, read with `cring_attr_iter_init()` and
//! `cring_attr_next()`. They are the same regions as Rust's `ring_core::record::RecordRing`.
//!
//! # Asynchronous system calls
//!
//! `cring_aio_*` is the C face of `ring-aio`: a pool of worker threads of the calling process
//! (`cring_aio_pool_create()`) runs reads, writes (plain, positioned, vectored), fsync,
//! fdatasync, openat, close, statx and fallocate (`cring_aio_sub`, submitted one at a time or
//! in batches) and posts each result, with the submission's cookie, into the ring its target
//! names (`cring_aio_target_open()` on a ring of `cring_completion`s; or
//! `cring_aio_target_open_records()` for completion records with attributes). The caller
//! reaps completions with the ordinary consumer functions. Buffers are the caller's and stay
//! lent until the completion is reaped. `cring_aio_cancel()` reports what a cancellation did;
//! `cring_aio_close()` closes a descriptor after (or cancelling) what is in flight on it;
//! `cring_aio_pool_destroy()` cancels what is outstanding and joins the workers.

#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int};

mod dynring;
mod handles;
mod status;
mod types;

// The entry points, in the order the header lists them (cbindgen follows this order).
mod region;

mod ring;

mod producer;

mod consumer;

mod records;

mod record_producer;

mod record_consumer;

mod attr_iter;

mod aio;

pub use aio::*;
pub use attr_iter::*;
pub use consumer::*;
pub use producer::*;
pub use record_consumer::*;
pub use record_producer::*;
pub use records::*;
pub use region::*;
pub use ring::*;
pub use status::cring_status;
pub use types::*;

use status::{boundary, boundary_value, Fail};

/// The version of this library as a string, `"MAJOR.MINOR.PATCH"`.
///
/// Ownership: the string is static; do not free it. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn cring_version() -> *const c_char {
    const V: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    V.as_ptr().cast()
}

/// The version of this library as one number (`CRING_VERSION_NUMBER` of the header it was
/// built with). A program can compare it with the `CRING_VERSION_NUMBER` it was compiled with.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn cring_version_number() -> u32 {
    CRING_VERSION_NUMBER
}

/// A static, NUL-terminated description of a status code; `"unknown status code"` for a value
/// that is not a `cring_status`.
///
/// Ownership: the string is static; do not free it. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn cring_status_message(code: u32) -> *const c_char {
    boundary_value(c"unknown status code".as_ptr(), || {
        cring_status::from_code(code)
            .map_or(c"unknown status code", |s| s.message())
            .as_ptr()
    })
}

/// The name of a status code's constant (`"CRING_STATUS_FULL"`); `"CRING_STATUS_UNKNOWN"` for a
/// value that is not a `cring_status`.
///
/// Ownership: the string is static; do not free it. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn cring_status_name(code: u32) -> *const c_char {
    boundary_value(c"CRING_STATUS_UNKNOWN".as_ptr(), || {
        cring_status::from_code(code)
            .map_or(c"CRING_STATUS_UNKNOWN", |s| s.name())
            .as_ptr()
    })
}

/// Copies the message of the calling thread's last failure (a function that returned a status
/// other than `CRING_STATUS_OK`) into `buf`, truncated and always NUL-terminated when `len > 0`,
/// like `snprintf`. Returns the length of the whole message (excluding the NUL), so a return
/// value `>= len` means it was truncated; 0 if no call on this thread has failed.
///
/// The message is more specific than `cring_status_message()`: for example which header field
/// refused an attach, or the OS error of a failed system call.
///
/// Thread safety: any thread; each thread has its own last error.
///
/// # Safety
///
/// `buf` is NULL (then only the length is returned) or writable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cring_last_error_message(buf: *mut c_char, len: usize) -> usize {
    boundary_value(0, || status::copy_last_error(buf, len))
}

/// The `errno` of the calling thread's last failure if it was a failed system call
/// (`CRING_STATUS_IO` or `CRING_STATUS_HUGEPAGES_UNAVAILABLE`), else 0.
///
/// Thread safety: any thread; each thread has its own last error.
#[no_mangle]
pub extern "C" fn cring_last_os_error() -> c_int {
    boundary_value(0, || status::last_error().2)
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the entry points.

/// Checks an out pointer: non-NULL and aligned.
pub(crate) fn out_ptr<T>(p: *mut T, what: &'static str) -> Result<*mut T, Fail> {
    if p.is_null() {
        return Err(Fail::null(what));
    }
    if p as usize % core::mem::align_of::<T>() != 0 {
        return Err(Fail::new(
            cring_status::Misaligned,
            format!("`{what}` at {p:p} is misaligned"),
        ));
    }
    Ok(p)
}

/// Checks an in pointer to a struct: non-NULL and aligned.
pub(crate) fn in_ptr<T>(p: *const T, what: &'static str) -> Result<*const T, Fail> {
    out_ptr(p.cast_mut(), what).map(|p| p.cast_const())
}

/// Writes `value` through a checked out pointer.
///
/// # Safety
/// `p` is valid for writing a `T` (checked non-NULL and aligned by [`out_ptr`]).
pub(crate) unsafe fn put<T>(p: *mut T, value: T) {
    // SAFETY: the caller's guarantee.
    unsafe { p.write(value) }
}

/// Writes a handle's id through `out` (when non-NULL) after running `f`: the id on success,
/// `{0}` on failure.
///
/// # Safety
/// `out` is NULL or valid for writing a `H`.
pub(crate) unsafe fn handle_out<H>(
    out: *mut H,
    make: impl Fn(u64) -> H,
    f: impl FnOnce() -> Result<u64, Fail>,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(out, "out")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, make(0)) };
        let id = f()?;
        // SAFETY: as above.
        unsafe { put(out, make(id)) };
        Ok(())
    })
}

/// Reads a NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `s` is NULL or a NUL-terminated string.
pub(crate) unsafe fn str_arg<'a>(s: *const c_char, what: &'static str) -> Result<&'a str, Fail> {
    if s.is_null() {
        return Err(Fail::null(what));
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    let c = unsafe { core::ffi::CStr::from_ptr(s) };
    c.to_str()
        .map_err(|_| Fail::invalid(format!("`{what}` is not valid UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_the_package() {
        assert_eq!(
            CRING_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            CRING_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            CRING_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
    }

    #[test]
    fn panics_become_a_status() {
        let s = boundary(|| panic!("deliberate test panic"));
        assert_eq!(s, cring_status::Panic);
        let mut buf = [0 as c_char; 128];
        // SAFETY: a local buffer of the length passed.
        let n = unsafe { cring_last_error_message(buf.as_mut_ptr(), buf.len()) };
        // SAFETY: NUL-terminated by cring_last_error_message.
        let msg = unsafe { core::ffi::CStr::from_ptr(buf.as_ptr()) };
        let msg = msg.to_str().unwrap();
        assert!(msg.contains("deliberate test panic"), "{msg}");
        assert_eq!(n, msg.len());
        let s = boundary(|| std::panic::panic_any(42u32));
        assert_eq!(s, cring_status::Panic);
    }
}
