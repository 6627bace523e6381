//! `herald bench gateway`: ingest and download throughput of the federation gateway on SQLite,
//! over loopback mTLS, next to the raw SQLite insert rate of the same rows.
//!
//! Everything that is not the gateway's work (the dev PKI, generating and signing the batches,
//! waiting for the batching job, decoding the downloads) happens outside the timed sections.
//! Stored keys are sealed at rest (AES-256-GCM) as in production, unless `--plaintext`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use herald_gateway::Gateway;
use herald_gateway::api::MAX_UPLOAD_KEYS;
use herald_gateway::config::AtRestConfig;
use herald_gateway::store::{INSERT_CHUNK_KEYS, Store, sqlite_writer_options};
use herald_model::{
    Clock, CountryCode, IntervalNumber, ReportType, RollingPeriod, TemporaryExposureKey, UnixTime,
};
use herald_runtime::HttpsClient;
use herald_trust::layout;
use herald_wire::cms::SigningIdentity;
use herald_wire::efgs::{self, DaysSinceOnset, EfgsKey, TransmissionRisk};
use hyper::Method;
use hyper::body::Bytes;
use rand::{Rng as _, RngExt as _};
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use super::GatewayBench;
use crate::SystemClock;

const PROTOBUF: &str = "application/protobuf; version=1.0";

/// How long the batching job may take to make every upload downloadable.
const BATCHING_TIMEOUT: Duration = Duration::from_mins(2);

#[derive(Serialize)]
struct GatewayReport {
    batches: usize,
    keys_per_batch: usize,
    concurrency: usize,
    at_rest_encryption: bool,
    ingest_seconds: f64,
    ingest_keys_per_second: f64,
    download_seconds: f64,
    download_keys_per_second: f64,
    baseline_insert_keys_per_second: f64,
    ingest_vs_baseline: f64,
}

/// One upload, ready to send.
struct SignedBatch {
    tag: String,
    signature: String,
    body: Vec<u8>,
}

