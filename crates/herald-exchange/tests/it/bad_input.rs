//! The bad-input table (plan §5 item 6): each refused request answers its status with a TAXII
//! error body naming the reason, and leaves the store as it was; each refused object of a POST
//! is named in the 202 status with its reason, and the valid objects beside it are stored.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use herald_exchange::store::{NewOrg, NewToken, OrgKind};
use herald_stix::json::Limits;
use herald_stix::tlp;
use serde_json::{Value, json};

use crate::support::{
    INBOX, NOW, SECTOR, Setup, TAXII, basic, basic_with, call, flip, identity, note, send,
    setup_with,
};

/// The limits of this suite: small, so that each is easy to go over.
const LIMITS: Limits =
    Limits { max_objects: 5, max_depth: 8, max_string_bytes: 4096, max_list_len: 100 };
const MAX_CONTENT_LENGTH: u64 = 1 << 16;

struct Row {
    name: &'static str,
    request: Request<Body>,
    status: StatusCode,
    reason: &'static str,
}

fn row(
    name: &'static str,
    request: Request<Body>,
    status: StatusCode,
    reason: &'static str,
) -> Row {
    Row { name, request, status, reason }
}

/// A GET as `org` with the TAXII `Accept`.
fn get(path: &str, org: &str) -> Request<Body> {
    Request::get(path)
        .header("accept", TAXII)
        .header("authorization", basic(org))
        .body(Body::empty())
        .unwrap()
}

/// A POST to the sector's objects as `org` with `content_type`.
fn post(org: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut req = Request::post(format!("{SECTOR}objects/")).header("authorization", basic(org));
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.body(body.into()).unwrap()
}

fn envelope() -> String {
    json!({"objects": [note(1, None, json!({}))]}).to_string()
}

fn media_rows() -> Vec<Row> {
    use StatusCode as S;
    let objects = format!("{SECTOR}objects/");
    let big = format!("{{\"objects\": [], \"x\": \"{}\"}}", "a".repeat(70_000));
    let accept = |value: &str| {
        Request::get(&objects)
            .header("authorization", basic("hospital-a"))
            .header("accept", value)
            .body(Body::empty())
            .unwrap()
    };
    let declared = Request::post(&objects)
        .header("authorization", basic("hospital-a"))
        .header("content-type", TAXII)
        .header("content-length", "2000000")
        .body(Body::from(envelope()))
        .unwrap();
    let chunked = Request::post(&objects)
        .header("authorization", basic("hospital-a"))
        .header("content-type", TAXII)
        .header("transfer-encoding", "chunked")
        .body(Body::from(big.clone()))
        .unwrap();
    vec![
        row(
            "no content type",
            post("hospital-a", None, envelope()),
            S::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type is required",
        ),
        row(
            "content type json",
            post("hospital-a", Some("application/json"), envelope()),
            S::UNSUPPORTED_MEDIA_TYPE,
            "is not application/taxii+json",
        ),
        row(
            "content type 2.0",
            post("hospital-a", Some("application/taxii+json;version=2.0"), envelope()),
            S::UNSUPPORTED_MEDIA_TYPE,
            "another TAXII version",
        ),
        row("accept json", accept("application/json"), S::NOT_ACCEPTABLE, "version=2.1 only"),
        row(
            "accept 2.0",
            accept("application/taxii+json;version=2.0"),
            S::NOT_ACCEPTABLE,
            "version=2.1 only",
        ),
        row("oversize by content-length", declared, S::PAYLOAD_TOO_LARGE, "max_content_length"),
        row(
            "oversize without content-length",
            post("hospital-a", Some(TAXII), big),
            S::PAYLOAD_TOO_LARGE,
            "max_content_length",
        ),
        row("oversize chunked", chunked, S::PAYLOAD_TOO_LARGE, "max_content_length"),
        row(
            "PUT on objects",
            Request::put(format!("{SECTOR}objects/"))
                .header("accept", TAXII)
                .header("authorization", basic("hospital-a"))
                .body(Body::empty())
                .unwrap(),
            S::METHOD_NOT_ALLOWED,
            "does not take that method",
        ),
    ]
}

