//! The floor: a minimal hand-written single-producer/single-consumer ring over raw memory.
//!
//! It is what the issue calls "the floor": the least a shared-memory SPSC ring can do per entry
//! (a Lamport ring with full-range `u32` indices on separate 128-byte lines, entries stored
//! bare, no validation, no counters, no claims). The cross-process ping-pong target is stated
//! against it. It lives in a heap buffer for the thread benchmarks and in a `/dev/shm` file for
//! the process benchmarks.
//!
//! Two flavours, chosen by the `CACHED` parameter of the handles:
//! - `CACHED = true` (the floor proper): each side keeps a private copy of the other side's
//!   index and re-reads the shared one only when the copy says full (producer) or empty
//!   (consumer), as rtrb does;
//! - `CACHED = false`: each operation loads the other side's index (as `ring-core`'s SPSC
//!   protocol did before it cached the other side's index). Comparing the two isolates the cost
//!   of that choice.

use std::alloc::Layout;
use std::mem::size_of;
use std::sync::atomic::{AtomicU32, Ordering::Acquire, Ordering::Release};

#[repr(C, align(128))]
struct Line(AtomicU32);

/// The two index lines that precede a floor ring's slots (256 bytes).
#[repr(C)]
pub struct FloorHeader {
    tail: Line,
    head: Line,
}

/// Bytes a floor ring of `cap` entries of `T` needs (a multiple of 128).
pub const fn floor_bytes<T>(cap: u32) -> usize {
    let n = size_of::<FloorHeader>() + cap as usize * size_of::<T>();
    n.div_ceil(128) * 128
}

/// A floor ring laid over memory: where its header and slots are.
pub struct Floor<T> {
    hdr: *const FloorHeader,
    slots: *mut T,
    mask: u32,
}

impl<T> Clone for Floor<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Floor<T> {}

// SAFETY: a Floor is an address; the ring protocol (one producer, one consumer, Release/Acquire
// on the indices) arbitrates every access to the slots.
unsafe impl<T: Send> Send for Floor<T> {}

impl<T: Copy> Floor<T> {
    /// Lays a floor ring of `cap` (a power of two) entries over `base`.
    ///
    /// # Safety
    ///
    /// `base` is 128-byte aligned, valid for reads and writes of [`floor_bytes`]`::<T>(cap)`
    /// bytes for as long as any handle made from the result is used, its first 256 bytes are
    /// zero (or a consistent state left by earlier handles), and at most one [`FloorTx`] and one
    /// [`FloorRx`] (in any processes) use it at a time.
    pub unsafe fn new(base: *mut u8, cap: u32) -> Self {
        assert!(
            cap.is_power_of_two() && cap >= 2,
            "capacity must be a power of two"
        );
        assert_eq!(
            base as usize % 128,
            0,
            "floor ring memory must be 128-byte aligned"
        );
        Floor {
            hdr: base as *const FloorHeader,
            // SAFETY: the caller provides floor_bytes(cap) bytes, of which the header is the start.
            slots: unsafe { base.add(size_of::<FloorHeader>()) } as *mut T,
            mask: cap - 1,
        }
    }

    fn hdr(&self) -> &FloorHeader {
        // SAFETY: `new`'s contract keeps the header mapped and valid; it is all atomics.
        unsafe { &*self.hdr }
    }

    /// The producer handle.
    pub fn tx<const CACHED: bool>(self) -> FloorTx<T, CACHED> {
        let tail = self.hdr().tail.0.load(Acquire);
        let head = self.hdr().head.0.load(Acquire);
        FloorTx {
            ring: self,
            tail,
            head,
        }
    }

    /// The consumer handle.
    pub fn rx<const CACHED: bool>(self) -> FloorRx<T, CACHED> {
        let tail = self.hdr().tail.0.load(Acquire);
        let head = self.hdr().head.0.load(Acquire);
        FloorRx {
            ring: self,
            tail,
            head,
        }
    }
}

/// Producer side of a floor ring.
pub struct FloorTx<T, const CACHED: bool> {
    ring: Floor<T>,
    tail: u32,
    /// The consumer's index as last read.
    head: u32,
}

impl<T: Copy, const CACHED: bool> FloorTx<T, CACHED> {
    #[inline(always)]
    fn free(&mut self, want: u32) -> u32 {
        let cap = self.ring.mask + 1;
        if !CACHED || cap - self.tail.wrapping_sub(self.head) < want {
            self.head = self.ring.hdr().head.0.load(Acquire);
        }
        cap - self.tail.wrapping_sub(self.head)
    }

    /// Pushes one entry, or hands it back when the ring is full.
    #[inline]
    pub fn push(&mut self, v: T) -> Result<(), T> {
        if self.free(1) == 0 {
            return Err(v);
        }
        // SAFETY: the slot of `tail` is free (the consumer's Acquire-loaded head is past its
        // previous lap) and only this producer writes it until `tail` is published.
        unsafe {
            self.ring
                .slots
                .add((self.tail & self.ring.mask) as usize)
                .write(v)
        };
        self.tail = self.tail.wrapping_add(1);
        self.ring.hdr().tail.0.store(self.tail, Release);
        Ok(())
    }

