//! Replays the committed fuzz corpus on stable, in every test run.

#[test]
fn keys_json_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("keys_json") {
        herald_wire::fuzzing::fuzz_keys_json(&bytes);
    }
}
