//! Variants of the floor ring ([`crate::floor`]) with one knob per design choice in which it
//! differs from rtrb, to find by experiment what separates their two-thread SPSC throughput
//! (the `spsc_probe` binary runs them side by side with rtrb).
//!
//! Knobs (const parameters of [`VTx`]/[`VRx`], and [`Place`] for the memory layout):
//! - `I`: the index type ([`u32`] or [`usize`]);
//! - `R2`: indices kept in `0..2*cap` and wrapped by comparison (rtrb) instead of free-running
//!   indices masked into the slots;
//! - `VOL`: the payload copied with `write_volatile`/`read_volatile` instead of `write`/`read`;
//! - `REFILL`: the producer re-reads `head` when its cached view shows fewer than `REFILL` free
//!   slots (1: only when full, as rtrb and the floor ring do);
//! - [`Place`]: the header (two index lines) and the slots in one allocation or two, the order
//!   of the two index lines, and the slots' offset from the header.
//!
//! Every variant is a correct SPSC ring (Release store of the own index after the slot access,
//! Acquire load of the peer's index before it); the test below runs each through the wrap.

use std::alloc::Layout;
use std::mem::size_of;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Acquire, Ordering::Release};

/// An index type of a variant ring.
pub trait Idx: Copy + Eq + Send + 'static {
    /// Its atomic.
    type Atom: Sync;
    /// Reads `a` with Acquire.
    fn load(a: &Self::Atom) -> Self;
    /// Writes `v` to `a` with Release.
    fn store(a: &Self::Atom, v: Self);
    /// The value as a `usize`.
    fn to(self) -> usize;
    /// A `usize` truncated to this type.
    fn from(u: usize) -> Self;
    /// `b - a` modulo this type's range.
    fn dist(a: Self, b: Self) -> usize;
}

impl Idx for u32 {
    type Atom = AtomicU32;
    #[inline(always)]
    fn load(a: &AtomicU32) -> u32 {
        a.load(Acquire)
    }
    #[inline(always)]
    fn store(a: &AtomicU32, v: u32) {
        a.store(v, Release)
    }
    #[inline(always)]
    fn to(self) -> usize {
        self as usize
    }
    #[inline(always)]
    fn from(u: usize) -> u32 {
        u as u32
    }
    #[inline(always)]
    fn dist(a: u32, b: u32) -> usize {
        b.wrapping_sub(a) as usize
    }
}

impl Idx for usize {
    type Atom = AtomicUsize;
    #[inline(always)]
    fn load(a: &AtomicUsize) -> usize {
        a.load(Acquire)
    }
    #[inline(always)]
    fn store(a: &AtomicUsize, v: usize) {
        a.store(v, Release)
    }
    #[inline(always)]
    fn to(self) -> usize {
        self
    }
    #[inline(always)]
    fn from(u: usize) -> usize {
        u
    }
    #[inline(always)]
    fn dist(a: usize, b: usize) -> usize {
        b.wrapping_sub(a)
    }
}

/// Where the index lines and the slots of a variant ring are.
#[derive(Copy, Clone, Debug)]
pub struct Place {
    /// The slots in an allocation of their own (16-byte aligned, like a `Vec`) instead of
    /// after the header.
    pub separate: bool,
    /// `head`'s line before `tail`'s (rtrb's order) instead of after it.
    pub head_first: bool,
    /// Bytes between the two index words (128: a line pair each; 64: adjacent lines).
    pub line: usize,
    /// Bytes from the header's start to the first slot (when not separate).
    pub slot_off: usize,
}

impl Place {
    /// The floor ring's layout: tail at 0, head at 128, slots at 256, one allocation.
    pub const FLOOR: Place = Place {
        separate: false,
        head_first: false,
        line: 128,
        slot_off: 256,
    };
}

/// A variant ring in heap memory.
pub struct VRing<T, I: Idx> {
    hdr: *mut u8,
    hdr_layout: Layout,
    data: *mut u8,
    data_layout: Option<Layout>,
    tail: *const I::Atom,
    head: *const I::Atom,
    cap: usize,
    _t: std::marker::PhantomData<T>,
}

