//! The record-ring C ABI called from Rust: records and completion records with attributes go
//! through the ABI and interoperate with `ring_core::record::RecordRing`; misuse gets a status.

use ring_core::record::attrs::{attr_id, attr_status, parse_completion, AttrStatus, AttrWriter};
use ring_core::record::{RecordConfig, RecordRing};
use ring_core::{Completion, Mode, Region};
use ring_ffi::*;
use std::ffi::{c_void, CStr, CString};
use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

const OK: cring_status = cring_status::Ok;
const SECOND: i64 = 1_000_000_000;
/// Bound on every loop that waits for another thread.
const DEADLINE: Duration = Duration::from_secs(60);

fn last_error() -> String {
    let mut buf = [0 as std::ffi::c_char; 512];
    // SAFETY: a local buffer of the length passed.
    unsafe { cring_last_error_message(buf.as_mut_ptr(), buf.len()) };
    // SAFETY: NUL-terminated by the call.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// A heap record ring with a producer and the consumer.
struct Fixture {
    ring: cring_records,
    p: cring_record_producer,
    c: cring_record_consumer,
}

impl Fixture {
    fn new(cfg: cring_records_config) -> Fixture {
        let mut ring = cring_records::default();
        let mut p = cring_record_producer::default();
        let mut c = cring_record_consumer::default();
        // SAFETY: valid pointers to locals.
        unsafe {
            assert_eq!(
                cring_records_create_heap(&cfg, &mut ring),
                OK,
                "{}",
                last_error()
            );
            assert_eq!(cring_record_producer_open(ring, &mut p), OK);
            assert_eq!(cring_record_consumer_open(ring, &mut c), OK);
        }
        Fixture { ring, p, c }
    }

    fn push(&self, bytes: &[u8]) -> cring_status {
        // SAFETY: a readable slice.
        unsafe { cring_record_push(self.p, bytes.as_ptr().cast(), bytes.len()) }
    }

    /// Reads the next record in place, copies it, and releases it.
    fn take(&self) -> Result<(Vec<u8>, u32), cring_status> {
        let (mut data, mut len, mut ty) = (null(), 0usize, 0u32);
        // SAFETY: valid out pointers.
        let s = unsafe { cring_record_read(self.c, &mut data, &mut len, &mut ty) };
        if s != OK {
            assert!(data.is_null() && len == 0);
            return Err(s);
        }
        assert_eq!(data as usize % 8, 0, "payloads are 8-byte aligned");
        // SAFETY: the open record's payload.
        let v = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec();
        assert_eq!(cring_record_release(self.c), OK);
        Ok((v, ty))
    }

    fn close(self) {
        assert_eq!(cring_record_producer_close(self.p), OK);
        assert_eq!(cring_record_consumer_close(self.c), OK);
        assert_eq!(cring_records_close(self.ring), OK);
    }
}

fn completion(seq: u64) -> cring_completion {
    cring_completion {
        user_data: seq,
        result: (seq % 1000) as i32 - 500,
        flags: 0xA770_0000 | (seq & 0xFFFF) as u32,
    }
}

/// Writes a completion record with attributes through the ABI: duration, an unknown user id
/// with a value, a failed worker CPU, and (every other record) a cache hit.
fn write_completion(p: cring_record_producer, seq: u64) -> cring_status {
    let c = completion(seq);
    let room = cring_attr_size(8) + cring_attr_size(3) + cring_attr_size(4) + cring_attr_size(1);
    // SAFETY: valid pointers to locals.
    unsafe {
        let s = cring_completion_record_begin(p, &c, room);
        if s != OK {
            return s;
        }
        let d = (seq * 10).to_le_bytes();
        assert_eq!(
            cring_attr_push(
                p,
                CRING_ATTR_DURATION_NS,
                CRING_ATTR_STATUS_HANDLED,
                d.as_ptr().cast(),
                8
            ),
            OK
        );
        assert_eq!(
            cring_attr_push(
                p,
                0x9001,
                CRING_ATTR_STATUS_HANDLED,
                b"xyz".as_ptr().cast(),
                3
            ),
            OK
        );
        let e = 95u32.to_le_bytes();
        assert_eq!(
            cring_attr_push(
                p,
                CRING_ATTR_WORKER_CPU,
                CRING_ATTR_STATUS_FAILED,
                e.as_ptr().cast(),
                4
            ),
            OK
        );
        if seq % 2 == 0 {
            assert_eq!(
                cring_attr_push(
                    p,
                    CRING_ATTR_CACHE_HIT,
                    CRING_ATTR_STATUS_HANDLED,
                    [1u8].as_ptr().cast(),
                    1
                ),
                OK
            );
        }
        let mut len = 0usize;
        assert_eq!(cring_completion_record_finish(p, &mut len), OK);
        assert_eq!(len, 16 + 16 + 8 + 8 + if seq % 2 == 0 { 8 } else { 0 });
        OK
    }
}

/// Checks a completion record written by [`write_completion`] (or its Rust twin) through the
/// ABI's iterator.
fn check_completion_abi(payload: &[u8], seq: u64) {
    let mut c = cring_completion::default();
    // SAFETY: zeroed plain data is a valid iterator value to overwrite.
    let mut it: cring_attr_iter = unsafe { std::mem::zeroed() };
    // SAFETY: a readable payload and valid out pointers.
    let s =
        unsafe { cring_attr_iter_init(payload.as_ptr().cast(), payload.len(), &mut c, &mut it) };
    assert_eq!(s, OK, "{}", last_error());
    assert_eq!(c, completion(seq));
    let mut seen = Vec::new();
    loop {
        // SAFETY: zeroed plain data.
        let mut a: cring_attr = unsafe { std::mem::zeroed() };
        // SAFETY: an iterator over a live payload; a valid out pointer.
        match unsafe { cring_attr_next(&mut it, &mut a) } {
            cring_status::Ok => {}
            cring_status::Empty => break,
            s => panic!("attr_next: {s:?}: {}", last_error()),
        }
        let mut v = 0u64;
        // A caller skips ids it does not know.
        if a.id >= CRING_ATTR_USER_FIRST {
            // SAFETY: the attribute's value lies in the payload.
            let value = unsafe { std::slice::from_raw_parts(a.value.cast::<u8>(), a.len as usize) };
            assert_eq!((a.id, value), (0x9001, &b"xyz"[..]));
            continue;
        }
        // SAFETY: an attribute just read; a valid out pointer.
        assert_eq!(unsafe { cring_attr_value_u64(&a, &mut v) }, OK);
        seen.push((a.id, a.status, v));
    }
    let mut want = vec![
        (CRING_ATTR_DURATION_NS, CRING_ATTR_STATUS_HANDLED, seq * 10),
        (CRING_ATTR_WORKER_CPU, CRING_ATTR_STATUS_FAILED, 95),
    ];
    if seq % 2 == 0 {
        want.push((CRING_ATTR_CACHE_HIT, CRING_ATTR_STATUS_HANDLED, 1));
    }
    assert_eq!(seen, want, "record {seq}");
    // SAFETY: as above; the end stays the end.
    let mut a: cring_attr = unsafe { std::mem::zeroed() };
    assert_eq!(
        // SAFETY: valid pointers to locals and live payloads, as the test sets them up.
        unsafe { cring_attr_next(&mut it, &mut a) },
        cring_status::Empty
    );
}

/// The same record written by Rust's `AttrWriter`.
fn write_completion_rust(tx: &mut ring_core::record::RecordProducer, seq: u64) -> bool {
    let len = 16 + 16 + 8 + 8 + 8;
    let Ok(mut rec) = tx.reserve(len) else {
        return false;
    };
    let c = completion(seq);
    let mut w = AttrWriter::new(&mut rec, Completion::new(c.user_data, c.result, c.flags)).unwrap();
    w.push_u64(attr_id::DURATION_NS, seq * 10).unwrap();
    w.push(0x9001, attr_status::HANDLED, b"xyz").unwrap();
    w.push(
        attr_id::WORKER_CPU,
        attr_status::FAILED,
        &95u32.to_le_bytes(),
    )
    .unwrap();
    if seq % 2 == 0 {
        w.push_u8(attr_id::CACHE_HIT, 1).unwrap();
    }
    w.finish();
    rec.commit();
    true
}

#[test]
fn reserve_commit_read_release() {
    let f = Fixture::new(cring_records_config_init(256));
    let mut data = null_mut();
    // SAFETY: valid out pointers; the reservation's bytes are written within its length.
    unsafe {
        assert_eq!(cring_record_reserve(f.p, 5, &mut data), OK);
        assert_eq!(data as usize % 8, 0);
        std::ptr::copy_nonoverlapping(b"hello".as_ptr(), data.cast::<u8>(), 5);
        // Nothing is visible before the commit.
        assert_eq!(f.take(), Err(cring_status::Empty));
        assert_eq!(cring_record_commit(f.p), OK);
        assert_eq!(cring_record_commit(f.p), cring_status::WrongState);
        // A shrunk reservation.
        assert_eq!(cring_record_reserve_typed(f.p, 40, 40, &mut data), OK);
        std::ptr::copy_nonoverlapping(b"abc".as_ptr(), data.cast::<u8>(), 3);
        assert_eq!(
            cring_record_truncate(f.p, 41),
            cring_status::InvalidArgument
        );
        assert_eq!(cring_record_truncate(f.p, 3), OK);
        assert_eq!(cring_record_commit(f.p), OK);
        // A discarded one is skipped.
        assert_eq!(cring_record_reserve(f.p, 8, &mut data), OK);
        assert_eq!(cring_record_discard(f.p), OK);
        assert_eq!(cring_record_discard(f.p), cring_status::WrongState);
        assert_eq!(f.push(b""), OK);
        assert_eq!(f.push(b"world!"), OK);
    }
    assert_eq!(f.take(), Ok((b"hello".to_vec(), CRING_RECORD_TYPE_DATA)));
    assert_eq!(f.take(), Ok((b"abc".to_vec(), 40)));
    assert_eq!(f.take(), Ok((Vec::new(), CRING_RECORD_TYPE_DATA)));
    // pop_into: too small a buffer leaves the record next and says how long it is.
    let mut buf = [0u8; 16];
    let (mut len, mut ty) = (0usize, 0u32);
    // SAFETY: a local buffer of `cap` bytes; valid out pointers.
    unsafe {
        let s = cring_record_pop_into(f.c, buf.as_mut_ptr().cast(), 3, &mut len, &mut ty);
        assert_eq!((s, len), (cring_status::TooLarge, 6));
        assert_eq!(
            cring_record_pop_into(f.c, buf.as_mut_ptr().cast(), buf.len(), &mut len, &mut ty),
            OK
        );
        assert_eq!((&buf[..len], ty), (&b"world!"[..], CRING_RECORD_TYPE_DATA));
        assert_eq!(
            cring_record_pop_into(
                f.c,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut len,
                null_mut()
            ),
            cring_status::Empty
        );
    }
    let mut counters = cring_records_counters::default();
    let mut info = cring_records_info::default();
    // SAFETY: valid out pointers.
    unsafe {
        assert_eq!(
            cring_records_get_counters(
                f.ring,
                &mut counters,
                std::mem::size_of::<cring_records_counters>()
            ),
            OK
        );
        assert_eq!(
            cring_records_get_info(f.ring, &mut info, std::mem::size_of::<cring_records_info>()),
            OK
        );
    }
    assert_eq!(counters.discarded, 1);
    assert_eq!(counters.head, counters.tail);
    assert_eq!(
        (info.capacity, info.mode, info.wait),
        (256, CRING_MODE_SPSC, 1)
    );
    assert!(
        info.max_record_len > 100 && info.max_record_len < 128,
        "{info:?}"
    );
    f.close();
}

#[test]
fn wrong_states_and_bad_arguments() {
    let f = Fixture::new(cring_records_config_init(128));
    let mut data = null_mut();
    let mut rdata = null();
    let mut len = 0usize;
    // SAFETY: valid pointers to locals, or NULL where the test says so.
    unsafe {
        assert_eq!(
            cring_record_reserve(f.p, 1000, &mut data),
            cring_status::TooLarge
        );
        assert!(data.is_null());
        assert_eq!(
            cring_record_reserve(f.p, 1, null_mut()),
            cring_status::NullPointer
        );
        assert_eq!(
            cring_record_reserve_typed(f.p, 1, 1, &mut data),
            cring_status::InvalidArgument
        );
        assert_eq!(
            cring_record_reserve_typed(f.p, 1, 64, &mut data),
            cring_status::InvalidArgument
        );
        assert_eq!(cring_record_push(f.p, null(), 3), cring_status::NullPointer);
        assert_eq!(cring_record_reserve(f.p, 4, &mut data), OK);
        assert_eq!(
            cring_record_reserve(f.p, 4, &mut data),
            cring_status::WrongState
        );
        assert!(data.is_null());
        assert_eq!(f.push(b"x"), cring_status::WrongState);
        let c = completion(1);
        assert_eq!(
            cring_completion_record_begin(f.p, &c, 8),
            cring_status::WrongState
        );
        assert_eq!(
            cring_attr_push(f.p, 1, 4, null(), 0),
            cring_status::WrongState,
            "a data record takes no attributes"
        );
        assert_eq!(
            cring_completion_record_finish(f.p, null_mut()),
            cring_status::WrongState
        );
        assert_eq!(cring_record_commit(f.p), OK);
        // The ring fills up: FULL, nothing written.
        let mut n = 0;
        while f.push(&[7u8; 24]) == OK {
            n += 1;
            assert!(n < 100);
        }
        assert_eq!(f.push(&[7u8; 24]), cring_status::Full);
        assert_eq!(cring_record_read(f.c, &mut rdata, &mut len, null_mut()), OK);
        assert_eq!(len, 4);
        assert_eq!(
            cring_record_read(f.c, &mut rdata, &mut len, null_mut()),
            cring_status::WrongState
        );
        assert!(rdata.is_null());
        let mut count = 0usize;
        extern "C" fn ignore(_: *mut c_void, _: *const c_void, _: usize, _: u32) {}
        assert_eq!(
            cring_record_reap(
                f.c,
                1,
                1,
                usize::MAX,
                0,
                Some(ignore),
                null_mut(),
                &mut count
            ),
            cring_status::WrongState
        );
        assert_eq!(cring_record_release(f.c), OK);
        assert_eq!(cring_record_release(f.c), cring_status::WrongState);
        assert_eq!(
            cring_record_reap(f.c, 1, 1, usize::MAX, 0, None, null_mut(), &mut count),
            cring_status::NullPointer
        );
        assert_eq!(
            cring_record_read(f.c, null_mut(), &mut len, null_mut()),
            cring_status::NullPointer
        );
        // Configurations.
        let mut bad = cring_records_config_init(100);
        let mut r = cring_records { id: 1 };
        assert_eq!(
            cring_records_create_heap(&bad, &mut r),
            cring_status::InvalidArgument
        );
        assert_eq!(r, cring_records::default());
        bad = cring_records_config_init(128);
        bad.mode = CRING_MODE_SPMC;
        assert_eq!(
            cring_records_create_heap(&bad, &mut r),
            cring_status::InvalidArgument
        );
        bad = cring_records_config_init(128);
        bad.initial_position = 4;
        assert_eq!(
            cring_records_create_heap(&bad, &mut r),
            cring_status::InvalidArgument
        );
        bad = cring_records_config_init(128);
        bad.struct_size += 1;
        assert_eq!(
            cring_records_create_heap(&bad, &mut r),
            cring_status::InvalidArgument
        );
        assert_eq!(
            cring_records_create_heap(null(), &mut r),
            cring_status::NullPointer
        );
        let mut region_len = 0u64;
        assert_eq!(
            cring_records_region_len(&cring_records_config_init(128), &mut region_len),
            OK
        );
        assert!(region_len >= 128 + 256);
    }
    // A second consumer, a second SPSC producer: the sides are claimed.
    let mut p2 = cring_record_producer::default();
    let mut c2 = cring_record_consumer::default();
    // SAFETY: valid out pointers.
    unsafe {
        assert_eq!(
            cring_record_producer_open(f.ring, &mut p2),
            cring_status::Busy
        );
        assert_eq!(
            cring_record_consumer_open(f.ring, &mut c2),
            cring_status::Busy
        );
    }
    f.close();
}

/// Handles of every kind are told apart: an id of one kind is a bad handle for every other.
#[test]
fn handle_kinds_are_distinct() {
    let f = Fixture::new(cring_records_config_init(64));
    let mut cfg = cring_config_init(4);
    cfg.wait = 0;
    let mut ring = cring_ring::default();
    // SAFETY: valid pointers.
    assert_eq!(unsafe { cring_ring_create_heap(&cfg, &mut ring) }, OK);
    let ids = [f.ring.id, f.p.id, f.c.id, ring.id];
    for &id in &ids {
        let is = |x: u64| x == id;
        let mut info = cring_records_info::default();
        let mut ri = cring_ring_info::default();
        let mut len = 0usize;
        let mut data = null_mut();
        // SAFETY: valid out pointers; the handles may be anything.
        unsafe {
            let s = cring_records_get_info(
                cring_records { id },
                &mut info,
                std::mem::size_of::<cring_records_info>(),
            );
            assert_eq!(s == OK, is(f.ring.id), "{id:#x}");
            let s = cring_record_reserve(cring_record_producer { id }, 1, &mut data);
            assert_eq!(s == OK, is(f.p.id), "{id:#x}");
            if s == OK {
                assert_eq!(cring_record_discard(f.p), OK);
            }
            let s = cring_record_pop_into(
                cring_record_consumer { id },
                null_mut(),
                0,
                &mut len,
                null_mut(),
            );
            assert_eq!(s == cring_status::BadHandle, !is(f.c.id), "{id:#x}");
            let s = cring_ring_get_info(
                cring_ring { id },
                &mut ri,
                std::mem::size_of::<cring_ring_info>(),
            );
            assert_eq!(s == OK, is(ring.id), "{id:#x}");
            let s = cring_producer_push(cring_producer { id }, null(), 16);
            assert_eq!(s, cring_status::BadHandle, "{id:#x}");
            let s = cring_consumer_release(cring_consumer { id });
            assert_eq!(s, cring_status::BadHandle, "{id:#x}");
        }
    }
    assert_eq!(cring_ring_close(ring), OK);
    let (r, p, c) = (f.ring, f.p, f.c);
    f.close();
    assert_eq!(cring_records_close(r), cring_status::BadHandle);
    assert_eq!(cring_record_producer_close(p), cring_status::BadHandle);
    assert_eq!(cring_record_consumer_close(c), cring_status::BadHandle);
}

#[test]
fn completion_records_through_the_abi() {
    let f = Fixture::new(cring_records_config_init(1024));
    for seq in 0..200u64 {
        assert_eq!(write_completion(f.p, seq), OK, "{}", last_error());
        let (payload, ty) = f.take().expect("a record");
        assert_eq!(ty, CRING_RECORD_TYPE_COMPLETION);
        check_completion_abi(&payload, seq);
        // Rust's reader agrees.
        let (c, attrs) = parse_completion(&payload).unwrap();
        assert_eq!(c.user_data, seq);
        let attrs: Vec<_> = attrs.collect::<Result<_, _>>().unwrap();
        assert_eq!(attrs[0].id, attr_id::DURATION_NS);
        assert_eq!(attrs[2].status, AttrStatus::Failed);
    }
    // Builder errors leave the record open; nothing half-written is published.
    let c = completion(7);
    // SAFETY: valid pointers to locals.
    unsafe {
        assert_eq!(cring_completion_record_begin(f.p, &c, 8), OK);
        let v = [0u8; 8];
        assert_eq!(
            cring_attr_push(f.p, 1, 4, v.as_ptr().cast(), 8),
            cring_status::TooLarge
        );
        assert_eq!(
            cring_attr_push(f.p, 0, 4, v.as_ptr().cast(), 4),
            cring_status::InvalidArgument
        );
        assert_eq!(
            cring_attr_push(f.p, 1, 0, v.as_ptr().cast(), 4),
            cring_status::InvalidArgument
        );
        assert_eq!(
            cring_attr_push(f.p, 1, 4, v.as_ptr().cast(), 256),
            cring_status::InvalidArgument
        );
        assert_eq!(
            cring_attr_push(f.p, 1, 4, null(), 4),
            cring_status::NullPointer
        );
        assert_eq!(cring_record_truncate(f.p, 16), cring_status::WrongState);
        assert_eq!(f.take(), Err(cring_status::Empty));
        assert_eq!(cring_attr_push(f.p, 2, 1, null(), 0), OK);
        // cring_record_commit() cuts the record to what was written too.
        assert_eq!(cring_record_commit(f.p), OK);
    }
    let (payload, _) = f.take().unwrap();
    assert_eq!(payload.len(), 24);
    let (_, attrs) = parse_completion(&payload).unwrap();
    let attrs: Vec<_> = attrs.collect::<Result<_, _>>().unwrap();
    assert_eq!(
        (attrs.len(), attrs[0].id, attrs[0].status),
        (1, 2, AttrStatus::Requested)
    );
    f.close();
}

#[test]
fn attribute_iterator_refuses_malformed_lists() {
    let head = [0u8; 16];
    let mk = |tail: &[u8]| -> Vec<u8> { head.iter().chain(tail).copied().collect() };
    let cases: [(&str, Vec<u8>, usize); 4] = [
        ("truncated header", mk(&[1, 0]), 16),
        ("id 0", mk(&[0, 0, 4, 0, 0, 0, 0, 0]), 16),
        ("status 0", mk(&[1, 0, 0, 0, 0, 0, 0, 0]), 16),
        (
            "value past the end",
            mk(&[1, 0, 4, 1, 9, 0, 0, 0, 2, 0, 4, 8, 0, 0, 0, 0]),
            24,
        ),
    ];
    for (what, payload, offset) in cases {
        // SAFETY: zeroed plain data.
        let mut it: cring_attr_iter = unsafe { std::mem::zeroed() };
        // SAFETY: a readable payload; valid out pointers.
        let s = unsafe {
            cring_attr_iter_init(payload.as_ptr().cast(), payload.len(), null_mut(), &mut it)
        };
        assert_eq!(s, OK);
        let mut results = Vec::new();
        for _ in 0..4 {
            // SAFETY: zeroed plain data.
            let mut a: cring_attr = unsafe { std::mem::zeroed() };
            // SAFETY: an iterator over a live payload.
            results.push(unsafe { cring_attr_next(&mut it, &mut a) });
        }
        let ok = results.iter().take_while(|&&s| s == OK).count();
        assert_eq!(ok, offset / 8 - 2, "{what}: {results:?}");
        assert!(
            results[ok..].iter().all(|&s| s == cring_status::Corrupt),
            "{what}: {results:?}"
        );
        assert!(
            last_error().contains(&format!("offset {offset}")),
            "{what}: {}",
            last_error()
        );
    }
    // A payload too short for the completion.
    // SAFETY: zeroed plain data; a readable payload.
    let mut it: cring_attr_iter = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to locals and live payloads, as the test sets them up.
    let s = unsafe { cring_attr_iter_init(head.as_ptr().cast(), 15, null_mut(), &mut it) };
    assert_eq!(s, cring_status::Corrupt);
    // SAFETY: the iterator was left empty.
    let mut a: cring_attr = unsafe { std::mem::zeroed() };
    assert_eq!(
        // SAFETY: valid pointers to locals and live payloads, as the test sets them up.
        unsafe { cring_attr_next(&mut it, &mut a) },
        cring_status::Empty
    );
    // A tampered iterator is refused, not followed.
    it.done = 0;
    it.offset = 3;
    it.data = head.as_ptr().cast();
    it.len = 16;
    assert_eq!(
        // SAFETY: valid pointers to locals and live payloads, as the test sets them up.
        unsafe { cring_attr_next(&mut it, &mut a) },
        cring_status::InvalidArgument
    );
    assert_eq!(
        // SAFETY: valid pointers to locals and live payloads, as the test sets them up.
        unsafe { cring_attr_value_u64(&a, null_mut()) },
        cring_status::NullPointer
    );
}

/// A record ring created through the ABI in /dev/shm, fed by a Rust `RecordRing` producer
/// attached to the same file, and the reverse; positions start just below the 2^32 wrap and
/// the data area is small, so that records wrap with padding records.
#[test]
fn abi_and_rust_share_record_rings() {
    let name = format!("ring-ffi-records-{}", std::process::id());
    let cname = CString::new(name.clone()).unwrap();
    let mut cfg = cring_records_config_init(512);
    cfg.initial_position = u32::MAX - 255;
    let mut ring = cring_records::default();
    // SAFETY: valid pointers.
    assert_eq!(
        // SAFETY: valid pointers to locals and live payloads, as the test sets them up.
        unsafe { cring_records_create_shm(cname.as_ptr(), &cfg, &mut ring) },
        OK
    );
    let rust = RecordRing::attach(Region::shm_open(&name).unwrap()).unwrap();
    let mut c = cring_record_consumer::default();
    // SAFETY: valid pointers.
    assert_eq!(unsafe { cring_record_consumer_open(ring, &mut c) }, OK);
    let f = Fixture {
        ring,
        p: cring_record_producer::default(),
        c,
    };
    let mut tx = rust.producer().unwrap();
    let mut next = 0u64;
    for seq in 0..300u64 {
        while !write_completion_rust(&mut tx, seq) {
            let (payload, ty) = f.take().expect("the ring is full, so not empty");
            assert_eq!(ty, CRING_RECORD_TYPE_COMPLETION);
            check_completion_abi(&payload, next);
            next += 1;
        }
    }
    while next < 300 {
        let (payload, _) = f.take().expect("a record");
        check_completion_abi(&payload, next);
        next += 1;
    }
    assert_eq!(f.take(), Err(cring_status::Empty));
    drop(tx);
    assert_eq!(cring_record_consumer_close(f.c), OK);
    let counters = rust.counters();
    assert!(
        counters.tail < 512 * 64,
        "the positions wrapped: {counters:?}"
    );

    // The reverse: ABI producer, Rust consumer, on the same ring.
    let mut p = cring_record_producer::default();
    // SAFETY: valid pointers.
    assert_eq!(unsafe { cring_record_producer_open(ring, &mut p) }, OK);
    let mut rx = rust.consumer().unwrap();
    let mut next = 0u64;
    for seq in 0..300u64 {
        loop {
            match write_completion(p, seq) {
                OK => break,
                cring_status::Full => {
                    let r = rx.read().expect("full, so not empty");
                    let (cc, attrs) = r.completion().unwrap();
                    assert_eq!(cc.user_data, next);
                    assert_eq!(attrs.iter().count(), 3 + usize::from(next % 2 == 0));
                    next += 1;
                }
                s => panic!("{s:?}: {}", last_error()),
            }
        }
    }
    while let Ok(r) = rx.read() {
        assert_eq!(r.completion().unwrap().0.user_data, next);
        next += 1;
    }
    assert_eq!(next, 300);
    assert_eq!(cring_record_producer_close(p), OK);
    assert_eq!(cring_records_close(ring), OK);
    // A fixed-entry ring is not a record ring.
    let mut region = cring_region::default();
    let mut r2 = cring_records::default();
    let mut fixed = cring_ring::default();
    let fcfg = cring_config_init(8);
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(cring_region_heap(1 << 16, &mut region), OK);
        assert_eq!(cring_ring_create(region, &fcfg, &mut fixed), OK);
        assert_eq!(
            cring_records_attach(region, &mut r2),
            cring_status::EntryMismatch
        );
        // And the reverse.
        assert_eq!(
            cring_records_create(region, &cring_records_config_init(256), &mut r2),
            OK
        );
        let e = cring_entry_completion();
        assert_eq!(
            cring_ring_attach(region, &e, CRING_MODE_ANY, &mut fixed),
            cring_status::Version
        );
        let mut r3 = cring_records::default();
        assert_eq!(cring_records_attach(region, &mut r3), OK);
        assert_eq!(cring_records_close(r3), OK);
    }
    assert_eq!(cring_records_close(r2), OK);
    assert_eq!(cring_region_close(region), OK);
}

