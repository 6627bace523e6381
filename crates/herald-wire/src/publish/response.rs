//! The publish response (specs/key-server.md §2.3): JSON with `revisionToken` (standard
//! Base64), `insertedExposures`, `error`, `code`, `padding` and `warnings`, in ENS's field
//! order. Every field is left out when empty, except `padding`, which is always present (1024 to
//! 2047 random bytes, standard Base64), so that response sizes do not reveal the outcome.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

/// The machine-readable `code` of a publish response, with its HTTP status (§2.3, in the spec's
/// order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 200: some keys were dropped, the rest saved; `error` lists the dropped ones.
    PartialFailure,
    /// 400: the request is malformed or violates a rule (413 and 415 at the transport layer
    /// carry this code too).
    BadRequest,
    /// 500: an internal failure (ENS answers 400 for a failed database write; herald 500).
    InternalError,
    /// 401: `healthAuthorityID` is not a known authorized app.
    UnknownHealthAuthorityId,
    /// 500: the authorized app could not be loaded (retryable).
    UnableToLoadHealthAuthority,
    /// 500: the app has no regions and there is no default region.
    HealthAuthorityMissingRegionConfig,
    /// 401: the verification certificate failed (JWT, issuer, audience, key, HMAC or claims).
    HealthAuthorityVerificationCertificateInvalid,
    /// 400: a key already exists and no revision token was sent.
    MissingRevisionToken,
    /// 400: the revision token could not be opened, lacks the key, or its metadata differs.
    InvalidRevisionToken,
    /// 400: a key may be revised only once.
    KeyAlreadyRevised,
    /// 400: the report type may not change this way (§2.5).
    InvalidReportTypeTransition,
}

/// A publish response body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishResponse {
    /// The new revision token (the sealed envelope bytes), if any.
    pub revision_token: Option<Vec<u8>>,
    /// Newly inserted keys (revisions are not counted); 0 is left out.
    pub inserted_exposures: u32,
    /// A human-readable error.
    pub error: Option<String>,
    /// The machine-readable code.
    pub code: Option<ErrorCode>,
    /// Random padding, see [`padding`].
    pub padding: String,
    /// Warnings, e.g. keys dropped for their symptom onset.
    pub warnings: Vec<String>,
}

/// The JSON shape, in ENS's field order.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "revisionToken", skip_serializing_if = "Option::is_none")]
    revision_token: Option<String>,
    #[serde(rename = "insertedExposures", skip_serializing_if = "is_zero")]
    inserted_exposures: u32,
    #[serde(rename = "error", skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(rename = "code", skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    padding: &'a str,
    #[serde(rename = "warnings", skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

