//! [`CpuSet`]: the CPUs a pool's workers may run on ([`crate::PoolConfig::worker_cpus`]).

use std::fmt;
use std::io;

/// A set of CPU numbers (0 to [`CpuSet::MAX`] - 1), for [`crate::PoolConfig::worker_cpus`].
///
/// Why pin workers: a pool's workers and the thread that submits and reaps hand every
/// completion over through shared cache lines, and where the scheduler puts them matters. On
/// the 2-CPU test machine, with one worker left to the scheduler, some runs of the `aio` bench
/// took 3-4 times as long to post each completion and ran some 40% slower, with the worker and
/// the submitting thread seen on the same CPU; such runs came and went with the placement.
/// With the worker on one CPU and the submitting thread on the other, no run did.
///
/// # Examples
///
/// ```
/// use ring_aio::CpuSet;
///
/// let mut set = CpuSet::new();
/// assert!(set.insert(1));
/// assert!(set.insert(3));
/// assert!(!set.insert(CpuSet::MAX)); // not representable
/// assert!(set.contains(3) && !set.contains(2));
/// assert_eq!(set.iter().collect::<Vec<_>>(), [1, 3]);
/// ```
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
pub struct CpuSet {
    /// Bit `i % 64` of word `i / 64` is CPU `i`.
    bits: [u64; CpuSet::MAX / 64],
}

impl CpuSet {
    /// One more than the highest CPU number a set holds (as glibc's `cpu_set_t`).
    pub const MAX: usize = 1024;

    /// The empty set.
    pub const fn new() -> Self {
        CpuSet {
            bits: [0; CpuSet::MAX / 64],
        }
    }

    /// Adds `cpu`; `false` (and nothing added) if it is [`CpuSet::MAX`] or more.
    pub fn insert(&mut self, cpu: usize) -> bool {
        if cpu >= Self::MAX {
            return false;
        }
        self.bits[cpu / 64] |= 1 << (cpu % 64);
        true
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: usize) -> bool {
        cpu < Self::MAX && self.bits[cpu / 64] & (1 << (cpu % 64)) != 0
    }

    /// Whether the set holds no CPU.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    /// The CPUs in the set, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..Self::MAX).filter(|&c| self.contains(c))
    }

    /// The CPUs the calling thread may run on (`sched_getaffinity`).
    ///
    /// # Errors
    ///
    /// The system call's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let cpus = ring_aio::CpuSet::current().unwrap();
    /// assert!(!cpus.is_empty());
    /// ```
    pub fn current() -> io::Result<CpuSet> {
        // SAFETY: cpu_set_t is plain data; all zeros is the empty set.
        let mut raw: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `raw` is a valid, writable cpu_set_t of the size passed.
        let r =
            unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut raw) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut set = CpuSet::new();
        for cpu in 0..Self::MAX.min(libc::CPU_SETSIZE as usize) {
            // SAFETY: `cpu` is below CPU_SETSIZE, the set's capacity.
            if unsafe { libc::CPU_ISSET(cpu, &raw) } {
                set.insert(cpu);
            }
        }
        Ok(set)
    }

    /// Whether threads of this process can be restricted to the set: the calling thread is
    /// restricted to it for a moment (`sched_setaffinity`, which the kernel refuses for a set
    /// with none of its CPUs online and in the process's cpuset), then given its own CPUs
    /// back. [`crate::Pool::new`] checks [`crate::PoolConfig::worker_cpus`] so.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, naming the set and the calling thread's CPUs, when the kernel refuses
    /// the set; the system calls' errors otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_aio::CpuSet;
    ///
    /// let own = CpuSet::current().unwrap();
    /// assert!(own.check_usable().is_ok());
    /// assert!(CpuSet::new().check_usable().is_err());
    /// assert_eq!(CpuSet::current().unwrap(), own); // given back
    /// ```
    pub fn check_usable(&self) -> io::Result<()> {
        let own = CpuSet::current()?;
        match self.pin_current_thread() {
            Ok(()) => own.pin_current_thread(),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "CPU set {self:?} holds no CPU that is online and in this process's \
                     cpuset (this thread runs on {own:?}): threads pinned to it could run \
                     nowhere"
                ),
            )),
            Err(e) => Err(e),
        }
    }

    /// Restricts the calling thread to the CPUs of the set (`sched_setaffinity`).
    ///
    /// # Errors
    ///
    /// The system call's error: `EINVAL` when none of the CPUs is available to the thread.
    pub fn pin_current_thread(&self) -> io::Result<()> {
        // SAFETY: cpu_set_t is plain data; all zeros is the empty set.
        let mut raw: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for cpu in self.iter().take_while(|&c| c < libc::CPU_SETSIZE as usize) {
            // SAFETY: `cpu` is below CPU_SETSIZE, the set's capacity.
            unsafe { libc::CPU_SET(cpu, &mut raw) };
        }
        // SAFETY: `raw` is a valid cpu_set_t of the size passed.
        let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &raw) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}
