//! `caregap model train|evaluate|predict|bench`: next-year primary-care visit
//! models on the library's `[[feature]]` columns (see `models/README.md`,
//! "The `caregap model` commands", for every rule this file implements).
//!
//! - **Features** are the library's features evaluated by the engine at the
//!   feature date `t` (booleans 1/0, null → NaN), for the people alive on `t`.
//! - **Label** is `count(visit.primary_care, 12mo)` evaluated at `t + 12
//!   months`, i.e. primary-care events in `(t, t + 1y]`, with the library's own
//!   `visit.primary_care` value set. The label is evaluated with death dates
//!   ignored, so a person who dies during the label year keeps the visits
//!   made before death (a partial count).
//! - **Horizon** H (`train --horizon`, `bench --horizons`; default 1): the
//!   label is the visits in year H after the feature date; training features
//!   then sit at `as_of − H years` (labels still in the year to `as_of`).
//! - **Split**: temporal by default (train on features at `as_of − 1y`, labels
//!   in `(as_of − 1y, as_of]`; test on features at `as_of`, labels in
//!   `(as_of, as_of + 1y]`, read from `events_future.parquet` when present);
//!   `--kfold K` uses random folds on the training period only.
//! - **Consent**: a person whose latest `research` decision on or before the
//!   label end of a set is a withdrawal is left out of that set (count
//!   reported). `predict` is an operational use and scores everyone alive.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use clap::{Args as ClapArgs, Subcommand, ValueEnum};
use serde_json::json;
use sha2::{Digest, Sha256};

use caregap::data::{self, ConsentScope, Day, LoadOptions, Population};
use caregap::eval::{self, EvalOptions, EvidenceMode, FeatureValues};
use caregap::lang::ir::{Expr, ExprKind, Feature, Library};
use caregap::modelreport;
use caregap::output::{self, StagingDir, tables};
use caregap::plan::{self, Plan};
use caregap_models::baseline::{AgeSexBaseline, LastYearBaseline, MeanBaseline};
use caregap_models::forest::{Forest, ForestParams};
use caregap_models::gbm::{self, GbmParams, Objective};
use caregap_models::glm::{self, GlmParams};
use caregap_models::logistic::{LogisticModel, LogisticParams};
use caregap_models::metrics::{self, CalibrationBin, PredictionCheck};
use caregap_models::report::BootstrapConfig;
use caregap_models::saved::{FORMAT_VERSION, FittedModel, SavedModel};
use caregap_models::{Dataset, kfold};

/// The largest `--horizon` (years ahead) of the population models.
const MAX_HORIZON: u32 = 3;
/// The label's expression (also recorded in saved models).
pub const LABEL_EXPR: &str = "count(visit.primary_care, 12mo)";
/// The value set the label counts.
const LABEL_VALUE_SET: &str = "visit.primary_care";
/// Features the baselines read.
const AGE_FEATURE: &str = "age";
const SEX_FEATURE: &str = "female";
const LAST_YEAR_FEATURE: &str = "visits_pc_12mo";
/// Age bands of the age-sex baseline, in years.
const AGE_BAND_YEARS: f64 = 5.0;
/// Floor of the last-year baseline (finite deviance for zero counts).
const LAST_YEAR_FLOOR: f64 = 0.1;
/// The classifiers' target: in the top 10 % of the year's visits.
const TOP_FRACTION: f64 = 0.1;

#[derive(ClapArgs, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fit one model on features at AS_OF − 1y and visits in (AS_OF − 1y, AS_OF]; save it as JSON.
    Train(TrainArgs),
    /// Score a saved model on features at AS_OF and visits in (AS_OF, AS_OF + 1y].
    Evaluate(EvaluateArgs),
    /// Predict next-year visits for everyone alive on AS_OF (Parquet).
    Predict(PredictArgs),
    /// Train every model on the same split; comparison table (CSV, JSON) and calibration chart.
    Bench(BenchArgs),
    /// Fit one model on any table (Parquet or CSV): coefficients, fit statistics, validation.
    Fit(FitArgs),
}

#[derive(ClapArgs, Debug)]
struct Common {
    /// Folder of the population's Parquet tables (with events_future.parquet for test labels).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Criteria library whose [[feature]] definitions are the model's features.
    #[arg(long, value_name = "LIBRARY")]
    criteria: PathBuf,
    /// The split date, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    as_of: String,
    /// Make any unusable input row an error instead of counting it.
    #[arg(long)]
    strict: bool,
}

#[derive(ClapArgs, Debug, Clone, Copy)]
struct FitOptions {
    /// Boosting rounds (GBM models).
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    /// L2 penalty of the GLMs (0 = none).
    #[arg(long, default_value_t = 0.0)]
    l2: f64,
    /// Seed for folds, GBM sampling and the forest.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(ClapArgs, Debug)]
struct TrainArgs {
    #[command(flatten)]
    common: Common,
    /// Which model.
    #[arg(long, value_enum)]
    model: Kind,
    /// Also report K-fold cross-validated metrics on the training period.
    #[arg(long, value_name = "K")]
    kfold: Option<usize>,
    /// Predict visits in year H after the feature date (1, 2 or 3): features
    /// at AS_OF − H years, labels in (AS_OF − 1y, AS_OF].
    #[arg(long, value_name = "H", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_HORIZON as i64))]
    horizon: u32,
    #[command(flatten)]
    fit: FitOptions,
    /// The model file to write (JSON).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Also write the model report (report.html, its .svg figures, report.json)
    /// into this folder: out-of-fold predictions with --kfold, else in-sample.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    #[command(flatten)]
    report_options: ReportOptions,
}

#[derive(ClapArgs, Debug)]
struct EvaluateArgs {
    /// A model file written by `caregap model train`.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    common: Common,
}

#[derive(ClapArgs, Debug)]
struct PredictArgs {
    /// A model file written by `caregap model train` (or `model fit --out`: its model.json, with --table).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Folder of the population's Parquet tables.
    #[arg(long, value_name = "DIR", required_unless_present = "table")]
    data: Option<PathBuf>,
    /// Criteria library whose [[feature]] definitions are the model's features.
    #[arg(long, value_name = "LIBRARY", required_unless_present = "table")]
    criteria: Option<PathBuf>,
    /// The date to predict from, YYYY-MM-DD.
    #[arg(long, value_name = "DATE", required_unless_present = "table")]
    as_of: Option<String>,
    /// Make any unusable input row an error instead of counting it.
    #[arg(long)]
    strict: bool,
    /// Predict for the rows of this table (Parquet or .csv) with a `model fit` model instead.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["data", "criteria", "as_of"])]
    table: Option<PathBuf>,
    /// Predictions to write (Parquet: patient_id, clinic_id, predicted_visits or p_top10;
    /// with --table: row, prediction).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(ClapArgs, Debug)]
struct FitArgs {
    /// The table: Parquet, or CSV with a header when the name ends in .csv.
    #[arg(long, value_name = "FILE")]
    table: PathBuf,
    /// The label column (counts; 0/1 or boolean for the logistic families).
    #[arg(long, value_name = "COL")]
    label: String,
    /// Covariates (comma-separated); default every other column.
    #[arg(
        long,
        value_name = "COLS",
        value_delimiter = ',',
        conflicts_with = "exclude"
    )]
    features: Option<Vec<String>>,
    /// Columns to leave out of the default covariates.
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    exclude: Vec<String>,
    /// Row-weight column (> 0).
    #[arg(long, value_name = "COL")]
    weights: Option<String>,
    /// Offset column added to the linear predictor (log person-time for counts).
    #[arg(long, value_name = "COL")]
    offset: Option<String>,
    /// Unbounded count covariates the linear models enter as ln(1 + x).
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    log1p: Vec<String>,
    /// Model family.
    #[arg(long, value_enum)]
    family: caregap::tablemodel::Family,
    /// K-fold cross-validation (per-fold and pooled metrics); the model is then fitted on every row.
    #[arg(long, value_name = "K", conflicts_with = "split")]
    kfold: Option<usize>,
    /// Split column: train/test (text) or 0/1, false/true (1 = test).
    #[arg(long, value_name = "COL")]
    split: Option<String>,
    /// L2 penalty of the Poisson/NB2 GLMs.
    #[arg(long, default_value_t = 0.0)]
    l2: f64,
    /// L2 penalty of the logistic model on standardised coefficients (0 = maximum likelihood).
    #[arg(long, default_value_t = 0.0)]
    alpha: f64,
    /// Boosting rounds.
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    /// Seed for folds and the booster.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output folder: model.json, report.json, coefficients.csv, coefficients.json,
    /// report.html and its figures as .svg (replaced atomically).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Report: observed against predicted per value of this integer or text column.
    #[arg(long, value_name = "COL")]
    group: Option<String>,
    #[command(flatten)]
    report: ReportOptions,
}

