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

/// One STIX object: validation never panics, and what it accepts is kept byte for byte and
/// holds together (its id of its type, its version, recipients only on TLP:RED).
pub fn fuzz_object(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(raw) = serde_json::from_str::<&serde_json::value::RawValue>(text) else { return };
    if let Ok(valid) = crate::object::validate(0, raw, &crate::json::Limits::default()) {
        assert_eq!(valid.raw.get(), text.trim_matches(|c| " \t\n\r".contains(c)));
        assert_eq!(valid.id.kind(), valid.kind);
        assert_eq!(valid.version, valid.modified.or(valid.created));
        assert!(valid.recipients.is_empty() || valid.tlp == crate::tlp::Tlp::Red);
    }
}

/// A TAXII POST body: splitting never panics, nor does validating each object, and each
/// refusal carries the object's position.
pub fn fuzz_post(data: &[u8]) {
    let limits = crate::json::Limits { max_objects: 1000, ..crate::json::Limits::default() };
    let Ok(post) = crate::envelope::parse_post(data, &limits) else { return };
    for (index, raw) in post.objects.iter().enumerate() {
        match crate::object::validate(index, raw, &limits) {
            Ok(valid) => assert!(std::ptr::eq(valid.raw, *raw)),
            Err(rejection) => assert_eq!(rejection.index, index),
        }
    }
}
