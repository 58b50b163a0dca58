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
pub fn completion_len(value_lens: &[usize]) -> usize {
    COMPLETION_HEAD_LEN + value_lens.iter().map(|&v| attr_size(v)).sum::<usize>()
}

/// Writes a completion and its attributes in place into a reserved record.
#[derive(Debug)]
pub struct AttrWriter<'r, 'p> {
    rec: &'r mut RecordMut<'p>,
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
        let mut head = [0u8; COMPLETION_HEAD_LEN];
        head[..8].copy_from_slice(&c.user_data.to_le_bytes());
        head[8..12].copy_from_slice(&c.result.to_le_bytes());
        head[12..].copy_from_slice(&c.flags.to_le_bytes());
        rec.write(0, &head);
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
        let head = [
            id.to_le_bytes()[0],
            id.to_le_bytes()[1],
            status,
            value.len() as u8,
        ];
        if size <= 16 {
            // Small values (every well-known one): one write of the whole attribute.
            let mut buf = [0u8; 16];
            buf[..ATTR_HEADER_LEN].copy_from_slice(&head);
            buf[ATTR_HEADER_LEN..ATTR_HEADER_LEN + value.len()].copy_from_slice(value);
            // Constant lengths, so that the copy is a store or two, not a call.
            if size == 8 {
                self.rec.write(self.at, &buf[..8]);
            } else {
                self.rec.write(self.at, &buf);
            }
        } else {
            const ZEROS: [u8; 8] = [0; 8];
            let end = self.at + ATTR_HEADER_LEN + value.len();
            self.rec.write(self.at, &head);
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
        self.rec.truncate(self.at);
        self.at
    }
}

/// The status of an attribute.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AttrStatus {
    /// [`attr_status::REQUESTED`].
    Requested,
    /// [`attr_status::UNSUPPORTED`].
    Unsupported,
    /// [`attr_status::SUPPORTED`].
    Supported,
    /// [`attr_status::HANDLED`].
    Handled,
    /// [`attr_status::FAILED`].
    Failed,
    /// A status this version does not know (above 5).
    Other(u8),
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
        let expected = match self.id {
            attr_id::DURATION_NS | attr_id::QUEUE_TIME_NS | attr_id::BYTES_TRANSFERRED => 8,
            attr_id::WORKER_CPU => 4,
            attr_id::CACHE_HIT => 1,
            _ => return None,
        };
        if self.status != AttrStatus::Handled {
            return Some(Ok(Known::NotHandled {
                id: self.id,
                status: self.status,
            }));
        }
        if self.value.len() != expected {
            return Some(Err(AttrError::ValueLength {
                id: self.id,
                expected,
                found: self.value.len(),
            }));
        }
        // Fixed-size decodes (the length equals `expected`: 8, 4 or 1), so that no copy of a
        // variable length is made.
        let v = if let Ok(b) = <[u8; 8]>::try_from(self.value) {
            u64::from_le_bytes(b)
        } else if let Ok(b) = <[u8; 4]>::try_from(self.value) {
            u64::from(u32::from_le_bytes(b))
        } else {
            self.value.first().map_or(0, |&b| u64::from(b))
        };
        Some(Ok(match self.id {
            attr_id::DURATION_NS => Known::DurationNs(v),
            attr_id::QUEUE_TIME_NS => Known::QueueTimeNs(v),
            attr_id::BYTES_TRANSFERRED => Known::BytesTransferred(v),
            attr_id::WORKER_CPU => Known::WorkerCpu(v as u32),
            _ => Known::CacheHit(v != 0),
        }))
    }
}

/// Iterator over the attributes of a completion payload. Yields an error once for a malformed
/// list and then stops.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    buf: &'a [u8],
    at: usize,
    done: bool,
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, AttrError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.at == self.buf.len() {
            return None;
        }
        let at = self.at;
        let bad = |reason| Some(Err(AttrError::Malformed { offset: at, reason }));
        self.done = true;
        if self.buf.len() - at < ATTR_HEADER_LEN {
            return bad("truncated attribute header");
        }
        let mut h = [0u8; ATTR_HEADER_LEN];
        h.copy_from_slice(&self.buf[at..at + ATTR_HEADER_LEN]);
        let id = u16::from_le_bytes([h[0], h[1]]);
        let status = h[2];
        let vlen = usize::from(h[3]);
        if id == 0 {
            return bad("attribute id 0");
        }
        if status == 0 {
            return bad("attribute status 0");
        }
        let size = attr_size(vlen);
        if size > self.buf.len() - at {
            return bad("attribute runs past the end of the record");
        }
        self.done = false;
        self.at = at + size;
        let v = at + ATTR_HEADER_LEN;
        Some(Ok(Attr {
            id,
            status: AttrStatus::from_u8(status),
            value: &self.buf[v..v + vlen],
        }))
    }
}

