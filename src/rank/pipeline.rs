//! The ranking of one scoring run, as library functions the CLI
//! (`caregap rank`, `caregap rank evaluate`, `caregap demo`) and the
//! scheduler service call alike. Pure: the caller reads the files (the run's
//! `features.parquet` and `firings.parquet`, the data folder through
//! `data::load`, an optional predictions file, the library's texts) and
//! writes what comes back.
//!
//! [`prepare`] turns those inputs into per-person risk, baselines and open
//! gaps ([`Prepared`]); [`Prepared::rank`] applies exclusions and an order;
//! [`Prepared::outputs`] renders `risk.parquet`, `calllist.parquet`,
//! `exclusions.parquet` and each clinic's slice cut at its capacity.
//! [`rank_run`] is the three in a row.

use super::benefit::{Baseline, BaselineInputs, baseline};
use super::calllist::{OpenGap, People, Ranked, rank};
use super::columns::{self, ColumnError, IdIndex};
use super::config::{Capacities, RankConfig};
use super::exclusions::{Contact, Rule, contacts_by_person};
use super::export::{CriterionText, ListContext, calllist_batch, ids_array};
use super::risk::{CvInputs, CvRisk, UtilTier, assess_cv, utilisation_tiers};
use super::score2::{RiskBand, RiskModel};
use crate::data::{ConsentScope, Consents, Day, DictColumn, Outreach, PatientIds, Patients};
use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Why a run could not be ranked (the message names the file and row).
#[derive(Debug, thiserror::Error)]
pub enum RankError {
    #[error(transparent)]
    Column(#[from] ColumnError),
    #[error("building a table: {0}")]
    Arrow(#[from] ArrowError),
}

type Result<T> = std::result::Result<T, RankError>;

fn bad(msg: String) -> RankError {
    RankError::Column(ColumnError(msg))
}

/// The `patients` columns ranking needs.
#[derive(Debug, Clone)]
pub struct PatientsTable {
    pub ids: PatientIds,
    pub clinic: Vec<u32>,
    pub clinics: Vec<String>,
    pub sex: Vec<Option<String>>,
    pub language: Vec<Option<String>>,
    pub alive: Vec<bool>,
    /// Died on or before `as_of`.
    pub dead: Vec<bool>,
}

impl PatientsTable {
    /// Takes the ranking view of the loaded patients (clinic is never null:
    /// the loader rejects such rows).
    pub fn from_patients(p: &Patients, as_of: Day) -> PatientsTable {
        let n = p.len();
        let text = |c: &DictColumn| (0..n).map(|i| c.get(i).map(str::to_string)).collect();
        PatientsTable {
            ids: p.ids.clone(),
            clinic: p.clinic.codes.iter().map(|c| c.unwrap_or(0)).collect(),
            clinics: p.clinic.values.clone(),
            sex: text(&p.sex),
            language: text(&p.language),
            alive: (0..n).map(|i| p.is_alive(i, as_of)).collect(),
            dead: p
                .death_date
                .iter()
                .map(|d| d.is_some_and(|d| d <= as_of))
                .collect(),
        }
    }
}

/// A Parquet table already read, with the file it came from (for messages).
#[derive(Debug, Clone, Copy)]
pub struct Table<'a> {
    pub file: &'a Path,
    pub batch: &'a RecordBatch,
}

/// Everything a ranking reads.
pub struct RankInputs<'a> {
    pub as_of: Day,
    pub patients: &'a Patients,
    pub consents: &'a Consents,
    pub outreach: &'a Outreach,
    /// The run's `features.parquet`.
    pub features: Table<'a>,
    /// The run's `firings.parquet`.
    pub firings: Table<'a>,
    /// A predictions file (`patient_id`, `predicted_visits`) when configured.
    pub predictions: Option<Table<'a>>,
}

/// Risk per person (patients order) plus the `risk.parquet` batch.
#[derive(Debug, Clone)]
pub struct RiskColumns {
    pub cv: Vec<Option<CvRisk>>,
    pub tier: Vec<Option<UtilTier>>,
    pub measure: Vec<Option<f64>>,
    pub measure_name: String,
    /// Risk without the actions (default for people without a feature row).
    pub baseline: Vec<Baseline>,
    pub batch: RecordBatch,
}

/// Open firings with their evidence.
#[derive(Debug, Clone)]
pub struct Firings {
    pub criteria: Vec<String>,
    pub gaps: Vec<OpenGap>,
    /// Each gap's evidence (null when the run has none).
    pub evidence: StringArray,
}

impl Default for Firings {
    fn default() -> Firings {
        Firings {
            criteria: Vec::new(),
            gaps: Vec::new(),
            evidence: StringArray::new_null(0),
        }
    }
}

