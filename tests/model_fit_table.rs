//! `caregap model fit` on any table (issue 19): tables written by the test
//! with known coefficients, recovered by every family; categorical columns,
//! offsets, weights, CSV/Parquet parity, bad input; and the real binary's
//! `model fit --out` + `model predict --table`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use caregap::tablemodel::{self, Column, Family, FitSpec, Table, Validation};

/// splitmix64: a small deterministic generator for the test tables.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
    fn poisson(&mut self, mu: f64) -> f64 {
        // Inversion; the test means stay small.
        let (mut k, mut p, u) = (0.0, (-mu).exp(), self.uniform());
        let mut cdf = p;
        while u > cdf && k < 1000.0 {
            k += 1.0;
            p *= mu / k;
            cdf += p;
        }
        k
    }
}

const N: usize = 20_000;

/// x (normal), grp (text a/b/c), flag (boolean), exposure (0.5..2), and labels:
/// `y_pois` ~ Poisson(exposure · exp(0.3 + 0.5x + 0.4[b] − 0.3[c] + 0.2 flag)),
/// `y_nb` the same mean times a Gamma(2, 1/2) frailty (NB2 α = 0.5, no exposure),
/// `y_bin` ~ Bernoulli(logistic(−0.5 + 1.0x − 0.7[b] + 0.6 flag)).
fn table() -> Table {
    let mut r = Rng(19);
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); 6];
    let mut grp = Vec::new();
    for _ in 0..N {
        let x = r.normal();
        let g = ["a", "b", "c"][(r.next() % 3) as usize];
        let flag = f64::from(u8::from(r.uniform() < 0.4));
        let expo = 0.5 + 1.5 * r.uniform();
        let (b, c) = (f64::from(u8::from(g == "b")), f64::from(u8::from(g == "c")));
        let eta = 0.3 + 0.5 * x + 0.4 * b - 0.3 * c + 0.2 * flag;
        let y_pois = r.poisson(expo * eta.exp());
        let frailty = 0.5 * (-r.uniform().ln() - r.uniform().ln());
        let y_nb = r.poisson(eta.exp() * frailty);
        let p = 1.0 / (1.0 + (-(-0.5 + 1.0 * x - 0.7 * b + 0.6 * flag)).exp());
        let y_bin = f64::from(u8::from(r.uniform() < p));
        for (v, col) in [x, flag, expo.ln(), y_pois, y_nb, y_bin]
            .into_iter()
            .zip(&mut cols)
        {
            col.push(v);
        }
        grp.push(Some(g.to_string()));
    }
    let mut names: Vec<String> = ["x", "flag", "log_expo", "y_pois", "y_nb", "y_bin"]
        .map(String::from)
        .to_vec();
    let mut columns: Vec<Column> = cols.into_iter().map(Column::Num).collect();
    names.push("grp".into());
    columns.push(Column::Str(grp));
    Table { names, columns }
}

/// The coefficients of `y_pois` (with the exposure offset) and `y_nb`.
const COUNT_TRUTH: &[(&str, f64)] = &[
    ("intercept", 0.3),
    ("x", 0.5),
    ("grp=b", 0.4),
    ("grp=c", -0.3),
    ("flag", 0.2),
];

fn spec(label: &str, family: Family, features: &[&str]) -> FitSpec {
    FitSpec {
        label: label.into(),
        features: Some(features.iter().map(|s| s.to_string()).collect()),
        exclude: Vec::new(),
        weights: None,
        offset: None,
        log1p: Vec::new(),
        family,
        validation: Validation::None,
        l2: 0.0,
        alpha: 0.0,
        rounds: 50,
        seed: 42,
    }
}

/// `family` on `label` ~ x + grp + flag with K-fold validation.
fn kfold_fit(label: &str, family: Family, k: usize) -> (tablemodel::Fitted, FitSpec) {
    let mut s = spec(label, family, &["x", "grp", "flag"]);
    s.validation = Validation::KFold(k);
    (tablemodel::fit(&table(), &s).unwrap(), s)
}

fn coef(report: &tablemodel::FitReport, name: &str) -> tablemodel::CoefRow {
    report
        .coefficients
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no coefficient {name}: {:?}", report.coefficients))
        .clone()
}

