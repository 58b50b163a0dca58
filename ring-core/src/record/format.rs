//! Formatting and attaching a record region (spec/RECORDS.md, sections 3.1 and 3.2).

use super::errors::RecordLayoutError;
use super::layout::*;
use crate::error::LayoutError;
use crate::format::{
    check_base, clear_consumer_line, clear_overflow_line, clear_producer_records, clear_wait_line,
    RawRegion,
};
use crate::layout::{
    features, Block, ConsumerLine, OverflowLine, WaitLine, BLOCK_COUNT, CONSUMER_OFFSET,
    HEADER_LEN, LINE_LEN, MAGIC, PRODUCER_OFFSET, SLOTS_OFFSET, VERSION_MAJOR, VERSION_MINOR,
};
use crate::protocol::Mode;
use crate::sync::{fence, Ordering};

/// How to lay out a new record ring.
///
/// # Examples
///
/// ```
/// use ring_core::record::RecordConfig;
/// use ring_core::Mode;
///
/// let cfg = RecordConfig::new(4096).mode(Mode::Mpsc).initial_position(u32::MAX - 63);
/// // Header and lines, the data area, the wait block, 64 producer records and their line.
/// assert_eq!(cfg.region_len().unwrap(), 512 + 4096 + 128 + 128 * 65);
/// // With an overflow area: its line and its bytes after the data area.
/// assert_eq!(cfg.overflow(1024).region_len().unwrap(), 512 + 4096 + 128 + 1024 + 128 + 128 * 65);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RecordConfig {
    /// Bytes of the data area: a power of two in `32..=2^31`.
    pub capacity: u32,
    /// SPSC or MPSC.
    pub mode: Mode,
    /// The byte position both positions start at (a multiple of 8).
    pub initial_position: u32,
    /// Whether the region has the wait block (on by default).
    pub wait: bool,
    /// Producer records of an MPSC ring (how many producer handles may exist at once, across
    /// processes); 0 means [`crate::layout::DEFAULT_PRODUCER_SLOTS`]. In SPSC it counts only
    /// with an overflow area (0 means [`SPSC_OVERFLOW_PRODUCER_SLOTS`] then).
    pub producers: u32,
    /// Bytes of the overflow area (spec/RECORDS.md, section 13): 0 for none, else a power of
    /// two in `32..=2^31`.
    pub overflow: u32,
}

/// Producer records an SPSC record ring with an overflow area gets by default: the producer
/// and a successor that takes over from it after its death.
pub const SPSC_OVERFLOW_PRODUCER_SLOTS: u32 = 2;

/// Where a configuration puts its blocks (0: absent).
struct Placement {
    overflow: u64,
    wait: u64,
    producers: u64,
    region_len: u64,
}

impl RecordConfig {
    /// An SPSC record ring with a data area of `capacity` bytes, positions starting at 0, and a
    /// wait block.
    pub const fn new(capacity: u32) -> Self {
        RecordConfig {
            capacity,
            mode: Mode::Spsc,
            initial_position: 0,
            wait: true,
            producers: 0,
            overflow: 0,
        }
    }

    /// Adds an overflow area of `bytes` bytes (a power of two in `32..=2^31`; 0: none): when
    /// the data area is full, records spill there, and only when it is full too is a record
    /// refused (spec/RECORDS.md, section 13). The region then also has producer records, in
    /// SPSC too.
    ///
    /// # Examples
    ///
    /// ```
    /// use ring_core::record::{RecordConfig, RecordRing};
    ///
    /// let ring = RecordRing::create_heap(RecordConfig::new(64).overflow(256)).unwrap();
    /// let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    /// for i in 0..8u8 {
    ///     tx.push(&[i; 8]).unwrap(); // 16 bytes each: 4 fit the data area, 4 spill
    /// }
    /// assert_eq!(ring.counters().overflowed, 4);
    /// for i in 0..8u8 {
    ///     assert_eq!(rx.read().unwrap().to_vec(), &[i; 8]); // in push order
    /// }
    /// ```
    pub const fn overflow(mut self, bytes: u32) -> Self {
        self.overflow = bytes;
        self
    }

