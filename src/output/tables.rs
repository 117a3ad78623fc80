//! The Arrow tables of a scoring run, with fixed schemas.
//!
//! `firings.parquet` (others code against it; do not change lightly):
//!
//! | column | type | |
//! |---|---|---|
//! | `patient_id` | Int64 or Utf8 (as in `patients`) | |
//! | `clinic_id` | Utf8 | |
//! | `criterion_id` | Utf8 | |
//! | `priority` | Int32 | 1 to 10 |
//! | `status` | Utf8 | `open`; with `--status` also `excluded`, `closed` |
//! | `evidence` | Utf8 | `; `-joined items |
//!
//! Rows by patient (population order), then criterion (library order), one
//! row group per block of at most [`BLOCK_PEOPLE`] alive people (smaller
//! towards the end, see [`crate::eval::evaluate_blocks`]; [`FiringsWriter`]).
//! `patient_id` (when an integer) is delta-encoded, in `features.parquet`
//! too; `clinic_id`, `criterion_id` and `status` have no min/max statistics.
//!
//! `criteria_summary.parquet`: `criterion_id` Utf8, `clinic_id` Utf8 (`ALL` for
//! all clinics), `in_population` Int64, `excluded` Int64, `open` Int64,
//! `closed` Int64, `rate` Float64 (null when `in_population - excluded` is 0).
//!
//! `features.parquet`: `patient_id`, `clinic_id`, then one Float64 or Boolean
//! column per feature (null stays null); alive people only, one row group per
//! [`FEATURE_GROUP_BLOCKS`] blocks ([`FeaturesWriter`]).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::Int32Type;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::{
    ColumnStyle, InOrderFile, OutputError, ParquetFile, RowGroupEncoder, RowGroupWriter,
    write_parquet_rows,
};
use crate::data::{PatientIds, Population};
use crate::eval::{
    Block, BlockSink, Evaluation, FeatureValues, Part, Status, SummaryCounts, SummaryRow,
};
use crate::plan::Plan;

fn batch(
    table: &'static str,
    fields: Vec<Field>,
    cols: Vec<ArrayRef>,
) -> Result<RecordBatch, OutputError> {
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .map_err(|source| OutputError::Arrow { table, source })
}

/// The `patient_id` column for the given population indices, in the id type
/// of the `patients` table.
pub fn patient_id_column(ids: &PatientIds, rows: impl Iterator<Item = u32>) -> (Field, ArrayRef) {
    match ids {
        PatientIds::Int(v) => (
            Field::new("patient_id", DataType::Int64, false),
            Arc::new(Int64Array::from_iter_values(rows.map(|p| v[p as usize]))),
        ),
        PatientIds::Str(v) => (
            Field::new("patient_id", DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                rows.map(|p| v[p as usize].as_str()),
            )),
        ),
    }
}

/// The `clinic_id` column for the given population indices.
pub fn clinic_id_column(pop: &Population, rows: impl Iterator<Item = u32>) -> (Field, ArrayRef) {
    let clinic = &pop.patients.clinic;
    (
        Field::new("clinic_id", DataType::Utf8, true),
        Arc::new(StringArray::from_iter(rows.map(|p| clinic.get(p as usize)))),
    )
}

fn firings_schema(pop: &Population) -> SchemaRef {
    let pid_type = match pop.patients.ids {
        PatientIds::Int(_) => DataType::Int64,
        PatientIds::Str(_) => DataType::Utf8,
    };
    Arc::new(Schema::new(vec![
        Field::new("patient_id", pid_type, false),
        Field::new("clinic_id", DataType::Utf8, true),
        Field::new("criterion_id", DataType::Utf8, false),
        Field::new("priority", DataType::Int32, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("evidence", DataType::Utf8, false),
    ]))
}

/// The dictionaries of the repeated text columns of `firings.parquet`
/// (clinic ids, criterion ids and statuses) and the criteria's priorities.
pub(super) struct FiringIds {
    clinics: ArrayRef,
    criteria: ArrayRef,
    statuses: ArrayRef,
    /// Per criterion, its priority.
    priorities: Vec<i32>,
}

impl FiringIds {
    pub(super) fn new(plan: &Plan, pop: &Population) -> Self {
        let strings = |v: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(v)) };
        FiringIds {
            clinics: strings(
                pop.patients
                    .clinic
                    .values
                    .iter()
                    .map(String::as_str)
                    .collect(),
            ),
            criteria: strings(plan.criteria.iter().map(|c| c.id.as_str()).collect()),
            priorities: plan.criteria.iter().map(|c| c.priority as i32).collect(),
            statuses: strings(
                [
                    Status::NotInPopulation,
                    Status::Excluded,
                    Status::Open,
                    Status::Closed,
                ]
                .iter()
                .map(|s| s.as_str())
                .collect(),
            ),
        }
    }
}

