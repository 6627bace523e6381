//! The tokens of `STIXPattern.g4` (STIX 2.1), with ANTLR's rule: the longest match wins, and
//! between matches of the same length the rule written first. Whitespace and comments are
//! skipped; any character that starts no token becomes an [`Kind::Invalid`] token, which the
//! parser refuses. Offsets count characters (Unicode scalar values) from the start.
//!
//! Every scan is linear in the input: the places where a naive scanner would rescan the same
//! characters again and again (`'\'\'\'…` without a closing quote, `/*/*/*…` without `*/`, long
//! runs of `0`) remember what they found.

/// What a token is. `TRUE`, `FALSE` and `MINUS` of the grammar never win a match (`BoolLiteral`
/// and `HYPHEN` come first), so they have no kind here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    IntPos,
    IntNeg,
    FloatPos,
    FloatNeg,
    Hex,
    Binary,
    Str,
    Bool,
    Timestamp,
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSuperset,
    IsSubset,
    Exists,
    Last,
    In,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
    IdentWithoutHyphen,
    IdentWithHyphen,
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    Quote,
    Colon,
    Dot,
    Comma,
    RParen,
    LParen,
    RBrack,
    LBrack,
    Plus,
    Hyphen,
    Caret,
    Slash,
    Asterisk,
    Invalid,
    Eof,
}

/// One token: its kind, where it starts (in characters) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) offset: usize,
    pub(crate) text: String,
}

/// The keyword kinds, by spelling (keywords are case-sensitive).
fn keyword(word: &str) -> Option<Kind> {
    Some(match word {
        "AND" => Kind::And,
        "OR" => Kind::Or,
        "NOT" => Kind::Not,
        "FOLLOWEDBY" => Kind::FollowedBy,
        "LIKE" => Kind::Like,
        "MATCHES" => Kind::Matches,
        "ISSUPERSET" => Kind::IsSuperset,
        "ISSUBSET" => Kind::IsSubset,
        "EXISTS" => Kind::Exists,
        "LAST" => Kind::Last,
        "IN" => Kind::In,
        "START" => Kind::Start,
        "STOP" => Kind::Stop,
        "SECONDS" => Kind::Seconds,
        "WITHIN" => Kind::Within,
        "REPEATS" => Kind::Repeats,
        "TIMES" => Kind::Times,
        "true" | "false" => Kind::Bool,
        _ => return None,
    })
}

