//! `herald gaen …`: the key schedule on the command line.

use std::io::Write as _;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use herald_gaen::{AemKey, Metadata, RpiKey, generate_tek};
use herald_model::key::hex_into;
use herald_model::{IntervalNumber, RollingPeriod, TemporaryExposureKey};

#[derive(Debug, Subcommand)]
pub(crate) enum GaenCommand {
    /// Print a fresh random TEK (16 bytes from the OS RNG) as 32 hex digits.
    Tek,
    /// Print the RPIs of a TEK, one line per interval: `<ENIN> <RPI hex>` [`<AEM hex>`].
    Rpis(RpisArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RpisArgs {
    /// The TEK, 32 hex digits.
    #[arg(long, value_name = "HEX")]
    tek: String,
    /// The first interval number (ENIN = unix seconds / 600).
    #[arg(long, value_name = "ENIN")]
    start: u32,
    /// How many intervals, 1..=144.
    #[arg(long, value_name = "1..144", default_value_t = 144)]
    period: u32,
    /// 4 bytes of Bluetooth metadata (8 hex digits, e.g. 40080000 = v1.0, +8 dBm); adds the AEM
    /// as a third column.
    #[arg(long, value_name = "HEX")]
    metadata: Option<String>,
}

pub(crate) fn run(cmd: GaenCommand) -> Result<()> {
    match cmd {
        GaenCommand::Tek => {
            let tek = generate_tek(&mut crate::os_rng()?);
            println!("{}", tek.to_hex());
            Ok(())
        }
        GaenCommand::Rpis(args) => rpis(&args),
    }
}

fn rpis(args: &RpisArgs) -> Result<()> {
    let tek = TemporaryExposureKey::from_hex(&args.tek).context("--tek")?;
    let period = RollingPeriod::new(args.period).context("--period")?;
    let start = IntervalNumber(args.start);
    if start.checked_add(u32::from(period.get()) - 1).is_err() {
        bail!(
            "--start {} with --period {} runs past the last interval number",
            args.start,
            args.period
        );
    }
    let metadata = match &args.metadata {
        Some(hex) => {
            let mut bytes = [0u8; 4];
            hex_into(hex.trim(), &mut bytes).context("--metadata must be 8 hex digits")?;
            Some(Metadata::from_bytes(bytes))
        }
        None => None,
    };
    let rpis = RpiKey::derive(&tek).generator().rpis(start, usize::from(period.get()));
    let aemk = metadata.map(|_| AemKey::derive(&tek));
    let mut out = std::io::stdout().lock();
    for (enin, rpi) in (start.get()..).zip(&rpis) {
        let rpi_hex = herald_model::key::to_hex(&rpi.0);
        match (&aemk, metadata) {
            (Some(aemk), Some(m)) => {
                let aem = aemk.encrypt(rpi, m);
                writeln!(out, "{enin} {rpi_hex} {}", herald_model::key::to_hex(&aem.0))?;
            }
            _ => writeln!(out, "{enin} {rpi_hex}")?,
        }
    }
    Ok(())
}
