//! Rings of any supported entry type behind trait objects, and the handles' owned state.
//!
//! `ring_core::Ring<T>` is generic over its entry type. The C ABI chooses the type at run time
//! from a [`cring_entry_type`], so each supported type is instantiated once ([`with_entry`]) and
//! reached through [`RingDyn`], [`ProducerDyn`] and [`ConsumerDyn`], whose methods take entries
//! as byte pointers plus the caller's idea of the entry size, which they check.
//!
//! # Producer and consumer handles, and their open reservation or view
//!
//! `ring_core::Producer<T>` and `ring_core::Consumer<T>` own a reference-counted reference to
//! the ring's memory (and to this process's eventfd slot for it), so they keep that memory
//! alive by themselves and a C producer or consumer may outlive its ring handle. The handle
//! objects therefore hold no `Arc<TypedRing<T>>`: the one thing a consumer still needs from
//! its ring, the bound on how many slots a run of discarded-only views can consume (capacity
//! plus overflow capacity), is copied into it when it is opened.
//!
//! What still needs care is the zero-copy reservation (`WriteChunk<'p, T>`) and view
//! (`ReadView<'c, T>`): each borrows its producer or consumer mutably, yet a C caller keeps it
//! open across calls, so the handle object must own both at once. A producer object stores
//!
//! 1. the `Producer<T>` in its own heap allocation, reached through a raw pointer
//!    (`Box::leak`, freed with `Box::from_raw` in `Drop`), so that moving the handle object
//!    never moves the producer, and no `Box` (whose uniqueness a move re-asserts) aliases the
//!    reservation's `&mut`;
//! 2. the open reservation, if any, as a `WriteChunk<'static, T>` made from a
//!    `&'static mut Producer<T>` reborrowed through that pointer.
//!
//! The `'static` claims more than is true; what makes it sound is the **exclusive-borrow
//! invariant**: the pointer is reborrowed for a reservation only while none is open, and while
//! one is open it holds the only reference to the producer: no method dereferences the pointer
//! until the reservation has been dropped (each checks first), and `Drop` drops the
//! reservation before it frees the producer.
//!
//! Consumers and their views (`ReadView<'static, T>`) follow the same pattern and invariant.

use crate::status::{cring_status, Fail};
use crate::types::*;
use ring_core::region::Region;
use ring_core::{
    Completion, Config, Consumer, Counters, Entry, Memory, Mode, Producer, RawRegion, ReadView,
    Ring, WaitOutcome, WriteChunk,
};
use std::mem::{align_of, size_of};
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Regions

/// A region shared by its region handles and the rings in it.
pub(crate) struct RegionObj {
    region: Mutex<Region>,
    raw: RawRegion,
    /// Whether a ring has been created in or attached to the region (after which its bytes are
    /// no longer known to be zero).
    used: AtomicBool,
}

impl RegionObj {
    pub(crate) fn new(region: Region) -> Arc<RegionObj> {
        let raw = region.raw();
        Arc::new(RegionObj {
            region: Mutex::new(region),
            raw,
            used: AtomicBool::new(false),
        })
    }

    /// Runs `f` on the region (for the accessors that need `&mut Region`).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Region) -> R) -> R {
        f(&mut self.region.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn raw(&self) -> RawRegion {
        self.raw
    }

    /// Marks the region as possibly written by the caller (its base address or descriptor was
    /// handed out), so that creating a ring in it formats every byte the layout covers.
    pub(crate) fn exposed(&self) {
        self.used.store(true, Ordering::Release);
        // Clears ring-core's own "known zero" flag too.
        self.with(|r| {
            r.as_ptr();
        });
    }
}

/// The memory of a ring: a shared region.
pub(crate) struct SharedRegion {
    obj: Arc<RegionObj>,
    fresh: bool,
}

impl SharedRegion {
    fn for_create(obj: Arc<RegionObj>) -> SharedRegion {
        let first = !obj.used.swap(true, Ordering::AcqRel);
        let fresh = first && obj.with(|r| r.is_fresh_zeroed());
        SharedRegion { obj, fresh }
    }

    fn for_attach(obj: Arc<RegionObj>) -> SharedRegion {
        obj.used.store(true, Ordering::Release);
        SharedRegion { obj, fresh: false }
    }
}

// SAFETY: `raw()` returns the range of the `Region` inside `obj` (read once at construction),
// which that `Region` keeps mapped until it is dropped, and the `Arc` keeps it alive for as long
// as this value lives. The mutex only guards `keep_file` / `unlink`, which never remap.
unsafe impl Memory for SharedRegion {
    fn raw(&self) -> RawRegion {
        self.obj.raw
    }

