//! The event pass: one scan over a person's visible events fills every
//! aggregate the plan needs.
//!
//! Per evaluation, [`ScanTables`] resolves value-set membership once per distinct
//! code and unit of the population; per person, [`scan_person`] walks the events
//! dated on or before `as_of` (found by binary search: later events are never
//! read) and updates an accumulator per touched aggregate. Narrower windows
//! of `has`, `days_since` and `last` on a value set are not scanned: they are
//! derived from the widest one afterwards ([`Derived`]).

use std::collections::HashMap;

use crate::data::{Day, EventKind, Population};
use crate::lang::ir::{AggFunc, Window};
use crate::plan::{AggId, Plan};

use super::calendar::window_bound;

/// Default days of supply of a medication whose `value` is null.
pub const DEFAULT_SUPPLY_DAYS: f64 = 90.0;

/// Per-evaluation lookup tables (membership resolved once per distinct code),
/// laid out flat so that an event costs few cache lines. A code's relevant
/// value sets are grouped by the unit check they ask for (most codes: one
/// group, no check), and each group's aggregates are merged into one list
/// sorted by window bound: an event walks one or two [`Segment`]s, not
/// every value set of its code.
pub struct ScanTables {
    /// The segments of code `c` are `segments[code_range[c].0..code_range[c].1]`.
    code_range: Vec<(u32, u32)>,
    segments: Vec<Segment>,
    code_kind: Vec<EventKind>,
    /// Row `r` of the unit checks: `unit_ok[r * n_units + unit]` (value sets
    /// that accept the same units share a row).
    unit_ok: Vec<bool>,
    n_units: usize,
    /// The aggregates of every segment, back to back; each segment's run
    /// sorted by window bound, widest window first (see [`VsAgg`]).
    seg_aggs: Vec<VsAgg>,
    /// The value sets of every segment, back to back (a unit mismatch is
    /// counted for each).
    seg_vs: Vec<u32>,
    /// Per aggregate: its function and grace days (its window bound is in
    /// each [`VsAgg`]).
    aggs: Vec<AggInfo>,
    /// Per aggregate, the narrower windows derived from it:
    /// `derived[derived_range[a].0..derived_range[a].1]` (see [`Derived`]).
    derived_range: Vec<(u32, u32)>,
    derived: Vec<Derived>,
    pub as_of: Day,
}

/// An aggregate the scan does not update: it is derived from a wider window
/// of the same value set after the person's scan. A window always ends at
/// `as_of`, so the latest event of a narrower window is the latest event of
/// the wider one if that is inside the narrower window, and there is none
/// otherwise. So `has` and `days_since` (which read the latest event) come
/// from the widest `has`/`days_since` of their value set, and `last` (the
/// latest event with a value; same-day ties go to the larger value in both)
/// from the widest `last`.
#[derive(Debug, Clone, Copy)]
pub struct Derived {
    pub agg: AggId,
    /// The derived window's exclusive lower date bound: the source's state
    /// holds for it when the source's evidence date is after `bound`.
    pub bound: i64,
}

/// Value sets of one code that ask for the same unit check, with their
/// aggregates merged.
#[derive(Clone, Copy)]
struct Segment {
    /// Row of `unit_ok` when the value sets declare a unit and match
    /// measurements; `NO_UNIT_CHECK` otherwise.
    unit_row: u32,
    /// `seg_aggs[aggs.0..aggs.1]`.
    aggs: (u32, u32),
    /// `seg_vs[vss.0..vss.1]`.
    vss: (u32, u32),
}

const NO_UNIT_CHECK: u32 = u32::MAX;

/// One aggregate of a segment, with what the scan asks of it per event
/// inline. A segment's aggregates are sorted by `bound` ascending, so an
/// event sees a prefix of them: the first whose window does not reach back to
/// the event's date ends the loop (one mispredicted branch per event and
/// segment instead of one per aggregate out of window).
#[derive(Clone, Copy)]
struct VsAgg {
    /// Exclusive lower date bound (`i64::MIN`: all history).
    bound: i64,
    agg: AggId,
    func: AggFunc,
}

#[derive(Clone, Copy)]
struct AggInfo {
    func: AggFunc,
    grace: f64,
}

