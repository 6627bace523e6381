//! STIX 2.1 Patterning (STIX 2.1 part 9): the parser, the syntax tree and its canonical text.
//!
//! [`parse`] accepts exactly what the reference validator accepts, `stix2-patterns` 2.1.2
//! (`stix2patterns.validator.validate(p, stix_version="2.1")`): the ANTLR grammar
//! `STIXPattern.g4` of STIX 2.1 as generated into that release (which also takes
//! `NOT EXISTS path`; keywords upper case and case-sensitive, `true`/`false` lower
//! case, strict `t'…'` timestamps, padded Base64 in `b'…'`, an even number of digits in `h'…'`,
//! `/* */` and `//` comments), then the validator's own checks: the pattern must start with `[`
//! after any whitespace and `(`; a qualifier type at most once directly on one `[…]`
//! observation; the values compared with `hashes.<algorithm>` well-formed for that algorithm
//! (see `check`).
//!
//! Where we differ from the oracle, on purpose:
//! - nesting deeper than [`MAX_DEPTH`] parentheses and brackets is refused (the oracle has no
//!   limit but Python's recursion limit);
//! - a `hashes` path ending in an integer index (`file:hashes[0] = 'x'`) and a negative index
//!   anywhere in a path (`x:y[-1] = 1`) are accepted: the grammar allows them and the oracle
//!   raises an exception instead of giving a verdict (as it does for an empty pattern, which we
//!   refuse);
//! - [`Pattern::comparisons`] spells `==` as `=` and `<>` as `!=`;
//! - error messages quote at most 100 characters of the input.
//!
//! A differential test against the oracle itself (ignored unless Python with stix2-patterns
//! 2.1.2 is at hand; see `tests/it/oracle.rs`) compares verdicts, the offsets of syntax errors
//! and the other checks' messages on thousands of inputs.
//!
//! The parser never panics, on any input, and takes time linear in the input's length
//! (property-tested and fuzzed, see `fuzzing`).

mod ast;
mod check;
mod lexer;
mod parser;

pub use ast::{
    Comparison, ComparisonExpression, ComparisonSummary, Literal, ObjectPath,
    ObservationExpression, ObservationOperator, PathStep, Pattern, Qualifier, QualifierKind, Test,
    is_keyword,
};

/// The deepest nesting of parentheses and brackets [`parse`] takes.
pub const MAX_DEPTH: usize = 64;

/// Why a pattern was refused: where (in characters from the start) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {offset}: {message}")]
pub struct PatternError {
    /// The offset of the offending token, in characters (Unicode scalar values) from the start.
    pub offset: usize,
    /// What was wrong, e.g. `mismatched input ']' expecting a literal`.
    pub message: String,
}

/// Parses a STIX 2.1 pattern, with the checks the reference validator makes after the grammar.
///
/// The first error is reported, in the oracle's order: missing square brackets, then the first
/// token the grammar cannot take, then a duplicate qualifier, then a malformed hash value.
///
/// ```
/// use herald_stix::pattern::parse;
///
/// let pattern = parse("[file:size>1024 AND file:name = 'a.exe']  WITHIN 5 SECONDS")?;
/// assert_eq!(pattern.to_string(), "[file:size > 1024 AND file:name = 'a.exe'] WITHIN 5 SECONDS");
/// let error = parse("[file:size > 1024] WITHIN 5 HOURS").unwrap_err();
/// assert_eq!(error.to_string(), "at character 28: mismatched input 'HOURS' expecting 'SECONDS'");
/// # Ok::<(), herald_stix::pattern::PatternError>(())
/// ```
pub fn parse(pattern: &str) -> Result<Pattern, PatternError> {
    if !check::has_square_brackets(pattern) {
        return Err(PatternError { offset: 0, message: "input is missing square brackets".into() });
    }
    let tokens = lexer::tokenize(pattern);
    parser::Parser::new(&tokens).pattern()
}

impl std::str::FromStr for Pattern {
    type Err = PatternError;

    /// [`parse`].
    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        parse(pattern)
    }
}
