//! Development mode (`herald keyserver serve --dev DIR --country CC`): the shared dev folder of
//! specs/dev-world.md. Creates what the country's key server still lacks (never overwrites) and
//! returns the configuration that joins the gateway in `DIR/gateway/url` as that country and
//! trusts the country's verifier through its JWKS (`DIR/<CC>/verifier/url`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use herald_model::CountryCode;
use herald_trust::layout;
use p256::pkcs8::{EncodePublicKey as _, LineEnding};

use crate::config::{
    AppConfig, ExportConfigEntry, ExportSettings, FederationConfig, IssuerConfig, KeyserverConfig,
    PublishConfig, SigningKeyConfig, TlsFiles,
};

pub use herald_service::dev::{DevError, dev_app_id, dev_audience, dev_issuer};

fn err(path: &Path, reason: impl std::fmt::Display) -> DevError {
    DevError::at(path, reason)
}

/// `DIR/<CC>/keyserver`.
pub fn keyserver_dir(dir: &Path, country: CountryCode) -> PathBuf {
    dir.join(country.as_str()).join("keyserver")
}

/// Writes a secret file with owner-only permissions, unless it exists.
fn write_secret(path: &Path, contents: &str) -> Result<(), DevError> {
    herald_service::secrets::write_secret(path, contents).map_err(|e| err(path, e))
}

/// Prepares `DIR/<CC>/keyserver` and returns the dev configuration (listening on `listen`, or
/// 127.0.0.1 and a free port).
#[allow(clippy::too_many_lines)] // the whole dev configuration in one literal
pub fn prepare(
    dir: &Path,
    country: CountryCode,
    listen: Option<SocketAddr>,
) -> Result<KeyserverConfig, DevError> {
    let server_cert = dir.join(layout::server_cert(country));
    if !server_cert.exists() {
        return Err(err(
            &server_cert,
            format!(
                "missing: create the dev PKI with `herald pki dev --out {} --countries {country},…` (or start `herald gateway serve --dev`)",
                dir.display()
            ),
        ));
    }
    let ks = keyserver_dir(dir, country);
    std::fs::create_dir_all(ks.join("exports")).map_err(|e| err(&ks, e))?;
    let signing_key = ks.join("export-signing.key.pem");
    let signing_pub = ks.join("export-signing.pub.pem");
    if let Some(key) =
        herald_service::secrets::signing_key_file(&signing_key).map_err(|e| err(&signing_key, e))?
    {
        let public = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| err(&signing_pub, e))?;
        std::fs::write(&signing_pub, public).map_err(|e| err(&signing_pub, e))?;
    }
    let revision_key = ks.join("revision-token.key");
    write_secret(&revision_key, &herald_service::secrets::random_hex(32))?;
    let gateway_url_file = dir.join("gateway").join("url");
    let federation = if let Ok(url) = std::fs::read_to_string(&gateway_url_file) {
        Some(FederationConfig {
            gateway_url: url.trim().to_owned(),
            gateway_ca: dir.join(layout::ca_cert()),
            client_certificate: dir.join(layout::auth_cert(country)),
            client_key: dir.join(layout::auth_key(country)),
            signing_certificate: dir.join(layout::signing_cert(country)),
            signing_key: dir.join(layout::signing_key(country)),
            trust_anchor: Some(dir.join(layout::anchor_cert())),
            audit: true,
            upload_interval_seconds: 2,
            download_interval_seconds: 2,
            batch_max_keys: 4000,
            batch_min_keys: 1,
            download_days: 1,
            // Gateway callbacks on a port of their own; the dev gateway calls back with its
            // server certificate, and trusts this country's server certificate as CALLBACK.
            callback_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            callback_url: None,
            callback_id: crate::config::default_callback_id(),
            gateway_callback_certificate: Some(dir.join(layout::gateway_cert())),
        })
    } else {
        tracing::warn!(file = %gateway_url_file.display(), "no dev gateway running: the key server runs without federation");
        None
    };
    let export = |name: &str, period: i64| ExportConfigEntry {
        name: name.to_owned(),
        region: country.as_str().to_owned(),
        period_seconds: period,
        input_regions: vec!["*".to_owned()],
        include_travelers: false,
        max_records: herald_wire::export::DEFAULT_MAX_RECORDS,
        min_records: 1000,
        padding_range: 100,
        padding_ladder_percent: 0,
    };
    Ok(KeyserverConfig {
        country: country.as_str().to_owned(),
        listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
        internal_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        database: format!("sqlite:{}", ks.join("keyserver.db").display()),
        retention_days: 14,
        tls: Some(TlsFiles {
            certificate: server_cert,
            key: dir.join(layout::server_key(country)),
        }),
        serve_exports: true,
        publish: PublishConfig {
            revision_token_keys: vec![revision_key],
            response_size: crate::config::default_response_size(),
            chaff_max_latency_ms: 1000,
            apps: vec![AppConfig {
                id: dev_app_id(country),
                regions: vec![country.as_str().to_owned()],
                issuers: vec![dev_issuer(country)],
                federate: true,
            }],
            issuers: vec![IssuerConfig {
                issuer: dev_issuer(country),
                audience: dev_audience(country),
                jwks_url: None,
                jwks_url_file: Some(dir.join(country.as_str()).join("verifier").join("url")),
                jwks_ca: Some(dir.join(layout::ca_cert())),
                public_keys: Vec::new(),
                jwks_refresh_seconds: 5,
                max_certificate_lifetime_seconds: 3600,
                // herald's verifier always signs low S.
                require_low_s: true,
            }],
        },
        export: ExportSettings {
            directory: Some(ks.join("exports")),
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: None,
            interval_seconds: 5,
            min_window_age_seconds: 7200,
            // The dev world federates keys as soon as they are due (the demo and the end-to-end
            // tests follow keys across borders within the hour); production holds them.
            federate_after_padding: false,
            signing_keys: vec![SigningKeyConfig {
                key: signing_key,
                key_id: country.as_str().to_owned(),
                key_version: "v1".to_owned(),
                until: None,
            }],
            configs: vec![export("hourly", 3600), export("daily", 86_400)],
        },
        federation,
        // Dev mode: a restarted key server takes its jobs back within seconds.
        job_lease_seconds: 6,
    })
}
