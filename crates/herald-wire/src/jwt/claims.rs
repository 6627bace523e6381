//! The claims of the two JWTs of the verification flow:
//!
//! - [`VerificationCertificateClaims`] (§3.5): what the app presents to the key server as
//!   `verificationPayload`; `iss`, `aud` (a string or an array), `iat`, `nbf`, `exp`,
//!   `reportType`, `symptomOnsetInterval`, `tekmac`, and optionally `jti`.
//! - [`VerificationTokenClaims`] (§3.4): what the verification service hands out for a code and
//!   takes back for a certificate; `iss` = `aud`, `jti`, `sub` = `<testType>.<symptom>.<test>`,
//!   `iat`, `exp`.
//!
//! Decoding refuses a claim named twice (RFC 7519 §4 allows refusing) and claims of the wrong
//! JSON type, and ignores claims it does not know (`trisk`, `phaclaims`, …). Times are
//! NumericDates: integers, or numbers with a fraction, which is dropped.
//!
//! `validate` checks, in this order: issuer, audience, `exp` (required; expired when
//! `now ≥ exp + skew`), then `iat` and `nbf` when present (a value after `now + skew` is
//! [`ClaimsError::NotYetValid`], which ENS counts separately).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use herald_model::UnixTime;
use rand_core::CryptoRng;
use serde::Serialize;

use crate::json::{IntegerError, Json};
use crate::publish::VerificationReportType;

/// Why claims were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    /// The payload is not a JSON object.
    #[error("claims are not a JSON object")]
    NotAnObject,
    /// A claim appears twice.
    #[error("claim {0:?} appears more than once")]
    Duplicate(String),
    /// A required claim is absent.
    #[error("claim {0:?} is missing")]
    Missing(&'static str),
    /// A claim has the wrong JSON type or range.
    #[error("claim {claim:?} must be {expected}")]
    WrongType {
        /// The claim.
        claim: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// `reportType` is not one of the four.
    #[error("reportType {0:?} is not one of confirmed, likely, negative, user-report")]
    ReportType(String),
    /// `sub` of a verification token is not `<testType>.<YYYY-MM-DD|>.<YYYY-MM-DD|>`.
    #[error("sub {0:?} is not <testType>.<symptom date>.<test date>")]
    Subject(String),
    /// `iss` is not the expected issuer.
    #[error("issuer {actual:?} is not the expected {expected:?}")]
    Issuer {
        /// The configured issuer.
        expected: String,
        /// The token's.
        actual: String,
    },
    /// `aud` does not name the expected audience.
    #[error("audience {actual:?} does not contain {expected:?}")]
    Audience {
        /// The configured audience.
        expected: String,
        /// The token's.
        actual: Vec<String>,
    },
    /// `exp` has passed.
    #[error("token expired at {expires_at}, now is {now}")]
    Expired {
        /// `exp`.
        expires_at: i64,
        /// The time of the check.
        now: i64,
    },
    /// `iat` or `nbf` lies in the future.
    #[error("token is not valid yet: {claim} is {at}, now is {now}")]
    NotYetValid {
        /// `iat` or `nbf`.
        claim: &'static str,
        /// Its value.
        at: i64,
        /// The time of the check.
        now: i64,
    },
}

/// The `aud` claim: one string, or an array of strings (RFC 7519 §4.1.3). Both forms
/// round-trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "x"`.
    One(String),
    /// `"aud": ["x", "y"]`.
    Many(Vec<String>),
}

/// The claims of a verification certificate (§3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationCertificateClaims {
    /// `iss`: the realm's certificate issuer.
    pub issuer: String,
    /// `aud`: the key server's audience for that issuer.
    pub audience: Audience,
    /// `iat`.
    pub issued_at: Option<UnixTime>,
    /// `nbf`.
    pub not_before: Option<UnixTime>,
    /// `exp` (required).
    pub expires_at: UnixTime,
    /// `reportType`.
    pub report_type: VerificationReportType,
    /// `symptomOnsetInterval`: the symptom date's UTC midnight as an interval number, if known.
    pub symptom_onset_interval: Option<u32>,
    /// `tekmac`: the client's Base64 HMAC over its keys (§3.6), verbatim.
    pub tekmac: String,
    /// `jti`, if present.
    pub jwt_id: Option<String>,
}

