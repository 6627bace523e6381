//! Why a service could not start, one error for the services whose start fails only this way:
//! a setting (or a file it names) is unusable, a listener could not be bound, or a part the
//! service opens itself (its database, the key server's export object store) failed. The service
//! names that part's error as the type parameter; every message is the cause's own. (The
//! key server and the verifier use it; the gateway's start fails in ways of its own: trust
//! anchor, at-rest keys, callback client, and keeps its own enum.)

use std::fmt::Display;
use std::path::Path;

use herald_service::config::ConfigError;

use crate::server::BindError;

/// Why a service could not start; `E` is the error of what the service opens itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError<E> {
    /// A listener could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// A setting, or a key or certificate file it names, is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database (or another part the service opens) could not be opened or migrated.
    #[error(transparent)]
    Open(E),
}

impl<E> StartError<E> {
    /// A part of the service could not be opened: `Open` from anything that converts into `E`
    /// (`Store::open(…).await.map_err(StartError::open)?`).
    pub fn open(error: impl Into<E>) -> Self {
        Self::Open(error.into())
    }
}

/// A setting is unusable because of `problem`: the one way a service builds
/// [`StartError::Config`] for a setting.
pub fn invalid<E>(setting: &str, problem: impl Display) -> StartError<E> {
    StartError::Config(ConfigError::invalid(setting, problem))
}

/// The text of a file a setting names (a key, a certificate).
pub fn read<E>(path: &Path) -> Result<String, StartError<E>> {
    Ok(herald_service::config::read_file(path)?)
}

/// The listener's TLS configuration from a service's `[tls]` files (no client certificates),
/// `None` without them (plain HTTP behind a TLS-terminating proxy).
pub fn server_tls<E>(
    files: Option<&herald_service::config::TlsFiles>,
) -> Result<Option<std::sync::Arc<rustls::ServerConfig>>, StartError<E>> {
    server_tls_with_client_ca(files, None)
}

/// As [`server_tls`], and with `client_ca` (a PEM file of CA certificates) the listener also
/// takes client certificates issued by those CAs ([`crate::tls::ClientCertificates::TrustedCa`]).
pub fn server_tls_with_client_ca<E>(
    files: Option<&herald_service::config::TlsFiles>,
    client_ca: Option<&Path>,
) -> Result<Option<std::sync::Arc<rustls::ServerConfig>>, StartError<E>> {
    let Some(files) = files else {
        return match client_ca {
            Some(_) => Err(invalid("client_ca_file", "client certificates need [tls]")),
            None => Ok(None),
        };
    };
    let ca_pem = client_ca.map(read).transpose()?;
    let clients = match &ca_pem {
        Some(pem) => crate::tls::ClientCertificates::TrustedCa(pem),
        None => crate::tls::ClientCertificates::None,
    };
    let config = crate::tls::server_config(&read(&files.certificate)?, &read(&files.key)?, clients)
        .map_err(|e| invalid(if ca_pem.is_some() { "tls or client_ca_file" } else { "tls" }, e))?;
    Ok(Some(config))
}
