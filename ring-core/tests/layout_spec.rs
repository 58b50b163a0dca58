//! Checks spec/LAYOUT.md and spec/PROTOCOL.md against the code.
//!
//! - Every `<!-- layout: NAME SIZE -->` table: the struct's size, every field in order, each
//!   field's offset (`offset_of!`) and size, and that the rows tile the struct without gaps.
//! - Every `<!-- constants -->` table: exactly the constants listed here, with the code's values.
//! - The `<!-- lap-tag-example CAP INIT -->` table and the header offsets, against the bytes that
//!   `format` actually writes (read back as little-endian), for an MPSC ring with the wait block
//!   and the default producer records, and for one with an overflow area, a wait block and
//!   producer records, on zeroed and on dirty memory; each laid out for 1.3 peers and for 1.2
//!   peers (`Config::legacy`), whose feature bits differ as section 8 says.
//! - Attach check 24: a header with `INCOMPAT_WAIT_TARGET` and without `INCOMPAT_WAIT` is
//!   refused.
//! - The `<!-- placement-example CAP OCAP PSLOTS -->` table, against the block table `format`
//!   writes and against `layout::placement_for`; the placement formula of section 1 against
//!   `layout::placement_for` and `Config::region_len`.
//! - The producer records' words as a live producer handle holds them (owner, start time).
//! - The `<!-- biased-tag-example OCAP -->` table, against the stored-tag formula, and that
//!   formula against the words the protocol actually stores in an overflow area.
//! - Every `LayoutError::X`, `Corruption::X` and `ClaimError::X` the documents name exists, and
//!   the attach-check table lists exactly the checks `attach` makes, in order.
//!
//! The test fails whenever the documents and the code diverge.

use core::mem::{align_of, offset_of, size_of};
use ring_core::consumer::DEFAULT_SPIN;
use ring_core::layout::{
    self, entry_format, features, mode_bits, overflow_state, slot_meta, wait_flags, Block,
    BlockEntry, ConsumerLine, Header, OverflowLine, ProducerLine, ProducerRecord, RegistryLine,
    Slot, WaitLine,
};
use ring_core::{
    ClaimError, Completion, Config, Corruption, LayoutError, Mode, RawRegion, Region, Ring,
};
use ring_core::{RETRY_BUDGET, SCAN_BUDGET};
use std::alloc::{alloc, dealloc, Layout};
use std::collections::BTreeMap;

fn read_spec(name: &str) -> String {
    let path = format!("{}/../spec/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn layout_md() -> String {
    read_spec("LAYOUT.md")
}

fn protocol_md() -> String {
    read_spec("PROTOCOL.md")
}

/// One field as the code defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    name: &'static str,
    offset: usize,
    size: usize,
}

/// The size of the field a projection selects, without an instance.
fn size_of_field<S, F>(_project: impl Fn(&S) -> &F) -> usize {
    size_of::<F>()
}

/// The fields of a struct in declaration order. The exhaustive pattern stops compiling when the
/// struct gains or loses a field this list does not name.
macro_rules! fields {
    ($ty:ty, $name:ident { $($f:ident),* $(,)? }) => {{
        #[allow(dead_code)]
        fn exhaustive(v: &$ty) {
            let $name { $($f: _),* } = v;
        }
        vec![$(Field {
            name: stringify!($f),
            offset: offset_of!($ty, $f),
            size: size_of_field(|s: &$ty| &s.$f),
        }),*]
    }};
}

/// Every struct the layout document must describe: name, size, fields.
fn code_structs() -> Vec<(&'static str, usize, Vec<Field>)> {
    vec![
        (
            "Header",
            size_of::<Header>(),
            fields!(
                Header,
                Header {
                    magic,
                    version_major,
                    version_minor,
                    header_len,
                    mode,
                    compat,
                    incompat,
                    ro_compat,
                    capacity,
                    entry_format,
                    entry_size,
                    entry_align,
                    slot_stride,
                    payload_offset,
                    region_len,
                    initial_index,
                    creator_pid,
                    blocks,
                    overflow_capacity,
                    producer_slots,
                    reserved,
                }
            ),
        ),
        (
            "BlockEntry",
            size_of::<BlockEntry>(),
            fields!(BlockEntry, BlockEntry { offset, len }),
        ),
        (
            "ProducerLine",
            size_of::<ProducerLine>(),
            fields!(
                ProducerLine,
                ProducerLine {
                    tail,
                    owner,
                    full_refusals,
                    discarded,
                    stream,
                    reserved32,
                    reserved,
                }
            ),
        ),
        (
            "ConsumerLine",
            size_of::<ConsumerLine>(),
            fields!(
                ConsumerLine,
                ConsumerLine {
                    head,
                    owner,
                    release_end,
                    reserved32,
                    reserved
                }
            ),
        ),
        (
            "OverflowLine",
            size_of::<OverflowLine>(),
            fields!(
                OverflowLine,
                OverflowLine {
                    state,
                    head,
                    release_end,
                    overflowed,
                    activations,
                    reserved,
                }
            ),
        ),
        (
            "WaitLine",
            size_of::<WaitLine>(),
            fields!(
                WaitLine,
                WaitLine {
                    futex,
                    waiters,
                    flags,
                    reserved32,
                    wakeups,
                    sleeps,
                    wake_target,
                    reserved,
                }
            ),
        ),
        (
            "RegistryLine",
            size_of::<RegistryLine>(),
            fields!(
                RegistryLine,
                RegistryLine {
                    recoverer,
                    reserved32,
                    recoveries,
                    recovered,
                    reclaimed,
                    reserved,
                }
            ),
        ),
        (
            "ProducerRecord",
            size_of::<ProducerRecord>(),
            fields!(
                ProducerRecord,
                ProducerRecord {
                    owner,
                    reserved32,
                    start_time,
                    ring_start,
                    ring_len,
                    overflow_start,
                    overflow_len,
                    reserved,
                }
            ),
        ),
        (
            "Slot",
            size_of::<Slot<u64>>(),
            fields!(Slot<u64>, Slot { seq, meta, payload }),
        ),
        (
            "Completion",
            size_of::<Completion>(),
            fields!(
                Completion,
                Completion {
                    user_data,
                    result,
                    flags,
                }
            ),
        ),
    ]
}

