//! A dev world in a temporary folder: the PKI, a gateway and key servers on 127.0.0.1 over real
//! mTLS, all on one manual clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use herald_gateway::store::{Store as GatewayStore, TrustRow};
use herald_gateway::{Gateway, GatewayConfig};
use herald_keyserver::Keyserver;
use herald_keyserver::config::{KeyserverConfig, StaticKey};
use herald_model::{Clock, CountryCode, ManualClock, UnixTime};
use herald_service::random::Randomness;
use herald_trust::{DevValidity, TrustAnchor, TrustKind, generate_dev_pki, layout};

/// A running service and how to stop it.
pub(crate) struct Running {
    pub(crate) url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
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
}

pub(crate) struct World {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) gateway: Option<Running>,
}

pub(crate) fn system_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
    )
    .unwrap()
}

impl World {
    /// The PKI for `countries` and a clock at `now`.
    pub(crate) fn new(countries: &[&str], now: i64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let codes: Vec<CountryCode> = countries.iter().map(|c| c.parse().unwrap()).collect();
        // Valid for the real clock (TLS) and for the manual clock (the gateway checks signers with it).
        let pki = generate_dev_pki(
            &codes,
            &DevValidity::around(UnixTime(system_now().min(now) - 86_400)).unwrap(),
        )
        .unwrap();
        for f in pki.files() {
            let path = dir.path().join(&f.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, f.contents).unwrap();
        }
        World { dir, clock: Arc::new(ManualClock::new(UnixTime(now))), gateway: None }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// A gateway trusting every country of the PKI, batching within a second; writes
    /// DIR/gateway/url.
    pub(crate) async fn start_gateway(&mut self, countries: &[&str]) {
        let dir = self.path().to_owned();
        let database = format!("sqlite:{}", dir.join("gateway").join("gateway.db").display());
        let store = GatewayStore::open(&database).await.unwrap();
        let anchor = TrustAnchor::from_pkcs8_pem(
            &std::fs::read_to_string(dir.join(layout::anchor_key())).unwrap(),
        )
        .unwrap();
        for cc in countries {
            let country: CountryCode = cc.parse().unwrap();
            for (path, kind) in [
                (layout::auth_cert(country), TrustKind::Authentication),
                (layout::signing_cert(country), TrustKind::Signing),
                (layout::server_cert(country), TrustKind::Callback),
            ] {
                let pem = std::fs::read_to_string(dir.join(path)).unwrap();
                let e = anchor.sign_entry(country, kind, &pem, None).unwrap();
                store.put_trust_entry(&TrustRow::from_entry(&e, self.clock.now())).await.unwrap();
            }
        }
        store.close().await;
        // The gateway seals stored keys at rest: a fixed test key.
        let at_rest_key = dir.join("gateway").join("at-rest.key");
        std::fs::write(&at_rest_key, "ab".repeat(32)).unwrap();
        let toml = format!(
            "listen = \"127.0.0.1:0\"\ndatabase = {database:?}\nanchor_certificate = {anchor:?}\nat_rest_key_file = {at_rest:?}\nbatching_interval_seconds = 1\nallow_private_callback_hosts = true\ncallback_client_certificate = {cert:?}\ncallback_client_key = {key:?}\n[tls]\ncertificate = {cert:?}\nkey = {key:?}\n",
            anchor = dir.join(layout::anchor_cert()).display().to_string(),
            at_rest = at_rest_key.display().to_string(),
            cert = dir.join(layout::gateway_cert()).display().to_string(),
            key = dir.join(layout::gateway_key()).display().to_string(),
        );
        let config = GatewayConfig::from_toml(&toml, std::iter::empty()).unwrap();
        let gateway = Gateway::build(&config, self.clock()).await.unwrap();
        let url = format!("https://{}", gateway.local_addr().unwrap());
        std::fs::write(dir.join("gateway").join("url"), &url).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(gateway.run_until_stopped(async move {
            let _ = rx.await;
        }));
        self.gateway = Some(Running { url, stop: Some(tx), task: Some(task) });
    }

    /// A key server's dev configuration for `country`, accepting certificates signed by the
    /// test issuer key (`kid` "test") instead of a verifier's JWKS, with slow background jobs
    /// (tests run them by hand) and no callback subscription (tests that want one set
    /// `federation.callback_listen`).
    pub(crate) fn keyserver_config(
        &self,
        country: &str,
        issuer_public_pem: &str,
    ) -> KeyserverConfig {
        let cc: CountryCode = country.parse().unwrap();
        let mut config = herald_keyserver::dev::prepare(self.path(), cc, None).unwrap();
        let pem_path: PathBuf = self.path().join(country).join("issuer.pub.pem");
        std::fs::write(&pem_path, issuer_public_pem).unwrap();
        for issuer in &mut config.publish.issuers {
            issuer.jwks_url_file = None;
            issuer.public_keys = vec![StaticKey { kid: "test".into(), pem: pem_path.clone() }];
        }
        config.export.interval_seconds = 3600;
        if let Some(f) = &mut config.federation {
            f.upload_interval_seconds = 3600;
            f.download_interval_seconds = 3600;
            f.callback_listen = None;
        }
        config
    }

    /// Keeps the key server of `config` from running its background jobs (export, federation,
    /// retention): the test holds their leases, so only the test's own runs happen and nothing
    /// races them.
    pub(crate) async fn hold_jobs(&self, config: &KeyserverConfig) {
        let store = herald_keyserver::store::Store::open(&config.database).await.unwrap();
        let now = self.clock.now().seconds();
        for job in herald_keyserver::app::JOBS {
            assert!(store.try_lease(job, "the test", now, 60 * 86_400).await.unwrap());
        }
        store.close().await;
    }

    /// Starts a key server; returns it running plus handles to its jobs.
    pub(crate) async fn start_keyserver(
        &self,
        config: &KeyserverConfig,
    ) -> (
        Running,
        Arc<herald_keyserver::export::Exporter>,
        Arc<herald_keyserver::federation::Federation>,
    ) {
        let keyserver = Keyserver::build(config, self.clock(), Randomness::os()).await.unwrap();
        let url = format!("https://{}", keyserver.local_addr().unwrap());
        let exporter = keyserver.exporter();
        let federation = keyserver.federation().expect("federation configured");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(keyserver.run_until_stopped(async move {
            let _ = rx.await;
        }));
        (Running { url, stop: Some(tx), task: Some(task) }, exporter, federation)
    }
}
