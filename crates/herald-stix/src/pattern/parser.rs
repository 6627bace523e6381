//! Recursive descent over the tokens, one function per rule of `STIXPattern.g4`; the
//! left-recursive rules become loops that collect the operands of one operator.
//!
//! The first token the grammar cannot take is the error (ANTLR reports the same token, then
//! recovers; any report makes the oracle's verdict "invalid"). Nesting of parentheses and
//! brackets is bounded by [`MAX_DEPTH`](super::MAX_DEPTH), so the stack is too.

use std::collections::HashMap;

use super::MAX_DEPTH;
use super::PatternError;
use super::ast::{
    Comparison, ComparisonExpression, Literal, ObjectPath, ObservationExpression, PathStep,
    Pattern, Qualifier, QualifierKind, Test,
};
use super::check;
use super::lexer::{Kind, Token};

/// The checks made after the grammar, found while parsing and reported in the oracle's order
/// once the whole input is known to be grammatical.
#[derive(Default)]
struct Findings {
    /// The first duplicate qualifier.
    duplicate: Option<PatternError>,
    /// Object types, numbered in the order of their first (non-`EXISTS`) comparison.
    types: HashMap<String, usize>,
    /// Hash errors, with the index of their object type in `types`.
    hashes: Vec<(usize, PatternError)>,
}

pub(crate) struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    depth: usize,
    findings: Findings,
}

type Parsed<T> = Result<T, PatternError>;

fn error(offset: usize, message: impl Into<String>) -> PatternError {
    PatternError { offset, message: message.into() }
}

/// The string inside a `'…'` token, unescaped.
fn unquote(text: &str) -> String {
    let inner = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')).unwrap_or(text);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(escaped) = chars.next()
        {
            out.push(escaped);
        } else {
            out.push(c);
        }
    }
    out
}

/// The text between `x'` and `'` of a hex, binary or timestamp token.
fn body(text: &str) -> String {
    text.get(2..text.len().saturating_sub(1)).unwrap_or_default().to_owned()
}

impl<'t> Parser<'t> {
    pub(crate) fn new(tokens: &'t [Token]) -> Self {
        Self { tokens, pos: 0, depth: 0, findings: Findings::default() }
    }

