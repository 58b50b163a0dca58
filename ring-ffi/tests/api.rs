//! The C ABI called from Rust: bad input gets a status, never a crash; handles are checked;
//! rings made through the ABI interoperate with `ring_core::Ring`.

use ring_ffi::*;
use std::ffi::{c_void, CStr};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const OK: cring_status = cring_status::Ok;
const SECOND: i64 = 1_000_000_000;

/// The handle table is process-global: a test that probes made-up ids (which may be live ids of
/// another test running in parallel) or relies on the table's contents runs alone.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn last_error() -> String {
    let mut buf = [0 as std::ffi::c_char; 512];
    // SAFETY: a local buffer of the length passed.
    unsafe { cring_last_error_message(buf.as_mut_ptr(), buf.len()) };
    // SAFETY: NUL-terminated by the call.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn entry(seq: u64) -> cring_completion {
    cring_completion {
        user_data: seq,
        result: (seq % 1_000_003) as i32 - 500_000,
        flags: 0xC0DE_0000 | (seq & 0xFFFF) as u32,
    }
}

const CSIZE: usize = std::mem::size_of::<cring_completion>();

/// A heap ring of completions with a producer and a consumer.
struct Fixture {
    ring: cring_ring,
    p: cring_producer,
    c: cring_consumer,
}

impl Fixture {
    fn new(capacity: u32, mode: u32) -> Fixture {
        let mut cfg = cring_config_init(capacity);
        cfg.mode = mode;
        let mut ring = cring_ring::default();
        let mut p = cring_producer::default();
        let mut c = cring_consumer::default();
        // SAFETY: valid pointers to locals.
        unsafe {
            assert_eq!(
                cring_ring_create_heap(&cfg, &mut ring),
                OK,
                "{}",
                last_error()
            );
            assert_eq!(cring_producer_open(ring, &mut p), OK);
            assert_eq!(cring_consumer_open(ring, &mut c), OK);
        }
        Fixture { ring, p, c }
    }

    fn close(self) {
        assert_eq!(cring_producer_close(self.p), OK);
        assert_eq!(cring_consumer_close(self.c), OK);
        assert_eq!(cring_ring_close(self.ring), OK);
    }
}

#[test]
fn status_codes_have_messages_and_header_names() {
    let _serial = serial();
    let header = include_str!("../include/cring.h");
    let mut messages = std::collections::HashSet::new();
    for code in 0..=cring_status::Panic as u32 {
        // SAFETY: the returned strings are static and NUL-terminated.
        let (name, msg) = unsafe {
            (
                CStr::from_ptr(cring_status_name(code)).to_str().unwrap(),
                CStr::from_ptr(cring_status_message(code)).to_str().unwrap(),
            )
        };
        assert!(
            header.contains(&format!("{name} = {code},")),
            "{name} = {code} is not in cring.h"
        );
        assert!(messages.insert(msg), "duplicate message {msg}");
    }
    // SAFETY: static strings.
    unsafe {
        assert_eq!(
            CStr::from_ptr(cring_status_message(10_000))
                .to_str()
                .unwrap(),
            "unknown status code"
        );
        assert_eq!(
            CStr::from_ptr(cring_status_name(u32::MAX))
                .to_str()
                .unwrap(),
            "CRING_STATUS_UNKNOWN"
        );
        assert_eq!(
            CStr::from_ptr(cring_version()).to_str().unwrap(),
            env!("CARGO_PKG_VERSION")
        );
    }
}

