//! The synthetic population as OMOP CDM v5.4 tables (CSV), converted from the
//! generated Parquet tables, with a `concept` table holding every code used.
//!
//! Each distinct (system, code) becomes a local concept (ids from
//! 2,000,000,001, the OMOP range for site concepts) whose `vocabulary_id` is
//! the system name, so `caregap import omop` gives back the same events.
//! `person` and `care_site` are comma-separated, the other tables
//! tab-separated (both are OHDSI export formats). Vaccinations go to
//! `drug_exposure` as OMOP keeps them. The CDM has no consent table: consents
//! are not written.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;

use crate::fhir::{batches, col, date, day, ids, io, text};
use crate::{FileSummary, SynthError};

struct Table {
    name: &'static str,
    sep: char,
    w: BufWriter<fs::File>,
    rows: u64,
}

impl Table {
    fn create(
        dir: &Path,
        name: &'static str,
        sep: char,
        header: &[&str],
    ) -> Result<Table, SynthError> {
        let path = dir.join(format!(".{name}.csv.tmp"));
        let f = fs::File::create(&path).map_err(io(&path))?;
        let mut t = Table {
            name,
            sep,
            w: BufWriter::with_capacity(1 << 20, f),
            rows: 0,
        };
        t.row(header.iter().map(|s| s.to_string()))?;
        t.rows = 0;
        Ok(t)
    }

    fn row(&mut self, cells: impl IntoIterator<Item = String>) -> Result<(), SynthError> {
        let mut line = String::new();
        for (i, c) in cells.into_iter().enumerate() {
            if i > 0 {
                line.push(self.sep);
            }
            if c.contains([self.sep, '"', '\n']) {
                line.push('"');
                line.push_str(&c.replace('"', "\"\""));
                line.push('"');
            } else {
                line.push_str(&c);
            }
        }
        line.push('\n');
        self.rows += 1;
        let name = self.name;
        self.w
            .write_all(line.as_bytes())
            .map_err(|e| io(Path::new(name))(e))
    }

    fn finish(self, dir: &Path) -> Result<FileSummary, SynthError> {
        let tmp = dir.join(format!(".{}.csv.tmp", self.name));
        let f = self.w.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
        f.sync_all().map_err(io(&tmp))?;
        let path = dir.join(format!("{}.csv", self.name));
        fs::rename(&tmp, &path).map_err(io(&path))?;
        let bytes = fs::metadata(&path).map_err(io(&path))?.len();
        Ok(FileSummary {
            path,
            rows: self.rows,
            bytes,
        })
    }
}

fn num(x: f64) -> String {
    format!("{x}")
}

