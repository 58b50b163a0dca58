//! `ringctl` run as a program against live rings made here and dead ones left by child
//! processes killed with SIGKILL.
//!
//! A child is this test binary run again (`--exact child`) with [`ROLE`] set in its
//! environment; it reports `ready` on stdout once it holds what the test needs, and then
//! sleeps until it is killed (at most [`DEADLINE`]). Every /dev/shm file a test makes has a
//! unique name under this process's prefix and is removed on every path by a [`Files`] guard.
//! Every wait on ringctl or a child is bounded.

use ring_core::{Completion, Config, Mode, Ring};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const ROLE: &str = "RINGCTL_TEST_CHILD";
const DEADLINE: Duration = Duration::from_secs(60);

fn prefix() -> String {
    format!("ringctl-test-{}-", std::process::id())
}

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{}{tag}-{}", prefix(), N.fetch_add(1, Ordering::Relaxed))
}

fn shm(name: &str) -> PathBuf {
    PathBuf::from("/dev/shm").join(name)
}

/// Removes the listed /dev/shm files when dropped (also during a panic).
#[derive(Default)]
struct Files(Vec<PathBuf>);

impl Files {
    fn add(&mut self, name: &str) -> String {
        self.0.push(shm(name));
        name.to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A child process, killed (and reaped) when dropped.
struct Peer {
    child: Child,
    pid: u32,
}

impl Peer {
    fn spawn(role: &str, name: &str) -> Peer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child", "--nocapture", "--test-threads=1"])
            .env(ROLE, format!("{role} {name}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let pid = child.id();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if line.contains("CHILD-READY") {
                    let _ = tx.send(());
                }
            }
        });
        let mut peer = Peer { child, pid };
        if rx.recv_timeout(DEADLINE).is_err() {
            let _ = peer.child.kill();
            panic!("child {role} never became ready");
        }
        peer
    }

    /// SIGKILL, then reap.
    fn kill(mut self) -> u32 {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
        self.pid
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child roles.
#[test]
fn child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let (role, name) = role.split_once(' ').unwrap();
    let ready = || {
        println!("CHILD-READY");
        std::io::stdout().flush().unwrap();
    };
    match role {
        // Creates an SPSC ring and holds both claims.
        "hold-spsc" => {
            let ring = Ring::<Completion>::create_shm(name, Config::new(16).overflow(4)).unwrap();
            let (mut tx, rx) = ring.split().unwrap();
            tx.push(Completion::new(1, 0, 0)).unwrap();
            ready();
            std::thread::sleep(DEADLINE);
            drop((tx, rx));
        }
        // Attaches to an MPSC ring, takes the consumer claim and a producer record, and keeps
        // one position reserved and unpublished.
        "hold-mpsc" => {
            let ring = Ring::<Completion>::open_shm(name).unwrap();
            let rx = ring.consumer().unwrap();
            let mut tx = ring.producer().unwrap();
            let chunk = tx.reserve(1).unwrap();
            ready();
            std::thread::sleep(DEADLINE);
            drop((chunk, rx));
        }
        // Attaches to an SPSC ring and sleeps waiting for an entry.
        "sleep-consumer" => {
            let ring = Ring::<u64>::open_shm(name).unwrap();
            let mut rx = ring.consumer().unwrap();
            ready();
            let _ = rx.wait(1, Some(DEADLINE));
        }
        // Attaches to a record ring, takes the consumer claim and a producer (in SPSC rings:
        // the producer claim), commits `before` (SPSC: records until one spills into the
        // overflow area), and keeps a record reserved and uncommitted.
        "hold-records" => {
            use ring_core::record::RecordRing;
            let ring = RecordRing::attach(ring_core::Region::shm_open(name).unwrap()).unwrap();
            let rx = ring.consumer().unwrap();
            let mut tx = ring.producer().unwrap();
            tx.push(b"before").unwrap();
            if ring.mode() == Mode::Spsc {
                while ring.counters().overflowed == 0 {
                    tx.push(b"before").unwrap();
                }
            }
            let mut rec = tx.reserve(12).unwrap();
            rec.write(0, b"never"); // a partly written record
            ready();
            std::thread::sleep(DEADLINE);
            rec.commit();
            drop(rx);
        }
        other => panic!("unknown role {other}"),
    }
}