fn body_rows() -> Vec<Row> {
    use StatusCode as S;
    let six: Vec<Value> = (1..=6).map(|n| note(300 + n, None, json!({}))).collect();
    let ct = Some(TAXII);
    vec![
        row("not json", post("hospital-a", ct, "hello"), S::BAD_REQUEST, "not JSON"),
        row("truncated", post("hospital-a", ct, "{\"objects\": ["), S::BAD_REQUEST, "not JSON"),
        row(
            "byte order mark",
            post("hospital-a", ct, "\u{feff}{\"objects\": []}"),
            S::BAD_REQUEST,
            "not JSON",
        ),
        row(
            "json array",
            post("hospital-a", ct, "[]"),
            S::UNPROCESSABLE_ENTITY,
            "must be a JSON object",
        ),
        row(
            "json number",
            post("hospital-a", ct, "42"),
            S::UNPROCESSABLE_ENTITY,
            "must be a JSON object",
        ),
        row(
            "json string",
            post("hospital-a", ct, "\"objects\""),
            S::UNPROCESSABLE_ENTITY,
            "must be a JSON object",
        ),
        row(
            "an object at top level",
            post("hospital-a", ct, "{\"type\": \"indicator\"}"),
            S::UNPROCESSABLE_ENTITY,
            "not a bundle",
        ),
        row(
            "duplicate objects key",
            post("hospital-a", ct, "{\"objects\": [], \"objects\": []}"),
            S::UNPROCESSABLE_ENTITY,
            "duplicate",
        ),
        row(
            "too many objects",
            post("hospital-a", ct, json!({"objects": six}).to_string()),
            S::PAYLOAD_TOO_LARGE,
            "at most 5",
        ),
    ]
}

fn query_rows(cursor: &str, cert_cursor: &str) -> Vec<Row> {
    use StatusCode as S;
    let o = format!("{SECTOR}objects/");
    vec![
        row(
            "bad added_after",
            get(&format!("{o}?added_after=yesterday"), "hospital-a"),
            S::BAD_REQUEST,
            "added_after",
        ),
        row(
            "limit abc",
            get(&format!("{o}?limit=abc"), "hospital-a"),
            S::BAD_REQUEST,
            "not a positive integer",
        ),
        row(
            "limit -1",
            get(&format!("{o}?limit=-1"), "hospital-a"),
            S::BAD_REQUEST,
            "not a positive integer",
        ),
        row("limit 0", get(&format!("{o}?limit=0"), "hospital-a"), S::BAD_REQUEST, "at least 1"),
        row(
            "unknown match",
            get(&format!("{o}?match[foo]=x"), "hospital-a"),
            S::BAD_REQUEST,
            "match[foo]",
        ),
        row(
            "forged cursor",
            get(&format!("{o}?next={}", flip(cursor)), "hospital-a"),
            S::BAD_REQUEST,
            "altered",
        ),
        row("garbage cursor", get(&format!("{o}?next=AAAA"), "hospital-a"), S::BAD_REQUEST, "next"),
        row(
            "another organisation's cursor",
            get(&format!("{o}?next={cursor}"), "hospital-b"),
            S::BAD_REQUEST,
            "another organisation",
        ),
        row(
            "cursor with changed filters",
            get(&format!("{o}?match[type]=note&next={cursor}"), "hospital-a"),
            S::BAD_REQUEST,
            "other filters",
        ),
        row(
            "cursor of another collection",
            get(&format!("{INBOX}objects/?next={cert_cursor}"), "cert"),
            S::BAD_REQUEST,
            "another collection",
        ),
        row(
            "unknown collection",
            get(
                "/taxii2/health/collections/c0000000-0000-4000-8000-00000000dead/objects/",
                "hospital-a",
            ),
            S::NOT_FOUND,
            "no such collection",
        ),
        row(
            "unknown alias",
            get("/taxii2/health/collections/sectr/objects/", "hospital-a"),
            S::NOT_FOUND,
            "no such collection",
        ),
    ]
}

