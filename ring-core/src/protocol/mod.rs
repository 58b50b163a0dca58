//! The ring protocols over borrowed shared structures.
//!
//! Protocol code sees only `&ProducerLine`, `&ConsumerLine` and `&[Slot<T>]` plus private trusted
//! copies of the geometry; it never learns where those came from (a mapped region, or heap
//! structures under the model checker). spec/PROTOCOL.md states every step and ordering.
//!
//! Two protocols, chosen by [`Mode`]:
//! - [`spsc`]: one producer and one consumer exchange the indices alone, with one Release store
//!   per batch and no read-modify-write atomics (the classic Lamport ring with full-range
//!   indices).
//! - [`lap`]: every other mode. Each slot carries a lap tag (`seq`) in the manner of Vyukov's
//!   bounded MPMC queue; the side with several participants claims positions with a
//!   compare-and-swap on its index, and publishes or frees each slot with a Release store of its
//!   lap tag. Tags are re-checked after the compare-and-swap, which closes the index ABA window.

pub mod lap;
pub mod spsc;

use crate::error::{Corruption, LayoutError};
use crate::layout::{mode_bits, ConsumerLine, ProducerLine, Slot, MAX_CAPACITY, MIN_CAPACITY};
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

/// How many times a participant polls a position it owns but whose lap tag is not yet in the
/// state it needs (only after an index ABA, or when a peer rewrites the tag) before the
/// operation reports [`Corruption::Stalled`]. The retry loops of multi-participant sides are
/// bounded by [`lap::SCAN_BUDGET`] instead.
pub const RETRY_BUDGET: u32 = 1 << 20;

/// A ring's shared structures and the private, trusted geometry used to address them.
///
/// `Copy`: a handle holds one and reaches the shared memory through it.
#[derive(Debug)]
pub struct RawRing<'a, T> {
    pub(crate) prod: &'a ProducerLine,
    pub(crate) cons: &'a ConsumerLine,
    pub(crate) slots: &'a [Slot<T>],
    /// `capacity - 1`; trusted (derived from `slots.len()`, never re-read from shared memory).
    pub(crate) mask: u32,
    pub(crate) mode: Mode,
}

impl<T> Clone for RawRing<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for RawRing<'_, T> {}

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
        let cap = u32::try_from(slots.len()).unwrap_or(0);
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&cap) || !cap.is_power_of_two() {
            return Err(LayoutError::Capacity { found: cap });
        }
        Ok(RawRing {
            prod,
            cons,
            slots,
            mask: cap - 1,
            mode,
        })
    }

    /// The number of slots.
    pub fn capacity(&self) -> u32 {
        self.mask.wrapping_add(1)
    }

    /// The ring's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The producer line.
    pub fn producer_line(&self) -> &'a ProducerLine {
        self.prod
    }

    /// The consumer line.
    pub fn consumer_line(&self) -> &'a ConsumerLine {
        self.cons
    }

    /// The slot for `pos`. Never out of bounds: `slots.len() == mask + 1`.
    #[inline(always)]
    pub(crate) fn slot(&self, pos: u32) -> &'a Slot<T> {
        &self.slots[(pos & self.mask) as usize]
    }

    /// An estimate of the fill level, for display and heuristics only.
    ///
    /// `tail` and `head` are read one after the other while both move, and in some modes one of
    /// them lags the slots it describes (the single consumer of an MPSC ring stores `head` after
    /// freeing, the single producer of an SPMC ring stores `tail` after publishing), so the
    /// difference can briefly be "negative". Such a reading is reported as 0 and anything above
    /// the capacity as the capacity. The protocol never uses this value.
    pub fn len_estimate(&self) -> u32 {
        use crate::sync::Ordering::Acquire;
        let tail = self.prod.tail.load(Acquire);
        let head = self.cons.head.load(Acquire);
        let d = tail.wrapping_sub(head);
        // Serial-number reading of an estimate: a "distance" in the upper half means head was
        // seen ahead of tail.
        if d > u32::MAX / 2 {
            0
        } else {
            d.min(self.capacity())
        }
    }

    /// Writes `value` into the slot of `pos`.
    ///
    /// # Safety
    ///
    /// The caller owns `pos`: it reserved it and has not yet published it, so no other
    /// participant reads or writes the slot's payload.
    #[inline(always)]
    pub(crate) unsafe fn write(&self, pos: u32, value: T) {
        // SAFETY: the caller owns the slot (exclusive access to the payload until publication).
        self.slot(pos)
            .payload
            .with_mut(|p| unsafe { p.write(MaybeUninit::new(value)) });
    }

    /// Reads the payload of the slot of `pos`.
    ///
    /// # Safety
    ///
    /// The caller has claimed `pos` and observed its publication with Acquire ordering, and has
    /// not yet released it, so no other participant writes the slot's payload.
    #[inline(always)]
    pub(crate) unsafe fn read(&self, pos: u32) -> T
    where
        T: Copy,
    {
        // SAFETY: the slot is published and claimed (no concurrent writer); `T` is plain data
        // (`Entry`), so its bytes, whoever wrote them, are a valid `T`.
        self.slot(pos)
            .payload
            .with(|p| unsafe { p.read().assume_init() })
    }

    /// A shared reference to the payload of the slot of `pos`.
    ///
    /// # Safety
    ///
    /// As for [`Self::read`], and the claim lasts at least as long as the reference.
    #[inline(always)]
    pub(crate) unsafe fn get(&self, pos: u32) -> &'a T {
        // SAFETY: as for `read`; the reference lives no longer than the caller's claim.
        self.slot(pos)
            .payload
            .with(|p| unsafe { (*p).assume_init_ref() })
    }

    /// A mutable reference to the payload of the slot of `pos`.
    ///
    /// # Safety
    ///
    /// As for [`Self::write`], the reservation outlives the reference, and no other reference
    /// to the same payload exists.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn get_mut(&self, pos: u32) -> &'a mut T {
        // SAFETY: the caller owns the reservation exclusively; any bytes are a valid `T`.
        self.slot(pos)
            .payload
            .with_mut(|p| unsafe { (*p).assume_init_mut() })
    }
}

