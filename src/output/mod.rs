//! Output helpers shared by the commands that write files: atomic writing
//! ([`atomic`]) and the Parquet tables of a scoring run ([`tables`]).
//!
//! The core (plan, eval) never does IO; these helpers are called by the CLI.

pub mod atomic;
pub mod batches;
pub mod tables;

use std::collections::BTreeMap;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, compute_leaves};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

pub use atomic::{OutputLock, StagingDir, remove_leftovers, replace_file, write_file_atomic};

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
    #[error(
        "row group {missing} of {} was never written (an internal error: please report it)",
        path.display()
    )]
    MissingRowGroup { path: PathBuf, missing: usize },
    #[error("the directory {} does not exist; create it or choose another output path", .0.display())]
    NoParent(PathBuf),
    #[error(
        "another caregap run is writing {} ({holder}); wait for it to finish, or write to another folder",
        target.display()
    )]
    Busy { target: PathBuf, holder: String },
    #[error("{} is not a run folder; run `caregap score --out` into it first", .0.display())]
    NotARun(PathBuf),
}

/// Writes one record batch as a zstd-compressed Parquet file at `path`, in
/// row groups of [`ROW_GROUP_ROWS`] rows (not atomic by itself: write into a [`StagingDir`], or use
/// [`write_parquet_atomic`]).
pub fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<(), OutputError> {
    write_parquet_styled(path, batch, &[])
}

