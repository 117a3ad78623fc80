//! A slow, obviously correct reference evaluator, written straight from
//! `spec/criteria-language.md` and `spec/data-model.md`, row by row, person by
//! person, expression tree by expression tree. It shares nothing with the
//! engine except the input types (`Population`, the checked IR): no plan, no
//! membership tables, no calendar helpers, no kernels.
//!
//! Decisions the spec leaves open follow the engine's documented choices:
//! a NaN data value is a null value; an arithmetic result that is NaN is null;
//! a medication with a negative supply is seen by no function; the unit rule
//! applies to measurements only.

#![allow(dead_code)]

use caregap::data::{Day, EventKind, Population};
use caregap::lang::ir::{
    AggFunc, Aggregate, ArithOp, CmpOp, Expr, ExprKind, Library, Literal, Pattern, ValueSet, Window,
};
use chrono::{Datelike, NaiveDate};

/// A value of the language.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Num(f64),
    Str(String),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefStatus {
    NotInPopulation,
    Excluded,
    Open,
    Closed,
}

/// What the reference says about one person alive on `as_of`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefPerson {
    pub status: Vec<RefStatus>,
    /// Per feature: null, or the number (booleans as 1/0).
    pub features: Vec<Option<f64>>,
}

pub struct RefResult {
    /// Per patient of the population: `None` when not alive on `as_of`.
    pub people: Vec<Option<RefPerson>>,
    /// Per value set: measurements set aside for their unit.
    pub unit_mismatches: Vec<u64>,
}

fn date(day: Day) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(day as i64)
}

fn day_of(d: NaiveDate) -> Day {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as Day
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// `as_of - W` as a date: months by calendar, clamping the day to month end.
fn minus_window(as_of: Day, w: Window) -> Day {
    match w {
        Window::Days(d) => as_of - d as i32,
        Window::Months(m) => {
            let a = date(as_of);
            let total = a.year() * 12 + (a.month() as i32 - 1) - m as i32;
            let (y, mo) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
            let dd = a.day().min(days_in_month(y, mo));
            day_of(NaiveDate::from_ymd_opt(y, mo, dd).unwrap())
        }
    }
}

/// `as_of - W < date <= as_of` (no window: `date <= as_of`).
fn in_window(d: Day, as_of: Day, w: Option<Window>) -> bool {
    d <= as_of && w.is_none_or(|w| minus_window(as_of, w) < d)
}

fn age(birth: Day, as_of: Day) -> f64 {
    let (b, a) = (date(birth), date(as_of));
    let mut years = a.year() - b.year();
    if a.month() < b.month() || (a.month() == b.month() && a.day() < b.day()) {
        years -= 1;
    }
    years as f64
}

fn pattern_matches(p: &Pattern, code: &str) -> bool {
    match p {
        Pattern::Prefix(x) => code.starts_with(x.as_str()),
        Pattern::Exact(x) => code == x,
        Pattern::Range(lo, hi) => {
            // Spec: the first characters, as many as the bounds have, between the
            // bounds by code point; a shorter code is compared whole.
            let chars: Vec<char> = code.chars().collect();
            let n = lo.chars().count().min(chars.len());
            let head: Vec<char> = chars[..n].to_vec();
            let lo: Vec<char> = lo.chars().collect();
            let hi: Vec<char> = hi.chars().collect();
            lo <= head && head <= hi
        }
    }
}

/// One visible event of a person.
#[derive(Debug, Clone)]
struct Ev {
    kind: EventKind,
    system: String,
    code: String,
    date: Day,
    value: Option<f64>,
    unit: Option<String>,
}

struct Person<'a> {
    lib: &'a Library,
    as_of: Day,
    birth: Day,
    sex: Option<String>,
    clinic: Option<String>,
    events: Vec<Ev>,
}

fn vs_matches_code(vs: &ValueSet, ev: &Ev) -> bool {
    ev.kind == vs.kind
        && vs.systems.iter().any(|(sys, pats)| {
            sys.to_uppercase() == ev.system.to_uppercase()
                && pats.iter().any(|p| pattern_matches(p, &ev.code))
        })
}

