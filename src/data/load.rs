//! The loader: Parquet tables to a [`Dataset`] (see the module docs of
//! [`crate::data`] for the layout and invariants).

use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Float64Type, Int64Type, SchemaRef};
use rayon::prelude::*;

use super::consents::{Consent, ConsentScope, Consents, Contact, Outcome, Outreach};
use super::days::format_day;
use super::error::DataError;
use super::population::*;
use super::read::*;
use super::report::{FileRows, LoadReport, Reason, Table, TableReport, Tally};

/// How to load a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// The scoring date: usable events dated after it are set aside (counted
    /// apart as `rows_after_as_of`, not as unusable rows) and never enter the store.
    pub as_of: Day,
    /// Turn any unusable row into an error instead of counting it.
    pub strict: bool,
    /// More event files read after the `events` table as part of it, e.g.
    /// `events_future.parquet` when building model labels (load with the
    /// label period's end as `as_of`, then evaluate features at an earlier date).
    pub extra_event_files: Vec<PathBuf>,
}

impl LoadOptions {
    pub fn new(as_of: Day) -> LoadOptions {
        LoadOptions {
            as_of,
            strict: false,
            extra_event_files: Vec::new(),
        }
    }
}

/// Everything a run reads: the population, the optional tables and the account
/// of what was read and set aside.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub population: Population,
    pub consents: Consents,
    pub outreach: Outreach,
    pub report: LoadReport,
}

/// Loads the tables of the data model from `dir` (see [`crate::data`]).
pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Dataset, DataError> {
    load_sources(Sources::of_dir(dir)?, opts)
}

/// One table of the data model given in memory: Arrow record batches of one
/// schema (the schema alone describes an empty table). Column names and
/// types are the data model's, as in a Parquet file.
#[derive(Debug, Clone)]
pub struct MemoryTable {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// The tables of a population given in memory (e.g. from Python: pyarrow,
/// pandas or polars), for [`load_tables`].
#[derive(Debug, Clone)]
pub struct MemoryTables {
    pub patients: MemoryTable,
    pub events: MemoryTable,
    pub consents: Option<MemoryTable>,
    pub outreach: Option<MemoryTable>,
}

/// Loads a population from tables in memory exactly as [`load`] loads one
/// from Parquet files: the same checks, messages, reasons and invariants;
/// a table stands in messages as `<table> (in memory)` where a file would be
/// named. The batches are read as they are (no copy of the input);
/// [`LoadOptions::extra_event_files`] are read after the in-memory events.
pub fn load_tables(tables: MemoryTables, opts: &LoadOptions) -> Result<Dataset, DataError> {
    let sources = Sources {
        patients: Source::Memory(tables.patients),
        events: Source::Memory(tables.events),
        consents: tables.consents.map(Source::Memory),
        outreach: tables.outreach.map(Source::Memory),
    };
    load_sources(sources, opts)
}

/// Where each table of a load comes from.
struct Sources {
    patients: Source,
    events: Source,
    consents: Option<Source>,
    outreach: Option<Source>,
}

enum Source {
    Files(Vec<PathBuf>),
    Memory(MemoryTable),
}

impl Sources {
    /// The tables' files in a data folder (patients and events required).
    fn of_dir(dir: &Path) -> Result<Sources, DataError> {
        let required = |table| {
            table_paths(dir, table)?.ok_or_else(|| DataError::MissingTable {
                table,
                dir: dir.to_path_buf(),
            })
        };
        Ok(Sources {
            patients: Source::Files(required(Table::Patients)?),
            events: Source::Files(required(Table::Events)?),
            consents: table_paths(dir, Table::Consents)?.map(Source::Files),
            outreach: table_paths(dir, Table::Outreach)?.map(Source::Files),
        })
    }
}

/// Opens and checks a table's files, or its batches in memory.
fn open_source(
    source: Source,
    table: Table,
    specs: &[ColumnSpec],
    id_type: Option<IdType>,
) -> Result<Vec<TableFile>, DataError> {
    match source {
        Source::Files(paths) => open_table(&paths, table, specs, id_type),
        Source::Memory(m) => {
            let label = PathBuf::from(format!("{table} (in memory)"));
            Ok(vec![memory_table(
                &label, &m.schema, m.batches, table, specs, id_type,
            )?])
        }
    }
}

/// The load report being put together, table by table, in the data model's
/// order (patients, events, consents, outreach).
struct Accounts<'o> {
    opts: &'o LoadOptions,
    report: LoadReport,
}

impl Accounts<'_> {
    fn new(opts: &LoadOptions) -> Accounts<'_> {
        Accounts {
            opts,
            report: LoadReport {
                as_of: format_day(opts.as_of),
                tables: Vec::new(),
                rejected: Vec::new(),
            },
        }
    }

    /// Adds a table's report; under `strict`, its first unusable row is the error.
    fn account(
        &mut self,
        table: Table,
        files: &[TableFile],
        used: u64,
        after_as_of: u64,
        tally: Tally,
    ) -> Result<(), DataError> {
        let files = file_rows(files);
        let rows_read = files.iter().map(|f| f.rows).sum();
        if self.opts.strict {
            strict_check(table, &files, &tally)?;
        }
        let rows_rejected = tally.total();
        self.report
            .rejected
            .extend(tally.into_rejections(table, &files));
        self.report.tables.push(TableReport {
            table,
            files,
            rows_read,
            rows_used: used,
            rows_rejected,
            rows_after_as_of: after_as_of,
        });
        Ok(())
    }
}

/// Under `--strict`, the first unusable row of a table (by file, then row).
fn strict_check(table: Table, files: &[FileRows], tally: &Tally) -> Result<(), DataError> {
    match tally.first() {
        Some((reason, ex)) => Err(DataError::Rejected {
            table,
            file: files[ex.file].path.clone(),
            row: ex.row,
            reason: reason.to_string(),
            value: ex.value.clone(),
            total: tally.total(),
        }),
        None => Ok(()),
    }
}

/// The patients table, read first: every other table refers to it.
struct PatientsRead {
    patients: Patients,
    index: PatientIndex,
    id_type: IdType,
}

fn read_patients_table(source: Source, acc: &mut Accounts) -> Result<PatientsRead, DataError> {
    let files = open_source(source, Table::Patients, PATIENT_COLUMNS, None)?;
    let id_type = files[0].id_type;
    if let Some(other) = files.iter().find(|f| f.id_type != id_type) {
        return Err(DataError::IdTypeMismatch {
            path: other.path.clone(),
            table: Table::Patients,
            found: other.id_type.describe(),
            patients: id_type.describe(),
        });
    }
    let (patients, index, tally) = load_patients(&files, id_type)?;
    acc.account(Table::Patients, &files, patients.len() as u64, 0, tally)?;
    Ok(PatientsRead {
        patients,
        index,
        id_type,
    })
}

