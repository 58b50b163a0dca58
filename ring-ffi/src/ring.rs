//! Rings: create, attach, inspect, and the wake-up controls.

use crate::dynring::{with_entry, Attach, Create, RegionLen, RegionObj, RingDyn};
use crate::handles::Table;
use crate::region::{open_region, region_of};
use crate::status::{boundary, cring_status, Fail};
use crate::types::*;
use crate::{handle_out, in_ptr, out_ptr, put, str_arg};
use core::ffi::{c_char, c_int};
use ring_core::region::Region;
use ring_core::{Config, Mode};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;

pub(crate) static RINGS: Table<Arc<dyn RingDyn>> = Table::new("ring", 1);

/// The ring of handle `r`.
pub(crate) fn ring_of(r: cring_ring) -> Result<Arc<dyn RingDyn>, Fail> {
    Ok(RINGS.get(r.id)?.get().clone())
}

fn mode_of(bits: u32) -> Result<Mode, Fail> {
    Mode::from_bits(bits).ok_or_else(|| Fail::invalid(format!("invalid mode {bits:#x}")))
}

/// Reads and checks a caller's configuration.
///
/// # Safety
/// `cfg` is NULL or points to a `cring_config`.
unsafe fn config_arg(cfg: *const cring_config) -> Result<(Config, cring_entry_type), Fail> {
    let p = in_ptr(cfg, "config")?;
    // SAFETY: the caller guarantees a readable `cring_config`, whose first field is the `u32`
    // `struct_size`: read it alone first, so that a caller built against another layout of the
    // struct is refused before more bytes are read than it has.
    let struct_size = unsafe { p.cast::<u32>().read() };
    if struct_size as usize != core::mem::size_of::<cring_config>() {
        return Err(Fail::invalid(format!(
            "config.struct_size is {struct_size}, expected sizeof(cring_config) = {} (initialise it with cring_config_init())",
            core::mem::size_of::<cring_config>()
        )));
    }
    // SAFETY: as above, and the size matches: every field is an integer, so any bytes are valid.
    let c = unsafe { p.read() };
    let mut config = Config::new(c.capacity)
        .mode(mode_of(c.mode)?)
        .initial_index(c.initial_index)
        .overflow(c.overflow_capacity);
    config.wait = c.wait != 0;
    Ok((config, c.entry))
}

/// A configuration for a ring of `capacity` completions: SPSC, indices starting at 0, no
/// overflow area, with the wait block. Change fields as needed; leave `struct_size` alone.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn cring_config_init(capacity: u32) -> cring_config {
    cring_config {
        struct_size: core::mem::size_of::<cring_config>() as u32,
        capacity,
        mode: CRING_MODE_SPSC,
        initial_index: 0,
        overflow_capacity: 0,
        wait: 1,
        entry: cring_entry_type::COMPLETION,
    }
}

/// The entry type of completions (`cring_completion`).
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn cring_entry_completion() -> cring_entry_type {
    cring_entry_type::COMPLETION
}

/// The entry type of caller-defined entries of `size` bytes and alignment `align` (use `sizeof`
/// and `_Alignof` of your struct). Whether it is supported is checked when it is used.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn cring_entry_opaque(size: u32, align: u32) -> cring_entry_type {
    cring_entry_type {
        format: CRING_ENTRY_FORMAT_OPAQUE,
        size,
        align,
    }
}

/// The number of bytes a region needs for a ring laid out per `config`.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`config`, `len`), `CRING_STATUS_INVALID_ARGUMENT`
/// (`struct_size`, capacity, overflow capacity or mode invalid), `CRING_STATUS_ENTRY_MISMATCH` /
/// `CRING_STATUS_UNSUPPORTED_ENTRY` (entry type).
///
/// # Safety
///
/// `config` is NULL or points to a `cring_config`; `len` is NULL or valid for writing a
/// `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_config_region_len(
    config: *const cring_config,
    len: *mut u64,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(len, "len")?;
        // SAFETY: the caller's guarantee for `config`.
        let (config, entry) = unsafe { config_arg(config) }?;
        let n = with_entry(&entry, RegionLen(config))??;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, n) };
        Ok(())
    })
}

fn create_in(region: Arc<RegionObj>, config: Config, entry: cring_entry_type) -> Result<u64, Fail> {
    let ring = with_entry(&entry, Create { region, config })??;
    RINGS.insert(ring)
}

