//! The untyped syntax tree the parser produces, and its pretty-printer.
//!
//! Windows and value sets are ordinary primaries here: the parser accepts them
//! anywhere so that the checker can say "a window where none fits" instead of a
//! bare syntax error.

use std::fmt::{self, Write};

use super::ir::{ArithOp, CmpOp, Span};
use super::lexer::WindowUnit;

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub span: Span,
    pub kind: ExprKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Cmp(CmpOp),
    Arith(ArithOp),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Num(f64),
    Str(String),
    Bool(bool),
    Null,
    /// A bare name: `age`, `sex`, `clinic` or a definition.
    Name(String),
    /// `kind.name`, e.g. `lab.sbp`.
    ValueSet {
        kind: String,
        name: String,
    },
    Window(u32, WindowUnit),
    /// `name(args)`; `name_span` covers the function name.
    Call {
        name: String,
        name_span: Span,
        args: Vec<Expr>,
    },
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
}

/// Binding strength, loosest first (see the parser).
pub mod prec {
    pub const OR: u8 = 1;
    pub const AND: u8 = 2;
    pub const NOT: u8 = 3;
    pub const CMP: u8 = 4;
    pub const ADD: u8 = 5;
    pub const MUL: u8 = 6;
    pub const UNARY: u8 = 7;
    pub const ATOM: u8 = 8;
}

pub fn cmp_symbol(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

pub fn arith_symbol(op: ArithOp) -> &'static str {
    match op {
        ArithOp::Add => "+",
        ArithOp::Sub => "-",
        ArithOp::Mul => "*",
        ArithOp::Div => "/",
    }
}

impl BinOp {
    pub fn prec(self) -> u8 {
        match self {
            BinOp::Or => prec::OR,
            BinOp::And => prec::AND,
            BinOp::Cmp(_) => prec::CMP,
            BinOp::Arith(ArithOp::Add | ArithOp::Sub) => prec::ADD,
            BinOp::Arith(ArithOp::Mul | ArithOp::Div) => prec::MUL,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Cmp(op) => cmp_symbol(op),
            BinOp::Arith(op) => arith_symbol(op),
        }
    }
}

impl Expr {
    /// The binding strength of the expression's outermost operator.
    pub fn prec(&self) -> u8 {
        match &self.kind {
            ExprKind::Binary(op, ..) => op.prec(),
            ExprKind::Not(_) => prec::NOT,
            ExprKind::Between(..) | ExprKind::In(..) | ExprKind::IsNull { .. } => prec::CMP,
            ExprKind::Neg(_) => prec::UNARY,
            _ => prec::ATOM,
        }
    }

    /// A fully parenthesised, span-free rendering (`(+ a (* b c))`): two trees
    /// have the same shape exactly when these strings are equal.
    pub fn shape(&self) -> String {
        let mut s = String::new();
        self.write_shape(&mut s);
        s
    }

    fn write_shape(&self, s: &mut String) {
        let list = |s: &mut String, head: &str, items: &[&Expr]| {
            s.push('(');
            s.push_str(head);
            for item in items {
                s.push(' ');
                item.write_shape(s);
            }
            s.push(')');
        };
        match &self.kind {
            ExprKind::Num(n) => {
                let _ = write!(s, "{n:?}");
            }
            ExprKind::Str(t) => {
                let _ = write!(s, "{t:?}");
            }
            ExprKind::Bool(b) => {
                let _ = write!(s, "{b}");
            }
            ExprKind::Null => s.push_str("null"),
            ExprKind::Name(n) => s.push_str(n),
            ExprKind::ValueSet { kind, name } => {
                let _ = write!(s, "{kind}.{name}");
            }
            ExprKind::Window(n, u) => {
                let _ = write!(s, "{n}{}", u.suffix());
            }
            ExprKind::Call { name, args, .. } => {
                list(s, &format!("call {name}"), &args.iter().collect::<Vec<_>>())
            }
            ExprKind::Not(e) => list(s, "not", &[e]),
            ExprKind::Neg(e) => list(s, "neg", &[e]),
            ExprKind::Binary(op, a, b) => list(s, op.symbol(), &[a, b]),
            ExprKind::Between(x, lo, hi) => list(s, "between", &[x, lo, hi]),
            ExprKind::In(x, items) => {
                let mut all = vec![x.as_ref()];
                all.extend(items.iter());
                list(s, "in", &all)
            }
            ExprKind::IsNull { expr, negated } => {
                list(s, if *negated { "is-not-null" } else { "is-null" }, &[expr])
            }
        }
    }
}

/// Pretty-prints with the fewest parentheses that parse back to the same tree.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `child` is printed in a position that needs at least `min` binding strength.
        fn child(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
            if e.prec() < min {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        }
        fn list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        }
        match &self.kind {
            ExprKind::Num(n) => write!(f, "{n}"),
            ExprKind::Str(s) => {
                let q = if s.contains('\'') { '"' } else { '\'' };
                write!(f, "{q}{s}{q}")
            }
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Null => f.write_str("null"),
            ExprKind::Name(n) => f.write_str(n),
            ExprKind::ValueSet { kind, name } => write!(f, "{kind}.{name}"),
            ExprKind::Window(n, u) => write!(f, "{n}{}", u.suffix()),
            ExprKind::Call { name, args, .. } => {
                write!(f, "{name}(")?;
                list(f, args)?;
                f.write_str(")")
            }
            ExprKind::Not(e) => {
                f.write_str("not ")?;
                child(f, e, prec::NOT)
            }
            ExprKind::Neg(e) => {
                // A space keeps `- -x` readable; the lexer has no `--` token anyway.
                f.write_str("-")?;
                if matches!(e.kind, ExprKind::Neg(_)) {
                    f.write_str(" ")?;
                }
                child(f, e, prec::UNARY)
            }
            ExprKind::Binary(op, a, b) => {
                let p = op.prec();
                // Comparisons do not chain: both sides bind tighter. The others
                // are left-associative: the right side must bind tighter.
                let left_min = if p == prec::CMP { p + 1 } else { p };
                child(f, a, left_min)?;
                write!(f, " {} ", op.symbol())?;
                child(f, b, p + 1)
            }
            ExprKind::Between(x, lo, hi) => {
                child(f, x, prec::ADD)?;
                f.write_str(" between ")?;
                child(f, lo, prec::ADD)?;
                f.write_str(" and ")?;
                child(f, hi, prec::ADD)
            }
            ExprKind::In(x, items) => {
                child(f, x, prec::ADD)?;
                f.write_str(" in (")?;
                list(f, items)?;
                f.write_str(")")
            }
            ExprKind::IsNull { expr, negated } => {
                child(f, expr, prec::ADD)?;
                f.write_str(if *negated { " is not null" } else { " is null" })
            }
        }
    }
}

impl ExprKind {
    /// Visits this expression and all its subexpressions, outermost first.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a ExprKind)) {
        f(self);
        match self {
            ExprKind::Call { args, .. } => args.iter().for_each(|a| a.kind.walk(f)),
            ExprKind::Not(e) | ExprKind::Neg(e) | ExprKind::IsNull { expr: e, .. } => {
                e.kind.walk(f)
            }
            ExprKind::Binary(_, a, b) => {
                a.kind.walk(f);
                b.kind.walk(f);
            }
            ExprKind::Between(x, lo, hi) => {
                x.kind.walk(f);
                lo.kind.walk(f);
                hi.kind.walk(f);
            }
            ExprKind::In(x, items) => {
                x.kind.walk(f);
                items.iter().for_each(|a| a.kind.walk(f));
            }
            _ => {}
        }
    }
}
