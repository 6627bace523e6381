//! Callbacks over real HTTPS with mTLS on 127.0.0.1: the administration endpoints (§1.5), and
//! end to end (§1.6) with a small HTTPS receiver whose certificate is a trusted CALLBACK entry.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use herald_gateway::callback::{
    AddressClass, CallbackError, CallbackSettings, CallbackWorker, ReceiverTrust, Resolve,
};
use herald_gateway::store::{CallbackTask, TrustRow};
use herald_model::{CountryCode, UnixTime};
use herald_runtime::PeerInfo;
use herald_runtime::internal::BoxFuture;
use herald_runtime::{Answer, HttpsClient};
use herald_trust::{AnchorCertificate, TrustAnchor, TrustKind};
use herald_wire::efgs;
use hyper::Method;

use crate::http::{World, keys, sign, upload};

/// 2026-11-28 12:00 UTC, the worlds' time.
const NOW: i64 = 1_795_867_200;
const PROTOBUF: &str = "application/protobuf; version=1.0";

fn encode(url: &str) -> String {
    url::form_urlencoded::byte_serialize(url.as_bytes()).collect()
}

async fn put(client: &HttpsClient, id: &str, url: Option<&str>) -> Answer {
    let path = match url {
        Some(url) => format!("/diagnosiskeys/callback/{id}?url={}", encode(url)),
        None => format!("/diagnosiskeys/callback/{id}"),
    };
    client.request(Method::PUT, &path, &[], vec![]).await.unwrap()
}

async fn list(client: &HttpsClient) -> serde_json::Value {
    let answer = client.request(Method::GET, "/diagnosiskeys/callback", &[], vec![]).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    serde_json::from_slice(&answer.body).unwrap()
}

async fn delete(client: &HttpsClient, id: &str) -> Answer {
    client
        .request(Method::DELETE, &format!("/diagnosiskeys/callback/{id}"), &[], vec![])
        .await
        .unwrap()
}

#[tokio::test]
async fn callback_administration() {
    let world = World::start(None).await;
    let de = world.client("DE");
    let nl = world.client("NL");
    assert_eq!(list(&de).await, serde_json::json!([]));

    for (id, url) in [("b", "https://de.example/b"), ("a", "https://de.example:8443/a/cb")] {
        let answer = put(&de, id, Some(url)).await;
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        assert!(answer.body.is_empty());
    }
    assert_eq!(put(&nl, "a", Some("https://nl.example/cb")).await.status, 200);
    // Upsert: same id, new URL.
    assert_eq!(put(&de, "b", Some("https://de.example/b2")).await.status, 200);
    assert_eq!(
        list(&de).await,
        serde_json::json!([
            {"callbackId": "a", "url": "https://de.example:8443/a/cb"},
            {"callbackId": "b", "url": "https://de.example/b2"},
        ])
    );
    // Other countries' subscriptions are invisible and cannot be deleted.
    assert_eq!(
        list(&nl).await,
        serde_json::json!([{"callbackId": "a", "url": "https://nl.example/cb"}])
    );
    assert_eq!(delete(&nl, "b").await.status, 404);

    // Invalid URLs and ids.
    let long_url = format!("https://de.example/{}", "x".repeat(240));
    let long_id = "i".repeat(33);
    for (id, url) in [
        ("c", Some("http://de.example/cb")),
        ("c", Some("https://de.example/cb?x=1")),
        ("c", Some("not a url")),
        ("c", Some("https://")),
        ("c", Some("https://user@de.example/cb")),
        ("c", Some(long_url.as_str())),
        (long_id.as_str(), Some("https://de.example/cb")),
        ("c", Some("https://10.0.0.1/cb")),
        ("c", Some("https://127.0.0.1:8443/cb")),
        ("c", Some("https://0177.0.0.1/cb")),
        ("c", Some("https://100.64.1.1/cb")),
        ("c", Some("https://169.254.169.254/latest")),
        ("c", Some("https://172.20.0.1/cb")),
        ("c", Some("https://192.168.0.1/cb")),
        ("c", Some("https://0.0.0.0/cb")),
        ("c", Some("https://[::1]/cb")),
        ("c", Some("https://[fd00::1]/cb")),
        ("c", Some("https://[fe80::1]/cb")),
        ("c", Some("https://localhost:8443/cb")),
        ("c", Some("https://api.localhost/cb")),
        ("c", None),
    ] {
        let answer = put(&de, id, url).await;
        assert_eq!(answer.status, 400, "{id} {url:?}");
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with("Callback URL is invalid"), "{id} {url:?}: {message}");
    }
    // The reason is part of the message.
    let answer = put(&de, "c", Some("https://localhost:8443/cb")).await;
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["message"], "Callback URL is invalid: callback host is a localhost name");
    let answer = put(&de, "c", Some("https://10.0.0.1/cb")).await;
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(
        body["message"],
        "Callback URL is invalid: callback host is a private or internal address"
    );
    assert_eq!(list(&de).await.as_array().unwrap().len(), 2);

    // Delete, then 404.
    assert_eq!(delete(&de, "a").await.status, 200);
    assert_eq!(delete(&de, "a").await.status, 404);
    assert_eq!(
        list(&de).await,
        serde_json::json!([{"callbackId": "b", "url": "https://de.example/b2"}])
    );
    assert_eq!(list(&nl).await.as_array().unwrap().len(), 1);

    // Authenticated like every other endpoint.
    let anonymous = world.anonymous();
    for (method, path) in [
        (Method::GET, "/diagnosiskeys/callback"),
        (Method::PUT, "/diagnosiskeys/callback/x?url=https%3A%2F%2Fde.example%2F"),
        (Method::DELETE, "/diagnosiskeys/callback/b"),
    ] {
        let answer = anonymous.request(method.clone(), path, &[], vec![]).await.unwrap();
        assert_eq!(answer.status, 403, "{method} {path}");
    }
    assert_eq!(
        world
            .client("IT")
            .request(Method::GET, "/diagnosiskeys/callback", &[], vec![])
            .await
            .unwrap()
            .status,
        403
    );
    world.stop().await;
}

