//! The gateway's configuration: one TOML file, every top-level setting also by environment
//! variable (`HERALD_GATEWAY_<NAME>`), validated into typed settings at load time.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use herald_service::config::in_range;
use serde::Deserialize;

/// A commented example, printed by `herald gateway config-example`.
pub const EXAMPLE: &str = r#"# herald federation gateway (EFGS-compatible).
# Every top-level setting can also be given as HERALD_GATEWAY_<NAME>, e.g. HERALD_GATEWAY_DATABASE.

# Where national backends connect.
listen = "0.0.0.0:8443"

# The internal listener: plain HTTP with GET /health (200 after a database round trip, 503
# without one), GET /metrics (Prometheus text format) and GET /openapi.json (the public API).
# Keep it on loopback or an internal network; leave it out to turn it off.
# internal_listen = "127.0.0.1:9464"

# Storage: a SQLite file (created if missing), or a PostgreSQL URL. Several gateway processes on
# one PostgreSQL act as one gateway.
database = "sqlite:/var/lib/herald/gateway.db"
# database = "postgres://herald@db.internal:5432/herald"

# At-rest protection of the stored keys (specs/efgs-gateway.md §6.1): each key's payload fields
# are sealed with AES-256-GCM (a random nonce, bound to the key's row) under this key: 32 random
# bytes, Base64 or hex, in a file only the gateway can read (`openssl rand -base64 32`, mode 0600).
# Required, unless `at_rest_encryption` is set to false explicitly (keys are then stored in clear).
at_rest_key_file = "/etc/herald/at-rest.key"
# Rotation: make the new key at_rest_key_file and list the old one here. Rows sealed with a listed
# key stay readable, and at startup the gateway seals them anew with the current key; once every
# gateway process has restarted with the new key, the old one can go. With several processes on
# one database, first list the new key here on all of them, then make it current. A gateway
# refuses to start when stored keys are sealed with a key it is not given.
# at_rest_previous_key_files = ["/etc/herald/at-rest-2026-11.key"]
# at_rest_encryption = true

# The operator's trust anchor certificate (PEM). Every trust-list entry must carry its signature;
# the private key never needs to be on this machine (see `herald gateway trust add`).
anchor_certificate = "/etc/herald/anchor.pem"

# Dates older than today minus this many days answer 410 (EFGS production: 2).
max_age_days = 2

# Keys older than midnight today minus this many days are deleted (EFGS keeps about 3 days).
retention_days = 2

# Upload and download statistics (hour, tag, country, number of keys; EFGS §1.3 step 7) older
# than this many days are deleted by the same retention job.
statistics_retention_days = 30

# "efgs": an upload with a duplicate key is rolled back whole and answered 207 (the reference).
# "store-valid": the other keys are stored, and the 207 lists which were not.
upload_mode = "efgs"

# Longest wait before new uploads are gathered into download batches (uploads also wake it).
batching_interval_seconds = 300

# Callbacks (EFGS §1.5, §1.6). The gateway calls subscribed national backends over mTLS with this
# client certificate and key (EKU clientAuth); without them it calls without a client certificate.
# callback_client_certificate = "/etc/herald/callback-client.pem"
# callback_client_key = "/etc/herald/callback-client.key.pem"
# A failed callback is tried again after this many seconds (EFGS: 300). The 6th failure in a row
# suspends the subscription (kept and flagged, no more calls) until the country puts it again.
callback_retry_wait_seconds = 300
# Longest wait between callback runs (new download batches also wake it).
callback_interval_seconds = 60
# Which certificate a callback receiver must present: "callback" (a trusted CALLBACK entry of the
# subscriber's country, valid for the URL's host) or "efgs" (the reference: a trusted
# AUTHENTICATION entry of any country, no host check).
callback_receiver_trust = "callback"
# Allow callbacks to localhost and to hosts that are or resolve to internal addresses. Dev only.
allow_private_callback_hosts = false
# Send callbacks through an HTTP proxy (CONNECT tunnels; TLS stays end to end with the
# receiver, whose certificate is checked as without a proxy). No credentials in the URL.
# callback_proxy = "http://proxy.internal:3128"

# TLS with client certificates, terminated by herald itself. Leave this table out only when a
# proxy terminates TLS in front (see [auth]).
[tls]
certificate = "/etc/herald/gateway.pem"
key = "/etc/herald/gateway.key.pem"

