//! Does outreach close gaps? (`caregap effect`; method and limits in
//! `docs/effect.md`.)
//!
//! The data folder's outreach log says who was contacted when, about which
//! criterion, and with what outcome. The engine scores the population at past
//! dates (a grid every `grid_days` days back from `as_of`; events after a date
//! are never read at it), so for every contact we know whether the gap was
//! open at the grid date on or before the contact (`g`), and whether it was
//! closed at `g + H` for each horizon H (30, 90, 180 days; a multiple of the
//! grid step). Units:
//!
//! - a **contact**: a row of the log about a criterion of the library, dated in
//!   the `lookback_days` before `as_of`, whose gap was open at `g`;
//! - a **not-contacted** person-day: a person with the gap open at a grid date
//!   `g` and no contact at all (any criterion, any outcome) from
//!   `g - control_gap_days` to `g + H`.
//!
//! At horizon H a unit is *closed* when the criterion's status at `g + H` is
//! `closed`; still `open` is not closed; anything else (excluded, out of the
//! population, dead) is censored and leaves that horizon, as is a unit
//! whose `g + H` is after `as_of`.
//!
//! Per criterion, outcome (booked, declined, no_answer, not_reachable, reached
//! = booked or declined, not_contacted) and horizon: the share closed with a
//! Wilson 95 % interval, and for the contacted outcomes the difference from the
//! not-contacted in the same stratum — same criterion, same grid date, same
//! age band (10 years) and same band of the highest priority among the
//! person's open gaps (1–4, 5–7, 8–10) — combined over strata with
//! Mantel–Haenszel weights `n1 n0 / (n1 + n0)`, with a normal 95 % interval
//! from the strata's binomial variances. Observational: see `docs/effect.md`.

use super::RunError;
use crate::data::{self, Day, LoadOptions, format_day};
use crate::eval::{self, EvalOptions, Status};
use crate::lang;
use crate::output::{self, write_file_atomic};
use crate::plan;
use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

/// Outcomes reported, in order; the first four are the log's own.
pub const OUTCOMES: [&str; 6] = [
    "booked",
    "declined",
    "no_answer",
    "not_reachable",
    "reached",
    "not_contacted",
];

/// Options of [`estimate`].
#[derive(Debug, Clone, PartialEq)]
pub struct EffectOptions {
    /// Days after the contact's grid date at which closure is read.
    pub horizons: Vec<u32>,
    /// Days between scoring dates; must divide every horizon.
    pub grid_days: u32,
    /// Contacts dated in the `lookback_days` before `as_of` are used.
    pub lookback_days: u32,
    /// A not-contacted person-day has no contact from this many days before
    /// the grid date to the horizon's end.
    pub control_gap_days: u32,
    /// Counts under this are suppressed in the outputs.
    pub min_cell: u64,
}

impl Default for EffectOptions {
    fn default() -> Self {
        EffectOptions {
            horizons: vec![30, 90, 180],
            grid_days: 15,
            lookback_days: 730,
            control_gap_days: 180,
            min_cell: 5,
        }
    }
}

/// One criterion × outcome × horizon. Suppressed counts are `None`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EffectRow {
    pub criterion: String,
    pub outcome: String,
    pub horizon_days: u32,
    /// Units (contacts, or not-contacted person-days) with the gap open.
    pub units: Option<u64>,
    pub closed: Option<u64>,
    pub share: Option<f64>,
    pub share_low: Option<f64>,
    pub share_high: Option<f64>,
    /// Contacted units in strata that have not-contacted units too.
    pub matched: Option<u64>,
    /// Stratified difference in the share closed, contacted − not contacted.
    pub difference: Option<f64>,
    pub difference_low: Option<f64>,
    pub difference_high: Option<f64>,
}

