//! Detached CMS `SignedData` (RFC 5652): the EFGS `batchSignature` container
//! (specs/efgs-gateway.md §3.2).
//!
//! [`sign_detached`] writes what the BouncyCastle signers of the national backends write: one
//! SignerInfo identified by issuerAndSerialNumber, SHA-256, signed attributes (contentType,
//! signingTime, messageDigest), no eContent, and the signing certificate as the only entry of
//! `certificates`. Keys are ECDSA P-256 or RSA (PKCS#1 v1.5, at least 2048 bits), loaded from
//! PEM by [`SigningIdentity`]. The signing time is a parameter and the randomness is injected:
//! ECDSA signatures are hedged RFC 6979, RSA signing is blinded.
//!
//! [`verify_detached`] is herald's own verifier (the `cms` crate has none). It takes the first
//! SignerInfo, finds the certificate matching its SID (issuerAndSerialNumber or
//! subjectKeyIdentifier) among `certificates`, and then:
//! - with signed attributes: requires exactly one contentType (equal to the eContentType) and
//!   exactly one messageDigest equal to SHA-256 of the content, and verifies the signature over
//!   the DER encoding of the attributes as a `SET OF`;
//! - without them: verifies the signature over the content itself.
//!
//! Supported are SHA-256 with ECDSA P-256 (`ecdsa-with-SHA256`, or `id-ecPublicKey` as some
//! signers write it) and RSA PKCS#1 v1.5 (`rsaEncryption` as OpenSSL writes it, or
//! `sha256WithRSAEncryption` as BouncyCastle does), RSA keys of 2048 bits or more. RSA-PSS and
//! other digests are refused as unsupported.
//!
//! **Encoding policy.** Input must be DER, as EFGS specifies (§3.2). BER, in particular the
//! indefinite lengths that streaming signers emit, is refused with [`CmsError::Ber`]; nothing is
//! re-encoded to make it fit. A SignedData that carries its content (not detached) is refused
//! too. Certificate chains, validity periods and key usages are not checked here: EFGS pins the
//! signing certificate by thumbprint (§3.3), and [`VerifiedSigner`] hands the caller what it needs
//! for that.

use der::asn1::{ObjectIdentifier, SetOfVec};
use der::{Any, ErrorKind};
use herald_model::{CertThumbprint, CountryCode, UnixTime};
use sha2::Sha256;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::time::Time;

mod identity;
mod sign;
mod verify;

pub use sign::sign_detached;
pub use verify::verify_detached;

/// Smallest RSA modulus herald signs with or accepts (EFGS SecReq-042).
pub const MIN_RSA_BITS: u32 = 2048;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// Why a CMS signature could not be made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// The input uses BER indefinite lengths.
    #[error("cms uses ber indefinite-length encoding; only der is accepted")]
    Ber,
    /// The input is not a DER ContentInfo/SignedData.
    #[error("cms is malformed: {0}")]
    Malformed(String),
    /// The ContentInfo holds something other than SignedData.
    #[error("cms content type is {0}, expected signed-data")]
    NotSignedData(String),
    /// The SignedData carries its content; only detached signatures are accepted.
    #[error("cms carries encapsulated content; a detached signature is expected")]
    NotDetached,
    /// There is no SignerInfo.
    #[error("cms has no signer")]
    NoSigner,
    /// No certificate in the SignedData matches the signer's identifier.
    #[error("no certificate in the cms matches the signer")]
    CertificateNotFound,
    /// The signer's certificate is not the one the caller expects.
    #[error("the signer certificate is not the expected certificate")]
    UnexpectedCertificate,
    /// The signed attributes are incomplete or contradictory.
    #[error("signed attribute {attribute} {problem}")]
    Attributes {
        /// The attribute's name (`contentType`, `messageDigest`, `signingTime`).
        attribute: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The messageDigest attribute does not match the content.
    #[error("message digest does not match the content")]
    DigestMismatch,
    /// The signature does not verify with the signer's public key.
    #[error("signature does not verify")]
    BadSignature,
    /// A digest or signature algorithm, or key type, herald does not support.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// An RSA key below [`MIN_RSA_BITS`].
    #[error("rsa key has {0} bits; at least 2048 are required")]
    WeakRsaKey(u32),
    /// A certificate that cannot be read.
    #[error("certificate is invalid: {0}")]
    Certificate(String),
    /// A private key that cannot be read.
    #[error("private key is invalid: {0}")]
    PrivateKey(String),
    /// The private key does not belong to the certificate.
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    /// A signing time that CMS cannot express (before 1970).
    #[error("signing time {0} cannot be encoded")]
    SigningTime(i64),
    /// Signing or encoding failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A signing certificate with its private key.
pub struct SigningIdentity {
    certificate: SignerCertificate,
    key: PrivateKey,
}

/// The two key types herald signs with.
enum PrivateKey {
    EcdsaP256(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
}

/// A parsed X.509 certificate together with its exact DER bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SignerCertificate {
    der: Vec<u8>,
    certificate: Certificate,
}

/// What a successful verification established about the signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSigner {
    /// The signer's certificate, DER.
    pub certificate_der: Vec<u8>,
    /// SHA-256 of [`Self::certificate_der`]: what EFGS pins.
    pub thumbprint: CertThumbprint,
    /// The certificate subject's `C`, if it has exactly one valid country attribute.
    pub subject_country: Option<CountryCode>,
    /// The certificate's notBefore.
    pub not_before: UnixTime,
    /// The certificate's notAfter.
    pub not_after: UnixTime,
    /// The signingTime attribute, when signed attributes carry one.
    pub signing_time: Option<UnixTime>,
    /// Which algorithm signed.
    pub algorithm: SignatureAlgorithm,
    /// Whether the signature covered signed attributes (`false`: the content directly).
    pub signed_attributes: bool,
}

