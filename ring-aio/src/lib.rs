//! Asynchronous system calls on an elastic thread pool, completing into ring-core rings.
//!
//! `ring-aio` runs ordinary, blocking system calls (reads, writes, fsync, openat, statx,
//! socket calls, or any raw system call) on worker threads of the calling process and posts
//! each result as a [`ring_core::Completion`] into the ring the submission names: a ring in
//! this process, or one in shared memory that another process consumes. It is the runtime
//! the ring was made for, in the spirit of acall and of a better POSIX AIO:
//!
//! - **Submissions** ([`Submission`]) carry a typed [`Op`] that owns its buffers, the caller's
//!   cookie and a [`Target`] ring. What an operation hands back (its buffer, a `statx`, a
//!   peer address) waits in the pool under the [`SubmissionId`] until
//!   [`Pool::take_output`]. Batches report how many were accepted *and* why the first refused
//!   one was refused ([`Pool::submit_batch`]).
//! - **The pool** ([`Pool`]) is elastic (workers start on demand and exit after an idle
//!   timeout), bounded, and applies backpressure at its queue depth (a typed error or a wait,
//!   as the caller chooses: [`Backpressure`]). Workers are threads of the caller's process, so
//!   the caller's identity (pid, credentials, descriptor table) is theirs; they can be kept on
//!   chosen CPUs ([`PoolConfig::worker_cpus`], a [`CpuSet`]).
//! - **Nothing is lost**: every accepted submission gets exactly one completion. A full ring
//!   spills into its overflow area; when that is full too, the worker waits for room (a full
//!   record ring, which has no overflow area, makes it wait at once). Only a shutdown stops
//!   waiting, after [`PoolConfig::shutdown_timeout`] (a dropped pool never hangs on a ring
//!   nobody reaps): what it could not post is handed back ([`Pool::shutdown_timeout`],
//!   [`Target::take_undelivered`]).
//! - **Ordering** ([`PoolConfig::ordered`]): operations on one descriptor run in submission
//!   order; in any mode `fsync`/`fdatasync` wait for every earlier write on their descriptor,
//!   and [`Op::close`] for every earlier operation ([`Op::close_cancelling`] cancels them).
//! - **Cancellation** ([`Pool::cancel`]): a queued operation completes with `-ECANCELED`; a
//!   running interruptible one is interrupted by a signal installed without `SA_RESTART`; for
//!   anything else the cancel is too late and the operation completes normally.
//!
//! # Start here
//!
//! ```
//! use ring_aio::{flags, Op, Output, Pool, PoolConfig, Submission, Target};
//! use ring_core::{Completion, Config, Mode, Ring};
//! use std::os::fd::AsRawFd;
//! use std::time::Duration;
//!
//! // The ring completions land in: several workers post into it, so MPSC; an overflow area
//! // absorbs bursts larger than the ring.
//! let ring = Ring::<Completion>::create_heap(Config::new(256).mode(Mode::Mpsc).overflow(1024))?;
//! let target = Target::new(&ring)?;
//! let pool = Pool::new(PoolConfig::new().max_workers(4))?;
//!
//! // Write a file, then read it back at an offset; both complete into `ring`.
//! let path = std::env::temp_dir().join(format!("ring-aio-doc-{}", std::process::id()));
//! let file = std::fs::File::create_new(&path)?;
//! let fd = file.as_raw_fd();
//! pool.submit(Submission::new(Op::pwrite(fd, b"hello, ring".to_vec(), 0), &target).cookie(1))
//!     .map_err(|r| r.error)?;
//! let mut rx = ring.consumer()?;
//! let mut done = [Completion::default(); 4];
//! assert_eq!(rx.reap(&mut done, 1, Some(Duration::from_secs(5)))?, 1);
//! assert_eq!((done[0].user_data, done[0].result), (1, 11));
//!
//! let file = std::fs::File::open(&path)?;
//! let read = pool
//!     .submit(Submission::new(Op::pread(file.as_raw_fd(), vec![0; 4], 7), &target))
//!     .map_err(|r| r.error)?;
//! assert_eq!(rx.reap(&mut done, 1, Some(Duration::from_secs(5)))?, 1);
//! let c = done[0];
//! assert_eq!(c.user_data, read.get()); // the default cookie is the submission id
//! assert!(c.flags & flags::OUTPUT != 0);
//! match pool.take_output(read) {
//!     Some(Output::Buffer(b)) => assert_eq!(b, b"ring"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Completions with attributes
//!
//! A [`Target::records`] target posts each completion into a record ring
//! ([`ring_core::record::RecordRing`]) as a *completion record*: the same completion followed
//! by attributes (spec/RECORDS.md, section 9): the queue time (submission to start), the
//! system call's run time, the worker's CPU and, for reads and writes, the bytes transferred.
//! Workers read the clocks only for such targets; fixed-ring targets pay nothing for them.
//!
//! ```
//! use ring_aio::{Op, Pool, PoolConfig, Submission, Target};
//! use ring_core::record::attrs::Known;
//! use ring_core::record::{RecordConfig, RecordRing};
//! use ring_core::Mode;
//! use std::os::fd::AsRawFd;
//! use std::time::Duration;
//!
//! // 64 KiB of records; each completion record takes 80 bytes.
//! let ring = RecordRing::create_heap(RecordConfig::new(64 * 1024).mode(Mode::Mpsc))?;
//! let target = Target::records(&ring)?;
//! let pool = Pool::new(PoolConfig::new().max_workers(2))?;
//!
//! let (r, w) = std::os::unix::net::UnixStream::pair()?;
//! pool.submit(Submission::new(Op::write(w.as_raw_fd(), b"12345".to_vec()), &target).cookie(9))
//!     .map_err(|r| r.error)?;
//!
//! let mut rx = ring.consumer()?;
//! let mut seen = Vec::new();
//! rx.reap(1, 1, usize::MAX, Some(Duration::from_secs(5)), |rec| {
//!     let (c, attrs) = rec.completion().expect("a completion record");
//!     // `known` decodes the well-known ids and skips any id it does not know.
//!     let known: Vec<Known> = attrs.known().collect::<Result<_, _>>().expect("well formed");
//!     seen.push((c.user_data, c.result, known));
//! })?;
//! let (cookie, result, known) = &seen[0];
//! assert_eq!((*cookie, *result), (9, 5));
//! assert!(known.contains(&Known::BytesTransferred(5)));
//! assert!(known.iter().any(|k| matches!(k, Known::DurationNs(_))));
//! assert!(known.iter().any(|k| matches!(k, Known::QueueTimeNs(_))));
//! assert!(known.iter().any(|k| matches!(k, Known::WorkerCpu(_))));
//! # drop(r);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Reaping for throughput
//!
//! A consumer sleeping in `reap(.., min = 1, ..)` is woken by the worker whose completion
//! arrives first, and that wake-up is a system call in the worker's posting path (on a
//! virtual machine, one that wakes an idle vCPU costs microseconds: many times the rest of
//! posting). A thread that keeps a known number of operations in flight can do better: poll
//! a few times, yielding the CPU to the workers between polls, and then wait for a good part
//! of what is in flight (`min = in_flight / 2`), so that the ring's wake-up target wakes it
//! once per that many completions. The completions waited for are in flight, so the wait
//! ends; keep a timeout anyway, and use `min = 1` for operations that may block for long
//! (a read of a quiet socket would hold up the others' completions). [`Reaper`] does the
//! polling part for you, with a budget that adapts (it sleeps at once when polling stops
//! paying), and keeps `reap`'s semantics for any `min`. The `aio` bench
//! (`cargo bench -p ring-aio --bench aio`) compares these ways.
//!
//! ```
//! use ring_aio::{Op, Output, Pool, PoolConfig, Submission, SubmissionId, Target};
//! use ring_core::{Completion, Config, Mode, Ring};
//! use std::os::fd::AsRawFd;
//! use std::time::Duration;
//!
//! let path = std::env::temp_dir().join(format!("ring-aio-doc-reap-{}", std::process::id()));
//! std::fs::write(&path, vec![1u8; 64 * 512])?;
//! let file = std::fs::File::open(&path)?;
//! let ring = Ring::<Completion>::create_heap(Config::new(64).mode(Mode::Mpsc))?;
//! let target = Target::new(&ring)?;
//! let pool = Pool::new(PoolConfig::new().max_workers(4).queue_depth(16))?;
//! let mut rx = ring.consumer()?;
//! let mut done = [Completion::default(); 16];
//! let (total, depth) = (64u64, 16u64);
//! let (mut next, mut finished) = (0u64, 0u64);
//! while finished < total {
//!     while next < total && next - finished < depth {
//!         let op = Op::pread(file.as_raw_fd(), vec![0; 512], next * 512);
//!         pool.submit(Submission::new(op, &target)).map_err(|r| r.error)?;
//!         next += 1;
//!     }
//!     let in_flight = (next - finished) as usize;
//!     let min = (in_flight / 2).max(1);
//!     // Poll, yielding to the workers; then sleep until `min` have arrived.
//!     let mut n = 0;
//!     for _ in 0..20 {
//!         n += rx.reap(&mut done[n..], 0, Some(Duration::ZERO))?;
//!         if n >= min {
//!             break;
//!         }
//!         std::thread::yield_now();
//!     }
//!     if n < min {
//!         n += rx.reap(&mut done[n..], min - n, Some(Duration::from_secs(10)))?;
//!     }
//!     for c in &done[..n] {
//!         assert_eq!(c.result, 512);
//!         let Some(Output::Buffer(b)) = pool.take_output(SubmissionId(c.user_data)) else {
//!             panic!("a pread hands its buffer back");
//!         };
//!         assert!(b.iter().all(|&x| x == 1));
//!     }
//!     finished += n as u64;
//! }
//! std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! - `tokio`: `AsyncReaper` (completion rings) and `AsyncRecordReaper` (record rings of
//!   completion records), consumers whose `reap(..).await` sleeps on the ring's eventfd
//!   through tokio's `AsyncFd` instead of blocking a thread.
//!
//! # Signals
//!
//! Interrupting a running operation uses a real-time signal ([`default_interrupt_signal`],
//! configurable with [`PoolConfig::interrupt_signal`]) whose handler does nothing and is
//! installed without `SA_RESTART`. A pool refuses a signal that already has another handler.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod cpus;
mod op;
mod pool;
mod reap;
#[cfg(feature = "tokio")]
mod reaper;
mod signal;
mod slots;
mod target;

pub use cpus::CpuSet;
pub use op::{Op, Output, SockAddr};
pub use pool::{
    flags, Backpressure, Batch, CancelOutcome, Pool, PoolConfig, Refused, Stats, Submission,
    SubmissionId, SubmitError, Timing, Undelivered,
};
pub use reap::{Reaper, DEFAULT_MAX_YIELDS};
#[cfg(feature = "tokio")]
pub use reaper::{AsyncReaper, AsyncRecordReaper};
pub use target::{RecordTargetError, Target, COMPLETION_RECORD_LEN};

/// The signal pools use by default to interrupt a running operation being cancelled
/// (`SIGRTMIN() + 6`).
pub fn default_interrupt_signal() -> std::ffi::c_int {
    signal::default_signal()
}
