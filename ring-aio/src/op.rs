//! Operations: what a submission asks a worker to do, and what it hands back.

use std::ffi::{c_int, c_long, CString};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A socket address in its raw (`sockaddr_storage`) form: what `connect`, `sendmsg`, `accept`
/// and `recvmsg` exchange with the kernel.
///
/// # Examples
///
/// ```
/// use ring_aio::SockAddr;
///
/// let a = SockAddr::from("127.0.0.1:8080".parse::<std::net::SocketAddr>().unwrap());
/// assert_eq!(a.to_socket_addr(), Some("127.0.0.1:8080".parse().unwrap()));
/// ```
#[derive(Clone, Copy)]
pub struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl std::fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_socket_addr() {
            Some(a) => write!(f, "SockAddr({a})"),
            None => write!(
                f,
                "SockAddr(family {}, {} bytes)",
                self.storage.ss_family, self.len
            ),
        }
    }
}

impl SockAddr {
    fn zeroed() -> Self {
        SockAddr {
            // SAFETY: sockaddr_storage is plain data; all-zero bytes are a valid value.
            storage: unsafe { std::mem::zeroed() },
            len: std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    /// A Unix-domain socket address for `path`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the path does not fit in `sun_path` (108 bytes with the NUL).
    pub fn unix(path: &Path) -> io::Result<Self> {
        let bytes = path.as_os_str().as_bytes();
        let mut a = SockAddr::zeroed();
        // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_un.
        let un = unsafe { &mut *(&mut a.storage as *mut _ as *mut libc::sockaddr_un) };
        if bytes.len() >= un.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "unix socket path of {} bytes does not fit in sun_path ({} bytes)",
                    bytes.len(),
                    un.sun_path.len()
                ),
            ));
        }
        un.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in un.sun_path.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        a.len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
        Ok(a)
    }

    /// The address family (`AF_INET`, `AF_INET6`, `AF_UNIX`, ...).
    pub fn family(&self) -> c_int {
        c_int::from(self.storage.ss_family)
    }

    /// The length in bytes the kernel reported or that will be passed to it.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the address is empty (for example the unnamed peer of a socketpair).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address as an IP socket address, if it is one.
    pub fn to_socket_addr(&self) -> Option<SocketAddr> {
        let len = self.len as usize;
        match self.family() {
            libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says sockaddr_in and the length covers it.
                let a = unsafe { &*(&self.storage as *const _ as *const libc::sockaddr_in) };
                let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::from((ip, u16::from_be(a.sin_port))))
            }
            libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
                // SAFETY: the family says sockaddr_in6 and the length covers it.
                let a = unsafe { &*(&self.storage as *const _ as *const libc::sockaddr_in6) };
                let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        &self.storage as *const _ as *const libc::sockaddr
    }
}

