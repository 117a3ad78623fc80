//! Poisson and negative binomial (NB2) regression with a log link.
//!
//! Both are fitted by iteratively reweighted least squares (IRLS = Fisher
//! scoring), an intercept is always included, and an optional L2 penalty
//! `l2/2 · Σ βⱼ²` (not on the intercept) is subtracted from the
//! log-likelihood. The penalty acts on the features' own scale: standardise
//! features first for a scale-free penalty. Missing values are handled by
//! [`Design`] (training mean + missingness indicator).
//!
//! Standard errors are the square roots of the diagonal of the inverse
//! information matrix at the optimum: the Fisher information `XᵀWX` for
//! Poisson (plus the penalty, so penalised SEs are the usual approximate
//! ones), and the full observed information of `(β, α)` for NB2, as
//! statsmodels' `NegativeBinomial` reports them. Wald p-values use the normal
//! distribution from statrs.
//!
//! NB2 has `Var(y) = μ + αμ²` and `α` is estimated by maximum likelihood:
//! IRLS for `β` at fixed `α` alternates with Newton steps on `log α` at fixed
//! `β` until the log-likelihood stops changing; the optimum is the joint MLE.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::gamma::{digamma, ln_gamma};

use crate::data::Dataset;
use crate::design::Design;
use crate::error::{ModelError, Result, invalid_param};
use crate::linalg::{aliased_columns, cholesky, cholesky_inverse, cholesky_solve};

/// Rows per parallel chunk when accumulating `XᵀWX`; fixed so that sums are
/// the same whatever the number of threads.
const CHUNK: usize = 4096;

/// Fitting controls shared by both GLMs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GlmParams {
    /// L2 penalty on the non-intercept coefficients (0 = none).
    pub l2: f64,
    /// Maximum IRLS iterations (per inner fit for NB2).
    pub max_iter: usize,
    /// Convergence: relative change of the deviance (Poisson) or
    /// log-likelihood (NB2) between iterations.
    pub tol: f64,
}

impl Default for GlmParams {
    fn default() -> Self {
        Self {
            l2: 0.0,
            max_iter: 100,
            tol: 1e-12,
        }
    }
}

impl GlmParams {
    fn check(&self) -> Result<()> {
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(invalid_param(
                "l2",
                format!("must be >= 0, got {}", self.l2),
            ));
        }
        if self.max_iter == 0 {
            return Err(invalid_param("max_iter", "must be at least 1"));
        }
        if !(self.tol > 0.0) {
            return Err(invalid_param(
                "tol",
                format!("must be > 0, got {}", self.tol),
            ));
        }
        Ok(())
    }
}

/// One coefficient with its inference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coefficient {
    /// `intercept`, a feature name, or `<feature>__missing`.
    pub name: String,
    /// Estimate (log rate ratio per unit).
    pub estimate: f64,
    /// Standard error.
    pub std_error: f64,
    /// Wald z statistic.
    pub z: f64,
    /// Two-sided Wald p-value.
    pub p_value: f64,
}

/// Which count distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Poisson.
    Poisson,
    /// NB2 with the estimated dispersion `alpha`.
    NegativeBinomial {
        /// Estimated dispersion.
        alpha: f64,
        /// Its standard error.
        alpha_std_error: f64,
    },
}

/// A fitted log-link count GLM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Glm {
    /// Distribution and, for NB2, the dispersion.
    pub family: Family,
    /// How features become design columns.
    pub design: Design,
    /// Intercept first, then one per design column.
    pub coefficients: Vec<Coefficient>,
    /// Residual deviance on the training data.
    pub deviance: f64,
    /// Deviance of the intercept-only model with the same family.
    pub null_deviance: f64,
    /// Full log-likelihood on the training data.
    pub log_likelihood: f64,
    /// IRLS iterations used (total over the alternation for NB2).
    pub iterations: usize,
    /// The L2 penalty used.
    pub l2: f64,
}

impl Glm {
    /// Predicted means for `data` (same feature order as in training).
    pub fn predict(&self, data: &Dataset) -> Result<Vec<f64>> {
        self.design.check(data)?;
        let p = self.design.width();
        let beta: Vec<f64> = self.coefficients.iter().map(|c| c.estimate).collect();
        let mut out = vec![0.0; data.n_rows()];
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                let mut row = vec![0.0; p];
                for (k, o) in chunk.iter_mut().enumerate() {
                    let i = c * CHUNK + k;
                    self.design.fill_row(|j| data.column(j)[i], &mut row);
                    *o = (dot(&row, &beta) + data.offset(i)).exp();
                }
            });
        Ok(out)
    }

    /// The coefficient estimates, intercept first.
    pub fn estimates(&self) -> Vec<f64> {
        self.coefficients.iter().map(|c| c.estimate).collect()
    }
}

