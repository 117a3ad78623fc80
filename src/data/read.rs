//! Parquet plumbing shared by the table loaders: finding a table's files,
//! checking column types, reading row groups in parallel with only the needed
//! columns, and turning string columns into small per-chunk dictionaries.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayAccessor, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use rayon::prelude::*;

use super::error::DataError;
use super::report::{FileRows, Table};

/// Rows per decoded Arrow batch.
const BATCH_SIZE: usize = 64 * 1024;

/// A fast non-cryptographic hasher (the Fx hash of rustc) for in-process maps
/// of small keys; inputs are not adversarial here.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxBuild;

pub(crate) struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

impl BuildHasher for FxBuild {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, FxBuild>;

/// The id of a null in a column of interned strings.
pub(crate) const NULL_ID: u32 = u32::MAX;

/// Distinct strings of a chunk, in order of first appearance.
#[derive(Default, Debug)]
pub(crate) struct Interner {
    map: FxMap<Box<str>, u32>,
    pub values: Vec<Box<str>>,
}

impl Interner {
    #[inline]
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.map.get(s) {
            return id;
        }
        let id = self.values.len() as u32;
        self.values.push(s.into());
        self.map.insert(s.into(), id);
        id
    }

    pub fn get(&self, id: u32) -> Option<&str> {
        (id != NULL_ID).then(|| &*self.values[id as usize])
    }
}

/// Replaces `out` with the interned id of each row of a string-like column
/// (Utf8, LargeUtf8, Utf8View or a dictionary of those); nulls get [`NULL_ID`].
/// A dictionary column is interned per dictionary value, not per row.
pub(crate) fn intern_column(col: &dyn Array, interner: &mut Interner, out: &mut Vec<u32>) {
    out.clear();
    out.reserve(col.len());
    match col.data_type() {
        DataType::Utf8 => intern_accessor(col.as_string::<i32>(), interner, out),
        DataType::LargeUtf8 => intern_accessor(col.as_string::<i64>(), interner, out),
        DataType::Utf8View => intern_accessor(col.as_string_view(), interner, out),
        DataType::Dictionary(_, _) => {
            let dict = col.as_any_dictionary();
            let mut value_ids = Vec::new();
            intern_column(dict.values().as_ref(), interner, &mut value_ids);
            let keys = dict.normalized_keys();
            let nulls = dict.logical_nulls();
            for (i, &k) in keys.iter().enumerate() {
                let null = nulls.as_ref().is_some_and(|n| n.is_null(i));
                out.push(if null { NULL_ID } else { value_ids[k] });
            }
        }
        other => unreachable!("column type {other} was checked to be string-like"),
    }
}

fn intern_accessor<'a, A>(array: A, interner: &mut Interner, out: &mut Vec<u32>)
where
    A: ArrayAccessor<Item = &'a str> + Array,
{
    let mut last: Option<(&str, u32)> = None;
    for i in 0..array.len() {
        if array.is_null(i) {
            out.push(NULL_ID);
            continue;
        }
        let s = array.value(i);
        let id = match last {
            Some((prev, id)) if prev == s => id,
            _ => {
                let id = interner.intern(s);
                last = Some((s, id));
                id
            }
        };
        out.push(id);
    }
}

/// Calls `f` with each non-null row's string of a string-like column.
pub(crate) fn for_each_str(col: &dyn Array, mut f: impl FnMut(usize, Option<&str>)) {
    fn run<'a, A: ArrayAccessor<Item = &'a str> + Array>(
        a: A,
        f: &mut impl FnMut(usize, Option<&str>),
    ) {
        for i in 0..a.len() {
            f(i, (!a.is_null(i)).then(|| a.value(i)));
        }
    }
    match col.data_type() {
        DataType::Utf8 => run(col.as_string::<i32>(), &mut f),
        DataType::LargeUtf8 => run(col.as_string::<i64>(), &mut f),
        DataType::Utf8View => run(col.as_string_view(), &mut f),
        DataType::Dictionary(_, _) => {
            let mut interner = Interner::default();
            let mut ids = Vec::new();
            intern_column(col, &mut interner, &mut ids);
            for (i, id) in ids.into_iter().enumerate() {
                f(i, interner.get(id));
            }
        }
        other => unreachable!("column type {other} was checked to be string-like"),
    }
}

