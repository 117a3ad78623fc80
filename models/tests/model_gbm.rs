//! Gradient boosting sanity: learns known functions, improves each round, is
//! deterministic across thread counts, and survives a save/load round trip.

use caregap_models::gbm::{Booster, GbmParams, Growth, Objective, train};
use caregap_models::metrics;
use caregap_models::saved::{FittedModel, SavedModel};
use caregap_models::{Dataset, ModelError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

/// y ~ Poisson(exp(f(x))) with a step, an interaction and missing values.
fn known(n: usize, seed: u64) -> (Dataset, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut a, mut b, mut c, mut y, mut mu) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let x1: f64 = rng.random::<f64>() * 10.0;
        let x2: f64 = if rng.random::<f64>() < 0.2 {
            f64::NAN
        } else {
            rng.random::<f64>()
        };
        let x3: f64 = f64::from(u8::from(rng.random::<bool>()));
        let f = -0.5
            + if x1 > 5.0 { 1.0 } else { 0.0 }
            + if x2.is_nan() { 0.7 } else { 0.5 * x2 }
            + 0.5 * x3 * (x1 / 10.0);
        let m = f.exp();
        a.push(x1);
        b.push(x2);
        c.push(x3);
        mu.push(m);
        y.push(Poisson::new(m).unwrap().sample(&mut rng));
    }
    (
        Dataset::new(
            vec!["x1".into(), "x2".into(), "x3".into()],
            vec![a, b, c],
            y,
            None,
        )
        .unwrap(),
        mu,
    )
}

fn params() -> GbmParams {
    GbmParams {
        num_rounds: 60,
        ..GbmParams::default()
    }
}

#[test]
fn learns_a_known_function() {
    let (tr, _) = known(20_000, 1);
    let (te, mu) = known(20_000, 2);
    let model = train(&tr, None, &params()).unwrap();
    let pred = model.predict(&te).unwrap();
    let dev = metrics::mean_poisson_deviance(te.labels(), &pred);
    let oracle = metrics::oracle_deviance(te.labels(), &mu);
    let mean = tr.labels().iter().sum::<f64>() / tr.n_rows() as f64;
    let null = metrics::mean_poisson_deviance(te.labels(), &vec![mean; te.n_rows()]);
    assert!(dev < oracle * 1.01, "deviance {dev} vs oracle {oracle}");
    assert!(dev < null * 0.9, "deviance {dev} vs null {null}");
    // Depth-wise growth learns it too.
    let dw = train(
        &tr,
        None,
        &GbmParams {
            growth: Growth::DepthWise,
            max_depth: Some(4),
            ..params()
        },
    )
    .unwrap();
    let dev_dw = metrics::mean_poisson_deviance(te.labels(), &dw.predict(&te).unwrap());
    assert!(
        dev_dw < oracle * 1.01,
        "depth-wise deviance {dev_dw} vs oracle {oracle}"
    );
    assert!(dw.trees.iter().all(|t| t.n_leaves() <= 16));
}

#[test]
fn training_deviance_decreases_every_round() {
    let (tr, _) = known(5_000, 3);
    let model = train(&tr, Some(&tr), &params()).unwrap();
    assert_eq!(model.valid_loss.len(), 60);
    for w in model.valid_loss.windows(2) {
        assert!(w[1] <= w[0] + 1e-12, "{} then {}", w[0], w[1]);
    }
}

#[test]
fn early_stopping_keeps_the_best_round() {
    let (tr, _) = known(3_000, 4);
    let (va, _) = known(3_000, 5);
    let p = GbmParams {
        num_rounds: 500,
        learning_rate: 0.3,
        early_stopping_rounds: Some(10),
        ..params()
    };
    let model = train(&tr, Some(&va), &p).unwrap();
    assert!(model.valid_loss.len() < 500);
    assert_eq!(model.trees.len(), model.best_rounds);
    let best = model
        .valid_loss
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    assert_eq!(model.valid_loss[model.best_rounds - 1], best);
    assert_eq!(model.valid_loss.len(), model.best_rounds + 10);
    let direct = metrics::mean_poisson_deviance(va.labels(), &model.predict(&va).unwrap());
    assert!((direct - best).abs() < 1e-9 * best);
}

