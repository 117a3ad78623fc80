//! Portable SQL for a checked criteria library.
//!
//! [`emit`] writes one SQL script (a single `SELECT` with one CTE per stage)
//! that computes, over tables shaped like the data model, exactly what the
//! engine computes: the firings (`patient_id`, `clinic_id`, `criterion_id`,
//! `priority`) or, with [`SqlOptions::features`], the feature table
//! (`patient_id`, `clinic_id`, one column per feature).
//!
//! # Stages of the script
//!
//! | CTE | what it holds |
//! |---|---|
//! | `people` | people alive on `as_of`, with `age` in completed years |
//! | `events_norm` | usable events on or before `as_of`, codes and systems normalised |
//! | `patterns` | the value sets' code patterns (a `VALUES` table) |
//! | `code_sets` | each distinct (kind, system, code) of the events with the value sets it belongs to |
//! | `matched` | each event with each value set it matches (unit rule applied) |
//! | `vs_aggregates` | level one, grouped by (person, value set): each distinct (function, window) the library uses, once |
//! | `aggregates` | level two, grouped by person: each aggregate picks its value set's slot |
//! | `person` | people joined with their aggregates (no event: `has` false, `count` 0) |
//! | `defs_N` | definitions, one CTE per dependency level |
//! | `criteria` | one boolean column per criterion: population IS TRUE AND gap IS TRUE AND exclude IS NOT TRUE |
//!
//! The final `SELECT` unpivots the criterion columns into firing rows (or
//! selects the feature columns).
//!
//! # Invariants
//!
//! - **Window bounds are computed here, not in SQL.** `as_of` is a constant, so
//!   every window's exclusive lower bound is a `DATE` literal computed with the
//!   engine's calendar rule (months clamp at month end); no dialect's interval
//!   arithmetic is trusted.
//! - **Every number is a double.** Literals are typed (`18::DOUBLE`,
//!   `18::float8`, `18.0D`) so no engine does integer or decimal arithmetic.
//! - **Null stays three-valued** until the final `IS TRUE` / `IS NOT TRUE` of a
//!   criterion; `has`/`active` are false and `count` is 0 for people without
//!   matching events, exactly as in the engine.
//!
//! # Known differences from the engine (documented in `docs/sql.md`)
//!
//! - `mean` sums in the SQL engine's order; the last bits may differ from the
//!   engine's date-ordered sum.
//! - An arithmetic result that is NaN (`inf - inf`, only after an overflow) is
//!   null in the engine and NaN in SQL.
//! - Units are trimmed of spaces (SQL `trim`) where the engine trims all
//!   Unicode white space; upper/lower-casing of non-ASCII text follows the SQL
//!   engine's case tables.

mod dialect;
mod expr;
mod names;

use std::fmt::Write as _;

use chrono::{Datelike, Months, NaiveDate};

use crate::data::{Day, EventKind};
use crate::lang::ir::{AggFunc, Aggregate, Expr, ExprKind, Library, Pattern, Window};

pub use dialect::Dialect;
use expr::ExprWriter;
use names::{Names, window_text};

/// Days of supply of a medication whose `value` is null.
const DEFAULT_SUPPLY_DAYS: u32 = 90;

/// What the script computes and where it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlOptions {
    /// `false`: the firings; `true`: the feature table.
    pub features: bool,
    /// SQL text naming the patients table (a table name, or for DuckDB e.g.
    /// `read_parquet('data/patients.parquet')`).
    pub patients: String,
    /// SQL text naming the events table.
    pub events: String,
}

impl Default for SqlOptions {
    fn default() -> SqlOptions {
        SqlOptions {
            features: false,
            patients: "patients".into(),
            events: "events".into(),
        }
    }
}

/// The SQL script computing the firings (or, with `opts.features`, the
/// feature table) of `lib` on `as_of`. See the module docs.
pub fn emit(lib: &Library, as_of: Day, dialect: Dialect, opts: &SqlOptions) -> String {
    Script::new(lib, as_of, dialect, opts).write()
}

fn date_of(day: Day) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + 719_163).unwrap_or(NaiveDate::MIN)
}

