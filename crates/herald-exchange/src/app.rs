//! Putting the exchange together from an [`ExchangeConfig`]: keys, storage, the TAXII routes on
//! the public listener (TLS, with client certificates from the configured CA), `/health`,
//! `/metrics` and `/openapi.json` on the internal one.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use herald_runtime::metrics::Registry;
use herald_runtime::start::{invalid, read};
use herald_stix::taxii::cursor::CursorKey;
use tokio::net::TcpListener;

use crate::api::{Clock, Exchange, IdSource, router};
use crate::config::ExchangeConfig;
use crate::receipt::ReceiptSigner;
use crate::store::{Store, StoreError};

/// Why the exchange could not start: a setting or a file it names, a listener, the database.
pub type StartError = herald_runtime::start::StartError<StoreError>;

/// A 32-byte key from a file of 64 hex digits.
pub fn key_file(setting: &str, path: &std::path::Path) -> Result<[u8; 32], StartError> {
    let text = read(path)?;
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| invalid(setting, format!("{}: not 64 hex digits", path.display())))?;
    Ok(bytes)
}

/// An exchange, bound and ready to serve.
pub struct ExchangeServer {
    listener: TcpListener,
    internal: Option<TcpListener>,
    registry: Arc<Registry>,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    exchange: Arc<Exchange>,
}

impl std::fmt::Debug for ExchangeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeServer")
            .field("listener", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl ExchangeServer {
    /// Reads the keys, opens the store, binds the listener. Status ids come from `ids`
    /// (random in production).
    pub async fn build(
        config: &ExchangeConfig,
        clock: Arc<dyn Clock>,
        ids: IdSource,
    ) -> Result<Self, StartError> {
        config.validate()?;
        let tls = herald_runtime::start::server_tls_with_client_ca(
            config.tls.as_ref(),
            config.client_ca_file.as_deref(),
        )?;
        let cursor_key = CursorKey::new(key_file("cursor_key_file", &config.cursor_key_file)?);
        let token_key = key_file("token_key_file", &config.token_key_file)?;
        let receipts = ReceiptSigner::from_pkcs8_pem(&read(&config.receipt_key_file)?)
            .map_err(|e| invalid("receipt_key_file", e))?;
        let store = Store::open(&config.database).await.map_err(StartError::open)?;
        let exchange = Arc::new(Exchange {
            store,
            cursor_key,
            token_key,
            clock,
            limits: config.limits.limits(),
            page_max: config.page_max,
            max_content_length: config.max_content_length,
            title: config.title.clone(),
            ids: Mutex::new(ids),
            receipts,
        });
        let registry = crate::internal::registry();
        let router = router(exchange.clone()).layer(axum::middleware::from_fn_with_state(
            registry.clone(),
            herald_runtime::metrics::track_requests,
        ));
        let listener = herald_runtime::server::bind(config.listen).await?;
        let internal = herald_runtime::server::bind_optional(config.internal_listen).await?;
        Ok(Self { listener, internal, registry, tls, router, exchange })
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

    /// The shared state (store, keys), for the CLI and tests.
    pub fn exchange(&self) -> Arc<Exchange> {
        self.exchange.clone()
    }

    /// Serves (both listeners) until `shutdown` resolves, then closes the store.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let internal = self.internal.map(|listener| {
            let probe = crate::internal::ExchangeProbe {
                store: self.exchange.store.clone(),
                clock: self.exchange.clock.clone(),
            };
            tokio::spawn(herald_runtime::internal::serve(
                listener,
                Arc::new(probe),
                self.registry.clone(),
                crate::internal::OPENAPI,
                stop_rx.clone(),
            ))
        });
        herald_runtime::serve(self.listener, self.tls, self.router, async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
        if let Some(internal) = internal {
            let _ = internal.await;
        }
        drop(stop_rx);
        self.exchange.store.close().await;
    }
}
