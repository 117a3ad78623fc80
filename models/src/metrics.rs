//! Evaluation metrics for count predictions and probabilities.
//!
//! All functions take observed values first and predictions second, are
//! unweighted, and return `NaN` for empty input. Ties are handled with average
//! ranks (Spearman, AUC) so the results agree with scipy and scikit-learn.
//! The "top share" orders rows by prediction (descending; ties by row order)
//! and takes the first `ceil(fraction · n)` rows.

use serde::{Deserialize, Serialize};

use crate::glm::poisson_unit_deviance;

/// Mean unit Poisson deviance `mean(2(y log(y/μ) − (y − μ)))`. Predictions
/// must be positive; a zero prediction with a positive label gives infinity.
pub fn mean_poisson_deviance(y: &[f64], mu: &[f64]) -> f64 {
    mean(
        y.iter().zip(mu).map(|(&y, &m)| poisson_unit_deviance(y, m)),
        y.len(),
    )
}

/// The deviance of the true expected counts (the generator's truth): the best
/// any model can do in expectation.
pub fn oracle_deviance(y: &[f64], mu_true: &[f64]) -> f64 {
    mean_poisson_deviance(y, mu_true)
}

/// D² = 1 − D(model)/D(null), the null model predicting `train_mean` for all.
pub fn d2(y: &[f64], mu: &[f64], train_mean: f64) -> f64 {
    let null: Vec<f64> = vec![train_mean; y.len()];
    1.0 - mean_poisson_deviance(y, mu) / mean_poisson_deviance(y, &null)
}

/// A count prediction is implausible above this multiple of the largest
/// training label (or when it is negative or not finite).
pub const PLAUSIBLE_FACTOR: f64 = 10.0;

/// Whether a model's predictions stay in a plausible range: for counts
/// `[0, PLAUSIBLE_FACTOR × max(training label, 1)]`, for probabilities `[0, 1]`.
/// A log-linear model extrapolating beyond its training data shows up here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionCheck {
    /// Largest prediction (NaN when any is NaN).
    pub max_prediction: f64,
    /// Upper end of the plausible range.
    pub limit: f64,
    /// Predictions outside `[0, limit]` or not finite.
    pub implausible: usize,
}

impl PredictionCheck {
    /// Checks count predictions against the largest training label.
    pub fn counts(pred: &[f64], train_label_max: f64) -> Self {
        Self::within(pred, PLAUSIBLE_FACTOR * train_label_max.max(1.0))
    }

    /// Checks probabilities.
    pub fn probabilities(pred: &[f64]) -> Self {
        Self::within(pred, 1.0)
    }

    fn within(pred: &[f64], limit: f64) -> Self {
        let implausible = pred
            .iter()
            .filter(|&&p| !(p.is_finite() && (0.0..=limit).contains(&p)))
            .count();
        let max_prediction = pred.iter().copied().fold(f64::NEG_INFINITY, |m, p| {
            if p.is_nan() || m.is_nan() {
                f64::NAN
            } else {
                m.max(p)
            }
        });
        Self {
            max_prediction,
            limit,
            implausible,
        }
    }

    /// True when every prediction is plausible.
    pub fn ok(&self) -> bool {
        self.implausible == 0
    }

    /// A one-line warning, or `None` when every prediction is plausible.
    pub fn warning(&self, model: &str) -> Option<String> {
        (!self.ok()).then(|| {
            format!(
                "warning: {model}: {} prediction(s) outside the plausible range [0, {}] \
                 (largest {:.4e}); the model extrapolates beyond its training data",
                self.implausible, self.limit, self.max_prediction
            )
        })
    }
}

/// Mean absolute error.
pub fn mae(y: &[f64], pred: &[f64]) -> f64 {
    mean(y.iter().zip(pred).map(|(a, b)| (a - b).abs()), y.len())
}

/// Root mean squared error.
pub fn rmse(y: &[f64], pred: &[f64]) -> f64 {
    mean(y.iter().zip(pred).map(|(a, b)| (a - b) * (a - b)), y.len()).sqrt()
}

/// Brier score (mean squared error of probabilities against 0/1 labels).
pub fn brier(y: &[f64], p: &[f64]) -> f64 {
    mean(y.iter().zip(p).map(|(a, b)| (a - b) * (a - b)), y.len())
}

/// Mean log-loss of probabilities (clipped to [1e-15, 1 − 1e-15]).
pub fn log_loss(y: &[f64], p: &[f64]) -> f64 {
    mean(
        y.iter().zip(p).map(|(&y, &p)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        }),
        y.len(),
    )
}

