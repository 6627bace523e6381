//! `herald verifier …`: run the verification service.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use herald_model::Clock;
use herald_service::random::Randomness;
use herald_verifier::config::VerifierConfig;
use herald_verifier::portal;
use herald_verifier::store::{ApiKeyKind, Role};
use herald_verifier::{Verifier, dev};

use crate::SystemClock;
use crate::dev_files::{ConfigSource, Listening, ServeArgs, Source, load_config, source_help};

#[derive(Debug, Subcommand)]
pub(crate) enum VerifierCommand {
    /// Run the verification service: `--config <verifier.toml>` in production, `--dev <DIR>
    /// --country CC` for development.
    Serve(ServeArgs<VerifierSource>),
    /// Print a commented example configuration.
    ConfigExample,
    /// Create an API key: prints it once on stdout and stores only its keyed hash.
    CreateApiKey(CreateKeyArgs),
    /// Revoke an API key by name (it is refused from then on).
    RevokeApiKey(RevokeKeyArgs),
    /// Case-worker portal users: add, list, disable, unlock.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user: prints a one-time password (changed at the first login) and the TOTP secret
    /// and otpauth:// URI for an authenticator app, once, on stdout.
    Add(UserAddArgs),
    /// List users with their role and state.
    List(ConfigSource<Where>),
    /// Disable a user (ends its sessions; it cannot log in any more).
    Disable(UserNameArgs),
    /// Unlock a user locked after failed logins.
    Unlock(UserNameArgs),
}

source_help!(
    /// Which verifier a user command manages.
    Where,
    config: "The configuration file (its database and HMAC secret are used)",
    dev: "The dev folder (see `serve --dev`)",
);

source_help!(
    /// The verifier's `serve --config` and `--dev`.
    VerifierSource,
    config: "The configuration file (TOML; every setting also as HERALD_VERIFIER_<NAME>)",
    dev: "Development mode on the shared dev folder (see specs/dev-world.md): SQLite, API keys, \
        HMAC secret and signing keys under DIR/<CC>/verifier, TLS with DIR/<CC>/server.pem, \
        certificates for the country's dev key server, and DIR/<CC>/verifier/url and \
        internal-url (the internal listener's /health, /metrics and /openapi.json) once \
        listening",
);

#[derive(Debug, Args)]
pub(crate) struct UserAddArgs {
    #[command(flatten)]
    at: ConfigSource<Where>,
    /// The user name (letters, digits, . _ @ -).
    #[arg(long)]
    name: String,
    /// The role.
    #[arg(long, value_enum, default_value = "case-worker")]
    role: RoleArg,
}

#[derive(Debug, Args)]
pub(crate) struct UserNameArgs {
    #[command(flatten)]
    at: ConfigSource<Where>,
    /// The user name.
    #[arg(long)]
    name: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    /// Users, API keys, settings, audit log, and everything a case worker does.
    Administrator,
    /// Issues and checks codes.
    CaseWorker,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    /// Issues codes (/api/issue, /api/batch-issue, /api/checkcodestatus, /api/expirecode).
    Admin,
    /// Used by apps (/api/verify, /api/certificate).
    Device,
}

