//! Shared by the import tests: running the binary, reading the report,
//! scoring two data folders and requiring identical outputs.
#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

pub fn caregap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
}

/// Runs `cmd`, failing the test with its output if it fails.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(dir.join("import_report.json")).unwrap()).unwrap()
}

/// Scores the data folder `dir/data` into `dir/score-data` (as of
/// 2025-06-30, the shipped library).
pub fn score(dir: &Path, data: &str) {
    let criteria = Path::new(env!("CARGO_MANIFEST_DIR")).join("criteria");
    run(caregap()
        .args(["score", "--as-of", "2025-06-30", "--criteria"])
        .arg(&criteria)
        .arg("--data")
        .arg(dir.join(data))
        .arg("--out")
        .arg(dir.join(format!("score-{data}"))));
}

/// Scores `dir/expected` and `dir/actual` and requires byte-identical
/// firings, features and summary.
pub fn scores_identically(dir: &Path, expected: &str, actual: &str) {
    score(dir, expected);
    score(dir, actual);
    for f in [
        "firings.parquet",
        "features.parquet",
        "criteria_summary.parquet",
    ] {
        let a = fs::read(dir.join(format!("score-{expected}")).join(f)).unwrap();
        let b = fs::read(dir.join(format!("score-{actual}")).join(f)).unwrap();
        assert!(
            a == b,
            "{f}: scoring {actual} differs from scoring {expected}"
        );
    }
}