#[derive(ClapArgs, Debug, Clone, Copy)]
struct ReportOptions {
    /// Bootstrap resamples of the report's 95 % intervals (0 = none).
    #[arg(long, value_name = "N", default_value_t = caregap_models::report::DEFAULT_RESAMPLES)]
    bootstrap: usize,
    /// Seed of the bootstrap resamples.
    #[arg(long, value_name = "SEED", default_value_t = 42)]
    bootstrap_seed: u64,
}

impl ReportOptions {
    fn config(self) -> BootstrapConfig {
        BootstrapConfig {
            resamples: self.bootstrap,
            seed: self.bootstrap_seed,
            level: 0.95,
        }
    }
}

/// Writes the model report's files (report.html and the figures) into `dir`
/// (a staging folder: the command's outputs switch into place together).
fn write_report(dir: &Path, report: &modelreport::ModelReport) -> Result<()> {
    for (name, text) in modelreport::files(report)? {
        std::fs::write(dir.join(&name), text).with_context(|| format!("cannot write {name}"))?;
    }
    Ok(())
}

#[derive(ClapArgs, Debug)]
struct BenchArgs {
    #[command(flatten)]
    common: Common,
    /// Random K-fold on the training period instead of the temporal split.
    #[arg(long, value_name = "K")]
    kfold: Option<usize>,
    #[command(flatten)]
    fit: FitOptions,
    /// Output folder: bench.csv, bench.json, report.html and its figures as .svg
    /// (calibration.svg, groups.svg, capture.svg, ...), replaced atomically.
    #[arg(long, value_name = "OUTDIR")]
    out: PathBuf,
    /// Also write the bench's exact train and test sets for
    /// models/scripts/compare.py: train.csv, test.csv (one column per feature,
    /// empty = missing; y; top10; test also mu_true from truth.parquet) and
    /// ours.json (configuration, metrics, timings). Temporal split only.
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Horizons to bench (comma-separated, each 1..=3): the label is visits in
    /// year H after the feature date. Several: OUTDIR/horizon-H/ each, and
    /// OUTDIR/horizons.csv. The data must reach AS_OF + the largest H years
    /// (`caregap synth --future-years 3`).
    #[arg(
        long,
        value_name = "H,..",
        value_delimiter = ',',
        default_value = "1",
        value_parser = clap::value_parser!(u32).range(1..=MAX_HORIZON as i64)
    )]
    horizons: Vec<u32>,
    #[command(flatten)]
    report: ReportOptions,
}

struct PredictFromPopulation {
    model: PathBuf,
    common: Common,
    out: PathBuf,
}

/// The models. Classifiers predict P(in the top 10 % of the year's visits).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mean,
    AgeSex,
    LastYear,
    Poisson,
    Nb,
    Gbm,
    Forest,
    Logistic,
    GbmLogistic,
}

impl Kind {
    const ALL: [Kind; 9] = [
        Kind::Mean,
        Kind::AgeSex,
        Kind::LastYear,
        Kind::Poisson,
        Kind::Nb,
        Kind::Gbm,
        Kind::Forest,
        Kind::Logistic,
        Kind::GbmLogistic,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Mean => "mean",
            Kind::AgeSex => "age-sex",
            Kind::LastYear => "last-year",
            Kind::Poisson => "poisson",
            Kind::Nb => "nb",
            Kind::Gbm => "gbm",
            Kind::Forest => "forest",
            Kind::Logistic => "logistic",
            Kind::GbmLogistic => "gbm-logistic",
        }
    }

    fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    fn is_classifier(self) -> bool {
        matches!(self, Kind::Logistic | Kind::GbmLogistic)
    }
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Train(a) => train(a),
        Command::Evaluate(a) => evaluate(a),
        Command::Predict(a) => predict(a),
        Command::Bench(a) => bench(a),
        Command::Fit(a) => fit_table(a),
    }
}

// ---------------------------------------------------------------- data sets

/// The compiled library: feature plan, label plan and the features' hash.
struct Source {
    plan: Plan,
    label_plan: Plan,
    names: Vec<String>,
    /// Features whose expression is a `count(...)` (unbounded counts): the
    /// linear models enter them as `ln(1 + x)`.
    counts: Vec<String>,
    hash: String,
    library_hash: String,
}

fn source(criteria: &Path) -> Result<Source> {
    let library = super::check::load_library(criteria)?;
    if library.features.is_empty() {
        bail!(
            "the library {} has no [[feature]]; the models need features",
            criteria.display()
        );
    }
    let Some(vs) = library
        .value_sets
        .iter()
        .position(|v| v.name == LABEL_VALUE_SET)
    else {
        bail!(
            "the library {} has no value set `{LABEL_VALUE_SET}`, which defines the label \
             (primary-care visits); add it",
            criteria.display()
        );
    };
    // The label library: the loaded library's value sets and one feature.
    let label = Library {
        value_sets: library.value_sets.clone(),
        features: vec![Feature {
            name: "label".into(),
            expr: Expr {
                ty: caregap::lang::ir::Type::Num,
                span: Default::default(),
                kind: ExprKind::Agg(caregap::lang::ir::Aggregate {
                    func: caregap::lang::ir::AggFunc::Count,
                    value_set: vs,
                    window: Some(caregap::lang::ir::Window::Months(12)),
                }),
            },
            origin: library.features[0].origin.clone(),
        }],
        ..Default::default()
    };
    Ok(Source {
        plan: plan::compile(&library),
        label_plan: plan::compile(&label),
        names: library.features.iter().map(|f| f.name.clone()).collect(),
        counts: library
            .features
            .iter()
            .filter(|f| is_count(&f.expr, &library))
            .map(|f| f.name.clone())
            .collect(),
        hash: features_hash(&library),
        library_hash: library.hash.clone(),
    })
}

/// Whether `e` is `count(...)`, directly or through definitions.
fn is_count(e: &Expr, lib: &Library) -> bool {
    match &e.kind {
        ExprKind::Agg(a) => a.func == caregap::lang::ir::AggFunc::Count,
        ExprKind::Def(id) => lib
            .definitions
            .get(*id)
            .is_some_and(|d| is_count(&d.expr, lib)),
        _ => false,
    }
}