/// A row's value as text for reports (`null` for a null).
pub(crate) fn render(col: &dyn Array, row: usize) -> String {
    if col.is_null(row) {
        return "null".to_string();
    }
    arrow::util::display::array_value_to_string(col, row).unwrap_or_else(|e| format!("<{e}>"))
}

/// The type a column must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Int64 or a string type.
    PatientId,
    Date,
    Str,
    Float64,
    Boolean,
}

impl Expect {
    fn describe(self) -> &'static str {
        match self {
            Expect::PatientId => "Int64 or Utf8",
            Expect::Date => "Date32",
            Expect::Str => "Utf8",
            Expect::Float64 => "Float64",
            Expect::Boolean => "Boolean",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Expect::PatientId => {
                "write identifiers as 64-bit integers or as strings (e.g. pyarrow pa.int64() or pa.string())"
            }
            Expect::Date => {
                "write calendar dates as Parquet DATE (Arrow Date32, days since 1970-01-01), e.g. pyarrow pa.date32(), polars pl.Date, pandas `.dt.date`; timestamps are not accepted"
            }
            Expect::Str => "write the column as strings (Utf8)",
            Expect::Float64 => {
                "write the column as 64-bit floats (pyarrow pa.float64(), polars pl.Float64)"
            }
            Expect::Boolean => "write the column as booleans (true/false)",
        }
    }

    fn accepts(self, dt: &DataType) -> bool {
        match self {
            Expect::PatientId => matches!(dt, DataType::Int64) || is_string(dt),
            Expect::Date => matches!(dt, DataType::Date32),
            Expect::Str => is_string(dt),
            Expect::Float64 => matches!(dt, DataType::Float64),
            Expect::Boolean => matches!(dt, DataType::Boolean),
        }
    }
}

pub(crate) fn is_string(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => matches!(
            **v,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ),
        _ => false,
    }
}

/// A column the loader reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColumnSpec {
    pub name: &'static str,
    pub expect: Expect,
    pub required: bool,
    /// Ask the Parquet reader for a dictionary array (cheap for low-cardinality
    /// dictionary-encoded columns: strings are decoded once per row group).
    pub as_dictionary: bool,
}

pub(crate) const fn col(name: &'static str, expect: Expect, required: bool) -> ColumnSpec {
    ColumnSpec {
        name,
        expect,
        required,
        as_dictionary: false,
    }
}

pub(crate) const fn dict_col(name: &'static str, required: bool) -> ColumnSpec {
    ColumnSpec {
        name,
        expect: Expect::Str,
        required,
        as_dictionary: true,
    }
}

/// Patient ids are integers or strings; the whole dataset uses one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdType {
    Int,
    Str,
}

impl IdType {
    pub fn describe(self) -> &'static str {
        match self {
            IdType::Int => "Int64",
            IdType::Str => "Utf8 strings",
        }
    }
}

/// One checked Parquet file of a table, ready to be read row group by row
/// group, or a table given in memory ([`memory_table`]), read unit by unit.
#[derive(Clone)]
pub(crate) struct TableFile {
    pub path: PathBuf,
    source: Source,
    /// First row (0-based) of each row group (or unit) within the file.
    rg_start: Vec<u64>,
    /// The row groups read (all unless [`TableFile::with_units`] chose some).
    units: std::ops::Range<usize>,
    pub rows: u64,
    pub id_type: IdType,
}

impl TableFile {
    /// The number of row groups (units) of the file.
    pub fn n_units(&self) -> usize {
        self.rg_start.len()
    }

    /// The same file, reading only the row groups `units` (the streaming
    /// load reads a patient range at a time); `rows` stays the file's.
    pub fn with_units(&self, units: std::ops::Range<usize>) -> TableFile {
        TableFile {
            units,
            ..self.clone()
        }
    }

    fn unit_range(&self, rg: usize) -> (u64, u64) {
        let start = self.rg_start[rg];
        (
            start,
            self.rg_start.get(rg + 1).copied().unwrap_or(self.rows) - start,
        )
    }
}

/// Where a [`TableFile`]'s rows come from.
#[derive(Clone)]
enum Source {
    Parquet {
        meta: ArrowReaderMetadata,
        projection: ProjectionMask,
    },
    /// Arrow record batches already in memory; one unit of work per batch
    /// (large batches are sliced into [`MEMORY_UNIT_ROWS`], without a copy).
    Memory(Vec<RecordBatch>),
}

