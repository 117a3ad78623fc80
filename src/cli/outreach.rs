//! `caregap outreach record|import`: append contact outcomes to the data
//! folder's outreach log, so the next ranking respects them.
//!
//! Every row is validated first (the patient exists in `patients`, the outcome
//! is one of `booked`, `declined`, `no_answer`, `not_reachable`, the date is a
//! real `YYYY-MM-DD` not after today); one bad row refuses the whole batch,
//! naming every bad line. Rows already in the log (same patient, date,
//! criterion and outcome) are skipped, so importing a file twice is harmless.
//! Writing never loses earlier rows: an OS lock on `.outreach.lock` keeps
//! writers apart (a second writer waits; a killed one releases it); `outreach.parquet` is rewritten whole (old rows + new) to a
//! temporary file that is renamed over it; with an `outreach/` folder of parts,
//! the new rows become a new part, written the same way.

use super::rank::io;
use anyhow::{Context, Result, bail};
use arrow::array::{ArrayRef, Date32Array, Int64Array, RecordBatch, StringArray, new_null_array};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Field, Schema};
use caregap::data::Outcome;
use caregap::data::{Day, PatientIds};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Record one contact.
    Record {
        /// The data folder (with patients and, once written, outreach).
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        patient: String,
        /// Contact date, YYYY-MM-DD (not in the future).
        #[arg(long)]
        date: String,
        /// booked, declined, no_answer or not_reachable.
        #[arg(long)]
        outcome: String,
        /// The criterion the contact was about (omit for a general contact).
        #[arg(long)]
        criterion: Option<String>,
    },
    /// Import a CSV written by schedulers: header with patient_id, date,
    /// outcome and optionally criterion_id (empty = general contact).
    Import {
        #[arg(long)]
        data: PathBuf,
        file: PathBuf,
    },
    /// Write the outcomes and consent decisions recorded in `caregap serve`'s
    /// database as the data model's tables: OUT/outreach.parquet and
    /// OUT/consents.parquet (`wrong_number` → `not_reachable`; `reached` is
    /// left out). Point the nightly job's data folder at them (see docs/serve.md).
    Export {
        /// The service's database.
        #[arg(long)]
        store: PathBuf,
        /// Folder to write into (created when missing).
        #[arg(long)]
        out: PathBuf,
        /// Type of patient_id: auto (Int64 when every id is an integer), int or text.
        #[arg(long, default_value = "auto")]
        id_type: String,
    },
}

/// One validated contact: the patient's row in `patients`.
#[derive(Debug, Clone, PartialEq)]
struct NewRow {
    patient: u32,
    date: Day,
    criterion: Option<String>,
    outcome: Outcome,
}

/// Validates one row's texts; `Err` holds every problem of the row.
fn validate(
    index: &io::IdIndex,
    patient: &str,
    date: &str,
    outcome: &str,
    criterion: Option<&str>,
    today: Day,
) -> Result<NewRow, Vec<String>> {
    let mut errs = Vec::new();
    let p = index.lookup_text(patient);
    if p.is_none() {
        errs.push(format!("patient {patient:?} is not in patients"));
    }
    let d = io::parse_day(date);
    match d {
        None => errs.push(format!("date {date:?} is not a date YYYY-MM-DD")),
        Some(d) if d > today => errs.push(format!("date {date} is in the future")),
        _ => {}
    }
    let o = Outcome::parse(outcome.trim());
    if o.is_none() {
        errs.push(format!(
            "outcome {outcome:?} is not one of booked, declined, no_answer, not_reachable"
        ));
    }
    match (p, d, o) {
        (Some(patient), Some(date), Some(outcome)) if errs.is_empty() => Ok(NewRow {
            patient,
            date,
            criterion: criterion
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            outcome,
        }),
        _ => Err(errs),
    }
}

