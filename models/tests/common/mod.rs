//! Shared test helpers: the committed small GLM data set.

#![allow(dead_code)]

use caregap_models::Dataset;

/// Reads `tests/data/glm_small.csv` (header; `NA` = missing; last column = y).
pub fn small() -> Dataset {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/glm_small.csv"
    ))
    .expect("committed test data");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let k = header.len() - 1;
    let mut cols = vec![Vec::new(); k];
    let mut y = Vec::new();
    for line in lines {
        let vals: Vec<f64> = line
            .split(',')
            .map(|v| {
                if v == "NA" {
                    f64::NAN
                } else {
                    v.parse().unwrap()
                }
            })
            .collect();
        for j in 0..k {
            cols[j].push(vals[j]);
        }
        y.push(vals[k]);
    }
    Dataset::new(header[..k].to_vec(), cols, y, None).unwrap()
}

/// The statsmodels reference numbers.
pub fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/glm_reference.json"
    ))
    .expect("committed reference");
    serde_json::from_str(&text).unwrap()
}

pub fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

pub fn assert_rel(got: f64, want: f64, tol: f64, what: &str) {
    let rel = (got - want).abs() / want.abs().max(1e-12);
    assert!(
        rel <= tol,
        "{what}: got {got}, want {want}, relative error {rel:e} > {tol:e}"
    );
}
