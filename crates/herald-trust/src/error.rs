//! The crate's one error type.

use herald_model::CountryCode;

/// What can go wrong when parsing certificates, reading their identity, or generating the
/// development PKI.
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
}

impl From<rcgen::Error> for TrustError {
    fn from(reason: rcgen::Error) -> Self {
        Self::Generate { reason }
    }
}
