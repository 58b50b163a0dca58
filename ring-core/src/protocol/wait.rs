//! The wait/wake handshake (spec/PROTOCOL.md, "Waiting"): what a producer checks after
//! publishing and what a consumer does before sleeping, so that no wake-up is lost.
//!
//! The handshake is the store-buffering (Dekker) pattern, and it needs a sequentially
//! consistent fence on both sides:
//!
//! - W1 (producer, after a publication): `fence(SeqCst)`, then load `waiters` and `flags`
//!   (Relaxed). If `waiters != 0` and `NO_WAKE` is clear: increment `futex` (Release) and wake
//!   (the system calls are the `std` layer's: `FUTEX_WAKE` on `futex`, and a write to the
//!   eventfd if one is attached).
//! - W2 (consumer, before sleeping): load `futex` (Acquire), increment `waiters` (SeqCst
//!   read-modify-write), `fence(SeqCst)`, then check again whether entries are available.
//!   Only if they still are not does it sleep, with `FUTEX_WAIT(futex, value loaded)`; after
//!   waking it decrements `waiters`.
//!
//! Why no wake-up is lost: order the two fences in the single total order of SeqCst fences.
//! If the producer's comes first, the consumer's re-check (after its fence) sees the
//! publication (before the producer's fence) and does not sleep. If the consumer's comes
//! first, the producer's load of `waiters` sees the increment and wakes; and if that wake-up
//! happens before the consumer calls `FUTEX_WAIT`, the kernel sees `futex` changed from the
//! value the consumer loaded and returns at once. Without the fences both sides could read the
//! other's old value (each store still in its store buffer), the consumer sleep and the
//! producer skip the wake-up.
//!
//! Producers pay one fence and two loads per publication when the ring has the wait block, and
//! no system call unless someone sleeps.
//!
//! Wake-up targets (layout 1.3, `INCOMPAT_WAIT_TARGET`): a sleeper also publishes the ring
//! position it waits for in `wake_target` (lowering the armed target, never raising it) before
//! its fence, and a producer whose W1 finds sleepers wakes them only if the producer index has
//! reached the armed target (or `ANY` is set, or the publication went to the overflow area, or
//! it is a forced wake-up); the waker disarms the target it saw (compare-and-swap, so a target
//! armed meanwhile stays) before it advances the futex word. The argument above carries over:
//! if the sleeper's fence comes first, the producer's loads see its announcement and its
//! target; the multi-producer check reads `tail` with a read-modify-write, so it sees every
//! reservation, and the publication that completes a sleeper's target finds the producer index
//! at or beyond it. A target left armed by a sleeper that went away costs one useless wake-up.

use crate::layout::{wait_flags, wake_target, WaitLine};
use crate::sync::{
    fence, AtomicU32,
    Ordering::{Acquire, Relaxed, Release, SeqCst},
};
use core::sync::atomic::AtomicI32;

/// Who announces itself in `waiters` (spec/PROTOCOL.md, W2): a consumer about to sleep on the
/// futex adds [`waiters::FUTEX`], one about to wait on the eventfd adds [`waiters::EVENTFD`].
pub(crate) use crate::layout::waiters;

/// W1: the `waiters` word if a producer that just published must wake sleepers, else 0.
#[inline]
pub(crate) fn must_wake(w: &WaitLine) -> u32 {
    fence(SeqCst);
    let waiters = w.waiters.load(Relaxed);
    if waiters != 0 && w.flags.load(Relaxed) & wait_flags::NO_WAKE == 0 {
        waiters
    } else {
        0
    }
}

/// W1 (continued): advance the futex word before waking, and count the wake-up.
#[inline]
pub(crate) fn bump(w: &WaitLine) {
    w.futex.fetch_add(1, Release);
    w.wakeups.fetch_add(1, Relaxed);
}

/// W2: announce a sleeper of kind `unit` ([`waiters::FUTEX`] or [`waiters::EVENTFD`]), with
/// a wake-up target (1.3) arm `target = Some((position, head, most))` (the ring position waited
/// for, the consumer's head, and how far ahead of it a genuine target can lie), then the fence,
/// and return the futex value to sleep on; the caller then re-checks availability and either
/// sleeps or calls [`retire`] with the same unit.
///
/// The futex value is loaded *first*: a waker that disarms this sleeper's target (or the equal
/// target it kept) read the armed word, so its disarm, and the futex advance after it, come
/// after this load, and `FUTEX_WAIT` on the value returns at once. Loaded after the arm, the
/// value could already include that advance while the re-check missed a later publication, and
/// the sleeper would sleep with its target disarmed (found by loom,
/// `mpsc_reap_sleeps_until_both_arrive`).
#[inline]
pub(crate) fn announce_target(w: &WaitLine, unit: u32, target: Option<(u32, u32, u32)>) -> u32 {
    let seen = w.futex.load(Acquire);
    w.waiters.fetch_add(unit, SeqCst);
    if let Some((pos, head, most)) = target {
        arm(w, pos, head, most);
    }
    fence(SeqCst);
    seen
}

/// W2T again, after the fence (rings with an overflow area, whose entries published before the
/// fence lower the target): arm `pos`, then the fence, so that a producer whose fence comes
/// later sees it, and one whose fence came earlier has its publication seen by the re-check
/// that follows.
#[inline]
pub(crate) fn rearm(w: &WaitLine, pos: u32, head: u32, most: u32) {
    arm(w, pos, head, most);
    fence(SeqCst);
}