    /// Sets how many producer handles an MPSC ring can have at once (1 to
    /// [`crate::layout::MAX_PRODUCER_SLOTS`]).
    pub const fn producers(mut self, n: u32) -> Self {
        self.producers = n;
        self
    }

    /// The number of producer records this configuration lays out (0 in SPSC).
    pub const fn producer_slots(&self) -> u32 {
        match self.mode {
            Mode::Mpsc if self.producers == 0 => crate::layout::DEFAULT_PRODUCER_SLOTS,
            Mode::Mpsc => self.producers,
            _ if self.overflow == 0 => 0,
            _ if self.producers == 0 => SPSC_OVERFLOW_PRODUCER_SLOTS,
            _ => self.producers,
        }
    }

    /// Sets the mode (SPSC or MPSC).
    pub const fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the starting position (a multiple of 8).
    pub const fn initial_position(mut self, pos: u32) -> Self {
        self.initial_position = pos;
        self
    }

    /// Adds or leaves out the wait block.
    pub const fn wait(mut self, wait: bool) -> Self {
        self.wait = wait;
        self
    }

    /// Checks the configuration and places the blocks.
    fn placement(&self) -> Result<Placement, RecordLayoutError> {
        check_data_capacity(self.capacity)?;
        if !matches!(self.mode, Mode::Spsc | Mode::Mpsc) {
            return Err(RecordLayoutError::Mode {
                found: self.mode.bits(),
            });
        }
        if self.initial_position % RECORD_ALIGN != 0 {
            return Err(RecordLayoutError::InitialPosition {
                found: self.initial_position,
            });
        }
        if self.overflow != 0 {
            check_overflow_capacity(self.overflow)?;
        }
        let slots = self.producer_slots();
        if slots > crate::layout::MAX_PRODUCER_SLOTS {
            return Err(LayoutError::ProducerSlots { found: slots }.into());
        }
        let end = round128(SLOTS_OFFSET + u64::from(self.capacity));
        let (overflow, end) = if self.overflow != 0 {
            (
                end,
                round128(end + u64::from(LINE_LEN) + u64::from(self.overflow)),
            )
        } else {
            (0, end)
        };
        let (wait, end) = if self.wait {
            (end, end + u64::from(LINE_LEN))
        } else {
            (0, end)
        };
        let (producers, end) = if slots != 0 {
            (end, end + u64::from(LINE_LEN) * (1 + u64::from(slots)))
        } else {
            (0, end)
        };
        Ok(Placement {
            overflow,
            wait,
            producers,
            region_len: end,
        })
    }

    /// Bytes a region needs for this configuration.
    ///
    /// # Errors
    ///
    /// As for formatting: an invalid capacity, mode or initial position.
    pub fn region_len(&self) -> Result<u64, RecordLayoutError> {
        Ok(self.placement()?.region_len)
    }
}

fn round128(x: u64) -> u64 {
    (x + 127) & !127
}

fn check_overflow_capacity(cap: u32) -> Result<(), RecordLayoutError> {
    if (MIN_DATA_CAPACITY..=MAX_DATA_CAPACITY).contains(&cap) && cap.is_power_of_two() {
        Ok(())
    } else {
        Err(LayoutError::OverflowCapacity { found: cap }.into())
    }
}

fn check_data_capacity(cap: u32) -> Result<(), RecordLayoutError> {
    if (MIN_DATA_CAPACITY..=MAX_DATA_CAPACITY).contains(&cap) && cap.is_power_of_two() {
        Ok(())
    } else {
        Err(RecordLayoutError::DataCapacity { found: cap })
    }
}

