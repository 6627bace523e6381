//! `herald bench …`: throughput on this machine, as one JSON line on stdout.

use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use herald_gaen::{Aem, AemKey, KeyMatch, MatchConfig, Matcher, Metadata, Rpi, RpiKey, Sighting};
use herald_model::{DiagnosisKey, IntervalNumber, RollingPeriod, TemporaryExposureKey, UnixTime};
use rand::{Rng as _, RngExt as _, SeedableRng as _};
use serde::Serialize;

mod app;
mod crash;
mod exchange;
mod exports;
mod gateway;
mod padding;
mod publish;
mod scratch_pg;

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Match N random diagnosis keys against M sightings, some planted to match, and report
    /// keys per second. Compare with the compute bound: one HKDF (6 SHA-256 blocks) and 144
    /// AES-128 blocks per key (`openssl speed -evp sha256 -evp aes-128-ecb`; see README).
    Match(MatchBench),
    /// Build and sign export files from N generated keys and report keys per second and peak
    /// memory, next to plain protobuf encoding of the same keys in the same run. Keys are
    /// generated on the fly, so memory shows what one output file costs, not the input.
    Export(ExportBench),
    /// Run a gateway on SQLite in a temporary dev world, upload N signed batches of K keys as
    /// DE over loopback mTLS with C concurrent uploads, download everything as NL, and report
    /// keys per second next to the raw SQLite insert rate of the same rows (the baseline: the
    /// stored rows, read back, inserted into an empty copy of the gateway's tables).
    Gateway(GatewayBench),
    /// Store N keys released over one day in a fresh SQLite key server, run its export job for
    /// the day (hourly and daily files, signed, indexed, into a local folder) and report keys
    /// per second and peak memory, next to a plain SQLite scan of the same rows and
    /// building + signing the same number of keys from memory, measured in the same run.
    Exports(exports::ExportsBench),
    /// N simulated apps at once (default 200) each going through the whole upload path —
    /// /api/verify, /api/certificate with the keys' HMAC, /v1/publish — plus chaff at the apps'
    /// ratio, against a verifier and a key server over loopback HTTPS on SQLite (and on
    /// PostgreSQL with --postgres); reports throughput and p50/p99/max per endpoint next to the
    /// same HTTPS stack answering an empty padded response at the same concurrency.
    Publish(publish::PublishBench),
    /// Simulate 27 EU countries' key servers padding their export windows, the federation
    /// carrying every key (padding too, if the policy federates it) to every other country, and
    /// report per country what a phone downloads a day against the bytes of the real keys it
    /// needs, on a typical and a peak day, with what the gateway learns about a small
    /// country's uploads. One day of Germany's files is built and signed for real; a byte
    /// model calibrated on it gives the rest. Text tables on stdout.
    Padding(padding::PaddingBench),
    /// The load of `bench publish` against real service processes (gateway, verifier, key
    /// server) while they crash: `kill -9` of the key server and of the verifier, restarted at
    /// once; PostgreSQL crashed and restarted under the services; the gateway away for a while.
    /// Then counts what was lost or accepted twice: acknowledged keys missing from the store,
    /// codes, tokens and certificates accepted twice, keys missing or duplicated at the gateway
    /// and in the export files. A table per scenario; exits non-zero when a count is not 0.
    Crash(crash::CrashBench),
    /// Run the exchange as a process of its own (`herald exchange serve --dev` in a temporary
    /// folder), post N STIX indicators (TLP:GREEN) to a collection in TAXII envelopes of B with C
    /// concurrent clients over loopback HTTPS, read them back as another member in pages of P
    /// following `next`, and report objects per second, the first, median and last page's time
    /// and the server's peak memory, next to raw SQLite inserts and a raw scan of the same rows.
    Exchange(exchange::ExchangeBench),
    /// The dev verifier of `bench crash` (behind a proxy header); not for direct use.
    #[command(hide = true)]
    CrashVerifier(crash::verifier::CrashVerifier),
}

