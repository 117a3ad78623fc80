//! `caregap test-library` as users run it: the real binary on the shipped
//! library, and on a deliberately wrong case to see the failure report.

use std::path::Path;
use std::process::Command;

fn caregap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
}

fn library() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("criteria")
}

/// Runs `caregap test-library criteria --cases DIR` with one case file `name`.
fn run_one_case_file(name: &str, text: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), text).unwrap();
    caregap()
        .arg("test-library")
        .arg(library())
        .arg("--cases")
        .arg(dir.path())
        .output()
        .unwrap()
}

#[test]
fn the_shipped_library_passes_its_cases_with_full_coverage() {
    let out = caregap()
        .arg("test-library")
        .arg(library())
        .arg("--require-coverage")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

#[test]
fn a_wrong_expectation_is_reported_with_the_evidence() {
    let out = run_one_case_file(
        "wrong.toml",
        r#"
as_of = "2026-01-01"
[[person]]
name = "controlled_but_expected_to_fire"
age = 60
sex = "F"
events = ["2y dx ICD10 I10", "2mo lab LOINC 8480-6 128 mmHg", "2mo lab LOINC 8462-4 78 mmHg"]
fire = ["HTN.BP_UNCONTROLLED"]
"#,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("person 'controlled_but_expected_to_fire' (age 60): expected HTN.BP_UNCONTROLLED to fire, status is closed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("last(lab.sbp, 12mo) = 128 on 2025-11-01"),
        "{stdout}"
    );
    assert!(
        stdout.contains("event: 2025-11-01 2mo lab LOINC 8480-6 128 mmHg"),
        "{stdout}"
    );
}

#[test]
fn an_unknown_criterion_or_bad_event_is_an_error_naming_the_place() {
    let out = run_one_case_file(
        "bad.toml",
        "[[person]]\nname = 'a'\nage = 50\nsex = 'M'\nevents = ['3w dx ICD10 I10']\nfire = ['HTN.NOPE']\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bad.toml: person 'a', event 1: '3w' is not a time"),
        "{stderr}"
    );
}

#[test]
fn an_id_that_is_not_a_criterion_is_an_error() {
    let out = run_one_case_file(
        "typo.toml",
        "[[person]]\nname = 'a'\nage = 50\nsex = 'M'\nfire = ['HTN.BP_UNCONTROLED']\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "typo.toml: person 'a': HTN.BP_UNCONTROLED is not a criterion of the library"
        ),
        "{stderr}"
    );
}
