//! Throughput of the record ring (variable-length records, `ring_core::record`) against its
//! peers, between threads and between processes, SPSC and MPSC with 2 producers, for records
//! of [`SIZES`] bytes of payload.
//!
//! Contenders ([`RecPeer`]):
//!
//! - ours: a [`RecordRing`] with a data area of [`AREA`] bytes, no wait block; the producer
//!   copies the payload in with `push`, the consumer reads it in place with `read`;
//! - ours, completion records: a [`Completion`] followed by one 4-byte attribute (24 bytes of
//!   payload, written in place with [`AttrWriter`] and parsed back with `completion()`), for the
//!   16-byte rows only: the "24-byte records" against the fixed ring;
//! - the fixed ring: `Ring<Completion>` (16-byte entries, [`CAP`] of them), for the 16-byte
//!   rows only;
//! - the fixed ring with the completion records' payload: `Ring<[u64; 3]>` (24-byte entries:
//!   the completion, then the attribute's header and value in one word, which the consumer
//!   checks), for the 16-byte rows only: issue 10's "our own fixed-size ring (same payload)";
//! - ipmpsc: a shared ring buffer of [`AREA`] bytes; the producer `send`s the payload as bincode
//!   bytes (one copy), the consumer receives it zero-copy (`zero_copy_context`);
//! - a pipe: each record is one `write` of a 4-byte length and the payload (atomic up to
//!   `PIPE_BUF` = 4096 bytes, so MPSC with 4096-byte records cannot be run), read back through
//!   a `BufReader`; the pipe's buffer is set to [`AREA`] bytes where the kernel allows it.
//!
//! Every record carries a tag (producer and sequence number) in its first 8 bytes and the tag's
//! complement in its last 8; the consumer checks both, the length and each producer's order, for
//! every record (the fixed ring: the tag in `user_data`, the complement in `result`/`flags`;
//! completion records and the 24-byte fixed ring: the complement's low half in the
//! attribute). A contender that lost,
//! duplicated, reordered or damaged a record fails its run.
//!
//! Placement (for every contender alike): the consumer on allowed core 0, producer `p` on core
//! `p + 1` (wrapping: with 2 cores and 2 producers, the second producer shares core 0 with the
//! consumer). Between threads the run is timed from a barrier releasing every thread to the
//! last record consumed; between processes, from the moment the parent releases the producer
//! processes (every one attached and waiting on a pipe that the parent closes) to the last
//! record consumed, so process start-up is not counted. A full or empty queue is waited on by
//! [`Backoff`] (64 spins, then `yield`), except where a peer blocks by design (a pipe's `read`
//! and `write`; ipmpsc's `send` on a full buffer).

use crate::affinity;
use crate::threads::{run_jobs, Backoff, Gate, Job};
use crate::workloads::CAP;
use crate::xproc::{self, ChildProc, Orphan, PinGuard, Res};
use ring_core::record::attrs::{attr_id, attr_status, completion_len, AttrWriter, Known};
use ring_core::record::{ReadError, RecordConfig, RecordRing, ReserveError};
use ring_core::{Completion, Config, Mode, PopError, Region, Ring};
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use testkit::ShmGuard;

/// Payload sizes measured, in bytes.
pub const SIZES: [usize; 4] = [16, 64, 256, 4096];

/// Bytes of the record ring's data area, of ipmpsc's buffer and of the pipe's buffer.
pub const AREA: u32 = 1 << 17;

/// Payload bytes of a completion record with one 4-byte attribute.
pub const COMPLETION_RECORD: usize = 24;

/// `PIPE_BUF` on Linux: larger writes to a pipe are not atomic.
const PIPE_BUF: usize = 4096;

/// How long a run may take before it is abandoned as stuck.
const DEADLINE: Duration = Duration::from_secs(60);

/// Between threads of one process, or between processes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Medium {
    /// Threads of this process.
    Threads,
    /// Producer processes (this executable started again) and the consumer in this process.
    Processes,
}

impl Medium {
    /// Both media.
    pub const ALL: [Medium; 2] = [Medium::Threads, Medium::Processes];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Medium::Threads => "threads",
            Medium::Processes => "processes",
        }
    }
}

/// The contenders of the record benchmarks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RecPeer {
    /// The record ring: `push` of the payload, `read` in place.
    Ours,
    /// The record ring carrying completion records with one attribute (24 bytes; 16-byte rows).
    OursCompletion,
    /// The fixed ring of `Completion` entries (16-byte rows).
    Fixed,
    /// The fixed ring carrying the completion records' payload: 24-byte entries (`[u64; 3]`:
    /// the completion, then the attribute's header and value in one word; 16-byte rows).
    Fixed24,
    /// ipmpsc, busy-polled with zero-copy `try_recv`.
    Ipmpsc,
    /// A pipe, one `write` per length-prefixed record, blocking reads.
    Pipe,
}

