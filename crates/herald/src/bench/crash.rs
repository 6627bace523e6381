//! `herald bench crash`: the load of `herald bench publish` against real service processes
//! while something breaks, then a count of what was lost or accepted twice. Scenarios:
//! - `keyserver`: `kill -9` of the key server in the middle of the load, restarted at once;
//! - `verifier`: the same for the verifier;
//! - `postgres`: both on PostgreSQL, and the server crashed (`pg_ctl stop -m immediate`) and
//!   started again under the load, the services left alone;
//! - `gateway`: the gateway killed and kept away while the key server takes publishes and tries
//!   to federate them, then started again.
//!
//! Every scenario prints a table; a line `invariant <what> <n>` must read 0, and the exit status
//! is non-zero when one does not. See `check.rs` for what is checked.

// Request counts are far below 2^52 and non-negative.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};
use herald_model::Clock as _;

use super::app::{self, Flow};
use load::{Endpoint, Load, Record, Tally};
use outage::Outage;
use world::{Databases, World};

mod check;
mod load;
mod outage;
pub(crate) mod verifier;
mod world;

#[derive(Debug, Args)]
pub(crate) struct CrashBench {
    /// Scenarios to run, comma-separated (default: all four).
    #[arg(long, value_enum, value_delimiter = ',')]
    scenario: Vec<Scenario>,
    /// Simulated apps running at once.
    #[arg(long, value_name = "N", default_value_t = 200)]
    apps: usize,
    /// Uploads per scenario (each one /api/verify, /api/certificate and /v1/publish).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    uploads: usize,
    /// Chaff per real upload (a chaff /api/verify and a chaff /v1/publish each).
    #[arg(long, value_name = "R", default_value_t = 1.0)]
    chaff_ratio: f64,
    /// Keys per upload (at most 12: one per day, from two days ago back).
    #[arg(long, value_name = "K", default_value_t = 12)]
    keys: usize,
    /// Keys stored in the key server, released three hours ago, before it starts: export and
    /// federation work in hand when it is killed.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    seed_keys: usize,
    /// Kills of the service in the `keyserver` and `verifier` scenarios, spread over the load.
    #[arg(long, value_name = "N", default_value_t = 2)]
    kills: usize,
    /// Seconds PostgreSQL stays down in the `postgres` scenario.
    #[arg(long, value_name = "S", default_value_t = 5)]
    outage: u64,
    /// Seconds the gateway stays away in the `gateway` scenario (the dev key server tries to
    /// upload every 2 s; a production one every 600 s).
    #[arg(long, value_name = "S", default_value_t = 20)]
    gateway_down: u64,
    /// PostgreSQL's binaries for the scenario's own cluster (default: the newest
    /// /usr/lib/postgresql/*/bin); run as the `postgres` user when the bench runs as root.
    #[arg(long, value_name = "DIR")]
    pg_bin: Option<std::path::PathBuf>,
    /// When no cluster of its own can be started: a shared PostgreSQL's administrator URL. The
    /// scenario then closes its two databases to connections (and ends the open ones) for the
    /// outage instead of crashing the server. Without either, the scenario is skipped.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Keep each scenario's dev folder (logs, databases, exports) under DIR instead of a
    /// temporary folder.
    #[arg(long, value_name = "DIR")]
    keep: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Keyserver,
    Verifier,
    Postgres,
    Gateway,
}

