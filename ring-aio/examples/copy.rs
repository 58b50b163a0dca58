//! File copy with a queue depth: preads and pwrites of fixed-size blocks through the pool,
//! up to `--depth` blocks in flight, then fdatasync (which waits for every write) and close.
//!
//! ```text
//! cargo run --release -p ring-aio --example copy -- SRC DST [--depth N] [--block BYTES]
//! ```

use ring_aio::{Op, Output, Pool, PoolConfig, Submission, SubmissionId, Target};
use ring_core::{Completion, Config, Mode, Ring};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

enum Step {
    Read { offset: u64 },
    Write { offset: u64, len: usize },
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut paths = Vec::new();
    let mut depth = 16usize;
    let mut block = 128 * 1024usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--depth" => depth = args.next().and_then(|v| v.parse().ok()).expect("N"),
            "--block" => block = args.next().and_then(|v| v.parse().ok()).expect("BYTES"),
            _ => paths.push(a),
        }
    }
    let [src, dst] = <[String; 2]>::try_from(paths).unwrap_or_else(|_| {
        eprintln!("usage: copy SRC DST [--depth N] [--block BYTES]");
        std::process::exit(2)
    });
    let input = std::fs::File::open(&src).expect("open SRC");
    let size = input.metadata().expect("stat SRC").len();
    let output = std::fs::File::create(&dst).expect("create DST");
    output.set_len(size).expect("size DST");
    let (ifd, ofd) = (input.as_raw_fd(), output.as_raw_fd());

    let ring = Ring::<Completion>::create_heap(
        Config::new((2 * depth as u32).next_power_of_two()).mode(Mode::Mpsc),
    )
    .expect("completion ring");
    let target = Target::new(&ring).expect("target");
    let pool = Pool::new(PoolConfig::new().max_workers(depth.min(64))).expect("pool");
    let mut rx = ring.consumer().expect("consumer");

    let start = Instant::now();
    let mut steps: HashMap<u64, Step> = HashMap::new();
    let mut next_offset = 0u64;
    let mut written = 0u64;
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let submit = |op: Op| -> SubmissionId {
        pool.submit(Submission::new(op, &target))
            .unwrap_or_else(|r| panic!("{r}"))
    };
    let mut done = vec![Completion::default(); 64];
    while written < size {
        // Fill the queue with reads of the blocks not yet started.
        while steps.len() < depth && next_offset < size {
            let len = block.min((size - next_offset) as usize);
            let mut buf = spare.pop().unwrap_or_default();
            buf.resize(len, 0);
            let id = submit(Op::pread(ifd, buf, next_offset));
            steps.insert(
                id.get(),
                Step::Read {
                    offset: next_offset,
                },
            );
            next_offset += len as u64;
        }
        let n = rx
            .reap(&mut done, 1, Some(Duration::from_secs(60)))
            .expect("reap");
        assert!(n > 0, "no completion within 60 s");
        for c in &done[..n] {
            let id = SubmissionId(c.user_data);
            let step = steps.remove(&c.user_data).expect("known submission");
            let Some(Output::Buffer(buf)) = pool.take_output(id) else {
                panic!("no buffer handed back for {c:?}");
            };
            assert!(c.result >= 0, "I/O error {} ({c:?})", c.result);
            match step {
                Step::Read { offset } => {
                    // A short read (not at end of file) is finished by another read.
                    let got = c.result as usize;
                    assert!(got > 0, "unexpected end of {src} at {offset}");
                    let id = submit(Op::pwrite(ofd, buf, offset));
                    steps.insert(id.get(), Step::Write { offset, len: got });
                    let want = block.min((size - offset) as usize);
                    if got < want {
                        let rest = offset + got as u64;
                        let id = submit(Op::pread(ifd, vec![0; want - got], rest));
                        steps.insert(id.get(), Step::Read { offset: rest });
                    }
                }
                Step::Write { offset, len } => {
                    let put = c.result as usize;
                    if put < len {
                        let rest = buf[put..].to_vec();
                        let id = submit(Op::pwrite(ofd, rest, offset + put as u64));
                        steps.insert(
                            id.get(),
                            Step::Write {
                                offset: offset + put as u64,
                                len: len - put,
                            },
                        );
                    }
                    written += put as u64;
                    spare.push(buf);
                }
            }
        }
    }
    // fdatasync runs after every earlier write on the descriptor; close after that.
    submit(Op::fdatasync(ofd));
    submit(Op::close(OwnedFd::from(output)));
    let mut tail = [Completion::default(); 2];
    let n = rx
        .reap(&mut tail, 2, Some(Duration::from_secs(60)))
        .expect("reap");
    assert_eq!(n, 2, "fdatasync and close did not complete");
    for c in &tail {
        assert_eq!(c.result, 0, "fdatasync/close failed: {c:?}");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "copied {size} bytes from {src} to {dst} in {:.1} ms ({:.0} MiB/s), {depth} blocks of {block} bytes in flight",
        secs * 1e3,
        size as f64 / secs / (1 << 20) as f64
    );
}