impl RecPeer {
    /// Every contender, ours first.
    pub const ALL: [RecPeer; 6] = [
        RecPeer::Ours,
        RecPeer::OursCompletion,
        RecPeer::Fixed,
        RecPeer::Fixed24,
        RecPeer::Ipmpsc,
        RecPeer::Pipe,
    ];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            RecPeer::Ours => "ours (records)",
            RecPeer::OursCompletion => "ours (completion + 1 attribute, 24 B)",
            RecPeer::Fixed => "fixed ring (Completion)",
            RecPeer::Fixed24 => "fixed ring (24 B: completion + attribute)",
            RecPeer::Ipmpsc => "ipmpsc",
            RecPeer::Pipe => "pipe",
        }
    }

    /// Whether this contender runs for records of `size` bytes (the fixed ring and completion
    /// records only for 16).
    pub fn applies(self, size: usize) -> bool {
        match self {
            RecPeer::OursCompletion | RecPeer::Fixed | RecPeer::Fixed24 => size == 16,
            _ => true,
        }
    }

    /// Whether this contender moves records through system calls or a lock (its runs use
    /// fewer records: [`RecPeer::records`]).
    pub fn slow(self) -> bool {
        matches!(self, RecPeer::Ipmpsc | RecPeer::Pipe)
    }

    /// Records per run for records of `size` bytes, before scaling: 256 MiB of payload, at
    /// most a million records (as long as compare's SPSC runs: tens of milliseconds on a quiet
    /// machine), an eighth of that for the slow contenders.
    pub fn records(self, size: usize) -> u64 {
        let n = ((256u64 << 20) / size as u64).min(1_000_000);
        if self.slow() {
            n / 8
        } else {
            n
        }
    }

    fn kind(self) -> &'static str {
        match self {
            RecPeer::Ours => "ours",
            RecPeer::OursCompletion => "completion",
            RecPeer::Fixed => "fixed",
            RecPeer::Fixed24 => "fixed24",
            RecPeer::Ipmpsc => "ipmpsc",
            RecPeer::Pipe => "pipe",
        }
    }

    /// Payload bytes the consumer expects for records of `size` bytes.
    fn expected_len(self, size: usize) -> usize {
        match self {
            RecPeer::OursCompletion | RecPeer::Fixed24 => COMPLETION_RECORD,
            _ => size,
        }
    }

    /// Moves `per_producer` records of `size` bytes from each of `producers` producers (1 or 2)
    /// to one consumer, checking every record; returns the time taken and how often the run's
    /// threads and processes were switched out while runnable. An error names what failed (a
    /// contender that cannot run this case, a lost or damaged record, a child process that
    /// died, the 60-second deadline).
    pub fn run(
        self,
        medium: Medium,
        producers: usize,
        size: usize,
        per_producer: u64,
    ) -> Res<Measured> {
        if !self.applies(size) || size < 16 {
            return Err(format!(
                "{} does not carry {size}-byte records",
                self.name()
            ));
        }
        if self == RecPeer::Pipe && producers > 1 && size + 4 > PIPE_BUF {
            return Err(format!(
                "not run: a {}-byte pipe write exceeds PIPE_BUF ({PIPE_BUF}), so writers would interleave",
                size + 4
            ));
        }
        let spec = Spec {
            peer: self,
            producers,
            size,
            per: per_producer,
        };
        let before = involuntary_switches();
        let elapsed = match medium {
            Medium::Threads => spec.threads(),
            Medium::Processes => spec.processes(),
        }?;
        Ok(Measured {
            elapsed,
            switched_out: involuntary_switches().saturating_sub(before),
        })
    }
}

/// The outcome of one run.
#[derive(Copy, Clone, Debug)]
pub struct Measured {
    /// From the release of the producers to the last record consumed.
    pub elapsed: Duration,
    /// Involuntary context switches of this process and its (waited-for) producer processes
    /// during the run, set-up included: how often a thread of the run was switched out while
    /// it could run, because another task took its core (preemption, or a `yield` that found
    /// another task runnable). A few come from set-up (pinning a running thread moves it
    /// through the kernel's stopper task). With one producer each thread has a core of its own,
    /// so more than a few mean other work shared the cores; with two producers, the second
    /// producer and the consumer share core 0 and switch between each other by design.
    pub switched_out: u64,
}