impl From<SocketAddr> for SockAddr {
    fn from(addr: SocketAddr) -> Self {
        let mut a = SockAddr::zeroed();
        match addr {
            SocketAddr::V4(v4) => {
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                let s = unsafe { &mut *(&mut a.storage as *mut _ as *mut libc::sockaddr_in) };
                s.sin_family = libc::AF_INET as libc::sa_family_t;
                s.sin_port = v4.port().to_be();
                s.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
                a.len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(v6) => {
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                let s = unsafe { &mut *(&mut a.storage as *mut _ as *mut libc::sockaddr_in6) };
                s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                s.sin6_port = v6.port().to_be();
                s.sin6_addr.s6_addr = v6.ip().octets();
                s.sin6_flowinfo = v6.flowinfo();
                s.sin6_scope_id = v6.scope_id();
                a.len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        a
    }
}

/// What a finished operation hands back, kept by the pool under the submission's id until
/// [`crate::Pool::take_output`] collects it (the completion then has [`crate::flags::OUTPUT`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    /// The buffer of a read or pread (truncated to the bytes read when it succeeded) or of a
    /// write or pwrite (unchanged).
    Buffer(Vec<u8>),
    /// The buffers of a readv or writev, unchanged in length (the completion's result says how
    /// many bytes were transferred).
    Buffers(Vec<Vec<u8>>),
    /// The result of a successful statx.
    Statx(Box<libc::statx>),
    /// What a sendmsg or recvmsg hands back: the data buffers (unchanged in length), the
    /// peer's address (recvmsg, when the socket reports one), the control buffer (truncated
    /// to what recvmsg filled) and `msg_flags` (recvmsg).
    Msg {
        /// The data buffers.
        bufs: Vec<Vec<u8>>,
        /// The peer address, if any (boxed, as in [`Output::Peer`]).
        addr: Option<Box<SockAddr>>,
        /// The control (ancillary) data.
        control: Vec<u8>,
        /// `msg_flags` as recvmsg set them (0 for sendmsg).
        flags: c_int,
    },
    /// The peer address of an accepted connection. Boxed: a `sockaddr_storage` is 128 bytes,
    /// and every completion's output moves through the pool, so an inline one would make every
    /// output (a read's buffer included) that large.
    Peer(Box<SockAddr>),
    /// A raw system call's return value that does not fit the completion's `i32` result (the
    /// completion then carries `-EOVERFLOW` and [`crate::flags::WIDE`]).
    Wide(i64),
}

/// An operation to run on a worker.
///
/// Each constructor takes ownership of the buffers the operation needs: they live in the pool
/// while a worker may use them and come back as an [`Output`]. Descriptors are plain numbers
/// (as in POSIX AIO); the caller keeps them open until the completion arrives, except for
/// [`Op::close`], which takes ownership.
///
/// # Examples
///
/// ```
/// use ring_aio::Op;
///
/// let op = Op::pread(0, vec![0; 4096], 8192);
/// assert_eq!(op.fd(), Some(0));
/// ```
#[derive(Debug)]
pub struct Op {
    pub(crate) kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Nop,
    Read {
        fd: RawFd,
        buf: Vec<u8>,
        offset: Option<i64>,
    },
    Write {
        fd: RawFd,
        buf: Vec<u8>,
        offset: Option<i64>,
    },
    Readv {
        fd: RawFd,
        bufs: Vec<Vec<u8>>,
        offset: Option<i64>,
    },
    Writev {
        fd: RawFd,
        bufs: Vec<Vec<u8>>,
        offset: Option<i64>,
    },
    Fsync {
        fd: RawFd,
        data_only: bool,
    },
    Openat {
        dirfd: RawFd,
        path: CString,
        flags: c_int,
        mode: libc::mode_t,
    },
    Close {
        /// Owned: an operation dropped without running (a refused or cancelled submission)
        /// still closes the descriptor.
        fd: OwnedFd,
        cancel: bool,
    },
    Statx {
        dirfd: RawFd,
        path: CString,
        flags: c_int,
        mask: u32,
    },
    Fallocate {
        fd: RawFd,
        mode: c_int,
        offset: i64,
        len: i64,
    },
    Sendmsg {
        fd: RawFd,
        bufs: Vec<Vec<u8>>,
        addr: Option<Box<SockAddr>>,
        control: Vec<u8>,
        flags: c_int,
    },
    Recvmsg {
        fd: RawFd,
        bufs: Vec<Vec<u8>>,
        control: Vec<u8>,
        flags: c_int,
    },
    Accept {
        fd: RawFd,
        flags: c_int,
    },
    Connect {
        fd: RawFd,
        addr: Box<SockAddr>,
    },
    Raw {
        nr: c_long,
        args: [usize; 6],
        interruptible: bool,
    },
    /// A read into memory the caller owns ([`Op::read_raw`]).
    ReadRaw {
        fd: RawFd,
        buf: RawBuf,
        offset: Option<i64>,
    },
    /// A write from memory the caller owns ([`Op::write_raw`]).
    WriteRaw {
        fd: RawFd,
        buf: RawBuf,
        offset: Option<i64>,
    },
    /// A vectored read into memory the caller owns ([`Op::readv_raw`]).
    ReadvRaw {
        fd: RawFd,
        iov: RawIov,
        offset: Option<i64>,
    },
    /// A vectored write from memory the caller owns ([`Op::writev_raw`]).
    WritevRaw {
        fd: RawFd,
        iov: RawIov,
        offset: Option<i64>,
    },
    /// A statx into a result the caller owns ([`Op::statx_raw`]).
    StatxRaw {
        dirfd: RawFd,
        path: CString,
        flags: c_int,
        mask: u32,
        out: RawBuf,
    },
}

/// A buffer the caller owns, lent to an operation by one of the `unsafe` `*_raw` constructors.
#[derive(Debug)]
pub(crate) struct RawBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the constructor's caller promised that the memory stays valid and is not accessed in
// conflicting ways until the completion is received, whichever thread runs the operation; the
// pool hands the operation to one worker at a time.
unsafe impl Send for RawBuf {}

/// The iovec array of a vectored operation on memory the caller owns (copied from the caller's
/// array when the operation is made; the buffers it describes are the caller's).
pub(crate) struct RawIov(Vec<libc::iovec>);

// SAFETY: as for `RawBuf`: the buffers the iovecs point to are lent by a caller who promised
// their validity until the completion is received.
unsafe impl Send for RawIov {}

impl std::fmt::Debug for RawIov {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|v| (v.iov_base, v.iov_len)))
            .finish()
    }
}

impl RawIov {
    fn total(&self) -> usize {
        self.0
            .iter()
            .fold(0usize, |n, v| n.saturating_add(v.iov_len))
    }
}

/// How an operation relates to others on the same descriptor (ordering and barriers).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Reads and anything else that neither writes nor synchronizes.
    Plain,
    /// Writes data (what fsync/fdatasync must cover).
    Write,
    /// fsync / fdatasync: waits for every earlier write.
    Sync,
    /// close: waits for every earlier operation; every later one waits for it.
    Close,
}

fn path_cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path {} contains a NUL byte", path.display()),
        )
    })
}