fn attach_in(region: Arc<RegionObj>, entry: cring_entry_type, mode: u32) -> Result<u64, Fail> {
    let mode = match mode {
        CRING_MODE_ANY => None,
        m => Some(mode_of(m)?),
    };
    // Name the file in the error (a ring under /dev/shm or hugetlbfs): which ring refused.
    let path = region.with(|r| r.path().map(|p| p.display().to_string()));
    let ring = match with_entry(&entry, Attach { region, mode }) {
        Ok(Ok(ring)) => ring,
        Ok(Err(mut f)) | Err(mut f) => {
            if let Some(p) = path {
                f.detail = format!("{p}: {}", f.detail).into();
            }
            return Err(f);
        }
    };
    RINGS.insert(ring)
}

/// Formats `region` as a new, empty ring laid out per `config` and opens it.
///
/// The region is not consumed: the ring keeps its memory alive, and the region handle may be
/// closed at once or kept (for `cring_region_fd()`, `cring_region_unlink()`). Formatting
/// memory that a live ring uses breaks that ring (its users see corruption, never undefined
/// behaviour): create first, then let others attach.
///
/// Ownership: the caller owns `*out` and closes it with `cring_ring_close()`.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`config`, `out`), `CRING_STATUS_BAD_HANDLE` (`region`),
/// `CRING_STATUS_INVALID_ARGUMENT` (`struct_size`, capacity not a power of two in
/// `2..=2^31`, overflow capacity, mode), `CRING_STATUS_UNSUPPORTED_ENTRY` /
/// `CRING_STATUS_ENTRY_MISMATCH` (entry type), `CRING_STATUS_MISALIGNED` (region base not
/// 128-byte aligned), `CRING_STATUS_REGION_TOO_SHORT`, `CRING_STATUS_NO_RESOURCES`. On failure
/// `*out` is `{0}` and the region is left untouched.
///
/// # Safety
///
/// `config` is NULL or points to a `cring_config`; `out` is NULL or valid for writing a
/// `cring_ring`.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_create(
    region: cring_region,
    config: *const cring_config,
    out: *mut cring_ring,
) -> cring_status {
    let open = || {
        // SAFETY: the caller's guarantee for `config`.
        let (config, entry) = unsafe { config_arg(config) }?;
        create_in(region_of(region)?, config, entry)
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_ring { id }, open) }
}

/// Validates `region` as an existing ring of entries of type `*entry` (made by this or another
/// process, in C or Rust) and opens it. Every header field is checked and kept in private
/// trusted copies: nothing a peer writes later can make the library access memory outside the
/// ring. `mode` is `CRING_MODE_ANY` or the mode the ring must have.
///
/// Ownership: as for `cring_ring_create()`.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`entry`, `out`), `CRING_STATUS_BAD_HANDLE` (`region`),
/// `CRING_STATUS_NOT_A_RING` (bad magic: not a ring, or not formatted yet),
/// `CRING_STATUS_ENTRY_MISMATCH` (the ring's entries have another format, size or alignment),
/// `CRING_STATUS_UNSUPPORTED_ENTRY`, `CRING_STATUS_MODE_MISMATCH`, `CRING_STATUS_VERSION`
/// (another layout major version or unknown incompatible features), `CRING_STATUS_MISALIGNED`,
/// `CRING_STATUS_REGION_TOO_SHORT`, `CRING_STATUS_LAYOUT` (another header inconsistency; the
/// message names the field), `CRING_STATUS_INVALID_ARGUMENT` (`mode`),
/// `CRING_STATUS_NO_RESOURCES`. On failure `*out` is `{0}`.
///
/// # Safety
///
/// `entry` is NULL or points to a `cring_entry_type`; `out` is NULL or valid for writing a
/// `cring_ring`.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_attach(
    region: cring_region,
    entry: *const cring_entry_type,
    mode: u32,
    out: *mut cring_ring,
) -> cring_status {
    let open = || {
        let e = in_ptr(entry, "entry")?;
        // SAFETY: the caller guarantees a readable `cring_entry_type` (plain integers).
        let e = unsafe { e.read() };
        attach_in(region_of(region)?, e, mode)
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_ring { id }, open) }
}

