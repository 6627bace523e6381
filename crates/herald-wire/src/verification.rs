//! The verification service's JSON API (specs/key-server.md §3.2–3.3), field for field
//! compatible with Google's Exposure Notifications Verification Server:
//!
//! - app API: `POST /api/verify` ([`VerifyRequest`] → [`VerifyResponse`]) and
//!   `POST /api/certificate` ([`CertificateRequest`] → [`CertificateResponse`]);
//! - admin API: `POST /api/issue` ([`IssueRequest`] → [`IssueResponse`]), `/api/batch-issue`
//!   ([`BatchIssueRequest`] → [`BatchIssueResponse`]), `/api/checkcodestatus` and
//!   `/api/expirecode` ([`UuidRequest`] → [`CodeStatusResponse`]);
//! - [`ErrorCode`]: the machine-readable `errorCode` strings with their HTTP statuses;
//! - [`TestType`] and the cumulative `accept` rule; calendar dates (`YYYY-MM-DD`) and the
//!   RFC 1123 expiry times.
//!
//! Decoding ignores fields it does not know (clients add fields over time) but refuses a field
//! named twice, a field of the wrong JSON type and anything that is not one JSON object. A
//! decode error names the field, never echoes a value (request bodies hold codes and tokens).

use serde::{Deserialize, Serialize};

use herald_model::Date;

/// The largest request body the service reads, in bytes (a batch of 10 issue requests with
/// padding fits easily).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// At most this many codes in one `/api/batch-issue` (ENVS: 10).
pub const MAX_BATCH: usize = 10;

/// The `errorCode` of an answer, with its HTTP status (§3.2; the strings are ENVS's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the body is not the expected JSON (413 when it is too large).
    UnparsableRequest,
    /// 400: the code is unknown, already used, or malformed. ENVS answers this (not
    /// `code_not_found`) for an unknown code; herald follows the code.
    CodeInvalid,
    /// 400: the code has expired (or its issuer expired it).
    CodeExpired,
    /// 404 on the admin API: no code with this UUID.
    CodeNotFound,
    /// 400: a test type that is unknown, or not allowed here.
    InvalidTestType,
    /// 412: the code's test type is not among those the app accepts.
    UnsupportedTestType,
    /// 400: the verification token is malformed, not ours, or its signature fails.
    TokenInvalid,
    /// 400: the token has expired, or was already used.
    TokenExpired,
    /// 400: `ekeyhmac` is not Base64 of exactly 32 bytes.
    HmacInvalid,
    /// 400: a date is required and none was given.
    MissingDate,
    /// 400: a date is malformed, in the future or too old.
    InvalidDate,
    /// 409: a code with this UUID exists.
    UuidAlreadyExists,
    /// 400: a batch is empty or larger than [`MAX_BATCH`].
    BatchSize,
    /// 401: the `X-API-Key` is missing, unknown, revoked, or of the wrong kind.
    Unauthorized,
    /// 429: too many failed attempts with this API key (brute-force lockout).
    QuotaExceeded,
    /// 500: an internal failure; nothing about it is sent.
    InternalServerError,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [Self; 16] = [
        Self::UnparsableRequest,
        Self::CodeInvalid,
        Self::CodeExpired,
        Self::CodeNotFound,
        Self::InvalidTestType,
        Self::UnsupportedTestType,
        Self::TokenInvalid,
        Self::TokenExpired,
        Self::HmacInvalid,
        Self::MissingDate,
        Self::InvalidDate,
        Self::UuidAlreadyExists,
        Self::BatchSize,
        Self::Unauthorized,
        Self::QuotaExceeded,
        Self::InternalServerError,
    ];

    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnparsableRequest => "unparsable_request",
            Self::CodeInvalid => "code_invalid",
            Self::CodeExpired => "code_expired",
            Self::CodeNotFound => "code_not_found",
            Self::InvalidTestType => "invalid_test_type",
            Self::UnsupportedTestType => "unsupported_test_type",
            Self::TokenInvalid => "token_invalid",
            Self::TokenExpired => "token_expired",
            Self::HmacInvalid => "hmac_invalid",
            Self::MissingDate => "missing_date",
            Self::InvalidDate => "invalid_date",
            Self::UuidAlreadyExists => "uuid_already_exists",
            Self::BatchSize => "batch_size_limit_exceeded",
            Self::Unauthorized => "unauthorized",
            Self::QuotaExceeded => "quota_exceeded",
            Self::InternalServerError => "internal_server_error",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::UnsupportedTestType => 412,
            Self::CodeNotFound => 404,
            Self::UuidAlreadyExists => 409,
            Self::Unauthorized => 401,
            Self::QuotaExceeded => 429,
            Self::InternalServerError => 500,
            Self::UnparsableRequest
            | Self::CodeInvalid
            | Self::CodeExpired
            | Self::InvalidTestType
            | Self::TokenInvalid
            | Self::TokenExpired
            | Self::HmacInvalid
            | Self::MissingDate
            | Self::InvalidDate
            | Self::BatchSize => 400,
        }
    }
}

