//! The contenders of each in-process benchmark, set up the same way (capacity [`CAP`], 16-byte
//! [`Item`]s) and run through the generic runners of [`crate::threads`].

use crate::floor::HeapFloor;
use crate::peers::{ringbuf_pair, Item, OursCopy, OursZeroCopy, RingbufSlices};
use crate::threads;
use ring_core::{Config, Mode, Ring};
use std::sync::Mutex;
use std::time::Duration;

/// Capacity of every queue.
pub const CAP: u32 = 4096;

/// A heap ring of ours: capacity [`CAP`], the given mode, with or without the wait block.
pub fn ours_ring(mode: Mode, wait: bool) -> Ring<Item> {
    Ring::create_heap(Config::new(CAP).mode(mode).wait(wait)).expect("heap ring")
}

/// SPSC contenders (single entries and batches).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Spsc {
    /// ring-core, SPSC mode, no wait block (busy-polling).
    Ours,
    /// ring-core, SPSC mode, with the wait block (one SeqCst fence per publication).
    OursWaitBlock,
    /// ring-core, SPSC mode, no wait block, through `SpscProducer` and `SpscConsumer` (no
    /// dispatch).
    OursSpscProducer,
    /// ring-core's zero-copy batch API (`reserve_exact`/`view`); batches only.
    OursZeroCopy,
    /// The hand-written floor ring (cached indices).
    Floor,
    /// The floor ring re-reading the peer index on every operation.
    FloorUncached,
    /// rtrb (its chunk API for batches).
    Rtrb,
    /// crossbeam-queue `ArrayQueue`.
    ArrayQueue,
    /// crossbeam-channel `bounded`.
    Channel,
    /// The ringbuf crate (its slice API for batches).
    Ringbuf,
    /// `std::sync::mpsc::sync_channel`.
    Std,
}

impl Spsc {
    /// Contenders of the single-entry benchmark, ours first.
    pub const SINGLE: [Spsc; 10] = [
        Spsc::Ours,
        Spsc::OursWaitBlock,
        Spsc::OursSpscProducer,
        Spsc::Rtrb,
        Spsc::ArrayQueue,
        Spsc::Channel,
        Spsc::Ringbuf,
        Spsc::Std,
        Spsc::Floor,
        Spsc::FloorUncached,
    ];
    /// Contenders of the batch benchmark, ours first.
    pub const BATCH: [Spsc; 6] = [
        Spsc::Ours,
        Spsc::OursZeroCopy,
        Spsc::OursSpscProducer,
        Spsc::Rtrb,
        Spsc::Ringbuf,
        Spsc::Floor,
    ];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Spsc::Ours => "ours",
            Spsc::OursWaitBlock => "ours (wait block)",
            Spsc::OursSpscProducer => "ours (SpscProducer/SpscConsumer)",
            Spsc::OursZeroCopy => "ours (zero-copy)",
            Spsc::Floor => "floor ring",
            Spsc::FloorUncached => "floor ring, uncached indices",
            Spsc::Rtrb => "rtrb",
            Spsc::ArrayQueue => "crossbeam ArrayQueue",
            Spsc::Channel => "crossbeam-channel bounded",
            Spsc::Ringbuf => "ringbuf",
            Spsc::Std => "std sync_channel",
        }
    }

    /// Moves `n` entries one at a time between two threads.
    pub fn single(self, n: u64) -> Duration {
        let cap = CAP as usize;
        match self {
            Spsc::Ours | Spsc::OursWaitBlock | Spsc::OursZeroCopy => {
                let ring = ours_ring(Mode::Spsc, self == Spsc::OursWaitBlock);
                threads::spsc(n, || ring.producer().unwrap(), || ring.consumer().unwrap())
            }
            Spsc::OursSpscProducer => {
                let ring = ours_ring(Mode::Spsc, false);
                let tx = || ring.producer().unwrap().into_spsc().unwrap();
                let rx = || ring.consumer().unwrap().into_spsc().unwrap();
                threads::spsc(n, tx, rx)
            }
            Spsc::Floor => {
                let f = HeapFloor::<Item>::new(CAP);
                let (tx, rx) = f.split::<true>();
                threads::spsc(n, move || tx, move || rx)
            }
            Spsc::FloorUncached => {
                let f = HeapFloor::<Item>::new(CAP);
                let (tx, rx) = f.split::<false>();
                threads::spsc(n, move || tx, move || rx)
            }
            Spsc::Rtrb => {
                let (tx, rx) = rtrb::RingBuffer::new(cap);
                threads::spsc(n, move || tx, move || rx)
            }
            Spsc::ArrayQueue => {
                let q = crossbeam_queue::ArrayQueue::new(cap);
                threads::spsc(n, || &q, || &q)
            }
            Spsc::Channel => {
                let (tx, rx) = crossbeam_channel::bounded(cap);
                threads::spsc(n, move || tx, move || rx)
            }
            Spsc::Ringbuf => {
                let (tx, rx) = ringbuf_pair(cap);
                threads::spsc(n, move || tx, move || rx)
            }
            Spsc::Std => {
                let (tx, rx) = std::sync::mpsc::sync_channel(cap);
                threads::spsc(n, move || tx, move || rx)
            }
        }
    }

    /// Moves `n` entries between two threads in batches of `batch`. `None` for contenders
    /// without a batch API.
    pub fn batch(self, n: u64, batch: usize) -> Option<Duration> {
        Some(match self {
            Spsc::Ours | Spsc::OursWaitBlock => {
                let ring = ours_ring(Mode::Spsc, self == Spsc::OursWaitBlock);
                threads::spsc_batch(
                    n,
                    batch,
                    || OursCopy::new(ring.producer().unwrap()),
                    || OursCopy::new(ring.consumer().unwrap()),
                )
            }
            Spsc::OursZeroCopy => {
                let ring = ours_ring(Mode::Spsc, false);
                threads::spsc_batch(
                    n,
                    batch,
                    || OursZeroCopy(ring.producer().unwrap()),
                    || OursZeroCopy(ring.consumer().unwrap()),
                )
            }
            Spsc::OursSpscProducer => {
                // Their zero-copy chunks and views (`reserve_exact`, `view`).
                let ring = ours_ring(Mode::Spsc, false);
                threads::spsc_batch(
                    n,
                    batch,
                    || OursZeroCopy(ring.producer().unwrap().into_spsc().unwrap()),
                    || OursZeroCopy(ring.consumer().unwrap().into_spsc().unwrap()),
                )
            }
            Spsc::Floor => {
                let f = HeapFloor::<Item>::new(CAP);
                let (tx, rx) = f.split::<true>();
                threads::spsc_batch(n, batch, move || tx, move || rx)
            }
            Spsc::FloorUncached => {
                let f = HeapFloor::<Item>::new(CAP);
                let (tx, rx) = f.split::<false>();
                threads::spsc_batch(n, batch, move || tx, move || rx)
            }
            Spsc::Rtrb => {
                let (tx, rx) = rtrb::RingBuffer::new(CAP as usize);
                threads::spsc_batch(n, batch, move || tx, move || rx)
            }
            Spsc::Ringbuf => {
                let (tx, rx) = ringbuf_pair(CAP as usize);
                threads::spsc_batch(
                    n,
                    batch,
                    move || RingbufSlices::new(tx),
                    move || RingbufSlices::new(rx),
                )
            }
            Spsc::ArrayQueue | Spsc::Channel | Spsc::Std => return None,
        })
    }
}

