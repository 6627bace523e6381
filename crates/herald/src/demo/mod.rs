//! `herald demo`: a continent in one command. The federation gateway and, per country, a
//! verification service and a key server run in this process over real HTTPS on 127.0.0.1
//! (embedded SQLite, a fresh dev PKI, one manual clock); a simulated population
//! (`herald-sim`) meets, falls ill and tests positive; the apps (`herald-phone`) of those who
//! test positive go through the whole upload flow, and every phone checks its country's signed
//! export files each simulated hour of the night. The demo then measures the warnings against
//! the ground truth of who really met whom.
//!
//! A simulated day: meetings (the simulation), test results at 18:00 with the case worker's
//! code → the app's token → certificate → publish (plus chaff), then hourly from 19:00 to 08:00
//! the next morning: each key server uploads to the gateway, downloads the others' keys,
//! writes its export files, and its country's phones download the new files, verify their
//! signature and check them.

mod night;
mod report;
mod truth;
mod upload;
pub(crate) mod world;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use herald_model::{Clock as _, CountryCode, UnixTime};
use herald_phone::RiskPolicy;
use herald_service::random::Randomness;
use herald_sim::{Health, PersonId, Scenario, Simulation};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::SeedableRng as _;
use rand::rngs::StdRng;

use self::report::{CountryRow, DayRow, Summary, UploadFunnel};
use self::truth::Uploaded;
use self::world::World;

/// `herald demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Countries, each with its own verification service and key server.
    #[arg(long, value_delimiter = ',', default_value = "DE,NL,DK")]
    countries: Vec<String>,
    /// Phones in all (shared evenly among the countries).
    #[arg(long, default_value_t = 6000)]
    phones: u32,
    /// Days to simulate (1..=30).
    #[arg(long, default_value_t = 10)]
    days: u32,
    /// Seed of every random choice of the simulation: the same seed, the same epidemic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the report goes: report.html, summary.json and world/ (the services' dev folder:
    /// databases, export files, keys). world/ is replaced on each run.
    #[arg(long, value_name = "DIR", default_value = "herald-demo")]
    out: PathBuf,
    /// BLE measurement noise, ±dB on each sighting's attenuation (0: phones measure the true
    /// distance, so precision and recall must both be 1).
    #[arg(long, default_value_t = 0)]
    noise_db: u8,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

/// Entry point.
pub(crate) fn run(args: DemoArgs) -> Result<()> {
    let mut countries = Vec::new();
    for c in &args.countries {
        let code: CountryCode = c.trim().parse().with_context(|| {
            format!("--countries: {c:?} is not an upper-case ISO 3166-1 alpha-2 code")
        })?;
        if countries.contains(&code) {
            bail!("--countries: {code} is listed twice");
        }
        countries.push(code);
    }
    if countries.len() < 2 {
        bail!("--countries: give at least two countries, so that keys have a border to cross");
    }
    if !(1..=30).contains(&args.days) {
        bail!("--days must be in 1..=30");
    }
    let per_country = args.phones / u32::try_from(countries.len()).unwrap_or(u32::MAX);
    if per_country < 20 {
        bail!("--phones: at least 20 per country ({} countries)", countries.len());
    }
    crate::run_async(drive(args, countries, per_country))
}

/// Per-stage progress bars.
struct Bars {
    stages: Vec<ProgressBar>,
    _multi: MultiProgress,
}

/// A stage of the run: it has a progress bar, and its time is a line of the summary. Declared in
/// the order of a simulated day, which `ALL` follows: `stage as usize` indexes per-stage arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Simulate,
    Upload,
    Federate,
    Export,
    Phones,
    Truth,
}

impl Stage {
    /// Every stage, in the order of the bars and of the summary.
    const ALL: [Self; 6] =
        [Self::Simulate, Self::Upload, Self::Federate, Self::Export, Self::Phones, Self::Truth];

