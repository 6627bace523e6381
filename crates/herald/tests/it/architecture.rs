//! Architecture invariants that a test can check (ARCHITECTURE.md).

use std::process::Command;

/// The pure crates never pull in an async runtime, a database driver or an HTTP stack.
#[test]
fn pure_crates_have_no_io_dependencies() {
    for krate in ["herald-model", "herald-gaen", "herald-wire"] {
        let out = Command::new(env!("CARGO"))
            .args(["tree", "--offline", "-e", "normal", "--prefix", "none", "-p", krate])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree runs");
        assert!(
            out.status.success(),
            "cargo tree -p {krate}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8(out.stdout).unwrap();
        for forbidden in ["tokio ", "sqlx", "hyper ", "axum", "reqwest"] {
            assert!(
                !tree.lines().any(|l| l.starts_with(forbidden.trim_end()) && l.contains(' ')),
                "{krate} depends on {forbidden}:\n{tree}"
            );
        }
        assert!(tree.lines().count() > 1, "{krate}: cargo tree printed nothing useful:\n{tree}");
    }
}
