//! `herald bench publish`: many apps at once going through the whole upload path — the code
//! for a token (`/api/verify`), the token and the keys' HMAC for a certificate
//! (`/api/certificate`), the keys for publication (`/v1/publish`) — plus chaff at the apps'
//! ratio, against a verifier and a key server over loopback HTTPS, on SQLite and optionally on
//! PostgreSQL. Next to it, in the same run, the same HTTPS stack answering an empty padded
//! response at the same concurrency: the machine's own limit for a request that does nothing.

// Request counts and ratios are far below 2^52; ranks are small and non-negative.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use herald_model::{Clock as _, CountryCode};
use herald_phone::Upload;
use herald_runtime::HttpsClient;
use herald_service::random::Randomness;
use herald_verifier::store::ApiKeyKind;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

use super::app::{self, Flow, field, json_of};
use super::scratch_pg::PgDatabases;
use crate::demo::world::post;

#[derive(Debug, Args)]
pub(crate) struct PublishBench {
    /// Simulated apps running at once.
    #[arg(long, value_name = "N", default_value_t = 200)]
    apps: usize,
    /// Uploads in all (each one /api/verify, /api/certificate and /v1/publish).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    uploads: usize,
    /// Chaff per real upload (each a chaff /api/verify and a chaff /v1/publish), as the apps
    /// send it.
    #[arg(long, value_name = "R", default_value_t = 1.0)]
    chaff_ratio: f64,
    /// Keys per upload (at most 14: one per past day).
    #[arg(long, value_name = "K", default_value_t = 14)]
    keys: usize,
    /// Also run on PostgreSQL: an administrator URL (e.g. postgres://postgres@127.0.0.1/test);
    /// the bench creates its own databases there and drops them afterwards.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
}

