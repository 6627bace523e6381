use proptest::prelude::*;

use super::*;

/// 2026-11-28T12:34:56Z: interval 2_993_115, the 76th of the day that starts at 2_993_040.
const NOW: UnixTime = UnixTime(1_795_869_296);
const CURRENT: i64 = 2_993_115;
const TODAY: i64 = 2_993_040;
/// interval(NOW − 360 h).
const MIN_VALID_UNTIL: i64 = 2_990_955;

fn key(start: i64, period: i64, tr: i64) -> PublishKey {
    PublishKey {
        key_text: "AAAAAAAAAAAAAAAAAAAAAA==".to_owned(),
        key: Some([0; 16]),
        rolling_start_number: start,
        rolling_period: period,
        transmission_risk: tr,
    }
}

fn accepted(start: u32, period: u32) -> AcceptedKey {
    AcceptedKey {
        index: 0,
        key: TemporaryExposureKey::from_bytes([0; 16]),
        rolling_start: IntervalNumber(start),
        rolling_period: RollingPeriod::new(period).unwrap(),
        transmission_risk: TransmissionRiskLevel::default(),
        days_since_onset: None,
    }
}

#[test]
fn key_count() {
    assert_eq!(check_key_count(0), Err(RequestRuleError::NoKeys));
    assert_eq!(check_key_count(1), Ok(()));
    assert_eq!(check_key_count(30), Ok(()));
    let err = check_key_count(31).unwrap_err();
    assert_eq!(err.to_string(), "too many exposure keys in publish: 31, max of 30 is allowed");
}

#[test]
fn per_key_validation_names_the_reason() {
    let mut not_base64 = key(TODAY, 144, 0);
    not_base64.key_text = "%%%".to_owned();
    not_base64.key = None;
    let mut short = key(TODAY, 144, 0);
    short.key_text = "AAAAAAAAAAAAAAAAAAAA".to_owned();
    short.key = None;
    let cases: Vec<(PublishKey, Option<&str>)> = vec![
        (key(TODAY, 144, 0), None),
        (key(TODAY - 144, 144, 8), None),
        (key(CURRENT, 1, 0), None),
        (key(MIN_VALID_UNTIL - 143, 144, 0), None),
        (not_base64, Some("key is not valid base64")),
        (short, Some("invalid key length, 15, must be 16")),
        (key(TODAY, 0, 0), Some("invalid interval count, 0, must be >= 1 && <= 144")),
        (key(TODAY, 145, 0), Some("invalid interval count, 145, must be >= 1 && <= 144")),
        (key(TODAY, -1, 0), Some("invalid interval count, -1, must be >= 1 && <= 144")),
        (
            key(MIN_VALID_UNTIL - 144, 144, 0),
            Some(
                "key expires before minimum window; 2990811 + 144 = 2990955 which is too old, \
                 must be > 2990955",
            ),
        ),
        (
            key(-5, 144, 0),
            Some(
                "key expires before minimum window; -5 + 144 = 139 which is too old, must be > 2990955",
            ),
        ),
        (
            key(CURRENT + 1, 144, 0),
            Some("interval number 2993116 is in the future, must be <= 2993115"),
        ),
        (key(TODAY, 144, 9), Some("invalid transmission risk: 9, must be >= 0 && <= 8")),
        (key(TODAY, 144, -1), Some("invalid transmission risk: -1, must be >= 0 && <= 8")),
        (
            key(TODAY, 144, i64::MAX),
            Some("invalid transmission risk: 9223372036854775807, must be >= 0 && <= 8"),
        ),
    ];
    for (k, expected) in cases {
        let got = validate_key(3, &k, NOW);
        match expected {
            None => assert!(got.is_ok(), "{k:?}: {got:?}"),
            Some(message) => {
                let rejection = got.unwrap_err();
                assert_eq!(rejection.index, 3);
                assert_eq!(rejection.reason.to_string(), message, "{k:?}");
                assert!(rejection.to_string().starts_with("key 3 cannot be imported: "));
            }
        }
    }
}

