//! `herald gateway …`: run the federation gateway and manage its trust list.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use herald_gateway::store::{Store, TrustRow};
use herald_gateway::{Gateway, GatewayConfig};
use herald_model::{CertThumbprint, Clock, CountryCode};
use herald_trust::{AnchorCertificate, TrustAnchor, TrustEntry, TrustKind, TrustList, layout};

use crate::SystemClock;
use crate::dev_files::{Listening, load_config};

#[derive(Debug, Subcommand)]
pub(crate) enum GatewayCommand {
    /// Run the gateway: `--config <gateway.toml>` in production, `--dev <DIR>` for development.
    Serve(ServeArgs),
    /// Print a commented example configuration.
    ConfigExample,
    /// Manage the operator-signed trust list.
    #[command(subcommand)]
    Trust(TrustCommand),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The configuration file (TOML; every setting also as HERALD_GATEWAY_<NAME>).
    #[arg(long, value_name = "FILE", conflicts_with = "dev", required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// Development mode on the shared dev folder: creates the PKI for DE, NL, FR if absent,
    /// trusts every country folder in it, stores in DIR/gateway/gateway.db, encrypts stored keys
    /// with DIR/gateway/at-rest.key (created, mode 0600, if absent), serves TLS with
    /// DIR/gateway/server.pem, batches downloads within a second, and writes DIR/gateway/url
    /// (and DIR/gateway/internal-url, the internal listener's /health, /metrics and
    /// /openapi.json on a free loopback port).
    #[arg(long, value_name = "DIR")]
    dev: Option<PathBuf>,
    #[command(flatten)]
    dev_options: crate::dev_files::DevOptions,
}

/// Where the trust list lives.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// The gateway's configuration file (its `database` is used).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["database", "dev"])]
    config: Option<PathBuf>,
    /// A database URL (`sqlite:<file>` or `postgres://…`).
    #[arg(long, value_name = "URL", conflicts_with = "dev")]
    database: Option<String>,
    /// The dev folder (DIR/gateway/gateway.db).
    #[arg(long, value_name = "DIR")]
    dev: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    Authentication,
    Signing,
    Callback,
}

impl From<KindArg> for TrustKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Authentication => Self::Authentication,
            KindArg::Signing => Self::Signing,
            KindArg::Callback => Self::Callback,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum TrustCommand {
    /// Sign a certificate with the trust anchor's key and add it to the gateway's trust list.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        entry: EntryArgs,
    },
    /// Sign a certificate offline (no database): prints a trust-list JSON to import on the
    /// gateway with `herald gateway trust import`.
    Sign {
        #[command(flatten)]
        entry: EntryArgs,
    },
    /// Import a trust-list JSON; every entry must verify with the anchor certificate. Entries
    /// without an entry signature (EFGS's shape) are imported but refused by the gateway until
    /// `resign` signs them.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// The trust anchor's certificate (PEM).
        #[arg(long, value_name = "PEM")]
        anchor: PathBuf,
        /// The trust-list JSON file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the whole trust list as JSON (the format `import` reads).
    Export {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show the trust list, one line per certificate, with whether its operator signatures
    /// (over the certificate and over the whole entry) verify.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// The trust anchor's certificate (PEM), to check every entry.
        #[arg(long, value_name = "PEM")]
        anchor: Option<PathBuf>,
    },
    /// Revoke a certificate: its entry is signed anew with the trust anchor's key as revoked
    /// (it stays listed, and is refused; clearing the flag without the key does not undo it).
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        key: AnchorKeyArgs,
        /// Its SHA-256 thumbprint (64 hex digits, colons allowed).
        #[arg(long, value_name = "HEX")]
        thumbprint: String,
    },
    /// After an upgrade: sign every stored entry that has no entry signature yet (stored
    /// before herald signed whole entries) with the trust anchor's key, as it stands (kind,
    /// revocation, host). Entries whose certificate signature does not verify with the key,
    /// and entries whose entry signature fails (changed behind the operator's back), are left
    /// alone and listed. Check the entries first with `list --anchor`.
    Resign {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        key: AnchorKeyArgs,
    },
}

