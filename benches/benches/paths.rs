//! Criterion: single-thread costs of ours, and io_uring's completion path for reference.
//!
//! - `overflow`: `push` into a full ring that spills into the overflow area, and `reap` of the
//!   spilled entries, against the same operations on a ring with room (per entry);
//! - `reap`: one `reap` call per iteration with the batch ready (1, 8, 32, 256 entries),
//!   without and with a timeout;
//! - `completion_path`: one thread posting and reaping batches of 32 on a ring of ours, against
//!   io_uring NOPs submitted and reaped in batches of 32 (printed as unavailable where
//!   `io_uring_setup` is refused).

use benches::paths::{self, Overflow, Reaper};
use criterion::{BenchmarkId, Criterion, Throughput};
use std::time::Duration;

fn overflow(c: &mut Criterion) {
    let o = Overflow::new();
    let mut g = c.benchmark_group("overflow");
    g.throughput(Throughput::Elements(1));
    g.bench_function("push, spilling into overflow", |b| {
        b.iter_custom(|iters| o.spill(iters).0)
    });
    g.bench_function("push, ring with room", |b| {
        b.iter_custom(|iters| o.plain(iters).0)
    });
    g.bench_function("reap 32s, from overflow", |b| {
        b.iter_custom(|iters| o.spill(iters).1)
    });
    g.bench_function("reap 32s, from the ring", |b| {
        b.iter_custom(|iters| o.plain(iters).1)
    });
    g.finish();
}

fn reap(c: &mut Criterion) {
    let r = Reaper::new();
    let mut g = c.benchmark_group("reap");
    for batch in [1usize, 8, 32, 256] {
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(BenchmarkId::new("no timeout", batch), |b| {
            b.iter_custom(|iters| r.time(batch, iters, None))
        });
        g.bench_function(BenchmarkId::new("timeout", batch), |b| {
            b.iter_custom(|iters| r.time(batch, iters, Some(Duration::ZERO)))
        });
    }
    g.finish();
}

fn completion(c: &mut Criterion) {
    let mut g = c.benchmark_group("completion_path");
    g.throughput(Throughput::Elements(32));
    g.bench_function("ours push_all + reap", |b| {
        b.iter_custom(|iters| paths::ours_post_reap_time(32, iters))
    });
    match paths::uring_available() {
        Ok(()) => {
            g.bench_function("io_uring NOP submit + reap", |b| {
                b.iter_custom(|iters| paths::uring_nop_time(32, iters).expect("io_uring"))
            });
        }
        Err(e) => println!("completion_path/io_uring NOP submit + reap: unavailable ({e})"),
    }
    g.finish();
}

fn main() {
    benches::child::run_child_if_requested();
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    overflow(&mut c);
    reap(&mut c);
    completion(&mut c);
    c.final_summary();
}