impl<'a> Attrs<'a> {
    /// The well-known attributes, decoded; unknown ids are skipped.
    #[inline]
    pub fn known(self) -> impl Iterator<Item = Result<Known, AttrError>> + 'a {
        self.filter_map(|a| match a {
            Ok(a) => a.known(),
            Err(e) => Some(Err(e)),
        })
    }
}

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
    let u = |r: core::ops::Range<usize>| -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..r.len()].copy_from_slice(&payload[r]);
        b
    };
    let user_data = u64::from_le_bytes(u(0..8));
    let result = i32::from_le_bytes(u(8..12)[..4].try_into().expect("4 bytes"));
    let flags = u32::from_le_bytes(u(12..16)[..4].try_into().expect("4 bytes"));
    Ok((
        Completion::new(user_data, result, flags),
        Attrs {
            buf: payload,
            at: COMPLETION_HEAD_LEN,
            done: false,
        },
    ))
}

/// Payload bytes an [`AttrList`] holds without allocating: a completion and up to 7
/// attributes of 8-byte values (or 14 of 1 to 4 bytes).
const INLINE_PAYLOAD: usize = 64;

/// The attributes of a completion record, copied out of the ring by
/// [`RecordView::completion`]: private bytes, so that reading them needs no trust in the
/// ring's other participants. Payloads up to 128 bytes are held inline, longer ones on the
/// heap.
///
/// Iterate with [`AttrList::iter`] (or `for a in &list`), decode the well-known ids with
/// [`AttrList::known`].
pub struct AttrList {
    /// The payload's length (its completion and attributes).
    len: usize,
    /// The payload when it fits: bytes `..len` are initialised.
    inline: [core::mem::MaybeUninit<u8>; INLINE_PAYLOAD],
    /// The payload, when longer than `inline`.
    heap: Option<alloc::vec::Vec<u8>>,
}

impl Clone for AttrList {
    fn clone(&self) -> Self {
        let mut c = AttrList {
            len: self.len,
            inline: [core::mem::MaybeUninit::uninit(); INLINE_PAYLOAD],
            heap: self.heap.clone(),
        };
        c.inline[..self.len.min(INLINE_PAYLOAD)]
            .copy_from_slice(&self.inline[..self.len.min(INLINE_PAYLOAD)]);
        c
    }
}

impl AttrList {
    /// The payload of `view` (at least 16 bytes), copied out with atomic loads.
    #[cfg(not(ring_core_loom))]
    #[inline]
    fn copy_of(view: &RecordView<'_>) -> Self {
        let len = view.len();
        if len > INLINE_PAYLOAD {
            let mut v = alloc::vec![0; len];
            view.copy_to(0, &mut v);
            return AttrList {
                len,
                inline: [core::mem::MaybeUninit::uninit(); INLINE_PAYLOAD],
                heap: Some(v),
            };
        }
        let mut list = AttrList {
            len,
            inline: [core::mem::MaybeUninit::uninit(); INLINE_PAYLOAD],
            heap: None,
        };
        // SAFETY: `len <= INLINE_PAYLOAD`, so `inline` has room for the payload, which the
        // view holds (validated inside its area); the copy initialises bytes `..len`.
        unsafe { view.copy_to_raw(list.inline.as_mut_ptr().cast::<u8>(), len) };
        list
    }

    #[inline]
    fn payload(&self) -> &[u8] {
        match &self.heap {
            Some(v) => v,
            // SAFETY: bytes `..len` of `inline` are initialised (`copy_of`, `Clone`).
            None => unsafe {
                core::slice::from_raw_parts(self.inline.as_ptr().cast::<u8>(), self.len)
            },
        }
    }

    /// The attributes, in record order (an error once for a malformed list, then the end).
    #[inline]
    pub fn iter(&self) -> Attrs<'_> {
        Attrs {
            buf: self.payload(),
            at: COMPLETION_HEAD_LEN,
            done: false,
        }
    }

    /// The well-known attributes, decoded; unknown ids are skipped.
    #[inline]
    pub fn known(&self) -> impl Iterator<Item = Result<Known, AttrError>> + '_ {
        self.iter().known()
    }

    /// Bytes of the attribute list (the payload after the 16-byte completion).
    #[inline]
    pub fn byte_len(&self) -> usize {
        self.len - COMPLETION_HEAD_LEN
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
    #[inline]
    pub fn completion(&self) -> Result<(Completion, AttrList), AttrError> {
        self.check_completion()?;
        let list = AttrList::copy_of(self);
        let (c, _) = parse_completion(list.payload())?;
        Ok((c, list))
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

    #[inline]
    fn check_completion(&self) -> Result<(), AttrError> {
        if self.record_type() != record_type::COMPLETION {
            return Err(AttrError::NotCompletion {
                record_type: self.record_type(),
            });
        }
        if self.len() < COMPLETION_HEAD_LEN {
            return Err(AttrError::Malformed {
                offset: 0,
                reason: "payload shorter than the 16-byte completion",
            });
        }
        Ok(())
    }
}
