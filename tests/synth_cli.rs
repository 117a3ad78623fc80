//! `caregap synth` runs end to end and reports bad options clearly.

use std::process::Command;

fn caregap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
}

#[test]
fn writes_all_files_and_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = caregap()
        .args([
            "synth",
            "--patients",
            "300",
            "--seed",
            "3",
            "--as-of",
            "2025-06-30",
            "--years",
            "2",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("generated 300 people"), "{stdout}");
    for name in caregap_synth::FILES {
        assert!(
            dir.path().join(format!("{name}.parquet")).is_file(),
            "{name}.parquet missing"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn rejects_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let out = caregap()
        .args([
            "synth",
            "--patients",
            "10",
            "--as-of",
            "2025-06-30",
            "--years",
            "0",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--years must be between 1 and 30"),
        "{stderr}"
    );
    let out = caregap()
        .args(["synth", "--as-of", "2025-13-01", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a date YYYY-MM-DD"));
}
