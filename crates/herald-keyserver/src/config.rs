//! The key server's configuration: one TOML file; every setting also by environment variable
//! (`HERALD_KEYSERVER_<NAME>` for a top-level setting, `HERALD_KEYSERVER_<TABLE>__<NAME>` inside
//! a table, e.g. `HERALD_KEYSERVER_FEDERATION__GATEWAY_URL`), validated at load time.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// A commented example, printed by `herald keyserver config-example`.
pub const EXAMPLE: &str = r#"# herald national key server.
# Every setting can also be given by environment variable: HERALD_KEYSERVER_<NAME> at the top
# level, HERALD_KEYSERVER_<TABLE>__<NAME> inside a table (e.g. HERALD_KEYSERVER_EXPORT__DIRECTORY).

# The country this key server serves (ISO 3166-1 alpha-2); origin of its keys in federation.
country = "DE"

# Where apps publish (POST /v1/publish). With [tls], HTTPS; without, plain HTTP behind a
# TLS-terminating proxy (which must strip client IP addresses: the key server never stores them).
listen = "0.0.0.0:8443"

# The internal listener: plain HTTP with GET /health (200 after a database round trip while
# every background job runs, else 503), GET /metrics (Prometheus text format) and
# GET /openapi.json. Keep it on loopback or an internal network; leave it out to turn it off.
# internal_listen = "127.0.0.1:9465"

# Storage: a SQLite file (created if missing) or a PostgreSQL URL.
database = "sqlite:/var/lib/herald/keyserver.db"

# Also serve the export directory at /exports/ (development; in production a CDN serves it).
serve_exports = false

# Keys are deleted this many days after release (minimum 10, key-server.md §6.11).
retention_days = 14

# Several key servers may share one PostgreSQL database: each background job (export,
# federation, retention) runs in one of them at a time, under a lease renewed while it runs.
# After a crash, another instance takes the job over when the lease expires (a clean stop
# releases it at once).
job_lease_seconds = 30

# [tls]
# certificate = "/etc/herald/keyserver.pem"
# key = "/etc/herald/keyserver.key.pem"

[publish]
# Revision tokens: AES-256-GCM keys, 32 random bytes each (hex or Base64 in the file). The first
# one seals new tokens; every listed one still opens tokens (rotation: prepend a new key, drop the
# oldest after 15 days).
revision_token_keys = ["/etc/herald/revision-token-1.key"]
# Every answer (success, error, chaff) is padded to exactly this many bytes (key-server.md §6.2:
# one padding target per endpoint, the same for both platforms).
response_size = 4096
# Chaff (X-Chaff) answers wait around the recent latency of real answers, at most this long.
chaff_max_latency_ms = 1000

# Who may publish: one table per app (healthAuthorityID), with its regions and the verification
# services (certificate issuers) it accepts.
[[publish.app]]
id = "de.herald.app"
regions = ["DE"]
issuers = ["herald-verifier-de"]
# The app asks for consent to share keys with other countries: queue its keys for the gateway.
federate = true

# Verification services whose certificates authorise uploads (key-server.md §3.5, §3.7). Keys are
# discovered from the service's JWKS and refreshed every `jwks_refresh_seconds`.
[[publish.issuer]]
issuer = "herald-verifier-de"
audience = "herald-keyserver-de"
jwks_url = "https://verifier.example.de/.well-known/jwks.json"
# CA certificates (PEM) for the JWKS URL; left out, the system's CA certificates are used.
jwks_ca = "/etc/herald/verifier-ca.pem"
jwks_refresh_seconds = 300
# Certificates living longer than this (exp - iat) are refused (the verifier's default is 900).
max_certificate_lifetime_seconds = 3600
# Refuse signatures with a high S (the other encoding of a valid ECDSA signature). herald's
# verifier always signs low S; Google's verification server (Go crypto/ecdsa) signs either, so
# leave this off for it. A certificate is used once either way: the one-time check keys on
# what the signature covers, not on the signature.
require_low_s = false

