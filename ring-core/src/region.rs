//! Memory a ring can live in, allocated the way the caller chooses (requires `std`).
//!
//! | constructor                      | memory                                 | shareable with         |
//! |----------------------------------|----------------------------------------|------------------------|
//! | [`Region::heap`]                 | zeroed heap allocation                 | threads                |
//! | [`Region::anonymous`]            | `MAP_SHARED \| MAP_ANONYMOUS`          | threads, `fork` children |
//! | [`Region::memfd`]                | `memfd_create` + `MAP_SHARED`          | any process given the fd |
//! | [`Region::shm_create`]/[`Region::shm_open`] | a file under `/dev/shm`     | any process that knows the name |
//! | [`Region::anonymous_huge`], [`Region::memfd_huge`], [`Region::hugetlbfs_create`] | hugetlb pages | as above |
//! | [`Region::from_raw`]             | memory the caller manages              | whatever the caller arranges |
//!
//! Huge pages are never substituted silently: without them a `*_huge` constructor fails with
//! [`RegionError::HugePagesUnavailable`], unless the caller passes `fallback = true`.

use crate::entry::Entry;
use crate::error::LayoutError;
use crate::format::{Config, RawRegion};
use crate::ring::{Memory, Ring};
use std::ffi::CString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

/// Directory where named shared-memory regions live.
pub const SHM_DIR: &str = "/dev/shm";

/// A huge page size.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HugePageSize {
    /// 2 MiB pages.
    Size2M,
    /// 1 GiB pages.
    Size1G,
}

impl HugePageSize {
    /// Page size in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            HugePageSize::Size2M => 2 << 20,
            HugePageSize::Size1G => 1 << 30,
        }
    }

    const fn shift(self) -> libc::c_int {
        match self {
            HugePageSize::Size2M => 21,
            HugePageSize::Size1G => 30,
        }
    }
}

/// Why memory for a ring could not be obtained, or a ring not set up in it.
///
/// The message ([`Display`](fmt::Display)) names the file where there is one, and what to do
/// about the usual causes.
///
/// # Examples
///
/// ```
/// use ring_core::{Ring, RegionError};
///
/// let err = Ring::<u64>::open_shm("ring-core-doc-no-such-ring").unwrap_err();
/// assert!(matches!(err, RegionError::Io { .. }));
/// assert_eq!(err.os_error().map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));
/// assert!(err.to_string().contains("/dev/shm/ring-core-doc-no-such-ring"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RegionError {
    /// A system call failed.
    Io {
        /// What was being done.
        op: &'static str,
        /// The file it was done to, if any: its path, or `memfd:<name>` for a memfd (as
        /// `/proc/<pid>/fd` shows it).
        path: Option<PathBuf>,
        /// The OS error.
        source: io::Error,
    },
    /// Huge pages of this size are not available (none reserved, none free, or not supported).
    HugePagesUnavailable {
        /// The page size asked for.
        size: HugePageSize,
        /// The OS error.
        source: io::Error,
    },
    /// A shared-memory name is empty, longer than 255 bytes, `.` or `..`, or contains `/` or
    /// NUL.
    InvalidName {
        /// The name given.
        name: String,
    },
    /// The region was refused by the ring layout (memory without a file name: heap,
    /// anonymous, memfd, raw).
    Layout(LayoutError),
    /// The ring in a named file (`/dev/shm/<name>`, a hugetlbfs file) was refused by the ring
    /// layout, or the configuration for it was ([`Ring::create_shm`], [`Ring::open_shm`]). A
    /// [`LayoutError::BadMagic`] of 0 here is a file its creator has not finished formatting:
    /// retry.
    FileLayout {
        /// The file.
        path: PathBuf,
        /// What the layout refused.
        error: LayoutError,
    },
}