#[test]
fn null_pointers_are_refused() {
    let _serial = serial();
    let f = Fixture::new(8, CRING_MODE_SPSC);
    let e = entry(1);
    let mut out = cring_completion::default();
    let mut n = 0usize;
    let cfg = cring_config_init(8);
    let completion = cring_entry_completion();
    let np = cring_status::NullPointer;
    // SAFETY: every pointer is NULL or points to a live local of the right type; NULL is what
    // is being tested.
    unsafe {
        assert_eq!(cring_region_heap(64, null_mut()), np);
        assert_eq!(cring_region_memfd(null(), 64, null_mut()), np);
        let mut r = cring_region::default();
        assert_eq!(cring_region_memfd(null(), 64, &mut r), np);
        assert_eq!(cring_region_shm_create(null(), 64, 0o600, &mut r), np);
        assert_eq!(cring_region_shm_open(null(), &mut r), np);
        assert_eq!(
            cring_region_hugetlbfs_create(null(), 64, CRING_HUGE_PAGE_2M, &mut r),
            np
        );
        assert_eq!(cring_region_from_memory(null_mut(), 64, &mut r), np);
        assert_eq!(r, cring_region::default());
        let mut ring = cring_ring { id: 77 };
        assert_eq!(cring_ring_create_heap(null(), &mut ring), np);
        assert_eq!(ring.id, 0, "a failed open writes the invalid handle");
        assert_eq!(cring_ring_create_heap(&cfg, null_mut()), np);
        assert_eq!(cring_ring_create_shm(null(), &cfg, &mut ring), np);
        assert_eq!(
            cring_ring_open_shm(c"x".as_ptr(), null(), CRING_MODE_ANY, &mut ring),
            np
        );
        assert_eq!(cring_config_region_len(&cfg, null_mut()), np);
        assert_eq!(cring_ring_get_info(f.ring, null_mut(), 48), np);
        assert_eq!(cring_ring_get_counters(f.ring, null_mut(), 72), np);
        assert_eq!(cring_ring_len(f.ring, null_mut()), np);
        assert_eq!(cring_ring_eventfd(f.ring, null_mut()), np);
        assert_eq!(cring_ring_create_eventfd(f.ring, null_mut()), np);
        assert_eq!(cring_ring_region(f.ring, null_mut()), np);
        assert_eq!(cring_producer_open(f.ring, null_mut()), np);
        assert_eq!(cring_consumer_open(f.ring, null_mut()), np);
        assert_eq!(cring_producer_push(f.p, null(), CSIZE), np);
        assert_eq!(cring_producer_push_wait(f.p, null(), CSIZE, 0), np);
        assert_eq!(cring_producer_push_all(f.p, null(), 2, CSIZE), np);
        assert_eq!(cring_producer_push_some(f.p, null(), 2, CSIZE, &mut n), np);
        assert_eq!(
            cring_producer_push_some(
                f.p,
                (&e as *const cring_completion).cast(),
                1,
                CSIZE,
                null_mut()
            ),
            np
        );
        assert_eq!(cring_producer_reserve(f.p, 1, CSIZE, null_mut()), np);
        assert_eq!(cring_consumer_pop(f.c, null_mut(), CSIZE), np);
        assert_eq!(
            cring_consumer_pop_into(f.c, null_mut(), 2, CSIZE, &mut n),
            np
        );
        assert_eq!(
            cring_consumer_reap(f.c, null_mut(), 2, CSIZE, 0, 0, &mut n),
            np
        );
        assert_eq!(
            cring_consumer_reap(
                f.c,
                (&mut out as *mut cring_completion).cast(),
                1,
                CSIZE,
                0,
                0,
                null_mut()
            ),
            np
        );
        assert_eq!(cring_consumer_position(f.c, null_mut()), np);
        assert_eq!(cring_consumer_view(f.c, 1, CSIZE, null_mut(), &mut n), np);
        assert_eq!(cring_consumer_eventfd_prepare(f.c, null_mut()), np);
        let mut region = cring_region::default();
        assert_eq!(cring_ring_region(f.ring, &mut region), OK);
        assert_eq!(cring_region_base(region, null_mut()), np);
        assert_eq!(cring_region_len(region, null_mut()), np);
        assert_eq!(cring_region_fd(region, null_mut()), np);
        assert_eq!(
            cring_ring_attach(region, null(), CRING_MODE_ANY, &mut ring),
            np
        );
        assert_eq!(
            cring_ring_attach(region, &completion, CRING_MODE_ANY, null_mut()),
            np
        );
        assert_eq!(cring_ring_create(region, null(), &mut ring), np);
        assert_eq!(cring_region_close(region), OK);
        // NULL is fine where it is documented as optional.
        assert_eq!(cring_producer_push_all(f.p, null(), 0, CSIZE), OK);
        assert_eq!(cring_consumer_wait(f.c, 0, 0, null_mut()), OK);
        assert!(cring_last_error_message(null_mut(), 0) > 0);
    }
    assert!(last_error().contains("must not be NULL") || !last_error().is_empty());
    f.close();
}

