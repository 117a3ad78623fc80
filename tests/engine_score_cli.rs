//! `caregap score` end to end: Parquet in, the real binary, outputs read back.

mod data_util;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use parquet::arrow::ArrowWriter;

fn d(s: &str) -> i32 {
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

fn write(path: &Path, fields: Vec<Field>, cols: Vec<ArrayRef>) {
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    let mut w =
        ArrowWriter::try_new(fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn read(path: &Path) -> RecordBatch {
    data_util::read_parquet(path)
}

fn strings(b: &RecordBatch, col: &str) -> Vec<String> {
    let a = b.column_by_name(col).unwrap().as_string::<i32>();
    (0..a.len()).map(|i| a.value(i).to_string()).collect()
}

const LIBRARY: &str = r#"
[dx.hypertension]
title = "Hypertension"
ICD10 = ["I10..I15"]

[lab.sbp]
title = "Systolic blood pressure"
LOINC = ["=8480-6"]
unit = "mmHg"

[dx.palliative]
title = "Palliative care"
ICD10 = ["Z51.5"]

[define]
hypertensive = "has(dx.hypertension)"

[[criterion]]
id = "HTN.BP_UNCONTROLLED"
title = "Hypertension with last systolic at or above 140"
population = "age >= 18 and hypertensive"
gap = "last(lab.sbp, 12mo) >= 140"
exclude = "has(dx.palliative, 12mo)"
priority = 8

[[feature]]
name = "sbp_last"
expr = "last(lab.sbp, 12mo)"

[[feature]]
name = "htn"
expr = "hypertensive"
"#;

fn setup(root: &Path) {
    let data = root.join("data");
    fs::create_dir_all(&data).unwrap();
    let lib = root.join("lib");
    fs::create_dir_all(&lib).unwrap();
    fs::write(lib.join("cardio.toml"), LIBRARY).unwrap();
    // 1: fires; 2: closed (sbp 130); 3: excluded (palliative); 4: dead; 5: no htn.
    write(
        &data.join("patients.parquet"),
        vec![
            Field::new("patient_id", DataType::Int64, false),
            Field::new("birth_date", DataType::Date32, false),
            Field::new("sex", DataType::Utf8, false),
            Field::new("clinic_id", DataType::Utf8, false),
            Field::new("death_date", DataType::Date32, true),
        ],
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])),
            Arc::new(Date32Array::from(vec![d("1950-01-01"); 5])),
            Arc::new(StringArray::from(vec!["F", "M", "F", "M", "F"])),
            Arc::new(StringArray::from(vec!["A", "A", "B", "B", "A"])),
            Arc::new(Date32Array::from(vec![
                None,
                None,
                None,
                Some(d("2025-06-01")),
                None,
            ])),
        ],
    );
    type Row<'a> = (
        i64,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        Option<f64>,
        Option<&'a str>,
    );
    let rows: Vec<Row> = vec![
        (1, "2019-04-02", "diagnosis", "ICD10", "I10", None, None),
        (
            1,
            "2025-11-03",
            "measurement",
            "LOINC",
            "8480-6",
            Some(162.0),
            Some("mmHg"),
        ),
        (
            1,
            "2025-11-04",
            "measurement",
            "LOINC",
            "8480-6",
            Some(21.0),
            Some("kPa"),
        ),
        (2, "2020-01-01", "diagnosis", "ICD10", "I11.9", None, None),
        (
            2,
            "2025-10-01",
            "measurement",
            "LOINC",
            "8480-6",
            Some(130.0),
            None,
        ),
        (3, "2020-01-01", "diagnosis", "ICD10", "I10", None, None),
        (
            3,
            "2025-10-01",
            "measurement",
            "LOINC",
            "8480-6",
            Some(170.0),
            None,
        ),
        (3, "2025-09-01", "diagnosis", "ICD10", "Z51.5", None, None),
        (4, "2020-01-01", "diagnosis", "ICD10", "I10", None, None),
        (
            1,
            "2026-01-01",
            "measurement",
            "LOINC",
            "8480-6",
            Some(100.0),
            None,
        ),
    ];
    write(
        &data.join("events.parquet"),
        vec![
            Field::new("patient_id", DataType::Int64, false),
            Field::new("date", DataType::Date32, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("system", DataType::Utf8, false),
            Field::new("code", DataType::Utf8, false),
            Field::new("value", DataType::Float64, true),
            Field::new("unit", DataType::Utf8, true),
        ],
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| d(r.1)))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.3))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.4))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.5))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.6))),
        ],
    );
}

