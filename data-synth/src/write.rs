//! Columns of a chunk of people, and the Parquet files they stream into.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::SynthError;
use crate::model::{ConsentRow, Day, Ev, OutreachRow, Person};

/// How patient ids are written.
#[derive(Debug, Clone, Copy)]
pub enum IdFormat {
    Int,
    /// `P` followed by the number zero-padded to this width (so that string
    /// order equals numeric order).
    Str(usize),
}

impl IdFormat {
    fn data_type(self) -> DataType {
        match self {
            IdFormat::Int => DataType::Int64,
            IdFormat::Str(_) => DataType::Utf8,
        }
    }
}

/// Builds the patient-id column of a batch.
struct Ids {
    fmt: IdFormat,
    ints: Int64Builder,
    strs: StringBuilder,
    buf: String,
}

impl Ids {
    fn new(fmt: IdFormat, cap: usize) -> Ids {
        let (ic, sc) = match fmt {
            IdFormat::Int => (cap, 0),
            IdFormat::Str(_) => (0, cap),
        };
        let bytes = match fmt {
            IdFormat::Int => 0,
            IdFormat::Str(w) => cap * (w + 1),
        };
        Ids {
            fmt,
            ints: Int64Builder::with_capacity(ic),
            strs: StringBuilder::with_capacity(sc, bytes),
            buf: String::new(),
        }
    }

    /// Appends the id of person index `idx` (ids are `idx + 1`).
    fn push(&mut self, idx: u64) {
        let id = idx + 1;
        match self.fmt {
            IdFormat::Int => self.ints.append_value(id as i64),
            IdFormat::Str(w) => {
                use std::fmt::Write;
                self.buf.clear();
                let _ = write!(self.buf, "P{id:0w$}");
                self.strs.append_value(&self.buf);
            }
        }
    }

    fn finish(mut self) -> ArrayRef {
        match self.fmt {
            IdFormat::Int => Arc::new(self.ints.finish()),
            IdFormat::Str(_) => Arc::new(self.strs.finish()),
        }
    }
}

/// The schemas of the six files.
#[derive(Debug, Clone)]
pub struct Schemas {
    pub patients: SchemaRef,
    pub events: SchemaRef,
    pub consents: SchemaRef,
    pub outreach: SchemaRef,
    pub truth: SchemaRef,
}

impl Schemas {
    /// Required columns are non-nullable unless `messy` (which writes nulls into some).
    pub fn new(ids: IdFormat, messy: bool) -> Schemas {
        let id = || Field::new("patient_id", ids.data_type(), false);
        let patients = Schema::new(vec![
            id(),
            Field::new("birth_date", DataType::Date32, false),
            Field::new("sex", DataType::Utf8, false),
            Field::new("clinic_id", DataType::Utf8, false),
            Field::new("death_date", DataType::Date32, true),
            Field::new("municipality", DataType::Utf8, true),
            Field::new("language", DataType::Utf8, true),
        ]);
        let events = Schema::new(vec![
            id(),
            Field::new("date", DataType::Date32, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("system", DataType::Utf8, false),
            Field::new("code", DataType::Utf8, messy),
            Field::new("value", DataType::Float64, true),
            Field::new("unit", DataType::Utf8, true),
        ]);
        let consents = Schema::new(vec![
            id(),
            Field::new("scope", DataType::Utf8, false),
            Field::new("granted", DataType::Boolean, messy),
            Field::new("date", DataType::Date32, false),
        ]);
        let outreach = Schema::new(vec![
            id(),
            Field::new("date", DataType::Date32, false),
            Field::new("criterion_id", DataType::Utf8, true),
            Field::new("outcome", DataType::Utf8, false),
        ]);
        let truth = Schema::new(vec![
            id(),
            Field::new("expected_visits", DataType::Float64, false),
            Field::new("future_death_date", DataType::Date32, true),
        ]);
        Schemas {
            patients: Arc::new(patients),
            events: Arc::new(events),
            consents: Arc::new(consents),
            outreach: Arc::new(outreach),
            truth: Arc::new(truth),
        }
    }
}

/// Event columns under construction.
pub struct EventCols {
    ids: Ids,
    date: Date32Builder,
    kind: StringBuilder,
    system: StringBuilder,
    code: StringBuilder,
    value: Float64Builder,
    unit: StringBuilder,
    pub rows: usize,
}

impl EventCols {
    pub fn new(fmt: IdFormat, cap: usize) -> EventCols {
        EventCols {
            ids: Ids::new(fmt, cap),
            date: Date32Builder::with_capacity(cap),
            kind: StringBuilder::with_capacity(cap, cap * 9),
            system: StringBuilder::with_capacity(cap, cap * 5),
            code: StringBuilder::with_capacity(cap, cap * 7),
            value: Float64Builder::with_capacity(cap),
            unit: StringBuilder::with_capacity(cap, cap * 4),
            rows: 0,
        }
    }

