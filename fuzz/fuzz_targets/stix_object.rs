#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_stix::fuzzing::fuzz_object(data));
