//! Status codes, the per-thread last error, and the panic boundary every entry point runs in.

use core::ffi::{c_char, CStr};
use ring_core::{ClaimError, Corruption, LayoutError, PopError, PushAllError, RegionError};
use ring_core::{PushError, WaitError};
use std::borrow::Cow;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The result of every `cring_*` function that can fail.
///
/// `CRING_STATUS_OK` is 0; every other value is a failure (or, for `FULL`, `EMPTY` and
/// `TIMED_OUT`, an expected outcome that did not do what was asked). Turn a code into text with
/// `cring_status_message()`; details of the last failure on the calling thread are available
/// from `cring_last_error_message()`.
#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum cring_status {
    /// Success.
    Ok = 0,
    /// The ring (and its overflow area, if any) has no room: nothing was pushed.
    Full = 1,
    /// No entry is available: nothing was taken.
    Empty = 2,
    /// The timeout expired before the condition held (outputs tell what was done).
    TimedOut = 3,
    /// A signal interrupted a sleep (`EINTR`); nothing was taken.
    Interrupted = 4,
    /// The single producer or single consumer side is claimed by another live participant.
    Busy = 5,
    /// The handle is being used by a call on another thread (producer and consumer handles
    /// serve one call at a time).
    InUse = 6,
    /// The call is not valid in the handle's state (a reservation or view is open, or none is).
    WrongState = 7,
    /// The ring's shared state is inconsistent (a peer wrote something no correct participant
    /// writes); nothing was done.
    Corrupt = 8,
    /// An argument is out of range (a capacity that is not a power of two, an index, a flag).
    InvalidArgument = 9,
    /// A required pointer argument is NULL.
    NullPointer = 10,
    /// The handle is not open: never opened, already closed, or of another kind.
    BadHandle = 11,
    /// A pointer is not aligned as required (entries to their alignment, regions to 128 bytes).
    Misaligned = 12,
    /// The entry size, alignment or format passed does not match the ring's entries.
    EntryMismatch = 13,
    /// The entry type (format, size, alignment) is not one this library supports.
    UnsupportedEntry = 14,
    /// A batch is larger than the ring's capacity and can never fit.
    TooLarge = 15,
    /// The region does not hold a ring (bad magic: not a ring, or not formatted yet).
    NotARing = 16,
    /// The ring's layout version or feature bits are not supported by this library.
    Version = 17,
    /// The ring was created for another mode than the one required.
    ModeMismatch = 18,
    /// The region is shorter than the ring needs.
    RegionTooShort = 19,
    /// The ring's header is inconsistent (details in `cring_last_error_message()`).
    Layout = 20,
    /// The ring has no wait block, so consumers cannot sleep on it.
    NoWaitBlock = 21,
    /// Wake-ups are suppressed on the ring, so sleeping could last for ever.
    WakeupsSuppressed = 22,
    /// Huge pages of the requested size are not available.
    HugepagesUnavailable = 23,
    /// A shared-memory name is empty, too long, or contains `/` or NUL.
    InvalidName = 24,
    /// A system call failed (`cring_last_os_error()` gives `errno`).
    Io = 25,
    /// Too many open handles, or out of memory.
    NoResources = 26,
    /// A bug in the library panicked; the panic was caught. The handle involved, if any, is
    /// poisoned: every later call on it returns this status; close it.
    Panic = 27,
    /// End of stream (layout 1.3): the producers closed the ring's stream and nothing is left
    /// to take (consumers), or the stream is closed and no producer may join it (producers).
    Closed = 28,
}

impl cring_status {
    /// Every status, in code order.
    ///
    /// cbindgen:ignore
    pub const ALL: [cring_status; 29] = [
        cring_status::Ok,
        cring_status::Full,
        cring_status::Empty,
        cring_status::TimedOut,
        cring_status::Interrupted,
        cring_status::Busy,
        cring_status::InUse,
        cring_status::WrongState,
        cring_status::Corrupt,
        cring_status::InvalidArgument,
        cring_status::NullPointer,
        cring_status::BadHandle,
        cring_status::Misaligned,
        cring_status::EntryMismatch,
        cring_status::UnsupportedEntry,
        cring_status::TooLarge,
        cring_status::NotARing,
        cring_status::Version,
        cring_status::ModeMismatch,
        cring_status::RegionTooShort,
        cring_status::Layout,
        cring_status::NoWaitBlock,
        cring_status::WakeupsSuppressed,
        cring_status::HugepagesUnavailable,
        cring_status::InvalidName,
        cring_status::Io,
        cring_status::NoResources,
        cring_status::Panic,
        cring_status::Closed,
    ];

