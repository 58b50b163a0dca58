//! Operations on memory the caller owns (`Op::read_raw`, `write_raw`, `readv_raw`,
//! `writev_raw`, `statx_raw`), what the C ABI submits, and `Op::into_fd`. Every wait is bounded.

use ring_aio::{
    flags, Backpressure, CancelOutcome, Op, Pool, PoolConfig, Submission, SubmitError, Target,
};
use ring_core::{Completion, Config, Consumer, Mode, Ring};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

fn ring() -> Ring<Completion> {
    Ring::create_heap(Config::new(64).mode(Mode::Mpsc)).unwrap()
}

fn reap_n(rx: &mut Consumer<Completion>, n: usize) -> Vec<Completion> {
    let mut out = vec![Completion::default(); n];
    let mut got = 0;
    let start = Instant::now();
    while got < n {
        let left = DEADLINE
            .checked_sub(start.elapsed())
            .unwrap_or_else(|| panic!("only {got} of {n} completions within {DEADLINE:?}"));
        got += rx.reap(&mut out[got..], n - got, Some(left)).unwrap();
    }
    out
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn temp_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ring-aio-raw-{tag}-{}", std::process::id()))
}

fn submit(pool: &Pool, op: Op, t: &Target, cookie: u64) -> ring_aio::SubmissionId {
    pool.submit(Submission::new(op, t).cookie(cookie))
        .map_err(|r| r.error)
        .unwrap()
}

/// pwrite_raw, pread_raw, writev_raw at an offset, readv_raw, statx_raw, on a real file; the
/// bytes land in (and come from) the caller's memory, and no output is kept in the pool.
#[test]
fn raw_transfers_and_statx() {
    let ring = ring();
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(3).ordered(true)).unwrap();
    let mut rx = ring.consumer().unwrap();
    let path = temp_path("xfer");
    let _ = std::fs::remove_file(&path);
    let file = std::fs::OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let fd = file.as_raw_fd();

    let data = b"0123456789abcdef".to_vec();
    // SAFETY: `data` is only read until the completion is reaped below.
    let op = unsafe { Op::write_raw(fd, data.as_ptr(), data.len(), Some(0)) };
    assert_eq!(op.name(), "pwrite");
    let id = submit(&pool, op, &t, 1);
    let c = reap_n(&mut rx, 1)[0];
    assert_eq!((c.user_data, c.result, c.flags & flags::OUTPUT), (1, 16, 0));
    assert!(pool.take_output(id).is_none());

    let (a, b) = (b"ABC".to_vec(), b"DE".to_vec());
    // The iovec array lives only in this block: the operation keeps a copy.
    let op = {
        let iov = [
            libc::iovec {
                iov_base: a.as_ptr() as *mut libc::c_void,
                iov_len: a.len(),
            },
            libc::iovec {
                iov_base: b.as_ptr() as *mut libc::c_void,
                iov_len: b.len(),
            },
        ];
        // SAFETY: `a` and `b` are only read until the completion is reaped.
        unsafe { Op::writev_raw(fd, &iov, Some(4)) }
    };
    submit(&pool, op, &t, 2);
    let c = reap_n(&mut rx, 1)[0];
    assert_eq!((c.user_data, c.result), (2, 5));

    let mut buf = vec![0u8; 32];
    // SAFETY: `buf` is not touched until the completion is reaped.
    let op = unsafe { Op::read_raw(fd, buf.as_mut_ptr(), buf.len(), Some(2)) };
    assert_eq!(op.name(), "pread");
    submit(&pool, op, &t, 3);
    let c = reap_n(&mut rx, 1)[0];
    assert_eq!((c.user_data, c.result), (3, 14));
    assert_eq!(&buf[..14], b"23ABCDE9abcdef");
    assert!(
        buf[14..].iter().all(|&x| x == 0),
        "nothing beyond the result"
    );

    let (mut x, mut y) = (vec![0u8; 4], vec![0u8; 100]);
    let iov = [
        libc::iovec {
            iov_base: x.as_mut_ptr().cast(),
            iov_len: x.len(),
        },
        libc::iovec {
            iov_base: y.as_mut_ptr().cast(),
            iov_len: y.len(),
        },
    ];
    // SAFETY: `x` and `y` are not touched until the completion is reaped.
    let op = unsafe { Op::readv_raw(fd, &iov, Some(0)) };
    submit(&pool, op, &t, 4);
    let c = reap_n(&mut rx, 1)[0];
    assert_eq!((c.user_data, c.result), (4, 16));
    assert_eq!(&x, b"0123");
    assert_eq!(&y[..12], b"ABCDE9abcdef");

    // SAFETY: all-zero bytes are a valid statx.
    let mut st: Box<libc::statx> = Box::new(unsafe { std::mem::zeroed() });
    // SAFETY: `st` is not touched until the completion is reaped.
    let op =
        unsafe { Op::statx_raw(libc::AT_FDCWD, &path, 0, libc::STATX_SIZE, &mut *st).unwrap() };
    assert_eq!(op.fd(), None);
    submit(&pool, op, &t, 5);
    let c = reap_n(&mut rx, 1)[0];
    assert_eq!((c.user_data, c.result, c.flags & flags::OUTPUT), (5, 0, 0));
    assert_eq!(st.stx_size, 16);
    assert!(st.stx_mask & libc::STATX_SIZE != 0);

    // A failing statx leaves the caller's struct alone and reports -errno.
    st.stx_size = 12345;
    let missing = temp_path("missing");
    // SAFETY: as above.
    let op =
        unsafe { Op::statx_raw(libc::AT_FDCWD, &missing, 0, libc::STATX_SIZE, &mut *st) }.unwrap();
    submit(&pool, op, &t, 6);
    let c = reap_n(&mut rx, 1)[0];
    assert_eq!((c.user_data, c.result), (6, -libc::ENOENT));
    assert_eq!(st.stx_size, 12345);

    drop(file);
    std::fs::remove_file(&path).unwrap();
}