extern "C" fn collect(ctx: *mut c_void, data: *const c_void, len: usize, ty: u32) {
    // SAFETY: `ctx` is the `Vec` the test passed; `data` holds `len` bytes during the call.
    unsafe {
        let out = &mut *ctx.cast::<Vec<(Vec<u8>, u32)>>();
        out.push((
            std::slice::from_raw_parts(data.cast::<u8>(), len).to_vec(),
            ty,
        ));
    }
}

/// MPSC through the ABI: producer threads with their own handles, one consumer reaping with a
/// minimum and a timeout; every producer's records arrive once, in its order.
#[test]
fn mpsc_producers_and_reap() {
    const THREADS: u64 = 3;
    const PER: u64 = 3000;
    let mut cfg = cring_records_config_init(2048);
    cfg.mode = CRING_MODE_MPSC;
    cfg.producers = 4;
    let f = Fixture::new(cfg);
    let ring = f.ring;
    let deadline = Instant::now() + DEADLINE;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                let mut p = cring_record_producer::default();
                // SAFETY: valid pointers.
                assert_eq!(unsafe { cring_record_producer_open(ring, &mut p) }, OK);
                for i in 0..PER {
                    let mut rec = vec![t as u8; 9 + (i % 40) as usize];
                    rec[..8].copy_from_slice(&i.to_le_bytes());
                    loop {
                        let st = if i % 3 == 0 {
                            write_completion(p, t * PER + i)
                        } else {
                            // SAFETY: a readable slice.
                            unsafe { cring_record_push(p, rec.as_ptr().cast(), rec.len()) }
                        };
                        match st {
                            OK => break,
                            cring_status::Full => {
                                assert!(Instant::now() < deadline, "producer {t} stuck");
                                std::thread::yield_now();
                            }
                            st => panic!("{st:?}: {}", last_error()),
                        }
                    }
                }
                assert_eq!(cring_record_producer_close(p), OK);
            });
        }
        let mut next = [0u64; THREADS as usize];
        let mut total = 0;
        let mut got: Vec<(Vec<u8>, u32)> = Vec::new();
        while total < THREADS * PER {
            assert!(Instant::now() < deadline, "only {total} records arrived");
            got.clear();
            let mut count = 0usize;
            let min = 1 + (total % 7) as usize;
            // SAFETY: `collect` gets the Vec as its context; a valid out pointer.
            let st = unsafe {
                cring_record_reap(
                    f.c,
                    min,
                    64,
                    usize::MAX,
                    SECOND / 10,
                    Some(collect),
                    (&mut got as *mut Vec<(Vec<u8>, u32)>).cast(),
                    &mut count,
                )
            };
            assert!(
                st == OK || st == cring_status::TimedOut,
                "{st:?}: {}",
                last_error()
            );
            assert_eq!(count, got.len());
            if st == OK {
                assert!(count >= min.min(64));
            }
            for (payload, ty) in &got {
                if *ty == CRING_RECORD_TYPE_COMPLETION {
                    let seq = parse_completion(payload).unwrap().0.user_data;
                    let (t, i) = (seq / PER, seq % PER);
                    assert_eq!(i, next[t as usize], "producer {t}");
                    check_completion_abi(payload, seq);
                    next[t as usize] += 1;
                } else {
                    let t = payload[8];
                    let i = u64::from_le_bytes(payload[..8].try_into().unwrap());
                    assert_eq!(i, next[t as usize], "producer {t}");
                    assert_eq!(payload.len(), 9 + (i % 40) as usize);
                    next[t as usize] += 1;
                }
                total += 1;
            }
        }
        assert_eq!(next, [PER; THREADS as usize]);
    });
    // Empty now: a reap with a short timeout says so.
    let mut count = 7usize;
    let mut got: Vec<(Vec<u8>, u32)> = Vec::new();
    // SAFETY: as above.
    let st = unsafe {
        cring_record_reap(
            f.c,
            1,
            4,
            usize::MAX,
            1_000_000,
            Some(collect),
            (&mut got as *mut Vec<(Vec<u8>, u32)>).cast(),
            &mut count,
        )
    };
    assert_eq!((st, count), (cring_status::TimedOut, 0));
    // A producer closed with a reservation open discards it; the next record still arrives.
    let mut p = cring_record_producer::default();
    let mut data = null_mut();
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(cring_record_producer_open(ring, &mut p), OK);
        assert_eq!(cring_record_reserve(p, 16, &mut data), OK);
        assert_eq!(cring_record_producer_close(p), OK);
        assert_eq!(cring_record_producer_open(ring, &mut p), OK);
        assert_eq!(cring_record_push(p, b"after".as_ptr().cast(), 5), OK);
        assert_eq!(cring_record_producer_close(p), OK);
    }
    assert_eq!(f.take(), Ok((b"after".to_vec(), CRING_RECORD_TYPE_DATA)));
    let mut positions = 9u32;
    // SAFETY: valid pointers.
    assert_eq!(
        // SAFETY: valid pointers to locals and live payloads, as the test sets them up.
        unsafe { cring_records_recover(ring, &mut positions, null_mut()) },
        OK
    );
    assert_eq!(positions, 0, "nothing was left reserved");
    f.close();
}

