//! `caregap model fit` / `model predict --table`: the models on any table.
//!
//! A researcher's table (Parquet or CSV, see [`table`]) with a label column
//! and covariates is encoded ([`Encoding`]: numbers and booleans as they are,
//! strings one-hot against a named reference level), fitted with one family
//! (Poisson, NB2 or logistic GLM by IRLS; the gradient booster with a Poisson
//! or logistic objective), validated (k-fold or a split column) and reported
//! (coefficients with SE, z, p and Wald 95 % CIs; NB2 dispersion with its SE;
//! deviance, log-likelihood, AIC, BIC; per-fold metrics). The fitted model is
//! saved with its encoding so that `predict` can replay it on a table with
//! the same columns. Only [`read_table`] and the CLI touch files.

mod report;
mod table;

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

use caregap_models::Dataset;
use caregap_models::gbm::{self, GbmParams, Objective};
use caregap_models::glm::{self, Family as GlmFamily, GlmParams};
use caregap_models::logistic::{LogisticModel, LogisticParams};
use caregap_models::metrics::{ClassReport, CountReport, PredictionCheck};
use caregap_models::saved::FittedModel;

pub use report::{MAX_GROUPS, group_keys, model_report};
pub use table::{Column, Table, read_table};

/// Current version of the table-model file.
pub const TABLE_MODEL_VERSION: u32 = 1;

/// Which model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Poisson GLM (log link).
    Poisson,
    /// Negative binomial (NB2) GLM, dispersion by maximum likelihood.
    Nb2,
    /// Logistic regression (0/1 label).
    Logistic,
    /// Gradient boosting, Poisson objective.
    GbmPoisson,
    /// Gradient boosting, logistic objective.
    GbmLogistic,
}

impl Family {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Family::Poisson => "poisson",
            Family::Nb2 => "nb2",
            Family::Logistic => "logistic",
            Family::GbmPoisson => "gbm-poisson",
            Family::GbmLogistic => "gbm-logistic",
        }
    }

    /// Whether the label is 0/1 and predictions are probabilities.
    pub fn is_binary(self) -> bool {
        matches!(self, Family::Logistic | Family::GbmLogistic)
    }

    fn is_linear(self) -> bool {
        matches!(self, Family::Poisson | Family::Nb2 | Family::Logistic)
    }
}

/// How the fit is validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    /// In-sample metrics only.
    None,
    /// Random k folds (seeded): per-fold and pooled out-of-fold metrics; the
    /// reported model is then fitted on every row.
    KFold(usize),
    /// A column saying `train`/`test` (strings) or 0/1 / false/true (1 = test):
    /// fitted on the training rows, metrics on the test rows.
    Split(String),
}

/// Everything `model fit` needs besides the table.
#[derive(Debug, Clone)]
pub struct FitSpec {
    /// The label column.
    pub label: String,
    /// Covariates to use (default: every other column).
    pub features: Option<Vec<String>>,
    /// Columns to leave out of the default covariates.
    pub exclude: Vec<String>,
    /// Row-weight column.
    pub weights: Option<String>,
    /// Offset column (e.g. log person-years), GLM families only.
    pub offset: Option<String>,
    /// Covariates that are unbounded counts, entered as `ln(1 + x)` by the
    /// linear models.
    pub log1p: Vec<String>,
    /// Model family.
    pub family: Family,
    /// Validation.
    pub validation: Validation,
    /// GLM L2 penalty (Poisson, NB2); logistic uses `alpha`.
    pub l2: f64,
    /// Logistic L2 penalty on standardised coefficients (0 = plain MLE, as
    /// statsmodels' Logit).
    pub alpha: f64,
    /// Boosting rounds.
    pub rounds: usize,
    /// Seed of folds and the booster.
    pub seed: u64,
}

/// How one table column becomes model features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Input {
    /// A number or boolean, used as it is.
    Numeric {
        /// Column name.
        column: String,
    },
    /// A string column, one 0/1 feature `column=level` per non-reference level.
    Categorical {
        /// Column name.
        column: String,
        /// The reference level (first in sorted order, as R's factors).
        reference: String,
        /// The other levels, sorted; one feature each.
        levels: Vec<String>,
    },
}

