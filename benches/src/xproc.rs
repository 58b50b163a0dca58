//! Benchmarks between two processes: round-trip latency over shared memory in `/dev/shm` (ours,
//! the floor ring, ipmpsc) and over a pipe and a Unix socket, and the wake-up latency of a
//! consumer asleep in another process (ours through the futex and through the eventfd, against
//! a bare futex wake and a bare eventfd write).
//!
//! The child process is this very executable, started again with the environment variable
//! [`CHILD_ENV`] naming its role: every `main` of this crate calls [`crate::child::run_child_if_requested`]
//! first. The parent measures and is pinned to allowed core 0; the child pins itself to core 1.
//! Shared files are created under `/dev/shm` with names that include the parent's pid and are
//! removed as soon as the child has opened them. The child dies with its parent
//! (`PR_SET_PDEATHSIG`, and it checks `getppid` while it spins).

use crate::affinity;
use crate::clock;
use crate::floor::{floor_bytes, Floor, FloorRx, FloorTx};
use crate::peers::Item;
use crate::threads::STOP;
use crate::workloads::CAP;
use ring_core::{Config, Ring};
use std::fmt::Display;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use testkit::ShmGuard;

/// The environment variable that makes a benchmark executable run as a child process.
pub const CHILD_ENV: &str = "RING_BENCH_CHILD";

/// Errors of the cross-process benchmarks, as text.
pub type Res<T> = Result<T, String>;

pub(crate) fn ctx<E: Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

/// A `/dev/shm` name unique to this process and call (the workspace harness's naming).
pub(crate) fn unique(tag: &str) -> String {
    testkit::unique_name_in("ring-bench", tag)
}

pub(crate) fn shm_path(name: &str) -> String {
    format!("/dev/shm/{name}")
}

/// The child process, from the parent's side. Killed if still running when dropped.
pub(crate) struct ChildProc {
    child: Child,
    out: BufReader<ChildStdout>,
    deadline: Instant,
}

impl ChildProc {
    pub(crate) fn spawn(spec: String) -> Res<Self> {
        let exe = std::env::current_exe().map_err(ctx("current_exe"))?;
        let mut child = Command::new(exe)
            .env(CHILD_ENV, &spec)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(ctx("spawning the child process"))?;
        let out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut c = ChildProc {
            child,
            out,
            deadline: Instant::now() + Duration::from_secs(120),
        };
        let mut line = String::new();
        c.out
            .read_line(&mut line)
            .map_err(ctx("reading from the child"))?;
        if line.trim() != "ready" {
            return Err(format!("the child did not start (said {line:?})"));
        }
        Ok(c)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the child has exited or the run has taken too long.
    pub(crate) fn check(&mut self) -> Res<()> {
        if Instant::now() > self.deadline {
            return Err("deadline expired waiting on the child process".into());
        }
        match self.child.try_wait() {
            Ok(Some(status)) => Err(format!("the child process exited: {status}")),
            Ok(None) => Ok(()),
            Err(e) => Err(format!("waiting on the child: {e}")),
        }
    }

    /// Fails if the child has failed (exited unsuccessfully) or the run has taken too long; a
    /// child that finished its work and exited successfully passes.
    pub(crate) fn check_not_failed(&mut self) -> Res<()> {
        if Instant::now() > self.deadline {
            return Err("deadline expired waiting on the child process".into());
        }
        match self.child.try_wait() {
            Ok(Some(status)) if !status.success() => {
                Err(format!("the child process failed: {status}"))
            }
            Ok(_) => Ok(()),
            Err(e) => Err(format!("waiting on the child: {e}")),
        }
    }

    /// Waits (boundedly) for the child to exit after being told to stop.
    pub(crate) fn finish(mut self) -> Res<()> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) if s.success() => return Ok(()),
                Ok(Some(s)) => return Err(format!("the child process failed: {s}")),
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(1)),
                Ok(None) => return Err("the child process did not stop".into()),
                Err(e) => return Err(format!("waiting on the child: {e}")),
            }
        }
    }

    /// Waits until the child's (only) thread is asleep in the kernel (state `S` in
    /// `/proc/<pid>/stat`) and `ready()` holds.
    fn wait_asleep(&mut self, ready: impl Fn() -> bool) -> Res<()> {
        let path = format!("/proc/{}/stat", self.pid());
        let mut n = 0u32;
        loop {
            if ready() {
                let stat =
                    std::fs::read_to_string(&path).map_err(ctx("reading the child's state"))?;
                let state = stat
                    .rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().next());
                if state == Some("S") {
                    return Ok(());
                }
            }
            n += 1;
            if n % 64 == 0 {
                self.check()?;
            }
            for _ in 0..200 {
                std::hint::spin_loop();
            }
        }
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Spins on `poll` until it yields, checking the child every 65,536 polls.
#[inline(always)]
fn spin_until<T>(child: &mut ChildProc, mut poll: impl FnMut() -> Option<T>) -> Res<T> {
    let mut n = 0u32;
    loop {
        if let Some(v) = poll() {
            return Ok(v);
        }
        n = n.wrapping_add(1);
        if n % 65_536 == 0 {
            child.check()?;
        }
        std::hint::spin_loop();
    }
}

