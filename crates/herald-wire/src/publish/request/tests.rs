use proptest::prelude::*;

use super::*;

/// The example body of the ENS v1 API documentation, with the spec's vector keys.
const EXAMPLE: &str = r#"{
  "temporaryExposureKeys": [
    {"key": "z2Cx9hdz2SlxZ8GEgqTYpA==", "rollingStartNumber": 1, "rollingPeriod": 144,
     "transmissionRisk": 3},
    {"key": "dPCphLzfG4uzXneNimkPRQ==", "rollingStartNumber": 144, "rollingPeriod": 144}
  ],
  "healthAuthorityID": "gov.state.doh",
  "verificationPayload": "eyJhbGciOiJFUzI1NiJ9.e30.sig",
  "hmacKey": "AQIDBAUGBwgJCgsMDQ4PEA==",
  "symptomOnsetInterval": 2650000,
  "traveler": true,
  "revisionToken": "",
  "padding": "AAAA"
}"#;

fn check_error(body: &str, expected: &str) {
    match decode_request(body.as_bytes()) {
        Ok(request) => panic!("{body}: decoded to {request:?}, expected error {expected:?}"),
        Err(e) => assert_eq!(e.to_string(), expected, "{body}"),
    }
}

#[test]
fn decodes_the_example() {
    let r = decode_request(EXAMPLE.as_bytes()).unwrap();
    assert_eq!(r.keys.len(), 2);
    assert_eq!(r.keys[0].key_text, "z2Cx9hdz2SlxZ8GEgqTYpA==");
    assert_eq!(r.keys[0].key.map(|k| k[0]), Some(0xcf));
    assert_eq!((r.keys[0].rolling_start_number, r.keys[0].rolling_period), (1, 144));
    assert_eq!(r.keys[0].transmission_risk, 3);
    assert_eq!(r.keys[1].transmission_risk, 0, "absent transmissionRisk is 0");
    assert_eq!(r.health_authority_id, "gov.state.doh");
    assert_eq!(r.verification_payload, "eyJhbGciOiJFUzI1NiJ9.e30.sig");
    assert_eq!(r.hmac_key.as_slice(), (1..=16).collect::<Vec<u8>>().as_slice());
    assert_eq!(r.symptom_onset_interval, Some(2_650_000));
    assert!(r.traveler);
    assert_eq!(r.revision_token, None, "an empty token is no token");
    // Debug never shows the key or the secret.
    let debug = format!("{r:?}");
    assert!(!debug.contains("z2Cx") && !debug.contains("AQID"), "{debug}");
}

#[test]
fn field_names_fold_like_go() {
    for name in ["hmacKey", "hmackey", "HMACKEY", "HmAcKeY", "hmac\u{212A}ey"] {
        let body = format!(r#"{{"{name}": "AQ=="}}"#);
        let r = decode_request(body.as_bytes()).unwrap();
        assert_eq!(r.hmac_key.as_slice(), &[1], "{name}");
    }
    let upper = r#"{"TEMPORARYEXPOSUREKEYS":[{"KEY":"AAAAAAAAAAAAAAAAAAAAAA","ROLLINGSTARTNUMBER":7,
        "ROLLINGPERIOD":9,"TRANSMISSIONRISK":2}],"HEALTHAUTHORITYID":"x","VERIFICATIONPAYLOAD":"y",
        "SYMPTOMONSETINTERVAL":5,"TRAVELER":true,"REVISIONTOKEN":"AQ","PADDING":""}"#;
    let r = decode_request(upper.as_bytes()).unwrap();
    assert_eq!(r.keys[0].key, Some([0; 16]));
    assert_eq!((r.keys[0].rolling_start_number, r.keys[0].rolling_period), (7, 9));
    assert_eq!(r.keys[0].transmission_risk, 2);
    assert_eq!((r.health_authority_id.as_str(), r.verification_payload.as_str()), ("x", "y"));
    assert_eq!((r.symptom_onset_interval, r.traveler), (Some(5), true));
    assert_eq!(r.revision_token, Some(vec![1]));
    // The long s folds to s; other look-alikes do not.
    let r =
        decode_request("{\"travele\u{17F}\": false, \"\u{17F}ymptomOnsetInterval\": 3}".as_bytes());
    assert!(r.is_err(), "travele\u{17F} is not traveler");
    assert_eq!(
        decode_request("{\"\u{17F}ymptomOnsetInterval\": 3}".as_bytes())
            .unwrap()
            .symptom_onset_interval,
        Some(3)
    );
    check_error(r#"{"hmac_key":"AQ=="}"#, r#"unknown field "hmac_key""#);
    check_error("{\"hmacKe\u{0131}\":\"AQ==\"}", "unknown field \"hmacKe\u{131}\"");
}

