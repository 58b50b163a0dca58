//! Asynchronous system calls (ring-aio): pools of worker threads that run reads, writes,
//! fsyncs, opens, closes and statx for the caller and post each result as a `cring_completion`
//! into a ring the caller chose.
//!
//! Pools and targets share one handle table (the last free kind tag); each call checks that
//! the handle it got is of the kind it needs.

use crate::handles::{Guard, Table};
use crate::records::cring_records;
use crate::records::records_of;
use crate::ring::ring_of;
use crate::status::{boundary, cring_status, Fail};
use crate::types::cring_ring;
use crate::{handle_out, in_ptr, out_ptr, put};
use core::ffi::{c_char, c_int, c_void};
use ring_aio::{
    Backpressure, CancelOutcome, CpuSet, Op, Pool, PoolConfig, RecordTargetError, Submission,
    SubmissionId, SubmitError, Target,
};
use std::ffi::{CStr, OsStr};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A handle to a pool of asynchronous system-call workers (`cring_aio_pool_create()`). `{0}`
/// is never a valid handle.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_aio_pool {
    /// Opaque identifier.
    pub id: u64,
}

/// A handle to a completion target: a ring that submissions name as the place their
/// completion goes (`cring_aio_target_open()`). `{0}` is never a valid handle.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct cring_aio_target {
    /// Opaque identifier.
    pub id: u64,
}

/// Backpressure: a submission against a full queue fails at once (`CRING_STATUS_FULL`).
pub const CRING_AIO_BACKPRESSURE_FAIL: u32 = 0;
/// Backpressure: a submission against a full queue waits for room, up to
/// `backpressure_timeout_ns` (then `CRING_STATUS_TIMED_OUT`).
pub const CRING_AIO_BACKPRESSURE_WAIT: u32 = 1;
/// For `cring_aio_config.interrupt_signal`: never interrupt a running operation (its
/// cancellation is then always too late).
///
/// (Written by hand in cbindgen.toml: `(-1)`.)
///
/// cbindgen:ignore
pub const CRING_AIO_NO_INTERRUPT: i32 = -1;

/// How a pool is set up: start from `cring_aio_config_init()`, change fields, leave
/// `struct_size` alone.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct cring_aio_config {
    /// `sizeof(cring_aio_config)`, set by `cring_aio_config_init()`.
    pub struct_size: u32,
    /// Most worker threads at once (at least 1). Workers start on demand.
    pub max_workers: u32,
    /// Workers kept alive when idle (the others exit after `idle_timeout_ns`).
    pub min_workers: u32,
    /// Most submissions outstanding at once (at least 1): accepted, result not known yet.
    pub queue_depth: u32,
    /// Non-zero: per-descriptor ordered mode (operations on one descriptor run one at a time,
    /// in submission order). In any mode fsync/fdatasync wait for every earlier write on
    /// their descriptor and close for every earlier operation.
    pub ordered: u32,
    /// `CRING_AIO_BACKPRESSURE_FAIL` or `CRING_AIO_BACKPRESSURE_WAIT`.
    pub backpressure: u32,
    /// With `CRING_AIO_BACKPRESSURE_WAIT`: the longest a submission waits for room
    /// (`CRING_TIMEOUT_INFINITE`, or any negative value: no limit).
    pub backpressure_timeout_ns: i64,
    /// How long an idle worker above `min_workers` waits for work before it exits (>= 0).
    pub idle_timeout_ns: i64,
    /// The signal that interrupts a running operation being cancelled: 0 for the default
    /// (`SIGRTMIN + 6`), `CRING_AIO_NO_INTERRUPT` for none, or a signal number. Its handler
    /// is installed (without `SA_RESTART`) when the pool is created; a signal that already has
    /// another handler is refused.
    pub interrupt_signal: i32,
    /// Must be 0.
    pub reserved: u32,
    /// The CPUs the workers may run on: CPU `i` is bit `i % 64` of `worker_cpus[i / 64]` (the
    /// bit order of glibc's `cpu_set_t`). All zero, the default, leaves the workers where the
    /// scheduler puts them. A set the kernel would refuse (no CPU of it online and in the
    /// process's cpuset) is `CRING_STATUS_INVALID_ARGUMENT`. Added after the first version of
    /// this struct: a caller whose `struct_size` is `CRING_AIO_CONFIG_SIZE_V1` gets no pinning.
    pub worker_cpus: [u64; 16],
}

/// `struct_size` of the first version of `cring_aio_config` (without `worker_cpus`), still
/// accepted by `cring_aio_pool_create()`.
pub const CRING_AIO_CONFIG_SIZE_V1: u32 = 48;

mod check_sizes {
    use super::*;
    use core::mem::{offset_of, size_of};
    // The first version is an exact prefix of the current struct (fields appended only, no
    // padding anywhere, so every byte of the prefix is a field's).
    const _: () =
        assert!(offset_of!(cring_aio_config, worker_cpus) == CRING_AIO_CONFIG_SIZE_V1 as usize);
    const _: () = assert!(size_of::<cring_aio_config>() == 48 + 128);
    const _: () = assert!(CpuSet::MAX == 16 * 64);
}