    /// Its name, on its bar and in `summary.json`.
    fn name(self) -> &'static str {
        match self {
            Self::Simulate => "simulate",
            Self::Upload => "upload",
            Self::Federate => "federate",
            Self::Export => "export",
            Self::Phones => "phones",
            Self::Truth => "truth",
        }
    }
}

impl Bars {
    fn new(days: u32, quiet: bool) -> Self {
        let multi = MultiProgress::with_draw_target(if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let style = ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let stages = Stage::ALL
            .iter()
            .map(|stage| {
                let len = if *stage == Stage::Truth { 1 } else { u64::from(days) };
                let bar = multi.add(ProgressBar::new(len));
                bar.set_style(style.clone());
                bar.set_prefix(stage.name());
                bar
            })
            .collect();
        Self { stages, _multi: multi }
    }

    fn bar(&self, stage: Stage) -> &ProgressBar {
        // `new` makes one bar per stage, in the order of `Stage::ALL`.
        #[allow(clippy::indexing_slicing)]
        &self.stages[stage as usize]
    }

    fn finish(&self) {
        for bar in &self.stages {
            bar.finish();
        }
    }
}

/// What the demo tracks per country.
#[derive(Default)]
struct Tally {
    row: CountryRow,
    /// The country's app: which export files it processed.
    downloads: herald_phone::exports::Downloads,
    exported: HashSet<[u8; 16]>,
    expected_received: usize,
    received: usize,
}

struct Run {
    world: World,
    sim: Simulation,
    policy: RiskPolicy,
    rng: StdRng,
    tally: Vec<Tally>,
    uploads: HashMap<PersonId, Uploaded>,
    /// Every key the apps uploaded, with the uploader's country.
    uploaded_keys: Vec<[u8; 16]>,
    uploaded_from: Vec<usize>,
    warned_at: HashMap<PersonId, UnixTime>,
    time: [Duration; Stage::ALL.len()],
    chaff: usize,
    bars: Bars,
}

async fn drive(args: DemoArgs, countries: Vec<CountryCode>, per_country: u32) -> Result<()> {
    let wall = Instant::now();
    // The simulation starts on the Monday on or before `days` days ago, so that it is over by
    // tonight and the same seed gives the same week, and so the same epidemic, on any date.
    let today = crate::SystemClock.now().utc_day();
    let first = today - i64::from(args.days);
    let start = UnixTime((first - herald_sim::weekday(first)) * 86_400);
    let scenario = Scenario {
        countries: countries.clone(),
        phones_per_country: per_country,
        days: args.days,
        seed: args.seed,
        start,
        attenuation_noise_db: args.noise_db,
        ..Scenario::default()
    };
    scenario.validate()?;
    let out = args.out.clone();
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let world_dir = out.join("world");
    if world_dir.exists() {
        if !world_dir.join("ca.pem").exists() {
            bail!(
                "{} exists and is not a demo world (no ca.pem): choose another --out",
                world_dir.display()
            );
        }
        std::fs::remove_dir_all(&world_dir)
            .with_context(|| format!("cannot replace {}", world_dir.display()))?;
    }
    let bars = Bars::new(args.days, args.quiet);
    let sim = tokio::task::block_in_place(|| Simulation::new(scenario))?;
    // The services' own random choices (export padding, fake keys, batch tags, codes) replay
    // with the seed too.
    let services_random = Randomness::seeded(args.seed ^ 0x7365_7276_6963_6573);
    let world = World::start(&world_dir, &countries, start, &services_random).await?;
    let mut run = Run {
        tally: countries
            .iter()
            .map(|c| Tally {
                row: CountryRow {
                    country: c.as_str().to_owned(),
                    phones: per_country as usize,
                    ..CountryRow::default()
                },
                ..Tally::default()
            })
            .collect(),
        world,
        sim,
        policy: RiskPolicy::default(),
        rng: StdRng::seed_from_u64(args.seed ^ 0x0068_6572_616c_6421),
        uploads: HashMap::new(),
        uploaded_keys: Vec::new(),
        uploaded_from: Vec::new(),
        warned_at: HashMap::new(),
        time: [Duration::ZERO; Stage::ALL.len()],
        chaff: 0,
        bars,
    };
    let per_day = run.days(args.days).await?;

    let t = Instant::now();
    let truth =
        tokio::task::block_in_place(|| truth::expected(&run.sim, &run.uploads, &run.policy));
    run.spent(Stage::Truth, t);
    run.bars.bar(Stage::Truth).inc(1);
    run.bars.finish();

    let summary = run.summary(&args, per_day, &truth, wall.elapsed());
    summary.write(&out)?;
    run.write_uploaded_keys(&out.join("uploaded-keys.csv"))?;
    let world = run.world;
    world.stop().await;
    print!("{}", summary.text());
    println!("report: {}", out.join("report.html").display());
    Ok(())
}

impl Run {
    /// Adds the time since `started` to `stage`.
    fn spent(&mut self, stage: Stage, started: Instant) {
        // `time` has one slot per stage, in the order of `Stage::ALL`.
        #[allow(clippy::indexing_slicing)]
        let slot = &mut self.time[stage as usize];
        *slot += started.elapsed();
    }