/// What a ranking is made of, before exclusions and order.
pub struct Prepared {
    pub as_of: Day,
    pub patients: PatientsTable,
    pub outreach_allowed: Vec<bool>,
    pub contacts: Vec<Vec<Contact>>,
    pub risk: RiskColumns,
    pub firings: Firings,
}

/// Each clinic's rows in the whole list and how many of them its capacity takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClinicSlice {
    pub clinic: String,
    /// First row in `calllist` and number of rows of this clinic.
    pub start: usize,
    pub len: usize,
    /// Rows within capacity (`len` when the clinic has none).
    pub cut: usize,
}

/// What `caregap rank` writes.
pub struct RankOutputs {
    pub risk: RecordBatch,
    pub calllist: RecordBatch,
    pub exclusions: RecordBatch,
    pub clinics: Vec<ClinicSlice>,
    pub ranked: Ranked,
}

fn ids_type(ids: &PatientIds) -> DataType {
    match ids {
        PatientIds::Int(_) => DataType::Int64,
        PatientIds::Str(_) => DataType::Utf8,
    }
}

/// Utilisation measure per feature row, and its name.
fn utilisation_measure(
    f: Table,
    predictions: Option<Table>,
    feature_rows: &[Option<u32>],
    index: &IdIndex,
) -> Result<(String, Vec<Option<f64>>)> {
    let Some(p) = predictions else {
        return Ok((
            "visits_pc_12mo".into(),
            columns::floats(f.batch, "visits_pc_12mo", f.file)?,
        ));
    };
    let col = ["predicted_visits", "prediction", "predicted"]
        .into_iter()
        .find(|c| p.batch.column_by_name(c).is_some())
        .ok_or_else(|| {
            bad(format!(
                "{}: no column predicted_visits (or prediction)",
                p.file.display()
            ))
        })?;
    let who = index.lookup_all(&columns::patient_ids(p.batch, p.file)?, p.file)?;
    let values = columns::floats(p.batch, col, p.file)?;
    let mut by_person: HashMap<u32, f64> = HashMap::new();
    for (p, v) in who.iter().zip(values) {
        if let (Some(p), Some(v)) = (p, v) {
            by_person.insert(*p, v);
        }
    }
    Ok((
        format!("predicted_visits ({})", p.file.display()),
        feature_rows
            .iter()
            .map(|p| p.and_then(|p| by_person.get(&p).copied()))
            .collect(),
    ))
}

