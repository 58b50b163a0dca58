//! The two-process test harness of the ring-core integration tests: the workspace's `testkit`
//! crate (spawn self, role by environment, bounded waits, `/dev/shm` guard), re-exported so
//! that each test file keeps declaring `mod common;` and naming `common::...`.

pub use testkit::*;