/// Operation: nothing (result 0).
pub const CRING_AIO_OP_NOP: u32 = 0;
/// Operation: `read(fd, buf, len)`.
pub const CRING_AIO_OP_READ: u32 = 1;
/// Operation: `pread(fd, buf, len, offset)`.
pub const CRING_AIO_OP_PREAD: u32 = 2;
/// Operation: `write(fd, buf, len)`.
pub const CRING_AIO_OP_WRITE: u32 = 3;
/// Operation: `pwrite(fd, buf, len, offset)`.
pub const CRING_AIO_OP_PWRITE: u32 = 4;
/// Operation: `readv(fd, buf, len)`: `buf` is a `const struct iovec *` of `len` entries.
pub const CRING_AIO_OP_READV: u32 = 5;
/// Operation: `preadv(fd, buf, len, offset)` (`buf` and `len` as for `CRING_AIO_OP_READV`).
pub const CRING_AIO_OP_PREADV: u32 = 6;
/// Operation: `writev(fd, buf, len)` (`buf` and `len` as for `CRING_AIO_OP_READV`).
pub const CRING_AIO_OP_WRITEV: u32 = 7;
/// Operation: `pwritev(fd, buf, len, offset)` (`buf` and `len` as for `CRING_AIO_OP_READV`).
pub const CRING_AIO_OP_PWRITEV: u32 = 8;
/// Operation: `fsync(fd)`, after every earlier write on `fd` has completed.
pub const CRING_AIO_OP_FSYNC: u32 = 9;
/// Operation: `fdatasync(fd)`, after every earlier write on `fd` has completed.
pub const CRING_AIO_OP_FDATASYNC: u32 = 10;
/// Operation: `openat(fd, path, flags, mode)`; the result is the new descriptor (yours).
pub const CRING_AIO_OP_OPENAT: u32 = 11;
/// Operation: `close(fd)`, after every earlier operation on `fd` has completed. The pool owns
/// `fd` once the submission is accepted; a refused close leaves it open and yours.
pub const CRING_AIO_OP_CLOSE: u32 = 12;
/// Operation: as `CRING_AIO_OP_CLOSE`, but first cancels every earlier operation on `fd`.
pub const CRING_AIO_OP_CLOSE_CANCELLING: u32 = 13;
/// Operation: `statx(fd, path, flags, mode, buf)`: `mode` is the mask, `buf` a
/// `struct statx *` (aligned to 8 bytes).
pub const CRING_AIO_OP_STATX: u32 = 14;
/// Operation: `fallocate(fd, flags, offset, len)` (counts as a write for fsync).
pub const CRING_AIO_OP_FALLOCATE: u32 = 15;

/// Completion flag set by the pool: the operation was cancelled; the result is `-ECANCELED`.
pub const CRING_AIO_FLAG_CANCELED: u32 = 2;
/// Completion flag set by the pool, with `CRING_AIO_FLAG_CANCELED`: the operation was running
/// and its worker was interrupted.
pub const CRING_AIO_FLAG_INTERRUPTED: u32 = 4;

const _: () = assert!(CRING_AIO_FLAG_CANCELED == ring_aio::flags::CANCELED);
const _: () = assert!(CRING_AIO_FLAG_INTERRUPTED == ring_aio::flags::INTERRUPTED);

/// Cancel outcome: the operation had not started; its completion (`-ECANCELED`,
/// `CRING_AIO_FLAG_CANCELED`) has been posted.
pub const CRING_AIO_CANCEL_CANCELED: u32 = 1;
/// Cancel outcome: the operation was running and its worker was interrupted; its completion
/// carries `-ECANCELED` with `CRING_AIO_FLAG_CANCELED | CRING_AIO_FLAG_INTERRUPTED`.
pub const CRING_AIO_CANCEL_INTERRUPTED: u32 = 2;
/// Cancel outcome: the operation is running and its worker was signalled but had not reacted
/// yet; the completion will tell (`-ECANCELED` with the flags, or the normal result).
pub const CRING_AIO_CANCEL_RUNNING: u32 = 3;
/// Cancel outcome: too late: the operation completed, is completing, or is running and cannot
/// be interrupted. Its completion carries its normal result.
pub const CRING_AIO_CANCEL_TOO_LATE: u32 = 4;
/// Cancel outcome: the pool never accepted a submission with this id.
pub const CRING_AIO_CANCEL_UNKNOWN: u32 = 5;

/// One submission: an operation, its arguments, the target ring and the cookie its completion
/// carries. Fields an operation does not use are ignored.
///
/// Memory the submission points to (`buf`, the buffers of an iovec array, a `struct statx`)
/// belongs to the caller and must stay valid, and untouched by the caller, until the
/// completion has been reaped (or the submission was refused, or the pool destroyed). The
/// iovec array itself and `path` are copied when the submission is accepted.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct cring_aio_sub {
    /// `CRING_AIO_OP_*`.
    pub op: u32,
    /// The descriptor (for `CRING_AIO_OP_OPENAT` and `CRING_AIO_OP_STATX` the directory
    /// descriptor, or `AT_FDCWD`).
    pub fd: i32,
    /// Returned unchanged in the completion's `user_data`.
    pub cookie: u64,
    /// Where the completion goes.
    pub target: cring_aio_target,
    /// The file offset of `PREAD`, `PWRITE`, `PREADV`, `PWRITEV` and `FALLOCATE`.
    pub offset: u64,
    /// The data of reads and writes; a `const struct iovec *` for the vectored ones; a
    /// `struct statx *` for `STATX`.
    pub buf: *mut c_void,
    /// Bytes at `buf`; iovec entries at `buf` for the vectored operations; the length of
    /// `FALLOCATE`.
    pub len: u64,
    /// The NUL-terminated path of `OPENAT` and `STATX`.
    pub path: *const c_char,
    /// `OPENAT` and `STATX` flags; the mode of `FALLOCATE`.
    pub flags: i32,
    /// The mode of `OPENAT`; the mask of `STATX`.
    pub mode: u32,
}

