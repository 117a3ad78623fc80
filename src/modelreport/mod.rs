//! The model report: `report.html` and its figures, written by
//! `caregap model fit --out` and `caregap model bench --out`.
//!
//! [`ModelSection::build`] computes the plotted numbers of one model from
//! its predictions (the numerics are `caregap_models::report`'s);
//! [`figures`] draws them as standalone SVG documents; [`html`] puts the
//! numbers and the figures (inline, unchanged) into one self-contained HTML
//! file with no external assets and no script. Pure: the CLI writes the
//! files. Every number in the HTML also carries its full-precision value in
//! `data-*` attributes, the same value the command writes to its JSON.

pub mod figures;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use caregap_models::metrics::{self, CalibrationBin};
use caregap_models::report::{self as numbers, BootstrapConfig, CapturePoint, Interval, Metric};

pub use figures::FigureError;

/// Points of the capture curve (fractions 0, 0.02, …, 1).
pub const CAPTURE_POINTS: usize = 50;
/// Rows of the feature-importance chart.
pub const IMPORTANCE_ROWS: usize = 30;

/// A group of the observed-against-predicted comparison. Missing sorts
/// first, then age bands, numbers and text in their own order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupKey {
    /// The grouping value is missing.
    Missing,
    /// An age band (its lower end; see `caregap_models::report::age_band`).
    AgeBand(u32),
    /// An integer value of a group column.
    Int(i64),
    /// A text value of a group column.
    Text(String),
}

impl GroupKey {
    /// The label shown in tables and on the axis.
    pub fn label(&self) -> String {
        match self {
            GroupKey::Missing => "missing".into(),
            GroupKey::AgeBand(b) => numbers::age_band_label(Some(*b)),
            GroupKey::Int(v) => v.to_string(),
            GroupKey::Text(s) => s.clone(),
        }
    }
}

/// Observed against predicted mean in one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    pub group: String,
    pub n: usize,
    pub mean_obs: f64,
    pub mean_pred: f64,
}

/// A coefficient of the forest plot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coef {
    pub name: String,
    pub estimate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// A feature's total split gain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Importance {
    pub feature: String,
    pub gain: f64,
}

/// The Wald 95 % intervals of fitted coefficients (`estimate ± z₀.₉₇₅ · SE`).
pub fn wald_coefs(cs: &[caregap_models::glm::Coefficient]) -> Vec<Coef> {
    let z = Normal::standard().inverse_cdf(0.975);
    cs.iter()
        .map(|c| Coef {
            name: c.name.clone(),
            estimate: c.estimate,
            ci_low: c.estimate - z * c.std_error,
            ci_high: c.estimate + z * c.std_error,
        })
        .collect()
}

/// One model's predictions on the rows the report describes.
pub struct Predictions<'a> {
    pub name: &'a str,
    pub pred: &'a [f64],
    /// Observed counts: the count metrics, or a classifier's ranking metrics
    /// (Spearman, top-10 % share) and capture curve.
    pub counts: Option<&'a [f64]>,
    /// Observed 0/1 labels when `pred` are probabilities.
    pub labels: Option<&'a [f64]>,
    /// D²'s null prediction (the training mean of the label).
    pub train_mean: f64,
    /// Coefficients with Wald 95 % intervals (linear models).
    pub coefficients: Vec<Coef>,
    /// Total split gain per feature (boosters), any order.
    pub importance: Vec<Importance>,
}

/// The plotted numbers of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSection {
    pub name: String,
    /// Predictions are probabilities of a 0/1 label.
    pub binary: bool,
    pub rows: usize,
    /// Metrics with bootstrap intervals.
    pub metrics: Vec<Interval>,
    /// Decile calibration (on the 0/1 label for probabilities).
    pub calibration: Vec<CalibrationBin>,
    /// Observed against predicted per group (empty without groups).
    pub groups: Vec<GroupRow>,
    /// Capture curve of the observed counts (or 0/1 labels).
    pub capture: Vec<CapturePoint>,
    pub coefficients: Vec<Coef>,
    /// Largest gain first.
    pub importance: Vec<Importance>,
}

