//! The validation and transformation rules of a publish request (specs/key-server.md §2.4), as
//! pure functions the key server calls in this order:
//!
//! 1. [`check_key_count`] (step 4): 1..=30 keys, else the whole request is refused;
//! 2. [`symptom_onset`] (step 5): the request's onset interval, else the certificate's, else
//!    now − 4 days (flagged as missing for the statistics);
//! 3. [`validate_keys`] (step 6): per key, with the reason a key is dropped; the rest survive;
//! 4. [`backfill_transmission_risk`] (step 8): TR 0 becomes 2, 4 or 6 by report type;
//! 5. [`apply_symptom_onset`] (step 9): DSOS per key by whole UTC days; a key more than 14 days
//!    from the onset is dropped with a warning;
//! 6. [`check_key_layout`] (step 10): sorts by (start, period) and refuses overlapping keys and
//!    more than 3 keys sharing a start;
//! 7. [`created_at`] (step 7): the embargo, when a still-valid key may be released.
//!
//! Where ENS's code and documentation differ, this follows the code (what clients observe):
//! a key is too old when `start + period <= interval(now − 360 h)` (the spec's table says `≥`
//! for the accepted side, which is the same rule up to the boundary interval, where the code
//! refuses).

use std::fmt::Write as _;

use herald_model::time::INTERVAL_SECONDS;
use herald_model::{
    DaysSinceOnset, IntervalNumber, RollingPeriod, TemporaryExposureKey, TransmissionRiskLevel,
    UnixTime,
};

use super::{PublishKey, VerificationReportType, decode_lenient_base64};

/// `MAX_KEYS_ON_PUBLISH`: the most keys one request may carry.
pub const MAX_KEYS_ON_PUBLISH: usize = 30;
/// `MAX_INTERVAL_AGE_ON_PUBLISH`: 360 h, in seconds; older keys are dropped.
pub const MAX_INTERVAL_AGE_ON_PUBLISH_SECONDS: i64 = 360 * 3600;
/// `MAX_SYMPTOM_ONSET_DAYS`: keys further than this from the onset are dropped (ENS code: 14).
pub const MAX_SYMPTOM_ONSET_DAYS: i64 = 14;
/// `MAX_VALID_SYMPTOM_ONSET_REPORT_DAYS`: an onset interval older than UTC midnight of
/// now − 28 days is ignored.
pub const MAX_VALID_SYMPTOM_ONSET_REPORT_DAYS: i64 = 28;
/// `DEFAULT_SYMPTOM_ONSET_DAYS_AGO`: the assumed onset when none is usable.
pub const DEFAULT_SYMPTOM_ONSET_DAYS_AGO: i64 = 4;
/// `MAX_SAME_START_INTERVAL_KEYS`: the most keys that may share a start interval (the OS v1.5
/// same-day split makes two).
pub const MAX_SAME_START_INTERVAL_KEYS: usize = 3;
/// `TRUNCATE_WINDOW`: `created_at` is truncated to this many seconds (1 h).
pub const TRUNCATE_WINDOW_SECONDS: i64 = 3600;

const DAY_SECONDS: i64 = 86_400;
const INTERVALS_PER_DAY: i64 = 144;

/// Why a whole request is refused by the rules (400 `bad_request`). The messages are ENS's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestRuleError {
    /// No keys at all.
    #[error("no exposure keys in publish request")]
    NoKeys,
    /// More than [`MAX_KEYS_ON_PUBLISH`] keys.
    #[error("too many exposure keys in publish: {count}, max of {max} is allowed")]
    TooManyKeys {
        /// Keys in the request.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A key starts inside the validity of a key with an earlier start.
    #[error(
        "exposure keys have non aligned overlapping intervals: {start} overlaps with previous key \
         that is good from {previous_start} to {previous_end}"
    )]
    OverlappingIntervals {
        /// The overlapping key's start interval.
        start: u32,
        /// The previous distinct start.
        previous_start: u32,
        /// The end (exclusive) of the previous start's last key.
        previous_end: u64,
    },
    /// More than [`MAX_SAME_START_INTERVAL_KEYS`] keys share a start interval.
    #[error("too many overlapping keys for start interval: {start} want: <= {max}, got: {count}")]
    TooManySameStart {
        /// The shared start interval.
        start: u32,
        /// The limit.
        max: usize,
        /// Keys with that start.
        count: usize,
    },
}

