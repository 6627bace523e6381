//! `herald keyserver …`: run the national key server.

use std::sync::Arc;

use anyhow::Result;
use clap::Subcommand;
use herald_keyserver::config::KeyserverConfig;
use herald_keyserver::{Keyserver, dev};
use herald_model::Clock;
use herald_service::random::Randomness;

use crate::SystemClock;
use crate::dev_files::{Listening, ServeArgs, Source, load_config, source_help};

#[derive(Debug, Subcommand)]
pub(crate) enum KeyserverCommand {
    /// Run the key server: `--config <keyserver.toml>` in production, `--dev <DIR> --country CC`
    /// for development.
    Serve(ServeArgs<KeyserverSource>),
    /// Print a commented example configuration.
    ConfigExample,
}

source_help!(
    /// The key server's `--config` and `--dev`.
    KeyserverSource,
    config: "The configuration file (TOML; every setting also as HERALD_KEYSERVER_<NAME>)",
    dev: "Development mode on the shared dev folder (see specs/dev-world.md): keys, exports and \
        SQLite under DIR/<CC>/keyserver, TLS with DIR/<CC>/server.pem, joins the gateway of \
        DIR/gateway/url, trusts the verifier of DIR/<CC>/verifier/url through its JWKS, \
        serves the exports under /exports/, and writes DIR/<CC>/keyserver/url and \
        internal-url (the internal listener's /health, /metrics and /openapi.json on a free \
        loopback port)",
);

pub(crate) async fn run(cmd: KeyserverCommand) -> Result<()> {
    match cmd {
        KeyserverCommand::ConfigExample => {
            print!("{}", herald_keyserver::config::EXAMPLE);
            Ok(())
        }
        KeyserverCommand::Serve(args) => serve(args).await,
    }
}

async fn serve(args: ServeArgs<KeyserverSource>) -> Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (config, dev_dir) = match args.source.source()? {
        Source::File(path) => (load_config(path, KeyserverConfig::from_toml)?, None),
        Source::Dev(dir, country) => {
            let mut config = dev::prepare(dir, country, args.dev_options.listen)?;
            args.dev_options.override_database(&mut config.database);
            (config, Some(dev::keyserver_dir(dir, country)))
        }
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
