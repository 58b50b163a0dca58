//! `cring_last_error_message()` carries ring-core's messages: the file, the side and the mode in
//! words.

use ring_ffi::*;
use std::ffi::{CStr, CString};

fn last_error() -> String {
    let mut buf = [0 as std::ffi::c_char; 1024];
    // SAFETY: a local buffer of the length passed.
    let full = unsafe { cring_last_error_message(buf.as_mut_ptr(), buf.len()) };
    assert!(full < buf.len(), "message longer than the test's buffer");
    // SAFETY: NUL-terminated by the call.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn open_shm_of_a_missing_file_names_it() {
    let name = format!("ring-ffi-messages-{}-missing", std::process::id());
    let cname = CString::new(name.clone()).unwrap();
    let mut ring = cring_ring::default();
    // SAFETY: valid pointers to locals.
    let s = unsafe {
        let e = cring_entry_completion();
        cring_ring_open_shm(cname.as_ptr(), &e, CRING_MODE_ANY, &mut ring)
    };
    assert_eq!(s, cring_status::Io);
    assert_eq!(cring_last_os_error(), 2, "ENOENT");
    let msg = last_error();
    assert!(msg.contains(&format!("/dev/shm/{name}")), "{msg}");
    assert!(msg.contains("not created yet"), "{msg}");
}

#[test]
fn a_wrong_mode_and_a_busy_side_read_in_words() {
    let name = format!("ring-ffi-messages-{}-mode", std::process::id());
    let cname = CString::new(name).unwrap();
    let cfg = cring_config_init(8); // SPSC
    let mut ring = cring_ring::default();
    let mut peer = cring_ring::default();
    let mut p = cring_producer::default();
    let mut q = cring_producer::default();
    // SAFETY: valid pointers to locals.
    unsafe {
        assert_eq!(
            cring_ring_create_shm(cname.as_ptr(), &cfg, &mut ring),
            cring_status::Ok
        );
        let e = cring_entry_completion();
        assert_eq!(
            cring_ring_open_shm(cname.as_ptr(), &e, CRING_MODE_MPSC, &mut peer),
            cring_status::ModeMismatch
        );
        let msg = last_error();
        assert!(
            msg.contains("the ring is SPSC") && msg.contains("MPSC (mode word 0x1) is required"),
            "{msg}"
        );
        assert!(
            msg.contains("/dev/shm/"),
            "the refused file is named: {msg}"
        );

        assert_eq!(cring_producer_open(ring, &mut p), cring_status::Ok);
        assert_eq!(cring_producer_open(ring, &mut q), cring_status::Busy);
        let msg = last_error();
        assert!(
            msg.contains("producer side") && msg.contains("this process"),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert_eq!(cring_producer_close(p), cring_status::Ok);
        assert_eq!(cring_ring_close(ring), cring_status::Ok);
    }
}
