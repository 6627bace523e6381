//! The pattern parser against the oracle (`stix2-patterns` 2.1.2 verdicts in the shared test
//! data), the inspector cases, the canonical text's round trip, and never panicking.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use herald_stix::pattern::{
    Comparison, ComparisonExpression, Literal, ObjectPath, ObservationExpression, PathStep,
    Pattern, Qualifier, Test, parse,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn testdata() -> Value {
    serde_json::from_slice(&herald_testkit::read_testdata(
        "exchange/stix-patterns/patterns-v21.json",
    ))
    .expect("patterns-v21.json is JSON")
}

/// The text between the first pair of single quotes after `prefix`.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    let rest = &rest[rest.find('\'')? + 1..];
    Some(&rest[..rest.rfind('\'')?])
}

#[test]
fn every_case_gets_the_oracles_verdict() {
    let data = testdata();
    let cases = data["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 87);
    let mut disagreements = Vec::new();
    for case in cases {
        let pattern = case["pattern"].as_str().unwrap();
        let expected = case["oracle_valid"].as_bool().unwrap();
        let got = parse(pattern);
        if got.is_ok() != expected {
            disagreements.push(format!("{pattern:?}: oracle {expected}, we {got:?}"));
        }
    }
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), {
        disagreements.join("\n")
    });
}

/// Our first error means what the oracle's first error means: the same check, and for syntax
/// errors the same offending token at the same place.
#[test]
fn errors_mean_what_the_oracles_mean() {
    let data = testdata();
    let mut compared = 0;
    for case in data["cases"].as_array().unwrap() {
        let Some(oracle) = case["oracle_first_error"].as_str() else { continue };
        let pattern = case["pattern"].as_str().unwrap();
        let ours = parse(pattern).expect_err(pattern);
        let oracle = oracle.strip_prefix("FAIL: ").unwrap();
        if let Some(syntax) = oracle.strip_prefix("Error found at line 1:") {
            let (column, what) = syntax.split_once(". ").unwrap();
            assert_eq!(ours.offset, column.parse::<usize>().unwrap(), "{pattern}: {ours}");
            if what == "input is missing square brackets" {
                assert_eq!(ours.message, what);
            } else {
                let their_token = ["input", "at"]
                    .iter()
                    .find_map(|p| quoted_after(what, &format!(" {p} ")))
                    .unwrap_or_else(|| panic!("no token in {what}"));
                let our_token = quoted_after(&ours.message, "input")
                    .and_then(|t| t.split("' expecting").next())
                    .unwrap();
                let their_token = their_token.split("' expecting").next().unwrap();
                assert!(
                    their_token.ends_with(our_token),
                    "{pattern}: oracle {oracle:?}, we {ours}"
                );
            }
        } else {
            assert!(
                ours.message.eq_ignore_ascii_case(oracle),
                "{pattern}: oracle {oracle}, we {ours}"
            );
        }
        compared += 1;
    }
    assert_eq!(compared, 27);
}

#[test]
fn every_spec_example_parses_and_round_trips() {
    let text = String::from_utf8(herald_testkit::read_testdata(
        "exchange/stix-patterns/spec_examples_v21.txt",
    ))
    .unwrap();
    let examples: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert_eq!(examples.len(), 23);
    for example in examples {
        let pattern = parse(example).unwrap_or_else(|e| panic!("{example}: {e}"));
        assert_eq!(parse(&pattern.to_string()).as_ref(), Ok(&pattern), "{example}");
    }
}

fn path_json(path: &[PathStep]) -> Value {
    path.iter()
        .map(|step| match step {
            PathStep::Key(name) => json!(name),
            PathStep::Index(n) => json!(n.trim_start_matches('+').parse::<i64>().unwrap()),
            PathStep::AnyIndex => json!({"index_star": true}),
        })
        .collect()
}

