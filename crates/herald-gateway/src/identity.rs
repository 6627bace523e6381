//! Who is calling: the client certificate's SHA-256 thumbprint and the `C` of its subject
//! (efgs-gateway.md §1.1), taken from the mTLS handshake or, behind a trusted proxy, from the
//! `X-SSL-Client-SHA256` and `X-SSL-Client-DN` headers.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_model::{CertThumbprint, CountryCode};

/// The caller as the TLS layer or a trusted proxy saw it, before the trust list is consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// SHA-256 of the client certificate's DER.
    pub thumbprint: CertThumbprint,
    /// The subject's `C`, if it has exactly one.
    pub country: Option<CountryCode>,
}

/// What the connection carried, attached to every request by the server.
#[derive(Debug, Clone, Default)]
pub struct PeerInfo {
    /// The address of the TCP peer (the proxy, in proxy mode).
    pub remote: Option<IpAddr>,
    /// The client certificate presented in the TLS handshake, DER.
    pub certificate: Option<Vec<u8>>,
}

/// Identity from a DER certificate presented in the handshake.
pub fn from_certificate(der: &[u8]) -> ClientIdentity {
    let thumbprint = herald_trust::thumbprint(der);
    let country = herald_trust::Cert::from_der(der).ok().and_then(|c| c.country().ok());
    ClientIdentity { thumbprint, country }
}

/// Normalises `X-SSL-Client-SHA256`: 64 hex digits (either case), or standard Base64 of the 32
/// bytes (percent-decoded first when it contains `%`). Always exactly 64 lowercase hex digits,
/// unlike the reference, which loses a leading zero byte.
pub fn thumbprint_from_header(value: &str) -> Option<CertThumbprint> {
    let value = value.trim();
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return CertThumbprint::from_hex(value).ok();
    }
    let decoded = if value.contains('%') { percent_decode(value)? } else { value.to_owned() };
    let bytes = STANDARD.decode(decoded.trim()).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok().map(CertThumbprint)
}

/// The `C` of an `X-SSL-Client-DN` value in RFC 2253 / nginx style (`CN=..,O=..,C=DE`):
/// percent-decoded as UTF-8, split on `,` and `=`, keys trimmed and upper-cased, first
/// occurrence wins (the reference's parser).
pub fn country_from_dn(dn: &str) -> Option<CountryCode> {
    let dn = percent_decode(dn)?;
    dn.split(',')
        .filter_map(|part| {
            let mut kv = part.split('=');
            let (k, v) = (kv.next()?, kv.next()?);
            kv.next().is_none().then(|| (k.trim().to_ascii_uppercase(), v.trim().to_owned()))
        })
        .find(|(k, _)| k == "C")
        .and_then(|(_, v)| v.parse().ok())
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// How callers are identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// herald terminates mTLS itself.
    Mtls,
    /// A load balancer terminates mTLS and forwards the two headers; they are believed only from
    /// these addresses.
    Proxy {
        /// Addresses of the proxies.
        trusted: Vec<IpAddr>,
        /// Header with the thumbprint (EFGS: `X-SSL-Client-SHA256`).
        thumbprint_header: String,
        /// Header with the subject DN (EFGS: `X-SSL-Client-DN`).
        dn_header: String,
    },
}

/// Why no identity could be established (both map to the reference's statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityError {
    /// No certificate, headers missing or from an untrusted address, or an unreadable hash: 403.
    Missing,
    /// The DN has no `C`: 400.
    NoCountry,
}

impl AuthMode {
    /// The caller's identity from the connection and the request headers.
    pub fn identify(
        &self,
        peer: &PeerInfo,
        header: impl Fn(&str) -> Option<String>,
    ) -> Result<(CertThumbprint, CountryCode), IdentityError> {
        let identity = match self {
            Self::Mtls => {
                from_certificate(peer.certificate.as_deref().ok_or(IdentityError::Missing)?)
            }
            Self::Proxy { trusted, thumbprint_header, dn_header } => {
                let from_proxy = peer.remote.is_some_and(|ip| trusted.contains(&ip));
                if !from_proxy {
                    return Err(IdentityError::Missing);
                }
                let hash = header(thumbprint_header).ok_or(IdentityError::Missing)?;
                let dn = header(dn_header).ok_or(IdentityError::Missing)?;
                let thumbprint = thumbprint_from_header(&hash).ok_or(IdentityError::Missing)?;
                ClientIdentity { thumbprint, country: country_from_dn(&dn) }
            }
        };
        Ok((identity.thumbprint, identity.country.ok_or(IdentityError::NoCountry)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_headers_in_both_forms() {
        let hex = format!("00{}", "ab".repeat(31));
        let t = thumbprint_from_header(&hex).unwrap();
        assert_eq!(t.to_hex(), hex);
        assert_eq!(thumbprint_from_header(&hex.to_uppercase()), Some(t));
        let b64 = STANDARD.encode(t.0);
        assert_eq!(thumbprint_from_header(&b64), Some(t));
        assert_eq!(
            thumbprint_from_header(
                &b64.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
            ),
            Some(t)
        );
        for bad in ["", "abc", &"zz".repeat(32), "AAAA", "%zz"] {
            assert_eq!(thumbprint_from_header(bad), None, "{bad}");
        }
    }

    #[test]
    fn dn_parsing_follows_the_reference() {
        for (dn, c) in [
            ("CN=herald DE,O=herald,C=DE", Some("DE")),
            ("c=nl, o=x", Some("NL")),
            ("CN=a%2Cb,C%3DFR", Some("FR")),
            ("C=DE,C=NL", Some("DE")),
            ("/C=DE/CN=x", None),
            ("CN=x", None),
            ("C=D1", None),
        ] {
            assert_eq!(country_from_dn(dn), c.map(|c| c.parse().unwrap()), "{dn}");
        }
    }

    #[test]
    fn proxy_headers_only_from_trusted_addresses() {
        let mode = AuthMode::Proxy {
            trusted: vec!["10.0.0.1".parse().unwrap()],
            thumbprint_header: "X-SSL-Client-SHA256".into(),
            dn_header: "X-SSL-Client-DN".into(),
        };
        let hex = "ab".repeat(32);
        let headers = |name: &str| match name {
            "X-SSL-Client-SHA256" => Some(hex.clone()),
            "X-SSL-Client-DN" => Some("CN=x,C=DE".to_owned()),
            _ => None,
        };
        let from = |ip: &str| PeerInfo { remote: Some(ip.parse().unwrap()), certificate: None };
        assert!(mode.identify(&from("10.0.0.1"), headers).is_ok());
        assert_eq!(mode.identify(&from("10.0.0.2"), headers), Err(IdentityError::Missing));
        assert_eq!(mode.identify(&from("10.0.0.1"), |_| None), Err(IdentityError::Missing));
        let no_c = |name: &str| {
            if name == "X-SSL-Client-DN" { Some("CN=x".to_owned()) } else { headers(name) }
        };
        assert_eq!(mode.identify(&from("10.0.0.1"), no_c), Err(IdentityError::NoCountry));
        assert_eq!(
            AuthMode::Mtls.identify(&from("10.0.0.1"), headers),
            Err(IdentityError::Missing)
        );
    }
}
