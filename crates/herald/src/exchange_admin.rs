//! `herald exchange org|collection|token|audit`: the operator's tools on the exchange's store
//! (organisations, client certificates, collections and grants, API tokens, the audit chain).
//! Every change is appended to the audit log; tokens are shown once and stored hashed.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use herald_exchange::api::token_hash;
use herald_exchange::app::key_file;
use herald_exchange::config::ExchangeConfig;
use herald_exchange::dev;
use herald_exchange::store::{
    AuditCheck, AuditEntry, Grant, NewClientCert, NewCollection, NewOrg, NewToken, Org, OrgKind,
    Store,
};
use herald_model::CertThumbprint;

/// Which exchange: its configuration file or its dev folder.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// The exchange's configuration file (its `database` and `token_key_file` are used;
    /// `HERALD_EXCHANGE_*` variables apply).
    #[arg(long, value_name = "FILE", conflicts_with = "dev", required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// The dev folder (DIR/exchange/exchange.db and DIR/exchange/token.key).
    #[arg(long, value_name = "DIR")]
    dev: Option<PathBuf>,
}

/// `herald exchange org …`.
#[derive(Debug, Subcommand)]
pub(crate) enum OrgCommand {
    /// Add an organisation (its STIX identity is generated unless given).
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// Its unique name: the HTTP Basic user name, e.g. `hospital-d`.
        name: String,
        /// What it is.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Its STIX identity id (`identity--<uuid>`), when it has one already.
        #[arg(long, value_name = "ID")]
        identity: Option<String>,
        /// A community to put it in (repeatable; created if new), e.g. `health`.
        #[arg(long, value_name = "NAME")]
        community: Vec<String>,
    },
    /// List the organisations with their tokens and client certificates.
    List(StoreArgs),
    /// Disable an organisation: its tokens and certificates are refused from now on.
    Disable {
        #[command(flatten)]
        store: StoreArgs,
        /// The organisation.
        name: String,
    },
    /// Enable a disabled organisation again.
    Enable {
        #[command(flatten)]
        store: StoreArgs,
        /// The organisation.
        name: String,
    },
    /// Register an mTLS client certificate (issued by the CA of `client_ca_file`) to an
    /// organisation: its thumbprint decides who it is.
    CertAdd {
        #[command(flatten)]
        store: StoreArgs,
        /// The organisation.
        name: String,
        /// The certificate (PEM).
        #[arg(long, value_name = "PEM")]
        certificate: PathBuf,
    },
    /// Remove a client certificate: it no longer authenticates anyone.
    CertRemove {
        #[command(flatten)]
        store: StoreArgs,
        /// The organisation.
        name: String,
        /// Its SHA-256 thumbprint (64 hex digits; colons allowed), as `org list` shows it.
        #[arg(long, value_name = "HEX")]
        thumbprint: String,
    },
}

/// What an organisation is.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum KindArg {
    /// The sector CERT that runs the exchange (reads everything).
    Operator,
    /// A hospital, region, municipality or GP practice.
    Member,
    /// A vendor of medical devices or health IT.
    Supplier,
}

impl From<KindArg> for OrgKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Operator => Self::Operator,
            KindArg::Member => Self::Member,
            KindArg::Supplier => Self::Supplier,
        }
    }
}

/// `herald exchange collection …`.
#[derive(Debug, Subcommand)]
pub(crate) enum CollectionCommand {
    /// Add a collection, found by clients by its id or its alias.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// Its TAXII alias, e.g. `supply-chain`.
        alias: String,
        /// Its title.
        #[arg(long)]
        title: String,
        /// Its description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Set an organisation's rights on a collection (neither `--read` nor `--write` removes
    /// them).
    Grant {
        #[command(flatten)]
        store: StoreArgs,
        /// The collection's alias or id.
        collection: String,
        /// The organisation.
        org: String,
        /// It may read (what TLP lets it see).
        #[arg(long)]
        read: bool,
        /// It may add objects.
        #[arg(long)]
        write: bool,
    },
}