/// The claims of a verification token (§3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationTokenClaims {
    /// `iss`, which is also the audience (`TOKEN_ISSUER`).
    pub issuer: String,
    /// `aud`: must equal `iss`.
    pub audience: String,
    /// `jti`: 96 random bytes, unpadded standard Base64 ([`Self::random_jwt_id`]).
    pub jwt_id: String,
    /// `sub`.
    pub subject: TokenSubject,
    /// `iat`.
    pub issued_at: UnixTime,
    /// `exp` (`iat` + 24 h in the reference).
    pub expires_at: UnixTime,
}

/// The `sub` of a verification token: `"<testType>.<YYYY-MM-DD symptom>.<YYYY-MM-DD test>"`,
/// where the dates may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSubject {
    /// `confirmed`, `likely`, `negative` or `user-report` in the reference; kept as text.
    pub test_type: String,
    /// The symptom date, `YYYY-MM-DD`.
    pub symptom_date: Option<String>,
    /// The test date, `YYYY-MM-DD`.
    pub test_date: Option<String>,
}

#[derive(Serialize)]
struct CertificateOut<'a> {
    iss: &'a str,
    aud: &'a Audience,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    exp: i64,
    #[serde(rename = "reportType")]
    report_type: &'static str,
    #[serde(rename = "symptomOnsetInterval", skip_serializing_if = "Option::is_none")]
    symptom_onset_interval: Option<u32>,
    tekmac: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<&'a str>,
}

#[derive(Serialize)]
struct TokenOut<'a> {
    iss: &'a str,
    aud: &'a str,
    jti: &'a str,
    sub: String,
    iat: i64,
    exp: i64,
}

impl Audience {
    /// Whether `expected` is the audience, or one of them.
    pub fn contains(&self, expected: &str) -> bool {
        match self {
            Self::One(a) => a == expected,
            Self::Many(all) => all.iter().any(|a| a == expected),
        }
    }

    /// Every audience, as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(a) => vec![a.clone()],
            Self::Many(all) => all.clone(),
        }
    }
}

impl VerificationCertificateClaims {
    /// Decodes the claims of a verified token's payload.
    pub fn from_json(payload: &[u8]) -> Result<Self, ClaimsError> {
        let claims = Claims::parse(payload)?;
        let issuer = claims.required_string("iss")?;
        let audience = claims.audience()?;
        let issued_at = claims.date("iat")?;
        let not_before = claims.date("nbf")?;
        let expires_at = claims.date("exp")?.ok_or(ClaimsError::Missing("exp"))?;
        let report_type = claims.required_string("reportType")?;
        let report_type = VerificationReportType::parse(&report_type)
            .ok_or(ClaimsError::ReportType(report_type))?;
        Ok(Self {
            issuer,
            audience,
            issued_at,
            not_before,
            expires_at,
            report_type,
            symptom_onset_interval: claims.u32("symptomOnsetInterval")?,
            tekmac: claims.required_string("tekmac")?,
            jwt_id: claims.string("jti")?,
        })
    }

    /// The claims as the JSON payload to [`super::sign`].
    pub fn to_json(&self) -> String {
        let out = CertificateOut {
            iss: &self.issuer,
            aud: &self.audience,
            iat: self.issued_at.map(UnixTime::seconds),
            nbf: self.not_before.map(UnixTime::seconds),
            exp: self.expires_at.seconds(),
            report_type: self.report_type.as_str(),
            symptom_onset_interval: self.symptom_onset_interval,
            tekmac: &self.tekmac,
            jti: self.jwt_id.as_deref(),
        };
        // Serialising strings and integers cannot fail.
        serde_json::to_string(&out).unwrap_or_default()
    }