    pub fn push(&mut self, idx: u64, e: &Ev) {
        self.ids.push(idx);
        self.date.append_value(e.date);
        self.kind.append_value(e.kind);
        self.system.append_value(e.system);
        self.code.append_option(e.code);
        self.value.append_option(e.value);
        self.unit.append_option(e.unit);
        self.rows += 1;
    }

    pub fn finish(mut self, schema: &SchemaRef) -> Result<RecordBatch, SynthError> {
        let cols: Vec<ArrayRef> = vec![
            self.ids.finish(),
            Arc::new(self.date.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.system.finish()),
            Arc::new(self.code.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.unit.finish()),
        ];
        Ok(RecordBatch::try_new(schema.clone(), cols)?)
    }
}

/// Patient columns under construction.
pub struct PatientCols {
    ids: Ids,
    birth: Date32Builder,
    sex: StringBuilder,
    clinic: StringBuilder,
    death: Date32Builder,
    municipality: StringBuilder,
    language: StringBuilder,
}

impl PatientCols {
    pub fn new(fmt: IdFormat, cap: usize) -> PatientCols {
        PatientCols {
            ids: Ids::new(fmt, cap),
            birth: Date32Builder::with_capacity(cap),
            sex: StringBuilder::with_capacity(cap, cap),
            clinic: StringBuilder::with_capacity(cap, cap * 4),
            death: Date32Builder::with_capacity(cap),
            municipality: StringBuilder::with_capacity(cap, cap * 6),
            language: StringBuilder::with_capacity(cap, cap * 2),
        }
    }

    /// Appends a person; `death` is the death date if on or before `as_of`.
    pub fn push(&mut self, p: &Person, clinic: &str, death: Option<Day>) {
        self.ids.push(p.idx);
        self.birth.append_value(p.birth);
        self.sex.append_value(if p.female { "F" } else { "M" });
        self.clinic.append_value(clinic);
        self.death.append_option(death);
        self.municipality.append_option(p.municipality);
        self.language.append_option(p.language);
    }

    pub fn finish(mut self, schema: &SchemaRef) -> Result<RecordBatch, SynthError> {
        let cols: Vec<ArrayRef> = vec![
            self.ids.finish(),
            Arc::new(self.birth.finish()),
            Arc::new(self.sex.finish()),
            Arc::new(self.clinic.finish()),
            Arc::new(self.death.finish()),
            Arc::new(self.municipality.finish()),
            Arc::new(self.language.finish()),
        ];
        Ok(RecordBatch::try_new(schema.clone(), cols)?)
    }
}

/// Consent columns under construction.
pub struct ConsentCols {
    ids: Ids,
    scope: StringBuilder,
    granted: BooleanBuilder,
    date: Date32Builder,
}

impl ConsentCols {
    pub fn new(fmt: IdFormat) -> ConsentCols {
        ConsentCols {
            ids: Ids::new(fmt, 0),
            scope: StringBuilder::new(),
            granted: BooleanBuilder::new(),
            date: Date32Builder::new(),
        }
    }

    pub fn push(&mut self, idx: u64, c: &ConsentRow) {
        self.ids.push(idx);
        self.scope.append_value(c.scope);
        self.granted.append_option(c.granted);
        self.date.append_value(c.date);
    }