[auth]
# "mtls": the client certificate of the TLS handshake identifies the caller.
# "proxy": a load balancer terminated mTLS and forwards the certificate's SHA-256 and subject DN
# in headers, or the whole certificate; they are believed only from the addresses listed here.
# The proxy must drop these headers when clients send them.
mode = "mtls"
# trusted_proxies = ["10.0.0.10", "10.0.0.11"]
# thumbprint_header = "X-SSL-Client-SHA256"
# dn_header = "X-SSL-Client-DN"
# The whole client certificate: URL-encoded PEM (nginx: $ssl_client_escaped_cert) or Base64 DER.
# The gateway computes the thumbprint, reads C and checks the validity dates itself; a
# thumbprint or DN header sent as well must agree with it (else 403). "" turns it off.
# certificate_header = "X-SSL-Client-Cert"
"#;

pub use herald_service::config::ConfigError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: Option<String>,
    internal_listen: Option<String>,
    database: Option<String>,
    anchor_certificate: Option<PathBuf>,
    max_age_days: Option<i64>,
    retention_days: Option<i64>,
    statistics_retention_days: Option<i64>,
    upload_mode: Option<String>,
    batching_interval_seconds: Option<u64>,
    callback_client_certificate: Option<PathBuf>,
    callback_client_key: Option<PathBuf>,
    callback_retry_wait_seconds: Option<u64>,
    callback_interval_seconds: Option<u64>,
    callback_receiver_trust: Option<String>,
    allow_private_callback_hosts: Option<bool>,
    callback_proxy: Option<String>,
    at_rest_key_file: Option<PathBuf>,
    at_rest_previous_key_files: Option<PathList>,
    at_rest_encryption: Option<bool>,
    tls: Option<RawTls>,
    auth: Option<RawAuth>,
}

/// A list of files: a TOML array, or (from the environment) one string of comma-separated
/// paths.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PathList {
    List(Vec<PathBuf>),
    Commas(String),
}

impl PathList {
    fn into_paths(self) -> Vec<PathBuf> {
        match self {
            Self::List(paths) => paths,
            Self::Commas(text) => {
                text.split(',').filter(|p| !p.is_empty()).map(PathBuf::from).collect()
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    certificate: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    mode: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    thumbprint_header: Option<String>,
    dn_header: Option<String>,
    certificate_header: Option<String>,
}

/// TLS certificate and key files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, PEM.
    pub certificate: PathBuf,
    /// Private key, PKCS#8 PEM.
    pub key: PathBuf,
}

/// The callback settings (§1.5, §1.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackConfig {
    /// The client certificate and key of outbound callbacks (`callback_client_certificate`,
    /// `callback_client_key`).
    pub client: Option<TlsFiles>,
    /// Wait before a failed callback is tried again, seconds (`callback_retry_wait_seconds`).
    pub retry_wait_seconds: u64,
    /// Longest wait between callback runs, seconds (`callback_interval_seconds`).
    pub interval_seconds: u64,
    /// Which receiver certificates callbacks accept (`callback_receiver_trust`).
    pub receiver_trust: crate::callback::ReceiverTrust,
    /// Whether callbacks may go to `localhost` names and to hosts that are or resolve to
    /// internal addresses (`allow_private_callback_hosts`).
    pub allow_private_hosts: bool,
    /// The HTTP proxy callbacks go through (`callback_proxy`), if any.
    pub proxy: Option<crate::callback::HttpProxy>,
}

/// At-rest protection of stored key payloads (§6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtRestConfig {
    /// The key that seals new rows (`at_rest_key_file`); `None` only when the operator set
    /// `at_rest_encryption = false`, and new rows are stored unencrypted.
    pub key_file: Option<PathBuf>,
    /// Older keys, to read rows sealed with them (`at_rest_previous_key_files`).
    pub previous_key_files: Vec<PathBuf>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Listening address.
    pub listen: SocketAddr,
    /// The internal listener's address (`/health`, `/metrics`, `/openapi.json`); `None` is off.
    pub internal_listen: Option<SocketAddr>,
    /// `sqlite:…` or `postgres://…`.
    pub database: String,
    /// The trust anchor's certificate.
    pub anchor_certificate: PathBuf,
    /// Oldest date served, in days before today.
    pub max_age_days: i64,
    /// Retention, in days.
    pub retention_days: i64,
    /// Retention of the upload and download statistics, in days.
    pub statistics_retention_days: i64,
    /// Whether a 207 rolls the upload back (EFGS) or stores the valid keys.
    pub store_valid_keys: bool,
    /// Batching interval, seconds.
    pub batching_interval_seconds: u64,
    /// In-process TLS; `None` behind a TLS-terminating proxy.
    pub tls: Option<TlsFiles>,
    /// Callbacks (the `callback_*` and `allow_private_callback_hosts` settings).
    pub callback: CallbackConfig,
    /// At-rest protection of the stored keys (the `at_rest_*` settings).
    pub at_rest: AtRestConfig,
    /// How callers are identified.
    pub auth: crate::identity::AuthMode,
}

