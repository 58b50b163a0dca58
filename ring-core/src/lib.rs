//! A lock-free completion ring in memory the user allocates, shared by threads and processes.
//!
//! # Start here
//!
//! Make a [`Ring`], then take a [`Producer`] ([`Ring::producer`]) and a [`Consumer`]
//! ([`Ring::consumer`]) from it. Pick the constructor by who shares the ring:
//! [`Ring::create_heap`] (threads of one process), [`Ring::create_shm`] and [`Ring::open_shm`]
//! (processes that know a name under `/dev/shm`), [`Ring::create_memfd`] (processes you pass a
//! descriptor to), or [`Ring::create`] / [`Ring::attach`] over a [`Region`] of your choosing
//! (huge pages, memory you manage). Entries are [`Completion`]s or any plain-data type that
//! implements [`Entry`].
//!
//! ```
//! use ring_core::{Completion, Config, PopError, Ring};
//!
//! let name = format!("ring-core-start-{}", std::process::id());
//! // The creator owns /dev/shm/<name>: dropping `ring` removes the name.
//! let ring = Ring::<Completion>::create_shm(&name, Config::new(64)).unwrap();
//! let peer = Ring::<Completion>::open_shm(&name).unwrap(); // as another process would
//! let mut tx = peer.producer().unwrap();
//! tx.push(Completion::new(7, 512, 0)).unwrap();
//! tx.close(); // end of stream
//! let mut rx = ring.consumer().unwrap();
//! assert_eq!(rx.pop().unwrap().user_data, 7);
//! assert_eq!(rx.pop(), Err(PopError::Closed)); // drained and closed: no more will come
//! ```
//!
//! Then:
//!
//! - **Taking entries**: [`Consumer::pop`] and [`Consumer::pop_into`] take from the ring and,
//!   once it is empty, from the overflow area ([`Config::overflow`]); [`Consumer::view`] reads
//!   in place and covers the ring *or* the overflow area, one of them per call (call again for
//!   the rest); [`Consumer::reap`] waits for at least `min` entries with a timeout, like
//!   `io_getevents`, and [`Consumer::wait`] waits without taking.
//! - **End of stream**: [`Producer::close`] closes the stream; consumers take what is left and
//!   then get [`PopError::Closed`] (and [`WaitError::Closed`] from `reap`).
//! - **Tight producer loops** on an SPSC ring: [`Producer::into_spsc`] gives an
//!   [`SpscProducer`], which pushes with no dispatch and keeps its state in registers. SPSC
//!   rings without an overflow area have packed slots (layout 1.4, [`Config::packed`]).
//! - **Errors** are typed, one enum per operation ([`error`]), and their messages name the
//!   file, the side and the values in words.
//! - **The specification** of the layout and protocol, for peers written in other languages,
//!   is in the repository's `spec/` directory: `spec/README.md` (index), `spec/LAYOUT.md` (every
//!   byte, layout 1.3) and `spec/PROTOCOL.md` (every step).
//! - **The C ABI** is the `ring-ffi` crate (`cring.h`).
//!
//! # Overview
//!
//! `ring-core` lays a fixed-size ring of plain-data entries over a region of memory you choose:
//! a heap buffer, a memfd whose descriptor you pass to another process, a file under `/dev/shm`,
//! or huge pages. Every byte of the region is described by a versioned, self-describing layout
//! (spec/LAYOUT.md) and every protocol step by spec/PROTOCOL.md, so that a process written in
//! another language can share the ring.
//!
//! - **Modes**: SPSC (index-only, no read-modify-write, one Release store per batch), MPSC,
//!   SPMC and MPMC (per-slot lap tags, compare-and-swap reservation; a stalled producer never
//!   stops other producers from reserving and publishing).
//! - **Operations**: single push/pop, all-or-nothing and as-many-as-fit batch push, batch pop,
//!   zero-copy reserve/commit for producers and in-place views for consumers.
//! - **Untrusted peers**: the header is validated once on attach and kept in private trusted
//!   copies; indices and lap tags written by peers are checked on every use, and what is
//!   detected is a typed [`Corruption`] error. A hostile peer cannot cause a panic, an
//!   out-of-bounds access, an endless loop or undefined behaviour; it can cause wrong entry
//!   bytes or an entry delivered twice. Payloads are copied in and out with word-sized atomic
//!   accesses, so even a forged tag inside one process that makes a consumer read a slot a
//!   producer is writing gives wrong bytes, not a data race ([`ReadView::iter`] copies too;
//!   [`WriteChunk::get_mut`] is `unsafe` for that reason).
//! - **Crash safety**: a producer killed at any instruction does not wedge the ring: single
//!   producers are taken over, multi-producer rings recover through per-producer records
//!   ([`Ring::recover`]).
//!
//! # Examples
//!
//! ```
//! use ring_core::{Completion, Config, Mode, Ring};
//!
//! let ring = Ring::<Completion>::create_heap(Config::new(64).mode(Mode::Mpsc)).unwrap();
//! std::thread::scope(|s| {
//!     for t in 0..2u64 {
//!         let ring = &ring;
//!         s.spawn(move || {
//!             let mut tx = ring.producer().unwrap();
//!             for i in 0..100 {
//!                 let mut c = Completion::new(t << 32 | i, 0, 0);
//!                 while let Err(e) = tx.push(c) {
//!                     c = e.into_inner();
//!                     std::thread::yield_now();
//!                 }
//!             }
//!         });
//!     }
//!     let mut rx = ring.consumer().unwrap();
//!     let mut got = 0;
//!     while got < 200 {
//!         if rx.pop().is_ok() {
//!             got += 1;
//!         }
//!     }
//! });
//! ```
//!
//! # Features
//!
//! - `std` (default): OS-backed [`Region`]s, waiting ([`Consumer::reap`], eventfd) and the
//!   convenience constructors. Without it the crate is `no_std` (it needs `alloc` for the
//!   handles' reference count): [`Ring`] over a [`RawRegion`] you provide, [`format()`] and
//!   [`attach()`].
//!
//! # Handles
//!
//! [`Producer`] and [`Consumer`] own a reference to their ring, so they move into threads
//! freely. Each picks, when it is made, the implementation (flavor) its mode needs: SPSC without
//! an overflow area, MPSC/MPMC producers and MPSC consumers without one, or the general path
//! (any ring with an overflow area, SPMC, MPMC consumers). The protocol code is private: every
//! public operation keeps the ring's invariants.
//!
//! The `ring_core_loom` cfg (`RUSTFLAGS="--cfg ring_core_loom"`, named for this crate so that a
//! downstream crate's own `--cfg loom` leaves it alone) swaps the atomics and payload cells for
//! loom's so the `loom-tests` crate model-checks this very code, through `model::HeapRing`.