/// Converts the Parquet tables in `parquet_dir` to OMOP CDM CSV tables in `out_dir`.
pub fn write_csv(parquet_dir: &Path, out_dir: &Path) -> Result<Vec<FileSummary>, SynthError> {
    fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let mut care_sites: BTreeMap<String, u64> = BTreeMap::new();
    let mut person = Table::create(
        out_dir,
        "person",
        ',',
        &[
            "person_id",
            "gender_concept_id",
            "year_of_birth",
            "month_of_birth",
            "day_of_birth",
            "birth_datetime",
            "care_site_id",
            "person_source_value",
            "gender_source_value",
        ],
    )?;
    let mut death = Table::create(out_dir, "death", '\t', &["person_id", "death_date"])?;
    for b in batches(parquet_dir, "patients")? {
        let pid = ids(col(&b, "patient_id")?);
        let (birth, sex, clinic, dd) = (
            col(&b, "birth_date")?,
            col(&b, "sex")?,
            col(&b, "clinic_id")?,
            col(&b, "death_date")?,
        );
        for (i, id) in pid.iter().enumerate() {
            let bd = date(day(birth, i).unwrap_or(0));
            let n = care_sites.len() as u64 + 1;
            let cs = *care_sites
                .entry(text(clinic, i).unwrap_or("").to_string())
                .or_insert(n);
            let s = text(sex, i).unwrap_or("");
            let gender = match s {
                "F" => "8532",
                "M" => "8507",
                _ => "0",
            };
            person.row([
                id.clone(),
                gender.to_string(),
                bd[..4].to_string(),
                bd[5..7].trim_start_matches('0').to_string(),
                bd[8..10].trim_start_matches('0').to_string(),
                format!("{bd} 00:00:00"),
                cs.to_string(),
                id.clone(),
                s.to_string(),
            ])?;
            if let Some(d) = day(dd, i) {
                death.row([id.clone(), date(d)])?;
            }
        }
    }
    let mut concepts: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut concept_id = |system: &str, code: &str| -> u64 {
        let n = 2_000_000_001 + concepts.len() as u64;
        *concepts
            .entry((system.to_string(), code.to_string()))
            .or_insert(n)
    };
    let mut visit = Table::create(
        out_dir,
        "visit_occurrence",
        '\t',
        &[
            "visit_occurrence_id",
            "person_id",
            "visit_concept_id",
            "visit_start_date",
            "visit_end_date",
            "visit_type_concept_id",
            "visit_source_value",
        ],
    )?;
    let mut cond = Table::create(
        out_dir,
        "condition_occurrence",
        '\t',
        &[
            "condition_occurrence_id",
            "person_id",
            "condition_concept_id",
            "condition_start_date",
            "condition_type_concept_id",
            "condition_source_value",
            "condition_source_concept_id",
        ],
    )?;
    let mut meas = Table::create(
        out_dir,
        "measurement",
        '\t',
        &[
            "measurement_id",
            "person_id",
            "measurement_concept_id",
            "measurement_date",
            "measurement_type_concept_id",
            "value_as_number",
            "unit_concept_id",
            "measurement_source_value",
            "unit_source_value",
        ],
    )?;
    let mut drug = Table::create(
        out_dir,
        "drug_exposure",
        '\t',
        &[
            "drug_exposure_id",
            "person_id",
            "drug_concept_id",
            "drug_exposure_start_date",
            "drug_exposure_end_date",
            "drug_type_concept_id",
            "days_supply",
            "drug_source_value",
            "drug_source_concept_id",
        ],
    )?;
    let mut proc = Table::create(
        out_dir,
        "procedure_occurrence",
        '\t',
        &[
            "procedure_occurrence_id",
            "person_id",
            "procedure_concept_id",
            "procedure_date",
            "procedure_type_concept_id",
            "procedure_source_value",
            "procedure_source_concept_id",
        ],
    )?;
    let mut n = 0u64;
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
        for (i, p) in pid.iter().enumerate() {
            let (Some(k), Some(sys), Some(c), Some(d)) =
                (text(kind, i), text(system, i), text(code, i), day(dates, i))
            else {
                continue;
            };
            n += 1;
            let cid = concept_id(sys, c).to_string();
            let d = date(d);
            let v = if value.is_valid(i) {
                num(value.value(i))
            } else {
                String::new()
            };
            let id = n.to_string();
            match k {
                "visit" => {
                    visit.row([id, p.clone(), cid, d.clone(), d, "32817".into(), c.into()])?
                }
                "diagnosis" => {
                    cond.row([id, p.clone(), cid, d, "32817".into(), c.into(), "0".into()])?
                }
                "measurement" => meas.row([
                    id,
                    p.clone(),
                    cid,
                    d,
                    "32817".into(),
                    v,
                    "0".into(),
                    c.into(),
                    text(unit, i).unwrap_or("").into(),
                ])?,
                "medication" | "immunization" => drug.row([
                    id,
                    p.clone(),
                    cid,
                    d.clone(),
                    d,
                    "32817".into(),
                    v,
                    c.into(),
                    "0".into(),
                ])?,
                "procedure" => {
                    proc.row([id, p.clone(), cid, d, "32817".into(), c.into(), "0".into()])?
                }
                _ => {}
            }
        }
    }
    let mut concept = Table::create(
        out_dir,
        "concept",
        '\t',
        &[
            "concept_id",
            "concept_name",
            "domain_id",
            "vocabulary_id",
            "concept_class_id",
            "standard_concept",
            "concept_code",
            "valid_start_date",
            "valid_end_date",
            "invalid_reason",
        ],
    )?;
    let mut by_id: Vec<(&u64, &(String, String))> = concepts.iter().map(|(k, v)| (v, k)).collect();
    by_id.sort();
    for (id, (system, code)) in by_id {
        concept.row([
            id.to_string(),
            format!("{system} {code}"),
            "Observation".into(),
            system.clone(),
            "Local".into(),
            String::new(),
            code.clone(),
            "1970-01-01".into(),
            "2099-12-31".into(),
            String::new(),
        ])?;
    }
    let mut cs = Table::create(
        out_dir,
        "care_site",
        ',',
        &["care_site_id", "care_site_name", "care_site_source_value"],
    )?;
    for (name, id) in &care_sites {
        cs.row([
            id.to_string(),
            format!("Health station {name}"),
            name.clone(),
        ])?;
    }
    let mut out = Vec::new();
    for t in [person, death, visit, cond, meas, drug, proc, concept, cs] {
        out.push(t.finish(out_dir)?);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
