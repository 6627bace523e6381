//! Exposure checks: the phone's sightings matched against diagnosis keys with the OS rules
//! (herald-gaen: TX-power bounds, ±2 h tolerance, replay guard), v2 exposure windows and daily
//! summaries, and the app's notification decision.

use herald_gaen::scoring::v2::ExposureWindow;
use herald_gaen::scoring::{ScoringConfig, v2};
use herald_gaen::{KeyMatch, MatchConfig, Matcher, Sighting};
use herald_model::{DiagnosisKey, UnixTime};

/// How a phone scores and when it warns.
#[derive(Debug, Clone)]
pub struct RiskPolicy {
    /// The risk configuration (default: LFPH "Narrow Net v2").
    pub scoring: ScoringConfig,
    /// The matching rules (default: Android's).
    pub matching: MatchConfig,
    /// A day whose summed window score reaches this warns (the default, 900, is 15 minutes of
    /// weighted exposure, the common "close contact" definition).
    pub notify_score: f64,
}

impl Default for RiskPolicy {
    fn default() -> Self {
        Self {
            scoring: ScoringConfig::default(),
            matching: MatchConfig::default(),
            notify_score: 900.0,
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Diagnosis keys that matched at least one sighting.
    pub matched_keys: usize,
    /// Daily summaries (v2), oldest day first.
    pub daily: Vec<v2::DailySummary>,
    /// The most recent day whose score sum reached the threshold.
    pub exposure_day: Option<i64>,
    /// Whether the app warns its user now.
    pub notify: bool,
}

/// Matches `keys` against `sightings` and decides.
pub fn assess(
    sightings: &[Sighting],
    keys: &[DiagnosisKey],
    policy: &RiskPolicy,
    now: UnixTime,
) -> Assessment {
    if sightings.is_empty() || keys.is_empty() {
        return decide(0, &[], policy, now);
    }
    let index = Matcher::new(sightings.to_vec(), policy.matching);
    let found: Vec<_> = index.match_keys(keys.iter()).collect();
    let windows = windows_of(&found, policy);
    decide(found.len(), &windows, policy, now)
}

/// The v2 exposure windows of matched keys.
pub fn windows_of(found: &[KeyMatch], policy: &RiskPolicy) -> Vec<ExposureWindow> {
    found.iter().flat_map(|m| v2::exposure_windows(m, &policy.scoring.v2)).collect()
}

/// Daily summaries of `windows` and the decision; `matched_keys` is reported as given.
pub fn decide(
    matched_keys: usize,
    windows: &[ExposureWindow],
    policy: &RiskPolicy,
    now: UnixTime,
) -> Assessment {
    let daily = v2::daily_summaries(windows, &policy.scoring.v2, now);
    let exposure_day = daily
        .iter()
        .filter(|d| d.summary_data.score_sum >= policy.notify_score)
        .map(|d| d.days_since_epoch)
        .max();
    Assessment { matched_keys, daily, exposure_day, notify: exposure_day.is_some() }
}
