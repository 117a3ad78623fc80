//! The modelling data set: plain column-major `f64` features, count labels,
//! optional weights, and random k-fold splits.
//!
//! Missing feature values are `NaN`; booleans are `0.0`/`1.0`. Temporal splits
//! (train on one `as_of`, test on the next) are made by the caller, who builds
//! two data sets; [`kfold`] makes seeded random folds.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::{ModelError, Result};

/// A feature matrix with labels. Column `j` is `features[j]`, one value per row.
#[derive(Debug, Clone)]
pub struct Dataset {
    names: Vec<String>,
    features: Vec<Vec<f64>>,
    labels: Vec<f64>,
    weights: Option<Vec<f64>>,
    /// Per feature: unbounded count feature that the linear models enter as
    /// `ln(1 + x)` (see [`Dataset::with_log1p`]).
    log1p: Vec<bool>,
    /// Per row, a known term added to the linear predictor (e.g. log
    /// person-time in a count model); `None` = 0.
    offset: Option<Vec<f64>>,
}

impl Dataset {
    /// Checks that every column has one value per label, names are unique,
    /// labels are finite and non-negative and weights finite and positive.
    pub fn new(
        names: Vec<String>,
        features: Vec<Vec<f64>>,
        labels: Vec<f64>,
        weights: Option<Vec<f64>>,
    ) -> Result<Self> {
        if names.len() != features.len() {
            return Err(ModelError::InvalidData(format!(
                "{} feature names for {} feature columns",
                names.len(),
                features.len()
            )));
        }
        let n = labels.len();
        for (name, col) in names.iter().zip(&features) {
            if col.len() != n {
                return Err(ModelError::InvalidData(format!(
                    "feature `{name}` has {} values but there are {n} labels",
                    col.len()
                )));
            }
            if let Some(row) = col.iter().position(|v| v.is_infinite()) {
                return Err(ModelError::InvalidData(format!(
                    "feature `{name}` is infinite at row {row}; use NaN for missing values"
                )));
            }
        }
        let mut sorted: Vec<&String> = names.iter().collect();
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(ModelError::InvalidData(format!(
                "feature name `{}` appears twice",
                w[0]
            )));
        }
        if let Some(row) = labels.iter().position(|y| !(y.is_finite() && *y >= 0.0)) {
            return Err(ModelError::InvalidData(format!(
                "label at row {row} is {}; labels must be finite and >= 0",
                labels[row]
            )));
        }
        if let Some(w) = &weights {
            if w.len() != n {
                return Err(ModelError::InvalidData(format!(
                    "{} weights for {n} labels",
                    w.len()
                )));
            }
            if let Some(row) = w.iter().position(|w| !(w.is_finite() && *w > 0.0)) {
                return Err(ModelError::InvalidData(format!(
                    "weight at row {row} is {}; weights must be finite and > 0",
                    w[row]
                )));
            }
        }
        Ok(Self {
            log1p: vec![false; names.len()],
            offset: None,
            names,
            features,
            labels,
            weights,
        })
    }

    /// Marks the features `names` as unbounded non-negative counts: the
    /// linear models (GLMs, logistic) enter them as `ln(1 + x)` so that a
    /// person with far more past events than anyone in training does not get
    /// an exponentially large prediction. Refuses an unknown name or a
    /// negative value, naming the column.
    pub fn with_log1p<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self> {
        for name in names {
            let name = name.as_ref();
            let j = self.feature_index(name).ok_or_else(|| {
                ModelError::InvalidData(format!(
                    "log1p: no feature `{name}` (features: {})",
                    self.names.join(", ")
                ))
            })?;
            if let Some(row) = self.features[j].iter().position(|v| *v < 0.0) {
                return Err(ModelError::InvalidData(format!(
                    "log1p: feature `{name}` is {} at row {row}; ln(1 + x) needs counts >= 0",
                    self.features[j][row]
                )));
            }
            self.log1p[j] = true;
        }
        Ok(self)
    }

    /// Sets the offset: a known term added to each row's linear predictor
    /// (for a log-link count model, log exposure such as log person-years).
    /// Used by the GLMs and logistic regression; refuses a non-finite value.
    pub fn with_offset(mut self, offset: Vec<f64>) -> Result<Self> {
        if offset.len() != self.n_rows() {
            return Err(ModelError::InvalidData(format!(
                "{} offsets for {} rows",
                offset.len(),
                self.n_rows()
            )));
        }
        if let Some(row) = offset.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::InvalidData(format!(
                "offset at row {row} is {}; offsets must be finite (log of a positive exposure)",
                offset[row]
            )));
        }
        self.offset = Some(offset);
        Ok(self)
    }

    /// The offsets, if any.
    pub fn offsets(&self) -> Option<&[f64]> {
        self.offset.as_deref()
    }

    /// Offset of row `i` (0 without offsets).
    pub fn offset(&self, i: usize) -> f64 {
        self.offset.as_ref().map_or(0.0, |o| o[i])
    }

    /// Whether feature `j` enters the linear models as `ln(1 + x)`.
    pub fn is_log1p(&self, j: usize) -> bool {
        self.log1p[j]
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }
    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }
    /// Feature names, in column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// Column `j`.
    pub fn column(&self, j: usize) -> &[f64] {
        &self.features[j]
    }
    /// All columns.
    pub fn columns(&self) -> &[Vec<f64>] {
        &self.features
    }
    /// Labels (counts, or 0/1 for classification).
    pub fn labels(&self) -> &[f64] {
        &self.labels
    }
    /// Row weights, if any.
    pub fn weights(&self) -> Option<&[f64]> {
        self.weights.as_deref()
    }
    /// Weight of row `i` (1 without weights).
    pub fn weight(&self, i: usize) -> f64 {
        self.weights.as_ref().map_or(1.0, |w| w[i])
    }
    /// Index of the feature called `name`.
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The same features with other labels (e.g. a 0/1 top-decile indicator).
    pub fn with_labels(&self, labels: Vec<f64>) -> Result<Self> {
        let mut d = Self::new(
            self.names.clone(),
            self.features.clone(),
            labels,
            self.weights.clone(),
        )?;
        d.log1p.clone_from(&self.log1p);
        d.offset.clone_from(&self.offset);
        Ok(d)
    }

    /// The rows `rows`, in that order.
    pub fn subset(&self, rows: &[usize]) -> Self {
        let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<_>>();
        Self {
            names: self.names.clone(),
            features: self.features.iter().map(|c| pick(c)).collect(),
            labels: pick(&self.labels),
            weights: self.weights.as_deref().map(pick),
            log1p: self.log1p.clone(),
            offset: self.offset.as_deref().map(pick),
        }
    }

    /// Row `i` as a vector of feature values.
    pub fn row(&self, i: usize) -> Vec<f64> {
        self.features.iter().map(|c| c[i]).collect()
    }
}