/// The learned table-to-features mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoding {
    /// One entry per covariate column, in order.
    pub inputs: Vec<Input>,
    /// Covariates entered as `ln(1 + x)` by the linear models.
    pub log1p: Vec<String>,
}

impl Encoding {
    /// Feature names in model order.
    pub fn feature_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for i in &self.inputs {
            match i {
                Input::Numeric { column } => out.push(column.clone()),
                Input::Categorical { column, levels, .. } => {
                    out.extend(levels.iter().map(|l| format!("{column}={l}")));
                }
            }
        }
        out
    }

    /// Learns the encoding of `columns` from `table`, refusing an all-missing
    /// column.
    fn learn(table: &Table, columns: &[String], log1p: &[String]) -> Result<Self> {
        let mut inputs = Vec::new();
        for name in columns {
            let col = table
                .get(name)
                .with_context(|| no_column(table, name, "covariate"))?;
            match col {
                Column::Num(v) => {
                    if v.iter().all(|x| x.is_nan()) {
                        bail!(
                            "covariate `{name}` is missing in every row; leave it out with --exclude {name}"
                        );
                    }
                    inputs.push(Input::Numeric {
                        column: name.clone(),
                    });
                }
                Column::Str(v) => {
                    let mut levels: Vec<String> = v.iter().flatten().cloned().collect();
                    levels.sort();
                    levels.dedup();
                    if levels.is_empty() {
                        bail!(
                            "covariate `{name}` is missing in every row; leave it out with --exclude {name}"
                        );
                    }
                    let reference = levels.remove(0);
                    inputs.push(Input::Categorical {
                        column: name.clone(),
                        reference,
                        levels,
                    });
                }
            }
        }
        for l in log1p {
            if !inputs
                .iter()
                .any(|i| matches!(i, Input::Numeric { column } if column == l))
            {
                bail!("--log1p {l}: not a numeric covariate of the model");
            }
        }
        Ok(Self {
            inputs,
            log1p: log1p.to_vec(),
        })
    }

    /// The feature columns of `table` (NaN = missing; a missing category is
    /// missing in every dummy, so the linear models give it the missingness
    /// indicator). An unseen category is an error naming the column.
    fn features(&self, table: &Table) -> Result<Vec<Vec<f64>>> {
        let mut out = Vec::new();
        for i in &self.inputs {
            match i {
                Input::Numeric { column } => match table.get(column) {
                    Some(Column::Num(v)) => out.push(v.clone()),
                    Some(Column::Str(_)) => {
                        bail!(
                            "column `{column}` is text here but was numeric in the model's training table"
                        )
                    }
                    None => bail!(no_column(table, column, "covariate")),
                },
                Input::Categorical {
                    column,
                    reference,
                    levels,
                } => {
                    let v = match table.get(column) {
                        Some(Column::Str(v)) => v,
                        Some(Column::Num(_)) => bail!(
                            "column `{column}` is numeric here but was text (categorical) in the \
                             model's training table"
                        ),
                        None => bail!(no_column(table, column, "covariate")),
                    };
                    let mut dummies = vec![Vec::with_capacity(v.len()); levels.len()];
                    for (row, x) in v.iter().enumerate() {
                        let k = match x {
                            None => {
                                dummies.iter_mut().for_each(|d| d.push(f64::NAN));
                                continue;
                            }
                            Some(x) if x == reference => None,
                            Some(x) => Some(levels.binary_search(x).map_err(|_| {
                                anyhow::anyhow!(
                                    "column `{column}` has the value {x:?} at row {row}, which the \
                                     model never saw in training (levels: {reference}, {})",
                                    levels.join(", ")
                                )
                            })?),
                        };
                        for (j, d) in dummies.iter_mut().enumerate() {
                            d.push(f64::from(u8::from(k == Some(j))));
                        }
                    }
                    out.extend(dummies);
                }
            }
        }
        Ok(out)
    }
}

fn no_column(table: &Table, name: &str, what: &str) -> String {
    format!(
        "the table has no {what} column `{name}` (columns: {})",
        table.names.join(", ")
    )
}

