//! Generational handle tables: what a C handle (`uint64_t id`) refers to.
//!
//! A handle is `generation << 24 | kind << 21 | index`: `kind` (3 bits) tells the tables apart
//! (regions, rings, producers and consumers of fixed-entry rings; record rings, their producers
//! and consumers), so a producer's id passed as a consumer is refused like any other bad
//! handle. The slot at
//! `index` carries one atomic state word:
//!
//! ```text
//! bits 24..64  generation of the slot's current occupant (40 bits, starting at 1)
//! bit  23      OCCUPIED: the slot holds a value
//! bit  22      CLOSING: the handle was closed; the value is dropped when the last user leaves
//! bit  21      POISONED: a call panicked while using the value
//! bits 0..21   users: shared users, or EXCLUSIVE for one exclusive user
//! ```
//!
//! A call *acquires* the slot with one compare-and-swap on the state word that checks the
//! generation and adds itself as a user; it *releases* with one atomic subtraction. No lock is
//! taken on the operation path, and different handles live on different cache lines. Closing
//! sets CLOSING; whoever brings the users to zero with CLOSING set (the closer, or the last
//! user) drops the value, advances the generation and puts the slot on the free list. A stale
//! handle can therefore never reach a later occupant: its generation no longer matches, and a
//! slot whose generation would wrap is retired for good instead of reused. Opening and closing
//! take a mutex (the free list); operations never do.
//!
//! Slots live in segments that are allocated on demand and never freed (segment `k` holds
//! `64 << k` slots, 2^21 - 64 slots in all), so a reference to a slot stays valid for the life
//! of the process.

use crate::status::{cring_status, Fail};
use crossbeam_utils::CachePadded;
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicPtr, AtomicU64};
use std::sync::{Mutex, PoisonError};

const INDEX_BITS: u32 = 21;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
/// Bits 21..24 of a handle: the table's kind tag.
const KIND_SHIFT: u32 = INDEX_BITS;
const KIND_MASK: u64 = 0b111 << KIND_SHIFT;
/// Number of distinct kind tags.
const KINDS: u64 = 1 << (GEN_SHIFT - KIND_SHIFT);
const GEN_SHIFT: u32 = 24;
/// Everything below the generation.
const LOW_MASK: u64 = (1 << GEN_SHIFT) - 1;
/// Generations run from 1 to 2^40 - 1; a slot whose generation would reach 2^40 is retired.
const GEN_LIMIT: u64 = 1 << (64 - GEN_SHIFT);
const OCCUPIED: u64 = 1 << 23;
const CLOSING: u64 = 1 << 22;
const POISONED: u64 = 1 << 21;
const USERS_MASK: u64 = (1 << 21) - 1;
/// The user count of an exclusive user.
const EXCLUSIVE: u64 = USERS_MASK;

const FIRST_SEGMENT: usize = 64;
const SEGMENTS: usize = 15;
/// Number of slots a table can ever have (64 * (2^15 - 1), just under 2^21).
const MAX_SLOTS: usize = FIRST_SEGMENT * ((1 << SEGMENTS) - 1);
const _: () = assert!(MAX_SLOTS <= INDEX_MASK as usize + 1);
const _: () = assert!(KIND_SHIFT + KINDS.trailing_zeros() == GEN_SHIFT);

struct Slot<T> {
    state: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// Where slot `index` lives: (segment, offset in segment).
fn locate(index: usize) -> (usize, usize) {
    let q = index / FIRST_SEGMENT + 1;
    let k = (usize::BITS - 1 - q.leading_zeros()) as usize;
    (k, index - FIRST_SEGMENT * ((1 << k) - 1))
}

fn segment_len(k: usize) -> usize {
    FIRST_SEGMENT << k
}

struct FreeList {
    free: Vec<u32>,
    /// Slots `0..next` have been handed out at least once.
    next: usize,
}

/// A table of values of one kind, addressed by generational handles.
pub(crate) struct Table<T> {
    segments: [AtomicPtr<CachePadded<Slot<T>>>; SEGMENTS],
    free: Mutex<FreeList>,
    kind: &'static str,
    /// The kind tag in handles of this table (bits 21..24).
    tag: u64,
}

// SAFETY: values are moved into and out of the table by whichever thread opens or finalizes
// them (`T: Send`), and shared users on several threads get `&T` at once (`T: Sync`); exclusive
// users get `&mut T` only while the state word records them as the only user.
unsafe impl<T: Send + Sync> Sync for Table<T> {}

impl<T> Table<T> {
    /// An empty table; `kind` names the handles in error messages ("ring", "producer", ...),
    /// `tag` (0..=7, one per table) is stored in every handle it gives out.
    pub(crate) const fn new(kind: &'static str, tag: u64) -> Self {
        assert!(tag < KINDS, "handle kind tag out of range");
        Table {
            segments: [const { AtomicPtr::new(std::ptr::null_mut()) }; SEGMENTS],
            free: Mutex::new(FreeList {
                free: Vec::new(),
                next: 0,
            }),
            kind,
            tag: (tag << KIND_SHIFT) & KIND_MASK,
        }
    }

