//! OMOP CDM v5.4 input: the clinical tables as CSV (OHDSI export format, tab
//! or comma, optionally gzipped) or Parquet, and the vocabulary's `concept`
//! table when present. Rules in docs/import.md ("OMOP CDM").
//!
//! Every table is read as text columns (CSV through arrow-csv with an all-Utf8
//! schema; Parquet columns cast to Utf8), so CSV and Parquet take the same path.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::ImportError;
use super::date;
use super::mapping::{Mapping, UCUM, Unit};
use super::report::{InputFile, Loc};
use super::rows::{Chunk, Collected, EventRow, Kind, NO_UNIT, PatientRow};
use crate::data::Day;

/// The tables read, by index (`EventRow::rtype`).
pub const TABLES: [&str; 10] = [
    "person",
    "death",
    "care_site",
    "concept",
    "visit_occurrence",
    "condition_occurrence",
    "measurement",
    "observation",
    "drug_exposure",
    "procedure_occurrence",
];

pub fn type_name(t: u8) -> &'static str {
    TABLES.get(t as usize).copied().unwrap_or("?")
}

/// Where a table is: `NAME.csv|tsv|txt[.gz]` or `NAME.parquet`, any case.
fn find(dir: &Path, name: &str) -> Result<Option<PathBuf>, ImportError> {
    let entries = fs::read_dir(dir).map_err(|source| ImportError::Io {
        path: dir.to_path_buf(),
        what: "list",
        source,
    })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let f = p
                .file_name()
                .map(|f| f.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let f = f.strip_suffix(".gz").unwrap_or(&f);
            [".csv", ".tsv", ".txt", ".parquet"]
                .iter()
                .any(|ext| f.strip_suffix(ext) == Some(name))
        })
        .collect();
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(ImportError::Input(format!(
            "{} has several files for the table {name}: {}; keep one",
            dir.display(),
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A table read as text columns.
struct Table {
    file: String,
    /// CSV: line numbers start after the header; Parquet: row numbers.
    csv: bool,
    batches: Vec<RecordBatch>,
}

fn io_err<'p>(path: &'p Path, what: &'static str) -> impl Fn(std::io::Error) -> ImportError + 'p {
    move |source| ImportError::Io {
        path: path.to_path_buf(),
        what,
        source,
    }
}

fn read_table(path: &Path) -> Result<Table, ImportError> {
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".parquet") {
        let f = fs::File::open(path).map_err(io_err(path, "open"))?;
        let perr = |e: parquet::errors::ParquetError| {
            ImportError::Input(format!(
                "{}: not a readable Parquet file: {e}",
                path.display()
            ))
        };
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(perr)?
            .with_batch_size(64 * 1024)
            .build()
            .map_err(perr)?;
        let mut batches = Vec::new();
        for b in reader {
            let b = b.map_err(|e| ImportError::Input(format!("{}: {e}", path.display())))?;
            let mut fields = Vec::new();
            let mut cols = Vec::new();
            for (f, c) in b.schema().fields().iter().zip(b.columns()) {
                let c = arrow::compute::cast(c, &DataType::Utf8).map_err(|e| {
                    ImportError::Input(format!(
                        "{}: column {} ({}) cannot be read as text: {e}",
                        path.display(),
                        f.name(),
                        f.data_type()
                    ))
                })?;
                fields.push(Field::new(
                    f.name().to_ascii_lowercase(),
                    DataType::Utf8,
                    true,
                ));
                cols.push(c);
            }
            batches.push(
                RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
                    .map_err(|e| ImportError::Input(e.to_string()))?,
            );
        }
        return Ok(Table {
            file: name,
            csv: false,
            batches,
        });
    }
    let f = fs::File::open(path).map_err(io_err(path, "open"))?;
    let raw: Box<dyn Read> = if lower.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(f)))
    } else {
        Box::new(f)
    };
    let mut reader = BufReader::with_capacity(1 << 20, raw);
    let mut header = String::new();
    reader
        .read_line(&mut header)
        .map_err(io_err(path, "read"))?;
    let header = header
        .trim_end_matches(['\n', '\r'])
        .trim_start_matches('\u{feff}');
    if header.is_empty() {
        return Err(ImportError::Input(format!(
            "{}: empty file; an OMOP CSV table starts with a header line",
            path.display()
        )));
    }
    let delimiter = if header.contains('\t') { b'\t' } else { b',' };
    let fields: Vec<Field> = header
        .split(delimiter as char)
        .map(|h| {
            Field::new(
                h.trim().trim_matches('"').to_ascii_lowercase(),
                DataType::Utf8,
                true,
            )
        })
        .collect();
    let csv = arrow::csv::ReaderBuilder::new(Arc::new(Schema::new(fields)))
        .with_header(false)
        .with_delimiter(delimiter)
        .with_batch_size(64 * 1024)
        .build(reader)
        .map_err(|e| ImportError::Input(format!("{}: {e}", path.display())))?;
    let mut batches = Vec::new();
    for b in csv {
        batches.push(b.map_err(|e| {
            ImportError::Input(format!(
                "{}: not a readable CSV table (a row with another number of fields?): {e}",
                path.display()
            ))
        })?);
    }
    Ok(Table {
        file: name,
        csv: true,
        batches,
    })
}

