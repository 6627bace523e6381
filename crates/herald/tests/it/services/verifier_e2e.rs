//! End to end over real TLS on 127.0.0.1: a dev verifier and a dev key server share one dev
//! folder. The key server finds the verifier through `DE/verifier/url` and its JWKS, accepts
//! the certificate the app got from the verifier for its keys (for a code a case worker issued in
//! the portal), refuses it a second time, and publishes the keys in its next export file, signed
//! with its export key.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_keyserver::Keyserver;
use herald_model::{Clock, CountryCode};
use herald_service::random::Randomness;
use herald_wire::publish::PublishKey;
use herald_wire::publish::tekmac::{CleartextForm, compute};
use serde_json::{Value, json};

use herald_verifier::store::Role;

use super::client::publish;
use super::support::{dev_world, start};
use super::web::{Web, body, make_user, text_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyserver_accepts_our_certificate_once() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |_| {}).await;
    let de: CountryCode = "DE".parse().unwrap();
    let mut config = herald_keyserver::dev::prepare(dir.path(), de, None).unwrap();
    config.export.interval_seconds = 3600;
    // One clock for both services (the portal login below moves it by a TOTP step).
    let manual = v.clock.clone();
    let clock: Arc<dyn Clock> = manual.clone();
    let keyserver = Keyserver::build(&config, clock, Randomness::os()).await.unwrap();
    let exporter = keyserver.exporter();
    let ks_url = format!("https://{}", keyserver.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let ks = tokio::spawn(keyserver.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    // The app: three keys of the past days, an HMAC key, the tekmac.
    let now = v.now();
    let today = now / 86_400 * 144;
    let keys: Vec<PublishKey> = (1..=3u8)
        .map(|d| {
            let key = [0xA0 + d; 16];
            PublishKey {
                key_text: STANDARD.encode(key),
                key: Some(key),
                rolling_start_number: today - 144 * i64::from(d),
                rolling_period: 144,
                transmission_risk: 2,
            }
        })
        .collect();
    let hmac_key = [0x33u8; 32];
    let tekmac = STANDARD.encode(compute(&hmac_key, &keys, CleartextForm::WithTransmissionRisk));

    // A case worker issues the code in the portal; app → token → certificate.
    let mut carla = make_user(&v, "carla", Role::CaseWorker).await;
    let mut web = Web::new(&v);
    web.login_ready(&v, &mut carla).await;
    let day = super::support::today(v.now());
    let page = web
        .submit("/portal/", "/portal/issue", &[("test_type", "confirmed"), ("symptom_date", &day)])
        .await;
    let code = text_of(&body(&page), "short-code").expect("the portal shows the code");
    let (status, verified) = v.verify(&code).await;
    assert_eq!(status, 200);
    let (status, cert) = v.certificate(verified["token"].as_str().unwrap(), &tekmac).await;
    assert_eq!(status, 200, "{cert}");
    let certificate = cert["certificate"].as_str().unwrap();

    let body = json!({
        "temporaryExposureKeys": keys.iter().map(|k| json!({
            "key": k.key_text, "rollingStartNumber": k.rolling_start_number,
            "rollingPeriod": k.rolling_period, "transmissionRisk": k.transmission_risk,
        })).collect::<Vec<_>>(),
        "healthAuthorityID": herald_keyserver::dev::dev_app_id(de),
        "verificationPayload": certificate,
        "hmacKey": STANDARD.encode(hmac_key),
        "symptomOnsetInterval": today,
        "padding": STANDARD.encode([0u8; 1024]),
    });
    // The key server fetches the JWKS at start and every 5 s in dev: wait for it.
    let mut answer = (0, Value::Null);
    for _ in 0..40 {
        answer = publish(&ks_url, &v.ca, &body).await;
        if answer.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(answer.1["insertedExposures"], 3);

    // The same certificate again is refused.
    let (status, again) = publish(&ks_url, &v.ca, &body).await;
    assert_eq!(status, 401, "{again}");
    assert_eq!(again["code"], "health_authority_verification_certificate_invalid");

    // A certificate over other keys (its tekmac does not match) is refused too.
    let code = v.issue("confirmed").await["code"].as_str().unwrap().to_owned();
    let (_, verified) = v.verify(&code).await;
    let (_, cert) =
        v.certificate(verified["token"].as_str().unwrap(), &STANDARD.encode([9u8; 32])).await;
    let mut other = body.clone();
    other["verificationPayload"] = cert["certificate"].clone();
    let (status, refused) = publish(&ks_url, &v.ca, &other).await;
    assert_eq!(status, 401, "{refused}");

    // Three hours later the key server's next export holds the keys, signed with its key.
    manual.advance(4 * 3600);
    exporter.run_once().await.unwrap();
    let exports = dir.path().join("DE/keyserver/exports");
    let public = herald_wire::export::public_key_from_pem(
        &std::fs::read_to_string(dir.path().join("DE/keyserver/export-signing.pub.pem")).unwrap(),
    )
    .unwrap();
    let index = std::fs::read_to_string(exports.join("hourly/index.txt")).unwrap();
    let mut in_files = Vec::new();
    for name in index.lines().filter(|l| !l.is_empty()) {
        let file = herald_wire::export::read_zip(
            &std::fs::read(exports.join(name)).unwrap(),
            &herald_wire::export::ReadLimits::default(),
        )
        .unwrap();
        assert_eq!(file.valid_signatures(&public).len(), 1, "{name} is signed with DE's key");
        in_files.extend(file.contents.keys.iter().map(|k| *k.key.as_bytes()));
    }
    for k in &keys {
        assert!(in_files.contains(&k.key.unwrap()), "a published key is in the export");
    }

    let _ = stop.send(());
    let _ = ks.await;
    v.stop().await;
}

/// A key server that has not read its verifier's JWKS yet answers a valid certificate with a
/// 500 `unable_to_load_health_authority` (try again), not a 401 that tells the app its
/// certificate is bad; and a key server started while its verifier runs has the keys before it
/// serves. Found by `herald bench crash`: right after a `kill -9` and restart, the key server
/// refused valid certificates with 401 "no active public key for kid" until its first JWKS
/// refresh ended, and the apps gave those uploads up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_server_without_its_verifiers_keys_says_try_again_and_reads_them_before_serving() {
    let dir = dev_world(&["DE"]);
    let de: CountryCode = "DE".parse().unwrap();
    let mut config = herald_keyserver::dev::prepare(dir.path(), de, None).unwrap();
    config.export.interval_seconds = 3600;
    config.federation = None;
    // Only the read at start: no refresh during the test.
    config.publish.issuers[0].jwks_refresh_seconds = 3600;
    let clock: Arc<dyn Clock> = Arc::new(herald_model::ManualClock::new(herald_model::UnixTime(
        super::world::system_now(),
    )));
    let start_keyserver = |config: herald_keyserver::config::KeyserverConfig| {
        let clock = clock.clone();
        async move {
            let keyserver = Keyserver::build(&config, clock, Randomness::os()).await.unwrap();
            let url = format!("https://{}", keyserver.local_addr().unwrap());
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(keyserver.run_until_stopped(async move {
                let _ = stopped.await;
            }));
            (url, stop, task)
        }
    };
    // A key server whose verifier is not to be found (as before the verifier's first start).
    let mut lost = config.clone();
    lost.publish.issuers[0].jwks_url_file = Some(dir.path().join("DE/verifier/not-yet"));
    let (early, stop_early, early_task) = start_keyserver(lost).await;
    let v = start(dir.path(), "DE", |_| {}).await;

    let hmac_key = [0x33u8; 32];
    let keys: Vec<PublishKey> = (1..=2u8)
        .map(|d| PublishKey {
            key_text: STANDARD.encode([0xB0 + d; 16]),
            key: Some([0xB0 + d; 16]),
            rolling_start_number: (v.now() / 86_400 - i64::from(d)) * 144,
            rolling_period: 144,
            transmission_risk: 2,
        })
        .collect();
    let tekmac = STANDARD.encode(compute(&hmac_key, &keys, CleartextForm::WithTransmissionRisk));
    let token = v.token().await;
    let (status, cert) = v.certificate(&token, &tekmac).await;
    assert_eq!(status, 200, "{cert}");
    let body = json!({
        "temporaryExposureKeys": keys.iter().map(|k| json!({
            "key": k.key_text, "rollingStartNumber": k.rolling_start_number,
            "rollingPeriod": k.rolling_period, "transmissionRisk": k.transmission_risk,
        })).collect::<Vec<_>>(),
        "healthAuthorityID": herald_keyserver::dev::dev_app_id(de),
        "verificationPayload": cert["certificate"],
        "hmacKey": STANDARD.encode(hmac_key),
        "padding": STANDARD.encode([0u8; 1024]),
    });
    let (status, answer) = publish(&early, &v.ca, &body).await;
    assert_eq!(status, 500, "{answer}");
    assert_eq!(answer["code"], "unable_to_load_health_authority", "{answer}");
    let _ = stop_early.send(());
    let _ = early_task.await;

    // Started while the verifier runs: the very first publish is accepted (the certificate was
    // not used up by the refusal), without waiting for a refresh.
    let (url, stop, task) = start_keyserver(config).await;
    let (status, answer) = publish(&url, &v.ca, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["insertedExposures"], 2);
    let _ = stop.send(());
    let _ = task.await;
    v.stop().await;
}