/// Rows per unit of work of a table given in memory (about a Parquet row
/// group's worth, so that a single large batch is still read in parallel).
const MEMORY_UNIT_ROWS: usize = 1 << 20;

/// The files of `DIR/<table>.parquet` or `DIR/<table>/*.parquet` (parts in name
/// order); `None` when the table is absent.
pub(crate) fn table_paths(dir: &Path, table: Table) -> Result<Option<Vec<PathBuf>>, DataError> {
    let file = dir.join(format!("{}.parquet", table.as_str()));
    let folder = dir.join(table.as_str());
    let (is_file, is_dir) = (file.is_file(), folder.is_dir());
    if is_file && is_dir {
        return Err(DataError::AmbiguousTable {
            table,
            file,
            folder,
        });
    }
    if is_file {
        return Ok(Some(vec![file]));
    }
    if !is_dir {
        if !dir.is_dir() {
            // Report the directory itself rather than a missing table in it.
            return Err(DataError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such directory"),
            });
        }
        return Ok(None);
    }
    let entries = std::fs::read_dir(&folder).map_err(|source| DataError::Io {
        path: folder.clone(),
        source,
    })?;
    let mut parts = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DataError::Io {
            path: folder.clone(),
            source,
        })?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_file() && name.ends_with(".parquet") && !name.starts_with('.') {
            parts.push(path);
        }
    }
    if parts.is_empty() {
        return Err(DataError::EmptyTableFolder { table, folder });
    }
    parts.sort();
    Ok(Some(parts))
}

/// Opens `path`, checks the columns of `specs` and prepares the projection.
/// `id_type` is the patients table's id type (None when reading `patients`).
pub(crate) fn open_table_file(
    path: &Path,
    table: Table,
    specs: &[ColumnSpec],
    id_type: Option<IdType>,
) -> Result<TableFile, DataError> {
    let file = File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let parquet_err = |source| DataError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(parquet_err)?;
    let schema = meta.schema().clone();
    let (present, roots, file_id_type) = check_columns(path, &schema, table, specs, id_type)?;
    // Ask for dictionary arrays where that saves decoding strings per row.
    let dict_cols: Vec<&str> = specs
        .iter()
        .zip(&present)
        .filter(|(s, p)| s.as_dictionary && **p)
        .map(|(s, _)| s.name)
        .collect();
    let meta = if dict_cols.is_empty() {
        meta
    } else {
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| {
                let wanted = dict_cols.contains(&f.name().as_str())
                    && !matches!(f.data_type(), DataType::Dictionary(_, _));
                let field = f.as_ref().clone();
                if wanted {
                    field.with_data_type(DataType::Dictionary(
                        Box::new(DataType::Int32),
                        Box::new(DataType::Utf8),
                    ))
                } else {
                    field
                }
            })
            .collect();
        let hinted = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        let options = ArrowReaderOptions::new().with_schema(hinted);
        // A file whose types the hint cannot express is read without it.
        ArrowReaderMetadata::try_new(meta.metadata().clone(), options).unwrap_or(meta)
    };
    let projection = ProjectionMask::roots(meta.parquet_schema(), roots);
    let mut rg_start = Vec::new();
    let mut rows = 0u64;
    for rg in meta.metadata().row_groups() {
        rg_start.push(rows);
        rows += rg.num_rows() as u64;
    }
    Ok(TableFile {
        path: path.to_path_buf(),
        source: Source::Parquet { meta, projection },
        units: 0..rg_start.len(),
        rg_start,
        rows,
        id_type: file_id_type,
    })
}

