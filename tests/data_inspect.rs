//! `caregap inspect` run as a user would, on a generated dataset.

mod data_util;

use std::process::Command;

fn inspect(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_caregap"))
        .arg("inspect")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn inspect_prints_tables_clinics_kinds_codes_and_rejections() {
    let dir = tempfile::tempdir().unwrap();
    data_util::write_generated(dir.path(), 200, 10, 2, 3);
    let path = dir.path().to_str().unwrap();
    // 2020-06-01 = day 18414: later generated events are set aside.
    let (ok, out, err) = inspect(&[path, "--as-of", "2020-06-01", "--top", "3"]);
    assert!(ok, "{err}");
    for part in [
        "as of 2020-06-01",
        "patients",
        "Patients per clinic",
        "C01",
        "diagnosis",
        "ICD10:E119",
        "Most frequent codes per kind",
        "event dated after as_of",
        "events/part-000.parquet, row",
    ] {
        assert!(out.contains(part), "output lacks {part:?}:\n{out}");
    }

    let (ok, _, err) = inspect(&[path, "--as-of", "2020-06-01", "--strict"]);
    assert!(!ok);
    assert!(
        err.contains("event dated after as_of") && err.contains("--strict"),
        "{err}"
    );

    let (ok, _, err) = inspect(&[path, "--as-of", "2020-13-01"]);
    assert!(!ok);
    assert!(err.contains("YYYY-MM-DD"), "{err}");
}
