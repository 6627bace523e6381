//! v2 scoring: ExposureWindows of ScanInstances, and DailySummaries (gaen-client.md §4).

use herald_model::{ReportType, UnixTime};
use serde::Serialize;

use super::config::{Infectiousness, V2Config};
use super::java_round;
use crate::matching::KeyMatch;

/// Longest span of one window, anchored at its first sighting.
pub const MAX_WINDOW_SECONDS: i64 = 30 * 60;
/// Sightings this close (2 × 25.5 s, in half-seconds to stay in integers) belong to one scan.
const SAME_SCAN_HALF_SECONDS: i64 = 51;
/// `secondsSinceLastScan` when the previous scan time is unknown.
pub const DEFAULT_SECONDS_SINCE_LAST_SCAN: u32 = 120;

/// One BLE scan's view of one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanInstance {
    /// `round(mean(attenuations))`, Java rounding.
    pub typical_attenuation_db: u8,
    /// The smallest attenuation of the scan.
    pub min_attenuation_db: u8,
    /// Whole minutes since the previous scan, in seconds (60..=300, 120 when unknown).
    pub seconds_since_last_scan: u32,
}

/// At most 30 minutes of one key's sightings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExposureWindow {
    /// Start of the UTC day of the window, in milliseconds (as the API reports it).
    pub date_millis_since_epoch: i64,
    /// The key's report type, or the configured one when UNKNOWN.
    #[serde(serialize_with = "serialize_report_type")]
    pub report_type: ReportType,
    /// From the key's days since onset via the configured map.
    pub infectiousness: Infectiousness,
    /// Calibration confidence of the first sighting (0..=3).
    pub calibration_confidence: u8,
    /// The scans, in time order.
    pub scan_instances: Vec<ScanInstance>,
    /// Which input key this window belongs to (not part of the GAEN API; for tools).
    #[serde(skip)]
    pub key_index: usize,
    /// The first sighting's time (not part of the API; windows are reported by day).
    #[serde(skip)]
    pub start: UnixTime,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's serialize_with signature
fn serialize_report_type<S: serde::Serializer>(rt: &ReportType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i32(rt.wire())
}

/// Score sums of one day (over all report types, or one).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryData {
    /// Highest window score.
    pub maximum_score: f64,
    /// Sum of window scores.
    pub score_sum: f64,
    /// Sum of weighted durations (without report-type or infectiousness weights).
    pub weighted_duration_sum: f64,
}

/// Per UTC day: summary over all report types and per report type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DailySummary {
    /// The UTC day as days since the epoch.
    pub days_since_epoch: i64,
    /// Over all report types.
    pub summary_data: SummaryData,
    /// Index = report type wire value; `None` where no window of that type counted.
    pub report_summaries: [Option<SummaryData>; 6],
}

/// Builds the exposure windows of one key's surviving sightings (Android
/// `KeyExposureEvaluator.findExposureWindows`). Windows of infectiousness NONE are dropped.
pub fn exposure_windows(m: &KeyMatch, config: &V2Config) -> Vec<ExposureWindow> {
    let report_type = match m.key.report_type {
        ReportType::Unknown => config.report_type_when_missing,
        rt => rt,
    };
    let infectiousness = m
        .key
        .days_since_onset
        .and_then(|d| usize::try_from(i32::from(d.get()) + 14).ok())
        .and_then(|i| config.days_since_onset_to_infectiousness.get(i).copied())
        .unwrap_or(config.infectiousness_when_days_since_onset_missing);
    if infectiousness == Infectiousness::None {
        return Vec::new();
    }

    let mut windows: Vec<ExposureWindow> = Vec::new();
    // Attenuations of the scan being collected, and the time of the previous sighting.
    let mut scan: Vec<u8> = Vec::new();
    let mut scan_seconds = 0u32;
    let mut previous: Option<UnixTime> = None;
    for s in &m.sightings {
        let starts_window = windows
            .last()
            .is_none_or(|w| s.time.seconds() - w.start.seconds() >= MAX_WINDOW_SECONDS);
        let same_scan = !starts_window
            && !scan.is_empty()
            && previous
                .is_some_and(|p| 2 * (s.time.seconds() - p.seconds()) <= SAME_SCAN_HALF_SECONDS);
        if !same_scan {
            if let Some(w) = windows.last_mut() {
                flush_scan(&mut scan, scan_seconds, w);
            }
            scan_seconds = seconds_since_last_scan(s.time, s.previous_scan);
        }
        if starts_window {
            windows.push(ExposureWindow {
                date_millis_since_epoch: s.time.utc_day() * 86_400_000,
                report_type,
                infectiousness,
                calibration_confidence: s.calibration_confidence,
                scan_instances: Vec::new(),
                key_index: m.key_index,
                start: s.time,
            });
        }
        scan.push(s.attenuation);
        previous = Some(s.time);
    }
    if let Some(w) = windows.last_mut() {
        flush_scan(&mut scan, scan_seconds, w);
    }
    windows
}

