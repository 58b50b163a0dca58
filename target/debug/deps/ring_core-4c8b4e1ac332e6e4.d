/work/main/target/debug/deps/ring_core-4c8b4e1ac332e6e4.d: ring-core/src/lib.rs ring-core/src/entry.rs ring-core/src/error.rs ring-core/src/format.rs ring-core/src/layout.rs ring-core/src/protocol/mod.rs ring-core/src/protocol/lap.rs ring-core/src/protocol/spsc.rs ring-core/src/region.rs ring-core/src/ring.rs ring-core/src/sync.rs

/work/main/target/debug/deps/libring_core-4c8b4e1ac332e6e4.rlib: ring-core/src/lib.rs ring-core/src/entry.rs ring-core/src/error.rs ring-core/src/format.rs ring-core/src/layout.rs ring-core/src/protocol/mod.rs ring-core/src/protocol/lap.rs ring-core/src/protocol/spsc.rs ring-core/src/region.rs ring-core/src/ring.rs ring-core/src/sync.rs

/work/main/target/debug/deps/libring_core-4c8b4e1ac332e6e4.rmeta: ring-core/src/lib.rs ring-core/src/entry.rs ring-core/src/error.rs ring-core/src/format.rs ring-core/src/layout.rs ring-core/src/protocol/mod.rs ring-core/src/protocol/lap.rs ring-core/src/protocol/spsc.rs ring-core/src/region.rs ring-core/src/ring.rs ring-core/src/sync.rs

ring-core/src/lib.rs:
ring-core/src/entry.rs:
ring-core/src/error.rs:
ring-core/src/format.rs:
ring-core/src/layout.rs:
ring-core/src/protocol/mod.rs:
ring-core/src/protocol/lap.rs:
ring-core/src/protocol/spsc.rs:
ring-core/src/region.rs:
ring-core/src/ring.rs:
ring-core/src/sync.rs:
