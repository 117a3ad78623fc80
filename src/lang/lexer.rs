//! The lexer: expression text to tokens. A token is a kind plus a byte span
//! into the expression; text is sliced from the source when needed, so tokens
//! cost nothing to copy. All lexical errors of an expression are collected.

use super::ir::Span;

/// The unit written after a window's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowUnit {
    Days,
    Months,
    Years,
}

impl WindowUnit {
    pub fn suffix(self) -> &'static str {
        match self {
            WindowUnit::Days => "d",
            WindowUnit::Months => "mo",
            WindowUnit::Years => "y",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tok {
    Num(f64),
    /// A quoted string; the text is the span without its quotes.
    Str,
    /// `[A-Za-z_][A-Za-z0-9_]*` that is not a keyword.
    Ident,
    /// `kind.name`: an identifier, a dot, then `[A-Za-z0-9_]+`, no spaces.
    /// `dot` is the byte offset of the dot within the token.
    Path {
        dot: u32,
    },
    Window(u32, WindowUnit),
    And,
    Or,
    Not,
    Between,
    In,
    Is,
    Null,
    True,
    False,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    LParen,
    RParen,
    Comma,
    Eof,
}

impl Tok {
    /// How the token is named in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Tok::Num(_) => "a number",
            Tok::Str => "a string",
            Tok::Ident => "a name",
            Tok::Path { .. } => "a value set",
            Tok::Window(..) => "a window",
            Tok::And => "`and`",
            Tok::Or => "`or`",
            Tok::Not => "`not`",
            Tok::Between => "`between`",
            Tok::In => "`in`",
            Tok::Is => "`is`",
            Tok::Null => "`null`",
            Tok::True => "`true`",
            Tok::False => "`false`",
            Tok::Eq => "`==`",
            Tok::Ne => "`!=`",
            Tok::Lt => "`<`",
            Tok::Le => "`<=`",
            Tok::Gt => "`>`",
            Tok::Ge => "`>=`",
            Tok::Plus => "`+`",
            Tok::Minus => "`-`",
            Tok::Star => "`*`",
            Tok::Slash => "`/`",
            Tok::LParen => "`(`",
            Tok::RParen => "`)`",
            Tok::Comma => "`,`",
            Tok::Eof => "the end of the expression",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// A lexical error, with a span in the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub code: &'static str,
    pub span: Span,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

pub const KEYWORDS: [&str; 9] = [
    "and", "or", "not", "between", "in", "is", "null", "true", "false",
];

fn keyword(word: &str) -> Option<Tok> {
    Some(match word {
        "and" => Tok::And,
        "or" => Tok::Or,
        "not" => Tok::Not,
        "between" => Tok::Between,
        "in" => Tok::In,
        "is" => Tok::Is,
        "null" => Tok::Null,
        "true" => Tok::True,
        "false" => Tok::False,
        _ => return None,
    })
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `s` is a name an expression can refer to (`[A-Za-z_][A-Za-z0-9_]*`,
/// not a keyword).
pub fn is_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_ident_start(b[0])
        && b.iter().all(|&c| is_ident_char(c))
        && keyword(s).is_none()
}

fn span(start: usize, end: usize) -> Span {
    Span {
        start: start as u32,
        end: end as u32,
    }
}

/// Splits an expression into tokens (ending with [`Tok::Eof`]) and collects every
/// lexical error.
pub fn lex(src: &str) -> (Vec<Token>, Vec<LexError>) {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let single = match b {
            b'+' => Some(Tok::Plus),
            b'-' => Some(Tok::Minus),
            b'*' => Some(Tok::Star),
            b'/' => Some(Tok::Slash),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(tok) = single {
            i += 1;
            tokens.push(Token {
                tok,
                span: span(start, i),
            });
            continue;
        }
        let next = bytes.get(i + 1).copied();
        let two = match (b, next) {
            (b'=', Some(b'=')) => Some(Tok::Eq),
            (b'!', Some(b'=')) => Some(Tok::Ne),
            (b'<', Some(b'=')) => Some(Tok::Le),
            (b'>', Some(b'=')) => Some(Tok::Ge),
            _ => None,
        };
        if let Some(tok) = two {
            i += 2;
            tokens.push(Token {
                tok,
                span: span(start, i),
            });
            continue;
        }
        match b {
            b'<' | b'>' => {
                i += 1;
                let tok = if b == b'<' { Tok::Lt } else { Tok::Gt };
                tokens.push(Token {
                    tok,
                    span: span(start, i),
                });
            }
            b'\'' | b'"' => {
                let close = src[i + 1..].find(b as char);
                match close {
                    Some(len) => {
                        i += len + 2;
                        tokens.push(Token {
                            tok: Tok::Str,
                            span: span(start, i),
                        });
                    }
                    None => {
                        errors.push(LexError {
                            code: "E0102",
                            span: span(start, src.len()),
                            message: "unterminated string".into(),
                            label: "this string has no closing quote".into(),
                            help: Some(format!(
                                "close it with {}; strings have no escapes, so use the other quote kind for a string containing {}",
                                b as char, b as char
                            )),
                        });
                        i = src.len();
                    }
                }
            }
            b'0'..=b'9' => {
                i = lex_number(src, i, &mut tokens, &mut errors);
            }
            _ if is_ident_start(b) => {
                while i < bytes.len() && is_ident_char(bytes[i]) {
                    i += 1;
                }
                let word = &src[start..i];
                if i + 1 < bytes.len() && bytes[i] == b'.' && is_ident_char(bytes[i + 1]) {
                    let dot = i - start;
                    i += 1;
                    while i < bytes.len() && is_ident_char(bytes[i]) {
                        i += 1;
                    }
                    tokens.push(Token {
                        tok: Tok::Path { dot: dot as u32 },
                        span: span(start, i),
                    });
                } else {
                    tokens.push(Token {
                        tok: keyword(word).unwrap_or(Tok::Ident),
                        span: span(start, i),
                    });
                }
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                i += ch.len_utf8();
                let help = match ch {
                    '=' => Some("compare with `==`".to_string()),
                    '!' => Some("write `not x` for negation and `!=` for inequality".into()),
                    '&' => Some("write `and`".into()),
                    '|' => Some("write `or`".into()),
                    '.' => Some(
                        "numbers need a digit before the dot (`0.5`); a value set is written `kind.name` without spaces"
                            .into(),
                    ),
                    _ => None,
                };
                errors.push(LexError {
                    code: "E0101",
                    span: span(start, i),
                    message: if ch.is_whitespace() || ch.is_control() {
                        format!("unexpected character {:?}", ch)
                    } else {
                        format!("unexpected character `{ch}`")
                    },
                    label: "not part of the language".into(),
                    help,
                });
            }
        }
    }
    tokens.push(Token {
        tok: Tok::Eof,
        span: span(src.len(), src.len()),
    });
    (tokens, errors)
}

/// Lexes a number or a window starting at `start`; returns the end offset.
fn lex_number(
    src: &str,
    start: usize,
    tokens: &mut Vec<Token>,
    errors: &mut Vec<LexError>,
) -> usize {
    let bytes = src.as_bytes();
    let mut i = start;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let int_end = i;
    let mut fraction = false;
    if i < bytes.len() && bytes[i] == b'.' {
        if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            fraction = true;
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        } else {
            errors.push(LexError {
                code: "E0103",
                span: span(start, i + 1),
                message: "malformed number".into(),
                label: "a dot must be followed by digits".into(),
                help: Some(format!(
                    "write `{}` or `{}.0`",
                    &src[start..i],
                    &src[start..i]
                )),
            });
            return i + 1;
        }
    }
    let num_end = i;
    if i < bytes.len() && is_ident_char(bytes[i]) {
        // A window, or a number glued to a name: both end at the end of the word.
        while i < bytes.len() && is_ident_char(bytes[i]) {
            i += 1;
        }
        let suffix = &src[num_end..i];
        let unit = match suffix {
            "d" => Some(WindowUnit::Days),
            "mo" => Some(WindowUnit::Months),
            "y" => Some(WindowUnit::Years),
            _ => None,
        };
        let whole = &src[start..i];
        let error = |label: String, help: String| LexError {
            code: "E0104",
            span: span(start, i),
            message: format!("invalid window `{whole}`"),
            label,
            help: Some(help),
        };
        match unit {
            None => {
                let hint = match suffix {
                    "m" => "`m` is ambiguous: write `mo` for months (`12mo`)".to_string(),
                    "w" => format!(
                        "weeks are not a unit: write days (`{}d`)",
                        src[start..num_end].parse::<u64>().map_or(7, |n| n * 7)
                    ),
                    _ => "a window is a whole number followed by `d`, `mo` or `y` (`30d`, `6mo`, `2y`)"
                        .to_string(),
                };
                errors.push(error(format!("`{suffix}` is not a window unit"), hint));
            }
            Some(_) if fraction => errors.push(error(
                "a window is a whole number".into(),
                "write months or days instead: `18mo` rather than `1.5y`".into(),
            )),
            Some(unit) => {
                let count = src[start..int_end]
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| unit != WindowUnit::Years || n.checked_mul(12).is_some());
                match count {
                    Some(n) => tokens.push(Token {
                        tok: Tok::Window(n, unit),
                        span: span(start, i),
                    }),
                    None => errors.push(error(
                        "this window is too long".into(),
                        "windows are limited to 4294967295 days or months".into(),
                    )),
                }
            }
        }
        return i;
    }
    // Only digits and at most one dot: always a valid f64, infinite only for
    // absurdly long literals.
    let value = src[start..num_end].parse::<f64>().unwrap_or(f64::INFINITY);
    if value.is_infinite() {
        errors.push(LexError {
            code: "E0103",
            span: span(start, num_end),
            message: "number too large".into(),
            label: "beyond the range of a 64-bit float".into(),
            help: None,
        });
        return num_end;
    }
    tokens.push(Token {
        tok: Tok::Num(value),
        span: span(start, num_end),
    });
    num_end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        let (t, e) = lex(src);
        assert!(e.is_empty(), "{src}: {e:?}");
        t.into_iter().map(|t| t.tok).collect()
    }

    fn error_codes(src: &str) -> Vec<&'static str> {
        lex(src).1.into_iter().map(|e| e.code).collect()
    }

