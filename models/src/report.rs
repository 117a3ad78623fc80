//! The numbers behind a model report (`report.html` of `caregap model fit`
//! and `model bench`): calibration by decile ([`crate::metrics::calibration`]),
//! observed against predicted per group ([`group_means`]), the capture curve
//! behind lift and top-10 % capture ([`capture_curve`]) and percentile
//! bootstrap confidence intervals of the metrics ([`bootstrap`]). Pure: the
//! drawing and the files are the caller's.
//!
//! **Bootstrap.** Resample `b` draws `n` row indices uniformly with
//! replacement from a ChaCha8 generator seeded with `seed` on stream `b`, so
//! the resamples depend only on `(n, seed, b)`: the same on any number of
//! threads, and the same for two calls with the same seed (a classifier's
//! metrics on 0/1 labels and its ranking metrics on counts use the same
//! resamples). The interval is the percentile interval of the resampled
//! values (linear interpolation between order statistics, numpy's default);
//! resamples where a metric is not finite (e.g. AUC of a resample without a
//! positive row) are left out for that metric and counted.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::metrics;

/// Resamples used when the caller does not choose.
pub const DEFAULT_RESAMPLES: usize = 200;

/// Observed and predicted means of one group of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMeans<K> {
    /// The group.
    pub key: K,
    /// Rows in the group.
    pub n: usize,
    /// Mean observed value.
    pub mean_obs: f64,
    /// Mean prediction.
    pub mean_pred: f64,
}

/// Mean observed and predicted value per distinct `keys[i]`, in key order.
pub fn group_means<K: Ord + Clone>(y: &[f64], pred: &[f64], keys: &[K]) -> Vec<GroupMeans<K>> {
    let mut acc: BTreeMap<&K, (usize, f64, f64)> = BTreeMap::new();
    for ((k, &o), &p) in keys.iter().zip(y).zip(pred) {
        let e = acc.entry(k).or_insert((0, 0.0, 0.0));
        e.0 += 1;
        e.1 += o;
        e.2 += p;
    }
    acc.into_iter()
        .map(|(k, (n, o, p))| GroupMeans {
            key: k.clone(),
            n,
            mean_obs: o / n as f64,
            mean_pred: p / n as f64,
        })
        .collect()
}

/// Width of the age bands of the report, in years; the last band is open.
pub const AGE_BAND_WIDTH: u32 = 10;
/// Lower end of the open top age band.
pub const AGE_BAND_TOP: u32 = 90;

/// The report's age band of `age` in years: its lower end (0, 10, …, 90 for
/// 90 and over); `None` when the age is missing or negative.
pub fn age_band(age: f64) -> Option<u32> {
    if !(age >= 0.0) {
        return None;
    }
    let lower = (age / f64::from(AGE_BAND_WIDTH)).floor() as u32 * AGE_BAND_WIDTH;
    Some(lower.min(AGE_BAND_TOP))
}

/// The label of an age band from [`age_band`]: `"30–39"`, `"90+"`, `"missing"`.
pub fn age_band_label(band: Option<u32>) -> String {
    match band {
        None => "missing".into(),
        Some(b) if b >= AGE_BAND_TOP => format!("{b}+"),
        Some(b) => format!("{b}–{}", b + AGE_BAND_WIDTH - 1),
    }
}

/// One point of the capture (cumulative gains) curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CapturePoint {
    /// Share of rows taken, highest predictions first.
    pub fraction: f64,
    /// Share of the total observed value those rows hold.
    pub captured: f64,
    /// `captured / fraction`: how many times better than a random choice
    /// (`NaN` at fraction 0).
    pub lift: f64,
}

/// The capture curve at fractions `0, 1/points, …, 1`: rows ordered by
/// prediction, highest first (ties by row order, as
/// [`metrics::top_share`]), and at each fraction `f` the share of the total
/// observed value held by the first `ceil(f · n)` rows. The point at 0.1 is
/// the top-10 % share when `points` is a multiple of 10.
pub fn capture_curve(y: &[f64], pred: &[f64], points: usize) -> Vec<CapturePoint> {
    let n = y.len();
    let total: f64 = y.iter().sum();
    let order = metrics::by_prediction_desc(pred);
    let mut prefix = Vec::with_capacity(n + 1);
    let mut s = 0.0;
    prefix.push(0.0);
    for &i in &order {
        s += y[i];
        prefix.push(s);
    }
    (0..=points.max(1))
        .map(|k| {
            let fraction = k as f64 / points.max(1) as f64;
            let rows = ((fraction * n as f64).ceil() as usize).min(n);
            let captured = if total > 0.0 {
                prefix[rows] / total
            } else {
                f64::NAN
            };
            CapturePoint {
                fraction,
                captured,
                lift: if k == 0 {
                    f64::NAN
                } else {
                    captured / fraction
                },
            }
        })
        .collect()
}

