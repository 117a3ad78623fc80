//! Fits the Poisson GBM (LightGBM's configuration: 255 bins, 31 leaves,
//! learning rate 0.1, min 20 per leaf, max delta step 0.7) on an exported
//! train.csv and prints wall and CPU seconds of the fit and the test deviance.
//!
//! ```text
//! cargo run --release -p caregap-models --example gbm_fit -- EXPORT_DIR [ROUNDS] [SEED] [OBJECTIVE]
//! ```
//! OBJECTIVE is `poisson` (default: labels `y`, metric the test deviance) or
//! `logistic` (labels `top10`, metric the test AUC).
//! EXPORT_DIR holds train.csv and test.csv as written by
//! `caregap model bench --export` (features, then `y`, `top10` and optionally
//! `mu_true`; an empty field is missing). Threads: RAYON_NUM_THREADS.

use std::time::Instant;

use caregap_models::Dataset;
use caregap_models::gbm::{GbmParams, Objective, train};
use caregap_models::metrics::{auc, mean_poisson_deviance};

mod common;
use common::{arg, cpu_seconds};

fn load(path: &std::path::Path, label: &str) -> Result<Dataset, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty csv")?.split(',').collect();
    let y_col = header
        .iter()
        .position(|&c| c == label)
        .ok_or_else(|| format!("no {label} column"))?;
    let feats: Vec<usize> = (0..header.len())
        .filter(|&i| !matches!(header[i], "y" | "top10" | "mu_true"))
        .collect();
    let mut cols = vec![Vec::new(); feats.len()];
    let mut y = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        for (c, &i) in cols.iter_mut().zip(&feats) {
            c.push(if f[i].is_empty() {
                f64::NAN
            } else {
                f[i].parse()?
            });
        }
        y.push(f[y_col].parse()?);
    }
    let names = feats.iter().map(|&i| header[i].to_string()).collect();
    Ok(Dataset::new(names, cols, y, None)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: gbm_fit EXPORT_DIR [ROUNDS] [SEED] [poisson|logistic]";
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or(usage)?);
    let rounds: usize = arg(2, 100)?;
    let seed: u64 = arg(3, 42)?;
    let objective = std::env::args().nth(4).unwrap_or_else(|| "poisson".into());
    let (label, obj) = match objective.as_str() {
        "poisson" => ("y", Objective::poisson()),
        "logistic" => ("top10", Objective::Logistic),
        _ => return Err(usage.into()),
    };
    let tr = load(&dir.join("train.csv"), label)?;
    let te = load(&dir.join("test.csv"), label)?;
    let p = GbmParams {
        num_rounds: rounds,
        seed,
        objective: obj,
        ..GbmParams::default()
    };
    let (t, c) = (Instant::now(), cpu_seconds());
    let m = train(&tr, None, &p)?;
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
    let pred = m.predict(&te)?;
    // The test deviance, or for the logistic objective the test AUC.
    let metric = match obj {
        Objective::Poisson { .. } => mean_poisson_deviance(te.labels(), &pred),
        _ => auc(te.labels(), &pred),
    };
    println!(
        "{{\"side\": \"caregap\", \"objective\": \"{objective}\", \"seed\": {seed}, \"wall\": {wall:.3}, \"cpu\": {cpu:.3}, \"metric\": {metric:.6}, \"metric_exact\": {metric:?}, \"threads\": {}, \"rows\": {}}}",
        rayon::current_num_threads(),
        tr.n_rows()
    );
    Ok(())
}
