//! Output helpers shared by the commands that write files: atomic writing
//! ([`atomic`]) and the Parquet tables of a scoring run ([`tables`]).
//!
//! The core (plan, eval) never does IO; these helpers are called by the CLI.

pub mod atomic;
pub mod tables;

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, compute_leaves};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

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

/// Writes one record batch as a zstd-compressed Parquet file at `path`, in
/// row groups of [`ROW_GROUP_ROWS`] rows (not atomic by itself: write into a [`StagingDir`], or use
/// [`write_parquet_atomic`]).
pub fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<(), OutputError> {
    write_parquet_rows(path, batch.schema(), &[], batch.num_rows(), |rows| {
        Ok(batch.slice(rows.start, rows.len()))
    })
}

/// Rows per row group of the tables written by [`write_parquet_rows`]: large
/// enough for good compression, small enough that every core gets row groups
/// to encode and that one row group's Arrow arrays stay small.
pub const ROW_GROUP_ROWS: usize = 256 * 1024;

/// How a column of a [`write_parquet_rows`] table is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnStyle {
    /// Dictionary encoding and page statistics (ids, codes, numbers).
    Default,
    /// Long, mostly distinct text: plain encoding, no min/max statistics
    /// (evidence strings; a dictionary would be abandoned anyway).
    FreeText,
    /// Integers in ascending order, few repeats (patient ids): delta encoding
    /// instead of a dictionary that would overflow.
    Ascending,
    /// A few distinct values in every row group (clinic and criterion ids,
    /// statuses): a dictionary, and no min/max statistics (they would span
    /// every value in every row group; computing them compares every row).
    Repeated,
}

/// Writes a table of `rows` rows as a zstd Parquet file at `path`, encoding its
/// row groups ([`ROW_GROUP_ROWS`] rows each) in parallel: `batch(range)` builds
/// the Arrow columns of the rows in `range` (called from worker threads, once
/// per row group). Row groups are written in order, so the file does not
/// depend on the thread count. Not atomic by itself (see [`write_parquet`]).
pub fn write_parquet_rows<F>(
    path: &Path,
    schema: SchemaRef,
    styles: &[(&str, ColumnStyle)],
    rows: usize,
    batch: F,
) -> Result<(), OutputError>
where
    F: Fn(Range<usize>) -> Result<RecordBatch, OutputError> + Sync,
{
    let (file, encoder) = ParquetFile::create(path, schema, styles)?;
    let groups: Vec<Range<usize>> = (0..rows.div_ceil(ROW_GROUP_ROWS))
        .map(|g| g * ROW_GROUP_ROWS..((g + 1) * ROW_GROUP_ROWS).min(rows))
        .collect();
    // Encoded, compressed column chunks of every row group (a fraction of the
    // Arrow data), then appended in row-group order.
    let encoded: Vec<EncodedRowGroup> = groups
        .into_par_iter()
        .enumerate()
        .map(|(g, range)| encoder.encode(g, &batch(range)?))
        .collect::<Result<_, OutputError>>()?;
    file.finish(encoded)
}

/// A Parquet file being written row group by row group: row groups are
/// encoded and compressed by a [`RowGroupEncoder`] on any thread, in any
/// order, then appended in order by [`ParquetFile::finish`].
pub struct ParquetFile {
    path: PathBuf,
    writer: parquet::file::writer::SerializedFileWriter<fs::File>,
}

/// Encodes row groups of a [`ParquetFile`] (shared by the threads).
pub struct RowGroupEncoder {
    path: PathBuf,
    schema: SchemaRef,
    factory: parquet::arrow::arrow_writer::ArrowRowGroupWriterFactory,
}

/// One row group's encoded, compressed column chunks.
pub struct EncodedRowGroup {
    rows: usize,
    chunks: Vec<ArrowColumnChunk>,
}