    fn is_fresh_zeroed(&self) -> bool {
        self.fresh
    }
}

// ---------------------------------------------------------------------------------------------
// Entry types

/// Code generic over the entry type, run by [`with_entry`] for the type a descriptor names.
pub(crate) trait WithEntry {
    type Out;
    fn run<T: Entry>(self) -> Self::Out;
}

fn entry_type_of<T: Entry>() -> cring_entry_type {
    cring_entry_type {
        format: T::FORMAT,
        size: size_of::<T>() as u32,
        align: align_of::<T>() as u32,
    }
}

/// Tries each listed type whose size and alignment match `(size, align)`.
macro_rules! opaque_types {
    ($size:expr, $align:expr, $v:expr; $($t:ty),* $(,)?) => {{
        let (size, align) = ($size, $align);
        $(
            if size == size_of::<$t>() && align == align_of::<$t>() {
                return Ok($v.run::<$t>());
            }
        )*
    }};
}

/// Runs `v` with the Rust type of entry type `e`: [`Completion`] for the completion format,
/// and for opaque entries an array of the unsigned integer of the entry's alignment (the same
/// header fields, slot stride and payload offset as any Rust `#[repr(C)]` type of that size
/// and alignment).
pub(crate) fn with_entry<V: WithEntry>(e: &cring_entry_type, v: V) -> Result<V::Out, Fail> {
    match e.format {
        CRING_ENTRY_FORMAT_COMPLETION => {
            if *e == cring_entry_type::COMPLETION {
                return Ok(v.run::<Completion>());
            }
            Err(Fail::new(
                cring_status::EntryMismatch,
                format!(
                    "completion entries are 16 bytes with alignment 8, not {} with alignment {}",
                    e.size, e.align
                ),
            ))
        }
        CRING_ENTRY_FORMAT_OPAQUE => {
            let (size, align) = (e.size as usize, e.align as usize);
            opaque_types!(size, align, v;
                [u32; 1], [u32; 2], [u32; 3], [u32; 4], [u32; 5], [u32; 6], [u32; 7], [u32; 8],
                [u32; 9], [u32; 10], [u32; 11], [u32; 12], [u32; 13], [u32; 14], [u32; 15],
                [u32; 16],
                [u64; 1], [u64; 2], [u64; 3], [u64; 4], [u64; 5], [u64; 6], [u64; 7], [u64; 8],
                [u128; 1], [u128; 2], [u128; 3], [u128; 4],
            );
            Err(Fail::new(
                cring_status::UnsupportedEntry,
                format!(
                    "opaque entries of {size} bytes with alignment {align} are not supported \
                     (alignment 4, 8 or 16; size a non-zero multiple of it, at most {CRING_MAX_OPAQUE_ENTRY_SIZE})"
                ),
            ))
        }
        f => Err(Fail::new(
            cring_status::UnsupportedEntry,
            format!("unknown entry format {f}"),
        )),
    }
}

/// Checks the caller's entry size against the ring's.
fn check_size<T>(size: usize) -> Result<(), Fail> {
    if size == size_of::<T>() {
        Ok(())
    } else {
        Err(Fail::new(
            cring_status::EntryMismatch,
            format!(
                "entry_size {size} passed, but the ring's entries are {} bytes",
                size_of::<T>()
            ),
        ))
    }
}

/// Checks a caller's array of `n` entries (NULL allowed when `n == 0`) and returns it typed.
fn check_array<T>(
    ptr: *const u8,
    size: usize,
    n: usize,
    what: &'static str,
) -> Result<*const T, Fail> {
    check_size::<T>(size)?;
    if n == 0 {
        return Ok(NonNull::<T>::dangling().as_ptr());
    }
    if ptr.is_null() {
        return Err(Fail::null(what));
    }
    if ptr as usize % align_of::<T>() != 0 {
        return Err(Fail::new(
            cring_status::Misaligned,
            format!(
                "`{what}` at {ptr:p} is not aligned to the entry alignment {}",
                align_of::<T>()
            ),
        ));
    }
    if n.checked_mul(size_of::<T>())
        .map_or(true, |b| b > isize::MAX as usize)
    {
        return Err(Fail::invalid(format!(
            "{n} entries overflow the address space"
        )));
    }
    Ok(ptr.cast())
}

/// A timeout in nanoseconds (negative: none) as ring-core wants it.
pub(crate) fn timeout(ns: i64) -> Option<Duration> {
    u64::try_from(ns).ok().map(Duration::from_nanos)
}

// ---------------------------------------------------------------------------------------------
// Rings

fn eventfd_err(op: &str, e: &std::io::Error) -> Fail {
    if e.kind() == std::io::ErrorKind::AlreadyExists {
        Fail::new(
            cring_status::WrongState,
            "an eventfd is already attached to this process's view of the ring",
        )
    } else {
        Fail::io(op, e)
    }
}

/// A ring of some entry type.
pub(crate) trait RingDyn: Send + Sync {
    fn info(&self) -> cring_ring_info;
    fn counters(&self) -> Counters;
    fn len(&self) -> u32;
    fn wake_all(&self);
    fn recover(&self) -> Result<ring_core::Recovered, Fail>;
    fn stream(&self) -> ring_core::StreamState;
    fn set_wakeups_suppressed(&self, suppressed: bool) -> Result<(), Fail>;
    fn create_eventfd(&self) -> Result<i32, Fail>;
    fn set_eventfd(&self, fd: OwnedFd) -> Result<(), Fail>;
    fn eventfd(&self) -> i32;
    fn region(&self) -> Arc<RegionObj>;
    fn producer(&self) -> Result<Box<dyn ProducerDyn>, Fail>;
    fn consumer(&self) -> Result<Box<dyn ConsumerDyn>, Fail>;
    /// A ring-aio target posting into this ring (rings of `cring_completion` only).
    fn aio_target(&self) -> Result<ring_aio::Target, Fail>;
}

pub(crate) struct TypedRing<T: Entry> {
    ring: Ring<T, SharedRegion>,
}

/// Creates a ring of the visited entry type in a region.
pub(crate) struct Create {
    pub(crate) region: Arc<RegionObj>,
    pub(crate) config: Config,
}

impl WithEntry for Create {
    type Out = Result<Arc<dyn RingDyn>, Fail>;
    fn run<T: Entry>(self) -> Self::Out {
        // Check what `format` checks, so that a refusal leaves the region untouched and
        // reports an argument error rather than a header error.
        let needed = self
            .config
            .region_len::<T>()
            .map_err(|e| Fail::invalid(e.to_string()))?;
        let raw = self.region.raw();
        if raw.as_ptr() as usize % CRING_REGION_ALIGN as usize != 0 {
            return Err(Fail::new(
                cring_status::Misaligned,
                format!(
                    "region base {:p} is not {CRING_REGION_ALIGN}-byte aligned",
                    raw.as_ptr()
                ),
            ));
        }
        if (raw.len() as u64) < needed {
            return Err(Fail::new(
                cring_status::RegionTooShort,
                format!(
                    "the ring needs {needed} bytes; the region has {}",
                    raw.len()
                ),
            ));
        }
        let ring = Ring::<T, _>::create(SharedRegion::for_create(self.region), self.config)?;
        Ok(Arc::new(TypedRing { ring }))
    }
}

/// Attaches to the ring of the visited entry type in a region.
pub(crate) struct Attach {
    pub(crate) region: Arc<RegionObj>,
    pub(crate) mode: Option<Mode>,
}

impl WithEntry for Attach {
    type Out = Result<Arc<dyn RingDyn>, Fail>;
    fn run<T: Entry>(self) -> Self::Out {
        // Validate first, so that a refusal leaves the region marked as it was.
        ring_core::attach::<T>(&self.region.raw())?;
        let mem = SharedRegion::for_attach(self.region);
        let ring = match self.mode {
            Some(mode) => Ring::<T, _>::attach_mode(mem, mode)?,
            None => Ring::<T, _>::attach(mem)?,
        };
        Ok(Arc::new(TypedRing { ring }))
    }
}

/// The region size a configuration needs.
pub(crate) struct RegionLen(pub(crate) Config);

impl WithEntry for RegionLen {
    type Out = Result<u64, Fail>;
    fn run<T: Entry>(self) -> Self::Out {
        self.0
            .region_len::<T>()
            .map_err(|e| Fail::invalid(e.to_string()))
    }
}

impl<T: Entry> RingDyn for TypedRing<T> {
    fn info(&self) -> cring_ring_info {
        let g = self.ring.geometry();
        let e = entry_type_of::<T>();
        cring_ring_info {
            region_len: g.region_len,
            capacity: g.capacity,
            overflow_capacity: g.overflow_capacity,
            mode: g.mode.bits(),
            wait: g.wait_offset.is_some() as u32,
            layout_version_major: CRING_LAYOUT_VERSION_MAJOR,
            layout_version_minor: g.version_minor,
            entry_format: e.format,
            entry_size: e.size,
            entry_align: e.align,
            reserved: 0,
        }
    }