/// A table given in memory as Arrow record batches of `schema` (e.g. from
/// Python), checked like a file: `label` stands for the path in messages.
/// Batches are kept as they are (no copy); the loader reads their columns by
/// name, so extra columns cost nothing.
pub(crate) fn memory_table(
    label: &Path,
    schema: &Schema,
    batches: Vec<RecordBatch>,
    table: Table,
    specs: &[ColumnSpec],
    id_type: Option<IdType>,
) -> Result<TableFile, DataError> {
    let (_, _, file_id_type) = check_columns(label, schema, table, specs, id_type)?;
    let mut units = Vec::new();
    for batch in batches {
        if batch.schema().fields() != schema.fields() {
            return Err(DataError::Arrow {
                path: label.to_path_buf(),
                source: arrow::error::ArrowError::SchemaError(format!(
                    "a batch of the {table} table has the columns {} but the table's schema is {}",
                    batch.schema(),
                    schema
                )),
            });
        }
        let mut offset = 0;
        while offset < batch.num_rows() {
            let len = MEMORY_UNIT_ROWS.min(batch.num_rows() - offset);
            units.push(batch.slice(offset, len));
            offset += len;
        }
    }
    let mut rg_start = Vec::with_capacity(units.len());
    let mut rows = 0u64;
    for unit in &units {
        rg_start.push(rows);
        rows += unit.num_rows() as u64;
    }
    Ok(TableFile {
        path: label.to_path_buf(),
        source: Source::Memory(units),
        units: 0..rg_start.len(),
        rg_start,
        rows,
        id_type: file_id_type,
    })
}

/// Checks that `schema` has every required column of `specs` with an
/// accepted type; returns which specs are present, their column indices and
/// the id type of `patient_id`.
fn check_columns(
    path: &Path,
    schema: &Schema,
    table: Table,
    specs: &[ColumnSpec],
    id_type: Option<IdType>,
) -> Result<(Vec<bool>, Vec<usize>, IdType), DataError> {
    let mut present = Vec::with_capacity(specs.len());
    let mut roots = Vec::new();
    let mut file_id_type = IdType::Int;
    for spec in specs {
        let Some((idx, field)) = schema.column_with_name(spec.name) else {
            if spec.required {
                return Err(DataError::MissingColumn {
                    path: path.to_path_buf(),
                    table,
                    column: spec.name,
                    expected: spec.expect.describe(),
                    found: schema
                        .fields()
                        .iter()
                        .map(|f| format!("{} ({})", f.name(), f.data_type()))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            present.push(false);
            continue;
        };
        let dt = field.data_type();
        if !spec.expect.accepts(dt) {
            return Err(DataError::WrongType {
                path: path.to_path_buf(),
                table,
                column: spec.name,
                expected: spec.expect.describe(),
                found: dt.to_string(),
                hint: spec.expect.hint(),
            });
        }
        if spec.expect == Expect::PatientId {
            file_id_type = if is_string(dt) {
                IdType::Str
            } else {
                IdType::Int
            };
            if let Some(want) = id_type
                && want != file_id_type
            {
                return Err(DataError::IdTypeMismatch {
                    path: path.to_path_buf(),
                    table,
                    found: file_id_type.describe(),
                    patients: want.describe(),
                });
            }
        }
        present.push(true);
        roots.push(idx);
    }
    Ok((present, roots, file_id_type))
}

/// Opens and checks every file of a table.
pub(crate) fn open_table(
    paths: &[PathBuf],
    table: Table,
    specs: &[ColumnSpec],
    id_type: Option<IdType>,
) -> Result<Vec<TableFile>, DataError> {
    paths
        .par_iter()
        .map(|p| open_table_file(p, table, specs, id_type))
        .collect()
}

pub(crate) fn file_rows(files: &[TableFile]) -> Vec<FileRows> {
    files
        .iter()
        .map(|f| FileRows {
            path: f.path.display().to_string(),
            rows: f.rows,
        })
        .collect()
}

/// One row group of one file, handed to a chunk reader.
pub(crate) struct Unit<'a> {
    /// Index of the file in the table's file list.
    pub file_index: usize,
    pub file: &'a TableFile,
    /// 0-based row of the row group's first row within the file.
    pub first_row: u64,
    /// Rows the file declares for the row group.
    rows: u64,
    reader: UnitReader<'a>,
}

enum UnitReader<'a> {
    Parquet(ParquetRecordBatchReader),
    Memory(&'a RecordBatch),
}

impl Unit<'_> {
    /// Calls `f` with each decoded batch and the 0-based file row of its first row.
    ///
    /// A row group that yields fewer rows than its metadata declares, or a
    /// panic of the Parquet reader while decoding, is an error naming the
    /// file: parquet-rs still panics on some corrupt pages (a
    /// BYTE_STREAM_SPLIT page declaring more values than it holds,
    /// apache/arrow-rs#11121), and a corrupt file is user input.
    pub fn for_each_batch(self, mut f: impl FnMut(&RecordBatch, u64)) -> Result<(), DataError> {
        let mut row = self.first_row;
        let mut reader = match self.reader {
            UnitReader::Parquet(reader) => reader,
            UnitReader::Memory(batch) => {
                // Slices of the reader's batch size, as decoded files give.
                let mut offset = 0;
                while offset < batch.num_rows() {
                    let len = BATCH_SIZE.min(batch.num_rows() - offset);
                    f(&batch.slice(offset, len), row);
                    row += len as u64;
                    offset += len;
                }
                return Ok(());
            }
        };
        loop {
            let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.next()))
                .map_err(|panic| DataError::Corrupt {
                    path: self.file.path.clone(),
                    message: panic_message(&*panic),
                })?;
            let Some(batch) = next else {
                // A corrupt page can end a row group early without an error:
                // every row the metadata declares must have been decoded.
                let decoded = row - self.first_row;
                if decoded != self.rows {
                    return Err(DataError::Corrupt {
                        path: self.file.path.clone(),
                        message: format!(
                            "a row group declares {} rows from row {} but holds {decoded}",
                            self.rows,
                            self.first_row + 1
                        ),
                    });
                }
                return Ok(());
            };
            let batch = batch.map_err(|source| DataError::Arrow {
                path: self.file.path.clone(),
                source,
            })?;
            f(&batch, row);
            row += batch.num_rows() as u64;
        }
    }
}