/// A range of positions `start..start + len` (wrapping) that a participant owns.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// First position.
    pub start: u32,
    /// Number of positions.
    pub len: u32,
}

impl Span {
    /// The `i`-th position of the span.
    #[inline(always)]
    pub fn at(&self, i: u32) -> u32 {
        self.start.wrapping_add(i)
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
    /// Single producer: the private trusted tail (the next position to publish).
    pub(crate) tail: u32,
}

/// Private state of a consumer handle.
#[derive(Copy, Clone, Debug)]
pub struct ConsumerCursor {
    /// Single consumer: the private trusted head (the next position to consume).
    pub(crate) head: u32,
}

impl<'a, T> RawRing<'a, T> {
    /// A producer cursor starting at the shared tail, validated against the shared head where
    /// the mode lets the producer rely on it. A single producer of an SPMC ring also moves
    /// past positions a previous producer published without storing `tail`.
    pub fn producer_cursor(&self) -> Result<ProducerCursor, Corruption> {
        use crate::sync::Ordering::Acquire;
        match self.mode {
            Mode::Spsc => {
                // Our own index first: it cannot move while we hold the claim, and `head` only
                // moves towards it, so `tail - head` is exact or an overestimate of the past.
                let tail = self.prod.tail.load(Acquire);
                let head = self.cons.head.load(Acquire);
                if tail.wrapping_sub(head) > self.capacity() {
                    return Err(Corruption::IndicesOutOfRange { tail, head });
                }
                Ok(ProducerCursor { tail })
            }
            Mode::Spmc => Ok(ProducerCursor {
                tail: lap::recover_tail(self)?,
            }),
            Mode::Mpsc | Mode::Mpmc => Ok(ProducerCursor {
                tail: self.prod.tail.load(Acquire),
            }),
        }
    }

