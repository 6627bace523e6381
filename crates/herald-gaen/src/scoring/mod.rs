//! Risk scoring over matched sightings: v2 ExposureWindows and DailySummaries ([`v2`]), v1
//! ExposureInformation and ExposureSummary ([`v1`]), configured by [`ScoringConfig`].
//!
//! Semantics follow the Android reference (gaen-client.md §4, §5). Deliberate choices where the
//! references disagree or leave it open, each tested:
//! - Windows whose infectiousness is NONE are dropped before summaries: they are not exposures
//!   (`DiagnosisKeysDataMapping` javadoc). The reference `DailySummaryUtils` would still add their
//!   weighted duration when `minimumWindowScore` is 0.
//! - v1 scan aggregation (keep the strongest sighting per 25.5 s scan) runs on sightings that
//!   already passed the TX-power check. The reference aggregates first and then drops the scan if
//!   its strongest sighting carried a forged AEM, which lets one forged packet erase a genuine
//!   scan.
//! - v1 summary attenuation durations are capped at 30 minutes each, as the API documents.

pub mod config;
pub mod v1;
pub mod v2;

pub use config::{ConfigError, Infectiousness, ScoringConfig, V1Config, V2Config};
pub use v1::{ExposureInformation, ExposureSummary};
pub use v2::{DailySummary, ExposureWindow, ScanInstance, SummaryData};

/// Java's `Math.round` for non-negative doubles: `floor(x + 0.5)`, saturating into u8.
pub fn java_round(x: f64) -> u8 {
    let r = (x + 0.5).floor();
    if r <= 0.0 {
        0
    } else if r >= 255.0 {
        255
    } else {
        // In 0..255 after the checks above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let v = r as u8;
        v
    }
}