fn mean(it: impl Iterator<Item = f64>, n: usize) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        it.sum::<f64>() / n as f64
    }
}

/// Average ranks (1-based) with ties sharing their mean rank.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman rank correlation (Pearson correlation of average ranks).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// Area under the ROC curve of `score` for 0/1 labels `y` (Mann–Whitney with
/// average ranks for ties, as scikit-learn's `roc_auc_score`). `NaN` when one
/// class is absent.
pub fn auc(y: &[f64], score: &[f64]) -> f64 {
    let r = ranks(score);
    let n_pos = y.iter().filter(|&&v| v > 0.5).count() as f64;
    let n_neg = y.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return f64::NAN;
    }
    let sum_pos: f64 = y
        .iter()
        .zip(&r)
        .filter(|(v, _)| **v > 0.5)
        .map(|(_, r)| r)
        .sum();
    (sum_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// Row indices ordered by prediction, highest first (stable for ties).
pub(crate) fn by_prediction_desc(pred: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pred.len()).collect();
    order.sort_by(|&a, &b| pred[b].total_cmp(&pred[a]));
    order
}

/// Share of the total observed count held by the `ceil(fraction · n)` rows
/// with the highest predictions.
pub fn top_share(y: &[f64], pred: &[f64], fraction: f64) -> f64 {
    let total: f64 = y.iter().sum();
    if y.is_empty() || total == 0.0 {
        return f64::NAN;
    }
    let k = ((fraction * y.len() as f64).ceil() as usize).min(y.len());
    by_prediction_desc(pred)[..k]
        .iter()
        .map(|&i| y[i])
        .sum::<f64>()
        / total
}

/// One calibration group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Rows in the group.
    pub n: usize,
    /// Smallest prediction in the group.
    pub pred_min: f64,
    /// Largest prediction in the group.
    pub pred_max: f64,
    /// Mean prediction.
    pub mean_pred: f64,
    /// Mean observed value.
    pub mean_obs: f64,
}

/// Calibration by `groups` quantile groups of the prediction (10 = deciles):
/// rows sorted by prediction ascending, group `g` holds rows
/// `g·n/groups .. (g+1)·n/groups`.
pub fn calibration(y: &[f64], pred: &[f64], groups: usize) -> Vec<CalibrationBin> {
    let n = y.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| pred[a].total_cmp(&pred[b]));
    (0..groups)
        .filter_map(|g| {
            let rows = &order[g * n / groups..(g + 1) * n / groups];
            if rows.is_empty() {
                return None;
            }
            let k = rows.len() as f64;
            Some(CalibrationBin {
                n: rows.len(),
                pred_min: pred[rows[0]],
                pred_max: pred[rows[rows.len() - 1]],
                mean_pred: rows.iter().map(|&i| pred[i]).sum::<f64>() / k,
                mean_obs: rows.iter().map(|&i| y[i]).sum::<f64>() / k,
            })
        })
        .collect()
}

/// All count metrics of one model on one test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountReport {
    /// Mean Poisson deviance.
    pub deviance: f64,
    /// Deviance explained against the training mean.
    pub d2: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Spearman correlation of prediction and outcome.
    pub spearman: f64,
    /// Share of visits captured by the top 10 % predicted.
    pub top10_share: f64,
    /// Calibration by decile of prediction.
    pub calibration: Vec<CalibrationBin>,
}

impl CountReport {
    /// Computes every count metric.
    pub fn new(y: &[f64], mu: &[f64], train_mean: f64) -> Self {
        Self {
            deviance: mean_poisson_deviance(y, mu),
            d2: d2(y, mu, train_mean),
            mae: mae(y, mu),
            rmse: rmse(y, mu),
            spearman: spearman(y, mu),
            top10_share: top_share(y, mu, 0.1),
            calibration: calibration(y, mu, 10),
        }
    }
}

/// All metrics of a probability model on one test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// ROC AUC.
    pub auc: f64,
    /// Brier score.
    pub brier: f64,
    /// Log-loss.
    pub log_loss: f64,
    /// Calibration by decile of predicted probability.
    pub calibration: Vec<CalibrationBin>,
}

impl ClassReport {
    /// Computes every classification metric.
    pub fn new(y: &[f64], p: &[f64]) -> Self {
        Self {
            auc: auc(y, p),
            brier: brier(y, p),
            log_loss: log_loss(y, p),
            calibration: calibration(y, p, 10),
        }
    }
}

