//! The overflow area of a record ring (spec/RECORDS.md, section 13; layout 1.4,
//! `INCOMPAT_RECORD_OVERFLOW`): a second byte area where records go while the data area is
//! full, drained by the consumer in order.
//!
//! The design is the fixed ring's (spec/PROTOCOL.md, "Overflow"; `protocol/overflow.rs`)
//! carried over to bytes:
//!
//! - RO1. A producer loads `state` (Acquire). While `ACTIVE` is clear it reserves in the data
//!   area as usual; only a refusal there sends it on.
//! - RO2. It reserves in the overflow area by compare-and-swap of `state` to `ACTIVE | count + 1
//!   | tail + need` ([`super::mpsc::take`] on the overflow lane): one word both reserves and
//!   activates, so once a producer has a record there `ACTIVE` stays set at least until that
//!   record is consumed, and every later record of the producer queues behind it. Every
//!   producer uses the compare-and-swap, SPSC included, since the consumer writes `state` too.
//! - RO3/RO4. BUSY header, payload, committed header with Release: the MPSC record steps.
//! - RO5. The consumer reads the overflow area only once the data area reads empty, and
//!   delivers an overflow record only if, loaded *after* that record's header (Acquire), the
//!   data area's `tail` equals its own `head`: a record the same producer put into the data area
//!   earlier keeps them apart until it is consumed.
//! - RO6. Releasing zeroes the bytes and stores the overflow `head` (Release), as MC3.
//! - RO7. A consumer that finds the overflow area drained (it reads empty, or the consumer has
//!   just released everything up to the last position it loaded) clears `ACTIVE` by
//!   compare-and-swap from the exact `state` it checked, so a reservation in between makes it
//!   fail.

use super::errors::{ReadError, ReserveError};
use super::layout::*;
use super::mpsc::{mark, take, truncate_marked, HeadCache, Lane, Took};
use super::rx::{Found, Rx};
use super::Resv;
use crate::layout::OverflowLine;
use crate::protocol::intent::Intent;
use crate::protocol::wait::Waker;
use crate::sync::{
    AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};

/// The overflow area as both sides address it: its data area and its line.
#[derive(Copy, Clone, Debug)]
pub(crate) struct OverflowArea<'a> {
    pub(crate) area: Area<'a>,
    pub(crate) line: &'a OverflowLine,
}

/// A producer's overflow state (made when the handle is made, when the ring has the area).
#[derive(Debug)]
pub(crate) struct OvfTx<'a> {
    lane: Lane<'a>,
    line: &'a OverflowLine,
    /// The last overflow `head` loaded (validated) and its age.
    head_cache: HeadCache,
    max_len: u32,
    refusals: &'a AtomicU64,
    discarded: &'a AtomicU64,
    /// This producer's overflow intent (stored before every compare-and-swap of `state`).
    intent: Option<Intent<'a>>,
    wait: Option<Waker<'a>>,
}

/// What [`OvfTx::spill`] got.
pub(crate) enum Spill {
    /// A reservation in the overflow area, marked BUSY.
    Got(Resv),
    /// The area went inactive (this `state`): try the data area again (RO1).
    Inactive(u64),
}

impl<'a> OvfTx<'a> {
    pub(crate) fn new(
        o: OverflowArea<'a>,
        refusals: &'a AtomicU64,
        discarded: &'a AtomicU64,
        intent: Option<Intent<'a>>,
        wait: Option<Waker<'a>>,
    ) -> Self {
        let lane = Lane {
            area: o.area,
            tail_word: &o.line.state,
            head_word: &o.line.head,
            overflow: true,
        };
        OvfTx {
            lane,
            line: o.line,
            head_cache: HeadCache::load(&lane),
            max_len: max_record_len(o.area.capacity()),
            refusals,
            discarded,
            intent,
            wait,
        }
    }

    /// RO1's load of `state`.
    #[inline]
    pub(crate) fn state(&self) -> u64 {
        self.line.state.load(Acquire)
    }

    /// RO2 and RO3 from the `state` value `s`: reserve `len` payload bytes in the overflow area
    /// (activating it if needed) and mark the record BUSY. A refusal is counted in
    /// `full_refusals`.
    pub(crate) fn spill(&mut self, s: u64, len: u32, ty: u8) -> Result<Spill, ReserveError> {
        if len > self.max_len {
            // Fits the data area's limit, not the overflow area's: refused like a full area.
            self.refusals.fetch_add(1, Relaxed);
            return Err(ReserveError::Full {
                needed: record_size(len),
                free: self
                    .lane
                    .area
                    .capacity()
                    .saturating_sub(tail_pos(s).wrapping_sub(self.head_cache.head)),
            });
        }
        match take(
            &self.lane,
            &mut self.head_cache,
            self.intent.as_ref(),
            s,
            len,
        ) {
            Ok(Took::Got(r, was)) => {
                if was & OVERFLOW_ACTIVE == 0 {
                    self.line.activations.fetch_add(1, Relaxed);
                }
                mark(&self.lane.area, &r, ty);
                Ok(Spill::Got(r))
            }
            Ok(Took::Inactive(now)) => Ok(Spill::Inactive(now)),
            Err(e) => {
                if matches!(e, ReserveError::Full { .. }) {
                    self.refusals.fetch_add(1, Relaxed);
                }
                Err(e)
            }
        }
    }

    /// RO4 for the record of `len` payload bytes at `pos`: the committed header (Release
    /// publishes the payload), the counters, then W1. Plain values, so that the caller's
    /// reservation need not live in memory for the call.
    pub(crate) fn commit(&self, pos: u32, len: u32, ty: u8, flags: u64) {
        self.lane
            .area
            .header(pos)
            .store(header(pos, len, ty, flags), Release);
        if flags == 0 {
            self.line.overflowed.fetch_add(1, Relaxed);
        } else {
            self.discarded.fetch_add(1, Relaxed);
        }
        if let Some(w) = &self.wait {
            w.published_at(crate::protocol::wait::Reached::Any);
        }
    }

    /// Shrinks an uncommitted overflow reservation (a discarded filler takes the rest).
    pub(crate) fn truncate(&self, pos: u32, old_len: u32, len: u32) {
        truncate_marked(&self.lane.area, pos, old_len, len);
    }

    /// The overflow data area.
    pub(crate) fn area(&self) -> Area<'a> {
        self.lane.area
    }
}

/// The consumer's overflow state: a consumer of the overflow lane, whose producer word is
/// `state`.
#[derive(Debug)]
pub(crate) struct OvfRx<'a> {
    pub(crate) rx: Rx<'a>,
}

impl<'a> OvfRx<'a> {
    pub(crate) fn new(rx: Rx<'a>) -> Self {
        OvfRx { rx }
    }

    /// RO5's overflow half: the next deliverable overflow record, as MC1/MC2 read it.
    pub(crate) fn next(&mut self) -> Result<Found, ReadError> {
        self.rx.next()
    }

    /// Whether the overflow area holds reserved records beyond the private overflow head.
    pub(crate) fn has_more(&self) -> bool {
        self.rx.has_more()
    }

    /// RO7 when the overflow area reads drained: store the overflow `head`, then clear
    /// `ACTIVE` if every reserved overflow position is consumed ([`Rx::deactivate`]).
    pub(crate) fn deactivate(&mut self) {
        self.rx.flush();
        self.rx.deactivate();
    }
}