/// Runs ringctl with `args` (and `stdin`), bounded by [`DEADLINE`].
fn ringctl_in(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringctl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ringctl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("ringctl {args:?} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
    }
}

fn ringctl(args: &[&str]) -> String {
    let out = ringctl_in(args, "");
    assert!(
        out.status.success(),
        "ringctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let s = ringctl(&a);
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("ringctl {args:?}: bad JSON ({e}): {s}"))
}

/// splitmix64 over the file's bytes: equal before and after means nothing was written.
fn digest(name: &str) -> u64 {
    let bytes = std::fs::read(shm(name)).unwrap();
    bytes.iter().fold(0x9e37_79b9_7f4a_7c15u64, |h, &b| {
        let mut z = h ^ u64::from(b);
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

fn ring_named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["rings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {list}"))
}

#[test]
fn list_inspect_watch_read_only_on_live_and_dead_rings() {
    let mut files = Files::default();
    let me = std::process::id();
    // A live MPSC ring: this process created it and holds the consumer claim and a record.
    let live = files.add(&unique("live"));
    let cfg = Config::new(64).mode(Mode::Mpsc).overflow(8);
    let ring = Ring::<Completion>::create_shm(&live, cfg).unwrap();
    let mut tx = ring.producer().unwrap();
    let rx = ring.consumer().unwrap();
    for i in 0..3 {
        tx.push(Completion::new(i, 0, 0)).unwrap();
    }
    // A dead SPSC ring: its creator held both claims and was killed.
    let dead = files.add(&unique("dead"));
    let child = Peer::spawn("hold-spsc", &dead).kill();
    // A file that is not a ring.
    let junk = files.add(&unique("junk"));
    std::fs::write(shm(&junk), vec![0xab; 4096]).unwrap();

    let before = (digest(&live), digest(&dead), digest(&junk));
    let p = prefix();

    let text = ringctl(&["list", "--prefix", &p]);
    let row = |n: &str| {
        text.lines()
            .find(|l| l.starts_with(n))
            .unwrap_or_else(|| panic!("{n} not in\n{text}"))
            .to_string()
    };
    assert!(text.lines().next().unwrap().starts_with("NAME"), "{text}");
    let l = row(&live);
    assert!(l.contains("MPSC") && l.contains(&me.to_string()), "{l}");
    let d = row(&dead);
    assert!(
        d.contains("SPSC") && d.contains(&format!("{child}:dead")),
        "{d}"
    );
    assert!(
        !text.contains(&junk),
        "a file that is not a ring is not listed:\n{text}"
    );

    let list = json(&["list", "--all", "--prefix", &p]);
    let l = ring_named(&list, &live);
    assert_eq!(l["mode"], "MPSC");
    assert_eq!(l["capacity"], 64);
    assert_eq!(l["entry_size"], 16);
    assert_eq!(l["fill"], 3);
    assert_eq!(l["overflow_fill"], 0);
    assert_eq!(l["overflow_capacity"], 8);
    assert_eq!(l["creator"]["pid"], me);
    assert_eq!(l["creator"]["alive"], true);
    assert_eq!(l["consumer_claim"]["pid"], me);
    assert_eq!(l["producer_records"][0]["pid"], me);
    assert_eq!(l["all_dead"], false);
    let d = ring_named(&list, &dead);
    assert_eq!(d["mode"], "SPSC");
    assert_eq!(d["fill"], 1);
    assert_eq!(d["producer_claim"]["pid"], child);
    assert_eq!(d["producer_claim"]["alive"], false);
    assert_eq!(d["consumer_claim"]["alive"], false);
    assert_eq!(d["creator"]["alive"], false);
    assert_eq!(d["all_dead"], true);
    let not_rings = list["not_rings"].as_array().unwrap();
    let j = not_rings
        .iter()
        .find(|n| n["path"].as_str().unwrap().ends_with(&junk))
        .expect("--all lists the junk file");
    assert!(j["reason"].as_str().unwrap().contains("magic"), "{j}");

    let text = ringctl(&["inspect", &live]);
    for want in [
        "layout      1.4",
        "mode        MPSC",
        "format 1 (completion), 16 bytes, alignment 8; slot stride 24",
        "incompat 0x1f: overflow, wait, producer-records, stream, wait-target",
        "stream          open, 1 producers joined",
        "wake target     not armed",
        "fill              3 of 64",
        "waiters         0 on the futex, 0 on an eventfd",
        "producer records  64 slots, 1 held",
        "claim           unused (several producers",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
    assert!(text.contains(&format!("pid {me} (alive)")), "{text}");
    let v = json(&["inspect", &format!("/{live}")]);
    assert_eq!(v["layout"], "1.4");
    assert_eq!(v["blocks"].as_array().unwrap().len(), 6);
    assert_eq!(
        v["producer"]["tail"].as_u64().unwrap() - v["consumer"]["head"].as_u64().unwrap(),
        3
    );
    assert_eq!(v["producer"]["stream"]["closed"], false);
    assert_eq!(v["producer"]["stream"]["producers_joined"], 1);
    assert_eq!(v["wait"]["wake_target"]["armed"], false);
    assert_eq!(v["overflow"]["active"], false);
    assert_eq!(v["records"][0]["owner"]["pid"], me);
    assert_eq!(v["consumer"]["claim"]["pid"], me);

    let v = json(&["inspect", shm(&dead).to_str().unwrap()]);
    assert_eq!(v["producer"]["claim"]["alive"], false);
    assert_eq!(v["all_dead"], true);
    assert_eq!(v["registry"], Value::Null);

    let w = ringctl(&["watch", &live, "--interval", "0.05", "--count", "2"]);
    assert_eq!(w.lines().count(), 3, "a header and two samples:\n{w}");
    assert!(w.lines().nth(1).unwrap().ends_with("3/64"), "{w}");
    let w = ringctl(&[
        "--json",
        "watch",
        &live,
        "--interval",
        "0.05",
        "--count",
        "2",
    ]);
    let samples: Vec<Value> = w
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[1]["fill"], 3);
    assert_eq!(samples[1]["produced_per_s"], 0.0);

    // An error names the file and says what is wrong.
    let out = ringctl_in(&["inspect", &junk], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&junk) && err.contains("not a valid ring"),
        "{err}"
    );

    let after = (digest(&live), digest(&dead), digest(&junk));
    assert_eq!(before, after, "read-only commands changed a file");
    drop((tx, rx, ring));
}

