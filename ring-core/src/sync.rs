//! The synchronisation facade.
//!
//! Protocol code names its atomics and its payload cell through this module only. A normal build
//! maps them to `core`'s atomics and a transparent `UnsafeCell`, so the shared structures can be
//! cast out of mapped bytes with a pinned layout. A model build (`RUSTFLAGS="--cfg ring_core_loom"`) maps
//! them to loom's, so the very same protocol code runs under the model checker on structures the
//! test allocates on the heap.

#[cfg(not(ring_core_loom))]
pub use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(ring_core_loom)]
pub use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// A cell holding an entry payload.
///
/// Under the model this is loom's `UnsafeCell`, which lets loom see a data race on a payload;
/// otherwise a transparent wrapper over `core::cell::UnsafeCell` with the same closure API.
#[cfg(not(ring_core_loom))]
#[repr(transparent)]
#[derive(Debug)]
pub struct PayloadCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(ring_core_loom))]
impl<T> PayloadCell<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a mutable pointer to the contents.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// A cell holding an entry payload (model build: loom's `UnsafeCell`).
#[cfg(ring_core_loom)]
#[derive(Debug)]
pub struct PayloadCell<T>(loom::cell::UnsafeCell<T>);

#[cfg(ring_core_loom)]
impl<T> PayloadCell<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(loom::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.0.with(f)
    }

    /// Runs `f` with a mutable pointer to the contents.
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.0.with_mut(f)
    }
}

/// Payload copies with word-sized Relaxed atomic accesses (normal builds).
///
/// Payload bytes live in memory a peer may write at any moment: a forged tag or index can make
/// an honest consumer read a slot an honest producer is writing. With plain accesses that is a
/// data race, undefined behaviour; with atomic accesses on both sides it is only wrong bytes.
/// So every copy into or out of a slot goes word by word: 8-byte words when the entry's
/// alignment is at least 8, else 4-byte words (every payload is 4-byte aligned: slots start on
/// 128 bytes, payloads at offset 8, strides are multiples of 4), and single bytes for a tail.
/// On x86-64 and AArch64 a Relaxed load or store is a plain `mov`/`ldr`/`str`.
///
/// The model build (`ring_core_loom`) keeps plain accesses through loom's cell instead, so that
/// loom reports a protocol that lets two participants touch one payload at once.
#[cfg(not(ring_core_loom))]
pub(crate) mod words {
    use core::mem::{align_of, size_of, MaybeUninit};
    use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};

    /// Reads a `T` from `src`.
    ///
    /// # Safety
    ///
    /// `src` is valid for reads of `size_of::<T>()` bytes, aligned to `align_of::<T>()` and to
    /// 4 bytes, and every access to those bytes by this process is atomic; every bit pattern is
    /// a valid `T` and `T` has no padding bytes (the `Entry` contract).
    #[inline(always)]
    pub(crate) unsafe fn load<T>(src: *const T) -> T {
        let mut out = MaybeUninit::<T>::uninit();
        let (s, d) = (src.cast::<u8>(), out.as_mut_ptr().cast::<u8>());
        let n = size_of::<T>();
        let mut i = 0;
        // Every access below stays inside the payload and inside `out` (`i + width <= n`);
        // `src + i` is aligned to the width: 8-byte words only when `T` is 8-aligned (so is
        // its size), 4-byte words on a 4-aligned payload; `out` is written unaligned.
        if align_of::<T>() >= 8 {
            while i + 8 <= n {
                // SAFETY: in bounds and 8-aligned (above); atomic, as every access here.
                let w = unsafe { (*s.add(i).cast::<AtomicU64>()).load(Relaxed) };
                // SAFETY: in bounds of `out` (above).
                unsafe { d.add(i).cast::<u64>().write_unaligned(w) };
                i += 8;
            }
        }
        while i + 4 <= n {
            // SAFETY: in bounds and 4-aligned (above); atomic, as every access here.
            let w = unsafe { (*s.add(i).cast::<AtomicU32>()).load(Relaxed) };
            // SAFETY: in bounds of `out` (above).
            unsafe { d.add(i).cast::<u32>().write_unaligned(w) };
            i += 4;
        }
        while i < n {
            // SAFETY: in bounds (above); bytes need no alignment.
            let w = unsafe { (*s.add(i).cast::<AtomicU8>()).load(Relaxed) };
            // SAFETY: in bounds of `out` (above).
            unsafe { d.add(i).write(w) };
            i += 1;
        }
        // SAFETY: all `n` bytes were written; any bytes are a valid `T` (caller's contract).
        unsafe { out.assume_init() }
    }

    /// Writes `value` to `dst`.
    ///
    /// # Safety
    ///
    /// As for [`load`], for writes; `T` has no padding bytes, so every byte of `value` is
    /// initialised.
    #[inline(always)]
    pub(crate) unsafe fn store<T>(dst: *mut T, value: T) {
        let v = MaybeUninit::new(value);
        let (s, d) = (v.as_ptr().cast::<u8>(), dst.cast::<u8>());
        let n = size_of::<T>();
        let mut i = 0;
        // As in `load`, with the roles of the two sides swapped; every byte of `value` is
        // initialised (no padding: the caller's contract).
        if align_of::<T>() >= 8 {
            while i + 8 <= n {
                // SAFETY: in bounds of `value`, initialised (above).
                let w = unsafe { s.add(i).cast::<u64>().read_unaligned() };
                // SAFETY: in bounds and 8-aligned (above); atomic, as every access here.
                unsafe { (*d.add(i).cast::<AtomicU64>()).store(w, Relaxed) };
                i += 8;
            }
        }
        while i + 4 <= n {
            // SAFETY: in bounds of `value`, initialised (above).
            let w = unsafe { s.add(i).cast::<u32>().read_unaligned() };
            // SAFETY: in bounds and 4-aligned (above); atomic, as every access here.
            unsafe { (*d.add(i).cast::<AtomicU32>()).store(w, Relaxed) };
            i += 4;
        }
        while i < n {
            // SAFETY: in bounds of `value`, initialised (above).
            let w = unsafe { s.add(i).read() };
            // SAFETY: in bounds (above); bytes need no alignment.
            unsafe { (*d.add(i).cast::<AtomicU8>()).store(w, Relaxed) };
            i += 1;
        }
    }
}

