//! The checked-in C header, `include/cring.h`, must be what cbindgen generates from the source.
//!
//! Regenerate it with `CRING_UPDATE_HEADER=1 cargo test -p ring-ffi --test header`.

use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate() -> String {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen failed to generate the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

/// The first differing line, for the failure message.
fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  checked in: {x}\n  generated:  {y}", i + 1);
        }
    }
    format!(
        "one is a prefix of the other ({} vs {} lines)",
        a.lines().count(),
        b.lines().count()
    )
}

#[test]
fn header_is_up_to_date() {
    let path = crate_dir().join("include").join("cring.h");
    let generated = generate();
    if std::env::var_os("CRING_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/cring.h");
        eprintln!("wrote {}", path.display());
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is out of date with the Rust source; regenerate it with\n    \
         CRING_UPDATE_HEADER=1 cargo test -p ring-ffi --test header\nfirst difference at {}",
        rel(&path),
        first_difference(&checked_in, &generated)
    );
}

fn rel(p: &Path) -> String {
    p.strip_prefix(crate_dir().parent().unwrap_or(Path::new("/")))
        .unwrap_or(p)
        .display()
        .to_string()
}

/// Every function in the header carries its documentation (ownership, thread safety, errors).
#[test]
fn every_function_is_documented() {
    let header = generate();
    let lines: Vec<&str> = header.lines().collect();
    let mut undocumented = Vec::new();
    let mut functions = 0;
    for (i, line) in lines.iter().enumerate() {
        let decl = line.trim_start();
        let is_fn = decl.contains(" cring_")
            && decl.contains('(')
            && !decl.starts_with('*')
            && !decl.starts_with("/*")
            && !decl.starts_with("#");
        if !is_fn {
            continue;
        }
        functions += 1;
        // Look back over the doc comment above the declaration.
        let mut j = i;
        let mut doc = String::new();
        while j > 0 {
            j -= 1;
            let l = lines[j].trim_start();
            if l.starts_with("/**") || l.starts_with('*') {
                doc.insert_str(0, l);
                if l.starts_with("/**") {
                    break;
                }
            } else {
                break;
            }
        }
        let name = decl
            .split('(')
            .next()
            .and_then(|s| s.split_whitespace().last())
            .unwrap_or(decl)
            .trim_start_matches('*');
        if doc.is_empty() {
            undocumented.push(format!("{name}: no comment"));
            continue;
        }
        let takes_handle = decl.contains("cring_producer producer")
            || decl.contains("cring_consumer consumer")
            || decl.contains("cring_ring ring")
            || decl.contains("cring_region region")
            || decl.contains("cring_records records")
            || decl.contains("cring_record_producer producer")
            || decl.contains("cring_record_consumer consumer")
            || decl.contains("cring_aio_pool pool")
            || decl.contains("cring_aio_target target");
        let returns_status = decl.starts_with("cring_status ");
        let lower = doc.to_lowercase();
        if !lower.contains("thread safety") && !doc.contains("Otherwise as") {
            undocumented.push(format!("{name}: no thread-safety note"));
        }
        if returns_status && !doc.contains("Errors") && !doc.contains("Otherwise as") {
            undocumented.push(format!("{name}: no error list"));
        }
        if takes_handle
            && returns_status
            && !doc.contains("BAD_HANDLE")
            && !doc.contains("Otherwise as")
            && !doc.contains("as for")
        {
            undocumented.push(format!("{name}: errors do not mention a bad handle"));
        }
    }
    assert!(
        functions > 40,
        "found only {functions} functions in the header"
    );
    assert!(undocumented.is_empty(), "{}", undocumented.join("\n"));
}

/// The constants written by hand in cbindgen.toml (`after_includes`) equal the Rust ones.
#[test]
fn hand_written_constants_match() {
    let header = generate();
    let value = |name: &str| -> String {
        let prefix = format!("#define {name} ");
        header
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{name} is not defined in the header"))
            .trim()
            .to_string()
    };
    let hex = |s: &str, wrapper: &str| -> u64 {
        let inner = s
            .strip_prefix(wrapper)
            .and_then(|s| s.strip_prefix("(0x"))
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or_else(|| panic!("unexpected spelling {s}"));
        u64::from_str_radix(inner, 16).unwrap()
    };
    assert_eq!(
        hex(&value("CRING_MAGIC"), "UINT64_C"),
        ring_ffi::CRING_MAGIC
    );
    assert_eq!(
        hex(&value("CRING_MAX_CAPACITY"), "UINT32_C"),
        u64::from(ring_ffi::CRING_MAX_CAPACITY)
    );
    assert_eq!(value("CRING_MODE_ANY"), "UINT32_MAX");
    assert_eq!(ring_ffi::CRING_MODE_ANY, u32::MAX);
    assert_eq!(value("CRING_TIMEOUT_INFINITE"), "(-1)");
    assert_eq!(ring_ffi::CRING_TIMEOUT_INFINITE, -1);
    assert_eq!(value("CRING_AIO_NO_INTERRUPT"), "(-1)");
    assert_eq!(ring_ffi::CRING_AIO_NO_INTERRUPT, -1);
}