/// The environment prefix: `HERALD_GATEWAY_<NAME>`, `HERALD_GATEWAY_<TABLE>__<NAME>`.
pub(crate) const PREFIX: &str = "HERALD_GATEWAY_";

impl GatewayConfig {
    /// Parses TOML, applies the `HERALD_GATEWAY_*` overrides among `env` (a list of (name,
    /// value) pairs, normally `std::env::vars()`), and validates.
    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut raw: Raw = herald_service::config::parse_with_env(text, PREFIX, env)?;
        let callback = callback_config(&raw)?;
        // Checked last, so that a config missing only the key file says so.
        let at_rest = at_rest_config(&mut raw);
        let listen = raw.listen.take().unwrap_or_else(|| "0.0.0.0:8443".into());
        let listen: SocketAddr = listen.parse().map_err(|_| {
            ConfigError::invalid("listen", format!("must be ip:port, got {listen:?}"))
        })?;
        // An empty HERALD_GATEWAY_INTERNAL_LISTEN turns off what the file turns on.
        let internal_listen = match raw.internal_listen.take() {
            None => None,
            Some(text) if text.is_empty() => None,
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
                ConfigError::invalid("internal_listen", format!("must be ip:port, got {text:?}"))
            })?),
        };
        herald_service::config::check_listeners(listen, internal_listen)?;
        let database =
            raw.database.take().ok_or_else(|| ConfigError::invalid("database", "is required"))?;
        let anchor_certificate = raw
            .anchor_certificate
            .take()
            .ok_or_else(|| ConfigError::invalid("anchor_certificate", "is required"))?;
        let max_age_days = in_range("max_age_days", raw.max_age_days.unwrap_or(2), 0..=30)?;
        let retention_days = in_range("retention_days", raw.retention_days.unwrap_or(2), 0..=30)?;
        let statistics_retention_days = in_range(
            "statistics_retention_days",
            raw.statistics_retention_days.unwrap_or(30),
            0..=3650,
        )?;
        let upload_mode = raw.upload_mode.take().unwrap_or_else(|| "efgs".into());
        let store_valid_keys = match upload_mode.as_str() {
            "efgs" => false,
            "store-valid" => true,
            other => {
                return Err(ConfigError::invalid(
                    "upload_mode",
                    format!("must be \"efgs\" or \"store-valid\", got {other:?}"),
                ));
            }
        };
        let batching_interval_seconds = in_range(
            "batching_interval_seconds",
            raw.batching_interval_seconds.unwrap_or(300),
            1..=3600,
        )?;
        let auth = auth_config(raw.auth)?;
        let tls = raw.tls.map(|t| TlsFiles { certificate: t.certificate, key: t.key });
        if tls.is_none() && auth == crate::identity::AuthMode::Mtls {
            return Err(ConfigError::invalid("auth.mode", "\"mtls\" needs a [tls] table"));
        }
        Ok(Self {
            listen,
            internal_listen,
            database,
            anchor_certificate,
            max_age_days,
            retention_days,
            statistics_retention_days,
            store_valid_keys,
            batching_interval_seconds,
            tls,
            callback,
            at_rest: at_rest?,
            auth,
        })
    }
}

