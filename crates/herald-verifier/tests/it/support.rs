//! A dev world with a running verifier, and an app/admin client for it.

use std::path::Path;
use std::sync::Arc;

use herald_model::{Clock, CountryCode, ManualClock, UnixTime};
use herald_runtime::{Answer, HttpsClient};
use herald_service::random::Randomness;
use herald_trust::{DevValidity, generate_dev_pki};
use herald_verifier::Verifier;
use herald_verifier::config::VerifierConfig;
use herald_verifier::store::ApiKeyKind;
use hyper::Method;
use serde_json::{Value, json};
use sqlx::Connection as _;

pub(crate) fn system_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
    )
    .unwrap()
}

/// A temporary dev folder with the PKI of `countries`.
pub(crate) fn dev_world(countries: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let codes: Vec<CountryCode> = countries.iter().map(|c| c.parse().unwrap()).collect();
    let pki =
        generate_dev_pki(&codes, &DevValidity::around(UnixTime(system_now() - 86_400)).unwrap())
            .unwrap();
    for f in pki.files() {
        let path = dir.path().join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, f.contents).unwrap();
    }
    dir
}

/// A running dev verifier.
pub(crate) struct Running {
    pub(crate) url: String,
    pub(crate) ca: String,
    pub(crate) admin: String,
    pub(crate) device: String,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) database: String,
    pub(crate) service: Arc<herald_verifier::service::Service>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Starts `country`'s dev verifier in `dir` (writing its `url` file) on a manual clock at the
/// real time, after `tweak` edits the configuration.
pub(crate) async fn start(
    dir: &Path,
    country: &str,
    tweak: impl FnOnce(&mut VerifierConfig),
) -> Running {
    let cc: CountryCode = country.parse().unwrap();
    let (mut config, keys) = herald_verifier::dev::prepare(dir, cc, None).unwrap();
    config.api.chaff_max_latency_ms = 50;
    tweak(&mut config);
    let clock = Arc::new(ManualClock::new(UnixTime(system_now())));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let verifier = Verifier::build(&config, dyn_clock, Randomness::os()).await.unwrap();
    verifier.register_api_key("dev-admin", ApiKeyKind::Admin, &keys.admin).await.unwrap();
    verifier.register_api_key("dev-device", ApiKeyKind::Device, &keys.device).await.unwrap();
    let url = format!("https://{}", verifier.local_addr().unwrap());
    let url_file = herald_verifier::dev::verifier_dir(dir, cc).join("url");
    std::fs::write(&url_file, &url).unwrap();
    let service = verifier.service();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(verifier.run_until_stopped(async move {
        let _ = rx.await;
    }));
    Running {
        url,
        ca: std::fs::read_to_string(dir.join("ca.pem")).unwrap(),
        admin: keys.admin,
        device: keys.device,
        clock,
        database: config.database,
        service,
        stop: Some(tx),
        task: Some(task),
    }
}

/// Today (UTC) as `YYYY-MM-DD`.
pub(crate) fn today(now: i64) -> String {
    herald_model::Date::of(herald_model::UnixTime(now)).to_string()
}

impl Running {
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now().seconds()
    }

    /// A raw request.
    pub(crate) async fn raw(
        &self,
        path: &str,
        key: Option<&str>,
        extra: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let client = HttpsClient::new(&self.url, &self.ca, None).unwrap();
        let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/json")];
        if let Some(k) = key {
            headers.push(("x-api-key", k));
        }
        headers.extend_from_slice(extra);
        client.request(Method::POST, path, &headers, body).await.unwrap()
    }

    /// A JSON request; the answer's status and JSON.
    pub(crate) async fn call(&self, path: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
        let answer = self.raw(path, key, &[], body.to_string().into_bytes()).await;
        let json = serde_json::from_slice(&answer.body)
            .unwrap_or_else(|e| panic!("{path}: answer is not JSON ({e})"));
        (answer.status.as_u16(), json)
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
        let client = HttpsClient::new(&self.url, &self.ca, None).unwrap();
        client.request(Method::GET, path, &[], Vec::new()).await.unwrap()
    }

    /// Issues a confirmed code with today's symptom date; returns the issue answer.
    pub(crate) async fn issue(&self, test_type: &str) -> Value {
        let (status, answer) = self
            .call(
                "/api/issue",
                Some(&self.admin),
                &json!({"testType": test_type, "symptomDate": today(self.now()), "tzOffset": 0}),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// Verifies `code`; returns the answer.
    pub(crate) async fn verify(&self, code: &str) -> (u16, Value) {
        self.call("/api/verify", Some(&self.device), &json!({"code": code})).await
    }

    /// Exchanges `token` for a certificate over `hmac` (Base64).
    pub(crate) async fn certificate(&self, token: &str, hmac: &str) -> (u16, Value) {
        self.call(
            "/api/certificate",
            Some(&self.device),
            &json!({"token": token, "ekeyhmac": hmac}),
        )
        .await
    }

    /// A fresh token (issue + verify).
    pub(crate) async fn token(&self) -> String {
        let code = self.issue("confirmed").await["code"].as_str().unwrap().to_owned();
        let (status, answer) = self.verify(&code).await;
        assert_eq!(status, 200, "{answer}");
        answer["token"].as_str().unwrap().to_owned()
    }

    /// One integer from the database, behind the store's back.
    pub(crate) async fn scalar(&self, sql: &'static str) -> i64 {
        let mut conn = sqlx::SqliteConnection::connect(&self.database).await.unwrap();
        let v: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
        let _ = conn.close().await;
        v
    }

    /// What is stored, as one comparable line (behind the store's back).
    pub(crate) async fn storage(&self) -> String {
        let mut conn = sqlx::SqliteConnection::connect(&self.database).await.unwrap();
        let (codes, claimed, expiries): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(claimed), 0), \
             COALESCE(SUM(short_expires_at + long_expires_at), 0) FROM verification_code",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        let tokens: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM used_token")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let keys: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM api_key").fetch_one(&mut conn).await.unwrap();
        let _ = conn.close().await;
        format!("codes={codes} claimed={claimed} expiries={expiries} tokens={tokens} keys={keys}")
    }
}

/// Every byte of the database files, to search for secrets.
pub(crate) fn database_bytes(dir: &Path, country: &str) -> Vec<u8> {
    let v = dir.join(country).join("verifier");
    let mut all = Vec::new();
    for name in ["verifier.db", "verifier.db-wal"] {
        if let Ok(bytes) = std::fs::read(v.join(name)) {
            all.extend(bytes);
        }
    }
    all
}

/// The standard Base64 of 32 bytes of `b`.
pub(crate) fn hmac_b64(b: u8) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([b; 32])
}
