//! Finding ring files and opening them read-only.
//!
//! A ring file is opened `O_RDONLY` and mapped `PROT_READ` ([`memmap2::MmapOptions::
//! map_raw_read_only`], which never makes a `&[u8]` of memory other processes write), and its
//! header is checked by [`ring_core::inspect::inspect`], which only loads. Nothing here can
//! write to a ring.

use memmap2::{MmapOptions, MmapRaw};
use ring_core::inspect::{inspect, InspectError, Inspection, ReadOnlyRegion};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

/// Where `shm_open` names live.
pub const SHM_DIR: &str = "/dev/shm";
/// Size of a ring header: smaller files are not rings.
const HEADER_LEN: u64 = ring_core::layout::HEADER_LEN as u64;

/// Why a file could not be shown as a ring.
#[derive(Debug)]
pub enum OpenError {
    /// The file could not be opened, examined or mapped.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The system's error.
        err: io::Error,
    },
    /// Not a regular file (a directory, a FIFO, a symbolic link, ...).
    NotRegular {
        /// The file.
        path: PathBuf,
    },
    /// Shorter than a ring header.
    TooShort {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The header failed a check.
    NotRing {
        /// The file.
        path: PathBuf,
        /// The check that failed.
        err: InspectError,
    },
}

impl OpenError {
    /// The reason alone, without the path (for tables that show the path already).
    pub fn reason(&self) -> String {
        match self {
            OpenError::Io { what, err, .. } => format!("cannot {what}: {err}"),
            OpenError::NotRegular { .. } => "not a regular file".to_string(),
            OpenError::TooShort { len, .. } => {
                format!("{len} bytes, shorter than a ring header ({HEADER_LEN} bytes)")
            }
            OpenError::NotRing { err, .. } => format!("not a valid ring: {err}"),
        }
    }

    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            OpenError::Io { path, .. }
            | OpenError::NotRegular { path }
            | OpenError::TooShort { path, .. }
            | OpenError::NotRing { path, .. } => path,
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path().display(), self.reason())
    }
}

impl std::error::Error for OpenError {}

/// A ring file mapped read-only, with its checked header.
pub struct RingFile {
    /// The file.
    pub path: PathBuf,
    /// The file's length when it was opened.
    pub file_len: u64,
    /// The checked view (points into `_map`).
    pub view: Inspection,
    /// Keeps the mapping alive for `view`; dropped after it (field order).
    _map: MmapRaw,
}

/// Opens `path` read-only and checks its header. Symbolic links are not followed.
pub fn open_ro(path: &Path) -> Result<RingFile, OpenError> {
    let io_err = |what, err| OpenError::Io {
        path: path.to_path_buf(),
        what,
        err,
    };
    // O_NONBLOCK: opening a FIFO someone left in /dev/shm must not block.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| io_err("open it read-only", e))?;
    let md = file.metadata().map_err(|e| io_err("stat it", e))?;
    if !md.file_type().is_file() {
        return Err(OpenError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    let len = md.len();
    if len < HEADER_LEN {
        return Err(OpenError::TooShort {
            path: path.to_path_buf(),
            len,
        });
    }
    let map = map_ro(&file, len).map_err(|e| io_err("map it read-only", e))?;
    let ptr = NonNull::new(map.as_mut_ptr()).ok_or_else(|| {
        io_err(
            "map it read-only",
            io::Error::other("the mapping is at address 0"),
        )
    })?;
    // SAFETY: `map` is a PROT_READ mapping of `map.len()` bytes that lives in the returned
    // `RingFile` next to the view, which never outlives it. Ring participants access the
    // layout's words atomically. (If another process truncates the file meanwhile, reads past
    // the new end raise SIGBUS, as for every user of the ring.)
    let region = unsafe { ReadOnlyRegion::new(ptr, map.len()) };
    let view = inspect(&region).map_err(|err| OpenError::NotRing {
        path: path.to_path_buf(),
        err,
    })?;
    Ok(RingFile {
        path: path.to_path_buf(),
        file_len: len,
        view,
        _map: map,
    })
}

fn map_ro(file: &File, len: u64) -> io::Result<MmapRaw> {
    let len = usize::try_from(len).map_err(|_| io::Error::other("file too large to map"))?;
    MmapOptions::new().len(len).map_raw_read_only(file)
}

/// The directories searched by default: `/dev/shm` and every hugetlbfs mount in
/// `/proc/mounts`.
pub fn default_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(SHM_DIR)];
    if let Ok(mounts) = fs::read_to_string("/proc/mounts") {
        for line in mounts.lines() {
            let mut f = line.split_whitespace();
            let (_, Some(dir), Some(fstype)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if fstype == "hugetlbfs" {
                let dir = PathBuf::from(unescape_mount(dir));
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
    }
    dirs
}

/// `/proc/mounts` escapes space, tab, newline and backslash as three octal digits.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = (b[i] == b'\\' && i + 3 < b.len())
            .then(|| &b[i + 1..i + 4])
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| {
                let v = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                u8::try_from(v).ok()
            });
        if let Some(v) = octal {
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The regular files directly inside each of `dirs` (not following symbolic links), sorted.
/// Directories that cannot be read are reported as errors alongside.
pub fn candidates(dirs: &[PathBuf]) -> (Vec<PathBuf>, Vec<OpenError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for dir in dirs {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(err) => {
                if err.kind() != io::ErrorKind::NotFound {
                    errors.push(OpenError::Io {
                        path: dir.clone(),
                        what: "list the directory",
                        err,
                    });
                }
                continue;
            }
        };
        for entry in entries.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            // Sockets, FIFOs, devices, directories and links are never rings.
            if ft.is_file() && !ft.is_fifo() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    (files, errors)
}

/// Resolves a ring name given on the command line: a path (containing `/`) as given, else a
/// name under `/dev/shm` (a leading `/`, as `shm_open` takes it, is accepted), else the first
/// hugetlbfs mount that has a file of that name.
pub fn resolve(name: &str) -> PathBuf {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.contains('/') {
        return PathBuf::from(name);
    }
    let shm = Path::new(SHM_DIR).join(bare);
    if shm.exists() {
        return shm;
    }
    for dir in default_dirs().into_iter().skip(1) {
        let p = dir.join(bare);
        if p.exists() {
            return p;
        }
    }
    shm
}

/// How a ring is named in tables: the file name under `/dev/shm`, the full path elsewhere.
pub fn display_name(path: &Path) -> String {
    match path.strip_prefix(SHM_DIR) {
        Ok(rest) if rest.components().count() == 1 => rest.display().to_string(),
        _ => path.display().to_string(),
    }
}
