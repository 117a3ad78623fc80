//! Saved models: a documented, versioned JSON file.
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "kind": "gbm_poisson",
//!   "features": ["age", "visits_12mo", ...],
//!   "features_hash": "sha256 of the feature definitions, computed by the caller",
//!   "training": { "as_of": "2025-01-01", "label": "...", "rows": 123456 },
//!   "params": { ... },
//!   "metrics": { "test_deviance": 1.23, ... },
//!   "model": { "gbm": { "objective": ..., "init_score": ..., "trees": [...] } }
//! }
//! ```
//!
//! `format_version` changes whenever a reader of the old version would
//! misread the new file. [`SavedModel::from_json`] refuses other versions,
//! and [`SavedModel::check_features`] refuses a model whose feature list or
//! definition hash differ from the ones it is asked to predict with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::baseline::{AgeSexBaseline, LastYearBaseline, MeanBaseline};
use crate::data::Dataset;
use crate::error::{ModelError, Result};
use crate::gbm::Booster;
use crate::glm::Glm;
use crate::logistic::LogisticModel;

/// Current file format.
pub const FORMAT_VERSION: u32 = 1;

/// The fitted parameters of any saveable model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FittedModel {
    /// Overall mean.
    Mean(MeanBaseline),
    /// Age-sex group means.
    AgeSex(AgeSexBaseline),
    /// Last year's count.
    LastYear(LastYearBaseline),
    /// Poisson or NB2 GLM.
    Glm(Glm),
    /// Logistic regression.
    Logistic(LogisticModel),
    /// Gradient boosting.
    Gbm(Booster),
}

impl FittedModel {
    /// Predictions (means or probabilities) for `data`.
    pub fn predict(&self, data: &Dataset) -> Result<Vec<f64>> {
        match self {
            FittedModel::Mean(m) => Ok(m.predict(data)),
            FittedModel::AgeSex(m) => m.predict(data),
            FittedModel::LastYear(m) => m.predict(data),
            FittedModel::Glm(m) => m.predict(data),
            FittedModel::Logistic(m) => m.predict(data),
            FittedModel::Gbm(m) => m.predict(data),
        }
    }
}

/// A model with everything needed to use it safely later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// File format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Short model name, e.g. `glm_poisson`, `gbm_logistic`.
    pub kind: String,
    /// Feature names in column order.
    pub features: Vec<String>,
    /// Hash of the feature definitions the model was trained with.
    pub features_hash: String,
    /// Free-form description of the training data (period, label, rows).
    pub training: BTreeMap<String, String>,
    /// Hyperparameters as given.
    pub params: serde_json::Value,
    /// Evaluation results at training time.
    pub metrics: BTreeMap<String, f64>,
    /// The fitted model.
    pub model: FittedModel,
}

impl SavedModel {
    /// Serialises to pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| ModelError::Format(e.to_string()))
    }

    /// Parses JSON, refusing other format versions. Non-finite metrics are
    /// written as `null` by serde_json and read back as NaN.
    pub fn from_json(text: &str) -> Result<Self> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ModelError::Format(e.to_string()))?;
        match v.get("format_version").and_then(serde_json::Value::as_u64) {
            Some(x) if x == u64::from(FORMAT_VERSION) => {}
            Some(x) => {
                return Err(ModelError::Format(format!(
                    "format_version {x} is not supported (this build reads version {FORMAT_VERSION}); retrain the model"
                )));
            }
            None => {
                return Err(ModelError::Format(
                    "no format_version field; not a caregap model file".into(),
                ));
            }
        }
        serde_json::from_value(v).map_err(|e| ModelError::Format(e.to_string()))
    }

    /// Refuses the model unless it was trained on exactly `features` (same
    /// names, same order) with definitions hashing to `features_hash`.
    pub fn check_features(&self, features: &[String], features_hash: &str) -> Result<()> {
        if self.features != features {
            let missing: Vec<&String> = self
                .features
                .iter()
                .filter(|f| !features.contains(f))
                .collect();
            let extra: Vec<&String> = features
                .iter()
                .filter(|f| !self.features.contains(f))
                .collect();
            return Err(ModelError::FeatureMismatch(format!(
                "the model was trained on {} features, {} are given; missing: [{}], new: [{}]{}; retrain the model",
                self.features.len(),
                features.len(),
                join(&missing),
                join(&extra),
                if missing.is_empty() && extra.is_empty() {
                    " (same names, other order)"
                } else {
                    ""
                }
            )));
        }
        if self.features_hash != features_hash {
            return Err(ModelError::FeatureMismatch(format!(
                "the feature definitions changed since training (hash {} in the model, {} now); retrain the model",
                self.features_hash, features_hash
            )));
        }
        Ok(())
    }

    /// Parses and checks in one step.
    pub fn load(text: &str, features: &[String], features_hash: &str) -> Result<Self> {
        let m = Self::from_json(text)?;
        m.check_features(features, features_hash)?;
        Ok(m)
    }
}

fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}
