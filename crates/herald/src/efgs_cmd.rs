//! `herald efgs …`: EFGS batch signatures on the command line.
//!
//! `sign` prints the Base64 `batchSignature` (a detached DER CMS over the batch's canonical
//! signed bytes) on one line; `verify` checks one against the keys and the signer's certificate.
//! Keys come as an EFGS JSON batch (`{"keys": [...]}`, the `application/json; version=1.0`
//! upload body) or as a herald `keys.json` array, which lacks the EFGS country fields: those come
//! from `--origin` (default: the certificate subject's `C`) and `--visited`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, Subcommand};
use herald_model::{Clock as _, CountryCode};
use herald_wire::cms::{SignerCertificate, SigningIdentity};
use herald_wire::efgs::{self, EfgsKey};
use herald_wire::keys_json;

#[derive(Debug, Subcommand)]
pub(crate) enum EfgsCommand {
    /// Sign a batch of keys: prints the Base64 CMS `batchSignature`.
    Sign(SignArgs),
    /// Check a `batchSignature` against keys and a certificate.
    Verify(VerifyArgs),
    /// Sign and upload a batch to a gateway (mTLS); prints the batchTag.
    Upload(crate::efgs_client_cmd::UploadArgs),
    /// Download a day's batches from a gateway, walking the nextBatchTag chain, and re-verify
    /// every other country's upload signature through the audit endpoint.
    Download(crate::efgs_client_cmd::DownloadArgs),
    /// Print the audit of one download batch.
    Audit(crate::efgs_client_cmd::AuditArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The keys of the batch: an EFGS JSON batch ({"keys": [...]}) or a keys.json array.
    #[arg(long, value_name = "FILE")]
    pub(crate) keys: PathBuf,
    /// The signing certificate, PEM.
    #[arg(long, value_name = "PEM")]
    pub(crate) cert: PathBuf,
    /// The signing key, PKCS#8 PEM (EC P-256 or RSA ≥ 2048 bits).
    #[arg(long, value_name = "PEM")]
    pub(crate) key: PathBuf,
    #[command(flatten)]
    pub(crate) countries: CountryArgs,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The keys of the batch: an EFGS JSON batch ({"keys": [...]}) or a keys.json array.
    #[arg(long, value_name = "FILE")]
    pub(crate) keys: PathBuf,
    /// The Base64 `batchSignature`.
    #[arg(long, value_name = "BASE64")]
    pub(crate) signature: String,
    /// The certificate the signer must be, PEM.
    #[arg(long, value_name = "PEM")]
    pub(crate) cert: PathBuf,
    #[command(flatten)]
    pub(crate) countries: CountryArgs,
}

/// The EFGS fields a keys.json file does not carry.
#[derive(Debug, Args)]
pub(crate) struct CountryArgs {
    /// keys.json input only: the keys' origin country (default: the certificate subject's C).
    #[arg(long, value_name = "CC")]
    pub(crate) origin: Option<String>,
    /// keys.json input only: the visited countries of every key, comma-separated, in order.
    #[arg(long, value_name = "CC,CC,…", value_delimiter = ',')]
    pub(crate) visited: Vec<String>,
}

pub(crate) fn run(cmd: EfgsCommand) -> Result<()> {
    match cmd {
        EfgsCommand::Sign(args) => sign(&args),
        EfgsCommand::Verify(args) => verify(&args),
        EfgsCommand::Upload(args) => crate::run_async(crate::efgs_client_cmd::upload(args)),
        EfgsCommand::Download(args) => crate::run_async(crate::efgs_client_cmd::download(args)),
        EfgsCommand::Audit(args) => crate::run_async(crate::efgs_client_cmd::audit(args)),
    }
}

fn sign(args: &SignArgs) -> Result<()> {
    let certificate = read_text(&args.cert)?;
    let key = read_text(&args.key)?;
    let identity = SigningIdentity::from_pem(&certificate, &key)
        .with_context(|| format!("{} and {}", args.cert.display(), args.key.display()))?;
    let keys = load_keys(&args.keys, &args.countries, identity.certificate())?;
    let mut rng = crate::os_rng()?;
    let signature = efgs::sign_batch(&keys, &identity, crate::SystemClock.now(), &mut rng)
        .context("cannot sign the batch")?;
    println!("{signature}");
    Ok(())
}

fn verify(args: &VerifyArgs) -> Result<()> {
    let certificate = SignerCertificate::from_pem(&read_text(&args.cert)?)
        .with_context(|| args.cert.display().to_string())?;
    let keys = load_keys(&args.keys, &args.countries, &certificate)?;
    let signer = efgs::verify_batch(&keys, args.signature.trim(), Some(&certificate))
        .context("invalid batch signature")?;
    let now = crate::SystemClock.now();
    if now < signer.not_before || now > signer.not_after {
        bail!(
            "the signature matches, but the certificate is not valid now (valid from {} to {} in \
             unix seconds)",
            signer.not_before.seconds(),
            signer.not_after.seconds()
        );
    }
    let country = signer.subject_country.map_or_else(|| "?".to_owned(), |c| c.to_string());
    println!(
        "valid: {} keys signed by certificate {} (C={country})",
        keys.len(),
        signer.thumbprint
    );
    Ok(())
}

/// Reads an EFGS JSON batch, or a keys.json array completed with the country arguments.
pub(crate) fn load_keys(
    path: &Path,
    countries: &CountryArgs,
    certificate: &SignerCertificate,
) -> Result<Vec<EfgsKey>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {
            if countries.origin.is_some() || !countries.visited.is_empty() {
                bail!(
                    "{}: --origin and --visited apply only to keys.json input; an EFGS batch \
                     carries its own countries",
                    path.display()
                );
            }
            efgs::decode_json(&bytes).with_context(|| path.display().to_string())
        }
        Some(b'[') => {
            let keys = keys_json::parse(&bytes).with_context(|| path.display().to_string())?;
            let origin = match &countries.origin {
                Some(text) => country("--origin", text)?,
                None => certificate.subject_country().ok_or_else(|| {
                    anyhow!(
                        "the certificate has no single subject C; give the origin with --origin"
                    )
                })?,
            };
            let visited = countries
                .visited
                .iter()
                .map(|text| country("--visited", text))
                .collect::<Result<Vec<_>>>()?;
            Ok(keys
                .iter()
                .map(|key| EfgsKey::from_diagnosis_key(key, origin, visited.clone()))
                .collect())
        }
        _ => bail!(
            "{}: expected an EFGS JSON batch ({{\"keys\": [...]}}) or a keys.json array",
            path.display()
        ),
    }
}

fn country(flag: &str, text: &str) -> Result<CountryCode> {
    text.trim().parse().with_context(|| flag.to_owned())
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}
