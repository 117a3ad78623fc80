//! Simulates a population, writes it as CSV for models/scripts/compare.py,
//! trains every caregap model on it and writes our results as JSON.
//!
//! ```text
//! cargo run --release -p caregap-models --example compare -- OUT_DIR [N_ROWS] [ROUNDS]
//! /work/venv-models/bin/python models/scripts/compare.py OUT_DIR
//! ```
//! OUT_DIR gets train.csv, test.csv (with `mu_true`), ours.json.

use std::io::Write;
use std::time::Instant;

use caregap_models::Dataset;
use caregap_models::baseline::{AgeSexBaseline, LastYearBaseline, MeanBaseline};
use caregap_models::forest::{Forest, ForestParams};
use caregap_models::gbm::{GbmParams, Objective, train};
use caregap_models::glm::{GlmParams, fit_negative_binomial, fit_poisson};
use caregap_models::logistic::{LogisticModel, LogisticParams};
use caregap_models::metrics::{self, ClassReport, CountReport};
use caregap_models::simulate::simulate;

mod common;
use common::{arg, cpu_seconds};

fn write_csv(
    path: &std::path::Path,
    d: &Dataset,
    top: &[f64],
    extra: Option<&[f64]>,
) -> std::io::Result<()> {
    let tmp = path.with_extension("csv.tmp");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    let mut header: Vec<String> = d.names().to_vec();
    header.push("y".into());
    header.push("top10".into());
    if extra.is_some() {
        header.push("mu_true".into());
    }
    writeln!(w, "{}", header.join(","))?;
    let mut line = String::new();
    for i in 0..d.n_rows() {
        line.clear();
        for j in 0..d.n_features() {
            let v = d.column(j)[i];
            if !v.is_nan() {
                line.push_str(&format!("{v}"));
            }
            line.push(',');
        }
        line.push_str(&format!("{},{}", d.labels()[i], top[i]));
        if let Some(e) = extra {
            line.push_str(&format!(",{}", e[i]));
        }
        writeln!(w, "{line}")?;
    }
    w.flush()?;
    drop(w);
    std::fs::rename(tmp, path)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(
        args.get(1)
            .ok_or("usage: compare OUT_DIR [N_ROWS] [ROUNDS]")?,
    );
    let n: usize = arg(2, 640_000)?;
    let rounds: usize = arg(3, 100)?;
    std::fs::create_dir_all(&out)?;
    let t = Instant::now();
    let sim = simulate(n, 2026);
    eprintln!("simulated {n} people in {:.1}s", t.elapsed().as_secs_f64());
    let (tr, te) = (&sim.train, &sim.test);
    let thr_tr = metrics::top_threshold(tr.labels(), 0.1);
    let thr_te = metrics::top_threshold(te.labels(), 0.1);
    let top_tr = metrics::top_labels(tr.labels(), thr_tr);
    let top_te = metrics::top_labels(te.labels(), thr_te);
    if std::env::var_os("NO_CSV").is_none() {
        write_csv(&out.join("train.csv"), tr, &top_tr, None)?;
        write_csv(&out.join("test.csv"), te, &top_te, Some(&sim.test_mu_true))?;
        eprintln!("wrote CSVs in {:.1}s", t.elapsed().as_secs_f64());
    }
    let ybar = tr.labels().iter().sum::<f64>() / tr.n_rows() as f64;
    let y = te.labels();
    let mut results = serde_json::Map::new();
    let count = |name: &str,
                 secs: f64,
                 mu: Vec<f64>,
                 results: &mut serde_json::Map<String, serde_json::Value>| {
        let r = CountReport::new(y, &mu, ybar);
        println!(
            "{name:<18} train {secs:>7.2}s  deviance {:.5}  D2 {:.4}  MAE {:.4}  RMSE {:.4}  spearman {:.4}  top10 {:.4}",
            r.deviance, r.d2, r.mae, r.rmse, r.spearman, r.top10_share
        );
        results.insert(
            name.into(),
            serde_json::json!({"train_seconds": secs, "report": r}),
        );
    };
    let oracle = metrics::oracle_deviance(y, &sim.test_mu_true);
    println!(
        "oracle deviance {oracle:.5} (D2 {:.4})",
        metrics::d2(y, &sim.test_mu_true, ybar)
    );
    results.insert("oracle".into(), serde_json::json!({"deviance": oracle}));

    let t = Instant::now();
    let m = MeanBaseline::fit(tr)?;
    count(
        "mean",
        t.elapsed().as_secs_f64(),
        m.predict(te),
        &mut results,
    );
    let t = Instant::now();
    let m = AgeSexBaseline::fit(tr, "age", "sex_female", 10.0)?;
    count(
        "age_sex",
        t.elapsed().as_secs_f64(),
        m.predict(te)?,
        &mut results,
    );
    let m = LastYearBaseline::fit(tr, "visits_1y", 0.1)?;
    count("last_year", 0.0, m.predict(te)?, &mut results);
    let t = Instant::now();
    let m = fit_poisson(tr, &GlmParams::default())?;
    count(
        "glm_poisson",
        t.elapsed().as_secs_f64(),
        m.predict(te)?,
        &mut results,
    );
    results.insert(
        "glm_poisson_coefficients".into(),
        serde_json::to_value(&m.coefficients)?,
    );
    eprintln!(
        "Poisson log-likelihood {:.1}, iterations {}, dropped {:?}",
        m.log_likelihood, m.iterations, m.design.dropped
    );
    let t = Instant::now();
    let m = fit_negative_binomial(tr, &GlmParams::default())?;
    count(
        "glm_nb2",
        t.elapsed().as_secs_f64(),
        m.predict(te)?,
        &mut results,
    );
    eprintln!(
        "NB2 family {:?}, log-likelihood {:.1}, iterations {}",
        m.family, m.log_likelihood, m.iterations
    );
    results.insert(
        "glm_nb2_coefficients".into(),
        serde_json::to_value(&m.coefficients)?,
    );
    let gp = GbmParams {
        num_rounds: rounds,
        ..GbmParams::default()
    };
    let (t, c) = (Instant::now(), cpu_seconds());
    let m = train(tr, None, &gp)?;
    let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
    count("gbm_poisson", secs, m.predict(te)?, &mut results);
    results["gbm_poisson"]["cpu_seconds"] = cpu.into();
    let t = Instant::now();
    let fp = ForestParams::default();
    let m = Forest::fit(tr, &fp)?;
    count(
        "forest",
        t.elapsed().as_secs_f64(),
        m.predict(te)?.iter().map(|v| v.max(1e-6)).collect(),
        &mut results,
    );

    let trc = tr.with_labels(top_tr)?;
    let class = |name: &str,
                 secs: f64,
                 p: Vec<f64>,
                 results: &mut serde_json::Map<String, serde_json::Value>| {
        let r = ClassReport::new(&top_te, &p);
        println!(
            "{name:<18} train {secs:>7.2}s  AUC {:.5}  Brier {:.5}  log-loss {:.5}",
            r.auc, r.brier, r.log_loss
        );
        results.insert(
            name.into(),
            serde_json::json!({"train_seconds": secs, "report": r}),
        );
    };
    let t = Instant::now();
    let m = LogisticModel::fit(&trc, &LogisticParams::default())?;
    class(
        "logistic",
        t.elapsed().as_secs_f64(),
        m.predict(te)?,
        &mut results,
    );
    let (t, c) = (Instant::now(), cpu_seconds());
    let m = train(
        &trc,
        None,
        &GbmParams {
            objective: Objective::Logistic,
            ..gp
        },
    )?;
    let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
    class("gbm_logistic", secs, m.predict(te)?, &mut results);
    results["gbm_logistic"]["cpu_seconds"] = cpu.into();
    let t = Instant::now();
    let m = Forest::fit(&trc, &fp)?;
    class(
        "forest_classifier",
        t.elapsed().as_secs_f64(),
        m.predict(te)?,
        &mut results,
    );

    results.insert(
        "config".into(),
        serde_json::json!({"rows": n, "rounds": rounds, "threads": rayon::current_num_threads(), "gbm": gp}),
    );
    let path = out.join("ours.json");
    std::fs::write(
        path.with_extension("json.tmp"),
        serde_json::to_string_pretty(&results)?,
    )?;
    std::fs::rename(path.with_extension("json.tmp"), path)?;
    Ok(())
}