/// The diagnosis a code stands for: its `testType`, which the certificate carries on as its
/// `reportType` claim, so both APIs share one type (same four values, same wire strings).
pub type TestType = crate::publish::VerificationReportType;

/// What accepting `accepted` admits (§3.2): `confirmed` ⊂ `likely` ⊂ `negative`, and
/// `user-report` admits confirmed and user-report.
fn admitted_by(accepted: TestType) -> &'static [TestType] {
    match accepted {
        TestType::Confirmed => &[TestType::Confirmed],
        TestType::Likely => &[TestType::Confirmed, TestType::Likely],
        TestType::Negative => &[TestType::Confirmed, TestType::Likely, TestType::Negative],
        TestType::UserReport => &[TestType::Confirmed, TestType::UserReport],
    }
}

/// The test types an app accepts, from its `accept` list: every type when the list is empty,
/// else the union of what each entry admits. An unknown entry is returned as the error.
pub fn accepted_types(accept: &[String]) -> Result<Vec<TestType>, String> {
    if accept.is_empty() {
        return Ok(TestType::ALL.to_vec());
    }
    let mut out = Vec::new();
    for entry in accept {
        let t = TestType::parse(entry).ok_or_else(|| entry.chars().take(32).collect::<String>())?;
        for admitted in admitted_by(t) {
            if !out.contains(admitted) {
                out.push(*admitted);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request is not valid JSON for this endpoint: {0}")]
pub struct DecodeError(String);

// The requests and answers below repeat `padding`, `error` and `errorCode`, as ENVS's own structs
// do: a shared struct under `#[serde(flatten)]` would change how a request refuses a duplicate or
// mistyped field, so each field list is spelled out as the protocol documents it.

/// `POST /api/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct VerifyRequest {
    /// The short or long code.
    #[serde(default)]
    pub code: String,
    /// The test types the app accepts (cumulative, see [`accepted_types`]).
    #[serde(default)]
    pub accept: Vec<String>,
    /// The user-report nonce (Base64); not used by herald yet.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Ignored.
    #[serde(default)]
    pub padding: Option<String>,
}

/// `POST /api/verify`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct VerifyResponse {
    /// The code's test type.
    #[serde(rename = "testtype", skip_serializing_if = "String::is_empty")]
    pub test_type: String,
    /// `YYYY-MM-DD`.
    #[serde(rename = "symptomDate", skip_serializing_if = "Option::is_none")]
    pub symptom_date: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(rename = "testDate", skip_serializing_if = "Option::is_none")]
    pub test_date: Option<String>,
    /// The verification token (JWT).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// What went wrong.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// [`ErrorCode::as_str`].
    #[serde(rename = "errorCode", skip_serializing_if = "String::is_empty")]
    pub error_code: String,
    /// Random padding.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub padding: String,
}

/// `POST /api/certificate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct CertificateRequest {
    /// The verification token.
    #[serde(default)]
    pub token: String,
    /// Base64 HMAC-SHA256 of the TEKs (§3.6), 32 bytes.
    #[serde(default)]
    pub ekeyhmac: String,
    /// Ignored.
    #[serde(default)]
    pub padding: Option<String>,
}

/// `POST /api/certificate`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CertificateResponse {
    /// The verification certificate (JWT).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub certificate: String,
    /// What went wrong.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// [`ErrorCode::as_str`].
    #[serde(rename = "errorCode", skip_serializing_if = "String::is_empty")]
    pub error_code: String,
    /// Random padding.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub padding: String,
}

