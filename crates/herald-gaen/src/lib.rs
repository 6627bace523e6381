//! herald's phone-side GAEN core: what a phone does with exposure keys.
//!
//! - [`crypto`]: TEK generation, RPIK/RPI, AEMK/AEM, Bluetooth metadata (gaen-client.md §1).
//! - [`matching`]: diagnosis keys against sightings with the OS rules (§3).
//! - [`scoring`]: v2 ExposureWindows and DailySummaries, v1 ExposureSummary (§4, §5).
//! - [`sightings`]: the `sightings.jsonl` format of a phone's BLE sightings.
//!
//! **Architecture Invariant:** this crate is pure. It performs no I/O, reads no clock and draws
//! no randomness of its own: time and RNGs are parameters. It never depends on tokio, sqlx,
//! axum or hyper (checked by a test in the `herald` crate). Multi-core matching is an opt-in
//! feature (`parallel`, rayon), not a runtime.

pub mod crypto;
pub mod matching;
pub mod scoring;
pub mod sightings;

#[doc(hidden)]
pub mod fuzzing;

pub use crypto::{Aem, AemKey, Metadata, Rpi, RpiGenerator, RpiKey, generate_tek, padded_data};
pub use matching::{
    KeyIndex, KeyMatch, MatchConfig, MatchedSighting, Matcher, Platform, Sighting, SightingIndex,
};
pub use scoring::ScoringConfig;