    /// A consumer cursor starting at the shared head, validated likewise. A single consumer of
    /// an MPSC ring also moves past positions a previous consumer freed without storing `head`.
    pub fn consumer_cursor(&self) -> Result<ConsumerCursor, Corruption> {
        use crate::sync::Ordering::Acquire;
        match self.mode {
            Mode::Spsc => {
                let head = self.cons.head.load(Acquire);
                let tail = self.prod.tail.load(Acquire);
                if tail.wrapping_sub(head) > self.capacity() {
                    return Err(Corruption::IndicesOutOfRange { tail, head });
                }
                Ok(ConsumerCursor { head })
            }
            Mode::Mpsc => Ok(ConsumerCursor {
                head: lap::recover_head(self)?,
            }),
            Mode::Spmc | Mode::Mpmc => Ok(ConsumerCursor {
                head: self.cons.head.load(Acquire),
            }),
        }
    }

    /// Reserves up to `n` positions for writing (exactly `n` or none when `exact`).
    ///
    /// On success the caller owns the span: it must [`Self::write`] every position it publishes
    /// and then call [`Self::publish`] exactly once for the whole span (multi-producer rings
    /// cannot take a reservation back; abandoned positions are published as discarded).
    pub fn reserve(
        &self,
        cur: &mut ProducerCursor,
        n: u32,
        exact: bool,
    ) -> Result<Span, Shortfall> {
        if n == 0 || (exact && n > self.capacity()) {
            // Nothing to reserve, or a batch that can never fit: not a "full" event.
            return Err(Shortfall::Short { have: 0 });
        }
        let r = match self.mode {
            Mode::Spsc => spsc::reserve(self, cur, n, exact),
            Mode::Spmc => lap::reserve_single(self, cur, n, exact),
            Mode::Mpsc | Mode::Mpmc => lap::reserve_multi(self, n, exact),
        };
        if let Err(Shortfall::Short { .. }) = r {
            self.count_full(1);
        }
        r
    }

    /// Publishes a reserved span: the first `keep` positions as entries, the rest as discarded
    /// (single-producer rings simply do not publish the rest).
    pub fn publish(&self, cur: &mut ProducerCursor, span: Span, keep: u32) {
        debug_assert!(keep <= span.len);
        match self.mode {
            Mode::Spsc => spsc::publish(self, cur, span, keep),
            Mode::Spmc => lap::publish_single(self, cur, span, keep),
            Mode::Mpsc | Mode::Mpmc => {
                lap::publish_multi(self, span, keep);
                if keep < span.len {
                    self.count_discarded(u64::from(span.len - keep));
                }
            }
        }
    }

    /// Claims up to `n` published positions for reading.
    ///
    /// On success the caller reads each position (skipping those [`Self::is_discarded`]) and then
    /// calls [`Self::release`] exactly once for the whole span.
    pub fn claim(&self, cur: &mut ConsumerCursor, n: u32) -> Result<Span, Shortfall> {
        match self.mode {
            Mode::Spsc => spsc::claim(self, cur, n),
            Mode::Mpsc => lap::claim_single(self, cur, n),
            Mode::Spmc | Mode::Mpmc => lap::claim_multi(self, n),
        }
    }

    /// Whether the claimed position `pos` was published as discarded (never in SPSC rings).
    #[inline(always)]
    pub fn is_discarded(&self, pos: u32) -> bool {
        use crate::sync::Ordering::Relaxed;
        self.mode != Mode::Spsc
            && self.slot(pos).meta.load(Relaxed) & crate::layout::slot_meta::DISCARDED != 0
    }

    /// Releases a claimed span, freeing its slots for producers.
    pub fn release(&self, cur: &mut ConsumerCursor, span: Span) {
        match self.mode {
            Mode::Spsc => spsc::release(self, cur, span),
            Mode::Mpsc => lap::release_single(self, cur, span),
            Mode::Spmc | Mode::Mpmc => lap::release_multi(self, span),
        }
    }

    fn count_full(&self, n: u64) {
        use crate::sync::Ordering::Relaxed;
        if self.mode.multi_producer() {
            self.prod.full_refusals.fetch_add(n, Relaxed);
        } else {
            // Single writer: a load and a store, no read-modify-write on the SP path.
            let v = self.prod.full_refusals.load(Relaxed);
            self.prod.full_refusals.store(v.wrapping_add(n), Relaxed);
        }
    }

    fn count_discarded(&self, n: u64) {
        use crate::sync::Ordering::Relaxed;
        self.prod.discarded.fetch_add(n, Relaxed);
    }
}