/// A numeric column by name, refusing text with a message naming it.
fn numeric<'a>(table: &'a Table, name: &str, what: &str) -> Result<&'a [f64]> {
    match table.get(name) {
        Some(Column::Num(v)) => Ok(v.as_slice()),
        Some(Column::Str(_)) => bail!("the {what} column `{name}` is text; it must be numeric"),
        None => bail!(no_column(table, name, what)),
    }
}

/// The model's data set for `table`: features, label (`None` at prediction:
/// zeros), weights, offset.
fn dataset(model: &ModelShape, table: &Table, with_label: bool) -> Result<Dataset> {
    let features = model.encoding.features(table)?;
    let n = table.n_rows();
    let labels = if with_label {
        let y = numeric(table, &model.label, "label")?;
        if let Some(row) = y.iter().position(|v| v.is_nan()) {
            bail!(
                "the label `{}` is missing at row {row}; drop the rows without a label",
                model.label
            );
        }
        if model.family.is_binary() {
            if let Some(row) = y.iter().position(|&v| v != 0.0 && v != 1.0) {
                bail!(
                    "the label `{}` is {} at row {row}; the {} family needs a 0/1 (or boolean) label",
                    model.label,
                    y[row],
                    model.family.name()
                );
            }
            if y.iter().all(|&v| v == y[0]) {
                bail!(
                    "the label `{}` is {} in every training row; the {} family needs both 0 and 1",
                    model.label,
                    y[0],
                    model.family.name()
                );
            }
        } else if let Some(row) = y.iter().position(|&v| v < 0.0) {
            bail!(
                "the label `{}` is {} at row {row}; count families need labels >= 0",
                model.label,
                y[row]
            );
        }
        y.to_vec()
    } else {
        vec![0.0; n]
    };
    let weights = match &model.weights {
        Some(w) if with_label => Some(numeric(table, w, "weights")?.to_vec()),
        _ => None,
    };
    let mut d = Dataset::new(model.encoding.feature_names(), features, labels, weights)
        .map_err(anyhow::Error::from)
        .context("cannot build the data set")?
        .with_log1p(&model.encoding.log1p)?;
    if let Some(o) = &model.offset {
        d = d.with_offset(numeric(table, o, "offset")?.to_vec())?;
    }
    Ok(d)
}

/// What a fitted model needs to read a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ModelShape {
    family: Family,
    label: String,
    weights: Option<String>,
    offset: Option<String>,
    encoding: Encoding,
}

/// A model fitted on a table, as saved by `model fit --out` (`model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableModel {
    /// [`TABLE_MODEL_VERSION`].
    pub format_version: u32,
    /// Always `table_model`.
    pub kind: String,
    /// Family, label, weights and offset columns, encoding.
    #[serde(flatten)]
    shape: ModelShape,
    /// Largest training label (the plausibility check's scale).
    pub train_label_max: f64,
    /// The fitted model.
    pub model: FittedModel,
}

impl TableModel {
    /// Parses a `model.json`, refusing other kinds and versions.
    pub fn from_json(text: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(text).context("not JSON")?;
        if v.get("kind").and_then(|k| k.as_str()) != Some("table_model") {
            bail!("not a table model (written by `caregap model fit --out`)");
        }
        match v.get("format_version").and_then(serde_json::Value::as_u64) {
            Some(x) if x == u64::from(TABLE_MODEL_VERSION) => {}
            other => bail!(
                "table model format_version {other:?} is not supported (this build reads \
                 {TABLE_MODEL_VERSION}); refit the model"
            ),
        }
        Ok(serde_json::from_value(v)?)
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.shape.family
    }

    /// Predicted means (count families) or probabilities for `table`, and
    /// the plausibility check of those predictions.
    pub fn predict(&self, table: &Table) -> Result<(Vec<f64>, PredictionCheck)> {
        let d = dataset(&self.shape, table, false)?;
        let p = self.model.predict(&d)?;
        let check = if self.shape.family.is_binary() {
            PredictionCheck::probabilities(&p)
        } else {
            PredictionCheck::counts(&p, self.train_label_max)
        };
        Ok((p, check))
    }
}