/// What the receiver saw of one callback.
#[derive(Debug, Clone)]
struct Seen {
    query: String,
    user_agent: String,
    client_thumbprint: Option<herald_model::CertThumbprint>,
    answered: u16,
}

/// An HTTPS receiver on 127.0.0.1 that records callbacks and answers 500 to the first `fail`.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    async fn start((cert_pem, key_pem): &(String, String), fail: u32) -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let failures = Arc::new(AtomicU32::new(fail));
        let record = seen.clone();
        let app = axum::Router::new().route(
            "/efgs/callback",
            axum::routing::get(
                move |axum::Extension(peer): axum::Extension<PeerInfo>,
                      RawQuery(query): RawQuery,
                      headers: HeaderMap| {
                    let record = record.clone();
                    let failures = failures.clone();
                    async move {
                        let status = if failures
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok()
                        {
                            StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            StatusCode::OK
                        };
                        record.lock().unwrap().push(Seen {
                            query: query.unwrap_or_default(),
                            user_agent: headers
                                .get("user-agent")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned(),
                            client_thumbprint: peer
                                .certificate
                                .as_deref()
                                .map(herald_trust::thumbprint),
                            answered: status.as_u16(),
                        });
                        status
                    }
                },
            ),
        );
        let tls = herald_runtime::tls::server_config(
            cert_pem,
            key_pem,
            herald_runtime::tls::ClientCertificates::PinnedByThumbprint,
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/efgs/callback", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(herald_runtime::serve(listener, Some(tls), app, async move {
            let _ = stopped.await;
        }));
        Self { url, seen, stop: Some(stop), task: Some(task) }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was seen, moving the world's clock forward so that
    /// retries become due.
    async fn wait_for(&self, world: &World, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        for _ in 0..150 {
            let seen = self.seen();
            if done(&seen) {
                return seen;
            }
            world.clock.advance(1);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the receiver did not see the expected callbacks: {:?}", self.seen());
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

/// A receiver's server certificate and key, issued by the world's dev TLS CA: subject
/// `C=<country>`, SAN localhost and 127.0.0.1, EKU serverAuth (what §4.1 asks of CALLBACK
/// certificates).
fn receiver_certificate(world: &World, country: &str) -> (String, String) {
    receiver_certificate_for(world, country, "localhost")
}

/// [`receiver_certificate`] for the DNS name `name` (and 127.0.0.1).
fn receiver_certificate_for(world: &World, country: &str, name: &str) -> (String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, SanType,
    };
    let ca_key = KeyPair::from_pem(world.pki.ca.key().expose_secret()).unwrap();
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "herald dev");
    dn.push(DnType::CommonName, "herald dev TLS CA");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let issuer = Issuer::from_params(&ca, &ca_key);
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec![name.to_owned()]).unwrap();
    p.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, country);
    dn.push(DnType::OrganizationName, "herald dev");
    dn.push(DnType::CommonName, format!("herald {country} callback receiver"));
    p.distinguished_name = dn;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = p.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A receiver certificate registered as DE's trusted CALLBACK entry for host 127.0.0.1.