#[test]
fn closed_and_made_up_handles_are_refused() {
    let _serial = serial();
    let f = Fixture::new(8, CRING_MODE_SPSC);
    let (ring, p, c) = (f.ring, f.p, f.c);
    let mut region = cring_region::default();
    // SAFETY: valid out pointer.
    assert_eq!(unsafe { cring_ring_region(ring, &mut region) }, OK);
    f.close();
    assert_eq!(cring_region_close(region), OK);

    let e = entry(1);
    let mut out = cring_completion::default();
    let mut n = 0usize;
    let mut u = 0u32;
    let mut ptr: *mut c_void = null_mut();
    let mut info = cring_ring_info::default();
    let mut ctr = cring_counters::default();
    let bad = cring_status::BadHandle;
    let made_up = [
        0u64,
        1,
        0xdead_beef,
        u64::MAX,
        1 << 24,
        (1 << 24) | (1 << 22),
    ];
    // SAFETY: valid pointers to locals; the handles are what is being tested.
    unsafe {
        for id in made_up
            .iter()
            .copied()
            .chain([ring.id, p.id, c.id, region.id])
        {
            let (ring, p, c, region) = (
                cring_ring { id },
                cring_producer { id },
                cring_consumer { id },
                cring_region { id },
            );
            let ep = (&e as *const cring_completion).cast();
            let op = (&mut out as *mut cring_completion).cast();
            assert_eq!(cring_ring_close(ring), bad);
            assert_eq!(
                cring_ring_get_info(ring, &mut info, size_of_val(&info)),
                bad
            );
            assert_eq!(
                cring_ring_get_counters(ring, &mut ctr, size_of_val(&ctr)),
                bad
            );
            assert_eq!(cring_ring_len(ring, &mut u), bad);
            assert_eq!(cring_ring_wake_all(ring), bad);
            assert_eq!(cring_ring_set_wakeups_suppressed(ring, 1), bad);
            assert_eq!(cring_ring_set_eventfd(ring, 0), bad);
            let mut pp = cring_producer { id: 5 };
            assert_eq!(cring_producer_open(ring, &mut pp), bad);
            assert_eq!(pp.id, 0);
            assert_eq!(cring_producer_close(p), bad);
            assert_eq!(cring_producer_push(p, ep, CSIZE), bad);
            assert_eq!(cring_producer_push_wait(p, ep, CSIZE, 0), bad);
            assert_eq!(cring_producer_push_all(p, ep, 1, CSIZE), bad);
            assert_eq!(cring_producer_push_some(p, ep, 1, CSIZE, &mut n), bad);
            assert_eq!(cring_producer_reserve(p, 1, CSIZE, &mut n), bad);
            assert_eq!(cring_producer_reserve_exact(p, 1, CSIZE), bad);
            assert_eq!(cring_producer_entry(p, 0, &mut ptr), bad);
            assert_eq!(cring_producer_commit(p, &mut n), bad);
            assert_eq!(cring_producer_abort(p), bad);
            assert_eq!(cring_consumer_close(c), bad);
            assert_eq!(cring_consumer_pop(c, op, CSIZE), bad);
            assert_eq!(cring_consumer_pop_into(c, op, 1, CSIZE, &mut n), bad);
            assert_eq!(cring_consumer_reap(c, op, 1, CSIZE, 1, SECOND, &mut n), bad);
            assert_eq!(cring_consumer_wait(c, 1, SECOND, &mut u), bad);
            assert_eq!(cring_consumer_wait_beyond(c, 0, 1, SECOND, &mut u), bad);
            assert_eq!(cring_consumer_position(c, &mut u), bad);
            assert_eq!(cring_consumer_set_spin(c, 1), bad);
            let mut views = [null::<c_void>(); 1];
            assert_eq!(
                cring_consumer_view(c, 1, CSIZE, views.as_mut_ptr(), &mut n),
                bad
            );
            assert_eq!(cring_consumer_release(c), bad);
            assert_eq!(cring_consumer_eventfd_finish(c), bad);
            assert_eq!(cring_region_close(region), bad);
            assert_eq!(cring_region_len(region, &mut n), bad);
            assert_eq!(cring_region_unlink(region), bad);
            assert_eq!(cring_region_keep_file(region), bad);
            let cfg = cring_config_init(8);
            let mut r = cring_ring { id: 5 };
            assert_eq!(cring_ring_create(region, &cfg, &mut r), bad);
            assert_eq!(r.id, 0);
        }
    }
    assert!(last_error().contains("is not open"), "{}", last_error());
}