/// A consumer asleep in a reap is woken by a producer on another thread; a ring without the
/// wait block refuses to sleep.
#[test]
fn reap_sleeps_and_is_woken() {
    let f = Fixture::new(cring_records_config_init(256));
    let p = f.p;
    let ring = f.ring;
    let waker = std::thread::spawn(move || {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let mut c = cring_records_counters::default();
            // SAFETY: a valid pointer.
            assert_eq!(
                // SAFETY: valid pointers to locals and live payloads, as the test sets them up.
                unsafe {
                    cring_records_get_counters(
                        ring,
                        &mut c,
                        std::mem::size_of::<cring_records_counters>(),
                    )
                },
                OK
            );
            if c.sleeps >= 1 {
                break;
            }
            assert!(Instant::now() < deadline, "the consumer never slept");
            std::thread::sleep(Duration::from_millis(1));
        }
        // SAFETY: a readable slice.
        assert_eq!(
            // SAFETY: valid pointers to locals and live payloads, as the test sets them up.
            unsafe { cring_record_push(p, b"wake".as_ptr().cast(), 4) },
            OK
        );
    });
    let mut got: Vec<(Vec<u8>, u32)> = Vec::new();
    let mut count = 0usize;
    // SAFETY: as in `mpsc_producers_and_reap`.
    let st = unsafe {
        cring_record_reap(
            f.c,
            1,
            8,
            usize::MAX,
            60 * SECOND,
            Some(collect),
            (&mut got as *mut Vec<(Vec<u8>, u32)>).cast(),
            &mut count,
        )
    };
    waker.join().unwrap();
    assert_eq!((st, count), (OK, 1), "{}", last_error());
    assert_eq!(got, [(b"wake".to_vec(), CRING_RECORD_TYPE_DATA)]);
    f.close();

    let mut cfg = cring_records_config_init(64);
    cfg.wait = 0;
    let f = Fixture::new(cfg);
    // SAFETY: as above.
    let st = unsafe {
        cring_record_reap(
            f.c,
            1,
            8,
            usize::MAX,
            SECOND,
            Some(collect),
            (&mut got as *mut Vec<(Vec<u8>, u32)>).cast(),
            &mut count,
        )
    };
    assert_eq!((st, count), (cring_status::NoWaitBlock, 0));
    f.close();
}

