use proptest::prelude::*;

use super::*;

fn entry(country: &str, thumbprint_byte: u8) -> TrustEntry {
    TrustEntry {
        country: country.parse().unwrap(),
        kind: TrustKind::Signing,
        certificate_pem: "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n".into(),
        thumbprint: CertThumbprint([thumbprint_byte; 32]),
        operator_signature: "MEUCIQ==".into(),
        revoked: false,
        host: None,
        entry_signature: Some("MEQCIA==".into()),
    }
}

/// The JSON of one entry with `field` replaced by `value` (raw JSON), or removed if `None`.
fn with_field(field: &str, value: Option<&str>) -> String {
    let json = TrustList { entries: vec![entry("DE", 1)] }.to_json();
    let mut doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let object = doc["entries"][0].as_object_mut().unwrap();
    match value {
        Some(v) => {
            object.insert(field.to_owned(), serde_json::from_str(v).unwrap());
        }
        None => {
            object.remove(field);
        }
    }
    doc.to_string()
}

#[test]
fn the_file_has_the_documented_shape() {
    let list = TrustList {
        entries: vec![TrustEntry {
            kind: TrustKind::Callback,
            host: Some("backend.example.de".into()),
            revoked: true,
            entry_signature: None,
            ..entry("DE", 0xab)
        }],
    };
    let expected = format!(
        r#"{{
  "entries": [
    {{
      "country": "DE",
      "kind": "CALLBACK",
      "thumbprint": "{}",
      "certificate": "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
      "signature": "MEUCIQ==",
      "revoked": true,
      "host": "backend.example.de"
    }}
  ]
}}
"#,
        "ab".repeat(32)
    );
    assert_eq!(list.to_json(), expected);
    assert_eq!(TrustList::from_json(&expected).unwrap(), list);

    let empty = TrustList::default();
    assert_eq!(empty.to_json(), "{\n  \"entries\": []\n}\n");
    assert_eq!(TrustList::from_json(&empty.to_json()).unwrap(), empty);
}

/// herald's entry signature sits beside EFGS's fields; a list without it (EFGS's shape, as in
/// the test above) stays readable.
#[test]
fn the_entry_signature_is_carried_beside_the_efgs_fields() {
    let list = TrustList { entries: vec![entry("NL", 0x01)] };
    let expected = format!(
        r#"{{
  "entries": [
    {{
      "country": "NL",
      "kind": "SIGNING",
      "thumbprint": "{}",
      "certificate": "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
      "signature": "MEUCIQ==",
      "revoked": false,
      "host": null,
      "entry_signature": "MEQCIA=="
    }}
  ]
}}
"#,
        "01".repeat(32)
    );
    assert_eq!(list.to_json(), expected);
    assert_eq!(TrustList::from_json(&expected).unwrap(), list);
    for json in [with_field("entry_signature", None), with_field("entry_signature", Some("null"))] {
        assert_eq!(TrustList::from_json(&json).unwrap().entries[0].entry_signature, None, "{json}");
    }
}

#[test]
fn host_may_be_omitted_or_null() {
    for json in [with_field("host", None), with_field("host", Some("null"))] {
        assert_eq!(TrustList::from_json(&json).unwrap().entries[0].host, None, "{json}");
    }
}

