//! Turning a [`Dataset`] into a numeric design matrix for the linear models.
//!
//! Missing values: each feature's mean over the *training* rows replaces a
//! missing value, and a feature that had any missing value in training gets an
//! extra 0/1 column `<name>__missing` (1 where the value was missing). Both are
//! learned once, on training data, and replayed unchanged on test data; a value
//! missing at prediction time in a feature that was complete in training is
//! imputed with the mean and has no indicator. A feature constant (or entirely
//! missing) in training carries no information and would make the fit
//! singular: it is dropped, and listed in [`Design::dropped`].
//!
//! Extrapolation: each value column remembers its training range, and a value
//! outside it at prediction time is clamped to the nearest end (winsorising
//! to the training range), because a log-linear model's prediction grows
//! exponentially with a feature beyond the data that supported its slope.
//! Features marked as unbounded counts (`Dataset::with_log1p`) enter as
//! `ln(1 + x)`, named `log1p(<feature>)`, so their effect is a power of
//! `1 + x` rather than an exponential in `x`.

use serde::{Deserialize, Serialize};

use crate::data::Dataset;

/// How one input feature becomes design columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// Input feature index.
    pub feature: usize,
    /// Mean over the non-missing training values, used for missing values.
    pub fill: f64,
    /// Whether an indicator column follows the value column.
    pub indicator: bool,
    /// Smallest and largest observed training value (raw scale). A value
    /// outside at prediction time is clamped into it, so a log-linear model
    /// never extrapolates beyond the data it was fitted on. `None` in model
    /// files written before the clamp existed (no clamping then).
    #[serde(default)]
    pub range: Option<[f64; 2]>,
    /// The value column is `ln(1 + x)` (an unbounded count feature, see
    /// `Dataset::with_log1p`); its name is `log1p(<feature>)`.
    #[serde(default)]
    pub log1p: bool,
}

/// The learned feature-to-column mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Design {
    /// Used features in order.
    pub columns: Vec<ColumnSpec>,
    /// Names of the design columns, without the intercept.
    pub column_names: Vec<String>,
    /// Features dropped because they were constant or all missing in
    /// training, and design columns dropped as exact linear combinations of
    /// earlier ones (marked `(aliased)`; only by the GLMs).
    pub dropped: Vec<String>,
    /// Number of input features the design was learned on.
    pub n_features: usize,
}

impl Design {
    /// Learns means, indicators and dropped columns from training data.
    pub fn learn(data: &Dataset) -> Self {
        let mut columns = Vec::new();
        let mut column_names = Vec::new();
        let mut dropped = Vec::new();
        for (j, name) in data.names().iter().enumerate() {
            let col = data.column(j);
            let (mut sum, mut n, mut missing) = (0.0, 0usize, false);
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            let log1p = data.is_log1p(j);
            for &v in col {
                if v.is_nan() {
                    missing = true;
                } else {
                    sum += if log1p { v.ln_1p() } else { v };
                    n += 1;
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
            // Constant observed values with missing ones still carry the
            // missingness signal, kept by the indicator alone.
            if n == 0 || (lo == hi && !missing) {
                dropped.push(name.clone());
                continue;
            }
            let fill = sum / n as f64;
            if lo < hi {
                column_names.push(if log1p {
                    format!("log1p({name})")
                } else {
                    name.clone()
                });
            }
            if missing {
                column_names.push(format!("{name}__missing"));
            }
            columns.push(ColumnSpec {
                feature: j,
                fill: if lo < hi { fill } else { f64::NAN },
                indicator: missing,
                range: Some([lo, hi]),
                log1p,
            });
        }
        Self {
            columns,
            column_names,
            dropped,
            n_features: data.n_features(),
        }
    }

    /// The same design without the design columns (intercept = 0) flagged
    /// in `drop`; their names move to [`Design::dropped`] with `(aliased)`.
    pub(crate) fn without(&self, drop: &[bool]) -> Self {
        let mut out = self.clone();
        out.columns.clear();
        out.column_names.clear();
        let mut k = 1;
        let mut names = self.column_names.iter();
        for c in &self.columns {
            let mut c = c.clone();
            if !c.fill.is_nan() {
                let name = names.next().cloned().unwrap_or_default();
                if drop[k] {
                    out.dropped.push(format!("{name} (aliased)"));
                    c.fill = f64::NAN;
                } else {
                    out.column_names.push(name);
                }
                k += 1;
            }
            if c.indicator {
                let name = names.next().cloned().unwrap_or_default();
                if drop[k] {
                    out.dropped.push(format!("{name} (aliased)"));
                    c.indicator = false;
                } else {
                    out.column_names.push(name);
                }
                k += 1;
            }
            if !c.fill.is_nan() || c.indicator {
                out.columns.push(c);
            }
        }
        out
    }

    /// Refuses data with another number of features than the design was
    /// learned on (the columns are matched by position).
    pub fn check(&self, data: &Dataset) -> crate::error::Result<()> {
        if data.n_features() == self.n_features {
            Ok(())
        } else {
            Err(crate::error::ModelError::InvalidData(format!(
                "model was fitted on {} features, data has {}",
                self.n_features,
                data.n_features()
            )))
        }
    }

    /// Number of design columns including the intercept.
    pub fn width(&self) -> usize {
        self.column_names.len() + 1
    }

    /// Writes the design row (intercept first) for feature values `get(j)`.
    pub(crate) fn fill_row(&self, get: impl Fn(usize) -> f64, out: &mut [f64]) {
        out[0] = 1.0;
        let mut k = 1;
        for c in &self.columns {
            let v = get(c.feature);
            if !c.fill.is_nan() {
                out[k] = if v.is_nan() {
                    c.fill
                } else {
                    let v = match c.range {
                        Some([lo, hi]) => v.clamp(lo, hi),
                        None => v,
                    };
                    if c.log1p { v.ln_1p() } else { v }
                };
                k += 1;
            }
            if c.indicator {
                out[k] = f64::from(u8::from(v.is_nan()));
                k += 1;
            }
        }
    }

    /// Row-major design matrix (`n × width`) of `data`.
    pub(crate) fn matrix(&self, data: &Dataset) -> Vec<f64> {
        let p = self.width();
        let mut x = vec![0.0; data.n_rows() * p];
        for (i, row) in x.chunks_mut(p).enumerate() {
            self.fill_row(|j| data.column(j)[i], row);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imputes_and_flags_missing() {
        let nan = f64::NAN;
        let d = Dataset::new(
            vec!["a".into(), "b".into(), "c".into()],
            vec![
                vec![1.0, nan, 3.0],
                vec![5.0, 5.0, 5.0],
                vec![0.0, 1.0, 1.0],
            ],
            vec![0.0, 1.0, 2.0],
            None,
        )
        .unwrap();
        let des = Design::learn(&d);
        assert_eq!(des.column_names, ["a", "a__missing", "c"]);
        assert_eq!(des.dropped, ["b"]);
        let x = des.matrix(&d);
        assert_eq!(&x[4..8], &[1.0, 2.0, 1.0, 1.0]);
    }
}
