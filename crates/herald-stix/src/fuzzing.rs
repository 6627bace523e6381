//! Entry points for the `fuzz/` targets; each must never panic on any input.

/// STIX patterns: parsing never panics, and what parses prints as text that parses back to the
/// same tree.
pub fn fuzz_pattern(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(pattern) = crate::pattern::parse(text)
    {
        let again = crate::pattern::parse(&pattern.to_string());
        assert_eq!(again.as_ref(), Ok(&pattern), "pattern round trip of {text:?}");
        let _ = (pattern.qualifiers(), pattern.observation_operators(), pattern.comparisons());
    }
}
