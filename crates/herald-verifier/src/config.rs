//! The verification service's configuration: a TOML file plus environment overrides
//! (`HERALD_VERIFIER_<NAME>` for a top-level setting, `HERALD_VERIFIER_<TABLE>__<NAME>` inside a
//! table, e.g. `HERALD_VERIFIER_CODES__SHORT_MINUTES`), validated at load time. Secrets (the HMAC
//! keys, the signing keys, TLS keys) are files named here, never values in the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use herald_wire::verification::TestType;
use serde::Deserialize;

/// A commented example (`herald verifier config-example`).
pub const EXAMPLE: &str = r#"# herald verification service.
# Every setting can also be given by environment variable: HERALD_VERIFIER_<NAME> at the top
# level, HERALD_VERIFIER_<TABLE>__<NAME> inside a table (e.g. HERALD_VERIFIER_CODES__SHORT_MINUTES).

# The health authority's country (upper-case ISO 3166-1 alpha-2).
country = "DE"
listen = "0.0.0.0:8444"
# The internal listener: plain HTTP with GET /health (200 after a database round trip while the
# purge job runs, else 503), GET /metrics (Prometheus text format) and GET /openapi.json. Keep it
# on loopback or an internal network; leave it out to turn it off.
# internal_listen = "127.0.0.1:9466"
# SQLite file (default backend) or postgres://user@host/db.
database = "sqlite:/var/lib/herald/verifier/verifier.db"
# Server secrets keying every stored hash (codes, API keys, token ids): files of 64 hex digits,
# newest first. Add a new first entry to rotate; keep the old one until its codes expired.
hmac_key_files = ["/etc/herald/verifier/hmac.key"]
# Behind a proxy: the header the proxy puts the client's address in (the right-most entry is
# used). Per-client limits key on a keyed hash of that address, held in memory only. Leave it
# out when clients connect directly: a client could then name any address it likes.
# client_address_header = "x-forwarded-for"

# In-process TLS (leave out behind a TLS-terminating proxy).
[tls]
certificate = "/etc/herald/verifier/server.pem"
key = "/etc/herald/verifier/server.key.pem"

[codes]
short_length = 8          # digits, at least 6
short_minutes = 15        # 1..=120
long_length = 16          # [a-z0-9], at least 12
long_minutes = 1440       # 1..=1440
allowed_test_types = ["confirmed", "likely", "negative"]
require_date = true       # a symptom or test date is required to issue
max_date_age_days = 28    # dates older than this are refused

# Verification tokens (what /api/verify hands out; only this service checks them).
[token]
issuer = "herald-verifier-de-token"
lifetime_seconds = 86400
[[token.key]]
kid = "t1"
key = "/etc/herald/verifier/token-t1.key.pem"   # P-256, PKCS#8 PEM

# Verification certificates (what the key server checks; published at /.well-known/jwks.json).
[certificate]
issuer = "herald-verifier-de"
audience = "herald-keyserver-de"
lifetime_seconds = 900
# Rotation: add a key; the last one whose signing_from has come signs. Give the old one a
# published_until at least lifetime_seconds after the switch (Unix seconds).
[[certificate.key]]
kid = "c1"
key = "/etc/herald/verifier/certificate-c1.key.pem"
# signing_from = 1796000000
# published_until = 1797000000

[api]
response_size = 2048             # every app answer (real, error, chaff) is padded to this size
chaff_max_latency_ms = 1000
# Brute-force limits on /api/verify, in one window. A failed attempt (and one in flight) spends
# a unit of two budgets: its client's (by address: one guesser cannot lock out everyone else)
# and the device API key's, which every install of the app shares (the last line of defence
# against many clients; when it trips, herald_verifier_limit_trips_total{limit="verify_app_budget"}
# counts: alert on it). A spent budget answers 429 quota_exceeded until the window ends.
verify_client_failure_limit = 20
verify_failure_limit = 1000
verify_failure_window_seconds = 3600
# Expired codes and redeemed token ids are deleted this long after they expired.
retention_hours = 24

# The case-worker portal at https://<listen>/portal/ (login with password + TOTP; users are made
# with `herald verifier user add`). It needs TLS in front (its cookies are Secure).
[portal]
enabled = true
session_minutes = 480
lockout_after = 5                # wrong passwords in a row lock the account until an admin unlocks it
login_attempts_per_15_minutes = 10   # per user name
# Login attempts per client address (IPv6: per /64; behind a proxy, see client_address_header)
# per 15 minutes that did not succeed. Counted in memory under a random key of the process,
# never stored or logged.
client_login_failures_per_15_minutes = 30
codes_per_user_hour = 60         # a warning shows from 80 %
codes_per_hour = 1000            # all users and admin API keys together
link_base = "https://en.express/v"   # the SMS link is <link_base>?c=<long code>
"#;

