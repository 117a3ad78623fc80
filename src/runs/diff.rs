//! What changed between two runs (`caregap diff RUN_A RUN_B --out DIR`, and
//! the nightly's `diff/` against the previous good run).
//!
//! Per person and criterion, from the two runs' `firings.parquet` (and
//! `risk.parquet`: who is alive in each run), one row for every gap open in
//! either run:
//!
//! | change | open in A | in B |
//! |---|---|---|
//! | `opened` | no | open |
//! | `still_open` | yes | open |
//! | `closed` | yes | not open, alive, not excluded |
//! | `newly_excluded` | yes | not open: excluded by the criterion (a `--status` run's `excluded` row), or no longer in the run (died, moved away: not in B's `risk.parquet`) |
//!
//! Without `--status` runs a criterion's own exclusion (palliative care, say)
//! cannot be told from a closed gap, and counts as `closed`.
//!
//! Written (`write_diff`): `changes.parquet` (person level: stays where the
//! run is), `clinic_changes.parquet` (clinic × criterion counts, the clinic
//! `ALL` for the whole population, small cells suppressed: null, with the
//! report's rule, `report::suppress`, per change: criteria × clinics with the
//! all-clinics count as row total) and `diff.json` ([`DiffSummary`]).

use super::{RunError, table};
use crate::data::{Interner, NULL_ID, intern_column};
use crate::output::{self, write_file_atomic};
use crate::report::suppress::{Counts, suppress};
use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The kinds of change, in column order.
pub const CHANGES: [&str; 4] = ["opened", "closed", "still_open", "newly_excluded"];

/// One clinic × criterion line of the largest net changes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopChange {
    pub criterion: String,
    pub clinic: String,
    pub opened: u64,
    pub closed: u64,
    /// `opened - closed`.
    pub net: i64,
}

/// `diff.json`: totals (gaps, not people) with small cells suppressed (null).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DiffSummary {
    pub run_a: String,
    pub run_b: String,
    pub as_of_a: String,
    pub as_of_b: String,
    pub min_cell: u64,
    pub opened: Option<u64>,
    pub closed: Option<u64>,
    pub still_open: Option<u64>,
    pub newly_excluded: Option<u64>,
    /// The clinic × criterion lines with the largest net change (both counts shown).
    pub top: Vec<TopChange>,
}

impl DiffSummary {
    /// One line for people: `since 2026-01-01: 1204 gaps opened, 987 closed, ...;
    /// HTN.BP_UNCONTROLLED +41 in HC07, ...`.
    pub fn line(&self) -> String {
        let n = |v: Option<u64>| v.map_or_else(|| format!("<{}", self.min_cell), |v| v.to_string());
        let mut s = format!(
            "since {} (as of {}): {} gaps opened, {} closed, {} still open, {} newly excluded",
            self.run_a,
            self.as_of_a,
            n(self.opened),
            n(self.closed),
            n(self.still_open),
            n(self.newly_excluded)
        );
        let top: Vec<String> = self
            .top
            .iter()
            .take(3)
            .map(|t| format!("{} {:+} in {}", t.criterion, t.net, t.clinic))
            .collect();
        if !top.is_empty() {
            s.push_str("; ");
            s.push_str(&top.join(", "));
        }
        s
    }
}

/// A diff in memory.
#[derive(Debug)]
pub struct Diff {
    /// Person level: patient_id, clinic_id, criterion_id, change.
    pub changes: RecordBatch,
    /// clinic_id, criterion_id and one nullable count per change.
    pub clinic: RecordBatch,
    pub summary: DiffSummary,
}

/// A run's files as read: `run.json`'s `as_of`, the firings' patient,
/// clinic, criterion and status, and the ranking's alive people.
struct RunTables {
    as_of: String,
    firings_file: PathBuf,
    firings: RecordBatch,
    risk_file: PathBuf,
    risk: RecordBatch,
}

