//! `herald bench exchange`: the exchange's TAXII ingest and paged read over loopback HTTPS, next
//! to raw SQLite inserts and a raw scan of the same rows.
//!
//! The exchange runs as a process of its own (`herald exchange serve --dev DIR` in a temporary
//! folder, its log in `DIR/exchange.log`), as in production. N generated STIX 2.1 indicators
//! (TLP:GREEN, the same objects as the medallion comparison script) are cut into TAXII envelopes
//! of B objects, serialised before the clock starts; C clients post them to `sector` as
//! `hospital-a`. Then `hospital-b`, a member of the same community, reads the collection in pages
//! of P objects following `next`, each page timed: the per-page cost should not grow with the
//! position in the collection (keyset pages). After the server has stopped, its stored
//! `stix_object` rows are inserted again into a fresh store's tables with multi-row `INSERT`s,
//! B rows per transaction (the baseline for ingest), and every stored body is read once in page
//! order with one `SELECT` (the baseline for reading).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use clap::Args;
use herald_runtime::HttpsClient;
use hyper::Method;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;

mod baseline;

/// The TAXII 2.1 media type, sent as `accept` and `content-type`.
const TAXII: &str = "application/taxii+json;version=2.1";
/// The `sector` collection's objects, by its alias.
const OBJECTS: &str = "/taxii2/health/collections/sector/objects/";
/// TLP 2.0 GREEN.
const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
/// Every generated object's `created`, `modified` and `valid_from`.
const TIMESTAMP: &str = "2026-12-01T00:00:00.000Z";
/// The most objects the dev exchange takes in one envelope (`limits.max_objects`).
const MAX_BATCH: usize = 10_000;
/// How long the server may take to start listening, and to stop.
const SERVER_TIMEOUT: Duration = Duration::from_mins(2);

#[derive(Debug, Args)]
pub(crate) struct ExchangeBench {
    /// Number of STIX indicators posted and read back.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    objects: usize,
    /// Objects per POST (one TAXII envelope; at most 10000).
    #[arg(long, value_name = "B", default_value_t = 1000)]
    batch: usize,
    /// Concurrent posting clients (a sector's organisations post at the same time; four keep
    /// both of a small machine's cores busy while one POST waits for the database).
    #[arg(long, value_name = "C", default_value_t = 4)]
    clients: usize,
    /// Objects per page when reading back (`limit`; the server's page_max, 1000, caps it).
    #[arg(long, value_name = "P", default_value_t = 1000)]
    page: usize,
}

#[derive(Serialize)]
struct ExchangeReport {
    bench: &'static str,
    objects: usize,
    batch: usize,
    clients: usize,
    page: usize,
    ingest_objects_per_s: f64,
    read_objects_per_s: f64,
    first_page_ms: f64,
    last_page_ms: f64,
    median_page_ms: f64,
    pages: usize,
    server_peak_rss_kib: Option<u64>,
    raw_insert_objects_per_s: f64,
    raw_scan_objects_per_s: f64,
    ingest_ratio: f64,
    read_ratio: f64,
    cpus: usize,
}

/// A TAXII status, as far as the bench checks it.
#[derive(Deserialize)]
struct StatusAnswer {
    status: String,
    success_count: usize,
    #[serde(default)]
    failures: Vec<serde_json::Value>,
}

/// A page of objects: how many, and whether and where it goes on.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    more: bool,
    next: Option<String>,
    #[serde(default)]
    objects: Vec<serde::de::IgnoredAny>,
}

/// The paged read: its wall time and each page's.
struct Reading {
    seconds: f64,
    pages: Vec<Duration>,
}