/// [`write_parquet`] with some columns encoded their own way.
pub fn write_parquet_styled(
    path: &Path,
    batch: &RecordBatch,
    styles: &[(&str, ColumnStyle)],
) -> Result<(), OutputError> {
    write_parquet_rows(path, batch.schema(), styles, batch.num_rows(), |rows| {
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
        for g in groups {
            self.append(g)?;
        }
        self.close()
    }

    /// Appends one row group (an empty one is left out).
    pub fn append(&mut self, g: EncodedRowGroup) -> Result<(), OutputError> {
        if g.rows == 0 {
            return Ok(());
        }
        let perr = parquet_error(&self.path);
        let mut group = self.writer.next_row_group().map_err(&perr)?;
        for chunk in g.chunks {
            chunk.append_to_row_group(&mut group).map_err(&perr)?;
        }
        group.close().map_err(&perr)?;
        Ok(())
    }

    /// Writes the footer and syncs the file.
    pub fn close(self) -> Result<(), OutputError> {
        let file = self
            .writer
            .into_inner()
            .map_err(parquet_error(&self.path))?;
        file.sync_all().map_err(|source| OutputError::Io {
            what: "sync",
            path: self.path.clone(),
            source,
        })
    }
}

/// A [`ParquetFile`] whose row groups, numbered from 0, come from worker
/// threads in any order: each is appended as soon as every lower-numbered
/// one is, so the file is written while the groups are being made and only
/// the groups that arrive early wait in memory.
pub struct InOrderFile {
    state: Mutex<InOrder>,
}

struct InOrder {
    file: ParquetFile,
    /// The number of the next group to append.
    next: usize,
    waiting: BTreeMap<usize, EncodedRowGroup>,
}

impl InOrderFile {
    pub fn new(file: ParquetFile) -> InOrderFile {
        InOrderFile {
            state: Mutex::new(InOrder {
                file,
                next: 0,
                waiting: BTreeMap::new(),
            }),
        }
    }

    /// Adds row group `number`, then appends every group now in order.
    pub fn push(&self, number: usize, group: EncodedRowGroup) -> Result<(), OutputError> {
        // A panic elsewhere while appending cannot leave the state half
        // updated in a way that matters: the run fails and the file is removed.
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.waiting.insert(number, group);
        loop {
            let next = s.next;
            let Some(g) = s.waiting.remove(&next) else {
                return Ok(());
            };
            s.file.append(g)?;
            s.next += 1;
        }
    }

    /// Writes the footer and syncs the file once every group up to the
    /// highest number pushed is appended.
    pub fn finish(self) -> Result<(), OutputError> {
        let s = self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if !s.waiting.is_empty() {
            return Err(OutputError::MissingRowGroup {
                path: s.file.path.clone(),
                missing: s.next,
            });
        }
        s.file.close()
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
        self.encode_batches(index, std::slice::from_ref(batch))
    }

    /// Encodes `batches` (the file's schema), one after another, as the
    /// file's row group number `index`.
    pub fn encode_batches(
        &self,
        index: usize,
        batches: &[RecordBatch],
    ) -> Result<EncodedRowGroup, OutputError> {
        let mut group = self.begin(index)?;
        for batch in batches {
            group.write(batch.columns())?;
        }
        group.finish(batches.iter().map(RecordBatch::num_rows).sum())
    }

    /// Starts row group number `index`, to be written a few rows at a time
    /// ([`RowGroupWriter::write`]) and then [`finish`](RowGroupWriter::finish)ed.
    pub fn begin(&self, index: usize) -> Result<RowGroupWriter, OutputError> {
        let writers = self
            .factory
            .create_column_writers(index)
            .map_err(parquet_error(&self.path))?;
        Ok(RowGroupWriter {
            path: self.path.clone(),
            schema: Arc::clone(&self.schema),
            writers,
        })
    }
}

/// A row group of a [`ParquetFile`] being encoded ([`RowGroupEncoder::begin`]).
pub struct RowGroupWriter {
    path: PathBuf,
    schema: SchemaRef,
    writers: Vec<parquet::arrow::arrow_writer::ArrowColumnWriter>,
}

impl RowGroupWriter {
    /// Appends rows given as columns in the file's schema order. A column may
    /// also be a dictionary array of the schema's type (the Parquet writer
    /// looks every value up; the file is the same as from the plain array).
    pub fn write(&mut self, columns: &[ArrayRef]) -> Result<(), OutputError> {
        let perr = parquet_error(&self.path);
        let mut next = 0;
        for (field, array) in self.schema.fields().iter().zip(columns) {
            for leaf in compute_leaves(field, array).map_err(&perr)? {
                self.writers[next].write(&leaf).map_err(&perr)?;
                next += 1;
            }
        }
        Ok(())
    }

    /// Closes the row group's column chunks; `rows` is the number of rows written.
    pub fn finish(self, rows: usize) -> Result<EncodedRowGroup, OutputError> {
        let perr = parquet_error(&self.path);
        let chunks = self
            .writers
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

    /// An [`InOrderFile`] at `path` with one Int64 column `n`.
    fn in_order_file(path: &Path) -> (SchemaRef, RowGroupEncoder, InOrderFile) {
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let (file, encoder) = ParquetFile::create(path, Arc::clone(&schema), &[]).unwrap();
        (schema, encoder, InOrderFile::new(file))
    }

    /// Row group `k` of an [`in_order_file`]: `n` = `3k, 3k + 1, 3k + 2`.
    fn numbered(encoder: &RowGroupEncoder, schema: &SchemaRef, k: usize) -> EncodedRowGroup {
        let n = Int64Array::from_iter_values((0..3).map(|i| (k * 3 + i) as i64));
        let batch = RecordBatch::try_new(Arc::clone(schema), vec![Arc::new(n)]).unwrap();
        encoder.encode(k, &batch).unwrap()
    }

    /// Row groups pushed out of order from several threads are appended in
    /// number order.
    #[test]
    fn in_order_file_appends_by_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.parquet");
        let (schema, encoder, file) = in_order_file(&path);
        let order = [5, 1, 0, 7, 3, 2, 6, 4];
        std::thread::scope(|s| {
            for part in order.chunks(2) {
                let (file, encoder, schema) = (&file, &encoder, &schema);
                s.spawn(move || {
                    for &k in part {
                        file.push(k, numbered(encoder, schema, k)).unwrap();
                    }
                });
            }
        });
        file.finish().unwrap();
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 8);
        let values: Vec<i64> = reader
            .build()
            .unwrap()
            .flat_map(|b| {
                let b = b.unwrap();
                b.column(0).as_primitive::<Int64Type>().values().to_vec()
            })
            .collect();
        assert_eq!(values, (0..24).collect::<Vec<i64>>());
    }

    /// A gap in the numbers is an error at `finish`, not a silently short file.
    #[test]
    fn in_order_file_refuses_a_missing_group() {
        let dir = tempfile::tempdir().unwrap();
        let (schema, encoder, file) = in_order_file(&dir.path().join("m.parquet"));
        file.push(0, numbered(&encoder, &schema, 0)).unwrap();
        file.push(2, numbered(&encoder, &schema, 2)).unwrap();
        let err = file.finish().unwrap_err();
        assert!(
            matches!(err, OutputError::MissingRowGroup { missing: 1, .. }),
            "{err}"
        );
    }
}
