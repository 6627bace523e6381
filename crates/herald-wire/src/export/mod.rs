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

use std::io::{Cursor, Read as _, Write as _};

use herald_model::{
    DaysSinceOnset, DiagnosisKey, IntervalNumber, ModelError, ReportType, RollingPeriod,
    TemporaryExposureKey, TransmissionRiskLevel,
};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use prost::Message as _;

use crate::proto::gaen as proto;

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

/// Who signed a file, as written in `SignatureInfo` (and what old files carry in the deprecated
/// fields).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureInfo {
    /// `verification_key_id`, e.g. "310".
    pub key_id: Option<String>,
    /// `verification_key_version`, e.g. "v1".
    pub key_version: Option<String>,
    /// `signature_algorithm`, a dotted OID.
    pub algorithm: Option<String>,
    /// Deprecated field 2, `android_package` (old files only).
    pub android_package: Option<String>,
    /// Deprecated field 1, `app_bundle_id` (old files only).
    pub app_bundle_id: Option<String>,
}

impl SignatureInfo {
    /// A signer identity for ECDSA P-256 / SHA-256. Id and version must be non-empty
    /// `[A-Za-z0-9_]` (what the platforms register).
    pub fn ecdsa_p256(key_id: &str, key_version: &str) -> Result<Self, ExportError> {
        for (name, value) in [("key id", key_id), ("key version", key_version)] {
            if value.is_empty()
                || value.len() > 64
                || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(ExportError::Config(format!(
                    "{name} must be 1 to 64 characters of [A-Za-z0-9_], got {value:?}"
                )));
            }
        }
        Ok(Self {
            key_id: Some(key_id.to_owned()),
            key_version: Some(key_version.to_owned()),
            algorithm: Some(ECDSA_P256_SHA256_OID.to_owned()),
            android_package: None,
            app_bundle_id: None,
        })
    }

    fn to_proto(&self) -> proto::SignatureInfo {
        // ENS writes only non-empty version and id; deprecated fields are never written.
        let non_empty = |s: &Option<String>| s.clone().filter(|v| !v.is_empty());
        proto::SignatureInfo {
            app_bundle_id: None,
            android_package: None,
            verification_key_version: non_empty(&self.key_version),
            verification_key_id: non_empty(&self.key_id),
            signature_algorithm: self.algorithm.clone(),
        }
    }

    fn from_proto(p: proto::SignatureInfo) -> Self {
        Self {
            key_id: p.verification_key_id,
            key_version: p.verification_key_version,
            algorithm: p.signature_algorithm,
            android_package: p.android_package,
            app_bundle_id: p.app_bundle_id,
        }
    }
}

/// Signs `export.bin`. Implement it for an HSM or a cloud KMS; [`FileSigner`] is the file-based
/// P-256 key.
pub trait ExportSigner: Send + Sync {
    /// The `SignatureInfo` written for this signer.
    fn info(&self) -> &SignatureInfo;
    /// An ASN.1 DER ECDSA signature over SHA-256 of `message` (the whole `export.bin`).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ExportError>;
}

/// An ECDSA P-256 signing key held in memory, loaded from PKCS#8 PEM.
pub struct FileSigner {
    key: SigningKey,
    info: SignatureInfo,
}

impl FileSigner {
    /// Loads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`) for the given identity.
    pub fn from_pkcs8_pem(pem: &str, info: SignatureInfo) -> Result<Self, ExportError> {
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|e| {
            ExportError::KeyMaterial(format!(
                "signing key is not a PKCS#8 PEM P-256 private key: {e}"
            ))
        })?;
        Ok(Self { key, info })
    }

    /// Wraps a key already in memory.
    pub fn new(key: SigningKey, info: SignatureInfo) -> Self {
        Self { key, info }
    }

    /// The public half, for publishing to the platforms and for checks.
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }
}

impl std::fmt::Debug for FileSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSigner").field("info", &self.info).finish_non_exhaustive()
    }
}

