//! Replays the committed corpus of the `config_files` fuzz target through the key server's
//! configuration on stable, in every test run.

#[test]
fn config_files_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("config_files") {
        herald_keyserver::fuzzing::fuzz_config(&bytes);
    }
}

#[test]
fn the_example_seeds_are_valid() {
    for (name, bytes) in herald_testkit::fuzz_corpus("config_files") {
        if name.starts_with("keyserver_example") {
            let text = String::from_utf8(bytes).unwrap();
            let config = herald_keyserver::config::KeyserverConfig::from_toml(&text, []);
            assert!(config.is_ok(), "{name}: {config:?}");
        }
    }
}
