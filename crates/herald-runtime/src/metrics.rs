//! Metrics for every service, rendered by hand in the Prometheus text exposition format 0.0.4
//! on the internal listener ([`crate::internal`]).
//!
//! One [`Registry`] per service process, shared through `Arc` by its router, its jobs and its
//! internal listener: no global registry. A service declares its counter families as
//! `static` [`CounterFamily`] values (name, help, one label) and lists them when it makes the
//! registry, so that every family is rendered with its `HELP` and `TYPE` even before its first
//! event. Every registry also has, under the service's prefix:
//! - `<prefix>_http_requests_total{route,method,status}` and
//!   `<prefix>_http_request_duration_seconds{route,method}` (a histogram), recorded by
//!   [`track_requests`];
//! - `<prefix>_job_runs_total{job,outcome}`, `<prefix>_job_alive{job}` and
//!   `<prefix>_job_lease_held{job}`, recorded by the job runner ([`crate::jobs`]).
//!
//! Labels are bounded on purpose: route templates (never a path with its dates and tags), status
//! codes, outcomes, job names, country codes of authenticated callers. Never an IP address, a
//! code, a token or a thumbprint.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the request-duration histogram, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A counter family with one label.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CounterFamily {
    /// The full metric name, ending in `_total`.
    pub name: &'static str,
    /// The label's name.
    pub label: &'static str,
    /// The `HELP` text.
    pub help: &'static str,
}

