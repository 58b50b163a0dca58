//! A full filesystem is an error when a ring is created, never a `SIGBUS` later.
//!
//! The test runs its body in a child process (this test binary started again) that, as root,
//! enters a mount namespace of its own and mounts a 1 MiB tmpfs over `/dev/shm`, so nothing
//! outside it is affected. Without root (no `unshare`/`mount`) it says so and checks nothing.

mod common;

use common::Peer;
use ring_core::{Completion, Config, Mode, RegionError, Ring};

#[test]
fn full_tmpfs_fails_at_creation_and_rings_that_fit_never_fault() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root for a private mount namespace with a small tmpfs");
        return;
    }
    // Bounded (common::DEADLINE); a SIGBUS would show as a signal, not an exit code.
    let mut peer = Peer::spawn_with_fds("full-fs", &[], &[]);
    let reports = peer.finish();
    eprintln!("child reports: {reports:?}");
    if let Some(why) = reports.get("skipped") {
        eprintln!("child skipped: {why}");
        return;
    }
    assert!(
        reports.contains_key("checked"),
        "child did not finish its checks: {reports:?}"
    );
}

/// The child side: runs only in the child that the test starts.
#[test]
fn child() {
    let Some((role, _params)) = common::child_role() else {
        return;
    };
    match role.as_str() {
        "full-fs" => full_fs(),
        other => panic!("unknown child role {other}"),
    }
    common::report("done", 1);
}

fn full_fs() {
    // SAFETY: plain system calls on constant arguments; this process is single-purpose.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            common::report(
                "skipped",
                format!("unshare: {}", std::io::Error::last_os_error()),
            );
            return;
        }
        let root = c"/";
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            common::report(
                "skipped",
                format!("private mounts: {}", std::io::Error::last_os_error()),
            );
            return;
        }
        if libc::mount(
            c"tmpfs".as_ptr(),
            c"/dev/shm".as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            c"size=1m".as_ptr().cast(),
        ) != 0
        {
            common::report(
                "skipped",
                format!("mount tmpfs: {}", std::io::Error::last_os_error()),
            );
            return;
        }
    }
    // Another user of /dev/shm fills most of it: 1 MiB minus 192 KiB.
    std::fs::write("/dev/shm/filler", vec![1u8; (1024 - 192) * 1024]).unwrap();

    // A ring whose region (ring + a large overflow area) does not fit: a typed error now.
    let big = Config::new(1024).mode(Mode::Mpsc).overflow(16384);
    match Ring::<Completion>::create_shm("full-fs-big", big) {
        Err(RegionError::Io { op, path, source }) => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOSPC), "{op}: {source}");
            assert_eq!(
                path.as_deref(),
                Some(std::path::Path::new("/dev/shm/full-fs-big")),
                "the error names the file"
            );
            common::report("refused", format!("{op}: {source}"));
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a region larger than the free space was created"),
    }
    assert!(
        !std::path::Path::new("/dev/shm/full-fs-big").exists(),
        "the refused file was left behind"
    );

    // A ring that fits: every page is reserved, so spilling into the overflow area and reading
    // it back never faults, even with the filesystem full to the last byte.
    let ring =
        Ring::<Completion>::create_shm("full-fs-small", Config::new(64).overflow(2048)).unwrap();
    let len = ring.memory().len();
    assert!(
        len > 48 * 1024,
        "the test wants a region spanning many pages ({len})"
    );
    // Fill what is left of the filesystem.
    let rest = (0..)
        .map(|i| format!("/dev/shm/rest-{i}"))
        .take_while(|p| std::fs::write(p, vec![2u8; 4096]).is_ok())
        .count();
    common::report("filled", format!("{rest} pages"));
    let (mut tx, mut rx) = ring.split().unwrap();
    // The consumer looks at an empty ring (and so at the overflow area's next slot) first.
    assert!(rx.pop().is_err());
    for i in 0..(64 + 2048) {
        tx.push(Completion::new(i, 0, 0)).unwrap();
    }
    assert!(
        tx.push(Completion::new(0, 0, 0)).is_err(),
        "ring and overflow area full"
    );
    for i in 0..(64 + 2048) {
        assert_eq!(rx.pop().unwrap().user_data, i);
    }
    common::report("checked", 1);
}