/// A snapshot of a pool's counters.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct cring_aio_stats {
    /// Worker threads alive.
    pub workers: u64,
    /// Of them, waiting for work.
    pub idle: u64,
    /// Worker threads started so far.
    pub spawned: u64,
    /// Submissions accepted whose completion has not been posted yet.
    pub outstanding: u64,
    /// Of them, waiting in the run queue.
    pub queued: u64,
    /// Completions posted.
    pub completed: u64,
    /// Completions that could not be posted because their ring reported corruption.
    pub undelivered: u64,
}

/// Most iovec entries of one vectored operation (`IOV_MAX` on Linux).
const IOV_MAX: u64 = 1024;

/// What a handle of the aio table holds.
pub(crate) enum Aio {
    /// Shared with `cring_aio_pool_destroy()`, which drops the last reference itself.
    Pool(Arc<Pool>),
    Target(Target),
}

pub(crate) static AIO: Table<Aio> = Table::new("aio", 7);

fn pool_guard(p: cring_aio_pool) -> Result<Guard<'static, Aio>, Fail> {
    let g = AIO.get(p.id)?;
    match g.get() {
        Aio::Pool(_) => Ok(g),
        Aio::Target(_) => Err(Fail::new(
            cring_status::BadHandle,
            format!("aio handle {:#x} is a target, not a pool", p.id),
        )),
    }
}

fn pool_of<'g>(g: &'g Guard<'static, Aio>) -> &'g Pool {
    match g.get() {
        Aio::Pool(p) => p,
        Aio::Target(_) => unreachable!("checked by pool_guard"),
    }
}

fn target_of(t: cring_aio_target) -> Result<Target, Fail> {
    match AIO.get(t.id)?.get() {
        Aio::Target(t) => Ok(t.clone()),
        Aio::Pool(_) => Err(Fail::new(
            cring_status::BadHandle,
            format!("aio handle {:#x} is a pool, not a target", t.id),
        )),
    }
}

fn dur(ns: i64) -> Option<Duration> {
    u64::try_from(ns).ok().map(Duration::from_nanos)
}

/// Reads and checks a caller's pool configuration.
///
/// # Safety
/// `cfg` is NULL or points to a `cring_aio_config`.
unsafe fn config_arg(cfg: *const cring_aio_config) -> Result<PoolConfig, Fail> {
    let p = in_ptr(cfg, "config")?;
    // SAFETY: the caller guarantees a readable `cring_aio_config`, whose first field is the
    // `u32` `struct_size`: read it alone first, so that a caller built against another layout
    // is refused before more bytes are read than it has.
    let struct_size = unsafe { p.cast::<u32>().read() };
    let full = core::mem::size_of::<cring_aio_config>();
    let c = if struct_size as usize == full {
        // SAFETY: as above, and the size matches: every field is an integer, so any bytes are
        // valid.
        unsafe { p.read() }
    } else if struct_size == CRING_AIO_CONFIG_SIZE_V1 {
        // A caller built against the first version: read only the bytes it has (a prefix of
        // the current struct, checked in `check_sizes`); `worker_cpus` stays 0.
        let mut c = cring_aio_config_init();
        // SAFETY: the caller guarantees a readable struct of `struct_size` bytes (the first
        // version's), which is the prefix of `c` up to `worker_cpus`; `c` is a local of the
        // full size; both are integers only, so any bytes are valid.
        unsafe {
            core::ptr::copy_nonoverlapping(
                p.cast::<u8>(),
                (&mut c as *mut cring_aio_config).cast::<u8>(),
                CRING_AIO_CONFIG_SIZE_V1 as usize,
            )
        };
        c.worker_cpus = [0; 16];
        c
    } else {
        return Err(Fail::invalid(format!(
            "config.struct_size is {struct_size}, expected sizeof(cring_aio_config) = {full} \
             or the first version's {CRING_AIO_CONFIG_SIZE_V1} (initialise it with \
             cring_aio_config_init())"
        )));
    };
    if c.reserved != 0 {
        return Err(Fail::invalid("config.reserved must be 0"));
    }
    let backpressure = match c.backpressure {
        CRING_AIO_BACKPRESSURE_FAIL => Backpressure::Fail,
        CRING_AIO_BACKPRESSURE_WAIT => Backpressure::Wait(dur(c.backpressure_timeout_ns)),
        b => {
            return Err(Fail::invalid(format!(
                "config.backpressure is {b}: CRING_AIO_BACKPRESSURE_FAIL (0) or \
                 CRING_AIO_BACKPRESSURE_WAIT (1)"
            )))
        }
    };
    let idle = dur(c.idle_timeout_ns).ok_or_else(|| {
        Fail::invalid(format!(
            "config.idle_timeout_ns is {}: it must not be negative",
            c.idle_timeout_ns
        ))
    })?;
    let signal = match c.interrupt_signal {
        0 => Some(ring_aio::default_interrupt_signal()),
        CRING_AIO_NO_INTERRUPT => None,
        s if s > 0 => Some(s),
        s => {
            return Err(Fail::invalid(format!(
                "config.interrupt_signal is {s}: 0 (default), CRING_AIO_NO_INTERRUPT (-1) or a \
                 signal number"
            )))
        }
    };
    let mut cpus = CpuSet::new();
    for (w, word) in c.worker_cpus.iter().enumerate() {
        for b in (0..64).filter(|b| word & (1 << b) != 0) {
            cpus.insert(w * 64 + b);
        }
    }
    Ok(PoolConfig::new()
        .worker_cpus((!cpus.is_empty()).then_some(cpus))
        .max_workers(c.max_workers as usize)
        .min_workers(c.min_workers as usize)
        .queue_depth(c.queue_depth as usize)
        .ordered(c.ordered != 0)
        .backpressure(backpressure)
        .idle_timeout(idle)
        .interrupt_signal(signal)
        // `cring_aio_pool_destroy` waits for room for as long as it takes (documented there):
        // completions a bounded shutdown hands to the `Target` would be out of C's reach.
        .shutdown_timeout(std::time::Duration::MAX))
}

