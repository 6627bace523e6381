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

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use herald_model::CountryCode;
use herald_runtime::metrics::{
    CounterFamily, Registry, observe_request, route_of, write_family, write_sample,
};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::store::StoreGauges;

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

static AUDIT_REQUESTS: CounterFamily = CounterFamily {
    name: "herald_gateway_audit_requests_total",
    label: "status",
    help: "Audit requests answered, by HTTP status.",
};
static CALLBACK_DELIVERIES: CounterFamily = CounterFamily {
    name: "herald_gateway_callback_deliveries_total",
    label: "outcome",
    help: "Callback attempts by outcome: ok, failed, or suspended (the failure that suspended the subscription).",
};
static DOWNLOAD_KEYS_SERVED: CounterFamily = CounterFamily {
    name: "herald_gateway_download_keys_served_total",
    label: "country",
    help: "Diagnosis keys served in downloads, by requesting country.",
};
static DOWNLOADS: CounterFamily = CounterFamily {
    name: "herald_gateway_downloads_total",
    label: "status",
    help: "Download requests answered, by HTTP status.",
};
static UPLOAD_KEYS_ACCEPTED: CounterFamily = CounterFamily {
    name: "herald_gateway_upload_keys_accepted_total",
    label: "country",
    help: "Diagnosis keys stored from uploads, by uploading country.",
};
static UPLOADS: CounterFamily = CounterFamily {
    name: "herald_gateway_uploads_total",
    label: "status",
    help: "Upload requests answered, by HTTP status.",
};

impl Counter {
    fn family(self) -> &'static CounterFamily {
        match self {
            Self::AuditRequests => &AUDIT_REQUESTS,
            Self::CallbackDeliveries => &CALLBACK_DELIVERIES,
            Self::DownloadKeysServed => &DOWNLOAD_KEYS_SERVED,
            Self::Downloads => &DOWNLOADS,
            Self::UploadKeysAccepted => &UPLOAD_KEYS_ACCEPTED,
            Self::Uploads => &UPLOADS,
        }
    }
}

/// The gateway process's metrics: its counter families on the runtime's [`Registry`] (which
/// also keeps the request histogram and job states).
#[derive(Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
}

impl Default for Metrics {
    fn default() -> Self {
        let families = [
            &AUDIT_REQUESTS,
            &CALLBACK_DELIVERIES,
            &DOWNLOAD_KEYS_SERVED,
            &DOWNLOADS,
            &UPLOAD_KEYS_ACCEPTED,
            &UPLOADS,
        ];
        Self { registry: Arc::new(Registry::new("herald_gateway", &families)) }
    }
}

impl Metrics {
    /// The registry (the internal listener renders it).
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Adds `by` to the counter with this label value.
    pub fn add(&self, counter: Counter, label: &str, by: u64) {
        self.registry.add(counter.family(), label, by);
    }

    /// Adds one to the counter with this label value.
    pub fn increment(&self, counter: Counter, label: &str) {
        self.add(counter, label, 1);
    }

    /// Adds `by` to a per-country counter.
    pub fn add_for(&self, counter: Counter, country: CountryCode, by: u64) {
        self.add(counter, country.as_str(), by);
    }

    /// A counter's value (0 when never touched), for tests and tools.
    pub fn value(&self, counter: Counter, label: &str) -> u64 {
        self.registry.value(counter.family(), label)
    }
}

/// Middleware of the public router: the runtime's request metrics, and the status of every
/// upload, download and audit request.
pub async fn track_request(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let counter = match route_of(&request).as_str() {
        "/diagnosiskeys/upload" => Some(Counter::Uploads),
        "/diagnosiskeys/download/{date}" => Some(Counter::Downloads),
        "/diagnosiskeys/audit/download/{date}/{batchTag}" => Some(Counter::AuditRequests),
        _ => None,
    };
    let response = observe_request(&metrics.registry, request, next).await;
    if let Some(counter) = counter {
        metrics.increment(counter, response.status().as_str());
    }
    response
}

/// The gauges read from the store, in the text format.
pub fn render_gauges(g: &StoreGauges) -> String {
    let mut out = String::new();
    for (name, help, value) in [
        ("herald_gateway_stored_keys", "Diagnosis keys stored (not yet purged).", g.keys),
        ("herald_gateway_download_batches", "Download batches formed.", g.download_batches),
    ] {
        write_family(&mut out, name, "gauge", help);
        write_sample(&mut out, name, &[], value);
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
        write_family(&mut out, name, "gauge", help);
        for (country, value) in values {
            let _ = writeln!(out, "{name}{{country=\"{country}\"}} {value}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn renders_the_text_format() {
        let m = Metrics::default();
        m.increment(Counter::Uploads, "201");
        m.increment(Counter::Uploads, "201");
        m.increment(Counter::Uploads, "400");
        m.add_for(Counter::UploadKeysAccepted, "DE".parse().unwrap(), 20);
        m.registry().observe("/diagnosiskeys/upload", "POST", 201, Duration::from_millis(3));
        m.registry().observe("/diagnosiskeys/upload", "POST", 201, Duration::from_mins(1));
        m.increment(Counter::AuditRequests, "a\"b\\c\nd");
        let text = m.registry().render();
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
