//! Typed IR expressions as SQL expressions over the per-person stage, whose
//! columns are `age`, `sex`, `clinic_id`, one per aggregate and one per
//! definition.
//!
//! Printing is precedence-aware: an operand is parenthesised only when its
//! operator binds less tightly than the place it stands in.

use crate::lang::ir::{ArithOp, CmpOp, Expr, ExprKind, Literal, Type};

use super::Dialect;
use super::names::Names;

/// Binding strength of what an emitted string is, loosest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Or,
    And,
    Not,
    Cmp,
    Add,
    Mul,
    Neg,
    Atom,
}

pub(crate) struct ExprWriter<'a> {
    pub dialect: Dialect,
    pub names: &'a Names,
}

impl ExprWriter<'_> {
    /// The SQL text of `e` (never needs parentheses around it as a whole
    /// select-list item or `WHERE` condition).
    pub fn write(&self, e: &Expr) -> String {
        self.emit(e).0
    }

    /// `e` parenthesised unless it is atomic (before `IS TRUE` and the like).
    pub fn operand_atom(&self, e: &Expr) -> String {
        self.operand(e, Prec::Atom)
    }

    /// `e` as an operand that must bind at least as tightly as `min`.
    fn operand(&self, e: &Expr, min: Prec) -> String {
        let (s, p) = self.emit(e);
        if p < min { format!("({s})") } else { s }
    }

    /// A number operand of a comparison: plain whole-number literals read
    /// better and compare exactly (the other side is a double).
    fn cmp_operand(&self, e: &Expr) -> String {
        if let ExprKind::Lit(Literal::Num(x)) = e.kind
            && x.is_finite()
            && x >= 0.0
        {
            if x.fract() == 0.0 && x < 1e15 {
                return format!("{x}");
            }
            // A short decimal (`1.4`) converts to the same double in every
            // engine; longer ones keep the exact typed form.
            let text = format!("{x:?}");
            let digits = text.chars().filter(char::is_ascii_digit).count();
            if !text.contains('e') && digits <= 15 {
                return text;
            }
        }
        self.operand(e, Prec::Add)
    }

    /// A null of type `ty` where `e` is of the literal-null type and `ty` is
    /// not: PostgreSQL types a bare `NULL` as text (`least(NULL, NULL) * 3`).
    fn typed_null(&self, e: &Expr, ty: Type) -> Option<String> {
        if e.ty != Type::Null {
            return None;
        }
        Some(format!("CAST(NULL AS {})", self.sql_type(ty)?))
    }

    /// The SQL type of a language type (`None` for the literal-null type).
    pub fn sql_type(&self, ty: Type) -> Option<&'static str> {
        Some(match ty {
            Type::Num => self.dialect.double(),
            Type::Bool => "BOOLEAN",
            Type::Str => match self.dialect {
                Dialect::Spark => "STRING",
                Dialect::Postgres => "TEXT",
                Dialect::DuckDb => "VARCHAR",
            },
            Type::Null => return None,
        })
    }

    /// `operand`, with a typed null for an operand of the literal-null type.
    fn operand_in(&self, e: &Expr, ty: Type, min: Prec) -> String {
        self.typed_null(e, ty)
            .unwrap_or_else(|| self.operand(e, min))
    }

    /// `write`, with a typed null for an operand of the literal-null type.
    fn write_in(&self, e: &Expr, ty: Type) -> String {
        self.typed_null(e, ty).unwrap_or_else(|| self.write(e))
    }

    fn list_in(&self, es: &[Expr], ty: Type) -> String {
        es.iter()
            .map(|e| self.write_in(e, ty))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `coalesce`/`least`/`greatest`: of one operand, the operand itself
    /// (Spark refuses `greatest(x)`).
    fn variadic(&self, func: &str, es: &[Expr], ty: Type) -> (String, Prec) {
        match es {
            [one] => match self.typed_null(one, ty) {
                Some(null) => (null, Prec::Atom),
                None => self.emit(one),
            },
            _ => (format!("{func}({})", self.list_in(es, ty)), Prec::Atom),
        }
    }

    fn emit(&self, e: &Expr) -> (String, Prec) {
        let d = self.dialect;
        // An expression of type Null is always null.
        if e.ty == Type::Null {
            return ("NULL".into(), Prec::Atom);
        }
        match &e.kind {
            ExprKind::Lit(l) => match l {
                Literal::Num(x) => {
                    let s = d.double_lit(*x);
                    let p = if *x < 0.0 || s.starts_with('-') {
                        Prec::Neg
                    } else {
                        Prec::Atom
                    };
                    (s, p)
                }
                Literal::Str(s) => (d.string(s), Prec::Atom),
                Literal::Bool(b) => ((if *b { "TRUE" } else { "FALSE" }).into(), Prec::Atom),
                // A null literal typed by its context: typed in SQL too.
                Literal::Null => (
                    self.sql_type(e.ty)
                        .map_or_else(|| "NULL".into(), |t| format!("CAST(NULL AS {t})")),
                    Prec::Atom,
                ),
            },
            ExprKind::Age => ("age".into(), Prec::Atom),
            ExprKind::Sex => ("sex".into(), Prec::Atom),
            ExprKind::Clinic => ("clinic_id".into(), Prec::Atom),
            // A definition that is always null, used where a type is known.
            ExprKind::Def(id) if self.names.is_null_definition(*id) => (
                self.sql_type(e.ty)
                    .map_or_else(|| "NULL".into(), |t| format!("CAST(NULL AS {t})")),
                Prec::Atom,
            ),
            ExprKind::Def(id) => (self.names.definition(*id).to_string(), Prec::Atom),
            ExprKind::Agg(a) => (self.names.aggregate(a).to_string(), Prec::Atom),
            ExprKind::Not(x) => (format!("NOT {}", self.operand(x, Prec::Not)), Prec::Not),
            ExprKind::Neg(x) => {
                let inner = self.operand_in(x, e.ty, Prec::Neg);
                // `--` would start a comment.
                let sep = if inner.starts_with('-') { " " } else { "" };
                (format!("-{sep}{inner}"), Prec::Neg)
            }
            ExprKind::And(a, b) => (
                format!(
                    "{} AND {}",
                    self.operand(a, Prec::And),
                    self.operand(b, Prec::Not)
                ),
                Prec::And,
            ),
            ExprKind::Or(a, b) => (
                format!(
                    "{} OR {}",
                    self.operand(a, Prec::Or),
                    self.operand(b, Prec::And)
                ),
                Prec::Or,
            ),
            ExprKind::Cmp(op, a, b) => {
                let op = match op {
                    CmpOp::Eq => "=",
                    CmpOp::Ne => "<>",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                };
                (
                    format!("{} {op} {}", self.cmp_operand(a), self.cmp_operand(b)),
                    Prec::Cmp,
                )
            }
            ExprKind::Arith(op, a, b) => {
                let (sym, prec) = match op {
                    ArithOp::Add => ("+", Prec::Add),
                    ArithOp::Sub => ("-", Prec::Add),
                    ArithOp::Mul => ("*", Prec::Mul),
                    ArithOp::Div => ("/", Prec::Mul),
                };
                let left = self.operand_in(a, e.ty, prec);
                // Left-associative: an equal-strength right operand needs parentheses.
                let right = self.operand_in(b, e.ty, next(prec));
                match op {
                    // Division by zero (also 0/0) is null.
                    ArithOp::Div => (
                        format!("{left} / nullif({}, 0)", self.write_in(b, e.ty)),
                        Prec::Mul,
                    ),
                    _ => (format!("{left} {sym} {right}"), prec),
                }
            }
            ExprKind::Between(x, lo, hi) => (
                format!(
                    "{} BETWEEN {} AND {}",
                    self.cmp_operand(x),
                    self.cmp_operand(lo),
                    self.cmp_operand(hi)
                ),
                Prec::Cmp,
            ),
            ExprKind::In(x, items) => {
                let items: Vec<String> = items
                    .iter()
                    .map(|i| {
                        if i.ty == Type::Num {
                            self.cmp_operand(i)
                        } else {
                            self.write(i)
                        }
                    })
                    .collect();
                let x = if x.ty == Type::Num {
                    self.cmp_operand(x)
                } else {
                    self.operand(x, Prec::Add)
                };
                (format!("{x} IN ({})", items.join(", ")), Prec::Cmp)
            }
            ExprKind::IsNull { expr, negated } => {
                let not = if *negated { " NOT" } else { "" };
                (
                    format!("{} IS{not} NULL", self.operand(expr, Prec::Add)),
                    Prec::Cmp,
                )
            }
            ExprKind::If(c, a, b) => (
                format!(
                    "CASE WHEN {} THEN {} ELSE {} END",
                    self.write(c),
                    self.write_in(a, e.ty),
                    self.write_in(b, e.ty)
                ),
                Prec::Atom,
            ),
            ExprKind::Coalesce(es) => self.variadic("coalesce", es, e.ty),
            ExprKind::Abs(x) => (format!("abs({})", self.write_in(x, e.ty)), Prec::Atom),
            ExprKind::Round(x) => {
                let x = self.operand_in(x, e.ty, Prec::Atom);
                (d.round(&x), Prec::Atom)
            }
            // PostgreSQL's, DuckDB's and Spark's least/greatest all ignore
            // nulls and are null only when every operand is null, as the
            // language asks.
            ExprKind::Least(es) => self.variadic("least", es, e.ty),
            ExprKind::Greatest(es) => self.variadic("greatest", es, e.ty),
        }
    }
}

fn next(p: Prec) -> Prec {
    match p {
        Prec::Or => Prec::And,
        Prec::And => Prec::Not,
        Prec::Not => Prec::Cmp,
        Prec::Cmp => Prec::Add,
        Prec::Add => Prec::Mul,
        Prec::Mul => Prec::Neg,
        Prec::Neg | Prec::Atom => Prec::Atom,
    }
}