/// One coefficient with inference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoefRow {
    /// `intercept`, a column, `column=level`, `log1p(column)` or `column__missing`.
    pub name: String,
    /// Estimate (log rate ratio, or log odds ratio, per unit).
    pub estimate: f64,
    /// Standard error.
    pub std_error: f64,
    /// Wald z.
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Wald 95 % interval, lower end.
    pub ci_low: f64,
    /// Wald 95 % interval, upper end.
    pub ci_high: f64,
}

/// Out-of-sample metrics on one set of rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Rows scored.
    pub rows: usize,
    /// Count families: mean Poisson deviance, D², MAE, RMSE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<CountSummary>,
    /// Binary families: AUC, Brier, log-loss.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<BinarySummary>,
    /// Whether the predictions stay plausible.
    pub prediction_check: PredictionCheck,
}

/// Count metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountSummary {
    /// Mean Poisson deviance.
    pub deviance: f64,
    /// Deviance explained against the training mean.
    pub d2: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
}

/// Binary metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinarySummary {
    /// ROC AUC.
    pub auc: f64,
    /// Brier score.
    pub brier: f64,
    /// Log-loss.
    pub log_loss: f64,
}

/// Everything `model fit` reports.
#[derive(Debug, Clone, Serialize)]
pub struct FitReport {
    /// Family name.
    pub family: &'static str,
    /// Label column.
    pub label: String,
    /// Rows the reported model was fitted on.
    pub rows: usize,
    /// The encoding (reference level of each categorical column).
    pub encoding: Encoding,
    /// Coefficients (linear families).
    pub coefficients: Vec<CoefRow>,
    /// Design columns dropped (constant, or aliased).
    pub dropped: Vec<String>,
    /// NB2 dispersion α and its SE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispersion: Option<(f64, f64)>,
    /// Residual deviance on the fitting rows (linear families).
    pub deviance: Option<f64>,
    /// Null deviance (intercept-only, with the offset).
    pub null_deviance: Option<f64>,
    /// Log-likelihood on the fitting rows (linear families).
    pub log_likelihood: Option<f64>,
    /// Estimated parameters (coefficients, plus α for NB2).
    pub parameters: usize,
    /// `−2 ll + 2 k`.
    pub aic: Option<f64>,
    /// `−2 ll + k ln n`.
    pub bic: Option<f64>,
    /// In-sample metrics of the reported model.
    pub train: Metrics,
    /// Per-fold out-of-fold metrics (k-fold).
    pub folds: Vec<Metrics>,
    /// Pooled out-of-fold (k-fold) or test-row (split) metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<Metrics>,
}

/// A fitted table model and its report.
pub struct Fitted {
    /// The model to save.
    pub model: TableModel,
    /// The report.
    pub report: FitReport,
    /// The predictions the validation metrics describe (the model report's rows).
    pub evaluated: Evaluated,
}

/// Predictions on the rows the validation describes: the test rows
/// (`--split`), out-of-fold (`--kfold`) or the fitting rows (in-sample).
pub struct Evaluated {
    /// `test rows`, `out-of-fold` or `in-sample`.
    pub what: &'static str,
    /// Their row numbers in the table.
    pub rows: Vec<usize>,
    /// Their labels.
    pub y: Vec<f64>,
    /// The predictions.
    pub pred: Vec<f64>,
    /// Mean label of the fitting rows (D²'s null prediction).
    pub train_mean: f64,
}

fn fit_model(shape: &ModelShape, d: &Dataset, spec: &FitSpec) -> Result<FittedModel> {
    let glm_params = GlmParams {
        l2: spec.l2,
        ..GlmParams::default()
    };
    let gbm_params = |objective| GbmParams {
        objective,
        num_rounds: spec.rounds,
        seed: spec.seed,
        ..GbmParams::default()
    };
    if !shape.family.is_linear() && d.offsets().is_some() {
        bail!(
            "--offset is supported by the GLM families (poisson, nb2, logistic), not the booster"
        );
    }
    Ok(match shape.family {
        Family::Poisson => FittedModel::Glm(glm::fit_poisson(d, &glm_params)?),
        Family::Nb2 => FittedModel::Glm(glm::fit_negative_binomial(d, &glm_params)?),
        Family::Logistic => FittedModel::Logistic(LogisticModel::fit(
            d,
            &LogisticParams {
                alpha: spec.alpha,
                ..LogisticParams::default()
            },
        )?),
        Family::GbmPoisson => FittedModel::Gbm(gbm::train(
            d,
            None,
            &gbm_params(Objective::Poisson {
                max_delta_step: 0.7,
            }),
        )?),
        Family::GbmLogistic => {
            FittedModel::Gbm(gbm::train(d, None, &gbm_params(Objective::Logistic))?)
        }
    })
}

