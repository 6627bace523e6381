//! EFGS batches: the reference gateway's vectors (CSharpTestdata.txt, the three .bin batches),
//! the spec's worked examples, both codecs, validation errors, properties and the fuzz corpora.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_model::{
    CountryCode, IntervalNumber, ReportType, RollingPeriod, TemporaryExposureKey,
    TransmissionRiskLevel,
};
use herald_testkit::read_testdata;
use herald_wire::efgs::{
    self, DaysSinceOnset, EfgsError, EfgsKey, EfgsKeyError, MAX_KEYS, Rejection, TransmissionRisk,
};
use herald_wire::proto::efgs as proto;
use proptest::prelude::*;
use sha2::{Digest as _, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn cc(text: &str) -> CountryCode {
    text.parse().unwrap()
}

/// The spec's worked-example key (§3.1) with the given first key bytes.
fn worked_example(first: [u8; 2]) -> EfgsKey {
    let mut key = [0u8; 16];
    key[..2].copy_from_slice(&first);
    EfgsKey {
        key: TemporaryExposureKey::from_bytes(key),
        rolling_start: IntervalNumber(2_700_000),
        rolling_period: RollingPeriod::FULL_DAY,
        transmission_risk: TransmissionRisk::NotProvided,
        visited_countries: vec![cc("DE"), cc("FR")],
        origin: cc("DE"),
        report_type: ReportType::ConfirmedTest,
        days_since_onset: DaysSinceOnset::default(),
    }
}

// --- §3.1 signed bytes --------------------------------------------------------------------------

#[test]
fn spec_worked_example_per_key_string() {
    assert_eq!(
        efgs::signed_key_string(&worked_example([0x08, 0x00])),
        "CAAAAAAAAAAAAAAAAAAAAA==.ACky4A==.AAAAkA==.f////w==.REUsRlI=.REU=.AAAAAQ==.AAAAAA==."
    );
}

#[test]
fn spec_two_key_vector_sorts_by_base64_of_the_string() {
    let k1 = worked_example([0x08, 0x00]);
    let k2 = worked_example([0x0b, 0x40]);
    let s1 = efgs::signed_key_string(&k1);
    let s2 = efgs::signed_key_string(&k2);
    assert!(s1.starts_with("CAAA") && s2.starts_with("C0AA"));
    // Raw order would put k2 first; the Base64 order puts k1 first.
    assert!(s2 < s1);
    for keys in [vec![k1.clone(), k2.clone()], vec![k2, k1]] {
        let bytes = efgs::batch_signed_bytes(&keys);
        assert_eq!(bytes.len(), 168);
        assert_eq!(bytes, format!("{s1}{s2}").into_bytes());
        assert_eq!(
            hex(&Sha256::digest(&bytes)),
            "94334a21ffb827d5e648f693ce69540099def2f41461499b5639577342a96250"
        );
    }
}

#[test]
fn empty_batch_signs_empty_content() {
    assert!(efgs::batch_signed_bytes(&[]).is_empty());
}

/// Parses `[1,2,3]` (Java bytes may be signed) into bytes.
fn byte_list(text: &str) -> Vec<u8> {
    let inner = text.trim().strip_prefix('[').unwrap().strip_suffix(']').unwrap();
    if inner.trim().is_empty() {
        return Vec::new();
    }
    inner.split(',').map(|b| b.trim().parse::<i16>().unwrap().to_le_bytes()[0]).collect()
}

fn be4(text: &str) -> [u8; 4] {
    byte_list(text).try_into().unwrap()
}

fn string_list(text: &str) -> Vec<String> {
    let inner = text.trim().strip_prefix('[').unwrap().strip_suffix(']').unwrap();
    if inner.is_empty() { Vec::new() } else { inner.split(',').map(str::to_owned).collect() }
}

#[test]
fn csharp_testdata_reproduces_byte_for_byte() {
    let text = String::from_utf8(read_testdata("efgs/CSharpTestdata.txt")).unwrap();
    let mut lines = 0;
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let c: Vec<&str> = line.trim_end_matches('\r').split('|').collect();
        assert_eq!(c.len(), 17, "line {}", n + 1);
        let origin = string_list(c[10]);
        assert_eq!(origin.len(), 1, "line {}", n + 1);
        let key = proto::DiagnosisKey {
            key_data: byte_list(c[0]),
            rolling_start_interval_number: u32::from_be_bytes(be4(c[2])),
            rolling_period: u32::from_be_bytes(be4(c[4])),
            transmission_risk_level: i32::from_be_bytes(be4(c[6])),
            visited_countries: string_list(c[8]),
            origin: origin[0].clone(),
            report_type: i32::from_be_bytes(be4(c[12])),
            days_since_onset_of_symptoms: i32::from_be_bytes(be4(c[14])),
        };
        let ours = efgs::signed_key_string_raw(&key);
        // Field by field first, for a precise message, then the whole string.
        let fields: Vec<&str> = ours.split_terminator('.').collect();
        assert_eq!(fields, [c[1], c[3], c[5], c[7], c[9], c[11], c[13], c[15]], "line {}", n + 1);
        assert_eq!(STANDARD.encode(&ours), c[16], "line {}", n + 1);
        // A one-key batch is the per-key string itself.
        assert_eq!(efgs::batch_signed_bytes_raw(&[key]), ours.as_bytes(), "line {}", n + 1);
        lines += 1;
    }
    assert_eq!(lines, 5000);
}