fn read_run(run: &Path) -> Result<RunTables, RunError> {
    let info: serde_json::Value = serde_json::from_slice(
        &std::fs::read(run.join("run.json"))
            .map_err(|e| RunError::io(&run.join("run.json"), "reading", e))?,
    )
    .map_err(|e| RunError::new(&run.join("run.json"), format!("not JSON: {e}")))?;
    let firings_file = run.join("firings.parquet");
    let risk_file = run.join("risk.parquet");
    Ok(RunTables {
        as_of: info["as_of"].as_str().unwrap_or_default().to_string(),
        firings: table::read(
            &firings_file,
            Some(&["patient_id", "clinic_id", "criterion_id", "status"]),
        )?,
        firings_file,
        risk: table::read(&risk_file, Some(&["patient_id", "clinic_id"]))?,
        risk_file,
    })
}

/// Each id's place in the sorted order of an interner's strings, and the
/// strings in that order.
fn ranks(i: &Interner) -> (Vec<u32>, Vec<&str>) {
    let mut order: Vec<u32> = (0..i.values.len() as u32).collect();
    order.sort_unstable_by(|&x, &y| i.values[x as usize].cmp(&i.values[y as usize]));
    let mut rank = vec![0u32; i.values.len()];
    for (r, &id) in order.iter().enumerate() {
        rank[id as usize] = r as u32;
    }
    let sorted = order.iter().map(|&id| &*i.values[id as usize]).collect();
    (rank, sorted)
}

/// The interned id of every row of a text column (`NULL_ID` for a null);
/// a column of another type is read as text.
fn ids(b: &RecordBatch, name: &str, file: &Path, i: &mut Interner) -> Result<Vec<u32>, RunError> {
    let col = column(b, name, file)?;
    let col = match col.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => col.clone(),
        _ => arrow::compute::cast(col, &DataType::Utf8).map_err(|e| {
            RunError::new(file, format!("column `{name}` cannot be read as text: {e}"))
        })?,
    };
    let mut out = Vec::new();
    intern_column(col.as_ref(), i, &mut out);
    Ok(out)
}

/// Patient ids of both runs: integers when both runs wrote integers (ordered
/// numerically), else text (interned, then ordered as text).
enum PatientIds {
    Int,
    Text(Interner),
}

/// An integer id as a key that sorts as the integer does.
fn int_key(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

fn key_int(k: u64) -> i64 {
    (k ^ (1 << 63)) as i64
}

impl PatientIds {
    /// The key of every row's patient id (`None` for a null id).
    fn keys(&mut self, b: &RecordBatch, file: &Path) -> Result<Vec<Option<u64>>, RunError> {
        Ok(match self {
            PatientIds::Int => {
                let col = column(b, "patient_id", file)?;
                let col = arrow::compute::cast(col, &DataType::Int64).map_err(|e| {
                    RunError::new(file, format!("column `patient_id` cannot be read: {e}"))
                })?;
                col.as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.map(int_key))
                    .collect()
            }
            PatientIds::Text(names) => ids(b, "patient_id", file, names)?
                .into_iter()
                .map(|id| (id != NULL_ID).then_some(u64::from(id)))
                .collect(),
        })
    }
}

/// One run's gaps, `(patient key, criterion, clinic, status: 0 open,
/// 1 excluded)`, and its alive people, `(patient key, clinic)`; once
/// ordered, keys and criteria are their places in the output order, both
/// lists sorted by them.
struct Side {
    gaps: Vec<(u64, u32, u32, u8)>,
    alive: Vec<(u64, u32)>,
}