impl ExportSigner for FileSigner {
    fn info(&self) -> &SignatureInfo {
        &self.info
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ExportError> {
        // RFC 6979 deterministic nonces: the same file always gets the same signature.
        let signature: Signature = self.key.sign(message);
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

/// Loads a P-256 public key from SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
pub fn public_key_from_pem(pem: &str) -> Result<VerifyingKey, ExportError> {
    VerifyingKey::from_public_key_pem(pem).map_err(|e| {
        ExportError::KeyMaterial(format!("public key is not an SPKI PEM P-256 public key: {e}"))
    })
}

/// Whether `signature_der` is a valid ECDSA P-256 / SHA-256 signature of `export_bin` under `key`.
/// High-S signatures (as some signers produce) are accepted, as the platforms accept them.
pub fn verify_signature(key: &VerifyingKey, export_bin: &[u8], signature_der: &[u8]) -> bool {
    let Ok(signature) = Signature::from_der(signature_der) else { return false };
    let signature = signature.normalize_s();
    key.verify(export_bin, &signature).is_ok()
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

/// Serializes `export.bin`: header, then the message with keys in the order given.
pub fn encode_export_bin(
    header: &ExportHeader,
    infos: &[SignatureInfo],
    keys: &[RawKey],
    revised_keys: &[RawKey],
) -> Vec<u8> {
    encode_export_bin_from(header, infos, keys.iter().cloned(), revised_keys.iter().cloned())
}

/// Serializes `export.bin` key by key, without first building the whole message: memory is the
/// output plus one key. Byte-identical to prost's encoding of the full message (fields in tag
/// order, absent fields left out).
pub fn encode_export_bin_from(
    header: &ExportHeader,
    infos: &[SignatureInfo],
    keys: impl IntoIterator<Item = RawKey>,
    revised_keys: impl IntoIterator<Item = RawKey>,
) -> Vec<u8> {
    use prost::encoding::{fixed64, int32, message, string};
    let mut out = Vec::with_capacity(64 * 1024);
    out.extend_from_slice(HEADER);
    fixed64::encode(1, &header.start_timestamp, &mut out);
    fixed64::encode(2, &header.end_timestamp, &mut out);
    string::encode(3, &header.region, &mut out);
    int32::encode(4, &header.batch_num, &mut out);
    int32::encode(5, &header.batch_size, &mut out);
    for info in infos {
        message::encode(6, &info.to_proto(), &mut out);
    }
    for key in keys {
        message::encode(7, &key.to_proto(), &mut out);
    }
    for key in revised_keys {
        message::encode(8, &key.to_proto(), &mut out);
    }
    out
}

/// Signs `export_bin` with every signer and serializes `export.sig`.
pub fn sign_export_bin(
    export_bin: &[u8],
    header: &ExportHeader,
    signers: &[&dyn ExportSigner],
) -> Result<Vec<u8>, ExportError> {
    let signatures = signers
        .iter()
        .map(|s| {
            Ok(proto::TekSignature {
                signature_info: Some(s.info().to_proto()),
                batch_num: Some(header.batch_num),
                batch_size: Some(header.batch_size),
                signature: Some(s.sign(export_bin)?),
            })
        })
        .collect::<Result<Vec<_>, ExportError>>()?;
    Ok(proto::TekSignatureList { signatures }.encode_to_vec())
}

/// Packs `export.bin` and `export.sig` into a reproducible zip (deflate at the default level, both
/// entries dated 1980-01-01, in that order, nothing else). Level 1 would build three times
/// faster but the files would be 15 % larger; a file is built once and downloaded by every
/// phone, so size wins.
pub fn zip_export(export_bin: &[u8], export_sig: &[u8]) -> Result<Vec<u8>, ExportError> {
    let zip_err = |e: zip::result::ZipError| ExportError::Zip(e.to_string());
    let io_err = |e: std::io::Error| ExportError::Zip(e.to_string());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file("export.bin", options).map_err(zip_err)?;
    writer.write_all(export_bin).map_err(io_err)?;
    writer.start_file("export.sig", options).map_err(zip_err)?;
    writer.write_all(export_sig).map_err(io_err)?;
    Ok(writer.finish().map_err(zip_err)?.into_inner())
}

/// One finished file of an [`ExportBuilder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltExport {
    /// 1-based file number within the window.
    pub file_num: usize,
    /// The header written into the file.
    pub header: ExportHeader,
    /// Keys in `keys`.
    pub key_count: usize,
    /// Keys in `revised_keys`.
    pub revised_key_count: usize,
    /// The serialized `export.bin` (also inside `zip`).
    pub export_bin: Vec<u8>,
    /// The zip, ready to publish.
    pub zip: Vec<u8>,
}

/// Settings of one export window.
pub struct ExportSpec<'a> {
    /// Output region, e.g. "DE".
    pub region: String,
    /// Window start, UTC seconds.
    pub start_timestamp: u64,
    /// Window end, UTC seconds.
    pub end_timestamp: u64,
    /// Most keys plus revised keys per file (ENS default 500 000).
    pub max_records: usize,
    /// Signers, newest key first (the platforms honour at most 10).
    pub signers: Vec<&'a dyn ExportSigner>,
}

/// Streams keys into signed export files.
///
/// Files are produced one at a time, so memory is proportional to one file. Feed keys in key-byte
/// order (as a store returns them with `ORDER BY key_data`) so that which keys share a file
/// reveals nothing about arrival order; each file is sorted either way. When the window needs
/// more than one file, every file keeps batch 1/1 and the same start, and file `n` gets
/// `end_timestamp + n` so that (start, end, batch) stays unique for the platforms' de-duplication
/// (ENS; key-server.md §5.5). A window that fits one file keeps its end unchanged. An empty
/// window yields no file.
pub struct ExportBuilder<'a, I: Iterator<Item = (DiagnosisKey, bool)>> {
    spec: ExportSpec<'a>,
    infos: Vec<SignatureInfo>,
    input: std::iter::Peekable<I>,
    file_num: usize,
    split: bool,
}

impl<'a, I: Iterator<Item = (DiagnosisKey, bool)>> ExportBuilder<'a, I> {
    /// A builder over `(key, is_revised)` pairs.
    pub fn new(spec: ExportSpec<'a>, input: I) -> Result<Self, ExportError> {
        if spec.max_records == 0 {
            return Err(ExportError::Config("max records per file must be at least 1".into()));
        }
        if spec.signers.is_empty() || spec.signers.len() > 10 {
            return Err(ExportError::Config(format!(
                "an export needs 1 to 10 signers, got {}",
                spec.signers.len()
            )));
        }
        if spec.end_timestamp < spec.start_timestamp {
            return Err(ExportError::Config(format!(
                "end {} is before start {}",
                spec.end_timestamp, spec.start_timestamp
            )));
        }
        if spec.region.is_empty() || spec.region.len() > 64 {
            return Err(ExportError::Config("region must be 1 to 64 characters".into()));
        }
        let infos = spec.signers.iter().map(|s| s.info().clone()).collect();
        Ok(Self { spec, infos, input: input.peekable(), file_num: 0, split: false })
    }