/// The events table's files (and the extra event files of `opts`).
fn open_events(
    source: Source,
    opts: &LoadOptions,
    id_type: IdType,
) -> Result<Vec<TableFile>, DataError> {
    let mut files = open_source(source, Table::Events, EVENT_COLUMNS, Some(id_type))?;
    files.extend(open_table(
        &opts.extra_event_files,
        Table::Events,
        EVENT_COLUMNS,
        Some(id_type),
    )?);
    Ok(files)
}

/// The optional consents and outreach tables, accounted after the events.
fn read_contact_tables(
    consents_source: Option<Source>,
    outreach_source: Option<Source>,
    p: &PatientsRead,
    acc: &mut Accounts,
) -> Result<(Consents, Outreach), DataError> {
    let mut consents = Consents {
        n_patients: p.patients.len(),
        rows: Vec::new(),
    };
    if let Some(source) = consents_source {
        let files = open_source(source, Table::Consents, CONSENT_COLUMNS, Some(p.id_type))?;
        let (rows, tally) = load_consents(&files, &p.index)?;
        acc.account(Table::Consents, &files, rows.len() as u64, 0, tally)?;
        consents.rows = rows;
    }
    let mut outreach = Outreach::default();
    if let Some(source) = outreach_source {
        let files = open_source(source, Table::Outreach, OUTREACH_COLUMNS, Some(p.id_type))?;
        let (rows, tally) = load_outreach(&files, &p.index)?;
        acc.account(Table::Outreach, &files, rows.len() as u64, 0, tally)?;
        outreach.rows = rows;
    }
    Ok((consents, outreach))
}

fn load_sources(sources: Sources, opts: &LoadOptions) -> Result<Dataset, DataError> {
    let mut acc = Accounts::new(opts);
    let p = read_patients_table(sources.patients, &mut acc)?;
    let files = open_events(sources.events, opts, p.id_type)?;
    read_whole(p, files, sources.consents, sources.outreach, acc)
}

/// The rest of a load once the patients are read and the events opened:
/// every event, then the consents and outreach tables.
fn read_whole(
    p: PatientsRead,
    files: Vec<TableFile>,
    consents_source: Option<Source>,
    outreach_source: Option<Source>,
    mut acc: Accounts,
) -> Result<Dataset, DataError> {
    let as_of = acc.opts.as_of;
    let (events, codes, units, after_as_of, tally) =
        load_events(&files, &p.index, p.patients.len(), as_of, None)?;
    acc.account(
        Table::Events,
        &files,
        events.len() as u64,
        after_as_of,
        tally,
    )?;
    let (consents, outreach) = read_contact_tables(consents_source, outreach_source, &p, &mut acc)?;
    Ok(Dataset {
        population: Population {
            as_of,
            patients: p.patients,
            events,
            codes,
            units,
        },
        consents,
        outreach,
        report: acc.report,
    })
}

const PATIENT_COLUMNS: &[ColumnSpec] = &[
    col("patient_id", Expect::PatientId, true),
    col("birth_date", Expect::Date, true),
    dict_col("sex", true),
    dict_col("clinic_id", true),
    col("death_date", Expect::Date, false),
    dict_col("municipality", false),
    dict_col("language", false),
];

const EVENT_COLUMNS: &[ColumnSpec] = &[
    col("patient_id", Expect::PatientId, true),
    col("date", Expect::Date, true),
    dict_col("kind", true),
    dict_col("system", true),
    dict_col("code", true),
    col("value", Expect::Float64, false),
    dict_col("unit", false),
];

const CONSENT_COLUMNS: &[ColumnSpec] = &[
    col("patient_id", Expect::PatientId, true),
    dict_col("scope", true),
    col("granted", Expect::Boolean, true),
    col("date", Expect::Date, true),
];

const OUTREACH_COLUMNS: &[ColumnSpec] = &[
    col("patient_id", Expect::PatientId, true),
    col("date", Expect::Date, true),
    dict_col("criterion_id", false),
    dict_col("outcome", true),
];

/// Sentinels of a resolved patient id (real indices are below them).
const NO_PATIENT: u32 = NULL_ID;
const ORPHAN: u32 = u32::MAX - 1;
const REJECTED: u32 = u32::MAX - 2;

/// Maps patient ids to dense indices ([`REJECTED`] for ids whose row was unusable).
enum PatientIndex {
    Int(FxMap<i64, u32>),
    Str(FxMap<Box<str>, u32>),
}

impl PatientIndex {
    /// Resolves each row of an id column to an index or a sentinel.
    fn resolve(&self, col: &dyn Array, out: &mut Vec<u32>) {
        out.clear();
        out.reserve(col.len());
        match self {
            PatientIndex::Int(map) => {
                let ids = col.as_primitive::<Int64Type>();
                let mut last = None;
                for i in 0..ids.len() {
                    if ids.is_null(i) {
                        out.push(NO_PATIENT);
                        continue;
                    }
                    let id = ids.value(i);
                    let p = match last {
                        Some((prev, p)) if prev == id => p,
                        _ => {
                            let p = map.get(&id).copied().unwrap_or(ORPHAN);
                            last = Some((id, p));
                            p
                        }
                    };
                    out.push(p);
                }
            }
            PatientIndex::Str(map) => {
                let mut last: Option<(Box<str>, u32)> = None;
                for_each_str(col, |_, s| {
                    let Some(s) = s else {
                        out.push(NO_PATIENT);
                        return;
                    };
                    let p = match &last {
                        Some((prev, p)) if **prev == *s => *p,
                        _ => {
                            let p = map.get(s).copied().unwrap_or(ORPHAN);
                            last = Some((s.into(), p));
                            p
                        }
                    };
                    out.push(p);
                });
            }
        }
    }
}

/// The reason a resolved patient makes a row unusable, if any.
fn patient_reason(p: u32) -> Option<Reason> {
    match p {
        NO_PATIENT => Some(Reason::NullRequired {
            column: "patient_id",
        }),
        ORPHAN => Some(Reason::OrphanPatient),
        REJECTED => Some(Reason::RejectedPatient),
        _ => None,
    }
}

/// A column the projection guarantees (required, checked on open).
fn required<'b>(batch: &'b RecordBatch, name: &str) -> &'b dyn Array {
    column(batch, name)
        .unwrap_or_else(|| panic!("required column {name} was checked on open"))
        .as_ref()
}

// ---------------------------------------------------------------- patients

