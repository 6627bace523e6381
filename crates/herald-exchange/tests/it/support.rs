//! What the router tests share: an exchange with its organisations, collections and tokens, and
//! helpers to call it.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use herald_db::testing::{Backend, TestDb};
use herald_exchange::api::{self, Exchange, FixedClock, token_hash};
use herald_exchange::store::{Grant, NewCollection, NewOrg, NewToken, OrgKind, Store};
use herald_stix::json::Limits;
use herald_stix::taxii::cursor::CursorKey;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub(crate) const NOW: i64 = 1_796_000_000_000_000;
pub(crate) const TAXII: &str = "application/taxii+json;version=2.1";
pub(crate) const SECTOR: &str = "/taxii2/health/collections/sector/";
pub(crate) const SECTOR_ID: &str = "c0000000-0000-4000-8000-000000000001";
/// A collection members may write to but not read (reports to the CERT).
pub(crate) const INBOX: &str = "/taxii2/health/collections/cert-inbox/";
pub(crate) const INBOX_ID: &str = "c0000000-0000-4000-8000-000000000002";

/// The organisations, in the order of their identities (`identity(n)`).
pub(crate) const ORGS: [(&str, OrgKind); 5] = [
    ("cert", OrgKind::Operator),
    ("hospital-a", OrgKind::Member),
    ("hospital-b", OrgKind::Member),
    ("vendor-x", OrgKind::Supplier),
    ("hospital-c", OrgKind::Member),
];

pub(crate) struct Setup {
    pub(crate) db: TestDb,
    pub(crate) router: axum::Router,
    pub(crate) store: Store,
}

pub(crate) fn identity(n: u8) -> String {
    format!("identity--{n:08x}-0000-4000-8000-000000000000")
}

pub(crate) async fn setup() -> Setup {
    setup_with(Limits::default(), 1 << 20).await
}

async fn add_collections(store: &Store) {
    for (id, alias, title) in
        [(SECTOR_ID, "sector", "Sector"), (INBOX_ID, "cert-inbox", "CERT inbox")]
    {
        let collection = NewCollection {
            id: id.into(),
            alias: Some(alias.into()),
            title: title.into(),
            description: None,
        };
        store.add_collection(&collection).await.unwrap();
    }
}

/// An exchange with `limits` and `max_content_length`: the sector collection (members read and
/// write, vendor-x reads), cert-inbox (members write, the operator reads and writes).
pub(crate) async fn setup_with(limits: Limits, max_content_length: u64) -> Setup {
    setup_on(Backend::Sqlite, limits, max_content_length).await.unwrap()
}

/// As [`setup_with`] on `backend` (`None` when PostgreSQL is not there and may be skipped).
pub(crate) async fn setup_on(
    backend: Backend,
    limits: Limits,
    max_content_length: u64,
) -> Option<Setup> {
    let db = backend.fresh().await?;
    let store = Store::open(&db.url).await.unwrap();
    let key = [9u8; 32];
    add_collections(&store).await;
    for (n, (name, kind)) in ORGS.into_iter().enumerate() {
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
        store.grant(SECTOR_ID, id, grant).await.unwrap();
        let inbox = match kind {
            OrgKind::Operator => Some(Grant { can_read: true, can_write: true }),
            OrgKind::Member => Some(Grant { can_read: false, can_write: true }),
            OrgKind::Supplier => None,
        };
        if let Some(inbox) = inbox {
            store.grant(INBOX_ID, id, inbox).await.unwrap();
        }
    }
    let router = instance(store.clone(), limits, max_content_length, 0);
    Some(Setup { db, router, store })
}

/// Another instance on the same database (as a second process on one PostgreSQL would be):
/// its own pool and router, the same keys; its status ids start at `ids`.
pub(crate) async fn second_instance(s: &Setup) -> axum::Router {
    let store = Store::open(&s.db.url).await.unwrap();
    instance(store, Limits::default(), 1 << 20, 128)
}

fn instance(store: Store, limits: Limits, max_content_length: u64, ids: u8) -> axum::Router {
    let key = [9u8; 32];
    let mut counter = ids;
    let exchange = Exchange {
        store,
        cursor_key: CursorKey::new([3; 32]),
        token_key: key,
        clock: Arc::new(FixedClock(NOW)),
        limits,
        page_max: 100,
        max_content_length,
        title: "herald exchange (test)".into(),
        ids: Mutex::new(Box::new(move || {
            counter = counter.wrapping_add(1);
            [counter; 16]
        })),
        receipts: receipt_signer(),
    };
    api::router(Arc::new(exchange))
}

/// The tests' receipt key (one per test process).
pub(crate) fn receipt_signer() -> herald_exchange::receipt::ReceiptSigner {
    static PEM: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let pem = PEM.get_or_init(|| {
        herald_exchange::receipt::ReceiptSigner::generate().unwrap().1.as_str().to_owned()
    });
    herald_exchange::receipt::ReceiptSigner::from_pkcs8_pem(pem).unwrap()
}

/// Basic credentials of `org` with a token `tok-<token>`.
pub(crate) fn basic_with(org: &str, token: &str) -> String {
    let text = format!("{org}:tok-{token}");
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(text))
}

pub(crate) fn basic(org: &str) -> String {
    basic_with(org, org)
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub(crate) async fn call(
    s: &Setup,
    method: &str,
    path: &str,
    org: Option<&str>,
    body: Option<&str>,
) -> Answer {
    call_on(&s.router, method, path, org, body).await
}

/// [`call`] on any instance's router.
pub(crate) async fn call_on(
    router: &axum::Router,
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
    send_to(router, req).await
}

pub(crate) async fn send(s: &Setup, req: Request<Body>) -> Answer {
    send_to(&s.router, req).await
}

async fn send_to(router: &axum::Router, req: Request<Body>) -> Answer {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    assert_eq!(headers["content-type"], TAXII, "{status} {}", String::from_utf8_lossy(&body));
    Answer { status, headers, body }
}

/// The cursor with one character changed.
pub(crate) fn flip(cursor: &str) -> String {
    let mut chars: Vec<char> = cursor.chars().collect();
    chars[20] = if chars[20] == 'B' { 'C' } else { 'B' };
    chars.into_iter().collect()
}

pub(crate) fn note(n: u32, marking: Option<&str>, extra: Value) -> Value {
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
