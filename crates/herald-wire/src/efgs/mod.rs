//! EFGS key batches (specs/efgs-gateway.md §2, §3): the validated key type, protobuf and JSON
//! codecs, the canonical signed bytes, and batch signatures.
//!
//! # Layout
//! - this module: [`EfgsKey`] and its parts ([`TransmissionRisk`], [`DaysSinceOnset`]), the
//!   conversions from and to the prost message, the protobuf codec and the error types.
//! - `signed`: the §3.1 canonical bytes ([`signed_key_string`], [`batch_signed_bytes`]).
//! - `json`: the EFGS JSON encoding of a batch ([`decode_json`], [`encode_json`]).
//! - `signature`: detached CMS batch signatures as Base64 ([`sign_batch`], [`verify_batch`], [`verify_batch_signer`]).
//!
//! # Validation
//! [`EfgsKey`] is what EFGS accepts plus herald's additions (§2 "Wire implications", §5.1):
//! `keyData` exactly 16 bytes; `rollingPeriod` 1..=144; `transmissionRiskLevel` 0..=8 or
//! 0x7FFF_FFFF ("not provided"); `reportType` a known value; every country exactly two
//! **uppercase** ASCII letters (so empty strings and `,` can never corrupt the comma-joined
//! signed bytes, and a validated key converts back to exactly the wire value it came from: signed
//! bytes computed from an [`EfgsKey`] equal those of its wire form); at most
//! [`MAX_VISITED_COUNTRIES`] visited countries; DSOS in −14..=4014 (see [`DaysSinceOnset`]).
//! `rollingStartIntervalNumber` is not checked here: its window depends on the current time and
//! belongs to the gateway (§5.1).
//!
//! Decoders cap the input before decoding ([`MAX_PROTOBUF_BYTES`], [`MAX_JSON_BYTES`]) and count
//! the keys before materialising them ([`MAX_KEYS`]), so a small hostile body cannot allocate
//! much more than its own size.

mod json;
mod signature;
mod signed;

use herald_model::{CountryCode, IntervalNumber, ReportType, RollingPeriod};
use herald_model::{TemporaryExposureKey, TransmissionRiskLevel};
use prost::Message as _;

pub use self::json::{decode_json, encode_json};
pub use self::signature::{BatchSignatureError, sign_batch, verify_batch, verify_batch_signer};
pub use self::signed::{
    batch_signed_bytes, batch_signed_bytes_raw, signed_key_string, signed_key_string_raw,
};
use crate::proto::efgs as proto;

/// Most keys in one batch (EFGS `maximum-upload-batch-size`, §5.1; a larger upload is a 413).
pub const MAX_KEYS: usize = 5000;
/// Largest protobuf batch accepted for decoding. 5000 keys with 30 visited countries each take
/// about 0.85 MB.
pub const MAX_PROTOBUF_BYTES: usize = 2 * 1024 * 1024;
/// Largest JSON batch accepted for decoding (the same keys, pretty-printed, stay below 4 MB).
pub const MAX_JSON_BYTES: usize = 8 * 1024 * 1024;
/// Most visited countries per key. EFGS stores the joined list in 400 characters, about 133
/// countries; "all EU countries" is about 30.
pub const MAX_VISITED_COUNTRIES: usize = 256;

/// One validated EFGS diagnosis key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfgsKey {
    /// The TEK (`keyData`).
    pub key: TemporaryExposureKey,
    /// `rollingStartIntervalNumber`.
    pub rolling_start: IntervalNumber,
    /// `rollingPeriod`, 1..=144.
    pub rolling_period: RollingPeriod,
    /// `transmissionRiskLevel`.
    pub transmission_risk: TransmissionRisk,
    /// `visitedCountries`, in wire order (the order is part of the signed bytes).
    pub visited_countries: Vec<CountryCode>,
    /// `origin`: the uploader's country.
    pub origin: CountryCode,
    /// `reportType`.
    pub report_type: ReportType,
    /// `days_since_onset_of_symptoms`, in the EFGS semantic encoding.
    pub days_since_onset: DaysSinceOnset,
}

/// `transmissionRiskLevel`: a GAEN level 0..=8, or EFGS's "not provided" marker 0x7FFF_FFFF
/// (sent by DP-3T and others; EFGS PR #194).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransmissionRisk {
    /// A level 0..=8.
    Level(TransmissionRiskLevel),
    /// `2147483647`: the backend has no TRL for this key.
    NotProvided,
}