/// Why one key is dropped (the request then answers 200 `partial_failure`, or 400 if no key
/// survives). The messages follow ENS's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRejectionReason {
    /// `key` is not Base64.
    #[error("key is not valid base64")]
    KeyNotBase64,
    /// `key` is Base64 of the wrong number of bytes.
    #[error("invalid key length, {actual}, must be 16")]
    KeyLength {
        /// Decoded length.
        actual: usize,
    },
    /// `rollingPeriod` outside 1..=144 (0 included: there is no default).
    #[error("invalid interval count, {value}, must be >= 1 && <= 144")]
    RollingPeriod {
        /// As sent.
        value: i64,
    },
    /// The key stopped being valid before the 360-hour window.
    #[error(
        "key expires before minimum window; {start} + {period} = {valid_until} which is too old, \
         must be > {min_valid_until}"
    )]
    TooOld {
        /// `rollingStartNumber`.
        start: i64,
        /// `rollingPeriod`.
        period: i64,
        /// `start + period`.
        valid_until: i64,
        /// `interval(now − 360 h)`.
        min_valid_until: i64,
    },
    /// The key starts after the current interval.
    #[error("interval number {start} is in the future, must be <= {max}")]
    InFuture {
        /// `rollingStartNumber`.
        start: i64,
        /// `interval(now)`.
        max: i64,
    },
    /// `transmissionRisk` outside 0..=8.
    #[error("invalid transmission risk: {value}, must be >= 0 && <= 8")]
    TransmissionRisk {
        /// As sent.
        value: i64,
    },
}

/// A dropped key: its position in the request and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key {index} cannot be imported: {reason}")]
pub struct KeyRejection {
    /// Position in `temporaryExposureKeys`, from 0.
    pub index: usize,
    /// Why it was dropped.
    pub reason: KeyRejectionReason,
}

/// A key that passed [`validate_keys`], as typed values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedKey {
    /// Position in `temporaryExposureKeys`, from 0.
    pub index: usize,
    /// The key bytes.
    pub key: TemporaryExposureKey,
    /// `rollingStartNumber`.
    pub rolling_start: IntervalNumber,
    /// `rollingPeriod`.
    pub rolling_period: RollingPeriod,
    /// `transmissionRisk` as sent (0 = "backfill from the report type").
    pub transmission_risk: TransmissionRiskLevel,
    /// Set by [`apply_symptom_onset`].
    pub days_since_onset: Option<DaysSinceOnset>,
}

/// Where the onset interval came from (§2.4 step 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnsetSource {
    /// The request's `symptomOnsetInterval`.
    Request,
    /// The certificate's `symptomOnsetInterval` claim.
    Certificate,
    /// Neither was usable: now − 4 days (`MissingOnset` in the statistics).
    Default,
}

/// The symptom onset used for every key of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymptomOnset {
    /// The onset interval number.
    pub interval: i64,
    /// Where it came from.
    pub source: OnsetSource,
}

impl AcceptedKey {
    /// The first interval after the key: `rolling_start + rolling_period`.
    pub fn end(&self) -> u64 {
        u64::from(self.rolling_start.get()) + u64::from(self.rolling_period.get())
    }
}

impl SymptomOnset {
    /// Whether no onset was given (the statistics' `MissingOnset`).
    pub fn is_missing(&self) -> bool {
        self.source == OnsetSource::Default
    }
}

/// Step 4: a request must carry 1..=30 keys.
pub fn check_key_count(count: usize) -> Result<(), RequestRuleError> {
    match count {
        0 => Err(RequestRuleError::NoKeys),
        n if n > MAX_KEYS_ON_PUBLISH => {
            Err(RequestRuleError::TooManyKeys { count: n, max: MAX_KEYS_ON_PUBLISH })
        }
        _ => Ok(()),
    }
}

