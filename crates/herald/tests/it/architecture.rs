//! Architecture invariants that a test can check (ARCHITECTURE.md).

use std::process::Command;

/// The pure crates never pull in an async runtime, a database driver or an HTTP stack.
#[test]
fn pure_crates_have_no_io_dependencies() {
    for krate in
        ["herald-model", "herald-gaen", "herald-wire", "herald-phone", "herald-sim", "herald-stix"]
    {
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

/// The service crates.
const SERVICES: [&str; 4] =
    ["herald-gateway", "herald-keyserver", "herald-verifier", "herald-exchange"];

fn normal_tree(krate: &str) -> String {
    tree(krate, "normal")
}

/// `cargo tree` of `krate` over the dependency `edges` (`normal`, `normal,dev`).
fn tree(krate: &str, edges: &str) -> String {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-e", edges, "--prefix", "none", "-p", krate])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree -p {krate}");
    String::from_utf8(out.stdout).unwrap()
}

fn depends(tree: &str, name: &str) -> bool {
    tree.lines().any(|l| l.split(' ').next() == Some(name))
}

/// Service boundaries: no service crate depends on another, not even for its tests (what they
/// share is below them: herald-runtime, herald-webkit, herald-service, herald-db; tests of
/// services together are in this crate); the key server and the gateway trust the verification
/// service only through its JWKS over HTTPS.
#[test]
fn no_service_depends_on_another() {
    // The check sees dependencies at all, dev-dependencies too.
    assert!(depends(&tree("herald-verifier", "normal,dev"), "herald-db"));
    assert!(depends(&tree("herald-keyserver", "normal,dev"), "herald-testkit"));
    for krate in SERVICES {
        let tree = tree(krate, "normal,dev");
        for other in SERVICES.iter().filter(|other| **other != krate) {
            assert!(!depends(&tree, other), "{krate} depends on {other}:\n{tree}");
        }
    }
}

/// The shared layers sit below every service: the runtime (tokio, HTTP, TLS) and the web kit
/// know no service and no store; herald-service (configuration, dev-world secrets) does no async I/O; the pure
/// crates know neither.
#[test]
fn shared_layers_sit_below_the_services() {
    for (krate, forbidden) in [
        (
            "herald-runtime",
            &[
                "herald-gateway",
                "herald-keyserver",
                "herald-verifier",
                "herald-exchange",
                "herald-db",
                "sqlx",
            ][..],
        ),
        (
            "herald-webkit",
            &[
                "herald-gateway",
                "herald-keyserver",
                "herald-verifier",
                "herald-exchange",
                "herald-db",
                "sqlx",
            ][..],
        ),
        (
            "herald-service",
            &[
                "herald-gateway",
                "herald-keyserver",
                "herald-verifier",
                "herald-exchange",
                "herald-db",
                "herald-runtime",
                "tokio",
            ][..],
        ),
        (
            "herald-db",
            &[
                "herald-gateway",
                "herald-keyserver",
                "herald-verifier",
                "herald-exchange",
                "herald-runtime",
            ][..],
        ),
        ("herald-wire", &["herald-runtime", "herald-db", "herald-service"][..]),
        ("herald-stix", &["herald-runtime", "herald-db", "herald-service", "herald-webkit"][..]),
    ] {
        let tree = normal_tree(krate);
        assert!(tree.lines().count() > 1, "{krate}: cargo tree printed nothing useful:\n{tree}");
        for name in forbidden {
            assert!(!depends(&tree, name), "{krate} depends on {name}:\n{tree}");
        }
    }
}
