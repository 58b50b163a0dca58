//! Record rings (the byte ring of spec/RECORDS.md): create, attach, inspect.
//!
//! A record ring carries records of any length (a payload of bytes and a type) instead of
//! fixed-size entries; completion records carry a completion followed by attributes
//! (`cring_completion_record_begin()`, `cring_attr_iter_init()`). Its handles
//! (`cring_records`, `cring_record_producer`, `cring_record_consumer`) live in their own
//! tables, so a record handle passed where a fixed-entry handle is expected (or the reverse)
//! is a bad handle.

use crate::dynring::RegionObj;
use crate::handles::Table;
use crate::region::{open_region, region_of};
use crate::status::{boundary, cring_status, Fail};
use crate::types::*;
use crate::{handle_out, in_ptr, out_ptr, put, str_arg};
use core::ffi::c_char;
use ring_core::record::errors::{HandleError, ReadError, RecordLayoutError, ReserveError};
use ring_core::record::{RecordConfig, RecordRing, RecordWaitError};
use ring_core::region::Region;
use ring_core::{LayoutError, Memory, Mode, RawRegion};
use std::sync::Arc;

/// A handle to a record ring. `{0}` is never a valid handle.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_records {
    /// Opaque identifier.
    pub id: u64,
}

/// A handle to a producer of a record ring. `{0}` is never a valid handle.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_record_producer {
    /// Opaque identifier.
    pub id: u64,
}

/// A handle to the consumer of a record ring. `{0}` is never a valid handle.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_record_consumer {
    /// Opaque identifier.
    pub id: u64,
}

/// Record type: plain data (what `cring_record_reserve()` and `cring_record_push()` write).
pub const CRING_RECORD_TYPE_DATA: u32 = 2;
/// Record type: a completion followed by attributes.
pub const CRING_RECORD_TYPE_COMPLETION: u32 = 3;
/// First record type left to applications (up to `CRING_RECORD_TYPE_MAX`).
pub const CRING_RECORD_TYPE_USER_FIRST: u32 = 32;
/// Largest record type.
pub const CRING_RECORD_TYPE_MAX: u32 = 63;
/// Smallest data area of a record ring, in bytes.
pub const CRING_RECORDS_MIN_CAPACITY: u32 = 32;
/// Alignment of every record's payload in memory, in bytes.
pub const CRING_RECORD_ALIGN: u32 = 8;

mod check {
    use super::*;
    use ring_core::record::layout as l;
    const _: () = assert!(CRING_RECORD_TYPE_DATA == l::record_type::DATA as u32);
    const _: () = assert!(CRING_RECORD_TYPE_COMPLETION == l::record_type::COMPLETION as u32);
    const _: () = assert!(CRING_RECORD_TYPE_USER_FIRST == l::record_type::USER_FIRST as u32);
    const _: () = assert!(CRING_RECORD_TYPE_MAX == l::record_type::MAX as u32);
    const _: () = assert!(CRING_RECORDS_MIN_CAPACITY == l::MIN_DATA_CAPACITY);
    const _: () = assert!(CRING_RECORD_ALIGN == l::RECORD_ALIGN);
}

/// How to lay out a new record ring. Initialise it with `cring_records_config_init()`, then
/// change fields.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct cring_records_config {
    /// `sizeof(cring_records_config)`, set by `cring_records_config_init()`; checked by every
    /// function that takes a config (`CRING_STATUS_INVALID_ARGUMENT` if it differs).
    pub struct_size: u32,
    /// Bytes of the data area: a power of two from `CRING_RECORDS_MIN_CAPACITY` to 2^31. The
    /// largest record payload is a little under half of it.
    pub capacity: u32,
    /// `CRING_MODE_SPSC` or `CRING_MODE_MPSC`.
    pub mode: u32,
    /// Byte position both positions start at, a multiple of 8 (0 normally; just below 2^32 to
    /// exercise the wrap).
    pub initial_position: u32,
    /// MPSC: how many producer handles may be open at once, across processes (0: the
    /// default, 64). Ignored in SPSC.
    pub producers: u32,
    /// Non-zero: the ring has the wait block, so a consumer can sleep in
    /// `cring_record_reap()`. 1 by default.
    pub wait: u32,
    /// Bytes of the overflow area (a power of two from `CRING_RECORDS_MIN_CAPACITY` to 2^31),
    /// or 0 for none (the default). With an overflow area a record that finds the data area
    /// full spills into it instead of being refused, and the consumer drains it in order; a
    /// record is refused (`CRING_STATUS_FULL`) only when both are full. Added after the first
    /// version of this struct: a caller whose `struct_size` is the size that version had
    /// (`CRING_RECORDS_CONFIG_SIZE_V1`) gets no overflow area.
    pub overflow_capacity: u32,
    /// Must be 0.
    pub reserved: u32,
}

