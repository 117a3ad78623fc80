//! Call-list rows as an Arrow batch, and that batch as CSV or JSON text.
//! Formatting only: the CLI decides where the bytes go.
//!
//! Columns of a call list, in order: `clinic_id`, `rank` (1-based within the
//! clinic), `patient_id`, `language`, `score` and its parts `score_gaps`,
//! `score_risk`, `score_utilisation`, `criteria` (ids, `; `), `reasons`
//! (titles with priorities, ` | `), `evidence` (`id: evidence`, ` | `),
//! `risk` (e.g. `SCORE2 8.1% (high)` or `no SCORE2: missing hdl`),
//! `utilisation` (tier and measure), `action` (distinct actions, ` | `),
//! `resting_gaps` (open gaps left off for a cool-down); then `band`
//! (`urgent` / `routine`), `time_frame` (by the highest priority: `today`,
//! `within a week`, ...), `expected_benefit` (`≈ 2.1 % fewer heart attacks or
//! strokes over 10 years`, or `not quantified`), `benefit_pct_year` (the
//! quantified benefit in percentage points per year, null when none),
//! `order_value` (what the benefit order sorts the routine band by) and
//! `top_reasons` (the first three reasons, urgent and most beneficial first,
//! and `+N more`).

use super::benefit::{benefit_text, time_frame};
use super::calllist::{Entry, OpenGap};
use super::risk::{CvRisk, UtilTier};
use crate::data::PatientIds;
use crate::output::ColumnStyle;
use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray, StringBuilder,
    UInt32Array,
};
use arrow::compute::{cast, concat};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// A criterion's texts from the library.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CriterionText {
    pub title: String,
    pub action: Option<String>,
}

/// Everything a row's texts are made of; per-person columns are indexed by person.
#[derive(Debug, Clone, Copy)]
pub struct ListContext<'a> {
    pub ids: &'a PatientIds,
    pub clinics: &'a [String],
    pub language: &'a [Option<String>],
    pub cv: &'a [Option<CvRisk>],
    pub tier: &'a [Option<UtilTier>],
    pub measure: &'a [Option<f64>],
    pub measure_name: &'a str,
    pub criteria: &'a [String],
    pub gaps: &'a [OpenGap],
    pub evidence: &'a StringArray,
    pub texts: &'a HashMap<String, CriterionText>,
}

/// How the call list's columns are best stored in Parquet: the long texts
/// without a dictionary or min/max statistics, the few-valued ones with a
/// dictionary and no statistics.
pub const CALLLIST_STYLES: [(&str, ColumnStyle); 9] = [
    ("clinic_id", ColumnStyle::Repeated),
    ("language", ColumnStyle::Repeated),
    ("criteria", ColumnStyle::FreeText),
    ("reasons", ColumnStyle::FreeText),
    ("evidence", ColumnStyle::FreeText),
    ("action", ColumnStyle::FreeText),
    ("band", ColumnStyle::Repeated),
    ("time_frame", ColumnStyle::Repeated),
    ("top_reasons", ColumnStyle::FreeText),
];

/// Rows rendered per parallel chunk of the export.
const CHUNK: usize = 8192;

/// The text columns of a call list, built row by row straight into Arrow
/// buffers (one reused scratch string per row, no per-gap allocation).
struct TextColumns {
    criteria: StringBuilder,
    reasons: StringBuilder,
    evidence: StringBuilder,
    risk: StringBuilder,
    utilisation: StringBuilder,
    action: StringBuilder,
    benefit: StringBuilder,
    top: StringBuilder,
}

impl TextColumns {
    /// Builders sized for `rows` rows listing `gaps` gaps in all (the long
    /// columns grow with the gaps; sized right, they are never copied to grow).
    fn new(rows: usize, gaps: usize) -> TextColumns {
        let b = |per_row: usize, per_gap: usize| {
            StringBuilder::with_capacity(rows, rows * per_row + gaps * per_gap)
        };
        TextColumns {
            criteria: b(0, 20),
            reasons: b(0, 80),
            evidence: b(0, 120),
            risk: b(48, 0),
            utilisation: b(48, 0),
            action: b(0, 60),
            benefit: b(48, 0),
            top: b(200, 0),
        }
    }

    fn finish(mut self) -> [ArrayRef; 8] {
        [
            Arc::new(self.criteria.finish()),
            Arc::new(self.reasons.finish()),
            Arc::new(self.evidence.finish()),
            Arc::new(self.risk.finish()),
            Arc::new(self.utilisation.finish()),
            Arc::new(self.action.finish()),
            Arc::new(self.benefit.finish()),
            Arc::new(self.top.finish()),
        ]
    }
}