    pub fn finish(mut self, schema: &SchemaRef) -> Result<RecordBatch, SynthError> {
        let cols: Vec<ArrayRef> = vec![
            self.ids.finish(),
            Arc::new(self.scope.finish()),
            Arc::new(self.granted.finish()),
            Arc::new(self.date.finish()),
        ];
        Ok(RecordBatch::try_new(schema.clone(), cols)?)
    }
}

/// Outreach columns under construction.
pub struct OutreachCols {
    ids: Ids,
    date: Date32Builder,
    criterion: StringBuilder,
    outcome: StringBuilder,
}

impl OutreachCols {
    pub fn new(fmt: IdFormat) -> OutreachCols {
        OutreachCols {
            ids: Ids::new(fmt, 0),
            date: Date32Builder::new(),
            criterion: StringBuilder::new(),
            outcome: StringBuilder::new(),
        }
    }

    pub fn push(&mut self, idx: u64, o: &OutreachRow) {
        self.ids.push(idx);
        self.date.append_value(o.date);
        self.criterion.append_option(o.criterion);
        self.outcome.append_value(o.outcome);
    }

    pub fn finish(mut self, schema: &SchemaRef) -> Result<RecordBatch, SynthError> {
        let cols: Vec<ArrayRef> = vec![
            self.ids.finish(),
            Arc::new(self.date.finish()),
            Arc::new(self.criterion.finish()),
            Arc::new(self.outcome.finish()),
        ];
        Ok(RecordBatch::try_new(schema.clone(), cols)?)
    }
}

/// Truth columns under construction.
pub struct TruthCols {
    ids: Ids,
    expected: Float64Builder,
    death: Date32Builder,
}

impl TruthCols {
    pub fn new(fmt: IdFormat, cap: usize) -> TruthCols {
        TruthCols {
            ids: Ids::new(fmt, cap),
            expected: Float64Builder::with_capacity(cap),
            death: Date32Builder::with_capacity(cap),
        }
    }

    pub fn push(&mut self, idx: u64, expected: f64, future_death: Option<Day>) {
        self.ids.push(idx);
        self.expected.append_value(expected);
        self.death.append_option(future_death);
    }

    pub fn finish(mut self, schema: &SchemaRef) -> Result<RecordBatch, SynthError> {
        let cols: Vec<ArrayRef> = vec![
            self.ids.finish(),
            Arc::new(self.expected.finish()),
            Arc::new(self.death.finish()),
        ];
        Ok(RecordBatch::try_new(schema.clone(), cols)?)
    }
}

/// A Parquet file written to a temporary name in the output folder and
/// renamed into place only when complete.
pub struct TableWriter {
    tmp: PathBuf,
    path: PathBuf,
    writer: ArrowWriter<File>,
    pub rows: u64,
}

impl TableWriter {
    pub fn create(
        dir: &Path,
        name: &'static str,
        schema: &SchemaRef,
        row_group_rows: usize,
    ) -> Result<TableWriter, SynthError> {
        let path = dir.join(format!("{name}.parquet"));
        let tmp = dir.join(format!(".{name}.parquet.tmp-{}", std::process::id()));
        let file = File::create(&tmp).map_err(|source| SynthError::Io {
            path: tmp.clone(),
            source,
        })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(row_group_rows))
            .set_created_by(format!("caregap-synth {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|source| {
            SynthError::Parquet {
                path: tmp.clone(),
                source,
            }
        })?;
        Ok(TableWriter {
            tmp,
            path,
            writer,
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), SynthError> {
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(batch)
            .map_err(|source| SynthError::Parquet {
                path: self.tmp.clone(),
                source,
            })
    }

    /// Closes the file and renames it into place; returns (rows, bytes).
    pub fn finish(self) -> Result<(PathBuf, u64, u64), SynthError> {
        let TableWriter {
            tmp,
            path,
            writer,
            rows,
            ..
        } = self;
        let file = writer.into_inner().map_err(|source| SynthError::Parquet {
            path: tmp.clone(),
            source,
        })?;
        file.sync_all().map_err(|source| SynthError::Io {
            path: tmp.clone(),
            source,
        })?;
        drop(file);
        let bytes = std::fs::metadata(&tmp)
            .map_err(|source| SynthError::Io {
                path: tmp.clone(),
                source,
            })?
            .len();
        std::fs::rename(&tmp, &path).map_err(|source| SynthError::Io {
            path: path.clone(),
            source,
        })?;
        Ok((path, rows, bytes))
    }

    /// Removes the temporary file after a failure.
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}