/// The default pool configuration: up to 32 workers, none kept idle, an idle timeout of 1 s,
/// a queue depth of 4096, unordered, submissions waiting without limit for room, the default
/// interrupt signal.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn cring_aio_config_init() -> cring_aio_config {
    let d = PoolConfig::new();
    cring_aio_config {
        struct_size: core::mem::size_of::<cring_aio_config>() as u32,
        max_workers: d.max_workers as u32,
        min_workers: d.min_workers as u32,
        queue_depth: d.queue_depth as u32,
        ordered: d.ordered as u32,
        backpressure: CRING_AIO_BACKPRESSURE_WAIT,
        backpressure_timeout_ns: -1,
        idle_timeout_ns: d.idle_timeout.as_nanos() as i64,
        interrupt_signal: 0,
        reserved: 0,
        worker_cpus: [0; 16],
    }
}

/// Creates a pool of worker threads (threads of this process: they share its identity and
/// descriptors) that run submitted operations and post their completions into rings.
///
/// Ownership: the caller owns `*out` and destroys it with `cring_aio_pool_destroy()`.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`config`, `out`), `CRING_STATUS_INVALID_ARGUMENT`
/// (`struct_size`, no worker, a queue depth of 0, a negative idle timeout, an unknown
/// backpressure, an unusable interrupt signal or one that already has another handler),
/// `CRING_STATUS_IO` (starting `min_workers` threads failed), `CRING_STATUS_NO_RESOURCES`.
/// On failure `*out` is `{0}`.
///
/// # Safety
///
/// `config` is NULL or points to a `cring_aio_config`; `out` is NULL or valid for writing a
/// `cring_aio_pool`.
#[no_mangle]
pub unsafe extern "C" fn cring_aio_pool_create(
    config: *const cring_aio_config,
    out: *mut cring_aio_pool,
) -> cring_status {
    let open = || {
        // SAFETY: the caller's guarantee for `config`.
        let cfg = unsafe { config_arg(config) }?;
        let pool = Pool::new(cfg).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidInput | std::io::ErrorKind::AlreadyExists => {
                Fail::invalid(format!("pool configuration refused: {e}"))
            }
            _ => Fail::io("starting the pool's workers", &e),
        })?;
        AIO.insert(Aio::Pool(Arc::new(pool)))
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_aio_pool { id }, open) }
}

/// Destroys a pool: the handle is closed at once (later calls get
/// `CRING_STATUS_BAD_HANDLE`); every outstanding submission is cancelled (each still gets
/// its completion: `-ECANCELED`, or its normal result when it is too late to cancel); calls
/// still running on the pool in other threads are let finish (a submission waiting for room
/// is refused with `CRING_STATUS_CLOSED`); then the workers are joined. When this returns no
/// worker is left, and no memory a submission lent is used any more.
///
/// It waits while a worker waits for room in a full ring (nothing is ever dropped): whoever
/// consumes the rings must keep reaping until this returns.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (not an open pool, for example destroyed already).
#[no_mangle]
pub extern "C" fn cring_aio_pool_destroy(pool: cring_aio_pool) -> cring_status {
    boundary(|| {
        let p = match pool_guard(pool)?.get() {
            Aio::Pool(p) => p.clone(),
            Aio::Target(_) => unreachable!("checked by pool_guard"),
        };
        AIO.remove(pool.id)?;
        p.shutdown();
        // The table's reference goes when the last call using the handle returns (calls made
        // before the close; they are refused from now on, so they end soon).
        let mut pause = 1u64;
        while Arc::strong_count(&p) > 1 {
            std::thread::sleep(Duration::from_micros(pause));
            pause = (pause * 2).min(1000);
        }
        // The last reference: the pool's drop joins the workers here.
        drop(p);
        Ok(())
    })
}