/// `struct_size` of the first version of `cring_records_config` (without
/// `overflow_capacity`), still accepted by every function that takes a config.
pub const CRING_RECORDS_CONFIG_SIZE_V1: u32 = 24;
/// `info_size` of the first version of `cring_records_info` (without the overflow fields),
/// still accepted by `cring_records_get_info()`.
pub const CRING_RECORDS_INFO_SIZE_V1: u32 = 32;
/// `counters_size` of the first version of `cring_records_counters` (without the overflow
/// fields), still accepted by `cring_records_get_counters()`.
pub const CRING_RECORDS_COUNTERS_SIZE_V1: u32 = 48;

mod check_sizes {
    use super::*;
    use core::mem::{offset_of, size_of};
    // The first versions are exact prefixes of the current structs (fields appended only, no
    // padding anywhere, so every byte of a prefix is a field's).
    const _: () = assert!(
        offset_of!(cring_records_config, overflow_capacity)
            == CRING_RECORDS_CONFIG_SIZE_V1 as usize
    );
    const _: () = assert!(size_of::<cring_records_config>() == 32);
    const _: () = assert!(
        offset_of!(cring_records_info, overflow_capacity) == CRING_RECORDS_INFO_SIZE_V1 as usize
    );
    const _: () = assert!(size_of::<cring_records_info>() == 40);
    const _: () = assert!(
        offset_of!(cring_records_counters, overflowed) == CRING_RECORDS_COUNTERS_SIZE_V1 as usize
    );
    const _: () = assert!(size_of::<cring_records_counters>() == 80);
}

/// What a record ring is: its validated geometry.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_records_info {
    /// Bytes of the region the ring occupies.
    pub region_len: u64,
    /// Bytes of the data area.
    pub capacity: u32,
    /// The largest payload a record may have.
    pub max_record_len: u32,
    /// `CRING_MODE_SPSC` or `CRING_MODE_MPSC`.
    pub mode: u32,
    /// 1 if the ring has the wait block, else 0.
    pub wait: u32,
    /// Producer records (MPSC: how many producers may be open at once; 0 in SPSC).
    pub producer_slots: u32,
    /// Layout minor version found in the header.
    pub layout_version_minor: u32,
    /// Bytes of the overflow area (0: none).
    pub overflow_capacity: u32,
    /// The largest payload that can spill into the overflow area (0 without one; records
    /// longer than this but within `max_record_len` are refused when the data area is full).
    pub overflow_max_record_len: u32,
}

/// A snapshot of a record ring's positions and counters (each read separately: consistent only
/// when the ring is quiet).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_records_counters {
    /// Reservations refused for lack of room.
    pub full_refusals: u64,
    /// Records committed as discarded.
    pub discarded: u64,
    /// Wake-ups issued (0 without a wait block).
    pub wakeups: u64,
    /// Times a consumer was about to sleep (0 without a wait block).
    pub sleeps: u64,
    /// Producer position (bytes).
    pub tail: u32,
    /// Consumer position (bytes).
    pub head: u32,
    /// Reservations made (MPSC; wraps; 0 in SPSC).
    pub reservations: u32,
    /// Always 0.
    pub reserved: u32,
    /// Records committed in the overflow area (discarded ones not counted): the spills. 0
    /// without an overflow area.
    pub overflowed: u64,
    /// Times the overflow area went from inactive to active.
    pub activations: u64,
    /// Producer position of the overflow area (bytes; starts at 0).
    pub overflow_tail: u32,
    /// Consumer position of the overflow area (bytes).
    pub overflow_head: u32,
    /// 1 while the overflow area is active (producers route every record to it), else 0.
    pub overflow_active: u32,
    /// Always 0.
    pub reserved2: u32,
}

