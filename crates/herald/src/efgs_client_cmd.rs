//! `herald efgs upload|download|audit`: a national backend's side of any EFGS-compatible gateway.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use herald_model::{Clock as _, CountryCode};
use herald_runtime::{Answer, HttpsClient};
use herald_trust::{AnchorCertificate, layout};
use herald_wire::cms::{SignerCertificate, SigningIdentity};
use herald_wire::efgs::{self, EfgsKey};
use hyper::Method;

/// How to reach the gateway, and as whom.
#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// The dev folder (`herald gateway serve --dev`): gateway URL, CA and this country's
    /// certificates are taken from it.
    #[arg(long, value_name = "DIR", requires = "country")]
    dev: Option<PathBuf>,
    /// With --dev: the country to act as.
    #[arg(long, value_name = "CC")]
    country: Option<String>,
    /// The gateway's base URL, e.g. https://efgs.example:443/efgs.
    #[arg(long, value_name = "URL", required_unless_present = "dev")]
    gateway: Option<String>,
    /// CA certificate(s) to trust for the gateway's TLS certificate, PEM.
    #[arg(long, value_name = "PEM", required_unless_present = "dev")]
    ca: Option<PathBuf>,
    /// This backend's client (AUTHENTICATION) certificate, PEM.
    #[arg(long, value_name = "PEM", required_unless_present = "dev")]
    client_cert: Option<PathBuf>,
    /// Its private key, PKCS#8 PEM.
    #[arg(long, value_name = "PEM", required_unless_present = "dev")]
    client_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct UploadArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The keys: an EFGS JSON batch ({"keys": [...]}) or a keys.json array.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "generate",
        conflicts_with = "generate"
    )]
    keys: Option<PathBuf>,
    /// Instead of --keys: upload N random keys of yesterday (for trying a gateway out).
    #[arg(long, value_name = "N")]
    generate: Option<usize>,
    /// The batch-signing certificate, PEM (dev: DIR/<CC>/signing.pem).
    #[arg(long, value_name = "PEM")]
    signing_cert: Option<PathBuf>,
    /// Its key, PKCS#8 PEM (dev: DIR/<CC>/signing.key.pem).
    #[arg(long, value_name = "PEM")]
    signing_key: Option<PathBuf>,
    /// The upload's batchTag (default: <CC>-<unix time>-<random>).
    #[arg(long)]
    tag: Option<String>,
    #[command(flatten)]
    countries: crate::efgs_cmd::CountryArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DownloadArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The date, yyyy-MM-dd (default: today, UTC).
    #[arg(long)]
    date: Option<String>,
    /// The operator's trust-anchor certificate, to check the certificates the audit serves
    /// (dev: DIR/anchor/anchor.pem).
    #[arg(long, value_name = "PEM")]
    anchor: Option<PathBuf>,
    /// Write the downloaded keys to this file as an EFGS JSON batch.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// The date, yyyy-MM-dd.
    #[arg(long)]
    date: String,
    /// The download batch tag.
    #[arg(long)]
    tag: String,
}