pub use herald_service::config::{ConfigError, TlsFiles};

/// Code settings (§3.3).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CodeSettings {
    /// Short code digits.
    #[serde(default = "default_short_length")]
    pub short_length: usize,
    /// Short code lifetime.
    #[serde(default = "default_short_minutes")]
    pub short_minutes: i64,
    /// Long code characters.
    #[serde(default = "default_long_length")]
    pub long_length: usize,
    /// Long code lifetime.
    #[serde(default = "default_long_minutes")]
    pub long_minutes: i64,
    /// Test types codes may be issued for.
    #[serde(default = "default_test_types")]
    pub allowed_test_types: Vec<String>,
    /// A symptom or test date is required.
    #[serde(default = "default_true")]
    pub require_date: bool,
    /// Oldest accepted date, in days before today.
    #[serde(default = "default_max_date_age")]
    pub max_date_age_days: i64,
}

/// A signing key file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// The `kid`.
    pub kid: String,
    /// P-256 PKCS#8 PEM.
    pub key: PathBuf,
    /// Signs from (Unix seconds).
    pub signing_from: Option<i64>,
    /// Published until (Unix seconds).
    pub published_until: Option<i64>,
}

/// Token settings (§3.4).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// `iss` = `aud`.
    pub issuer: String,
    /// Lifetime.
    #[serde(default = "default_token_lifetime")]
    pub lifetime_seconds: i64,
    /// Keys.
    #[serde(rename = "key")]
    pub keys: Vec<KeyFile>,
}

/// Certificate settings (§3.5).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CertificateSettings {
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Lifetime.
    #[serde(default = "default_certificate_lifetime")]
    pub lifetime_seconds: i64,
    /// Keys.
    #[serde(rename = "key")]
    pub keys: Vec<KeyFile>,
}

/// HTTP API settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Padded answer size.
    #[serde(default = "default_response_size")]
    pub response_size: usize,
    /// Chaff delay cap.
    #[serde(default = "default_chaff_latency")]
    pub chaff_max_latency_ms: u64,
    /// Failed verifications per client address per window.
    #[serde(default = "default_client_failure_limit")]
    pub verify_client_failure_limit: u32,
    /// Failed verifications per device key (all clients together) per window.
    #[serde(default = "default_failure_limit")]
    pub verify_failure_limit: u32,
    /// The window.
    #[serde(default = "default_failure_window")]
    pub verify_failure_window_seconds: i64,
    /// Retention after expiry.
    #[serde(default = "default_retention_hours")]
    pub retention_hours: i64,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            response_size: default_response_size(),
            chaff_max_latency_ms: default_chaff_latency(),
            verify_client_failure_limit: default_client_failure_limit(),
            verify_failure_limit: default_failure_limit(),
            verify_failure_window_seconds: default_failure_window(),
            retention_hours: default_retention_hours(),
        }
    }
}

impl Default for CodeSettings {
    fn default() -> Self {
        Self {
            short_length: default_short_length(),
            short_minutes: default_short_minutes(),
            long_length: default_long_length(),
            long_minutes: default_long_minutes(),
            allowed_test_types: default_test_types(),
            require_date: true,
            max_date_age_days: default_max_date_age(),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VerifierConfig {
    /// The country.
    pub country: String,
    /// Listen address.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The internal listener's address (`/health`, `/metrics`, `/openapi.json`); `None` is off.
    #[serde(default)]
    pub internal_listen: Option<SocketAddr>,
    /// Database URL or path.
    pub database: String,
    /// HMAC secret files, newest first.
    pub hmac_key_files: Vec<PathBuf>,
    /// The header a proxy in front puts the client's address in; `None`: the TCP peer's.
    #[serde(default)]
    pub client_address_header: Option<String>,
    /// In-process TLS.
    pub tls: Option<TlsFiles>,
    /// Codes.
    #[serde(default)]
    pub codes: CodeSettings,
    /// Tokens.
    pub token: TokenSettings,
    /// Certificates.
    pub certificate: CertificateSettings,
    /// The API.
    #[serde(default)]
    pub api: ApiSettings,
    /// The case-worker portal.
    #[serde(default)]
    pub portal: PortalSettings,
}

/// Case-worker portal settings (`[portal]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PortalSettings {
    /// Serve the portal under `/portal/` on the service's listener.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Session lifetime.
    #[serde(default = "default_session_minutes")]
    pub session_minutes: i64,
    /// Wrong passwords (or TOTP codes) in a row that lock an account.
    #[serde(default = "default_lockout_after")]
    pub lockout_after: i64,
    /// Login attempts per user name per 15 minutes.
    #[serde(default = "default_login_attempts")]
    pub login_attempts_per_15_minutes: u32,
    /// Login attempts per client address (IPv6: per /64) per 15 minutes that did not succeed.
    #[serde(default = "default_client_login_failures")]
    pub client_login_failures_per_15_minutes: u32,
    /// Codes one user may issue per hour.
    #[serde(default = "default_user_codes")]
    pub codes_per_user_hour: i64,
    /// Codes all users together may issue per hour in the portal (admin-API codes count towards
    /// it too; the API itself is not limited by it).
    #[serde(default = "default_global_codes")]
    pub codes_per_hour: i64,
    /// The SMS link's base (`…?c=<long code>`); ENX style by default.
    #[serde(default = "default_link_base")]
    pub link_base: String,
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            session_minutes: default_session_minutes(),
            lockout_after: default_lockout_after(),
            login_attempts_per_15_minutes: default_login_attempts(),
            client_login_failures_per_15_minutes: default_client_login_failures(),
            codes_per_user_hour: default_user_codes(),
            codes_per_hour: default_global_codes(),
            link_base: default_link_base(),
        }
    }
}

