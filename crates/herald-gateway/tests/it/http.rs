//! The gateway over real HTTPS with mTLS on 127.0.0.1: upload, download, audit, and the
//! bad-input table, on SQLite and on PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_gateway::store::{Store, TrustRow};
use herald_gateway::{Gateway, GatewayConfig};
use herald_model::{
    CertThumbprint, Clock, CountryCode, IntervalNumber, ReportType, RollingPeriod,
    TemporaryExposureKey, UnixTime,
};
use herald_runtime::{Answer, HttpsClient};
use herald_trust::{DevPki, DevValidity, TrustAnchor, TrustEntry, TrustKind, generate_dev_pki};
use herald_wire::cms::SigningIdentity;
use herald_wire::efgs::{self, DaysSinceOnset, EfgsKey, TransmissionRisk};
use hyper::Method;

/// 2026-11-28 12:00 UTC.
const NOW: i64 = 1_795_867_200;

/// A clock tests can move.
pub(crate) struct TestClock(AtomicI64);

impl TestClock {
    /// Moves the clock forward.
    pub(crate) fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}

/// A running gateway with the dev PKI of DE, NL, FR (and an untrusted IT).
pub(crate) struct World {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) pki: DevPki,
    pub(crate) store: Store,
    pub(crate) url: String,
    /// The internal listener (`http://127.0.0.1:<port>`).
    pub(crate) internal_url: String,
    /// The gateway process's own store (sharing its pool), to break it in tests.
    pub(crate) gateway_store: Store,
    pub(crate) clock: Arc<TestClock>,
    pub(crate) config: GatewayConfig,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    others: Vec<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

/// One started gateway process.
pub(crate) struct Launched {
    pub(crate) url: String,
    pub(crate) internal_url: Option<String>,
    pub(crate) store: Store,
    pub(crate) stop: tokio::sync::oneshot::Sender<()>,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

fn country(c: &str) -> CountryCode {
    c.parse().unwrap()
}

impl World {
    pub(crate) async fn start(database: Option<String>) -> Self {
        Self::start_with(database, "").await
    }

    /// Like [`World::start`], with `extra` top-level configuration lines.
    pub(crate) async fn start_with(database: Option<String>, extra: &str) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let countries = [country("DE"), country("NL"), country("FR"), country("IT")];
        let validity = DevValidity::around(UnixTime(NOW)).unwrap();
        let pki = generate_dev_pki(&countries, &validity).unwrap();
        for f in pki.files() {
            let path = dir.path().join(&f.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, f.contents).unwrap();
        }
        let database = database
            .unwrap_or_else(|| format!("sqlite:{}", dir.path().join("gateway.db").display()));
        let store = Store::open(&database).await.unwrap();
        let anchor = TrustAnchor::from_pkcs8_pem(pki.anchor.key().expose_secret()).unwrap();
        // IT is onboarded for nothing: its certificates stay untrusted.
        for c in pki.countries.iter().filter(|c| c.country.as_str() != "IT") {
            for (id, kind) in
                [(&c.auth, TrustKind::Authentication), (&c.signing, TrustKind::Signing)]
            {
                let e = anchor.sign_entry(c.country, kind, id.cert_pem(), None).unwrap();
                store.put_trust_entry(&TrustRow::from_entry(&e, UnixTime(NOW))).await.unwrap();
            }
        }
        let at_rest_key = dir.path().join("gateway/at-rest.key");
        std::fs::write(&at_rest_key, format!("{}\n", "ab".repeat(32))).unwrap();
        let toml = format!(
            "listen = \"127.0.0.1:0\"\ninternal_listen = \"127.0.0.1:0\"\ndatabase = {database:?}\nanchor_certificate = {anchor:?}\nat_rest_key_file = {at_rest:?}\nbatching_interval_seconds = 1\n{extra}\n[tls]\ncertificate = {cert:?}\nkey = {key:?}\n",
            anchor = dir.path().join("anchor/anchor.pem").display().to_string(),
            at_rest = at_rest_key.display().to_string(),
            cert = dir.path().join("gateway/server.pem").display().to_string(),
            key = dir.path().join("gateway/server.key.pem").display().to_string(),
            extra = extra.replace("$DIR", &dir.path().display().to_string()),
        );
        let config = GatewayConfig::from_toml(&toml, std::iter::empty()).unwrap();
        let clock = Arc::new(TestClock(AtomicI64::new(NOW)));
        let launched = launch(&config, clock.clone()).await;
        Self {
            dir,
            pki,
            store,
            url: launched.url,
            internal_url: launched.internal_url.unwrap(),
            gateway_store: launched.store,
            clock,
            config,
            stop: Some(launched.stop),
            task: Some(launched.task),
            others: Vec::new(),
        }
    }

    /// Another gateway process on the same database (scale-out); returns its URL.
    pub(crate) async fn another_gateway(&mut self) -> String {
        let launched = launch(&self.config, self.clock.clone()).await;
        self.others.push((launched.stop, launched.task));
        launched.url
    }

    pub(crate) fn client_at(&self, url: &str, c: &str) -> HttpsClient {
        let id = &self.pki.countries.iter().find(|x| x.country.as_str() == c).unwrap().auth;
        HttpsClient::new(url, &self.ca(), Some((id.cert_pem(), id.key().expose_secret()))).unwrap()
    }

