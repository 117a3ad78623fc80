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
use crate::output::{self, write_file_atomic};
use crate::report::suppress::{Counts, suppress};
use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
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

/// Open (and excluded) gaps of one run, keyed by person and criterion.
struct Side {
    as_of: String,
    int_ids: bool,
    /// (patient, criterion) → (clinic, status: 0 open, 1 excluded).
    gaps: HashMap<(u32, u32), (u32, u8)>,
    /// Alive people → clinic.
    alive: HashMap<u32, u32>,
}

/// Interns strings into small ids.
#[derive(Default)]
struct Names {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.ids.insert(s.to_string(), i);
        self.names.push(s.to_string());
        i
    }
}

/// The interned names of both runs: patients, criteria, clinics.
#[derive(Default)]
struct AllNames {
    pats: Names,
    crits: Names,
    clinics: Names,
}

fn read_side(run: &Path, n: &mut AllNames) -> Result<Side, RunError> {
    let info: serde_json::Value = serde_json::from_slice(
        &std::fs::read(run.join("run.json"))
            .map_err(|e| RunError::io(&run.join("run.json"), "reading", e))?,
    )
    .map_err(|e| RunError::new(&run.join("run.json"), format!("not JSON: {e}")))?;
    let as_of = info["as_of"].as_str().unwrap_or_default().to_string();
    let ff = run.join("firings.parquet");
    let b = table::read(
        &ff,
        Some(&["patient_id", "clinic_id", "criterion_id", "status"]),
    )?;
    let int_ids = b
        .column_by_name("patient_id")
        .is_some_and(|c| c.data_type().is_integer());
    let pid = utf8(&b, "patient_id", &ff)?;
    let clinic = utf8(&b, "clinic_id", &ff)?;
    let crit = utf8(&b, "criterion_id", &ff)?;
    let status = utf8(&b, "status", &ff)?;
    let mut gaps = HashMap::with_capacity(pid.len());
    for i in 0..pid.len() {
        if pid.is_null(i) || crit.is_null(i) || status.is_null(i) {
            continue;
        }
        let st = match status.value(i) {
            "open" => 0,
            "excluded" => 1,
            _ => continue,
        };
        let cl = n.clinics.id(if clinic.is_null(i) {
            ""
        } else {
            clinic.value(i)
        });
        gaps.insert(
            (n.pats.id(pid.value(i)), n.crits.id(crit.value(i))),
            (cl, st),
        );
    }
    let rf = run.join("risk.parquet");
    let r = table::read(&rf, Some(&["patient_id", "clinic_id"]))?;
    let rp = utf8(&r, "patient_id", &rf)?;
    let rc = utf8(&r, "clinic_id", &rf)?;
    let alive = (0..rp.len())
        .filter(|&i| !rp.is_null(i))
        .map(|i| {
            let c = if rc.is_null(i) { "" } else { rc.value(i) };
            (n.pats.id(rp.value(i)), n.clinics.id(c))
        })
        .collect();
    Ok(Side {
        as_of,
        int_ids,
        gaps,
        alive,
    })
}

/// A required column as one Utf8 array (any type cast at once, no string
/// per value).
fn utf8(b: &RecordBatch, name: &str, file: &Path) -> Result<StringArray, RunError> {
    let col = b.column_by_name(name).ok_or_else(|| {
        RunError::new(
            file,
            format!("no column `{name}`: was it written by `caregap score` / `caregap rank`?"),
        )
    })?;
    let col = arrow::compute::cast(col, &DataType::Utf8)
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
pub fn diff_runs(a: &Path, b: &Path, min_cell: u64) -> Result<Diff, RunError> {
    let mut names = AllNames::default();
    let sa = read_side(a, &mut names)?;
    let sb = read_side(b, &mut names)?;
    let AllNames {
        pats,
        crits,
        clinics,
    } = &names;
    // (patient, criterion, clinic, change)
    let mut rows: Vec<(u32, u32, u32, u8)> = Vec::new();
    for (&(p, c), &(cl_b, st_b)) in &sb.gaps {
        if st_b != 0 {
            continue;
        }
        let change = match sa.gaps.get(&(p, c)) {
            Some(&(_, 0)) => 2,
            _ => 0,
        };
        rows.push((p, c, cl_b, change));
    }
    for (&(p, c), &(cl_a, st_a)) in &sa.gaps {
        if st_a != 0 {
            continue;
        }
        match sb.gaps.get(&(p, c)) {
            Some(&(_, 0)) => {}
            Some(&(cl_b, _)) => rows.push((p, c, cl_b, 3)),
            None => match sb.alive.get(&p) {
                Some(&cl_b) => rows.push((p, c, cl_b, 1)),
                None => rows.push((p, c, cl_a, 3)),
            },
        }
    }
    // Rows by patient (numerically for integer ids), then criterion id:
    // each name's place is found once, not at every comparison.
    let int_ids = sa.int_ids && sb.int_ids;
    let rank_of = |names: &[String], numeric: bool| -> Vec<u32> {
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        if numeric {
            let v: Vec<i64> = names
                .iter()
                .map(|n| n.parse().unwrap_or(i64::MAX))
                .collect();
            order.sort_by_key(|&i| v[i as usize]);
        } else {
            order.sort_by(|&x, &y| names[x as usize].cmp(&names[y as usize]));
        }
        let mut rank = vec![0u32; names.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        rank
    };
    let (p_rank, c_rank) = (rank_of(&pats.names, int_ids), rank_of(&crits.names, false));
    rows.sort_unstable_by_key(|r| (p_rank[r.0 as usize], c_rank[r.1 as usize]));

    let pid: ArrayRef = if int_ids {
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| {
            pats.names[r.0 as usize].parse::<i64>().unwrap_or_default()
        })))
    } else {
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| pats.names[r.0 as usize].as_str()),
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
                rows.iter().map(|r| clinics.names[r.2 as usize].as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| crits.names[r.1 as usize].as_str()),
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
        let k = (
            crits.names[r.1 as usize].as_str(),
            clinics.names[r.2 as usize].as_str(),
        );
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
        as_of_a: sa.as_of.clone(),
        as_of_b: sb.as_of.clone(),
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
