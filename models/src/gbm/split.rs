//! Finding the best split of a leaf from its histogram.
//!
//! For every used feature and every boundary between value bins, the rows
//! with missing values are tried on both sides (when there are any), and the
//! split maximising the second-order gain
//! `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)` wins, subject to the minimum rows
//! and minimum hessian sum per child. "All values left, missing right" is a
//! candidate too. Ties keep the first candidate in (feature, bin) order, so
//! the result is deterministic. A feature without missing training values
//! sends missing values at prediction time to the child with more rows.

use super::histogram::{BinStat, Layout};

/// Constraints and regularisation for split search.
#[derive(Debug, Clone, Copy)]
pub struct SplitRules {
    /// L2 regularisation λ on leaf values.
    pub lambda_l2: f64,
    /// Minimum rows per child.
    pub min_data_in_leaf: u32,
    /// Minimum hessian sum per child.
    pub min_sum_hessian: f64,
    /// Minimum gain for a split.
    pub min_gain_to_split: f64,
}

/// The chosen split of a leaf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitInfo {
    /// Feature index.
    pub feature: usize,
    /// Value bins `<= bin` go left.
    pub bin: u8,
    /// Where missing values go.
    pub default_left: bool,
    /// Gain.
    pub gain: f64,
    /// Sums of the left child.
    pub left: BinStat,
    /// Sums of the right child.
    pub right: BinStat,
}

#[inline]
fn score(s: BinStat, lambda: f64) -> f64 {
    s.g * s.g / (s.h + lambda)
}

/// Optimal leaf value `−G/(H+λ)` (before shrinkage).
#[inline]
pub fn leaf_value(s: BinStat, lambda: f64) -> f64 {
    -s.g / (s.h + lambda)
}

/// Best split of a leaf with sums `total` over the used features, if any
/// split has positive gain above `min_gain_to_split`.
pub fn best_split(
    hist: &[BinStat],
    layout: &Layout,
    used: &[bool],
    total: BinStat,
    rules: &SplitRules,
) -> Option<SplitInfo> {
    let parent = score(total, rules.lambda_l2);
    let mut best: Option<SplitInfo> = None;
    let ok = |s: BinStat| s.n >= rules.min_data_in_leaf && s.h >= rules.min_sum_hessian;
    for (j, _) in used.iter().enumerate().filter(|(_, u)| **u) {
        let fh = layout.feature(hist, j);
        let (values, miss) = fh.split_at(fh.len() - 1);
        let miss = miss[0];
        let mut acc = BinStat::default();
        let consider =
            |bin: usize, left: BinStat, default_left: bool, best: &mut Option<SplitInfo>| {
                let right = total.minus(left);
                if !ok(left) || !ok(right) {
                    return;
                }
                let gain = score(left, rules.lambda_l2) + score(right, rules.lambda_l2) - parent;
                if gain > rules.min_gain_to_split && best.is_none_or(|b| gain > b.gain) {
                    *best = Some(SplitInfo {
                        feature: j,
                        bin: bin as u8,
                        default_left,
                        gain,
                        left,
                        right,
                    });
                }
            };
        for (b, v) in values.iter().enumerate() {
            acc = acc.plus(*v);
            if acc.n + miss.n == total.n && miss.n == 0 {
                break; // everything is left already
            }
            if b + 1 < values.len() {
                if miss.n == 0 {
                    let right_n = total.n - acc.n;
                    consider(b, acc, acc.n >= right_n, &mut best);
                } else {
                    consider(b, acc, false, &mut best);
                    consider(b, acc.plus(miss), true, &mut best);
                }
            } else if miss.n > 0 {
                consider(b, acc, false, &mut best);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(g: f64, h: f64, n: u32) -> BinStat {
        BinStat { g, h, n }
    }

    #[test]
    fn finds_the_obvious_split() {
        // One feature, 3 value bins + missing: bin 0 has negative gradients.
        let hist = [
            st(-10.0, 5.0, 5),
            st(4.0, 5.0, 5),
            st(6.0, 5.0, 5),
            st(0.0, 0.0, 0),
        ];
        let layout = Layout::new(&[4]);
        let total = hist.iter().fold(BinStat::default(), |a, b| a.plus(*b));
        let rules = SplitRules {
            lambda_l2: 0.0,
            min_data_in_leaf: 1,
            min_sum_hessian: 1e-3,
            min_gain_to_split: 0.0,
        };
        let s = best_split(&hist, &layout, &[true], total, &rules).unwrap();
        assert_eq!((s.feature, s.bin), (0, 0));
        assert!((s.gain - (100.0 / 5.0 + 100.0 / 10.0 - 0.0)).abs() < 1e-12);
        assert!(!s.default_left); // right child has more rows
        let strict = SplitRules {
            min_data_in_leaf: 6,
            ..rules
        };
        // 5 | 10 and 10 | 5 both leave a child with 5 < 6 rows.
        assert!(best_split(&hist, &layout, &[true], total, &strict).is_none());
    }

    #[test]
    fn missing_values_choose_their_side() {
        // Missing rows look like bin 0 rows: they should go left with bin 0.
        let hist = [st(-10.0, 5.0, 5), st(10.0, 5.0, 5), st(-10.0, 5.0, 5)];
        let layout = Layout::new(&[3]);
        let total = hist.iter().fold(BinStat::default(), |a, b| a.plus(*b));
        let rules = SplitRules {
            lambda_l2: 1.0,
            min_data_in_leaf: 1,
            min_sum_hessian: 1e-3,
            min_gain_to_split: 0.0,
        };
        let s = best_split(&hist, &layout, &[true], total, &rules).unwrap();
        assert_eq!((s.bin, s.default_left), (0, true));
        assert_eq!(s.left, st(-20.0, 10.0, 10));
    }
}
