//! `herald export build|inspect` and export files as `herald match` input.

use std::path::Path;
use std::process::Output;

use crate::support::herald;
use herald_testkit::{gaen_vectors, run_openssl, testdata_dir};

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn one_line_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{needle}: {err}");
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_string()
}

fn write_keys(dir: &Path, n: u8) {
    let keys: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"key_data": "{}", "rolling_start_interval_number": {}, "rolling_period": {}, "transmission_risk_level": 3, "report_type": 1}}"#,
                base64_of_16(i),
                2_650_000 + u32::from(i),
                if i % 2 == 0 { 144 } else { 100 }
            )
        })
        .collect();
    std::fs::write(dir.join("keys.json"), format!("[{}]", keys.join(","))).unwrap();
}

/// Base64 of 16 bytes `[i, 0, 0, …]`: `i` in the first 6-bit groups, then 'A's.
fn base64_of_16(i: u8) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let first = char::from(ALPHABET[usize::from(i >> 2)]);
    let second = char::from(ALPHABET[usize::from((i & 3) << 4)]);
    format!("{first}{second}{}==", "A".repeat(20))
}

#[test]
fn build_inspect_and_verify_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Some(_) = run_openssl(
        d,
        &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem"],
    ) else {
        return;
    };
    run_openssl(d, &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"]).unwrap();
    run_openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "other.pem",
        ],
    )
    .unwrap();
    run_openssl(d, &["pkey", "-in", "other.pem", "-pubout", "-out", "other.pub.pem"]).unwrap();
    write_keys(d, 7);
    let out = herald(&[
        "export",
        "build",
        "--keys",
        &p(d, "keys.json"),
        "--signing-key",
        &p(d, "key.pem"),
        "--key-id",
        "262",
        "--key-version",
        "v1",
        "--region",
        "DE",
        "--out",
        &p(d, "e.zip"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());

    let report =
        json(&herald(&["export", "inspect", &p(d, "e.zip"), "--public-key", &p(d, "pub.pem")]));
    assert_eq!(report["region"], "DE");
    assert_eq!(report["start_timestamp"], 2_650_000u64 * 600);
    assert_eq!(report["end_timestamp"], (2_650_006u64 + 144) * 600);
    assert_eq!((report["batch_num"].as_i64(), report["batch_size"].as_i64()), (Some(1), Some(1)));
    assert_eq!(report["keys"].as_array().unwrap().len(), 7);
    assert_eq!(report["keys"][1]["key_data"], base64_of_16(1));
    assert_eq!(report["keys"][1]["rolling_period"], 100);
    assert_eq!(report["signatures"][0]["key_id"], "262");
    assert_eq!(report["signatures"][0]["key_version"], "v1");
    assert_eq!(report["signatures"][0]["algorithm"], "1.2.840.10045.4.3.2");
    assert_eq!(report["signatures"][0]["valid"], true);

    let unchecked = json(&herald(&["export", "inspect", &p(d, "e.zip")]));
    assert_eq!(unchecked["signatures"][0]["valid"], serde_json::Value::Null);
    let wrong =
        herald(&["export", "inspect", &p(d, "e.zip"), "--public-key", &p(d, "other.pub.pem")]);
    one_line_error(&wrong, "no signature");
    let printed: serde_json::Value = serde_json::from_slice(&wrong.stdout).unwrap();
    assert_eq!(printed["signatures"][0]["valid"], false);

    // OpenSSL checks the signature over the whole export.bin, taken out of the zip.
    let bytes = std::fs::read(d.join("e.zip")).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    for name in ["export.bin", "export.sig"] {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut archive.by_name(name).unwrap(), &mut out).unwrap();
        std::fs::write(d.join(name), out).unwrap();
    }
    let sig_list = std::fs::read(d.join("export.sig")).unwrap();
    let signature = &herald_wire::export::parse_export_sig(&sig_list).unwrap()[0].signature;
    std::fs::write(d.join("sig.der"), signature).unwrap();
    let verified = run_openssl(
        d,
        &["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.der", "export.bin"],
    )
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&verified.stdout).trim(), "Verified OK");

    // Splitting: 7 keys at 3 per file → three numbered files.
    let out = herald(&[
        "export",
        "build",
        "--keys",
        &p(d, "keys.json"),
        "--signing-key",
        &p(d, "key.pem"),
        "--key-id",
        "262",
        "--key-version",
        "v1",
        "--region",
        "DE",
        "--out",
        &p(d, "split.zip"),
        "--max-keys",
        "3",
    ]);
    assert!(out.status.success());
    for (n, count) in [(1, 3), (2, 3), (3, 1)] {
        let part = json(&herald(&[
            "export",
            "inspect",
            &p(d, &format!("split-0000{n}.zip")),
            "--public-key",
            &p(d, "pub.pem"),
        ]));
        assert_eq!(part["keys"].as_array().unwrap().len(), count);
        assert_eq!(part["end_timestamp"], (2_650_006u64 + 144) * 600 + n);
    }
    assert!(!d.join("split.zip").exists());

    // The export as match input, with and without the right public key.
    std::fs::write(d.join("none.jsonl"), "").unwrap();
    let matched = json(&herald(&[
        "match",
        "--keys",
        &p(d, "e.zip"),
        "--keys",
        &p(d, "keys.json"),
        "--sightings",
        &p(d, "none.jsonl"),
        "--public-key",
        &p(d, "pub.pem"),
    ]));
    assert_eq!(matched["keys"], 14);
    one_line_error(
        &herald(&[
            "match",
            "--keys",
            &p(d, "e.zip"),
            "--sightings",
            &p(d, "none.jsonl"),
            "--public-key",
            &p(d, "other.pub.pem"),
        ]),
        "no signature verifies",
    );
}