/// The trust anchor's private key, for the commands that change stored entries.
#[derive(Debug, Args)]
pub(crate) struct AnchorKeyArgs {
    /// The trust anchor's private key, PKCS#8 PEM (with --dev: DIR/anchor/anchor.key.pem).
    #[arg(long, value_name = "PEM")]
    anchor_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct EntryArgs {
    /// The trust anchor's private key, PKCS#8 PEM (P-256 or RSA).
    #[arg(long, value_name = "PEM")]
    anchor_key: PathBuf,
    /// The certificate's country (must equal its subject C).
    #[arg(long, value_name = "CC")]
    country: String,
    /// What the certificate is trusted for.
    #[arg(long, value_enum)]
    kind: KindArg,
    /// The certificate, PEM.
    #[arg(long, value_name = "PEM")]
    cert: PathBuf,
    /// For callback certificates: the host they serve.
    #[arg(long)]
    host: Option<String>,
}

pub(crate) async fn run(cmd: GatewayCommand) -> Result<()> {
    match cmd {
        GatewayCommand::ConfigExample => {
            print!("{}", herald_gateway::config::EXAMPLE);
            Ok(())
        }
        GatewayCommand::Serve(args) => serve(args).await,
        GatewayCommand::Trust(cmd) => trust(cmd).await,
    }
}

fn read(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

async fn serve(args: ServeArgs) -> Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (config, dev_dir) = match (&args.config, &args.dev) {
        (Some(path), _) => (load_config(path, GatewayConfig::from_toml)?, None),
        (None, Some(dir)) => {
            let (config, trusted) = prepare_dev(
                dir,
                args.dev_options.listen.map(|a| a.to_string()).as_deref(),
                args.dev_options.database.as_deref(),
                clock.as_ref(),
            )
            .await?;
            eprintln!("dev world {}: {trusted} certificates trusted", dir.display());
            (config, Some(dir.join("gateway")))
        }
        (None, None) => bail!("give --config <FILE> or --dev <DIR>"),
    };
    let gateway = Gateway::build(&config, clock).await?;
    let listening = Listening::start(
        dev_dir.as_deref(),
        gateway.local_addr(),
        config.tls.is_some(),
        gateway.internal_addr(),
    )?;
    eprintln!(
        "herald gateway listening on {} ({} storage)",
        listening.url,
        gateway.store().backend()
    );
    listening.announce_internal("gateway");
    gateway.run_until_stopped(shutdown_signal()).await;
    listening.stopped("gateway");
    Ok(())
}

/// SIGTERM or SIGINT.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The dev world: PKI (created for DE, NL, FR when absent), every country folder trusted, SQLite
/// under DIR/gateway. Returns the configuration and how many certificates are trusted.
pub(crate) async fn prepare_dev(
    dir: &Path,
    listen: Option<&str>,
    database: Option<&str>,
    clock: &dyn Clock,
) -> Result<(GatewayConfig, usize)> {
    if !dir.join(layout::ca_cert()).exists() {
        let countries: Vec<CountryCode> =
            ["DE", "NL", "FR"].iter().filter_map(|c| c.parse().ok()).collect();
        crate::pki_cmd::write_dev_pki(dir, &countries, clock.now(), false)?;
    }
    let database = database.map_or_else(
        || format!("sqlite:{}", dir.join("gateway").join("gateway.db").display()),
        str::to_owned,
    );
    let at_rest_key = dir.join("gateway").join("at-rest.key");
    ensure_at_rest_key(&at_rest_key)?;
    let store = Store::open(&database).await?;
    let anchor = TrustAnchor::from_pkcs8_pem(&read(&dir.join(layout::anchor_key()), "anchor key")?)
        .context("the dev trust anchor key")?;
    let mut trusted = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(country) = name.parse::<CountryCode>() else { continue };
        if name != country.as_str() {
            continue;
        }
        for (path, kind) in [
            (layout::auth_cert(country), TrustKind::Authentication),
            (layout::signing_cert(country), TrustKind::Signing),
            // The country's services' TLS certificate: its key server receives callbacks with it.
            (layout::server_cert(country), TrustKind::Callback),
        ] {
            let path = dir.join(path);
            if !path.exists() {
                continue;
            }
            let pem = read(&path, "certificate")?;
            let signed = anchor
                .sign_entry(country, kind, &pem, None)
                .with_context(|| path.display().to_string())?;
            match store.trust_entry(&signed.thumbprint).await? {
                None => store.put_trust_entry(&to_row(&signed, clock)).await?,
                // A dev world from before entry signatures: signed as it stands.
                Some(row)
                    if row.entry_signature.is_none()
                        && anchor.verify_efgs_entry(&row.entry()).is_ok() =>
                {
                    let resigned = anchor.resign(&row.entry())?;
                    store.put_trust_entry(&TrustRow::from_entry(&resigned, row.created_at)).await?;
                }
                Some(_) => {}
            }
            trusted += 1;
        }
    }
    // Dev callbacks go out with the gateway's server certificate as the client certificate. It
    // carries EKU serverAuth only, so a receiver that checks EKU (webpki does) refuses it; herald's
    // own receivers pin by thumbprint and accept it.
    let listen = listen.unwrap_or("127.0.0.1:0");
    let toml = format!(
        "listen = {listen:?}\ninternal_listen = \"127.0.0.1:0\"\ndatabase = {database:?}\nanchor_certificate = {anchor:?}\nat_rest_key_file = {at_rest:?}\nbatching_interval_seconds = 1\nallow_private_callback_hosts = true\ncallback_client_certificate = {cert:?}\ncallback_client_key = {key:?}\n[tls]\ncertificate = {cert:?}\nkey = {key:?}\n",
        anchor = dir.join(layout::anchor_cert()).display().to_string(),
        at_rest = at_rest_key.display().to_string(),
        cert = dir.join(layout::gateway_cert()).display().to_string(),
        key = dir.join(layout::gateway_key()).display().to_string(),
    );
    Ok((GatewayConfig::from_toml(&toml, std::iter::empty())?, trusted))
}

