//! Baselines every model must beat: the overall mean, the mean of the
//! person's age-sex group, and last year's count.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{ModelError, Result, invalid_param};

fn weighted_mean(data: &Dataset, rows: impl Iterator<Item = usize>) -> (f64, f64) {
    let (mut s, mut w) = (0.0, 0.0);
    for i in rows {
        s += data.weight(i) * data.labels()[i];
        w += data.weight(i);
    }
    (s / w, w)
}

fn feature(data: &Dataset, name: &str) -> Result<usize> {
    data.feature_index(name).ok_or_else(|| {
        ModelError::InvalidData(format!(
            "baseline needs feature `{name}`, which is not among the features ({})",
            data.names().join(", ")
        ))
    })
}

/// Predicts the training mean for everyone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeanBaseline {
    /// Weighted training mean of the label.
    pub mean: f64,
}

impl MeanBaseline {
    /// Learns the mean.
    pub fn fit(data: &Dataset) -> Result<Self> {
        if data.n_rows() == 0 {
            return Err(ModelError::InvalidData("no training rows".into()));
        }
        Ok(Self {
            mean: weighted_mean(data, 0..data.n_rows()).0,
        })
    }
    /// The mean for every row.
    pub fn predict(&self, data: &Dataset) -> Vec<f64> {
        vec![self.mean; data.n_rows()]
    }
}

/// Mean of one age-band × sex group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMean {
    /// `floor(age / band_width)`.
    pub age_band: i64,
    /// The sex feature's value (as coded in the data).
    pub sex: i64,
    /// Training rows in the group.
    pub n: usize,
    /// Weighted mean label.
    pub mean: f64,
}

/// Predicts the mean of the person's age band × sex group. Rows whose age or
/// sex is missing, or whose group had no training rows, get the overall mean.
///
/// Group means are shrunk towards the overall mean by [`GROUP_PRIOR_WEIGHT`]
/// pseudo-rows, `(Σw·y + k·overall) / (Σw + k)`, so a small group whose
/// training rows all had 0 visits never predicts exactly 0 (which would make a
/// test person with visits cost an infinite Poisson deviance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgeSexBaseline {
    /// Name of the age feature (years).
    pub age_feature: String,
    /// Name of the sex feature (any integer coding).
    pub sex_feature: String,
    /// Width of the age bands in years.
    pub band_width: f64,
    /// One entry per group seen in training.
    pub groups: Vec<GroupMean>,
    /// Fallback.
    pub overall_mean: f64,
}

/// Weight, in rows, of the overall mean in each group's shrunken mean.
pub const GROUP_PRIOR_WEIGHT: f64 = 1.0;

impl AgeSexBaseline {
    /// Learns group means (shrunk towards the overall mean).
    pub fn fit(
        data: &Dataset,
        age_feature: &str,
        sex_feature: &str,
        band_width: f64,
    ) -> Result<Self> {
        if !(band_width > 0.0) {
            return Err(invalid_param("band_width", "must be > 0 years"));
        }
        let (a, s) = (feature(data, age_feature)?, feature(data, sex_feature)?);
        let mut rows: BTreeMap<(i64, i64), Vec<usize>> = BTreeMap::new();
        for i in 0..data.n_rows() {
            if let Some(k) = key(data.column(a)[i], data.column(s)[i], band_width) {
                rows.entry(k).or_default().push(i);
            }
        }
        let overall_mean = MeanBaseline::fit(data)?.mean;
        let groups = rows
            .into_iter()
            .map(|((age_band, sex), r)| {
                let n = r.len();
                let (mean, weight) = weighted_mean(data, r.into_iter());
                let k = GROUP_PRIOR_WEIGHT;
                GroupMean {
                    age_band,
                    sex,
                    n,
                    mean: (mean * weight + k * overall_mean) / (weight + k),
                }
            })
            .collect();
        Ok(Self {
            age_feature: age_feature.into(),
            sex_feature: sex_feature.into(),
            band_width,
            groups,
            overall_mean,
        })
    }

