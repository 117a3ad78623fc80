//! Logistic regression (IRLS) against scikit-learn and statsmodels, and the
//! random-forest comparison model.

mod common;

use caregap_models::forest::{Forest, ForestParams};
use caregap_models::logistic::{LogisticModel, LogisticParams};
use caregap_models::metrics;
use common::{assert_rel, floats, reference, small};

fn top10() -> caregap_models::Dataset {
    let data = small();
    let t = metrics::top_threshold(data.labels(), 0.1);
    data.with_labels(metrics::top_labels(data.labels(), t))
        .unwrap()
}

#[test]
fn logistic_matches_sklearn() {
    let data = top10();
    let r = &reference()["logistic"];
    let params = LogisticParams {
        alpha: 1.0,
        ..LogisticParams::default()
    };
    let m = LogisticModel::fit(&data, &params).unwrap();
    // scikit-learn's lbfgs at tol 1e-12 and our IRLS meet to ~1e-6.
    assert_rel(
        m.intercept,
        r["intercept"].as_f64().unwrap(),
        1e-6,
        "intercept",
    );
    for (got, want) in m.coefficients.iter().zip(floats(&r["coef"])) {
        assert_rel(*got, want, 1e-6, "coefficient");
    }
    let p = m.predict(&data).unwrap();
    let auc = metrics::auc(data.labels(), &p);
    assert!(
        (auc - r["auc"].as_f64().unwrap()).abs() < 0.002,
        "AUC {auc}"
    );
    // Probabilities are P(label = 1) although 1 is the rarer class.
    let mean_p = p.iter().sum::<f64>() / p.len() as f64;
    let rate = data.labels().iter().sum::<f64>() / p.len() as f64;
    assert!((mean_p - rate).abs() < 0.01, "{mean_p} vs {rate}");
}

#[test]
fn unpenalised_logistic_matches_statsmodels_logit() {
    let data = top10();
    let r = &reference()["logit"];
    let params = LogisticParams {
        alpha: 0.0,
        ..LogisticParams::default()
    };
    let m = LogisticModel::fit(&data, &params).unwrap();
    let names: Vec<&str> = m.inference.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "intercept",
            "age",
            "sex",
            "chronic",
            "prev",
            "bmi",
            "bmi__missing"
        ]
    );
    for ((c, want), se) in m
        .inference
        .iter()
        .zip(floats(&r["params"]))
        .zip(floats(&r["bse"]))
    {
        assert_rel(c.estimate, want, 1e-7, &c.name);
        assert_rel(c.std_error, se, 1e-6, &c.name);
    }
    assert_rel(m.log_likelihood, r["llf"].as_f64().unwrap(), 1e-10, "llf");
}

#[test]
fn logistic_weights_equal_duplicated_rows() {
    // Without the column that has missing values: its imputation mean is
    // unweighted, so it would differ between the two fits.
    let full = top10();
    let data = caregap_models::Dataset::new(
        full.names()[..4].to_vec(),
        full.columns()[..4].to_vec(),
        full.labels().to_vec(),
        None,
    )
    .unwrap();
    let n = data.n_rows();
    // Weight 2 on the first 100 rows = those rows twice.
    let w: Vec<f64> = (0..n).map(|i| if i < 100 { 2.0 } else { 1.0 }).collect();
    let weighted = caregap_models::Dataset::new(
        data.names().to_vec(),
        data.columns().to_vec(),
        data.labels().to_vec(),
        Some(w),
    )
    .unwrap();
    let rows: Vec<usize> = (0..n).chain(0..100).collect();
    let dup = data.subset(&rows);
    let params = LogisticParams {
        alpha: 0.0,
        ..LogisticParams::default()
    };
    let a = LogisticModel::fit(&weighted, &params).unwrap();
    let b = LogisticModel::fit(&dup, &params).unwrap();
    assert_rel(a.intercept, b.intercept, 1e-9, "intercept");
    for (x, y) in a.coefficients.iter().zip(&b.coefficients) {
        assert_rel(*x, *y, 1e-9, "coefficient");
    }
}

#[test]
fn logistic_refuses_bad_input() {
    let data = small();
    let err = LogisticModel::fit(&data, &LogisticParams::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("0/1"), "{err}");
    let m = LogisticModel::fit(&top10(), &LogisticParams::default()).unwrap();
    let fewer = caregap_models::Dataset::new(
        vec!["age".into()],
        vec![data.column(0).to_vec()],
        data.labels().to_vec(),
        None,
    )
    .unwrap();
    assert!(
        m.predict(&fewer)
            .unwrap_err()
            .to_string()
            .contains("fitted on 5 features")
    );
}

#[test]
fn forest_predicts_probabilities_and_counts() {
    let data = top10();
    let params = ForestParams {
        n_trees: 20,
        max_depth: 6,
        min_samples_leaf: 5,
        max_samples: 400,
        seed: 3,
    };
    let f = Forest::fit(&data, &params).unwrap();
    assert_eq!(f.rows_used, 400);
    let p = f.predict(&data).unwrap();
    assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert!(metrics::auc(data.labels(), &p) > 0.7);
    let again = Forest::fit(&data, &params).unwrap().predict(&data).unwrap();
    assert_eq!(p, again);
}
