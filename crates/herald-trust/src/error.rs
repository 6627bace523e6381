//! The crate's one error type.

use der::asn1::ObjectIdentifier;
use herald_model::{CertThumbprint, CountryCode};

/// What can go wrong when parsing certificates, reading their identity, generating the
/// development PKI, signing or verifying trust-list entries, and reading trust-list files.
///
/// The variants from [`EmptyCertificate`](Self::EmptyCertificate) to
/// [`BadEntrySignature`](Self::BadEntrySignature) (together with the certificate-parsing and
/// country variants above them) are the reasons [`AnchorCertificate::verify_entry`] gives for
/// ignoring a trust-list entry.
///
/// [`AnchorCertificate::verify_entry`]: crate::AnchorCertificate::verify_entry
///
/// Messages are lowercase, one line, and carry the underlying parser or generator message
/// inline (so `{e}` alone is enough to act on).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The input looked like PEM (`-----BEGIN`) but could not be decoded.
    #[error("certificate PEM is malformed: {reason}")]
    Pem {
        /// What the PEM decoder reported.
        reason: der::Error,
    },
    /// The PEM block is not a certificate (a private key, a CSR, …).
    #[error("PEM block is {label:?}, expected a CERTIFICATE")]
    PemLabel {
        /// The label found after `-----BEGIN `.
        label: String,
    },
    /// The DER bytes are not one X.509 certificate (or have trailing data).
    #[error("certificate DER is malformed: {reason}")]
    Der {
        /// What the DER decoder reported.
        reason: der::Error,
    },
    /// The subject has no `C` attribute; EFGS identifies a country by exactly one.
    #[error("certificate subject has no country (C) attribute; exactly one is required")]
    NoCountry,
    /// The subject has more than one `C` attribute, so the country is ambiguous.
    #[error("certificate subject has {count} country (C) attributes; exactly one is required")]
    SeveralCountries {
        /// How many `C` attributes the subject carries.
        count: usize,
    },
    /// The subject's `C` is not two upper-case ASCII letters in a string type.
    #[error("certificate subject country {value:?} is not an upper-case ISO 3166-1 alpha-2 code")]
    BadCountry {
        /// The attribute value, lossily decoded and truncated to 16 characters.
        value: String,
    },
    /// The development PKI was asked for with an empty country list.
    #[error("the development PKI needs at least one country")]
    NoCountries,
    /// A country appears twice in the development PKI's country list.
    #[error("country {0} is listed more than once")]
    DuplicateCountry(CountryCode),
    /// A validity window whose start is not before its end.
    #[error(
        "validity window is empty: not before {not_before} is not earlier than not after {not_after} (unix seconds)"
    )]
    EmptyValidity {
        /// The requested notBefore, unix seconds.
        not_before: i64,
        /// The requested notAfter, unix seconds.
        not_after: i64,
    },
    /// A time that an X.509 certificate (years 0..=9999) cannot carry.
    #[error("time {0} (unix seconds) is outside the range a certificate can express")]
    TimeOutOfRange(i64),
    /// rcgen or the aws-lc-rs key generator failed.
    #[error("certificate generation failed: {reason}")]
    Generate {
        /// What rcgen reported.
        reason: rcgen::Error,
    },
    /// A trust-list entry whose certificate text is empty.
    #[error("trust-list entry has an empty certificate")]
    EmptyCertificate,
    /// A trust-list entry whose operator signature is empty.
    #[error("trust-list entry has an empty operator signature")]
    EmptySignature,
    /// The operator signature is not one line of standard, padded Base64.
    #[error("operator signature is not one line of standard Base64")]
    SignatureNotBase64,
    /// The SHA-256 of the certificate's DER is not the thumbprint the entry claims.
    #[error("certificate thumbprint is {actual}, but the entry says {expected}")]
    ThumbprintMismatch {
        /// The thumbprint written in the entry.
        expected: CertThumbprint,
        /// The SHA-256 of the DER of the entry's certificate.
        actual: CertThumbprint,
    },
    /// The certificate's subject `C` is not the country the entry (or the caller) names.
    #[error("certificate subject names country {actual}, but the entry is for {expected}")]
    CountryMismatch {
        /// The country of the entry.
        expected: CountryCode,
        /// The subject's `C`.
        actual: CountryCode,
    },
    /// The operator signature does not verify over the exact certificate text with the trust
    /// anchor's public key (tampered text, another anchor's signature, or a damaged signature).
    #[error("operator signature does not verify with the trust anchor's public key")]
    BadSignature,
    /// The entry carries no entry signature (herald's signature over its country, kind,
    /// thumbprint, revocation flag and host): an EFGS-shaped entry, or one stored before herald
    /// signed whole entries. The operator signs it anew with the anchor key.
    #[error(
        "trust-list entry has no entry signature (over its country, kind, thumbprint, revocation and host); the operator must sign it anew"
    )]
    EntrySignatureMissing,
    /// The entry signature is not one line of standard Base64, or does not verify over the
    /// entry's fields with the trust anchor's public key: its kind, country, thumbprint,
    /// revocation flag or host was changed after the operator signed it.
    #[error(
        "entry signature does not verify: kind, country, thumbprint, revocation or host changed since the operator signed"
    )]
    BadEntrySignature,
    /// Certificate text to be signed contains a carriage return; entries use LF line endings.
    #[error("certificate PEM contains a carriage return; trust-list entries use LF line endings")]
    PemLineEndings,
    /// The trust-anchor private key's PEM could not be decoded.
    #[error("private key PEM is malformed: {reason}")]
    KeyPem {
        /// What the PEM decoder reported.
        reason: der::Error,
    },
    /// The private-key PEM block is not an unencrypted PKCS#8 `PRIVATE KEY`.
    #[error(
        "PEM block is {label:?}, expected an unencrypted PKCS#8 PRIVATE KEY (convert with `openssl pkcs8 -topk8 -nocrypt`)"
    )]
    KeyLabel {
        /// The label found after `-----BEGIN `.
        label: String,
    },
    /// The PKCS#8 structure or the key inside it is invalid.
    #[error("private key is invalid: {reason}")]
    PrivateKey {
        /// What the PKCS#8 decoder reported.
        reason: pkcs8::Error,
    },
    /// The trust anchor certificate's public key cannot be read.
    #[error("trust anchor public key is invalid: {reason}")]
    PublicKey {
        /// What the SubjectPublicKeyInfo decoder reported.
        reason: spki::Error,
    },
    /// A key algorithm other than ECDSA and RSA.
    #[error(
        "key algorithm {algorithm} is not supported; the trust anchor must be ECDSA P-256 or RSA"
    )]
    UnsupportedKey {
        /// The algorithm OID of the key.
        algorithm: ObjectIdentifier,
    },
    /// An elliptic-curve key on a curve other than P-256.
    #[error("elliptic curve {} is not supported; the trust anchor must use P-256", .curve.map_or_else(|| "(none named)".to_owned(), |c| c.to_string()))]
    UnsupportedCurve {
        /// The named curve OID, if the key names one.
        curve: Option<ObjectIdentifier>,
    },
    /// An RSA key with fewer than [`MIN_RSA_BITS`](crate::MIN_RSA_BITS) bits.
    #[error("rsa key has {bits} bits; at least 2048 are required")]
    WeakRsaKey {
        /// The modulus size.
        bits: u32,
    },
    /// The signature primitive failed.
    #[error("signing failed: {reason}")]
    Sign {
        /// What the signer reported.
        reason: signature::Error,
    },
    /// A trust kind other than `AUTHENTICATION`, `SIGNING` and `CALLBACK`.
    #[error("trust kind {value:?} is not AUTHENTICATION, SIGNING or CALLBACK")]
    UnknownKind {
        /// The given text, truncated to 32 characters.
        value: String,
    },
    /// A trust-list file that is not the expected JSON (syntax, a missing or unknown field, a
    /// wrong type); the message carries serde_json's line and column.
    #[error("trust list is malformed: {reason}")]
    Json {
        /// What serde_json reported.
        reason: serde_json::Error,
    },
    /// A trust-list entry field whose value is not acceptable.
    #[error("trust-list entry {index}: {field} {value:?} is not {expected}")]
    ListField {
        /// The entry's position in `entries`, from 0.
        index: usize,
        /// The JSON field name.
        field: &'static str,
        /// The value, truncated to 32 characters.
        value: String,
        /// What the field must be.
        expected: &'static str,
    },
    /// Two trust-list entries for the same certificate.
    #[error("trust-list entry {index}: thumbprint {thumbprint} already appears in entry {first}")]
    DuplicateThumbprint {
        /// The later entry's position.
        index: usize,
        /// The earlier entry's position.
        first: usize,
        /// The repeated thumbprint.
        thumbprint: CertThumbprint,
    },
}

impl From<rcgen::Error> for TrustError {
    fn from(reason: rcgen::Error) -> Self {
        Self::Generate { reason }
    }
}
