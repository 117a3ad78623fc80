//! `caregap model train|evaluate|predict|bench` end to end: the real binary
//! on a small generated population (`caregap synth --patients 1500`).

mod data_util;
mod report_util;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Float64Type, Int64Type};

const AS_OF: &str = "2025-01-01";

fn caregap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
        .args(args)
        .output()
        .expect("run caregap")
}

fn ok(args: &[&str]) -> String {
    let out = caregap(args);
    assert!(
        out.status.success(),
        "caregap {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn criteria() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("criteria")
}

/// One generated population shared by every test of this file (in the
/// target's temporary folder; the generator is deterministic and overwrites).
fn data_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("model_cli/data");
        ok(&[
            "synth",
            "--patients",
            "1500",
            "--seed",
            "7",
            "--as-of",
            AS_OF,
            "--out",
            out.to_str().unwrap(),
        ]);
        out
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read(path: &Path) -> RecordBatch {
    data_util::read_parquet(path)
}

fn patient_ids(b: &RecordBatch) -> BTreeSet<i64> {
    let ids = b.column_by_name("patient_id").unwrap();
    ids.as_primitive::<Int64Type>()
        .values()
        .iter()
        .copied()
        .collect()
}

fn day(s: &str) -> i32 {
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

/// Patients whose latest research decision on or before `as_of` is a
/// withdrawal (a withdrawal wins over a grant of the same day), computed here
/// from consents.parquet independently of the loader.
fn research_withdrawn(data: &Path, as_of: &str) -> BTreeSet<i64> {
    let b = read(&data.join("consents.parquet"));
    let ids = b
        .column_by_name("patient_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let scope = b.column_by_name("scope").unwrap().as_string::<i32>();
    let granted = b.column_by_name("granted").unwrap().as_boolean();
    let date = b
        .column_by_name("date")
        .unwrap()
        .as_primitive::<Date32Type>();
    let mut latest: BTreeMap<i64, (i32, bool)> = BTreeMap::new();
    for i in 0..b.num_rows() {
        if scope.value(i) != "research" || granted.is_null(i) || date.value(i) > day(as_of) {
            continue;
        }
        let (d, g) = (date.value(i), granted.value(i));
        let e = latest.entry(ids.value(i)).or_insert((d, g));
        if d > e.0 || (d == e.0 && !g) {
            *e = (d, g);
        }
    }
    latest
        .into_iter()
        .filter(|(_, (_, g))| !g)
        .map(|(id, _)| id)
        .collect()
}

/// `caregap model SUB --data DATA --criteria CRITERIA --as-of AS_OF EXTRA...`.
fn model(sub: &str, data: &Path, criteria: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "model",
        sub,
        "--data",
        s(data),
        "--criteria",
        s(criteria),
        "--as-of",
        AS_OF,
    ];
    args.extend_from_slice(extra);
    caregap(&args)
}

fn succeeded(out: Output) -> String {
    assert!(
        out.status.success(),
        "caregap failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn train(dir: &Path, kind: &str) -> PathBuf {
    let path = dir.join(format!("{kind}.json"));
    let extra = ["--model", kind, "--rounds", "30", "--out", s(&path)];
    succeeded(model("train", data_dir(), &criteria(), &extra));
    path
}

fn predict(model_file: &Path, criteria: &Path, out: &Path) -> Output {
    let extra = ["--model", s(model_file), "--out", s(out)];
    model("predict", data_dir(), criteria, &extra)
}

#[test]
fn bench_compares_every_model_on_one_split() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bench");
    let extra = ["--rounds", "30", "--out", s(&out)];
    let stdout = succeeded(model("bench", data_dir(), &criteria(), &extra));
    assert!(stdout.contains("oracle (truth)"), "{stdout}");

    let csv = fs::read_to_string(out.join("bench.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "model,deviance,d2,mae,rmse,spearman,top10_share,auc,brier,train_s,max_pred,implausible,\
         oracle_deviance,error"
    );
    let rows: BTreeMap<String, Vec<String>> = lines
        .map(|l| {
            let cells: Vec<String> = l.split(',').map(str::to_string).collect();
            (cells[0].clone(), cells)
        })
        .collect();
    let models: Vec<&str> = rows.keys().map(String::as_str).collect();
    assert_eq!(
        models,
        [
            "age-sex",
            "forest",
            "gbm",
            "gbm-logistic",
            "last-year",
            "logistic",
            "mean",
            "nb",
            "poisson"
        ]
    );
    let num = |m: &str, col: usize| rows[m][col].parse::<f64>().unwrap();
    let (mean_dev, gbm_dev, oracle) = (num("mean", 1), num("gbm", 1), num("gbm", 12));
    // Issue 19: no model's predictions leave the plausible range.
    for (m, cells) in &rows {
        assert_eq!(cells[11], "0", "{m} has implausible predictions");
    }
    assert!(gbm_dev < mean_dev, "gbm {gbm_dev} vs mean {mean_dev}");
    assert!(num("last-year", 1) < mean_dev);
    assert!(
        oracle > 0.0 && oracle < gbm_dev,
        "oracle {oracle} vs gbm {gbm_dev}"
    );
    assert!(num("mean", 2).abs() < 0.05, "mean D² is about 0");
    assert!(num("gbm", 2) > 0.2);
    for m in ["logistic", "gbm-logistic"] {
        assert!(num(m, 7) > 0.7, "{m} AUC {}", rows[m][7]);
        assert!(num(m, 8) > 0.0 && num(m, 8) < 0.25, "{m} Brier");
        assert!(rows[m][1].is_empty(), "no deviance for a classifier");
    }

    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("bench.json")).unwrap()).unwrap();
    assert_eq!(json["split"]["kind"], "temporal");
    assert_eq!(json["models"].as_array().unwrap().len(), 9);
    for m in json["models"].as_array().unwrap() {
        let c = &m["prediction_check"];
        assert_eq!(c["implausible"], 0, "{m}");
        assert!(c["max_prediction"].as_f64().unwrap() <= c["limit"].as_f64().unwrap());
    }
    let removed = json["split"]["removed_research_consent"]["test"]
        .as_u64()
        .unwrap();
    let test_rows = json["split"]["test_rows"].as_u64().unwrap();
    assert!(
        json["split"]["removed_research_consent"]["train"]
            .as_u64()
            .unwrap()
            > 0
    );

    // The test set is everyone alive on as_of (= predict's rows) minus the
    // people whose research consent is withdrawn on the label end.
    let model_file = train(tmp.path(), "mean");
    let preds = tmp.path().join("p.parquet");
    assert!(predict(&model_file, &criteria(), &preds).status.success());
    let b = read(&preds);
    let ids = patient_ids(&b);
    let withdrawn: BTreeSet<i64> = research_withdrawn(data_dir(), "2026-01-01")
        .intersection(&ids)
        .copied()
        .collect();
    assert!(!withdrawn.is_empty());
    assert_eq!(removed, withdrawn.len() as u64);
    assert_eq!(test_rows + removed, ids.len() as u64);

    let svg = fs::read_to_string(out.join("calibration.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("gbm") && svg.contains("<polyline"));

    // Issue 19: the model report, every model on the test set, by age band.
    let r = &json["model_report"];
    let html = report_util::check_report(
        &out,
        r,
        &[
            report_util::SECTIONS,
            &["Coefficients", "Feature importance (gain)"],
        ]
        .concat(),
    );
    assert!(html.contains("by age band"));
    let sections = r["models"].as_array().unwrap();
    assert_eq!(sections.len(), 9);
    for (sec, row) in sections.iter().zip(json["models"].as_array().unwrap()) {
        assert_eq!(sec["name"], row["model"]);
        assert_eq!(sec["rows"].as_u64(), Some(test_rows));
        let est = |m: &str| report_util::metric(sec, m).map(|iv| iv["estimate"].clone());
        // The report's estimates are the bench's own metrics.
        assert_eq!(est("top10_share"), Some(row["top10_share"].clone()));
        match est("deviance") {
            Some(d) => assert_eq!(d, row["deviance"]),
            None => assert_eq!(est("auc"), Some(row["auc"].clone())),
        }
        let rows_in_bands: u64 = sec["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["n"].as_u64().unwrap())
            .sum();
        assert_eq!(rows_in_bands, test_rows);
    }
    for f in [
        "groups.svg",
        "capture.svg",
        "calibration_probability.svg",
        "coefficients_poisson.svg",
        "coefficients_nb.svg",
        "coefficients_logistic.svg",
        "importance_gbm.svg",
        "importance_gbm_logistic.svg",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
}

#[test]
fn train_evaluate_predict_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let model_file = train(tmp.path(), "gbm");
    let saved: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&model_file).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 1);
    assert_eq!(saved["kind"], "gbm");
    let features = saved["features"].as_array().unwrap();
    assert!(features.iter().any(|f| f == "visits_pc_12mo"));
    assert_eq!(saved["features_hash"].as_str().unwrap().len(), 64);
    assert_eq!(saved["training"]["feature_date"], "2024-01-01");
    assert!(
        saved["metrics"]["removed_research_consent"]
            .as_f64()
            .unwrap()
            > 0.0
    );

    let extra = ["--model", s(&model_file)];
    let text = succeeded(model("evaluate", data_dir(), &criteria(), &extra));
    assert!(
        text.contains("test set:") && text.contains("oracle (truth)"),
        "{text}"
    );
    let gbm_line = text.lines().find(|l| l.starts_with("gbm ")).unwrap();
    let dev: f64 = gbm_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(dev.is_finite() && dev > 0.0);

    let preds = tmp.path().join("predictions.parquet");
    let out = predict(&model_file, &criteria(), &preds);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = read(&preds);
    let names: Vec<&str> = b
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["patient_id", "clinic_id", "predicted_visits"]);
    let p = b
        .column_by_name("predicted_visits")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert!(p.values().iter().all(|v| v.is_finite() && *v > 0.0));
    assert!(p.values().iter().any(|&v| v > 5.0) && p.values().iter().any(|&v| v < 2.0));
    // Predictions are operational: people who withdrew research consent are scored too.
    let ids = patient_ids(&b);
    let withdrawn = research_withdrawn(data_dir(), AS_OF);
    assert!(withdrawn.iter().any(|id| ids.contains(id)));
}

#[test]
fn predict_refuses_changed_features_but_not_reformatting() {
    let tmp = tempfile::tempdir().unwrap();
    let model_file = train(tmp.path(), "poisson");
    let copy = |name: &str, edit: &dyn Fn(String) -> String| {
        let dir = tmp.path().join(name);
        fs::create_dir(&dir).unwrap();
        for e in fs::read_dir(criteria()).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let text = fs::read_to_string(&p).unwrap();
                let text = if p.file_name().unwrap() == "features.toml" {
                    edit(text)
                } else {
                    text
                };
                fs::write(dir.join(p.file_name().unwrap()), text).unwrap();
            }
        }
        dir
    };
    // A comment and blank lines change the file, not what the features compute.
    let reformatted = copy("reformatted", &|t| format!("# reviewed\n\n{t}"));
    let out = predict(&model_file, &reformatted, &tmp.path().join("a.parquet"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let changed = copy("changed", &|t| {
        t.replacen(
            "expr = \"count(visit.primary_care, 12mo)\"",
            "expr = \"count(visit.primary_care, 6mo)\"",
            1,
        )
    });
    let out = predict(&model_file, &changed, &tmp.path().join("b.parquet"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("retrain"), "{err}");
    assert!(!tmp.path().join("b.parquet").exists());
}

#[test]
fn evaluate_without_future_events_says_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let model_file = train(tmp.path(), "mean");
    let data = tmp.path().join("nofuture");
    fs::create_dir(&data).unwrap();
    for e in fs::read_dir(data_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap() != "events_future.parquet" {
            fs::copy(&p, data.join(p.file_name().unwrap())).unwrap();
        }
    }
    let out = model("evaluate", &data, &criteria(), &["--model", s(&model_file)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("events_future.parquet"), "{err}");
}

/// Parses a CSV written by `bench --export`: header and rows of cells.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect());
    let header: Vec<String> = lines.next().unwrap();
    let rows: Vec<Vec<String>> = lines.collect();
    assert!(rows.iter().all(|r| r.len() == header.len()), "ragged CSV");
    (header, rows)
}

#[test]
fn bench_exports_the_sets_it_used() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    ok(&[
        "synth",
        "--patients",
        "300",
        "--seed",
        "11",
        "--as-of",
        AS_OF,
        "--out",
        s(&data),
    ]);
    let (out, export) = (tmp.path().join("bench"), tmp.path().join("export"));
    let extra = ["--rounds", "5", "--out", s(&out), "--export", s(&export)];
    succeeded(model("bench", &data, &criteria(), &extra));
    let bench: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("bench.json")).unwrap()).unwrap();
    let features: Vec<String> = bench["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();

    let (train_header, train) = read_csv(&export.join("train.csv"));
    let (test_header, test) = read_csv(&export.join("test.csv"));
    let mut expected = features.clone();
    expected.extend(["y".to_string(), "top10".to_string()]);
    assert_eq!(train_header, expected);
    expected.push("mu_true".into());
    assert_eq!(test_header, expected);
    assert_eq!(
        train.len() as u64,
        bench["split"]["train_rows"].as_u64().unwrap()
    );
    assert_eq!(
        test.len() as u64,
        bench["split"]["test_rows"].as_u64().unwrap()
    );

    let n = features.len();
    for rows in [&train, &test] {
        // Missing values (e.g. labs never measured) are empty cells; labels are counts.
        assert!(rows.iter().any(|r| r[..n].iter().any(String::is_empty)));
        let y: Vec<f64> = rows.iter().map(|r| r[n].parse().unwrap()).collect();
        assert!(y.iter().all(|v| *v >= 0.0 && v.fract() == 0.0));
        // top10 = in the top 10 % of y (at most ceil(0.1 n) rows, all above the rest).
        let top: Vec<bool> = rows.iter().map(|r| r[n + 1] == "1").collect();
        assert!(rows.iter().all(|r| r[n + 1] == "0" || r[n + 1] == "1"));
        let k = top.iter().filter(|t| **t).count();
        assert!(
            k > 0 && k <= rows.len().div_ceil(10),
            "{k} of {}",
            rows.len()
        );
        let lowest_top = (0..y.len())
            .filter(|&i| top[i])
            .map(|i| y[i])
            .fold(f64::MAX, f64::min);
        assert!((0..y.len()).all(|i| top[i] || y[i] < lowest_top));
    }
    let mu: Vec<f64> = test
        .iter()
        .filter(|r| !r[n + 2].is_empty())
        .map(|r| r[n + 2].parse().unwrap())
        .collect();
    assert!(mu.len() * 10 > test.len() * 9 && mu.iter().all(|m| *m > 0.0));

    // ours.json: compare.py's names, the bench's metrics and configuration.
    let ours: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(export.join("ours.json")).unwrap()).unwrap();
    assert_eq!(ours["config"]["rounds"], 5);
    assert_eq!(ours["config"]["rows"], bench["split"]["train_rows"]);
    assert_eq!(ours["config"]["gbm"]["num_rounds"], 5);
    let model_of = |name: &str| {
        bench["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["model"] == name)
            .unwrap()
            .clone()
    };
    for (ours_name, bench_name, metric) in [
        ("gbm_poisson", "gbm", "deviance"),
        ("glm_poisson", "poisson", "deviance"),
        ("mean", "mean", "deviance"),
        ("gbm_logistic", "gbm-logistic", "auc"),
        ("logistic", "logistic", "auc"),
    ] {
        assert_eq!(
            ours[ours_name]["report"][metric],
            model_of(bench_name)[metric]
        );
        assert!(ours[ours_name]["train_seconds"].as_f64().unwrap() >= 0.0);
    }
    let coefficients = ours["glm_poisson_coefficients"].as_array().unwrap();
    assert_eq!(coefficients[0]["name"], "intercept");
    assert!(coefficients.len() > 1);
    assert_eq!(ours["oracle"]["deviance"], bench["oracle"]["deviance"]);

    // The export is of the temporal split only.
    let extra = ["--kfold", "3", "--out", s(&out), "--export", s(&export)];
    let refused = model("bench", &data, &criteria(), &extra);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--kfold"));
}