/// Creates a ring laid out per `config` in a new heap region of the right size (threads of
/// this process only). The region is freed when the ring is closed.
///
/// Ownership: as for `cring_ring_create()`.
///
/// Thread safety: any thread.
///
/// Errors: as for `cring_ring_create()` and `cring_region_heap()`.
///
/// # Safety
///
/// As for `cring_ring_create()`.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_create_heap(
    config: *const cring_config,
    out: *mut cring_ring,
) -> cring_status {
    let open = || {
        // SAFETY: the caller's guarantee for `config`.
        let (config, entry) = unsafe { config_arg(config) }?;
        let len = with_entry(&entry, RegionLen(config))??;
        let len = usize::try_from(len).map_err(|_| Fail::invalid("ring too large"))?;
        create_in(RegionObj::new(Region::heap(len)?), config, entry)
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_ring { id }, open) }
}

/// Creates a ring laid out per `config` in a new file `/dev/shm/<name>` (created exclusively,
/// mode 0600, of the right size). Other processes open it with `cring_ring_open_shm()`. The file
/// is removed when the ring is closed (get its region with `cring_ring_region()` to unlink it
/// earlier or keep it).
///
/// Ownership: as for `cring_ring_create()`.
///
/// Thread safety: any thread.
///
/// Errors: as for `cring_ring_create()` and `cring_region_shm_create()`. On failure no file is
/// left behind.
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string; otherwise as for `cring_ring_create()`.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_create_shm(
    name: *const c_char,
    config: *const cring_config,
    out: *mut cring_ring,
) -> cring_status {
    let open = || {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: the caller's guarantee for `config`.
        let (config, entry) = unsafe { config_arg(config) }?;
        let len = with_entry(&entry, RegionLen(config))??;
        let len = usize::try_from(len).map_err(|_| Fail::invalid("ring too large"))?;
        let region = Region::shm_create(name, len, 0o600)?;
        create_in(RegionObj::new(region), config, entry)
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_ring { id }, open) }
}

/// Opens `/dev/shm/<name>` and attaches to the ring in it (see `cring_ring_attach()`).
///
/// Ownership: as for `cring_ring_create()`; the mapping is released when the ring is closed.
///
/// Thread safety: any thread.
///
/// Errors: as for `cring_ring_attach()` and `cring_region_shm_open()`.
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string; otherwise as for `cring_ring_attach()`.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_open_shm(
    name: *const c_char,
    entry: *const cring_entry_type,
    mode: u32,
    out: *mut cring_ring,
) -> cring_status {
    let open = || {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let name = unsafe { str_arg(name, "name") }?;
        let e = in_ptr(entry, "entry")?;
        // SAFETY: the caller guarantees a readable `cring_entry_type` (plain integers).
        let e = unsafe { e.read() };
        attach_in(RegionObj::new(Region::shm_open(name)?), e, mode)
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_ring { id }, open) }
}

/// Closes a ring handle. The ring itself (its memory, its eventfd) is released when its
/// producers and consumers are closed too.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (not open, for example closed already).
#[no_mangle]
pub extern "C" fn cring_ring_close(ring: cring_ring) -> cring_status {
    boundary(|| RINGS.remove(ring.id))
}

/// Opens a new region handle for the memory the ring lives in (for `cring_region_fd()`,
/// `cring_region_unlink()`, `cring_region_keep_file()`).
///
/// Ownership: the caller owns `*out` and closes it with `cring_region_close()`.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NULL_POINTER` (`out`),
/// `CRING_STATUS_NO_RESOURCES`. On failure `*out` is `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_region`.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_region(
    ring: cring_ring,
    out: *mut cring_region,
) -> cring_status {
    let open = || open_region(ring_of(ring)?.region());
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_region { id }, open) }
}

/// The ring's validated geometry: capacity, mode, entry type, ...
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NULL_POINTER` (`info`),
/// `CRING_STATUS_INVALID_ARGUMENT` (`info_size` is not `sizeof(cring_ring_info)`).
///
/// # Safety
///
/// `info` is NULL or valid for writing `info_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_get_info(
    ring: cring_ring,
    info: *mut cring_ring_info,
    info_size: usize,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(info, "info")?;
        if info_size != core::mem::size_of::<cring_ring_info>() {
            return Err(Fail::invalid(format!(
                "info_size {info_size}, expected sizeof(cring_ring_info) = {}",
                core::mem::size_of::<cring_ring_info>()
            )));
        }
        let v = ring_of(ring)?.info();
        // SAFETY: checked non-NULL, aligned and of the right size; the caller guarantees it is
        // writable.
        unsafe { put(out, v) };
        Ok(())
    })
}

