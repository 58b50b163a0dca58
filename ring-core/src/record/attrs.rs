//! Completion records with attributes (spec/RECORDS.md, section 9).
//!
//! A completion record (type [`record_type::COMPLETION`]) is a [`Completion`] (16 bytes: cookie,
//! `i32` result, `u32` flags) followed by attributes, each 8-byte aligned: `u16 id`,
//! `u8 status`, `u8 vlen`, `vlen` value bytes, zero padding. [`AttrWriter`] writes them in place
//! into a reserved record; [`parse_completion`] reads them back, and [`Attrs::known`] skips the
//! ids it does not know.
//!
//! # Examples
//!
//! ```
//! use ring_core::record::attrs::{attr_id, attr_status, completion_len, AttrWriter, Known};
//! use ring_core::record::{RecordConfig, RecordRing};
//! use ring_core::Completion;
//!
//! let ring = RecordRing::create_heap(RecordConfig::new(4096)).unwrap();
//! let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
//!
//! let mut rec = tx.reserve(completion_len(&[8, 4, 0])).unwrap();
//! let mut w = AttrWriter::new(&mut rec, Completion::new(42, 4096, 0)).unwrap();
//! w.push_u64(attr_id::DURATION_NS, 1_500).unwrap();
//! w.push_u32(attr_id::WORKER_CPU, 3).unwrap();
//! w.push(0x8001, attr_status::UNSUPPORTED, &[]).unwrap(); // a user id
//! w.finish();
//! rec.commit();
//!
//! let r = rx.read().unwrap();
//! let (c, attrs) = r.completion().unwrap();
//! assert_eq!((c.user_data, c.result), (42, 4096));
//! let known: Vec<Known> = attrs.known().collect::<Result<_, _>>().unwrap();
//! assert_eq!(known, [Known::DurationNs(1_500), Known::WorkerCpu(3)]);
//! ```

use super::layout::record_type;
use super::RecordMut;
#[cfg(not(ring_core_loom))]
use super::RecordView;
use crate::entry::Completion;
use core::fmt;
use core::mem::MaybeUninit;

/// Bytes of the completion before the attributes.
pub const COMPLETION_HEAD_LEN: usize = 16;
/// Bytes of an attribute header (`id`, `status`, `vlen`).
pub const ATTR_HEADER_LEN: usize = 4;
/// Largest attribute value.
pub const MAX_ATTR_VALUE: usize = 255;

/// Well-known attribute ids; 6 to 0x7fff are reserved, 0x8000 to 0xffff are the user's.
pub mod attr_id {
    /// Time the operation took, ns (`u64`).
    pub const DURATION_NS: u16 = 1;
    /// Time from submission to start, ns (`u64`).
    pub const QUEUE_TIME_NS: u16 = 2;
    /// Bytes moved (`u64`).
    pub const BYTES_TRANSFERRED: u16 = 3;
    /// CPU the worker ran on (`u32`).
    pub const WORKER_CPU: u16 = 4;
    /// Cache hit (1) or miss (0) (`u8`).
    pub const CACHE_HIT: u16 = 5;
    /// First user id.
    pub const USER_FIRST: u16 = 0x8000;
}

/// Attribute status values.
pub mod attr_status {
    /// Asked for; not answered (no value).
    pub const REQUESTED: u8 = 1;
    /// The completer does not know or cannot produce it.
    pub const UNSUPPORTED: u8 = 2;
    /// Known, but did not apply to this operation (no value).
    pub const SUPPORTED: u8 = 3;
    /// The value is present and valid.
    pub const HANDLED: u8 = 4;
    /// Tried and failed; a 4-byte value is a positive errno.
    pub const FAILED: u8 = 5;
}

/// Errors writing or reading attributes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AttrError {
    /// The record is too small for what is being written.
    NoRoom {
        /// Bytes the write needs.
        needed: usize,
        /// Bytes left in the record.
        left: usize,
    },
    /// A value longer than [`MAX_ATTR_VALUE`].
    ValueTooLong {
        /// Its length.
        len: usize,
    },
    /// Id 0 or status 0, which are never valid.
    Invalid {
        /// The id given.
        id: u16,
        /// The status given.
        status: u8,
    },
    /// The record is not a completion record.
    NotCompletion {
        /// Its type.
        record_type: u8,
    },
    /// The attribute list is malformed at this payload offset; reading stops there.
    Malformed {
        /// Payload offset.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A well-known attribute marked handled whose value has the wrong size.
    ValueLength {
        /// The id.
        id: u16,
        /// The size its id defines.
        expected: usize,
        /// The size found.
        found: usize,
    },
}

