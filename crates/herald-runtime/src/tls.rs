//! TLS for every service, on rustls with the build's one crypto provider (aws-lc-rs):
//! - [`server_config`]: a listener's configuration from PEM text, TLS 1.2 and 1.3, HTTP/2 and
//!   HTTP/1.1, with or without asking for client certificates ([`ClientCertificates`]);
//! - [`client_config`]: a client's, trusting given CA certificates and optionally presenting a
//!   client certificate;
//! - [`check_validity`]: a certificate's validity period, for custom verifiers.

use std::sync::Arc;
use std::time::Duration;

use herald_model::CertThumbprint;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime as PkiTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

/// Why the TLS setup failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate or key PEM could not be read.
    #[error("TLS certificate or key: {0}")]
    Pem(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// The handshake-signature methods every verifier here shares (proof of possession of the
/// certificate's key, with the provider's algorithms): `self.provider` is the provider.
macro_rules! handshake_signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider.signature_verification_algorithms.supported_schemes()
        }
    };
}

/// Requests a client certificate without requiring one (so `OPTIONS` and 403s work without
/// one), checks the handshake signature (proof of possession) and the validity period, and
/// leaves *who* the certificate is to the trust list: EFGS pins certificates by thumbprint,
/// never by chain (efgs-gateway.md §3.3, §4).
#[derive(Debug)]
struct PinnedByThumbprint {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PinnedByThumbprint {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: PkiTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        check_validity(end_entity, now)?;
        Ok(ClientCertVerified::assertion())
    }

    handshake_signatures!();
}

/// A client's verifier of servers pinned by thumbprint rather than by chain: the leaf's SHA-256
/// must be one of `accepted`, the certificate within its validity period and its key proven in
/// the handshake; with `check_host`, it must also be valid for the name connected to. (The
/// gateway's callbacks reach subscribers this way.)
pub fn pinned_server_verifier(
    accepted: Vec<CertThumbprint>,
    check_host: bool,
) -> Arc<dyn ServerCertVerifier> {
    Arc::new(PinnedServer { provider: provider(), accepted, check_host })
}

#[derive(Debug)]
struct PinnedServer {
    provider: Arc<CryptoProvider>,
    accepted: Vec<CertThumbprint>,
    check_host: bool,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: PkiTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let thumbprint = herald_trust::thumbprint(end_entity.as_ref());
        if !self.accepted.contains(&thumbprint) {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        }
        check_validity(end_entity, now)?;
        if self.check_host {
            let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_name(&parsed, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    handshake_signatures!();
}

/// Refuses a certificate that does not parse or is outside its validity period at `now`.
pub fn check_validity(end_entity: &CertificateDer<'_>, now: PkiTime) -> Result<(), rustls::Error> {
    let cert = herald_trust::Cert::from_der(end_entity.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?;
    let validity = &cert.x509().tbs_certificate().validity();
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let not_before = unix(validity.not_before.to_unix_duration());
    let not_after = unix(validity.not_after.to_unix_duration());
    if now < not_before {
        return Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidYet));
    }
    if now > not_after {
        return Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired));
    }
    Ok(())
}

fn unix(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Whether a listener asks for client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCertificates<'a> {
    /// Never (app-facing APIs, portals).
    None,
    /// Asked for but optional, checked for proof of possession and validity only: who the
    /// caller is, is decided by the service from the certificate's thumbprint (EFGS pins
    /// certificates, never chains). The certificate travels with each request in
    /// [`crate::server::PeerInfo`].
    PinnedByThumbprint,
    /// Asked for but optional; when one is presented, its chain must lead to one of the CA
    /// certificates in this PEM text (webpki path validation: validity, key usage for client
    /// auth, signatures), else the handshake fails. Which organisation it is, the service
    /// decides from [`crate::server::PeerInfo`]; a client without one may still use other
    /// credentials.
    TrustedCa(&'a str),
}

/// The one crypto provider of the build.
///
/// aws-lc-rs's suites, TLS 1.3's `TLS_AES_128_GCM_SHA256` first (rustls lists
/// `TLS_AES_256_GCM_SHA384` first): phones' TLS stacks (BoringSSL, Apple's) ask for it first too,
/// and SHA-256 runs on the CPU's SHA extensions where SHA-384 does not, so the handshake's key
/// schedule costs a fraction (it was 7 % of all CPU time under `herald bench publish`).
pub fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .sort_by_key(|suite| suite.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    Arc::new(provider)
}

fn certificate_chain(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Pem("no certificate in the PEM".into()));
    }
    Ok(certs)
}

fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| TlsError::Pem(e.to_string()))
}

/// A TLS server configuration from a PEM certificate chain and its key (PKCS#8, SEC1 or PKCS#1).
pub fn server_config(
    cert_pem: &str,
    key_pem: &str,
    clients: ClientCertificates<'_>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = certificate_chain(cert_pem)?;
    let key = private_key(key_pem)?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = match clients {
        ClientCertificates::None => builder.with_no_client_auth().with_single_cert(certs, key)?,
        ClientCertificates::PinnedByThumbprint => builder
            .with_client_cert_verifier(Arc::new(PinnedByThumbprint { provider }))
            .with_single_cert(certs, key)?,
        ClientCertificates::TrustedCa(ca_pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in certificate_chain(ca_pem)? {
                roots.add(ca)?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| TlsError::Pem(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier).with_single_cert(certs, key)?
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TLS client configuration that trusts the CA certificates in `ca_pem` and presents
/// `client` (certificate chain PEM, key PEM) when given; HTTP/1.1.
pub fn client_config(
    ca_pem: &str,
    client: Option<(&str, &str)>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| TlsError::Pem(e.to_string()))?;
        roots.add(cert)?;
    }
    if roots.is_empty() {
        return Err(TlsError::Pem("no CA certificate in the PEM".into()));
    }
    client_config_with(roots, client)
}

/// A client's configuration trusting the operating system's CA certificates (on Linux the
/// OpenSSL locations, `SSL_CERT_FILE` and `SSL_CERT_DIR` honoured): for public HTTPS endpoints
/// whose CA is not configured. Unreadable system certificates are skipped; none at all is an
/// error that says so.
pub fn system_client_config(
    client: Option<(&str, &str)>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(TlsError::Pem(
            "no system CA certificate found (install ca-certificates, set SSL_CERT_FILE, or \
             configure the CA explicitly)"
                .into(),
        ));
    }
    client_config_with(roots, client)
}

fn client_config_with(
    roots: rustls::RootCertStore,
    client: Option<(&str, &str)>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = match client {
        Some((cert_pem, key_pem)) => {
            builder.with_client_auth_cert(certificate_chain(cert_pem)?, private_key(key_pem)?)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Phones ask for TLS 1.3's AES-128-GCM with SHA-256 first, and so do herald's own
    /// clients; every other suite of aws-lc-rs stays available.
    #[test]
    fn tls13_aes_128_gcm_sha256_comes_first() {
        let ours = provider();
        assert_eq!(ours.cipher_suites[0].suite(), rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
        let all = rustls::crypto::aws_lc_rs::default_provider();
        assert_eq!(ours.cipher_suites.len(), all.cipher_suites.len());
    }

    #[test]
    fn bad_pem_says_so() {
        let err =
            server_config("not a certificate", "not a key", ClientCertificates::None).unwrap_err();
        assert!(err.to_string().starts_with("TLS certificate or key:"), "{err}");
        let err = client_config("", None).unwrap_err();
        assert!(err.to_string().contains("no CA certificate"), "{err}");
    }
}
