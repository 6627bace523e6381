//! The TAXII API through its router: paging with cursors, TLP on every read path, refusals.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use herald_db::testing::{Backend, TestDb};
use herald_exchange::api::{self, Exchange, FixedClock, token_hash};
use herald_exchange::store::{Grant, NewCollection, NewOrg, NewToken, OrgKind, Store};
use herald_stix::json::Limits;
use herald_stix::taxii::cursor::CursorKey;
use herald_stix::tlp;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const NOW: i64 = 1_796_000_000_000_000;
const TAXII: &str = "application/taxii+json;version=2.1";
const SECTOR: &str = "/taxii2/health/collections/sector/";

struct Setup {
    _db: TestDb,
    router: axum::Router,
    store: Store,
}

fn identity(n: u8) -> String {
    format!("identity--{n:08x}-0000-4000-8000-000000000000")
}

async fn setup() -> Setup {
    let db = Backend::Sqlite.fresh().await.unwrap();
    let store = Store::open(&db.url).await.unwrap();
    let key = [9u8; 32];
    let collection = NewCollection {
        id: "c0000000-0000-4000-8000-000000000001".into(),
        alias: Some("sector".into()),
        title: "Sector".into(),
        description: None,
    };
    store.add_collection(&collection).await.unwrap();
    for (n, (name, kind)) in [
        ("cert", OrgKind::Operator),
        ("hospital-a", OrgKind::Member),
        ("hospital-b", OrgKind::Member),
        ("vendor-x", OrgKind::Supplier),
    ]
    .into_iter()
    .enumerate()
    {
        let n = u8::try_from(n).unwrap();
        let org = NewOrg { name: name.into(), identity_id: identity(n), kind };
        let id = store.add_org(&org).await.unwrap().unwrap();
        let token = NewToken {
            org: id,
            name: "t".into(),
            hash: token_hash(&key, &format!("tok-{name}")),
            created_us: NOW,
        };
        store.add_token(&token).await.unwrap();
        if kind == OrgKind::Member {
            store.join_community("health", id).await.unwrap();
        }
        let grant = Grant { can_read: true, can_write: kind != OrgKind::Supplier };
        store.grant(&collection.id, id, grant).await.unwrap();
    }
    let mut counter = 0u8;
    let exchange = Exchange {
        store: store.clone(),
        cursor_key: CursorKey::new([3; 32]),
        token_key: key,
        clock: Arc::new(FixedClock(NOW)),
        limits: Limits::default(),
        page_max: 100,
        max_content_length: 1 << 20,
        title: "herald exchange (test)".into(),
        ids: Mutex::new(Box::new(move || {
            counter = counter.wrapping_add(1);
            [counter; 16]
        })),
    };
    Setup { _db: db, router: api::router(Arc::new(exchange)), store }
}

fn basic(org: &str) -> String {
    let text = format!("{org}:tok-{org}");
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(text))
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn call(
    s: &Setup,
    method: &str,
    path: &str,
    org: Option<&str>,
    body: Option<&str>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(path).header("accept", TAXII);
    if let Some(org) = org {
        req = req.header("authorization", basic(org));
    }
    if body.is_some() {
        req = req.header("content-type", TAXII);
    }
    let req = req.body(Body::from(body.unwrap_or_default().to_owned())).unwrap();
    send(s, req).await
}

async fn send(s: &Setup, req: Request<Body>) -> Answer {
    let res = s.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    assert_eq!(headers["content-type"], TAXII, "{status} {}", String::from_utf8_lossy(&body));
    Answer { status, headers, body }
}

/// The cursor with one character changed.
fn flip(cursor: &str) -> String {
    let mut chars: Vec<char> = cursor.chars().collect();
    chars[20] = if chars[20] == 'B' { 'C' } else { 'B' };
    chars.into_iter().collect()
}

fn note(n: u32, marking: Option<&str>, extra: Value) -> Value {
    let mut v = json!({
        "type": "note", "spec_version": "2.1",
        "id": format!("note--00000000-0000-4000-8000-{n:012}"),
        "created": "2026-12-01T10:00:00.000Z", "modified": "2026-12-01T10:00:00.000Z",
        "content": format!("note {n}"),
        "object_refs": ["malware--00000000-0000-4000-8000-000000000000"]
    });
    if let Some(m) = marking {
        v["object_marking_refs"] = json!([m]);
    }
    if let Value::Object(extra) = extra {
        v.as_object_mut().unwrap().extend(extra);
    }
    v
}