/// 0/1 labels: 1 where `y >= threshold` (see [`top_threshold`]).
pub fn top_labels(y: &[f64], threshold: f64) -> Vec<f64> {
    y.iter()
        .map(|&v| f64::from(u8::from(v >= threshold)))
        .collect()
}

/// The smallest count `t` such that at most `fraction · n` rows have `y >= t`
/// (rounded up); with heavy ties at the boundary the positive class is smaller
/// than `fraction`, never larger. At least one row is positive when `y` has a
/// positive value.
pub fn top_threshold(y: &[f64], fraction: f64) -> f64 {
    let mut s: Vec<f64> = y.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    let k = ((fraction * s.len() as f64).ceil() as usize).clamp(1, s.len().max(1));
    if s.is_empty() {
        return f64::INFINITY;
    }
    // Candidate s[k-1]; if its tie group reaches past k rows, go one value up.
    let cand = s[k - 1];
    let count_ge = s.iter().filter(|&&v| v >= cand).count();
    if count_ge <= k {
        cand
    } else {
        // Next larger distinct value.
        s.iter()
            .rev()
            .find(|&&v| v > cand)
            .copied()
            .unwrap_or(f64::INFINITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_values() {
        let y = [0.0, 1.0, 2.0, 4.0];
        let mu = [0.5, 1.0, 1.5, 3.0];
        // 2*[0 - (0 - .5)] = 1; 0; 2*[2 ln(4/3) - .5] = 0.150728; 2*[4 ln(4/3) - 1] = 0.301456
        let dev = (1.0
            + 0.0
            + 2.0 * (2.0 * (4.0f64 / 3.0).ln() - 0.5)
            + 2.0 * (4.0 * (4.0f64 / 3.0).ln() - 1.0))
            / 4.0;
        assert!((mean_poisson_deviance(&y, &mu) - dev).abs() < 1e-15);
        assert!((dev - 0.36304617).abs() < 1e-7);
        assert!((mae(&y, &mu) - 0.5).abs() < 1e-15);
        assert!((rmse(&y, &mu) - (1.5f64 / 4.0).sqrt()).abs() < 1e-15);
        assert!((spearman(&y, &mu) - 1.0).abs() < 1e-15);
        // top 25% = 1 row (the 4) out of total 7.
        assert!((top_share(&y, &mu, 0.25) - 4.0 / 7.0).abs() < 1e-15);
        assert!((oracle_deviance(&y, &y)).abs() < 1e-15);
        let null = mean_poisson_deviance(&y, &[1.75; 4]);
        assert!((d2(&y, &mu, 1.75) - (1.0 - dev / null)).abs() < 1e-15);
    }

    #[test]
    fn auc_with_ties_matches_sklearn() {
        // sklearn.metrics.roc_auc_score([0,0,1,1,0,1],[.1,.4,.35,.8,.4,.4]) = 0.6666666666666667
        let y = [0.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        let s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4];
        assert!((auc(&y, &s) - 0.6666666666666667).abs() < 1e-12);
        assert!(auc(&[1.0, 1.0], &[0.1, 0.2]).is_nan());
        assert!((brier(&[1.0, 0.0], &[0.75, 0.25]) - 0.0625).abs() < 1e-15);
    }

    #[test]
    fn spearman_with_ties() {
        // scipy.stats.spearmanr([1,2,2,3],[1,3,2,4]).correlation = 0.9486832980505138
        let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]);
        assert!((r - 0.9486832980505138).abs() < 1e-12);
    }

    #[test]
    fn calibration_groups() {
        let y: Vec<f64> = (0..20).map(|i| f64::from(i % 3)).collect();
        let p: Vec<f64> = (0..20).map(f64::from).collect();
        let c = calibration(&y, &p, 10);
        assert_eq!(c.len(), 10);
        assert_eq!(c[0].n, 2);
        assert_eq!(c[0].mean_pred, 0.5);
        assert_eq!(c[0].mean_obs, 0.5);
        assert_eq!(c[9].pred_max, 19.0);
    }

    #[test]
    fn top_threshold_never_exceeds_fraction() {
        let y = [0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 3.0, 3.0, 5.0, 9.0];
        assert_eq!(top_threshold(&y, 0.2), 5.0);
        assert_eq!(top_threshold(&y, 0.1), 9.0);
        // 0.3 → 3 rows; values >= 3 are 4 rows, so step up to 5 (2 rows).
        assert_eq!(top_threshold(&y, 0.3), 5.0);
        assert_eq!(top_labels(&y, 5.0).iter().sum::<f64>(), 2.0);
    }
}