// ---------------------------------------------------------------------------------------------
// Memory and the table

/// The memory of a record ring: a shared region (the same region objects as fixed-entry rings).
pub(crate) struct RecordMemory {
    obj: Arc<RegionObj>,
    /// Whether the region's bytes are known to be zero (a region this module just made).
    fresh: bool,
}

// SAFETY: `raw()` is the range of the `Region` inside `obj`, read once when the object was
// made; that `Region` keeps it mapped until it is dropped, and the `Arc` keeps it alive as long
// as this value lives. `fresh` is true only for a region made by this module and not yet
// handed out, and it is consulted only when the ring is formatted.
unsafe impl Memory for RecordMemory {
    fn raw(&self) -> RawRegion {
        self.obj.raw()
    }

    fn is_fresh_zeroed(&self) -> bool {
        self.fresh
    }
}

pub(crate) type Records = RecordRing<RecordMemory>;

pub(crate) static RECORDS: Table<Records> = Table::new("record ring", 4);

/// The record ring of handle `r` (a clone: it shares the ring's memory).
pub(crate) fn records_of(r: cring_records) -> Result<Records, Fail> {
    Ok(RECORDS.get(r.id)?.get().clone())
}

// ---------------------------------------------------------------------------------------------
// Errors of the record ring

/// The status of a layout error (the same as fixed-entry rings give).
fn layout_fail(e: LayoutError, context: String) -> Fail {
    let mut f = Fail::from(e);
    f.detail = context.into();
    f
}

/// A refusal to format a record ring: configuration errors are argument errors.
pub(crate) fn create_fail(e: RecordLayoutError) -> Fail {
    match e {
        RecordLayoutError::Layout(
            l @ (LayoutError::Misaligned { .. } | LayoutError::RegionTooShort { .. }),
        ) => layout_fail(l, e.to_string()),
        _ => Fail::invalid(e.to_string()),
    }
}

/// A refusal to attach to a record ring.
pub(crate) fn attach_fail(e: RecordLayoutError) -> Fail {
    let status = match e {
        RecordLayoutError::Layout(l) => return layout_fail(l, e.to_string()),
        RecordLayoutError::NotRecords { .. } => cring_status::EntryMismatch,
        RecordLayoutError::Features { .. } => cring_status::Version,
        RecordLayoutError::Mode { .. } => cring_status::Layout,
        RecordLayoutError::DataCapacity { .. } | RecordLayoutError::InitialPosition { .. } => {
            cring_status::Layout
        }
    };
    Fail::new(status, e.to_string())
}

impl From<HandleError> for Fail {
    fn from(e: HandleError) -> Fail {
        match e {
            HandleError::Claim(c) => {
                let mut f = Fail::from(c);
                f.detail = e.to_string().into();
                f
            }
            HandleError::Corrupt(_) => Fail::new(cring_status::Corrupt, e.to_string()),
        }
    }
}

impl From<ReserveError> for Fail {
    fn from(e: ReserveError) -> Fail {
        let status = match e {
            ReserveError::TooLarge { .. } => cring_status::TooLarge,
            ReserveError::Full { .. } => cring_status::Full,
            ReserveError::Corrupt(_) => cring_status::Corrupt,
        };
        Fail::new(status, e.to_string())
    }
}

impl From<ReadError> for Fail {
    fn from(e: ReadError) -> Fail {
        match e {
            ReadError::Empty => Fail::new(cring_status::Empty, "record consumer: ring empty"),
            ReadError::Pending { .. } => Fail::new(cring_status::Empty, e.to_string()),
            ReadError::Corrupt(_) => Fail::new(cring_status::Corrupt, e.to_string()),
        }
    }
}

