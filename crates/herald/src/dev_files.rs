//! What a service started with `--dev` writes into its folder of the dev world once it listens
//! (specs/dev-world.md): `internal-url` (its internal listener: `/health`, `/metrics`,
//! `/openapi.json`), then `url`, so that a tool waiting for `url` finds both; both are removed
//! on a clean stop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

/// The options of `serve --dev` every service takes besides the folder.
#[derive(Debug, clap::Args)]
pub(crate) struct DevOptions {
    /// Listening address in dev mode (default 127.0.0.1 and a free port).
    #[arg(long, value_name = "ADDR:PORT", requires = "dev")]
    pub(crate) listen: Option<SocketAddr>,
    /// Storage in dev mode instead of the service's SQLite file in the dev folder: a PostgreSQL
    /// URL (`postgres://user@host/db`) or another SQLite file.
    #[arg(long, value_name = "URL", requires = "dev")]
    pub(crate) database: Option<String>,
}

/// The files written, to remove on a clean stop.
#[derive(Debug, Default)]
pub(crate) struct UrlFiles(Vec<PathBuf>);

impl UrlFiles {
    /// Writes `DIR/internal-url` (or removes a stale one when there is no internal listener)
    /// and `DIR/url`; nothing without a folder (production).
    pub(crate) fn write(dir: Option<&Path>, url: &str, internal_url: Option<&str>) -> Result<Self> {
        let mut written = Vec::new();
        let Some(dir) = dir else { return Ok(Self(written)) };
        for (name, value) in [("internal-url", internal_url), ("url", Some(url))] {
            let file = dir.join(name);
            let Some(value) = value else {
                let _ = std::fs::remove_file(&file);
                continue;
            };
            std::fs::write(&file, value)
                .with_context(|| format!("cannot write {}", file.display()))?;
            written.push(file);
        }
        Ok(Self(written))
    }

    /// Removes what [`UrlFiles::write`] wrote.
    pub(crate) fn remove(self) {
        for file in &self.0 {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Tells the operator where the internal listener is.
pub(crate) fn announce_internal(service: &str, internal_url: Option<&str>) {
    if let Some(internal_url) = internal_url {
        eprintln!(
            "herald {service} internal listener on {internal_url} (/health, /metrics, /openapi.json)"
        );
    }
}