async fn trusted_receiver_certificate(world: &World) -> (String, String) {
    let de: CountryCode = "DE".parse().unwrap();
    let (cert_pem, key_pem) = receiver_certificate(world, "DE");
    let anchor = TrustAnchor::from_pkcs8_pem(world.pki.anchor.key().expose_secret()).unwrap();
    let e = anchor.sign_entry(de, TrustKind::Callback, &cert_pem, Some("127.0.0.1")).unwrap();
    world.store.put_trust_entry(&TrustRow::from_entry(&e, UnixTime(NOW))).await.unwrap();
    (cert_pem, key_pem)
}

/// The dev-mode callback settings (as `herald gateway serve --dev` has them): fast retries,
/// private hosts allowed, the gateway's server certificate as the callback client certificate
/// (`$DIR` is the world's directory).
const CALLBACK_CONFIG: &str = "allow_private_callback_hosts = true
callback_retry_wait_seconds = 1
callback_interval_seconds = 1
callback_client_certificate = \"$DIR/gateway/server.pem\"
callback_client_key = \"$DIR/gateway/server.key.pem\"";

async fn upload_from(world: &World, country: &str, tag: &str, seed: u8) {
    let batch = keys(country, 3, seed);
    let signature = sign(world, country, &batch);
    let answer =
        upload(&world.client(country), tag, &signature, efgs::encode_protobuf(&batch), PROTOBUF)
            .await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
}

