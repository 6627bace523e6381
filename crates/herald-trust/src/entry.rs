//! One row of the trust list: a country's certificate, what it is trusted for, the operator's
//! signature over its exact PEM text (efgs-gateway.md §4.3), and herald's second operator
//! signature over the whole entry ([`TrustEntry::signed_fields`]).

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
/// It carries two signatures of the trust anchor:
/// - `operator_signature`, EFGS's: over the exact bytes of `certificate_pem` only. `thumbprint`
///   and `country` are bound to it because the integrity check recomputes them from the
///   certificate, but `kind`, `revoked` and `host` are not. It is kept unchanged so that what
///   the gateway serves and accepts as EFGS does still verifies with EFGS's rule (the audit
///   `*OperatorSignature` fields, EFGS-shaped trust lists).
/// - `entry_signature`, herald's: over [`signed_fields`](Self::signed_fields), which binds the
///   country, kind, thumbprint, revocation flag and host. Whoever can write the store but does
///   not hold the anchor key cannot turn a SIGNING entry into an AUTHENTICATION entry, move a
///   CALLBACK entry to another host, or un-revoke a certificate. `None` for an entry in EFGS's
///   shape (no such field) or stored before herald signed whole entries; herald's gateway
///   refuses such entries until the operator signs them.
///
/// Build entries with [`TrustAnchor::sign_entry`](crate::TrustAnchor::sign_entry) (and
/// [`TrustAnchor::resign`](crate::TrustAnchor::resign) to revoke), check them with
/// [`AnchorCertificate::verify_entry`](crate::AnchorCertificate::verify_entry) (both signatures)
/// or [`AnchorCertificate::verify_efgs_entry`](crate::AnchorCertificate::verify_efgs_entry)
/// (EFGS's check only).
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
    /// check; the caller's policy refuses them. Covered by `entry_signature`: only the
    /// operator can revoke (or un-revoke).
    pub revoked: bool,
    /// The host a CALLBACK certificate serves (EFGS `host`, at most 256 characters there).
    pub host: Option<String>,
    /// The trust anchor's signature over [`signed_fields`](Self::signed_fields), standard
    /// Base64 on one line; `None` if the entry has none (see above).
    pub entry_signature: Option<String>,
}

/// The domain-separation label (with its version) at the start of the bytes an entry signature
/// covers: no other herald or EFGS signature of the trust anchor starts with these bytes.
pub const ENTRY_SIGNATURE_LABEL: &str = "herald-trust-entry/v1";

impl TrustEntry {
    /// The bytes `entry_signature` covers, version 1. With `str(b)` = the length of `b` as a
    /// 4-byte unsigned big-endian integer followed by `b`, they are, in this order:
    ///
    /// 1. `str("herald-trust-entry/v1")` ([`ENTRY_SIGNATURE_LABEL`], ASCII);
    /// 2. `str(country)`: the two upper-case ASCII letters;
    /// 3. `str(kind)`: `AUTHENTICATION`, `SIGNING` or `CALLBACK` (ASCII);
    /// 4. `str(thumbprint)`: the 32 bytes of the SHA-256 of the certificate's DER (raw, not hex);
    /// 5. `str(revoked)`: one byte, `0x01` if revoked, `0x00` if not;
    /// 6. the host: the single byte `0x00` if there is none, else the byte `0x01` followed by
    ///    `str(host)` (its UTF-8 bytes, exactly as stored; no case folding).
    ///
    /// Every variable field is length-prefixed and the host comes last with its own marker, so
    /// the encoding is injective: two entries that differ in any covered field have different
    /// bytes. The signature is made like `operator_signature`: SHA-256 and the anchor's key
    /// (ECDSA P-256 as a DER `Ecdsa-Sig-Value`, or RSASSA-PKCS1-v1_5), Base64 on one line, so
    /// `openssl dgst -sha256 -sign anchor.key fields.bin | base64 -w0` reproduces it (for RSA,
    /// byte for byte). The certificate text is not repeated here: the thumbprint binds its
    /// DER, and `operator_signature` its exact PEM bytes.
    pub fn signed_fields(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        put_str(&mut out, ENTRY_SIGNATURE_LABEL.as_bytes());
        put_str(&mut out, self.country.as_str().as_bytes());
        put_str(&mut out, self.kind.as_str().as_bytes());
        put_str(&mut out, &self.thumbprint.0);
        put_str(&mut out, &[u8::from(self.revoked)]);
        match &self.host {
            None => out.push(0),
            Some(host) => {
                out.push(1);
                put_str(&mut out, host.as_bytes());
            }
        }
        out
    }
}

/// Appends `bytes` with its length as a 4-byte big-endian prefix. Every field is far shorter
/// than 4 GiB (a host has at most a few hundred bytes), so the prefix is exact; it saturates
/// rather than wraps for a length no entry can have.
fn put_str(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}