/// Every constant the documents must list, with the code's value.
fn code_constants() -> BTreeMap<&'static str, u64> {
    let c: &[(&str, u64)] = &[
        ("MAGIC", layout::MAGIC),
        ("VERSION_MAJOR", layout::VERSION_MAJOR.into()),
        ("VERSION_MINOR", layout::VERSION_MINOR.into()),
        ("HEADER_LEN", layout::HEADER_LEN.into()),
        ("LINE_LEN", layout::LINE_LEN.into()),
        ("BLOCK_ALIGN", layout::BLOCK_ALIGN),
        ("BLOCK_COUNT", layout::BLOCK_COUNT as u64),
        ("MIN_CAPACITY", layout::MIN_CAPACITY.into()),
        ("MAX_CAPACITY", layout::MAX_CAPACITY.into()),
        ("SLOT_HEADER_LEN", layout::SLOT_HEADER_LEN.into()),
        ("PRODUCER_OFFSET", layout::PRODUCER_OFFSET),
        ("CONSUMER_OFFSET", layout::CONSUMER_OFFSET),
        ("SLOTS_OFFSET", layout::SLOTS_OFFSET),
        ("features::INCOMPAT_OVERFLOW", features::INCOMPAT_OVERFLOW),
        ("features::INCOMPAT_WAIT", features::INCOMPAT_WAIT),
        ("features::INCOMPAT_PRODUCERS", features::INCOMPAT_PRODUCERS),
        ("features::INCOMPAT_STREAM", features::INCOMPAT_STREAM),
        (
            "features::INCOMPAT_WAIT_TARGET",
            features::INCOMPAT_WAIT_TARGET,
        ),
        ("features::INCOMPAT_PACKED", features::INCOMPAT_PACKED),
        ("features::INCOMPAT_KNOWN", features::INCOMPAT_KNOWN),
        (
            "stream::PRODUCERS_MASK",
            layout::stream::PRODUCERS_MASK.into(),
        ),
        (
            "stream::CLOSE_REQUESTED",
            layout::stream::CLOSE_REQUESTED.into(),
        ),
        ("stream::CLOSED", layout::stream::CLOSED.into()),
        (
            "wake_target::POSITION_MASK",
            layout::wake_target::POSITION_MASK,
        ),
        ("wake_target::ARMED", layout::wake_target::ARMED),
        ("wake_target::ANY", layout::wake_target::ANY),
        ("features::RO_COMPAT_KNOWN", features::RO_COMPAT_KNOWN),
        (
            "mode_bits::MULTI_PRODUCER",
            mode_bits::MULTI_PRODUCER.into(),
        ),
        (
            "mode_bits::MULTI_CONSUMER",
            mode_bits::MULTI_CONSUMER.into(),
        ),
        ("mode_bits::KNOWN", mode_bits::KNOWN.into()),
        ("Mode::Spsc", Mode::Spsc.bits().into()),
        ("Mode::Mpsc", Mode::Mpsc.bits().into()),
        ("Mode::Spmc", Mode::Spmc.bits().into()),
        ("Mode::Mpmc", Mode::Mpmc.bits().into()),
        ("entry_format::OPAQUE", entry_format::OPAQUE.into()),
        (
            "entry_format::COMPLETION_V1",
            entry_format::COMPLETION_V1.into(),
        ),
        ("slot_meta::DISCARDED", slot_meta::DISCARDED.into()),
        ("Block::Producer", Block::Producer as u64),
        ("Block::Consumer", Block::Consumer as u64),
        ("Block::Slots", Block::Slots as u64),
        ("Block::Overflow", Block::Overflow as u64),
        ("Block::Wait", Block::Wait as u64),
        ("Block::Producers", Block::Producers as u64),
        ("MAX_PRODUCER_SLOTS", layout::MAX_PRODUCER_SLOTS.into()),
        (
            "DEFAULT_PRODUCER_SLOTS",
            layout::DEFAULT_PRODUCER_SLOTS.into(),
        ),
        ("overflow_state::ACTIVE", overflow_state::ACTIVE),
        ("overflow_state::TAIL_MASK", overflow_state::TAIL_MASK),
        ("wait_flags::NO_WAKE", wait_flags::NO_WAKE.into()),
        ("wait_flags::EVENTFD", wait_flags::EVENTFD.into()),
        ("RETRY_BUDGET", RETRY_BUDGET.into()),
        ("SCAN_BUDGET", SCAN_BUDGET.into()),
        ("DEFAULT_SPIN", DEFAULT_SPIN.into()),
    ];
    let map: BTreeMap<_, _> = c.iter().copied().collect();
    assert_eq!(
        map.len(),
        c.len(),
        "duplicate constant name in the test's list"
    );
    map
}

/// Splits a markdown table row into trimmed cells (without the outer pipes).
fn cells(line: &str) -> Vec<String> {
    let line = line.trim();
    assert!(
        line.starts_with('|') && line.ends_with('|'),
        "not a table row: {line:?}"
    );
    line[1..line.len() - 1]
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

/// The rows of the table that starts right after line `marker`: checks the header row, skips
/// the separator, and returns the data rows as cells.
fn table_after(lines: &[&str], marker: usize, header: &[&str]) -> Vec<Vec<String>> {
    let head = lines
        .get(marker + 1)
        .unwrap_or_else(|| panic!("no table after {:?}", lines[marker]));
    let got: Vec<String> = cells(head);
    assert_eq!(
        got, header,
        "table after {:?} must have the header row {header:?}",
        lines[marker]
    );
    let sep = cells(lines[marker + 2]);
    assert!(
        sep.iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-' || ch == ':')),
        "missing separator row after {:?}",
        lines[marker]
    );
    lines[marker + 3..]
        .iter()
        .take_while(|l| l.trim_start().starts_with('|'))
        .map(|l| cells(l))
        .collect()
}

/// Strips one pair of backticks, which names in the tables must have.
fn ticked(cell: &str) -> &str {
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .unwrap_or_else(|| panic!("{cell:?} must be written in backticks"))
}

fn parse_num(cell: &str) -> u64 {
    let s = cell.trim();
    let r = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.unwrap_or_else(|_| panic!("{s:?} is not a decimal or 0x-hex number"))
}

/// Size in bytes implied by a type cell: `u64`, `u32`, `i32`, `u64[N]`, `BlockEntry[N]`.
fn size_of_type(ty: &str) -> usize {
    let (elem, count) = match ty.split_once('[') {
        Some((e, rest)) => {
            let n = rest
                .strip_suffix(']')
                .unwrap_or_else(|| panic!("bad array type {ty:?}"));
            (e, parse_num(n) as usize)
        }
        None => (ty, 1),
    };
    let elem = match elem {
        "u8" | "i8" => 1,
        "u16" | "i16" => 2,
        "u32" | "i32" => 4,
        "u64" | "i64" => 8,
        "BlockEntry" => size_of::<BlockEntry>(),
        other => panic!("unknown type {other:?} in a layout table"),
    };
    elem * count
}

struct SpecStruct {
    name: String,
    size: usize,
    /// (offset, size, type, field)
    rows: Vec<(usize, usize, String, String)>,
}

fn spec_structs(md: &str) -> Vec<SpecStruct> {
    let lines: Vec<&str> = md.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim().strip_prefix("<!-- layout:") else {
            continue;
        };
        let rest = rest
            .strip_suffix("-->")
            .unwrap_or_else(|| panic!("unterminated marker {line:?}"));
        let mut words = rest.split_whitespace();
        let (Some(name), Some(size), None) = (words.next(), words.next(), words.next()) else {
            panic!("marker must be `<!-- layout: NAME SIZE -->`: {line:?}");
        };
        let rows = table_after(&lines, i, &["offset", "size", "type", "field", "meaning"])
            .into_iter()
            .map(|c| {
                assert_eq!(c.len(), 5, "layout row must have 5 cells: {c:?}");
                (
                    parse_num(&c[0]) as usize,
                    parse_num(&c[1]) as usize,
                    c[2].clone(),
                    ticked(&c[3]).to_string(),
                )
            })
            .collect();
        out.push(SpecStruct {
            name: name.to_string(),
            size: parse_num(size) as usize,
            rows,
        });
    }
    out
}