    async fn days(&mut self, days: u32) -> Result<Vec<DayRow>> {
        let mut rows = Vec::new();
        for _ in 0..days {
            let t = Instant::now();
            let day = tokio::task::block_in_place(|| self.sim.step());
            self.spent(Stage::Simulate, t);
            let midnight = self.sim.midnight(day.day);
            let bar = self.bars.bar(Stage::Simulate);
            bar.inc(1);
            bar.set_message(format!(
                "{} meetings, {} sightings, {} infections",
                day.contacts, day.sightings, day.infections
            ));
            let mut row = DayRow {
                day: day.day,
                date: herald_model::Date::of(midnight).to_string(),
                contacts: day.contacts,
                cross_border_contacts: day.cross_border_contacts,
                sightings: day.sightings,
                infections: day.infections,
                funnel: UploadFunnel { positives: day.positives.len(), ..UploadFunnel::default() },
                ..DayRow::default()
            };
            // Test results arrive at 18:00; those who agree upload.
            self.world.clock.set(UnixTime(midnight.seconds() + 18 * 3600));
            let t = Instant::now();
            let (uploads, keys) = self.upload_all(&day.positives).await?;
            self.spent(Stage::Upload, t);
            row.funnel.uploads = uploads;
            row.funnel.keys_uploaded = keys;
            let bar = self.bars.bar(Stage::Upload);
            bar.inc(1);
            bar.set_message(format!("{} uploads so far", self.uploads.len()));
            let warned_before = self.warned_at.len();
            // The night, hour by hour, until 08:00.
            for hour in 19..=32 {
                self.world.clock.set(UnixTime(midnight.seconds() + hour * 3600));
                self.night_hour().await?;
            }
            for stage in [Stage::Federate, Stage::Export, Stage::Phones] {
                self.bars.bar(stage).inc(1);
            }
            self.bars
                .bar(Stage::Phones)
                .set_message(format!("{} phones warned", self.warned_at.len()));
            row.warned = self.warned_at.len() - warned_before;
            rows.push(row);
        }
        Ok(rows)
    }

