//! Regions: the memory a ring lives in, allocated the way the caller chooses.

use crate::dynring::RegionObj;
use crate::handles::Table;
use crate::status::{boundary, cring_status, Fail};
use crate::types::*;
use crate::{handle_out, out_ptr, put, str_arg};
use core::ffi::{c_char, c_int, c_void};
use ring_core::region::Region;
use ring_core::HugePageSize;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

pub(crate) static REGIONS: Table<Arc<RegionObj>> = Table::new("region", 0);

/// Registers a region and returns its handle id.
pub(crate) fn open_region(obj: Arc<RegionObj>) -> Result<u64, Fail> {
    REGIONS.insert(obj)
}

/// The region of handle `r`.
pub(crate) fn region_of(r: cring_region) -> Result<Arc<RegionObj>, Fail> {
    Ok(REGIONS.get(r.id)?.get().clone())
}

fn new_region(r: Result<Region, ring_core::RegionError>) -> Result<u64, Fail> {
    open_region(RegionObj::new(r?))
}

fn huge_size(page_size: u64) -> Result<HugePageSize, Fail> {
    match page_size {
        CRING_HUGE_PAGE_2M => Ok(HugePageSize::Size2M),
        CRING_HUGE_PAGE_1G => Ok(HugePageSize::Size1G),
        _ => Err(Fail::invalid(format!(
            "huge page size {page_size} is neither CRING_HUGE_PAGE_2M nor CRING_HUGE_PAGE_1G"
        ))),
    }
}

fn huge_flags(flags: u32) -> Result<bool, Fail> {
    if flags & !CRING_HUGE_FALLBACK != 0 {
        return Err(Fail::invalid(format!("unknown flags {flags:#x}")));
    }
    Ok(flags & CRING_HUGE_FALLBACK != 0)
}

/// Allocates `len` zeroed bytes on the heap (page-aligned) as a region. Such a region can be
/// shared by the threads of this process only.
///
/// Ownership: the caller owns `*out` and closes it with `cring_region_close()`. The memory is
/// freed when the region handle and every ring made in it (and their producers and consumers)
/// are closed.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`out`), `CRING_STATUS_IO` (allocation failed),
/// `CRING_STATUS_NO_RESOURCES`. On failure `*out` is `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_region`.
#[no_mangle]
pub unsafe extern "C" fn cring_region_heap(len: usize, out: *mut cring_region) -> cring_status {
    // SAFETY: the caller's guarantee for `out`.
    unsafe {
        handle_out(
            out,
            |id| cring_region { id },
            || new_region(Region::heap(len)),
        )
    }
}

/// Maps `len` bytes of shared anonymous memory (`MAP_SHARED | MAP_ANONYMOUS`) as a region:
/// shared with the children this process `fork`s afterwards.
///
/// Ownership, thread safety: as for `cring_region_heap()`.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`out`), `CRING_STATUS_IO` (`mmap` failed;
/// `cring_last_os_error()` gives `errno`), `CRING_STATUS_NO_RESOURCES`. On failure `*out` is
/// `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_region`.
#[no_mangle]
pub unsafe extern "C" fn cring_region_anonymous(
    len: usize,
    out: *mut cring_region,
) -> cring_status {
    // SAFETY: the caller's guarantee for `out`.
    unsafe {
        handle_out(
            out,
            |id| cring_region { id },
            || new_region(Region::anonymous(len)),
        )
    }
}

/// Creates a memfd of `len` bytes named `name` (close-on-exec, sealed against shrinking) and
/// maps it as a region. Another process maps the same memory from the descriptor
/// (`cring_region_fd()`, passed by inheritance or over a Unix socket) with
/// `cring_region_from_fd()`.
///
/// Ownership: as for `cring_region_heap()`; the descriptor belongs to the region.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`name`, `out`), `CRING_STATUS_INVALID_ARGUMENT` (`name`
/// not UTF-8), `CRING_STATUS_IO`, `CRING_STATUS_NO_RESOURCES`. On failure `*out` is `{0}`.
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string; `out` is NULL or valid for writing a
/// `cring_region`.
#[no_mangle]
pub unsafe extern "C" fn cring_region_memfd(
    name: *const c_char,
    len: usize,
    out: *mut cring_region,
) -> cring_status {
    let open = || {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let name = unsafe { str_arg(name, "name") }?;
        new_region(Region::memfd(name, len))
    };
    // SAFETY: the caller's guarantees for `name` and `out`.
    unsafe { handle_out(out, |id| cring_region { id }, open) }
}