/// `herald exchange token …`.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Issue an API token: printed once on stdout (or written to --out, mode 0600), stored
    /// only as its keyed hash.
    Issue {
        #[command(flatten)]
        store: StoreArgs,
        /// The organisation.
        org: String,
        /// The token's name, unique per organisation (audit and listings show it).
        #[arg(long)]
        name: String,
        /// Write the token to this file (mode 0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Revoke an organisation's named token.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The organisation.
        org: String,
        /// The token's name.
        name: String,
    },
}

/// `herald exchange audit …`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Walk the hash chain from the first entry: exit 0 when intact, non-zero with the first
    /// break (an edited, inserted or missing entry).
    Verify(StoreArgs),
}

/// The store and the token key of the exchange `args` names.
pub(crate) async fn open(args: &StoreArgs) -> Result<(Store, PathBuf)> {
    let (database, token_key_file) = match (&args.config, &args.dev) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let config = ExchangeConfig::from_toml(&text, std::env::vars())
                .with_context(|| path.display().to_string())?;
            (config.database, config.token_key_file)
        }
        (None, Some(dir)) => {
            let x = dev::exchange_dir(dir);
            if !x.join("exchange.db").exists() {
                bail!(
                    "{} has no exchange yet: run `herald exchange serve --dev {}` once",
                    dir.display(),
                    dir.display()
                );
            }
            (format!("sqlite:{}", x.join("exchange.db").display()), x.join("token.key"))
        }
        (None, None) => bail!("say which exchange: --config <FILE> or --dev <DIR>"),
    };
    let store = Store::open(&database).await.with_context(|| format!("opening {database}"))?;
    Ok((store, token_key_file))
}

fn now_us() -> i64 {
    herald_exchange::api::Clock::now_us(&crate::exchange_cmd::SystemMicros)
}

async fn org(store: &Store, name: &str) -> Result<Org> {
    store.org_by_name(name).await?.with_context(|| {
        format!("no organisation {name:?} (`herald exchange org list` shows them)")
    })
}