/// Step 6 for one key, in ENS's order: key bytes, rolling period, age, future start, TR.
pub fn validate_key(
    index: usize,
    key: &PublishKey,
    now: UnixTime,
) -> Result<AcceptedKey, KeyRejection> {
    let reject = |reason| KeyRejection { index, reason };
    let Some(bytes) = key.key else {
        let reason = match decode_lenient_base64(&key.key_text) {
            Some(decoded) => KeyRejectionReason::KeyLength { actual: decoded.len() },
            None => KeyRejectionReason::KeyNotBase64,
        };
        return Err(reject(reason));
    };
    let period = u32::try_from(key.rolling_period)
        .ok()
        .and_then(|p| RollingPeriod::new(p).ok())
        .ok_or_else(|| reject(KeyRejectionReason::RollingPeriod { value: key.rolling_period }))?;
    let start = key.rolling_start_number;
    let valid_until = start.saturating_add(i64::from(period.get()));
    let min_valid_until =
        interval_of(now.seconds().saturating_sub(MAX_INTERVAL_AGE_ON_PUBLISH_SECONDS));
    // A start before 1970 is older than any window, whatever the arithmetic says.
    if valid_until <= min_valid_until || start < 0 {
        return Err(reject(KeyRejectionReason::TooOld {
            start,
            period: key.rolling_period,
            valid_until,
            min_valid_until,
        }));
    }
    let current = interval_of(now.seconds());
    let in_future = || reject(KeyRejectionReason::InFuture { start, max: current });
    if start > current {
        return Err(in_future());
    }
    let rolling_start = u32::try_from(start).map(IntervalNumber).map_err(|_| in_future())?;
    let transmission_risk = i32::try_from(key.transmission_risk)
        .ok()
        .and_then(|tr| TransmissionRiskLevel::new(tr).ok())
        .ok_or_else(|| {
            reject(KeyRejectionReason::TransmissionRisk { value: key.transmission_risk })
        })?;
    Ok(AcceptedKey {
        index,
        key: TemporaryExposureKey::from_bytes(bytes),
        rolling_start,
        rolling_period: period,
        transmission_risk,
        days_since_onset: None,
    })
}

/// Step 6 for every key: the survivors and the dropped keys, both in request order.
pub fn validate_keys(keys: &[PublishKey], now: UnixTime) -> (Vec<AcceptedKey>, Vec<KeyRejection>) {
    let mut accepted = Vec::with_capacity(keys.len());
    let mut rejected = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        match validate_key(index, key, now) {
            Ok(k) => accepted.push(k),
            Err(r) => rejected.push(r),
        }
    }
    (accepted, rejected)
}

/// The `error` text of a `partial_failure` response, formatted as ENS's go-multierror does
/// (`1 error occurred:\n\t* key 2 cannot be imported: …\n\n`).
pub fn partial_failure_message(rejections: &[KeyRejection]) -> String {
    let mut text = match rejections.len() {
        1 => "1 error occurred:\n\t".to_owned(),
        n => format!("{n} errors occurred:\n\t"),
    };
    for (i, rejection) in rejections.iter().enumerate() {
        if i > 0 {
            text.push_str("\n\t");
        }
        // Writing into a String cannot fail.
        let _ = write!(text, "* {rejection}");
    }
    text.push_str("\n\n");
    text
}

/// Step 5: the onset interval. A value is usable if `midnight(now − 28 d) ≤ v < interval(now)`
/// (and not 0); the request's wins over the certificate's; otherwise `interval(now − 4 d)`.
pub fn symptom_onset(
    request: Option<i64>,
    certificate: Option<u32>,
    now: UnixTime,
) -> SymptomOnset {
    let current = interval_of(now.seconds());
    let oldest_day =
        (now.seconds().saturating_sub(MAX_VALID_SYMPTOM_ONSET_REPORT_DAYS * DAY_SECONDS))
            .div_euclid(DAY_SECONDS);
    let min = oldest_day * INTERVALS_PER_DAY;
    let usable = |v: i64| v != 0 && v >= min && v < current;
    if let Some(v) = request.filter(|v| usable(*v)) {
        return SymptomOnset { interval: v, source: OnsetSource::Request };
    }
    if let Some(v) = certificate.map(i64::from).filter(|v| usable(*v)) {
        return SymptomOnset { interval: v, source: OnsetSource::Certificate };
    }
    SymptomOnset {
        interval: interval_of(
            now.seconds().saturating_sub(DEFAULT_SYMPTOM_ONSET_DAYS_AGO * DAY_SECONDS),
        ),
        source: OnsetSource::Default,
    }
}

/// Whole UTC days from the day of interval `from` to the day of interval `to` (ENS
/// `DaysBetweenIntervals`): negative if `to` is on an earlier day.
pub fn days_between_intervals(from: i64, to: i64) -> i64 {
    to.div_euclid(INTERVALS_PER_DAY) - from.div_euclid(INTERVALS_PER_DAY)
}

