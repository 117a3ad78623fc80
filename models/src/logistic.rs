//! Logistic regression for a 0/1 outcome such as "in next year's top 10 % of
//! visits", fitted by the same IRLS as the count GLMs (`glm.rs`: binomial
//! family, logit link, Newton = Fisher scoring for the canonical link).
//!
//! Missing values, the training-range clamp and `ln(1 + x)` count features
//! are handled by [`Design`] as in the GLMs. The L2 penalty is
//! `alpha/2 · Σ (sdⱼ βⱼ)²` (intercept unpenalised; sdⱼ the population SD of
//! design column j over the training rows): the same optimum as a fit on
//! standardised columns with `alpha/2 · Σ β̃ⱼ²`, which is scikit-learn's
//! `LogisticRegression(C = 1/alpha)` on standardised inputs. `alpha = 0` is
//! the unpenalised maximum-likelihood fit (statsmodels' `Logit`). Standard
//! errors are the square roots of the diagonal of `(XᵀWX + Λ)⁻¹`, the usual
//! (approximate, when penalised) ones. Row weights multiply each row's
//! log-likelihood. A fit that does not converge (e.g. perfectly separated
//! classes without a penalty) is an error, never a silent result.

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::design::Design;
use crate::error::{ModelError, Result, invalid_param};
use crate::glm::{Coefficient, GlmParams, Problem};

/// Hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogisticParams {
    /// L2 penalty on the standardised coefficients (not the intercept).
    pub alpha: f64,
    /// Maximum IRLS iterations.
    pub max_iter: u64,
    /// Convergence: relative change of the penalised log-likelihood between
    /// IRLS iterations. (Model files written with the former L-BFGS fit call
    /// it `gradient_tolerance`.)
    #[serde(alias = "gradient_tolerance")]
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            max_iter: 100,
            tol: 1e-12,
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
    /// Intercept and coefficients with standard errors, z and p (empty in
    /// model files written before the IRLS fit).
    #[serde(default)]
    pub inference: Vec<Coefficient>,
    /// Log-likelihood on the training data (unpenalised; NaN in old files).
    #[serde(default = "nan")]
    pub log_likelihood: f64,
    /// Log-likelihood of the intercept-only model (NaN in old files).
    #[serde(default = "nan")]
    pub null_log_likelihood: f64,
    /// IRLS iterations used.
    #[serde(default)]
    pub iterations: usize,
}

fn nan() -> f64 {
    f64::NAN
}

impl LogisticModel {
    /// Fits on 0/1 labels.
    pub fn fit(data: &Dataset, params: &LogisticParams) -> Result<Self> {
        if !(params.alpha >= 0.0 && params.alpha.is_finite()) {
            return Err(invalid_param("alpha", "must be >= 0"));
        }
        if params.max_iter == 0 || !(params.tol > 0.0) {
            return Err(invalid_param(
                "max_iter/tol",
                "need max_iter >= 1 and tol > 0",
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
        let prob = Problem::new(data, 0.0)?.logistic(params.alpha);
        let glm_params = GlmParams {
            l2: 0.0,
            max_iter: usize::try_from(params.max_iter).unwrap_or(usize::MAX),
            tol: params.tol,
        };
        let fit = prob.irls(&glm_params, None, None)?;
        let mu = prob.means(&fit.beta);
        let log_likelihood = prob.binomial_loglik(&mu);
        let wsum: f64 = (0..data.n_rows()).map(|i| data.weight(i)).sum();
        let wpos: f64 = (0..data.n_rows())
            .filter(|&i| labels[i] == 1.0)
            .map(|i| data.weight(i))
            .sum();
        let rate = wpos / wsum;
        let null_log_likelihood = wpos * rate.ln() + (wsum - wpos) * (-rate).ln_1p();
        let inference = prob.coefficients(&fit.beta, &fit.cov);
        Ok(Self {
            intercept: fit.beta[0],
            coefficients: fit.beta[1..].to_vec(),
            design: prob.design,
            params: *params,
            inference,
            log_likelihood,
            null_log_likelihood,
            iterations: fit.iterations,
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
                    + data.offset(i)
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
