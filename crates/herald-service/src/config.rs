//! Configuration files with environment overrides: `<PREFIX><NAME>` sets a top-level setting,
//! `<PREFIX><TABLE>__<NAME>` one inside a table (e.g. `HERALD_KEYSERVER_EXPORT__DIRECTORY`).
//! A value is read as TOML when it is one (`7`, `true`, `["a"]`), else as a string.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use serde::Deserialize;

/// Why a service's configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not TOML, or an unknown or mistyped setting.
    #[error("configuration: {0}")]
    Toml(String),
    /// A setting is out of range, missing or inconsistent (or an override names a setting
    /// inside something that is not a table), or a file it names is unusable.
    #[error("configuration: {setting} {problem}")]
    Invalid {
        /// The setting, as written in the file (`codes.short_minutes`, `export.signing_key`).
        setting: String,
        /// What is wrong, as a predicate of the setting ("must be in 1..=120, got 0").
        problem: String,
    },
    /// A file named in the configuration could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl ConfigError {
    /// `setting` is unusable because of `problem` (a predicate: "must be …", "needs …").
    pub fn invalid(setting: impl Into<String>, problem: impl Display) -> Self {
        Self::Invalid { setting: setting.into(), problem: problem.to_string() }
    }
}

/// The text of a file the configuration names (a key, a certificate).
pub fn read_file(path: &std::path::Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Read { path: path.display().to_string(), reason: e.to_string() })
}

/// `value` of `setting`, when it lies in `range`; else "`setting` must be in a..=b, got v".
pub fn in_range<T: PartialOrd + Display>(
    setting: &str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<T, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            setting,
            format!("must be in {}..={}, got {value}", range.start(), range.end()),
        ))
    }
}

/// A URL setting that must use `https://`.
pub fn https_url(setting: &str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("https://") {
        Ok(())
    } else {
        Err(ConfigError::invalid(setting, "must be https://"))
    }
}

/// Declares the functions that `#[serde(default = "…")]` attributes name, one line each, so
/// that a config's defaults read as a table:
///
/// ```
/// herald_service::defaults! {
///     fn default_port() -> u16 = 8443;
///     fn default_name() -> String = "herald".into();
/// }
/// assert_eq!((default_port(), default_name()), (8443, "herald".to_owned()));
/// ```
#[macro_export]
macro_rules! defaults {
    ($($(#[$meta:meta])* $vis:vis fn $name:ident() -> $ty:ty = $value:expr;)*) => {
        $($(#[$meta])* $vis fn $name() -> $ty { $value })*
    };
}

/// A TLS certificate chain and its key, as every service's `[tls]` table names them.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub certificate: PathBuf,
    /// PKCS#8 PEM key.
    pub key: PathBuf,
}

/// Parses `text` and applies the overrides among `env` (name, value) whose name starts with
/// `prefix`; the caller deserialises and validates the result.
pub fn toml_with_env(
    text: &str,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<toml::Table, ConfigError> {
    let mut table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| ConfigError::Toml(e.to_string()))?;
    for (name, value) in env {
        let Some(path) = name.strip_prefix(prefix) else { continue };
        let path: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        set_path(&mut table, &path, &value)?;
    }
    Ok(table)
}

/// A service's `country`: an upper-case ISO 3166-1 alpha-2 code, as its type.
pub fn country(text: &str) -> Result<herald_model::CountryCode, ConfigError> {
    text.parse::<herald_model::CountryCode>().ok().filter(|c| c.as_str() == text).ok_or_else(|| {
        ConfigError::invalid(
            "country",
            format!("{text:?} is not an upper-case ISO 3166-1 alpha-2 code"),
        )
    })
}

/// The internal listener must not take the public listener's address.
pub fn check_listeners(
    listen: std::net::SocketAddr,
    internal: Option<std::net::SocketAddr>,
) -> Result<(), ConfigError> {
    if internal.is_some_and(|a| a == listen && a.port() != 0) {
        return Err(ConfigError::invalid("internal_listen", "must differ from listen"));
    }
    Ok(())
}

/// [`toml_with_env`], then the result deserialised into `T`: an unknown or mistyped setting is
/// refused with its name, whether it came from the file or the environment (the merged table is
/// printed back to TOML and parsed again, so that the error quotes the setting).
pub fn parse_with_env<T: serde::de::DeserializeOwned>(
    text: &str,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    let table = toml_with_env(text, prefix, env)?;
    let merged = toml::to_string(&table).map_err(|e| ConfigError::Toml(e.to_string()))?;
    toml::from_str(&merged).map_err(|e| ConfigError::Toml(e.to_string()))
}

/// [`parse_with_env`], then `validate`: what every service's `from_toml` is.
pub fn parse_validated<T: serde::de::DeserializeOwned>(
    text: &str,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
    validate: impl FnOnce(&T) -> Result<(), ConfigError>,
) -> Result<T, ConfigError> {
    let config = parse_with_env(text, prefix, env)?;
    validate(&config)?;
    Ok(config)
}

/// Sets `path` in `table` to `value` (parsed as a TOML value when it is one, else a string).
fn set_path(table: &mut toml::Table, path: &[String], value: &str) -> Result<(), ConfigError> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut current = table;
    for p in parents {
        let entry =
            current.entry(p.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| ConfigError::invalid(format!("environment: {p}"), "is not a table"))?;
    }
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    current.insert(last.clone(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn overrides_reach_any_depth_and_keep_their_type() {
        let text = "listen = \"0.0.0.0:1\"\n[export]\ninterval = 5\n";
        let table = toml_with_env(
            text,
            "X_",
            env(&[
                ("X_LISTEN", "127.0.0.1:9"),
                ("X_EXPORT__INTERVAL", "7"),
                ("X_NEW__DEEP__FLAG", "true"),
                ("X_LIST", "[\"a\", \"b\"]"),
                ("OTHER_LISTEN", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(table["listen"].as_str(), Some("127.0.0.1:9"));
        assert_eq!(table["export"]["interval"].as_integer(), Some(7));
        assert_eq!(table["new"]["deep"]["flag"].as_bool(), Some(true));
        assert_eq!(table["list"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn a_mistyped_override_is_named() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)] // only deserialised
        struct Config {
            flag: bool,
        }
        let err = parse_with_env::<Config>("flag = true", "X_", env(&[("X_FLAG", "no")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("flag") && err.contains("boolean"), "{err}");
        let ok: Config = parse_with_env("flag = false", "X_", env(&[("X_FLAG", "true")])).unwrap();
        assert!(ok.flag);
    }

    #[test]
    fn bad_files_and_bad_paths_say_what_is_wrong() {
        assert!(matches!(toml_with_env("= nope", "X_", env(&[])), Err(ConfigError::Toml(_))));
        let err = toml_with_env("listen = \"a\"", "X_", env(&[("X_LISTEN__PORT", "1")]));
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("configuration: environment: listen is not a table".to_owned())
        );
    }
}