/// The `[auth]` table.
fn auth_config(auth: Option<RawAuth>) -> Result<crate::identity::AuthMode, ConfigError> {
    let auth = auth.unwrap_or(RawAuth {
        mode: None,
        trusted_proxies: None,
        thumbprint_header: None,
        dn_header: None,
        certificate_header: None,
    });
    let mode = match auth.mode.as_deref().unwrap_or("mtls") {
        "mtls" => crate::identity::AuthMode::Mtls,
        "proxy" => {
            let trusted = auth
                .trusted_proxies
                .unwrap_or_default()
                .iter()
                .map(|a| {
                    a.parse::<IpAddr>().map_err(|_| {
                        ConfigError::invalid(
                            "auth.trusted_proxies",
                            format!("{a:?} is not an IP address"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if trusted.is_empty() {
                return Err(ConfigError::invalid("auth.mode", "\"proxy\" needs trusted_proxies"));
            }
            crate::identity::AuthMode::Proxy {
                trusted,
                thumbprint_header: auth
                    .thumbprint_header
                    .unwrap_or_else(|| "X-SSL-Client-SHA256".into()),
                dn_header: auth.dn_header.unwrap_or_else(|| "X-SSL-Client-DN".into()),
                certificate_header: match auth.certificate_header {
                    None => Some("X-SSL-Client-Cert".into()),
                    Some(name) if name.is_empty() => None,
                    Some(name) => Some(name),
                },
            }
        }
        other => {
            return Err(ConfigError::invalid(
                "auth.mode",
                format!("must be \"mtls\" or \"proxy\", got {other:?}"),
            ));
        }
    };
    Ok(mode)
}

/// The at-rest settings: a key file is required unless encryption is switched off explicitly.
fn at_rest_config(raw: &mut Raw) -> Result<AtRestConfig, ConfigError> {
    let key_file = raw.at_rest_key_file.take();
    let previous_key_files =
        raw.at_rest_previous_key_files.take().map(PathList::into_paths).unwrap_or_default();
    match (raw.at_rest_encryption, &key_file) {
        (Some(true) | None, None) => Err(ConfigError::invalid(
            "at_rest_key_file",
            "is required: stored keys are encrypted at rest (a file with 32 \
             random bytes, Base64 or hex, e.g. `openssl rand -base64 32`); set \
             at_rest_encryption = false to store them unencrypted",
        )),
        (Some(false), Some(_)) => Err(ConfigError::invalid(
            "at_rest_key_file",
            "is set but at_rest_encryption = false: remove one of them",
        )),
        _ => Ok(AtRestConfig { key_file, previous_key_files }),
    }
}

/// The callback settings of the configuration.
fn callback_config(raw: &Raw) -> Result<CallbackConfig, ConfigError> {
    let callback_retry_wait_seconds = in_range(
        "callback_retry_wait_seconds",
        raw.callback_retry_wait_seconds.unwrap_or(300),
        1..=86_400,
    )?;
    let callback_interval_seconds = in_range(
        "callback_interval_seconds",
        raw.callback_interval_seconds.unwrap_or(60),
        1..=3600,
    )?;
    let callback_receiver_trust = match raw.callback_receiver_trust.as_deref().unwrap_or_default() {
        "" | "callback" => crate::callback::ReceiverTrust::Callback,
        "efgs" => crate::callback::ReceiverTrust::EfgsCompatible,
        other => {
            return Err(ConfigError::invalid(
                "callback_receiver_trust",
                format!("must be \"callback\" or \"efgs\", got {other:?}"),
            ));
        }
    };
    let callback_client =
        match (raw.callback_client_certificate.clone(), raw.callback_client_key.clone()) {
            (Some(certificate), Some(key)) => Some(TlsFiles { certificate, key }),
            (None, None) => None,
            _ => {
                return Err(ConfigError::invalid(
                    "callback_client_certificate",
                    "and callback_client_key go together",
                ));
            }
        };
    let proxy = match raw.callback_proxy.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            crate::callback::HttpProxy::parse(text)
                .map_err(|reason| ConfigError::invalid("callback_proxy", reason))?,
        ),
    };
    Ok(CallbackConfig {
        client: callback_client,
        retry_wait_seconds: callback_retry_wait_seconds,
        interval_seconds: callback_interval_seconds,
        receiver_trust: callback_receiver_trust,
        allow_private_hosts: raw.allow_private_callback_hosts.unwrap_or(false),
        proxy,
    })
}

/// Test helpers: environment lists.
#[cfg(test)]
pub(crate) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// No environment overrides.
#[cfg(test)]
pub(crate) fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses() {
        let c = GatewayConfig::from_toml(EXAMPLE, no_env()).unwrap();
        assert_eq!(c.max_age_days, 2);
        assert_eq!(c.auth, crate::identity::AuthMode::Mtls);
        assert!(!c.callback.allow_private_hosts);
        assert_eq!(c.callback.retry_wait_seconds, 300);
        assert_eq!(c.callback.receiver_trust, crate::callback::ReceiverTrust::Callback);
        assert_eq!(c.callback.client, None);
        assert_eq!(c.callback.proxy, None);
        assert_eq!(c.internal_listen, None);
        assert_eq!(c.statistics_retention_days, 30);
        // Every commented-out setting of the example is a valid setting too.
        let uncommented: String = EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") && !rest.starts_with("database") => rest,
                _ => l,
            })
            .flat_map(|l| [l, "\n"])
            .collect();
        let all = GatewayConfig::from_toml(&uncommented, no_env()).unwrap();
        assert_eq!(all.internal_listen, Some("127.0.0.1:9464".parse().unwrap()));
        let proxy = all.callback.proxy.unwrap();
        assert_eq!((proxy.host.as_str(), proxy.port), ("proxy.internal", 3128));
        assert!(all.callback.client.is_some());
        let c = GatewayConfig::from_toml(
            EXAMPLE,
            env(&[("HERALD_GATEWAY_INTERNAL_LISTEN", "127.0.0.1:0")]),
        )
        .unwrap();
        assert_eq!(c.internal_listen, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(c.at_rest.key_file, Some(PathBuf::from("/etc/herald/at-rest.key")));
        assert!(c.at_rest.previous_key_files.is_empty());
        let c = GatewayConfig::from_toml(
            EXAMPLE,
            env(&[("HERALD_GATEWAY_DATABASE", "postgres://x/y")]),
        )
        .unwrap();
        assert_eq!(c.database, "postgres://x/y");
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        for (toml, needle) in [
            ("database = 1", "configuration"),
            ("nonsense = 1\ndatabase = \"x\"", "unknown field"),
            ("anchor_certificate = \"a\"", "database is required"),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\nlisten = \"nowhere\"\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "listen",
            ),
            ("database = \"x\"\nanchor_certificate = \"a\"", "needs a [tls] table"),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\n[auth]\nmode = \"proxy\"",
                "needs trusted_proxies",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\nupload_mode = \"yolo\"\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "upload_mode",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\ncallback_client_key = \"k\"\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "go together",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\ncallback_retry_wait_seconds = 0\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "callback_retry_wait_seconds",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\ncallback_receiver_trust = \"any\"\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "callback_receiver_trust",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\nmax_age_days = 99\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "max_age_days",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\ninternal_listen = \"9464\"\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "internal_listen",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\nlisten = \"127.0.0.1:9\"\ninternal_listen = \"127.0.0.1:9\"\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "must differ",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\nstatistics_retention_days = -1\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "statistics_retention_days",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\ncallback_proxy = \"https://p:1\"\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "callback_proxy",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\ncallback_proxy = \"http://u:p@proxy:3128\"\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "callback_proxy",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "at_rest_key_file is required",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\nat_rest_encryption = true\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "at_rest_key_file is required",
            ),
            (
                "database = \"x\"\nanchor_certificate = \"a\"\nat_rest_encryption = false\nat_rest_key_file = \"k\"\n[tls]\ncertificate=\"c\"\nkey=\"k\"",
                "remove one",
            ),
        ] {
            let err = GatewayConfig::from_toml(toml, no_env()).unwrap_err().to_string();
            assert!(err.contains(needle), "{toml}: {err}");
        }
    }
}

