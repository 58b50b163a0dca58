//! The `cring_aio_*` ABI called from Rust: submissions of every operation reaped through the
//! ring consumer ABI, cancel outcomes, batch refusals, destroy, record targets, and the
//! statuses of bad handles and pointers. Every wait is bounded.

use ring_ffi::*;
use std::ffi::{c_void, CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

const OK: cring_status = cring_status::Ok;
/// The longest any wait for a completion may take before the test fails.
const WAIT_NS: i64 = 20_000_000_000;
const CSIZE: usize = std::mem::size_of::<cring_completion>();
const SUB: usize = std::mem::size_of::<cring_aio_sub>();

fn last_error() -> String {
    let mut buf = [0 as std::ffi::c_char; 512];
    // SAFETY: a local buffer of the length passed.
    unsafe { cring_last_error_message(buf.as_mut_ptr(), buf.len()) };
    // SAFETY: NUL-terminated by the call.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// A heap ring of completions (MPSC) with a consumer and an aio target.
struct Fixture {
    ring: cring_ring,
    c: cring_consumer,
    t: cring_aio_target,
}

impl Fixture {
    fn new(capacity: u32) -> Fixture {
        let mut cfg = cring_config_init(capacity);
        cfg.mode = CRING_MODE_MPSC;
        let mut ring = cring_ring::default();
        let mut c = cring_consumer::default();
        let mut t = cring_aio_target::default();
        // SAFETY: valid pointers to locals.
        unsafe {
            assert_eq!(
                cring_ring_create_heap(&cfg, &mut ring),
                OK,
                "{}",
                last_error()
            );
            assert_eq!(cring_consumer_open(ring, &mut c), OK);
            assert_eq!(cring_aio_target_open(ring, &mut t), OK, "{}", last_error());
        }
        assert_ne!(t.id, 0);
        Fixture { ring, c, t }
    }

    /// Reaps exactly `n` completions (fails at the deadline).
    fn reap(&self, n: usize) -> Vec<cring_completion> {
        let mut out = vec![cring_completion::default(); n];
        let mut got = 0;
        while got < n {
            let mut count = 0;
            // SAFETY: `out[got..]` is writable for `n - got` completions.
            let s = unsafe {
                cring_consumer_reap(
                    self.c,
                    out[got..].as_mut_ptr().cast(),
                    n - got,
                    CSIZE,
                    n - got,
                    WAIT_NS,
                    &mut count,
                )
            };
            got += count;
            assert!(
                s == OK || s == cring_status::TimedOut,
                "reap: {s:?}: {}",
                last_error()
            );
            assert!(
                s == OK,
                "only {got} of {n} completions arrived: {:?}",
                &out[..got]
            );
        }
        out
    }

    /// Whether no completion arrives within `ms` milliseconds.
    fn nothing_within(&self, ms: i64) -> bool {
        let mut one = cring_completion::default();
        let mut count = 0;
        // SAFETY: a local completion and count.
        let s = unsafe {
            cring_consumer_reap(
                self.c,
                (&mut one as *mut cring_completion).cast(),
                1,
                CSIZE,
                1,
                ms * 1_000_000,
                &mut count,
            )
        };
        assert!(s == OK || s == cring_status::TimedOut, "{s:?}");
        count == 0
    }

    fn close(self) {
        assert_eq!(cring_aio_target_close(self.t), OK);
        assert_eq!(cring_consumer_close(self.c), OK);
        assert_eq!(cring_ring_close(self.ring), OK);
    }
}

fn pool(f: impl FnOnce(&mut cring_aio_config)) -> cring_aio_pool {
    let mut cfg = cring_aio_config_init();
    f(&mut cfg);
    let mut p = cring_aio_pool::default();
    // SAFETY: valid pointers to locals.
    let s = unsafe { cring_aio_pool_create(&cfg, &mut p) };
    assert_eq!(s, OK, "{}", last_error());
    assert_ne!(p.id, 0);
    p
}

fn sub(op: u32, fd: i32, cookie: u64, t: cring_aio_target) -> cring_aio_sub {
    cring_aio_sub {
        op,
        fd,
        cookie,
        target: t,
        offset: 0,
        buf: null_mut(),
        len: 0,
        path: null(),
        flags: 0,
        mode: 0,
    }
}

/// Submits; returns the status and the id.
///
/// # Safety
/// The memory `s` describes is lent as `cring_aio_submit()` requires.
unsafe fn submit(p: cring_aio_pool, s: &cring_aio_sub) -> (cring_status, u64) {
    let mut id = u64::MAX;
    // SAFETY: the caller's guarantee; `id` is a local.
    let st = unsafe { cring_aio_submit(p, s, SUB, &mut id) };
    (st, id)
}

/// Submits and expects acceptance.
///
/// # Safety
/// As for [`submit`].
unsafe fn submit_ok(p: cring_aio_pool, s: &cring_aio_sub) -> u64 {
    // SAFETY: the caller's guarantee.
    let (st, id) = unsafe { submit(p, s) };
    assert_eq!(st, OK, "{}", last_error());
    assert_ne!(id, 0);
    id
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only queries a descriptor number.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// What descriptor `fd` refers to (device and inode), or `None` if it is not open.
fn identity(fd: i32) -> Option<(u64, u64)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is writable for a `struct stat`; fstat only queries the descriptor.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so it filled `st`.
    let st = unsafe { st.assume_init() };
    Some((st.st_dev, st.st_ino))
}

/// Whether `fd` was closed: it no longer refers to what `before` named. (Tests run in
/// parallel threads, so the number may already name another thread's new descriptor.)
fn closed_since(fd: i32, before: Option<(u64, u64)>) -> bool {
    before.is_some() && identity(fd) != before
}

/// Waits until the pool's workers have taken every queued submission and are busy.
fn wait_running(p: cring_aio_pool, running: u64) {
    let start = Instant::now();
    loop {
        let mut s = cring_aio_stats::default();
        // SAFETY: a local of the size passed.
        let st = unsafe { cring_aio_pool_get_stats(p, &mut s, std::mem::size_of_val(&s)) };
        assert_eq!(st, OK);
        if s.workers - s.idle >= running && s.outstanding - s.queued >= running {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{s:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Let the worker enter its system call.
    std::thread::sleep(Duration::from_millis(20));
}

/// Every operation, submitted through the ABI and reaped through the consumer ABI: openat,
/// pwrite, fsync, pread, writev/readv at an offset, write/read at the file position, statx,
/// fallocate, fdatasync, nop, and close through `cring_aio_close`.
#[test]
fn every_operation_submits_and_reaps() {
    let fx = Fixture::new(64);
    let p = pool(|c| {
        c.max_workers = 4;
        c.ordered = 1;
    });
    let path = std::env::temp_dir().join(format!("ring-ffi-aio-ops-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let cpath = CString::new(path.to_str().unwrap()).unwrap();

    // openat: the result is the new descriptor.
    let mut s = sub(CRING_AIO_OP_OPENAT, libc::AT_FDCWD, 1, fx.t);
    s.path = cpath.as_ptr();
    s.flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;
    s.mode = 0o600;
    // SAFETY: the path is copied at submission.
    unsafe { submit_ok(p, &s) };
    let c = fx.reap(1)[0];
    assert_eq!(c.user_data, 1);
    assert!(c.result >= 0, "openat: {}", c.result);
    let fd = c.result;

    // pwrite then fsync (which waits for the write) then pread.
    let data = b"hello, asynchronous world".to_vec();
    let mut s = sub(CRING_AIO_OP_PWRITE, fd, 2, fx.t);
    s.buf = data.as_ptr() as *mut c_void;
    s.len = data.len() as u64;
    s.offset = 100;
    let mut got = vec![0u8; 64];
    let mut r = sub(CRING_AIO_OP_PREAD, fd, 4, fx.t);
    r.buf = got.as_mut_ptr().cast();
    r.len = got.len() as u64;
    r.offset = 100;
    // SAFETY: `data` and `got` are left alone until the completions are reaped.
    unsafe {
        submit_ok(p, &s);
        submit_ok(p, &sub(CRING_AIO_OP_FSYNC, fd, 3, fx.t));
        submit_ok(p, &r);
    }
    let done = fx.reap(3);
    let by = |cookie: u64| *done.iter().find(|c| c.user_data == cookie).unwrap();
    assert_eq!(by(2).result, data.len() as i32);
    assert_eq!(by(3).result, 0);
    assert_eq!(by(4).result, data.len() as i32);
    assert_eq!(&got[..data.len()], &data[..]);

    // pwritev at offset 0 from two buffers, preadv back into three.
    let (a, b) = (b"abc".to_vec(), b"defgh".to_vec());
    let wiov = [
        libc::iovec {
            iov_base: a.as_ptr() as *mut c_void,
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_ptr() as *mut c_void,
            iov_len: b.len(),
        },
    ];
    let mut s = sub(CRING_AIO_OP_PWRITEV, fd, 5, fx.t);
    s.buf = wiov.as_ptr() as *mut c_void;
    s.len = 2;
    let (mut x, mut y, mut z) = ([0u8; 2], [0u8; 2], [0u8; 10]);
    let riov = [
        libc::iovec {
            iov_base: x.as_mut_ptr().cast(),
            iov_len: 2,
        },
        libc::iovec {
            iov_base: y.as_mut_ptr().cast(),
            iov_len: 2,
        },
        libc::iovec {
            iov_base: z.as_mut_ptr().cast(),
            iov_len: 10,
        },
    ];
    let mut r = sub(CRING_AIO_OP_PREADV, fd, 6, fx.t);
    r.buf = riov.as_ptr() as *mut c_void;
    r.len = 3;
    // SAFETY: the buffers are left alone until the completions are reaped.
    unsafe {
        submit_ok(p, &s);
        submit_ok(p, &r);
    }
    let done = fx.reap(2);
    assert_eq!((done[0].user_data, done[0].result), (5, 8), "{done:?}");
    assert_eq!((done[1].user_data, done[1].result), (6, 14), "{done:?}");
    assert_eq!((&x, &y, &z[..4]), (b"ab", b"cd", &b"efgh"[..]));

    // write and read at the file position (ordered mode keeps them in order), readv/writev.
    // SAFETY: lseek has no memory arguments.
    assert_eq!(unsafe { libc::lseek(fd, 0, libc::SEEK_SET) }, 0);
    let mut s = sub(CRING_AIO_OP_WRITE, fd, 7, fx.t);
    s.buf = b"XY".as_ptr() as *mut c_void;
    s.len = 2;
    let tail = b"!".to_vec();
    let tiov = [libc::iovec {
        iov_base: tail.as_ptr() as *mut c_void,
        iov_len: 1,
    }];
    let mut v = sub(CRING_AIO_OP_WRITEV, fd, 8, fx.t);
    v.buf = tiov.as_ptr() as *mut c_void;
    v.len = 1;
    let mut next = [0u8; 3];
    let mut r = sub(CRING_AIO_OP_READ, fd, 9, fx.t);
    r.buf = next.as_mut_ptr().cast();
    r.len = 3;
    let mut more = [0u8; 2];
    let miov = [libc::iovec {
        iov_base: more.as_mut_ptr().cast(),
        iov_len: 2,
    }];
    let mut rv = sub(CRING_AIO_OP_READV, fd, 10, fx.t);
    rv.buf = miov.as_ptr() as *mut c_void;
    rv.len = 1;
    // SAFETY: the buffers are static or left alone until the completions are reaped.
    unsafe {
        submit_ok(p, &s);
        submit_ok(p, &v);
        submit_ok(p, &r);
        submit_ok(p, &rv);
    }
    let done = fx.reap(4);
    let results: Vec<(u64, i32)> = done.iter().map(|c| (c.user_data, c.result)).collect();
    assert_eq!(results, [(7, 2), (8, 1), (9, 3), (10, 2)]);
    // The file starts "abcdefgh": "XY" and "!" overwrite its first three bytes, then the
    // reads continue from the position the writes left.
    assert_eq!((&next, &more), (b"def", b"gh"));

    // fallocate, fdatasync, nop, statx.
    let mut fa = sub(CRING_AIO_OP_FALLOCATE, fd, 11, fx.t);
    fa.offset = 0;
    fa.len = 4096;
    // SAFETY: all-zero bytes are a valid statx.
    let mut st: Box<libc::statx> = Box::new(unsafe { std::mem::zeroed() });
    let mut sx = sub(CRING_AIO_OP_STATX, libc::AT_FDCWD, 14, fx.t);
    sx.path = cpath.as_ptr();
    sx.mode = libc::STATX_SIZE;
    sx.buf = (&mut *st as *mut libc::statx).cast();
    // SAFETY: `st` is left alone until the completions are reaped; the path is copied.
    unsafe {
        submit_ok(p, &fa);
        submit_ok(p, &sub(CRING_AIO_OP_FDATASYNC, fd, 12, fx.t));
        submit_ok(p, &sub(CRING_AIO_OP_NOP, -1, 13, fx.t));
    }
    let done = fx.reap(3);
    for c in &done {
        // fallocate may be unsupported by the file system: then -EOPNOTSUPP.
        let fine = c.result == 0 || (c.user_data == 11 && c.result == -libc::EOPNOTSUPP);
        assert!(fine, "{c:?}");
    }
    // SAFETY: as above.
    unsafe { submit_ok(p, &sx) };
    let c = fx.reap(1)[0];
    assert_eq!((c.user_data, c.result), (14, 0));
    assert!(st.stx_size == 4096 || st.stx_size == 125, "{}", st.stx_size);

    // close through the engine: the descriptor is the pool's from here on.
    let mut id = 0;
    let before = identity(fd);
    // SAFETY: `id` is a local; `fd` was opened by the pool for this test and is given up.
    let s = unsafe { cring_aio_close(p, fx.t, fd, 15, 0, &mut id) };
    assert_eq!(s, OK, "{}", last_error());
    let c = fx.reap(1)[0];
    assert_eq!((c.user_data, c.result), (15, 0));
    assert!(closed_since(fd, before));

    assert_eq!(cring_aio_pool_drain(p, WAIT_NS), OK);
    let mut stats = cring_aio_stats::default();
    // SAFETY: a local of the size passed.
    unsafe { cring_aio_pool_get_stats(p, &mut stats, std::mem::size_of_val(&stats)) };
    assert_eq!((stats.completed, stats.outstanding), (15, 0), "{stats:?}");
    assert_eq!(cring_aio_pool_destroy(p), OK);
    fx.close();
    std::fs::remove_file(&path).unwrap();
}

/// Each cancel outcome: queued (CANCELED), running and interruptible (INTERRUPTED or RUNNING),
/// completed (TOO_LATE), never issued (UNKNOWN), and running without an interrupt signal
/// (TOO_LATE, then its normal result). Exactly one completion each.
#[test]
fn cancel_outcomes() {
    let fx = Fixture::new(64);
    let p = pool(|c| c.max_workers = 1);
    let (r, w) = pipe();
    let (mut b1, mut b2) = ([0u8; 4], [0xAAu8; 4]);
    let mut s1 = sub(CRING_AIO_OP_READ, r.as_raw_fd(), 1, fx.t);
    s1.buf = b1.as_mut_ptr().cast();
    s1.len = 4;
    let mut s2 = s1;
    s2.cookie = 2;
    s2.buf = b2.as_mut_ptr().cast();
    // SAFETY: the buffers are left alone until the completions are reaped.
    let (id1, id2) = unsafe { (submit_ok(p, &s1), submit_ok(p, &s2)) };
    assert!(id2 > id1);
    wait_running(p, 1);

    let mut outcome = 0;
    // SAFETY: `outcome` is a local.
    assert_eq!(unsafe { cring_aio_cancel(p, id2, &mut outcome) }, OK);
    assert_eq!(outcome, CRING_AIO_CANCEL_CANCELED);
    let c = fx.reap(1)[0];
    assert_eq!((c.user_data, c.result), (2, -libc::ECANCELED));
    assert_eq!(
        c.flags & (CRING_AIO_FLAG_CANCELED | CRING_AIO_FLAG_INTERRUPTED),
        CRING_AIO_FLAG_CANCELED
    );
    assert_eq!(b2, [0xAA; 4]);

    // SAFETY: as above.
    assert_eq!(unsafe { cring_aio_cancel(p, id1, &mut outcome) }, OK);
    assert!(
        outcome == CRING_AIO_CANCEL_INTERRUPTED || outcome == CRING_AIO_CANCEL_RUNNING,
        "{outcome}"
    );
    let c = fx.reap(1)[0];
    assert_eq!((c.user_data, c.result), (1, -libc::ECANCELED));
    assert_eq!(
        c.flags & (CRING_AIO_FLAG_CANCELED | CRING_AIO_FLAG_INTERRUPTED),
        CRING_AIO_FLAG_CANCELED | CRING_AIO_FLAG_INTERRUPTED
    );
    // SAFETY: as above.
    assert_eq!(unsafe { cring_aio_cancel(p, id1, &mut outcome) }, OK);
    assert_eq!(outcome, CRING_AIO_CANCEL_TOO_LATE);
    // SAFETY: as above.
    assert_eq!(unsafe { cring_aio_cancel(p, 1 << 40, &mut outcome) }, OK);
    assert_eq!(outcome, CRING_AIO_CANCEL_UNKNOWN);
    assert!(fx.nothing_within(20), "one completion per submission");
    assert_eq!(cring_aio_pool_destroy(p), OK);

    // Without an interrupt signal a running read cannot be cancelled: too late, and it
    // completes normally once data arrives.
    let p = pool(|c| {
        c.max_workers = 1;
        c.interrupt_signal = CRING_AIO_NO_INTERRUPT;
    });
    // SAFETY: `b1` is left alone until the completion is reaped.
    let id = unsafe { submit_ok(p, &s1) };
    wait_running(p, 1);
    // SAFETY: as above.
    assert_eq!(unsafe { cring_aio_cancel(p, id, &mut outcome) }, OK);
    assert_eq!(outcome, CRING_AIO_CANCEL_TOO_LATE);
    assert!(fx.nothing_within(20));
    std::io::Write::write_all(&mut std::fs::File::from(w), b"xyz").unwrap();
    let c = fx.reap(1)[0];
    assert_eq!((c.user_data, c.result, c.flags), (1, 3, 0));
    assert_eq!(&b1[..3], b"xyz");
    assert_eq!(cring_aio_pool_destroy(p), OK);
    fx.close();
}

/// A batch stops at its first refusal: the accepted prefix is in flight with its ids, the
/// status is the refusal's, the message names its index; nothing after it runs; refused
/// closes leave their descriptors open.
#[test]
fn batch_reports_the_first_refusal() {
    let fx = Fixture::new(64);
    let p = pool(|c| {
        c.max_workers = 2;
        c.queue_depth = 3;
        c.backpressure = CRING_AIO_BACKPRESSURE_FAIL;
    });
    let (r, _w) = pipe();
    let mut bufs = [[0u8; 1]; 5];
    let subs: Vec<cring_aio_sub> = bufs
        .iter_mut()
        .enumerate()
        .map(|(i, b)| {
            let mut s = sub(CRING_AIO_OP_READ, r.as_raw_fd(), 100 + i as u64, fx.t);
            s.buf = b.as_mut_ptr().cast();
            s.len = 1;
            s
        })
        .collect();
    let mut ids = [7u64; 5];
    let mut accepted = 99;
    // SAFETY: the buffers outlive the pool (destroyed below, which cancels the reads).
    let s = unsafe {
        cring_aio_submit_batch(p, subs.as_ptr(), 5, SUB, ids.as_mut_ptr(), &mut accepted)
    };
    assert_eq!(s, cring_status::Full);
    assert_eq!(accepted, 3);
    assert!(ids[0] > 0 && ids[0] < ids[1] && ids[1] < ids[2], "{ids:?}");
    assert_eq!(
        &ids[3..],
        [7, 7],
        "ids past the accepted prefix are untouched"
    );
    let msg = last_error();
    assert!(msg.contains("submission 3 of 5"), "{msg}");
    assert!(msg.contains("queue depth"), "{msg}");

    // A refused close (the queue is still full) leaves its descriptor open and the caller's.
    let (cr, _cw) = pipe();
    let cfd = cr.into_raw_fd();
    let closes = [
        sub(CRING_AIO_OP_CLOSE, cfd, 200, fx.t),
        sub(CRING_AIO_OP_NOP, -1, 201, fx.t),
    ];
    // SAFETY: no memory is lent; `cfd` is ours and would be given up if accepted.
    let s =
        unsafe { cring_aio_submit_batch(p, closes.as_ptr(), 2, SUB, null_mut(), &mut accepted) };
    assert_eq!((s, accepted), (cring_status::Full, 0));
    assert!(is_open(cfd), "a refused close must not close");
    let mut id = 0;
    // SAFETY: as above.
    let s = unsafe { cring_aio_close(p, fx.t, cfd, 202, 0, &mut id) };
    assert_eq!((s, id), (cring_status::Full, 0));
    assert!(is_open(cfd));

    // Destroying the pool cancels the three reads: three completions, none for the refused.
    assert_eq!(cring_aio_pool_destroy(p), OK);
    let done = fx.reap(3);
    let mut cookies: Vec<u64> = done.iter().map(|c| c.user_data).collect();
    cookies.sort_unstable();
    assert_eq!(cookies, [100, 101, 102]);
    assert!(
        done.iter().all(|c| c.result == -libc::ECANCELED),
        "{done:?}"
    );
    assert!(fx.nothing_within(20));
    assert_eq!(bufs, [[0u8; 1]; 5]);

    // An invalid submission in the middle: the prefix before it is accepted, the status is
    // the argument error, nothing after it is submitted.
    let p = pool(|c| c.max_workers = 2);
    let mut subs = [
        sub(CRING_AIO_OP_NOP, -1, 300, fx.t),
        sub(99, -1, 301, fx.t),
        sub(CRING_AIO_OP_CLOSE, cfd, 302, fx.t),
    ];
    subs[1].op = 99;
    // SAFETY: no memory is lent; `cfd` would be given up if accepted.
    let s = unsafe {
        cring_aio_submit_batch(p, subs.as_ptr(), 3, SUB, ids.as_mut_ptr(), &mut accepted)
    };
    assert_eq!((s, accepted), (cring_status::InvalidArgument, 1));
    let msg = last_error();
    assert!(
        msg.contains("submission 1 of 3") && msg.contains("99"),
        "{msg}"
    );
    let c = fx.reap(1)[0];
    assert_eq!((c.user_data, c.result), (300, 0));
    assert_eq!(ids[0], 1, "a new pool's first id");
    assert!(
        is_open(cfd),
        "the close after the refusal was not submitted"
    );

    // The whole batch accepted, ids NULL allowed; a close in it is then the pool's.
    let subs = [
        sub(CRING_AIO_OP_NOP, -1, 400, fx.t),
        sub(CRING_AIO_OP_CLOSE, cfd, 401, fx.t),
    ];
    let before = identity(cfd);
    // SAFETY: as above.
    let s = unsafe { cring_aio_submit_batch(p, subs.as_ptr(), 2, SUB, null_mut(), &mut accepted) };
    assert_eq!((s, accepted), (OK, 2), "{}", last_error());
    let done = fx.reap(2);
    assert!(done.iter().all(|c| c.result == 0), "{done:?}");
    assert!(closed_since(cfd, before));
    // count 0: nothing, subs may be NULL.
    // SAFETY: nothing is read.
    let s = unsafe { cring_aio_submit_batch(p, null(), 0, SUB, null_mut(), &mut accepted) };
    assert_eq!((s, accepted), (OK, 0));
    assert_eq!(cring_aio_pool_destroy(p), OK);
    fx.close();
}

/// An MPSC record ring of 4096 bytes made through the ABI, its consumer, and a pool target
/// on it.
fn record_target() -> (cring_records, cring_record_consumer, cring_aio_target) {
    let mut cfg = cring_records_config_init(4096);
    cfg.mode = CRING_MODE_MPSC;
    let mut rr = cring_records::default();
    let mut rc = cring_record_consumer::default();
    let mut t = cring_aio_target::default();
    // SAFETY: valid pointers to locals.
    unsafe {
        assert_eq!(
            cring_records_create_heap(&cfg, &mut rr),
            OK,
            "{}",
            last_error()
        );
        assert_eq!(cring_record_consumer_open(rr, &mut rc), OK);
        assert_eq!(
            cring_aio_target_open_records(rr, &mut t),
            OK,
            "{}",
            last_error()
        );
    }
    (rr, rc, t)
}

/// The next record from `rc` (its payload words, length and type), waiting up to 20 s.
fn next_record(rc: cring_record_consumer) -> ([u64; 32], usize, u32) {
    let mut buf = [0u64; 32];
    let (mut len, mut ty) = (0usize, 0u32);
    let start = Instant::now();
    loop {
        // SAFETY: `buf` is writable for its size in bytes.
        let st =
            unsafe { cring_record_pop_into(rc, buf.as_mut_ptr().cast(), 256, &mut len, &mut ty) };
        if st == OK {
            return (buf, len, ty);
        }
        assert_eq!(st, cring_status::Empty, "{}", last_error());
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no record arrived"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Completions with attributes: a target on a record ring made through the ABI posts
/// completion records that the record consumer ABI reads.
#[test]
fn record_target_posts_completion_records() {
    let (rr, rc, t) = record_target();
    let p = pool(|c| c.max_workers = 2);
    let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut s = sub(CRING_AIO_OP_WRITE, w.as_raw_fd(), 77, t);
    s.buf = b"12345".as_ptr() as *mut c_void;
    s.len = 5;
    // SAFETY: a static buffer.
    unsafe { submit_ok(p, &s) };

    let (buf, len, ty) = next_record(rc);
    assert_eq!(ty, CRING_RECORD_TYPE_COMPLETION);
    let mut c = cring_completion::default();
    // SAFETY: all-zero bytes are a valid iterator, set up by the call.
    let mut it: cring_attr_iter = unsafe { std::mem::zeroed() };
    // SAFETY: `buf` holds `len` bytes of the record.
    let st = unsafe { cring_attr_iter_init(buf.as_ptr().cast(), len, &mut c, &mut it) };
    assert_eq!(st, OK, "{}", last_error());
    assert_eq!((c.user_data, c.result), (77, 5));
    let mut bytes = None;
    loop {
        // SAFETY: all-zero bytes are a valid attribute; `it` reads `buf`.
        let mut a: cring_attr = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        match unsafe { cring_attr_next(&mut it, &mut a) } {
            cring_status::Ok => {
                if a.id == CRING_ATTR_BYTES_TRANSFERRED {
                    let mut v = 0;
                    // SAFETY: `a` was filled by cring_attr_next over `buf`.
                    assert_eq!(unsafe { cring_attr_value_u64(&a, &mut v) }, OK);
                    bytes = Some(v);
                }
            }
            cring_status::Empty => break,
            s => panic!("{s:?}: {}", last_error()),
        }
    }
    assert_eq!(bytes, Some(5));
    drop(r);

    // A record ring too small for a completion record is refused as an argument error.
    let tiny_cfg = cring_records_config_init(64);
    let mut tiny = cring_records::default();
    // SAFETY: valid pointers to locals.
    unsafe {
        assert_eq!(cring_records_create_heap(&tiny_cfg, &mut tiny), OK);
        let mut t2 = cring_aio_target { id: 5 };
        assert_eq!(
            cring_aio_target_open_records(tiny, &mut t2),
            cring_status::InvalidArgument
        );
        assert_eq!(t2.id, 0);
    }
    assert_eq!(cring_aio_pool_destroy(p), OK);
    assert_eq!(cring_aio_target_close(t), OK);
    assert_eq!(cring_record_consumer_close(rc), OK);
    assert_eq!(cring_records_close(rr), OK);
    assert_eq!(cring_records_close(tiny), OK);
}

/// Bad handles, handles of the wrong kind, NULL and misaligned pointers, and invalid
/// arguments each get their status (and an untouched or zeroed out value), never a crash.
#[test]
fn bad_handles_and_pointers() {
    use cring_status::*;
    let fx = Fixture::new(8);
    let p = pool(|c| c.max_workers = 1);
    let mut id = 5u64;

    // Configurations.
    let mut out = cring_aio_pool { id: 9 };
    // SAFETY: NULL config; `out` is a local.
    let s = unsafe { cring_aio_pool_create(null(), &mut out) };
    assert_eq!(s, NullPointer);
    assert_eq!(out.id, 0);
    let good = cring_aio_config_init();
    // SAFETY: NULL out.
    let s = unsafe { cring_aio_pool_create(&good, null_mut()) };
    assert_eq!(s, NullPointer);
    for (what, change) in [
        (
            "struct_size",
            &(|c: &mut cring_aio_config| c.struct_size = 8) as &dyn Fn(&mut _),
        ),
        ("max_workers", &|c: &mut cring_aio_config| c.max_workers = 0),
        ("queue_depth", &|c: &mut cring_aio_config| c.queue_depth = 0),
        ("backpressure", &|c: &mut cring_aio_config| {
            c.backpressure = 7
        }),
        ("idle", &|c: &mut cring_aio_config| c.idle_timeout_ns = -1),
        ("signal", &|c: &mut cring_aio_config| {
            c.interrupt_signal = -5
        }),
        ("reserved", &|c: &mut cring_aio_config| c.reserved = 1),
        // 10_000 is no signal number.
        ("signal", &|c: &mut cring_aio_config| {
            c.interrupt_signal = 10_000
        }),
    ] {
        let mut cfg = good;
        change(&mut cfg);
        // SAFETY: valid pointers to locals.
        let s = unsafe { cring_aio_pool_create(&cfg, &mut out) };
        assert_eq!(
            (s, out.id),
            (InvalidArgument, 0),
            "{what}: {}",
            last_error()
        );
    }

    // Handles: zero, closed, and of another kind.
    let n = sub(CRING_AIO_OP_NOP, -1, 1, fx.t);
    // SAFETY: no memory is lent.
    unsafe {
        assert_eq!(submit(cring_aio_pool { id: 0 }, &n), (BadHandle, 0));
        assert_eq!(submit(cring_aio_pool { id: fx.t.id }, &n).0, BadHandle);
        assert!(
            last_error().contains("is a target, not a pool"),
            "{}",
            last_error()
        );
        assert_eq!(submit(cring_aio_pool { id: fx.ring.id }, &n).0, BadHandle);
        let mut wrong = n;
        wrong.target = cring_aio_target { id: p.id };
        assert_eq!(submit(p, &wrong).0, BadHandle);
        assert!(
            last_error().contains("is a pool, not a target"),
            "{}",
            last_error()
        );
        wrong.target = cring_aio_target { id: fx.c.id };
        assert_eq!(submit(p, &wrong).0, BadHandle);
    }
    assert_eq!(
        cring_aio_target_close(cring_aio_target { id: p.id }),
        BadHandle
    );
    assert_eq!(
        cring_aio_pool_destroy(cring_aio_pool { id: fx.t.id }),
        BadHandle
    );
    assert_eq!(cring_aio_pool_drain(cring_aio_pool { id: 0 }, 0), BadHandle);
    let mut outcome = 9;
    // SAFETY: a local.
    let s = unsafe { cring_aio_cancel(cring_aio_pool { id: 0 }, 1, &mut outcome) };
    assert_eq!(s, BadHandle);
    assert_eq!(outcome, 0);
    // SAFETY: NULL outcome.
    assert_eq!(unsafe { cring_aio_cancel(p, 1, null_mut()) }, NullPointer);
    let mut t = cring_aio_target { id: 3 };
    // SAFETY: a local.
    let s = unsafe { cring_aio_target_open(cring_ring { id: 0 }, &mut t) };
    assert_eq!(s, BadHandle);
    assert_eq!(t.id, 0);
    let mut stats = cring_aio_stats::default();
    // SAFETY: a local, with a wrong size, then NULL.
    unsafe {
        assert_eq!(cring_aio_pool_get_stats(p, &mut stats, 8), InvalidArgument);
        assert_eq!(
            cring_aio_pool_get_stats(p, null_mut(), std::mem::size_of_val(&stats)),
            NullPointer
        );
    }

    // Submission pointers and arguments.
    // SAFETY: each call is refused before any lent memory is used (none is valid here).
    unsafe {
        assert_eq!(cring_aio_submit(p, null(), SUB, &mut id), NullPointer);
        assert_eq!(id, 0);
        assert_eq!(cring_aio_submit(p, &n, SUB, null_mut()), NullPointer);
        assert_eq!(cring_aio_submit(p, &n, SUB - 8, &mut id), InvalidArgument);
        let mut s = sub(CRING_AIO_OP_READ, 0, 1, fx.t);
        s.len = 8;
        assert_eq!(submit(p, &s).0, NullPointer);
        assert!(last_error().contains("sub.buf"), "{}", last_error());
        s.op = 99;
        assert_eq!(submit(p, &s).0, InvalidArgument);
        let mut sx = sub(CRING_AIO_OP_STATX, libc::AT_FDCWD, 1, fx.t);
        sx.path = c"/".as_ptr();
        assert_eq!(submit(p, &sx).0, NullPointer);
        let mut st = [0u64; 40];
        sx.buf = st.as_mut_ptr().cast::<u8>().add(4).cast();
        assert_eq!(submit(p, &sx).0, Misaligned);
        sx.buf = st.as_mut_ptr().cast();
        sx.path = null();
        assert_eq!(submit(p, &sx).0, NullPointer);
        let o = sub(CRING_AIO_OP_OPENAT, libc::AT_FDCWD, 1, fx.t);
        assert_eq!(submit(p, &o).0, NullPointer);
        let mut cl = sub(CRING_AIO_OP_CLOSE, -1, 1, fx.t);
        assert_eq!(submit(p, &cl).0, InvalidArgument);
        cl.op = CRING_AIO_OP_CLOSE_CANCELLING;
        assert_eq!(submit(p, &cl).0, InvalidArgument);
        assert_eq!(cring_aio_close(p, fx.t, -3, 1, 1, &mut id), InvalidArgument);
        let mut v = sub(CRING_AIO_OP_READV, 0, 1, fx.t);
        v.len = 2;
        assert_eq!(submit(p, &v).0, NullPointer);
        v.len = 5000;
        v.buf = st.as_mut_ptr().cast();
        assert_eq!(submit(p, &v).0, InvalidArgument);
        // Buffers larger than a completion's result can report: refused by the pool before
        // anything runs.
        let mut big = sub(CRING_AIO_OP_PREAD, 0, 1, fx.t);
        big.buf = st.as_mut_ptr().cast();
        big.len = 1 << 31;
        assert_eq!(submit(p, &big).0, TooLarge);
        let mut accepted = 5;
        assert_eq!(
            cring_aio_submit_batch(p, null(), 1, SUB, null_mut(), &mut accepted),
            NullPointer
        );
        assert_eq!(accepted, 0);
        assert_eq!(
            cring_aio_submit_batch(p, &n, 1, SUB, null_mut(), null_mut()),
            NullPointer
        );
        assert_eq!(
            cring_aio_submit_batch(p, &n, 1, SUB + 8, null_mut(), &mut accepted),
            InvalidArgument
        );
    }
    assert!(fx.nothing_within(20), "nothing refused was run");

    // Targets: a ring of opaque entries, and a single-producer ring whose producer is taken.
    let mut cfg = cring_config_init(8);
    cfg.entry = cring_entry_opaque(8, 8);
    let mut opaque = cring_ring::default();
    let mut spsc = cring_ring::default();
    let mut prod = cring_producer::default();
    // SAFETY: valid pointers to locals.
    unsafe {
        assert_eq!(cring_ring_create_heap(&cfg, &mut opaque), OK);
        assert_eq!(cring_aio_target_open(opaque, &mut t), EntryMismatch);
        assert_eq!(t.id, 0);
        assert_eq!(cring_ring_create_heap(&cring_config_init(8), &mut spsc), OK);
        assert_eq!(cring_producer_open(spsc, &mut prod), OK);
        assert_eq!(cring_aio_target_open(spsc, &mut t), Busy);
        assert_eq!(cring_producer_close(prod), OK);
        // Free again: the target takes the single-producer claim.
        assert_eq!(cring_aio_target_open(spsc, &mut t), OK);
        assert_eq!(cring_producer_open(spsc, &mut prod), Busy);
    }
    assert_eq!(cring_aio_target_close(t), OK);
    assert_eq!(cring_aio_target_close(t), BadHandle);
    assert_eq!(cring_ring_close(opaque), OK);
    assert_eq!(cring_ring_close(spsc), OK);

    // Destroyed: every call refuses the handle.
    assert_eq!(cring_aio_pool_destroy(p), OK);
    assert_eq!(cring_aio_pool_destroy(p), BadHandle);
    // SAFETY: no memory is lent.
    assert_eq!(unsafe { submit(p, &n) }.0, BadHandle);
    fx.close();
}

/// A target outlives its handle while submissions use it; a pool destroyed while four threads
/// submit to it: their later calls get `CRING_STATUS_BAD_HANDLE` (or `CRING_STATUS_CLOSED`
/// inside the call), and every accepted submission gets exactly one completion, all posted
/// before the destroy returns.
#[test]
fn target_closed_while_in_flight_and_destroy_under_load() {
    let fx = Fixture::new(256);
    let p = pool(|c| {
        c.max_workers = 1;
        c.interrupt_signal = CRING_AIO_NO_INTERRUPT;
    });
    let (r, w) = pipe();
    let mut t2 = cring_aio_target::default();
    // SAFETY: a local.
    assert_eq!(unsafe { cring_aio_target_open(fx.ring, &mut t2) }, OK);
    let mut b = [0u8; 2];
    let mut s = sub(CRING_AIO_OP_READ, r.as_raw_fd(), 1, t2);
    s.buf = b.as_mut_ptr().cast();
    s.len = 2;
    // SAFETY: `b` is left alone until the completion is reaped.
    unsafe { submit_ok(p, &s) };
    assert_eq!(cring_aio_target_close(t2), OK);
    std::io::Write::write_all(&mut std::fs::File::from(w), b"ok").unwrap();
    let c = fx.reap(1)[0];
    assert_eq!((c.user_data, c.result), (1, 2));
    assert_eq!(&b, b"ok");

    // 4 threads submit nops as fast as they can while the main thread destroys the pool.
    let pool_id = p.id;
    let t = fx.t;
    let threads: Vec<_> = (0..4u64)
        .map(|k| {
            std::thread::spawn(move || {
                let mut accepted = 0u64;
                for i in 0..10_000u64 {
                    let n = sub(CRING_AIO_OP_NOP, -1, (k << 32) | i, t);
                    // SAFETY: no memory is lent.
                    match unsafe { submit(cring_aio_pool { id: pool_id }, &n) }.0 {
                        cring_status::Ok => accepted += 1,
                        // Closed: the pool shut down while this call was in it.
                        cring_status::BadHandle | cring_status::Closed => break,
                        s => panic!("{s:?}: {}", last_error()),
                    }
                }
                accepted
            })
        })
        .collect();
    // A consumer keeps reaping, until the pool is destroyed and the ring is empty, so that a
    // full ring never stalls the workers (nor the destroy, which waits for them).
    let destroyed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reaper = {
        let c = fx.c;
        let destroyed = destroyed.clone();
        std::thread::spawn(move || {
            let mut seen = std::collections::HashSet::new();
            let mut buf = vec![cring_completion::default(); 128];
            let start = Instant::now();
            loop {
                let done = destroyed.load(std::sync::atomic::Ordering::SeqCst);
                let mut count = 0;
                // SAFETY: `buf` holds 128 completions.
                let s = unsafe {
                    cring_consumer_reap(
                        c,
                        buf.as_mut_ptr().cast(),
                        128,
                        CSIZE,
                        1,
                        50_000_000,
                        &mut count,
                    )
                };
                assert!(s == OK || s == cring_status::TimedOut, "{s:?}");
                for e in &buf[..count] {
                    assert!(seen.insert(e.user_data), "duplicate {}", e.user_data);
                }
                if count == 0 && done {
                    return seen.len() as u64;
                }
                assert!(start.elapsed() < Duration::from_secs(120), "reaper stuck");
            }
        })
    };
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(cring_aio_pool_destroy(p), OK);
    destroyed.store(true, std::sync::atomic::Ordering::SeqCst);
    let accepted: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let delivered = reaper.join().unwrap();
    assert_eq!(delivered, accepted, "every accepted nop completes once");
    fx.close();
}

/// A submitter waiting for room (backpressure WAIT without a limit) when the pool is
/// destroyed is released with `CRING_STATUS_CLOSED` (or `CRING_STATUS_BAD_HANDLE` had it come
/// after the close), and the destroy does not wait for it for ever.
#[test]
fn destroy_releases_a_waiting_submitter() {
    let fx = Fixture::new(16);
    let p = pool(|c| {
        c.max_workers = 1;
        c.queue_depth = 1;
        c.backpressure = CRING_AIO_BACKPRESSURE_WAIT;
        c.backpressure_timeout_ns = CRING_TIMEOUT_INFINITE;
    });
    let (r, _w) = pipe();
    let mut b = [0u8; 1];
    let mut s = sub(CRING_AIO_OP_READ, r.as_raw_fd(), 1, fx.t);
    s.buf = b.as_mut_ptr().cast();
    s.len = 1;
    // SAFETY: `b` outlives the pool (destroyed below, which cancels the read).
    unsafe { submit_ok(p, &s) };
    let t = fx.t;
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        tx.send(()).unwrap();
        // SAFETY: no memory is lent.
        unsafe { submit(p, &sub(CRING_AIO_OP_NOP, -1, 2, t)) }.0
    });
    rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (dtx, drx) = std::sync::mpsc::channel();
    let destroyer = std::thread::spawn(move || dtx.send(cring_aio_pool_destroy(p)).unwrap());
    let status = drx
        .recv_timeout(Duration::from_secs(60))
        .expect("the destroy hung behind the waiting submitter");
    assert_eq!(status, OK);
    destroyer.join().unwrap();
    let refused = waiter.join().unwrap();
    assert!(
        refused == cring_status::Closed || refused == cring_status::BadHandle,
        "{refused:?}"
    );
    // The read was cancelled: its completion, and none for the refused nop.
    let c = fx.reap(1)[0];
    assert_eq!((c.user_data, c.result), (1, -libc::ECANCELED));
    assert!(fx.nothing_within(20));
    assert_eq!(b, [0]);
    fx.close();
}

/// `worker_cpus`: a pool pinned to one CPU (the last this thread may use, so that on a machine
/// with several the pin is not the scheduler's own choice) posts completion records whose
/// worker-CPU attribute names it; a config of the first version's size is accepted and pins
/// nothing; a mask with no usable CPU is an argument error.
#[test]
fn pinned_workers_post_from_their_cpu() {
    let allowed = ring_aio::CpuSet::current().unwrap();
    let cpu = allowed.iter().last().unwrap();
    let (rr, rc, t) = record_target();
    let p = pool(|c| {
        c.max_workers = 2;
        c.worker_cpus[cpu / 64] |= 1 << (cpu % 64);
    });
    const OPS: u64 = 16;
    for i in 0..OPS {
        // SAFETY: a NOP lends no memory.
        unsafe { submit_ok(p, &sub(CRING_AIO_OP_NOP, -1, i, t)) };
    }
    let mut cpus = Vec::new();
    while (cpus.len() as u64) < OPS {
        let (buf, len, _) = next_record(rc);
        let mut c = cring_completion::default();
        // SAFETY: all-zero bytes are a valid iterator, set up by the call.
        let mut it: cring_attr_iter = unsafe { std::mem::zeroed() };
        // SAFETY: `buf` holds `len` bytes of the record.
        let st = unsafe { cring_attr_iter_init(buf.as_ptr().cast(), len, &mut c, &mut it) };
        assert_eq!(st, OK, "{}", last_error());
        let mut seen = None;
        loop {
            // SAFETY: all-zero bytes are a valid attribute; `it` reads `buf`.
            let mut a: cring_attr = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            match unsafe { cring_attr_next(&mut it, &mut a) } {
                cring_status::Ok if a.id == CRING_ATTR_WORKER_CPU && a.len == 4 => {
                    // SAFETY: `a.value` points to its 4 bytes inside `buf`.
                    let v = unsafe { a.value.cast::<[u8; 4]>().read_unaligned() };
                    seen = Some(u32::from_le_bytes(v) as usize);
                }
                cring_status::Ok => {}
                cring_status::Empty => break,
                s => panic!("{s:?}: {}", last_error()),
            }
        }
        cpus.push(seen.expect("a worker-CPU attribute"));
    }
    assert!(cpus.iter().all(|&c| c == cpu), "{cpus:?}, pinned to {cpu}");
    assert_eq!(cring_aio_pool_destroy(p), OK);

    // The first version's size: accepted, the fields after it not read (a mask there that
    // would be refused is ignored).
    let mut old = cring_aio_config_init();
    old.struct_size = CRING_AIO_CONFIG_SIZE_V1;
    old.worker_cpus[15] = 1 << 63; // CPU 1023: refused below when it is read
    let mut out = cring_aio_pool::default();
    // SAFETY: valid pointers to locals.
    let s = unsafe { cring_aio_pool_create(&old, &mut out) };
    assert_eq!(s, OK, "{}", last_error());
    assert_eq!(cring_aio_pool_destroy(out), OK);
    // CPU 1023: no such CPU here (unless it is allowed, then skip).
    if !allowed.contains(1023) {
        let mut bad = cring_aio_config_init();
        bad.worker_cpus[15] = 1 << 63;
        let mut out = cring_aio_pool::default();
        // SAFETY: valid pointers to locals.
        let s = unsafe { cring_aio_pool_create(&bad, &mut out) };
        assert_eq!(
            (s, out.id),
            (cring_status::InvalidArgument, 0),
            "{}",
            last_error()
        );
        assert!(
            last_error().contains("no CPU that is online"),
            "{}",
            last_error()
        );
    }
    assert_eq!(cring_aio_target_close(t), OK);
    assert_eq!(cring_record_consumer_close(rc), OK);
    assert_eq!(cring_records_close(rr), OK);
}
