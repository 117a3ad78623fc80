//! Errors of the loader: each names the file (and column, row, id) and says
//! what to do about it.

use std::path::PathBuf;

use super::report::Table;

/// Why a dataset could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(
        "no `{table}` table in {dir}: expected the file {dir}/{table}.parquet or a folder {dir}/{table}/ of *.parquet parts"
    )]
    MissingTable { table: Table, dir: PathBuf },

    #[error(
        "the `{table}` table is given twice: both {file} and the folder {folder} exist; remove or rename one of them"
    )]
    AmbiguousTable {
        table: Table,
        file: PathBuf,
        folder: PathBuf,
    },

    #[error(
        "the folder {folder} holds no *.parquet parts for the `{table}` table; add the parts or remove the folder"
    )]
    EmptyTableFolder { table: Table, folder: PathBuf },

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path} is not a readable Parquet file: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },

    #[error(
        "{path}: cannot decode Parquet data: the Parquet reader failed ({message}); the file is corrupt: write it again"
    )]
    Corrupt { path: PathBuf, message: String },

    #[error("{path}: cannot decode Parquet data: {source}")]
    Arrow {
        path: PathBuf,
        #[source]
        source: arrow::error::ArrowError,
    },

    #[error(
        "{path}: the `{table}` table has no column `{column}` (required, type {expected}); columns found: {found}. Add the column or rename the one that holds it"
    )]
    MissingColumn {
        path: PathBuf,
        table: Table,
        column: &'static str,
        expected: &'static str,
        found: String,
    },

    #[error(
        "{path}: column `{column}` of the `{table}` table has type {found}, expected {expected}; {hint}"
    )]
    WrongType {
        path: PathBuf,
        table: Table,
        column: &'static str,
        expected: &'static str,
        found: String,
        hint: &'static str,
    },

    #[error(
        "{path}: column `patient_id` of the `{table}` table is {found} but the `patients` table uses {patients}; write patient ids with the same type in every table"
    )]
    IdTypeMismatch {
        path: PathBuf,
        table: Table,
        found: &'static str,
        patients: &'static str,
    },

    #[error(
        "{path}, row {row}: patient_id {id} appears more than once in the `patients` table (first at {first_path}, row {first_row}); patient ids must be unique"
    )]
    DuplicatePatient {
        path: PathBuf,
        row: u64,
        id: String,
        first_path: PathBuf,
        first_row: u64,
    },

    #[error(
        "{file}, row {row}: unusable `{table}` row ({reason}; value: {value}); {total} unusable row(s) in all. Fix the data or run without --strict to count and skip them"
    )]
    Rejected {
        table: Table,
        file: String,
        row: u64,
        reason: String,
        value: String,
        total: u64,
    },

    #[error(
        "{count} event rows exceed the store's limit of {limit}; split the population into several runs"
    )]
    TooManyEvents { count: u64, limit: u64 },

    #[error(
        "{path}: the row group starting at row {first_row} holds more rows than the {declared} its metadata declares; \
         the file is corrupt: write it again"
    )]
    RowGroupOverflow {
        path: PathBuf,
        first_row: u64,
        declared: usize,
    },
}