/// `ru_nivcsw` of this process plus that of its waited-for children.
fn involuntary_switches() -> u64 {
    let get = |who| {
        // SAFETY: a zeroed rusage is valid; getrusage writes at most its size.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a valid, writable rusage.
        if unsafe { libc::getrusage(who, &mut u) } == 0 {
            u.ru_nivcsw.max(0) as u64
        } else {
            0
        }
    };
    get(libc::RUSAGE_SELF) + get(libc::RUSAGE_CHILDREN)
}

/// One run's parameters.
#[derive(Copy, Clone)]
struct Spec {
    peer: RecPeer,
    producers: usize,
    size: usize,
    per: u64,
}

impl Spec {
    fn mode(&self) -> Mode {
        if self.producers > 1 {
            Mode::Mpsc
        } else {
            Mode::Spsc
        }
    }

    fn record_config(&self) -> RecordConfig {
        RecordConfig::new(AREA).mode(self.mode()).wait(false)
    }

    fn fixed_config(&self) -> Config {
        Config::new(CAP).mode(self.mode()).wait(false)
    }

    fn threads(self) -> Res<Duration> {
        let check = Check::new(self.producers, self.per, self.peer.expected_len(self.size));
        match self.peer {
            RecPeer::Ours | RecPeer::OursCompletion => {
                let ring = RecordRing::create_heap(self.record_config())
                    .map_err(xproc::ctx("record ring"))?;
                if self.peer == RecPeer::OursCompletion {
                    self.ours_threads::<true>(&ring, check)
                } else {
                    self.ours_threads::<false>(&ring, check)
                }
            }
            RecPeer::Fixed => self.fixed_threads::<Completion>(check),
            RecPeer::Fixed24 => self.fixed_threads::<Entry24>(check),
            RecPeer::Ipmpsc => {
                let path = xproc::shm_path(&xproc::unique("rec-ipmpsc"));
                let _guard = ShmGuard(PathBuf::from(&path));
                let buf = ipmpsc::SharedRingBuffer::create(&path, AREA)
                    .map_err(xproc::ctx("ipmpsc create"))?;
                let txs = (0..self.producers)
                    .map(|_| {
                        ipmpsc::SharedRingBuffer::open(&path)
                            .map(ipmpsc::Sender::new)
                            .map_err(xproc::ctx("ipmpsc open"))
                    })
                    .collect::<Res<Vec<_>>>()?;
                threads_run(self, txs, ipmpsc::Receiver::new(buf), check)
            }
            RecPeer::Pipe => {
                let (r, w) = xproc::pipe()?;
                set_pipe_size(&w);
                let txs = (0..self.producers)
                    .map(|_| {
                        w.try_clone()
                            .map(|w| PipeTx::new(File::from(w), self.size))
                            .map_err(xproc::ctx("dup"))
                    })
                    .collect::<Res<Vec<_>>>()?;
                drop(w);
                threads_run(self, txs, PipeRx::new(File::from(r)), check)
            }
        }
    }

    fn processes(self) -> Res<Duration> {
        let _pin = PinGuard::new();
        let check = Check::new(self.producers, self.per, self.peer.expected_len(self.size));
        match self.peer {
            RecPeer::Ours | RecPeer::OursCompletion => {
                let name = xproc::unique("rec-ours");
                let cfg = self.record_config();
                let len = cfg.region_len().map_err(xproc::ctx("record ring size"))?;
                let region = Region::shm_create(&name, len as usize, 0o600)
                    .map_err(xproc::ctx("record ring file"))?;
                let ring = RecordRing::create(region, cfg).map_err(xproc::ctx("record ring"))?;
                let children = self.spawn(&name)?;
                ring.memory().unlink().map_err(xproc::ctx("unlink"))?;
                let rx = ring.consumer().map_err(xproc::ctx("record consumer"))?;
                if self.peer == RecPeer::OursCompletion {
                    procs_run(children, OursRx::<true> { rx }, check)
                } else {
                    procs_run(children, OursRx::<false> { rx }, check)
                }
            }
            RecPeer::Fixed => self.fixed_processes::<Completion>(check),
            RecPeer::Fixed24 => self.fixed_processes::<Entry24>(check),
            RecPeer::Ipmpsc => {
                let path = xproc::shm_path(&xproc::unique("rec-ipmpsc"));
                let guard = ShmGuard(PathBuf::from(&path));
                let buf = ipmpsc::SharedRingBuffer::create(&path, AREA)
                    .map_err(xproc::ctx("ipmpsc create"))?;
                let children = self.spawn(&path);
                drop(guard);
                procs_run(children?, ipmpsc::Receiver::new(buf), check)
            }
            RecPeer::Pipe => {
                let (r, w) = xproc::pipe()?;
                set_pipe_size(&w);
                let cw = xproc::inheritable(w.as_fd())?;
                drop(w);
                let children = self.spawn(&cw.as_raw_fd().to_string());
                // From here on only the children hold the write end: their exit gives EOF.
                drop(cw);
                procs_run(children?, PipeRx::new(File::from(r)), check)
            }
        }
    }

