//! The extrapolation defect of issue 19: a log-linear model predicting for a
//! feature value far beyond its training range. Each test plants such a value
//! at prediction time and fails without the training-range clamp / the
//! `ln(1 + x)` count transform / the plausibility check.

use caregap_models::Dataset;
use caregap_models::glm::{self, GlmParams};
use caregap_models::logistic::{LogisticModel, LogisticParams};
use caregap_models::metrics::{PLAUSIBLE_FACTOR, PredictionCheck};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Poisson};

/// `past` in 0..=20 (a count), `age` in 20..90;
/// y ~ Poisson(exp(-1 + 0.15 past + 0.01 age) · Gamma(2, 1/2)).
fn counts(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut past, mut age, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let p = f64::from(rng.random_range(0..=20u32));
        let a = rng.random_range(20.0..90.0);
        // A Gamma(2, 1/2) frailty: overdispersed counts (NB2 alpha = 0.5).
        let frailty = Gamma::new(2.0, 0.5).unwrap().sample(&mut rng);
        let mu: f64 = (-1.0 + 0.15 * p + 0.01 * a).exp() * frailty;
        past.push(p);
        age.push(a);
        y.push(Poisson::new(mu).unwrap().sample(&mut rng));
    }
    Dataset::new(vec!["past".into(), "age".into()], vec![past, age], y, None).unwrap()
}

fn one_row(past: f64, age: f64) -> Dataset {
    Dataset::new(
        vec!["past".into(), "age".into()],
        vec![vec![past], vec![age]],
        vec![0.0],
        None,
    )
    .unwrap()
}

#[test]
fn glms_clamp_a_planted_outlier_to_the_training_range() {
    let data = counts(3000, 1);
    let max_label = data.labels().iter().copied().fold(0.0, f64::max);
    for nb in [false, true] {
        let m = if nb {
            glm::fit_negative_binomial(&data, &GlmParams::default()).unwrap()
        } else {
            glm::fit_poisson(&data, &GlmParams::default()).unwrap()
        };
        // 5,000 past events where training saw at most 20: the raw
        // log-linear prediction is exp(0.15 · 5000) = inf.
        let far = m.predict(&one_row(5000.0, 50.0)).unwrap()[0];
        let edge = m.predict(&one_row(20.0, 50.0)).unwrap()[0];
        assert_eq!(far, edge, "nb={nb}: clamped to the training maximum");
        let below = m.predict(&one_row(-50.0, 50.0)).unwrap()[0];
        assert_eq!(below, m.predict(&one_row(0.0, 50.0)).unwrap()[0]);
        let check = PredictionCheck::counts(&[far, edge], max_label);
        assert!(check.ok(), "nb={nb}: {check:?}");
        // Inside the range nothing changes: the estimate's own exp(x·β).
        let b = m.estimates();
        let inside = m.predict(&one_row(7.0, 33.0)).unwrap()[0];
        let want = (b[0] + 7.0 * b[1] + 33.0 * b[2]).exp();
        assert!((inside - want).abs() <= 1e-12 * want, "{inside} vs {want}");
    }
}

#[test]
fn log1p_count_features_enter_as_log_of_one_plus_x() {
    let data = counts(3000, 2).with_log1p(&["past"]).unwrap();
    let m = glm::fit_poisson(&data, &GlmParams::default()).unwrap();
    let names: Vec<&str> = m.coefficients.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["intercept", "log1p(past)", "age"]);
    let b = m.estimates();
    let p = m.predict(&one_row(9.0, 40.0)).unwrap()[0];
    let want = (b[0] + 10f64.ln() * b[1] + 40.0 * b[2]).exp();
    assert!((p - want).abs() <= 1e-12 * want);
    // The saved design replays the transform and the clamp.
    let json = serde_json::to_string(&m).unwrap();
    let back: glm::Glm = serde_json::from_str(&json).unwrap();
    assert_eq!(back.predict(&one_row(9.0, 40.0)).unwrap()[0], p);
    assert_eq!(
        back.predict(&one_row(1e9, 40.0)).unwrap(),
        back.predict(&one_row(20.0, 40.0)).unwrap()
    );
}

#[test]
fn log1p_refuses_negative_values_and_unknown_names() {
    let err = one_row(-1.0, 3.0).with_log1p(&["past"]).unwrap_err();
    assert!(err.to_string().contains("`past` is -1"), "{err}");
    let err = one_row(1.0, 3.0).with_log1p(&["visits"]).unwrap_err();
    assert!(err.to_string().contains("no feature `visits`"), "{err}");
}

#[test]
fn logistic_clamps_too() {
    let data = counts(2000, 3);
    let labels: Vec<f64> = data
        .labels()
        .iter()
        .map(|&y| f64::from(u8::from(y >= 4.0)))
        .collect();
    let data = data.with_labels(labels).unwrap();
    let m = LogisticModel::fit(&data, &LogisticParams::default()).unwrap();
    assert_eq!(
        m.predict(&one_row(1e6, 50.0)).unwrap(),
        m.predict(&one_row(20.0, 50.0)).unwrap()
    );
}

#[test]
fn old_model_files_without_ranges_still_load_and_do_not_clamp() {
    let data = counts(500, 4);
    let m = glm::fit_poisson(&data, &GlmParams::default()).unwrap();
    let mut v = serde_json::to_value(&m).unwrap();
    for c in v["design"]["columns"].as_array_mut().unwrap() {
        let c = c.as_object_mut().unwrap();
        c.remove("range");
        c.remove("log1p");
    }
    let old: glm::Glm = serde_json::from_value(v).unwrap();
    let b = m.estimates();
    let p = old.predict(&one_row(30.0, 50.0)).unwrap()[0];
    assert!((p - (b[0] + 30.0 * b[1] + 50.0 * b[2]).exp()).abs() < 1e-9 * p);
}

#[test]
fn prediction_check_flags_implausible_predictions() {
    let c = PredictionCheck::counts(&[1.0, 4.6e14, 3.0], 80.0);
    assert_eq!(c.implausible, 1);
    assert_eq!(c.limit, 80.0 * PLAUSIBLE_FACTOR);
    assert_eq!(c.max_prediction, 4.6e14);
    assert!(c.warning("nb").unwrap().contains("nb: 1 prediction(s)"));
    let c = PredictionCheck::counts(&[1.0, f64::NAN, -1.0], 80.0);
    assert_eq!(c.implausible, 2);
    assert!(PredictionCheck::counts(&[0.0, 800.0], 80.0).ok());
    assert!(PredictionCheck::probabilities(&[0.0, 1.0]).ok());
    assert!(!PredictionCheck::probabilities(&[1.5]).ok());
}