    fn slot(&self, index: usize) -> Option<&CachePadded<Slot<T>>> {
        if index >= MAX_SLOTS {
            return None;
        }
        let (k, off) = locate(index);
        let seg = self.segments[k].load(Acquire);
        if seg.is_null() {
            return None;
        }
        // SAFETY: a non-null segment pointer was published (Release) after the segment of
        // `segment_len(k)` slots was initialised; segments are never freed; `off` is in range.
        Some(unsafe { &*seg.add(off) })
    }

    fn bad(&self, id: u64) -> Fail {
        Fail::new(
            cring_status::BadHandle,
            format!("{} handle {id:#x} is not open", self.kind),
        )
    }

    /// Takes a free slot index, allocating a segment if needed. Called with the free list
    /// locked.
    fn take_index(&self, fl: &mut FreeList) -> Result<usize, Fail> {
        if let Some(i) = fl.free.pop() {
            return Ok(i as usize);
        }
        let index = fl.next;
        if index >= MAX_SLOTS {
            return Err(Fail::new(
                cring_status::NoResources,
                format!("too many open {} handles", self.kind),
            ));
        }
        let (k, off) = locate(index);
        if off == 0 {
            let len = segment_len(k);
            let mut seg: Vec<CachePadded<Slot<T>>> = Vec::new();
            seg.try_reserve_exact(len)
                .map_err(|_| Fail::of(cring_status::NoResources))?;
            seg.extend((0..len).map(|_| {
                CachePadded::new(Slot {
                    state: AtomicU64::new(1 << GEN_SHIFT),
                    value: UnsafeCell::new(MaybeUninit::uninit()),
                })
            }));
            let ptr = Box::into_raw(seg.into_boxed_slice()) as *mut CachePadded<Slot<T>>;
            // Published once, under the free-list lock; never freed (see the module docs).
            self.segments[k].store(ptr, Release);
        }
        fl.next = index + 1;
        Ok(index)
    }

    /// Stores `value` and returns its handle id (never 0).
    pub(crate) fn insert(&self, value: T) -> Result<u64, Fail> {
        let index = {
            let mut fl = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            self.take_index(&mut fl)?
        };
        let slot = self.slot(index).expect("taken indices have a segment");
        let s = slot.state.load(Acquire);
        debug_assert_eq!(s & !(u64::MAX << GEN_SHIFT), 0, "free slot with flags");
        // SAFETY: the index came off the free list (or is new): no handle refers to the slot's
        // current generation and OCCUPIED is clear, so no other thread touches the value.
        unsafe { (*slot.value.get()).write(value) };
        slot.state.store(s | OCCUPIED, Release);
        Ok(s & !LOW_MASK | self.tag | index as u64)
    }

    fn acquire(&self, id: u64, exclusive: bool) -> Result<Guard<'_, T>, Fail> {
        let index = (id & INDEX_MASK) as usize;
        let gen_bits = id & !LOW_MASK;
        if gen_bits == 0 || id & KIND_MASK != self.tag {
            return Err(self.bad(id));
        }
        let slot = self.slot(index).ok_or_else(|| self.bad(id))?;
        let mut s = slot.state.load(Relaxed);
        loop {
            if s & !LOW_MASK != gen_bits || s & OCCUPIED == 0 || s & CLOSING != 0 {
                return Err(self.bad(id));
            }
            if s & POISONED != 0 {
                return Err(Fail::new(
                    cring_status::Panic,
                    format!(
                        "{} handle {id:#x} is poisoned by an earlier panic: close it",
                        self.kind
                    ),
                ));
            }
            let users = s & USERS_MASK;
            let new = if exclusive {
                if users != 0 {
                    return Err(Fail::of(cring_status::InUse));
                }
                s | EXCLUSIVE
            } else {
                if users == EXCLUSIVE {
                    return Err(Fail::of(cring_status::InUse));
                }
                if users == EXCLUSIVE - 1 {
                    return Err(Fail::new(
                        cring_status::NoResources,
                        "too many concurrent calls on one handle",
                    ));
                }
                s + 1
            };
            match slot.state.compare_exchange_weak(s, new, Acquire, Relaxed) {
                Ok(_) => {
                    return Ok(Guard {
                        table: self,
                        slot,
                        index,
                        exclusive,
                    })
                }
                Err(cur) => s = cur,
            }
        }
    }

