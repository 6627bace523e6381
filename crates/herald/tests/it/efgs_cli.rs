//! `herald efgs sign|verify` through the real binary, with OpenSSL making the keys and judging
//! the signatures.

use std::process::Output;

use crate::support::{check_error, herald, stderr, stdout};
use std::path::PathBuf;

use herald_wire::efgs;

/// A temporary folder with OpenSSL-made signing identities and key files.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// `None` (with a skip message) without openssl, except under `CI=true`.
    fn new() -> Option<Self> {
        herald_testkit::openssl()?;
        Some(Self { dir: tempfile::tempdir().unwrap() })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    fn openssl(&self, args: &[&str]) -> Output {
        let out = herald_testkit::openssl()
            .unwrap()
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// `<name>.key` and `<name>.pem`, self-signed, with the given key options and subject.
    fn identity(&self, name: &str, keygen: &[&str], subject: &str) {
        let key = format!("{name}.key");
        let mut args = vec!["genpkey"];
        args.extend_from_slice(keygen);
        args.extend_from_slice(&["-out", &key]);
        self.openssl(&args);
        let cert = format!("{name}.pem");
        self.openssl(&[
            "req", "-x509", "-new", "-key", &key, "-subj", subject, "-days", "30", "-out", &cert,
        ]);
    }

    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path(name), text).unwrap();
        self.p(name)
    }

    /// The thumbprint as `openssl x509 -fingerprint -sha256` prints it, lowercase hex.
    fn thumbprint(&self, cert: &str) -> String {
        let out = self.openssl(&["x509", "-in", cert, "-noout", "-fingerprint", "-sha256"]);
        let text = String::from_utf8(out.stdout).unwrap();
        text.trim().rsplit('=').next().unwrap().replace(':', "").to_lowercase()
    }

    /// Whether `openssl cms -verify` accepts a Base64 batchSignature over `content`.
    fn openssl_verifies(&self, signature_b64: &str, content: &[u8]) -> bool {
        std::fs::write(self.path("sig.b64"), signature_b64).unwrap();
        self.openssl(&["base64", "-d", "-A", "-in", "sig.b64", "-out", "sig.der"]);
        std::fs::write(self.path("content.bin"), content).unwrap();
        herald_testkit::openssl()
            .unwrap()
            .args(["cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.der"])
            .args(["-content", "content.bin", "-noverify", "-out", "/dev/null"])
            .current_dir(self.dir.path())
            .output()
            .unwrap()
            .status
            .success()
    }
}

const EFGS_JSON: &str = r#"{"keys":[
  {"keyData":"CAAAAAAAAAAAAAAAAAAAAA==","rollingStartIntervalNumber":2700000,"rollingPeriod":144,
   "transmissionRiskLevel":2147483647,"visitedCountries":["DE","FR"],"origin":"DE",
   "reportType":"CONFIRMED_TEST"},
  {"keyData":"C0AAAAAAAAAAAAAAAAAAAA==","rollingStartIntervalNumber":2700000,"rollingPeriod":144,
   "transmissionRiskLevel":3,"origin":"DE","reportType":1,"days_since_onset_of_symptoms":-2}
]}"#;

const KEYS_JSON: &str = r#"[
  {"key_data": "dcc0xt0aeC3nqWXaXrkxJQ==", "rolling_start_interval_number": 2642976,
   "rolling_period": 144, "transmission_risk_level": 4, "report_type": 1,
   "days_since_onset_of_symptoms": 0},
  {"key_data": "CAAAAAAAAAAAAAAAAAAAAA==", "rolling_start_interval_number": 2643120}
]"#;

/// Signs successfully and returns the one output line.
fn sign_ok(args: &[&str]) -> String {
    let out = herald(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    text.trim_end().to_owned()
}

#[test]
fn sign_and_verify_an_efgs_json_batch() {
    let Some(f) = Fixture::new() else { return };
    f.identity("de", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "/C=DE/CN=demo");
    let keys = f.write("batch.json", EFGS_JSON);
    let (cert, key) = (f.p("de.pem"), f.p("de.key"));
    let signature = sign_ok(&["efgs", "sign", "--keys", &keys, "--cert", &cert, "--key", &key]);
    assert!(signature.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c)));

    // OpenSSL accepts it over the canonical signed bytes of the batch.
    let batch = efgs::decode_json(EFGS_JSON.as_bytes()).unwrap();
    assert!(f.openssl_verifies(&signature, &efgs::batch_signed_bytes(&batch)));

    let out =
        herald(&["efgs", "verify", "--keys", &keys, "--signature", &signature, "--cert", &cert]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("valid: 2 keys signed by certificate {} (C=DE)\n", f.thumbprint(&cert))
    );

    // A changed batch, a changed signature, another certificate.
    let changed = f.write(
        "changed.json",
        &EFGS_JSON.replace("\"transmissionRiskLevel\":3", "\"transmissionRiskLevel\":4"),
    );
    check_error(
        &["efgs", "verify", "--keys", &changed, "--signature", &signature, "--cert", &cert],
        "invalid batch signature: message digest does not match the content",
    );
    let mut bad = signature.clone().into_bytes();
    let at = bad.len() - 8;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    check_error(
        &["efgs", "verify", "--keys", &keys, "--signature", &bad, "--cert", &cert],
        "invalid batch signature",
    );
    check_error(
        &["efgs", "verify", "--keys", &keys, "--signature", "not base64!", "--cert", &cert],
        "batchSignature is not valid base64",
    );
    f.identity(
        "other",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "/C=DE/CN=other",
    );
    check_error(
        &[
            "efgs",
            "verify",
            "--keys",
            &keys,
            "--signature",
            &signature,
            "--cert",
            &f.p("other.pem"),
        ],
        "the signer certificate is not the expected certificate",
    );
}

