//! Matching rules against the vectors, plus planted-sighting properties.

use herald_gaen::{
    Aem, AemKey, KeyIndex, KeyMatch, MatchConfig, Matcher, Metadata, Platform, Rpi, RpiKey,
    Sighting,
};
use herald_model::{
    DiagnosisKey, IntervalNumber, ReportType, RollingPeriod, TemporaryExposureKey, UnixTime,
};
use herald_testkit::{gaen_vectors, hex_array};
use proptest::prelude::*;

fn key(hex: &str, start: u32, period: u32) -> DiagnosisKey {
    DiagnosisKey::new(
        TemporaryExposureKey::from_bytes(hex_array(hex)),
        IntervalNumber(start),
        RollingPeriod::new(period).unwrap(),
    )
}

fn sighting(rpi: Rpi, aem: Aem, t: i64, rssi: i8) -> Sighting {
    Sighting { rpi, aem, time: UnixTime(t), rssi, previous_scan: None }
}

/// Broadcast of `key` during `interval` with v1.0 metadata at `tx` dBm.
fn broadcast(key: &DiagnosisKey, interval: u32, tx: i8) -> (Rpi, Aem) {
    let rpi = RpiKey::derive(&key.key).generator().rpi(IntervalNumber(interval));
    let aem = AemKey::derive(&key.key).encrypt(&rpi, Metadata::v1_0(tx));
    (rpi, aem)
}

fn match_all(
    sightings: Vec<Sighting>,
    keys: &[DiagnosisKey],
    config: MatchConfig,
) -> Vec<KeyMatch> {
    // The key-side index must find exactly what the phone-side matcher finds: every test here
    // checks both.
    let index = KeyIndex::new(keys.to_vec(), config);
    let by_keys = index.match_sightings(&sightings);
    // Pre-filtering with `contains` (as phones do) changes nothing.
    let candidates: Vec<Sighting> =
        sightings.iter().filter(|s| index.contains(&s.rpi.0)).copied().collect();
    assert_eq!(index.match_sightings(&candidates), by_keys);
    let found: Vec<KeyMatch> =
        Matcher::new(sightings, config).match_keys(keys.iter().cloned()).collect();
    assert_eq!(by_keys, found, "KeyIndex and Matcher disagree");
    found
}

#[test]
fn internals_roundtrip_matching() {
    let vectors = gaen_vectors();
    let v = &vectors["gaen"]["matching"][0];
    assert_eq!(v["id"], "internals-roundtrip-matching");
    let tek = v["tek"].as_str().unwrap();
    let enin = u32::try_from(v["enin"].as_u64().unwrap()).unwrap();
    let detail = &v["expected_match_detail"]["key_in_file"];
    let period = u32::try_from(detail["rolling_period"].as_u64().unwrap()).unwrap();
    let k = key(tek, enin, period);
    let (rpi, aem) = broadcast(&k, enin, -20);
    assert_eq!(rpi, Rpi(hex_array(v["rpi_computed"].as_str().unwrap())));
    // The phone "now" = enin * 600 s, as in RoundTripTests.kt; a decoy key must not match.
    let decoy = key("00112233445566778899aabbccddeeff", enin, period);
    let found = match_all(
        vec![sighting(rpi, aem, i64::from(enin) * 600, -60)],
        &[decoy, k.clone()],
        MatchConfig::default(),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].key, k);
    assert_eq!(found[0].key_index, 1);
    assert_eq!(
        found[0].sightings[0].interval.get() - enin,
        u32::try_from(v["expected_match_detail"]["rpi_index_in_key"].as_u64().unwrap()).unwrap()
    );
}