    /// `pattern : observationExpressions EOF`, then the checks after the grammar.
    pub(crate) fn pattern(mut self) -> Parsed<Pattern> {
        let expression = self.followed_by()?;
        self.expect(Kind::Eof, "<EOF>")?;
        let Findings { duplicate, types: _, mut hashes } = self.findings;
        if let Some(duplicate) = duplicate {
            return Err(duplicate);
        }
        hashes.sort_by_key(|(type_index, _)| *type_index);
        match hashes.into_iter().next() {
            Some((_, hash_error)) => Err(hash_error),
            None => Ok(Pattern { expression }),
        }
    }

    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.pos)
    }

    fn peek_kind(&self) -> Kind {
        self.peek().map_or(Kind::Eof, |t| t.kind)
    }

    /// The error for the current token, which is not one of `expecting`.
    fn unexpected(&self, expecting: &str) -> PatternError {
        match self.peek() {
            Some(token) => error(
                token.offset,
                format!(
                    "mismatched input '{}' expecting {expecting}",
                    crate::error::clip(&token.text)
                ),
            ),
            None => error(0, format!("mismatched input '<EOF>' expecting {expecting}")),
        }
    }

    fn bump(&mut self) -> Option<&'t Token> {
        let token = self.peek();
        self.pos += 1;
        token
    }

    fn accept(&mut self, kind: Kind) -> Option<&'t Token> {
        if self.peek_kind() == kind { self.bump() } else { None }
    }

    fn expect(&mut self, kind: Kind, expecting: &str) -> Parsed<&'t Token> {
        self.accept(kind).ok_or_else(|| self.unexpected(expecting))
    }

    /// The token if it is one of `kinds`.
    fn expect_one_of(&mut self, kinds: &[Kind], expecting: &str) -> Parsed<&'t Token> {
        if kinds.contains(&self.peek_kind()) {
            self.bump().ok_or_else(|| self.unexpected(expecting))
        } else {
            Err(self.unexpected(expecting))
        }
    }

    fn enter(&mut self) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let offset = self.peek().map_or(0, |t| t.offset);
            return Err(error(offset, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// Parses `operand (separator operand)*` into one operand or a list.
    fn list<T>(
        &mut self,
        separator: Kind,
        mut operand: impl FnMut(&mut Self) -> Parsed<T>,
        wrap: impl FnOnce(Vec<T>) -> T,
    ) -> Parsed<T> {
        let mut items = vec![operand(self)?];
        while self.accept(separator).is_some() {
            items.push(operand(self)?);
        }
        if items.len() == 1
            && let Some(item) = items.pop()
        {
            return Ok(item);
        }
        Ok(wrap(items))
    }

    fn followed_by(&mut self) -> Parsed<ObservationExpression> {
        self.list(Kind::FollowedBy, Self::observation_or, ObservationExpression::FollowedBy)
    }

    fn observation_or(&mut self) -> Parsed<ObservationExpression> {
        self.list(Kind::Or, Self::observation_and, ObservationExpression::Or)
    }

    fn observation_and(&mut self) -> Parsed<ObservationExpression> {
        self.list(Kind::And, Self::observation, ObservationExpression::And)
    }

    /// `[ comparisonExpression ] qualifier*` or `( observationExpressions ) qualifier*`.
    fn observation(&mut self) -> Parsed<ObservationExpression> {
        if self.accept(Kind::LBrack).is_some() {
            self.enter()?;
            let comparison = self.comparison_or()?;
            self.expect(Kind::RBrack, "']'")?;
            self.depth -= 1;
            let qualifiers = self.qualifiers(true)?;
            Ok(ObservationExpression::Observation { comparison, qualifiers })
        } else if self.accept(Kind::LParen).is_some() {
            self.enter()?;
            let inner = Box::new(self.followed_by()?);
            self.expect(Kind::RParen, "')'")?;
            self.depth -= 1;
            let qualifiers = self.qualifiers(false)?;
            Ok(ObservationExpression::Group { inner, qualifiers })
        } else {
            Err(self.unexpected("{'[', '('}"))
        }
    }

    /// The qualifiers after an observation; on a `[…]` observation (`simple`) each kind once.
    fn qualifiers(&mut self, simple: bool) -> Parsed<Vec<Qualifier>> {
        let mut qualifiers: Vec<Qualifier> = Vec::new();
        let mut seen: Vec<QualifierKind> = Vec::with_capacity(3);
        while let Some(keyword) = self.peek() {
            let qualifier = match keyword.kind {
                Kind::Within => {
                    self.bump();
                    let n = self.expect_one_of(
                        &[Kind::IntPos, Kind::FloatPos],
                        "{IntPosLiteral, FloatPosLiteral}",
                    )?;
                    self.expect(Kind::Seconds, "'SECONDS'")?;
                    Qualifier::Within(n.text.clone())
                }
                Kind::Repeats => {
                    self.bump();
                    let n = self.expect(Kind::IntPos, "IntPosLiteral")?;
                    self.expect(Kind::Times, "'TIMES'")?;
                    Qualifier::Repeats(n.text.clone())
                }
                Kind::Start => {
                    self.bump();
                    let start = self.expect(Kind::Timestamp, "TimestampLiteral")?;
                    self.expect(Kind::Stop, "'STOP'")?;
                    let stop = self.expect(Kind::Timestamp, "TimestampLiteral")?;
                    Qualifier::StartStop { start: body(&start.text), stop: body(&stop.text) }
                }
                _ => break,
            };
            let kind = qualifier.kind();
            let repeated = seen.contains(&kind);
            if !repeated {
                seen.push(kind);
            }
            if simple && repeated && self.findings.duplicate.is_none() {
                self.findings.duplicate = Some(error(
                    keyword.offset,
                    format!("duplicate qualifier type encountered: {}", kind.as_str()),
                ));
            }
            qualifiers.push(qualifier);
        }
        Ok(qualifiers)
    }

    fn comparison_or(&mut self) -> Parsed<ComparisonExpression> {
        self.list(Kind::Or, Self::comparison_and, ComparisonExpression::Or)
    }

    fn comparison_and(&mut self) -> Parsed<ComparisonExpression> {
        self.list(Kind::And, Self::prop_test, ComparisonExpression::And)
    }

    /// `propTest`: a comparison, `[NOT] EXISTS path`, or `( comparisonExpression )`.
    fn prop_test(&mut self) -> Parsed<ComparisonExpression> {
        if self.accept(Kind::LParen).is_some() {
            self.enter()?;
            let inner = self.comparison_or()?;
            self.expect(Kind::RParen, "')'")?;
            self.depth -= 1;
            return Ok(ComparisonExpression::Group(Box::new(inner)));
        }
        // `NOT? EXISTS objectPath`: the grammar of stix2-patterns 2.1.2 takes `NOT` here too.
        let not_exists = self.peek_kind() == Kind::Not
            && self.tokens.get(self.pos + 1).is_some_and(|t| t.kind == Kind::Exists);
        if not_exists {
            self.bump();
        }
        if self.accept(Kind::Exists).is_some() {
            let path = self.object_path()?;
            return Ok(ComparisonExpression::Comparison(Comparison::Exists {
                path,
                negated: not_exists,
            }));
        }
        if self.peek_kind() == Kind::Not {
            self.bump();
            return Err(self.unexpected("'EXISTS'"));
        }
        let path = self.object_path()?;
        let negated = self.accept(Kind::Not).is_some();
        let operator = self.peek_kind();
        let value_offset = self.tokens.get(self.pos + 1).map_or(0, |t| t.offset);
        let test = match operator {
            Kind::Eq => {
                self.bump();
                Test::Eq(self.literal(true)?)
            }
            Kind::Neq => {
                self.bump();
                Test::Ne(self.literal(true)?)
            }
            Kind::Lt | Kind::Le | Kind::Gt | Kind::Ge => {
                self.bump();
                let literal = self.literal(false)?;
                match operator {
                    Kind::Lt => Test::Lt(literal),
                    Kind::Le => Test::Le(literal),
                    Kind::Gt => Test::Gt(literal),
                    _ => Test::Ge(literal),
                }
            }
            Kind::In => {
                self.bump();
                Test::In(self.set()?)
            }
            Kind::Like | Kind::Matches | Kind::IsSubset | Kind::IsSuperset => {
                self.bump();
                let s = unquote(&self.expect(Kind::Str, "StringLiteral")?.text);
                match operator {
                    Kind::Like => Test::Like(s),
                    Kind::Matches => Test::Matches(s),
                    Kind::IsSubset => Test::IsSubset(s),
                    _ => Test::IsSuperset(s),
                }
            }
            _ => {
                const OPERATORS: &str = "'=', '!=', '<', '<=', '>', '>=', 'IN', 'LIKE', \
                                         'MATCHES', 'ISSUBSET', 'ISSUPERSET'";
                let not = if negated { "" } else { "'NOT', " };
                return Err(self.unexpected(&format!("{{{not}{OPERATORS}}}")));
            }
        };
        self.record(&path, &test, value_offset);
        Ok(ComparisonExpression::Comparison(Comparison::Test { path, negated, test }))
    }

    /// Notes the object type's order and any hash error of one comparison.
    fn record(&mut self, path: &ObjectPath, test: &Test, value_offset: usize) {
        let findings = &mut self.findings;
        let next = findings.types.len();
        let type_index = *findings.types.entry(path.object_type.clone()).or_insert(next);
        if let Some(message) = check::hash_error(path, &test.value_text()) {
            findings.hashes.push((type_index, error(value_offset, message)));
        }
    }

    /// `objectType : firstPathComponent objectPathComponent*`
    fn object_path(&mut self) -> Parsed<ObjectPath> {
        let object_type = self
            .expect_one_of(&[Kind::IdentWithoutHyphen, Kind::IdentWithHyphen], "an object type")?
            .text
            .clone();
        self.expect(Kind::Colon, "':'")?;
        let property = self.name()?;
        let mut steps = Vec::new();
        loop {
            if self.accept(Kind::Dot).is_some() {
                steps.push(PathStep::Key(self.name()?));
            } else if self.accept(Kind::LBrack).is_some() {
                let index = self.expect_one_of(
                    &[Kind::IntPos, Kind::IntNeg, Kind::Asterisk],
                    "{IntPosLiteral, IntNegLiteral, '*'}",
                )?;
                steps.push(if index.kind == Kind::Asterisk {
                    PathStep::AnyIndex
                } else {
                    PathStep::Index(index.text.clone())
                });
                self.expect(Kind::RBrack, "']'")?;
            } else {
                break;
            }
        }
        Ok(ObjectPath { object_type, property, steps })
    }

    /// A property name: `IdentifierWithoutHyphen` or a string.
    fn name(&mut self) -> Parsed<String> {
        let token = self.expect_one_of(
            &[Kind::IdentWithoutHyphen, Kind::Str],
            "{IdentifierWithoutHyphen, StringLiteral}",
        )?;
        Ok(if token.kind == Kind::Str { unquote(&token.text) } else { token.text.clone() })
    }

    /// `primitiveLiteral` (with booleans) or `orderableLiteral` (without).
    fn literal(&mut self, primitive: bool) -> Parsed<Literal> {
        let expecting = "a literal";
        let token = self.peek().ok_or_else(|| self.unexpected(expecting))?;
        let literal = match token.kind {
            Kind::IntPos | Kind::IntNeg => Literal::Int(token.text.clone()),
            Kind::FloatPos | Kind::FloatNeg => Literal::Float(token.text.clone()),
            Kind::Str => Literal::String(unquote(&token.text)),
            Kind::Bool if primitive => Literal::Bool(token.text == "true"),
            Kind::Binary => Literal::Binary(body(&token.text)),
            Kind::Hex => Literal::Hex(body(&token.text)),
            Kind::Timestamp => Literal::Timestamp(body(&token.text)),
            _ => return Err(self.unexpected(expecting)),
        };
        self.bump();
        Ok(literal)
    }

    /// `setLiteral : ( ) | ( primitiveLiteral (, primitiveLiteral)* )`
    fn set(&mut self) -> Parsed<Vec<Literal>> {
        self.expect(Kind::LParen, "'('")?;
        let mut items = Vec::new();
        if self.accept(Kind::RParen).is_some() {
            return Ok(items);
        }
        loop {
            items.push(self.literal(true)?);
            if self.accept(Kind::RParen).is_some() {
                return Ok(items);
            }
            self.expect(Kind::Comma, "{',', ')'}")?;
        }
    }
}
