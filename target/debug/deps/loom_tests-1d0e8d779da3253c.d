/work/main/target/debug/deps/loom_tests-1d0e8d779da3253c.d: loom-tests/src/lib.rs Cargo.toml

/work/main/target/debug/deps/libloom_tests-1d0e8d779da3253c.rmeta: loom-tests/src/lib.rs Cargo.toml

loom-tests/src/lib.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# env-dep:CLIPPY_CONF_DIR