impl fmt::Display for AttrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AttrError::NoRoom { needed, left } => write!(
                f,
                "completion record: {needed} bytes needed for the attribute, {left} left in the record"
            ),
            AttrError::ValueTooLong { len } => {
                write!(f, "attribute value of {len} bytes exceeds the 255-byte limit")
            }
            AttrError::Invalid { id, status } => write!(
                f,
                "attribute id {id} with status {status}: id 0 and status 0 are never valid"
            ),
            AttrError::NotCompletion { record_type } => {
                write!(f, "record of type {record_type} is not a completion record (type 3)")
            }
            AttrError::Malformed { offset, reason } => {
                write!(f, "malformed attribute list at payload offset {offset}: {reason}")
            }
            AttrError::ValueLength {
                id,
                expected,
                found,
            } => write!(
                f,
                "well-known attribute {id} has a {found}-byte value, its id defines {expected} bytes"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AttrError {}

/// Bytes an attribute with `vlen` value bytes occupies.
pub const fn attr_size(vlen: usize) -> usize {
    (ATTR_HEADER_LEN + vlen + 7) & !7
}

/// Payload bytes of a completion record with attributes of these value lengths.
///
/// Inline and `const`, so that a constant list (the usual case) folds to a constant length
/// and the writer's room checks against it fold away.
///
/// # Examples
///
/// ```
/// use ring_core::record::attrs::completion_len;
///
/// const LEN: usize = completion_len(&[8, 4, 0]);
/// assert_eq!(LEN, 16 + 16 + 8 + 8);
/// ```
#[inline]
pub const fn completion_len(value_lens: &[usize]) -> usize {
    let mut len = COMPLETION_HEAD_LEN;
    let mut i = 0;
    while i < value_lens.len() {
        len += attr_size(value_lens[i]);
        i += 1;
    }
    len
}

/// Writes a completion and its attributes in place into a reserved record.
#[derive(Debug)]
pub struct AttrWriter<'r, 'p> {
    rec: &'r mut RecordMut<'p>,
    /// Payload bytes written: always a multiple of 8, at least 16 and at most `rec.len()`
    /// (the unchecked word stores rely on it; `rec` cannot change length while borrowed).
    at: usize,
}

impl<'r, 'p> AttrWriter<'r, 'p> {
    /// Writes `c` at the start of `rec` and makes it a completion record.
    ///
    /// # Errors
    ///
    /// [`AttrError::NoRoom`] if the record is shorter than 16 bytes.
    #[inline]
    pub fn new(rec: &'r mut RecordMut<'p>, c: Completion) -> Result<Self, AttrError> {
        if rec.len() < COMPLETION_HEAD_LEN {
            return Err(AttrError::NoRoom {
                needed: COMPLETION_HEAD_LEN,
                left: rec.len(),
            });
        }
        // Two word stores: the cookie, then the result and the flags (little-endian).
        // SAFETY: offsets 0 and 8, words inside the record (`len >= 16`, checked above).
        unsafe {
            rec.write_word_unchecked(0, c.user_data);
            rec.write_word_unchecked(8, u64::from(c.result as u32) | u64::from(c.flags) << 32);
        }
        rec.set_type(record_type::COMPLETION);
        Ok(AttrWriter {
            rec,
            at: COMPLETION_HEAD_LEN,
        })
    }

    /// Goes on writing attributes into a completion record that an earlier [`AttrWriter`] on
    /// the same reservation began, `written` payload bytes in (what [`AttrWriter::written`]
    /// returned): for callers, such as the C ABI, that cannot keep the writer borrowed between
    /// calls. The completion and the attributes already written are left as they are.
    ///
    /// # Errors
    ///
    /// [`AttrError::NotCompletion`] if the record's type is not [`record_type::COMPLETION`];
    /// [`AttrError::Malformed`] if `written` is below 16, not a multiple of 8, or beyond the
    /// record.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::record::attrs::{attr_id, parse_completion, AttrWriter};
    /// use ring_core::record::{RecordConfig, RecordRing};
    /// use ring_core::Completion;
    ///
    /// let ring = RecordRing::create_heap(RecordConfig::new(256)).unwrap();
    /// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// let mut rec = tx.reserve(64).unwrap();
    /// let at = AttrWriter::new(&mut rec, Completion::new(7, 0, 0)).unwrap().written();
    /// let mut w = AttrWriter::resume(&mut rec, at).unwrap();
    /// w.push_u64(attr_id::DURATION_NS, 9).unwrap();
    /// w.finish();
    /// rec.commit();
    /// let r = rx.read().unwrap();
    /// let payload = r.to_vec();
    /// let (c, attrs) = parse_completion(&payload).unwrap();
    /// assert_eq!((c.user_data, attrs.count()), (7, 1));
    /// ```
    pub fn resume(rec: &'r mut RecordMut<'p>, written: usize) -> Result<Self, AttrError> {
        if rec.record_type() != record_type::COMPLETION {
            return Err(AttrError::NotCompletion {
                record_type: rec.record_type(),
            });
        }
        if written < COMPLETION_HEAD_LEN || written % 8 != 0 || written > rec.len() {
            return Err(AttrError::Malformed {
                offset: written,
                reason: "resumed at an offset that no attribute writer ended at",
            });
        }
        Ok(AttrWriter { rec, at: written })
    }

    /// Appends an attribute.
    ///
    /// # Errors
    ///
    /// [`AttrError::Invalid`] for id or status 0, [`AttrError::ValueTooLong`],
    /// [`AttrError::NoRoom`] when the record has no room left; nothing is written then.
    #[inline]
    pub fn push(&mut self, id: u16, status: u8, value: &[u8]) -> Result<(), AttrError> {
        if id == 0 || status == 0 {
            return Err(AttrError::Invalid { id, status });
        }
        if value.len() > MAX_ATTR_VALUE {
            return Err(AttrError::ValueTooLong { len: value.len() });
        }
        let size = attr_size(value.len());
        let left = self.rec.len() - self.at;
        if size > left {
            return Err(AttrError::NoRoom { needed: size, left });
        }
        let head = u32::from(id) | u32::from(status) << 16 | (value.len() as u32) << 24;
        if size <= 16 {
            // Small values (every well-known one): the whole attribute, padding included, as
            // one or two word stores (`at` is a multiple of 8: `new` and `resume` start there
            // and every size is one).
            let mut buf = [0u8; 16];
            buf[..ATTR_HEADER_LEN].copy_from_slice(&head.to_le_bytes());
            buf[ATTR_HEADER_LEN..ATTR_HEADER_LEN + value.len()].copy_from_slice(value);
            let word = |k: usize| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&buf[k..k + 8]);
                u64::from_le_bytes(w)
            };
            // SAFETY: `at` is a multiple of 8 (the writer's invariant: it starts at 16 or at a
            // checked multiple of 8 and moves by sizes, multiples of 8) and `at + size <= len`
            // (checked above), so each of the `size / 8` words lies inside the record.
            unsafe {
                self.rec.write_word_unchecked(self.at, word(0));
                if size == 16 {
                    self.rec.write_word_unchecked(self.at + 8, word(8));
                }
            }
        } else {
            const ZEROS: [u8; 8] = [0; 8];
            let end = self.at + ATTR_HEADER_LEN + value.len();
            self.rec.write(self.at, &head.to_le_bytes());
            self.rec.write(self.at + ATTR_HEADER_LEN, value);
            self.rec.write(end, &ZEROS[..self.at + size - end]);
        }
        self.at += size;
        Ok(())
    }

    /// Appends a handled `u64` attribute.
    ///
    /// # Errors
    ///
    /// As for [`AttrWriter::push`].
    #[inline]
    pub fn push_u64(&mut self, id: u16, v: u64) -> Result<(), AttrError> {
        self.push(id, attr_status::HANDLED, &v.to_le_bytes())
    }

    /// Appends a handled `u32` attribute.
    ///
    /// # Errors
    ///
    /// As for [`AttrWriter::push`].
    #[inline]
    pub fn push_u32(&mut self, id: u16, v: u32) -> Result<(), AttrError> {
        self.push(id, attr_status::HANDLED, &v.to_le_bytes())
    }

    /// Appends a handled `u8` attribute.
    ///
    /// # Errors
    ///
    /// As for [`AttrWriter::push`].
    #[inline]
    pub fn push_u8(&mut self, id: u16, v: u8) -> Result<(), AttrError> {
        self.push(id, attr_status::HANDLED, &[v])
    }

    /// Payload bytes written so far.
    pub fn written(&self) -> usize {
        self.at
    }

    /// Ends the list: the record is truncated to what was written. Returns its length.
    #[inline]
    pub fn finish(self) -> usize {
        // SAFETY: `at <= len`, the writer's invariant (`new`, `resume` and `push` check it).
        unsafe { self.rec.truncate_unchecked(self.at) };
        self.at
    }
}