#[test]
fn wrong_sizes_and_alignment_are_refused() {
    let _serial = serial();
    let f = Fixture::new(8, CRING_MODE_SPSC);
    #[repr(C, align(16))]
    struct Buf([u8; 64]);
    let mut buf = Buf([0; 64]);
    let mut n = 0;
    // SAFETY: pointers into a live 64-byte buffer; every call is told at most 48 bytes past an
    // offset of at most 4, or is refused before reading.
    unsafe {
        let base = buf.0.as_mut_ptr();
        let e = entry(3);
        std::ptr::copy_nonoverlapping(
            (&e as *const cring_completion).cast::<u8>(),
            base.add(4),
            CSIZE,
        );
        assert_eq!(
            cring_producer_push(f.p, base.add(4).cast(), CSIZE),
            cring_status::Misaligned
        );
        assert_eq!(
            cring_producer_push(f.p, base.cast(), 8),
            cring_status::EntryMismatch
        );
        assert_eq!(
            cring_producer_push(f.p, base.cast(), 0),
            cring_status::EntryMismatch
        );
        assert_eq!(
            cring_producer_push_all(f.p, base.add(4).cast(), 2, CSIZE),
            cring_status::Misaligned
        );
        assert_eq!(
            cring_producer_push_all(f.p, base.cast(), usize::MAX, CSIZE),
            cring_status::InvalidArgument
        );
        assert!(last_error().contains("overflow"), "{}", last_error());
        assert_eq!(
            cring_producer_push_all(f.p, base.cast(), 9, CSIZE),
            cring_status::TooLarge
        );
        assert_eq!(
            cring_consumer_pop_into(f.c, base.add(8).cast(), 3, CSIZE, &mut n),
            OK
        );
        assert_eq!(
            cring_consumer_pop_into(f.c, base.add(4).cast(), 3, CSIZE, &mut n),
            cring_status::Misaligned
        );
        assert_eq!(
            cring_consumer_pop(f.c, base.cast(), 32),
            cring_status::EntryMismatch
        );
        assert!(last_error().contains("entry_size 32"), "{}", last_error());
        let mut info = cring_ring_info::default();
        assert_eq!(
            cring_ring_get_info(f.ring, &mut info, 8),
            cring_status::InvalidArgument
        );
        assert_eq!(
            cring_ring_get_info(f.ring, base.add(4).cast(), size_of_val(&info)),
            cring_status::Misaligned
        );
        assert_eq!(
            cring_ring_get_info(f.ring, &mut info, size_of_val(&info)),
            OK
        );
        assert_eq!(
            (info.capacity, info.entry_size, info.entry_align),
            (8, 16, 8)
        );
        let mut cfg = cring_config_init(8);
        cfg.struct_size += 4;
        let mut len = 0u64;
        assert_eq!(
            cring_config_region_len(&cfg, &mut len),
            cring_status::InvalidArgument
        );
        assert!(last_error().contains("struct_size"), "{}", last_error());
    }
    // Nothing was pushed by any of that.
    let mut ctr = cring_counters::default();
    // SAFETY: valid out pointer of the size passed.
    let st = unsafe { cring_ring_get_counters(f.ring, &mut ctr, size_of_val(&ctr)) };
    assert_eq!(st, OK);
    assert_eq!((ctr.tail, ctr.head), (0, 0));
    f.close();
}

/// A region whose bytes are garbage, or a ring whose header a peer scribbled over, gets a
/// status: never a panic, a crash, or an access outside the region.
#[test]
fn scribbled_headers_are_refused() {
    let _serial = serial();
    let mut cfg = cring_config_init(16);
    cfg.overflow_capacity = 16;
    let mut len = 0u64;
    let mut region = cring_region::default();
    let mut ring = cring_ring::default();
    let mut base: *mut c_void = null_mut();
    let completion = cring_entry_completion();
    // SAFETY: valid pointers to locals.
    unsafe {
        assert_eq!(cring_config_region_len(&cfg, &mut len), OK);
        assert_eq!(cring_region_heap(len as usize, &mut region), OK);
        assert_eq!(
            cring_ring_attach(region, &completion, CRING_MODE_ANY, &mut ring),
            cring_status::NotARing
        );
        assert_eq!(cring_ring_create(region, &cfg, &mut ring), OK);
        assert_eq!(cring_ring_close(ring), OK);
        assert_eq!(cring_region_base(region, &mut base), OK);
    }
    let bytes = base.cast::<u8>();
    let header_len = 256 + 128 + 128;
    // SAFETY: `base` points to `len` bytes owned by the region, used by nobody else now.
    let pristine: Vec<u8> = unsafe { std::slice::from_raw_parts(bytes, header_len) }.to_vec();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut refused = std::collections::HashMap::new();
    for round in 0..3000 {
        // SAFETY: restoring and then changing bytes inside the region.
        unsafe {
            std::ptr::copy_nonoverlapping(pristine.as_ptr(), bytes, header_len);
            for _ in 0..1 + round % 4 {
                let at = (next() % header_len as u64) as usize;
                *bytes.add(at) = next() as u8;
            }
        }
        let mut ring = cring_ring::default();
        // SAFETY: valid pointers.
        let s = unsafe { cring_ring_attach(region, &completion, CRING_MODE_ANY, &mut ring) };
        assert_ne!(s, cring_status::Panic, "{}", last_error());
        *refused.entry(s).or_insert(0) += 1;
        if s == OK {
            // Whatever the indices say, operations return statuses.
            let mut p = cring_producer::default();
            let mut c = cring_consumer::default();
            let mut out = [cring_completion::default(); 4];
            let mut n = 0;
            // SAFETY: valid pointers to locals.
            unsafe {
                if cring_producer_open(ring, &mut p) == OK {
                    let e = entry(1);
                    let s = cring_producer_push(p, (&e as *const cring_completion).cast(), CSIZE);
                    assert_ne!(s, cring_status::Panic);
                    cring_producer_close(p);
                }
                if cring_consumer_open(ring, &mut c) == OK {
                    let s = cring_consumer_reap(c, out.as_mut_ptr().cast(), 4, CSIZE, 0, 0, &mut n);
                    assert_ne!(s, cring_status::Panic);
                    assert!(n <= 4);
                    cring_consumer_close(c);
                }
            }
            assert_eq!(cring_ring_close(ring), OK);
        }
    }
    assert!(refused.len() >= 4, "too few kinds of refusal: {refused:?}");
    assert_eq!(cring_region_close(region), OK);
}

