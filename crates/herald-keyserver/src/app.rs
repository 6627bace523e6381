//! Putting the key server together from a [`KeyserverConfig`]: storage, the publish API, the
//! export job, the federation client and retention, on one listener.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use herald_model::Clock;
use herald_runtime::Registry;
use herald_runtime::jobs::{Lease, every};
pub(crate) use herald_runtime::start::{invalid, read};
use herald_service::random::Randomness;
use herald_trust::AnchorCertificate;
use herald_wire::cms::SigningIdentity;
use herald_wire::export::{FileSigner, SignatureInfo};
use tokio::net::TcpListener;

use crate::config::KeyserverConfig;
use crate::export::{Blobs, ExportKey, ExportSettings, Exporter};
use crate::federation::{Federation, FederationSettings};
use crate::publish::{Issuers, PublishService, RevisionKeys};
use crate::store::Store;

/// Why the key server could not start: a setting or a file it names, a listener, or
/// [`OpenError`].
pub type StartError = herald_runtime::start::StartError<OpenError>;

/// What the key server opens itself at start and could not.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The export object store could not be opened.
    #[error(transparent)]
    Blob(#[from] crate::export::BlobError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A key server, bound and ready to serve.
pub struct Keyserver {
    listener: TcpListener,
    internal: Option<TcpListener>,
    registry: Arc<Registry>,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    store: Store,
    exporter: Arc<Exporter>,
    federation: Option<Arc<Federation>>,
    issuers: Arc<Issuers>,
    export_interval: Duration,
    upload_interval: Duration,
    download_interval: Duration,
    retention_days: i64,
    clock: Arc<dyn Clock>,
    holder: String,
    callback: Option<CallbackListener>,
    wake_download: Arc<tokio::sync::Notify>,
    lease_ttl: i64,
}

/// The gateway-callback listener and the subscription it stands for.
struct CallbackListener {
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    id: String,
    url: String,
}

/// The SHA-256 of every certificate in a PEM file (the gateway's callback client certificates).
fn pinned_certificates(path: &Path) -> Result<Vec<herald_model::CertThumbprint>, StartError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let pem = read(path)?;
    let invalid = |e: &dyn std::fmt::Display| {
        invalid("federation.gateway_callback_certificate", format!("{}: {e}", path.display()))
    };
    let pinned: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.map(|der| herald_trust::thumbprint(&der)))
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(&e))?;
    if pinned.is_empty() {
        return Err(invalid(&"no certificate in the file"));
    }
    Ok(pinned)
}

