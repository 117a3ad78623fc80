//! The whole chain on a small generated population: `synth` → `score` →
//! `rank` → `calllist` → `report`, checked against the input tables directly
//! (consents, deaths, bookings) rather than against the engine's own outputs.

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Int64Type, UInt32Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

const AS_OF: &str = "2026-01-01";

fn as_of() -> i32 {
    let d = chrono::NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap();
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

fn ok(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_caregap"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A table written as one file or as a folder of parts.
fn read(dir: &Path, name: &str) -> RecordBatch {
    let file = dir.join(format!("{name}.parquet"));
    let mut paths = vec![file.clone()];
    if !file.exists() {
        paths = std::fs::read_dir(dir.join(name))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
    }
    let mut batches = Vec::new();
    for p in paths {
        let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&p).unwrap()).unwrap();
        batches.extend(r.build().unwrap().map(Result::unwrap));
    }
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

fn ids(b: &RecordBatch) -> Vec<i64> {
    b.column_by_name("patient_id")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

fn texts(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let a = arrow::compute::cast(
        b.column_by_name(name).unwrap(),
        &arrow::datatypes::DataType::Utf8,
    )
    .unwrap();
    a.as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect()
}

fn dates(b: &RecordBatch, name: &str) -> Vec<Option<i32>> {
    b.column_by_name(name)
        .unwrap()
        .as_primitive::<Date32Type>()
        .iter()
        .collect()
}

/// People whose latest `outreach` decision on or before `as_of` is a
/// withdrawal (a withdrawal beats a grant of the same day).
fn withdrawn(data: &Path, as_of: i32) -> HashSet<i64> {
    let b = read(data, "consents");
    let (who, scope, date) = (ids(&b), texts(&b, "scope"), dates(&b, "date"));
    let granted: Vec<Option<bool>> = b
        .column_by_name("granted")
        .unwrap()
        .as_boolean()
        .iter()
        .collect();
    let mut latest: HashMap<i64, (i32, bool)> = HashMap::new();
    for r in 0..b.num_rows() {
        let (Some(d), Some(g)) = (date[r], granted[r]) else {
            continue;
        };
        if scope[r].as_deref() != Some("outreach") || d > as_of {
            continue;
        }
        // Key: later date wins; on a tie the withdrawal (g = false) wins.
        let e = latest.entry(who[r]).or_insert((d, g));
        if (d, !g) > (e.0, !e.1) {
            *e = (d, g);
        }
    }
    latest
        .into_iter()
        .filter(|(_, (_, g))| !g)
        .map(|(p, _)| p)
        .collect()
}

#[test]
fn synth_score_rank_calllist_report() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, run) = (tmp.path().join("data"), tmp.path().join("run"));
    let (data_s, run_s) = (data.to_str().unwrap(), run.to_str().unwrap());
    let criteria = concat!(env!("CARGO_MANIFEST_DIR"), "/criteria");
    ok(&[
        "synth",
        "--patients",
        "2000",
        "--seed",
        "7",
        "--as-of",
        AS_OF,
        "--years",
        "5",
        "--out",
        data_s,
    ]);
    ok(&[
        "score",
        "--data",
        data_s,
        "--criteria",
        criteria,
        "--as-of",
        AS_OF,
        "--out",
        run_s,
    ]);
    ok(&["rank", "--run", run_s]);
    let csv = ok(&[
        "calllist",
        "--run",
        run_s,
        "--clinic",
        "HC01",
        "--capacity",
        "20",
    ]);
    let report = tmp.path().join("report.html");
    ok(&["report", "--run", run_s, "--out", report.to_str().unwrap()]);
    let as_of = as_of();

    // The whole list: per clinic, ranks 1.. in order, the urgent band first
    // and the routine band's order value never rising (the default order).
    let all = read(&run, "calllist");
    assert!(all.num_rows() > 0, "no one listed");
    let clinic = texts(&all, "clinic_id");
    let rank = all
        .column_by_name("rank")
        .unwrap()
        .as_primitive::<UInt32Type>();
    let band: Vec<String> = texts(&all, "band").into_iter().flatten().collect();
    let value = all
        .column_by_name("order_value")
        .unwrap()
        .as_primitive::<arrow::datatypes::Float64Type>();
    let mut seen_clinics = HashSet::new();
    for r in 0..all.num_rows() {
        if r > 0 && clinic[r] == clinic[r - 1] {
            assert_eq!(rank.value(r), rank.value(r - 1) + 1, "row {r}");
            assert!(
                !(band[r] == "urgent" && band[r - 1] == "routine"),
                "row {r}: urgent after routine"
            );
            if band[r] == "routine" && band[r - 1] == "routine" {
                assert!(value.value(r) <= value.value(r - 1), "row {r}: value rises");
            }
        } else {
            assert!(
                seen_clinics.insert(clinic[r].clone()),
                "clinic split: row {r}"
            );
            assert_eq!(rank.value(r), 1, "row {r}");
        }
    }
    for name in ["reasons", "action", "criteria"] {
        for (r, v) in texts(&all, name).iter().enumerate() {
            assert!(
                v.as_deref().is_some_and(|s| !s.trim().is_empty()),
                "row {r}: empty {name}"
            );
        }
    }

    // Never listed: consent withdrawn, dead, booked within the 90-day cool-down.
    let listed: HashSet<i64> = ids(&all).into_iter().collect();
    assert_eq!(listed.len(), all.num_rows(), "a person listed twice");
    let no_consent = withdrawn(&data, as_of);
    assert!(
        !no_consent.is_empty(),
        "the synthetic data has no withdrawals"
    );
    assert!(listed.is_disjoint(&no_consent));
    let patients = read(&data, "patients");
    let dead: HashSet<i64> = ids(&patients)
        .into_iter()
        .zip(dates(&patients, "death_date"))
        .filter(|(_, d)| d.is_some_and(|d| d <= as_of))
        .map(|(p, _)| p)
        .collect();
    assert!(!dead.is_empty());
    assert!(listed.is_disjoint(&dead));
    let log = read(&data, "outreach");
    let booked: HashSet<i64> = ids(&log)
        .into_iter()
        .zip(dates(&log, "date"))
        .zip(texts(&log, "outcome"))
        .filter(|((_, d), o)| {
            o.as_deref() == Some("booked") && d.is_some_and(|d| d <= as_of && d > as_of - 90)
        })
        .map(|((p, _), _)| p)
        .collect();
    assert!(listed.is_disjoint(&booked));
    // Everyone listed has an open gap.
    let firings = read(&run, "firings");
    let open: HashSet<i64> = ids(&firings)
        .into_iter()
        .zip(texts(&firings, "status"))
        .filter(|(_, s)| s.as_deref() == Some("open"))
        .map(|(p, _)| p)
        .collect();
    assert!(listed.is_subset(&open));

    // One clinic's list: capacity respected, the top of that clinic in order.
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let rows: Vec<&str> = lines.collect();
    let hc01 = clinic
        .iter()
        .filter(|c| c.as_deref() == Some("HC01"))
        .count();
    assert_eq!(rows.len(), hc01.min(20));
    assert!(rows.len() == 20, "HC01 has only {hc01} listed");
    let first = clinic
        .iter()
        .position(|c| c.as_deref() == Some("HC01"))
        .unwrap();
    for (i, line) in rows.iter().enumerate() {
        let rank_field = line.split(',').nth(col("rank")).unwrap();
        assert_eq!(rank_field, (i + 1).to_string());
        let id_field = line.split(',').nth(col("patient_id")).unwrap();
        assert_eq!(id_field, ids(&all)[first + i].to_string());
    }

    // The report: every count shown is suppressed or at least 5.
    let html = std::fs::read_to_string(&report).unwrap();
    let mut cells = 0;
    for cell in html.split("<td>").skip(1) {
        let cell = cell.split("</td>").next().unwrap();
        let counts = cell.split(" (").next().unwrap();
        for part in counts.split(" / ") {
            if let Ok(v) = part.trim().parse::<u64>() {
                cells += 1;
                assert!(v >= 5, "cell {cell:?} shows a count under 5");
            }
        }
    }
    assert!(cells > 10, "the report shows almost no counts");
    assert!(
        html.contains("&lt;5"),
        "nothing suppressed on 2,000 people?"
    );

    // The audit log: the rank export and the call-list access.
    let audit = std::fs::read_to_string(run.join("audit.log")).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("command=rank") && l.contains("clinic=HC01"))
    );
    assert!(audit.lines().any(|l| l.contains("command=calllist")
        && l.contains("clinic=HC01")
        && l.contains("rows=20")
        && l.contains("to=stdout")));
}