/// Each true coefficient lies within 4 standard errors of the estimate, and
/// inside the reported 95 % interval widened to 4 SE.
fn recovers(report: &tablemodel::FitReport, truth: &[(&str, f64)]) {
    for &(name, want) in truth {
        let c = coef(report, name);
        assert!(
            (c.estimate - want).abs() < 4.0 * c.std_error && c.std_error < 0.1,
            "{name}: {} ± {} vs {want}",
            c.estimate,
            c.std_error
        );
        assert!(c.ci_low < c.estimate && c.estimate < c.ci_high);
        assert!(
            (c.ci_high - c.estimate - 1.959964 * c.std_error).abs() < 1e-6 * c.std_error.max(1.0)
        );
    }
}

#[test]
fn poisson_with_offset_and_categories_recovers_the_coefficients() {
    let t = table();
    let mut s = spec("y_pois", Family::Poisson, &["x", "grp", "flag"]);
    s.offset = Some("log_expo".into());
    let f = tablemodel::fit(&t, &s).unwrap();
    let names: Vec<&str> = f
        .report
        .coefficients
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["intercept", "x", "grp=b", "grp=c", "flag"]);
    recovers(&f.report, COUNT_TRUTH);
    assert!(tablemodel::summary(&f.report).contains("reference level \"a\""));
    let (ll, aic, bic) = (
        f.report.log_likelihood.unwrap(),
        f.report.aic.unwrap(),
        f.report.bic.unwrap(),
    );
    assert_eq!(f.report.parameters, 5);
    assert!((aic - (-2.0 * ll + 10.0)).abs() < 1e-9);
    assert!((bic - (-2.0 * ll + 5.0 * (N as f64).ln())).abs() < 1e-9);
    // Without the offset the intercept absorbs the mean log exposure and the fit is worse.
    let mut no = s.clone();
    no.offset = None;
    let g = tablemodel::fit(&t, &no).unwrap();
    assert!(g.report.log_likelihood.unwrap() < ll - 100.0);
    // The saved model replays the offset at prediction time.
    let (p, check) = f.model.predict(&t).unwrap();
    assert!(check.ok());
    let b: Vec<f64> = f.report.coefficients.iter().map(|c| c.estimate).collect();
    let Column::Num(x) = t.get("x").unwrap() else {
        unreachable!()
    };
    let Column::Num(lo) = t.get("log_expo").unwrap() else {
        unreachable!()
    };
    let Column::Str(g0) = t.get("grp").unwrap() else {
        unreachable!()
    };
    let Column::Num(fl) = t.get("flag").unwrap() else {
        unreachable!()
    };
    let gb = f64::from(u8::from(g0[0].as_deref() == Some("b")));
    let gc = f64::from(u8::from(g0[0].as_deref() == Some("c")));
    let want = (b[0] + b[1] * x[0] + b[2] * gb + b[3] * gc + b[4] * fl[0] + lo[0]).exp();
    assert!((p[0] - want).abs() < 1e-12 * want);
}

#[test]
fn nb2_recovers_coefficients_and_dispersion() {
    let t = table();
    let f = tablemodel::fit(&t, &spec("y_nb", Family::Nb2, &["x", "grp", "flag"])).unwrap();
    recovers(&f.report, COUNT_TRUTH);
    let (alpha, se) = f.report.dispersion.unwrap();
    assert!(
        (alpha - 0.5).abs() < 4.0 * se && se < 0.05,
        "alpha {alpha} ± {se}"
    );
    assert_eq!(f.report.parameters, 6);
}

#[test]
fn logistic_recovers_coefficients_and_kfold_reports_each_fold() {
    let (f, _) = kfold_fit("y_bin", Family::Logistic, 4);
    recovers(
        &f.report,
        &[
            ("intercept", -0.5),
            ("x", 1.0),
            ("grp=b", -0.7),
            ("grp=c", 0.0),
            ("flag", 0.6),
        ],
    );
    assert_eq!(f.report.folds.len(), 4);
    assert_eq!(f.report.folds.iter().map(|m| m.rows).sum::<usize>(), N);
    let auc = f
        .report
        .validation
        .as_ref()
        .unwrap()
        .binary
        .as_ref()
        .unwrap()
        .auc;
    assert!(auc > 0.7 && auc < 0.9, "AUC {auc}");
}