/// `days_since_onset_of_symptoms` in the eHealth Network semantic encoding (§2 table).
///
/// herald accepts the whole interval −14..=4014, the span of that table, including the values
/// between its bands (cwa-server accepts −14..=4000 on download; the gateway itself checks
/// nothing). Values outside the interval, such as koronavilkku's `i32::MAX`, are refused.
/// [`Self::meaning`] decodes the band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DaysSinceOnset(i32);

/// What a DSOS value means (§2 "DSOS semantic encoding").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DsosMeaning {
    /// Symptomatic, onset date known: days relative to onset (−14..=14).
    OnsetKnown {
        /// Days since onset.
        days: i32,
    },
    /// Symptomatic, onset within a range of `range_days` days (1..=19): days since the end of
    /// the range.
    OnsetRange {
        /// Length of the onset range in days.
        range_days: i32,
        /// Days since the end of the range.
        days: i32,
    },
    /// Symptomatic, onset unknown: days since submission.
    OnsetUnknown {
        /// Days since submission.
        days: i32,
    },
    /// Asymptomatic: days since submission.
    Asymptomatic {
        /// Days since submission.
        days: i32,
    },
    /// Symptom status unknown: days since submission.
    SymptomStatusUnknown {
        /// Days since submission.
        days: i32,
    },
    /// Inside −14..=4014 but in none of the bands.
    Unassigned,
}

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EfgsError {
    /// The body is larger than the decoder accepts.
    #[error("batch is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// Size of the body.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// More keys than EFGS accepts in one batch (EFGS answers 413).
    #[error("batch has {count} keys, more than the limit of {max}")]
    TooManyKeys {
        /// Number of keys found.
        count: usize,
        /// The limit ([`MAX_KEYS`]).
        max: usize,
    },
    /// Not a protobuf `DiagnosisKeyBatch`.
    #[error("batch protobuf is malformed: {0}")]
    Protobuf(String),
    /// Not an EFGS JSON `DiagnosisKeyBatch`.
    #[error("batch json is malformed: {0}")]
    Json(String),
    /// One key is invalid; EFGS refuses the whole batch for it.
    #[error("key {index}: {reason}")]
    Key {
        /// Position of the key in the batch (upload order), from 0.
        index: usize,
        /// What is wrong with it.
        reason: EfgsKeyError,
    },
}

/// What is wrong with one key. Field names are the EFGS ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EfgsKeyError {
    /// `keyData` is not 16 bytes.
    #[error("keyData must be 16 bytes, got {0}")]
    KeyDataLength(usize),
    /// `keyData` is not standard Base64 (JSON only).
    #[error("keyData is not valid base64")]
    KeyDataBase64,
    /// An integer field does not fit its protobuf type (JSON only).
    #[error("{field} must be in {min}..={max}, got {actual}")]
    Integer {
        /// The EFGS field name.
        field: &'static str,
        /// Smallest value of the type.
        min: i64,
        /// Largest value of the type.
        max: i64,
        /// The value given.
        actual: i64,
    },
    /// `rollingPeriod` outside 1..=144.
    #[error("rollingPeriod must be in 1..=144, got {0}")]
    RollingPeriod(u32),
    /// `transmissionRiskLevel` neither 0..=8 nor 2147483647.
    #[error("transmissionRiskLevel must be in 0..=8 or 2147483647 (not provided), got {0}")]
    TransmissionRiskLevel(i32),
    /// A visited country is not two uppercase ASCII letters.
    #[error("visitedCountries[{position}] must be two uppercase ASCII letters, got {value:?}")]
    VisitedCountry {
        /// Position in the list, from 0.
        position: usize,
        /// The value given (at most 16 characters of it).
        value: String,
    },
    /// Too many visited countries.
    #[error("visitedCountries has {0} entries, more than the limit of {MAX_VISITED_COUNTRIES}")]
    TooManyVisitedCountries(usize),
    /// `origin` is not two uppercase ASCII letters.
    #[error("origin must be two uppercase ASCII letters, got {0:?}")]
    Origin(String),
    /// `reportType` is not one of the six known values.
    #[error("reportType must be in 0..=5, got {0}")]
    ReportType(i32),
    /// `reportType` is a string that names no value (JSON only).
    #[error("reportType {0:?} is not a known report type name")]
    ReportTypeName(String),
    /// `days_since_onset_of_symptoms` outside −14..=4014.
    #[error("days_since_onset_of_symptoms must be in -14..=4014, got {0}")]
    DaysSinceOnset(i32),
}