#[test]
fn unknown_and_missing_fields_are_refused() {
    let err = TrustList::from_json(&with_field("comment", Some(r#""hi""#))).unwrap_err();
    assert!(matches!(err, TrustError::Json { .. }), "{err:?}");
    assert!(err.to_string().contains("unknown field `comment`"), "{err}");

    let err = TrustList::from_json(r#"{"entries": [], "version": 1}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `version`"), "{err}");

    for field in ["country", "kind", "thumbprint", "certificate", "signature", "revoked"] {
        let err = TrustList::from_json(&with_field(field, None)).unwrap_err();
        assert!(err.to_string().contains(&format!("missing field `{field}`")), "{field}: {err}");
    }
    for bad in ["", "[]", "{}", "not json", r#"{"entries": {}}"#] {
        let err = TrustList::from_json(bad).unwrap_err();
        assert!(err.to_string().starts_with("trust list is malformed: "), "{bad:?}: {err}");
    }
    // Wrong types.
    let err = TrustList::from_json(&with_field("revoked", Some(r#""false""#))).unwrap_err();
    assert!(matches!(err, TrustError::Json { .. }), "{err:?}");
}

#[test]
fn bad_field_values_name_the_entry_and_the_field() {
    let cases = [
        ("country", r#""de""#, "an upper-case ISO 3166-1 alpha-2 code"),
        ("country", r#""DEU""#, "an upper-case ISO 3166-1 alpha-2 code"),
        ("kind", r#""signing""#, "AUTHENTICATION, SIGNING or CALLBACK"),
        ("thumbprint", &format!(r#""{}""#, "AB".repeat(32)), "64 lowercase hex digits"),
        ("thumbprint", &format!(r#""{}""#, "ab:".repeat(31) + "ab"), "64 lowercase hex digits"),
        ("thumbprint", r#""abcd""#, "64 lowercase hex digits"),
        ("certificate", r#""""#, "a PEM certificate"),
        ("signature", r#""""#, "one line of standard Base64"),
        ("signature", r#""MEUC\nIQ==""#, "one line of standard Base64"),
        ("signature", r#""MEUCIQ""#, "one line of standard Base64"),
        ("signature", r#""ME_CIQ==""#, "one line of standard Base64"),
        ("entry_signature", r#""""#, "one line of standard Base64"),
        ("entry_signature", r#""MEQC\nIA==""#, "one line of standard Base64"),
        ("entry_signature", r#""MEQCIA""#, "one line of standard Base64"),
    ];
    for (field, value, expected) in cases {
        let err = TrustList::from_json(&with_field(field, Some(value))).unwrap_err();
        assert!(
            matches!(&err, TrustError::ListField { index: 0, field: f, expected: e, .. }
                if f == &field && e == &expected),
            "{field} = {value}: {err:?}"
        );
        assert!(err.to_string().starts_with(&format!("trust-list entry 0: {field} ")), "{err}");
    }
}

#[test]
fn a_thumbprint_appears_once() {
    let list = TrustList { entries: vec![entry("DE", 1), entry("NL", 2), entry("FR", 1)] };
    let err = TrustList::from_json(&list.to_json()).unwrap_err();
    assert!(
        matches!(err, TrustError::DuplicateThumbprint { index: 2, first: 0, thumbprint }
            if thumbprint == CertThumbprint([1; 32])),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("trust-list entry 2: thumbprint {} already appears in entry 0", "01".repeat(32))
    );
}

fn entry_strategy() -> impl Strategy<Value = TrustEntry> {
    (
        "[A-Z]{2}",
        prop::sample::select(TrustKind::ALL.to_vec()),
        // Any non-empty text: the file format carries the PEM verbatim, whatever it is.
        any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
        any::<[u8; 32]>(),
        prop::collection::vec(any::<u8>(), 1..300),
        any::<bool>(),
        prop::option::of(any::<String>()),
        prop::option::of(prop::collection::vec(any::<u8>(), 1..300)),
    )
        .prop_map(
            |(country, kind, certificate_pem, thumbprint, signature, revoked, host, entry)| {
                TrustEntry {
                    country: country.parse().unwrap(),
                    kind,
                    certificate_pem,
                    thumbprint: CertThumbprint(thumbprint),
                    operator_signature: BASE64.encode(signature),
                    revoked,
                    host,
                    entry_signature: entry.map(|e| BASE64.encode(e)),
                }
            },
        )
}

proptest! {
    #[test]
    fn json_round_trips(entries in prop::collection::vec(entry_strategy(), 0..8)) {
        // Distinct thumbprints, as a valid list has.
        let mut seen = std::collections::BTreeSet::new();
        let entries: Vec<TrustEntry> =
            entries.into_iter().filter(|e| seen.insert(e.thumbprint)).collect();
        let list = TrustList { entries };
        let json = list.to_json();
        prop_assert_eq!(TrustList::from_json(&json).unwrap(), list);
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = TrustList::from_json(&text);
    }
}