#[tokio::test]
async fn objects_round_trip_byte_for_byte_through_pages() {
    let s = setup().await;
    let apt1 = std::fs::read_to_string(
        herald_testkit::testdata_dir().join("exchange/stix/examples/threat-reports/apt1.json"),
    )
    .unwrap();
    let a = call(&s, "POST", &format!("{SECTOR}objects/"), Some("hospital-a"), Some(&apt1)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&a.body));
    let status = a.json();
    assert_eq!(status["status"], "complete");
    let sent: Value = serde_json::from_str(&apt1).unwrap();
    let total = sent["objects"].as_array().unwrap().len();
    assert_eq!(status["total_count"], total);
    assert_eq!(status["success_count"], total, "{status}");
    // The status stays readable, with and without the trailing slash, by its poster only.
    let sid = status["id"].as_str().unwrap();
    for path in [format!("/taxii2/health/status/{sid}/"), format!("/taxii2/health/status/{sid}")] {
        assert_eq!(call(&s, "GET", &path, Some("hospital-a"), None).await.json(), status);
        assert_eq!(
            call(&s, "GET", &path, Some("hospital-b"), None).await.status,
            StatusCode::NOT_FOUND
        );
    }
    // Read back in pages of 7 (unmarked = AMBER: hospital-b shares the community).
    let mut served = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let q = next.as_ref().map_or(String::new(), |n| format!("&next={n}"));
        let page =
            call(&s, "GET", &format!("{SECTOR}objects/?limit=7{q}"), Some("hospital-b"), None)
                .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.headers.contains_key("x-taxii-date-added-first"));
        let v = page.json();
        served.extend(v["objects"].as_array().unwrap().iter().cloned());
        if v["more"] == true {
            next = Some(v["next"].as_str().unwrap().to_owned());
        } else {
            assert!(v.get("next").is_none());
            break;
        }
    }
    assert_eq!(&served, sent["objects"].as_array().unwrap());
    // Byte for byte: each object's text appears unchanged in an answer.
    let first = &sent["objects"][0];
    let one = call(
        &s,
        "GET",
        &format!("{SECTOR}objects/{}/", first["id"].as_str().unwrap()),
        Some("hospital-a"),
        None,
    )
    .await;
    assert_eq!(one.json()["objects"][0], *first);
    // The manifest lists the same ids; a cursor of another organisation or other filters is refused.
    let m = call(&s, "GET", &format!("{SECTOR}manifest/?limit=5"), Some("hospital-a"), None)
        .await
        .json();
    assert_eq!(m["objects"].as_array().unwrap().len(), 5);
    let cursor = m["next"].as_str().unwrap();
    let other =
        call(&s, "GET", &format!("{SECTOR}manifest/?next={cursor}"), Some("hospital-b"), None)
            .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert!(other.json()["description"].as_str().unwrap().contains("another organisation"));
    let filters = call(
        &s,
        "GET",
        &format!("{SECTOR}manifest/?match[type]=indicator&next={cursor}"),
        Some("hospital-a"),
        None,
    )
    .await;
    assert_eq!(filters.status, StatusCode::BAD_REQUEST);
    let forged = call(
        &s,
        "GET",
        &format!("{SECTOR}manifest/?next={}", flip(cursor)),
        Some("hospital-a"),
        None,
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    // Re-posting is a success that stores nothing new.
    let again = call(&s, "POST", &format!("{SECTOR}objects/"), Some("hospital-a"), Some(&apt1))
        .await
        .json();
    assert_eq!(again["success_count"], total);
    assert_eq!(again["successes"][0]["message"], "already present");
}