/// Waits until no submission of the pool is outstanding (every completion posted), up to
/// `timeout_ns` nanoseconds (`CRING_TIMEOUT_INFINITE`: no limit).
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_TIMED_OUT` (submissions still outstanding), `CRING_STATUS_BAD_HANDLE`.
#[no_mangle]
pub extern "C" fn cring_aio_pool_drain(pool: cring_aio_pool, timeout_ns: i64) -> cring_status {
    boundary(|| {
        let g = pool_guard(pool)?;
        if pool_of(&g).drain(dur(timeout_ns)) {
            Ok(())
        } else {
            Err(Fail::new(
                cring_status::TimedOut,
                format!(
                    "the pool still has {} outstanding submissions",
                    pool_of(&g).stats().outstanding
                ),
            ))
        }
    })
}

/// A snapshot of the pool's counters.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NULL_POINTER` (`stats`),
/// `CRING_STATUS_INVALID_ARGUMENT` (`stats_size` is not `sizeof(cring_aio_stats)`).
///
/// # Safety
///
/// `stats` is NULL or valid for writing `stats_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn cring_aio_pool_get_stats(
    pool: cring_aio_pool,
    stats: *mut cring_aio_stats,
    stats_size: usize,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(stats, "stats")?;
        let want = core::mem::size_of::<cring_aio_stats>();
        if stats_size != want {
            return Err(Fail::invalid(format!(
                "stats_size {stats_size}, expected sizeof(cring_aio_stats) = {want}"
            )));
        }
        let g = pool_guard(pool)?;
        let s = pool_of(&g).stats();
        let v = cring_aio_stats {
            workers: s.workers as u64,
            idle: s.idle as u64,
            spawned: s.spawned,
            outstanding: s.outstanding as u64,
            queued: s.queued as u64,
            completed: s.completed,
            undelivered: s.undelivered as u64,
        };
        // SAFETY: checked non-NULL, aligned and of the right size; the caller guarantees it is
        // writable.
        unsafe { put(out, v) };
        Ok(())
    })
}

/// Opens a target posting completions into `ring`, a ring of `cring_completion`s (in this
/// process's memory or shared with other processes). In multi-producer modes (MPSC, MPMC)
/// each worker posts through a producer of its own; in single-producer modes the target holds
/// the ring's producer claim and the workers share it. A target may serve several pools.
///
/// Ownership: the caller owns `*out` and closes it with `cring_aio_target_close()`. The
/// target keeps the ring's memory alive; submissions in flight keep the target alive.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (`ring`), `CRING_STATUS_NULL_POINTER` (`out`),
/// `CRING_STATUS_ENTRY_MISMATCH` (the ring's entries are not `cring_completion`s),
/// `CRING_STATUS_BUSY` (another producer holds a single-producer ring's claim, or every
/// producer record is taken), `CRING_STATUS_CLOSED` (the ring's stream is closed),
/// `CRING_STATUS_CORRUPT`, `CRING_STATUS_NO_RESOURCES`. On failure `*out` is `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_aio_target`.
#[no_mangle]
pub unsafe extern "C" fn cring_aio_target_open(
    ring: cring_ring,
    out: *mut cring_aio_target,
) -> cring_status {
    let open = || {
        let target = ring_of(ring)?.aio_target()?;
        AIO.insert(Aio::Target(target))
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_aio_target { id }, open) }
}

/// Opens a target posting completion records with attributes (queue time, run time, worker
/// CPU, bytes transferred) into the record ring `records` (MPSC for workers to post at once;
/// an SPSC ring's one producer is shared by the workers). Read them with
/// `cring_attr_iter_init()`.
///
/// Ownership: as for `cring_aio_target_open()`.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (`records`), `CRING_STATUS_NULL_POINTER` (`out`),
/// `CRING_STATUS_INVALID_ARGUMENT` (the ring's largest record cannot hold a completion record
/// with its attributes: use a data area of 256 bytes or more), `CRING_STATUS_BUSY`,
/// `CRING_STATUS_CLOSED`, `CRING_STATUS_CORRUPT`, `CRING_STATUS_NO_RESOURCES`. On failure
/// `*out` is `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_aio_target`.
#[no_mangle]
pub unsafe extern "C" fn cring_aio_target_open_records(
    records: cring_records,
    out: *mut cring_aio_target,
) -> cring_status {
    let open = || {
        let target = Target::records(&records_of(records)?).map_err(|e| match e {
            RecordTargetError::Handle(h) => Fail::from(h),
            _ => Fail::invalid(e.to_string()),
        })?;
        AIO.insert(Aio::Target(target))
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_aio_target { id }, open) }
}

/// Closes a target handle. Submissions already accepted still post into its ring; the ring's
/// producer claim is given up when the last of them has completed.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (not an open target).
#[no_mangle]
pub extern "C" fn cring_aio_target_close(target: cring_aio_target) -> cring_status {
    boundary(|| {
        target_of(target)?;
        AIO.remove(target.id)
    })
}

/// Reads a NUL-terminated path argument (any bytes but NUL).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn path_arg<'a>(p: *const c_char) -> Result<&'a Path, Fail> {
    if p.is_null() {
        return Err(Fail::null("sub.path"));
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    let c = unsafe { CStr::from_ptr(p) };
    Ok(Path::new(OsStr::from_bytes(c.to_bytes())))
}