#[test]
fn stream_and_wake_target_shown_when_their_bits_are_set() {
    let mut files = Files::default();
    let src = files.add(&unique("src"));
    let ring = Ring::<Completion>::create_shm(&src, Config::new(8).mode(Mode::Mpsc)).unwrap();
    // A copy with the layout 1.3 bits and words set (as a 1.3 creator would write them).
    let mut bytes = std::fs::read(shm(&src)).unwrap();
    drop(ring);
    let put = |b: &mut Vec<u8>, off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
    let incompat = u64::from_le_bytes(bytes[32..40].try_into().unwrap()) | 0x8 | 0x10;
    put(&mut bytes, 32, &incompat.to_le_bytes());
    let row = |b: &Vec<u8>, i: usize| {
        u64::from_le_bytes(b[88 + 16 * i..96 + 16 * i].try_into().unwrap()) as usize
    };
    let (prod, wait) = (row(&bytes, 0), row(&bytes, 4));
    put(&mut bytes, prod + 24, &((1u32 << 31) | 2).to_le_bytes());
    put(&mut bytes, wait + 32, &((1u64 << 32) | 77).to_le_bytes());
    let copy = files.add(&unique("v13"));
    std::fs::write(shm(&copy), &bytes).unwrap();
    let text = ringctl(&["inspect", &copy]);
    assert!(
        text.contains("stream          closed, 2 producers joined"),
        "{text}"
    );
    assert!(
        text.contains("wake target     armed, position 77"),
        "{text}"
    );
    assert!(text.contains("stream, wait-target"), "{text}");
    assert!(!text.contains("warning"), "{text}");
    let v = json(&["inspect", &copy]);
    assert_eq!(v["producer"]["stream"]["closed"], true);
    assert_eq!(v["producer"]["stream"]["close_requested"], false);
    assert_eq!(v["producer"]["stream"]["producers_joined"], 2);
    assert_eq!(v["wait"]["wake_target"]["armed"], true);
    assert_eq!(v["wait"]["wake_target"]["target"], 77);
    assert_eq!(v["unknown_incompat"], 0);
}

