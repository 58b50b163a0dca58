//! Outputs are reclaimed on every path: taken after the completion, taken after a
//! cancellation, and never taken (the pool dropped, with outputs in their slots and in the
//! spill map). A counting allocator follows the buffers the tests hand to the pool: each test
//! uses buffers of its own odd size, so that it counts only its own (the tests of this binary
//! may run in parallel), and checks that none is alive once it is done. Every wait is bounded.

use ring_aio::{
    flags, CancelOutcome, Op, Output, Pool, PoolConfig, Submission, SubmissionId, Target,
};
use ring_core::{Completion, Config, Consumer, Mode, Ring};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicIsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// Buffer sizes the allocator follows (one per test), and how many of each are alive.
const SIZES: [usize; 4] = [3001, 3003, 3005, 3007];
static LIVE: [AtomicIsize; 4] = [const { AtomicIsize::new(0) }; 4];

fn follow(size: usize, delta: isize) {
    if let Some(i) = SIZES.iter().position(|&s| s == size) {
        LIVE[i].fetch_add(delta, SeqCst);
    }
}

fn live(size: usize) -> isize {
    LIVE[SIZES.iter().position(|&s| s == size).unwrap()].load(SeqCst)
}

struct Counting;

// SAFETY: every call is passed on to the system allocator unchanged; the counting only reads
// the layouts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        follow(layout.size(), 1);
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        follow(layout.size(), 1);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        follow(layout.size(), -1);
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        follow(layout.size(), -1);
        follow(new_size, 1);
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const DEADLINE: Duration = Duration::from_secs(20);

fn ring(cap: u32) -> Ring<Completion> {
    Ring::create_heap(Config::new(cap).mode(Mode::Mpsc).overflow(4096)).unwrap()
}

/// Reaps exactly `n` completions or panics at the deadline.
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

/// A file of `len` bytes to read from.
fn data_file(tag: &str, len: usize) -> std::fs::File {
    let path = std::env::temp_dir().join(format!("ring-aio-outputs-{tag}-{}", std::process::id()));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&vec![7u8; len]).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    f
}

/// Many preads through a small queue depth (so that ids lap the slot table many times),
/// outputs taken as completions arrive: each comes back once, with the bytes read, and none
/// is left alive at the end.
#[test]
fn taken_outputs_are_reclaimed() {
    const SIZE: usize = SIZES[0];
    let file = data_file("taken", SIZE * 4);
    let r = ring(64);
    let target = Target::new(&r).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(4).queue_depth(16)).unwrap();
    let mut rx = r.consumer().unwrap();
    let total = 5_000;
    let mut seen = HashSet::new();
    let mut submitted = 0;
    while seen.len() < total {
        while submitted < total && submitted - seen.len() < 16 {
            let op = Op::pread(
                file.as_raw_fd(),
                vec![0; SIZE],
                (submitted % 4 * SIZE) as u64,
            );
            pool.submit(Submission::new(op, &target))
                .map_err(|r| r.error)
                .unwrap();
            submitted += 1;
        }
        for c in reap_n(&mut rx, 1) {
            assert_eq!(c.result, SIZE as i32);
            assert!(c.flags & flags::OUTPUT != 0);
            match pool.take_output(SubmissionId(c.user_data)) {
                Some(Output::Buffer(b)) => assert!(b.len() == SIZE && b.iter().all(|&x| x == 7)),
                other => panic!("{other:?}"),
            }
            assert!(
                pool.take_output(SubmissionId(c.user_data)).is_none(),
                "taken twice"
            );
            assert!(seen.insert(c.user_data), "a duplicated completion");
        }
    }
    assert_eq!(live(SIZE), 0, "buffers alive after every output was taken");
    drop(pool);
    assert_eq!(live(SIZE), 0);
}