impl RegionError {
    /// The layout error, if the region was refused by the layout ([`RegionError::Layout`] or
    /// [`RegionError::FileLayout`]).
    pub fn layout_error(&self) -> Option<&LayoutError> {
        match self {
            RegionError::Layout(e) | RegionError::FileLayout { error: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The OS error, if a system call failed.
    pub fn os_error(&self) -> Option<&io::Error> {
        match self {
            RegionError::Io { source, .. } | RegionError::HugePagesUnavailable { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }

    /// The file the error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            RegionError::Io { path, .. } => path.as_deref(),
            RegionError::FileLayout { path, .. } => Some(path),
            _ => None,
        }
    }

    /// This error, said of the file `path` (a layout error becomes
    /// [`RegionError::FileLayout`]; an I/O error without a file gets this one).
    fn in_file(self, path: &Path) -> RegionError {
        match self {
            RegionError::Layout(error) => RegionError::FileLayout {
                path: path.to_path_buf(),
                error,
            },
            RegionError::Io {
                op,
                path: None,
                source,
            } => RegionError::Io {
                op,
                path: Some(path.to_path_buf()),
                source,
            },
            e => e,
        }
    }
}

/// A hint for the usual causes of an OS error on a named file.
fn io_hint(op: &str, e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::NotFound if op.starts_with("open") => {
            " (no such ring: not created yet, or removed when its creator dropped it; a \
             creator's peers retry until it exists)"
        }
        io::ErrorKind::AlreadyExists => {
            " (the name is taken: by a live ring, or left behind by a process that crashed; \
             remove the file if no process uses it)"
        }
        io::ErrorKind::PermissionDenied => " (the file's owner or mode does not allow it)",
        _ => match e.raw_os_error() {
            Some(libc::ENOSPC) => " (the filesystem is full: /dev/shm is a tmpfs of limited size)",
            _ => "",
        },
    }
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionError::Io {
                op,
                path: Some(p),
                source,
            } => write!(
                f,
                "{}: {op} failed: {source}{}",
                p.display(),
                io_hint(op, source)
            ),
            RegionError::Io {
                op,
                path: None,
                source,
            } => write!(f, "{op} failed: {source}"),
            RegionError::HugePagesUnavailable { size, source } => write!(
                f,
                "huge pages of {} KiB unavailable ({source}); reserve some in /proc/sys/vm/nr_hugepages",
                size.bytes() >> 10
            ),
            RegionError::InvalidName { name } => write!(
                f,
                "invalid shared-memory name {name:?}: it must be 1 to 255 bytes, not `.` or \
                 `..`, without `/` or NUL (the file is /dev/shm/<name>)"
            ),
            RegionError::Layout(e) => write!(f, "{e}"),
            RegionError::FileLayout { path, error } => {
                write!(f, "ring file {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for RegionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RegionError::Io { source, .. } | RegionError::HugePagesUnavailable { source, .. } => {
                Some(source)
            }
            RegionError::Layout(e) | RegionError::FileLayout { error: e, .. } => Some(e),
            RegionError::InvalidName { .. } => None,
        }
    }
}

impl From<LayoutError> for RegionError {
    fn from(e: LayoutError) -> Self {
        RegionError::Layout(e)
    }
}

enum Backing {
    Heap(std::alloc::Layout),
    Mmap { map_len: usize },
    Borrowed,
}

/// Memory for a ring, owned (unmapped or freed on drop) unless made by [`Region::from_raw`].
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
    backing: Backing,
    file: Option<File>,
    path: Option<PathBuf>,
    unlink_on_drop: std::sync::atomic::AtomicBool,
    /// Created by this process and its bytes not yet exposed ([`Region::as_ptr`] clears it):
    /// every byte is zero.
    fresh: std::sync::atomic::AtomicBool,
}

// SAFETY: the region is a plain address range (see RawRegion); the file handle is Send/Sync.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

// SAFETY: `raw()` always returns the same mapped, writable range, which lives until drop.
unsafe impl Memory for Region {
    fn raw(&self) -> RawRegion {
        // SAFETY: ptr/len describe memory this Region keeps mapped until it is dropped.
        unsafe { RawRegion::new(self.ptr, self.len) }
    }

