//! What every CLI test needs: run the real binary, read its output, check one-line errors.

use std::process::{Command, Output};

/// Runs `herald` with `args`.
pub(crate) fn herald(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald")).args(args).output().expect("herald runs")
}

/// Its stdout as text.
pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Its stderr as text.
pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// A failure: non-zero exit, exactly one line on stderr containing `needle`, nothing on stdout.
pub(crate) fn check_error(args: &[&str], needle: &str) {
    let out = herald(args);
    let err = stderr(&out);
    assert!(!out.status.success(), "{args:?} should fail");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line expected, got:\n{err}");
    assert!(err.contains(needle), "{args:?}: expected {needle:?} in {err}");
    assert!(stdout(&out).is_empty(), "{args:?}: stdout should be empty");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
}