fn evaluate(family: Family, y: &[f64], pred: &[f64], train: &Dataset) -> Metrics {
    let train_mean = train.labels().iter().sum::<f64>() / train.n_rows().max(1) as f64;
    let train_max = train.labels().iter().copied().fold(0.0, f64::max);
    if family.is_binary() {
        let c = ClassReport::new(y, pred);
        Metrics {
            rows: y.len(),
            count: None,
            binary: Some(BinarySummary {
                auc: c.auc,
                brier: c.brier,
                log_loss: c.log_loss,
            }),
            prediction_check: PredictionCheck::probabilities(pred),
        }
    } else {
        let c = CountReport::new(y, pred, train_mean);
        Metrics {
            rows: y.len(),
            count: Some(CountSummary {
                deviance: c.deviance,
                d2: c.d2,
                mae: c.mae,
                rmse: c.rmse,
            }),
            binary: None,
            prediction_check: PredictionCheck::counts(pred, train_max),
        }
    }
}

/// Rows of the split column: (train, test).
fn split_rows(table: &Table, col: &str) -> Result<(Vec<usize>, Vec<usize>)> {
    let mut train = Vec::new();
    let mut test = Vec::new();
    match table.get(col) {
        Some(Column::Num(v)) => {
            for (i, &x) in v.iter().enumerate() {
                match x {
                    0.0 => train.push(i),
                    1.0 => test.push(i),
                    _ => bail!(
                        "the split column `{col}` is {x} at row {i}; use 0/false = train, 1/true = test"
                    ),
                }
            }
        }
        Some(Column::Str(v)) => {
            for (i, x) in v.iter().enumerate() {
                match x.as_deref() {
                    Some("train") => train.push(i),
                    Some("test") => test.push(i),
                    other => bail!(
                        "the split column `{col}` is {other:?} at row {i}; use `train` or `test`"
                    ),
                }
            }
        }
        None => bail!(no_column(table, col, "split")),
    }
    if train.is_empty() || test.is_empty() {
        bail!("the split column `{col}` must mark at least one train row and one test row");
    }
    Ok((train, test))
}

/// The covariate columns: `--features`, or every column but the label,
/// weights, offset, split and `--exclude`.
fn covariates(table: &Table, spec: &FitSpec) -> Result<Vec<String>> {
    for x in &spec.exclude {
        if table.get(x).is_none() {
            bail!("--exclude {x}: {}", no_column(table, x, "such"));
        }
    }
    let special: Vec<&String> = std::iter::once(&spec.label)
        .chain(spec.weights.iter())
        .chain(spec.offset.iter())
        .chain(match &spec.validation {
            Validation::Split(c) => Some(c),
            _ => None,
        })
        .collect();
    let cols: Vec<String> = match &spec.features {
        Some(f) => {
            if let Some(s) = f.iter().find(|c| special.contains(c)) {
                bail!(
                    "`{s}` is the label, weights, offset or split column; it cannot also be a covariate"
                );
            }
            f.clone()
        }
        None => table
            .names
            .iter()
            .filter(|n| !special.contains(n) && !spec.exclude.contains(n))
            .cloned()
            .collect(),
    };
    if cols.is_empty() {
        bail!("no covariates left; name them with --features");
    }
    Ok(cols)
}