#[tokio::test]
async fn tlp_decides_every_read_path_and_hidden_is_missing() {
    let s = setup().await;
    let peer = identity(2);
    let red_ext = json!({"extensions": {tlp::RECIPIENTS_EXTENSION: {"extension_type": "property-extension", "recipients": [peer]}}});
    let notes = [
        note(1, Some(tlp::TLP2_CLEAR), json!({})),
        note(2, Some(tlp::TLP2_GREEN), json!({})),
        note(3, None, json!({})),
        note(4, Some(tlp::TLP2_AMBER_STRICT), json!({})),
        note(5, Some(tlp::TLP2_RED), red_ext),
    ];
    let body = json!({"objects": notes}).to_string();
    let a = call(&s, "POST", &format!("{SECTOR}objects/"), Some("hospital-a"), Some(&body))
        .await
        .json();
    assert_eq!(a["success_count"], 5, "{a}");
    let seen = |org: &'static str| {
        let s = &s;
        async move {
            let v = call(s, "GET", &format!("{SECTOR}objects/"), Some(org), None).await.json();
            v["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["content"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(seen("hospital-a").await, ["note 1", "note 2", "note 3", "note 4", "note 5"]);
    assert_eq!(seen("cert").await.len(), 5);
    assert_eq!(seen("hospital-b").await, ["note 1", "note 2", "note 3", "note 5"]);
    assert_eq!(seen("vendor-x").await, ["note 1"]);
    // A hidden object answers exactly as a missing one, on object and versions.
    for suffix in ["", "versions/"] {
        let hidden = call(
            &s,
            "GET",
            &format!("{SECTOR}objects/note--00000000-0000-4000-8000-000000000004/{suffix}"),
            Some("hospital-b"),
            None,
        )
        .await;
        let missing = call(
            &s,
            "GET",
            &format!("{SECTOR}objects/note--00000000-0000-4000-8000-000000000099/{suffix}"),
            Some("hospital-b"),
            None,
        )
        .await;
        assert_eq!((hidden.status, &hidden.body), (StatusCode::NOT_FOUND, &missing.body));
    }
    // The manifest follows the same rule.
    let m = call(&s, "GET", &format!("{SECTOR}manifest/"), Some("vendor-x"), None).await.json();
    assert_eq!(m["objects"].as_array().unwrap().len(), 1);
    // Reading RED or AMBER+STRICT as someone else than the author is audited.
    let audit = s.store.audit_entries(0, 100).await.unwrap();
    assert!(audit.iter().any(|r| r.entry.action == "read-restricted"));
    // An object less restricted than what it references is refused, with the reason.
    let leak = note(
        6,
        Some(tlp::TLP2_CLEAR),
        json!({"object_refs": ["note--00000000-0000-4000-8000-000000000004"]}),
    );
    let body = json!({"objects": [leak]}).to_string();
    let v = call(&s, "POST", &format!("{SECTOR}objects/"), Some("hospital-a"), Some(&body))
        .await
        .json();
    assert!(v["failures"][0]["message"].as_str().unwrap().contains("may not reference"), "{v}");
}

#[tokio::test]
async fn refusals_have_their_status_and_store_nothing() {
    let s = setup().await;
    let before = s.store.counts().await.unwrap();
    let objects = format!("{SECTOR}objects/");
    let valid = json!({"objects": [note(1, None, json!({}))]}).to_string();
    let cases: Vec<(&str, Request<Body>, StatusCode)> = vec![
        (
            "no credentials",
            Request::get(&objects).body(Body::empty()).unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "bad token",
            Request::get(&objects)
                .header("authorization", "Bearer nope")
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "token of another org",
            Request::get(&objects)
                .header(
                    "authorization",
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .encode("hospital-b:tok-hospital-a")
                    ),
                )
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "accept json",
            Request::get(&objects)
                .header("authorization", basic("hospital-a"))
                .header("accept", "application/json")
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            "accept 2.0",
            Request::get(&objects)
                .header("authorization", basic("hospital-a"))
                .header("accept", "application/taxii+json;version=2.0")
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            "no content type",
            Request::post(&objects)
                .header("authorization", basic("hospital-a"))
                .body(Body::from(valid.clone()))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "json content type",
            Request::post(&objects)
                .header("authorization", basic("hospital-a"))
                .header("content-type", "application/json")
                .body(Body::from(valid.clone()))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "oversize",
            Request::post(&objects)
                .header("authorization", basic("hospital-a"))
                .header("content-type", TAXII)
                .header("content-length", "2000000")
                .body(Body::from(valid.clone()))
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "not json",
            Request::post(&objects)
                .header("authorization", basic("hospital-a"))
                .header("content-type", TAXII)
                .body(Body::from("{\"objects\": ["))
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "array",
            Request::post(&objects)
                .header("authorization", basic("hospital-a"))
                .header("content-type", TAXII)
                .body(Body::from("[]"))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "write without right",
            Request::post(&objects)
                .header("authorization", basic("vendor-x"))
                .header("content-type", TAXII)
                .body(Body::from(valid.clone()))
                .unwrap(),
            StatusCode::FORBIDDEN,
        ),
        (
            "unknown collection",
            Request::get("/taxii2/health/collections/nope/objects/")
                .header("authorization", basic("hospital-a"))
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_FOUND,
        ),
        (
            "bad added_after",
            Request::get(format!("{objects}?added_after=yesterday"))
                .header("authorization", basic("hospital-a"))
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "bad limit",
            Request::get(format!("{objects}?limit=-1"))
                .header("authorization", basic("hospital-a"))
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "forged cursor",
            Request::get(format!("{objects}?next=AAAA"))
                .header("authorization", basic("hospital-a"))
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (name, req, want) in cases {
        let a = send(&s, req).await;
        assert_eq!(a.status, want, "{name}: {}", String::from_utf8_lossy(&a.body));
        let v = a.json();
        assert_eq!(v["http_status"], want.as_u16().to_string(), "{name}");
        assert!(!v["description"].as_str().unwrap().is_empty(), "{name}");
        if want == StatusCode::UNAUTHORIZED {
            assert!(a.headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        }
    }
    assert_eq!(s.store.counts().await.unwrap(), before);
    // Invalid objects mixed with valid ones: the valid ones stored, the others named.
    let mixed = json!({"objects": [note(1, None, json!({})), {"type": "note", "id": "nonsense"}, note(2, None, json!({"x_custom": 1}))]}).to_string();
    let v = call(&s, "POST", &objects, Some("hospital-a"), Some(&mixed)).await.json();
    assert_eq!(
        (v["success_count"].as_u64(), v["failure_count"].as_u64()),
        (Some(1), Some(2)),
        "{v}"
    );
    assert_eq!(v["failures"][0]["id"], "nonsense");
    assert_eq!(v["total_count"], 3);
}