/// SHA-256 over a canonical text of every feature: its name and expression
/// with definitions inlined and value sets spelled out (kind, systems,
/// patterns, unit). Formatting, comments and unrelated criteria do not change
/// it; any change of what a feature computes does.
fn features_hash(lib: &Library) -> String {
    let mut text = String::new();
    for f in &lib.features {
        let _ = write!(text, "{}=", f.name);
        canon(&f.expr, lib, &mut text);
        text.push('\n');
    }
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn canon(e: &Expr, lib: &Library, out: &mut String) {
    let list = |name: &str, xs: &[&Expr], out: &mut String| {
        let _ = write!(out, "{name}(");
        for x in xs {
            canon(x, lib, out);
            out.push(',');
        }
        out.push(')');
    };
    match &e.kind {
        ExprKind::Lit(l) => {
            let _ = write!(out, "{l:?}");
        }
        ExprKind::Age => out.push_str("age"),
        ExprKind::Sex => out.push_str("sex"),
        ExprKind::Clinic => out.push_str("clinic"),
        ExprKind::Def(id) => match lib.definitions.get(*id) {
            Some(d) => list(&format!("def:{}", d.name), &[&d.expr], out),
            None => out.push_str("def:?"),
        },
        ExprKind::Agg(a) => {
            let _ = write!(out, "{:?}({:?},", a.func, a.window);
            match lib.value_sets.get(a.value_set) {
                Some(v) => {
                    let _ = write!(out, "{}:{:?}:{:?}:{:?})", v.name, v.kind, v.unit, v.systems);
                }
                None => out.push_str("?)"),
            }
        }
        ExprKind::Not(x) => list("not", &[x], out),
        ExprKind::Neg(x) => list("neg", &[x], out),
        ExprKind::Abs(x) => list("abs", &[x], out),
        ExprKind::Round(x) => list("round", &[x], out),
        ExprKind::And(a, b) => list("and", &[a, b], out),
        ExprKind::Or(a, b) => list("or", &[a, b], out),
        ExprKind::Cmp(op, a, b) => list(&format!("{op:?}"), &[a, b], out),
        ExprKind::Arith(op, a, b) => list(&format!("{op:?}"), &[a, b], out),
        ExprKind::Between(a, b, c) => list("between", &[a, b, c], out),
        ExprKind::If(a, b, c) => list("if", &[a, b, c], out),
        ExprKind::In(a, xs) => {
            let mut all: Vec<&Expr> = vec![a];
            all.extend(xs.iter());
            list("in", &all, out);
        }
        ExprKind::IsNull { expr, negated } => list(&format!("isnull{negated}"), &[expr], out),
        ExprKind::Coalesce(xs) => list("coalesce", &xs.iter().collect::<Vec<_>>(), out),
        ExprKind::Least(xs) => list("least", &xs.iter().collect::<Vec<_>>(), out),
        ExprKind::Greatest(xs) => list("greatest", &xs.iter().collect::<Vec<_>>(), out),
    }
}

fn parse_date(s: &str) -> Result<Day> {
    data::parse_day(s)
        .with_context(|| format!("--as-of {s:?} is not a date; write it as YYYY-MM-DD"))
}

/// `day` moved by `months` calendar months (the end of month when the day does not exist).
fn add_months(day: Day, months: i32) -> Result<Day> {
    let date = data::date_from_day(day).context("date out of range")?;
    let moved = if months >= 0 {
        date.checked_add_months(chrono::Months::new(months.unsigned_abs()))
    } else {
        date.checked_sub_months(chrono::Months::new(months.unsigned_abs()))
    };
    Ok(data::day_from_date(moved.context("date out of range")?))
}

/// The population and consents, loaded with `as_of = until`; with
/// `events_future.parquet` when `future` and the file exists.
struct Loaded {
    pop: Population,
    consents: data::Consents,
    future_file: Option<PathBuf>,
}

fn load(common: &Common, until: Day, future: bool) -> Result<Loaded> {
    let future_path = common.data.join("events_future.parquet");
    let future_file = (future && future_path.is_file()).then_some(future_path);
    let opts = LoadOptions {
        as_of: until,
        strict: common.strict,
        extra_event_files: future_file.iter().cloned().collect(),
    };
    let ds = data::load(&common.data, &opts)
        .with_context(|| format!("cannot load the population from {}", common.data.display()))?;
    Ok(Loaded {
        pop: ds.population,
        consents: ds.consents,
        future_file,
    })
}

/// One modelling set: population indices, features and (optionally) labels.
struct Set {
    rows: Vec<u32>,
    data: Dataset,
    /// People alive on the feature date left out for research consent.
    removed: usize,
    feature_day: Day,
    /// The label year `(from, end]` (year `horizon` after the feature date).
    label: Option<(Day, Day)>,
}

impl Set {
    fn describe(&self) -> String {
        match self.label {
            Some((from, end)) => format!(
                "features at {}, visits in ({}, {}]",
                data::format_day(self.feature_day),
                data::format_day(from),
                data::format_day(end)
            ),
            None => format!("features at {}", data::format_day(self.feature_day)),
        }
    }
}

fn engine_options() -> EvalOptions<'static> {
    EvalOptions {
        evidence: EvidenceMode::Firings,
        progress: None,
    }
}

/// The label year of horizon `h` from `feature_day`: visits in
/// `(feature_day + (h − 1) years, feature_day + h years]`.
fn label_year(feature_day: Day, h: u32) -> Result<(Day, Day)> {
    let months = 12 * h as i32;
    Ok((
        add_months(feature_day, months - 12)?,
        add_months(feature_day, months)?,
    ))
}

/// Builds the set of people alive on `feature_day`. With a `horizon` h,
/// counts their primary-care visits in year h after it ([`label_year`]).
/// With `research`, leaves out people without research consent on the label
/// end (or the feature date without labels).
fn make_set(
    src: &Source,
    loaded: &mut Loaded,
    data_dir: &Path,
    feature_day: Day,
    horizon: Option<u32>,
    research: bool,
) -> Result<Set> {
    let pop = &mut loaded.pop;
    let ev = eval::evaluate(&src.plan, pop, feature_day, &engine_options())
        .context("cannot evaluate the library's features")?;
    let label = horizon.map(|h| label_year(feature_day, h)).transpose()?;
    let label_end = label.map(|(_, end)| end);
    let label_by_person = match label {
        Some((from, end)) => Some(label_counts(src, pop, from, end, data_dir)?),
        None => None,
    };
    let allowed = research.then(|| {
        loaded
            .consents
            .allowed(ConsentScope::Research, label_end.unwrap_or(feature_day))
    });
    let keep: Vec<usize> = (0..ev.alive.len())
        .filter(|&i| allowed.as_ref().is_none_or(|a| a[ev.alive[i] as usize]))
        .collect();
    let columns: Vec<Vec<f64>> = ev
        .features
        .iter()
        .map(|f| {
            keep.iter()
                .map(|&i| match (&f.values, f.valid[i]) {
                    (_, false) => f64::NAN,
                    (FeatureValues::Num(v), true) => v[i],
                    (FeatureValues::Bool(v), true) => f64::from(u8::from(v[i])),
                })
                .collect()
        })
        .collect();
    let rows: Vec<u32> = keep.iter().map(|&i| ev.alive[i]).collect();
    let y: Vec<f64> = match &label_by_person {
        Some(l) => rows.iter().map(|&p| l[p as usize]).collect(),
        None => vec![0.0; rows.len()],
    };
    let data = Dataset::new(src.names.clone(), columns, y, None)
        .and_then(|d| d.with_log1p(&src.counts))
        .context("cannot build the modelling data set")?;
    Ok(Set {
        removed: ev.alive.len() - rows.len(),
        rows,
        data,
        feature_day,
        label,
    })
}