/// Fits `spec` on `table`.
pub fn fit(table: &Table, spec: &FitSpec) -> Result<Fitted> {
    if table.get(&spec.label).is_none() {
        bail!(no_column(table, &spec.label, "label"));
    }
    numeric(table, &spec.label, "label")?;
    let columns = covariates(table, spec)?;
    let (fit_rows, test_rows) = match &spec.validation {
        Validation::Split(c) => {
            let (a, b) = split_rows(table, c)?;
            (a, Some(b))
        }
        _ => ((0..table.n_rows()).collect(), None),
    };
    let fit_table = table.subset(&fit_rows);
    let shape = ModelShape {
        family: spec.family,
        label: spec.label.clone(),
        weights: spec.weights.clone(),
        offset: spec.offset.clone(),
        encoding: Encoding::learn(&fit_table, &columns, &spec.log1p)?,
    };
    let d = dataset(&shape, &fit_table, true)?;
    let mut folds = Vec::new();
    let mut validation = None;
    let mut evaluated = None;
    if let Validation::KFold(k) = spec.validation {
        let mut oof = vec![f64::NAN; d.n_rows()];
        for (f, fold) in caregap_models::kfold(d.n_rows(), k, spec.seed)?
            .into_iter()
            .enumerate()
        {
            let tr = d.subset(&fold.train);
            let te = d.subset(&fold.test);
            let m = fit_model(&shape, &tr, spec).with_context(|| format!("fold {}", f + 1))?;
            let p = m.predict(&te)?;
            folds.push(evaluate(spec.family, te.labels(), &p, &tr));
            for (&i, v) in fold.test.iter().zip(p) {
                oof[i] = v;
            }
        }
        validation = Some(evaluate(spec.family, d.labels(), &oof, &d));
        evaluated = Some(("out-of-fold", fit_rows.clone(), d.labels().to_vec(), oof));
    }
    let model = fit_model(&shape, &d, spec)?;
    if let Some(rows) = &test_rows {
        let td = dataset(&shape, &table.subset(rows), true)?;
        let p = model.predict(&td)?;
        validation = Some(evaluate(spec.family, td.labels(), &p, &d));
        evaluated = Some(("test rows", rows.clone(), td.labels().to_vec(), p));
    }
    let in_sample = model.predict(&d)?;
    let train = evaluate(spec.family, d.labels(), &in_sample, &d);
    let (what, rows, y, pred) =
        evaluated.unwrap_or_else(|| ("in-sample", fit_rows, d.labels().to_vec(), in_sample));
    let evaluated = Evaluated {
        what,
        rows,
        y,
        pred,
        train_mean: d.labels().iter().sum::<f64>() / d.n_rows().max(1) as f64,
    };
    let n = d.n_rows() as f64;
    let z = Normal::standard().inverse_cdf(0.975);
    let rows = |cs: &[glm::Coefficient]| -> Vec<CoefRow> {
        cs.iter()
            .map(|c| CoefRow {
                name: c.name.clone(),
                estimate: c.estimate,
                std_error: c.std_error,
                z: c.z,
                p_value: c.p_value,
                ci_low: c.estimate - z * c.std_error,
                ci_high: c.estimate + z * c.std_error,
            })
            .collect()
    };
    let (coefficients, dropped, dispersion, deviance, null_deviance, ll) = match &model {
        FittedModel::Glm(g) => (
            rows(&g.coefficients),
            g.design.dropped.clone(),
            match g.family {
                GlmFamily::NegativeBinomial {
                    alpha,
                    alpha_std_error,
                } => Some((alpha, alpha_std_error)),
                GlmFamily::Poisson => None,
            },
            Some(g.deviance),
            Some(g.null_deviance),
            Some(g.log_likelihood),
        ),
        FittedModel::Logistic(l) => (
            rows(&l.inference),
            l.design.dropped.clone(),
            None,
            Some(-2.0 * l.log_likelihood),
            Some(-2.0 * l.null_log_likelihood),
            Some(l.log_likelihood),
        ),
        _ => (Vec::new(), Vec::new(), None, None, None, None),
    };
    let parameters = coefficients.len() + usize::from(dispersion.is_some());
    let k = parameters as f64;
    let report = FitReport {
        family: spec.family.name(),
        label: spec.label.clone(),
        rows: d.n_rows(),
        encoding: shape.encoding.clone(),
        coefficients,
        dropped,
        dispersion,
        deviance,
        null_deviance,
        log_likelihood: ll,
        parameters,
        aic: ll.map(|ll| -2.0 * ll + 2.0 * k),
        bic: ll.map(|ll| -2.0 * ll + k * n.ln()),
        train,
        folds,
        validation,
    };
    Ok(Fitted {
        model: TableModel {
            format_version: TABLE_MODEL_VERSION,
            kind: "table_model".into(),
            shape,
            train_label_max: d.labels().iter().copied().fold(0.0, f64::max),
            model,
        },
        report,
        evaluated,
    })
}

