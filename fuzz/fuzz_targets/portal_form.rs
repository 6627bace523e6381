#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_verifier::fuzzing::fuzz_portal_form(data));