    /// `uploaded-keys.csv`: country and key (hex) of every uploaded key, so that anyone can
    /// check the export files in `world/` against them.
    fn write_uploaded_keys(&self, path: &std::path::Path) -> Result<()> {
        let mut text = String::from("country,key\n");
        for (key, country) in self.uploaded_keys.iter().zip(&self.uploaded_from) {
            let code = self.tally.get(*country).map_or("", |t| t.row.country.as_str());
            let _ = writeln!(text, "{code},{}", herald_model::key::to_hex(key));
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    fn summary(
        &self,
        args: &DemoArgs,
        per_day: Vec<DayRow>,
        truth: &truth::Truth,
        wall: Duration,
    ) -> Summary {
        let people = self.sim.people();
        let mut per_country: Vec<CountryRow> = self.tally.iter().map(|t| t.row.clone()).collect();
        for (row, tally) in per_country.iter_mut().zip(&self.tally) {
            row.uploaded_keys_published =
                self.uploaded_keys.iter().filter(|k| tally.exported.contains(*k)).count();
            row.uploaded_keys_missing = self.uploaded_keys.len() - row.uploaded_keys_published;
        }
        for &who in self.warned_at.keys() {
            let Some(p) = people.get(who as usize) else { continue };
            if let Some(row) = per_country.get_mut(p.country) {
                row.warned += 1;
                if truth.cross_border.contains(&who) {
                    row.warned_cross_border += 1;
                }
            }
        }
        let warned: HashSet<PersonId> = self.warned_at.keys().copied().collect();
        let correct = warned.intersection(&truth.expected).count();
        #[allow(clippy::cast_precision_loss)]
        let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        #[allow(clippy::cast_precision_loss)]
        let mut hours: Vec<f64> = self
            .warned_at
            .iter()
            .filter_map(|(who, at)| {
                // The last positive test before the warning that counts for it: the one whose
                // keys made the exposure reach the threshold, or a later one of that day.
                let source = truth.source_times.get(who)?.iter().filter(|t| *t <= at).max()?;
                Some((at.seconds() - source.seconds()) as f64 / 3600.0)
            })
            .collect();
        hours.sort_by(f64::total_cmp);
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let quantile = |q: f64| -> f64 {
            if hours.is_empty() {
                return 0.0;
            }
            let i = ((hours.len() - 1) as f64 * q).round() as usize;
            hours.get(i).copied().unwrap_or(0.0)
        };
        let mut histogram = vec![0usize; 1];
        for h in &hours {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let bin = (h.max(0.0) / 2.0) as usize;
            if histogram.len() <= bin {
                histogram.resize(bin + 1, 0);
            }
            if let Some(slot) = histogram.get_mut(bin) {
                *slot += 1;
            }
        }
        let total: f64 = self.time.iter().map(Duration::as_secs_f64).sum();
        let stages = Stage::ALL
            .iter()
            .zip(&self.time)
            .map(|(stage, d)| report::Stage {
                name: stage.name(),
                seconds: d.as_secs_f64(),
                share: if total > 0.0 { d.as_secs_f64() / total } else { 0.0 },
            })
            .collect();
        Summary {
            countries: self.tally.iter().map(|t| t.row.country.clone()).collect(),
            phones: people.len(),
            days: args.days,
            seed: args.seed,
            noise_db: args.noise_db,
            start_date: herald_model::Date::of(self.sim.midnight(0)).to_string(),
            infections: people.iter().filter(|p| p.health != Health::Susceptible).count(),
            positives: per_country.iter().map(|c| c.funnel.positives).sum(),
            uploads: self.uploads.len(),
            keys_uploaded: self.uploaded_keys.len(),
            keys_federated: per_country.iter().map(|c| c.keys_federated).sum(),
            chaff_requests: self.chaff,
            warned: warned.len(),
            should_be_warned: truth.expected.len(),
            correctly_warned: correct,
            precision: ratio(correct, warned.len()),
            recall: ratio(correct, truth.expected.len()),
            warned_cross_border: warned.intersection(&truth.cross_border).count(),
            hours_to_warning_median: quantile(0.5),
            hours_to_warning_p90: quantile(0.9),
            hours_to_warning_max: hours.last().copied().unwrap_or(0.0),
            hours_to_warning_histogram: histogram,
            per_day,
            per_country,
            stages,
            wall_seconds: wall.as_secs_f64(),
            peak_memory_mib: peak_memory_mib(),
        }
    }
}

/// Peak resident memory of this process (Linux `VmHWM`), MiB; 0 where unknown.
fn peak_memory_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_indexes_its_own_slot() {
        for (i, stage) in Stage::ALL.iter().enumerate() {
            assert_eq!(*stage as usize, i, "{}", stage.name());
        }
    }
}
