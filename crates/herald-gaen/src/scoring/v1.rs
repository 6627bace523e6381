//! v1 scoring: ExposureInformation per exposure and one ExposureSummary (gaen-client.md §5,
//! Android `KeyExposureEvaluator.findExposures` and `RiskScoreCalculator`).

use herald_model::UnixTime;
use serde::Serialize;

use super::config::V1Config;
use super::java_round;
use crate::matching::{KeyMatch, MatchedSighting};

/// Gaps up to this long join sightings into one exposure.
pub const MAX_INTERPOLATION_SECONDS: i64 = 600;
/// The scan interval assumed around an exposure's first and last sightings.
pub const SCAN_INTERVAL_SECONDS: i64 = 300;
/// The API caps summary attenuation durations at 30 minutes.
pub const SUMMARY_DURATION_CAP_SECONDS: i64 = 1800;

/// One contiguous exposure to one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExposureInformation {
    /// Start of the UTC day of the first sighting, in milliseconds.
    pub date_millis_since_epoch: i64,
    /// Bucketized duration, seconds (a multiple of 300).
    pub duration_seconds: i64,
    /// Duration-weighted mean attenuation, dB.
    pub attenuation_value: u8,
    /// Seconds below, between and above `durationAtAttenuationThresholds`.
    pub attenuation_durations_seconds: [i64; 3],
    /// The key's transmission risk level.
    pub transmission_risk_level: u8,
    /// Product of the four scores, 0 when below the minimum.
    pub total_risk_score: u32,
    /// Which input key (not part of the GAEN API; for tools).
    pub key_index: usize,
}

/// The summary over all exposures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ExposureSummary {
    /// Days from the most recent exposure's day to today; `None` without exposures.
    pub days_since_last_exposure: Option<i64>,
    /// Keys with at least one exposure.
    pub matched_key_count: usize,
    /// Highest `totalRiskScore`.
    pub maximum_risk_score: u32,
    /// Sum of `totalRiskScore`.
    pub summation_risk_score: u32,
    /// Summed attenuation durations, each capped at 30 minutes.
    pub attenuation_durations_seconds: [i64; 3],
}

/// Keeps the strongest sighting (highest RSSI, the first on ties) of each scan: sightings no more
/// than 25.5 s apart.
pub fn aggregate_scans(sightings: &[MatchedSighting]) -> Vec<MatchedSighting> {
    let mut out: Vec<MatchedSighting> = Vec::new();
    let mut previous: Option<UnixTime> = None;
    for s in sightings {
        let same_scan = previous.is_some_and(|p| 2 * (s.time.seconds() - p.seconds()) <= 51);
        match out.last_mut() {
            Some(best) if same_scan => {
                if s.rssi > best.rssi {
                    *best = *s;
                }
            }
            _ => out.push(*s),
        }
        previous = Some(s.time);
    }
    out
}

/// `bucketizeDuration`: add one scan interval, then round to a multiple of it, ties down.
pub fn bucketize_duration(first_to_last_seconds: i64) -> i64 {
    let d = first_to_last_seconds.max(0) + SCAN_INTERVAL_SECONDS;
    let rem = d % SCAN_INTERVAL_SECONDS;
    if rem * 2 <= SCAN_INTERVAL_SECONDS { d - rem } else { d - rem + SCAN_INTERVAL_SECONDS }
}

/// The periods an exposure's points stand for: half a scan interval before the first and after
/// the last, each period carrying the attenuation of the point it starts at.
fn periods(points: &[(i64, u8)], scan_interval: i64) -> Vec<(i64, u8)> {
    let half = scan_interval / 2;
    let mut out = Vec::with_capacity(points.len() + 1);
    if let Some(&(_, a)) = points.first() {
        out.push((half, a));
    }
    for pair in points.windows(2) {
        if let [(t0, a), (t1, _)] = pair {
            out.push((t1 - t0, *a));
        }
    }
    if let Some(&(_, a)) = points.last() {
        out.push((half, a));
    }
    out
}

/// Duration-weighted mean attenuation of `(seconds, attenuation)` points, Java-rounded.
pub fn weighted_attenuation(points: &[(i64, u8)], scan_interval: i64) -> u8 {
    let periods = periods(points, scan_interval);
    let total: i64 = periods.iter().map(|(d, _)| d).sum();
    if total <= 0 {
        return points.first().map_or(0, |p| p.1);
    }
    let weighted: i64 = periods.iter().map(|(d, a)| d * i64::from(*a)).sum();
    #[allow(clippy::cast_precision_loss)] // seconds and dB sums are far below 2^52
    let mean = weighted as f64 / total as f64;
    java_round(mean)
}

fn attenuation_durations(points: &[(i64, u8)], thresholds: [u8; 2]) -> [i64; 3] {
    let mut out = [0i64; 3];
    for (d, a) in periods(points, SCAN_INTERVAL_SECONDS) {
        let i = if a < thresholds[0] {
            0
        } else if a >= thresholds[1] {
            2
        } else {
            1
        };
        if let Some(slot) = out.get_mut(i) {
            *slot += d;
        }
    }
    out
}

/// The attenuation buckets' lower bounds, dB: ≥ 74 is bucket 0, 64..=73 bucket 1, … ≤ 10 is 7.
const ATTENUATION_FLOORS: [i64; 7] = [74, 64, 52, 34, 28, 16, 11];
/// The days-since-last-exposure buckets' lower bounds: ≥ 14 is bucket 0, 12..=13 bucket 1, …
/// ≤ 1 is 7.
const DAYS_FLOORS: [i64; 7] = [14, 12, 10, 8, 6, 4, 2];