#[test]
fn clean_removes_only_rings_whose_participants_are_all_dead() {
    let mut files = Files::default();
    let live = files.add(&unique("clean-live"));
    let ring = Ring::<Completion>::create_shm(&live, Config::new(8)).unwrap();
    let dead = files.add(&unique("clean-dead"));
    Peer::spawn("hold-spsc", &dead).kill();
    // Dead participants, but mapped by this (live) process.
    let mapped = files.add(&unique("clean-mapped"));
    Peer::spawn("hold-spsc", &mapped).kill();
    let attached = Ring::<Completion>::open_shm(&mapped).unwrap();
    let junk = files.add(&unique("clean-junk"));
    std::fs::write(shm(&junk), vec![0u8; 8192]).unwrap();
    // Its own prefix: the other tests of this process run at the same time.
    let p = format!("{}clean-", prefix());

    // Asked, and refused: nothing removed.
    let out = ringctl_in(&["clean", "--prefix", &p], "n\n");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&dead) && err.contains("[y/N]"), "{err}");
    assert!(!err.contains(&live) && !err.contains(&mapped), "{err}");
    assert!(shm(&dead).exists());

    // Asked, and agreed.
    let out = ringctl_in(&["clean", "--prefix", &p], "y\n");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("removed /dev/shm/{dead}")), "{text}");
    assert!(!shm(&dead).exists(), "the dead ring is removed");
    assert!(shm(&live).exists(), "a live ring is kept");
    assert!(shm(&mapped).exists(), "a ring a live process maps is kept");
    assert!(shm(&junk).exists(), "a file that is not a ring is kept");

    // --yes, with JSON; once the mapping is gone that ring goes too.
    drop(attached);
    let v = json(&["clean", "--yes", "--prefix", &p]);
    let removed: Vec<&str> = v["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(removed, vec![shm(&mapped).to_str().unwrap()]);
    let kept = v["kept"].as_array().unwrap();
    assert!(kept
        .iter()
        .any(|k| k["path"].as_str().unwrap().ends_with(&live)
            && k["reason"].as_str().unwrap().contains("alive")));
    assert!(shm(&live).exists() && shm(&junk).exists());
    drop(ring);
}

#[test]
fn repair_takes_over_a_dead_consumer_and_recovers_a_dead_producer() {
    let mut files = Files::default();
    let name = files.add(&unique("mpsc"));
    let ring = Ring::<Completion>::create_shm(&name, Config::new(16).mode(Mode::Mpsc).producers(4))
        .unwrap();
    let peer = Peer::spawn("hold-mpsc", &name);
    // Published after the child's unpublished reservation.
    let mut tx = ring.producer().unwrap();
    tx.push(Completion::new(42, 0, 0)).unwrap();
    let child = peer.kill();

    let v = json(&["inspect", &name]);
    assert_eq!(v["consumer"]["claim"]["pid"], child);
    assert_eq!(v["consumer"]["claim"]["alive"], false);
    assert!(v["records"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["owner"]["pid"] == child && r["owner"]["alive"] == false));

    let text = ringctl(&["repair", &name]);
    assert!(
        text.contains(&format!(
            "took over the consumer claim of dead process {child}"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "1 positions reserved by dead producers published as discarded, 1 producer records"
        ),
        "{text}"
    );

    let v = json(&["inspect", &name]);
    assert_eq!(v["consumer"]["claim"], Value::Null);
    assert_eq!(
        v["records"].as_array().unwrap().len(),
        1,
        "only this process's record"
    );
    assert_eq!(v["registry"]["recovered"], 1);
    assert_eq!(v["producer"]["discarded"], 1);
    // The ring flows past the dead producer's position.
    let mut rx = ring.consumer().unwrap();
    assert_eq!(rx.pop().unwrap().user_data, 42);
    // A second repair finds nothing more.
    drop(rx);
    let v = json(&["repair", &name]);
    assert!(
        v["actions"][0].as_str().unwrap().contains("0 positions"),
        "{v}"
    );
    drop((tx, ring));
}

#[test]
fn repair_resets_the_waiter_count_a_killed_sleeper_left() {
    let mut files = Files::default();
    let name = files.add(&unique("sleep"));
    let ring = Ring::<u64>::create_shm(&name, Config::new(8)).unwrap();
    let peer = Peer::spawn("sleep-consumer", &name);
    let start = Instant::now();
    while ring.counters().waiters == 0 {
        assert!(start.elapsed() < DEADLINE, "the child never went to sleep");
        std::thread::sleep(Duration::from_millis(5));
    }
    let child = peer.kill();
    assert_eq!(
        ring.counters().waiters,
        1,
        "the killed sleeper's announcement stays"
    );
    let text = ringctl(&["inspect", &name]);
    assert!(text.contains("waiters         1 on the futex"), "{text}");

    let v = json(&["repair", &name]);
    let actions: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        actions
            .iter()
            .any(|a| a.contains(&format!("consumer claim of dead process {child}"))),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|a| a.contains("1 on the futex, 0 on an eventfd, now 0")),
        "{actions:?}"
    );
    assert_eq!(ring.counters().waiters, 0);
    assert_eq!(
        ring.lines().consumer_line().owner.load(Ordering::Acquire),
        0
    );
    drop(ring);
}

