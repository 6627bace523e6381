//! Scale-out: two key-server instances on one PostgreSQL database (and one export bucket) act as
//! one. Publishing through either works; the export and federation jobs, which both instances
//! run every second, take effect exactly once because each runs under a store lease:
//! - the hour's window is padded once (a second, concurrent padding would double the fakes) and
//!   written as one file, listed once in the index;
//! - every consented key reaches the gateway exactly once, and no outbox batch fails (a second
//!   uploader would resend batches and collide on tags and keys).

use std::collections::HashMap;
use std::time::Duration;

use herald_db::testing::Backend;
use herald_runtime::HttpsClient;
use herald_wire::export::{ReadLimits, read_zip};
use hyper::Method;

use super::client::{issuer_public_pem, past_keys, publish, valid_publish};
use super::world::{World, system_now};

/// Every key NL downloads from the gateway for `date`, with how often it came.
async fn downloaded_as_nl(world: &World, date: &str) -> HashMap<[u8; 16], usize> {
    let pem = |p: &str| std::fs::read_to_string(world.path().join(p)).unwrap();
    let url = world.gateway.as_ref().unwrap().url.clone();
    let nl = HttpsClient::new(
        &url,
        &pem("ca.pem"),
        Some((&pem("NL/auth.pem"), &pem("NL/auth.key.pem"))),
    )
    .unwrap();
    let mut seen = HashMap::new();
    let mut tag: Option<String> = None;
    for _ in 0..1000 {
        let mut headers = vec![("accept", "application/protobuf; version=1.0")];
        if let Some(t) = &tag {
            headers.push(("batchTag", t.as_str()));
        }
        let answer = nl
            .request(Method::GET, &format!("/diagnosiskeys/download/{date}"), &headers, Vec::new())
            .await
            .unwrap();
        if answer.status.as_u16() != 200 {
            break;
        }
        for key in herald_wire::efgs::decode_protobuf(&answer.body).unwrap() {
            let bytes: [u8; 16] = *key.key.as_bytes();
            *seen.entry(bytes).or_insert(0) += 1;
        }
        match answer.header("nextBatchTag").filter(|t| *t != "null") {
            Some(next) => tag = Some(next.to_owned()),
            None => break,
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_act_as_one() {
    let Some(db) = Backend::Postgres.fresh().await else { return };
    let noon = system_now() / 86_400 * 86_400 + 12 * 3600;
    let mut world = World::new(&["DE", "NL"], noon);
    world.start_gateway(&["DE", "NL"]).await;
    let ca = std::fs::read_to_string(world.path().join("ca.pem")).unwrap();

    let mut config = world.keyserver_config("DE", &issuer_public_pem());
    config.database.clone_from(&db.url);
    config.export.interval_seconds = 1;
    let federation = config.federation.as_mut().unwrap();
    federation.upload_interval_seconds = 1;
    // Small batches, so the two instances have many chances to collide.
    federation.batch_max_keys = 2;
    let (a, _, _) = world.start_keyserver(&config).await;
    let (b, _, _) = world.start_keyserver(&config).await;
    assert_ne!(a.url, b.url);

    // Publishing through either instance works.
    let through_a = past_keys(0xA0, 5, noon, 0);
    let through_b = past_keys(0xB0, 5, noon, 0);
    for (url, keys) in [(&a.url, &through_a), (&b.url, &through_b)] {
        let (status, answer) =
            publish(url, &ca, &valid_publish("DE", keys, noon, "confirmed")).await;
        assert_eq!(status, 200, "{answer}");
    }
    let real: Vec<[u8; 16]> = through_a.iter().chain(&through_b).map(|k| k.key).collect();

    // Federation: every key reaches the gateway once.
    let date = herald_keyserver::federation::civil_date(noon / 86_400);
    let mut downloaded = HashMap::new();
    for _ in 0..100 {
        downloaded = downloaded_as_nl(&world, &date).await;
        if real.iter().all(|k| downloaded.contains_key(k)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        real.iter().all(|k| downloaded.contains_key(k)),
        "{} keys at the gateway",
        downloaded.len()
    );
    assert!(downloaded.values().all(|n| *n == 1), "a key reached the gateway twice");

    // Three hours later the noon window is due; both instances try every second.
    world.clock.advance(3 * 3600);
    let exports = world.path().join("DE/keyserver/exports");
    let index = exports.join("hourly/index.txt");
    for _ in 0..100 {
        if std::fs::read_to_string(&index).is_ok_and(|text| !text.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let both instances run a few more times: nothing more may happen.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let names: Vec<String> =
        std::fs::read_to_string(&index).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(names.len(), 1, "the noon window is one file, listed once: {names:?}");
    let zips = std::fs::read_dir(exports.join("hourly"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "zip"))
        .count();
    assert_eq!(zips, 1, "one file written");
    let file =
        read_zip(&std::fs::read(exports.join(&names[0])).unwrap(), &ReadLimits::default()).unwrap();
    let keys: Vec<[u8; 16]> = file.contents.keys.iter().map(|k| *k.key.as_bytes()).collect();
    assert!(real.iter().all(|k| keys.contains(k)));
    // Padded once: min_records 1000 plus at most padding_range 100 (dev settings).
    assert!((1000..=1100).contains(&keys.len()), "{} keys: padded more than once?", keys.len());

    // The outbox agrees: the real keys went up (the fakes of the padding follow them now).
    let store = herald_keyserver::store::Store::open(&db.url).await.unwrap();
    let (_, _, uploaded) = store.outbox_counts().await.unwrap();
    assert!(uploaded >= 10, "{uploaded}");
    store.close().await;

    a.stop().await;
    b.stop().await;
    if let Some(gateway) = world.gateway.take() {
        gateway.stop().await;
    }
}
