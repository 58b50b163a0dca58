//! Benchmarks of `ring-core` against its peers, measured side by side in one run.
//!
//! This crate holds the workloads; two front ends run them:
//!
//! - the criterion suite (`cargo bench -p benches`): one benchmark per workload and contender,
//!   with criterion's statistics, HTML reports and plots under `target/criterion/`;
//! - the `compare` binary (`cargo run --release -p benches --bin compare`): a short run of
//!   everything that interleaves ours and each peer repetition by repetition, measures the cost
//!   of moving a cache line between the two cores at the start of each repetition, and writes
//!   one table of medians and ratios (`results/compare.md`) and a bar chart of the ratios
//!   (`results/compare.svg`).
//!
//! What is measured, and how (every contender gets the same code around it):
//!
//! - [`threads`]: throughput between threads (SPSC single entries, SPSC batches of 32, MPSC
//!   with 2 producers, MPMC with 2 producers and 2 consumers; 16-byte entries, capacity 4096),
//!   round-trip latency between two threads, busy-polling, and the cache-line transfer cost;
//! - [`xproc`]: round-trip latency between two processes sharing `/dev/shm` (ours, a minimal
//!   hand-written ring as the floor, ipmpsc, a pipe, a Unix socket), and the wake-up latency of
//!   a consumer asleep in another process (ours through the futex and through the eventfd,
//!   against a bare futex wake and a bare eventfd write);
//! - [`records`]: throughput of the record ring (records of 16 to 4096 bytes, SPSC and MPSC,
//!   between threads and between processes) against the fixed ring, ipmpsc and a pipe;
//! - [`paths`]: the overflow path, reaping per batch, and io_uring's own completion path (NOP
//!   submit and reap) for reference;
//! - [`workloads`] and [`peers`]: the contenders and the one interface they are driven through;
//! - [`floor`]: the minimal shared-memory SPSC ring used as the floor.
//!
//! The rings of ours in busy-polling benchmarks are created without the wait block
//! ([`ring_core::Config::wait`]`(false)`); "ours (wait block)" shows what the wait block's
//! per-publication fence costs. The wake-up benchmarks use the wait block.
//!
//! Cross-process benchmarks start this same executable again as the child process (see
//! [`child::run_child_if_requested`], which every `main` here calls first).

#![deny(unsafe_op_in_unsafe_fn)]

pub mod affinity;
pub mod child;
pub mod clock;
pub mod floor;
pub mod floor2;
pub mod machine;
pub mod paths;
pub mod peers;
pub mod records;
pub mod stats;
pub mod threads;
pub mod workloads;
pub mod xproc;