    fn build_next(&mut self) -> Result<BuiltExport, ExportError> {
        let mut keys = Vec::new();
        let mut revised = Vec::new();
        for (key, is_revised) in self.input.by_ref().take(self.spec.max_records) {
            if is_revised { revised.push(key) } else { keys.push(key) }
        }
        self.file_num += 1;
        if self.file_num == 1 && self.input.peek().is_some() {
            self.split = true;
        }
        keys.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        revised.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        let offset = if self.split { self.file_num as u64 } else { 0 };
        let header = ExportHeader {
            start_timestamp: self.spec.start_timestamp,
            end_timestamp: self.spec.end_timestamp.saturating_add(offset),
            region: self.spec.region.clone(),
            batch_num: 1,
            batch_size: 1,
        };
        let export_bin = encode_export_bin_from(
            &header,
            &self.infos,
            keys.iter().map(RawKey::from_key),
            revised.iter().map(RawKey::from_key),
        );
        let (key_count, revised_key_count) = (keys.len(), revised.len());
        drop(keys);
        drop(revised);
        let export_sig = sign_export_bin(&export_bin, &header, &self.spec.signers)?;
        let zip = zip_export(&export_bin, &export_sig)?;
        Ok(BuiltExport {
            file_num: self.file_num,
            header,
            key_count,
            revised_key_count,
            export_bin,
            zip,
        })
    }
}

impl<I: Iterator<Item = (DiagnosisKey, bool)>> Iterator for ExportBuilder<'_, I> {
    type Item = Result<BuiltExport, ExportError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.input.peek()?;
        Some(self.build_next())
    }
}

/// The decoded content of `export.bin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportContents {
    /// Window start, if present.
    pub start_timestamp: Option<u64>,
    /// Window end, if present.
    pub end_timestamp: Option<u64>,
    /// Region, if present.
    pub region: Option<String>,
    /// Batch number, if present.
    pub batch_num: Option<i32>,
    /// Batch size, if present.
    pub batch_size: Option<i32>,
    /// Signature infos, in file order.
    pub signature_infos: Vec<SignatureInfo>,
    /// Keys, validated.
    pub keys: Vec<DiagnosisKey>,
    /// Revised keys, validated.
    pub revised_keys: Vec<DiagnosisKey>,
}

/// One entry of `export.sig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSignature {
    /// Who signed.
    pub info: SignatureInfo,
    /// Batch number the signature claims.
    pub batch_num: Option<i32>,
    /// Batch size the signature claims.
    pub batch_size: Option<i32>,
    /// DER signature bytes.
    pub signature: Vec<u8>,
}

/// A whole export file, read and validated (signatures not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// The raw `export.bin`, which is what the signatures cover.
    pub export_bin: Vec<u8>,
    /// Its decoded content.
    pub contents: ExportContents,
    /// The signatures of `export.sig`.
    pub signatures: Vec<FileSignature>,
}

impl ExportFile {
    /// Indices of the signatures that verify under `key` and whose batch fields match the file's.
    pub fn valid_signatures(&self, key: &VerifyingKey) -> Vec<usize> {
        self.signatures
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.batch_num == self.contents.batch_num
                    && s.batch_size == self.contents.batch_size
                    && verify_signature(key, &self.export_bin, &s.signature)
            })
            .map(|(i, _)| i)
            .collect()
    }
}

