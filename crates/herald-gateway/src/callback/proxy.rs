//! Callbacks through an HTTP proxy (config `callback_proxy`, as EFGS's `https.proxyHost`):
//! a `CONNECT` tunnel to the receiver's checked address, TLS end to end through it.

use std::net::SocketAddr;

use axum::body::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use url::{Host, Url};

use super::{CallbackError, USER_AGENT};

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

/// A `CONNECT address:port` tunnel through `proxy` (RFC 9110 §9.3.6) to the first of the
/// checked `addresses` (the proxy does not resolve the name again): any 2xx opens it.
pub(super) async fn tunnel(
    proxy: &HttpProxy,
    addresses: &[SocketAddr],
) -> Result<TokioIo<hyper::upgrade::Upgraded>, CallbackError> {
    let Some(target) = addresses.first() else {
        return Err(CallbackError::Resolve("no address".into()));
    };
    let tcp = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .map_err(|e| CallbackError::Io(format!("connect to the callback proxy: {e}")))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| CallbackError::Io(format!("callback proxy: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    // `SocketAddr` brackets an IPv6 address.
    let authority = target.to_string();
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
