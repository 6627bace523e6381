//! Replays the committed fuzz corpus on stable, in every test run.

#[test]
fn sightings_jsonl_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("sightings_jsonl") {
        herald_gaen::fuzzing::fuzz_sightings_jsonl(&bytes);
    }
}

#[test]
fn risk_config_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("risk_config") {
        herald_gaen::fuzzing::fuzz_risk_config(&bytes);
    }
}