#[test]
fn inspector_cases() {
    let data = testdata();
    let entries = data["inspector"].as_array().unwrap();
    assert_eq!(entries.len(), 19);
    for entry in entries {
        let text = entry["pattern"].as_str().unwrap();
        let pattern = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        if let Some(expected) = entry.get("expected_qualifiers") {
            let ours: BTreeSet<String> =
                pattern.qualifiers().iter().map(ToString::to_string).collect();
            let theirs: BTreeSet<String> = expected
                .as_array()
                .unwrap()
                .iter()
                .map(|q| q.as_str().unwrap().to_owned())
                .collect();
            assert_eq!(ours, theirs, "{text}");
        }
        if let Some(expected) = entry.get("expected_obs_ops") {
            let ours: BTreeSet<&str> =
                pattern.observation_operators().iter().map(|o| o.as_str()).collect();
            let theirs: BTreeSet<&str> =
                expected.as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
            assert_eq!(ours, theirs, "{text}");
        }
        if let Some(expected) = entry.get("expected_comparisons") {
            let mut ours: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for c in pattern.comparisons() {
                ours.entry(c.object_type).or_default().push(json!([
                    path_json(&c.path),
                    c.operator,
                    c.value
                ]));
            }
            assert_eq!(json!(ours), *expected, "{text}");
        }
    }
}

/// Cases beyond the oracle's test lists, each checked against the grammar and validator source.
#[test]
fn edge_cases() {
    let valid = [
        "(([a:b = 1]))",
        " \u{a0}( [a:b = 1] )",
        "[a:b = 1] /* c */ AND // d\n [c:d = 2]",
        "[a:b=1]AND[c:d=2]",
        "[x:y == 1] OR [x:y <> 1]",
        "[EXISTS x:y AND NOT EXISTS x:z]",
        "[x:y = true AND x:z != false]",
        "[x:y IN ()]",
        "[x:y IN (1, 'a', true, h'', b'YQ==', t'2020-02-30T23:59:60.5Z')]",
        "[x:y = 00.7]",
        "[x:y = -.5 AND x:z < +3 AND x:w >= -0]",
        "[x-y-:a = 1]",
        "[x:'a-b'.'AND'.c[*][+1][-2] = 1]",
        "[file:hashes.MD5 = 'CEAD3F77F6CDA6EC00F57D76C9A6879F']",
        "[file:hashes.'x-custom' = 'f00']",
        "[file:hashes[0] = 'f00']",
        "[a:b = 1] REPEATS 99999999999999999999999 TIMES",
        "([a:b = 1]) WITHIN 1 SECONDS WITHIN 2 SECONDS WITHIN 3 SECONDS",
        "[a:b = 1] WITHIN 1 SECONDS REPEATS 2 TIMES START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:01Z'",
        "[a:b = 'it\\'s \\\\ here']",
    ];
    for text in valid {
        let pattern: Pattern = text.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(parse(&pattern.to_string()).as_ref(), Ok(&pattern), "{text:?}");
    }
    let invalid = [
        ("", 0),
        ("/**/[a:b = 1]", 0),
        ("\u{1c}[a:b = 1]", 0),
        ("[a:b = 1] AND", 13),
        ("[x:y = 007]", 8),
        ("[x:a.2 = 1]", 4),
        ("[x:a-b = 1]", 3),
        ("[NOT x:y = 1]", 5),
        ("[x:y NOT EXISTS]", 9),
        ("[x:y > true]", 7),
        ("[x:y = b'']", 7),
        ("[x:y = h'abc']", 7),
        ("[x:y = t'2020-01-01T00:00:61Z']", 7),
        ("[x:y = 'a\\b']", 7),
        ("[AND:y = 1]", 1),
        ("[x:y = 1] WITHIN 0x1 SECONDS", 18),
        ("[x:y = 1] REPEATS 1.5 TIMES", 18),
        ("[x:y = 1] and [x:y = 2]", 10),
        ("[file:hashes.md5 = 'x']", 19),
        ("[file:hashes.MD5 IN ('cead3f77f6cda6ec00f57d76c9a6879f')]", 20),
        ("[a:b = 1] REPEATS 1 TIMES REPEATS 2 TIMES", 26),
    ];
    for (text, offset) in invalid {
        let error = parse(text).expect_err(text);
        assert_eq!(error.offset, offset, "{text:?}: {error}");
    }
}

#[test]
fn nesting_is_bounded() {
    let nested = |n: usize| format!("{}[a:b = 1]{}", "(".repeat(n), ")".repeat(n));
    assert!(parse(&nested(63)).is_ok());
    let error = parse(&nested(100_000)).unwrap_err();
    assert!(error.message.contains("nesting"), "{error}");
    let comparisons = |n: usize| format!("[{}a:b = 1{}]", "(".repeat(n), ")".repeat(n));
    assert!(parse(&comparisons(63)).is_ok());
    assert!(parse(&comparisons(100_000)).is_err());
}