impl Op {
    /// Does nothing (result 0): measures the pool itself.
    pub fn nop() -> Op {
        Op { kind: Kind::Nop }
    }

    /// `read(fd, buf)` at the file position, reading up to `buf.len()` bytes.
    pub fn read(fd: RawFd, buf: Vec<u8>) -> Op {
        Op {
            kind: Kind::Read {
                fd,
                buf,
                offset: None,
            },
        }
    }

    /// `pread(fd, buf, offset)`, reading up to `buf.len()` bytes.
    pub fn pread(fd: RawFd, buf: Vec<u8>, offset: u64) -> Op {
        Op {
            kind: Kind::Read {
                fd,
                buf,
                offset: Some(offset as i64),
            },
        }
    }

    /// `write(fd, buf)` at the file position.
    pub fn write(fd: RawFd, buf: Vec<u8>) -> Op {
        Op {
            kind: Kind::Write {
                fd,
                buf,
                offset: None,
            },
        }
    }

    /// `pwrite(fd, buf, offset)`.
    pub fn pwrite(fd: RawFd, buf: Vec<u8>, offset: u64) -> Op {
        Op {
            kind: Kind::Write {
                fd,
                buf,
                offset: Some(offset as i64),
            },
        }
    }

    /// `readv` (offset `None`) or `preadv` into `bufs`.
    pub fn readv(fd: RawFd, bufs: Vec<Vec<u8>>, offset: Option<u64>) -> Op {
        Op {
            kind: Kind::Readv {
                fd,
                bufs,
                offset: offset.map(|o| o as i64),
            },
        }
    }

    /// `writev` (offset `None`) or `pwritev` from `bufs`.
    pub fn writev(fd: RawFd, bufs: Vec<Vec<u8>>, offset: Option<u64>) -> Op {
        Op {
            kind: Kind::Writev {
                fd,
                bufs,
                offset: offset.map(|o| o as i64),
            },
        }
    }

    /// `fsync(fd)`: runs only after every write submitted earlier on `fd` has completed.
    pub fn fsync(fd: RawFd) -> Op {
        Op {
            kind: Kind::Fsync {
                fd,
                data_only: false,
            },
        }
    }

    /// `fdatasync(fd)`: runs only after every write submitted earlier on `fd` has completed.
    pub fn fdatasync(fd: RawFd) -> Op {
        Op {
            kind: Kind::Fsync {
                fd,
                data_only: true,
            },
        }
    }

    /// `openat(dirfd, path, flags, mode)`; the completion's result is the new descriptor,
    /// which the caller then owns. Pass `libc::AT_FDCWD` for paths relative to the current
    /// directory.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `path` contains a NUL byte.
    pub fn openat(dirfd: RawFd, path: &Path, flags: c_int, mode: u32) -> io::Result<Op> {
        Ok(Op {
            kind: Kind::Openat {
                dirfd,
                path: path_cstring(path)?,
                flags,
                mode: mode as libc::mode_t,
            },
        })
    }

    /// `close(fd)`, taking ownership of the descriptor. It runs only after every operation
    /// submitted earlier on the descriptor has completed, and operations submitted later on the
    /// same number wait for it.
    pub fn close(fd: OwnedFd) -> Op {
        Op {
            kind: Kind::Close { fd, cancel: false },
        }
    }

    /// As [`Op::close`], but first cancels every operation submitted earlier on the descriptor
    /// (queued ones complete with `-ECANCELED`, running interruptible ones are interrupted,
    /// the others are waited for).
    pub fn close_cancelling(fd: OwnedFd) -> Op {
        Op {
            kind: Kind::Close { fd, cancel: true },
        }
    }

    /// `statx(dirfd, path, flags, mask)`; on success the [`Output::Statx`] holds the result.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `path` contains a NUL byte.
    pub fn statx(dirfd: RawFd, path: &Path, flags: c_int, mask: u32) -> io::Result<Op> {
        Ok(Op {
            kind: Kind::Statx {
                dirfd,
                path: path_cstring(path)?,
                flags,
                mask,
            },
        })
    }

    /// `fallocate(fd, mode, offset, len)` (counts as a write for [`Op::fsync`]).
    pub fn fallocate(fd: RawFd, mode: c_int, offset: u64, len: u64) -> Op {
        Op {
            kind: Kind::Fallocate {
                fd,
                mode,
                offset: offset as i64,
                len: len as i64,
            },
        }
    }

    /// `sendmsg(fd, msg, flags)` with the data in `bufs`, an optional destination address and
    /// control data; everything comes back in [`Output::Msg`].
    pub fn sendmsg(
        fd: RawFd,
        bufs: Vec<Vec<u8>>,
        addr: Option<SockAddr>,
        control: Vec<u8>,
        flags: c_int,
    ) -> Op {
        Op {
            kind: Kind::Sendmsg {
                fd,
                bufs,
                addr: addr.map(Box::new),
                control,
                flags,
            },
        }
    }

