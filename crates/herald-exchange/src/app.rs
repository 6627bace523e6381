//! Putting the exchange together from an [`ExchangeConfig`]: keys, storage, the TAXII routes on
//! one listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use herald_runtime::start::{invalid, read};
use herald_stix::taxii::cursor::CursorKey;
use tokio::net::TcpListener;

use crate::api::{Clock, Exchange, IdSource, router};
use crate::config::ExchangeConfig;
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
        let tls = herald_runtime::start::server_tls(config.tls.as_ref())?;
        let cursor_key = CursorKey::new(key_file("cursor_key_file", &config.cursor_key_file)?);
        let token_key = key_file("token_key_file", &config.token_key_file)?;
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
        });
        let router = router(exchange.clone());
        let listener = herald_runtime::server::bind(config.listen).await?;
        Ok(Self { listener, tls, router, exchange })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Whether it speaks TLS.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The shared state (store, keys), for the CLI and tests.
    pub fn exchange(&self) -> Arc<Exchange> {
        self.exchange.clone()
    }

    /// Serves until `shutdown` resolves, then closes the store.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        herald_runtime::serve(self.listener, self.tls, self.router, shutdown).await;
        self.exchange.store.close().await;
    }
}
