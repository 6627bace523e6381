//! An HTTPS client for herald's services and any EFGS-compatible gateway: the server checked
//! against given CA certificates, an optional client certificate (mTLS), one request per
//! connection, any status an [`Answer`]. The key server's federation, `herald efgs
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
    #[error("URL {0:?} must look like https://host:port")]
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
        let rest = base_url
            .strip_prefix("https://")
            .ok_or_else(|| ClientError::Url(base_url.to_owned()))?;
        let (authority, prefix) = rest
            .split_once('/')
            .map_or((rest, String::new()), |(a, p)| (a, format!("/{}", p.trim_end_matches('/'))));
        let (host, port) = authority
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_owned(), p.parse().ok()?)))
            .ok_or_else(|| ClientError::Url(base_url.to_owned()))?;
        let config = crate::tls::client_config(ca_pem, client).map_err(|e| match e {
            crate::tls::TlsError::Pem(e) => ClientError::Pem(e),
            crate::tls::TlsError::Tls(e) => ClientError::Tls(e.to_string()),
        })?;
        Ok(Self { host, port, prefix, tls: TlsConnector::from(config) })
    }

    /// One request; any status is an [`Answer`].
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        let io = |e: &dyn std::fmt::Display| ClientError::Io(e.to_string());
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await.map_err(|e| io(&e))?;
        let name = ServerName::try_from(self.host.clone())
            .map_err(|e| ClientError::Url(format!("{}: {e}", self.host)))?;
        let tls = self.tls.connect(name, tcp).await.map_err(|e| ClientError::Tls(e.to_string()))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| io(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header("host", format!("{}:{}", self.host, self.port));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::from(body))).map_err(|e| io(&e))?;
        let response = sender.send_request(request).await.map_err(|e| io(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.map_err(|e| io(&e))?.to_bytes();
        Ok(Answer { status, headers, body })
    }
}