async fn audit(
    store: &Store,
    actor: Option<i64>,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<()> {
    let entry = AuditEntry {
        at_us: now_us(),
        actor_org: actor,
        action: action.into(),
        subject: subject.into(),
        detail: detail.into(),
    };
    store.audit(&entry).await?;
    Ok(())
}

fn random_uuid() -> Result<String> {
    use rand::Rng as _;
    let mut bytes = [0u8; 16];
    crate::os_rng()?.fill_bytes(&mut bytes);
    Ok(uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string())
}

pub(crate) async fn run_org(cmd: OrgCommand) -> Result<()> {
    match cmd {
        OrgCommand::Add { store, name, kind, identity, community } => {
            let (store, _) = open(&store).await?;
            org_add(&store, &name, kind.into(), identity, &community).await
        }
        OrgCommand::List(args) => {
            let (store, _) = open(&args).await?;
            org_list(&store).await
        }
        OrgCommand::Disable { store, name } => set_disabled(&store, &name, true).await,
        OrgCommand::Enable { store, name } => set_disabled(&store, &name, false).await,
        OrgCommand::CertAdd { store, name, certificate } => {
            let (store, _) = open(&store).await?;
            cert_add(&store, &name, &certificate).await
        }
        OrgCommand::CertRemove { store, name, thumbprint } => {
            let (store, _) = open(&store).await?;
            let org = org(&store, &name).await?;
            let thumbprint = CertThumbprint::from_hex(&thumbprint)
                .map_err(|e| anyhow::anyhow!("--thumbprint: {e}"))?;
            if !store.remove_client_cert(org.id, &thumbprint.0).await? {
                bail!("{name} has no client certificate {}", hex::encode(thumbprint.0));
            }
            audit(&store, None, "cert-remove", &format!("org {name}"), &hex::encode(thumbprint.0))
                .await?;
            eprintln!("removed: the certificate no longer authenticates {name}");
            Ok(())
        }
    }
}

async fn org_add(
    store: &Store,
    name: &str,
    kind: OrgKind,
    identity: Option<String>,
    communities: &[String],
) -> Result<()> {
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !valid_name {
        bail!(
            "{name:?}: a name is 1 to 64 letters, digits, '-', '_' or '.' (it is the Basic user name)"
        );
    }
    let identity = match identity {
        Some(id) => {
            let ok = id.strip_prefix("identity--").is_some_and(|u| {
                uuid::Uuid::parse_str(u).is_ok_and(|p| p.hyphenated().to_string() == u)
            });
            if !ok {
                bail!("--identity {id:?}: not an identity id (identity--<lower-case uuid>)");
            }
            id
        }
        None => format!("identity--{}", random_uuid()?),
    };
    let new = NewOrg { name: name.into(), identity_id: identity.clone(), kind };
    let Some(id) = store.add_org(&new).await? else {
        bail!("an organisation named {name:?} or with identity {identity} exists already");
    };
    for community in communities {
        store.join_community(community, id).await?;
    }
    audit(store, None, "org-add", &format!("org {name}"), &format!("{} {identity}", kind.as_str()))
        .await?;
    println!("{name}\t{}\t{identity}", kind.as_str());
    eprintln!(
        "added {name}; next: `herald exchange token issue {name} --name <NAME>` and \
         `herald exchange collection grant <COLLECTION> {name} --read`"
    );
    Ok(())
}

async fn org_list(store: &Store) -> Result<()> {
    println!("NAME\tKIND\tSTATE\tIDENTITY\tTOKENS\tCERTIFICATES");
    for org in store.orgs().await? {
        let tokens = store.tokens_of(org.id).await?;
        let tokens: Vec<String> = tokens
            .iter()
            .map(|t| if t.revoked { format!("{} (revoked)", t.name) } else { t.name.clone() })
            .collect();
        let certs = store.client_certs(org.id).await?;
        let certs: Vec<String> =
            certs.iter().map(|c| format!("{} {}", hex::encode(c.thumbprint), c.subject)).collect();
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            org.name,
            org.kind.as_str(),
            if org.disabled { "disabled" } else { "enabled" },
            org.identity_id,
            if tokens.is_empty() { "-".to_owned() } else { tokens.join(", ") },
            if certs.is_empty() { "-".to_owned() } else { certs.join(", ") },
        );
    }
    Ok(())
}

async fn set_disabled(args: &StoreArgs, name: &str, disabled: bool) -> Result<()> {
    let (store, _) = open(args).await?;
    if !store.set_org_disabled(name, disabled).await? {
        bail!("no organisation {name:?}");
    }
    let action = if disabled { "org-disable" } else { "org-enable" };
    audit(&store, None, action, &format!("org {name}"), "").await?;
    eprintln!(
        "{name} {}",
        if disabled { "disabled: its credentials are refused" } else { "enabled" }
    );
    Ok(())
}

async fn cert_add(store: &Store, name: &str, path: &Path) -> Result<()> {
    let org = org(store, name).await?;
    let pem = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let cert = herald_trust::Cert::from_pem(&pem).with_context(|| path.display().to_string())?;
    let thumbprint = cert.thumbprint().0;
    let subject = cert.x509().tbs_certificate().subject().to_string();
    let new =
        NewClientCert { org: org.id, thumbprint, subject: subject.clone(), created_us: now_us() };
    if !store.add_client_cert(&new).await? {
        bail!("this certificate is registered already ({})", hex::encode(thumbprint));
    }
    audit(store, None, "cert-add", &format!("org {name}"), &hex::encode(thumbprint)).await?;
    println!("{}\t{subject}", hex::encode(thumbprint));
    eprintln!("registered to {name} (it also needs a chain to the exchange's client_ca_file)");
    Ok(())
}