herald_service::defaults! {
    fn default_session_minutes() -> i64 = 480;
    fn default_lockout_after() -> i64 = 5;
    fn default_login_attempts() -> u32 = 10;
    fn default_client_login_failures() -> u32 = 30;
    fn default_user_codes() -> i64 = 60;
    fn default_global_codes() -> i64 = 1000;
    fn default_link_base() -> String = "https://en.express/v".into();
    fn default_short_length() -> usize = 8;
    fn default_short_minutes() -> i64 = 15;
    fn default_long_length() -> usize = 16;
    fn default_long_minutes() -> i64 = 1440;
    fn default_test_types() -> Vec<String> = vec!["confirmed".into(), "likely".into(), "negative".into()];
    fn default_true() -> bool = true;
    fn default_max_date_age() -> i64 = 28;
    fn default_token_lifetime() -> i64 = 86_400;
    fn default_certificate_lifetime() -> i64 = 900;
    fn default_response_size() -> usize = 2048;
    fn default_chaff_latency() -> u64 = 1000;
    fn default_failure_limit() -> u32 = 1000;
    fn default_client_failure_limit() -> u32 = 20;
    fn default_failure_window() -> i64 = 3600;
    fn default_retention_hours() -> i64 = 24;
    fn default_listen() -> SocketAddr = SocketAddr::from(([0, 0, 0, 0], 8444));
}

pub(crate) const PREFIX: &str = "HERALD_VERIFIER_";

