//! The event pass: one scan over a person's visible events fills every
//! aggregate the plan needs.
//!
//! Per evaluation, [`ScanTables`] resolves value-set membership once per distinct
//! code and unit of the population; per person, [`scan_person`] walks the events
//! dated on or before `as_of` (found by binary search: later events are never
//! read) and updates an accumulator per touched aggregate.

use crate::data::{Day, EventKind, Population};
use crate::lang::ir::{AggFunc, Window};
use crate::plan::{AggId, Plan};

use super::calendar::window_bound;

/// Default days of supply of a medication whose `value` is null.
pub const DEFAULT_SUPPLY_DAYS: f64 = 90.0;

/// Per-evaluation lookup tables (membership resolved once per distinct code).
pub struct ScanTables {
    /// CSR: value sets (with aggregates or a unit to check) of code `c` are
    /// `code_vs[code_off[c]..code_off[c+1]]`.
    code_off: Vec<u32>,
    code_vs: Vec<u32>,
    code_kind: Vec<EventKind>,
    /// Per value set: `Some(accepts[unit])` when it declares a unit and matches
    /// measurements.
    unit_ok: Vec<Option<Vec<bool>>>,
    /// Per value set, its aggregates.
    vs_aggs: Vec<Vec<AggId>>,
    /// Per aggregate: its function, exclusive lower date bound, grace days.
    pub funcs: Vec<AggFunc>,
    bounds: Vec<i64>,
    grace: Vec<f64>,
    pub as_of: Day,
}

impl ScanTables {
    pub fn new(plan: &Plan, pop: &Population, as_of: Day) -> ScanTables {
        let unit_ok: Vec<Option<Vec<bool>>> = plan
            .unit_accepts(&pop.units)
            .into_iter()
            .zip(&plan.value_sets)
            .map(|(acc, vs)| acc.filter(|_| vs.kind == EventKind::Measurement))
            .collect();
        let relevant: Vec<bool> = (0..plan.value_sets.len())
            .map(|vs| !plan.aggregates_of_value_set[vs].is_empty() || unit_ok[vs].is_some())
            .collect();
        let mut code_off = Vec::with_capacity(pop.codes.entries.len() + 1);
        let mut code_vs = Vec::new();
        code_off.push(0);
        for vss in plan.resolve_codes(&pop.codes.entries) {
            code_vs.extend(vss.into_iter().filter(|&v| relevant[v]).map(|v| v as u32));
            code_off.push(code_vs.len() as u32);
        }
        let funcs = plan.aggregates.iter().map(|a| a.func).collect();
        let bounds = plan
            .aggregates
            .iter()
            .map(|a| match a.func {
                // `active` takes a grace period, not a window: all history.
                AggFunc::Active => i64::MIN,
                _ => window_bound(as_of, a.window),
            })
            .collect();
        let grace = plan
            .aggregates
            .iter()
            .map(|a| match (a.func, a.window) {
                (AggFunc::Active, Some(Window::Days(d))) => d as f64,
                // The checker accepts only a `d` grace; months never reach here.
                _ => 0.0,
            })
            .collect();
        ScanTables {
            code_off,
            code_vs,
            code_kind: pop.codes.entries.iter().map(|e| e.kind).collect(),
            unit_ok,
            vs_aggs: plan.aggregates_of_value_set.clone(),
            funcs,
            bounds,
            grace,
            as_of,
        }
    }

    pub fn n_value_sets(&self) -> usize {
        self.vs_aggs.len()
    }
}

/// The running state of one aggregate for one person.
#[derive(Debug, Clone, Copy, Default)]
pub struct Acc {
    /// Events counted (meaning depends on the function, see `update`).
    pub n: u32,
    /// The evidence date (latest, earliest or of the chosen value).
    pub day: Day,
    /// The chosen value (last, first, min, max) or the sum (mean).
    pub x: f64,
}

/// Per-thread scratch space for the scan.
pub struct ScanScratch {
    pub acc: Vec<Acc>,
    stamp: Vec<u64>,
    now: u64,
    pub touched: Vec<AggId>,
}

impl ScanScratch {
    pub fn new(n_aggs: usize) -> ScanScratch {
        ScanScratch {
            acc: vec![Acc::default(); n_aggs],
            stamp: vec![0; n_aggs],
            now: 0,
            touched: Vec::new(),
        }
    }
}

