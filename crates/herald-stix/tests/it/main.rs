//! herald-stix's integration tests.

// Tests may panic (a panic is a failed test) and index what they built themselves.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "tests: a panic is a failed test"
)]

mod fuzz_corpus;
mod oracle;
mod pattern;