#[test]
fn duplicates_take_the_last_value_in_document_order() {
    let r =
        decode_request(br#"{"hmacKey":"AQ==","hmackey":"Ag==","traveler":true,"Traveler":null}"#)
            .unwrap();
    assert_eq!(r.hmac_key.as_slice(), &[2]);
    assert!(!r.traveler, "null resets to the zero value, as in Go");
}

#[test]
fn refusals_say_what_is_wrong() {
    let cases = [
        (r#"{"x": 1}"#, r#"unknown field "x""#),
        (
            r#"{"temporaryExposureKeys":[{"key":"","extra":1}]}"#,
            r#"unknown field "extra" in temporaryExposureKeys[0]"#,
        ),
        ("{} {}", "request body must contain only one JSON object"),
        ("{}]", "request body must contain only one JSON object"),
        ("[]", "request body must be a JSON object, got array"),
        ("null", "request body must be a JSON object, got null"),
        (r#""x""#, "request body must be a JSON object, got string"),
        (
            r#"{"temporaryExposureKeys":{}}"#,
            "temporaryExposureKeys: expected an array of key objects, got object",
        ),
        (
            r#"{"temporaryExposureKeys":[1]}"#,
            "temporaryExposureKeys[0]: expected a key object, got number 1",
        ),
        (
            r#"{"temporaryExposureKeys":[{},{"rollingPeriod":"144"}]}"#,
            "temporaryExposureKeys[1].rollingPeriod: expected an integer (int32), got string",
        ),
        (
            r#"{"temporaryExposureKeys":[{"rollingPeriod":144.0}]}"#,
            "temporaryExposureKeys[0].rollingPeriod: expected an integer (int32), got number 144.0",
        ),
        (
            r#"{"temporaryExposureKeys":[{"rollingStartNumber":1e3}]}"#,
            "temporaryExposureKeys[0].rollingStartNumber: expected an integer (int32), got number 1000.0",
        ),
        (
            r#"{"temporaryExposureKeys":[{"rollingStartNumber":2147483648}]}"#,
            "temporaryExposureKeys[0].rollingStartNumber: 2147483648 is out of range for int32",
        ),
        (
            r#"{"temporaryExposureKeys":[{"transmissionRisk":9223372036854775808}]}"#,
            "temporaryExposureKeys[0].transmissionRisk: 9223372036854775808 is out of range for int",
        ),
        (
            r#"{"temporaryExposureKeys":[{"key":16}]}"#,
            "temporaryExposureKeys[0].key: expected a string, got number 16",
        ),
        (
            r#"{"symptomOnsetInterval":-2147483649}"#,
            "symptomOnsetInterval: -2147483649 is out of range for int32",
        ),
        (r#"{"traveler":"true"}"#, "traveler: expected a boolean, got string"),
        (r#"{"healthAuthorityID":["a"]}"#, "healthAuthorityID: expected a string, got array"),
        (r#"{"padding":7}"#, "padding: expected a string, got number 7"),
        (r#"{"hmacKey":"!!"}"#, "hmacKey is not valid base64"),
        (r#"{"revisionToken":"a"}"#, "revisionToken is not valid base64"),
    ];
    for (body, expected) in cases {
        check_error(body, expected);
    }
    assert!(matches!(decode_request(b""), Err(PublishDecodeError::Syntax(_))));
    assert!(matches!(decode_request(b"{\"a\":"), Err(PublishDecodeError::Syntax(_))));
    assert!(matches!(decode_request(b"{\"key\":\"\xff\"}"), Err(PublishDecodeError::Syntax(_))));
}

#[test]
fn integers_keep_their_raw_values() {
    let r = decode_request(
        br#"{"temporaryExposureKeys":[{"rollingStartNumber":-2147483648,"rollingPeriod":2147483647,
            "transmissionRisk":-9223372036854775808}]}"#,
    )
    .unwrap();
    let k = &r.keys[0];
    assert_eq!(k.rolling_start_number, i64::from(i32::MIN));
    assert_eq!(k.rolling_period, i64::from(i32::MAX));
    assert_eq!(k.transmission_risk, i64::MIN);
}

#[test]
fn keys_keep_their_text_and_decode_leniently() {
    let body = r#"{"temporaryExposureKeys":[
        {"key":"z2Cx9hdz2SlxZ8GEgqTYpA"},
        {"key":"z2Cx9hdz2SlxZ8GEgqTYpA=="},
        {"key":"-_-_-_-_-_-_-_-_-_-_-w"},
        {"key":"AAAAAAAAAAAAAAAAAAAA"},
        {"key":"not base64!"},
        {"key":"AAAAAAAAAAAAAAAAAAAAAAAA"},
        null,
        {"key":"z2Cx9hdz2SlxZ8GEgqTYpA\u003d\u003d"}
    ]}"#;
    let r = decode_request(body.as_bytes()).unwrap();
    let texts: Vec<&str> = r.keys.iter().map(|k| k.key_text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "z2Cx9hdz2SlxZ8GEgqTYpA",
            "z2Cx9hdz2SlxZ8GEgqTYpA==",
            "-_-_-_-_-_-_-_-_-_-_-w",
            "AAAAAAAAAAAAAAAAAAAA",
            "not base64!",
            "AAAAAAAAAAAAAAAAAAAAAAAA",
            "",
            "z2Cx9hdz2SlxZ8GEgqTYpA==",
        ]
    );
    let decoded: Vec<bool> = r.keys.iter().map(|k| k.key.is_some()).collect();
    assert_eq!(decoded, [true, true, true, false, false, false, false, true]);
    assert_eq!(r.keys[0].key, r.keys[1].key);
    assert_eq!(r.keys[2].key.map(|k| k[0]), Some(0xfb));
}

#[test]
fn nulls_are_zero_values() {
    let r = decode_request(
        br#"{"temporaryExposureKeys":null,"healthAuthorityID":null,"hmacKey":null,
            "symptomOnsetInterval":null,"traveler":null,"revisionToken":null,"padding":null}"#,
    )
    .unwrap();
    assert_eq!(r, PublishRequest::default());
    let r = decode_request(br#"{"temporaryExposureKeys":[{"key":null,"rollingPeriod":null}]}"#)
        .unwrap();
    assert_eq!(r.keys, vec![PublishKey::default()]);
}

proptest! {
    #[test]
    fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_request(&bytes);
    }

    #[test]
    fn never_panics_on_json_like_text(text in r#"[\[\]{}:,"a-zA-Z0-9 .eE+\-\\]{0,120}"#) {
        let _ = decode_request(text.as_bytes());
    }

    #[test]
    fn decodes_what_a_client_writes(
        keys in proptest::collection::vec(
            (any::<[u8; 16]>(), any::<i32>(), any::<i32>(), any::<i64>(), any::<bool>()), 0..31),
        hmac in proptest::collection::vec(any::<u8>(), 0..40),
        onset in proptest::option::of(any::<i32>()),
        traveler in any::<bool>(),
    ) {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let items: Vec<serde_json::Value> = keys.iter().map(|(k, s, p, t, url)| {
            let text = if *url { URL_SAFE_NO_PAD.encode(k) } else { STANDARD.encode(k) };
            serde_json::json!({"key": text, "rollingStartNumber": s, "rollingPeriod": p,
                "transmissionRisk": t})
        }).collect();
        let mut body = serde_json::json!({"temporaryExposureKeys": items,
            "hmacKey": STANDARD.encode(&hmac), "traveler": traveler});
        if let Some(o) = onset {
            body["symptomOnsetInterval"] = o.into();
        }
        let r = decode_request(body.to_string().as_bytes()).unwrap();
        prop_assert_eq!(r.keys.len(), keys.len());
        for (got, (k, s, p, t, _)) in r.keys.iter().zip(&keys) {
            prop_assert_eq!(got.key, Some(*k));
            prop_assert_eq!(got.rolling_start_number, i64::from(*s));
            prop_assert_eq!(got.rolling_period, i64::from(*p));
            prop_assert_eq!(got.transmission_risk, *t);
        }
        prop_assert_eq!(r.hmac_key.as_slice(), hmac.as_slice());
        prop_assert_eq!(r.symptom_onset_interval, onset.map(i64::from));
        prop_assert_eq!(r.traveler, traveler);
    }
}