#[derive(Default)]
struct PatientChunk {
    file_index: usize,
    /// 1-based file row of each row.
    row: Vec<u64>,
    int_ids: Vec<Option<i64>>,
    str_ids: Vec<Option<Box<str>>>,
    birth: Vec<Option<Day>>,
    death: Vec<Option<Day>>,
    strings: Interner,
    sex: Vec<u32>,
    clinic: Vec<u32>,
    municipality: Vec<u32>,
    language: Vec<u32>,
}

fn read_patient_unit(unit: Unit<'_>, id_type: IdType) -> Result<PatientChunk, DataError> {
    let mut ch = PatientChunk {
        file_index: unit.file_index,
        ..PatientChunk::default()
    };
    let mut scratch = Vec::new();
    unit.for_each_batch(|batch, first| {
        let n = batch.num_rows();
        ch.row.extend((0..n as u64).map(|i| first + i + 1));
        let ids = required(batch, "patient_id");
        match id_type {
            IdType::Int => ch.int_ids.extend(ids.as_primitive::<Int64Type>().iter()),
            IdType::Str => for_each_str(ids, |_, s| ch.str_ids.push(s.map(Box::from))),
        }
        ch.birth.extend(
            required(batch, "birth_date")
                .as_primitive::<Date32Type>()
                .iter(),
        );
        match column(batch, "death_date") {
            Some(c) => ch.death.extend(c.as_primitive::<Date32Type>().iter()),
            None => ch.death.extend(std::iter::repeat_n(None, n)),
        }
        for (name, out) in [
            ("sex", &mut ch.sex),
            ("clinic_id", &mut ch.clinic),
            ("municipality", &mut ch.municipality),
            ("language", &mut ch.language),
        ] {
            match column(batch, name) {
                Some(c) => {
                    intern_column(c.as_ref(), &mut ch.strings, &mut scratch);
                    out.extend_from_slice(&scratch);
                }
                None => out.extend(std::iter::repeat_n(NULL_ID, n)),
            }
        }
    })?;
    Ok(ch)
}

/// Builds a [`DictColumn`] incrementally (values in order of first appearance).
#[derive(Default)]
struct DictBuilder {
    map: FxMap<Box<str>, u32>,
    col: DictColumn,
}

impl DictBuilder {
    fn push(&mut self, value: Option<&str>) {
        let code = value.map(|s| match self.map.get(s) {
            Some(&c) => c,
            None => {
                let c = self.col.values.len() as u32;
                self.col.values.push(s.to_string());
                self.map.insert(s.into(), c);
                c
            }
        });
        self.col.codes.push(code);
    }
}

fn load_patients(
    files: &[TableFile],
    id_type: IdType,
) -> Result<(Patients, PatientIndex, Tally), DataError> {
    let chunks = read_units(files, |unit| read_patient_unit(unit, id_type))?;
    let n: usize = chunks.iter().map(|c| c.row.len()).sum();
    let mut tally = Tally::default();
    let mut int_index = FxMap::default();
    let mut str_index: FxMap<Box<str>, u32> = FxMap::default();
    let (mut int_ids, mut str_ids) = (Vec::new(), Vec::new());
    let mut birth_date = Vec::with_capacity(n);
    let mut death_date = Vec::with_capacity(n);
    let [mut sex, mut clinic, mut municipality, mut language] =
        std::array::from_fn(|_| DictBuilder::default());
    for ch in &chunks {
        let file = &files[ch.file_index];
        for i in 0..ch.row.len() {
            let row = ch.row[i];
            let id_text = match id_type {
                IdType::Int => ch.int_ids[i].map(|v| v.to_string()),
                IdType::Str => ch.str_ids[i].as_ref().map(|s| s.to_string()),
            };
            let Some(id_text) = id_text else {
                tally.add(
                    Reason::NullRequired {
                        column: "patient_id",
                    },
                    ch.file_index,
                    row,
                    || "null".into(),
                );
                continue;
            };
            let missing = if ch.birth[i].is_none() {
                Some("birth_date")
            } else if ch.sex[i] == NULL_ID {
                Some("sex")
            } else if ch.clinic[i] == NULL_ID {
                Some("clinic_id")
            } else {
                None
            };
            let index = match missing {
                Some(_) => REJECTED,
                None => birth_date.len() as u32,
            };
            let previous = match id_type {
                IdType::Int => int_index.insert(ch.int_ids[i].expect("checked"), index),
                IdType::Str => str_index.insert(ch.str_ids[i].clone().expect("checked"), index),
            };
            if previous.is_some() {
                let (first_file, first_row) = find_first(&chunks, id_type, ch, i);
                return Err(DataError::DuplicatePatient {
                    path: file.path.clone(),
                    row,
                    id: id_text,
                    first_path: files[first_file].path.clone(),
                    first_row,
                });
            }
            if let Some(column) = missing {
                tally.add(Reason::NullRequired { column }, ch.file_index, row, || {
                    format!("null (patient_id {id_text})")
                });
                continue;
            }
            match id_type {
                IdType::Int => int_ids.push(ch.int_ids[i].expect("checked")),
                IdType::Str => str_ids.push(id_text),
            }
            birth_date.push(ch.birth[i].expect("checked"));
            death_date.push(ch.death[i]);
            sex.push(ch.strings.get(ch.sex[i]));
            clinic.push(ch.strings.get(ch.clinic[i]));
            municipality.push(ch.strings.get(ch.municipality[i]));
            language.push(ch.strings.get(ch.language[i]));
        }
    }
    let (ids, index) = match id_type {
        IdType::Int => (PatientIds::Int(int_ids), PatientIndex::Int(int_index)),
        IdType::Str => (PatientIds::Str(str_ids), PatientIndex::Str(str_index)),
    };
    let patients = Patients {
        ids,
        birth_date,
        sex: sex.col,
        clinic: clinic.col,
        death_date,
        municipality: municipality.col,
        language: language.col,
    };
    Ok((patients, index, tally))
}

/// The (file, row) where the id of row `i` of `dup_chunk` first appeared.
fn find_first(
    chunks: &[PatientChunk],
    id_type: IdType,
    dup_chunk: &PatientChunk,
    i: usize,
) -> (usize, u64) {
    let same = |ch: &PatientChunk, j: usize| match id_type {
        IdType::Int => ch.int_ids[j] == dup_chunk.int_ids[i],
        IdType::Str => ch.str_ids[j] == dup_chunk.str_ids[i],
    };
    for ch in chunks {
        for j in 0..ch.row.len() {
            if same(ch, j) {
                return (ch.file_index, ch.row[j]);
            }
        }
    }
    (dup_chunk.file_index, dup_chunk.row[i])
}