    #[test]
    fn tokens() {
        assert_eq!(
            kinds("has(dx.e11, 12mo) and x>=3.5"),
            vec![
                Tok::Ident,
                Tok::LParen,
                Tok::Path { dot: 2 },
                Tok::Comma,
                Tok::Window(12, WindowUnit::Months),
                Tok::RParen,
                Tok::And,
                Tok::Ident,
                Tok::Ge,
                Tok::Num(3.5),
                Tok::Eof
            ]
        );
        assert_eq!(kinds("AND"), vec![Tok::Ident, Tok::Eof]);
        assert_eq!(kinds("lab.25oh"), vec![Tok::Path { dot: 3 }, Tok::Eof]);
        assert_eq!(kinds("'a\"b'"), vec![Tok::Str, Tok::Eof]);
        assert_eq!(
            kinds("0d 2y"),
            vec![
                Tok::Window(0, WindowUnit::Days),
                Tok::Window(2, WindowUnit::Years),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn errors_are_all_collected() {
        assert_eq!(error_codes("12m + 2w + 1.5y + 1e5"), vec!["E0104"; 4]);
        assert_eq!(error_codes("a = b & c"), vec!["E0101", "E0101"]);
        assert_eq!(error_codes(".5"), vec!["E0101"]);
        assert_eq!(error_codes("1. + 2"), vec!["E0103"]);
        assert_eq!(error_codes("'abc"), vec!["E0102"]);
        assert_eq!(error_codes("99999999999y"), vec!["E0104"]);
    }
}
