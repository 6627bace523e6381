//! herald-gaen's integration tests, against the published vectors in `shared/testdata`.

// Test helpers may panic: a panic is a failed test. Vectors are quoted as published, unseparated.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreadable_literal,
    clippy::many_single_char_names
)]

mod crypto;
mod fuzz_corpus;
mod matching;
mod scoring;