// --- the reference .bin batches ----------------------------------------------------------------

#[test]
fn reference_bin_batches_decode_to_the_documented_values() {
    for (file, start_and_period) in [
        ("diagnosisKeyBatchMaxValInt.bin", 0x7FFF_FFFF_u32),
        ("diagnosisKeyBatchMaxValUint.bin", u32::MAX),
        ("diagnosisKeyBatchSmallInt.bin", 5),
    ] {
        let bytes = read_testdata(&format!("efgs/{file}"));
        let batch = efgs::decode_protobuf_raw(&bytes).unwrap();
        assert_eq!(batch.keys.len(), 1, "{file}");
        let key = &batch.keys[0];
        assert_eq!(key.key_data, b"123", "{file}");
        assert_eq!(key.rolling_start_interval_number, start_and_period, "{file}");
        assert_eq!(key.rolling_period, start_and_period, "{file}");
        assert_eq!(key.transmission_risk_level, -22, "{file}");
        assert_eq!(key.visited_countries, ["UK", "NL", "FR"], "{file}");
        assert_eq!(key.origin, "DE", "{file}");
        assert_eq!(key.report_type, herald_model::ReportType::ConfirmedTest.wire(), "{file}");
        assert_eq!(key.days_since_onset_of_symptoms, 0, "{file}");
        // prost re-encodes the reference bytes exactly (field order, 10-byte negative varint).
        assert_eq!(prost::Message::encode_to_vec(&batch), bytes, "{file}");

        // Validation names the key and the first bad field, and reports every bad key.
        let err = efgs::decode_protobuf(&bytes).unwrap_err();
        assert_eq!(err.to_string(), "key 0: keyData must be 16 bytes, got 3", "{file}");
        let mut fixed = key.clone();
        fixed.key_data = vec![7; 16];
        let reason = EfgsKey::try_from(&fixed).unwrap_err();
        if start_and_period == 5 {
            assert_eq!(reason, EfgsKeyError::TransmissionRiskLevel(-22), "{file}");
        } else {
            assert_eq!(reason, EfgsKeyError::RollingPeriod(start_and_period), "{file}");
            assert_eq!(
                reason.to_string(),
                format!("rollingPeriod must be in 1..=144, got {start_and_period}")
            );
            fixed.rolling_period = 144;
            assert_eq!(
                EfgsKey::try_from(&fixed).unwrap_err().to_string(),
                "transmissionRiskLevel must be in 0..=8 or 2147483647 (not provided), got -22"
            );
        }
        fixed.rolling_period = 144;
        fixed.transmission_risk_level = 3;
        let valid = EfgsKey::try_from(&fixed).unwrap();
        assert_eq!(valid.rolling_start, IntervalNumber(start_and_period));
        assert_eq!(valid.to_proto(), fixed);
        let (accepted, rejected) = efgs::validate(&[fixed.clone(), key.clone(), fixed]);
        assert_eq!(accepted.len(), 2);
        assert_eq!(
            rejected,
            [Rejection { index: 1, reason: EfgsKeyError::KeyDataLength(3) }],
            "{file}"
        );
    }
}

