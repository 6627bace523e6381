//! `herald pki …`: the development PKI.
//! (Being implemented: see issue 3.)

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub(crate) enum PkiCommand {
    /// Write a complete development PKI: TLS CA, gateway server certificate, per-country client
    /// and signing certificates, and the gateway operator's trust anchor.
    Dev(DevArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// The folder to write into.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Countries to issue certificates for, comma-separated ISO 3166-1 alpha-2 codes.
    #[arg(long, value_name = "CC,CC,…", value_delimiter = ',', required = true)]
    pub(crate) countries: Vec<String>,
}

pub(crate) fn run(cmd: PkiCommand) -> Result<()> {
    let _ = cmd;
    bail!("herald pki is not implemented yet")
}
