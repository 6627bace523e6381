//! The syntax tree of a STIX 2.1 pattern, its canonical text ([`Display`]) and the inspection
//! accessors (what `stix2patterns`' `Pattern.inspect()` reports).
//!
//! The tree keeps the parentheses of the source (they change what a qualifier applies to), and
//! the text of numbers as written. [`Display`] prints the tree as it is, without adding
//! parentheses: `parse(&pattern.to_string())` gives the same tree back for every tree that
//! [`parse`](super::parse) returns, and for every hand-built tree that keeps the invariants
//! documented on each type (the operands of `AND` are single observations or groups, and so on).

use std::collections::BTreeSet;
use std::fmt::{self, Display, Formatter, Write as _};

/// A parsed pattern: one observation expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The whole expression.
    pub expression: ObservationExpression,
}

/// Observation expressions, from the loosest binding: `FOLLOWEDBY`, `OR`, `AND`, then single
/// observations and parenthesised groups with their qualifiers.
///
/// Invariants (what [`parse`](super::parse) produces): the lists hold two or more operands;
/// `FollowedBy` operands are not `FollowedBy`; `Or` operands are neither `FollowedBy` nor `Or`;
/// `And` operands are `Observation` or `Group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservationExpression {
    /// `[ comparisons ]` with the qualifiers written directly after it.
    Observation {
        /// The comparisons between the brackets.
        comparison: ComparisonExpression,
        /// `WITHIN`, `REPEATS` and `START … STOP`, in source order.
        qualifiers: Vec<Qualifier>,
    },
    /// `( expression )` with the qualifiers written after the closing parenthesis.
    Group {
        /// The expression between the parentheses.
        inner: Box<ObservationExpression>,
        /// `WITHIN`, `REPEATS` and `START … STOP`, in source order.
        qualifiers: Vec<Qualifier>,
    },
    /// `a AND b AND …`
    And(Vec<ObservationExpression>),
    /// `a OR b OR …`
    Or(Vec<ObservationExpression>),
    /// `a FOLLOWEDBY b FOLLOWEDBY …`
    FollowedBy(Vec<ObservationExpression>),
}

/// A qualifier of an observation expression; numbers and timestamps are kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS` (a positive integer or decimal, e.g. `300`, `10.3`).
    Within(String),
    /// `REPEATS n TIMES` (a positive integer).
    Repeats(String),
    /// `START t'…' STOP t'…'` (the timestamps without `t'` and `'`).
    StartStop {
        /// The start timestamp, e.g. `2016-06-01T01:30:00.123Z`.
        start: String,
        /// The stop timestamp.
        stop: String,
    },
}

/// The three kinds of qualifier; each may appear once directly on a `[…]` observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QualifierKind {
    /// `WITHIN`
    Within,
    /// `REPEATS`
    Repeats,
    /// `START … STOP`
    StartStop,
}

/// The operators between observation expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObservationOperator {
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `FOLLOWEDBY`
    FollowedBy,
}

/// Comparison expressions inside `[ ]`: `OR` binds looser than `AND`.
///
/// Invariants: the lists hold two or more operands; `Or` operands are not `Or`; `And` operands
/// are `Comparison` or `Group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComparisonExpression {
    /// One comparison.
    Comparison(Comparison),
    /// `( expression )`
    Group(Box<ComparisonExpression>),
    /// `a AND b AND …`
    And(Vec<ComparisonExpression>),
    /// `a OR b OR …`
    Or(Vec<ComparisonExpression>),
}

/// One comparison of an object property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// `path [NOT] operator value`
    Test {
        /// The property compared.
        path: ObjectPath,
        /// Whether `NOT` precedes the operator.
        negated: bool,
        /// The operator and its operand.
        test: Test,
    },
    /// `[NOT] EXISTS path`
    Exists {
        /// The property tested.
        path: ObjectPath,
        /// Whether `NOT` precedes `EXISTS`.
        negated: bool,
    },
}

/// An operator with its operand. `=` and `!=` take any literal; the order operators any but a
/// boolean; `IN` a set; the others a string (kept unescaped here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// `=` (also written `==`)
    Eq(Literal),
    /// `!=` (also written `<>`)
    Ne(Literal),
    /// `<`
    Lt(Literal),
    /// `<=`
    Le(Literal),
    /// `>`
    Gt(Literal),
    /// `>=`
    Ge(Literal),
    /// `IN ( … )`
    In(Vec<Literal>),
    /// `LIKE '…'`
    Like(String),
    /// `MATCHES '…'`
    Matches(String),
    /// `ISSUBSET '…'`
    IsSubset(String),
    /// `ISSUPERSET '…'`
    IsSuperset(String),
}

/// `object-type:property` followed by `.key`, `.'quoted key'`, `[n]` or `[*]` steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPath {
    /// The object type (letters, digits, `_`, `-`; not a keyword).
    pub object_type: String,
    /// The first property name (unquoted and unescaped).
    pub property: String,
    /// The further steps.
    pub steps: Vec<PathStep>,
}

/// One step of an object path after the first property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// `.name` or `.'quoted name'` (kept unquoted and unescaped).
    Key(String),
    /// `[n]`, an integer as written (`0`, `-1`, `+2`).
    Index(String),
    /// `[*]`
    AnyIndex,
}

/// A literal operand. Numbers, binary, hex and timestamps keep their text as written (without
/// the `b'`, `h'`, `t'` and `'`); strings are unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// An integer, e.g. `1280`, `-5`, `+3`.
    Int(String),
    /// A decimal, e.g. `7.0`, `-.5`.
    Float(String),
    /// A string, unescaped.
    String(String),
    /// `true` or `false`.
    Bool(bool),
    /// `b'…'`: padded Base64.
    Binary(String),
    /// `h'…'`: hex digits, an even number of them.
    Hex(String),
    /// `t'…'`: `YYYY-MM-DDTHH:MM:SS(.frac)Z`.
    Timestamp(String),
}

/// One comparison as `Pattern.inspect()` lists it: the object type, the path (first property
/// then the steps), the operator with `NOT ` if negated, and the value's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComparisonSummary {
    /// The object type.
    pub object_type: String,
    /// The first property as a [`PathStep::Key`], then the further steps.
    pub path: Vec<PathStep>,
    /// E.g. `=`, `NOT >`, `ISSUBSET` (`=` and `!=` in their canonical spelling).
    pub operator: String,
    /// The literal's text, e.g. `1`, `'abc'`, `(1,2,3)`, `h'ff'`.
    pub value: String,
}

/// The keywords, which are never bare names.
const KEYWORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "FOLLOWEDBY",
    "LIKE",
    "MATCHES",
    "ISSUPERSET",
    "ISSUBSET",
    "EXISTS",
    "LAST",
    "IN",
    "START",
    "STOP",
    "SECONDS",
    "true",
    "false",
    "WITHIN",
    "REPEATS",
    "TIMES",
];

/// Whether `word` is a keyword (or `true`/`false`) of the pattern language.
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// Whether `name` can be written as a bare property name (`IdentifierWithoutHyphen`).
fn is_bare_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !is_keyword(name)
}

/// Writes `'s'` with `\` and `'` escaped.
fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        if c == '\\' || c == '\'' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('\'')
}

/// Writes a property name bare when it can be, quoted otherwise.
fn write_name(f: &mut Formatter<'_>, name: &str) -> fmt::Result {
    if is_bare_name(name) { f.write_str(name) } else { write_quoted(f, name) }
}

fn write_joined<T: Display>(f: &mut Formatter<'_>, items: &[T], sep: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

fn write_qualifiers(f: &mut Formatter<'_>, qualifiers: &[Qualifier]) -> fmt::Result {
    qualifiers.iter().try_for_each(|q| write!(f, " {q}"))
}

impl Display for Pattern {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.expression.fmt(f)
    }
}

impl Display for ObservationExpression {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Observation { comparison, qualifiers } => {
                write!(f, "[{comparison}]")?;
                write_qualifiers(f, qualifiers)
            }
            Self::Group { inner, qualifiers } => {
                write!(f, "({inner})")?;
                write_qualifiers(f, qualifiers)
            }
            Self::And(items) => write_joined(f, items, " AND "),
            Self::Or(items) => write_joined(f, items, " OR "),
            Self::FollowedBy(items) => write_joined(f, items, " FOLLOWEDBY "),
        }
    }
}

impl Display for Qualifier {
    /// The text `Pattern.inspect()` gives: `WITHIN 5 SECONDS`, `REPEATS 2 TIMES`,
    /// `START t'…' STOP t'…'`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Within(n) => write!(f, "WITHIN {n} SECONDS"),
            Self::Repeats(n) => write!(f, "REPEATS {n} TIMES"),
            Self::StartStop { start, stop } => write!(f, "START t'{start}' STOP t'{stop}'"),
        }
    }
}

impl Qualifier {
    /// Which kind of qualifier this is.
    pub fn kind(&self) -> QualifierKind {
        match self {
            Self::Within(_) => QualifierKind::Within,
            Self::Repeats(_) => QualifierKind::Repeats,
            Self::StartStop { .. } => QualifierKind::StartStop,
        }
    }
}

impl QualifierKind {
    /// The name the oracle's messages use: `WITHIN`, `REPEATS`, `STARTSTOP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Within => "WITHIN",
            Self::Repeats => "REPEATS",
            Self::StartStop => "STARTSTOP",
        }
    }
}

impl ObservationOperator {
    /// The keyword: `AND`, `OR`, `FOLLOWEDBY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::And => "AND",
            Self::Or => "OR",
            Self::FollowedBy => "FOLLOWEDBY",
        }
    }
}

impl Display for ComparisonExpression {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Comparison(c) => c.fmt(f),
            Self::Group(inner) => write!(f, "({inner})"),
            Self::And(items) => write_joined(f, items, " AND "),
            Self::Or(items) => write_joined(f, items, " OR "),
        }
    }
}

