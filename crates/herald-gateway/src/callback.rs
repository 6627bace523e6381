//! EFGS callbacks (efgs-gateway.md §1.5, §1.6): validating subscription URLs, and the worker that
//! tells subscribed national backends about new download batches.
//!
//! The worker runs under the store lease `callbacks`, so several gateway processes call each
//! subscriber once. For every due task (per subscription only the oldest, so notifications
//! arrive in order) it sends `GET <url>?batchTag=<tag>&date=<yyyy-MM-dd>` with
//! `User-Agent: EFGS Callback Engine` over mTLS, with the gateway's callback client certificate.
//! Any 2xx is success; anything else is retried after the retry wait.
//!
//! Deliberate deviations from the reference:
//! - **Suspension, not deletion.** The 6th consecutive failure *suspends* the subscription (it
//!   is kept and flagged, gets no new tasks, and a warning is logged) instead of deleting it
//!   with its tasks: an outage of a national backend should not silently unsubscribe it. A new
//!   `PUT` of the subscription resumes it.
//! - **The receiver's certificate is checked against CALLBACK entries.** By default the leaf
//!   certificate's SHA-256 must equal a trusted (operator-signed, unrevoked) CALLBACK entry of
//!   the subscription's country, as the SDD intended, and the certificate must be valid for the
//!   URL's host (and the entry's `host`, when it names one). [`ReceiverTrust::EfgsCompatible`]
//!   keeps the reference's check instead: any trusted AUTHENTICATION entry of any country, no
//!   host check.
//! - **No DNS in the request path.** URL validation refuses private, loopback, link-local and
//!   similar IP literals but does not resolve names.
//!
//! Callbacks may go through an HTTP proxy ([`HttpProxy`], config `callback_proxy`, as EFGS's
//! `https.proxyHost`): the worker opens a `CONNECT host:port` tunnel and runs TLS through it, so
//! the receiver's certificate is checked exactly as on a direct connection.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use herald_model::{CertThumbprint, Clock, CountryCode, UnixTime};
use herald_trust::AnchorCertificate;
use http_body_util::{BodyExt as _, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::{Host, Url};

use crate::metrics::CALLBACK_DELIVERIES;
use crate::store::{CallbackFailure, CallbackTask, Store, TrustKind, TrustRow};

/// Longest callback id (EFGS: varchar 32).
pub const MAX_CALLBACK_ID_CHARS: usize = 32;
/// Longest callback URL (EFGS: varchar 256).
pub const MAX_CALLBACK_URL_CHARS: usize = 256;
/// The `User-Agent` of every callback (the reference's).
pub const USER_AGENT: &str = "EFGS Callback Engine";
/// Connect (TCP and TLS) and read timeouts of a callback.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Tasks taken per worker run.
const TASKS_PER_RUN: u32 = 100;
/// Lease length; renewed before every callback, so it outlives one call with both timeouts.
const LEASE_SECONDS: i64 = 60;

/// Why a callback URL or id is refused (the API answers 400 "Callback URL is invalid").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackUrlError {
    /// The id is empty or longer than [`MAX_CALLBACK_ID_CHARS`].
    #[error("callback id must have 1 to {MAX_CALLBACK_ID_CHARS} characters")]
    Id,
    /// The URL does not parse.
    #[error("callback URL does not parse")]
    Parse,
    /// The URL is longer than [`MAX_CALLBACK_URL_CHARS`].
    #[error("callback URL is longer than {MAX_CALLBACK_URL_CHARS} characters")]
    TooLong,
    /// Not `https`.
    #[error("callback URL must be https")]
    NotHttps,
    /// It has a query string (the gateway adds its own).
    #[error("callback URL must not have a query string")]
    Query,
    /// It carries user name or password.
    #[error("callback URL must not carry credentials")]
    Credentials,
    /// No host.
    #[error("callback URL has no host")]
    NoHost,
    /// The host is an IP address in a private, loopback, link-local or otherwise internal
    /// range.
    #[error("callback host is a private or internal address")]
    PrivateAddress,
}