/// Rust-made MPSC rings are attached through the ABI (the mode comes from the header).
#[test]
fn abi_attaches_a_rust_mpsc_ring() {
    let rust =
        RecordRing::create_memfd("ring-ffi-rec", RecordConfig::new(1024).mode(Mode::Mpsc)).unwrap();
    use std::os::fd::AsRawFd;
    let fd = rust.memory().fd().expect("a memfd").as_raw_fd();
    let mut region = cring_region::default();
    let mut ring = cring_records::default();
    let mut info = cring_records_info::default();
    // SAFETY: valid pointers; `fd` is open for the call.
    unsafe {
        assert_eq!(cring_region_from_fd(fd, &mut region), OK);
        assert_eq!(
            cring_records_attach(region, &mut ring),
            OK,
            "{}",
            last_error()
        );
        assert_eq!(
            cring_records_get_info(ring, &mut info, std::mem::size_of::<cring_records_info>()),
            OK
        );
    }
    assert_eq!(info.mode, CRING_MODE_MPSC);
    assert_eq!(info.producer_slots, 64);
    let mut tx = rust.producer().unwrap();
    tx.push(b"from rust").unwrap();
    let mut c = cring_record_consumer::default();
    // SAFETY: valid pointers.
    assert_eq!(unsafe { cring_record_consumer_open(ring, &mut c) }, OK);
    let f = Fixture {
        ring,
        p: cring_record_producer::default(),
        c,
    };
    assert_eq!(
        f.take(),
        Ok((b"from rust".to_vec(), CRING_RECORD_TYPE_DATA))
    );
    assert_eq!(cring_record_consumer_close(c), OK);
    assert_eq!(cring_records_close(ring), OK);
    assert_eq!(cring_region_close(region), OK);
}

