//! A smartcore random forest as a further comparison model.
//!
//! smartcore trees cannot take missing values, so the forest sees the
//! [`Design`] columns (training-mean imputation + missingness indicators).
//! Regression trees on counts give mean predictions; on 0/1 labels they give
//! probabilities (a probability forest), which is how the classifier variant
//! is built. smartcore grows exact (not histogram) trees, so fitting is
//! limited to a deterministic random subsample of `max_samples` rows.

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::data::Dataset;
use crate::design::Design;
use crate::error::{ModelError, Result, invalid_param};

/// Hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Maximum depth.
    pub max_depth: u16,
    /// Minimum rows in a leaf.
    pub min_samples_leaf: usize,
    /// Rows used for fitting (a seeded random subsample when the data is larger).
    pub max_samples: usize,
    /// Seed for the subsample and the forest.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self {
            n_trees: 50,
            max_depth: 10,
            min_samples_leaf: 20,
            max_samples: 50_000,
            seed: 42,
        }
    }
}

/// A fitted forest (not serialisable: used for comparisons only).
pub struct Forest {
    design: Design,
    model: RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>,
    /// Rows actually used for fitting.
    pub rows_used: usize,
}

impl Forest {
    /// Fits on the data's labels (counts or 0/1).
    pub fn fit(data: &Dataset, params: &ForestParams) -> Result<Self> {
        if params.n_trees == 0 || params.max_samples == 0 {
            return Err(invalid_param("n_trees/max_samples", "must be at least 1"));
        }
        let n = data.n_rows();
        let mut rows: Vec<usize> = if n > params.max_samples {
            sample(
                &mut ChaCha8Rng::seed_from_u64(params.seed),
                n,
                params.max_samples,
            )
            .into_vec()
        } else {
            (0..n).collect()
        };
        rows.sort_unstable();
        let sub = data.subset(&rows);
        let design = Design::learn(&sub);
        let x = matrix(&design, &sub)?;
        let y = sub.labels().to_vec();
        let rf = RandomForestRegressorParameters::default()
            .with_n_trees(params.n_trees)
            .with_max_depth(params.max_depth)
            .with_min_samples_leaf(params.min_samples_leaf)
            .with_seed(params.seed);
        let model = match sub.weights() {
            Some(w) => RandomForestRegressor::fit_with_weights(&x, &y, w, rf),
            None => RandomForestRegressor::fit(&x, &y, rf),
        }
        .map_err(|e| ModelError::FitFailed {
            model: "random forest",
            reason: e.to_string(),
        })?;
        Ok(Self {
            design,
            model,
            rows_used: rows.len(),
        })
    }

    /// Predictions (means or probabilities).
    pub fn predict(&self, data: &Dataset) -> Result<Vec<f64>> {
        let x = matrix(&self.design, data)?;
        self.model.predict(&x).map_err(|e| ModelError::FitFailed {
            model: "random forest",
            reason: e.to_string(),
        })
    }
}

/// Column-major smartcore matrix of the design columns (no intercept).
fn matrix(design: &Design, data: &Dataset) -> Result<DenseMatrix<f64>> {
    design.check(data)?;
    let p = design.width();
    let n = data.n_rows();
    let mut values = vec![0.0; n * (p - 1)];
    let mut row = vec![0.0; p];
    for i in 0..n {
        design.fill_row(|j| data.column(j)[i], &mut row);
        for j in 1..p {
            values[(j - 1) * n + i] = row[j];
        }
    }
    DenseMatrix::new(n, (p - 1).max(1), values, true)
        .map_err(|e| ModelError::InvalidData(format!("forest matrix: {e}")))
}