impl ModelSection {
    /// Computes the section; `groups` holds one key per row.
    pub fn build(p: Predictions<'_>, groups: Option<&[GroupKey]>, boot: &BootstrapConfig) -> Self {
        let binary = p.labels.is_some();
        let observed = p.labels.or(p.counts).unwrap_or(&[]);
        let mut intervals = Vec::new();
        if let Some(l) = p.labels {
            intervals.extend(numbers::bootstrap(
                l,
                p.pred,
                &Metric::BINARY,
                p.train_mean,
                boot,
            ));
            if let Some(c) = p.counts {
                intervals.extend(numbers::bootstrap(
                    c,
                    p.pred,
                    &[Metric::Spearman, Metric::Top10Share],
                    p.train_mean,
                    boot,
                ));
            }
        } else if let Some(c) = p.counts {
            intervals.extend(numbers::bootstrap(
                c,
                p.pred,
                &Metric::COUNT,
                p.train_mean,
                boot,
            ));
        }
        let groups = groups
            .map(|k| {
                numbers::group_means(observed, p.pred, k)
                    .into_iter()
                    .map(|g| GroupRow {
                        group: g.key.label(),
                        n: g.n,
                        mean_obs: g.mean_obs,
                        mean_pred: g.mean_pred,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut importance = p.importance;
        importance.sort_by(|a, b| b.gain.total_cmp(&a.gain).then(a.feature.cmp(&b.feature)));
        ModelSection {
            name: p.name.to_string(),
            binary,
            rows: p.pred.len(),
            metrics: intervals,
            calibration: metrics::calibration(observed, p.pred, 10),
            groups,
            capture: numbers::capture_curve(p.counts.unwrap_or(observed), p.pred, CAPTURE_POINTS),
            coefficients: p.coefficients,
            importance,
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelReport {
    pub title: String,
    /// Lines describing the data and the split: (what, value).
    pub context: Vec<(String, String)>,
    /// What the observed values are ("visits", or the label column).
    pub unit: String,
    /// The bootstrap behind the intervals.
    pub bootstrap: BootstrapConfig,
    /// What the groups are ("age band", a column), or `None` when omitted.
    pub groups_by: Option<String>,
    /// Why there are no groups, when there are none.
    pub groups_note: Option<String>,
    pub models: Vec<ModelSection>,
}

/// One figure: its file name and SVG document.
pub struct Figure {
    pub file: String,
    pub title: String,
    pub svg: String,
}

/// A file-name-safe form of a model name.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Every figure of `r`, in report order: calibration (counts, then
/// probabilities), groups (same), capture, a forest plot per model with
/// coefficients, an importance chart per model with gains.
pub fn figures(r: &ModelReport) -> Result<Vec<Figure>, FigureError> {
    let mut out = Vec::new();
    let scales: [(bool, &str, String); 2] = [
        (false, "", r.unit.clone()),
        (true, "_probability", "probability".into()),
    ];
    for (binary, suffix, unit) in &scales {
        let s: Vec<&ModelSection> = r.models.iter().filter(|m| m.binary == *binary).collect();
        if s.is_empty() {
            continue;
        }
        let what = if *binary {
            "probability of the 0/1 label"
        } else {
            unit.as_str()
        };
        let title = format!("Calibration by decile of prediction ({what})");
        out.push(Figure {
            file: format!("calibration{suffix}.svg"),
            svg: figures::calibration(&title, unit, &s)?,
            title,
        });
        if let Some(by) = &r.groups_by
            && s.iter().any(|m| !m.groups.is_empty())
        {
            let title = format!("Observed and predicted by {by} ({what})");
            out.push(Figure {
                file: format!("groups{suffix}.svg"),
                svg: figures::groups(&title, by, unit, &s)?,
                title,
            });
        }
    }
    let all: Vec<&ModelSection> = r.models.iter().collect();
    let title = "Capture (cumulative gains): lift and top-10 % capture".to_string();
    out.push(Figure {
        file: "capture.svg".into(),
        svg: figures::capture(&title, &r.unit, &all)?,
        title,
    });
    for m in &r.models {
        if !m.coefficients.is_empty() {
            let title = format!(
                "Coefficients of {} (95 % Wald CI, intercept omitted)",
                m.name
            );
            out.push(Figure {
                file: format!("coefficients_{}.svg", slug(&m.name)),
                svg: figures::forest(&title, &m.coefficients)?,
                title,
            });
        }
        if !m.importance.is_empty() {
            let title = format!(
                "Feature importance of {} (total gain, top {IMPORTANCE_ROWS})",
                m.name
            );
            out.push(Figure {
                file: format!("importance_{}.svg", slug(&m.name)),
                svg: figures::importance(&title, &m.importance, IMPORTANCE_ROWS)?,
                title,
            });
        }
    }
    Ok(out)
}

/// A number for the HTML text: 4 significant decimals, `NaN`/`inf` spelt out.
pub fn show(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// A metric's table cell: estimate and interval, with exact values in `data-*`.
fn metric_cell(model: &str, iv: &Interval) -> Markup {
    html! {
        td.metric data-model=(model) data-metric=(iv.metric.name())
            data-estimate=(iv.estimate) data-low=(iv.low) data-high=(iv.high) {
            (show(iv.estimate))
            @if iv.low.is_finite() && iv.high.is_finite() {
                br; small { "(" (show(iv.low)) "–" (show(iv.high)) ")" }
            }
        }
    }
}

fn figure_block(f: Option<&Figure>) -> Markup {
    html! {
        @if let Some(f) = f {
            figure {
                (PreEscaped(&f.svg))
                figcaption { (f.title) " — also in " code { (f.file) } }
            }
        }
    }
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}figure{margin:1em 0}figcaption{font-size:90%;color:#555}\
.note{color:#555}table.context td{text-align:left}small{color:#555}";

/// The self-contained HTML report (figures from [`figures`] inlined).
pub fn html(r: &ModelReport, figs: &[Figure]) -> String {
    let fig = |file: &str| figs.iter().find(|f| f.file == file);
    let binary_metrics: Vec<Metric> = [
        Metric::BINARY.as_slice(),
        &[Metric::Spearman, Metric::Top10Share],
    ]
    .concat();
    let metric_columns: Vec<Metric> = if r.models.iter().all(|m| m.binary) {
        binary_metrics
    } else if r.models.iter().any(|m| m.binary) {
        [Metric::COUNT.as_slice(), &Metric::BINARY].concat()
    } else {
        Metric::COUNT.to_vec()
    };
    let level = (r.bootstrap.level * 100.0).round();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (r.title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (r.title) }
                table.context {
                    @for (k, v) in &r.context { tr { th { (k) } td { (v) } } }
                }
                h2 id="metrics" { "Metrics" }
                p.note {
                    "Estimate on all rows with its " (level) " % percentile bootstrap interval: "
                    (r.bootstrap.resamples) " resamples of the rows with replacement, seed "
                    (r.bootstrap.seed) ". A blank cell: the metric does not apply."
                }
                table.metrics {
                    tr { th { "model" } th { "rows" } @for m in &metric_columns { th { (m.name()) } } }
                    @for s in &r.models {
                        tr {
                            td { (s.name) } td { (s.rows) }
                            @for m in &metric_columns {
                                @match s.metrics.iter().find(|iv| iv.metric == *m) {
                                    Some(iv) => (metric_cell(&s.name, iv)),
                                    None => td {},
                                }
                            }
                        }
                    }
                }
                h2 id="calibration" { "Calibration by decile" }
                p.note { "Rows in ten equal groups by prediction; mean predicted against mean observed, with the diagonal." }
                (figure_block(fig("calibration.svg")))
                (figure_block(fig("calibration_probability.svg")))
                @for s in &r.models {
                    details {
                        summary { (s.name) ": deciles" }
                        table {
                            tr { th { "decile" } th { "rows" } th { "mean predicted" } th { "mean observed" } }
                            @for (i, b) in s.calibration.iter().enumerate() {
                                tr data-model=(s.name) data-decile=(i + 1) data-pred=(b.mean_pred) data-obs=(b.mean_obs) {
                                    td { (i + 1) } td { (b.n) } td { (show(b.mean_pred)) } td { (show(b.mean_obs)) }
                                }
                            }
                        }
                    }
                }
                h2 id="groups" { "Observed and predicted by group" }
                @match &r.groups_by {
                    Some(by) => {
                        p.note { "Mean observed and mean predicted by " (by) "." }
                        (figure_block(fig("groups.svg")))
                        (figure_block(fig("groups_probability.svg")))
                        @for s in &r.models {
                            details {
                                summary { (s.name) ": by " (by) }
                                table {
                                    tr { th { (by) } th { "rows" } th { "mean predicted" } th { "mean observed" } }
                                    @for g in &s.groups {
                                        tr { td { (g.group) } td { (g.n) } td { (show(g.mean_pred)) } td { (show(g.mean_obs)) } }
                                    }
                                }
                            }
                        }
                    }
                    None => p.note { (r.groups_note.as_deref().unwrap_or("No groups.")) }
                }
                h2 id="capture" { "Lift and top-10 % capture" }
                p.note { "Share of all " (r.unit) " held by the people with the highest predictions; lift = that share / the share of people." }
                (figure_block(fig("capture.svg")))
                table.capture {
                    tr { th { "model" } th { "top 10 %" } th { "top 20 %" } th { "top 50 %" } th { "lift at 10 %" } }
                    @for s in &r.models {
                        @let at = |f: f64| s.capture.iter().find(|p| (p.fraction - f).abs() < 1e-9).copied();
                        tr {
                            td { (s.name) }
                            @for f in [0.1, 0.2, 0.5] { td { (at(f).map_or(String::new(), |p| show(p.captured))) } }
                            td { (at(0.1).map_or(String::new(), |p| show(p.lift))) }
                        }
                    }
                }
                @if r.models.iter().any(|m| !m.coefficients.is_empty()) {
                    h2 id="coefficients" { "Coefficients" }
                    @for s in r.models.iter().filter(|m| !m.coefficients.is_empty()) {
                        (figure_block(fig(&format!("coefficients_{}.svg", slug(&s.name)))))
                        details {
                            summary { (s.name) ": coefficients" }
                            table {
                                tr { th { "term" } th { "estimate" } th { "95 % CI low" } th { "95 % CI high" } }
                                @for c in &s.coefficients {
                                    tr { td { (c.name) } td { (show(c.estimate)) } td { (show(c.ci_low)) } td { (show(c.ci_high)) } }
                                }
                            }
                        }
                    }
                }
                @if r.models.iter().any(|m| !m.importance.is_empty()) {
                    h2 id="importance" { "Feature importance (gain)" }
                    @for s in r.models.iter().filter(|m| !m.importance.is_empty()) {
                        (figure_block(fig(&format!("importance_{}.svg", slug(&s.name)))))
                    }
                }
            }
        }
    };
    let mut out = markup.into_string();
    out.push('\n');
    out
}

/// The report's files: `report.html` and every figure, as (name, text).
pub fn files(r: &ModelReport) -> Result<Vec<(String, String)>, FigureError> {
    let figs = figures(r)?;
    let mut out = vec![("report.html".to_string(), html(r, &figs))];
    out.extend(figs.into_iter().map(|f| (f.file, f.svg)));
    Ok(out)
}