impl VerifierConfig {
    /// Parses TOML, applies `HERALD_VERIFIER_*` overrides from `env`, and validates.
    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        herald_service::config::parse_validated(text, PREFIX, env, Self::validate)
    }

    /// The allowed test types, parsed.
    pub fn allowed_test_types(&self) -> Vec<TestType> {
        self.codes.allowed_test_types.iter().filter_map(|t| TestType::parse(t)).collect()
    }

    /// Checks ranges and consistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use herald_service::config::in_range;
        let invalid = |setting: &str, problem: &str| Err(ConfigError::invalid(setting, problem));
        herald_service::config::country(&self.country)?;
        herald_service::config::check_listeners(self.listen, self.internal_listen)?;
        if self.hmac_key_files.is_empty() {
            return invalid("hmac_key_files", "needs at least one file");
        }
        let c = &self.codes;
        in_range("codes.short_length", c.short_length, 6..=16)?;
        in_range("codes.short_minutes", c.short_minutes, 1..=120)?;
        in_range("codes.long_length", c.long_length, 12..=64)?;
        in_range("codes.long_minutes", c.long_minutes, 1..=1440)?;
        if c.allowed_test_types.is_empty() {
            return invalid("codes.allowed_test_types", "must not be empty");
        }
        for t in &c.allowed_test_types {
            if TestType::parse(t).is_none_or(|t| t == TestType::UserReport) {
                return Err(ConfigError::invalid(
                    "codes.allowed_test_types",
                    format!("must be confirmed, likely or negative, got {t:?}"),
                ));
            }
        }
        in_range("codes.max_date_age_days", c.max_date_age_days, 1..=365)?;
        in_range("token.lifetime_seconds", self.token.lifetime_seconds, 60..=7 * 86_400)?;
        in_range("certificate.lifetime_seconds", self.certificate.lifetime_seconds, 60..=86_400)?;
        for (what, s) in [
            ("token.issuer", &self.token.issuer),
            ("certificate.issuer", &self.certificate.issuer),
            ("certificate.audience", &self.certificate.audience),
        ] {
            in_range(what, s.len(), 1..=256)?;
        }
        let p = &self.portal;
        in_range("portal.session_minutes", p.session_minutes, 5..=1440)?;
        in_range("portal.lockout_after", p.lockout_after, 1..=20)?;
        in_range(
            "portal.login_attempts_per_15_minutes",
            p.login_attempts_per_15_minutes,
            1..=1000,
        )?;
        in_range(
            "portal.client_login_failures_per_15_minutes",
            p.client_login_failures_per_15_minutes,
            1..=100_000,
        )?;
        in_range("portal.codes_per_user_hour", p.codes_per_user_hour, 1..=p.codes_per_hour)?;
        if !p.link_base.starts_with("https://") || p.link_base.contains(['?', '#', ' ']) {
            return invalid("portal.link_base", "must be an https:// URL without query");
        }
        if self.token.keys.is_empty() {
            return invalid("token.key", "needs at least one [[token.key]]");
        }
        if self.certificate.keys.is_empty() {
            return invalid("certificate.key", "needs at least one [[certificate.key]]");
        }
        in_range("api.response_size", self.api.response_size, 512..=16_384)?;
        if let Some(name) = &self.client_address_header
            && axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
        {
            return invalid("client_address_header", "is not an HTTP header name");
        }
        in_range("api.verify_failure_limit", self.api.verify_failure_limit, 1..=u32::MAX)?;
        in_range(
            "api.verify_client_failure_limit",
            self.api.verify_client_failure_limit,
            1..=self.api.verify_failure_limit,
        )?;
        in_range(
            "api.verify_failure_window_seconds",
            self.api.verify_failure_window_seconds,
            1..=i64::MAX,
        )?;
        in_range("api.retention_hours", self.api.retention_hours, 1..=24 * 30)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_and_env_overrides() {
        let config = VerifierConfig::from_toml(EXAMPLE, []).unwrap();
        assert_eq!(config.codes.short_minutes, 15);
        assert_eq!(config.certificate.keys.len(), 1);
        assert_eq!(config.portal, PortalSettings::default(), "the example shows the defaults");
        let env = [
            ("HERALD_VERIFIER_CODES__SHORT_MINUTES".to_owned(), "30".to_owned()),
            ("HERALD_VERIFIER_DATABASE".to_owned(), "postgres://x@y/z".to_owned()),
        ];
        let config = VerifierConfig::from_toml(EXAMPLE, env).unwrap();
        assert_eq!(config.codes.short_minutes, 30);
        assert_eq!(config.database, "postgres://x@y/z");
    }

    #[test]
    fn refusals_name_the_setting() {
        for (from, to, why) in [
            ("short_length = 8", "short_length = 5", "codes.short_length"),
            ("short_minutes = 15", "short_minutes = 500", "codes.short_minutes"),
            ("\"likely\", \"negative\"]", "\"user-report\"]", "allowed_test_types"),
            ("country = \"DE\"", "country = \"de\"", "country"),
            ("retention_hours = 24", "retention_hours = 0", "retention_hours"),
            ("listen = ", "surprise = 1\nlisten = ", "unknown field"),
            ("lockout_after = 5", "lockout_after = 0", "portal.lockout_after"),
            (
                "verify_client_failure_limit = 20",
                "verify_client_failure_limit = 2000",
                "api.verify_client_failure_limit",
            ),
            (
                "# client_address_header = \"x-forwarded-for\"",
                "client_address_header = \"x forwarded\"",
                "client_address_header",
            ),
            (
                "codes_per_user_hour = 60",
                "codes_per_user_hour = 5000",
                "portal.codes_per_user_hour",
            ),
            ("link_base = \"https://", "link_base = \"http://", "portal.link_base"),
            ("session_minutes = 480", "session_minutes = 2", "portal.session_minutes"),
            (
                "client_login_failures_per_15_minutes = 30",
                "client_login_failures_per_15_minutes = 0",
                "portal.client_login_failures_per_15_minutes",
            ),
        ] {
            let text = EXAMPLE.replacen(from, to, 1);
            assert_ne!(text, EXAMPLE, "{from}");
            let e = VerifierConfig::from_toml(&text, []).unwrap_err().to_string();
            assert!(e.contains(why), "{from}: {e}");
        }
    }
}