/// Declares counter families as statics, one line each: `name` (ending in `_total`), the label's
/// name, the `HELP` text.
///
/// ```
/// herald_runtime::counter_families! {
///     /// Uploads answered, by status.
///     pub static UPLOADS = ("demo_uploads_total", "status", "Upload requests answered, by HTTP status.");
/// }
/// assert_eq!(UPLOADS.label, "status");
/// ```
#[macro_export]
macro_rules! counter_families {
    ($($(#[$meta:meta])* $vis:vis static $static:ident = ($name:literal, $label:literal, $help:literal);)*) => {
        $($(#[$meta])* $vis static $static: $crate::metrics::CounterFamily =
            $crate::metrics::CounterFamily { name: $name, label: $label, help: $help };)*
    };
}

/// One route's request durations.
#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Observations at or below each of [`BUCKETS`] (not cumulative; summed when rendered).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What the job runner reports of one job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobState {
    /// The job's loop is running (not ended, not panicked).
    pub alive: bool,
    /// This process held the job's lease at its last attempt.
    pub lease_held: bool,
    /// Runs that finished well.
    pub ok: u64,
    /// Runs that failed.
    pub failed: u64,
    /// Attempts skipped because another process holds the lease.
    pub skipped: u64,
}

/// How a job run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// It ran and succeeded.
    Ok,
    /// It ran and failed (the next run retries).
    Failed,
    /// Another process holds the lease.
    Skipped,
}

/// A service process's counters, histograms and job states.
#[derive(Debug)]
pub struct Registry {
    prefix: &'static str,
    families: Vec<&'static CounterFamily>,
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// By (route template, method, status).
    requests: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
    /// By (route template, method).
    durations: Mutex<BTreeMap<(String, &'static str), Histogram>>,
    jobs: Mutex<BTreeMap<&'static str, JobState>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Registry {
    /// A registry whose built-in families are named `<prefix>_…` (e.g. `herald_keyserver`),
    /// with the service's own counter families.
    pub fn new(prefix: &'static str, families: &[&'static CounterFamily]) -> Self {
        Self {
            prefix,
            families: families.to_vec(),
            counters: Mutex::default(),
            requests: Mutex::default(),
            durations: Mutex::default(),
            jobs: Mutex::default(),
        }
    }

    /// The prefix of the built-in families.
    pub fn prefix(&self) -> &'static str {
        self.prefix
    }

    /// Adds `by` to the counter of `family` with this label value.
    pub fn add(&self, family: &'static CounterFamily, label: &str, by: u64) {
        let mut counters = lock(&self.counters);
        let value = counters.entry((family.name, label.to_owned())).or_default();
        *value = value.saturating_add(by);
    }

    /// Adds one to the counter of `family` with this label value.
    pub fn increment(&self, family: &'static CounterFamily, label: &str) {
        self.add(family, label, 1);
    }

    /// A counter's value (0 when never touched), for tests and tools.
    pub fn value(&self, family: &'static CounterFamily, label: &str) -> u64 {
        lock(&self.counters).get(&(family.name, label.to_owned())).copied().unwrap_or(0)
    }

    /// Records one answered request to `route` (the template, e.g. `/v1/publish`).
    pub fn observe(&self, route: &str, method: &'static str, status: u16, elapsed: Duration) {
        {
            let mut requests = lock(&self.requests);
            let n = requests.entry((route.to_owned(), method, status)).or_default();
            *n = n.saturating_add(1);
        }
        let seconds = elapsed.as_secs_f64();
        let mut durations = lock(&self.durations);
        let histogram = durations.entry((route.to_owned(), method)).or_default();
        if let Some(slot) = BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .and_then(|i| histogram.buckets.get_mut(i))
        {
            *slot = slot.saturating_add(1);
        }
        histogram.count = histogram.count.saturating_add(1);
        histogram.sum += seconds;
    }

    /// Marks a job's loop as running or ended.
    pub fn job_alive(&self, job: &'static str, alive: bool) {
        lock(&self.jobs).entry(job).or_default().alive = alive;
    }

    /// Records whether this process holds a job's lease.
    pub fn job_lease(&self, job: &'static str, held: bool) {
        lock(&self.jobs).entry(job).or_default().lease_held = held;
    }

    /// Records how one run of a job ended.
    pub fn job_run(&self, job: &'static str, outcome: JobOutcome) {
        let mut jobs = lock(&self.jobs);
        let state = jobs.entry(job).or_default();
        let n = match outcome {
            JobOutcome::Ok => &mut state.ok,
            JobOutcome::Failed => &mut state.failed,
            JobOutcome::Skipped => &mut state.skipped,
        };
        *n = n.saturating_add(1);
    }

    /// Every job's state, by name.
    pub fn jobs(&self) -> BTreeMap<&'static str, JobState> {
        lock(&self.jobs).clone()
    }

    /// The exposition of everything the registry holds. A service appends its gauges (read
    /// from its store) with [`write_family`] and [`write_sample`].
    pub fn render(&self) -> String {
        let mut out = String::new();
        {
            let counters = lock(&self.counters);
            let mut families = self.families.clone();
            families.sort();
            for family in families {
                write_family(&mut out, family.name, "counter", family.help);
                for ((_, label), value) in counters.iter().filter(|((n, _), _)| *n == family.name) {
                    write_sample(&mut out, family.name, &[(family.label, label)], *value);
                }
            }
        }
        self.render_requests(&mut out);
        self.render_jobs(&mut out);
        out
    }

    fn render_requests(&self, out: &mut String) {
        let name = format!("{}_http_requests_total", self.prefix);
        write_family(
            out,
            &name,
            "counter",
            "Requests answered, by route template, method and status.",
        );
        for ((route, method, status), n) in lock(&self.requests).iter() {
            let status = status.to_string();
            write_sample(
                out,
                &name,
                &[("route", route), ("method", method), ("status", &status)],
                *n,
            );
        }
        let name = format!("{}_http_request_duration_seconds", self.prefix);
        write_family(
            out,
            &name,
            "histogram",
            "Time to answer a request, by route template and method.",
        );
        for ((route, method), histogram) in lock(&self.durations).iter() {
            let labels = format!("route=\"{}\",method=\"{}\"", escape(route), escape(method));
            let mut cumulative = 0u64;
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                cumulative = cumulative.saturating_add(count);
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", histogram.count);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", histogram.sum);
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", histogram.count);
        }
    }

    fn render_jobs(&self, out: &mut String) {
        let jobs = lock(&self.jobs);
        let runs = format!("{}_job_runs_total", self.prefix);
        write_family(
            out,
            &runs,
            "counter",
            "Background job attempts by outcome: ok, failed, or skipped (another process holds the lease).",
        );
        for (job, state) in jobs.iter() {
            for (outcome, n) in
                [("ok", state.ok), ("failed", state.failed), ("skipped", state.skipped)]
            {
                write_sample(out, &runs, &[("job", job), ("outcome", outcome)], n);
            }
        }
        for (suffix, help, pick) in [
            (
                "job_alive",
                "1 while the job's loop runs in this process.",
                (|s: &JobState| s.alive) as fn(&JobState) -> bool,
            ),
            (
                "job_lease_held",
                "1 if this process held the job's lease at its last attempt.",
                |s: &JobState| s.lease_held,
            ),
        ] {
            let name = format!("{}_{suffix}", self.prefix);
            write_family(out, &name, "gauge", help);
            for (job, state) in jobs.iter() {
                write_sample(out, &name, &[("job", job)], u64::from(pick(state)));
            }
        }
    }
}

