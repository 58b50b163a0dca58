//! The ring protocols over borrowed shared structures (crate-private: every function here can
//! break an invariant if called out of turn, so only the handles call them).
//!
//! Protocol code sees only `&ProducerLine`, `&ConsumerLine`, `&OverflowLine`, `&WaitLine` and
//! slices of [`Slot`]s plus private trusted copies of the geometry; it never learns where those
//! came from (a mapped region, or heap structures under the model checker). spec/PROTOCOL.md
//! states every step and ordering.
//!
//! Protocols, chosen by [`Mode`]:
//! - [`spsc`]: one producer and one consumer exchange the indices alone, with one Release store
//!   per batch and no read-modify-write atomics (the classic Lamport ring with full-range
//!   indices).
//! - [`lap`]: every other mode. Each slot carries a lap tag (`seq`) in the manner of Vyukov's
//!   bounded MPMC queue; the side with several participants claims positions with a
//!   compare-and-swap on its index, and publishes or frees each slot with a Release store of its
//!   lap tag. Tags are re-checked after the compare-and-swap, which closes the index ABA window.
//! - [`overflow`]: where entries go when the ring is full, and the rules that keep each
//!   producer's entries in order across the ring/overflow boundary.
//! - [`wait`]: the check producers make after publishing so that sleeping consumers are woken.

pub(crate) mod claim;
pub(crate) mod general;
pub(crate) mod intent;
pub(crate) mod lap;
pub(crate) mod mpsc;
pub(crate) mod overflow;
pub(crate) mod registry;
pub(crate) mod spsc;
pub(crate) mod stream;
pub(crate) mod wait;

use crate::error::{Corruption, LayoutError};
use crate::layout::{
    mode_bits, ConsumerLine, OverflowLine, PackedSlot, ProducerLine, Slot, WaitLine, MAX_CAPACITY,
    MIN_CAPACITY,
};
use crate::sync::PayloadCell;
use crate::sync::{
    AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use core::marker::PhantomData;
use core::mem::MaybeUninit;

/// Who may produce and consume, fixed at creation and recorded in the header.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// One producer, one consumer: index-only protocol, no read-modify-write atomics.
    Spsc,
    /// Several producers, one consumer.
    Mpsc,
    /// One producer, several consumers.
    Spmc,
    /// Several producers, several consumers.
    Mpmc,
}

impl Mode {
    /// The header's mode word for this mode.
    pub const fn bits(self) -> u32 {
        match self {
            Mode::Spsc => 0,
            Mode::Mpsc => mode_bits::MULTI_PRODUCER,
            Mode::Spmc => mode_bits::MULTI_CONSUMER,
            Mode::Mpmc => mode_bits::MULTI_PRODUCER | mode_bits::MULTI_CONSUMER,
        }
    }

    /// The mode of a header mode word, or `None` if it has undefined bits.
    pub const fn from_bits(bits: u32) -> Option<Mode> {
        match bits {
            0 => Some(Mode::Spsc),
            mode_bits::MULTI_PRODUCER => Some(Mode::Mpsc),
            mode_bits::MULTI_CONSUMER => Some(Mode::Spmc),
            x if x == mode_bits::KNOWN => Some(Mode::Mpmc),
            _ => None,
        }
    }

    /// Whether several producers may push concurrently.
    pub const fn multi_producer(self) -> bool {
        matches!(self, Mode::Mpsc | Mode::Mpmc)
    }

    /// Whether several consumers may pop concurrently.
    pub const fn multi_consumer(self) -> bool {
        matches!(self, Mode::Spmc | Mode::Mpmc)
    }
}

/// How many more times, in all over the positions of every reservation or claim one public
/// call makes, a participant polls positions it owns whose lap tags are not yet in the state it
/// needs (only after an index ABA, or when a peer rewrites tags) before the call reports
/// [`Corruption::Stalled`]: a bound per call, whatever the batch size and however many claims
/// the call makes. The retry loops of multi-participant sides are bounded by
/// [`lap::SCAN_BUDGET`] instead.
pub const RETRY_BUDGET: u32 = 1 << 20;

/// Copies the payload of `slot` out: word-sized Relaxed atomic loads in normal builds
/// ([`crate::sync::words`]: a peer writing the slot meanwhile gives wrong bytes, never a data
/// race), a plain read through loom's cell in model builds (where a race is a protocol bug that
/// loom must see).
///
/// # Safety
///
/// The caller may read the payload now under the protocol (it claimed the position and saw it
/// published; or it reserved it and wrote it); `T` is an [`crate::Entry`] (any bytes valid, no
/// padding).
#[inline(always)]
pub(crate) unsafe fn load_payload<T, S: SlotKind<T>>(slot: &S) -> T {
    #[cfg(not(ring_core_loom))]
    {
        // SAFETY: the payload lies inside the slot, aligned to `T` and to 4 bytes (the slot
        // layout); payload bytes are only ever accessed through `words` in this build.
        slot.payload()
            .with(|p| unsafe { crate::sync::words::load(p.cast::<T>()) })
    }
    #[cfg(ring_core_loom)]
    {
        // SAFETY: the caller's contract; loom checks that no one else accesses the cell.
        slot.payload().with(|p| unsafe { p.read().assume_init() })
    }
}