fn unit_differs(vs: &ValueSet, ev: &Ev) -> bool {
    match (&vs.unit, &ev.unit, ev.kind) {
        (Some(declared), Some(u), EventKind::Measurement) => {
            // An empty or blank unit is a unit that matches no declared unit.
            u.trim().is_empty() || u.trim().to_lowercase() != declared.trim().to_lowercase()
        }
        _ => false,
    }
}

impl Person<'_> {
    fn matching(&self, vs: usize) -> Vec<&Ev> {
        let vs = &self.lib.value_sets[vs];
        self.events
            .iter()
            .filter(|e| vs_matches_code(vs, e) && !unit_differs(vs, e))
            .collect()
    }

    fn agg(&self, a: &Aggregate) -> V {
        let evs = self.matching(a.value_set);
        let as_of = self.as_of;
        match a.func {
            AggFunc::Has => V::Bool(evs.iter().any(|e| in_window(e.date, as_of, a.window))),
            AggFunc::Count => V::Num(
                evs.iter()
                    .filter(|e| in_window(e.date, as_of, a.window))
                    .count() as f64,
            ),
            AggFunc::DaysSince | AggFunc::DaysSinceFirst => {
                let dates: Vec<Day> = evs
                    .iter()
                    .filter(|e| in_window(e.date, as_of, a.window))
                    .map(|e| e.date)
                    .collect();
                let pick = if a.func == AggFunc::DaysSince {
                    dates.iter().max()
                } else {
                    dates.iter().min()
                };
                pick.map_or(V::Null, |d| V::Num((as_of - d) as f64))
            }
            AggFunc::Active => {
                let grace = match a.window {
                    Some(Window::Days(d)) => d as f64,
                    None => 0.0,
                    Some(Window::Months(_)) => panic!("grace must be days"),
                };
                V::Bool(evs.iter().any(|e| {
                    let supply = e.value.unwrap_or(90.0);
                    e.date <= as_of
                        && supply != 0.0
                        && (as_of as f64) < e.date as f64 + supply + grace
                }))
            }
            _ => {
                let vals: Vec<(Day, f64)> = evs
                    .iter()
                    .filter(|e| in_window(e.date, as_of, a.window))
                    .filter_map(|e| e.value.map(|v| (e.date, v)))
                    .collect();
                if vals.is_empty() {
                    return V::Null;
                }
                match a.func {
                    AggFunc::Last => {
                        let d = vals.iter().map(|x| x.0).max().unwrap();
                        V::Num(max_of(vals.iter().filter(|x| x.0 == d).map(|x| x.1)))
                    }
                    AggFunc::First => {
                        let d = vals.iter().map(|x| x.0).min().unwrap();
                        V::Num(max_of(vals.iter().filter(|x| x.0 == d).map(|x| x.1)))
                    }
                    AggFunc::Min => V::Num(vals.iter().map(|x| x.1).fold(f64::INFINITY, f64::min)),
                    AggFunc::Max => V::Num(max_of(vals.iter().map(|x| x.1))),
                    AggFunc::Mean => {
                        let m = vals.iter().map(|x| x.1).sum::<f64>() / vals.len() as f64;
                        if m.is_nan() { V::Null } else { V::Num(m) }
                    }
                    _ => unreachable!(),
                }
            }
        }
    }

    fn eval(&self, e: &Expr) -> V {
        match &e.kind {
            ExprKind::Lit(Literal::Num(x)) => V::Num(*x),
            ExprKind::Lit(Literal::Str(s)) => V::Str(s.clone()),
            ExprKind::Lit(Literal::Bool(b)) => V::Bool(*b),
            ExprKind::Lit(Literal::Null) => V::Null,
            ExprKind::Age => V::Num(age(self.birth, self.as_of)),
            ExprKind::Sex => self.sex.clone().map_or(V::Null, V::Str),
            ExprKind::Clinic => self.clinic.clone().map_or(V::Null, V::Str),
            ExprKind::Def(d) => self.eval(&self.lib.definitions[*d].expr),
            ExprKind::Agg(a) => self.agg(a),
            ExprKind::Not(x) => match self.eval(x) {
                V::Bool(b) => V::Bool(!b),
                _ => V::Null,
            },
            ExprKind::Neg(x) => num1(self.eval(x), |v| -v),
            ExprKind::Abs(x) => num1(self.eval(x), f64::abs),
            ExprKind::Round(x) => num1(self.eval(x), |v| {
                // Halves away from zero, by hand.
                let t = v.abs().trunc();
                let r = if v.abs() - t >= 0.5 { t + 1.0 } else { t };
                if v < 0.0 { -r } else { r }
            }),
            ExprKind::And(a, b) => and3(self.eval(a), self.eval(b)),
            ExprKind::Or(a, b) => or3(self.eval(a), self.eval(b)),
            ExprKind::Cmp(op, a, b) => cmp3(*op, &self.eval(a), &self.eval(b)),
            ExprKind::Arith(op, a, b) => match (self.eval(a), self.eval(b)) {
                (V::Num(x), V::Num(y)) => {
                    let r = match op {
                        ArithOp::Add => x + y,
                        ArithOp::Sub => x - y,
                        ArithOp::Mul => x * y,
                        ArithOp::Div if y == 0.0 => return V::Null,
                        ArithOp::Div => x / y,
                    };
                    if r.is_nan() { V::Null } else { V::Num(r) }
                }
                _ => V::Null,
            },
            ExprKind::Between(x, lo, hi) => {
                let x = self.eval(x);
                and3(
                    cmp3(CmpOp::Ge, &x, &self.eval(lo)),
                    cmp3(CmpOp::Le, &x, &self.eval(hi)),
                )
            }
            ExprKind::In(x, items) => {
                let x = self.eval(x);
                let items: Vec<V> = items.iter().map(|i| self.eval(i)).collect();
                if x != V::Null && items.iter().any(|i| *i != V::Null && same(&x, i)) {
                    V::Bool(true)
                } else if x == V::Null || items.contains(&V::Null) {
                    V::Null
                } else {
                    V::Bool(false)
                }
            }
            ExprKind::IsNull { expr, negated } => V::Bool((self.eval(expr) == V::Null) != *negated),
            ExprKind::If(c, a, b) => {
                if self.eval(c) == V::Bool(true) {
                    self.eval(a)
                } else {
                    self.eval(b)
                }
            }
            ExprKind::Coalesce(items) => items
                .iter()
                .map(|i| self.eval(i))
                .find(|v| *v != V::Null)
                .unwrap_or(V::Null),
            ExprKind::Least(items) | ExprKind::Greatest(items) => {
                let least = matches!(e.kind, ExprKind::Least(_));
                let nums: Vec<f64> = items
                    .iter()
                    .filter_map(|i| match self.eval(i) {
                        V::Num(x) => Some(x),
                        _ => None,
                    })
                    .collect();
                if nums.is_empty() {
                    V::Null
                } else if least {
                    V::Num(nums.iter().copied().fold(f64::INFINITY, f64::min))
                } else {
                    V::Num(max_of(nums.into_iter()))
                }
            }
        }
    }
}