impl ErrorCode {
    /// Every code, in the spec's order.
    pub const ALL: [Self; 11] = [
        Self::PartialFailure,
        Self::BadRequest,
        Self::InternalError,
        Self::UnknownHealthAuthorityId,
        Self::UnableToLoadHealthAuthority,
        Self::HealthAuthorityMissingRegionConfig,
        Self::HealthAuthorityVerificationCertificateInvalid,
        Self::MissingRevisionToken,
        Self::InvalidRevisionToken,
        Self::KeyAlreadyRevised,
        Self::InvalidReportTypeTransition,
    ];

    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PartialFailure => "partial_failure",
            Self::BadRequest => "bad_request",
            Self::InternalError => "internal_error",
            Self::UnknownHealthAuthorityId => "unknown_health_authority_id",
            Self::UnableToLoadHealthAuthority => "unable_to_load_health_authority",
            Self::HealthAuthorityMissingRegionConfig => "health_authority_missing_region_config",
            Self::HealthAuthorityVerificationCertificateInvalid => {
                "health_authority_verification_certificate_invalid"
            }
            Self::MissingRevisionToken => "missing_revision_token",
            Self::InvalidRevisionToken => "invalid_revision_token",
            Self::KeyAlreadyRevised => "key_already_revised",
            Self::InvalidReportTypeTransition => "invalid_report_type_transition",
        }
    }

    /// The HTTP status that goes with the code. `bad_request` is 400 here; the transport layer
    /// answers 413 or 415 with the same code for oversized bodies and wrong content types.
    pub fn http_status(self) -> u16 {
        match self {
            Self::PartialFailure => 200,
            Self::BadRequest
            | Self::MissingRevisionToken
            | Self::InvalidRevisionToken
            | Self::KeyAlreadyRevised
            | Self::InvalidReportTypeTransition => 400,
            Self::UnknownHealthAuthorityId
            | Self::HealthAuthorityVerificationCertificateInvalid => 401,
            Self::InternalError
            | Self::UnableToLoadHealthAuthority
            | Self::HealthAuthorityMissingRegionConfig => 500,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PublishResponse {
    /// An error response: `code` and `error` (the service pads it at its edge).
    pub fn error(code: ErrorCode, message: &str) -> Self {
        Self { error: Some(message.to_owned()), code: Some(code), ..Self::default() }
    }

    /// The HTTP status: the code's, or 200 without a code.
    pub fn http_status(&self) -> u16 {
        self.code.map_or(200, ErrorCode::http_status)
    }

    /// The JSON body, on one line.
    pub fn to_json(&self) -> String {
        let wire = Wire {
            revision_token: self.revision_token.as_ref().map(|t| STANDARD.encode(t)),
            inserted_exposures: self.inserted_exposures,
            error: self.error.as_deref().filter(|e| !e.is_empty()),
            code: self.code.map(ErrorCode::as_str),
            padding: &self.padding,
            warnings: &self.warnings,
        };
        // Serialising strings and integers into a String cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference.
fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let table: Vec<(&str, u16)> =
            ErrorCode::ALL.iter().map(|c| (c.as_str(), c.http_status())).collect();
        assert_eq!(
            table,
            [
                ("partial_failure", 200),
                ("bad_request", 400),
                ("internal_error", 500),
                ("unknown_health_authority_id", 401),
                ("unable_to_load_health_authority", 500),
                ("health_authority_missing_region_config", 500),
                ("health_authority_verification_certificate_invalid", 401),
                ("missing_revision_token", 400),
                ("invalid_revision_token", 400),
                ("key_already_revised", 400),
                ("invalid_report_type_transition", 400),
            ]
        );
    }

    #[test]
    fn empty_fields_are_left_out_except_padding() {
        let empty = PublishResponse::default();
        assert_eq!(empty.to_json(), r#"{"padding":""}"#);
        assert_eq!(empty.http_status(), 200);
        let full = PublishResponse {
            revision_token: Some(vec![0xfb, 0xff]),
            inserted_exposures: 3,
            error: Some("1 error occurred:\n\t* key 0 cannot be imported: x\n\n".to_owned()),
            code: Some(ErrorCode::PartialFailure),
            padding: "AAAA".to_owned(),
            warnings: vec![
                "key 1 symptom onset is too large, 15 > 14 - saving without this key".to_owned(),
            ],
        };
        assert_eq!(
            full.to_json(),
            r#"{"revisionToken":"+/8=","insertedExposures":3,"error":"1 error occurred:\n\t* key 0 cannot be imported: x\n\n","code":"partial_failure","padding":"AAAA","warnings":["key 1 symptom onset is too large, 15 > 14 - saving without this key"]}"#
        );
        assert_eq!(full.http_status(), 200);
    }

    #[test]
    fn error_responses_carry_code_and_message() {
        // Padding is the service edge's (`herald_runtime::padding`, every publish answer one
        // size: the key server's publish tests).
        let r = PublishResponse::error(ErrorCode::MissingRevisionToken, "no token");
        assert_eq!(r.http_status(), 400);
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["code"], "missing_revision_token");
        assert_eq!(json["error"], "no token");
        assert_eq!(json["padding"], "");
    }
}
