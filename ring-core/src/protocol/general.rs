//! The general flavors: every mode and overflow combination that has no dedicated flavor
//! (SPSC with an overflow area, SPMC, MPMC consumers, and any ring with an overflow area).
//!
//! They drive [`RawRing`]'s reserve/publish and claim/release, which pick the ring or the
//! overflow area per call (spec/PROTOCOL.md, "Overflow") and dispatch on the mode; the
//! dedicated flavors ([`super::spsc`], [`super::mpsc`]) exist so that the common modes do not
//! pay for that.

use super::push_error;
use super::wait::{Reached, Waker};
use super::{ConsumerCursor, Lane, ProducerCursor, RawRing, Shortfall, Span};
use crate::error::{PopError, PushError};

/// The general producer flavor.
#[derive(Debug)]
pub(crate) struct GeneralTx<'a, T> {
    raw: RawRing<'a, T>,
    pub(crate) cur: ProducerCursor,
    wait: Option<Waker<'a>>,
}

impl<'a, T: Copy> GeneralTx<'a, T> {
    pub(crate) fn new(raw: RawRing<'a, T>, cur: ProducerCursor, wait: Option<Waker<'a>>) -> Self {
        GeneralTx { raw, cur, wait }
    }

    /// Reserves up to `n` positions (exactly `n` or none when `exact`), in the ring or the
    /// overflow area.
    #[inline]
    pub(crate) fn reserve(&mut self, n: u32, exact: bool) -> Result<Span, Shortfall> {
        self.raw.reserve(&mut self.cur, n, exact)
    }

    /// Publishes a reserved span (the first `keep` as entries) and wakes sleepers (W1).
    #[inline]
    pub(crate) fn publish(&mut self, span: Span, keep: u32) {
        let waiters = self.raw.publish(&mut self.cur, span, keep);
        if waiters != 0 {
            if let Some(w) = &self.wait {
                let at = match span.place {
                    super::Place::Overflow => Reached::Any,
                    super::Place::Ring if self.raw.mode.multi_producer() => {
                        Reached::Shared(&self.raw.prod.tail)
                    }
                    super::Place::Ring => Reached::At(self.cur.tail),
                };
                w.wake(waiters, at);
            }
        }
    }

    /// One entry: reserve, write, publish (out of line: the dedicated flavors' fast paths must
    /// not pay for this one's frame).
    #[inline(never)]
    pub(crate) fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        let span = self.reserve(1, true).map_err(|e| push_error(value, e))?;
        // SAFETY: the reservation gives us exclusive ownership of `span.start`.
        unsafe { self.lane(&span).write(span.start, value) };
        self.publish(span, 1);
        Ok(())
    }

    /// The slots `span` lives in.
    #[inline(always)]
    pub(crate) fn lane(&self, span: &Span) -> Lane<'a, T> {
        self.raw.lane(span.place)
    }
}

/// The general consumer flavor.
#[derive(Debug)]
pub(crate) struct GeneralRx<'a, T> {
    raw: RawRing<'a, T>,
    pub(crate) cur: ConsumerCursor,
    /// What is left of the current public call's budgets ([`super::lap::Budget`]),
    /// shared by all its claims ([`Self::begin`] starts a call).
    budget: super::lap::Budget,
}

impl<'a, T: Copy> GeneralRx<'a, T> {
    pub(crate) fn new(raw: RawRing<'a, T>, cur: ConsumerCursor) -> Self {
        GeneralRx {
            raw,
            cur,
            budget: super::lap::Budget::new(),
        }
    }

    /// Starts a public call: a fresh scan budget for its claims.
    #[inline]
    pub(crate) fn begin(&mut self) {
        self.budget = super::lap::Budget::new();
    }

    /// Claims up to `n` published positions, from the ring or (when it is empty) the overflow
    /// area, on the current call's budget.
    #[inline]
    pub(crate) fn claim(&mut self, n: u32) -> Result<Span, Shortfall> {
        self.raw.claim(&mut self.cur, n, &mut self.budget)
    }

    /// Releases a claimed span.
    #[inline]
    pub(crate) fn release(&mut self, span: Span) {
        self.raw.release(&mut self.cur, span)
    }

    /// One entry; discarded slots are consumed on the way (at most a lap of each lane). Out
    /// of line, as [`GeneralTx::push`].
    #[inline(never)]
    pub(crate) fn pop(&mut self) -> Result<T, PopError> {
        self.begin();
        let rounds = self
            .raw
            .capacity()
            .saturating_add(self.raw.overflow_capacity());
        for _ in 0..=rounds {
            let span = match self.claim(1) {
                Ok(span) => span,
                Err(Shortfall::Short { .. }) => return Err(PopError::Empty),
                Err(Shortfall::Corrupt(c)) => return Err(PopError::Corrupt(c)),
            };
            let value = if self.raw.is_discarded(&span, span.start) {
                None
            } else {
                // SAFETY: claimed and published (observed with Acquire), not yet released,
                // not discarded.
                Some(unsafe { self.lane(&span).read(span.start) })
            };
            self.release(span);
            if let Some(v) = value {
                return Ok(v);
            }
        }
        Err(PopError::Empty)
    }

    /// Whether the claimed position `pos` of `span` was published as discarded.
    #[inline(always)]
    pub(crate) fn is_discarded(&self, span: &Span, pos: u32) -> bool {
        self.raw.is_discarded(span, pos)
    }

    /// The slots `span` lives in.
    #[inline(always)]
    pub(crate) fn lane(&self, span: &Span) -> Lane<'a, T> {
        self.raw.lane(span.place)
    }
}