/// Per criterion index: its title (or id) and action, looked up once per export.
struct CriterionLookup<'a> {
    title: Vec<&'a str>,
    action: Vec<Option<&'a str>>,
}

impl<'a> CriterionLookup<'a> {
    fn new(c: &ListContext<'a>) -> CriterionLookup<'a> {
        let text = |id: &'a String| c.texts.get(id.as_str());
        CriterionLookup {
            title: c
                .criteria
                .iter()
                .map(|id| text(id).map_or(id.as_str(), |t| t.title.as_str()))
                .collect(),
            action: c
                .criteria
                .iter()
                .map(|id| text(id).and_then(|t| t.action.as_deref()))
                .collect(),
        }
    }
}

/// Appends one row's texts (criteria ids, reasons, evidence, risk,
/// utilisation, actions) to `out`.
fn push_row(
    e: &Entry,
    c: &ListContext,
    k: &CriterionLookup,
    out: &mut TextColumns,
    s: &mut String,
    actions: &mut Vec<u32>,
) {
    use std::fmt::Write;
    let gaps = || e.gaps.iter().map(|&g| (g as usize, c.gaps[g as usize]));
    let sep = |s: &mut String, i: usize, with: &str| {
        if i > 0 {
            s.push_str(with);
        }
    };
    s.clear();
    for (i, (_, gap)) in gaps().enumerate() {
        sep(s, i, "; ");
        s.push_str(&c.criteria[gap.criterion as usize]);
    }
    out.criteria.append_value(&*s);
    s.clear();
    for (i, (_, gap)) in gaps().enumerate() {
        sep(s, i, " | ");
        let _ = write!(
            s,
            "{} (priority {})",
            k.title[gap.criterion as usize], gap.priority
        );
    }
    out.reasons.append_value(&*s);
    s.clear();
    let mut n = 0;
    for (g, gap) in gaps() {
        if c.evidence.is_valid(g) {
            let ev = c.evidence.value(g);
            sep(s, n, " | ");
            s.push_str(&c.criteria[gap.criterion as usize]);
            s.push_str(": ");
            s.push_str(ev);
            n += 1;
        }
    }
    out.evidence.append_value(&*s);
    s.clear();
    write_risk(s, c.cv[e.person as usize].as_ref());
    out.risk.append_value(&*s);
    s.clear();
    let p = e.person as usize;
    let _ = match (c.tier[p], c.measure[p]) {
        (Some(t), Some(m)) => write!(s, "{} ({} = {m})", t.as_str(), c.measure_name),
        _ => write!(s, "unknown ({} missing)", c.measure_name),
    };
    out.utilisation.append_value(&*s);
    // Distinct actions in gap order (two criteria may share one action text).
    s.clear();
    actions.clear();
    for (_, gap) in gaps() {
        if let Some(a) = k.action[gap.criterion as usize]
            && !actions.iter().any(|&x| k.action[x as usize] == Some(a))
        {
            sep(s, actions.len(), " | ");
            s.push_str(a);
            actions.push(gap.criterion);
        }
    }
    out.action.append_value(&*s);
    out.benefit.append_value(benefit_text(&e.benefit));
    s.clear();
    for (i, &g) in e.top.iter().take(TOP_REASONS).enumerate() {
        sep(s, i, " | ");
        let gap = c.gaps[g as usize];
        let _ = write!(
            s,
            "{} (priority {})",
            k.title[gap.criterion as usize], gap.priority
        );
    }
    if e.top.len() > TOP_REASONS {
        let _ = write!(s, " | +{} more", e.top.len() - TOP_REASONS);
    }
    out.top.append_value(&*s);
}

/// Reasons shown in `top_reasons` before `+N more`.
pub const TOP_REASONS: usize = 3;

/// Writes the `risk` column text of a person into `s`.
fn write_risk(s: &mut String, cv: Option<&CvRisk>) {
    use std::fmt::Write;
    let Some(cv) = cv else {
        s.push_str("no risk data");
        return;
    };
    match (cv.risk_pct, cv.model) {
        (Some(r), Some(m)) => {
            let band = cv.band.map_or("", |b| b.as_str());
            let _ = write!(s, "{} {r:.1}% ({band})", m.as_str());
            if let Some(n) = &cv.reason {
                s.push_str("; ");
                s.push_str(n);
            }
        }
        _ => {
            s.push_str("no SCORE2: ");
            s.push_str(cv.reason.as_deref().unwrap_or("not computed"));
            if let Some(b) = cv.band {
                let _ = write!(s, " ({})", b.as_str());
            }
        }
    }
}

/// The `risk` column text of a person.
pub fn risk_text(cv: Option<&CvRisk>) -> String {
    let mut s = String::new();
    write_risk(&mut s, cv);
    s
}

fn ids_type(ids: &PatientIds) -> DataType {
    match ids {
        PatientIds::Int(_) => DataType::Int64,
        PatientIds::Str(_) => DataType::Utf8,
    }
}

/// The ids of the given people as an Arrow column of the patients' type.
pub fn ids_array(ids: &PatientIds, people: impl Iterator<Item = usize>) -> ArrayRef {
    match ids {
        PatientIds::Int(v) => Arc::new(people.map(|r| v[r]).collect::<Int64Array>()),
        PatientIds::Str(v) => {
            Arc::new(people.map(|r| Some(v[r].as_str())).collect::<StringArray>())
        }
    }
}

/// The call-list batch of the given entries (module docs for the columns).
pub fn calllist_batch(entries: &[Entry], c: &ListContext) -> Result<RecordBatch, ArrowError> {
    // Text rendering dominates the export: chunks spread over the cores,
    // each written straight into Arrow buffers, then joined.
    let lookup = CriterionLookup::new(c);
    let parts: Vec<[ArrayRef; 8]> = entries
        .par_chunks(CHUNK)
        .map(|chunk| {
            let gaps = chunk.iter().map(|e| e.gaps.len()).sum();
            let mut out = TextColumns::new(chunk.len(), gaps);
            let (mut s, mut actions) = (String::new(), Vec::new());
            for e in chunk {
                push_row(e, c, &lookup, &mut out, &mut s, &mut actions);
            }
            out.finish()
        })
        .collect();
    let text = |i: usize| -> Result<ArrayRef, ArrowError> {
        match parts.as_slice() {
            [] => Ok(Arc::new(StringArray::from(Vec::<&str>::new()))),
            [one] => Ok(one[i].clone()),
            many => concat(&many.iter().map(|p| p[i].as_ref()).collect::<Vec<_>>()),
        }
    };
    let p = |e: &Entry| e.person as usize;
    let u32s = |f: &dyn Fn(&Entry) -> u32| -> ArrayRef {
        Arc::new(entries.iter().map(f).collect::<UInt32Array>())
    };
    let schema = Schema::new(vec![
        Field::new("clinic_id", DataType::Utf8, false),
        Field::new("rank", DataType::UInt32, false),
        Field::new("patient_id", ids_type(c.ids), false),
        Field::new("language", DataType::Utf8, true),
        Field::new("score", DataType::UInt32, false),
        Field::new("score_gaps", DataType::UInt32, false),
        Field::new("score_risk", DataType::UInt32, false),
        Field::new("score_utilisation", DataType::UInt32, false),
        Field::new("criteria", DataType::Utf8, false),
        Field::new("reasons", DataType::Utf8, false),
        Field::new("evidence", DataType::Utf8, false),
        Field::new("risk", DataType::Utf8, false),
        Field::new("utilisation", DataType::Utf8, false),
        Field::new("action", DataType::Utf8, false),
        Field::new("resting_gaps", DataType::UInt32, false),
        Field::new("band", DataType::Utf8, false),
        Field::new("time_frame", DataType::Utf8, false),
        Field::new("expected_benefit", DataType::Utf8, false),
        Field::new("benefit_pct_year", DataType::Float64, true),
        Field::new("order_value", DataType::Float64, false),
        Field::new("top_reasons", DataType::Utf8, false),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(
                entries
                    .iter()
                    .map(|e| Some(c.clinics[e.clinic as usize].as_str()))
                    .collect::<StringArray>(),
            ),
            u32s(&|e| e.rank),
            ids_array(c.ids, entries.iter().map(p)),
            Arc::new(
                entries
                    .iter()
                    .map(|e| c.language[p(e)].as_deref())
                    .collect::<StringArray>(),
            ),
            u32s(&|e| e.score.total()),
            u32s(&|e| e.score.gaps),
            u32s(&|e| e.score.risk),
            u32s(&|e| e.score.utilisation),
            text(0)?,
            text(1)?,
            text(2)?,
            text(3)?,
            text(4)?,
            text(5)?,
            u32s(&|e| e.resting),
            Arc::new(
                entries
                    .iter()
                    .map(|e| Some(e.band.as_str()))
                    .collect::<StringArray>(),
            ),
            Arc::new(
                entries
                    .iter()
                    .map(|e| Some(time_frame(e.score.max_priority)))
                    .collect::<StringArray>(),
            ),
            text(6)?,
            Arc::new(
                entries
                    .iter()
                    .map(|e| e.benefit.is_quantified().then_some(e.benefit.per_year))
                    .collect::<Float64Array>(),
            ),
            Arc::new(entries.iter().map(|e| e.value).collect::<Float64Array>()),
            text(7)?,
        ],
    )
}

/// One CSV field, quoted when it holds a comma, quote or line break.
pub fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if needs_quotes(s) {
        let mut out = String::with_capacity(s.len() + 2);
        push_csv_field(&mut out, s);
        out.into()
    } else {
        s.into()
    }
}