/// Pins the calling thread to allowed core 0 for the lifetime of the value.
pub(crate) struct PinGuard;

impl PinGuard {
    pub(crate) fn new() -> Self {
        affinity::pin(affinity::core(0));
        PinGuard
    }
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        affinity::unpin();
    }
}

fn encode(v: &Item) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&v.user_data.to_le_bytes());
    b[8..12].copy_from_slice(&v.result.to_le_bytes());
    b[12..].copy_from_slice(&v.flags.to_le_bytes());
    b
}

fn decode(b: &[u8; 16]) -> Item {
    Item::new(
        u64::from_le_bytes(b[..8].try_into().unwrap()),
        i32::from_le_bytes(b[8..12].try_into().unwrap()),
        u32::from_le_bytes(b[12..].try_into().unwrap()),
    )
}

pub(crate) fn pipe() -> Res<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and belong to nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A copy of `fd` without close-on-exec, for the child to inherit.
pub(crate) fn inheritable(fd: BorrowedFd<'_>) -> Res<OwnedFd> {
    // SAFETY: dup of a valid descriptor; the result is checked.
    let d = unsafe { libc::dup(fd.as_raw_fd()) };
    if d < 0 {
        return Err(format!("dup: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `d` was just created and belongs to nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(d) })
}

/// A new file of `len` zero bytes under `/dev/shm`, mapped.
fn shm_file(name: &str, len: usize) -> Res<memmap2::MmapMut> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(shm_path(name))
        .map_err(ctx("creating a /dev/shm file"))?;
    f.set_len(len as u64)
        .map_err(ctx("sizing a /dev/shm file"))?;
    // SAFETY: the file is ours, and the mapping is used only through atomics and the rings'
    // protocols by the two processes of this benchmark.
    unsafe { memmap2::MmapMut::map_mut(&f) }.map_err(ctx("mapping a /dev/shm file"))
}

fn shm_open(name: &str) -> Res<memmap2::MmapMut> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(shm_path(name))
        .map_err(ctx("opening a /dev/shm file"))?;
    // SAFETY: as in `shm_file`.
    unsafe { memmap2::MmapMut::map_mut(&f) }.map_err(ctx("mapping a /dev/shm file"))
}

/// Runs `rt(r)` (one round trip carrying cookie `r`) `warmup` times, then up to `rounds` times
/// timing each, stopping early after `budget`. Returns nanoseconds per round trip.
fn measure(
    rounds: usize,
    warmup: usize,
    budget: Duration,
    mut rt: impl FnMut(u64) -> Res<()>,
) -> Res<Vec<f64>> {
    for r in 0..warmup as u64 {
        rt(r)?;
    }
    let mut samples = Vec::with_capacity(rounds);
    let start = Instant::now();
    for r in 0..rounds as u64 {
        let t0 = clock::ticks();
        rt(warmup as u64 + r)?;
        let t1 = clock::ticks();
        samples.push(clock::ticks_to_ns(t1.wrapping_sub(t0)));
        if r % 256 == 255 && start.elapsed() > budget {
            break;
        }
    }
    Ok(samples)
}

/// Round-trip contenders between two processes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum XPingPong {
    /// ring-core: two SPSC rings in `/dev/shm`, no wait block, both sides busy-polling.
    Ours,
    /// Two floor rings in one `/dev/shm` file, busy-polling.
    Floor,
    /// The same, re-reading the peer index on every operation.
    FloorUncached,
    /// ipmpsc: two shared ring buffers, busy-polling with `try_recv`.
    Ipmpsc,
    /// Two pipes, blocking reads.
    Pipe,
    /// A Unix stream socket pair, blocking reads.
    UnixSocket,
}