/// A scenario's table: lines of text, then the invariants.
#[derive(Default)]
struct Report {
    lines: Vec<(&'static str, String)>,
    invariants: Vec<(&'static str, usize)>,
}

impl Report {
    fn line(&mut self, label: &'static str, text: impl Into<String>) {
        self.lines.push((label, text.into()));
    }

    fn print(&self) -> bool {
        for (label, text) in &self.lines {
            println!("{label:<10} {text}");
        }
        let width = self.invariants.iter().map(|(w, _)| w.len()).max().unwrap_or(0);
        for (what, n) in &self.invariants {
            println!("{:<10} {what:<width$} {n}", "invariant");
        }
        let held = self.invariants.iter().all(|(_, n)| *n == 0);
        println!("{:<10} {}", "result", if held { "invariants held" } else { "INVARIANT BROKEN" });
        println!();
        held
    }
}

pub(crate) async fn run(args: &CrashBench) -> Result<()> {
    if args.apps == 0 || args.uploads == 0 {
        bail!("--apps and --uploads must be at least 1");
    }
    if args.keys == 0 || args.keys > 12 {
        bail!("--keys must be between 1 and 12");
    }
    if !(0.0..=10.0).contains(&args.chaff_ratio) {
        bail!("--chaff-ratio must be between 0 and 10");
    }
    if args.kills == 0 || args.outage == 0 || args.gateway_down == 0 {
        bail!("--kills, --outage and --gateway-down must be at least 1");
    }
    let scenarios = if args.scenario.is_empty() {
        vec![Scenario::Keyserver, Scenario::Verifier, Scenario::Postgres, Scenario::Gateway]
    } else {
        args.scenario.clone()
    };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!("herald bench crash: {cores} cores, {}", herald_model::UnixTime(now()).iso_millis());
    println!();
    let mut broken = Vec::new();
    for scenario in scenarios {
        let report = match scenario {
            Scenario::Postgres => match outage::postgres_outage(args).await? {
                Some(report) => report,
                None => continue,
            },
            other => run_scenario(args, other, None).await?,
        };
        if !report.print() {
            broken.push(format!("{scenario:?}").to_lowercase());
        }
    }
    if !broken.is_empty() {
        bail!("invariants broken in: {}", broken.join(", "));
    }
    Ok(())
}

fn now() -> i64 {
    crate::SystemClock.now().seconds()
}

/// One scenario from start to report.
#[allow(clippy::too_many_lines)] // one story: set up, load with the disruption, check
async fn run_scenario(
    args: &CrashBench,
    scenario: Scenario,
    postgres: Option<(&Outage, Databases)>,
) -> Result<Report> {
    let temporary = tempfile::tempdir().context("cannot create a temporary folder")?;
    let dir = match &args.keep {
        Some(keep) => {
            let dir = keep.join(format!("{scenario:?}").to_lowercase());
            std::fs::create_dir_all(&dir)?;
            dir
        }
        None => temporary.path().to_owned(),
    };
    let dir = dir.as_path();
    let (outage, databases) = match postgres {
        Some((outage, dbs)) => (Some(outage), dbs),
        None => (None, Databases::default()),
    };
    let mut world = World::start(dir, &databases).await?;
    let start_day = herald_model::Date::of(crate::SystemClock.now()).to_string();
    let codes = app::issue_codes(&world.verifier_client, &world.admin_key, args.uploads).await?;
    let seeded = check::seed(&world.keyserver_db, args.seed_keys, now()).await?;
    world.start_keyserver().await?;
    let flow = Flow {
        address: "10.255.255.1".into(),
        verifier: world.verifier_client.clone(),
        keyserver: world.keyserver_client.clone(),
        device_key: world.device_key.clone(),
        app_id: herald_keyserver::dev::dev_app_id("DE".parse()?),
        keys: args.keys,
        today: crate::SystemClock.now().utc_day(),
        newest_day_back: 2,
    };
    warm_up(&world, &flow).await?;

    let mut report = Report::default();
    report.line("scenario", describe(args, scenario, outage));
    let chaff = (args.uploads as f64 * args.chaff_ratio).round() as usize;
    let load = Arc::new(Load {
        flow: flow.clone(),
        apps: args.apps,
        seed: 0,
        codes,
        chaff,
        done: Arc::new(AtomicUsize::new(0)),
        tally: Arc::new(Tally::default()),
    });
    let running = tokio::spawn({
        let load = load.clone();
        async move {
            let started = Instant::now();
            load.run().await.map(|records| (records, started.elapsed()))
        }
    });
    let total = args.uploads + chaff;
    let pids = (world.verifier.pid(), world.keyserver()?.pid());
    let points = match scenario {
        Scenario::Keyserver | Scenario::Verifier => args.kills,
        Scenario::Postgres | Scenario::Gateway => 1,
    };
    for k in 1..=points {
        let at = total * k / (points + 1);
        while load.done.load(Ordering::Relaxed) < at && !running.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let percent = 100 * load.done.load(Ordering::Relaxed) / total.max(1);
        let event = disrupt(args, scenario, &mut world, outage).await?;
        report.line("event", format!("at {percent}% of the load: {event}"));
    }
    let (records, took) = running.await.context("the load failed")??;
    let seconds = took.as_secs_f64();
    report.line(
        "load",
        format!(
            "{} apps, {} uploads of {} keys, {chaff} chaff pairs, {seconds:.1} s",
            args.apps, args.uploads, args.keys
        ),
    );
    for line in load.tally.lines() {
        report.line("answers", line);
    }
    uploads_line(&mut report, &records);
    if scenario == Scenario::Postgres {
        let unavailable = load.tally.count(Endpoint::Publish, "503")
            + load.tally.count(Endpoint::Verify, "503")
            + load.tally.count(Endpoint::Certificate, "503");
        let errors500 = load.tally.count(Endpoint::Publish, "500")
            + load.tally.count(Endpoint::Verify, "500")
            + load.tally.count(Endpoint::Certificate, "500");
        report.line(
            "outage",
            format!("{unavailable} answers 503, {errors500} answers 500 (retried by the apps)"),
        );
        let alive = world.verifier.running()
            && world.keyserver()?.running()
            && pids == (world.verifier.pid(), world.keyserver()?.pid());
        report
            .invariants
            .push(("services restarted or dead after the outage", usize::from(!alive)));
    }

    // After the load: the services answer, and nothing was taken twice.
    let probe_code = app::issue_codes(&world.verifier_client, &world.admin_key, 1).await?;
    let probe = Load {
        flow: flow.clone(),
        apps: 1,
        seed: 2_000_000,
        codes: probe_code,
        chaff: 0,
        done: Arc::new(AtomicUsize::new(0)),
        tally: Arc::new(Tally::default()),
    };
    let probed = probe.run().await?;
    let probe_ok = probed.iter().all(|r| r.acknowledged == 1);
    if let Some((endpoint, status, _)) = probed.iter().find_map(|r| r.refused) {
        report.line("probe", format!("refused at {} with {status}", endpoint.name()));
    }
    report.invariants.push(("fresh upload failing after recovery", usize::from(!probe_ok)));
    let replays = check::replay(&flow, &records).await?;
    report.line(
        "replayed",
        format!(
            "{} codes, {} tokens, {} acknowledged certificates sent again",
            replays.sent.0, replays.sent.1, replays.sent.2
        ),
    );
    report.invariants.push((
        "valid requests refused (not a retry)",
        records.iter().filter(|r| r.refused.is_some_and(|(_, _, first)| first)).count(),
    ));
    let held = check::held(&world.keyserver_db, &records).await?;
    report.line(
        "stored",
        format!(
            "{} publishes answered 5xx or not at all, then refused as a used certificate: keys stored",
            held.unanswered.0
        ),
    );
    report.invariants.push(("lost acknowledged keys", held.lost));
    report.invariants.push(("certificates used up without their keys", held.unanswered.1));
    report.invariants.push(("codes that yielded two tokens", replays.codes));
    report.invariants.push(("tokens that yielded two certificates", replays.tokens));
    report.invariants.push(("certificates accepted twice", replays.certificates));

    // Federation: the outbox drains, and the gateway holds each key once.
    let drained = check::drain_outbox(&world.keyserver_db, Duration::from_mins(3)).await?;
    let end_day = herald_model::Date::of(crate::SystemClock.now()).to_string();
    let mut dates = vec![start_day.clone()];
    if end_day != start_day {
        dates.push(end_day);
    }
    let expected: Vec<check::KeyBytes> = records
        .iter()
        .filter(|r| r.acknowledged > 0)
        .flat_map(|r| r.keys.iter().map(|k| *k.key.as_bytes()))
        .chain(seeded.iter().copied())
        .collect();
    let nl = world.gateway_client("NL")?;
    let at_gateway = check::gateway_keys(&nl, &dates, &expected, Duration::from_mins(1)).await?;
    report.line(
        "federation",
        format!(
            "outbox {}; the gateway holds {} DE keys ({} acknowledged or seeded)",
            drained.map_or_else(
                || "NOT drained".to_owned(),
                |d| format!("drained {:.1} s after the load", d.as_secs_f64())
            ),
            at_gateway.len(),
            expected.len()
        ),
    );
    report.invariants.push(("outbox not drained", usize::from(drained.is_none())));
    report.invariants.push((
        "keys missing at the gateway",
        expected.iter().filter(|k| !at_gateway.contains_key(*k)).count(),
    ));
    report
        .invariants
        .push(("keys duplicated at the gateway", at_gateway.values().filter(|n| **n > 1).count()));

    // Exports: the seeded keys' window is due; each key in exactly one hourly file.
    let exported =
        check::hourly_exports(&world.exports_dir()?, &seeded, Duration::from_mins(2)).await?;
    report
        .line("exports", format!("{} keys in the hourly files (padding included)", exported.len()));
    report.invariants.push((
        "seeded keys missing from the exports",
        seeded.iter().filter(|k| !exported.contains_key(*k)).count(),
    ));
    report
        .invariants
        .push(("keys duplicated in the exports", exported.values().filter(|n| **n > 1).count()));
    Ok(report)
}

fn describe(args: &CrashBench, scenario: Scenario, outage: Option<&Outage>) -> String {
    match scenario {
        Scenario::Keyserver => format!(
            "keyserver: kill -9 of the key server ×{} under load, restarted at once (SQLite)",
            args.kills
        ),
        Scenario::Verifier => format!(
            "verifier: kill -9 of the verifier ×{} under load, restarted at once (SQLite)",
            args.kills
        ),
        Scenario::Postgres => format!(
            "postgres: PostgreSQL down {} s under load, services left running; {}",
            args.outage,
            outage.map_or("", Outage::describe)
        ),
        Scenario::Gateway => format!(
            "gateway: gateway killed and away {} s under load (dev key server: an upload try every 2 s; production: every 600 s), then restarted (SQLite)",
            args.gateway_down
        ),
    }
}

/// The scenario's event; returns what happened, for the table.
async fn disrupt(
    args: &CrashBench,
    scenario: Scenario,
    world: &mut World,
    outage: Option<&Outage>,
) -> Result<String> {
    match scenario {
        Scenario::Keyserver => {
            let outbox = check::outbox_counts(&world.keyserver_db).await?;
            let index = world.exports_dir()?.join("hourly").join("index.txt");
            let files = std::fs::read_to_string(index).map_or(0, |t| t.lines().count());
            let t = Instant::now();
            world.keyserver()?.kill()?;
            world.keyserver()?.restart().await?;
            Ok(format!(
                "key server killed (outbox: {} waiting, {} in flight, {} uploaded; {files} hourly export files), back in {:.2} s",
                outbox.0,
                outbox.1,
                outbox.2,
                t.elapsed().as_secs_f64()
            ))
        }
        Scenario::Verifier => {
            let t = Instant::now();
            world.verifier.kill()?;
            world.verifier.restart().await?;
            Ok(format!("verifier killed, back in {:.2} s", t.elapsed().as_secs_f64()))
        }
        Scenario::Postgres => {
            let outage = outage.context("the postgres scenario has an outage")?;
            outage.begin().await?;
            tokio::time::sleep(Duration::from_secs(args.outage)).await;
            outage.end().await?;
            Ok(format!("PostgreSQL down for {} s, then up again", args.outage))
        }
        Scenario::Gateway => {
            let failed_before = failed_uploads(world).await;
            world.gateway.kill()?;
            tokio::time::sleep(Duration::from_secs(args.gateway_down)).await;
            let failed = failed_uploads(world).await.saturating_sub(failed_before);
            let outbox = check::outbox_counts(&world.keyserver_db).await?;
            world.gateway.restart().await?;
            Ok(format!(
                "gateway away {} s: {failed} federation upload runs failed meanwhile, {} keys waiting in the outbox when it came back",
                args.gateway_down,
                outbox.0 + outbox.1
            ))
        }
    }
}

/// `herald_keyserver_job_runs_total{job="federation-upload",outcome="failed"}`.
async fn failed_uploads(world: &World) -> usize {
    let Ok(url) = world.keyserver_internal_url() else { return 0 };
    let Ok(text) = http_get(&url, "/metrics").await else { return 0 };
    text.lines()
        .find(|l| {
            l.starts_with(
                "herald_keyserver_job_runs_total{job=\"federation-upload\",outcome=\"failed\"}",
            )
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A plain-HTTP GET on the internal listener.
async fn http_get(base: &str, path: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let host = base.strip_prefix("http://").context("not an http:// URL")?;
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    Ok(text)
}

/// One upload before the load, retried until the key server has the verifier's keys.
async fn warm_up(world: &World, flow: &Flow) -> Result<()> {
    for attempt in 0..60 {
        let code = app::issue_codes(&world.verifier_client, &world.admin_key, 1).await?;
        let warm = Load {
            flow: flow.clone(),
            apps: 1,
            seed: 1_000_000 + attempt,
            codes: code,
            chaff: 0,
            done: Arc::new(AtomicUsize::new(0)),
            tally: Arc::new(Tally::default()),
        };
        if warm.run().await?.iter().all(|r| r.acknowledged == 1) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("the key server did not accept the verifier's certificates within 15 s")
}

/// How the uploads ended.
fn uploads_line(report: &mut Report, records: &[Record]) {
    let acknowledged = records.iter().filter(|r| r.acknowledged > 0).count();
    let refused = |e: Endpoint| {
        records.iter().filter(|r| r.refused.is_some_and(|(x, _, first)| x == e && !first)).count()
    };
    report.line(
        "uploads",
        format!(
            "{acknowledged} acknowledged; given up when a retry was refused (the first attempt went through, its answer was lost): {} at /api/verify, {} at /api/certificate, {} at /v1/publish",
            refused(Endpoint::Verify),
            refused(Endpoint::Certificate),
            refused(Endpoint::Publish)
        ),
    );
}