// ---------------------------------------------------------------- events

/// The output column slices one row group fills: as many slots as the row
/// group has rows; usable rows are written from the start, in input order.
struct EventSlots<'a> {
    date: &'a mut [Day],
    /// Chunk-local code id (index into `triples`), made global after reading.
    code: &'a mut [u32],
    value: &'a mut [f64],
    has_value: &'a mut [bool],
    /// Chunk-local unit id + 1; 0 is null. Made global after reading.
    unit: &'a mut [u32],
}

/// What reading one row group leaves besides its rows in the output columns.
#[derive(Default)]
struct EventChunk {
    /// Usable rows written to the front of the unit's slots.
    kept: usize,
    /// The patients of the kept rows, run-length encoded: (patient, rows).
    runs: Vec<(u32, u32)>,
    kinds: Interner,
    systems: Interner,
    codes: Interner,
    units: Interner,
    /// Per chunk-local unit id + 1: whether a kept row has it.
    unit_used: Vec<bool>,
    /// Distinct (kind, system id, code id) in order of first appearance.
    triples: Vec<(EventKind, u32, u32)>,
    tally: Tally,
    /// Usable rows dated after `as_of` (set aside, not unusable).
    after_as_of: u64,
}

/// The rows of a row group that one patient range of a streaming load
/// takes: the events are sorted by patient, so a range's rows of a row group
/// it shares with the range before or after are a contiguous run. Rows whose
/// id names no person go with the run they stand in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct UnitFilter {
    /// Skip the rows before the first of a person at or after this one.
    from: Option<u32>,
    /// Stop at the first row of a person at or after this one.
    until: Option<u32>,
}

fn read_event_unit(
    unit: Unit<'_>,
    out: EventSlots<'_>,
    index: &PatientIndex,
    as_of: Day,
    filter: UnitFilter,
) -> Result<EventChunk, DataError> {
    let mut ch = EventChunk::default();
    let mut taking = filter.from.is_none();
    let mut stopped = false;
    let file_index = unit.file_index;
    let (path, first_row, capacity) = (unit.file.path.clone(), unit.first_row, out.date.len());
    let mut overflow = false;
    let mut pid = Vec::new();
    let (mut kind_ids, mut sys_ids, mut code_ids, mut unit_ids) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut kind_of: Vec<Option<EventKind>> = Vec::new();
    let mut triple_ids: FxMap<(u32, u32, u32), u32> = FxMap::default();
    unit.for_each_batch(|batch, first| {
        if stopped {
            return;
        }
        let n = batch.num_rows();
        let pid_col = required(batch, "patient_id");
        index.resolve(pid_col, &mut pid);
        let dates = required(batch, "date").as_primitive::<Date32Type>();
        let kind_col = required(batch, "kind");
        intern_column(kind_col, &mut ch.kinds, &mut kind_ids);
        kind_of.extend(
            ch.kinds.values[kind_of.len()..]
                .iter()
                .map(|s| EventKind::parse(s)),
        );
        intern_column(required(batch, "system"), &mut ch.systems, &mut sys_ids);
        intern_column(required(batch, "code"), &mut ch.codes, &mut code_ids);
        let values = column(batch, "value").map(|c| c.as_primitive::<Float64Type>());
        match column(batch, "unit") {
            Some(c) => intern_column(c.as_ref(), &mut ch.units, &mut unit_ids),
            None => {
                unit_ids.clear();
                unit_ids.resize(n, NULL_ID);
            }
        }
        ch.unit_used.resize(ch.units.values.len() + 1, false);
        let mut last_triple = None;
        for i in 0..n {
            let p = pid[i];
            let person = p < REJECTED;
            if !taking {
                if person && filter.from.is_some_and(|f| p >= f) {
                    taking = true;
                } else {
                    continue;
                }
            }
            if person && filter.until.is_some_and(|u| p >= u) {
                stopped = true;
                break;
            }
            let (kind_id, sys, code) = (kind_ids[i], sys_ids[i], code_ids[i]);
            let kind = if kind_id == NULL_ID {
                None
            } else {
                kind_of[kind_id as usize]
            };
            let (has, value) = match values {
                Some(v) if v.is_valid(i) => (true, v.value(i)),
                _ => (false, 0.0),
            };
            let date = dates.value(i);
            let reason = if p == NO_PATIENT {
                patient_reason(p)
            } else if dates.is_null(i) {
                Some(Reason::NullRequired { column: "date" })
            } else if kind_id == NULL_ID {
                Some(Reason::NullRequired { column: "kind" })
            } else if sys == NULL_ID {
                Some(Reason::NullRequired { column: "system" })
            } else if code == NULL_ID {
                Some(Reason::NullRequired { column: "code" })
            } else if kind.is_none() {
                Some(Reason::UnknownKind)
            } else if p >= REJECTED {
                patient_reason(p)
            } else if kind == Some(EventKind::Medication) && has && value < 0.0 {
                Some(Reason::NegativeSupply)
            } else {
                None
            };
            if let Some(reason) = reason {
                let row = first + i as u64 + 1;
                let shown = |name: &str| render(required(batch, name), i);
                ch.tally
                    .add(reason.clone(), file_index, row, || match reason {
                        Reason::NullRequired { column } => format!("{column} = null"),
                        Reason::UnknownKind => format!("kind = {:?}", shown("kind")),
                        Reason::OrphanPatient | Reason::RejectedPatient => {
                            format!("patient_id = {}", shown("patient_id"))
                        }
                        _ => format!("value = {value}"),
                    });
                continue;
            }
            // A usable event after the scoring date does not exist for the run;
            // it is counted apart, not as an unusable row (the data model).
            if date > as_of {
                ch.after_as_of += 1;
                continue;
            }
            let Some(kind) = kind else { continue };
            let key = (kind as u32, sys, code);
            let id = match last_triple {
                Some((k, id)) if k == key => id,
                _ => {
                    let next = ch.triples.len() as u32;
                    let id = *triple_ids.entry(key).or_insert(next);
                    if id == next {
                        ch.triples.push((kind, sys, code));
                    }
                    last_triple = Some((key, id));
                    id
                }
            };
            let at = ch.kept;
            if at == capacity {
                overflow = true;
                break;
            }
            let unit_id = unit_ids[i].wrapping_add(1);
            out.date[at] = date;
            out.code[at] = id;
            out.value[at] = value;
            out.has_value[at] = has;
            out.unit[at] = unit_id;
            ch.unit_used[unit_id as usize] = true;
            ch.kept += 1;
            match ch.runs.last_mut() {
                Some((q, count)) if *q == p => *count += 1,
                _ => ch.runs.push((p, 1)),
            }
        }
    })?;
    if overflow {
        return Err(DataError::RowGroupOverflow {
            path,
            first_row: first_row + 1,
            declared: capacity,
        });
    }
    Ok(ch)
}

