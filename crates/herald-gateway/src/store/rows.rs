//! Between domain types and column values. Both backends use the same column types on the Rust
//! side: `i64` for BIGINT/INTEGER, `i32` for the small payload integers, `Vec<u8>` for
//! BLOB/BYTEA, `String` for TEXT.

use herald_model::{
    CertThumbprint, CountryCode, IntervalNumber, ReportType, RollingPeriod, TemporaryExposureKey,
    UnixTime,
};
use herald_wire::efgs::{DaysSinceOnset, EfgsKey, TransmissionRisk};

use super::at_rest::{AtRest, RowBinding};
use super::{
    AuditRow, CallbackSubscription, CallbackTask, DownloadBatch, StoreError, TrustKind, TrustRow,
};

/// The columns of one `diagnosis_key` row, computed before the transaction starts: the payload
/// is packed and sealed ([`pack_payload`], [`AtRest::seal`]).
pub(crate) struct KeyColumns {
    pub(crate) ordinal: i64,
    pub(crate) payload_hash: [u8; 32],
    pub(crate) key_id: Option<i64>,
    pub(crate) payload: Vec<u8>,
}

/// A `diagnosis_key` row as downloads read it: its upload, the ordinal and payload hash (which
/// the sealed payload is bound to with the upload's tag), the key id and the payload. Five
/// columns: every row crosses from SQLite's worker thread one by one, and each column costs.
#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub(crate) upload_id: i64,
    pub(crate) ordinal: i64,
    pub(crate) payload_hash: Vec<u8>,
    pub(crate) key_id: Option<i64>,
    pub(crate) payload: Option<Vec<u8>>,
}

/// A whole `diagnosis_key` row, as [`super::Store::apply_at_rest`] reads it: a [`KeyRow`]'s
/// columns with the upload's tag, and the plaintext columns of rows stored before payloads were
/// packed (all NULL for packed rows).
#[derive(sqlx::FromRow)]
pub(crate) struct StoredKeyRow {
    pub(crate) id: i64,
    pub(crate) tag: String,
    pub(crate) ordinal: i64,
    pub(crate) payload_hash: Vec<u8>,
    pub(crate) key_id: Option<i64>,
    pub(crate) payload: Option<Vec<u8>>,
    pub(crate) key_data: Option<Vec<u8>>,
    pub(crate) rolling_start_interval_number: Option<i64>,
    pub(crate) rolling_period: Option<i32>,
    pub(crate) transmission_risk_level: Option<i32>,
    pub(crate) visited_countries: Option<String>,
    pub(crate) origin: Option<String>,
    pub(crate) report_type: Option<i32>,
    pub(crate) days_since_onset: Option<i32>,
}

/// The `SELECT` list of a [`StoredKeyRow`], for `diagnosis_key k JOIN upload u`.
pub(crate) const STORED_KEY_COLUMNS: &str = "k.id, u.tag, k.ordinal, k.payload_hash, k.key_id, \
     k.payload, k.key_data, k.rolling_start_interval_number, k.rolling_period, \
     k.transmission_risk_level, k.visited_countries, k.origin, k.report_type, k.days_since_onset";

/// The version byte in front of every packed payload.
const PAYLOAD_VERSION: u8 = 1;

/// Bytes of a packed payload without visited countries.
const PACKED_FIXED: usize = 1 + 16 + 4 + 1 + 4 + 4 + 4 + 2;

/// A `trust_entry` row as read, in `SELECT` order.
pub(crate) type TrustColumns =
    (String, String, String, String, String, bool, Option<String>, i64, Option<String>);

/// A `download_batch` row as read: tag, created_at, next_tag, key_count.
pub(crate) type BatchColumns = (String, i64, Option<String>, i64);

/// An audit row as read: country, uploaded_at, auth thumbprint, signing thumbprint, signature,
/// amount.
pub(crate) type AuditColumns = (String, i64, String, String, String, i64);

/// A `callback_subscription` row as read: country, callback_id, url, created_at, suspended_at.
pub(crate) type SubscriptionColumns = (String, String, String, i64, Option<i64>);

