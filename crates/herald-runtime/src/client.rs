//! An HTTPS client for herald's services and any EFGS-compatible gateway: the server checked
//! against given CA certificates, an optional client certificate (mTLS), one request per
//! connection (or several on one, [`HttpsClient::connect`]), any status an [`Answer`]. The key server's federation, `herald efgs
//! upload|download|audit`, the demo and the tests use it.

use axum::body::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Why a request could not be made (an answer with any status is not an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The base URL is not `https://host:port[/prefix]`.
    #[error("URL {0:?} must look like https://host[:port][/prefix]")]
    Url(String),
    /// Certificates or keys could not be read.
    #[error("TLS material: {0}")]
    Pem(String),
    /// TLS setup or handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// Connecting or talking HTTP failed.
    #[error("cannot reach the server: {0}")]
    Io(String),
}

fn tls_error(e: crate::tls::TlsError) -> ClientError {
    match e {
        crate::tls::TlsError::Pem(e) => ClientError::Pem(e),
        crate::tls::TlsError::Tls(e) => ClientError::Tls(e.to_string()),
    }
}

/// `https://host[:port][/prefix]` as host (without IPv6 brackets), port (443 when none is
/// given) and prefix (no trailing `/`).
fn split_url(base_url: &str) -> Result<(String, u16, String), ClientError> {
    let bad = || ClientError::Url(base_url.to_owned());
    let rest = base_url.strip_prefix("https://").ok_or_else(bad)?;
    let (authority, prefix) = rest
        .split_once('/')
        .map_or((rest, String::new()), |(a, p)| (a, format!("/{}", p.trim_end_matches('/'))));
    let (host, port) = match authority.rsplit_once(':') {
        // `[v6]` alone, or a host name without a port.
        _ if authority.ends_with(']') => (authority, 443),
        None => (authority, 443),
        Some((host, port)) => (host, port.parse().map_err(|_| bad())?),
    };
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() || host.contains(['@', '?', '#', ' ']) {
        return Err(bad());
    }
    Ok((host.to_owned(), port, prefix))
}

/// A gateway's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: hyper::HeaderMap,
    /// Response body.
    pub body: Bytes,
}

impl Answer {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Talks to one HTTPS service (a gateway, as one national backend; a verifier; a key server).
#[derive(Clone)]
pub struct HttpsClient {
    host: String,
    port: u16,
    prefix: String,
    tls: TlsConnector,
}

impl std::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpsClient(https://{}:{}{})", self.host, self.port, self.prefix)
    }
}

impl HttpsClient {
    /// A client for `base_url` that trusts `ca_pem` for the server and presents the client
    /// certificate (`cert_pem`, PKCS#8 `key_pem`); `None` sends no client certificate.
    pub fn new(
        base_url: &str,
        ca_pem: &str,
        client: Option<(&str, &str)>,
    ) -> Result<Self, ClientError> {
        let (host, port, prefix) = split_url(base_url)?;
        let config = crate::tls::client_config(ca_pem, client).map_err(tls_error)?;
        Ok(Self { host, port, prefix, tls: TlsConnector::from(config) })
    }

    /// A client for `base_url` that trusts the operating system's CA certificates (a public
    /// endpoint; see [`crate::tls::system_client_config`]).
    pub fn with_system_roots(
        base_url: &str,
        client: Option<(&str, &str)>,
    ) -> Result<Self, ClientError> {
        let (host, port, prefix) = split_url(base_url)?;
        let config = crate::tls::system_client_config(client).map_err(tls_error)?;
        Ok(Self { host, port, prefix, tls: TlsConnector::from(config) })
    }

    /// `host:port`, an IPv6 address in brackets (the `Host` header).
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// One request on a connection of its own; any status is an [`Answer`].
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        self.connect().await?.request(method, path, headers, body).await
    }

    /// A kept-alive HTTP/1.1 connection, for requests one after another (as `requests.Session`
    /// and browsers do).
    pub async fn connect(&self) -> Result<HttpsConnection, ClientError> {
        let io = |e: &dyn std::fmt::Display| ClientError::Io(e.to_string());
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await.map_err(|e| io(&e))?;
        let name = ServerName::try_from(self.host.clone())
            .map_err(|e| ClientError::Url(format!("{}: {e}", self.host)))?;
        let tls = self.tls.connect(name, tcp).await.map_err(|e| ClientError::Tls(e.to_string()))?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| io(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(HttpsConnection { sender, authority: self.authority(), prefix: self.prefix.clone() })
    }
}

/// One open connection of an [`HttpsClient`] ([`HttpsClient::connect`]).
pub struct HttpsConnection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    authority: String,
    prefix: String,
}

impl std::fmt::Debug for HttpsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpsConnection(https://{}{})", self.authority, self.prefix)
    }
}

impl HttpsConnection {
    /// A request on this connection, after the previous one's answer; any status is an
    /// [`Answer`].
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        let io = |e: &dyn std::fmt::Display| ClientError::Io(e.to_string());
        self.sender.ready().await.map_err(|e| io(&e))?;
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header("host", self.authority.as_str());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::from(body))).map_err(|e| io(&e))?;
        let response = self.sender.send_request(request).await.map_err(|e| io(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.map_err(|e| io(&e))?.to_bytes();
        Ok(Answer { status, headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_default_to_port_443() {
        let split = |u: &str| split_url(u).map_err(|e| e.to_string());
        assert_eq!(split("https://v.example.de"), Ok(("v.example.de".into(), 443, String::new())));
        assert_eq!(
            split("https://v.example.de:8443/efgs/"),
            Ok(("v.example.de".into(), 8443, "/efgs".into()))
        );
        assert_eq!(split("https://[2001:db8::1]"), Ok(("2001:db8::1".into(), 443, String::new())));
        assert_eq!(split("https://[::1]:9/x"), Ok(("::1".into(), 9, "/x".into())));
        for bad in ["http://v.example.de", "https://:443", "https://v:port", "https://u@v", ""] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }

    /// A public endpoint's client trusts the machine's CA store (or `SSL_CERT_FILE`), not the
    /// empty store a missing `jwks_ca` gave before; with no store at all it says so. No network.
    #[test]
    fn system_roots_build_a_client_or_say_none_were_found() {
        match HttpsClient::with_system_roots("https://jwks.example.org", None) {
            Ok(client) => assert_eq!(client.authority(), "jwks.example.org:443"),
            Err(e) => assert!(e.to_string().contains("no system CA certificate"), "{e}"),
        }
        let roots = crate::tls::system_client_config(None);
        let found = rustls_native_certs::load_native_certs().certs.len();
        assert_eq!(roots.is_ok(), found > 0, "a client exactly when the system has roots");
    }
}