fn usize_arg(v: u64, what: &str) -> Result<usize, Fail> {
    usize::try_from(v).map_err(|_| Fail::invalid(format!("{what} {v} is too large")))
}

/// Turns a C submission into an operation.
///
/// # Safety
/// The memory `s` points to is as `cring_aio_submit()` requires.
unsafe fn op_of(s: &cring_aio_sub) -> Result<Op, Fail> {
    let fd = s.fd;
    let data = |write: bool| -> Result<(*mut u8, usize), Fail> {
        let len = usize_arg(s.len, "sub.len")?;
        if len > isize::MAX as usize {
            return Err(Fail::invalid(format!("sub.len {len} is too large")));
        }
        if s.buf.is_null() && len > 0 {
            return Err(Fail::null(if write { "sub.buf (data)" } else { "sub.buf" }));
        }
        Ok((s.buf.cast(), len))
    };
    let iov = || -> Result<&[libc::iovec], Fail> {
        if s.len > IOV_MAX {
            return Err(Fail::invalid(format!(
                "sub.len is {} iovec entries; at most {IOV_MAX}",
                s.len
            )));
        }
        if s.len == 0 {
            return Ok(&[]);
        }
        let p = in_ptr(
            s.buf.cast_const().cast::<libc::iovec>(),
            "sub.buf (iovec array)",
        )?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees `len` readable iovecs.
        Ok(unsafe { core::slice::from_raw_parts(p, s.len as usize) })
    };
    let offset = Some(s.offset);
    // SAFETY (every raw constructor below): the caller of `cring_aio_submit()` lends the
    // memory `s` describes until the completion is reaped, as those constructors require.
    let op = match s.op {
        CRING_AIO_OP_NOP => Op::nop(),
        CRING_AIO_OP_READ | CRING_AIO_OP_PREAD => {
            let (p, n) = data(false)?;
            let off = (s.op == CRING_AIO_OP_PREAD).then_some(s.offset);
            // SAFETY: see above.
            unsafe { Op::read_raw(fd, p, n, off) }
        }
        CRING_AIO_OP_WRITE | CRING_AIO_OP_PWRITE => {
            let (p, n) = data(true)?;
            let off = (s.op == CRING_AIO_OP_PWRITE).then_some(s.offset);
            // SAFETY: see above.
            unsafe { Op::write_raw(fd, p, n, off) }
        }
        // SAFETY: see above.
        CRING_AIO_OP_READV => unsafe { Op::readv_raw(fd, iov()?, None) },
        // SAFETY: see above.
        CRING_AIO_OP_PREADV => unsafe { Op::readv_raw(fd, iov()?, offset) },
        // SAFETY: see above.
        CRING_AIO_OP_WRITEV => unsafe { Op::writev_raw(fd, iov()?, None) },
        // SAFETY: see above.
        CRING_AIO_OP_PWRITEV => unsafe { Op::writev_raw(fd, iov()?, offset) },
        CRING_AIO_OP_FSYNC => Op::fsync(fd),
        CRING_AIO_OP_FDATASYNC => Op::fdatasync(fd),
        CRING_AIO_OP_OPENAT => {
            // SAFETY: the caller guarantees `path` is NULL or NUL-terminated.
            let path = unsafe { path_arg(s.path) }?;
            Op::openat(fd, path, s.flags, s.mode).map_err(|e| Fail::invalid(e.to_string()))?
        }
        CRING_AIO_OP_CLOSE | CRING_AIO_OP_CLOSE_CANCELLING => {
            if fd < 0 {
                return Err(Fail::invalid(format!("cannot close descriptor {fd}")));
            }
            // SAFETY: the caller hands the descriptor over (the contract of
            // CRING_AIO_OP_CLOSE); it is not -1. A refused submission gives it back unclosed.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            if s.op == CRING_AIO_OP_CLOSE {
                Op::close(owned)
            } else {
                Op::close_cancelling(owned)
            }
        }
        CRING_AIO_OP_STATX => {
            // SAFETY: the caller guarantees `path` is NULL or NUL-terminated.
            let path = unsafe { path_arg(s.path) }?;
            let out = out_ptr(s.buf.cast::<libc::statx>(), "sub.buf (struct statx)")?;
            // SAFETY: see above; `out` is checked non-NULL and aligned.
            unsafe { Op::statx_raw(fd, path, s.flags, s.mode, out) }
                .map_err(|e| Fail::invalid(e.to_string()))?
        }
        CRING_AIO_OP_FALLOCATE => Op::fallocate(fd, s.flags, s.offset, s.len),
        other => {
            return Err(Fail::invalid(format!(
                "sub.op {other} is not a CRING_AIO_OP_* operation"
            )))
        }
    };
    Ok(op)
}

/// Turns a C submission into a pool submission.
///
/// # Safety
/// As for [`op_of`].
unsafe fn submission_of(s: &cring_aio_sub) -> Result<Submission, Fail> {
    let target = target_of(s.target)?;
    // SAFETY: the caller's guarantee.
    let op = unsafe { op_of(s) }?;
    Ok(Submission::new(op, &target).cookie(s.cookie))
}