impl XPingPong {
    /// Every contender, ours first.
    pub const ALL: [XPingPong; 6] = [
        XPingPong::Ours,
        XPingPong::Floor,
        XPingPong::FloorUncached,
        XPingPong::Ipmpsc,
        XPingPong::Pipe,
        XPingPong::UnixSocket,
    ];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            XPingPong::Ours => "ours",
            XPingPong::Floor => "floor ring",
            XPingPong::FloorUncached => "floor ring, uncached indices",
            XPingPong::Ipmpsc => "ipmpsc",
            XPingPong::Pipe => "pipe",
            XPingPong::UnixSocket => "Unix socket",
        }
    }

    /// Whether the contender sleeps in the kernel between messages (its round trips cost
    /// microseconds, so runs use fewer of them).
    pub fn blocking(self) -> bool {
        matches!(self, XPingPong::Pipe | XPingPong::UnixSocket)
    }

    /// Round trips with a child process: `rounds` measured (fewer if `budget` runs out) after
    /// `warmup`. Nanoseconds each.
    pub fn run(self, rounds: usize, warmup: usize, budget: Duration) -> Res<Vec<f64>> {
        let _pin = PinGuard::new();
        let core = affinity::core(1);
        match self {
            XPingPong::Ours => {
                let (pn, qn) = (unique("ping"), unique("pong"));
                let cfg = Config::new(CAP).wait(false);
                let ping = Ring::<Item>::create_shm(&pn, cfg).map_err(ctx("ping ring"))?;
                let pong = Ring::<Item>::create_shm(&qn, cfg).map_err(ctx("pong ring"))?;
                let mut child = ChildProc::spawn(format!("pp-ours {pn} {qn} {core}"))?;
                ping.region().unlink().map_err(ctx("unlink"))?;
                pong.region().unlink().map_err(ctx("unlink"))?;
                let mut tx = ping.producer().map_err(ctx("producer"))?;
                let mut rx = pong.consumer().map_err(ctx("consumer"))?;
                let samples = measure(rounds, warmup, budget, |r| {
                    let mut v = Item::new(r, 0, 0);
                    while let Err(e) = tx.push(v) {
                        v = e.into_inner();
                    }
                    let back = spin_until(&mut child, || rx.pop().ok())?;
                    (back.user_data == r)
                        .then_some(())
                        .ok_or_else(|| "wrong pong".to_string())
                })?;
                tx.push(Item::new(STOP, 0, 0))
                    .map_err(|_| "stop".to_string())?;
                child.finish()?;
                Ok(samples)
            }
            XPingPong::Floor | XPingPong::FloorUncached => {
                let cached = self == XPingPong::Floor;
                let name = unique("floor");
                // Removes the file on every path, at the latest when the child has opened it.
                let guard = ShmGuard::new(&name);
                let bytes = floor_bytes::<Item>(CAP);
                let mut map = shm_file(&name, 2 * bytes)?;
                let base = map.as_mut_ptr();
                // SAFETY: the mapping is page-aligned, zeroed, 2 * floor_bytes long and outlives
                // the handles; this process is the only producer of `ping` and consumer of
                // `pong`, the child the reverse.
                let (ping, pong) = unsafe {
                    (
                        Floor::<Item>::new(base, CAP),
                        Floor::<Item>::new(base.add(bytes), CAP),
                    )
                };
                let child =
                    ChildProc::spawn(format!("pp-floor {name} {core} {}", u8::from(cached)));
                drop(guard);
                let child = child?;
                let samples = if cached {
                    floor_parent(
                        child,
                        ping.tx::<true>(),
                        pong.rx::<true>(),
                        rounds,
                        warmup,
                        budget,
                    )
                } else {
                    floor_parent(
                        child,
                        ping.tx::<false>(),
                        pong.rx::<false>(),
                        rounds,
                        warmup,
                        budget,
                    )
                };
                drop(map);
                samples
            }
            XPingPong::Ipmpsc => {
                let (pn, qn) = (
                    shm_path(&unique("ipmpsc-ping")),
                    shm_path(&unique("ipmpsc-pong")),
                );
                let guards = (ShmGuard(PathBuf::from(&pn)), ShmGuard(PathBuf::from(&qn)));
                let ping =
                    ipmpsc::SharedRingBuffer::create(&pn, 1 << 16).map_err(ctx("ipmpsc create"))?;
                let pong =
                    ipmpsc::SharedRingBuffer::create(&qn, 1 << 16).map_err(ctx("ipmpsc create"))?;
                let child = ChildProc::spawn(format!("pp-ipmpsc {pn} {qn} {core}"));
                drop(guards);
                let mut child = child?;
                let tx = ipmpsc::Sender::new(ping);
                let rx = ipmpsc::Receiver::new(pong);
                let samples = measure(rounds, warmup, budget, |r| {
                    tx.send(&(r, 0u64)).map_err(ctx("ipmpsc send"))?;
                    let mut failed = None;
                    let back: (u64, u64) = spin_until(&mut child, || match rx.try_recv() {
                        Ok(v) => v,
                        Err(e) => {
                            failed = Some(e.to_string());
                            Some((u64::MAX - 1, 0))
                        }
                    })?;
                    if let Some(e) = failed {
                        return Err(format!("ipmpsc try_recv: {e}"));
                    }
                    (back.0 == r)
                        .then_some(())
                        .ok_or_else(|| "wrong pong".to_string())
                })?;
                tx.send(&(STOP, 0u64)).map_err(ctx("ipmpsc send"))?;
                child.finish()?;
                Ok(samples)
            }
            XPingPong::Pipe => {
                let (down_r, down_w) = pipe()?;
                let (up_r, up_w) = pipe()?;
                let (cr, cw) = (inheritable(down_r.as_fd())?, inheritable(up_w.as_fd())?);
                let child = ChildProc::spawn(format!(
                    "pp-stream {} {} {core}",
                    cr.as_raw_fd(),
                    cw.as_raw_fd()
                ));
                drop((cr, cw, down_r, up_w));
                let child = child?;
                stream_parent(
                    child,
                    File::from(down_w),
                    File::from(up_r),
                    rounds,
                    warmup,
                    budget,
                )
            }
            XPingPong::UnixSocket => {
                let (a, b) = UnixStream::pair().map_err(ctx("socketpair"))?;
                let cb = inheritable(b.as_fd())?;
                let child = ChildProc::spawn(format!(
                    "pp-stream {} {} {core}",
                    cb.as_raw_fd(),
                    cb.as_raw_fd()
                ));
                drop((cb, b));
                let child = child?;
                let a2 = a.try_clone().map_err(ctx("socket clone"))?;
                stream_parent(child, a, a2, rounds, warmup, budget)
            }
        }
    }
}