    fn counters(&self) -> Counters {
        self.ring.counters()
    }

    fn len(&self) -> u32 {
        self.ring.len()
    }

    fn wake_all(&self) {
        self.ring.wake_all()
    }

    fn recover(&self) -> Result<ring_core::Recovered, Fail> {
        self.ring.recover().map_err(|e| {
            let status = match e {
                ring_core::RecoverError::Busy { .. } => cring_status::Busy,
                _ => cring_status::WrongState,
            };
            Fail::new(status, e.to_string())
        })
    }

    fn stream(&self) -> ring_core::StreamState {
        self.ring.stream()
    }

    fn set_wakeups_suppressed(&self, suppressed: bool) -> Result<(), Fail> {
        Ok(self.ring.set_wakeups_suppressed(suppressed)?)
    }

    fn create_eventfd(&self) -> Result<i32, Fail> {
        if self.ring.geometry().wait_offset.is_none() {
            return Err(Fail::of(cring_status::NoWaitBlock));
        }
        let fd = self
            .ring
            .create_eventfd()
            .map_err(|e| eventfd_err("eventfd", &e))?;
        Ok(fd.as_raw_fd())
    }

    fn set_eventfd(&self, fd: OwnedFd) -> Result<(), Fail> {
        if self.ring.geometry().wait_offset.is_none() {
            return Err(Fail::of(cring_status::NoWaitBlock));
        }
        self.ring
            .set_eventfd(fd)
            .map_err(|e| eventfd_err("set_eventfd", &e))
    }