/// Scans the events of patient `p` dated on or before `t.as_of`; afterwards
/// `scratch.touched` lists the aggregates with state and `scratch.acc` holds it.
/// Unit mismatches are added to `mismatches` (per value set).
pub fn scan_person(
    t: &ScanTables,
    pop: &Population,
    p: usize,
    scratch: &mut ScanScratch,
    mismatches: &mut [u64],
) {
    scratch.now += 1;
    scratch.touched.clear();
    let ev = &pop.events;
    let range = ev.range(p);
    let dates = &ev.date[range.clone()];
    let end = range.start + dates.partition_point(|&d| d <= t.as_of);
    for e in range.start..end {
        let code = ev.code[e] as usize;
        let vss = &t.code_vs[t.code_off[code] as usize..t.code_off[code + 1] as usize];
        if vss.is_empty() {
            continue;
        }
        let kind = t.code_kind[code];
        let date = ev.date[e];
        // A NaN value is treated as a null value.
        let value = (ev.has_value[e] && !ev.value[e].is_nan()).then_some(ev.value[e]);
        if kind == EventKind::Medication && value.is_some_and(|v| v < 0.0) {
            // A negative supply makes the row unusable: seen by no function.
            continue;
        }
        for &vs in vss {
            let vs = vs as usize;
            if let Some(ok) = &t.unit_ok[vs]
                && !ok[ev.unit[e] as usize]
            {
                mismatches[vs] += 1;
                continue;
            }
            for &a in &t.vs_aggs[vs] {
                update(t, scratch, a, date, value);
            }
        }
    }
}

#[inline]
fn update(t: &ScanTables, s: &mut ScanScratch, a: AggId, date: Day, value: Option<f64>) {
    let ai = a as usize;
    if (date as i64) <= t.bounds[ai] {
        return;
    }
    if s.stamp[ai] != s.now {
        s.stamp[ai] = s.now;
        s.acc[ai] = Acc::default();
        s.touched.push(a);
    }
    let acc = &mut s.acc[ai];
    match t.funcs[ai] {
        AggFunc::Has | AggFunc::Count | AggFunc::DaysSince => {
            if acc.n == 0 || date > acc.day {
                acc.day = date;
            }
            acc.n += 1;
        }
        AggFunc::DaysSinceFirst => {
            if acc.n == 0 || date < acc.day {
                acc.day = date;
            }
            acc.n += 1;
        }
        AggFunc::Last => {
            if let Some(v) = value
                && (acc.n == 0 || date > acc.day || (date == acc.day && v > acc.x))
            {
                acc.day = date;
                acc.x = v;
                acc.n += 1;
            }
        }
        AggFunc::First => {
            if let Some(v) = value
                && (acc.n == 0 || date < acc.day || (date == acc.day && v > acc.x))
            {
                acc.day = date;
                acc.x = v;
                acc.n += 1;
            }
        }
        AggFunc::Min => {
            if let Some(v) = value
                && (acc.n == 0 || v < acc.x || (v == acc.x && date > acc.day))
            {
                acc.day = date;
                acc.x = v;
                acc.n += 1;
            }
        }
        AggFunc::Max => {
            if let Some(v) = value
                && (acc.n == 0 || v > acc.x || (v == acc.x && date > acc.day))
            {
                acc.day = date;
                acc.x = v;
                acc.n += 1;
            }
        }
        AggFunc::Mean => {
            if let Some(v) = value {
                if acc.n == 0 || date > acc.day {
                    acc.day = date;
                }
                acc.x += v;
                acc.n += 1;
            }
        }
        AggFunc::Active => {
            let supply = value.unwrap_or(DEFAULT_SUPPLY_DAYS);
            // A supply of 0 is never active, whatever the grace.
            if supply != 0.0 && (t.as_of as f64) < date as f64 + supply + t.grace[ai] {
                if acc.n == 0 || date > acc.day {
                    acc.day = date;
                }
                acc.n += 1;
            }
        }
    }
}

/// The value of a finished aggregate: `(value, valid)`; booleans are 0/1.
#[inline]
pub fn finish(func: AggFunc, acc: &Acc, as_of: Day) -> (f64, bool) {
    let some = acc.n > 0;
    match func {
        AggFunc::Has | AggFunc::Active => (some as u8 as f64, true),
        AggFunc::Count => (acc.n as f64, true),
        AggFunc::Last | AggFunc::First | AggFunc::Min | AggFunc::Max => (acc.x, some),
        AggFunc::Mean => {
            let m = acc.x / acc.n as f64;
            (m, some && !m.is_nan())
        }
        AggFunc::DaysSince | AggFunc::DaysSinceFirst => ((as_of - acc.day) as f64, some),
    }
}

/// The value of an aggregate no event touched.
pub fn empty(func: AggFunc) -> (f64, bool) {
    match func {
        AggFunc::Has | AggFunc::Active | AggFunc::Count => (0.0, true),
        _ => (0.0, false),
    }
}
