//! `ringctl`: list, inspect, watch, clean up and repair ring-core rings in shared memory.
//!
//! ```text
//! ringctl list [--all] [--dir DIR]... [--prefix P]   rings under /dev/shm and hugetlbfs mounts
//! ringctl inspect NAME                    header, features, blocks, counters, claims, waiters
//! ringctl watch NAME [--interval S] [--count N]   counters per second
//! ringctl clean [--yes] [--dir DIR]... [--prefix P]  remove rings whose participants all died
//! ringctl repair NAME                     take over dead claims, recover, reset dead waiters
//! ```
//!
//! Every command takes `--json`. `list`, `inspect` and `watch` never write to a ring: they open
//! it `O_RDONLY`, map it `PROT_READ` and only load (ring_core::inspect). NAME is a name under
//! /dev/shm (as given to `shm_open`, with or without the leading `/`), a file name on a
//! hugetlbfs mount, or a path. Record rings (spec/RECORDS.md) are listed, inspected and
//! watched too (capacities and positions in bytes), and repaired (recovery of dead producers,
//! dead claims, dead sleepers).

#![deny(unsafe_op_in_unsafe_fn)]

mod procs;
mod repair;
mod report;
mod ringfile;

use clap::{Parser, Subcommand};
use report::{inspect_text, list_table, report, RingReport};
use ringfile::{candidates, default_dirs, open_ro, resolve, OpenError};
use serde::Serialize;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Inspect and maintain ring-core rings in shared memory (/dev/shm, hugetlbfs).
#[derive(Parser, Debug)]
#[command(name = "ringctl", version, about)]
struct Cli {
    /// Print JSON instead of text (one document; `watch` prints one per line).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the rings under /dev/shm and every hugetlbfs mount (read-only).
    List {
        /// Also list the files that are not valid rings, with the reason.
        #[arg(long)]
        all: bool,
        /// Search these directories instead (repeatable).
        #[arg(long = "dir", value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Only files whose name starts with this.
        #[arg(long, value_name = "PREFIX")]
        prefix: Option<String>,
    },
    /// Show everything about one ring (read-only).
    Inspect {
        /// Ring name under /dev/shm, a hugetlbfs file name, or a path.
        name: String,
    },
    /// Print a ring's counters per second (read-only).
    Watch {
        /// Ring name under /dev/shm, a hugetlbfs file name, or a path.
        name: String,
        /// Seconds between samples.
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
        /// Stop after this many samples (default: run until interrupted).
        #[arg(long)]
        count: Option<u64>,
    },
    /// Remove ring files whose every recorded participant is dead (asks first).
    Clean {
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Search these directories instead (repeatable).
        #[arg(long = "dir", value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Only files whose name starts with this.
        #[arg(long, value_name = "PREFIX")]
        prefix: Option<String>,
    },
    /// Take over claims of dead processes, recover their reservations, reset dead sleepers.
    Repair {
        /// Ring name under /dev/shm, a hugetlbfs file name, or a path.
        name: String,
    },
}

/// A failure reported to the user (exit status 1) or a usage error (2).
struct Failure {
    message: String,
    code: u8,
}