/// Raw reads and writes on a descriptor take part in its ordering: an fsync waits for an
/// earlier raw write, and ordered mode runs a raw read after the raw write before it.
#[test]
fn raw_writes_are_writes_for_barriers() {
    let ring = ring();
    let t = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(4)).unwrap();
    let mut rx = ring.consumer().unwrap();
    let (r, w) = pipe();
    // A raw write into a full pipe blocks; the fsync after it must wait for it.
    let fill = vec![7u8; 1 << 20];
    // SAFETY: `fill` lives until its completion is reaped below.
    let op = unsafe { Op::write_raw(w.as_raw_fd(), fill.as_ptr(), fill.len(), None) };
    submit(&pool, op, &t, 1);
    submit(&pool, Op::fsync(w.as_raw_fd()), &t, 2);
    let mut one = [Completion::default(); 1];
    assert_eq!(
        rx.reap(&mut one, 1, Some(Duration::from_millis(100)))
            .unwrap(),
        0,
        "the fsync ran before the write it must wait for: {:?}",
        one[0]
    );
    // Drain the pipe: the write completes, then the fsync (EINVAL on a pipe).
    let mut reader = std::fs::File::from(r);
    let mut sink = vec![0u8; 1 << 20];
    std::io::Read::read_exact(&mut reader, &mut sink).unwrap();
    let done = reap_n(&mut rx, 2);
    assert_eq!(
        (done[0].user_data, done[0].result),
        (1, 1 << 20),
        "{done:?}"
    );
    assert_eq!(
        (done[1].user_data, done[1].result),
        (2, -libc::EINVAL),
        "{done:?}"
    );
}

