//! `herald match`: diagnosis keys × sightings → matches, exposure windows, daily summaries, v1.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};
use herald_gaen::scoring::{ScoringConfig, v1, v2};
use herald_gaen::{KeyMatch, MatchConfig, Matcher, Platform};
use herald_model::{Clock, DiagnosisKey, UnixTime};
use herald_wire::export;
use p256::ecdsa::VerifyingKey;
use serde::Serialize;

const AFTER_HELP: &str = "\
INPUT FORMATS
  --keys (repeatable): a GAEN export file (.zip with export.bin and export.sig, as apps download
    them; with --public-key its signature must verify), a bare export.bin, or a JSON array of
    diagnosis keys (keys.json):
    [{\"key_data\": \"dcc0xt0aeC3nqWXaXrkxJQ==\", \"rolling_start_interval_number\": 2642976,
      \"rolling_period\": 144, \"transmission_risk_level\": 4, \"report_type\": 1,
      \"days_since_onset_of_symptoms\": 0}]
    key_data is Base64 of 16 bytes; rolling_period defaults to 144, transmission_risk_level to 0;
    report_type (0..5) and days_since_onset_of_symptoms (-14..14) are optional.

  --sightings: JSON Lines, one BLE sighting per line:
    {\"time\": 1585821600, \"rpi\": \"49f3f9d12469dcc9ed356364c30066e4\", \"aem\": \"2da6ebac\",
     \"rssi\": -42, \"previous_scan\": 1585821320}
    time and previous_scan are unix seconds (previous_scan optional: the scan before the one
    that heard it; 120 s is assumed when absent); rpi 32 hex digits; aem 8 hex digits; rssi dBm.

  --config: risk configuration with the Android API's names; every field optional:
    {\"attenuationBucketThresholdDb\": [55, 67, 75], \"attenuationBucketWeights\": [1.75, 1, 0.33, 0],
     \"reportTypeWeights\": {\"1\": 1.0, \"2\": 1.0}, \"infectiousnessWeights\": {\"1\": 0.3, \"2\": 1.0},
     \"minimumWindowScore\": 0, \"daysSinceExposureThreshold\": 0,
     \"daysSinceOnsetToInfectiousness\": {\"0\": 2}, \"infectiousnessWhenDaysSinceOnsetMissing\": 1,
     \"reportTypeWhenMissing\": 1,
     \"v1\": {\"attenuationScores\": [1,2,3,4,5,6,7,8], \"daysSinceLastExposureScores\": [...],
            \"durationScores\": [...], \"transmissionRiskScores\": [...],
            \"durationAtAttenuationThresholds\": [50, 74], \"minimumRiskScore\": 0}}
    Defaults: LFPH \"Narrow Net v2\" with its infectiousness map; v1 scores 1..8.

OUTPUT
  One JSON document: matched_keys (each with its surviving sightings), exposure_windows and
  daily_summaries (v2, Android API field names), and v1 (exposures and summary).";

#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub(crate) struct MatchArgs {
    /// Diagnosis keys: export .zip files, export.bin files or keys.json files (repeatable; see
    /// --help for the formats).
    #[arg(long, value_name = "FILE", required = true)]
    keys: Vec<PathBuf>,
    /// The export signer's public key (SPKI PEM); every export .zip must carry a valid signature.
    #[arg(long, value_name = "PEM")]
    public_key: Option<PathBuf>,
    /// The phone's sightings: a JSON Lines file (see --help for the format).
    #[arg(long, value_name = "FILE")]
    sightings: PathBuf,
    /// Risk configuration JSON (see --help); defaults to LFPH Narrow Net v2.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Whose matching rules apply where Android and iOS differ (TX bounds, attenuation 0).
    #[arg(long, value_enum, default_value_t = PlatformArg::Android)]
    platform: PlatformArg,
    /// Also match keys with report type RECURSIVE (off, as in the reference).
    #[arg(long)]
    match_recursive: bool,
    /// "Now" as unix seconds, for day counts (default: the system clock).
    #[arg(long, value_name = "UNIX")]
    now: Option<i64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PlatformArg {
    Android,
    Ios,
}

#[derive(Serialize)]
struct Output {
    keys: usize,
    sightings: usize,
    matched_keys: Vec<MatchedKey>,
    exposure_windows: Vec<v2::ExposureWindow>,
    daily_summaries: Vec<v2::DailySummary>,
    v1: V1Output,
}

#[derive(Serialize)]
struct MatchedKey {
    key_index: usize,
    #[serde(flatten)]
    key: herald_wire::keys_json::KeyRecord,
    sightings: Vec<MatchedSightingOut>,
}

#[derive(Serialize)]
struct MatchedSightingOut {
    time: i64,
    rpi_interval: u32,
    rssi: i8,
    tx_power: i8,
    attenuation: u8,
    calibration_confidence: u8,
}

#[derive(Serialize)]
struct V1Output {
    exposures: Vec<v1::ExposureInformation>,
    summary: v1::ExposureSummary,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} file {}", path.display()))
}

/// Loads a keys.json file.
pub(crate) fn load_keys(path: &Path) -> Result<Vec<DiagnosisKey>> {
    let bytes = read(path, "keys")?;
    herald_wire::keys_json::parse(&bytes).with_context(|| format!("{}", path.display()))
}

/// Loads keys from an export zip (checking its signature when a key is given), a bare
/// export.bin, or a keys.json, told apart by their first bytes.
fn load_any_keys(path: &Path, public_key: Option<&VerifyingKey>) -> Result<Vec<DiagnosisKey>> {
    let bytes = read(path, "keys")?;
    let context = || path.display().to_string();
    if bytes.starts_with(b"PK\x03\x04") {
        let file =
            export::read_zip(&bytes, &export::ReadLimits::default()).with_context(context)?;
        if let Some(key) = public_key
            && file.valid_signatures(key).is_empty()
        {
            bail!("{}: no signature verifies with the given public key", path.display());
        }
        return Ok(file.contents.keys);
    }
    if bytes.starts_with(export::HEADER) {
        return Ok(export::parse_export_bin(&bytes).with_context(context)?.keys);
    }
    herald_wire::keys_json::parse(&bytes).with_context(context)
}

pub(crate) fn run(args: &MatchArgs, clock: &dyn Clock) -> Result<()> {
    let public_key = match &args.public_key {
        Some(path) => Some(
            export::public_key_from_pem(&String::from_utf8_lossy(&read(path, "public key")?))
                .with_context(|| path.display().to_string())?,
        ),
        None => None,
    };
    let mut keys = Vec::new();
    for path in &args.keys {
        keys.extend(load_any_keys(path, public_key.as_ref())?);
    }
    let text = String::from_utf8(read(&args.sightings, "sightings")?)
        .with_context(|| format!("{} is not UTF-8 text", args.sightings.display()))?;
    let sightings = herald_gaen::sightings::parse(&text)
        .with_context(|| format!("{}", args.sightings.display()))?;
    let config = match &args.config {
        Some(path) => {
            let text = String::from_utf8(read(path, "risk configuration")?)
                .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
            ScoringConfig::from_json(&text).with_context(|| format!("{}", path.display()))?
        }
        None => ScoringConfig::default(),
    };
    let now = args.now.map_or_else(|| clock.now(), UnixTime);
    let match_config = MatchConfig {
        platform: match args.platform {
            PlatformArg::Android => Platform::Android,
            PlatformArg::Ios => Platform::Ios,
        },
        match_recursive: args.match_recursive,
        ..MatchConfig::default()
    };
    let sighting_count = sightings.len();
    let matcher = Matcher::new(sightings, match_config);
    let key_matches: Vec<KeyMatch> = matcher.match_keys_parallel(&keys);
    let output = evaluate(&key_matches, &config, now, keys.len(), sighting_count);
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}

fn evaluate(
    matches: &[KeyMatch],
    config: &ScoringConfig,
    now: UnixTime,
    keys: usize,
    sightings: usize,
) -> Output {
    let mut windows: Vec<v2::ExposureWindow> =
        matches.iter().flat_map(|m| v2::exposure_windows(m, &config.v2)).collect();
    windows.sort_by_key(|w| (w.start, w.key_index));
    let exposures: Vec<v1::ExposureInformation> =
        matches.iter().flat_map(|m| v1::exposures(m, &config.v1, now)).collect();
    Output {
        keys,
        sightings,
        matched_keys: matches
            .iter()
            .map(|m| MatchedKey {
                key_index: m.key_index,
                key: herald_wire::keys_json::KeyRecord::from_key(&m.key),
                sightings: m
                    .sightings
                    .iter()
                    .map(|s| MatchedSightingOut {
                        time: s.time.seconds(),
                        rpi_interval: s.interval.get(),
                        rssi: s.rssi,
                        tx_power: s.tx_power,
                        attenuation: s.attenuation,
                        calibration_confidence: s.calibration_confidence,
                    })
                    .collect(),
            })
            .collect(),
        daily_summaries: v2::daily_summaries(&windows, &config.v2, now),
        exposure_windows: windows,
        v1: V1Output { summary: v1::summary(&exposures, now), exposures },
    }
}