#[test]
fn rpi_time_window_rule() {
    let vectors = gaen_vectors();
    let v = &vectors["gaen"]["matching"][1];
    assert_eq!(v["id"], "rpi-time-window-rule");
    let enin = u32::try_from(v["rpi_enin"].as_u64().unwrap()).unwrap();
    let k = key(v["rpi_tek"].as_str().unwrap(), enin, 144);
    let (rpi, aem) = broadcast(&k, enin, 0);
    assert_eq!(rpi, Rpi(hex_array(v["rpi"].as_str().unwrap())));
    for case in v["sightings"].as_array().unwrap() {
        let t = case["unix_seconds"].as_i64().unwrap();
        assert_eq!(
            UnixTime(t).interval().unwrap().get(),
            u32::try_from(case["sighting_enin"].as_u64().unwrap()).unwrap()
        );
        for platform in [Platform::Android, Platform::Ios] {
            let config = MatchConfig { platform, ..MatchConfig::default() };
            let found =
                match_all(vec![sighting(rpi, aem, t, -50)], std::slice::from_ref(&k), config);
            assert_eq!(
                !found.is_empty(),
                case["valid"].as_bool().unwrap(),
                "{}: {platform:?}",
                case["case"]
            );
        }
    }
}

/// The scenario's sightings, with the `kept` flag the vector expects.
pub(crate) fn scenario() -> (DiagnosisKey, Vec<(Sighting, bool)>) {
    let vectors = gaen_vectors();
    let s = &vectors["gaen"]["scoring_derived"][0];
    let dk = &s["diagnosis_key"];
    let mut k = key(
        dk["key_data"].as_str().unwrap(),
        u32::try_from(dk["rolling_start_interval_number"].as_u64().unwrap()).unwrap(),
        u32::try_from(dk["rolling_period"].as_u64().unwrap()).unwrap(),
    );
    k.report_type =
        ReportType::new(i32::try_from(dk["report_type"].as_i64().unwrap()).unwrap()).unwrap();
    k.days_since_onset = Some(
        herald_model::DaysSinceOnset::new(
            i32::try_from(dk["days_since_onset_of_symptoms"].as_i64().unwrap()).unwrap(),
        )
        .unwrap(),
    );
    k.transmission_risk_level = herald_model::TransmissionRiskLevel::new(
        i32::try_from(dk["transmission_risk_level"].as_i64().unwrap()).unwrap(),
    )
    .unwrap();
    let sightings = s["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let prev = x["prev"].as_i64().unwrap();
            (
                Sighting {
                    rpi: Rpi(hex_array(x["rpi"].as_str().unwrap())),
                    aem: Aem(hex_array(x["aem"].as_str().unwrap())),
                    time: UnixTime(x["t"].as_i64().unwrap()),
                    rssi: i8::try_from(x["rssi"].as_i64().unwrap()).unwrap(),
                    previous_scan: (prev != 0).then_some(UnixTime(prev)),
                },
                x["kept_for_exposure_windows"].as_bool().unwrap(),
            )
        })
        .collect();
    (k, sightings)
}

#[test]
fn scenario_keeps_and_drops_what_the_reference_does() {
    let (k, sightings) = scenario();
    for platform in [Platform::Android, Platform::Ios] {
        let config = MatchConfig { platform, ..MatchConfig::default() };
        let found = match_all(
            sightings.iter().map(|(s, _)| *s).collect(),
            std::slice::from_ref(&k),
            config,
        );
        assert_eq!(found.len(), 1);
        let kept: Vec<i64> = found[0].sightings.iter().map(|m| m.time.seconds()).collect();
        let mut expected: Vec<i64> =
            sightings.iter().filter(|(_, keep)| *keep).map(|(s, _)| s.time.seconds()).collect();
        expected.sort_unstable();
        assert_eq!(kept, expected, "{platform:?}");
        for m in &found[0].sightings {
            assert_eq!(m.tx_power, 8);
            assert_eq!(i16::from(m.attenuation), 8 - i16::from(m.rssi));
        }
    }
}

#[test]
fn report_type_filters() {
    let k = key("75c734c6dd1a782de7a965da5eb93125", 2_642_976, 144);
    let (rpi, aem) = broadcast(&k, 2_642_980, 0);
    let s = vec![sighting(rpi, aem, 2_642_980 * 600, -60)];
    for (rt, recursive, expected) in [
        (ReportType::ConfirmedTest, false, true),
        (ReportType::Unknown, false, true),
        (ReportType::SelfReport, false, true),
        (ReportType::Revoked, false, false),
        (ReportType::Revoked, true, false),
        (ReportType::Recursive, false, false),
        (ReportType::Recursive, true, true),
    ] {
        let mut k = k.clone();
        k.report_type = rt;
        let config = MatchConfig { match_recursive: recursive, ..MatchConfig::default() };
        assert_eq!(
            match_all(s.clone(), &[k], config).len() == 1,
            expected,
            "{rt:?} recursive={recursive}"
        );
    }
}