fn score(root: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
        .arg("score")
        .args(["--data", root.join("data").to_str().unwrap()])
        .args(["--criteria", root.join("lib").to_str().unwrap()])
        .args(["--as-of", "2025-12-01"])
        .args(["--out", root.join("out").to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn score_writes_firings_summary_features_and_run_json() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    setup(root);
    let out = score(root, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("HTN.BP_UNCONTROLLED"), "{stdout}");

    let firings = read(&root.join("out/firings.parquet"));
    let schema: Vec<(String, DataType)> = firings
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    assert_eq!(
        schema,
        vec![
            ("patient_id".into(), DataType::Int64),
            ("clinic_id".into(), DataType::Utf8),
            ("criterion_id".into(), DataType::Utf8),
            ("priority".into(), DataType::Int32),
            ("status".into(), DataType::Utf8),
            ("evidence".into(), DataType::Utf8),
        ]
    );
    assert_eq!(firings.num_rows(), 1);
    assert_eq!(firings.column(0).as_primitive::<Int64Type>().value(0), 1);
    assert_eq!(firings.column(3).as_primitive::<Int32Type>().value(0), 8);
    assert_eq!(
        strings(&firings, "evidence"),
        vec![
            "age = 75; has(dx.hypertension) = true (latest 2019-04-02); last(lab.sbp, 12mo) = 162 on 2025-11-03; has(dx.palliative, 12mo) = false"
        ]
    );

    let summary = read(&root.join("out/criteria_summary.parquet"));
    assert_eq!(strings(&summary, "clinic_id"), vec!["ALL", "A", "B"]);
    let col = |name: &str| -> Vec<i64> {
        summary
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec()
    };
    assert_eq!(col("in_population"), vec![3, 2, 1]);
    assert_eq!(col("excluded"), vec![1, 0, 1]);
    assert_eq!(col("open"), vec![1, 1, 0]);
    assert_eq!(col("closed"), vec![1, 1, 0]);
    let rate = summary
        .column_by_name("rate")
        .unwrap()
        .as_primitive::<arrow::datatypes::Float64Type>();
    assert_eq!(rate.value(0), 0.5);
    assert!(rate.is_null(2));

    let features = read(&root.join("out/features.parquet"));
    assert_eq!(features.num_rows(), 4, "the dead person has no row");
    let sbp = features
        .column_by_name("sbp_last")
        .unwrap()
        .as_primitive::<arrow::datatypes::Float64Type>();
    assert_eq!(sbp.value(0), 162.0);
    assert!(sbp.is_null(3));
    assert_eq!(
        features.column_by_name("htn").unwrap().data_type(),
        &DataType::Boolean
    );

    let run: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(root.join("out/run.json")).unwrap()).unwrap();
    assert_eq!(run["as_of"], "2025-12-01");
    assert_eq!(run["unit_mismatches"]["lab.sbp"], 1);
    assert_eq!(run["counts"]["alive"], 4);
    assert!(
        run["library"]["hash"]
            .as_str()
            .is_some_and(|h| !h.is_empty())
    );
    assert!(run["timings_s"]["evaluate"].is_number());

    // --status adds the excluded and closed rows, in patient then criterion order.
    let out = score(root, &["--status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let firings = read(&root.join("out/firings.parquet"));
    assert_eq!(
        strings(&firings, "status"),
        vec!["open", "closed", "excluded"]
    );
    let leftovers: Vec<_> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 3, "no staging leftovers: {leftovers:?}");
}

#[test]
fn a_broken_library_scores_nothing_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    setup(root);
    fs::write(root.join("lib/bad.toml"), "[[criterion]]\nid = \"X\"\ntitle = \"x\"\npopulation = \"has(dx.nope)\"\ngap = \"true\"\npriority = 3\n").unwrap();
    let out = score(root, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dx.nope"), "{err}");
    assert!(!root.join("out").exists());
    assert_eq!(fs::read_dir(root).unwrap().count(), 2);
}
