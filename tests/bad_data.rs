//! Bad data at scale (issue 22): a generated population with 1 % of every kind
//! of unusable row of the data model loads and scores; every rejected row is
//! counted under its reason, `--strict` refuses it, and the firings of every
//! person the corruption did not touch are exactly those of the clean
//! population. The full-size run is a documented command
//! (`CAREGAP_BAD_DATA_PATIENTS=640000 cargo test --release --test bad_data`).

mod cli_util;
mod data_util;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use cli_util::ok;

fn caregap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &RecordBatch, name: &str) -> StringArray {
    let col = b.column_by_name(name).unwrap();
    cast(col, &DataType::Utf8)
        .unwrap()
        .as_string::<i32>()
        .clone()
}

/// The kinds of unusable row, each injected into 1 % of the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Orphan,
    NullDate,
    NullKind,
    NullSystem,
    NullCode,
    UnknownKind,
    NegativeSupply,
}

const FAULTS: [Fault; 7] = [
    Fault::Orphan,
    Fault::NullDate,
    Fault::NullKind,
    Fault::NullSystem,
    Fault::NullCode,
    Fault::UnknownKind,
    Fault::NegativeSupply,
];

/// The run.json reason of a fault, as the load report serialises it.
fn reason(f: Fault) -> serde_json::Value {
    use serde_json::json;
    match f {
        Fault::Orphan => json!({"reason": "orphan_patient"}),
        Fault::NullDate => json!({"reason": "null_required", "column": "date"}),
        Fault::NullKind => json!({"reason": "null_required", "column": "kind"}),
        Fault::NullSystem => json!({"reason": "null_required", "column": "system"}),
        Fault::NullCode => json!({"reason": "null_required", "column": "code"}),
        Fault::UnknownKind => json!({"reason": "unknown_kind"}),
        Fault::NegativeSupply => json!({"reason": "negative_supply"}),
    }
}