/// Outputs never taken, more of them than the slot table holds (so some spill): all are
/// still there to take, in any order; those left are freed when the pool is dropped.
#[test]
fn untaken_outputs_are_freed_with_the_pool() {
    const SIZE: usize = SIZES[1];
    let file = data_file("untaken", SIZE);
    let r = ring(64);
    let target = Target::new(&r).unwrap();
    // Queue depth 8: a table of 64 slots, far fewer than the outputs left in it.
    let pool = Pool::new(PoolConfig::new().max_workers(2).queue_depth(8)).unwrap();
    let mut rx = r.consumer().unwrap();
    let n = 1_000;
    let mut ids = Vec::new();
    for _ in 0..n {
        let op = Op::pread(file.as_raw_fd(), vec![0; SIZE], 0);
        ids.push(
            pool.submit(Submission::new(op, &target))
                .map_err(|r| r.error)
                .unwrap(),
        );
        // Keep the ring from filling: reap what is there.
        let mut out = [Completion::default(); 64];
        rx.reap(&mut out, 0, Some(Duration::ZERO)).unwrap();
    }
    assert!(pool.drain(Some(DEADLINE)), "the pool did not drain");
    assert_eq!(live(SIZE), n as isize, "every output is held by the pool");
    // Take every third one, from the end: slots and spill map alike.
    for id in ids.iter().rev().step_by(3) {
        assert!(matches!(pool.take_output(*id), Some(Output::Buffer(b)) if b.len() == SIZE));
    }
    let taken = ids.iter().rev().step_by(3).count() as isize;
    assert_eq!(live(SIZE), n as isize - taken);
    drop(pool);
    assert_eq!(live(SIZE), 0, "untaken outputs leaked by the pool's drop");
}

/// Cancelled operations hand their buffers back as outputs: taken or left in the pool,
/// none leaks. Reads of an empty pipe stay blocked: the first few run (then are
/// interrupted), the rest are queued (then cancelled before they start).
#[test]
fn cancelled_outputs_are_reclaimed() {
    const SIZE: usize = SIZES[2];
    let (rd, _wr) = pipe();
    let r = ring(64);
    let target = Target::new(&r).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(2).queue_depth(64)).unwrap();
    let mut rx = r.consumer().unwrap();
    let ids: Vec<_> = (0..20)
        .map(|_| {
            let op = Op::read(rd.as_raw_fd(), vec![0; SIZE]);
            pool.submit(Submission::new(op, &target))
                .map_err(|r| r.error)
                .unwrap()
        })
        .collect();
    // Let the two workers start their reads.
    let start = Instant::now();
    while pool.stats().queued > 18 {
        assert!(start.elapsed() < DEADLINE, "the workers never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    for id in &ids {
        let o = pool.cancel(*id);
        assert!(
            matches!(
                o,
                CancelOutcome::Canceled | CancelOutcome::Interrupted | CancelOutcome::Signalled
            ),
            "{o:?}"
        );
    }
    let done = reap_n(&mut rx, ids.len());
    assert!(done
        .iter()
        .all(|c| c.result == -libc::ECANCELED && c.flags & flags::OUTPUT != 0));
    // Half taken, half left for the pool's drop.
    for id in ids.iter().step_by(2) {
        assert!(matches!(pool.take_output(*id), Some(Output::Buffer(b)) if b.len() == SIZE));
    }
    assert_eq!(live(SIZE), 10);
    drop(pool);
    assert_eq!(live(SIZE), 0, "cancelled outputs leaked");
}

/// Outputs of operations still queued when the pool is dropped (cancelled by the drop) are
/// freed too.
#[test]
fn outputs_of_a_dropped_pool_with_work_in_flight_are_freed() {
    const SIZE: usize = SIZES[3];
    let (rd, _wr) = pipe();
    let r = ring(64);
    let target = Target::new(&r).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(1).queue_depth(64)).unwrap();
    for _ in 0..30 {
        let op = Op::read(rd.as_raw_fd(), vec![0; SIZE]);
        pool.submit(Submission::new(op, &target))
            .map_err(|r| r.error)
            .unwrap();
    }
    drop(pool);
    let mut rx = r.consumer().unwrap();
    assert_eq!(reap_n(&mut rx, 30).len(), 30);
    assert_eq!(live(SIZE), 0, "outputs of cancelled work leaked");
}

fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    use std::os::fd::FromRawFd;
    // SAFETY: both descriptors were just created and are owned here.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    }
}