/// Text access to a batch's columns by name.
struct Cols<'b> {
    cols: HashMap<&'b str, &'b StringArray>,
}

impl<'b> Cols<'b> {
    fn new(b: &'b RecordBatch) -> Cols<'b> {
        let cols = b
            .schema_ref()
            .fields()
            .iter()
            .zip(b.columns())
            .map(|(f, c)| (f.name().as_str(), c.as_string::<i32>()))
            .collect();
        Cols { cols }
    }

    /// A non-blank value.
    fn get(&self, name: &str, row: usize) -> Option<&'b str> {
        let c = self.cols.get(name)?;
        if c.is_null(row) {
            return None;
        }
        let v = c.value(row).trim();
        (!v.is_empty()).then_some(v)
    }
}

/// A `person_id` as the key of its person: the CDM's `person_id` is an
/// integer, so `2`, `+2` and `02` are one person, written as `2`; a value
/// that is not an integer is kept as it is.
fn person_key(s: &str) -> std::borrow::Cow<'_, str> {
    match s.parse::<i64>() {
        Ok(n) if n.to_string() != s => std::borrow::Cow::Owned(n.to_string()),
        _ => std::borrow::Cow::Borrowed(s),
    }
}

/// An OMOP date: `2024-03-05`, `20240305`, or a datetime (date part).
fn omop_date(s: &str) -> Option<Day> {
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return date::parse(&format!("{}-{}-{}", &s[..4], &s[4..6], &s[6..])).map(|d| d.0);
    }
    let d = s.get(..10)?;
    date::parse(d).map(|d| d.0)
}

/// The system names per table used for `*_source_value` when a row's concepts
/// cannot be resolved (no `concept` table, or concept 0).
#[derive(Debug, Clone)]
pub struct SourceSystems(pub HashMap<String, String>);

impl Default for SourceSystems {
    fn default() -> Self {
        let m = [
            ("condition_occurrence", "ICD10"),
            ("drug_exposure", "ATC"),
            ("measurement", "LOINC"),
            ("observation", "LOCAL"),
            ("procedure_occurrence", "LOCAL"),
            ("visit_occurrence", "VISIT"),
        ];
        SourceSystems(
            m.iter()
                .map(|(t, s)| (t.to_string(), s.to_string()))
                .collect(),
        )
    }
}

