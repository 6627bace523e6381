//! Entry points for the `fuzz/` targets; each must never panic on any input.

/// `sightings.jsonl` parsing.
pub fn fuzz_sightings_jsonl(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(sightings) = crate::sightings::parse(text) {
        for s in &sightings {
            let again = crate::sightings::parse_line(&crate::sightings::to_line(s), 1);
            assert_eq!(again.as_ref().ok(), Some(s), "sightings round trip");
        }
    }
}

/// Risk configuration parsing.
pub fn fuzz_risk_config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::scoring::ScoringConfig::from_json(text);
    }
}
