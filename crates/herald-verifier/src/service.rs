//! The verification flow without HTTP (key-server.md §3.1–3.5): issuing codes, exchanging a
//! code for a verification token, and a token plus the app's TEK HMAC for a certificate.
//!
//! Every refusal is an [`ApiError`]: an [`ErrorCode`] and a message that says what was wrong
//! without repeating the code, token or key that was sent. Nothing here logs a secret: codes,
//! tokens and API keys are hashed (see [`crate::secret`]) before they reach the store, and log
//! lines name the API key by its name.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use herald_model::{Clock, UnixTime};
use herald_service::random::Randomness;
use herald_wire::jwt::{
    self, Audience, ClaimsError, Jwt, JwtError, VerificationCertificateClaims,
    VerificationTokenClaims,
};
use herald_wire::publish::VerificationReportType;
use herald_wire::verification::{
    CertificateRequest, CertificateResponse, CodeStatusResponse, ErrorCode, IssueRequest,
    IssueResponse, TestType, parse_date,
};
use subtle::ConstantTimeEq as _;

use crate::codes;
use crate::config::CodeSettings;
use crate::keys::KeyRing;
use crate::secret::{Purpose, Secrets};
use crate::store::{ApiKeyKind, CodeRow, InsertOutcome, NewCode, Store};

/// ENS/ENVS `ALLOWED_CLOCK_SKEW`.
pub const CLOCK_SKEW_SECONDS: i64 = 5;

/// Attempts at drawing a code whose hashes collide with no stored code (ENVS: 6).
const COLLISION_RETRIES: usize = 6;

mod certificate;
pub mod issue;
mod verify;

use verify::VerifyBudgets;

/// A refusal: the code and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// The machine-readable code (and HTTP status).
    pub code: ErrorCode,
    /// What was wrong (never a secret).
    pub message: String,
}

impl ApiError {
    /// An error with a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    fn internal(operation: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(operation, %error, "internal error");
        Self::new(ErrorCode::InternalServerError, "internal error; try again later")
    }
}

/// Static settings of the flow.
#[derive(Debug, Clone)]
pub struct FlowSettings {
    /// Code settings.
    pub codes: CodeSettings,
    /// Test types codes may be issued for.
    pub allowed_test_types: Vec<TestType>,
    /// Token `iss` = `aud`.
    pub token_issuer: String,
    /// Token lifetime.
    pub token_lifetime: i64,
    /// Certificate `iss`.
    pub certificate_issuer: String,
    /// Certificate `aud`.
    pub certificate_audience: String,
    /// Certificate lifetime.
    pub certificate_lifetime: i64,
    /// Failed verifications per client address per window.
    pub client_failure_limit: u32,
    /// Failed verifications per device key (all clients together) per window.
    pub failure_limit: u32,
    /// The window.
    pub failure_window: i64,
}

/// The verification service's flow.
pub struct Service {
    store: Store,
    secrets: Secrets,
    tokens: KeyRing,
    certificates: KeyRing,
    settings: FlowSettings,
    clock: Arc<dyn Clock>,
    random: Randomness,
    budgets: VerifyBudgets,
    metrics: Arc<herald_runtime::Registry>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Service {
    /// A flow over `store` with these secrets and keys.
    pub fn new(
        store: Store,
        secrets: Secrets,
        tokens: KeyRing,
        certificates: KeyRing,
        settings: FlowSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            secrets,
            tokens,
            certificates,
            settings,
            clock,
            random: Randomness::os(),
            budgets: VerifyBudgets::default(),
            metrics: crate::internal::registry(),
        }
    }

    /// The same flow drawing codes, token ids and signature entropy from `random` (the
    /// operating system's generator otherwise).
    #[must_use]
    pub fn with_randomness(mut self, random: Randomness) -> Self {
        self.random = random;
        self
    }

