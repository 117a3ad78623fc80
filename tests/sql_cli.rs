//! `caregap sql` end to end: a TOML library in, a script out that DuckDB runs
//! on Parquet files written by DuckDB itself; usage errors are clear.

mod sql_common;

use std::process::Command;

const LIBRARY: &str = r#"
[dx.hypertension]
title = "Hypertensive diseases"
ICD10 = ["I10..I15"]

[lab.sbp]
title = "Systolic blood pressure"
LOINC = ["=8480-6"]
unit = "mmHg"

[define]
hypertensive = "has(dx.hypertension)"

[[criterion]]
id = "HTN.BP_UNCONTROLLED"
title = "Hypertension with last blood pressure at or above 140 mmHg"
population = "age >= 18 and hypertensive"
gap = "last(lab.sbp, 12mo) >= 140"
priority = 8

[[feature]]
name = "sbp_last"
expr = "last(lab.sbp, 12mo)"
"#;

fn caregap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
        .args(args)
        .output()
        .expect("run caregap")
}

#[test]
fn prints_a_script_duckdb_runs_on_parquet() {
    let Some(python) = sql_common::duckdb_python("prints_a_script_duckdb_runs_on_parquet") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    std::fs::write(lib.join("htn.toml"), LIBRARY).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("events")).unwrap();
    // Patients as one file, events as a folder of parts.
    let make = format!(
        "COPY (SELECT * FROM (VALUES (1, DATE '1950-01-01', 'F', 'A', CAST(NULL AS DATE)), \
           (2, DATE '1950-01-01', 'M', 'B', DATE '2020-01-01')) t(patient_id, birth_date, sex, clinic_id, death_date)) \
           TO '{d}/patients.parquet' (FORMAT parquet);\n\
         COPY (SELECT * FROM (VALUES (1, DATE '2020-01-01', 'diagnosis', 'ICD10', 'I10', CAST(NULL AS DOUBLE), CAST(NULL AS VARCHAR)), \
           (1, DATE '2024-01-01', 'measurement', 'LOINC', '8480-6', 150.0, 'mmHg'), \
           (2, DATE '2019-01-01', 'diagnosis', 'ICD10', 'I10', NULL, NULL)) \
           t(patient_id, date, kind, system, code, value, unit)) TO '{d}/events/part-0.parquet' (FORMAT parquet);\n",
        d = data.display()
    );
    let engine = sql_common::Engine {
        python,
        dialect: caregap::sql::Dialect::DuckDb,
    };
    sql_common::run_sql(&engine, &make, "SELECT 1");
    let (lib_s, data_s) = (lib.to_str().unwrap(), data.to_str().unwrap());
    let base = [
        "sql",
        "--criteria",
        lib_s,
        "--as-of",
        "2024-03-31",
        "--data",
        data_s,
    ];
    let out = caregap(&base);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(
        script.contains("-- HTN.BP_UNCONTROLLED: Hypertension"),
        "{script}"
    );
    let rows = sql_common::run_sql(&engine, "", &script);
    assert_eq!(
        serde_json::json!(rows),
        serde_json::json!([[1, "A", "HTN.BP_UNCONTROLLED", 8]])
    );

    let out = caregap(&[&base[..], &["--features"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = sql_common::run_sql(&engine, "", &String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        serde_json::json!(rows),
        serde_json::json!([[1, "A", 150.0]])
    );

    // Spark reads the same folder through its parquet.`...` sources (absolute
    // paths, so a cluster's executors find them); it runs when the Spark venv
    // is asked for (CAREGAP_SQL_SPARK).
    let out = caregap(&[&base[..], &["--dialect", "spark"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = String::from_utf8(out.stdout).unwrap();
    let abs = std::path::absolute(&data).unwrap();
    assert!(
        script.contains(&format!("parquet.`{}`", abs.join("events").display()))
            && script.contains(&format!(
                "parquet.`{}`",
                abs.join("patients.parquet").display()
            )),
        "{script}"
    );
    for engine in sql_common::engines("spark_reads_parquet", true) {
        if engine.dialect == caregap::sql::Dialect::Spark {
            let rows = sql_common::run_sql(&engine, "", &script);
            assert_eq!(
                serde_json::json!(rows),
                serde_json::json!([[1, "A", "HTN.BP_UNCONTROLLED", 8]])
            );
        }
    }
}

#[test]
fn usage_errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("htn.toml"), LIBRARY).unwrap();
    let lib = dir.path().to_str().unwrap();
    let out = caregap(&["sql", "--criteria", lib, "--as-of", "2024-02-30"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--as-of \"2024-02-30\" is not a date"));
    let out = caregap(&[
        "sql",
        "--criteria",
        lib,
        "--as-of",
        "2024-01-01",
        "--dialect",
        "postgres",
        "--data",
        lib,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PostgreSQL cannot"));
    let out = caregap(&[
        "sql",
        "--criteria",
        lib,
        "--as-of",
        "2024-01-01",
        "--data",
        lib,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("neither patients.parquet nor a patients/ folder")
    );
    std::fs::write(dir.path().join("bad.toml"), "[[criterion]]\nid = \"X\"\n").unwrap();
    let out = caregap(&["sql", "--criteria", lib, "--as-of", "2024-01-01"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("was refused"));
}
