//! Checks spec/LAYOUT.md and spec/PROTOCOL.md against the code.
//!
//! - Every `<!-- layout: NAME SIZE -->` table: the struct's size, every field in order, each
//!   field's offset (`offset_of!`) and size, and that the rows tile the struct without gaps.
//! - Every `<!-- constants -->` table: exactly the constants listed here, with the code's values.
//! - The `<!-- lap-tag-example CAP INIT -->` table and the header offsets, against the bytes that
//!   `format` actually writes (read back as little-endian).
//! - Every `LayoutError::X`, `Corruption::X` and `ClaimError::X` the documents name exists.
//!
//! The test fails whenever the documents and the code diverge.

use core::mem::{offset_of, size_of};
use ring_core::layout::{
    self, entry_format, features, mode_bits, slot_meta, Block, BlockEntry, ConsumerLine, Header,
    ProducerLine, Slot,
};
use ring_core::protocol::RETRY_BUDGET;
use ring_core::{ClaimError, Completion, Config, Corruption, LayoutError, Mode, Region, Ring};
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
                    reserved
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
        ("features::COMPAT_WAIT", features::COMPAT_WAIT),
        ("features::INCOMPAT_KNOWN", features::INCOMPAT_KNOWN),
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
        ("RETRY_BUDGET", RETRY_BUDGET.into()),
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

#[test]
fn format_writes_what_the_spec_says() {
    let md = layout_md();
    let lines: Vec<&str> = md.lines().collect();
    let marker = lines
        .iter()
        .position(|l| l.trim().starts_with("<!-- lap-tag-example "))
        .expect("LAYOUT.md must have a `<!-- lap-tag-example CAP INIT -->` table");
    let args: Vec<u64> = lines[marker]
        .trim()
        .trim_start_matches("<!-- lap-tag-example ")
        .trim_end_matches("-->")
        .split_whitespace()
        .map(parse_num)
        .collect();
    let [cap, init] = args[..] else {
        panic!("marker must be `<!-- lap-tag-example CAP INIT -->`");
    };
    let (cap, init) = (cap as u32, init as u32);
    let example = table_after(&lines, marker, &["slot", "seq"]);
    assert_eq!(example.len(), cap as usize, "one row per slot");

    let cfg = Config::new(cap).mode(Mode::Mpsc).initial_index(init);
    let len = cfg.region_len::<u64>().unwrap() as usize;
    let ring = Ring::<u64>::create(Region::heap(len).unwrap(), cfg).unwrap();
    // SAFETY: the region is `len` bytes, mapped for as long as `ring` lives, and no other
    // thread or process uses it while we read it.
    let mem = unsafe { std::slice::from_raw_parts(ring.memory().as_ptr(), len) };

    // Header fields at the offsets the spec's Header table gives, little-endian.
    let spec = spec_structs(&md);
    let header = spec.iter().find(|s| s.name == "Header").unwrap();
    let at = |field: &str| {
        header
            .rows
            .iter()
            .find(|r| r.3 == field)
            .unwrap_or_else(|| panic!("Header.{field} missing"))
            .0
    };
    let u32_at = |field: &str| u32::from_le_bytes(bytes_at(mem, at(field)));
    let u64_at = |field: &str| u64::from_le_bytes(bytes_at(mem, at(field)));
    assert_eq!(&bytes_at::<8>(mem, at("magic")), b"CRINGv1\0");
    assert_eq!(u32_at("version_major"), 1);
    assert_eq!(u32_at("version_minor"), 0);
    assert_eq!(u32_at("header_len"), 256);
    assert_eq!(u32_at("mode"), Mode::Mpsc.bits());
    assert_eq!(u64_at("compat"), 0);
    assert_eq!(u64_at("incompat"), 0);
    assert_eq!(u64_at("ro_compat"), 0);
    assert_eq!(u32_at("capacity"), cap);
    assert_eq!(u32_at("entry_format"), entry_format::OPAQUE);
    assert_eq!(u32_at("entry_size"), 8);
    assert_eq!(u32_at("entry_align"), 8);
    assert_eq!(u32_at("slot_stride"), 16);
    assert_eq!(u32_at("payload_offset"), 8);
    assert_eq!(u64_at("region_len"), 512 + 16 * u64::from(cap));
    assert_eq!(u32_at("initial_index"), init);
    assert_eq!(u32_at("creator_pid"), std::process::id());
    let rows = [(256, 128), (384, 128), (512, 16 * u64::from(cap))];
    for i in 0..layout::BLOCK_COUNT {
        let row = at("blocks") + 16 * i;
        let off = u64::from_le_bytes(bytes_at(mem, row));
        let blen = u64::from_le_bytes(bytes_at(mem, row + 8));
        assert_eq!(
            (off, blen),
            rows.get(i).copied().unwrap_or((0, 0)),
            "row {i}"
        );
    }

    // Lines: indices start at initial_index, everything else zero.
    let tail = u32::from_le_bytes(bytes_at(mem, 256));
    let head = u32::from_le_bytes(bytes_at(mem, 384));
    assert_eq!((tail, head), (init, init));
    assert!(mem[256 + 4..384].iter().all(|&b| b == 0), "producer line");
    assert!(mem[384 + 4..512].iter().all(|&b| b == 0), "consumer line");

    // Lap tags: the spec's example and the formula.
    let mask = cap - 1;
    for (i, row) in example.iter().enumerate() {
        let i = i as u32;
        assert_eq!(
            parse_num(&row[0]),
            u64::from(i),
            "example rows in slot order"
        );
        let seq = u32::from_le_bytes(bytes_at(mem, 512 + 16 * i as usize));
        let meta = u32::from_le_bytes(bytes_at(mem, 512 + 16 * i as usize + 4));
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
        LayoutError::BlockLength {
            block: "",
            expected: 0,
            found: 0,
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
        ClaimError::Busy { owner: 0 },
        ClaimError::Corrupt(Corruption::Livelock),
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
    for row in lines[table + 2..]
        .iter()
        .take_while(|l| l.trim_start().starts_with('|'))
    {
        let c = cells(row);
        let err = c.last().unwrap();
        let err = err.trim_start_matches('`');
        let end = err
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(err.len());
        let v = format!("LayoutError::{}", &err[..end]);
        assert!(known.contains(&v), "attach check cites unknown {v}");
        cited.push(v);
    }
    assert_eq!(cited.len(), 19, "attach checks table must have 19 rows");
}
