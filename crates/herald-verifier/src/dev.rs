//! Development mode (`herald verifier serve --dev DIR --country CC`): the shared dev folder of
//! specs/dev-world.md. Creates what the country's verifier still lacks under
//! `DIR/<CC>/verifier/` (never overwrites): `verifier.db`, `admin-api-key` and `device-api-key`,
//! the HMAC secret `hmac.key` and the signing keys `token-signing.key.pem` and
//! `certificate-signing.key.pem` (all secrets mode 0600). The certificate issuer and audience
//! are the ones the country's dev key server expects (`herald_service::dev`), so that a dev
//! key server in the same folder accepts these certificates through `DIR/<CC>/verifier/url`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use herald_model::CountryCode;
use herald_service::dev::{DevError, dev_audience, dev_issuer};
use herald_trust::layout;

use crate::config::{
    ApiSettings, CertificateSettings, CodeSettings, KeyFile, PortalSettings, TlsFiles,
    TokenSettings, VerifierConfig,
};

/// The dev API keys.
#[derive(Clone)]
pub struct DevKeys {
    /// `DIR/<CC>/verifier/admin-api-key`.
    pub admin: String,
    /// `DIR/<CC>/verifier/device-api-key`.
    pub device: String,
}

impl std::fmt::Debug for DevKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevKeys(redacted)")
    }
}

fn err(path: &Path, reason: impl std::fmt::Display) -> DevError {
    DevError::at(path, reason)
}

/// `DIR/<CC>/verifier`.
pub fn verifier_dir(dir: &Path, country: CountryCode) -> PathBuf {
    dir.join(country.as_str()).join("verifier")
}

/// Writes a secret file with owner-only permissions, unless it exists.
fn write_secret(path: &Path, contents: &str) -> Result<(), DevError> {
    herald_service::secrets::write_secret(path, contents).map_err(|e| err(path, e))
}

fn signing_key_file(path: &Path) -> Result<(), DevError> {
    herald_service::secrets::signing_key_file(path).map(|_| ()).map_err(|e| err(path, e))
}

fn read_trimmed(path: &Path) -> Result<String, DevError> {
    Ok(std::fs::read_to_string(path).map_err(|e| err(path, e))?.trim().to_owned())
}

/// Prepares `DIR/<CC>/verifier` and returns the dev configuration (listening on `listen`, or
/// 127.0.0.1 and a free port) and the API keys to register.
pub fn prepare(
    dir: &Path,
    country: CountryCode,
    listen: Option<SocketAddr>,
) -> Result<(VerifierConfig, DevKeys), DevError> {
    let server_cert = dir.join(layout::server_cert(country));
    if !server_cert.exists() {
        return Err(err(
            &server_cert,
            format!(
                "missing: create the dev PKI with `herald pki dev --out {} --countries {country},…`",
                dir.display()
            ),
        ));
    }
    let v = verifier_dir(dir, country);
    std::fs::create_dir_all(&v).map_err(|e| err(&v, e))?;
    let hmac = v.join("hmac.key");
    write_secret(&hmac, &herald_service::secrets::random_hex(32))?;
    let token_key = v.join("token-signing.key.pem");
    signing_key_file(&token_key)?;
    let certificate_key = v.join("certificate-signing.key.pem");
    signing_key_file(&certificate_key)?;
    let admin = v.join("admin-api-key");
    write_secret(&admin, &format!("hva_{}\n", herald_service::secrets::random_hex(24).as_str()))?;
    let device = v.join("device-api-key");
    write_secret(&device, &format!("hvd_{}\n", herald_service::secrets::random_hex(24).as_str()))?;
    let keys = DevKeys { admin: read_trimmed(&admin)?, device: read_trimmed(&device)? };
    let cc = country.as_str().to_ascii_lowercase();
    let config = VerifierConfig {
        country: country.as_str().to_owned(),
        listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
        internal_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        database: format!("sqlite:{}", v.join("verifier.db").display()),
        hmac_key_files: vec![hmac],
        client_address_header: None,
        tls: Some(TlsFiles {
            certificate: server_cert,
            key: dir.join(layout::server_key(country)),
        }),
        codes: CodeSettings::default(),
        token: TokenSettings {
            issuer: format!("herald-verifier-{cc}-token"),
            lifetime_seconds: 86_400,
            keys: vec![KeyFile {
                kid: "t1".into(),
                key: token_key,
                signing_from: None,
                published_until: None,
            }],
        },
        certificate: CertificateSettings {
            issuer: dev_issuer(country),
            audience: dev_audience(country),
            lifetime_seconds: 900,
            keys: vec![KeyFile {
                kid: "c1".into(),
                key: certificate_key,
                signing_from: None,
                published_until: None,
            }],
        },
        api: ApiSettings { chaff_max_latency_ms: 200, ..ApiSettings::default() },
        portal: PortalSettings::default(),
    };
    Ok((config, keys))
}