/// Maps the whole file behind descriptor `fd` (a memfd or shared-memory file, typically from
/// another process) as a region. The library duplicates `fd`: the caller keeps ownership of
/// `fd` and may close it at once.
///
/// Ownership, thread safety: as for `cring_region_heap()`.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`out`), `CRING_STATUS_INVALID_ARGUMENT` (`fd < 0`),
/// `CRING_STATUS_IO` (bad descriptor, `mmap` failed), `CRING_STATUS_REGION_TOO_SHORT` (empty
/// file), `CRING_STATUS_NO_RESOURCES`. On failure `*out` is `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_region`. `fd` refers to memory that others use
/// only as a ring of this layout (see `cring_region_from_memory()`).
#[no_mangle]
pub unsafe extern "C" fn cring_region_from_fd(fd: c_int, out: *mut cring_region) -> cring_status {
    let open = || {
        if fd < 0 {
            return Err(Fail::invalid(format!("invalid descriptor {fd}")));
        }
        // SAFETY: F_DUPFD_CLOEXEC only creates a new descriptor; a bad `fd` gives EBADF.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return Err(Fail::io("dup", &std::io::Error::last_os_error()));
        }
        // SAFETY: `dup` was just created and is owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(dup) };
        new_region(Region::from_fd(owned))
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_region { id }, open) }
}

/// Creates `/dev/shm/<name>` exclusively (it must not exist) with permission bits `file_mode`
/// (0600 is the usual choice), sized to `len` bytes, and maps it as a region. Another process
/// maps it with `cring_region_shm_open()`. The file is removed when the region is freed unless
/// `cring_region_keep_file()` is called; `cring_region_unlink()` removes it earlier (peers that
/// opened it keep their mapping).
///
/// Ownership, thread safety: as for `cring_region_heap()`.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`name`, `out`), `CRING_STATUS_INVALID_NAME` (empty,
/// longer than 255 bytes, or containing `/`), `CRING_STATUS_INVALID_ARGUMENT` (not UTF-8),
/// `CRING_STATUS_IO` (for example `EEXIST`), `CRING_STATUS_NO_RESOURCES`. On failure `*out` is
/// `{0}` and no file is left behind.
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string; `out` is NULL or valid for writing a
/// `cring_region`.
#[no_mangle]
pub unsafe extern "C" fn cring_region_shm_create(
    name: *const c_char,
    len: usize,
    file_mode: u32,
    out: *mut cring_region,
) -> cring_status {
    let open = || {
        if file_mode & !0o7777 != 0 {
            return Err(Fail::invalid(format!("file mode {file_mode:#o}")));
        }
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let name = unsafe { str_arg(name, "name") }?;
        new_region(Region::shm_create(name, len, file_mode))
    };
    // SAFETY: the caller's guarantees for `name` and `out`.
    unsafe { handle_out(out, |id| cring_region { id }, open) }
}

/// Opens and maps an existing `/dev/shm/<name>` as a region.
///
/// Ownership, thread safety: as for `cring_region_heap()`.
///
/// Errors: as for `cring_region_shm_create()` (`CRING_STATUS_IO` with `ENOENT` if it does not
/// exist), and `CRING_STATUS_REGION_TOO_SHORT` for an empty file.
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string; `out` is NULL or valid for writing a
/// `cring_region`.
#[no_mangle]
pub unsafe extern "C" fn cring_region_shm_open(
    name: *const c_char,
    out: *mut cring_region,
) -> cring_status {
    let open = || {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let name = unsafe { str_arg(name, "name") }?;
        new_region(Region::shm_open(name))
    };
    // SAFETY: the caller's guarantees for `name` and `out`.
    unsafe { handle_out(out, |id| cring_region { id }, open) }
}