fn spec_constants(md: &str) -> Vec<(String, u64)> {
    let lines: Vec<&str> = md.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "<!-- constants -->" {
            continue;
        }
        for c in table_after(&lines, i, &["constant", "value", "meaning"]) {
            assert_eq!(c.len(), 3, "constants row must have 3 cells: {c:?}");
            out.push((ticked(&c[0]).to_string(), parse_num(&c[1])));
        }
    }
    out
}

#[test]
fn layout_tables_match_the_structs() {
    let md = layout_md();
    let spec = spec_structs(&md);
    let code = code_structs();

    let spec_names: Vec<&str> = spec.iter().map(|s| s.name.as_str()).collect();
    for (name, _, _) in &code {
        let n = spec_names.iter().filter(|s| *s == name).count();
        assert_eq!(
            n, 1,
            "LAYOUT.md must have exactly one layout table for {name}"
        );
    }
    for s in &spec {
        let Some((_, size, fields)) = code.iter().find(|(n, _, _)| *n == s.name) else {
            panic!("LAYOUT.md has a layout table for unknown struct {}", s.name);
        };
        assert_eq!(
            s.size, *size,
            "{}: spec says {} bytes, code has {size}",
            s.name, s.size
        );
        let spec_fields: Vec<&str> = s.rows.iter().map(|r| r.3.as_str()).collect();
        let code_fields: Vec<&str> = fields.iter().map(|f| f.name).collect();
        assert_eq!(
            spec_fields, code_fields,
            "{}: the spec must list every field, in declaration order",
            s.name
        );
        let mut end = 0;
        for ((offset, fsize, ty, name), f) in s.rows.iter().zip(fields) {
            assert_eq!(
                *offset, f.offset,
                "{}.{name}: spec offset {offset}, code offset {}",
                s.name, f.offset
            );
            assert_eq!(
                *fsize, f.size,
                "{}.{name}: spec size {fsize}, code size {}",
                s.name, f.size
            );
            assert_eq!(
                size_of_type(ty),
                f.size,
                "{}.{name}: type column {ty:?} does not match the size",
                s.name
            );
            assert_eq!(
                *offset, end,
                "{}.{name}: rows must tile the struct (gap or overlap before it)",
                s.name
            );
            end = offset + fsize;
        }
        assert_eq!(end, s.size, "{}: rows must cover the whole struct", s.name);
    }
}

#[test]
fn constants_match_the_code() {
    let expected = code_constants();
    let mut found: BTreeMap<String, u64> = BTreeMap::new();
    for md in [layout_md(), protocol_md()] {
        for (name, value) in spec_constants(&md) {
            let dup = found.insert(name.clone(), value);
            assert!(dup.is_none(), "constant {name} is listed twice in spec/");
        }
    }
    for (name, value) in &found {
        let Some(code) = expected.get(name.as_str()) else {
            panic!("spec/ lists constant {name}, which the test does not know");
        };
        assert_eq!(
            value, code,
            "{name}: spec says {value:#x}, code has {code:#x}"
        );
    }
    for name in expected.keys() {
        assert!(
            found.contains_key(*name),
            "spec/ must list constant {name} in a constants table"
        );
    }
}

#[test]
fn magic_is_the_documented_bytes() {
    assert_eq!(&layout::MAGIC.to_le_bytes(), b"CRINGv1\0");
    let hex: Vec<String> = layout::MAGIC
        .to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let md = layout_md();
    assert!(
        md.contains(&hex.join(" ")),
        "LAYOUT.md must give the magic bytes {}",
        hex.join(" ")
    );
    assert!(md.contains("CRINGv1\\0"));
}

/// Reads `N` bytes at `off` of a region.
fn bytes_at<const N: usize>(mem: &[u8], off: usize) -> [u8; N] {
    mem[off..off + N].try_into().unwrap()
}

/// The line index of the marker `<!-- NAME ... -->` and its numeric arguments.
fn marker(lines: &[&str], name: &str) -> (usize, Vec<u64>) {
    let prefix = format!("<!-- {name} ");
    let i = lines
        .iter()
        .position(|l| l.trim().starts_with(&prefix))
        .unwrap_or_else(|| panic!("LAYOUT.md must have a `{prefix}... -->` table"));
    let args = lines[i]
        .trim()
        .trim_start_matches(&prefix)
        .trim_end_matches("-->")
        .split_whitespace()
        .map(parse_num)
        .collect();
    (i, args)
}

/// Field offsets of the struct `name` as LAYOUT.md's layout table gives them.
fn spec_offsets(md: &str, name: &str) -> BTreeMap<String, usize> {
    let spec = spec_structs(md);
    let s = spec
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("LAYOUT.md has no layout table for {name}"));
    s.rows.iter().map(|r| (r.3.clone(), r.0)).collect()
}

/// The value of a constant as spec/ gives it.
fn spec_constant(name: &str) -> u64 {
    let mut all = spec_constants(&layout_md());
    all.extend(spec_constants(&protocol_md()));
    all.into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("spec/ does not list {name}"))
        .1
}

fn u32_at(mem: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(bytes_at(mem, off))
}

fn u64_at(mem: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(bytes_at(mem, off))
}

