//! The plain types and constants of the C ABI.

use ring_core::layout;

/// Version of this library: major.
pub const CRING_VERSION_MAJOR: u32 = 0;
/// Version of this library: minor.
pub const CRING_VERSION_MINOR: u32 = 1;
/// Version of this library: patch.
pub const CRING_VERSION_PATCH: u32 = 0;
/// Version of this library as one number: `major * 1000000 + minor * 1000 + patch`. Compare
/// with `cring_version_number()` to detect a header that does not match the linked library.
pub const CRING_VERSION_NUMBER: u32 = 1000;

/// Major version of the ring layout (spec/LAYOUT.md) that this library reads and writes. A ring
/// with another major version is refused (`CRING_STATUS_VERSION`).
pub const CRING_LAYOUT_VERSION_MAJOR: u32 = 1;
/// Minor version of the ring layout that this library writes.
pub const CRING_LAYOUT_VERSION_MINOR: u32 = 4;
/// The first eight bytes of every ring region: `"CRINGv1\0"` read as a little-endian u64.
///
/// (Written by hand in cbindgen.toml: `UINT64_C(...)`; the header test checks
/// the value.)
///
/// cbindgen:ignore
pub const CRING_MAGIC: u64 = 0x0031_7647_4E49_5243;
/// Size in bytes of the region header.
pub const CRING_HEADER_LEN: u32 = 256;
/// Alignment, in bytes, that a region's base address must have.
pub const CRING_REGION_ALIGN: u32 = 128;
/// Smallest ring capacity.
pub const CRING_MIN_CAPACITY: u32 = 2;
/// Largest ring capacity (2^31).
///
/// (Written by hand in cbindgen.toml: `UINT32_C(...)`.)
///
/// cbindgen:ignore
pub const CRING_MAX_CAPACITY: u32 = 0x8000_0000;

/// Mode: one producer, one consumer.
pub const CRING_MODE_SPSC: u32 = 0;
/// Mode: several producers, one consumer.
pub const CRING_MODE_MPSC: u32 = 1;
/// Mode: one producer, several consumers.
pub const CRING_MODE_SPMC: u32 = 2;
/// Mode: several producers, several consumers.
pub const CRING_MODE_MPMC: u32 = 3;
/// For `cring_ring_attach()`: accept a ring of any mode.
///
/// (Written by hand in cbindgen.toml: `UINT32_MAX`.)
///
/// cbindgen:ignore
pub const CRING_MODE_ANY: u32 = 0xFFFF_FFFF;

/// Entry format: caller-defined plain data, described only by its size and alignment.
pub const CRING_ENTRY_FORMAT_OPAQUE: u32 = 0;
/// Entry format: `cring_completion` (16 bytes, alignment 8).
pub const CRING_ENTRY_FORMAT_COMPLETION: u32 = 1;
/// Largest size of an opaque entry. Opaque entries have an alignment of 4, 8 or 16 and a size
/// that is a non-zero multiple of the alignment, at most this (`CRING_STATUS_UNSUPPORTED_ENTRY`
/// otherwise).
pub const CRING_MAX_OPAQUE_ENTRY_SIZE: u32 = 64;

/// Timeout meaning "no limit".
///
/// (Written by hand in cbindgen.toml: `(-1)`.)
///
/// cbindgen:ignore
pub const CRING_TIMEOUT_INFINITE: i64 = -1;

/// Huge page size: 2 MiB.
pub const CRING_HUGE_PAGE_2M: u64 = 0x20_0000;
/// Huge page size: 1 GiB.
pub const CRING_HUGE_PAGE_1G: u64 = 0x4000_0000;
/// Flag for the huge-page region constructors: use normal pages when huge pages are not
/// available (without it they fail with `CRING_STATUS_HUGEPAGES_UNAVAILABLE`).
pub const CRING_HUGE_FALLBACK: u32 = 1;

/// Number of polls a consumer makes before it sleeps, until `cring_consumer_set_spin()`.
pub const CRING_DEFAULT_SPIN: u32 = 100;

const _: () = assert!(CRING_LAYOUT_VERSION_MAJOR == layout::VERSION_MAJOR);
const _: () = assert!(CRING_LAYOUT_VERSION_MINOR == layout::VERSION_MINOR);
const _: () = assert!(CRING_MAGIC == layout::MAGIC);
const _: () = assert!(CRING_HEADER_LEN == layout::HEADER_LEN);
const _: () = assert!(CRING_REGION_ALIGN as u64 == layout::BLOCK_ALIGN);
const _: () = assert!(CRING_MIN_CAPACITY == layout::MIN_CAPACITY);
const _: () = assert!(CRING_MAX_CAPACITY == layout::MAX_CAPACITY);
const _: () = assert!(CRING_MODE_MPSC == layout::mode_bits::MULTI_PRODUCER);
const _: () = assert!(CRING_MODE_SPMC == layout::mode_bits::MULTI_CONSUMER);
const _: () = assert!(CRING_MODE_MPMC == layout::mode_bits::KNOWN);
const _: () = assert!(CRING_ENTRY_FORMAT_OPAQUE == layout::entry_format::OPAQUE);
const _: () = assert!(CRING_ENTRY_FORMAT_COMPLETION == layout::entry_format::COMPLETION_V1);
const _: () = assert!(CRING_DEFAULT_SPIN == ring_core::consumer::DEFAULT_SPIN);
const _: () = assert!(
    CRING_VERSION_NUMBER
        == CRING_VERSION_MAJOR * 1_000_000 + CRING_VERSION_MINOR * 1000 + CRING_VERSION_PATCH
);

/// A handle to a region: memory a ring lives in. `{0}` is never a valid handle.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_region {
    /// Opaque identifier.
    pub id: u64,
}

