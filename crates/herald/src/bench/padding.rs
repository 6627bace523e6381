//! `herald bench padding`: what a phone downloads a day at European scale under an export
//! padding policy, against the bytes of the real keys it needs (issue 14, measurement 10).
//!
//! 27 EU countries ([`europe`]: population × cases × app share × upload share; a typical and a
//! peak day) each run a key server that pads its own windows under the policy, with the key
//! server's own [`Padding`]; the federation brings every other country's keys — real and, when
//! the policy federates them, padding — into each country's files ([`sim`]); phones download
//! their country's series. Bytes: one day of Germany's files is built and signed with
//! [`ExportBuilder`] (the real zips), which calibrates `bytes = per_file + per_key × keys` for
//! every other file; the output says so.

mod europe;
mod sim;

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use herald_keyserver::export::padding::Padding;
use herald_model::{
    DaysSinceOnset, DiagnosisKey, IntervalNumber, ReportType, RollingPeriod, TemporaryExposureKey,
};
use herald_wire::export::{ExportBuilder, ExportSigner, ExportSpec, FileSigner, SignatureInfo};
use rand::rngs::StdRng;
use rand::{Rng as _, RngExt as _, SeedableRng as _};

use self::europe::{EU27, KEYS_PER_UPLOAD, Regime};
use self::sim::{Count, Policy, Run, Windows};

#[derive(Debug, Args)]
pub(crate) struct PaddingBench {
    /// Days reported for each of the typical and the peak day (means over them), each run after
    /// two warm-up days.
    #[arg(long, value_name = "N", default_value_t = 3)]
    days: usize,
    /// Seed of the uploads and of the padding's random draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The policy to evaluate (its table per country).
    #[arg(long, value_enum, default_value_t = CHOSEN)]
    policy: Candidate,
    /// Evaluate every candidate policy: one summary line each, then the chosen policy's tables.
    #[arg(long)]
    compare: bool,
}

/// The candidate policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Candidate {
    /// ENS and herald until now: hourly and daily windows with 1–999 keys, federated keys
    /// counted, padded to 1000 + rand[0,100]; fakes federated.
    Today,
    /// As today, but the fakes stay home (not federated).
    Local,
    /// Own keys only: floor 140 + rand[0,10], 20 % ladder, every hourly window.
    OwnHourly,
    /// Own keys only: floor 140 + rand[0,10] per daily window, no ladder.
    OwnDaily,
    /// Own keys only: floor 140 + rand[0,10] per daily window, 20 % ladder.
    Ladder,
    /// As ladder, but each country pads (and publishes) the shortest windows of 1, 2, 3, 4, 6, 8,
    /// 12 or 24 hours that hold 3 × 140 own keys on a typical day (chosen).
    LadderByVolume,
}

/// The policy `herald bench padding` chose, and the key server's example configures.
const CHOSEN: Candidate = Candidate::LadderByVolume;

/// The goal: a large country's phones download at most this many times the real keys' bytes
/// on a typical day.
const GOAL: f64 = 1.2;

const ENS: Padding = Padding { floor: 1000, range: 100, ladder_percent: 0 };
const LADDER: Padding = Padding { floor: 140, range: 10, ladder_percent: 20 };

impl Candidate {
    fn all() -> [Self; 6] {
        [
            Self::Today,
            Self::Local,
            Self::OwnHourly,
            Self::OwnDaily,
            Self::Ladder,
            Self::LadderByVolume,
        ]
    }

