//! `herald pki dev` through the real binary, with OpenSSL as the independent judge.

use std::path::Path;
use std::process::{Command, Output};

fn herald(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald")).args(args).output().expect("herald runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// `herald pki dev --out DIR --countries LIST [extra…]`.
fn pki_dev(dir: &Path, countries: &str, extra: &[&str]) -> Output {
    let mut args = vec!["pki", "dev", "--out", dir.to_str().unwrap(), "--countries", countries];
    args.extend_from_slice(extra);
    herald(&args)
}

/// A failure: non-zero exit, exactly one line on stderr containing `needle`, nothing on stdout.
fn check_error(out: &Output, needle: &str) {
    let err = stderr(out);
    assert!(!out.status.success(), "should fail: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected, got:\n{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(out.stdout.is_empty(), "stdout should be empty");
    assert!(!err.contains("panicked"), "{err}");
}

/// `Some(())` if `openssl` runs; without it the OpenSSL checks are skipped with a message,
/// except under `CI=true`, where that fails the test.
fn openssl_available() -> bool {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => true,
        other => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "openssl is required when CI=true but does not run: {other:?}"
            );
            eprintln!("skipping the OpenSSL cross-checks: openssl does not run ({other:?})");
            false
        }
    }
}

/// `openssl args…` in `dir`; asserts success and returns stdout.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const COUNTRIES: [&str; 3] = ["DE", "NL", "FR"];

/// Every file `herald pki dev` writes for `COUNTRIES`, relative to DIR.
fn expected_files() -> Vec<String> {
    let mut files: Vec<String> = [
        "ca.pem",
        "ca.key.pem",
        "gateway/server.pem",
        "gateway/server.key.pem",
        "anchor/anchor.pem",
        "anchor/anchor.key.pem",
    ]
    .map(String::from)
    .to_vec();
    for cc in COUNTRIES {
        for name in [
            "auth.pem",
            "auth.key.pem",
            "signing.pem",
            "signing.key.pem",
            "server.pem",
            "server.key.pem",
        ] {
            files.push(format!("{cc}/{name}"));
        }
    }
    files
}

/// All regular files under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_str().unwrap().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn dev_writes_the_whole_pki_and_openssl_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = pki_dev(d, "DE,NL,FR", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing on stdout");

    // Exactly the dev-world files, nothing else (no temporary files left behind).
    let mut expected = expected_files();
    expected.sort();
    assert_eq!(files_under(d), expected);

    // The summary names the signing thumbprints, and they are the files' SHA-256.
    let err = stderr(&out);
    assert!(err.lines().count() <= 15, "short summary expected:\n{err}");
    for cc in COUNTRIES {
        assert!(err.contains(&format!("{cc}/signing.pem")), "{err}");
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for f in expected_files() {
            let mode = std::fs::metadata(d.join(&f)).unwrap().permissions().mode() & 0o777;
            if f.ends_with(".key.pem") {
                assert_eq!(mode, 0o600, "{f}");
            } else {
                assert_eq!(
                    mode & 0o077 & !0o044,
                    0,
                    "{f}: certificates are not group/other-writable"
                );
            }
        }
    }

    if !openssl_available() {
        return;
    }
    let verify = |purpose: &str, leaf: &str| {
        let text = openssl(d, &["verify", "-purpose", purpose, "-CAfile", "ca.pem", leaf]);
        assert_eq!(text.trim(), format!("{leaf}: OK"));
    };
    verify("sslserver", "gateway/server.pem");
    for cc in COUNTRIES {
        verify("sslclient", &format!("{cc}/auth.pem"));
        for file in ["auth.pem", "signing.pem"] {
            let path = format!("{cc}/{file}");
            let subject = openssl(d, &["x509", "-noout", "-subject", "-in", &path]);
            assert!(subject.contains(&format!("C = {cc}")), "{path}: {subject}");
        }
        // The thumbprint in the summary is OpenSSL's fingerprint, lowercased without colons.
        let fp = openssl(
            d,
            &["x509", "-noout", "-fingerprint", "-sha256", "-in", &format!("{cc}/signing.pem")],
        );
        let hex = fp.trim().split_once('=').unwrap().1.replace(':', "").to_lowercase();
        assert!(err.contains(&hex), "{cc} signing thumbprint {hex} missing from:\n{err}");
    }
    let san =
        openssl(d, &["x509", "-noout", "-ext", "subjectAltName", "-in", "gateway/server.pem"]);
    assert!(san.contains("DNS:localhost"), "{san}");
    assert!(san.contains("IP Address:127.0.0.1"), "{san}");
    // Keys are PKCS#8 and belong to their certificates.
    for (key, cert) in [("ca.key.pem", "ca.pem"), ("DE/signing.key.pem", "DE/signing.pem")] {
        assert!(
            std::fs::read_to_string(d.join(key))
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        assert_eq!(
            openssl(d, &["pkey", "-in", key, "-pubout"]),
            openssl(d, &["x509", "-in", cert, "-noout", "-pubkey"]),
            "{key}"
        );
    }
}

#[test]
fn an_existing_pki_is_never_replaced_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(pki_dev(d, "DE", &[]).status.success());
    let read_all = || -> Vec<(String, Vec<u8>)> {
        files_under(d)
            .into_iter()
            .map(|f| (f.clone(), std::fs::read(d.join(&f)).unwrap()))
            .collect()
    };
    let before = read_all();

    // Same countries, or different ones: the CA is there, so refuse.
    for countries in ["DE", "NL"] {
        let out = pki_dev(d, countries, &[]);
        check_error(&out, "pass --force");
        assert_eq!(read_all(), before, "a refused run changes nothing");
    }

    // A lone key file is enough to refuse.
    let lone = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(lone.path().join("anchor")).unwrap();
    std::fs::write(lone.path().join("anchor/anchor.key.pem"), "precious").unwrap();
    check_error(&pki_dev(lone.path(), "DE", &[]), "anchor.key.pem exists");
    assert_eq!(files_under(lone.path()), ["anchor/anchor.key.pem"]);

    // --force replaces everything, keys keep mode 0600, no temporary file stays behind.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(d.join("ca.key.pem"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
    let out = pki_dev(d, "DE", &["--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = read_all();
    assert_eq!(
        after.iter().map(|(f, _)| f).collect::<Vec<_>>(),
        before.iter().map(|(f, _)| f).collect::<Vec<_>>()
    );
    for ((f, old), (_, new)) in before.iter().zip(&after) {
        assert_ne!(old, new, "{f} was replaced");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(d.join("ca.key.pem")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn bad_country_lists_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (countries, needle) in [
        ("DE,XYZ", "\"XYZ\""),
        ("D1", "\"D1\""),
        ("DE,NL,DE", "DE twice"),
        ("de,DE", "DE twice"),
        ("DE,,NL", "empty entry"),
        ("", "empty entry"),
    ] {
        let out = pki_dev(d, countries, &[]);
        check_error(&out, needle);
        assert!(files_under(d).is_empty(), "{countries:?}: nothing written");
    }
    // Missing --countries is clap's one-line error.
    let out = herald(&["pki", "dev", "--out", d.to_str().unwrap()]);
    check_error(&out, "--countries");
    assert_eq!(out.status.code(), Some(2));
}