/// Checks a subscription (§1.5): the id has 1 to 32 characters; the URL parses, has at most 256
/// characters, is `https`, has a host, no query string and no credentials, and (unless
/// `allow_private_hosts`) its host is not an IP literal in 0/8, 10/8, 100.64/10, 127/8,
/// 169.254/16, 172.16/12, 192.168/16, ::, ::1, fc00::/7 or fe80::/10 (IPv4-mapped IPv6
/// included). IPv4 in octal or hex notation is normalised by the parser first. Host names are
/// not resolved.
pub fn validate_subscription(
    callback_id: &str,
    url: &str,
    allow_private_hosts: bool,
) -> Result<Url, CallbackUrlError> {
    let id_chars = callback_id.chars().count();
    if id_chars == 0 || id_chars > MAX_CALLBACK_ID_CHARS {
        return Err(CallbackUrlError::Id);
    }
    if url.chars().count() > MAX_CALLBACK_URL_CHARS {
        return Err(CallbackUrlError::TooLong);
    }
    let parsed = Url::parse(url).map_err(|_| CallbackUrlError::Parse)?;
    if parsed.scheme() != "https" {
        return Err(CallbackUrlError::NotHttps);
    }
    if parsed.query().is_some() {
        return Err(CallbackUrlError::Query);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(CallbackUrlError::Credentials);
    }
    let private = match parsed.host() {
        None => return Err(CallbackUrlError::NoHost),
        Some(Host::Domain(_)) => false,
        Some(Host::Ipv4(a)) => is_private_v4(a),
        Some(Host::Ipv6(a)) => is_private_v6(a),
    };
    if private && !allow_private_hosts {
        return Err(CallbackUrlError::PrivateAddress);
    }
    Ok(parsed)
}

fn is_private_v4(a: Ipv4Addr) -> bool {
    let [b0, b1, _, _] = a.octets();
    b0 == 0
        || b0 == 10
        || b0 == 127
        || (b0 == 100 && (64..128).contains(&b1))
        || (b0 == 169 && b1 == 254)
        || (b0 == 172 && (16..32).contains(&b1))
        || (b0 == 192 && b1 == 168)
}

fn is_private_v6(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return is_private_v4(v4);
    }
    let first = a.segments().first().copied().unwrap_or(0);
    a.is_loopback()
        || a.is_unspecified()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

/// An HTTP proxy for outbound callbacks: `http://host[:port]` (port 80 when left out), no
/// credentials, no path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpProxy {
    /// The proxy's host name or IP address.
    pub host: String,
    /// Its port.
    pub port: u16,
}

impl HttpProxy {
    /// Parses `http://host[:port][/]`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
        if url.scheme() != "http" {
            return Err(format!("{text:?} must be an http:// URL (the tunnel carries TLS)"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("proxy credentials are not supported".into());
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(format!("{text:?} must be http://host:port, without a path"));
        }
        let host = match url.host() {
            Some(Host::Domain(d)) => d.to_owned(),
            Some(Host::Ipv4(a)) => a.to_string(),
            Some(Host::Ipv6(a)) => a.to_string(),
            None => return Err(format!("{text:?} has no host")),
        };
        Ok(Self { host, port: url.port_or_known_default().unwrap_or(80) })
    }
}

/// Which certificates a callback receiver may present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverTrust {
    /// A trusted CALLBACK entry of the subscription's country, valid for the URL's host (the
    /// SDD's intent; the default).
    Callback,
    /// The reference's check: a trusted AUTHENTICATION entry of any country, no host check.
    EfgsCompatible,
}

/// The gateway's callback client certificate chain and key.
pub struct ClientCertificate {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// From a PEM certificate chain and a PKCS#8 (or SEC1/PKCS#1) PEM key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CallbackError> {
        use rustls::pki_types::pem::PemObject as _;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| CallbackError::Pem(e.to_string()))?;
        if chain.is_empty() {
            return Err(CallbackError::Pem("no certificate in the PEM".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| CallbackError::Pem(e.to_string()))?;
        Ok(Self { chain, key })
    }
}

/// Why the callback client could not be set up, or one callback could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The client certificate or key could not be read.
    #[error("callback client certificate or key: {0}")]
    Pem(String),
    /// TLS configuration, handshake or certificate check failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The URL is no longer acceptable.
    #[error(transparent)]
    Url(#[from] CallbackUrlError),
    /// Connecting or talking HTTP failed.
    #[error("{0}")]
    Io(String),
    /// Connecting or reading took longer than [`TIMEOUT`].
    #[error("timed out")]
    Timeout,
    /// The receiver answered with a status other than 2xx.
    #[error("answered {0}")]
    Status(u16),
    /// The callback proxy refused the tunnel.
    #[error("the callback proxy answered {0} to CONNECT")]
    Proxy(u16),
}