impl Display for Comparison {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exists { path, negated } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "{not}EXISTS {path}")
            }
            Self::Test { path, negated, test } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "{path} {not}{} {}", test.operator(), test.value_text())
            }
        }
    }
}

impl Test {
    /// The operator keyword or symbol (`=`, `!=`, `<`, …, `IN`, `LIKE`, …).
    pub fn operator(&self) -> &'static str {
        match self {
            Self::Eq(_) => "=",
            Self::Ne(_) => "!=",
            Self::Lt(_) => "<",
            Self::Le(_) => "<=",
            Self::Gt(_) => ">",
            Self::Ge(_) => ">=",
            Self::In(_) => "IN",
            Self::Like(_) => "LIKE",
            Self::Matches(_) => "MATCHES",
            Self::IsSubset(_) => "ISSUBSET",
            Self::IsSuperset(_) => "ISSUPERSET",
        }
    }

    /// The operand's text as `Pattern.inspect()` gives it: the literal's tokens without spaces.
    pub fn value_text(&self) -> String {
        match self {
            Self::Eq(l) | Self::Ne(l) | Self::Lt(l) | Self::Le(l) | Self::Gt(l) | Self::Ge(l) => {
                l.to_string()
            }
            Self::In(items) => {
                let mut text = String::from("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    let _ = write!(text, "{item}");
                }
                text.push(')');
                text
            }
            Self::Like(s) | Self::Matches(s) | Self::IsSubset(s) | Self::IsSuperset(s) => {
                let mut text = String::new();
                let _ = write_quoted(&mut text, s);
                text
            }
        }
    }
}

impl Display for ObjectPath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        write_name(f, &self.property)?;
        self.steps.iter().try_for_each(|step| step.fmt(f))
    }
}

impl Display for PathStep {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(name) => {
                f.write_char('.')?;
                write_name(f, name)
            }
            Self::Index(n) => write!(f, "[{n}]"),
            Self::AnyIndex => f.write_str("[*]"),
        }
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) | Self::Float(n) => f.write_str(n),
            Self::String(s) => write_quoted(f, s),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Binary(b) => write!(f, "b'{b}'"),
            Self::Hex(h) => write!(f, "h'{h}'"),
            Self::Timestamp(t) => write!(f, "t'{t}'"),
        }
    }
}

impl Pattern {
    /// Every qualifier, in source order (`Pattern.inspect().qualifiers` as a list).
    pub fn qualifiers(&self) -> Vec<&Qualifier> {
        let mut out = Vec::new();
        self.expression.visit(&mut |e| match e {
            ObservationExpression::Observation { qualifiers, .. }
            | ObservationExpression::Group { qualifiers, .. } => out.extend(qualifiers.iter()),
            _ => {}
        });
        out
    }

    /// The observation operators used (`Pattern.inspect().observation_ops`).
    pub fn observation_operators(&self) -> BTreeSet<ObservationOperator> {
        let mut out = BTreeSet::new();
        self.expression.visit(&mut |e| match e {
            ObservationExpression::And(_) => {
                out.insert(ObservationOperator::And);
            }
            ObservationExpression::Or(_) => {
                out.insert(ObservationOperator::Or);
            }
            ObservationExpression::FollowedBy(_) => {
                out.insert(ObservationOperator::FollowedBy);
            }
            _ => {}
        });
        out
    }

    /// Every comparison except `EXISTS`, in source order (`Pattern.inspect().comparisons`,
    /// before grouping by object type).
    pub fn comparisons(&self) -> Vec<ComparisonSummary> {
        let mut out = Vec::new();
        self.expression.visit(&mut |e| {
            if let ObservationExpression::Observation { comparison, .. } = e {
                comparison.summarise(&mut out);
            }
        });
        out
    }
}

impl ObservationExpression {
    /// Calls `f` on this expression and every expression inside it, in source order.
    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Self)) {
        f(self);
        match self {
            Self::Observation { .. } => {}
            Self::Group { inner, .. } => inner.visit(f),
            Self::And(items) | Self::Or(items) | Self::FollowedBy(items) => {
                for item in items {
                    item.visit(f);
                }
            }
        }
    }
}

impl ComparisonExpression {
    fn summarise(&self, out: &mut Vec<ComparisonSummary>) {
        match self {
            Self::Comparison(Comparison::Test { path, negated, test }) => {
                out.push(ComparisonSummary::new(path, *negated, test));
            }
            Self::Comparison(Comparison::Exists { .. }) => {}
            Self::Group(inner) => inner.summarise(out),
            Self::And(items) | Self::Or(items) => items.iter().for_each(|i| i.summarise(out)),
        }
    }
}

impl ComparisonSummary {
    pub(crate) fn new(path: &ObjectPath, negated: bool, test: &Test) -> Self {
        let mut steps = Vec::with_capacity(path.steps.len() + 1);
        steps.push(PathStep::Key(path.property.clone()));
        steps.extend(path.steps.iter().cloned());
        let not = if negated { "NOT " } else { "" };
        Self {
            object_type: path.object_type.clone(),
            path: steps,
            operator: format!("{not}{}", test.operator()),
            value: test.value_text(),
        }
    }
}