/// Fits a Poisson GLM by IRLS.
pub fn fit_poisson(data: &Dataset, params: &GlmParams) -> Result<Glm> {
    params.check()?;
    let prob = Problem::new(data, params.l2)?;
    let fit = prob.irls(params, None, None)?;
    let cov = fit.cov;
    let mu = prob.mu(&fit.beta);
    let deviance = prob.sum(|i| prob.w[i] * poisson_unit_deviance(prob.y[i], mu[i]));
    let ll = prob.sum(|i| prob.w[i] * poisson_loglik(prob.y[i], mu[i]));
    let null = prob.null_means();
    let null_deviance = prob.sum(|i| prob.w[i] * poisson_unit_deviance(prob.y[i], null[i]));
    Ok(Glm {
        family: Family::Poisson,
        coefficients: prob.coefficients(&fit.beta, &cov),
        design: prob.design,
        deviance,
        null_deviance,
        log_likelihood: ll,
        iterations: fit.iterations,
        l2: params.l2,
    })
}

/// Fits an NB2 GLM with the dispersion estimated by maximum likelihood.
pub fn fit_negative_binomial(data: &Dataset, params: &GlmParams) -> Result<Glm> {
    params.check()?;
    let prob = Problem::new(data, params.l2)?;
    let start = prob.irls(params, None, None)?;
    let mut beta = start.beta;
    let mut iterations = start.iterations;
    let mu = prob.mu(&beta);
    // Method-of-moments start for alpha.
    let num = prob.sum(|i| prob.w[i] * ((prob.y[i] - mu[i]).powi(2) - prob.y[i]));
    let den = prob.sum(|i| prob.w[i] * mu[i] * mu[i]);
    let mut alpha = (num / den).clamp(1e-4, 1e4);
    let mut ll_old = f64::NEG_INFINITY;
    let mut converged = false;
    for _ in 0..params.max_iter {
        let fit = prob.irls(params, Some(alpha), Some(&beta))?;
        beta = fit.beta;
        iterations += fit.iterations;
        let mu = prob.mu(&beta);
        alpha = prob.profile_alpha(&mu, alpha);
        let ll = prob.sum(|i| prob.w[i] * nb_loglik(prob.y[i], mu[i], alpha)) - prob.penalty(&beta);
        if (ll - ll_old).abs() <= params.tol * (ll.abs() + 1.0) {
            converged = true;
            break;
        }
        ll_old = ll;
    }
    if !converged {
        return Err(ModelError::FitFailed {
            model: "negative binomial GLM",
            reason: format!(
                "alpha/beta alternation did not converge in {} rounds; raise max_iter or add an L2 penalty",
                params.max_iter
            ),
        });
    }
    // One last IRLS at the final alpha so beta is exactly optimal for it.
    let fit = prob.irls(params, Some(alpha), Some(&beta))?;
    beta = fit.beta;
    iterations += fit.iterations;
    let mu = prob.mu(&beta);
    let (cov, alpha_var) = prob.nb_observed_covariance(&mu, alpha)?;
    let deviance = prob.sum(|i| prob.w[i] * nb_unit_deviance(prob.y[i], mu[i], alpha));
    let ll = prob.sum(|i| prob.w[i] * nb_loglik(prob.y[i], mu[i], alpha));
    let null = prob.null_means();
    let null_deviance = prob.sum(|i| prob.w[i] * nb_unit_deviance(prob.y[i], null[i], alpha));
    Ok(Glm {
        family: Family::NegativeBinomial {
            alpha,
            alpha_std_error: alpha_var.sqrt(),
        },
        coefficients: prob.coefficients(&beta, &cov),
        design: prob.design,
        deviance,
        null_deviance,
        log_likelihood: ll,
        iterations,
        l2: params.l2,
    })
}

/// Unit Poisson deviance `2(y log(y/μ) − (y − μ))`.
pub fn poisson_unit_deviance(y: f64, mu: f64) -> f64 {
    let t = if y > 0.0 { y * (y / mu).ln() } else { 0.0 };
    2.0 * (t - (y - mu))
}

