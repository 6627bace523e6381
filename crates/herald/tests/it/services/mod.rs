//! Services together: the tests that bring up more than one service crate (a gateway and key
//! servers; a verifier and a key server). They live here, in the crate that may depend on every
//! service, so that no service crate depends on another, not even for its tests. The app side
//! of publishing (`client.rs`) and the verifier's test world (`support.rs`, `web.rs`) are the
//! services' own test helpers, shared by path rather than copied.

// Each suite's helpers are shared whole; not every helper is used here.
#![allow(dead_code)]

#[path = "../../../../herald-keyserver/tests/it/client.rs"]
mod client;
#[path = "../../../../herald-verifier/tests/it/support.rs"]
mod support;
#[path = "../../../../herald-verifier/tests/it/web.rs"]
mod web;

mod federation;
mod keyserver_e2e;
mod scale_out;
mod verifier_e2e;
mod world;
