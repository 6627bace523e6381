//! Risk scoring: the derived scenario vector, the reference code's examples, and a worked example
//! computed by hand from the formulas in gaen-client.md §4–§5.

use herald_gaen::scoring::{self, Infectiousness, ScoringConfig, v1, v2};
use herald_gaen::{KeyMatch, MatchConfig, MatchedSighting, Matcher};
use herald_model::{
    DaysSinceOnset, DiagnosisKey, IntervalNumber, ReportType, RollingPeriod, TemporaryExposureKey,
    TransmissionRiskLevel, UnixTime,
};
use herald_testkit::gaen_vectors;

use crate::matching::scenario;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn scenario_match() -> KeyMatch {
    let (k, sightings) = scenario();
    let matcher =
        Matcher::new(sightings.into_iter().map(|(s, _)| s).collect(), MatchConfig::default());
    matcher.match_key(0, &k).unwrap()
}

#[test]
fn scenario_v2_windows_and_daily_summary() {
    let vectors = gaen_vectors();
    let v = &vectors["gaen"]["scoring_derived"][0]["v2"];
    let config = ScoringConfig::from_json(&v["config"].to_string()).unwrap();
    let m = scenario_match();
    let windows = v2::exposure_windows(&m, &config.v2);
    let expected = v["exposure_windows"].as_array().unwrap();
    assert_eq!(windows.len(), expected.len());
    for (w, e) in windows.iter().zip(expected) {
        assert_eq!(w.start.seconds(), e["window_start_unix_seconds"].as_i64().unwrap());
        assert_eq!(w.date_millis_since_epoch, e["utc_day"].as_i64().unwrap() * 86_400_000);
        assert_eq!(w.infectiousness as i64, v["infectiousness"].as_i64().unwrap());
        let got: Vec<(u8, u8, u32)> = w
            .scan_instances
            .iter()
            .map(|s| (s.typical_attenuation_db, s.min_attenuation_db, s.seconds_since_last_scan))
            .collect();
        let want: Vec<(u8, u8, u32)> = e["scanInstances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    u8::try_from(s["typicalAttenuationDb"].as_u64().unwrap()).unwrap(),
                    u8::try_from(s["minAttenuationDb"].as_u64().unwrap()).unwrap(),
                    u32::try_from(s["secondsSinceLastScan"].as_u64().unwrap()).unwrap(),
                )
            })
            .collect();
        assert_eq!(got, want);
        assert!(close(
            v2::weighted_duration(w, &config.v2),
            e["weightedDurationSeconds"].as_f64().unwrap()
        ));
        assert!(close(v2::window_score(w, &config.v2), e["windowScore"].as_f64().unwrap()));
    }
    let days = v2::daily_summaries(&windows, &config.v2, UnixTime(1_586_080_800));
    let d = &v["daily_summary"];
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].days_since_epoch, d["utc_day"].as_i64().unwrap());
    assert!(close(days[0].summary_data.score_sum, d["scoreSum"].as_f64().unwrap()));
    assert!(close(days[0].summary_data.maximum_score, d["maximumScore"].as_f64().unwrap()));
    assert!(close(
        days[0].summary_data.weighted_duration_sum,
        d["weightedDurationSum"].as_f64().unwrap()
    ));
    assert_eq!(
        days[0].report_summaries[ReportType::ConfirmedTest.index()],
        Some(days[0].summary_data)
    );
    assert_eq!(days[0].report_summaries.iter().flatten().count(), 1);
}

/// Feeds the vector's own aggregated points (the reference aggregates before the TX check).
#[test]
fn scenario_v1_from_the_reference_aggregation() {
    let vectors = gaen_vectors();
    let s = &vectors["gaen"]["scoring_derived"][0];
    let v = &s["v1"];
    let mut m = scenario_match();
    let times: Vec<i64> = v["aggregated_sightings_t"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap())
        .collect();
    m.sightings.retain(|x| times.contains(&x.time.seconds()));
    assert_eq!(m.sightings.len(), times.len());
    let config = ScoringConfig::from_json(&format!(
        r#"{{"v1": {{"attenuationScores": {a}, "daysSinceLastExposureScores": {a}, "durationScores": {a}, "transmissionRiskScores": {a}, "durationAtAttenuationThresholds": {t}}}}}"#,
        a = v["scores_arrays_all"],
        t = v["durationAtAttenuationThresholds"]
    ))
    .unwrap();
    let now = UnixTime(v["now_unix_seconds"].as_i64().unwrap());
    assert_eq!(
        now.utc_day() - m.key.rolling_start.start().utc_day(),
        v["latency_days"].as_i64().unwrap()
    );
    let exposures = v1::exposures(&m, &config.v1, now);
    let expected = v["exposures"].as_array().unwrap();
    assert_eq!(exposures.len(), expected.len());
    let (e, x) = (&exposures[0], &expected[0]);
    assert_eq!(i64::from(e.attenuation_value), x["attenuationValue"].as_i64().unwrap());
    assert_eq!(e.duration_seconds, x["durationSeconds"].as_i64().unwrap());
    let durations: Vec<i64> =
        x["attenuationDurations"].as_array().unwrap().iter().map(|d| d.as_i64().unwrap()).collect();
    assert_eq!(e.attenuation_durations_seconds.to_vec(), durations);
    assert_eq!(i64::from(e.total_risk_score), x["riskScore"].as_i64().unwrap());
}