    fn policy(self) -> Policy {
        let own = |name, summary, padding, windows| Policy {
            name,
            summary,
            count: Count::Own,
            federated: true,
            held: true,
            padding,
            windows,
        };
        match self {
            Self::Today => Policy {
                name: "today",
                summary: "hourly and daily windows with 1-999 keys (federated ones counted) padded to \
                     1000 + rand[0,100]; fakes federated after the export, real keys at once",
                count: Count::Window,
                federated: true,
                held: false,
                padding: ENS,
                windows: Windows::Both,
            },
            Self::Local => Policy {
                name: "local",
                summary: "as today, but the fakes stay home (not federated)",
                federated: false,
                ..Self::Today.policy()
            },
            Self::OwnHourly => own(
                "own-hourly",
                "own keys only: every hourly window (empty ones too) to 140 + rand[0,10], 20 \
                     % ladder above; real and fake keys federated together after the export",
                LADDER,
                Windows::Hourly,
            ),
            Self::OwnDaily => own(
                "own-daily",
                "own keys only: every daily window (empty ones too) to 140 + rand[0,10], \
                     nothing above; real and fake keys federated together after the export",
                Padding { ladder_percent: 0, ..LADDER },
                Windows::Daily,
            ),
            Self::Ladder => own(
                "ladder",
                "own keys only: every daily window (empty ones too) to 140 + rand[0,10], \
                     above it the next 20 % rung; real and fake keys federated together after the \
                     export",
                LADDER,
                Windows::Daily,
            ),
            Self::LadderByVolume => own(
                "ladder-by-volume",
                "as ladder, but each country pads and publishes the shortest windows (1, 2, \
                     3, 4, 6, 8, 12 or 24 h) that hold 3 x 140 own keys on a typical day",
                LADDER,
                Windows::ByVolume,
            ),
        }
    }
}

/// `bytes = per_file + per_key × keys + root × √keys` for one export file: the zip's deflate
/// finds the keys' repeated metadata better in a larger file.
#[derive(Debug, Clone, Copy)]
struct ByteModel {
    per_file: f64,
    per_key: f64,
    root: f64,
}

impl ByteModel {
    #[allow(clippy::cast_precision_loss)] // key counts are far below 2^52
    fn bytes(&self, keys: u64) -> f64 {
        let k = keys as f64;
        if keys == 0 { 0.0 } else { self.per_file + self.per_key * k + self.root * k.sqrt() }
    }

    /// The least-squares fit of relative errors to `(keys, bytes)` points.
    fn fit(points: &[(f64, f64)]) -> Self {
        let mut m = [[0.0f64; 3]; 3];
        let mut v = [0.0f64; 3];
        for &(k, y) in points {
            let w = 1.0 / (y * y);
            let x = [1.0, k, k.sqrt()];
            for (row, xi) in m.iter_mut().zip(x) {
                for (cell, xj) in row.iter_mut().zip(x) {
                    *cell += w * xi * xj;
                }
            }
            for (vi, xi) in v.iter_mut().zip(x) {
                *vi += w * xi * y;
            }
        }
        // Cramer's rule on the 3 × 3 normal equations.
        let det = |[[a, b, c], [d, e, f], [g, h, i]]: [[f64; 3]; 3]| {
            a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
        };
        let with = |col: usize| {
            let mut c = m;
            for (row, vi) in c.iter_mut().zip(v) {
                if let Some(cell) = row.get_mut(col) {
                    *cell = vi;
                }
            }
            det(c)
        };
        let d = det(m);
        if d == 0.0 {
            return Self { per_file: 0.0, per_key: 0.0, root: 0.0 };
        }
        Self { per_file: with(0) / d, per_key: with(1) / d, root: with(2) / d }
    }
}

/// One country's day under a policy (means over the reported days).
#[derive(Debug, Default)]
struct Row {
    code: &'static str,
    series: String,
    uploads: f64,
    real_keys: f64,
    real_bytes: f64,
    own_padding: f64,
    federated_padding: f64,
    bytes: f64,
}

impl Row {
    fn ratio(&self) -> f64 {
        if self.real_bytes > 0.0 { self.bytes / self.real_bytes } else { f64::INFINITY }
    }
}

pub(crate) fn run(args: &PaddingBench) -> Result<()> {
    if !(1..=30).contains(&args.days) {
        bail!("--days must be in 1..=30");
    }
    let shown = if args.compare { CHOSEN } else { args.policy };
    let policy = shown.policy();
    // Written at the end in one go: a closed stdout is an error, not a panic.
    let mut out = String::new();
    let out = &mut out;
    writeln!(
        out,
        "herald bench padding: 27 EU countries, typical day (50 cases per million) and peak day \
         (500), {} reported day(s) each after {} warm-up days, seed {}",
        args.days,
        sim::WARM_UP_DAYS,
        args.seed
    )?;
    writeln!(
        out,
        "uploads a day = population x cases x app share x 0.5; {}-{} keys each; every country \
         federates with every other",
        KEYS_PER_UPLOAD.start(),
        KEYS_PER_UPLOAD.end()
    )?;
    let typical = sim::simulate(&policy, Regime::Typical, args.days, args.seed);
    let (model, note) = calibrate(&typical, &policy, args.seed)?;
    writeln!(out, "{note}")?;
    if args.compare {
        compare(out, args, &model)?;
    }
    writeln!(out)?;
    writeln!(out, "policy {}{}: {}", policy.name, chosen_mark(shown), policy.summary)?;
    let peak = sim::simulate(&policy, Regime::Peak, args.days, args.seed);
    for (regime, run) in [(Regime::Typical, &typical), (Regime::Peak, &peak)] {
        print_table(out, regime, &rows(run, &policy, &model))?;
    }
    print_privacy(out, &policy, &typical)?;
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}

