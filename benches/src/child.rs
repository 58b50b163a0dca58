//! Benchmark children: a process started with [`crate::xproc::CHILD_ENV`] set runs the role
//! it names and exits. The roles live with their benchmarks ([`crate::xproc`] and
//! [`crate::records`]); this module only dispatches, so neither of them refers to the other.

use crate::xproc::{self, Orphan};

/// If this process was started as a benchmark child, runs its role and exits; otherwise
/// returns at once. Call it first thing in `main` (it also records the allowed cores, see
/// [`crate::affinity::allowed_cores`], before any thread is pinned).
pub fn run_child_if_requested() {
    // Record the cores the process may use while no thread of it is pinned yet (the set is read
    // from the calling thread's affinity mask at first use).
    crate::affinity::allowed_cores();
    let Ok(spec) = std::env::var(xproc::CHILD_ENV) else {
        return;
    };
    let args: Vec<&str> = spec.split_whitespace().collect();
    let mut orphan = Orphan::new();
    let run = match args.first() {
        Some(&"rec-prod") => crate::records::child_main(&args, &mut orphan),
        _ => xproc::child_main(&args, &mut orphan),
    };
    match run {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("benchmark child ({spec}): {e}");
            std::process::exit(1)
        }
    }
}
