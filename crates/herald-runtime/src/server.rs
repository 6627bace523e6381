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
///
/// The accept queue holds [`LISTEN_BACKLOG`] connections (the kernel caps it at
/// `net.core.somaxconn`): `TcpListener::bind`'s 128 overflowed when a few hundred phones
/// connected at once while the accept loop waited for a core, and the kernel then drops the
/// SYN, which the phone retries only after a second (`herald bench publish` saw p99 ≈ 1.2 s).
#[allow(clippy::unused_async, reason = "every service awaits it, as it awaited tokio's bind")]
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    let error = |source| BindError { addr, source };
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .map_err(error)?;
    // As `TcpListener::bind`: a restarted service can listen again at once.
    socket.set_reuseaddr(true).map_err(error)?;
    socket.bind(addr).map_err(error)?;
    socket.listen(LISTEN_BACKLOG).map_err(error)
}

/// Connections accepted by the kernel and waiting for the accept loop.
pub const LISTEN_BACKLOG: u32 = 4096;

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

impl PeerInfo {
    /// The client's address, for per-client limits only (never logged or stored): with
    /// `header` configured (a proxy the operator runs sets it, e.g. `X-Forwarded-For`), the
    /// right-most address in that header (the one the nearest proxy appended; an address with a
    /// port is taken without it); otherwise, or when the header is missing or not an address,
    /// the TCP peer's. Without `header`, a client cannot choose its identity by sending one.
    pub fn client_address(
        &self,
        headers: &axum::http::HeaderMap,
        header: Option<&axum::http::HeaderName>,
    ) -> Option<IpAddr> {
        header
            .and_then(|name| headers.get_all(name).iter().next_back())
            .and_then(|value| value.to_str().ok())
            .and_then(|list| list.rsplit(',').next())
            .and_then(|last| parse_address(last.trim()))
            .or(self.remote)
    }
}

/// `192.0.2.1`, `2001:db8::1`, `192.0.2.1:443`, `[2001:db8::1]:443` or `[2001:db8::1]`.
fn parse_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| text.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
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

#[cfg(test)]
mod client_address_tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderName, HeaderValue};

    #[test]
    fn the_client_address_comes_from_the_configured_header_only() {
        let peer = PeerInfo { remote: Some("10.0.0.9".parse().unwrap()), certificate: None };
        let xff = HeaderName::from_static("x-forwarded-for");
        let mut headers = HeaderMap::new();
        assert_eq!(peer.client_address(&headers, Some(&xff)), peer.remote, "missing header");
        headers.insert(&xff, HeaderValue::from_static("198.51.100.1, 203.0.113.5"));
        assert_eq!(peer.client_address(&headers, None), peer.remote, "not configured: ignored");
        assert_eq!(
            peer.client_address(&headers, Some(&xff)),
            Some("203.0.113.5".parse().unwrap()),
            "the right-most entry, which the proxy appended"
        );
        for (value, expected) in [
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("2001:db8::8", "2001:db8::8"),
            ("192.0.2.4:8080", "192.0.2.4"),
            ("[2001:db8::9]", "2001:db8::9"),
            ("unknown", "10.0.0.9"),
        ] {
            headers.insert(&xff, HeaderValue::from_static(value));
            assert_eq!(
                peer.client_address(&headers, Some(&xff)),
                Some(expected.parse().unwrap()),
                "{value}"
            );
        }
    }
}

#[cfg(test)]
mod listen_tests {
    use super::*;

    /// A burst of connections larger than `TcpListener::bind`'s backlog of 128 is held by the
    /// kernel until the accept loop gets to it: none is dropped (a dropped SYN costs a phone a
    /// one-second retransmission). Nothing is accepted here, so with the old backlog the 130th
    /// connection would never complete and the bounded wait below would run out.
    #[tokio::test]
    async fn a_burst_beyond_128_connections_waits_in_the_accept_queue() {
        let listener = bind(([127, 0, 0, 1], 0).into()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut connecting = tokio::task::JoinSet::new();
        for _ in 0..400 {
            connecting.spawn(tokio::time::timeout(
                Duration::from_secs(20),
                tokio::net::TcpStream::connect(addr),
            ));
        }
        let mut open = Vec::new();
        while let Some(done) = connecting.join_next().await {
            let stream = done.unwrap().expect("the kernel completed the connection").unwrap();
            open.push(stream);
        }
        assert_eq!(open.len(), 400);
        drop(listener);
    }
}