#[test]
fn boosters_fit_tables_and_refuse_offsets() {
    let (f, mut s) = kfold_fit("y_pois", Family::GbmPoisson, 3);
    let t = table();
    let v = f.report.validation.as_ref().unwrap().count.clone().unwrap();
    assert!(v.d2 > 0.1, "out-of-fold D² {}", v.d2);
    assert!(f.report.coefficients.is_empty());
    let f = tablemodel::fit(
        &t,
        &spec("y_bin", Family::GbmLogistic, &["x", "grp", "flag"]),
    )
    .unwrap();
    assert!(f.report.train.binary.as_ref().unwrap().auc > 0.7);
    s.offset = Some("log_expo".into());
    let err = tablemodel::fit(&t, &s).err().unwrap();
    assert!(format!("{err:#}").contains("--offset is supported by the GLM families"));
}

#[test]
fn weights_equal_duplicated_rows() {
    let t = table();
    let rows: Vec<usize> = (0..2000).collect();
    let base = t.subset(&rows);
    let mut weighted = base.clone();
    weighted.names.push("w".into());
    weighted.columns.push(Column::Num(
        (0..2000).map(|i| if i < 300 { 2.0 } else { 1.0 }).collect(),
    ));
    let dup = base.subset(&(0..2000).chain(0..300).collect::<Vec<_>>());
    for family in [Family::Poisson, Family::Nb2, Family::Logistic] {
        let label = if family == Family::Logistic {
            "y_bin"
        } else {
            "y_nb"
        };
        let mut s = spec(label, family, &["x", "grp", "flag"]);
        let b = tablemodel::fit(&dup, &s).unwrap();
        s.weights = Some("w".into());
        let a = tablemodel::fit(&weighted, &s).unwrap();
        for (x, y) in a.report.coefficients.iter().zip(&b.report.coefficients) {
            assert!(
                (x.estimate - y.estimate).abs() < 1e-7 * y.estimate.abs().max(1.0),
                "{family:?} {}: {} vs {}",
                x.name,
                x.estimate,
                y.estimate
            );
        }
    }
}

#[test]
fn bad_input_is_refused_naming_the_column() {
    let t = table();
    let err = |t: &Table, s: &FitSpec| format!("{:#}", tablemodel::fit(t, s).err().unwrap());
    let e = err(&t, &spec("visits", Family::Poisson, &["x"]));
    assert!(e.contains("no label column `visits`"), "{e}");
    let e = err(&t, &spec("grp", Family::Poisson, &["x"]));
    assert!(e.contains("label column `grp` is text"), "{e}");
    let mut t2 = t.clone();
    t2.names.push("empty".into());
    t2.columns.push(Column::Num(vec![f64::NAN; N]));
    let e = err(&t2, &spec("y_pois", Family::Poisson, &["x", "empty"]));
    assert!(
        e.contains("covariate `empty` is missing in every row"),
        "{e}"
    );
    let mut t3 = t.clone();
    t3.names.push("ones".into());
    t3.columns.push(Column::Num(vec![1.0; N]));
    let e = err(&t3, &spec("ones", Family::Logistic, &["x"]));
    assert!(e.contains("label `ones` is 1 in every training row"), "{e}");
    let e = err(&t, &spec("y_pois", Family::Logistic, &["x"]));
    assert!(e.contains("label `y_pois` is") && e.contains("0/1"), "{e}");
    let e = err(&t, &spec("y_pois", Family::Poisson, &["nope"]));
    assert!(e.contains("no covariate column `nope`"), "{e}");
}

// ------------------------------------------------------------- files, CLI

