//! `herald bench exports`: the key server's export job over a day of stored keys.
//!
//! N keys (released evenly over one day, keys of the 14 days before) go into a fresh SQLite key
//! server store in a temporary folder; then one run of the export job writes that day's files
//! for an hourly and a daily export configuration (ENS's layout), signed, with their indexes,
//! into a local object store. Reported: keys per second of the run (stored keys, and keys
//! written, which counts each key once per configuration), files, and the peak memory of the
//! run. Measured in the same run, as the machine's own limits: a plain scan of the same rows
//! from SQLite, and building + signing files from the same number of keys held in memory
//! (no storage), which together bound what the job can reach.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use herald_keyserver::config::ExportConfigEntry;
use herald_keyserver::export::{Blobs, ExportKey, ExportSettings, Exporter};
use herald_keyserver::store::{Store, StoredKey, VerificationReportType};
use herald_model::{Clock, CountryCode, ManualClock, TemporaryExposureKey, UnixTime};
use herald_wire::export::{FileSigner, SignatureInfo};
use rand::{Rng as _, RngExt as _, SeedableRng as _};
use serde::Serialize;

use super::{ExportFiles, peak_rss, reset_peak_rss};

#[derive(Debug, Args)]
pub(crate) struct ExportsBench {
    /// Keys released during the day.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    keys: usize,
    #[command(flatten)]
    files: ExportFiles,
}

#[derive(Serialize)]
struct ExportsReport {
    keys: usize,
    keys_written: usize,
    files: usize,
    seconds: f64,
    keys_per_second: f64,
    written_keys_per_second: f64,
    peak_rss_bytes: Option<u64>,
    baseline_sqlite_scan_keys_per_second: f64,
    baseline_build_keys_per_second: f64,
    load_seconds: f64,
}

/// The benchmark day: 2026-11-02 (UTC), far from the wall clock's keys but inside validity.
const DAY_START: i64 = 1_793_577_600;

fn stored_key(rng: &mut rand::rngs::StdRng, released: i64, origin: CountryCode) -> StoredKey {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    let day = rng.random_range(1..=14_i64);
    let dsos = rng.random_range(-5..=9_i32);
    StoredKey {
        key: TemporaryExposureKey::from_bytes(bytes),
        transmission_risk: rng.random_range(1..=8),
        source: "bench.herald.app".into(),
        regions: vec!["DE".into()],
        traveler: false,
        interval_number: u32::try_from((DAY_START / 86_400 - day) * 144).unwrap_or(0),
        interval_count: 144,
        created_at: released,
        local_provenance: true,
        origin,
        report_type: Some(VerificationReportType::Confirmed),
        days_since_onset: Some(dsos),
        revision: None,
    }
}

fn config(name: &str, period: i64, max_records: usize) -> ExportConfigEntry {
    ExportConfigEntry {
        name: name.into(),
        region: "DE".into(),
        period_seconds: period,
        input_regions: vec!["*".into()],
        include_travelers: false,
        max_records,
        min_records: 1000,
        padding_range: 100,
        padding_ladder_percent: 0,
    }
}