/// Maps shared anonymous memory on huge pages (`MAP_HUGETLB`) as a region; `len` is rounded up
/// to `page_size` (`CRING_HUGE_PAGE_2M` or `CRING_HUGE_PAGE_1G`). With `CRING_HUGE_FALLBACK` in
/// `flags`, normal pages are used when huge pages are not available.
///
/// Ownership, thread safety: as for `cring_region_heap()`.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`out`), `CRING_STATUS_INVALID_ARGUMENT` (page size,
/// flags), `CRING_STATUS_HUGEPAGES_UNAVAILABLE` (none reserved or free; without the fallback
/// flag), `CRING_STATUS_IO`, `CRING_STATUS_NO_RESOURCES`. On failure `*out` is `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_region`.
#[no_mangle]
pub unsafe extern "C" fn cring_region_huge(
    len: usize,
    page_size: u64,
    flags: u32,
    out: *mut cring_region,
) -> cring_status {
    let open = || {
        let size = huge_size(page_size)?;
        let fallback = huge_flags(flags)?;
        new_region(Region::anonymous_huge(len, size, fallback))
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_region { id }, open) }
}

/// Creates a memfd on huge pages (`MFD_HUGETLB`) and maps it as a region; `len` is rounded up
/// to `page_size`. With `CRING_HUGE_FALLBACK`, a normal memfd is used when huge pages are not
/// available.
///
/// Ownership, thread safety: as for `cring_region_heap()`.
///
/// Errors: as for `cring_region_huge()`, and `CRING_STATUS_NULL_POINTER` /
/// `CRING_STATUS_INVALID_ARGUMENT` for `name`.
///
/// # Safety
///
/// `name` is NULL or a NUL-terminated string; `out` is NULL or valid for writing a
/// `cring_region`.
#[no_mangle]
pub unsafe extern "C" fn cring_region_memfd_huge(
    name: *const c_char,
    len: usize,
    page_size: u64,
    flags: u32,
    out: *mut cring_region,
) -> cring_status {
    let open = || {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let name = unsafe { str_arg(name, "name") }?;
        let size = huge_size(page_size)?;
        let fallback = huge_flags(flags)?;
        new_region(Region::memfd_huge(name, len, size, fallback))
    };
    // SAFETY: the caller's guarantees for `name` and `out`.
    unsafe { handle_out(out, |id| cring_region { id }, open) }
}

/// Creates the file `path` on a hugetlbfs mount exclusively (mode 0600), sized to `len` rounded
/// up to `page_size`, and maps it as a region. The file is removed when the region is freed
/// unless `cring_region_keep_file()` is called.
///
/// Ownership, thread safety: as for `cring_region_heap()`.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`path`, `out`), `CRING_STATUS_INVALID_ARGUMENT` (page
/// size, `path` not UTF-8), `CRING_STATUS_HUGEPAGES_UNAVAILABLE`, `CRING_STATUS_IO`,
/// `CRING_STATUS_NO_RESOURCES`. On failure `*out` is `{0}`.
///
/// # Safety
///
/// `path` is NULL or a NUL-terminated string; `out` is NULL or valid for writing a
/// `cring_region`.
#[no_mangle]
pub unsafe extern "C" fn cring_region_hugetlbfs_create(
    path: *const c_char,
    len: usize,
    page_size: u64,
    out: *mut cring_region,
) -> cring_status {
    let open = || {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let path = Path::new(unsafe { str_arg(path, "path") }?);
        let size = huge_size(page_size)?;
        new_region(Region::hugetlbfs_create(path, len, size))
    };
    // SAFETY: the caller's guarantees for `path` and `out`.
    unsafe { handle_out(out, |id| cring_region { id }, open) }
}

/// Uses `len` bytes at `base`, memory the caller manages (a mapping of its own, a static
/// buffer), as a region. A ring needs `base` aligned to `CRING_REGION_ALIGN` (128) bytes; this
/// is checked when a ring is created or attached (`CRING_STATUS_MISALIGNED`).
///
/// Ownership: the caller owns `*out` and closes it with `cring_region_close()`; the library
/// never frees or unmaps the memory.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_NULL_POINTER` (`base`, `out`), `CRING_STATUS_NO_RESOURCES`. On failure
/// `*out` is `{0}`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `cring_region`. Until the region handle and every ring,
/// producer and consumer made from it are closed, the `len` bytes at `base` stay mapped,
/// readable and writable, and every other user (thread or process) accesses them only through a
/// ring of this layout.
#[no_mangle]
pub unsafe extern "C" fn cring_region_from_memory(
    base: *mut c_void,
    len: usize,
    out: *mut cring_region,
) -> cring_status {
    let open = || {
        let ptr = NonNull::new(base.cast::<u8>()).ok_or(Fail::null("base"))?;
        // SAFETY: the caller guarantees the memory's validity and exclusive use as a ring
        // for as long as anything made from the region is open (see `# Safety`).
        let region = unsafe { Region::from_raw(ptr, len) };
        new_region(Ok(region))
    };
    // SAFETY: the caller's guarantee for `out`.
    unsafe { handle_out(out, |id| cring_region { id }, open) }
}

