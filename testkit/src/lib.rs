//! The two-process test harness of the workspace, in one place: the integration tests of
//! ring-core and ring-ffi use it as a dev-dependency, benches as a dependency.
//!
//! # How a two-process test works
//!
//! The test binary re-executes itself: a parent test calls [`Peer::spawn`] (or
//! [`Peer::spawn_with_fds`]), which starts `current_exe()` with
//! `--exact child --nocapture --test-threads=1` and the environment variable [`ROLE_VAR`]
//! naming the child's role and parameters (`"<role> key=value key=value ..."`, always with
//! `parent=<pid>`). The test file defines a test named [`CHILD_TEST`] that asks
//! [`child_role`] for its role and returns at once when there is none, so it is a no-op in a
//! normal run:
//!
//! ```no_run
//! // In a test file: `#[test] fn child() { ... }`.
//! fn child() {
//!     let Some((role, params)) = testkit::child_role() else {
//!         return;
//!     };
//!     match role.as_str() {
//!         "produce" => { /* attach with testkit::child_ring(&params, mode), push, ... */ }
//!         other => panic!("unknown child role {other}"),
//!     }
//!     testkit::report("done", 1);
//! }
//! # child();
//! ```
//!
//! This works under `cargo test` and `cargo nextest` alike.
//!
//! The child reports to the parent with lines `RING_CHILD:<key> <value>` on its stdout
//! ([`report`]); the parent also requires a final `done` line ([`Peer::finish`]), so that a
//! child which ran no test at all (a wrong filter) is never mistaken for a successful one.
//!
//! Every wait on the other process is bounded by [`DEADLINE`] (counted from the spawn), or by
//! a bound per wait ([`Peer::bound_each_wait`]); on expiry the child is killed and the test
//! fails with the child's output ([`Peer::fail`]). A child that outlives its test (a panic in
//! the parent) is killed when its [`Peer`] drops; a child whose parent went away notices with
//! [`orphaned`].
//!
//! Any other program (a C program, a tool) runs under the same supervision with
//! [`Peer::spawn_command`]: its stdout lines are awaited with [`Peer::expect_line`], its stdin
//! written with [`Peer::send`], its exit awaited with [`Peer::wait_exit`].
//!
//! Every `/dev/shm` file is removed on every path: the `Region` unlinks on drop, and a
//! [`ShmGuard`] removes it again during a panic. Names come from [`unique_name`], so that
//! test binaries running at the same time never share a file.
//!
//! A descriptor (a memfd ring, an eventfd) is passed by inheritance: the parent duplicates it
//! (close-on-exec, like every descriptor the process opens), clears the flag in the child
//! between fork and exec only (so children that other tests spawn concurrently never inherit
//! it), and passes its number as a parameter; the child takes it with [`Params::fd`].

use ring_core::{Completion, Consumer, Entry, Mode, PopError, Region, Ring};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The environment variable carrying a child's role and parameters:
/// `"<role> key=value key=value ..."`.
pub const ROLE_VAR: &str = "RING_CHILD_ROLE";
/// The name of the re-exec entry test every file using [`Peer`] defines.
pub const CHILD_TEST: &str = "child";
/// Prefix of the child's report lines.
pub const MARK: &str = "RING_CHILD:";
/// Bound on every wait on the other process (and on the tests' own spin loops).
pub const DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Test data shared by the multi-producer tests.

/// splitmix64 finaliser: order-independent hashes of cookie sets (summed) and seeds.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The hash of the cookies `p << 32 | s` for every producer `p < producers` and every
/// `s < count`: what a consumer that received everything exactly once has summed.
pub fn expected_hash(producers: u64, count: u64) -> u64 {
    let mut h = 0u64;
    for p in 0..producers {
        for s in 0..count {
            h = h.wrapping_add(mix(p << 32 | s));
        }
    }
    h
}

/// xorshift64*: picks operations and batch sizes.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `seed` (never zero).
    pub fn new(seed: u64) -> Rng {
        Rng(mix(seed) | 1)
    }

    /// The next value.
    // A generator, not an `Iterator` (it never ends): `next` is the name the tests call.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The entry a multi-producer test sends as producer `p`'s `seq`-th: `user_data` is
/// `p << 32 | seq`; `result` (`seq ^ xor`) and `flags` (`flags_magic | p`) are derived from
/// both, so a torn or stale read is caught. Each test file picks its own `xor` and
/// `flags_magic`.
pub fn tagged_entry(p: u64, seq: u64, xor: u32, flags_magic: u32) -> Completion {
    Completion::new(
        p << 32 | seq,
        (seq as u32 ^ xor) as i32,
        flags_magic | p as u32,
    )
}

