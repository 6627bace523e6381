//! GAEN export files (key-server.md §5): a zip holding `export.bin` (a 16-byte header and a
//! `TemporaryExposureKeyExport`) and `export.sig` (a `TEKSignatureList` of ECDSA P-256 signatures
//! over the whole `export.bin`).
//!
//! - Writing: [`ExportBuilder`] turns a stream of keys into one or more signed files, at most
//!   `max_records` keys each, so memory stays proportional to one output file whatever the size
//!   of the day. Keys are sorted by key bytes inside each file and populated byte-exactly as the
//!   Google Exposure Notifications Server does (§5.3). Zips are reproducible: fixed timestamps,
//!   fixed entry order, deterministic (RFC 6979) signatures.
//! - Reading: [`read_zip`] and [`parse_export_bin`] validate every key and name the one that is
//!   wrong; sizes and entry counts are capped before anything is decompressed or decoded.
//! - Signing behind [`ExportSigner`] (a file-based P-256 key today; an HSM or KMS can implement
//!   the same trait), checking with [`verify_signature`].

use herald_model::{DiagnosisKey, ModelError, ReportType};

use crate::proto::gaen as proto;

mod read;
mod signing;
mod write;

pub use read::{
    ExportContents, ExportFile, FileSignature, parse_export_bin, parse_export_sig, read_zip,
};
pub use signing::{ExportSigner, FileSigner, SignatureInfo, public_key_from_pem, verify_signature};
pub use write::{
    BuiltExport, ExportBuilder, ExportSpec, encode_export_bin, encode_export_bin_from,
    sign_export_bin, zip_export,
};

/// The 16 bytes that start every `export.bin`: `"EK Export v1"` and four spaces.
pub const HEADER: &[u8; 16] = b"EK Export v1    ";
/// The dotted OID of ECDSA with SHA-256, the only algorithm the platforms accept.
pub const ECDSA_P256_SHA256_OID: &str = "1.2.840.10045.4.3.2";
/// ENS's default cap on keys (plus revised keys) per file.
pub const DEFAULT_MAX_RECORDS: usize = 500_000;

/// Limits applied while reading a file from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest zip accepted.
    pub max_zip_bytes: usize,
    /// Largest decompressed `export.bin` accepted.
    pub max_export_bin_bytes: usize,
    /// Largest decompressed `export.sig` accepted.
    pub max_export_sig_bytes: usize,
}

impl Default for ReadLimits {
    /// 64 MiB zips and `export.bin` (750 000 keys, the platforms' guidance, need about 30 MB),
    /// 64 KiB `export.sig` (ten signatures need under 2 KB).
    fn default() -> Self {
        Self {
            max_zip_bytes: 64 << 20,
            max_export_bin_bytes: 64 << 20,
            max_export_sig_bytes: 64 << 10,
        }
    }
}

/// Why an export file could not be read, built or signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The zip container is unreadable.
    #[error("not a readable zip: {0}")]
    Zip(String),
    /// The zip does not hold exactly `export.bin` and `export.sig`.
    #[error("export zip must contain exactly export.bin and export.sig, found {found:?}")]
    Entries {
        /// The entry names found.
        found: Vec<String>,
    },
    /// An input is larger than the limit.
    #[error("{what} is larger than {limit} bytes")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// `export.bin` does not start with the 16-byte header.
    #[error("export.bin does not start with the header \"EK Export v1    \"")]
    Header,
    /// A protobuf message does not decode.
    #[error("{what} is not a valid protobuf message: {reason}")]
    Protobuf {
        /// `export.bin` or `export.sig`.
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// One key is invalid.
    #[error("{list}[{index}]: {reason}")]
    Key {
        /// `keys` or `revised_keys`.
        list: &'static str,
        /// Position in that list.
        index: usize,
        /// What is wrong.
        reason: KeyError,
    },
    /// A signing key or public key could not be loaded.
    #[error("{0}")]
    KeyMaterial(String),
    /// A signer failed.
    #[error("signing failed: {0}")]
    Sign(String),
    /// The builder's settings are inconsistent.
    #[error("{0}")]
    Config(String),
}

/// What is wrong with one exported key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// `key_data` is absent.
    #[error("key_data is missing")]
    MissingKeyData,
    /// A field is negative where only non-negative values are meaningful.
    #[error("{0} is negative")]
    Negative(&'static str),
    /// A field is out of range.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The fields of one key as they go on the wire, before the population rules. Lower-level than
/// [`DiagnosisKey`] so that ENS's own test vectors (3-byte keys, period 0) can be reproduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawKey {
    /// Key bytes (16 for real keys).
    pub key_data: Vec<u8>,
    /// Transmission risk level.
    pub transmission_risk_level: i32,
    /// ENIN of the first interval.
    pub rolling_start_interval_number: i32,
    /// Number of intervals.
    pub rolling_period: i32,
    /// Report type, `None` for "not given".
    pub report_type: Option<ReportType>,
    /// Days since onset.
    pub days_since_onset: Option<i32>,
}

impl RawKey {
    /// The raw fields of a validated key. ENIN values above `i32::MAX` (year 42 000) saturate.
    pub fn from_key(key: &DiagnosisKey) -> Self {
        Self {
            key_data: key.key.as_bytes().to_vec(),
            transmission_risk_level: i32::from(key.transmission_risk_level.get()),
            rolling_start_interval_number: i32::try_from(key.rolling_start.get())
                .unwrap_or(i32::MAX),
            rolling_period: i32::from(key.rolling_period.get()),
            report_type: Some(key.report_type),
            days_since_onset: key.days_since_onset.map(|d| i32::from(d.get())),
        }
    }

    /// The protobuf key under ENS's population rules (§5.3): TRL always; the start when non-zero;
    /// the period unless it is 144; the report type unless UNKNOWN (ENS has no RECURSIVE keys; herald
    /// writes them faithfully when it has them);
    /// days since onset when present, 0 included.
    pub fn to_proto(&self) -> proto::TemporaryExposureKey {
        proto::TemporaryExposureKey {
            key_data: Some(self.key_data.clone()),
            transmission_risk_level: Some(self.transmission_risk_level),
            rolling_start_interval_number: (self.rolling_start_interval_number != 0)
                .then_some(self.rolling_start_interval_number),
            rolling_period: (self.rolling_period != 144).then_some(self.rolling_period),
            report_type: match self.report_type {
                None | Some(ReportType::Unknown) => None,
                Some(rt) => Some(rt.wire()),
            },
            days_since_onset_of_symptoms: self.days_since_onset,
        }
    }
}

/// The header fields of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportHeader {
    /// Window start, UTC seconds.
    pub start_timestamp: u64,
    /// Window end, UTC seconds.
    pub end_timestamp: u64,
    /// Region.
    pub region: String,
    /// Batch number (1-based).
    pub batch_num: i32,
    /// Batch size.
    pub batch_size: i32,
}
