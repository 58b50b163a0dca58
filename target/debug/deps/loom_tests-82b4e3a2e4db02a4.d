/work/main/target/debug/deps/loom_tests-82b4e3a2e4db02a4.d: loom-tests/src/lib.rs

/work/main/target/debug/deps/libloom_tests-82b4e3a2e4db02a4.rlib: loom-tests/src/lib.rs

/work/main/target/debug/deps/libloom_tests-82b4e3a2e4db02a4.rmeta: loom-tests/src/lib.rs

loom-tests/src/lib.rs:
