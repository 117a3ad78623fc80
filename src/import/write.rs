//! Writes an import's tables into the data folder, atomically.
//!
//! The tables are written into a staging folder beside `--out`, then each
//! file is renamed into place (`patients.parquet` last, so a reader that
//! waits for it sees the new events and consents with it). Other files in the
//! data folder (the outreach log schedulers write back) are left alone.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};

use super::ImportError;
use super::report::ImportReport;
use super::rows::{NO_UNIT, Tables};
use crate::output::{ColumnStyle, OutputError, StagingDir, write_parquet_rows};

/// The files an import writes, in the order they are renamed into place.
pub const FILES: [&str; 4] = [
    "events.parquet",
    "consents.parquet",
    "import_report.json",
    "patients.parquet",
];

fn arrow_err(table: &'static str) -> impl Fn(arrow::error::ArrowError) -> OutputError {
    move |source| OutputError::Arrow { table, source }
}

/// Writes `tables` and `report` into `out` (created if missing).
pub fn write_tables(out: &Path, tables: &Tables, report: &ImportReport) -> Result<(), ImportError> {
    let io = |path: &Path, what: &'static str| {
        let path = path.to_path_buf();
        move |source| ImportError::Output(OutputError::Io { what, path, source })
    };
    for t in ["patients", "events", "consents"] {
        let folder = out.join(t);
        if folder.is_dir() {
            return Err(ImportError::Input(format!(
                "{} is a folder of parts; the import writes {t}.parquet and the loader would read both. \
                 Move the folder away or import into another folder",
                folder.display()
            )));
        }
    }
    fs::create_dir_all(out).map_err(io(out, "create"))?;
    // The staging folder is a sibling inside `out` itself so the renames stay on one file system.
    let staging = StagingDir::new(&out.join(".import"))?;
    write_patients(&staging.path("patients.parquet"), tables)?;
    write_events(&staging.path("events.parquet"), tables)?;
    write_consents(&staging.path("consents.parquet"), tables)?;
    let json = serde_json::to_vec_pretty(report).map_err(|e| ImportError::Input(e.to_string()))?;
    let report_path = staging.path("import_report.json");
    fs::write(&report_path, json).map_err(io(&report_path, "write"))?;
    for name in FILES {
        let from: PathBuf = staging.path(name);
        let to = out.join(name);
        let f = fs::File::open(&from).map_err(io(&from, "open"))?;
        f.sync_all().map_err(io(&from, "sync"))?;
        fs::rename(&from, &to).map_err(io(&to, "rename into place"))?;
    }
    // The staging folder is empty now; dropping it removes it.
    drop(staging);
    Ok(())
}

fn utf8(values: impl Iterator<Item = Option<String>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

/// The `patient_id` column type: Int64 for integer ids, else Utf8.
fn id_type(t: &Tables) -> DataType {
    if t.int_ids.is_some() {
        DataType::Int64
    } else {
        DataType::Utf8
    }
}

/// The `patient_id` column of rows whose patient ranks are `ranks`.
fn id_column(t: &Tables, ranks: impl Iterator<Item = u32>) -> ArrayRef {
    match &t.int_ids {
        Some(n) => Arc::new(Int64Array::from_iter_values(ranks.map(|r| n[r as usize]))),
        None => Arc::new(StringArray::from_iter_values(
            ranks.map(|r| t.ids[r as usize].as_str()),
        )),
    }
}

fn write_patients(path: &Path, t: &Tables) -> Result<(), ImportError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("patient_id", id_type(t), false),
        Field::new("birth_date", DataType::Date32, false),
        Field::new("sex", DataType::Utf8, false),
        Field::new("clinic_id", DataType::Utf8, false),
        Field::new("death_date", DataType::Date32, true),
        Field::new("municipality", DataType::Utf8, true),
        Field::new("language", DataType::Utf8, true),
    ]));
    let s = Arc::clone(&schema);
    write_parquet_rows(path, schema, &[], t.patients.len(), |r| {
        let p = &t.patients[r.clone()];
        let cols: Vec<ArrayRef> = vec![
            id_column(t, r.start as u32..r.end as u32),
            Arc::new(Date32Array::from_iter_values(p.iter().map(|p| p.birth))),
            utf8(p.iter().map(|p| Some(p.sex.clone()))),
            utf8(
                p.iter()
                    .map(|p| Some(p.clinic.clone().unwrap_or_else(|| "UNASSIGNED".to_string()))),
            ),
            Arc::new(p.iter().map(|p| p.death).collect::<Date32Array>()),
            utf8(p.iter().map(|p| p.municipality.clone())),
            utf8(p.iter().map(|p| p.language.clone())),
        ];
        RecordBatch::try_new(Arc::clone(&s), cols).map_err(arrow_err("patients"))
    })?;
    Ok(())
}