#[test]
fn tx_power_bounds_and_attenuation_per_platform() {
    let k = key("75c734c6dd1a782de7a965da5eb93125", 2_642_976, 144);
    let t = 2_642_990 * 600;
    // (tx, rssi) → expected attenuation on Android / iOS (None = dropped).
    for (tx, rssi, android, ios) in [
        (20, -60, Some(80), Some(80)),
        (21, -60, None, None),
        (-50, -90, Some(40), Some(40)),
        (-51, -90, None, Some(39)),
        (-60, -90, None, Some(30)),
        (-61, -90, None, None),
        (0, 0, Some(0), None),
        (0, 5, Some(0), None),
        (20, -128, Some(148), Some(148)),
    ] {
        let (rpi, aem) = broadcast(&k, 2_642_990, tx);
        for (platform, expected) in [(Platform::Android, android), (Platform::Ios, ios)] {
            let config = MatchConfig { platform, ..MatchConfig::default() };
            let found =
                match_all(vec![sighting(rpi, aem, t, rssi)], std::slice::from_ref(&k), config);
            assert_eq!(
                found.first().map(|m| m.sightings[0].attenuation),
                expected,
                "tx {tx} rssi {rssi} {platform:?}"
            );
        }
    }
}

#[test]
fn indices_past_the_rolling_period_do_not_match() {
    let short = key("2b714d3ec93c14e5d345003e59027aea", 2_646_801, 89);
    let (last_rpi, last_aem) = broadcast(&short, 2_646_801 + 88, 0);
    let (past_rpi, past_aem) = broadcast(&short, 2_646_801 + 89, 0);
    let t = |i: i64| (2_646_801 + i) * 600;
    assert_eq!(
        match_all(
            vec![sighting(last_rpi, last_aem, t(88), -50)],
            std::slice::from_ref(&short),
            MatchConfig::default()
        )
        .len(),
        1
    );
    assert!(
        match_all(
            vec![sighting(past_rpi, past_aem, t(89), -50)],
            std::slice::from_ref(&short),
            MatchConfig::default()
        )
        .is_empty()
    );
}

#[test]
fn empty_inputs() {
    let k = key("75c734c6dd1a782de7a965da5eb93125", 2_642_976, 144);
    assert!(match_all(vec![], std::slice::from_ref(&k), MatchConfig::default()).is_empty());
    let (rpi, aem) = broadcast(&k, 2_642_976, 0);
    assert!(
        match_all(vec![sighting(rpi, aem, 2_642_976 * 600, -50)], &[], MatchConfig::default())
            .is_empty()
    );
}

/// A planted sighting and whether the rules must keep it.
#[derive(Debug, Clone)]
struct Plant {
    key: usize,
    index: u32,
    /// Seconds from the start of the RPI's interval to the sighting (may be negative).
    offset: i64,
}

