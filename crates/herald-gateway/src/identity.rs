//! Who is calling: the client certificate's SHA-256 thumbprint and the `C` of its subject
//! (efgs-gateway.md §1.1), taken from the mTLS handshake or, behind a trusted proxy, from the
//! `X-SSL-Client-SHA256` and `X-SSL-Client-DN` headers, or from a header carrying the whole
//! client certificate (`X-SSL-Client-Cert`, as EFGS PR #274 asked for).

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_model::{CertThumbprint, CountryCode, UnixTime};
use herald_runtime::PeerInfo;

/// The caller as the TLS layer or a trusted proxy saw it, before the trust list is consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// SHA-256 of the client certificate's DER.
    pub thumbprint: CertThumbprint,
    /// The subject's `C`, if it has exactly one.
    pub country: Option<CountryCode>,
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

/// Longest accepted certificate header value: a client certificate is 1 to 2 KiB of PEM; a
/// URL-encoded PEM of a large RSA certificate stays well below this.
pub const MAX_CERTIFICATE_HEADER_BYTES: usize = 16 * 1024;

/// The DER of the certificate in a proxy's certificate header: URL-encoded (percent-encoded)
/// PEM, as nginx's `$ssl_client_escaped_cert` gives, or standard Base64 of the DER
/// (percent-decoded first when it contains `%`). Of a PEM only the first certificate counts;
/// its line breaks may be any whitespace. `None` when it is neither.
pub fn certificate_from_header(value: &str) -> Option<Vec<u8>> {
    if value.len() > MAX_CERTIFICATE_HEADER_BYTES {
        return None;
    }
    let text = if value.contains('%') { percent_decode(value)? } else { value.to_owned() };
    let base64: String = match text.find("-----BEGIN") {
        Some(start) => {
            // Past the end of the BEGIN line ("-----BEGIN CERTIFICATE-----"), up to "-----END".
            let rest = text.get(start + "-----BEGIN".len()..)?;
            let body = rest.get(rest.find("-----")? + "-----".len()..)?;
            let label = rest.get(..rest.find("-----")?)?;
            if label.replace('+', " ").trim() != "CERTIFICATE" {
                return None;
            }
            body.get(..body.find("-----END")?)?
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect()
        }
        None => text.chars().filter(|c| !c.is_ascii_whitespace()).collect(),
    };
    STANDARD.decode(base64).ok().filter(|der| !der.is_empty())
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
    /// A load balancer terminates mTLS and forwards the client certificate, or its thumbprint
    /// and subject DN, in headers; they are believed only from these addresses.
    Proxy {
        /// Addresses of the proxies.
        trusted: Vec<IpAddr>,
        /// Header with the thumbprint (EFGS: `X-SSL-Client-SHA256`).
        thumbprint_header: String,
        /// Header with the subject DN (EFGS: `X-SSL-Client-DN`).
        dn_header: String,
        /// Header with the whole certificate (default `X-SSL-Client-Cert`); `None` ignores it.
        certificate_header: Option<String>,
    },
}

/// Why no identity could be established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityError {
    /// The certificate header does not hold a certificate, or holds one outside its validity
    /// period: 403.
    InvalidCertificate,
    /// The certificate header and the thumbprint or DN header name different certificates or
    /// countries: 403.
    Mismatch,
    /// No certificate, headers missing or from an untrusted address, or an unreadable hash: 403.
    Missing,
    /// The DN (or the certificate's subject) has no single `C`: 400.
    NoCountry,
}

impl AuthMode {
    /// The caller's identity from the connection and the request headers; `now` checks the
    /// validity period of a certificate forwarded in a header (the TLS layer checks the
    /// handshake's).
    ///
    /// Behind a proxy, from a trusted address only: when the certificate header is present, the
    /// gateway computes the thumbprint and reads `C` from the certificate itself, and a
    /// thumbprint or DN header sent alongside must name the same certificate and country
    /// ([`IdentityError::Mismatch`] otherwise); without it, both the thumbprint and the DN
    /// header are required, as in EFGS.
    pub fn identify(
        &self,
        peer: &PeerInfo,
        header: impl Fn(&str) -> Option<String>,
        now: UnixTime,
    ) -> Result<(CertThumbprint, CountryCode), IdentityError> {
        let identity = match self {
            Self::Mtls => {
                from_certificate(peer.certificate.as_deref().ok_or(IdentityError::Missing)?)
            }
            Self::Proxy { trusted, thumbprint_header, dn_header, certificate_header } => {
                let from_proxy = peer.remote.is_some_and(|ip| trusted.contains(&ip));
                if !from_proxy {
                    return Err(IdentityError::Missing);
                }
                let certificate = certificate_header.as_deref().and_then(&header);
                if let Some(value) = certificate {
                    from_certificate_header(
                        &value,
                        header(thumbprint_header).as_deref(),
                        header(dn_header).as_deref(),
                        now,
                    )?
                } else {
                    let hash = header(thumbprint_header).ok_or(IdentityError::Missing)?;
                    let dn = header(dn_header).ok_or(IdentityError::Missing)?;
                    let thumbprint = thumbprint_from_header(&hash).ok_or(IdentityError::Missing)?;
                    ClientIdentity { thumbprint, country: country_from_dn(&dn) }
                }
            }
        };
        Ok((identity.thumbprint, identity.country.ok_or(IdentityError::NoCountry)?))
    }
}