#[test]
fn googles_sample_through_the_cli() {
    let zip = testdata_dir().join("gaen/sample_diagnosis_key_file.zip");
    let key = testdata_dir().join("gaen/310-v1.pub.pem");
    let report = json(&herald(&[
        "export",
        "inspect",
        zip.to_str().unwrap(),
        "--public-key",
        key.to_str().unwrap(),
    ]));
    assert_eq!(report["keys"].as_array().unwrap().len(), 140);
    assert_eq!(report["region"], "US");
    assert_eq!(report["signatures"][0]["key_id"], "310");
    assert_eq!(report["signatures"][0]["valid"], true);
    assert_eq!(report["keys"][0]["key_data"], "AAPWCxiPGYVuiz3SmgxGOw==");
}

/// gaen_vectors.json `internals-roundtrip-matching`: the RPI of TEK 2b714d3e… at ENIN 2646801
/// matches exactly one key of Google's app export.bin (rolling period 89, index 0).
#[test]
fn internals_roundtrip_matching_against_the_app_export() {
    let vectors = gaen_vectors();
    let v = &vectors["gaen"]["matching"][0];
    let enin = v["enin"].as_u64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rpis = herald(&[
        "gaen",
        "rpis",
        "--tek",
        v["tek"].as_str().unwrap(),
        "--start",
        &enin.to_string(),
        "--period",
        "1",
        "--metadata",
        "40f60000",
    ]);
    let line = String::from_utf8(rpis.stdout).unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[1], v["rpi_computed"].as_str().unwrap());
    std::fs::write(
        dir.path().join("s.jsonl"),
        format!(
            r#"{{"time": {}, "rpi": "{}", "aem": "{}", "rssi": -60}}"#,
            enin * 600,
            cols[1],
            cols[2]
        ),
    )
    .unwrap();
    let export_bin = testdata_dir().join("gaen/app_export.bin");
    let result = json(&herald(&[
        "match",
        "--keys",
        export_bin.to_str().unwrap(),
        "--sightings",
        &p(dir.path(), "s.jsonl"),
        "--now",
        &(enin * 600 + 86_400).to_string(),
    ]));
    assert_eq!(result["keys"], 110);
    let matched = result["matched_keys"].as_array().unwrap();
    assert_eq!(matched.len(), 1);
    let expected = &v["expected_match_detail"]["key_in_file"];
    assert_eq!(
        matched[0]["rolling_start_interval_number"],
        expected["rolling_start_interval_number"]
    );
    assert_eq!(matched[0]["rolling_period"], expected["rolling_period"]);
    assert_eq!(matched[0]["transmission_risk_level"], expected["transmission_risk_level"]);
    assert_eq!(
        matched[0]["sightings"][0]["rpi_interval"].as_u64().unwrap() - enin,
        v["expected_match_detail"]["rpi_index_in_key"].as_u64().unwrap()
    );
}

#[test]
fn bad_build_inputs_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_keys(d, 2);
    std::fs::write(d.join("empty.json"), "[]").unwrap();
    std::fs::write(
        d.join("notakey.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let key = d.join("notakey.pem");
    let build = |keys: &str, key: &str, id: &str, extra: &[&str]| {
        let mut args = vec![
            "export",
            "build",
            "--keys",
            keys,
            "--signing-key",
            key,
            "--key-id",
            id,
            "--key-version",
            "v1",
            "--region",
            "DE",
            "--out",
        ];
        let out = p(d, "x.zip");
        args.push(&out);
        args.extend_from_slice(extra);
        herald(&args)
    };
    let keys = p(d, "keys.json");
    one_line_error(
        &build(&keys, key.to_str().unwrap(), "262", &[]),
        "not a PKCS#8 PEM P-256 private key",
    );
    one_line_error(
        &build(&keys, "/nonexistent.pem", "262", &[]),
        "cannot read signing key /nonexistent.pem",
    );
    one_line_error(&build(&keys, key.to_str().unwrap(), "2 62", &[]), "key id must be");
    one_line_error(&build(&p(d, "empty.json"), key.to_str().unwrap(), "262", &[]), "no keys");
    one_line_error(&herald(&["export", "inspect", &p(d, "keys.json")]), "not a readable zip");
    one_line_error(&herald(&["export", "inspect", "/nonexistent.zip"]), "cannot read export file");
    assert!(!d.join("x.zip").exists());
}