/// Writes a family's `HELP` and `TYPE` lines.
pub fn write_family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes one sample line, `name{label="value",…} value`, escaping the label values.
pub fn write_sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
        return;
    }
    let labels: Vec<String> =
        labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
}

/// A label value escaped as the text format requires: backslash, double quote, newline.
pub fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The method as a bounded label value.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// The route template a request matched (`unmatched` when none did).
pub fn route_of(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned())
}

/// Runs the request and records its route template, method, status and duration in `registry`
/// (what [`track_requests`] does; a service's own middleware calls it before counting more).
pub async fn observe_request(registry: &Registry, request: Request, next: Next) -> Response {
    let route = route_of(&request);
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    registry.observe(&route, method, response.status().as_u16(), started.elapsed());
    response
}

/// Middleware for a service's public router: every request's route template, method, status
/// and duration. Add it with `axum::middleware::from_fn_with_state(registry, track_requests)`
/// as the router's outermost layer (after the routes, so that the template is known).
pub async fn track_requests(
    State(registry): State<Arc<Registry>>,
    request: Request,
    next: Next,
) -> Response {
    observe_request(&registry, request, next).await
}

#[cfg(test)]
mod tests {
    use super::*;

    static UPLOADS: CounterFamily =
        CounterFamily { name: "herald_test_uploads_total", label: "status", help: "Uploads." };
    static NEVER: CounterFamily =
        CounterFamily { name: "herald_test_never_total", label: "status", help: "Never." };

    #[test]
    fn renders_the_text_format() {
        let m = Registry::new("herald_test", &[&UPLOADS, &NEVER]);
        m.increment(&UPLOADS, "201");
        m.add(&UPLOADS, "201", 1);
        m.increment(&UPLOADS, "a\"b\\c\nd");
        m.observe("/upload", "POST", 201, Duration::from_millis(3));
        m.observe("/upload", "POST", 400, Duration::from_mins(1));
        m.job_alive("export", true);
        m.job_lease("export", true);
        m.job_run("export", JobOutcome::Ok);
        m.job_run("export", JobOutcome::Failed);
        let text = m.render();
        for line in [
            "# TYPE herald_test_uploads_total counter",
            "herald_test_uploads_total{status=\"201\"} 2",
            "herald_test_uploads_total{status=\"a\\\"b\\\\c\\nd\"} 1",
            "# TYPE herald_test_never_total counter",
            "herald_test_http_requests_total{route=\"/upload\",method=\"POST\",status=\"201\"} 1",
            "herald_test_http_requests_total{route=\"/upload\",method=\"POST\",status=\"400\"} 1",
            "# TYPE herald_test_http_request_duration_seconds histogram",
            "herald_test_http_request_duration_seconds_bucket{route=\"/upload\",method=\"POST\",le=\"0.001\"} 0",
            "herald_test_http_request_duration_seconds_bucket{route=\"/upload\",method=\"POST\",le=\"0.005\"} 1",
            "herald_test_http_request_duration_seconds_bucket{route=\"/upload\",method=\"POST\",le=\"+Inf\"} 2",
            "herald_test_http_request_duration_seconds_count{route=\"/upload\",method=\"POST\"} 2",
            "herald_test_job_runs_total{job=\"export\",outcome=\"ok\"} 1",
            "herald_test_job_runs_total{job=\"export\",outcome=\"failed\"} 1",
            "herald_test_job_alive{job=\"export\"} 1",
            "herald_test_job_lease_held{job=\"export\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert_eq!(m.value(&UPLOADS, "201"), 2);
        assert_eq!(m.value(&NEVER, "200"), 0);
        let answered_400 =
            "herald_test_http_requests_total{route=\"/upload\",method=\"POST\",status=\"400\"} 1";
        assert!(text.lines().any(|l| l == answered_400), "{text}");
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
