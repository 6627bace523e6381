//! `keys.json`: a JSON array of diagnosis keys, the format herald's tools read and write.
//!
//! ```json
//! [{"key_data": "dcc0xt0aeC3nqWXaXrkxJQ==", "rolling_start_interval_number": 2642976,
//!   "rolling_period": 144, "transmission_risk_level": 4, "report_type": 1,
//!   "days_since_onset_of_symptoms": 0}]
//! ```
//!
//! `key_data` is standard Base64 of the 16 key bytes. `rolling_period` defaults to 144 and
//! `transmission_risk_level` to 0 when left out (as in the export protobuf); `report_type`
//! (0..=5, default 0 = unknown) and `days_since_onset_of_symptoms` (−14..=14) are optional.
//! Unknown fields are refused, so a typo never silently drops data.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_model::{
    DaysSinceOnset, DiagnosisKey, IntervalNumber, ModelError, ReportType, RollingPeriod,
    TemporaryExposureKey, TransmissionRiskLevel,
};
use serde::{Deserialize, Serialize};

/// Why a `keys.json` document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeysJsonError {
    /// Not a JSON array of key objects.
    #[error("keys JSON is malformed: {0}")]
    Json(String),
    /// One key is invalid.
    #[error("key {index}: {reason}")]
    Key {
        /// Position of the key in the array, from 0.
        index: usize,
        /// What is wrong with it.
        reason: KeyFieldError,
    },
}

/// What is wrong with one key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFieldError {
    /// `key_data` is not Base64.
    #[error("key_data is not valid Base64")]
    Base64,
    /// A field is out of range or the wrong size.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// One key as it appears in the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// Base64 of the 16 key bytes.
    pub key_data: String,
    /// ENIN of the first interval.
    pub rolling_start_interval_number: u32,
    /// Number of intervals (default 144).
    #[serde(default = "default_period")]
    pub rolling_period: u32,
    /// Deprecated risk level, 0..=8 (default 0).
    #[serde(default)]
    pub transmission_risk_level: i32,
    /// Report type 0..=5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_type: Option<i32>,
    /// Days since onset, −14..=14.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_since_onset_of_symptoms: Option<i32>,
}

fn default_period() -> u32 {
    144
}

impl KeyRecord {
    /// Validates the record into a diagnosis key.
    pub fn to_key(&self) -> Result<DiagnosisKey, KeyFieldError> {
        let bytes = STANDARD.decode(self.key_data.trim()).map_err(|_| KeyFieldError::Base64)?;
        Ok(DiagnosisKey {
            key: TemporaryExposureKey::from_slice(&bytes)?,
            rolling_start: IntervalNumber(self.rolling_start_interval_number),
            rolling_period: RollingPeriod::new(self.rolling_period)?,
            transmission_risk_level: TransmissionRiskLevel::new(self.transmission_risk_level)?,
            report_type: ReportType::new(self.report_type.unwrap_or(0))?,
            days_since_onset: self
                .days_since_onset_of_symptoms
                .map(DaysSinceOnset::new)
                .transpose()?,
        })
    }

    /// The record of a key (the inverse of [`Self::to_key`]).
    pub fn from_key(key: &DiagnosisKey) -> Self {
        Self {
            key_data: STANDARD.encode(key.key.as_bytes()),
            rolling_start_interval_number: key.rolling_start.get(),
            rolling_period: u32::from(key.rolling_period.get()),
            transmission_risk_level: i32::from(key.transmission_risk_level.get()),
            report_type: (key.report_type != ReportType::Unknown).then(|| key.report_type.wire()),
            days_since_onset_of_symptoms: key.days_since_onset.map(|d| i32::from(d.get())),
        }
    }
}

/// Parses a whole `keys.json` document.
pub fn parse(bytes: &[u8]) -> Result<Vec<DiagnosisKey>, KeysJsonError> {
    let records: Vec<KeyRecord> =
        serde_json::from_slice(bytes).map_err(|e| KeysJsonError::Json(e.to_string()))?;
    records
        .iter()
        .enumerate()
        .map(|(index, r)| r.to_key().map_err(|reason| KeysJsonError::Key { index, reason }))
        .collect()
}