    pub(crate) fn ca(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ca.pem")).unwrap()
    }

    pub(crate) fn client(&self, c: &str) -> HttpsClient {
        let id = &self.pki.countries.iter().find(|x| x.country.as_str() == c).unwrap().auth;
        HttpsClient::new(&self.url, &self.ca(), Some((id.cert_pem(), id.key().expose_secret())))
            .unwrap()
    }

    pub(crate) fn anonymous(&self) -> HttpsClient {
        HttpsClient::new(&self.url, &self.ca(), None).unwrap()
    }

    pub(crate) fn signer(&self, c: &str) -> SigningIdentity {
        let id = &self.pki.countries.iter().find(|x| x.country.as_str() == c).unwrap().signing;
        SigningIdentity::from_pem(id.cert_pem(), id.key().expose_secret()).unwrap()
    }

    /// The operator's trust anchor (the dev PKI's).
    pub(crate) fn anchor(&self) -> TrustAnchor {
        TrustAnchor::from_pkcs8_pem(self.pki.anchor.key().expose_secret()).unwrap()
    }

    /// The operator revokes (or restores) a certificate: its stored entry, checked, re-signed
    /// with `revoked` and put back.
    pub(crate) async fn operator_sets_revoked(&self, thumbprint: &CertThumbprint, revoked: bool) {
        let anchor = self.anchor();
        let row = self.store.trust_entry(thumbprint).await.unwrap().unwrap();
        anchor.verify_entry(&row.entry()).unwrap();
        let signed = anchor.resign(&TrustEntry { revoked, ..row.entry() }).unwrap();
        self.store.put_trust_entry(&TrustRow::from_entry(&signed, row.created_at)).await.unwrap();
    }