// SAFETY: the ring owns its memory; the handles' protocol arbitrates access to the slots.
unsafe impl<T: Send, I: Idx> Send for VRing<T, I> {}
// SAFETY: as above; shared references only hand out handles (one of each by contract).
unsafe impl<T: Send, I: Idx> Sync for VRing<T, I> {}

impl<T: Copy, I: Idx> VRing<T, I> {
    /// A new, empty ring of `cap` (a power of two) entries laid out as `place` says.
    pub fn new(cap: usize, place: Place) -> Self {
        assert!(cap.is_power_of_two() && cap >= 2);
        assert!(place.line >= std::mem::size_of::<I::Atom>() && place.line % 8 == 0);
        let slots_bytes = cap * std::mem::size_of::<T>();
        let hdr_bytes = if place.separate {
            2 * place.line.max(128)
        } else {
            assert!(place.slot_off >= 2 * place.line);
            assert!(place.slot_off % std::mem::align_of::<T>() == 0);
            place.slot_off + slots_bytes
        };
        let hdr_layout = Layout::from_size_align(hdr_bytes, 128).expect("layout");
        // SAFETY: non-zero size.
        let hdr = unsafe { std::alloc::alloc_zeroed(hdr_layout) };
        assert!(!hdr.is_null());
        let (data, data_layout) = if place.separate {
            let l = Layout::from_size_align(slots_bytes, 16).expect("layout");
            // SAFETY: non-zero size.
            let d = unsafe { std::alloc::alloc(l) };
            assert!(!d.is_null());
            (d, Some(l))
        } else {
            // SAFETY: slot_off + slots_bytes is inside the header allocation.
            (unsafe { hdr.add(place.slot_off) }, None)
        };
        let (t_off, h_off) = if place.head_first {
            (place.line, 0)
        } else {
            (0, place.line)
        };
        // SAFETY: both offsets are inside the zeroed header allocation, aligned (line % 8 == 0,
        // base 128-aligned); a zeroed word is a valid atomic holding 0.
        let (tail, head) = unsafe {
            (
                hdr.add(t_off) as *const I::Atom,
                hdr.add(h_off) as *const I::Atom,
            )
        };
        VRing {
            hdr,
            hdr_layout,
            data,
            data_layout,
            tail,
            head,
            cap,
            _t: std::marker::PhantomData,
        }
    }

    /// The two handles. Call once.
    pub fn split<const R2: bool, const VOL: bool, const REFILL: usize>(
        &self,
    ) -> (VTx<T, I, R2, VOL, REFILL>, VRx<T, I, R2, VOL>) {
        let h = Handle {
            tail: self.tail,
            head: self.head,
            slots: self.data as *mut T,
            cap: self.cap,
        };
        (
            VTx {
                h,
                tail: I::from(0),
                head: I::from(0),
            },
            VRx {
                h,
                tail: I::from(0),
                head: I::from(0),
            },
        )
    }
}

impl<T, I: Idx> Drop for VRing<T, I> {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with these layouts.
        unsafe {
            std::alloc::dealloc(self.hdr, self.hdr_layout);
            if let Some(l) = self.data_layout {
                std::alloc::dealloc(self.data, l);
            }
        }
    }
}

struct Handle<T, I: Idx> {
    tail: *const I::Atom,
    head: *const I::Atom,
    slots: *mut T,
    cap: usize,
}

impl<T, I: Idx> Clone for Handle<T, I> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, I: Idx> Copy for Handle<T, I> {}