/// Splits a received entry into (producer, seq), checking its payload against `entry` (the
/// test file's [`tagged_entry`]).
pub fn decode_with(
    c: &Completion,
    entry: impl Fn(u64, u64) -> Completion,
) -> Result<(u64, u64), String> {
    let (p, seq) = (c.user_data >> 32, c.user_data & 0xffff_ffff);
    if *c != entry(p, seq) {
        return Err(format!("corrupt payload {c:?}"));
    }
    Ok((p, seq))
}

/// Spin (2^step times while `step < spin_steps`), then yield: the wait of a polling loop
/// while the ring is full or empty. A granted operation resets `step` to 0.
pub fn snooze_upto(step: &mut u32, spin_steps: u32) {
    if *step < spin_steps {
        for _ in 0..(1u32 << *step) {
            std::hint::spin_loop();
        }
    } else {
        thread::yield_now();
    }
    *step = step.saturating_add(1);
}

/// One way of receiving a round of entries (see [`receive`]).
#[derive(Clone, Copy, Debug)]
pub enum Claim {
    /// `pop_into` of up to `max` entries.
    PopInto,
    /// `view(max)`, checked to claim between 1 and `max`, iterated.
    View,
    /// `pop` of one entry.
    Pop,
}

/// Receives one round of at most `max` entries (`1 <= max <= buf.len()`) the way `how` says,
/// handing each to `f`. Returns how many were received (0 when the ring looked empty).
pub fn receive(
    rx: &mut Consumer<Completion>,
    buf: &mut [Completion],
    max: usize,
    how: Claim,
    mut f: impl FnMut(&Completion) -> Result<(), String>,
) -> Result<usize, String> {
    match how {
        Claim::PopInto => {
            let n = rx
                .pop_into(&mut buf[..max])
                .map_err(|e| format!("pop_into: {e}"))?;
            for c in &buf[..n] {
                f(c)?;
            }
            Ok(n)
        }
        Claim::View => match rx.view(max) {
            Ok(view) => {
                if view.claimed() == 0 || view.claimed() > max {
                    return Err(format!("view({max}) claimed {}", view.claimed()));
                }
                let mut n = 0;
                for c in view.iter() {
                    f(&c)?;
                    n += 1;
                }
                Ok(n)
            }
            Err(PopError::Empty) => Ok(0),
            Err(e) => Err(format!("view: {e}")),
        },
        Claim::Pop => match rx.pop() {
            Ok(c) => f(&c).map(|()| 1),
            Err(PopError::Empty) => Ok(0),
            Err(e) => Err(format!("pop: {e}")),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// /dev/shm names.

/// Removes `/dev/shm/<name>` when dropped, including during a panic.
pub struct ShmGuard(pub PathBuf);

impl ShmGuard {
    /// Guards `/dev/shm/<name>` (which need not exist yet).
    pub fn new(name: &str) -> ShmGuard {
        ShmGuard(PathBuf::from(ring_core::region::SHM_DIR).join(name))
    }
}

impl Drop for ShmGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A `/dev/shm` name unique to this process, this call and `test`:
/// `ring-test-<pid>-<n>-<test>`.
pub fn unique_name(test: &str) -> String {
    unique_name_in("ring-test", test)
}

/// As [`unique_name`], with `prefix` instead of `ring-test`.
pub fn unique_name_in(prefix: &str, test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}-{test}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

// ---------------------------------------------------------------------------------------------
// Parent side: spawning and supervising the child.

/// How the child finds a `Ring<Completion>` (see [`child_ring`]).
pub enum Transport<'a> {
    /// `Ring::open_shm(name)`: passed as `shm=<name>`.
    Shm(&'a str),
    /// `Region::from_fd` on an inherited duplicate of the ring's descriptor: `fd=<n>`.
    Memfd(&'a Ring<Completion>),
}

/// A running child process under supervision: this test binary started again with a role
/// ([`Peer::spawn`]), or any other program ([`Peer::spawn_command`]).
pub struct Peer {
    /// The process (a test may kill or reap it itself; it then records [`Peer::status`]).
    pub child: Child,
    /// The exit status, once reaped.
    pub status: Option<ExitStatus>,
    /// What the child is, in failure messages.
    label: String,
    /// The child's stdout lines as they arrive.
    lines: mpsc::Receiver<String>,
    /// Every stdout line received so far.
    out: Vec<String>,
    /// Report lines `(key, value)` received so far.
    seen: Vec<(String, String)>,
    /// Everything the child wrote (stdout and stderr), for failure messages.
    log: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    /// The bound on every wait, counted from the spawn ...
    deadline: Instant,
    /// ... or, when set, from the start of each wait ([`Peer::bound_each_wait`]).
    per_wait: Option<Duration>,
    /// The child's stdin, when piped.
    stdin: Option<ChildStdin>,
    /// Calls of [`Peer::poll_sometimes`].
    polls: u32,
}

/// Copies `pipe` into `log` line by line and, when `tx` is given, sends every line.
fn reader(
    pipe: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    tx: Option<mpsc::Sender<String>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            {
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
            if let Some(tx) = &tx {
                let _ = tx.send(line);
            }
        }
    })
}

/// The report `(key, value)` a stdout line carries, if any.
fn report_in(line: &str) -> Option<(String, String)> {
    // The test harness may have printed `test child ... ` on the same line.
    let rest = &line[line.find(MARK)? + MARK.len()..];
    let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((k.to_string(), v.to_string()))
}

impl Peer {
    /// Spawns this test binary as a child with `role` and `params`, telling it how to find the
    /// parent's ring (its descriptor is inherited when the transport is a memfd).
    pub fn spawn(role: &str, params: &[(&str, String)], transport: &Transport<'_>) -> Peer {
        match transport {
            Transport::Shm(name) => {
                let mut params = params.to_vec();
                params.push(("shm", name.to_string()));
                Peer::spawn_with_fds(role, &params, &[])
            }
            Transport::Memfd(ring) => {
                let fd = ring.memory().fd().expect("memfd ring has a descriptor");
                Peer::spawn_with_fds(role, params, &[("fd", fd)])
            }
        }
    }

    /// Spawns this test binary as a child with `role` and `params`; each of `fds` is inherited
    /// (a duplicate, its close-on-exec flag cleared between fork and exec) and passed as
    /// `<name>=<fd>`.
    pub fn spawn_with_fds(
        role: &str,
        params: &[(&str, String)],
        fds: &[(&str, BorrowedFd<'_>)],
    ) -> Peer {
        let mut spec = role.to_string();
        for (k, v) in params {
            spec.push_str(&format!(" {k}={v}"));
        }
        spec.push_str(&format!(" parent={}", std::process::id()));
        let dups: Vec<OwnedFd> = fds
            .iter()
            .map(|(name, fd)| {
                let d = fd.try_clone_to_owned().expect("dup");
                spec.push_str(&format!(" {name}={}", d.as_raw_fd()));
                d
            })
            .collect();
        let raws: Vec<RawFd> = dups.iter().map(|d| d.as_raw_fd()).collect();
        let exe = std::env::current_exe().expect("current_exe");
        let mut cmd = Command::new(exe);
        cmd.args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(ROLE_VAR, &spec);
        if !raws.is_empty() {
            // SAFETY: the closure runs in the forked child before exec and only calls fcntl,
            // which is async-signal-safe; the descriptors stay open in the parent until after
            // spawn.
            unsafe {
                cmd.pre_exec(move || {
                    for &raw in &raws {
                        if libc::fcntl(raw, libc::F_SETFD, 0) == -1 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        let peer = Peer::spawn_command(cmd, &format!("child `{role}`"), false);
        drop(dups);
        peer
    }

    /// Spawns `cmd` (any program) under supervision: its stdout and stderr are collected, its
    /// stdin is piped when `stdin` holds (else null). `label` names it in failure messages.
    pub fn spawn_command(mut cmd: Command, label: &str, stdin: bool) -> Peer {
        cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {label}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let readers = vec![
            reader(out, log.clone(), Some(tx)),
            reader(err, log.clone(), None),
        ];
        let stdin = child.stdin.take();
        Peer {
            child,
            status: None,
            label: label.to_string(),
            lines: rx,
            out: Vec::new(),
            seen: Vec::new(),
            log,
            readers,
            deadline: Instant::now() + DEADLINE,
            per_wait: None,
            stdin,
            polls: 0,
        }
    }

    /// Bounds each wait ([`Peer::expect`], [`Peer::expect_line`], [`Peer::wait_exit`]) by
    /// `bound` from its own start, instead of all of them by [`DEADLINE`] from the spawn; the
    /// deadline of [`Peer::poll`] moves to `bound` from now.
    pub fn bound_each_wait(mut self, bound: Duration) -> Peer {
        self.per_wait = Some(bound);
        self.deadline = Instant::now() + bound;
        self
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of a wait that starts now.
    fn wait_deadline(&self) -> Instant {
        match self.per_wait {
            Some(bound) => Instant::now() + bound,
            None => self.deadline,
        }
    }

    /// Kills the child (if running), collects its output and panics with `msg`.
    pub fn fail(&mut self, msg: impl std::fmt::Display) -> ! {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner()).clone();
        panic!(
            "{}: {msg}\nchild status: {:?}\n----- child output -----\n{log}------------------------",
            self.label, self.status
        );
    }

    /// Records a received stdout line.
    fn record(&mut self, line: String) {
        if let Some(kv) = report_in(&line) {
            self.seen.push(kv);
        }
        self.out.push(line);
    }

    /// Waits (bounded) for the next stdout line for which `hit` holds and returns it. Fails the
    /// test at the deadline, or when the child exits or closes its stdout first (`what` names
    /// the awaited line in the message).
    fn next_line(&mut self, what: &str, hit: impl Fn(&str) -> bool) -> String {
        let deadline = self.wait_deadline();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(line) => {
                    let found = hit(&line);
                    self.record(line.clone());
                    if found {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if left.is_zero() {
                        self.fail(format!("timed out waiting for {what}"));
                    }
                    if let Ok(Some(s)) = self.child.try_wait() {
                        self.status = Some(s);
                        // Everything the child wrote is in the pipes: read it all.
                        for r in self.readers.drain(..) {
                            let _ = r.join();
                        }
                        let rest: Vec<String> = self.lines.try_iter().collect();
                        let mut found = None;
                        for line in rest {
                            if found.is_none() && hit(&line) {
                                found = Some(line.clone());
                            }
                            self.record(line);
                        }
                        if let Some(line) = found {
                            return line;
                        }
                        self.fail(format!("exited ({s}) without printing {what}"));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.fail(format!("closed stdout without printing {what}"))
                }
            }
        }
    }

    /// Waits (bounded) for the report line `key` and returns its value. Fails the test at the
    /// deadline, or when the child exits or closes its stdout without reporting `key`.
    pub fn expect(&mut self, key: &str) -> String {
        if let Some((_, v)) = self.seen.iter().find(|(k, _)| k == key) {
            return v.clone();
        }
        let line = self.next_line(&format!("the report `{key}`"), |line| {
            report_in(line).is_some_and(|(k, _)| k == key)
        });
        report_in(&line).expect("a report line").1
    }

    /// Waits (bounded) for the next stdout line (of those not yet received) that starts with
    /// `prefix` and returns the rest of it, trimmed. Fails the test like [`Peer::expect`].
    pub fn expect_line(&mut self, prefix: &str) -> String {
        let line = self.next_line(&format!("a line starting with {prefix:?}"), |line| {
            line.starts_with(prefix)
        });
        line[prefix.len()..].trim().to_string()
    }

    /// Writes `line` to the child's stdin (which [`Peer::spawn_command`] piped).
    pub fn send(&mut self, line: &str) {
        let Some(stdin) = self.stdin.as_mut() else {
            self.fail("its stdin is not piped");
        };
        if let Err(e) = writeln!(stdin, "{line}").and_then(|()| stdin.flush()) {
            self.fail(format!("writing {line:?} to its stdin: {e}"));
        }
    }

    /// Fails the test if the child has exited unsuccessfully (no deadline: for loops that
    /// keep their own).
    pub fn check_alive(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            match self.child.try_wait() {
                Ok(s) => self.status = s,
                Err(e) => self.fail(format!("try_wait: {e}")),
            }
        }
        if let Some(s) = self.status {
            if !s.success() {
                self.fail(format!("child failed: {s}"));
            }
        }
        self.status
    }

    /// A periodic check from a polling loop: fails the test at the deadline, and returns the
    /// child's exit status once it has exited (without judging it).
    pub fn poll(&mut self) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        if Instant::now() > self.deadline {
            self.fail("deadline expired while waiting on the child");
        }
        match self.child.try_wait() {
            Ok(s) => self.status = s,
            Err(e) => self.fail(format!("try_wait: {e}")),
        }
        self.status
    }

    /// [`Peer::poll`], and fails the test if the child has exited unsuccessfully.
    pub fn poll_ok(&mut self) -> Option<ExitStatus> {
        let status = self.poll();
        if let Some(s) = status {
            if !s.success() {
                self.fail(format!("child failed: {s}"));
            }
        }
        status
    }

    /// A cheap check for a hot polling loop: [`Peer::poll`] on every 256th call only (a
    /// known exit status is returned on every call).
    pub fn poll_sometimes(&mut self) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        self.polls = self.polls.wrapping_add(1);
        if self.polls % 256 != 0 {
            return None;
        }
        self.poll()
    }

    /// Waits (bounded) for the child to exit and requires success; returns every stdout line
    /// it printed (including those already awaited).
    pub fn wait_exit(&mut self) -> Vec<String> {
        let deadline = self.wait_deadline();
        while self.status.is_none() {
            if Instant::now() > deadline {
                self.fail("deadline expired waiting for the child to exit");
            }
            match self.child.try_wait() {
                Ok(Some(s)) => self.status = Some(s),
                Ok(None) => thread::sleep(Duration::from_millis(2)),
                Err(e) => self.fail(format!("try_wait: {e}")),
            }
        }
        // The child has exited: its stdout ends once the reader has read everything (bounded
        // too, in case a process it started holds the pipe open).
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left.max(Duration::from_secs(1))) {
                Ok(line) => self.record(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => self.fail("stdout stayed open after exit"),
            }
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let status = self.status.expect("exited");
        if !status.success() {
            self.fail(format!("child failed: {status}"));
        }
        self.out.clone()
    }

    /// Waits (bounded) for the child to exit, requires success and the `done` report, and
    /// returns every report line.
    pub fn finish(&mut self) -> HashMap<String, String> {
        self.wait_exit();
        let reports: HashMap<String, String> = self.seen.iter().cloned().collect();
        if !reports.contains_key("done") {
            self.fail("child exited without running its role (no `done` report)");
        }
        reports
    }

    /// A report value parsed as a number (fails the test if it is missing or invalid).
    pub fn number(&mut self, reports: &HashMap<String, String>, key: &str) -> u64 {
        match reports.get(key).map(|v| v.parse::<u64>()) {
            Some(Ok(n)) => n,
            other => self.fail(format!(
                "child report `{key}` missing or invalid: {other:?}"
            )),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Child side.

/// Sends the report line `key value` to the parent.
pub fn report(key: &str, value: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{MARK}{key} {value}");
    let _ = out.flush();
}

/// A child's parameters (`key=value` words of [`ROLE_VAR`]).
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// The parameter `key` (panics if missing).
    pub fn get(&self, key: &str) -> &str {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("child parameter `{key}` missing"))
    }

    /// The parameter `key`, if given.
    pub fn opt(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The parameter `key` as a number (panics if missing or invalid).
    pub fn num(&self, key: &str) -> u64 {
        self.get(key)
            .parse()
            .unwrap_or_else(|e| panic!("child parameter `{key}`: {e}"))
    }

    /// Takes ownership of the inherited descriptor passed as `key`, checking that it is open
    /// and not close-on-exec.
    pub fn fd(&self, key: &str) -> OwnedFd {
        let fd = self.num(key) as RawFd;
        // SAFETY: F_GETFD only inspects the descriptor table.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert!(flags >= 0, "descriptor {fd} was not inherited");
        assert_eq!(
            flags & libc::FD_CLOEXEC,
            0,
            "descriptor {fd} is close-on-exec"
        );
        // SAFETY: the parent passed this descriptor to us for our exclusive use; we checked it
        // is open, and nothing else in this process owns it.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    /// The parent's process id.
    pub fn parent(&self) -> u32 {
        self.num("parent") as u32
    }
}

/// In a child: its role and parameters from [`ROLE_VAR`]; `None` in a normal run.
pub fn child_role() -> Option<(String, Params)> {
    let spec = std::env::var(ROLE_VAR).ok()?;
    let mut words = spec.split_whitespace();
    let role = words.next().expect("role").to_string();
    let params = Params(
        words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    Some((role, params))
}

/// Whether the parent process is gone (the child then stops instead of spinning on).
pub fn orphaned(params: &Params) -> bool {
    // SAFETY: getppid has no preconditions.
    (unsafe { libc::getppid() }) as u64 != params.num("parent")
}

/// Attaches to the parent's ring as [`Transport`] passed it: `Ring::open_shm` for
/// `shm=<name>`, or `Region::from_fd` on the inherited descriptor `fd=<n>` and `Ring::attach`.
/// Requires the ring's mode to be `mode`.
pub fn child_ring<T: Entry>(params: &Params, mode: Mode) -> Ring<T> {
    let ring = if let Some(name) = params.opt("shm") {
        Ring::<T>::open_shm(name).unwrap_or_else(|e| panic!("open_shm({name}): {e}"))
    } else {
        let owned = params.fd("fd");
        let fd = owned.as_raw_fd();
        let region = Region::from_fd(owned).unwrap_or_else(|e| panic!("from_fd({fd}): {e}"));
        Ring::attach(region).unwrap_or_else(|e| panic!("attach: {e}"))
    };
    assert_eq!(ring.mode(), mode, "ring mode");
    ring
}