/// A queued raw read is cancelled without touching the buffer; a running one is interrupted;
/// a refused one is handed back unrun.
#[test]
fn raw_cancel_and_refusal() {
    let ring = ring();
    let t = Target::new(&ring).unwrap();
    let cfg = PoolConfig::new()
        .max_workers(1)
        .queue_depth(2)
        .backpressure(Backpressure::Fail);
    let pool = Pool::new(cfg).unwrap();
    let mut rx = ring.consumer().unwrap();
    let (r, w) = pipe();
    let mut first = [0u8; 4];
    let mut second = [0xAAu8; 4];
    let mut third = [0xBBu8; 4];
    // The buffers are not touched until their completions are reaped (or the submission is
    // refused).
    let lend = |buf: &mut [u8; 4]| {
        let p = buf.as_mut_ptr();
        // SAFETY: see above.
        unsafe { Op::read_raw(r.as_raw_fd(), p, 4, None) }
    };
    let (op1, op2, op3) = (lend(&mut first), lend(&mut second), lend(&mut third));
    let id1 = submit(&pool, op1, &t, 1);
    let id2 = submit(&pool, op2, &t, 2);
    let refused = pool.submit(Submission::new(op3, &t).cookie(3)).unwrap_err();
    assert_eq!(refused.error, SubmitError::QueueFull { depth: 2 });
    drop(refused);
    assert_eq!(third, [0xBB; 4]);

    // The single worker runs op1 (blocked on the empty pipe); op2 is queued behind it.
    let start = Instant::now();
    while pool.stats().queued != 1 || pool.stats().idle != 0 {
        assert!(start.elapsed() < DEADLINE, "{:?}", pool.stats());
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(pool.cancel(id2), CancelOutcome::Canceled);
    let c = reap_n(&mut rx, 1)[0];
    assert_eq!((c.user_data, c.result), (2, -libc::ECANCELED));
    assert_eq!(c.flags & flags::OUTPUT, 0);
    assert_eq!(
        second, [0xAA; 4],
        "a cancelled read never touched its buffer"
    );

    std::thread::sleep(Duration::from_millis(10));
    let outcome = pool.cancel(id1);
    assert!(
        matches!(
            outcome,
            CancelOutcome::Interrupted | CancelOutcome::Signalled
        ),
        "{outcome:?}"
    );
    let c = reap_n(&mut rx, 1)[0];
    assert_eq!((c.user_data, c.result), (1, -libc::ECANCELED));
    assert_eq!(
        c.flags & (flags::CANCELED | flags::INTERRUPTED),
        flags::CANCELED | flags::INTERRUPTED
    );
    // The pipe still works, and the buffer was not written.
    std::fs::File::from(w).write_all(b"z").unwrap();
    assert_eq!(first, [0; 4]);
}

/// `into_fd` gives a close's descriptor back open; a refused close handed back that way stays
/// open too.
#[test]
fn into_fd_keeps_the_descriptor_open() {
    let (r, _w) = pipe();
    let raw = r.as_raw_fd();
    let back = Op::close_cancelling(r)
        .into_fd()
        .expect("a close owns its fd");
    assert_eq!(back.as_raw_fd(), raw);
    // SAFETY: F_GETFD on a descriptor number only queries it.
    assert!(unsafe { libc::fcntl(raw, libc::F_GETFD) } >= 0);

    let ring = ring();
    let t = Target::new(&ring).unwrap();
    let cfg = PoolConfig::new()
        .max_workers(1)
        .queue_depth(1)
        .backpressure(Backpressure::Fail);
    let pool = Pool::new(cfg).unwrap();
    let (blocker_r, _blocker_w) = pipe();
    let mut b = [0u8; 1];
    // SAFETY: `b` outlives the pool, which cancels the read when dropped.
    let op = unsafe { Op::read_raw(blocker_r.as_raw_fd(), b.as_mut_ptr(), 1, None) };
    submit(&pool, op, &t, 1);
    let refused = pool
        .submit(Submission::new(Op::close(back), &t))
        .unwrap_err();
    let kept = refused.submission.into_op().into_fd().unwrap();
    assert_eq!(kept.as_raw_fd(), raw);
    // SAFETY: as above.
    assert!(unsafe { libc::fcntl(raw, libc::F_GETFD) } >= 0);
    drop(pool);
    assert_eq!(b, [0]);
}