    /// Shared access to the value of handle `id`.
    pub(crate) fn get(&self, id: u64) -> Result<Guard<'_, T>, Fail> {
        self.acquire(id, false)
    }

    /// Exclusive access to the value of handle `id` ([`cring_status::InUse`] if another call
    /// is using it).
    pub(crate) fn get_mut(&self, id: u64) -> Result<Guard<'_, T>, Fail> {
        self.acquire(id, true)
    }

    /// Closes handle `id`: it is invalid from now on; the value is dropped now, or by the last
    /// call still using it.
    pub(crate) fn remove(&self, id: u64) -> Result<(), Fail> {
        let index = (id & INDEX_MASK) as usize;
        let gen_bits = id & !LOW_MASK;
        if gen_bits == 0 || id & KIND_MASK != self.tag {
            return Err(self.bad(id));
        }
        let slot = self.slot(index).ok_or_else(|| self.bad(id))?;
        let mut s = slot.state.load(Relaxed);
        loop {
            if s & !LOW_MASK != gen_bits || s & OCCUPIED == 0 || s & CLOSING != 0 {
                return Err(self.bad(id));
            }
            match slot
                .state
                .compare_exchange_weak(s, s | CLOSING, AcqRel, Relaxed)
            {
                Ok(_) => break,
                Err(cur) => s = cur,
            }
        }
        if s & USERS_MASK == 0 {
            self.finalize(slot, index, s | CLOSING);
        }
        Ok(())
    }

    /// Drops the value of a closed slot with no users and frees the slot.
    fn finalize(&self, slot: &Slot<T>, index: usize, s: u64) {
        debug_assert!(s & CLOSING != 0 && s & USERS_MASK == 0);
        // SAFETY: CLOSING is set and there are no users, so nobody can acquire the slot and we
        // are the only thread to see this state (the closer or the last user, never both): the
        // value is initialised (OCCUPIED) and ours to move out.
        let value = unsafe { (*slot.value.get()).assume_init_read() };
        let next = (s >> GEN_SHIFT) + 1;
        if next < GEN_LIMIT {
            slot.state.store(next << GEN_SHIFT, Release);
            let mut fl = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            fl.free.push(index as u32);
        } else {
            // Generation 0 matches no handle; the slot is never handed out again.
            slot.state.store(0, Release);
        }
        drop(value);
    }

    /// Number of slots ever handed out (tests).
    #[cfg(test)]
    pub(crate) fn slots_used(&self) -> usize {
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next
    }
}

/// A call's use of a table slot; released on drop (poisoning the handle if the call panicked).
pub(crate) struct Guard<'t, T> {
    table: &'t Table<T>,
    slot: &'t Slot<T>,
    index: usize,
    exclusive: bool,
}