/// Copies of byte ranges in shared memory with atomic accesses (the record ring's payloads):
/// single bytes up to an 8-byte boundary of the shared side, then 8-byte words, then single
/// bytes; the private side is accessed plainly. As with [`words`], a peer writing the range
/// meanwhile gives wrong bytes, never a data race.
#[cfg(not(ring_core_loom))]
pub(crate) mod bytes {
    use core::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

    /// Copies `dst.len()` bytes from shared memory at `src` into `dst`.
    ///
    /// # Safety
    ///
    /// `src` is valid for reads of `dst.len()` bytes, and every access to those bytes by this
    /// process is atomic.
    #[inline(always)]
    pub(crate) unsafe fn copy_out(src: *const u8, dst: &mut [u8]) {
        // SAFETY: the caller's contract; `dst` is valid for writes of its length.
        unsafe { copy_out_raw(src, dst.as_mut_ptr(), dst.len()) }
    }

    /// Copies `n` bytes from shared memory at `src` to private memory at `d` (which may be
    /// uninitialised).
    ///
    /// # Safety
    ///
    /// As for [`copy_out`]; `d` is valid for writes of `n` bytes and does not overlap `src`.
    #[inline(always)]
    pub(crate) unsafe fn copy_out_raw(src: *const u8, d: *mut u8, n: usize) {
        // Bytes up to the shared side's 8-byte boundary (none for record payloads).
        let lead = src.align_offset(8).min(n);
        let mut i = 0;
        while i < lead {
            // SAFETY: `i < n`: in bounds of both sides; bytes need no alignment; atomic.
            unsafe {
                d.add(i)
                    .write((*src.add(i).cast::<AtomicU8>()).load(Relaxed))
            };
            i += 1;
        }
        // Four words per step while they last (the loop's own work paid once per four).
        while i + 32 <= n {
            for k in [0, 8, 16, 24] {
                // SAFETY: `i + k + 8 <= i + 32 <= n`: in bounds of both sides; `src + i + k`
                // is 8-aligned (`lead`); atomic on the shared side, unaligned on the private one.
                unsafe {
                    let w = (*src.add(i + k).cast::<AtomicU64>()).load(Relaxed);
                    d.add(i + k).cast::<u64>().write_unaligned(w);
                }
            }
            i += 32;
        }
        while i + 8 <= n {
            // SAFETY: `i + 8 <= n`: in bounds of both sides; `src + i` is 8-aligned (`lead`);
            // atomic on the shared side, unaligned on the private one.
            unsafe {
                let w = (*src.add(i).cast::<AtomicU64>()).load(Relaxed);
                d.add(i).cast::<u64>().write_unaligned(w);
            }
            i += 8;
        }
        while i < n {
            // SAFETY: `i < n`, as above.
            unsafe {
                d.add(i)
                    .write((*src.add(i).cast::<AtomicU8>()).load(Relaxed))
            };
            i += 1;
        }
    }

