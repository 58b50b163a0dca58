//! Criterion: round-trip latency, busy-polling, between two threads and between two processes
//! sharing `/dev/shm` (with a pipe and a Unix socket as syscall baselines).
//!
//! One criterion iteration is one round trip, timed with the TSC; criterion reports the mean.
//! Every round trip criterion runs is also kept, and the p50 and p99 of each contender are
//! printed at the end (they are also what `compare` reports).

use benches::stats::Percentiles;
use benches::workloads::PingPong;
use benches::xproc::XPingPong;
use criterion::{BenchmarkId, Criterion};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Every round trip measured, by benchmark name (capped per name).
static SAMPLES: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());
const KEEP: usize = 4 << 20;

fn keep(name: String, v: &[f64]) -> Duration {
    let total: f64 = v.iter().sum();
    let mut m = SAMPLES.lock().unwrap();
    let s = m.entry(name).or_default();
    let room = KEEP.saturating_sub(s.len());
    s.extend_from_slice(&v[..room.min(v.len())]);
    Duration::from_nanos(total as u64)
}

fn threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("rtt_threads");
    for p in PingPong::ALL {
        g.bench_function(BenchmarkId::from_parameter(p.name()), |b| {
            b.iter_custom(|iters| {
                let v = p.run(iters as usize, (iters as usize).min(1000));
                keep(format!("rtt_threads/{}", p.name()), &v)
            })
        });
    }
    g.finish();
}

fn processes(c: &mut Criterion) {
    let mut g = c.benchmark_group("rtt_processes");
    for p in XPingPong::ALL {
        g.bench_function(BenchmarkId::from_parameter(p.name()), |b| {
            b.iter_custom(|iters| {
                let v = p
                    .run(iters as usize, (iters as usize).min(1000), Duration::MAX)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.name()));
                keep(format!("rtt_processes/{}", p.name()), &v)
            })
        });
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
    threads(&mut c);
    processes(&mut c);
    c.final_summary();
    let mut m = SAMPLES.lock().unwrap();
    if !m.is_empty() {
        println!("\nRound-trip percentiles over every round trip criterion ran:");
        for (name, v) in m.iter_mut() {
            let p = Percentiles::of(v);
            println!(
                "  {name:<48} p50 {:>9.0} ns   p99 {:>9.0} ns   ({} round trips)",
                p.p50, p.p99, p.n
            );
        }
    }
}
