#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_wire::fuzzing::fuzz_publish_json(data));