    /// [`copy_out_raw`] from an 8-byte aligned `src`: words, then single bytes.
    ///
    /// # Safety
    ///
    /// As for [`copy_out_raw`], and `src` is 8-byte aligned.
    #[inline(always)]
    pub(crate) unsafe fn copy_out_aligned(src: *const u8, d: *mut u8, n: usize) {
        debug_assert_eq!(src.align_offset(8), 0);
        let mut i = 0;
        // Four words per step while they last.
        while i + 32 <= n {
            for k in [0, 8, 16, 24] {
                // SAFETY: `i + k + 8 <= n`: in bounds of both sides; 8-aligned (the caller's
                // contract); atomic on the shared side, unaligned on the private one.
                unsafe {
                    let w = (*src.add(i + k).cast::<AtomicU64>()).load(Relaxed);
                    d.add(i + k).cast::<u64>().write_unaligned(w);
                }
            }
            i += 32;
        }
        while i + 8 <= n {
            // SAFETY: `i + 8 <= n`: in bounds of both sides; `src + i` is 8-aligned (the
            // caller's contract); atomic on the shared side, unaligned on the private one.
            unsafe {
                let w = (*src.add(i).cast::<AtomicU64>()).load(Relaxed);
                d.add(i).cast::<u64>().write_unaligned(w);
            }
            i += 8;
        }
        while i < n {
            // SAFETY: `i < n`, as above; bytes need no alignment.
            unsafe {
                d.add(i)
                    .write((*src.add(i).cast::<AtomicU8>()).load(Relaxed))
            };
            i += 1;
        }
    }

    /// Copies `src` into shared memory at an 8-byte aligned `dst`: words, then single bytes
    /// (no leading bytes to reach a boundary, so a constant length of a multiple of 8 becomes
    /// that many word stores). [`copy_in`] without its leading bytes.
    ///
    /// # Safety
    ///
    /// As for [`copy_in`], and `dst` is 8-byte aligned.
    #[inline(always)]
    pub(crate) unsafe fn copy_in_aligned(dst: *mut u8, src: &[u8]) {
        debug_assert_eq!(dst.align_offset(8), 0);
        let (n, s) = (src.len(), src.as_ptr());
        let mut i = 0;
        // Four words per step while they last (the loop's own work paid once per four).
        while i + 32 <= n {
            for k in [0, 8, 16, 24] {
                // SAFETY: `i + k + 8 <= i + 32 <= n`: in bounds of both sides; `dst + i + k`
                // is 8-aligned (the caller's contract); atomic on the shared side, unaligned
                // on the private one.
                unsafe {
                    let w = s.add(i + k).cast::<u64>().read_unaligned();
                    (*dst.add(i + k).cast::<AtomicU64>()).store(w, Relaxed);
                }
            }
            i += 32;
        }
        while i + 8 <= n {
            // SAFETY: `i + 8 <= n`: in bounds of both sides; `dst + i` is 8-aligned (the
            // caller's contract); atomic on the shared side, unaligned on the private one.
            unsafe {
                let w = s.add(i).cast::<u64>().read_unaligned();
                (*dst.add(i).cast::<AtomicU64>()).store(w, Relaxed);
            }
            i += 8;
        }
        while i < n {
            // SAFETY: `i < n`, as above; bytes need no alignment.
            unsafe { (*dst.add(i).cast::<AtomicU8>()).store(s.add(i).read(), Relaxed) };
            i += 1;
        }
    }

