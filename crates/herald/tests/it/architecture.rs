//! Architecture invariants that a test can check (ARCHITECTURE.md).

use std::process::Command;

/// The pure crates never pull in an async runtime, a database driver or an HTTP stack.
#[test]
fn pure_crates_have_no_io_dependencies() {
    for krate in ["herald-model", "herald-gaen", "herald-wire", "herald-phone", "herald-sim"] {
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

/// Service boundaries: the key server and the gateway never depend on the verification service
/// (they trust it only through its JWKS over HTTPS), nor the verification service on the key
/// server (what both need is in herald-service).
#[test]
fn services_depend_in_one_direction() {
    let tree_of = |krate: &str| {
        let out = Command::new(env!("CARGO"))
            .args(["tree", "--offline", "-e", "normal", "--prefix", "none", "-p", krate])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree runs");
        assert!(out.status.success(), "cargo tree -p {krate}");
        String::from_utf8(out.stdout).unwrap()
    };
    let depends = |tree: &str, name: &str| tree.lines().any(|l| l.split(' ').next() == Some(name));
    // The check sees dependencies at all.
    assert!(depends(&tree_of("herald-verifier"), "herald-db"));
    for (krate, forbidden) in [
        ("herald-keyserver", "herald-verifier"),
        ("herald-gateway", "herald-verifier"),
        ("herald-gateway", "herald-keyserver"),
        ("herald-wire", "herald-verifier"),
        ("herald-db", "herald-verifier"),
        ("herald-verifier", "herald-keyserver"),
        // The shared service plumbing sits below every service and does no async I/O.
        ("herald-service", "herald-gateway"),
        ("herald-service", "herald-keyserver"),
        ("herald-service", "herald-verifier"),
        ("herald-service", "herald-db"),
        ("herald-service", "tokio"),
    ] {
        let tree = tree_of(krate);
        assert!(!depends(&tree, forbidden), "{krate} depends on {forbidden}:\n{tree}");
    }
}