    /// `recvmsg(fd, msg, flags)` into `bufs` and `control` (pass an empty `Vec` for none);
    /// [`Output::Msg`] hands them back with the peer address and `msg_flags`.
    pub fn recvmsg(fd: RawFd, bufs: Vec<Vec<u8>>, control: Vec<u8>, flags: c_int) -> Op {
        Op {
            kind: Kind::Recvmsg {
                fd,
                bufs,
                control,
                flags,
            },
        }
    }

    /// `accept4(fd, .., flags)`; the result is the new descriptor (the caller owns it) and
    /// [`Output::Peer`] the peer's address.
    pub fn accept(fd: RawFd, flags: c_int) -> Op {
        Op {
            kind: Kind::Accept { fd, flags },
        }
    }

    /// `connect(fd, addr)`.
    pub fn connect(fd: RawFd, addr: SockAddr) -> Op {
        Op {
            kind: Kind::Connect {
                fd,
                addr: Box::new(addr),
            },
        }
    }

    /// Any system call: `syscall(nr, args[0], .., args[5])`. `interruptible` says whether
    /// cancelling it while it runs may interrupt it with a signal (it must then tolerate
    /// returning `EINTR`).
    ///
    /// # Safety
    ///
    /// The call runs on another thread at some later time. Whatever the arguments point to
    /// must stay valid (and not be accessed in conflicting ways) until the completion has been
    /// received, and the call must be sound to make from a pool worker thread (no calls that
    /// change the thread's state in ways the pool does not expect, such as `exit` or changing
    /// its signal mask).
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_aio::Op;
    ///
    /// // SAFETY: getpid takes no arguments and has no effect.
    /// let op = unsafe { Op::syscall(libc::SYS_getpid, [0; 6], false) };
    /// assert_eq!(op.fd(), None);
    /// ```
    pub unsafe fn syscall(nr: c_long, args: [usize; 6], interruptible: bool) -> Op {
        Op {
            kind: Kind::Raw {
                nr,
                args,
                interruptible,
            },
        }
    }