/// Global dictionaries built from the chunks' local ones, normalising each
/// distinct raw string once.
#[derive(Default)]
struct GlobalDicts {
    systems: FxMap<Box<str>, Box<str>>,
    codes: FxMap<Box<str>, Box<str>>,
    entries: FxMap<CodeEntry, u32>,
    table: CodeTable,
    unit_ids: FxMap<Box<str>, u32>,
    units: Vec<String>,
}

impl GlobalDicts {
    /// Local-to-global maps for a chunk's codes and units.
    fn absorb(&mut self, ch: &EventChunk) -> (Vec<u32>, Vec<u32>) {
        let code_map = ch
            .triples
            .iter()
            .map(|&(kind, sys, code)| {
                let raw_sys = &ch.systems.values[sys as usize];
                let system = self
                    .systems
                    .entry(raw_sys.clone())
                    .or_insert_with(|| normalise_system(raw_sys).into())
                    .to_string();
                let raw_code = &ch.codes.values[code as usize];
                let code = self
                    .codes
                    .entry(raw_code.clone())
                    .or_insert_with(|| normalise_code(raw_code).into())
                    .to_string();
                let entry = CodeEntry { kind, system, code };
                let next = self.table.entries.len() as u32;
                let id = *self.entries.entry(entry.clone()).or_insert(next);
                if id == next {
                    self.table.entries.push(entry);
                }
                id
            })
            .collect();
        // Only units of usable rows enter the dictionary (a dictionary-encoded
        // column also holds the units of rejected rows). Index 0 is null.
        let used = &ch.unit_used;
        let unit_map = std::iter::once(0)
            .chain(ch.units.values.iter().zip(&used[1..]).map(|(u, &used)| {
                if !used {
                    return 0;
                }
                let next = self.units.len() as u32;
                let id = *self.unit_ids.entry(u.clone()).or_insert(next);
                if id == next {
                    self.units.push(u.to_string());
                }
                id
            }))
            .collect();
        (code_map, unit_map)
    }
}

/// The events, their dictionaries, the count of usable rows after `as_of`
/// and the unusable rows.
type EventsOut = (Events, CodeTable, Vec<String>, u64, Tally);

fn load_events(
    files: &[TableFile],
    index: &PatientIndex,
    n_patients: usize,
    as_of: Day,
    filters: Option<&[UnitFilter]>,
) -> Result<EventsOut, DataError> {
    // Every row group writes its usable rows straight into its share of the
    // final columns (sized by the row counts in the files' metadata), so the
    // event columns are built once, not staged and copied.
    let rows = unit_rows(files);
    let capacity: usize = rows.iter().sum();
    if capacity as u64 > u32::MAX as u64 {
        return Err(DataError::TooManyEvents {
            count: capacity as u64,
            limit: u32::MAX as u64,
        });
    }
    let bounds: Vec<usize> = std::iter::once(0)
        .chain(rows.iter().scan(0, |at, &r| {
            *at += r;
            Some(*at)
        }))
        .collect();
    let mut date: Vec<Day> = vec![0; capacity];
    let mut code: Vec<u32> = vec![0; capacity];
    let mut value: Vec<f64> = vec![0.0; capacity];
    let mut has_value: Vec<bool> = vec![false; capacity];
    let mut unit: Vec<u32> = vec![0; capacity];
    let slots: Vec<EventSlots<'_>> = split_by(&mut date, &bounds)
        .into_iter()
        .zip(split_by(&mut code, &bounds))
        .zip(split_by(&mut value, &bounds))
        .zip(split_by(&mut has_value, &bounds))
        .zip(split_by(&mut unit, &bounds))
        .map(|((((date, code), value), has_value), unit)| EventSlots {
            date,
            code,
            value,
            has_value,
            unit,
        })
        .collect();
    let filters = match filters {
        Some(f) => f.to_vec(),
        None => vec![UnitFilter::default(); slots.len()],
    };
    let states: Vec<_> = slots.into_iter().zip(filters).collect();
    let mut chunks = read_units_with(files, states, |unit, (out, filter)| {
        read_event_unit(unit, out, index, as_of, filter)
    })?;

    // Close the gaps left by rejected rows (none in clean data).
    let mut kept_bounds = Vec::with_capacity(bounds.len());
    kept_bounds.push(0);
    for (u, ch) in chunks.iter().enumerate() {
        let (from, to) = (bounds[u], kept_bounds[u]);
        if from != to {
            let r = from..from + ch.kept;
            date.copy_within(r.clone(), to);
            code.copy_within(r.clone(), to);
            value.copy_within(r.clone(), to);
            has_value.copy_within(r.clone(), to);
            unit.copy_within(r, to);
        }
        kept_bounds.push(to + ch.kept);
    }
    let total = kept_bounds[chunks.len()];
    date.truncate(total);
    code.truncate(total);
    value.truncate(total);
    has_value.truncate(total);
    unit.truncate(total);

    // Dictionaries: global ids in reading order, so independent of threads.
    let mut dicts = GlobalDicts {
        units: vec![String::new()],
        ..GlobalDicts::default()
    };
    let maps: Vec<(Vec<u32>, Vec<u32>)> = chunks.iter().map(|ch| dicts.absorb(ch)).collect();
    let mut tally = Tally::default();
    let mut after_as_of = 0;
    for ch in &mut chunks {
        tally.merge(std::mem::take(&mut ch.tally));
        after_as_of += ch.after_as_of;
    }
    split_by(&mut code, &kept_bounds)
        .into_par_iter()
        .zip(split_by(&mut unit, &kept_bounds))
        .zip(&maps)
        .for_each(|((code, unit), (code_map, unit_map))| {
            for c in code {
                *c = code_map[*c as usize];
            }
            for u in unit {
                *u = unit_map[*u as usize];
            }
        });
    drop(maps);

    // Group by patient. Input sorted by patient (as `caregap synth` writes
    // it) is grouped already: the offsets come from the run lengths. Otherwise
    // a stable counting sort moves every row to its patient's group.
    let runs = || chunks.iter().flat_map(|ch| ch.runs.iter().copied());
    let mut offsets = vec![0u32; n_patients + 1];
    for (p, n) in runs() {
        offsets[p as usize + 1] += n;
    }
    for p in 0..n_patients {
        offsets[p + 1] += offsets[p];
    }
    let grouped = runs()
        .map(|(p, _)| p)
        .try_fold(0u32, |prev, p| (p >= prev).then_some(p))
        .is_some();
    let (date, code, value, has_value, unit) = if grouped {
        (date, code, value, has_value, unit)
    } else {
        let mut cursor = offsets.clone();
        let mut dest: Vec<u32> = Vec::with_capacity(total);
        for (p, n) in runs() {
            let slot = &mut cursor[p as usize];
            dest.extend(*slot..*slot + n);
            *slot += n;
        }
        drop(cursor);
        let ((date, code), ((value, has_value), unit)) = rayon::join(
            || rayon::join(|| scatter(date, &dest), || scatter(code, &dest)),
            || {
                rayon::join(
                    || rayon::join(|| scatter(value, &dest), || scatter(has_value, &dest)),
                    || scatter(unit, &dest),
                )
            },
        );
        (date, code, value, has_value, unit)
    };
    let mut events = Events {
        offsets,
        date,
        code,
        value,
        has_value,
        unit,
    };
    sort_within_patients(&mut events);
    Ok((events, dicts.table, dicts.units, after_as_of, tally))
}