fn flush_scan(scan: &mut Vec<u8>, seconds: u32, window: &mut ExposureWindow) {
    if scan.is_empty() {
        return;
    }
    let sum: f64 = scan.iter().map(|a| f64::from(*a)).sum();
    #[allow(clippy::cast_precision_loss)] // a scan has far fewer than 2^52 sightings
    let mean = sum / scan.len() as f64;
    window.scan_instances.push(ScanInstance {
        typical_attenuation_db: java_round(mean),
        min_attenuation_db: scan.iter().copied().min().unwrap_or(0),
        seconds_since_last_scan: seconds,
    });
    scan.clear();
}

/// `60 · min(5, floor(t/60) − floor(prev/60))`, or 120 s when the previous scan is unknown.
pub fn seconds_since_last_scan(t: UnixTime, previous_scan: Option<UnixTime>) -> u32 {
    previous_scan.map_or(DEFAULT_SECONDS_SINCE_LAST_SCAN, |p| {
        let minutes = t.seconds().div_euclid(60) - p.seconds().div_euclid(60);
        // Clamped into 0..=5, so the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let m = minutes.clamp(0, 5) as u32;
        60 * m
    })
}

/// The attenuation bucket (0 IMMEDIATE … 3 OTHER) of a typical attenuation.
pub fn bucket(attenuation: u8, thresholds: [u8; 3]) -> usize {
    thresholds.iter().position(|t| attenuation <= *t).unwrap_or(3)
}

/// `Σ secondsSinceLastScan · bucketWeight[bucket(typical)]`.
pub fn weighted_duration(window: &ExposureWindow, config: &V2Config) -> f64 {
    window
        .scan_instances
        .iter()
        .map(|s| {
            let b = bucket(s.typical_attenuation_db, config.attenuation_bucket_thresholds_db);
            f64::from(s.seconds_since_last_scan)
                * config.attenuation_bucket_weights.get(b).copied().unwrap_or(0.0)
        })
        .sum()
}

/// `weightedDuration · reportTypeWeight · infectiousnessWeight`.
pub fn window_score(window: &ExposureWindow, config: &V2Config) -> f64 {
    weighted_duration(window, config)
        * config.report_type_weights.get(window.report_type.index()).copied().unwrap_or(0.0)
        * config.infectiousness_weights.get(window.infectiousness as usize).copied().unwrap_or(0.0)
}

/// Daily summaries over windows, by UTC day ascending (Android `DailySummaryUtils`).
pub fn daily_summaries(
    windows: &[ExposureWindow],
    config: &V2Config,
    now: UnixTime,
) -> Vec<DailySummary> {
    let today = now.utc_day();
    let mut days: std::collections::BTreeMap<i64, DailySummary> = std::collections::BTreeMap::new();
    for w in windows {
        if !matches!(
            w.report_type,
            ReportType::ConfirmedTest
                | ReportType::ConfirmedClinicalDiagnosis
                | ReportType::SelfReport
                | ReportType::Recursive
        ) {
            continue;
        }
        let day = w.date_millis_since_epoch.div_euclid(86_400_000);
        if config.days_since_exposure_threshold > 0
            && today - day > i64::from(config.days_since_exposure_threshold)
        {
            continue;
        }
        let weighted = weighted_duration(w, config);
        let score = window_score(w, config);
        if score < config.minimum_window_score {
            continue;
        }
        let entry = days.entry(day).or_insert_with(|| DailySummary {
            days_since_epoch: day,
            summary_data: SummaryData::default(),
            report_summaries: [None; 6],
        });
        add(&mut entry.summary_data, score, weighted);
        if let Some(slot) = entry.report_summaries.get_mut(w.report_type.index()) {
            add(slot.get_or_insert_with(SummaryData::default), score, weighted);
        }
    }
    days.into_values().collect()
}

fn add(data: &mut SummaryData, score: f64, weighted: f64) {
    data.score_sum += score;
    data.maximum_score = data.maximum_score.max(score);
    data.weighted_duration_sum += weighted;
}