/// The columns of `firings.parquet` for a part's rows. `clinic_id`,
/// `criterion_id` and `status` are dictionary
/// arrays over [`FiringIds`]: the Parquet writer encodes a dictionary array
/// into a text column exactly as the strings (every value is looked up into
/// the column's own dictionary), without a copy of every string first.
///
/// The `evidence` column is the part's text buffer itself (taken from
/// [`Part::evidence_text`], no copy): the part's texts are back to back
/// in firing order, so the firings' start offsets are the column's offsets.
/// Also returns that buffer, to be given back to the part once the
/// columns are encoded and dropped ([`give_back_text`]).
pub(super) fn firings_columns(
    ids: &FiringIds,
    pop: &Population,
    part: &mut Part<'_>,
) -> Result<(Vec<ArrayRef>, Buffer), OutputError> {
    let firings = part.firings;
    let rows = || firings.iter().map(|f| f.patient);
    let (_, pid) = patient_id_column(&pop.patients.ids, rows());
    let keyed = |keys: Int32Array, values: &ArrayRef| -> ArrayRef {
        Arc::new(DictionaryArray::<Int32Type>::new(keys, Arc::clone(values)))
    };
    let clinic = &pop.patients.clinic;
    let clinic = keyed(
        Int32Array::from_iter(rows().map(|p| clinic.codes[p as usize].map(|c| c as i32))),
        &ids.clinics,
    );
    let criterion = keyed(
        Int32Array::from_iter_values(firings.iter().map(|f| f.criterion as i32)),
        &ids.criteria,
    );
    let status = keyed(
        Int32Array::from_iter_values(firings.iter().map(|f| f.status as i32)),
        &ids.statuses,
    );
    if part.evidence_text.len() > i32::MAX as usize {
        return Err(OutputError::Arrow {
            table: "firings",
            source: arrow::error::ArrowError::InvalidArgumentError(format!(
                "the evidence texts of {} people of block {} are {} bytes, more than a text \
                 column's 2 GiB; evidence this long is unexpected (see eval::MAX_PART_TEXT): \
                 please report it",
                part.people.len(),
                part.block,
                part.evidence_text.len()
            )),
        });
    }
    let text = std::mem::take(part.evidence_text);
    // Every firing's start is where its text began in the part's `String`
    // (`Part::evidence_start`): a char boundary, and ascending in firing order.
    debug_assert!(
        firings
            .iter()
            .all(|f| text.is_char_boundary(Part::evidence_start(f)))
    );
    let text = Buffer::from_vec(text.into_bytes());
    let offsets = firings
        .iter()
        .map(|f| Part::evidence_start(f) as i32)
        .chain(std::iter::once(text.len() as i32));
    // `OffsetBuffer::new` checks that the offsets ascend.
    let offsets = OffsetBuffer::new(ScalarBuffer::from_iter(offsets));
    // SAFETY: the values were a `String` (valid UTF-8) and every offset is a
    // char boundary of it (asserted above in debug builds): each is the length
    // the `String` had before one firing's text was appended, or its final
    // length. The offsets ascend and end at `text.len()` (checked just above
    // and by construction), and there are no nulls. This skips `try_new`'s
    // second UTF-8 pass over the evidence (about 0.08 CPU-s of a
    // 640k-person run).
    let evidence = unsafe { StringArray::new_unchecked(offsets, text.clone(), None) };
    let columns = vec![
        pid,
        clinic,
        criterion,
        Arc::new(Int32Array::from_iter_values(
            firings.iter().map(|f| ids.priorities[f.criterion as usize]),
        )),
        status,
        Arc::new(evidence),
    ];
    Ok((columns, text))
}