    /// The status with this code, if any.
    pub fn from_code(code: u32) -> Option<cring_status> {
        Self::ALL.get(code as usize).copied()
    }

    /// The status's constant name in the C header (`"CRING_STATUS_FULL"`).
    pub fn name(self) -> &'static CStr {
        use cring_status::*;
        match self {
            Ok => c"CRING_STATUS_OK",
            Full => c"CRING_STATUS_FULL",
            Empty => c"CRING_STATUS_EMPTY",
            TimedOut => c"CRING_STATUS_TIMED_OUT",
            Interrupted => c"CRING_STATUS_INTERRUPTED",
            Busy => c"CRING_STATUS_BUSY",
            InUse => c"CRING_STATUS_IN_USE",
            WrongState => c"CRING_STATUS_WRONG_STATE",
            Corrupt => c"CRING_STATUS_CORRUPT",
            InvalidArgument => c"CRING_STATUS_INVALID_ARGUMENT",
            NullPointer => c"CRING_STATUS_NULL_POINTER",
            BadHandle => c"CRING_STATUS_BAD_HANDLE",
            Misaligned => c"CRING_STATUS_MISALIGNED",
            EntryMismatch => c"CRING_STATUS_ENTRY_MISMATCH",
            UnsupportedEntry => c"CRING_STATUS_UNSUPPORTED_ENTRY",
            TooLarge => c"CRING_STATUS_TOO_LARGE",
            NotARing => c"CRING_STATUS_NOT_A_RING",
            Version => c"CRING_STATUS_VERSION",
            ModeMismatch => c"CRING_STATUS_MODE_MISMATCH",
            RegionTooShort => c"CRING_STATUS_REGION_TOO_SHORT",
            Layout => c"CRING_STATUS_LAYOUT",
            NoWaitBlock => c"CRING_STATUS_NO_WAIT_BLOCK",
            WakeupsSuppressed => c"CRING_STATUS_WAKEUPS_SUPPRESSED",
            HugepagesUnavailable => c"CRING_STATUS_HUGEPAGES_UNAVAILABLE",
            InvalidName => c"CRING_STATUS_INVALID_NAME",
            Io => c"CRING_STATUS_IO",
            NoResources => c"CRING_STATUS_NO_RESOURCES",
            Panic => c"CRING_STATUS_PANIC",
            Closed => c"CRING_STATUS_CLOSED",
        }
    }

    /// A one-line description of the status.
    pub fn message(self) -> &'static CStr {
        use cring_status::*;
        match self {
            Ok => c"success",
            Full => c"the ring (and its overflow area, if any) is full: nothing was pushed",
            Empty => c"the ring is empty (the stream is open: more entries may come)",
            TimedOut => c"the timeout expired",
            Interrupted => c"interrupted by a signal",
            Busy => c"the single producer or consumer side is claimed by another live participant",
            InUse => c"the handle is in use by a call on another thread",
            WrongState => c"the call is not valid in the handle's state (a reservation or view is open, or none is)",
            Corrupt => c"the ring's shared state is corrupt",
            InvalidArgument => c"an argument is out of range",
            NullPointer => c"a required pointer argument is NULL",
            BadHandle => c"the handle is not open (never opened, closed, or of another kind)",
            Misaligned => c"a pointer is not aligned as required",
            EntryMismatch => c"the entry size, alignment or format does not match the ring's entries",
            UnsupportedEntry => c"the entry type is not supported by this library",
            TooLarge => c"the batch is larger than the ring's capacity",
            NotARing => c"the region does not hold a ring (bad magic: not a ring, or its creator has not finished formatting it: retry)",
            Version => c"the ring's layout version or features are not supported",
            ModeMismatch => c"the ring was created for another mode (SPSC, MPSC, SPMC or MPMC) than the one required",
            RegionTooShort => c"the region is shorter than the ring needs (an empty file: its creator has not sized it yet)",
            Layout => c"the ring's header is inconsistent",
            NoWaitBlock => c"the ring has no wait block",
            WakeupsSuppressed => c"wake-ups are suppressed on the ring",
            HugepagesUnavailable => c"huge pages of the requested size are not available",
            InvalidName => c"invalid shared-memory name (1 to 255 bytes, not . or .., without / or NUL)",
            Io => c"a system call failed",
            NoResources => c"too many open handles, or out of memory",
            Panic => c"internal error: a panic was caught (the handle is poisoned)",
            Closed => c"end of stream: the producers closed the ring (and it is drained)",
        }
    }

    fn message_str(self) -> &'static str {
        self.message().to_str().unwrap_or("?")
    }
}