// ---------------------------------------------------------------------------------------------
// The overflow area, the first-version structs, waiting.

fn counters_of(ring: cring_records) -> cring_records_counters {
    let mut c = cring_records_counters::default();
    assert_eq!(
        // SAFETY: a valid pointer to a local of the size passed.
        unsafe {
            cring_records_get_counters(ring, &mut c, std::mem::size_of::<cring_records_counters>())
        },
        OK
    );
    c
}

/// A ring with an overflow area made through the ABI spills when the data area is full,
/// drains in order, deactivates the area once drained, and refuses (handing back) only when
/// both are full; the info and counters say so.
#[test]
fn overflow_area_through_the_abi() {
    for mode in [CRING_MODE_SPSC, CRING_MODE_MPSC] {
        let mut cfg = cring_records_config_init(64);
        cfg.mode = mode;
        cfg.overflow_capacity = 128;
        let f = Fixture::new(cfg);
        let mut info = cring_records_info::default();
        // SAFETY: a valid pointer to a local of the size passed.
        let st = unsafe {
            cring_records_get_info(f.ring, &mut info, std::mem::size_of::<cring_records_info>())
        };
        assert_eq!(st, OK);
        assert_eq!(
            (info.capacity, info.overflow_capacity, info.max_record_len),
            (64, 128, 24)
        );
        assert_eq!(info.overflow_max_record_len, 56);
        assert!(info.producer_slots >= 1, "{info:?}");
        // 8-byte payloads take 16 bytes: 4 fill the data area, 8 more the overflow area.
        let mut pushed = 0u8;
        while f.push(&[pushed; 8]) == OK {
            pushed += 1;
            assert!(pushed < 100);
        }
        assert_eq!(pushed, 12, "mode {mode}");
        assert_eq!(f.push(&[0; 8]), cring_status::Full);
        let c = counters_of(f.ring);
        assert_eq!((c.overflowed, c.activations, c.overflow_active), (8, 1, 1));
        assert_eq!((c.overflow_tail, c.overflow_head), (128, 0));
        assert_eq!(c.full_refusals, 2, "{c:?}");
        // While the area is active, a record goes to it even after the data area has room.
        assert_eq!(f.take(), Ok((vec![0; 8], CRING_RECORD_TYPE_DATA)));
        assert_eq!(f.push(&[pushed; 8]), cring_status::Full);
        for i in 1..pushed {
            assert_eq!(
                f.take(),
                Ok((vec![i; 8], CRING_RECORD_TYPE_DATA)),
                "mode {mode}"
            );
        }
        assert_eq!(f.take(), Err(cring_status::Empty));
        let c = counters_of(f.ring);
        assert_eq!((c.overflow_active, c.overflow_head), (0, 128), "{c:?}");
        assert_eq!(c.head, c.tail);
        // Inactive again: the next record goes to the data area.
        assert_eq!(f.push(b"x"), OK);
        let after = counters_of(f.ring);
        assert_eq!(after.overflow_tail, c.overflow_tail);
        assert_ne!(after.tail, c.tail);
        f.close();
    }
    // Invalid overflow capacities are argument errors.
    for bad in [16u32, 100, 0x8000_0001] {
        let mut cfg = cring_records_config_init(64);
        cfg.overflow_capacity = bad;
        let mut len = 1u64;
        // SAFETY: valid pointers to locals.
        let st = unsafe { cring_records_region_len(&cfg, &mut len) };
        assert_eq!((st, len), (cring_status::InvalidArgument, 0), "{bad}");
        assert!(last_error().contains("overflow"), "{}", last_error());
    }
}