    fn eventfd(&self) -> i32 {
        self.ring.eventfd().map_or(-1, |fd| fd.as_raw_fd())
    }

    fn region(&self) -> Arc<RegionObj> {
        self.ring.memory().obj.clone()
    }

    fn producer(&self) -> Result<Box<dyn ProducerDyn>, Fail> {
        let producer = self.ring.producer()?;
        Ok(Box::new(TypedProducer {
            chunk: None,
            producer: NonNull::from(Box::leak(Box::new(producer))),
            end: ProducerEnd::Drop,
        }))
    }

    fn consumer(&self) -> Result<Box<dyn ConsumerDyn>, Fail> {
        let consumer = self.ring.consumer()?;
        let g = self.ring.geometry();
        Ok(Box::new(TypedConsumer {
            view: None,
            consumer: NonNull::from(Box::leak(Box::new(consumer))),
            view_rounds: u64::from(g.capacity) + u64::from(g.overflow_capacity),
        }))
    }

    fn aio_target(&self) -> Result<ring_aio::Target, Fail> {
        let any: &dyn std::any::Any = &self.ring;
        match any.downcast_ref::<Ring<Completion, SharedRegion>>() {
            Some(ring) => Ok(ring_aio::Target::new(ring)?),
            None => {
                let e = entry_type_of::<T>();
                Err(Fail::new(
                    cring_status::EntryMismatch,
                    format!(
                        "completions go to rings of cring_completion; this ring's entries are \
                         opaque, of {} bytes with alignment {}",
                        e.size, e.align
                    ),
                ))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Producers

/// A producer of some entry type. Pointer arguments are checked (NULL, size, alignment) before
/// use; the methods are unsafe because a non-NULL pointer must be valid for the entries the
/// caller says it holds.
/// How a wait ended without error.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum WaitEnd {
    Ready,
    TimedOut,
    Closed,
}

/// What closing a producer handle does to the stream.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ProducerEnd {
    /// What dropping does: a single producer closes the stream, one of several leaves it.
    Drop,
    /// Close the stream (`Producer::close`).
    Close,
    /// Give the side up without closing (`Producer::release`).
    Release,
}

pub(crate) trait ProducerDyn: Send + Sync {
    /// What closing this handle will do to the stream.
    fn set_end(&mut self, end: ProducerEnd);
    /// # Safety
    /// `entry`, if non-NULL, is readable for `size` bytes.
    unsafe fn push(
        &mut self,
        entry: *const u8,
        size: usize,
        wait: Option<Option<Duration>>,
    ) -> Result<(), Fail>;
    /// # Safety
    /// `entries`, if non-NULL, is readable for `n * size` bytes.
    unsafe fn push_all(&mut self, entries: *const u8, n: usize, size: usize) -> Result<(), Fail>;
    /// # Safety
    /// As for `push_all`.
    unsafe fn push_some(
        &mut self,
        entries: *const u8,
        n: usize,
        size: usize,
    ) -> Result<usize, Fail>;
    fn reserve(&mut self, max: usize, exact: bool, size: usize) -> Result<usize, Fail>;
    fn entry(&mut self, i: usize) -> Result<*mut u8, Fail>;
    fn commit(&mut self) -> Result<usize, Fail>;
    fn abort(&mut self) -> Result<(), Fail>;
}

struct Chunk<T: Entry> {
    /// Borrows `*TypedProducer::producer` (see the module docs for why `'static` is sound).
    chunk: WriteChunk<'static, T>,
    /// Entries `0..obtained` have been handed out (and count as written).
    obtained: usize,
}

struct TypedProducer<T: Entry> {
    /// The open reservation. While `Some`, its `&mut` is the only reference to `*producer`
    /// (the exclusive-borrow invariant of the module docs).
    chunk: Option<Chunk<T>>,
    /// From `Box::leak`; freed in `Drop`, after `chunk`. Dereferenced only through
    /// [`TypedProducer::unborrowed`], which checks that no reservation is open.
    producer: NonNull<Producer<T>>,
    /// What `Drop` does to the stream.
    end: ProducerEnd,
}

// SAFETY: `Producer<T>` is `Send`, and the object owns its allocation, which moves with it.
// An open `WriteChunk` is `!Send` only because its lane holds `&[Slot<T>]`, whose payload
// cells are `UnsafeCell`s; the protocol gives the reservation exclusive use of its reserved
// slots whichever thread writes them (as it does between processes), nothing in it is tied to
// the thread that made it, and `T: Send`.
unsafe impl<T: Entry> Send for TypedProducer<T> {}
// SAFETY: every method takes `&mut self`; a `&TypedProducer` gives access to nothing.
unsafe impl<T: Entry> Sync for TypedProducer<T> {}

impl<T: Entry> Drop for TypedProducer<T> {
    fn drop(&mut self) {
        // The reservation borrows the producer: end it first (a producer that is closed with a
        // reservation open publishes nothing of it).
        self.chunk = None;
        // SAFETY: `producer` came from `Box::leak` in `TypedRing::producer` and is freed only
        // here, once; the reservation, the only other reference to it, was dropped just above
        // (exclusive-borrow invariant), and nothing can reach it after this.
        let p = unsafe { Box::from_raw(self.producer.as_ptr()) };
        match self.end {
            ProducerEnd::Drop => drop(p),
            ProducerEnd::Close => p.close(),
            ProducerEnd::Release => p.release(),
        }
    }
}

impl<T: Entry> TypedProducer<T> {
    /// The producer pointer, if no reservation is open (so that nothing borrows the producer).
    fn unborrowed(&self) -> Result<NonNull<Producer<T>>, Fail> {
        if self.chunk.is_some() {
            return Err(Fail::new(
                cring_status::WrongState,
                "a reservation is open: commit or abort it first",
            ));
        }
        Ok(self.producer)
    }

    fn producer(&mut self) -> Result<&mut Producer<T>, Fail> {
        let mut p = self.unborrowed()?;
        // SAFETY: the allocation is live until `Drop`, and no reservation is open, so no other
        // reference to the producer exists (exclusive-borrow invariant); the new one is tied to
        // `&mut self`, so none can be made while it lives.
        Ok(unsafe { p.as_mut() })
    }

    fn chunk(&mut self) -> Result<&mut Chunk<T>, Fail> {
        self.chunk
            .as_mut()
            .ok_or_else(|| Fail::new(cring_status::WrongState, "no reservation is open"))
    }
}

impl<T: Entry> ProducerDyn for TypedProducer<T> {
    fn set_end(&mut self, end: ProducerEnd) {
        self.end = end;
    }

    unsafe fn push(
        &mut self,
        entry: *const u8,
        size: usize,
        wait: Option<Option<Duration>>,
    ) -> Result<(), Fail> {
        let src = check_array::<T>(entry, size, 1, "entry")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees `size` readable bytes,
        // which `check_array` found equal to `size_of::<T>()`; any bytes are a valid `T`.
        let value = unsafe { src.read() };
        let p = self.producer()?;
        match wait {
            None => p.push(value)?,
            Some(t) => p.push_wait(value, t)?,
        }
        Ok(())
    }

    unsafe fn push_all(&mut self, entries: *const u8, n: usize, size: usize) -> Result<(), Fail> {
        let src = check_array::<T>(entries, size, n, "entries")?;
        // SAFETY: checked (non-NULL unless n == 0, aligned, in the address space); the caller
        // guarantees `n` readable entries; any bytes are valid `T`s.
        let values = unsafe { std::slice::from_raw_parts(src, n) };
        Ok(self.producer()?.push_all(values)?)
    }

    unsafe fn push_some(
        &mut self,
        entries: *const u8,
        n: usize,
        size: usize,
    ) -> Result<usize, Fail> {
        let src = check_array::<T>(entries, size, n, "entries")?;
        // SAFETY: as in `push_all`.
        let values = unsafe { std::slice::from_raw_parts(src, n) };
        Ok(self.producer()?.push_some(values)?)
    }

    fn reserve(&mut self, max: usize, exact: bool, size: usize) -> Result<usize, Fail> {
        check_size::<T>(size)?;
        let p = self.unborrowed()?;
        // SAFETY: the allocation is live until `Drop`, and no reservation is open, so this is
        // the only reference to the producer. It is held only by the reservation made from it,
        // stored in `self.chunk` below (or dropped with the error), and while that is `Some`
        // nothing else dereferences `producer`; `commit`, `abort` and `Drop` drop the
        // reservation before the producer is reached again or freed (exclusive-borrow
        // invariant), so the reference is never used beyond the allocation's life.
        let p: &'static mut Producer<T> = unsafe { &mut *p.as_ptr() };
        let chunk = if exact {
            p.reserve_exact(max)?
        } else {
            p.reserve(max)?
        };
        let n = chunk.len();
        self.chunk = Some(Chunk { chunk, obtained: 0 });
        Ok(n)
    }

    fn entry(&mut self, i: usize) -> Result<*mut u8, Fail> {
        let c = self.chunk()?;
        if i >= c.chunk.len() {
            return Err(Fail::invalid(format!(
                "entry {i} is outside the reservation of {}",
                c.chunk.len()
            )));
        }
        if i > c.obtained {
            return Err(Fail::invalid(format!(
                "reserved entries are taken in order: the next is {}, not {i}",
                c.obtained
            )));
        }
        c.obtained = c.obtained.max(i + 1);
        // C writes the entry in place through the pointer (outside Rust's memory model).
        Ok(c.chunk.entry_ptr(i).cast())
    }

    fn commit(&mut self) -> Result<usize, Fail> {
        self.chunk()?;
        let c = self.chunk.take().expect("checked");
        Ok(c.chunk.commit())
    }

    fn abort(&mut self) -> Result<(), Fail> {
        self.chunk()?;
        self.chunk = None;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Consumers

/// The result of a reap: entries taken and the status to return.
pub(crate) struct Reaped {
    pub(crate) n: usize,
    pub(crate) status: Result<(), Fail>,
}

/// A consumer of some entry type (see [`ProducerDyn`] for the pointer rules).
pub(crate) trait ConsumerDyn: Send + Sync {
    /// # Safety
    /// `out`, if non-NULL, is writable for `size` bytes.
    unsafe fn pop(&mut self, out: *mut u8, size: usize) -> Result<(), Fail>;
    /// # Safety
    /// `out`, if non-NULL, is writable for `cap * size` bytes.
    unsafe fn pop_into(&mut self, out: *mut u8, cap: usize, size: usize) -> Result<usize, Fail>;
    /// # Safety
    /// As for `pop_into`.
    unsafe fn reap(
        &mut self,
        out: *mut u8,
        cap: usize,
        size: usize,
        min: usize,
        timeout: Option<Duration>,
    ) -> Reaped;
    fn wait(
        &mut self,
        beyond: Option<u32>,
        min: usize,
        timeout: Option<Duration>,
    ) -> Result<(u32, WaitEnd), Fail>;
    fn position(&mut self) -> Result<u32, Fail>;
    fn set_spin(&mut self, polls: u32) -> Result<(), Fail>;
    /// # Safety
    /// `entries`, if non-NULL, is writable for `max` pointers.
    unsafe fn view(
        &mut self,
        max: usize,
        size: usize,
        entries: *mut *const u8,
    ) -> Result<usize, Fail>;
    fn release(&mut self) -> Result<(), Fail>;
    fn eventfd_prepare(&mut self) -> Result<bool, Fail>;
    fn eventfd_finish(&mut self) -> Result<(), Fail>;
}

struct TypedConsumer<T: Entry> {
    /// The open view. While `Some`, its `&mut` is the only reference to `*consumer` (the
    /// exclusive-borrow invariant of the module docs).
    view: Option<ReadView<'static, T>>,
    /// From `Box::leak`; freed in `Drop`, after `view`. Dereferenced only through
    /// [`TypedConsumer::unborrowed`], which checks that no view is open.
    consumer: NonNull<Consumer<T>>,
    /// How many views of only discarded slots `view` skips at most: the ring's capacity plus
    /// its overflow capacity (each such view consumes at least one slot).
    view_rounds: u64,
}

// SAFETY: as for `TypedProducer`: `Consumer<T>` is `Send`, the allocation moves with the
// object, and an open `ReadView` is `!Send` only through `&[Slot<T>]`; the protocol keeps its
// claimed slots unwritten until it is released, from whichever thread.
unsafe impl<T: Entry> Send for TypedConsumer<T> {}
// SAFETY: every method takes `&mut self`; a `&TypedConsumer` gives access to nothing.
unsafe impl<T: Entry> Sync for TypedConsumer<T> {}

impl<T: Entry> Drop for TypedConsumer<T> {
    fn drop(&mut self) {
        // The view borrows the consumer: release it first (its entries count as consumed).
        self.view = None;
        // SAFETY: `consumer` came from `Box::leak` in `TypedRing::consumer` and is freed only
        // here, once; the view, the only other reference to it, was dropped just above
        // (exclusive-borrow invariant), and nothing can reach it after this.
        drop(unsafe { Box::from_raw(self.consumer.as_ptr()) });
    }
}

impl<T: Entry> TypedConsumer<T> {
    /// The consumer pointer, if no view is open (so that nothing borrows the consumer).
    fn unborrowed(&self) -> Result<NonNull<Consumer<T>>, Fail> {
        if self.view.is_some() {
            return Err(Fail::new(
                cring_status::WrongState,
                "a view is open: release it first",
            ));
        }
        Ok(self.consumer)
    }

    fn consumer(&mut self) -> Result<&mut Consumer<T>, Fail> {
        let mut c = self.unborrowed()?;
        // SAFETY: the allocation is live until `Drop`, and no view is open, so no other
        // reference to the consumer exists (exclusive-borrow invariant); the new one is tied to
        // `&mut self`, so none can be made while it lives.
        Ok(unsafe { c.as_mut() })
    }

    /// The caller's output array, zeroed (so that Rust never sees uninitialised memory) and
    /// typed.
    ///
    /// # Safety
    /// `out`, if non-NULL, is writable for `cap * size` bytes.
    unsafe fn out_slice<'a>(out: *mut u8, cap: usize, size: usize) -> Result<&'a mut [T], Fail> {
        let dst = check_array::<T>(out, size, cap, "entries")? as *mut T;
        // SAFETY: checked non-NULL (or dangling with cap == 0), aligned and in the address
        // space; the caller guarantees `cap` writable entries, which we zero so that every
        // element is initialised (any bytes are a valid `T`).
        unsafe {
            std::ptr::write_bytes(dst, 0, cap);
            Ok(std::slice::from_raw_parts_mut(dst, cap))
        }
    }
}

impl<T: Entry> ConsumerDyn for TypedConsumer<T> {
    unsafe fn pop(&mut self, out: *mut u8, size: usize) -> Result<(), Fail> {
        let dst = check_array::<T>(out, size, 1, "entry")? as *mut T;
        let v = self.consumer()?.pop()?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees `size` writable bytes.
        unsafe { dst.write(v) };
        Ok(())
    }

    unsafe fn pop_into(&mut self, out: *mut u8, cap: usize, size: usize) -> Result<usize, Fail> {
        self.consumer()?;
        // SAFETY: the caller's guarantee, passed on.
        let out = unsafe { Self::out_slice(out, cap, size)? };
        Ok(self.consumer()?.pop_into(out)?)
    }

    unsafe fn reap(
        &mut self,
        out: *mut u8,
        cap: usize,
        size: usize,
        min: usize,
        timeout: Option<Duration>,
    ) -> Reaped {
        let fail = |f| Reaped {
            n: 0,
            status: Err(f),
        };
        if let Err(f) = self.consumer() {
            return fail(f);
        }
        // SAFETY: the caller's guarantee, passed on.
        let out = match unsafe { Self::out_slice(out, cap, size) } {
            Ok(o) => o,
            Err(f) => return fail(f),
        };
        let min = min.min(cap);
        let c = self.consumer().expect("checked above");
        match c.reap(out, min, timeout) {
            Ok(n) if n >= min => Reaped { n, status: Ok(()) },
            // Fewer than `min` and the stream closed: everything there was is taken.
            Ok(n) if c.stream().closed => Reaped {
                n,
                status: Err(Fail::of(cring_status::Closed)),
            },
            Ok(n) => Reaped {
                n,
                status: Err(Fail::of(cring_status::TimedOut)),
            },
            Err(e) => fail(e.into()),
        }
    }

    fn wait(
        &mut self,
        beyond: Option<u32>,
        min: usize,
        timeout: Option<Duration>,
    ) -> Result<(u32, WaitEnd), Fail> {
        let c = self.consumer()?;
        let r = match beyond {
            None => c.wait(min, timeout)?,
            Some(pos) => c.wait_beyond(pos, min, timeout)?,
        };
        Ok(match r {
            WaitOutcome::Ready(n) => (n, WaitEnd::Ready),
            WaitOutcome::TimedOut(n) => (n, WaitEnd::TimedOut),
            WaitOutcome::Closed(n) => (n, WaitEnd::Closed),
        })
    }

    fn position(&mut self) -> Result<u32, Fail> {
        Ok(self.consumer()?.position())
    }

    fn set_spin(&mut self, polls: u32) -> Result<(), Fail> {
        self.consumer()?.set_spin(polls);
        Ok(())
    }

    unsafe fn view(
        &mut self,
        max: usize,
        size: usize,
        entries: *mut *const u8,
    ) -> Result<usize, Fail> {
        check_size::<T>(size)?;
        if max == 0 {
            return Err(Fail::invalid("max must be at least 1"));
        }
        if entries.is_null() {
            return Err(Fail::null("entries"));
        }
        if entries as usize % align_of::<*const u8>() != 0 {
            return Err(Fail::new(
                cring_status::Misaligned,
                "`entries` is not aligned for pointers",
            ));
        }
        let ptr = self.unborrowed()?;
        // A view of only discarded slots delivers nothing: release it and look again (each
        // round consumes at least one slot; a lap of them at most).
        for _ in 0..=self.view_rounds {
            // SAFETY: the allocation is live until `Drop`, and no view is open (checked above;
            // a round that keeps its view returns, any other drops it before the next), so
            // this is the only reference to the consumer. It is held only by the view made
            // from it, which is dropped in this round or stored in `self.view`, and while that
            // is `Some` nothing else dereferences `consumer`; `release` and `Drop` drop the
            // view before the consumer is reached again or freed (exclusive-borrow invariant),
            // so the reference is never used beyond the allocation's life.
            let c: &'static mut Consumer<T> = unsafe { &mut *ptr.as_ptr() };
            let view = c.view(max)?;
            let mut n = 0usize;
            for i in 0..view.claimed() {
                if view.is_discarded(i) {
                    continue;
                }
                // SAFETY: `n < max` (the view claims at most `max` positions) and the caller
                // guarantees `max` writable pointers at `entries`. C reads the entries in place
                // through these pointers (outside Rust's memory model).
                unsafe { entries.add(n).write(view.entry_ptr(i).cast()) };
                n += 1;
            }
            if n > 0 {
                self.view = Some(view);
                return Ok(n);
            }
        }
        Err(Fail::of(cring_status::Empty))
    }

    fn release(&mut self) -> Result<(), Fail> {
        if self.view.take().is_none() {
            return Err(Fail::new(cring_status::WrongState, "no view is open"));
        }
        Ok(())
    }

    fn eventfd_prepare(&mut self) -> Result<bool, Fail> {
        Ok(self.consumer()?.eventfd_prepare()?)
    }

    fn eventfd_finish(&mut self) -> Result<(), Fail> {
        self.consumer()?.eventfd_finish();
        Ok(())
    }
}