fn auth_rows() -> Vec<Row> {
    use StatusCode as S;
    let o = format!("{SECTOR}objects/");
    let with = |auth: String| {
        Request::get(&o)
            .header("accept", TAXII)
            .header("authorization", auth)
            .body(Body::empty())
            .unwrap()
    };
    let delete =
        Request::delete(format!("{o}{}/", note(1, None, json!({}))["id"].as_str().unwrap()))
            .header("accept", TAXII)
            .header("authorization", basic("hospital-b"))
            .body(Body::empty())
            .unwrap();
    vec![
        row(
            "no credentials",
            Request::get(&o).header("accept", TAXII).body(Body::empty()).unwrap(),
            S::UNAUTHORIZED,
            "credentials are required",
        ),
        row(
            "bad token",
            with("Bearer nope".into()),
            S::UNAUTHORIZED,
            "unknown organisation or token",
        ),
        row(
            "token with another org's name",
            with(basic_with("hospital-b", "hospital-a")),
            S::UNAUTHORIZED,
            "unknown organisation or token",
        ),
        row(
            "revoked token",
            with(basic_with("hospital-a", "old")),
            S::UNAUTHORIZED,
            "unknown organisation or token",
        ),
        row(
            "disabled organisation",
            with(basic("clinic-d")),
            S::UNAUTHORIZED,
            "unknown organisation or token",
        ),
        row(
            "write without right",
            post("vendor-x", Some(TAXII), envelope()),
            S::FORBIDDEN,
            "may not add objects",
        ),
        row(
            "read without right",
            get(&format!("{INBOX}objects/"), "hospital-a"),
            S::FORBIDDEN,
            "may not read",
        ),
        row("delete as non-author", delete, S::FORBIDDEN, "only the author"),
    ]
}

async fn objects(s: &Setup) -> i64 {
    let counts = s.store.counts().await.unwrap();
    counts.iter().find(|(t, _)| *t == "stix_object").unwrap().1
}

/// The store as the refusals found it: hospital-a's note 1 (AMBER), a strict note 50, a revoked
/// token, a disabled organisation. Cursors: hospital-a's on the sector, cert's on the sector.
async fn prepared() -> (Setup, String, String) {
    let s = setup_with(LIMITS, MAX_CONTENT_LENGTH).await;
    let notes = [
        note(1, None, json!({})),
        note(2, None, json!({})),
        note(50, Some(tlp::TLP2_AMBER_STRICT), json!({})),
    ];
    let body = json!({"objects": notes}).to_string();
    let v = call(&s, "POST", &format!("{SECTOR}objects/"), Some("hospital-a"), Some(&body))
        .await
        .json();
    assert_eq!(v["success_count"], 3, "{v}");
    let key = [9u8; 32];
    let a = s.store.org_by_name("hospital-a").await.unwrap().unwrap();
    let old = NewToken {
        org: a.id,
        name: "old".into(),
        hash: herald_exchange::api::token_hash(&key, "tok-old"),
        created_us: NOW,
    };
    s.store.add_token(&old).await.unwrap();
    assert!(s.store.revoke_token(a.id, "old").await.unwrap());
    let d = NewOrg { name: "clinic-d".into(), identity_id: identity(9), kind: OrgKind::Member };
    let d = s.store.add_org(&d).await.unwrap().unwrap();
    let token = NewToken {
        org: d,
        name: "t".into(),
        hash: herald_exchange::api::token_hash(&key, "tok-clinic-d"),
        created_us: NOW,
    };
    s.store.add_token(&token).await.unwrap();
    assert!(s.store.set_org_disabled("clinic-d", true).await.unwrap());
    let mut cursors = Vec::new();
    for org in ["hospital-a", "cert"] {
        let page =
            call(&s, "GET", &format!("{SECTOR}objects/?limit=1"), Some(org), None).await.json();
        cursors.push(page["next"].as_str().unwrap().to_owned());
    }
    let cert = cursors.pop().unwrap();
    (s, cursors.pop().unwrap(), cert)
}

#[tokio::test]
async fn bad_requests_are_refused_with_their_reason_and_change_nothing() {
    let (s, cursor, cert_cursor) = prepared().await;
    let mut rows = media_rows();
    rows.extend(body_rows());
    rows.extend(query_rows(&cursor, &cert_cursor));
    rows.extend(auth_rows());
    let total = rows.len();
    assert!(total >= 30, "{total} rows");
    let mut wrong = Vec::new();
    for Row { name, request, status, reason } in rows {
        let before = s.store.counts().await.unwrap();
        let a = send(&s, request).await;
        let v = a.json();
        let description = v["description"].as_str().unwrap_or_default();
        let ok = a.status == status
            && v["http_status"] == status.as_str()
            && v["title"].as_str().is_some_and(|t| !t.is_empty())
            && description.contains(reason)
            && (status != StatusCode::UNAUTHORIZED
                || a.headers
                    .get("www-authenticate")
                    .is_some_and(|h| h.to_str().unwrap().starts_with("Basic")));
        if !ok {
            wrong.push(format!("{name}: want {status} {reason:?}, got {} {}", a.status, a.text()));
        }
        if s.store.counts().await.unwrap() != before {
            wrong.push(format!("{name}: the store changed"));
        }
    }
    println!("bad-input table: {total} refused requests");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn indicator(n: u32, pattern: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2026-12-01T10:00:00.000Z", "modified": "2026-12-01T10:00:00.000Z",
        "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-12-01T10:00:00Z"
    })
}