#[test]
fn repair_leaves_live_claims_and_refuses_non_rings() {
    let mut files = Files::default();
    let name = files.add(&unique("busy"));
    let ring = Ring::<u64>::create_shm(&name, Config::new(8)).unwrap();
    let (tx, rx) = ring.split().unwrap();
    let before = digest(&name);
    let text = ringctl(&["repair", &name]);
    assert!(
        text.contains("consumer claim held by live process"),
        "{text}"
    );
    assert!(
        text.contains("producer claim held by live process"),
        "{text}"
    );
    assert_eq!(digest(&name), before, "nothing to repair: nothing written");
    let junk = files.add(&unique("junk"));
    std::fs::write(shm(&junk), vec![1u8; 1024]).unwrap();
    let out = ringctl_in(&["repair", &junk], "");
    assert!(!out.status.success());
    assert_eq!(std::fs::read(shm(&junk)).unwrap(), vec![1u8; 1024]);
    drop((tx, rx, ring));
}

#[test]
fn list_and_inspect_find_rings_on_hugetlbfs() {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let Some(dir) = mounts
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2] == "hugetlbfs" && f[1].starts_with('/'))
        .map(|f| PathBuf::from(f[1]))
    else {
        eprintln!("skipped: no hugetlbfs mount (scripts/test-all mounts one when run as root)");
        return;
    };
    let name = unique("huge");
    let path = dir.join(&name);
    let cfg = Config::new(64).mode(Mode::Spmc);
    let len = cfg.region_len::<Completion>().unwrap() as usize;
    let region =
        match ring_core::Region::hugetlbfs_create(&path, len, ring_core::HugePageSize::Size2M) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("skipped: cannot create a hugetlbfs file ({e})");
                return;
            }
        };
    // The region removes the file when dropped, also during a panic.
    let ring = Ring::<Completion>::create(region, cfg).unwrap();
    let before = std::fs::read(&path).unwrap();
    let list = json(&["list", "--prefix", &name]);
    let r = ring_named(&list, path.to_str().unwrap());
    assert_eq!(r["mode"], "SPMC");
    assert_eq!(r["capacity"], 64);
    let v = json(&["inspect", &name]);
    assert_eq!(v["path"], path.to_str().unwrap());
    assert_eq!(v["file_len"], 2 << 20);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "read-only commands wrote"
    );
    drop(ring);
}