/// The status of an attribute.
// Discriminants equal to the status bytes, so that decoding one is a range check, not a table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AttrStatus {
    /// [`attr_status::REQUESTED`].
    Requested = attr_status::REQUESTED,
    /// [`attr_status::UNSUPPORTED`].
    Unsupported = attr_status::UNSUPPORTED,
    /// [`attr_status::SUPPORTED`].
    Supported = attr_status::SUPPORTED,
    /// [`attr_status::HANDLED`].
    Handled = attr_status::HANDLED,
    /// [`attr_status::FAILED`].
    Failed = attr_status::FAILED,
    /// A status this version does not know (above 5).
    Other(u8) = 0,
}

impl AttrStatus {
    #[inline]
    fn from_u8(s: u8) -> Self {
        match s {
            attr_status::REQUESTED => AttrStatus::Requested,
            attr_status::UNSUPPORTED => AttrStatus::Unsupported,
            attr_status::SUPPORTED => AttrStatus::Supported,
            attr_status::HANDLED => AttrStatus::Handled,
            attr_status::FAILED => AttrStatus::Failed,
            other => AttrStatus::Other(other),
        }
    }
}

/// One attribute as read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    /// Its id.
    pub id: u16,
    /// Its status.
    pub status: AttrStatus,
    /// Its value bytes.
    pub value: &'a [u8],
}

/// A well-known attribute with status handled, decoded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Known {
    /// [`attr_id::DURATION_NS`].
    DurationNs(u64),
    /// [`attr_id::QUEUE_TIME_NS`].
    QueueTimeNs(u64),
    /// [`attr_id::BYTES_TRANSFERRED`].
    BytesTransferred(u64),
    /// [`attr_id::WORKER_CPU`].
    WorkerCpu(u32),
    /// [`attr_id::CACHE_HIT`].
    CacheHit(bool),
    /// A well-known id with a status other than handled.
    NotHandled {
        /// The id.
        id: u16,
        /// The status.
        status: AttrStatus,
    },
}

impl<'a> Attr<'a> {
    /// Decodes a well-known attribute; `None` for an id this version does not know.
    ///
    /// # Errors
    ///
    /// [`AttrError::ValueLength`] for a handled well-known attribute of the wrong size.
    #[inline]
    pub fn known(&self) -> Option<Result<Known, AttrError>> {
        // One dispatch on the id: its size, its check and its decoding together.
        let r = match self.id {
            attr_id::DURATION_NS => self
                .handled::<8>()
                .map(|b| Known::DurationNs(u64::from_le_bytes(b))),
            attr_id::QUEUE_TIME_NS => self
                .handled::<8>()
                .map(|b| Known::QueueTimeNs(u64::from_le_bytes(b))),
            attr_id::BYTES_TRANSFERRED => self
                .handled::<8>()
                .map(|b| Known::BytesTransferred(u64::from_le_bytes(b))),
            attr_id::WORKER_CPU => self
                .handled::<4>()
                .map(|b| Known::WorkerCpu(u32::from_le_bytes(b))),
            attr_id::CACHE_HIT => self.handled::<1>().map(|b| Known::CacheHit(b[0] != 0)),
            _ => return None,
        };
        Some(match r {
            Ok(k) => Ok(k),
            Err(e) => e,
        })
    }

    /// The value of a well-known attribute whose id defines `N` bytes, if it is handled and
    /// has that size; else what [`Self::known`] reports instead.
    #[inline(always)]
    fn handled<const N: usize>(&self) -> Result<[u8; N], Result<Known, AttrError>> {
        if self.status != AttrStatus::Handled {
            return Err(Ok(Known::NotHandled {
                id: self.id,
                status: self.status,
            }));
        }
        <[u8; N]>::try_from(self.value).map_err(|_| {
            Err(AttrError::ValueLength {
                id: self.id,
                expected: N,
                found: self.value.len(),
            })
        })
    }
}

/// Iterator over the attributes of a completion payload. Yields an error once for a malformed
/// list and then stops.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    /// The attribute list: the payload after its 16-byte completion.
    buf: &'a [u8],
    /// The next attribute's offset in `buf`; `buf.len()` once the list ended (or failed).
    at: usize,
}

