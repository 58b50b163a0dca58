//! A `du`-like tree walk: disk usage and apparent size of a directory tree, with every
//! `statx` run through the pool (many in flight), compared with a sequential walk.
//!
//! ```text
//! cargo run --release -p ring-aio --example du -- [PATH] [--workers N] [--depth N]
//! ```
//!
//! Directory listing stays on the main thread (there is no getdents operation); each entry's
//! `statx` goes through the pool and its completion decides whether it is a directory to
//! descend into. With a warm metadata cache the sequential walk is hard to beat (a `statx`
//! then costs about a microsecond); the pool pays off when `statx` blocks (cold cache,
//! network file systems).

use ring_aio::{Backpressure, Op, Output, Pool, PoolConfig, Submission, Target};
use ring_core::{Completion, Config, Mode, Ring};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Default, Debug, PartialEq, Eq)]
struct Usage {
    files: u64,
    dirs: u64,
    bytes: u64,
    blocks_bytes: u64,
    errors: u64,
}

fn sequential(root: &Path) -> Usage {
    let mut u = Usage::default();
    let mut stack = vec![root.to_path_buf()];
    let mut first = true;
    while let Some(p) = stack.pop() {
        let md = match std::fs::symlink_metadata(&p) {
            Ok(md) => md,
            Err(_) => {
                u.errors += 1;
                continue;
            }
        };
        use std::os::unix::fs::MetadataExt;
        u.bytes += md.size();
        u.blocks_bytes += md.blocks() * 512;
        if md.is_dir() {
            u.dirs += 1;
            if let Ok(rd) = std::fs::read_dir(&p) {
                for e in rd.flatten() {
                    stack.push(e.path());
                }
            } else if !first {
                u.errors += 1;
            }
        } else {
            u.files += 1;
        }
        first = false;
    }
    u
}

fn parallel(root: &Path, workers: usize, depth: usize) -> Usage {
    let ring = Ring::<Completion>::create_heap(
        Config::new((depth as u32).next_power_of_two().max(64)).mode(Mode::Mpsc),
    )
    .expect("completion ring");
    let target = Target::new(&ring).expect("target");
    let pool = Pool::new(
        PoolConfig::new()
            .max_workers(workers)
            .queue_depth(depth)
            .backpressure(Backpressure::Fail),
    )
    .expect("pool");
    let mut rx = ring.consumer().expect("consumer");
    let mask = libc::STATX_TYPE | libc::STATX_SIZE | libc::STATX_BLOCKS;
    let mut u = Usage::default();
    let mut to_stat: Vec<PathBuf> = vec![root.to_path_buf()];
    let mut in_flight: HashMap<u64, PathBuf> = HashMap::new();
    let mut done = vec![Completion::default(); 256];
    while !to_stat.is_empty() || !in_flight.is_empty() {
        // Keep up to `depth` statx calls in flight.
        while in_flight.len() < depth {
            let Some(p) = to_stat.pop() else { break };
            let op = Op::statx(libc::AT_FDCWD, &p, libc::AT_SYMLINK_NOFOLLOW, mask)
                .expect("path without NUL");
            match pool.submit(Submission::new(op, &target)) {
                Ok(id) => {
                    in_flight.insert(id.get(), p);
                }
                Err(refused) => panic!("{refused}"),
            }
        }
        let n = rx
            .reap(&mut done, 1, Some(Duration::from_secs(30)))
            .expect("reap");
        assert!(n > 0, "no completion within 30 s");
        for c in &done[..n] {
            let path = in_flight.remove(&c.user_data).expect("known submission");
            let stx = match pool.take_output(ring_aio::SubmissionId(c.user_data)) {
                Some(Output::Statx(s)) if c.result == 0 => s,
                _ => {
                    u.errors += 1;
                    continue;
                }
            };
            u.bytes += stx.stx_size;
            u.blocks_bytes += stx.stx_blocks * 512;
            if u32::from(stx.stx_mode) & libc::S_IFMT == libc::S_IFDIR {
                u.dirs += 1;
                if let Ok(rd) = std::fs::read_dir(&path) {
                    to_stat.extend(rd.flatten().map(|e| e.path()));
                }
            } else {
                u.files += 1;
            }
        }
    }
    u
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut root = PathBuf::from(".");
    let mut workers = 16;
    let mut depth = 256;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--workers" => workers = args.next().and_then(|v| v.parse().ok()).expect("N"),
            "--depth" => depth = args.next().and_then(|v| v.parse().ok()).expect("N"),
            _ => root = PathBuf::from(a),
        }
    }
    let t = Instant::now();
    let seq = sequential(&root);
    let t_seq = t.elapsed();
    let t = Instant::now();
    let par = parallel(&root, workers, depth);
    let t_par = t.elapsed();
    println!("{}", root.display());
    println!(
        "  sequential: {:>8} files {:>6} dirs {:>14} bytes {:>14} on disk  {:>9.1} ms",
        seq.files,
        seq.dirs,
        seq.bytes,
        seq.blocks_bytes,
        t_seq.as_secs_f64() * 1e3
    );
    println!(
        "  ring-aio:   {:>8} files {:>6} dirs {:>14} bytes {:>14} on disk  {:>9.1} ms  ({workers} workers, {depth} in flight)",
        par.files,
        par.dirs,
        par.bytes,
        par.blocks_bytes,
        t_par.as_secs_f64() * 1e3
    );
    println!(
        "  speed-up {:.2}x; errors {} / {}",
        t_seq.as_secs_f64() / t_par.as_secs_f64(),
        seq.errors,
        par.errors
    );
    if seq != par {
        println!("  (the totals differ: the tree changed during the walks, or errors differ)");
    }
}