[export]
# The object store: a local directory (served by a web server or CDN)...
directory = "/var/lib/herald/exports"
# ...or an S3-compatible bucket (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
# s3_bucket = "herald-exports"
# s3_endpoint = "https://s3.example.net"
# s3_region = "eu-central-1"
# How often the export job looks for finished windows.
interval_seconds = 300
# A window [T - period, T) is exported once T <= now - min_window_age (rounded down to the hour).
min_window_age_seconds = 7200
# With a federation, own keys go to the gateway only with their padding: once a window of a
# padding series holding them is exported (else the gateway and two countries' files tell them
# from the padding by when they travel).
federate_after_padding = true

# Export signing keys (ECDSA P-256, PKCS#8 PEM), newest first; at most 10 sign each file. Set
# `until` (Unix seconds) on a key being retired.
[[export.signing_key]]
key = "/etc/herald/export-signing.key.pem"
key_id = "262"
key_version = "v1"

# Export configurations: one index and one series of files each. Padding (key-server.md §6.4)
# counts own keys only: fewer than min_records (none too) become min_records + rand[0,
# padding_range]; above, padding_ladder_percent = p pads to the next min_records * (1 + p/100)^k.
# 0 = off. The finest series holding own keys pads; its windows should hold about 3 x min_records
# own keys on a typical day (`herald bench padding`: Germany 2 h, France 4 h, Malta 24 h).
[[export.config]]
name = "DE/2h"
region = "DE"
period_seconds = 7200
# Regions whose keys go in ("*" = every region, incl. keys from the federation).
input_regions = ["*"]
max_records = 500000
min_records = 140
padding_range = 10
padding_ladder_percent = 20

[[export.config]]
name = "DE/daily"
region = "DE"
period_seconds = 86400
input_regions = ["*"]
min_records = 0

# Federation through an EFGS-compatible gateway (leave the table out to run alone).
# [federation]
# gateway_url = "https://gateway.example.eu"
# gateway_ca = "/etc/herald/gateway-ca.pem"
# client_certificate = "/etc/herald/efgs-auth.pem"
# client_key = "/etc/herald/efgs-auth.key.pem"
# signing_certificate = "/etc/herald/efgs-signing.pem"
# signing_key = "/etc/herald/efgs-signing.key.pem"
# The gateway operator's trust anchor: signing certificates in audit answers must carry its
# signature. Every downloaded upload is re-verified through the audit endpoint unless audit = false.
# trust_anchor = "/etc/herald/efgs-anchor.pem"
# audit = true
# upload_interval_seconds = 600
# download_interval_seconds = 600
# Keys per upload batch (the gateway takes at most 5000) and the least worth sending.
# batch_max_keys = 4000
# batch_min_keys = 1
# Days back the download walk starts on its first run.
# download_days = 1
# Receive the gateway's callbacks (GET ?batchTag=&date=, EFGS §1.6) on a listener of their own,
# with this server's [tls] certificate. Only a peer presenting the gateway's callback client
# certificate is heard; others get 403. At start the key server subscribes callback_url (default:
# https://<callback_listen>/federation/callback) as callback_id with the gateway. The chain walk
# above still runs: a callback only makes the next download start at once.
# callback_listen = "0.0.0.0:8444"
# callback_url = "https://keyserver.example.de:8444/federation/callback"
# callback_id = "herald"
# gateway_callback_certificate = "/etc/herald/efgs-callback-client.pem"
"#;

pub use herald_service::config::{ConfigError, TlsFiles};

/// An authorized app (ENS `AuthorizedApp`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The `healthAuthorityID` apps send.
    pub id: String,
    /// Regions its keys belong to.
    pub regions: Vec<String>,
    /// Certificate issuers it accepts.
    pub issuers: Vec<String>,
    /// Queue this app's keys for the federation gateway. The ENS publish API has no consent
    /// field: an app that asks its users for consent to share keys with other countries before
    /// uploading (CoronaMelder and DP-3T's "one world") sets this.
    #[serde(default)]
    pub federate: bool,
}