fn parse_import(index: &io::IdIndex, file: &Path, today: Day) -> Result<Vec<NewRow>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let records = io::parse_csv(text).with_context(|| format!("{}", file.display()))?;
    let Some((_, header)) = records.first() else {
        bail!(
            "{}: empty file; expected a header patient_id,date,outcome[,criterion_id]",
            file.display()
        );
    };
    let pos = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(pi), Some(di), Some(oi)) = (pos("patient_id"), pos("date"), pos("outcome")) else {
        bail!(
            "{}: the header {header:?} lacks patient_id, date or outcome",
            file.display()
        );
    };
    let ci = pos("criterion_id");
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (line, rec) in &records[1..] {
        if rec.len() != header.len() {
            errors.push(format!(
                "line {line}: {} fields, the header has {}",
                rec.len(),
                header.len()
            ));
            continue;
        }
        match validate(
            index,
            rec[pi].trim(),
            &rec[di],
            &rec[oi],
            ci.map(|c| rec[c].as_str()),
            today,
        ) {
            Ok(r) => rows.push(r),
            Err(e) => errors.push(format!("line {line}: {}", e.join("; "))),
        }
    }
    if !errors.is_empty() {
        let shown = errors
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ");
        let more = errors.len().saturating_sub(20);
        bail!(
            "{}: {} bad rows, nothing imported:\n  {shown}{}",
            file.display(),
            errors.len(),
            if more > 0 {
                format!("\n  ... and {more} more")
            } else {
                String::new()
            }
        );
    }
    Ok(rows)
}

fn standard_schema(ids: &PatientIds) -> Arc<Schema> {
    let id_type = match ids {
        PatientIds::Int(_) => DataType::Int64,
        PatientIds::Str(_) => DataType::Utf8,
    };
    Arc::new(Schema::new(vec![
        Field::new("patient_id", id_type, false),
        Field::new("date", DataType::Date32, false),
        Field::new("criterion_id", DataType::Utf8, true),
        Field::new("outcome", DataType::Utf8, false),
    ]))
}

