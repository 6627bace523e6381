//! One row of the trust list: a country's certificate, what it is trusted for, and the
//! operator's signature over its exact PEM text (efgs-gateway.md §4.3).

use std::fmt;
use std::str::FromStr;

use herald_model::{CertThumbprint, CountryCode};

use crate::TrustError;

/// What a trust-list certificate is trusted for (the EFGS `certificate.type` column, §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrustKind {
    /// The national backend's mTLS client certificate.
    Authentication,
    /// The national backend's batch-signing certificate.
    Signing,
    /// The national backend's callback server certificate.
    Callback,
}

impl TrustKind {
    /// Every kind, in the order above.
    pub const ALL: [Self; 3] = [Self::Authentication, Self::Signing, Self::Callback];

    /// `AUTHENTICATION`, `SIGNING` or `CALLBACK`, as EFGS stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authentication => "AUTHENTICATION",
            Self::Signing => "SIGNING",
            Self::Callback => "CALLBACK",
        }
    }

    /// The inverse of [`as_str`](Self::as_str); exact, upper case.
    pub fn parse(text: &str) -> Result<Self, TrustError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| TrustError::UnknownKind { value: text.chars().take(32).collect() })
    }
}

impl FromStr for TrustKind {
    type Err = TrustError;

    fn from_str(text: &str) -> Result<Self, TrustError> {
        Self::parse(text)
    }
}

impl fmt::Display for TrustKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One trust-list entry, as the gateway stores it and as trust-list files carry it.
///
/// The operator signature covers **only** the exact bytes of `certificate_pem`, as in EFGS;
/// `thumbprint` and `country` are bound to it because the integrity check recomputes them from
/// the certificate. `kind`, `revoked` and `host` are *not* covered: whoever can write the
/// store can change them (EFGS has the same property; revocation is policy, not integrity).
///
/// Build entries with [`TrustAnchor::sign_entry`](crate::TrustAnchor::sign_entry), check them
/// with [`AnchorCertificate::verify_entry`](crate::AnchorCertificate::verify_entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustEntry {
    /// The country the certificate belongs to; equal to its subject's `C`.
    pub country: CountryCode,
    /// What the certificate is trusted for.
    pub kind: TrustKind,
    /// The exact PEM text of the certificate (LF line endings), the bytes the operator signed.
    pub certificate_pem: String,
    /// SHA-256 of the certificate's DER.
    pub thumbprint: CertThumbprint,
    /// The trust anchor's signature over `certificate_pem`, standard Base64 on one line.
    pub operator_signature: String,
    /// Whether the operator revoked the certificate. Revoked entries still pass the integrity
    /// check; the caller's policy refuses them.
    pub revoked: bool,
    /// The host a CALLBACK certificate serves (EFGS `host`, at most 256 characters there).
    pub host: Option<String>,
}