fn chosen_mark(candidate: Candidate) -> &'static str {
    if candidate == CHOSEN { " (chosen)" } else { "" }
}

/// Per-country means over the reported days of `run`.
fn rows(run: &Run, policy: &Policy, model: &ByteModel) -> Vec<Row> {
    #[allow(clippy::cast_precision_loss)] // a few days
    let days = run.days.max(1) as f64;
    EU27.iter()
        .enumerate()
        .map(|(c, country)| {
            let series = policy.series(country);
            let mut row = Row { code: country.code, series: series.name(), ..Row::default() };
            for day in 0..run.days {
                for w in run.windows(c, day, series) {
                    #[allow(clippy::cast_precision_loss)] // key counts are far below 2^52
                    let (uploads, real, own, fed) = (
                        w.uploads as f64,
                        w.real() as f64,
                        w.own_fake as f64,
                        w.imported_fake as f64,
                    );
                    row.uploads += uploads / days;
                    row.real_keys += real / days;
                    row.own_padding += own / days;
                    row.federated_padding += fed / days;
                    row.real_bytes += model.bytes(w.real()) / days;
                    row.bytes += model.bytes(w.total()) / days;
                }
            }
            row
        })
        .collect()
}

fn print_table(out: &mut String, regime: Regime, rows: &[Row]) -> std::fmt::Result {
    writeln!(out)?;
    writeln!(out, "{} day (per day; bytes from the calibrated model)", regime.name())?;
    writeln!(
        out,
        "{:<4} {:<6} {:>8} {:>10} {:>12} {:>11} {:>11} {:>12} {:>7}",
        "",
        "series",
        "uploads",
        "real keys",
        "real bytes",
        "own pad",
        "fed. pad",
        "downloaded",
        "ratio"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:<4} {:<6} {:>8.1} {:>10.0} {:>12.0} {:>11.0} {:>11.0} {:>12.0} {:>7.2}",
            r.code,
            r.series,
            r.uploads,
            r.real_keys,
            r.real_bytes,
            r.own_padding,
            r.federated_padding,
            r.bytes,
            r.ratio()
        )?;
    }
    let uploads: f64 = rows.iter().map(|r| r.uploads).sum();
    let padding: f64 = rows.iter().map(|r| r.own_padding).sum();
    writeln!(out, "EU   {uploads:.0} uploads, {padding:.0} padding keys made")?;
    for r in rows.iter().filter(|r| ["DE", "FR", "MT"].contains(&r.code)) {
        let goal = if r.code == "DE" && regime == Regime::Typical {
            format!(" (goal <= {GOAL:.2}: {})", if r.ratio() <= GOAL { "met" } else { "missed" })
        } else {
            String::new()
        };
        writeln!(out, "ratio {} {} {:.2}{goal}", r.code, regime.name(), r.ratio())?;
    }
    Ok(())
}

/// What the federation sees by origin from Malta's padding window with 0, 1 and 5 uploads,
/// next to the mean federated keys of its windows in `run`.
struct Probe {
    seen: Vec<u64>,
    imported: u64,
    /// Malta's windows in `run` that got padding, of all.
    padded: (usize, usize),
}

fn probe(policy: &Policy, run: &Run, draw: u64) -> Probe {
    let malta = EU27.len() - 1;
    let series = EU27.get(malta).map_or(sim::Series::DAILY, |c| policy.series(c));
    let windows: Vec<_> = (0..run.days).flat_map(|d| run.windows(malta, d, series)).collect();
    let imported: u64 = windows.iter().map(|w| w.imported_real + w.imported_fake).sum::<u64>()
        / u64::try_from(windows.len().max(1)).unwrap_or(1);
    let seen = [0, 1, 5].iter().map(|&n| sim::seen_by_origin(policy, n, imported, draw)).collect();
    let padded = (windows.iter().filter(|w| w.own_fake > 0).count(), windows.len());
    Probe { seen, imported, padded }
}