fn text_columns(b: &RecordBatch) -> Result<Vec<ArrayRef>, ArrowError> {
    b.columns()
        .iter()
        .map(|c| cast(c, &DataType::Utf8))
        .collect()
}

/// Appends one CSV field to `out`, quoted when it holds a comma, quote or line break.
fn push_csv_field(out: &mut String, s: &str) {
    if !needs_quotes(s) {
        out.push_str(s);
        return;
    }
    out.push('"');
    let mut rest = s;
    while let Some(i) = memchr::memchr(b'"', rest.as_bytes()) {
        out.push_str(&rest[..=i]);
        out.push('"');
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// Whether a CSV field holds a comma, quote or line break (searched with
/// SIMD: the call lists' texts are most of the bytes a ranking writes).
fn needs_quotes(s: &str) -> bool {
    let b = s.as_bytes();
    memchr::memchr3(b',', b'"', b'\n', b).is_some() || memchr::memchr(b'\r', b).is_some()
}

/// The batch as CSV with a header; nulls as empty fields.
pub fn batch_csv(b: &RecordBatch) -> Result<String, ArrowError> {
    let mut out = Vec::new();
    write_csv(b, &mut out)?;
    String::from_utf8(out).map_err(|e| ArrowError::ExternalError(Box::new(e)))
}

/// Writes [`batch_csv`]'s text to `w` row by row, through a buffer of a few
/// rows (a large list is never held as one string: the bytes handed to
/// the writer are still in cache).
pub fn write_csv(b: &RecordBatch, w: &mut impl std::io::Write) -> Result<(), ArrowError> {
    let cols = text_columns(b)?;
    let cols: Vec<&StringArray> = cols.iter().map(|c| c.as_string::<i32>()).collect();
    let schema = b.schema();
    let mut out = String::with_capacity(64 * 1024);
    let io = |e: std::io::Error| ArrowError::IoError(e.to_string(), e);
    for (i, f) in schema.fields().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_field(f.name()));
    }
    out.push('\n');
    for r in 0..b.num_rows() {
        for (i, c) in cols.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if c.is_valid(r) {
                push_csv_field(&mut out, c.value(r));
            }
        }
        out.push('\n');
        if out.len() >= 48 * 1024 {
            w.write_all(out.as_bytes()).map_err(io)?;
            out.clear();
        }
    }
    w.write_all(out.as_bytes()).map_err(io)
}