/// One rejected key of a batch: its position and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Position in the batch, from 0.
    pub index: usize,
    /// What is wrong with the key.
    pub reason: EfgsKeyError,
}

impl EfgsKey {
    /// An EFGS key from a herald diagnosis key and the country information EFGS adds.
    ///
    /// A diagnosis key without onset information gets DSOS 0, what an absent proto3 field
    /// means on the wire.
    pub fn from_diagnosis_key(
        key: &herald_model::DiagnosisKey,
        origin: CountryCode,
        visited_countries: Vec<CountryCode>,
    ) -> Self {
        Self {
            key: key.key.clone(),
            rolling_start: key.rolling_start,
            rolling_period: key.rolling_period,
            transmission_risk: TransmissionRisk::Level(key.transmission_risk_level),
            visited_countries,
            origin,
            report_type: key.report_type,
            days_since_onset: key.days_since_onset.map(DaysSinceOnset::from).unwrap_or_default(),
        }
    }

    /// The wire message of this key (the inverse of the `TryFrom` conversion).
    pub fn to_proto(&self) -> proto::DiagnosisKey {
        proto::DiagnosisKey {
            key_data: self.key.as_bytes().to_vec(),
            rolling_start_interval_number: self.rolling_start.get(),
            rolling_period: u32::from(self.rolling_period.get()),
            transmission_risk_level: self.transmission_risk.wire(),
            visited_countries: self
                .visited_countries
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            origin: self.origin.as_str().to_owned(),
            report_type: self.report_type.wire(),
            days_since_onset_of_symptoms: self.days_since_onset.get(),
        }
    }

    /// The EFGS `payload_hash` of this key (§5.2): SHA-256 of its §3.1 per-key string. Two keys
    /// are duplicates exactly when these are equal.
    pub fn payload_hash(&self) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(signed_key_string(self).as_bytes()).into()
    }
}

impl TryFrom<proto::DiagnosisKey> for EfgsKey {
    type Error = EfgsKeyError;

    fn try_from(raw: proto::DiagnosisKey) -> Result<Self, Self::Error> {
        Self::try_from(&raw)
    }
}

impl TryFrom<&proto::DiagnosisKey> for EfgsKey {
    type Error = EfgsKeyError;