fn red_to(n: u32, recipient: &str) -> Value {
    note(
        n,
        Some(tlp::TLP2_RED),
        json!({"extensions": {tlp::RECIPIENTS_EXTENSION: {"extension_type": "property-extension", "recipients": [recipient]}}}),
    )
}

/// Refused objects: (name, the object's JSON text, its id, reason substring).
fn object_rows() -> Vec<(&'static str, String, String, &'static str)> {
    let id = |n: u32| format!("note--00000000-0000-4000-8000-{n:012}");
    let deep = (0..10).fold(json!("x"), |v, _| json!([v]));
    let dup = note(404, None, json!({})).to_string().replacen(
        "\"type\":\"note\"",
        "\"type\":\"note\",\"type\":\"note\"",
        1,
    );
    let strict = id(50);
    vec![
        (
            "invalid pattern",
            indicator(401, "[file:name = ").to_string(),
            "indicator--00000000-0000-4000-8000-000000000401".into(),
            "pattern",
        ),
        (
            "created after modified",
            note(402, None, json!({"created": "2026-12-02T10:00:00.000Z"})).to_string(),
            id(402),
            "modified",
        ),
        (
            "unknown top-level property",
            note(403, None, json!({"x_custom": 1})).to_string(),
            id(403),
            "x_custom",
        ),
        ("duplicate keys in an object", dup, id(404), "appears twice"),
        (
            "ref to the wrong type",
            note(
                405,
                None,
                json!({"created_by_ref": "malware--00000000-0000-4000-8000-000000000000"}),
            )
            .to_string(),
            id(405),
            "created_by_ref",
        ),
        (
            "depth over the limit",
            note(406, None, json!({"labels": [deep]})).to_string(),
            id(406),
            "deep",
        ),
        (
            "string over the limit",
            note(407, None, json!({"content": "a".repeat(5000)})).to_string(),
            id(407),
            "4096",
        ),
        (
            "created_by_ref of another organisation",
            note(408, None, json!({"created_by_ref": identity(2)})).to_string(),
            id(408),
            "is the identity of another organisation (hospital-b)",
        ),
        (
            "RED recipient outside the exchange",
            red_to(409, &identity(77)).to_string(),
            id(409),
            "not an organisation of this exchange",
        ),
        (
            "less restricted than its reference",
            note(410, Some(tlp::TLP2_CLEAR), json!({"object_refs": [strict]})).to_string(),
            id(410),
            "may not reference",
        ),
    ]
}

#[tokio::test]
async fn refused_objects_are_named_and_the_valid_ones_beside_them_stored() {
    let (s, _, _) = prepared().await;
    let mut wrong = Vec::new();
    let rows = object_rows();
    for (k, (name, bad, id, reason)) in rows.iter().enumerate() {
        let before = objects(&s).await;
        let valid = note(500 + u32::try_from(k).unwrap(), None, json!({}));
        let body = format!("{{\"objects\": [{valid}, {bad}]}}");
        let a =
            call(&s, "POST", &format!("{SECTOR}objects/"), Some("hospital-a"), Some(&body)).await;
        let v = a.json();
        let failure = &v["failures"][0];
        let ok = a.status == StatusCode::ACCEPTED
            && v["success_count"] == 1
            && v["failure_count"] == 1
            && v["successes"][0]["id"] == valid["id"]
            && failure["id"] == id.as_str()
            && failure["version"].is_string()
            && failure["message"].as_str().is_some_and(|m| m.contains(reason));
        if !ok {
            wrong.push(format!(
                "{name}: want failure {id} {reason:?}, got {} {}",
                a.status,
                a.text()
            ));
        }
        if objects(&s).await != before + 1 {
            wrong.push(format!("{name}: stored {} objects, not 1", objects(&s).await - before));
        }
    }
    println!("bad-object table: {} refused objects", rows.len());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