fn floor_parent<const C: bool>(
    mut child: ChildProc,
    mut tx: FloorTx<Item, C>,
    mut rx: FloorRx<Item, C>,
    rounds: usize,
    warmup: usize,
    budget: Duration,
) -> Res<Vec<f64>> {
    let samples = measure(rounds, warmup, budget, |r| {
        let mut v = Item::new(r, 0, 0);
        while let Err(back) = tx.push(v) {
            v = back;
        }
        let back = spin_until(&mut child, || rx.pop())?;
        (back.user_data == r)
            .then_some(())
            .ok_or_else(|| "wrong pong".to_string())
    })?;
    while tx.push(Item::new(STOP, 0, 0)).is_err() {}
    child.finish()?;
    Ok(samples)
}

fn floor_child<const C: bool>(
    mut rx: FloorRx<Item, C>,
    mut tx: FloorTx<Item, C>,
    orphan: &mut Orphan,
) -> Res<()> {
    say_ready()?;
    loop {
        let v = loop {
            if let Some(v) = rx.pop() {
                break v;
            }
            orphan.tick();
        };
        if v.user_data == STOP {
            return Ok(());
        }
        while tx.push(v).is_err() {
            orphan.tick();
        }
    }
}

fn stream_parent(
    child: ChildProc,
    mut w: impl Write,
    mut r: impl Read,
    rounds: usize,
    warmup: usize,
    budget: Duration,
) -> Res<Vec<f64>> {
    let samples = measure(rounds, warmup, budget, |k| {
        w.write_all(&encode(&Item::new(k, 0, 0)))
            .map_err(ctx("write"))?;
        let mut b = [0u8; 16];
        r.read_exact(&mut b).map_err(ctx("read"))?;
        (decode(&b).user_data == k)
            .then_some(())
            .ok_or_else(|| "wrong pong".to_string())
    })?;
    w.write_all(&encode(&Item::new(STOP, 0, 0)))
        .map_err(ctx("write"))?;
    child.finish()?;
    Ok(samples)
}