/// Bernoulli log-likelihood `y ln μ + (1 − y) ln(1 − μ)` (0/1 labels).
fn binomial_loglik(y: f64, mu: f64) -> f64 {
    if y > 0.5 { mu.ln() } else { (-mu).ln_1p() }
}

fn poisson_loglik(y: f64, mu: f64) -> f64 {
    let t = if y > 0.0 { y * mu.ln() } else { 0.0 };
    t - mu - ln_gamma(y + 1.0)
}

/// Unit NB2 deviance.
pub fn nb_unit_deviance(y: f64, mu: f64, alpha: f64) -> f64 {
    let t = if y > 0.0 { y * (y / mu).ln() } else { 0.0 };
    2.0 * (t - (y + 1.0 / alpha) * ((1.0 + alpha * y) / (1.0 + alpha * mu)).ln())
}

fn nb_loglik(y: f64, mu: f64, alpha: f64) -> f64 {
    let r = 1.0 / alpha;
    let t = if y > 0.0 { y * (alpha * mu).ln() } else { 0.0 };
    ln_gamma(y + r) - ln_gamma(r) - ln_gamma(y + 1.0) - (y + r) * (alpha * mu).ln_1p() + t
}

/// `ψ(y + r) − ψ(r)` and `ψ'(r) − ψ'(y + r)`; exact sums for integer counts.
fn digamma_diffs(y: f64, r: f64) -> (f64, f64) {
    if y.fract() == 0.0 && y <= 2000.0 {
        let (mut d1, mut d2) = (0.0, 0.0);
        for k in 0..y as u32 {
            let t = 1.0 / (r + f64::from(k));
            d1 += t;
            d2 += t * t;
        }
        (d1, d2)
    } else {
        (digamma(y + r) - digamma(r), trigamma(r) - trigamma(y + r))
    }
}

/// Trigamma by recurrence to x >= 8, then the asymptotic series.
fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 8.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    acc + 1.0 / x
        + x2 / 2.0
        + (1.0 / x) * x2 * (1.0 / 6.0 - x2 * (1.0 / 30.0 - x2 * (1.0 / 42.0 - x2 / 30.0)))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(crate) struct IrlsFit {
    pub(crate) beta: Vec<f64>,
    pub(crate) cov: Vec<f64>,
    pub(crate) iterations: usize,
}

/// Design matrix and labels of one fit.
pub(crate) struct Problem {
    pub(crate) design: Design,
    x: Vec<f64>,
    p: usize,
    y: Vec<f64>,
    w: Vec<f64>,
    /// Offset per row (zeros without one).
    off: Vec<f64>,
    /// L2 penalty per design column (0 for the intercept).
    pen: Vec<f64>,
    /// Binomial family with the logit link (else a log link).
    logit: bool,
}

impl Problem {
    /// The design of `data` (aliased columns dropped) with the L2 penalty
    /// `l2` on every non-intercept column.
    pub(crate) fn new(data: &Dataset, l2: f64) -> Result<Self> {
        if data.n_rows() == 0 {
            return Err(ModelError::InvalidData("no training rows".into()));
        }
        let design = Design::learn(data);
        let w: Vec<f64> = (0..data.n_rows()).map(|i| data.weight(i)).collect();
        let mut prob = Self {
            x: design.matrix(data),
            p: design.width(),
            design,
            y: data.labels().to_vec(),
            w,
            off: (0..data.n_rows()).map(|i| data.offset(i)).collect(),
            pen: Vec::new(),
            logit: false,
        };
        // Drop design columns that are exact linear combinations of earlier
        // ones (e.g. a total next to its parts), as R's glm() does.
        let (xtx, _) = prob.normal_equations(|i| (prob.w[i], 0.0));
        let aliased = aliased_columns(&xtx, prob.p, 1e-10);
        if aliased.iter().any(|&a| a) {
            prob.design = prob.design.without(&aliased);
            prob.x = prob.design.matrix(data);
            prob.p = prob.design.width();
        }
        prob.pen = (0..prob.p).map(|j| if j == 0 { 0.0 } else { l2 }).collect();
        Ok(prob)
    }