/// Gives the evidence text buffer back to `part` for the next part once
/// nothing else holds it (the columns are dropped); otherwise the next
/// part allocates a new one.
fn give_back_text(part: &mut Part<'_>, text: Buffer) {
    if let Ok(mut bytes) = text.into_vec::<u8>() {
        bytes.clear();
        // Empty, hence valid UTF-8.
        if let Ok(empty) = String::from_utf8(bytes) {
            *part.evidence_text = empty;
        }
    }
}

/// How the columns of the tables with a `patient_id` are encoded.
fn id_styles(pop: &Population) -> Vec<(&'static str, ColumnStyle)> {
    match pop.patients.ids {
        PatientIds::Int(_) => vec![("patient_id", ColumnStyle::Ascending)],
        PatientIds::Str(_) => Vec::new(),
    }
}

fn firings_styles(pop: &Population) -> Vec<(&'static str, ColumnStyle)> {
    let mut styles = id_styles(pop);
    styles.extend([
        ("clinic_id", ColumnStyle::Repeated),
        ("criterion_id", ColumnStyle::Repeated),
        ("status", ColumnStyle::Repeated),
        ("evidence", ColumnStyle::FreeText),
    ]);
    styles
}

/// Alive people per block of `caregap score` (the last blocks are smaller):
/// one row group of `firings.parquet` per block ([`FiringsWriter`], about
/// 80,000 rows with the shipped library), one of `features.parquet` per
/// [`FEATURE_GROUP_BLOCKS`] blocks ([`FeaturesWriter`]).
pub const BLOCK_PEOPLE: usize = 16_384;

/// `firings.parquet` written while the population is evaluated, from a
/// [`crate::eval::BlockSink`] of [`crate::eval::evaluate_blocks`] (with
/// [`BLOCK_PEOPLE`]): [`FiringsWriter::open`] a block's row group, encode
/// each [`Part`] of it into the row group while its rows are in cache
/// ([`FiringsWriter::write`]), then [`FiringsWriter::close`] the row group,
/// which is appended to the file as soon as the blocks before it are; at the
/// end [`FiringsWriter::into_file`] and close it ([`ScoreSink`] does all this).
pub struct FiringsWriter<'a> {
    pop: &'a Population,
    ids: FiringIds,
    file: InOrderFile,
    encoder: RowGroupEncoder,
}

/// A block's row group of `firings.parquet`, written part by part.
pub struct FiringsGroup {
    block: usize,
    group: RowGroupWriter,
    rows: FiringsRows,
}

/// The rows one block added to `firings.parquet`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FiringsRows {
    /// Rows with status `open`.
    pub open: usize,
    pub rows: usize,
}

impl<'a> FiringsWriter<'a> {
    pub fn create(path: &Path, plan: &'a Plan, pop: &'a Population) -> Result<Self, OutputError> {
        let (file, encoder) = ParquetFile::create(path, firings_schema(pop), &firings_styles(pop))?;
        Ok(FiringsWriter {
            pop,
            ids: FiringIds::new(plan, pop),
            file: InOrderFile::new(file),
            encoder,
        })
    }

    /// Starts the row group of block `block`.
    pub fn open(&self, block: usize) -> Result<FiringsGroup, OutputError> {
        Ok(FiringsGroup {
            block,
            group: self.encoder.begin(block)?,
            rows: FiringsRows::default(),
        })
    }

    /// Encodes the rows of one part of the block into its row group.
    pub fn write(&self, group: &mut FiringsGroup, part: &mut Part<'_>) -> Result<(), OutputError> {
        debug_assert_eq!(group.block, part.block);
        if part.firings.is_empty() {
            return Ok(());
        }
        let (cols, text) = firings_columns(&self.ids, self.pop, part)?;
        let written = group.group.write(&cols);
        drop(cols);
        give_back_text(part, text);
        written?;
        group.rows.rows += part.firings.len();
        group.rows.open += part
            .firings
            .iter()
            .filter(|f| f.status == Status::Open)
            .count();
        Ok(())
    }