/// Wake-up contenders: a consumer asleep in another process, woken by one entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Wake {
    /// ring-core: the consumer sleeps in `reap` (futex on the wait block); the producer's
    /// `push` wakes it.
    OursFutex,
    /// A bare shared futex: the sleeper waits on a word in `/dev/shm`; the waker stores a time
    /// stamp, increments the word and calls `FUTEX_WAKE`.
    Futex,
    /// ring-core with an eventfd: the consumer announces itself (`eventfd_prepare`) and sleeps in
    /// `poll` on the ring's eventfd; the producer's `push` signals it.
    OursEventfd,
    /// A bare eventfd: the sleeper polls it; the waker stores a time stamp and writes to it.
    Eventfd,
}

impl Wake {
    /// Every contender, each of ours followed by its baseline.
    pub const ALL: [Wake; 4] = [
        Wake::OursFutex,
        Wake::Futex,
        Wake::OursEventfd,
        Wake::Eventfd,
    ];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Wake::OursFutex => "ours (futex)",
            Wake::Futex => "bare futex wake",
            Wake::OursEventfd => "ours (eventfd)",
            Wake::Eventfd => "bare eventfd write",
        }
    }

    /// `samples` wake-ups of a child asleep in the kernel (fewer if `budget` runs out): the
    /// time from just before the producer publishes until the woken consumer holds the entry,
    /// in nanoseconds (`CLOCK_MONOTONIC` on both sides).
    pub fn run(self, samples: usize, budget: Duration) -> Res<Vec<f64>> {
        let _pin = PinGuard::new();
        let core = affinity::core(1);
        let start = Instant::now();
        let mut out = Vec::with_capacity(samples);
        match self {
            Wake::OursFutex | Wake::OursEventfd => {
                let (wn, rn) = (unique("wake"), unique("reply"));
                let wake =
                    Ring::<Item>::create_shm(&wn, Config::new(64)).map_err(ctx("wake ring"))?;
                let reply = Ring::<Item>::create_shm(&rn, Config::new(64).wait(false))
                    .map_err(ctx("reply ring"))?;
                let efd = if self == Wake::OursEventfd {
                    let fd = wake.create_eventfd().map_err(ctx("eventfd"))?;
                    Some(inheritable(fd)?)
                } else {
                    None
                };
                let fdnum = efd.as_ref().map_or(-1, |f| f.as_raw_fd());
                let child = ChildProc::spawn(format!("wake-ours {wn} {rn} {core} {fdnum}"));
                drop(efd);
                let mut child = child?;
                wake.region().unlink().map_err(ctx("unlink"))?;
                reply.region().unlink().map_err(ctx("unlink"))?;
                let mut tx = wake.producer().map_err(ctx("producer"))?;
                let mut rx = reply.consumer().map_err(ctx("consumer"))?;
                while out.len() < samples && start.elapsed() < budget {
                    child.wait_asleep(|| wake.counters().waiters > 0)?;
                    let t0 = clock::mono_ns();
                    tx.push(Item::new(t0, 0, 0))
                        .map_err(|_| "wake ring full".to_string())?;
                    let lat = spin_until(&mut child, || rx.pop().ok())?;
                    out.push(lat.user_data as f64);
                }
                tx.push(Item::new(STOP, 0, 0))
                    .map_err(|_| "stop".to_string())?;
                child.finish()?;
            }
            Wake::Futex | Wake::Eventfd => {
                let name = unique("wakebare");
                let guard = ShmGuard::new(&name);
                let mut map = shm_file(&name, 4096)?;
                let efd = if self == Wake::Eventfd {
                    // SAFETY: plain eventfd creation; checked below.
                    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
                    if fd < 0 {
                        return Err(format!("eventfd: {}", std::io::Error::last_os_error()));
                    }
                    // SAFETY: just created, owned by nobody else.
                    Some(unsafe { OwnedFd::from_raw_fd(fd) })
                } else {
                    None
                };
                let child_fd = efd.as_ref().map(|f| inheritable(f.as_fd())).transpose()?;
                let fdnum = child_fd.as_ref().map_or(-1, |f| f.as_raw_fd());
                let child = ChildProc::spawn(format!("wake-bare {name} {core} {fdnum}"));
                drop(child_fd);
                drop(guard);
                let mut child = child?;
                let shm = BareWake::at(&mut map);
                let mut seq = shm.reply_seq.load(Ordering::Acquire);
                while out.len() < samples && start.elapsed() < budget {
                    child.wait_asleep(|| true)?;
                    let t0 = clock::mono_ns();
                    shm.t0.store(t0, Ordering::SeqCst);
                    shm.signal(efd.as_ref());
                    spin_until(&mut child, || {
                        (shm.reply_seq.load(Ordering::Acquire) != seq).then_some(())
                    })?;
                    seq = seq.wrapping_add(1);
                    out.push(shm.reply.load(Ordering::Relaxed) as f64);
                }
                shm.t0.store(STOP, Ordering::SeqCst);
                shm.signal(efd.as_ref());
                child.finish()?;
            }
        }
        Ok(out)
    }
}

