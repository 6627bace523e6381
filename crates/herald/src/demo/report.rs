//! What the demo measured: `summary.json` (for tools and the tests), the terminal summary, and
//! `report.html` with its plots drawn as inline SVG (no script, no external resource: it opens
//! from the disk and renders anywhere).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

/// Positive tests, the uploads that followed and the keys they carried: counted per day and per
/// country (flattened, so `summary.json` has the three fields in the row itself).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct UploadFunnel {
    pub(crate) positives: usize,
    pub(crate) uploads: usize,
    /// Keys uploaded and accepted by the key servers.
    pub(crate) keys_uploaded: usize,
}

/// One simulated day.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct DayRow {
    pub(crate) day: u32,
    pub(crate) date: String,
    pub(crate) contacts: usize,
    pub(crate) cross_border_contacts: usize,
    pub(crate) sightings: usize,
    pub(crate) infections: usize,
    #[serde(flatten)]
    pub(crate) funnel: UploadFunnel,
    /// Phones warned during the night after this day.
    pub(crate) warned: usize,
}

/// One country.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct CountryRow {
    pub(crate) country: String,
    pub(crate) phones: usize,
    /// This country's positive tests, and what its apps uploaded to its key server.
    #[serde(flatten)]
    pub(crate) funnel: UploadFunnel,
    /// Keys its key server sent to the gateway.
    pub(crate) keys_federated: usize,
    /// Keys it imported from the gateway.
    pub(crate) keys_imported: usize,
    /// Uploaded keys (of any country) found in this country's export files.
    pub(crate) uploaded_keys_published: usize,
    /// Uploaded keys (of any country) missing from this country's export files.
    pub(crate) uploaded_keys_missing: usize,
    /// Export files the apps downloaded and verified.
    pub(crate) export_files: usize,
    /// Keys in them, padding keys included.
    pub(crate) exported_keys: usize,
    pub(crate) warned: usize,
    pub(crate) warned_cross_border: usize,
}

/// Time spent in one stage.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Stage {
    pub(crate) name: &'static str,
    pub(crate) seconds: f64,
    pub(crate) share: f64,
}

/// The whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Summary {
    pub(crate) countries: Vec<String>,
    pub(crate) phones: usize,
    pub(crate) days: u32,
    pub(crate) seed: u64,
    pub(crate) noise_db: u8,
    pub(crate) start_date: String,
    pub(crate) infections: usize,
    pub(crate) positives: usize,
    pub(crate) uploads: usize,
    pub(crate) keys_uploaded: usize,
    pub(crate) keys_federated: usize,
    pub(crate) chaff_requests: usize,
    /// Phones the apps warned.
    pub(crate) warned: usize,
    /// Phones the ground truth says should be warned.
    pub(crate) should_be_warned: usize,
    /// Warned and should be.
    pub(crate) correctly_warned: usize,
    pub(crate) precision: f64,
    pub(crate) recall: f64,
    /// Warned phones whose exposure involved an uploader of another country.
    pub(crate) warned_cross_border: usize,
    /// Hours from the positive test (and upload) to the warning, per warned phone: from the
    /// last upload before the warning among the uploaders it met on its exposure day; median,
    /// 90th percentile, maximum.
    pub(crate) hours_to_warning_median: f64,
    pub(crate) hours_to_warning_p90: f64,
    pub(crate) hours_to_warning_max: f64,
    /// Histogram of those hours, in 2-hour bins from 0.
    pub(crate) hours_to_warning_histogram: Vec<usize>,
    pub(crate) per_day: Vec<DayRow>,
    pub(crate) per_country: Vec<CountryRow>,
    pub(crate) stages: Vec<Stage>,
    pub(crate) wall_seconds: f64,
    pub(crate) peak_memory_mib: f64,
}