#[derive(Debug, Args)]
pub(crate) struct GatewayBench {
    /// Number of upload batches.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub(crate) batches: usize,
    /// Keys per batch (EFGS allows at most 5000).
    #[arg(long, value_name = "K", default_value_t = 5000)]
    pub(crate) keys_per_batch: usize,
    /// Concurrent uploads.
    #[arg(long, value_name = "C", default_value_t = 4)]
    pub(crate) concurrency: usize,
    /// Store the keys unencrypted (`at_rest_encryption = false`), to see what at-rest
    /// encryption costs.
    #[arg(long)]
    pub(crate) plaintext: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExportBench {
    /// Number of keys.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    keys: usize,
    #[command(flatten)]
    files: ExportFiles,
}

// How `bench export` and `bench exports` cut their generated keys into files, and the keys'
// seed. Not a `///` comment: clap applies a flattened struct's doc comment as the about text of
// the command that flattens it.
#[derive(Debug, Args)]
pub(crate) struct ExportFiles {
    /// Most keys per file.
    #[arg(long, value_name = "N", default_value_t = herald_wire::export::DEFAULT_MAX_RECORDS)]
    max_keys: usize,
    /// Seed for the generated keys.
    #[arg(long, default_value_t = 1)]
    seed: u64,
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
        BenchCommand::Export(args) => export_bench(&args),
        BenchCommand::Gateway(args) => crate::run_async(gateway::run(&args)),
        BenchCommand::Exports(args) => crate::run_async(exports::run(&args)),
        BenchCommand::Publish(args) => crate::run_async(publish::run(&args)),
        BenchCommand::Padding(args) => padding::run(&args),
        BenchCommand::Crash(args) => crate::run_async(crash::run(&args)),
        BenchCommand::Exchange(args) => crate::run_async(exchange::run(&args)),
        BenchCommand::CrashVerifier(args) => crate::run_async(crash::verifier::serve(&args)),
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
    let keys: Vec<DiagnosisKey> = (0..args.keys).map(|_| random_key(&mut rng)).collect();

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

#[derive(Serialize)]
struct ExportReport {
    keys: usize,
    max_keys_per_file: usize,
    files: usize,
    build_seconds: f64,
    keys_per_second: f64,
    protobuf_seconds: f64,
    protobuf_keys_per_second: f64,
    largest_zip_bytes: usize,
    peak_rss_build_bytes: Option<u64>,
    peak_rss_protobuf_bytes: Option<u64>,
}

/// A random full-day diagnosis key of one of the `DAYS` days from `BASE_DAY`.
fn random_key(rng: &mut rand::rngs::StdRng) -> DiagnosisKey {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    let day = BASE_DAY + rng.random_range(0..DAYS);
    DiagnosisKey::new(
        TemporaryExposureKey::from_bytes(bytes),
        IntervalNumber(day * 144),
        RollingPeriod::FULL_DAY,
    )
}

/// Generates `n` keys from `seed` lazily, in no particular order.
fn generated_keys(n: usize, seed: u64) -> impl Iterator<Item = DiagnosisKey> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(move |_| random_key(&mut rng))
}

/// Resets the kernel's peak-RSS counter of this process (Linux); `false` where unsupported.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Peak resident memory since the last reset, from /proc/self/status (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn export_bench(args: &ExportBench) -> Result<()> {
    use herald_wire::export::{self, ExportBuilder, ExportSigner, ExportSpec, FileSigner, RawKey};
    use prost::Message as _;

    let ExportFiles { max_keys, seed } = args.files;
    if args.keys == 0 || max_keys == 0 {
        bail!("--keys and --max-keys must be at least 1");
    }
    let mut scalar = [0u8; 32];
    rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed).fill_bytes(&mut scalar);
    let key = p256::ecdsa::SigningKey::from_slice(&scalar)
        .map_err(|e| anyhow::anyhow!("cannot make a benchmark signing key: {e}"))?;
    let signer = FileSigner::new(key, export::SignatureInfo::ecdsa_p256("bench", "v1")?);

    // Plain protobuf encoding of the same keys, in the same file-sized chunks.
    let resettable = reset_peak_rss();
    eprintln!("encoding {} keys as plain protobuf …", args.keys);
    let started = Instant::now();
    let mut keys = generated_keys(args.keys, seed).peekable();
    let mut encoded_bytes = 0usize;
    while keys.peek().is_some() {
        let chunk: Vec<_> =
            keys.by_ref().take(max_keys).map(|k| RawKey::from_key(&k).to_proto()).collect();
        let message = herald_wire::proto::gaen::TemporaryExposureKeyExport {
            keys: chunk,
            ..Default::default()
        };
        encoded_bytes += message.encode_to_vec().len();
    }
    let protobuf_seconds = started.elapsed().as_secs_f64();
    let peak_rss_protobuf_bytes = resettable.then(peak_rss).flatten();

    let resettable = reset_peak_rss();
    eprintln!("building and signing export files …");
    let spec = ExportSpec {
        region: "XX".into(),
        start_timestamp: u64::from(BASE_DAY) * 86_400,
        end_timestamp: u64::from(BASE_DAY + DAYS) * 86_400,
        max_records: max_keys,
        signers: vec![&signer as &dyn ExportSigner],
    };
    let started = Instant::now();
    let mut files = 0;
    let mut largest = 0;
    for built in ExportBuilder::new(spec, generated_keys(args.keys, seed).map(|k| (k, false)))? {
        let built = built?;
        files += 1;
        largest = largest.max(built.zip.len());
    }
    let build_seconds = started.elapsed().as_secs_f64();
    let peak_rss_build_bytes = resettable.then(peak_rss).flatten();

    #[allow(clippy::cast_precision_loss)] // key counts are far below 2^52
    let n = args.keys as f64;
    eprintln!(
        "{files} file(s), {:.0} keys/s signed and zipped, {:.0} keys/s plain protobuf ({encoded_bytes} bytes)",
        n / build_seconds,
        n / protobuf_seconds
    );
    let report = ExportReport {
        keys: args.keys,
        max_keys_per_file: max_keys,
        files,
        build_seconds,
        keys_per_second: n / build_seconds,
        protobuf_seconds,
        protobuf_keys_per_second: n / protobuf_seconds,
        largest_zip_bytes: largest,
        peak_rss_build_bytes,
        peak_rss_protobuf_bytes,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