/// The private, trusted copy of a validated record region's geometry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RecordGeometry {
    /// SPSC or MPSC.
    pub mode: Mode,
    /// Bytes of the data area.
    pub capacity: u32,
    /// Layout minor version found.
    pub version_minor: u32,
    /// Offset of the record producer line.
    pub producer_offset: u64,
    /// Offset of the consumer line.
    pub consumer_offset: u64,
    /// Offset of the data area.
    pub data_offset: u64,
    /// Bytes the creator laid out.
    pub region_len: u64,
    /// Offset of the wait block, if present.
    pub wait_offset: Option<u64>,
    /// Offset of the producer records block (MPSC), if present.
    pub producers_offset: Option<u64>,
    /// Number of producer records (0: none).
    pub producer_slots: u32,
    /// Offset of the overflow block (its line, then its data area 128 bytes later), if present.
    pub overflow_offset: Option<u64>,
    /// Bytes of the overflow data area (0: none).
    pub overflow_capacity: u32,
    /// Whether every consumer maintains `release_end` (`INCOMPAT_RELEASE_END`), so a
    /// starting consumer finishes a dead one's announced release (spec/RECORDS.md, 7.3).
    pub release_end: bool,
}

/// Formats `region` as an empty record ring laid out per `cfg` and validates the result.
/// `zeroed` says the bytes are known to be zero, so the data area need not be cleared.
///
/// # Errors
///
/// [`RecordLayoutError`] for an invalid configuration or unsuitable memory.
pub fn format_records(
    region: &RawRegion,
    cfg: &RecordConfig,
    pid: u32,
    zeroed: bool,
) -> Result<RecordGeometry, RecordLayoutError> {
    let Placement {
        overflow: ovf_off,
        wait: wait_off,
        producers: prod_off,
        region_len,
    } = cfg.placement()?;
    let producer_slots = cfg.producer_slots();
    check_base(region, region_len)?;
    let h = region.header();
    let r = Ordering::Relaxed;
    h.magic.store(0, Ordering::Release);
    fence(Ordering::SeqCst);
    h.version_major.store(VERSION_MAJOR, r);
    h.version_minor.store(VERSION_MINOR, r);
    h.header_len.store(HEADER_LEN, r);
    h.mode.store(cfg.mode.bits(), r);
    h.compat.store(0, r);
    let incompat = INCOMPAT_RECORDS
        | if cfg.wait { features::INCOMPAT_WAIT } else { 0 }
        | if producer_slots != 0 {
            features::INCOMPAT_PRODUCERS
        } else {
            0
        }
        | if cfg.overflow != 0 {
            INCOMPAT_RECORD_OVERFLOW
        } else {
            0
        }
        | if cfg.mode == Mode::Mpsc || cfg.overflow != 0 {
            INCOMPAT_RELEASE_END
        } else {
            0
        };
    h.incompat.store(incompat, r);
    h.ro_compat.store(0, r);
    h.capacity.store(cfg.capacity, r);
    h.entry_format.store(RECORDS_V1, r);
    h.entry_size.store(0, r);
    h.entry_align.store(RECORD_ALIGN, r);
    h.slot_stride.store(1, r);
    h.payload_offset.store(RECORD_HEADER_LEN, r);
    h.region_len.store(region_len, r);
    h.initial_index.store(cfg.initial_position, r);
    h.creator_pid.store(pid, r);
    let rows: [(u64, u64); BLOCK_COUNT] = [
        (PRODUCER_OFFSET, u64::from(LINE_LEN)),
        (CONSUMER_OFFSET, u64::from(LINE_LEN)),
        (SLOTS_OFFSET, u64::from(cfg.capacity)),
        if cfg.overflow != 0 {
            (ovf_off, u64::from(LINE_LEN) + u64::from(cfg.overflow))
        } else {
            (0, 0)
        },
        if cfg.wait {
            (wait_off, u64::from(LINE_LEN))
        } else {
            (0, 0)
        },
        if producer_slots != 0 {
            (
                prod_off,
                u64::from(LINE_LEN) * (1 + u64::from(producer_slots)),
            )
        } else {
            (0, 0)
        },
        (0, 0),
        (0, 0),
    ];
    for (row, (off, len)) in h.blocks.iter().zip(rows) {
        row.offset.store(off, r);
        row.len.store(len, r);
    }
    h.overflow_capacity.store(cfg.overflow, r);
    h.producer_slots.store(producer_slots, r);
    h.reserved.iter().for_each(|w| w.store(0, r));
    let base = region.as_ptr();
    // SAFETY: `check_base` verified `region_len` bytes at 128-byte alignment; the producer
    // line lies at 256..384, inside them; the struct is all atomics.
    let prod = unsafe { &*(base.add(PRODUCER_OFFSET as usize) as *const RecordProducerLine) };
    // SAFETY: as above, 384..512.
    let cons = unsafe { &*(base.add(CONSUMER_OFFSET as usize) as *const ConsumerLine) };
    prod.tail.store(u64::from(cfg.initial_position), r);
    prod.owner.store(0, r);
    prod.reserved32.store(0, r);
    prod.full_refusals.store(0, r);
    prod.discarded.store(0, r);
    prod.reserved.iter().for_each(|w| w.store(0, r));
    clear_consumer_line(cons, cfg.initial_position);
    // No release in progress: `release_end` at `head` (spec/RECORDS.md, section 4).
    cons.release_end.store(cfg.initial_position, r);
    if !zeroed {
        // SAFETY: the data area `512..512 + capacity` lies inside the checked region; nobody
        // uses the region while it is being formatted (its magic reads 0).
        unsafe {
            core::ptr::write_bytes(base.add(SLOTS_OFFSET as usize), 0, cfg.capacity as usize)
        };
    }
    if cfg.overflow != 0 {
        // SAFETY: the overflow line lies at `ovf_off`, a multiple of 128, and its data area
        // right after it, inside the checked region; all-zero is their formatted state
        // (`state` 0: tail 0, inactive, count 0; `head` 0; counters 0).
        unsafe {
            clear_overflow_line(region.at::<OverflowLine>(ovf_off));
            if !zeroed {
                core::ptr::write_bytes(
                    base.add(ovf_off as usize + LINE_LEN as usize),
                    0,
                    cfg.overflow as usize,
                );
            }
        }
    }
    if cfg.wait {
        // SAFETY: the wait line lies at `wait_off`, a multiple of 128 inside the region.
        clear_wait_line(unsafe { region.at::<WaitLine>(wait_off) });
    }
    if producer_slots != 0 {
        // SAFETY: the registry line and the records lie at `prod_off`, a multiple of 128
        // inside the region (the placement); the region is being formatted.
        unsafe { clear_producer_records(region, prod_off, producer_slots) };
    }
    h.magic.store(MAGIC, Ordering::Release);
    attach_records(region)
}