    /// The process's metrics (the API, the portal and the jobs count into it).
    pub fn metrics(&self) -> &Arc<herald_runtime::Registry> {
        &self.metrics
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The server secrets (the portal derives its session, CSRF and sealing keys from them).
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// The flow's settings.
    pub fn settings(&self) -> &FlowSettings {
        &self.settings
    }

    /// Counts a code issued today in the daily statistics; a failure is logged, not fatal (the
    /// code itself is stored). A claim is counted by the claim's own transaction.
    async fn count_issued(&self) {
        self.metrics.add(&crate::internal::CODES, "issued", 1);
        let day = self.now().div_euclid(86_400);
        if let Err(error) = self.store.add_stats(day, 1, 0).await {
            tracing::warn!(%error, "code statistics not updated");
        }
    }

    /// The clock.
    pub fn now(&self) -> i64 {
        self.clock.now().seconds()
    }

    /// The published certificate keys, as `{"keys":[…]}`.
    pub fn jwks(&self) -> String {
        self.certificates.jwks(self.now()).to_json_object()
    }

    /// Stores an API key (hashed); returns whether it was new.
    pub async fn register_api_key(
        &self,
        name: &str,
        kind: ApiKeyKind,
        key: &str,
    ) -> Result<bool, crate::store::StoreError> {
        let hash = self.secrets.hash(Purpose::ApiKey, key.as_bytes());
        let hour = self.now() / 3600 * 3600;
        self.store.add_api_key(&hash, name, kind, hour).await
    }

    /// Checks an `X-API-Key` for `kind`; returns the key's name.
    ///
    /// The key is HMACed under each server secret and looked up by that hash: an attacker
    /// cannot steer the hash, so the index lookup leaks nothing about stored keys (the usual
    /// constant-time argument for hashed tokens).
    pub async fn authenticate(
        &self,
        key: Option<&str>,
        kind: ApiKeyKind,
    ) -> Result<String, ApiError> {
        let unauthorized = |m: &str| ApiError::new(ErrorCode::Unauthorized, m);
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            return Err(unauthorized("missing X-API-Key header"));
        };
        if key.len() > 256 {
            return Err(unauthorized("invalid API key"));
        }
        for hash in self.secrets.hashes(Purpose::ApiKey, key.as_bytes()) {
            let row =
                self.store.api_key(&hash).await.map_err(|e| ApiError::internal("api_key", &e))?;
            let Some(row) = row else { continue };
            // The index lookup already matched the hash; compare again in constant time so that
            // no code path compares key material with an early-exit comparison.
            if !bool::from(row.hash.ct_eq(&hash)) {
                continue;
            }
            if row.revoked {
                return Err(unauthorized("API key is revoked"));
            }
            if row.kind != kind {
                return Err(unauthorized(match kind {
                    ApiKeyKind::Admin => "this endpoint needs an admin API key",
                    ApiKeyKind::Device => "this endpoint needs a device API key",
                }));
            }
            return Ok(row.name);
        }
        Err(unauthorized("invalid API key"))
    }

    /// `/api/issue` for one request by the admin key `issuer`.
    pub async fn issue(
        &self,
        request: &IssueRequest,
        issuer: &str,
    ) -> Result<IssueResponse, ApiError> {
        let now = self.now();
        let s = &self.settings;
        let issue::CheckedIssue {
            test_type,
            symptom_day,
            test_day,
            uuid,
            external_issuer_id: external,
        } = issue::check(&s.codes, &s.allowed_test_types, now, request)?;
        let uuid = uuid.unwrap_or_else(|| new_uuid(&self.random));
        let short_expires_at = now + s.codes.short_minutes * 60;
        let long_expires_at = now + s.codes.long_minutes * 60;
        for _ in 0..COLLISION_RETRIES {
            let (short, long) = self.random.with(|rng| {
                (
                    codes::short_code(rng, s.codes.short_length),
                    codes::long_code(rng, s.codes.long_length),
                )
            });
            let code = NewCode {
                uuid: uuid.clone(),
                short_hash: self.secrets.hash(Purpose::Code, short.as_bytes()),
                long_hash: self.secrets.hash(Purpose::Code, long.as_bytes()),
                test_type,
                symptom_day,
                test_day,
                issuer: issuer.to_owned(),
                external_issuer_id: external.clone(),
                short_expires_at,
                long_expires_at,
            };
            match self.store.insert_code(&code).await {
                Ok(InsertOutcome::Inserted) => {
                    self.count_issued().await;
                    tracing::info!(api_key = issuer, test_type = test_type.as_str(), "code issued");
                    return Ok(IssueResponse {
                        uuid,
                        code: short,
                        expires_at: UnixTime(short_expires_at).rfc1123(),
                        expires_at_timestamp: short_expires_at,
                        long_code: long,
                        long_expires_at: UnixTime(long_expires_at).rfc1123(),
                        long_expires_at_timestamp: long_expires_at,
                        ..IssueResponse::default()
                    });
                }
                Ok(InsertOutcome::UuidExists) => {
                    return Err(ApiError::new(
                        ErrorCode::UuidAlreadyExists,
                        "a code with this uuid was already issued",
                    ));
                }
                Ok(InsertOutcome::Collision) => {}
                Err(e) => return Err(ApiError::internal("insert_code", &e)),
            }
        }
        Err(ApiError::internal("insert_code", &"code collisions on every retry"))
    }

