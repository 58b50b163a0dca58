/work/main/target/debug/deps/ring_core-073892138ec09ec9.d: ring-core/src/lib.rs ring-core/src/entry.rs ring-core/src/error.rs ring-core/src/format.rs ring-core/src/layout.rs ring-core/src/protocol/mod.rs ring-core/src/protocol/lap.rs ring-core/src/protocol/spsc.rs ring-core/src/region.rs ring-core/src/ring.rs ring-core/src/sync.rs Cargo.toml

/work/main/target/debug/deps/libring_core-073892138ec09ec9.rmeta: ring-core/src/lib.rs ring-core/src/entry.rs ring-core/src/error.rs ring-core/src/format.rs ring-core/src/layout.rs ring-core/src/protocol/mod.rs ring-core/src/protocol/lap.rs ring-core/src/protocol/spsc.rs ring-core/src/region.rs ring-core/src/ring.rs ring-core/src/sync.rs Cargo.toml

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
Cargo.toml:

# env-dep:CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# env-dep:CLIPPY_CONF_DIR