#[test]
fn rings_of_another_entry_type_are_refused() {
    let _serial = serial();
    let mut cfg = cring_config_init(8);
    cfg.entry = cring_entry_opaque(24, 8);
    let mut ring = cring_ring::default();
    let mut region = cring_region::default();
    let mut other = cring_ring::default();
    // SAFETY: valid pointers to locals.
    unsafe {
        assert_eq!(cring_ring_create_heap(&cfg, &mut ring), OK);
        assert_eq!(cring_ring_region(ring, &mut region), OK);
        for (e, want) in [
            (cring_entry_completion(), cring_status::EntryMismatch),
            (cring_entry_opaque(16, 8), cring_status::EntryMismatch),
            (cring_entry_opaque(24, 4), cring_status::EntryMismatch),
            (cring_entry_opaque(24, 8), OK),
            (cring_entry_opaque(24, 3), cring_status::UnsupportedEntry),
            (cring_entry_opaque(0, 8), cring_status::UnsupportedEntry),
        ] {
            let s = cring_ring_attach(region, &e, CRING_MODE_ANY, &mut other);
            assert_eq!(s, want, "{e:?}: {}", last_error());
            if s == OK {
                assert_eq!(cring_ring_close(other), OK);
            }
        }
        assert_eq!(cring_ring_close(ring), OK);
        assert_eq!(cring_region_close(region), OK);
    }
}

/// A producer or consumer serves one call at a time; closing it while another thread is inside
/// a call is safe.
#[test]
fn one_call_at_a_time_per_handle() {
    let _serial = serial();
    let f = Fixture::new(8, CRING_MODE_SPSC);
    let c = f.c;
    let started = AtomicBool::new(false);
    std::thread::scope(|s| {
        let t = s.spawn(|| {
            let mut out = [cring_completion::default(); 4];
            let mut n = 0;
            started.store(true, Ordering::SeqCst);
            loop {
                // SAFETY: valid pointers to locals.
                let st = unsafe {
                    cring_consumer_reap(c, out.as_mut_ptr().cast(), 4, CSIZE, 1, SECOND / 2, &mut n)
                };
                // The main thread's pops may hold the handle for a moment: try again.
                if st != cring_status::InUse {
                    return (st, n);
                }
                std::thread::yield_now();
            }
        });
        while !started.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        // Until the reap is inside the call, a pop may still get in; wait for IN_USE.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut out = cring_completion::default();
        loop {
            // SAFETY: valid pointer to a local.
            let st =
                unsafe { cring_consumer_pop(c, (&mut out as *mut cring_completion).cast(), CSIZE) };
            if st == cring_status::InUse {
                break;
            }
            assert_eq!(st, cring_status::Empty);
            assert!(Instant::now() < deadline, "never saw IN_USE");
        }
        // Closing while the reap sleeps: the handle is dead at once, the reap ends normally.
        assert_eq!(cring_consumer_close(c), OK);
        assert_eq!(cring_consumer_set_spin(c, 0), cring_status::BadHandle);
        let (st, n) = t.join().unwrap();
        assert_eq!((st, n), (cring_status::TimedOut, 0));
    });
    // The consumer side is free again.
    let mut c2 = cring_consumer::default();
    // SAFETY: valid out pointer.
    assert_eq!(unsafe { cring_consumer_open(f.ring, &mut c2) }, OK);
    assert_eq!(cring_consumer_close(c2), OK);
    assert_eq!(cring_producer_close(f.p), OK);
    assert_eq!(cring_ring_close(f.ring), OK);
}

/// Several producer and consumer threads, each with its own handles, through the ABI: every
/// entry arrives exactly once.
#[test]
fn mpmc_threads_through_the_abi() {
    let _serial = serial();
    let mut cfg = cring_config_init(32);
    cfg.mode = CRING_MODE_MPMC;
    cfg.overflow_capacity = 64;
    let mut ring = cring_ring::default();
    // SAFETY: valid pointers.
    assert_eq!(unsafe { cring_ring_create_heap(&cfg, &mut ring) }, OK);
    const PER: u64 = 20_000;
    const PRODUCERS: u64 = 2;
    let seen: Vec<AtomicU64> = (0..PRODUCERS * PER).map(|_| AtomicU64::new(0)).collect();
    let taken = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..PRODUCERS {
            s.spawn(move || {
                let mut p = cring_producer::default();
                // SAFETY: valid pointers to locals throughout.
                unsafe {
                    assert_eq!(cring_producer_open(ring, &mut p), OK);
                    for i in 0..PER {
                        let e = entry(t * PER + i);
                        let st = cring_producer_push_wait(
                            p,
                            (&e as *const cring_completion).cast(),
                            CSIZE,
                            10 * SECOND,
                        );
                        assert_eq!(st, OK, "{}", last_error());
                    }
                }
                assert_eq!(cring_producer_close(p), OK);
            });
        }
        for _ in 0..2 {
            s.spawn(|| {
                let mut c = cring_consumer::default();
                // SAFETY: valid pointers to locals throughout.
                unsafe {
                    assert_eq!(cring_consumer_open(ring, &mut c), OK);
                    let mut out = [cring_completion::default(); 16];
                    let deadline = Instant::now() + Duration::from_secs(60);
                    while taken.load(Ordering::SeqCst) < PRODUCERS * PER {
                        let mut n = 0;
                        let st = cring_consumer_reap(
                            c,
                            out.as_mut_ptr().cast(),
                            16,
                            CSIZE,
                            1,
                            SECOND / 20,
                            &mut n,
                        );
                        assert!(
                            st == OK || st == cring_status::TimedOut,
                            "{st:?}: {}",
                            last_error()
                        );
                        for e in &out[..n] {
                            assert_eq!(*e, entry(e.user_data));
                            assert_eq!(
                                seen[e.user_data as usize].fetch_add(1, Ordering::SeqCst),
                                0,
                                "duplicate {}",
                                e.user_data
                            );
                        }
                        taken.fetch_add(n as u64, Ordering::SeqCst);
                        assert!(
                            Instant::now() < deadline,
                            "stuck at {}",
                            taken.load(Ordering::SeqCst)
                        );
                    }
                    assert_eq!(cring_consumer_close(c), OK);
                }
            });
        }
    });
    assert!(seen.iter().all(|s| s.load(Ordering::SeqCst) == 1));
    assert_eq!(cring_ring_close(ring), OK);
}

