//! Which processes map a file (from `/proc/<pid>/maps`).

use std::fs;
use std::path::Path;

/// The live processes other than this one whose `/proc/<pid>/maps` shows `path` mapped, as
/// far as this process may read them (other users' maps need privileges; unreadable ones are
/// skipped, so an empty answer is not a proof when not run as root).
pub fn mapped_by(path: &Path) -> Vec<u32> {
    let Some(want) = path.to_str() else {
        return Vec::new();
    };
    let me = std::process::id();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| {
            fs::read_to_string(format!("/proc/{pid}/maps")).is_ok_and(|maps| {
                maps.lines().any(|l| {
                    // The path is the last field; a removed file shows " (deleted)" after it.
                    l.ends_with(want) && l[..l.len() - want.len()].ends_with(' ')
                })
            })
        })
        .collect();
    pids.sort_unstable();
    pids
}
