//! The federation client's answers to what a gateway may say, over real mTLS:
//! - `207` from a real herald gateway (one key of the batch is already there): the keys it could
//!   store go out again in a new, re-signed batch; the duplicate is not sent again;
//! - `5xx` from a gateway in trouble: the same batch (same tag) again after the backoff, and not
//!   before; then `201` ends it.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use herald_model::{
    CountryCode, IntervalNumber, ReportType, RollingPeriod, TemporaryExposureKey, UnixTime,
};
use herald_runtime::HttpsClient;
use herald_wire::cms::SigningIdentity;
use herald_wire::efgs::{self, DaysSinceOnset, EfgsKey, TransmissionRisk};
use hyper::Method;
use rand::SeedableRng as _;

use super::client::{AppKey, issuer_public_pem, past_keys, publish, valid_publish};
use super::world::{World, system_now};

fn pem(world: &World, path: &str) -> String {
    std::fs::read_to_string(world.path().join(path)).unwrap()
}

/// `k` as the key server federates it: its TRL, and days since onset from the certificate's
/// onset two days before the key server's "now" (`valid_publish`), so `dsos` = 2 − days ago.
fn efgs_key(k: &AppKey, dsos: i32) -> EfgsKey {
    EfgsKey {
        key: TemporaryExposureKey::from_bytes(k.key),
        rolling_start: IntervalNumber(u32::try_from(k.start).unwrap()),
        rolling_period: RollingPeriod::new(u32::try_from(k.period).unwrap()).unwrap(),
        transmission_risk: TransmissionRisk::new(i32::try_from(k.tr).unwrap()).unwrap(),
        visited_countries: Vec::new(),
        origin: "DE".parse::<CountryCode>().unwrap(),
        report_type: ReportType::ConfirmedTest,
        days_since_onset: DaysSinceOnset::new(dsos).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_207_re_sends_what_the_gateway_could_store_and_not_the_duplicate() {
    let noon = system_now() / 86_400 * 86_400 + 12 * 3600;
    let mut world = World::new(&["DE", "NL"], noon);
    world.start_gateway(&["DE", "NL"]).await;
    let ca = pem(&world, "ca.pem");
    let config = world.keyserver_config("DE", &issuer_public_pem());
    world.hold_jobs(&config).await;
    let (de, _, de_fed) = world.start_keyserver(&config).await;
    let keys = past_keys(0x27, 3, noon, 2);
    let (status, answer) =
        publish(&de.url, &ca, &valid_publish("DE", &keys, noon, "confirmed")).await;
    assert_eq!(status, 200, "{answer}");

    // The first key reaches the gateway on another way first (a second DE system, say).
    let gateway_url = world.gateway.as_ref().unwrap().url.clone();
    let de_client = HttpsClient::new(
        &gateway_url,
        &ca,
        Some((&pem(&world, "DE/auth.pem"), &pem(&world, "DE/auth.key.pem"))),
    )
    .unwrap();
    let identity = SigningIdentity::from_pem(
        &pem(&world, "DE/signing.pem"),
        &pem(&world, "DE/signing.key.pem"),
    )
    .unwrap();
    // keys[0] is of yesterday: one day after the onset.
    let first = vec![efgs_key(&keys[0], 1)];
    let signature = efgs::sign_batch(
        &first,
        &identity,
        UnixTime(noon),
        &mut rand::rngs::StdRng::seed_from_u64(1),
    )
    .unwrap();
    let answer = de_client
        .request(
            Method::POST,
            "/diagnosiskeys/upload",
            &[
                ("content-type", "application/protobuf; version=1.0"),
                ("batchTag", "ELSEWHERE-1"),
                ("batchSignature", signature.as_str()),
            ],
            efgs::encode_protobuf(&first),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));

    // The key server's batch of three: 207 (409 for the first key); the other two go again.
    let report = de_fed.upload_once().await.unwrap();
    assert_eq!((report.requeued, report.batches, report.keys), (2, 1, 2), "{report:?}");

    // NL sees each key once.
    let nl_client = HttpsClient::new(
        &gateway_url,
        &ca,
        Some((&pem(&world, "NL/auth.pem"), &pem(&world, "NL/auth.key.pem"))),
    )
    .unwrap();
    let date = herald_keyserver::federation::civil_date(noon / 86_400);
    let mut seen = Vec::new();
    let mut tag: Option<String> = None;
    for _ in 0..50 {
        let mut headers = vec![("accept", "application/protobuf; version=1.0")];
        if let Some(t) = &tag {
            headers.push(("batchTag", t.as_str()));
        }
        let answer = nl_client
            .request(Method::GET, &format!("/diagnosiskeys/download/{date}"), &headers, Vec::new())
            .await
            .unwrap();
        if answer.status != 200 {
            // Batches form within a second of an upload.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        seen.extend(
            efgs::decode_protobuf(&answer.body).unwrap().into_iter().map(|k| *k.key.as_bytes()),
        );
        match answer.header("nextBatchTag").filter(|t| *t != "null") {
            Some(next) => tag = Some(next.to_owned()),
            None if seen.len() >= 3 => break,
            None => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
    seen.sort_unstable();
    let mut want: Vec<[u8; 16]> = keys.iter().map(|k| k.key).collect();
    want.sort_unstable();
    assert_eq!(seen, want, "every key once");

    de.stop().await;
    if let Some(gateway) = world.gateway.take() {
        gateway.stop().await;
    }
}

/// A gateway that answers `503` to the first `failures` uploads and `201` after, recording the
/// batch tags it was sent.
async fn troubled_gateway(
    world: &World,
    failures: usize,
) -> (String, Arc<Mutex<Vec<String>>>, tokio::sync::oneshot::Sender<()>) {
    let tags = Arc::new(Mutex::new(Vec::new()));
    let seen = tags.clone();
    let router = Router::new().route(
        "/diagnosiskeys/upload",
        post(move |headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                let tag =
                    headers.get("batchTag").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                let mut tags = seen.lock().unwrap();
                tags.push(tag);
                if tags.len() <= failures {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::CREATED
                }
            }
        }),
    );
    let tls = herald_runtime::tls::server_config(
        &pem(world, "gateway/server.pem"),
        &pem(world, "gateway/server.key.pem"),
        herald_runtime::tls::ClientCertificates::PinnedByThumbprint,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(herald_runtime::serve(listener, Some(tls), router, async move {
        let _ = stopped.await;
    }));
    (url, tags, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_retries_the_same_batch_after_the_backoff() {
    let noon = system_now() / 86_400 * 86_400 + 12 * 3600;
    let world = World::new(&["DE"], noon);
    let (url, tags, stop) = troubled_gateway(&world, 2).await;
    std::fs::create_dir_all(world.path().join("gateway")).unwrap();
    std::fs::write(world.path().join("gateway/url"), &url).unwrap();
    let config = world.keyserver_config("DE", &issuer_public_pem());
    world.hold_jobs(&config).await;
    let (de, _, de_fed) = world.start_keyserver(&config).await;
    let ca = pem(&world, "ca.pem");
    let keys = past_keys(0x50, 2, noon, 1);
    let (status, answer) =
        publish(&de.url, &ca, &valid_publish("DE", &keys, noon, "confirmed")).await;
    assert_eq!(status, 200, "{answer}");

    assert!(de_fed.upload_once().await.is_err(), "503: the run fails and will retry");
    assert_eq!(tags.lock().unwrap().len(), 1);
    // Not before the backoff (10 s after the first failure).
    assert_eq!(de_fed.upload_once().await.unwrap().batches, 0);
    assert_eq!(tags.lock().unwrap().len(), 1);
    world.clock.advance(11);
    assert!(de_fed.upload_once().await.is_err(), "503 again");
    // The second backoff doubles: 10 s is not enough, 20 s is.
    world.clock.advance(11);
    assert_eq!(de_fed.upload_once().await.unwrap().batches, 0);
    world.clock.advance(10);
    let report = de_fed.upload_once().await.unwrap();
    assert_eq!((report.batches, report.keys), (1, 2), "{report:?}");
    let tags = tags.lock().unwrap().clone();
    assert_eq!(tags.len(), 3);
    assert!(tags.iter().all(|t| t == &tags[0]), "the same batch tag every time: {tags:?}");

    de.stop().await;
    let _ = stop.send(());
}