impl From<RecordWaitError> for Fail {
    fn from(e: RecordWaitError) -> Fail {
        let status = match e {
            RecordWaitError::NoWaitBlock => cring_status::NoWaitBlock,
            RecordWaitError::WakeupsSuppressed => cring_status::WakeupsSuppressed,
            RecordWaitError::NoEventfd => cring_status::WrongState,
            RecordWaitError::Interrupted => cring_status::Interrupted,
            RecordWaitError::Futex(errno) => {
                return Fail {
                    status: cring_status::Io,
                    detail: e.to_string().into(),
                    errno,
                }
            }
            RecordWaitError::Corrupt(_) => cring_status::Corrupt,
        };
        Fail::new(status, e.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

fn records_mode(bits: u32) -> Result<Mode, Fail> {
    match bits {
        CRING_MODE_SPSC => Ok(Mode::Spsc),
        CRING_MODE_MPSC => Ok(Mode::Mpsc),
        _ => Err(Fail::invalid(format!(
            "record rings are SPSC ({CRING_MODE_SPSC}) or MPSC ({CRING_MODE_MPSC}), not mode {bits:#x}"
        ))),
    }
}

/// Reads and checks a caller's record configuration.
///
/// # Safety
/// `cfg` is NULL or points to a `cring_records_config`.
unsafe fn records_config_arg(cfg: *const cring_records_config) -> Result<RecordConfig, Fail> {
    let p = in_ptr(cfg, "config")?;
    // SAFETY: the caller guarantees a readable `cring_records_config`, whose first field is the
    // `u32` `struct_size`: read it alone first, so that a caller built against another layout
    // of the struct is refused before more bytes are read than it has.
    let struct_size = unsafe { p.cast::<u32>().read() };
    let full = core::mem::size_of::<cring_records_config>();
    let c = if struct_size as usize == full {
        // SAFETY: as above, and the size matches: every field is an integer.
        unsafe { p.read() }
    } else if struct_size == CRING_RECORDS_CONFIG_SIZE_V1 {
        // A caller built against the first version: read only the bytes it has (a prefix of
        // the current struct, checked in `check_sizes`); the later fields stay 0.
        let mut c = cring_records_config_init(0);
        // SAFETY: the caller guarantees a readable struct of `struct_size` bytes (the first
        // version's), which is the prefix of `c` up to `overflow_capacity`; `c` is a local of
        // the full size; both are integers only, so any bytes are valid.
        unsafe {
            core::ptr::copy_nonoverlapping(
                p.cast::<u8>(),
                (&mut c as *mut cring_records_config).cast::<u8>(),
                CRING_RECORDS_CONFIG_SIZE_V1 as usize,
            )
        };
        c.overflow_capacity = 0;
        c.reserved = 0;
        c
    } else {
        return Err(Fail::invalid(format!(
            "config.struct_size is {struct_size}, expected sizeof(cring_records_config) = \
             {full} or the first version's {CRING_RECORDS_CONFIG_SIZE_V1} (initialise it \
             with cring_records_config_init())"
        )));
    };
    if c.reserved != 0 {
        return Err(Fail::invalid(format!(
            "config.reserved is {}, must be 0",
            c.reserved
        )));
    }
    let cfg = RecordConfig::new(c.capacity)
        .mode(records_mode(c.mode)?)
        .initial_position(c.initial_position)
        .producers(c.producers)
        .overflow(c.overflow_capacity)
        .wait(c.wait != 0);
    cfg.region_len().map_err(create_fail)?;
    Ok(cfg)
}

fn region_len_of(cfg: &RecordConfig) -> Result<usize, Fail> {
    let len = cfg.region_len().map_err(create_fail)?;
    usize::try_from(len).map_err(|_| Fail::invalid("record ring too large"))
}

/// A configuration for an SPSC record ring with a data area of `capacity` bytes, positions
/// starting at 0, default producer records, no overflow area, with the wait block. Change fields as needed;
/// leave `struct_size` alone.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn cring_records_config_init(capacity: u32) -> cring_records_config {
    cring_records_config {
        struct_size: core::mem::size_of::<cring_records_config>() as u32,
        capacity,
        mode: CRING_MODE_SPSC,
        initial_position: 0,
        producers: 0,
        wait: 1,
        overflow_capacity: 0,
        reserved: 0,
    }
}

/// The number of bytes a region needs for a record ring laid out per `config`.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`config`, `len`), `CRING_STATUS_INVALID_ARGUMENT`
/// (`struct_size`, a capacity or overflow capacity that is not a power of two in
/// `32..=2^31`, a mode other than SPSC or MPSC, an initial position that is not a multiple of
/// 8, too many producers, `reserved` not 0). On failure `*len` is 0.
///
/// # Safety
///
/// `config` is NULL or points to a `cring_records_config`; `len` is NULL or valid for writing a
/// `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_records_region_len(
    config: *const cring_records_config,
    len: *mut u64,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(len, "len")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, 0) };
        // SAFETY: the caller's guarantee for `config`.
        let cfg = unsafe { records_config_arg(config) }?;
        let n = cfg.region_len().map_err(create_fail)?;
        // SAFETY: as above.
        unsafe { put(out, n) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Create and attach

fn create_in(obj: Arc<RegionObj>, fresh: bool, cfg: RecordConfig) -> Result<u64, Fail> {
    // From now on the region's bytes are not known to be zero (for a fixed-entry ring someone
    // might create in it later).
    obj.exposed();
    let ring = RecordRing::create(RecordMemory { obj, fresh }, cfg).map_err(create_fail)?;
    RECORDS.insert(ring)
}

fn attach_in(obj: Arc<RegionObj>) -> Result<u64, Fail> {
    obj.exposed();
    let ring = RecordRing::attach(RecordMemory { obj, fresh: false }).map_err(attach_fail)?;
    RECORDS.insert(ring)
}

/// Formats `region` as a new, empty record ring laid out per `config` and opens it.
///
/// The region is not consumed: the ring keeps its memory alive, and the region handle may be
/// closed at once or kept (for `cring_region_fd()`, `cring_region_unlink()`). Formatting memory
/// that a live ring uses breaks that ring (its users see corruption, never undefined
/// behaviour): create first, then let others attach.
///
/// Ownership: the caller owns `*out` and closes it with `cring_records_close()`.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`config`, `out`), `CRING_STATUS_BAD_HANDLE` (`region`),
/// `CRING_STATUS_INVALID_ARGUMENT` (see `cring_records_region_len()`),
/// `CRING_STATUS_MISALIGNED` (region base not 128-byte aligned),
/// `CRING_STATUS_REGION_TOO_SHORT`, `CRING_STATUS_NO_RESOURCES`. On failure `*out` is `{0}`.
///
/// # Safety
///
/// `config` is NULL or points to a `cring_records_config`; `out` is NULL or valid for writing a
/// `cring_records`.
#[no_mangle]
pub unsafe extern "C" fn cring_records_create(
    region: cring_region,
    config: *const cring_records_config,
    out: *mut cring_records,
) -> cring_status {
    let open = || {
        // SAFETY: the caller's guarantee for `config`.
        let cfg = unsafe { records_config_arg(config) }?;
        create_in(region_of(region)?, false, cfg)
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_records { id }, open) }
}