/// Settings of the callback worker.
#[derive(Debug, Clone)]
pub struct CallbackSettings {
    /// How long a failed task waits before the next try (EFGS: 300 s).
    pub retry_wait: Duration,
    /// Longest wait between worker runs; new download batches wake it early.
    pub interval: Duration,
    /// Which receiver certificates are accepted.
    pub trust: ReceiverTrust,
    /// Whether subscription URLs may name private addresses (dev and tests).
    pub allow_private_hosts: bool,
    /// The HTTP proxy to tunnel through, if any.
    pub proxy: Option<HttpProxy>,
    /// This process's name in leases.
    pub holder: String,
}

/// The callback worker: store, trust anchor, clock, client certificate, settings.
#[derive(Clone)]
pub struct CallbackWorker {
    /// Storage.
    pub store: Store,
    /// The trust anchor, to check trust-list entries before trusting them.
    pub anchor: Arc<AnchorCertificate>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The gateway's callback client certificate; without one, callbacks go without.
    pub client: Option<Arc<ClientCertificate>>,
    /// Settings.
    pub settings: CallbackSettings,
    /// The process's metrics (callback deliveries by outcome).
    pub registry: Arc<herald_runtime::Registry>,
}

impl std::fmt::Debug for CallbackWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackWorker").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl CallbackWorker {
    /// Runs the worker every `interval`, and when `wake` is notified, until `shutdown`.
    pub async fn run(
        self,
        wake: Arc<tokio::sync::Notify>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut tick = tokio::time::interval(self.settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = wake.notified() => {}
                () = &mut shutdown => return,
            }
            let run = self.run_once();
            tokio::select! {
                () = run => {}
                () = &mut shutdown => return,
            }
        }
    }

    /// One run: takes the lease, then makes every due callback once, in task order.
    pub async fn run_once(&self) {
        let retry_wait = i64::try_from(self.settings.retry_wait.as_secs()).unwrap_or(i64::MAX);
        let now = self.clock.now();
        if !self.lease(now).await {
            return;
        }
        let tasks = match self.store.due_callback_tasks(now, retry_wait, TASKS_PER_RUN).await {
            Ok(tasks) => tasks,
            Err(e) => {
                tracing::error!(error = %e, "reading due callback tasks failed");
                return;
            }
        };
        for task in tasks {
            if !self.lease(self.clock.now()).await {
                return;
            }
            self.execute(&task).await;
        }
    }

    async fn lease(&self, now: UnixTime) -> bool {
        match self.store.try_lease("callbacks", &self.settings.holder, now, LEASE_SECONDS).await {
            Ok(held) => held,
            Err(e) => {
                tracing::error!(error = %e, "taking the callback lease failed");
                false
            }
        }
    }

    #[tracing::instrument(skip_all, fields(country = %task.country, callback_id = task.callback_id.as_str(), batch_tag = task.batch_tag.as_str()))]
    async fn execute(&self, task: &CallbackTask) {
        let outcome = self.call(task).await;
        let now = self.clock.now();
        let recorded = match outcome {
            Ok(()) => {
                tracing::info!("callback delivered");
                self.registry.increment(&CALLBACK_DELIVERIES, "ok");
                self.store.callback_succeeded(task.id).await.map(|()| None)
            }
            Err(e) => {
                tracing::info!(error = %e, retries = task.retries, "callback failed");
                self.store.callback_failed(task.id, now).await.map(Some)
            }
        };
        match recorded {
            Ok(Some(CallbackFailure::Suspended)) => {
                self.registry.increment(&CALLBACK_DELIVERIES, "suspended");
                tracing::warn!(
                    "callback subscription suspended after repeated failures; put it again to \
                     resume"
                );
            }
            Ok(Some(_)) => self.registry.increment(&CALLBACK_DELIVERIES, "failed"),
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "recording a callback outcome failed"),
        }
    }

    /// Makes one callback.
    pub async fn call(&self, task: &CallbackTask) -> Result<(), CallbackError> {
        let mut url =
            validate_subscription(&task.callback_id, &task.url, self.settings.allow_private_hosts)?;
        let date = herald_model::Date::of(task.batch_created_at);
        url.query_pairs_mut()
            .append_pair("batchTag", task.batch_tag.as_str())
            .append_pair("date", &date.to_string());
        let host = match url.host() {
            Some(Host::Domain(d)) => d.to_owned(),
            Some(Host::Ipv4(a)) => a.to_string(),
            Some(Host::Ipv6(a)) => a.to_string(),
            None => return Err(CallbackUrlError::NoHost.into()),
        };
        let port = url.port_or_known_default().unwrap_or(443);
        let accepted = self.accepted_thumbprints(task.country, &host).await?;
        if accepted.is_empty() {
            return Err(CallbackError::Tls(format!(
                "no trusted {} certificate for this receiver",
                match self.settings.trust {
                    ReceiverTrust::Callback => "CALLBACK",
                    ReceiverTrust::EfgsCompatible => "AUTHENTICATION",
                }
            )));
        }
        let connector = self.connector(accepted)?;
        let name = ServerName::try_from(host.clone())
            .map_err(|e| CallbackError::Tls(format!("server name: {e}")))?;
        let tls = tokio::time::timeout(TIMEOUT, async {
            let stream: Box<dyn Stream> = match &self.settings.proxy {
                None => Box::new(
                    TcpStream::connect((host.as_str(), port))
                        .await
                        .map_err(|e| CallbackError::Io(format!("connect: {e}")))?,
                ),
                Some(proxy) => Box::new(tunnel(proxy, &host, port).await?),
            };
            connector.connect(name, stream).await.map_err(|e| CallbackError::Tls(e.to_string()))
        })
        .await
        .map_err(|_| CallbackError::Timeout)??;
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let request = Request::get(target)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .body(Empty::<Bytes>::new())
            .map_err(|e| CallbackError::Io(e.to_string()))?;
        let status = tokio::time::timeout(TIMEOUT, async {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| CallbackError::Io(e.to_string()))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let response =
                sender.send_request(request).await.map_err(|e| CallbackError::Io(e.to_string()))?;
            let status = response.status();
            // Read (and drop) the body so the receiver sees a complete exchange.
            let _ = response.into_body().collect().await;
            Ok::<_, CallbackError>(status)
        })
        .await
        .map_err(|_| CallbackError::Timeout)??;
        if status.is_success() { Ok(()) } else { Err(CallbackError::Status(status.as_u16())) }
    }

    /// The thumbprints a receiver of `country` at `host` may present, each from a trust-list
    /// entry that passes the trust-anchor check and is not revoked.
    async fn accepted_thumbprints(
        &self,
        country: CountryCode,
        host: &str,
    ) -> Result<Vec<CertThumbprint>, CallbackError> {
        let rows = self
            .store
            .trust_entries()
            .await
            .map_err(|e| CallbackError::Io(format!("trust list: {e}")))?;
        let wanted = |row: &TrustRow| match self.settings.trust {
            ReceiverTrust::Callback => {
                row.kind == TrustKind::Callback
                    && row.country == country
                    && row.host.as_deref().is_none_or(|h| h.eq_ignore_ascii_case(host))
            }
            ReceiverTrust::EfgsCompatible => row.kind == TrustKind::Authentication,
        };
        Ok(rows
            .into_iter()
            .filter(|row| !row.revoked && wanted(row))
            .filter(|row| crate::api::passes_anchor_check(&self.anchor, row, Some(&self.registry)))
            .map(|row| row.thumbprint)
            .collect())
    }

    fn connector(&self, accepted: Vec<CertThumbprint>) -> Result<TlsConnector, CallbackError> {
        // Receivers are pinned by thumbprint (see the module docs); CALLBACK entries must also
        // be valid for the host connected to.
        let verifier = herald_runtime::tls::pinned_server_verifier(
            accepted,
            self.settings.trust == ReceiverTrust::Callback,
        );
        let builder = rustls::ClientConfig::builder_with_provider(herald_runtime::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| CallbackError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &self.client {
            Some(client) => builder
                .with_client_auth_cert(client.chain.clone(), client.key.clone_key())
                .map_err(|e| CallbackError::Tls(e.to_string()))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConnector::from(Arc::new(config)))
    }
}