/// The identity of a certificate forwarded whole, cross-checked with the thumbprint and DN
/// headers when the proxy sent them too.
fn from_certificate_header(
    value: &str,
    thumbprint_header: Option<&str>,
    dn_header: Option<&str>,
    now: UnixTime,
) -> Result<ClientIdentity, IdentityError> {
    let der = certificate_from_header(value).ok_or(IdentityError::InvalidCertificate)?;
    let cert = herald_trust::Cert::from_der(&der).map_err(|_| IdentityError::InvalidCertificate)?;
    let validity = cert.x509().tbs_certificate().validity();
    let (Ok(not_before), Ok(not_after)) = (
        i64::try_from(validity.not_before.to_unix_duration().as_secs()),
        i64::try_from(validity.not_after.to_unix_duration().as_secs()),
    ) else {
        return Err(IdentityError::InvalidCertificate);
    };
    if now.seconds() < not_before || now.seconds() > not_after {
        return Err(IdentityError::InvalidCertificate);
    }
    let identity = ClientIdentity { thumbprint: cert.thumbprint(), country: cert.country().ok() };
    if let Some(hash) = thumbprint_header
        && thumbprint_from_header(hash) != Some(identity.thumbprint)
    {
        return Err(IdentityError::Mismatch);
    }
    if let Some(dn) = dn_header
        && country_from_dn(dn) != identity.country
    {
        return Err(IdentityError::Mismatch);
    }
    Ok(identity)
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
            certificate_header: Some("X-SSL-Client-Cert".into()),
        };
        let hex = "ab".repeat(32);
        let headers = |name: &str| match name {
            "X-SSL-Client-SHA256" => Some(hex.clone()),
            "X-SSL-Client-DN" => Some("CN=x,C=DE".to_owned()),
            _ => None,
        };
        let from = |ip: &str| PeerInfo { remote: Some(ip.parse().unwrap()), certificate: None };
        assert!(mode.identify(&from("10.0.0.1"), headers, UnixTime(0)).is_ok());
        assert_eq!(
            mode.identify(&from("10.0.0.2"), headers, UnixTime(0)),
            Err(IdentityError::Missing)
        );
        assert_eq!(
            mode.identify(&from("10.0.0.1"), |_| None, UnixTime(0)),
            Err(IdentityError::Missing)
        );
        let no_c = |name: &str| {
            if name == "X-SSL-Client-DN" { Some("CN=x".to_owned()) } else { headers(name) }
        };
        assert_eq!(
            mode.identify(&from("10.0.0.1"), no_c, UnixTime(0)),
            Err(IdentityError::NoCountry)
        );
        assert_eq!(
            AuthMode::Mtls.identify(&from("10.0.0.1"), headers, UnixTime(0)),
            Err(IdentityError::Missing)
        );
    }

    #[test]
    fn certificate_headers_in_every_form() {
        let der: Vec<u8> = (0..=255u8).cycle().take(700).collect();
        let b64 = STANDARD.encode(&der);
        let lines: Vec<String> =
            b64.as_bytes().chunks(64).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        );
        // nginx's $ssl_client_escaped_cert: every reserved character percent-encoded.
        let escaped: String = pem
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'-' {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let form_encoded: String = url::form_urlencoded::byte_serialize(pem.as_bytes()).collect();
        let one_line = pem.replace('\n', " ");
        let chain = format!("{pem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        for (name, value) in [
            ("pem", pem.as_str()),
            ("escaped pem", &escaped),
            ("form-encoded pem", &form_encoded),
            ("pem on one line", &one_line),
            ("first of a chain", &chain),
            ("base64 der", &b64),
            ("percent-encoded base64 der", &b64.replace('+', "%2B").replace('/', "%2F")),
        ] {
            assert_eq!(certificate_from_header(value).as_deref(), Some(der.as_slice()), "{name}");
        }
        let key = pem.replace("CERTIFICATE", "PRIVATE KEY");
        let huge = "A".repeat(MAX_CERTIFICATE_HEADER_BYTES + 4);
        for bad in ["", "%zz", "not base64!", "-----BEGIN CERTIFICATE-----\nAAAA", &key, &huge] {
            assert_eq!(certificate_from_header(bad), None, "{bad:.40}");
        }
    }
}