/// `POST /api/issue` (one element of a batch).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct IssueRequest {
    /// `YYYY-MM-DD`.
    #[serde(rename = "symptomDate", default)]
    pub symptom_date: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(rename = "testDate", default)]
    pub test_date: Option<String>,
    /// [`TestType`] wire string.
    #[serde(rename = "testType", default)]
    pub test_type: String,
    /// The issuer's offset from UTC in minutes (to judge "today").
    #[serde(rename = "tzOffset", default)]
    pub tz_offset: f64,
    /// Accepted for compatibility, never stored (herald sends no SMS yet).
    #[serde(default)]
    pub phone: Option<String>,
    /// Accepted for compatibility.
    #[serde(rename = "smsTemplateLabel", default)]
    pub sms_template_label: Option<String>,
    /// The caller's idempotency id; a fresh one is made when absent.
    #[serde(default)]
    pub uuid: Option<String>,
    /// The caller's own issuer id (stored, for audit).
    #[serde(rename = "externalIssuerID", default)]
    pub external_issuer_id: Option<String>,
    /// Accepted for compatibility.
    #[serde(rename = "onlyGenerateSMS", default)]
    pub only_generate_sms: bool,
    /// Ignored.
    #[serde(default)]
    pub padding: Option<String>,
}

/// `POST /api/issue`'s answer (one element of a batch answer).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct IssueResponse {
    /// The code's UUID.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uuid: String,
    /// The short code.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub code: String,
    /// The short code's expiry, RFC 1123.
    #[serde(rename = "expiresAt", skip_serializing_if = "String::is_empty")]
    pub expires_at: String,
    /// The short code's expiry, Unix seconds.
    #[serde(rename = "expiresAtTimestamp", skip_serializing_if = "is_zero")]
    pub expires_at_timestamp: i64,
    /// The long code (for links).
    #[serde(rename = "longCode", skip_serializing_if = "String::is_empty")]
    pub long_code: String,
    /// The long code's expiry, RFC 1123.
    #[serde(rename = "longExpiresAt", skip_serializing_if = "String::is_empty")]
    pub long_expires_at: String,
    /// The long code's expiry, Unix seconds.
    #[serde(rename = "longExpiresAtTimestamp", skip_serializing_if = "is_zero")]
    pub long_expires_at_timestamp: i64,
    /// What went wrong.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// [`ErrorCode::as_str`].
    #[serde(rename = "errorCode", skip_serializing_if = "String::is_empty")]
    pub error_code: String,
}

/// `POST /api/batch-issue`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct BatchIssueRequest {
    /// Up to [`MAX_BATCH`] requests.
    #[serde(default)]
    pub codes: Vec<IssueRequest>,
    /// Ignored.
    #[serde(default)]
    pub padding: Option<String>,
}

/// `POST /api/batch-issue`'s answer: one answer per request, in order (not atomic).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BatchIssueResponse {
    /// The answers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<IssueResponse>,
    /// What went wrong with the whole batch.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// [`ErrorCode::as_str`].
    #[serde(rename = "errorCode", skip_serializing_if = "String::is_empty")]
    pub error_code: String,
}

/// `POST /api/checkcodestatus` and `POST /api/expirecode`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct UuidRequest {
    /// The code's UUID.
    #[serde(default)]
    pub uuid: String,
    /// Ignored.
    #[serde(default)]
    pub padding: Option<String>,
}

/// The answer of `/api/checkcodestatus` and `/api/expirecode`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CodeStatusResponse {
    /// Whether the code was used.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub claimed: bool,
    /// The short code's expiry, Unix seconds.
    #[serde(rename = "expiresAtTimestamp", skip_serializing_if = "is_zero")]
    pub expires_at_timestamp: i64,
    /// The long code's expiry, Unix seconds.
    #[serde(rename = "longExpiresAtTimestamp", skip_serializing_if = "is_zero")]
    pub long_expires_at_timestamp: i64,
    /// What went wrong.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// [`ErrorCode::as_str`].
    #[serde(rename = "errorCode", skip_serializing_if = "String::is_empty")]
    pub error_code: String,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// Decodes one request body of type `T`.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(DecodeError(format!("body is larger than {MAX_REQUEST_BYTES} bytes")));
    }
    // serde would also read a struct from a JSON array; only an object is a request.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(DecodeError("body is not a JSON object".to_owned()));
    }
    serde_json::from_slice(body).map_err(|e| {
        // serde_json names a missing or duplicate field, and quotes the offending value in
        // "invalid type/value" messages: that value is cut out (it may be a code or a token).
        let what = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("malformed JSON at line {} column {}", e.line(), e.column())
            }
            _ => {
                let text = e.to_string();
                let text = text.split(" at line").next().unwrap_or_default();
                if text.starts_with("invalid") {
                    without_quoted_values(text)
                } else {
                    text.to_owned()
                }
            }
        };
        DecodeError(what)
    })
}