impl<T> Guard<'_, T> {
    /// The value, shared.
    pub(crate) fn get(&self) -> &T {
        // SAFETY: we are a registered user of an occupied slot, so the value is initialised
        // and is not dropped until we release; shared users only ever get `&T`.
        unsafe { (*self.slot.value.get()).assume_init_ref() }
    }

    /// The value, exclusively (only for guards from [`Table::get_mut`]).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        assert!(self.exclusive, "shared guard used mutably");
        // SAFETY: the state word records us as the only user (EXCLUSIVE), so no other
        // reference to the value exists until we release.
        unsafe { (*self.slot.value.get()).assume_init_mut() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.slot.state.fetch_or(POISONED, Relaxed);
        }
        let mine = if self.exclusive { EXCLUSIVE } else { 1 };
        let prev = self.slot.state.fetch_sub(mine, AcqRel);
        if prev & CLOSING != 0 && prev & USERS_MASK == mine {
            self.table.finalize(self.slot, self.index, prev - mine);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn locate_covers_segments() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(191), (1, 127));
        assert_eq!(locate(192), (2, 0));
        assert_eq!(
            locate(MAX_SLOTS - 1),
            (SEGMENTS - 1, segment_len(SEGMENTS - 1) - 1)
        );
    }

    #[test]
    fn stale_handles_never_match() {
        static T: Table<u32> = Table::new("test", 1);
        let a = T.insert(1).unwrap();
        assert_ne!(a, 0);
        assert_eq!(*T.get(a).unwrap().get(), 1);
        T.remove(a).unwrap();
        assert_eq!(T.get(a).err().unwrap().status, cring_status::BadHandle);
        assert_eq!(T.remove(a).err().unwrap().status, cring_status::BadHandle);
        // The slot is reused with a new generation; the old id stays dead.
        let b = T.insert(2).unwrap();
        assert_eq!(a & INDEX_MASK, b & INDEX_MASK);
        assert_ne!(a, b);
        assert_eq!(T.get(a).err().unwrap().status, cring_status::BadHandle);
        assert_eq!(*T.get(b).unwrap().get(), 2);
        let other_kinds = (1..KINDS).map(|k| b ^ (k << KIND_SHIFT));
        for bad in [0, 1, u64::MAX, b + 1, b ^ (1 << 40)]
            .into_iter()
            .chain(other_kinds)
        {
            assert_eq!(T.get(bad).err().unwrap().status, cring_status::BadHandle);
        }
    }

    #[test]
    fn exclusive_and_shared() {
        static T: Table<u32> = Table::new("test", 1);
        let a = T.insert(1).unwrap();
        {
            let mut g = T.get_mut(a).unwrap();
            *g.get_mut() = 5;
            assert_eq!(T.get_mut(a).err().unwrap().status, cring_status::InUse);
            assert_eq!(T.get(a).err().unwrap().status, cring_status::InUse);
        }
        let g1 = T.get(a).unwrap();
        let g2 = T.get(a).unwrap();
        assert_eq!(*g1.get() + *g2.get(), 10);
        assert_eq!(T.get_mut(a).err().unwrap().status, cring_status::InUse);
    }

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    #[test]
    fn close_while_in_use_defers_the_drop() {
        static T: Table<Counted> = Table::new("test", 1);
        let drops = Arc::new(AtomicUsize::new(0));
        let a = T.insert(Counted(drops.clone())).unwrap();
        let g = T.get(a).unwrap();
        T.remove(a).unwrap();
        assert_eq!(T.get(a).err().unwrap().status, cring_status::BadHandle);
        assert_eq!(drops.load(Relaxed), 0);
        drop(g);
        assert_eq!(drops.load(Relaxed), 1);
    }

    #[test]
    fn panic_poisons() {
        static T: Table<u32> = Table::new("test", 1);
        let a = T.insert(1).unwrap();
        let r = std::panic::catch_unwind(|| {
            let _g = T.get_mut(a).unwrap();
            panic!("boom");
        });
        assert!(r.is_err());
        assert_eq!(T.get(a).err().unwrap().status, cring_status::Panic);
        T.remove(a).unwrap();
        assert_eq!(T.get(a).err().unwrap().status, cring_status::BadHandle);
    }

    #[test]
    fn generation_wrap_retires_the_slot() {
        static T: Table<u32> = Table::new("test", 1);
        let a = T.insert(1).unwrap();
        let slot = T.slot((a & INDEX_MASK) as usize).unwrap();
        // Pretend the slot has been reused 2^40 - 2 times.
        slot.state
            .store((GEN_LIMIT - 1) << GEN_SHIFT | OCCUPIED, Relaxed);
        let last = (GEN_LIMIT - 1) << GEN_SHIFT | (a & LOW_MASK);
        assert_eq!(*T.get(last).unwrap().get(), 1);
        T.remove(last).unwrap();
        assert_eq!(slot.state.load(Relaxed), 0);
        let b = T.insert(2).unwrap();
        assert_ne!(
            b & INDEX_MASK,
            a & INDEX_MASK,
            "a retired slot is never reused"
        );
    }

    #[test]
    fn concurrent_open_use_close() {
        static T: Table<Counted> = Table::new("test", 1);
        let drops = Arc::new(AtomicUsize::new(0));
        let ids: Vec<u64> = (0..200)
            .map(|_| T.insert(Counted(drops.clone())).unwrap())
            .collect();
        let ids = Arc::new(ids);
        std::thread::scope(|s| {
            for t in 0..4 {
                let ids = ids.clone();
                let drops = drops.clone();
                s.spawn(move || {
                    for round in 0..2000usize {
                        let id = ids[(round * 7 + t * 13) % ids.len()];
                        match round % 4 {
                            0 => {
                                let _ = T.remove(id);
                            }
                            1 => {
                                if let Ok(mut g) = T.get_mut(id) {
                                    let _ = g.get_mut();
                                }
                            }
                            2 => {
                                let n = T.insert(Counted(drops.clone())).unwrap();
                                let _g = T.get(n).unwrap();
                                T.remove(n).unwrap();
                            }
                            _ => {
                                if let Ok(g) = T.get(id) {
                                    let _ = g.get();
                                }
                            }
                        }
                    }
                });
            }
        });
        for &id in ids.iter() {
            let _ = T.remove(id);
        }
        // Every value ever inserted was dropped exactly once: 200 + 4 * 500.
        assert_eq!(drops.load(Relaxed), 200 + 4 * 500);
        assert!(T.slots_used() <= 200 + 4);
    }
}