/// Writes keys as a `keys.json` document (pretty, one key per line group).
pub fn to_string(keys: &[DiagnosisKey]) -> String {
    let records: Vec<KeyRecord> = keys.iter().map(KeyRecord::from_key).collect();
    // Serialising plain strings and integers cannot fail.
    serde_json::to_string_pretty(&records).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let keys = parse(
            br#"[{"key_data": "dcc0xt0aeC3nqWXaXrkxJQ==", "rolling_start_interval_number": 2642976,
            "rolling_period": 144, "transmission_risk_level": 4, "report_type": 1,
            "days_since_onset_of_symptoms": 0}]"#,
        )
        .unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key.to_hex(), "75c734c6dd1a782de7a965da5eb93125");
        assert_eq!(keys[0].report_type, ReportType::ConfirmedTest);
        assert_eq!(keys[0].days_since_onset.map(DaysSinceOnset::get), Some(0));
        let minimal = parse(
            br#"[{"key_data": "dcc0xt0aeC3nqWXaXrkxJQ==", "rolling_start_interval_number": 1}]"#,
        )
        .unwrap();
        assert_eq!(minimal[0].rolling_period, RollingPeriod::FULL_DAY);
        assert_eq!(minimal[0].report_type, ReportType::Unknown);
    }

    #[test]
    fn errors_name_the_key_and_the_field() {
        let k = r#""key_data": "dcc0xt0aeC3nqWXaXrkxJQ==", "rolling_start_interval_number": 1"#;
        for (json, needle) in [
            ("{}".to_string(), "malformed"),
            ("[1]".to_string(), "malformed"),
            (format!("[{{{k}}}, {{{k}, \"rolling_period\": 0}}]"), "key 1: rolling period must be in 1..=144, got 0"),
            (format!("[{{{k}, \"rolling_period\": 145}}]"), "key 0: rolling period"),
            (format!("[{{{k}, \"transmission_risk_level\": 9}}]"), "transmission risk level"),
            (format!("[{{{k}, \"report_type\": 6}}]"), "report type"),
            (format!("[{{{k}, \"days_since_onset_of_symptoms\": 15}}]"), "days since onset"),
            (format!("[{{{k}, \"extra\": 1}}]"), "unknown field"),
            (r#"[{"key_data": "AAAA", "rolling_start_interval_number": 1}]"#.to_string(), "key 0: temporary exposure key must be 16 bytes, got 3"),
            (r#"[{"key_data": "!!", "rolling_start_interval_number": 1}]"#.to_string(), "key 0: key_data is not valid Base64"),
            (r#"[{"key_data": "dcc0xt0aeC3nqWXaXrkxJQ==", "rolling_start_interval_number": -1}]"#.to_string(), "malformed"),
        ] {
            let err = parse(json.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }

    fn key_strategy() -> impl Strategy<Value = DiagnosisKey> {
        (
            any::<[u8; 16]>(),
            any::<u32>(),
            1u32..=144,
            0i32..=8,
            0i32..=5,
            proptest::option::of(-14i32..=14),
        )
            .prop_map(|(k, start, period, trl, rt, dsos)| DiagnosisKey {
                key: TemporaryExposureKey::from_bytes(k),
                rolling_start: IntervalNumber(start),
                rolling_period: RollingPeriod::new(period).unwrap(),
                transmission_risk_level: TransmissionRiskLevel::new(trl).unwrap(),
                report_type: ReportType::new(rt).unwrap(),
                days_since_onset: dsos.map(|d| DaysSinceOnset::new(d).unwrap()),
            })
    }

    proptest! {
        #[test]
        fn round_trip(keys in proptest::collection::vec(key_strategy(), 0..20)) {
            prop_assert_eq!(parse(to_string(&keys).as_bytes()).unwrap(), keys);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&bytes);
        }
    }
}