    /// The key server's checks (§3.5 checks 3 and 5): the issuer, the audience, and the times
    /// with `skew_seconds` of tolerance (ENS `ALLOWED_CLOCK_SKEW`: 5 s).
    pub fn validate(
        &self,
        now: UnixTime,
        expected_issuer: &str,
        expected_audience: &str,
        skew_seconds: i64,
    ) -> Result<(), ClaimsError> {
        check_issuer(&self.issuer, expected_issuer)?;
        if !self.audience.contains(expected_audience) {
            return Err(ClaimsError::Audience {
                expected: expected_audience.to_owned(),
                actual: self.audience.to_vec(),
            });
        }
        check_times(now, self.expires_at, self.issued_at, self.not_before, skew_seconds)
    }
}

impl VerificationTokenClaims {
    /// Decodes the claims of a verified token's payload.
    pub fn from_json(payload: &[u8]) -> Result<Self, ClaimsError> {
        let claims = Claims::parse(payload)?;
        let subject = claims.required_string("sub")?;
        Ok(Self {
            issuer: claims.required_string("iss")?,
            audience: claims.required_string("aud")?,
            jwt_id: claims.required_string("jti")?,
            subject: TokenSubject::parse(&subject)?,
            issued_at: claims.date("iat")?.ok_or(ClaimsError::Missing("iat"))?,
            expires_at: claims.date("exp")?.ok_or(ClaimsError::Missing("exp"))?,
        })
    }

    /// The claims as the JSON payload to [`super::sign`].
    pub fn to_json(&self) -> String {
        let out = TokenOut {
            iss: &self.issuer,
            aud: &self.audience,
            jti: &self.jwt_id,
            sub: self.subject.to_string(),
            iat: self.issued_at.seconds(),
            exp: self.expires_at.seconds(),
        };
        // Serialising strings and integers cannot fail.
        serde_json::to_string(&out).unwrap_or_default()
    }

    /// A fresh `jti`: 96 random bytes, unpadded standard Base64 (128 characters).
    pub fn random_jwt_id<R: CryptoRng + ?Sized>(rng: &mut R) -> String {
        let mut bytes = [0_u8; 96];
        rng.fill_bytes(&mut bytes);
        STANDARD_NO_PAD.encode(bytes)
    }

    /// The verification service's checks: `iss` and `aud` both equal `expected_issuer`, and
    /// the times with `skew_seconds` of tolerance.
    pub fn validate(
        &self,
        now: UnixTime,
        expected_issuer: &str,
        skew_seconds: i64,
    ) -> Result<(), ClaimsError> {
        check_issuer(&self.issuer, expected_issuer)?;
        if self.audience != expected_issuer {
            return Err(ClaimsError::Audience {
                expected: expected_issuer.to_owned(),
                actual: vec![self.audience.clone()],
            });
        }
        check_times(now, self.expires_at, Some(self.issued_at), None, skew_seconds)
    }
}

impl TokenSubject {
    /// Parses `"<testType>.<date>.<date>"`; the dates are empty or `YYYY-MM-DD`.
    pub fn parse(subject: &str) -> Result<Self, ClaimsError> {
        let bad = || ClaimsError::Subject(subject.chars().take(64).collect());
        let parts: Vec<&str> = subject.split('.').collect();
        let [test_type, symptom_date, test_date] = parts.as_slice() else { return Err(bad()) };
        let date = |d: &str| -> Result<Option<String>, ClaimsError> {
            if d.is_empty() {
                return Ok(None);
            }
            let shape_ok = d.len() == 10
                && d.bytes()
                    .enumerate()
                    .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
            if shape_ok { Ok(Some(d.to_owned())) } else { Err(bad()) }
        };
        Ok(Self {
            test_type: (*test_type).to_owned(),
            symptom_date: date(symptom_date)?,
            test_date: date(test_date)?,
        })
    }
}

impl std::fmt::Display for TokenSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.test_type,
            self.symptom_date.as_deref().unwrap_or(""),
            self.test_date.as_deref().unwrap_or("")
        )
    }
}

fn check_issuer(actual: &str, expected: &str) -> Result<(), ClaimsError> {
    if actual == expected {
        return Ok(());
    }
    Err(ClaimsError::Issuer { expected: expected.to_owned(), actual: actual.to_owned() })
}

