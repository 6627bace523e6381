//! `herald demo` end to end: three countries, a few hundred phones, a few days, everything over
//! real HTTPS. Checked against what the demo did not compute itself: every uploaded key (from
//! `uploaded-keys.csv`) is in every country's export files on disk, each file verified with that
//! country's export public key; with noise-free measurements, the warnings match the ground
//! truth exactly (precision and recall 1); the report renders in headless Chromium.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use herald_wire::export::{ReadLimits, public_key_from_pem, read_zip};
use serde_json::Value;

fn run_demo(out: &Path, extra: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["demo", "--countries", "DE,NL,DK", "--phones", "900", "--days", "5", "--seed", "3"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .expect("herald runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "herald demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("precision"), "{stdout}");
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
}

/// Every key in `country`'s hourly export files under `world/`, each file's signature checked.
fn exported(world: &Path, country: &str) -> HashSet<String> {
    let ks = world.join(country).join("keyserver");
    let public =
        public_key_from_pem(&std::fs::read_to_string(ks.join("export-signing.pub.pem")).unwrap())
            .unwrap();
    let index = std::fs::read_to_string(ks.join("exports/hourly/index.txt")).unwrap();
    let mut keys = HashSet::new();
    for name in index.lines().filter(|l| !l.is_empty()) {
        let file = read_zip(
            &std::fs::read(ks.join("exports").join(name)).unwrap(),
            &ReadLimits::default(),
        )
        .unwrap();
        assert_eq!(file.valid_signatures(&public).len(), 1, "{name} is signed by {country}");
        keys.extend(file.contents.keys.iter().map(|k| herald_model::key::to_hex(k.key.as_bytes())));
    }
    keys
}

#[test]
fn a_small_demo_conserves_keys_and_warns_exactly_the_true_contacts() {
    let out = tempfile::tempdir().unwrap();
    let summary = run_demo(out.path(), &["--quiet"]);

    let uploads = summary["uploads"].as_u64().unwrap();
    assert!(uploads >= 3, "a lively epidemic: {summary}");
    let csv = std::fs::read_to_string(out.path().join("uploaded-keys.csv")).unwrap();
    let uploaded: Vec<(&str, &str)> =
        csv.lines().skip(1).filter_map(|l| l.split_once(',')).collect();
    assert_eq!(uploaded.len() as u64, summary["keys_uploaded"].as_u64().unwrap());
    let origins: HashSet<&str> = uploaded.iter().map(|(c, _)| *c).collect();
    assert!(origins.len() >= 2, "uploads from several countries: {origins:?}");

    // Conservation: every key uploaded anywhere is in every country's export files.
    let world = out.path().join("world");
    for country in ["DE", "NL", "DK"] {
        let keys = exported(&world, country);
        for (origin, key) in &uploaded {
            assert!(
                keys.contains(*key),
                "{origin}'s key {key} is missing from {country}'s exports"
            );
        }
    }
    for c in summary["per_country"].as_array().unwrap() {
        assert_eq!(c["uploaded_keys_missing"], 0, "{c}");
        assert!(c["keys_imported"].as_u64().unwrap() > 0, "{c}");
    }

    // Noise-free: warned exactly those the ground truth says.
    assert!(summary["warned"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(summary["warned"], summary["should_be_warned"]);
    assert_eq!(summary["correctly_warned"], summary["warned"]);
    assert_eq!(summary["precision"], 1.0);
    assert_eq!(summary["recall"], 1.0);
    assert!(summary["per_day"].as_array().unwrap().len() == 5);

    // The report files exist and are not empty.
    for file in ["report.html", "summary.json", "uploaded-keys.csv"] {
        let len = std::fs::metadata(out.path().join(file)).unwrap().len();
        assert!(len > 100, "{file}: {len} bytes");
    }
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 4);

    // A second run into the same folder replaces the world and gives the same epidemic.
    let again = run_demo(out.path(), &["--quiet"]);
    assert_eq!(again["uploads"], summary["uploads"]);
    assert_eq!(again["warned"], summary["warned"]);

    screenshot(&out.path().join("report.html"), &summary);
}

/// The report in headless Chromium: it renders its four charts and the figures; a PNG goes to
/// `<target>/demo-report.png`.
fn screenshot(report: &Path, summary: &Value) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf();
        let Some((_driver, b)) =
            herald_testkit::webdriver::browser(target.join("demo-report")).await
        else {
            return;
        };
        b.go(&format!("file://{}", report.display())).await;
        assert_eq!(b.count("svg").await, 4);
        assert_eq!(b.count("svg polyline").await, 4, "four lines in the day-by-day chart");
        assert_eq!(b.text("#warned").await, summary["warned"].to_string());
        assert_eq!(b.text("#recall").await, "1.000");
        b.screenshot("report").await;
        let png = std::fs::read(b.shots.join("report.png")).unwrap();
        assert!(png.len() > 10_000, "a real picture: {} bytes", png.len());
    });
}

#[test]
fn bad_demo_arguments_say_what_is_wrong() {
    for (args, expected) in [
        (&["--countries", "DE"][..], "at least two countries"),
        (&["--countries", "DE,D1"][..], "not an upper-case"),
        (&["--countries", "DE,NL,DE"][..], "listed twice"),
        (&["--days", "0"][..], "--days"),
        (&["--days", "31"][..], "--days"),
        (&["--phones", "10"][..], "at least 20 per country"),
        (&["--noise-db", "40"][..], "noise must be at most 30 dB"),
    ] {
        let output =
            Command::new(env!("CARGO_BIN_EXE_herald")).arg("demo").args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