/// A failure: the status returned to C, the detail recorded as the thread's last error, and the
/// OS error code if a system call failed.
#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) status: cring_status,
    pub(crate) detail: Cow<'static, str>,
    pub(crate) errno: i32,
}

impl Fail {
    /// A failure whose detail is the status's own message (no allocation: used on hot paths).
    pub(crate) fn of(status: cring_status) -> Fail {
        Fail {
            status,
            detail: Cow::Borrowed(status.message_str()),
            errno: 0,
        }
    }

    /// A failure with a specific detail.
    pub(crate) fn new(status: cring_status, detail: impl Into<Cow<'static, str>>) -> Fail {
        Fail {
            status,
            detail: detail.into(),
            errno: 0,
        }
    }

    pub(crate) fn null(what: &'static str) -> Fail {
        Fail::new(
            cring_status::NullPointer,
            format!("`{what}` must not be NULL"),
        )
    }

    pub(crate) fn invalid(detail: impl Into<Cow<'static, str>>) -> Fail {
        Fail::new(cring_status::InvalidArgument, detail)
    }

    pub(crate) fn io(op: &str, err: &std::io::Error) -> Fail {
        Fail {
            status: cring_status::Io,
            detail: Cow::Owned(format!("{op} failed: {err}")),
            errno: err.raw_os_error().unwrap_or(0),
        }
    }
}

impl From<Corruption> for Fail {
    fn from(c: Corruption) -> Fail {
        Fail::new(cring_status::Corrupt, c.to_string())
    }
}

impl<T> From<PushError<T>> for Fail {
    fn from(e: PushError<T>) -> Fail {
        match e {
            PushError::Full(_) => Fail::of(cring_status::Full),
            PushError::Corrupt(_, c) => c.into(),
        }
    }
}

impl From<PushAllError> for Fail {
    fn from(e: PushAllError) -> Fail {
        match e {
            PushAllError::Full { .. } => Fail::of(cring_status::Full),
            PushAllError::TooLarge { .. } => Fail::new(cring_status::TooLarge, e.to_string()),
            PushAllError::Corrupt(c) => c.into(),
        }
    }
}

impl From<PopError> for Fail {
    fn from(e: PopError) -> Fail {
        match e {
            PopError::Empty => Fail::of(cring_status::Empty),
            PopError::Closed => Fail::of(cring_status::Closed),
            PopError::Corrupt(c) => c.into(),
        }
    }
}

impl From<ClaimError> for Fail {
    fn from(e: ClaimError) -> Fail {
        match e {
            ClaimError::Busy { .. }
            | ClaimError::NoProducerRecord { .. }
            | ClaimError::TooManyProducers { .. } => Fail::new(cring_status::Busy, e.to_string()),
            ClaimError::Closed => Fail::new(cring_status::Closed, e.to_string()),
            ClaimError::Corrupt(c) => c.into(),
        }
    }
}

impl From<WaitError> for Fail {
    fn from(e: WaitError) -> Fail {
        match e {
            WaitError::Interrupted => Fail::of(cring_status::Interrupted),
            WaitError::WakeupsSuppressed => Fail::of(cring_status::WakeupsSuppressed),
            WaitError::NoWaitBlock => Fail::of(cring_status::NoWaitBlock),
            WaitError::Closed => Fail::of(cring_status::Closed),
            WaitError::Corrupt(c) => c.into(),
            WaitError::Futex(errno) => Fail {
                status: cring_status::Io,
                detail: Cow::Owned(e.to_string()),
                errno,
            },
            WaitError::NoEventfd => Fail::new(
                cring_status::WrongState,
                "no eventfd is attached to this process's view of the ring \
                 (cring_ring_create_eventfd() or cring_ring_set_eventfd() first)",
            ),
            _ => Fail::new(cring_status::Io, e.to_string()),
        }
    }
}

