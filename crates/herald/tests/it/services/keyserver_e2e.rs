//! End to end over real mTLS on 127.0.0.1: two key servers (DE, NL) and one gateway. Keys
//! published to DE with a valid certificate appear, after the embargo, in NL's export files,
//! signed with NL's export key, and the other way round. One manual clock drives all three.

use std::time::Duration;

use herald_keyserver::export::Exporter;
use herald_keyserver::federation::Federation;
use herald_runtime::HttpsClient;
use herald_wire::export::{ReadLimits, public_key_from_pem, read_zip};
use hyper::Method;

use super::client::{AppKey, issuer_public_pem, past_keys, publish, valid_publish};
use super::world::{World, system_now};

/// Downloads on `to` until it has imported at least `want` keys (the gateway batches within a
/// second).
async fn download_until(to: &Federation, want: usize) -> usize {
    let mut imported = 0;
    for _ in 0..30 {
        imported += to.download_once().await.unwrap().imported;
        if imported >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    imported
}

/// Every key in `country`'s export files, after checking each file's signature with the
/// country's export public key (the same check `herald export inspect --public-key` makes).
fn exported_keys(world: &World, country: &str) -> Vec<[u8; 16]> {
    let ks = world.path().join(country).join("keyserver");
    let public =
        public_key_from_pem(&std::fs::read_to_string(ks.join("export-signing.pub.pem")).unwrap())
            .unwrap();
    let mut keys = Vec::new();
    for config in ["hourly", "daily"] {
        let index = std::fs::read_to_string(ks.join("exports").join(config).join("index.txt"))
            .unwrap_or_default();
        for name in index.split('\n').filter(|l| !l.is_empty()) {
            let file = read_zip(
                &std::fs::read(ks.join("exports").join(name)).unwrap(),
                &ReadLimits::default(),
            )
            .unwrap();
            assert_eq!(
                file.valid_signatures(&public).len(),
                1,
                "{name} is signed with {country}'s export key"
            );
            assert_eq!(file.contents.region.as_deref(), Some(country));
            keys.extend(file.contents.keys.iter().map(|k| *k.key.as_bytes()));
        }
    }
    keys
}

fn contains_all(exported: &[[u8; 16]], keys: &[AppKey]) -> bool {
    keys.iter().all(|k| exported.contains(&k.key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_cross_borders_both_ways_after_the_embargo() {
    // Noon today (UTC): yesterday's keys are past their validity, today's are not.
    let noon = system_now() / 86_400 * 86_400 + 12 * 3600;
    let mut world = World::new(&["DE", "NL"], noon);
    world.start_gateway(&["DE", "NL"]).await;
    let ca = std::fs::read_to_string(world.path().join("ca.pem")).unwrap();
    let de_config = world.keyserver_config("DE", &issuer_public_pem());
    let nl_config = world.keyserver_config("NL", &issuer_public_pem());
    // The test runs every job by hand.
    world.hold_jobs(&de_config).await;
    world.hold_jobs(&nl_config).await;
    let (de, de_export, de_fed) = world.start_keyserver(&de_config).await;
    let (nl, nl_export, nl_fed) = world.start_keyserver(&nl_config).await;

    // DE: three past keys and one of today (still valid: embargoed).
    let de_keys = past_keys(0xDE, 3, noon, 0);
    let today = AppKey { key: [0xD1; 16], start: noon / 86_400 * 144, period: 144, tr: 0 };
    let mut all = de_keys.clone();
    all.push(today.clone());
    let (status, answer) =
        publish(&de.url, &ca, &valid_publish("DE", &all, noon, "confirmed")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["insertedExposures"], 4);
    // NL: two past keys.
    let nl_keys = past_keys(0x4E, 2, noon, 3);
    let (status, answer) =
        publish(&nl.url, &ca, &valid_publish("NL", &nl_keys, noon, "likely")).await;
    assert_eq!(status, 200, "{answer}");

    // Federation: the past keys go now, today's key only two hours after it expires.
    let up = de_fed.upload_once().await.unwrap();
    assert_eq!(up.keys, 3, "{up:?}");
    assert_eq!(nl_fed.upload_once().await.unwrap().keys, 2);
    assert!(download_until(&nl_fed, 3).await >= 3);
    assert!(download_until(&de_fed, 2).await >= 2);

    // Three hours later the windows of noon are due: both exports hold both countries' keys,
    // signed with their own keys; today's DE key is still embargoed.
    world.clock.advance(3 * 3600);
    run(&de_export).await;
    run(&nl_export).await;
    let nl_exported = exported_keys(&world, "NL");
    assert!(contains_all(&nl_exported, &de_keys), "DE's keys are in NL's exports");
    assert!(contains_all(&nl_exported, &nl_keys));
    assert!(!nl_exported.contains(&today.key), "a still-valid key is never exported");
    let de_exported = exported_keys(&world, "DE");
    assert!(contains_all(&de_exported, &nl_keys), "NL's keys are in DE's exports");
    assert!(!de_exported.contains(&today.key));

    // The next day, after the key expired + 2 h: it travels and is published too.
    world.clock.advance(24 * 3600);
    assert!(de_fed.upload_once().await.unwrap().keys >= 1);
    assert!(download_until(&nl_fed, 1).await >= 1);
    world.clock.advance(3 * 3600);
    run(&de_export).await;
    run(&nl_export).await;
    assert!(exported_keys(&world, "DE").contains(&today.key));
    assert!(exported_keys(&world, "NL").contains(&today.key));

    de.stop().await;
    nl.stop().await;
    if let Some(gateway) = world.gateway.take() {
        gateway.stop().await;
    }
}

/// With a callback subscription, a foreign upload reaches the key server without any polling:
/// the download job runs once at start and then only every hour, so what arrives within the
/// test came through the gateway's callback, which woke it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_callback_brings_foreign_keys_without_polling() {
    let noon = system_now() / 86_400 * 86_400 + 12 * 3600;
    let mut world = World::new(&["DE", "NL"], noon);
    world.start_gateway(&["DE", "NL"]).await;
    let ca = std::fs::read_to_string(world.path().join("ca.pem")).unwrap();
    let de_config = world.keyserver_config("DE", &issuer_public_pem());
    let mut nl_config = world.keyserver_config("NL", &issuer_public_pem());
    let nl_federation = nl_config.federation.as_mut().unwrap();
    nl_federation.callback_listen = Some("127.0.0.1:0".parse().unwrap());
    let nl_db = nl_config.database.clone();
    let (de, _, de_fed) = world.start_keyserver(&de_config).await;
    let (nl, _, _) = world.start_keyserver(&nl_config).await;

    // The subscription is made at start (it may take a moment).
    let gateway_url = world.gateway.as_ref().unwrap().url.clone();
    let nl_auth = std::fs::read_to_string(world.path().join("NL/auth.pem")).unwrap();
    let nl_key = std::fs::read_to_string(world.path().join("NL/auth.key.pem")).unwrap();
    let nl_client = HttpsClient::new(&gateway_url, &ca, Some((&nl_auth, &nl_key))).unwrap();
    let mut subscriptions = serde_json::Value::Null;
    for _ in 0..50 {
        let answer = nl_client
            .request(Method::GET, "/diagnosiskeys/callback", &[], Vec::new())
            .await
            .unwrap();
        subscriptions = serde_json::from_slice(&answer.body).unwrap();
        if subscriptions.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(subscriptions[0]["callbackId"], "herald", "{subscriptions}");
    assert!(
        subscriptions[0]["url"].as_str().unwrap().ends_with("/federation/callback"),
        "{subscriptions}"
    );

    let de_keys = past_keys(0xDE, 3, noon, 0);
    let (status, answer) =
        publish(&de.url, &ca, &valid_publish("DE", &de_keys, noon, "confirmed")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(de_fed.upload_once().await.unwrap().keys, 3);

    let nl_store = herald_keyserver::store::Store::open(&nl_db).await.unwrap();
    let mut stored = 0;
    for _ in 0..100 {
        stored = nl_store
            .count_window(herald_keyserver::store::Which::Released, 0, i64::MAX)
            .await
            .unwrap();
        if stored >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stored, 3, "DE's keys reached NL through the callback");
    nl_store.close().await;

    // The receiver hears the gateway's certificate only, and checks what it is told.
    let callback_url = subscriptions[0]["url"].as_str().unwrap();
    let base = callback_url.trim_end_matches("/federation/callback");
    let pem = |p: &str| std::fs::read_to_string(world.path().join(p)).unwrap();
    let as_gateway = HttpsClient::new(
        base,
        &ca,
        Some((&pem("gateway/server.pem"), &pem("gateway/server.key.pem"))),
    )
    .unwrap();
    let as_de =
        HttpsClient::new(base, &ca, Some((&pem("DE/auth.pem"), &pem("DE/auth.key.pem")))).unwrap();
    let anonymous = HttpsClient::new(base, &ca, None).unwrap();
    let good = "/federation/callback?batchTag=20261128-1&date=2026-11-28";
    for (client, path, want) in [
        (&as_gateway, good, 200),
        (&as_de, good, 403),
        (&anonymous, good, 403),
        (&as_gateway, "/federation/callback?batchTag=20261128-1&date=2026-02-30", 400),
        (&as_gateway, "/federation/callback?batchTag=a%2Fb&date=2026-11-28", 400),
        (&as_gateway, "/federation/callback?date=2026-11-28", 400),
        (&as_gateway, "/federation/callback?batchTag=20261128-1", 400),
    ] {
        let answer = client.request(Method::GET, path, &[], Vec::new()).await.unwrap();
        assert_eq!(
            answer.status.as_u16(),
            want,
            "{path}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }

    de.stop().await;
    nl.stop().await;
    if let Some(gateway) = world.gateway.take() {
        gateway.stop().await;
    }
}

async fn run(exporter: &Exporter) {
    exporter.run_once().await.unwrap();
}
