//! The scoring configuration: what an app passes as `DailySummariesConfig`,
//! `DiagnosisKeysDataMapping` and the v1 `ExposureConfiguration`, loadable from JSON.
//!
//! The JSON uses the Android API's camelCase names, so a configuration written for the reference
//! (or the vector file's `v2.config`) loads as it is. Maps keyed by report type or infectiousness
//! take the numeric value as the key (`"1"` for CONFIRMED_TEST). Unknown fields are refused.
//!
//! ```json
//! {
//!   "attenuationBucketThresholdDb": [55, 67, 75],
//!   "attenuationBucketWeights": [1.75, 1.0, 0.33, 0.0],
//!   "reportTypeWeights": {"1": 1.0, "2": 1.0, "3": 0.0, "4": 0.0},
//!   "infectiousnessWeights": {"1": 0.3, "2": 1.0},
//!   "minimumWindowScore": 0.0,
//!   "daysSinceExposureThreshold": 0,
//!   "daysSinceOnsetToInfectiousness": {"-2": 2, "0": 2},
//!   "infectiousnessWhenDaysSinceOnsetMissing": 1,
//!   "reportTypeWhenMissing": 1,
//!   "v1": {"attenuationScores": [1,2,3,4,5,6,7,8], "durationAtAttenuationThresholds": [50, 74]}
//! }
//! ```

use std::collections::BTreeMap;

use herald_model::ReportType;
use serde::Deserialize;

/// GAEN infectiousness of a key's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Infectiousness {
    /// Not infectious (0).
    #[default]
    None = 0,
    /// Standard (1).
    Standard = 1,
    /// High (2).
    High = 2,
}

impl Infectiousness {
    fn parse(value: i64) -> Result<Self, ConfigError> {
        match value {
            0 => Ok(Self::None),
            1 => Ok(Self::Standard),
            2 => Ok(Self::High),
            _ => {
                Err(ConfigError::Invalid(format!("infectiousness must be 0, 1 or 2, got {value}")))
            }
        }
    }
}

/// Why a scoring configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not JSON of the expected shape.
    #[error("risk configuration is not valid JSON of the expected shape: {0}")]
    Json(String),
    /// A value outside what the API allows.
    #[error("risk configuration: {0}")]
    Invalid(String),
}

/// v2 settings (`DailySummariesConfig` + `DiagnosisKeysDataMapping`), validated.
#[derive(Debug, Clone, PartialEq)]
pub struct V2Config {
    /// Inclusive upper bounds of the IMMEDIATE, NEAR and MEDIUM buckets, strictly increasing.
    pub attenuation_bucket_thresholds_db: [u8; 3],
    /// Weights of IMMEDIATE, NEAR, MEDIUM, OTHER.
    pub attenuation_bucket_weights: [f64; 4],
    /// Weight per report type (index = wire value).
    pub report_type_weights: [f64; 6],
    /// Weight per infectiousness (index 0 NONE is always 0).
    pub infectiousness_weights: [f64; 3],
    /// Windows scoring below this are skipped entirely.
    pub minimum_window_score: f64,
    /// Windows older than this many days are ignored (0 = off).
    pub days_since_exposure_threshold: u32,
    /// Infectiousness for days since onset −14..=14 (index = dsos + 14).
    pub days_since_onset_to_infectiousness: [Infectiousness; 29],
    /// Infectiousness of keys without days since onset.
    pub infectiousness_when_days_since_onset_missing: Infectiousness,
    /// Report type for keys whose report type is UNKNOWN.
    pub report_type_when_missing: ReportType,
}

/// v1 settings (`ExposureConfiguration`), validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Config {
    /// Scores for attenuation buckets (index 0: > 73 dB … 7: ≤ 10 dB).
    pub attenuation_scores: [u8; 8],
    /// Scores for days since exposure (index 0: ≥ 14 days … 7: < 2 days).
    pub days_since_last_exposure_scores: [u8; 8],
    /// Scores for duration (index 0: 0 min … 7: > 30 min).
    pub duration_scores: [u8; 8],
    /// Scores for transmission risk levels 1..=8 (TRL 0 contributes 1).
    pub transmission_risk_scores: [u8; 8],
    /// Thresholds splitting `attenuationDurations` into below / between / above.
    pub duration_at_attenuation_thresholds: [u8; 2],
    /// Exposures scoring below this get risk score 0.
    pub minimum_risk_score: u8,
}