/// A Rust ring with an overflow area, attached through the ABI: the consumer drains what the
/// Rust producer spilled, in order, and the counters agree with Rust's.
#[test]
fn abi_drains_a_rust_ring_with_an_overflow_area() {
    let name = format!("cring-recs-ovf-{}", std::process::id());
    let cfg = RecordConfig::new(128).mode(Mode::Mpsc).overflow(256);
    let region = Region::shm_create(&name, cfg.region_len().unwrap() as usize, 0o600).unwrap();
    let rust = RecordRing::create(region, cfg).unwrap();
    let mut tx = rust.producer().unwrap();
    let mut n = 0u32;
    while tx.push(&n.to_le_bytes()).is_ok() {
        n += 1;
    }
    assert!(rust.counters().overflowed > 0);
    let cname = CString::new(name.as_str()).unwrap();
    let mut ring = cring_records::default();
    let mut c = cring_record_consumer::default();
    // SAFETY: valid pointers to locals.
    unsafe {
        assert_eq!(
            cring_records_open_shm(cname.as_ptr(), &mut ring),
            OK,
            "{}",
            last_error()
        );
        assert_eq!(cring_record_consumer_open(ring, &mut c), OK);
    }
    let ours = counters_of(ring);
    let theirs = rust.counters();
    assert_eq!(
        (
            ours.overflowed,
            ours.activations,
            ours.overflow_tail,
            ours.overflow_active
        ),
        (
            theirs.overflowed,
            theirs.activations,
            theirs.overflow_tail,
            u32::from(theirs.overflow_active)
        )
    );
    let mut buf = [0u8; 8];
    for i in 0..n {
        let (mut len, mut ty) = (0usize, 0u32);
        // SAFETY: a local buffer of the length passed; valid out pointers.
        let st = unsafe {
            cring_record_pop_into(c, buf.as_mut_ptr().cast(), buf.len(), &mut len, &mut ty)
        };
        assert_eq!(st, OK, "{}", last_error());
        assert_eq!(&buf[..len], &i.to_le_bytes());
    }
    let mut d = 0u64;
    // SAFETY: a valid pointer to a local.
    assert_eq!(unsafe { cring_record_delivered(c, &mut d) }, OK);
    assert_eq!(d, u64::from(n));
    assert!(!rust.counters().overflow_active);
    assert_eq!(cring_record_consumer_close(c), OK);
    assert_eq!(cring_records_close(ring), OK);
    let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
}