/// Copies `value` into the payload of `slot` (see [`load_payload`]).
///
/// # Safety
///
/// The caller owns the slot's payload under the protocol (reserved, not yet published); `T`
/// is an [`crate::Entry`].
#[inline(always)]
pub(crate) unsafe fn store_payload<T, S: SlotKind<T>>(slot: &S, value: T) {
    #[cfg(not(ring_core_loom))]
    {
        // SAFETY: as in `load_payload`, for writes.
        slot.payload()
            .with_mut(|p| unsafe { crate::sync::words::store(p.cast::<T>(), value) })
    }
    #[cfg(ring_core_loom)]
    {
        // SAFETY: the caller's contract; loom checks that no one else accesses the cell.
        slot.payload()
            .with_mut(|p| unsafe { p.write(core::mem::MaybeUninit::new(value)) })
    }
}

/// What a slot array holds: a payload cell per slot, with or without a slot header.
pub trait SlotKind<T> {
    /// The slot's payload cell.
    fn payload(&self) -> &PayloadCell<MaybeUninit<T>>;
}

impl<T> SlotKind<T> for Slot<T> {
    #[inline(always)]
    fn payload(&self) -> &PayloadCell<MaybeUninit<T>> {
        &self.payload
    }
}

impl<T> SlotKind<T> for PackedSlot<T> {
    #[inline(always)]
    fn payload(&self) -> &PayloadCell<MaybeUninit<T>> {
        &self.payload
    }
}

/// An array of slots addressed by position, with its trusted mask.
///
/// `S` is the slot type: [`Slot`] (a lap tag, meta bits and the payload) in every ring but a
/// packed one, [`PackedSlot`] (the payload alone) in a packed SPSC ring (1.4).
///
/// The ring's lane stores lap tags as they are. An overflow area's lane stores them *biased*
/// by the slot index (`stored = tag - (pos & mask)`), so that zeroed memory is its formatted
/// state.
#[derive(Debug)]
pub struct Lane<'a, T, S = Slot<T>> {
    slots: &'a [S],
    /// `capacity - 1`; trusted (derived from `slots.len()`, never re-read from shared memory).
    mask: u32,
    biased: bool,
    _entry: PhantomData<fn() -> T>,
}

/// The slot array of a packed SPSC ring (1.4).
pub type PackedLane<'a, T> = Lane<'a, T, PackedSlot<T>>;

impl<T, S> Clone for Lane<'_, T, S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, S> Copy for Lane<'_, T, S> {}

impl<'a, T, S: SlotKind<T>> Lane<'a, T, S> {
    fn new(slots: &'a [S], biased: bool) -> Result<Self, LayoutError> {
        let cap = u32::try_from(slots.len()).unwrap_or(0);
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&cap) || !cap.is_power_of_two() {
            return Err(LayoutError::Capacity { found: cap });
        }
        Ok(Lane {
            slots,
            mask: cap - 1,
            biased,
            _entry: PhantomData,
        })
    }

    /// The number of slots.
    #[inline(always)]
    pub fn capacity(&self) -> u32 {
        self.mask.wrapping_add(1)
    }

    /// The slot for `pos`. Never out of bounds: `slots.len() == mask + 1`.
    #[inline(always)]
    pub(crate) fn slot(&self, pos: u32) -> &'a S {
        // SAFETY: `Lane::new` checked that `slots.len()` is `mask + 1` (a power of two), so
        // `pos & mask` is always an index inside the slice.
        unsafe { self.slots.get_unchecked((pos & self.mask) as usize) }
    }

    /// Writes `value` into the payload of `pos`'s slot.
    ///
    /// # Safety
    ///
    /// The caller owns `pos` (reserved and not yet published): no one else reads or writes
    /// the payload until the caller publishes it.
    #[inline(always)]
    pub(crate) unsafe fn write(&self, pos: u32, value: T) {
        // SAFETY: the payload is ours to write, as the caller promises.
        unsafe { store_payload(self.slot(pos), value) };
    }

    /// Writes `values` into the payloads of `start..start + values.len()` (at most a lap), in
    /// at most two contiguous runs of slots.
    ///
    /// # Safety
    ///
    /// As for [`Self::write`], for every position of the range.
    #[inline(always)]
    pub(crate) unsafe fn write_from(&self, start: u32, values: &[T])
    where
        T: Copy,
    {
        let (first, second) = self.runs(start, values.len());
        let (a, b) = values.split_at(first.len().min(values.len()));
        for (slots, vals) in [(first, a), (second, b)] {
            for (slot, v) in slots.iter().zip(vals) {
                // SAFETY: the caller owns every position of the range.
                unsafe { store_payload(slot, *v) };
            }
        }
    }

    /// Reads the payloads of `start..start + out.len()` (at most a lap) into `out`.
    ///
    /// # Safety
    ///
    /// As for [`Self::read`], for every position of the range.
    #[inline(always)]
    pub(crate) unsafe fn read_into(&self, start: u32, out: &mut [T])
    where
        T: Copy,
    {
        let (first, second) = self.runs(start, out.len());
        let (a, b) = out.split_at_mut(first.len().min(out.len()));
        for (slots, vals) in [(first, a), (second, b)] {
            for (slot, v) in slots.iter().zip(vals) {
                // SAFETY: the caller has claimed every position of the range.
                *v = unsafe { load_payload(slot) };
            }
        }
    }

    /// The slots of `start..start + len` (`len` at most the capacity) as two runs: up to the
    /// end of the array, then from its beginning.
    #[inline(always)]
    pub(crate) fn runs(&self, start: u32, len: usize) -> (&'a [S], &'a [S]) {
        let cap = self.slots.len();
        let first = (start & self.mask) as usize;
        let len = len.min(cap);
        let end = (first + len).min(cap);
        let rest = len - (end - first);
        // SAFETY: `first < cap` (the mask is `cap - 1`: `Lane::new`), so `first <= end <= cap`;
        // and `rest <= first`: `rest` is 0 unless `end == cap`, when it is
        // `len - (cap - first) <= first` because `len <= cap`.
        unsafe {
            (
                self.slots.get_unchecked(first..end),
                self.slots.get_unchecked(..rest),
            )
        }
    }

    /// Reads the payload of `pos`'s slot.
    ///
    /// # Safety
    ///
    /// The caller has claimed `pos`, observed its publication with Acquire ordering and not
    /// yet released it, and the entry was not published as discarded (so the bytes were
    /// written); `T` is plain data, so those bytes are a valid `T` whoever wrote them.
    #[inline(always)]
    pub(crate) unsafe fn read(&self, pos: u32) -> T
    where
        T: Copy,
    {
        // SAFETY: published and claimed, no concurrent honest writer (the caller's contract).
        unsafe { load_payload(self.slot(pos)) }
    }

    /// A raw pointer to the payload of `pos`'s slot (for the C ABI's in-place access).
    #[inline(always)]
    pub(crate) fn payload_ptr(&self, pos: u32) -> *mut T {
        self.slot(pos).payload().with_mut(|p| p.cast::<T>())
    }
}

