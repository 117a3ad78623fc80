//! The models of `caregap-models` (Poisson and NB2 GLMs, logistic
//! regression, the gradient booster) fitted on a numeric matrix: what the
//! scikit-learn-style estimators of `caregap.models` call.
//!
//! Hyperparameters are the models' own parameter structs: the defaults are
//! serialised, the caller's keys laid over them (an unknown key is an
//! error), and the result deserialised, so the names, defaults and checks
//! are the library's.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use caregap_models::Dataset;
use caregap_models::gbm::{self, GbmParams, Objective};
use caregap_models::glm::{self, GlmParams};
use caregap_models::logistic::{LogisticModel, LogisticParams};
use caregap_models::saved::FittedModel as Fitted;

use crate::errors::{from_err, msg};

/// A fitted model; `predict` gives means (counts) or probabilities (0/1).
#[pyclass(frozen, module = "caregap._caregap")]
pub struct FittedModel {
    model: Fitted,
    n_features: usize,
}

/// The columns of a row-major `(n, p)` matrix (the models read columns).
fn columns(x: &PyReadonlyArray2<'_, f64>) -> (usize, Vec<Vec<f64>>) {
    let view = x.as_array();
    let (n, p) = view.dim();
    let cols = (0..p).map(|j| view.column(j).to_vec()).collect();
    (n, cols)
}

fn names(p: usize) -> Vec<String> {
    (0..p).map(|j| format!("x{j}")).collect()
}

/// `defaults` with the JSON object `params` laid over it.
fn params<T: Serialize + DeserializeOwned>(
    py: Python<'_>,
    defaults: T,
    params: &str,
) -> PyResult<T> {
    let mut base = serde_json::to_value(defaults).map_err(|e| from_err(py, &e))?;
    let given: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(params).map_err(|e| from_err(py, &e))?;
    let obj = base
        .as_object_mut()
        .ok_or_else(|| msg(py, "parameters are not an object"))?;
    for (k, v) in given {
        if !obj.contains_key(&k) {
            let mut known: Vec<&String> = obj.keys().collect();
            known.sort();
            return Err(msg(
                py,
                format!(
                    "unknown parameter {k:?}; known: {}",
                    known
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        obj.insert(k, v);
    }
    serde_json::from_value(base).map_err(|e| msg(py, format!("invalid parameters: {e}")))
}

/// Fits model `kind` (`poisson`, `nb2`, `logistic`, `gbm-poisson`,
/// `gbm-logistic`) on `x` (n × p, NaN = missing) and `y`, with optional
/// row weights; `params_json` holds the hyperparameters to change (JSON
/// object, the library's names). The GIL is released while fitting.
#[pyfunction]
#[pyo3(signature = (kind, x, y, sample_weight=None, params_json="{}"))]
pub fn fit(
    py: Python<'_>,
    kind: &str,
    x: PyReadonlyArray2<'_, f64>,
    y: PyReadonlyArray1<'_, f64>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    params_json: &str,
) -> PyResult<FittedModel> {
    let (_, cols) = columns(&x);
    let p = cols.len();
    let labels = y.as_array().to_vec();
    let weights = sample_weight.map(|w| w.as_array().to_vec());
    let data = Dataset::new(names(p), cols, labels, weights).map_err(|e| from_err(py, &e))?;
    let model = match kind {
        "poisson" | "nb2" => {
            let prm: GlmParams = params(py, GlmParams::default(), params_json)?;
            let nb = kind == "nb2";
            py.detach(|| {
                if nb {
                    glm::fit_negative_binomial(&data, &prm)
                } else {
                    glm::fit_poisson(&data, &prm)
                }
            })
            .map(Fitted::Glm)
        }
        "logistic" => {
            let prm: LogisticParams = params(py, LogisticParams::default(), params_json)?;
            py.detach(|| LogisticModel::fit(&data, &prm))
                .map(Fitted::Logistic)
        }
        "gbm-poisson" | "gbm-logistic" => {
            let objective = if kind == "gbm-poisson" {
                Objective::poisson()
            } else {
                Objective::Logistic
            };
            let defaults = GbmParams {
                objective,
                ..GbmParams::default()
            };
            let prm: GbmParams = params(py, defaults, params_json)?;
            py.detach(|| gbm::train(&data, None, &prm)).map(Fitted::Gbm)
        }
        other => {
            return Err(msg(
                py,
                format!(
                    "unknown model {other:?}; one of poisson, nb2, logistic, gbm-poisson, gbm-logistic"
                ),
            ));
        }
    }
    .map_err(|e| from_err(py, &e))?;
    Ok(FittedModel {
        model,
        n_features: p,
    })
}

#[pymethods]
impl FittedModel {
    /// Predicted means (count models) or probabilities (logistic models).
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (n, cols) = columns(&x);
        if cols.len() != self.n_features {
            return Err(msg(
                py,
                format!(
                    "x has {} features but the model was fitted on {}",
                    cols.len(),
                    self.n_features
                ),
            ));
        }
        let data = Dataset::new(names(cols.len()), cols, vec![0.0; n], None)
            .map_err(|e| from_err(py, &e))?;
        let out = py
            .detach(|| self.model.predict(&data))
            .map_err(|e| from_err(py, &e))?;
        Ok(out.into_pyarray(py))
    }

    /// IRLS iterations (GLMs, logistic) or trees (booster).
    #[getter]
    fn n_iter(&self) -> usize {
        match &self.model {
            Fitted::Glm(m) => m.iterations,
            Fitted::Logistic(m) => m.iterations,
            Fitted::Gbm(m) => m.trees.len(),
            _ => 0,
        }
    }

    #[getter]
    fn n_features(&self) -> usize {
        self.n_features
    }

    /// The fitted model as JSON (the library's serialisation).
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        let text = serde_json::to_string(&self.model).map_err(|e| from_err(py, &e))?;
        Ok(format!(
            "{{\"n_features\":{},\"model\":{text}}}",
            self.n_features
        ))
    }

    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<FittedModel> {
        #[derive(serde::Deserialize)]
        struct Saved {
            n_features: usize,
            model: Fitted,
        }
        let s: Saved = serde_json::from_str(text).map_err(|e| from_err(py, &e))?;
        Ok(FittedModel {
            model: s.model,
            n_features: s.n_features,
        })
    }

    /// Pickles as its JSON.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let ctor = py.get_type::<FittedModel>().getattr("from_json")?;
        Ok((ctor, (self.to_json(py)?,)))
    }
}