/// Gives back a refused or unsubmitted submission's descriptor (a close) without closing it.
fn give_back(sub: Submission) {
    if let Some(fd) = sub.into_op().into_fd() {
        let _ = fd.into_raw_fd();
    }
}

fn submit_fail(e: &SubmitError) -> Fail {
    let status = match e {
        SubmitError::QueueFull { .. } => cring_status::Full,
        SubmitError::TimedOut { .. } => cring_status::TimedOut,
        SubmitError::TooLarge { .. } => cring_status::TooLarge,
        SubmitError::NoWorker { .. } => cring_status::NoResources,
        SubmitError::ShutDown => cring_status::Closed,
        _ => cring_status::WrongState,
    };
    Fail::new(status, e.to_string())
}

/// Checks the caller's `sizeof(cring_aio_sub)`.
fn check_sub_size(sub_size: usize) -> Result<(), Fail> {
    let want = core::mem::size_of::<cring_aio_sub>();
    if sub_size == want {
        Ok(())
    } else {
        Err(Fail::invalid(format!(
            "sub_size {sub_size}, expected sizeof(cring_aio_sub) = {want}"
        )))
    }
}

/// Submits one operation (`sub_size` is `sizeof(cring_aio_sub)`) and stores its submission id
/// in `*id` (for `cring_aio_cancel()`; ids increase in submission order and are never 0).
/// Exactly one completion, carrying `sub->cookie`, will be posted into the target's ring.
///
/// Against a full queue (`queue_depth` outstanding) the pool's backpressure applies: fail at
/// once (`CRING_STATUS_FULL`) or wait for room (`CRING_STATUS_TIMED_OUT` if the wait ends).
///
/// Thread safety: any thread; several threads may submit to one pool at once.
///
/// Errors (nothing was submitted; a close's descriptor stays open and yours):
/// `CRING_STATUS_FULL` (queue full, backpressure FAIL), `CRING_STATUS_TIMED_OUT` (queue full
/// for the whole wait), `CRING_STATUS_CLOSED` (the pool is being destroyed), `CRING_STATUS_TOO_LARGE` (buffers over 2^31 - 1 bytes: the result could
/// not report them), `CRING_STATUS_BAD_HANDLE` (`pool`, or `sub->target`),
/// `CRING_STATUS_NULL_POINTER` (`sub`, `id`, a buffer, iovec array, statx or path the
/// operation needs), `CRING_STATUS_MISALIGNED` (`sub`, `id`, the iovec array or statx),
/// `CRING_STATUS_INVALID_ARGUMENT` (`sub_size`, an unknown operation, a negative descriptor to
/// close, more than 1024 iovecs), `CRING_STATUS_NO_RESOURCES` (no worker thread could be
/// started). On failure `*id` is 0.
///
/// # Safety
///
/// `sub` is NULL or points to a `cring_aio_sub`; `id` is NULL or valid for writing a
/// `uint64_t`. The memory the submission describes (see `cring_aio_sub`) is valid as the
/// operation needs it (writable for reads and statx, readable for writes) and left alone by
/// the caller until the completion has been reaped, the submission refused, or the pool
/// destroyed. `path` is NULL or NUL-terminated. For a close, `sub->fd` is a descriptor the
/// caller owns and gives up.
#[no_mangle]
pub unsafe extern "C" fn cring_aio_submit(
    pool: cring_aio_pool,
    sub: *const cring_aio_sub,
    sub_size: usize,
    id: *mut u64,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(id, "id")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, 0) };
        let g = pool_guard(pool)?;
        check_sub_size(sub_size)?;
        let s = in_ptr(sub, "sub")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees a readable submission,
        // whose fields are integers and pointers (any bytes are valid).
        let s = unsafe { &*s };
        // SAFETY: the caller's guarantee for the memory the submission describes.
        let sub = unsafe { submission_of(s) }?;
        match pool_of(&g).submit(sub) {
            Ok(sid) => {
                // SAFETY: as above.
                unsafe { put(out, sid.get()) };
                Ok(())
            }
            Err(refused) => {
                let fail = submit_fail(&refused.error);
                give_back(refused.submission);
                Err(fail)
            }
        }
    })
}