/// Record rings (spec/RECORDS.md) are inspected, listed and watched read-only: positions,
/// fill and the overflow area in bytes, the record producer line's claim and reservation
/// count, the counters; `repair` leaves them alone while their participants live.
#[test]
fn record_rings_are_inspected_read_only() {
    use ring_core::record::{RecordConfig, RecordRing};
    let mut files = Files::default();
    let me = std::process::id();
    for mode in [Mode::Spsc, Mode::Mpsc] {
        let name = files.add(&unique(&format!("records-{mode:?}")));
        let cfg = RecordConfig::new(128)
            .mode(mode)
            .overflow(256)
            .initial_position(0u32.wrapping_sub(64));
        let region =
            ring_core::Region::shm_create(&name, cfg.region_len().unwrap() as usize, 0o600)
                .unwrap();
        let ring = RecordRing::create(region, cfg).unwrap();
        let mut tx = ring.producer().unwrap();
        let mut rx = ring.consumer().unwrap();
        // 8-byte payloads take 16 bytes: 8 fill the data area, 3 spill.
        for i in 0..11u8 {
            tx.push(&[i; 8]).unwrap();
        }
        rx.read().unwrap(); // one consumed: the area stays active
        let c = ring.counters();
        assert_eq!((c.overflowed, c.activations), (3, 1));
        let before = digest(&name);
        let text = ringctl(&["inspect", &name]);
        let want = [
            "records     format 2 (records v1), 8-byte aligned, 8-byte record headers; payloads up to 56 bytes".to_string(),
            format!("capacity    128 bytes of data area, positions started at {}", 0u32.wrapping_sub(64)),
            format!("tail            {}", c.tail),
            format!("head            {}", c.head),
            "fill              112 of 128 bytes".to_string(),
            "state           active, tail 48, head 0, 48 of 256 bytes pending".to_string(),
            "overflowed      3 records, 1 activations".to_string(),
            "records, record-overflow".to_string(),
            format!("claim           pid {me} (alive)"),
        ];
        for line in &want {
            assert!(
                text.contains(line.as_str()),
                "{mode:?}: {line:?} missing:\n{text}"
            );
        }
        assert!(!text.contains("warning"), "{text}");
        let v = json(&["inspect", &name]);
        assert_eq!(v["kind"], "records");
        assert_eq!(v["capacity"], 128);
        assert_eq!(v["max_record_len"], 56);
        assert_eq!(v["fill"], 112);
        assert_eq!(v["producer"]["tail"], c.tail);
        assert_eq!(v["producer"]["reservations"], c.reservations);
        assert_eq!(v["consumer"]["head"], c.head);
        assert_eq!(v["consumer"]["claim"]["pid"], me);
        assert_eq!(v["overflow"]["capacity"], 256);
        assert_eq!(v["overflow"]["active"], true);
        assert_eq!(v["overflow"]["pending"], 48);
        assert_eq!(v["overflow"]["overflowed"], 3);
        assert_eq!(v["unknown_incompat"], 0);
        match mode {
            // The SPSC producer claim lives at offset 8 of the record producer line.
            Mode::Spsc => assert_eq!(v["producer"]["claim"]["pid"], me),
            // MPSC: one producer record held, 11 reservations.
            _ => {
                assert_eq!(v["producer"]["claim"], Value::Null);
                assert_eq!(v["producer"]["reservations"], 8);
                assert_eq!(v["records"][0]["owner"]["pid"], me);
            }
        }
        let list = json(&["list", "--prefix", &name]);
        let row = ring_named(&list, &name);
        assert_eq!(row["kind"], "records");
        assert_eq!(row["overflow_fill"], 48);
        let table = ringctl(&["list", "--prefix", &name]);
        assert!(table.contains("records"), "{table}");
        let w = ringctl(&[
            "--json",
            "watch",
            &name,
            "--interval",
            "0.01",
            "--count",
            "2",
        ]);
        assert!(w.lines().count() >= 1, "{w}");
        assert_eq!(digest(&name), before, "{mode:?}: ringctl wrote to the ring");
        // `repair` with every participant alive: recovery finds nothing, the live claims are
        // left alone, and the records and positions are as they were.
        let text = ringctl(&["repair", &name]);
        assert!(
            text.contains("0 records reserved by dead producers"),
            "{text}"
        );
        assert!(
            text.contains(&format!("consumer claim held by live process {me}")),
            "{text}"
        );
        if mode == Mode::Spsc {
            assert!(
                text.contains(&format!("producer claim held by live process {me}")),
                "{text}"
            );
        }
        assert_eq!(ring.counters(), c, "{mode:?}");
        drop((tx, rx, ring));
    }
}