#[test]
fn validate_keys_splits_and_keeps_order() {
    let keys = [key(TODAY, 144, 2), key(TODAY, 0, 0), key(TODAY - 144, 144, 0), key(0, 1, 9)];
    let (ok, bad) = validate_keys(&keys, NOW);
    assert_eq!(ok.iter().map(|k| k.index).collect::<Vec<_>>(), [0, 2]);
    assert_eq!(ok[0].rolling_start, IntervalNumber(2_993_040));
    assert_eq!(ok[0].transmission_risk.get(), 2);
    assert_eq!(bad.iter().map(|r| r.index).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(
        partial_failure_message(&bad),
        "2 errors occurred:\n\t* key 1 cannot be imported: invalid interval count, 0, must be >= 1 \
         && <= 144\n\t* key 3 cannot be imported: key expires before minimum window; 0 + 1 = 1 \
         which is too old, must be > 2990955\n\n"
    );
    assert_eq!(
        partial_failure_message(&bad[..1]),
        "1 error occurred:\n\t* key 1 cannot be imported: invalid interval count, 0, must be >= 1 \
         && <= 144\n\n"
    );
}

#[test]
fn onset_comes_from_the_request_then_the_certificate_then_the_default() {
    let min = 2_989_008; // UTC midnight of NOW − 28 d.
    let default = SymptomOnset { interval: 2_992_539, source: OnsetSource::Default };
    let cases = [
        (Some(CURRENT - 1), Some(2_990_000), CURRENT - 1, OnsetSource::Request),
        (Some(min), None, min, OnsetSource::Request),
        (Some(CURRENT), Some(2_990_000), 2_990_000, OnsetSource::Certificate),
        (Some(min - 1), Some(2_990_000), 2_990_000, OnsetSource::Certificate),
        (Some(0), Some(2_990_000), 2_990_000, OnsetSource::Certificate),
        (None, Some(2_990_000), 2_990_000, OnsetSource::Certificate),
    ];
    for (request, certificate, interval, source) in cases {
        let cert = certificate.map(|c: i64| u32::try_from(c).unwrap());
        assert_eq!(
            symptom_onset(request, cert, NOW),
            SymptomOnset { interval, source },
            "{request:?} {certificate:?}"
        );
    }
    for (request, certificate) in
        [(None, None), (Some(CURRENT), Some(u32::MAX)), (Some(-1), Some(0)), (Some(i64::MAX), None)]
    {
        let onset = symptom_onset(request, certificate, NOW);
        assert_eq!(onset, default, "{request:?} {certificate:?}");
        assert!(onset.is_missing());
    }
}

#[test]
fn days_since_onset_by_whole_utc_days() {
    assert_eq!(days_between_intervals(TODAY, TODAY + 143), 0);
    assert_eq!(days_between_intervals(TODAY + 143, TODAY + 144), 1);
    assert_eq!(days_between_intervals(TODAY + 1, TODAY - 1), -1);
    assert_eq!(days_between_intervals(TODAY, TODAY - 14 * 144), -14);

    // Onset in the middle of yesterday; keys from 16 days before to today.
    let onset = SymptomOnset { interval: TODAY - 100, source: OnsetSource::Request };
    let mut keys: Vec<AcceptedKey> = (0..=16)
        .map(|d| {
            let mut k = accepted(u32::try_from(TODAY - 144 * d).unwrap(), 144);
            k.index = usize::try_from(d).unwrap();
            k
        })
        .collect();
    let warnings = apply_symptom_onset(&mut keys, &onset);
    assert_eq!(warnings, ["key 16 symptom onset is too large, 15 > 14 - saving without this key",]);
    let dsos: Vec<i8> = keys.iter().map(|k| k.days_since_onset.unwrap().get()).collect();
    assert_eq!(dsos, [1, 0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14]);

    let far = SymptomOnset { interval: TODAY - 20 * 144, source: OnsetSource::Default };
    let mut keys = vec![accepted(u32::try_from(TODAY).unwrap(), 144)];
    assert_eq!(
        apply_symptom_onset(&mut keys, &far),
        ["key 0 symptom onset is too large, 20 > 14 - saving without this key"]
    );
    assert!(keys.is_empty());
}

#[test]
fn layout_allows_same_day_splits_and_refuses_overlaps() {
    let t = u32::try_from(TODAY).unwrap();
    let check = |layout: &[(u32, u32)]| {
        let mut keys: Vec<AcceptedKey> = layout.iter().map(|(s, p)| accepted(*s, *p)).collect();
        let result = check_key_layout(&mut keys).map_err(|e| e.to_string());
        let sorted: Vec<(u32, u8)> =
            keys.iter().map(|k| (k.rolling_start.get(), k.rolling_period.get())).collect();
        (result, sorted)
    };
    // OS v1.5 split: two keys sharing the day's start; sorted by (start, period).
    let (result, sorted) = check(&[(t, 144), (t - 144, 144), (t, 75)]);
    assert_eq!(result, Ok(()));
    assert_eq!(sorted, [(t - 144, 144), (t, 75), (t, 144)]);
    // Back to back, not day-aligned.
    assert_eq!(check(&[(t + 10, 5), (t, 10), (t + 15, 1)]).0, Ok(()));
    assert_eq!(check(&[]).0, Ok(()));
    assert_eq!(
        check(&[(t, 144), (t + 100, 44)]).0,
        Err(
            "exposure keys have non aligned overlapping intervals: 2993140 overlaps with previous \
             key that is good from 2993040 to 2993184"
                .to_owned()
        )
    );
    assert_eq!(check(&[(t, 3), (t, 3), (t, 3)]).0, Ok(()));
    assert_eq!(
        check(&[(t, 1), (t, 2), (t, 3), (t, 4), (t - 144, 144)]).0,
        Err("too many overlapping keys for start interval: 2993040 want: <= 3, got: 4".to_owned())
    );
}

#[test]
fn transmission_risk_backfill() {
    let tr = |v| TransmissionRiskLevel::new(v).unwrap();
    let cases = [
        (Some(VerificationReportType::Confirmed), 0, 2),
        (Some(VerificationReportType::Likely), 0, 4),
        (Some(VerificationReportType::Negative), 0, 6),
        (Some(VerificationReportType::UserReport), 0, 0),
        (None, 0, 0),
        (Some(VerificationReportType::Confirmed), 7, 7),
        (Some(VerificationReportType::UserReport), 5, 5),
    ];
    for (report, sent, expected) in cases {
        assert_eq!(backfill_transmission_risk(report, tr(sent)), tr(expected), "{report:?} {sent}");
    }
}

#[test]
fn embargo() {
    let t = u32::try_from(TODAY).unwrap();
    let p = |v| RollingPeriod::new(v).unwrap();
    // Today's key is valid until midnight: released at 01:00 the next day.
    assert_eq!(created_at(IntervalNumber(t), p(144), NOW), UnixTime(1_795_914_000));
    // A key that ends in the next interval: its end + 1 h, truncated to the hour.
    let c = u32::try_from(CURRENT).unwrap();
    assert_eq!(created_at(IntervalNumber(c), p(1), NOW), UnixTime(1_795_870_800));
    // Expired keys (ending at or before the current interval) get now, truncated.
    assert_eq!(created_at(IntervalNumber(t - 144), p(144), NOW), UnixTime(1_795_867_200));
    assert_eq!(created_at(IntervalNumber(t), p(75), NOW), UnixTime(1_795_867_200));
    assert_eq!(created_at(IntervalNumber(t), p(76), NOW), UnixTime(1_795_870_800));
    assert_eq!(truncate_to_window(UnixTime(7199)), UnixTime(3600));
    assert_eq!(truncate_to_window(UnixTime(-1)), UnixTime(-3600));
}

proptest! {
    #[test]
    fn validation_never_panics(
        start in any::<i64>(), period in any::<i64>(), tr in any::<i64>(), now in any::<i64>(),
        bytes in proptest::option::of(any::<[u8; 16]>()),
    ) {
        let k = PublishKey { key: bytes, ..key(start, period, tr) };
        if let Ok(a) = validate_key(0, &k, UnixTime(now)) {
            prop_assert!(a.end() > a.rolling_start.get().into());
            let _ = created_at(a.rolling_start, a.rolling_period, UnixTime(now));
        }
        let _ = symptom_onset(Some(start), u32::try_from(period).ok(), UnixTime(now));
    }

    #[test]
    fn accepted_keys_satisfy_the_rules(start in CURRENT - 3000..CURRENT + 10, period in -2_i64..150, tr in -1_i64..10) {
        match validate_key(0, &key(start, period, tr), NOW) {
            Ok(a) => {
                prop_assert!((1..=144).contains(&period) && (0..=8).contains(&tr));
                prop_assert!(start <= CURRENT && start + period > MIN_VALID_UNTIL);
                let created = created_at(a.rolling_start, a.rolling_period, NOW);
                prop_assert_eq!(created.seconds() % 3600, 0);
                // Never released before the key has expired plus an hour.
                prop_assert!(created.seconds() >= (start + period) * 600 || start + period <= CURRENT);
                prop_assert!(created.seconds() <= NOW.seconds() || start + period > CURRENT);
            }
            Err(_) => prop_assert!(
                !(1..=144).contains(&period) || !(0..=8).contains(&tr)
                    || start > CURRENT || start + period <= MIN_VALID_UNTIL
            ),
        }
    }

    #[test]
    fn layout_accepts_only_disjoint_or_same_start(
        layout in proptest::collection::vec((0_u32..600, 1_u32..=144), 0..8),
    ) {
        let mut keys: Vec<AcceptedKey> = layout.iter().map(|(s, p)| accepted(*s, *p)).collect();
        let result = check_key_layout(&mut keys);
        let starts: std::collections::BTreeSet<u32> = layout.iter().map(|(s, _)| *s).collect();
        let ok = starts.iter().all(|s| {
            let same: Vec<u32> = layout.iter().filter(|(t, _)| t == s).map(|(_, p)| *p).collect();
            let end = s + same.iter().max().unwrap();
            same.len() <= 3 && starts.range(s + 1..end).next().is_none()
        });
        prop_assert_eq!(result.is_ok(), ok, "{:?} -> {:?}", layout, result);
        prop_assert!(keys.windows(2).all(|w| (w[0].rolling_start, w[0].rolling_period) <= (w[1].rolling_start, w[1].rolling_period)));
    }
}
