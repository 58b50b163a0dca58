//! Records the compiler version and the versions of the peer crates (from the workspace's
//! Cargo.lock) for the machine description that `compare` prints.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=../Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BENCH_RUSTC_VERSION={version}");

    let peers = [
        "rtrb",
        "crossbeam-queue",
        "crossbeam-channel",
        "ringbuf",
        "ipmpsc",
        "io-uring",
        "criterion",
    ];
    let lock = std::fs::read_to_string("../Cargo.lock").unwrap_or_default();
    let mut found = Vec::new();
    let mut name: Option<String> = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let Some(v) = line.strip_prefix("version = ") {
            if let Some(n) = name.take() {
                if peers.contains(&n.as_str()) {
                    found.push(format!("{n} {}", v.trim_matches('"')));
                }
            }
        }
    }
    println!("cargo:rustc-env=BENCH_PEER_VERSIONS={}", found.join(", "));
}
