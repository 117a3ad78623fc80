//! GLMs against statsmodels (numbers from models/scripts/glm_reference.py).

mod common;

use caregap_models::glm::{Family, GlmParams, fit_negative_binomial, fit_poisson};
use caregap_models::metrics;
use common::{assert_rel, floats, reference, small};

#[test]
fn poisson_matches_statsmodels() {
    let data = small();
    let r = reference();
    let fit = fit_poisson(&data, &GlmParams::default()).unwrap();
    let names: Vec<&str> = fit.coefficients.iter().map(|c| c.name.as_str()).collect();
    let want_names: Vec<&str> = r["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names, want_names);
    let p = &r["poisson"];
    for ((c, b), se) in fit
        .coefficients
        .iter()
        .zip(floats(&p["params"]))
        .zip(floats(&p["bse"]))
    {
        assert_rel(c.estimate, b, 1e-6, &format!("coefficient {}", c.name));
        assert_rel(c.std_error, se, 1e-6, &format!("SE {}", c.name));
    }
    for (c, pv) in fit.coefficients.iter().zip(floats(&p["pvalues"])) {
        assert_rel(c.p_value, pv, 1e-5, &format!("p-value {}", c.name));
    }
    assert_rel(
        fit.deviance,
        p["deviance"].as_f64().unwrap(),
        1e-9,
        "deviance",
    );
    assert_rel(
        fit.null_deviance,
        p["null_deviance"].as_f64().unwrap(),
        1e-9,
        "null deviance",
    );
    assert_rel(
        fit.log_likelihood,
        p["llf"].as_f64().unwrap(),
        1e-9,
        "log-likelihood",
    );
    assert_eq!(fit.family, Family::Poisson);
    // Predictions reproduce the deviance.
    let mu = fit.predict(&data).unwrap();
    let dev = metrics::mean_poisson_deviance(data.labels(), &mu) * data.n_rows() as f64;
    assert_rel(dev, fit.deviance, 1e-9, "deviance from predictions");
}

#[test]
fn negative_binomial_matches_statsmodels() {
    let data = small();
    let r = reference();
    let fit = fit_negative_binomial(&data, &GlmParams::default()).unwrap();
    let nb = &r["nb2"];
    for ((c, b), se) in fit
        .coefficients
        .iter()
        .zip(floats(&nb["params"]))
        .zip(floats(&nb["bse"]))
    {
        assert_rel(c.estimate, b, 1e-6, &format!("coefficient {}", c.name));
        assert_rel(c.std_error, se, 1e-5, &format!("SE {}", c.name));
    }
    let Family::NegativeBinomial {
        alpha,
        alpha_std_error,
    } = fit.family
    else {
        panic!("not NB2")
    };
    assert_rel(alpha, nb["alpha"].as_f64().unwrap(), 1e-6, "alpha");
    assert_rel(
        alpha_std_error,
        nb["alpha_bse"].as_f64().unwrap(),
        1e-5,
        "alpha SE",
    );
    assert_rel(
        fit.log_likelihood,
        nb["llf"].as_f64().unwrap(),
        1e-9,
        "log-likelihood",
    );
}

#[test]
fn l2_penalty_satisfies_the_penalised_score_equations() {
    let data = small();
    let l2 = 5.0;
    let fit = fit_poisson(
        &data,
        &GlmParams {
            l2,
            ..GlmParams::default()
        },
    )
    .unwrap();
    let mu = fit.predict(&data).unwrap();
    let beta = fit.estimates();
    // Design columns rebuilt by hand: age, sex, chronic, prev, bmi (imputed), bmi__missing.
    let bmi = data.column(4);
    let bmi_mean = {
        let v: Vec<f64> = bmi.iter().copied().filter(|v| !v.is_nan()).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let col = |j: usize, i: usize| match j {
        0 => 1.0,
        1..=4 => data.column(j - 1)[i],
        5 => {
            if bmi[i].is_nan() {
                bmi_mean
            } else {
                bmi[i]
            }
        }
        _ => f64::from(u8::from(bmi[i].is_nan())),
    };
    for (j, b) in beta.iter().enumerate() {
        let score: f64 = (0..data.n_rows())
            .map(|i| col(j, i) * (data.labels()[i] - mu[i]))
            .sum();
        let want = if j == 0 { 0.0 } else { l2 * b };
        assert!(
            (score - want).abs() < 1e-6,
            "column {j}: score {score} vs penalty {want}"
        );
    }
    let unpenalised = fit_poisson(&data, &GlmParams::default()).unwrap();
    let norm = |b: &[f64]| b[1..].iter().map(|x| x * x).sum::<f64>();
    assert!(norm(&beta) < norm(&unpenalised.estimates()));
}

#[test]
fn auc_matches_sklearn() {
    let data = small();
    let r = reference();
    let fit = fit_poisson(&data, &GlmParams::default()).unwrap();
    let mu = fit.predict(&data).unwrap();
    let threshold = metrics::top_threshold(data.labels(), 0.1);
    assert_eq!(threshold, r["auc"]["threshold"].as_f64().unwrap());
    let labels = metrics::top_labels(data.labels(), threshold);
    assert_eq!(
        labels.iter().sum::<f64>() as i64,
        r["auc"]["positives"].as_i64().unwrap()
    );
    assert_rel(
        metrics::auc(&labels, &mu),
        r["auc"]["auc_of_poisson_mu"].as_f64().unwrap(),
        1e-9,
        "AUC",
    );
}

#[test]
fn aliased_columns_are_dropped_like_r() {
    let data = small();
    let age = data.column(0).to_vec();
    let twice: Vec<f64> = age.iter().map(|a| 2.0 * a + 1.0).collect();
    let d = caregap_models::Dataset::new(
        vec!["age".into(), "age2".into()],
        vec![age.clone(), twice],
        data.labels().to_vec(),
        None,
    )
    .unwrap();
    let fit = fit_poisson(&d, &GlmParams::default()).unwrap();
    assert_eq!(fit.design.dropped, ["age2 (aliased)"]);
    let alone =
        caregap_models::Dataset::new(vec!["age".into()], vec![age], data.labels().to_vec(), None)
            .unwrap();
    let want = fit_poisson(&alone, &GlmParams::default()).unwrap();
    for (a, b) in fit.estimates().iter().zip(want.estimates()) {
        assert_rel(*a, b, 1e-12, "coefficient");
    }
    assert_eq!(fit.predict(&d).unwrap().len(), d.n_rows());
}