impl ScanTables {
    pub fn new(plan: &Plan, pop: &Population, as_of: Day) -> ScanTables {
        let unit_accepts: Vec<Option<Vec<bool>>> = plan
            .unit_accepts(&pop.units)
            .into_iter()
            .zip(&plan.value_sets)
            .map(|(acc, vs)| acc.filter(|_| vs.kind == EventKind::Measurement))
            .collect();
        let n_units = pop.units.len();
        let mut unit_ok = Vec::new();
        let mut unit_row = vec![NO_UNIT_CHECK; plan.value_sets.len()];
        // Value sets accepting the same units share a row, hence a segment.
        let mut rows: HashMap<Vec<bool>, u32> = HashMap::new();
        for (vs, acc) in unit_accepts.iter().enumerate() {
            if let Some(acc) = acc {
                let row: Vec<bool> = (0..n_units)
                    .map(|u| acc.get(u).copied().unwrap_or(false))
                    .collect();
                let next = rows.len() as u32;
                unit_row[vs] = *rows.entry(row.clone()).or_insert_with(|| {
                    unit_ok.extend(row);
                    next
                });
            }
        }
        let aggs: Vec<AggInfo> = plan
            .aggregates
            .iter()
            .map(|a| AggInfo {
                func: a.func,
                grace: match (a.func, a.window) {
                    (AggFunc::Active, Some(Window::Days(d))) => d as f64,
                    // The checker accepts only a `d` grace; months never reach here.
                    _ => 0.0,
                },
            })
            .collect();
        // Per aggregate, what the scan asks of it (window bounds computed once,
        // not once per code that reads the aggregate).
        let vs_agg: Vec<VsAgg> = plan
            .aggregates
            .iter()
            .enumerate()
            .map(|(a, agg)| VsAgg {
                bound: match agg.func {
                    // `active` takes a grace period, not a window: all history.
                    AggFunc::Active => i64::MIN,
                    _ => window_bound(as_of, agg.window),
                },
                agg: a as AggId,
                func: agg.func,
            })
            .collect();
        // Windows derived from a wider one (see `Derived`), per value set and
        // family of functions reading the latest event.
        let mut derived_of: Vec<Vec<Derived>> = vec![Vec::new(); plan.aggregates.len()];
        let mut is_derived = vec![false; plan.aggregates.len()];
        for list in &plan.aggregates_of_value_set {
            for family in [
                &[AggFunc::Has, AggFunc::DaysSince][..],
                &[AggFunc::Last][..],
            ] {
                let mut members: Vec<VsAgg> = list
                    .iter()
                    .map(|&a| vs_agg[a as usize])
                    .filter(|x| family.contains(&x.func))
                    .collect();
                // The widest window first (stable: plan order on ties).
                members.sort_by_key(|x| x.bound);
                if let Some((source, rest)) = members.split_first() {
                    for x in rest {
                        is_derived[x.agg as usize] = true;
                        derived_of[source.agg as usize].push(Derived {
                            agg: x.agg,
                            bound: x.bound,
                        });
                    }
                }
            }
        }
        let mut derived_range = Vec::with_capacity(derived_of.len());
        let mut derived = Vec::new();
        for list in derived_of {
            let start = derived.len() as u32;
            derived.extend(list);
            derived_range.push((start, derived.len() as u32));
        }
        let relevant = |vs: usize| {
            !plan.aggregates_of_value_set[vs].is_empty() || unit_row[vs] != NO_UNIT_CHECK
        };
        let mut code_range = Vec::with_capacity(pop.codes.entries.len());
        let (mut segments, mut seg_aggs, mut seg_vs) = (Vec::new(), Vec::new(), Vec::new());
        for vss in plan.resolve_codes(&pop.codes.entries) {
            let start = segments.len() as u32;
            let mut vss: Vec<usize> = vss.into_iter().filter(|&v| relevant(v)).collect();
            // Grouped by unit row (no check first), value sets in plan order.
            vss.sort_by_key(|&v| (unit_row[v].wrapping_add(1), v));
            for group in vss.chunk_by(|&a, &b| unit_row[a] == unit_row[b]) {
                let (a0, v0) = (seg_aggs.len(), seg_vs.len());
                for &v in group {
                    seg_vs.push(v as u32);
                    seg_aggs.extend(
                        plan.aggregates_of_value_set[v]
                            .iter()
                            .filter(|&&a| !is_derived[a as usize])
                            .map(|&a| vs_agg[a as usize]),
                    );
                }
                // Stable: aggregates with one bound keep plan order.
                seg_aggs[a0..].sort_by_key(|x: &VsAgg| x.bound);
                segments.push(Segment {
                    unit_row: unit_row[group[0]],
                    aggs: (a0 as u32, seg_aggs.len() as u32),
                    vss: (v0 as u32, seg_vs.len() as u32),
                });
            }
            code_range.push((start, segments.len() as u32));
        }
        ScanTables {
            code_range,
            segments,
            code_kind: pop.codes.entries.iter().map(|e| e.kind).collect(),
            unit_ok,
            n_units,
            seg_aggs,
            seg_vs,
            aggs,
            derived_range,
            derived,
            as_of,
        }
    }