fn parquet_error(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> OutputError + '_ {
    move |source| OutputError::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

impl ParquetFile {
    /// Creates the zstd-compressed file at `path` (not atomic by itself: write
    /// into a [`StagingDir`]).
    pub fn create(
        path: &Path,
        schema: SchemaRef,
        styles: &[(&str, ColumnStyle)],
    ) -> Result<(ParquetFile, RowGroupEncoder), OutputError> {
        let perr = parquet_error(path);
        let file = fs::File::create(path).map_err(|source| OutputError::Io {
            what: "create",
            path: path.to_path_buf(),
            source,
        })?;
        let mut props =
            WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default()));
        for &(name, style) in styles {
            let col = ColumnPath::from(name);
            props = match style {
                ColumnStyle::Default => props,
                ColumnStyle::FreeText => props
                    .set_column_dictionary_enabled(col.clone(), false)
                    .set_column_statistics_enabled(col, EnabledStatistics::None),
                ColumnStyle::Ascending => props
                    .set_column_dictionary_enabled(col.clone(), false)
                    .set_column_encoding(col, Encoding::DELTA_BINARY_PACKED),
                ColumnStyle::Repeated => {
                    props.set_column_statistics_enabled(col, EnabledStatistics::None)
                }
            };
        }
        let writer =
            ArrowWriter::try_new(file, Arc::clone(&schema), Some(props.build())).map_err(&perr)?;
        let (writer, factory) = writer.into_serialized_writer().map_err(&perr)?;
        Ok((
            ParquetFile {
                path: path.to_path_buf(),
                writer,
            },
            RowGroupEncoder {
                path: path.to_path_buf(),
                schema,
                factory,
            },
        ))
    }

    /// Appends `groups` in order (empty ones are left out), writes the footer
    /// and syncs the file.
    pub fn finish(
        mut self,
        groups: impl IntoIterator<Item = EncodedRowGroup>,
    ) -> Result<(), OutputError> {
        let perr = parquet_error(&self.path);
        for g in groups.into_iter().filter(|g| g.rows > 0) {
            let mut group = self.writer.next_row_group().map_err(&perr)?;
            for chunk in g.chunks {
                chunk.append_to_row_group(&mut group).map_err(&perr)?;
            }
            group.close().map_err(&perr)?;
        }
        let file = self.writer.into_inner().map_err(&perr)?;
        file.sync_all().map_err(|source| OutputError::Io {
            what: "sync",
            path: self.path.clone(),
            source,
        })
    }
}

impl RowGroupEncoder {
    /// Encodes `batch` (the file's schema) as the file's row group number
    /// `index` (the number matters only to encrypted files, which these are not).
    pub fn encode(
        &self,
        index: usize,
        batch: &RecordBatch,
    ) -> Result<EncodedRowGroup, OutputError> {
        self.encode_columns(index, batch.columns(), batch.num_rows())
    }

    /// [`RowGroupEncoder::encode`] of `rows` rows given as columns, in the
    /// file's schema order. A column may also be a dictionary array of the
    /// schema's type (the Parquet writer looks every value up; the file is
    /// the same as from the plain array).
    pub fn encode_columns(
        &self,
        index: usize,
        columns: &[ArrayRef],
        rows: usize,
    ) -> Result<EncodedRowGroup, OutputError> {
        let perr = parquet_error(&self.path);
        let mut writers = self.factory.create_column_writers(index).map_err(&perr)?;
        let mut next = 0;
        for (field, array) in self.schema.fields().iter().zip(columns) {
            for leaf in compute_leaves(field, array).map_err(&perr)? {
                writers[next].write(&leaf).map_err(&perr)?;
                next += 1;
            }
        }
        let chunks = writers
            .into_iter()
            .map(|w| w.close().map_err(&perr))
            .collect::<Result<_, _>>()?;
        Ok(EncodedRowGroup { rows, chunks })
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// Rows spanning several row groups come back complete and in order, with
    /// the free-text column plain-encoded.
    #[test]
    fn row_groups_are_written_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let rows = 2 * ROW_GROUP_ROWS + 7;
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("text", DataType::Utf8, false),
        ]));
        let styles = [("text", ColumnStyle::FreeText)];
        write_parquet_rows(&path, Arc::clone(&schema), &styles, rows, |r| {
            let n = Int64Array::from_iter_values(r.clone().map(|i| i as i64));
            let text = StringArray::from_iter_values(r.map(|i| format!("row {i}")));
            Ok(
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(n), Arc::new(text)])
                    .unwrap(),
            )
        })
        .unwrap();
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path).unwrap()).unwrap();
        let meta = reader.metadata().clone();
        assert_eq!(meta.num_row_groups(), 3);
        assert_eq!(meta.row_group(0).column(1).dictionary_page_offset(), None);
        let mut next = 0i64;
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            let n = batch.column(0).as_primitive::<Int64Type>();
            let text = batch.column(1).as_string::<i32>();
            for i in 0..n.len() {
                assert_eq!(n.value(i), next);
                assert_eq!(text.value(i), format!("row {next}"));
                next += 1;
            }
        }
        assert_eq!(next as usize, rows);
    }

    #[test]
    fn an_empty_table_is_a_valid_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = RecordBatch::new_empty(Arc::clone(&schema));
        write_parquet(&path, &batch).unwrap();
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.schema().fields().len(), 1);
        assert_eq!(
            reader
                .build()
                .unwrap()
                .map(|b| b.unwrap().num_rows())
                .sum::<usize>(),
            0
        );
    }
}
