#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| herald_gaen::fuzzing::fuzz_risk_config(data));
