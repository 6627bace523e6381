//! Dev-only helpers shared by herald's tests. Never a dependency of non-test code.
//!
//! Test data lives outside the repository, in `../shared/testdata/` next to the checkout (the
//! layout every herald clone and CI run has). [`testdata_dir`] finds it, and `HERALD_TESTDATA`
//! overrides the location.

#![allow(clippy::missing_panics_doc, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

pub mod webdriver;

/// The shared test data folder: `$HERALD_TESTDATA`, or `shared/testdata` beside the checkout.
pub fn testdata_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HERALD_TESTDATA") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // crates/herald-testkit → the checkout → its parent, where `shared/` sits.
    let root = manifest
        .ancestors()
        .nth(3)
        .expect("the testkit lives three levels below the folder that holds shared/");
    root.join("shared").join("testdata")
}

/// Reads a file from the test data folder, with a message that says where it looked.
pub fn read_testdata(relative: &str) -> Vec<u8> {
    let path = testdata_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read test data {}: {e} (set HERALD_TESTDATA to the shared/testdata folder)",
            path.display()
        )
    })
}

/// `testdata/gaen_vectors.json`, parsed.
pub fn gaen_vectors() -> serde_json::Value {
    serde_json::from_slice(&read_testdata("gaen_vectors.json")).expect("gaen_vectors.json is JSON")
}

/// Decodes hex into exactly `N` bytes.
pub fn hex_array<const N: usize>(text: &str) -> [u8; N] {
    let bytes = hex_vec(text);
    bytes
        .try_into()
        .unwrap_or_else(|b: Vec<u8>| panic!("{text}: expected {N} bytes, got {}", b.len()))
}

/// Decodes hex of any length.
pub fn hex_vec(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Every file of `fuzz/corpus/<target>` (the committed seeds and findings), as (name, bytes).
pub fn fuzz_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "fuzz corpus {target} is empty");
    files
}

/// The `openssl` command, our independent oracle for signatures and certificates.
///
/// Returns `None` (after printing why) when it is not installed on a developer machine; with
/// `CI=true` a missing `openssl` fails the test instead, because CI must run every oracle check.
pub fn openssl() -> Option<std::process::Command> {
    let found = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(std::process::Command::new("openssl"));
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "openssl is required in CI (.ci/run installs it)"
    );
    eprintln!("SKIPPED: openssl is not installed; the OpenSSL cross-checks did not run");
    None
}

/// Runs `openssl` with `args` in `dir`, panicking with its stderr if it fails.
pub fn run_openssl(dir: &std::path::Path, args: &[&str]) -> Option<std::process::Output> {
    let mut cmd = openssl()?;
    let out = cmd.args(args).current_dir(dir).output().expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out)
}

/// `python3`, our independent oracle for HMAC, ECDSA and JWTs, provided it can import every
/// module in `modules` (e.g. `["cryptography"]`).
///
/// Returns `None` (after printing why) when it is missing on a developer machine; with `CI=true`
/// a missing interpreter or module fails the test instead (.ci/run installs them).
pub fn python3(modules: &[&str]) -> Option<std::process::Command> {
    python_with("python3", modules, ".ci/run installs it")
}

/// The Python of the exchange's oracles (`stix2`, `stix2-patterns`, `taxii2-client` at the pins
/// of `scripts/py-exchange-requirements.txt`): the venv at `$HERALD_EXCHANGE_VENV`, by default
/// `target/py-exchange` in the workspace. Skips and fails as [`python3`] does.
///
/// Make it with `python3 -m venv target/py-exchange &&
/// target/py-exchange/bin/pip install -r scripts/py-exchange-requirements.txt`.
pub fn exchange_python(modules: &[&str]) -> Option<std::process::Command> {
    let venv = std::env::var_os("HERALD_EXCHANGE_VENV").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/py-exchange"),
        PathBuf::from,
    );
    let python = venv.join("bin/python");
    python_with(
        &python.to_string_lossy(),
        modules,
        "make the venv as herald_testkit::exchange_python says (.ci/run does)",
    )
}

fn python_with(interpreter: &str, modules: &[&str], remedy: &str) -> Option<std::process::Command> {
    let imports = modules.iter().map(|m| format!("import {m}")).collect::<Vec<_>>().join("\n");
    let probe = std::process::Command::new(interpreter).arg("-c").arg(&imports).output();
    let problem = match probe {
        Ok(out) if out.status.success() => return Some(std::process::Command::new(interpreter)),
        Ok(out) => format!(
            "{interpreter} cannot import {modules:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("{interpreter} does not run: {e}"),
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{problem}; Python with {modules:?} is required in CI ({remedy})"
    );
    eprintln!("SKIPPED: {problem}; the Python cross-checks did not run");
    None
}

/// Runs a Python `script` with `stdin`, returning its stdout; panics with stderr if it fails.
/// `None` when [`python3`] says Python (with `modules`) is not available.
pub fn run_python(modules: &[&str], script: &str, stdin: &[u8]) -> Option<Vec<u8>> {
    Some(run_script(python3(modules)?, script, stdin))
}

/// [`run_python`] under [`exchange_python`].
pub fn run_exchange_python(modules: &[&str], script: &str, stdin: &[u8]) -> Option<Vec<u8>> {
    Some(run_script(exchange_python(modules)?, script, stdin))
}

fn run_script(mut python: std::process::Command, script: &str, stdin: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = python
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child.stdin.take().expect("stdin is piped").write_all(stdin).expect("python3 reads stdin");
    let out = child.wait_with_output().expect("python3 finishes");
    assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}