    /// The fixed ring of `T` entries between threads.
    /// The record ring between threads: completion records if `C`, else plain records (a
    /// constant, so that each contender's loop holds only its own code, as the fixed ring's).
    fn ours_threads<const C: bool>(self, ring: &RecordRing, check: Check) -> Res<Duration> {
        let txs = (0..self.producers)
            .map(|_| {
                ring.producer()
                    .map(|tx| OursTx::<C> { tx })
                    .map_err(xproc::ctx("record producer"))
            })
            .collect::<Res<Vec<_>>>()?;
        let rx = ring.consumer().map_err(xproc::ctx("record consumer"))?;
        threads_run(self, txs, OursRx::<C> { rx }, check)
    }

    fn fixed_threads<T: ring_core::Entry>(self, check: Check) -> Res<Duration>
    where
        ring_core::Producer<T>: Sink,
        ring_core::Consumer<T>: Source,
    {
        let ring = Ring::<T>::create_heap(self.fixed_config()).map_err(xproc::ctx("fixed ring"))?;
        let txs = (0..self.producers)
            .map(|_| ring.producer().map_err(xproc::ctx("fixed producer")))
            .collect::<Res<Vec<_>>>()?;
        let rx = ring.consumer().map_err(xproc::ctx("fixed consumer"))?;
        threads_run(self, txs, rx, check)
    }

    /// The fixed ring of `T` entries in `/dev/shm`, the producers in their own processes.
    fn fixed_processes<T: ring_core::Entry>(self, check: Check) -> Res<Duration>
    where
        ring_core::Consumer<T>: Source,
    {
        let name = xproc::unique(&format!("rec-{}", self.peer.kind()));
        let ring =
            Ring::<T>::create_shm(&name, self.fixed_config()).map_err(xproc::ctx("fixed ring"))?;
        let children = self.spawn(&name)?;
        ring.region().unlink().map_err(xproc::ctx("unlink"))?;
        let rx = ring.consumer().map_err(xproc::ctx("fixed consumer"))?;
        procs_run(children, rx, check)
    }

    /// Starts the producer processes, each attached and waiting to be released.
    fn spawn(&self, place: &str) -> Res<Children> {
        let (go_r, go_w) = xproc::pipe()?;
        let mut procs = Vec::with_capacity(self.producers);
        for p in 0..self.producers {
            let cr = xproc::inheritable(go_r.as_fd())?;
            let child = ChildProc::spawn(format!(
                "rec-prod {} {place} {} {} {p} {} {}",
                self.peer.kind(),
                self.size,
                self.per,
                affinity::core(p + 1),
                cr.as_raw_fd()
            ));
            drop(cr);
            procs.push(child?);
        }
        Ok(Children { procs, go: go_w })
    }
}

/// The producer processes of a run, and the write end of the pipe that releases them.
struct Children {
    procs: Vec<ChildProc>,
    go: OwnedFd,
}

/// Sets a pipe's buffer to [`AREA`] bytes (kept at the default if the kernel refuses).
fn set_pipe_size(fd: &OwnedFd) {
    // SAFETY: F_SETPIPE_SZ on a valid pipe descriptor; failure leaves the pipe unchanged.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, AREA as libc::c_int) };
}

// ---------------------------------------------------------------------------------------------
// Both sides of every contender.

/// The tag of producer `p`'s record `i`.
#[inline(always)]
fn tag(p: u64, i: u64) -> u64 {
    p << 40 | i
}

/// Writes `tag` into the first 8 bytes of `buf` and its complement into the last 8.
#[inline(always)]
fn stamp(buf: &mut [u8], tag: u64) {
    let n = buf.len();
    buf[..8].copy_from_slice(&tag.to_le_bytes());
    buf[n - 8..].copy_from_slice(&(!tag).to_le_bytes());
}

/// What the consumer saw of one record: its tag, the check word, and its payload length.
#[derive(Copy, Clone, Debug)]
struct Got {
    tag: u64,
    check: u64,
    len: usize,
}

/// Reads a record's tag and check word from its payload.
#[inline(always)]
fn unstamp(b: &[u8]) -> Got {
    let n = b.len();
    if n < 16 {
        return Got {
            tag: 0,
            check: 0,
            len: n,
        };
    }
    Got {
        tag: u64::from_le_bytes(b[..8].try_into().unwrap()),
        check: u64::from_le_bytes(b[n - 8..].try_into().unwrap()),
        len: n,
    }
}