/// The status of a layout error.
fn layout_status(e: &LayoutError) -> cring_status {
    use cring_status as S;
    use LayoutError::*;
    match e {
        Misaligned { .. } => S::Misaligned,
        RegionTooShort { .. } => S::RegionTooShort,
        BadMagic { .. } => S::NotARing,
        UnsupportedVersion { .. }
        | UnknownIncompatFeatures { .. }
        | UnknownReadOnlyFeatures { .. } => S::Version,
        EntryFormat { .. } | EntrySize { .. } | EntryAlign { .. } | SlotLayout { .. } => {
            S::EntryMismatch
        }
        ModeMismatch { .. } => S::ModeMismatch,
        _ => S::Layout,
    }
}

/// A layout error found while attaching to (validating) an existing region.
impl From<LayoutError> for Fail {
    fn from(e: LayoutError) -> Fail {
        Fail::new(layout_status(&e), e.to_string())
    }
}

impl From<RegionError> for Fail {
    fn from(e: RegionError) -> Fail {
        match &e {
            RegionError::Io { source, .. } => Fail {
                status: cring_status::Io,
                detail: Cow::Owned(e.to_string()),
                errno: source.raw_os_error().unwrap_or(0),
            },
            RegionError::HugePagesUnavailable { source, .. } => Fail {
                status: cring_status::HugepagesUnavailable,
                detail: Cow::Owned(e.to_string()),
                errno: source.raw_os_error().unwrap_or(0),
            },
            RegionError::InvalidName { .. } => Fail::new(cring_status::InvalidName, e.to_string()),
            RegionError::Layout(l) => (*l).into(),
            RegionError::FileLayout { error, .. } => Fail::new(layout_status(error), e.to_string()),
            _ => Fail::new(cring_status::Layout, e.to_string()),
        }
    }
}

/// The calling thread's last failure.
struct LastError {
    status: cring_status,
    detail: Cow<'static, str>,
    errno: i32,
}

thread_local! {
    static LAST: RefCell<LastError> = const {
        RefCell::new(LastError {
            status: cring_status::Ok,
            detail: Cow::Borrowed(""),
            errno: 0,
        })
    };
}

fn record(fail: Fail) {
    // `try_with`: during thread teardown the slot may be gone; the status is still returned.
    let _ = LAST.try_with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            l.status = fail.status;
            l.detail = fail.detail;
            l.errno = fail.errno;
        }
    });
}

/// The calling thread's last failure message (empty if none), with its status and errno.
pub(crate) fn last_error() -> (cring_status, String, i32) {
    LAST.try_with(|l| {
        l.try_borrow()
            .map(|l| (l.status, l.detail.to_string(), l.errno))
            .unwrap_or((cring_status::Ok, String::new(), 0))
    })
    .unwrap_or((cring_status::Ok, String::new(), 0))
}

/// Copies the last error message into `buf` (snprintf-style); returns the full length.
pub(crate) fn copy_last_error(buf: *mut c_char, len: usize) -> usize {
    let (_, msg, _) = last_error();
    let bytes = msg.as_bytes();
    if !buf.is_null() && len > 0 {
        let n = bytes.len().min(len - 1);
        // SAFETY: the caller guarantees `buf` is writable for `len` bytes; `n + 1 <= len`.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), buf, n);
            *buf.add(n) = 0;
        }
    }
    bytes.len()
}

/// The panic payload's message.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs the body of an entry point: a panic becomes [`cring_status::Panic`] (never unwinding
/// into C), a failure is recorded as the thread's last error and its status returned.
pub(crate) fn boundary(f: impl FnOnce() -> Result<(), Fail>) -> cring_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => cring_status::Ok,
        Ok(Err(fail)) => {
            let status = fail.status;
            record(fail);
            status
        }
        Err(payload) => {
            let msg = panic_message(&*payload);
            // Dropping the payload could itself panic (a payload with a panicking Drop); never
            // let that escape.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            record(Fail::new(
                cring_status::Panic,
                format!("internal error (panic caught): {msg}"),
            ));
            cring_status::Panic
        }
    }
}

/// Runs a body that cannot report a status (a getter returning a value): a panic gives
/// `fallback`.
pub(crate) fn boundary_value<R>(fallback: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}
