//! Loss functions: gradients, hessians, initial score and link, as pure
//! functions over slices. Formulas follow LightGBM so results are comparable.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::glm::poisson_unit_deviance;

/// Rows per parallel chunk for elementwise work.
const CHUNK: usize = 16_384;

/// What the booster minimises.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Objective {
    /// Poisson log-likelihood with a log link (counts). As in LightGBM the
    /// hessian is inflated to `exp(score + max_delta_step)`, which damps leaf
    /// values (LightGBM's `poisson_max_delta_step`, default 0.7).
    Poisson {
        /// `poisson_max_delta_step`.
        max_delta_step: f64,
    },
    /// Binary log-loss with a logit link (0/1 labels).
    Logistic,
}

impl Objective {
    /// LightGBM's default Poisson objective.
    pub fn poisson() -> Self {
        Objective::Poisson {
            max_delta_step: 0.7,
        }
    }

    /// Starting score (boost from average): `log(mean)` for Poisson, the
    /// log-odds of the mean for logistic. Weighted when weights are given.
    pub fn init_score(&self, y: &[f64], w: Option<&[f64]>) -> f64 {
        let (s, n) = match w {
            Some(w) => (
                y.iter().zip(w).map(|(a, b)| a * b).sum::<f64>(),
                w.iter().sum::<f64>(),
            ),
            None => (y.iter().sum::<f64>(), y.len() as f64),
        };
        let m = s / n;
        match self {
            Objective::Poisson { .. } => m.max(1e-300).ln(),
            Objective::Logistic => {
                let p = m.clamp(1e-15, 1.0 - 1e-15);
                (p / (1.0 - p)).ln()
            }
        }
    }

    /// Fills `gh` with the (gradient, hessian) pairs at the current raw
    /// `score`s.
    pub fn gradients(&self, y: &[f64], w: Option<&[f64]>, score: &[f64], gh: &mut [[f32; 2]]) {
        let obj = *self;
        gh.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
            let base = c * CHUNK;
            for (k, o) in out.iter_mut().enumerate() {
                let i = base + k;
                let (gi, hi) = obj.grad_hess(y[i], score[i]);
                let wi = w.map_or(1.0, |w| w[i]);
                *o = [(gi * wi) as f32, (hi * wi) as f32];
            }
        });
    }

    /// Gradient and hessian of one row's loss in its raw score.
    #[inline]
    pub fn grad_hess(&self, y: f64, score: f64) -> (f64, f64) {
        match *self {
            Objective::Poisson { max_delta_step } => {
                (score.exp() - y, (score + max_delta_step).exp())
            }
            Objective::Logistic => {
                let p = sigmoid(score);
                (p - y, p * (1.0 - p))
            }
        }
    }

    /// Raw score to prediction: mean count or probability.
    #[inline]
    pub fn transform(&self, score: f64) -> f64 {
        match self {
            Objective::Poisson { .. } => score.exp(),
            Objective::Logistic => sigmoid(score),
        }
    }

    /// Mean validation loss (Poisson deviance or log-loss) at raw scores.
    pub fn loss(&self, y: &[f64], score: &[f64]) -> f64 {
        let parts: Vec<f64> = y
            .par_chunks(CHUNK)
            .zip(score.par_chunks(CHUNK))
            .map(|(y, s)| {
                y.iter()
                    .zip(s)
                    .map(|(&y, &s)| match self {
                        Objective::Poisson { .. } => poisson_unit_deviance(y, s.exp()),
                        Objective::Logistic => {
                            // log(1 + e^s) − y s, computed stably.
                            let sp = if s > 0.0 {
                                s + (-s).exp().ln_1p()
                            } else {
                                s.exp().ln_1p()
                            };
                            sp - y * s
                        }
                    })
                    .sum()
            })
            .collect();
        parts.iter().sum::<f64>() / y.len() as f64
    }

    /// Checks labels fit the objective.
    pub fn check_labels(&self, y: &[f64]) -> Result<(), String> {
        match self {
            Objective::Poisson { max_delta_step } => {
                if !(*max_delta_step >= 0.0) {
                    return Err("poisson max_delta_step must be >= 0".into());
                }
                if y.iter().sum::<f64>() <= 0.0 {
                    return Err("Poisson objective needs at least one positive label".into());
                }
                Ok(())
            }
            Objective::Logistic => match y.iter().position(|&v| v != 0.0 && v != 1.0) {
                Some(i) => Err(format!(
                    "logistic objective needs 0/1 labels; row {i} has {}",
                    y[i]
                )),
                None => Ok(()),
            },
        }
    }
}

#[inline]
fn sigmoid(s: f64) -> f64 {
    1.0 / (1.0 + (-s).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lightgbm_formulas() {
        let o = Objective::poisson();
        let (g, h) = o.grad_hess(3.0, 0.5);
        assert!((g - (0.5f64.exp() - 3.0)).abs() < 1e-15);
        assert!((h - 1.2f64.exp()).abs() < 1e-15);
        assert!((o.init_score(&[1.0, 3.0], None) - 2.0f64.ln()).abs() < 1e-15);
        let l = Objective::Logistic;
        let (g, h) = l.grad_hess(1.0, 0.0);
        assert_eq!((g, h), (-0.5, 0.25));
        assert!((l.init_score(&[0.0, 0.0, 0.0, 1.0], None) - (1.0f64 / 3.0).ln()).abs() < 1e-15);
        assert!((l.loss(&[1.0], &[0.0]) - 2.0f64.ln()).abs() < 1e-15);
    }
}