/// Validates `region` as an existing record ring (made by this or another process, in C or
/// Rust) and opens it. Every header field is checked and kept in private trusted copies: nothing
/// a peer writes later can make the library access memory outside the ring.
///
/// Ownership: as for `cring_records_create()`.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`out`), `CRING_STATUS_BAD_HANDLE` (`region`),
/// `CRING_STATUS_NOT_A_RING` (bad magic), `CRING_STATUS_ENTRY_MISMATCH` (a ring of fixed-size
/// entries, not records), `CRING_STATUS_VERSION` (another layout major version or unknown
/// incompatible features), `CRING_STATUS_MISALIGNED`, `CRING_STATUS_REGION_TOO_SHORT`,
/// `CRING_STATUS_LAYOUT` (another header inconsistency; the message names it),
/// `CRING_STATUS_NO_RESOURCES`. On failure `*out` is `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_records`.
#[no_mangle]
pub unsafe extern "C" fn cring_records_attach(
    region: cring_region,
    out: *mut cring_records,
) -> cring_status {
    let open = || attach_in(region_of(region)?);
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_records { id }, open) }
}

/// Creates a record ring laid out per `config` in a new heap region of the right size (threads
/// of this process only). The region is freed when the ring and its handles are closed.
///
/// Ownership: as for `cring_records_create()`.
///
/// Thread safety: any thread.
///
/// Errors: as for `cring_records_create()` and `cring_region_heap()`.
///
/// # Safety
///
/// As for `cring_records_create()`.
#[no_mangle]
pub unsafe extern "C" fn cring_records_create_heap(
    config: *const cring_records_config,
    out: *mut cring_records,
) -> cring_status {
    let open = || {
        // SAFETY: the caller's guarantee for `config`.
        let cfg = unsafe { records_config_arg(config) }?;
        let region = Region::heap(region_len_of(&cfg)?)?;
        let fresh = region.is_fresh_zeroed();
        create_in(RegionObj::new(region), fresh, cfg)
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_records { id }, open) }
}

