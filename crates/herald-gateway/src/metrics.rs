//! The gateway's metrics, rendered by hand in the Prometheus text exposition format 0.0.4 on the
//! internal listener ([`crate::internal`]).
//!
//! One [`Registry`] per gateway process ([`registry`]), shared through `Arc` by the router, the
//! callback worker and the internal listener; the counter families are the statics below. Counters count since the process
//! started; the gauges of stored rows are read from the database when scraped (so every
//! process of a scale-out deployment reports the same totals).
//!
//! Labels are bounded on purpose: the route template (never the path with its dates and tags),
//! the status code, the callback outcome, the trust-integrity failure reason, and the country
//! code of an authenticated caller (only trusted countries get that far). Never an IP address,
//! a batch tag or a thumbprint.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use herald_runtime::metrics::{Registry, observe_request, route_of, write_family, write_sample};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::store::StoreGauges;

herald_runtime::counter_families! {
    /// `herald_gateway_audit_requests_total{status}`.
    pub static AUDIT_REQUESTS = ("herald_gateway_audit_requests_total", "status", "Audit requests answered, by HTTP status.");
    /// `herald_gateway_callback_deliveries_total{outcome}`: `ok`, `failed`, `refused` (the
    /// receiver's host resolved to an internal address; nothing was sent) or `suspended` (the
    /// failure that suspended the subscription; counted there only).
    pub static CALLBACK_DELIVERIES = ("herald_gateway_callback_deliveries_total", "outcome", "Callback attempts by outcome: ok, failed, refused (host resolves to an internal address), or suspended (the failure that suspended the subscription).");
    /// `herald_gateway_download_keys_served_total{country}`: keys sent to the country.
    pub static DOWNLOAD_KEYS_SERVED = ("herald_gateway_download_keys_served_total", "country", "Diagnosis keys served in downloads, by requesting country.");
    /// `herald_gateway_downloads_total{status}`.
    pub static DOWNLOADS = ("herald_gateway_downloads_total", "status", "Download requests answered, by HTTP status.");
    /// `herald_gateway_upload_keys_accepted_total{country}`: keys stored from the country.
    pub static UPLOAD_KEYS_ACCEPTED = ("herald_gateway_upload_keys_accepted_total", "country", "Diagnosis keys stored from uploads, by uploading country.");
    /// `herald_gateway_trust_integrity_failures_total{reason}`: trust-list rows ignored when a
    /// request or a callback looked them up, because `certificate` (EFGS's check: the PEM, its
    /// thumbprint, country or operator signature), `entry_signature_missing` (a row stored
    /// before herald signed whole entries) or `entry_signature_bad` (kind, country, revocation
    /// or host changed without the operator's key).
    pub static TRUST_INTEGRITY_FAILURES = ("herald_gateway_trust_integrity_failures_total", "reason", "Trust-list rows ignored because a trust-anchor signature failed: certificate, entry_signature_missing or entry_signature_bad.");
    /// `herald_gateway_uploads_total{status}`.
    pub static UPLOADS = ("herald_gateway_uploads_total", "status", "Upload requests answered, by HTTP status.");
}

/// A fresh registry with the gateway's families.
pub fn registry() -> Arc<Registry> {
    Arc::new(Registry::new(
        "herald_gateway",
        &[
            &AUDIT_REQUESTS,
            &CALLBACK_DELIVERIES,
            &DOWNLOAD_KEYS_SERVED,
            &DOWNLOADS,
            &TRUST_INTEGRITY_FAILURES,
            &UPLOAD_KEYS_ACCEPTED,
            &UPLOADS,
        ],
    ))
}

/// Middleware of the public router: the runtime's request metrics, and the status of every
/// upload, download and audit request.
pub async fn track_request(
    State(registry): State<Arc<Registry>>,
    request: Request,
    next: Next,
) -> Response {
    let family = match route_of(&request).as_str() {
        "/diagnosiskeys/upload" => Some(&UPLOADS),
        "/diagnosiskeys/download/{date}" => Some(&DOWNLOADS),
        "/diagnosiskeys/audit/download/{date}/{batchTag}" => Some(&AUDIT_REQUESTS),
        _ => None,
    };
    let response = observe_request(&registry, request, next).await;
    if let Some(family) = family {
        registry.increment(family, response.status().as_str());
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
        let m = registry();
        m.increment(&UPLOADS, "201");
        m.increment(&UPLOADS, "201");
        m.increment(&UPLOADS, "400");
        m.add(&UPLOAD_KEYS_ACCEPTED, "DE", 20);
        m.observe("/diagnosiskeys/upload", "POST", 201, Duration::from_millis(3));
        m.observe("/diagnosiskeys/upload", "POST", 201, Duration::from_mins(1));
        m.increment(&AUDIT_REQUESTS, "a\"b\\c\nd");
        let text = m.render();
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
        assert_eq!(m.value(&UPLOADS, "201"), 2);
        assert_eq!(m.value(&DOWNLOADS, "200"), 0);
        // Every sample line is `name{labels} value` or `name value`, every family typed once.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