/// A cheap, fixed scramble of a row number: which rows get which fault.
fn bucket(row: usize) -> u64 {
    let mut x = row as u64 ^ 0x9E37_79B9_7F4A_7C15;
    x = (x ^ (x >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x ^ (x >> 29)) % 100
}

/// Writes the dirty copy of `clean` into `dirty`; returns the touched
/// patients and the number of rows per fault.
fn corrupt(clean: &Path, dirty: &Path) -> (BTreeSet<i64>, BTreeMap<Fault, u64>) {
    fs::create_dir_all(dirty).unwrap();
    for entry in fs::read_dir(clean).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "events.parquet" && entry.path().is_file() {
            fs::copy(entry.path(), dirty.join(&name)).unwrap();
        }
    }
    let ev = data_util::read_parquet(&clean.join("events.parquet"));
    let pid = ev
        .column_by_name("patient_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let date = ev
        .column_by_name("date")
        .unwrap()
        .as_primitive::<Date32Type>();
    let value = ev
        .column_by_name("value")
        .unwrap()
        .as_primitive::<Float64Type>();
    let (kind, system, code, unit) = (
        text(&ev, "kind"),
        text(&ev, "system"),
        text(&ev, "code"),
        text(&ev, "unit"),
    );
    let n = ev.num_rows();
    let mut touched = BTreeSet::new();
    let mut counts: BTreeMap<Fault, u64> = BTreeMap::new();
    let mut out_pid = Vec::with_capacity(n);
    let mut out_date = Vec::with_capacity(n);
    let mut out_kind: Vec<Option<String>> = Vec::with_capacity(n);
    let mut out_system: Vec<Option<String>> = Vec::with_capacity(n);
    let mut out_code: Vec<Option<String>> = Vec::with_capacity(n);
    let mut out_value = Vec::with_capacity(n);
    for i in 0..n {
        let s = |a: &StringArray| a.is_valid(i).then(|| a.value(i).to_string());
        let (mut p, mut d, mut k, mut sy, mut c) = (
            pid.value(i),
            Some(date.value(i)),
            s(&kind),
            s(&system),
            s(&code),
        );
        let mut v = value.is_valid(i).then(|| value.value(i));
        // Faults go to the rows of every fifth person, 5 % of their rows
        // each (1 % of all rows), so that most people stay untouched.
        let fault = if p % 5 == 0 {
            FAULTS.get((bucket(i) % 20) as usize).copied()
        } else {
            None
        };
        let fault = match fault {
            Some(Fault::NegativeSupply) if k.as_deref() != Some("medication") => None,
            f => f,
        };
        if let Some(f) = fault {
            touched.insert(p);
            *counts.entry(f).or_default() += 1;
            match f {
                Fault::Orphan => p = 1_000_000_000 + i as i64,
                Fault::NullDate => d = None,
                Fault::NullKind => k = None,
                Fault::NullSystem => sy = None,
                Fault::NullCode => c = None,
                Fault::UnknownKind => k = k.map(|k| k.to_uppercase()),
                Fault::NegativeSupply => v = Some(-30.0),
            }
        }
        out_pid.push(p);
        out_date.push(d);
        out_kind.push(k);
        out_system.push(sy);
        out_code.push(c);
        out_value.push(v);
    }
    let strs = |v: Vec<Option<String>>| Arc::new(StringArray::from(v)) as ArrayRef;
    let batch = data_util::batch(vec![
        (
            "patient_id",
            Arc::new(Int64Array::from(out_pid)) as ArrayRef,
        ),
        ("date", Arc::new(Date32Array::from(out_date))),
        ("kind", strs(out_kind)),
        ("system", strs(out_system)),
        ("code", strs(out_code)),
        ("value", Arc::new(Float64Array::from(out_value))),
        ("unit", Arc::new(unit)),
    ]);
    data_util::write(&dirty.join("events.parquet"), &batch, 65_536);
    (touched, counts)
}

/// (patient, criterion, evidence) of every firing of a run.
fn firings(run: &Path) -> BTreeSet<(i64, String, String)> {
    let f = data_util::read_parquet(&run.join("firings.parquet"));
    let pid = f
        .column_by_name("patient_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let (crit, evidence) = (text(&f, "criterion_id"), text(&f, "evidence"));
    (0..f.num_rows())
        .map(|i| {
            (
                pid.value(i),
                crit.value(i).to_string(),
                evidence.value(i).to_string(),
            )
        })
        .collect()
}

#[test]
fn one_percent_of_every_unusable_row_is_counted_and_changes_no_one_else() {
    let patients: u32 = std::env::var("CAREGAP_BAD_DATA_PATIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| -> PathBuf { tmp.path().join(name) };
    let s = |p: &Path| p.to_str().unwrap().to_string();
    ok(caregap(&[
        "synth",
        "--patients",
        &patients.to_string(),
        "--seed",
        "11",
        "--as-of",
        "2026-01-01",
        "--years",
        "3",
        "--out",
        &s(&p("clean")),
    ]));
    let (touched, injected) = corrupt(&p("clean"), &p("dirty"));
    assert_eq!(
        injected.len(),
        FAULTS.len(),
        "every fault injected: {injected:?}"
    );
    let criteria = concat!(env!("CARGO_MANIFEST_DIR"), "/criteria");
    for (data, out) in [("clean", "run-clean"), ("dirty", "run-dirty")] {
        ok(caregap(&[
            "score",
            "--data",
            &s(&p(data)),
            "--criteria",
            criteria,
            "--as-of",
            "2026-01-01",
            "--out",
            &s(&p(out)),
        ]));
    }

    // Every rejected row under its reason, no more, no less.
    let run: serde_json::Value =
        serde_json::from_slice(&fs::read(p("run-dirty").join("run.json")).unwrap()).unwrap();
    let rejected = run["rejected_rows"].as_array().unwrap();
    for (fault, n) in &injected {
        let want = reason(*fault);
        let got: u64 = rejected
            .iter()
            .filter(|r| r["table"] == "events" && r["reason"] == want)
            .map(|r| r["count"].as_u64().unwrap())
            .sum();
        assert_eq!(got, *n, "{fault:?}");
    }
    let total: u64 = rejected.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(total, injected.values().sum::<u64>());

    // The untouched people fire exactly as in the clean population.
    let keep = |rows: BTreeSet<(i64, String, String)>| -> BTreeSet<_> {
        rows.into_iter()
            .filter(|r| !touched.contains(&r.0))
            .collect()
    };
    let (clean, dirty) = (
        keep(firings(&p("run-clean"))),
        keep(firings(&p("run-dirty"))),
    );
    let people: BTreeSet<i64> = clean.iter().map(|r| r.0).collect();
    assert!(
        people.len() as u32 > patients / 2,
        "only {} untouched people with firings",
        people.len()
    );
    assert_eq!(clean, dirty);

    // --strict refuses the extract, naming the first bad row.
    let out = caregap(&[
        "inspect",
        &s(&p("dirty")),
        "--as-of",
        "2026-01-01",
        "--strict",
    ]);
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("events.parquet, row") && msg.contains("--strict"),
        "{msg}"
    );
}
