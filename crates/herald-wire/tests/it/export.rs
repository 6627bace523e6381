//! GAEN export files against Google's fixtures and key, ENS's digest vector, and OpenSSL.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_model::{
    DaysSinceOnset, DiagnosisKey, IntervalNumber, ReportType, RollingPeriod, TemporaryExposureKey,
    TransmissionRiskLevel,
};
use herald_testkit::{gaen_vectors, read_testdata, run_openssl};
use herald_wire::export::{
    self, BuiltExport, ExportBuilder, ExportError, ExportHeader, ExportSigner, ExportSpec,
    FileSigner, RawKey, ReadLimits, SignatureInfo,
};
use p256::pkcs8::DecodePublicKey as _;
use proptest::prelude::*;
use sha2::{Digest as _, Sha256};

fn hex(bytes: &[u8]) -> String {
    herald_model::key::to_hex(bytes)
}

fn vector(id: &str) -> serde_json::Value {
    let vectors = gaen_vectors();
    vectors["gaen"]["export_files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap()
        .clone()
}

fn spki_key(b64: &str) -> p256::ecdsa::VerifyingKey {
    p256::ecdsa::VerifyingKey::from_public_key_der(&STANDARD.decode(b64).unwrap()).unwrap()
}

/// Header, counts, first/last key, order and signature infos against the vector entry.
fn check_contents(contents: &export::ExportContents, v: &serde_json::Value) {
    let id = &v["id"];
    assert_eq!(contents.start_timestamp, v["start_timestamp"].as_u64(), "{id}");
    assert_eq!(contents.end_timestamp, v["end_timestamp"].as_u64(), "{id}");
    assert_eq!(contents.region.as_deref(), v["region"].as_str(), "{id}");
    assert_eq!(contents.batch_num.map(i64::from), v["batch_num"].as_i64(), "{id}");
    assert_eq!(contents.batch_size.map(i64::from), v["batch_size"].as_i64(), "{id}");
    assert_eq!(contents.keys.len() as u64, v["key_count"].as_u64().unwrap(), "{id}");
    assert_eq!(
        contents.revised_keys.len() as u64,
        v["revised_key_count"].as_u64().unwrap(),
        "{id}"
    );
    let infos: Vec<serde_json::Value> = contents
        .signature_infos
        .iter()
        .map(|i| {
            let mut m = serde_json::Map::new();
            for (field, value) in [
                ("1", &i.app_bundle_id),
                ("2", &i.android_package),
                ("3", &i.key_version),
                ("4", &i.key_id),
                ("5", &i.algorithm),
            ] {
                if let Some(value) = value {
                    m.insert(field.into(), value.clone().into());
                }
            }
            serde_json::Value::Object(m)
        })
        .collect();
    assert_eq!(serde_json::Value::Array(infos), v["signature_infos"], "{id}");
    for (key, expected) in [
        (contents.keys.first().unwrap(), &v["first_key"]),
        (contents.keys.last().unwrap(), &v["last_key"]),
    ] {
        assert_eq!(key.key.to_hex(), expected["key_data"].as_str().unwrap(), "{id}");
        assert_eq!(
            u64::from(key.rolling_period.get()),
            expected["rolling_period"].as_u64().unwrap(),
            "{id}"
        );
        assert_eq!(
            u64::from(key.rolling_start.get()),
            expected["rolling_start_interval_number"].as_u64().unwrap(),
            "{id}"
        );
        assert_eq!(
            u64::from(key.transmission_risk_level.get()),
            expected["transmission_risk_level"].as_u64().unwrap(),
            "{id}"
        );
    }
    let sorted = contents.keys.windows(2).all(|w| w[0].key < w[1].key);
    assert_eq!(sorted, v["keys_sorted_by_key_data"].as_bool().unwrap(), "{id}");
    let full = contents.keys.iter().filter(|k| k.rolling_period == RollingPeriod::FULL_DAY).count();
    assert_eq!(full as u64, v["keys_with_rolling_period_144"].as_u64().unwrap(), "{id}");
    let aligned = contents.keys.iter().filter(|k| k.rolling_start.is_day_aligned()).count();
    assert_eq!(aligned as u64, v["keys_with_aligned_rolling_start"].as_u64().unwrap(), "{id}");
}

#[test]
fn googles_sample_export_parses_and_verifies_with_the_published_key() {
    let v = vector("sample_diagnosis_key_file.zip");
    let zip = read_testdata("gaen/sample_diagnosis_key_file.zip");
    assert_eq!(hex(&Sha256::digest(&zip)), v["file_sha256"].as_str().unwrap());
    let file = export::read_zip(&zip, &ReadLimits::default()).unwrap();
    assert_eq!(hex(&Sha256::digest(&file.export_bin)), v["export_bin_sha256"].as_str().unwrap());
    check_contents(&file.contents, &v);

    let sig = &v["export_sig"]["signatures"][0];
    assert_eq!(file.signatures.len(), 1);
    assert_eq!(hex(&file.signatures[0].signature), sig["signature_der_hex"].as_str().unwrap());
    assert_eq!(file.signatures[0].batch_num, Some(1));
    let pem = String::from_utf8(read_testdata("gaen/310-v1.pub.pem")).unwrap();
    let google = export::public_key_from_pem(&pem).unwrap();
    assert_eq!(
        google,
        spki_key(v["export_sig"]["public_keys_spki_b64"]["310-v1"].as_str().unwrap())
    );
    assert_eq!(file.valid_signatures(&google), [0]);
    let example =
        spki_key(v["export_sig"]["public_keys_spki_b64"]["ExampleServer-v1"].as_str().unwrap());
    assert!(file.valid_signatures(&example).is_empty());
}

#[test]
fn the_unsigned_fixtures_parse_to_the_recorded_keys() {
    for (id, path) in
        [("app_export.bin", "gaen/app_export.bin"), ("cpp_export.bin", "gaen/cpp_export.bin")]
    {
        let v = vector(id);
        let bytes = read_testdata(path);
        assert_eq!(hex(&Sha256::digest(&bytes)), v["export_bin_sha256"].as_str().unwrap());
        let contents = export::parse_export_bin(&bytes).unwrap();
        check_contents(&contents, &v);
    }
}

/// Flipping a bit of any byte of the signed content, or of the signature, is refused; flipping a
/// bit of any byte of the zip either breaks the file or leaves the signed bytes untouched. (One
/// bit per byte, cycling through the bit positions, keeps this fast enough for every test run.)
#[test]
fn every_one_bit_change_is_refused() {
    let zip = read_testdata("gaen/sample_diagnosis_key_file.zip");
    let pem = String::from_utf8(read_testdata("gaen/310-v1.pub.pem")).unwrap();
    let key = export::public_key_from_pem(&pem).unwrap();
    let original = export::read_zip(&zip, &ReadLimits::default()).unwrap();

    let signature = &original.signatures[0].signature;
    for bit in (0..original.export_bin.len()).map(|i| i * 8 + i % 8) {
        let mut bin = original.export_bin.clone();
        bin[bit / 8] ^= 1 << (bit % 8);
        let parses = export::parse_export_bin(&bin).is_ok();
        assert!(
            !export::verify_signature(&key, &bin, signature),
            "export.bin bit {bit} (parses: {parses})"
        );
    }
    for bit in 0..signature.len() * 8 {
        let mut sig = signature.clone();
        sig[bit / 8] ^= 1 << (bit % 8);
        assert!(!export::verify_signature(&key, &original.export_bin, &sig), "signature bit {bit}");
    }
    let mut undetectable = 0;
    for bit in (0..zip.len()).map(|i| i * 8 + i % 8) {
        let mut bytes = zip.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        match export::read_zip(&bytes, &ReadLimits::default()) {
            Err(_) => {}
            Ok(file) if file.valid_signatures(&key).is_empty() => {}
            Ok(file) => {
                // Only zip metadata (dates, attributes, comments) changed: what is signed is
                // byte-identical, so accepting it is correct.
                assert_eq!(file.export_bin, original.export_bin, "zip bit {bit}");
                assert_eq!(file.signatures, original.signatures, "zip bit {bit}");
                undetectable += 1;
            }
        }
    }
    assert!(undetectable < zip.len(), "most zip bits matter ({undetectable} did not)");
}

/// ENS `internal/export/exportfile_test.go`: the deterministic digest of a known export.bin.
#[test]
fn ens_deterministic_digest_vector() {
    let raw = |data: &str, trl, start, period, rt: Option<ReportType>, dsos| RawKey {
        key_data: data.as_bytes().to_vec(),
        transmission_risk_level: trl,
        rolling_start_interval_number: start,
        rolling_period: period,
        report_type: rt,
        days_since_onset: dsos,
    };
    let keys = [
        raw("ABC", 8, 18, 0, Some(ReportType::ConfirmedClinicalDiagnosis), Some(0)),
        raw("DEF", 1, 118, 1, Some(ReportType::ConfirmedTest), Some(-1)),
        raw("GHI", 5, 118, 1, Some(ReportType::SelfReport), Some(-1)),
    ];
    let revised = [raw("123", 4, 100, 144, Some(ReportType::Revoked), None)];
    let header = ExportHeader {
        start_timestamp: 1_588_291_200,
        end_timestamp: 1_588_294_800,
        region: "US".into(),
        batch_num: 1,
        batch_size: 1,
    };
    let info = SignatureInfo {
        key_id: Some("310".into()),
        key_version: Some("1".into()),
        algorithm: Some(export::ECDSA_P256_SHA256_OID.into()),
        ..SignatureInfo::default()
    };
    let bin = export::encode_export_bin(&header, &[info], &keys, &revised);
    assert_eq!(
        STANDARD.encode(Sha256::digest(&bin)),
        "ho9AqUPleXoGs4wc5PEUU7MvbToDryEnQ+rJ8Fb1Hvc="
    );
}

fn key(bytes: [u8; 16], start: u32, period: u32) -> DiagnosisKey {
    DiagnosisKey::new(
        TemporaryExposureKey::from_bytes(bytes),
        IntervalNumber(start),
        RollingPeriod::new(period).unwrap(),
    )
}

/// A P-256 key made by OpenSSL (an independent generator), as PKCS#8 PEM, and its public PEM.
fn openssl_keypair(dir: &std::path::Path) -> Option<(String, String)> {
    run_openssl(
        dir,
        &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem"],
    )?;
    run_openssl(dir, &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"])?;
    Some((
        std::fs::read_to_string(dir.join("key.pem")).unwrap(),
        std::fs::read_to_string(dir.join("pub.pem")).unwrap(),
    ))
}

fn build_all(
    signer: &dyn ExportSigner,
    keys: Vec<DiagnosisKey>,
    revised: Vec<DiagnosisKey>,
    max: usize,
) -> Vec<BuiltExport> {
    let spec = ExportSpec {
        region: "DE".into(),
        start_timestamp: 1_600_000_000,
        end_timestamp: 1_600_086_400,
        max_records: max,
        signers: vec![signer],
    };
    let input = keys.into_iter().map(|k| (k, false)).chain(revised.into_iter().map(|k| (k, true)));
    ExportBuilder::new(spec, input).unwrap().collect::<Result<_, _>>().unwrap()
}

#[test]
fn our_signatures_verify_with_openssl_dgst() {
    let dir = tempfile::tempdir().unwrap();
    let Some((private, public)) = openssl_keypair(dir.path()) else { return };
    let signer =
        FileSigner::from_pkcs8_pem(&private, SignatureInfo::ecdsa_p256("262", "v1").unwrap())
            .unwrap();
    let keys: Vec<DiagnosisKey> =
        (0u8..50).map(|i| key([i.wrapping_mul(37); 16], 2_650_000 + u32::from(i), 144)).collect();
    let built = build_all(&signer, keys, vec![], 1000);
    assert_eq!(built.len(), 1);
    let file = export::read_zip(&built[0].zip, &ReadLimits::default()).unwrap();
    std::fs::write(dir.path().join("export.bin"), &file.export_bin).unwrap();
    std::fs::write(dir.path().join("sig.der"), &file.signatures[0].signature).unwrap();
    let out = run_openssl(
        dir.path(),
        &["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.der", "export.bin"],
    )
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");
    // And the reader agrees, with the public key OpenSSL derived.
    assert_eq!(file.valid_signatures(&export::public_key_from_pem(&public).unwrap()), [0]);
    // A changed export.bin is refused by OpenSSL too.
    let mut tampered = file.export_bin.clone();
    *tampered.last_mut().unwrap() ^= 1;
    std::fs::write(dir.path().join("export.bin"), &tampered).unwrap();
    let refused = herald_testkit::openssl()
        .unwrap()
        .args(["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.der", "export.bin"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
}

/// A fixed test key, so these tests need no OpenSSL.
fn test_signer() -> FileSigner {
    const PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgNytNlKk6C585VmGW
UpymqAgp90NXqkFVMk5rHKDuYg2hRANCAARIaJ5Ctk++miDOhTEWVgEHU2O4iTkX
QHgWU2h3n6mWVXr3et4KbMKQ+Vi9tAYlTIiJf6YiCWe8LRqpNfF4BI7F
-----END PRIVATE KEY-----";
    FileSigner::from_pkcs8_pem(PEM, SignatureInfo::ecdsa_p256("310", "v1").unwrap()).unwrap()
}

#[test]
fn splitting_numbers_files_and_keeps_every_key_once() {
    let signer = test_signer();
    let keys: Vec<DiagnosisKey> = (0u8..10).rev().map(|i| key([i; 16], 2_650_000, 144)).collect();
    let revised = vec![key([200; 16], 2_650_000, 144)];
    let built = build_all(&signer, keys.clone(), revised, 3);
    assert_eq!(built.len(), 4);
    let mut seen = Vec::new();
    for (n, b) in built.iter().enumerate() {
        assert_eq!(b.file_num, n + 1);
        assert_eq!((b.header.batch_num, b.header.batch_size), (1, 1));
        assert_eq!(b.header.start_timestamp, 1_600_000_000);
        assert_eq!(b.header.end_timestamp, 1_600_086_400 + n as u64 + 1);
        let file = export::read_zip(&b.zip, &ReadLimits::default()).unwrap();
        assert_eq!(file.valid_signatures(&signer.verifying_key()), [0]);
        assert!(file.contents.keys.windows(2).all(|w| w[0].key < w[1].key));
        assert_eq!(
            file.contents.keys.len() + file.contents.revised_keys.len(),
            if n < 3 { 3 } else { 2 }
        );
        seen.extend(file.contents.keys.iter().map(|k| k.key.as_bytes()[0]));
        seen.extend(file.contents.revised_keys.iter().map(|k| k.key.as_bytes()[0]));
    }
    seen.sort_unstable();
    let mut expected: Vec<u8> = (0..10).chain([200]).collect();
    expected.sort_unstable();
    assert_eq!(seen, expected);
    // A window that fits one file keeps its end; an empty window gives no file.
    let one = build_all(&signer, keys.clone(), vec![], 10);
    assert_eq!((one.len(), one[0].header.end_timestamp), (1, 1_600_086_400));
    assert!(build_all(&signer, vec![], vec![], 10).is_empty());
    // Reproducible: the same input gives the same bytes.
    assert_eq!(build_all(&signer, keys.clone(), vec![], 10)[0].zip, one[0].zip);
}

#[test]
fn population_rules_on_real_keys() {
    let mut k = key([1; 16], 2_650_000, 144);
    k.transmission_risk_level = TransmissionRiskLevel::new(0).unwrap();
    k.report_type = ReportType::Unknown;
    let p = RawKey::from_key(&k).to_proto();
    assert_eq!(
        (
            p.rolling_period,
            p.report_type,
            p.transmission_risk_level,
            p.days_since_onset_of_symptoms
        ),
        (None, None, Some(0), None)
    );
    k.rolling_period = RollingPeriod::new(89).unwrap();
    k.report_type = ReportType::Recursive;
    k.days_since_onset = Some(DaysSinceOnset::new(0).unwrap());
    let p = RawKey::from_key(&k).to_proto();
    assert_eq!(
        (p.rolling_period, p.report_type, p.days_since_onset_of_symptoms),
        (Some(89), Some(4), Some(0))
    );
}

#[test]
fn bad_files_are_refused_with_a_reason() {
    let signer = test_signer();
    let good = build_all(&signer, vec![key([1; 16], 1, 144)], vec![], 10).remove(0);
    let file = export::read_zip(&good.zip, &ReadLimits::default()).unwrap();
    let sig = {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(good.zip.clone())).unwrap();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut archive.by_name("export.sig").unwrap(), &mut out).unwrap();
        out
    };
    let only_bin = export::zip_export(&file.export_bin, &sig).unwrap();
    assert!(export::read_zip(&only_bin, &ReadLimits::default()).is_ok());
    let mut extra = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for name in ["export.bin", "export.sig", "evil.txt"] {
        extra.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut extra, b"x").unwrap();
    }
    let extra = extra.finish().unwrap().into_inner();
    let mut missing = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    missing.start_file("export.bin", zip::write::SimpleFileOptions::default()).unwrap();
    std::io::Write::write_all(&mut missing, &file.export_bin).unwrap();
    let missing = missing.finish().unwrap().into_inner();
    let tiny = ReadLimits { max_export_bin_bytes: 20, ..ReadLimits::default() };
    for (bytes, limits, needle) in [
        (b"not a zip".to_vec(), ReadLimits::default(), "not a readable zip"),
        (extra, ReadLimits::default(), "exactly export.bin and export.sig"),
        (missing, ReadLimits::default(), "exactly export.bin and export.sig"),
        (good.zip.clone(), tiny, "export.bin is larger than 20 bytes"),
        (good.zip[..good.zip.len() / 2].to_vec(), ReadLimits::default(), "zip"),
    ] {
        let err = export::read_zip(&bytes, &limits).unwrap_err().to_string();
        assert!(err.contains(needle), "{needle}: {err}");
    }
    let mut bad_header = file.export_bin.clone();
    bad_header[15] = b'x';
    assert!(matches!(export::parse_export_bin(&bad_header), Err(ExportError::Header)));
    // A key with 15 bytes, as a hand-made protobuf: named by its list and position.
    let short = RawKey {
        key_data: vec![7; 15],
        transmission_risk_level: 0,
        rolling_start_interval_number: 5,
        rolling_period: 144,
        report_type: None,
        days_since_onset: None,
    };
    let header = ExportHeader {
        start_timestamp: 0,
        end_timestamp: 0,
        region: "DE".into(),
        batch_num: 1,
        batch_size: 1,
    };
    let ok = RawKey { key_data: vec![1; 16], ..short.clone() };
    let bin =
        export::encode_export_bin(&header, &[], std::slice::from_ref(&ok), &[ok.clone(), short]);
    let err = export::parse_export_bin(&bin).unwrap_err().to_string();
    assert_eq!(err, "revised_keys[1]: temporary exposure key must be 16 bytes, got 15");
    for (raw, needle) in [
        (RawKey { rolling_period: 145, key_data: vec![1; 16], ..ok_raw() }, "rolling period"),
        (
            RawKey { rolling_start_interval_number: -1, key_data: vec![1; 16], ..ok_raw() },
            "negative",
        ),
        (
            RawKey { transmission_risk_level: 9, key_data: vec![1; 16], ..ok_raw() },
            "transmission risk level",
        ),
        (
            RawKey { days_since_onset: Some(15), key_data: vec![1; 16], ..ok_raw() },
            "days since onset",
        ),
    ] {
        let err = export::parse_export_bin(&export::encode_export_bin(&header, &[], &[raw], &[]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("keys[0]: ") && err.contains(needle), "{err}");
    }
}

fn ok_raw() -> RawKey {
    RawKey {
        key_data: vec![1; 16],
        transmission_risk_level: 0,
        rolling_start_interval_number: 5,
        rolling_period: 144,
        report_type: None,
        days_since_onset: None,
    }
}

#[test]
fn signer_identities_are_checked() {
    assert!(SignatureInfo::ecdsa_p256("310", "v1").is_ok());
    for (id, version) in [("", "v1"), ("310", ""), ("3 10", "v1"), ("310", "v1/x")] {
        assert!(SignatureInfo::ecdsa_p256(id, version).is_err(), "{id:?} {version:?}");
    }
    assert!(FileSigner::from_pkcs8_pem("not a key", SignatureInfo::default()).is_err());
}

fn key_strategy() -> impl Strategy<Value = DiagnosisKey> {
    (
        any::<[u8; 16]>(),
        0u32..i32::MAX as u32,
        1u32..=144,
        0i32..=8,
        prop_oneof![Just(1), Just(2), Just(3), Just(5)],
        proptest::option::of(-14i32..=14),
    )
        .prop_map(|(k, start, period, trl, rt, dsos)| DiagnosisKey {
            key: TemporaryExposureKey::from_bytes(k),
            rolling_start: IntervalNumber(start),
            rolling_period: RollingPeriod::new(period).unwrap(),
            transmission_risk_level: TransmissionRiskLevel::new(trl).unwrap(),
            report_type: ReportType::new(rt).unwrap(),
            days_since_onset: dsos.map(|d| DaysSinceOnset::new(d).unwrap()),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn build_then_read_gives_the_same_keys(keys in proptest::collection::vec(key_strategy(), 1..40), max in 1usize..50) {
        let signer = test_signer();
        let mut expected = keys.clone();
        expected.sort_by(|a, b| a.key.cmp(&b.key));
        expected.dedup_by(|a, b| a.key == b.key);
        let mut read = Vec::new();
        for built in build_all(&signer, expected.clone(), vec![], max) {
            let file = export::read_zip(&built.zip, &ReadLimits::default()).unwrap();
            prop_assert_eq!(file.valid_signatures(&signer.verifying_key()), vec![0]);
            read.extend(file.contents.keys);
        }
        read.sort_by(|a, b| a.key.cmp(&b.key));
        prop_assert_eq!(read, expected);
    }

    #[test]
    fn readers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = export::read_zip(&bytes, &ReadLimits::default());
        let _ = export::parse_export_bin(&bytes);
        let mut with_header = export::HEADER.to_vec();
        with_header.extend_from_slice(&bytes);
        let _ = export::parse_export_bin(&with_header);
        let _ = export::parse_export_sig(&bytes);
    }
}

#[test]
fn fuzz_corpus_replays() {
    for (_, bytes) in herald_testkit::fuzz_corpus("export_zip") {
        herald_wire::fuzzing::fuzz_export_zip(&bytes);
    }
    for (_, bytes) in herald_testkit::fuzz_corpus("export_bin") {
        herald_wire::fuzzing::fuzz_export_bin(&bytes);
    }
}

/// Key rotation: two signers, two SignatureInfos in export.bin, two signatures in export.sig,
/// each verifying under its own key only.
#[test]
fn several_signers_sign_one_file() {
    let old = test_signer();
    let new = FileSigner::new(
        p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap(),
        SignatureInfo::ecdsa_p256("310", "v2").unwrap(),
    );
    let spec = ExportSpec {
        region: "DE".into(),
        start_timestamp: 1,
        end_timestamp: 2,
        max_records: 10,
        signers: vec![&new, &old],
    };
    let built: Vec<BuiltExport> =
        ExportBuilder::new(spec, std::iter::once((key([3; 16], 5, 144), false)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let file = export::read_zip(&built[0].zip, &ReadLimits::default()).unwrap();
    let versions: Vec<_> =
        file.contents.signature_infos.iter().map(|i| i.key_version.clone().unwrap()).collect();
    assert_eq!(versions, ["v2", "v1"]);
    assert_eq!(file.signatures.len(), 2);
    assert_eq!(file.valid_signatures(&new.verifying_key()), [0]);
    assert_eq!(file.valid_signatures(&old.verifying_key()), [1]);
    let none: Vec<&dyn ExportSigner> = vec![];
    let empty = ExportSpec {
        region: "DE".into(),
        start_timestamp: 1,
        end_timestamp: 2,
        max_records: 10,
        signers: none,
    };
    assert!(ExportBuilder::new(empty, std::iter::empty()).is_err());
}