/// The whole scoring configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoringConfig {
    /// v2 (ExposureWindow) settings.
    pub v2: V2Config,
    /// v1 (`ExposureSummary`) settings.
    pub v1: V1Config,
}

impl Default for V2Config {
    /// LFPH "Narrow Net v2" (Aug 2021) with the recommended infectiousness map.
    fn default() -> Self {
        let mut map = [Infectiousness::None; 29];
        for (dsos, inf) in [
            (-4, Infectiousness::Standard),
            (-3, Infectiousness::Standard),
            (-2, Infectiousness::High),
            (-1, Infectiousness::High),
            (0, Infectiousness::High),
            (1, Infectiousness::High),
            (2, Infectiousness::High),
            (3, Infectiousness::High),
            (4, Infectiousness::Standard),
            (5, Infectiousness::Standard),
        ] {
            if let Some(slot) = usize::try_from(dsos + 14).ok().and_then(|i| map.get_mut(i)) {
                *slot = inf;
            }
        }
        Self {
            attenuation_bucket_thresholds_db: [55, 67, 75],
            attenuation_bucket_weights: [1.75, 1.0, 0.33, 0.0],
            report_type_weights: [0.0, 1.0, 1.0, 0.0, 0.0, 0.0],
            infectiousness_weights: [0.0, 0.3, 1.0],
            minimum_window_score: 0.0,
            days_since_exposure_threshold: 0,
            days_since_onset_to_infectiousness: map,
            infectiousness_when_days_since_onset_missing: Infectiousness::Standard,
            report_type_when_missing: ReportType::ConfirmedTest,
        }
    }
}