fn max_of(it: impl Iterator<Item = f64>) -> f64 {
    it.fold(f64::NEG_INFINITY, f64::max)
}

fn num1(v: V, f: impl Fn(f64) -> f64) -> V {
    match v {
        V::Num(x) => V::Num(f(x)),
        _ => V::Null,
    }
}

fn and3(a: V, b: V) -> V {
    match (a, b) {
        (V::Bool(false), _) | (_, V::Bool(false)) => V::Bool(false),
        (V::Bool(true), V::Bool(true)) => V::Bool(true),
        _ => V::Null,
    }
}

fn or3(a: V, b: V) -> V {
    match (a, b) {
        (V::Bool(true), _) | (_, V::Bool(true)) => V::Bool(true),
        (V::Bool(false), V::Bool(false)) => V::Bool(false),
        _ => V::Null,
    }
}

fn same(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Num(x), V::Num(y)) => x == y,
        (V::Str(x), V::Str(y)) => x == y,
        (V::Bool(x), V::Bool(y)) => x == y,
        _ => false,
    }
}

fn cmp3(op: CmpOp, a: &V, b: &V) -> V {
    if *a == V::Null || *b == V::Null {
        return V::Null;
    }
    match op {
        CmpOp::Eq => V::Bool(same(a, b)),
        CmpOp::Ne => V::Bool(!same(a, b)),
        _ => {
            let (V::Num(x), V::Num(y)) = (a, b) else {
                panic!("ordering comparison of non-numbers: {a:?} {b:?}")
            };
            V::Bool(match op {
                CmpOp::Lt => x < y,
                CmpOp::Le => x <= y,
                CmpOp::Gt => x > y,
                CmpOp::Ge => x >= y,
                _ => unreachable!(),
            })
        }
    }
}

