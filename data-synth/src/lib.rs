//! Deterministic synthetic Finland-like primary-care populations.
//!
//! [`generate`] writes the tables of the caregap data model
//! (`patients`, `events`, `consents`, `outreach`) plus, for model work,
//! `events_future` (events in `(as_of, as_of + future_years]`, one year by
//! default, never read by scoring),
//! `truth` (the expected number of primary-care visits in that year that
//! the generator used, per person alive on `as_of`) and `outcomes` (adverse
//! outcomes in that year and their probabilities, [`outcomes`]; drawn from a
//! stream of their own, so the other tables do not depend on them).
//!
//! Why it is built this way:
//! - every person is simulated from their own RNG stream (ChaCha8 seeded with
//!   the seed, stream = person index), so the output depends on the seed only,
//!   never on chunk sizes or the number of threads;
//! - a person is simulated over history and future year at once from one
//!   latent state (frailty, engagement, conditions, treatments), so history
//!   predicts the future the way it does in real data;
//! - people are generated in chunks in parallel (rayon) and the chunks are
//!   streamed in order to Parquet writers on another thread, so memory stays
//!   bounded and events come out sorted by patient, then date.
//!
//! The model and the figures it targets are described in `data-synth/README.md`;
//! every code it emits is listed in `data-synth/CODES.md`.

pub mod codes;
pub mod fhir;
mod model;
pub mod omop;
pub mod outcomes;
pub mod outreach;
mod write;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use chrono::{Datelike, Months, NaiveDate};
use rand::Rng;
use rayon::prelude::*;

use codes::{Cond, N_COND};
pub use model::Day;
use model::{CLINICS, Calendar, Ev};
use write::{
    ConsentCols, EventCols, IdFormat, OutreachCols, PatientCols, Schemas, TableWriter, TruthCols,
};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    /// Number of people in `patients.parquet` (alive and dead).
    pub patients: u64,
    pub seed: u64,
    /// The scoring date: history ends on it, the future year starts after it.
    pub as_of: NaiveDate,
    /// Years of history before `as_of` (1..=30).
    pub years: u32,
    /// Years simulated after `as_of` into `events_future` (1..=5; model
    /// labels of horizons 1..=future_years). 1 gives the same data as before
    /// the option existed.
    pub future_years: u32,
    /// Write `patient_id` as Utf8 (`P0000001`) instead of Int64.
    pub string_ids: bool,
    /// Add rows that are unusable per the data model (orphans, unknown kinds,
    /// null codes, future-dated events in `events`, null consent decisions)
    /// for loader testing.
    pub messy: bool,
    /// People per parallel work item.
    pub chunk_patients: usize,
    /// Maximum rows per Parquet row group.
    pub row_group_rows: usize,
    /// Extra outreach contacts per person with hypertension or type 2
    /// diabetes, over the last two years (`outreach` module; 0 = none).
    pub outreach_contacts: f64,
    /// Share of booked contacts followed by the gap-closing measurement
    /// (`outreach` module; 0 = no effect).
    pub outreach_effect: f64,
}

impl Config {
    pub fn new(patients: u64, seed: u64, as_of: NaiveDate) -> Config {
        Config {
            patients,
            seed,
            as_of,
            years: 5,
            future_years: 1,
            string_ids: false,
            messy: false,
            chunk_patients: 2048,
            row_group_rows: 1 << 20,
            outreach_contacts: 0.0,
            outreach_effect: 0.0,
        }
    }
}

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {}: {source}", path.display())]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error("building a record batch: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("the writer thread stopped unexpectedly")]
    WriterGone,
}

/// Progress of a run: people generated so far out of the total.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// One file written.
#[derive(Debug, Clone)]
pub struct FileSummary {
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
}