// --- validation ----------------------------------------------------------------------------------

fn valid_raw() -> proto::DiagnosisKey {
    worked_example([1, 2]).to_proto()
}

#[test]
fn validation_errors_name_the_field() {
    type Edit = fn(&mut proto::DiagnosisKey);
    let cases: Vec<(Edit, &str)> = vec![
        (|k| k.key_data = vec![], "keyData must be 16 bytes, got 0"),
        (|k| k.key_data = vec![0; 17], "keyData must be 16 bytes, got 17"),
        (|k| k.rolling_period = 0, "rollingPeriod must be in 1..=144, got 0"),
        (|k| k.rolling_period = 145, "rollingPeriod must be in 1..=144, got 145"),
        (|k| k.transmission_risk_level = 9, "transmissionRiskLevel must be in 0..=8"),
        (|k| k.transmission_risk_level = -1, "got -1"),
        (|k| k.visited_countries = vec!["DE".into(), String::new()], "visitedCountries[1]"),
        (|k| k.visited_countries = vec!["D,E".into()], "visitedCountries[0] must be two"),
        (|k| k.visited_countries = vec!["DE,FR".into()], "got \"DE,FR\""),
        (|k| k.visited_countries = vec!["de".into()], "uppercase"),
        (|k| k.visited_countries = vec!["419".into()], "visitedCountries[0]"),
        (|k| k.visited_countries = vec!["DE".into(); 257], "257 entries"),
        (|k| k.origin = String::new(), "origin must be two uppercase ASCII letters, got \"\""),
        (|k| k.origin = "Deu".into(), "origin"),
        (|k| k.report_type = 6, "reportType must be in 0..=5, got 6"),
        (|k| k.report_type = -1, "reportType"),
        (|k| k.days_since_onset_of_symptoms = 4015, "must be in -14..=4014, got 4015"),
        (|k| k.days_since_onset_of_symptoms = -15, "days_since_onset_of_symptoms"),
        (|k| k.days_since_onset_of_symptoms = i32::MAX, "2147483647"),
    ];
    for (edit, needle) in cases {
        let mut raw = valid_raw();
        edit(&mut raw);
        let batch = proto::DiagnosisKeyBatch { keys: vec![valid_raw(), raw] };
        let err = efgs::decode_protobuf(&prost::Message::encode_to_vec(&batch)).unwrap_err();
        assert!(matches!(err, EfgsError::Key { index: 1, .. }), "{needle}: {err}");
        assert!(err.to_string().starts_with("key 1: "), "{err}");
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }
}

#[test]
fn validation_accepts_the_edges() {
    type Edit = fn(&mut proto::DiagnosisKey);
    let cases: Vec<Edit> = vec![
        |k| k.rolling_period = 1,
        |k| k.transmission_risk_level = 0,
        |k| k.transmission_risk_level = 8,
        |k| k.transmission_risk_level = 0x7FFF_FFFF,
        |k| k.visited_countries = vec![],
        |k| k.visited_countries = vec!["DE".into(); 256],
        |k| k.report_type = 0,
        |k| k.report_type = 5,
        |k| k.days_since_onset_of_symptoms = -14,
        |k| k.days_since_onset_of_symptoms = 4014,
        |k| k.rolling_start_interval_number = 0,
        |k| k.rolling_start_interval_number = u32::MAX,
    ];
    for edit in cases {
        let mut raw = valid_raw();
        edit(&mut raw);
        let key = EfgsKey::try_from(&raw).unwrap();
        assert_eq!(key.to_proto(), raw);
    }
}

#[test]
fn protobuf_limits() {
    let one = prost::Message::encode_to_vec(&proto::DiagnosisKeyBatch { keys: vec![valid_raw()] });
    let at_limit: Vec<u8> = one.repeat(MAX_KEYS);
    assert_eq!(efgs::decode_protobuf(&at_limit).unwrap().len(), MAX_KEYS);
    let over: Vec<u8> = one.repeat(MAX_KEYS + 1);
    assert_eq!(
        efgs::decode_protobuf(&over).unwrap_err(),
        EfgsError::TooManyKeys { count: MAX_KEYS + 1, max: MAX_KEYS }
    );
    assert_eq!(efgs::decode_protobuf(&[]).unwrap(), []);
    assert!(matches!(efgs::decode_protobuf(&[0x0a, 0x05]), Err(EfgsError::Protobuf(_))));
}