impl<'a> Attrs<'a> {
    /// The iterator over `list`, the bytes of a payload after its completion.
    #[inline(always)]
    fn new(list: &'a [u8]) -> Self {
        Attrs { buf: list, at: 0 }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, AttrError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (at, buf) = (self.at, self.buf);
        // `at <= buf.len()` always: it starts at 0 and moves only to an attribute's end inside
        // `buf`, or to `buf.len()`.
        let left = buf.len() - at;
        if left == 0 {
            return None;
        }
        if left < ATTR_HEADER_LEN {
            return self.malformed("truncated attribute header");
        }
        // SAFETY: `at + 4 <= buf.len()` (`left >= 4`).
        let h = unsafe { buf.as_ptr().add(at).cast::<[u8; 4]>().read_unaligned() };
        let h = u32::from_le_bytes(h);
        let (id, status, vlen) = (h as u16, (h >> 16) as u8, (h >> 24) as usize);
        let size = attr_size(vlen);
        if id == 0 || status == 0 || size > left {
            return self.malformed(if id == 0 {
                "attribute id 0"
            } else if status == 0 {
                "attribute status 0"
            } else {
                "attribute runs past the end of the record"
            });
        }
        self.at = at + size;
        // SAFETY: `at + 4 + vlen <= at + size <= buf.len()` (`size <= left`).
        let value = unsafe { buf.get_unchecked(at + ATTR_HEADER_LEN..at + ATTR_HEADER_LEN + vlen) };
        Some(Ok(Attr {
            id,
            status: AttrStatus::from_u8(status),
            value,
        }))
    }
}

impl<'a> Attrs<'a> {
    /// Ends the walk with [`AttrError::Malformed`] at the current attribute (a payload
    /// offset: the list starts at 16). Built here, in registers, so that the item need not
    /// go through memory.
    #[inline(always)]
    fn malformed(&mut self, reason: &'static str) -> Option<Result<Attr<'a>, AttrError>> {
        let offset = COMPLETION_HEAD_LEN + self.at;
        self.at = self.buf.len();
        Some(Err(AttrError::Malformed { offset, reason }))
    }
}

impl<'a> Attrs<'a> {
    /// The well-known attributes, decoded; unknown ids are skipped.
    #[inline(always)]
    pub fn known(self) -> KnownAttrs<'a> {
        KnownAttrs { attrs: self }
    }
}

/// Iterator over the well-known attributes of a completion, decoded ([`Attrs::known`],
/// [`AttrList::known`]): attributes with ids this version does not know are skipped; a
/// malformed list yields its error once, then the iteration ends.
///
/// A named type with an inline `next`, so that a caller that takes the first item decodes it
/// in registers (the item is not returned through memory by an out-of-line closure).
///
/// # Examples
///
/// ```
/// use ring_core::record::attrs::{attr_id, parse_completion, Known};
///
/// // A completion (16 bytes), an unknown user attribute, then the worker CPU.
/// let mut payload = vec![0u8; 16];
/// payload.extend_from_slice(&[0x01, 0x80, 4, 0, 0, 0, 0, 0]); // id 0x8001, no value
/// payload.extend_from_slice(&[attr_id::WORKER_CPU as u8, 0, 4, 4, 7, 0, 0, 0]);
/// let (_, attrs) = parse_completion(&payload).unwrap();
/// let mut known = attrs.known();
/// assert_eq!(known.next(), Some(Ok(Known::WorkerCpu(7))));
/// assert_eq!(known.next(), None);
/// ```
#[derive(Clone, Debug)]
pub struct KnownAttrs<'a> {
    attrs: Attrs<'a>,
}

impl Iterator for KnownAttrs<'_> {
    type Item = Result<Known, AttrError>;

    /// Inline (always), so that the caller's list stays in registers: the common case (a
    /// handled well-known attribute of its id's size) is decoded here, everything else by an
    /// out-of-line walk that takes and returns plain values.
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (at, buf) = (self.attrs.at, self.attrs.buf);
        // `at <= buf.len()` (the walk's invariant, see `Attrs::next`).
        let left = buf.len() - at;
        if left == 0 {
            return None;
        }
        if let Some((k, size)) = known_at(buf, at) {
            self.attrs.at = at + size;
            return Some(Ok(k));
        }
        let (item, at) = known_walk(buf, at);
        self.attrs.at = at;
        item
    }
}