/// The shared page of the bare wake-up baselines.
#[repr(C, align(128))]
struct BareWake {
    /// The futex word (bumped per wake-up).
    futex: AtomicU32,
    /// The waker's time stamp (or [`STOP`]).
    t0: AtomicU64,
    _pad: [u8; 112],
    /// The sleeper's answer: latency in ns, then `reply_seq` bumped.
    reply: AtomicU64,
    reply_seq: AtomicU32,
}

impl BareWake {
    fn at(map: &mut memmap2::MmapMut) -> &BareWake {
        assert!(map.len() >= std::mem::size_of::<BareWake>());
        // SAFETY: the mapping is page-aligned and long enough; BareWake is atomics and padding,
        // valid for any bytes (zero at creation); both processes use it only through atomics.
        unsafe { &*(map.as_mut_ptr() as *const BareWake) }
    }

    /// The waker's side: a futex wake-up or an eventfd write.
    fn signal(&self, efd: Option<&OwnedFd>) {
        match efd {
            Some(fd) => eventfd_write(fd.as_raw_fd()),
            None => {
                self.futex.fetch_add(1, Ordering::Release);
                futex_wake(&self.futex);
            }
        }
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned u32 in a shared mapping; FUTEX_WAKE only uses its address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            1,
            0usize,
            0usize,
            0u32,
        )
    };
}

fn futex_wait(word: &AtomicU32, seen: u32) {
    // SAFETY: as above; a null timeout sleeps until woken, a signal, or a changed word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            seen,
            std::ptr::null::<libc::timespec>(),
            0usize,
            0u32,
        )
    };
}

