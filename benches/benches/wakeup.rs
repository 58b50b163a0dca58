//! Criterion: wake-up latency of a consumer asleep in another process: ours through the futex
//! (`reap`) and through the eventfd (`eventfd_prepare` + `poll`), against a bare shared futex
//! wake and a bare eventfd write.
//!
//! One criterion iteration is one wake-up: from just before the producer publishes to the
//! woken consumer holding the entry (`CLOCK_MONOTONIC` in both processes). Between wake-ups the
//! parent waits for the child to be asleep in the kernel, so a run takes several times the time
//! criterion reports. p50 and p99 over every wake-up are printed at the end.

use benches::stats::Percentiles;
use benches::xproc::Wake;
use criterion::{BenchmarkId, Criterion};
use std::collections::BTreeMap;
use std::time::Duration;

fn main() {
    benches::child::run_child_if_requested();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_millis(500))
        .configure_from_args();
    let mut all: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    let mut g = c.benchmark_group("wakeup_processes");
    for w in Wake::ALL {
        let kept = all.entry(w.name()).or_default();
        g.bench_function(BenchmarkId::from_parameter(w.name()), |b| {
            b.iter_custom(|iters| {
                let v = w
                    .run(iters as usize, Duration::MAX)
                    .unwrap_or_else(|e| panic!("{}: {e}", w.name()));
                kept.extend_from_slice(&v);
                Duration::from_nanos(v.iter().sum::<f64>() as u64)
            })
        });
    }
    g.finish();
    c.final_summary();
    if all.values().any(|v| !v.is_empty()) {
        println!("\nWake-up percentiles over every wake-up criterion ran:");
        for (name, v) in all.iter_mut() {
            let p = Percentiles::of(v);
            println!(
                "  {name:<24} p50 {:>9.0} ns   p99 {:>9.0} ns   ({} wake-ups)",
                p.p50, p.p99, p.n
            );
        }
    }
}