/// Latencies of one kind of request.
#[derive(Debug, Serialize)]
struct Figures {
    requests: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl Figures {
    fn of(mut samples: Vec<Duration>, wall: Duration) -> Self {
        samples.sort_unstable();
        let at = |q: f64| {
            // Nearest rank.
            let rank = (q * samples.len() as f64).ceil() as usize;
            samples.get(rank.saturating_sub(1)).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        Self {
            requests: samples.len(),
            per_second: samples.len() as f64 / wall.as_secs_f64().max(1e-9),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: samples.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        }
    }
}

#[derive(Debug, Serialize)]
struct BackendResult {
    backend: &'static str,
    uploads_per_second: f64,
    seconds: f64,
    verify: Figures,
    certificate: Figures,
    publish: Figures,
    chaff_verify: Figures,
    chaff_publish: Figures,
    /// The same HTTPS stack answering an empty padded response, same concurrency.
    baseline: Figures,
}

#[derive(Debug, Serialize)]
struct Report {
    bench: &'static str,
    apps: usize,
    uploads: usize,
    chaff_per_upload: f64,
    keys_per_upload: usize,
    cores: usize,
    results: Vec<BackendResult>,
}

pub(crate) async fn run(args: &PublishBench) -> Result<()> {
    if args.apps == 0 || args.uploads == 0 {
        bail!("--apps and --uploads must be at least 1");
    }
    if args.keys == 0 || args.keys > 14 {
        bail!("--keys must be between 1 and 14");
    }
    if !(0.0..=10.0).contains(&args.chaff_ratio) {
        bail!("--chaff-ratio must be between 0 and 10");
    }
    let mut results = vec![bench_backend(args, None).await?];
    if let Some(url) = &args.postgres {
        results.push(bench_backend(args, Some(url)).await?);
    }
    let report = Report {
        bench: "publish",
        apps: args.apps,
        uploads: args.uploads,
        chaff_per_upload: args.chaff_ratio,
        keys_per_upload: args.keys,
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        results,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

struct Services {
    verifier: HttpsClient,
    keyserver: HttpsClient,
    baseline: HttpsClient,
    admin_key: String,
    device_key: String,
    app_id: String,
    running: Vec<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

async fn bench_backend(args: &PublishBench, postgres: Option<&String>) -> Result<BackendResult> {
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let (pg, urls) = match postgres {
        Some(admin) => {
            let (pg, urls) = PgDatabases::create(admin, 2).await?;
            (Some(pg), urls)
        }
        None => (None, Vec::new()),
    };
    let result = async {
        let services = start(dir.path(), urls.first(), urls.get(1)).await?;
        let out = measure(args, &services).await;
        for (stop, task) in services.running {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        out
    }
    .await;
    if let Some(pg) = pg {
        pg.drop_all().await;
    }
    let (backend, result) = (if postgres.is_some() { "postgres" } else { "sqlite" }, result?);
    Ok(BackendResult { backend, ..result })
}

/// A dev world for DE in `dir`: the verifier and the key server on the system clock (their
/// databases at the given URLs, or SQLite in `dir`), and a baseline server on the same TLS.
async fn start(
    dir: &Path,
    verifier_db: Option<&String>,
    keyserver_db: Option<&String>,
) -> Result<Services> {
    let de: CountryCode = "DE".parse()?;
    let clock: Arc<dyn herald_model::Clock> = Arc::new(crate::SystemClock);
    let pki = herald_trust::generate_dev_pki(
        &[de],
        &herald_trust::DevValidity::around(herald_model::UnixTime(clock.now().seconds() - 86_400))?,
    )?;
    for file in pki.files() {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, file.contents)?;
    }
    let ca = std::fs::read_to_string(dir.join(herald_trust::layout::ca_cert()))?;
    let random = Randomness::os();
    let mut running = Vec::new();

    let (mut vconfig, keys) = herald_verifier::dev::prepare(dir, de, None)?;
    vconfig.portal.enabled = false;
    // Apps come from many addresses, not all from 127.0.0.1: each simulated app names its own
    // in the proxy header (the per-client budget counts attempts in flight too).
    vconfig.client_address_header = Some("x-forwarded-for".into());
    if let Some(url) = verifier_db {
        vconfig.database.clone_from(url);
    }
    let verifier =
        herald_verifier::Verifier::build(&vconfig, clock.clone(), random.clone()).await?;
    verifier.register_api_key("bench-case-workers", ApiKeyKind::Admin, &keys.admin).await?;
    verifier.register_api_key("bench-app", ApiKeyKind::Device, &keys.device).await?;
    let verifier_url = format!("https://{}", verifier.local_addr().context("no address")?);
    std::fs::write(herald_verifier::dev::verifier_dir(dir, de).join("url"), &verifier_url)?;
    let (stop, stopped) = oneshot::channel::<()>();
    running.push((
        stop,
        tokio::spawn(verifier.run_until_stopped(async move {
            let _ = stopped.await;
        })),
    ));

    let mut kconfig = herald_keyserver::dev::prepare(dir, de, None)?;
    kconfig.federation = None;
    if let Some(url) = keyserver_db {
        kconfig.database.clone_from(url);
    }
    let keyserver = herald_keyserver::Keyserver::build(&kconfig, clock, random).await?;
    let keyserver_url = format!("https://{}", keyserver.local_addr().context("no address")?);
    let (stop, stopped) = oneshot::channel::<()>();
    running.push((
        stop,
        tokio::spawn(keyserver.run_until_stopped(async move {
            let _ = stopped.await;
        })),
    ));

    // The baseline: the same TLS and serve loop, answering a padded empty JSON object.
    let tls = vconfig.tls.as_ref().context("the dev verifier has TLS")?;
    let tls = herald_runtime::tls::server_config(
        &std::fs::read_to_string(&tls.certificate)?,
        &std::fs::read_to_string(&tls.key)?,
        herald_runtime::tls::ClientCertificates::None,
    )?;
    let padding = herald_runtime::padding::Padding {
        size: vconfig.api.response_size,
        alphabet: herald_runtime::padding::Alphabet::Base64Url,
        headers: &[],
    };
    let router = axum::Router::new().route(
        "/baseline",
        axum::routing::post(move |_body: axum::body::Bytes| async move {
            padding.respond(axum::http::StatusCode::OK, |p| format!("{{\"padding\":\"{p}\"}}"))
        }),
    );
    let listener = herald_runtime::server::bind(([127, 0, 0, 1], 0).into()).await?;
    let baseline_url = format!("https://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    running.push((
        stop,
        tokio::spawn(herald_runtime::serve(listener, Some(tls), router, async move {
            let _ = stopped.await;
        })),
    ));

    Ok(Services {
        verifier: HttpsClient::new(&verifier_url, &ca, None)?,
        keyserver: HttpsClient::new(&keyserver_url, &ca, None)?,
        baseline: HttpsClient::new(&baseline_url, &ca, None)?,
        admin_key: keys.admin,
        device_key: keys.device,
        app_id: herald_keyserver::dev::dev_app_id(de),
        running,
    })
}

/// What one simulated app does next.
#[derive(Clone, Copy)]
enum Job {
    Upload(usize),
    Chaff,
}

#[derive(Default)]
struct Samples {
    verify: Vec<Duration>,
    certificate: Vec<Duration>,
    publish: Vec<Duration>,
    chaff_verify: Vec<Duration>,
    chaff_publish: Vec<Duration>,
    baseline: Vec<Duration>,
}

async fn measure(args: &PublishBench, s: &Services) -> Result<BackendResult> {
    let today = crate::SystemClock.now().utc_day();
    // Codes, as case workers issue them (not timed: not the app's path).
    let codes = issue_codes(s, args.uploads).await?;
    warm_up(s, today).await?;

    let chaff = (args.uploads as f64 * args.chaff_ratio).round() as usize;
    let mut jobs: Vec<Job> = (0..args.uploads).map(Job::Upload).collect();
    jobs.extend(std::iter::repeat_n(Job::Chaff, chaff));
    // Chaff mixed in evenly, as apps send it on their own schedules.
    let mut rng = StdRng::seed_from_u64(7);
    rand::seq::SliceRandom::shuffle(jobs.as_mut_slice(), &mut rng);
    let queue = Arc::new(Mutex::new(jobs));
    let samples = Arc::new(Mutex::new(Samples::default()));
    let codes = Arc::new(codes);
    let progress = indicatif::ProgressBar::new((args.uploads + chaff) as u64).with_style(
        indicatif::ProgressStyle::with_template("app paths [{bar:30}] {pos}/{len} {per_sec}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );

    let started = Instant::now();
    let mut apps = tokio::task::JoinSet::new();
    for app in 0..args.apps {
        let (queue, samples, codes) = (queue.clone(), samples.clone(), codes.clone());
        let flow = Flow {
            address: format!("10.{}.{}.1", app / 250, app % 250),
            verifier: s.verifier.clone(),
            keyserver: s.keyserver.clone(),
            device_key: s.device_key.clone(),
            app_id: s.app_id.clone(),
            keys: args.keys,
            today,
            newest_day_back: 1,
        };
        let progress = progress.clone();
        apps.spawn(async move {
            let mut rng = StdRng::seed_from_u64(app as u64);
            loop {
                let job = queue.lock().ok().and_then(|mut q| q.pop());
                let Some(job) = job else { return Ok::<(), anyhow::Error>(()) };
                match job {
                    Job::Upload(i) => {
                        let code = codes.get(i).context("a code per upload")?;
                        upload(&flow, code, &samples, &mut rng).await?;
                    }
                    Job::Chaff => send_chaff(&flow, &samples, &mut rng).await?,
                }
                progress.inc(1);
            }
        });
    }
    while let Some(done) = apps.join_next().await {
        done.context("an app task failed")??;
    }
    let wall = started.elapsed();
    progress.finish_and_clear();

    let base_wall = baseline(args.apps, &s.baseline, &samples).await?;

    let samples = std::mem::take(&mut *samples.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    Ok(BackendResult {
        backend: "",
        uploads_per_second: args.uploads as f64 / wall.as_secs_f64().max(1e-9),
        seconds: wall.as_secs_f64(),
        verify: Figures::of(samples.verify, wall),
        certificate: Figures::of(samples.certificate, wall),
        publish: Figures::of(samples.publish, wall),
        chaff_verify: Figures::of(samples.chaff_verify, wall),
        chaff_publish: Figures::of(samples.chaff_publish, wall),
        baseline: Figures::of(samples.baseline, base_wall),
    })
}

/// As many requests as the app paths made, at the same concurrency, to the baseline server;
/// returns the wall time.
async fn baseline(
    concurrency: usize,
    client: &HttpsClient,
    samples: &Arc<Mutex<Samples>>,
) -> Result<Duration> {
    let total = {
        let s = samples.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        s.verify.len()
            + s.certificate.len()
            + s.publish.len()
            + s.chaff_verify.len()
            + s.chaff_publish.len()
    };
    let remaining = Arc::new(std::sync::atomic::AtomicUsize::new(total));
    let base_started = Instant::now();
    let mut apps = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (remaining, samples, client) = (remaining.clone(), samples.clone(), client.clone());
        apps.spawn(async move {
            let mut rng = StdRng::seed_from_u64(1);
            while remaining
                .fetch_update(
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                    |n| n.checked_sub(1),
                )
                .is_ok()
            {
                let body = Upload::verify_body("00000000", &mut rng);
                let t = Instant::now();
                let answer = post(&client, "/baseline", None, false, body).await?;
                if answer.status.as_u16() != 200 {
                    bail!("the baseline answered {}", answer.status);
                }
                if let Ok(mut s) = samples.lock() {
                    s.baseline.push(t.elapsed());
                }
            }
            Ok(())
        });
    }
    while let Some(done) = apps.join_next().await {
        done.context("a baseline task failed")??;
    }
    Ok(base_started.elapsed())
}

async fn issue_codes(s: &Services, n: usize) -> Result<Vec<String>> {
    app::issue_codes(&s.verifier, &s.admin_key, n).await
}

/// One upload before the clock starts, retried until the key server has read the verifier's
/// keys (its JWKS is fetched at start).
async fn warm_up(s: &Services, today: i64) -> Result<()> {
    let flow = Flow {
        address: "10.255.255.1".into(),
        verifier: s.verifier.clone(),
        keyserver: s.keyserver.clone(),
        device_key: s.device_key.clone(),
        app_id: s.app_id.clone(),
        keys: 1,
        today,
        newest_day_back: 1,
    };
    let mut rng = StdRng::seed_from_u64(u64::MAX);
    let mut last = None;
    for _ in 0..40 {
        let code = issue_codes(s, 1).await?.pop().context("one code")?;
        let scratch = Mutex::new(Samples::default());
        match upload(&flow, &code, &scratch, &mut rng).await {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no warm-up")).context("the warm-up upload"))
}

/// One upload through the whole path, each step timed.
async fn upload(flow: &Flow, code: &str, samples: &Mutex<Samples>, rng: &mut StdRng) -> Result<()> {
    let keys = flow.new_keys(rng);
    let upload = Upload::new(&keys, rng);
    let t = Instant::now();
    let verified = json_of("/api/verify", &flow.verify(Some(code), rng).await?)?;
    let verify = t.elapsed();
    let token = field(&verified, "token")?;
    let t = Instant::now();
    let certified = json_of("/api/certificate", &flow.certificate(&token, &upload, rng).await?)?;
    let certificate_time = t.elapsed();
    let certificate = field(&certified, "certificate")?;
    let t = Instant::now();
    let published = json_of("/v1/publish", &flow.publish(&certificate, &upload, rng).await?)?;
    let publish = t.elapsed();
    let inserted = published.get("insertedExposures").and_then(Value::as_u64).unwrap_or(0);
    if usize::try_from(inserted).ok() != Some(flow.keys) {
        bail!("the key server inserted {inserted} of {} keys: {published}", flow.keys);
    }
    if let Ok(mut s) = samples.lock() {
        s.verify.push(verify);
        s.certificate.push(certificate_time);
        s.publish.push(publish);
    }
    Ok(())
}

/// Chaff as the app sends it, timed.
async fn send_chaff(flow: &Flow, samples: &Mutex<Samples>, rng: &mut StdRng) -> Result<()> {
    let t = Instant::now();
    let answer = flow.verify(None, rng).await?;
    let verify = t.elapsed();
    let t = Instant::now();
    let answer2 = flow.chaff_publish(rng).await?;
    let publish = t.elapsed();
    if answer.status.as_u16() != 200 || answer2.status.as_u16() != 200 {
        bail!("chaff answered {} and {}", answer.status, answer2.status);
    }
    if let Ok(mut s) = samples.lock() {
        s.chaff_verify.push(verify);
        s.chaff_publish.push(publish);
    }
    Ok(())
}
