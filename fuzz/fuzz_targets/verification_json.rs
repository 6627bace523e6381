#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_wire::fuzzing::fuzz_verification_json(data));