    /// Switches to the binomial family (logit link) with the penalty
    /// `alpha/2 · Σ (sdⱼ βⱼ)²`, i.e. `alpha/2 · Σ β̃ⱼ²` on the coefficients of
    /// the standardised columns (sdⱼ = population SD over the training rows).
    pub(crate) fn logistic(mut self, alpha: f64) -> Self {
        let n = self.n() as f64;
        let p = self.p;
        let (mut s1, mut s2) = (vec![0.0; p], vec![0.0; p]);
        for row in self.x.chunks(p) {
            for j in 1..p {
                s1[j] += row[j];
                s2[j] += row[j] * row[j];
            }
        }
        self.pen = (0..p)
            .map(|j| {
                if j == 0 {
                    0.0
                } else {
                    let m = s1[j] / n;
                    alpha * (s2[j] / n - m * m).max(0.0)
                }
            })
            .collect();
        self.logit = true;
        self
    }

    /// Inverse link of the linear predictor.
    fn inv_link(&self, eta: f64) -> f64 {
        if self.logit {
            1.0 / (1.0 + (-eta).exp())
        } else {
            eta.exp()
        }
    }

    fn n(&self) -> usize {
        self.y.len()
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.p..(i + 1) * self.p]
    }

    /// Deterministic parallel sum of `f(i)` over rows.
    fn sum(&self, f: impl Fn(usize) -> f64 + Sync) -> f64 {
        let parts: Vec<f64> = (0..self.n().div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| (c * CHUNK..((c + 1) * CHUNK).min(self.n())).map(&f).sum())
            .collect();
        parts.iter().sum()
    }

    /// Weighted Bernoulli log-likelihood of the means `mu`.
    pub(crate) fn binomial_loglik(&self, mu: &[f64]) -> f64 {
        self.sum(|i| self.w[i] * binomial_loglik(self.y[i], mu[i]))
    }

    /// Means at `beta` (public for the logistic model).
    pub(crate) fn means(&self, beta: &[f64]) -> Vec<f64> {
        self.mu(beta)
    }

    /// Means of the intercept-only log-link model (with the offset): the
    /// weighted mean of y, or `exp(b₀ + offsetᵢ)` with the Poisson MLE `b₀`.
    fn null_means(&self) -> Vec<f64> {
        let rate =
            self.sum(|i| self.w[i] * self.y[i]) / self.sum(|i| self.w[i] * self.off[i].exp());
        self.off.iter().map(|o| rate * o.exp()).collect()
    }

    fn weighted_mean_y(&self) -> f64 {
        self.sum(|i| self.w[i] * self.y[i]) / self.sum(|i| self.w[i])
    }

    fn mu(&self, beta: &[f64]) -> Vec<f64> {
        (0..self.n())
            .into_par_iter()
            .with_min_len(CHUNK)
            .map(|i| self.inv_link(dot(self.row(i), beta) + self.off[i]))
            .collect()
    }

    /// `½ Σ penⱼ βⱼ²`.
    fn penalty(&self, beta: &[f64]) -> f64 {
        0.5 * beta
            .iter()
            .zip(&self.pen)
            .map(|(b, l)| l * b * b)
            .sum::<f64>()
    }

    /// `XᵀWX` (row-major, full) and `XᵀWz` with deterministic chunked sums.
    fn normal_equations(&self, wz: impl Fn(usize) -> (f64, f64) + Sync) -> (Vec<f64>, Vec<f64>) {
        let p = self.p;
        let parts: Vec<(Vec<f64>, Vec<f64>)> = (0..self.n().div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let mut a = vec![0.0; p * p];
                let mut b = vec![0.0; p];
                for i in c * CHUNK..((c + 1) * CHUNK).min(self.n()) {
                    let (wi, zi) = wz(i);
                    let r = self.row(i);
                    for j in 0..p {
                        let wr = wi * r[j];
                        b[j] += wr * zi;
                        let aj = &mut a[j * p..j * p + j + 1];
                        for (k, ajk) in aj.iter_mut().enumerate() {
                            *ajk += wr * r[k];
                        }
                    }
                }
                (a, b)
            })
            .collect();
        let mut a = vec![0.0; p * p];
        let mut b = vec![0.0; p];
        for (pa, pb) in parts {
            a.iter_mut().zip(&pa).for_each(|(x, y)| *x += y);
            b.iter_mut().zip(&pb).for_each(|(x, y)| *x += y);
        }
        for j in 0..p {
            for k in 0..j {
                a[k * p + j] = a[j * p + k];
            }
        }
        (a, b)
    }

    /// IRLS for the Poisson (`alpha = None`) or NB2 mean at fixed `alpha`.
    pub(crate) fn irls(
        &self,
        params: &GlmParams,
        alpha: Option<f64>,
        start: Option<&[f64]>,
    ) -> Result<IrlsFit> {
        let p = self.p;
        let model = if self.logit {
            "logistic regression"
        } else if alpha.is_some() {
            "negative binomial GLM"
        } else {
            "Poisson GLM"
        };
        let a = alpha.unwrap_or(0.0);
        let objective = |mu: &[f64], beta: &[f64]| {
            let ll = self.sum(|i| {
                self.w[i]
                    * if self.logit {
                        binomial_loglik(self.y[i], mu[i])
                    } else if alpha.is_some() {
                        nb_loglik(self.y[i], mu[i], a)
                    } else {
                        poisson_loglik(self.y[i], mu[i])
                    }
            });
            ll - self.penalty(beta)
        };
        let (mut beta, mut mu) = match start {
            Some(b) => (b.to_vec(), self.mu(b)),
            None => {
                // statsmodels' starts: mu = (y + mean(y)) / 2 (counts),
                // (y + 0.5) / 2 (binomial).
                let ybar = if self.logit {
                    0.5
                } else {
                    self.weighted_mean_y()
                };
                (
                    Vec::new(),
                    self.y.iter().map(|y| (y + ybar) / 2.0).collect::<Vec<_>>(),
                )
            }
        };
        let mut obj_old = if beta.is_empty() {
            f64::NEG_INFINITY
        } else {
            objective(&mu, &beta)
        };
        for it in 1..=params.max_iter {
            let (mut xtwx, mut rhs) = self.normal_equations(|i| {
                let m = mu[i];
                if self.logit {
                    let v = (m * (1.0 - m)).max(1e-300);
                    (
                        self.w[i] * v,
                        (m / (1.0 - m)).ln() - self.off[i] + (self.y[i] - m) / v,
                    )
                } else {
                    let wi = self.w[i] * m / (1.0 + a * m);
                    (wi, m.ln() - self.off[i] + (self.y[i] - m) / m)
                }
            });
            for j in 1..p {
                xtwx[j * p + j] += self.pen[j];
            }
            let l = cholesky(&xtwx, p).ok_or_else(|| ModelError::FitFailed {
                model,
                reason: "the weighted design matrix is singular (collinear features?); drop \
                         redundant features or set an L2 penalty"
                    .into(),
            })?;
            cholesky_solve(&l, p, &mut rhs);
            let mut new_beta = rhs;
            let mut new_mu = self.mu(&new_beta);
            let mut obj = objective(&new_mu, &new_beta);
            // Step halving when a full step does not improve (rare for
            // canonical-ish log-link fits, but protects against overflow).
            let mut halvings = 0;
            while !beta.is_empty() && !(obj >= obj_old - 1e-12 * obj_old.abs()) && halvings < 30 {
                new_beta = new_beta
                    .iter()
                    .zip(&beta)
                    .map(|(n, o)| 0.5 * (n + o))
                    .collect();
                new_mu = self.mu(&new_beta);
                obj = objective(&new_mu, &new_beta);
                halvings += 1;
            }
            if !obj.is_finite() {
                return Err(ModelError::FitFailed {
                    model,
                    reason:
                        "the log-likelihood became non-finite; features may have extreme values"
                            .into(),
                });
            }
            beta = new_beta;
            mu = new_mu;
            let done = (obj - obj_old).abs() <= params.tol * (obj.abs() + 1.0);
            obj_old = obj;
            if done {
                let (mut info, _) = self.normal_equations(|i| {
                    let m = mu[i];
                    let v = if self.logit {
                        m * (1.0 - m)
                    } else {
                        m / (1.0 + a * m)
                    };
                    (self.w[i] * v, 0.0)
                });
                for j in 1..p {
                    info[j * p + j] += self.pen[j];
                }
                let l = cholesky(&info, p).ok_or_else(|| ModelError::FitFailed {
                    model,
                    reason: "the information matrix is singular at the optimum".into(),
                })?;
                return Ok(IrlsFit {
                    beta,
                    cov: cholesky_inverse(&l, p),
                    iterations: it,
                });
            }
        }
        Err(ModelError::FitFailed {
            model,
            reason: format!(
                "IRLS did not converge in {} iterations; raise max_iter",
                params.max_iter
            ),
        })
    }

    /// Maximises the NB2 log-likelihood over `alpha` at fixed means (Newton on
    /// `log alpha` with step halving).
    fn profile_alpha(&self, mu: &[f64], start: f64) -> f64 {
        let ll = |a: f64| self.sum(|i| self.w[i] * nb_loglik(self.y[i], mu[i], a));
        let mut theta = start.ln();
        let mut cur = ll(start);
        for _ in 0..100 {
            let a = theta.exp();
            let (g, h) = {
                let parts = self.sum(|i| self.w[i] * nb_dalpha(self.y[i], mu[i], a).0);
                let parts2 = self.sum(|i| self.w[i] * nb_dalpha(self.y[i], mu[i], a).1);
                (parts, parts2)
            };
            // d/dtheta = a g; d2/dtheta2 = a^2 h + a g.
            let g_t = a * g;
            let h_t = a * a * h + a * g;
            let mut step = if h_t < 0.0 {
                -g_t / h_t
            } else {
                g_t.signum() * 0.5
            };
            step = step.clamp(-2.0, 2.0);
            let mut accepted = false;
            for _ in 0..40 {
                let cand = theta + step;
                let v = ll(cand.exp());
                if v >= cur - 1e-14 * cur.abs() {
                    theta = cand;
                    cur = v;
                    accepted = true;
                    break;
                }
                step *= 0.5;
            }
            if !accepted || step.abs() < 1e-12 || theta < -25.0 {
                break;
            }
        }
        theta.exp().max(1e-11)
    }

    /// Full observed information of `(β, α)` inverted; returns the `β` block
    /// covariance and `Var(α)`.
    fn nb_observed_covariance(&self, mu: &[f64], a: f64) -> Result<(Vec<f64>, f64)> {
        let p = self.p;
        let q = p + 1;
        let (xtwx, cross) = self.normal_equations(|i| {
            let (y, m) = (self.y[i], mu[i]);
            let d = 1.0 + a * m;
            (
                self.w[i] * m * (1.0 + a * y) / (d * d),
                (y - m) / (1.0 + a * y),
            )
        });
        // cross[j] = Σ w x_j m (1 + a y)/d² · (y − m)/(1 + a y) = Σ w x_j m (y − m)/d²,
        // which is −∂²l/∂β_j∂α.
        let haa = self.sum(|i| self.w[i] * nb_dalpha(self.y[i], mu[i], a).1);
        let mut info = vec![0.0; q * q];
        for j in 0..p {
            for k in 0..p {
                info[j * q + k] = xtwx[j * p + k];
            }
            info[j * q + p] = cross[j];
            info[p * q + j] = cross[j];
        }
        for j in 1..p {
            info[j * q + j] += self.pen[j];
        }
        info[p * q + p] = -haa;
        let l = cholesky(&info, q).ok_or_else(|| ModelError::FitFailed {
            model: "negative binomial GLM",
            reason:
                "the observed information is not positive definite at the optimum (alpha near 0? \
                     then the data are not overdispersed; use the Poisson GLM)"
                    .into(),
        })?;
        let inv = cholesky_inverse(&l, q);
        let mut cov = vec![0.0; p * p];
        for j in 0..p {
            for k in 0..p {
                cov[j * p + k] = inv[j * q + k];
            }
        }
        Ok((cov, inv[p * q + p]))
    }

    pub(crate) fn coefficients(&self, beta: &[f64], cov: &[f64]) -> Vec<Coefficient> {
        let normal = Normal::standard();
        let names = std::iter::once("intercept".to_string())
            .chain(self.design.column_names.iter().cloned());
        names
            .zip(beta)
            .enumerate()
            .map(|(j, (name, &estimate))| {
                let std_error = cov[j * self.p + j].sqrt();
                let z = estimate / std_error;
                Coefficient {
                    name,
                    estimate,
                    std_error,
                    z,
                    p_value: 2.0 * normal.sf(z.abs()),
                }
            })
            .collect()
    }
}

/// First and second derivative of the NB2 log-likelihood of one row in `alpha`.
fn nb_dalpha(y: f64, mu: f64, a: f64) -> (f64, f64) {
    let r = 1.0 / a;
    let d = 1.0 + a * mu;
    let (dg, dtg) = digamma_diffs(y, r);
    let s = -dg + d.ln();
    let g = s / (a * a) + (y - mu) / (a * d);
    let h = -2.0 * s / (a * a * a) + (mu / d - dtg / (a * a)) / (a * a)
        - (y - mu) * (1.0 + 2.0 * a * mu) / (a * a * d * d);
    (g, h)
}