    /// Closes a block's row group and appends it in block order (called
    /// from worker threads); returns the rows it holds.
    pub fn close(&self, group: FiringsGroup) -> Result<FiringsRows, OutputError> {
        let rows = group.rows;
        let encoded = group.group.finish(rows.rows)?;
        self.file.push(group.block, encoded)?;
        Ok(rows)
    }

    /// The file, to be closed ([`InOrderFile::finish`]) once every block is
    /// written and the population is no longer needed.
    pub fn into_file(self) -> InOrderFile {
        self.file
    }
}

/// What `caregap score` makes of the evaluation, block by block (a
/// [`BlockSink`] of [`crate::eval::evaluate_blocks`]): each part's rows
/// encoded into its block's row group of `firings.parquet` and its statuses
/// counted for the summary while they are in cache, each block's features
/// into `features.parquet` (when the library has features).
pub struct ScoreSink<'a> {
    pop: &'a Population,
    plan: &'a Plan,
    firings: FiringsWriter<'a>,
    features: Option<FeaturesWriter<'a>>,
}

/// What [`ScoreSink`] made of one block.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredBlock {
    pub firings: FiringsRows,
    pub counts: SummaryCounts,
}

impl<'a> ScoreSink<'a> {
    /// Creates `firings.parquet`, and `features.parquet` if the plan has
    /// features, in `dir` (not atomic by itself: write into a
    /// [`super::StagingDir`]).
    pub fn create(dir: &Path, plan: &'a Plan, pop: &'a Population) -> Result<Self, OutputError> {
        let firings = FiringsWriter::create(&dir.join("firings.parquet"), plan, pop)?;
        let features = if plan.features.is_empty() {
            None
        } else {
            Some(FeaturesWriter::create(
                &dir.join("features.parquet"),
                plan,
                pop,
            )?)
        };
        Ok(ScoreSink {
            pop,
            plan,
            firings,
            features,
        })
    }

    /// The two files, to be closed ([`InOrderFile::finish`]) once every
    /// block is written and the population is no longer needed.
    pub fn into_files(self) -> Result<(InOrderFile, Option<InOrderFile>), OutputError> {
        let features = self.features.map(FeaturesWriter::into_file).transpose()?;
        Ok((self.firings.into_file(), features))
    }

    /// Closes both files.
    pub fn finish(self) -> Result<(), OutputError> {
        let (firings, features) = self.into_files()?;
        firings.finish()?;
        features.map_or(Ok(()), InOrderFile::finish)
    }
}

impl BlockSink for ScoreSink<'_> {
    /// The block's row group and counts so far, or the first error.
    type Open = Result<(FiringsGroup, SummaryCounts), OutputError>;
    type Done = Result<ScoredBlock, OutputError>;

    fn open(&self, block: usize) -> Self::Open {
        Ok((
            self.firings.open(block)?,
            SummaryCounts::zeros(self.plan, self.pop),
        ))
    }

    fn part(&self, open: &mut Self::Open, mut part: Part<'_>) {
        let Ok((group, counts)) = open else {
            return;
        };
        counts.add_people(self.pop, part.people, part.status);
        if let Err(e) = self.firings.write(group, &mut part) {
            *open = Err(e);
        }
    }

    fn close(&self, open: Self::Open, block: Block<'_>) -> Self::Done {
        let (group, counts) = open?;
        if let Some(w) = &self.features {
            w.write(&block)?;
        }
        Ok(ScoredBlock {
            firings: self.firings.close(group)?,
            counts,
        })
    }
}