/// Per-person risk from the features (and predictions).
pub fn compute_risk(
    f: Table,
    predictions: Option<Table>,
    patients: &PatientsTable,
    index: &IdIndex,
) -> Result<RiskColumns> {
    let (b, file) = (f.batch, f.file);
    let rows = index.lookup_all(&columns::patient_ids(b, file)?, file)?;
    if let Some(r) = rows.iter().position(Option::is_none) {
        return Err(bad(format!(
            "{}: row {}: patient_id is not in patients",
            file.display(),
            r + 1
        )));
    }
    let num = |name| columns::floats(b, name, file);
    let flag = |name| columns::bools(b, name, file);
    let (age, sbp, tc, hdl) = (
        num("age")?,
        num("score2_sbp")?,
        num("score2_total_chol")?,
        num("score2_hdl")?,
    );
    let (smoker, cvd, diabetes) = (
        flag("score2_smoker")?,
        flag("has_cvd")?,
        flag("has_diabetes")?,
    );
    // Benefit inputs: optional features of the shipped library.
    let ldl = columns::opt_floats(b, "last_ldl", file)?;
    let af = columns::opt_bools(b, "has_af", file)?;
    let hf = columns::opt_bools(b, "has_heart_failure", file)?;
    let htn = columns::opt_bools(b, "has_hypertension", file)?;
    let (measure_name, measure_rows) = utilisation_measure(f, predictions, &rows, index)?;
    let tiers_rows = utilisation_tiers(&measure_rows);

    let n = patients.clinic.len();
    let mut cv = vec![None; n];
    let mut tier = vec![None; n];
    let mut measure = vec![None; n];
    let mut base = vec![Baseline::default(); n];
    let mut out_cv = Vec::with_capacity(b.num_rows());
    for (r, p) in rows.iter().enumerate() {
        let p = p.unwrap_or(0) as usize;
        let sex = patients.sex[p].as_deref();
        let inputs = CvInputs {
            age: age[r],
            sex,
            smoker: smoker[r],
            sbp: sbp[r],
            total_chol: tc[r],
            hdl: hdl[r],
            has_cvd: cvd[r],
            has_diabetes: diabetes[r],
        };
        let risk = assess_cv(&inputs);
        base[p] = baseline(
            &BaselineInputs {
                cv: inputs,
                ldl: ldl[r],
                has_af: af[r],
                has_heart_failure: hf[r],
                has_hypertension: htn[r],
            },
            Some(&risk),
        );
        out_cv.push(risk.clone());
        cv[p] = Some(risk);
        tier[p] = tiers_rows[r];
        measure[p] = measure_rows[r];
    }
    let persons = || rows.iter().map(|p| p.unwrap_or(0) as usize);
    let schema = Schema::new(vec![
        Field::new("patient_id", ids_type(&patients.ids), false),
        Field::new("clinic_id", DataType::Utf8, false),
        Field::new("age", DataType::Float64, true),
        Field::new("sex", DataType::Utf8, true),
        Field::new("cv_risk_pct", DataType::Float64, true),
        Field::new("cv_model", DataType::Utf8, false),
        Field::new("cv_band", DataType::Utf8, true),
        Field::new("cv_reason", DataType::Utf8, true),
        Field::new("utilisation_measure", DataType::Utf8, false),
        Field::new("utilisation", DataType::Float64, true),
        Field::new("utilisation_tier", DataType::Utf8, true),
        Field::new("benefit_cv10_pct", DataType::Float64, true),
        Field::new("af_stroke_pct_year", DataType::Float64, true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            ids_array(&patients.ids, persons()),
            Arc::new(
                persons()
                    .map(|p| Some(patients.clinics[patients.clinic[p] as usize].as_str()))
                    .collect::<StringArray>(),
            ),
            Arc::new(Float64Array::from(age.clone())),
            Arc::new(
                persons()
                    .map(|p| patients.sex[p].clone())
                    .collect::<StringArray>(),
            ),
            Arc::new(out_cv.iter().map(|c| c.risk_pct).collect::<Float64Array>()),
            Arc::new(
                out_cv
                    .iter()
                    .map(|c| Some(c.model.map_or("none", RiskModel::as_str)))
                    .collect::<StringArray>(),
            ),
            Arc::new(
                out_cv
                    .iter()
                    .map(|c| c.band.map(|b| b.as_str()))
                    .collect::<StringArray>(),
            ),
            Arc::new(
                out_cv
                    .iter()
                    .map(|c| c.reason.clone())
                    .collect::<StringArray>(),
            ),
            Arc::new(
                rows.iter()
                    .map(|_| Some(measure_name.as_str()))
                    .collect::<StringArray>(),
            ),
            Arc::new(Float64Array::from(measure_rows.clone())),
            Arc::new(
                tiers_rows
                    .iter()
                    .map(|t| t.map(UtilTier::as_str))
                    .collect::<StringArray>(),
            ),
            Arc::new(
                persons()
                    .map(|p| base[p].cv10_pct)
                    .collect::<Float64Array>(),
            ),
            Arc::new(
                persons()
                    .map(|p| base[p].af_stroke_pct)
                    .collect::<Float64Array>(),
            ),
        ],
    )?;
    Ok(RiskColumns {
        cv,
        tier,
        measure,
        measure_name,
        baseline: base,
        batch,
    })
}

/// The open firings of `firings.parquet`.
pub fn open_firings(t: Table, index: &IdIndex) -> Result<Firings> {
    let (b, file) = (t.batch, t.file);
    let who = index.lookup_all(&columns::patient_ids(b, file)?, file)?;
    let crit = columns::utf8(b, "criterion_id", file)?;
    let prio = columns::floats(b, "priority", file)?;
    let status = columns::utf8(b, "status", file)?;
    let evidence = columns::opt_utf8(b, "evidence", file)?;
    let mut out = Firings::default();
    let mut open_rows: Vec<u32> = Vec::new();
    let mut crit_index: HashMap<&str, u32> = HashMap::new();
    let mut last: Option<(&str, u32)> = None;
    for r in 0..b.num_rows() {
        if status.is_null(r) || status.value(r) != "open" {
            continue;
        }
        let at = |what: &str| bad(format!("{}: row {}: {what}", file.display(), r + 1));
        let p = who[r].ok_or_else(|| at("patient_id is not in patients"))?;
        if crit.is_null(r) {
            return Err(at("criterion_id is null"));
        }
        let c = crit.value(r);
        let priority = match prio[r] {
            Some(v) if (1.0..=10.0).contains(&v) && v.fract() == 0.0 => v as u8,
            other => {
                return Err(at(&format!(
                    "priority {other:?} is not a whole number 1 to 10"
                )));
            }
        };
        let ci = match last {
            Some((name, i)) if name == c => i,
            _ => {
                let next = out.criteria.len() as u32;
                let i = *crit_index.entry(c).or_insert_with(|| {
                    out.criteria.push(c.to_string());
                    next
                });
                last = Some((c, i));
                i
            }
        };
        out.gaps.push(OpenGap {
            person: p,
            criterion: ci,
            priority,
        });
        open_rows.push(r as u32);
    }
    // The open rows' evidence, copied once into one array.
    let taken = arrow::compute::take(&evidence, &UInt32Array::from(open_rows), None)?;
    out.evidence = taken.as_string::<i32>().clone();
    Ok(out)
}

/// Reads the inputs into per-person columns.
pub fn prepare(i: &RankInputs) -> Result<Prepared> {
    let patients = PatientsTable::from_patients(i.patients, i.as_of);
    let index = IdIndex::new(&patients.ids);
    let n = patients.clinic.len();
    let risk = compute_risk(i.features, i.predictions, &patients, &index)?;
    let firings = open_firings(i.firings, &index)?;
    Ok(Prepared {
        as_of: i.as_of,
        outreach_allowed: i.consents.allowed(ConsentScope::Outreach, i.as_of),
        contacts: contacts_by_person(i.outreach, n),
        patients,
        risk,
        firings,
    })
}

impl Prepared {
    /// Exclusions, scores and the configured order of every clinic's list.
    pub fn rank(&self, config: &RankConfig) -> Ranked {
        let band: Vec<Option<RiskBand>> = self
            .risk
            .cv
            .iter()
            .map(|c| c.as_ref().and_then(|c| c.band))
            .collect();
        let p = &self.patients;
        let people = People {
            ids: &p.ids,
            clinic: &p.clinic,
            n_clinics: p.clinics.len(),
            alive: &p.alive,
            dead: &p.dead,
            outreach_allowed: &self.outreach_allowed,
            contacts: &self.contacts,
            band: &band,
            tier: &self.risk.tier,
            baseline: &self.risk.baseline,
        };
        rank(
            &people,
            &self.firings.criteria,
            &self.firings.gaps,
            self.as_of,
            config,
        )
    }

    /// The tables of `caregap rank` for a ranking of this run.
    pub fn outputs(
        &self,
        ranked: Ranked,
        texts: &HashMap<String, CriterionText>,
        capacities: &Capacities,
    ) -> Result<RankOutputs> {
        let p = &self.patients;
        let ctx = ListContext {
            ids: &p.ids,
            clinics: &p.clinics,
            language: &p.language,
            cv: &self.risk.cv,
            tier: &self.risk.tier,
            measure: &self.risk.measure,
            measure_name: &self.risk.measure_name,
            criteria: &self.firings.criteria,
            gaps: &self.firings.gaps,
            evidence: &self.firings.evidence,
            texts,
        };
        let calllist = calllist_batch(&ranked.entries, &ctx)?;
        // Entries are ordered by clinic index, then rank.
        let mut clinics = Vec::with_capacity(p.clinics.len());
        let mut start = 0usize;
        for (ci, clinic) in p.clinics.iter().enumerate() {
            let len = ranked.entries[start..]
                .iter()
                .take_while(|e| e.clinic as usize == ci)
                .count();
            let cut = capacities.of(clinic).map_or(len, |c| (c as usize).min(len));
            clinics.push(ClinicSlice {
                clinic: clinic.clone(),
                start,
                len,
                cut,
            });
            start += len;
        }
        Ok(RankOutputs {
            risk: self.risk.batch.clone(),
            exclusions: exclusions_batch(&ranked, &p.clinics)?,
            calllist,
            clinics,
            ranked,
        })
    }
}

/// [`prepare`], [`Prepared::rank`] and [`Prepared::outputs`] in a row.
pub fn rank_run(
    inputs: &RankInputs,
    config: &RankConfig,
    texts: &HashMap<String, CriterionText>,
    capacities: &Capacities,
) -> Result<RankOutputs> {
    let prepared = prepare(inputs)?;
    let ranked = prepared.rank(config);
    prepared.outputs(ranked, texts, capacities)
}

/// `exclusions.parquet`: per clinic, people with gaps, listed, excluded by rule.
pub fn exclusions_batch(r: &Ranked, clinics: &[String]) -> Result<RecordBatch> {
    let mut fields = vec![
        Field::new("clinic_id", DataType::Utf8, false),
        Field::new("with_gaps", DataType::UInt64, false),
        Field::new("listed", DataType::UInt64, false),
    ];
    fields.extend(
        Rule::ALL
            .iter()
            .map(|rule| Field::new(rule.as_str(), DataType::UInt64, false)),
    );
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(
            clinics
                .iter()
                .map(|c| Some(c.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            r.counts
                .iter()
                .map(|c| c.with_gaps)
                .collect::<UInt64Array>(),
        ),
        Arc::new(r.counts.iter().map(|c| c.listed).collect::<UInt64Array>()),
    ];
    for i in 0..Rule::ALL.len() {
        cols.push(Arc::new(
            r.counts
                .iter()
                .map(|c| c.excluded[i])
                .collect::<UInt64Array>(),
        ));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}