/// Creates the dev at-rest key (32 bytes from the OS RNG, hex, mode 0600) unless it exists.
fn ensure_at_rest_key(path: &Path) -> Result<()> {
    let hex = herald_service::secrets::random_hex(herald_gateway::store::AT_REST_KEY_BYTES);
    herald_service::secrets::write_secret(path, &format!("{}\n", hex.as_str()))
        .with_context(|| format!("cannot create {}", path.display()))
}

fn to_row(e: &TrustEntry, clock: &dyn Clock) -> TrustRow {
    TrustRow::from_entry(e, clock.now())
}

async fn open_store(args: &StoreArgs) -> Result<Store> {
    let url = match (&args.config, &args.database, &args.dev) {
        (Some(path), _, _) => {
            GatewayConfig::from_toml(&read(path, "configuration")?, std::env::vars())
                .with_context(|| path.display().to_string())?
                .database
        }
        (None, Some(url), _) => url.clone(),
        (None, None, Some(dir)) => {
            format!("sqlite:{}", dir.join("gateway").join("gateway.db").display())
        }
        (None, None, None) => {
            bail!("say which gateway: --config <FILE>, --database <URL> or --dev <DIR>")
        }
    };
    Ok(Store::open(&url).await?)
}

fn sign(args: &EntryArgs) -> Result<TrustEntry> {
    let anchor = TrustAnchor::from_pkcs8_pem(&read(&args.anchor_key, "anchor key")?)
        .with_context(|| args.anchor_key.display().to_string())?;
    let country: CountryCode = args.country.parse().context("--country")?;
    let pem = read(&args.cert, "certificate")?;
    anchor
        .sign_entry(country, args.kind.into(), &pem, args.host.as_deref())
        .with_context(|| args.cert.display().to_string())
}

