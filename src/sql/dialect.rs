//! What differs between the SQL engines: literals, types, date arithmetic,
//! the "value of the latest row" aggregate, filtered aggregates, unpivoting.

use std::fmt::Write as _;

/// The SQL engine a script is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// DuckDB 1.1 or later.
    #[default]
    DuckDb,
    /// Spark SQL 3.4 or later.
    Spark,
    /// PostgreSQL 13 or later.
    Postgres,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "duckdb",
            Dialect::Spark => "spark",
            Dialect::Postgres => "postgres",
        }
    }

    /// The 64-bit float type.
    pub(crate) fn double(self) -> &'static str {
        match self {
            Dialect::Postgres => "DOUBLE PRECISION",
            _ => "DOUBLE",
        }
    }

    /// A quoted identifier (for names users chose: feature columns).
    pub(crate) fn ident(self, name: &str) -> String {
        match self {
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// A string literal. Spark reads backslash escapes in literals; the others
    /// (PostgreSQL with `standard_conforming_strings`, the default) do not.
    pub(crate) fn string(self, s: &str) -> String {
        match self {
            Dialect::Spark => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            _ => format!("'{}'", s.replace('\'', "''")),
        }
    }

    /// A DATE literal (`yyyy-mm-dd`).
    pub(crate) fn date(self, ymd: &str) -> String {
        format!("DATE '{ymd}'")
    }

    /// A 64-bit float literal of value `x` (finite). Whole numbers of moderate
    /// size are written as integers cast to double; others through their
    /// shortest round-trip decimal text, which every engine parses exactly.
    pub(crate) fn double_lit(self, x: f64) -> String {
        let small_int = x.fract() == 0.0 && x.abs() < 1e15 && !(x == 0.0 && x.is_sign_negative());
        match self {
            Dialect::Spark => format!("{}D", format!("{x:?}").to_uppercase()),
            Dialect::DuckDb if small_int => format!("{x}::DOUBLE"),
            Dialect::Postgres if small_int => format!("{x}::float8"),
            Dialect::DuckDb => format!("'{x:?}'::DOUBLE"),
            Dialect::Postgres => format!("'{x:?}'::float8"),
        }
    }

    /// Whole days from `from` to `to` (two DATE expressions), as an integer.
    pub(crate) fn days_between(self, from: &str, to: &str) -> String {
        match self {
            Dialect::Spark => format!("datediff({to}, {from})"),
            _ => format!("({to} - {from})"),
        }
    }

    /// An aggregate over the rows where `cond` holds. `agg` is the function
    /// name (one that ignores nulls), `arg` its argument (`*` for `count`).
    /// Written as a `CASE` inside the aggregate in every dialect: Spark has no
    /// `FILTER`, and DuckDB runs hundreds of `CASE` arguments about three times
    /// faster than as many `FILTER` clauses (docs/sql.md).
    pub(crate) fn filtered(self, agg: &str, arg: &str, cond: &str) -> String {
        let arg = if arg == "*" { "1" } else { arg };
        format!("{agg}(CASE WHEN {cond} THEN {arg} END)")
    }

    /// `value` of the row where `cond` holds with the latest (`latest`) or
    /// earliest `date`; on a tie of dates, the largest value. Rows with a null
    /// value must be excluded by `cond`.
    pub(crate) fn value_at(self, latest: bool, cond: &str) -> String {
        match (self, latest) {
            // arg_max/arg_min skip rows whose key is null (the CASE form is
            // faster than FILTER in DuckDB, like `filtered`).
            (Dialect::DuckDb, true) => {
                format!("arg_max(value, CASE WHEN {cond} THEN {{'d': date, 'v': value}} END)")
            }
            (Dialect::DuckDb, false) => {
                format!("arg_min(value, CASE WHEN {cond} THEN {{'d': date, 'v': -value}} END)")
            }
            (Dialect::Spark, true) => {
                format!("max(CASE WHEN {cond} THEN named_struct('d', date, 'v', value) END).v")
            }
            (Dialect::Spark, false) => {
                format!("-min(CASE WHEN {cond} THEN named_struct('d', date, 'v', -value) END).v")
            }
            (Dialect::Postgres, true) => format!(
                "(array_agg(value ORDER BY date DESC, value DESC) FILTER (WHERE {cond}))[1]"
            ),
            (Dialect::Postgres, false) => {
                format!("(array_agg(value ORDER BY date ASC, value DESC) FILTER (WHERE {cond}))[1]")
            }
        }
    }

    /// `x IS TRUE` / `x IS NOT TRUE` (`x` already parenthesised if needed).
    pub(crate) fn is_true(self, x: &str, negated: bool) -> String {
        match (self, negated) {
            (Dialect::Spark, false) => format!("coalesce({x}, false)"),
            (Dialect::Spark, true) => format!("NOT coalesce({x}, false)"),
            (_, false) => format!("{x} IS TRUE"),
            (_, true) => format!("{x} IS NOT TRUE"),
        }
    }

    /// Rounding half away from zero. DuckDB's and Spark's `round` on a double
    /// already do that; PostgreSQL's rounds halves to even, so the fraction is
    /// compared by hand (exact: `x - trunc(x)` has no rounding error).
    pub(crate) fn round(self, x: &str) -> String {
        match self {
            Dialect::Postgres => {
                format!(
                    "(trunc({x}) + CASE WHEN abs({x} - trunc({x})) >= 0.5 THEN sign({x}) ELSE 0 END)"
                )
            }
            _ => format!("round({x})"),
        }
    }

    /// Collation for code-point comparison of strings (range patterns).
    pub(crate) fn binary_collate(self) -> &'static str {
        match self {
            Dialect::Postgres => " COLLATE \"C\"",
            _ => "",
        }
    }

    /// The last stage: one output row per true `(id, priority, column)` of
    /// `criteria`, read from the CTE `from`.
    pub(crate) fn unpivot(self, from: &str, criteria: &[(String, u8, String)]) -> String {
        let mut s = String::new();
        match self {
            Dialect::Spark => {
                let _ = writeln!(
                    s,
                    "SELECT c.patient_id, c.clinic_id, f.criterion_id, f.priority"
                );
                let _ = writeln!(s, "FROM {from} c");
                let _ = write!(s, "LATERAL VIEW stack({}", criteria.len());
                for (id, priority, col) in criteria {
                    let _ = write!(s, ",\n    {}, {priority}, c.{col}", self.string(id));
                }
                let _ = writeln!(s, "\n) f AS criterion_id, priority, fires");
            }
            Dialect::DuckDb => {
                // DuckDB decorrelates a LATERAL VALUES into a join on every
                // criterion column; its UNPIVOT is a plain unnest.
                let _ = writeln!(
                    s,
                    "SELECT u.patient_id, u.clinic_id, f.criterion_id, f.priority"
                );
                let cols: Vec<&str> = criteria.iter().map(|(_, _, c)| c.as_str()).collect();
                let _ = writeln!(s, "FROM (UNPIVOT {from} ON {}", cols.join(", "));
                let _ = writeln!(s, "      INTO NAME col VALUE fires) u");
                let _ = write!(s, "JOIN (VALUES");
                for (i, (id, priority, col)) in criteria.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    let _ = write!(s, "{sep}\n    ('{col}', {}, {priority})", self.string(id));
                }
                let _ = writeln!(s, "\n) AS f(col, criterion_id, priority) ON f.col = u.col");
                s.push_str("WHERE u.fires\n");
                return s;
            }
            Dialect::Postgres => {
                let _ = writeln!(
                    s,
                    "SELECT c.patient_id, c.clinic_id, f.criterion_id, f.priority"
                );
                let _ = writeln!(s, "FROM {from} c");
                let _ = write!(s, "CROSS JOIN LATERAL (VALUES");
                for (i, (id, priority, col)) in criteria.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    let _ = write!(s, "{sep}\n    ({}, {priority}, c.{col})", self.string(id));
                }
                let _ = writeln!(s, "\n) AS f(criterion_id, priority, fires)");
            }
        }
        s.push_str("WHERE f.fires\n");
        s
    }
}