pub(crate) async fn run(args: &GatewayBench) -> Result<()> {
    if args.batches == 0 || args.concurrency == 0 {
        bail!("--batches and --concurrency must be at least 1");
    }
    if !(1..=MAX_UPLOAD_KEYS).contains(&args.keys_per_batch) {
        bail!("--keys-per-batch must be 1 to {MAX_UPLOAD_KEYS}");
    }
    let total = args.batches * args.keys_per_batch;
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();

    // The dev world: PKI, trust list, configuration (127.0.0.1, a free port, SQLite).
    let (mut config, _) =
        crate::gateway_cmd::prepare_dev(dir.path(), None, None, clock.as_ref()).await?;
    if args.plaintext {
        config.at_rest = AtRestConfig { key_file: None, previous_key_files: Vec::new() };
    }
    let gateway = Gateway::build(&config, clock.clone()).await?;
    let store = gateway.store().clone();
    let url = format!("https://{}", gateway.local_addr().context("the listener has no address")?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gateway.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    let read = |path: PathBuf| {
        let path = dir.path().join(path);
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let (Ok(de), Ok(nl), Ok(fr)) =
        ("DE".parse::<CountryCode>(), "NL".parse::<CountryCode>(), "FR".parse::<CountryCode>())
    else {
        bail!("the benchmark's country codes do not parse");
    };
    let ca = read(layout::ca_cert())?;
    let client = |c: CountryCode| -> Result<HttpsClient> {
        let cert = read(layout::auth_cert(c))?;
        let key = read(layout::auth_key(c))?;
        Ok(HttpsClient::new(&url, &ca, Some((&cert, &key)))?)
    };
    let (de_client, nl_client) = (client(de)?, client(nl)?);
    let signer = SigningIdentity::from_pem(
        &read(layout::signing_cert(de))?,
        &read(layout::signing_key(de))?,
    )
    .context("the dev signing identity of DE")?;

    // Generate and sign outside the timed section.
    eprintln!("signing {} batches of {} keys …", args.batches, args.keys_per_batch);
    let (all_keys, batches) = sign_batches(args, &signer, now, de, &[nl, fr])?;

    eprintln!("uploading over mTLS with {} concurrent uploads …", args.concurrency);
    let ingest_seconds = ingest(&de_client, batches, args.concurrency).await?;

    // Wait (untimed) until the batching job has made every key downloadable.
    let since = UnixTime(now.utc_day() * 86_400);
    let waited = Instant::now();
    while batched_keys(&store, since).await? < total {
        if waited.elapsed() > BATCHING_TIMEOUT {
            bail!("the uploads were not batched within {} s", BATCHING_TIMEOUT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    eprintln!("downloading as NL …");
    let (download_seconds, bodies) = download(&nl_client, now).await?;
    check_downloads(&bodies, &all_keys)?;
    let _ = stop.send(());
    server.await.context("the gateway task failed")?;
    store.close().await;

    let (baseline_seconds, sealed) = baseline_inserts(
        &dir.path().join("gateway").join("gateway.db"),
        &dir.path().join("baseline.db"),
    )
    .await?;
    ensure!(
        sealed == if args.plaintext { 0 } else { total },
        "{sealed} of {total} stored keys are sealed at rest"
    );

    #[allow(clippy::cast_precision_loss)] // key counts are far below 2^52
    let n = total as f64;
    let ingest_keys_per_second = n / ingest_seconds;
    let baseline_insert_keys_per_second = n / baseline_seconds;
    let report = GatewayReport {
        batches: args.batches,
        keys_per_batch: args.keys_per_batch,
        concurrency: args.concurrency,
        at_rest_encryption: !args.plaintext,
        ingest_seconds,
        ingest_keys_per_second,
        download_seconds,
        download_keys_per_second: n / download_seconds,
        baseline_insert_keys_per_second,
        ingest_vs_baseline: ingest_keys_per_second / baseline_insert_keys_per_second,
    };
    eprintln!(
        "ingest {ingest_keys_per_second:.0} keys/s, download {:.0} keys/s ({} batches), raw SQLite inserts {baseline_insert_keys_per_second:.0} keys/s",
        report.download_keys_per_second,
        bodies.len()
    );
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// `--batches` batches of `--keys-per-batch` random keys of `origin`, signed: the keys and the
/// uploads.
fn sign_batches(
    args: &GatewayBench,
    signer: &SigningIdentity,
    now: UnixTime,
    origin: CountryCode,
    visited: &[CountryCode],
) -> Result<(Vec<Vec<EfgsKey>>, VecDeque<SignedBatch>)> {
    let mut rng = crate::os_rng()?;
    let mut all_keys = Vec::with_capacity(args.batches);
    let mut batches = VecDeque::with_capacity(args.batches);
    for i in 0..args.batches {
        let keys = (0..args.keys_per_batch)
            .map(|_| random_key(&mut rng, now.utc_day(), origin, visited.to_vec()))
            .collect::<Result<Vec<_>>>()?;
        let signature = efgs::sign_batch(&keys, signer, now, &mut rng)?;
        batches.push_back(SignedBatch {
            tag: format!("BENCH-{}-{i}", now.seconds()),
            signature,
            body: efgs::encode_protobuf(&keys),
        });
        all_keys.push(keys);
    }
    Ok((all_keys, batches))
}

/// Uploads every batch with `concurrency` tasks taking from one queue; the seconds from the
/// first request to the last answer.
async fn ingest(
    client: &HttpsClient,
    batches: VecDeque<SignedBatch>,
    concurrency: usize,
) -> Result<f64> {
    let queue = Arc::new(tokio::sync::Mutex::new(batches));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let queue = queue.clone();
            let client = client.clone();
            tokio::spawn(async move { upload_all(&client, &queue).await })
        })
        .collect();
    for task in tasks {
        task.await.context("an upload task failed")??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Downloads today's batches, walking the `nextBatchTag` chain: the seconds taken and the
/// bodies, decoded later.
async fn download(client: &HttpsClient, now: UnixTime) -> Result<(f64, Vec<Bytes>)> {
    let path = format!("/diagnosiskeys/download/{}", herald_model::Date::of(now));
    let started = Instant::now();
    let mut bodies = Vec::new();
    let mut tag: Option<String> = None;
    loop {
        let mut headers = vec![("accept", PROTOBUF)];
        if let Some(tag) = &tag {
            headers.push(("batchTag", tag.as_str()));
        }
        let answer = client.request(Method::GET, &path, &headers, Vec::new()).await?;
        ensure!(
            answer.status == 200,
            "download {tag:?}: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        let next = answer.header("nextBatchTag").map(str::to_owned);
        bodies.push(answer.body);
        match next {
            Some(next) if next != "null" => tag = Some(next),
            _ => return Ok((started.elapsed().as_secs_f64(), bodies)),
        }
    }
}

/// The downloaded bodies hold exactly the uploaded keys. Concurrent uploads are stored in
/// whatever order they arrive, so the keys are compared as sets.
fn check_downloads(bodies: &[Bytes], batches: &[Vec<EfgsKey>]) -> Result<()> {
    let mut downloaded = Vec::new();
    for body in bodies {
        downloaded.extend(efgs::decode_protobuf(body)?);
    }
    let mut uploaded: Vec<EfgsKey> = batches.iter().flatten().cloned().collect();
    uploaded.sort_unstable_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    downloaded.sort_unstable_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    ensure!(
        downloaded == uploaded,
        "downloaded {} keys in {} batches, expected the {} uploaded",
        downloaded.len(),
        bodies.len(),
        uploaded.len()
    );
    Ok(())
}

/// A valid key of `origin`: random bytes, a rolling start 1 to 13 days ago, random risk and
/// days since onset.
fn random_key(
    rng: &mut rand::rngs::StdRng,
    today: i64,
    origin: CountryCode,
    visited: Vec<CountryCode>,
) -> Result<EfgsKey> {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    let day = today - rng.random_range(1..=13);
    Ok(EfgsKey {
        key: TemporaryExposureKey::from_bytes(bytes),
        rolling_start: IntervalNumber(
            u32::try_from(day * 144).context("the clock is out of range")?,
        ),
        rolling_period: RollingPeriod::FULL_DAY,
        transmission_risk: TransmissionRisk::new(rng.random_range(0..=8))?,
        visited_countries: visited,
        origin,
        report_type: ReportType::ConfirmedTest,
        days_since_onset: DaysSinceOnset::new(rng.random_range(-14..=14))?,
    })
}

/// Uploads batches from `queue` until it is empty; every upload must be stored (201).
async fn upload_all(
    client: &HttpsClient,
    queue: &tokio::sync::Mutex<VecDeque<SignedBatch>>,
) -> Result<()> {
    loop {
        let Some(batch) = queue.lock().await.pop_front() else { return Ok(()) };
        let answer = client
            .request(
                Method::POST,
                "/diagnosiskeys/upload",
                &[
                    ("batchTag", batch.tag.as_str()),
                    ("batchSignature", batch.signature.as_str()),
                    ("content-type", PROTOBUF),
                    ("accept", "application/json; version=1.0"),
                ],
                batch.body,
            )
            .await?;
        ensure!(
            answer.status == 201,
            "upload {}: {} {}",
            batch.tag,
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
}

/// Keys in the download batches formed since `since`, following the chain.
async fn batched_keys(store: &Store, since: UnixTime) -> Result<usize> {
    let mut keys = 0u64;
    let mut batch = store.first_download_batch_since(since).await?;
    while let Some(b) = batch {
        keys = keys.saturating_add(b.key_count);
        batch = match b.next_tag {
            Some(tag) => store.download_batch(&tag).await?,
            None => None,
        };
    }
    Ok(usize::try_from(keys).unwrap_or(usize::MAX))
}

/// An `upload` row, copied into the baseline database: id, tag, country, auth and signing
/// thumbprints, batch signature, created_at, key_count.
type UploadRow = (i64, String, String, String, String, String, i64, i64);

/// One stored `diagnosis_key` row, as the baseline inserts it again.
#[derive(sqlx::FromRow)]
struct StoredRow {
    upload_id: i64,
    ordinal: i64,
    payload_hash: Vec<u8>,
    created_at: i64,
    key_id: Option<i64>,
    payload: Vec<u8>,
}

/// The baseline: seconds to insert the rows the gateway stored, read back from its database,
/// into an empty copy of its tables (the schema SQL of `download_batch`, `upload` and
/// `diagnosis_key` with their indexes, and the `upload` rows, so foreign keys are checked as in
/// the gateway) through one connection with the settings of the store's writing connection
/// (`sqlite_writer_options`, WAL): one transaction per upload, rows in the store's order
/// (by payload hash), in multi-row `INSERT`s of as many rows as the store's. Reading and the
/// `upload` rows are not timed.
async fn baseline_inserts(
    gateway_db: &std::path::Path,
    path: &std::path::Path,
) -> Result<(f64, usize)> {
    let options = |path: &std::path::Path| {
        sqlite_writer_options(SqliteConnectOptions::new().filename(path).create_if_missing(true))
            .journal_mode(SqliteJournalMode::Wal)
    };
    let source = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options(gateway_db))
        .await
        .context("cannot open the gateway's database")?;
    let schema: Vec<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL \
         AND tbl_name IN ('download_batch', 'upload', 'diagnosis_key') \
         ORDER BY CASE tbl_name WHEN 'download_batch' THEN 0 WHEN 'upload' THEN 1 ELSE 2 END, \
         type DESC",
    )
    .fetch_all(&source)
    .await?;
    let uploads: Vec<UploadRow> = sqlx::query_as(
        "SELECT id, tag, country, auth_thumbprint, signing_thumbprint, batch_signature, \
         created_at, key_count FROM upload ORDER BY id",
    )
    .fetch_all(&source)
    .await?;
    // In the order the store inserts them: by upload, then by payload hash.
    let rows: Vec<StoredRow> = sqlx::query_as(
        "SELECT upload_id, ordinal, payload_hash, created_at, key_id, payload \
         FROM diagnosis_key ORDER BY upload_id, payload_hash",
    )
    .fetch_all(&source)
    .await
    .context("cannot read the stored keys")?;
    source.close().await;

    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options(path))
        .await
        .context("cannot open the baseline database")?;
    for sql in &schema {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.as_str()))
            .execute(&pool)
            .await
            .context("cannot create the baseline tables")?;
    }
    for (id, tag, country, auth, signing, signature, created_at, key_count) in &uploads {
        sqlx::query(
            "INSERT INTO upload (id, tag, country, auth_thumbprint, signing_thumbprint, \
             batch_signature, created_at, key_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(tag)
        .bind(country)
        .bind(auth)
        .bind(signing)
        .bind(signature)
        .bind(created_at)
        .bind(key_count)
        .execute(&pool)
        .await?;
    }
    let batches = rows.chunk_by(|a, b| a.upload_id == b.upload_id);

    eprintln!("baseline: raw SQLite inserts of the same rows …");
    let started = Instant::now();
    for batch in batches {
        let mut tx = pool.begin().await?;
        for chunk in batch.chunks(INSERT_CHUNK_KEYS) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO diagnosis_key (upload_id, ordinal, payload_hash, created_at, key_id, \
                 payload) ",
            );
            insert.push_values(chunk, |mut row, key| {
                row.push_bind(key.upload_id)
                    .push_bind(key.ordinal)
                    .push_bind(key.payload_hash.as_slice())
                    .push_bind(key.created_at)
                    .push_bind(key.key_id)
                    .push_bind(key.payload.as_slice());
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    pool.close().await;
    let sealed = rows.iter().filter(|row| row.key_id.is_some()).count();
    Ok((seconds, sealed))
}