impl<'a, T> Lane<'a, T> {
    #[inline(always)]
    fn bias(&self, pos: u32) -> u32 {
        if self.biased {
            pos & self.mask
        } else {
            0
        }
    }

    /// The lap tag of `pos`'s slot (Acquire).
    #[inline(always)]
    pub(crate) fn tag(&self, pos: u32) -> u32 {
        self.slot(pos)
            .seq
            .load(Acquire)
            .wrapping_add(self.bias(pos))
    }

    /// Replaces the lap tag of `pos`'s slot by `new` if it reads `current` (Release on success);
    /// whether it did.
    pub(crate) fn cas_tag(&self, pos: u32, current: u32, new: u32) -> bool {
        let bias = self.bias(pos);
        self.slot(pos)
            .seq
            .compare_exchange(
                current.wrapping_sub(bias),
                new.wrapping_sub(bias),
                Release,
                Relaxed,
            )
            .is_ok()
    }

    /// Stores the lap tag of `pos`'s slot (Release).
    #[inline(always)]
    pub(crate) fn set_tag(&self, pos: u32, tag: u32) {
        self.slot(pos)
            .seq
            .store(tag.wrapping_sub(self.bias(pos)), Release)
    }
}

/// A slot array of either kind, for the batch views ([`crate::WriteChunk`],
/// [`crate::ReadView`]) and the general paths of the handles, which serve every flavor. Each
/// method matches once and then runs the typed loop.
#[derive(Debug)]
pub(crate) enum AnyLane<'a, T> {
    /// Slots with lap tags.
    Tagged(Lane<'a, T>),
    /// The slots of a packed SPSC ring.
    Packed(PackedLane<'a, T>),
}

impl<T> Clone for AnyLane<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for AnyLane<'_, T> {}

impl<T> AnyLane<'_, T> {
    /// See [`Lane::write`].
    ///
    /// # Safety
    ///
    /// As for [`Lane::write`].
    #[inline(always)]
    pub(crate) unsafe fn write(&self, pos: u32, value: T) {
        match self {
            // SAFETY: the caller's contract.
            AnyLane::Tagged(l) => unsafe { l.write(pos, value) },
            // SAFETY: the caller's contract.
            AnyLane::Packed(l) => unsafe { l.write(pos, value) },
        }
    }

    /// See [`Lane::write_from`].
    ///
    /// # Safety
    ///
    /// As for [`Lane::write_from`].
    #[inline(always)]
    pub(crate) unsafe fn write_from(&self, start: u32, values: &[T])
    where
        T: Copy,
    {
        match self {
            // SAFETY: the caller's contract.
            AnyLane::Tagged(l) => unsafe { l.write_from(start, values) },
            // SAFETY: the caller's contract.
            AnyLane::Packed(l) => unsafe { l.write_from(start, values) },
        }
    }

    /// See [`Lane::read`].
    ///
    /// # Safety
    ///
    /// As for [`Lane::read`].
    #[inline(always)]
    pub(crate) unsafe fn read(&self, pos: u32) -> T
    where
        T: Copy,
    {
        match self {
            // SAFETY: the caller's contract.
            AnyLane::Tagged(l) => unsafe { l.read(pos) },
            // SAFETY: the caller's contract.
            AnyLane::Packed(l) => unsafe { l.read(pos) },
        }
    }

    /// See [`Lane::payload_ptr`].
    #[inline(always)]
    pub(crate) fn payload_ptr(&self, pos: u32) -> *mut T {
        match self {
            AnyLane::Tagged(l) => l.payload_ptr(pos),
            AnyLane::Packed(l) => l.payload_ptr(pos),
        }
    }

    /// Whether `pos`'s slot has the DISCARDED meta bit (never, for packed slots).
    #[inline(always)]
    pub(crate) fn discarded_bit(&self, pos: u32) -> bool {
        match self {
            AnyLane::Tagged(l) => {
                l.slot(pos).meta.load(Relaxed) & crate::layout::slot_meta::DISCARDED != 0
            }
            AnyLane::Packed(_) => false,
        }
    }
}