/// The text of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// Rows of every row group of `files`, in the order [`read_units`] reads them.
pub(crate) fn unit_rows(files: &[TableFile]) -> Vec<usize> {
    files
        .iter()
        .flat_map(|f| f.units.clone().map(|rg| f.unit_range(rg).1 as usize))
        .collect()
}

/// Reads every row group of `files` in parallel (only the projected columns)
/// and returns `f`'s results in file order, then row-group order.
pub(crate) fn read_units<T, F>(files: &[TableFile], f: F) -> Result<Vec<T>, DataError>
where
    T: Send,
    F: Fn(Unit<'_>) -> Result<T, DataError> + Sync,
{
    let n = unit_rows(files).len();
    read_units_with(files, vec![(); n], |unit, ()| f(unit))
}

/// [`read_units`] with a state per unit (`states[i]` goes with the `i`-th
/// row group in reading order), e.g. the slices of output columns it fills.
pub(crate) fn read_units_with<S, T, F>(
    files: &[TableFile],
    states: Vec<S>,
    f: F,
) -> Result<Vec<T>, DataError>
where
    S: Send,
    T: Send,
    F: Fn(Unit<'_>, S) -> Result<T, DataError> + Sync,
{
    let units: Vec<(usize, usize)> = files
        .iter()
        .enumerate()
        .flat_map(|(fi, file)| file.units.clone().map(move |rg| (fi, rg)))
        .collect();
    assert_eq!(units.len(), states.len(), "one state per row group");
    units
        .into_par_iter()
        .zip(states)
        .with_max_len(1)
        .map(|((fi, rg), state)| {
            let file = &files[fi];
            let reader = match &file.source {
                Source::Memory(units) => UnitReader::Memory(&units[rg]),
                Source::Parquet { meta, projection } => {
                    let handle = File::open(&file.path).map_err(|source| DataError::Io {
                        path: file.path.clone(),
                        source,
                    })?;
                    let reader =
                        ParquetRecordBatchReaderBuilder::new_with_metadata(handle, meta.clone())
                            .with_projection(projection.clone())
                            .with_row_groups(vec![rg])
                            .with_batch_size(BATCH_SIZE)
                            .build()
                            .map_err(|source| DataError::Parquet {
                                path: file.path.clone(),
                                source,
                            })?;
                    UnitReader::Parquet(reader)
                }
            };
            let (first_row, rows) = file.unit_range(rg);
            let unit = Unit {
                file_index: fi,
                file,
                first_row,
                rows,
                reader,
            };
            f(unit, state)
        })
        .collect()
}

/// The column `name` of a projected batch (None when the file lacks it).
pub(crate) fn column<'b>(batch: &'b RecordBatch, name: &str) -> Option<&'b ArrayRef> {
    batch.column_by_name(name)
}