pub(crate) async fn run(args: &ExportsBench) -> Result<()> {
    let ExportFiles { max_keys, seed } = args.files;
    if args.keys == 0 || max_keys == 0 {
        bail!("--keys and --max-keys must be at least 1");
    }
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let db = dir.path().join("keyserver.db");
    let store = Store::open(&format!("sqlite:{}", db.display())).await?;

    // Load: keys released evenly over the day, in whole hours as the publish API stores them.
    let started = Instant::now();
    let de: CountryCode = "DE".parse()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut done = 0;
    while done < args.keys {
        let n = (args.keys - done).min(10_000);
        let chunk: Vec<StoredKey> = (done..done + n)
            .map(|i| {
                let hour = i64::try_from(i * 24 / args.keys).unwrap_or(0);
                stored_key(&mut rng, DAY_START + hour * 3600, de)
            })
            .collect();
        store.insert_keys(&chunk, None).await?;
        let before = done * 10 / args.keys;
        done += n;
        if done * 10 / args.keys != before {
            eprint!("\rstoring {} keys: {:3} %", args.keys, done * 100 / args.keys);
        }
    }
    eprintln!();
    let load_seconds = started.elapsed().as_secs_f64();

    // Baseline 1: read the same rows back, nothing else.
    let scan_seconds = sqlite_scan(&db, args.keys).await?;

    // The export run, at the day's end + 3 h (every window of the day is past its embargo).
    let mut scalar = [0u8; 32];
    rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed).fill_bytes(&mut scalar);
    let signing = p256::ecdsa::SigningKey::from_slice(&scalar)
        .map_err(|e| anyhow::anyhow!("cannot make a benchmark signing key: {e}"))?;
    let signer = FileSigner::new(signing.clone(), SignatureInfo::ecdsa_p256("262", "v1")?);
    let clock = Arc::new(ManualClock::new(UnixTime(DAY_START + 27 * 3600)));
    let exporter = Exporter::new(
        store.clone(),
        Blobs::directory(&dir.path().join("exports"))?,
        vec![ExportKey { signer, until: None }],
        clock as Arc<dyn Clock>,
        ExportSettings {
            configs: vec![
                config("DE/hourly", 3600, max_keys),
                config("DE/daily", 86_400, max_keys),
            ],
            country: de,
            min_window_age: 7200,
            retention_days: 14,
            federate_fakes: false,
        },
    );
    eprintln!("exporting the day's windows (hourly and daily) …");
    let resettable = reset_peak_rss();
    let started = Instant::now();
    let report = exporter.run_once().await?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_bytes = resettable.then(peak_rss).flatten();
    store.close().await;

    // Baseline 2: the codec alone, on as many keys as the run wrote, from memory.
    let build_seconds = build_only(&signing, report.keys, max_keys, seed)?;

    #[allow(clippy::cast_precision_loss)] // key counts are far below 2^52
    let (n, written) = (args.keys as f64, report.keys as f64);
    let out = ExportsReport {
        keys: args.keys,
        keys_written: report.keys,
        files: report.files,
        seconds,
        keys_per_second: n / seconds,
        written_keys_per_second: written / seconds,
        peak_rss_bytes,
        baseline_sqlite_scan_keys_per_second: n / scan_seconds,
        baseline_build_keys_per_second: written / build_seconds,
        load_seconds,
    };
    eprintln!(
        "{} files, {:.0} stored keys/s ({:.0} written keys/s); limits: SQLite scan {:.0} keys/s, build+sign {:.0} keys/s",
        out.files,
        out.keys_per_second,
        out.written_keys_per_second,
        out.baseline_sqlite_scan_keys_per_second,
        out.baseline_build_keys_per_second
    );
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

/// Seconds to read every stored key's exported columns once, in the order the export job reads
/// them, on a connection of its own.
async fn sqlite_scan(db: &std::path::Path, expected: usize) -> Result<f64> {
    use sqlx::Row as _;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(db).read_only(true))
        .await
        .context("cannot open the benchmark database")?;
    let started = Instant::now();
    let mut seen = 0usize;
    let mut checksum = 0u64;
    let mut after: (i64, Vec<u8>) = (i64::MIN, Vec::new());
    // Pages in (release time, key) order through the same index the export job reads.
    loop {
        let rows = sqlx::query(
            "SELECT key_data, transmission_risk, interval_number, interval_count, report_type, \
             days_since_onset, created_at FROM exposure WHERE (created_at, key_data) > (?, ?) \
             ORDER BY created_at, key_data LIMIT 5000",
        )
        .bind(after.0)
        .bind(&after.1)
        .fetch_all(&pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = (last.try_get(6)?, last.try_get(0)?);
        for row in &rows {
            let risk: i64 = row.try_get(1)?;
            checksum = checksum.wrapping_add(u64::try_from(risk).unwrap_or(0));
        }
        seen += rows.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    pool.close().await;
    if seen != expected {
        bail!("the scan read {seen} rows, {expected} were stored");
    }
    std::hint::black_box(checksum);
    Ok(seconds)
}

/// Seconds to build and sign files of `n` generated keys in memory.
fn build_only(
    signing: &p256::ecdsa::SigningKey,
    n: usize,
    max_keys: usize,
    seed: u64,
) -> Result<f64> {
    use herald_model::{DiagnosisKey, IntervalNumber, RollingPeriod};
    use herald_wire::export::{ExportBuilder, ExportSigner, ExportSpec};
    let signer = FileSigner::new(signing.clone(), SignatureInfo::ecdsa_p256("262", "v1")?);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0xb01d);
    let keys = (0..n).map(move |_| {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        let day = u32::try_from(DAY_START / 86_400).unwrap_or(0) - rng.random_range(1..=14u32);
        (
            DiagnosisKey::new(
                TemporaryExposureKey::from_bytes(bytes),
                IntervalNumber(day * 144),
                RollingPeriod::FULL_DAY,
            ),
            false,
        )
    });
    let spec = ExportSpec {
        region: "DE".into(),
        start_timestamp: u64::try_from(DAY_START)?,
        end_timestamp: u64::try_from(DAY_START + 86_400)?,
        max_records: max_keys,
        signers: vec![&signer as &dyn ExportSigner],
    };
    let started = Instant::now();
    for built in ExportBuilder::new(spec, keys)? {
        std::hint::black_box(built?.zip.len());
    }
    Ok(started.elapsed().as_secs_f64())
}