/// The batch as a JSON array of objects; numbers stay numbers, nulls null.
pub fn batch_json(b: &RecordBatch) -> Result<String, ArrowError> {
    let cols = text_columns(b)?;
    let schema = b.schema();
    let mut rows = Vec::with_capacity(b.num_rows());
    for r in 0..b.num_rows() {
        let mut obj = serde_json::Map::new();
        for (f, c) in schema.fields().iter().zip(&cols) {
            let c = c.as_string::<i32>();
            let v = if c.is_null(r) {
                serde_json::Value::Null
            } else if f.data_type().is_numeric() {
                c.value(r).parse::<serde_json::Number>().map_or_else(
                    |_| serde_json::Value::String(c.value(r).to_string()),
                    serde_json::Value::Number,
                )
            } else {
                serde_json::Value::String(c.value(r).to_string())
            };
            obj.insert(f.name().clone(), v);
        }
        rows.push(serde_json::Value::Object(obj));
    }
    serde_json::to_string_pretty(&rows)
        .map(|s| s + "\n")
        .map_err(|e| ArrowError::ExternalError(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        let b = RecordBatch::try_from_iter(vec![
            ("n", Arc::new(UInt32Array::from(vec![1, 2])) as ArrayRef),
            ("s", Arc::new(StringArray::from(vec![Some("x,y"), None]))),
        ])
        .unwrap();
        assert_eq!(batch_csv(&b).unwrap(), "n,s\n1,\"x,y\"\n2,\n");
        let j: serde_json::Value = serde_json::from_str(&batch_json(&b).unwrap()).unwrap();
        assert_eq!(j[0]["n"], 1);
        assert_eq!(j[1]["s"], serde_json::Value::Null);
    }
}