impl<T, I: Idx> Handle<T, I> {
    #[inline(always)]
    fn tail(&self) -> &I::Atom {
        // SAFETY: points into the ring's header, alive while the handles are used.
        unsafe { &*self.tail }
    }
    #[inline(always)]
    fn head(&self) -> &I::Atom {
        // SAFETY: as in `tail`.
        unsafe { &*self.head }
    }
    #[inline(always)]
    fn dist<const R2: bool>(&self, a: I, b: I) -> usize {
        if R2 {
            let (a, b) = (a.to(), b.to());
            if a <= b {
                b - a
            } else {
                2 * self.cap - a + b
            }
        } else {
            I::dist(a, b)
        }
    }
    #[inline(always)]
    fn next<const R2: bool>(&self, p: I) -> I {
        if R2 {
            let p = p.to();
            I::from(if p < 2 * self.cap - 1 { p + 1 } else { 0 })
        } else {
            I::from(p.to().wrapping_add(1))
        }
    }
    #[inline(always)]
    fn slot<const R2: bool>(&self, p: I) -> *mut T {
        let p = p.to();
        let i = if R2 {
            if p < self.cap {
                p
            } else {
                p - self.cap
            }
        } else {
            p & (self.cap - 1)
        };
        // SAFETY: i < cap; the slots hold cap entries.
        unsafe { self.slots.add(i) }
    }
}

/// Producer of a variant ring.
pub struct VTx<T, I: Idx, const R2: bool, const VOL: bool, const REFILL: usize> {
    h: Handle<T, I>,
    tail: I,
    head: I,
}

// SAFETY: one producer; the protocol arbitrates the slots.
unsafe impl<T: Send, I: Idx, const R2: bool, const VOL: bool, const REFILL: usize> Send
    for VTx<T, I, R2, VOL, REFILL>
{
}

impl<T: Copy, I: Idx, const R2: bool, const VOL: bool, const REFILL: usize>
    VTx<T, I, R2, VOL, REFILL>
{
    /// Pushes one entry, or hands it back when full.
    #[inline]
    pub fn push(&mut self, v: T) -> Result<(), T> {
        let cap = self.h.cap;
        if cap - self.h.dist::<R2>(self.head, self.tail) < REFILL {
            self.head = I::load(self.h.head());
            if self.h.dist::<R2>(self.head, self.tail) == cap {
                return Err(v);
            }
        }
        let p = self.h.slot::<R2>(self.tail);
        // SAFETY: the slot is free (head, Acquire-loaded, is less than a lap behind) and only
        // this producer writes it until tail is published below.
        unsafe {
            if VOL {
                p.write_volatile(v)
            } else {
                p.write(v)
            }
        };
        self.tail = self.h.next::<R2>(self.tail);
        I::store(self.h.tail(), self.tail);
        Ok(())
    }

    /// Pushes `v` into the part of a slot at byte offset `OFF` (the rest of the slot is not
    /// written), as a ring whose slots hold a header word beside the payload does.
    #[inline]
    pub fn push_part<U: Copy, const OFF: usize>(&mut self, v: U) -> Result<(), U> {
        const { assert!(OFF + size_of::<U>() <= size_of::<T>()) };
        let cap = self.h.cap;
        if cap - self.h.dist::<R2>(self.head, self.tail) < REFILL {
            self.head = I::load(self.h.head());
            if self.h.dist::<R2>(self.head, self.tail) == cap {
                return Err(v);
            }
        }
        // SAFETY: as in `push`; `OFF + size_of::<U>()` is inside the slot (checked above), and
        // the callers' `OFF` keeps `U` aligned.
        unsafe {
            (self.h.slot::<R2>(self.tail) as *mut u8)
                .add(OFF)
                .cast::<U>()
                .write(v)
        };
        self.tail = self.h.next::<R2>(self.tail);
        I::store(self.h.tail(), self.tail);
        Ok(())
    }
}

/// Consumer of a variant ring.
pub struct VRx<T, I: Idx, const R2: bool, const VOL: bool> {
    h: Handle<T, I>,
    tail: I,
    head: I,
}

// SAFETY: one consumer; the protocol arbitrates the slots.
unsafe impl<T: Send, I: Idx, const R2: bool, const VOL: bool> Send for VRx<T, I, R2, VOL> {}

