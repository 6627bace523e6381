//! The gateway's metrics, rendered by hand in the Prometheus text exposition format 0.0.4 on the
//! internal listener ([`crate::internal`]).
//!
//! One [`Metrics`] value per gateway process, shared through `Arc` by the router, the callback
//! worker and the internal listener: no global registry. Counters count since the process
//! started; the gauges of stored rows are read from the database when scraped (so every
//! process of a scale-out deployment reports the same totals).
//!
//! Labels are bounded on purpose: the route template (never the path with its dates and tags),
//! the status code, the callback outcome, and the country code of an authenticated caller
//! (only trusted countries get that far). Never an IP address, a batch tag or a thumbprint.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use herald_model::CountryCode;

use crate::store::StoreGauges;

/// Upper bounds of the request-duration histogram, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A counter family: its name and help text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Counter {
    /// `herald_gateway_audit_requests_total{status}`.
    AuditRequests,
    /// `herald_gateway_callback_deliveries_total{outcome}`: `ok`, `failed` or `suspended` (the
    /// failure that suspended the subscription; counted there only).
    CallbackDeliveries,
    /// `herald_gateway_download_keys_served_total{country}`: keys sent to the country.
    DownloadKeysServed,
    /// `herald_gateway_downloads_total{status}`.
    Downloads,
    /// `herald_gateway_upload_keys_accepted_total{country}`: keys stored from the country.
    UploadKeysAccepted,
    /// `herald_gateway_uploads_total{status}`.
    Uploads,
}

impl Counter {
    fn name(self) -> &'static str {
        match self {
            Self::AuditRequests => "herald_gateway_audit_requests_total",
            Self::CallbackDeliveries => "herald_gateway_callback_deliveries_total",
            Self::DownloadKeysServed => "herald_gateway_download_keys_served_total",
            Self::Downloads => "herald_gateway_downloads_total",
            Self::UploadKeysAccepted => "herald_gateway_upload_keys_accepted_total",
            Self::Uploads => "herald_gateway_uploads_total",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::AuditRequests | Self::Downloads | Self::Uploads => "status",
            Self::CallbackDeliveries => "outcome",
            Self::DownloadKeysServed | Self::UploadKeysAccepted => "country",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Self::AuditRequests => "Audit requests answered, by HTTP status.",
            Self::CallbackDeliveries => {
                "Callback attempts by outcome: ok, failed, or suspended (the failure that suspended \
                 the subscription)."
            }
            Self::DownloadKeysServed => {
                "Diagnosis keys served in downloads, by requesting country."
            }
            Self::Downloads => "Download requests answered, by HTTP status.",
            Self::UploadKeysAccepted => "Diagnosis keys stored from uploads, by uploading country.",
            Self::Uploads => "Upload requests answered, by HTTP status.",
        }
    }

    const ALL: [Counter; 6] = [
        Self::AuditRequests,
        Self::CallbackDeliveries,
        Self::DownloadKeysServed,
        Self::Downloads,
        Self::UploadKeysAccepted,
        Self::Uploads,
    ];
}

/// One route's request durations.
#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Observations at or below each of [`BUCKETS`] (not cumulative; summed when rendered).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The process's counters and histograms.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(Counter, String), u64>>,
    /// By (route template, method).
    durations: Mutex<BTreeMap<(String, String), Histogram>>,
}

impl Metrics {
    /// Adds `by` to the counter with this label value.
    pub fn add(&self, counter: Counter, label: &str, by: u64) {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let value = counters.entry((counter, label.to_owned())).or_default();
        *value = value.saturating_add(by);
    }

    /// Adds one to the counter with this label value.
    pub fn increment(&self, counter: Counter, label: &str) {
        self.add(counter, label, 1);
    }

    /// Adds `by` to a per-country counter.
    pub fn add_for(&self, counter: Counter, country: CountryCode, by: u64) {
        self.add(counter, country.as_str(), by);
    }

