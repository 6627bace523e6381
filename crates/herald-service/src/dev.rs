//! The dev world's shared names and errors (specs/dev-world.md): what a country's dev verifier
//! and dev key server must agree on without depending on each other.

use std::path::Path;

use herald_model::CountryCode;

/// Why a dev folder could not be prepared.
#[derive(Debug, thiserror::Error)]
#[error("dev folder {path}: {reason}")]
pub struct DevError {
    /// The file or folder.
    pub path: String,
    /// Why.
    pub reason: String,
}

impl DevError {
    /// The error of `path`.
    pub fn at(path: &Path, reason: impl std::fmt::Display) -> Self {
        Self { path: path.display().to_string(), reason: reason.to_string() }
    }
}

/// The verification-certificate issuer of a country's dev verifier.
pub fn dev_issuer(country: CountryCode) -> String {
    format!("herald-verifier-{}", country.as_str().to_ascii_lowercase())
}

/// The audience a country's dev verifier puts in certificates for its key server.
pub fn dev_audience(country: CountryCode) -> String {
    format!("herald-keyserver-{}", country.as_str().to_ascii_lowercase())
}

/// The healthAuthorityID of a country's dev app.
pub fn dev_app_id(country: CountryCode) -> String {
    format!("{}.herald.app", country.as_str().to_ascii_lowercase())
}