#![cfg_attr(not(any(feature = "std", ring_core_loom)), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]
// Without `std` the blocking layer (waits, eventfd) is absent, and with it the only users of
// some protocol helpers (wait conditions, the futex shim).
#![cfg_attr(not(any(feature = "std", ring_core_loom)), allow(dead_code))]

extern crate alloc;

#[cfg(any(feature = "std", ring_core_loom))]
pub mod blocking;
pub mod consumer;
pub mod entry;
pub mod error;
pub mod format;
#[cfg(not(ring_core_loom))]
pub mod inspect;
pub mod layout;
/// The loom model of the ring, for the `loom-tests` crate only (not an API).
#[cfg(ring_core_loom)]
#[doc(hidden)]
pub mod model;
pub mod producer;
mod protocol;
pub mod record;
#[cfg(feature = "std")]
pub mod region;
pub mod ring;
mod shared;
pub mod spsc_consumer;
pub mod spsc_producer;
mod sync;
mod sys;

#[cfg(any(feature = "std", ring_core_loom))]
pub use blocking::{WaitError, WaitOutcome};
pub use consumer::{Consumer, ReadView};
pub use entry::{Completion, Entry};
pub use error::{ClaimError, Corruption, LayoutError, PopError, PushAllError, PushError, Side};
pub use format::{attach, format, Config, Geometry, RawRegion};
pub use producer::{Producer, WriteChunk};
pub use protocol::lap::SCAN_BUDGET;
pub use protocol::registry::{RecoverError, Recovered};
pub use protocol::stream::StreamState;
pub use protocol::{Mode, RETRY_BUDGET};
#[cfg(feature = "std")]
pub use region::{HugePageSize, Region, RegionError};
pub use ring::{Counters, Lines, Memory, Ring};
pub use spsc_consumer::{SpscConsumer, SpscReadView};
pub use spsc_producer::{SpscProducer, SpscWriteChunk};

/// The memory type [`Ring`] uses by default: [`Region`] with `std`, [`RawRegion`] without.
#[cfg(feature = "std")]
pub type DefaultMemory = Region;
/// The memory type [`Ring`] uses by default: [`Region`] with `std`, [`RawRegion`] without.
#[cfg(not(feature = "std"))]
pub type DefaultMemory = RawRegion;

/// This process's id (0 without `std`).
pub(crate) fn current_pid() -> u32 {
    #[cfg(feature = "std")]
    {
        std::process::id()
    }
    #[cfg(not(feature = "std"))]
    {
        0
    }
}

/// Whether `/proc/<pid>/stat` reports the process as a zombie (state `Z`) or dead (`X`).
#[cfg(all(feature = "std", not(ring_core_loom)))]
fn is_zombie(pid: libc::pid_t) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The command name is in parentheses and may contain spaces; the state follows the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

/// The start time of process `pid` (field 22 of `/proc/<pid>/stat`, clock ticks since boot), if
/// it can be read: with the process id it names one process for good, where the id alone may be
/// reused.
pub(crate) fn process_start_time(pid: u32) -> Option<u64> {
    #[cfg(all(feature = "std", not(ring_core_loom)))]
    {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (in parentheses, possibly with spaces): field 3 is the
        // state, so field 22 is the 20th after it.
        let (_, rest) = stat.rsplit_once(')')?;
        rest.split_whitespace().nth(19)?.parse().ok()
    }
    #[cfg(not(all(feature = "std", not(ring_core_loom))))]
    {
        let _ = pid;
        None
    }
}

/// Whether a process with this id exists (always true without `std`: claims are then never
/// taken over).
pub(crate) fn pid_alive(pid: u32) -> bool {
    #[cfg(all(feature = "std", not(ring_core_loom)))]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: kill with signal 0 performs only the existence and permission check.
        let r = unsafe { libc::kill(pid, 0) };
        if r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
            return false;
        }
        // A killed process that its parent has not reaped yet still "exists" as a zombie;
        // it will never release its claim, so it counts as gone.
        !is_zombie(pid)
    }
    #[cfg(not(all(feature = "std", not(ring_core_loom))))]
    {
        let _ = pid;
        true
    }
}