/// A due task as read: task id, batch tag, batch created_at, retries, then the subscription's
/// country, callback_id and url.
pub(crate) type TaskColumns = (i64, String, i64, i64, String, String, String);

impl KeyColumns {
    /// The columns of the key at `ordinal` of the upload `batch_tag` (of `keys` keys), its
    /// payload sealed with the nonce prefix drawn for the upload.
    pub(crate) fn new(
        at_rest: &AtRest,
        prefix: [u8; 8],
        batch_tag: &str,
        ordinal: usize,
        key: &EfgsKey,
        keys: usize,
    ) -> Result<Self, StoreError> {
        let ordinal = u32::try_from(ordinal).map_err(|_| StoreError::UploadTooLarge { keys })?;
        let payload_hash = key.payload_hash();
        let row = RowBinding { batch_tag, ordinal, payload_hash: &payload_hash };
        let sealed = at_rest.seal(prefix, row, pack_payload(key))?;
        Ok(Self {
            ordinal: i64::from(ordinal),
            payload_hash,
            key_id: sealed.key_id,
            payload: sealed.payload,
        })
    }
}

/// The eight payload fields of a key in one blob: a version byte (1), the 16 key bytes, the
/// rolling start (u32), rolling period (u8), transmission risk, report type and days since
/// onset (i32, their wire values), all big-endian, then the origin and each visited country as
/// two ASCII letters, in wire order.
pub(crate) fn pack_payload(key: &EfgsKey) -> Vec<u8> {
    let mut packed = Vec::with_capacity(PACKED_FIXED + 2 * key.visited_countries.len());
    packed.push(PAYLOAD_VERSION);
    packed.extend_from_slice(key.key.as_bytes());
    packed.extend_from_slice(&key.rolling_start.get().to_be_bytes());
    packed.push(key.rolling_period.get());
    packed.extend_from_slice(&key.transmission_risk.wire().to_be_bytes());
    packed.extend_from_slice(&key.report_type.wire().to_be_bytes());
    packed.extend_from_slice(&key.days_since_onset.get().to_be_bytes());
    packed.extend_from_slice(key.origin.as_str().as_bytes());
    for country in &key.visited_countries {
        packed.extend_from_slice(country.as_str().as_bytes());
    }
    packed
}

/// The inverse of [`pack_payload`]. Errors name the field, never its value.
pub(crate) fn unpack_payload(packed: &[u8]) -> Result<EfgsKey, StoreError> {
    const T: &str = "diagnosis_key";
    let short = || StoreError::corrupt(T, "payload", &"too short");
    let mut rest = packed;
    let [version] = take::<1>(&mut rest).ok_or_else(short)?;
    if version != PAYLOAD_VERSION {
        return Err(StoreError::corrupt(T, "payload", &format!("unknown version {version}")));
    }
    let key = TemporaryExposureKey::from_bytes(take::<16>(&mut rest).ok_or_else(short)?);
    let rolling_start = u32::from_be_bytes(take(&mut rest).ok_or_else(short)?);
    let [rolling_period] = take::<1>(&mut rest).ok_or_else(short)?;
    let trl = i32::from_be_bytes(take(&mut rest).ok_or_else(short)?);
    let report_type = i32::from_be_bytes(take(&mut rest).ok_or_else(short)?);
    let dsos = i32::from_be_bytes(take(&mut rest).ok_or_else(short)?);
    let origin = take::<2>(&mut rest).ok_or_else(short)?;
    let (visited, remainder) = rest.as_chunks::<2>();
    if !remainder.is_empty() {
        return Err(StoreError::corrupt(T, "payload", &"odd visited countries"));
    }
    Ok(EfgsKey {
        key,
        rolling_start: IntervalNumber(rolling_start),
        rolling_period: RollingPeriod::new(u32::from(rolling_period))
            .map_err(|_| StoreError::corrupt(T, "payload", &"rolling period out of range"))?,
        transmission_risk: TransmissionRisk::new(trl)
            .map_err(|_| StoreError::corrupt(T, "payload", &"transmission risk out of range"))?,
        visited_countries: visited
            .iter()
            .map(|code| packed_country("visited country", *code))
            .collect::<Result<_, _>>()?,
        origin: packed_country("origin", origin)?,
        report_type: ReportType::new(report_type)
            .map_err(|_| StoreError::corrupt(T, "payload", &"report type out of range"))?,
        days_since_onset: DaysSinceOnset::new(dsos)
            .map_err(|_| StoreError::corrupt(T, "payload", &"days since onset out of range"))?,
    })
}

