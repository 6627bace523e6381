//! Putting the gateway together: storage, trust anchor, TLS, router, jobs and the callback
//! worker, from a [`GatewayConfig`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use herald_model::Clock;
use herald_trust::AnchorCertificate;
use rand::SeedableRng as _;
use tokio::net::TcpListener;

use crate::api::{self, ApiSettings, AppState};
use crate::callback::{CallbackSettings, CallbackWorker, ClientCertificate, SystemResolver};
use crate::config::{AtRestConfig, GatewayConfig};
use crate::internal::{self, InternalState};
use crate::jobs::{self, JobSettings};
use crate::store::{AtRest, AtRestKey, Store, UploadMode};
use herald_runtime::Registry;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A setting, or a file it names, is unusable.
    #[error(transparent)]
    Config(#[from] herald_service::config::ConfigError),
    /// The trust anchor certificate is unusable.
    #[error("trust anchor {path}: {reason}")]
    Anchor {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] herald_runtime::tls::TlsError),
    /// The callback client certificate is unusable.
    #[error(transparent)]
    Callback(#[from] crate::callback::CallbackError),
    /// An at-rest key file is unusable.
    #[error("at-rest key {path}: {source}")]
    AtRestKey {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: crate::store::AtRestKeyError,
    },
    /// The operating system's random number generator failed (at-rest nonces need it).
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// A listener could not be bound.
    #[error(transparent)]
    Bind(#[from] herald_runtime::server::BindError),
}

fn read(path: &std::path::Path) -> Result<String, StartError> {
    Ok(herald_service::config::read_file(path)?)
}

/// The at-rest settings from the key files. Nonce prefixes come from a ChaCha generator seeded
/// from the operating system, as every other random choice of the binary.
fn at_rest(config: &AtRestConfig) -> Result<AtRest, StartError> {
    let load = |path: &std::path::Path| -> Result<AtRestKey, StartError> {
        let text = zeroize::Zeroizing::new(read(path)?);
        warn_if_readable_by_others(path);
        AtRestKey::parse(&text)
            .map_err(|source| StartError::AtRestKey { path: path.display().to_string(), source })
    };
    let previous =
        config.previous_key_files.iter().map(|p| load(p)).collect::<Result<Vec<_>, _>>()?;
    let key_error = |source| StartError::AtRestKey { path: "(configured keys)".into(), source };
    let Some(current) = &config.key_file else {
        tracing::warn!(
            "at-rest encryption is off (at_rest_encryption = false): new keys are stored unencrypted"
        );
        return AtRest::plaintext(previous).map_err(key_error);
    };
    let current = load(current)?;
    let rng = rand::rngs::StdRng::try_from_rng(&mut rand::rngs::SysRng)
        .map_err(|e| StartError::Random(e.to_string()))?;
    let at_rest = AtRest::encrypting(current, previous, rng).map_err(key_error)?;
    tracing::info!(key_id = ?at_rest.current_key_id(), keys = at_rest.key_ids().len(), "at-rest encryption on");
    Ok(at_rest)
}

/// Logs a warning when a key file can be read by its group or by others.
fn warn_if_readable_by_others(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "at-rest key file is accessible to group or others; chmod 600 it");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Trust-list rows stored before herald signed whole entries have no entry signature and are
/// refused until the operator signs them: says so once at startup, with the command (each
/// refused lookup logs it too).
async fn report_unsigned_entries(store: &Store) -> Result<(), StartError> {
    let rows = store.trust_entries().await?;
    let unsigned = rows.iter().filter(|row| row.entry_signature.is_none()).count();
    if unsigned > 0 {
        tracing::warn!(
            unsigned,
            "trust-list entries without an entry signature are refused until the operator signs \
             them: check them with `herald gateway trust list --anchor <PEM>`, then run \
             `herald gateway trust resign --anchor-key <KEY>`"
        );
    }
    Ok(())
}

/// A gateway that is bound and ready to serve.
pub struct Gateway {
    listener: TcpListener,
    internal: Option<TcpListener>,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: AppState,
    jobs: JobSettings,
    callbacks: CallbackWorker,
}

impl Gateway {
    /// Opens the store, loads the anchor and TLS material and binds the listener.
    pub async fn build(config: &GatewayConfig, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let anchor_pem = read(&config.anchor_certificate)?;
        let anchor = AnchorCertificate::from_pem(&anchor_pem).map_err(|e| StartError::Anchor {
            path: config.anchor_certificate.display().to_string(),
            reason: e.to_string(),
        })?;
        let tls = match &config.tls {
            Some(files) => Some(herald_runtime::tls::server_config(
                &read(&files.certificate)?,
                &read(&files.key)?,
                herald_runtime::tls::ClientCertificates::PinnedByThumbprint,
            )?),
            None => None,
        };
        let callback_client = if let Some(files) = &config.callback.client {
            let (cert, key) = (read(&files.certificate)?, read(&files.key)?);
            Some(Arc::new(ClientCertificate::from_pem(&cert, &key)?))
        } else {
            tracing::warn!("no callback client certificate configured: callbacks go without");
            None
        };
        let at_rest = at_rest(&config.at_rest)?;
        let store = Store::open(&config.database).await?.with_at_rest(at_rest);
        store.apply_at_rest().await?;
        report_unsigned_entries(&store).await?;
        let listener = herald_runtime::server::bind(config.listen).await?;
        let internal = herald_runtime::server::bind_optional(config.internal_listen).await?;
        let anchor = Arc::new(anchor);
        let registry = crate::metrics::registry();
        let batched = Arc::new(tokio::sync::Notify::new());
        let state = AppState {
            store: store.clone(),
            anchor: anchor.clone(),
            clock: clock.clone(),
            settings: Arc::new(ApiSettings {
                auth: config.auth.clone(),
                max_age_days: config.max_age_days,
                upload_mode: if config.store_valid_keys {
                    UploadMode::StoreValid
                } else {
                    UploadMode::AllOrNothing
                },
                allow_private_callback_hosts: config.callback.allow_private_hosts,
            }),
            uploaded: Arc::new(tokio::sync::Notify::new()),
            registry: registry.clone(),
            wake_callbacks: batched.clone(),
        };
        let holder =
            format!("{}-{}", std::process::id(), listener.local_addr().map_or(0, |a| a.port()));
        let jobs = JobSettings {
            batching_interval: Duration::from_secs(config.batching_interval_seconds),
            retention_days: config.retention_days,
            statistics_retention_days: config.statistics_retention_days,
            retention_interval: Duration::from_hours(1),
            holder: holder.clone(),
            batched,
        };
        let callbacks = CallbackWorker {
            store,
            anchor,
            clock,
            client: callback_client,
            settings: CallbackSettings {
                retry_wait: Duration::from_secs(config.callback.retry_wait_seconds),
                interval: Duration::from_secs(config.callback.interval_seconds),
                trust: config.callback.receiver_trust,
                allow_private_hosts: config.callback.allow_private_hosts,
                proxy: config.callback.proxy.clone(),
                holder,
            },
            registry,
            resolver: Arc::new(SystemResolver),
        };
        Ok(Self { listener, internal, tls, state, jobs, callbacks })
    }

    /// The bound address (port 0 resolved).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The internal listener's bound address, when it is on.
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        self.internal.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The process's metrics, for tools and tests.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.state.registry
    }

    /// The store, for tools and tests.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves (both listeners) and runs the jobs until `shutdown` resolves, then finishes
    /// requests in flight.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut job_stop = stop_rx.clone();
        let mut callback_stop = stop_rx.clone();
        let internal = self.internal.map(|listener| {
            let probe = InternalState {
                store: self.state.store.clone(),
                anchor: self.state.anchor.clone(),
            };
            let registry = self.state.registry.clone();
            tokio::spawn(herald_runtime::internal::serve(
                listener,
                Arc::new(probe),
                registry,
                internal::OPENAPI,
                stop_rx.clone(),
            ))
        });
        let callbacks = tokio::spawn(self.callbacks.run(self.jobs.batched.clone(), async move {
            let _ = callback_stop.wait_for(|stop| *stop).await;
        }));
        let jobs = tokio::spawn(jobs::run(
            self.state.store.clone(),
            self.state.clock.clone(),
            self.jobs,
            self.state.uploaded.clone(),
            async move {
                let _ = job_stop.wait_for(|stop| *stop).await;
            },
        ));
        let app = api::router(self.state);
        herald_runtime::serve(self.listener, self.tls, app, async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
        let _ = jobs.await;
        let _ = callbacks.await;
        if let Some(internal) = internal {
            let _ = internal.await;
        }
        drop(stop_rx);
    }
}