/// Lowers the armed target to `pos` if it is above it (or unarmed, or implausible: more than
/// `most` ahead of `head`, which no sleeper of this ring asks for). A few compare-and-swap
/// attempts; against a word that keeps changing it sets `ANY` instead (wake after any
/// publication), which is always safe.
fn arm(w: &WaitLine, pos: u32, head: u32, most: u32) {
    let mine = wake_target::ARMED | u64::from(pos);
    let mut cur = w.wake_target.load(SeqCst);
    for _ in 0..8 {
        if cur & wake_target::ANY != 0 {
            return;
        }
        if cur & wake_target::ARMED != 0 {
            let t = cur as u32;
            let ahead = t.wrapping_sub(head);
            let plausible = ahead <= most || (ahead as i32) < 0;
            if plausible && (pos.wrapping_sub(t) as i32) >= 0 {
                return; // an equal or lower target is armed: it wakes us early enough
            }
        }
        match w.wake_target.compare_exchange(cur, mine, SeqCst, SeqCst) {
            Ok(_) => return,
            Err(now) => cur = now,
        }
    }
    w.wake_target
        .fetch_or(wake_target::ARMED | wake_target::ANY, SeqCst);
}

/// W2 (end): withdraw an announcement of kind `unit`. Saturates at zero in that kind's half of
/// the word, so a peer that zeroed the word cannot make it wrap (which would only cost
/// producers useless wake-ups), and gives up after a few compare-and-swap attempts, so a peer
/// that keeps rewriting the word cannot hold a consumer here (a count left one too high also
/// only costs useless wake-ups).
#[inline]
pub(crate) fn retire(w: &WaitLine, unit: u32) {
    let half = if unit == waiters::EVENTFD {
        waiters::EVENTFD_MASK
    } else {
        waiters::FUTEX_MASK
    };
    let mut v = w.waiters.load(Relaxed);
    for _ in 0..16 {
        if v & half == 0 {
            return;
        }
        match w
            .waiters
            .compare_exchange_weak(v, v - unit, SeqCst, Relaxed)
        {
            Ok(_) => return,
            Err(now) => v = now,
        }
    }
}

/// W1 (continued): advance the futex word, wake futex sleepers if `waiters` (the word W1
/// loaded; `u32::MAX` to wake unconditionally) counts any, and signal the eventfd if one is
/// attached to the ring and this process holds it (`eventfd`, -1 when it does not).
#[cold]
#[inline(never)]
pub(crate) fn wake(w: &WaitLine, eventfd: &AtomicI32, waiters: u32) {
    bump(w);
    // Only eventfd waiters announced: they wait in epoll, not on the futex, so the system call
    // would wake nobody.
    if waiters & waiters::FUTEX_MASK != 0 {
        crate::sys::futex_wake(&w.futex);
    }
    if w.flags.load(Relaxed) & wait_flags::EVENTFD != 0 {
        let fd = eventfd.load(Relaxed);
        if fd >= 0 {
            crate::sys::eventfd_signal(fd);
        }
    }
}

/// Where W1 finds the producer index to compare with the wake-up target.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Reached<'a> {
    /// A single producer's index after its publication.
    At(u32),
    /// Several producers: the shared index, read with a read-modify-write (the latest value).
    Shared(&'a AtomicU32),
    /// A publication the target does not describe (the overflow area): wake regardless.
    Any,
}

/// W1 with targets (1.3), out of line: wake if the armed target is reached; disarm what was
/// seen first.
#[cold]
#[inline(never)]
fn wake_if_due(w: &WaitLine, eventfd: &AtomicI32, waiters: u32, at: Reached<'_>) {
    let t = w.wake_target.load(SeqCst);
    if t & wake_target::ARMED == 0 {
        // Announced, not armed yet: the sleeper arms before its fence, so its re-check comes
        // after this publication.
        return;
    }
    if t & wake_target::ANY == 0 {
        let tail = match at {
            Reached::At(tail) => tail,
            Reached::Shared(word) => word.fetch_add(0, SeqCst),
            Reached::Any => t as u32,
        };
        if (tail.wrapping_sub(t as u32) as i32) < 0 {
            return;
        }
    }
    let _ = w.wake_target.compare_exchange(t, 0, SeqCst, Relaxed);
    wake(w, eventfd, waiters);
}

/// What a producer handle needs to wake sleepers: the ring's wait line, this process's eventfd
/// slot, and whether sleepers publish targets. A handle of a ring without the wait block holds
/// none.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Waker<'a> {
    pub(crate) line: &'a WaitLine,
    pub(crate) eventfd: &'a AtomicI32,
    pub(crate) targets: bool,
}

impl Waker<'_> {
    /// W1 after a publication, the producer index being `at` ([`Reached::Any`] for the
    /// overflow area): the fence and two loads inline, the wake-up itself out of line.
    #[inline(always)]
    pub(crate) fn published_at(&self, at: Reached<'_>) {
        let waiters = must_wake(self.line);
        if waiters != 0 {
            self.wake(waiters, at);
        }
    }

    /// W1's wake-up, once [`must_wake`] returned `waiters != 0`.
    #[inline]
    pub(crate) fn wake(&self, waiters: u32, at: Reached<'_>) {
        if self.targets {
            wake_if_due(self.line, self.eventfd, waiters, at);
        } else {
            wake(self.line, self.eventfd, waiters);
        }
    }
}
