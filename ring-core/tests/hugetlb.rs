//! Rings on huge pages, and the typed error when huge pages are unavailable.
//!
//! Which path runs depends on the machine: with at least two free 2 MiB pages the `*_huge`
//! constructors must succeed (and the mapping must really be backed by 2 MiB pages); with none
//! free (and no overcommit) they must fail with [`RegionError::HugePagesUnavailable`], and
//! succeed on normal pages with `fallback = true`. 1 GiB pages are normally not reserved at all,
//! which checks the typed error even on a machine with 2 MiB pages reserved.
//!
//! To exercise both paths by hand (as root):
//! `echo 0 > /proc/sys/vm/nr_hugepages`, run, `echo 16 > /proc/sys/vm/nr_hugepages`, run.

use ring_core::{Completion, Config, HugePageSize, Mode, PopError, Region, RegionError, Ring};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const TWO_MIB: usize = 2 << 20;

/// Reads a number from a file such as `/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages`.
fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A field of /proc/meminfo (the number before any unit).
fn meminfo(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Free 2 MiB pages not already promised to a mapping (`HugePages_Free - HugePages_Rsvd`), from
/// /proc/meminfo when 2 MiB is the default huge page size, otherwise from sysfs.
fn free_2m_pages() -> u64 {
    if meminfo("Hugepagesize") == Some(2048) {
        let free = meminfo("HugePages_Free").unwrap_or(0);
        free.saturating_sub(meminfo("HugePages_Rsvd").unwrap_or(0))
    } else {
        let dir = "/sys/kernel/mm/hugepages/hugepages-2048kB";
        let free = read_number(&format!("{dir}/free_hugepages")).unwrap_or(0);
        free.saturating_sub(read_number(&format!("{dir}/resv_hugepages")).unwrap_or(0))
    }
}

/// Surplus pages the kernel may allocate beyond the pool (then a mapping can succeed with
/// none free).
fn overcommit_pages(dir: &str) -> u64 {
    read_number(&format!(
        "/sys/kernel/mm/hugepages/{dir}/nr_overcommit_hugepages"
    ))
    .unwrap_or(0)
}

/// A hugetlbfs mount whose page size is 2 MiB, from /proc/mounts.
fn hugetlbfs_2m_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let default_2m = meminfo("Hugepagesize") == Some(2048);
    mounts.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 || f[2] != "hugetlbfs" {
            return None;
        }
        let size = f[3].split(',').find_map(|o| o.strip_prefix("pagesize="));
        let is_2m = match size {
            Some(s) => s == "2M" || s == "2048k" || s == "2048K",
            None => default_2m,
        };
        // /proc/mounts escapes spaces as \040; such paths are skipped.
        (is_2m && !f[1].contains('\\')).then(|| PathBuf::from(f[1]))
    })
}

/// The kernel page size backing the mapping that contains `addr`, from /proc/self/smaps.
fn kernel_page_size_kib(addr: usize) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut inside = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = first.split_once('-') {
            if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                inside = (lo..hi).contains(&addr);
                continue;
            }
        }
        if inside {
            if let Some(rest) = line.strip_prefix("KernelPageSize:") {
                return rest.split_whitespace().next()?.parse().ok();
            }
        }
    }
    None
}

fn cfg() -> Config {
    Config::new(1024)
        .mode(Mode::Mpmc)
        .initial_index(u32::MAX - 100)
}

/// Bytes the test ring needs.
fn ring_len() -> usize {
    cfg().region_len::<Completion>().unwrap() as usize
}