/// A byte stream TLS can run over: a TCP connection, or a tunnel through the callback proxy.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

/// A `CONNECT host:port` tunnel through `proxy` (RFC 9110 §9.3.6): any 2xx opens it.
async fn tunnel(
    proxy: &HttpProxy,
    host: &str,
    port: u16,
) -> Result<TokioIo<hyper::upgrade::Upgraded>, CallbackError> {
    let tcp = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .map_err(|e| CallbackError::Io(format!("connect to the callback proxy: {e}")))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| CallbackError::Io(format!("callback proxy: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    // An IPv6 literal is bracketed in the authority.
    let authority =
        if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let request = Request::connect(authority.as_str())
        .header(hyper::header::HOST, authority.as_str())
        .header(hyper::header::USER_AGENT, USER_AGENT)
        .body(Empty::<Bytes>::new())
        .map_err(|e| CallbackError::Io(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| CallbackError::Io(format!("callback proxy: {e}")))?;
    if !response.status().is_success() {
        return Err(CallbackError::Proxy(response.status().as_u16()));
    }
    let upgraded = hyper::upgrade::on(response)
        .await
        .map_err(|e| CallbackError::Io(format!("callback proxy tunnel: {e}")))?;
    Ok(TokioIo::new(upgraded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_urls() {
        let long_path = format!("https://nb.example/{}", "a".repeat(240));
        for (id, url, ok) in [
            ("cb", "https://nb.example/callback", true),
            ("cb", "https://nb.example:8443/a/b", true),
            ("cb", "https://8.8.8.8/cb", true),
            ("cb", "https://[2001:db8::1]/cb", true),
            ("cb", "http://nb.example/cb", false),
            ("cb", "https://nb.example/cb?x=1", false),
            ("cb", "https://nb.example/cb?", false),
            ("cb", "https://user:pw@nb.example/cb", false),
            ("cb", "not a url", false),
            ("cb", "https://", false),
            ("cb", long_path.as_str(), false),
            ("", "https://nb.example/cb", false),
            ("123456789012345678901234567890123", "https://nb.example/cb", false),
            ("12345678901234567890123456789012", "https://nb.example/cb", true),
            ("cb", "https://10.1.2.3/cb", false),
            ("cb", "https://127.0.0.1/cb", false),
            ("cb", "https://0177.0.0.1/cb", false),
            ("cb", "https://0x7f000001/cb", false),
            ("cb", "https://2130706433/cb", false),
            ("cb", "https://100.64.0.1/cb", false),
            ("cb", "https://100.127.255.255/cb", false),
            ("cb", "https://100.128.0.1/cb", true),
            ("cb", "https://169.254.169.254/cb", false),
            ("cb", "https://172.16.0.1/cb", false),
            ("cb", "https://172.31.255.255/cb", false),
            ("cb", "https://172.32.0.1/cb", true),
            ("cb", "https://192.168.1.1/cb", false),
            ("cb", "https://0.0.0.0/cb", false),
            ("cb", "https://[::1]/cb", false),
            ("cb", "https://[::]/cb", false),
            ("cb", "https://[fc00::1]/cb", false),
            ("cb", "https://[fd12::1]/cb", false),
            ("cb", "https://[fe80::1]/cb", false),
            ("cb", "https://[::ffff:10.0.0.1]/cb", false),
        ] {
            assert_eq!(validate_subscription(id, url, false).is_ok(), ok, "{id:?} {url}");
        }
        assert!(validate_subscription("cb", "https://127.0.0.1:1234/cb", true).is_ok());
        assert!(validate_subscription("cb", "http://127.0.0.1/cb", true).is_err());
    }

    #[test]
    fn proxy_urls() {
        for (text, parsed) in [
            ("http://proxy.internal:3128", Some(("proxy.internal", 3128))),
            ("http://proxy.internal:3128/", Some(("proxy.internal", 3128))),
            ("http://10.0.0.1", Some(("10.0.0.1", 80))),
            ("http://[2001:db8::1]:8080", Some(("2001:db8::1", 8080))),
            ("https://proxy.internal:3128", None),
            ("socks5://proxy.internal:1080", None),
            ("http://user:secret@proxy.internal:3128", None),
            ("http://proxy.internal:3128/path", None),
            ("http://proxy.internal:3128?x=1", None),
            ("proxy.internal:3128", None),
            ("", None),
        ] {
            let got = HttpProxy::parse(text).ok();
            assert_eq!(
                got.as_ref().map(|p| (p.host.as_str(), p.port)),
                parsed,
                "{text}: {:?}",
                HttpProxy::parse(text)
            );
        }
        let error = HttpProxy::parse("http://user:secret@proxy.internal:3128").unwrap_err();
        assert!(!error.contains("secret"), "{error}");
    }
}