    /// The aggregates derived from aggregate `a` (see [`Derived`]).
    pub fn derived(&self, a: AggId) -> &[Derived] {
        let (start, end) = self.derived_range[a as usize];
        &self.derived[start as usize..end as usize]
    }

    /// The function of aggregate `a`.
    pub fn func(&self, a: AggId) -> AggFunc {
        self.aggs[a as usize].func
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
    /// The person (scan number) this state belongs to; any other value means
    /// "no event yet" (so the table needs no reset between people).
    stamp: u64,
}

/// Per-thread scratch space for the scan.
pub struct ScanScratch {
    pub acc: Vec<Acc>,
    now: u64,
    pub touched: Vec<AggId>,
}

impl ScanScratch {
    pub fn new(n_aggs: usize) -> ScanScratch {
        ScanScratch {
            acc: vec![Acc::default(); n_aggs],
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
    let visible = ev.date[range.clone()].partition_point(|&d| d <= t.as_of);
    let events = range.start..range.start + visible;
    // The person's visible events, column by column, walked together.
    let columns = ev.code[events.clone()]
        .iter()
        .zip(&ev.date[events.clone()])
        .zip(&ev.value[events.clone()])
        .zip(&ev.has_value[events.clone()])
        .zip(&ev.unit[events]);
    for ((((&code, &date), &raw), &has_value), &unit) in columns {
        let code = code as usize;
        let (start, end) = t.code_range[code];
        if start == end {
            // No value set the plan reads holds the code (tested before
            // slicing: one bounds check fewer for the 9 % of such events).
            continue;
        }
        let segments = &t.segments[start as usize..end as usize];
        let kind = t.code_kind[code];
        // A NaN value is treated as a null value.
        let value = (has_value && !raw.is_nan()).then_some(raw);
        if kind == EventKind::Medication && value.is_some_and(|v| v < 0.0) {
            // A negative supply makes the row unusable: seen by no function.
            continue;
        }
        for g in segments {
            if g.unit_row != NO_UNIT_CHECK
                && !t.unit_ok[g.unit_row as usize * t.n_units + unit as usize]
            {
                for &vs in &t.seg_vs[g.vss.0 as usize..g.vss.1 as usize] {
                    mismatches[vs as usize] += 1;
                }
                continue;
            }
            for x in &t.seg_aggs[g.aggs.0 as usize..g.aggs.1 as usize] {
                if (date as i64) <= x.bound {
                    break;
                }
                update(t, scratch, x, date, value);
            }
        }
    }
}

#[inline]
/// Adds an event inside `x`'s window to `x`'s accumulator.
fn update(t: &ScanTables, s: &mut ScanScratch, x: &VsAgg, date: Day, value: Option<f64>) {
    let ai = x.agg as usize;
    let acc = &mut s.acc[ai];
    if acc.stamp != s.now {
        *acc = Acc {
            stamp: s.now,
            ..Acc::default()
        };
        s.touched.push(x.agg);
    }
    match x.func {
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
            let grace = t.aggs[ai].grace;
            if supply != 0.0 && (t.as_of as f64) < date as f64 + supply + grace {
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
            // Invalid (no value, or a NaN sum of infinities) holds 0, as an
            // empty aggregate does: no column holds NaN, not even under its
            // validity mask.
            let m = acc.x / acc.n as f64;
            if some && !m.is_nan() {
                (m, true)
            } else {
                (0.0, false)
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A `mean` with no value, or whose sum is NaN (`inf + -inf`), is null and
    /// holds 0 like an empty aggregate: no column holds NaN under its mask.
    #[test]
    fn invalid_mean_holds_zero_not_nan() {
        let no_value = Acc::default();
        assert_eq!(finish(AggFunc::Mean, &no_value, 100), (0.0, false));
        let nan_sum = Acc {
            n: 2,
            x: f64::INFINITY + f64::NEG_INFINITY,
            ..Acc::default()
        };
        assert_eq!(finish(AggFunc::Mean, &nan_sum, 100), (0.0, false));
        let two = Acc {
            n: 2,
            x: 7.0,
            ..Acc::default()
        };
        assert_eq!(finish(AggFunc::Mean, &two, 100), (3.5, true));
    }
}
