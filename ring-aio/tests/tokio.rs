//! The tokio front end: completions (and completion records) awaited on the ring's eventfd,
//! bounded by a timeout.

use ring_aio::{AsyncReaper, AsyncRecordReaper, Op, Pool, PoolConfig, Submission, Target};
use ring_core::record::attrs::Known;
use ring_core::record::{RecordConfig, RecordRing};
use ring_core::{Completion, Config, Mode, Ring};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::Duration;

#[test]
fn reap_await_wakes_on_completions() {
    let ring =
        Ring::<Completion>::create_heap(Config::new(64).mode(Mode::Mpsc).overflow(256)).unwrap();
    let target = Target::new(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(4)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_io()
        .enable_time()
        .build()
        .unwrap();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    rt.block_on(async {
        let mut reaper = AsyncReaper::new(&ring).unwrap();
        // A read that completes only when the other side writes: the await must sleep and be
        // woken through the eventfd.
        pool.submit(Submission::new(Op::read(a.as_raw_fd(), vec![0; 5]), &target).cookie(1))
            .unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            (&b).write_all(b"hello").unwrap();
            b
        });
        let mut out = [Completion::default(); 4];
        let n = tokio::time::timeout(Duration::from_secs(20), reaper.reap(&mut out, 1))
            .await
            .expect("no completion within 20 s")
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!((out[0].user_data, out[0].result), (1, 5));
        let _b = writer.join().unwrap();

        // A burst larger than the ring (spilling into the overflow area), awaited in pieces.
        let total = 300u64;
        for i in 0..total {
            pool.submit(Submission::new(Op::nop(), &target).cookie(100 + i))
                .unwrap();
        }
        let mut seen = vec![false; total as usize];
        let mut got = 0u64;
        let mut buf = [Completion::default(); 32];
        while got < total {
            let n = tokio::time::timeout(Duration::from_secs(20), reaper.reap(&mut buf, 1))
                .await
                .expect("burst stalled")
                .unwrap();
            for c in &buf[..n] {
                let i = (c.user_data - 100) as usize;
                assert!(!std::mem::replace(&mut seen[i], true), "duplicate {c:?}");
            }
            got += n as u64;
        }
    });
}

/// The record-ring front end: a completion record with attributes awaited while its read
/// blocks (woken through the eventfd), then a burst of 20x what the ring holds, where workers
/// wait for room that only the awaiting consumer makes: each record once.
#[test]
fn record_reap_await_wakes_and_drains_a_burst() {
    // 2048 bytes: about 25 completion records with their attributes.
    let ring = RecordRing::create_heap(RecordConfig::new(2048).mode(Mode::Mpsc)).unwrap();
    let target = Target::records(&ring).unwrap();
    let pool = Pool::new(PoolConfig::new().max_workers(4)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_io()
        .enable_time()
        .build()
        .unwrap();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    rt.block_on(async {
        let mut reaper = AsyncRecordReaper::new(&ring).unwrap();
        pool.submit(Submission::new(Op::read(a.as_raw_fd(), vec![0; 5]), &target).cookie(1))
            .unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            (&b).write_all(b"hello").unwrap();
            b
        });
        let mut first = Vec::new();
        let n = tokio::time::timeout(
            Duration::from_secs(20),
            reaper.reap(1, 8, |r| {
                let (c, attrs) = r.completion().expect("a completion record");
                let known: Vec<Known> = attrs.known().collect::<Result<_, _>>().unwrap();
                first.push((c.user_data, c.result, known));
            }),
        )
        .await
        .expect("no record within 20 s")
        .unwrap();
        assert_eq!(n, 1);
        let (cookie, result, known) = &first[0];
        assert_eq!((*cookie, *result), (1, 5));
        assert!(known.contains(&Known::BytesTransferred(5)), "{known:?}");
        let _b = writer.join().unwrap();

        let total = 500u64;
        let submitter = {
            let pool_target = target.clone();
            let pool = std::sync::Arc::new(pool);
            let p = pool.clone();
            let t = std::thread::spawn(move || {
                for i in 0..total {
                    p.submit(Submission::new(Op::nop(), &pool_target).cookie(100 + i))
                        .unwrap();
                }
            });
            (t, pool)
        };
        let mut seen = vec![false; total as usize];
        let mut got = 0u64;
        while got < total {
            let n = tokio::time::timeout(
                Duration::from_secs(20),
                reaper.reap(1, 16, |r| {
                    let (c, _) = r.completion().expect("a completion record");
                    let i = (c.user_data - 100) as usize;
                    assert!(!std::mem::replace(&mut seen[i], true), "duplicate {c:?}");
                    assert_eq!(c.result, 0);
                }),
            )
            .await
            .expect("burst stalled")
            .unwrap();
            got += n as u64;
        }
        submitter.0.join().unwrap();
        assert!(seen.iter().all(|&s| s));
        assert!(submitter.1.drain(Some(Duration::from_secs(20))));
        assert_eq!(submitter.1.stats().completed, total + 1);
    });
}