/// Closes a region handle. The memory itself is released (freed, unmapped, its file removed
/// unless kept) when the last ring made in it is closed too.
///
/// Thread safety: any thread. A call still running on the handle in another thread finishes
/// normally.
///
/// Errors: `CRING_STATUS_BAD_HANDLE` (not open, for example closed already).
#[no_mangle]
pub extern "C" fn cring_region_close(region: cring_region) -> cring_status {
    boundary(|| REGIONS.remove(region.id))
}

/// The region's base address.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NULL_POINTER` (`base`).
///
/// # Safety
///
/// `base` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn cring_region_base(
    region: cring_region,
    base: *mut *mut c_void,
) -> cring_status {
    boundary(|| {
        let out = out_ptr(base, "base")?;
        let r = region_of(region)?;
        r.exposed();
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, r.raw().as_ptr().cast()) };
        Ok(())
    })
}

/// The region's length in bytes (for huge pages: rounded up to the page size).
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NULL_POINTER` (`len`).
///
/// # Safety
///
/// `len` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn cring_region_len(region: cring_region, len: *mut usize) -> cring_status {
    boundary(|| {
        let out = out_ptr(len, "len")?;
        let r = region_of(region)?;
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, r.raw().len()) };
        Ok(())
    })
}

/// The descriptor behind the region (memfd, `/dev/shm` or hugetlbfs file), or -1 if it has
/// none (heap, anonymous, caller memory).
///
/// Ownership: the descriptor belongs to the region and stays open until the region's memory is
/// released; do not close it (duplicate it to keep or send it).
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_NULL_POINTER` (`fd`).
///
/// # Safety
///
/// `fd` is NULL or valid for writing an `int`.
#[no_mangle]
pub unsafe extern "C" fn cring_region_fd(region: cring_region, fd: *mut c_int) -> cring_status {
    boundary(|| {
        let out = out_ptr(fd, "fd")?;
        let r = region_of(region)?;
        let raw = r.with(|r| r.fd().map_or(-1, |fd| fd.as_raw_fd()));
        if raw >= 0 {
            r.exposed();
        }
        // SAFETY: checked non-NULL and aligned; the caller guarantees it is writable.
        unsafe { put(out, raw) };
        Ok(())
    })
}

/// Removes the region's named file (`/dev/shm` or hugetlbfs) now; the mapping stays valid.
/// Call it once every peer has opened the file, so nothing is left behind even if this process
/// is killed. Does nothing for regions without a file.
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`, `CRING_STATUS_IO` (for example removed already).
#[no_mangle]
pub extern "C" fn cring_region_unlink(region: cring_region) -> cring_status {
    boundary(|| {
        let r = region_of(region)?;
        r.with(|r| r.unlink())?;
        Ok(())
    })
}

/// Keeps the region's named file when the region is released (by default a file the region
/// created is removed then).
///
/// Thread safety: any thread.
///
/// Errors: `CRING_STATUS_BAD_HANDLE`.
#[no_mangle]
pub extern "C" fn cring_region_keep_file(region: cring_region) -> cring_status {
    boundary(|| {
        region_of(region)?.with(|r| r.keep_file());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_region_round_trip() {
        let mut r = cring_region::default();
        // SAFETY: valid out pointers.
        unsafe {
            assert_eq!(cring_region_heap(4096, &mut r), cring_status::Ok);
            let mut len = 0usize;
            assert_eq!(cring_region_len(r, &mut len), cring_status::Ok);
            assert_eq!(len, 4096);
            let mut fd = 0;
            assert_eq!(cring_region_fd(r, &mut fd), cring_status::Ok);
            assert_eq!(fd, -1);
        }
        assert_eq!(cring_region_close(r), cring_status::Ok);
        assert_eq!(cring_region_close(r), cring_status::BadHandle);
    }
}