fn eventfd_write(fd: RawFd) {
    let one = 1u64;
    // SAFETY: writes 8 bytes from a local to an eventfd.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

fn eventfd_wait(fd: RawFd) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; no timeout.
    unsafe { libc::poll(&mut p, 1, -1) };
}

fn eventfd_drain(fd: RawFd) {
    let mut v = 0u64;
    // SAFETY: reads 8 bytes into a local (the descriptor is non-blocking).
    unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
}

// ---------------------------------------------------------------------------------------------
// The child side.

/// Exits quietly if the parent has gone (checked while spinning).
pub(crate) struct Orphan {
    ppid: libc::pid_t,
    n: u32,
}

impl Orphan {
    pub(crate) fn new() -> Self {
        // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of this process.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        // SAFETY: getppid cannot fail and has no memory effects.
        let ppid = unsafe { libc::getppid() };
        Orphan { ppid, n: 0 }
    }

    #[inline(always)]
    pub(crate) fn tick(&mut self) {
        self.n = self.n.wrapping_add(1);
        // SAFETY: getppid cannot fail.
        if self.n % 65_536 == 0 && unsafe { libc::getppid() } != self.ppid {
            std::process::exit(2);
        }
        std::hint::spin_loop();
    }
}

pub(crate) fn arg<'a>(args: &[&'a str], i: usize) -> Res<&'a str> {
    args.get(i)
        .copied()
        .ok_or_else(|| format!("missing argument {i}"))
}

pub(crate) fn num<T: std::str::FromStr>(args: &[&str], i: usize) -> Res<T> {
    arg(args, i)?
        .parse()
        .map_err(|_| format!("bad argument {i}"))
}

pub(crate) fn say_ready() -> Res<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")
        .and_then(|()| out.flush())
        .map_err(ctx("stdout"))
}