/// The exclusive lower bound of a window ending at `as_of` (`None`: all history).
/// A bound before 0001-01-01 is all history.
fn window_bound(as_of: NaiveDate, w: Option<Window>) -> Option<NaiveDate> {
    let bound = match w? {
        Window::Days(d) => as_of.checked_sub_days(chrono::Days::new(d.into()))?,
        Window::Months(m) => as_of.checked_sub_months(Months::new(m))?,
    };
    (bound.year() >= 1).then_some(bound)
}

/// One-line text for a `--` comment.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A column of `vs_aggregates`: one function over one window (see
/// [`Script::slot_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    func: AggFunc,
    window: Option<Window>,
}

struct Script<'a> {
    lib: &'a Library,
    as_of: NaiveDate,
    d: Dialect,
    opts: &'a SqlOptions,
    names: Names,
}

impl<'a> Script<'a> {
    fn new(lib: &'a Library, as_of: Day, d: Dialect, opts: &'a SqlOptions) -> Script<'a> {
        let mut s = Script {
            lib,
            as_of: date_of(as_of),
            d,
            opts,
            names: Names::new(lib),
        };
        let roots: Vec<&Expr> = if opts.features {
            lib.features.iter().map(|f| &f.expr).collect()
        } else {
            lib.criteria
                .iter()
                .flat_map(|c| [Some(&c.population), Some(&c.gap), c.exclude.as_ref()])
                .flatten()
                .collect()
        };
        for e in roots {
            s.collect(e);
        }
        s
    }

    /// Registers the aggregates and definitions `e` needs (transitively).
    fn collect(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Agg(a) => self.names.add_aggregate(self.lib, *a),
            ExprKind::Def(id) => {
                if self.names.add_definition(self.lib, *id) {
                    self.collect(&self.lib.definitions[*id].expr);
                }
            }
            _ => for_each_child(e, |c| self.collect(c)),
        }
    }

    fn as_of_lit(&self) -> String {
        self.d.date(&self.as_of.format("%Y-%m-%d").to_string())
    }

    fn write(&self) -> String {
        let mut out = String::new();
        self.header(&mut out);
        let mut ctes: Vec<(String, String)> = vec![("people".into(), self.people())];
        let has_aggs = !self.names.aggregates.is_empty();
        if has_aggs {
            ctes.push(("events_norm".into(), self.events_norm()));
            ctes.push(("patterns".into(), self.patterns()));
            ctes.push(("code_sets".into(), self.code_sets()));
            ctes.push(("matched".into(), self.matched()));
            ctes.push(("vs_aggregates".into(), self.vs_aggregates()));
            ctes.push(("aggregates".into(), self.aggregates()));
        }
        ctes.push(("person".into(), self.person(has_aggs)));
        let mut last = "person".to_string();
        for (level, defs) in self.definition_levels().into_iter().enumerate() {
            let name = format!("defs_{}", level + 1);
            ctes.push((name.clone(), self.definitions(&defs, &last)));
            last = name;
        }
        if !self.opts.features {
            ctes.push(("criteria".into(), self.criteria(&last)));
        }
        out.push_str("WITH\n");
        for (i, (name, body)) in ctes.iter().enumerate() {
            let sep = if i + 1 == ctes.len() { "" } else { "," };
            // The body starts with its comment lines, then the SELECT.
            let (comments, select): (Vec<&str>, Vec<&str>) =
                body.lines().partition(|l| l.starts_with("-- "));
            for c in comments {
                let _ = writeln!(out, "{c}");
            }
            let _ = writeln!(out, "{name} AS (");
            for l in select {
                let _ = writeln!(out, "    {l}");
            }
            let _ = writeln!(out, "){sep}");
        }
        if self.opts.features {
            out.push_str(&self.feature_select(&last));
        } else {
            out.push_str(&self.firings_select());
        }
        out.push_str(";\n");
        out
    }

    fn header(&self, out: &mut String) {
        let lib = self.lib;
        let what = if self.opts.features {
            "feature table"
        } else {
            "firings"
        };
        let _ = writeln!(
            out,
            "-- caregap {what}, scored as of {}, {} dialect.",
            self.as_of,
            self.d.name()
        );
        let _ = writeln!(out, "-- Criteria library sha256 {}", lib.hash);
        let _ = writeln!(
            out,
            "-- {} criteria, {} definitions, {} features, {} value sets; generated by `caregap sql`.",
            lib.criteria.len(),
            lib.definitions.len(),
            lib.features.len(),
            lib.value_sets.len()
        );
        let _ = writeln!(
            out,
            "-- Reads {} and {} (columns as in the caregap data model).",
            self.opts.patients, self.opts.events
        );
        if self.opts.features {
            let _ = writeln!(
                out,
                "-- Output: one row per person alive on the scoring date: patient_id, clinic_id, one column per feature."
            );
        } else {
            let _ = writeln!(
                out,
                "-- Output: one row per firing: patient_id, clinic_id, criterion_id, priority."
            );
            let _ = writeln!(
                out,
                "-- A criterion fires when population IS TRUE AND gap IS TRUE AND exclude IS NOT TRUE."
            );
        }
    }

    fn people(&self) -> String {
        let d = self.d;
        let a = self.as_of_lit();
        let (y, m, day) = (self.as_of.year(), self.as_of.month(), self.as_of.day());
        let mut s = String::new();
        s.push_str("-- People alive on the scoring date (born on or before it, not dead on or before it),\n");
        s.push_str("-- with age in completed years (born 29 February: a year older on 1 March in common years).\n");
        let _ = writeln!(s, "SELECT patient_id, clinic_id, sex,");
        let _ = writeln!(
            s,
            "    CAST({y} - EXTRACT(YEAR FROM birth_date) - CASE WHEN EXTRACT(MONTH FROM birth_date) > {m}"
        );
        let _ = writeln!(
            s,
            "        OR (EXTRACT(MONTH FROM birth_date) = {m} AND EXTRACT(DAY FROM birth_date) > {day}) THEN 1 ELSE 0 END AS {}) AS age",
            d.double()
        );
        let _ = writeln!(s, "FROM {}", self.opts.patients);
        let _ = writeln!(s, "WHERE birth_date <= {a}");
        let _ = write!(s, "    AND (death_date IS NULL OR death_date > {a})");
        s
    }

    /// The value sets the needed aggregates use, in library order.
    fn value_sets(&self) -> Vec<usize> {
        let mut used: Vec<usize> = self
            .names
            .aggregates
            .iter()
            .map(|(a, _)| a.value_set)
            .collect();
        used.sort_unstable();
        used.dedup();
        used
    }

    fn events_norm(&self) -> String {
        let d = self.d;
        let a = self.as_of_lit();
        let mut kinds: Vec<EventKind> = self
            .value_sets()
            .into_iter()
            .map(|v| self.lib.value_sets[v].kind)
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        let kinds: Vec<String> = kinds.iter().map(|k| d.string(k.as_str())).collect();
        let nan = match d {
            Dialect::DuckDb => "'NaN'::DOUBLE",
            Dialect::Postgres => "'NaN'::float8",
            Dialect::Spark => "double('NaN')",
        };
        let mut s = String::new();
        s.push_str("-- Usable events on or before the scoring date. Codes normalised (upper case, without\n");
        s.push_str("-- '.', ' ' and '-'), systems upper-cased, NaN values as null. Rows with a null date,\n");
        s.push_str("-- kind, system or code, a kind no value set uses, or a negative medication supply are left out.\n");
        let _ = writeln!(s, "SELECT patient_id, date, kind, upper(system) AS system,");
        let _ = writeln!(
            s,
            "    upper(replace(replace(replace(code, '.', ''), ' ', ''), '-', '')) AS code,"
        );
        let _ = writeln!(s, "    nullif(value, {nan}) AS value, unit");
        let _ = writeln!(s, "FROM {}", self.opts.events);
        let _ = writeln!(s, "WHERE date <= {a}");
        let _ = writeln!(s, "    AND kind IN ({})", kinds.join(", "));
        let _ = writeln!(s, "    AND system IS NOT NULL AND code IS NOT NULL");
        let _ = write!(
            s,
            "    AND NOT (kind = 'medication' AND coalesce(value, 0) < 0)"
        );
        s
    }

    fn patterns(&self) -> String {
        let d = self.d;
        let mut rows = Vec::new();
        for v in self.value_sets() {
            let vs = &self.lib.value_sets[v];
            // The unit rule only concerns measurements.
            let unit = match (&vs.unit, vs.kind) {
                (Some(u), EventKind::Measurement) => d.string(&u.trim().to_lowercase()),
                _ => "NULL".into(),
            };
            for (system, patterns) in &vs.systems {
                for p in patterns {
                    let (form, lo, hi) = match p {
                        Pattern::Prefix(x) => ("prefix", d.string(x), "NULL".to_string()),
                        Pattern::Exact(x) => ("exact", d.string(x), "NULL".to_string()),
                        Pattern::Range(lo, hi) => ("range", d.string(lo), d.string(hi)),
                    };
                    rows.push(format!(
                        "({v}, {}, {}, '{form}', {lo}, {hi}, {unit})  -- {}",
                        d.string(vs.kind.as_str()),
                        d.string(system),
                        comment(&vs.name)
                    ));
                }
            }
        }
        let mut s = String::new();
        s.push_str("-- The value sets' code patterns, normalised. vs = value set number; unit = the declared\n");
        s.push_str("-- unit of a measurement value set, trimmed and lower-cased.\n");
        let cols = "vs, kind, system, form, lo, hi, unit";
        if rows.is_empty() {
            let t = match d {
                Dialect::DuckDb => "VARCHAR",
                Dialect::Postgres => "TEXT",
                Dialect::Spark => "STRING",
            };
            let _ = write!(
                s,
                "SELECT CAST(NULL AS INTEGER) AS vs, CAST(NULL AS {t}) AS kind, CAST(NULL AS {t}) AS system, \
                 CAST(NULL AS {t}) AS form, CAST(NULL AS {t}) AS lo, CAST(NULL AS {t}) AS hi, CAST(NULL AS {t}) AS unit\n\
                 WHERE FALSE"
            );
            return s;
        }
        let _ = writeln!(s, "SELECT * FROM (VALUES");
        let n = rows.len();
        for (i, r) in rows.into_iter().enumerate() {
            // Keep the trailing comment after the comma.
            let (row, note) = r.split_once("  -- ").unwrap_or((&r, ""));
            let sep = if i + 1 == n { "" } else { "," };
            let _ = writeln!(s, "    {row}{sep}  -- {note}");
        }
        let _ = write!(s, ") AS t({cols})");
        s
    }

    fn code_sets(&self) -> String {
        let c = self.d.binary_collate();
        let mut s = String::new();
        s.push_str("-- Value-set membership, decided once per distinct (kind, system, code) of the events:\n");
        s.push_str("-- prefix, exact, or range (the first characters, as many as the bounds have, between\n");
        s.push_str(
            "-- the bounds by code point; a code shorter than the bounds is compared whole).\n",
        );
        let _ = writeln!(s, "SELECT DISTINCT c.kind, c.system, c.code, p.vs, p.unit");
        let _ = writeln!(
            s,
            "FROM (SELECT DISTINCT kind, system, code FROM events_norm) c"
        );
        let _ = writeln!(
            s,
            "JOIN patterns p ON p.kind = c.kind AND p.system = c.system"
        );
        let _ = writeln!(s, "WHERE CASE p.form");
        let _ = writeln!(s, "    WHEN 'exact' THEN c.code = p.lo");
        let _ = writeln!(
            s,
            "    WHEN 'prefix' THEN substr(c.code, 1, length(p.lo)) = p.lo"
        );
        let _ = writeln!(
            s,
            "    ELSE substr(c.code, 1, length(p.lo)){c} BETWEEN p.lo AND p.hi"
        );
        let _ = write!(s, "END");
        s
    }

    fn matched(&self) -> String {
        let mut s = String::new();
        s.push_str("-- Each event with each value set it matches. A measurement whose unit is present and\n");
        s.push_str("-- differs from the value set's declared unit (trimmed, case-insensitive) matches nothing.\n");
        let _ = writeln!(s, "SELECT e.patient_id, e.date, e.value, m.vs");
        let _ = writeln!(s, "FROM events_norm e");
        let _ = writeln!(
            s,
            "JOIN code_sets m ON m.kind = e.kind AND m.system = e.system AND m.code = e.code"
        );
        let _ = write!(
            s,
            "WHERE m.unit IS NULL OR e.unit IS NULL OR (trim(e.unit) <> '' AND lower(trim(e.unit)) = m.unit)"
        );
        s
    }

    /// The slot an aggregate reads in `vs_aggregates`: its function's
    /// column family and its window (for `active`, the grace period).
    /// `has` and `count` share the count; aggregates of every value set with
    /// the same function and window share one slot.
    fn slot_of(a: &Aggregate) -> Slot {
        let func = match a.func {
            AggFunc::Has | AggFunc::Count => AggFunc::Count,
            f => f,
        };
        let window = match (a.func, a.window) {
            // A grace of 0 days is no grace.
            (AggFunc::Active, Some(Window::Days(0))) => None,
            (_, w) => w,
        };
        Slot { func, window }
    }

    /// The distinct slots of the needed aggregates, in order of first use.
    fn slots(&self) -> Vec<Slot> {
        let mut slots: Vec<Slot> = Vec::new();
        for (a, _) in &self.names.aggregates {
            let slot = Script::slot_of(a);
            if !slots.contains(&slot) {
                slots.push(slot);
            }
        }
        slots
    }

    /// One slot over the matched events of one person and value set (the
    /// group of `vs_aggregates`): a filter on the window only.
    fn slot_sql(&self, slot: Slot) -> String {
        let d = self.d;
        // The window's condition; `None`: all history, no condition.
        let window = match slot.func {
            AggFunc::Active => None,
            _ => window_bound(self.as_of, slot.window)
                .map(|b| format!("date > {}", d.date(&b.format("%Y-%m-%d").to_string()))),
        };
        let with_value = match &window {
            None => "value IS NOT NULL".to_string(),
            Some(c) => format!("{c} AND value IS NOT NULL"),
        };
        let plain = |agg: &str, arg: &str| match &window {
            None => format!("{agg}({arg})"),
            Some(c) => d.filtered(agg, arg, c),
        };
        match slot.func {
            AggFunc::Has | AggFunc::Count => plain("count", "*"),
            AggFunc::Last => d.value_at(true, &with_value),
            AggFunc::First => d.value_at(false, &with_value),
            AggFunc::Min => plain("min", "value"),
            AggFunc::Max => plain("max", "value"),
            AggFunc::Mean => plain("avg", "value"),
            AggFunc::DaysSince => plain("max", "date"),
            AggFunc::DaysSinceFirst => plain("min", "date"),
            AggFunc::Active => {
                let epoch = (self.as_of - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date"))
                    .num_days();
                let day = d.days_between(&d.date("1970-01-01"), "date");
                let supply = format!("coalesce(value, {DEFAULT_SUPPLY_DAYS})");
                let grace = match slot.window {
                    Some(Window::Days(g)) if g > 0 => format!(" + {g}"),
                    _ => String::new(),
                };
                let cond = format!("{supply} <> 0 AND {epoch} < {day} + {supply}{grace}");
                d.filtered("count", "*", &cond)
            }
        }
    }

    fn slot_text(slot: Slot) -> String {
        let name = match slot.func {
            AggFunc::Count => "count/has",
            f => f.name(),
        };
        match (slot.func, slot.window) {
            (AggFunc::Active, Some(w)) => format!("{name}, grace {}", window_text(w)),
            (_, Some(w)) => format!("{name}, {}", window_text(w)),
            (_, None) => format!("{name}, all history"),
        }
    }

    /// Level one: the matched events grouped by person and value set, each
    /// slot computed once per group. The engine's hash aggregation does the
    /// work; each event row evaluates only the slots' window filters.
    fn vs_aggregates(&self) -> String {
        let mut s = String::new();
        s.push_str(
            "-- Level one: per person and value set, every (function, window) the library uses.
",
        );
        s.push_str("-- last/first: value of the latest/earliest event with a value, the largest on a tie of dates.
");
        s.push_str("-- active: as_of < date + supply + grace (in days; supply null = 90, supply 0 never active).
");
        let _ = writeln!(s, "SELECT patient_id, vs,");
        let slots = self.slots();
        for (j, slot) in slots.iter().enumerate() {
            let sep = if j + 1 == slots.len() { "" } else { "," };
            let _ = writeln!(
                s,
                "    {} AS s{j}{sep}  -- {}",
                self.slot_sql(*slot),
                Script::slot_text(*slot)
            );
        }
        let _ = write!(
            s,
            "FROM matched
GROUP BY patient_id, vs"
        );
        s
    }

    /// Level two: one row per person, each aggregate its value set's slot.
    fn aggregates(&self) -> String {
        let d = self.d;
        let slots = self.slots();
        let mut s = String::new();
        s.push_str(
            "-- Level two: one row per person; each aggregate is its value set's slot.
",
        );
        let _ = writeln!(s, "SELECT patient_id,");
        let n = self.names.aggregates.len();
        for (i, (a, col)) in self.names.aggregates.iter().enumerate() {
            let sep = if i + 1 == n { "" } else { "," };
            let slot = Script::slot_of(a);
            let j = slots
                .iter()
                .position(|x| *x == slot)
                .expect("every aggregate has a slot");
            let pick = d.filtered("max", &format!("s{j}"), &format!("vs = {}", a.value_set));
            let _ = writeln!(s, "    {pick} AS {col}{sep}  -- {}", self.agg_text(a));
        }
        let _ = write!(
            s,
            "FROM vs_aggregates
GROUP BY patient_id"
        );
        s
    }

    fn agg_text(&self, a: &Aggregate) -> String {
        let vs = comment(&self.lib.value_sets[a.value_set].name);
        match a.window {
            Some(w) => format!("{}({vs}, {})", a.func.name(), window_text(w)),
            None => format!("{}({vs})", a.func.name()),
        }
    }

    fn person(&self, has_aggs: bool) -> String {
        let d = self.d;
        let mut s = String::new();
        s.push_str("-- Everyone alive with their aggregates (no matching event: has/active false, count 0, others null).\n");
        if !has_aggs {
            let _ = write!(s, "SELECT patient_id, clinic_id, sex, age FROM people");
            return s;
        }
        let _ = writeln!(s, "SELECT p.patient_id, p.clinic_id, p.sex, p.age,");
        let n = self.names.aggregates.len();
        for (i, (a, col)) in self.names.aggregates.iter().enumerate() {
            let sep = if i + 1 == n { "" } else { "," };
            let x = format!("a.{col}");
            let value = match a.func {
                AggFunc::Has | AggFunc::Active => format!("coalesce({x}, 0) > 0"),
                AggFunc::Count => format!("CAST(coalesce({x}, 0) AS {})", d.double()),
                AggFunc::DaysSince | AggFunc::DaysSinceFirst => {
                    format!(
                        "CAST({} AS {})",
                        d.days_between(&x, &self.as_of_lit()),
                        d.double()
                    )
                }
                _ => x,
            };
            let _ = writeln!(s, "    {value} AS {col}{sep}");
        }
        let _ = write!(
            s,
            "FROM people p\nLEFT JOIN aggregates a ON a.patient_id = p.patient_id"
        );
        s
    }

    /// The needed definitions grouped by dependency level (a definition only
    /// uses definitions of earlier levels).
    fn definition_levels(&self) -> Vec<Vec<usize>> {
        let defs = &self.lib.definitions;
        let mut level = vec![0usize; defs.len()];
        let mut levels: Vec<Vec<usize>> = Vec::new();
        for (id, def) in defs.iter().enumerate() {
            if !self.names.is_needed(id) {
                continue;
            }
            let mut l = 0;
            visit_defs(&def.expr, &mut |dep| l = l.max(level[dep] + 1));
            level[id] = l;
            if levels.len() <= l {
                levels.resize(l + 1, Vec::new());
            }
            levels[l].push(id);
        }
        levels
    }

    fn writer(&self) -> ExprWriter<'_> {
        ExprWriter {
            dialect: self.d,
            names: &self.names,
        }
    }

    fn definitions(&self, ids: &[usize], from: &str) -> String {
        let w = self.writer();
        let mut s = String::new();
        let names: Vec<&str> = ids
            .iter()
            .map(|&i| self.lib.definitions[i].name.as_str())
            .collect();
        let _ = writeln!(s, "-- Definitions: {}", comment(&names.join(", ")));
        let _ = writeln!(s, "SELECT *,");
        for (i, &id) in ids.iter().enumerate() {
            let sep = if i + 1 == ids.len() { "" } else { "," };
            let def = &self.lib.definitions[id];
            // Typed, so a definition that is a bare NULL has its type in every engine.
            let value = match w.sql_type(def.expr.ty) {
                Some(t) => format!("CAST({} AS {t})", w.write(&def.expr)),
                None => w.write(&def.expr),
            };
            let _ = writeln!(s, "    {value} AS {}{sep}", self.names.definition(id));
        }
        let _ = write!(s, "FROM {from}");
        s
    }

    fn criteria(&self, from: &str) -> String {
        let w = self.writer();
        let d = self.d;
        let mut s = String::new();
        s.push_str("-- One column per criterion: population IS TRUE AND gap IS TRUE AND exclude IS NOT TRUE.\n");
        let _ = write!(s, "SELECT patient_id, clinic_id");
        for (i, c) in self.lib.criteria.iter().enumerate() {
            let _ = write!(s, ",\n    -- {}: {}", comment(&c.id), comment(&c.title));
            let is = |e: &Expr, negated: bool| d.is_true(&w.operand_atom(e), negated);
            let mut parts = vec![is(&c.population, false), is(&c.gap, false)];
            if let Some(x) = &c.exclude {
                parts.push(is(x, true));
            }
            let _ = write!(s, "\n    {}\n        AS c{i}", parts.join("\n        AND "));
        }
        let _ = write!(s, "\nFROM {from}");
        s
    }

    fn firings_select(&self) -> String {
        let crit: Vec<(String, u8, String)> = self
            .lib
            .criteria
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), c.priority, format!("c{i}")))
            .collect();
        if crit.is_empty() {
            let t = match self.d {
                Dialect::DuckDb => "VARCHAR",
                Dialect::Postgres => "TEXT",
                Dialect::Spark => "STRING",
            };
            return format!(
                "-- The library has no criteria: no firings.\n\
                 SELECT patient_id, clinic_id, CAST(NULL AS {t}) AS criterion_id, CAST(NULL AS INTEGER) AS priority\n\
                 FROM criteria\nWHERE FALSE"
            );
        }
        format!(
            "-- One row per firing.\n{}",
            self.d.unpivot("criteria", &crit).trim_end()
        )
    }

    fn feature_select(&self, from: &str) -> String {
        let w = self.writer();
        let d = self.d;
        let mut s = String::new();
        s.push_str("-- The feature table: numbers as doubles, booleans as booleans, nulls kept.\n");
        let _ = write!(s, "SELECT patient_id, clinic_id");
        for f in &self.lib.features {
            let e = w.write(&f.expr);
            let value = match f.expr.ty {
                crate::lang::ir::Type::Bool => e,
                _ => format!("CAST({e} AS {})", d.double()),
            };
            let _ = write!(s, ",\n    {value} AS {}", d.ident(&f.name));
        }
        let _ = write!(s, "\nFROM {from}");
        s
    }
}