/// The next `N` bytes of `rest`, advancing it.
fn take<const N: usize>(rest: &mut &[u8]) -> Option<[u8; N]> {
    let (head, tail) = rest.split_first_chunk::<N>()?;
    *rest = tail;
    Some(*head)
}

fn packed_country(field: &str, code: [u8; 2]) -> Result<CountryCode, StoreError> {
    std::str::from_utf8(&code)
        .ok()
        .and_then(|text| country("diagnosis_key", "payload", text).ok())
        .ok_or_else(|| StoreError::corrupt("diagnosis_key", "payload", &format!("bad {field}")))
}

/// Visited countries as stored in the plaintext column of rows from before payloads were packed:
/// the codes joined with `,` (unambiguous: every code is two uppercase letters), the empty string
/// for none.
fn split_countries(text: &str) -> Result<Vec<CountryCode>, StoreError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',').map(|code| country("diagnosis_key", "visited_countries", code)).collect()
}

fn country(
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<CountryCode, StoreError> {
    match text.as_bytes() {
        [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
            text.parse().map_err(|e| StoreError::corrupt(table, column, &e))
        }
        _ => Err(StoreError::corrupt(table, column, &"not two uppercase letters")),
    }
}

fn thumbprint(
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<CertThumbprint, StoreError> {
    CertThumbprint::from_hex(text).map_err(|e| StoreError::corrupt(table, column, &e))
}

fn count(table: &'static str, column: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(table, column, &"negative count"))
}

/// A key as downloads read it: the packed payload opened (with the key that sealed it; `tag` is
/// its upload's) and unpacked. Field errors name the column, never the value.
pub(crate) fn key_from_row(
    at_rest: &AtRest,
    tag: &str,
    row: KeyRow,
) -> Result<EfgsKey, StoreError> {
    const T: &str = "diagnosis_key";
    let Some(payload) = row.payload else {
        // Only before the startup pass of this version (Store::apply_at_rest) packs them.
        return Err(StoreError::corrupt(
            T,
            "payload",
            &"not packed yet (stored by an older herald)",
        ));
    };
    let ordinal = u32::try_from(row.ordinal)
        .map_err(|_| StoreError::corrupt(T, "ordinal", &"out of range"))?;
    let binding = RowBinding { batch_tag: tag, ordinal, payload_hash: &row.payload_hash };
    unpack_payload(&at_rest.open(row.key_id, binding, payload)?)
}

/// A key from a whole stored row: a packed payload is opened and unpacked, a row from before
/// packing is read from its plaintext columns.
pub(crate) fn key_from_stored_row(
    at_rest: &AtRest,
    row: StoredKeyRow,
) -> Result<EfgsKey, StoreError> {
    const T: &str = "diagnosis_key";
    if row.payload.is_some() {
        let tag = row.tag;
        let slim = KeyRow {
            upload_id: 0,
            ordinal: row.ordinal,
            payload_hash: row.payload_hash,
            key_id: row.key_id,
            payload: row.payload,
        };
        return key_from_row(at_rest, &tag, slim);
    }
    let missing = |column| StoreError::corrupt(T, column, &"neither payload nor plaintext column");
    plaintext_key_from_row((
        row.key_data.ok_or_else(|| missing("key_data"))?,
        row.rolling_start_interval_number
            .ok_or_else(|| missing("rolling_start_interval_number"))?,
        row.rolling_period.ok_or_else(|| missing("rolling_period"))?,
        row.transmission_risk_level.ok_or_else(|| missing("transmission_risk_level"))?,
        row.visited_countries.ok_or_else(|| missing("visited_countries"))?,
        row.origin.ok_or_else(|| missing("origin"))?,
        row.report_type.ok_or_else(|| missing("report_type"))?,
        row.days_since_onset.ok_or_else(|| missing("days_since_onset"))?,
    ))
}

/// A key from the plaintext columns of a row stored before payloads were packed.
fn plaintext_key_from_row(
    row: (Vec<u8>, i64, i32, i32, String, String, i32, i32),
) -> Result<EfgsKey, StoreError> {
    const T: &str = "diagnosis_key";
    let (key_data, rolling_start, rolling_period, trl, visited, origin, report_type, dsos) = row;
    let key = TemporaryExposureKey::from_slice(&key_data)
        .map_err(|_| StoreError::corrupt(T, "key_data", &"not 16 bytes"))?;
    let rolling_start = u32::try_from(rolling_start)
        .map_err(|_| StoreError::corrupt(T, "rolling_start_interval_number", &"out of range"))?;
    let rolling_period = u32::try_from(rolling_period)
        .ok()
        .and_then(|rp| RollingPeriod::new(rp).ok())
        .ok_or_else(|| StoreError::corrupt(T, "rolling_period", &"out of range"))?;
    let transmission_risk = TransmissionRisk::new(trl)
        .map_err(|_| StoreError::corrupt(T, "transmission_risk_level", &"out of range"))?;
    let report_type = ReportType::new(report_type)
        .map_err(|_| StoreError::corrupt(T, "report_type", &"out of range"))?;
    let days_since_onset = DaysSinceOnset::new(dsos)
        .map_err(|_| StoreError::corrupt(T, "days_since_onset", &"out of range"))?;
    Ok(EfgsKey {
        key,
        rolling_start: IntervalNumber(rolling_start),
        rolling_period,
        transmission_risk,
        visited_countries: split_countries(&visited)?,
        origin: country(T, "origin", &origin)?,
        report_type,
        days_since_onset,
    })
}

/// A trust-list row as read back.
pub(crate) fn trust_from_row(row: TrustColumns) -> Result<TrustRow, StoreError> {
    const T: &str = "trust_entry";
    let (
        thumb,
        country_code,
        kind,
        certificate_pem,
        operator_signature,
        revoked,
        host,
        created,
        entry_signature,
    ) = row;
    Ok(TrustRow {
        thumbprint: thumbprint(T, "thumbprint", &thumb)?,
        country: country(T, "country", &country_code)?,
        kind: TrustKind::parse(&kind).map_err(|_| StoreError::corrupt(T, "kind", &"unknown"))?,
        certificate_pem,
        operator_signature,
        revoked,
        host,
        created_at: UnixTime(created),
        entry_signature,
    })
}

/// A download batch as read back.
pub(crate) fn batch_from_row(row: BatchColumns) -> Result<DownloadBatch, StoreError> {
    let (tag, created_at, next_tag, key_count) = row;
    let tag_of = |text: String, column| {
        text.parse().map_err(|e| StoreError::corrupt("download_batch", column, &e))
    };
    Ok(DownloadBatch {
        tag: tag_of(tag, "tag")?,
        created_at: UnixTime(created_at),
        next_tag: next_tag.map(|text| tag_of(text, "next_tag")).transpose()?,
        key_count: count("download_batch", "key_count", key_count)?,
    })
}

/// An audit row as read back.
pub(crate) fn audit_from_row(row: AuditColumns) -> Result<AuditRow, StoreError> {
    const T: &str = "upload";
    let (country_code, uploaded_at, auth, signing, batch_signature, amount) = row;
    Ok(AuditRow {
        country: country(T, "country", &country_code)?,
        uploaded_at: UnixTime(uploaded_at),
        auth_thumbprint: thumbprint(T, "auth_thumbprint", &auth)?,
        signing_thumbprint: thumbprint(T, "signing_thumbprint", &signing)?,
        batch_signature,
        amount: count(T, "key_count", amount)?,
    })
}

/// A stored key count as `u64`.
pub(crate) fn key_count(table: &'static str, value: i64) -> Result<u64, StoreError> {
    count(table, "key_count", value)
}

/// A callback subscription as read back.
pub(crate) fn subscription_from_row(
    row: SubscriptionColumns,
) -> Result<CallbackSubscription, StoreError> {
    const T: &str = "callback_subscription";
    let (country_text, callback_id, url, created_at, suspended_at) = row;
    Ok(CallbackSubscription {
        country: country(T, "country", &country_text)?,
        callback_id,
        url,
        created_at: UnixTime(created_at),
        suspended_at: suspended_at.map(UnixTime),
    })
}

/// A due callback task as read back.
pub(crate) fn task_from_row(row: TaskColumns) -> Result<CallbackTask, StoreError> {
    let (id, batch_tag, batch_created_at, retries, country_text, callback_id, url) = row;
    Ok(CallbackTask {
        id,
        batch_tag: batch_tag
            .parse()
            .map_err(|e| StoreError::corrupt("callback_task", "batch_tag", &e))?,
        batch_created_at: UnixTime(batch_created_at),
        retries: u32::try_from(retries)
            .map_err(|_| StoreError::corrupt("callback_task", "retries", &"out of range"))?,
        country: country("callback_subscription", "country", &country_text)?,
        callback_id,
        url,
    })
}

#[cfg(test)]
mod tests {
    use herald_model::TransmissionRiskLevel;
    use proptest::prelude::*;

    use super::*;

    fn cc(text: &str) -> CountryCode {
        text.parse().unwrap()
    }

    fn keys() -> Vec<EfgsKey> {
        let base = EfgsKey {
            key: TemporaryExposureKey::from_bytes([0xa5; 16]),
            rolling_start: IntervalNumber(2_660_000),
            rolling_period: RollingPeriod::FULL_DAY,
            transmission_risk: TransmissionRisk::Level(TransmissionRiskLevel::new(3).unwrap()),
            visited_countries: vec![cc("FR"), cc("NL")],
            origin: cc("DE"),
            report_type: ReportType::ConfirmedTest,
            days_since_onset: DaysSinceOnset::new(2).unwrap(),
        };
        let mut edge = base.clone();
        edge.visited_countries = Vec::new();
        edge.transmission_risk = TransmissionRisk::NotProvided;
        edge.rolling_start = IntervalNumber(u32::MAX);
        edge.rolling_period = RollingPeriod::new(1).unwrap();
        edge.report_type = ReportType::Unknown;
        edge.days_since_onset = DaysSinceOnset::new(-14).unwrap();
        let mut other = base.clone();
        other.visited_countries = vec![cc("DE"), cc("AT"), cc("DE")];
        other.days_since_onset = DaysSinceOnset::new(4014).unwrap();
        other.report_type = ReportType::Revoked;
        vec![base, edge, other]
    }

    #[test]
    fn packed_payloads_round_trip() {
        for key in keys() {
            let packed = pack_payload(&key);
            assert_eq!(packed.len(), PACKED_FIXED + 2 * key.visited_countries.len());
            assert_eq!(unpack_payload(&packed).unwrap(), key);
            // Every shorter prefix is refused (odd lengths or missing fields), never misread.
            for end in 0..packed.len() {
                let short = &packed[..end];
                if end >= PACKED_FIXED && (end - PACKED_FIXED).is_multiple_of(2) {
                    continue;
                }
                assert!(unpack_payload(short).is_err(), "{end}");
            }
        }
        let mut bad = pack_payload(&keys()[0]);
        bad[0] = 2;
        assert!(unpack_payload(&bad).unwrap_err().to_string().contains("version"));
    }

    proptest! {
        #[test]
        fn unpacking_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = unpack_payload(&bytes);
        }
    }
}
