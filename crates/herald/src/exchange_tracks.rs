//! `herald exchange incidents` and `herald exchange receipt …`: the operator's view of the
//! mandatory track's clocks, and receipts as a reporter checks them.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use herald_exchange::api::{Clock as _, incident_facts, incident_json};
use herald_exchange::clocks::{self, Status};
use herald_exchange::receipt::{self, Receipt, ReceiptSigner};

use crate::exchange_admin::StoreArgs;
use crate::exchange_cmd::SystemMicros;

/// `herald exchange incidents`.
#[derive(Debug, Args)]
pub(crate) struct IncidentsArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Only the reports due or overdue (exit status 0 either way).
    #[arg(long)]
    due: bool,
    /// One JSON object per line (the API's shape, with the organisation) instead of a table.
    #[arg(long)]
    json: bool,
}

/// `herald exchange receipt …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ReceiptCommand {
    /// Verify a receipt: its Ed25519 signature under the exchange's public key, and, given the
    /// body that was sent, that it names that body. Exit status non-zero when it does not hold.
    Verify {
        /// The exchange's receipt-signing.pub.pem (SPKI PEM).
        #[arg(long, value_name = "FILE", conflicts_with = "dev", required_unless_present = "dev")]
        public_key: Option<PathBuf>,
        /// The dev folder (DIR/exchange/receipt-signing.pub.pem).
        #[arg(long, value_name = "DIR")]
        dev: Option<PathBuf>,
        /// The answer that carried the receipt (JSON with a "receipt" member), or the receipt.
        #[arg(long, value_name = "FILE")]
        receipt: PathBuf,
        /// The exact request body that was sent.
        #[arg(long, value_name = "FILE")]
        body: Option<PathBuf>,
    },
    /// Make a receipt signing key: the private key (PKCS#8 PEM, mode 0600) for the exchange's
    /// `receipt_key_file`, the public key (SPKI PEM) for reporters.
    Keygen {
        /// Where to write the private key (refused if it exists).
        #[arg(long, value_name = "FILE")]
        private: PathBuf,
        /// Where to write the public key.
        #[arg(long, value_name = "FILE")]
        public: PathBuf,
    },
}

pub(crate) async fn incidents(args: IncidentsArgs) -> Result<()> {
    let (store, _) = crate::exchange_admin::open(&args.store).await?;
    let now_us = SystemMicros.now_us();
    let now = jiff::Timestamp::from_microsecond(now_us).context("the clock")?;
    let incidents = store.incidents(None).await?;
    store.close().await;
    let mut shown = 0usize;
    for incident in &incidents {
        let clocks: Vec<_> = clocks::clocks(&incident_facts(incident), now)
            .into_iter()
            .filter(|c| !args.due || matches!(c.status, Status::Due | Status::Overdue))
            .filter(|c| c.status != Status::NotRequired)
            .collect();
        if args.due && clocks.is_empty() {
            continue;
        }
        shown += 1;
        if args.json {
            let mut value = incident_json(incident, now_us);
            if let Some(map) = value.as_object_mut() {
                map.insert("organisation".into(), incident.org_name.clone().into());
            }
            println!("{value}");
            continue;
        }
        println!("{}  {}  {}", incident.id, incident.org_name, incident.title);
        for c in clocks {
            let due = c.due_at.map_or_else(|| "when handled".to_owned(), clocks::display);
            let status = match c.status {
                Status::Due => "due".to_owned(),
                Status::Overdue => "OVERDUE".to_owned(),
                Status::Submitted => format!(
                    "submitted {}",
                    c.submitted_at.map_or_else(String::new, clocks::display)
                ),
                Status::NotRequired => "not required".to_owned(),
            };
            println!("    {:<18} due {due:<22} {status}", c.stage.as_str());
        }
    }
    if shown == 0 && !args.json {
        println!("{}", if args.due { "nothing due" } else { "no incidents" });
    }
    Ok(())
}

pub(crate) fn receipt(cmd: &ReceiptCommand) -> Result<()> {
    match cmd {
        ReceiptCommand::Verify { public_key, dev, receipt, body } => {
            let key_path = match (public_key, dev) {
                (Some(path), _) => path.clone(),
                (None, Some(dir)) => {
                    herald_exchange::dev::exchange_dir(dir).join("receipt-signing.pub.pem")
                }
                (None, None) => bail!("give --public-key <FILE> or --dev <DIR>"),
            };
            let pem = read(&key_path)?;
            let key = receipt::public_key_from_pem(&pem)
                .with_context(|| key_path.display().to_string())?;
            let text = read(receipt)?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not JSON", receipt.display()))?;
            let value = value.get("receipt").cloned().unwrap_or(value);
            let parsed: Receipt = serde_json::from_value(value)
                .with_context(|| format!("{}: not a receipt", receipt.display()))?;
            let body = body
                .as_ref()
                .map(|p| std::fs::read(p).with_context(|| format!("cannot read {}", p.display())))
                .transpose()?;
            receipt::verify(&key, &parsed, body.as_deref())
                .with_context(|| format!("{}: the receipt does not hold", receipt.display()))?;
            println!(
                "receipt valid: track {}, received at {}, body sha256 {}{}",
                parsed.track,
                parsed.received_at,
                parsed.sha256,
                if body.is_some() { " (matches the body given)" } else { "" }
            );
            Ok(())
        }
        ReceiptCommand::Keygen { private, public } => {
            if private.exists() {
                bail!("{} exists; not overwriting a signing key", private.display());
            }
            let (signer, pem) = ReceiptSigner::generate()?;
            herald_service::secrets::write_secret(private, &pem)
                .with_context(|| format!("cannot write {}", private.display()))?;
            std::fs::write(public, signer.public_key_pem())
                .with_context(|| format!("cannot write {}", public.display()))?;
            eprintln!("wrote {} (0600) and {}", private.display(), public.display());
            Ok(())
        }
    }
}

fn read(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}