    /// `read(fd, ..)` (offset `None`) or `pread(fd, .., offset)` into `len` bytes at `buf`, memory
    /// the caller owns: for callers that manage their own buffers (the C ABI, buffer pools).
    /// The operation hands nothing back ([`crate::flags::OUTPUT`] is not set); the completion's
    /// result is the number of bytes read.
    ///
    /// # Safety
    ///
    /// `buf` must be valid for writes of `len` bytes, and neither read nor written by anyone
    /// else, from this call until the operation's completion has been received from the ring
    /// (or the submission was refused and handed back, or the pool has been dropped). Dropping
    /// an unsubmitted operation releases the buffer at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_aio::{Op, Pool, PoolConfig, Submission, Target};
    /// use ring_core::{Completion, Config, Mode, Ring};
    /// use std::io::Write;
    /// use std::os::fd::AsRawFd;
    /// use std::time::Duration;
    ///
    /// let ring = Ring::<Completion>::create_heap(Config::new(8).mode(Mode::Mpsc))?;
    /// let target = Target::new(&ring)?;
    /// let pool = Pool::new(PoolConfig::new().max_workers(1))?;
    /// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
    /// w.write_all(b"raw")?;
    ///
    /// let mut buf = [0u8; 8];
    /// // SAFETY: `buf` is not touched until the completion has been reaped below.
    /// let op = unsafe { Op::read_raw(r.as_raw_fd(), buf.as_mut_ptr(), buf.len(), None) };
    /// pool.submit(Submission::new(op, &target)).map_err(|r| r.error)?;
    /// let mut done = [Completion::default(); 1];
    /// assert_eq!(ring.consumer()?.reap(&mut done, 1, Some(Duration::from_secs(5)))?, 1);
    /// assert_eq!(done[0].result, 3);
    /// assert_eq!(&buf[..3], b"raw");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub unsafe fn read_raw(fd: RawFd, buf: *mut u8, len: usize, offset: Option<u64>) -> Op {
        Op {
            kind: Kind::ReadRaw {
                fd,
                buf: RawBuf { ptr: buf, len },
                offset: offset.map(|o| o as i64),
            },
        }
    }

    /// `write(fd, ..)` (offset `None`) or `pwrite(fd, .., offset)` from `len` bytes at `buf`,
    /// memory the caller owns. The operation hands nothing back.
    ///
    /// # Safety
    ///
    /// `buf` must be valid for reads of `len` bytes, and not written by anyone, from this call
    /// until the operation's completion has been received from the ring (or the submission was
    /// refused and handed back, or the pool has been dropped).
    pub unsafe fn write_raw(fd: RawFd, buf: *const u8, len: usize, offset: Option<u64>) -> Op {
        Op {
            kind: Kind::WriteRaw {
                fd,
                buf: RawBuf {
                    ptr: buf.cast_mut(),
                    len,
                },
                offset: offset.map(|o| o as i64),
            },
        }
    }

    /// `readv` (offset `None`) or `preadv` into the buffers `iov` describes, memory the caller
    /// owns. The array `iov` itself is copied: only the buffers must stay valid. The operation
    /// hands nothing back.
    ///
    /// # Safety
    ///
    /// Every buffer `iov` describes must be valid for writes of its `iov_len` bytes, and
    /// neither read nor written by anyone else, from this call until the operation's
    /// completion has been received from the ring (or the submission was refused and handed
    /// back, or the pool has been dropped).
    pub unsafe fn readv_raw(fd: RawFd, iov: &[libc::iovec], offset: Option<u64>) -> Op {
        Op {
            kind: Kind::ReadvRaw {
                fd,
                iov: RawIov(iov.to_vec()),
                offset: offset.map(|o| o as i64),
            },
        }
    }

    /// `writev` (offset `None`) or `pwritev` from the buffers `iov` describes, memory the
    /// caller owns. The array `iov` itself is copied. The operation hands nothing back.
    ///
    /// # Safety
    ///
    /// Every buffer `iov` describes must be valid for reads of its `iov_len` bytes, and not
    /// written by anyone, from this call until the operation's completion has been received
    /// from the ring (or the submission was refused and handed back, or the pool has been
    /// dropped).
    pub unsafe fn writev_raw(fd: RawFd, iov: &[libc::iovec], offset: Option<u64>) -> Op {
        Op {
            kind: Kind::WritevRaw {
                fd,
                iov: RawIov(iov.to_vec()),
                offset: offset.map(|o| o as i64),
            },
        }
    }

    /// `statx(dirfd, path, flags, mask, out)` writing its result to `*out`, memory the caller
    /// owns (the path is copied). The operation hands nothing back.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `path` contains a NUL byte.
    ///
    /// # Safety
    ///
    /// `out` must be valid for writing a `libc::statx` (aligned), and neither read nor written
    /// by anyone else, from this call until the operation's completion has been received from
    /// the ring (or the submission was refused and handed back, or the pool has been dropped).
    pub unsafe fn statx_raw(
        dirfd: RawFd,
        path: &Path,
        flags: c_int,
        mask: u32,
        out: *mut libc::statx,
    ) -> io::Result<Op> {
        Ok(Op {
            kind: Kind::StatxRaw {
                dirfd,
                path: path_cstring(path)?,
                flags,
                mask,
                out: RawBuf {
                    ptr: out.cast(),
                    len: std::mem::size_of::<libc::statx>(),
                },
            },
        })
    }

    /// The descriptor a close operation ([`Op::close`], [`Op::close_cancelling`]) owns, given
    /// back without closing it (for a refused submission whose descriptor the caller keeps);
    /// `None` for any other operation.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_aio::Op;
    /// use std::os::fd::{AsRawFd, OwnedFd};
    ///
    /// let fd: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    /// let raw = fd.as_raw_fd();
    /// let back = Op::close(fd).into_fd().unwrap();
    /// assert_eq!(back.as_raw_fd(), raw);
    /// assert!(Op::nop().into_fd().is_none());
    /// ```
    pub fn into_fd(self) -> Option<OwnedFd> {
        match self.kind {
            Kind::Close { fd, .. } => Some(fd),
            _ => None,
        }
    }

    /// The descriptor whose ordering this operation takes part in, if any (`openat` and `statx`
    /// take part in none: their directory descriptor is only read).
    pub fn fd(&self) -> Option<RawFd> {
        match &self.kind {
            Kind::Read { fd, .. }
            | Kind::Write { fd, .. }
            | Kind::Readv { fd, .. }
            | Kind::Writev { fd, .. }
            | Kind::Fsync { fd, .. }
            | Kind::Fallocate { fd, .. }
            | Kind::Sendmsg { fd, .. }
            | Kind::Recvmsg { fd, .. }
            | Kind::Accept { fd, .. }
            | Kind::Connect { fd, .. }
            | Kind::ReadRaw { fd, .. }
            | Kind::WriteRaw { fd, .. }
            | Kind::ReadvRaw { fd, .. }
            | Kind::WritevRaw { fd, .. } => Some(*fd),
            Kind::Close { fd, .. } => Some(fd.as_raw_fd()),
            Kind::Nop
            | Kind::Openat { .. }
            | Kind::Statx { .. }
            | Kind::StatxRaw { .. }
            | Kind::Raw { .. } => None,
        }
    }

    /// A short name of the operation (for messages).
    pub fn name(&self) -> &'static str {
        match &self.kind {
            Kind::Nop => "nop",
            Kind::Read { offset: None, .. } | Kind::ReadRaw { offset: None, .. } => "read",
            Kind::Read { .. } | Kind::ReadRaw { .. } => "pread",
            Kind::Write { offset: None, .. } | Kind::WriteRaw { offset: None, .. } => "write",
            Kind::Write { .. } | Kind::WriteRaw { .. } => "pwrite",
            Kind::Readv { .. } | Kind::ReadvRaw { .. } => "readv",
            Kind::Writev { .. } | Kind::WritevRaw { .. } => "writev",
            Kind::Fsync {
                data_only: false, ..
            } => "fsync",
            Kind::Fsync { .. } => "fdatasync",
            Kind::Openat { .. } => "openat",
            Kind::Close { .. } => "close",
            Kind::Statx { .. } | Kind::StatxRaw { .. } => "statx",
            Kind::Fallocate { .. } => "fallocate",
            Kind::Sendmsg { .. } => "sendmsg",
            Kind::Recvmsg { .. } => "recvmsg",
            Kind::Accept { .. } => "accept",
            Kind::Connect { .. } => "connect",
            Kind::Raw { .. } => "syscall",
        }
    }

    /// Whether the result counts bytes moved (reads, writes, vectored ones, socket messages):
    /// what the `BYTES_TRANSFERRED` attribute reports.
    pub(crate) fn transfers(&self) -> bool {
        matches!(
            self.kind,
            Kind::Read { .. }
                | Kind::Write { .. }
                | Kind::Readv { .. }
                | Kind::Writev { .. }
                | Kind::Sendmsg { .. }
                | Kind::Recvmsg { .. }
                | Kind::ReadRaw { .. }
                | Kind::WriteRaw { .. }
                | Kind::ReadvRaw { .. }
                | Kind::WritevRaw { .. }
        )
    }

    pub(crate) fn class(&self) -> Class {
        match &self.kind {
            Kind::Write { .. }
            | Kind::Writev { .. }
            | Kind::WriteRaw { .. }
            | Kind::WritevRaw { .. }
            | Kind::Fallocate { .. } => Class::Write,
            Kind::Fsync { .. } => Class::Sync,
            Kind::Close { .. } => Class::Close,
            _ => Class::Plain,
        }
    }

    /// Whether cancelling the operation while it runs may interrupt it with a signal: calls
    /// that may block for an unbounded time and return `EINTR` harmlessly. `fsync`, `close`,
    /// `statx` and `fallocate` are never interrupted.
    pub fn interruptible(&self) -> bool {
        match &self.kind {
            Kind::Raw { interruptible, .. } => *interruptible,
            Kind::Read { .. }
            | Kind::Write { .. }
            | Kind::Readv { .. }
            | Kind::Writev { .. }
            | Kind::Openat { .. }
            | Kind::Sendmsg { .. }
            | Kind::Recvmsg { .. }
            | Kind::Accept { .. }
            | Kind::Connect { .. }
            | Kind::ReadRaw { .. }
            | Kind::WriteRaw { .. }
            | Kind::ReadvRaw { .. }
            | Kind::WritevRaw { .. } => true,
            Kind::Nop
            | Kind::Fsync { .. }
            | Kind::Close { .. }
            | Kind::Statx { .. }
            | Kind::StatxRaw { .. }
            | Kind::Fallocate { .. } => false,
        }
    }

    pub(crate) fn cancels_earlier(&self) -> bool {
        matches!(self.kind, Kind::Close { cancel: true, .. })
    }

    /// Total bytes of the data buffers (the most a transfer can report).
    pub(crate) fn data_len(&self) -> usize {
        match &self.kind {
            Kind::Read { buf, .. } | Kind::Write { buf, .. } => buf.len(),
            Kind::Readv { bufs, .. }
            | Kind::Writev { bufs, .. }
            | Kind::Sendmsg { bufs, .. }
            | Kind::Recvmsg { bufs, .. } => bufs.iter().map(Vec::len).sum(),
            Kind::ReadRaw { buf, .. } | Kind::WriteRaw { buf, .. } => buf.len,
            Kind::ReadvRaw { iov, .. } | Kind::WritevRaw { iov, .. } => iov.total(),
            _ => 0,
        }
    }

    /// Gives back what the operation owns, without running it (cancelled before start).
    pub(crate) fn into_output(self) -> Option<Output> {
        match self.kind {
            Kind::Read { buf, .. } | Kind::Write { buf, .. } => Some(Output::Buffer(buf)),
            Kind::Readv { bufs, .. } | Kind::Writev { bufs, .. } => Some(Output::Buffers(bufs)),
            Kind::Sendmsg { bufs, control, .. } | Kind::Recvmsg { bufs, control, .. } => {
                Some(Output::Msg {
                    bufs,
                    addr: None,
                    control,
                    flags: 0,
                })
            }
            // A close cancelled before it ran still closes: dropping the OwnedFd does.
            _ => None,
        }
    }

    /// Runs the operation on this thread, returning the raw result (`-errno` on failure) and
    /// what it hands back. `-EINTR` may be returned by interruptible calls; the caller decides
    /// whether to run it again (the operation is then handed back by [`Ran::Retry`]).
    pub(crate) fn run(self) -> Ran {
        let mut op = self;
        if let Kind::Close { fd, .. } = op.kind {
            // Never retried: Linux releases the descriptor even when close reports EINTR.
            // SAFETY: the descriptor is owned by this operation and released here, once.
            let r = sys(unsafe { libc::close(fd.into_raw_fd()) } as i64);
            return Ran::Done(r, None);
        }
        let r: i64 = match &mut op.kind {
            Kind::Nop => 0,
            Kind::Read { fd, buf, offset } => {
                let (fd, p, n) = (*fd, buf.as_mut_ptr().cast(), buf.len());
                // SAFETY: `buf` is owned by this operation and `n` bytes long.
                sys(unsafe {
                    match offset {
                        Some(off) => libc::pread(fd, p, n, *off),
                        None => libc::read(fd, p, n),
                    }
                } as i64)
            }
            Kind::Write { fd, buf, offset } => {
                let (fd, p, n) = (*fd, buf.as_ptr().cast(), buf.len());
                // SAFETY: `buf` is owned by this operation and `n` bytes long.
                sys(unsafe {
                    match offset {
                        Some(off) => libc::pwrite(fd, p, n, *off),
                        None => libc::write(fd, p, n),
                    }
                } as i64)
            }
            Kind::Readv { fd, bufs, offset } => {
                let iov = iovecs_mut(bufs);
                let cnt = iov.len().min(c_int::MAX as usize) as c_int;
                // SAFETY: each iovec describes a whole buffer owned by this operation, which
                // outlives the call; `cnt` iovecs exist.
                sys(unsafe {
                    match offset {
                        Some(off) => libc::preadv(*fd, iov.as_ptr(), cnt, *off),
                        None => libc::readv(*fd, iov.as_ptr(), cnt),
                    }
                } as i64)
            }
            Kind::Writev { fd, bufs, offset } => {
                let iov = iovecs(bufs);
                let cnt = iov.len().min(c_int::MAX as usize) as c_int;
                // SAFETY: as for readv; the buffers are only read.
                sys(unsafe {
                    match offset {
                        Some(off) => libc::pwritev(*fd, iov.as_ptr(), cnt, *off),
                        None => libc::writev(*fd, iov.as_ptr(), cnt),
                    }
                } as i64)
            }
            Kind::Fsync { fd, data_only } => {
                // SAFETY: no memory is passed.
                sys(unsafe {
                    if *data_only {
                        libc::fdatasync(*fd)
                    } else {
                        libc::fsync(*fd)
                    }
                } as i64)
            }
            Kind::Openat {
                dirfd,
                path,
                flags,
                mode,
            } => {
                // SAFETY: `path` is a NUL-terminated string owned by this operation.
                sys(unsafe { libc::openat(*dirfd, path.as_ptr(), *flags, *mode) } as i64)
            }
            Kind::Close { .. } => unreachable!("handled above"),
            Kind::Statx {
                dirfd,
                path,
                flags,
                mask,
            } => {
                // SAFETY: statx is plain data; all-zero bytes are a valid value.
                let mut out: Box<libc::statx> = Box::new(unsafe { std::mem::zeroed() });
                // SAFETY: `path` is NUL-terminated and `out` a valid, writable statx.
                let r = sys(
                    unsafe { libc::statx(*dirfd, path.as_ptr(), *flags, *mask, &mut *out) } as i64,
                );
                if r == 0 {
                    return Ran::Done(0, Some(Output::Statx(out)));
                }
                r
            }
            Kind::Fallocate {
                fd,
                mode,
                offset,
                len,
            } => {
                // SAFETY: no memory is passed.
                sys(unsafe { libc::fallocate(*fd, *mode, *offset, *len) } as i64)
            }
            Kind::Sendmsg {
                fd,
                bufs,
                addr,
                control,
                flags,
            } => {
                let iov = iovecs(bufs);
                // SAFETY: msghdr is plain data; zero is a valid value.
                let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
                msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
                msg.msg_iovlen = iov.len() as _;
                if let Some(a) = addr {
                    msg.msg_name = a.as_ptr() as *mut libc::c_void;
                    msg.msg_namelen = a.len;
                }
                if !control.is_empty() {
                    msg.msg_control = control.as_mut_ptr().cast();
                    msg.msg_controllen = control.len() as _;
                }
                // SAFETY: every pointer in `msg` refers to memory owned by this operation that
                // outlives the call, with the lengths given.
                sys(unsafe { libc::sendmsg(*fd, &msg, *flags) } as i64)
            }
            Kind::Recvmsg {
                fd,
                bufs,
                control,
                flags,
            } => {
                let iov = iovecs_mut(bufs);
                let mut addr = SockAddr::zeroed();
                // SAFETY: msghdr is plain data; zero is a valid value.
                let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
                msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
                msg.msg_iovlen = iov.len() as _;
                msg.msg_name = (&mut addr.storage as *mut libc::sockaddr_storage).cast();
                msg.msg_namelen = addr.len;
                if !control.is_empty() {
                    msg.msg_control = control.as_mut_ptr().cast();
                    msg.msg_controllen = control.len() as _;
                }
                // SAFETY: every pointer in `msg` refers to memory owned by this operation or
                // this frame that outlives the call, with the lengths given.
                let r = sys(unsafe { libc::recvmsg(*fd, &mut msg, *flags) } as i64);
                if r >= 0 {
                    addr.len = msg.msg_namelen.min(addr.len);
                    let clen = (msg.msg_controllen as usize).min(control.len());
                    let Kind::Recvmsg {
                        bufs, mut control, ..
                    } = op.kind
                    else {
                        unreachable!("matched above")
                    };
                    control.truncate(clen);
                    return Ran::Done(
                        r,
                        Some(Output::Msg {
                            bufs,
                            addr: (addr.len > 0).then(|| Box::new(addr)),
                            control,
                            flags: msg.msg_flags,
                        }),
                    );
                }
                r
            }
            Kind::Accept { fd, flags } => {
                let mut addr = SockAddr::zeroed();
                // SAFETY: `addr.storage` is writable for `addr.len` bytes.
                let r = sys(unsafe {
                    libc::accept4(
                        *fd,
                        (&mut addr.storage as *mut libc::sockaddr_storage).cast(),
                        &mut addr.len,
                        *flags,
                    )
                } as i64);
                if r >= 0 {
                    addr.len = addr
                        .len
                        .min(std::mem::size_of::<libc::sockaddr_storage>() as _);
                    return Ran::Done(r, Some(Output::Peer(Box::new(addr))));
                }
                r
            }
            Kind::Connect { fd, addr } => {
                // SAFETY: `addr` is a valid socket address of `addr.len` bytes.
                sys(unsafe { libc::connect(*fd, addr.as_ptr(), addr.len) } as i64)
            }
            Kind::ReadRaw { fd, buf, offset } => {
                let (fd, p, n) = (*fd, buf.ptr.cast(), buf.len);
                // SAFETY: the caller of `Op::read_raw` lent `n` writable bytes at `p` until
                // the completion is received, which is posted only after this call.
                sys(unsafe {
                    match offset {
                        Some(off) => libc::pread(fd, p, n, *off),
                        None => libc::read(fd, p, n),
                    }
                } as i64)
            }
            Kind::WriteRaw { fd, buf, offset } => {
                let (fd, p, n) = (*fd, buf.ptr.cast_const().cast(), buf.len);
                // SAFETY: the caller of `Op::write_raw` lent `n` readable bytes at `p` until
                // the completion is received.
                sys(unsafe {
                    match offset {
                        Some(off) => libc::pwrite(fd, p, n, *off),
                        None => libc::write(fd, p, n),
                    }
                } as i64)
            }
            Kind::ReadvRaw { fd, iov, offset } => {
                let cnt = iov.0.len().min(c_int::MAX as usize) as c_int;
                // SAFETY: the iovec array is ours (`cnt` entries); the caller of
                // `Op::readv_raw` lent the buffers they describe until the completion.
                sys(unsafe {
                    match offset {
                        Some(off) => libc::preadv(*fd, iov.0.as_ptr(), cnt, *off),
                        None => libc::readv(*fd, iov.0.as_ptr(), cnt),
                    }
                } as i64)
            }
            Kind::WritevRaw { fd, iov, offset } => {
                let cnt = iov.0.len().min(c_int::MAX as usize) as c_int;
                // SAFETY: as for readv_raw; the buffers are only read.
                sys(unsafe {
                    match offset {
                        Some(off) => libc::pwritev(*fd, iov.0.as_ptr(), cnt, *off),
                        None => libc::writev(*fd, iov.0.as_ptr(), cnt),
                    }
                } as i64)
            }
            Kind::StatxRaw {
                dirfd,
                path,
                flags,
                mask,
                out,
            } => {
                // SAFETY: `path` is NUL-terminated and ours; the caller of `Op::statx_raw`
                // lent a writable, aligned statx at `out` until the completion.
                sys(
                    unsafe { libc::statx(*dirfd, path.as_ptr(), *flags, *mask, out.ptr.cast()) }
                        as i64,
                )
            }
            Kind::Raw { nr, args, .. } => {
                let a = *args;
                // SAFETY: the caller of `Op::syscall` promised that the call and whatever its
                // arguments point to are valid now.
                sys(unsafe { libc::syscall(*nr, a[0], a[1], a[2], a[3], a[4], a[5]) } as i64)
            }
        };
        if r == -(libc::EINTR as i64) {
            return Ran::Retry(op);
        }
        if let Kind::Read { buf, .. } = &mut op.kind {
            if r >= 0 {
                buf.truncate(r as usize);
            }
        }
        Ran::Done(r, op.into_output())
    }
}

/// The outcome of [`Op::run`].
pub(crate) enum Ran {
    /// The raw result and what is handed back.
    Done(i64, Option<Output>),
    /// The call returned `EINTR`; the operation, intact, to retry or to report.
    Retry(Op),
}

/// `r`, or `-errno` when `r == -1`.
fn sys(r: i64) -> i64 {
    if r == -1 {
        -(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO) as i64)
    } else {
        r
    }
}

fn iovecs_mut(bufs: &mut [Vec<u8>]) -> Vec<libc::iovec> {
    bufs.iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect()
}

fn iovecs(bufs: &[Vec<u8>]) -> Vec<libc::iovec> {
    bufs.iter()
        .map(|b| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect()
}