fn verdict(seen: &[u64]) -> &'static str {
    if seen.windows(2).all(|w| w.first() == w.last()) { "hidden" } else { "revealed" }
}

fn print_privacy(out: &mut String, policy: &Policy, typical: &Run) -> std::fmt::Result {
    let Probe { seen, imported, padded } = probe(policy, typical, 7);
    let series = EU27.last().map_or(sim::Series::DAILY, |c| policy.series(c));
    writeln!(out)?;
    writeln!(
        out,
        "privacy: MT's {} window next to {imported} federated keys (the typical day's mean): own \
         keys the gateway sees by origin for 0/1/5 uploads of 13 keys: {} ({}); MT's windows \
         padded on the typical days: {} of {}",
        series.name(),
        seen.iter().map(u64::to_string).collect::<Vec<_>>().join("/"),
        verdict(&seen),
        padded.0,
        padded.1
    )?;
    if !policy.federated {
        writeln!(
            out,
            "privacy: fakes that stay home are the keys of MT's files that no other country \
             publishes: anyone holding two countries' files removes them"
        )?;
    }
    writeln!(
        out,
        "latency: a real key reaches the other countries' files {:.1} hours after its release on \
         average{}",
        typical.travel_hours,
        if policy.held { " (it travels with its window's padding)" } else { "" }
    )?;
    if policy.count == Count::Own {
        let p = policy.padding;
        writeln!(
            out,
            "floor: {} own keys + rand[0,{}] a window = at least 10 uploads of 14 keys; below it the \
             count is the same for any number of uploads; above it {}",
            p.floor,
            p.range,
            if p.ladder_percent > 0 {
                format!("it tells only the rung ({} % steps)", p.ladder_percent)
            } else {
                "it is exact".to_owned()
            }
        )?;
    }
    Ok(())
}

fn compare(out: &mut String, args: &PaddingBench, model: &ByteModel) -> std::fmt::Result {
    writeln!(out)?;
    writeln!(
        out,
        "columns: download ratio (downloaded / real keys' bytes) of DE and MT phones; padding keys \
         made in the EU a typical day; DE phone's MB a typical day; MT's padding windows padded; \
         mean hours from a real key's release to the other countries' files; own keys the \
         gateway sees by origin in an MT window with 0, 1, 5 uploads"
    )?;
    writeln!(
        out,
        "{:<17} {:>10} {:>8} {:>10} {:>8} {:>13} {:>9} {:>9} {:>8}  MT by origin (0/1/5 uploads)",
        "policy",
        "DE typical",
        "DE peak",
        "MT typical",
        "MT peak",
        "EU pad/day",
        "DE MB/day",
        "MT padded",
        "abroad h"
    )?;
    for candidate in Candidate::all() {
        let policy = candidate.policy();
        let typical = sim::simulate(&policy, Regime::Typical, args.days, args.seed);
        let peak = sim::simulate(&policy, Regime::Peak, args.days, args.seed);
        let (t, p) = (rows(&typical, &policy, model), rows(&peak, &policy, model));
        let ratio =
            |rows: &[Row], code| rows.iter().find(|r| r.code == code).map_or(0.0, Row::ratio);
        let padding: f64 = t.iter().map(|r| r.own_padding).sum();
        let de_mb = t.first().map_or(0.0, |r| r.bytes / 1e6);
        let Probe { seen, padded, .. } = probe(&policy, &typical, 7);
        writeln!(
            out,
            "{:<17} {:>10.2} {:>8.2} {:>10.2} {:>8.2} {:>13.0} {:>9.2} {:>9} {:>8.1}  {} ({}){}",
            policy.name,
            ratio(&t, "DE"),
            ratio(&p, "DE"),
            ratio(&t, "MT"),
            ratio(&p, "MT"),
            padding,
            de_mb,
            format!("{}/{}", padded.0, padded.1),
            typical.travel_hours,
            verdict(&seen),
            seen.iter().map(u64::to_string).collect::<Vec<_>>().join("/"),
            chosen_mark(candidate)
        )?;
    }
    Ok(())
}