fn round128(x: u64) -> u64 {
    x.div_ceil(128) * 128
}

/// A 128-byte aligned heap buffer filled with one byte value, freed on drop.
struct Buffer {
    ptr: std::ptr::NonNull<u8>,
    layout: Layout,
}

impl Buffer {
    fn new(len: usize, fill: u8) -> Buffer {
        let layout = Layout::from_size_align(len, 128).unwrap();
        // SAFETY: `layout` has a non-zero size (every caller asks for a whole region).
        let ptr = std::ptr::NonNull::new(unsafe { alloc(layout) }).expect("allocation");
        // SAFETY: `ptr` points to `len` writable bytes just allocated.
        unsafe { ptr.as_ptr().write_bytes(fill, len) };
        Buffer { ptr, layout }
    }

    fn region(&self) -> RawRegion {
        // SAFETY: the buffer stays allocated for as long as `self`, which outlives every use of
        // the region in these tests, and only this thread touches it.
        unsafe { RawRegion::new(self.ptr, self.layout.size()) }
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `layout.size()` initialised bytes at `ptr`, not written while borrowed here.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `Buffer::new` with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

/// The `incompat` bits section 8, step 4 gives for a region with the blocks named (`overflow`,
/// `wait`, `records`), laid out for 1.2 peers or not (`legacy`), from the spec's constants.
fn spec_incompat(overflow: bool, wait: bool, records: bool, legacy: bool) -> u64 {
    let mut bits = 0;
    if overflow {
        bits |= spec_constant("features::INCOMPAT_OVERFLOW");
    }
    if wait {
        bits |= spec_constant("features::INCOMPAT_WAIT");
    }
    if records {
        bits |= spec_constant("features::INCOMPAT_PRODUCERS");
    }
    if !legacy {
        bits |= spec_constant("features::INCOMPAT_STREAM");
        if wait {
            bits |= spec_constant("features::INCOMPAT_WAIT_TARGET");
        }
    }
    bits
}

#[test]
fn format_writes_what_the_spec_says() {
    for legacy in [false, true] {
        check_format(legacy);
    }
}

fn check_format(legacy: bool) {
    let md = layout_md();
    let lines: Vec<&str> = md.lines().collect();
    let (marker_line, args) = marker(&lines, "lap-tag-example");
    let [cap, init] = args[..] else {
        panic!("marker must be `<!-- lap-tag-example CAP INIT -->`");
    };
    let (cap, init) = (cap as u32, init as u32);
    let example = table_after(&lines, marker_line, &["slot", "seq"]);
    assert_eq!(example.len(), cap as usize, "one row per slot");

    // The default configuration of an MPSC ring: wait block, no overflow area, and
    // DEFAULT_PRODUCER_SLOTS producer records after the wait block.
    let cfg = Config::new(cap)
        .mode(Mode::Mpsc)
        .initial_index(init)
        .legacy(legacy);
    let len = cfg.region_len::<u64>().unwrap() as usize;
    let ring = Ring::<u64>::create(Region::heap(len).unwrap(), cfg).unwrap();
    // SAFETY: the region is `len` bytes, mapped for as long as `ring` lives, and no other
    // thread or process uses it while we read it.
    let mem = unsafe { std::slice::from_raw_parts(ring.memory().as_ptr(), len) };

    // Header fields at the offsets the spec's Header table gives, little-endian.
    let h = spec_offsets(&md, "Header");
    let at = |field: &str| {
        *h.get(field)
            .unwrap_or_else(|| panic!("Header.{field} missing"))
    };
    let slots_len = 16 * u64::from(cap);
    let wait_off = round128(512 + slots_len);
    let pslots = spec_constant("DEFAULT_PRODUCER_SLOTS");
    let (prod_off, prod_len) = (wait_off + 128, 128 * (1 + pslots));
    assert_eq!(&bytes_at::<8>(mem, at("magic")), b"CRINGv1\0");
    assert_eq!(u32_at(mem, at("version_major")), 1);
    assert_eq!(
        u64::from(u32_at(mem, at("version_minor"))),
        spec_constant("VERSION_MINOR")
    );
    assert_eq!(u32_at(mem, at("header_len")), 256);
    assert_eq!(u32_at(mem, at("mode")), Mode::Mpsc.bits());
    assert_eq!(u64_at(mem, at("compat")), 0);
    assert_eq!(
        u64_at(mem, at("incompat")),
        spec_incompat(false, true, true, legacy),
        "incompat (legacy: {legacy})"
    );
    if legacy {
        // Only bits a 1.2 reader knows (section 2.2).
        assert_eq!(u64_at(mem, at("incompat")) & !0x7, 0, "legacy incompat");
    }
    assert_eq!(u64_at(mem, at("ro_compat")), 0);
    assert_eq!(u32_at(mem, at("capacity")), cap);
    assert_eq!(u32_at(mem, at("entry_format")), entry_format::OPAQUE);
    assert_eq!(u32_at(mem, at("entry_size")), 8);
    assert_eq!(u32_at(mem, at("entry_align")), 8);
    assert_eq!(u32_at(mem, at("slot_stride")), 16);
    assert_eq!(u32_at(mem, at("payload_offset")), 8);
    assert_eq!(u64_at(mem, at("region_len")), prod_off + prod_len);
    assert_eq!(u32_at(mem, at("initial_index")), init);
    assert_eq!(u32_at(mem, at("creator_pid")), std::process::id());
    assert_eq!(u32_at(mem, at("overflow_capacity")), 0);
    assert_eq!(u64::from(u32_at(mem, at("producer_slots"))), pslots);
    assert!(
        mem[at("reserved")..256].iter().all(|&b| b == 0),
        "reserved header words"
    );
    let rows = [
        (256, 128),
        (384, 128),
        (512, slots_len),
        (0, 0),
        (wait_off, 128),
        (prod_off, prod_len),
    ];
    for i in 0..layout::BLOCK_COUNT {
        let row = at("blocks") + 16 * i;
        assert_eq!(
            (u64_at(mem, row), u64_at(mem, row + 8)),
            rows.get(i).copied().unwrap_or((0, 0)),
            "row {i}"
        );
    }

    // Lines: indices start at initial_index, everything else zero; the wait line all zero.
    assert_eq!((u32_at(mem, 256), u32_at(mem, 384)), (init, init));
    assert!(mem[256 + 4..384].iter().all(|&b| b == 0), "producer line");
    assert!(mem[384 + 4..512].iter().all(|&b| b == 0), "consumer line");
    let w = wait_off as usize;
    assert!(mem[w..w + 128].iter().all(|&b| b == 0), "wait line");
    // The producer records: the registry line and every record all zero (free), ending the
    // region.
    let (p, plen) = (prod_off as usize, prod_len as usize);
    assert_eq!(p + plen, len, "the producer records end the region");
    assert!(
        mem[p..p + plen].iter().all(|&b| b == 0),
        "registry line and producer records"
    );

    // Lap tags: the spec's example and the formula.
    let mask = cap - 1;
    for (i, row) in example.iter().enumerate() {
        let i = i as u32;
        assert_eq!(
            parse_num(&row[0]),
            u64::from(i),
            "example rows in slot order"
        );
        let seq = u32_at(mem, 512 + 16 * i as usize);
        let meta = u32_at(mem, 512 + 16 * i as usize + 4);
        assert_eq!(
            u64::from(seq),
            parse_num(&row[1]),
            "slot {i}: example lap tag"
        );
        assert_eq!(
            seq,
            init.wrapping_add(i.wrapping_sub(init) & mask),
            "slot {i}"
        );
        assert_eq!(
            seq & mask,
            i,
            "slot {i}: the tag is a position of this slot"
        );
        assert_eq!(meta, 0);
    }
}

#[test]
fn placement_and_overflow_formatting_match_the_spec() {
    let md = layout_md();
    let lines: Vec<&str> = md.lines().collect();
    let (marker_line, args) = marker(&lines, "placement-example");
    let [cap, ocap, pslots] = args[..] else {
        panic!("marker must be `<!-- placement-example CAP OCAP PSLOTS -->`");
    };
    let (cap, ocap, pslots) = (cap as u32, ocap as u32, pslots as u32);
    let table = table_after(&lines, marker_line, &["row", "block", "offset", "len"]);
    let h = spec_offsets(&md, "Header");
    let ol = spec_offsets(&md, "OverflowLine");
    let stride = size_of::<Slot<Completion>>();
    let cfg = Config::new(cap)
        .mode(Mode::Mpmc)
        .overflow(ocap)
        .producers(pslots);
    let len = cfg.region_len::<Completion>().unwrap() as usize;

    // `layout::placement_for` gives the example's rows too.
    let place = layout::placement_for::<Completion>(cap, ocap, true, pslots).unwrap();
    let by_row = [
        (256, 128),
        (384, 128),
        place.slots,
        place.overflow,
        place.wait,
        place.producers,
    ];
    for row in &table {
        let value = parse_num(&row[2]);
        if row[0] == "-" {
            assert_eq!(place.region_len, value, "placement_for: region_len");
        } else {
            let i = parse_num(&row[0]) as usize;
            assert_eq!(
                by_row[i],
                (value, parse_num(&row[3])),
                "placement_for: row {i}"
            );
        }
    }

    // `zeroed = false` on dirty memory: every overflow slot is written (seq = meta = 0);
    // `zeroed = true` on the same dirty memory: the overflow slots are not written at all. Laid
    // out for 1.3 and for 1.2 peers: only the feature bits differ.
    for (zeroed, legacy) in [(false, false), (true, false), (false, true), (true, true)] {
        let cfg = cfg.legacy(legacy);
        assert_eq!(cfg.region_len::<Completion>().unwrap() as usize, len);
        let buf = Buffer::new(len, 0xa5);
        ring_core::format::<Completion>(&buf.region(), &cfg, 7, zeroed).unwrap();
        let mem = buf.bytes();
        assert_eq!(
            u64_at(mem, h["incompat"]),
            spec_incompat(true, true, true, legacy),
            "incompat (legacy: {legacy})"
        );
        assert_eq!(u32_at(mem, h["overflow_capacity"]), ocap);
        assert_eq!(u32_at(mem, h["producer_slots"]), pslots);
        assert!(
            mem[h["reserved"]..256].iter().all(|&b| b == 0),
            "reserved header words"
        );

        // The block table and region_len, row by row as the example gives them.
        let mut seen = 0;
        for row in &table {
            let value = parse_num(&row[2]);
            if row[0] == "-" {
                assert_eq!(ticked(&row[1]), "region_len");
                assert_eq!(u64_at(mem, h["region_len"]), value, "region_len");
                assert_eq!(value, len as u64, "Config::region_len");
                continue;
            }
            let i = parse_num(&row[0]) as usize;
            assert_eq!(row[1], Block::name(i), "row {i} name");
            let off = h["blocks"] + 16 * i;
            assert_eq!(
                (u64_at(mem, off), u64_at(mem, off + 8)),
                (value, parse_num(&row[3])),
                "row {i}"
            );
            assert_eq!(value % 128, 0, "row {i} alignment");
            seen += 1;
        }
        assert_eq!(seen, 6, "the example lists rows 0 to 5");
        for i in 6..layout::BLOCK_COUNT {
            let off = h["blocks"] + 16 * i;
            assert_eq!((u64_at(mem, off), u64_at(mem, off + 8)), (0, 0), "row {i}");
        }
        let ovf = u64_at(mem, h["blocks"] + 16 * 3) as usize;
        let wait = u64_at(mem, h["blocks"] + 16 * 4) as usize;
        let prod = u64_at(mem, h["blocks"] + 16 * 5) as usize;
        assert_eq!(
            u64_at(mem, h["blocks"] + 16 * 3 + 8),
            128 + u64::from(ocap) * stride as u64,
            "overflow block = line + slots"
        );
        let prod_len = u64_at(mem, h["blocks"] + 16 * 5 + 8) as usize;
        assert_eq!(
            prod_len,
            128 * (1 + pslots as usize),
            "producer records block = registry line + records"
        );

        // The registry line and every record are written as zeros over the dirty bytes, whether
        // or not `zeroed` (section 8, step 9).
        assert!(
            mem[prod..prod + prod_len].iter().all(|&b| b == 0),
            "registry line and producer records"
        );
        assert_eq!(prod + prod_len, len, "the producer records end the region");

        // Both new lines are all zero; the overflow indices start at 0, not initial_index.
        assert!(mem[ovf..ovf + 128].iter().all(|&b| b == 0), "overflow line");
        assert_eq!(u64_at(mem, ovf + ol["state"]), 0);
        assert!(mem[wait..wait + 128].iter().all(|&b| b == 0), "wait line");

        for i in 0..ocap as usize {
            let slot = ovf + 128 + i * stride;
            let header = u64_at(mem, slot);
            if zeroed {
                assert_eq!(header, 0xa5a5_a5a5_a5a5_a5a5, "overflow slot {i} written");
            } else {
                assert_eq!(header, 0, "overflow slot {i}: seq and meta must be 0");
            }
            assert!(
                mem[slot + 8..slot + stride].iter().all(|&b| b == 0xa5),
                "overflow slot {i}: payload bytes must not be touched"
            );
        }
    }
}

/// `(offset, len)` of every block and `region_len` as section 1's formulas give them, for slots
/// of `stride` bytes.
fn spec_placement(
    stride: u64,
    cap: u32,
    ocap: u32,
    wait: bool,
    pslots: u32,
) -> ([(u64, u64); 6], u64) {
    let (cap, ocap, pslots) = (u64::from(cap), u64::from(ocap), u64::from(pslots));
    let o = round128(512 + cap * stride);
    let w = if ocap != 0 {
        round128(o + 128 + ocap * stride)
    } else {
        o
    };
    let p = if wait { w + 128 } else { w };
    let region_len = if pslots != 0 {
        p + 128 * (1 + pslots)
    } else {
        p
    };
    let rows = [
        (256, 128),
        (384, 128),
        (512, cap * stride),
        if ocap != 0 {
            (o, 128 + ocap * stride)
        } else {
            (0, 0)
        },
        if wait { (w, 128) } else { (0, 0) },
        if pslots != 0 {
            (p, 128 * (1 + pslots))
        } else {
            (0, 0)
        },
    ];
    (rows, region_len)
}

/// Section 1's placement formulas against `layout::placement_for` and `Config::region_len`, and
/// section 8's rule for the number of producer records against `Config::producer_slots`.
fn check_placement<T: ring_core::Entry>(pslots_default: u32, max: u32) {
    let stride = size_of::<Slot<T>>() as u64;
    // Section 6.1: packed slots are the entry size rounded up to max(4, entry_align).
    let slot_align = align_of::<T>().max(4) as u64;
    let packed_stride = (size_of::<T>() as u64).div_ceil(slot_align) * slot_align;
    for cap in [2u32, 4, 8, 1024] {
        for ocap in [0u32, 2, 4, 64] {
            for wait in [false, true] {
                for pslots in [0u32, 1, 3, pslots_default, max] {
                    let (rows, region_len) = spec_placement(stride, cap, ocap, wait, pslots);
                    let p = layout::placement_for::<T>(cap, ocap, wait, pslots).unwrap();
                    let what = format!("cap {cap} ocap {ocap} wait {wait} pslots {pslots}");
                    assert_eq!(
                        [p.slots, p.overflow, p.wait, p.producers],
                        [rows[2], rows[3], rows[4], rows[5]],
                        "{what}"
                    );
                    assert_eq!(p.region_len, region_len, "{what}");
                    assert_eq!(
                        region_len % 128,
                        0,
                        "{what}: region_len is a multiple of 128"
                    );
                    for (i, (off, _)) in rows.iter().enumerate() {
                        assert_eq!(off % 128, 0, "{what}: row {i} alignment");
                    }
                    // Single-producer modes: never any record, whatever `producers` says.
                    for mode in [Mode::Spsc, Mode::Spmc] {
                        let cfg = Config::new(cap)
                            .mode(mode)
                            .overflow(ocap)
                            .wait(wait)
                            .producers(pslots);
                        assert_eq!(cfg.producer_slots(), 0, "{mode:?} {what}");
                        // Section 8, step 1: an SPSC ring without an overflow area is packed
                        // (section 6.1) unless configured otherwise.
                        let packs = mode == Mode::Spsc && ocap == 0;
                        let s = if packs { packed_stride } else { stride };
                        assert_eq!(
                            cfg.region_len::<T>(),
                            Ok(spec_placement(s, cap, ocap, wait, 0).1),
                            "{mode:?} {what}"
                        );
                        assert_eq!(
                            cfg.packed(false).region_len::<T>(),
                            Ok(spec_placement(stride, cap, ocap, wait, 0).1),
                            "{mode:?} {what}, packed(false)"
                        );
                    }
                    // Multi-producer modes: `producers`, or the default when it is 0.
                    for mode in [Mode::Mpsc, Mode::Mpmc] {
                        let cfg = Config::new(cap)
                            .mode(mode)
                            .overflow(ocap)
                            .wait(wait)
                            .producers(pslots);
                        let n = if pslots == 0 { pslots_default } else { pslots };
                        assert_eq!(cfg.producer_slots(), n, "{mode:?} {what}");
                        assert_eq!(
                            cfg.region_len::<T>(),
                            Ok(spec_placement(stride, cap, ocap, wait, n).1),
                            "{mode:?} {what}"
                        );
                    }
                }
            }
        }
    }
    // More records than MAX_PRODUCER_SLOTS: refused, naming producer_slots.
    for found in [max + 1, u32::MAX] {
        let cfg = Config::new(8).mode(Mode::Mpsc).producers(found);
        assert_eq!(
            cfg.region_len::<T>(),
            Err(LayoutError::ProducerSlots { found })
        );
    }
}

#[test]
fn placement_follows_the_formulas() {
    let default = spec_constant("DEFAULT_PRODUCER_SLOTS") as u32;
    let max = spec_constant("MAX_PRODUCER_SLOTS") as u32;
    check_placement::<u8>(default, max);
    check_placement::<u64>(default, max);
    check_placement::<Completion>(default, max);
    check_placement::<u128>(default, max);
}

/// Field 22 of `/proc/self/stat` (the process start time), if it can be read.
fn own_start_time() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[test]
fn producer_records_hold_what_the_spec_says() {
    // A live producer handle of an MPSC ring holds a record: its owner is this process, its
    // start time field 22 of /proc/self/stat, and its ring intent covers what it reserved.
    let md = layout_md();
    let h = spec_offsets(&md, "Header");
    let reg = spec_offsets(&md, "RegistryLine");
    let rec = spec_offsets(&md, "ProducerRecord");
    let pslots = 3u32;
    let init = u32::MAX - 1;
    let cfg = Config::new(4)
        .mode(Mode::Mpsc)
        .initial_index(init)
        .producers(pslots);
    let ring = Ring::<u64>::create_heap(cfg).unwrap();
    let len = ring.memory().len();
    // SAFETY: the region is `len` bytes and lives as long as `ring`; it is only read here,
    // between operations of this thread.
    let mem = || unsafe { std::slice::from_raw_parts(ring.memory().as_ptr(), len) };
    let row = h["blocks"] + 16 * Block::Producers as usize;
    let (off, plen) = (u64_at(mem(), row) as usize, u64_at(mem(), row + 8) as usize);
    assert_eq!(plen, 128 * (1 + pslots as usize));
    assert_eq!(u32_at(mem(), h["producer_slots"]), pslots);
    let record = |i: usize| off + 128 * (1 + i);
    let owners = || {
        (0..pslots as usize)
            .map(|i| u32_at(mem(), record(i) + rec["owner"]))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        owners(),
        vec![0; pslots as usize],
        "formatted: every record free"
    );

    let mut tx = ring.producer().unwrap();
    let me = std::process::id();
    let held: Vec<usize> = (0..pslots as usize)
        .filter(|&i| u32_at(mem(), record(i) + rec["owner"]) != 0)
        .collect();
    assert_eq!(held.len(), 1, "one record per live handle: {:?}", owners());
    let r = record(held[0]);
    assert_eq!(u32_at(mem(), r + rec["owner"]), me);
    if let Some(t) = own_start_time() {
        assert_eq!(u64_at(mem(), r + rec["start_time"]), t, "start_time");
    }
    for v in 0..3u32 {
        tx.push(u64::from(v)).unwrap();
        let pos = init.wrapping_add(v);
        let (start, n) = (
            u32_at(mem(), r + rec["ring_start"]),
            u32_at(mem(), r + rec["ring_len"]),
        );
        assert!(
            pos.wrapping_sub(start) < n,
            "the ring intent [{start:#x}; {n}] covers the position {pos:#x} just pushed"
        );
    }
    // Two handles, two records; dropping frees them.
    let tx2 = ring.producer().unwrap();
    assert_eq!(owners().iter().filter(|&&o| o == me).count(), 2);
    drop(tx);
    drop(tx2);
    assert_eq!(
        owners(),
        vec![0; pslots as usize],
        "dropped: every record free"
    );
    // No recovery ran: the registry line is untouched.
    assert!(
        mem()[off..off + 128].iter().all(|&b| b == 0),
        "registry line"
    );
    assert_eq!(u32_at(mem(), off + reg["recoverer"]), 0);
    // Every record held: the next handle is refused, naming the number of records.
    let all: Vec<_> = (0..pslots).map(|_| ring.producer().unwrap()).collect();
    assert_eq!(
        ring.producer().err(),
        Some(ClaimError::NoProducerRecord { records: pslots })
    );
    drop(all);
    ring.producer().expect("a record is free again");
}

/// The lap tag of position `p` in `state` (`free`, `published`, `consumed`).
fn tag_of(p: u32, state: &str, cap: u32) -> u32 {
    match state {
        "free" => p,
        "published" => p.wrapping_add(1),
        "consumed" => p.wrapping_add(cap),
        other => panic!("unknown slot state {other:?}"),
    }
}

#[test]
fn overflow_tags_are_stored_biased_as_the_spec_says() {
    let md = layout_md();
    let lines: Vec<&str> = md.lines().collect();
    let (marker_line, args) = marker(&lines, "biased-tag-example");
    let [ocap] = args[..] else {
        panic!("marker must be `<!-- biased-tag-example OCAP -->`");
    };
    let ocap = ocap as u32;
    let omask = ocap - 1;
    let table = table_after(
        &lines,
        marker_line,
        &["position", "state", "lap tag", "stored `seq`"],
    );
    assert!(!table.is_empty());
    for row in &table {
        let p = parse_num(&row[0]) as u32;
        let tag = tag_of(p, &row[1], ocap);
        assert_eq!(u64::from(tag), parse_num(&row[2]), "position {p}: lap tag");
        assert_eq!(
            u64::from(tag.wrapping_sub(p & omask)),
            parse_num(&row[3]),
            "position {p}: stored = tag - (p & omask)"
        );
    }

    // The words the protocol really stores. Ring of 2, overflow area of `ocap`.
    let ring = Ring::<u64>::create_heap(Config::new(2).mode(Mode::Mpsc).overflow(ocap)).unwrap();
    let len = ring.memory().len();
    // SAFETY: the region is `len` bytes and lives as long as `ring`; it is only read here,
    // between operations of this thread.
    let mem = || unsafe { std::slice::from_raw_parts(ring.memory().as_ptr(), len) };
    let h = spec_offsets(&md, "Header");
    let ol = spec_offsets(&md, "OverflowLine");
    let ovf = u64_at(mem(), h["blocks"] + 16 * 3) as usize;
    let stride = size_of::<Slot<u64>>();
    let stored = |p: u32| u32_at(mem(), ovf + 128 + (p & omask) as usize * stride);
    let active = spec_constant("overflow_state::ACTIVE");
    let tail_mask = spec_constant("overflow_state::TAIL_MASK");
    let state = || u64_at(mem(), ovf + ol["state"]);
    let check = |p: u32, st: &str| {
        assert_eq!(
            stored(p),
            tag_of(p, st, ocap).wrapping_sub(p & omask),
            "overflow position {p} {st}"
        );
    };

    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    let spill = ocap - 1;
    for v in 0..2 + u64::from(spill) {
        tx.push(v).unwrap(); // 2 in the ring, the rest spill
    }
    for p in 0..spill {
        check(p, "published");
    }
    check(spill, "free");
    assert_eq!(state(), active | u64::from(spill), "tail and ACTIVE");
    for v in 0..2 + u64::from(spill) {
        assert_eq!(rx.pop(), Ok(v));
    }
    for p in 0..spill {
        check(p, "consumed");
    }
    assert!(rx.pop().is_err(), "drained");
    assert_eq!(
        state(),
        u64::from(spill),
        "deactivated: ACTIVE clear, tail kept"
    );
    assert_eq!(state() & tail_mask, u64::from(spill));

    // A second lap of the overflow area: fill the ring again and spill `ocap` more.
    for v in 0..2 + u64::from(ocap) {
        tx.push(100 + v).unwrap();
    }
    for p in spill..spill + ocap {
        check(p, "published");
    }
    let c = ring.counters();
    assert_eq!(
        (c.overflowed, c.overflow_activations),
        (u64::from(spill + ocap), 2)
    );
}

/// The names of every variant of the error enums the documents may cite.
fn error_variants() -> Vec<String> {
    let layout = [
        LayoutError::Misaligned { addr: 0 },
        LayoutError::RegionTooShort {
            needed: 0,
            available: 0,
        },
        LayoutError::BadMagic { found: 0 },
        LayoutError::UnsupportedVersion { major: 0, minor: 0 },
        LayoutError::HeaderLength { found: 0 },
        LayoutError::UnknownIncompatFeatures { bits: 0 },
        LayoutError::UnknownReadOnlyFeatures { bits: 0 },
        LayoutError::Mode { found: 0 },
        LayoutError::Capacity { found: 0 },
        LayoutError::OverflowCapacity { found: 0 },
        LayoutError::ProducerSlots { found: 0 },
        LayoutError::EntryFormat {
            expected: 0,
            found: 0,
        },
        LayoutError::EntrySize {
            expected: 0,
            found: 0,
        },
        LayoutError::EntryAlign {
            expected: 0,
            found: 0,
        },
        LayoutError::SlotLayout {
            stride: 0,
            found_stride: 0,
            found_payload_offset: 0,
        },
        LayoutError::RegionLength {
            found: 0,
            available: 0,
        },
        LayoutError::Block {
            block: "",
            offset: 0,
            len: 0,
        },
        LayoutError::FeatureWithout {
            feature: "",
            requires: "",
        },
        LayoutError::BlockLength {
            block: "",
            expected: 0,
            found: 0,
        },
        LayoutError::PackedSlots {
            mode: 0,
            overflow: false,
        },
        LayoutError::ModeMismatch {
            expected: 0,
            found: 0,
        },
    ];
    let corruption = [
        Corruption::IndicesOutOfRange { tail: 0, head: 0 },
        Corruption::SlotSequence {
            position: 0,
            seq: 0,
        },
        Corruption::Stalled { position: 0 },
        Corruption::Livelock,
    ];
    let claim = [
        ClaimError::Busy {
            side: ring_core::Side::Producer,
            owner: 0,
        },
        ClaimError::Closed,
        ClaimError::TooManyProducers { limit: 0 },
        ClaimError::Corrupt(Corruption::Livelock),
        ClaimError::NoProducerRecord { records: 0 },
    ];
    let name = |dbg: String, prefix: &str| {
        let end = dbg
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(dbg.len());
        format!("{prefix}::{}", &dbg[..end])
    };
    let mut v: Vec<String> = layout
        .iter()
        .map(|e| name(format!("{e:?}"), "LayoutError"))
        .collect();
    v.extend(
        corruption
            .iter()
            .map(|e| name(format!("{e:?}"), "Corruption")),
    );
    v.extend(claim.iter().map(|e| name(format!("{e:?}"), "ClaimError")));
    v
}

#[test]
fn cited_error_variants_exist() {
    let known = error_variants();
    for (doc, md) in [("LAYOUT.md", layout_md()), ("PROTOCOL.md", protocol_md())] {
        for prefix in ["LayoutError::", "Corruption::", "ClaimError::"] {
            for (i, _) in md.match_indices(prefix) {
                let rest = &md[i + prefix.len()..];
                let end = rest
                    .find(|c: char| !c.is_alphanumeric() && c != '_')
                    .unwrap_or(rest.len());
                let cited = format!("{prefix}{}", &rest[..end]);
                assert!(
                    known.contains(&cited),
                    "{doc} cites {cited}, which does not exist"
                );
            }
        }
    }
    // The attach-check table names variants without the enum prefix: check those too.
    let md = layout_md();
    let lines: Vec<&str> = md.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("## 9. Attach checks"))
        .expect("LAYOUT.md must have the section `## 9. Attach checks`");
    let table = lines[start..]
        .iter()
        .position(|l| l.trim_start().starts_with("| # |"))
        .map(|p| start + p)
        .expect("attach checks table");
    let mut cited = Vec::new();
    for (i, row) in lines[table + 2..]
        .iter()
        .take_while(|l| l.trim_start().starts_with('|'))
        .enumerate()
    {
        let c = cells(row);
        assert_eq!(
            parse_num(&c[0]),
            i as u64 + 1,
            "attach checks numbered 1, 2, ..."
        );
        let err = c.last().unwrap();
        let err = err.trim_start_matches('`');
        let end = err
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(err.len());
        let v = format!("LayoutError::{}", &err[..end]);
        assert!(known.contains(&v), "attach check cites unknown {v}");
        cited.push(v);
    }
    // The checks `format::attach` makes, in its order (checks 1 to 25), then
    // `Ring::attach_mode`'s (check 26).
    let expected = [
        "Misaligned",
        "RegionTooShort",
        "BadMagic",
        "UnsupportedVersion",
        "HeaderLength",
        "UnknownIncompatFeatures",
        "UnknownReadOnlyFeatures",
        "Mode",
        "Capacity",
        "EntryFormat",
        "EntrySize",
        "EntryAlign",
        "SlotLayout",
        "RegionTooShort",
        "RegionLength",
        "Block",
        "Block",
        "OverflowCapacity",
        "ProducerSlots",
        "BlockLength",
        "BlockLength",
        "BlockLength",
        "BlockLength",
        "FeatureWithout",
        "PackedSlots",
        "ModeMismatch",
    ]
    .map(|v| format!("LayoutError::{v}"));
    assert_eq!(
        cited, expected,
        "attach checks table must list the 26 checks of `attach` in order"
    );
}

/// Section 8, step 4 and attach check 24: a ring without the wait block gets no
/// `INCOMPAT_WAIT_TARGET`, and a header that sets it without `INCOMPAT_WAIT` is refused with
/// `FeatureWithout` (after every block-length check has passed).
#[test]
fn wait_target_without_the_wait_block_is_refused() {
    let h = spec_offsets(&layout_md(), "Header");
    let cfg = Config::new(4).mode(Mode::Spsc).wait(false);
    let len = cfg.region_len::<u64>().unwrap() as usize;
    let buf = Buffer::new(len, 0);
    ring_core::format::<u64>(&buf.region(), &cfg, 7, true).unwrap();
    let incompat = u64_at(buf.bytes(), h["incompat"]);
    assert_eq!(
        incompat,
        spec_incompat(false, false, false, false) | spec_constant("features::INCOMPAT_PACKED")
    );
    assert!(ring_core::attach::<u64>(&buf.region()).is_ok());

    let bad = incompat | spec_constant("features::INCOMPAT_WAIT_TARGET");
    // SAFETY: `h["incompat"]` is the 8-byte-aligned offset of `incompat` inside the buffer's
    // `len` bytes (checked against the struct by `layout_tables_match_the_structs`), and no
    // other thread uses the buffer.
    unsafe {
        buf.ptr
            .as_ptr()
            .add(h["incompat"])
            .cast::<u64>()
            .write(bad.to_le());
    }
    assert_eq!(
        ring_core::attach::<u64>(&buf.region()).unwrap_err(),
        LayoutError::FeatureWithout {
            feature: "INCOMPAT_WAIT_TARGET",
            requires: "INCOMPAT_WAIT",
        }
    );
}
