//! Output slots: where finished operations leave what they hand back ([`Output`]) until
//! [`crate::Pool::take_output`], with neither a lock nor an allocation on the worker's side.
//!
//! The table is a power-of-two array of slots indexed by the submission id (`id & mask`).
//! A submission claims its slot when it is accepted (if the slot is free); the job carries
//! the claim, and whoever posts its completion (a worker, or the thread that cancelled it)
//! stores the output there and marks it filled *before* posting, or frees the slot when
//! there is no output. The caller's `take_output(id)` finds the slot from the id alone,
//! takes the value and frees the slot. A submission whose slot is still busy (an older
//! output nobody took, or a long-running operation) spills into a locked map instead, as
//! every output did before: correct in every case, and rare while the caller takes outputs
//! promptly and the table has twice as many slots as the queue depth.
//!
//! A slot's word is `0` when free, else `id << 2 | state` with the occupant's id and
//! [`RESERVED`] (claimed, result not known), [`FILLED`] (holds the output) or [`TAKING`]
//! (a taker owns the value). Only a claim moves a slot from free (compare-and-swap), only
//! the job holding the claim leaves `RESERVED`, and only a taker that won the
//! compare-and-swap `FILLED -> TAKING` touches a filled value, so each value has one owner
//! at a time. Ids at or above 2^62 (never reached in practice) always spill.