/// Submits the `count` operations of the array `subs` in order (`sub_size` is
/// `sizeof(cring_aio_sub)`), stopping at the first one that is refused: stores how many were
/// accepted in `*accepted` (a prefix of the array) and their ids in `ids[0..*accepted]`, and
/// returns the status of the first refused one (the message names its index), or
/// `CRING_STATUS_OK` when all were accepted. Nothing after the refused one is submitted;
/// descriptors of refused or unsubmitted closes stay open and yours.
///
/// Thread safety: any thread.
///
/// Errors: the errors of `cring_aio_submit()` for the refused submission (with the accepted
/// ones in flight), and, with `*accepted == 0`, `CRING_STATUS_BAD_HANDLE` (`pool`),
/// `CRING_STATUS_NULL_POINTER` (`accepted`, or `subs` with `count > 0`),
/// `CRING_STATUS_INVALID_ARGUMENT` (`sub_size`).
///
/// # Safety
///
/// `subs` is NULL or points to `count` submissions, each as `cring_aio_submit()` requires;
/// `ids` is NULL (ids not wanted) or writable for `count` `uint64_t`; `accepted` is NULL or
/// valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_aio_submit_batch(
    pool: cring_aio_pool,
    subs: *const cring_aio_sub,
    count: usize,
    sub_size: usize,
    ids: *mut u64,
    accepted: *mut usize,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(accepted, "accepted")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, 0) };
        let g = pool_guard(pool)?;
        check_sub_size(sub_size)?;
        if count == 0 {
            return Ok(());
        }
        let base = in_ptr(subs, "subs")?;
        if !ids.is_null() {
            out_ptr(ids, "ids")?;
        }
        // SAFETY: checked non-NULL and aligned; the caller guarantees `count` readable
        // submissions.
        let all = unsafe { core::slice::from_raw_parts(base, count) };
        let mut batch = Vec::with_capacity(count);
        let mut bad = None;
        for (i, s) in all.iter().enumerate() {
            // SAFETY: the caller's guarantee for each submission.
            match unsafe { submission_of(s) } {
                Ok(sub) => batch.push(sub),
                Err(mut f) => {
                    f.detail = format!("submission {i} of {count}: {}", f.detail).into();
                    bad = Some(f);
                    break;
                }
            }
        }
        let result = pool_of(&g).submit_batch(batch);
        let n = result.accepted();
        if !ids.is_null() {
            for (i, sid) in result.ids.iter().enumerate() {
                // SAFETY: `ids` is checked non-NULL and aligned; the caller guarantees `count`
                // writable elements and `i < n <= count`.
                unsafe { put(ids.add(i), sid.get()) };
            }
        }
        // SAFETY: as above.
        unsafe { put(out, n) };
        for sub in result.unsubmitted {
            give_back(sub);
        }
        match (result.error, bad) {
            (Some(e), _) => {
                let mut f = submit_fail(&e);
                f.detail = format!("submission {n} of {count}: {}", f.detail).into();
                Err(f)
            }
            (None, Some(f)) => Err(f),
            (None, None) => Ok(()),
        }
    })
}

/// Closes descriptor `fd` through the pool: the close runs after every operation submitted
/// earlier on `fd` has completed (with `cancel_in_flight` non-zero, those are cancelled
/// first), and operations submitted later on the same number wait for it. Its completion
/// carries `cookie` and goes to `target`; its id is stored in `*id`. Once accepted, the pool
/// owns `fd`; when refused it stays open and yours.
///
/// Thread safety: any thread.
///
/// Errors: as for `cring_aio_submit()`; `CRING_STATUS_INVALID_ARGUMENT` (`fd` negative),
/// `CRING_STATUS_BAD_HANDLE` (`pool`, `target`).
///
/// # Safety
///
/// `id` is NULL or valid for writing a `uint64_t`; `fd` is a descriptor the caller owns and
/// gives up.
#[no_mangle]
pub unsafe extern "C" fn cring_aio_close(
    pool: cring_aio_pool,
    target: cring_aio_target,
    fd: c_int,
    cookie: u64,
    cancel_in_flight: u32,
    id: *mut u64,
) -> cring_status {
    let sub = cring_aio_sub {
        op: if cancel_in_flight != 0 {
            CRING_AIO_OP_CLOSE_CANCELLING
        } else {
            CRING_AIO_OP_CLOSE
        },
        fd,
        cookie,
        target,
        offset: 0,
        buf: core::ptr::null_mut(),
        len: 0,
        path: core::ptr::null(),
        flags: 0,
        mode: 0,
    };
    // SAFETY: `sub` is a local close submission; the caller's guarantees for `id` and `fd`.
    unsafe { cring_aio_submit(pool, &sub, core::mem::size_of::<cring_aio_sub>(), id) }
}

/// Cancels submission `id` and stores what happened in `*outcome` (`CRING_AIO_CANCEL_*`):
/// not started: `CANCELED` (its `-ECANCELED` completion has been posted); running and
/// interruptible: `INTERRUPTED`, or `RUNNING` if its worker had not reacted within a short wait
/// (up to 20 ms; the completion tells); otherwise `TOO_LATE` (it completes normally); an id
/// the pool never issued: `UNKNOWN`. Every submission gets exactly one completion whatever
/// the outcome.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (`pool`), `CRING_STATUS_NULL_POINTER` (`outcome`),
/// `CRING_STATUS_MISALIGNED`. On failure `*outcome` is 0.
///
/// # Safety
///
/// `outcome` is NULL or valid for writing a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_aio_cancel(
    pool: cring_aio_pool,
    id: u64,
    outcome: *mut u32,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(outcome, "outcome")?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, 0) };
        let g = pool_guard(pool)?;
        let v = match pool_of(&g).cancel(SubmissionId(id)) {
            CancelOutcome::Canceled => CRING_AIO_CANCEL_CANCELED,
            CancelOutcome::Interrupted => CRING_AIO_CANCEL_INTERRUPTED,
            CancelOutcome::Signalled => CRING_AIO_CANCEL_RUNNING,
            CancelOutcome::TooLate => CRING_AIO_CANCEL_TOO_LATE,
            CancelOutcome::Unknown => CRING_AIO_CANCEL_UNKNOWN,
        };
        // SAFETY: as above.
        unsafe { put(out, v) };
        Ok(())
    })
}