impl From<OpenError> for Failure {
    fn from(e: OpenError) -> Self {
        Failure {
            message: e.to_string(),
            code: 1,
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure { message, code: 1 }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List { all, dirs, prefix } => list(cli.json, all, dirs, prefix.as_deref()),
        Command::Inspect { name } => inspect(cli.json, &name),
        Command::Watch {
            name,
            interval,
            count,
        } => watch(cli.json, &name, interval, count),
        Command::Clean { yes, dirs, prefix } => clean(cli.json, yes, dirs, prefix.as_deref()),
        Command::Repair { name } => repair_cmd(cli.json, &name),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("ringctl: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn print_json<T: Serialize>(v: &T) -> Result<(), Failure> {
    let s = serde_json::to_string_pretty(v).map_err(|e| format!("cannot write JSON: {e}"))?;
    println!("{s}");
    Ok(())
}

fn dirs_or_default(dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    if dirs.is_empty() {
        default_dirs()
    } else {
        dirs
    }
}

/// Opens every candidate file: the rings, and the files that are not rings with the reason.
fn scan(dirs: &[PathBuf], prefix: Option<&str>) -> (Vec<RingReport>, Vec<OpenError>) {
    let (mut files, mut errors) = candidates(dirs);
    if let Some(prefix) = prefix {
        files.retain(|f| {
            f.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        });
    }
    let mut rings = Vec::new();
    for path in files {
        match open_ro(&path) {
            Ok(f) => rings.push(report(&f)),
            Err(e) => errors.push(e),
        }
    }
    (rings, errors)
}

#[derive(Serialize)]
struct ListJson {
    dirs: Vec<String>,
    rings: Vec<report::Summary>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    not_rings: Vec<NotRing>,
}

#[derive(Serialize)]
struct NotRing {
    path: String,
    reason: String,
}

fn list(json: bool, all: bool, dirs: Vec<PathBuf>, prefix: Option<&str>) -> Result<(), Failure> {
    let dirs = dirs_or_default(dirs);
    let (rings, errors) = scan(&dirs, prefix);
    let rows: Vec<_> = rings.iter().map(RingReport::summary).collect();
    let not_rings: Vec<NotRing> = if all {
        errors
            .iter()
            .map(|e| NotRing {
                path: e.path().display().to_string(),
                reason: e.reason(),
            })
            .collect()
    } else {
        Vec::new()
    };
    if json {
        return print_json(&ListJson {
            dirs: dirs.iter().map(|d| d.display().to_string()).collect(),
            rings: rows,
            not_rings,
        });
    }
    if rows.is_empty() {
        let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        println!("no rings in {}", searched.join(", "));
    } else {
        print!("{}", list_table(&rows));
    }
    for n in &not_rings {
        println!("not a ring: {}: {}", n.path, n.reason);
    }
    Ok(())
}

fn inspect(json: bool, name: &str) -> Result<(), Failure> {
    let f = open_ro(&resolve(name))?;
    let r = report(&f);
    if json {
        #[derive(Serialize)]
        struct WithMaps<'a> {
            #[serde(flatten)]
            ring: &'a RingReport,
            mapped_by: Vec<u32>,
        }
        return print_json(&WithMaps {
            ring: &r,
            mapped_by: procs::mapped_by(&f.path),
        });
    }
    print!("{}", inspect_text(&r));
    let maps = procs::mapped_by(&f.path);
    if !maps.is_empty() {
        let pids: Vec<String> = maps.iter().map(u32::to_string).collect();
        println!("mapped by         {}", pids.join(", "));
    }
    Ok(())
}

/// The counters `watch` samples.
#[derive(Clone, Copy, Default)]
struct Sample {
    tail: u32,
    head: u32,
    overflowed: u64,
    full_refusals: u64,
    discarded: u64,
    wakeups: u64,
    sleeps: u64,
    fill: u32,
    overflow_pending: u32,
    waiters: u32,
}

fn sample(f: &ringfile::RingFile) -> Sample {
    let v = &f.view;
    let (p, c) = (v.producer(), v.consumer());
    let o = v.overflow();
    let w = v.wait();
    Sample {
        tail: p.tail,
        head: c.head,
        overflowed: o.map_or(0, |o| o.overflowed),
        full_refusals: p.full_refusals,
        discarded: p.discarded,
        wakeups: w.map_or(0, |w| w.wakeups),
        sleeps: w.map_or(0, |w| w.sleeps),
        fill: p.tail.wrapping_sub(c.head),
        overflow_pending: o.map_or(0, |o| o.tail.wrapping_sub(o.head)),
        waiters: w.map_or(0, |w| w.futex_waiters + w.eventfd_waiters),
    }
}

#[derive(Serialize)]
struct Rates {
    /// Seconds since the first sample.
    t: f64,
    /// Positions reserved or published per second (tail).
    produced_per_s: f64,
    /// Positions consumed per second (head).
    consumed_per_s: f64,
    overflowed_per_s: f64,
    full_refusals_per_s: f64,
    discarded_per_s: f64,
    wakeups_per_s: f64,
    sleeps_per_s: f64,
    fill: u32,
    capacity: u32,
    overflow_pending: u32,
    waiters: u32,
}

fn watch(json: bool, name: &str, interval: f64, count: Option<u64>) -> Result<(), Failure> {
    if !(interval.is_finite() && interval > 0.0 && interval <= 86_400.0) {
        return Err(Failure {
            message: format!("--interval {interval}: give a number of seconds in (0, 86400]"),
            code: 2,
        });
    }
    let f = open_ro(&resolve(name))?;
    let capacity = f.view.header().capacity;
    let start = Instant::now();
    let mut prev = sample(&f);
    let mut prev_t = start;
    if !json {
        println!(
            "{:>8} {:>12} {:>12} {:>11} {:>10} {:>10} {:>10} {:>10} {:>14}",
            "time",
            "produced/s",
            "consumed/s",
            "overflow/s",
            "refused/s",
            "wakeups/s",
            "sleeps/s",
            "waiters",
            "fill"
        );
    }
    let mut n = 0u64;
    let stdout = io::stdout();
    while count.is_none_or(|c| n < c) {
        std::thread::sleep(Duration::from_secs_f64(interval));
        let now = Instant::now();
        let s = sample(&f);
        let dt = now.duration_since(prev_t).as_secs_f64().max(1e-9);
        let per = |a: u64, b: u64| a.wrapping_sub(b) as f64 / dt;
        let r = Rates {
            t: now.duration_since(start).as_secs_f64(),
            produced_per_s: f64::from(s.tail.wrapping_sub(prev.tail)) / dt,
            consumed_per_s: f64::from(s.head.wrapping_sub(prev.head)) / dt,
            overflowed_per_s: per(s.overflowed, prev.overflowed),
            full_refusals_per_s: per(s.full_refusals, prev.full_refusals),
            discarded_per_s: per(s.discarded, prev.discarded),
            wakeups_per_s: per(s.wakeups, prev.wakeups),
            sleeps_per_s: per(s.sleeps, prev.sleeps),
            fill: s.fill,
            capacity,
            overflow_pending: s.overflow_pending,
            waiters: s.waiters,
        };
        let mut out = stdout.lock();
        let written = if json {
            serde_json::to_string(&r)
                .map_err(io::Error::other)
                .and_then(|line| writeln!(out, "{line}"))
        } else {
            writeln!(
                out,
                "{:>7.1}s {:>12.0} {:>12.0} {:>11.0} {:>10.0} {:>10.0} {:>10.0} {:>10} {:>14}",
                r.t,
                r.produced_per_s,
                r.consumed_per_s,
                r.overflowed_per_s,
                r.full_refusals_per_s,
                r.wakeups_per_s,
                r.sleeps_per_s,
                r.waiters,
                format!("{}/{}", r.fill, r.capacity)
            )
        };
        // A closed pipe (`ringctl watch x | head`) ends the watch quietly.
        if written.and_then(|_| out.flush()).is_err() {
            return Ok(());
        }
        prev = s;
        prev_t = now;
        n += 1;
    }
    Ok(())
}

#[derive(Serialize)]
struct CleanJson {
    removed: Vec<String>,
    kept: Vec<NotRing>,
    failed: Vec<NotRing>,
}

/// Why a ring must stay, or `None` if every recorded participant is dead and no live process
/// maps it.
fn keep_reason(r: &RingReport, path: &std::path::Path) -> Option<String> {
    if r.participants.is_empty() {
        return Some("names no process".into());
    }
    if let Some(p) = r.participants.iter().find(|p| p.pid.alive) {
        return Some(format!("{} {} is alive", p.role, p.pid.pid));
    }
    let maps = procs::mapped_by(path);
    if let Some(pid) = maps.first() {
        return Some(format!("mapped by live process {pid}"));
    }
    None
}

fn clean(json: bool, yes: bool, dirs: Vec<PathBuf>, prefix: Option<&str>) -> Result<(), Failure> {
    let dirs = dirs_or_default(dirs);
    let (rings, _not_rings) = scan(&dirs, prefix);
    let mut dead = Vec::new();
    let mut kept = Vec::new();
    for r in &rings {
        let path = PathBuf::from(&r.path);
        match keep_reason(r, &path) {
            Some(reason) => kept.push(NotRing {
                path: r.path.clone(),
                reason,
            }),
            None => dead.push(path),
        }
    }
    if dead.is_empty() {
        if json {
            return print_json(&CleanJson {
                removed: vec![],
                kept,
                failed: vec![],
            });
        }
        println!("no ring whose participants are all dead");
        return Ok(());
    }
    if !yes {
        eprintln!("rings whose every recorded participant is dead:");
        for p in &dead {
            eprintln!("  {}", p.display());
        }
        eprint!("remove these {} files? [y/N] ", dead.len());
        let _ = io::stderr().flush();
        let mut answer = String::new();
        let read = io::stdin().lock().read_line(&mut answer);
        let answer = answer.trim().to_ascii_lowercase();
        if read.is_err() || !(answer == "y" || answer == "yes") {
            eprintln!("nothing removed");
            return Ok(());
        }
    }
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    for path in dead {
        // Check again just before removing: a process may have attached meanwhile, or the file
        // may have been replaced by something that is not a ring.
        let verdict = match open_ro(&path) {
            Ok(f) => keep_reason(&report(&f), &path),
            Err(e) => Some(e.reason()),
        };
        if let Some(reason) = verdict {
            kept.push(NotRing {
                path: path.display().to_string(),
                reason: format!("changed since the scan: {reason}"),
            });
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path.display().to_string()),
            Err(e) => failed.push(NotRing {
                path: path.display().to_string(),
                reason: format!("cannot remove it: {e}"),
            }),
        }
    }
    if json {
        print_json(&CleanJson {
            removed,
            kept,
            failed: failed
                .iter()
                .map(|f| NotRing {
                    path: f.path.clone(),
                    reason: f.reason.clone(),
                })
                .collect(),
        })?;
    } else {
        for p in &removed {
            println!("removed {p}");
        }
        for k in &kept {
            if k.reason.starts_with("changed") {
                println!("kept {}: {}", k.path, k.reason);
            }
        }
        for f in &failed {
            println!("failed {}: {}", f.path, f.reason);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} files could not be removed", failed.len()).into())
    }
}

fn repair_cmd(json: bool, name: &str) -> Result<(), Failure> {
    let path = resolve(name);
    // Refuse anything that is not a valid ring before opening it for writing.
    drop(open_ro(&path)?);
    let r = repair::repair(&path)?;
    if json {
        return print_json(&r);
    }
    println!("repair {} ({})", r.path, r.mode);
    for a in &r.actions {
        println!("  done: {a}");
    }
    for n in &r.notes {
        println!("  note: {n}");
    }
    Ok(())
}