/// Calls `f` on every definition `e` uses directly.
fn visit_defs(e: &Expr, f: &mut impl FnMut(usize)) {
    if let ExprKind::Def(id) = e.kind {
        f(id);
    }
    for_each_child(e, |c| visit_defs(c, f));
}

/// Calls `f` on each direct operand of `e`.
fn for_each_child(e: &Expr, mut f: impl FnMut(&Expr)) {
    match &e.kind {
        ExprKind::Lit(_)
        | ExprKind::Age
        | ExprKind::Sex
        | ExprKind::Clinic
        | ExprKind::Def(_)
        | ExprKind::Agg(_) => {}
        ExprKind::Not(x) | ExprKind::Neg(x) | ExprKind::Abs(x) | ExprKind::Round(x) => f(x),
        ExprKind::IsNull { expr, .. } => f(expr),
        ExprKind::And(a, b)
        | ExprKind::Or(a, b)
        | ExprKind::Cmp(_, a, b)
        | ExprKind::Arith(_, a, b) => {
            f(a);
            f(b);
        }
        ExprKind::Between(a, b, c) | ExprKind::If(a, b, c) => {
            f(a);
            f(b);
            f(c);
        }
        ExprKind::In(x, items) => {
            f(x);
            items.iter().for_each(f);
        }
        ExprKind::Coalesce(es) | ExprKind::Least(es) | ExprKind::Greatest(es) => {
            es.iter().for_each(f)
        }
    }
}
