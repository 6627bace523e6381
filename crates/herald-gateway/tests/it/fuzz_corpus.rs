//! Replays the committed corpus of the `config_files` fuzz target through the gateway's
//! configuration on stable, in every test run.

#[test]
fn config_files_corpus() {
    for (_, bytes) in herald_testkit::fuzz_corpus("config_files") {
        herald_gateway::fuzzing::fuzz_config(&bytes);
    }
}

proptest::proptest! {
    /// Configuration text shaped like TOML, with overrides after a NUL, never panics.
    #[test]
    fn configurations_never_panic(text in r#"([a-z_\[\]]{1,12}( = )?("[a-z0-9:./]{0,12}"|[0-9]{1,4}|true|\[\]|\{\})?\n){0,8}(\x00[A-Z_]{1,12}=[a-z0-9"\[\]]{0,8}\n){0,3}"#) {
        herald_gateway::fuzzing::fuzz_config(text.as_bytes());
    }
}