/// Inputs that a naive scanner would rescan quadratically finish quickly.
#[test]
fn scanning_is_linear() {
    let n = 200_000;
    for input in [
        format!("[a:b = '{}]", "\\'".repeat(n)),
        format!("[a:b = {}]", "/*".repeat(n)),
        format!("[a:b = {}]", "0".repeat(n)),
        format!("[a:b = {}]", "h'".repeat(n)),
        format!("[{}]", "a:b = 1 AND ".repeat(n / 10) + "a:b = 1"),
        (1..n / 10).fold("[a0:b = 1".to_owned(), |mut s, i| {
            let _ = write!(s, " OR a{i}:b = 1");
            s
        }) + "]",
        format!("[a:b = 1]{}", " WITHIN 1 SECONDS".repeat(n / 10)),
        format!("([a:b = 1]){}", " WITHIN 1 SECONDS".repeat(n / 10)),
    ] {
        let start = std::time::Instant::now();
        let _ = parse(&input);
        assert!(start.elapsed().as_secs() < 5, "{} took {:?}", &input[..20], start.elapsed());
    }
}

// ---- property tests ----------------------------------------------------------------------

fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,6}".prop_map(|s| if is_reserved(&s) { format!("{s}_") } else { s })
}

fn is_reserved(s: &str) -> bool {
    s == "hashes" || herald_stix::pattern::is_keyword(s)
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![ident(), "[a-z '\\\\.\\[\\]-]{0,6}".prop_filter("not hashes", |s| s != "hashes")]
}

fn object_path() -> impl Strategy<Value = ObjectPath> {
    let step = prop_oneof![
        name().prop_map(PathStep::Key),
        "[+-]?(0|[1-9][0-9]{0,3})".prop_map(PathStep::Index),
        Just(PathStep::AnyIndex),
    ];
    (
        "[a-z_][a-z0-9_-]{0,8}".prop_map(|s| if is_reserved(&s) { format!("{s}x") } else { s }),
        name(),
        prop::collection::vec(step, 0..4),
    )
        .prop_map(|(object_type, property, steps)| ObjectPath { object_type, property, steps })
}

fn timestamp() -> impl Strategy<Value = String> {
    "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,6})?Z"
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        "[+-]?(0|[1-9][0-9]{0,25})".prop_map(Literal::Int),
        "[+-]?[0-9]{0,4}\\.[0-9]{1,4}".prop_map(Literal::Float),
        any::<String>().prop_map(Literal::String),
        "['\\\\a ]{0,6}".prop_map(Literal::String),
        any::<bool>().prop_map(Literal::Bool),
        "([A-Za-z0-9+/]{4}){0,2}([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)"
            .prop_map(Literal::Binary),
        "([0-9a-fA-F]{2}){0,4}".prop_map(Literal::Hex),
        timestamp().prop_map(Literal::Timestamp),
    ]
}

fn orderable() -> impl Strategy<Value = Literal> {
    literal().prop_map(|l| if matches!(l, Literal::Bool(_)) { Literal::Int("1".into()) } else { l })
}

fn test() -> impl Strategy<Value = Test> {
    prop_oneof![
        literal().prop_map(Test::Eq),
        literal().prop_map(Test::Ne),
        orderable().prop_map(Test::Lt),
        orderable().prop_map(Test::Le),
        orderable().prop_map(Test::Gt),
        orderable().prop_map(Test::Ge),
        prop::collection::vec(literal(), 0..4).prop_map(Test::In),
        any::<String>().prop_map(Test::Like),
        any::<String>().prop_map(Test::Matches),
        any::<String>().prop_map(Test::IsSubset),
        any::<String>().prop_map(Test::IsSuperset),
    ]
}

fn comparison() -> impl Strategy<Value = Comparison> {
    prop_oneof![
        4 => (object_path(), any::<bool>(), test())
            .prop_map(|(path, negated, test)| Comparison::Test { path, negated, test }),
        1 => (object_path(), any::<bool>())
            .prop_map(|(path, negated)| Comparison::Exists { path, negated }),
    ]
}

/// Wraps `e` in parentheses unless it may stand as an operand of `AND` (`level` 2) or `OR` (1).
fn comparison_operand(e: ComparisonExpression, level: u8) -> ComparisonExpression {
    let fits = match &e {
        ComparisonExpression::Or(_) => false,
        ComparisonExpression::And(_) => level < 2,
        _ => true,
    };
    if fits { e } else { ComparisonExpression::Group(Box::new(e)) }
}

