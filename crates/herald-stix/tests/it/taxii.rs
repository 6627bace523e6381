//! The TAXII 2.1 codecs: query strings, cursors, media types and response shapes, checked
//! against what taxii2-client 2.3.0 and stix2 3.0.2 send and read.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald_stix::taxii::cursor::{self, Binding, CursorError, CursorKey, Position};
use herald_stix::taxii::media::{self, TAXII_MEDIA_TYPE};
use herald_stix::taxii::query::{self, Endpoint, VersionFilter};
use herald_stix::taxii::shapes::{
    ApiRoot, Collection, Collections, Discovery, ErrorBody, Failure, Manifest, ManifestRecord,
    Status, Success, Versions, write_envelope,
};
use herald_stix::timestamp::StixTime;
use proptest::prelude::*;
use serde_json::Value;

const ID: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

/// `(query, endpoint, Ok(canonical) | Err(reason substring))`.
#[test]
fn query_table() {
    use Endpoint::{Manifest, Object, Objects, Versions};
    let ok = |c: &str| Ok::<String, String>(c.to_owned());
    let err = |r: &str| Err::<String, String>(r.to_owned());
    let last = "match[version]=last\n";
    let match_id = format!("match[id]={ID}");
    let rows: Vec<(&str, Endpoint, Result<String, String>)> = vec![
        ("", Objects, ok(last)),
        ("limit=10", Objects, ok(last)),
        ("limit=4294967295", Manifest, ok(last)),
        ("unknown=1&utm_source=x", Objects, ok(last)),
        ("next=", Objects, ok(last)),
        (
            "added_after=2016-01-01T01:01:01Z",
            Objects,
            ok("added_after=2016-01-01T01:01:01.000000Z\nmatch[version]=last\n"),
        ),
        (
            "added_after=2016-01-01T01%3A01%3A01.123456789Z",
            Versions,
            ok("added_after=2016-01-01T01:01:01.123456Z\nmatch[version]=last\n"),
        ),
        (
            "match%5Btype%5D=malware%2Cindicator",
            Objects,
            ok("match[type]=indicator,malware\nmatch[version]=last\n"),
        ),
        (
            "match[type]=indicator&match[type]=malware,indicator",
            Manifest,
            ok("match[type]=indicator,malware\nmatch[version]=last\n"),
        ),
        (&match_id, Objects, ok(&format!("match[id]={ID}\nmatch[version]=last\n"))),
        ("match[version]=all", Objects, ok("match[version]=all\n")),
        ("match[version]=first,all", Object, ok("match[version]=all\n")),
        ("match[version]=last,first", Object, ok("match[version]=first,last\n")),
        (
            "match[version]=2016-01-01T00:00:00.000Z,first",
            Object,
            ok("match[version]=first,2016-01-01T00:00:00.000000Z\n"),
        ),
        (
            "match[spec_version]=2.1,2.0",
            Versions,
            ok("match[version]=last\nmatch[spec_version]=2.0,2.1\n"),
        ),
        ("added_after=yesterday", Objects, err("added_after is not a STIX timestamp")),
        ("added_after=2016-01-01T01:01:01", Objects, err("added_after is not a STIX timestamp")),
        ("added_after=2016-02-30T01:01:01Z", Objects, err("added_after is not a STIX timestamp")),
        ("limit=abc", Objects, err("not a positive integer")),
        ("limit=-1", Objects, err("not a positive integer")),
        ("limit=0", Objects, err("at least 1")),
        ("limit=1.5", Objects, err("not a positive integer")),
        ("limit=", Objects, err("not a positive integer")),
        ("limit=+5", Objects, err("not a positive integer")),
        ("limit=4294967296", Objects, err("too large")),
        ("limit=1&limit=2", Objects, err("more than once")),
        ("next=a&next=b", Objects, err("more than once")),
        ("match[id]=not-an-id", Objects, err("match[id]")),
        ("match[type]=Indicator", Objects, err("match[type]")),
        ("match[type]=indicator,,malware", Objects, err("empty value")),
        ("match[version]=latest", Objects, err("match[version]")),
        ("match[spec_version]=2.2", Objects, err("not a STIX version")),
        ("match[id]=x", Object, err("not a filter of this endpoint")),
        ("match[type]=indicator", Versions, err("not a filter of this endpoint")),
        ("match[version]=all", Versions, err("not a filter of this endpoint")),
        ("match[foo]=bar", Objects, err("not a filter of this endpoint")),
        ("match[type]=%E2%28", Objects, err("not UTF-8")),
        ("match[type]=%2", Objects, err("malformed percent escape")),
    ];
    assert!(rows.len() >= 25);
    for (text, endpoint, want) in rows {
        let got = query::parse(Some(text), endpoint);
        match (&got, &want) {
            (Ok(filters), Ok(canonical)) => {
                assert_eq!(&filters.canonical(), canonical, "{text:?}");
            }
            (Err(e), Err(reason)) => assert!(e.0.contains(reason.as_str()), "{text:?}: {e}"),
            _ => panic!("{text:?} on {endpoint:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn query_values() {
    let f = query::parse(
        Some("limit=50&next=abc&match[version]=first&match[version]=2016-01-01T00:00:00Z"),
        Endpoint::Objects,
    )
    .unwrap();
    assert_eq!(f.limit, Some(50));
    assert_eq!(f.next.as_deref(), Some("abc"));
    let at = StixTime::parse("2016-01-01T00:00:00Z").unwrap();
    assert_eq!(f.versions, VersionFilter::Select { first: true, last: false, at: vec![at] });
    assert!(query::parse(None, Endpoint::Objects).unwrap().versions == VersionFilter::default());
    // limit and next are not part of the canonical text.
    let other = query::parse(Some("limit=3&next=zz"), Endpoint::Objects).unwrap();
    assert_eq!(other.canonical(), query::parse(None, Endpoint::Objects).unwrap().canonical());
}

fn binding(filters: &str) -> Binding<'_> {
    Binding { org: 42, endpoint: Endpoint::Objects, collection: "c-1", object: None, filters }
}

#[test]
fn cursor_round_trip_and_refusals() {
    let key = CursorKey::new([9; 32]);
    let at =
        Position { date_added: StixTime::parse("2026-12-07T10:00:00.123456Z").unwrap(), seq: 17 };
    let text = cursor::seal(&key, at, &binding("f"));
    assert_eq!(text.len(), 76);
    assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(cursor::open(&key, &text, &binding("f")), Ok(at));
    // Another instance with the same key opens it (no server state).
    assert_eq!(cursor::open(&CursorKey::new([9; 32]), &text, &binding("f")), Ok(at));

    let malformed = [String::new(), "!".repeat(76), format!("{text}A"), format!("{text}=")];
    for bad in &malformed {
        assert_eq!(cursor::open(&key, bad, &binding("f")), Err(CursorError::Malformed), "{bad}");
    }
    // An unknown version byte (the rest intact).
    let mut bytes = URL_SAFE_NO_PAD.decode(&text).unwrap();
    bytes[0] = 2;
    let v2 = URL_SAFE_NO_PAD.encode(&bytes);
    assert_eq!(cursor::open(&key, &v2, &binding("f")), Err(CursorError::Malformed));

    let forged = cursor::open(&CursorKey::new([8; 32]), &text, &binding("f"));
    assert_eq!(forged, Err(CursorError::Forged));
    let other_org = cursor::open(&key, &text, &Binding { org: 43, ..binding("f") });
    assert_eq!(other_org, Err(CursorError::OtherCaller));
    for other in [
        binding("g"),
        Binding { collection: "c-2", ..binding("f") },
        Binding { object: Some(ID), ..binding("f") },
        Binding { endpoint: Endpoint::Manifest, ..binding("f") },
    ] {
        assert_eq!(cursor::open(&key, &text, &other), Err(CursorError::OtherRequest));
    }
    assert!(
        CursorError::Forged.to_string().contains("was not issued by this exchange or was altered")
    );
    assert!(CursorError::OtherCaller.to_string().contains("was issued to another organisation"));
    assert!(
        CursorError::OtherRequest
            .to_string()
            .contains("was issued for another collection, object or other filters")
    );
    assert!(!format!("{key:?}").contains('9'));
}

proptest! {
    #[test]
    fn mutated_cursors_are_refused(
        micros in any::<i64>(),
        seq in any::<i64>(),
        at in 0usize..80,
        replacement in prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.é".chars().collect::<Vec<_>>()
        ),
        cut in any::<bool>(),
    ) {
        let key = CursorKey::new([1; 32]);
        let position = Position { date_added: StixTime::from_micros(micros), seq };
        let text = cursor::seal(&key, position, &binding("f"));
        prop_assert_eq!(cursor::open(&key, &text, &binding("f")), Ok(position));
        let mut chars: Vec<char> = text.chars().collect();
        if cut {
            chars.truncate(at.min(chars.len().saturating_sub(1)));
        } else if let Some(c) = chars.get_mut(at) {
            *c = replacement;
        } else {
            chars.push(replacement);
        }
        let mutated: String = chars.into_iter().collect();
        prop_assume!(mutated != text);
        prop_assert!(cursor::open(&key, &mutated, &binding("f")).is_err());
    }
}

#[test]
fn media_types() {
    for (accept, want) in [
        (None, true),
        (Some("*/*"), true),
        (Some("application/*"), true),
        (Some("application/taxii+json"), true),
        (Some("application/taxii+json;version=2.1"), true),
        (Some("application/taxii+json ; version = 2.1"), true),
        (Some("APPLICATION/TAXII+JSON;VERSION=2.1"), true),
        (Some("application/json;q=0.9, application/taxii+json;version=2.1;q=0.1"), true),
        (Some("application/taxii+json;version=2.0"), false),
        (Some("application/vnd.oasis.taxii+json;version=2.0"), false),
        (Some("application/json"), false),
        (Some("application/stix+json;version=2.1"), false),
        (Some("application/taxii+json;version=2.1;q=0"), false),
        (Some("application/taxii+json;version=2.0, application/json"), false),
    ] {
        assert_eq!(media::accepts(accept), want, "Accept {accept:?}");
    }
    // taxii2-client's check: every ';'-token of its Accept is in our Content-Type.
    let ours: Vec<&str> = TAXII_MEDIA_TYPE.split(';').collect();
    assert!(TAXII_MEDIA_TYPE.replace(' ', "").split(';').all(|t| ours.contains(&t)));
    assert_eq!(ours.first(), Some(&"application/taxii+json"));

    for ok in [
        TAXII_MEDIA_TYPE,
        "application/taxii+json",
        "application/TAXII+json; version=2.1; charset=utf-8",
    ] {
        assert_eq!(media::content_type_ok(Some(ok)), Ok(()), "{ok}");
    }
    for bad in [
        None,
        Some("application/json"),
        Some("application/taxii+json;version=2.0"),
        Some("text/plain"),
    ] {
        let why = media::content_type_ok(bad).unwrap_err();
        assert!(why.contains(TAXII_MEDIA_TYPE), "{bad:?}: {why}");
    }
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

/// The property names taxii2-client 2.3.0 reads (`_populate_fields` and `_validate_*` of
/// `Server`, `ApiRoot`, `Collection`, `Status`; `as_pages`) and stix2's `["objects"]`.
#[test]
fn shapes_have_the_names_the_clients_read() {
    let discovery = Discovery {
        title: "herald".into(),
        description: Some("exchange".into()),
        contact: None,
        default: Some("/taxii2/health/".into()),
        api_roots: vec!["/taxii2/health/".into()],
    };
    let v = serde_json::to_value(&discovery).unwrap();
    assert_eq!(keys(&v), ["api_roots", "default", "description", "title"]);

    let v = serde_json::to_value(ApiRoot::taxii21("health", None, 10_485_760)).unwrap();
    assert_eq!(keys(&v), ["max_content_length", "title", "versions"]);
    assert_eq!(v["versions"], serde_json::json!([TAXII_MEDIA_TYPE]));
    assert_eq!(v["max_content_length"], 10_485_760);

    let mut collection =
        Collection::stix21("9cfa669c-ee94-4ece-afd2-f8edac37d8fd", "Sector", true, false);
    collection.alias = Some("sector".into());
    let v = serde_json::to_value(Collections { collections: vec![collection] }).unwrap();
    let c = &v["collections"][0];
    assert_eq!(keys(c), ["alias", "can_read", "can_write", "id", "media_types", "title"]);
    assert_eq!(c["media_types"], serde_json::json!(["application/stix+json;version=2.1"]));
    assert_eq!(c["can_write"], false);
    assert_eq!(serde_json::to_string(&Collections { collections: vec![] }).unwrap(), "{}");

    let t = StixTime::parse("2026-12-07T10:00:00.5Z").unwrap();
    let manifest = Manifest {
        more: true,
        next: Some("cursor".into()),
        objects: vec![ManifestRecord::stix21(ID, t, t)],
    };
    let v = serde_json::to_value(&manifest).unwrap();
    assert_eq!(keys(&v), ["more", "next", "objects"]);
    assert_eq!(keys(&v["objects"][0]), ["date_added", "id", "media_type", "version"]);
    assert_eq!(v["objects"][0]["date_added"], "2026-12-07T10:00:00.500000Z");
    let empty = Manifest { more: false, next: None, objects: vec![] };
    assert_eq!(serde_json::to_string(&empty).unwrap(), r#"{"more":false}"#);

    let v = serde_json::to_value(Versions { more: false, next: None, versions: vec![t] }).unwrap();
    assert_eq!(v, serde_json::json!({"more": false, "versions": ["2026-12-07T10:00:00.500000Z"]}));

    let status = Status {
        id: "2d086da7-4bdc-4f91-900e-d77486753710".into(),
        request_timestamp: t,
        successes: vec![
            Success {
                id: ID.into(),
                version: Some("2026-12-07T10:00:00.000Z".into()),
                message: None,
            },
            Success { id: ID.into(), version: None, message: Some("already present".into()) },
        ],
        failures: vec![Failure { id: "<index 2>".into(), version: None, message: "no id".into() }],
    };
    let v = serde_json::to_value(&status).unwrap();
    assert_eq!(
        keys(&v),
        [
            "failure_count",
            "failures",
            "id",
            "pending_count",
            "pendings",
            "request_timestamp",
            "status",
            "success_count",
            "successes",
            "total_count"
        ]
    );
    assert_eq!(v["status"], "complete");
    assert_eq!(v["request_timestamp"], "2026-12-07T10:00:00.500000Z");
    // taxii2-client's _validate_status.
    let count = |k: &str| v[k].as_u64().unwrap();
    assert_eq!(count("success_count"), 2);
    assert_eq!(count("failure_count"), 1);
    assert_eq!(count("pending_count"), 0);
    assert_eq!(
        count("success_count") + count("failure_count") + count("pending_count"),
        count("total_count")
    );
    assert_eq!(v["successes"].as_array().unwrap().len(), 2);
    assert_eq!(keys(&v["failures"][0]), ["id", "message"]);

    let v = serde_json::to_value(ErrorBody::new(404, "Not Found", "no such collection")).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"title": "Not Found", "description": "no such collection", "http_status": "404"})
    );
}

#[test]
fn envelope_splices_objects_byte_for_byte() {
    let objects: [&[u8]; 3] = [
        br#"{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",  "name":"caf\u00e9"}"#,
        "{\"type\" : \"note\", \"content\": \"é ✓\"}".as_bytes(),
        b"{}",
    ];
    let mut out = Vec::new();
    write_envelope(true, Some("AbC-_"), objects.iter().copied(), &mut out);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["more"], true);
    assert_eq!(v["next"], "AbC-_");
    assert_eq!(v["objects"].as_array().unwrap().len(), 3);
    for object in objects {
        assert!(out.windows(object.len()).any(|w| w == object), "spliced byte for byte");
    }
    // An empty page still has "objects" (stix2 reads envelope["objects"]) and no "next".
    let mut out = Vec::new();
    write_envelope(false, None, std::iter::empty(), &mut out);
    assert_eq!(out, br#"{"more":false,"objects":[]}"#);
}
