//! What a service started with `--dev` writes into its folder of the dev world once it listens
//! (specs/dev-world.md): `internal-url` (its internal listener: `/health`, `/metrics`,
//! `/openapi.json`), then `url`, so that a tool waiting for `url` finds both; both are removed
//! on a clean stop.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use herald_model::CountryCode;

/// The help of `--config` and `--dev` where a national service's command takes them: each
/// command words them for what it does with the file or the folder.
pub(crate) trait SourceHelp {
    /// The help of `--config FILE`.
    const CONFIG: &'static str;
    /// The help of `--dev DIR`.
    const DEV: &'static str;
}

/// Declares a [`SourceHelp`]: `source_help!(Name, config: "…", dev: "…")` with the help of
/// `--config` and `--dev` (one paragraph each, without a final period, as clap shows a doc
/// comment).
macro_rules! source_help {
    ($(#[$doc:meta])* $name:ident, config: $config:expr, dev: $dev:expr $(,)?) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub(crate) enum $name {}

        impl $crate::dev_files::SourceHelp for $name {
            const CONFIG: &'static str = $config;
            const DEV: &'static str = $dev;
        }
    };
}

pub(crate) use source_help;

/// Which national service (key server, verifier) a command runs or manages: `--config FILE` in
/// production, `--dev DIR --country CC` on the dev world; `H` words the help.
#[derive(Debug, clap::Args)]
pub(crate) struct ConfigSource<H: SourceHelp> {
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "dev",
        required_unless_present = "dev",
        help = H::CONFIG
    )]
    config: Option<PathBuf>,
    #[arg(long, value_name = "DIR", requires = "country", help = H::DEV)]
    dev: Option<PathBuf>,
    /// The country (dev mode).
    #[arg(long, value_name = "CC")]
    country: Option<String>,
    #[arg(skip)]
    help: PhantomData<H>,
}

/// Where a [`ConfigSource`] points.
#[derive(Debug)]
pub(crate) enum Source<'a> {
    /// `--config FILE`.
    File(&'a Path),
    /// `--dev DIR --country CC`.
    Dev(&'a Path, CountryCode),
}

impl<H: SourceHelp> ConfigSource<H> {
    /// The file, or the dev folder with its country.
    pub(crate) fn source(&self) -> Result<Source<'_>> {
        Ok(match (&self.config, &self.dev) {
            (Some(path), _) => Source::File(path),
            (None, Some(dir)) => Source::Dev(dir, dev_country(self.country.as_deref())?),
            (None, None) => bail!("give --config <FILE> or --dev <DIR> --country <CC>"),
        })
    }
}

/// `serve`'s arguments for a national service: where its configuration comes from, and the
/// dev-mode options.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs<H: SourceHelp> {
    #[command(flatten)]
    pub(crate) source: ConfigSource<H>,
    #[command(flatten)]
    pub(crate) dev_options: DevOptions,
}

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

impl DevOptions {
    /// `--database`, when given, in place of the dev configuration's `database`.
    pub(crate) fn override_database(&self, database: &mut String) {
        if let Some(given) = &self.database {
            database.clone_from(given);
        }
    }
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

/// Reads a service's configuration file (`--config FILE`) and parses it with the process
/// environment's overrides; an error names the file.
pub(crate) fn load_config<T, E>(
    path: &Path,
    parse: impl FnOnce(&str, std::env::Vars) -> Result<T, E>,
) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration {}", path.display()))?;
    parse(&text, std::env::vars()).with_context(|| path.display().to_string())
}

/// The `--country` of a dev-mode command.
pub(crate) fn dev_country(country: Option<&str>) -> Result<CountryCode> {
    country
        .unwrap_or_default()
        .parse()
        .context("--country must be an upper-case ISO 3166-1 alpha-2 code")
}

/// A service that listens: its URLs, announced on stderr and, in dev mode, in its folder.
#[derive(Debug)]
pub(crate) struct Listening {
    /// The public listener's URL.
    pub(crate) url: String,
    internal_url: Option<String>,
    written: UrlFiles,
}

impl Listening {
    /// The URLs of the listeners at `addr` (HTTPS when `tls`) and `internal`, written into
    /// `dev_dir` when there is one.
    pub(crate) fn start(
        dev_dir: Option<&Path>,
        addr: Option<SocketAddr>,
        tls: bool,
        internal: Option<SocketAddr>,
    ) -> Result<Self> {
        let addr = addr.context("the listener has no address")?;
        let url = format!("{}://{addr}", if tls { "https" } else { "http" });
        let internal_url = internal.map(|addr| format!("http://{addr}"));
        let written = UrlFiles::write(dev_dir, &url, internal_url.as_deref())?;
        Ok(Self { url, internal_url, written })
    }

    /// Tells the operator where the internal listener is.
    pub(crate) fn announce_internal(&self, service: &str) {
        if let Some(internal_url) = &self.internal_url {
            eprintln!(
                "herald {service} internal listener on {internal_url} (/health, /metrics, /openapi.json)"
            );
        }
    }

    /// After a clean stop: the dev files removed, the stop told.
    pub(crate) fn stopped(self, service: &str) {
        self.written.remove();
        eprintln!("herald {service} stopped");
    }
}
