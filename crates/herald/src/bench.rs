//! `herald bench …`: throughput on this machine, as one JSON line on stdout.

use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use herald_gaen::{Aem, AemKey, KeyMatch, MatchConfig, Matcher, Metadata, Rpi, RpiKey, Sighting};
use herald_model::{DiagnosisKey, IntervalNumber, RollingPeriod, TemporaryExposureKey, UnixTime};
use rand::{Rng as _, RngExt as _, SeedableRng as _};
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Match N random diagnosis keys against M sightings, some planted to match, and report
    /// keys per second. Compare with the compute bound: one HKDF (6 SHA-256 blocks) and 144
    /// AES-128 blocks per key (`openssl speed -evp sha256 -evp aes-128-ecb`; see README).
    Match(MatchBench),
}

#[derive(Debug, Args)]
pub(crate) struct MatchBench {
    /// Number of diagnosis keys (each with a full 144-interval rolling period).
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    keys: usize,
    /// Number of sightings on the phone.
    #[arg(long, value_name = "M", default_value_t = 20_000)]
    sightings: usize,
    /// Worker threads (1 = this thread only).
    #[arg(long, value_name = "T", default_value_t = 1)]
    threads: usize,
    /// Seed for the generated data (default: random).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Serialize)]
struct Report {
    keys: usize,
    sightings: usize,
    threads: usize,
    seconds: f64,
    keys_per_second: f64,
    matches_planted: usize,
    matches_found: usize,
}

/// First day of the generated 14-day period (2024-10-04), far from any real data.
const BASE_DAY: u32 = 20_000;
const DAYS: u32 = 14;

pub(crate) fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Match(args) => match_bench(&args),
    }
}

fn match_bench(args: &MatchBench) -> Result<()> {
    if args.keys == 0 || args.threads == 0 {
        bail!("--keys and --threads must be at least 1");
    }
    let seed = match args.seed {
        Some(s) => s,
        None => crate::os_rng()?.next_u64(),
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    eprintln!("generating {} keys and {} sightings (seed {seed}) …", args.keys, args.sightings);
    let keys: Vec<DiagnosisKey> = (0..args.keys)
        .map(|_| {
            let mut bytes = [0u8; 16];
            rng.fill_bytes(&mut bytes);
            let day = BASE_DAY + rng.random_range(0..DAYS);
            DiagnosisKey::new(
                TemporaryExposureKey::from_bytes(bytes),
                IntervalNumber(day * 144),
                RollingPeriod::FULL_DAY,
            )
        })
        .collect();

    // Plant one sighting each for a few keys; the rest are random RPIs that match nothing.
    let planted = args.sightings.min(args.keys).min((args.sightings / 20).max(1));
    let mut sightings = Vec::with_capacity(args.sightings);
    let step = args.keys / planted.max(1);
    for key in keys.iter().step_by(step.max(1)).take(planted) {
        let interval = key.rolling_start.checked_add(rng.random_range(0..144))?;
        let rpi = RpiKey::derive(&key.key).generator().rpi(interval);
        let aem = AemKey::derive(&key.key).encrypt(&rpi, Metadata::v1_0(-10));
        let time = UnixTime(interval.start().seconds() + rng.random_range(0..600));
        sightings.push(Sighting { rpi, aem, time, rssi: -70, previous_scan: None });
    }
    let start_seconds = i64::from(BASE_DAY) * 86_400;
    while sightings.len() < args.sightings {
        let mut rpi = [0u8; 16];
        rng.fill_bytes(&mut rpi);
        let mut aem = [0u8; 4];
        rng.fill_bytes(&mut aem);
        let time = UnixTime(start_seconds + rng.random_range(0..i64::from(DAYS) * 86_400));
        sightings.push(Sighting {
            rpi: Rpi(rpi),
            aem: Aem(aem),
            time,
            rssi: -80,
            previous_scan: None,
        });
    }

    let matcher = Matcher::new(sightings, MatchConfig::default());
    eprintln!("matching on {} thread(s) …", args.threads);
    let started = Instant::now();
    let key_matches: Vec<KeyMatch> = if args.threads == 1 {
        matcher.match_keys(&keys).collect()
    } else {
        rayon::ThreadPoolBuilder::new()
            .num_threads(args.threads)
            .build()
            .context("cannot start the worker threads")?
            .install(|| matcher.match_keys_parallel(&keys))
    };
    let seconds = started.elapsed().as_secs_f64();
    let found: usize = key_matches.iter().map(|m| m.sightings.len()).sum();
    #[allow(clippy::cast_precision_loss)] // key counts are far below 2^52
    let keys_per_second = args.keys as f64 / seconds;
    eprintln!("{keys_per_second:.0} keys/s; planted {planted}, found {found}");
    let report = Report {
        keys: args.keys,
        sightings: args.sightings,
        threads: args.threads,
        seconds,
        keys_per_second,
        matches_planted: planted,
        matches_found: found,
    };
    println!("{}", serde_json::to_string(&report)?);
    if found != planted {
        bail!("the matcher found {found} matches but {planted} were planted");
    }
    Ok(())
}
