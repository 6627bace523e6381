//! `herald exchange …` through the real binary: the dev exchange on a dev folder, used by the
//! real clients (taxii2-client 2.3.0 and stix2 3.0.2, unchanged, from the exchange's venv).

use crate::support::{DevService, herald, stderr, stdout};
use std::path::Path;

/// `herald exchange serve --dev DIR`, its log in `DIR/exchange.log`.
fn start_exchange(dir: &Path) -> DevService {
    let url_file = dir.join("exchange").join("url");
    DevService::start(&["exchange", "serve", "--dev"], dir, &url_file, &dir.join("exchange.log"))
}

#[test]
fn the_real_clients_use_the_dev_exchange_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let ex = start_exchange(dir.path());
    assert!(ex.url.starts_with("https://localhost:"), "{}", ex.url);
    let x = dir.path().join("exchange");
    for org in ["cert", "hospital-a", "hospital-b", "hospital-c", "vendor-x"] {
        let identity = std::fs::read_to_string(x.join("orgs").join(org).join("identity")).unwrap();
        assert!(identity.starts_with("identity--"), "{org}: {identity}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let token = x.join("orgs").join(org).join("token");
            let mode = std::fs::metadata(token).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{org}'s token is owner-only");
        }
    }
    let script =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../herald-exchange/tests/python/real_clients.py");
    let Some(mut python) = herald_testkit::exchange_python(&["stix2", "taxii2client"]) else {
        return;
    };
    // requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify` (psf/requests
    // #3829): on machines that set them, taxii2-client would not trust the dev CA it is given.
    let out = python
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .arg(script)
        .arg(&ex.url)
        .arg(dir.path().join("ca.pem"))
        .arg(x.join("orgs"))
        .arg(herald_testkit::testdata_dir())
        .output()
        .unwrap();
    let log = std::fs::read_to_string(dir.path().join("exchange.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the real clients failed:\n{}\n{}\nserver log:\n{log}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    println!("real clients: {line}");
    let results: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(results["added"], 231);
    assert_eq!(results["parsed"], 231);
    assert_eq!(
        results["collections_of_hospital_a"],
        serde_json::json!(["sector", "advisories", "cert-inbox"])
    );
    assert_eq!(results["sink_and_source"], true);
}

#[test]
fn exchange_help_and_config_example() {
    let out = herald(&["exchange", "serve", "--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("--dev <DIR>"));
    let out = herald(&["exchange", "config-example"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let example = stdout(&out);
    assert!(herald_exchange::config::ExchangeConfig::from_toml(&example, []).is_ok());
    let out = herald(&["exchange", "serve"]);
    assert!(!out.status.success());
}