/// The cross-process roles of this module (started by [`crate::child`]).
pub(crate) fn child_main(args: &[&str], orphan: &mut Orphan) -> Res<()> {
    match arg(args, 0)? {
        "pp-ours" => {
            affinity::pin(num(args, 3)?);
            let ping = Ring::<Item>::open_shm(arg(args, 1)?).map_err(ctx("open ping"))?;
            let pong = Ring::<Item>::open_shm(arg(args, 2)?).map_err(ctx("open pong"))?;
            let mut rx = ping.consumer().map_err(ctx("consumer"))?;
            let mut tx = pong.producer().map_err(ctx("producer"))?;
            say_ready()?;
            loop {
                let v = loop {
                    if let Ok(v) = rx.pop() {
                        break v;
                    }
                    orphan.tick();
                };
                if v.user_data == STOP {
                    return Ok(());
                }
                let mut v = v;
                while let Err(e) = tx.push(v) {
                    v = e.into_inner();
                    orphan.tick();
                }
            }
        }
        "pp-floor" => {
            affinity::pin(num(args, 2)?);
            let mut map = shm_open(arg(args, 1)?)?;
            let bytes = floor_bytes::<Item>(CAP);
            if map.len() < 2 * bytes {
                return Err("floor file too short".into());
            }
            let base = map.as_mut_ptr();
            // SAFETY: as in the parent, with the roles reversed.
            let (ping, pong) = unsafe {
                (
                    Floor::<Item>::new(base, CAP),
                    Floor::<Item>::new(base.add(bytes), CAP),
                )
            };
            if num::<u8>(args, 3)? == 1 {
                floor_child(ping.rx::<true>(), pong.tx::<true>(), orphan)
            } else {
                floor_child(ping.rx::<false>(), pong.tx::<false>(), orphan)
            }
        }
        "pp-ipmpsc" => {
            affinity::pin(num(args, 3)?);
            let ping = ipmpsc::SharedRingBuffer::open(arg(args, 1)?).map_err(ctx("ipmpsc open"))?;
            let pong = ipmpsc::SharedRingBuffer::open(arg(args, 2)?).map_err(ctx("ipmpsc open"))?;
            let rx = ipmpsc::Receiver::new(ping);
            let tx = ipmpsc::Sender::new(pong);
            say_ready()?;
            loop {
                let v: (u64, u64) = loop {
                    if let Some(v) = rx.try_recv().map_err(ctx("ipmpsc try_recv"))? {
                        break v;
                    }
                    orphan.tick();
                };
                if v.0 == STOP {
                    return Ok(());
                }
                tx.send(&v).map_err(ctx("ipmpsc send"))?;
            }
        }
        "pp-stream" => {
            let (r, w): (RawFd, RawFd) = (num(args, 1)?, num(args, 2)?);
            affinity::pin(num(args, 3)?);
            // SAFETY: the parent passed these inherited descriptors to this process alone; when
            // they are one socket, `w` is a duplicate so that each File owns its own.
            let (mut rf, mut wf) = unsafe {
                let w = if w == r { libc::dup(r) } else { w };
                (File::from_raw_fd(r), File::from_raw_fd(w))
            };
            say_ready()?;
            let mut b = [0u8; 16];
            loop {
                if rf.read_exact(&mut b).is_err() || decode(&b).user_data == STOP {
                    return Ok(());
                }
                wf.write_all(&b).map_err(ctx("write"))?;
            }
        }
        "wake-ours" => {
            affinity::pin(num(args, 3)?);
            let efd: RawFd = num(args, 4)?;
            let wake = Ring::<Item>::open_shm(arg(args, 1)?).map_err(ctx("open wake"))?;
            let reply = Ring::<Item>::open_shm(arg(args, 2)?).map_err(ctx("open reply"))?;
            if efd >= 0 {
                // SAFETY: inherited from the parent for this process alone; the ring owns it now.
                wake.set_eventfd(unsafe { OwnedFd::from_raw_fd(efd) })
                    .map_err(ctx("set_eventfd"))?;
            }
            let mut rx = wake.consumer().map_err(ctx("consumer"))?;
            let mut tx = reply.producer().map_err(ctx("producer"))?;
            say_ready()?;
            let mut out = [Item::default(); 1];
            loop {
                let v = if efd < 0 {
                    match rx.reap(&mut out, 1, None) {
                        Ok(1) => out[0],
                        Ok(_) | Err(ring_core::WaitError::Interrupted) => continue,
                        Err(e) => return Err(format!("reap: {e}")),
                    }
                } else {
                    let ready = rx.eventfd_prepare().map_err(ctx("eventfd_prepare"))?;
                    if !ready {
                        eventfd_wait(efd);
                    }
                    rx.eventfd_finish();
                    match rx.pop() {
                        Ok(v) => v,
                        Err(_) => continue,
                    }
                };
                let t1 = clock::mono_ns();
                if v.user_data == STOP {
                    return Ok(());
                }
                let mut r = Item::new(t1.saturating_sub(v.user_data), 0, 0);
                while let Err(e) = tx.push(r) {
                    r = e.into_inner();
                    orphan.tick();
                }
            }
        }
        "wake-bare" => {
            affinity::pin(num(args, 2)?);
            let efd: RawFd = num(args, 3)?;
            let mut map = shm_open(arg(args, 1)?)?;
            let shm = BareWake::at(&mut map);
            let mut seen = shm.futex.load(Ordering::Acquire);
            say_ready()?;
            loop {
                if efd >= 0 {
                    eventfd_wait(efd);
                    eventfd_drain(efd);
                } else {
                    while shm.futex.load(Ordering::Acquire) == seen {
                        futex_wait(&shm.futex, seen);
                    }
                    seen = shm.futex.load(Ordering::Acquire);
                }
                let t1 = clock::mono_ns();
                let t0 = shm.t0.load(Ordering::SeqCst);
                if t0 == STOP {
                    return Ok(());
                }
                shm.reply.store(t1.saturating_sub(t0), Ordering::Relaxed);
                shm.reply_seq.fetch_add(1, Ordering::Release);
            }
        }
        other => Err(format!("unknown child role {other:?}")),
    }
}
