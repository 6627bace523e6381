//! `herald efgs …`: EFGS batch signatures on the command line.
//! (Being implemented: see issue 3.)

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub(crate) enum EfgsCommand {
    /// Sign a batch of keys: prints the Base64 CMS `batchSignature`.
    Sign(SignArgs),
    /// Check a `batchSignature` against keys and a certificate.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The keys of the batch.
    #[arg(long, value_name = "FILE")]
    pub(crate) keys: PathBuf,
    /// The signing certificate, PEM.
    #[arg(long, value_name = "PEM")]
    pub(crate) cert: PathBuf,
    /// The signing key, PKCS#8 PEM.
    #[arg(long, value_name = "PEM")]
    pub(crate) key: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The keys of the batch.
    #[arg(long, value_name = "FILE")]
    pub(crate) keys: PathBuf,
    /// The Base64 `batchSignature`.
    #[arg(long, value_name = "BASE64")]
    pub(crate) signature: String,
    /// The certificate the signer must be, PEM.
    #[arg(long, value_name = "PEM")]
    pub(crate) cert: PathBuf,
}

#[allow(clippy::needless_pass_by_value)] // placeholder until the command lands
pub(crate) fn run(cmd: EfgsCommand) -> Result<()> {
    match cmd {
        EfgsCommand::Sign(_) | EfgsCommand::Verify(_) => {
            bail!("herald efgs is not implemented yet")
        }
    }
}
