//! `caregap effect` against the truth it was generated with (issue 20):
//! `caregap synth --outreach-effect E` makes a booked contact about
//! `DM.HBA1C_OVERDUE` bring the closing HbA1c within 21 days with probability
//! E, so the true difference booked − not contacted in the share closed H
//! days later is E (1 − p0), p0 the not-contacted share (data-synth's
//! `outreach` module). The estimate's 95 % interval must cover it, and a
//! population generated with no effect must give an interval covering zero.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn caregap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(c: &mut Command) {
    let out = c.stdout(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The shipped library's diabetes criteria with the definitions and value
/// sets they read (fewer criteria: a debug build scores 26 dates quickly).
fn diabetes_library(dir: &Path) -> PathBuf {
    let lib = dir.join("lib");
    fs::create_dir(&lib).unwrap();
    for f in [
        "definitions",
        "valuesets_dx",
        "valuesets_lab",
        "valuesets_med",
        "valuesets_other",
        "diabetes",
    ] {
        let name = format!("{f}.toml");
        fs::copy(root().join("criteria").join(&name), lib.join(&name)).unwrap();
    }
    lib
}

/// Generates 10,000 people with one extra contact on average per condition
/// and the effect `e`, estimates, and returns effect.json.
fn estimate(e: &str) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let pop = tmp.path().join("pop");
    run(caregap()
        .args([
            "synth",
            "--patients",
            "10000",
            "--seed",
            "5",
            "--years",
            "3",
        ])
        .args(["--as-of", "2026-01-01", "--outreach-contacts", "1"])
        .args(["--outreach-effect", e, "--out"])
        .arg(&pop));
    let lib = diabetes_library(tmp.path());
    let out = tmp.path().join("effect");
    run(caregap()
        .args(["effect", "--as-of", "2026-01-01", "--grid-days", "30"])
        .arg("--data")
        .arg(&pop)
        .arg("--criteria")
        .arg(&lib)
        .arg("--out")
        .arg(&out));
    assert!(out.join("effect.parquet").is_file());
    serde_json::from_slice(&fs::read(out.join("effect.json")).unwrap()).unwrap()
}

fn row<'a>(e: &'a serde_json::Value, outcome: &str, days: u64) -> &'a serde_json::Value {
    e["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["criterion"] == "DM.HBA1C_OVERDUE"
                && r["outcome"] == outcome
                && r["horizon_days"].as_u64() == Some(days)
        })
        .unwrap_or_else(|| panic!("no row {outcome} {days}: {e:#}"))
}

fn interval(r: &serde_json::Value) -> (f64, f64, f64) {
    let f = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k} missing: {r}"));
    (f("difference_low"), f("difference"), f("difference_high"))
}

#[test]
fn the_interval_covers_the_generated_effect() {
    let effect = 0.6;
    let e = estimate("0.6");
    for days in [90, 180] {
        let p0 = row(&e, "not_contacted", days)["share"].as_f64().unwrap();
        let truth = effect * (1.0 - p0);
        let (lo, d, hi) = interval(row(&e, "booked", days));
        assert!(
            lo <= truth && truth <= hi,
            "{days} days: truth {truth:.3} outside [{lo:.3}, {hi:.3}] (estimate {d:.3})"
        );
        assert!(
            lo > 0.0,
            "{days} days: an effect of {effect} not detected: [{lo}, {hi}]"
        );
        // Booked people's own share is higher than the not-contacted's.
        let booked = row(&e, "booked", days)["share"].as_f64().unwrap();
        assert!(booked > p0, "{booked} vs {p0}");
    }
}

#[test]
fn without_an_effect_the_interval_covers_zero() {
    let e = estimate("0");
    for days in [90, 180] {
        let (lo, d, hi) = interval(row(&e, "booked", days));
        assert!(
            lo <= 0.0 && 0.0 <= hi,
            "{days} days: no effect generated, yet [{lo:.3}, {hi:.3}] (estimate {d:.3})"
        );
    }
}
