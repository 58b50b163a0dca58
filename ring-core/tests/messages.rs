//! Error messages name things: the file, the side, the mode and the entry format in words.
//!
//! Each case provokes a real error (missing file, taken name, unformatted file, wrong mode,
//! wrong entry type, a side claimed twice, a full and an empty ring) and checks what its
//! `Display` says, not only its variant.

use ring_core::{
    ClaimError, Completion, Config, LayoutError, Mode, PopError, PushError, Region, RegionError,
    Ring,
};
use std::path::{Path, PathBuf};

/// A `/dev/shm` name unique to this test process and case, removed again on drop.
struct ShmName {
    name: String,
}

impl ShmName {
    fn new(case: &str) -> ShmName {
        let name = format!("ring-core-messages-{}-{case}", std::process::id());
        let _ = std::fs::remove_file(Path::new("/dev/shm").join(&name));
        ShmName { name }
    }

    fn path(&self) -> PathBuf {
        Path::new("/dev/shm").join(&self.name)
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path());
    }
}

#[test]
fn a_missing_file_is_named() {
    let n = ShmName::new("missing");
    let e = Ring::<u64>::open_shm(&n.name).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&n.path().display().to_string()), "{msg}");
    assert!(msg.contains("not created yet"), "{msg}");
    assert_eq!(e.path(), Some(n.path().as_path()));
    assert_eq!(
        e.os_error().map(|o| o.kind()),
        Some(std::io::ErrorKind::NotFound),
        "{msg}"
    );
    assert!(matches!(e, RegionError::Io { .. }), "{e:?}");
    // The same through the region constructor.
    let msg = Region::shm_open(&n.name).unwrap_err().to_string();
    assert!(msg.contains(&n.path().display().to_string()), "{msg}");
}

#[test]
fn a_taken_name_is_named() {
    let n = ShmName::new("taken");
    let ring = Ring::<u64>::create_shm(&n.name, Config::new(8)).unwrap();
    let e = Ring::<u64>::create_shm(&n.name, Config::new(8)).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&n.path().display().to_string()), "{msg}");
    assert!(msg.contains("name is taken"), "{msg}");
    assert_eq!(
        e.os_error().map(|o| o.kind()),
        Some(std::io::ErrorKind::AlreadyExists)
    );
    // The refused second creation did not remove the first ring's file.
    assert!(n.path().exists());
    drop(ring);
    // Dropping the creator removes the name.
    assert!(
        !n.path().exists(),
        "create_shm's ring leaves its file behind"
    );
}

#[test]
fn an_unformatted_file_says_retry() {
    let n = ShmName::new("unformatted");
    // Created but not sized yet.
    std::fs::write(n.path(), b"").unwrap();
    let e = Ring::<u64>::open_shm(&n.name).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e.layout_error(),
            Some(LayoutError::RegionTooShort { available: 0, .. })
        ),
        "{e:?}"
    );
    assert!(msg.contains(&n.path().display().to_string()), "{msg}");
    assert!(msg.contains("retry"), "{msg}");
    // Sized but not formatted yet: zero magic.
    std::fs::write(n.path(), vec![0u8; 1 << 16]).unwrap();
    let e = Ring::<u64>::open_shm(&n.name).unwrap_err();
    let msg = e.to_string();
    match &e {
        RegionError::FileLayout {
            path,
            error: LayoutError::BadMagic { found: 0 },
        } => assert_eq!(path, &n.path()),
        other => panic!("expected a zero magic in the named file, got {other:?}"),
    }
    assert!(msg.contains(&n.path().display().to_string()), "{msg}");
    assert!(msg.contains("not finished formatting"), "{msg}");
    assert!(msg.contains("retry"), "{msg}");
}

#[test]
fn a_wrong_entry_type_names_both_formats_and_the_file() {
    let n = ShmName::new("format");
    let _ring = Ring::<Completion>::create_shm(&n.name, Config::new(8)).unwrap();
    let e = Ring::<[u64; 2]>::open_shm(&n.name).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e.layout_error(),
            Some(LayoutError::EntryFormat {
                expected: 0,
                found: 1
            })
        ),
        "{e:?}"
    );
    assert!(msg.contains(&n.path().display().to_string()), "{msg}");
    // Which side is which: the ring holds COMPLETION_V1, the entry type is OPAQUE.
    let ring_part = msg.find("the ring holds entries of format COMPLETION_V1");
    let type_part = msg.find("the entry type is of format OPAQUE");
    assert!(ring_part.is_some() && type_part.is_some(), "{msg}");
}

#[test]
fn a_wrong_mode_is_named_in_words() {
    let n = ShmName::new("mode");
    let _ring = Ring::<u64>::create_shm(&n.name, Config::new(8).mode(Mode::Spsc)).unwrap();
    let e = Ring::<u64>::attach_mode(Region::shm_open(&n.name).unwrap(), Mode::Mpsc).unwrap_err();
    assert_eq!(
        e,
        LayoutError::ModeMismatch {
            expected: Mode::Mpsc.bits(),
            found: Mode::Spsc.bits()
        }
    );
    let msg = e.to_string();
    assert!(msg.contains("the ring is SPSC"), "{msg}");
    assert!(msg.contains("MPSC (mode word 0x1) is required"), "{msg}");
    let e = LayoutError::ModeMismatch {
        expected: Mode::Spmc.bits(),
        found: Mode::Mpmc.bits(),
    };
    let msg = e.to_string();
    assert!(
        msg.contains("the ring is MPMC") && msg.contains("SPMC"),
        "{msg}"
    );
}

#[test]
fn a_busy_side_names_the_side_and_the_process() {
    let ring = Ring::<u64>::create_heap(Config::new(8)).unwrap();
    let tx = ring.producer().unwrap();
    let rx = ring.consumer().unwrap();
    let pid = std::process::id();
    for (err, side) in [
        (ring.producer().err(), "producer"),
        (ring.consumer().err(), "consumer"),
    ] {
        let err = err.expect("a second handle of a single side is refused");
        assert!(matches!(err, ClaimError::Busy { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("{side} side")), "{msg}");
        assert!(msg.contains("this process"), "{msg}");
        assert!(msg.contains(&format!("pid {pid}")), "{msg}");
    }
    // Another process's pid reads as such.
    let msg = ClaimError::Busy {
        side: ring_core::Side::Consumer,
        owner: 1,
    }
    .to_string();
    assert!(
        msg.contains("consumer side") && msg.contains("process 1 (a pid"),
        "{msg}"
    );
    drop((tx, rx));
}

#[test]
fn full_and_empty_name_their_side() {
    let ring = Ring::<u64>::create_heap(Config::new(2)).unwrap();
    let mut tx = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();
    let e = rx.pop().unwrap_err();
    assert_eq!(e, PopError::Empty);
    assert!(e.to_string().starts_with("consumer: "), "{e}");
    tx.push(1).unwrap();
    tx.push(2).unwrap();
    let e = tx.push(3).unwrap_err();
    assert!(matches!(e, PushError::Full(3)));
    let msg = e.to_string();
    assert!(
        msg.starts_with("producer: ") && msg.contains("handed back"),
        "{msg}"
    );
}

#[test]
fn an_invalid_name_is_quoted() {
    let e = Ring::<u64>::open_shm("a/b").unwrap_err();
    assert!(matches!(e, RegionError::InvalidName { .. }), "{e:?}");
    assert!(e.to_string().contains("\"a/b\""), "{e}");
}