#[test]
fn logistic_objective_separates_classes() {
    let (tr, _) = known(10_000, 6);
    let (te, _) = known(10_000, 7);
    let t = metrics::top_threshold(tr.labels(), 0.1);
    let tr = tr.with_labels(metrics::top_labels(tr.labels(), t)).unwrap();
    let te_labels = metrics::top_labels(te.labels(), t);
    let model = train(
        &tr,
        None,
        &GbmParams {
            objective: Objective::Logistic,
            ..params()
        },
    )
    .unwrap();
    let p = model.predict(&te).unwrap();
    assert!(p.iter().all(|&v| v > 0.0 && v < 1.0));
    let auc = metrics::auc(&te_labels, &p);
    assert!(auc > 0.7, "AUC {auc}");
    let mean_p = p.iter().sum::<f64>() / p.len() as f64;
    let mean_y = te_labels.iter().sum::<f64>() / p.len() as f64;
    assert!((mean_p - mean_y).abs() < 0.02);
}

fn train_with_threads(threads: usize, data: &Dataset, p: &GbmParams) -> Booster {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| train(data, None, p).unwrap())
}

#[test]
fn deterministic_across_thread_counts() {
    let (tr, _) = known(30_000, 8);
    let p = GbmParams {
        num_rounds: 15,
        bagging_fraction: 0.7,
        bagging_freq: 1,
        feature_fraction: 0.67,
        seed: 11,
        ..GbmParams::default()
    };
    let one = train_with_threads(1, &tr, &p);
    let three = train_with_threads(3, &tr, &p);
    assert_eq!(one, three);
    let other_seed = train_with_threads(2, &tr, &GbmParams { seed: 12, ..p });
    assert_ne!(one, other_seed);
}

#[test]
fn save_load_round_trip_and_feature_check() {
    let (tr, _) = known(5_000, 9);
    let model = train(
        &tr,
        None,
        &GbmParams {
            num_rounds: 10,
            ..GbmParams::default()
        },
    )
    .unwrap();
    let saved = SavedModel {
        format_version: caregap_models::saved::FORMAT_VERSION,
        kind: "gbm_poisson".into(),
        features: tr.names().to_vec(),
        features_hash: "abc123".into(),
        training: [("as_of".to_string(), "2025-01-01".to_string())]
            .into_iter()
            .collect(),
        params: serde_json::json!({"num_rounds": 10}),
        metrics: [("train_deviance".to_string(), 1.0)].into_iter().collect(),
        model: FittedModel::Gbm(model.clone()),
    };
    let json = saved.to_json().unwrap();
    let back = SavedModel::load(&json, tr.names(), "abc123").unwrap();
    assert!(back == saved, "saved model changed in the JSON round trip");
    assert_eq!(
        back.model.predict(&tr).unwrap(),
        model.predict(&tr).unwrap()
    );

    let err = SavedModel::load(&json, tr.names(), "other").unwrap_err();
    assert!(matches!(err, ModelError::FeatureMismatch(_)));
    assert!(err.to_string().contains("definitions changed"), "{err}");
    let renamed = vec!["x1".to_string(), "x2".to_string(), "x4".to_string()];
    let err = SavedModel::load(&json, &renamed, "abc123")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing: [x3]") && err.contains("new: [x4]"),
        "{err}"
    );
    let future = json.replacen("\"format_version\": 1", "\"format_version\": 99", 1);
    let err = SavedModel::from_json(&future).unwrap_err().to_string();
    assert!(err.contains("format_version 99"), "{err}");
}

/// A split that sends every present value one way and missing values the
/// other has the threshold `+inf` (serde_json writes `null`): it must load.
#[test]
fn missing_versus_present_split_survives_json() {
    let n = 2_000;
    let x: Vec<f64> = (0..n)
        .map(|i| if i % 2 == 0 { f64::NAN } else { (i % 7) as f64 })
        .collect();
    let y: Vec<f64> = (0..n).map(|i| if i % 2 == 0 { 6.0 } else { 1.0 }).collect();
    let d = Dataset::new(vec!["x".into()], vec![x], y, None).unwrap();
    let params = GbmParams {
        num_rounds: 3,
        num_leaves: 2,
        ..GbmParams::default()
    };
    let model = train(&d, None, &params).unwrap();
    let json = serde_json::to_string(&model).unwrap();
    assert!(json.contains("\"threshold\":null"), "{json}");
    let back: Booster = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
    assert_eq!(back.predict(&d).unwrap(), model.predict(&d).unwrap());
}

#[test]
fn bad_parameters_are_refused() {
    let (tr, _) = known(100, 10);
    let err = train(
        &tr,
        None,
        &GbmParams {
            max_bin: 300,
            ..GbmParams::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("max_bin"));
    let err = train(
        &tr,
        None,
        &GbmParams {
            early_stopping_rounds: Some(5),
            ..GbmParams::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("validation"));
    let err = train(
        &tr,
        None,
        &GbmParams {
            objective: Objective::Logistic,
            ..GbmParams::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("0/1"));
}
