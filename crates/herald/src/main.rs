//! `herald`: the one binary. Parses the command line, reads files, wires the pure crates
//! together and prints results. All behaviour lives in the library crates; this crate owns I/O,
//! the system clock and the OS random number generator.

mod bench;
mod demo;
mod dev_files;
mod efgs_client_cmd;
mod efgs_cmd;
mod exchange_admin;
mod exchange_cmd;
mod exchange_tracks;
mod export_cmd;
mod gaen_cmd;
mod gateway_cmd;
mod keyserver_cmd;
mod match_cmd;
mod pki_cmd;
mod verifier_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use herald_model::{Clock, UnixTime};

/// herald: secure, privacy-preserving infrastructure for cross-border exposure notification.
#[derive(Debug, Parser)]
#[command(name = "herald", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A continent in one command: the gateway, and per country a verification service and a
    /// key server, over real HTTPS, driven by a simulated population of phones through an
    /// epidemic; writes an HTML report.
    Demo(demo::DemoArgs),
    /// Phone-side GAEN key schedule: fresh TEKs, RPIs and AEMs.
    #[command(subcommand)]
    Gaen(gaen_cmd::GaenCommand),
    /// Match diagnosis keys against a phone's sightings and score the exposures (v2 and v1).
    Match(match_cmd::MatchArgs),
    /// Build, inspect and verify GAEN export files (export.bin + export.sig in a zip).
    #[command(subcommand)]
    Export(export_cmd::ExportCommand),
    /// Sign and verify EFGS key batches (canonical signed bytes, detached CMS).
    #[command(subcommand)]
    Efgs(efgs_cmd::EfgsCommand),
    /// The EFGS-compatible federation gateway: serve it, configure it, manage its trust list.
    #[command(subcommand)]
    Gateway(gateway_cmd::GatewayCommand),
    /// The national key server: ENS publish API, signed export files, federation client.
    #[command(subcommand)]
    Keyserver(keyserver_cmd::KeyserverCommand),
    /// The verification service: codes for health authorities, tokens and certificates for
    /// apps.
    #[command(subcommand)]
    Verifier(verifier_cmd::VerifierCommand),
    /// The health-sector security information exchange: TAXII 2.1 over STIX 2.1, TLP 2.0
    /// enforced.
    #[command(subcommand)]
    Exchange(exchange_cmd::ExchangeCommand),
    /// The development PKI: CA, server, client, signing and trust-anchor certificates.
    #[command(subcommand)]
    Pki(pki_cmd::PkiCommand),
    /// Measure herald's speed on this machine.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// The wall clock; the only place below `main` that reads system time.
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        UnixTime(i64::try_from(secs).unwrap_or(i64::MAX))
    }
}

/// A CSPRNG seeded from the operating system, or an error if the OS cannot provide entropy.
fn os_rng() -> anyhow::Result<rand::rngs::StdRng> {
    use rand::SeedableRng as _;
    rand::rngs::StdRng::try_from_rng(&mut rand::rngs::SysRng)
        .map_err(|e| anyhow::anyhow!("the operating system's random number generator failed: {e}"))
}

/// Runs an async command on a multi-threaded runtime.
fn run_async(future: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?
        .block_on(future)
}

/// Logs to stderr, filtered by `RUST_LOG` (default: `default`).
fn init_tracing(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn main() -> ExitCode {
    // The whole graph carries exactly one rustls crypto provider: aws-lc-rs.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            // One line: clap's message up to its usage block, which names the argument and what
            // was wrong.
            let rendered = e.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                .collect();
            eprintln!("{} (see --help)", message.join(" "));
            return ExitCode::from(2);
        }
    };
    // Services log their work at `info`; the demo and the benches run them at once and show
    // progress bars instead, so they log only warnings.
    init_tracing(match cli.command {
        Command::Demo(_) | Command::Bench(_) => "warn",
        _ => "warn,herald_gateway=info,herald_keyserver=info,herald_verifier=info",
    });
    let result = match cli.command {
        Command::Gaen(cmd) => gaen_cmd::run(cmd),
        Command::Match(args) => match_cmd::run(&args, &SystemClock),
        Command::Export(cmd) => export_cmd::run(cmd),
        Command::Efgs(cmd) => efgs_cmd::run(cmd),
        Command::Pki(cmd) => pki_cmd::run(cmd),
        Command::Gateway(cmd) => run_async(gateway_cmd::run(cmd)),
        Command::Keyserver(cmd) => run_async(keyserver_cmd::run(cmd)),
        Command::Verifier(cmd) => run_async(verifier_cmd::run(cmd)),
        Command::Exchange(cmd) => run_async(exchange_cmd::run(cmd)),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Demo(args) => demo::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
