//! Entry types: what a slot carries.

use crate::layout::entry_format;

/// A plain-data type that can travel through a ring.
///
/// Entries are copied in and out of memory that another, untrusted process may write at any
/// moment, so whatever bytes are found there must be a valid value of the type.
///
/// # Safety
///
/// Implementors guarantee that:
/// - every bit pattern of `size_of::<Self>()` bytes is a valid `Self` (no `bool`, `char`,
///   enums, references, `NonZero*`);
/// - the type has no padding bytes (every byte of a value is initialised): entries are copied
///   into and out of slots word by word with atomic accesses, which read every byte;
/// - the type holds no pointers or handles whose meaning depends on the process;
/// - `align_of::<Self>()` is at most 128.
///
/// # Examples
///
/// ```
/// use ring_core::Entry;
///
/// #[derive(Copy, Clone, Debug, PartialEq)]
/// #[repr(C)]
/// struct Sample {
///     channel: u32,
///     value: u32,
/// }
///
/// // SAFETY: two `u32`s, no padding; every bit pattern is a valid `Sample`.
/// unsafe impl Entry for Sample {}
/// ```
pub unsafe trait Entry: Copy + Send + Sync + 'static {
    /// The [`entry_format`] identifier recorded in the header.
    /// Caller-defined types keep the default, [`entry_format::OPAQUE`].
    const FORMAT: u32 = entry_format::OPAQUE;
}

macro_rules! plain_entries {
    ($($t:ty),*) => {
        $(
            // SAFETY: a primitive integer: every bit pattern is valid and there is no padding.
            unsafe impl Entry for $t {}
            // SAFETY: an array of a primitive integer: every bit pattern is valid, no padding.
            unsafe impl<const N: usize> Entry for [$t; N] {}
        )*
    };
}
plain_entries!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, usize, isize);

/// The default completion entry, in the spirit of `io_event` and io_uring's CQE: the caller's
/// cookie, a signed result, and flags. 16 bytes, align 8, [`entry_format::COMPLETION_V1`].
///
/// # Examples
///
/// ```
/// use ring_core::Completion;
///
/// let c = Completion::new(0xfeed, -11, 0);
/// assert_eq!(c.user_data, 0xfeed);
/// assert!(c.is_error());
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Completion {
    /// The submitter's cookie, returned unchanged (for example a request id or a pointer-sized
    /// token meaningful to the submitting process).
    pub user_data: u64,
    /// The operation's result: a byte count or value when non-negative, `-errno` when negative.
    pub result: i32,
    /// Completion flags, defined by the application (for example "more completions follow").
    pub flags: u32,
}

impl Completion {
    /// A completion with the given cookie, result and flags.
    pub const fn new(user_data: u64, result: i32, flags: u32) -> Self {
        Completion {
            user_data,
            result,
            flags,
        }
    }

    /// Whether `result` reports an error (is negative).
    pub const fn is_error(&self) -> bool {
        self.result < 0
    }
}

// SAFETY: u64 + i32 + u32 with no padding (16 bytes, align 8); every bit pattern is valid.
unsafe impl Entry for Completion {
    const FORMAT: u32 = entry_format::COMPLETION_V1;
}

const _: () = assert!(core::mem::size_of::<Completion>() == 16);