/// Rings made through the ABI are `ring_core` rings: a Rust `Ring<T>` of a `#[repr(C)]` type of
/// the same size and alignment attaches to an opaque ring, and the other way round.
#[test]
fn opaque_rings_interoperate_with_ring_core() {
    let _serial = serial();
    #[derive(Copy, Clone, Debug, PartialEq, Default)]
    #[repr(C)]
    struct Sample {
        id: u64,
        channel: u32,
        value: u32,
        when: f64,
    }
    // SAFETY: u64 + 2 * u32 + f64, no padding; every bit pattern is valid.
    unsafe impl ring_core::Entry for Sample {}

    // ABI creates, Rust attaches through a memfd.
    let mut cfg = cring_config_init(8);
    cfg.entry = cring_entry_opaque(24, 8);
    let mut len = 0u64;
    let mut region = cring_region::default();
    let mut ring = cring_ring::default();
    let mut p = cring_producer::default();
    let mut fd = -1;
    let s = Sample {
        id: 7,
        channel: 3,
        value: 99,
        when: 1.5,
    };
    // SAFETY: valid pointers to locals.
    unsafe {
        assert_eq!(cring_config_region_len(&cfg, &mut len), OK);
        assert_eq!(
            cring_region_memfd(c"ffi-interop".as_ptr(), len as usize, &mut region),
            OK
        );
        assert_eq!(cring_ring_create(region, &cfg, &mut ring), OK);
        assert_eq!(cring_producer_open(ring, &mut p), OK);
        assert_eq!(cring_producer_push(p, (&s as *const Sample).cast(), 24), OK);
        assert_eq!(cring_region_fd(region, &mut fd), OK);
    }
    let dup = {
        // SAFETY: `fd` is open (owned by the region) for the duration of this borrow.
        let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        b.try_clone_to_owned().unwrap()
    };
    let rust = ring_core::Ring::<Sample>::attach(ring_core::Region::from_fd(dup).unwrap()).unwrap();
    assert_eq!(rust.consumer().unwrap().pop(), Ok(s));
    assert!(
        ring_core::Ring::<[u64; 3]>::attach(
            ring_core::Region::from_fd(
                // SAFETY: as above.
                unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
                    .try_clone_to_owned()
                    .unwrap()
            )
            .unwrap()
        )
        .is_ok(),
        "same size and alignment: same header"
    );
    assert_eq!(cring_producer_close(p), OK);
    assert_eq!(cring_ring_close(ring), OK);
    assert_eq!(cring_region_close(region), OK);

    // Rust creates a ring of [u32; 3] (12 bytes, align 4) in /dev/shm, the ABI attaches.
    let name = format!("ring-ffi-api-{}", std::process::id());
    let rust = ring_core::Ring::<[u32; 3]>::create_shm(&name, ring_core::Config::new(4)).unwrap();
    rust.producer().unwrap().push([1, 2, 3]).unwrap();
    let cname = std::ffi::CString::new(name).unwrap();
    let mut c = cring_consumer::default();
    let mut out = [0u32; 3];
    // SAFETY: valid pointers to locals.
    unsafe {
        let e = cring_entry_opaque(12, 4);
        assert_eq!(
            cring_ring_open_shm(cname.as_ptr(), &e, CRING_MODE_SPSC, &mut ring),
            OK
        );
        let wrong = cring_entry_opaque(12, 8);
        let mut other = cring_ring::default();
        assert_eq!(
            cring_ring_open_shm(cname.as_ptr(), &wrong, CRING_MODE_ANY, &mut other),
            cring_status::UnsupportedEntry
        );
        assert_eq!(cring_consumer_open(ring, &mut c), OK);
        assert_eq!(cring_consumer_pop(c, out.as_mut_ptr().cast(), 12), OK);
        assert_eq!(cring_consumer_close(c), OK);
        assert_eq!(cring_ring_close(ring), OK);
    }
    assert_eq!(out, [1, 2, 3]);
}

/// Huge pages: a region or a typed "unavailable", never a silent substitute (unless asked).
#[test]
fn huge_page_regions() {
    let _serial = serial();
    let mut r = cring_region::default();
    let mut len = 0usize;
    // SAFETY: valid pointers to locals.
    unsafe {
        match cring_region_huge(4096, CRING_HUGE_PAGE_2M, 0, &mut r) {
            cring_status::Ok => {
                assert_eq!(cring_region_len(r, &mut len), OK);
                assert_eq!(len, 2 << 20, "rounded up to the page size");
                let cfg = cring_config_init(1024);
                let mut ring = cring_ring::default();
                assert_eq!(cring_ring_create(r, &cfg, &mut ring), OK);
                assert_eq!(cring_ring_close(ring), OK);
                assert_eq!(cring_region_close(r), OK);
            }
            cring_status::HugepagesUnavailable => {
                assert_eq!(r.id, 0);
                assert!(last_error().contains("huge pages"), "{}", last_error());
            }
            s => panic!("{s:?}: {}", last_error()),
        }
        assert_eq!(
            cring_region_huge(4096, CRING_HUGE_PAGE_2M, CRING_HUGE_FALLBACK, &mut r),
            OK
        );
        assert_eq!(cring_region_close(r), OK);
        let st = cring_region_hugetlbfs_create(
            c"/nonexistent-ring-ffi-dir/ring".as_ptr(),
            4096,
            CRING_HUGE_PAGE_2M,
            &mut r,
        );
        assert_eq!(st, cring_status::Io, "{}", last_error());
        assert_eq!(cring_last_os_error(), libc::ENOENT);
    }
}

