//! loom model checks of ring-core; see tests/.