fn side(
    t: &RunTables,
    ids_of: &mut PatientIds,
    crits: &mut Interner,
    clinics: &mut Interner,
) -> Result<Side, RunError> {
    // A run that left a clinic empty: the clinic "".
    let clinic_of = |id: u32, clinics: &mut Interner| {
        if id == NULL_ID {
            clinics.intern("")
        } else {
            id
        }
    };
    let ff = &t.firings_file;
    let pid = ids_of.keys(&t.firings, ff)?;
    let clinic = ids(&t.firings, "clinic_id", ff, clinics)?;
    let crit = ids(&t.firings, "criterion_id", ff, crits)?;
    let status = utf8(&t.firings, "status", ff)?;
    let mut gaps = Vec::with_capacity(pid.len());
    for (i, p) in pid.iter().enumerate() {
        let Some(p) = *p else { continue };
        if crit[i] == NULL_ID || status.is_null(i) {
            continue;
        }
        let st = match status.value(i) {
            "open" => 0,
            "excluded" => 1,
            _ => continue,
        };
        gaps.push((p, crit[i], clinic_of(clinic[i], clinics), st));
    }
    let rf = &t.risk_file;
    let rp = ids_of.keys(&t.risk, rf)?;
    let rc = ids(&t.risk, "clinic_id", rf, clinics)?;
    let alive = rp
        .iter()
        .zip(rc)
        .filter_map(|(p, c)| p.map(|p| (p, clinic_of(c, clinics))))
        .collect();
    Ok(Side { gaps, alive })
}

/// Sorts by `key` and keeps the last of the rows with one key (as a map
/// filled in file order would).
fn sorted_last<T: Send, K: Ord + Send>(mut v: Vec<T>, key: impl Fn(&T) -> K + Sync) -> Vec<T> {
    v.par_sort_by_key(|x| key(x));
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for x in v {
        match out.last_mut() {
            Some(last) if key(last) == key(&x) => *last = x,
            _ => out.push(x),
        }
    }
    out
}

/// A required column.
fn column<'a>(b: &'a RecordBatch, name: &str, file: &Path) -> Result<&'a ArrayRef, RunError> {
    b.column_by_name(name).ok_or_else(|| {
        RunError::new(
            file,
            format!("no column `{name}`: was it written by `caregap score` / `caregap rank`?"),
        )
    })
}

/// A required column as one Utf8 array (any type cast at once, no string
/// per value).
fn utf8(b: &RecordBatch, name: &str, file: &Path) -> Result<StringArray, RunError> {
    let col = arrow::compute::cast(column(b, name, file)?, &DataType::Utf8)
        .map_err(|e| RunError::new(file, format!("column `{name}` cannot be read as text: {e}")))?;
    Ok(col.as_string::<i32>().clone())
}

fn name_of(run: &Path) -> String {
    std::fs::canonicalize(run)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| run.display().to_string())
}

/// Compares run `a` (earlier) with run `b`; aggregates suppressed under `min_cell`.
///
/// Both runs' gaps are sorted by (patient, criterion) and merged: the
/// changes come out in that order, which is `changes.parquet`'s.
pub fn diff_runs(a: &Path, b: &Path, min_cell: u64) -> Result<Diff, RunError> {
    let (ta, tb) = rayon::join(|| read_run(a), || read_run(b));
    let (ta, tb) = (ta?, tb?);
    let is_int = |t: &RunTables| {
        t.firings
            .column_by_name("patient_id")
            .is_some_and(|c| c.data_type().is_integer())
    };
    let int_ids = is_int(&ta) && is_int(&tb);
    let mut patient_ids = if int_ids {
        PatientIds::Int
    } else {
        PatientIds::Text(Interner::default())
    };
    let (mut crits, mut clinics) = (Interner::default(), Interner::default());
    let sa = side(&ta, &mut patient_ids, &mut crits, &mut clinics)?;
    let sb = side(&tb, &mut patient_ids, &mut crits, &mut clinics)?;
    let (as_of_a, as_of_b) = (ta.as_of, tb.as_of);
    // Keys in output order: patients by id (their text order for text ids),
    // criteria by id.
    let (p_rank, pats) = match &patient_ids {
        PatientIds::Int => (None, Vec::new()),
        PatientIds::Text(names) => {
            let (rank, sorted) = ranks(names);
            (Some(rank), sorted)
        }
    };
    let (c_rank, crits) = ranks(&crits);
    let clinics = &clinics.values;
    let p_key = |k: u64| p_rank.as_ref().map_or(k, |r| u64::from(r[k as usize]));
    let order = |s: Side| -> Side {
        let gaps = s
            .gaps
            .into_iter()
            .map(|(p, c, cl, st)| (p_key(p), c_rank[c as usize], cl, st))
            .collect();
        let alive = s.alive.into_iter().map(|(p, cl)| (p_key(p), cl)).collect();
        Side {
            gaps: sorted_last(gaps, |g| (g.0, g.1)),
            alive: sorted_last(alive, |a| a.0),
        }
    };
    let (sa, sb) = rayon::join(|| order(sa), || order(sb));
    let (ga, gb, alive_b) = (sa.gaps, sb.gaps, sb.alive);

    // (patient, criterion, clinic, change), in key order.
    let mut rows: Vec<(u64, u32, u32, u8)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < ga.len() || j < gb.len() {
        let ka = ga.get(i).map(|g| (g.0, g.1));
        let kb = gb.get(j).map(|g| (g.0, g.1));
        match (ka, kb) {
            (Some(x), Some(y)) if x == y => {
                let ((p, c, _, st_a), (_, _, cl_b, st_b)) = (ga[i], gb[j]);
                match (st_a, st_b) {
                    (0, 0) => rows.push((p, c, cl_b, 2)),
                    (_, 0) => rows.push((p, c, cl_b, 0)),
                    (0, _) => rows.push((p, c, cl_b, 3)),
                    _ => {}
                }
                i += 1;
                j += 1;
            }
            (Some(x), y) if y.is_none_or(|y| x < y) => {
                let (p, c, cl_a, st_a) = ga[i];
                if st_a == 0 {
                    match alive_b.binary_search_by_key(&p, |a| a.0) {
                        Ok(k) => rows.push((p, c, alive_b[k].1, 1)),
                        Err(_) => rows.push((p, c, cl_a, 3)),
                    }
                }
                i += 1;
            }
            _ => {
                let (p, c, cl_b, st_b) = gb[j];
                if st_b == 0 {
                    rows.push((p, c, cl_b, 0));
                }
                j += 1;
            }
        }
    }
    drop((ga, gb, alive_b));

    let pid: ArrayRef = if int_ids {
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| key_int(r.0)),
        ))
    } else {
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| pats[r.0 as usize]),
        ))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "patient_id",
            if int_ids {
                DataType::Int64
            } else {
                DataType::Utf8
            },
            false,
        ),
        Field::new("clinic_id", DataType::Utf8, false),
        Field::new("criterion_id", DataType::Utf8, false),
        Field::new("change", DataType::Utf8, false),
    ]));
    let arrow = |e: arrow::error::ArrowError| RunError::new(b, format!("building the diff: {e}"));
    let changes = RecordBatch::try_new(
        schema,
        vec![
            pid,
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| &*clinics[r.2 as usize]),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| crits[r.1 as usize]),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| CHANGES[r.3 as usize]),
            )),
        ],
    )
    .map_err(arrow)?;

    // Clinic × criterion counts, per change; criteria and clinics by name.
    let mut counts: BTreeMap<(&str, &str), [u64; 4]> = BTreeMap::new();
    for r in &rows {
        let k = (crits[r.1 as usize], &*clinics[r.2 as usize]);
        counts.entry(k).or_default()[r.3 as usize] += 1;
    }
    let crit_list: Vec<&str> = counts
        .keys()
        .map(|k| k.0)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let clinic_list: Vec<&str> = counts
        .keys()
        .map(|k| k.1)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // shown[change][criterion][clinic], and the all-clinics column last.
    let mut shown = vec![vec![vec![None; clinic_list.len() + 1]; crit_list.len()]; 4];
    let mut totals = [0u64; 4];
    for (ch, shown_ch) in shown.iter_mut().enumerate() {
        let cells: Vec<Vec<u64>> = crit_list
            .iter()
            .map(|c| {
                clinic_list
                    .iter()
                    .map(|cl| counts.get(&(*c, *cl)).map_or(0, |v| v[ch]))
                    .collect()
            })
            .collect();
        let row_totals: Vec<u64> = cells.iter().map(|r| r.iter().sum()).collect();
        totals[ch] = row_totals.iter().sum();
        let t = Counts {
            cells,
            row_totals: Some(row_totals),
            col_totals: None,
            grand: None,
        };
        let m = suppress(&t, min_cell);
        for (i, line) in shown_ch.iter_mut().enumerate() {
            let rt = t.row_totals.as_ref().map_or(0, |r| r[i]);
            for (j, cell) in line.iter_mut().enumerate() {
                *cell = match t.cells[i].get(j) {
                    Some(&v) => (!m.cells[i][j]).then_some(v),
                    None => (!m.row_totals[i]).then_some(rt),
                };
            }
        }
    }
    let mut c_clinic = Vec::new();
    let mut c_crit = Vec::new();
    let mut c_counts: [Vec<Option<i64>>; 4] = Default::default();
    let mut top = Vec::new();
    for (i, c) in crit_list.iter().enumerate() {
        for (j, clinic) in clinic_list.iter().copied().chain(["ALL"]).enumerate() {
            let v: Vec<Option<u64>> = (0..4).map(|ch| shown[ch][i][j]).collect();
            if v.iter().all(|x| *x == Some(0)) {
                continue;
            }
            c_clinic.push(clinic);
            c_crit.push(*c);
            for ch in 0..4 {
                c_counts[ch].push(v[ch].map(|x| x as i64));
            }
            if let (Some(o), Some(cl), true) = (v[0], v[1], j < clinic_list.len()) {
                top.push(TopChange {
                    criterion: c.to_string(),
                    clinic: clinic.to_string(),
                    opened: o,
                    closed: cl,
                    net: o as i64 - cl as i64,
                });
            }
        }
    }
    top.retain(|t| t.net != 0);
    top.sort_by(|x, y| {
        y.net
            .abs()
            .cmp(&x.net.abs())
            .then_with(|| x.criterion.cmp(&y.criterion))
            .then_with(|| x.clinic.cmp(&y.clinic))
    });
    top.truncate(10);
    let mut fields = vec![
        Field::new("clinic_id", DataType::Utf8, false),
        Field::new("criterion_id", DataType::Utf8, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(c_clinic)),
        Arc::new(StringArray::from(c_crit)),
    ];
    for (ch, v) in c_counts.into_iter().enumerate() {
        fields.push(Field::new(CHANGES[ch], DataType::Int64, true));
        cols.push(Arc::new(Int64Array::from(v)));
    }
    let clinic = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(arrow)?;
    let total = |ch: usize| (totals[ch] >= min_cell).then_some(totals[ch]);
    let summary = DiffSummary {
        run_a: name_of(a),
        run_b: name_of(b),
        as_of_a,
        as_of_b,
        min_cell,
        opened: total(0),
        closed: total(1),
        still_open: total(2),
        newly_excluded: total(3),
        top,
    };
    Ok(Diff {
        changes,
        clinic,
        summary,
    })
}

/// Writes `changes.parquet`, `clinic_changes.parquet` and `diff.json` into
/// `out` (created if missing; each file atomically).
pub fn write_diff(d: &Diff, out: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(out).map_err(|e| RunError::io(out, "creating", e))?;
    for (name, batch) in [
        ("changes.parquet", &d.changes),
        ("clinic_changes.parquet", &d.clinic),
    ] {
        let tmp = out.join(format!(".{name}.tmp-{}", std::process::id()));
        output::write_parquet(&tmp, batch).map_err(|e| RunError::new(&tmp, e.to_string()))?;
        std::fs::rename(&tmp, out.join(name))
            .map_err(|e| RunError::io(&out.join(name), "renaming into place", e))?;
    }
    let json = serde_json::to_string_pretty(&d.summary).unwrap_or_default();
    write_file_atomic(&out.join("diff.json"), json.as_bytes())
        .map_err(|e| RunError::new(&out.join("diff.json"), e.to_string()))
}

/// Reads `DIR/diff.json` when present.
pub fn read_summary(dir: &Path) -> Option<DiffSummary> {
    serde_json::from_slice(&std::fs::read(dir.join("diff.json")).ok()?).ok()
}
