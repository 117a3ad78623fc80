//! Output helpers shared by the commands that write files: atomic writing
//! ([`atomic`]) and the Parquet tables of a scoring run ([`tables`]).
//!
//! The core (plan, eval) never does IO; these helpers are called by the CLI.

pub mod atomic;
pub mod tables;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

pub use atomic::{StagingDir, write_file_atomic};

/// Why an output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write Parquet file {}: {source}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("cannot build table {table}: {source}")]
    Arrow {
        table: &'static str,
        #[source]
        source: arrow::error::ArrowError,
    },
    #[error("output path {} has no file name", .0.display())]
    BadTarget(PathBuf),
    #[error("the directory {} does not exist; create it or choose another output path", .0.display())]
    NoParent(PathBuf),
}

/// Writes one record batch as a zstd-compressed Parquet file at `path`
/// (not atomic by itself: write into a [`StagingDir`], or use
/// [`write_parquet_atomic`]).
pub fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<(), OutputError> {
    let perr = |source| OutputError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::create(path).map_err(|source| OutputError::Io {
        what: "create",
        path: path.to_path_buf(),
        source,
    })?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut writer =
        ArrowWriter::try_new(file, Arc::clone(&batch.schema()), Some(props)).map_err(perr)?;
    writer.write(batch).map_err(perr)?;
    let file = writer.into_inner().map_err(perr)?;
    file.sync_all().map_err(|source| OutputError::Io {
        what: "sync",
        path: path.to_path_buf(),
        source,
    })
}

/// [`write_parquet`] into a temporary sibling, then renamed over `path`.
pub fn write_parquet_atomic(path: &Path, batch: &RecordBatch) -> Result<(), OutputError> {
    let name = path
        .file_name()
        .ok_or_else(|| OutputError::BadTarget(path.to_path_buf()))?
        .to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = write_parquet(&tmp, batch).and_then(|()| {
        fs::rename(&tmp, path).map_err(|source| OutputError::Io {
            what: "rename into place",
            path: path.to_path_buf(),
            source,
        })
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