/// A handle to a ring. `{0}` is never a valid handle.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_ring {
    /// Opaque identifier.
    pub id: u64,
}

/// A handle to a producer of a ring. `{0}` is never a valid handle.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_producer {
    /// Opaque identifier.
    pub id: u64,
}

/// A handle to a consumer of a ring. `{0}` is never a valid handle.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_consumer {
    /// Opaque identifier.
    pub id: u64,
}

/// The default entry: a completion, in the spirit of `io_event` and io_uring's CQE. 16 bytes,
/// alignment 8, no padding; the same bytes as Rust's `ring_core::Completion`.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_completion {
    /// The submitter's cookie, returned unchanged.
    pub user_data: u64,
    /// The operation's result: a count or value when non-negative, `-errno` when negative.
    pub result: i32,
    /// Completion flags, defined by the application.
    pub flags: u32,
}

const _: () = assert!(core::mem::size_of::<cring_completion>() == 16);
const _: () = assert!(core::mem::align_of::<cring_completion>() == 8);
const _: () = assert!(
    core::mem::size_of::<cring_completion>() == core::mem::size_of::<ring_core::Completion>()
);
const _: () = assert!(
    core::mem::align_of::<cring_completion>() == core::mem::align_of::<ring_core::Completion>()
);
const _: () = assert!(core::mem::offset_of!(cring_completion, user_data) == 0);
const _: () = assert!(core::mem::offset_of!(cring_completion, result) == 8);
const _: () = assert!(core::mem::offset_of!(cring_completion, flags) == 12);
const _: () = assert!(core::mem::offset_of!(ring_core::Completion, user_data) == 0);
const _: () = assert!(core::mem::offset_of!(ring_core::Completion, result) == 8);
const _: () = assert!(core::mem::offset_of!(ring_core::Completion, flags) == 12);

/// What a ring's entries are: recorded in the ring's header and checked on attach.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct cring_entry_type {
    /// `CRING_ENTRY_FORMAT_COMPLETION` or `CRING_ENTRY_FORMAT_OPAQUE`.
    pub format: u32,
    /// Size of one entry in bytes (`sizeof`).
    pub size: u32,
    /// Alignment of one entry in bytes (`_Alignof`).
    pub align: u32,
}

impl cring_entry_type {
    /// The completion entry type.
    ///
    /// cbindgen:ignore
    pub const COMPLETION: cring_entry_type = cring_entry_type {
        format: CRING_ENTRY_FORMAT_COMPLETION,
        size: 16,
        align: 8,
    };
}

/// How to lay out a new ring. Initialise it with `cring_config_init()`, then change fields.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct cring_config {
    /// `sizeof(cring_config)`, set by `cring_config_init()`; checked by every function that
    /// takes a config (`CRING_STATUS_INVALID_ARGUMENT` if it differs).
    pub struct_size: u32,
    /// Number of slots: a power of two in `CRING_MIN_CAPACITY..=CRING_MAX_CAPACITY`.
    pub capacity: u32,
    /// `CRING_MODE_SPSC`, `CRING_MODE_MPSC`, `CRING_MODE_SPMC` or `CRING_MODE_MPMC`.
    pub mode: u32,
    /// Value both indices start at (0 normally; just below 2^32 to exercise the wrap).
    pub initial_index: u32,
    /// Slots in the overflow area (a power of two, at least 2), or 0 for none. With an
    /// overflow area a full ring spills entries into it instead of refusing them.
    pub overflow_capacity: u32,
    /// Non-zero: the ring has the wait block, so consumers can sleep until entries arrive
    /// (producers then pay one fence per publication). 1 by default.
    pub wait: u32,
    /// The entry type (completions by default).
    pub entry: cring_entry_type,
}

/// A snapshot of a ring's indices and counters (each read separately: consistent only when the
/// ring is quiet).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_counters {
    /// Refusal episodes: pushes or reservations refused for lack of space (ring and overflow
    /// area full), counted once per run of consecutive refusals by one producer.
    pub full_refusals: u64,
    /// Reserved slots published as discarded.
    pub discarded: u64,
    /// Entries that went through the overflow area.
    pub overflowed: u64,
    /// Times the overflow area was activated.
    pub overflow_activations: u64,
    /// Wake-ups issued (by producers, or forced).
    pub wakeups: u64,
    /// Times a consumer went to sleep.
    pub sleeps: u64,
    /// Producer index of the ring.
    pub tail: u32,
    /// Consumer index of the ring.
    pub head: u32,
    /// Entries pending in the overflow area.
    pub overflow_pending: u32,
    /// 1 while the overflow area is active (producers route entries to it), else 0.
    pub overflow_active: u32,
    /// Consumers currently announced as sleeping or about to.
    pub waiters: u32,
    /// Always 0.
    pub reserved: u32,
}

/// What a ring is: its validated geometry.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_ring_info {
    /// Bytes of the region the ring occupies.
    pub region_len: u64,
    /// Number of slots.
    pub capacity: u32,
    /// Slots in the overflow area (0: none).
    pub overflow_capacity: u32,
    /// The ring's mode (`CRING_MODE_*`).
    pub mode: u32,
    /// 1 if the ring has the wait block, else 0.
    pub wait: u32,
    /// Layout major version (always `CRING_LAYOUT_VERSION_MAJOR`).
    pub layout_version_major: u32,
    /// Layout minor version found in the header.
    pub layout_version_minor: u32,
    /// Entry format (`CRING_ENTRY_FORMAT_*`).
    pub entry_format: u32,
    /// Entry size in bytes.
    pub entry_size: u32,
    /// Entry alignment in bytes.
    pub entry_align: u32,
    /// Always 0.
    pub reserved: u32,
}
