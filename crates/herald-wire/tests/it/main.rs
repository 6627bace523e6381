//! herald-wire's integration tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod cms;
mod efgs;
mod export;
mod fuzz_corpus;