fn write_events(path: &Path, t: &Tables) -> Result<(), ImportError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("patient_id", id_type(t), false),
        Field::new("date", DataType::Date32, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("system", DataType::Utf8, false),
        Field::new("code", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
        Field::new("unit", DataType::Utf8, true),
    ]));
    let s = Arc::clone(&schema);
    let styles = [
        ("kind", ColumnStyle::Repeated),
        ("system", ColumnStyle::Repeated),
    ];
    write_parquet_rows(path, schema, &styles, t.events.len(), |r| {
        let e = &t.events[r];
        let str_of = |id: u32| t.strings[id as usize].as_str();
        let cols: Vec<ArrayRef> = vec![
            id_column(t, e.iter().map(|e| e.patient)),
            Arc::new(Date32Array::from_iter_values(e.iter().map(|e| e.date))),
            Arc::new(StringArray::from_iter_values(
                e.iter().map(|e| e.kind.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                e.iter().map(|e| str_of(e.system)),
            )),
            Arc::new(StringArray::from_iter_values(
                e.iter().map(|e| str_of(e.code)),
            )),
            Arc::new(e.iter().map(|e| e.value).collect::<Float64Array>()),
            Arc::new(
                e.iter()
                    .map(|e| (e.unit != NO_UNIT).then(|| str_of(e.unit)))
                    .collect::<StringArray>(),
            ),
        ];
        RecordBatch::try_new(Arc::clone(&s), cols).map_err(arrow_err("events"))
    })?;
    Ok(())
}

fn write_consents(path: &Path, t: &Tables) -> Result<(), ImportError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("patient_id", id_type(t), false),
        Field::new("scope", DataType::Utf8, false),
        Field::new("granted", DataType::Boolean, false),
        Field::new("date", DataType::Date32, false),
    ]));
    let s = Arc::clone(&schema);
    write_parquet_rows(path, schema, &[], t.consents.len(), |r| {
        let c = &t.consents[r];
        let cols: Vec<ArrayRef> = vec![
            id_column(t, c.iter().map(|c| c.patient)),
            Arc::new(StringArray::from_iter_values(c.iter().map(|c| c.scope))),
            Arc::new(c.iter().map(|c| Some(c.granted)).collect::<BooleanArray>()),
            Arc::new(Date32Array::from_iter_values(c.iter().map(|c| c.date))),
        ];
        RecordBatch::try_new(Arc::clone(&s), cols).map_err(arrow_err("consents"))
    })?;
    Ok(())
}

/// Writes the re-identification file (pseudonym, original identifier) as CSV,
/// atomically. The caller has checked that `path` is outside the data folder.
pub fn write_reidentification(path: &Path, pairs: &[(String, String)]) -> Result<(), ImportError> {
    let mut text = String::with_capacity(pairs.len() * 48 + 32);
    text.push_str("patient_id,original_id\n");
    for (p, o) in pairs {
        text.push_str(p);
        text.push(',');
        if o.contains([',', '"', '\n', '\r']) {
            text.push('"');
            text.push_str(&o.replace('"', "\"\""));
            text.push('"');
        } else {
            text.push_str(o);
        }
        text.push('\n');
    }
    crate::output::write_file_atomic(path, text.as_bytes())?;
    Ok(())
}