/// Writes `col[i]` to `out[dest[i]]` (`dest` is a permutation).
fn scatter<T: Copy + Default + Send>(col: Vec<T>, dest: &[u32]) -> Vec<T> {
    let mut out = vec![T::default(); col.len()];
    for (&v, &at) in col.iter().zip(dest) {
        out[at as usize] = v;
    }
    out
}

/// Sorts each patient's events by date, keeping input order among equal
/// dates (a stable sort); already-sorted patients (the usual case) are only
/// checked.
fn sort_within_patients(ev: &mut Events) {
    const BLOCK: usize = 4096;
    let n = ev.offsets.len() - 1;
    let bounds: Vec<usize> = (0..n.div_ceil(BLOCK))
        .map(|b| ev.offsets[(b * BLOCK).min(n)] as usize)
        .chain(std::iter::once(ev.offsets[n] as usize))
        .collect();
    let offsets = &ev.offsets;
    let date = split_by(&mut ev.date, &bounds);
    let code = split_by(&mut ev.code, &bounds);
    let value = split_by(&mut ev.value, &bounds);
    let has = split_by(&mut ev.has_value, &bounds);
    let unit = split_by(&mut ev.unit, &bounds);
    date.into_par_iter()
        .zip(code)
        .zip(value)
        .zip(has)
        .zip(unit)
        .enumerate()
        .for_each(|(b, ((((date, code), value), has), unit))| {
            let base = bounds[b];
            let mut perm: Vec<u32> = Vec::new();
            for p in b * BLOCK..((b + 1) * BLOCK).min(n) {
                let r = offsets[p] as usize - base..offsets[p + 1] as usize - base;
                if date[r.clone()].is_sorted() {
                    continue;
                }
                perm.clear();
                perm.extend(0..r.len() as u32);
                let d = &date[r.clone()];
                perm.sort_by_key(|&i| d[i as usize]);
                permute(&mut date[r.clone()], &perm);
                permute(&mut code[r.clone()], &perm);
                permute(&mut value[r.clone()], &perm);
                permute(&mut has[r.clone()], &perm);
                permute(&mut unit[r], &perm);
            }
        });
}

fn permute<T: Copy>(slice: &mut [T], perm: &[u32]) {
    let copy: Vec<T> = perm.iter().map(|&i| slice[i as usize]).collect();
    slice.copy_from_slice(&copy);
}

/// Splits `v` into the consecutive pieces `bounds[i]..bounds[i + 1]`.
fn split_by<'a, T>(mut v: &'a mut [T], bounds: &[usize]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(bounds.len().saturating_sub(1));
    for w in bounds.windows(2) {
        let (head, tail) = v.split_at_mut(w[1] - w[0]);
        out.push(head);
        v = tail;
    }
    out
}

// ---------------------------------------------------------------- consents, outreach

fn load_consents(
    files: &[TableFile],
    index: &PatientIndex,
) -> Result<(Vec<Consent>, Tally), DataError> {
    let chunks = read_units(files, |unit| {
        let file_index = unit.file_index;
        let mut rows = Vec::new();
        let mut tally = Tally::default();
        let (mut pid, mut scope_ids) = (Vec::new(), Vec::new());
        let mut scopes = Interner::default();
        unit.for_each_batch(|batch, first| {
            index.resolve(required(batch, "patient_id"), &mut pid);
            intern_column(required(batch, "scope"), &mut scopes, &mut scope_ids);
            let granted = required(batch, "granted").as_boolean();
            let dates = required(batch, "date").as_primitive::<Date32Type>();
            for i in 0..batch.num_rows() {
                let scope = scopes.get(scope_ids[i]);
                let reason = if pid[i] == NO_PATIENT {
                    patient_reason(pid[i])
                } else if scope.is_none() {
                    Some(Reason::NullRequired { column: "scope" })
                } else if dates.is_null(i) {
                    Some(Reason::NullRequired { column: "date" })
                } else if granted.is_null(i) {
                    Some(Reason::NullGranted)
                } else if scope.and_then(ConsentScope::parse).is_none() {
                    Some(Reason::UnknownScope)
                } else {
                    patient_reason(pid[i])
                };
                if let Some(reason) = reason {
                    let shown = match reason {
                        Reason::UnknownScope => format!("scope = {:?}", scope.unwrap_or("")),
                        Reason::OrphanPatient | Reason::RejectedPatient => {
                            format!("patient_id = {}", render(required(batch, "patient_id"), i))
                        }
                        Reason::NullGranted => "granted = null".into(),
                        Reason::NullRequired { column } => format!("{column} = null"),
                        _ => String::new(),
                    };
                    tally.add(reason, file_index, first + i as u64 + 1, || shown);
                    continue;
                }
                rows.push(Consent {
                    patient: pid[i],
                    scope: scope.and_then(ConsentScope::parse).expect("checked"),
                    granted: granted.value(i),
                    date: dates.value(i),
                });
            }
        })?;
        Ok((rows, tally))
    })?;
    Ok(concat(chunks))
}