/// The signature algorithms herald supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256Sha256,
    /// RSA PKCS#1 v1.5 with SHA-256.
    RsaPkcs1v15Sha256,
}

/// SHA-256, parameters absent or NULL (RFC 5754 §2: both must be accepted).
fn is_sha256(algorithm: &AlgorithmIdentifierOwned) -> bool {
    algorithm.oid == ID_SHA256 && algorithm.parameters.as_ref().is_none_or(Any::is_null)
}

/// SHA-256 with absent parameters, as RFC 5754 recommends writing it.
fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: ID_SHA256, parameters: None }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, CmsError> {
    let values = SetOfVec::try_from(vec![value]).map_err(|e| CmsError::Sign(e.to_string()))?;
    Ok(Attribute { oid, values })
}

fn subject_country(certificate: &Certificate) -> Option<CountryCode> {
    const COUNTRY_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
    let mut countries =
        certificate.tbs_certificate().subject().iter().filter(|atv| atv.oid == COUNTRY_NAME);
    let only = countries.next()?;
    if countries.next().is_some() {
        return None;
    }
    let text = std::str::from_utf8(only.value.value()).ok()?;
    text.parse().ok()
}

fn unix_time(time: Time) -> UnixTime {
    UnixTime(i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX))
}

/// Maps a `der` decoding error, singling out BER indefinite lengths.
fn der_error(e: der::Error) -> CmsError {
    match e.kind() {
        ErrorKind::IndefiniteLength => CmsError::Ber,
        _ => CmsError::Malformed(e.to_string()),
    }
}

/// The first `-----BEGIN …-----` … `-----END …-----` block of a text, so that files with
/// leading comments or several blocks are read as their first block.
fn first_pem_block(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")?;
    let rest = text.get(start..)?;
    let end_marker = rest.find("-----END ")?;
    let after_end = rest.get(end_marker + "-----END ".len()..)?;
    let close = after_end.find("-----")?;
    rest.get(..end_marker + "-----END ".len() + close + "-----".len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_block_extraction() {
        let text = "comment\n-----BEGIN X-----\nAAAA\n-----END X-----\n-----BEGIN Y-----\n";
        assert_eq!(first_pem_block(text), Some("-----BEGIN X-----\nAAAA\n-----END X-----"));
        assert_eq!(first_pem_block("-----BEGIN X-----\nAAAA"), None);
        assert_eq!(first_pem_block(""), None);
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        assert!(matches!(verify_detached(&[], b"", None), Err(CmsError::Malformed(_))));
        // SEQUENCE with an indefinite length.
        assert_eq!(verify_detached(&[0x30, 0x80, 0x00, 0x00], b"", None), Err(CmsError::Ber));
    }
}