/// Callers built against the first versions of the config, info and counters structs keep
/// working: a config of the first version's size makes a ring without an overflow area, and
/// info and counters of the first versions' sizes get exactly those bytes written.
#[test]
fn first_version_structs_are_still_accepted() {
    /// `cring_records_config` as its first version was.
    #[repr(C)]
    struct ConfigV1 {
        struct_size: u32,
        capacity: u32,
        mode: u32,
        initial_position: u32,
        producers: u32,
        wait: u32,
    }
    assert_eq!(
        std::mem::size_of::<ConfigV1>(),
        CRING_RECORDS_CONFIG_SIZE_V1 as usize
    );
    let v1 = ConfigV1 {
        struct_size: CRING_RECORDS_CONFIG_SIZE_V1,
        capacity: 64,
        mode: CRING_MODE_SPSC,
        initial_position: 0,
        producers: 0,
        wait: 1,
    };
    let mut ring = cring_records::default();
    // SAFETY: the function reads only `struct_size` bytes (24), the size of `v1`.
    let st = unsafe { cring_records_create_heap((&v1 as *const ConfigV1).cast(), &mut ring) };
    assert_eq!(st, OK, "{}", last_error());
    // Counters and info into buffers of the first versions' sizes, followed by guard words.
    let mut words = [0xa5a5_a5a5_a5a5_a5a5u64; 16];
    let p = words.as_mut_ptr().cast::<cring_records_counters>();
    // SAFETY: `words` is 128 bytes, 8-byte aligned.
    let st =
        unsafe { cring_records_get_counters(ring, p, CRING_RECORDS_COUNTERS_SIZE_V1 as usize) };
    assert_eq!(st, OK, "{}", last_error());
    let n = CRING_RECORDS_COUNTERS_SIZE_V1 as usize / 8;
    assert!(
        words[n..].iter().all(|&w| w == 0xa5a5_a5a5_a5a5_a5a5),
        "{words:x?}"
    );
    assert_eq!(words[0], 0, "full_refusals");
    let mut words = [0xa5a5_a5a5_a5a5_a5a5u64; 16];
    let p = words.as_mut_ptr().cast::<cring_records_info>();
    // SAFETY: as above.
    let st = unsafe { cring_records_get_info(ring, p, CRING_RECORDS_INFO_SIZE_V1 as usize) };
    assert_eq!(st, OK, "{}", last_error());
    let n = CRING_RECORDS_INFO_SIZE_V1 as usize / 8;
    assert!(
        words[n..].iter().all(|&w| w == 0xa5a5_a5a5_a5a5_a5a5),
        "{words:x?}"
    );
    // SAFETY: the first 32 bytes are the first version's fields, written by the call.
    let info = unsafe { std::ptr::read(p) };
    assert_eq!(
        (info.capacity, info.mode, info.wait),
        (64, CRING_MODE_SPSC, 1)
    );
    // The current sizes get everything; other sizes are refused.
    let mut full = cring_records_info::default();
    // SAFETY: a valid pointer to a local of the size passed.
    let st = unsafe {
        cring_records_get_info(ring, &mut full, std::mem::size_of::<cring_records_info>())
    };
    assert_eq!((st, full.overflow_capacity), (OK, 0));
    for size in [0usize, 28, 36, 64] {
        let mut c = [0u64; 16];
        // SAFETY: `c` is 128 bytes, 8-byte aligned.
        let st = unsafe { cring_records_get_counters(ring, c.as_mut_ptr().cast(), size) };
        assert_eq!(st, cring_status::InvalidArgument, "{size}");
    }
    assert_eq!(cring_records_close(ring), OK);
    // A config of another size, or with `reserved` set, is refused.
    let mut cfg = cring_records_config_init(64);
    cfg.struct_size = 28;
    let mut len = 0u64;
    assert_eq!(
        // SAFETY: valid pointers to locals.
        unsafe { cring_records_region_len(&cfg, &mut len) },
        cring_status::InvalidArgument
    );
    let mut cfg = cring_records_config_init(64);
    cfg.reserved = 1;
    assert_eq!(
        // SAFETY: as above.
        unsafe { cring_records_region_len(&cfg, &mut len) },
        cring_status::InvalidArgument
    );
}