    /// A JWT of `claims` signed with the current key of `ring`, and that key's id; `operation`
    /// names a failure in the log.
    fn sign<'r>(
        &self,
        ring: &'r KeyRing,
        operation: &str,
        claims: &str,
        now: i64,
    ) -> Result<(String, &'r str), ApiError> {
        let key =
            ring.signer(now).ok_or_else(|| ApiError::internal(operation, &"no signing key"))?;
        let jwt = self
            .random
            .with(|rng| jwt::sign(claims, &key.kid, &key.key, rng))
            .map_err(|e: JwtError| ApiError::internal(operation, &e))?;
        Ok((jwt, &key.kid))
    }

    /// `/api/checkcodestatus`.
    pub async fn check_status(&self, uuid: &str) -> Result<CodeStatusResponse, ApiError> {
        let row = self
            .store
            .code_status(&uuid.to_ascii_lowercase())
            .await
            .map_err(|e| ApiError::internal("code_status", &e))?;
        row.as_ref().map(status).ok_or_else(not_found)
    }

    /// `/api/expirecode`.
    pub async fn expire(&self, uuid: &str, issuer: &str) -> Result<CodeStatusResponse, ApiError> {
        let row = self
            .store
            .expire_code(&uuid.to_ascii_lowercase(), self.now())
            .await
            .map_err(|e| ApiError::internal("expire_code", &e))?;
        if row.is_some() {
            tracing::info!(api_key = issuer, "code expired by its issuer");
        }
        row.as_ref().map(status).ok_or_else(not_found)
    }
}

fn status(row: &CodeRow) -> CodeStatusResponse {
    CodeStatusResponse {
        claimed: row.claimed,
        expires_at_timestamp: row.short_expires_at,
        long_expires_at_timestamp: row.long_expires_at,
        ..CodeStatusResponse::default()
    }
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::CodeNotFound, "no code with this uuid")
}

/// Base64 in any of the four common forms (ENVS accepts them all for `ekeyhmac`).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    if text.len() > 128 {
        return None;
    }
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

/// `8-4-4-4-12` hex digits.
fn valid_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) { b == b'-' } else { b.is_ascii_hexdigit() }
        })
}

/// A random (version 4) UUID.
fn new_uuid(random: &Randomness) -> String {
    let mut b = [0u8; 16];
    random.fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = herald_model::key::to_hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or_default(),
        h.get(8..12).unwrap_or_default(),
        h.get(12..16).unwrap_or_default(),
        h.get(16..20).unwrap_or_default(),
        h.get(20..32).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids() {
        let u = new_uuid(&Randomness::os());
        assert!(valid_uuid(&u), "{u}");
        assert_eq!(u.as_bytes()[14], b'4');
        assert!(!valid_uuid("not-a-uuid"));
        assert!(!valid_uuid("0f9b6b9e-3a57-4c5e-9d7f-1f2a3b4c5d6g"));
    }

    #[test]
    fn base64_forms() {
        let raw = [0xfbu8; 32];
        for e in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            assert_eq!(decode_base64(&e.encode(raw)).as_deref(), Some(&raw[..]));
        }
        assert_eq!(decode_base64("!!"), None);
    }
}
