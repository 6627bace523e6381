//! `herald export …`: build and inspect GAEN export files.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use herald_model::DiagnosisKey;
use herald_wire::export::{
    self, DEFAULT_MAX_RECORDS, ExportBuilder, ExportFile, ExportSigner, ExportSpec, FileSigner,
    ReadLimits, SignatureInfo,
};
use herald_wire::keys_json::KeyRecord;
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
    /// Build signed export files from a keys.json (see `herald match --help` for the format).
    ///
    /// Keys are sorted by key bytes in each file and written with the Google Exposure
    /// Notifications Server's field rules; the zip is reproducible. When there are more keys
    /// than --max-keys, the window is split into files `<out stem>-00001.zip`, `-00002.zip`, …
    /// (each batch 1/1, end timestamp + file number, as ENS does).
    Build(BuildArgs),
    /// Print an export file as JSON; with --public-key, also check its signatures (exit code 1
    /// when none verifies).
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// The keys, a keys.json file.
    #[arg(long, value_name = "FILE")]
    keys: PathBuf,
    /// The ECDSA P-256 signing key, PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----").
    #[arg(long, value_name = "PEM")]
    signing_key: PathBuf,
    /// verification_key_id registered with Apple and Google (e.g. the MCC, "262").
    #[arg(long, value_name = "ID")]
    key_id: String,
    /// verification_key_version registered with Apple and Google (e.g. "v1").
    #[arg(long, value_name = "VERSION")]
    key_version: String,
    /// The export's region, e.g. "DE".
    #[arg(long)]
    region: String,
    /// Where to write the zip.
    #[arg(long, value_name = "FILE.zip")]
    out: PathBuf,
    /// Window start, unix seconds (default: the earliest key's rolling start).
    #[arg(long, value_name = "UNIX")]
    start: Option<u64>,
    /// Window end, unix seconds (default: the latest key's expiry).
    #[arg(long, value_name = "UNIX")]
    end: Option<u64>,
    /// Most keys per file.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_RECORDS)]
    max_keys: usize,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The export zip.
    #[arg(value_name = "FILE.zip")]
    file: PathBuf,
    /// The signer's public key, SPKI PEM ("-----BEGIN PUBLIC KEY-----").
    #[arg(long, value_name = "PEM")]
    public_key: Option<PathBuf>,
}

pub(crate) fn run(cmd: ExportCommand) -> Result<()> {
    match cmd {
        ExportCommand::Build(args) => build(&args),
        ExportCommand::Inspect(args) => inspect(&args),
    }
}

fn read_text(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

fn build(args: &BuildArgs) -> Result<()> {
    let keys = crate::match_cmd::load_keys(&args.keys)?;
    if keys.is_empty() {
        bail!("{} has no keys; an empty window produces no export file", args.keys.display());
    }
    let info = SignatureInfo::ecdsa_p256(&args.key_id, &args.key_version)?;
    let signer = FileSigner::from_pkcs8_pem(&read_text(&args.signing_key, "signing key")?, info)
        .with_context(|| args.signing_key.display().to_string())?;
    let start = args.start.unwrap_or_else(|| {
        keys.iter().map(|k| u64::from(k.rolling_start.get()) * 600).min().unwrap_or(0)
    });
    let end = args.end.unwrap_or_else(|| {
        keys.iter()
            .map(|k| (u64::from(k.rolling_start.get()) + u64::from(k.rolling_period.get())) * 600)
            .max()
            .unwrap_or(start)
    });
    let spec = ExportSpec {
        region: args.region.clone(),
        start_timestamp: start,
        end_timestamp: end,
        max_records: args.max_keys,
        signers: vec![&signer as &dyn ExportSigner],
    };
    for built in ExportBuilder::new(spec, keys.into_iter().map(|k| (k, false)))? {
        let built = built?;
        let path = if built.file_num == 1 && built.header.end_timestamp == end {
            args.out.clone()
        } else {
            numbered(&args.out, built.file_num)
        };
        write_atomically(&path, &built.zip)?;
        eprintln!("wrote {} ({} keys, {} bytes)", path.display(), built.key_count, built.zip.len());
    }
    Ok(())
}

/// `dir/name-00003.zip` for `dir/name.zip`.
fn numbered(out: &Path, file_num: usize) -> PathBuf {
    let stem = out.file_stem().map_or_else(|| "export".into(), |s| s.to_string_lossy());
    let ext = out.extension().map_or_else(|| "zip".into(), |s| s.to_string_lossy());
    out.with_file_name(format!("{stem}-{file_num:05}.{ext}"))
}

/// Writes next to the target and renames, so a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[derive(Serialize)]
struct Inspection {
    region: Option<String>,
    start_timestamp: Option<u64>,
    end_timestamp: Option<u64>,
    batch_num: Option<i32>,
    batch_size: Option<i32>,
    keys: Vec<KeyRecord>,
    revised_keys: Vec<KeyRecord>,
    signatures: Vec<SignatureOut>,
}

#[derive(Serialize)]
struct SignatureOut {
    key_id: Option<String>,
    key_version: Option<String>,
    algorithm: Option<String>,
    batch_num: Option<i32>,
    batch_size: Option<i32>,
    /// `null` when no public key was given.
    valid: Option<bool>,
}

/// Reads an export zip from disk with the default limits.
pub(crate) fn read_export(path: &Path) -> Result<ExportFile> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read export file {}", path.display()))?;
    export::read_zip(&bytes, &ReadLimits::default()).with_context(|| path.display().to_string())
}

fn inspect(args: &InspectArgs) -> Result<()> {
    let file = read_export(&args.file)?;
    let key = match &args.public_key {
        Some(path) => Some(
            export::public_key_from_pem(&read_text(path, "public key")?)
                .with_context(|| path.display().to_string())?,
        ),
        None => None,
    };
    let valid = key.map(|k| file.valid_signatures(&k));
    let records = |keys: &[DiagnosisKey]| keys.iter().map(KeyRecord::from_key).collect();
    let c = &file.contents;
    let out = Inspection {
        region: c.region.clone(),
        start_timestamp: c.start_timestamp,
        end_timestamp: c.end_timestamp,
        batch_num: c.batch_num,
        batch_size: c.batch_size,
        keys: records(&c.keys),
        revised_keys: records(&c.revised_keys),
        signatures: file
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| SignatureOut {
                key_id: s.info.key_id.clone(),
                key_version: s.info.key_version.clone(),
                algorithm: s.info.algorithm.clone(),
                batch_num: s.batch_num,
                batch_size: s.batch_size,
                valid: valid.as_ref().map(|v| v.contains(&i)),
            })
            .collect(),
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    if valid.is_some_and(|v| v.is_empty()) {
        bail!("no signature of {} verifies with the given public key", args.file.display());
    }
    Ok(())
}
