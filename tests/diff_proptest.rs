//! `caregap diff` (a sort-merge join of two runs' gaps) equals a plain
//! reading of `src/runs/diff.rs`'s table with maps, row for row and in
//! order: patients by id (numerically for integer ids, as text otherwise),
//! then criteria by id; a (patient, criterion) written twice counts as its
//! last row; a gap open before and missing after is `closed` when the person
//! is still in the later run (with that run's clinic), else `newly_excluded`.
//! More cases: `PROPTEST_CASES=1000 cargo test --test diff_proptest`.

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use caregap::runs::{diff, table};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const STATUS: [&str; 3] = ["open", "excluded", "closed"];
const CRITERIA: [&str; 4] = ["HTN.B", "DM.A", "CKD.C", "AF.D"];
const CLINICS: [&str; 3] = ["HC01", "HC02", ""];

/// One run: firings rows (patient, criterion, clinic, status) and the
/// people in its `risk.parquet` (patient, clinic).
#[derive(Debug, Clone)]
struct RunCase {
    firings: Vec<(i64, usize, usize, usize)>,
    alive: Vec<(i64, usize)>,
}

fn run_case() -> impl Strategy<Value = RunCase> {
    (
        prop::collection::vec((-3i64..12, 0usize..4, 0usize..3, 0usize..3), 0..60),
        prop::collection::vec((-3i64..12, 0usize..3), 0..14),
    )
        .prop_map(|(firings, alive)| RunCase { firings, alive })
}

fn ids(v: impl Iterator<Item = i64>, text: bool) -> ArrayRef {
    if text {
        Arc::new(StringArray::from_iter_values(v.map(|p| format!("p{p}"))))
    } else {
        Arc::new(Int64Array::from_iter_values(v))
    }
}

fn texts<'a>(v: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(v))
}

fn write_run(dir: &Path, r: &RunCase, text: bool) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("run.json"), r#"{"as_of": "2026-01-01"}"#).unwrap();
    let firings = RecordBatch::try_from_iter(vec![
        ("patient_id", ids(r.firings.iter().map(|f| f.0), text)),
        ("clinic_id", texts(r.firings.iter().map(|f| CLINICS[f.2]))),
        (
            "criterion_id",
            texts(r.firings.iter().map(|f| CRITERIA[f.1])),
        ),
        ("status", texts(r.firings.iter().map(|f| STATUS[f.3]))),
    ])
    .unwrap();
    caregap::output::write_parquet(&dir.join("firings.parquet"), &firings).unwrap();
    let risk = RecordBatch::try_from_iter(vec![
        ("patient_id", ids(r.alive.iter().map(|a| a.0), text)),
        ("clinic_id", texts(r.alive.iter().map(|a| CLINICS[a.1]))),
    ])
    .unwrap();
    caregap::output::write_parquet(&dir.join("risk.parquet"), &risk).unwrap();
}

/// The key a patient sorts by: the number, or its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Int(i64),
    Text(String),
}

fn key(p: i64, text: bool) -> Key {
    if text {
        Key::Text(format!("p{p}"))
    } else {
        Key::Int(p)
    }
}

/// The slow reading: maps filled in file order (the last row of a key wins).
fn expected(a: &RunCase, b: &RunCase, text: bool) -> Vec<(Key, String, String, String)> {
    type Gaps = BTreeMap<(Key, &'static str), (&'static str, &'static str)>;
    let gaps = |r: &RunCase| -> Gaps {
        let mut m = BTreeMap::new();
        for &(p, c, cl, st) in &r.firings {
            if STATUS[st] != "closed" {
                m.insert((key(p, text), CRITERIA[c]), (CLINICS[cl], STATUS[st]));
            }
        }
        m
    };
    let (ga, gb) = (gaps(a), gaps(b));
    let mut alive_b = BTreeMap::new();
    for &(p, cl) in &b.alive {
        alive_b.insert(key(p, text), CLINICS[cl]);
    }
    let mut out = BTreeMap::new();
    for ((p, c), (cl_b, st_b)) in &gb {
        if *st_b == "open" {
            let was = ga.get(&(p.clone(), *c)).is_some_and(|g| g.1 == "open");
            let change = if was { "still_open" } else { "opened" };
            out.insert((p.clone(), *c), (*cl_b, change));
        }
    }
    for ((p, c), (cl_a, st_a)) in &ga {
        if *st_a != "open" {
            continue;
        }
        let k = (p.clone(), *c);
        match gb.get(&k) {
            Some((_, "open")) => {}
            Some((cl_b, _)) => {
                out.insert(k, (*cl_b, "newly_excluded"));
            }
            None => match alive_b.get(p) {
                Some(cl_b) => {
                    out.insert(k, (*cl_b, "closed"));
                }
                None => {
                    out.insert(k, (*cl_a, "newly_excluded"));
                }
            },
        }
    }
    out.into_iter()
        .map(|((p, c), (cl, ch))| (p, c.to_string(), cl.to_string(), ch.to_string()))
        .collect()
}

proptest! {
    #[test]
    fn the_diff_equals_the_map_reading(a in run_case(), b in run_case(), text in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let (ra, rb) = (dir.path().join("a"), dir.path().join("b"));
        write_run(&ra, &a, text);
        write_run(&rb, &b, text);
        let d = diff::diff_runs(&ra, &rb, 5).unwrap();
        let f = Path::new("changes.parquet");
        let c = &d.changes;
        let pid = table::text_req(c, "patient_id", f).unwrap();
        let crit = table::text_req(c, "criterion_id", f).unwrap();
        let clinic = table::text_req(c, "clinic_id", f).unwrap();
        let change = table::text_req(c, "change", f).unwrap();
        let got: Vec<(Key, String, String, String)> = (0..c.num_rows())
            .map(|i| {
                let p = pid[i].clone().unwrap();
                let p = if text { Key::Text(p) } else { Key::Int(p.parse().unwrap()) };
                (p, crit[i].clone().unwrap(), clinic[i].clone().unwrap(), change[i].clone().unwrap())
            })
            .collect();
        prop_assert_eq!(got, expected(&a, &b, text));
    }
}