/// Validates that `region` holds a record ring this crate can use and returns its trusted
/// geometry (spec/RECORDS.md, section 3.2).
///
/// # Errors
///
/// The first [`RecordLayoutError`] found, in the order of the spec's checks.
pub fn attach_records(region: &RawRegion) -> Result<RecordGeometry, RecordLayoutError> {
    // SAFETY: `RawRegion::new`'s contract: the bytes stay mapped and readable and every other
    // user goes through a ring of this layout (atomics only for the header).
    let w = unsafe { crate::format::load_header(region.as_ptr(), region.len()) }?;
    check_records(&w, region.len() as u64)
}

/// The `incompat` bits a record region may have (R6b).
pub(crate) const RECORD_INCOMPAT_KNOWN: u64 = INCOMPAT_RECORDS
    | features::INCOMPAT_WAIT
    | features::INCOMPAT_PRODUCERS
    | INCOMPAT_RECORD_OVERFLOW
    | INCOMPAT_RELEASE_END;

/// The checks of spec/RECORDS.md section 3.2 after checks 1-5, on a header loaded once
/// (`avail` bytes of memory): shared by [`attach_records`] and `inspect`.
pub(crate) fn check_records(
    w: &crate::format::HeaderWords,
    avail: u64,
) -> Result<RecordGeometry, RecordLayoutError> {
    let incompat = w.incompat;
    if incompat & INCOMPAT_RECORDS == 0 {
        return Err(RecordLayoutError::NotRecords { incompat });
    }
    let refused = incompat & !RECORD_INCOMPAT_KNOWN;
    if refused != 0 {
        return Err(RecordLayoutError::Features { bits: refused });
    }
    let ro = w.ro_compat & !features::RO_COMPAT_KNOWN;
    if ro != 0 {
        return Err(LayoutError::UnknownReadOnlyFeatures { bits: ro }.into());
    }
    let mode = match Mode::from_bits(w.mode) {
        Some(m @ (Mode::Spsc | Mode::Mpsc)) => m,
        _ => return Err(RecordLayoutError::Mode { found: w.mode }),
    };
    let capacity = w.capacity;
    check_data_capacity(capacity)?;
    if w.entry_format != RECORDS_V1 {
        return Err(LayoutError::EntryFormat {
            expected: RECORDS_V1,
            found: w.entry_format,
        }
        .into());
    }
    if w.entry_size != 0 {
        return Err(LayoutError::EntrySize {
            expected: 0,
            found: w.entry_size,
        }
        .into());
    }
    if w.entry_align != RECORD_ALIGN {
        return Err(LayoutError::EntryAlign {
            expected: RECORD_ALIGN,
            found: w.entry_align,
        }
        .into());
    }
    if w.slot_stride != 1 || w.payload_offset != RECORD_HEADER_LEN {
        return Err(LayoutError::SlotLayout {
            stride: 1,
            found_stride: w.slot_stride,
            found_payload_offset: w.payload_offset,
        }
        .into());
    }
    w.check_table(avail)?;
    let oc = w.overflow_capacity;
    let overflow = w.has(INCOMPAT_RECORD_OVERFLOW);
    if overflow {
        check_overflow_capacity(oc)?;
    } else if oc != 0 {
        return Err(LayoutError::OverflowCapacity { found: oc }.into());
    }
    if overflow && !w.has(features::INCOMPAT_PRODUCERS) {
        // The overflow area needs producer records (section 13): without them, none.
        return Err(LayoutError::ProducerSlots {
            found: w.producer_slots,
        }
        .into());
    }
    let producers_len = w.producers_len()?;
    w.check_block_lengths([
        u64::from(LINE_LEN),
        u64::from(LINE_LEN),
        u64::from(capacity),
        if overflow {
            u64::from(LINE_LEN) + u64::from(oc)
        } else {
            0
        },
        w.wait_len(),
        producers_len,
    ])?;
    let rows = w.rows;
    Ok(RecordGeometry {
        mode,
        capacity,
        version_minor: w.version_minor,
        producer_offset: rows[Block::Producer as usize].0,
        consumer_offset: rows[Block::Consumer as usize].0,
        data_offset: rows[Block::Slots as usize].0,
        region_len: w.region_len,
        wait_offset: w
            .has(features::INCOMPAT_WAIT)
            .then_some(rows[Block::Wait as usize].0),
        producers_offset: (producers_len != 0).then_some(rows[Block::Producers as usize].0),
        producer_slots: if producers_len != 0 {
            w.producer_slots
        } else {
            0
        },
        overflow_offset: overflow.then_some(rows[Block::Overflow as usize].0),
        overflow_capacity: if overflow { oc } else { 0 },
        release_end: w.has(INCOMPAT_RELEASE_END),
    })
}