/// The well-known attribute at offset `at` of `buf`, decoded when it is marked handled and has
/// its id's size, with its size in the list: from its first 8 bytes (header and the first four
/// value bytes) as one load, and for an 8-byte value the next four bytes. Anything else (an
/// unknown id, another status, a wrong size, a malformed header, fewer than 8 bytes left) is
/// `None`: the general walk decodes it from the same offset, reading the same bytes. (The
/// bounds checks fold into the callers' own when inlined.)
#[inline(always)]
fn known_at(buf: &[u8], at: usize) -> Option<(Known, usize)> {
    let word = |from: usize| -> Option<u64> {
        let b: [u8; 8] = buf.get(from..from.checked_add(8)?)?.try_into().ok()?;
        Some(u64::from_le_bytes(b))
    };
    let w = word(at)?;
    let (id, status, vlen) = (w as u16, (w >> 16) as u8, (w >> 24) as u8);
    let hi = (w >> 32) as u32;
    if status != attr_status::HANDLED {
        return None;
    }
    match (id, vlen) {
        (attr_id::WORKER_CPU, 4) => Some((Known::WorkerCpu(hi), 8)),
        (attr_id::CACHE_HIT, 1) => Some((Known::CacheHit(hi as u8 != 0), 8)),
        (attr_id::DURATION_NS..=attr_id::BYTES_TRANSFERRED, 8) => {
            // The value's last four bytes, then the attribute's padding: all 16 bytes of the
            // attribute must be in the list.
            let lo = word(at + 8)? as u32;
            let v = u64::from(hi) | u64::from(lo) << 32;
            Some((
                match id {
                    attr_id::DURATION_NS => Known::DurationNs(v),
                    attr_id::QUEUE_TIME_NS => Known::QueueTimeNs(v),
                    _ => Known::BytesTransferred(v),
                },
                16,
            ))
        }
        _ => None,
    }
}

/// [`KnownAttrs::next`] out of its common case: the next well-known attribute of `buf` from
/// offset `at` (unknown ids skipped), or the list's error, and the offset after it. Values
/// in and out, so that the caller's iterator need not be in memory for the call. Bounded:
/// every step moves on by at least one attribute (8 bytes) or ends the walk.
#[cold]
#[inline(never)]
fn known_walk(buf: &[u8], at: usize) -> (Option<Result<Known, AttrError>>, usize) {
    let mut attrs = Attrs { buf, at };
    loop {
        if let Some((k, size)) = known_at(buf, attrs.at) {
            return (Some(Ok(k)), attrs.at + size);
        }
        match attrs.next() {
            None => return (None, attrs.at),
            Some(Ok(a)) => {
                if let Some(k) = a.known() {
                    return (Some(k), attrs.at);
                }
            }
            Some(Err(e)) => return (Some(Err(e)), attrs.at),
        }
    }
}

impl core::iter::FusedIterator for KnownAttrs<'_> {}

/// Reads a completion payload: the completion and an iterator over its attributes.
///
/// # Errors
///
/// [`AttrError::Malformed`] at offset 0 for a payload shorter than 16 bytes. Errors in the
/// list come from the iterator.
#[inline]
pub fn parse_completion(payload: &[u8]) -> Result<(Completion, Attrs<'_>), AttrError> {
    if payload.len() < COMPLETION_HEAD_LEN {
        return Err(AttrError::Malformed {
            offset: 0,
            reason: "payload shorter than the 16-byte completion",
        });
    }
    let word = |k: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&payload[k..k + 8]);
        u64::from_le_bytes(w)
    };
    Ok((
        completion_of(word(0), word(8)),
        Attrs::new(&payload[COMPLETION_HEAD_LEN..]),
    ))
}

/// The completion whose 16 bytes are the little-endian words `w0` (the cookie) and `w1` (the
/// result, then the flags).
#[inline(always)]
fn completion_of(w0: u64, w1: u64) -> Completion {
    Completion::new(w0, w1 as u32 as i32, (w1 >> 32) as u32)
}

/// Attribute bytes an [`AttrList`] holds without allocating: up to 6 attributes of 1 to 4
/// bytes, or 3 of 8 (a payload of up to 64 bytes).
const INLINE_LIST: usize = 48;

/// The attributes of a completion record, copied out of the ring by
/// [`RecordView::completion`]: private bytes, so that reading them needs no trust in the
/// ring's other participants. Lists of up to 48 bytes (payloads of up to 64) are held inline,
/// longer ones on the heap.
///
/// Iterate with [`AttrList::iter`] (or `for a in &list`), decode the well-known ids with
/// [`AttrList::known`].
pub struct AttrList {
    /// The list's length in bytes (the payload after the completion).
    len: usize,
    /// The list when it fits, as words in memory order: words `..len.div_ceil(8)` are
    /// initialised (a partial last one padded with zeros), the others are not, so that
    /// nothing is stored for them. Words, so that the copy into it is word loads into
    /// registers (the compiler keeps an array indexed by constants in registers until it is
    /// stored in place).
    inline: [MaybeUninit<u64>; INLINE_LIST / 8],
    /// The list, when longer than `inline`.
    heap: Option<alloc::boxed::Box<[u8]>>,
}

impl Clone for AttrList {
    fn clone(&self) -> Self {
        let mut inline = [MaybeUninit::uninit(); INLINE_LIST / 8];
        if self.heap.is_none() {
            let n = self.len.div_ceil(8);
            inline[..n].copy_from_slice(&self.inline[..n]);
        }
        AttrList {
            len: self.len,
            inline,
            heap: self.heap.clone(),
        }
    }
}

