//! Guessing codes (issue 14, finding 2): the wrong-code budget of `/api/verify` is per client
//! first and per app second, reserved before the lookup, so one guesser can neither lock every
//! install of the app out nor slip past the limit with concurrent guesses; failures are logged
//! sampled, not one line each.

use herald_verifier::internal::{CODES, TRIPS};
use serde_json::{Value, json};

use crate::support::{Running, dev_world, start};

/// `/api/verify` of `code` as the client at `address` (through the configured proxy header).
async fn verify_from(v: &Running, address: &str, code: &str) -> (u16, Value) {
    let body = json!({"code": code}).to_string().into_bytes();
    let answer = v.raw("/api/verify", Some(&v.device), &[("x-forwarded-for", address)], body).await;
    (answer.status.as_u16(), serde_json::from_slice(&answer.body).unwrap())
}

/// Wrong codes: eight digits that are not `real`.
fn guesses(real: &str, n: usize) -> Vec<String> {
    (0u32..).map(|g| format!("{g:08}")).filter(|c| c != real).take(n).collect()
}

/// Before: 10 000 wrong codes from one client spent the device key's budget and a genuine code
/// answered 429. Now the guesser's own budget stops it and everyone else verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_guesser_does_not_lock_out_every_user_of_the_app() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |c| {
        c.client_address_header = Some("x-forwarded-for".into());
        c.api.verify_client_failure_limit = 5;
        c.api.verify_failure_limit = 30;
    })
    .await;
    let real = v.issue("confirmed").await["code"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    for guess in guesses(&real, 40) {
        let (status, answer) = verify_from(&v, "198.51.100.7", &guess).await;
        statuses.push((status, answer["errorCode"].as_str().unwrap_or_default().to_owned()));
    }
    let refused = statuses.iter().filter(|(s, c)| *s == 400 && c == "code_invalid").count();
    let limited = statuses.iter().filter(|(s, c)| *s == 429 && c == "quota_exceeded").count();
    assert_eq!((refused, limited), (5, 35), "{statuses:?}");
    // The guesser stays limited even with the real code; a genuine user elsewhere verifies.
    let before = v.storage().await;
    assert_eq!(verify_from(&v, "198.51.100.7", &real).await.0, 429);
    assert_eq!(v.storage().await, before, "a limited attempt claims nothing");
    let (status, answer) = verify_from(&v, "203.0.113.9", &real).await;
    assert_eq!(status, 200, "{answer}");
    let metrics = v.service.metrics();
    assert_eq!(metrics.value(&TRIPS, "verify_client"), 36);
    assert_eq!(metrics.value(&TRIPS, "verify_app_budget"), 0);
    assert_eq!(metrics.value(&CODES, "verify_failed"), 5);
    v.stop().await;
}

/// Without a configured proxy header, a client cannot pick a fresh identity per guess by
/// sending one: the TCP peer is the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_forwarded_header_is_ignored_without_a_proxy() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |c| {
        c.api.verify_client_failure_limit = 3;
        c.api.verify_failure_limit = 100;
    })
    .await;
    let real = v.issue("confirmed").await["code"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    for (i, guess) in guesses(&real, 6).iter().enumerate() {
        statuses.push(verify_from(&v, &format!("192.0.2.{i}"), guess).await.0);
    }
    assert_eq!(statuses, [400, 400, 400, 429, 429, 429]);
    v.stop().await;
}

/// When many clients together spend the app-wide budget, it holds, and it is counted for an
/// alert (once a window in the log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_guessers_spend_the_app_budget_and_raise_the_alert() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |c| {
        c.client_address_header = Some("x-forwarded-for".into());
        c.api.verify_client_failure_limit = 2;
        c.api.verify_failure_limit = 10;
    })
    .await;
    let real = v.issue("confirmed").await["code"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    for (i, guess) in guesses(&real, 16).iter().enumerate() {
        statuses.push(verify_from(&v, &format!("2001:db8:{i}::1"), guess).await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 6, "{statuses:?}");
    assert_eq!(v.service.metrics().value(&TRIPS, "verify_app_budget"), 6);
    // After the window, the app verifies again (a fresh code: the first one expired).
    v.clock.advance(3601);
    let fresh = v.issue("confirmed").await["code"].as_str().unwrap().to_owned();
    assert_eq!(verify_from(&v, "2001:db8:15::1", &fresh).await.0, 200);
    v.stop().await;
}

/// Concurrent wrong guesses cannot slip past a check made before the lookup and a count made
/// after it: of 40 guesses at once from one client, at most its budget is looked up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guesses_cannot_exceed_the_budget() {
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |c| {
        c.api.verify_client_failure_limit = 4;
        c.api.verify_failure_limit = 100;
    })
    .await;
    let real = v.issue("confirmed").await["code"].as_str().unwrap().to_owned();
    let service = v.service.clone();
    let device = "dev-device".to_owned();
    let client = Some(std::net::IpAddr::from([192, 0, 2, 77]));
    let attempts = guesses(&real, 40).into_iter().map(|code| {
        let (service, device) = (service.clone(), device.clone());
        tokio::spawn(async move {
            let request = herald_wire::verification::VerifyRequest { code, ..Default::default() };
            service.verify(&request, &device, client).await.map_err(|e| e.code)
        })
    });
    let mut looked_up = 0;
    for attempt in futures_join(attempts).await {
        match attempt {
            Err(herald_wire::verification::ErrorCode::CodeInvalid) => looked_up += 1,
            Err(herald_wire::verification::ErrorCode::QuotaExceeded) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(looked_up, 4);
    assert_eq!(v.service.metrics().value(&CODES, "verify_failed"), 4);
    v.stop().await;
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

/// Finding 6: 200 failed verifications write a handful of log lines, not 200.
#[tokio::test(flavor = "current_thread")]
async fn failed_verifications_are_logged_sampled() {
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let sink = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || Sink(sink.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = dev_world(&["DE"]);
    let v = start(dir.path(), "DE", |c| {
        c.api.verify_client_failure_limit = 1000;
        c.api.verify_failure_limit = 1000;
    })
    .await;
    let real = v.issue("confirmed").await["code"].as_str().unwrap().to_owned();
    let client = Some(std::net::IpAddr::from([192, 0, 2, 78]));
    for code in guesses(&real, 200) {
        let request = herald_wire::verification::VerifyRequest { code, ..Default::default() };
        assert!(v.service.verify(&request, "dev-device", client).await.is_err());
    }
    let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
    let refused: Vec<&str> = text.lines().filter(|l| l.contains("verify refused")).collect();
    assert_eq!(refused.len(), 3, "the 1st, 10th and 100th failure:\n{text}");
    assert!(refused[2].contains("failures_in_window=100"), "{}", refused[2]);
    v.stop().await;
}

struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