pub(crate) async fn run_collection(cmd: CollectionCommand) -> Result<()> {
    match cmd {
        CollectionCommand::Add { store, alias, title, description } => {
            let (store, _) = open(&store).await?;
            let valid = !alias.is_empty()
                && alias.len() <= 64
                && alias.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid || uuid::Uuid::parse_str(&alias).is_ok() {
                bail!("{alias:?}: an alias is 1 to 64 letters, digits, '-' or '_', and not a UUID");
            }
            if title.trim().is_empty() {
                bail!("--title must not be empty");
            }
            let id = random_uuid()?;
            let new =
                NewCollection { id: id.clone(), alias: Some(alias.clone()), title, description };
            if !store.add_collection(&new).await? {
                bail!("a collection with the alias {alias:?} exists already");
            }
            audit(&store, None, "collection-add", &format!("collection {id}"), &alias).await?;
            println!("{id}\t{alias}");
            eprintln!(
                "added; grant rights with `herald exchange collection grant {alias} <ORG> --read --write`"
            );
            Ok(())
        }
        CollectionCommand::Grant { store, collection, org: name, read, write } => {
            let (store, _) = open(&store).await?;
            let org = org(&store, &name).await?;
            let id = match store.collection_by_alias(&collection).await? {
                Some(id) => id,
                None => collection.clone(),
            };
            let grant = Grant { can_read: read, can_write: write };
            if !store.grant(&id, org.id, grant).await? {
                bail!("no collection with the alias or id {collection:?}");
            }
            let detail = format!("{name} read={read} write={write}");
            audit(&store, None, "grant", &format!("collection {id}"), &detail).await?;
            eprintln!("{name} on {collection}: read {read}, write {write}");
            Ok(())
        }
    }
}

pub(crate) async fn run_token(cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Issue { store, org: name, name: token_name, out } => {
            let (store, key_path) = open(&store).await?;
            let key = key_file("token_key_file", &key_path).map_err(|e| anyhow::anyhow!("{e}"))?;
            let org = org(&store, &name).await?;
            if token_name.trim().is_empty() || token_name.len() > 64 {
                bail!("--name: 1 to 64 characters");
            }
            let token = format!("hx_{}", herald_service::secrets::random_hex(24).as_str());
            let new = NewToken {
                org: org.id,
                name: token_name.clone(),
                hash: token_hash(&key, &token),
                created_us: now_us(),
            };
            if !store.add_token(&new).await? {
                bail!(
                    "{name} has a token named {token_name:?} already (revoke it or pick another name)"
                );
            }
            audit(&store, None, "token-issue", &format!("org {name}"), &token_name).await?;
            if let Some(path) = out {
                herald_service::secrets::write_secret(&path, &format!("{token}\n"))
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("token {token_name} for {name} written to {}", path.display());
            } else {
                println!("{token}");
                eprintln!("token {token_name} for {name}: shown once, keep it secret");
            }
            Ok(())
        }
        TokenCommand::Revoke { store, org: name, name: token_name } => {
            let (store, _) = open(&store).await?;
            let org = org(&store, &name).await?;
            if !store.revoke_token(org.id, &token_name).await? {
                bail!("{name} has no token named {token_name:?}");
            }
            audit(&store, None, "token-revoke", &format!("org {name}"), &token_name).await?;
            eprintln!("revoked {name}'s token {token_name}");
            Ok(())
        }
    }
}

/// `audit verify`: the exit code says whether the chain is intact.
pub(crate) async fn run_audit(cmd: AuditCommand) -> Result<()> {
    match cmd {
        AuditCommand::Verify(args) => {
            let (store, _) = open(&args).await?;
            match store.verify_audit().await? {
                AuditCheck::Intact { entries } => {
                    println!("intact: {entries} entries, every one linked to the one before");
                    Ok(())
                }
                AuditCheck::Broken { seq, reason } => {
                    bail!("the audit chain is BROKEN at entry {seq}: {reason}")
                }
            }
        }
    }
}
