//! Between domain types and column values. Both backends use the same column types on the Rust
//! side: `i64` for BIGINT/INTEGER, `i32` for the small payload integers, `Vec<u8>` for
//! BLOB/BYTEA, `String` for TEXT.

use herald_model::{
    CertThumbprint, CountryCode, IntervalNumber, ReportType, RollingPeriod, TemporaryExposureKey,
    UnixTime,
};
use herald_wire::efgs::{DaysSinceOnset, EfgsKey, TransmissionRisk};

use super::{
    AuditRow, CallbackSubscription, CallbackTask, DownloadBatch, StoreError, TrustKind, TrustRow,
};

/// The columns of one `diagnosis_key` row, computed before the transaction starts.
pub(crate) struct KeyColumns {
    pub(crate) ordinal: i64,
    pub(crate) payload_hash: [u8; 32],
    pub(crate) key_data: [u8; 16],
    pub(crate) rolling_start: i64,
    pub(crate) rolling_period: i32,
    pub(crate) transmission_risk: i32,
    pub(crate) visited_countries: String,
    pub(crate) origin: String,
    pub(crate) report_type: i32,
    pub(crate) days_since_onset: i32,
}

/// The payload columns of a `diagnosis_key` row as read back, in `SELECT` order.
pub(crate) type KeyRow = (Vec<u8>, i64, i32, i32, String, String, i32, i32);

/// A `trust_entry` row as read, in `SELECT` order.
pub(crate) type TrustColumns = (String, String, String, String, String, bool, Option<String>, i64);

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
    /// The columns of the key at `ordinal` in its upload.
    pub(crate) fn new(ordinal: usize, key: &EfgsKey, keys: usize) -> Result<Self, StoreError> {
        let ordinal = i64::try_from(ordinal).map_err(|_| StoreError::UploadTooLarge { keys })?;
        Ok(Self {
            ordinal,
            payload_hash: key.payload_hash(),
            key_data: *key.key.as_bytes(),
            rolling_start: i64::from(key.rolling_start.get()),
            rolling_period: i32::from(key.rolling_period.get()),
            transmission_risk: key.transmission_risk.wire(),
            visited_countries: join_countries(&key.visited_countries),
            origin: key.origin.as_str().to_owned(),
            report_type: key.report_type.wire(),
            days_since_onset: key.days_since_onset.get(),
        })
    }
}

/// Visited countries as stored: the codes joined with `,` (unambiguous: every code is two
/// uppercase letters), the empty string for none.
pub(crate) fn join_countries(countries: &[CountryCode]) -> String {
    countries.iter().map(CountryCode::as_str).collect::<Vec<_>>().join(",")
}

/// The inverse of [`join_countries`].
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

/// A key as read back. Field errors name the column, never the value.
pub(crate) fn key_from_row(row: KeyRow) -> Result<EfgsKey, StoreError> {
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
    let (thumb, country_code, kind, certificate_pem, operator_signature, revoked, host, created) =
        row;
    Ok(TrustRow {
        thumbprint: thumbprint(T, "thumbprint", &thumb)?,
        country: country(T, "country", &country_code)?,
        kind: TrustKind::parse(&kind).ok_or_else(|| StoreError::corrupt(T, "kind", &"unknown"))?,
        certificate_pem,
        operator_signature,
        revoked,
        host,
        created_at: UnixTime(created),
    })
}

/// A download batch as read back.
pub(crate) fn batch_from_row(row: BatchColumns) -> Result<DownloadBatch, StoreError> {
    let (tag, created_at, next_tag, key_count) = row;
    Ok(DownloadBatch {
        tag,
        created_at: UnixTime(created_at),
        next_tag,
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
        batch_tag,
        batch_created_at: UnixTime(batch_created_at),
        retries: u32::try_from(retries)
            .map_err(|_| StoreError::corrupt("callback_task", "retries", &"out of range"))?,
        country: country("callback_subscription", "country", &country_text)?,
        callback_id,
        url,
    })
}