/// A record ring (spec/RECORDS.md) whose producer was killed in the middle of a record, and
/// whose consumer was killed too: `repair` commits the dead producer's record as discarded,
/// frees its producer record (MPSC) or gives back its claim (SPSC), takes the dead consumer
/// claim over, and the ring delivers the rest. A live producer's uncommitted record (MPSC) is
/// left alone by this and a second repair, and delivered once it commits.
#[test]
fn repair_recovers_record_rings_whose_producer_was_killed_mid_record() {
    use ring_core::record::{ReadError, RecordConfig, RecordRing};
    for mode in [Mode::Mpsc, Mode::Spsc] {
        let mut files = Files::default();
        let name = files.add(&unique(&format!("records-repair-{mode:?}")));
        let cfg = RecordConfig::new(256)
            .mode(mode)
            .overflow(256)
            .initial_position(0u32.wrapping_sub(64));
        let region =
            ring_core::Region::shm_create(&name, cfg.region_len().unwrap() as usize, 0o600)
                .unwrap();
        let ring = RecordRing::create(region, cfg).unwrap();
        let peer = Peer::spawn("hold-records", &name);
        // MPSC: a record committed behind the dead one, and a live producer's record reserved
        // and not committed behind that.
        let mut live = (mode == Mode::Mpsc).then(|| ring.producer().unwrap());
        if let Some(tx) = live.as_mut() {
            tx.push(b"after").unwrap();
        }
        let mut held = live.as_mut().map(|tx| tx.reserve(4).unwrap());
        let child = peer.kill();
        let pending = |ring: &RecordRing<ring_core::Region>| {
            let c = ring.counters();
            (
                c.tail.wrapping_sub(c.head),
                c.overflow_tail.wrapping_sub(c.overflow_head),
            )
        };
        let before = pending(&ring);

        let text = ringctl(&["repair", &name]);
        let what = match mode {
            Mode::Mpsc => "recovery ran",
            _ => "overflow recovery ran",
        };
        assert!(
            text.contains(&format!(
                "{what}: 1 records reserved by dead producers and never committed, committed \
                 as discarded; {} producer records of dead processes freed",
                u32::from(mode == Mode::Mpsc) + u32::from(mode == Mode::Spsc)
            )),
            "{mode:?}: {text}"
        );
        assert!(
            text.contains(&format!(
                "took over the consumer claim of dead process {child}"
            )),
            "{mode:?}: {text}"
        );
        if mode == Mode::Spsc {
            assert!(
                text.contains(&format!(
                    "released the producer claim of dead process {child}"
                )),
                "{mode:?}: {text}"
            );
        }
        // Only the claims, the dead record's header and the counters changed: every byte is
        // still reserved (nothing consumed).
        assert_eq!(pending(&ring), before, "{mode:?}");
        let v = json(&["inspect", &name]);
        assert_eq!(v["consumer"]["claim"], Value::Null, "{mode:?}");
        assert_eq!(v["producer"]["discarded"], 1, "{mode:?}");

        // The ring flows: every committed record, the dead one's skipped.
        let mut rx = ring.consumer().unwrap();
        let mut got = Vec::new();
        loop {
            match rx.read() {
                Ok(r) => got.push(r.to_vec()),
                Err(ReadError::Empty) => break,
                Err(ReadError::Pending { .. }) if held.is_some() => break,
                Err(e) => panic!("{mode:?}: {e:?} after {got:?}"),
            }
        }
        assert!(got.iter().all(|r| r != b"never\0\0\0\0\0\0\0"), "{mode:?}");
        match mode {
            Mode::Mpsc => assert_eq!(got, [b"before".to_vec(), b"after".to_vec()]),
            _ => {
                assert!(
                    got.len() >= 2 && got.iter().all(|r| r == b"before"),
                    "{got:?}"
                );
                // The producer side is free again and the ring takes new records.
                let mut tx = ring.producer().unwrap();
                tx.push(b"new").unwrap();
                assert_eq!(rx.read().unwrap().to_vec(), b"new");
            }
        }
        let held = held.take();
        if let Some(mut rec) = held {
            // The live producer's record is still pending: a second repair leaves it too.
            assert!(matches!(rx.read(), Err(ReadError::Pending { .. })));
            drop(rx);
            let text = ringctl(&["repair", &name]);
            assert!(text.contains("0 records reserved"), "{text}");
            rec.write(0, b"live");
            rec.commit();
            let mut rx = ring.consumer().unwrap();
            assert_eq!(rx.read().unwrap().to_vec(), b"live");
            assert!(matches!(rx.read(), Err(ReadError::Empty)));
        }
    }
}