#[derive(Debug, Args)]
pub(crate) struct CreateKeyArgs {
    /// The configuration file (its database and HMAC secret are used).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// A unique name for the key (logged instead of the key).
    #[arg(long)]
    name: String,
    /// What the key may do.
    #[arg(long, value_enum)]
    kind: KindArg,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeKeyArgs {
    /// The configuration file (its database is used).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The key's name.
    #[arg(long)]
    name: String,
}

pub(crate) async fn run(cmd: VerifierCommand) -> Result<()> {
    match cmd {
        VerifierCommand::ConfigExample => {
            print!("{}", herald_verifier::config::EXAMPLE);
            Ok(())
        }
        VerifierCommand::Serve(args) => serve(args).await,
        VerifierCommand::CreateApiKey(args) => create_key(args).await,
        VerifierCommand::User(cmd) => user(cmd).await,
        VerifierCommand::RevokeApiKey(args) => {
            let config = load(&args.config)?;
            let store = herald_verifier::store::Store::open(&config.database).await?;
            let found = store.revoke_api_key(&args.name).await;
            store.close().await;
            if !found? {
                bail!("no API key named {:?}", args.name);
            }
            eprintln!("API key {:?} revoked", args.name);
            Ok(())
        }
    }
}

fn load(path: &Path) -> Result<VerifierConfig> {
    load_config(path, VerifierConfig::from_toml)
}

async fn create_key(args: CreateKeyArgs) -> Result<()> {
    let mut config = load(&args.config)?;
    // Build without serving: any free local port will do.
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let verifier = Verifier::build(&config, Arc::new(SystemClock), Randomness::os()).await?;
    let (kind, prefix) = match args.kind {
        KindArg::Admin => (ApiKeyKind::Admin, "hva_"),
        KindArg::Device => (ApiKeyKind::Device, "hvd_"),
    };
    let mut bytes = [0u8; 24];
    rand::Rng::fill_bytes(&mut crate::os_rng()?, &mut bytes);
    let key = format!("{prefix}{}", herald_model::key::to_hex(&bytes));
    if !verifier.register_api_key(&args.name, kind, &key).await? {
        bail!("an API key named {:?} exists already", args.name);
    }
    println!("{key}");
    Ok(())
}

fn config_of(at: &ConfigSource<Where>) -> Result<VerifierConfig> {
    let mut config = match at.source()? {
        Source::File(path) => load(path)?,
        Source::Dev(dir, country) => dev::prepare(dir, country, None)?.0,
    };
    // Build without serving: any free local port will do.
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    Ok(config)
}

fn print_credentials(name: &str, role: Role, c: &portal::Credentials) {
    println!("user:               {name} ({})", role.as_str());
    println!("one-time password:  {}", c.password.as_str());
    println!("TOTP secret:        {}", c.totp_secret.as_str());
    println!("otpauth URI:        {}", c.otpauth_uri.as_str());
}

async fn user(cmd: UserCommand) -> Result<()> {
    let at = match &cmd {
        UserCommand::Add(a) => &a.at,
        UserCommand::List(w) => w,
        UserCommand::Disable(a) | UserCommand::Unlock(a) => &a.at,
    };
    let verifier =
        Verifier::build(&config_of(at)?, Arc::new(SystemClock), Randomness::os()).await?;
    let service = verifier.service();
    let store = service.store();
    let result = match &cmd {
        UserCommand::Add(a) => {
            let role = match a.role {
                RoleArg::Administrator => Role::Administrator,
                RoleArg::CaseWorker => Role::CaseWorker,
            };
            portal::create_user(&service, &a.name, role, "cli")
                .await
                .map(|c| print_credentials(&a.name, role, &c))
                .map_err(anyhow::Error::from)
        }
        UserCommand::List(_) => store.users().await.map_err(anyhow::Error::from).map(|users| {
            let now = service.now();
            for u in users {
                let state = if u.disabled {
                    "disabled"
                } else if u.locked(now) {
                    "locked"
                } else {
                    "active"
                };
                println!("{}\t{}\t{state}", u.name, u.role.as_str());
            }
        }),
        UserCommand::Disable(a) => match store.set_user_disabled(&a.name, true).await {
            Ok(true) => {
                portal::record(&service, "cli", "user.disable", &a.name).await;
                eprintln!("user {:?} disabled", a.name);
                Ok(())
            }
            Ok(false) => Err(anyhow::anyhow!("no user named {:?}", a.name)),
            Err(e) => Err(e.into()),
        },
        UserCommand::Unlock(a) => match store.unlock_user(&a.name).await {
            Ok(true) => {
                portal::record(&service, "cli", "user.unlock", &a.name).await;
                eprintln!("user {:?} unlocked", a.name);
                Ok(())
            }
            Ok(false) => Err(anyhow::anyhow!("no user named {:?}", a.name)),
            Err(e) => Err(e.into()),
        },
    };
    store.close().await;
    result
}

async fn serve(args: ServeArgs<VerifierSource>) -> Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (config, dev_keys, dev_dir) = match args.source.source()? {
        Source::File(path) => (load(path)?, None, None),
        Source::Dev(dir, country) => {
            let (mut config, keys) = dev::prepare(dir, country, args.dev_options.listen)?;
            args.dev_options.override_database(&mut config.database);
            (config, Some(keys), Some(dev::verifier_dir(dir, country)))
        }
    };
    let verifier = Verifier::build(&config, clock, Randomness::os()).await?;
    if let Some(keys) = &dev_keys {
        verifier.register_api_key("dev-admin", ApiKeyKind::Admin, &keys.admin).await?;
        verifier.register_api_key("dev-device", ApiKeyKind::Device, &keys.device).await?;
        // A first administrator, once: its credentials go to stdout, never to the logs.
        if config.portal.enabled && verifier.service().store().users().await?.is_empty() {
            let service = verifier.service();
            let c = portal::create_user(&service, "admin", Role::Administrator, "dev").await?;
            println!("portal administrator (shown once; change the password at the first login):");
            print_credentials("admin", Role::Administrator, &c);
        }
    }
    let listening = Listening::start(
        dev_dir.as_deref(),
        verifier.local_addr(),
        verifier.tls(),
        verifier.internal_addr(),
    )?;
    eprintln!(
        "herald verifier {} listening on {} ({} storage, certificates for {})",
        config.country,
        listening.url,
        verifier.service().store().backend(),
        config.certificate.audience
    );
    if config.portal.enabled {
        eprintln!("case-worker portal: {}/portal/", listening.url);
    }
    listening.announce_internal("verifier");
    verifier.run_until_stopped(crate::gateway_cmd::shutdown_signal()).await;
    listening.stopped("verifier");
    Ok(())
}
