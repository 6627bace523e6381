//! `herald bench crash`, small: each scenario runs against real service processes and every
//! invariant reads 0 (no acknowledged key lost, no code, token or certificate accepted twice,
//! no key missing or duplicated at the gateway or in the exports). Never timing.

use crate::support::{check_error, herald, stderr, stdout};

/// Runs one scenario small and returns its table.
fn scenario(name: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "bench",
        "crash",
        "--scenario",
        name,
        "--apps",
        "8",
        "--uploads",
        "40",
        "--keys",
        "2",
        "--seed-keys",
        "3000",
    ];
    args.extend(extra);
    let out = herald(&args);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    text
}

/// The table held: every invariant line reads 0, and there are at least `n` of them.
fn check_held(text: &str, n: usize) {
    let invariants: Vec<&str> = text.lines().filter(|l| l.starts_with("invariant ")).collect();
    assert!(invariants.len() >= n, "{text}");
    for line in &invariants {
        assert!(line.ends_with(" 0"), "{line}\n{text}");
    }
    assert!(text.lines().any(|l| l == "result     invariants held"), "{text}");
    // What the load did, and the replays that prove nothing is taken twice.
    assert!(text.lines().any(|l| l.starts_with("answers    /v1/publish: ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("replayed ")), "{text}");
}

#[test]
fn bench_crash_kills_the_key_server_and_loses_nothing() {
    let text = scenario("keyserver", &["--kills", "2"]);
    check_held(&text, 9);
    assert_eq!(text.lines().filter(|l| l.starts_with("event ")).count(), 2, "{text}");
    assert!(text.contains("key server killed"), "{text}");
}

#[test]
fn bench_crash_kills_the_verifier_and_takes_nothing_twice() {
    let text = scenario("verifier", &["--kills", "1"]);
    check_held(&text, 9);
    assert!(text.contains("verifier killed"), "{text}");
}

#[test]
fn bench_crash_keeps_the_gateway_away_and_federation_catches_up() {
    let text = scenario("gateway", &["--gateway-down", "5"]);
    check_held(&text, 9);
    assert!(text.contains("gateway away 5 s"), "{text}");
}

/// PostgreSQL crashed under the services: a cluster of the bench's own; on CI the shared server
/// is the fallback (the scenario must not skip there).
#[test]
fn bench_crash_survives_a_postgres_crash() {
    let admin = herald_db::testing::postgres_admin_url();
    let mut extra = vec!["--outage", "3"];
    if herald_db::testing::in_ci() {
        extra.extend(["--postgres", admin.as_str()]);
    }
    let text = scenario("postgres", &extra);
    if text.contains("SKIPPED") {
        assert!(!herald_db::testing::in_ci(), "{text}");
        eprintln!("SKIPPED: {}", text.trim());
        return;
    }
    check_held(&text, 11);
    assert!(text.contains("PostgreSQL down for 3 s"), "{text}");
}

#[test]
fn bench_crash_checks_its_arguments() {
    check_error(&["bench", "crash", "--apps", "0"], "--apps");
    check_error(&["bench", "crash", "--keys", "13"], "--keys");
    check_error(&["bench", "crash", "--scenario", "nonsense"], "nonsense");
    let help = stdout(&herald(&["bench", "crash", "--help"]));
    for option in ["--scenario", "--kills", "--outage", "--gateway-down", "--postgres"] {
        assert!(help.contains(option), "{option}: {help}");
    }
}