pub(crate) async fn run(args: &ExchangeBench) -> Result<()> {
    if args.objects == 0 || args.clients == 0 || args.page == 0 {
        bail!("--objects, --clients and --page must be at least 1");
    }
    if !(1..=MAX_BATCH).contains(&args.batch) {
        bail!("--batch must be 1 to {MAX_BATCH}");
    }
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    eprintln!("starting the exchange (herald exchange serve --dev) …");
    let mut server = Server::start(dir.path()).await?;
    let read = |path: PathBuf| {
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let orgs = dir.path().join("exchange").join("orgs");
    let client = HttpsClient::new(&server.url, &read(dir.path().join("ca.pem"))?, None)?;
    let writer = basic("hospital-a", read(orgs.join("hospital-a").join("token"))?.trim());
    let reader = basic("hospital-b", read(orgs.join("hospital-b").join("token"))?.trim());

    eprintln!("serialising {} indicators in envelopes of {} …", args.objects, args.batch);
    let bodies = envelopes(args.objects, args.batch)?;

    let progress = bar("ingest", args.objects);
    let ingest_seconds = ingest(&client, &writer, bodies, args.clients, &progress).await?;
    progress.finish_and_clear();

    let progress = bar("read", args.objects);
    let reading = read_pages(&client, &reader, args.page, args.objects, &progress).await?;
    progress.finish_and_clear();
    let server_peak_rss_kib = server.peak_rss_kib();
    server.stop().await?;

    let raw = baseline::measure(dir.path(), args.batch, args.objects).await?;
    let report = report(args, ingest_seconds, &reading, server_peak_rss_kib, &raw);
    eprintln!(
        "ingest {} objects/s ({:.2} of raw inserts' {}), read {} objects/s ({:.2} of a raw scan's \
         {}); pages: first {} ms, median {} ms, last {} ms",
        report.ingest_objects_per_s,
        report.ingest_ratio,
        report.raw_insert_objects_per_s,
        report.read_objects_per_s,
        report.read_ratio,
        report.raw_scan_objects_per_s,
        report.first_page_ms,
        report.median_page_ms,
        report.last_page_ms,
    );
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// The JSON line, rounded: rates to whole objects per second, times to microseconds, ratios to
/// three decimals.
fn report(
    args: &ExchangeBench,
    ingest_seconds: f64,
    reading: &Reading,
    server_peak_rss_kib: Option<u64>,
    raw: &baseline::Raw,
) -> ExchangeReport {
    #[allow(clippy::cast_precision_loss)] // object counts are far below 2^52
    let n = args.objects as f64;
    let per_s = |seconds: f64| n / seconds.max(1e-9);
    let ms = |d: Option<&Duration>| d.map_or(0.0, |d| round(d.as_secs_f64() * 1000.0, 3));
    let mut sorted = reading.pages.clone();
    sorted.sort_unstable();
    let (ingest, read) = (per_s(ingest_seconds), per_s(reading.seconds));
    let (raw_insert, raw_scan) = (per_s(raw.insert_seconds), per_s(raw.scan_seconds));
    ExchangeReport {
        bench: "exchange",
        objects: args.objects,
        batch: args.batch,
        clients: args.clients,
        page: args.page,
        ingest_objects_per_s: ingest.round(),
        read_objects_per_s: read.round(),
        first_page_ms: ms(reading.pages.first()),
        last_page_ms: ms(reading.pages.last()),
        median_page_ms: ms(sorted.get(sorted.len() / 2)),
        pages: reading.pages.len(),
        server_peak_rss_kib,
        raw_insert_objects_per_s: raw_insert.round(),
        raw_scan_objects_per_s: raw_scan.round(),
        ingest_ratio: round(ingest / raw_insert, 3),
        read_ratio: round(read / raw_scan, 3),
        cpus: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    }
}

/// `x` rounded to `decimals` places.
fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
fn bar(prefix: &'static str, objects: usize) -> ProgressBar {
    ProgressBar::new(u64::try_from(objects).unwrap_or(u64::MAX)).with_prefix(prefix).with_style(
        ProgressStyle::with_template("{prefix:>6} [{bar:30}] {pos}/{len} objects {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}

/// `herald exchange serve --dev DIR`, a process of its own; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts the exchange on `dir` and waits for `DIR/exchange/url`; its stderr goes to
    /// `DIR/exchange.log`.
    async fn start(dir: &Path) -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find the herald binary")?;
        let log_path = dir.join("exchange.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let child = Command::new(exe)
            .args(["exchange", "serve", "--dev"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start herald exchange serve")?;
        let mut server = Self { child, url: String::new() };
        let url_file = dir.join("exchange").join("url");
        let started = Instant::now();
        loop {
            if let Ok(url) = std::fs::read_to_string(&url_file)
                && url.starts_with("https://")
            {
                url.trim().clone_into(&mut server.url);
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!("the exchange exited before serving ({status}): {}", log.trim());
            }
            ensure!(started.elapsed() < SERVER_TIMEOUT, "the exchange did not start listening");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's peak resident memory in KiB (`VmHWM` of /proc/PID/status; Linux).
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// SIGTERM, then waits for the exit (the store closes; its WAL is checkpointed).
    async fn stop(&mut self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("cannot run kill")?;
        ensure!(status.success(), "kill -TERM of the exchange failed: {status}");
        let started = Instant::now();
        while self.child.try_wait()?.is_none() {
            ensure!(started.elapsed() < SERVER_TIMEOUT, "the exchange did not stop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `Basic base64(user:token)`.
fn basic(user: &str, token: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{token}").into_bytes();
    let mut out = String::from("Basic ");
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = byte(0) << 16 | byte(1) << 8 | byte(2);
        for k in 0..4 {
            if k <= chunk.len() {
                let six = usize::try_from((n >> (18 - 6 * k)) & 63).unwrap_or(0);
                out.push(char::from(ALPHABET.get(six).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters (a `next` cursor in a query).
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The `i`th indicator's UUID: Python's `uuid.UUID(int=(0x1234 << 64) + i, version=4)` (the
/// version nibble 4, the RFC 4122 variant bits 10).
fn bench_uuid(i: u64) -> String {
    let mut x = (0x1234_u128 << 64) + u128::from(i);
    x &= !(0xc000_u128 << 48);
    x |= 0x8000_u128 << 48;
    x &= !(0xf000_u128 << 64);
    x |= 4_u128 << 76;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        x >> 96,
        (x >> 80) & 0xffff,
        (x >> 64) & 0xffff,
        (x >> 48) & 0xffff,
        x & 0xffff_ffff_ffff
    )
}

/// The `i`th generated indicator: TLP:GREEN, matching one IPv4 address.
fn indicator(i: u64) -> serde_json::Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--{}", bench_uuid(i)),
        "created": TIMESTAMP,
        "modified": TIMESTAMP,
        "name": format!("bench indicator {i}"),
        "pattern": format!(
            "[ipv4-addr:value = '10.{}.{}.{}']",
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        ),
        "pattern_type": "stix",
        "valid_from": TIMESTAMP,
        "object_marking_refs": [TLP_GREEN],
    })
}

/// `objects` indicators as serialised TAXII envelopes of up to `batch` objects, each with its
/// object count.
fn envelopes(objects: usize, batch: usize) -> Result<VecDeque<(usize, Vec<u8>)>> {
    let mut bodies = VecDeque::with_capacity(objects.div_ceil(batch));
    let mut start = 0;
    while start < objects {
        let end = (start + batch).min(objects);
        let list =
            (start..end).map(|i| Ok(indicator(u64::try_from(i)?))).collect::<Result<Vec<_>>>()?;
        bodies.push_back((end - start, serde_json::to_vec(&json!({ "objects": list }))?));
        start = end;
    }
    Ok(bodies)
}

/// Posts every envelope with `clients` tasks taking from one queue; the seconds from the first
/// request to the last answer. Every answer must be a complete 202 that stored all its objects.
async fn ingest(
    client: &HttpsClient,
    auth: &str,
    bodies: VecDeque<(usize, Vec<u8>)>,
    clients: usize,
    progress: &ProgressBar,
) -> Result<f64> {
    let queue = Arc::new(tokio::sync::Mutex::new(bodies));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (queue, client, auth) = (queue.clone(), client.clone(), auth.to_owned());
            let progress = progress.clone();
            tokio::spawn(async move { post_all(&client, &auth, &queue, &progress).await })
        })
        .collect();
    for task in tasks {
        task.await.context("a posting task failed")??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Posts envelopes from `queue` until it is empty, on one kept-alive connection (as
/// taxii2-client's `requests` session does).
async fn post_all(
    client: &HttpsClient,
    auth: &str,
    queue: &tokio::sync::Mutex<VecDeque<(usize, Vec<u8>)>>,
    progress: &ProgressBar,
) -> Result<()> {
    let mut connection = client.connect().await?;
    loop {
        let Some((count, body)) = queue.lock().await.pop_front() else { return Ok(()) };
        let headers = [("accept", TAXII), ("content-type", TAXII), ("authorization", auth)];
        let answer = connection.request(Method::POST, OBJECTS, &headers, body).await?;
        let text = || String::from_utf8_lossy(&answer.body).chars().take(500).collect::<String>();
        ensure!(answer.status == 202, "POST of {count} objects: {} {}", answer.status, text());
        let status: StatusAnswer = serde_json::from_slice(&answer.body)
            .with_context(|| format!("POST of {count} objects: not a TAXII status: {}", text()))?;
        ensure!(
            status.status == "complete" && status.success_count == count,
            "POST of {count} objects: status {:?}, {} stored; first failure: {}",
            status.status,
            status.success_count,
            status.failures.first().map_or_else(String::new, ToString::to_string)
        );
        progress.inc(u64::try_from(count).unwrap_or(0));
    }
}

/// Reads the whole collection in pages of `page` objects, following `next` until `more` is
/// false, on one kept-alive connection; every page timed from its request to its last byte.
/// `expected` objects must come back.
async fn read_pages(
    client: &HttpsClient,
    auth: &str,
    page: usize,
    expected: usize,
    progress: &ProgressBar,
) -> Result<Reading> {
    let headers = [("accept", TAXII), ("authorization", auth)];
    let mut pages = Vec::with_capacity(expected.div_ceil(page));
    let mut next: Option<String> = None;
    let mut seen = 0;
    let started = Instant::now();
    let mut connection = client.connect().await?;
    loop {
        let path = match &next {
            None => format!("{OBJECTS}?limit={page}"),
            Some(next) => format!("{OBJECTS}?limit={page}&next={}", percent(next)),
        };
        let asked = Instant::now();
        let answer = connection.request(Method::GET, &path, &headers, Vec::new()).await?;
        pages.push(asked.elapsed());
        ensure!(
            answer.status == 200,
            "GET page {}: {} {}",
            pages.len(),
            answer.status,
            String::from_utf8_lossy(&answer.body).chars().take(500).collect::<String>()
        );
        let envelope: Envelope = serde_json::from_slice(&answer.body)
            .with_context(|| format!("GET page {}: not a TAXII envelope", pages.len()))?;
        seen += envelope.objects.len();
        progress.inc(u64::try_from(envelope.objects.len()).unwrap_or(0));
        if !envelope.more {
            break;
        }
        next = Some(envelope.next.context("a page with more to come has no next")?);
    }
    let seconds = started.elapsed().as_secs_f64();
    ensure!(
        seen == expected,
        "read {seen} objects in {} pages, {expected} were posted",
        pages.len()
    );
    Ok(Reading { seconds, pages })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_match_python() {
        // uuid.UUID(int=(0x1234 << 64) + i, version=4) for these i.
        assert_eq!(bench_uuid(0), "00000000-0000-4234-8000-000000000000");
        assert_eq!(bench_uuid(65_535), "00000000-0000-4234-8000-00000000ffff");
        assert_eq!(bench_uuid(999_999), "00000000-0000-4234-8000-0000000f423f");
    }

    #[test]
    fn basic_credentials_are_base64() {
        assert_eq!(basic("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(basic("a", "b"), "Basic YTpi");
        assert_eq!(basic("ab", "c"), "Basic YWI6Yw==");
    }

    #[test]
    fn indicators_are_the_comparison_script_objects() {
        let object = indicator(70_000);
        assert_eq!(object["pattern"], "[ipv4-addr:value = '10.1.17.112']");
        assert_eq!(object["name"], "bench indicator 70000");
        assert_eq!(percent("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
