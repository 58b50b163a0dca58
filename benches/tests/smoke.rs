//! Smoke test: every workload and contender runs briefly and checks what it received, including
//! the cross-process ones (this test re-executes itself as the child, hence no libtest harness).
//! It times nothing; speed is measured by the criterion suite and `compare`, never by a test.

use benches::paths::{self, Overflow, Reaper};
use benches::records::{self, Medium, RecPeer};
use benches::workloads::{Many, PingPong, Spsc};
use benches::xproc::{Wake, XPingPong};
use std::time::Duration;

fn main() {
    benches::child::run_child_if_requested();
    let mut results: Vec<(String, Result<(), String>)> = Vec::new();
    let mut check = |name: String, f: &mut dyn FnMut() -> Result<(), String>| {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut *f))
            .unwrap_or_else(|_| Err("panicked".into()));
        println!("{name} ... {}", if r.is_ok() { "ok" } else { "FAILED" });
        results.push((name, r));
    };
    for p in Spsc::SINGLE {
        check(format!("spsc single {}", p.name()), &mut || {
            p.single(2_000);
            Ok(())
        });
    }
    for p in Spsc::BATCH {
        check(format!("spsc batch {}", p.name()), &mut || {
            p.batch(2_048, 32).map(drop).ok_or("no batch API".into())
        });
    }
    for (list, consumers) in [(&Many::MPSC[..], 1), (&Many::MPMC[..], 2)] {
        for &p in list {
            check(
                format!("{} producers, {consumers} consumers: {}", 2, p.name()),
                &mut || {
                    p.run(2, consumers, 1_000)
                        .map(drop)
                        .ok_or("unsupported".into())
                },
            );
        }
    }
    for p in PingPong::ALL {
        check(format!("round trips, threads: {}", p.name()), &mut || {
            let v = p.run(50, 5);
            (v.len() == 50)
                .then_some(())
                .ok_or("missing samples".into())
        });
    }
    for p in XPingPong::ALL {
        check(format!("round trips, processes: {}", p.name()), &mut || {
            let v = p.run(50, 5, Duration::from_secs(10))?;
            (v.len() == 50)
                .then_some(())
                .ok_or("missing samples".into())
        });
    }
    for w in Wake::ALL {
        check(format!("wake-up, processes: {}", w.name()), &mut || {
            let v = w.run(3, Duration::from_secs(10))?;
            (v.len() == 3 && v.iter().all(|&x| x > 0.0))
                .then_some(())
                .ok_or(format!("bad samples {v:?}"))
        });
    }
    for medium in Medium::ALL {
        for producers in [1usize, 2] {
            for size in records::SIZES {
                for p in RecPeer::ALL.into_iter().filter(|p| p.applies(size)) {
                    let name = format!(
                        "records, {}, {producers} producer(s), {size} B: {}",
                        medium.name(),
                        p.name()
                    );
                    check(name, &mut || {
                        let r = p.run(medium, producers, size, 300);
                        if p == RecPeer::Pipe && producers > 1 && size > 4092 {
                            // Refused: a write above PIPE_BUF is not atomic.
                            return r.err().map(drop).ok_or("ran past PIPE_BUF".into());
                        }
                        r.and_then(|m| {
                            (m.elapsed > std::time::Duration::ZERO)
                                .then_some(())
                                .ok_or("no time elapsed".into())
                        })
                    });
                }
            }
        }
    }
    check("overflow and reap paths".into(), &mut || {
        let o = Overflow::new();
        o.spill(300);
        o.plain(300);
        Reaper::new().time(8, 20, None);
        paths::ours_post_reap_time(32, 10);
        Ok(())
    });
    let failed: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
    for (name, r) in &failed {
        println!("FAILED {name}: {}", r.as_ref().unwrap_err());
    }
    println!(
        "{} passed, {} failed",
        results.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(1);
    }
}