    /// Records how long a request to `route` (the template, e.g.
    /// `/diagnosiskeys/download/{date}`) took.
    pub fn observe(&self, route: &str, method: &str, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut durations = self.durations.lock().unwrap_or_else(PoisonError::into_inner);
        let histogram = durations.entry((route.to_owned(), method.to_owned())).or_default();
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

    /// A counter's value (0 when never touched), for tests and tools.
    pub fn value(&self, counter: Counter, label: &str) -> u64 {
        let counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        counters.get(&(counter, label.to_owned())).copied().unwrap_or(0)
    }

    /// The exposition: every counter family (with its `HELP` and `TYPE` even before the first
    /// event), the request-duration histogram, and the gauges read from the store (`None` when
    /// the database could not be read; `herald_gateway_database_up` says so).
    pub fn render(&self, gauges: Option<&StoreGauges>) -> String {
        let mut out = String::new();
        {
            let counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
            for counter in Counter::ALL {
                family(&mut out, counter.name(), "counter", counter.help());
                for ((_, label), value) in counters.iter().filter(|((c, _), _)| *c == counter) {
                    let _ = writeln!(
                        out,
                        "{}{{{}=\"{}\"}} {value}",
                        counter.name(),
                        counter.label(),
                        escape(label)
                    );
                }
            }
        }
        self.render_durations(&mut out);
        render_gauges(&mut out, gauges);
        out
    }

    fn render_durations(&self, out: &mut String) {
        let name = "herald_gateway_http_request_duration_seconds";
        family(out, name, "histogram", "Time to answer a request, by route template and method.");
        let durations = self.durations.lock().unwrap_or_else(PoisonError::into_inner);
        for ((route, method), histogram) in durations.iter() {
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
}

/// Middleware of the public router: the duration of every request by route template and
/// method, and the status of every upload, download and audit request.
pub async fn track_request(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe(&route, method, started.elapsed());
    let counter = match route.as_str() {
        "/diagnosiskeys/upload" => Some(Counter::Uploads),
        "/diagnosiskeys/download/{date}" => Some(Counter::Downloads),
        "/diagnosiskeys/audit/download/{date}/{batchTag}" => Some(Counter::AuditRequests),
        _ => None,
    };
    if let Some(counter) = counter {
        metrics.increment(counter, response.status().as_str());
    }
    response
}

/// The gauges read from the store.
fn render_gauges(out: &mut String, gauges: Option<&StoreGauges>) {
    family(
        out,
        "herald_gateway_database_up",
        "gauge",
        "1 if the database answered this scrape, else 0 (and the row gauges are missing).",
    );
    let _ = writeln!(out, "herald_gateway_database_up {}", u8::from(gauges.is_some()));
    let Some(g) = gauges else { return };
    for (name, help, value) in [
        ("herald_gateway_stored_keys", "Diagnosis keys stored (not yet purged).", g.keys),
        ("herald_gateway_download_batches", "Download batches formed.", g.download_batches),
    ] {
        family(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
    let per_country = [
        (
            "herald_gateway_statistics_uploads",
            "Uploads in the upload statistics (kept for statistics_retention_days), by country.",
            g.upload_stats.iter().map(|s| (s.country, s.rows)).collect::<Vec<_>>(),
        ),
        (
            "herald_gateway_statistics_upload_keys",
            "Keys in the upload statistics, by uploading country.",
            g.upload_stats.iter().map(|s| (s.country, s.keys)).collect(),
        ),
        (
            "herald_gateway_statistics_downloads",
            "Downloads in the download statistics, by requesting country.",
            g.download_stats.iter().map(|s| (s.country, s.rows)).collect(),
        ),
        (
            "herald_gateway_statistics_download_keys",
            "Keys served in the download statistics, by requesting country.",
            g.download_stats.iter().map(|s| (s.country, s.keys)).collect(),
        ),
    ];
    for (name, help, values) in per_country {
        family(out, name, "gauge", help);
        for (country, value) in values {
            let _ = writeln!(out, "{name}{{country=\"{country}\"}} {value}");
        }
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value escaped as the text format requires: backslash, double quote, newline.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let m = Metrics::default();
        m.increment(Counter::Uploads, "201");
        m.increment(Counter::Uploads, "201");
        m.increment(Counter::Uploads, "400");
        m.add_for(Counter::UploadKeysAccepted, "DE".parse().unwrap(), 20);
        m.observe("/diagnosiskeys/upload", "POST", Duration::from_millis(3));
        m.observe("/diagnosiskeys/upload", "POST", Duration::from_mins(1));
        m.increment(Counter::AuditRequests, "a\"b\\c\nd");
        let text = m.render(None);
        for line in [
            "# TYPE herald_gateway_uploads_total counter",
            "herald_gateway_uploads_total{status=\"201\"} 2",
            "herald_gateway_uploads_total{status=\"400\"} 1",
            "herald_gateway_upload_keys_accepted_total{country=\"DE\"} 20",
            "# TYPE herald_gateway_callback_deliveries_total counter",
            "herald_gateway_audit_requests_total{status=\"a\\\"b\\\\c\\nd\"} 1",
            "# TYPE herald_gateway_http_request_duration_seconds histogram",
            "herald_gateway_http_request_duration_seconds_bucket{route=\"/diagnosiskeys/upload\",method=\"POST\",le=\"0.001\"} 0",
            "herald_gateway_http_request_duration_seconds_bucket{route=\"/diagnosiskeys/upload\",method=\"POST\",le=\"0.005\"} 1",
            "herald_gateway_http_request_duration_seconds_bucket{route=\"/diagnosiskeys/upload\",method=\"POST\",le=\"10\"} 1",
            "herald_gateway_http_request_duration_seconds_bucket{route=\"/diagnosiskeys/upload\",method=\"POST\",le=\"+Inf\"} 2",
            "herald_gateway_http_request_duration_seconds_count{route=\"/diagnosiskeys/upload\",method=\"POST\"} 2",
            "herald_gateway_database_up 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("herald_gateway_stored_keys "));
        assert_eq!(m.value(Counter::Uploads, "201"), 2);
        assert_eq!(m.value(Counter::Downloads, "200"), 0);
        // Every sample line is `name{labels} value` or `name value`, every family typed once.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