/// A verification service whose certificates are accepted.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The `iss` claim.
    pub issuer: String,
    /// The `aud` claim it must carry.
    pub audience: String,
    /// Its JWKS URL.
    pub jwks_url: Option<String>,
    /// A file holding the verifier's base URL (dev mode: `DIR/<CC>/verifier/url`); the JWKS is
    /// `<url>/.well-known/jwks.json`, read again at every refresh.
    pub jwks_url_file: Option<PathBuf>,
    /// CA certificates for the JWKS URL.
    pub jwks_ca: Option<PathBuf>,
    /// Static public keys instead of (or besides) JWKS: kid → PEM file.
    #[serde(default)]
    pub public_keys: Vec<StaticKey>,
    /// Seconds between JWKS refreshes.
    #[serde(default = "default_jwks_refresh")]
    pub jwks_refresh_seconds: u64,
    /// The longest accepted `exp − iat` (or `exp − now` without `iat`).
    #[serde(default = "default_max_certificate_lifetime")]
    pub max_certificate_lifetime_seconds: i64,
    /// Refuse high-S signatures (only for issuers that always sign low S, as herald's does).
    #[serde(default)]
    pub require_low_s: bool,
}

/// A verification-certificate public key given by file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StaticKey {
    /// The JWT `kid`.
    pub kid: String,
    /// SPKI PEM of the P-256 key.
    pub pem: PathBuf,
}

/// Publish settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    /// Revision-token key files, newest first.
    pub revision_token_keys: Vec<PathBuf>,
    /// Every publish answer (success, error or chaff) is padded to exactly this many bytes, so
    /// an observer cannot tell them apart by size.
    #[serde(default = "default_response_size")]
    pub response_size: usize,
    /// Cap on chaff latency.
    #[serde(default = "default_chaff_latency")]
    pub chaff_max_latency_ms: u64,
    /// Authorized apps.
    #[serde(default, rename = "app")]
    pub apps: Vec<AppConfig>,
    /// Accepted certificate issuers.
    #[serde(default, rename = "issuer")]
    pub issuers: Vec<IssuerConfig>,
}

/// An export signing key.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SigningKeyConfig {
    /// PKCS#8 PEM file.
    pub key: PathBuf,
    /// `verification_key_id`.
    pub key_id: String,
    /// `verification_key_version`.
    pub key_version: String,
    /// No longer signs from this Unix time on.
    pub until: Option<i64>,
}

/// One export configuration (ENS `ExportConfig`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExportConfigEntry {
    /// Filename root: object names are `<name>/<start>-<end>-<n>.zip` and `<name>/index.txt`.
    pub name: String,
    /// Output region written into the files.
    pub region: String,
    /// Window length, seconds (a multiple of 3600).
    pub period_seconds: i64,
    /// Regions whose keys go in (`*`: every region).
    #[serde(default = "default_input_regions")]
    pub input_regions: Vec<String>,
    /// Include travellers' keys whatever their regions.
    #[serde(default)]
    pub include_travelers: bool,
    /// Keys per file before splitting.
    #[serde(default = "default_max_records")]
    pub max_records: usize,
    /// Padding floor: own real keys below it are padded to it (plus jitter); 0 = no padding.
    #[serde(default = "default_min_records")]
    pub min_records: usize,
    /// Random extra padding (jitter), 0..=this.
    #[serde(default = "default_padding_range_keys")]
    pub padding_range: usize,
    /// Above the floor, pad to the next rung of `min_records · (1 + this/100)^k`; 0 = off.
    #[serde(default)]
    pub padding_ladder_percent: u32,
}

/// Export settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExportSettings {
    /// Local directory object store.
    pub directory: Option<PathBuf>,
    /// S3 bucket.
    pub s3_bucket: Option<String>,
    /// S3 endpoint (S3-compatible services).
    pub s3_endpoint: Option<String>,
    /// S3 region.
    pub s3_region: Option<String>,
    /// Seconds between export runs.
    #[serde(default = "default_export_interval")]
    pub interval_seconds: u64,
    /// Minimum age of a window's end before it is exported.
    #[serde(default = "default_min_window_age")]
    pub min_window_age_seconds: i64,
    /// Own keys go to the gateway only once a padding series' window holding them is exported.
    #[serde(default = "default_true")]
    pub federate_after_padding: bool,
    /// Signing keys, newest first.
    #[serde(rename = "signing_key")]
    pub signing_keys: Vec<SigningKeyConfig>,
    /// Export configurations.
    #[serde(rename = "config")]
    pub configs: Vec<ExportConfigEntry>,
}

