//! Replays the committed fuzz corpus on stable, in every test run.

#[test]
fn stix_pattern_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("stix_pattern") {
        herald_stix::fuzzing::fuzz_pattern(&bytes);
    }
}

#[test]
fn taxii_cursor_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("taxii_cursor") {
        herald_stix::fuzzing::fuzz_cursor(&bytes);
    }
}

#[test]
fn taxii_query_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("taxii_query") {
        herald_stix::fuzzing::fuzz_query(&bytes);
    }
}

#[test]
fn stix_object_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("stix_object") {
        herald_stix::fuzzing::fuzz_object(&bytes);
    }
}

#[test]
fn taxii_post_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("taxii_post") {
        herald_stix::fuzzing::fuzz_post(&bytes);
    }
}