/// Per population index, the label count in `(from, end]`, evaluated with
/// death dates ignored so that people who die in the year keep their visits.
fn label_counts(
    src: &Source,
    pop: &mut Population,
    from: Day,
    end: Day,
    data_dir: &Path,
) -> Result<Vec<f64>> {
    if end > pop.as_of {
        bail!(
            "internal: labels up to {} need the population loaded up to that date",
            data::format_day(end)
        );
    }
    if !pop.events.date.iter().any(|&d| d > from && d <= end) {
        bail!(
            "{} has no event in ({}, {}], so next-year visits cannot be counted; the label \
             year needs events_future.parquet (as written by `caregap synth`) or data \
             reaching {}",
            data_dir.display(),
            data::format_day(from),
            data::format_day(end),
            data::format_day(end)
        );
    }
    let n = pop.patients.len();
    let deaths = std::mem::replace(&mut pop.patients.death_date, vec![None; n]);
    let ev = eval::evaluate(&src.label_plan, pop, end, &engine_options());
    pop.patients.death_date = deaths;
    let ev = ev.context("cannot count the label visits")?;
    let mut out = vec![f64::NAN; n];
    if let Some(col) = ev.features.first()
        && let FeatureValues::Num(v) = &col.values
    {
        for (i, &p) in ev.alive.iter().enumerate() {
            out[p as usize] = if col.valid[i] { v[i] } else { 0.0 };
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------ models

enum Fitted {
    Saved(FittedModel),
    Forest(Forest),
}

impl Fitted {
    fn predict(&self, d: &Dataset) -> Result<Vec<f64>> {
        Ok(match self {
            Fitted::Saved(m) => m.predict(d)?,
            Fitted::Forest(m) => m.predict(d)?,
        })
    }
}

/// The GBM configuration of `caregap model` (crate defaults but rounds and seed).
fn gbm_params(objective: Objective, opts: &FitOptions) -> GbmParams {
    GbmParams {
        objective,
        num_rounds: opts.rounds,
        seed: opts.seed,
        ..GbmParams::default()
    }
}

/// The Poisson objective of the `gbm` model (LightGBM's `poisson_max_delta_step`).
const GBM_POISSON: Objective = Objective::Poisson {
    max_delta_step: 0.7,
};

/// The classifiers' 0/1 labels: in the top 10 % of `y` (the set's own counts).
fn top10(y: &[f64]) -> Vec<f64> {
    metrics::top_labels(y, metrics::top_threshold(y, TOP_FRACTION))
}

/// Fits `kind` on `train` (count labels; classifiers convert them to top-10 % labels).
fn fit(kind: Kind, train: &Dataset, opts: &FitOptions) -> Result<Fitted> {
    let glm_params = GlmParams {
        l2: opts.l2,
        ..GlmParams::default()
    };
    let top = || -> Result<Dataset> { Ok(train.with_labels(top10(train.labels()))?) };
    let m = match kind {
        Kind::Mean => FittedModel::Mean(MeanBaseline::fit(train)?),
        Kind::AgeSex => FittedModel::AgeSex(
            AgeSexBaseline::fit(train, AGE_FEATURE, SEX_FEATURE, AGE_BAND_YEARS)
                .context("the age-sex baseline needs the features `age` and `female`")?,
        ),
        Kind::LastYear => FittedModel::LastYear(
            LastYearBaseline::fit(train, LAST_YEAR_FEATURE, LAST_YEAR_FLOOR)
                .context("the last-year baseline needs the feature `visits_pc_12mo`")?,
        ),
        Kind::Poisson => FittedModel::Glm(glm::fit_poisson(train, &glm_params)?),
        Kind::Nb => FittedModel::Glm(glm::fit_negative_binomial(train, &glm_params)?),
        Kind::Gbm => FittedModel::Gbm(gbm::train(train, None, &gbm_params(GBM_POISSON, opts))?),
        Kind::Logistic => {
            FittedModel::Logistic(LogisticModel::fit(&top()?, &LogisticParams::default())?)
        }
        Kind::GbmLogistic => FittedModel::Gbm(gbm::train(
            &top()?,
            None,
            &gbm_params(Objective::Logistic, opts),
        )?),
        Kind::Forest => {
            return Ok(Fitted::Forest(Forest::fit(
                train,
                &ForestParams {
                    seed: opts.seed,
                    ..ForestParams::default()
                },
            )?));
        }
    };
    Ok(Fitted::Saved(m))
}

/// Metrics of one model on one test set; classifier rows carry AUC/Brier and
/// the count metrics that make sense for a score (Spearman, top-10 % share).
#[derive(serde::Serialize, Clone)]
struct Scored {
    model: String,
    rows: usize,
    deviance: Option<f64>,
    d2: Option<f64>,
    mae: Option<f64>,
    rmse: Option<f64>,
    spearman: f64,
    top10_share: f64,
    auc: Option<f64>,
    brier: Option<f64>,
    train_seconds: Option<f64>,
    /// CPU seconds (user + system, all threads) of the fit; steadier than
    /// wall time on a shared machine.
    train_cpu_seconds: Option<f64>,
    calibration: Vec<CalibrationBin>,
    /// Whether the predictions stay in the plausible range (`[0, 10 × the
    /// largest training label]` for counts, `[0, 1]` for probabilities).
    prediction_check: Option<PredictionCheck>,
    /// Why the model could not be fitted (bench only; the other fields are empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Scored {
    fn failed(kind: Kind, rows: usize, error: String) -> Scored {
        Scored {
            model: kind.name().into(),
            rows,
            deviance: None,
            d2: None,
            mae: None,
            rmse: None,
            spearman: f64::NAN,
            top10_share: f64::NAN,
            auc: None,
            brier: None,
            train_seconds: None,
            train_cpu_seconds: None,
            calibration: Vec::new(),
            prediction_check: None,
            error: Some(error),
        }
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The plausibility check of `pred` for `kind` (`train_max`: the largest
/// training count label).
fn check_predictions(kind: Kind, pred: &[f64], train_max: f64) -> PredictionCheck {
    if kind.is_classifier() {
        PredictionCheck::probabilities(pred)
    } else {
        PredictionCheck::counts(pred, train_max)
    }
}

fn max_label(d: &Dataset) -> f64 {
    d.labels().iter().copied().fold(0.0, f64::max)
}

/// Scores `pred` and checks that it is plausible, printing a warning on stderr
/// when it is not.
fn score_checked(kind: Kind, y: &[f64], pred: &[f64], train: &Dataset) -> Scored {
    let mut s = score(kind, y, pred, mean_label(train));
    let check = check_predictions(kind, pred, max_label(train));
    if let Some(w) = check.warning(kind.name()) {
        eprintln!("{w}");
    }
    s.prediction_check = Some(check);
    s
}

fn score(kind: Kind, y: &[f64], pred: &[f64], train_mean: f64) -> Scored {
    let (deviance, d2, mae, rmse, auc, brier, calibration) = if kind.is_classifier() {
        let c = metrics::ClassReport::new(&top10(y), pred);
        (
            None,
            None,
            None,
            None,
            Some(c.auc),
            Some(c.brier),
            c.calibration,
        )
    } else {
        let c = metrics::CountReport::new(y, pred, train_mean);
        (
            Some(c.deviance),
            Some(c.d2),
            Some(c.mae),
            Some(c.rmse),
            None,
            None,
            c.calibration,
        )
    };
    Scored {
        model: kind.name().into(),
        rows: y.len(),
        deviance,
        d2,
        mae,
        rmse,
        spearman: metrics::spearman(y, pred),
        top10_share: metrics::top_share(y, pred, TOP_FRACTION),
        auc,
        brier,
        train_seconds: None,
        train_cpu_seconds: None,
        calibration,
        prediction_check: None,
        error: None,
    }
}

/// Out-of-fold predictions of `kind` over `k` random folds of `set`, scored.
fn cross_validate(
    kind: Kind,
    set: &Dataset,
    k: usize,
    opts: &FitOptions,
) -> Result<(Scored, Vec<f64>)> {
    let t = Stopwatch::start();
    let mut oof = vec![f64::NAN; set.n_rows()];
    for fold in kfold(set.n_rows(), k, opts.seed)? {
        let m = fit(kind, &set.subset(&fold.train), opts)?;
        let p = m.predict(&set.subset(&fold.test))?;
        for (&i, v) in fold.test.iter().zip(p) {
            oof[i] = v;
        }
    }
    let mut s = score_checked(kind, set.labels(), &oof, set);
    (s.train_seconds, s.train_cpu_seconds) = t.seconds();
    Ok((s, oof))
}

/// Wall and CPU seconds since [`Stopwatch::start`].
struct Stopwatch {
    wall: Instant,
    cpu: f64,
}

impl Stopwatch {
    fn start() -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            cpu: caregap::timing::cpu_seconds(),
        }
    }

    /// `(wall, cpu)`; CPU is `None` where /proc is not available.
    fn seconds(&self) -> (Option<f64>, Option<f64>) {
        let cpu = caregap::timing::cpu_seconds();
        (
            Some(self.wall.elapsed().as_secs_f64()),
            (cpu > 0.0).then_some(cpu - self.cpu),
        )
    }
}

fn mean_label(d: &Dataset) -> f64 {
    d.labels().iter().sum::<f64>() / d.n_rows().max(1) as f64
}

// ---------------------------------------------------------------- commands

fn train(a: TrainArgs) -> Result<()> {
    let as_of = parse_date(&a.common.as_of)?;
    if a.model == Kind::Forest {
        bail!(
            "the random forest cannot be saved (smartcore); use it in `caregap model bench`, \
             or train gbm"
        );
    }
    let src = source(&a.common.criteria)?;
    let mut loaded = load(&a.common, as_of, false)?;
    let feature_day = add_months(as_of, -12 * a.horizon as i32)?;
    let set = make_set(
        &src,
        &mut loaded,
        &a.common.data,
        feature_day,
        Some(a.horizon),
        true,
    )?;
    eprintln!(
        "training set: {} people ({}); {} left out for withdrawn research consent",
        set.rows.len(),
        set.describe(),
        set.removed
    );
    let mut metrics = std::collections::BTreeMap::new();
    metrics.insert("train_rows".to_string(), set.rows.len() as f64);
    metrics.insert("train_label_mean".to_string(), mean_label(&set.data));
    metrics.insert("removed_research_consent".to_string(), set.removed as f64);
    let mut oof = None;
    if let Some(k) = a.kfold {
        let (cv, pred) = cross_validate(a.model, &set.data, k, &a.fit)?;
        oof = Some(pred);
        print!("{}", table(&[cv_row(&cv)], None));
        for (name, v) in [
            ("cv_deviance", cv.deviance),
            ("cv_d2", cv.d2),
            ("cv_mae", cv.mae),
            ("cv_rmse", cv.rmse),
            ("cv_auc", cv.auc),
            ("cv_brier", cv.brier),
            ("cv_spearman", Some(cv.spearman)),
            ("cv_top10_share", Some(cv.top10_share)),
        ] {
            if let Some(v) = v.and_then(finite) {
                metrics.insert(name.to_string(), v);
            }
        }
    }
    let t = Stopwatch::start();
    let Fitted::Saved(model) = fit(a.model, &set.data, &a.fit)? else {
        bail!("this model cannot be saved");
    };
    let (wall, cpu) = t.seconds();
    metrics.extend(
        [("train_seconds", wall), ("train_cpu_seconds", cpu)]
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?))),
    );
    let in_sample = model.predict(&set.data)?;
    let s = score_checked(a.model, set.data.labels(), &in_sample, &set.data);
    if let Some(c) = &s.prediction_check {
        metrics.insert("train_max_prediction".to_string(), c.max_prediction);
        metrics.insert(
            "train_implausible_predictions".to_string(),
            c.implausible as f64,
        );
        metrics.insert("plausible_limit".to_string(), c.limit);
    }
    metrics.insert("train_label_max".to_string(), max_label(&set.data));
    if let Some(d) = s.deviance {
        metrics.insert("train_deviance".to_string(), d);
    }
    if let Some(v) = s.auc {
        metrics.insert("train_auc".to_string(), v);
    }
    let saved = SavedModel {
        format_version: FORMAT_VERSION,
        kind: a.model.name().into(),
        features: src.names.clone(),
        features_hash: src.hash.clone(),
        training: [
            ("as_of", data::format_day(as_of)),
            ("feature_date", data::format_day(feature_day)),
            ("horizon", a.horizon.to_string()),
            (
                "label",
                if a.model.is_classifier() {
                    format!("top 10% of {LABEL_EXPR} at as_of")
                } else {
                    format!("{LABEL_EXPR} at as_of")
                },
            ),
            ("data", a.common.data.display().to_string()),
            ("library_hash", src.library_hash.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        params: json!({"rounds": a.fit.rounds, "l2": a.fit.l2, "seed": a.fit.seed}),
        metrics,
        model,
    };
    if let Some(dir) = &a.report {
        let (rows, pred) = match oof {
            Some(p) => (format!("{} out-of-fold", set.rows.len()), p),
            None => (format!("{} in-sample", set.rows.len()), in_sample),
        };
        let explained = [(
            a.model,
            model_explanation(&Fitted::Saved(saved.model.clone()), set.data.names()),
        )];
        let context = vec![
            ("data".to_string(), a.common.data.display().to_string()),
            ("model".to_string(), a.model.name().to_string()),
            ("training set".to_string(), set.describe()),
            ("rows described".to_string(), rows),
            ("horizon".to_string(), a.horizon.to_string()),
        ];
        let report = population_report(
            format!("caregap model train: {} model", a.model.name()),
            context,
            &a.report_options.config(),
            &set,
            mean_label(&set.data),
            &[(a.model, pred)],
            &explained,
        );
        let staging = StagingDir::new(dir)?;
        std::fs::write(
            staging.path("report.json"),
            serde_json::to_string_pretty(&json!({ "model_report": report }))?,
        )
        .context("cannot write report.json")?;
        write_report(staging.dir(), &report)?;
        staging.commit()?;
        eprintln!("wrote {} (the model report)", dir.display());
    }
    let text = saved.to_json()?;
    output::write_file_atomic(&a.out, text.as_bytes())?;
    eprintln!("wrote {} ({} model)", a.out.display(), a.model.name());
    Ok(())
}

/// The horizon a population model was trained for (1 for model files
/// written before horizons existed).
fn model_horizon(saved: &SavedModel) -> Result<u32> {
    match saved.training.get("horizon") {
        None => Ok(1),
        Some(h) => h
            .parse::<u32>()
            .ok()
            .filter(|h| (1..=MAX_HORIZON).contains(h))
            .with_context(|| format!("the model file's training horizon {h:?} is not 1..={MAX_HORIZON}; retrain the model")),
    }
}

fn read_model(path: &Path, src: &Source) -> Result<(SavedModel, Kind)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the model file {}", path.display()))?;
    let saved = SavedModel::load(&text, &src.names, &src.hash)
        .with_context(|| format!("cannot use the model {}", path.display()))?;
    let kind = Kind::from_name(&saved.kind).with_context(|| {
        format!(
            "{}: unknown model kind {:?}; retrain the model",
            path.display(),
            saved.kind
        )
    })?;
    Ok((saved, kind))
}

fn evaluate(a: EvaluateArgs) -> Result<()> {
    let as_of = parse_date(&a.common.as_of)?;
    let src = source(&a.common.criteria)?;
    let (saved, kind) = read_model(&a.model, &src)?;
    let h = model_horizon(&saved)?;
    let mut loaded = load(&a.common, label_year(as_of, h)?.1, true)?;
    let set = make_set(&src, &mut loaded, &a.common.data, as_of, Some(h), true)?;
    let pred = saved.model.predict(&set.data)?;
    let train_mean = saved
        .metrics
        .get("train_label_mean")
        .copied()
        .unwrap_or_else(|| mean_label(&set.data));
    let mut s = score(kind, set.data.labels(), &pred, train_mean);
    if let Some(&m) = saved.metrics.get("train_label_max") {
        let check = check_predictions(kind, &pred, m);
        if let Some(w) = check.warning(kind.name()) {
            eprintln!("{w}");
        }
        s.prediction_check = Some(check);
    }
    let mu_true = truth_means(&a.common.data, &loaded.pop, &set, h)?;
    let oracle = oracle(mu_true.as_deref(), &set);
    println!(
        "test set: {} people ({}); {} left out for withdrawn research consent",
        set.rows.len(),
        set.describe(),
        set.removed
    );
    print!("{}", table(&[s], oracle));
    Ok(())
}

fn fit_table(a: FitArgs) -> Result<()> {
    use caregap::tablemodel::{self, FitSpec, Validation};
    let table = tablemodel::read_table(&a.table)?;
    let spec = FitSpec {
        label: a.label,
        features: a.features,
        exclude: a.exclude,
        weights: a.weights,
        offset: a.offset,
        log1p: a.log1p,
        family: a.family,
        validation: match (a.kfold, a.split) {
            (Some(k), _) => Validation::KFold(k),
            (None, Some(c)) => Validation::Split(c),
            (None, None) => Validation::None,
        },
        l2: a.l2,
        alpha: a.alpha,
        rounds: a.rounds,
        seed: a.seed,
    };
    let fitted = tablemodel::fit(&table, &spec).with_context(|| {
        format!(
            "cannot fit the {} model on {}",
            a.family.name(),
            a.table.display()
        )
    })?;
    print!("{}", tablemodel::summary(&fitted.report));
    if let Some(out) = &a.out {
        let model_report = tablemodel::model_report(
            &fitted,
            &table,
            &a.table.display().to_string(),
            a.group.as_deref(),
            &a.report.config(),
        )?;
        let staging = StagingDir::new(out)?;
        let write = |name: &str, text: String| {
            std::fs::write(staging.path(name), text).with_context(|| format!("cannot write {name}"))
        };
        write("model.json", serde_json::to_string_pretty(&fitted.model)?)?;
        let mut report = serde_json::to_value(&fitted.report)?;
        report["model_report"] = serde_json::to_value(&model_report)?;
        write("report.json", serde_json::to_string_pretty(&report)?)?;
        write(
            "coefficients.csv",
            tablemodel::coefficients_csv(&fitted.report),
        )?;
        write(
            "coefficients.json",
            serde_json::to_string_pretty(&tablemodel::coefficients_by_name(&fitted.report))?,
        )?;
        write_report(staging.dir(), &model_report)?;
        let out = staging.commit()?;
        eprintln!("wrote {} (report.html: the model report)", out.display());
    }
    Ok(())
}

fn predict_table(model: &Path, table: &Path, out: &Path) -> Result<()> {
    use caregap::tablemodel::{self, TableModel};
    let text = std::fs::read_to_string(model)
        .with_context(|| format!("cannot read the model file {}", model.display()))?;
    let m =
        TableModel::from_json(&text).with_context(|| format!("cannot use {}", model.display()))?;
    let t = tablemodel::read_table(table)?;
    let (pred, check) = m
        .predict(&t)
        .with_context(|| format!("cannot predict for {}", table.display()))?;
    if let Some(w) = check.warning(m.family().name()) {
        eprintln!("{w}");
    }
    let rows: Vec<i64> = (0..pred.len() as i64).collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("row", DataType::Int64, false),
            Field::new("prediction", DataType::Float64, false),
        ])),
        vec![
            Arc::new(Int64Array::from(rows)) as ArrayRef,
            Arc::new(Float64Array::from(pred)) as ArrayRef,
        ],
    )
    .context("cannot build the predictions table")?;
    output::write_parquet_atomic(out, &batch)?;
    eprintln!(
        "predicted {} rows; wrote {}",
        batch.num_rows(),
        out.display()
    );
    Ok(())
}

fn predict(a: PredictArgs) -> Result<()> {
    if let Some(table) = &a.table {
        return predict_table(&a.model, table, &a.out);
    }
    let (Some(data), Some(criteria), Some(as_of)) = (a.data, a.criteria, a.as_of) else {
        bail!("give --data, --criteria and --as-of (or --table for a `model fit` model)");
    };
    let a = PredictFromPopulation {
        model: a.model,
        common: Common {
            data,
            criteria,
            as_of,
            strict: a.strict,
        },
        out: a.out,
    };
    let as_of = parse_date(&a.common.as_of)?;
    let src = source(&a.common.criteria)?;
    let (saved, kind) = read_model(&a.model, &src)?;
    let mut loaded = load(&a.common, as_of, false)?;
    let set = make_set(&src, &mut loaded, &a.common.data, as_of, None, false)?;
    let pred = saved.model.predict(&set.data)?;
    if let Some(&m) = saved.metrics.get("train_label_max")
        && let Some(w) = check_predictions(kind, &pred, m).warning(kind.name())
    {
        eprintln!("{w}");
    }
    let pop = &loaded.pop;
    let (pid_field, pid) = tables::patient_id_column(&pop.patients.ids, set.rows.iter().copied());
    let (clinic_field, clinic) = tables::clinic_id_column(pop, set.rows.iter().copied());
    let name = if kind.is_classifier() {
        "p_top10"
    } else {
        "predicted_visits"
    };
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            pid_field,
            clinic_field,
            Field::new(name, DataType::Float64, false),
        ])),
        vec![pid, clinic, Arc::new(Float64Array::from(pred)) as ArrayRef],
    )
    .context("cannot build the predictions table")?;
    output::write_parquet_atomic(&a.out, &batch)?;
    eprintln!(
        "predicted {} people alive on {} with the {} model; wrote {}",
        set.rows.len(),
        data::format_day(as_of),
        kind.name(),
        a.out.display()
    );
    Ok(())
}

fn bench(a: BenchArgs) -> Result<()> {
    let as_of = parse_date(&a.common.as_of)?;
    let src = source(&a.common.criteria)?;
    let temporal = a.kfold.is_none();
    let mut horizons = a.horizons.clone();
    horizons.sort_unstable();
    horizons.dedup();
    let several = horizons.len() > 1;
    if a.export.is_some() && !temporal {
        bail!("--export writes the temporal split's train and test sets; drop --kfold");
    }
    if a.export.is_some() && several {
        bail!("--export writes one horizon's train and test sets; give one --horizons value");
    }
    let last = *horizons
        .last()
        .context("--horizons needs at least one horizon")?;
    let until = if temporal {
        label_year(as_of, last)?.1
    } else {
        as_of
    };
    let mut loaded = load(&a.common, until, temporal)?;
    let staging = StagingDir::new(&a.out)?;
    let mut by_horizon = Vec::new();
    for &h in &horizons {
        let dir = if several {
            let d = staging.path(&format!("horizon-{h}"));
            std::fs::create_dir(&d).with_context(|| format!("cannot create {}", d.display()))?;
            println!("\nhorizon {h}: visits in year {h} after the feature date");
            d
        } else {
            staging.dir().to_path_buf()
        };
        by_horizon.push((h, bench_horizon(&a, &src, &mut loaded, as_of, h, &dir)?));
    }
    if several {
        std::fs::write(staging.path("horizons.csv"), horizons_csv(&by_horizon))
            .context("cannot write horizons.csv")?;
        print!("{}", horizons_table(&by_horizon));
    }
    let out = staging.commit()?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// One horizon of the bench: fits every model, writes bench.csv, bench.json
/// and the model report into `dir` (and the export), prints the table.
fn bench_horizon(
    a: &BenchArgs,
    src: &Source,
    loaded: &mut Loaded,
    as_of: Day,
    h: u32,
    dir: &Path,
) -> Result<Vec<Scored>> {
    let temporal = a.kfold.is_none();
    let train_day = add_months(as_of, -12 * h as i32)?;
    let train = make_set(src, loaded, &a.common.data, train_day, Some(h), true)?;
    let test = if temporal {
        Some(make_set(src, loaded, &a.common.data, as_of, Some(h), true)?)
    } else {
        None
    };
    let mut rows = Vec::new();
    let mut predictions: Vec<(Kind, Vec<f64>)> = Vec::new();
    let mut explained: Vec<(Kind, Explanation)> = Vec::new();
    let mut poisson_coefficients = None;
    let mut logistic_coefficients = None;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(Kind::ALL.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:14} [{bar:30}] {pos}/{len} models")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    for kind in Kind::ALL {
        if let Some(b) = &bar {
            b.set_message(kind.name());
        }
        let fitted = match (&test, a.kfold) {
            (Some(test), _) => (|| -> Result<(Scored, Vec<f64>)> {
                let t = Stopwatch::start();
                let m = fit(kind, &train.data, &a.fit)?;
                let secs = t.seconds();
                if let Fitted::Saved(FittedModel::Glm(g)) = &m
                    && kind == Kind::Poisson
                {
                    poisson_coefficients = Some(g.coefficients.clone());
                }
                if let Fitted::Saved(FittedModel::Logistic(l)) = &m {
                    logistic_coefficients = Some(l.inference.clone());
                }
                explained.push((kind, model_explanation(&m, train.data.names())));
                let pred = m.predict(&test.data)?;
                let mut s = score_checked(kind, test.data.labels(), &pred, &train.data);
                (s.train_seconds, s.train_cpu_seconds) = secs;
                Ok((s, pred))
            })(),
            (None, Some(k)) => cross_validate(kind, &train.data, k, &a.fit),
            (None, None) => unreachable!("temporal has a test set"),
        };
        // One model failing (e.g. a singular NB2 design in a small fold) is a
        // result of the comparison, not a reason to lose the others.
        let s = match fitted {
            Ok((s, pred)) => {
                predictions.push((kind, pred));
                s
            }
            Err(e) => {
                eprintln!("bench: {} failed: {e:#}", kind.name());
                let n = test.as_ref().map_or(train.rows.len(), |t| t.rows.len());
                Scored::failed(kind, n, format!("{e:#}"))
            }
        };
        rows.push(s);
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mu_true = match &test {
        Some(test) => truth_means(&a.common.data, &loaded.pop, test, h)?,
        None => None,
    };
    let oracle = test
        .as_ref()
        .and_then(|test| oracle(mu_true.as_deref(), test));
    let text = table(&rows, oracle);
    let split = match (&test, a.kfold) {
        (Some(test), _) => json!({
            "kind": "temporal",
            "train": train.describe(),
            "test": test.describe(),
            "train_rows": train.rows.len(),
            "test_rows": test.rows.len(),
            "removed_research_consent": {"train": train.removed, "test": test.removed},
        }),
        (None, k) => json!({
            "kind": "kfold", "k": k,
            "period": train.describe(),
            "rows": train.rows.len(),
            "removed_research_consent": {"train": train.removed},
        }),
    };
    let eval_set = test.as_ref().unwrap_or(&train);
    let model_report = bench_report(
        a,
        eval_set,
        mean_label(&train.data),
        &predictions,
        &explained,
        &split,
    );
    let report = json!({
        "as_of": data::format_day(as_of),
        "data": a.common.data.display().to_string(),
        "events_future": loaded.future_file.as_ref().map(|p| p.display().to_string()),
        "features": src.names,
        "features_hash": src.hash,
        "label": LABEL_EXPR,
        "horizon": h,
        "split": split,
        "params": {"rounds": a.fit.rounds, "l2": a.fit.l2, "seed": a.fit.seed},
        "oracle": oracle.map(|(d, n)| json!({"deviance": d, "rows": n})),
        "models": rows,
        "model_report": model_report,
    });
    std::fs::write(dir.join("bench.csv"), csv(&rows, oracle)).context("cannot write bench.csv")?;
    std::fs::write(
        dir.join("bench.json"),
        serde_json::to_string_pretty(&report).context("cannot serialise bench.json")?,
    )
    .context("cannot write bench.json")?;
    write_report(dir, &model_report)?;
    if let (Some(dir), Some(test)) = (&a.export, &test) {
        let ours = ours_json(
            &rows,
            a,
            &train,
            test,
            oracle,
            [poisson_coefficients, logistic_coefficients],
            &src.counts,
        );
        export(dir, &train, test, mu_true.as_deref(), &ours)?;
    }
    match &test {
        Some(test) => println!(
            "train: {} people ({}); test: {} people ({}); left out for withdrawn research \
             consent: {} train, {} test",
            train.rows.len(),
            train.describe(),
            test.rows.len(),
            test.describe(),
            train.removed,
            test.removed
        ),
        None => println!(
            "{}-fold cross-validation on {} people ({}); left out for withdrawn research \
             consent: {}",
            a.kfold.unwrap_or(0),
            train.rows.len(),
            train.describe(),
            train.removed
        ),
    }
    print!("{text}");
    Ok(rows)
}

/// The headline metric of a bench row: deviance (counts) or AUC (classifiers).
fn headline(s: &Scored) -> Option<f64> {
    s.deviance.or(s.auc)
}

/// Per model, the headline metric and top-10 % share at each horizon.
fn horizons_table(by_horizon: &[(u32, Vec<Scored>)]) -> String {
    let mut out =
        String::from("\nby horizon (deviance, or AUC for the classifiers; top-10 % share)\n");
    let _ = write!(out, "{:<14}", "model");
    for (h, _) in by_horizon {
        let _ = write!(out, " {:>12}", format!("h{h} dev/auc"));
    }
    for (h, _) in by_horizon {
        let _ = write!(out, " {:>10}", format!("h{h} top10"));
    }
    out.push('\n');
    let Some((_, first)) = by_horizon.first() else {
        return out;
    };
    let cell = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    for (i, row) in first.iter().enumerate() {
        let _ = write!(out, "{:<14}", row.model);
        for (_, rows) in by_horizon {
            let _ = write!(out, " {:>12}", cell(rows.get(i).and_then(headline)));
        }
        for (_, rows) in by_horizon {
            let _ = write!(out, " {:>10}", cell(rows.get(i).map(|r| r.top10_share)));
        }
        out.push('\n');
    }
    out
}

/// `horizon,model,rows,deviance,d2,mae,rmse,spearman,top10_share,auc,brier,error`.
fn horizons_csv(by_horizon: &[(u32, Vec<Scored>)]) -> String {
    let mut out = String::from(
        "horizon,model,rows,deviance,d2,mae,rmse,spearman,top10_share,auc,brier,error\n",
    );
    let f = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for (h, rows) in by_horizon {
        for r in rows {
            let _ = writeln!(
                out,
                "{h},{},{},{},{},{},{},{},{},{},{},{}",
                r.model,
                r.rows,
                f(r.deviance),
                f(r.d2),
                f(r.mae),
                f(r.rmse),
                r.spearman,
                r.top10_share,
                f(r.auc),
                f(r.brier),
                r.error.as_deref().unwrap_or("").replace([',', '\n'], ";")
            );
        }
    }
    out
}

// ----------------------------------------------------------------- reports

/// Per row of `test`, the generator's true mean (`expected_visits` of
/// `truth.parquet`, which is for the year after the generator's as_of); NaN
/// for a person without a truth row; `None` without the file.
fn truth_means(dir: &Path, pop: &Population, test: &Set, horizon: u32) -> Result<Option<Vec<f64>>> {
    let path = dir.join("truth.parquet");
    // The truth is the mean of the first year after the generator's as_of.
    if horizon != 1 || !path.is_file() {
        return Ok(None);
    }
    let truth = read_truth(&path)?;
    Ok(Some(
        test.rows
            .iter()
            .map(|&p| {
                let id = pop.patients.ids.display(p as usize);
                truth.get(&id).copied().unwrap_or(f64::NAN)
            })
            .collect(),
    ))
}

/// The oracle deviance on the test set: `(deviance, rows)` over the rows with
/// a true mean (see [`truth_means`]), or `None` without any.
fn oracle(mu_true: Option<&[f64]>, test: &Set) -> Option<(f64, usize)> {
    let (y, mu): (Vec<f64>, Vec<f64>) = test
        .data
        .labels()
        .iter()
        .zip(mu_true?)
        .filter(|(_, m)| !m.is_nan())
        .map(|(&y, &m)| (y, m))
        .unzip();
    (!y.is_empty()).then(|| (metrics::oracle_deviance(&y, &mu), y.len()))
}

// ------------------------------------------------------------------ export

/// Writes `train.csv`, `test.csv` and `ours.json` (see [`BenchArgs::export`])
/// into `dir`, replaced atomically.
fn export(
    dir: &Path,
    train: &Set,
    test: &Set,
    mu_true: Option<&[f64]>,
    ours: &serde_json::Value,
) -> Result<()> {
    let staging = StagingDir::new(dir)?;
    for (name, set, mu) in [("train.csv", train, None), ("test.csv", test, mu_true)] {
        std::fs::write(staging.path(name), set_csv(&set.data, mu))
            .with_context(|| format!("cannot write {name}"))?;
    }
    std::fs::write(
        staging.path("ours.json"),
        serde_json::to_string_pretty(ours).context("cannot serialise ours.json")?,
    )
    .context("cannot write ours.json")?;
    let out = staging.commit()?;
    eprintln!("exported the train and test sets to {}", out.display());
    Ok(())
}

/// One set as CSV: the features in library order (a missing value is an empty
/// cell), `y` (the label), `top10` (the classifiers' label) and, with
/// `mu_true`, the true mean (empty where unknown). Numbers round-trip exactly.
fn set_csv(d: &Dataset, mu_true: Option<&[f64]>) -> String {
    let cell = |out: &mut String, v: f64| {
        if !v.is_nan() {
            let _ = write!(out, "{v}");
        }
    };
    let top = top10(d.labels());
    let mut out = d.names().join(",") + ",y,top10";
    out.push_str(if mu_true.is_some() {
        ",mu_true\n"
    } else {
        "\n"
    });
    for i in 0..d.n_rows() {
        for j in 0..d.n_features() {
            cell(&mut out, d.column(j)[i]);
            out.push(',');
        }
        let _ = write!(out, "{},{}", d.labels()[i], top[i]);
        if let Some(mu) = mu_true {
            out.push(',');
            cell(&mut out, mu[i]);
        }
        out.push('\n');
    }
    out
}

/// The bench's results in the format models/scripts/compare.py reads (as
/// written by the `compare` example of caregap-models): `config`, one entry
/// per model under compare.py's names with `train_seconds`, `cpu_seconds` and
/// `report`, the Poisson GLM's coefficients and the oracle.
fn ours_json(
    rows: &[Scored],
    a: &BenchArgs,
    train: &Set,
    test: &Set,
    oracle: Option<(f64, usize)>,
    [poisson_coefficients, logistic_coefficients]: [Option<Vec<glm::Coefficient>>; 2],
    log1p: &[String],
) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for s in rows {
        let name = match Kind::from_name(&s.model) {
            Some(Kind::AgeSex) => "age_sex",
            Some(Kind::LastYear) => "last_year",
            Some(Kind::Poisson) => "glm_poisson",
            Some(Kind::Nb) => "glm_nb2",
            Some(Kind::Gbm) => "gbm_poisson",
            Some(Kind::GbmLogistic) => "gbm_logistic",
            _ => s.model.as_str(),
        };
        out.insert(
            name.into(),
            json!({"train_seconds": s.train_seconds, "cpu_seconds": s.train_cpu_seconds, "report": s}),
        );
    }
    out.insert(
        "glm_poisson_coefficients".into(),
        json!(poisson_coefficients),
    );
    out.insert("logistic_coefficients".into(), json!(logistic_coefficients));
    out.insert("log1p_features".into(), json!(log1p));
    out.insert(
        "oracle".into(),
        json!(oracle.map(|(d, n)| json!({"deviance": d, "rows": n}))),
    );
    out.insert(
        "config".into(),
        json!({
            "source": "caregap model bench",
            "data": a.common.data.display().to_string(),
            "as_of": a.common.as_of,
            "train": train.describe(),
            "test": test.describe(),
            "rows": train.rows.len(),
            "test_rows": test.rows.len(),
            "removed_research_consent": {"train": train.removed, "test": test.removed},
            "rounds": a.fit.rounds,
            "seed": a.fit.seed,
            "threads": rayon::current_num_threads(),
            "gbm": gbm_params(GBM_POISSON, &a.fit),
        }),
    );
    serde_json::Value::Object(out)
}