/// Memory the caller may have written (its base address was handed out) is formatted in full
/// when a ring is created in it, overflow area included.
#[test]
fn exposed_memory_is_formatted_in_full() {
    let _serial = serial();
    let mut cfg = cring_config_init(4);
    cfg.overflow_capacity = 8;
    let mut len = 0u64;
    let mut region = cring_region::default();
    let mut base: *mut c_void = null_mut();
    let mut ring = cring_ring::default();
    let mut p = cring_producer::default();
    let mut c = cring_consumer::default();
    let mut out = [cring_completion::default(); 12];
    let mut n = 0;
    // SAFETY: valid pointers to locals; the region's `len` bytes are ours to write before any
    // ring uses them.
    unsafe {
        assert_eq!(cring_config_region_len(&cfg, &mut len), OK);
        assert_eq!(cring_region_heap(len as usize, &mut region), OK);
        assert_eq!(cring_region_base(region, &mut base), OK);
        std::ptr::write_bytes(base.cast::<u8>(), 0xAB, len as usize);
        assert_eq!(cring_ring_create(region, &cfg, &mut ring), OK);
        assert_eq!(cring_producer_open(ring, &mut p), OK);
        assert_eq!(cring_consumer_open(ring, &mut c), OK);
        for i in 0..12 {
            let e = entry(i);
            let st = cring_producer_push(p, (&e as *const cring_completion).cast(), CSIZE);
            assert_eq!(st, OK, "{i}: {}", last_error());
        }
        let st = cring_consumer_reap(c, out.as_mut_ptr().cast(), 12, CSIZE, 12, SECOND, &mut n);
        assert_eq!(st, OK, "{}", last_error());
        assert_eq!(n, 12);
        for (i, e) in out.iter().enumerate() {
            assert_eq!(*e, entry(i as u64));
        }
        assert_eq!(cring_producer_close(p), OK);
        assert_eq!(cring_consumer_close(c), OK);
        assert_eq!(cring_ring_close(ring), OK);
        assert_eq!(cring_region_close(region), OK);
    }
}

/// The largest timeouts (`INT64_MAX` nanoseconds, about 292 years) are accepted by every call
/// that waits, and return at once when what they wait for is there.
#[test]
fn largest_timeouts_are_accepted() {
    let f = Fixture::new(8, CRING_MODE_SPSC);
    let mut out = [cring_completion::default(); 8];
    let mut n = 0usize;
    let mut avail = 0u32;
    for t in [i64::MAX, i64::MAX - 1, i64::MAX / 2] {
        // SAFETY: valid handles and pointers to locals of the sizes passed.
        unsafe {
            let e = entry(7);
            let ep = (&e as *const cring_completion).cast();
            assert_eq!(cring_producer_push_wait(f.p, ep, CSIZE, t), OK, "{t}");
            assert_eq!(cring_producer_push_wait(f.p, ep, CSIZE, t), OK, "{t}");
            assert_eq!(cring_consumer_wait(f.c, 2, t, &mut avail), OK, "{t}");
            assert!(avail >= 2, "{t}: {avail}");
            let mut pos = 0u32;
            assert_eq!(cring_consumer_position(f.c, &mut pos), OK);
            assert_eq!(
                cring_consumer_wait_beyond(f.c, pos, 2, t, &mut avail),
                OK,
                "{t}"
            );
            assert_eq!(
                cring_consumer_reap(f.c, out.as_mut_ptr().cast(), 8, CSIZE, 2, t, &mut n),
                OK,
                "{t}"
            );
            assert_eq!(n, 2, "{t}");
        }
    }
    f.close();
}

/// End of stream and recovery through the ABI: `cring_ring_stream` follows the producers
/// joining, leaving and closing; `cring_ring_recover` runs (nothing to recover here) and reports
/// its counts; a closed stream refuses producers with `CRING_STATUS_CLOSED`.
#[test]
fn stream_state_and_recovery_through_the_abi() {
    let f = Fixture::new(8, CRING_MODE_MPSC);
    let (mut closed, mut producers) = (9u32, 9u32);
    let (mut positions, mut records) = (9u32, 9u32);
    // SAFETY: valid pointers to locals throughout.
    unsafe {
        assert_eq!(cring_ring_stream(f.ring, &mut closed, &mut producers), OK);
        assert_eq!((closed, producers), (0, 1));
        assert_eq!(
            cring_ring_recover(f.ring, &mut positions, &mut records),
            OK,
            "{}",
            last_error()
        );
        assert_eq!((positions, records), (0, 0), "every producer is alive");
        assert_eq!(cring_ring_recover(f.ring, null_mut(), null_mut()), OK);
        let e = entry(1);
        let st = cring_producer_push(f.p, (&e as *const cring_completion).cast(), CSIZE);
        assert_eq!(st, OK);
        assert_eq!(cring_producer_close_stream(f.p), OK);
        assert_eq!(cring_ring_stream(f.ring, &mut closed, null_mut()), OK);
        assert_eq!(closed, 1, "the only producer closed the stream");
        let mut p2 = cring_producer::default();
        assert_eq!(cring_producer_open(f.ring, &mut p2), cring_status::Closed);
        let mut out = entry(0);
        let outp = (&mut out as *mut cring_completion).cast();
        assert_eq!(cring_consumer_pop(f.c, outp, CSIZE), OK);
        assert_eq!(out.user_data, 1);
        assert_eq!(cring_consumer_pop(f.c, outp, CSIZE), cring_status::Closed);
        assert_eq!(cring_consumer_close(f.c), OK);
        assert_eq!(cring_ring_close(f.ring), OK);
    }
}