fn plant_strategy(keys: usize) -> impl Strategy<Value = Plant> {
    // Offsets cluster around the ±2 h edges: -12 intervals is the first valid second, +13 the
    // first invalid one.
    let edge = prop_oneof![
        Just(-12 * 600),
        Just(-12 * 600 - 1),
        Just(13 * 600 - 1),
        Just(13 * 600),
        -15 * 600i64..15 * 600,
    ];
    (0..keys, 0u32..144, edge).prop_map(|(key, index, offset)| Plant { key, index, offset })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every planted sighting inside the rules is found, nothing else is, for random keys, random
    /// rolling periods and offsets at the ±2 h edges.
    #[test]
    fn matching_finds_exactly_the_planted_sightings(
        key_bytes in proptest::collection::vec((any::<[u8; 16]>(), 1u32..=144, 2_600_000u32..2_700_000), 1..12),
        plants in proptest::collection::vec(plant_strategy(12), 0..30),
        noise in proptest::collection::vec(any::<[u8; 16]>(), 0..50),
    ) {
        let keys: Vec<DiagnosisKey> = key_bytes.iter().map(|(b, period, start)| DiagnosisKey::new(
            TemporaryExposureKey::from_bytes(*b), IntervalNumber(*start), RollingPeriod::new(*period).unwrap())).collect();
        let mut sightings = Vec::new();
        let mut expected: Vec<(usize, i64)> = Vec::new();
        // One plant per (key, index), so the replay guard never interferes here.
        let mut seen = std::collections::HashSet::new();
        for p in plants.iter().filter(|p| p.key < keys.len()) {
            if !seen.insert((p.key, p.index)) { continue; }
            let k = &keys[p.key];
            let interval = k.rolling_start.get() + p.index;
            let (rpi, aem) = broadcast(k, interval, -10);
            let t = i64::from(interval) * 600 + p.offset;
            sightings.push(sighting(rpi, aem, t, -70));
            let in_period = p.index < u32::from(k.rolling_period.get());
            let in_window = (t.div_euclid(600) - i64::from(interval)).abs() <= 12;
            if in_period && in_window { expected.push((p.key, t)); }
        }
        for n in &noise {
            sightings.push(sighting(Rpi(*n), Aem([0; 4]), 2_650_000 * 600, -60));
        }
        let mut found: Vec<(usize, i64)> = match_all(sightings, &keys, MatchConfig::default())
            .into_iter()
            .flat_map(|m| m.sightings.into_iter().map(move |s| (m.key_index, s.time.seconds())))
            .collect();
        found.sort_unstable();
        expected.sort_unstable();
        prop_assert_eq!(found, expected);
    }

    /// The replay guard keeps sightings up to 1200 s after the first one of an RPI and drops the
    /// rest, wherever the first one falls in the ±2 h window.
    #[test]
    fn replay_guard_edge(first_offset in -12 * 600i64..(13 * 600 - 1300), gaps in proptest::collection::vec(1i64..400, 1..8)) {
        let k = key("75c734c6dd1a782de7a965da5eb93125", 2_642_976, 144);
        let interval = 2_643_000u32;
        let (rpi, aem) = broadcast(&k, interval, 0);
        let t0 = i64::from(interval) * 600 + first_offset;
        let mut times = vec![t0, t0 + 1200, t0 + 1201];
        let mut t = t0;
        for g in gaps { t += g; times.push(t); }
        let sightings = times.iter().map(|t| sighting(rpi, aem, *t, -50)).collect();
        let found = match_all(sightings, std::slice::from_ref(&k), MatchConfig::default());
        let mut kept: Vec<i64> = found[0].sightings.iter().map(|s| s.time.seconds()).collect();
        kept.sort_unstable();
        let mut expected: Vec<i64> = times.into_iter().filter(|t| *t - t0 <= 1200 && (t.div_euclid(600) - i64::from(interval)).abs() <= 12).collect();
        expected.sort_unstable();
        prop_assert_eq!(kept, expected);
    }
}

#[cfg(feature = "parallel")]
#[test]
fn parallel_matching_equals_sequential() {
    let keys: Vec<DiagnosisKey> = (0u8..200)
        .map(|i| {
            DiagnosisKey::new(
                TemporaryExposureKey::from_bytes([i; 16]),
                IntervalNumber(2_642_976),
                RollingPeriod::FULL_DAY,
            )
        })
        .collect();
    let sightings: Vec<Sighting> = keys
        .iter()
        .step_by(7)
        .map(|k| {
            let (rpi, aem) = broadcast(k, 2_643_000, 0);
            sighting(rpi, aem, 2_643_000 * 600, -50)
        })
        .collect();
    let matcher = Matcher::new(sightings, MatchConfig::default());
    let sequential: Vec<KeyMatch> = matcher.match_keys(keys.iter().cloned()).collect();
    assert_eq!(sequential.len(), 29);
    assert_eq!(matcher.match_keys_parallel(&keys), sequential);
}
