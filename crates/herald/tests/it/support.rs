//! What every CLI test needs: run the real binary, read its output, check one-line errors.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// A service started as `herald <args…> DIR` in the background, once its `url_file` names an
/// https URL (a stale one is removed first: a killed service leaves it behind); its stderr is
/// appended to `log`; killed when dropped.
pub(crate) struct DevService {
    /// The process.
    pub(crate) child: Child,
    /// What its `url` file says.
    pub(crate) url: String,
}

impl DevService {
    pub(crate) fn start(args: &[&str], dir: &Path, url_file: &Path, log: &Path) -> Self {
        let _ = std::fs::remove_file(url_file);
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(args)
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap();
        let started = Instant::now();
        loop {
            if let Ok(url) = std::fs::read_to_string(url_file)
                && url.starts_with("https://")
            {
                return Self { child, url: url.trim().to_owned() };
            }
            if let Some(status) = child.try_wait().unwrap() {
                let log = std::fs::read_to_string(log).unwrap_or_default();
                panic!("herald {args:?} exited before serving: {status}: {log}");
            }
            assert!(started.elapsed() < Duration::from_mins(1), "herald {args:?} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for DevService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