    /// Pushes exactly `n` entries made by `f(i)` with one publication, or nothing (returns
    /// false) when fewer than `n` slots are free.
    #[inline]
    pub fn push_batch(&mut self, n: usize, mut f: impl FnMut(usize) -> T) -> bool {
        let n32 = n as u32;
        if self.free(n32) < n32 {
            return false;
        }
        for i in 0..n {
            let pos = self.tail.wrapping_add(i as u32);
            // SAFETY: as in `push`, for each of the `n` free positions.
            unsafe {
                self.ring
                    .slots
                    .add((pos & self.ring.mask) as usize)
                    .write(f(i))
            };
        }
        self.tail = self.tail.wrapping_add(n32);
        self.ring.hdr().tail.0.store(self.tail, Release);
        true
    }
}

/// Consumer side of a floor ring.
pub struct FloorRx<T, const CACHED: bool> {
    ring: Floor<T>,
    /// The producer's index as last read.
    tail: u32,
    head: u32,
}

impl<T: Copy, const CACHED: bool> FloorRx<T, CACHED> {
    #[inline(always)]
    fn avail(&mut self) -> u32 {
        if !CACHED || self.tail == self.head {
            self.tail = self.ring.hdr().tail.0.load(Acquire);
        }
        self.tail.wrapping_sub(self.head)
    }

    /// Pops one entry.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.avail() == 0 {
            return None;
        }
        // SAFETY: the slot of `head` was published (tail loaded with Acquire) and is not freed
        // until `head` is stored below.
        let v = unsafe {
            self.ring
                .slots
                .add((self.head & self.ring.mask) as usize)
                .read()
        };
        self.head = self.head.wrapping_add(1);
        self.ring.hdr().head.0.store(self.head, Release);
        Some(v)
    }

    /// Passes up to `max` entries to `f` in place, frees them with one store, and returns how
    /// many.
    #[inline]
    pub fn pop_batch(&mut self, max: usize, mut f: impl FnMut(&T)) -> usize {
        let n = self.avail().min(max as u32);
        for i in 0..n {
            let pos = self.head.wrapping_add(i);
            // SAFETY: as in `pop`, for each of the `n` published positions.
            f(unsafe { &*self.ring.slots.add((pos & self.ring.mask) as usize) });
        }
        if n != 0 {
            self.head = self.head.wrapping_add(n);
            self.ring.hdr().head.0.store(self.head, Release);
        }
        n as usize
    }
}

/// A floor ring in a zeroed, 128-byte-aligned heap buffer (for the thread benchmarks).
pub struct HeapFloor<T> {
    ptr: *mut u8,
    layout: Layout,
    ring: Floor<T>,
}

// SAFETY: the buffer is owned and only reached through the ring protocol.
unsafe impl<T: Send> Send for HeapFloor<T> {}
// SAFETY: as above; `&HeapFloor` only hands out `Floor` copies, whose use `new` constrains.
unsafe impl<T: Send> Sync for HeapFloor<T> {}

impl<T: Copy> HeapFloor<T> {
    /// A new, empty floor ring of `cap` entries.
    pub fn new(cap: u32) -> Self {
        let layout = Layout::from_size_align(floor_bytes::<T>(cap), 128).expect("layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "out of memory");
        // SAFETY: freshly allocated, zeroed, aligned, of the size `new` needs; `split` hands
        // out exactly one producer and one consumer.
        let ring = unsafe { Floor::new(ptr, cap) };
        HeapFloor { ptr, layout, ring }
    }

    /// The ring's two handles. Call once.
    pub fn split<const CACHED: bool>(&self) -> (FloorTx<T, CACHED>, FloorRx<T, CACHED>) {
        (self.ring.tx(), self.ring.rx())
    }
}

impl<T> Drop for HeapFloor<T> {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; handles borrow nothing past `self`'s use.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise<const C: bool>() {
        let f = HeapFloor::<u64>::new(8);
        let (mut tx, mut rx) = f.split::<C>();
        assert_eq!(rx.pop(), None);
        for i in 0..8 {
            tx.push(i).unwrap();
        }
        assert_eq!(tx.push(99), Err(99));
        assert!(!tx.push_batch(1, |_| 0));
        assert_eq!(rx.pop(), Some(0));
        let mut got = vec![];
        assert_eq!(rx.pop_batch(3, |v| got.push(*v)), 3);
        assert_eq!(got, [1, 2, 3]);
        assert!(tx.push_batch(4, |i| 100 + i as u64));
        assert!(!tx.push_batch(1, |_| 0));
        got.clear();
        while rx.pop_batch(2, |v| got.push(*v)) > 0 {}
        assert_eq!(got, [4, 5, 6, 7, 100, 101, 102, 103]);
        // Across threads, through the wrap.
        std::thread::scope(|s| {
            s.spawn(move || {
                for i in 0..2_000u64 {
                    while tx.push(i).is_err() {
                        std::thread::yield_now();
                    }
                }
            });
            let mut next = 0;
            while next < 2_000 {
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
    fn floor_ring_fifo_both_flavours() {
        exercise::<true>();
        exercise::<false>();
    }
}