fn check_times(
    now: UnixTime,
    expires_at: UnixTime,
    issued_at: Option<UnixTime>,
    not_before: Option<UnixTime>,
    skew_seconds: i64,
) -> Result<(), ClaimsError> {
    let now_s = now.seconds();
    if now_s >= expires_at.seconds().saturating_add(skew_seconds) {
        return Err(ClaimsError::Expired { expires_at: expires_at.seconds(), now: now_s });
    }
    for (claim, at) in [("iat", issued_at), ("nbf", not_before)] {
        if let Some(at) = at.filter(|t| t.seconds() > now_s.saturating_add(skew_seconds)) {
            return Err(ClaimsError::NotYetValid { claim, at: at.seconds(), now: now_s });
        }
    }
    Ok(())
}

/// A claims object with typed getters.
struct Claims(Vec<(String, Json)>);

impl Claims {
    fn parse(payload: &[u8]) -> Result<Self, ClaimsError> {
        let Ok(Json::Object(members)) = Json::parse(payload) else {
            return Err(ClaimsError::NotAnObject);
        };
        if let Some(name) = Json::duplicate_member(&members) {
            return Err(ClaimsError::Duplicate(name.to_owned()));
        }
        Ok(Self(members))
    }

    fn get(&self, name: &str) -> Option<&Json> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn string(&self, name: &'static str) -> Result<Option<String>, ClaimsError> {
        match self.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ClaimsError::WrongType { claim: name, expected: "a string" }),
        }
    }

    fn required_string(&self, name: &'static str) -> Result<String, ClaimsError> {
        self.string(name)?.ok_or(ClaimsError::Missing(name))
    }

    fn audience(&self) -> Result<Audience, ClaimsError> {
        let wrong =
            ClaimsError::WrongType { claim: "aud", expected: "a string or an array of strings" };
        match self.get("aud") {
            None | Some(Json::Null) => Err(ClaimsError::Missing("aud")),
            Some(Json::String(s)) => Ok(Audience::One(s.clone())),
            Some(Json::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Json::String(s) => Ok(s.clone()),
                    _ => Err(wrong.clone()),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Audience::Many),
            Some(_) => Err(wrong),
        }
    }

    /// A NumericDate: whole seconds; a fraction is dropped (floor).
    fn date(&self, name: &'static str) -> Result<Option<UnixTime>, ClaimsError> {
        let wrong = ClaimsError::WrongType { claim: name, expected: "a NumericDate (seconds)" };
        let number = match self.get(name) {
            None | Some(Json::Null) => return Ok(None),
            Some(Json::Number(n)) => n,
            Some(_) => return Err(wrong),
        };
        match Json::integer(number) {
            Ok(v) => Ok(Some(UnixTime(v))),
            Err(IntegerError::OutOfRange) => Err(wrong),
            Err(IntegerError::NotAnInteger) => {
                let f = number.as_f64().filter(|f| f.abs() < 9.0e15).ok_or(wrong)?;
                // |f| < 2^53, so the floor is an exact integer that fits i64.
                #[allow(clippy::cast_possible_truncation)]
                let seconds = f.floor() as i64;
                Ok(Some(UnixTime(seconds)))
            }
        }
    }

    fn u32(&self, name: &'static str) -> Result<Option<u32>, ClaimsError> {
        let wrong =
            ClaimsError::WrongType { claim: name, expected: "an integer in 0..=4294967295" };
        match self.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Number(n)) => {
                Json::integer(n).ok().and_then(|v| u32::try_from(v).ok()).map(Some).ok_or(wrong)
            }
            Some(_) => Err(wrong),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = UnixTime(1_795_869_296);

    fn certificate() -> VerificationCertificateClaims {
        VerificationCertificateClaims {
            issuer: "diagnosis-verification-example".to_owned(),
            audience: Audience::One("exposure-notifications-server".to_owned()),
            issued_at: Some(UnixTime(NOW.0 - 5)),
            not_before: Some(UnixTime(NOW.0 - 5)),
            expires_at: UnixTime(NOW.0 + 900),
            report_type: VerificationReportType::Confirmed,
            symptom_onset_interval: Some(2_992_896),
            tekmac: "2u1nHt5WWurJytFLF3xitNzM99oNrad2y4YGOL53AeY=".to_owned(),
            jwt_id: None,
        }
    }

    #[test]
    fn certificate_round_trip_and_wire_form() {
        let c = certificate();
        let json = c.to_json();
        assert_eq!(
            json,
            r#"{"iss":"diagnosis-verification-example","aud":"exposure-notifications-server","iat":1795869291,"nbf":1795869291,"exp":1795870196,"reportType":"confirmed","symptomOnsetInterval":2992896,"tekmac":"2u1nHt5WWurJytFLF3xitNzM99oNrad2y4YGOL53AeY="}"#
        );
        assert_eq!(VerificationCertificateClaims::from_json(json.as_bytes()), Ok(c.clone()));
        let many = VerificationCertificateClaims {
            audience: Audience::Many(vec!["a".to_owned(), "b".to_owned()]),
            jwt_id: Some("x".to_owned()),
            issued_at: None,
            not_before: None,
            symptom_onset_interval: None,
            ..c
        };
        assert_eq!(VerificationCertificateClaims::from_json(many.to_json().as_bytes()), Ok(many));
    }

    #[test]
    fn certificate_decoding_refusals() {
        let base = serde_json::json!({"iss": "i", "aud": "a", "exp": 10, "reportType": "likely",
            "tekmac": "x", "trisk": [], "phaclaims": {"a": "b"}});
        let decoded =
            VerificationCertificateClaims::from_json(base.to_string().as_bytes()).unwrap();
        assert_eq!(decoded.report_type, VerificationReportType::Likely);
        let with = |k: &str, v: serde_json::Value| {
            let mut j = base.clone();
            j[k] = v;
            VerificationCertificateClaims::from_json(j.to_string().as_bytes())
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let without = |k: &str| {
            let mut j = base.clone();
            j.as_object_mut().unwrap().remove(k);
            VerificationCertificateClaims::from_json(j.to_string().as_bytes())
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            with("reportType", "positive".into()),
            Err(r#"reportType "positive" is not one of confirmed, likely, negative, user-report"#
                .to_owned())
        );
        assert_eq!(
            with("aud", serde_json::json!(["a", 1])),
            Err(r#"claim "aud" must be a string or an array of strings"#.to_owned())
        );
        assert_eq!(
            with("exp", "10".into()),
            Err(r#"claim "exp" must be a NumericDate (seconds)"#.to_owned())
        );
        assert_eq!(
            with("exp", serde_json::json!(1e300)),
            Err(r#"claim "exp" must be a NumericDate (seconds)"#.to_owned())
        );
        assert_eq!(with("exp", serde_json::json!(10.9)), Ok(()));
        assert_eq!(
            with("symptomOnsetInterval", serde_json::json!(-1)),
            Err(r#"claim "symptomOnsetInterval" must be an integer in 0..=4294967295"#.to_owned())
        );
        assert_eq!(
            with("symptomOnsetInterval", serde_json::json!(4_294_967_296_u64)),
            Err(r#"claim "symptomOnsetInterval" must be an integer in 0..=4294967295"#.to_owned())
        );
        assert_eq!(with("iss", 1.into()), Err(r#"claim "iss" must be a string"#.to_owned()));
        for claim in ["iss", "aud", "exp", "reportType", "tekmac"] {
            assert_eq!(without(claim), Err(format!("claim {claim:?} is missing")));
        }
        for claim in ["iat", "nbf", "jti", "symptomOnsetInterval"] {
            assert_eq!(without(claim), Ok(()));
        }
        assert_eq!(
            VerificationCertificateClaims::from_json(br#"{"iss":"i","iss":"j"}"#),
            Err(ClaimsError::Duplicate("iss".to_owned()))
        );
        assert_eq!(VerificationCertificateClaims::from_json(b"[]"), Err(ClaimsError::NotAnObject));
        assert_eq!(
            VerificationCertificateClaims::from_json(b"{} x"),
            Err(ClaimsError::NotAnObject)
        );
    }

    #[test]
    fn certificate_validation() {
        let c = certificate();
        let v = |c: &VerificationCertificateClaims, now: i64| {
            c.validate(
                UnixTime(now),
                "diagnosis-verification-example",
                "exposure-notifications-server",
                5,
            )
        };
        assert_eq!(v(&c, NOW.0), Ok(()));
        assert_eq!(v(&c, NOW.0 + 904), Ok(()));
        assert_eq!(
            v(&c, NOW.0 + 905),
            Err(ClaimsError::Expired { expires_at: NOW.0 + 900, now: NOW.0 + 905 })
        );
        // iat/nbf up to the skew in the future are fine; beyond it, "not valid yet".
        assert_eq!(v(&c, NOW.0 - 10), Ok(()));
        assert_eq!(
            v(&c, NOW.0 - 11),
            Err(ClaimsError::NotYetValid { claim: "iat", at: NOW.0 - 5, now: NOW.0 - 11 })
        );
        let nbf_later =
            VerificationCertificateClaims { not_before: Some(UnixTime(NOW.0 + 60)), ..c.clone() };
        assert_eq!(
            v(&nbf_later, NOW.0),
            Err(ClaimsError::NotYetValid { claim: "nbf", at: NOW.0 + 60, now: NOW.0 })
        );
        assert!(matches!(
            c.validate(NOW, "other", "exposure-notifications-server", 5),
            Err(ClaimsError::Issuer { .. })
        ));
        assert!(matches!(
            c.validate(NOW, "diagnosis-verification-example", "other", 5),
            Err(ClaimsError::Audience { .. })
        ));
        let many = VerificationCertificateClaims {
            audience: Audience::Many(vec![
                "x".to_owned(),
                "exposure-notifications-server".to_owned(),
            ]),
            ..c.clone()
        };
        assert_eq!(v(&many, NOW.0), Ok(()));
        let none = VerificationCertificateClaims { audience: Audience::Many(vec![]), ..c };
        assert!(matches!(v(&none, NOW.0), Err(ClaimsError::Audience { .. })));
    }

    #[test]
    fn token_claims() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let jti = VerificationTokenClaims::random_jwt_id(&mut rng);
        assert_eq!(jti.len(), 128);
        assert!(!jti.contains('='));
        let t = VerificationTokenClaims {
            issuer: "diagnosis-verification-example".to_owned(),
            audience: "diagnosis-verification-example".to_owned(),
            jwt_id: jti,
            subject: TokenSubject::parse("confirmed.2026-11-20.").unwrap(),
            issued_at: NOW,
            expires_at: UnixTime(NOW.0 + 86_400),
        };
        assert_eq!(t.subject.symptom_date.as_deref(), Some("2026-11-20"));
        assert_eq!(t.subject.test_date, None);
        assert_eq!(t.subject.to_string(), "confirmed.2026-11-20.");
        assert_eq!(VerificationTokenClaims::from_json(t.to_json().as_bytes()), Ok(t.clone()));
        assert_eq!(t.validate(NOW, "diagnosis-verification-example", 5), Ok(()));
        let other = VerificationTokenClaims { audience: "x".to_owned(), ..t.clone() };
        assert!(matches!(
            other.validate(NOW, "diagnosis-verification-example", 5),
            Err(ClaimsError::Audience { .. })
        ));
        assert!(matches!(
            t.validate(UnixTime(NOW.0 + 86_405), "diagnosis-verification-example", 5),
            Err(ClaimsError::Expired { .. })
        ));
        for good in ["..", "likely..2026-01-31", "user-report.2026-01-01.2026-01-02"] {
            assert_eq!(TokenSubject::parse(good).unwrap().to_string(), good);
        }
        for bad in [
            "",
            "confirmed",
            "a.b",
            "a.b.c.d",
            "confirmed.2026-1-01.",
            "x.2026/01/01.",
            "x..2026-01-0a",
        ] {
            assert!(matches!(TokenSubject::parse(bad), Err(ClaimsError::Subject(_))), "{bad}");
        }
    }

    use rand::SeedableRng as _;
}
