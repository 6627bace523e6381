//! The TLS configuration of a service's listener: its certificate chain and key (PEM), TLS 1.2
//! and 1.3 with the one crypto provider of the build (aws-lc-rs), HTTP/2 and HTTP/1.1.

use std::sync::Arc;

/// A rustls server configuration from PEM text; the error says what was wrong.
pub fn server_tls(cert_pem: &str, key_pem: &str) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |e: &dyn std::fmt::Display| format!("TLS certificate or key: {e}");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(&e))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| invalid(&e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    #[test]
    fn bad_pem_says_so() {
        let err = super::server_tls("not a certificate", "not a key").unwrap_err();
        assert!(err.starts_with("TLS certificate or key:"), "{err}");
    }
}