    /// Group mean per row.
    pub fn predict(&self, data: &Dataset) -> Result<Vec<f64>> {
        let (a, s) = (
            feature(data, &self.age_feature)?,
            feature(data, &self.sex_feature)?,
        );
        let map: BTreeMap<(i64, i64), f64> = self
            .groups
            .iter()
            .map(|g| ((g.age_band, g.sex), g.mean))
            .collect();
        Ok((0..data.n_rows())
            .map(|i| {
                key(data.column(a)[i], data.column(s)[i], self.band_width)
                    .and_then(|k| map.get(&k).copied())
                    .unwrap_or(self.overall_mean)
            })
            .collect())
    }
}

fn key(age: f64, sex: f64, width: f64) -> Option<(i64, i64)> {
    (!age.is_nan() && !sex.is_nan()).then(|| ((age / width).floor() as i64, sex.round() as i64))
}

/// Predicts last year's count (a named feature), floored at `floor` so the
/// Poisson deviance stays finite for people with no visits last year; a
/// missing value gets the training mean of the label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastYearBaseline {
    /// Name of the feature holding last year's count.
    pub feature: String,
    /// Smallest prediction.
    pub floor: f64,
    /// Prediction for a missing value.
    pub fallback: f64,
}

impl LastYearBaseline {
    /// Checks the feature exists and learns the fallback.
    pub fn fit(data: &Dataset, feature_name: &str, floor: f64) -> Result<Self> {
        feature(data, feature_name)?;
        if !(floor > 0.0) {
            return Err(invalid_param(
                "floor",
                "must be > 0 so deviances stay finite",
            ));
        }
        Ok(Self {
            feature: feature_name.into(),
            floor,
            fallback: MeanBaseline::fit(data)?.mean,
        })
    }
    /// Last year's count per row.
    pub fn predict(&self, data: &Dataset) -> Result<Vec<f64>> {
        let j = feature(data, &self.feature)?;
        Ok(data
            .column(j)
            .iter()
            .map(|&v| {
                if v.is_nan() {
                    self.fallback
                } else {
                    v.max(self.floor)
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines() {
        let nan = f64::NAN;
        let d = Dataset::new(
            vec!["age".into(), "sex".into(), "prev".into()],
            vec![
                vec![5.0, 7.0, 25.0, 25.0, nan],
                vec![1.0, 1.0, 1.0, 2.0, 1.0],
                vec![0.0, 2.0, 3.0, nan, 1.0],
            ],
            vec![1.0, 3.0, 4.0, 6.0, 1.0],
            None,
        )
        .unwrap();
        assert_eq!(MeanBaseline::fit(&d).unwrap().mean, 3.0);
        let g = AgeSexBaseline::fit(&d, "age", "sex", 10.0).unwrap();
        // Shrunk by one pseudo-row at the overall mean 3: (1+3+3)/3, (4+3)/2, (6+3)/2.
        let p = g.predict(&d).unwrap();
        let want = [7.0 / 3.0, 7.0 / 3.0, 3.5, 4.5, 3.0];
        for (got, want) in p.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{p:?}");
        }
        // A group whose training rows all had 0 visits still predicts > 0.
        let z = Dataset::new(
            vec!["age".into(), "sex".into()],
            vec![vec![5.0, 25.0], vec![1.0, 1.0]],
            vec![0.0, 4.0],
            None,
        )
        .unwrap();
        let zg = AgeSexBaseline::fit(&z, "age", "sex", 10.0).unwrap();
        assert_eq!(zg.predict(&z).unwrap(), vec![1.0, 3.0]);
        let l = LastYearBaseline::fit(&d, "prev", 0.1).unwrap();
        assert_eq!(l.predict(&d).unwrap(), vec![0.1, 2.0, 3.0, 3.0, 1.0]);
        assert!(
            LastYearBaseline::fit(&d, "nope", 0.1)
                .unwrap_err()
                .to_string()
                .contains("`nope`")
        );
    }
}