impl Summary {
    /// The terminal summary.
    pub(crate) fn text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "herald demo: {} phones in {} over {} days (seed {}, noise ±{} dB)",
            self.phones,
            self.countries.join(", "),
            self.days,
            self.seed,
            self.noise_db
        );
        let _ = writeln!(
            t,
            "  epidemic       {} infections, {} positive tests, {} uploads ({} keys), {} chaff requests",
            self.infections, self.positives, self.uploads, self.keys_uploaded, self.chaff_requests
        );
        let _ = writeln!(t, "  federation     {} keys sent to the gateway", self.keys_federated);
        for c in &self.per_country {
            let _ = writeln!(
                t,
                "  {}             uploaded {:>6} · federated {:>6} · imported {:>6} · published {:>6}/{} uploaded keys ({} missing) · warned {} ({} cross-border)",
                c.country,
                c.funnel.keys_uploaded,
                c.keys_federated,
                c.keys_imported,
                c.uploaded_keys_published,
                self.keys_uploaded,
                c.uploaded_keys_missing,
                c.warned,
                c.warned_cross_border
            );
        }
        let _ = writeln!(
            t,
            "  warnings       {} phones warned, {} should have been: precision {:.3}, recall {:.3}; {} cross-border",
            self.warned,
            self.should_be_warned,
            self.precision,
            self.recall,
            self.warned_cross_border
        );
        let _ = writeln!(
            t,
            "  time to warn   median {:.1} h, 90th percentile {:.1} h, max {:.1} h after the positive test",
            self.hours_to_warning_median, self.hours_to_warning_p90, self.hours_to_warning_max
        );
        let stages: Vec<String> = self
            .stages
            .iter()
            .map(|s| format!("{} {:.1} s ({:.0} %)", s.name, s.seconds, s.share * 100.0))
            .collect();
        let _ = writeln!(t, "  stages         {}", stages.join(", "));
        let _ = writeln!(
            t,
            "  run            {:.1} s wall time, peak memory {:.0} MiB",
            self.wall_seconds, self.peak_memory_mib
        );
        t
    }

    /// Writes `summary.json` and `report.html` into `out`.
    pub(crate) fn write(&self, out: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        let path = out.join("summary.json");
        std::fs::write(&path, json).with_context(|| format!("cannot write {}", path.display()))?;
        let path = out.join("report.html");
        std::fs::write(&path, self.html())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// The four plots.
    fn charts(&self) -> String {
        let days: Vec<String> = self.per_day.iter().map(|d| format!("{}", d.day + 1)).collect();
        #[allow(clippy::cast_precision_loss)]
        let series = |f: &dyn Fn(&DayRow) -> usize| -> Vec<f64> {
            self.per_day.iter().map(|d| f(d) as f64).collect()
        };
        let epidemic = line_chart(
            "Day by day",
            "day",
            &days,
            &[
                ("new infections", "#c0392b", series(&|d| d.infections)),
                ("positive tests", "#e67e22", series(&|d| d.funnel.positives)),
                ("uploads", "#2980b9", series(&|d| d.funnel.uploads)),
                ("phones warned", "#27ae60", series(&|d| d.warned)),
            ],
        );
        let countries: Vec<String> = self.per_country.iter().map(|c| c.country.clone()).collect();
        #[allow(clippy::cast_precision_loss)]
        let per_country = |f: &dyn Fn(&CountryRow) -> usize| -> Vec<f64> {
            self.per_country.iter().map(|c| f(c) as f64).collect()
        };
        let keys = bar_chart(
            "Uploaded keys per country",
            &countries,
            &[
                ("uploaded by its apps", "#2980b9", per_country(&|c| c.funnel.keys_uploaded)),
                (
                    "uploaded keys (all countries) in its exports",
                    "#27ae60",
                    per_country(&|c| c.uploaded_keys_published),
                ),
            ],
        );
        let bins: Vec<String> = (0..self.hours_to_warning_histogram.len())
            .map(|i| format!("{}–{}", 2 * i, 2 * i + 2))
            .collect();
        #[allow(clippy::cast_precision_loss)]
        let histogram = bar_chart(
            "Hours from positive test to warning",
            &bins,
            &[(
                "warned phones",
                "#27ae60",
                self.hours_to_warning_histogram.iter().map(|n| *n as f64).collect(),
            )],
        );
        let stage_names: Vec<String> = self.stages.iter().map(|s| s.name.to_owned()).collect();
        let stages = bar_chart(
            "Where the time went (seconds)",
            &stage_names,
            &[("seconds", "#7f8c8d", self.stages.iter().map(|s| s.seconds).collect())],
        );
        format!("{epidemic}{keys}{histogram}{stages}")
    }

    fn html(&self) -> String {
        let charts = self.charts();
        let mut rows = String::new();
        for c in &self.per_country {
            let _ = write!(
                rows,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.country),
                c.phones,
                c.funnel.positives,
                c.funnel.uploads,
                c.funnel.keys_uploaded,
                c.keys_federated,
                c.keys_imported,
                c.uploaded_keys_published,
                self.keys_uploaded,
                c.warned,
                c.warned_cross_border
            );
        }
        format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>herald demo report</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}}