impl Default for V1Config {
    /// Ascending scores 1..=8 in every table (closer, more recent, longer, riskier score
    /// higher), Android's default thresholds `[50, 74]`, no minimum.
    fn default() -> Self {
        let ascending = [1, 2, 3, 4, 5, 6, 7, 8];
        Self {
            attenuation_scores: ascending,
            days_since_last_exposure_scores: ascending,
            duration_scores: ascending,
            transmission_risk_scores: ascending,
            duration_at_attenuation_thresholds: [50, 74],
            minimum_risk_score: 0,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    attenuation_bucket_threshold_db: Option<Vec<i64>>,
    attenuation_bucket_weights: Option<Vec<f64>>,
    report_type_weights: Option<BTreeMap<String, f64>>,
    infectiousness_weights: Option<BTreeMap<String, f64>>,
    minimum_window_score: Option<f64>,
    days_since_exposure_threshold: Option<i64>,
    days_since_onset_to_infectiousness: Option<BTreeMap<String, i64>>,
    infectiousness_when_days_since_onset_missing: Option<i64>,
    report_type_when_missing: Option<i64>,
    v1: Option<RawV1>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawV1 {
    attenuation_scores: Option<Vec<i64>>,
    days_since_last_exposure_scores: Option<Vec<i64>>,
    duration_scores: Option<Vec<i64>>,
    transmission_risk_scores: Option<Vec<i64>>,
    duration_at_attenuation_thresholds: Option<Vec<i64>>,
    minimum_risk_score: Option<i64>,
}

fn invalid(msg: String) -> ConfigError {
    ConfigError::Invalid(msg)
}

fn weight(name: &str, w: f64) -> Result<f64, ConfigError> {
    if (0.0..=2.5).contains(&w) {
        Ok(w)
    } else {
        Err(invalid(format!("{name}: weights must be in 0..=2.5, got {w}")))
    }
}

fn weights<const N: usize>(name: &str, values: &[f64]) -> Result<[f64; N], ConfigError> {
    let arr: [f64; N] = values
        .try_into()
        .map_err(|_| invalid(format!("{name} must have {N} entries, got {}", values.len())))?;
    for w in arr {
        weight(name, w)?;
    }
    Ok(arr)
}

fn byte_array<const N: usize>(name: &str, values: &[i64], max: u8) -> Result<[u8; N], ConfigError> {
    let mut out = [0u8; N];
    if values.len() != N {
        return Err(invalid(format!("{name} must have {N} entries, got {}", values.len())));
    }
    for (o, v) in out.iter_mut().zip(values) {
        *o = u8::try_from(*v)
            .ok()
            .filter(|b| *b <= max)
            .ok_or_else(|| invalid(format!("{name}: values must be in 0..={max}, got {v}")))?;
    }
    Ok(out)
}

fn map_key(name: &str, key: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    key.trim()
        .parse::<i64>()
        .ok()
        .filter(|k| (min..=max).contains(k))
        .ok_or_else(|| invalid(format!("{name}: key {key:?} must be a number in {min}..={max}")))
}

fn report_type(name: &str, value: i64) -> Result<ReportType, ConfigError> {
    i32::try_from(value)
        .ok()
        .and_then(|v| ReportType::new(v).ok())
        .ok_or_else(|| invalid(format!("{name} must be a report type 0..=5, got {value}")))
}

impl ScoringConfig {
    /// Parses and validates JSON; fields left out keep their defaults.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig =
            serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
        let mut config = Self::default();
        let v2 = &mut config.v2;
        if let Some(t) = raw.attenuation_bucket_threshold_db {
            let t = byte_array::<3>("attenuationBucketThresholdDb", &t, 255)?;
            if !(t[0] < t[1] && t[1] < t[2]) {
                return Err(invalid(format!(
                    "attenuationBucketThresholdDb must be strictly increasing, got {t:?}"
                )));
            }
            v2.attenuation_bucket_thresholds_db = t;
        }
        if let Some(w) = raw.attenuation_bucket_weights {
            v2.attenuation_bucket_weights = weights::<4>("attenuationBucketWeights", &w)?;
        }
        if let Some(map) = raw.report_type_weights {
            v2.report_type_weights = [0.0; 6];
            for (k, w) in map {
                let rt = map_key("reportTypeWeights", &k, 0, 5)?;
                if let Some(slot) =
                    usize::try_from(rt).ok().and_then(|i| v2.report_type_weights.get_mut(i))
                {
                    *slot = weight("reportTypeWeights", w)?;
                }
            }
        }
        if let Some(map) = raw.infectiousness_weights {
            v2.infectiousness_weights = [0.0; 3];
            for (k, w) in map {
                let inf = map_key("infectiousnessWeights", &k, 1, 2)?;
                if let Some(slot) =
                    usize::try_from(inf).ok().and_then(|i| v2.infectiousness_weights.get_mut(i))
                {
                    *slot = weight("infectiousnessWeights", w)?;
                }
            }
        }
        if let Some(m) = raw.minimum_window_score {
            if !(m >= 0.0 && m.is_finite()) {
                return Err(invalid(format!(
                    "minimumWindowScore must be a finite number ≥ 0, got {m}"
                )));
            }
            v2.minimum_window_score = m;
        }
        if let Some(d) = raw.days_since_exposure_threshold {
            v2.days_since_exposure_threshold =
                u32::try_from(d).ok().filter(|d| *d <= 30).ok_or_else(|| {
                    invalid(format!("daysSinceExposureThreshold must be in 0..=30, got {d}"))
                })?;
        }
        if let Some(map) = raw.days_since_onset_to_infectiousness {
            v2.days_since_onset_to_infectiousness = [Infectiousness::None; 29];
            for (k, v) in map {
                let dsos = map_key("daysSinceOnsetToInfectiousness", &k, -14, 14)?;
                if let Some(slot) = usize::try_from(dsos + 14)
                    .ok()
                    .and_then(|i| v2.days_since_onset_to_infectiousness.get_mut(i))
                {
                    *slot = Infectiousness::parse(v)?;
                }
            }
        }
        if let Some(v) = raw.infectiousness_when_days_since_onset_missing {
            v2.infectiousness_when_days_since_onset_missing = Infectiousness::parse(v)?;
        }
        if let Some(v) = raw.report_type_when_missing {
            let rt = report_type("reportTypeWhenMissing", v)?;
            if matches!(rt, ReportType::Unknown | ReportType::Revoked) {
                return Err(invalid(
                    "reportTypeWhenMissing cannot be UNKNOWN (0) or REVOKED (5)".into(),
                ));
            }
            v2.report_type_when_missing = rt;
        }
        if let Some(v1) = raw.v1 {
            apply_v1(v1, &mut config.v1)?;
        }
        Ok(config)
    }
}

fn apply_v1(v1: RawV1, c: &mut V1Config) -> Result<(), ConfigError> {
    if let Some(s) = v1.attenuation_scores {
        c.attenuation_scores = byte_array("v1.attenuationScores", &s, 8)?;
    }
    if let Some(s) = v1.days_since_last_exposure_scores {
        c.days_since_last_exposure_scores = byte_array("v1.daysSinceLastExposureScores", &s, 8)?;
    }
    if let Some(s) = v1.duration_scores {
        c.duration_scores = byte_array("v1.durationScores", &s, 8)?;
    }
    if let Some(s) = v1.transmission_risk_scores {
        c.transmission_risk_scores = byte_array("v1.transmissionRiskScores", &s, 8)?;
    }
    if let Some(t) = v1.duration_at_attenuation_thresholds {
        let t = byte_array::<2>("v1.durationAtAttenuationThresholds", &t, 255)?;
        if t[0] > t[1] {
            return Err(invalid(format!(
                "v1.durationAtAttenuationThresholds must not decrease, got {t:?}"
            )));
        }
        c.duration_at_attenuation_thresholds = t;
    }
    if let Some(m) = v1.minimum_risk_score {
        c.minimum_risk_score = u8::try_from(m)
            .map_err(|_| invalid(format!("v1.minimumRiskScore must be in 0..=255, got {m}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_gives_defaults() {
        assert_eq!(ScoringConfig::from_json("{}").unwrap(), ScoringConfig::default());
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        for (json, needle) in [
            ("[]", "JSON"),
            (r#"{"attenuationBucketThresholdDb": [55, 55, 75]}"#, "strictly increasing"),
            (r#"{"attenuationBucketThresholdDb": [55, 67]}"#, "3 entries"),
            (r#"{"attenuationBucketThresholdDb": [55, 67, 256]}"#, "0..=255"),
            (r#"{"attenuationBucketWeights": [1, 1, 1, 2.6]}"#, "0..=2.5"),
            (r#"{"attenuationBucketWeights": [1, 1, 1, -0.1]}"#, "0..=2.5"),
            (r#"{"reportTypeWeights": {"7": 1.0}}"#, "key \"7\""),
            (r#"{"reportTypeWeights": {"x": 1.0}}"#, "key \"x\""),
            (r#"{"infectiousnessWeights": {"0": 1.0}}"#, "1..=2"),
            (r#"{"daysSinceOnsetToInfectiousness": {"15": 1}}"#, "-14..=14"),
            (r#"{"daysSinceOnsetToInfectiousness": {"1": 3}}"#, "0, 1 or 2"),
            (r#"{"reportTypeWhenMissing": 0}"#, "UNKNOWN"),
            (r#"{"minimumWindowScore": -1}"#, "≥ 0"),
            (r#"{"daysSinceExposureThreshold": 99}"#, "0..=30"),
            (r#"{"attenuationWeights": [1]}"#, "unknown field"),
            (r#"{"v1": {"attenuationScores": [1,2,3,4,5,6,7,9]}}"#, "0..=8"),
            (r#"{"v1": {"durationAtAttenuationThresholds": [74, 50]}}"#, "must not decrease"),
        ] {
            let err = ScoringConfig::from_json(json).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }
}
