//! Integration tests of the verification service: the storage contract on both backends, and
//! the HTTP API over real TLS on 127.0.0.1 (happy path, abuse suite, chaff, logs, and the end
//! to end flow with a dev key server).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::too_many_lines,
    missing_docs
)]

mod abuse;
mod api;
mod browser;
mod fuzz_corpus;
mod guessing;
mod logs;
mod pages;
mod portal;
mod portal_login;
mod store;
mod support;
mod web;
