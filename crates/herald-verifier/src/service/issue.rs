//! What `/api/issue` and the portal's issue form check of a request before any code is drawn:
//! a pure function of the settings, the time and the request.

use herald_model::Date;
use herald_wire::verification::{ErrorCode, IssueRequest, TestType, parse_date};

use super::{ApiError, valid_uuid};
use crate::config::CodeSettings;

/// An issue request that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedIssue {
    /// The test type (one of the allowed).
    pub test_type: TestType,
    /// The symptom onset day, not in the future nor too old.
    pub symptom_day: Option<Date>,
    /// The test day, likewise.
    pub test_day: Option<Date>,
    /// The UUID asked for, lower case (else the service draws one).
    pub uuid: Option<String>,
    /// The external issuer id, at most 255 bytes.
    pub external_issuer_id: Option<String>,
}

/// Checks `request` at `now` against `codes` and the `allowed` test types, in ENVS order.
pub fn check(
    codes: &CodeSettings,
    allowed: &[TestType],
    now: i64,
    request: &IssueRequest,
) -> Result<CheckedIssue, ApiError> {
    let test_type =
        TestType::parse(&request.test_type).filter(|t| allowed.contains(t)).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidTestType,
                format!(
                    "testType must be one of {}",
                    allowed.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
    let tz_minutes = request.tz_offset;
    if !tz_minutes.is_finite() || tz_minutes.abs() > 14.0 * 60.0 {
        return Err(ApiError::new(
            ErrorCode::UnparsableRequest,
            "tzOffset must be minutes in -840..=840",
        ));
    }
    // Truncation is fine: the offset is bounded above and only whole minutes matter.
    #[allow(clippy::cast_possible_truncation)]
    let local_today = (now + (tz_minutes as i64) * 60).div_euclid(86_400);
    let max_age = codes.max_date_age_days;
    let symptom_day = day("symptomDate", request.symptom_date.as_deref(), local_today, max_age)?;
    let test_day = day("testDate", request.test_date.as_deref(), local_today, max_age)?;
    if codes.require_date && symptom_day.is_none() && test_day.is_none() {
        return Err(ApiError::new(ErrorCode::MissingDate, "a symptomDate or testDate is required"));
    }
    let uuid = match request.uuid.as_deref().filter(|u| !u.is_empty()) {
        Some(u) if valid_uuid(u) => Some(u.to_ascii_lowercase()),
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::UnparsableRequest,
                "uuid must be a UUID (8-4-4-4-12 hex digits)",
            ));
        }
        None => None,
    };
    let external_issuer_id = request.external_issuer_id.clone().filter(|e| !e.is_empty());
    if external_issuer_id.as_ref().is_some_and(|e| e.len() > 255) {
        return Err(ApiError::new(
            ErrorCode::UnparsableRequest,
            "externalIssuerID must be at most 255 characters",
        ));
    }
    Ok(CheckedIssue { test_type, symptom_day, test_day, uuid, external_issuer_id })
}

/// The date `field` (`YYYY-MM-DD`, empty for none): not after `today`, nor more than
/// `max_age` days before it.
fn day(
    field: &str,
    text: Option<&str>,
    today: i64,
    max_age: i64,
) -> Result<Option<Date>, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else { return Ok(None) };
    let invalid = |m: String| ApiError::new(ErrorCode::InvalidDate, m);
    let date = parse_date(text).ok_or_else(|| invalid(format!("{field} must be YYYY-MM-DD")))?;
    let day = date.utc_day();
    if day > today {
        return Err(invalid(format!("{field} is in the future")));
    }
    if day < today - max_age {
        return Err(invalid(format!("{field} is more than {max_age} days ago")));
    }
    Ok(Some(date))
}
