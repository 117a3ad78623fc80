//! `caregap demo` on a small population: every output is written, the shown
//! list is the top of the chosen clinic's list, and the access is audited.

use std::process::Command;

fn demo(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
        .arg("demo")
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[test]
fn demo_runs_the_whole_chain_and_shows_a_call_list() {
    let tmp = tempfile::tempdir().unwrap();
    // From an empty folder: the shipped library is found through the build tree.
    let out = demo(
        &["--patients", "1500", "--clinic", "HC02", "--out", "d"],
        tmp.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = tmp.path().join("d");
    for f in [
        "data/patients.parquet",
        "run/firings.parquet",
        "run/run.json",
        "run/risk.parquet",
        "run/calllist.parquet",
        "run/calllists/HC02.csv",
        "report.html",
    ] {
        assert!(d.join(f).is_file(), "missing {f}\n{stdout}");
    }
    assert!(stdout.contains("call list of HC02"), "{stdout}");
    // The shown rows are the first ten of the clinic's exported list, in order.
    let csv = std::fs::read_to_string(d.join("run/calllists/HC02.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let id_col = header.iter().position(|h| *h == "patient_id").unwrap();
    let expected: Vec<String> = lines
        .take(10)
        .map(|l| l.split(',').nth(id_col).unwrap().to_string())
        .collect();
    assert_eq!(expected.len(), 10, "HC02 lists fewer than 10 people");
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.contains("call list of HC02"))
        .skip(3) // the title and two header lines; then two lines per person
        .step_by(2)
        .take(10)
        .collect();
    for (i, (line, id)) in table.iter().zip(&expected).enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[0], (i + 1).to_string(), "{line}");
        assert_eq!(fields[1], id, "{line}");
    }
    let audit = std::fs::read_to_string(d.join("run/audit.log")).unwrap();
    assert!(
        audit.contains("command=demo\tclinic=HC02\trows=10\tto=stdout"),
        "{audit}"
    );

    // An unknown clinic is an error naming the clinics; nothing half-written.
    let out = demo(
        &["--patients", "300", "--clinic", "NOPE", "--out", "e"],
        tmp.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NOPE") && err.contains("HC01"), "{err}");
}