    fn is_fresh_zeroed(&self) -> bool {
        self.fresh.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .field("path", &self.path)
            .field("fd", &self.file.as_ref().map(|f| f.as_raw_fd()))
            .finish()
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        match self.backing {
            // SAFETY: allocated in `heap` with exactly this layout, not freed before.
            Backing::Heap(layout) => unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) },
            Backing::Mmap { map_len } => {
                // SAFETY: mapped by `map_shared` with this length; no reference outlives self.
                unsafe { libc::munmap(self.ptr.as_ptr().cast(), map_len) };
            }
            Backing::Borrowed => {}
        }
        if *self.unlink_on_drop.get_mut() {
            if let Some(p) = &self.path {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// Allocates the backing store of `file`'s first `len` bytes (`fallocate`), so that a full
/// filesystem (a tmpfs or memfd's shmem limit, too few huge pages) is an error now and never a
/// `SIGBUS` later, when a producer first touches an overflow slot or a consumer looks at one.
/// Already allocated ranges are left as they are. A filesystem without `fallocate`
/// (`EOPNOTSUPP`) is accepted as it is: its pages are allocated on first touch.
fn allocate(file: &File, len: usize) -> io::Result<()> {
    let len =
        libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    loop {
        // SAFETY: fallocate on a descriptor we own, mode 0 (allocate, keep the size).
        let r = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EOPNOTSUPP) => return Ok(()),
            _ => return Err(e),
        }
    }
}

fn map_shared(
    len: usize,
    fd: Option<BorrowedFd<'_>>,
    extra: libc::c_int,
) -> Result<NonNull<u8>, io::Error> {
    let (flags, raw_fd) = match fd {
        Some(fd) => (libc::MAP_SHARED | extra, fd.as_raw_fd()),
        None => (libc::MAP_SHARED | libc::MAP_ANONYMOUS | extra, -1),
    };
    // SAFETY: a fresh mapping chosen by the kernel; no existing memory is affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            raw_fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(p.cast()).ok_or_else(|| io::Error::from(io::ErrorKind::Other))
}

fn huge_err(size: HugePageSize, source: io::Error) -> RegionError {
    match source.raw_os_error() {
        Some(libc::ENOMEM) | Some(libc::ENOSPC) | Some(libc::EINVAL) | Some(libc::ENOENT)
        | Some(libc::ENOSYS) => RegionError::HugePagesUnavailable { size, source },
        _ => RegionError::Io {
            op: "mmap (huge pages)",
            path: None,
            source,
        },
    }
}

/// How a memfd is named in `/proc/<pid>/fd` (and in errors).
fn memfd_label(name: &str) -> PathBuf {
    PathBuf::from(format!("memfd:{name}"))
}

fn round_up(len: usize, to: usize) -> usize {
    len.div_ceil(to) * to
}

fn shm_path(name: &str) -> Result<PathBuf, RegionError> {
    if name.is_empty()
        || name.len() > 255
        || name.contains('/')
        || name.contains('\0')
        || name == "."
        || name == ".."
    {
        return Err(RegionError::InvalidName {
            name: name.to_string(),
        });
    }
    Ok(Path::new(SHM_DIR).join(name))
}

impl Region {
    fn fresh(self) -> Region {
        self.fresh.store(true, std::sync::atomic::Ordering::Relaxed);
        self
    }

    fn mapped(ptr: NonNull<u8>, len: usize, map_len: usize, file: Option<File>) -> Region {
        Region {
            ptr,
            len,
            backing: Backing::Mmap { map_len },
            file,
            path: None,
            unlink_on_drop: false.into(),
            fresh: false.into(),
        }
    }