/// The coefficient table as CSV (`name,estimate,std_error,z,p_value,ci_low,ci_high`).
pub fn coefficients_csv(report: &FitReport) -> String {
    let mut out = String::from("name,estimate,std_error,z,p_value,ci_low,ci_high\n");
    for c in &report.coefficients {
        let name = if c.name.contains([',', '"']) {
            format!("\"{}\"", c.name.replace('"', "\"\""))
        } else {
            c.name.clone()
        };
        out.push_str(&format!(
            "{name},{},{},{},{},{},{}\n",
            c.estimate, c.std_error, c.z, c.p_value, c.ci_low, c.ci_high
        ));
    }
    out
}

/// Coefficients keyed by name (the `coefficients.json` of `--out`).
pub fn coefficients_by_name(report: &FitReport) -> BTreeMap<String, &CoefRow> {
    report
        .coefficients
        .iter()
        .map(|c| (c.name.clone(), c))
        .collect()
}

/// A human-readable summary.
pub fn summary(report: &FitReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} model of `{}` on {} rows",
        report.family, report.label, report.rows
    );
    for i in &report.encoding.inputs {
        if let Input::Categorical {
            column, reference, ..
        } = i
        {
            let _ = writeln!(s, "  `{column}`: one-hot, reference level {reference:?}");
        }
    }
    if !report.coefficients.is_empty() {
        let w = report
            .coefficients
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(
            s,
            "{:<w$}  {:>11}  {:>10}  {:>8}  {:>9}  {:>23}",
            "term", "estimate", "std.err", "z", "p", "95% CI"
        );
        for c in &report.coefficients {
            let _ = writeln!(
                s,
                "{:<w$}  {:>11.6}  {:>10.6}  {:>8.3}  {:>9.3e}  [{:>10.5}, {:>10.5}]",
                c.name, c.estimate, c.std_error, c.z, c.p_value, c.ci_low, c.ci_high
            );
        }
    }
    if !report.dropped.is_empty() {
        let _ = writeln!(s, "dropped: {}", report.dropped.join(", "));
    }
    if let Some((a, se)) = report.dispersion {
        let _ = writeln!(s, "NB2 dispersion alpha = {a:.6} (SE {se:.6})");
    }
    if let (Some(dev), Some(ll), Some(aic), Some(bic)) = (
        report.deviance,
        report.log_likelihood,
        report.aic,
        report.bic,
    ) {
        let _ = writeln!(
            s,
            "deviance {dev:.4} (null {:.4}), log-likelihood {ll:.4}, AIC {aic:.4}, BIC {bic:.4}, {} parameters",
            report.null_deviance.unwrap_or(f64::NAN),
            report.parameters
        );
    }
    let line = |s: &mut String, what: &str, m: &Metrics| {
        let body = match (&m.count, &m.binary) {
            (Some(c), _) => format!(
                "deviance {:.4}, D2 {:.4}, MAE {:.4}, RMSE {:.4}",
                c.deviance, c.d2, c.mae, c.rmse
            ),
            (_, Some(b)) => format!(
                "AUC {:.4}, Brier {:.4}, log-loss {:.4}",
                b.auc, b.brier, b.log_loss
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "{what} ({} rows): {body}; max prediction {:.4e}",
            m.rows, m.prediction_check.max_prediction
        );
        if let Some(w) = m.prediction_check.warning(report.family) {
            let _ = writeln!(s, "{w}");
        }
    };
    line(&mut s, "in-sample", &report.train);
    for (i, f) in report.folds.iter().enumerate() {
        line(&mut s, &format!("fold {}", i + 1), f);
    }
    if let Some(v) = &report.validation {
        line(
            &mut s,
            if report.folds.is_empty() {
                "test rows"
            } else {
                "out-of-fold"
            },
            v,
        );
    }
    s
}