/// Our deliberate deviation: the forged-TX sighting is dropped before scan aggregation, so the
/// genuine scan at 1585822415 survives (the reference loses it).
#[test]
fn scenario_v1_keeps_the_genuine_scan_next_to_a_forged_one() {
    let m = scenario_match();
    let aggregated: Vec<i64> =
        v1::aggregate_scans(&m.sightings).iter().map(|s| s.time.seconds()).collect();
    assert_eq!(
        aggregated,
        [
            1585821600, 1585821892, 1585822175, 1585822415, 1585822700, 1585823002, 1585823290,
            1585823582, 1585823872, 1585824122
        ]
    );
}

#[test]
fn reference_code_examples() {
    let vectors = gaen_vectors();
    let ex = &vectors["gaen"]["scoring_derived"][0]["reference_code_examples"];
    let w = &ex["weighted_attenuation_comment_example"];
    let points: Vec<(i64, u8)> = w["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_i64().unwrap(), u8::try_from(p[1].as_u64().unwrap()).unwrap()))
        .collect();
    assert_eq!(
        i64::from(v1::weighted_attenuation(&points, w["scan_interval_s"].as_i64().unwrap())),
        w["expected"].as_i64().unwrap()
    );
    for case in ex["bucketize_duration"].as_array().unwrap() {
        assert_eq!(
            v1::bucketize_duration(case["first_to_last_s"].as_i64().unwrap()),
            case["expected_s"].as_i64().unwrap(),
            "{case}"
        );
    }
}

#[test]
fn java_rounding_and_buckets() {
    assert_eq!(scoring::java_round(52.5), 53);
    assert_eq!(scoring::java_round(52.49), 52);
    assert_eq!(v2::bucket(55, [55, 67, 75]), 0);
    assert_eq!(v2::bucket(56, [55, 67, 75]), 1);
    assert_eq!(v2::bucket(75, [55, 67, 75]), 2);
    assert_eq!(v2::bucket(76, [55, 67, 75]), 3);
    assert_eq!(v2::seconds_since_last_scan(UnixTime(1000), None), 120);
    assert_eq!(v2::seconds_since_last_scan(UnixTime(6000), Some(UnixTime(0))), 300);
    assert_eq!(v2::seconds_since_last_scan(UnixTime(119), Some(UnixTime(60))), 0);
}

/// The hand-derived example. Key: CLINICAL diagnosis, DSOS −3 (STANDARD, weight 0.3), TRL 5,
/// rolling start day 18518. TX 0 dBm, so attenuation = −RSSI. t0 = 1 600 000 200 (a whole minute).
///
/// Sightings: t0 (40 dB, previous scan t0−180), t0+10 (43 dB), t0+200 (60 dB, previous scan t0+12),
/// t0+1900 (70 dB, previous scan unknown).
///
/// v2, Narrow Net (≤55/≤67/≤75 → 1.75/1.0/0.33/0):
/// - window 1 = [t0, t0+1800): scan A = {40, 43}: typical round(41.5) = 42 (IMMEDIATE), min 40,
///   3 min since the last scan → 180 s; scan B = {60}: NEAR, floor((t0+200)/60) − floor((t0+12)/60)
///   = 3 → 180 s. weightedDuration = 180·1.75 + 180·1.0 = 495; score = 495·1.0·0.3 = 148.5.
/// - window 2 starts at t0+1900 (≥ 30 min later): {70}: MEDIUM, unknown previous scan → 120 s.
///   weightedDuration = 120·0.33 = 39.6; score = 11.88.
/// - day 18518: scoreSum 160.38, maximumScore 148.5, weightedDurationSum 534.6; with
///   minimumWindowScore 20 window 2 is skipped: 148.5 / 148.5 / 495.
///
/// v1, scores 1..=8, thresholds [50, 74], now = day 18519:
/// - scans keep their strongest sighting: (t0, 40), (t0+200, 60), (t0+1900, 70); the 1700 s gap
///   (> 600) splits two exposures.
/// - exposure 1: duration bucketize(200) = 500 → 600 (remainder 200 > 150 rounds up); periods
///   (150 s @40, 200 s @40, 150 s @60) → (6000 + 8000 + 9000) / 500 = 46 dB; durations below 50:
///   350, between: 150, above: 0. Scores: 46 dB → index 3 → 4; 1 day → index 7 → 8; 600 s → index
///   2 → 3; TRL 5 → 5. Total 4·8·3·5 = 480.
/// - exposure 2: duration 300; 70 dB; between 300. Scores 2·8·2·5 = 160.
/// - summary: maximum 480, sum 640, durations [350, 450, 0], 1 key, 1 day since the last exposure.
#[test]
fn hand_derived_worked_example() {
    let t0 = 1_600_000_200;
    let mut key = DiagnosisKey::new(
        TemporaryExposureKey::from_bytes([7; 16]),
        IntervalNumber(18_518 * 144),
        RollingPeriod::FULL_DAY,
    );
    key.report_type = ReportType::ConfirmedClinicalDiagnosis;
    key.days_since_onset = Some(DaysSinceOnset::new(-3).unwrap());
    key.transmission_risk_level = TransmissionRiskLevel::new(5).unwrap();
    let s = |dt: i64, att: u8, prev: Option<i64>| MatchedSighting {
        time: UnixTime(t0 + dt),
        interval: UnixTime(t0 + dt).interval().unwrap(),
        rssi: -i8::try_from(att).unwrap(),
        tx_power: 0,
        attenuation: att,
        calibration_confidence: 0,
        previous_scan: prev.map(|p| UnixTime(t0 + p)),
    };
    let m = KeyMatch {
        key_index: 0,
        key,
        sightings: vec![
            s(0, 40, Some(-180)),
            s(10, 43, Some(-180)),
            s(200, 60, Some(12)),
            s(1900, 70, None),
        ],
    };
    let mut config = ScoringConfig::default();
    let now = UnixTime(18_519 * 86_400 + 3600);

    let windows = v2::exposure_windows(&m, &config.v2);
    assert_eq!(windows.len(), 2);
    assert_eq!(windows[0].infectiousness, Infectiousness::Standard);
    assert_eq!(windows[0].report_type, ReportType::ConfirmedClinicalDiagnosis);
    let scans: Vec<(u8, u8, u32)> = windows
        .iter()
        .flat_map(|w| &w.scan_instances)
        .map(|s| (s.typical_attenuation_db, s.min_attenuation_db, s.seconds_since_last_scan))
        .collect();
    assert_eq!(scans, [(42, 40, 180), (60, 60, 180), (70, 70, 120)]);
    assert!(close(v2::weighted_duration(&windows[0], &config.v2), 495.0));
    assert!(close(v2::window_score(&windows[0], &config.v2), 148.5));
    assert!(close(v2::window_score(&windows[1], &config.v2), 11.88));
    let day = &v2::daily_summaries(&windows, &config.v2, now)[0];
    assert_eq!(day.days_since_epoch, 18_518);
    assert!(close(day.summary_data.score_sum, 160.38));
    assert!(close(day.summary_data.maximum_score, 148.5));
    assert!(close(day.summary_data.weighted_duration_sum, 534.6));
    config.v2.minimum_window_score = 20.0;
    let day = &v2::daily_summaries(&windows, &config.v2, now)[0];
    assert!(close(day.summary_data.score_sum, 148.5));
    assert!(close(day.summary_data.weighted_duration_sum, 495.0));

    let exposures = v1::exposures(&m, &config.v1, now);
    let got: Vec<(i64, u8, [i64; 3], u32)> = exposures
        .iter()
        .map(|e| {
            (
                e.duration_seconds,
                e.attenuation_value,
                e.attenuation_durations_seconds,
                e.total_risk_score,
            )
        })
        .collect();
    assert_eq!(got, [(600, 46, [350, 150, 0], 480), (300, 70, [0, 300, 0], 160)]);
    let summary = v1::summary(&exposures, now);
    assert_eq!(summary.maximum_risk_score, 480);
    assert_eq!(summary.summation_risk_score, 640);
    assert_eq!(summary.attenuation_durations_seconds, [350, 450, 0]);
    assert_eq!(summary.matched_key_count, 1);
    assert_eq!(summary.days_since_last_exposure, Some(1));
}

#[test]
fn infectiousness_none_windows_are_dropped_and_filters_apply() {
    let (k, _) = scenario();
    let mut m = scenario_match();
    let config = ScoringConfig::default();
    // DSOS +10 is NONE in the default map: no windows at all, so no weighted duration either.
    m.key.days_since_onset = Some(DaysSinceOnset::new(10).unwrap());
    assert!(v2::exposure_windows(&m, &config.v2).is_empty());
    // Missing DSOS → STANDARD by default.
    m.key.days_since_onset = None;
    let windows = v2::exposure_windows(&m, &config.v2);
    assert!(windows.iter().all(|w| w.infectiousness == Infectiousness::Standard));
    // UNKNOWN report type → reportTypeWhenMissing (CONFIRMED_TEST).
    m.key.report_type = ReportType::Unknown;
    assert!(
        v2::exposure_windows(&m, &config.v2)
            .iter()
            .all(|w| w.report_type == ReportType::ConfirmedTest)
    );
    // daysSinceExposureThreshold drops old days.
    let mut c = config.v2.clone();
    c.days_since_exposure_threshold = 2;
    let day = k.rolling_start.start().utc_day();
    assert_eq!(v2::daily_summaries(&windows, &c, UnixTime((day + 2) * 86_400)).len(), 1);
    assert!(v2::daily_summaries(&windows, &c, UnixTime((day + 3) * 86_400)).is_empty());
}