/// Formats `region` as an MPMC ring and moves a few thousand entries through it with two
/// producer and two consumer threads; every entry must arrive exactly once.
fn exercise(region: Region) {
    const PRODUCERS: u64 = 2;
    const PER: u64 = 5_000;
    let ring = Ring::<Completion>::create(region, cfg()).expect("format the region");
    let deadline = Instant::now() + Duration::from_secs(60);
    let received = AtomicU64::new(0);
    let seen: Vec<Vec<u64>> = thread::scope(|s| {
        for p in 0..PRODUCERS {
            let ring = &ring;
            s.spawn(move || {
                let mut tx = ring.producer().expect("producer");
                let batch: Vec<Completion> = (0..PER)
                    .map(|i| Completion::new(p << 32 | i, i as i32, p as u32))
                    .collect();
                let mut done = 0;
                while done < batch.len() {
                    let end = (done + 1 + done % 37).min(batch.len());
                    match tx.push_some(&batch[done..end]) {
                        Ok(0) => {
                            assert!(Instant::now() < deadline, "producer {p} stuck");
                            thread::yield_now();
                        }
                        Ok(n) => done += n,
                        Err(e) => panic!("push_some: {e}"),
                    }
                }
            });
        }
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let (ring, received) = (&ring, &received);
                s.spawn(move || {
                    let mut rx = ring.consumer().expect("consumer");
                    let mut got = Vec::new();
                    let mut buf = [Completion::default(); 32];
                    while received.load(Ordering::Relaxed) < PRODUCERS * PER {
                        let n = rx.pop_into(&mut buf).expect("pop_into");
                        if n == 0 {
                            assert!(Instant::now() < deadline, "consumer stuck");
                            thread::yield_now();
                            continue;
                        }
                        for c in &buf[..n] {
                            assert_eq!(c.result, (c.user_data & 0xffff_ffff) as i32);
                            assert_eq!(u64::from(c.flags), c.user_data >> 32);
                            got.push(c.user_data);
                        }
                        received.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    got
                })
            })
            .collect();
        consumers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<u64> = seen.into_iter().flatten().collect();
    all.sort_unstable();
    let expected: Vec<u64> = (0..PRODUCERS)
        .flat_map(|p| (0..PER).map(move |i| p << 32 | i))
        .collect();
    assert_eq!(all, expected, "every entry exactly once");
    assert_eq!(ring.consumer().unwrap().pop(), Err(PopError::Empty));
    let c = ring.counters();
    assert_eq!(c.tail, c.head);
}

fn assert_unavailable(r: Result<Region, RegionError>, size: HugePageSize, what: &str) {
    match r {
        Err(RegionError::HugePagesUnavailable { size: s, source }) => {
            assert_eq!(s, size, "{what}: page size in the error");
            let msg = RegionError::HugePagesUnavailable { size: s, source }.to_string();
            assert!(
                msg.contains(&format!("{} KiB", size.bytes() >> 10)),
                "{what}: message {msg:?}"
            );
        }
        Err(e) => panic!("{what}: expected HugePagesUnavailable, got {e:?}"),
        Ok(r) => panic!("{what}: expected HugePagesUnavailable, got a region {r:?}"),
    }
}

fn hugetlbfs_file(mount: &Path) -> PathBuf {
    mount.join(format!("ring-core-test-{}", std::process::id()))
}

#[test]
fn huge_pages_2m() {
    let free = free_2m_pages();
    let overcommit = overcommit_pages("hugepages-2048kB");
    let mount = hugetlbfs_2m_mount();
    eprintln!("2 MiB pages free: {free}, overcommit: {overcommit}, hugetlbfs mount: {mount:?}");
    let len = ring_len();
    assert!(len < TWO_MIB);

    if free >= 2 {
        // At most one page is in use at a time.
        let r = Region::anonymous_huge(len, HugePageSize::Size2M, false).expect("anonymous_huge");
        assert_eq!(r.len(), TWO_MIB, "length rounded up to the page size");
        assert_eq!(r.as_ptr() as usize % TWO_MIB, 0, "huge-page aligned");
        assert_eq!(kernel_page_size_kib(r.as_ptr() as usize), Some(2048));
        exercise(r);

        let r = Region::memfd_huge("ring-core-test-huge", len, HugePageSize::Size2M, false)
            .expect("memfd_huge");
        assert_eq!(r.len(), TWO_MIB);
        assert_eq!(kernel_page_size_kib(r.as_ptr() as usize), Some(2048));
        // A second mapping of the same huge-page memfd sees the same ring.
        let fd = r.fd().expect("fd").try_clone_to_owned().expect("dup");
        let ring = Ring::<Completion>::create(r, cfg()).expect("format");
        let other = Ring::<Completion>::attach(Region::from_fd(fd).expect("from_fd"))
            .expect("attach a second mapping");
        ring.producer()
            .unwrap()
            .push(Completion::new(7, 0, 0))
            .unwrap();
        assert_eq!(other.consumer().unwrap().pop().unwrap().user_data, 7);
        drop((ring, other));
        let r = Region::memfd_huge("ring-core-test-huge", len, HugePageSize::Size2M, false)
            .expect("memfd_huge");
        exercise(r);

        if let Some(mount) = &mount {
            let path = hugetlbfs_file(mount);
            let r = Region::hugetlbfs_create(&path, len, HugePageSize::Size2M)
                .expect("hugetlbfs_create");
            assert_eq!(r.len(), TWO_MIB);
            assert_eq!(r.path(), Some(path.as_path()));
            assert!(path.exists());
            assert_eq!(kernel_page_size_kib(r.as_ptr() as usize), Some(2048));
            exercise(r);
            assert!(!path.exists(), "the file is removed on drop");
        } else {
            eprintln!("no hugetlbfs mount with 2 MiB pages: hugetlbfs_create not exercised");
        }
    } else if free == 0 && overcommit == 0 {
        assert_unavailable(
            Region::anonymous_huge(len, HugePageSize::Size2M, false),
            HugePageSize::Size2M,
            "anonymous_huge",
        );
        assert_unavailable(
            Region::memfd_huge("ring-core-test-huge", len, HugePageSize::Size2M, false),
            HugePageSize::Size2M,
            "memfd_huge",
        );
        // With fallback, normal pages.
        let r = Region::anonymous_huge(len, HugePageSize::Size2M, true).expect("fallback");
        assert_eq!(r.len(), len);
        exercise(r);
        let r = Region::memfd_huge("ring-core-test-huge", len, HugePageSize::Size2M, true)
            .expect("fallback");
        assert_eq!(r.len(), len);
        exercise(r);
        if let Some(mount) = &mount {
            let path = hugetlbfs_file(mount);
            assert_unavailable(
                Region::hugetlbfs_create(&path, len, HugePageSize::Size2M),
                HugePageSize::Size2M,
                "hugetlbfs_create",
            );
            assert!(!path.exists(), "no file left behind after a failed create");
        }
    } else {
        eprintln!(
            "{free} free 2 MiB page(s) with overcommit {overcommit}: neither path is conclusive, skipped"
        );
    }
}

#[test]
fn huge_pages_1g_unavailable_is_typed() {
    let dir = "hugepages-1048576kB";
    let free = read_number(&format!("/sys/kernel/mm/hugepages/{dir}/free_hugepages"));
    let overcommit = overcommit_pages(dir);
    eprintln!("1 GiB pages free: {free:?}, overcommit: {overcommit}");
    let len = ring_len();
    if free.unwrap_or(0) == 0 && overcommit == 0 {
        assert_unavailable(
            Region::anonymous_huge(len, HugePageSize::Size1G, false),
            HugePageSize::Size1G,
            "anonymous_huge 1G",
        );
        assert_unavailable(
            Region::memfd_huge("ring-core-test-1g", len, HugePageSize::Size1G, false),
            HugePageSize::Size1G,
            "memfd_huge 1G",
        );
        // The error carries the OS error as its source.
        let e = Region::anonymous_huge(len, HugePageSize::Size1G, false).unwrap_err();
        assert!(std::error::Error::source(&e).is_some());
        // With fallback, normal pages of the requested length.
        let r = Region::anonymous_huge(len, HugePageSize::Size1G, true).expect("fallback");
        assert_eq!(r.len(), len);
        exercise(r);
        let r = Region::memfd_huge("ring-core-test-1g", len, HugePageSize::Size1G, true)
            .expect("fallback");
        assert_eq!(r.len(), len);
        exercise(r);
    } else {
        // 1 GiB pages are reserved here: a ring on one works.
        let r = Region::anonymous_huge(len, HugePageSize::Size1G, false).expect("1 GiB page");
        assert_eq!(r.len(), 1 << 30);
        exercise(r);
    }
}