h1{{font-size:1.6rem}} .figures{{display:grid;grid-template-columns:repeat(4,1fr);gap:1rem;margin:1rem 0}}
.figure{{background:#f4f6f8;border-radius:8px;padding:.8rem}} .figure b{{display:block;font-size:1.6rem}}
.charts{{display:grid;grid-template-columns:1fr 1fr;gap:1rem}} svg{{background:#fff;border:1px solid #ddd;border-radius:8px}}
table{{border-collapse:collapse;margin:1rem 0}} td,th{{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:right}}
td:first-child,th:first-child{{text-align:left}} .note{{color:#555;font-size:.9rem}}
</style></head><body>
<h1>herald demo: {phones} phones in {countries}, {days} days</h1>
<p class="note">Seed {seed}, attenuation noise ±{noise} dB, first day {start}. Every upload went case worker → verification service → app → key server over HTTPS; keys crossed borders through the federation gateway; every phone checked its own country's signed export files.</p>
<div class="figures">
<div class="figure"><b id="uploads">{uploads}</b>uploads ({keys} keys)</div>
<div class="figure"><b id="warned">{warned}</b>phones warned ({cross} cross-border)</div>
<div class="figure"><b id="precision">{precision:.3}</b>precision (warned who should be)</div>
<div class="figure"><b id="recall">{recall:.3}</b>recall (should be, and warned)</div>
</div>
<div class="charts">{charts}</div>
<table><thead><tr><th>country</th><th>phones</th><th>positives</th><th>uploads</th><th>keys uploaded</th><th>sent to gateway*</th><th>imported*</th><th>uploaded keys in exports</th><th>warned</th><th>cross-border</th></tr></thead><tbody>{rows}</tbody></table>
<p class="note">* padding keys included: key servers pad sparse export windows with fake keys and federate them too, so that neither the files nor the gateway tell how many people uploaded.</p>
<p class="note">Warned in a median {median:.1} h (90th percentile {p90:.1} h) after the positive test. Run: {wall:.1} s, peak memory {mem:.0} MiB. Raw figures: summary.json.</p>
</body></html>
"#,
            phones = self.phones,
            countries = esc(&self.countries.join(", ")),
            days = self.days,
            seed = self.seed,
            noise = self.noise_db,
            start = esc(&self.start_date),
            uploads = self.uploads,
            keys = self.keys_uploaded,
            warned = self.warned,
            cross = self.warned_cross_border,
            precision = self.precision,
            recall = self.recall,
            median = self.hours_to_warning_median,
            p90 = self.hours_to_warning_p90,
            wall = self.wall_seconds,
            mem = self.peak_memory_mib,
        )
    }
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 70.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const PLOT_H: f64 = HEIGHT - TOP - BOTTOM;

/// A "nice" upper bound for the axis and its tick step.
fn axis(max: f64) -> (f64, f64) {
    // At least 0..4, so that small counts get whole-number ticks.
    let max = max.max(4.0);
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    ((max / step).ceil() * step, step)
}

/// The frame, title, y grid and legend of `series` (name, colour, values) shared by both chart
/// kinds; with the axis's upper bound.
fn frame(title: &str, series: &[(&str, &str, Vec<f64>)]) -> (String, f64) {
    let max = series.iter().flat_map(|s| s.2.iter().copied()).fold(0.0, f64::max);
    let (top, step) = axis(max);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{t}"><text x="{LEFT}" y="20" font-size="14" font-weight="bold">{t}</text>"#,
        t = esc(title)
    );
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let y = TOP + PLOT_H - v / top * PLOT_H;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{tx}" y="{ty:.1}" font-size="10" text-anchor="end">{v}</text>"##,
            x2 = WIDTH - RIGHT,
            tx = LEFT - 4.0,
            ty = y + 3.0,
        );
        v += step;
    }
    let mut x = LEFT;
    for (name, color, _) in series {
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{ly}" width="10" height="10" fill="{color}"/><text x="{tx}" y="{ty}" font-size="10">{n}</text>"#,
            ly = HEIGHT - 18.0,
            tx = x + 13.0,
            ty = HEIGHT - 9.0,
            n = esc(name),
        );
        #[allow(clippy::cast_precision_loss)]
        let width = 24.0 + 5.5 * name.chars().count() as f64;
        x += width;
    }
    (s, top)
}

