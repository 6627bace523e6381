//! herald-stix against oracles we did not write (stix2, stix2-patterns, the STIX JSON schemas).

// Tests may panic (a panic is a failed test) and print their measurements.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    reason = "tests"
)]
#![allow(missing_docs, reason = "tests")]

mod fuzz_corpus;
mod object_rules;
mod objects;
mod oracle;
mod pattern;
mod schema;
mod sco_ids;
mod taxii;