/// `criteria_summary.parquet`.
pub fn summary_batch(rows: &[SummaryRow]) -> Result<RecordBatch, OutputError> {
    let count = |f: fn(&SummaryRow) -> u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| f(r) as i64),
        ))
    };
    let fields = vec![
        Field::new("criterion_id", DataType::Utf8, false),
        Field::new("clinic_id", DataType::Utf8, false),
        Field::new("in_population", DataType::Int64, false),
        Field::new("excluded", DataType::Int64, false),
        Field::new("open", DataType::Int64, false),
        Field::new("closed", DataType::Int64, false),
        Field::new("rate", DataType::Float64, true),
    ];
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.criterion.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.clinic.as_str()),
        )),
        count(|r| r.in_population),
        count(|r| r.excluded),
        count(|r| r.open),
        count(|r| r.closed),
        Arc::new(Float64Array::from_iter(rows.iter().map(SummaryRow::rate))),
    ];
    batch("criteria_summary", fields, cols)
}

/// `features.parquet` rows of the alive people `rows` (indices into
/// `eval.alive`).
pub fn features_batch(
    pop: &Population,
    eval: &Evaluation,
    rows: Range<usize>,
) -> Result<RecordBatch, OutputError> {
    let columns = eval
        .features
        .iter()
        .map(|f| (f.name.as_str(), &f.values, f.valid.as_slice()));
    features_batch_of(pop, &eval.alive[rows.clone()], columns, rows)
}

/// `features.parquet` rows of `people`, whose values are slots `rows` of
/// `columns` (name, values, validity).
pub(super) fn features_batch_of<'e>(
    pop: &Population,
    people: &[u32],
    columns: impl Iterator<Item = (&'e str, &'e FeatureValues, &'e [bool])>,
    rows: Range<usize>,
) -> Result<RecordBatch, OutputError> {
    let (pid_field, pid) = patient_id_column(&pop.patients.ids, people.iter().copied());
    let (clinic_field, clinic) = clinic_id_column(pop, people.iter().copied());
    let mut fields = vec![pid_field, clinic_field];
    let mut cols = vec![pid, clinic];
    for (name, values, valid) in columns {
        // The slots are copied as they are (a null one holds 0.0 or false),
        // with the validity as the null mask; none when all are valid (most
        // counts and flags), which the Parquet writer encodes faster.
        let valid = &valid[rows.clone()];
        let nulls = (!valid.iter().all(|&ok| ok))
            .then(|| NullBuffer::new(BooleanBuffer::collect_bool(valid.len(), |i| valid[i])));
        let (dt, col): (DataType, ArrayRef) = match values {
            FeatureValues::Num(v) => (
                DataType::Float64,
                Arc::new(Float64Array::new(
                    ScalarBuffer::from(v[rows.clone()].to_vec()),
                    nulls,
                )),
            ),
            FeatureValues::Bool(v) => (
                DataType::Boolean,
                Arc::new(BooleanArray::new(
                    {
                        let v = &v[rows.clone()];
                        BooleanBuffer::collect_bool(v.len(), |i| v[i])
                    },
                    nulls,
                )),
            ),
        };
        fields.push(Field::new(name, dt, true));
        cols.push(col);
    }
    batch("features", fields, cols)
}

/// Writes `features.parquet` (row groups encoded in parallel).
pub fn write_features(path: &Path, pop: &Population, eval: &Evaluation) -> Result<(), OutputError> {
    let schema = features_batch(pop, eval, 0..0)?.schema();
    write_parquet_rows(path, schema, &id_styles(pop), eval.alive.len(), |rows| {
        features_batch(pop, eval, rows)
    })
}

/// Consecutive blocks per row group of `features.parquet`: its rows are short
/// (a few dozen numbers), so one block's would make a small row group, and
/// every column chunk costs the Parquet writer a codec of its own.
pub const FEATURE_GROUP_BLOCKS: usize = 4;

/// `features.parquet` written block by block while the population is
/// evaluated, like [`FiringsWriter`], but one row group per
/// [`FEATURE_GROUP_BLOCKS`] consecutive blocks: a block's rows wait (as Arrow
/// arrays) until the other blocks of their row group are written, then the
/// thread that completes the group encodes it.
pub struct FeaturesWriter<'a> {
    plan: &'a Plan,
    pop: &'a Population,
    groups: FeatureGroups,
}

/// The row groups of `features.parquet` being put together (see
/// [`FeaturesWriter::into_file`]).
struct FeatureGroups {
    file: InOrderFile,
    encoder: RowGroupEncoder,
    /// Blocks' rows waiting for the rest of their row group, by block number.
    waiting: Mutex<BTreeMap<usize, RecordBatch>>,
}

