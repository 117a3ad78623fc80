//! Logistic regression (linfa-logistic) against scikit-learn, and the
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
        max_iter: 10_000,
        gradient_tolerance: 1e-12,
    };
    let m = LogisticModel::fit(&data, &params).unwrap();
    assert_rel(
        m.intercept,
        r["intercept"].as_f64().unwrap(),
        1e-4,
        "intercept",
    );
    for (got, want) in m.coefficients.iter().zip(floats(&r["coef"])) {
        assert_rel(*got, want, 1e-4, "coefficient");
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