/// Federation settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// Gateway base URL (`https://host:port[/prefix]`).
    pub gateway_url: String,
    /// CA certificates of the gateway's TLS certificate.
    pub gateway_ca: PathBuf,
    /// mTLS client certificate (AUTHENTICATION).
    pub client_certificate: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
    /// Batch-signing certificate (SIGNING).
    pub signing_certificate: PathBuf,
    /// Its key.
    pub signing_key: PathBuf,
    /// The gateway operator's trust anchor certificate.
    pub trust_anchor: Option<PathBuf>,
    /// Re-verify downloaded uploads through the audit endpoint.
    #[serde(default = "default_true")]
    pub audit: bool,
    /// Seconds between upload runs.
    #[serde(default = "default_federation_interval")]
    pub upload_interval_seconds: u64,
    /// Seconds between download runs.
    #[serde(default = "default_federation_interval")]
    pub download_interval_seconds: u64,
    /// Keys per upload batch.
    #[serde(default = "default_batch_max")]
    pub batch_max_keys: i64,
    /// Fewest keys worth an upload.
    #[serde(default = "default_batch_min")]
    pub batch_min_keys: i64,
    /// Days back the first download walk starts.
    #[serde(default = "default_download_days")]
    pub download_days: i64,
    /// Where gateway callbacks are received (needs `[tls]` and `gateway_callback_certificate`).
    #[serde(default)]
    pub callback_listen: Option<SocketAddr>,
    /// The URL subscribed with the gateway; default `https://<callback listener>/federation/callback`.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// The subscription's `callbackId` (at most 32 characters).
    #[serde(default = "default_callback_id")]
    pub callback_id: String,
    /// The gateway's callback client certificate (PEM): the only peer whose callbacks are heard.
    #[serde(default)]
    pub gateway_callback_certificate: Option<PathBuf>,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyserverConfig {
    /// This server's country.
    pub country: String,
    /// Listen address.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The internal listener's address (`/health`, `/metrics`, `/openapi.json`); `None` is off.
    #[serde(default)]
    pub internal_listen: Option<SocketAddr>,
    /// Database URL or path.
    pub database: String,
    /// Key retention, days.
    #[serde(default = "default_retention")]
    pub retention_days: i64,
    /// In-process TLS.
    pub tls: Option<TlsFiles>,
    /// Also serve the export directory under `/exports/` (development; production serves the
    /// bucket through a CDN).
    #[serde(default)]
    pub serve_exports: bool,
    /// Publish settings.
    pub publish: PublishConfig,
    /// Export settings.
    pub export: ExportSettings,
    /// Federation settings.
    pub federation: Option<FederationConfig>,
    /// Time to live of a job lease, seconds (renewed while the job runs).
    #[serde(default = "default_job_lease")]
    pub job_lease_seconds: i64,
}

herald_service::defaults! {
    fn default_jwks_refresh() -> u64 = 300;
    fn default_max_certificate_lifetime() -> i64 = 3600;
    /// The default size of every publish answer.
    pub fn default_response_size() -> usize = 4096;
    fn default_chaff_latency() -> u64 = 1000;
    fn default_input_regions() -> Vec<String> = vec!["*".to_owned()];
    fn default_max_records() -> usize = 500_000;
    fn default_min_records() -> usize = 1000;
    fn default_padding_range_keys() -> usize = 100;
    fn default_export_interval() -> u64 = 300;
    fn default_min_window_age() -> i64 = 7200;
    fn default_true() -> bool = true;
    fn default_federation_interval() -> u64 = 600;
    fn default_batch_max() -> i64 = 4000;
    fn default_batch_min() -> i64 = 1;
    /// The default `callbackId` of the gateway subscription.
    pub fn default_callback_id() -> String = "herald".to_owned();
    fn default_job_lease() -> i64 = 30;
    fn default_download_days() -> i64 = 1;
    fn default_listen() -> SocketAddr = SocketAddr::from(([0, 0, 0, 0], 8443));
    fn default_retention() -> i64 = 14;
}