impl std::fmt::Debug for Keyserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyserver")
            .field("listener", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

/// How long [`Keyserver::build`] waits for the first read of the verification services' JWKS.
const JWKS_AT_START: Duration = Duration::from_secs(5);

/// The background jobs' lease names. A holder of all four (the demo, hand-driven tests) keeps
/// every key server on the store from running them.
pub const JOB_EXPORT: &str = "export";
/// See [`JOB_EXPORT`].
pub const JOB_FEDERATION_UPLOAD: &str = "federation-upload";
/// See [`JOB_EXPORT`].
pub const JOB_FEDERATION_DOWNLOAD: &str = "federation-download";
/// See [`JOB_EXPORT`].
pub const JOB_RETENTION: &str = "retention";
/// The loop that refreshes verifiers' JWKS (no lease: every process keeps its own keys).
pub const JOB_JWKS_REFRESH: &str = "jwks-refresh";
/// Every background job under a lease.
pub const JOBS: [&str; 4] =
    [JOB_EXPORT, JOB_FEDERATION_UPLOAD, JOB_FEDERATION_DOWNLOAD, JOB_RETENTION];

impl Keyserver {
    /// Opens the store and the object store, loads keys and certificates, binds the listener.
    #[allow(clippy::too_many_lines)] // one linear assembly of the parts
    /// Export padding, fake keys and federation batches draw on `random` ([`Randomness::os`]
    /// in production).
    pub async fn build(
        config: &KeyserverConfig,
        clock: Arc<dyn Clock>,
        random: Randomness,
    ) -> Result<Self, StartError> {
        let country = herald_service::config::country(&config.country)?;
        // No client certificates: apps publish here.
        let tls = herald_runtime::start::server_tls(config.tls.as_ref())?;
        let mut keys = Vec::new();
        for k in &config.export.signing_keys {
            let unusable = |e: &dyn std::fmt::Display| {
                invalid("export.signing_key", format!("{}: {e}", k.key.display()))
            };
            let info =
                SignatureInfo::ecdsa_p256(&k.key_id, &k.key_version).map_err(|e| unusable(&e))?;
            let signer =
                FileSigner::from_pkcs8_pem(&read(&k.key)?, info).map_err(|e| unusable(&e))?;
            keys.push(ExportKey { signer, until: k.until });
        }
        let blobs = match (&config.export.directory, &config.export.s3_bucket) {
            (Some(dir), _) => Blobs::directory(dir).map_err(StartError::open)?,
            (None, Some(bucket)) => Blobs::s3(
                bucket,
                config.export.s3_endpoint.as_deref(),
                config.export.s3_region.as_deref(),
            )
            .map_err(StartError::open)?,
            (None, None) => {
                return Err(invalid("export", "needs a directory or an S3 bucket"));
            }
        };
        let store = Store::open(&config.database).await.map_err(StartError::open)?;
        let federation = match &config.federation {
            Some(f) => {
                let client = herald_runtime::HttpsClient::new(
                    &f.gateway_url,
                    &read(&f.gateway_ca)?,
                    Some((&read(&f.client_certificate)?, &read(&f.client_key)?)),
                )
                .map_err(|e| invalid("federation", e))?;
                let identity = SigningIdentity::from_pem(
                    &read(&f.signing_certificate)?,
                    &read(&f.signing_key)?,
                )
                .map_err(|e| invalid("federation.signing_certificate", e))?;
                if identity.certificate().subject_country() != Some(country) {
                    return Err(invalid(
                        "federation.signing_certificate",
                        format!("must be of country {country}"),
                    ));
                }
                let anchor = match &f.trust_anchor {
                    Some(path) => Some(AnchorCertificate::from_pem(&read(path)?).map_err(|e| {
                        invalid("federation.trust_anchor", format!("{}: {e}", path.display()))
                    })?),
                    None => None,
                };
                Some(Arc::new(
                    Federation::new(
                        store.clone(),
                        client,
                        identity,
                        country,
                        anchor,
                        clock.clone(),
                        FederationSettings {
                            audit: f.audit,
                            batch_min_keys: f.batch_min_keys,
                            batch_max_keys: f.batch_max_keys,
                            download_days: f.download_days,
                            retention_days: config.retention_days,
                            release_with: if config.export.federate_after_padding {
                                let padding = config.export.configs.iter();
                                padding
                                    .filter(|c| c.min_records > 0)
                                    .map(|c| c.name.clone())
                                    .collect()
                            } else {
                                Vec::new()
                            },
                        },
                    )
                    .with_randomness(random.clone()),
                ))
            }
            None => None,
        };
        let exporter = Arc::new(
            Exporter::new(
                store.clone(),
                blobs,
                keys,
                clock.clone(),
                ExportSettings {
                    configs: config.export.configs.clone(),
                    country,
                    min_window_age: config.export.min_window_age_seconds,
                    retention_days: config.retention_days,
                    federate_fakes: federation.is_some(),
                },
            )
            .with_randomness(random.clone()),
        );
        let issuers = Arc::new(Issuers::from_config(&config.publish.issuers)?);
        // The verification services' keys before the first request rather than just after it
        // (the refresh job reads them again at once): a restarted key server would otherwise
        // refuse valid certificates until its first refresh ends. Bounded: an unreachable
        // verifier must not keep the key server from starting.
        let _ = tokio::time::timeout(JWKS_AT_START, issuers.refresh()).await;
        let revision = RevisionKeys::from_files(&config.publish.revision_token_keys)?;
        let publish = PublishService::new(
            store.clone(),
            &config.publish,
            issuers.clone(),
            revision,
            clock.clone(),
            country,
            federation.is_some(),
        );
        let registry = crate::internal::registry();
        let router = crate::api::router(
            publish,
            store.clone(),
            config.export.directory.clone().filter(|_| config.serve_exports),
        )
        .layer(axum::middleware::from_fn_with_state(
            registry.clone(),
            herald_runtime::metrics::track_requests,
        ));
        let listener = herald_runtime::server::bind(config.listen).await?;
        let internal = herald_runtime::server::bind_optional(config.internal_listen).await?;
        let holder =
            format!("{}-{}", std::process::id(), listener.local_addr().map_or(0, |a| a.port()));
        let wake_download = Arc::new(tokio::sync::Notify::new());
        // Validation guarantees [tls] and the pinned certificate when callback_listen is set.
        let callback = match (&config.federation, &config.tls) {
            (Some(f), Some(files))
                if let (Some(addr), Some(pinned)) =
                    (f.callback_listen, &f.gateway_callback_certificate) =>
            {
                let pinned = pinned_certificates(pinned)?;
                let tls = herald_runtime::tls::server_config(
                    &read(&files.certificate)?,
                    &read(&files.key)?,
                    herald_runtime::tls::ClientCertificates::PinnedByThumbprint,
                )
                .map_err(|e| invalid("federation.callback_listen", e))?;
                let listener = herald_runtime::server::bind(addr).await?;
                let bound = listener
                    .local_addr()
                    .map_err(|source| herald_runtime::server::BindError { addr, source })?;
                let url = match &f.callback_url {
                    Some(url) => url.clone(),
                    None if bound.ip().is_unspecified() => {
                        return Err(invalid(
                            "federation.callback_listen",
                            format!("{addr} names no single address: set federation.callback_url"),
                        ));
                    }
                    None => {
                        format!("https://{bound}{}", crate::federation::callback::CALLBACK_PATH)
                    }
                };
                Some(CallbackListener {
                    listener,
                    tls,
                    router: crate::federation::callback::router(pinned, wake_download.clone()),
                    id: f.callback_id.clone(),
                    url,
                })
            }
            _ => None,
        };
        let (upload_interval, download_interval) = config
            .federation
            .as_ref()
            .map_or((600, 600), |f| (f.upload_interval_seconds, f.download_interval_seconds));
        Ok(Self {
            listener,
            internal,
            registry,
            tls,
            router,
            store,
            exporter,
            federation,
            issuers,
            export_interval: Duration::from_secs(config.export.interval_seconds),
            upload_interval: Duration::from_secs(upload_interval),
            download_interval: Duration::from_secs(download_interval),
            retention_days: config.retention_days,
            clock,
            holder,
            callback,
            wake_download,
            lease_ttl: config.job_lease_seconds,
        })
    }

    /// The URL subscribed with the gateway for callbacks, when callbacks are received.
    pub fn callback_url(&self) -> Option<&str> {
        self.callback.as_ref().map(|c| c.url.as_str())
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The internal listener's bound address, when it is on.
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        self.internal.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The process's metrics.
    pub fn metrics(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The export job (tests and `herald keyserver export` run it on demand).
    pub fn exporter(&self) -> Arc<Exporter> {
        self.exporter.clone()
    }

    /// The federation client, when configured.
    pub fn federation(&self) -> Option<Arc<Federation>> {
        self.federation.clone()
    }

    /// Serves (the public and, when configured, the internal listener) and runs the jobs until
    /// `shutdown` resolves.
    #[allow(clippy::too_many_lines)] // one job after the other, each a few lines
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut jobs = tokio::task::JoinSet::new();
        let registry = self.registry.clone();
        let lease_for = |name: &'static str| {
            Lease::new(
                self.store.clone(),
                &self.holder,
                self.clock.clone(),
                self.lease_ttl,
                name,
                registry.clone(),
            )
        };
        {
            let exporter = self.exporter.clone();
            let lease = lease_for(JOB_EXPORT);
            let registry = registry.clone();
            jobs.spawn(every(
                JOB_EXPORT,
                registry.clone(),
                self.export_interval,
                None,
                stop_rx.clone(),
                move || {
                    let (exporter, lease, registry) =
                        (exporter.clone(), lease.clone(), registry.clone());
                    async move {
                        let Some(Ok(report)) = lease.run(exporter.run_once()).await.map(|r| {
                            r.inspect_err(|error| {
                                tracing::warn!(%error, "export run failed; the next run retries");
                            })
                        }) else {
                            return;
                        };
                        crate::internal::count_export(&registry, &report);
                        if report.files > 0 || report.deleted > 0 {
                            tracing::info!(
                                files = report.files,
                                keys = report.keys,
                                fakes = report.fakes,
                                deleted = report.deleted,
                                "export run"
                            );
                        }
                    }
                },
            ));
        }
        if let Some(federation) = &self.federation {
            let f = federation.clone();
            let lease = lease_for(JOB_FEDERATION_UPLOAD);
            let r = registry.clone();
            jobs.spawn(every(
                JOB_FEDERATION_UPLOAD,
                registry.clone(),
                self.upload_interval,
                None,
                stop_rx.clone(),
                move || {
                    let (f, lease, r) = (f.clone(), lease.clone(), r.clone());
                    async move {
                        match lease.run(f.upload_once()).await {
                            Some(Ok(report)) => crate::internal::count_upload(&r, &report),
                            Some(Err(error)) => {
                                tracing::warn!(%error, "federation upload failed; will retry");
                            }
                            None => {}
                        }
                    }
                },
            ));
            let f = federation.clone();
            let lease = lease_for(JOB_FEDERATION_DOWNLOAD);
            let wake = Some(self.wake_download.clone());
            let r = registry.clone();
            jobs.spawn(every(
                JOB_FEDERATION_DOWNLOAD,
                registry.clone(),
                self.download_interval,
                wake,
                stop_rx.clone(),
                move || {
                    let (f, lease, r) = (f.clone(), lease.clone(), r.clone());
                    async move {
                        match lease.run(f.download_once()).await {
                            Some(Ok(report)) => crate::internal::count_download(&r, &report),
                            Some(Err(error)) => {
                                tracing::warn!(%error, "federation download failed; will retry");
                            }
                            None => {}
                        }
                    }
                },
            ));
        }
        {
            let lease = lease_for(JOB_RETENTION);
            let (store, clock) = (self.store.clone(), self.clock.clone());
            let retention = self.retention_days * 86_400;
            jobs.spawn(every(
                JOB_RETENTION,
                registry.clone(),
                Duration::from_hours(1),
                None,
                stop_rx.clone(),
                move || {
                    let (store, clock, lease) = (store.clone(), clock.clone(), lease.clone());
                    async move {
                        let now = clock.now().seconds();
                        match lease.run(store.purge(now - retention, now)).await {
                            None | Some(Ok(0)) => {}
                            Some(Ok(n)) => tracing::info!(keys = n, "retention purge"),
                            Some(Err(error)) => tracing::warn!(%error, "retention purge failed"),
                        }
                    }
                },
            ));
        }
        {
            let issuers = self.issuers.clone();
            jobs.spawn(every(
                JOB_JWKS_REFRESH,
                registry.clone(),
                Duration::from_secs(issuers.refresh_seconds()),
                None,
                stop_rx.clone(),
                move || {
                    let issuers = issuers.clone();
                    async move { issuers.refresh().await }
                },
            ));
        }
        if let (Some(federation), Some(callback)) = (&self.federation, self.callback) {
            spawn_callback_jobs(&mut jobs, federation.clone(), callback, &stop_rx);
        }
        if let Some(listener) = self.internal {
            let probe = crate::internal::KeyserverProbe {
                store: self.store.clone(),
                federation: self.federation.is_some(),
            };
            jobs.spawn(herald_runtime::internal::serve(
                listener,
                Arc::new(probe),
                registry,
                crate::internal::OPENAPI,
                stop_rx.clone(),
            ));
        }
        let server = herald_runtime::serve(self.listener, self.tls, self.router, shutdown);
        server.await;
        let _ = stop_tx.send(true);
        while jobs.join_next().await.is_some() {}
        if let Err(error) = self.store.release_leases(&self.holder).await {
            tracing::warn!(%error, "could not release the job leases; others wait for them to expire");
        }
        self.store.close().await;
    }
}

/// The callback listener, and the subscription with the gateway, retried until it is made (the
/// gateway may start after the key server).
fn spawn_callback_jobs(
    jobs: &mut tokio::task::JoinSet<()>,
    federation: Arc<Federation>,
    callback: CallbackListener,
    stop_rx: &tokio::sync::watch::Receiver<bool>,
) {
    let (id, url) = (callback.id, callback.url);
    let mut stop = stop_rx.clone();
    jobs.spawn(async move {
        let mut wait = Duration::from_secs(1);
        loop {
            match federation.subscribe_callback(&id, &url).await {
                Ok(()) => {
                    tracing::info!(callback_id = %id, %url, "subscribed to gateway callbacks");
                    return;
                }
                Err(error) => tracing::warn!(%error, "callback subscription failed; will retry"),
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            wait = (wait * 2).min(Duration::from_mins(5));
        }
    });
    let mut stop = stop_rx.clone();
    let stopped = async move {
        let _ = stop.changed().await;
    };
    jobs.spawn(herald_runtime::serve(
        callback.listener,
        Some(callback.tls),
        callback.router,
        stopped,
    ));
}
