//! The service's records as the data model's `outreach` and `consents`
//! tables, for the nightly job (`caregap outreach export`).
//!
//! - `outreach`: `patient_id`, `date` (the day recorded), `criterion_id`
//!   (null = general), `outcome`. `wrong_number` becomes `not_reachable`;
//!   `reached` has no counterpart in the data model and is left out.
//! - `consents`: `patient_id`, `scope`, `granted`, `date`.
//!
//! `patient_id` is `Int64` when every id is an integer (as the synthetic
//! data and most registers write it), else `Utf8`; `IdType` forces either, to
//! match the data folder's `patients`.

use super::overlay::data_outcome;
use super::store::{ConsentRow, OutcomeRow};
use crate::data::parse_day;
use arrow::array::{ArrayRef, BooleanArray, Date32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use std::sync::Arc;

/// The type of `patient_id` to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdType {
    Auto,
    Int,
    Text,
}

fn ids(ids: &[&str], t: IdType) -> Result<(ArrayRef, DataType), String> {
    let all_int = ids.iter().all(|i| i.parse::<i64>().is_ok());
    let int = match t {
        IdType::Auto => all_int && !ids.is_empty(),
        IdType::Int => {
            if let Some(bad) = ids.iter().find(|i| i.parse::<i64>().is_err()) {
                return Err(format!(
                    "patient id {bad:?} is not an integer; use text ids"
                ));
            }
            true
        }
        IdType::Text => false,
    };
    Ok(if int {
        let v: Int64Array = ids.iter().map(|i| i.parse::<i64>().ok()).collect();
        (Arc::new(v), DataType::Int64)
    } else {
        (Arc::new(StringArray::from(ids.to_vec())), DataType::Utf8)
    })
}

fn day(s: &str) -> Option<i32> {
    parse_day(s)
}

/// The `outreach` table of the service's outcomes (see module docs).
pub fn outreach_batch(rows: &[OutcomeRow], t: IdType) -> Result<RecordBatch, String> {
    let kept: Vec<&OutcomeRow> = rows
        .iter()
        .filter(|r| data_outcome(&r.outcome).is_some())
        .collect();
    let (pid, pty) = ids(
        &kept
            .iter()
            .map(|r| r.patient_id.as_str())
            .collect::<Vec<_>>(),
        t,
    )?;
    let schema = Schema::new(vec![
        Field::new("patient_id", pty, false),
        Field::new("date", DataType::Date32, false),
        Field::new("criterion_id", DataType::Utf8, true),
        Field::new("outcome", DataType::Utf8, false),
    ]);
    let date: Date32Array = kept.iter().map(|r| day(&r.day)).collect();
    let crit: StringArray = kept.iter().map(|r| r.criterion_id.as_deref()).collect();
    let out: StringArray = kept
        .iter()
        .map(|r| data_outcome(&r.outcome).map(|o| o.as_str()))
        .collect();
    RecordBatch::try_new(
        Arc::new(schema),
        vec![pid, Arc::new(date), Arc::new(crit), Arc::new(out)],
    )
    .map_err(|e| e.to_string())
}

/// The `consents` table of the service's consent decisions.
pub fn consents_batch(rows: &[ConsentRow], t: IdType) -> Result<RecordBatch, String> {
    let (pid, pty) = ids(
        &rows
            .iter()
            .map(|r| r.patient_id.as_str())
            .collect::<Vec<_>>(),
        t,
    )?;
    let schema = Schema::new(vec![
        Field::new("patient_id", pty, false),
        Field::new("scope", DataType::Utf8, false),
        Field::new("granted", DataType::Boolean, false),
        Field::new("date", DataType::Date32, false),
    ]);
    let scope: StringArray = rows.iter().map(|r| Some(r.scope.as_str())).collect();
    let granted: BooleanArray = rows.iter().map(|r| Some(r.granted)).collect();
    let date: Date32Array = rows.iter().map(|r| day(&r.day)).collect();
    RecordBatch::try_new(
        Arc::new(schema),
        vec![pid, Arc::new(scope), Arc::new(granted), Arc::new(date)],
    )
    .map_err(|e| e.to_string())
}