fn batch_tag(seen: &Seen) -> String {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(seen.query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(pairs.len(), 2, "{seen:?}");
    assert_eq!(pairs[0].0, "batchTag");
    assert_eq!(pairs[1], ("date".to_owned(), "2026-11-28".to_owned()));
    pairs[0].1.clone()
}

async fn check_callbacks(world: &World) {
    let identity = trusted_receiver_certificate(world).await;
    // The first two calls fail: the first batch is retried (retry wait 1 s), then succeeds, and
    // only then is the second batch announced.
    let receiver = Receiver::start(&identity, 2).await;
    let de = world.client("DE");
    assert_eq!(put(&de, "de-1", Some(&receiver.url)).await.status, 200);

    upload_from(world, "NL", "NL-1", 11).await;
    let first = receiver.wait_for(world, |seen| !seen.is_empty()).await;
    let tag1 = batch_tag(&first[0]);
    assert_eq!(tag1, "20261128-1");
    assert_eq!(first[0].user_agent, "EFGS Callback Engine");
    // mTLS with the gateway's callback client certificate (here: its server certificate).
    assert_eq!(first[0].client_thumbprint, Some(world.pki.gateway.thumbprint()));

    upload_from(world, "FR", "FR-1", 12).await;
    let seen = receiver
        .wait_for(world, |seen| seen.iter().filter(|s| s.answered == 200).count() == 2)
        .await;
    let calls: Vec<(String, u16)> = seen.iter().map(|s| (batch_tag(s), s.answered)).collect();
    assert_eq!(
        calls,
        [(tag1.clone(), 500), (tag1.clone(), 500), (tag1, 200), ("20261128-2".to_owned(), 200),]
    );
    // Delivered tasks are gone (the worker records the delivery after the receiver answered).
    let mut pending = world.store.pending_callback_tasks().await.unwrap();
    for _ in 0..50 {
        if pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        pending = world.store.pending_callback_tasks().await.unwrap();
    }
    assert!(pending.is_empty(), "{pending:?}");

    // The batches announced can be downloaded by DE.
    let got = de
        .request(
            Method::GET,
            "/diagnosiskeys/download/2026-11-28",
            &[("accept", PROTOBUF), ("batchTag", "20261128-2")],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(got.status, 200);
    receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_end_to_end_on_sqlite() {
    let world = World::start_with(None, CALLBACK_CONFIG).await;
    check_callbacks(&world).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_end_to_end_on_postgres() {
    let Some(db) = crate::store::Backend::Postgres.fresh().await else { return };
    let world = World::start_with(Some(db.url.clone()), CALLBACK_CONFIG).await;
    check_callbacks(&world).await;
    world.stop().await;
    drop(db);
}

#[tokio::test]
async fn an_untrusted_receiver_is_not_called() {
    let world = World::start_with(None, CALLBACK_CONFIG).await;
    // A certificate that is not on the trust list as DE's CALLBACK entry.
    let stranger = receiver_certificate(&world, "DE");
    let receiver = Receiver::start(&stranger, 0).await;
    assert_eq!(put(&world.client("DE"), "de-1", Some(&receiver.url)).await.status, 200);
    upload_from(&world, "NL", "NL-1", 21).await;
    // The task exists and keeps failing at the TLS handshake; the receiver never sees a request.
    for _ in 0..30 {
        world.clock.advance(1);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(receiver.seen().is_empty());
    assert_eq!(world.store.pending_callback_tasks().await.unwrap().len(), 1);
    receiver.stop().await;
    world.stop().await;
}

#[tokio::test]
async fn efgs_compatible_mode_accepts_any_trusted_authentication_certificate() {
    let config = format!("{CALLBACK_CONFIG}\ncallback_receiver_trust = \"efgs\"");
    let world = World::start_with(None, &config).await;
    // NL's AUTHENTICATION certificate (a client certificate without a SAN for 127.0.0.1) serves
    // DE's callback: the reference checks only that it is on the trust list.
    let nl = &world.pki.countries.iter().find(|c| c.country.as_str() == "NL").unwrap().auth;
    let identity = (nl.cert_pem().to_owned(), nl.key().expose_secret().to_owned());
    let receiver = Receiver::start(&identity, 0).await;
    assert_eq!(put(&world.client("DE"), "de-1", Some(&receiver.url)).await.status, 200);
    upload_from(&world, "FR", "FR-1", 31).await;
    let seen = receiver.wait_for(&world, |seen| !seen.is_empty()).await;
    assert_eq!(batch_tag(&seen[0]), "20261128-1");
    assert_eq!(seen[0].answered, 200);
    receiver.stop().await;
    world.stop().await;
}

async fn list_query(client: &HttpsClient, query: &str) -> (u16, serde_json::Value) {
    let answer = client
        .request(Method::GET, &format!("/diagnosiskeys/callback{query}"), &[], vec![])
        .await
        .unwrap();
    (answer.status.as_u16(), serde_json::from_slice(&answer.body).unwrap())
}

/// The value of one sample of the world's `/metrics`.
async fn metric(world: &World, name: &str) -> Option<f64> {
    let (_, text) = crate::http::plain_get(&world.internal_url, "/metrics", &[]).await;
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Six failures in a row suspend a subscription: the listing shows it (and `?suspended=true`
/// finds it), putting it again resumes it, and the pending callback is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_subscriptions_are_listed_and_resumed_by_a_put() {
    let world = World::start_with(None, CALLBACK_CONFIG).await;
    let identity = trusted_receiver_certificate(&world).await;
    let receiver = Receiver::start(&identity, 6).await;
    let de = world.client("DE");
    assert_eq!(put(&de, "de-1", Some(&receiver.url)).await.status, 200);
    upload_from(&world, "NL", "NL-1", 41).await;
    receiver.wait_for(&world, |seen| seen.len() == 6).await;
    // Another subscription, after the batch: it has nothing to announce and stays active.
    assert_eq!(put(&de, "de-2", Some("https://de.example/other")).await.status, 200);
    // The sixth failure is recorded right after the receiver answered it.
    let mut listed = serde_json::Value::Null;
    for _ in 0..50 {
        listed = list(&de).await;
        if listed[0]["suspended"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed[0]["callbackId"], "de-1");
    assert_eq!(listed[0]["suspended"], true, "{listed}");
    assert!(listed[0]["suspendedAt"].as_str().unwrap().starts_with("2026-11-28T12:"), "{listed}");
    // Active subscriptions keep the EFGS shape.
    assert_eq!(
        listed[1],
        serde_json::json!({"callbackId": "de-2", "url": "https://de.example/other"})
    );
    let (status, only) = list_query(&de, "?suspended=true").await;
    assert_eq!(status, 200);
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["callbackId"], "de-1");
    let (_, active) = list_query(&de, "?suspended=false").await;
    assert_eq!(
        active,
        serde_json::json!([{"callbackId": "de-2", "url": "https://de.example/other"}])
    );
    let (status, body) = list_query(&de, "?suspended=maybe").await;
    assert_eq!(status, 400);
    assert!(body["message"].is_string());
    // Other countries never see it.
    assert_eq!(list_query(&world.client("NL"), "?suspended=true").await.1, serde_json::json!([]));
    // Suspended: no more calls, however long we wait.
    for _ in 0..15 {
        world.clock.advance(1);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(receiver.seen().len(), 6);

    // Resume with the same id: the pending callback goes out (and now succeeds).
    assert_eq!(put(&de, "de-1", Some(&receiver.url)).await.status, 200);
    let listed = list(&de).await;
    assert_eq!(listed[0], serde_json::json!({"callbackId": "de-1", "url": receiver.url}));
    let seen = receiver.wait_for(&world, |seen| seen.iter().any(|s| s.answered == 200)).await;
    assert_eq!(seen.len(), 7);
    assert_eq!(batch_tag(&seen[6]), "20261128-1");
    for (outcome, count) in [("failed", 5.0), ("suspended", 1.0), ("ok", 1.0)] {
        let name = format!("herald_gateway_callback_deliveries_total{{outcome=\"{outcome}\"}}");
        let mut value = None;
        for _ in 0..50 {
            value = metric(&world, &name).await;
            if value == Some(count) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(value, Some(count), "{name}");
    }
    receiver.stop().await;
    world.stop().await;
}

/// A tiny HTTP proxy on 127.0.0.1 that opens `CONNECT` tunnels (or refuses them with 403) and
/// counts them.
struct ConnectProxy {
    url: String,
    tunnels: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ConnectProxy {
    async fn start(refuse: bool) -> Self {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let tunnels: Arc<Mutex<Vec<String>>> = Arc::default();
        let record = tunnels.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                let record = record.clone();
                tokio::spawn(async move {
                    // The request head, byte by byte up to the empty line.
                    let mut head = Vec::new();
                    while !head.ends_with(b"\r\n\r\n") {
                        let mut byte = [0u8; 1];
                        if client.read_exact(&mut byte).await.is_err() || head.len() > 8192 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let mut words = head.split_whitespace();
                    let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
                        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n").await;
                        return;
                    };
                    record.lock().unwrap().push(target.to_owned());
                    if refuse {
                        let _ = client
                            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
                            .await;
                        return;
                    }
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                        return;
                    };
                    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
            }
        });
        Self { url, tunnels, task }
    }

    fn tunnels(&self) -> Vec<String> {
        self.tunnels.lock().unwrap().clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// With `callback_proxy`, callbacks go through a CONNECT tunnel to the receiver (TLS and the
/// receiver's pinned certificate end to end); a proxy that refuses the tunnel fails the callback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_go_through_the_configured_proxy() {
    for refuse in [false, true] {
        let proxy = ConnectProxy::start(refuse).await;
        let config = format!("{CALLBACK_CONFIG}\ncallback_proxy = \"{}\"", proxy.url);
        let world = World::start_with(None, &config).await;
        let identity = trusted_receiver_certificate(&world).await;
        let receiver = Receiver::start(&identity, 0).await;
        let target =
            receiver.url.trim_start_matches("https://").split('/').next().unwrap().to_owned();
        assert_eq!(put(&world.client("DE"), "de-1", Some(&receiver.url)).await.status, 200);
        upload_from(&world, "NL", "NL-1", 51).await;
        if refuse {
            for _ in 0..100 {
                if proxy.tunnels().len() >= 2 {
                    break;
                }
                world.clock.advance(1);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(proxy.tunnels().len() >= 2, "the refused callback is retried");
            assert!(receiver.seen().is_empty());
            assert_eq!(world.store.pending_callback_tasks().await.unwrap().len(), 1);
        } else {
            let seen = receiver.wait_for(&world, |seen| !seen.is_empty()).await;
            assert_eq!(seen[0].answered, 200);
            assert_eq!(batch_tag(&seen[0]), "20261128-1");
            // mTLS end to end through the tunnel: the receiver saw the gateway's certificate.
            assert_eq!(seen[0].client_thumbprint, Some(world.pki.gateway.thumbprint()));
            assert_eq!(proxy.tunnels(), std::slice::from_ref(&target));
        }
        assert!(proxy.tunnels().iter().all(|t| *t == target), "{:?}", proxy.tunnels());
        receiver.stop().await;
        world.stop().await;
    }
}

/// Callback settings with private hosts refused (production), else as [`CALLBACK_CONFIG`].
fn production_callback_config() -> String {
    CALLBACK_CONFIG
        .replace("allow_private_callback_hosts = true", "allow_private_callback_hosts = false")
}

/// The value of one callback outcome counter, 0 if absent.
async fn deliveries(world: &World, outcome: &str) -> f64 {
    let name = format!("herald_gateway_callback_deliveries_total{{outcome=\"{outcome}\"}}");
    metric(world, &name).await.unwrap_or(0.0)
}

/// Issue 14, finding 5: callback host names were never resolved, so a subscription naming
/// `localhost` reached the gateway's own machine. The API refuses the name; a subscription that
/// names it anyway (stored before this check, or edited into the store) is refused when the
/// worker resolves it: counted as `refused`, retried like any failure, the receiver never
/// called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_resolving_to_loopback_is_refused_at_connect_time() {
    let world = World::start_with(None, &production_callback_config()).await;
    let de: CountryCode = "DE".parse().unwrap();
    let (cert_pem, key_pem) = receiver_certificate(&world, "DE");
    let anchor = TrustAnchor::from_pkcs8_pem(world.pki.anchor.key().expose_secret()).unwrap();
    let e = anchor.sign_entry(de, TrustKind::Callback, &cert_pem, None).unwrap();
    world.store.put_trust_entry(&TrustRow::from_entry(&e, UnixTime(NOW))).await.unwrap();
    let receiver = Receiver::start(&(cert_pem, key_pem), 0).await;
    let url = receiver.url.replace("127.0.0.1", "localhost");

    let answer = put(&world.client("DE"), "de-1", Some(&url)).await;
    assert_eq!(answer.status, 400);
    world.store.put_callback(de, "de-1", &url, UnixTime(NOW)).await.unwrap();
    upload_from(&world, "NL", "NL-1", 71).await;
    for _ in 0..100 {
        if deliveries(&world, "refused").await >= 2.0 {
            break;
        }
        world.clock.advance(1);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(deliveries(&world, "refused").await >= 2.0, "refused, and retried");
    assert!(deliveries(&world, "ok").await < 1.0, "nothing delivered");
    assert!(receiver.seen().is_empty(), "{:?}", receiver.seen());
    assert_eq!(world.store.pending_callback_tasks().await.unwrap().len(), 1);
    receiver.stop().await;
    world.stop().await;
}

/// A resolver with fixed answers that counts its calls.
struct FixedResolver {
    answers: Vec<(&'static str, Vec<IpAddr>)>,
    calls: AtomicU32,
}

impl FixedResolver {
    fn new(answers: Vec<(&'static str, Vec<IpAddr>)>) -> Arc<Self> {
        Arc::new(Self { answers, calls: AtomicU32::new(0) })
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Resolve for FixedResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, std::io::Result<Vec<SocketAddr>>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let found = self
            .answers
            .iter()
            .find(|(name, _)| *name == host)
            .map(|(_, ips)| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        Box::pin(async move {
            found.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"))
        })
    }
}

/// A callback worker on the world's store, with `resolver` and no client certificate.
fn worker(
    world: &World,
    allow_private_hosts: bool,
    resolver: Arc<FixedResolver>,
) -> CallbackWorker {
    CallbackWorker {
        store: world.store.clone(),
        anchor: Arc::new(AnchorCertificate::from_pem(world.pki.anchor.cert_pem()).unwrap()),
        clock: world.clock.clone(),
        client: None,
        settings: CallbackSettings {
            retry_wait: Duration::from_secs(1),
            interval: Duration::from_secs(1),
            trust: ReceiverTrust::Callback,
            allow_private_hosts,
            proxy: None,
            holder: "test".into(),
        },
        registry: herald_gateway::metrics::registry(),
        resolver,
    }
}

fn task(url: &str) -> CallbackTask {
    CallbackTask {
        id: 1,
        batch_tag: "20261128-1".parse().unwrap(),
        batch_created_at: UnixTime(NOW),
        retries: 0,
        country: "DE".parse().unwrap(),
        callback_id: "de-1".into(),
        url: url.to_owned(),
    }
}

/// The worker resolves a receiver's name once, refuses it when any address is internal (unless
/// private hosts are allowed), and connects to exactly the address it checked, with TLS checked
/// against the URL's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_connects_to_the_address_it_checked() {
    let world = World::start(None).await;
    let de: CountryCode = "DE".parse().unwrap();
    let (cert_pem, key_pem) = receiver_certificate_for(&world, "DE", "receiver.test");
    let anchor = TrustAnchor::from_pkcs8_pem(world.pki.anchor.key().expose_secret()).unwrap();
    let e = anchor.sign_entry(de, TrustKind::Callback, &cert_pem, None).unwrap();
    world.store.put_trust_entry(&TrustRow::from_entry(&e, UnixTime(NOW))).await.unwrap();
    let receiver = Receiver::start(&(cert_pem, key_pem), 0).await;
    let port = receiver.url.trim_start_matches("https://127.0.0.1:").split('/').next().unwrap();
    let url_of = |host: &str| format!("https://{host}:{port}/efgs/callback");
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let resolver = FixedResolver::new(vec![
        ("receiver.test", vec![loopback]),
        ("mixed.test", vec!["93.184.216.34".parse().unwrap(), loopback]),
        ("mapped.test", vec!["::ffff:10.0.0.1".parse().unwrap()]),
        ("other.test", vec![loopback]),
    ]);

    // Private hosts refused: any internal address refuses the callback before a connection.
    let refusing = worker(&world, false, resolver.clone());
    for (host, class) in [
        ("receiver.test", AddressClass::Loopback),
        ("mixed.test", AddressClass::Loopback),
        ("mapped.test", AddressClass::Private),
    ] {
        let err = refusing.call(&task(&url_of(host))).await.unwrap_err();
        assert!(
            matches!(&err, CallbackError::InternalAddress(c) if *c == class),
            "{host}: {err:?}"
        );
        assert!(err.to_string().contains("allow_private_callback_hosts"), "{err}");
    }
    assert_eq!(resolver.calls(), 3, "one resolution per callback");
    // An IP literal (and a localhost name) is refused without a resolver; an unknown name does
    // not resolve.
    for url in [receiver.url.clone(), url_of("localhost")] {
        let err = refusing.call(&task(&url)).await.unwrap_err();
        assert!(err.is_internal_host(), "{url}: {err:?}");
    }
    let err = refusing.call(&task(&url_of("nowhere.test"))).await.unwrap_err();
    assert!(matches!(err, CallbackError::Resolve(_)), "{err:?}");
    assert_eq!(resolver.calls(), 4);
    assert!(receiver.seen().is_empty());

    // Private hosts allowed: the name (which no DNS knows) is called at the one address the
    // resolver gave, and TLS checks the certificate against the name.
    let allowing = worker(&world, true, resolver.clone());
    allowing.call(&task(&url_of("receiver.test"))).await.unwrap();
    assert_eq!(resolver.calls(), 5);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(batch_tag(&seen[0]), "20261128-1");
    // Same address, but a name the certificate is not valid for: the TLS check fails.
    let err = allowing.call(&task(&url_of("other.test"))).await.unwrap_err();
    assert!(matches!(err, CallbackError::Tls(_)), "{err:?}");
    assert_eq!(receiver.seen().len(), 1);
    receiver.stop().await;
    world.stop().await;
}