fn load_outreach(
    files: &[TableFile],
    index: &PatientIndex,
) -> Result<(Vec<Contact>, Tally), DataError> {
    let chunks = read_units(files, |unit| {
        let file_index = unit.file_index;
        let mut rows = Vec::new();
        let mut tally = Tally::default();
        let (mut pid, mut outcome_ids, mut crit_ids) = (Vec::new(), Vec::new(), Vec::new());
        let mut strings = Interner::default();
        unit.for_each_batch(|batch, first| {
            let n = batch.num_rows();
            index.resolve(required(batch, "patient_id"), &mut pid);
            intern_column(required(batch, "outcome"), &mut strings, &mut outcome_ids);
            match column(batch, "criterion_id") {
                Some(c) => intern_column(c.as_ref(), &mut strings, &mut crit_ids),
                None => {
                    crit_ids.clear();
                    crit_ids.resize(n, NULL_ID);
                }
            }
            let dates = required(batch, "date").as_primitive::<Date32Type>();
            for i in 0..n {
                let outcome = strings.get(outcome_ids[i]);
                let reason = if pid[i] == NO_PATIENT {
                    patient_reason(pid[i])
                } else if dates.is_null(i) {
                    Some(Reason::NullRequired { column: "date" })
                } else if outcome.is_none() {
                    Some(Reason::NullRequired { column: "outcome" })
                } else if outcome.and_then(Outcome::parse).is_none() {
                    Some(Reason::UnknownOutcome)
                } else {
                    patient_reason(pid[i])
                };
                if let Some(reason) = reason {
                    let shown = match reason {
                        Reason::UnknownOutcome => format!("outcome = {:?}", outcome.unwrap_or("")),
                        Reason::OrphanPatient | Reason::RejectedPatient => {
                            format!("patient_id = {}", render(required(batch, "patient_id"), i))
                        }
                        Reason::NullRequired { column } => format!("{column} = null"),
                        _ => String::new(),
                    };
                    tally.add(reason, file_index, first + i as u64 + 1, || shown);
                    continue;
                }
                rows.push(Contact {
                    patient: pid[i],
                    date: dates.value(i),
                    criterion_id: strings.get(crit_ids[i]).map(str::to_string),
                    outcome: outcome.and_then(Outcome::parse).expect("checked"),
                });
            }
        })?;
        Ok((rows, tally))
    })?;
    Ok(concat(chunks))
}

fn concat<T>(chunks: Vec<(Vec<T>, Tally)>) -> (Vec<T>, Tally) {
    let mut rows = Vec::new();
    let mut tally = Tally::default();
    for (r, t) in chunks {
        rows.extend(r);
        tally.merge(t);
    }
    (rows, tally)
}

// ---------------------------------------------------------------- streaming

/// A population read a patient range at a time ([`load_streaming`]): when
/// the events are sorted by patient (as `caregap synth` and the importers
/// write them), each range's events are read, evaluated and dropped before
/// the next range's are read, so memory is bounded by the range, not the
/// population.
///
/// The patients table is read whole (it is small); the events are planned
/// into chunks of about the given rows, each cut before the first row of a
/// person (inside a row group when a person goes on across it: the two
/// chunks share that row group, see [`UnitFilter`]). Chunk `k` holds the
/// people `[start_k, start_{k+1})` of the patients table, with `start_0 = 0`
/// and the last chunk ending with the table, so every person is in exactly
/// one chunk, with all of their events. Every event row is read once, in the
/// same order as [`load`] reads it, so the counts and examples of the load
/// report are the same.
pub struct Streaming {
    opts: LoadOptions,
    acc_report: LoadReport,
    patients: PatientsRead,
    files: Vec<TableFile>,
    chunks: Vec<PlannedChunk>,
    consents: Option<Source>,
    outreach: Option<Source>,
    used: u64,
    after_as_of: u64,
    tally: Tally,
}

/// One chunk: per event file the row groups read, the rows taken of each
/// (in reading order), and the people.
struct PlannedChunk {
    units: Vec<std::ops::Range<usize>>,
    filters: Vec<UnitFilter>,
    people: std::ops::Range<u32>,
}

/// One chunk's events with every person of the patients table: evaluate only
/// `people` (the others have no events loaded), then give the population
/// back with [`Streaming::restore`].
pub struct StreamChunk {
    pub population: Population,
    pub people: std::ops::Range<u32>,
}

/// A population read whole, or planned to be read a patient range at a time.
pub enum Loaded {
    Whole(Dataset),
    Streaming(Streaming),
}

/// Loads `dir` a patient range of about `chunk_rows` event rows at a time
/// ([`Streaming`]) when its events are sorted by patient and fill more than
/// one range; otherwise (and with `chunk_rows` 0) reads it whole, as [`load`],
/// going on from what the planning read.
pub fn load_streaming(
    dir: &Path,
    opts: &LoadOptions,
    chunk_rows: u64,
) -> Result<Loaded, DataError> {
    let sources = Sources::of_dir(dir)?;
    let mut acc = Accounts::new(opts);
    let p = read_patients_table(sources.patients, &mut acc)?;
    let files = open_events(sources.events, opts, p.id_type)?;
    let rows: u64 = files.iter().map(|f| f.rows).sum();
    let chunks = if chunk_rows > 0 && rows > chunk_rows {
        plan_chunks(&files, &p, chunk_rows)?
    } else {
        None
    };
    match chunks {
        Some(chunks) if chunks.len() > 1 => Ok(Loaded::Streaming(Streaming {
            opts: opts.clone(),
            acc_report: acc.report,
            patients: p,
            files,
            chunks,
            consents: sources.consents,
            outreach: sources.outreach,
            used: 0,
            after_as_of: 0,
            tally: Tally::default(),
        })),
        _ => read_whole(p, files, sources.consents, sources.outreach, acc).map(Loaded::Whole),
    }
}

/// What the planning reads of one row group: its rows, and of the rows whose
/// id names a person, the first and last person, and whether they never go
/// back to an earlier person.
struct UnitPeople {
    rows: u64,
    people: Option<(u32, u32)>,
    sorted: bool,
}

/// Where a chunk starts: in row group `unit`, at the first row of person
/// `person` or later (`None`: at the row group's first row).
#[derive(Clone, Copy)]
struct Cut {
    unit: usize,
    person: u32,
    inside: bool,
}

