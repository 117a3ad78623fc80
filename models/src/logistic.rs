//! Logistic regression (linfa-logistic) for a 0/1 outcome such as "in next
//! year's top 10 % of visits".
//!
//! Missing values are handled by [`Design`] as in the GLMs. The columns are
//! standardised on the training data before the L-BFGS fit (so the L2 penalty
//! `alpha/2 · Σ βⱼ²` acts on standardised coefficients, like scikit-learn on
//! standardised inputs with `C = 1/alpha`), and the coefficients are mapped
//! back to the original scale afterwards. ndarray stays inside this module.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::design::Design;
use crate::error::{ModelError, Result, invalid_param};

/// Hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogisticParams {
    /// L2 penalty on the standardised coefficients (not the intercept).
    pub alpha: f64,
    /// L-BFGS iterations.
    pub max_iter: u64,
    /// Gradient tolerance per row (the summed loss's gradient norm must fall
    /// below `gradient_tolerance · n`).
    pub gradient_tolerance: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            max_iter: 500,
            gradient_tolerance: 1e-5,
        }
    }
}

/// A fitted logistic regression on the original feature scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    /// Feature-to-column mapping.
    pub design: Design,
    /// Intercept.
    pub intercept: f64,
    /// One coefficient per design column.
    pub coefficients: Vec<f64>,
    /// Parameters used.
    pub params: LogisticParams,
}

impl LogisticModel {
    /// Fits on 0/1 labels.
    pub fn fit(data: &Dataset, params: &LogisticParams) -> Result<Self> {
        if !(params.alpha >= 0.0) {
            return Err(invalid_param("alpha", "must be >= 0"));
        }
        if data.weights().is_some() {
            return Err(ModelError::InvalidData(
                "logistic regression (linfa-logistic) does not support row weights; fit without weights".into(),
            ));
        }
        let labels = data.labels();
        if labels.iter().any(|&v| v != 0.0 && v != 1.0) {
            return Err(ModelError::InvalidData(
                "logistic regression needs 0/1 labels".into(),
            ));
        }
        let pos = labels.iter().filter(|&&v| v == 1.0).count();
        if pos == 0 || pos == labels.len() {
            return Err(ModelError::InvalidData(
                "logistic regression needs both classes in the training labels".into(),
            ));
        }
        let design = Design::learn(data);
        let p = design.width();
        let n = data.n_rows();
        let raw = design.matrix(data);
        let k = p - 1;
        let (mut mean, mut sd) = (vec![0.0; k], vec![0.0; k]);
        for row in raw.chunks(p) {
            for j in 0..k {
                mean[j] += row[j + 1];
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        for row in raw.chunks(p) {
            for j in 0..k {
                sd[j] += (row[j + 1] - mean[j]).powi(2);
            }
        }
        sd.iter_mut()
            .for_each(|s| *s = (*s / n as f64).sqrt().max(1e-12));
        let mut x = Array2::<f64>::zeros((n, k));
        for (i, row) in raw.chunks(p).enumerate() {
            for j in 0..k {
                x[[i, j]] = (row[j + 1] - mean[j]) / sd[j];
            }
        }
        let y: Array1<bool> = labels.iter().map(|&v| v == 1.0).collect();
        let fitted = LogisticRegression::default()
            .alpha(params.alpha)
            .max_iterations(params.max_iter)
            .gradient_tolerance(params.gradient_tolerance * n as f64)
            .fit(&linfa::Dataset::new(x, y))
            .map_err(|e| ModelError::FitFailed {
                model: "logistic regression",
                reason: e.to_string(),
            })?;
        // linfa-logistic models the MORE FREQUENT class as its positive
        // class; flip the signs when that is `false` (our 0).
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        let std_coef = fitted.params().mapv(|v| sign * v);
        let coefficients: Vec<f64> = (0..k).map(|j| std_coef[j] / sd[j]).collect();
        let intercept =
            sign * fitted.intercept() - (0..k).map(|j| std_coef[j] * mean[j] / sd[j]).sum::<f64>();
        Ok(Self {
            design,
            intercept,
            coefficients,
            params: *params,
        })
    }

    /// Predicted probabilities of the positive class.
    pub fn predict(&self, data: &Dataset) -> Result<Vec<f64>> {
        self.design.check(data)?;
        let p = self.design.width();
        let mut row = vec![0.0; p];
        Ok((0..data.n_rows())
            .map(|i| {
                self.design.fill_row(|j| data.column(j)[i], &mut row);
                let z = self.intercept
                    + row[1..]
                        .iter()
                        .zip(&self.coefficients)
                        .map(|(a, b)| a * b)
                        .sum::<f64>();
                1.0 / (1.0 + (-z).exp())
            })
            .collect())
    }
}
