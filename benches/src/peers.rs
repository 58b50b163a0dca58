//! One interface over ours and every in-process peer, so that each workload is written once and
//! runs the same code around each queue.
//!
//! Every implementation is the peer's non-blocking API (`try_*`, `push`/`pop`), used the way its
//! documentation shows; waiting is the workload's business (see [`crate::threads::Backoff`]).
//! Entries are [`Item`]s: 16 bytes ([`ring_core::Completion`]).

use crate::floor::{FloorRx, FloorTx};
use ring_core::{Consumer, Producer, SpscConsumer, SpscProducer};

/// The entry every benchmark moves: 16 bytes (cookie, result, flags).
pub type Item = ring_core::Completion;

/// The largest batch the batch adapters accept.
pub const MAX_BATCH: usize = 256;

/// The `i`-th entry of a stream.
#[inline(always)]
pub fn item(i: u64) -> Item {
    Item::new(i, 0, 0)
}

/// Sending side of a queue.
pub trait Tx {
    /// Pushes `v`, or hands it back when the queue is full.
    fn push(&mut self, v: Item) -> Result<(), Item>;
}

/// Receiving side of a queue.
pub trait Rx {
    /// Pops one entry, if any.
    fn pop(&mut self) -> Option<Item>;
}

/// Sending side with a batch API.
pub trait BatchTx {
    /// Pushes exactly `n` (at most [`MAX_BATCH`]) entries made by `f(i)`, or nothing (false)
    /// when fewer than `n` slots are free.
    fn push_batch(&mut self, n: usize, f: impl FnMut(usize) -> Item) -> bool;
}

/// Receiving side with a batch API.
pub trait BatchRx {
    /// Hands up to `max` (at most [`MAX_BATCH`]) available entries to `f`, in order; returns
    /// how many.
    fn pop_batch(&mut self, max: usize, f: impl FnMut(&Item)) -> usize;
}

// --- ours -----------------------------------------------------------------------------------

impl Tx for Producer<Item> {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        Producer::push(self, v).map_err(|e| e.into_inner())
    }
}

impl Tx for SpscProducer<Item> {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        SpscProducer::push(self, v).map_err(|e| e.into_inner())
    }
}

impl Rx for SpscConsumer<Item> {
    #[inline(always)]
    fn pop(&mut self) -> Option<Item> {
        SpscConsumer::pop(self).ok()
    }
}

impl Rx for Consumer<Item> {
    #[inline(always)]
    fn pop(&mut self) -> Option<Item> {
        Consumer::pop(self).ok()
    }
}

/// Ours through the copying batch API: [`Producer::push_all`] and [`Consumer::pop_into`],
/// from and into a buffer the adapter keeps.
pub struct OursCopy<H>(pub H, Vec<Item>);

impl<H> OursCopy<H> {
    /// Wraps a handle.
    pub fn new(h: H) -> Self {
        OursCopy(h, vec![Item::default(); MAX_BATCH])
    }
}

/// Ours through the zero-copy batch API: [`Producer::reserve_exact`] + `commit`, and
/// [`Consumer::view`].
pub struct OursZeroCopy<H>(pub H);

impl BatchTx for OursCopy<Producer<Item>> {
    #[inline(always)]
    fn push_batch(&mut self, n: usize, mut f: impl FnMut(usize) -> Item) -> bool {
        for (i, slot) in self.1[..n].iter_mut().enumerate() {
            *slot = f(i);
        }
        self.0.push_all(&self.1[..n]).is_ok()
    }
}

impl BatchRx for OursCopy<Consumer<Item>> {
    #[inline(always)]
    fn pop_batch(&mut self, max: usize, mut f: impl FnMut(&Item)) -> usize {
        let n = self.0.pop_into(&mut self.1[..max]).unwrap_or(0);
        self.1[..n].iter().for_each(&mut f);
        n
    }
}

impl BatchTx for OursZeroCopy<Producer<Item>> {
    #[inline(always)]
    fn push_batch(&mut self, n: usize, mut f: impl FnMut(usize) -> Item) -> bool {
        match self.0.reserve_exact(n) {
            Ok(mut chunk) => {
                chunk.fill_from((0..n).map(&mut f));
                chunk.commit();
                true
            }
            Err(_) => false,
        }
    }
}

impl BatchRx for OursZeroCopy<Consumer<Item>> {
    #[inline(always)]
    fn pop_batch(&mut self, max: usize, mut f: impl FnMut(&Item)) -> usize {
        match self.0.view(max) {
            Ok(view) => {
                let mut n = 0;
                view.iter().for_each(|v| {
                    f(&v);
                    n += 1;
                });
                n
            }
            Err(_) => 0,
        }
    }
}

impl BatchTx for OursZeroCopy<SpscProducer<Item>> {
    #[inline(always)]
    fn push_batch(&mut self, n: usize, mut f: impl FnMut(usize) -> Item) -> bool {
        match self.0.reserve_exact(n) {
            Ok(mut chunk) => {
                chunk.fill_from((0..n).map(&mut f));
                chunk.commit();
                true
            }
            Err(_) => false,
        }
    }
}

impl BatchRx for OursZeroCopy<SpscConsumer<Item>> {
    #[inline(always)]
    fn pop_batch(&mut self, max: usize, mut f: impl FnMut(&Item)) -> usize {
        match self.0.view(max) {
            Ok(view) => {
                view.iter().for_each(|v| f(&v));
                view.len()
            }
            Err(_) => 0,
        }
    }
}

// --- the floor ------------------------------------------------------------------------------

