//! Tolerant reading of a run's Parquet files: columns are found by name, any
//! extra column is kept or ignored, a missing optional column is `None`, and
//! every value is read through an Arrow cast (so `Int32` or `UInt32` scores,
//! `Utf8View` or dictionary texts all read the same).

use super::RunError;
use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Float64Type};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Reads a Parquet file into one batch; `columns` limits it to those present
/// (`None`: every column). Row groups are decoded in parallel (each by its
/// own reader and file handle, over the footer read once) and joined in
/// file order.
pub fn read(path: &Path, columns: Option<&[&str]>) -> Result<RecordBatch, RunError> {
    let reading = |e: &dyn std::fmt::Display| RunError::new(path, format!("reading: {e}"));
    let file = std::fs::File::open(path).map_err(|e| RunError::io(path, "opening", e))?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default())
        .map_err(|e| RunError::new(path, format!("not a readable Parquet file: {e}")))?;
    let mask = columns.map(|names| {
        let schema = meta.parquet_schema();
        let fields = schema.root_schema().get_fields();
        let roots: Vec<usize> = (0..fields.len())
            .filter(|&i| names.contains(&fields[i].name()))
            .collect();
        ProjectionMask::roots(schema, roots)
    });
    let builder = |groups: Vec<usize>| -> Result<_, RunError> {
        // Opened anew: clones of one `File` share its offset, and the
        // readers seek.
        let f = std::fs::File::open(path).map_err(|e| RunError::io(path, "opening", e))?;
        let b = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta.clone())
            .with_row_groups(groups);
        Ok(match &mask {
            Some(m) => b.with_projection(m.clone()),
            None => b,
        })
    };
    let schema = builder(Vec::new())?.schema().clone();
    let parts: Vec<Vec<RecordBatch>> = (0..meta.metadata().num_row_groups())
        .into_par_iter()
        .map(|g| {
            builder(vec![g])?
                .build()
                .map_err(|e| reading(&e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| reading(&e))
        })
        .collect::<Result<_, _>>()?;
    let batches: Vec<&RecordBatch> = parts.iter().flatten().collect();
    let schema = match columns {
        None => schema,
        Some(_) => batches.first().map_or(schema, |b| b.schema()),
    };
    concat_batches(&schema, batches).map_err(|e| reading(&e))
}

/// Where a data-folder table lives: `dir/name.parquet`, or the `*.parquet`
/// parts of `dir/name/` in name order. Empty when absent.
pub fn table_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let file = dir.join(format!("{name}.parquet"));
    if file.is_file() {
        return vec![file];
    }
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir.join(name))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    parts
}

/// A column as an Arrow text array (any type cast to Utf8; a Utf8 column
/// is shared, not copied); `None` when the column is absent.
pub fn text_array(
    b: &RecordBatch,
    name: &str,
    file: &Path,
) -> Result<Option<StringArray>, RunError> {
    let Some(col) = b.column_by_name(name) else {
        return Ok(None);
    };
    let col = cast(col, &DataType::Utf8)
        .map_err(|e| RunError::new(file, format!("column `{name}` cannot be read as text: {e}")))?;
    Ok(Some(col.as_string::<i32>().clone()))
}

/// A required column as an Arrow text array.
pub fn text_array_req(b: &RecordBatch, name: &str, file: &Path) -> Result<StringArray, RunError> {
    text_array(b, name, file)?.ok_or_else(|| missing(name, file))
}

fn missing(name: &str, file: &Path) -> RunError {
    RunError::new(
        file,
        format!("no column `{name}`: was it written by `caregap score` / `caregap rank`?"),
    )
}

/// A column as text (any type cast to Utf8); `None` when the column is absent.
pub fn text(
    b: &RecordBatch,
    name: &str,
    file: &Path,
) -> Result<Option<Vec<Option<String>>>, RunError> {
    let Some(s) = text_array(b, name, file)? else {
        return Ok(None);
    };
    Ok(Some(
        (0..s.len())
            .map(|i| (!s.is_null(i)).then(|| s.value(i).to_string()))
            .collect(),
    ))
}

/// A required text column.
pub fn text_req(b: &RecordBatch, name: &str, file: &Path) -> Result<Vec<Option<String>>, RunError> {
    text(b, name, file)?.ok_or_else(|| missing(name, file))
}

/// A column as numbers; `None` when absent or not numeric.
pub fn number(b: &RecordBatch, name: &str) -> Option<Vec<Option<f64>>> {
    let col = b.column_by_name(name)?;
    if !col.data_type().is_numeric() {
        return None;
    }
    let col = cast(col, &DataType::Float64).ok()?;
    let f = col.as_primitive::<Float64Type>();
    Some(
        (0..f.len())
            .map(|i| (!f.is_null(i)).then(|| f.value(i)))
            .collect(),
    )
}