/// The new rows as a batch of `schema` (extra columns of an existing log get nulls).
fn new_batch(
    rows: &[NewRow],
    ids: &PatientIds,
    schema: &Arc<Schema>,
    file: &Path,
) -> Result<RecordBatch> {
    let id_col: ArrayRef = match ids {
        PatientIds::Int(v) => Arc::new(
            rows.iter()
                .map(|r| v[r.patient as usize])
                .collect::<Int64Array>(),
        ),
        PatientIds::Str(v) => Arc::new(
            rows.iter()
                .map(|r| Some(v[r.patient as usize].as_str()))
                .collect::<StringArray>(),
        ),
    };
    let mut cols = Vec::new();
    for f in schema.fields() {
        let raw: ArrayRef = match f.name().as_str() {
            "patient_id" => id_col.clone(),
            "date" => Arc::new(Date32Array::from(
                rows.iter().map(|r| r.date).collect::<Vec<_>>(),
            )),
            "criterion_id" => Arc::new(
                rows.iter()
                    .map(|r| r.criterion.as_deref())
                    .collect::<StringArray>(),
            ),
            "outcome" => Arc::new(
                rows.iter()
                    .map(|r| Some(r.outcome.as_str()))
                    .collect::<StringArray>(),
            ),
            _ if f.is_nullable() => new_null_array(f.data_type(), rows.len()),
            other => bail!(
                "{}: the log has a required column `{other}` this command cannot fill",
                file.display()
            ),
        };
        cols.push(cast(&raw, f.data_type()).with_context(|| {
            format!(
                "{}: column `{}` has type {}",
                file.display(),
                f.name(),
                f.data_type()
            )
        })?);
    }
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

/// A log row's identity: patient id as text, date, criterion, outcome.
type LogKey = (String, Day, Option<String>, String);

/// Keys of rows already in the log.
fn existing_keys(b: &RecordBatch, file: &Path) -> Result<HashSet<LogKey>> {
    let ids = io::patient_ids(b, file)?;
    let date = io::days(b, "date", file)?;
    let crit = io::opt_strings(b, "criterion_id", file)?;
    let outcome = io::strings(b, "outcome", file)?;
    Ok((0..b.num_rows())
        .filter_map(|r| {
            Some((
                ids.display(r),
                date[r]?,
                crit[r].clone(),
                outcome[r].clone()?,
            ))
        })
        .collect())
}

fn append(data: &Path, rows: Vec<NewRow>) -> Result<()> {
    let _lock = caregap::output::OutputLock::wait(&data.join("outreach"))?;
    // Under the log's lock: what killed writers left beside the log goes.
    super::say_removed(&caregap::output::remove_leftovers(
        &data.join("outreach.parquet"),
    )?);
    let Some((pfile, patients)) = io::read_table(data, "patients")? else {
        bail!("{}: no patients table", data.display());
    };
    let ids = io::patient_ids(&patients, &pfile)?;
    let existing = io::read_table(data, "outreach")?;
    let seen = match &existing {
        Some((f, b)) => existing_keys(b, f)?,
        None => HashSet::new(),
    };
    let mut fresh = Vec::new();
    let mut dup = 0usize;
    let mut keys = seen.clone();
    for r in rows {
        let key = (
            ids.display(r.patient as usize),
            r.date,
            r.criterion.clone(),
            r.outcome.as_str().to_string(),
        );
        if keys.insert(key) {
            fresh.push(r);
        } else {
            dup += 1;
        }
    }
    let target = match &existing {
        None => {
            let path = data.join("outreach.parquet");
            let schema = standard_schema(&ids);
            io::write_parquet_atomic(&path, &new_batch(&fresh, &ids, &schema, &path)?)?;
            path
        }
        Some((path, old)) if path.is_file() => {
            let schema = old.schema();
            let add = new_batch(&fresh, &ids, &schema, path)?;
            let all = concat_batches(&schema, [old, &add])?;
            io::write_parquet_atomic(path, &all)?;
            path.clone()
        }
        Some((dir, old)) => {
            let schema = old.schema();
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.f");
            let path = dir.join(format!("part-{stamp}-{}.parquet", std::process::id()));
            if !fresh.is_empty() {
                io::write_parquet_atomic(&path, &new_batch(&fresh, &ids, &schema, &path)?)?;
            }
            path
        }
    };
    eprintln!(
        "appended {} contact(s) to {}{}",
        fresh.len(),
        target.display(),
        if dup > 0 {
            format!(" ({dup} already in the log, skipped)")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// `outreach export`: the service's records as Parquet tables.
fn export(store_path: &Path, out: &Path, id_type: &str) -> Result<()> {
    use caregap::serve::export::{IdType, consents_batch, outreach_batch};
    let t = match id_type {
        "auto" => IdType::Auto,
        "int" => IdType::Int,
        "text" => IdType::Text,
        x => bail!("--id-type {x:?}: auto, int or text"),
    };
    if !store_path.exists() {
        bail!("{}: no such store", store_path.display());
    }
    let c = caregap::serve::store::open(store_path)?;
    let (outcomes, consents) = caregap::serve::store::all_records(&c)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let o = outreach_batch(&outcomes, t).map_err(anyhow::Error::msg)?;
    let k = consents_batch(&consents, t).map_err(anyhow::Error::msg)?;
    io::write_parquet_atomic(&out.join("outreach.parquet"), &o)?;
    io::write_parquet_atomic(&out.join("consents.parquet"), &k)?;
    println!(
        "wrote {} outreach rows ({} recorded, `reached` left out) and {} consent decisions to {}",
        o.num_rows(),
        outcomes.len(),
        k.num_rows(),
        out.display()
    );
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    let today = caregap::data::today();
    match args.command {
        Sub::Export {
            store,
            out,
            id_type,
        } => export(&store, &out, &id_type),
        Sub::Record {
            data,
            patient,
            date,
            outcome,
            criterion,
        } => {
            let (pfile, patients) = io::read_table(&data, "patients")?
                .with_context(|| format!("{}: no patients table", data.display()))?;
            let index = io::IdIndex::new(&io::patient_ids(&patients, &pfile)?);
            let row = validate(
                &index,
                &patient,
                &date,
                &outcome,
                criterion.as_deref(),
                today,
            )
            .map_err(|e| anyhow::anyhow!("{}", e.join("; ")))?;
            append(&data, vec![row])
        }
        Sub::Import { data, file } => {
            let (pfile, patients) = io::read_table(&data, "patients")?
                .with_context(|| format!("{}: no patients table", data.display()))?;
            let index = io::IdIndex::new(&io::patient_ids(&patients, &pfile)?);
            let rows = parse_import(&index, &file, today)?;
            append(&data, rows)
        }
    }
}
