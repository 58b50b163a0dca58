//! Criterion: throughput between threads, ours and the peers (16-byte entries, capacity 4096).
//!
//! - `spsc_single`: one producer, one consumer, one entry at a time;
//! - `spsc_batch32`: batches of 32 (ours: `push_all`/`pop_into` and zero-copy
//!   `reserve_exact`/`view`; rtrb: its chunk API; ringbuf: its slice API; the floor ring);
//! - `mpsc_2p`: two producers, one consumer;
//! - `mpmc_2p2c`: two producers, two consumers (ours in MPMC mode).
//!
//! One criterion iteration moves [`CHUNK`] entries; throughput is reported in entries/s.
//! Threads are pinned (thread i on allowed core i, wrapping); see `benches::threads`.

use benches::workloads::{Many, Spsc};
use criterion::{BenchmarkId, Criterion, Throughput};
use std::time::Duration;

/// Entries per criterion iteration.
const CHUNK: u64 = 16_384;

fn spsc(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc_single");
    g.throughput(Throughput::Elements(CHUNK));
    for p in Spsc::SINGLE {
        g.bench_function(BenchmarkId::from_parameter(p.name()), |b| {
            b.iter_custom(|iters| p.single(iters * CHUNK))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("spsc_batch32");
    g.throughput(Throughput::Elements(CHUNK));
    for p in Spsc::BATCH {
        g.bench_function(BenchmarkId::from_parameter(p.name()), |b| {
            b.iter_custom(|iters| p.batch(iters * CHUNK, 32).expect("batch API"))
        });
    }
    g.finish();
}

fn many(c: &mut Criterion) {
    for (name, list, consumers) in [
        ("mpsc_2p", &Many::MPSC[..], 1),
        ("mpmc_2p2c", &Many::MPMC[..], 2),
    ] {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(CHUNK));
        for &p in list {
            g.bench_function(BenchmarkId::from_parameter(p.name()), |b| {
                b.iter_custom(|iters| {
                    p.run(2, consumers, iters * CHUNK / 2)
                        .expect("contender supports this many consumers")
                })
            });
        }
        g.finish();
    }
}

fn main() {
    benches::child::run_child_if_requested();
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    spsc(&mut c);
    many(&mut c);
    c.final_summary();
}