/// Creates a record ring laid out per `config` in a new file `/dev/shm/<name>` (created
/// exclusively, mode 0600, of the right size). Other processes open it with
/// `cring_records_open_shm()`. The file is removed when the ring is freed (get its region with
/// `cring_records_region()` to unlink it earlier or keep it).
///
/// Ownership: as for `cring_records_create()`.
///
/// Thread safety: any thread.
///
/// Errors: as for `cring_records_create()` and `cring_region_shm_create()`. On failure no file
/// is left behind.
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string; otherwise as for `cring_records_create()`.
#[no_mangle]
pub unsafe extern "C" fn cring_records_create_shm(
    name: *const c_char,
    config: *const cring_records_config,
    out: *mut cring_records,
) -> cring_status {
    let open = || {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: the caller's guarantee for `config`.
        let cfg = unsafe { records_config_arg(config) }?;
        let region = Region::shm_create(name, region_len_of(&cfg)?, 0o600)?;
        let fresh = region.is_fresh_zeroed();
        create_in(RegionObj::new(region), fresh, cfg)
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_records { id }, open) }
}

/// Opens `/dev/shm/<name>` and attaches to the record ring in it (see
/// `cring_records_attach()`).
///
/// Ownership: as for `cring_records_create()`; the mapping is released when the ring and its
/// handles are closed.
///
/// Thread safety: any thread.
///
/// Errors: as for `cring_records_attach()` and `cring_region_shm_open()`.
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string; `out` is NULL or valid for writing a
/// `cring_records`.
#[no_mangle]
pub unsafe extern "C" fn cring_records_open_shm(
    name: *const c_char,
    out: *mut cring_records,
) -> cring_status {
    let open = || {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let name = unsafe { str_arg(name, "name") }?;
        attach_in(RegionObj::new(Region::shm_open(name)?))
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_records { id }, open) }
}

/// Closes a record ring handle. The ring's memory is released when its producers and
/// consumers are closed too.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (not open, for example closed already).
#[no_mangle]
pub extern "C" fn cring_records_close(records: cring_records) -> cring_status {
    boundary(|| RECORDS.remove(records.id))
}

/// Opens a new region handle for the memory the record ring lives in (for `cring_region_fd()`,
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
pub unsafe extern "C" fn cring_records_region(
    records: cring_records,
    out: *mut cring_region,
) -> cring_status {
    let open = || open_region(RECORDS.get(records.id)?.get().memory().obj.clone());
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_region { id }, open) }
}

/// Writes the record ring's validated geometry to `*info`.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NULL_POINTER` (`info`),
/// `CRING_STATUS_INVALID_ARGUMENT` (`info_size` is neither `sizeof(cring_records_info)` nor
/// `CRING_RECORDS_INFO_SIZE_V1`; with the latter only the first version's fields are written).
///
/// # Safety
///
/// `info` is NULL or valid for writing `info_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn cring_records_get_info(
    records: cring_records,
    info: *mut cring_records_info,
    info_size: usize,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(info, "info")?;
        check_out_size::<cring_records_info>(
            info_size,
            CRING_RECORDS_INFO_SIZE_V1,
            "info_size",
            "cring_records_info",
        )?;
        let g = RECORDS.get(records.id)?;
        let ring = g.get();
        let geo = ring.geometry();
        let value = cring_records_info {
            region_len: geo.region_len,
            capacity: geo.capacity,
            max_record_len: ring.max_record_len(),
            mode: geo.mode.bits(),
            wait: u32::from(geo.wait_offset.is_some()),
            producer_slots: geo.producer_slots,
            layout_version_minor: geo.version_minor,
            overflow_capacity: geo.overflow_capacity,
            overflow_max_record_len: if geo.overflow_capacity == 0 {
                0
            } else {
                ring_core::record::layout::max_record_len(geo.overflow_capacity)
            },
        };
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable for
        // `info_size` bytes, which `check_out_size` found to be the struct's size or its first
        // version's.
        unsafe { put_prefix(out, &value, info_size) };
        Ok(())
    })
}

