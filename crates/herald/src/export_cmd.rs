//! `herald export …`: GAEN export files.

use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {}

pub(crate) fn run(cmd: ExportCommand) -> Result<()> {
    match cmd {}
}