fn read(path: &Path, what: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// The client, the acting country, and the dev folder if any.
fn connect(args: &ConnectArgs) -> Result<(HttpsClient, Option<CountryCode>, Option<&Path>)> {
    if let Some(dir) = &args.dev {
        let country: CountryCode =
            args.country.as_deref().unwrap_or_default().parse().context("--country")?;
        let url =
            read(&dir.join("gateway").join("url"), "gateway URL (is the dev gateway running?)")?;
        let client = HttpsClient::new(
            url.trim(),
            &read(&dir.join(layout::ca_cert()), "CA")?,
            Some((
                &read(&dir.join(layout::auth_cert(country)), "client certificate")?,
                &read(&dir.join(layout::auth_key(country)), "client key")?,
            )),
        )?;
        return Ok((client, Some(country), Some(dir)));
    }
    let (Some(url), Some(ca), Some(cert), Some(key)) =
        (&args.gateway, &args.ca, &args.client_cert, &args.client_key)
    else {
        bail!("give --dev DIR --country CC, or --gateway, --ca, --client-cert and --client-key");
    };
    let client = HttpsClient::new(
        url,
        &read(ca, "CA")?,
        Some((&read(cert, "client certificate")?, &read(key, "client key")?)),
    )?;
    Ok((client, None, None))
}

fn check(answer: &Answer, what: &str) -> Result<()> {
    if answer.status.is_success() {
        return Ok(());
    }
    let body = String::from_utf8_lossy(&answer.body);
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(serde_json::Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect());
    bail!("{what}: the gateway answered {}: {message}", answer.status)
}

pub(crate) async fn upload(args: UploadArgs) -> Result<()> {
    let (client, country, dev) = connect(&args.connect)?;
    let (cert_path, key_path) = match (&args.signing_cert, &args.signing_key, dev, country) {
        (Some(c), Some(k), _, _) => (c.clone(), k.clone()),
        (None, None, Some(dir), Some(cc)) => {
            (dir.join(layout::signing_cert(cc)), dir.join(layout::signing_key(cc)))
        }
        _ => bail!("give --signing-cert and --signing-key (or use --dev)"),
    };
    let identity = SigningIdentity::from_pem(
        &read(&cert_path, "signing certificate")?,
        &read(&key_path, "signing key")?,
    )
    .with_context(|| cert_path.display().to_string())?;
    let now = crate::SystemClock.now();
    let keys = match (&args.keys, args.generate) {
        (Some(path), _) => {
            crate::efgs_cmd::load_keys(path, &args.countries, identity.certificate())?
        }
        (None, Some(n)) => generated(n, identity.certificate(), now)?,
        (None, None) => bail!("give --keys FILE or --generate N"),
    };
    let signature = efgs::sign_batch(&keys, &identity, now, &mut crate::os_rng()?)?;
    let origin = identity.certificate().subject_country().map_or("XX".into(), |c| c.to_string());
    let tag = if let Some(t) = &args.tag {
        t.clone()
    } else {
        use rand::Rng as _;
        format!("{origin}-{}-{:08x}", now.seconds(), crate::os_rng()?.next_u32())
    };
    let body = efgs::encode_protobuf(&keys);
    let answer = client
        .request(
            Method::POST,
            "/diagnosiskeys/upload",
            &[
                ("batchTag", tag.as_str()),
                ("batchSignature", signature.as_str()),
                ("content-type", "application/protobuf; version=1.0"),
                ("accept", "application/json; version=1.0"),
            ],
            body,
        )
        .await?;
    if answer.status == 207 {
        bail!(
            "the gateway answered 207 (nothing stored): {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    check(&answer, "upload")?;
    println!(
        "{}",
        serde_json::json!({ "batchTag": tag, "keys": keys.len(), "status": answer.status.as_u16() })
    );
    Ok(())
}

/// `n` random keys of yesterday from the certificate's country.
fn generated(
    n: usize,
    cert: &SignerCertificate,
    now: herald_model::UnixTime,
) -> Result<Vec<EfgsKey>> {
    use rand::Rng as _;
    let origin =
        cert.subject_country().context("the signing certificate names no single country")?;
    let start = u32::try_from((now.utc_day() - 1) * 144).context("the clock is out of range")?;
    let mut rng = crate::os_rng()?;
    Ok((0..n)
        .map(|_| {
            let mut bytes = [0u8; 16];
            rng.fill_bytes(&mut bytes);
            EfgsKey {
                key: herald_model::TemporaryExposureKey::from_bytes(bytes),
                rolling_start: herald_model::IntervalNumber(start),
                rolling_period: herald_model::RollingPeriod::FULL_DAY,
                transmission_risk: efgs::TransmissionRisk::NotProvided,
                visited_countries: Vec::new(),
                origin,
                report_type: herald_model::ReportType::ConfirmedTest,
                days_since_onset: efgs::DaysSinceOnset::default(),
            }
        })
        .collect())
}

fn today() -> String {
    let now = crate::SystemClock.now();
    herald_model::Date::of(now).to_string()
}

pub(crate) async fn download(args: DownloadArgs) -> Result<()> {
    let (client, country, dev) = connect(&args.connect)?;
    let anchor = match (&args.anchor, dev) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(dir)) => Some(dir.join(layout::anchor_cert())),
        _ => None,
    };
    let anchor = match anchor {
        Some(p) => Some(
            AnchorCertificate::from_pem(&read(&p, "anchor certificate")?)
                .with_context(|| p.display().to_string())?,
        ),
        None => None,
    };
    let date = args.date.clone().unwrap_or_else(today);
    let mut all = Vec::new();
    let mut batches = Vec::new();
    let mut tag: Option<String> = None;
    loop {
        let mut headers = vec![("accept", "application/protobuf; version=1.0")];
        if let Some(t) = &tag {
            headers.push(("batchTag", t.as_str()));
        }
        let answer = client
            .request(Method::GET, &format!("/diagnosiskeys/download/{date}"), &headers, vec![])
            .await?;
        if answer.status == 404 && tag.is_none() {
            break;
        }
        check(&answer, "download")?;
        let this = answer.header("batchTag").context("the gateway sent no batchTag")?.to_owned();
        let next = answer.header("nextBatchTag").map(str::to_owned);
        let keys = efgs::decode_protobuf(&answer.body).context("the downloaded batch")?;
        let uploads = verify_batch(&client, &date, &this, &keys, country, anchor.as_ref()).await?;
        batches
            .push(serde_json::json!({ "batchTag": this, "keys": keys.len(), "uploads": uploads }));
        all.extend(keys);
        match next.as_deref() {
            None | Some("null") => break,
            Some(n) => tag = Some(n.to_owned()),
        }
    }
    if let Some(out) = &args.out {
        std::fs::write(out, efgs::encode_json(&all))
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    println!("{}", serde_json::json!({ "date": date, "keys": all.len(), "batches": batches }));
    Ok(())
}

/// Re-verifies every upload in a download batch through the audit endpoint (efgs-gateway.md
/// §3.4; the key server's federation client does the same), own country skipped; any upload
/// that does not verify fails the download.
async fn verify_batch(
    client: &HttpsClient,
    date: &str,
    tag: &str,
    keys: &[EfgsKey],
    own: Option<CountryCode>,
    anchor: Option<&AnchorCertificate>,
) -> Result<Vec<serde_json::Value>> {
    let batch_tag = herald_model::BatchTag::parse(tag).with_context(|| format!("batch {tag}"))?;
    let (_, uploads) = herald_keyserver::federation::audit_download_batch(
        client, date, &batch_tag, keys, own, anchor,
    )
    .await
    .with_context(|| format!("batch {tag}"))?;
    let mut out = Vec::new();
    for upload in uploads {
        if let Some(problem) = &upload.problem {
            bail!("batch {tag}: a {} upload does not verify: {problem}", upload.country);
        }
        out.push(serde_json::json!({ "country": upload.country, "keys": upload.keys, "signature": "valid" }));
    }
    Ok(out)
}

pub(crate) async fn audit(args: AuditArgs) -> Result<()> {
    let (client, _, _) = connect(&args.connect)?;
    let answer = client
        .request(
            Method::GET,
            &format!("/diagnosiskeys/audit/download/{}/{}", args.date, args.tag),
            &[("accept", "application/json")],
            vec![],
        )
        .await?;
    check(&answer, "audit")?;
    println!("{}", String::from_utf8_lossy(&answer.body));
    Ok(())
}
