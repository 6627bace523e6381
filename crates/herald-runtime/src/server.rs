//! Serving the router: TLS with optional client certificates (rustls, aws-lc-rs), or plain HTTP
//! behind a TLS-terminating proxy; the peer's certificate and address travel with every request
//! as [`PeerInfo`]; graceful shutdown on a future.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A listener could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address.
    pub addr: SocketAddr,
    /// The OS error.
    pub source: std::io::Error,
}

/// Binds a listener on `addr`; the error names the address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr).await.map_err(|source| BindError { addr, source })
}

/// Binds the internal listener when it is configured.
pub async fn bind_optional(addr: Option<SocketAddr>) -> Result<Option<TcpListener>, BindError> {
    match addr {
        Some(addr) => bind(addr).await.map(Some),
        None => Ok(None),
    }
}

/// What the connection carried, attached to every request as an `axum::Extension`.
#[derive(Debug, Clone, Default)]
pub struct PeerInfo {
    /// The address of the TCP peer (the proxy, in proxy mode). Never logged or stored.
    pub remote: Option<IpAddr>,
    /// The client certificate presented in the TLS handshake, DER.
    pub certificate: Option<Vec<u8>>,
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in flight finish
/// (for at most 30 s). With `tls`, speaks HTTPS and attaches the client certificate; without,
/// plain HTTP (for a TLS-terminating proxy in front).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Some(acceptor) = acceptor {
                let Ok(Ok(stream)) =
                    tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                else {
                    return;
                };
                let certificate = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|c| c.as_ref().to_vec());
                let service = peer_service(app, remote, certificate);
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let _ = watcher.watch(conn.into_owned()).await;
            } else {
                let service = peer_service(app, remote, None);
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
                let _ = watcher.watch(conn.into_owned()).await;
            }
        });
    }
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after 30 s; closing them");
    }
}

fn peer_service(
    app: Router,
    remote: SocketAddr,
    certificate: Option<Vec<u8>>,
) -> TowerToHyperService<Router> {
    let peer = PeerInfo { remote: Some(remote.ip()), certificate };
    TowerToHyperService::new(app.layer(axum::Extension(peer)))
}