/// [`unstamp`] of a record read in place: its first and last 8 bytes, copied out (with the
/// atomic loads the safe read API uses).
fn unstamp_view(r: &ring_core::record::RecordView<'_>) -> Got {
    let n = r.len();
    if n < 16 {
        return Got {
            tag: 0,
            check: 0,
            len: n,
        };
    }
    let (mut tag, mut check) = ([0u8; 8], [0u8; 8]);
    r.copy_to(0, &mut tag);
    r.copy_to(n - 8, &mut check);
    Got {
        tag: u64::from_le_bytes(tag),
        check: u64::from_le_bytes(check),
        len: n,
    }
}

/// A producing side.
trait Sink: Send {
    /// Offers the record `payload` (stamped with `tag`); `Ok(false)` when the queue is full.
    fn offer(&mut self, tag: u64, payload: &[u8]) -> Res<bool>;
}

/// The consuming side.
trait Source: Send {
    /// The next record, or `None` when there is none now.
    fn poll(&mut self) -> Res<Option<Got>>;
}

/// The record ring's producer: completion records if `C`, else `push` of the payload.
struct OursTx<const C: bool> {
    tx: ring_core::record::RecordProducer,
}

impl<const C: bool> Sink for OursTx<C> {
    #[inline(always)]
    fn offer(&mut self, tag: u64, payload: &[u8]) -> Res<bool> {
        if !C {
            return match self.tx.push(payload) {
                Ok(()) => Ok(true),
                Err(ReserveError::Full { .. }) => Ok(false),
                Err(e) => Err(e.to_string()),
            };
        }
        let mut rec = match self.tx.reserve(completion_len(&[4])) {
            Ok(r) => r,
            Err(ReserveError::Full { .. }) => return Ok(false),
            Err(e) => return Err(e.to_string()),
        };
        let mut w = AttrWriter::new(&mut rec, Completion::new(tag, 0, 0))
            .map_err(xproc::ctx("completion head"))?;
        w.push_u32(attr_id::WORKER_CPU, !(tag as u32))
            .map_err(xproc::ctx("attribute"))?;
        w.finish();
        rec.commit();
        Ok(true)
    }
}

/// The record ring's consumer: completion records if `C`, else plain records.
struct OursRx<const C: bool> {
    rx: ring_core::record::RecordConsumer,
}