/// The overflow area: its line and its lane.
#[derive(Debug)]
pub struct Overflow<'a, T> {
    pub(crate) line: &'a OverflowLine,
    pub(crate) lane: Lane<'a, T>,
}

impl<T> Clone for Overflow<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Overflow<'_, T> {}

/// A ring's shared structures and the private, trusted geometry used to address them.
///
/// `Copy`: a handle holds one and reaches the shared memory through it.
#[derive(Debug)]
pub struct RawRing<'a, T> {
    pub(crate) prod: &'a ProducerLine,
    pub(crate) cons: &'a ConsumerLine,
    /// The slots with lap tags: every ring but a packed one.
    main: Option<Lane<'a, T>>,
    /// The slots of a packed SPSC ring (1.4): only the SPSC flavors use them.
    pub(crate) packed: Option<PackedLane<'a, T>>,
    /// The number of slots (trusted: the length of `main` or `packed`).
    capacity: u32,
    pub(crate) mode: Mode,
    pub(crate) ovf: Option<Overflow<'a, T>>,
    pub(crate) wait: Option<&'a WaitLine>,
    pub(crate) registry: Option<registry::Registry<'a>>,
    /// The end-of-stream word is kept (1.3, `INCOMPAT_STREAM`).
    pub(crate) stream: bool,
    /// Sleepers publish wake-up targets (1.3, `INCOMPAT_WAIT_TARGET`).
    pub(crate) wait_target: bool,
}

// SAFETY: a RawRing is a set of references to shared structures whose fields are atomics,
// except the payload cells, which only the protocol touches, under the ownership it arbitrates
// between threads (and processes); the same reasoning as for `Ring`'s `Send`/`Sync`. So a
// RawRing (and the handles holding one) may move to, and be shared with, other threads.
unsafe impl<T: Send + Sync> Send for RawRing<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for RawRing<'_, T> {}

impl<T> Clone for RawRing<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for RawRing<'_, T> {}

/// Counts refusal episodes in the producer line's `full_refusals` (spec/PROTOCOL.md, section
/// 12): a refused reservation counts only if this handle's previous reservation was granted, so
/// a producer that keeps trying against a full ring writes the shared counter once, not on
/// every attempt. A load and a store with a single producer (no read-modify-write on the
/// single-producer path), `fetch_add` with several.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Refusals<'a> {
    word: &'a AtomicU64,
    multi: bool,
    /// Whether this handle's last reservation was refused (an episode is under way).
    episode: bool,
}

impl<'a> Refusals<'a> {
    pub(crate) fn new<T>(ring: &RawRing<'a, T>) -> Self {
        Refusals {
            word: &ring.prod.full_refusals,
            multi: ring.mode.multi_producer(),
            episode: false,
        }
    }

    /// A refused reservation: counted if it starts an episode.
    #[cold]
    #[inline(never)]
    pub(crate) fn refused(&mut self) {
        if !self.episode {
            self.episode = true;
            count_refusal(self.word, self.multi);
        }
    }

    /// A granted reservation: the episode, if any, is over.
    #[inline(always)]
    pub(crate) fn granted(&mut self) {
        self.episode = false;
    }
}

/// Adds one to `full_refusals`: a load and a store with a single producer, `fetch_add` with
/// several.
fn count_refusal(word: &AtomicU64, multi: bool) {
    if multi {
        word.fetch_add(1, Relaxed);
    } else {
        let v = word.load(Relaxed);
        word.store(v.wrapping_add(1), Relaxed);
    }
}

/// Which slots a [`Span`] lives in.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// The ring.
    Ring,
    /// The overflow area.
    Overflow,
}

/// A range of positions `start..start + len` (wrapping) that a participant owns, in the ring or
/// in the overflow area.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// First position.
    pub start: u32,
    /// Number of positions.
    pub len: u32,
    /// Where the positions are.
    pub place: Place,
}

impl Span {
    /// A span of ring positions.
    pub const fn ring(start: u32, len: u32) -> Span {
        Span {
            start,
            len,
            place: Place::Ring,
        }
    }

    /// A span of overflow positions.
    pub const fn overflow(start: u32, len: u32) -> Span {
        Span {
            start,
            len,
            place: Place::Overflow,
        }
    }

    /// The `i`-th position of the span.
    #[inline(always)]
    pub fn at(&self, i: u32) -> u32 {
        self.start.wrapping_add(i)
    }
}

