//! Reading export files with size caps: the zip's two entries, `export.bin` (each bad key named)
//! and `export.sig`.

use std::io::{Cursor, Read as _};

use herald_model::{
    DaysSinceOnset, DiagnosisKey, IntervalNumber, ReportType, RollingPeriod, TemporaryExposureKey,
    TransmissionRiskLevel,
};
use p256::ecdsa::VerifyingKey;
use prost::Message as _;

use super::{ExportError, HEADER, KeyError, ReadLimits, SignatureInfo, verify_signature};
use crate::proto::gaen as proto;

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

pub(super) fn key_from_proto(k: proto::TemporaryExposureKey) -> Result<DiagnosisKey, KeyError> {
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

pub(super) fn keys_from_proto(
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

pub(super) fn read_entry(
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
