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

/// TAXII `next` cursors: opening any text never panics, a cursor that opens is the one
/// [`crate::taxii::cursor::seal`] writes for its position, and sealed positions open again.
pub fn fuzz_cursor(data: &[u8]) {
    use crate::taxii::cursor::{Binding, CursorKey, Position, open, seal};
    use crate::taxii::query::Endpoint;
    let key = CursorKey::new([7; 32]);
    let binding = Binding {
        org: 1,
        endpoint: Endpoint::Objects,
        collection: "collection",
        object: None,
        filters: "match[version]=last\n",
    };
    let text = String::from_utf8_lossy(data);
    if let Ok(position) = open(&key, &text, &binding) {
        assert_eq!(seal(&key, position, &binding), text, "a cursor that opens is canonical");
    }
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.iter_mut().zip(data.iter().skip(at)).for_each(|(b, d)| *b = *d);
        i64::from_be_bytes(bytes)
    };
    let position =
        Position { date_added: crate::timestamp::StixTime::from_micros(word(0)), seq: word(8) };
    assert_eq!(open(&key, &seal(&key, position, &binding), &binding), Ok(position));
}

/// TAXII query strings: parsing never panics, and accepted filters written back as a query
/// string parse to the same filters.
pub fn fuzz_query(data: &[u8]) {
    use crate::taxii::query::{Endpoint, VersionFilter, parse};
    let Some((&selector, rest)) = data.split_first() else { return };
    let endpoint = match selector % 4 {
        0 => Endpoint::Objects,
        1 => Endpoint::Manifest,
        2 => Endpoint::Object,
        _ => Endpoint::Versions,
    };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let Ok(filters) = parse(Some(text), endpoint) else { return };
    let mut pairs = Vec::new();
    if let Some(after) = filters.added_after {
        pairs.push(format!("added_after={}", after.to_rfc3339_micros()));
    }
    for (name, values) in
        [("id", &filters.ids), ("type", &filters.types), ("spec_version", &filters.spec_versions)]
    {
        if !values.is_empty() {
            pairs.push(format!("match[{name}]={}", values.join(",")));
        }
    }
    let versions = match &filters.versions {
        VersionFilter::All => "all".to_owned(),
        VersionFilter::Select { first, last, at } => {
            let mut parts: Vec<String> = at.iter().map(|t| t.to_rfc3339_micros()).collect();
            if *first {
                parts.push("first".to_owned());
            }
            if *last {
                parts.push("last".to_owned());
            }
            parts.join(",")
        }
    };
    if filters.versions_given {
        pairs.push(format!("match[version]={versions}"));
    }
    let again = parse(Some(&pairs.join("&")), endpoint);
    let mut want = filters;
    (want.limit, want.next) = (None, None);
    assert_eq!(again.as_ref(), Ok(&want), "query round trip of {text:?}");
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