/// A reservation's shortfall as the error of a one-entry push, handing the entry back.
#[cold]
pub(crate) fn push_error<T>(value: T, e: Shortfall) -> crate::error::PushError<T> {
    match e {
        Shortfall::Short { .. } => crate::error::PushError::Full(value),
        Shortfall::Corrupt(c) => crate::error::PushError::Corrupt(value, c),
    }
}

/// Why a reservation or claim got nothing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Shortfall {
    /// Not enough free slots (producer) or published entries (consumer); `have` were available.
    Short {
        /// How many were available.
        have: u32,
    },
    /// The shared state is corrupt.
    Corrupt(Corruption),
}

/// Private state of a producer handle.
#[derive(Copy, Clone, Debug)]
pub struct ProducerCursor {
    /// Single producer: the private trusted tail of the ring (the next position to publish).
    pub(crate) tail: u32,
    /// SPSC: the last validated value of the consumer's `head` (never ahead of it).
    pub(crate) head_cache: u32,
    /// Whether this producer's last reservation was refused (a refusal episode is under way:
    /// further refusals are not counted again).
    pub(crate) refusing: bool,
    /// Several producers, layout 1.2: the index of this producer's record.
    pub(crate) record: Option<u32>,
}

/// Private state of a consumer handle.
#[derive(Copy, Clone, Debug)]
pub struct ConsumerCursor {
    /// Single consumer: the private trusted head of the ring (the next position to consume).
    pub(crate) head: u32,
    /// Single consumer: the private trusted head of the overflow area.
    pub(crate) ovf_head: u32,
    /// SPSC: the last validated value of the producer's `tail` (never ahead of it).
    pub(crate) tail_cache: u32,
}

/// Distance `to - from` read as a count that cannot be "negative": values in the upper half of
/// the u32 range (an index seen ahead of the other because they were loaded one after the
/// other while moving) count as 0. Used only for estimates and wait conditions, never to decide
/// ownership.
#[inline(always)]
fn forward(from: u32, to: u32) -> u32 {
    let d = to.wrapping_sub(from);
    if d > u32::MAX / 2 {
        0
    } else {
        d
    }
}

impl<'a, T> RawRing<'a, T> {
    /// Assembles a ring from its parts. `slots.len()` is the capacity and must be a power of two
    /// in `2..=2^31`. The parts must already hold a consistent state (as [`crate::format`] or
    /// the model tests leave them).
    ///
    /// # Examples
    ///
    /// See the `loom-tests` crate, which builds rings this way on the heap.
    pub fn from_parts(
        prod: &'a ProducerLine,
        cons: &'a ConsumerLine,
        slots: &'a [Slot<T>],
        mode: Mode,
    ) -> Result<Self, LayoutError> {
        let main = Lane::new(slots, false)?;
        Ok(RawRing {
            prod,
            cons,
            main: Some(main),
            packed: None,
            capacity: main.capacity(),
            mode,
            ovf: None,
            wait: None,
            registry: None,
            stream: false,
            wait_target: false,
        })
    }

    /// Assembles a packed SPSC ring (1.4: slots without a slot header) from its parts.
    /// `slots.len()` is the capacity, a power of two in `2..=2^31`.
    pub fn from_packed_parts(
        prod: &'a ProducerLine,
        cons: &'a ConsumerLine,
        slots: &'a [PackedSlot<T>],
    ) -> Result<Self, LayoutError> {
        let packed = Lane::new(slots, false)?;
        Ok(RawRing {
            prod,
            cons,
            main: None,
            packed: Some(packed),
            capacity: packed.capacity(),
            mode: Mode::Spsc,
            ovf: None,
            wait: None,
            registry: None,
            stream: false,
            wait_target: false,
        })
    }