/// Builds and signs Germany's files of the first reported typical day with [`ExportBuilder`]
/// (keys shaped like uploads), plus files of 1, 1000 and 250 000 keys (a peak day's file), and
/// fits the byte model.
fn calibrate(run: &Run, policy: &Policy, seed: u64) -> Result<(ByteModel, String)> {
    let mut scalar = [0u8; 32];
    StdRng::seed_from_u64(seed ^ 0x5eed).fill_bytes(&mut scalar);
    let key = p256::ecdsa::SigningKey::from_slice(&scalar)
        .map_err(|e| anyhow::anyhow!("cannot make a benchmark signing key: {e}"))?;
    let signer = FileSigner::new(key, SignatureInfo::ecdsa_p256("262", "v1")?);
    let mut rng = StdRng::seed_from_u64(seed ^ 0xca1);
    // Germany's day in both series (hourly windows and the day), whichever the policy pads.
    let germany: Vec<u64> = [sim::Series::DAILY, sim::Series::HOURLY]
        .iter()
        .flat_map(|&series| run.windows(0, 0, series))
        .map(|w| w.total())
        .filter(|&k| k > 0)
        .collect();
    let mut points = Vec::new();
    for &keys in germany.iter().chain(&[1, 1000, 250_000]) {
        points.push((keys, zip_size(keys, &signer, &mut rng)?));
    }
    #[allow(clippy::cast_precision_loss)] // sizes are far below 2^52
    let xy: Vec<(f64, f64)> = points.iter().map(|&(k, b)| (k as f64, b as f64)).collect();
    let model = ByteModel::fit(&xy);
    let measured = points.get(..germany.len()).unwrap_or_default();
    let worst = measured
        .iter()
        .map(|&(k, b)| {
            #[allow(clippy::cast_precision_loss)]
            let b = b as f64;
            (model.bytes(k) - b).abs() / b
        })
        .fold(0.0, f64::max);
    let (keys, bytes): (u64, usize) =
        measured.iter().fold((0, 0), |(k, b), &(mk, mb)| (k + mk, b + mb));
    let note = format!(
        "bytes: measured, not modelled: DE's daily file and hourly files of the first typical day \
         under {} ({} files, {keys} keys, {bytes} bytes), built and signed with \
         herald_wire::export::ExportBuilder (P-256); every other figure from the model calibrated \
         on them and on files of 1, 1000 and 250000 keys: bytes = {:.0} per file + {:.2} per key \
         + {:.1} x sqrt(keys) (largest deviation on DE's files {:.2} %)",
        policy.name,
        measured.len(),
        model.per_file,
        model.per_key,
        model.root,
        worst * 100.0
    );
    Ok((model, note))
}

/// The zip size of one export file of `keys` upload-shaped keys.
fn zip_size(keys: u64, signer: &FileSigner, rng: &mut StdRng) -> Result<usize> {
    const DAY: u32 = 20_430; // 2025-12-08: keys of the two weeks before
    let mut out = Vec::new();
    while (out.len() as u64) < keys {
        let days = rng.random_range(KEYS_PER_UPLOAD);
        let onset = rng.random_range(1..=5i32);
        for back in 1..=days {
            if out.len() as u64 == keys {
                break;
            }
            let back = u32::try_from(back)?;
            let mut bytes = [0u8; 16];
            rng.fill_bytes(&mut bytes);
            let dsos = onset - i32::try_from(back)?;
            let mut key = DiagnosisKey::new(
                TemporaryExposureKey::from_bytes(bytes),
                IntervalNumber((DAY - back) * 144),
                RollingPeriod::FULL_DAY,
            );
            key.report_type = ReportType::ConfirmedTest;
            key.days_since_onset = DaysSinceOnset::new(dsos.clamp(-14, 14)).ok();
            key.transmission_risk_level = herald_wire::trl_dsos::trl_from_dsos(dsos);
            out.push((key, false));
        }
    }
    let spec = ExportSpec {
        region: "DE".into(),
        start_timestamp: u64::from(DAY) * 86_400,
        end_timestamp: u64::from(DAY) * 86_400 + 3600,
        max_records: herald_wire::export::DEFAULT_MAX_RECORDS,
        signers: vec![signer as &dyn ExportSigner],
    };
    let mut size = 0;
    for built in ExportBuilder::new(spec, out.into_iter())? {
        size += built?.zip.len();
    }
    Ok(size)
}