/// A metric the report gives a confidence interval for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Mean Poisson deviance.
    Deviance,
    /// Deviance explained against the training mean.
    D2,
    /// Mean absolute error.
    Mae,
    /// Root mean squared error.
    Rmse,
    /// Spearman correlation.
    Spearman,
    /// Share of the observed total held by the top 10 % predicted.
    Top10Share,
    /// ROC AUC (0/1 labels).
    Auc,
    /// Brier score (0/1 labels).
    Brier,
    /// Log-loss (0/1 labels).
    LogLoss,
}

impl Metric {
    /// The metrics of count predictions.
    pub const COUNT: [Metric; 6] = [
        Metric::Deviance,
        Metric::D2,
        Metric::Mae,
        Metric::Rmse,
        Metric::Spearman,
        Metric::Top10Share,
    ];
    /// The metrics of probabilities of 0/1 labels.
    pub const BINARY: [Metric; 3] = [Metric::Auc, Metric::Brier, Metric::LogLoss];

    /// The name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Deviance => "deviance",
            Metric::D2 => "d2",
            Metric::Mae => "mae",
            Metric::Rmse => "rmse",
            Metric::Spearman => "spearman",
            Metric::Top10Share => "top10_share",
            Metric::Auc => "auc",
            Metric::Brier => "brier",
            Metric::LogLoss => "log_loss",
        }
    }

    /// The metric on `(y, pred)`; `train_mean` is D²'s null prediction.
    pub fn value(self, y: &[f64], pred: &[f64], train_mean: f64) -> f64 {
        match self {
            Metric::Deviance => metrics::mean_poisson_deviance(y, pred),
            Metric::D2 => metrics::d2(y, pred, train_mean),
            Metric::Mae => metrics::mae(y, pred),
            Metric::Rmse => metrics::rmse(y, pred),
            Metric::Spearman => metrics::spearman(y, pred),
            Metric::Top10Share => metrics::top_share(y, pred, 0.1),
            Metric::Auc => metrics::auc(y, pred),
            Metric::Brier => metrics::brier(y, pred),
            Metric::LogLoss => metrics::log_loss(y, pred),
        }
    }
}

/// How the bootstrap runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of resamples (0: no intervals, only the estimates).
    pub resamples: usize,
    /// Seed of the resamples.
    pub seed: u64,
    /// Coverage of the interval (0.95).
    pub level: f64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            resamples: DEFAULT_RESAMPLES,
            seed: 42,
            level: 0.95,
        }
    }
}

/// A metric with its bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The metric.
    pub metric: Metric,
    /// The metric on all rows.
    pub estimate: f64,
    /// Lower end of the percentile interval (`NaN` without resamples).
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Resamples where the metric was finite (the interval's basis).
    pub resamples: usize,
}

/// Row indices of resample `b` of `n` rows for `seed` (see the module doc).
pub fn resample_rows(n: usize, seed: u64, b: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(b as u64);
    (0..n).map(|_| rng.random_range(0..n.max(1))).collect()
}

/// The `p`-quantile of sorted `s` by linear interpolation (numpy's default).
fn quantile_sorted(s: &[f64], p: f64) -> f64 {
    match s.len() {
        0 => f64::NAN,
        1 => s[0],
        m => {
            let h = (m - 1) as f64 * p;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(m - 1);
            s[lo] + (h - lo as f64) * (s[hi] - s[lo])
        }
    }
}