fn write_files(t: &Table, dir: &Path) {
    let n = 3000;
    let num = |name: &str| match t.get(name).unwrap() {
        Column::Num(v) => v[..n].to_vec(),
        Column::Str(_) => unreachable!(),
    };
    let Column::Str(grp) = t.get("grp").unwrap() else {
        unreachable!()
    };
    let (x, flag, lo, y) = (num("x"), num("flag"), num("log_expo"), num("y_pois"));
    // CSV: integers as integers, booleans as true/false, text as text; a missing x in row 5.
    let mut csv = String::from("x,flag,grp,log_expo,visits\n");
    for i in 0..n {
        let xs = if i == 5 {
            String::new()
        } else {
            format!("{:?}", x[i])
        };
        csv.push_str(&format!(
            "{xs},{},{},{:?},{}\n",
            flag[i] == 1.0,
            grp[i].as_deref().unwrap(),
            lo[i],
            y[i] as i64
        ));
    }
    std::fs::write(dir.join("t.csv"), csv).unwrap();
    let xs: Float64Array = (0..n).map(|i| (i != 5).then_some(x[i])).collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, true),
            Field::new("flag", DataType::Boolean, false),
            Field::new("grp", DataType::Utf8, false),
            Field::new("log_expo", DataType::Float64, false),
            Field::new("visits", DataType::Int64, false),
        ])),
        vec![
            Arc::new(xs) as ArrayRef,
            Arc::new(BooleanArray::from(
                flag.iter().map(|&f| f == 1.0).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                grp[..n]
                    .iter()
                    .map(|g| g.as_deref().unwrap())
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(lo)),
            Arc::new(Int64Array::from(
                y.iter().map(|&v| v as i64).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    let file = std::fs::File::create(dir.join("t.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn csv_and_parquet_give_the_same_fit() {
    let tmp = tempfile::tempdir().unwrap();
    write_files(&table(), tmp.path());
    let a = tablemodel::read_table(&tmp.path().join("t.csv")).unwrap();
    let b = tablemodel::read_table(&tmp.path().join("t.parquet")).unwrap();
    assert_eq!(a.names, b.names);
    assert_eq!(a.n_rows(), 3000);
    let mut s = spec("visits", Family::Poisson, &["x", "flag", "grp"]);
    s.offset = Some("log_expo".into());
    let fa = tablemodel::fit(&a, &s).unwrap();
    let fb = tablemodel::fit(&b, &s).unwrap();
    assert_eq!(fa.report.coefficients, fb.report.coefficients);
    // The missing x gets the missingness indicator.
    assert!(
        fa.report
            .coefficients
            .iter()
            .any(|c| c.name == "x__missing")
    );
}

fn caregap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_caregap"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_fit_writes_the_model_and_predict_replays_it() {
    let tmp = tempfile::tempdir().unwrap();
    write_files(&table(), tmp.path());
    let p = |n: &str| tmp.path().join(n).display().to_string();
    let out = caregap(&[
        "model",
        "fit",
        "--table",
        &p("t.csv"),
        "--label",
        "visits",
        "--offset",
        "log_expo",
        "--family",
        "poisson",
        "--kfold",
        "3",
        "--out",
        &p("fit"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("AIC") && stdout.contains("reference level \"a\""),
        "{stdout}"
    );
    assert!(stdout.contains("fold 3 (1000 rows)"), "{stdout}");
    let coefs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("fit/coefficients.json")).unwrap())
            .unwrap();
    for name in ["intercept", "x", "flag", "grp=b", "grp=c", "x__missing"] {
        assert!(coefs[name]["std_error"].as_f64().unwrap() > 0.0, "{name}");
    }
    let csv = std::fs::read_to_string(p("fit/coefficients.csv")).unwrap();
    assert!(csv.starts_with("name,estimate,std_error,z,p_value,ci_low,ci_high\nintercept,"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("fit/report.json")).unwrap()).unwrap();
    assert_eq!(report["folds"].as_array().unwrap().len(), 3);
    assert!(report["aic"].as_f64().is_some());

    let out = caregap(&[
        "model",
        "predict",
        "--model",
        &p("fit/model.json"),
        "--table",
        &p("t.parquet"),
        "--out",
        &p("pred.parquet"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pred = tablemodel::read_table(&tmp.path().join("pred.parquet")).unwrap();
    assert_eq!(pred.names, ["row", "prediction"]);
    let model =
        tablemodel::TableModel::from_json(&std::fs::read_to_string(p("fit/model.json")).unwrap())
            .unwrap();
    let (want, _) = model
        .predict(&tablemodel::read_table(&tmp.path().join("t.csv")).unwrap())
        .unwrap();
    assert_eq!(pred.get("prediction").unwrap(), &Column::Num(want));

    // A missing label column is named.
    let out = caregap(&[
        "model",
        "fit",
        "--table",
        &p("t.csv"),
        "--label",
        "y",
        "--family",
        "poisson",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no label column `y`"));
}