/// `invalid type: string "x", expected …` without the quoted value.
fn without_quoted_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    for c in text.chars() {
        if c == '`' {
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out.replace("  ", " ")
}

/// A JSON answer as text (serialising these structs cannot fail).
pub fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Parses a request's `YYYY-MM-DD` (a real calendar date, years 1970..=9999). A date prints
/// back as `YYYY-MM-DD` with `Display`.
pub fn parse_date(text: &str) -> Option<Date> {
    Date::parse_iso(text).filter(|d| d.year() >= 1970)
}

#[cfg(test)]
mod tests {
    use herald_model::UnixTime;

    use super::*;

    #[test]
    fn error_codes_are_distinct_with_statuses() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c:?}");
            assert!([400, 401, 404, 409, 412, 429, 500].contains(&c.http_status()));
        }
        assert_eq!(ErrorCode::UnsupportedTestType.http_status(), 412);
        assert_eq!(ErrorCode::UuidAlreadyExists.http_status(), 409);
    }

    #[test]
    fn accept_is_cumulative() {
        let s = |v: &[&str]| {
            accepted_types(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .map(|t| t.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(","))
        };
        assert_eq!(s(&[]), Ok("confirmed,likely,negative,user-report".into()));
        assert_eq!(s(&["confirmed"]), Ok("confirmed".into()));
        assert_eq!(s(&["likely"]), Ok("confirmed,likely".into()));
        assert_eq!(s(&["negative"]), Ok("confirmed,likely,negative".into()));
        assert_eq!(s(&["user-report"]), Ok("confirmed,user-report".into()));
        assert_eq!(s(&["likely", "user-report"]), Ok("confirmed,likely,user-report".into()));
        assert_eq!(s(&["positive"]), Err("positive".into()));
    }

    #[test]
    fn decoding() {
        let r: VerifyRequest =
            decode(br#"{"code":"12345678","accept":["confirmed"],"padding":"xx","extra":1}"#)
                .unwrap();
        assert_eq!(r.code, "12345678");
        assert_eq!(r.accept, vec!["confirmed".to_owned()]);
        let e = decode::<VerifyRequest>(br#"{"code":12}"#).unwrap_err().to_string();
        assert!(e.contains("invalid type"), "{e}");
        assert!(!e.contains("12"), "no value echoed: {e}");
        let e = decode::<VerifyRequest>(br#"{"code":"1","code":"2"}"#).unwrap_err().to_string();
        assert!(e.contains("duplicate field"), "{e}");
        assert!(decode::<VerifyRequest>(b"[]").is_err());
        assert!(decode::<VerifyRequest>(b"{").is_err());
        let i: IssueRequest = decode(
            br#"{"testType":"confirmed","symptomDate":"2026-11-20","tzOffset":-60.0,"uuid":"u","externalIssuerID":"x","phone":"+1"}"#,
        )
        .unwrap();
        assert_eq!(i.test_type, "confirmed");
        assert!((i.tz_offset + 60.0).abs() < f64::EPSILON);
        let big = vec![b' '; MAX_REQUEST_BYTES + 1];
        assert!(decode::<VerifyRequest>(&big).is_err());
    }

    #[test]
    fn encoding_leaves_out_empty_fields() {
        let r = VerifyResponse {
            error: "x".into(),
            error_code: ErrorCode::CodeInvalid.as_str().into(),
            ..VerifyResponse::default()
        };
        assert_eq!(encode(&r), r#"{"error":"x","errorCode":"code_invalid"}"#);
        let r = IssueResponse {
            uuid: "u".into(),
            code: "1".into(),
            expires_at_timestamp: 5,
            ..IssueResponse::default()
        };
        assert_eq!(encode(&r), r#"{"uuid":"u","code":"1","expiresAtTimestamp":5}"#);
    }

    #[test]
    fn dates() {
        let day = |text: &str| parse_date(text).map(Date::utc_day);
        let format_date = |day| Date::from_utc_day(day).unwrap().to_string();
        assert_eq!(day("1970-01-01"), Some(0));
        assert_eq!(day("2026-11-28"), Some(20_785));
        assert_eq!(format_date(20_785), "2026-11-28");
        assert_eq!(parse_date("2024-02-29").map(|d| d.to_string()).as_deref(), Some("2024-02-29"));
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-1-01",
            "2026/01/01",
            "+026-01-01",
            "",
            "1969-12-31",
            "2026-01-00",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(UnixTime(0).rfc1123(), "Thu, 01 Jan 1970 00:00:00 UTC");
        assert_eq!(UnixTime(1_795_898_820).rfc1123(), "Sat, 28 Nov 2026 20:47:00 UTC");
        for d in [0, 1, 59, 60, 365, 10_000, 20_785, 2_932_896] {
            assert_eq!(day(&format_date(d)), Some(d));
        }
    }
}
