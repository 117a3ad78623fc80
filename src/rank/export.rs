//! Call-list rows as an Arrow batch, and that batch as CSV or JSON text.
//! Formatting only: the CLI decides where the bytes go.
//!
//! Columns of a call list, in order: `clinic_id`, `rank` (1-based within the
//! clinic), `patient_id`, `language`, `score` and its parts `score_gaps`,
//! `score_risk`, `score_utilisation`, `criteria` (ids, `; `), `reasons`
//! (titles with priorities, ` | `), `evidence` (`id: evidence`, ` | `),
//! `risk` (e.g. `SCORE2 8.1% (high)` or `no SCORE2: missing hdl`),
//! `utilisation` (tier and measure), `action` (distinct actions, ` | `),
//! `resting_gaps` (open gaps left off for a cool-down).

use super::calllist::{Entry, OpenGap};
use super::risk::{CvRisk, UtilTier};
use crate::data::PatientIds;
use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow::compute::cast;
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
    pub evidence: &'a [Option<String>],
    pub texts: &'a HashMap<String, CriterionText>,
}

/// Criteria ids, reasons, evidence and actions of one row.
fn row_texts(e: &Entry, c: &ListContext) -> [String; 4] {
    let mut ids = Vec::with_capacity(e.gaps.len());
    let mut titles = Vec::with_capacity(e.gaps.len());
    let mut evidence = Vec::new();
    let mut actions: Vec<&str> = Vec::new();
    for &g in &e.gaps {
        let gap = c.gaps[g as usize];
        let id = c.criteria[gap.criterion as usize].as_str();
        ids.push(id);
        let t = c.texts.get(id);
        titles.push(format!(
            "{} (priority {})",
            t.map_or(id, |t| t.title.as_str()),
            gap.priority
        ));
        if let Some(ev) = &c.evidence[g as usize] {
            evidence.push(format!("{id}: {ev}"));
        }
        if let Some(a) = t.and_then(|t| t.action.as_deref())
            && !actions.contains(&a)
        {
            actions.push(a);
        }
    }
    [
        ids.join("; "),
        titles.join(" | "),
        evidence.join(" | "),
        actions.join(" | "),
    ]
}

/// The `risk` column text of a person.
pub fn risk_text(cv: Option<&CvRisk>) -> String {
    let Some(cv) = cv else {
        return "no risk data".into();
    };
    match (cv.risk_pct, cv.model) {
        (Some(r), Some(m)) => {
            let band = cv.band.map_or("", |b| b.as_str());
            let note = cv
                .reason
                .as_deref()
                .map(|n| format!("; {n}"))
                .unwrap_or_default();
            format!("{} {r:.1}% ({band}){note}", m.as_str())
        }
        _ => {
            let band = cv
                .band
                .map(|b| format!(" ({})", b.as_str()))
                .unwrap_or_default();
            format!(
                "no SCORE2: {}{band}",
                cv.reason.as_deref().unwrap_or("not computed")
            )
        }
    }
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
    // Text rendering dominates the export: spread it over the cores.
    let rendered: Vec<[String; 4]> = entries.par_iter().map(|e| row_texts(e, c)).collect();
    let risk: Vec<String> = entries
        .par_iter()
        .map(|e| risk_text(c.cv[e.person as usize].as_ref()))
        .collect();
    let text = |i: usize| -> ArrayRef {
        Arc::new(
            rendered
                .iter()
                .map(|r| Some(r[i].as_str()))
                .collect::<StringArray>(),
        )
    };
    let p = |e: &Entry| e.person as usize;
    let util = |e: &Entry| match (c.tier[p(e)], c.measure[p(e)]) {
        (Some(t), Some(m)) => format!("{} ({} = {m})", t.as_str(), c.measure_name),
        _ => format!("unknown ({} missing)", c.measure_name),
    };
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
            text(0),
            text(1),
            text(2),
            Arc::new(
                risk.iter()
                    .map(|r| Some(r.as_str()))
                    .collect::<StringArray>(),
            ),
            Arc::new(
                entries
                    .iter()
                    .map(|e| Some(util(e)))
                    .collect::<StringArray>(),
            ),
            text(3),
            u32s(&|e| e.resting),
        ],
    )
}

/// One CSV field, quoted when it holds a comma, quote or line break.
pub fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
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

/// The batch as CSV with a header; nulls as empty fields.
pub fn batch_csv(b: &RecordBatch) -> Result<String, ArrowError> {
    let cols = text_columns(b)?;
    let cols: Vec<&StringArray> = cols.iter().map(|c| c.as_string::<i32>()).collect();
    let schema = b.schema();
    let mut out = String::with_capacity(b.num_rows() * 200);
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
                out.push_str(&csv_field(c.value(r)));
            }
        }
        out.push('\n');
    }
    Ok(out)
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