fn read_truth(path: &Path) -> Result<HashMap<String, f64>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .with_context(|| format!("cannot read {} as Parquet", path.display()))?;
    let mut out = HashMap::new();
    for batch in reader {
        let batch = batch.with_context(|| format!("cannot read {}", path.display()))?;
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .with_context(|| format!("{} has no column `{name}`", path.display()))
        };
        let ids = col("patient_id")?;
        let ev = col("expected_visits")?
            .as_any()
            .downcast_ref::<Float64Array>()
            .with_context(|| format!("{}: expected_visits is not Float64", path.display()))?;
        let id_at: Box<dyn Fn(usize) -> String> =
            if let Some(a) = ids.as_any().downcast_ref::<Int64Array>() {
                Box::new(|i| a.value(i).to_string())
            } else if let Some(a) = ids.as_any().downcast_ref::<StringArray>() {
                Box::new(|i| a.value(i).to_string())
            } else {
                bail!("{}: patient_id is neither Int64 nor Utf8", path.display());
            };
        for i in 0..batch.num_rows() {
            if !ids.is_null(i) && !ev.is_null(i) {
                out.insert(id_at(i), ev.value(i));
            }
        }
    }
    Ok(out)
}

fn cv_row(s: &Scored) -> Scored {
    Scored {
        model: format!("{} (cv)", s.model),
        ..s.clone()
    }
}

