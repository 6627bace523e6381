//! Verification certificates (key-server.md §3.5, §3.7): ES256 JWTs from configured
//! verification services, whose public keys come from static PEM files and from the services'
//! JWKS, fetched at start and refreshed on a schedule (manual key wiring was the top operator
//! error with ENS, §11 item 3).
//!
//! The checks run in ENS's order: ES256 with a `kid` (anything else refused before any key is
//! looked at), the issuer known and allowed for the app, a key with that `kid`, the signature,
//! audience and times (5 s skew), the report type, and the `tekmac` over the uploaded keys
//! (constant-time).

use std::path::PathBuf;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use herald_model::UnixTime;
use herald_runtime::HttpsClient;
use herald_wire::jwt::{Jwt, VerificationCertificateClaims, parse_jwks};
use herald_wire::publish::{PublishKey, VerificationReportType, tekmac};
use hyper::Method;
use p256::ecdsa::VerifyingKey;
use sha2::Digest as _;

use crate::app::{StartError, invalid, read};
use crate::config::IssuerConfig;

/// ENS `ALLOWED_CLOCK_SKEW`.
const CLOCK_SKEW_SECONDS: i64 = 5;

/// Largest JWKS document read.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Why a certificate was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The certificate is refused; the message says why (the answer's message; never the token
    /// itself).
    #[error("{0}")]
    Invalid(String),
    /// The issuer's keys come from its JWKS, which this key server has not read yet (the
    /// verification service was unreachable since it started): the certificate may well be
    /// valid, and the app should try again rather than give up.
    #[error("the public keys of issuer {0:?} are not loaded yet")]
    KeysNotLoaded(String),
}

/// A certificate that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCertificate {
    /// SHA-256 of the JWT's signing input (one-time use; the same for both encodings of its
    /// signature).
    pub hash: [u8; 32],
    /// Its `exp`.
    pub expires_at: i64,
    /// `reportType`.
    pub report_type: VerificationReportType,
    /// `symptomOnsetInterval`.
    pub symptom_onset_interval: Option<u32>,
}

enum JwksSource {
    Url(String),
    UrlFile(PathBuf),
}

struct IssuerState {
    issuer: String,
    audience: String,
    static_keys: Vec<(String, VerifyingKey)>,
    jwks_keys: RwLock<Vec<(String, VerifyingKey)>>,
    /// Whether the JWKS was read at least once.
    jwks_loaded: AtomicBool,
    source: Option<JwksSource>,
    ca_pem: Option<String>,
    max_lifetime: i64,
    require_low_s: bool,
}

impl IssuerState {
    fn key(&self, kid: &str) -> Option<VerifyingKey> {
        if let Some((_, k)) = self.static_keys.iter().find(|(id, _)| id == kid) {
            return Some(*k);
        }
        self.jwks_keys.read().ok()?.iter().find(|(id, _)| id == kid).map(|(_, k)| *k)
    }

    async fn refresh(&self) -> Result<usize, String> {
        let url = match &self.source {
            None => return Ok(0),
            Some(JwksSource::Url(url)) => url.clone(),
            Some(JwksSource::UrlFile(file)) => {
                let base = std::fs::read_to_string(file)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                format!("{}/.well-known/jwks.json", base.trim().trim_end_matches('/'))
            }
        };
        let rest = url.strip_prefix("https://").ok_or_else(|| format!("{url} is not https"))?;
        let (authority, path) =
            rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
        // Without a configured CA, the system's CA certificates (a public JWKS URL).
        let base = format!("https://{authority}");
        let client = match self.ca_pem.as_deref() {
            Some(ca) => HttpsClient::new(&base, ca, None),
            None => HttpsClient::with_system_roots(&base, None),
        }
        .map_err(|e| e.to_string())?;
        let answer = client
            .request(Method::GET, &path, &[("accept", "application/json")], Vec::new())
            .await
            .map_err(|e| e.to_string())?;
        if answer.status != 200 {
            return Err(format!("{url} answered {}", answer.status));
        }
        if answer.body.len() > MAX_JWKS_BYTES {
            return Err(format!("{url}: JWKS larger than {MAX_JWKS_BYTES} bytes"));
        }
        let set = parse_jwks(&answer.body).map_err(|e| e.to_string())?;
        for skipped in &set.skipped {
            tracing::warn!(issuer = %self.issuer, index = skipped.index, reason = %skipped.reason, "JWKS entry skipped");
        }
        let keys: Vec<(String, VerifyingKey)> =
            set.keys.into_iter().map(|k| (k.kid, k.key)).collect();
        let n = keys.len();
        if let Ok(mut current) = self.jwks_keys.write() {
            *current = keys;
        }
        self.jwks_loaded.store(true, Ordering::Release);
        Ok(n)
    }
}

/// The accepted verification services and their current keys.
pub struct Issuers {
    states: Vec<IssuerState>,
    refresh: u64,
}

impl std::fmt::Debug for Issuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.states.iter().map(|s| &s.issuer)).finish()
    }
}