/// Checks the size a caller gives for an output struct `T`: `size_of::<T>()` or `v1`, the
/// size of its first version (an exact prefix).
fn check_out_size<T>(size: usize, v1: u32, what: &str, name: &str) -> Result<(), Fail> {
    let full = core::mem::size_of::<T>();
    if size == full || size == v1 as usize {
        return Ok(());
    }
    Err(Fail::invalid(format!(
        "{what} {size}, expected sizeof({name}) = {full} or the first version's {v1}"
    )))
}

/// Writes the first `size` bytes of `value` to `out` (`size` at most `size_of::<T>()`).
///
/// # Safety
/// `out` is valid for writing `size` bytes; `T` has no padding bytes (every byte of `value` is
/// initialised).
unsafe fn put_prefix<T: Copy>(out: *mut T, value: &T, size: usize) {
    let size = size.min(core::mem::size_of::<T>());
    // SAFETY: `value` is readable for `size_of::<T>() >= size` bytes, all initialised (no
    // padding, the caller's guarantee); `out` is writable for `size` bytes (the caller's
    // guarantee); a local and the caller's memory do not overlap.
    unsafe {
        core::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), out.cast::<u8>(), size)
    };
}

/// Writes a snapshot of the record ring's positions and counters to `*counters`.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NULL_POINTER` (`counters`),
/// `CRING_STATUS_INVALID_ARGUMENT` (`counters_size` is neither
/// `sizeof(cring_records_counters)` nor `CRING_RECORDS_COUNTERS_SIZE_V1`; with the latter only
/// the first version's fields are written).
///
/// # Safety
///
/// `counters` is NULL or valid for writing `counters_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn cring_records_get_counters(
    records: cring_records,
    counters: *mut cring_records_counters,
    counters_size: usize,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(counters, "counters")?;
        check_out_size::<cring_records_counters>(
            counters_size,
            CRING_RECORDS_COUNTERS_SIZE_V1,
            "counters_size",
            "cring_records_counters",
        )?;
        let c = RECORDS.get(records.id)?.get().counters();
        let value = cring_records_counters {
            full_refusals: c.full_refusals,
            discarded: c.discarded,
            wakeups: c.wakeups,
            sleeps: c.sleeps,
            tail: c.tail,
            head: c.head,
            reservations: c.reservations,
            reserved: 0,
            overflowed: c.overflowed,
            activations: c.activations,
            overflow_tail: c.overflow_tail,
            overflow_head: c.overflow_head,
            overflow_active: u32::from(c.overflow_active),
            reserved2: 0,
        };
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable for
        // `counters_size` bytes, which `check_out_size` found to be the struct's size or its
        // first version's; the struct has no padding (`check_sizes`).
        unsafe { put_prefix(out, &value, counters_size) };
        Ok(())
    })
}

/// Recovers what MPSC producers that died left reserved and uncommitted: their records are
/// committed as discarded (the consumer skips them) and their producer records are freed.
/// Never touches a live producer's record. A consumer held up by a pending record in
/// `cring_record_reap()` runs it on its own now and then.
///
/// `positions` and `records_freed`, if not NULL, receive how many reservations were committed
/// as discarded and how many producer records were freed.
///
/// Thread safety: any thread, any process (one recovery at a time per ring: the others get
/// `CRING_STATUS_BUSY`).
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_BUSY` (another live process is
/// recovering), `CRING_STATUS_WRONG_STATE` (an SPSC ring: nothing to recover).
///
/// # Safety
///
/// `positions` and `records_freed` are NULL or valid for writing a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_records_recover(
    records: cring_records,
    positions: *mut u32,
    records_freed: *mut u32,
) -> cring_status {
    boundary(|| {
        let r = RECORDS.get(records.id)?.get().recover().map_err(|e| {
            let status = match e {
                ring_core::RecoverError::Busy { .. } => cring_status::Busy,
                _ => cring_status::WrongState,
            };
            Fail::new(status, format!("record ring recovery: {e}"))
        })?;
        for (ptr, v, name) in [
            (positions, r.positions, "positions"),
            (records_freed, r.records, "records_freed"),
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
