/work/main/target/debug/deps/loom_tests-a7b169db97682f6f.d: loom-tests/src/lib.rs

/work/main/target/debug/deps/libloom_tests-a7b169db97682f6f.rlib: loom-tests/src/lib.rs

/work/main/target/debug/deps/libloom_tests-a7b169db97682f6f.rmeta: loom-tests/src/lib.rs

loom-tests/src/lib.rs:
