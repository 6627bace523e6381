//! Putting the verification service together from a [`VerifierConfig`]: secrets, keys,
//! storage and the API on one listener, plus the retention job.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderName;
use herald_model::Clock;
use herald_runtime::jobs::every;
use herald_runtime::metrics::JobOutcome;
use herald_runtime::start::{invalid, read};
use herald_service::random::Randomness;
use tokio::net::TcpListener;

use crate::api::{EdgeSettings, router};
use crate::config::{KeyFile, VerifierConfig};
use crate::keys::{KeyRing, RingKey};
use crate::secret::Secrets;
use crate::service::{FlowSettings, Service};
use crate::store::{ApiKeyKind, Store, StoreError};

/// Why the service could not start: a setting or a file it names, a listener, or the
/// database.
pub type StartError = herald_runtime::start::StartError<StoreError>;

fn ring(what: &str, files: &[KeyFile]) -> Result<KeyRing, StartError> {
    use p256::pkcs8::DecodePrivateKey as _;
    let mut keys = Vec::new();
    for f in files {
        let key = p256::ecdsa::SigningKey::from_pkcs8_pem(&read(&f.key)?).map_err(|e| {
            invalid(
                &format!("{what}.key"),
                format!("{}: not a P-256 PKCS#8 PEM key: {e}", f.key.display()),
            )
        })?;
        keys.push(RingKey {
            kid: f.kid.clone(),
            key,
            signing_from: f.signing_from,
            published_until: f.published_until,
        });
    }
    KeyRing::new(keys).map_err(|e| invalid(&format!("{what}.key"), e))
}

/// A verification service, bound and ready to serve.
pub struct Verifier {
    listener: TcpListener,
    internal: Option<TcpListener>,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    service: Arc<Service>,
    retention: i64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("listener", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Loads secrets and keys, opens the store, binds the listener.
    /// Codes, token ids and signatures draw on `random` ([`Randomness::os`] in production).
    pub async fn build(
        config: &VerifierConfig,
        clock: Arc<dyn Clock>,
        random: Randomness,
    ) -> Result<Self, StartError> {
        config.validate()?;
        let tls = herald_runtime::start::server_tls(config.tls.as_ref())?;
        let mut hex = Vec::new();
        for f in &config.hmac_key_files {
            hex.push(read(f)?);
        }
        let secrets = Secrets::from_hex(&hex).map_err(|e| invalid("hmac_key_files", e))?;
        let tokens = ring("token", &config.token.keys)?;
        let certificates = ring("certificate", &config.certificate.keys)?;
        let store = Store::open(&config.database).await.map_err(StartError::open)?;
        let settings = FlowSettings {
            codes: config.codes.clone(),
            allowed_test_types: config.allowed_test_types(),
            token_issuer: config.token.issuer.clone(),
            token_lifetime: config.token.lifetime_seconds,
            certificate_issuer: config.certificate.issuer.clone(),
            certificate_audience: config.certificate.audience.clone(),
            certificate_lifetime: config.certificate.lifetime_seconds,
            client_failure_limit: config.api.verify_client_failure_limit,
            failure_limit: config.api.verify_failure_limit,
            failure_window: config.api.verify_failure_window_seconds,
        };
        let service = Arc::new(
            Service::new(store, secrets, tokens, certificates, settings, clock)
                .with_randomness(random),
        );
        let mut router = router(
            service.clone(),
            EdgeSettings {
                response_size: config.api.response_size,
                chaff_max_latency: Duration::from_millis(config.api.chaff_max_latency_ms),
                client_address_header: config
                    .client_address_header
                    .as_deref()
                    .and_then(|name| HeaderName::from_bytes(name.as_bytes()).ok()),
            },
        );
        if config.portal.enabled {
            if config.tls.is_none() && config.client_address_header.is_none() {
                tracing::warn!(
                    "no [tls] (behind a proxy?) and no client_address_header: every portal client \
                     shares the proxy's address and its budget of failed logins"
                );
            }
            let client_header = config
                .client_address_header
                .as_deref()
                .and_then(|name| HeaderName::from_bytes(name.as_bytes()).ok());
            router = router.merge(crate::portal::router(
                service.clone(),
                config.portal.clone(),
                &config.country,
                client_header,
            ));
        }
        let router = router.layer(axum::middleware::from_fn_with_state(
            service.metrics().clone(),
            herald_runtime::metrics::track_requests,
        ));
        let listener = herald_runtime::server::bind(config.listen).await?;
        let internal = herald_runtime::server::bind_optional(config.internal_listen).await?;
        Ok(Self {
            listener,
            internal,
            tls,
            router,
            service,
            retention: config.api.retention_hours * 3600,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The internal listener's bound address, when it is on.
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        self.internal.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Whether it speaks TLS.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The flow (tests, CLI).
    pub fn service(&self) -> Arc<Service> {
        self.service.clone()
    }

    /// Stores an API key (hashed); returns whether it was new.
    pub async fn register_api_key(
        &self,
        name: &str,
        kind: ApiKeyKind,
        key: &str,
    ) -> Result<bool, StoreError> {
        self.service.register_api_key(name, kind, key).await
    }

    /// Serves (the public and, when configured, the internal listener), and purges expired
    /// rows hourly, until `shutdown` resolves.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut jobs = tokio::task::JoinSet::new();
        let registry = self.service.metrics().clone();
        let service = self.service.clone();
        let retention = self.retention;
        jobs.spawn(every(
            JOB_PURGE,
            registry.clone(),
            Duration::from_hours(1),
            None,
            stop_rx.clone(),
            move || {
                let service = service.clone();
                async move {
                    let now = service.now();
                    let outcome = match service.store().purge(now - retention, now).await {
                        Ok((0, 0)) => JobOutcome::Ok,
                        Ok((codes, tokens)) => {
                            tracing::info!(codes, tokens, "retention purge");
                            JobOutcome::Ok
                        }
                        Err(error) => {
                            tracing::warn!(%error, "retention purge failed");
                            JobOutcome::Failed
                        }
                    };
                    service.metrics().job_run(JOB_PURGE, outcome);
                }
            },
        ));
        if let Some(listener) = self.internal {
            let probe = crate::internal::VerifierProbe { store: self.service.store().clone() };
            jobs.spawn(herald_runtime::internal::serve(
                listener,
                Arc::new(probe),
                registry,
                crate::internal::OPENAPI,
                stop_rx.clone(),
            ));
        }
        herald_runtime::serve(self.listener, self.tls, self.router, shutdown).await;
        let _ = stop_tx.send(true);
        while jobs.join_next().await.is_some() {}
        self.service.store().close().await;
    }
}

/// The retention job's name in metrics and `/health`.
pub const JOB_PURGE: &str = "purge";