impl AttrList {
    /// The completion and attribute list of `view` (a payload of at least 16 bytes), copied
    /// out with atomic loads.
    #[cfg(not(ring_core_loom))]
    #[inline(always)]
    fn copy_of(view: &RecordView<'_>) -> (Completion, Self) {
        debug_assert!(view.len() >= COMPLETION_HEAD_LEN);
        // SAFETY: the payload holds at least 16 bytes (checked by the caller) and is 8-byte
        // aligned.
        let (w0, w1) = unsafe { view.load_head() };
        let c = completion_of(w0, w1);
        let len = view.len() - COMPLETION_HEAD_LEN;
        let mut inline = [MaybeUninit::uninit(); INLINE_LIST / 8];
        if len > INLINE_LIST {
            // SAFETY: the list's `len` bytes follow the completion in the validated, held
            // payload, 8-byte aligned.
            let mut list = core::mem::MaybeUninit::<AttrList>::uninit();
            // SAFETY: as above; `copy_long` initialises `list`.
            return (c, unsafe {
                copy_long(
                    view.payload.add(COMPLETION_HEAD_LEN),
                    len,
                    list.as_mut_ptr(),
                );
                list.assume_init()
            });
        }
        // Constant indices (the loop is unrolled), so that `inline` lives in registers here.
        for (k, w) in inline.iter_mut().enumerate() {
            if 8 * k + 8 <= len {
                // SAFETY: list word `k` lies in the payload (`16 + 8k + 8 <= 16 + len`).
                *w = MaybeUninit::new(unsafe { view.load_list_word(k) });
            } else if 8 * k < len {
                // A list whose length is not a multiple of 8 (malformed, the walk will say).
                // SAFETY: as above, for its `len - 8k` bytes.
                *w = MaybeUninit::new(unsafe {
                    load_tail(view.payload.add(COMPLETION_HEAD_LEN + 8 * k), len - 8 * k)
                });
            }
        }
        (
            c,
            AttrList {
                len,
                inline,
                heap: None,
            },
        )
    }

    #[inline(always)]
    fn payload(&self) -> &[u8] {
        match &self.heap {
            Some(v) => v,
            // SAFETY: `len <= INLINE_LIST` when the list is inline (`copy_of`): in bounds of
            // `inline`, whose words `..len.div_ceil(8)`, which hold bytes `..len`, are
            // initialised (`copy_of`, `Clone`).
            None => unsafe {
                core::slice::from_raw_parts(self.inline.as_ptr().cast::<u8>(), self.len)
            },
        }
    }

    /// The attributes, in record order (an error once for a malformed list, then the end).
    #[inline(always)]
    pub fn iter(&self) -> Attrs<'_> {
        Attrs::new(self.payload())
    }

    /// The well-known attributes, decoded; unknown ids are skipped.
    #[inline(always)]
    pub fn known(&self) -> KnownAttrs<'_> {
        self.iter().known()
    }

    /// Bytes of the attribute list (the payload after the 16-byte completion).
    #[inline]
    pub fn byte_len(&self) -> usize {
        self.len
    }

    /// Whether the record carries no attribute bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.byte_len() == 0
    }
}

impl<'a> IntoIterator for &'a AttrList {
    type Item = Result<Attr<'a>, AttrError>;
    type IntoIter = Attrs<'a>;
    #[inline]
    fn into_iter(self) -> Attrs<'a> {
        self.iter()
    }
}