/// Contenders with several producers (and consumers).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Many {
    /// ring-core in MPSC mode (one consumer) or MPMC mode (several), no wait block.
    Ours,
    /// crossbeam-queue `ArrayQueue`.
    ArrayQueue,
    /// crossbeam-channel `bounded`.
    Channel,
    /// `std::sync::mpsc::sync_channel` (one consumer only).
    Std,
}

impl Many {
    /// Contenders of the MPSC benchmark, ours first.
    pub const MPSC: [Many; 4] = [Many::Ours, Many::ArrayQueue, Many::Channel, Many::Std];
    /// Contenders of the MPMC benchmark, ours first.
    pub const MPMC: [Many; 3] = [Many::Ours, Many::ArrayQueue, Many::Channel];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Many::Ours => "ours",
            Many::ArrayQueue => "crossbeam ArrayQueue",
            Many::Channel => "crossbeam-channel bounded",
            Many::Std => "std sync_channel",
        }
    }

    /// `producers` threads push `per_producer` entries each; `consumers` threads pop them all.
    /// `None` when the contender cannot have that many consumers.
    pub fn run(self, producers: usize, consumers: usize, per_producer: u64) -> Option<Duration> {
        let cap = CAP as usize;
        Some(match self {
            Many::Ours => {
                let mode = if consumers > 1 {
                    Mode::Mpmc
                } else {
                    Mode::Mpsc
                };
                let ring = ours_ring(mode, false);
                threads::many(
                    producers,
                    consumers,
                    per_producer,
                    &|| ring.producer().unwrap(),
                    &|| ring.consumer().unwrap(),
                )
            }
            Many::ArrayQueue => {
                let q = crossbeam_queue::ArrayQueue::new(cap);
                threads::many(producers, consumers, per_producer, &|| &q, &|| &q)
            }
            Many::Channel => {
                let (tx, rx) = crossbeam_channel::bounded(cap);
                threads::many(producers, consumers, per_producer, &|| tx.clone(), &|| {
                    rx.clone()
                })
            }
            Many::Std if consumers == 1 => {
                let (tx, rx) = std::sync::mpsc::sync_channel(cap);
                let rx = Mutex::new(Some(rx));
                threads::many(producers, 1, per_producer, &|| tx.clone(), &|| {
                    rx.lock().unwrap().take().expect("one consumer")
                })
            }
            Many::Std => return None,
        })
    }
}

