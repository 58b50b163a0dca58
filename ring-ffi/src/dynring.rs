//! Rings of any supported entry type behind trait objects, and the handles' owned state.
//!
//! `ring_core::Ring<T>` is generic over its entry type. The C ABI chooses the type at run time
//! from a [`cring_entry_type`], so each supported type is instantiated once ([`with_entry`]) and
//! reached through [`RingDyn`], [`ProducerDyn`] and [`ConsumerDyn`], whose methods take entries
//! as byte pointers plus the caller's idea of the entry size, which they check.
//!
//! # Producer and consumer handles own borrowing values
//!
//! `ring_core::Producer<'r, T>` borrows its `Ring` for `'r`, and a zero-copy reservation
//! (`WriteChunk<'p, 'r, T>`) or view (`ReadView<'c, 'r, T>`) borrows the producer or consumer
//! mutably. A C handle must own all of these at once, so each handle object stores
//!
//! 1. an `Arc<TypedRing<T>>`: the ring, whose address never changes while the `Arc` lives;
//! 2. the `Producer<'static, T>` in its own heap allocation, reached through a raw pointer
//!    (`Box::leak`, freed in `Drop`), so that moving the handle object never moves the producer
//!    or re-asserts the uniqueness of a `Box` while a reservation borrows it; its `'static` is
//!    a lie told by `transmute` that the `Arc` makes true;
//! 3. the open reservation (`WriteChunk<'static, 'static, T>`), if any, holding the only
//!    `&mut` to the producer while it exists. Every method checks that no reservation is open
//!    before it touches the producer, and the reservation is always dropped before the
//!    producer, which is dropped before the `Arc` (see the `Drop` impls).
//!
//! Consumers and their views (`ReadView<'static, 'static, T>`) follow the same pattern.

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
    fn set_wakeups_suppressed(&self, suppressed: bool) -> Result<(), Fail>;
    fn create_eventfd(&self) -> Result<i32, Fail>;
    fn set_eventfd(&self, fd: OwnedFd) -> Result<(), Fail>;
    fn eventfd(&self) -> i32;
    fn region(&self) -> Arc<RegionObj>;
    fn producer(self: Arc<Self>) -> Result<Box<dyn ProducerDyn>, Fail>;
    fn consumer(self: Arc<Self>) -> Result<Box<dyn ConsumerDyn>, Fail>;
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

    fn producer(self: Arc<Self>) -> Result<Box<dyn ProducerDyn>, Fail> {
        let p = self.ring.producer()?;
        // SAFETY: `p` borrows `self.ring`, which lives inside the `Arc` allocation: it never
        // moves, and it stays alive as long as the `TypedProducer` below, which holds the `Arc`
        // and drops the producer first (see the module docs).
        let p: Producer<'static, T> = unsafe { std::mem::transmute::<Producer<'_, T>, _>(p) };
        Ok(Box::new(TypedProducer {
            chunk: None,
            producer: NonNull::from(Box::leak(Box::new(p))),
            _ring: self,
        }))
    }

    fn consumer(self: Arc<Self>) -> Result<Box<dyn ConsumerDyn>, Fail> {
        let c = self.ring.consumer()?;
        // SAFETY: as in `producer`.
        let c: Consumer<'static, T> = unsafe { std::mem::transmute::<Consumer<'_, T>, _>(c) };
        Ok(Box::new(TypedConsumer {
            view: None,
            consumer: NonNull::from(Box::leak(Box::new(c))),
            _ring: self,
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Producers

/// A producer of some entry type. Pointer arguments are checked (NULL, size, alignment) before
/// use; the methods are unsafe because a non-NULL pointer must be valid for the entries the
/// caller says it holds.
pub(crate) trait ProducerDyn: Send + Sync {
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

struct Chunk<T: 'static> {
    chunk: WriteChunk<'static, 'static, T>,
    /// Entries `0..obtained` have been handed out (and count as written).
    obtained: usize,
}

struct TypedProducer<T: Entry> {
    /// The open reservation: holds the only `&mut` to `*producer` while `Some`.
    chunk: Option<Chunk<T>>,
    /// From `Box::leak`; freed in `Drop`.
    producer: NonNull<Producer<'static, T>>,
    /// Keeps the ring (and so the memory `producer` borrows) alive; dropped last.
    _ring: Arc<TypedRing<T>>,
}

// SAFETY: the producer and the reservation reach shared memory only through atomics and
// protocol-arbitrated payload cells, like a `&Ring` that any thread may use to make a producer;
// nothing in them is tied to the thread that made them (ring-core's handles are `!Send` only
// because they hold `&Slot<T>`, whose payload cell is an `UnsafeCell`). The owned allocation
// moves with the object.
unsafe impl<T: Entry> Send for TypedProducer<T> {}
// SAFETY: every method takes `&mut self`; a `&TypedProducer` gives access to nothing.
unsafe impl<T: Entry> Sync for TypedProducer<T> {}

impl<T: Entry> Drop for TypedProducer<T> {
    fn drop(&mut self) {
        // The reservation borrows the producer: end it first (a producer that is closed with a
        // reservation open publishes nothing of it).
        self.chunk = None;
        // SAFETY: `producer` came from `Box::leak` and is freed only here; no reservation
        // borrows it any more.
        drop(unsafe { Box::from_raw(self.producer.as_ptr()) });
    }
}

impl<T: Entry> TypedProducer<T> {
    fn producer(&mut self) -> Result<&mut Producer<'static, T>, Fail> {
        if self.chunk.is_some() {
            return Err(Fail::new(
                cring_status::WrongState,
                "a reservation is open: commit or abort it first",
            ));
        }
        // SAFETY: no reservation is open, so nothing else borrows the producer; the borrow is
        // tied to `&mut self`.
        Ok(unsafe { self.producer.as_mut() })
    }

    fn chunk(&mut self) -> Result<&mut Chunk<T>, Fail> {
        self.chunk
            .as_mut()
            .ok_or_else(|| Fail::new(cring_status::WrongState, "no reservation is open"))
    }
}

impl<T: Entry> ProducerDyn for TypedProducer<T> {
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
        self.producer()?;
        // SAFETY: no reservation is open (checked just above), so this is the only reference
        // to the producer; it lives in the reservation, which `commit`, `abort` and `Drop` end
        // before the producer is touched again or freed.
        let p: &'static mut Producer<'static, T> = unsafe { &mut *self.producer.as_ptr() };
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
        Ok((c.chunk.get_mut(i) as *mut T).cast())
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
        min: u32,
        timeout: Option<Duration>,
    ) -> Result<(u32, bool), Fail>;
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
    /// The open view: holds the only `&mut` to `*consumer` while `Some`.
    view: Option<ReadView<'static, 'static, T>>,
    /// From `Box::leak`; freed in `Drop`.
    consumer: NonNull<Consumer<'static, T>>,
    /// Keeps the ring alive; dropped last.
    _ring: Arc<TypedRing<T>>,
}

// SAFETY: as for `TypedProducer`.
unsafe impl<T: Entry> Send for TypedConsumer<T> {}
// SAFETY: every method takes `&mut self`.
unsafe impl<T: Entry> Sync for TypedConsumer<T> {}

impl<T: Entry> Drop for TypedConsumer<T> {
    fn drop(&mut self) {
        // Releases the viewed entries (they count as consumed).
        self.view = None;
        // SAFETY: from `Box::leak`, freed only here; no view borrows it any more.
        drop(unsafe { Box::from_raw(self.consumer.as_ptr()) });
    }
}

impl<T: Entry> TypedConsumer<T> {
    fn consumer(&mut self) -> Result<&mut Consumer<'static, T>, Fail> {
        if self.view.is_some() {
            return Err(Fail::new(
                cring_status::WrongState,
                "a view is open: release it first",
            ));
        }
        // SAFETY: no view is open, so nothing else borrows the consumer; the borrow is tied to
        // `&mut self`.
        Ok(unsafe { self.consumer.as_mut() })
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
        min: u32,
        timeout: Option<Duration>,
    ) -> Result<(u32, bool), Fail> {
        let c = self.consumer()?;
        let r = match beyond {
            None => c.wait(min, timeout)?,
            Some(pos) => c.wait_beyond(pos, min, timeout)?,
        };
        Ok(match r {
            WaitOutcome::Ready(n) => (n, true),
            WaitOutcome::TimedOut(n) => (n, false),
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
        self.consumer()?;
        // A view of only discarded slots delivers nothing: release it and look again (each
        // round consumes at least one slot; a lap of them at most).
        let rounds =
            self._ring.ring.capacity() as u64 + self._ring.ring.geometry().overflow_capacity as u64;
        for _ in 0..=rounds {
            // SAFETY: no view is open (checked above, and every round ends with none open), so
            // this is the only reference to the consumer; it lives in the view, which `release`
            // and `Drop` end before the consumer is touched again or freed.
            let c: &'static mut Consumer<'static, T> = unsafe { &mut *self.consumer.as_ptr() };
            let view = c.view(max)?;
            let mut n = 0usize;
            for e in view.iter() {
                // SAFETY: `n < max` (the view claims at most `max` positions) and the caller
                // guarantees `max` writable pointers at `entries`.
                unsafe { entries.add(n).write((e as *const T).cast()) };
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