/// The bucket of `value` among descending lower bounds: the first bound it reaches, else 7.
fn bucket_from_floors(value: i64, floors: [i64; 7]) -> usize {
    floors.iter().position(|floor| value >= *floor).unwrap_or(7)
}

fn attenuation_index(a: u8) -> usize {
    bucket_from_floors(i64::from(a), ATTENUATION_FLOORS)
}

fn days_index(days: i64) -> usize {
    bucket_from_floors(days, DAYS_FLOORS)
}

fn duration_index(seconds: i64) -> usize {
    // Bucket bounds are whole minutes: ≤ 0, ≤ 5, … ≤ 30 minutes, else 7.
    let bounds = [0, 300, 600, 900, 1200, 1500, 1800];
    bounds.iter().position(|b| seconds <= *b).unwrap_or(7)
}

fn score(table: [u8; 8], index: usize) -> u32 {
    table.get(index).copied().map_or(0, u32::from)
}

/// The exposures of one key.
pub fn exposures(m: &KeyMatch, config: &V1Config, now: UnixTime) -> Vec<ExposureInformation> {
    let aggregated = aggregate_scans(&m.sightings);
    let mut out = Vec::new();
    let mut start = 0;
    while start < aggregated.len() {
        let mut end = start + 1;
        while let (Some(a), Some(b)) = (aggregated.get(end - 1), aggregated.get(end)) {
            if b.time.seconds() - a.time.seconds() > MAX_INTERPOLATION_SECONDS {
                break;
            }
            end += 1;
        }
        if let Some(segment) = aggregated.get(start..end) {
            out.push(exposure(m, segment, config, now));
        }
        start = end;
    }
    out
}

/// One exposure from its aggregated, time-ordered points.
fn exposure(
    m: &KeyMatch,
    segment: &[MatchedSighting],
    config: &V1Config,
    now: UnixTime,
) -> ExposureInformation {
    let points: Vec<(i64, u8)> =
        segment.iter().map(|s| (s.time.seconds(), s.attenuation)).collect();
    let first = points.first().map_or(0, |p| p.0);
    let last = points.last().map_or(0, |p| p.0);
    let duration = bucketize_duration(last - first);
    let attenuation_value = weighted_attenuation(&points, SCAN_INTERVAL_SECONDS);
    // Android counts days from the key's rolling-start day.
    let days = now.utc_day() - m.key.rolling_start.start().utc_day();
    let trl = m.key.transmission_risk_level.get();
    let transmission = match trl {
        0 => 1,
        t => score(config.transmission_risk_scores, usize::from(t) - 1),
    };
    let raw = score(config.attenuation_scores, attenuation_index(attenuation_value))
        * score(config.days_since_last_exposure_scores, days_index(days))
        * score(config.duration_scores, duration_index(duration))
        * transmission;
    ExposureInformation {
        date_millis_since_epoch: UnixTime(first).utc_day() * 86_400_000,
        duration_seconds: duration,
        attenuation_value,
        attenuation_durations_seconds: attenuation_durations(
            &points,
            config.duration_at_attenuation_thresholds,
        ),
        transmission_risk_level: trl,
        total_risk_score: if raw < u32::from(config.minimum_risk_score) { 0 } else { raw },
        key_index: m.key_index,
    }
}

/// The summary over exposures.
pub fn summary(exposures: &[ExposureInformation], now: UnixTime) -> ExposureSummary {
    let mut keys: Vec<usize> = exposures.iter().map(|e| e.key_index).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut durations = [0i64; 3];
    for e in exposures {
        for (sum, d) in durations.iter_mut().zip(e.attenuation_durations_seconds) {
            *sum = (*sum + d).min(SUMMARY_DURATION_CAP_SECONDS);
        }
    }
    ExposureSummary {
        days_since_last_exposure: exposures
            .iter()
            .map(|e| e.date_millis_since_epoch.div_euclid(86_400_000))
            .max()
            .map(|day| now.utc_day() - day),
        matched_key_count: keys.len(),
        maximum_risk_score: exposures.iter().map(|e| e.total_risk_score).max().unwrap_or(0),
        summation_risk_score: exposures
            .iter()
            .map(|e| e.total_risk_score)
            .fold(0u32, u32::saturating_add),
        attenuation_durations_seconds: durations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_the_api_ranges() {
        // Each bucket's (first, last) value, in bucket order, as the GAEN v1 API documents them.
        let attenuation =
            [(74, 255), (64, 73), (52, 63), (34, 51), (28, 33), (16, 27), (11, 15), (0, 10)];
        for (bucket, (first, last)) in attenuation.into_iter().enumerate() {
            for a in first..=last {
                assert_eq!(attenuation_index(a), bucket, "attenuation {a}");
            }
        }
        let days = [(14, 10_000), (12, 13), (10, 11), (8, 9), (6, 7), (4, 5), (2, 3), (-10_000, 1)];
        for (bucket, (first, last)) in days.into_iter().enumerate() {
            for d in first..=last {
                assert_eq!(days_index(d), bucket, "days {d}");
            }
        }
        assert_eq!(days_index(i64::MIN), 7);
        assert_eq!(days_index(i64::MAX), 0);
    }
}
