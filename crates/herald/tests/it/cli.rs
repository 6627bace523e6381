//! The command line as users see it: output formats, exit codes, one-line errors.

use crate::support::{check_error, herald, stderr, stdout};
use std::path::PathBuf;

use herald_testkit::gaen_vectors;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("herald-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn tek_is_fresh_random_hex() {
    let a = stdout(&herald(&["gaen", "tek"]));
    let b = stdout(&herald(&["gaen", "tek"]));
    assert_eq!(a.trim().len(), 32);
    assert!(a.trim().chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[test]
fn rpis_reproduce_the_google_vectors() {
    let vectors = gaen_vectors();
    let v = &vectors["gaen"]["crypto"][0];
    let out = herald(&[
        "gaen",
        "rpis",
        "--tek",
        v["tek"].as_str().unwrap(),
        "--start",
        "2642976",
        "--metadata",
        "40080000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 144);
    for (line, iv) in lines.iter().zip(v["intervals"].as_array().unwrap()) {
        assert_eq!(
            *line,
            format!(
                "{} {} {}",
                iv["enin"],
                iv["rpi"].as_str().unwrap(),
                iv["aem"].as_str().unwrap()
            )
        );
    }
    let short = stdout(&herald(&[
        "gaen",
        "rpis",
        "--tek",
        v["tek"].as_str().unwrap(),
        "--start",
        "2642976",
        "--period",
        "2",
    ]));
    assert_eq!(
        short,
        format!(
            "2642976 {}\n2642977 {}\n",
            v["intervals"][0]["rpi"].as_str().unwrap(),
            v["intervals"][1]["rpi"].as_str().unwrap()
        )
    );
}

#[test]
fn bad_arguments_give_one_line_errors() {
    let tek = "75c734c6dd1a782de7a965da5eb93125";
    check_error(&["gaen", "rpis", "--tek", "75c7", "--start", "1"], "--tek");
    check_error(
        &["gaen", "rpis", "--tek", "zz c734c6dd1a782de7a965da5eb9312", "--start", "1"],
        "hex",
    );
    check_error(
        &["gaen", "rpis", "--tek", tek, "--start", "1", "--period", "0"],
        "rolling period must be in 1..=144, got 0",
    );
    check_error(&["gaen", "rpis", "--tek", tek, "--start", "1", "--period", "145"], "got 145");
    check_error(&["gaen", "rpis", "--tek", tek, "--start=-1"], "--start");
    check_error(&["gaen", "rpis", "--tek", tek, "--start", "abc"], "--start");
    check_error(
        &["gaen", "rpis", "--tek", tek, "--start", "4294967295", "--period", "2"],
        "runs past",
    );
    check_error(
        &["gaen", "rpis", "--tek", tek, "--start", "1", "--metadata", "4008"],
        "--metadata",
    );
    check_error(&["gaen", "rpis", "--start", "1"], "--tek");
    check_error(
        &["match", "--keys", "/nonexistent/keys.json", "--sightings", "/nonexistent/s.jsonl"],
        "cannot read keys file /nonexistent/keys.json",
    );
    check_error(&["bench", "match", "--keys", "0"], "at least 1");
    check_error(&["frobnicate"], "frobnicate");
}

#[test]
fn help_documents_the_input_formats() {
    let out = herald(&["match", "--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for needle in [
        "key_data",
        "rolling_start_interval_number",
        "previous_scan",
        "attenuationBucketThresholdDb",
    ] {
        assert!(help.contains(needle), "match --help lacks {needle}");
    }
    for cmd in [
        &["--help"][..],
        &["gaen", "--help"],
        &["gaen", "rpis", "--help"],
        &["bench", "match", "--help"],
    ] {
        assert!(herald(cmd).status.success(), "{cmd:?}");
    }
}

/// The scenario vector through the CLI: keys.json + sightings.jsonl + the vector's config.
#[test]
fn match_the_scenario_end_to_end() {
    let vectors = gaen_vectors();
    let s = &vectors["gaen"]["scoring_derived"][0];
    let dir = temp_dir("match");
    let dk = &s["diagnosis_key"];
    let key_b64 = {
        // Base64 of the vector's TEK, computed independently of herald-wire by the test.
        let bytes: Vec<u8> = (0..16)
            .map(|i| {
                u8::from_str_radix(&dk["key_data"].as_str().unwrap()[2 * i..2 * i + 2], 16).unwrap()
            })
            .collect();
        base64_standard(&bytes)
    };
    let keys = format!(
        r#"[{{"key_data": "AAAAAAAAAAAAAAAAAAAAAA==", "rolling_start_interval_number": 2642976}},
            {{"key_data": "{key_b64}", "rolling_start_interval_number": {}, "rolling_period": {}, "transmission_risk_level": {}, "report_type": {}, "days_since_onset_of_symptoms": {}}}]"#,
        dk["rolling_start_interval_number"],
        dk["rolling_period"],
        dk["transmission_risk_level"],
        dk["report_type"],
        dk["days_since_onset_of_symptoms"]
    );
    std::fs::write(dir.join("keys.json"), keys).unwrap();
    // The vector's sighting objects, as JSON Lines with their extra fields removed.
    let lines: Vec<String> = s["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| serde_json::json!({"t": x["t"], "rpi": x["rpi"], "aem": x["aem"], "rssi": x["rssi"], "prev": x["prev"]}).to_string())
        .collect();
    std::fs::write(dir.join("sightings.jsonl"), lines.join("\n")).unwrap();
    std::fs::write(dir.join("risk.json"), s["v2"]["config"].to_string()).unwrap();
    let path = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let out = herald(&[
        "match",
        "--keys",
        &path("keys.json"),
        "--sightings",
        &path("sightings.jsonl"),
        "--config",
        &path("risk.json"),
        "--now",
        "1586080800",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["keys"], 2);
    assert_eq!(result["sightings"], 23);
    assert_eq!(result["matched_keys"].as_array().unwrap().len(), 1);
    assert_eq!(result["matched_keys"][0]["key_index"], 1);
    assert_eq!(result["matched_keys"][0]["key_data"], key_b64);
    let kept = s["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kept_for_exposure_windows"] == true)
        .count();
    assert_eq!(result["matched_keys"][0]["sightings"].as_array().unwrap().len(), kept);
    assert_eq!(result["exposure_windows"].as_array().unwrap().len(), 2);
    assert_eq!(result["exposure_windows"][0]["scanInstances"].as_array().unwrap().len(), 7);
    let day = &result["daily_summaries"][0];
    assert_eq!(day["daysSinceEpoch"], 18354);
    assert!((day["summaryData"]["scoreSum"].as_f64().unwrap() - 2389.2).abs() < 1e-9);
    assert_eq!(result["v1"]["summary"]["matchedKeyCount"], 1);

    // Bad files: one line, naming the file and what is wrong.
    std::fs::write(
        dir.join("bad-keys.json"),
        r#"[{"key_data": "AAAA", "rolling_start_interval_number": 1}]"#,
    )
    .unwrap();
    check_error(
        &["match", "--keys", &path("bad-keys.json"), "--sightings", &path("sightings.jsonl")],
        "key 0: temporary exposure key must be 16 bytes",
    );
    std::fs::write(
        dir.join("bad.jsonl"),
        "{\"t\": 1, \"rpi\": \"00\", \"aem\": \"00000000\", \"rssi\": 0}",
    )
    .unwrap();
    check_error(
        &["match", "--keys", &path("keys.json"), "--sightings", &path("bad.jsonl")],
        "sightings line 1: rpi must be 32 hex digits",
    );
    std::fs::write(dir.join("bad-risk.json"), r#"{"attenuationBucketWeights": [9, 1, 1, 1]}"#)
        .unwrap();
    check_error(
        &[
            "match",
            "--keys",
            &path("keys.json"),
            "--sightings",
            &path("sightings.jsonl"),
            "--config",
            &path("bad-risk.json"),
        ],
        "0..=2.5",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_match_prints_one_json_line() {
    let out = herald(&["bench", "match", "--keys", "2000", "--sightings", "500", "--seed", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1);
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["keys"], 2000);
    assert_eq!(report["sightings"], 500);
    assert_eq!(report["threads"], 1);
    assert_eq!(report["matches_planted"], 25);
    assert_eq!(report["matches_found"], report["matches_planted"]);
    assert!(report["keys_per_second"].as_f64().unwrap() > 0.0);
    let two = herald(&["bench", "match", "--keys", "2000", "--sightings", "500", "--threads", "2"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&two)).unwrap();
    assert_eq!(report["threads"], 2);
    assert_eq!(report["matches_found"], report["matches_planted"]);
}

/// RFC 4648 Base64, written out here so the test does not share herald-wire's encoder.
fn base64_standard(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
