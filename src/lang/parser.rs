//! The parser: tokens to [`ast::Expr`] by precedence climbing.
//!
//! Binding strengths, loosest first: `or` · `and` · `not` · comparisons
//! (`== != < <= > >=`, `between`, `in`, `is [not] null`) · `+ -` · `* /` ·
//! unary `-`. Binary operators are left-associative; comparisons are
//! non-associative (a second comparison right after one is error E0106). A
//! syntax error ends the parse of that expression (the other expressions of
//! the library are still parsed and checked).

use super::ast::{BinOp, Expr, ExprKind, prec};
use super::ir::{ArithOp, CmpOp, Span};
use super::lexer::{Tok, Token};

/// A syntax error, with a span in the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub code: &'static str,
    pub span: Span,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

struct Parser<'a> {
    src: &'a str,
    tokens: &'a [Token],
    pos: usize,
}

type PResult<T> = Result<T, SyntaxError>;

/// The longest expression accepted, in tokens. Bounds the depth of the trees
/// every later stage walks recursively (a realistic criterion has under 100).
pub const MAX_TOKENS: usize = 1000;

fn join(a: Span, b: Span) -> Span {
    Span {
        start: a.start.min(b.start),
        end: a.end.max(b.end),
    }
}

/// Parses a whole expression from its tokens (which end with `Eof`).
pub fn parse(src: &str, tokens: &[Token]) -> Result<Expr, SyntaxError> {
    if tokens.len() - 1 > MAX_TOKENS {
        return Err(SyntaxError {
            code: "E0107",
            span: Span {
                start: 0,
                end: src.len() as u32,
            },
            message: format!(
                "expression too long: {} tokens, at most {MAX_TOKENS}",
                tokens.len() - 1
            ),
            label: "this expression".into(),
            help: Some("split it into named definitions in a [define] table".into()),
        });
    }
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
    };
    let e = p.expr(prec::OR)?;
    let t = p.peek();
    if t.tok != Tok::Eof {
        return Err(p.unexpected(t, "an operator or the end of the expression"));
    }
    Ok(e)
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Token {
        self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn text(&self, span: Span) -> &'a str {
        &self.src[span.start as usize..span.end as usize]
    }

    fn unexpected(&self, t: Token, expected: &str) -> SyntaxError {
        let found = match t.tok {
            Tok::Eof => t.tok.describe().to_string(),
            _ => format!("`{}`", self.text(t.span)),
        };
        if t.tok == Tok::Ident {
            // `AND` where an operator belongs: an unknown name, as the spec says.
            let text = self.text(t.span);
            let lower = text.to_lowercase();
            if super::lexer::KEYWORDS.contains(&lower.as_str()) {
                return SyntaxError {
                    code: "E0201",
                    span: t.span,
                    message: format!("unknown name `{text}`"),
                    label: format!("expected {expected}"),
                    help: Some(format!("keywords are lower case: write `{lower}`")),
                };
            }
        }
        SyntaxError {
            code: "E0105",
            span: t.span,
            message: format!("expected {expected}, found {found}"),
            label: format!("expected {expected}"),
            help: None,
        }
    }

    fn expect(&mut self, tok: Tok, expected: &str) -> PResult<Token> {
        let t = self.peek();
        if t.tok == tok {
            Ok(self.bump())
        } else {
            Err(self.unexpected(t, expected))
        }
    }

    /// Parses an expression whose operators all bind at least as tightly as `min`.
    fn expr(&mut self, min: u8) -> PResult<Expr> {
        let mut lhs = self.prefix(min)?;
        let mut compared = false;
        loop {
            let t = self.peek();
            let op = match t.tok {
                Tok::Or => Some(BinOp::Or),
                Tok::And => Some(BinOp::And),
                Tok::Eq => Some(BinOp::Cmp(CmpOp::Eq)),
                Tok::Ne => Some(BinOp::Cmp(CmpOp::Ne)),
                Tok::Lt => Some(BinOp::Cmp(CmpOp::Lt)),
                Tok::Le => Some(BinOp::Cmp(CmpOp::Le)),
                Tok::Gt => Some(BinOp::Cmp(CmpOp::Gt)),
                Tok::Ge => Some(BinOp::Cmp(CmpOp::Ge)),
                Tok::Plus => Some(BinOp::Arith(ArithOp::Add)),
                Tok::Minus => Some(BinOp::Arith(ArithOp::Sub)),
                Tok::Star => Some(BinOp::Arith(ArithOp::Mul)),
                Tok::Slash => Some(BinOp::Arith(ArithOp::Div)),
                _ => None,
            };
            let p = match (op, t.tok) {
                (Some(op), _) => op.prec(),
                (None, Tok::Between | Tok::In | Tok::Is) => prec::CMP,
                _ => break,
            };
            if p < min {
                break;
            }
            if p == prec::CMP {
                if compared {
                    return Err(SyntaxError {
                        code: "E0106",
                        span: t.span,
                        message: "comparisons do not chain".into(),
                        label: "a second comparison after a comparison".into(),
                        help: Some(
                            "combine two comparisons with `and` (`1 < a and a < 3`), or use `between`"
                                .into(),
                        ),
                    });
                }
                compared = true;
            }
            self.bump();
            lhs = match (op, t.tok) {
                (Some(op), _) => {
                    let rhs = self.expr(p + 1)?;
                    Expr {
                        span: join(lhs.span, rhs.span),
                        kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                    }
                }
                (None, Tok::Between) => {
                    let lo = self.expr(prec::ADD)?;
                    self.expect(Tok::And, "`and` between the bounds of `between`")?;
                    let hi = self.expr(prec::ADD)?;
                    Expr {
                        span: join(lhs.span, hi.span),
                        kind: ExprKind::Between(Box::new(lhs), Box::new(lo), Box::new(hi)),
                    }
                }
                (None, Tok::In) => {
                    self.expect(Tok::LParen, "`(` opening the list of `in`")?;
                    let (items, close) = self.list()?;
                    if items.is_empty() {
                        return Err(SyntaxError {
                            code: "E0105",
                            span: close,
                            message: "expected at least one value in the list of `in`".into(),
                            label: "empty list".into(),
                            help: None,
                        });
                    }
                    Expr {
                        span: join(lhs.span, close),
                        kind: ExprKind::In(Box::new(lhs), items),
                    }
                }
                _ => {
                    // `is [not] null`
                    let negated = self.peek().tok == Tok::Not;
                    if negated {
                        self.bump();
                    }
                    let null = self.expect(
                        Tok::Null,
                        if negated {
                            "`null`"
                        } else {
                            "`null` or `not null`"
                        },
                    )?;
                    Expr {
                        span: join(lhs.span, null.span),
                        kind: ExprKind::IsNull {
                            expr: Box::new(lhs),
                            negated,
                        },
                    }
                }
            };
        }
        Ok(lhs)
    }

    /// A prefix operator application or a primary.
    fn prefix(&mut self, min: u8) -> PResult<Expr> {
        let t = self.peek();
        match t.tok {
            Tok::Not => {
                if min > prec::NOT {
                    return Err(SyntaxError {
                        code: "E0105",
                        span: t.span,
                        message: "`not` binds more loosely than comparisons and arithmetic".into(),
                        label: "`not` cannot stand here without parentheses".into(),
                        help: Some("put the negation in parentheses: `a == (not b)`".into()),
                    });
                }
                self.bump();
                let e = self.expr(prec::NOT)?;
                Ok(Expr {
                    span: join(t.span, e.span),
                    kind: ExprKind::Not(Box::new(e)),
                })
            }
            Tok::Minus => {
                self.bump();
                let e = self.expr(prec::UNARY)?;
                Ok(Expr {
                    span: join(t.span, e.span),
                    kind: ExprKind::Neg(Box::new(e)),
                })
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.peek();
        let kind = match t.tok {
            Tok::Num(n) => ExprKind::Num(n),
            Tok::Str => {
                let s = self.text(t.span);
                ExprKind::Str(s[1..s.len() - 1].to_string())
            }
            Tok::True => ExprKind::Bool(true),
            Tok::False => ExprKind::Bool(false),
            Tok::Null => ExprKind::Null,
            Tok::Window(n, unit) => ExprKind::Window(n, unit),
            Tok::Path { dot } => {
                let s = self.text(t.span);
                ExprKind::ValueSet {
                    kind: s[..dot as usize].to_string(),
                    name: s[dot as usize + 1..].to_string(),
                }
            }
            Tok::Ident => {
                self.bump();
                let name = self.text(t.span).to_string();
                if self.peek().tok != Tok::LParen {
                    return Ok(Expr {
                        span: t.span,
                        kind: ExprKind::Name(name),
                    });
                }
                self.bump();
                let (args, close) = self.list()?;
                return Ok(Expr {
                    span: join(t.span, close),
                    kind: ExprKind::Call {
                        name,
                        name_span: t.span,
                        args,
                    },
                });
            }
            Tok::LParen => {
                self.bump();
                let e = self.expr(prec::OR)?;
                let close = self.expect(Tok::RParen, "`)`")?;
                // The parentheses belong to the span: an error on `(a + b)` underlines them.
                return Ok(Expr {
                    span: join(t.span, close.span),
                    kind: e.kind,
                });
            }
            _ => return Err(self.unexpected(t, "an expression")),
        };
        self.bump();
        Ok(Expr { span: t.span, kind })
    }

    /// A comma-separated list of expressions after an opening `(`, up to and
    /// including the closing `)`, whose span is returned.
    fn list(&mut self) -> PResult<(Vec<Expr>, Span)> {
        let mut items = Vec::new();
        if self.peek().tok == Tok::RParen {
            return Ok((items, self.bump().span));
        }
        loop {
            items.push(self.expr(prec::OR)?);
            let t = self.peek();
            match t.tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => return Ok((items, self.bump().span)),
                _ => return Err(self.unexpected(t, "`,` or `)`")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::lex;
    use super::*;

    fn shape(src: &str) -> String {
        let (tokens, errors) = lex(src);
        assert!(errors.is_empty(), "{errors:?}");
        match parse(src, &tokens) {
            Ok(e) => e.shape(),
            Err(e) => format!("{} {}..{}", e.code, e.span.start, e.span.end),
        }
    }

    #[test]
    fn precedence() {
        let cases = [
            ("a or b and c", "(or a (and b c))"),
            ("a and b or c", "(or (and a b) c)"),
            ("not a == b", "(not (== a b))"),
            ("not not a and b", "(and (not (not a)) b)"),
            ("a + b * c", "(+ a (* b c))"),
            ("a - b - c", "(- (- a b) c)"),
            ("a / b * c", "(* (/ a b) c)"),
            ("-a * b", "(* (neg a) b)"),
            ("-2 - -3", "(- (neg 2.0) (neg 3.0))"),
            ("- -a", "(neg (neg a))"),
            ("x between 1 and 2 and y", "(and (between x 1.0 2.0) y)"),
            (
                "x between a + 1 and b * 2",
                "(between x (+ a 1.0) (* b 2.0))",
            ),
            ("x in (1, a + 1, b or c)", "(in x 1.0 (+ a 1.0) (or b c))"),
            (
                "x is not null or y is null",
                "(or (is-not-null x) (is-null y))",
            ),
            ("a + 1 >= b", "(>= (+ a 1.0) b)"),
            ("(a == b) == c", "(== (== a b) c)"),
            ("has(dx.e11, 12mo)", "(call has dx.e11 12mo)"),
            ("f()", "(call f)"),
            ("'x' == \"y\"", "(== \"x\" \"y\")"),
        ];
        for (src, want) in cases {
            assert_eq!(shape(src), want, "{src}");
        }
    }

    #[test]
    fn syntax_errors() {
        let cases = [
            ("1 < a < 3", "E0106 6..7"),
            ("a == b is null", "E0106 7..9"),
            ("a between 1 and 2 between 3 and 4", "E0106 18..25"),
            ("a + not b", "E0105 4..7"),
            ("a +", "E0105 3..3"),
            ("(a", "E0105 2..2"),
            ("a b", "E0105 2..3"),
            ("a AND b", "E0201 2..5"),
            ("x in ()", "E0105 6..7"),
            ("f(a,)", "E0105 4..5"),
            ("x is 3", "E0105 5..6"),
            ("x between 1 or 2", "E0105 12..14"),
            ("", "E0105 0..0"),
        ];
        for (src, want) in cases {
            assert_eq!(shape(src), want, "{src}");
        }
    }
}
