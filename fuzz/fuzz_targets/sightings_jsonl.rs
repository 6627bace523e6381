#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_gaen::fuzzing::fuzz_sightings_jsonl(data));
