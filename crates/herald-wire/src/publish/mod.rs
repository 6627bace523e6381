//! The publish API v1 of the key server (`POST /v1/publish`, specs/key-server.md §2), as pure
//! codecs and rules, wire-compatible with Google's Exposure Notifications Server (ENS).
//!
//! - [`request`]: decoding the request body with Go `encoding/json` semantics (§2.1, §2.2):
//!   [`decode_request`] → [`PublishRequest`] with raw integers and the key strings exactly as
//!   sent.
//! - [`rules`]: the checks and transformations of §2.4 as functions the service calls in order:
//!   key count, per-key validation with reasons, symptom onset and DSOS, the key layout (overlaps
//!   and same-start keys), the transmission-risk backfill and the embargo's `created_at`.
//! - [`response`]: [`PublishResponse`] and the error codes of §2.3 with their HTTP statuses.
//! - [`tekmac`]: the HMAC over the uploaded keys that binds them to a verification certificate
//!   (§3.6).
//! - [`revision`]: revision tokens (§2.5), AES-256-GCM sealed lists of the keys a device
//!   uploaded.
//!
//! What this module deliberately is not: the HTTP handler, the database, the clock. Time, keys
//! and randomness are parameters.

pub mod request;
pub mod response;
pub mod revision;
pub mod rules;
pub mod tekmac;

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

pub use request::{PublishDecodeError, PublishKey, PublishRequest, decode_request};
pub use response::{ErrorCode, PublishResponse};

/// Raw URL-safe Base64 as Go's `base64.RawURLEncoding` decodes it: no padding, and the unused
/// low bits of the last character may be non-zero.
const GO_RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// The report type a verification certificate attests (its `reportType` claim, §3.5), with
/// ENS's names. Not to be confused with the export files' [`herald_model::ReportType`], which
/// [`Self::export_report_type`] maps to. The verification API calls it
/// [`TestType`](crate::verification::TestType) (a code's `testType`); it is ordered as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VerificationReportType {
    /// `confirmed`: a positive laboratory test.
    Confirmed,
    /// `likely`: a clinical diagnosis.
    Likely,
    /// `negative`: a negative test, revoking an earlier `likely` or `user-report`.
    Negative,
    /// `user-report`: a self-report, verified only by a phone number.
    UserReport,
}

impl VerificationReportType {
    /// All four, in the spec's order.
    pub const ALL: [Self; 4] = [Self::Confirmed, Self::Likely, Self::Negative, Self::UserReport];

    /// Parses the claim value (exact, lowercase).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Likely => "likely",
            Self::Negative => "negative",
            Self::UserReport => "user-report",
        }
    }

    /// The export file's report type (§5.3): confirmed → CONFIRMED_TEST, likely →
    /// CONFIRMED_CLINICAL_DIAGNOSIS, negative → REVOKED, user-report → SELF_REPORT.
    pub fn export_report_type(self) -> herald_model::ReportType {
        match self {
            Self::Confirmed => herald_model::ReportType::ConfirmedTest,
            Self::Likely => herald_model::ReportType::ConfirmedClinicalDiagnosis,
            Self::Negative => herald_model::ReportType::Revoked,
            Self::UserReport => herald_model::ReportType::SelfReport,
        }
    }
}

impl std::fmt::Display for VerificationReportType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decodes Base64 the way ENS does (`base64util.DecodeString`, §2.1): the `+/` and `-_`
/// alphabets (even mixed), any number of trailing `=`, non-zero trailing bits, and CR or LF
/// anywhere (Go's decoder skips them). `None` if it is still not Base64.
pub fn decode_lenient_base64(text: &str) -> Option<Vec<u8>> {
    let converted: String = text
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    let unpadded = converted.trim_end_matches('=');
    let cleaned: String = unpadded.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    GO_RAW_URL.decode(cleaned).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_types_round_trip() {
        for t in VerificationReportType::ALL {
            assert_eq!(VerificationReportType::parse(t.as_str()), Some(t));
        }
        for bad in ["", "Confirmed", "clinical", "user_report", "positive"] {
            assert_eq!(VerificationReportType::parse(bad), None);
        }
    }

    #[test]
    fn lenient_base64_accepts_what_ens_accepts() {
        let bytes = [0xfb_u8, 0xff, 0xbf];
        for text in ["+/+/", "-_-_", "+_-/", "+/+/=", "+/+/===="] {
            assert_eq!(decode_lenient_base64(text).as_deref(), Some(&bytes[..]), "{text}");
        }
        // One byte, padded, unpadded, over-padded, with line breaks and non-zero trailing bits.
        for text in ["YQ==", "YQ", "YQ=", "YQ=====", "Y\r\nQ", "YR"] {
            assert_eq!(decode_lenient_base64(text).as_deref(), Some(&b"a"[..]), "{text}");
        }
        assert_eq!(decode_lenient_base64("").as_deref(), Some(&[][..]));
        for bad in ["Y", "YQ==\n", "Y Q", "Y.Q", "=YQ", "Y=Q=", "é"] {
            assert_eq!(decode_lenient_base64(bad), None, "{bad:?}");
        }
    }
}