/// One fold of a k-fold split: row indices for training and for testing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Rows to train on, ascending.
    pub train: Vec<usize>,
    /// Rows held out, ascending.
    pub test: Vec<usize>,
}

/// Random k-fold split of `n_rows` rows, deterministic for `seed`. Every row is
/// in exactly one test fold; fold sizes differ by at most one.
pub fn kfold(n_rows: usize, k: usize, seed: u64) -> Result<Vec<Fold>> {
    if k < 2 || k > n_rows {
        return Err(crate::error::invalid_param(
            "k",
            format!("need 2 <= k <= number of rows ({n_rows}), got {k}"),
        ));
    }
    let mut order: Vec<usize> = (0..n_rows).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut fold_of = vec![0usize; n_rows];
    for (pos, &row) in order.iter().enumerate() {
        fold_of[row] = pos % k;
    }
    Ok((0..k)
        .map(|f| Fold {
            train: (0..n_rows).filter(|&i| fold_of[i] != f).collect(),
            test: (0..n_rows).filter(|&i| fold_of[i] == f).collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kfold_partitions_rows() {
        let folds = kfold(10, 3, 7).unwrap();
        let mut all: Vec<usize> = folds.iter().flat_map(|f| f.test.clone()).collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        for f in &folds {
            assert_eq!(f.train.len() + f.test.len(), 10);
            assert!(f.test.len() == 3 || f.test.len() == 4);
        }
        assert_eq!(folds, kfold(10, 3, 7).unwrap());
        assert_ne!(folds, kfold(10, 3, 8).unwrap());
        assert!(kfold(10, 1, 0).is_err());
    }

    #[test]
    fn dataset_checks_shapes() {
        let ok = Dataset::new(
            vec!["a".into()],
            vec![vec![1.0, f64::NAN]],
            vec![0.0, 2.0],
            None,
        );
        assert!(ok.is_ok());
        let bad = Dataset::new(vec!["a".into()], vec![vec![1.0]], vec![0.0, 2.0], None);
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("feature `a` has 1 values")
        );
        let neg = Dataset::new(vec!["a".into()], vec![vec![1.0]], vec![-1.0], None);
        assert!(neg.is_err());
        let dup = Dataset::new(
            vec!["a".into(), "a".into()],
            vec![vec![1.0], vec![2.0]],
            vec![1.0],
            None,
        );
        assert!(dup.unwrap_err().to_string().contains("twice"));
    }
}