    fn try_from(raw: &proto::DiagnosisKey) -> Result<Self, Self::Error> {
        let key = TemporaryExposureKey::from_slice(&raw.key_data)
            .map_err(|_| EfgsKeyError::KeyDataLength(raw.key_data.len()))?;
        let rolling_period = RollingPeriod::new(raw.rolling_period)
            .map_err(|_| EfgsKeyError::RollingPeriod(raw.rolling_period))?;
        let transmission_risk = TransmissionRisk::new(raw.transmission_risk_level)?;
        if raw.visited_countries.len() > MAX_VISITED_COUNTRIES {
            return Err(EfgsKeyError::TooManyVisitedCountries(raw.visited_countries.len()));
        }
        let visited_countries = raw
            .visited_countries
            .iter()
            .enumerate()
            .map(|(position, text)| {
                strict_country(text).ok_or_else(|| EfgsKeyError::VisitedCountry {
                    position,
                    value: text.chars().take(16).collect(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let origin = strict_country(&raw.origin)
            .ok_or_else(|| EfgsKeyError::Origin(raw.origin.chars().take(16).collect()))?;
        let report_type = ReportType::new(raw.report_type)
            .map_err(|_| EfgsKeyError::ReportType(raw.report_type))?;
        let days_since_onset = DaysSinceOnset::new(raw.days_since_onset_of_symptoms)?;
        Ok(Self {
            key,
            rolling_start: IntervalNumber(raw.rolling_start_interval_number),
            rolling_period,
            transmission_risk,
            visited_countries,
            origin,
            report_type,
            days_since_onset,
        })
    }
}

impl From<&EfgsKey> for proto::DiagnosisKey {
    fn from(key: &EfgsKey) -> Self {
        key.to_proto()
    }
}

impl TransmissionRisk {
    /// The wire value of "not provided".
    pub const NOT_PROVIDED: i32 = 0x7FFF_FFFF;

    /// Parses a wire value: 0..=8 or [`Self::NOT_PROVIDED`].
    pub fn new(value: i32) -> Result<Self, EfgsKeyError> {
        if value == Self::NOT_PROVIDED {
            return Ok(Self::NotProvided);
        }
        TransmissionRiskLevel::new(value)
            .map(Self::Level)
            .map_err(|_| EfgsKeyError::TransmissionRiskLevel(value))
    }

    /// The wire value.
    pub fn wire(self) -> i32 {
        match self {
            Self::Level(level) => i32::from(level.get()),
            Self::NotProvided => Self::NOT_PROVIDED,
        }
    }
}

impl DaysSinceOnset {
    /// Smallest accepted value.
    pub const MIN: i32 = -14;
    /// Largest accepted value.
    pub const MAX: i32 = 4014;

    /// Parses a value in −14..=4014.
    pub fn new(value: i32) -> Result<Self, EfgsKeyError> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(EfgsKeyError::DaysSinceOnset(value))
        }
    }

    /// The wire value.
    pub fn get(self) -> i32 {
        self.0
    }

    /// Which band of the semantic encoding the value is in.
    pub fn meaning(self) -> DsosMeaning {
        let v = self.0;
        if (-14..=14).contains(&v) {
            return DsosMeaning::OnsetKnown { days: v };
        }
        // The nearest multiple of 100; v is in 15..=4014 here, so this cannot overflow.
        let hundreds = (v + 50).div_euclid(100);
        let days = v - hundreds * 100;
        if !(-14..=14).contains(&days) {
            return DsosMeaning::Unassigned;
        }
        match hundreds {
            1..=19 => DsosMeaning::OnsetRange { range_days: hundreds, days },
            20 => DsosMeaning::OnsetUnknown { days },
            30 => DsosMeaning::Asymptomatic { days },
            40 => DsosMeaning::SymptomStatusUnknown { days },
            _ => DsosMeaning::Unassigned,
        }
    }
}

impl From<herald_model::DaysSinceOnset> for DaysSinceOnset {
    /// GAEN's −14..=14 is the "onset known" band of the EFGS encoding.
    fn from(value: herald_model::DaysSinceOnset) -> Self {
        Self(i32::from(value.get()))
    }
}

/// Two uppercase ASCII letters, exactly as on the wire. Lowercase is refused rather than
/// normalised: normalising would change the signed bytes of the key.
fn strict_country(text: &str) -> Option<CountryCode> {
    match text.as_bytes() {
        [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => text.parse().ok(),
        _ => None,
    }
}

/// Validates every key of a raw batch: the keys that passed, and every rejection with its index.
pub fn validate(keys: &[proto::DiagnosisKey]) -> (Vec<EfgsKey>, Vec<Rejection>) {
    let mut accepted = Vec::with_capacity(keys.len());
    let mut rejected = Vec::new();
    for (index, raw) in keys.iter().enumerate() {
        match EfgsKey::try_from(raw) {
            Ok(key) => accepted.push(key),
            Err(reason) => rejected.push(Rejection { index, reason }),
        }
    }
    (accepted, rejected)
}

/// Validates a whole raw batch, failing on the first invalid key (EFGS all-or-nothing).
pub fn validate_all(keys: &[proto::DiagnosisKey]) -> Result<Vec<EfgsKey>, EfgsError> {
    keys.iter()
        .enumerate()
        .map(|(index, raw)| {
            EfgsKey::try_from(raw).map_err(|reason| EfgsError::Key { index, reason })
        })
        .collect()
}

/// Decodes a protobuf `DiagnosisKeyBatch` without validating the keys, after checking the size
/// ([`MAX_PROTOBUF_BYTES`]) and counting the keys ([`MAX_KEYS`]) before anything is allocated.
/// For storage that must keep the exact wire values, and for tests; everything else uses
/// [`decode_protobuf`].
pub fn decode_protobuf_raw(bytes: &[u8]) -> Result<proto::DiagnosisKeyBatch, EfgsError> {
    if bytes.len() > MAX_PROTOBUF_BYTES {
        return Err(EfgsError::TooLarge { size: bytes.len(), max: MAX_PROTOBUF_BYTES });
    }
    let count = count_keys(bytes)?;
    if count > MAX_KEYS {
        return Err(EfgsError::TooManyKeys { count, max: MAX_KEYS });
    }
    proto::DiagnosisKeyBatch::decode(bytes).map_err(|e| EfgsError::Protobuf(e.to_string()))
}

/// Decodes and validates a protobuf `DiagnosisKeyBatch`; an invalid key fails the whole batch
/// with its index.
pub fn decode_protobuf(bytes: &[u8]) -> Result<Vec<EfgsKey>, EfgsError> {
    validate_all(&decode_protobuf_raw(bytes)?.keys)
}

/// Encodes keys as a protobuf `DiagnosisKeyBatch` (proto3: zero values are left out).
pub fn encode_protobuf(keys: &[EfgsKey]) -> Vec<u8> {
    proto::DiagnosisKeyBatch { keys: keys.iter().map(EfgsKey::to_proto).collect() }.encode_to_vec()
}

/// Counts the top-level field-1 entries of a `DiagnosisKeyBatch` by walking the wire format
/// (unknown fields are skipped as prost would). Malformed framing is reported here already.
fn count_keys(mut bytes: &[u8]) -> Result<usize, EfgsError> {
    let malformed = |what: &str| EfgsError::Protobuf(what.to_owned());
    let mut count = 0usize;
    while !bytes.is_empty() {
        let tag = read_varint(&mut bytes).ok_or_else(|| malformed("invalid varint"))?;
        let field = tag >> 3;
        match tag & 7 {
            0 => {
                read_varint(&mut bytes).ok_or_else(|| malformed("invalid varint"))?;
            }
            1 => bytes = bytes.get(8..).ok_or_else(|| malformed("buffer underflow"))?,
            2 => {
                let len = read_varint(&mut bytes).ok_or_else(|| malformed("invalid varint"))?;
                let len = usize::try_from(len).map_err(|_| malformed("buffer underflow"))?;
                bytes = bytes.get(len..).ok_or_else(|| malformed("buffer underflow"))?;
                if field == 1 {
                    count += 1;
                }
            }
            5 => bytes = bytes.get(4..).ok_or_else(|| malformed("buffer underflow"))?,
            // Groups (3, 4) and the unused wire types: prost refuses them too.
            other => return Err(EfgsError::Protobuf(format!("unsupported wire type {other}"))),
        }
    }
    Ok(count)
}

/// Reads one base-128 varint (at most 10 bytes) and advances the slice.
fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = bytes.get(i + 1..)?;
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsos_bands() {
        let m = |v| DaysSinceOnset::new(v).unwrap().meaning();
        assert_eq!(m(-14), DsosMeaning::OnsetKnown { days: -14 });
        assert_eq!(m(14), DsosMeaning::OnsetKnown { days: 14 });
        assert_eq!(m(15), DsosMeaning::Unassigned);
        assert_eq!(m(86), DsosMeaning::OnsetRange { range_days: 1, days: -14 });
        assert_eq!(m(1914), DsosMeaning::OnsetRange { range_days: 19, days: 14 });
        assert_eq!(m(1986), DsosMeaning::OnsetUnknown { days: -14 });
        assert_eq!(m(2500), DsosMeaning::Unassigned);
        assert_eq!(m(3000), DsosMeaning::Asymptomatic { days: 0 });
        assert_eq!(m(4014), DsosMeaning::SymptomStatusUnknown { days: 14 });
        assert!(DaysSinceOnset::new(-15).is_err());
        assert!(DaysSinceOnset::new(4015).is_err());
        assert!(DaysSinceOnset::new(i32::MAX).is_err());
    }

    #[test]
    fn count_keys_walks_the_framing() {
        assert_eq!(count_keys(&[]), Ok(0));
        assert_eq!(count_keys(&[0x0a, 0x00, 0x0a, 0x00, 0x10, 0x05]), Ok(2));
        assert!(count_keys(&[0x0a, 0x05, 0x00]).is_err());
        assert!(count_keys(&[0x0a]).is_err());
        assert!(count_keys(&[0x0b]).is_err());
        assert!(count_keys(&[0xff; 11]).is_err());
    }

    #[test]
    fn too_many_keys_are_counted_before_decoding() {
        let body: Vec<u8> = [0x0a, 0x00].repeat(MAX_KEYS + 1);
        assert_eq!(
            decode_protobuf_raw(&body),
            Err(EfgsError::TooManyKeys { count: MAX_KEYS + 1, max: MAX_KEYS })
        );
        let big = vec![0u8; MAX_PROTOBUF_BYTES + 1];
        assert!(matches!(decode_protobuf_raw(&big), Err(EfgsError::TooLarge { .. })));
    }
}