impl<T: Copy, I: Idx, const R2: bool, const VOL: bool> VRx<T, I, R2, VOL> {
    /// Pops one entry.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.head == self.tail {
            self.tail = I::load(self.h.tail());
            if self.head == self.tail {
                return None;
            }
        }
        let p = self.h.slot::<R2>(self.head);
        // SAFETY: published (tail Acquire-loaded past it) and not freed until head is stored.
        let v = unsafe {
            if VOL {
                p.read_volatile()
            } else {
                p.read()
            }
        };
        self.head = self.h.next::<R2>(self.head);
        I::store(self.h.head(), self.head);
        Some(v)
    }

    /// Pops the part of a slot at byte offset `OFF` (see [`VTx::push_part`]).
    #[inline]
    pub fn pop_part<U: Copy, const OFF: usize>(&mut self) -> Option<U> {
        const { assert!(OFF + size_of::<U>() <= size_of::<T>()) };
        if self.head == self.tail {
            self.tail = I::load(self.h.tail());
            if self.head == self.tail {
                return None;
            }
        }
        // SAFETY: as in `pop`, for the part written by `push_part`.
        let v = unsafe {
            (self.h.slot::<R2>(self.head) as *const u8)
                .add(OFF)
                .cast::<U>()
                .read()
        };
        self.head = self.h.next::<R2>(self.head);
        I::store(self.h.head(), self.head);
        Some(v)
    }
}

impl<I: Idx, const R2: bool, const VOL: bool, const REFILL: usize> crate::peers::Tx
    for VTx<crate::peers::Item, I, R2, VOL, REFILL>
{
    #[inline(always)]
    fn push(&mut self, v: crate::peers::Item) -> Result<(), crate::peers::Item> {
        VTx::push(self, v)
    }
}

impl<I: Idx, const R2: bool, const VOL: bool> crate::peers::Rx
    for VRx<crate::peers::Item, I, R2, VOL>
{
    #[inline(always)]
    fn pop(&mut self) -> Option<crate::peers::Item> {
        VRx::pop(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<I: Idx, const R2: bool, const VOL: bool, const REFILL: usize>(place: Place) {
        let r = VRing::<u64, I>::new(8, place);
        let (mut tx, mut rx) = r.split::<R2, VOL, REFILL>();
        for i in 0..8 {
            tx.push(i).unwrap();
        }
        assert_eq!(tx.push(9), Err(9));
        for i in 0..8 {
            assert_eq!(rx.pop(), Some(i));
        }
        assert_eq!(rx.pop(), None);
        std::thread::scope(|s| {
            s.spawn(move || {
                for i in 0..5_000u64 {
                    while tx.push(i).is_err() {
                        std::thread::yield_now();
                    }
                }
            });
            let mut next = 0;
            while next < 5_000 {
                match rx.pop() {
                    Some(v) => {
                        assert_eq!(v, next);
                        next += 1;
                    }
                    None => std::thread::yield_now(),
                }
            }
        });
    }

    #[test]
    fn partial_slots_are_fifo() {
        let r = VRing::<[u64; 3], u32>::new(4, Place::FLOOR);
        let (mut tx, mut rx) = r.split::<false, false, 1>();
        for round in 0..3u64 {
            for i in 0..4 {
                tx.push_part::<u64, 8>(round * 10 + i).unwrap();
            }
            assert_eq!(tx.push_part::<u64, 8>(99), Err(99));
            for i in 0..4 {
                assert_eq!(rx.pop_part::<u64, 8>(), Some(round * 10 + i));
            }
            assert_eq!(rx.pop_part::<u64, 8>(), None);
        }
    }

    #[test]
    fn every_variant_is_fifo() {
        let sep = Place {
            separate: true,
            head_first: true,
            ..Place::FLOOR
        };
        let tight = Place {
            line: 64,
            slot_off: 128,
            ..Place::FLOOR
        };
        for p in [Place::FLOOR, sep, tight] {
            run::<u32, false, false, 1>(p);
            run::<usize, false, false, 1>(p);
            run::<u32, true, false, 1>(p);
            run::<usize, true, true, 1>(p);
            run::<u32, false, false, 4>(p);
        }
    }
}
