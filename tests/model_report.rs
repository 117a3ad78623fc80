//! Issue 19: the model report of `caregap model fit --table --out` (the
//! bench's is checked in `model_cli.rs`): report.html is well-formed and
//! self-contained, has its sections, inlines the standalone figures, and
//! shows the numbers of report.json.

mod cli_util;
mod report_util;

use std::fmt::Write as _;
use std::path::Path;

use cli_util::{caregap, ok};
use report_util::check_report;

/// 1,500 rows: visits ~ Poisson(exp(0.2 + 0.5 x + 0.3 [region = b])),
/// `band` an integer age band, `region` text, every third row a test row.
fn write_table(path: &Path) {
    let mut state = 7u64;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut csv = String::from("visits,x,region,band,split\n");
    for i in 0..1500 {
        let x = 2.0 * uniform() - 1.0;
        let region = if uniform() < 0.5 { "a" } else { "b" };
        let band = 20 + 10 * ((i / 3) % 6);
        let mu = (0.2 + 0.5 * x + if region == "b" { 0.3 } else { 0.0 }).exp();
        // Poisson by inversion.
        let (mut k, mut p, u) = (0u32, (-mu).exp(), uniform());
        let mut cdf = p;
        while u > cdf && k < 100 {
            k += 1;
            p *= mu / f64::from(k);
            cdf += p;
        }
        let split = if i % 3 == 0 { "test" } else { "train" };
        writeln!(csv, "{k},{x},{region},{band},{split}").unwrap();
    }
    std::fs::write(path, csv).unwrap();
}

const POISSON_BY_BAND: &[&str] = &[
    "--features",
    "x,region",
    "--family",
    "poisson",
    "--split",
    "split",
    "--group",
    "band",
    "--bootstrap",
    "50",
];

/// `caregap model fit --table TABLE --label visits ARGS --out OUT`, which must succeed.
fn fit(table: &Path, out: &Path, args: &[&str]) {
    ok(caregap()
        .args(["model", "fit", "--table"])
        .arg(table)
        .args(["--label", "visits"])
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap());
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn table_fit_report_shows_the_json_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t.csv");
    write_table(&table);
    let out = tmp.path().join("fit");
    fit(&table, &out, POISSON_BY_BAND);
    let report = json(&out.join("report.json"));
    let r = &report["model_report"];
    let html = check_report(
        &out,
        r,
        &[report_util::SECTIONS, &["Coefficients"]].concat(),
    );
    assert!(
        !html.contains("Feature importance"),
        "no booster, no importance"
    );
    for f in [
        "calibration.svg",
        "groups.svg",
        "capture.svg",
        "coefficients_poisson.svg",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert!(html.contains("50 resamples") && html.contains("seed 42"));
    assert_eq!(r["bootstrap"]["resamples"], 50);
    let m = &r["models"][0];
    // The report describes the test rows, as the validation metrics do.
    assert_eq!(m["rows"], report["validation"]["rows"]);
    assert_eq!(m["rows"], 500);
    let metric = |name: &str| report_util::metric(m, name).unwrap();
    let dev = metric("deviance");
    assert_eq!(dev["estimate"], report["validation"]["count"]["deviance"]);
    let (lo, est, hi) = (
        dev["low"].as_f64().unwrap(),
        dev["estimate"].as_f64().unwrap(),
        dev["high"].as_f64().unwrap(),
    );
    assert!(lo < est && est < hi, "{dev}");
    // Groups: the six bands of the test rows, observed means from the table.
    let groups = m["groups"].as_array().unwrap();
    let labels: Vec<&str> = groups
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["20", "30", "40", "50", "60", "70"]);
    assert_eq!(
        groups.iter().map(|g| g["n"].as_u64().unwrap()).sum::<u64>(),
        500
    );
    // Forest plot rows: the coefficients with their Wald intervals.
    let coefs = m["coefficients"].as_array().unwrap();
    let x = coefs.iter().find(|c| c["name"] == "x").unwrap();
    let beta = x["estimate"].as_f64().unwrap();
    assert!((beta - 0.5).abs() < 0.15, "{x}");
    assert!(x["ci_low"].as_f64().unwrap() < beta && beta < x["ci_high"].as_f64().unwrap());
    assert!(coefs.iter().any(|c| c["name"] == "region=b"));
    // The capture curve ends at everything, and its 10 % point is the top-10 % share.
    let cap = m["capture"].as_array().unwrap();
    assert_eq!(cap.last().unwrap()["captured"].as_f64().unwrap(), 1.0);
    let at10 = cap.iter().find(|p| p["fraction"] == 0.1).unwrap()["captured"]
        .as_f64()
        .unwrap();
    assert_eq!(at10, metric("top10_share")["estimate"].as_f64().unwrap());

    // The same command again: the same report (seeded bootstrap).
    let again = tmp.path().join("again");
    fit(&table, &again, POISSON_BY_BAND);
    assert_eq!(json(&again.join("report.json"))["model_report"], *r);
}

#[test]
fn booster_report_has_importance_and_says_why_groups_are_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t.csv");
    write_table(&table);
    let out = tmp.path().join("fit");
    fit(
        &table,
        &out,
        &[
            "--features",
            "x,region,band",
            "--family",
            "gbm-poisson",
            "--rounds",
            "20",
            "--kfold",
            "3",
            "--bootstrap",
            "20",
        ],
    );
    let report = json(&out.join("report.json"));
    let r = &report["model_report"];
    let html = check_report(&out, r, &["Metrics", "Feature importance (gain)"]);
    assert!(html.contains("Omitted: no --group COL was given"));
    assert!(!out.join("groups.svg").exists() && !html.contains(">Coefficients</h2>"));
    assert!(out.join("importance_gbm_poisson.svg").is_file());
    let imp = r["models"][0]["importance"].as_array().unwrap();
    assert_eq!(imp[0]["feature"], "x", "x drives the label: {imp:?}");
    let gains: Vec<f64> = imp.iter().map(|i| i["gain"].as_f64().unwrap()).collect();
    assert!(gains.windows(2).all(|w| w[0] >= w[1]), "largest first");
    // Out-of-fold predictions of every row.
    assert_eq!(r["models"][0]["rows"], 1500);
    assert_eq!(report["validation"]["rows"], 1500);
}

#[test]
fn a_bad_group_column_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let table = tmp.path().join("t.csv");
    write_table(&table);
    for (group, says) in [
        ("nope", "no such column"),
        ("x", "must hold integers or text"),
    ] {
        let out = caregap()
            .args(["model", "fit", "--table"])
            .arg(&table)
            .args([
                "--label",
                "visits",
                "--features",
                "x",
                "--family",
                "poisson",
                "--group",
                group,
                "--out",
            ])
            .arg(tmp.path().join("fit"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success()
                && err.contains(&format!("--group {group}"))
                && err.contains(says),
            "{err}"
        );
        assert!(!tmp.path().join("fit").exists(), "nothing written");
    }
}