/// Lines over the x labels; `x_name` names the axis.
fn line_chart(
    title: &str,
    x_name: &str,
    labels: &[String],
    series: &[(&str, &str, Vec<f64>)],
) -> String {
    let (mut s, top) = frame(title, series);
    #[allow(clippy::cast_precision_loss)]
    let n = labels.len().max(2) as f64 - 1.0;
    #[allow(clippy::cast_precision_loss)]
    let x_of = |i: usize| LEFT + PLOT_W * i as f64 / n;
    for (i, label) in labels.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{y}" font-size="10" text-anchor="middle">{l}</text>"#,
            x = x_of(i),
            y = TOP + PLOT_H + 14.0,
            l = esc(label)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{x}" y="{y}" font-size="10" text-anchor="middle">{n}</text>"#,
        x = LEFT + PLOT_W / 2.0,
        y = TOP + PLOT_H + 28.0,
        n = esc(x_name),
    );
    for (_, color, values) in series {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x_of(i), TOP + PLOT_H - v / top * PLOT_H))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
    }
    s.push_str("</svg>");
    s
}

/// Grouped bars per label.
fn bar_chart(title: &str, labels: &[String], series: &[(&str, &str, Vec<f64>)]) -> String {
    let (mut s, top) = frame(title, series);
    #[allow(clippy::cast_precision_loss)]
    let group = PLOT_W / labels.len().max(1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let bar = group * 0.8 / series.len().max(1) as f64;
    for (i, label) in labels.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x0 = LEFT + group * i as f64 + group * 0.1;
        for (j, (_, color, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0.0);
            let h = v / top * PLOT_H;
            #[allow(clippy::cast_precision_loss)]
            let x = x0 + bar * j as f64;
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{color}"><title>{v}</title></rect>"#,
                y = TOP + PLOT_H - h,
                w = (bar - 1.0).max(1.0),
            );
        }
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{y}" font-size="10" text-anchor="middle">{l}</text>"#,
            x = x0 + group * 0.4,
            y = TOP + PLOT_H + 14.0,
            l = esc(label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round() {
        assert_eq!(axis(0.0), (4.0, 1.0));
        assert_eq!(axis(7.0), (8.0, 2.0));
        assert_eq!(axis(930.0), (1000.0, 250.0));
    }

    #[test]
    fn the_report_escapes_and_holds_every_chart() {
        let summary = Summary {
            countries: vec!["DE".into(), "<b>".into()],
            per_day: vec![DayRow { infections: 3, ..DayRow::default() }; 3],
            per_country: vec![CountryRow { country: "DE".into(), ..CountryRow::default() }],
            hours_to_warning_histogram: vec![1, 2],
            ..Summary::default()
        };
        let html = summary.html();
        assert!(html.contains("DE, &lt;b&gt;"));
        assert_eq!(html.matches("<svg").count(), 4);
        assert!(!html.contains("<b>\""));
    }
}