const COLUMNS: [&str; 12] = [
    "model",
    "deviance",
    "d2",
    "mae",
    "rmse",
    "spearman",
    "top10_share",
    "auc",
    "brier",
    "train_s",
    "max_pred",
    "implausible",
];

fn cells(s: &Scored, digits: usize) -> Vec<String> {
    // Blank = not applicable; `inf`/`NaN` = the metric is not finite (e.g. a
    // zero prediction for a person with visits).
    let f = |v: Option<f64>| match v {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        Some(v) => format!("{v}"),
        None => String::new(),
    };
    vec![
        s.model.clone(),
        f(s.deviance),
        f(s.d2),
        f(s.mae),
        f(s.rmse),
        f(s.error.is_none().then_some(s.spearman)),
        f(s.error.is_none().then_some(s.top10_share)),
        f(s.auc),
        f(s.brier),
        s.train_seconds.map_or(String::new(), |t| format!("{t:.2}")),
        s.prediction_check
            .as_ref()
            .map_or(String::new(), |c| format!("{:.4e}", c.max_prediction)),
        s.prediction_check
            .as_ref()
            .map_or(String::new(), |c| c.implausible.to_string()),
    ]
}

/// The comparison as a fixed-width text table, the oracle as a last line.
fn table(rows: &[Scored], oracle: Option<(f64, usize)>) -> String {
    let mut lines: Vec<Vec<String>> = vec![COLUMNS.iter().map(|c| c.to_string()).collect()];
    lines.extend(rows.iter().map(|s| cells(s, 4)));
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|s| Some(format!("{}: {}", s.model, s.error.as_ref()?)))
        .collect();
    if let Some((d, _)) = oracle {
        let mut l = vec![String::new(); COLUMNS.len()];
        l[0] = "oracle (truth)".into();
        l[1] = format!("{d:.4}");
        lines.push(l);
    }
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|j| lines.iter().map(|l| l[j].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for l in &lines {
        for (j, c) in l.iter().enumerate() {
            if j == 0 {
                let _ = write!(out, "{c:<w$}", w = widths[j]);
            } else {
                let _ = write!(out, "  {c:>w$}", w = widths[j]);
            }
        }
        out.push('\n');
    }
    for f in failures {
        let _ = writeln!(out, "failed: {f}");
    }
    out
}

fn csv(rows: &[Scored], oracle: Option<(f64, usize)>) -> String {
    let mut out = COLUMNS.join(",") + ",oracle_deviance,error\n";
    let o = oracle.map_or(String::new(), |(d, _)| format!("{d}"));
    for s in rows {
        out.push_str(&cells(s, 8).join(","));
        out.push(',');
        out.push_str(&o);
        out.push(',');
        if let Some(e) = &s.error {
            let _ = write!(out, "\"{}\"", e.replace('"', "\"\""));
        }
        out.push('\n');
    }
    out
}

/// A linear model's coefficients or a booster's feature gains (the other empty).
type Explanation = (Vec<modelreport::Coef>, Vec<modelreport::Importance>);

/// The coefficients (Wald 95 % intervals) of a linear model and the total
/// split gain per feature of a booster, for the model report.
fn model_explanation(m: &Fitted, names: &[String]) -> Explanation {
    match m {
        Fitted::Saved(FittedModel::Glm(g)) => {
            (modelreport::wald_coefs(&g.coefficients), Vec::new())
        }
        Fitted::Saved(FittedModel::Logistic(l)) => {
            (modelreport::wald_coefs(&l.inference), Vec::new())
        }
        Fitted::Saved(FittedModel::Gbm(b)) => (
            Vec::new(),
            names
                .iter()
                .zip(b.feature_importance())
                .map(|(n, gain)| modelreport::Importance {
                    feature: n.clone(),
                    gain,
                })
                .collect(),
        ),
        _ => (Vec::new(), Vec::new()),
    }
}

/// The bench's model report: every fitted model on the evaluation set (the
/// test set, or the training period's out-of-fold predictions), by age band.
fn bench_report(
    a: &BenchArgs,
    set: &Set,
    train_mean: f64,
    predictions: &[(Kind, Vec<f64>)],
    explained: &[(Kind, Explanation)],
    split: &serde_json::Value,
) -> modelreport::ModelReport {
    let text = |v: &serde_json::Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    };
    let mut context = vec![
        ("data".to_string(), a.common.data.display().to_string()),
        ("as of".to_string(), a.common.as_of.clone()),
        ("label".to_string(), LABEL_EXPR.to_string()),
    ];
    for (k, v) in split.as_object().into_iter().flatten() {
        context.push((k.replace('_', " "), text(v)));
    }
    context.push((
        "classifiers".to_string(),
        "logistic and gbm-logistic predict P(top 10 % of the year's visits); their \
         calibration is against that 0/1 label"
            .to_string(),
    ));
    population_report(
        "caregap model bench: primary-care visits".to_string(),
        context,
        &a.report.config(),
        set,
        train_mean,
        predictions,
        explained,
    )
}

/// A model report of population models on `set` (its labels, by age band
/// of the `age` feature).
fn population_report(
    title: String,
    context: Vec<(String, String)>,
    boot: &BootstrapConfig,
    set: &Set,
    train_mean: f64,
    predictions: &[(Kind, Vec<f64>)],
    explained: &[(Kind, Explanation)],
) -> modelreport::ModelReport {
    let y = set.data.labels();
    let top = top10(y);
    let keys: Option<Vec<modelreport::GroupKey>> = set.data.feature_index(AGE_FEATURE).map(|j| {
        set.data
            .column(j)
            .iter()
            .map(|&age| {
                caregap_models::report::age_band(age).map_or(
                    modelreport::GroupKey::Missing,
                    modelreport::GroupKey::AgeBand,
                )
            })
            .collect()
    });
    let models = predictions
        .iter()
        .map(|(kind, pred)| {
            let (coefficients, importance) = explained
                .iter()
                .find(|(k, _)| k == kind)
                .map(|(_, e)| e.clone())
                .unwrap_or_default();
            modelreport::ModelSection::build(
                modelreport::Predictions {
                    name: kind.name(),
                    pred,
                    counts: Some(y),
                    labels: kind.is_classifier().then_some(top.as_slice()),
                    train_mean,
                    coefficients,
                    importance,
                },
                keys.as_deref(),
                boot,
            )
        })
        .collect();
    modelreport::ModelReport {
        title,
        context,
        unit: "visits".to_string(),
        bootstrap: *boot,
        groups_by: keys.is_some().then(|| "age band".to_string()),
        groups_note: keys
            .is_none()
            .then(|| format!("Omitted: the library has no `{AGE_FEATURE}` feature to band.")),
        models,
    }
}
