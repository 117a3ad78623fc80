//! Reading a researcher's table (Parquet or CSV) into plain columns.
//!
//! Integer and floating columns become `f64` (null → NaN), booleans 0/1
//! (null → NaN), strings (and dictionary-encoded strings) stay strings (null →
//! `None`). CSV goes through arrow-csv with its schema inference over the
//! whole file: a column of integers is numeric, `true`/`false` is boolean,
//! anything else a string, and an empty cell is null, so a CSV and the
//! Parquet file written from the same data read the same. Any other Arrow type
//! (dates, lists, ...) is refused, naming the column.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Schema};

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers and booleans (0/1); NaN = missing.
    Num(Vec<f64>),
    /// Strings; `None` = missing.
    Str(Vec<Option<String>>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Num(v) => v.len(),
            Column::Str(v) => v.len(),
        }
    }
}

/// A table of named columns, all the same length.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column names in file order.
    pub names: Vec<String>,
    /// Column values.
    pub columns: Vec<Column>,
}

impl Table {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// The column called `name`.
    pub fn get(&self, name: &str) -> Option<&Column> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|j| &self.columns[j])
    }

    /// The rows `rows`, in that order.
    pub fn subset(&self, rows: &[usize]) -> Table {
        Table {
            names: self.names.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| match c {
                    Column::Num(v) => Column::Num(rows.iter().map(|&i| v[i]).collect()),
                    Column::Str(v) => Column::Str(rows.iter().map(|&i| v[i].clone()).collect()),
                })
                .collect(),
        }
    }
}

/// Reads `path`: `.csv` (header row, comma-separated) or anything else as
/// Parquet.
pub fn read_table(path: &Path) -> Result<Table> {
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let open = || File::open(path).with_context(|| format!("cannot open {}", path.display()));
    let (schema, batches): (Arc<Schema>, Vec<RecordBatch>) = if is_csv {
        let format = arrow_csv::reader::Format::default().with_header(true);
        let (schema, _) = format.infer_schema(open()?, None).with_context(|| {
            format!("cannot read the CSV header and types of {}", path.display())
        })?;
        let schema = Arc::new(schema);
        let reader = arrow_csv::ReaderBuilder::new(schema.clone())
            .with_format(format)
            .build(open()?)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let batches = reader
            .collect::<std::result::Result<Vec<_>, _>>()
            .with_context(|| format!("cannot read {}", path.display()))?;
        (schema, batches)
    } else {
        let builder =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open()?)
                .with_context(|| {
                    format!(
                        "{} is not a Parquet file (or use a .csv name for CSV)",
                        path.display()
                    )
                })?;
        let schema = builder.schema().clone();
        let reader = builder
            .build()
            .with_context(|| format!("cannot read {}", path.display()))?;
        let batches = reader
            .collect::<std::result::Result<Vec<_>, _>>()
            .with_context(|| format!("cannot read {}", path.display()))?;
        (schema, batches)
    };
    let mut names = Vec::new();
    let mut columns = Vec::new();
    for (j, field) in schema.fields().iter().enumerate() {
        let name = field.name().clone();
        if names.contains(&name) {
            bail!("{}: column `{name}` appears twice", path.display());
        }
        let numeric = field.data_type().is_numeric() || *field.data_type() == DataType::Boolean;
        let stringy = matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _)
        );
        let col = if numeric {
            let mut v = Vec::new();
            for b in &batches {
                let a = cast(b.column(j), &DataType::Float64)
                    .with_context(|| format!("column `{name}`: cannot read as numbers"))?;
                let a = a.as_primitive::<Float64Type>();
                v.extend((0..a.len()).map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) }));
            }
            Column::Num(v)
        } else if stringy {
            let mut v = Vec::new();
            for b in &batches {
                let a = cast(b.column(j), &DataType::Utf8)
                    .with_context(|| format!("column `{name}`: cannot read as text"))?;
                let a = a.as_string::<i32>();
                v.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i).to_string())));
            }
            Column::Str(v)
        } else {
            bail!(
                "{}: column `{name}` has type {}; the models take numbers, booleans and strings \
                 (convert it, or leave it out with --exclude)",
                path.display(),
                field.data_type()
            );
        };
        names.push(name);
        columns.push(col);
    }
    Ok(Table { names, columns })
}