/// The estimate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Effect {
    pub as_of: String,
    pub grid_days: u32,
    pub lookback_days: u32,
    pub control_gap_days: u32,
    pub min_cell: u64,
    /// Scoring dates evaluated.
    pub dates: usize,
    /// Contacts read (about a criterion of the library, in the lookback).
    pub contacts_read: u64,
    pub rows: Vec<EffectRow>,
}

/// Counts of one stratum: not contacted, then the log's four outcomes.
#[derive(Default, Clone, Copy)]
struct Cell {
    n: [u64; 5],
    x: [u64; 5],
}

fn age_band(birth: Day, at: Day) -> u8 {
    let years = (at - birth).max(0) / 365;
    (years / 10).min(9) as u8
}

fn prio_band(p: u8) -> u8 {
    match p {
        0 => 0,
        1..=4 => 1,
        5..=7 => 2,
        _ => 3,
    }
}

const NOT_ALIVE: u8 = 255;

/// Estimates closure shares and stratified differences; see the module docs.
/// `progress` is called with the number of scoring dates done.
pub fn estimate(
    data_dir: &Path,
    library: &Path,
    as_of: Day,
    opts: &EffectOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Effect, RunError> {
    let step = opts.grid_days;
    if step == 0 || opts.horizons.iter().any(|h| *h == 0 || h % step != 0) {
        return Err(RunError::new(
            library,
            format!(
                "the grid step ({step} days) must divide every horizon ({:?})",
                opts.horizons
            ),
        ));
    }
    let files = super::library::read_library(library).map_err(|e| RunError::new(library, e))?;
    let (lib, diags) = lang::compile_library(&files);
    let Some(lib) = lib else {
        let n = diags.iter().filter(|d| d.is_error()).count();
        return Err(RunError::new(
            library,
            format!("the library has {n} errors; see `caregap check`"),
        ));
    };
    let plan = plan::compile(&lib);
    let ds = data::load(data_dir, &LoadOptions::new(as_of))
        .map_err(|e| RunError::new(data_dir, format!("cannot load the population: {e}")))?;
    let pop = &ds.population;
    let n_people = pop.patients.len();

    // Contacts in the lookback about a criterion of the library.
    let crit_index: HashMap<&str, usize> = plan
        .criteria
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let from = as_of - opts.lookback_days as Day;
    let mut wanted: Vec<usize> = Vec::new(); // plan indices of the criteria contacted about
    let mut contacts: Vec<(u32, Day, usize, usize)> = Vec::new(); // person, date, local crit, outcome
    let mut contact_days: HashMap<u32, Vec<Day>> = HashMap::new();
    for c in &ds.outreach.rows {
        if c.date > as_of {
            continue;
        }
        contact_days.entry(c.patient).or_default().push(c.date);
        if c.date <= from {
            continue;
        }
        let Some(&ci) = c.criterion_id.as_deref().and_then(|id| crit_index.get(id)) else {
            continue;
        };
        let local = match wanted.iter().position(|&w| w == ci) {
            Some(l) => l,
            None => {
                wanted.push(ci);
                wanted.len() - 1
            }
        };
        let o = OUTCOMES
            .iter()
            .position(|o| *o == c.outcome.as_str())
            .unwrap_or(0);
        contacts.push((c.patient, c.date, local, o));
    }
    for v in contact_days.values_mut() {
        v.sort_unstable();
    }

    // Scoring at the grid dates: per date, the wanted criteria's statuses
    // and everyone's stratum.
    let k_max = opts.lookback_days.div_ceil(step) as usize;
    let grid: Vec<Day> = (0..=k_max)
        .map(|k| as_of - (k as u32 * step) as Day)
        .collect();
    let mut status: Vec<Vec<Vec<u8>>> = Vec::with_capacity(grid.len());
    let mut strata: Vec<Vec<u8>> = Vec::with_capacity(grid.len());
    for (k, &g) in grid.iter().enumerate() {
        let ev = eval::evaluate(&plan, pop, g, &EvalOptions::default())
            .map_err(|e| RunError::new(data_dir, format!("scoring at {}: {e}", format_day(g))))?;
        let mut st = vec![vec![NOT_ALIVE; n_people]; wanted.len()];
        for (l, &ci) in wanted.iter().enumerate() {
            for (i, &p) in ev.alive.iter().enumerate() {
                st[l][p as usize] = ev.status[ci][i] as u8;
            }
        }
        let mut top = vec![0u8; ev.alive.len()];
        for (ci, col) in ev.status.iter().enumerate() {
            let pr = plan.criteria[ci].priority;
            for (t, s) in top.iter_mut().zip(col) {
                if *s == Status::Open && pr > *t {
                    *t = pr;
                }
            }
        }
        let mut sa = vec![NOT_ALIVE; n_people];
        for (i, &p) in ev.alive.iter().enumerate() {
            let birth = pop.patients.birth_date[p as usize];
            sa[p as usize] = age_band(birth, g) * 4 + prio_band(top[i]);
        }
        status.push(st);
        strata.push(sa);
        progress(k + 1);
    }

    let open = Status::Open as u8;
    let closed_at = |l: usize, k: usize, h: u32, p: u32| -> Option<bool> {
        let kh = k.checked_sub((h / step) as usize)?;
        match status[kh][l][p as usize] {
            s if s == Status::Closed as u8 => Some(true),
            s if s == open => Some(false),
            _ => None,
        }
    };
    // (criterion, horizon, grid date, stratum) → counts.
    let mut cells: BTreeMap<(usize, u32, usize, u8), Cell> = BTreeMap::new();
    let mut contacts_read = 0u64;
    for &(p, d, l, o) in &contacts {
        let k = ((as_of - d) as u32).div_ceil(step) as usize;
        if k > k_max || status[k][l][p as usize] != open {
            continue;
        }
        contacts_read += 1;
        for &h in &opts.horizons {
            if let Some(c) = closed_at(l, k, h, p) {
                let cell = cells.entry((l, h, k, strata[k][p as usize])).or_default();
                cell.n[o + 1] += 1;
                cell.x[o + 1] += c as u64;
            }
        }
    }
    let gap = opts.control_gap_days as Day;
    for (k, &g) in grid.iter().enumerate() {
        for (l, st) in status[k].iter().enumerate() {
            for p in 0..n_people as u32 {
                if st[p as usize] != open {
                    continue;
                }
                let days = contact_days.get(&p);
                for &h in &opts.horizons {
                    let contacted = days.is_some_and(|v| {
                        let i = v.partition_point(|&x| x < g - gap);
                        i < v.len() && v[i] <= g + h as Day
                    });
                    if contacted {
                        continue;
                    }
                    if let Some(c) = closed_at(l, k, h, p) {
                        let cell = cells.entry((l, h, k, strata[k][p as usize])).or_default();
                        cell.n[0] += 1;
                        cell.x[0] += c as u64;
                    }
                }
            }
        }
    }

    let mut rows = Vec::new();
    for (l, &ci) in wanted.iter().enumerate() {
        for &h in &opts.horizons {
            let strata: Vec<&Cell> = cells
                .range((l, h, 0, 0)..=(l, h, usize::MAX, u8::MAX))
                .map(|(_, c)| c)
                .collect();
            for (oi, name) in OUTCOMES.iter().enumerate() {
                // Which of the cell's slots make this outcome.
                let slots: &[usize] = match oi {
                    0..=3 => &[oi + 1],
                    4 => &[1, 2],
                    _ => &[0],
                };
                let per: Vec<(u64, u64, u64, u64)> = strata
                    .iter()
                    .map(|c| {
                        let n1 = slots.iter().map(|&s| c.n[s]).sum();
                        let x1 = slots.iter().map(|&s| c.x[s]).sum();
                        (n1, x1, c.n[0], c.x[0])
                    })
                    .collect();
                let n: u64 = per.iter().map(|p| p.0).sum();
                let x: u64 = per.iter().map(|p| p.1).sum();
                if n == 0 {
                    continue;
                }
                let k = opts.min_cell;
                let (units, closed) = ((n >= k).then_some(n), (x >= k).then_some(x));
                let (share, low, high) = match (units, closed) {
                    (Some(n), Some(x)) => {
                        let (lo, hi) = wilson(x, n);
                        (Some(x as f64 / n as f64), Some(lo), Some(hi))
                    }
                    _ => (None, None, None),
                };
                let mut row = EffectRow {
                    criterion: plan.criteria[ci].id.clone(),
                    outcome: name.to_string(),
                    horizon_days: h,
                    units,
                    closed,
                    share,
                    share_low: low,
                    share_high: high,
                    matched: None,
                    difference: None,
                    difference_low: None,
                    difference_high: None,
                };
                if oi < 5
                    && let Some((matched, d, lo, hi)) = mantel_haenszel(&per)
                    && matched >= k
                {
                    row.matched = Some(matched);
                    row.difference = Some(d);
                    row.difference_low = Some(lo);
                    row.difference_high = Some(hi);
                }
                rows.push(row);
            }
        }
    }
    rows.sort_by(|a, b| {
        (a.criterion.as_str(), a.horizon_days)
            .cmp(&(b.criterion.as_str(), b.horizon_days))
            .then_with(|| {
                let pos = |o: &str| OUTCOMES.iter().position(|x| *x == o);
                pos(&a.outcome).cmp(&pos(&b.outcome))
            })
    });
    Ok(Effect {
        as_of: format_day(as_of),
        grid_days: step,
        lookback_days: opts.lookback_days,
        control_gap_days: opts.control_gap_days,
        min_cell: opts.min_cell,
        dates: grid.len(),
        contacts_read,
        rows,
    })
}

fn z95() -> f64 {
    Normal::new(0.0, 1.0).map_or(1.959_964, |n| n.inverse_cdf(0.975))
}

/// Wilson score interval (95 %) of `x` successes in `n`.
pub fn wilson(x: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (z, n, p) = (z95(), n as f64, x as f64 / n as f64);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Mantel–Haenszel risk difference over strata `(n1, x1, n0, x0)` with a
/// normal 95 % interval: weights `n1 n0 / (n1 + n0)`, variance
/// `Σ w² (p1 q1 / n1 + p0 q0 / n0) / (Σ w)²`, where each `p` in the variance is
/// `(x + ½) / (n + 1)` (so a stratum of all-closed or none-closed still
/// counts its uncertainty). `None` when no stratum has both groups. Returns
/// `(contacted units in strata with both, difference, low, high)`.
pub fn mantel_haenszel(strata: &[(u64, u64, u64, u64)]) -> Option<(u64, f64, f64, f64)> {
    let (mut sw, mut swd, mut swv, mut matched) = (0.0, 0.0, 0.0, 0u64);
    for &(n1, x1, n0, x0) in strata {
        if n1 == 0 || n0 == 0 {
            continue;
        }
        let (f1, f0) = (n1 as f64, n0 as f64);
        let w = f1 * f0 / (f1 + f0);
        let d = x1 as f64 / f1 - x0 as f64 / f0;
        let a1 = (x1 as f64 + 0.5) / (f1 + 1.0);
        let a0 = (x0 as f64 + 0.5) / (f0 + 1.0);
        let v = a1 * (1.0 - a1) / f1 + a0 * (1.0 - a0) / f0;
        sw += w;
        swd += w * d;
        swv += w * w * v;
        matched += n1;
    }
    if sw == 0.0 {
        return None;
    }
    let d = swd / sw;
    let se = swv.sqrt() / sw;
    let z = z95();
    Some((matched, d, d - z * se, d + z * se))
}

/// Writes `effect.parquet` and `effect.json` into `out` (created if
/// missing; each file atomically).
pub fn write_effect(e: &Effect, out: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(out).map_err(|er| RunError::io(out, "creating", er))?;
    let r = &e.rows;
    let int = |f: fn(&EffectRow) -> Option<u64>| -> ArrayRef {
        Arc::new(Int64Array::from(
            r.iter().map(|x| f(x).map(|v| v as i64)).collect::<Vec<_>>(),
        ))
    };
    let flt = |f: fn(&EffectRow) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from(r.iter().map(f).collect::<Vec<_>>()))
    };
    let schema = Schema::new(vec![
        Field::new("criterion_id", DataType::Utf8, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("horizon_days", DataType::Int64, false),
        Field::new("units", DataType::Int64, true),
        Field::new("closed", DataType::Int64, true),
        Field::new("share", DataType::Float64, true),
        Field::new("share_low", DataType::Float64, true),
        Field::new("share_high", DataType::Float64, true),
        Field::new("matched", DataType::Int64, true),
        Field::new("difference", DataType::Float64, true),
        Field::new("difference_low", DataType::Float64, true),
        Field::new("difference_high", DataType::Float64, true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from_iter_values(
                r.iter().map(|x| x.criterion.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                r.iter().map(|x| x.outcome.as_str()),
            )),
            Arc::new(Int64Array::from_iter_values(
                r.iter().map(|x| x.horizon_days as i64),
            )),
            int(|x| x.units),
            int(|x| x.closed),
            flt(|x| x.share),
            flt(|x| x.share_low),
            flt(|x| x.share_high),
            int(|x| x.matched),
            flt(|x| x.difference),
            flt(|x| x.difference_low),
            flt(|x| x.difference_high),
        ],
    )
    .map_err(|er| RunError::new(out, format!("building effect.parquet: {er}")))?;
    let tmp = out.join(format!(".effect.parquet.tmp-{}", std::process::id()));
    output::write_parquet(&tmp, &batch).map_err(|er| RunError::new(&tmp, er.to_string()))?;
    std::fs::rename(&tmp, out.join("effect.parquet"))
        .map_err(|er| RunError::io(&out.join("effect.parquet"), "renaming into place", er))?;
    let json = serde_json::to_string_pretty(e).unwrap_or_default();
    write_file_atomic(&out.join("effect.json"), json.as_bytes())
        .map_err(|er| RunError::new(&out.join("effect.json"), er.to_string()))
}

/// Reads `DIR/effect.json` when present.
pub fn read_effect(dir: &Path) -> Option<Effect> {
    serde_json::from_slice(&std::fs::read(dir.join("effect.json")).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_the_textbook_values() {
        // 8 of 10: 0.4902..0.9433 (Wilson 1927; Newcombe 1998, table I).
        let (lo, hi) = wilson(8, 10);
        assert!(
            (lo - 0.4902).abs() < 1e-3 && (hi - 0.9433).abs() < 1e-3,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 20);
        assert!(lo.abs() < 1e-12 && (hi - 0.1611).abs() < 1e-3, "{lo} {hi}");
    }

    #[test]
    fn mantel_haenszel_weights_strata_and_ignores_one_sided_ones() {
        // One stratum: the plain difference.
        let (m, d, lo, hi) = mantel_haenszel(&[(100, 60, 100, 40)]).unwrap();
        assert_eq!(m, 100);
        assert!((d - 0.2).abs() < 1e-12 && lo < 0.2 && hi > 0.2);
        // A confounded pair of strata: crude difference 0.5 vs 0.26, stratified 0.
        let s = [(90, 81, 10, 9), (10, 1, 90, 9), (5, 5, 0, 0)];
        let (m, d, lo, hi) = mantel_haenszel(&s).unwrap();
        assert_eq!(m, 100);
        assert!(d.abs() < 1e-12 && lo < 0.0 && hi > 0.0, "{d} {lo} {hi}");
        assert!(mantel_haenszel(&[(5, 1, 0, 0)]).is_none());
    }
}