/// Step 9: sets each key's days since onset (key day − onset day). A key more than
/// [`MAX_SYMPTOM_ONSET_DAYS`] away is dropped; the returned warnings say which (ENS's text,
/// for the response's `warnings`).
pub fn apply_symptom_onset(keys: &mut Vec<AcceptedKey>, onset: &SymptomOnset) -> Vec<String> {
    let mut warnings = Vec::new();
    keys.retain_mut(|key| {
        let days = days_between_intervals(onset.interval, i64::from(key.rolling_start.get()));
        let dsos = i32::try_from(days).ok().and_then(|d| DaysSinceOnset::new(d).ok());
        match dsos {
            Some(d) if days.abs() <= MAX_SYMPTOM_ONSET_DAYS => {
                key.days_since_onset = Some(d);
                true
            }
            _ => {
                warnings.push(format!(
                    "key {} symptom onset is too large, {} > {MAX_SYMPTOM_ONSET_DAYS} - saving \
                     without this key",
                    key.index,
                    days.unsigned_abs()
                ));
                false
            }
        }
    });
    warnings
}

/// Step 10: sorts the keys by (start, period), then refuses the request if a key starts inside
/// the validity of the previous distinct start, or if more than
/// [`MAX_SAME_START_INTERVAL_KEYS`] keys share a start. Keys need not start at UTC midnight.
pub fn check_key_layout(keys: &mut [AcceptedKey]) -> Result<(), RequestRuleError> {
    keys.sort_by_key(|k| (k.rolling_start, k.rolling_period));
    let Some(first) = keys.first() else { return Ok(()) };
    let mut last_start = first.rolling_start;
    let mut next_free = first.end();
    for key in keys.iter() {
        if key.rolling_start == last_start {
            next_free = key.end();
            continue;
        }
        if u64::from(key.rolling_start.get()) < next_free {
            return Err(RequestRuleError::OverlappingIntervals {
                start: key.rolling_start.get(),
                previous_start: last_start.get(),
                previous_end: next_free,
            });
        }
        last_start = key.rolling_start;
        next_free = key.end();
    }
    for group in keys.chunk_by(|a, b| a.rolling_start == b.rolling_start) {
        if group.len() > MAX_SAME_START_INTERVAL_KEYS {
            return Err(RequestRuleError::TooManySameStart {
                start: group.first().map_or(0, |k| k.rolling_start.get()),
                max: MAX_SAME_START_INTERVAL_KEYS,
                count: group.len(),
            });
        }
    }
    Ok(())
}

/// Step 8: a transmission risk of 0 is filled from the certificate's report type (confirmed →
/// 2, likely → 4, negative → 6); user-report, and no certificate at all (the HA's bypass
/// flag), keep 0. A non-zero risk is kept. (ENS has a `TransmissionRiskSelfReport = 5`
/// constant that this backfill never uses.)
pub fn backfill_transmission_risk(
    report_type: Option<VerificationReportType>,
    sent: TransmissionRiskLevel,
) -> TransmissionRiskLevel {
    if sent.get() != 0 {
        return sent;
    }
    let level = match report_type {
        Some(VerificationReportType::Confirmed) => 2,
        Some(VerificationReportType::Likely) => 4,
        Some(VerificationReportType::Negative) => 6,
        Some(VerificationReportType::UserReport) | None => 0,
    };
    TransmissionRiskLevel::new(level).unwrap_or(sent)
}

/// Step 7, the embargo: a key still valid now (`start + period > interval(now)`) gets
/// `created_at` = the end of its validity + 1 h, truncated to the hour, so that no export
/// releases it early; every other key gets [`truncate_to_window`]`(now)`. With ENS's
/// `DEBUG_RELEASE_SAME_DAY_KEYS` the service uses `truncate_to_window(now)` for every key.
pub fn created_at(
    rolling_start: IntervalNumber,
    rolling_period: RollingPeriod,
    now: UnixTime,
) -> UnixTime {
    let end = i64::from(rolling_start.get()) + i64::from(rolling_period.get());
    if end > interval_of(now.seconds()) {
        return truncate_to_window(UnixTime(end * INTERVAL_SECONDS + TRUNCATE_WINDOW_SECONDS));
    }
    truncate_to_window(now)
}

/// `t` truncated to [`TRUNCATE_WINDOW_SECONDS`] (the hour), the coarse timestamp stored as
/// `created_at` (§6.7).
pub fn truncate_to_window(t: UnixTime) -> UnixTime {
    UnixTime(t.seconds() - t.seconds().rem_euclid(TRUNCATE_WINDOW_SECONDS))
}

/// `floor(seconds / 600)`, without the u32 range check of [`UnixTime::interval`].
fn interval_of(seconds: i64) -> i64 {
    seconds.div_euclid(INTERVAL_SECONDS)
}

#[cfg(test)]
mod tests;