impl Issuers {
    /// From the configuration (static keys loaded now; JWKS on [`Issuers::refresh`]).
    pub fn from_config(config: &[IssuerConfig]) -> Result<Self, StartError> {
        let mut states = Vec::new();
        for c in config {
            let mut static_keys = Vec::new();
            for k in &c.public_keys {
                let key =
                    herald_wire::export::public_key_from_pem(&read(&k.pem)?).map_err(|e| {
                        invalid(
                            &format!("publish.issuer {:?}: public_keys", c.issuer),
                            format!("{}: {e}", k.pem.display()),
                        )
                    })?;
                static_keys.push((k.kid.clone(), key));
            }
            let source = match (&c.jwks_url, &c.jwks_url_file) {
                (Some(url), _) => Some(JwksSource::Url(url.clone())),
                (None, Some(file)) => Some(JwksSource::UrlFile(file.clone())),
                (None, None) => None,
            };
            let ca_pem = c.jwks_ca.as_ref().map(|p| read(p)).transpose()?;
            states.push(IssuerState {
                issuer: c.issuer.clone(),
                audience: c.audience.clone(),
                static_keys,
                jwks_keys: RwLock::new(Vec::new()),
                jwks_loaded: AtomicBool::new(false),
                source,
                ca_pem,
                max_lifetime: c.max_certificate_lifetime_seconds,
                require_low_s: c.require_low_s,
            });
        }
        Ok(Self {
            states,
            refresh: config.iter().map(|c| c.jwks_refresh_seconds).min().unwrap_or(300),
        })
    }

    /// Seconds between JWKS refreshes.
    pub fn refresh_seconds(&self) -> u64 {
        self.refresh.max(1)
    }

    /// Fetches every JWKS again; a failure keeps the previous keys.
    pub async fn refresh(&self) {
        for state in &self.states {
            match state.refresh().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(issuer = %state.issuer, keys = n, "JWKS refreshed"),
                Err(error) => {
                    tracing::warn!(issuer = %state.issuer, %error, "JWKS refresh failed; keeping the previous keys");
                }
            }
        }
    }

    /// Verifies `token` for an app accepting `allowed` issuers, bound to `keys` by `hmac_key`.
    pub fn verify(
        &self,
        token: &str,
        allowed: &[String],
        hmac_key: &[u8],
        keys: &[PublishKey],
        now: UnixTime,
    ) -> Result<VerifiedCertificate, CertificateError> {
        let fail = |m: String| CertificateError::Invalid(m);
        if token.is_empty() {
            return Err(fail("no verification certificate".into()));
        }
        let jwt = Jwt::parse(token).map_err(|e| fail(format!("certificate: {e}")))?;
        let unverified = VerificationCertificateClaims::from_json(jwt.unverified_payload())
            .map_err(|e| fail(format!("certificate claims: {e}")))?;
        let state = self
            .states
            .iter()
            .find(|s| s.issuer == unverified.issuer)
            .ok_or_else(|| fail("certificate issuer is not known".into()))?;
        if !allowed.iter().any(|a| a == &state.issuer) {
            return Err(fail("certificate issuer is not allowed for this health authority".into()));
        }
        let kid = jwt.kid().unwrap_or_default();
        let Some(key) = state.key(kid) else {
            // Before the JWKS was first read, an unknown `kid` says nothing about the
            // certificate (a restarted key server whose verifier is slow to answer).
            if state.source.is_some() && !state.jwks_loaded.load(Ordering::Acquire) {
                return Err(CertificateError::KeysNotLoaded(state.issuer.clone()));
            }
            return Err(fail(format!(
                "no active public key for kid {:?}",
                kid.chars().take(64).collect::<String>()
            )));
        };
        // The signature covers the payload the claims were read from: they are now verified.
        jwt.verify(&key).map_err(|e| fail(format!("certificate: {e}")))?;
        if state.require_low_s && !jwt.is_low_s() {
            return Err(fail(
                "certificate: the signature has a high S (this issuer always signs low S)".into(),
            ));
        }
        let claims = unverified;
        claims
            .validate(now, &state.issuer, &state.audience, CLOCK_SKEW_SECONDS)
            .map_err(|e| fail(format!("certificate: {e}")))?;
        let born = claims.issued_at.unwrap_or(now).seconds();
        let lifetime = claims.expires_at.seconds().saturating_sub(born.min(now.seconds()));
        if lifetime > state.max_lifetime {
            return Err(fail(format!(
                "certificate: it lives {lifetime} s (exp − iat), longer than the {} s this issuer \
                 is allowed",
                state.max_lifetime
            )));
        }
        tekmac::verify(hmac_key, keys, &claims.tekmac)
            .map_err(|e| fail(format!("certificate: {e}")))?;
        Ok(VerifiedCertificate {
            // The signed part, not the text: `(R, S)` and `(R, n − S)` are one certificate.
            hash: sha2::Sha256::digest(jwt.signing_input().as_bytes()).into(),
            expires_at: claims.expires_at.seconds(),
            report_type: claims.report_type,
            symptom_onset_interval: claims.symptom_onset_interval,
        })
    }
}
