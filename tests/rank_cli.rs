//! End-to-end tests of `caregap rank`, `calllist`, `outreach` and `report` on a
//! hand-made scoring run (the files `caregap score` writes), one rule per person.

mod data_util;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, UInt64Array,
};
use parquet::arrow::ArrowWriter;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn day(s: &str) -> i32 {
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

fn write(path: &Path, cols: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn read(path: &Path) -> RecordBatch {
    data_util::read_parquet(path)
}

fn strs(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

fn caregap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = caregap(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// People (id: situation), as of 2025-06-01:
/// 1 C1 SCORE2 man 8.1%, gaps A(8) + B(5)      → listed first in C1
/// 2 C1 withdrew, then re-granted consent; A    → listed
/// 3 C1 granted and withdrew on the same day; A → consent_withdrawn
/// 4 C1 booked 61 days ago about B; gap A       → already_booked
/// 5 C1 declined A exactly 365 days ago; A      → listed (cool-down over)
/// 6 C1 no answer about A 7 days ago; A         → cool_down
/// 7 C2 died 2025-01-01                         → dead
/// 8 C2 general no-answer contact 12 days ago   → cool_down
/// 9 C2 gap B, many visits (top tier)           → listed
/// 10 C2 gap A                                  → listed
fn fixture(dir: &Path) {
    let data = dir.join("data");
    let run = dir.join("run");
    let lib = dir.join("lib");
    for d in [&data, &run, &lib] {
        std::fs::create_dir_all(d).unwrap();
    }
    let ids: Vec<i64> = (1..=10).collect();
    write(
        &data.join("patients.parquet"),
        vec![
            (
                "patient_id",
                Arc::new(Int64Array::from(ids.clone())) as ArrayRef,
            ),
            (
                "birth_date",
                Arc::new(Date32Array::from(vec![day("1975-01-01"); 10])),
            ),
            (
                "sex",
                strs(&["M", "F", "F", "M", "M", "F", "M", "F", "M", "F"]),
            ),
            (
                "clinic_id",
                strs(&["C1", "C1", "C1", "C1", "C1", "C1", "C2", "C2", "C2", "C2"]),
            ),
            (
                "death_date",
                Arc::new(Date32Array::from(vec![
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    Some(day("2025-01-01")),
                    None,
                    None,
                    None,
                ])),
            ),
            (
                "language",
                strs(&["fi", "sv", "fi", "fi", "en", "fi", "fi", "fi", "sv", "fi"]),
            ),
        ],
    );
    write(
        &data.join("consents.parquet"),
        vec![
            (
                "patient_id",
                Arc::new(Int64Array::from(vec![2, 2, 3, 3, 1])) as ArrayRef,
            ),
            (
                "scope",
                strs(&["outreach", "outreach", "outreach", "outreach", "research"]),
            ),
            (
                "granted",
                Arc::new(BooleanArray::from(vec![false, true, true, false, false])),
            ),
            (
                "date",
                Arc::new(Date32Array::from(vec![
                    day("2025-01-01"),
                    day("2025-03-01"),
                    day("2025-02-01"),
                    day("2025-02-01"),
                    day("2025-01-01"),
                ])),
            ),
        ],
    );
    // The loader requires an events table; ranking reads none of it.
    write(
        &data.join("events.parquet"),
        vec![
            (
                "patient_id",
                Arc::new(Int64Array::from(vec![1])) as ArrayRef,
            ),
            ("date", Arc::new(Date32Array::from(vec![day("2025-01-01")]))),
            ("kind", strs(&["visit"])),
            ("system", strs(&["VISIT"])),
            ("code", strs(&["R10"])),
        ],
    );
    write(
        &data.join("outreach.parquet"),
        vec![
            (
                "patient_id",
                Arc::new(Int64Array::from(vec![4, 5, 6, 8])) as ArrayRef,
            ),
            (
                "date",
                Arc::new(Date32Array::from(vec![
                    day("2025-04-01"),
                    day("2024-06-01"),
                    day("2025-05-25"),
                    day("2025-05-20"),
                ])),
            ),
            (
                "criterion_id",
                Arc::new(StringArray::from(vec![
                    Some("B"),
                    Some("A"),
                    Some("A"),
                    None,
                ])),
            ),
            (
                "outcome",
                strs(&["booked", "declined", "no_answer", "no_answer"]),
            ),
        ],
    );
    let alive: Vec<i64> = vec![1, 2, 3, 4, 5, 6, 8, 9, 10];
    let n = alive.len();
    let clinic: Vec<&str> = alive
        .iter()
        .map(|i| if *i <= 6 { "C1" } else { "C2" })
        .collect();
    let mut visits = vec![1.0; n];
    visits[7] = 30.0;
    write(
        &run.join("features.parquet"),
        vec![
            (
                "patient_id",
                Arc::new(Int64Array::from(alive.clone())) as ArrayRef,
            ),
            ("clinic_id", strs(&clinic)),
            ("age", Arc::new(Float64Array::from(vec![50.0; n]))),
            ("female", Arc::new(BooleanArray::from(vec![false; n]))),
            (
                "score2_sbp",
                Arc::new(Float64Array::from(vec![Some(140.0); n])),
            ),
            (
                "score2_total_chol",
                Arc::new(Float64Array::from(vec![Some(6.3); n])),
            ),
            (
                "score2_hdl",
                Arc::new(Float64Array::from({
                    let mut v = vec![Some(1.4); n];
                    v[1] = None;
                    v
                })),
            ),
            ("score2_smoker", Arc::new(BooleanArray::from(vec![true; n]))),
            ("has_cvd", Arc::new(BooleanArray::from(vec![false; n]))),
            ("has_diabetes", Arc::new(BooleanArray::from(vec![false; n]))),
            ("visits_pc_12mo", Arc::new(Float64Array::from(visits))),
        ],
    );
    let f = [
        (1, "A", 8, "open"),
        (1, "B", 5, "open"),
        (2, "A", 8, "open"),
        (3, "A", 8, "open"),
        (4, "A", 8, "open"),
        (5, "A", 8, "open"),
        (6, "A", 8, "open"),
        (8, "A", 8, "open"),
        (9, "B", 5, "open"),
        (10, "A", 8, "open"),
        (10, "B", 5, "closed"),
    ];
    write(
        &run.join("firings.parquet"),
        vec![
            (
                "patient_id",
                Arc::new(Int64Array::from(
                    f.iter().map(|r| r.0).collect::<Vec<i64>>(),
                )) as ArrayRef,
            ),
            (
                "clinic_id",
                strs(
                    &f.iter()
                        .map(|r| if r.0 <= 6 { "C1" } else { "C2" })
                        .collect::<Vec<_>>(),
                ),
            ),
            (
                "criterion_id",
                strs(&f.iter().map(|r| r.1).collect::<Vec<_>>()),
            ),
            (
                "priority",
                Arc::new(Int32Array::from(
                    f.iter().map(|r| r.2).collect::<Vec<i32>>(),
                )),
            ),
            ("status", strs(&f.iter().map(|r| r.3).collect::<Vec<_>>())),
            (
                "evidence",
                strs(
                    &f.iter()
                        .map(|r| {
                            if r.1 == "A" {
                                "last sbp 152 on 2025-03-02"
                            } else {
                                "no HbA1c in 12mo"
                            }
                        })
                        .collect::<Vec<_>>(),
                ),
            ),
        ],
    );
    let s = [
        ("A", "C1", 60u64, 6u64),
        ("A", "C2", 30, 3),
        ("A", "ALL", 90, 9),
        ("B", "C1", 20, 1),
        ("B", "C2", 40, 1),
        ("B", "ALL", 60, 2),
    ];
    write(
        &run.join("criteria_summary.parquet"),
        vec![
            (
                "criterion_id",
                strs(&s.iter().map(|r| r.0).collect::<Vec<_>>()),
            ),
            (
                "clinic_id",
                strs(&s.iter().map(|r| r.1).collect::<Vec<_>>()),
            ),
            (
                "in_population",
                Arc::new(UInt64Array::from(s.iter().map(|r| r.2).collect::<Vec<_>>())) as ArrayRef,
            ),
            ("excluded", Arc::new(UInt64Array::from(vec![0u64; 6]))),
            (
                "open",
                Arc::new(UInt64Array::from(s.iter().map(|r| r.3).collect::<Vec<_>>())),
            ),
            ("closed", Arc::new(UInt64Array::from(vec![0u64; 6]))),
            (
                "rate",
                Arc::new(Float64Array::from(
                    s.iter()
                        .map(|r| r.3 as f64 / r.2 as f64)
                        .collect::<Vec<_>>(),
                )),
            ),
        ],
    );
    std::fs::write(
        lib.join("criteria.toml"),
        "[[criterion]]\nid = \"A\"\ntitle = \"Blood pressure, above target\"\npopulation = \"true\"\ngap = \"true\"\npriority = 8\naction = \"Nurse: blood pressure check\"\n\n\
         [[criterion]]\nid = \"B\"\ntitle = \"Diabetes, no HbA1c\"\npopulation = \"true\"\ngap = \"true\"\npriority = 5\naction = \"Lab: HbA1c\"\n",
    )
    .unwrap();
    std::fs::write(
        run.join("run.json"),
        format!(
            "{{\"as_of\": \"2025-06-01\", \"data\": {:?}, \"library\": {:?}, \"library_hash\": \"abc\"}}",
            data.display().to_string(),
            lib.display().to_string()
        ),
    )
    .unwrap();
}

fn json_rows(text: &str) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn rank_calllist_outreach_report_chain() {
    let tmp = tempfile::tempdir().unwrap();
    fixture(tmp.path());
    let run = tmp.path().join("run");
    let data = tmp.path().join("data");
    let r = run.to_str().unwrap();
    let d = data.to_str().unwrap();
    ok(&["rank", "--run", r]);

    // Exclusion counts per clinic, each person under the first rule.
    let ex = read(&run.join("exclusions.parquet"));
    let col = |name: &str| -> Vec<u64> {
        ex.column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap()
            .values()
            .to_vec()
    };
    assert_eq!(col("with_gaps"), vec![6, 3]);
    assert_eq!(col("listed"), vec![3, 2]);
    assert_eq!(col("dead"), vec![0, 1]);
    assert_eq!(col("consent_withdrawn"), vec![1, 0]);
    assert_eq!(col("already_booked"), vec![1, 0]);
    assert_eq!(col("cool_down"), vec![1, 1]);

    // Risk: person 1 reproduces the published 8.1%; person 2 has no HDL.
    let risk = read(&run.join("risk.parquet"));
    let pct = risk
        .column_by_name("cv_risk_pct")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert!((pct.value(0) - 8.1).abs() < 0.05);
    assert!(pct.is_null(1));
    let reason = risk
        .column_by_name("cv_reason")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(reason.value(1), "missing hdl");

    // C1's list: 1 (80 + 2·5 + 10 risk), then 5 and 2 (80 + 10 risk vs 80 + 0) ...
    let rows = json_rows(&ok(&[
        "calllist", "--run", r, "--clinic", "C1", "--format", "json",
    ]));
    let ids: Vec<i64> = rows
        .iter()
        .map(|x| x["patient_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 5, 2]);
    assert_eq!(rows[0]["score"], 100);
    assert_eq!(rows[0]["language"], "fi");
    assert_eq!(rows[0]["criteria"], "A; B");
    assert_eq!(
        rows[0]["reasons"],
        "Blood pressure, above target (priority 8) | Diabetes, no HbA1c (priority 5)"
    );
    assert_eq!(
        rows[0]["action"],
        "Nurse: blood pressure check | Lab: HbA1c"
    );
    assert!(
        rows[0]["risk"]
            .as_str()
            .unwrap()
            .starts_with("SCORE2 8.1% (high)")
    );
    assert!(
        rows[0]["evidence"]
            .as_str()
            .unwrap()
            .contains("A: last sbp 152")
    );
    assert_eq!(rows[1]["rank"], 2);
    // C2: 9 has the top utilisation tier: 50 + 10 + 15 < 10's 80 + 10.
    let rows = json_rows(&ok(&[
        "calllist", "--run", r, "--clinic", "C2", "--format", "json",
    ]));
    let ids: Vec<i64> = rows
        .iter()
        .map(|x| x["patient_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![10, 9]);
    assert_eq!(rows[1]["score_utilisation"], 15);

    // Capacity and CSV; unknown clinic.
    let csv = ok(&["calllist", "--run", r, "--clinic", "C1", "--capacity", "1"]);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.starts_with("rank,patient_id,language,score,"));
    assert!(
        !caregap(&["calllist", "--run", r, "--clinic", "C9"])
            .status
            .success()
    );
    let per_clinic = std::fs::read_to_string(run.join("calllists/C1.csv")).unwrap();
    assert_eq!(per_clinic.lines().count(), 4);
    let audit = std::fs::read_to_string(run.join("audit.log")).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("command=calllist\tclinic=C1\trows=1")),
        "{audit}"
    );

    // Outreach: bad rows refused, log unchanged; a good one appended.
    let before = read(&data.join("outreach.parquet")).num_rows();
    for bad in [
        vec![
            "--patient",
            "99",
            "--date",
            "2025-05-30",
            "--outcome",
            "no_answer",
        ],
        vec![
            "--patient",
            "2",
            "--date",
            "2999-01-01",
            "--outcome",
            "no_answer",
        ],
        vec![
            "--patient",
            "2",
            "--date",
            "2025-05-30",
            "--outcome",
            "Booked",
        ],
    ] {
        let mut a = vec!["outreach", "record", "--data", d];
        a.extend(bad);
        assert!(!caregap(&a).status.success(), "{a:?}");
    }
    assert_eq!(read(&data.join("outreach.parquet")).num_rows(), before);
    ok(&[
        "outreach",
        "record",
        "--data",
        d,
        "--patient",
        "2",
        "--date",
        "2025-05-30",
        "--outcome",
        "no_answer",
        "--criterion",
        "A",
    ]);
    let csv_in = tmp.path().join("contacts.csv");
    std::fs::write(&csv_in, "patient_id,date,outcome,criterion_id,note\n2,2025-05-30,no_answer,A,dup\n10,2025-05-31,declined,,\"called, declined\"\n").unwrap();
    ok(&["outreach", "import", "--data", d, csv_in.to_str().unwrap()]);
    assert_eq!(read(&data.join("outreach.parquet")).num_rows(), before + 2);
    std::fs::write(
        &csv_in,
        "patient_id,date,outcome\n2,2025-05-30,maybe\n77,2025-05-30,booked\n",
    )
    .unwrap();
    let out = caregap(&["outreach", "import", "--data", d, csv_in.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("line 2") && err.contains("line 3"),
        "{err}"
    );

    // The next ranking respects them: 2 rests, 10 declined (general) rests.
    ok(&["rank", "--run", r]);
    let ex = read(&run.join("exclusions.parquet"));
    let cool = ex
        .column_by_name("cool_down")
        .unwrap()
        .as_any()
        .downcast_ref::<UInt64Array>()
        .unwrap()
        .values()
        .to_vec();
    assert_eq!(cool, vec![2, 2]);

    // Report: every count here is small, so the tables show `<5`.
    let html = run.join("report.html");
    ok(&["report", "--run", r, "--out", html.to_str().unwrap()]);
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("&lt;5"));
    assert!(text.contains("<svg"));
    assert!(
        !text.contains("<td>6 / 60"),
        "6 is the complement of the 3 in its row"
    );
    let html2 = run.join("report0.html");
    ok(&[
        "report",
        "--run",
        r,
        "--out",
        html2.to_str().unwrap(),
        "--min-cell",
        "0",
    ]);
    assert!(
        std::fs::read_to_string(&html2)
            .unwrap()
            .contains("<td>6 / 60 (10.0%)</td>")
    );
}

#[test]
fn outreach_folder_of_parts_gets_a_new_part_and_keeps_the_old() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path();
    write(
        &data.join("patients.parquet"),
        vec![
            ("patient_id", strs(&["a1", "a2"])),
            (
                "birth_date",
                Arc::new(Date32Array::from(vec![0, 0])) as ArrayRef,
            ),
            ("sex", strs(&["F", "M"])),
            ("clinic_id", strs(&["C1", "C1"])),
        ],
    );
    std::fs::create_dir(data.join("outreach")).unwrap();
    let part0 = data.join("outreach/part-0.parquet");
    write(
        &part0,
        vec![
            ("patient_id", strs(&["a1", "a1"])),
            (
                "date",
                Arc::new(Date32Array::from(vec![
                    day("2025-01-01"),
                    day("2025-01-02"),
                ])) as ArrayRef,
            ),
            (
                "criterion_id",
                Arc::new(StringArray::from(vec![None, Some("X")])),
            ),
            ("outcome", strs(&["declined", "no_answer"])),
            // An extra, nullable column: new rows get null there.
            (
                "note",
                Arc::new(StringArray::from(vec![Some("kept"), None])),
            ),
        ],
    );
    let before = std::fs::read(&part0).unwrap();
    let d = data.to_str().unwrap();
    ok(&[
        "outreach",
        "record",
        "--data",
        d,
        "--patient",
        "a2",
        "--date",
        "2025-02-01",
        "--outcome",
        "booked",
    ]);
    // The same contact again is skipped: no second new part.
    ok(&[
        "outreach",
        "record",
        "--data",
        d,
        "--patient",
        "a2",
        "--date",
        "2025-02-01",
        "--outcome",
        "booked",
    ]);
    assert_eq!(std::fs::read(&part0).unwrap(), before);
    let parts: Vec<_> = std::fs::read_dir(data.join("outreach"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(parts.len(), 2, "{parts:?}");
    let new = parts.iter().find(|p| **p != part0).unwrap();
    let b = read(new);
    assert_eq!(b.num_rows(), 1);
    assert_eq!(
        b.schema().fields().len(),
        5,
        "same schema as the old parts, extra column null"
    );
    assert!(!data.join(".outreach.lock").exists());
    // Unknown id (text ids are compared exactly).
    assert!(
        !caregap(&[
            "outreach",
            "record",
            "--data",
            d,
            "--patient",
            "A1",
            "--date",
            "2025-02-01",
            "--outcome",
            "booked"
        ])
        .status
        .success()
    );
}