impl fmt::Debug for AttrList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(not(ring_core_loom))]
impl RecordView<'_> {
    /// Reads this record as a completion with attributes, copied out of the ring with atomic
    /// loads (a peer that rewrites the record meanwhile can give wrong values, never undefined
    /// behaviour).
    ///
    /// # Errors
    ///
    /// [`AttrError::NotCompletion`] for another record type; as [`parse_completion`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::record::attrs::{attr_id, completion_len, AttrWriter, Known};
    /// use ring_core::record::{RecordConfig, RecordRing};
    /// use ring_core::Completion;
    ///
    /// let ring = RecordRing::create_heap(RecordConfig::new(256)).unwrap();
    /// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// let mut rec = tx.reserve(completion_len(&[8])).unwrap();
    /// let mut w = AttrWriter::new(&mut rec, Completion::new(7, 512, 0)).unwrap();
    /// w.push_u64(attr_id::BYTES_TRANSFERRED, 512).unwrap();
    /// w.finish();
    /// rec.commit();
    /// let (c, attrs) = rx.read().unwrap().completion().unwrap();
    /// assert_eq!(c.user_data, 7);
    /// assert_eq!(attrs.known().next(), Some(Ok(Known::BytesTransferred(512))));
    /// ```
    #[inline(always)]
    pub fn completion(&self) -> Result<(Completion, AttrList), AttrError> {
        self.check_completion()?;
        // The completion is read from the ring (two word loads), the list copied after it;
        // the list is checked as it is walked.
        Ok(AttrList::copy_of(self))
    }

    /// Reads this record as a completion with attributes in place, without copying.
    ///
    /// # Safety
    ///
    /// The attributes borrow memory that other participants map. Honest producers never write
    /// a record a consumer holds, but a peer that does not follow the protocol (in this process
    /// or another) could write it while the borrow lives, which would be a data race: call this
    /// only when every participant that can write the ring's memory is trusted.
    /// [`Self::completion`] copies and needs no such trust.
    ///
    /// # Errors
    ///
    /// As for [`Self::completion`].
    #[inline]
    pub unsafe fn completion_in_place(&self) -> Result<(Completion, Attrs<'_>), AttrError> {
        self.check_completion()?;
        // SAFETY: the caller vouches for every participant (above).
        parse_completion(unsafe { self.bytes() })
    }

    #[inline(always)]
    fn check_completion(&self) -> Result<(), AttrError> {
        if self.record_type() != record_type::COMPLETION || self.len() < COMPLETION_HEAD_LEN {
            // By value, so that the view need not be in memory.
            return Err(not_a_completion(self.record_type(), self.len()));
        }
        Ok(())
    }
}

/// The error of [`RecordView::completion`] for a record of type `ty` and `len` payload bytes
/// that is not a completion. (Inline: a call here, which the compiler must assume can unwind,
/// would make the caller keep its `RecordRef` in memory for the unwinding path.)
#[cfg(not(ring_core_loom))]
#[inline(always)]
fn not_a_completion(ty: u8, len: usize) -> AttrError {
    if ty != record_type::COMPLETION {
        return AttrError::NotCompletion { record_type: ty };
    }
    debug_assert!(len < COMPLETION_HEAD_LEN);
    AttrError::Malformed {
        offset: 0,
        reason: "payload shorter than the 16-byte completion",
    }
}

/// The last, partial word of an attribute list: its `n` bytes at `src`, loaded atomically one
/// by one, then zeros, in memory order. (Inline, without a call, for the reason given at
/// [`not_a_completion`].)
///
/// # Safety
///
/// `n < 8`; `src` is valid for reads of `n` bytes of a held record, accessed only atomically.
#[cfg(not(ring_core_loom))]
#[inline(always)]
unsafe fn load_tail(src: *const u8, n: usize) -> u64 {
    debug_assert!(n < 8);
    let mut b = [0u8; 8];
    for (i, byte) in b.iter_mut().enumerate().take(n) {
        // SAFETY: `i < n`: in the caller's range; bytes need no alignment; atomic.
        *byte = unsafe {
            (*src.add(i).cast::<core::sync::atomic::AtomicU8>())
                .load(core::sync::atomic::Ordering::Relaxed)
        };
    }
    u64::from_ne_bytes(b)
}

/// [`AttrList::copy_of`]'s list of more than [`INLINE_LIST`] bytes, copied to the heap into
/// `*out`.
///
/// Out of line and `extern "C"`: a function of that ABI cannot unwind (a panic in it would
/// abort), and the compiler knows it at the call, so that the caller, which holds a
/// `RecordRef`, needs no unwinding path that keeps the reference in memory (with a call that
/// may unwind, its fields go through the stack on every read). Nothing here panics but a
/// failed allocation: a list of at most 16 MiB cannot overflow a `usize`, and running out of
/// memory aborts with `std` anyway (without it, the allocation error handler's panic becomes
/// an abort here).
///
/// # Safety
///
/// `src` is 8-byte aligned and valid for reads of `len` bytes of a held record, accessed only
/// atomically; `out` is valid for a write of an `AttrList`.
#[cfg(not(ring_core_loom))]
#[cold]
#[inline(never)]
unsafe extern "C" fn copy_long(src: *const u8, len: usize, out: *mut AttrList) {
    let mut v = alloc::vec![0; len].into_boxed_slice();
    // SAFETY: the caller's contract; `v` holds `len` bytes.
    unsafe { crate::sync::bytes::copy_out_aligned(src, v.as_mut_ptr(), len) };
    let list = AttrList {
        len,
        inline: [MaybeUninit::uninit(); INLINE_LIST / 8],
        heap: Some(v),
    };
    // SAFETY: the caller's contract.
    unsafe { out.write(list) };
}