impl<const C: bool> Source for OursRx<C> {
    #[inline(always)]
    fn poll(&mut self) -> Res<Option<Got>> {
        let r = match self.rx.read() {
            Ok(r) => r,
            Err(ReadError::Empty | ReadError::Pending { .. }) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        if !C {
            return Ok(Some(unstamp_view(&r)));
        }
        let len = r.len();
        let (c, attrs) = r.completion().map_err(xproc::ctx("completion record"))?;
        let cpu = match attrs.known().next() {
            Some(Ok(Known::WorkerCpu(v))) => v,
            other => return Err(format!("completion record: attribute {other:?}")),
        };
        // The attribute carries the low half of the check word; rebuild the rest from the tag.
        let check = (!c.user_data & !0xffff_ffff) | u64::from(cpu);
        Ok(Some(Got {
            tag: c.user_data,
            check,
            len,
        }))
    }
}

/// The fixed ring's entry carrying a completion record's payload: the completion (cookie,
/// then result and flags), then the attribute as records encode it (id, status and length in
/// the low 32 bits, the 4-byte value in the high 32).
type Entry24 = [u64; 3];

/// The attribute word of [`Entry24`]: `WORKER_CPU`, handled, 4 bytes, `value`.
#[inline(always)]
fn attr_word(value: u32) -> u64 {
    u64::from(attr_id::WORKER_CPU)
        | u64::from(attr_status::HANDLED) << 16
        | 4 << 24
        | u64::from(value) << 32
}

impl Sink for ring_core::Producer<Entry24> {
    #[inline(always)]
    fn offer(&mut self, tag: u64, _payload: &[u8]) -> Res<bool> {
        Ok(self.push([tag, 0, attr_word(!(tag as u32))]).is_ok())
    }
}

impl Source for ring_core::Consumer<Entry24> {
    #[inline(always)]
    fn poll(&mut self) -> Res<Option<Got>> {
        match self.pop() {
            Ok([tag, _, attr]) => {
                // Decode the attribute as the record reader does: its header, then its value.
                if attr as u32 != attr_word(0) as u32 {
                    return Err(format!("fixed ring: attribute word {attr:#x}"));
                }
                Ok(Some(Got {
                    tag,
                    check: (!tag & !0xffff_ffff) | (attr >> 32),
                    len: COMPLETION_RECORD,
                }))
            }
            Err(PopError::Empty) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Sink for ring_core::Producer<Completion> {
    #[inline(always)]
    fn offer(&mut self, tag: u64, _payload: &[u8]) -> Res<bool> {
        let check = !tag;
        let c = Completion::new(tag, check as u32 as i32, (check >> 32) as u32);
        Ok(self.push(c).is_ok())
    }
}

impl Source for ring_core::Consumer<Completion> {
    #[inline(always)]
    fn poll(&mut self) -> Res<Option<Got>> {
        match self.pop() {
            Ok(c) => Ok(Some(Got {
                tag: c.user_data,
                check: u64::from(c.result as u32) | u64::from(c.flags) << 32,
                len: 16,
            })),
            Err(PopError::Empty) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The payload as bincode bytes (a length and the bytes, one copy).
struct Bytes<'a>(&'a [u8]);

impl serde::Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl Sink for ipmpsc::Sender {
    #[inline(always)]
    fn offer(&mut self, _tag: u64, payload: &[u8]) -> Res<bool> {
        // `send` waits on ipmpsc's condition variable while the buffer is full; the timeout
        // only lets a failed run end.
        self.send_timeout(&Bytes(payload), Duration::from_millis(100))
            .map_err(xproc::ctx("ipmpsc send"))
    }
}

impl Source for ipmpsc::Receiver {
    #[inline(always)]
    fn poll(&mut self) -> Res<Option<Got>> {
        let mut cx = self.zero_copy_context();
        match cx.try_recv::<&[u8]>() {
            Ok(Some(b)) => Ok(Some(unstamp(b))),
            Ok(None) => Ok(None),
            Err(e) => Err(format!("ipmpsc try_recv: {e}")),
        }
    }
}

struct PipeTx {
    w: File,
    msg: Vec<u8>,
}

impl PipeTx {
    fn new(w: File, size: usize) -> Self {
        let mut msg = vec![0u8; 4 + size];
        msg[..4].copy_from_slice(&(size as u32).to_le_bytes());
        PipeTx { w, msg }
    }
}

impl Sink for PipeTx {
    #[inline(always)]
    fn offer(&mut self, _tag: u64, payload: &[u8]) -> Res<bool> {
        self.msg[4..].copy_from_slice(payload);
        // One write of at most PIPE_BUF bytes: atomic, so two writers do not interleave.
        self.w
            .write_all(&self.msg)
            .map_err(xproc::ctx("pipe write"))?;
        Ok(true)
    }
}

struct PipeRx {
    r: BufReader<File>,
    buf: Vec<u8>,
}

impl PipeRx {
    fn new(r: File) -> Self {
        PipeRx {
            r: BufReader::with_capacity(AREA as usize, r),
            buf: Vec::new(),
        }
    }
}

impl Source for PipeRx {
    #[inline(always)]
    fn poll(&mut self) -> Res<Option<Got>> {
        let mut len = [0u8; 4];
        self.r
            .read_exact(&mut len)
            .map_err(xproc::ctx("pipe read"))?;
        let len = u32::from_le_bytes(len) as usize;
        if len > 1 << 20 {
            return Err(format!("pipe: a record of {len} bytes"));
        }
        self.buf.resize(len, 0);
        self.r
            .read_exact(&mut self.buf)
            .map_err(xproc::ctx("pipe read"))?;
        Ok(Some(unstamp(&self.buf)))
    }
}

// ---------------------------------------------------------------------------------------------
// Producing, consuming, checking.

/// Producer `p` offers `n` records of `size` bytes, waiting with [`Backoff`] while full;
/// `give_up` is asked after every refused offer whether to abandon the run.
#[inline(always)]
fn produce<T: Sink>(
    tx: &mut T,
    p: u64,
    n: u64,
    size: usize,
    mut give_up: impl FnMut() -> bool,
) -> Res<()> {
    let mut buf = vec![0xa5u8; size];
    let mut w = Backoff::default();
    for i in 0..n {
        let t = tag(p, i);
        stamp(&mut buf, t);
        while !tx.offer(t, &buf)? {
            w.pause();
            if give_up() {
                return Err("abandoned".into());
            }
        }
        w.reset();
    }
    Ok(())
}

/// The consumer's check of every record: length, check word, per-producer order, count.
struct Check {
    next: Vec<u64>,
    per: u64,
    len: usize,
}

impl Check {
    fn new(producers: usize, per: u64, len: usize) -> Self {
        Check {
            next: vec![0; producers],
            per,
            len,
        }
    }

    fn total(&self) -> u64 {
        self.per * self.next.len() as u64
    }

    #[inline(always)]
    fn record(&mut self, g: Got) -> Res<()> {
        let (p, i) = ((g.tag >> 40) as usize, g.tag & ((1 << 40) - 1));
        if g.len != self.len || g.check != !g.tag {
            return Err(format!(
                "damaged record: {} bytes (expected {}), tag {:#x}, check {:#x}",
                g.len, self.len, g.tag, g.check
            ));
        }
        match self.next.get_mut(p) {
            Some(next) if *next == i && i < self.per => {
                *next += 1;
                Ok(())
            }
            Some(next) => Err(format!(
                "producer {p}: record {i} where {next} was due (lost, duplicated or reordered)"
            )),
            None => Err(format!("a record from unknown producer {p}")),
        }
    }
}

/// Consumes every record `check` expects from `rx`, waiting with [`Backoff`] while empty and
/// asking `watch` every 65,536 empty polls whether to go on.
#[inline(always)]
fn consume<R: Source>(
    rx: &mut R,
    check: &mut Check,
    mut watch: impl FnMut() -> Res<()>,
) -> Res<()> {
    let total = check.total();
    let mut got = 0u64;
    let mut w = Backoff::default();
    let mut empty = 0u32;
    while got < total {
        match rx.poll()? {
            Some(g) => {
                check.record(g)?;
                got += 1;
                w.reset();
            }
            None => {
                w.pause();
                empty = empty.wrapping_add(1);
                if empty % 65_536 == 0 {
                    watch()?;
                }
            }
        }
    }
    Ok(())
}

/// Runs the producers `txs` and the consumer `rx` on threads (the consumer as job 0 on allowed
/// core 0, producer `p` as job `p + 1`); the time from the barrier to the last record consumed.
fn threads_run<T: Sink, R: Source>(
    spec: Spec,
    txs: Vec<T>,
    mut rx: R,
    mut check: Check,
) -> Res<Duration> {
    let abort = AtomicBool::new(false);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let fail = |e: String| {
        abort.store(true, Ordering::Relaxed);
        failure.lock().unwrap().get_or_insert(e);
    };
    let (abort, fail) = (&abort, &fail);
    let mut jobs: Vec<Job<'_>> = Vec::new();
    jobs.push(Box::new(move |g: &Gate<'_>| {
        g.open();
        let deadline = Instant::now() + DEADLINE;
        let r = consume(&mut rx, &mut check, || {
            if abort.load(Ordering::Relaxed) {
                Err("a producer failed".into())
            } else if Instant::now() > deadline {
                Err("deadline expired".into())
            } else {
                Ok(())
            }
        });
        let end = Instant::now();
        if let Err(e) = r {
            fail(e);
        }
        // Dropping the consumer here (a pipe's read end) fails producers blocked on it.
        drop(rx);
        end
    }));
    for (p, mut tx) in txs.into_iter().enumerate() {
        let (size, per) = (spec.size, spec.per);
        jobs.push(Box::new(move |g: &Gate<'_>| {
            g.open();
            if let Err(e) = produce(&mut tx, p as u64, per, size, || {
                abort.load(Ordering::Relaxed)
            }) {
                fail(format!("producer {p}: {e}"));
            }
            Instant::now()
        }));
    }
    let elapsed = run_jobs(jobs);
    match failure.into_inner().unwrap() {
        Some(e) => Err(e),
        None => Ok(elapsed),
    }
}

/// Releases the producer processes and consumes every record in this process (pinned to core
/// 0 by the caller); the time from the release to the last record consumed.
fn procs_run<R: Source>(children: Children, mut rx: R, mut check: Check) -> Res<Duration> {
    let Children { mut procs, go } = children;
    let deadline = Instant::now() + DEADLINE;
    let start = Instant::now();
    drop(go);
    consume(&mut rx, &mut check, || {
        if Instant::now() > deadline {
            return Err("deadline expired".into());
        }
        procs.iter_mut().try_for_each(ChildProc::check_not_failed)
    })?;
    let elapsed = start.elapsed();
    drop(rx);
    for c in procs {
        c.finish()?;
    }
    Ok(elapsed)
}

/// The producer process: `rec-prod KIND PLACE SIZE N P CORE GOFD`. Attaches to the queue
/// (`PLACE`: a `/dev/shm` name, ipmpsc's file, or the pipe's inherited descriptor), says it is
/// ready, waits until the parent closes the pipe `GOFD`, then produces `N` records as producer
/// `P`.
pub(crate) fn child_main(args: &[&str], orphan: &mut Orphan) -> Res<()> {
    let kind = xproc::arg(args, 1)?;
    let place = xproc::arg(args, 2)?;
    let size: usize = xproc::num(args, 3)?;
    let n: u64 = xproc::num(args, 4)?;
    let p: u64 = xproc::num(args, 5)?;
    affinity::pin(xproc::num(args, 6)?);
    let go: RawFd = xproc::num(args, 7)?;
    // SAFETY: the parent passed this inherited descriptor to this process alone.
    let go = unsafe { File::from_raw_fd(go) };
    let mut give_up = || {
        orphan.tick();
        false
    };
    match kind {
        "ours" | "completion" => {
            let region = Region::shm_open(place).map_err(xproc::ctx("open record ring"))?;
            let ring = RecordRing::attach(region).map_err(xproc::ctx("attach record ring"))?;
            let tx = ring.producer().map_err(xproc::ctx("record producer"))?;
            wait_go(go)?;
            if kind == "completion" {
                child_produce(&mut OursTx::<true> { tx }, p, n, size, &mut give_up)
            } else {
                child_produce(&mut OursTx::<false> { tx }, p, n, size, &mut give_up)
            }
        }
        "fixed" => fixed_child::<Completion>(place, go, p, n, size, &mut give_up),
        "fixed24" => fixed_child::<Entry24>(place, go, p, n, size, &mut give_up),
        "ipmpsc" => {
            let mut tx = ipmpsc::SharedRingBuffer::open(place)
                .map(ipmpsc::Sender::new)
                .map_err(xproc::ctx("ipmpsc open"))?;
            wait_go(go)?;
            child_produce(&mut tx, p, n, size, &mut give_up)
        }
        "pipe" => {
            let fd: RawFd = place.parse().map_err(|_| "bad pipe descriptor")?;
            // SAFETY: inherited from the parent for this process alone.
            let w = unsafe { File::from_raw_fd(fd) };
            let mut tx = PipeTx::new(w, size);
            wait_go(go)?;
            child_produce(&mut tx, p, n, size, &mut give_up)
        }
        other => Err(format!("unknown record contender {other:?}")),
    }
}

/// The producer process of the fixed ring of `T` entries in `/dev/shm/<place>`.
fn fixed_child<T: ring_core::Entry>(
    place: &str,
    go: File,
    p: u64,
    n: u64,
    size: usize,
    give_up: impl FnMut() -> bool,
) -> Res<()>
where
    ring_core::Producer<T>: Sink,
{
    let ring = Ring::<T>::open_shm(place).map_err(xproc::ctx("open fixed ring"))?;
    let mut tx = ring.producer().map_err(xproc::ctx("fixed producer"))?;
    wait_go(go)?;
    child_produce(&mut tx, p, n, size, give_up)
}

/// [`produce`] in a function of its own for each contender, as each producer thread's job is
/// between threads: inlined into [`child_main`] next to every other contender's loop, the
/// completion records' producer loop was compiled with its state on the stack and ran at half
/// its rate between threads.
#[inline(never)]
fn child_produce<T: Sink>(
    tx: &mut T,
    p: u64,
    n: u64,
    size: usize,
    give_up: impl FnMut() -> bool,
) -> Res<()> {
    produce(tx, p, n, size, give_up)
}

/// Says "ready" and blocks until the parent closes the release pipe (end of file).
fn wait_go(mut go: File) -> Res<()> {
    xproc::say_ready()?;
    let mut rest = Vec::new();
    go.read_to_end(&mut rest)
        .map_err(xproc::ctx("waiting for the release"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn got(p: u64, i: u64, len: usize) -> Got {
        let mut b = vec![0u8; len];
        stamp(&mut b, tag(p, i));
        unstamp(&b)
    }

    #[test]
    fn the_check_catches_loss_duplicates_and_damage() {
        let mut c = Check::new(2, 3, 64);
        c.record(got(0, 0, 64)).unwrap();
        c.record(got(1, 0, 64)).unwrap();
        c.record(got(0, 1, 64)).unwrap();
        // Duplicate, gap, wrong length, unknown producer, damaged check word, beyond the count.
        assert!(c.record(got(0, 1, 64)).is_err());
        assert!(c.record(got(1, 2, 64)).is_err());
        assert!(c.record(got(1, 1, 32)).is_err());
        assert!(c.record(got(2, 0, 64)).is_err());
        let mut bad = got(1, 1, 64);
        bad.check ^= 1;
        assert!(c.record(bad).is_err());
        c.record(got(1, 1, 64)).unwrap();
        c.record(got(0, 2, 64)).unwrap();
        assert!(c.record(got(0, 3, 64)).is_err());
        assert_eq!(c.total(), 6);
    }
}
