/work/main/target/debug/deps/loom_tests-30ac9f72a3da9938.d: loom-tests/src/lib.rs Cargo.toml

/work/main/target/debug/deps/libloom_tests-30ac9f72a3da9938.rmeta: loom-tests/src/lib.rs Cargo.toml

loom-tests/src/lib.rs:
Cargo.toml:

# env-dep:CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# env-dep:CLIPPY_CONF_DIR
