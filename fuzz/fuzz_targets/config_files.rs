#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    herald_gateway::fuzzing::fuzz_config(data);
    herald_keyserver::fuzzing::fuzz_config(data);
    herald_verifier::fuzzing::fuzz_config(data);
});