#[test]
fn proto3_defaults_are_omitted_and_read_back() {
    let mut key = worked_example([1, 2]);
    key.days_since_onset = DaysSinceOnset::new(0).unwrap();
    key.transmission_risk = TransmissionRisk::Level(TransmissionRiskLevel::new(0).unwrap());
    key.report_type = ReportType::Unknown;
    key.visited_countries.clear();
    let bytes = efgs::encode_protobuf(std::slice::from_ref(&key));
    // keyData (18) + RSIN (5) + RP (3) + origin (4), inside the keys field (2).
    assert_eq!(bytes.len(), 2 + 18 + 5 + 3 + 4);
    assert_eq!(efgs::decode_protobuf(&bytes).unwrap(), [key]);
}

// --- JSON ----------------------------------------------------------------------------------------

const WORKED_JSON: &str = r#"{"keys":[{"keyData":"CAAAAAAAAAAAAAAAAAAAAA==","rollingStartIntervalNumber":2700000,"rollingPeriod":144,"transmissionRiskLevel":2147483647,"visitedCountries":["DE","FR"],"origin":"DE","reportType":"CONFIRMED_TEST"}]}"#;

#[test]
fn json_uses_the_efgs_names_and_omits_defaults() {
    let key = worked_example([0x08, 0x00]);
    assert_eq!(efgs::encode_json(std::slice::from_ref(&key)), WORKED_JSON);
    assert_eq!(efgs::decode_json(WORKED_JSON.as_bytes()).unwrap(), std::slice::from_ref(&key));
    let mut with_dsos = key;
    with_dsos.days_since_onset = DaysSinceOnset::new(-3).unwrap();
    let json = efgs::encode_json(std::slice::from_ref(&with_dsos));
    assert!(
        json.ends_with(r#""reportType":"CONFIRMED_TEST","days_since_onset_of_symptoms":-3}]}"#)
    );
    assert_eq!(efgs::encode_json(&[]), "{}");
    assert_eq!(efgs::decode_json(b"{}").unwrap(), []);
    assert_eq!(efgs::decode_json(br#"{"keys":[]}"#).unwrap(), []);
    assert_eq!(efgs::decode_json(br#"{"keys":null}"#).unwrap(), []);
}

#[test]
fn json_accepts_report_type_numbers_and_camel_case_dsos() {
    let k = r#""keyData":"CAAAAAAAAAAAAAAAAAAAAA==","rollingPeriod":144,"origin":"DE""#;
    for (extra, rt, dsos) in [
        (r#","reportType":1"#, ReportType::ConfirmedTest, 0),
        (r#","reportType":"REVOKED""#, ReportType::Revoked, 0),
        (r#","reportType":0,"days_since_onset_of_symptoms":3000"#, ReportType::Unknown, 3000),
        (r#","daysSinceOnsetOfSymptoms":-14"#, ReportType::Unknown, -14),
        (r#","reportType":null,"visitedCountries":null"#, ReportType::Unknown, 0),
    ] {
        let json = format!(r#"{{"keys":[{{{k}{extra}}}]}}"#);
        let keys = efgs::decode_json(json.as_bytes()).unwrap();
        assert_eq!(keys[0].report_type, rt, "{json}");
        assert_eq!(keys[0].days_since_onset.get(), dsos, "{json}");
        assert_eq!(keys[0].transmission_risk.wire(), 0, "{json}");
    }
}

#[test]
fn json_errors_name_the_key_and_field() {
    let k = r#""keyData":"CAAAAAAAAAAAAAAAAAAAAA==","rollingPeriod":144,"origin":"DE""#;
    for (extra, needle) in [
        (
            r#","reportType":"confirmed_test""#,
            r#"key 1: reportType "confirmed_test" is not a known"#,
        ),
        (r#","reportType":7"#, "key 1: reportType must be in 0..=5, got 7"),
        (r#","reportType":4294967296"#, "key 1: reportType must be in -2147483648..=2147483647"),
        (
            r#","rollingStartIntervalNumber":-1"#,
            "key 1: rollingStartIntervalNumber must be in 0..=4294967295, got -1",
        ),
        (r#","transmissionRiskLevel":2147483648"#, "key 1: transmissionRiskLevel must be in"),
        (r#","visitedCountries":["DE",""]"#, "key 1: visitedCountries[1]"),
        (r#","visitedCountries":["DE,FR"]"#, "key 1: visitedCountries[0]"),
        (r#","keyDta":"x""#, "batch json is malformed: unknown field `keyDta`"),
        (r#","rollingPeriod":1.5"#, "batch json is malformed"),
        (r#","visitedCountries":"DE""#, "batch json is malformed"),
    ] {
        let json = format!(r#"{{"keys":[{{{k}}},{{{k}{extra}}}]}}"#);
        let err = efgs::decode_json(json.as_bytes()).unwrap_err().to_string();
        assert!(err.contains(needle), "{extra}: {err}");
    }
    let bad_b64 =
        r#"{"keys":[{"keyData":"CAAA!AAAAAAAAAAAAAAAAA==","rollingPeriod":144,"origin":"DE"}]}"#;
    assert_eq!(
        efgs::decode_json(bad_b64.as_bytes()).unwrap_err().to_string(),
        "key 0: keyData is not valid base64"
    );
    for bad in [
        &b"[]"[..],
        b"",
        b"{",
        br#"{"keys":{}}"#,
        br#"{"other":1}"#,
        br#"{"keys":[["CAAAAAAAAAAAAAAAAAAAAA==",1,144]]}"#,
        br#"{"keys":[{}]} x"#,
    ] {
        assert!(matches!(efgs::decode_json(bad), Err(EfgsError::Json(_))), "{bad:?}");
    }
}

#[test]
fn json_limits_count_without_materialising() {
    let many = format!(r#"{{"keys":[{}]}}"#, vec!["{}"; MAX_KEYS + 1].join(","));
    assert_eq!(
        efgs::decode_json(many.as_bytes()).unwrap_err(),
        EfgsError::TooManyKeys { count: MAX_KEYS + 1, max: MAX_KEYS }
    );
    let countries = vec![r#""DE""#; 300].join(",");
    let json = format!(
        r#"{{"keys":[{{"keyData":"CAAAAAAAAAAAAAAAAAAAAA==","rollingPeriod":144,"origin":"DE","visitedCountries":[{countries}]}}]}}"#
    );
    assert_eq!(
        efgs::decode_json(json.as_bytes()).unwrap_err().to_string(),
        "key 0: visitedCountries has 300 entries, more than the limit of 256"
    );
    let huge = vec![b' '; efgs::MAX_JSON_BYTES + 1];
    assert!(matches!(efgs::decode_json(&huge), Err(EfgsError::TooLarge { .. })));
}

// --- properties ----------------------------------------------------------------------------------

fn country() -> impl Strategy<Value = CountryCode> {
    "[A-Z]{2}".prop_map(|s| s.parse().unwrap())
}

fn efgs_key() -> impl Strategy<Value = EfgsKey> {
    (
        any::<[u8; 16]>(),
        any::<u32>(),
        1u32..=144,
        prop_oneof![(0i32..=8), Just(TransmissionRisk::NOT_PROVIDED)],
        proptest::collection::vec(country(), 0..6),
        country(),
        0i32..=5,
        DaysSinceOnset::MIN..=DaysSinceOnset::MAX,
    )
        .prop_map(|(k, start, period, trl, visited, origin, rt, dsos)| EfgsKey {
            key: TemporaryExposureKey::from_bytes(k),
            rolling_start: IntervalNumber(start),
            rolling_period: RollingPeriod::new(period).unwrap(),
            transmission_risk: TransmissionRisk::new(trl).unwrap(),
            visited_countries: visited,
            origin,
            report_type: ReportType::new(rt).unwrap(),
            days_since_onset: DaysSinceOnset::new(dsos).unwrap(),
        })
}

fn raw_key() -> impl Strategy<Value = proto::DiagnosisKey> {
    (
        proptest::collection::vec(any::<u8>(), 0..20),
        any::<u32>(),
        any::<u32>(),
        any::<i32>(),
        proptest::collection::vec("[A-Z,]{0,3}", 0..4),
        "[A-Za-z]{0,3}",
        -2i32..8,
        any::<i32>(),
    )
        .prop_map(|(key_data, start, period, trl, visited, origin, rt, dsos)| {
            proto::DiagnosisKey {
                key_data,
                rolling_start_interval_number: start,
                rolling_period: period,
                transmission_risk_level: trl,
                visited_countries: visited,
                origin,
                report_type: rt,
                days_since_onset_of_symptoms: dsos,
            }
        })
}

proptest! {
    #[test]
    fn protobuf_round_trip(keys in proptest::collection::vec(efgs_key(), 0..12)) {
        prop_assert_eq!(efgs::decode_protobuf(&efgs::encode_protobuf(&keys)).unwrap(), keys);
    }

    #[test]
    fn json_round_trip(keys in proptest::collection::vec(efgs_key(), 0..12)) {
        prop_assert_eq!(efgs::decode_json(efgs::encode_json(&keys).as_bytes()).unwrap(), keys);
    }

    #[test]
    fn signed_bytes_do_not_depend_on_input_order(
        (keys, shuffled) in proptest::collection::vec(efgs_key(), 0..12)
            .prop_flat_map(|k| (Just(k.clone()), Just(k).prop_shuffle()))
    ) {
        let bytes = efgs::batch_signed_bytes(&keys);
        prop_assert_eq!(efgs::batch_signed_bytes(&shuffled), bytes.clone());
        // The bytes are the per-key strings, in ascending order of their Base64.
        let mut strings: Vec<String> = keys.iter().map(efgs::signed_key_string).collect();
        strings.sort_by_key(|s| STANDARD.encode(s));
        prop_assert_eq!(strings.concat().into_bytes(), bytes);
    }

    #[test]
    fn validated_and_raw_signed_bytes_agree(keys in proptest::collection::vec(efgs_key(), 0..8)) {
        let raw: Vec<proto::DiagnosisKey> = keys.iter().map(EfgsKey::to_proto).collect();
        prop_assert_eq!(efgs::batch_signed_bytes_raw(&raw), efgs::batch_signed_bytes(&keys));
        for (key, raw) in keys.iter().zip(&raw) {
            prop_assert_eq!(&EfgsKey::try_from(raw).unwrap(), key);
            let s = efgs::signed_key_string(key);
            prop_assert_eq!(s.matches('.').count(), 8);
            prop_assert!(s.ends_with('.'));
        }
    }

    #[test]
    fn validation_is_lossless_or_names_a_key(keys in proptest::collection::vec(raw_key(), 0..6)) {
        let bytes = prost::Message::encode_to_vec(&proto::DiagnosisKeyBatch { keys: keys.clone() });
        match efgs::decode_protobuf(&bytes) {
            Ok(valid) => {
                let back: Vec<proto::DiagnosisKey> = valid.iter().map(EfgsKey::to_proto).collect();
                prop_assert_eq!(back, keys);
            }
            Err(EfgsError::Key { index, reason }) => {
                prop_assert!(index < keys.len());
                prop_assert_eq!(EfgsKey::try_from(&keys[index]).unwrap_err(), reason);
                prop_assert!(keys[..index].iter().all(|k| EfgsKey::try_from(k).is_ok()));
            }
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    #[test]
    fn protobuf_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = efgs::decode_protobuf(&bytes);
        herald_wire::fuzzing::fuzz_efgs_protobuf(&bytes);
    }

    #[test]
    fn protobuf_decoder_survives_mutations(
        keys in proptest::collection::vec(efgs_key(), 1..4),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = efgs::encode_protobuf(&keys);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        herald_wire::fuzzing::fuzz_efgs_protobuf(&bytes);
    }

    #[test]
    fn json_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        herald_wire::fuzzing::fuzz_efgs_json(&bytes);
    }

    #[test]
    fn json_decoder_survives_mutations(
        keys in proptest::collection::vec(efgs_key(), 1..4),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = efgs::encode_json(&keys).into_bytes();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        herald_wire::fuzzing::fuzz_efgs_json(&bytes);
    }
}

// --- fuzz corpora --------------------------------------------------------------------------------

#[test]
fn efgs_protobuf_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("efgs_protobuf") {
        herald_wire::fuzzing::fuzz_efgs_protobuf(&bytes);
    }
}

#[test]
fn efgs_json_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("efgs_json") {
        herald_wire::fuzzing::fuzz_efgs_json(&bytes);
    }
}
