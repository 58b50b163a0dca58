//! What the numbers were measured on: CPU, cores, kernel, compiler, peer versions, load.

use std::fmt::Write;

/// The compiler that built this crate.
pub const RUSTC: &str = env!("BENCH_RUSTC_VERSION");
/// Versions of the peer crates, from Cargo.lock.
pub const PEERS: &str = env!("BENCH_PEER_VERSIONS");

/// `/proc/loadavg` (the three averages), or "unknown".
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

fn cpuinfo(key: &str) -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn kernel() -> String {
    let mut u: libc::utsname = unsafe_zeroed_utsname();
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".into();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

fn unsafe_zeroed_utsname() -> libc::utsname {
    // SAFETY: utsname is plain C chars; all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

/// Which ring-core was measured: the workspace's git revision and its uncommitted changes under
/// `ring-core/src` (from `git`, at run time), or "unknown".
pub fn ring_core_revision() -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
    };
    let Some(rev) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown (no git)".into();
    };
    let dirty: Vec<String> = git(&["status", "--porcelain", "--", "ring-core/src"])
        .unwrap_or_default()
        .lines()
        .map(|l| l.get(3..).unwrap_or(l).to_string())
        .collect();
    if dirty.is_empty() {
        format!("git {}", rev.trim())
    } else {
        format!(
            "git {} with uncommitted changes in {}",
            rev.trim(),
            dirty.join(", ")
        )
    }
}

/// A few lines describing the machine.
pub fn describe() -> String {
    let mut s = String::new();
    let model = cpuinfo("model name").unwrap_or_else(|| "unknown CPU".into());
    let flags = cpuinfo("flags").unwrap_or_default();
    let virt = if flags.split_whitespace().any(|f| f == "hypervisor") {
        " (virtual machine)"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "- CPU: {model}{virt}, {} online cores, this process may use cores {:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        crate::affinity::allowed_cores()
    );
    let _ = writeln!(s, "- Kernel: {}", kernel());
    let _ = writeln!(
        s,
        "- Compiler: {RUSTC}, release profile (opt-level 3, thin LTO, 1 codegen unit)"
    );
    let _ = writeln!(s, "- ring-core measured: {}", ring_core_revision());
    let _ = writeln!(s, "- Peers: {PEERS}");
    let _ = writeln!(
        s,
        "- Thread pinning: {}",
        if crate::affinity::enabled() {
            "on (sched_setaffinity; thread i on allowed core i mod cores)"
        } else {
            "off (BENCH_PIN=0)"
        }
    );
    let _ = writeln!(
        s,
        "- TSC: {:.3} ticks/ns (latencies within a process are TSC-timed)",
        crate::clock::ticks_per_ns()
    );
    s
}