fn wait_for(
    c: cring_record_consumer,
    beyond: Option<u64>,
    min: usize,
    ns: i64,
) -> (cring_status, u32) {
    let mut n = u32::MAX;
    // SAFETY: a valid pointer to a local.
    let st = unsafe {
        match beyond {
            Some(p) => cring_record_wait_beyond(c, p, min, ns, &mut n),
            None => cring_record_wait(c, min, ns, &mut n),
        }
    };
    (st, n)
}

/// `cring_record_wait` / `_wait_beyond` count records in both areas, from
/// `cring_record_delivered()`; a sleeping wait is woken by a producer in another thread.
#[test]
fn wait_and_wait_beyond_count_records() {
    let mut cfg = cring_records_config_init(64);
    cfg.overflow_capacity = 128;
    let f = Fixture::new(cfg);
    let mut mark = u64::MAX;
    // SAFETY: a valid pointer to a local.
    assert_eq!(unsafe { cring_record_delivered(f.c, &mut mark) }, OK);
    assert_eq!(mark, 0);
    assert_eq!(wait_for(f.c, None, 0, 0), (OK, 0));
    assert_eq!(
        wait_for(f.c, None, 1, SECOND / 100),
        (cring_status::TimedOut, 0)
    );
    let p = f.p;
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        for i in 0..6u8 {
            // 4 in the data area, 2 spill.
            assert_eq!(
                // SAFETY: a readable slice.
                unsafe { cring_record_push(p, [i; 8].as_ptr().cast(), 8) },
                OK
            );
        }
    });
    let r = wait_for(f.c, Some(mark), 6, 60 * SECOND);
    t.join().unwrap();
    assert_eq!(r, (OK, 6), "{}", last_error());
    assert_eq!(counters_of(f.ring).overflowed, 2);
    assert_eq!(f.take(), Ok((vec![0; 8], CRING_RECORD_TYPE_DATA)));
    // SAFETY: a valid pointer to a local.
    assert_eq!(unsafe { cring_record_delivered(f.c, &mut mark) }, OK);
    assert_eq!(mark, 1);
    // One delivered since position 0: it still counts beyond 0, not beyond 1.
    assert_eq!(wait_for(f.c, Some(0), 6, 0), (OK, 6));
    assert_eq!(wait_for(f.c, Some(1), 6, 0), (cring_status::TimedOut, 5));
    assert_eq!(wait_for(f.c, None, 5, 0), (OK, 5));
    // With a record open the consumer is busy.
    let (mut data, mut len) = (null(), 0usize);
    assert_eq!(
        // SAFETY: valid out pointers.
        unsafe { cring_record_read(f.c, &mut data, &mut len, null_mut()) },
        OK
    );
    assert_eq!(wait_for(f.c, None, 1, 0).0, cring_status::WrongState);
    assert_eq!(
        // SAFETY: a valid pointer to a local.
        unsafe { cring_record_delivered(f.c, &mut mark) },
        cring_status::WrongState
    );
    assert_eq!(cring_record_release(f.c), OK);
    assert_eq!(
        // SAFETY: NULL is refused.
        unsafe { cring_record_delivered(f.c, null_mut()) },
        cring_status::NullPointer
    );
    // SAFETY: a NULL `available` is allowed.
    assert_eq!(unsafe { cring_record_wait(f.c, 4, 0, null_mut()) }, OK);
    f.close();
    // Without a wait block a wait that would have to sleep says so.
    let mut cfg = cring_records_config_init(64);
    cfg.wait = 0;
    let f = Fixture::new(cfg);
    assert_eq!(wait_for(f.c, None, 1, SECOND).0, cring_status::NoWaitBlock);
    assert_eq!(f.push(b"a"), OK);
    assert_eq!(wait_for(f.c, None, 1, SECOND), (OK, 1));
    f.close();
}