/// A snapshot of the ring's indices and counters (full refusals, overflow use, wake-ups,
/// sleeps, waiters).
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NULL_POINTER` (`counters`),
/// `CRING_STATUS_INVALID_ARGUMENT` (`counters_size` is not `sizeof(cring_counters)`).
///
/// # Safety
///
/// `counters` is NULL or valid for writing `counters_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_get_counters(
    ring: cring_ring,
    counters: *mut cring_counters,
    counters_size: usize,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(counters, "counters")?;
        if counters_size != core::mem::size_of::<cring_counters>() {
            return Err(Fail::invalid(format!(
                "counters_size {counters_size}, expected sizeof(cring_counters) = {}",
                core::mem::size_of::<cring_counters>()
            )));
        }
        let c = ring_of(ring)?.counters();
        let v = cring_counters {
            full_refusals: c.full_refusals,
            discarded: c.discarded,
            overflowed: c.overflowed,
            overflow_activations: c.overflow_activations,
            wakeups: c.wakeups,
            sleeps: c.sleeps,
            tail: c.tail,
            head: c.head,
            overflow_pending: c.overflow_pending,
            overflow_active: c.overflow_active as u32,
            waiters: c.waiters,
            reserved: 0,
        };
        // SAFETY: checked non-NULL, aligned and of the right size; the caller guarantees it is
        // writable.
        unsafe { put(out, v) };
        Ok(())
    })
}

/// An estimate of the number of entries in the ring (exact when nothing is in flight; the
/// overflow area is not counted: see `cring_counters.overflow_pending`).
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NULL_POINTER` (`len`).
///
/// # Safety
///
/// `len` is NULL or valid for writing a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_len(ring: cring_ring, len: *mut u32) -> cring_status {
    boundary(|| {
        let out = out_ptr(len, "len")?;
        let n = ring_of(ring)?.len();
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, n) };
        Ok(())
    })
}

/// Wakes every sleeping consumer of the ring, in every process, and signals the eventfd,
/// whether or not there are entries. A woken wait or reap re-checks its condition and sleeps
/// again if it still does not hold: to make waiters return (say, before shutting down), give
/// them a timeout or push an entry they recognise. An eventfd waiter (`poll`) does return.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`.
#[no_mangle]
pub extern "C" fn cring_ring_wake_all(ring: cring_ring) -> cring_status {
    boundary(|| {
        ring_of(ring)?.wake_all();
        Ok(())
    })
}

/// Recovers what producers that died left reserved and unpublished: positions no live
/// producer's record covers are published as discarded (consumers skip them), records of dead
/// processes are freed (and, layout 1.3, their producers leave the stream). Multi-producer rings
/// need producer records (layout 1.2); in single-producer rings this publishes a dead
/// producer's orphaned overflow reservations. Waiting consumers run it on their own when held
/// up; call it after you learn that a producer process died.
///
/// `positions` and `records`, if not NULL, receive how many positions were published as
/// discarded and how many records were freed.
///
/// Thread safety: any thread, any process (one recovery at a time per ring: the others get
/// `CRING_STATUS_BUSY`).
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_BUSY` (another live process is
/// recovering, or a live single producer holds its claim), `CRING_STATUS_WRONG_STATE` (a
/// multi-producer ring without producer records: nothing can be recovered safely).
///
/// # Safety
///
/// `positions` and `records` are NULL or valid for writing a `u32`.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_recover(
    ring: cring_ring,
    positions: *mut u32,
    records: *mut u32,
) -> cring_status {
    boundary(|| {
        let r = ring_of(ring)?.recover()?;
        for (ptr, v, name) in [
            (positions, r.positions, "positions"),
            (records, r.records, "records"),
        ] {
            if !ptr.is_null() {
                let out = out_ptr(ptr, name)?;
                // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
                unsafe { put(out, v) };
            }
        }
        Ok(())
    })
}

/// The end-of-stream state (layout 1.3): `*closed` is 1 once the stream is closed (no producer
/// will publish again), `*producers` the number of producers taking part (multi-producer
/// rings; 0 in single-producer rings). A ring without the end-of-stream word always reads as
/// open. Either pointer may be NULL.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`.
///
/// # Safety
///
/// `closed` and `producers` are NULL or valid for writing a `u32`.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_stream(
    ring: cring_ring,
    closed: *mut u32,
    producers: *mut u32,
) -> cring_status {
    boundary(|| {
        let s = ring_of(ring)?.stream();
        for (ptr, v, name) in [
            (closed, u32::from(s.closed), "closed"),
            (producers, s.producers, "producers"),
        ] {
            if !ptr.is_null() {
                let out = out_ptr(ptr, name)?;
                // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
                unsafe { put(out, v) };
            }
        }
        Ok(())
    })
}

