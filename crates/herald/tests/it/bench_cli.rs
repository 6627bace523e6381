//! `herald bench padding`: the European padding simulation, small and fast (one reported day).

use crate::support::{check_error, herald, stderr, stdout};

/// The `ratio <country> <day> <value>` lines of the output.
fn ratios(text: &str) -> Vec<(String, String, f64)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("ratio "))
        .map(|l| {
            let mut words = l.split_whitespace();
            let (country, day) = (words.next().unwrap(), words.next().unwrap());
            (country.to_owned(), day.to_owned(), words.next().unwrap().parse().unwrap())
        })
        .collect()
}

#[test]
fn bench_padding_compares_the_policies_and_the_chosen_one_meets_the_goal() {
    let out = herald(&["bench", "padding", "--compare", "--days", "1", "--seed", "2"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    // The bytes come from real export files, and the output says which figures are modelled.
    assert!(text.contains("herald_wire::export::ExportBuilder"), "{text}");
    assert!(text.contains("calibrated"), "{text}");
    // One summary line per candidate; today's padding reveals a small country's uploads to the
    // gateway, the chosen policy's does not.
    for name in ["today ", "local ", "own-hourly ", "own-daily ", "ladder ", "ladder-by-volume "] {
        assert_eq!(text.lines().filter(|l| l.starts_with(name)).count(), 1, "{name}: {text}");
    }
    let line = |name: &str| text.lines().find(|l| l.starts_with(name)).unwrap().to_owned();
    assert!(line("today ").contains("revealed"), "{text}");
    assert!(line("local ").contains("revealed"), "{text}");
    let chosen = line("ladder-by-volume ");
    assert!(chosen.contains("hidden") && chosen.contains("(chosen)"), "{text}");
    // The chosen policy's tables: 27 countries on a typical and a peak day.
    assert!(text.contains("policy ladder-by-volume (chosen)"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("MT ")).count(), 2, "{text}");
    let ratios = ratios(&text);
    assert_eq!(ratios.len(), 6, "{ratios:?}");
    for (country, day, ratio) in &ratios {
        assert!(*ratio >= 1.0, "{country} {day}: {ratio}");
    }
    let de = ratios.iter().find(|(c, d, _)| c == "DE" && d == "typical").unwrap();
    assert!(de.2 <= 1.2, "{de:?}");
    assert!(text.contains("(goal <= 1.20: met)"), "{text}");
    assert!(
        text.contains("0/1/5 uploads of 13 keys: 144/144/144 (hidden)")
            || text.lines().any(|l| l.starts_with("privacy:") && l.contains("(hidden)")),
        "{text}"
    );
}

#[test]
fn bench_padding_shows_one_policy_and_checks_its_arguments() {
    let out = herald(&["bench", "padding", "--policy", "today", "--days", "1"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("policy today:"), "{text}");
    assert_eq!(ratios(&text).len(), 6, "{text}");
    assert!(text.lines().any(|l| l.starts_with("privacy:") && l.contains("(revealed)")), "{text}");

    let help = stdout(&herald(&["bench", "padding", "--help"]));
    for option in ["--days", "--seed", "--policy", "--compare", "ladder-by-volume"] {
        assert!(help.contains(option), "{option}: {help}");
    }
    check_error(&["bench", "padding", "--days", "0"], "--days");
    check_error(&["bench", "padding", "--policy", "nonsense"], "nonsense");
}

/// `herald bench publish`, small: every app path completes, on SQLite and on PostgreSQL (CI), and
/// the report carries each endpoint's figures next to the baseline's. No timing is asserted.
#[test]
fn bench_publish_runs_the_app_path_and_reports_the_baseline() {
    let pg = herald_db::testing::postgres_admin_url();
    let postgres = herald_db::testing::in_ci();
    let mut args = vec!["bench", "publish", "--apps", "8", "--uploads", "16", "--keys", "3"];
    if postgres {
        args.extend(["--postgres", pg.as_str()]);
    }
    let out = herald(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), if postgres { 2 } else { 1 }, "{report}");
    for result in results {
        for endpoint in ["verify", "certificate", "publish", "chaff_verify", "chaff_publish"] {
            assert_eq!(result[endpoint]["requests"], 16, "{endpoint}: {result}");
            assert!(result[endpoint]["p99_ms"].as_f64().unwrap() > 0.0, "{endpoint}: {result}");
        }
        assert_eq!(result["baseline"]["requests"], 80, "{result}");
    }
    check_error(&["bench", "publish", "--apps", "0"], "--apps");
    check_error(&["bench", "publish", "--keys", "15"], "--keys");
    for bad in ["0", "-3", "NaN", "inf"] {
        let bad = format!("--rate={bad}");
        check_error(&["bench", "publish", &bad], "--rate");
    }
}

/// `herald bench publish --rate`: the open loop starts every path (each a phone of its own) at
/// the offered rate and reports it with the longest wait for a free app. No timing is asserted.
#[test]
fn bench_publish_open_loop_reports_the_offered_rate() {
    let out = herald(&[
        "bench",
        "publish",
        "--apps",
        "4",
        "--uploads",
        "12",
        "--keys",
        "2",
        "--rate",
        "40",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let result = &report["results"][0];
    assert_eq!(result["offered_uploads_per_second"], 40.0, "{result}");
    assert!(result["max_start_delay_ms"].as_f64().unwrap() >= 0.0, "{result}");
    for endpoint in ["verify", "certificate", "publish", "chaff_verify", "chaff_publish"] {
        assert_eq!(result[endpoint]["requests"], 12, "{endpoint}: {result}");
    }
}

/// `herald bench exchange`, small: the exchange runs as a process of its own, every object is
/// posted and read back in pages, and the report carries the baselines. No timing is asserted.
#[test]
fn bench_exchange_posts_reads_back_and_reports_the_baselines() {
    let out =
        herald(&["bench", "exchange", "--objects", "3000", "--batch", "500", "--page", "700"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    let report: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(report["bench"], "exchange", "{report}");
    assert_eq!(report["objects"], 3000, "{report}");
    assert_eq!(report["pages"], 5, "{report}");
    for figure in ["ingest_objects_per_s", "read_objects_per_s", "ingest_ratio", "read_ratio"] {
        assert!(report[figure].as_f64().unwrap() > 0.0, "{figure}: {report}");
    }
    assert!(report["server_peak_rss_kib"].as_u64().unwrap() > 0, "{report}");
    check_error(&["bench", "exchange", "--batch", "0"], "--batch");
}