/// Reads an OMOP CDM folder into `into`.
pub fn read_all(
    dir: &Path,
    mapping: &Mapping,
    source_systems: &SourceSystems,
    into: &mut Collected,
) -> Result<Vec<String>, ImportError> {
    if !dir.is_dir() {
        return Err(ImportError::Input(format!(
            "{} is not a folder; give the folder holding the CDM tables (person.csv, ...)",
            dir.display()
        )));
    }
    let mut files: Vec<String> = Vec::new();
    let mut tables: HashMap<&str, Table> = HashMap::new();
    for name in TABLES {
        if let Some(path) = find(dir, name)? {
            let t = read_table(&path)?;
            into.report.inputs.push(InputFile {
                path: path.display().to_string(),
                bytes: fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
            });
            tables.insert(name, t);
        }
    }
    if !tables.contains_key("person") {
        return Err(ImportError::Input(format!(
            "{} has no person table (person.csv, person.tsv or person.parquet)",
            dir.display()
        )));
    }
    // Names for examples, by file index.
    let order: Vec<&str> = TABLES
        .iter()
        .copied()
        .filter(|t| tables.contains_key(t))
        .collect();
    for t in &order {
        files.push(tables[t].file.clone());
    }
    let file_index = |t: &str| order.iter().position(|x| *x == t).unwrap_or(0) as u32;
    let line_of = |t: &Table, row: usize| {
        if t.csv {
            row as u32 + 2
        } else {
            row as u32 + 1
        }
    };
    let example = |loc: Loc| format!("{}:{}", files[loc.file as usize], loc.line);

    // Vocabulary.
    let mut concepts: HashMap<String, (String, String)> = HashMap::new();
    if let Some(t) = tables.get("concept") {
        for b in &t.batches {
            let c = Cols::new(b);
            for row in 0..b.num_rows() {
                if let (Some(id), Some(v), Some(code)) = (
                    c.get("concept_id", row),
                    c.get("vocabulary_id", row),
                    c.get("concept_code", row),
                ) {
                    concepts.insert(id.to_string(), (v.to_string(), code.to_string()));
                }
            }
        }
    }
    let mut care_sites: HashMap<String, String> = HashMap::new();
    if let Some(t) = tables.get("care_site") {
        for b in &t.batches {
            let c = Cols::new(b);
            for row in 0..b.num_rows() {
                if let Some(id) = c.get("care_site_id", row) {
                    let clinic = c
                        .get("care_site_source_value", row)
                        .or(c.get("care_site_name", row))
                        .unwrap_or(id);
                    care_sites.insert(id.to_string(), clinic.to_string());
                }
            }
        }
    }
    let mut deaths: HashMap<String, Day> = HashMap::new();
    let mut chunk = Chunk::default();
    if let Some(t) = tables.get("death") {
        for b in &t.batches {
            let c = Cols::new(b);
            for row in 0..b.num_rows() {
                chunk.report.read("death");
                let line = line_of(t, row);
                match (
                    c.get("person_id", row).map(person_key),
                    c.get("death_date", row).and_then(omop_date),
                ) {
                    (Some(p), Some(d)) => {
                        let e = deaths.entry(p.into_owned()).or_insert(d);
                        *e = (*e).min(d);
                        chunk.report.used("death");
                    }
                    _ => chunk
                        .report
                        .reject("death", "no person_id or death_date", || {
                            format!("{}:{line}", t.file)
                        }),
                }
            }
        }
    }
    {
        let t = &tables["person"];
        let fi = file_index("person");
        for b in &t.batches {
            let c = Cols::new(b);
            for row in 0..b.num_rows() {
                chunk.report.read("person");
                let line = line_of(t, row);
                let ex = || format!("{}:{line}", t.file);
                let Some(id) = c.get("person_id", row).map(person_key) else {
                    chunk.report.reject("person", "no person_id", ex);
                    continue;
                };
                let birth = c
                    .get("birth_datetime", row)
                    .and_then(omop_date)
                    .or_else(|| {
                        let y: i32 = c.get("year_of_birth", row)?.parse().ok()?;
                        let m: u32 = c
                            .get("month_of_birth", row)
                            .and_then(|m| m.parse().ok())
                            .unwrap_or(1);
                        let d: u32 = c
                            .get("day_of_birth", row)
                            .and_then(|d| d.parse().ok())
                            .unwrap_or(1);
                        chrono::NaiveDate::from_ymd_opt(y, m, d).map(crate::data::day_from_date)
                    });
                let Some(birth) = birth else {
                    chunk
                        .report
                        .reject("person", "no year_of_birth / birth_datetime", ex);
                    continue;
                };
                let sex = match c.get("gender_concept_id", row) {
                    Some("8532") => "F".to_string(),
                    Some("8507") => "M".to_string(),
                    _ => match c.get("gender_source_value", row) {
                        Some(s) if s.eq_ignore_ascii_case("F") => "F".to_string(),
                        Some(s) if s.eq_ignore_ascii_case("M") => "M".to_string(),
                        Some(s) => s.to_string(),
                        None => "unknown".to_string(),
                    },
                };
                let clinic = c.get("care_site_id", row).map(|cs| {
                    care_sites
                        .get(cs)
                        .cloned()
                        .unwrap_or_else(|| cs.to_string())
                });
                let pid = chunk.refs.id(&id);
                chunk.patients.push(PatientRow {
                    id: pid,
                    birth,
                    sex,
                    clinic,
                    death: deaths.get(id.as_ref()).copied(),
                    municipality: None,
                    language: None,
                    loc: Loc { file: fi, line },
                });
            }
        }
    }
    // Event tables: (table, kind, concept, source concept, source value, date, value column).
    let specs: [(&str, Kind, &str, &str); 6] = [
        ("visit_occurrence", Kind::Visit, "visit", "visit_start_date"),
        (
            "condition_occurrence",
            Kind::Diagnosis,
            "condition",
            "condition_start_date",
        ),
        (
            "measurement",
            Kind::Measurement,
            "measurement",
            "measurement_date",
        ),
        (
            "observation",
            Kind::Measurement,
            "observation",
            "observation_date",
        ),
        (
            "drug_exposure",
            Kind::Medication,
            "drug",
            "drug_exposure_start_date",
        ),
        (
            "procedure_occurrence",
            Kind::Procedure,
            "procedure",
            "procedure_date",
        ),
    ];
    for (table, kind, prefix, date_col) in specs {
        let Some(t) = tables.get(table) else { continue };
        let fi = file_index(table);
        let rtype = TABLES.iter().position(|x| *x == table).unwrap_or(0) as u8;
        let concept_col = format!("{prefix}_concept_id");
        let source_concept_col = format!("{prefix}_source_concept_id");
        let source_value_col = format!("{prefix}_source_value");
        let default_system = source_systems
            .0
            .get(table)
            .map(String::as_str)
            .unwrap_or("LOCAL");
        for b in &t.batches {
            let c = Cols::new(b);
            for row in 0..b.num_rows() {
                chunk.report.read(table);
                let line = line_of(t, row);
                let ex = || format!("{}:{line}", t.file);
                let Some(person) = c.get("person_id", row).map(person_key) else {
                    chunk.report.reject(table, "no person_id", ex);
                    continue;
                };
                let Some(day) = c
                    .get(date_col, row)
                    .or_else(|| c.get(&date_col.replace("_date", "_datetime"), row))
                    .and_then(omop_date)
                else {
                    chunk.report.reject(table, "no date or not a date", ex);
                    continue;
                };
                // Codings: the standard concept and the source concept, each once.
                let mut codings: Vec<(u32, u32)> = Vec::new();
                for col in [&concept_col, &source_concept_col] {
                    if let Some(id) = c.get(col, row)
                        && id != "0"
                        && let Some((vocab, code)) = concepts.get(id)
                    {
                        let system = mapping.vocabulary(vocab);
                        let pair = (chunk.strings.id(system), chunk.strings.id(code));
                        if !codings.contains(&pair) {
                            codings.push(pair);
                        }
                    }
                }
                if codings.is_empty()
                    && let Some(v) = c.get(&source_value_col, row)
                {
                    codings.push((chunk.strings.id(default_system), chunk.strings.id(v)));
                }
                if codings.is_empty() {
                    chunk.report.reject(
                        table,
                        "no concept in the concept table and no source value",
                        ex,
                    );
                    continue;
                }
                let mut kind = kind;
                if table == "drug_exposure"
                    && codings.iter().any(|&(s, code)| {
                        let sys = &chunk.strings.strings[s as usize];
                        let code = &chunk.strings.strings[code as usize];
                        sys == "CVX" || (sys == "ATC" && code.starts_with("J07"))
                    })
                {
                    kind = Kind::Immunization;
                }
                let (value, unit) = match table {
                    "drug_exposure" => {
                        let v = c
                            .get("days_supply", row)
                            .and_then(|v| v.parse::<f64>().ok());
                        if v.is_some_and(|v| v < 0.0) {
                            chunk.report.reject(table, "negative days_supply", ex);
                            continue;
                        }
                        (v, NO_UNIT)
                    }
                    "measurement" | "observation" => {
                        let v = c
                            .get("value_as_number", row)
                            .and_then(|v| v.parse::<f64>().ok())
                            .filter(|v| v.is_finite());
                        let ucum = c
                            .get("unit_concept_id", row)
                            .filter(|id| *id != "0")
                            .and_then(|id| concepts.get(id))
                            .filter(|(vocab, _)| vocab == "UCUM")
                            .map(|(_, code)| code.as_str());
                        let unit = match mapping.unit(
                            ucum.map(|_| UCUM),
                            ucum,
                            c.get("unit_source_value", row),
                        ) {
                            Unit::None => NO_UNIT,
                            Unit::Text(u) => chunk.strings.id(u),
                        };
                        (v, unit)
                    }
                    _ => (None, NO_UNIT),
                };
                let patient = chunk.refs.id(&person);
                for (i, &(system, code)) in codings.iter().enumerate() {
                    chunk.events.push(EventRow {
                        patient,
                        date: day,
                        kind,
                        first: i == 0,
                        rtype,
                        system,
                        code,
                        unit,
                        value,
                        loc: Loc { file: fi, line },
                    });
                }
            }
        }
    }
    into.merge(chunk, example);
    Ok(files)
}