/// Suppresses wake-ups (`suppressed != 0`) for rings whose consumers only poll, or re-enables
/// them. While suppressed, producers skip waking, and a consumer's wait or reap that would
/// sleep returns `CRING_STATUS_WAKEUPS_SUPPRESSED` instead. The flag lives in shared memory:
/// it applies to every process.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NO_WAIT_BLOCK`.
#[no_mangle]
pub extern "C" fn cring_ring_set_wakeups_suppressed(
    ring: cring_ring,
    suppressed: c_int,
) -> cring_status {
    boundary(|| ring_of(ring)?.set_wakeups_suppressed(suppressed != 0))
}

/// Creates an eventfd for the ring (non-blocking, close-on-exec) and attaches it in this
/// process: producers in this process signal it whenever they wake sleepers, so a consumer can
/// wait in `epoll`/`poll` (see `cring_consumer_eventfd_prepare()`). Producers in other
/// processes must be given the descriptor (inherit it or send it with `SCM_RIGHTS`) and call
/// `cring_ring_set_eventfd()`. One eventfd can be attached per process view of a ring.
///
/// Ownership: `*fd` belongs to the ring, which closes it when it is released; do not close it.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NULL_POINTER` (`fd`),
/// `CRING_STATUS_NO_WAIT_BLOCK`, `CRING_STATUS_WRONG_STATE` (an eventfd is attached already),
/// `CRING_STATUS_IO`.
///
/// # Safety
///
/// `fd` is NULL or valid for writing an `int`.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_create_eventfd(
    ring: cring_ring,
    fd: *mut c_int,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(fd, "fd")?;
        let raw = ring_of(ring)?.create_eventfd()?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, raw) };
        Ok(())
    })
}

/// Attaches an eventfd made by `cring_ring_create_eventfd()` (in this or another process) to
/// this process's view of the ring. The library duplicates `fd`: the caller keeps ownership of
/// `fd`. One eventfd can be attached per process view of a ring.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_INVALID_ARGUMENT` (`fd < 0`),
/// `CRING_STATUS_NO_WAIT_BLOCK`, `CRING_STATUS_WRONG_STATE` (an eventfd is attached already),
/// `CRING_STATUS_IO` (bad descriptor).
#[no_mangle]
pub extern "C" fn cring_ring_set_eventfd(ring: cring_ring, fd: c_int) -> cring_status {
    boundary(|| {
        let r = ring_of(ring)?;
        if fd < 0 {
            return Err(Fail::invalid(format!("invalid descriptor {fd}")));
        }
        // SAFETY: F_DUPFD_CLOEXEC only creates a new descriptor; a bad `fd` gives EBADF.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(Fail::io("dup", &std::io::Error::last_os_error()));
        }
        // SAFETY: `dup` was just created and is owned by nobody else.
        r.set_eventfd(unsafe { OwnedFd::from_raw_fd(dup) })
    })
}

/// This process's eventfd for the ring, or -1 if none is attached.
///
/// Ownership: the descriptor belongs to the ring; do not close it.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NULL_POINTER` (`fd`).
///
/// # Safety
///
/// `fd` is NULL or valid for writing an `int`.
#[no_mangle]
pub unsafe extern "C" fn cring_ring_eventfd(ring: cring_ring, fd: *mut c_int) -> cring_status {
    boundary(|| {
        let out = out_ptr(fd, "fd")?;
        let raw = ring_of(ring)?.eventfd();
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, raw) };
        Ok(())
    })
}