impl<const C: bool> Tx for FloorTx<Item, C> {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        FloorTx::push(self, v)
    }
}

impl<const C: bool> Rx for FloorRx<Item, C> {
    #[inline(always)]
    fn pop(&mut self) -> Option<Item> {
        FloorRx::pop(self)
    }
}

impl<const C: bool> BatchTx for FloorTx<Item, C> {
    #[inline(always)]
    fn push_batch(&mut self, n: usize, f: impl FnMut(usize) -> Item) -> bool {
        FloorTx::push_batch(self, n, f)
    }
}

impl<const C: bool> BatchRx for FloorRx<Item, C> {
    #[inline(always)]
    fn pop_batch(&mut self, max: usize, f: impl FnMut(&Item)) -> usize {
        FloorRx::pop_batch(self, max, f)
    }
}

// --- rtrb -----------------------------------------------------------------------------------

impl Tx for rtrb::Producer<Item> {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        rtrb::Producer::push(self, v).map_err(|rtrb::PushError::Full(v)| v)
    }
}

impl Rx for rtrb::Consumer<Item> {
    #[inline(always)]
    fn pop(&mut self) -> Option<Item> {
        rtrb::Consumer::pop(self).ok()
    }
}

/// rtrb through its chunk API: `write_chunk_uninit` + `fill_from_iter`, and `read_chunk`.
impl BatchTx for rtrb::Producer<Item> {
    #[inline(always)]
    fn push_batch(&mut self, n: usize, mut f: impl FnMut(usize) -> Item) -> bool {
        match self.write_chunk_uninit(n) {
            Ok(chunk) => {
                chunk.fill_from_iter((0..n).map(&mut f));
                true
            }
            Err(_) => false,
        }
    }
}

impl BatchRx for rtrb::Consumer<Item> {
    #[inline(always)]
    fn pop_batch(&mut self, max: usize, mut f: impl FnMut(&Item)) -> usize {
        let n = self.slots().min(max);
        if n == 0 {
            return 0;
        }
        match self.read_chunk(n) {
            Ok(chunk) => {
                let (a, b) = chunk.as_slices();
                a.iter().chain(b).for_each(&mut f);
                chunk.commit_all();
                n
            }
            Err(_) => 0,
        }
    }
}

// --- crossbeam ------------------------------------------------------------------------------

impl Tx for &crossbeam_queue::ArrayQueue<Item> {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        crossbeam_queue::ArrayQueue::push(self, v)
    }
}

impl Rx for &crossbeam_queue::ArrayQueue<Item> {
    #[inline(always)]
    fn pop(&mut self) -> Option<Item> {
        crossbeam_queue::ArrayQueue::pop(self)
    }
}

impl Tx for crossbeam_channel::Sender<Item> {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        self.try_send(v).map_err(|e| e.into_inner())
    }
}

impl Rx for crossbeam_channel::Receiver<Item> {
    #[inline(always)]
    fn pop(&mut self) -> Option<Item> {
        self.try_recv().ok()
    }
}

// --- std --------------------------------------------------------------------------------------

impl Tx for std::sync::mpsc::SyncSender<Item> {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        self.try_send(v).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(v)
            | std::sync::mpsc::TrySendError::Disconnected(v) => v,
        })
    }
}

impl Rx for std::sync::mpsc::Receiver<Item> {
    #[inline(always)]
    fn pop(&mut self) -> Option<Item> {
        self.try_recv().ok()
    }
}

// --- ringbuf --------------------------------------------------------------------------------

/// ringbuf's producer half of a heap ring.
pub type RingbufTx = ringbuf::HeapProd<Item>;
/// ringbuf's consumer half of a heap ring.
pub type RingbufRx = ringbuf::HeapCons<Item>;

impl Tx for RingbufTx {
    #[inline(always)]
    fn push(&mut self, v: Item) -> Result<(), Item> {
        ringbuf::traits::Producer::try_push(self, v)
    }
}

impl Rx for RingbufRx {
    #[inline(always)]
    fn pop(&mut self) -> Option<Item> {
        ringbuf::traits::Consumer::try_pop(self)
    }
}

/// ringbuf through its slice API: `push_slice` and `pop_slice`, from and into a buffer the
/// adapter keeps.
pub struct RingbufSlices<H>(pub H, Vec<Item>);

impl<H> RingbufSlices<H> {
    /// Wraps a handle.
    pub fn new(h: H) -> Self {
        RingbufSlices(h, vec![Item::default(); MAX_BATCH])
    }
}

impl BatchTx for RingbufSlices<RingbufTx> {
    #[inline(always)]
    fn push_batch(&mut self, n: usize, mut f: impl FnMut(usize) -> Item) -> bool {
        use ringbuf::traits::{Observer, Producer};
        if self.0.vacant_len() < n {
            return false;
        }
        for (i, slot) in self.1[..n].iter_mut().enumerate() {
            *slot = f(i);
        }
        self.0.push_slice(&self.1[..n]) == n
    }
}

impl BatchRx for RingbufSlices<RingbufRx> {
    #[inline(always)]
    fn pop_batch(&mut self, max: usize, mut f: impl FnMut(&Item)) -> usize {
        use ringbuf::traits::Consumer;
        let n = self.0.pop_slice(&mut self.1[..max]);
        self.1[..n].iter().for_each(&mut f);
        n
    }
}

/// A new ringbuf heap ring of `cap` entries, split.
pub fn ringbuf_pair(cap: usize) -> (RingbufTx, RingbufRx) {
    use ringbuf::traits::Split;
    ringbuf::HeapRb::<Item>::new(cap).split()
}
