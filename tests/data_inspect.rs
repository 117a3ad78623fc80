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
        "after as_of",
    ] {
        assert!(out.contains(part), "output lacks {part:?}:\n{out}");
    }
    // Events after as_of are counted apart, not rejected: the generated data
    // has no unusable row, and its events table sets some rows aside.
    assert!(out.contains("Rejected rows\n  none"), "{out}");
    let events_row = out
        .lines()
        .find(|l| l.trim_start().starts_with("events "))
        .unwrap();
    assert!(!events_row.trim_end().ends_with(" 0"), "{events_row}");

    // ... so a strict load of an extract that runs past as_of succeeds.
    let (ok, strict_out, err) = inspect(&[path, "--as-of", "2020-06-01", "--strict"]);
    assert!(ok, "{err}");
    assert_eq!(strict_out, out);

    let (ok, _, err) = inspect(&[path, "--as-of", "2020-13-01"]);
    assert!(!ok);
    assert!(err.contains("YYYY-MM-DD"), "{err}");
}