    /// The slots with lap tags.
    ///
    /// Only code for rings whose slots carry lap tags calls this: every mode but SPSC, and the
    /// general flavor, which serves SPSC rings only when they are not packed (a packed ring is
    /// SPSC without an overflow area, checked on attach, and gets the SPSC flavors).
    #[inline(always)]
    pub(crate) fn main(&self) -> Lane<'a, T> {
        self.main
            .expect("a packed ring is served by the SPSC flavors alone")
    }

    /// Adds an overflow area (`slots.len()` a power of two in `2..=2^31`; biased lap tags,
    /// zeroed memory is its initial state).
    pub fn with_overflow(
        mut self,
        line: &'a OverflowLine,
        slots: &'a [Slot<T>],
    ) -> Result<Self, LayoutError> {
        self.ovf = Some(Overflow {
            line,
            lane: Lane::new(slots, true)?,
        });
        Ok(self)
    }

    /// Adds the producer records (layout 1.2).
    pub fn with_registry(
        mut self,
        line: &'a crate::layout::RegistryLine,
        records: &'a [crate::layout::ProducerRecord],
    ) -> Self {
        self.registry = Some(registry::Registry { line, records });
        self
    }

    /// Adds the wait/notify words; with `targets`, sleepers publish wake-up targets (1.3).
    pub fn with_wait(mut self, line: &'a WaitLine, targets: bool) -> Self {
        self.wait = Some(line);
        self.wait_target = targets;
        self
    }

    /// Keeps the end-of-stream word of the producer line (1.3).
    #[cfg_attr(not(ring_core_loom), allow(dead_code))]
    pub fn with_stream(mut self) -> Self {
        self.stream = true;
        self
    }

    /// The number of slots in the ring.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The number of slots in the overflow area (0 without one).
    pub fn overflow_capacity(&self) -> u32 {
        self.ovf.map_or(0, |o| o.lane.capacity())
    }

    /// The ring's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The consumer line.
    pub fn consumer_line(&self) -> &'a ConsumerLine {
        self.cons
    }

    /// The overflow line, if the ring has an overflow area.
    pub fn overflow_line(&self) -> Option<&'a OverflowLine> {
        self.ovf.map(|o| o.line)
    }

    /// The wait line, if the ring has the wait block.
    pub fn wait_line(&self) -> Option<&'a WaitLine> {
        self.wait
    }

    #[inline(always)]
    pub(crate) fn lane(&self, place: Place) -> Lane<'a, T> {
        match (place, &self.ovf) {
            (Place::Overflow, Some(o)) => o.lane,
            _ => self.main(),
        }
    }

    /// An estimate of the ring's fill level (not counting the overflow area), for display and
    /// heuristics only.
    ///
    /// `tail` and `head` are read one after the other while both move, and in some modes one of
    /// them lags the slots it describes (the single consumer of an MPSC ring stores `head` after
    /// freeing, the single producer of an SPMC ring stores `tail` after publishing), so the
    /// difference can briefly be "negative". Such a reading is reported as 0 and anything above
    /// the capacity as the capacity. The protocol never uses this value.
    pub fn len_estimate(&self) -> u32 {
        let tail = self.prod.tail.load(Acquire);
        let head = self.cons.head.load(Acquire);
        forward(head, tail).min(self.capacity())
    }

    /// Entries pending in the overflow area (an estimate like [`Self::len_estimate`]).
    pub fn overflow_pending(&self) -> u32 {
        match self.ovf {
            Some(o) => {
                let tail = o.line.state.load(Acquire) as u32;
                let head = o.line.head.load(Acquire);
                forward(head, tail).min(o.lane.capacity())
            }
            None => 0,
        }
    }

    /// Whether the overflow area is active (producers route entries to it).
    pub fn overflow_active(&self) -> bool {
        self.ovf.is_some_and(|o| {
            o.line.state.load(Acquire) & crate::layout::overflow_state::ACTIVE != 0
        })
    }

    /// How many entries a consumer with cursor `cur` could claim now, counting up to `limit`:
    /// published entries of the ring, then of the overflow area. Used by wait conditions: it
    /// reads lap tags (Acquire), so after a consumer's announcement (W2) it sees every entry
    /// published before a producer's W1 fence. When the tags suggest a stale index it reports
    /// `limit` (so a waiter re-checks by claiming, never sleeps on a possibly non-empty ring).
    pub fn ready(&self, cur: &ConsumerCursor, limit: u32) -> u32 {
        let multi = self.mode.multi_consumer();
        let head = if multi {
            self.cons.head.load(Acquire)
        } else {
            cur.head
        };
        let ring = match self.mode {
            Mode::Spsc => forward(head, self.prod.tail.load(Acquire)).min(self.capacity()),
            _ => lap::scan_ready(&self.main(), head, limit.min(self.capacity()), multi)
                .unwrap_or(limit),
        };
        if ring >= limit {
            return ring;
        }
        let ovf = match self.ovf {
            // O4: overflow entries become claimable once the ring is empty in the strong sense
            // (`tail == head`). Count them only if every reserved ring position is among the
            // `ring` published ones just counted; otherwise a waiter would count entries it
            // cannot take yet and spin instead of sleeping.
            Some(o) if forward(head, self.prod.tail.load(Acquire)) == ring => {
                let oh = if multi {
                    o.line.head.load(Acquire)
                } else {
                    cur.ovf_head
                };
                lap::scan_ready(&o.lane, oh, (limit - ring).min(o.lane.capacity()), multi)
                    .unwrap_or(limit)
            }
            _ => 0,
        };
        ring.saturating_add(ovf)
    }

    /// Whether producers can add nothing more until this consumer (or another) takes entries:
    /// the overflow area is active and full, or, without one, the ring is full. An estimate for
    /// wait conditions (like [`Self::ready`]).
    pub fn saturated(&self, cur: &ConsumerCursor) -> bool {
        let multi = self.mode.multi_consumer();
        match self.ovf {
            Some(o) => {
                let state = o.line.state.load(Acquire);
                let oh = if multi {
                    o.line.head.load(Acquire)
                } else {
                    cur.ovf_head
                };
                state & crate::layout::overflow_state::ACTIVE != 0
                    && forward(oh, state as u32) >= o.lane.capacity()
            }
            None => {
                let head = if multi {
                    self.cons.head.load(Acquire)
                } else {
                    cur.head
                };
                forward(head, self.prod.tail.load(Acquire)) >= self.capacity()
            }
        }
    }

    /// Entries beyond `position` (a consumer index): `tail - position` in the ring (counting
    /// reserved positions whose entries are still being written), plus the overflow area's
    /// pending entries. The condition of [`crate::Consumer::wait_beyond`].
    pub fn beyond(&self, position: u32) -> u32 {
        forward(position, self.prod.tail.load(Acquire))
            .min(self.capacity())
            .saturating_add(self.overflow_pending())
    }

    /// A producer cursor starting at the shared tail, validated against the shared head where
    /// the mode lets the producer rely on it. A single producer of an SPMC ring also moves
    /// past positions a previous producer published without storing `tail`.
    pub fn producer_cursor(&self) -> Result<ProducerCursor, Corruption> {
        // A single producer owns every overflow reservation: positions its predecessor reserved
        // there and never published (it died between O2 and O3) would block the overflow area
        // for good; the successor publishes them as discarded.
        if let (false, Some(o)) = (self.mode.multi_producer(), &self.ovf) {
            let n = overflow::discard_orphans(o);
            if n != 0 {
                self.prod.discarded.fetch_add(u64::from(n), Relaxed);
            }
        }
        match self.mode {
            Mode::Spsc => {
                // Our own index first: it cannot move while we hold the claim, and `head` only
                // moves towards it, so `tail - head` is exact or an overestimate of the past.
                let tail = self.prod.tail.load(Acquire);
                let head = self.cons.head.load(Acquire);
                if tail.wrapping_sub(head) > self.capacity() {
                    return Err(Corruption::IndicesOutOfRange { tail, head });
                }
                Ok(ProducerCursor {
                    tail,
                    head_cache: head,
                    refusing: false,
                    record: None,
                })
            }
            Mode::Spmc => {
                let tail = lap::recover_tail(&self.main(), &self.prod.tail)?;
                Ok(ProducerCursor {
                    tail,
                    head_cache: tail,
                    refusing: false,
                    record: None,
                })
            }
            Mode::Mpsc | Mode::Mpmc => {
                let tail = self.prod.tail.load(Acquire);
                Ok(ProducerCursor {
                    tail,
                    head_cache: tail,
                    refusing: false,
                    record: None,
                })
            }
        }
    }

    /// A consumer cursor starting at the shared heads, validated likewise. A single consumer of
    /// a lap-tag ring or of an overflow area also moves past positions a previous consumer
    /// freed without storing its head.
    pub fn consumer_cursor(&self) -> Result<ConsumerCursor, Corruption> {
        let ovf_head = match (self.ovf, self.mode.multi_consumer()) {
            (Some(o), false) => lap::recover_head(&o.lane, &o.line.head)?,
            (Some(o), true) => o.line.head.load(Acquire),
            (None, _) => 0,
        };
        match self.mode {
            Mode::Spsc => {
                let head = self.cons.head.load(Acquire);
                let tail = self.prod.tail.load(Acquire);
                if tail.wrapping_sub(head) > self.capacity() {
                    return Err(Corruption::IndicesOutOfRange { tail, head });
                }
                Ok(ConsumerCursor {
                    head,
                    ovf_head,
                    tail_cache: tail,
                })
            }
            Mode::Mpsc => {
                let head = lap::recover_head(&self.main(), &self.cons.head)?;
                Ok(ConsumerCursor {
                    head,
                    ovf_head,
                    tail_cache: head,
                })
            }
            Mode::Spmc | Mode::Mpmc => {
                let head = self.cons.head.load(Acquire);
                Ok(ConsumerCursor {
                    head,
                    ovf_head,
                    tail_cache: head,
                })
            }
        }
    }

    /// Reserves up to `n` positions for writing (exactly `n` or none when `exact`), in the ring
    /// or, when the ring is full or the overflow area is active, in the overflow area.
    ///
    /// On success the caller owns the span: it must [`Self::write`] every position it publishes
    /// and then call [`Self::publish`] exactly once for the whole span (reservations other than
    /// a single producer's ring reservations cannot be taken back; abandoned positions are
    /// published as discarded).
    pub fn reserve(
        &self,
        cur: &mut ProducerCursor,
        n: u32,
        exact: bool,
    ) -> Result<Span, Shortfall> {
        // One budget for the whole call, ring and overflow area alike.
        let mut budget = lap::Budget::new();
        let r = match self.ovf {
            None => self.reserve_ring(cur, n, exact, &mut budget),
            Some(o) => overflow::reserve(self, &o, cur, n, exact, &mut budget),
        };
        // A refusal counts only for a request that could ever be met (not for n = 0, nor for
        // an all-or-nothing batch larger than every lane).
        let could_fit = n != 0 && (!exact || n <= self.capacity().max(self.overflow_capacity()));
        match &r {
            // One count per refusal episode of this handle (see `Refusals`).
            Err(Shortfall::Short { .. }) if could_fit && !cur.refusing => {
                cur.refusing = true;
                count_refusal(&self.prod.full_refusals, self.mode.multi_producer());
            }
            Ok(_) => cur.refusing = false,
            _ => {}
        }
        r
    }

    /// The producer's intent words for the ring (`overflow == false`) or the overflow area, if
    /// it holds a record.
    #[inline]
    pub(crate) fn intent(
        &self,
        cur: &ProducerCursor,
        overflow: bool,
    ) -> Option<intent::Intent<'a>> {
        let rec = self.registry?.record(cur.record?)?;
        Some(if overflow {
            intent::Intent::overflow(rec)
        } else {
            intent::Intent::ring(rec)
        })
    }

    /// Reserves in the ring only.
    pub(crate) fn reserve_ring(
        &self,
        cur: &mut ProducerCursor,
        n: u32,
        exact: bool,
        budget: &mut lap::Budget,
    ) -> Result<Span, Shortfall> {
        if n == 0 || (exact && n > self.capacity()) {
            // Nothing to reserve, or a batch that can never fit in the ring.
            return Err(Shortfall::Short { have: 0 });
        }
        match self.mode {
            Mode::Spsc => spsc::reserve(self, cur, n, exact),
            Mode::Spmc => lap::reserve_single(&self.main(), cur.tail, n, exact),
            Mode::Mpsc | Mode::Mpmc => lap::reserve_multi(
                &self.main(),
                &self.prod.tail,
                n,
                exact,
                self.intent(cur, false),
                budget,
            ),
        }
    }

    /// Publishes a reserved span: the first `keep` positions as entries, the rest as discarded
    /// (a single producer's ring reservation simply does not publish the rest).
    ///
    /// Returns the `waiters` word if sleeping consumers must be woken, else 0
    /// ([`wait::must_wake`]); the caller that
    /// can make system calls does so (see `Producer`).
    pub fn publish(&self, cur: &mut ProducerCursor, span: Span, keep: u32) -> u32 {
        debug_assert!(keep <= span.len);
        match span.place {
            Place::Ring => match self.mode {
                Mode::Spsc => spsc::publish(self, cur, span, keep),
                Mode::Spmc => {
                    debug_assert_eq!(span.start, cur.tail);
                    if keep != 0 {
                        lap::publish_kept(&self.main(), span, keep);
                        cur.tail = span.start.wrapping_add(keep);
                        self.prod.tail.store(cur.tail, Release);
                    }
                }
                Mode::Mpsc | Mode::Mpmc => {
                    lap::publish_all(&self.main(), span, keep);
                    if let Some(i) = self.intent(cur, false) {
                        i.reset();
                    }
                    if keep < span.len {
                        self.count_discarded(u64::from(span.len - keep));
                    }
                }
            },
            Place::Overflow => {
                if let Some(o) = self.ovf {
                    lap::publish_all(&o.lane, span, keep);
                    if let Some(i) = self.intent(cur, true) {
                        i.reset();
                    }
                    o.line.overflowed.fetch_add(u64::from(keep), Relaxed);
                    if keep < span.len {
                        self.count_discarded(u64::from(span.len - keep));
                    }
                }
            }
        }
        // Anything made claimable wakes sleepers: entries, and also slots published as
        // discarded (consumers must consume them to reach the entries behind them). Only a
        // single producer's ring reservation publishes nothing when `keep == 0`.
        let published = match span.place {
            Place::Ring if !self.mode.multi_producer() => keep != 0,
            _ => span.len != 0,
        };
        match (published, self.wait) {
            (true, Some(w)) => wait::must_wake(w),
            _ => 0,
        }
    }

    /// Claims up to `n` published positions for reading: from the ring, or, when the ring is
    /// empty, from the overflow area.
    ///
    /// On success the caller reads each position (skipping those [`Self::is_discarded`]) and then
    /// calls [`Self::release`] exactly once for the whole span.
    pub fn claim(
        &self,
        cur: &mut ConsumerCursor,
        n: u32,
        budget: &mut lap::Budget,
    ) -> Result<Span, Shortfall> {
        if n == 0 {
            return Err(Shortfall::Short { have: 0 });
        }
        let r = match self.mode {
            Mode::Spsc => spsc::claim(self, cur, n),
            Mode::Mpsc => lap::claim_single(&self.main(), cur.head, n),
            Mode::Spmc | Mode::Mpmc => {
                lap::claim_multi(&self.main(), &self.cons.head, n, || true, budget)
            }
        };
        match (r, self.ovf) {
            (Err(Shortfall::Short { .. }), Some(o)) => overflow::claim(self, &o, cur, n, budget),
            (r, _) => r,
        }
    }

    /// Whether the claimed position `pos` was published as discarded (never in SPSC rings).
    #[inline(always)]
    pub fn is_discarded(&self, span: &Span, pos: u32) -> bool {
        let lap_tags = span.place == Place::Overflow || self.mode != Mode::Spsc;
        lap_tags
            && self.lane(span.place).slot(pos).meta.load(Relaxed)
                & crate::layout::slot_meta::DISCARDED
                != 0
    }

    /// Releases a claimed span, freeing its slots for producers.
    pub fn release(&self, cur: &mut ConsumerCursor, span: Span) {
        if span.len == 0 {
            return;
        }
        match span.place {
            Place::Ring => match self.mode {
                Mode::Spsc => spsc::release(self, cur, span),
                Mode::Mpsc => {
                    debug_assert_eq!(span.start, cur.head);
                    lap::free_slots(&self.main(), span);
                    cur.head = span.start.wrapping_add(span.len);
                    self.cons.head.store(cur.head, Release);
                }
                Mode::Spmc | Mode::Mpmc => lap::free_slots(&self.main(), span),
            },
            Place::Overflow => {
                if let Some(o) = self.ovf {
                    overflow::release(self, &o, cur, span);
                }
            }
        }
    }

    fn count_discarded(&self, n: u64) {
        self.prod.discarded.fetch_add(n, Relaxed);
    }
}