fn key_from_proto(k: proto::TemporaryExposureKey) -> Result<DiagnosisKey, KeyError> {
    let key_data = k.key_data.ok_or(KeyError::MissingKeyData)?;
    let start = u32::try_from(k.rolling_start_interval_number.unwrap_or(0))
        .map_err(|_| KeyError::Negative("rolling_start_interval_number"))?;
    // Absent means 144 (proto default); 0 is what ENS writes for "unset", and iOS reads it as 144.
    let period = match k.rolling_period.unwrap_or(144) {
        0 => 144,
        p => u32::try_from(p).map_err(|_| KeyError::Negative("rolling_period"))?,
    };
    Ok(DiagnosisKey {
        key: TemporaryExposureKey::from_slice(&key_data)?,
        rolling_start: IntervalNumber(start),
        rolling_period: RollingPeriod::new(period)?,
        transmission_risk_level: TransmissionRiskLevel::new(
            k.transmission_risk_level.unwrap_or(0),
        )?,
        report_type: ReportType::new(k.report_type.unwrap_or(0))?,
        days_since_onset: k.days_since_onset_of_symptoms.map(DaysSinceOnset::new).transpose()?,
    })
}

fn keys_from_proto(
    list: &'static str,
    keys: Vec<proto::TemporaryExposureKey>,
) -> Result<Vec<DiagnosisKey>, ExportError> {
    keys.into_iter()
        .enumerate()
        .map(|(index, k)| {
            key_from_proto(k).map_err(|reason| ExportError::Key { list, index, reason })
        })
        .collect()
}

/// Decodes and validates an `export.bin` (header included).
pub fn parse_export_bin(bytes: &[u8]) -> Result<ExportContents, ExportError> {
    let body = bytes.strip_prefix(HEADER.as_slice()).ok_or(ExportError::Header)?;
    let message = proto::TemporaryExposureKeyExport::decode(body)
        .map_err(|e| ExportError::Protobuf { what: "export.bin", reason: e.to_string() })?;
    Ok(ExportContents {
        start_timestamp: message.start_timestamp,
        end_timestamp: message.end_timestamp,
        region: message.region,
        batch_num: message.batch_num,
        batch_size: message.batch_size,
        signature_infos: message
            .signature_infos
            .into_iter()
            .map(SignatureInfo::from_proto)
            .collect(),
        keys: keys_from_proto("keys", message.keys)?,
        revised_keys: keys_from_proto("revised_keys", message.revised_keys)?,
    })
}

/// Decodes an `export.sig`.
pub fn parse_export_sig(bytes: &[u8]) -> Result<Vec<FileSignature>, ExportError> {
    let list = proto::TekSignatureList::decode(bytes)
        .map_err(|e| ExportError::Protobuf { what: "export.sig", reason: e.to_string() })?;
    Ok(list
        .signatures
        .into_iter()
        .map(|s| FileSignature {
            info: s.signature_info.map(SignatureInfo::from_proto).unwrap_or_default(),
            batch_num: s.batch_num,
            batch_size: s.batch_size,
            signature: s.signature.unwrap_or_default(),
        })
        .collect())
}

/// Reads an export zip: exactly `export.bin` and `export.sig`, within `limits`.
pub fn read_zip(bytes: &[u8], limits: &ReadLimits) -> Result<ExportFile, ExportError> {
    if bytes.len() > limits.max_zip_bytes {
        return Err(ExportError::TooLarge { what: "export zip", limit: limits.max_zip_bytes });
    }
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ExportError::Zip(e.to_string()))?;
    let mut names: Vec<String> = archive
        .file_names()
        .take(10)
        .map(|name| name.map(std::borrow::Cow::into_owned))
        .collect::<Result<_, _>>()
        .map_err(|e| ExportError::Zip(e.to_string()))?;
    names.sort();
    if names != ["export.bin", "export.sig"] {
        return Err(ExportError::Entries { found: names });
    }
    let export_bin = read_entry(&mut archive, "export.bin", limits.max_export_bin_bytes)?;
    let export_sig = read_entry(&mut archive, "export.sig", limits.max_export_sig_bytes)?;
    Ok(ExportFile {
        contents: parse_export_bin(&export_bin)?,
        signatures: parse_export_sig(&export_sig)?,
        export_bin,
    })
}

fn read_entry(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &'static str,
    limit: usize,
) -> Result<Vec<u8>, ExportError> {
    let entry = archive.by_name(name).map_err(|e| ExportError::Zip(format!("{name}: {e}")))?;
    // Never trust the declared size: read at most one byte past the limit.
    let mut out = Vec::new();
    entry
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| ExportError::Zip(format!("{name}: {e}")))?;
    if out.len() > limit {
        return Err(ExportError::TooLarge { what: name, limit });
    }
    Ok(out)
}