#[test]
fn keys_json_takes_countries_from_flags_or_the_certificate() {
    let Some(f) = Fixture::new() else { return };
    f.identity("rsa", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "/C=NL/CN=demo");
    let keys = f.write("keys.json", KEYS_JSON);
    let (cert, key) = (f.p("rsa.pem"), f.p("rsa.key"));
    let signature = sign_ok(&[
        "efgs",
        "sign",
        "--keys",
        &keys,
        "--cert",
        &cert,
        "--key",
        &key,
        "--visited",
        "DE,BE",
    ]);
    // The origin defaulted to the certificate's C=NL; the visited countries are part of the
    // signed bytes, in the order given.
    let out = herald(&[
        "efgs",
        "verify",
        "--keys",
        &keys,
        "--signature",
        &signature,
        "--cert",
        &cert,
        "--visited",
        "DE,BE",
        "--origin",
        "NL",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("valid: 2 keys signed by certificate "), "{}", stdout(&out));
    check_error(
        &[
            "efgs",
            "verify",
            "--keys",
            &keys,
            "--signature",
            &signature,
            "--cert",
            &cert,
            "--visited",
            "BE,DE",
        ],
        "message digest does not match the content",
    );
    check_error(
        &["efgs", "verify", "--keys", &keys, "--signature", &signature, "--cert", &cert],
        "message digest does not match the content",
    );

    // What the CLI signed is what the library computes for those keys.
    let parsed = herald_wire::keys_json::parse(KEYS_JSON.as_bytes()).unwrap();
    let efgs_keys: Vec<efgs::EfgsKey> = parsed
        .iter()
        .map(|k| {
            efgs::EfgsKey::from_diagnosis_key(
                k,
                "NL".parse().unwrap(),
                vec!["DE".parse().unwrap(), "BE".parse().unwrap()],
            )
        })
        .collect();
    assert!(f.openssl_verifies(&signature, &efgs::batch_signed_bytes(&efgs_keys)));

    check_error(
        &["efgs", "sign", "--keys", &keys, "--cert", &cert, "--key", &key, "--origin", "FR"],
        "origin FR differs from the signing certificate's country NL",
    );
    check_error(
        &["efgs", "sign", "--keys", &keys, "--cert", &cert, "--key", &key, "--visited", "DE,X1"],
        "--visited: country code must be two ASCII letters",
    );
}

#[test]
fn bad_inputs_give_one_line_errors() {
    let Some(f) = Fixture::new() else { return };
    f.identity("de", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "/C=DE/CN=demo");
    f.identity(
        "nocountry",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "/CN=none",
    );
    f.identity("weak", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"], "/C=DE/CN=weak");
    let (cert, key) = (f.p("de.pem"), f.p("de.key"));
    let efgs_keys = f.write("batch.json", EFGS_JSON);
    let keys = f.write("keys.json", KEYS_JSON);
    let bad_key = f.write(
        "bad.json",
        r#"{"keys":[{"keyData":"CAAAAAAAAAAAAAAAAAAAAA==","rollingPeriod":144,"origin":"DE"},{"keyData":"AAAA","rollingPeriod":144,"origin":"DE"}]}"#,
    );
    let neither = f.write("neither.txt", "hello");
    let sign = |keys: &str, cert: &str, key: &str, extra: &[&str]| {
        let mut args = vec!["efgs", "sign", "--keys", keys, "--cert", cert, "--key", key];
        args.extend_from_slice(extra);
        args.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>()
    };
    for (args, needle) in [
        (sign("/nonexistent/k.json", &cert, &key, &[]), "cannot read /nonexistent/k.json"),
        (sign(&efgs_keys, "/nonexistent/c.pem", &key, &[]), "cannot read /nonexistent/c.pem"),
        (sign(&bad_key, &cert, &key, &[]), "key 1: keyData must be 16 bytes, got 3"),
        (sign(&neither, &cert, &key, &[]), "expected an EFGS JSON batch"),
        (
            sign(&efgs_keys, &cert, &key, &["--origin", "DE"]),
            "--origin and --visited apply only to keys.json",
        ),
        (sign(&efgs_keys, &key, &key, &[]), "certificate is invalid"),
        (sign(&efgs_keys, &cert, &cert, &[]), "private key is invalid"),
        (sign(&efgs_keys, &cert, &f.p("weak.key"), &[]), "rsa key has 1024 bits"),
        (sign(&efgs_keys, &f.p("weak.pem"), &key, &[]), "does not match the certificate"),
        (
            sign(&keys, &f.p("nocountry.pem"), &f.p("nocountry.key"), &[]),
            "give the origin with --origin",
        ),
        (
            sign(&efgs_keys, &f.p("nocountry.pem"), &f.p("nocountry.key"), &[]),
            "has no single country",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        check_error(&args, needle);
    }
    check_error(&["efgs", "verify", "--keys", &efgs_keys, "--cert", &cert], "--signature");
}

#[test]
fn help_documents_both_key_formats() {
    for cmd in ["sign", "verify"] {
        let out = herald(&["efgs", cmd, "--help"]);
        assert!(out.status.success());
        let help = stdout(&out);
        for needle in ["EFGS JSON batch", "keys.json", "--origin", "--visited", "--cert"] {
            assert!(help.contains(needle), "efgs {cmd} --help lacks {needle}:\n{help}");
        }
    }
}
