//! Typed columns of Arrow batches (scoring-run files, predictions, the data
//! folder's tables), with errors that name the file, the column, the type
//! found and the one expected. Pure: callers read the files.

use crate::data::{Day, PatientIds};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, UInt64Type};
use rustc_hash::FxHashMap;
use std::path::Path;

/// What was wrong with a column or row, naming the file (one message).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ColumnError(pub String);

type Result<T> = std::result::Result<T, ColumnError>;

macro_rules! bail {
    ($($t:tt)*) => { return Err(ColumnError(format!($($t)*))) };
}

/// A column by name, or an error naming the file, the column and what is expected.
pub fn column<'a>(
    b: &'a RecordBatch,
    name: &str,
    file: &Path,
    expected: &str,
) -> Result<&'a ArrayRef> {
    b.column_by_name(name).ok_or_else(|| {
        ColumnError(format!(
            "{}: missing column `{name}` (expected {expected})",
            file.display()
        ))
    })
}

fn cast_to(a: &ArrayRef, to: &DataType, name: &str, file: &Path) -> Result<ArrayRef> {
    cast(a, to).map_err(|e| {
        ColumnError(format!(
            "{}: column `{name}` has type {}, expected {to}: {e}",
            file.display(),
            a.data_type()
        ))
    })
}

pub fn strings(b: &RecordBatch, name: &str, file: &Path) -> Result<Vec<Option<String>>> {
    Ok(utf8(b, name, file)?
        .iter()
        .map(|s| s.map(str::to_string))
        .collect())
}

pub fn opt_strings(b: &RecordBatch, name: &str, file: &Path) -> Result<Vec<Option<String>>> {
    if b.column_by_name(name).is_none() {
        return Ok(vec![None; b.num_rows()]);
    }
    strings(b, name, file)
}

/// A text column as one Utf8 array (no string per value).
pub fn utf8(b: &RecordBatch, name: &str, file: &Path) -> Result<StringArray> {
    let a = cast_to(column(b, name, file, "Utf8")?, &DataType::Utf8, name, file)?;
    Ok(a.as_string::<i32>().clone())
}

/// Like [`utf8`], but a missing column is all nulls.
pub fn opt_utf8(b: &RecordBatch, name: &str, file: &Path) -> Result<StringArray> {
    if b.column_by_name(name).is_none() {
        return Ok(StringArray::new_null(b.num_rows()));
    }
    utf8(b, name, file)
}

pub fn floats(b: &RecordBatch, name: &str, file: &Path) -> Result<Vec<Option<f64>>> {
    let a = cast_to(
        column(b, name, file, "Float64")?,
        &DataType::Float64,
        name,
        file,
    )?;
    Ok(a.as_primitive::<Float64Type>().iter().collect())
}

pub fn counts(b: &RecordBatch, name: &str, file: &Path) -> Result<Vec<u64>> {
    let a = cast_to(
        column(b, name, file, "an integer")?,
        &DataType::UInt64,
        name,
        file,
    )?;
    Ok(a.as_primitive::<UInt64Type>()
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

pub fn bools(b: &RecordBatch, name: &str, file: &Path) -> Result<Vec<Option<bool>>> {
    let a = column(b, name, file, "Boolean")?;
    let a = a.as_boolean_opt().ok_or_else(|| {
        ColumnError(format!(
            "{}: column `{name}` has type {}, expected Boolean",
            file.display(),
            a.data_type()
        ))
    })?;
    Ok(a.iter().collect())
}

pub fn days(b: &RecordBatch, name: &str, file: &Path) -> Result<Vec<Option<Day>>> {
    let a = column(b, name, file, "Date32")?;
    if a.data_type() != &DataType::Date32 {
        bail!(
            "{}: column `{name}` has type {}, expected Date32",
            file.display(),
            a.data_type()
        );
    }
    Ok(a.as_primitive::<Date32Type>().iter().collect())
}

/// The `patient_id` column as ids (Int64 or Utf8), nulls reported with their row.
pub fn patient_ids(b: &RecordBatch, file: &Path) -> Result<PatientIds> {
    let a = column(b, "patient_id", file, "Int64 or Utf8")?;
    let null_row = |a: &dyn Array| (0..a.len()).find(|i| a.is_null(*i));
    if let Some(r) = null_row(a.as_ref()) {
        bail!("{}: row {}: patient_id is null", file.display(), r + 1);
    }
    match a.data_type() {
        DataType::Int64 | DataType::Int32 | DataType::UInt32 => {
            let a = cast_to(a, &DataType::Int64, "patient_id", file)?;
            Ok(PatientIds::Int(
                a.as_primitive::<Int64Type>().values().to_vec(),
            ))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let a = cast_to(a, &DataType::Utf8, "patient_id", file)?;
            Ok(PatientIds::Str(
                a.as_string::<i32>()
                    .iter()
                    .map(|s| s.unwrap_or_default().to_string())
                    .collect(),
            ))
        }
        other => bail!(
            "{}: column `patient_id` has type {other}, expected Int64 or Utf8",
            file.display()
        ),
    }
}

/// Looks patient ids up by value.
pub enum IdIndex {
    Int(FxHashMap<i64, u32>),
    Str(FxHashMap<String, u32>),
}

impl IdIndex {
    pub fn new(ids: &PatientIds) -> IdIndex {
        match ids {
            PatientIds::Int(v) => IdIndex::Int(
                v.iter()
                    .enumerate()
                    .map(|(i, id)| (*id, i as u32))
                    .collect(),
            ),
            PatientIds::Str(v) => IdIndex::Str(
                v.iter()
                    .enumerate()
                    .map(|(i, id)| (id.clone(), i as u32))
                    .collect(),
            ),
        }
    }

    /// Index of every id of `other` (`None` = unknown). Types must agree.
    pub fn lookup_all(&self, other: &PatientIds, file: &Path) -> Result<Vec<Option<u32>>> {
        Ok(match (self, other) {
            (IdIndex::Int(m), PatientIds::Int(v)) => {
                v.iter().map(|id| m.get(id).copied()).collect()
            }
            (IdIndex::Str(m), PatientIds::Str(v)) => {
                v.iter().map(|id| m.get(id).copied()).collect()
            }
            _ => bail!(
                "{}: patient_id has another type than in patients (Int64 vs Utf8)",
                file.display()
            ),
        })
    }

    /// Index of one id typed by a user.
    pub fn lookup_text(&self, text: &str) -> Option<u32> {
        match self {
            IdIndex::Int(m) => text
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|id| m.get(&id).copied()),
            IdIndex::Str(m) => m.get(text).copied(),
        }
    }
}

/// Like [`floats`], but a missing column is all nulls (optional features).
pub fn opt_floats(b: &RecordBatch, name: &str, file: &Path) -> Result<Vec<Option<f64>>> {
    if b.column_by_name(name).is_none() {
        return Ok(vec![None; b.num_rows()]);
    }
    floats(b, name, file)
}

/// Like [`bools`], but a missing column is all nulls (optional features).
pub fn opt_bools(b: &RecordBatch, name: &str, file: &Path) -> Result<Vec<Option<bool>>> {
    if b.column_by_name(name).is_none() {
        return Ok(vec![None; b.num_rows()]);
    }
    bools(b, name, file)
}
