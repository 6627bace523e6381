//! `/api/certificate`: a verification token and the app's HMAC of its keys in, a signed
//! verification certificate for the key server out (the token spent once).

#[allow(clippy::wildcard_imports)]
use super::*;

impl Service {
    /// `/api/certificate` with the device key `api_key`.
    pub async fn certificate(
        &self,
        request: &CertificateRequest,
        api_key: &str,
    ) -> Result<CertificateResponse, ApiError> {
        let now = self.now();
        let s = &self.settings;
        if decode_base64(&request.ekeyhmac).is_none_or(|b| b.len() != 32) {
            return Err(ApiError::new(
                ErrorCode::HmacInvalid,
                "ekeyhmac must be Base64 of exactly 32 bytes",
            ));
        }
        let invalid = |m: String| ApiError::new(ErrorCode::TokenInvalid, m);
        if request.token.is_empty() {
            return Err(invalid("token is missing".into()));
        }
        let parsed = Jwt::parse(&request.token).map_err(|e| invalid(format!("token: {e}")))?;
        let kid = parsed.kid().unwrap_or_default();
        let key = self
            .tokens
            .verifying(kid, now)
            .ok_or_else(|| invalid("token is signed by a key this service does not know".into()))?;
        let payload = parsed.verify(&key).map_err(|e| invalid(format!("token: {e}")))?;
        let claims = VerificationTokenClaims::from_json(payload)
            .map_err(|e| invalid(format!("token claims: {e}")))?;
        match claims.validate(UnixTime(now), &s.token_issuer, CLOCK_SKEW_SECONDS) {
            Ok(()) => {}
            Err(ClaimsError::Expired { .. }) => {
                return Err(ApiError::new(ErrorCode::TokenExpired, "token has expired"));
            }
            Err(e) => return Err(invalid(format!("token: {e}"))),
        }
        let report_type = VerificationReportType::parse(&claims.subject.test_type)
            .ok_or_else(|| invalid("token names an unknown test type".into()))?;
        let symptom_onset_interval = claims
            .subject
            .symptom_date
            .as_deref()
            .and_then(parse_date)
            .and_then(|date| u32::try_from(date.utc_day() * 144).ok());
        let certificate = VerificationCertificateClaims {
            issuer: s.certificate_issuer.clone(),
            audience: Audience::One(s.certificate_audience.clone()),
            issued_at: Some(UnixTime(now - CLOCK_SKEW_SECONDS)),
            not_before: Some(UnixTime(now - CLOCK_SKEW_SECONDS)),
            expires_at: UnixTime(now + s.certificate_lifetime),
            report_type,
            symptom_onset_interval,
            tekmac: request.ekeyhmac.clone(),
            jwt_id: None,
        };
        let (signed, kid) =
            self.sign(&self.certificates, "certificate", &certificate.to_json(), now)?;
        // Signed first, claimed second (ENVS order): a failed claim hands nothing out.
        let token_hash = self.secrets.hash(Purpose::Token, claims.jwt_id.as_bytes());
        // Kept until the token expires, rounded up to the hour: the stored time must not tell
        // when the code was redeemed (§6.7).
        let keep_until = (claims.expires_at.seconds() + 3599).div_euclid(3600) * 3600;
        let fresh = self
            .store
            .use_token(&token_hash, keep_until)
            .await
            .map_err(|e| ApiError::internal("use_token", &e))?;
        if !fresh {
            tracing::info!(api_key, "certificate refused: token already used");
            return Err(ApiError::new(ErrorCode::TokenExpired, "token was already used"));
        }
        tracing::info!(api_key, report_type = report_type.as_str(), %kid, "certificate issued");
        Ok(CertificateResponse { certificate: signed, ..CertificateResponse::default() })
    }
}
