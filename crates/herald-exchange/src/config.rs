//! The exchange's configuration: a TOML file plus environment overrides
//! (`HERALD_EXCHANGE_<NAME>` for a top-level setting, `HERALD_EXCHANGE_<TABLE>__<NAME>` inside a
//! table), validated at load time. Secrets are files named here, never values in the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use herald_service::config::{ConfigError, TlsFiles, in_range};
use serde::Deserialize;

/// A commented example (`herald exchange config-example`).
pub const EXAMPLE: &str = r#"# herald exchange: the health sector's TAXII 2.1 server.
# Every setting can also be given by environment variable: HERALD_EXCHANGE_<NAME> at the top
# level, HERALD_EXCHANGE_<TABLE>__<NAME> inside a table (e.g. HERALD_EXCHANGE_LIMITS__MAX_OBJECTS).

listen = "0.0.0.0:8445"
# The internal listener (plain HTTP, never for clients): /health, /metrics, /openapi.json.
# internal_listen = "127.0.0.1:9445"
# SQLite file (default backend) or postgres://user@host/db. Several instances may share one
# PostgreSQL database: cursors are stateless, given the same cursor key.
database = "sqlite:/var/lib/herald/exchange/exchange.db"
# Keys of 64 hex digits: the cursor key authenticates TAXII `next` cursors (give every instance
# the same one); the token key keys the stored hashes of the organisations' API tokens.
cursor_key_file = "/etc/herald/exchange/cursor.key"
token_key_file = "/etc/herald/exchange/token.key"
# The Ed25519 key that signs the receipt of every submission on the reporting tracks (PKCS#8
# PEM, mode 0600; `herald exchange receipt keygen` writes one and its public key, which
# reporters use with `herald exchange receipt verify` or `openssl pkeyutl -verify`).
receipt_key_file = "/etc/herald/exchange/receipt-signing.key.pem"
# The title of the discovery resource and the API root.
title = "Health sector exchange"
# The largest page of objects (also the page when a client gives no limit).
page_max = 1000
# The largest POST body in bytes (TAXII max_content_length; larger ones get 413).
max_content_length = 10485760

# mTLS: organisations may also authenticate with a client certificate issued by one of the CA
# certificates in this PEM file, once `herald exchange org cert add` registered it to them
# (needs [tls]).
# client_ca_file = "/etc/herald/exchange/client-ca.pem"

# In-process TLS (leave out behind a TLS-terminating proxy).
[tls]
certificate = "/etc/herald/exchange/server.pem"
key = "/etc/herald/exchange/server.key.pem"

# What one POST and one object may hold; each is refused with its name when exceeded.
[limits]
max_objects = 10000        # objects in one envelope or bundle
max_depth = 32             # nesting of arrays and objects inside one object
max_string_bytes = 1048576 # one string
max_list_len = 10000       # one array or JSON object
"#;

/// The exchange's settings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    /// The TAXII listener.
    pub listen: SocketAddr,
    /// The internal listener (`/health`, `/metrics`, `/openapi.json`).
    pub internal_listen: Option<SocketAddr>,
    /// `sqlite:…` or `postgres://…`.
    pub database: String,
    /// The key that authenticates cursors (64 hex digits in a file).
    pub cursor_key_file: PathBuf,
    /// The key of the stored API-token hashes (64 hex digits in a file).
    pub token_key_file: PathBuf,
    /// The receipts' Ed25519 signing key (PKCS#8 PEM).
    pub receipt_key_file: PathBuf,
    /// Discovery and API root title.
    #[serde(default = "default_title")]
    pub title: String,
    /// The largest page.
    #[serde(default = "default_page_max")]
    pub page_max: u32,
    /// The largest POST body.
    #[serde(default = "default_max_content_length")]
    pub max_content_length: u64,
    /// In-process TLS.
    pub tls: Option<TlsFiles>,
    /// CA certificates (PEM) whose client certificates the listener takes (mTLS).
    pub client_ca_file: Option<PathBuf>,
    /// Bounds on posts and objects.
    #[serde(default)]
    pub limits: LimitSettings,
}

herald_service::defaults! {
    fn default_title() -> String = "Health sector exchange".into();
    fn default_page_max() -> u32 = 1000;
    fn default_max_content_length() -> u64 = 10 << 20;
}

/// `[limits]`, as [`herald_stix::json::Limits`].
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Objects in one POST.
    pub max_objects: usize,
    /// Nesting inside one object.
    pub max_depth: usize,
    /// Bytes of one string.
    pub max_string_bytes: usize,
    /// Entries of one array or object.
    pub max_list_len: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        let l = herald_stix::json::Limits::default();
        Self {
            max_objects: l.max_objects,
            max_depth: l.max_depth,
            max_string_bytes: l.max_string_bytes,
            max_list_len: l.max_list_len,
        }
    }
}

impl LimitSettings {
    /// As the validator takes them.
    pub fn limits(self) -> herald_stix::json::Limits {
        herald_stix::json::Limits {
            max_objects: self.max_objects,
            max_depth: self.max_depth,
            max_string_bytes: self.max_string_bytes,
            max_list_len: self.max_list_len,
        }
    }
}

impl ExchangeConfig {
    /// Parses a file's text with the `HERALD_EXCHANGE_*` overrides among `env`, and validates.
    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        herald_service::config::parse_validated(text, "HERALD_EXCHANGE_", env, Self::validate)
    }

    /// Checks every setting's range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("page_max", self.page_max, 1..=10_000)?;
        in_range("max_content_length", self.max_content_length, 1024..=1 << 30)?;
        in_range("limits.max_objects", self.limits.max_objects, 1..=100_000)?;
        in_range("limits.max_depth", self.limits.max_depth, 4..=128)?;
        in_range("limits.max_string_bytes", self.limits.max_string_bytes, 256..=1 << 26)?;
        in_range("limits.max_list_len", self.limits.max_list_len, 16..=1_000_000)?;
        herald_service::config::check_listeners(self.listen, self.internal_listen)?;
        if self.client_ca_file.is_some() && self.tls.is_none() {
            return Err(ConfigError::invalid("client_ca_file", "client certificates need [tls]"));
        }
        if self.title.trim().is_empty() {
            return Err(ConfigError::invalid("title", "must not be empty"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses_and_the_environment_overrides_it() {
        let c = ExchangeConfig::from_toml(EXAMPLE, []).unwrap();
        assert_eq!(c.page_max, 1000);
        assert_eq!(c.limits, LimitSettings::default());
        let env = [("HERALD_EXCHANGE_LIMITS__MAX_OBJECTS".to_owned(), "50".to_owned())];
        assert_eq!(ExchangeConfig::from_toml(EXAMPLE, env).unwrap().limits.max_objects, 50);
        let env = [("HERALD_EXCHANGE_PAGE_MAX".to_owned(), "0".to_owned())];
        assert!(
            ExchangeConfig::from_toml(EXAMPLE, env).unwrap_err().to_string().contains("page_max")
        );
        let bad = format!("{EXAMPLE}\nsurprise = 1\n");
        assert!(ExchangeConfig::from_toml(&bad, []).is_err());
    }
}