/// Figures measured on the generated population (alive on `as_of`).
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub patients: u64,
    pub alive: u64,
    pub adults: u64,
    pub died_before_as_of: u64,
    /// Share of adults alive on `as_of` with each condition (model state, not codes).
    pub prevalence: Vec<(&'static str, f64)>,
    /// Mean primary-care visits in the last history year per person alive on `as_of`.
    pub mean_pc_visits: f64,
    /// Share of those visits made by the 10 % of people with the most visits.
    pub top10_visit_share: f64,
    /// Mean of `truth.expected_visits`.
    pub mean_expected_visits: f64,
    /// History events per person.
    pub events_per_person: f64,
    /// History events per person by kind, in the order of [`KINDS`].
    pub events_per_person_by_kind: Vec<(&'static str, f64)>,
}

/// The six event kinds of the data model.
pub const KINDS: [&str; 6] = [
    "diagnosis",
    "measurement",
    "medication",
    "visit",
    "procedure",
    "immunization",
];

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Summary {
    pub files: Vec<FileSummary>,
    pub figures: Figures,
    pub elapsed: Duration,
}

/// Per-chunk accumulators of [`Figures`].
#[derive(Debug, Clone, Default)]
struct FigAcc {
    patients: u64,
    alive: u64,
    adults: u64,
    died: u64,
    cond: [u64; N_COND],
    /// Histogram of last-year primary-care visits (index = count, capped).
    visits: Vec<u64>,
    expected_sum: f64,
    events: u64,
    by_kind: [u64; 6],
}

impl FigAcc {
    fn merge(&mut self, o: &FigAcc) {
        self.patients += o.patients;
        self.alive += o.alive;
        self.adults += o.adults;
        self.died += o.died;
        for (a, b) in self.cond.iter_mut().zip(o.cond.iter()) {
            *a += b;
        }
        if self.visits.len() < o.visits.len() {
            self.visits.resize(o.visits.len(), 0);
        }
        for (a, b) in self.visits.iter_mut().zip(o.visits.iter()) {
            *a += b;
        }
        self.expected_sum += o.expected_sum;
        self.events += o.events;
        for (a, b) in self.by_kind.iter_mut().zip(o.by_kind.iter()) {
            *a += b;
        }
    }

    fn figures(&self) -> Figures {
        let total_visits: u64 = self
            .visits
            .iter()
            .enumerate()
            .map(|(k, n)| k as u64 * n)
            .sum();
        // Visits of the top 10 % (the largest counts first, a partial bin pro rata).
        let mut left = self.alive as f64 * 0.1;
        let mut top = 0.0;
        for (k, &n) in self.visits.iter().enumerate().rev() {
            if left <= 0.0 {
                break;
            }
            let take = (n as f64).min(left);
            top += take * k as f64;
            left -= take;
        }
        let div = |a: f64, b: u64| if b == 0 { 0.0 } else { a / b as f64 };
        Figures {
            patients: self.patients,
            alive: self.alive,
            adults: self.adults,
            died_before_as_of: self.died,
            prevalence: Cond::ALL
                .iter()
                .map(|c| {
                    (
                        c.spec().name,
                        div(self.cond[*c as usize] as f64, self.adults),
                    )
                })
                .collect(),
            mean_pc_visits: div(total_visits as f64, self.alive),
            top10_visit_share: if total_visits == 0 {
                0.0
            } else {
                top / total_visits as f64
            },
            mean_expected_visits: div(self.expected_sum, self.alive),
            events_per_person: div(self.events as f64, self.patients),
            events_per_person_by_kind: KINDS
                .iter()
                .zip(self.by_kind)
                .map(|(k, n)| (*k, div(n as f64, self.patients)))
                .collect(),
        }
    }
}

/// The record batches of one chunk of people.
struct ChunkBatches {
    patients: RecordBatch,
    events: RecordBatch,
    future: RecordBatch,
    consents: RecordBatch,
    outreach: RecordBatch,
    truth: RecordBatch,
    outcomes: RecordBatch,
    figures: FigAcc,
}

/// Derives the calendar from the configuration.
fn calendar(cfg: &Config) -> Result<Calendar, SynthError> {
    if cfg.years == 0 || cfg.years > 30 {
        return Err(SynthError::Config(format!(
            "--years must be between 1 and 30, got {}",
            cfg.years
        )));
    }
    if cfg.future_years == 0 || cfg.future_years > 5 {
        return Err(SynthError::Config(format!(
            "--future-years must be between 1 and 5, got {}",
            cfg.future_years
        )));
    }
    if cfg.patients == 0 || cfg.patients > 100_000_000 {
        return Err(SynthError::Config(format!(
            "--patients must be between 1 and 100000000, got {}",
            cfg.patients
        )));
    }
    if !(0.0..=1.0).contains(&cfg.outreach_effect)
        || !(0.0..=100.0).contains(&cfg.outreach_contacts)
    {
        return Err(SynthError::Config(format!(
            "--outreach-effect must be between 0 and 1 and --outreach-contacts between 0 and 100, got {} and {}",
            cfg.outreach_effect, cfg.outreach_contacts
        )));
    }
    if !(1950..=2200).contains(&cfg.as_of.year()) {
        return Err(SynthError::Config(format!(
            "--as-of must be a date in 1950..2200, got {}",
            cfg.as_of
        )));
    }
    let shift = |years: i64| -> NaiveDate {
        let m = Months::new((years.unsigned_abs() * 12) as u32);
        if years >= 0 {
            cfg.as_of.checked_add_months(m)
        } else {
            cfg.as_of.checked_sub_months(m)
        }
        .unwrap_or(cfg.as_of)
    };
    let mut periods = Vec::new();
    for y in 0..(cfg.years + cfg.future_years) as i64 {
        let lo = model::day_of(shift(y - cfg.years as i64));
        let hi = model::day_of(shift(y - cfg.years as i64 + 1));
        periods.push((lo, hi));
    }
    Ok(Calendar {
        as_of: model::day_of(cfg.as_of),
        start: model::day_of(shift(-(cfg.years as i64))),
        end: model::day_of(shift(i64::from(cfg.future_years))),
        periods,
        first_future: cfg.years as usize,
    })
}

/// Generates one chunk of people `range` into record batches.
fn gen_chunk(
    cfg: &Config,
    cal: &Calendar,
    schemas: &Schemas,
    ids: IdFormat,
    range: std::ops::Range<u64>,
) -> Result<ChunkBatches, SynthError> {
    let n = (range.end - range.start) as usize;
    let mut pats = PatientCols::new(ids, n);
    let mut events = EventCols::new(ids, n * 110);
    let mut future = EventCols::new(ids, n * 25);
    let mut consents = ConsentCols::new(ids);
    let mut outreach = OutreachCols::new(ids);
    let mut truth = TruthCols::new(ids, n);
    let mut outcome_cols = outcomes::OutcomeCols::new(n);
    let mut fig = FigAcc {
        visits: vec![0; 512],
        ..FigAcc::default()
    };
    for idx in range {
        let mut rng = model::person_rng(cfg.seed, idx);
        let p = model::draw_person(&mut rng, idx, cal, cfg.years);
        let mut out = model::simulate(&mut rng, &p, cal, cfg.messy);
        outreach::add(
            &mut out,
            cfg.outreach_contacts,
            cfg.outreach_effect,
            cfg.seed,
            idx,
            &p,
            cal,
        );
        let dead_by_as_of = p.death <= cal.as_of;
        pats.push(&p, CLINICS[p.clinic].0, dead_by_as_of.then_some(p.death));
        for e in &out.events {
            if e.date <= cal.as_of {
                if let Some(k) = KINDS.iter().position(|k| *k == e.kind) {
                    fig.by_kind[k] += 1;
                }
                events.push(idx, e);
            } else {
                future.push(idx, e);
            }
        }
        for e in &out.misplaced {
            events.push(idx, e);
        }
        for c in &out.consents {
            consents.push(idx, c);
        }
        for o in &out.outreach {
            outreach.push(idx, o);
        }
        fig.patients += 1;
        if dead_by_as_of {
            fig.died += 1;
        }
        if let Some(ev) = out.expected_visits {
            truth.push(idx, ev, (p.death != i32::MAX).then_some(p.death));
            outcome_cols.push(&outcomes::draw(cfg.seed, idx, &p, &out.events, cal));
            fig.alive += 1;
            fig.expected_sum += ev;
            let k = (out.pc_visits_last_year as usize).min(fig.visits.len() - 1);
            fig.visits[k] += 1;
            if p.age_at(cal.as_of) >= 18.0 {
                fig.adults += 1;
                for c in Cond::ALL {
                    if p.has(c, cal.as_of) {
                        fig.cond[c as usize] += 1;
                    }
                }
            }
        }
    }
    fig.events = events.rows as u64;
    let truth = truth.finish(&schemas.truth)?;
    let outcomes = outcome_cols.finish(truth.column(0).clone(), &outcomes_schema(schemas))?;
    Ok(ChunkBatches {
        patients: pats.finish(&schemas.patients)?,
        events: events.finish(&schemas.events)?,
        future: future.finish(&schemas.events)?,
        consents: consents.finish(&schemas.consents)?,
        outreach: outreach.finish(&schemas.outreach)?,
        truth,
        outcomes,
        figures: fig,
    })
}

/// Orphan event rows (patient ids not in `patients`) for `messy` runs.
fn orphan_batch(
    cfg: &Config,
    cal: &Calendar,
    schemas: &Schemas,
    ids: IdFormat,
) -> Result<RecordBatch, SynthError> {
    let n = (cfg.patients / 1000).max(1);
    let mut rng = model::person_rng(cfg.seed, u64::MAX);
    let mut cols = EventCols::new(ids, n as usize);
    for k in 0..n {
        let date = cal.start + 1 + rng.random_range(0..(cal.as_of - cal.start));
        let e = Ev {
            date,
            kind: "visit",
            system: "VISIT",
            code: Some("PC_DOCTOR"),
            unit: None,
            value: None,
        };
        cols.push(cfg.patients + k, &e);
    }
    cols.finish(&schemas.events)
}

/// The names of the files, in the order of [`Summary::files`].
pub const FILES: [&str; 7] = [
    "patients",
    "events",
    "events_future",
    "consents",
    "outreach",
    "truth",
    "outcomes",
];

/// `outcomes.parquet`'s schema, with the id type of `truth`.
fn outcomes_schema(schemas: &Schemas) -> arrow::datatypes::SchemaRef {
    outcomes::schema(schemas.truth.field(0).data_type().clone())
}

/// Generates a population into `out_dir` (created if missing). Files are
/// written under temporary names and renamed into place when complete.
/// `progress` is called from the calling thread after each round of chunks.
pub fn generate(
    cfg: &Config,
    out_dir: &Path,
    progress: &dyn Fn(Progress),
) -> Result<Summary, SynthError> {
    let started = Instant::now();
    let cal = calendar(cfg)?;
    std::fs::create_dir_all(out_dir).map_err(|source| SynthError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let ids = if cfg.string_ids {
        IdFormat::Str(7.max(cfg.patients.to_string().len()))
    } else {
        IdFormat::Int
    };
    let schemas = Schemas::new(ids, cfg.messy);
    let rg = cfg.row_group_rows.max(1024);
    let mut writers = Vec::with_capacity(FILES.len());
    let outcomes_schema = outcomes_schema(&schemas);
    let table_schemas = [
        &schemas.patients,
        &schemas.events,
        &schemas.events,
        &schemas.consents,
        &schemas.outreach,
        &schemas.truth,
        &outcomes_schema,
    ];
    for (name, schema) in FILES.iter().zip(table_schemas) {
        match TableWriter::create(out_dir, name, schema, rg) {
            Ok(w) => writers.push(w),
            Err(e) => {
                writers.into_iter().for_each(TableWriter::abandon);
                return Err(e);
            }
        }
    }
    let chunk = cfg.chunk_patients.max(1) as u64;
    let chunks: Vec<std::ops::Range<u64>> = (0..cfg.patients.div_ceil(chunk))
        .map(|c| c * chunk..((c + 1) * chunk).min(cfg.patients))
        .collect();
    let per_round = (rayon::current_num_threads() * 4).max(4);
    let (tx, rx) = mpsc::sync_channel::<Vec<ChunkBatches>>(1);
    let mut fig = FigAcc::default();
    let result = std::thread::scope(|scope| {
        let writer = scope.spawn(
            move || -> Result<Vec<TableWriter>, (SynthError, Vec<TableWriter>)> {
                for round in rx {
                    for b in round {
                        let batches = [
                            &b.patients,
                            &b.events,
                            &b.future,
                            &b.consents,
                            &b.outreach,
                            &b.truth,
                            &b.outcomes,
                        ];
                        for (w, batch) in writers.iter_mut().zip(batches) {
                            if batch.num_rows() > 0
                                && let Err(e) = w.write(batch)
                            {
                                return Err((e, writers));
                            }
                        }
                    }
                }
                Ok(writers)
            },
        );
        let mut gen_err = None;
        let mut done = 0u64;
        for round in chunks.chunks(per_round) {
            let batches: Result<Vec<ChunkBatches>, SynthError> = round
                .par_iter()
                .map(|r| gen_chunk(cfg, &cal, &schemas, ids, r.clone()))
                .collect();
            match batches {
                Ok(batches) => {
                    for b in &batches {
                        fig.merge(&b.figures);
                        done += b.patients.num_rows() as u64;
                    }
                    if tx.send(batches).is_err() {
                        break;
                    }
                    progress(Progress {
                        done,
                        total: cfg.patients,
                    });
                }
                Err(e) => {
                    gen_err = Some(e);
                    break;
                }
            }
        }
        if gen_err.is_none() && cfg.messy {
            match orphan_batch(cfg, &cal, &schemas, ids) {
                Ok(orphans) => {
                    let b = ChunkBatches {
                        patients: RecordBatch::new_empty(schemas.patients.clone()),
                        events: orphans,
                        future: RecordBatch::new_empty(schemas.events.clone()),
                        consents: RecordBatch::new_empty(schemas.consents.clone()),
                        outreach: RecordBatch::new_empty(schemas.outreach.clone()),
                        truth: RecordBatch::new_empty(schemas.truth.clone()),
                        outcomes: RecordBatch::new_empty(outcomes_schema.clone()),
                        figures: FigAcc::default(),
                    };
                    let _ = tx.send(vec![b]);
                }
                Err(e) => gen_err = Some(e),
            }
        }
        drop(tx);
        let joined = writer.join().map_err(|_| SynthError::WriterGone)?;
        match (joined, gen_err) {
            (Ok(writers), None) => Ok(writers),
            (Ok(writers), Some(e)) | (Err((e, writers)), _) => {
                writers.into_iter().for_each(TableWriter::abandon);
                Err(e)
            }
        }
    })?;
    let mut files = Vec::with_capacity(FILES.len());
    for w in result {
        let (path, rows, bytes) = w.finish()?;
        files.push(FileSummary { path, rows, bytes });
    }
    Ok(Summary {
        files,
        figures: fig.figures(),
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Date32Type;

    /// The first person of `seed` whose death falls exactly on `as_of`.
    fn dies_on_as_of(cfg: &Config, cal: &Calendar) -> u64 {
        (0..2_000_000u64)
            .find(|&idx| {
                let mut rng = model::person_rng(cfg.seed, idx);
                model::draw_person(&mut rng, idx, cal, cfg.years).death == cal.as_of
            })
            .expect("some person dies on as_of")
    }

    /// A death on `as_of` means not alive on it (data model): such a person
    /// has a death date in `patients`, no `truth` row, and counts as died,
    /// not alive, in the figures.
    #[test]
    fn death_on_as_of_is_not_alive() {
        let cfg = Config::new(1_000_000, 7, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let cal = calendar(&cfg).unwrap();
        let schemas = Schemas::new(IdFormat::Int, false);
        let idx = dies_on_as_of(&cfg, &cal);
        let b = gen_chunk(&cfg, &cal, &schemas, IdFormat::Int, idx..idx + 1).unwrap();
        let death = b.patients.column_by_name("death_date").unwrap();
        let death = death.as_primitive::<Date32Type>();
        assert!(death.is_valid(0) && death.value(0) == cal.as_of);
        assert_eq!(b.truth.num_rows(), 0, "no truth row for person {idx}");
        assert_eq!((b.figures.alive, b.figures.died), (0, 1));
    }

    /// One truth row per person alive on `as_of` by the data model's rule,
    /// and alive + died adds up to everyone.
    #[test]
    fn truth_rows_are_the_people_alive_on_as_of() {
        let cfg = Config::new(3000, 11, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let cal = calendar(&cfg).unwrap();
        let schemas = Schemas::new(IdFormat::Int, false);
        let b = gen_chunk(&cfg, &cal, &schemas, IdFormat::Int, 0..cfg.patients).unwrap();
        let expected: Vec<i64> = (0..cfg.patients)
            .filter(|&idx| {
                let mut rng = model::person_rng(cfg.seed, idx);
                let p = model::draw_person(&mut rng, idx, &cal, cfg.years);
                p.birth <= cal.as_of && p.death > cal.as_of // not dead on or before as_of
            })
            .map(|idx| idx as i64 + 1)
            .collect();
        let ids = b
            .truth
            .column(0)
            .as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(ids.values().to_vec(), expected);
        assert_eq!(b.figures.alive as usize, expected.len());
        assert_eq!(b.figures.alive + b.figures.died, cfg.patients);
    }
}