fn comparison_expression() -> impl Strategy<Value = ComparisonExpression> {
    comparison().prop_map(ComparisonExpression::Comparison).prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| ComparisonExpression::Group(Box::new(e))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| ComparisonExpression::And(
                v.into_iter().map(|e| comparison_operand(e, 2)).collect()
            )),
            prop::collection::vec(inner, 2..4).prop_map(|v| ComparisonExpression::Or(
                v.into_iter().map(|e| comparison_operand(e, 1)).collect()
            )),
        ]
    })
}

fn qualifier() -> impl Strategy<Value = Qualifier> {
    prop_oneof![
        "\\+?([1-9][0-9]{0,3}|[0-9]{0,2}\\.[0-9]{1,3})".prop_map(Qualifier::Within),
        "\\+?(0|[1-9][0-9]{0,3})".prop_map(Qualifier::Repeats),
        (timestamp(), timestamp()).prop_map(|(start, stop)| Qualifier::StartStop { start, stop }),
    ]
}

/// Wraps `e` in parentheses unless it may stand as an operand at `level` (3 `AND`, 2 `OR`,
/// 1 `FOLLOWEDBY`).
fn observation_operand(e: ObservationExpression, level: u8) -> ObservationExpression {
    let own = match &e {
        ObservationExpression::FollowedBy(_) => 0,
        ObservationExpression::Or(_) => 1,
        ObservationExpression::And(_) => 2,
        _ => 3,
    };
    if own >= level {
        e
    } else {
        ObservationExpression::Group { inner: Box::new(e), qualifiers: vec![] }
    }
}

pub(crate) fn observation_expression() -> impl Strategy<Value = ObservationExpression> {
    let leaf = (comparison_expression(), prop::collection::vec(qualifier(), 0..4)).prop_map(
        |(comparison, qualifiers)| {
            // One qualifier of each kind directly on an observation.
            let mut seen = Vec::new();
            let qualifiers = qualifiers
                .into_iter()
                .filter(|q| {
                    !seen.contains(&q.kind()) && {
                        seen.push(q.kind());
                        true
                    }
                })
                .collect();
            ObservationExpression::Observation { comparison, qualifiers }
        },
    );
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            (inner.clone(), prop::collection::vec(qualifier(), 0..3)).prop_map(
                |(e, qualifiers)| ObservationExpression::Group { inner: Box::new(e), qualifiers }
            ),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| ObservationExpression::And(
                v.into_iter().map(|e| observation_operand(e, 3)).collect()
            )),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| ObservationExpression::Or(
                v.into_iter().map(|e| observation_operand(e, 2)).collect()
            )),
            prop::collection::vec(inner, 2..4).prop_map(|v| ObservationExpression::FollowedBy(
                v.into_iter().map(|e| observation_operand(e, 1)).collect()
            )),
        ]
    })
}

/// Pieces of pattern text, for inputs nearer the grammar than arbitrary strings.
pub(crate) fn token_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("["),
        Just("]"),
        Just("("),
        Just(")"),
        Just("a:b"),
        Just("x-y:'q'"),
        Just(".c"),
        Just("[*]"),
        Just("[0]"),
        Just("="),
        Just("!="),
        Just("<="),
        Just("NOT"),
        Just("IN"),
        Just("LIKE"),
        Just("EXISTS"),
        Just("AND"),
        Just("OR"),
        Just("FOLLOWEDBY"),
        Just("1"),
        Just("-2.5"),
        Just("'s'"),
        Just("true"),
        Just("h'ff'"),
        Just("b'YQ=='"),
        Just(","),
        Just("t'2020-01-01T00:00:00Z'"),
        Just("WITHIN 5 SECONDS"),
        Just("REPEATS 2 TIMES"),
        Just("START"),
        Just("STOP"),
        Just("hashes"),
        Just(".MD5"),
        Just("/*"),
        Just("*/"),
        Just("//"),
        Just("\n"),
        Just("'"),
        Just("\\"),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.join(" "))
}

proptest! {
    #[test]
    fn display_parses_back_to_the_same_tree(expression in observation_expression()) {
        let pattern = Pattern { expression };
        let text = pattern.to_string();
        prop_assert_eq!(parse(&text), Ok(pattern), "{}", text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        herald_stix::fuzzing::fuzz_pattern(text.as_bytes());
    }

    #[test]
    fn token_soup_never_panics_and_round_trips(text in token_soup()) {
        herald_stix::fuzzing::fuzz_pattern(text.as_bytes());
        let bracketed = format!("[{text}]");
        herald_stix::fuzzing::fuzz_pattern(bracketed.as_bytes());
    }
}