/// The environment prefix.
pub(crate) const PREFIX: &str = "HERALD_KEYSERVER_";

impl KeyserverConfig {
    /// Parses TOML, applies `HERALD_KEYSERVER_*` overrides from `env` (a list of (name, value)
    /// pairs, normally `std::env::vars()`), and validates.
    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        herald_service::config::parse_validated(text, PREFIX, env, Self::validate)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        use herald_service::config::{https_url, in_range};
        let invalid = |setting: &str, problem: String| Err(ConfigError::invalid(setting, problem));
        herald_service::config::country(&self.country)?;
        herald_service::config::check_listeners(self.listen, self.internal_listen)?;
        in_range("retention_days", self.retention_days, 10..=30)?;
        self.validate_publish()?;
        self.validate_export()?;
        in_range("job_lease_seconds", self.job_lease_seconds, 3..=600)?;
        let Some(f) = &self.federation else { return Ok(()) };
        https_url("federation.gateway_url", &f.gateway_url)?;
        if f.audit && f.trust_anchor.is_none() {
            return invalid(
                "federation.audit",
                "needs federation.trust_anchor (the audit checks the operator's signature on \
                 every signer certificate); name the anchor, or set audit = false to download \
                 without re-verifying"
                    .into(),
            );
        }
        in_range("federation.batch_max_keys", f.batch_max_keys, 1..=5000)?;
        in_range("federation.batch_min_keys", f.batch_min_keys, 1..=f.batch_max_keys)?;
        in_range("federation.download_days", f.download_days, 0..=14)?;
        in_range("federation.callback_id", f.callback_id.chars().count(), 1..=32)?;
        if let Some(url) = &f.callback_url
            && (!url.starts_with("https://") || url.contains('?') || url.len() > 256)
        {
            return invalid(
                "federation.callback_url",
                "must be https://, without a query, at most 256 characters".into(),
            );
        }
        if f.callback_listen.is_some() {
            if self.tls.is_none() {
                return invalid(
                    "federation.callback_listen",
                    "needs [tls] (callbacks are mTLS)".into(),
                );
            }
            if f.gateway_callback_certificate.is_none() {
                return invalid(
                    "federation.callback_listen",
                    "needs gateway_callback_certificate (whose callbacks to hear)".into(),
                );
            }
        } else if f.callback_url.is_some() {
            return invalid("federation.callback_url", "needs callback_listen".into());
        }
        Ok(())
    }

    fn validate_publish(&self) -> Result<(), ConfigError> {
        let invalid = |setting: &str, problem: String| Err(ConfigError::invalid(setting, problem));
        if self.publish.revision_token_keys.is_empty() {
            return invalid("publish.revision_token_keys", "needs at least one key file".into());
        }
        if self.publish.apps.is_empty() {
            return invalid("publish.app", "needs at least one [[publish.app]]".into());
        }
        for app in &self.publish.apps {
            let setting = format!("publish.app {:?}", app.id);
            if app.regions.is_empty() {
                return invalid(&setting, "has no regions".into());
            }
            for issuer in &app.issuers {
                if !self.publish.issuers.iter().any(|i| &i.issuer == issuer) {
                    return invalid(
                        &setting,
                        format!("names issuer {issuer:?}, which has no [[publish.issuer]]"),
                    );
                }
            }
        }
        for issuer in &self.publish.issuers {
            let setting = format!("publish.issuer {:?}", issuer.issuer);
            if issuer.jwks_url.is_none()
                && issuer.jwks_url_file.is_none()
                && issuer.public_keys.is_empty()
            {
                return invalid(&setting, "needs jwks_url or public_keys".into());
            }
            if let Some(url) = &issuer.jwks_url {
                herald_service::config::https_url(&format!("{setting}: jwks_url"), url)?;
            }
            herald_service::config::in_range(
                &format!("{setting}: max_certificate_lifetime_seconds"),
                issuer.max_certificate_lifetime_seconds,
                60..=86_400,
            )?;
        }
        Ok(())
    }

    fn validate_export(&self) -> Result<(), ConfigError> {
        use herald_service::config::in_range;
        let invalid = |setting: &str, problem: String| Err(ConfigError::invalid(setting, problem));
        let export = &self.export;
        if export.directory.is_some() == export.s3_bucket.is_some() {
            return invalid("export", "needs exactly one of directory and s3_bucket".into());
        }
        in_range("export.signing_key", export.signing_keys.len(), 1..=10)?;
        if export.configs.is_empty() {
            return invalid("export.config", "needs at least one [[export.config]]".into());
        }
        in_range("export.min_window_age_seconds", export.min_window_age_seconds, 0..=86_400)?;
        in_range("export.interval_seconds", export.interval_seconds, 1..=u64::MAX)?;
        let own: Vec<String> = self.publish.apps.iter().flat_map(|a| a.regions.clone()).collect();
        if let Err(name) = crate::export::padding::check_series(&export.configs, &own) {
            return invalid(
                &format!("export.config {name:?}"),
                "holds own keys unpadded while a coarser series pads them: pad the finest series"
                    .into(),
            );
        }
        for c in &export.configs {
            let setting = format!("export.config {:?}", c.name);
            if c.period_seconds <= 0 || c.period_seconds % 3600 != 0 || c.period_seconds > 86_400 {
                return invalid(
                    &setting,
                    "period_seconds must be a whole number of hours up to 86400".into(),
                );
            }
            if c.name.is_empty()
                || c.name.starts_with('/')
                || c.name.split('/').any(|p| p.is_empty() || p == "." || p == "..")
            {
                return invalid(&setting, "name must be a relative object path".into());
            }
            if c.max_records == 0 {
                return invalid(&setting, "max_records must be at least 1".into());
            }
            if c.padding_ladder_percent > 100
                || (c.padding_ladder_percent > 0 && c.min_records == 0)
            {
                return invalid(
                    &setting,
                    "padding_ladder_percent needs min_records > 0 and at most 100".into(),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses() {
        let config = KeyserverConfig::from_toml(EXAMPLE, []).unwrap();
        assert_eq!(config.country, "DE");
        assert_eq!(config.export.configs.len(), 2);
        assert!(config.federation.is_none());
    }

    #[test]
    fn environment_overrides_any_setting() {
        let env = [
            ("HERALD_KEYSERVER_DATABASE".to_owned(), "postgres://x@y/z".to_owned()),
            ("HERALD_KEYSERVER_EXPORT__INTERVAL_SECONDS".to_owned(), "7".to_owned()),
            ("HERALD_KEYSERVER_LISTEN".to_owned(), "127.0.0.1:9".to_owned()),
            ("OTHER".to_owned(), "ignored".to_owned()),
        ];
        let config = KeyserverConfig::from_toml(EXAMPLE, env).unwrap();
        assert_eq!(config.database, "postgres://x@y/z");
        assert_eq!(config.export.interval_seconds, 7);
        assert_eq!(config.listen.port(), 9);
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        for (edit, expected) in [
            (("country = \"DE\"", "country = \"de\""), "country"),
            (("retention_days = 14", "retention_days = 3"), "retention_days"),
            (("period_seconds = 7200", "period_seconds = 600"), "period_seconds"),
            (("issuers = [\"herald-verifier-de\"]", "issuers = [\"nobody\"]"), "nobody"),
            (("jwks_url = \"https://", "jwks_url = \"http://"), "jwks_url"),
            (("listen = \"0.0.0.0:8443\"", "listen = \"nowhere\""), "listen"),
            (("interval_seconds = 300", "interval_seconds = 300\nsurprise = 1"), "surprise"),
            (
                (
                    "max_certificate_lifetime_seconds = 3600",
                    "max_certificate_lifetime_seconds = 315360000",
                ),
                "max_certificate_lifetime_seconds",
            ),
            (("padding_ladder_percent = 20", "padding_ladder_percent = 101"), "at most 100"),
            (("min_records = 140", "min_records = 0"), "needs min_records"),
            // The 2-hour series unpadded, the daily one padded: the 2-hour files would tell.
            (
                (
                    "min_records = 140\npadding_range = 10\npadding_ladder_percent = 20\n\n[[export.config]]\nname = \"DE/daily\"\nregion = \"DE\"\nperiod_seconds = 86400\ninput_regions = [\"*\"]\nmin_records = 0",
                    "min_records = 0\n\n[[export.config]]\nname = \"DE/daily\"\nregion = \"DE\"\nperiod_seconds = 86400\ninput_regions = [\"*\"]\nmin_records = 140",
                ),
                "\"DE/2h\" holds own keys unpadded",
            ),
        ] {
            let text = EXAMPLE.replacen(edit.0, edit.1, 1);
            let error = KeyserverConfig::from_toml(&text, []).unwrap_err().to_string();
            assert!(error.contains(expected), "{edit:?}: {error}");
        }
    }

    #[test]
    fn callback_settings_are_checked() {
        let federation = "[federation]\ngateway_url = \"https://gw\"\ngateway_ca = \"ca\"\nclient_certificate = \"c\"\nclient_key = \"k\"\nsigning_certificate = \"s\"\nsigning_key = \"sk\"\ntrust_anchor = \"a.pem\"\n";
        let base = EXAMPLE.replacen("# [federation]", "", 1);
        let ok = format!(
            "{base}\n{federation}callback_listen = \"127.0.0.1:0\"\ngateway_callback_certificate = \"g.pem\"\n[tls]\ncertificate = \"t\"\nkey = \"tk\"\n"
        );
        let config = KeyserverConfig::from_toml(&ok, []).unwrap();
        let f = config.federation.unwrap();
        assert_eq!(f.callback_id, "herald");
        for (extra, tls, expected) in [
            (
                "callback_listen = \"127.0.0.1:0\"\ngateway_callback_certificate = \"g\"\n",
                false,
                "needs [tls]",
            ),
            ("callback_listen = \"127.0.0.1:0\"\n", true, "gateway_callback_certificate"),
            ("callback_url = \"https://ks/cb\"\n", true, "needs callback_listen"),
            (
                "callback_listen = \"127.0.0.1:0\"\ngateway_callback_certificate = \"g\"\ncallback_url = \"http://ks/cb\"\n",
                true,
                "callback_url",
            ),
            ("callback_id = \"\"\n", true, "callback_id"),
        ] {
            let tls = if tls { "[tls]\ncertificate = \"t\"\nkey = \"tk\"\n" } else { "" };
            let text = format!("{base}\n{federation}{extra}{tls}");
            let error = KeyserverConfig::from_toml(&text, []).unwrap_err().to_string();
            assert!(error.contains(expected), "{extra}: {error}");
        }
    }

    /// Issue 14, finding 4: an audit without the anchor would silently skip the operator
    /// signature check; the server refuses to start instead.
    #[test]
    fn an_audit_needs_the_trust_anchor() {
        let federation = "[federation]\ngateway_url = \"https://gw\"\ngateway_ca = \"ca\"\nclient_certificate = \"c\"\nclient_key = \"k\"\nsigning_certificate = \"s\"\nsigning_key = \"sk\"\n";
        let base = EXAMPLE.replacen("# [federation]", "", 1);
        let error = KeyserverConfig::from_toml(&format!("{base}\n{federation}"), [])
            .unwrap_err()
            .to_string();
        assert!(error.contains("federation.audit") && error.contains("trust_anchor"), "{error}");
        let without_audit = format!("{base}\n{federation}audit = false\n");
        assert!(KeyserverConfig::from_toml(&without_audit, []).is_ok());
        let with_anchor = format!("{base}\n{federation}trust_anchor = \"a.pem\"\n");
        assert!(KeyserverConfig::from_toml(&with_anchor, []).is_ok());
    }
}