/// Each metric of `(y, pred)` with its percentile bootstrap interval
/// (resamples in parallel; the result does not depend on the thread count).
pub fn bootstrap(
    y: &[f64],
    pred: &[f64],
    which: &[Metric],
    train_mean: f64,
    cfg: &BootstrapConfig,
) -> Vec<Interval> {
    let n = y.len();
    let per_resample: Vec<Vec<f64>> = (0..cfg.resamples)
        .into_par_iter()
        .map(|b| {
            let rows = resample_rows(n, cfg.seed, b);
            let ys: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
            let ps: Vec<f64> = rows.iter().map(|&i| pred[i]).collect();
            which
                .iter()
                .map(|m| m.value(&ys, &ps, train_mean))
                .collect()
        })
        .collect();
    let tail = (1.0 - cfg.level) / 2.0;
    which
        .iter()
        .enumerate()
        .map(|(j, &metric)| {
            let mut s: Vec<f64> = per_resample
                .iter()
                .map(|v| v[j])
                .filter(|v| v.is_finite())
                .collect();
            s.sort_by(f64::total_cmp);
            Interval {
                metric,
                estimate: metric.value(y, pred, train_mean),
                low: quantile_sorted(&s, tail),
                high: quantile_sorted(&s, 1.0 - tail),
                resamples: s.len(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::calibration;

    fn data(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pred: Vec<f64> = (0..n).map(|_| rng.random_range(0.2..8.0)).collect();
        let y: Vec<f64> = pred
            .iter()
            .map(|&m: &f64| (m + rng.random_range(-2.0..2.0_f64)).max(0.0).round())
            .collect();
        (y, pred)
    }

    /// Decile calibration against a slow reference: each row's decile from
    /// its rank (number of rows with a smaller prediction, ties by index).
    #[test]
    fn calibration_matches_slow_reference() {
        for &n in &[7usize, 10, 103, 1000] {
            let (y, pred) = data(n, n as u64);
            let mut sums = vec![(0usize, 0.0, 0.0); 10];
            for i in 0..n {
                let rank = (0..n)
                    .filter(|&j| pred[j] < pred[i] || (pred[j] == pred[i] && j < i))
                    .count();
                // Group g holds ranks g·n/10 .. (g+1)·n/10.
                let g = (0..10)
                    .find(|&g| rank >= g * n / 10 && rank < (g + 1) * n / 10)
                    .unwrap();
                sums[g].0 += 1;
                sums[g].1 += pred[i];
                sums[g].2 += y[i];
            }
            let expected: Vec<_> = sums.into_iter().filter(|s| s.0 > 0).collect();
            let got = calibration(&y, &pred, 10);
            assert_eq!(got.len(), expected.len(), "n = {n}");
            for (b, (k, p, o)) in got.iter().zip(expected) {
                assert_eq!(b.n, k);
                assert!((b.mean_pred - p / k as f64).abs() < 1e-12);
                assert!((b.mean_obs - o / k as f64).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn group_means_by_key() {
        let y = [1.0, 2.0, 3.0, 4.0, 10.0];
        let p = [2.0, 2.0, 2.0, 6.0, 1.0];
        let k = [Some(20), Some(10), Some(10), Some(20), None];
        let g = group_means(&y, &p, &k);
        assert_eq!(g.len(), 3);
        assert_eq!(g[0].key, None);
        assert_eq!((g[0].n, g[0].mean_obs, g[0].mean_pred), (1, 10.0, 1.0));
        assert_eq!(g[1].key, Some(10));
        assert_eq!((g[1].n, g[1].mean_obs, g[1].mean_pred), (2, 2.5, 2.0));
        assert_eq!((g[2].n, g[2].mean_obs, g[2].mean_pred), (2, 2.5, 4.0));
    }

    #[test]
    fn age_bands() {
        assert_eq!(age_band(0.0), Some(0));
        assert_eq!(age_band(39.99), Some(30));
        assert_eq!(age_band(40.0), Some(40));
        assert_eq!(age_band(104.0), Some(90));
        assert_eq!(age_band(f64::NAN), None);
        assert_eq!(age_band(-1.0), None);
        assert_eq!(age_band_label(Some(30)), "30–39");
        assert_eq!(age_band_label(Some(90)), "90+");
        assert_eq!(age_band_label(None), "missing");
    }

    #[test]
    fn capture_curve_matches_top_share_and_a_slow_reference() {
        let (y, pred) = data(537, 3);
        let c = capture_curve(&y, &pred, 20);
        assert_eq!(c.len(), 21);
        assert_eq!(c[0].captured, 0.0);
        assert!((c[20].captured - 1.0).abs() < 1e-12);
        assert_eq!(c[2].captured, metrics::top_share(&y, &pred, 0.1));
        for w in c.windows(2) {
            assert!(w[1].captured >= w[0].captured);
        }
        // Slow reference: the ceil(f·n) rows with the highest predictions.
        let total: f64 = y.iter().sum();
        for p in &c[1..] {
            let k = (p.fraction * y.len() as f64).ceil() as usize;
            let mut idx: Vec<usize> = (0..y.len()).collect();
            idx.sort_by(|&a, &b| pred[b].partial_cmp(&pred[a]).unwrap().then(a.cmp(&b)));
            let s: f64 = idx[..k].iter().map(|&i| y[i]).sum();
            assert!((p.captured - s / total).abs() < 1e-12);
            assert!((p.lift - p.captured / p.fraction).abs() < 1e-12);
        }
        // A perfect ranking captures more than a reversed one.
        let rev: Vec<f64> = pred.iter().map(|p| -p).collect();
        assert!(capture_curve(&y, &rev, 10)[1].captured < c[2].captured);
    }

    #[test]
    fn resamples_depend_on_seed_and_index_only() {
        let a = resample_rows(100, 7, 3);
        assert_eq!(a, resample_rows(100, 7, 3));
        assert_ne!(a, resample_rows(100, 7, 4));
        assert_ne!(a, resample_rows(100, 8, 3));
        assert!(a.iter().all(|&i| i < 100));
    }

    #[test]
    fn bootstrap_is_reproducible_and_covers_the_estimate() {
        let (y, pred) = data(2000, 11);
        let cfg = BootstrapConfig {
            resamples: 200,
            seed: 5,
            level: 0.95,
        };
        let which = Metric::COUNT;
        let a = bootstrap(&y, &pred, &which, 3.0, &cfg);
        let b = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| bootstrap(&y, &pred, &which, 3.0, &cfg));
        assert_eq!(a, b, "same seed, any thread count: same intervals");
        for iv in &a {
            assert_eq!(iv.estimate, iv.metric.value(&y, &pred, 3.0));
            assert!(iv.low < iv.estimate && iv.estimate < iv.high, "{iv:?}");
            assert_eq!(iv.resamples, 200);
        }
        let other = bootstrap(&y, &pred, &which, 3.0, &BootstrapConfig { seed: 6, ..cfg });
        assert_ne!(a[0].low, other[0].low);
        // The interval narrows with more rows (≈ 1/√n).
        let (y4, p4) = data(8000, 11);
        let big = bootstrap(&y4, &p4, &[Metric::Mae], 3.0, &cfg);
        assert!(big[0].high - big[0].low < 0.75 * (a[2].high - a[2].low));
    }

    #[test]
    fn bootstrap_interval_is_the_percentile_of_the_resampled_values() {
        let (y, pred) = data(300, 2);
        let cfg = BootstrapConfig {
            resamples: 41,
            seed: 1,
            level: 0.9,
        };
        let iv = &bootstrap(&y, &pred, &[Metric::Rmse], 0.0, &cfg)[0];
        let mut v: Vec<f64> = (0..41)
            .map(|b| {
                let r = resample_rows(300, 1, b);
                let ys: Vec<f64> = r.iter().map(|&i| y[i]).collect();
                let ps: Vec<f64> = r.iter().map(|&i| pred[i]).collect();
                metrics::rmse(&ys, &ps)
            })
            .collect();
        v.sort_by(f64::total_cmp);
        // 41 values: the 5 % and 95 % quantiles are the 3rd and 39th order statistics.
        assert_eq!(iv.low, v[2]);
        assert_eq!(iv.high, v[38]);
    }

    #[test]
    fn resamples_without_a_finite_metric_are_left_out() {
        // 1 positive in 50: many resamples have none and no AUC.
        let y: Vec<f64> = (0..50).map(|i| f64::from(u8::from(i == 7))).collect();
        let p: Vec<f64> = (0..50).map(|i| i as f64 / 50.0).collect();
        let cfg = BootstrapConfig {
            resamples: 100,
            ..BootstrapConfig::default()
        };
        let iv = &bootstrap(&y, &p, &[Metric::Auc], 0.0, &cfg)[0];
        assert!(iv.resamples > 0 && iv.resamples < 100, "{iv:?}");
        assert!(iv.low.is_finite() && iv.high.is_finite());
        let none = bootstrap(
            &y,
            &p,
            &[Metric::Auc],
            0.0,
            &BootstrapConfig {
                resamples: 0,
                ..cfg
            },
        );
        assert!(none[0].low.is_nan() && none[0].estimate.is_finite());
    }
}