impl<'a> FeaturesWriter<'a> {
    pub fn create(path: &Path, plan: &'a Plan, pop: &'a Population) -> Result<Self, OutputError> {
        let empty: Vec<(FeatureValues, Vec<bool>)> = plan
            .features
            .iter()
            .map(|f| (FeatureValues::zeros(f.ty, 0), Vec::new()))
            .collect();
        let schema = Self::batch(plan, pop, &[], &empty)?.schema();
        let (file, encoder) = ParquetFile::create(path, schema, &id_styles(pop))?;
        Ok(FeaturesWriter {
            plan,
            pop,
            groups: FeatureGroups {
                file: InOrderFile::new(file),
                encoder,
                waiting: Mutex::new(BTreeMap::new()),
            },
        })
    }

    pub(super) fn batch(
        plan: &Plan,
        pop: &Population,
        people: &[u32],
        features: &[(FeatureValues, Vec<bool>)],
    ) -> Result<RecordBatch, OutputError> {
        let columns = plan
            .features
            .iter()
            .zip(features)
            .map(|(f, (values, valid))| (f.name.as_str(), values, valid.as_slice()));
        features_batch_of(pop, people, columns, 0..people.len())
    }

    /// Takes one block's rows; encodes and appends their row group once all
    /// its blocks are in (called from worker threads).
    pub fn write(&self, block: &Block<'_>) -> Result<(), OutputError> {
        let batch = Self::batch(self.plan, self.pop, block.people, block.features)?;
        let group = block.index / FEATURE_GROUP_BLOCKS;
        let blocks = group * FEATURE_GROUP_BLOCKS..(group + 1) * FEATURE_GROUP_BLOCKS;
        let complete: Vec<RecordBatch> = {
            let mut waiting = self
                .groups
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            waiting.insert(block.index, batch);
            if !blocks.clone().all(|k| waiting.contains_key(&k)) {
                return Ok(());
            }
            blocks.filter_map(|k| waiting.remove(&k)).collect()
        };
        self.groups.encode(group, &complete)
    }

    /// Encodes the last row group (its blocks are fewer than
    /// [`FEATURE_GROUP_BLOCKS`]) and returns the file, to be closed
    /// ([`InOrderFile::finish`]) once the population is no longer needed.
    pub fn into_file(self) -> Result<InOrderFile, OutputError> {
        let mut groups = self.groups;
        let waiting = std::mem::take(
            groups
                .waiting
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let mut rest: BTreeMap<usize, Vec<RecordBatch>> = BTreeMap::new();
        for (k, batch) in waiting {
            rest.entry(k / FEATURE_GROUP_BLOCKS)
                .or_default()
                .push(batch);
        }
        for (group, batches) in rest {
            groups.encode(group, &batches)?;
        }
        Ok(groups.file)
    }
}

impl FeatureGroups {
    fn encode(&self, group: usize, batches: &[RecordBatch]) -> Result<(), OutputError> {
        let encoded = self.encoder.encode_batches(group, batches)?;
        self.file.push(group, encoded)
    }
}

/// The summary as a readable fixed-width table (what `caregap score` prints).
pub fn summary_text(rows: &[SummaryRow]) -> String {
    use std::fmt::Write as _;
    let cw = rows
        .iter()
        .map(|r| r.criterion.len())
        .max()
        .unwrap_or(0)
        .max(9);
    let kw = rows
        .iter()
        .map(|r| r.clinic.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<cw$}  {:<kw$}  {:>10}  {:>9}  {:>9}  {:>9}  {:>7}",
        "criterion", "clinic", "population", "excluded", "open", "closed", "rate"
    );
    for r in rows {
        let rate = r
            .rate()
            .map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0));
        let _ = writeln!(
            out,
            "{:<cw$}  {:<kw$}  {:>10}  {:>9}  {:>9}  {:>9}  {:>7}",
            r.criterion, r.clinic, r.in_population, r.excluded, r.open, r.closed, rate
        );
    }
    out
}
