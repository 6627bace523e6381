//! `herald exchange`: the health-sector security information exchange (TAXII 2.1 over STIX 2.1,
//! TLP 2.0 enforced).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use herald_exchange::api::{Clock as _, IdSource};
use herald_exchange::app::ExchangeServer;
use herald_exchange::config::{EXAMPLE, ExchangeConfig};
use herald_exchange::dev;
use herald_model::Clock as _;

use crate::dev_files::UrlFiles;

/// The exchange's commands.
#[derive(Debug, Subcommand)]
pub(crate) enum ExchangeCommand {
    /// Serve the TAXII 2.1 API (`/taxii2/`, API root `/taxii2/health/`).
    Serve(ServeArgs),
    /// Print a commented configuration file.
    ConfigExample,
    /// Organisations: add, list, disable, enable, and their mTLS client certificates.
    #[command(subcommand)]
    Org(crate::exchange_admin::OrgCommand),
    /// Collections: add, and grant organisations read or write rights.
    #[command(subcommand)]
    Collection(crate::exchange_admin::CollectionCommand),
    /// API tokens: issue (shown once, stored hashed) and revoke.
    #[command(subcommand)]
    Token(crate::exchange_admin::TokenCommand),
    /// The hash-chained audit log.
    #[command(subcommand)]
    Audit(crate::exchange_admin::AuditCommand),
    /// The mandatory track's incidents of every organisation and their reporting clocks
    /// (`--due`: only what is due or overdue).
    Incidents(crate::exchange_tracks::IncidentsArgs),
    /// Receipts: verify one (as a reporter would, with the exchange's public key), or make
    /// the signing key.
    #[command(subcommand)]
    Receipt(crate::exchange_tracks::ReceiptCommand),
}

/// `herald exchange serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The configuration file (production; `HERALD_EXCHANGE_*` variables override it).
    #[arg(long, value_name = "FILE", conflicts_with = "dev", required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// Development mode on the shared dev folder: creates what DIR/exchange lacks (TLS
    /// certificate from DIR/ca.pem, keys, exchange.db, the organisations cert, hospital-a/b/c
    /// and vendor-x with their API tokens in DIR/exchange/orgs/<org>/token, the collections
    /// sector, advisories and cert-inbox) and writes DIR/exchange/url once listening.
    #[arg(long, value_name = "DIR")]
    dev: Option<PathBuf>,
    /// Listening address in dev mode (default 127.0.0.1 and a free port).
    #[arg(long, value_name = "ADDR:PORT", requires = "dev")]
    listen: Option<SocketAddr>,
}

/// The wall clock in microseconds (TAXII's date_added precision).
pub(crate) struct SystemMicros;

impl herald_exchange::api::Clock for SystemMicros {
    fn now_us(&self) -> i64 {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        i64::try_from(micros).unwrap_or(i64::MAX)
    }
}

/// Random status ids from the operating system.
fn os_ids() -> Result<IdSource> {
    use rand::Rng as _;
    let mut rng = crate::os_rng()?;
    Ok(Box::new(move || {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        bytes
    }))
}

pub(crate) async fn run(cmd: ExchangeCommand) -> Result<()> {
    match cmd {
        ExchangeCommand::ConfigExample => {
            print!("{EXAMPLE}");
            Ok(())
        }
        ExchangeCommand::Serve(args) => serve(args).await,
        ExchangeCommand::Org(cmd) => crate::exchange_admin::run_org(cmd).await,
        ExchangeCommand::Collection(cmd) => crate::exchange_admin::run_collection(cmd).await,
        ExchangeCommand::Token(cmd) => crate::exchange_admin::run_token(cmd).await,
        ExchangeCommand::Audit(cmd) => crate::exchange_admin::run_audit(cmd).await,
        ExchangeCommand::Incidents(args) => crate::exchange_tracks::incidents(args).await,
        ExchangeCommand::Receipt(cmd) => crate::exchange_tracks::receipt(&cmd),
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let clock = Arc::new(SystemMicros);
    let config = match (&args.config, &args.dev) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            ExchangeConfig::from_toml(&text, std::env::vars())?
        }
        (None, Some(dir)) => dev::prepare(dir, args.listen, crate::SystemClock.now())?,
        (None, None) => anyhow::bail!("give --config <FILE> or --dev <DIR>"),
    };
    let server = ExchangeServer::build(&config, clock.clone(), os_ids()?).await?;
    if let Some(dir) = &args.dev {
        let exchange = server.exchange();
        dev::seed(&exchange.store, dir, &exchange.token_key, clock.now_us()).await?;
    }
    let addr = server.local_addr().context("the listener has no address")?;
    let scheme = if server.tls() { "https" } else { "http" };
    // The dev certificate names localhost and 127.0.0.1; the url uses the name.
    let host = if addr.ip().is_loopback() { "localhost".to_owned() } else { addr.ip().to_string() };
    let url = format!("{scheme}://{host}:{}", addr.port());
    let internal_url = server.internal_addr().map(|a| format!("http://{a}"));
    let dev_dir = args.dev.as_deref().map(dev::exchange_dir);
    let files = UrlFiles::write(dev_dir.as_deref(), &url, internal_url.as_deref())?;
    eprintln!(
        "herald exchange listening on {url} (TAXII 2.1 discovery {url}/taxii2/, {} storage)",
        server.exchange().store.backend()
    );
    if let Some(internal_url) = &internal_url {
        eprintln!(
            "herald exchange internal listener on {internal_url} (/health, /metrics, /openapi.json)"
        );
    }
    server.run_until_stopped(crate::gateway_cmd::shutdown_signal()).await;
    files.remove();
    eprintln!("herald exchange stopped");
    Ok(())
}
