//! `herald keyserver …`: run the national key server.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use herald_keyserver::config::KeyserverConfig;
use herald_keyserver::{Keyserver, dev};
use herald_model::Clock;
use herald_service::random::Randomness;

use crate::SystemClock;
use crate::dev_files::{Listening, dev_country, load_config};

#[derive(Debug, Subcommand)]
pub(crate) enum KeyserverCommand {
    /// Run the key server: `--config <keyserver.toml>` in production, `--dev <DIR> --country CC`
    /// for development.
    Serve(ServeArgs),
    /// Print a commented example configuration.
    ConfigExample,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The configuration file (TOML; every setting also as HERALD_KEYSERVER_<NAME>).
    #[arg(long, value_name = "FILE", conflicts_with = "dev", required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// Development mode on the shared dev folder (see specs/dev-world.md): keys, exports and
    /// SQLite under DIR/<CC>/keyserver, TLS with DIR/<CC>/server.pem, joins the gateway of
    /// DIR/gateway/url, trusts the verifier of DIR/<CC>/verifier/url through its JWKS, serves the
    /// exports under /exports/, and writes DIR/<CC>/keyserver/url and internal-url (the internal
    /// listener's /health, /metrics and /openapi.json on a free loopback port).
    #[arg(long, value_name = "DIR", requires = "country")]
    dev: Option<PathBuf>,
    /// The country (dev mode).
    #[arg(long, value_name = "CC")]
    country: Option<String>,
    #[command(flatten)]
    dev_options: crate::dev_files::DevOptions,
}

pub(crate) async fn run(cmd: KeyserverCommand) -> Result<()> {
    match cmd {
        KeyserverCommand::ConfigExample => {
            print!("{}", herald_keyserver::config::EXAMPLE);
            Ok(())
        }
        KeyserverCommand::Serve(args) => serve(args).await,
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (config, dev_dir) = match (&args.config, &args.dev) {
        (Some(path), _) => (load_config(path, KeyserverConfig::from_toml)?, None),
        (None, Some(dir)) => {
            let country = dev_country(args.country.as_deref())?;
            let mut config = dev::prepare(dir, country, args.dev_options.listen)?;
            if let Some(database) = &args.dev_options.database {
                config.database.clone_from(database);
            }
            (config, Some(dev::keyserver_dir(dir, country)))
        }
        (None, None) => bail!("give --config <FILE> or --dev <DIR> --country <CC>"),
    };
    let keyserver = Keyserver::build(&config, clock, Randomness::os()).await?;
    let listening = Listening::start(
        dev_dir.as_deref(),
        keyserver.local_addr(),
        config.tls.is_some(),
        keyserver.internal_addr(),
    )?;
    eprintln!(
        "herald key server {} listening on {} ({} storage, exports to {}, federation {})",
        config.country,
        listening.url,
        keyserver.store().backend(),
        keyserver.exporter().blobs().description(),
        if keyserver.federation().is_some() { "on" } else { "off" }
    );
    listening.announce_internal("key server");
    keyserver.run_until_stopped(crate::gateway_cmd::shutdown_signal()).await;
    listening.stopped("key server");
    Ok(())
}