    /// `len` zeroed bytes on the heap, page-aligned. Shareable between threads only.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = ring_core::Region::heap(4096).unwrap();
    /// assert_eq!(r.len(), 4096);
    /// ```
    pub fn heap(len: usize) -> Result<Region, RegionError> {
        let layout =
            std::alloc::Layout::from_size_align(len.max(1), 4096).map_err(|_| RegionError::Io {
                op: "heap layout",
                path: None,
                source: io::ErrorKind::InvalidInput.into(),
            })?;
        // SAFETY: the layout has non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).ok_or(RegionError::Io {
            op: "heap allocation",
            path: None,
            source: io::ErrorKind::OutOfMemory.into(),
        })?;
        Ok(Region {
            ptr,
            len,
            backing: Backing::Heap(layout),
            file: None,
            path: None,
            unlink_on_drop: false.into(),
            fresh: true.into(),
        })
    }

    /// `len` bytes of shared anonymous memory (inherited by `fork` children).
    pub fn anonymous(len: usize) -> Result<Region, RegionError> {
        let ptr = map_shared(len, None, 0).map_err(|source| RegionError::Io {
            op: "mmap",
            path: None,
            source,
        })?;
        Ok(Region::mapped(ptr, len, len, None).fresh())
    }

    /// Shared anonymous memory on huge pages (`MAP_HUGETLB`); `len` is rounded up to the page
    /// size. With `fallback`, uses normal pages when huge pages are unavailable.
    pub fn anonymous_huge(
        len: usize,
        size: HugePageSize,
        fallback: bool,
    ) -> Result<Region, RegionError> {
        let map_len = round_up(len.max(1), size.bytes());
        let flags = libc::MAP_HUGETLB | (size.shift() << libc::MAP_HUGE_SHIFT);
        match map_shared(map_len, None, flags) {
            Ok(ptr) => Ok(Region::mapped(ptr, map_len, map_len, None).fresh()),
            Err(e) => match huge_err(size, e) {
                RegionError::HugePagesUnavailable { .. } if fallback => Region::anonymous(len),
                err => Err(err),
            },
        }
    }

    fn memfd_inner(name: &str, len: usize, flags: libc::c_uint) -> Result<File, io::Error> {
        let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `cname` is a valid NUL-terminated string; flags are memfd flags.
        let fd = unsafe {
            libc::memfd_create(
                cname.as_ptr(),
                flags | libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by memfd_create and is owned by nobody else.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        file.set_len(len as u64)?;
        allocate(&file, len)?;
        // Seal the size against shrinking: a peer holding the fd could otherwise truncate it and
        // turn our accesses into SIGBUS. (Files under /dev/shm cannot be sealed.)
        // SAFETY: fcntl on a descriptor we own, with an integer argument.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(file)
    }

    /// `len` bytes in a new memfd (close-on-exec). Give [`Region::fd`] to another process (by
    /// inheritance with `CLOEXEC` cleared, or over a Unix socket with `SCM_RIGHTS`), which maps
    /// it with [`Region::from_fd`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Region, Ring};
    ///
    /// let region = Region::memfd("example", 1 << 16).unwrap();
    /// let ring = Ring::<u64>::create(region, Config::new(64)).unwrap();
    /// // Another mapping of the same memory sees the same ring.
    /// let fd = ring.memory().fd().unwrap().try_clone_to_owned().unwrap();
    /// let other = Ring::<u64>::attach(Region::from_fd(fd).unwrap()).unwrap();
    /// ring.producer().unwrap().push(9).unwrap();
    /// assert_eq!(other.consumer().unwrap().pop(), Ok(9));
    /// ```
    pub fn memfd(name: &str, len: usize) -> Result<Region, RegionError> {
        let label = memfd_label(name);
        let file = Region::memfd_inner(name, len, 0).map_err(|source| RegionError::Io {
            op: "memfd_create",
            path: Some(label.clone()),
            source,
        })?;
        let ptr = map_shared(len, Some(file.as_fd()), 0).map_err(|source| RegionError::Io {
            op: "mmap",
            path: Some(label),
            source,
        })?;
        Ok(Region::mapped(ptr, len, len, Some(file)).fresh())
    }

    /// A memfd on huge pages (`MFD_HUGETLB`); `len` is rounded up to the page size. With
    /// `fallback`, uses a normal memfd when huge pages are unavailable.
    pub fn memfd_huge(
        name: &str,
        len: usize,
        size: HugePageSize,
        fallback: bool,
    ) -> Result<Region, RegionError> {
        let map_len = round_up(len.max(1), size.bytes());
        let flags = libc::MFD_HUGETLB | ((size.shift() as libc::c_uint) << libc::MFD_HUGE_SHIFT);
        let attempt = Region::memfd_inner(name, map_len, flags)
            .and_then(|file| map_shared(map_len, Some(file.as_fd()), 0).map(|ptr| (file, ptr)));
        match attempt {
            Ok((file, ptr)) => Ok(Region::mapped(ptr, map_len, map_len, Some(file)).fresh()),
            Err(e) => match huge_err(size, e) {
                RegionError::HugePagesUnavailable { .. } if fallback => Region::memfd(name, len),
                err => Err(err.in_file(&memfd_label(name))),
            },
        }
    }

    /// Maps the whole file behind `fd` (a memfd or shared-memory file from another process).
    ///
    /// Errors name the file the descriptor refers to, as `/proc/self/fd` shows it.
    pub fn from_fd(fd: OwnedFd) -> Result<Region, RegionError> {
        let label = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok();
        let file = File::from(fd);
        Region::map_file(file, None).map_err(|e| match &label {
            Some(l) => e.in_file(l),
            None => e,
        })
    }

    fn map_file(file: File, path: Option<PathBuf>) -> Result<Region, RegionError> {
        let len = file
            .metadata()
            .map_err(|source| RegionError::Io {
                op: "fstat",
                path: None,
                source,
            })?
            .len();
        let len = usize::try_from(len).map_err(|_| RegionError::Io {
            op: "fstat",
            path: None,
            source: io::ErrorKind::InvalidData.into(),
        })?;
        if len == 0 {
            return Err(RegionError::Layout(LayoutError::RegionTooShort {
                needed: crate::layout::HEADER_LEN as u64,
                available: 0,
            }));
        }
        let ptr = map_shared(len, Some(file.as_fd()), 0).map_err(|source| RegionError::Io {
            op: "mmap",
            path: None,
            source,
        })?;
        let mut r = Region::mapped(ptr, len, len, Some(file));
        r.path = path;
        Ok(r)
    }

    /// [`Region::map_file`] of a named file, its errors naming it.
    fn map_named(file: File, path: &Path) -> Result<Region, RegionError> {
        Region::map_file(file, Some(path.to_path_buf())).map_err(|e| e.in_file(path))
    }

    /// Creates `/dev/shm/<name>` exclusively (fails if it exists) with `mode` (0o600 is the
    /// usual choice), sized to `len`, and maps it. The file is removed when the region is
    /// dropped unless [`Region::keep_file`] is called; a process that attaches with
    /// [`Region::shm_open`] keeps its mapping after the name is removed.
    pub fn shm_create(name: &str, len: usize, mode: u32) -> Result<Region, RegionError> {
        let path = shm_path(name)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(|source| RegionError::Io {
                op: "create shm file",
                path: Some(path.clone()),
                source,
            })?;
        let cleanup = |e| {
            let _ = std::fs::remove_file(&path);
            e
        };
        file.set_len(len as u64).map_err(|source| {
            cleanup(RegionError::Io {
                op: "ftruncate",
                path: Some(path.clone()),
                source,
            })
        })?;
        allocate(&file, len).map_err(|source| {
            cleanup(RegionError::Io {
                op: "fallocate (reserve the region's pages)",
                path: Some(path.clone()),
                source,
            })
        })?;
        let mut r = Region::map_named(file, &path).map_err(cleanup)?;
        *r.unlink_on_drop.get_mut() = true;
        r.fresh = true.into();
        Ok(r)
    }

    /// Opens and maps an existing `/dev/shm/<name>`.
    pub fn shm_open(name: &str) -> Result<Region, RegionError> {
        let path = shm_path(name)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(|source| RegionError::Io {
                op: "open shm file",
                path: Some(path.clone()),
                source,
            })?;
        Region::map_named(file, &path)
    }

    /// Creates a file on a hugetlbfs mount exclusively (mode 0o600), sized to `len` rounded up
    /// to `size`, and maps it. Removed on drop unless [`Region::keep_file`] is called.
    pub fn hugetlbfs_create(
        path: &Path,
        len: usize,
        size: HugePageSize,
    ) -> Result<Region, RegionError> {
        let map_len = round_up(len.max(1), size.bytes());
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|source| RegionError::Io {
                op: "create hugetlbfs file",
                path: Some(path.to_path_buf()),
                source,
            })?;
        let cleanup = |e: RegionError| {
            let _ = std::fs::remove_file(path);
            e.in_file(path)
        };
        file.set_len(map_len as u64)
            .map_err(|source| cleanup(huge_err(size, source)))?;
        allocate(&file, map_len).map_err(|source| cleanup(huge_err(size, source)))?;
        let ptr =
            map_shared(map_len, Some(file.as_fd()), 0).map_err(|e| cleanup(huge_err(size, e)))?;
        let mut r = Region::mapped(ptr, map_len, map_len, Some(file));
        r.path = Some(path.to_path_buf());
        *r.unlink_on_drop.get_mut() = true;
        r.fresh = true.into();
        Ok(r)
    }

    /// Uses memory the caller manages. Nothing is freed on drop.
    ///
    /// # Safety
    ///
    /// As for [`RawRegion::new`]: the bytes stay mapped and writable for the region's life and
    /// are used by others only as a ring of this layout.
    pub unsafe fn from_raw(ptr: NonNull<u8>, len: usize) -> Region {
        Region {
            ptr,
            len,
            backing: Backing::Borrowed,
            file: None,
            path: None,
            unlink_on_drop: false.into(),
            fresh: false.into(),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Base address. (After this, the region no longer counts as known-zero memory.)
    pub fn as_ptr(&self) -> *mut u8 {
        self.fresh
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.ptr.as_ptr()
    }

    /// The file descriptor behind the region (memfd, shm or hugetlbfs file), if any. (After
    /// this, the region no longer counts as known-zero memory.)
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        // Whoever holds the descriptor can write the bytes: no longer known to be zero.
        self.fresh
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.file.as_ref().map(|f| f.as_fd())
    }

    /// The file's path (shm or hugetlbfs), if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Keeps the named file when the region is dropped.
    pub fn keep_file(&self) {
        self.unlink_on_drop
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Removes the named file now (the mapping stays valid), as soon as every peer has opened
    /// it; nothing is left behind even if this process is killed later.
    pub fn unlink(&self) -> Result<(), RegionError> {
        self.unlink_on_drop
            .store(false, std::sync::atomic::Ordering::Relaxed);
        match &self.path {
            Some(p) => std::fs::remove_file(p).map_err(|source| RegionError::Io {
                op: "unlink",
                path: Some(p.clone()),
                source,
            }),
            None => Ok(()),
        }
    }
}

impl<T: Entry> Ring<T, Region> {
    /// A new ring on the heap (threads only).
    ///
    /// # Examples
    ///
    /// ```
    /// let ring = ring_core::Ring::<u32>::create_heap(ring_core::Config::new(16)).unwrap();
    /// assert_eq!(ring.capacity(), 16);
    /// ```
    pub fn create_heap(cfg: Config) -> Result<Self, RegionError> {
        let len = cfg.region_len::<T>()?;
        let len = usize::try_from(len).map_err(|_| LayoutError::Capacity {
            found: cfg.capacity,
        })?;
        Ok(Ring::create(Region::heap(len)?, cfg)?)
    }

    /// A new ring in a new memfd (see [`Region::memfd`]).
    pub fn create_memfd(name: &str, cfg: Config) -> Result<Self, RegionError> {
        let len = usize::try_from(cfg.region_len::<T>()?).map_err(|_| LayoutError::Capacity {
            found: cfg.capacity,
        })?;
        Ok(Ring::create(Region::memfd(name, len)?, cfg)?)
    }

    /// A new ring in a new `/dev/shm/<name>` created exclusively with mode 0o600 (see
    /// [`Region::shm_create`]).
    ///
    /// **Dropping removes the name.** The ring owns the file: when the last of this `Ring`, its
    /// clones and the producer and consumer handles made from it is dropped, `/dev/shm/<name>`
    /// is removed (peers that have attached keep their mappings; a peer that has not attached
    /// yet finds nothing). So keep the creator alive until its peers have attached, or call
    /// [`Region::keep_file`] (`ring.region().keep_file()`) to leave the file for later
    /// attachers; [`Region::unlink`] removes it at once. A process that is killed removes
    /// nothing: remove the file after a crash (its name is [`Region::path`]).
    ///
    /// # Errors
    ///
    /// [`RegionError::InvalidName`]; [`RegionError::Io`] naming the file (`AlreadyExists` if
    /// the name is taken, `ENOSPC` if `/dev/shm` is full); [`RegionError::FileLayout`] if the
    /// configuration is refused. No file is left behind on failure.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::{Config, Mode, Ring};
    ///
    /// let name = format!("ring-core-doc-{}", std::process::id());
    /// let ring = Ring::<u64>::create_shm(&name, Config::new(32).mode(Mode::Mpsc)).unwrap();
    /// let peer = Ring::<u64>::open_shm(&name).unwrap(); // as another process would
    /// ring.producer().unwrap().push(1).unwrap();
    /// assert_eq!(peer.consumer().unwrap().pop(), Ok(1));
    /// ```
    pub fn create_shm(name: &str, cfg: Config) -> Result<Self, RegionError> {
        Ring::create_shm_mode(name, cfg, 0o600)
    }

    /// As [`Ring::create_shm`] with an explicit file mode.
    pub fn create_shm_mode(name: &str, cfg: Config, mode: u32) -> Result<Self, RegionError> {
        let path = shm_path(name)?;
        let in_file = |e: LayoutError| RegionError::Layout(e).in_file(&path);
        let len = cfg.region_len::<T>().map_err(in_file)?;
        let len = usize::try_from(len).map_err(|_| {
            in_file(LayoutError::Capacity {
                found: cfg.capacity,
            })
        })?;
        // A refused configuration drops the region, which removes the file.
        Ring::create(Region::shm_create(name, len, mode)?, cfg).map_err(in_file)
    }

    /// Attaches to an existing `/dev/shm/<name>`, validating it. The file stays when the ring
    /// is dropped (its creator owns it).
    ///
    /// # Errors
    ///
    /// [`RegionError::Io`] naming the file (`NotFound`: not created yet, or removed);
    /// [`RegionError::FileLayout`] if its contents are refused: a
    /// [`LayoutError::RegionTooShort`] with nothing available or a [`LayoutError::BadMagic`]
    /// of 0 is a ring its creator has not finished setting up (retry), any other error is
    /// final.
    pub fn open_shm(name: &str) -> Result<Self, RegionError> {
        let path = shm_path(name)?;
        Ring::attach(Region::shm_open(name)?).map_err(|e| RegionError::Layout(e).in_file(&path))
    }

    /// The region (for [`Region::unlink`] or [`Region::keep_file`]).
    pub fn region(&self) -> &Region {
        self.memory()
    }
}