/// Evaluates the whole library for every person of the population.
pub fn evaluate(lib: &Library, pop: &Population, as_of: Day) -> RefResult {
    let pats = &pop.patients;
    let mut mismatches = vec![0u64; lib.value_sets.len()];
    let mut people = Vec::new();
    for p in 0..pats.len() {
        let born = pats.birth_date[p];
        let dead = pats.death_date[p];
        if !(born <= as_of && dead.is_none_or(|d| d > as_of)) {
            people.push(None);
            continue;
        }
        let mut events = Vec::new();
        let (lo, hi) = (
            pop.events.offsets[p] as usize,
            pop.events.offsets[p + 1] as usize,
        );
        for e in lo..hi {
            let d = pop.events.date[e];
            if d > as_of {
                continue;
            }
            let entry = &pop.codes.entries[pop.events.code[e] as usize];
            let raw = pop.events.value[e];
            let value = (pop.events.has_value[e] && !raw.is_nan()).then_some(raw);
            if entry.kind == EventKind::Medication && value.is_some_and(|v| v < 0.0) {
                continue;
            }
            let unit = pop.events.unit[e] as usize;
            events.push(Ev {
                kind: entry.kind,
                system: entry.system.clone(),
                code: entry.code.clone(),
                date: d,
                value,
                unit: (unit != 0).then(|| pop.units[unit].clone()),
            });
        }
        for (i, vs) in lib.value_sets.iter().enumerate() {
            mismatches[i] += events
                .iter()
                .filter(|e| vs_matches_code(vs, e) && unit_differs(vs, e))
                .count() as u64;
        }
        let person = Person {
            lib,
            as_of,
            birth: born,
            sex: pats.sex.get(p).map(str::to_string),
            clinic: pats.clinic.get(p).map(str::to_string),
            events,
        };
        let status = lib
            .criteria
            .iter()
            .map(|c| {
                let pop_true = person.eval(&c.population) == V::Bool(true);
                let excl = c
                    .exclude
                    .as_ref()
                    .is_some_and(|x| person.eval(x) == V::Bool(true));
                let gap = person.eval(&c.gap) == V::Bool(true);
                match (pop_true, excl, gap) {
                    (false, _, _) => RefStatus::NotInPopulation,
                    (true, true, _) => RefStatus::Excluded,
                    (true, false, true) => RefStatus::Open,
                    (true, false, false) => RefStatus::Closed,
                }
            })
            .collect();
        let features = lib
            .features
            .iter()
            .map(|f| match person.eval(&f.expr) {
                V::Null => None,
                V::Num(x) => Some(x),
                V::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
                V::Str(s) => panic!("string feature {s}"),
            })
            .collect();
        people.push(Some(RefPerson { status, features }));
    }
    RefResult {
        people,
        unit_mismatches: mismatches,
    }
}
