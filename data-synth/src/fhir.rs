//! The synthetic population as FHIR R4: Bulk Data NDJSON (one file per
//! resource type) or Bundles, converted from the generated Parquet tables.
//!
//! The conversion is lossless for what caregap scores, so importing it back
//! (`caregap import fhir`) gives the same tables up to row order within a
//! patient's day and the patient id type (always text). On the way it uses
//! what real exports contain, so the round trip exercises the importer:
//! - systolic and diastolic blood pressure of the same day (LOINC) become one
//!   panel Observation (85354-9) with two components;
//! - canonical units are written as UCUM codes (`mm[Hg]`, `mmol/L`) with the
//!   library's spelling as display text; unit variants (`MMHG`, `µmol/l`)
//!   only as text, as an EHR would send free-text units;
//! - one medication in ten names its code in a contained Medication, one in
//!   ten references a Medication resource (`Medication.ndjson`); the rest
//!   use `medicationCodeableConcept`;
//! - observations carry a time with a zone (`T08:15:00+02:00`), other
//!   resources a date; encounters have a class and a type;
//! - an `Organization` per clinic (a resource type the importer counts as not
//!   imported).

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::{FileSummary, SynthError};

/// The URI written for each system name (compared case-insensitively).
pub const SYSTEM_URIS: [(&str, &str); 8] = [
    ("ICD10", "http://hl7.org/fhir/sid/icd-10"),
    ("ICPC2", "http://hl7.org/fhir/sid/icpc-2"),
    ("ATC", "http://www.whocc.no/atc"),
    ("LOINC", "http://loinc.org"),
    ("SNOMED", "http://snomed.info/sct"),
    ("NOMESCO", "urn:oid:1.2.246.537.6.2"),
    ("VISIT", "https://caregap.invalid/fhir/CodeSystem/visit"),
    ("LOCAL", "https://caregap.invalid/fhir/CodeSystem/local"),
];

/// Library unit → UCUM code (the library's spelling is the display text).
pub const UCUM_CODES: [(&str, &str); 15] = [
    ("mmHg", "mm[Hg]"),
    ("mmol/l", "mmol/L"),
    ("umol/l", "umol/L"),
    ("pmol/l", "pmol/L"),
    ("mmol/mol", "mmol/mol"),
    ("mg/mmol", "mg/mmol"),
    ("ml/min/1.73m2", "mL/min/{1.73_m2}"),
    ("U/l", "U/L"),
    ("mU/l", "mU/L"),
    ("ug/l", "ug/L"),
    ("ug/g", "ug/g"),
    ("g/l", "g/L"),
    ("kg", "kg"),
    ("cm", "cm"),
    ("kg/m2", "kg/m2"),
];

const UCUM: &str = "http://unitsofmeasure.org";

fn uri(system: &str) -> Result<&'static str, SynthError> {
    SYSTEM_URIS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(system))
        .map(|(_, u)| *u)
        .ok_or_else(|| SynthError::Config(format!("no FHIR URI for code system {system:?}")))
}

pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Appends `s` as a JSON string.
fn js(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn num(out: &mut String, x: f64) {
    // Rust's shortest round-trip form is valid JSON for finite values.
    if x == 0.0 && x.is_sign_negative() {
        out.push_str("-0.0");
    } else if x.fract() == 0.0 && x.abs() < 1e15 {
        out.push_str(&format!("{}", x as i64));
    } else {
        out.push_str(&format!("{x:?}"));
    }
}

pub(crate) fn date(day: i32) -> String {
    let d = chrono::NaiveDate::from_num_days_from_ce_opt(day + 719_163)
        .unwrap_or(chrono::NaiveDate::MIN);
    d.format("%Y-%m-%d").to_string()
}

/// One output file per resource type.
struct Files {
    dir: PathBuf,
    open: Vec<(&'static str, PathBuf, BufWriter<fs::File>, u64)>,
}

impl Files {
    fn line(&mut self, ty: &'static str, json: &str) -> Result<(), SynthError> {
        let i = match self.open.iter().position(|(t, ..)| *t == ty) {
            Some(i) => i,
            None => {
                let path = self.dir.join(format!(".{ty}.ndjson.tmp"));
                let f = fs::File::create(&path).map_err(io(&path))?;
                self.open
                    .push((ty, path, BufWriter::with_capacity(1 << 20, f), 0));
                self.open.len() - 1
            }
        };
        let (_, path, w, n) = &mut self.open[i];
        w.write_all(json.as_bytes()).map_err(io(path))?;
        w.write_all(b"\n").map_err(io(path))?;
        *n += 1;
        Ok(())
    }

    fn finish(self) -> Result<Vec<FileSummary>, SynthError> {
        let mut out = Vec::new();
        for (ty, tmp, w, rows) in self.open {
            let f = w.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
            f.sync_all().map_err(io(&tmp))?;
            let path = self.dir.join(format!("{ty}.ndjson"));
            fs::rename(&tmp, &path).map_err(io(&path))?;
            let bytes = fs::metadata(&path).map_err(io(&path))?.len();
            out.push(FileSummary { path, rows, bytes });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

pub(crate) fn batches(dir: &Path, table: &str) -> Result<Vec<RecordBatch>, SynthError> {
    let path = dir.join(format!("{table}.parquet"));
    let f = fs::File::open(&path).map_err(io(&path))?;
    let perr = |source| SynthError::Parquet {
        path: path.clone(),
        source,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(perr)?
        .with_batch_size(64 * 1024)
        .build()
        .map_err(perr)?;
    reader
        .map(|b| b.map_err(SynthError::Arrow))
        .collect::<Result<Vec<_>, _>>()
}

pub(crate) fn col<'b>(b: &'b RecordBatch, name: &str) -> Result<&'b dyn Array, SynthError> {
    b.column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| SynthError::Config(format!("column {name} missing")))
}

pub(crate) fn ids(a: &dyn Array) -> Vec<String> {
    match a.data_type() {
        DataType::Int64 => a
            .as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.map(|v| v.to_string()).unwrap_or_default())
            .collect(),
        _ => a
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect(),
    }
}

pub(crate) fn text(a: &dyn Array, i: usize) -> Option<&str> {
    let a = a.as_string::<i32>();
    a.is_valid(i).then(|| a.value(i))
}

pub(crate) fn day(a: &dyn Array, i: usize) -> Option<i32> {
    let a = a.as_primitive::<Date32Type>();
    a.is_valid(i).then(|| a.value(i))
}

/// Converts the Parquet tables in `parquet_dir` (as [`crate::generate`]
/// writes them, messy rows excluded) to FHIR NDJSON files in `out_dir`.
pub fn write_ndjson(parquet_dir: &Path, out_dir: &Path) -> Result<Vec<FileSummary>, SynthError> {
    fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let mut files = Files {
        dir: out_dir.to_path_buf(),
        open: Vec::new(),
    };
    let mut s = String::with_capacity(1024);
    let mut clinics = BTreeSet::new();
    for b in batches(parquet_dir, "patients")? {
        let id = ids(col(&b, "patient_id")?);
        let (birth, sex, clinic) = (
            col(&b, "birth_date")?,
            col(&b, "sex")?,
            col(&b, "clinic_id")?,
        );
        let (death, muni, lang) = (
            col(&b, "death_date")?,
            col(&b, "municipality")?,
            col(&b, "language")?,
        );
        for (i, id) in id.iter().enumerate() {
            s.clear();
            s.push_str("{\"resourceType\":\"Patient\",\"id\":");
            js(&mut s, id);
            let gender = match text(sex, i) {
                Some("F") => "female",
                Some("M") => "male",
                _ => "unknown",
            };
            s.push_str(",\"gender\":\"");
            s.push_str(gender);
            s.push_str("\",\"birthDate\":\"");
            s.push_str(&date(day(birth, i).unwrap_or(0)));
            s.push('"');
            if let Some(d) = day(death, i) {
                s.push_str(",\"deceasedDateTime\":\"");
                s.push_str(&date(d));
                s.push('"');
            }
            if let Some(c) = text(clinic, i) {
                clinics.insert(c.to_string());
                s.push_str(",\"generalPractitioner\":[{\"reference\":");
                js(&mut s, &format!("Organization/{c}"));
                s.push_str("}]");
            }
            if let Some(m) = text(muni, i) {
                s.push_str(",\"address\":[{\"city\":");
                js(&mut s, m);
                s.push_str("}]");
            }
            if let Some(l) = text(lang, i) {
                s.push_str(
                    ",\"communication\":[{\"language\":{\"coding\":[{\"system\":\"urn:ietf:bcp:47\",\"code\":",
                );
                js(&mut s, l);
                s.push_str("}]},\"preferred\":true}]");
            }
            s.push('}');
            files.line("Patient", &s)?;
        }
    }
    for c in &clinics {
        s.clear();
        s.push_str("{\"resourceType\":\"Organization\",\"id\":");
        js(&mut s, c);
        s.push_str(",\"name\":");
        js(&mut s, &format!("Health station {c}"));
        s.push('}');
        files.line("Organization", &s)?;
    }
    let mut n = 0u64;
    let mut medications = BTreeSet::new();
    for b in batches(parquet_dir, "events")? {
        let pid = ids(col(&b, "patient_id")?);
        let (dates, kind, system, code) = (
            col(&b, "date")?,
            col(&b, "kind")?,
            col(&b, "system")?,
            col(&b, "code")?,
        );
        let value = col(&b, "value")?.as_primitive::<Float64Type>();
        let unit = col(&b, "unit")?;
        let rows = b.num_rows();
        let mut i = 0;
        while i < rows {
            let (Some(k), Some(sys), Some(c), Some(d)) =
                (text(kind, i), text(system, i), text(code, i), day(dates, i))
            else {
                i += 1;
                continue;
            };
            n += 1;
            let id = format!("{:x}", n);
            let patient = &pid[i];
            let v = value.is_valid(i).then(|| value.value(i));
            let u = text(unit, i);
            s.clear();
            match k {
                "diagnosis" => {
                    head(&mut s, "Condition", &id, patient, "subject");
                    s.push_str(",\"verificationStatus\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/condition-ver-status\",\"code\":\"confirmed\"}]}");
                    concept(&mut s, "code", sys, c)?;
                    s.push_str(",\"onsetDateTime\":\"");
                    s.push_str(&date(d));
                    s.push_str("\"}");
                    files.line("Condition", &s)?;
                }
                "measurement" => {
                    head(&mut s, "Observation", &id, patient, "subject");
                    s.push_str(",\"status\":\"final\"");
                    s.push_str(",\"effectiveDateTime\":\"");
                    s.push_str(&date(d));
                    s.push_str("T08:15:00+02:00\"");
                    // Systolic followed by diastolic on the same day: one panel.
                    let next_is_dbp = i + 1 < rows
                        && sys.eq_ignore_ascii_case("LOINC")
                        && c == "8480-6"
                        && pid[i + 1] == *patient
                        && day(dates, i + 1) == Some(d)
                        && text(kind, i + 1) == Some("measurement")
                        && text(system, i + 1).is_some_and(|x| x.eq_ignore_ascii_case("LOINC"))
                        && text(code, i + 1) == Some("8462-4");
                    if next_is_dbp {
                        concept(&mut s, "code", "LOINC", "85354-9")?;
                        s.push_str(",\"component\":[{");
                        concept_first(&mut s, "code", sys, c)?;
                        quantity(&mut s, v, u);
                        s.push_str("},{");
                        let v2 = value.is_valid(i + 1).then(|| value.value(i + 1));
                        concept_first(&mut s, "code", "LOINC", "8462-4")?;
                        quantity(&mut s, v2, text(unit, i + 1));
                        s.push_str("}]}");
                        i += 1;
                    } else {
                        concept(&mut s, "code", sys, c)?;
                        quantity(&mut s, v, u);
                        s.push('}');
                    }
                    files.line("Observation", &s)?;
                }
                "medication" => {
                    head(&mut s, "MedicationDispense", &id, patient, "subject");
                    s.push_str(",\"status\":\"completed\"");
                    match n % 10 {
                        0 => {
                            s.push_str(
                                ",\"contained\":[{\"resourceType\":\"Medication\",\"id\":\"med\"",
                            );
                            concept(&mut s, "code", sys, c)?;
                            s.push_str("}],\"medicationReference\":{\"reference\":\"#med\"}");
                        }
                        1 => {
                            let mid = format!("{}-{}", sys.to_ascii_lowercase(), c);
                            s.push_str(",\"medicationReference\":{\"reference\":");
                            js(&mut s, &format!("Medication/{mid}"));
                            s.push('}');
                            medications.insert((mid, sys.to_string(), c.to_string()));
                        }
                        _ => concept(&mut s, "medicationCodeableConcept", sys, c)?,
                    }
                    s.push_str(",\"whenHandedOver\":\"");
                    s.push_str(&date(d));
                    s.push('"');
                    if let Some(v) = v {
                        s.push_str(",\"daysSupply\":{\"value\":");
                        num(&mut s, v);
                        s.push_str(",\"unit\":\"days\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"d\"}");
                    }
                    s.push('}');
                    files.line("MedicationDispense", &s)?;
                }
                "visit" => {
                    head(&mut s, "Encounter", &id, patient, "subject");
                    let class = match c {
                        "ER" => "EMER",
                        "PC_PHONE" => "VR",
                        _ => "AMB",
                    };
                    s.push_str(",\"status\":\"finished\",\"class\":{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"");
                    s.push_str(class);
                    s.push_str("\"},\"type\":[{");
                    concept_first(&mut s, "coding_only", sys, c)?;
                    s.push_str("}],\"period\":{\"start\":\"");
                    s.push_str(&date(d));
                    s.push_str("\"}}");
                    files.line("Encounter", &s)?;
                }
                "procedure" => {
                    head(&mut s, "Procedure", &id, patient, "subject");
                    s.push_str(",\"status\":\"completed\"");
                    concept(&mut s, "code", sys, c)?;
                    s.push_str(",\"performedDateTime\":\"");
                    s.push_str(&date(d));
                    s.push_str("\"}");
                    files.line("Procedure", &s)?;
                }
                "immunization" => {
                    head(&mut s, "Immunization", &id, patient, "patient");
                    s.push_str(",\"status\":\"completed\"");
                    concept(&mut s, "vaccineCode", sys, c)?;
                    s.push_str(",\"occurrenceDateTime\":\"");
                    s.push_str(&date(d));
                    s.push_str("\"}");
                    files.line("Immunization", &s)?;
                }
                _ => {}
            }
            i += 1;
        }
    }
    for (mid, sys, c) in &medications {
        s.clear();
        s.push_str("{\"resourceType\":\"Medication\",\"id\":");
        js(&mut s, mid);
        concept(&mut s, "code", sys, c)?;
        s.push('}');
        files.line("Medication", &s)?;
    }
    for b in batches(parquet_dir, "consents")? {
        let pid = ids(col(&b, "patient_id")?);
        let (scope, dates) = (col(&b, "scope")?, col(&b, "date")?);
        let granted = col(&b, "granted")?.as_boolean();
        for (i, patient) in pid.iter().enumerate() {
            let (Some(sc), Some(d), true) = (text(scope, i), day(dates, i), granted.is_valid(i))
            else {
                continue;
            };
            n += 1;
            s.clear();
            head(&mut s, "Consent", &format!("{n:x}"), patient, "patient");
            s.push_str(",\"status\":\"active\",\"scope\":{\"coding\":[{\"system\":");
            if sc == "research" {
                s.push_str("\"http://terminology.hl7.org/CodeSystem/consentscope\"");
            } else {
                s.push_str("\"https://caregap.invalid/fhir/CodeSystem/consent-scope\"");
            }
            s.push_str(",\"code\":");
            js(&mut s, sc);
            s.push_str("}]},\"category\":[{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"59284-0\"}]}]");
            s.push_str(",\"dateTime\":\"");
            s.push_str(&date(d));
            s.push_str("\",\"provision\":{\"type\":\"");
            s.push_str(if granted.value(i) { "permit" } else { "deny" });
            s.push_str("\"}}");
            files.line("Consent", &s)?;
        }
    }
    files.finish()
}

fn head(s: &mut String, ty: &str, id: &str, patient: &str, field: &str) {
    s.push_str("{\"resourceType\":\"");
    s.push_str(ty);
    s.push_str("\",\"id\":");
    js(s, id);
    s.push_str(",\"");
    s.push_str(field);
    s.push_str("\":{\"reference\":");
    js(s, &format!("Patient/{patient}"));
    s.push('}');
}

/// `,"field":{"coding":[{...}]}`
fn concept(s: &mut String, field: &str, system: &str, code: &str) -> Result<(), SynthError> {
    s.push(',');
    concept_first(s, field, system, code)
}

/// `"field":{"coding":[{...}]}` (`coding_only`: just `"coding":[...]`).
fn concept_first(s: &mut String, field: &str, system: &str, code: &str) -> Result<(), SynthError> {
    if field != "coding_only" {
        s.push('"');
        s.push_str(field);
        s.push_str("\":{");
    }
    s.push_str("\"coding\":[{\"system\":\"");
    s.push_str(uri(system)?);
    s.push_str("\",\"code\":");
    js(s, code);
    s.push_str("}]");
    if field != "coding_only" {
        s.push('}');
    }
    Ok(())
}

/// `,"valueQuantity":{...}` unless there is neither value nor unit.
fn quantity(s: &mut String, value: Option<f64>, unit: Option<&str>) {
    if value.is_none() && unit.is_none() {
        return;
    }
    s.push_str(",\"valueQuantity\":{");
    let mut sep = "";
    if let Some(v) = value {
        s.push_str("\"value\":");
        num(s, v);
        sep = ",";
    }
    if let Some(u) = unit {
        s.push_str(sep);
        s.push_str("\"unit\":");
        js(s, u);
        if let Some((_, code)) = UCUM_CODES.iter().find(|(lib, _)| *lib == u) {
            s.push_str(",\"system\":\"");
            s.push_str(UCUM);
            s.push_str("\",\"code\":");
            js(s, code);
        }
    }
    s.push('}');
}

/// Resources per Bundle written by [`write_bundles`].
pub const BUNDLE_ENTRIES: usize = 1000;

/// The same resources as [`write_ndjson`], as `collection` Bundles of
/// [`BUNDLE_ENTRIES`] entries (`bundle-<Type>-<n>.json`, one entry per line).
pub fn write_bundles(parquet_dir: &Path, out_dir: &Path) -> Result<Vec<FileSummary>, SynthError> {
    let staging = out_dir.join(format!(".ndjson-{}", std::process::id()));
    let result = (|| {
        let ndjson = write_ndjson(parquet_dir, &staging)?;
        let mut out = Vec::new();
        for f in ndjson {
            let text = fs::read_to_string(&f.path).map_err(io(&f.path))?;
            let ty = f
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            for (n, part) in lines.chunks(BUNDLE_ENTRIES).enumerate() {
                let mut s = String::with_capacity(part.iter().map(|l| l.len() + 16).sum());
                s.push_str("{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[\n");
                for (i, l) in part.iter().enumerate() {
                    s.push_str("{\"resource\":");
                    s.push_str(l);
                    s.push('}');
                    if i + 1 < part.len() {
                        s.push(',');
                    }
                    s.push('\n');
                }
                s.push_str("]}\n");
                let path = out_dir.join(format!("bundle-{ty}-{:04}.json", n + 1));
                let tmp = out_dir.join(format!(".bundle-{ty}-{:04}.json.tmp", n + 1));
                fs::write(&tmp, &s).map_err(io(&tmp))?;
                fs::rename(&tmp, &path).map_err(io(&path))?;
                out.push(FileSummary {
                    path,
                    rows: part.len() as u64,
                    bytes: s.len() as u64,
                });
            }
        }
        Ok(out)
    })();
    let _ = fs::remove_dir_all(&staging);
    result
}