#[cfg(test)]
mod at_rest_tests {
    use super::*;

    const BASE: &str =
        "database = \"x\"\nanchor_certificate = \"a\"\n[tls]\ncertificate=\"c\"\nkey=\"k\"\n";

    #[test]
    fn at_rest_settings_from_file_and_environment() {
        let plain =
            GatewayConfig::from_toml(&format!("at_rest_encryption = false\n{BASE}"), no_env())
                .unwrap();
        assert_eq!(plain.at_rest, AtRestConfig { key_file: None, previous_key_files: vec![] });

        let c = GatewayConfig::from_toml(
            BASE,
            env(&[
                ("HERALD_GATEWAY_AT_REST_KEY_FILE", "/k/new.key"),
                ("HERALD_GATEWAY_AT_REST_PREVIOUS_KEY_FILES", "/k/a.key,/k/b.key"),
            ]),
        )
        .unwrap();
        assert_eq!(c.at_rest.key_file, Some(PathBuf::from("/k/new.key")));
        assert_eq!(
            c.at_rest.previous_key_files,
            [PathBuf::from("/k/a.key"), PathBuf::from("/k/b.key")]
        );
        let error =
            GatewayConfig::from_toml(BASE, env(&[("HERALD_GATEWAY_AT_REST_ENCRYPTION", "no")]))
                .unwrap_err();
        assert!(error.to_string().contains("at_rest_encryption"), "{error}");
    }
}