use crate::op::Output;
use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::sync::atomic::{
    AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Mutex;

/// Claimed by a job whose result is not known yet.
const RESERVED: u64 = 1;
/// Holds the job's output.
const FILLED: u64 = 2;
/// A taker is moving the output out.
const TAKING: u64 = 3;
/// Ids from here on do not fit the slot word with their state: they spill.
const ID_LIMIT: u64 = 1 << 62;
/// The most slots a table has (a slot holds an `Output` inline: about 200 bytes).
const MAX_SLOTS: usize = 4096;
/// The fewest slots a table has.
const MIN_SLOTS: usize = 64;

struct Slot {
    word: AtomicU64,
    value: UnsafeCell<Option<Output>>,
}

// SAFETY: `value` is only touched by the one thread that owns the slot's current state (the
// job holding the `RESERVED` claim while it writes, the taker that won `FILLED -> TAKING`
// while it reads), and ownership passes through `word` with Release/Acquire orderings, so no
// two threads access `value` concurrently. `Output` is `Send`, so moving it between those
// threads is sound.
unsafe impl Sync for Slot {}

/// Where a job's output goes: its slot in the table, or the spill map.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claim(Option<u32>);

/// The outputs of finished operations, by submission id.
pub(crate) struct Outputs {
    slots: Box<[Slot]>,
    mask: u64,
    /// Outputs of jobs that found their slot busy.
    spill: Mutex<HashMap<u64, Output>>,
    /// Entries in `spill` (changed under its lock): a taker looks there only when not zero.
    spilled: AtomicUsize,
}

impl Outputs {
    /// A table for a pool of queue depth `depth`: twice as many slots (a power of two, at
    /// least [`MIN_SLOTS`] and at most [`MAX_SLOTS`]).
    pub(crate) fn new(depth: usize) -> Self {
        let n = depth
            .saturating_mul(2)
            .clamp(MIN_SLOTS, MAX_SLOTS)
            .next_power_of_two();
        Outputs {
            slots: (0..n)
                .map(|_| Slot {
                    word: AtomicU64::new(0),
                    value: UnsafeCell::new(None),
                })
                .collect(),
            mask: n as u64 - 1,
            spill: Mutex::new(HashMap::new()),
            spilled: AtomicUsize::new(0),
        }
    }

    /// The number of slots.
    #[cfg(test)]
    pub(crate) fn slots(&self) -> usize {
        self.slots.len()
    }

    fn slot(&self, id: u64) -> &Slot {
        &self.slots[(id & self.mask) as usize]
    }

    /// Claims the slot of a newly accepted submission `id` (ids are never reused), or
    /// returns a spill claim if the slot is busy.
    pub(crate) fn claim(&self, id: u64) -> Claim {
        if id >= ID_LIMIT {
            return Claim(None);
        }
        let s = self.slot(id);
        // Acquire: the taker that freed the slot (Release) has moved the old value out.
        match s
            .word
            .compare_exchange(0, id << 2 | RESERVED, Acquire, Relaxed)
        {
            Ok(_) => Claim(Some((id & self.mask) as u32)),
            Err(_) => Claim(None),
        }
    }

    /// Leaves job `id`'s output (if any) where `take` finds it, and releases its claim.
    /// Called once per job, before its completion is posted. Returns whether an output is
    /// stored. Without a lock or an allocation when the job holds a slot.
    pub(crate) fn put(&self, id: u64, claim: Claim, out: Option<Output>) -> bool {
        let stored = out.is_some();
        match claim.0 {
            Some(i) => {
                let s = &self.slots[i as usize];
                debug_assert_eq!(s.word.load(Relaxed), id << 2 | RESERVED);
                if let Some(out) = out {
                    // SAFETY: this job holds the slot's `RESERVED` claim (made by `claim` for
                    // its id and released only here, once): no other thread touches `value`
                    // until the Release store below hands it to a taker.
                    unsafe { *s.value.get() = Some(out) };
                    s.word.store(id << 2 | FILLED, Release);
                } else {
                    s.word.store(0, Release);
                }
            }
            None => {
                if let Some(out) = out {
                    let mut m = self.spill.lock().unwrap_or_else(|e| e.into_inner());
                    m.insert(id, out);
                    self.spilled.store(m.len(), Relaxed);
                }
            }
        }
        stored
    }

    /// Takes job `id`'s output, if it is stored and not taken yet.
    pub(crate) fn take(&self, id: u64) -> Option<Output> {
        if id < ID_LIMIT {
            let s = self.slot(id);
            let filled = id << 2 | FILLED;
            if s.word.load(Relaxed) == filled
                && s.word
                    .compare_exchange(filled, id << 2 | TAKING, Acquire, Relaxed)
                    .is_ok()
            {
                // SAFETY: winning `FILLED -> TAKING` (Acquire, after the filler's Release
                // store) makes this thread the value's only owner until it frees the slot.
                let out = unsafe { (*s.value.get()).take() };
                s.word.store(0, Release);
                return out;
            }
        }
        // A spilled output was inserted (and counted, under the lock) before its completion
        // was posted, and the caller saw that completion: the count is visible here.
        if self.spilled.load(Relaxed) == 0 {
            return None;
        }
        let mut m = self.spill.lock().unwrap_or_else(|e| e.into_inner());
        let out = m.remove(&id);
        self.spilled.store(m.len(), Relaxed);
        out
    }

    /// Outputs stored and not taken (slots and spill map).
    #[cfg(test)]
    pub(crate) fn stored(&self) -> usize {
        let filled = self
            .slots
            .iter()
            .filter(|s| s.word.load(Acquire) & 3 == FILLED)
            .count();
        filled + self.spill.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn buf(n: u8) -> Option<Output> {
        Some(Output::Buffer(vec![n; 3]))
    }

    /// The byte a `buf` output was made of.
    fn byte(o: Option<Output>) -> Option<u8> {
        match o {
            Some(Output::Buffer(b)) => Some(b[0]),
            None => None,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn slot_round_trip_and_reuse() {
        let t = Outputs::new(8);
        assert_eq!(t.slots(), MIN_SLOTS);
        let c = t.claim(5);
        assert!(c.0.is_some());
        assert_eq!(byte(t.take(5)), None, "nothing before the output is put");
        assert!(t.put(5, c, buf(5)));
        assert_eq!(t.stored(), 1);
        assert_eq!(byte(t.take(5)), Some(5));
        assert_eq!(byte(t.take(5)), None, "taken once");
        assert_eq!(t.stored(), 0);
        // The slot is free again: the id a lap later gets it.
        let c = t.claim(5 + MIN_SLOTS as u64);
        assert_eq!(c.0, Some(5));
        assert!(!t.put(5 + MIN_SLOTS as u64, c, None));
        assert_eq!(
            t.claim(5 + 2 * MIN_SLOTS as u64).0,
            Some(5),
            "freed without output"
        );
    }

    #[test]
    fn busy_slot_spills_and_both_are_found() {
        let t = Outputs::new(1);
        let lap = t.slots() as u64;
        let a = t.claim(3);
        t.put(3, a, buf(1));
        // Not taken: the slot stays busy, the id a lap later spills.
        let b = t.claim(3 + lap);
        assert_eq!(b, Claim(None));
        t.put(3 + lap, b, buf(2));
        assert_eq!(t.stored(), 2);
        assert_eq!(byte(t.take(3 + lap)), Some(2));
        assert_eq!(byte(t.take(3)), Some(1));
        assert_eq!(
            (byte(t.take(3)), byte(t.take(3 + lap)), t.stored()),
            (None, None, 0)
        );
        // A wrong id in a filled slot is not handed out.
        let c = t.claim(4);
        t.put(4, c, buf(4));
        assert_eq!(byte(t.take(4 + lap)), None);
        assert_eq!(byte(t.take(4)), Some(4));
    }

    #[test]
    fn huge_ids_spill() {
        let t = Outputs::new(4);
        let id = ID_LIMIT + 7;
        let c = t.claim(id);
        assert_eq!(c, Claim(None));
        t.put(id, c, buf(9));
        assert_eq!(byte(t.take(id)), Some(9));
    }

    /// Two takers race each other and the filler. Under Miri
    /// (`cargo +nightly miri test -p ring-aio --lib slots`) this also checks the orderings:
    /// with the filler's `FILLED` store made Relaxed, Miri reports a data race on the value.
    #[test]
    fn racing_takers_get_each_output_once() {
        let t = Arc::new(Outputs::new(16));
        // Fewer under Miri, which checks the accesses rather than the odds of a race.
        let n = if cfg!(miri) { 200 } else { 20_000u64 };
        let got = std::thread::scope(|s| {
            let filler = {
                let t = t.clone();
                s.spawn(move || {
                    for id in 1..=n {
                        let c = t.claim(id);
                        t.put(id, c, Some(Output::Wide(id as i64)));
                    }
                })
            };
            let takers: Vec<_> = (0..2)
                .map(|_| {
                    let t = t.clone();
                    s.spawn(move || {
                        let mut got = Vec::new();
                        // Bounded: each taker sweeps the ids a fixed number of times.
                        for _ in 0..if cfg!(miri) { 3 } else { 50 } {
                            for id in 1..=n {
                                if let Some(Output::Wide(v)) = t.take(id) {
                                    assert_eq!(v as u64, id);
                                    got.push(id);
                                }
                            }
                        }
                        got
                    })
                })
                .collect();
            filler.join().unwrap();
            let mut got: Vec<u64> = takers.into_iter().flat_map(|h| h.join().unwrap()).collect();
            // What the sweeps missed, taken now that the filler is done.
            got.extend((1..=n).filter(|&id| t.take(id).is_some()));
            got
        });
        let mut sorted = got.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), got.len(), "an output taken twice");
        assert_eq!(got.len() as u64, n, "an output lost");
        assert_eq!(t.stored(), 0);
    }
}
