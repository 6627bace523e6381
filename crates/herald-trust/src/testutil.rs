//! Test helpers: OpenSSL as an independent oracle.

use std::path::Path;
use std::process::{Command, Output};

/// A runnable `openssl` command line tool.
pub(crate) struct Openssl {
    program: &'static str,
}

/// `Some` if `openssl` runs. Without it the caller skips its OpenSSL checks with a message,
/// except under `CI=true`, where a missing oracle fails the test rather than passing silently.
pub(crate) fn openssl() -> Option<Openssl> {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => Some(Openssl { program: "openssl" }),
        other => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "openssl is required when CI=true but does not run: {other:?}"
            );
            eprintln!("skipping the OpenSSL cross-checks: openssl does not run ({other:?})");
            None
        }
    }
}

impl Openssl {
    /// Runs `openssl args…` in `dir`.
    pub(crate) fn run(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new(self.program).args(args).current_dir(dir).output().unwrap()
    }

    /// Runs `openssl args…` in `dir`, asserts success, returns stdout.
    pub(crate) fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.run(dir, args);
        assert!(
            out.status.success(),
            "openssl {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `openssl x509 -noout -fingerprint -sha256`, lowercased, colons removed: the EFGS
    /// operator procedure for thumbprints.
    pub(crate) fn thumbprint(&self, dir: &Path, cert_file: &str) -> String {
        let out = self.ok(dir, &["x509", "-noout", "-fingerprint", "-sha256", "-in", cert_file]);
        let (_, hex) = out.trim().split_once('=').unwrap();
        hex.replace(':', "").to_lowercase()
    }
}