    /// Copies `src` into shared memory at `dst`.
    ///
    /// # Safety
    ///
    /// `dst` is valid for writes of `src.len()` bytes, and every access to those bytes by this
    /// process is atomic.
    #[inline(always)]
    pub(crate) unsafe fn copy_in(dst: *mut u8, src: &[u8]) {
        let (n, s) = (src.len(), src.as_ptr());
        let lead = dst.align_offset(8).min(n);
        let mut i = 0;
        while i < lead {
            // SAFETY: `i < n`: in bounds of both sides; bytes need no alignment; atomic.
            unsafe { (*dst.add(i).cast::<AtomicU8>()).store(s.add(i).read(), Relaxed) };
            i += 1;
        }
        // Four words per step while they last (the loop's own work paid once per four).
        while i + 32 <= n {
            for k in [0, 8, 16, 24] {
                // SAFETY: `i + k + 8 <= i + 32 <= n`: in bounds of both sides; `dst + i + k`
                // is 8-aligned (`lead`); atomic on the shared side, unaligned on the private one.
                unsafe {
                    let w = s.add(i + k).cast::<u64>().read_unaligned();
                    (*dst.add(i + k).cast::<AtomicU64>()).store(w, Relaxed);
                }
            }
            i += 32;
        }
        while i + 8 <= n {
            // SAFETY: `i + 8 <= n`: in bounds of both sides; `dst + i` is 8-aligned (`lead`);
            // atomic on the shared side, unaligned on the private one.
            unsafe {
                let w = s.add(i).cast::<u64>().read_unaligned();
                (*dst.add(i).cast::<AtomicU64>()).store(w, Relaxed);
            }
            i += 8;
        }
        while i < n {
            // SAFETY: `i < n`, as above.
            unsafe { (*dst.add(i).cast::<AtomicU8>()).store(s.add(i).read(), Relaxed) };
            i += 1;
        }
    }
}

/// One step of a bounded wait: a CPU relax hint, or a model-visible yield under loom (a spinning
/// thread that never yields would make loom explore forever).
#[inline(always)]
pub fn spin_hint() {
    #[cfg(ring_core_loom)]
    loom::thread::yield_now();
    #[cfg(not(ring_core_loom))]
    core::hint::spin_loop();
}

#[cfg(all(test, not(ring_core_loom)))]
mod tests {
    /// The atomic byte-range copies copy exactly the bytes asked for, at every alignment of the
    /// shared side and every length around the word size, and touch nothing else.
    #[test]
    fn byte_copies_at_every_alignment() {
        const WORDS: usize = 16;
        let src: Vec<u8> = (0..(WORDS * 8) as u8)
            .map(|b| b.wrapping_mul(37).wrapping_add(1))
            .collect();
        // Lengths up to past three 32-byte steps, at every offset from a word boundary.
        for off in 0..9 {
            for len in 0..=(WORDS * 8 - 9) {
                // Out of shared memory (an 8-aligned buffer of words).
                let shared: Vec<u64> = (0..WORDS)
                    .map(|i| u64::from_ne_bytes(src[i * 8..i * 8 + 8].try_into().unwrap()))
                    .collect();
                let mut out = vec![0xAAu8; len + 2];
                // SAFETY: `off + len <= 8 * WORDS` bytes of `shared`, only accessed here.
                unsafe {
                    super::bytes::copy_out(
                        shared.as_ptr().cast::<u8>().add(off),
                        &mut out[1..1 + len],
                    )
                };
                assert_eq!(&out[1..1 + len], &src[off..off + len], "out {off}+{len}");
                assert_eq!((out[0], out[len + 1]), (0xAA, 0xAA), "out {off}+{len}");
                if off % 8 == 0 {
                    let mut out = vec![0xAAu8; len + 2];
                    // SAFETY: as above; the source is 8-aligned.
                    unsafe {
                        super::bytes::copy_out_aligned(
                            shared.as_ptr().cast::<u8>().add(off),
                            out.as_mut_ptr().add(1),
                            len,
                        )
                    };
                    assert_eq!(
                        &out[1..1 + len],
                        &src[off..off + len],
                        "aligned {off}+{len}"
                    );
                    assert_eq!((out[0], out[len + 1]), (0xAA, 0xAA), "aligned {off}+{len}");
                }
                // Into shared memory.
                let mut shared = vec![0u64; WORDS];
                // SAFETY: as above.
                unsafe {
                    super::bytes::copy_in(shared.as_mut_ptr().cast::<u8>().add(off), &src[..len])
                };
                let bytes: Vec<u8> = shared.iter().flat_map(|w| w.to_ne_bytes()).collect();
                assert_eq!(&bytes[off..off + len], &src[..len], "in {off}+{len}");
                assert!(bytes[..off].iter().all(|&b| b == 0), "in {off}+{len}");
                assert!(bytes[off + len..].iter().all(|&b| b == 0), "in {off}+{len}");
            }
        }
    }
}
