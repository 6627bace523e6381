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
//! - **Receivers are resolved when called, and internal addresses refused.** The subscription
//!   API refuses internal IP literals and `localhost` names but does no DNS (none in the request
//!   path). The worker resolves the host once per callback ([`Resolve`]), refuses it if any
//!   address is internal ([`internal_class`]: loopback, private, link-local, unspecified,
//!   multicast, CGNAT, reserved, and IPv6 forms carrying such an IPv4 address) unless
//!   `allow_private_callback_hosts`, and connects to exactly the addresses it checked, so a
//!   changed DNS answer cannot move the call inside; TLS verifies the URL's host name. A
//!   refused callback fails like any other (retried, suspended after the 6th failure), is
//!   counted as `refused` and logged with the address class, never the address.
//!
//! Callbacks may go through an HTTP proxy ([`HttpProxy`], config `callback_proxy`, as EFGS's
//! `https.proxyHost`): the worker resolves and checks the host as above, opens a
//! `CONNECT address:port` tunnel to the checked address and runs TLS through it, so the
//! receiver's certificate is checked exactly as on a direct connection.

mod address;
mod proxy;

pub use address::{AddressClass, Resolve, SystemResolver, internal_class, is_localhost_name};
pub use proxy::HttpProxy;
use proxy::tunnel;

use std::net::{IpAddr, SocketAddr};
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
    /// The host is `localhost` or a name under `.localhost`, which resolve to loopback.
    #[error("callback host is a localhost name")]
    LocalhostName,
    /// The host is an IP address in a private, loopback, link-local or otherwise internal
    /// range.
    #[error("callback host is a private or internal address")]
    PrivateAddress,
}

/// Checks a subscription (§1.5): the id has 1 to 32 characters; the URL parses, has at most 256
/// characters, is `https`, has a host, no query string and no credentials, and (unless
/// `allow_private_hosts`) its host is neither `localhost` nor a name under `.localhost`, nor an
/// IP literal that [`internal_class`] calls internal (0/8, 10/8, 100.64/10, 127/8, 169.254/16,
/// 172.16/12, 192.168/16, multicast and reserved ranges, ::, ::1, fc00::/7, fe80::/10, and IPv6
/// forms carrying such an IPv4 address). IPv4 in octal or hex notation is normalised by the
/// parser first. Other host names are not resolved here: the worker resolves and checks them
/// when it calls.
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
    let refusal = match parsed.host() {
        None => return Err(CallbackUrlError::NoHost),
        Some(Host::Domain(name)) => {
            is_localhost_name(name).then_some(CallbackUrlError::LocalhostName)
        }
        Some(Host::Ipv4(a)) => {
            internal_class(IpAddr::V4(a)).map(|_| CallbackUrlError::PrivateAddress)
        }
        Some(Host::Ipv6(a)) => {
            internal_class(IpAddr::V6(a)).map(|_| CallbackUrlError::PrivateAddress)
        }
    };
    match refusal {
        Some(refusal) if !allow_private_hosts => Err(refusal),
        _ => Ok(parsed),
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
    /// The host name does not resolve (or resolves to no address).
    #[error("callback host does not resolve: {0}")]
    Resolve(String),
    /// The host resolves to (or is) an internal address and private callback hosts are not
    /// allowed (`allow_private_callback_hosts`); nothing was sent.
    #[error(
        "callback host resolves to a {0} address; refused (allow_private_callback_hosts is off)"
    )]
    InternalAddress(AddressClass),
}

impl CallbackError {
    /// Whether the callback was refused because its host is (or resolves to) an internal
    /// address or a `localhost` name: nothing was sent.
    pub fn is_internal_host(&self) -> bool {
        matches!(
            self,
            Self::InternalAddress(_)
                | Self::Url(CallbackUrlError::PrivateAddress | CallbackUrlError::LocalhostName)
        )
    }
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
    /// Whether callbacks may go to `localhost` names and to hosts that are or resolve to
    /// internal addresses (dev and tests).
    pub allow_private_hosts: bool,
    /// The HTTP proxy to tunnel through, if any.
    pub proxy: Option<HttpProxy>,
    /// This process's name in leases.
    pub holder: String,
}

/// The callback worker: store, trust anchor, clock, client certificate, settings, resolver.
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
    /// Resolves receivers' host names, once per callback ([`SystemResolver`] in production).
    pub resolver: Arc<dyn Resolve>,
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
        let mut failure = "failed";
        let recorded = match outcome {
            Ok(()) => {
                tracing::info!("callback delivered");
                self.registry.increment(&CALLBACK_DELIVERIES, "ok");
                self.store.callback_succeeded(task.id).await.map(|()| None)
            }
            Err(e) if e.is_internal_host() => {
                // The error names the address class at most, never the address.
                tracing::warn!(error = %e, retries = task.retries, "callback refused: the receiver's host is internal");
                failure = "refused";
                self.store.callback_failed(task.id, now).await.map(Some)
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
            Ok(Some(_)) => self.registry.increment(&CALLBACK_DELIVERIES, failure),
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
        let (host, literal) = match url.host() {
            Some(Host::Domain(d)) => (d.to_owned(), None),
            Some(Host::Ipv4(a)) => (a.to_string(), Some(IpAddr::V4(a))),
            Some(Host::Ipv6(a)) => (a.to_string(), Some(IpAddr::V6(a))),
            None => return Err(CallbackUrlError::NoHost.into()),
        };
        let port = url.port_or_known_default().unwrap_or(443);
        // Resolved once, checked, and connected to as checked (see the module docs).
        let addresses = tokio::time::timeout(TIMEOUT, self.addresses(&host, literal, port))
            .await
            .map_err(|_| CallbackError::Timeout)??;
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
                None => Box::new(connect(&addresses).await?),
                Some(proxy) => Box::new(tunnel(proxy, &addresses).await?),
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

    /// The addresses to call for `host`: the IP literal itself, or the host name resolved once.
    /// Unless private hosts are allowed, refused if any address is internal.
    async fn addresses(
        &self,
        host: &str,
        literal: Option<IpAddr>,
        port: u16,
    ) -> Result<Vec<SocketAddr>, CallbackError> {
        let addresses = match literal {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => self
                .resolver
                .resolve(host, port)
                .await
                .map_err(|e| CallbackError::Resolve(e.to_string()))?,
        };
        if addresses.is_empty() {
            return Err(CallbackError::Resolve("no address".into()));
        }
        if !self.settings.allow_private_hosts
            && let Some(class) = addresses.iter().find_map(|a| internal_class(a.ip()))
        {
            return Err(CallbackError::InternalAddress(class));
        }
        Ok(addresses)
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

/// A TCP connection to the first of `addresses` that answers, in order.
async fn connect(addresses: &[SocketAddr]) -> Result<TcpStream, CallbackError> {
    let mut last = CallbackError::Resolve("no address".into());
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = CallbackError::Io(format!("connect: {e}")),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests;