/// The grammar's `WS` characters.
fn is_ws(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\r'
            | '\n'
            | '\u{0B}'
            | '\u{0C}'
            | '\u{85}'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

fn is_base64(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/'
}

struct Lexer {
    chars: Vec<char>,
    /// A string scan that started before this position found no closing quote, nor will one
    /// that starts at a quote before it.
    string_fails_before: usize,
    /// The start of the last `*/` in the input, if any.
    last_comment_close: Option<usize>,
    /// The last run of digits scanned: `(start, end)`.
    digit_run: (usize, usize),
}

impl Lexer {
    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn is(&self, i: usize, c: char) -> bool {
        self.at(i) == Some(c)
    }

    fn digit(&self, i: usize) -> bool {
        self.at(i).is_some_and(|c| c.is_ascii_digit())
    }

    /// The end of the run of digits starting at `i` (`i` itself if none).
    fn digits_end(&mut self, i: usize) -> usize {
        let (start, end) = self.digit_run;
        if start <= i && i < end {
            return end;
        }
        let mut j = i;
        while self.digit(j) {
            j += 1;
        }
        self.digit_run = (i, j);
        j
    }

    /// `IntPos`, `IntNeg`, `FloatPos` or `FloatNeg` at `i`: (kind, length).
    fn number(&mut self, i: usize) -> Option<(Kind, usize)> {
        let negative = self.is(i, '-');
        let j = if negative || self.is(i, '+') { i + 1 } else { i };
        let run = self.digits_end(j);
        if self.is(run, '.') && self.digit(run + 1) {
            let end = self.digits_end(run + 1);
            let kind = if negative { Kind::FloatNeg } else { Kind::FloatPos };
            return Some((kind, end - i));
        }
        let end = match self.at(j) {
            Some('0') => j + 1,
            Some('1'..='9') => run,
            _ => return None,
        };
        Some((if negative { Kind::IntNeg } else { Kind::IntPos }, end - i))
    }

    /// `'…'` with `\'` and `\\` the only escapes: the length, if it closes.
    fn string(&mut self, i: usize) -> Option<usize> {
        if i < self.string_fails_before {
            return None;
        }
        let mut j = i + 1;
        loop {
            match self.at(j) {
                Some('\'') => return Some(j + 1 - i),
                Some('\\') if matches!(self.at(j + 1), Some('\'' | '\\')) => j += 2,
                Some('\\') | None => {
                    self.string_fails_before = j;
                    return None;
                }
                Some(_) => j += 1,
            }
        }
    }

    /// `h'…'`: pairs of hex digits.
    fn hex(&self, i: usize) -> Option<usize> {
        let mut j = i + 2;
        while self.at(j).is_some_and(|c| c.is_ascii_hexdigit()) {
            j += 1;
        }
        ((j - i - 2).is_multiple_of(2) && self.is(j, '\'')).then_some(j + 1 - i)
    }

    /// `b'…'`: padded Base64, at least one group of four.
    fn binary(&self, i: usize) -> Option<usize> {
        let mut j = i + 2;
        while self.at(j).is_some_and(is_base64) {
            j += 1;
        }
        let mut pad = 0;
        while pad < 2 && self.is(j, '=') {
            j += 1;
            pad += 1;
        }
        let len = j - i - 2;
        (len > 0 && len.is_multiple_of(4) && self.is(j, '\'')).then_some(j + 1 - i)
    }

    /// `t'YYYY-MM-DDTHH:MM:SS(.frac)?Z'` with the grammar's ranges.
    fn timestamp(&mut self, i: usize) -> Option<usize> {
        let c = |k: usize| self.at(i + 2 + k).unwrap_or('\0');
        let d = |k: usize| c(k).is_ascii_digit();
        let year = (0..4).all(d) && c(4) == '-';
        let month = matches!((c(5), c(6)), ('0', '1'..='9') | ('1', '0'..='2')) && c(7) == '-';
        let day =
            matches!((c(8), c(9)), ('0', '1'..='9') | ('1' | '2', '0'..='9') | ('3', '0' | '1'));
        let hour = matches!((c(11), c(12)), ('0' | '1', '0'..='9') | ('2', '0'..='3'));
        let minute = matches!(c(14), '0'..='5') && d(15);
        let second = matches!((c(17), c(18)), ('0'..='5', '0'..='9') | ('6', '0'));
        let seps = c(10) == 'T' && c(13) == ':' && c(16) == ':';
        if !(year && month && day && hour && minute && second && seps) {
            return None;
        }
        let mut j = i + 2 + 19;
        if self.is(j, '.') && self.digit(j + 1) {
            j = self.digits_end(j + 1);
        }
        (self.is(j, 'Z') && self.is(j + 1, '\'')).then_some(j + 2 - i)
    }

    /// Identifiers and keywords at `i`, which holds `[a-zA-Z_]`.
    fn word(&self, i: usize) -> (Kind, usize) {
        let mut plain = i + 1;
        while self.at(plain).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            plain += 1;
        }
        let mut hyphen = plain;
        while self.at(hyphen).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            hyphen += 1;
        }
        if hyphen > plain {
            return (Kind::IdentWithHyphen, hyphen - i);
        }
        let text: String = self.chars.get(i..plain).unwrap_or_default().iter().collect();
        (keyword(&text).unwrap_or(Kind::IdentWithoutHyphen), plain - i)
    }

    /// The length of a comment at `i` (which holds `/`), if one starts there.
    fn comment(&self, i: usize) -> Option<usize> {
        if self.is(i + 1, '/') {
            let mut j = i + 2;
            while self.at(j).is_some_and(|c| c != '\r' && c != '\n') {
                j += 1;
            }
            return Some(j - i);
        }
        if !self.is(i + 1, '*') || self.last_comment_close.is_none_or(|last| last < i + 2) {
            return None;
        }
        let mut j = i + 2;
        while j < self.chars.len() {
            if self.is(j, '*') && self.is(j + 1, '/') {
                return Some(j + 2 - i);
            }
            j += 1;
        }
        None
    }

    /// The token at `i` (`None` for skipped whitespace and comments), and its length.
    fn next(&mut self, i: usize, c: char) -> (Option<Kind>, usize) {
        if matches!(c, '0'..='9' | '+' | '-' | '.')
            && let Some((kind, len)) = self.number(i)
        {
            return (Some(kind), len);
        }
        let quoted = self.is(i + 1, '\'');
        let literal = match c {
            'h' if quoted => self.hex(i).map(|n| (Kind::Hex, n)),
            'b' if quoted => self.binary(i).map(|n| (Kind::Binary, n)),
            't' if quoted => self.timestamp(i).map(|n| (Kind::Timestamp, n)),
            '\'' => self.string(i).map(|n| (Kind::Str, n)),
            _ => None,
        };
        if let Some((kind, len)) = literal {
            return (Some(kind), len);
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let (kind, len) = self.word(i);
            return (Some(kind), len);
        }
        if is_ws(c) {
            let mut j = i + 1;
            while self.at(j).is_some_and(is_ws) {
                j += 1;
            }
            return (None, j - i);
        }
        if c == '/'
            && let Some(len) = self.comment(i)
        {
            return (None, len);
        }
        let next = self.at(i + 1);
        let (kind, len) = match (c, next) {
            ('=', Some('=')) => (Kind::Eq, 2),
            ('=', _) => (Kind::Eq, 1),
            ('!', Some('=')) | ('<', Some('>')) => (Kind::Neq, 2),
            ('<', Some('=')) => (Kind::Le, 2),
            ('<', _) => (Kind::Lt, 1),
            ('>', Some('=')) => (Kind::Ge, 2),
            ('>', _) => (Kind::Gt, 1),
            ('\'', _) => (Kind::Quote, 1),
            (':', _) => (Kind::Colon, 1),
            ('.', _) => (Kind::Dot, 1),
            (',', _) => (Kind::Comma, 1),
            (')', _) => (Kind::RParen, 1),
            ('(', _) => (Kind::LParen, 1),
            (']', _) => (Kind::RBrack, 1),
            ('[', _) => (Kind::LBrack, 1),
            ('+', _) => (Kind::Plus, 1),
            ('-', _) => (Kind::Hyphen, 1),
            ('^', _) => (Kind::Caret, 1),
            ('/', _) => (Kind::Slash, 1),
            ('*', _) => (Kind::Asterisk, 1),
            _ => (Kind::Invalid, 1),
        };
        (Some(kind), len)
    }
}

/// The tokens of `input`, ending with one [`Kind::Eof`] token.
pub(crate) fn tokenize(input: &str) -> Vec<Token> {
    let chars: Vec<char> = input.chars().collect();
    let last_comment_close = chars.windows(2).rposition(|w| w == ['*', '/']);
    let mut lexer = Lexer { chars, string_fails_before: 0, last_comment_close, digit_run: (0, 0) };
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(c) = lexer.at(i) {
        let (kind, len) = lexer.next(i, c);
        let len = len.max(1);
        if let Some(kind) = kind {
            let text = lexer.chars.get(i..i + len).unwrap_or_default().iter().collect();
            tokens.push(Token { kind, offset: i, text });
        }
        i += len;
    }
    tokens.push(Token { kind: Kind::Eof, offset: i, text: "<EOF>".to_owned() });
    tokens
}