async fn trust(cmd: TrustCommand) -> Result<()> {
    let clock = SystemClock;
    match cmd {
        TrustCommand::Add { store, entry } => {
            let signed = sign(&entry)?;
            let store = open_store(&store).await?;
            store.put_trust_entry(&to_row(&signed, &clock)).await?;
            eprintln!("trusted {} {} {}", signed.country, signed.kind.as_str(), signed.thumbprint);
        }
        TrustCommand::Sign { entry } => {
            let signed = sign(&entry)?;
            println!("{}", TrustList { entries: vec![signed] }.to_json());
        }
        TrustCommand::Import { store, anchor, file } => {
            let anchor = AnchorCertificate::from_pem(&read(&anchor, "anchor certificate")?)
                .with_context(|| anchor.display().to_string())?;
            let list = TrustList::from_json(&read(&file, "trust list")?)
                .with_context(|| file.display().to_string())?;
            let mut unsigned = 0;
            for (i, e) in list.entries.iter().enumerate() {
                let checked = if e.entry_signature.is_none() {
                    unsigned += 1;
                    anchor.verify_efgs_entry(e)
                } else {
                    anchor.verify_entry(e)
                };
                checked
                    .with_context(|| format!("{} entry {i} ({})", file.display(), e.thumbprint))?;
            }
            let store = open_store(&store).await?;
            for e in &list.entries {
                store.put_trust_entry(&to_row(e, &clock)).await?;
            }
            eprintln!("imported {} entries", list.entries.len());
            if unsigned > 0 {
                eprintln!(
                    "{unsigned} entries have no entry signature (EFGS's shape): the gateway \
                     refuses them until you check them with `herald gateway trust list \
                     --anchor` and sign them with `herald gateway trust resign`"
                );
            }
        }
        TrustCommand::Export { store } => {
            let store = open_store(&store).await?;
            let entries = store.trust_entries().await?.iter().map(TrustRow::entry).collect();
            println!("{}", TrustList { entries }.to_json());
        }
        TrustCommand::List { store, anchor } => {
            let anchor = match anchor {
                Some(path) => Some(
                    AnchorCertificate::from_pem(&read(&path, "anchor certificate")?)
                        .with_context(|| path.display().to_string())?,
                ),
                None => None,
            };
            let store = open_store(&store).await?;
            for row in store.trust_entries().await? {
                let check = match &anchor {
                    Some(a) => match a.verify_entry(&row.entry()) {
                        Ok(()) => "signature ok".to_owned(),
                        Err(e) => format!("IGNORED: {e}"),
                    },
                    None => "signature not checked".to_owned(),
                };
                println!(
                    "{} {:<14} {} {}{}",
                    row.country,
                    row.kind.as_str(),
                    row.thumbprint,
                    if row.revoked { "REVOKED " } else { "" },
                    check
                );
            }
        }
        TrustCommand::Revoke { store: args, key, thumbprint } => {
            let thumbprint = CertThumbprint::from_hex(&thumbprint).context("--thumbprint")?;
            let anchor = anchor_key(&key, &args)?;
            let store = open_store(&args).await?;
            let Some(row) = store.trust_entry(&thumbprint).await? else {
                bail!("no trust-list entry has thumbprint {thumbprint}");
            };
            // Whatever the entry says otherwise, revoked it is refused: no check needed first.
            let revoked = anchor
                .resign(&TrustEntry { revoked: true, ..row.entry() })
                .with_context(|| format!("entry {thumbprint}"))?;
            store.put_trust_entry(&TrustRow::from_entry(&revoked, row.created_at)).await?;
            eprintln!("revoked {thumbprint}");
        }
        TrustCommand::Resign { store: args, key } => {
            let anchor = anchor_key(&key, &args)?;
            let store = open_store(&args).await?;
            resign(&anchor, &store).await?;
        }
    }
    Ok(())
}

/// `trust resign`: signs the entries without an entry signature whose certificate signature
/// this anchor made; reports the others.
async fn resign(anchor: &TrustAnchor, store: &Store) -> Result<()> {
    let (mut signed, mut left) = (0, 0);
    for row in store.trust_entries().await? {
        let entry = row.entry();
        let line = format!("{} {:<14} {}", row.country, row.kind.as_str(), row.thumbprint);
        if entry.entry_signature.is_some() {
            if let Err(e) = anchor.verify_entry(&entry) {
                left += 1;
                eprintln!("left alone {line}: {e} (re-add it with `trust add` if it is right)");
            }
            continue;
        }
        if let Err(e) = anchor.verify_efgs_entry(&entry) {
            left += 1;
            eprintln!("left alone {line}: {e}");
            continue;
        }
        let resigned = anchor.resign(&entry).with_context(|| line.clone())?;
        store.put_trust_entry(&TrustRow::from_entry(&resigned, row.created_at)).await?;
        signed += 1;
        println!("signed {line}{}", if row.revoked { " REVOKED" } else { "" });
    }
    eprintln!("{signed} entries signed, {left} left alone");
    if left > 0 {
        bail!("{left} entries fail the trust-anchor check; the gateway refuses them");
    }
    Ok(())
}

/// The trust anchor's key: `--anchor-key`, or the dev world's with `--dev`.
fn anchor_key(key: &AnchorKeyArgs, store: &StoreArgs) -> Result<TrustAnchor> {
    let path = match (&key.anchor_key, &store.dev) {
        (Some(path), _) => path.clone(),
        (None, Some(dir)) => dir.join(layout::anchor_key()),
        (None, None) => bail!("give the trust anchor's private key: --anchor-key <PEM>"),
    };
    TrustAnchor::from_pkcs8_pem(&read(&path, "anchor key")?)
        .with_context(|| path.display().to_string())
}