/// Primary-care visits (`visit.primary_care`: system VISIT, codes PC_DOCTOR,
/// PC_NURSE, PC_PHONE) per patient in `(from, end]`, counted here from the
/// event files independently of the engine.
fn pc_visits(data: &Path, from: &str, end: &str) -> BTreeMap<i64, u32> {
    let mut out = BTreeMap::new();
    for file in ["events.parquet", "events_future.parquet"] {
        let b = read(&data.join(file));
        let col = |n: &str| b.column_by_name(n).unwrap().clone();
        let (ids, dates) = (col("patient_id"), col("date"));
        let (ids, dates) = (
            ids.as_primitive::<Int64Type>(),
            dates.as_primitive::<Date32Type>(),
        );
        let (system, code) = (col("system"), col("code"));
        let (system, code) = (system.as_string::<i32>(), code.as_string::<i32>());
        for i in 0..b.num_rows() {
            let d = dates.value(i);
            if d > day(from)
                && d <= day(end)
                && system.value(i) == "VISIT"
                && ["PC_DOCTOR", "PC_NURSE", "PC_PHONE"].contains(&code.value(i))
            {
                *out.entry(ids.value(i)).or_insert(0) += 1;
            }
        }
    }
    out
}

/// The labels a set should have, sorted: people born by `feature_day` and
/// not dead by it, without research consent withdrawn on `end`, each with
/// their visits in `(from, end]`.
fn reference_labels(data: &Path, feature_day: &str, from: &str, end: &str) -> Vec<u32> {
    let p = read(&data.join("patients.parquet"));
    let ids = p
        .column_by_name("patient_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let birth = p
        .column_by_name("birth_date")
        .unwrap()
        .as_primitive::<Date32Type>();
    let death = p
        .column_by_name("death_date")
        .unwrap()
        .as_primitive::<Date32Type>();
    let withdrawn = research_withdrawn(data, end);
    let visits = pc_visits(data, from, end);
    let t = day(feature_day);
    let mut y: Vec<u32> = (0..p.num_rows())
        .filter(|&i| birth.value(i) <= t && (death.is_null(i) || death.value(i) > t))
        .map(|i| ids.value(i))
        .filter(|id| !withdrawn.contains(id))
        .map(|id| visits.get(&id).copied().unwrap_or(0))
        .collect();
    y.sort_unstable();
    y
}

fn sorted_labels(csv: &Path, column: usize) -> Vec<u32> {
    let (_, rows) = read_csv(csv);
    let mut y: Vec<u32> = rows.iter().map(|r| r[column].parse().unwrap()).collect();
    y.sort_unstable();
    y
}

/// Issue 19, horizons: the label of horizon H is the visits in year H after
/// the feature date (train: features at AS_OF − H years, visits in the year
/// to AS_OF; test: features at AS_OF, visits in year H after it), checked
/// against labels counted from the files; `--horizons 1,2,3` benches each.
#[test]
fn bench_horizons_label_year_h_after_the_feature_date() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let synth = [
        "synth",
        "--patients",
        "400",
        "--seed",
        "5",
        "--as-of",
        AS_OF,
    ];
    ok(&[&synth[..], &["--future-years", "3", "--out", s(&data)]].concat());
    let future = read(&data.join("events_future.parquet"));
    let dates = future
        .column_by_name("date")
        .unwrap()
        .as_primitive::<Date32Type>();
    let (first, last) = (dates.values().iter().min(), dates.values().iter().max());
    assert!(*first.unwrap() > day(AS_OF) && *last.unwrap() > day("2027-10-01"));
    assert!(*last.unwrap() <= day("2028-01-01"));
    let (out, export) = (tmp.path().join("h3"), tmp.path().join("export"));
    let fast = ["--rounds", "3", "--bootstrap", "0"];
    let extra = [
        &fast[..],
        &["--horizons", "3", "--out", s(&out), "--export", s(&export)],
    ];
    let stdout = succeeded(model("bench", &data, &criteria(), &extra.concat()));
    assert!(
        stdout.contains("features at 2022-01-01, visits in (2024-01-01, 2025-01-01]")
            && stdout.contains("features at 2025-01-01, visits in (2027-01-01, 2028-01-01]"),
        "{stdout}"
    );
    let bench: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("bench.json")).unwrap()).unwrap();
    assert_eq!(bench["horizon"], 3);
    assert!(bench["oracle"].is_null(), "the truth is for year 1 only");
    let y = bench["features"].as_array().unwrap().len();
    let train = reference_labels(&data, "2022-01-01", "2024-01-01", "2025-01-01");
    let test = reference_labels(&data, AS_OF, "2027-01-01", "2028-01-01");
    assert_eq!(sorted_labels(&export.join("train.csv"), y), train);
    assert_eq!(sorted_labels(&export.join("test.csv"), y), test);
    // Year 3 is not year 1 (the window really moved).
    assert_ne!(test, reference_labels(&data, AS_OF, AS_OF, "2026-01-01"));

    // All three horizons in one run: a folder each and horizons.csv.
    let all = tmp.path().join("all");
    let extra = [&fast[..], &["--horizons", "1,2,3", "--out", s(&all)]];
    let stdout = succeeded(model("bench", &data, &criteria(), &extra.concat()));
    assert!(stdout.contains("by horizon"), "{stdout}");
    let csv = fs::read_to_string(all.join("horizons.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3 * 9);
    for h in 1..=3 {
        let b: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(all.join(format!("horizon-{h}/bench.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(b["horizon"], h);
        assert!(all.join(format!("horizon-{h}/report.html")).is_file());
        assert_eq!(b["oracle"].is_null(), h != 1);
        if h == 3 {
            // The same split and models as the single-horizon run.
            assert_eq!(b["split"], bench["split"]);
            assert_eq!(b["models"][5]["deviance"], bench["models"][5]["deviance"]);
        }
    }

    // train --horizon 2 records it; evaluate scores year 2 after AS_OF;
    // --report writes the model report of the out-of-fold predictions.
    let (model_file, report) = (tmp.path().join("m.json"), tmp.path().join("report"));
    let extra = [
        &[
            "--model",
            "gbm",
            "--rounds",
            "3",
            "--kfold",
            "2",
            "--horizon",
            "2",
        ][..],
        &[
            "--bootstrap",
            "20",
            "--out",
            s(&model_file),
            "--report",
            s(&report),
        ],
    ];
    succeeded(model("train", &data, &criteria(), &extra.concat()));
    let r: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(report.join("report.json")).unwrap()).unwrap();
    let html = report_util::check_report(
        &report,
        &r["model_report"],
        &[report_util::SECTIONS, &["Feature importance (gain)"]].concat(),
    );
    assert!(html.contains("out-of-fold") && report.join("importance_gbm.svg").is_file());
    let saved: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&model_file).unwrap()).unwrap();
    assert_eq!(saved["training"]["horizon"], "2");
    assert_eq!(saved["training"]["feature_date"], "2023-01-01");
    let stdout = succeeded(model(
        "evaluate",
        &data,
        &criteria(),
        &["--model", s(&model_file)],
    ));
    assert!(
        stdout.contains("visits in (2026-01-01, 2027-01-01]"),
        "{stdout}"
    );
    // Data without the third future year: the missing year is named.
    let short = tmp.path().join("short");
    ok(&[&synth[..], &["--out", s(&short)]].concat());
    let refused = model(
        "bench",
        &short,
        &criteria(),
        &[&fast[..], &["--horizons", "3", "--out", s(&out)]].concat(),
    );
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("events_future.parquet"),
        "{err}"
    );
}