    /// Runs `sql` on the gateway's database behind its back (someone with write access to the
    /// database but not the anchor key), with `$1` bound to `thumbprint`; one row must change.
    pub(crate) async fn edit_database(&self, sql: &'static str, thumbprint: &CertThumbprint) {
        use sqlx::Connection as _;
        let url = self.config.database.as_str();
        let changed = if url.starts_with("postgres") {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let done = sqlx::query(sql).bind(thumbprint.to_hex()).execute(&mut conn).await;
            conn.close().await.unwrap();
            done.unwrap().rows_affected()
        } else {
            let options =
                <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url).unwrap();
            let mut conn = sqlx::ConnectOptions::connect(&options).await.unwrap();
            let done = sqlx::query(sql).bind(thumbprint.to_hex()).execute(&mut conn).await;
            conn.close().await.unwrap();
            done.unwrap().rows_affected()
        };
        assert_eq!(changed, 1, "{sql}");
    }

    pub(crate) async fn stop(mut self) {
        for (stop, task) in self.others.drain(..) {
            let _ = stop.send(());
            task.await.unwrap();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

/// Builds and starts one gateway process for `config`.
pub(crate) async fn launch(config: &GatewayConfig, clock: Arc<TestClock>) -> Launched {
    let clock: Arc<dyn Clock> = clock;
    let gateway = Gateway::build(config, clock).await.unwrap();
    let url = format!("https://{}", gateway.local_addr().unwrap());
    let internal_url = gateway.internal_addr().map(|a| format!("http://{a}"));
    let store = gateway.store().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(gateway.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Launched { url, internal_url, store, stop, task }
}

pub(crate) fn keys(origin: &str, n: u8, seed: u8) -> Vec<EfgsKey> {
    (0..n)
        .map(|i| EfgsKey {
            key: TemporaryExposureKey::from_bytes([seed.wrapping_mul(31).wrapping_add(i); 16]),
            rolling_start: IntervalNumber(u32::try_from((NOW / 86_400 - 2) * 144).unwrap()),
            rolling_period: RollingPeriod::FULL_DAY,
            transmission_risk: TransmissionRisk::NotProvided,
            visited_countries: vec![country("NL"), country("FR")],
            origin: country(origin),
            report_type: ReportType::ConfirmedTest,
            days_since_onset: DaysSinceOnset::new(i32::from(i % 5)).unwrap(),
        })
        .collect()
}

pub(crate) struct Rng(pub(crate) u64);
impl rand_core::TryRng for Rng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(u32::try_from(self.try_next_u64()? >> 32).unwrap())
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = u8::try_from(self.try_next_u64()? >> 56).unwrap();
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for Rng {}

pub(crate) fn sign(world: &World, signer: &str, keys: &[EfgsKey]) -> String {
    efgs::sign_batch(keys, &world.signer(signer), UnixTime(NOW), &mut Rng(7)).unwrap()
}

pub(crate) async fn upload(
    client: &HttpsClient,
    tag: &str,
    signature: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Answer {
    client
        .request(
            Method::POST,
            "/diagnosiskeys/upload",
            &[
                ("batchTag", tag),
                ("batchSignature", signature),
                ("content-type", content_type),
                ("accept", "application/json; version=1.0"),
            ],
            body,
        )
        .await
        .unwrap()
}

const PROTOBUF: &str = "application/protobuf; version=1.0";

async fn download(client: &HttpsClient, date: &str, tag: Option<&str>) -> Answer {
    let mut headers = vec![("accept", PROTOBUF)];
    if let Some(tag) = tag {
        headers.push(("batchTag", tag));
    }
    client
        .request(Method::GET, &format!("/diagnosiskeys/download/{date}"), &headers, vec![])
        .await
        .unwrap()
}

/// Waits for the batching job (it runs within a second of an upload).
async fn download_when_batched(client: &HttpsClient, date: &str) -> Answer {
    for _ in 0..100 {
        let answer = download(client, date, None).await;
        if answer.status != 404 {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no download batch formed within 10 s");
}

/// Upload by DE, download by NL and DE, audit, re-verification of the signature from the audit.
pub(crate) async fn check_round_trip(world: &World) {
    let de = world.client("DE");
    let nl = world.client("NL");
    let batch = keys("DE", 20, 1);
    let signature = sign(world, "DE", &batch);
    let answer =
        upload(&de, "DE-20261128-1", &signature, efgs::encode_protobuf(&batch), PROTOBUF).await;
    assert_eq!(answer.status, 201, "{:?}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.header("batchTag"), Some("DE-20261128-1"));

    let got = download_when_batched(&nl, "2026-11-28").await;
    assert_eq!(got.status, 200);
    let tag = got.header("batchTag").unwrap().to_owned();
    assert_eq!(tag, "20261128-1");
    assert_eq!(got.header("nextBatchTag"), Some("null"));
    assert_eq!(got.header("content-type"), Some(PROTOBUF));
    let downloaded = efgs::decode_protobuf(&got.body).unwrap();
    assert_eq!(downloaded, batch);
    // The uploader's own keys are filtered out of its download.
    let own = download(&de, "2026-11-28", Some(&tag)).await;
    assert_eq!(own.status, 200);
    assert!(own.body.is_empty());
    // JSON download of the same batch.
    let json = nl
        .request(
            Method::GET,
            "/diagnosiskeys/download/2026-11-28",
            &[("accept", "application/json; version=1.0"), ("batchTag", &tag)],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(efgs::decode_json(&json.body).unwrap(), batch);

    // Audit: one entry, whose signature verifies over the downloaded keys with the certificate
    // served, and whose certificates carry the operator's signatures.
    let audit = nl
        .request(
            Method::GET,
            &format!("/diagnosiskeys/audit/download/2026-11-28/{tag}"),
            &[("accept", "application/json")],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(audit.status, 200, "{}", String::from_utf8_lossy(&audit.body));
    let entries: serde_json::Value = serde_json::from_slice(&audit.body).unwrap();
    let entry = &entries[0];
    assert_eq!(entry["country"], "DE");
    assert_eq!(entry["amount"], 20);
    assert_eq!(entry["batchSignature"], signature);
    let cert = herald_wire::cms::SignerCertificate::from_pem(
        entry["signingCertificate"].as_str().unwrap(),
    )
    .unwrap();
    let verified =
        efgs::verify_batch(&downloaded, entry["batchSignature"].as_str().unwrap(), Some(&cert))
            .unwrap();
    assert_eq!(verified.thumbprint.to_hex(), entry["uploaderSigningThumbprint"].as_str().unwrap());
    let anchor = herald_trust::AnchorCertificate::from_pem(world.pki.anchor.cert_pem()).unwrap();
    for (pem, sig) in [
        ("signingCertificate", "signingCertificateOperatorSignature"),
        ("uploaderCertificate", "uploaderOperatorSignature"),
    ] {
        let pem = entry[pem].as_str().unwrap();
        let sig = entry[sig].as_str().unwrap();
        assert!(!STANDARD.decode(sig).unwrap().is_empty());
        assert!(anchor.verify_operator_signature(pem, sig).is_ok());
    }

    // The same tag again: 409, nothing changes.
    let again =
        upload(&de, "DE-20261128-1", &signature, efgs::encode_protobuf(&batch), PROTOBUF).await;
    assert_eq!(again.status, 409);
    // OPTIONS needs no certificate.
    let options =
        world.anonymous().request(Method::OPTIONS, "/diagnosiskeys", &[], vec![]).await.unwrap();
    assert_eq!(options.status, 200);
    assert_eq!(options.header("allow"), Some("POST,GET,OPTIONS"));
}

#[tokio::test]
async fn round_trip_on_sqlite() {
    let world = World::start(None).await;
    check_round_trip(&world).await;
    world.stop().await;
}

#[tokio::test]
async fn round_trip_on_postgres() {
    let Some(db) = crate::store::Backend::Postgres.fresh().await else { return };
    let world = World::start(Some(db.url.clone())).await;
    check_round_trip(&world).await;
    world.stop().await;
    drop(db);
}

/// At rest (§6.1): a gateway given another key refuses to start and names the missing one; given
/// the old key as a previous one, it starts, seals the old rows with the new key and serves them.
#[tokio::test]
async fn a_gateway_starts_only_with_the_keys_that_opened_its_rows() {
    let world = World::start(None).await;
    let de = world.client("DE");
    let batch = keys("DE", 5, 3);
    let signature = sign(&world, "DE", &batch);
    let answer =
        upload(&de, "DE-at-rest", &signature, efgs::encode_protobuf(&batch), PROTOBUF).await;
    assert_eq!(answer.status, 201);
    let old_key = world.config.at_rest.key_file.clone().unwrap();
    let old_id =
        herald_gateway::store::AtRestKey::parse(&std::fs::read_to_string(&old_key).unwrap())
            .unwrap()
            .id();
    let new_key = world.dir.path().join("gateway/at-rest-2.key");
    std::fs::write(&new_key, "cd".repeat(32)).unwrap();

    let mut config = world.config.clone();
    config.at_rest.key_file = Some(new_key.clone());
    let clock: Arc<dyn Clock> = world.clock.clone();
    let Err(error) = Gateway::build(&config, clock.clone()).await else {
        panic!("a gateway without the old key started");
    };
    assert!(error.to_string().contains(&old_id.to_string()), "{error}");
    config.at_rest.key_file = None;
    assert!(Gateway::build(&config, clock.clone()).await.is_err(), "no key at all");

    config.at_rest.key_file = Some(new_key);
    config.at_rest.previous_key_files = vec![old_key];
    let mut world = world;
    world.config = config;
    let url = world.another_gateway().await;
    let nl = world.client_at(&url, "NL");
    let got = download_when_batched(&nl, "2026-11-28").await;
    assert_eq!(got.status, 200);
    assert_eq!(efgs::decode_protobuf(&got.body).unwrap(), batch);
    world.stop().await;
}

fn raw(keys: &[EfgsKey]) -> Vec<herald_wire::proto::efgs::DiagnosisKey> {
    keys.iter().map(EfgsKey::to_proto).collect()
}

fn encode_raw(keys: Vec<herald_wire::proto::efgs::DiagnosisKey>) -> Vec<u8> {
    use prost::Message as _;
    herald_wire::proto::efgs::DiagnosisKeyBatch { keys }.encode_to_vec()
}

/// One bad request and the status it must get.
struct Case {
    name: &'static str,
    client: &'static str,
    tag: String,
    signature: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
}

/// The bad-input table: every refusal path of the upload, each answered with the documented
/// status and leaving storage unchanged (the tag stays unused, nothing becomes downloadable).
pub(crate) async fn check_bad_uploads(world: &World) {
    let good = keys("DE", 3, 9);
    let good_sig = sign(world, "DE", &good);
    let good_body = efgs::encode_protobuf(&good);
    let with = |f: &dyn Fn(&mut herald_wire::proto::efgs::DiagnosisKey)| {
        let mut r = raw(&good);
        f(&mut r[1]);
        encode_raw(r)
    };
    let today_enin = u32::try_from(NOW / 600).unwrap();
    let nl_keys = keys("NL", 3, 9);
    let nl_signed_by_de = STANDARD.encode(
        herald_wire::cms::sign_detached(
            &efgs::batch_signed_bytes(&nl_keys),
            &world.signer("DE"),
            UnixTime(NOW),
            &mut Rng(3),
        )
        .unwrap(),
    );
    let mut tampered = good.clone();
    tampered[0].transmission_risk =
        TransmissionRisk::Level(herald_model::TransmissionRiskLevel::new(3).unwrap());
    let many: Vec<EfgsKey> = (0..5001u32)
        .map(|i| {
            let mut k = good[0].clone();
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&i.to_le_bytes());
            k.key = TemporaryExposureKey::from_bytes(bytes);
            k
        })
        .collect();
    let mut dup = good.clone();
    dup.push(good[0].clone());
    let dup_sig = sign(world, "DE", &dup);
    let c = |name, client, sig: &str, ct: Option<&'static str>, body: Vec<u8>, status| Case {
        name,
        client,
        tag: format!("bad-{name}"),
        signature: sig.to_owned(),
        content_type: ct,
        body,
        status,
    };
    let p = Some(PROTOBUF);
    let cases = vec![
        c("no-client-certificate", "-", &good_sig, p, good_body.clone(), 403),
        c("untrusted-country", "IT", &good_sig, p, good_body.clone(), 403),
        c("missing-signature", "DE", "", p, good_body.clone(), 400),
        c("no-content-type", "DE", &good_sig, None, good_body.clone(), 415),
        c("text-plain", "DE", &good_sig, Some("text/plain; version=1.0"), good_body.clone(), 415),
        c("no-version", "DE", &good_sig, Some("application/protobuf"), good_body.clone(), 400),
        c(
            "unparsable-version",
            "DE",
            &good_sig,
            Some("application/protobuf; version=1"),
            good_body.clone(),
            400,
        ),
        c(
            "other-version",
            "DE",
            &good_sig,
            Some("application/protobuf; version=1.1"),
            good_body.clone(),
            406,
        ),
        c("malformed-protobuf", "DE", &good_sig, p, vec![0x0a, 0xff, 0xff], 400),
        c(
            "malformed-json",
            "DE",
            &good_sig,
            Some("application/json; version=1.0"),
            b"{\"keys\": [".to_vec(),
            400,
        ),
        c(
            "json-bad-base64",
            "DE",
            &good_sig,
            Some("application/json; version=1.0"),
            br#"{"keys":[{"keyData":"!!"}]}"#.to_vec(),
            400,
        ),
        c("key-15-bytes", "DE", &good_sig, p, with(&|k| k.key_data = vec![1; 15]), 400),
        c("key-empty", "DE", &good_sig, p, with(&|k| k.key_data.clear()), 400),
        c("rolling-period-0", "DE", &good_sig, p, with(&|k| k.rolling_period = 0), 400),
        c("rolling-period-145", "DE", &good_sig, p, with(&|k| k.rolling_period = 145), 400),
        c(
            "rolling-start-too-old",
            "DE",
            &good_sig,
            p,
            with(&|k| k.rolling_start_interval_number = today_enin - 17 * 144),
            400,
        ),
        c(
            "rolling-start-future",
            "DE",
            &good_sig,
            p,
            with(&|k| k.rolling_start_interval_number = today_enin + 2),
            400,
        ),
        c(
            "rolling-start-zero",
            "DE",
            &good_sig,
            p,
            with(&|k| k.rolling_start_interval_number = 0),
            400,
        ),
        c("trl-9", "DE", &good_sig, p, with(&|k| k.transmission_risk_level = 9), 400),
        c("trl-negative", "DE", &good_sig, p, with(&|k| k.transmission_risk_level = -1), 400),
        c("unknown-report-type", "DE", &good_sig, p, with(&|k| k.report_type = 7), 400),
        c(
            "country-with-comma",
            "DE",
            &good_sig,
            p,
            with(&|k| k.visited_countries = vec!["D,E".into()]),
            400,
        ),
        c(
            "country-empty",
            "DE",
            &good_sig,
            p,
            with(&|k| k.visited_countries = vec![String::new()]),
            400,
        ),
        c(
            "dsos-out-of-range",
            "DE",
            &good_sig,
            p,
            with(&|k| k.days_since_onset_of_symptoms = 5000),
            400,
        ),
        c("5001-keys", "DE", &good_sig, p, efgs::encode_protobuf(&many), 413),
        c("oversized-body", "DE", &good_sig, p, vec![0u8; 5 << 20], 413),
        c("signature-not-base64", "DE", "%%%", p, good_body.clone(), 400),
        c("signature-garbage", "DE", &STANDARD.encode(b"not a cms"), p, good_body.clone(), 400),
        c(
            "signature-over-other-keys",
            "DE",
            &sign(world, "DE", &tampered),
            p,
            good_body.clone(),
            400,
        ),
        c("foreign-signer", "DE", &sign(world, "NL", &keys("NL", 3, 9)), p, good_body.clone(), 400),
        c(
            "untrusted-signer",
            "DE",
            &sign(world, "IT", &keys("IT", 3, 9)),
            p,
            efgs::encode_protobuf(&keys("IT", 3, 9)),
            400,
        ),
        c("origin-mismatch", "DE", &nl_signed_by_de, p, efgs::encode_protobuf(&nl_keys), 400),
        c("duplicate-key-in-batch", "DE", &dup_sig, p, efgs::encode_protobuf(&dup), 207),
    ];
    assert!(cases.len() >= 30);
    let before = download(&world.client("NL"), "2026-11-28", None).await;
    for case in &cases {
        let client = match case.client {
            "-" => world.anonymous(),
            c => world.client(c),
        };
        let mut headers =
            vec![("batchTag", case.tag.as_str()), ("batchSignature", case.signature.as_str())];
        if let Some(ct) = case.content_type {
            headers.push(("content-type", ct));
        }
        if case.signature.is_empty() {
            headers.retain(|(n, _)| *n != "batchSignature");
        }
        let answer = client
            .request(Method::POST, "/diagnosiskeys/upload", &headers, case.body.clone())
            .await
            .unwrap();
        assert_eq!(
            answer.status.as_u16(),
            case.status,
            "{}: {}",
            case.name,
            String::from_utf8_lossy(&answer.body)
        );
        if case.status != 207 && case.status != 403 {
            let body: serde_json::Value = serde_json::from_slice(&answer.body)
                .unwrap_or_else(|_| panic!("{}: JSON error body", case.name));
            assert!(body["message"].is_string(), "{}", case.name);
        }
        if case.status == 207 {
            let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
            assert_eq!(body["409"], serde_json::json!([3]), "{}", case.name);
            assert_eq!(body["201"], serde_json::json!([0, 1, 2]), "{}", case.name);
        }
        assert!(
            !world.store.upload_tag_exists(&case.tag.parse().unwrap()).await.unwrap(),
            "{}: storage changed",
            case.name
        );
    }
    // Missing batchTag (no tag to check: nothing new may be downloadable afterwards).
    let answer = world
        .client("DE")
        .request(
            Method::POST,
            "/diagnosiskeys/upload",
            &[("batchSignature", good_sig.as_str()), ("content-type", PROTOBUF)],
            good_body.clone(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 400);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let after = download(&world.client("NL"), "2026-11-28", None).await;
    assert_eq!((before.status, before.body.clone()), (after.status, after.body));
}

/// Download and audit refusals.
pub(crate) async fn check_bad_downloads(world: &World) {
    let nl = world.client("NL");
    for (path, accept, tag, status) in [
        ("/diagnosiskeys/download/2026-11-25", Some(PROTOBUF), None, 410),
        ("/diagnosiskeys/download/2026-13-01", Some(PROTOBUF), None, 400),
        ("/diagnosiskeys/download/28.11.2026", Some(PROTOBUF), None, 400),
        ("/diagnosiskeys/download/2026-11-28", Some(PROTOBUF), Some("20261128-999"), 404),
        ("/diagnosiskeys/download/2026-11-28", None, None, 415),
        (
            "/diagnosiskeys/download/2026-11-28",
            Some("application/protobuf; version=2.0"),
            None,
            415,
        ),
        ("/diagnosiskeys/download/2026-11-28", Some("text/html"), None, 406),
        (
            "/diagnosiskeys/audit/download/2026-11-28/20261128-999",
            Some("application/json"),
            None,
            404,
        ),
        (
            "/diagnosiskeys/audit/download/2026-11-25/20261128-1",
            Some("application/json"),
            None,
            410,
        ),
    ] {
        let mut headers = vec![];
        if let Some(a) = accept {
            headers.push(("accept", a));
        }
        if let Some(t) = tag {
            headers.push(("batchTag", t));
        }
        let answer = nl.request(Method::GET, path, &headers, vec![]).await.unwrap();
        assert_eq!(
            answer.status.as_u16(),
            status,
            "{path} {accept:?} {tag:?}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    let anonymous = world
        .anonymous()
        .request(Method::GET, "/diagnosiskeys/download/2026-11-28", &[("accept", PROTOBUF)], vec![])
        .await
        .unwrap();
    assert_eq!(anonymous.status, 403);
    let untrusted = world
        .client("IT")
        .request(Method::GET, "/diagnosiskeys/download/2026-11-28", &[("accept", PROTOBUF)], vec![])
        .await
        .unwrap();
    assert_eq!(untrusted.status, 403);
}

/// A client certificate the operator revoked (its entry re-signed with `revoked`) is refused;
/// the operator restoring it lets the client in again.
pub(crate) async fn check_revocation(world: &World) {
    let de = &world.pki.countries.iter().find(|c| c.country.as_str() == "DE").unwrap().auth;
    world.operator_sets_revoked(&de.thumbprint(), true).await;
    let answer = download(&world.client("DE"), "2026-11-28", None).await;
    assert_eq!(answer.status, 403);
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["message"], "Client certificate is revoked");
    world.operator_sets_revoked(&de.thumbprint(), false).await;
    assert_ne!(download(&world.client("DE"), "2026-11-28", None).await.status, 403);
}

#[tokio::test]
async fn bad_inputs_on_sqlite() {
    let world = World::start(None).await;
    check_round_trip(&world).await;
    check_bad_uploads(&world).await;
    check_bad_downloads(&world).await;
    check_revocation(&world).await;
    world.stop().await;
}

#[tokio::test]
async fn bad_inputs_on_postgres() {
    let Some(db) = crate::store::Backend::Postgres.fresh().await else { return };
    let world = World::start(Some(db.url.clone())).await;
    check_round_trip(&world).await;
    check_bad_uploads(&world).await;
    check_bad_downloads(&world).await;
    check_revocation(&world).await;
    world.stop().await;
    drop(db);
}

/// Scale-out: two gateway processes on one PostgreSQL act as one. Uploads through either are
/// downloadable through both, every upload lands in exactly one download batch, and the
/// batching job (run by both, under a lease) forms one chain of unique tags.
#[tokio::test]
async fn two_gateways_on_one_postgres_act_as_one() {
    let Some(db) = crate::store::Backend::Postgres.fresh().await else { return };
    let mut world = World::start(Some(db.url.clone())).await;
    let second = world.another_gateway().await;
    let urls = [world.url.clone(), second.clone()];
    let mut uploads = Vec::new();
    for i in 0..12u8 {
        let origin = if i % 2 == 0 { "DE" } else { "FR" };
        let batch = keys(origin, 10, 40 + i);
        let signature = sign(&world, origin, &batch);
        let client = world.client_at(&urls[usize::from(i % 2)], origin);
        let tag = format!("{origin}-scale-{i}");
        uploads.push(tokio::spawn(async move {
            upload(&client, &tag, &signature, efgs::encode_protobuf(&batch), PROTOBUF).await.status
        }));
    }
    for u in uploads {
        assert_eq!(u.await.unwrap(), 201);
    }
    // Both gateways serve the same chain, with every NL-visible key exactly once.
    let mut chains = Vec::new();
    for url in &urls {
        let nl = world.client_at(url, "NL");
        let mut all = Vec::new();
        let mut tags = Vec::new();
        download_when_batched(&nl, "2026-11-28").await;
        // Give the jobs time to batch everything, then walk the chain from its start.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let mut answer = download(&nl, "2026-11-28", None).await;
        loop {
            assert_eq!(answer.status, 200);
            tags.push(answer.header("batchTag").unwrap().to_owned());
            all.extend(efgs::decode_protobuf(&answer.body).unwrap());
            match answer.header("nextBatchTag") {
                Some("null") | None => break,
                Some(next) => answer = download(&nl, "2026-11-28", Some(next)).await,
            }
        }
        let mut unique = tags.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), tags.len(), "download tags are unique: {tags:?}");
        let mut hashes: Vec<[u8; 32]> = all.iter().map(EfgsKey::payload_hash).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), 120, "every uploaded key exactly once");
        assert_eq!(all.len(), 120);
        chains.push(tags);
    }
    assert_eq!(chains[0], chains[1], "both gateways serve the same chain");
    world.stop().await;
    drop(db);
}

/// A plain-HTTP request, as a TLS-terminating proxy would forward it: status and body.
pub(crate) async fn plain_get(url: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use http_body_util::BodyExt as _;
    use http_body_util::Full;
    let addr = url.trim_start_matches("http://");
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let mut request = hyper::Request::builder().uri(path).header("host", addr);
    for (n, v) in headers {
        request = request.header(*n, *v);
    }
    let response = sender
        .send_request(request.body(Full::new(axum::body::Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Behind a proxy: the identity headers count only from the configured proxy addresses.
#[tokio::test]
async fn proxy_mode_believes_only_the_proxy() {
    let world = World::start(None).await;
    let de = &world.pki.countries.iter().find(|c| c.country.as_str() == "DE").unwrap().auth;
    let it = &world.pki.countries.iter().find(|c| c.country.as_str() == "IT").unwrap().auth;
    let config_for = |trusted: &str| {
        let toml = format!(
            "listen = \"127.0.0.1:0\"\ndatabase = {:?}\nanchor_certificate = {:?}\nat_rest_key_file = {:?}\n[auth]\nmode = \"proxy\"\ntrusted_proxies = [{trusted:?}]\n",
            world.config.database,
            world.config.anchor_certificate.display().to_string(),
            world.config.at_rest.key_file.as_ref().unwrap().display().to_string(),
        );
        GatewayConfig::from_toml(&toml, std::iter::empty()).unwrap()
    };
    let Launched { url, stop, task, .. } =
        launch(&config_for("127.0.0.1"), world.clock.clone()).await;
    let url = url.replace("https://", "http://");
    let de_hash = de.thumbprint().to_hex();
    let it_hash = it.thumbprint().to_hex();
    let path = "/diagnosiskeys/download/2026-11-28";
    let accept = ("accept", PROTOBUF);
    for (headers, status) in [
        (
            vec![
                accept,
                ("X-SSL-Client-SHA256", de_hash.as_str()),
                ("X-SSL-Client-DN", "CN=herald DE,C=DE"),
            ],
            404,
        ),
        (vec![accept, ("X-SSL-Client-SHA256", it_hash.as_str()), ("X-SSL-Client-DN", "C=IT")], 403),
        (
            vec![
                accept,
                ("X-SSL-Client-SHA256", de_hash.as_str()),
                ("X-SSL-Client-DN", "CN=herald DE,C=NL"),
            ],
            403,
        ),
        (
            vec![
                accept,
                ("X-SSL-Client-SHA256", de_hash.as_str()),
                ("X-SSL-Client-DN", "CN=herald DE"),
            ],
            400,
        ),
        (vec![accept, ("X-SSL-Client-SHA256", "not-a-hash"), ("X-SSL-Client-DN", "C=DE")], 403),
        (vec![accept], 403),
    ] {
        assert_eq!(plain_get(&url, path, &headers).await.0, status, "{headers:?}");
    }
    let _ = stop.send(());
    task.await.unwrap();
    // The same headers from an address that is not the proxy: refused.
    let Launched { url, stop, task, .. } =
        launch(&config_for("127.0.0.2"), world.clock.clone()).await;
    let url = url.replace("https://", "http://");
    let headers = [accept, ("X-SSL-Client-SHA256", de_hash.as_str()), ("X-SSL-Client-DN", "C=DE")];
    assert_eq!(plain_get(&url, path, &headers).await.0, 403);
    let _ = stop.send(());
    task.await.unwrap();
    world.stop().await;
}

/// nginx's `$ssl_client_escaped_cert`: every byte but letters, digits and `-` percent-encoded.
fn escape_pem(pem: &str) -> String {
    pem.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A self-signed certificate with the given subject and validity, PEM.
fn certificate(country: Option<&str>, from: (i32, u8, u8), until: (i32, u8, u8)) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    if let Some(c) = country {
        dn.push(rcgen::DnType::CountryName, c);
    }
    dn.push(rcgen::DnType::CommonName, "proxy header test");
    params.distinguished_name = dn;
    params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    params.not_after = rcgen::date_time_ymd(until.0, until.1, until.2);
    params.self_signed(&key).unwrap().pem()
}

const OK: (u16, &str) = (404, "Could not find any batches for given date");
const UNAUTHORIZED: (u16, &str) = (403, "Client is not authorized to access the service");
const INVALID: (u16, &str) = (403, "Client certificate is not valid");
const MISMATCH: (u16, &str) = (403, "Client certificate headers do not agree");
const NO_COUNTRY: (u16, &str) = (400, "Client Certificate must contain country property");

/// One request through the proxy: name, trusted proxy address, `[auth]` lines, headers, and the
/// expected status and message.
type ProxyCase<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, &'a str)>, (u16, &'a str));

/// Behind a proxy that forwards the whole client certificate (EFGS PR #274): URL-encoded PEM or
/// Base64 DER, checked by the gateway itself, cross-checked with the thumbprint and DN headers
/// when those come too, and believed only from the proxy's address.
#[tokio::test]
async fn proxy_mode_accepts_the_whole_certificate() {
    let world = World::start(None).await;
    let auth =
        |c: &str| &world.pki.countries.iter().find(|x| x.country.as_str() == c).unwrap().auth;
    let (de, nl, it) = (auth("DE"), auth("NL"), auth("IT"));
    let config_for = |trusted: &str, auth_extra: &str| {
        let toml = format!(
            "listen = \"127.0.0.1:0\"\ndatabase = {:?}\nanchor_certificate = {:?}\nat_rest_key_file = {:?}\n[auth]\nmode = \"proxy\"\ntrusted_proxies = [{trusted:?}]\n{auth_extra}\n",
            world.config.database,
            world.config.anchor_certificate.display().to_string(),
            world.config.at_rest.key_file.as_ref().unwrap().display().to_string(),
        );
        GatewayConfig::from_toml(&toml, std::iter::empty()).unwrap()
    };
    let der_b64 =
        |pem: &str| STANDARD.encode(herald_trust::Cert::from_pem(pem.as_bytes()).unwrap().der());
    let de_pem = escape_pem(de.cert_pem());
    let de_one_line = de.cert_pem().replace('\n', " ");
    let de_der = der_b64(de.cert_pem());
    let de_hash = de.thumbprint().to_hex();
    let de_hash_b64 = STANDARD.encode(de.thumbprint().0);
    let nl_hash = nl.thumbprint().to_hex();
    let it_pem = escape_pem(it.cert_pem());
    let expired = escape_pem(&certificate(Some("DE"), (2020, 1, 1), (2021, 1, 1)));
    let not_yet = escape_pem(&certificate(Some("DE"), (2030, 1, 1), (2031, 1, 1)));
    let no_country = escape_pem(&certificate(None, (2020, 1, 1), (2030, 1, 1)));
    let cert = "X-SSL-Client-Cert";
    let sha = "X-SSL-Client-SHA256";
    let dn = "X-SSL-Client-DN";
    // (name, trusted proxy, [auth] extra, headers, expected status and message)
    let cases: Vec<ProxyCase> = vec![
        ("escaped pem", "127.0.0.1", "", vec![(cert, &de_pem)], OK),
        ("plain pem on one line", "127.0.0.1", "", vec![(cert, &de_one_line)], OK),
        ("base64 der", "127.0.0.1", "", vec![(cert, &de_der)], OK),
        (
            "with agreeing hash and dn",
            "127.0.0.1",
            "",
            vec![(cert, &de_pem), (sha, &de_hash), (dn, "CN=x,C=DE")],
            OK,
        ),
        (
            "with agreeing base64 hash",
            "127.0.0.1",
            "",
            vec![(cert, &de_der), (sha, &de_hash_b64)],
            OK,
        ),
        (
            "with another certificate's hash",
            "127.0.0.1",
            "",
            vec![(cert, &de_pem), (sha, &nl_hash)],
            MISMATCH,
        ),
        (
            "with an unreadable hash",
            "127.0.0.1",
            "",
            vec![(cert, &de_pem), (sha, "not-a-hash")],
            MISMATCH,
        ),
        (
            "with another country's dn",
            "127.0.0.1",
            "",
            vec![(cert, &de_pem), (sha, &de_hash), (dn, "CN=x,C=NL")],
            MISMATCH,
        ),
        ("with a dn without c", "127.0.0.1", "", vec![(cert, &de_pem), (dn, "CN=x")], MISMATCH),
        ("untrusted certificate", "127.0.0.1", "", vec![(cert, &it_pem)], UNAUTHORIZED),
        ("garbage", "127.0.0.1", "", vec![(cert, "not a certificate")], INVALID),
        ("truncated pem", "127.0.0.1", "", vec![(cert, &de_pem[..de_pem.len() / 2])], INVALID),
        ("expired", "127.0.0.1", "", vec![(cert, &expired)], INVALID),
        ("not yet valid", "127.0.0.1", "", vec![(cert, &not_yet)], INVALID),
        ("no country in the subject", "127.0.0.1", "", vec![(cert, &no_country)], NO_COUNTRY),
        (
            "from an address that is not the proxy",
            "127.0.0.2",
            "",
            vec![(cert, &de_pem)],
            UNAUTHORIZED,
        ),
        (
            "turned off",
            "127.0.0.1",
            "certificate_header = \"\"",
            vec![(cert, &de_pem)],
            UNAUTHORIZED,
        ),
        (
            "turned off, hash and dn still work",
            "127.0.0.1",
            "certificate_header = \"\"",
            vec![(cert, &it_pem), (sha, &de_hash), (dn, "C=DE")],
            OK,
        ),
        (
            "renamed",
            "127.0.0.1",
            "certificate_header = \"X-Client-Cert\"",
            vec![("X-Client-Cert", &de_pem)],
            OK,
        ),
        (
            "renamed, the default name is ignored",
            "127.0.0.1",
            "certificate_header = \"X-Client-Cert\"",
            vec![(cert, &de_pem)],
            UNAUTHORIZED,
        ),
    ];
    let path = "/diagnosiskeys/download/2026-11-28";
    let mut gateways: Vec<(String, String, Launched)> = Vec::new();
    for (name, trusted, extra, headers, (status, message)) in cases {
        let known = gateways.iter().position(|(t, e, _)| t == trusted && e == extra);
        let index = if let Some(i) = known {
            i
        } else {
            let launched = launch(&config_for(trusted, extra), world.clock.clone()).await;
            gateways.push((trusted.to_owned(), extra.to_owned(), launched));
            gateways.len() - 1
        };
        let url = gateways[index].2.url.replace("https://", "http://");
        let mut all = vec![("accept", PROTOBUF)];
        all.extend(headers);
        let (got, body) = plain_get(&url, path, &all).await;
        assert_eq!(got, status, "{name}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(body["message"], message, "{name}");
    }
    for (_, _, launched) in gateways {
        let _ = launched.stop.send(());
        launched.task.await.unwrap();
    }
    world.stop().await;
}
