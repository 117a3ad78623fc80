//! `caregap check` run as a real binary.

use std::path::Path;
use std::process::Command;

fn caregap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_summarises_a_valid_library() {
    let out = caregap()
        .arg("check")
        .arg(root().join("tests/golden/library"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let golden = root().join("tests/golden/check_summary.out");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &stdout).unwrap();
    }
    assert_eq!(stdout, std::fs::read_to_string(golden).unwrap());
    assert!(out.stderr.is_empty());
}

#[test]
fn check_refuses_a_library_with_errors_and_reports_them_all() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        "[dx.a]\nICD10 = [\"A\"]\n\n[define]\nx = \"has(dx.b)\"\ny = \"count(dx.a) + true\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("b.toml"), "[[criterion]]\nid = \"B\"\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not read").unwrap();
    let out = caregap().arg("check").arg(dir.path()).output().unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    for needle in [
        "[E0203]",
        "[E0211]",
        "[E0004]",
        "a.toml:5:",
        "b.toml:1:",
        "6 errors",
    ] {
        assert!(stderr.contains(needle), "{needle} missing from:\n{stderr}");
    }
    // Not a terminal: no colour codes.
    assert!(!stderr.contains('\u{1b}'));
}

#[test]
fn check_accepts_a_single_file_and_explains_a_missing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.toml");
    std::fs::write(&path, "[dx.a]\nICD10 = [\"A\"]\n").unwrap();
    let out = caregap().arg("check").arg(&path).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains("dx.a"));

    let out = caregap()
        .arg("check")
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("cannot read")
    );
}