/// Reads the patient ids of every row group (that column only) and cuts the
/// event rows into chunks of about `chunk_rows`, each cut before the first
/// row of a person; `None` when the rows are not sorted by patient (a row
/// names a person listed before the person of an earlier row).
fn plan_chunks(
    files: &[TableFile],
    p: &PatientsRead,
    chunk_rows: u64,
) -> Result<Option<Vec<PlannedChunk>>, DataError> {
    const ID_ONLY: &[ColumnSpec] = &[col("patient_id", Expect::PatientId, true)];
    let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    let ids_only = open_table(&paths, Table::Events, ID_ONLY, Some(p.id_type))?;
    let units = read_units(&ids_only, |unit| {
        let mut resolved = Vec::new();
        let mut u = UnitPeople {
            rows: 0,
            people: None,
            sorted: true,
        };
        unit.for_each_batch(|batch, _| {
            u.rows += batch.num_rows() as u64;
            p.index
                .resolve(required(batch, "patient_id"), &mut resolved);
            for &x in resolved.iter().filter(|&&x| x < REJECTED) {
                u.people = Some(match u.people {
                    None => (x, x),
                    Some((first, last)) => {
                        u.sorted &= x >= last;
                        (first, x)
                    }
                });
            }
        })?;
        Ok(u)
    })?;
    if units.is_empty() {
        return Ok(None);
    }
    let mut cuts = vec![Cut {
        unit: 0,
        person: 0,
        inside: false,
    }];
    let mut highest: Option<u32> = None;
    let mut rows_since_cut = 0u64;
    for (i, u) in units.iter().enumerate() {
        if let Some((first, last)) = u.people {
            if !u.sorted || highest.is_some_and(|h| first < h) {
                return Ok(None);
            }
            if rows_since_cut >= chunk_rows {
                if highest.is_none_or(|h| first > h) {
                    // The row group starts with a new person: cut before it.
                    cuts.push(Cut {
                        unit: i,
                        person: first,
                        inside: false,
                    });
                    rows_since_cut = 0;
                } else if last > first {
                    // A person goes on from the row group before: cut before
                    // this row group's last person.
                    cuts.push(Cut {
                        unit: i,
                        person: last,
                        inside: true,
                    });
                    rows_since_cut = 0;
                }
            }
            highest = Some(last);
        }
        rows_since_cut += u.rows;
    }
    // Global row-group numbers to (file, row group).
    let mut file_of = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        file_of.extend((0..f.n_units()).map(|rg| (fi, rg)));
    }
    let n_patients = p.patients.len() as u32;
    let mut chunks = Vec::with_capacity(cuts.len());
    for (k, cut) in cuts.iter().enumerate() {
        let next = cuts.get(k + 1);
        let last_unit = match next {
            Some(c) if c.inside => c.unit,
            Some(c) => c.unit - 1,
            None => units.len() - 1,
        };
        let mut ranges = vec![0..0; files.len()];
        let mut filters = Vec::new();
        for (g, &(fi, rg)) in file_of
            .iter()
            .enumerate()
            .take(last_unit + 1)
            .skip(cut.unit)
        {
            let r = &mut ranges[fi];
            *r = if r.start == r.end {
                rg..rg + 1
            } else {
                r.start..rg + 1
            };
            filters.push(UnitFilter {
                from: (g == cut.unit && cut.inside).then_some(cut.person),
                until: next.filter(|c| c.inside && c.unit == g).map(|c| c.person),
            });
        }
        chunks.push(PlannedChunk {
            units: ranges,
            filters,
            people: cut.person..next.map_or(n_patients, |c| c.person),
        });
    }
    Ok(Some(chunks))
}

impl Streaming {
    /// The scoring date the load was opened for.
    pub fn as_of(&self) -> Day {
        self.opts.as_of
    }

    /// The number of chunks.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// The people of the patients table.
    pub fn n_patients(&self) -> usize {
        self.patients.patients.len()
    }

    /// Every person, with no events: for what needs the patients only (the
    /// output writers' ids and clinics).
    pub fn patients_only(&self) -> Population {
        without_events(self.opts.as_of, self.patients.patients.clone())
    }

    /// Reads chunk `k`'s events (under `--strict`, its first unusable row is
    /// the error, as [`load`] would report it). The patients move into the
    /// chunk's population until [`Streaming::restore`].
    pub fn read_chunk(&mut self, k: usize) -> Result<StreamChunk, DataError> {
        let files = self.chunk_files(k);
        let chunk = &self.chunks[k];
        let n = self.patients.patients.len();
        let (events, codes, units, after_as_of, tally) = load_events(
            &files,
            &self.patients.index,
            n,
            self.opts.as_of,
            Some(&chunk.filters),
        )?;
        self.used += events.len() as u64;
        self.after_as_of += after_as_of;
        self.tally.merge(tally);
        if self.opts.strict && self.tally.total() > 0 {
            // The error names the first unusable row and how many there are
            // in all, as `load` does: count the rest of the rows first.
            drop(events);
            for later in k + 1..self.chunks.len() {
                let files = self.chunk_files(later);
                let (_, _, _, _, tally) = load_events(
                    &files,
                    &self.patients.index,
                    n,
                    self.opts.as_of,
                    Some(&self.chunks[later].filters),
                )?;
                self.tally.merge(tally);
            }
            // Cannot fire: a tally with a row has a first example.
            return Err(
                strict_check(Table::Events, &file_rows(&self.files), &self.tally)
                    .expect_err("the tally holds a row"),
            );
        }
        let patients = std::mem::replace(&mut self.patients.patients, empty_patients());
        Ok(StreamChunk {
            population: Population {
                as_of: self.opts.as_of,
                patients,
                events,
                codes,
                units,
            },
            people: chunk.people.clone(),
        })
    }

    /// The event files as chunk `k` reads them.
    fn chunk_files(&self, k: usize) -> Vec<TableFile> {
        self.files
            .iter()
            .zip(&self.chunks[k].units)
            .map(|(f, u)| f.with_units(u.clone()))
            .collect()
    }

    /// Takes the patients back from a chunk's population (its events are dropped).
    pub fn restore(&mut self, chunk: StreamChunk) {
        self.patients.patients = chunk.population.patients;
    }

    /// After the last chunk: the events' report, then the consents and
    /// outreach tables, as [`load`] gives them (the population without events).
    pub fn finish(self) -> Result<Dataset, DataError> {
        let mut acc = Accounts {
            opts: &self.opts,
            report: self.acc_report,
        };
        acc.account(
            Table::Events,
            &self.files,
            self.used,
            self.after_as_of,
            self.tally,
        )?;
        let (consents, outreach) =
            read_contact_tables(self.consents, self.outreach, &self.patients, &mut acc)?;
        Ok(Dataset {
            population: without_events(self.opts.as_of, self.patients.patients),
            consents,
            outreach,
            report: acc.report,
        })
    }
}

/// Every person of `patients`, none with an event.
fn without_events(as_of: Day, patients: Patients) -> Population {
    Population {
        as_of,
        events: Events {
            offsets: vec![0; patients.len() + 1],
            ..Events::default()
        },
        patients,
        codes: CodeTable::default(),
        units: vec![String::new()],
    }
}

/// A placeholder while the patients are lent to a chunk.
fn empty_patients() -> Patients {
    Patients {
        ids: PatientIds::Int(Vec::new()),
        birth_date: Vec::new(),
        sex: DictColumn::default(),
        clinic: DictColumn::default(),
        death_date: Vec::new(),
        municipality: DictColumn::default(),
        language: DictColumn::default(),
    }
}
