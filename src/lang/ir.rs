//! The checked library: what the language front end hands to the planner
//! (and to the SQL emitter). Every name is resolved, every expression typed.
//!
//! This is the contract between `lang` (which builds it) and `plan`/`eval`/`sql`
//! (which consume it). It knows nothing of Arrow, Parquet or files.

use crate::data::EventKind;

/// Byte offsets into the expression string an item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

/// A code pattern, already normalised (upper case, no `.`, space or `-`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// `"E11"`: every code starting with the text.
    Prefix(String),
    /// `"=8480-6"`: only that code.
    Exact(String),
    /// `"I10..I15"`: bounds of equal, non-zero length, `lo <= hi` by code point.
    Range(String, String),
}

impl Pattern {
    /// Whether a normalised code matches the pattern.
    pub fn matches(&self, code: &str) -> bool {
        match self {
            Pattern::Prefix(p) => code.starts_with(p.as_str()),
            Pattern::Exact(p) => code == p,
            Pattern::Range(lo, hi) => {
                // Compare the first `len` characters (code points) with the bounds;
                // a code shorter than the bounds is compared whole, so `I1` sorts
                // before `I10` (outside `I10..I15`) and `I27` lies inside
                // `I269..I270`. UTF-8 byte order is code-point order.
                let len = lo.chars().count();
                let head = match code.char_indices().nth(len) {
                    Some((end, _)) => &code[..end],
                    None => code,
                };
                head >= lo.as_str() && head <= hi.as_str()
            }
        }
    }
}

/// Index into [`Library::value_sets`].
pub type ValueSetId = usize;
/// Index into [`Library::definitions`].
pub type DefId = usize;

#[derive(Debug, Clone, PartialEq)]
pub struct ValueSet {
    /// Full table name, e.g. `lab.sbp`.
    pub name: String,
    pub kind: EventKind,
    pub title: Option<String>,
    /// Declared unit, trimmed as written; compare case-insensitively after trimming.
    pub unit: Option<String>,
    /// Per code system (upper-cased key), its patterns.
    pub systems: Vec<(String, Vec<Pattern>)>,
    pub file: String,
}

/// A window or grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    Days(u32),
    /// Calendar months (`1y` is `Months(12)`).
    Months(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggFunc {
    Has,
    Count,
    Last,
    First,
    Min,
    Max,
    Mean,
    DaysSince,
    DaysSinceFirst,
    Active,
}

impl AggFunc {
    /// The function's name as written in the language (`days_since`).
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Has => "has",
            AggFunc::Count => "count",
            AggFunc::Last => "last",
            AggFunc::First => "first",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Mean => "mean",
            AggFunc::DaysSince => "days_since",
            AggFunc::DaysSinceFirst => "days_since_first",
            AggFunc::Active => "active",
        }
    }
}

/// One event aggregate: the unit of sharing in a plan.
/// For `Active`, `window` holds the grace period (always `Days`, `None` = 0d).
/// For `DaysSince`/`DaysSinceFirst` it is always `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregate {
    pub func: AggFunc,
    pub value_set: ValueSetId,
    pub window: Option<Window>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Num,
    Str,
    /// Only the literal `null` (and expressions made only of it) has this type.
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Num(f64),
    Str(String),
    Bool(bool),
    Null,
}

/// A typed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub ty: Type,
    pub span: Span,
    pub kind: ExprKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Lit(Literal),
    Age,
    Sex,
    Clinic,
    /// A definition used by its bare name.
    Def(DefId),
    Agg(Aggregate),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    /// `x between lo and hi` (inclusive).
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `x in (a, b, ...)`.
    In(Box<Expr>, Vec<Expr>),
    /// `x is null` (`negated`: `x is not null`).
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Coalesce(Vec<Expr>),
    Abs(Box<Expr>),
    Round(Box<Expr>),
    Least(Vec<Expr>),
    Greatest(Vec<Expr>),
}

/// Where an expression came from, for messages at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    /// Line and column (1-based) in the TOML file where the expression string starts.
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub expr: Expr,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    pub id: String,
    pub title: String,
    pub domain: Option<String>,
    pub source: Option<String>,
    pub population: Expr,
    pub gap: Expr,
    pub exclude: Option<Expr>,
    /// 1 to 10.
    pub priority: u8,
    pub action: Option<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub name: String,
    /// `Bool` or `Num` (a literal-`null` feature is `Null` and becomes a Float64 column).
    pub expr: Expr,
    pub origin: Origin,
}

/// A whole checked library. Definitions are in dependency order: a definition
/// only refers to definitions with a smaller index.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Library {
    pub value_sets: Vec<ValueSet>,
    pub definitions: Vec<Definition>,
    pub criteria: Vec<Criterion>,
    pub features: Vec<Feature>,
    /// SHA-256 over the library's files (names and contents, in name order).
    pub hash: String,
}