/// Round-trip contenders between threads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PingPong {
    /// ring-core, two SPSC rings without the wait block.
    Ours,
    /// Two floor rings.
    Floor,
    /// Two floor rings re-reading the peer index on every operation.
    FloorUncached,
    /// rtrb.
    Rtrb,
    /// crossbeam-queue `ArrayQueue`.
    ArrayQueue,
    /// crossbeam-channel `bounded`.
    Channel,
    /// ringbuf.
    Ringbuf,
    /// `std::sync::mpsc::sync_channel`.
    Std,
}

impl PingPong {
    /// Every contender, ours first.
    pub const ALL: [PingPong; 8] = [
        PingPong::Ours,
        PingPong::Floor,
        PingPong::FloorUncached,
        PingPong::Rtrb,
        PingPong::ArrayQueue,
        PingPong::Channel,
        PingPong::Ringbuf,
        PingPong::Std,
    ];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            PingPong::Ours => "ours",
            PingPong::Floor => "floor ring",
            PingPong::FloorUncached => "floor ring, uncached indices",
            PingPong::Rtrb => "rtrb",
            PingPong::ArrayQueue => "crossbeam ArrayQueue",
            PingPong::Channel => "crossbeam-channel bounded",
            PingPong::Ringbuf => "ringbuf",
            PingPong::Std => "std sync_channel",
        }
    }

    /// `rounds` measured round trips (after `warmup`); nanoseconds each.
    pub fn run(self, rounds: usize, warmup: usize) -> Vec<f64> {
        let cap = CAP as usize;
        match self {
            PingPong::Ours => {
                let (ping, pong) = (ours_ring(Mode::Spsc, false), ours_ring(Mode::Spsc, false));
                threads::pingpong(
                    rounds,
                    warmup,
                    || (ping.producer().unwrap(), pong.consumer().unwrap()),
                    || (ping.consumer().unwrap(), pong.producer().unwrap()),
                )
            }
            PingPong::Floor => {
                let (ping, pong) = (HeapFloor::<Item>::new(CAP), HeapFloor::<Item>::new(CAP));
                let ((a_tx, b_rx), (b_tx, a_rx)) = (ping.split::<true>(), pong.split::<true>());
                threads::pingpong(rounds, warmup, move || (a_tx, a_rx), move || (b_rx, b_tx))
            }
            PingPong::FloorUncached => {
                let (ping, pong) = (HeapFloor::<Item>::new(CAP), HeapFloor::<Item>::new(CAP));
                let ((a_tx, b_rx), (b_tx, a_rx)) = (ping.split::<false>(), pong.split::<false>());
                threads::pingpong(rounds, warmup, move || (a_tx, a_rx), move || (b_rx, b_tx))
            }
            PingPong::Rtrb => {
                let ((a_tx, b_rx), (b_tx, a_rx)) =
                    (rtrb::RingBuffer::new(cap), rtrb::RingBuffer::new(cap));
                threads::pingpong(rounds, warmup, move || (a_tx, a_rx), move || (b_rx, b_tx))
            }
            PingPong::ArrayQueue => {
                let (ping, pong) = (
                    crossbeam_queue::ArrayQueue::new(cap),
                    crossbeam_queue::ArrayQueue::new(cap),
                );
                threads::pingpong(rounds, warmup, || (&ping, &pong), || (&ping, &pong))
            }
            PingPong::Channel => {
                let ((a_tx, b_rx), (b_tx, a_rx)) = (
                    crossbeam_channel::bounded(cap),
                    crossbeam_channel::bounded(cap),
                );
                threads::pingpong(rounds, warmup, move || (a_tx, a_rx), move || (b_rx, b_tx))
            }
            PingPong::Ringbuf => {
                let ((a_tx, b_rx), (b_tx, a_rx)) = (ringbuf_pair(cap), ringbuf_pair(cap));
                threads::pingpong(rounds, warmup, move || (a_tx, a_rx), move || (b_rx, b_tx))
            }
            PingPong::Std => {
                let ((a_tx, b_rx), (b_tx, a_rx)) = (
                    std::sync::mpsc::sync_channel(cap),
                    std::sync::mpsc::sync_channel(cap),
                );
                threads::pingpong(rounds, warmup, move || (a_tx, a_rx), move || (b_rx, b_tx))
            }
        }
    }
}
