//! `caregap rank --run OUTDIR`: risk per person, priorities, exclusions and the
//! call lists of every clinic, from a `caregap score` run folder.
//!
//! Reads `OUTDIR/run.json`, `features.parquet`, `firings.parquet`, the data
//! folder's `patients`, `consents` and `outreach` tables and the library's
//! criterion texts. Writes, each atomically: `risk.parquet`,
//! `calllist.parquet` (every clinic's whole ordered list), `exclusions.parquet`
//! and `calllists/<clinic>.csv|parquet|json` (cut at each clinic's capacity).

pub mod io;

use anyhow::{Context, Result, bail};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use caregap::data::{
    ConsentScope, Dataset, Day, DictColumn, LoadOptions, PatientIds, Patients, Table,
};
use caregap::rank::calllist::{OpenGap, People, Ranked, rank};
use caregap::rank::config::{Capacities, RankConfig};
use caregap::rank::exclusions::{Rule, contacts_by_person};
use caregap::rank::export::{CriterionText, ListContext, calllist_batch, ids_array};
use caregap::rank::risk::{CvInputs, CvRisk, UtilTier, assess_cv, utilisation_tiers};
use caregap::rank::score2::RiskModel;
use io::{IdIndex, RunInfo};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Parquet,
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Json => "json",
        }
    }

    pub fn encode(self, b: &RecordBatch) -> Result<Vec<u8>> {
        Ok(match self {
            Format::Csv => io::batch_csv(b)?.into_bytes(),
            Format::Json => io::batch_json(b)?.into_bytes(),
            Format::Parquet => io::parquet_bytes(b)?,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The output folder of `caregap score`.
    #[arg(long)]
    pub run: PathBuf,
    /// Ranking configuration (TOML): cool-downs, weights, model predictions.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Clinic capacities: CSV `clinic_id,capacity` or TOML (`default`, `[clinics]`).
    #[arg(long)]
    pub capacities: Option<PathBuf>,
    /// Format of the per-clinic lists in OUTDIR/calllists/.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
}

/// The `patients` columns ranking needs, from the loaded [`Dataset`].
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

/// Loads the data folder through the data layer and reports what it set aside.
pub fn load_data(data: &Path, as_of: Day) -> Result<Dataset> {
    let ds = caregap::data::load(data, &LoadOptions::new(as_of))
        .with_context(|| format!("loading the data folder {}", data.display()))?;
    for t in &ds.report.tables {
        if t.rows_rejected > 0 && matches!(t.table, Table::Consents | Table::Outreach) {
            eprintln!(
                "warning: {}: {} of {} rows unusable (see `caregap inspect`): not used",
                t.table, t.rows_rejected, t.rows_read
            );
        }
    }
    Ok(ds)
}

/// The library's criterion titles and actions, through the checked library.
pub fn criterion_texts(library: &Path) -> Result<HashMap<String, CriterionText>> {
    let lib = crate::cli::check::load_library(library)?;
    Ok(lib
        .criteria
        .into_iter()
        .map(|c| {
            (
                c.id,
                CriterionText {
                    title: c.title,
                    action: c.action,
                },
            )
        })
        .collect())
}

/// Utilisation measure per feature row, and its name.
fn utilisation_measure(
    run: &Path,
    cfg_dir: &Path,
    config: &RankConfig,
    features: &RecordBatch,
    features_file: &Path,
    feature_rows: &[Option<u32>],
    index: &IdIndex,
) -> Result<(String, Vec<Option<f64>>)> {
    let Some(pred) = &config.predictions else {
        return Ok((
            "visits_pc_12mo".into(),
            io::floats(features, "visits_pc_12mo", features_file)?,
        ));
    };
    let path = {
        let p = PathBuf::from(pred);
        if p.is_relative() { cfg_dir.join(p) } else { p }
    };
    let b = io::read_parquet(&path)?;
    let col = ["predicted_visits", "prediction", "predicted"]
        .into_iter()
        .find(|c| b.column_by_name(c).is_some())
        .with_context(|| {
            format!(
                "{}: no column predicted_visits (or prediction)",
                path.display()
            )
        })?;
    let who = index.lookup_all(&io::patient_ids(&b, &path)?, &path)?;
    let values = io::floats(&b, col, &path)?;
    let mut by_person: HashMap<u32, f64> = HashMap::new();
    for (p, v) in who.iter().zip(values) {
        if let (Some(p), Some(v)) = (p, v) {
            by_person.insert(*p, v);
        }
    }
    let _ = run;
    Ok((
        format!("predicted_visits ({})", path.display()),
        feature_rows
            .iter()
            .map(|p| p.and_then(|p| by_person.get(&p).copied()))
            .collect(),
    ))
}

/// Risk per person (patients order) plus the risk.parquet batch.
pub struct RiskColumns {
    pub cv: Vec<Option<CvRisk>>,
    pub tier: Vec<Option<UtilTier>>,
    pub measure: Vec<Option<f64>>,
    pub measure_name: String,
    pub batch: RecordBatch,
}

fn ids_type(ids: &PatientIds) -> DataType {
    match ids {
        PatientIds::Int(_) => DataType::Int64,
        PatientIds::Str(_) => DataType::Utf8,
    }
}

fn compute_risk(
    run: &Path,
    args: &Args,
    config: &RankConfig,
    patients: &PatientsTable,
    index: &IdIndex,
) -> Result<RiskColumns> {
    let file = run.join("features.parquet");
    let f = io::read_parquet(&file)?;
    let rows = index.lookup_all(&io::patient_ids(&f, &file)?, &file)?;
    if let Some(r) = rows.iter().position(Option::is_none) {
        bail!(
            "{}: row {}: patient_id is not in patients",
            file.display(),
            r + 1
        );
    }
    let num = |name| io::floats(&f, name, &file);
    let flag = |name| io::bools(&f, name, &file);
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
    let cfg_dir = args
        .config
        .as_deref()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let (measure_name, measure_rows) =
        utilisation_measure(run, &cfg_dir, config, &f, &file, &rows, index)?;
    let tiers_rows = utilisation_tiers(&measure_rows);

    let n = patients.clinic.len();
    let mut cv = vec![None; n];
    let mut tier = vec![None; n];
    let mut measure = vec![None; n];
    let mut out_cv = Vec::with_capacity(f.num_rows());
    for (r, p) in rows.iter().enumerate() {
        let p = p.unwrap_or(0) as usize;
        let risk = assess_cv(&CvInputs {
            age: age[r],
            sex: patients.sex[p].as_deref(),
            smoker: smoker[r],
            sbp: sbp[r],
            total_chol: tc[r],
            hdl: hdl[r],
            has_cvd: cvd[r],
            has_diabetes: diabetes[r],
        });
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
        ],
    )?;
    Ok(RiskColumns {
        cv,
        tier,
        measure,
        measure_name,
        batch,
    })
}

/// Open firings with their evidence.
struct Firings {
    criteria: Vec<String>,
    gaps: Vec<OpenGap>,
    evidence: Vec<Option<String>>,
}

fn read_firings(run: &Path, index: &IdIndex) -> Result<Firings> {
    let file = run.join("firings.parquet");
    let b = io::read_parquet(&file)?;
    let who = index.lookup_all(&io::patient_ids(&b, &file)?, &file)?;
    let crit = io::strings(&b, "criterion_id", &file)?;
    let prio = io::floats(&b, "priority", &file)?;
    let status = io::strings(&b, "status", &file)?;
    let evidence = io::opt_strings(&b, "evidence", &file)?;
    let mut out = Firings {
        criteria: Vec::new(),
        gaps: Vec::new(),
        evidence: Vec::new(),
    };
    let mut crit_index: HashMap<String, u32> = HashMap::new();
    for r in 0..b.num_rows() {
        if status[r].as_deref() != Some("open") {
            continue;
        }
        let Some(p) = who[r] else {
            bail!(
                "{}: row {}: patient_id is not in patients",
                file.display(),
                r + 1
            );
        };
        let Some(c) = &crit[r] else {
            bail!("{}: row {}: criterion_id is null", file.display(), r + 1);
        };
        let priority = match prio[r] {
            Some(v) if (1.0..=10.0).contains(&v) && v.fract() == 0.0 => v as u8,
            other => bail!(
                "{}: row {}: priority {other:?} is not a whole number 1 to 10",
                file.display(),
                r + 1
            ),
        };
        let next = out.criteria.len() as u32;
        let ci = *crit_index.entry(c.clone()).or_insert_with(|| {
            out.criteria.push(c.clone());
            next
        });
        out.gaps.push(OpenGap {
            person: p,
            criterion: ci,
            priority,
        });
        out.evidence.push(evidence[r].clone());
    }
    Ok(out)
}

fn exclusions_batch(r: &Ranked, clinics: &[String]) -> Result<RecordBatch> {
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

/// Reads a capacities file when given.
pub fn read_capacities(path: Option<&Path>) -> Result<Capacities> {
    let Some(path) = path else {
        return Ok(Capacities::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Capacities::parse(&path.display().to_string(), &text)?)
}

/// Replaces `dir` with a freshly written folder in one rename (old one removed after).
fn write_dir_atomic(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    let tmp = io::temp_path(dir);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    for (name, bytes) in files {
        std::fs::write(tmp.join(name), bytes)
            .with_context(|| format!("writing {}", tmp.join(name).display()))?;
    }
    let old = dir.with_file_name(format!(
        ".{}.old-{}",
        dir.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    if dir.exists() {
        std::fs::rename(dir, &old)
            .with_context(|| format!("moving the old {} aside", dir.display()))?;
    }
    std::fs::rename(&tmp, dir)
        .with_context(|| format!("renaming {} to {}", tmp.display(), dir.display()))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    let info = RunInfo::read(&args.run)?;
    let config = match &args.config {
        Some(p) => RankConfig::parse(
            &p.display().to_string(),
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )?,
        None => RankConfig::default(),
    };
    let capacities = read_capacities(args.capacities.as_deref())?;
    let data = load_data(&info.data, info.as_of)?;
    let patients = PatientsTable::from_patients(&data.population.patients, info.as_of);
    let index = IdIndex::new(&patients.ids);
    let n = patients.clinic.len();
    let allowed = data.consents.allowed(ConsentScope::Outreach, info.as_of);
    let contacts = contacts_by_person(&data.outreach, n);
    drop(data);
    let risk = compute_risk(&args.run, &args, &config, &patients, &index)?;
    let firings = read_firings(&args.run, &index)?;
    let texts = match &info.library {
        Some(lib) => criterion_texts(lib)?,
        None => {
            eprintln!(
                "warning: run.json names no library: call lists show criterion ids instead of titles and no actions"
            );
            HashMap::new()
        }
    };
    let band: Vec<_> = risk
        .cv
        .iter()
        .map(|c| c.as_ref().and_then(|c| c.band))
        .collect();
    let people = People {
        ids: &patients.ids,
        clinic: &patients.clinic,
        n_clinics: patients.clinics.len(),
        alive: &patients.alive,
        dead: &patients.dead,
        outreach_allowed: &allowed,
        contacts: &contacts,
        band: &band,
        tier: &risk.tier,
    };
    let ranked = rank(
        &people,
        &firings.criteria,
        &firings.gaps,
        info.as_of,
        &config.cooldown_days,
        &config.weights,
    );

    io::write_parquet_atomic(&args.run.join("risk.parquet"), &risk.batch)?;
    let ctx = ListContext {
        ids: &patients.ids,
        clinics: &patients.clinics,
        language: &patients.language,
        cv: &risk.cv,
        tier: &risk.tier,
        measure: &risk.measure,
        measure_name: &risk.measure_name,
        criteria: &firings.criteria,
        gaps: &firings.gaps,
        evidence: &firings.evidence,
        texts: &texts,
    };
    let all = calllist_batch(&ranked.entries, &ctx)?;
    io::write_parquet_atomic(&args.run.join("calllist.parquet"), &all)?;
    io::write_parquet_atomic(
        &args.run.join("exclusions.parquet"),
        &exclusions_batch(&ranked, &patients.clinics)?,
    )?;

    let mut files = Vec::new();
    let mut audit_rows = Vec::new();
    let mut start = 0usize;
    for (ci, clinic) in patients.clinics.iter().enumerate() {
        let len = ranked.entries[start..]
            .iter()
            .take_while(|e| e.clinic as usize == ci)
            .count();
        let cap = capacities.of(clinic).map_or(len, |c| (c as usize).min(len));
        let batch = all.slice(start, cap);
        start += len;
        let name = format!(
            "{}.{}",
            io::clinic_file_stem(clinic),
            args.format.extension()
        );
        files.push((name.clone(), args.format.encode(&batch)?));
        audit_rows.push((clinic.clone(), cap, name));
    }
    // Clinic order in the entries is the patients-table order of first appearance.
    let calllists = args.run.join("calllists");
    write_dir_atomic(&calllists, &files)?;
    io::audit(
        &args.run,
        "rank",
        "ALL",
        ranked.entries.len(),
        "calllist.parquet",
    )?;
    for (clinic, rows, name) in &audit_rows {
        io::audit(
            &args.run,
            "rank",
            clinic,
            *rows,
            &format!("calllists/{name}"),
        )?;
    }
    let total: u64 = ranked.counts.iter().map(|c| c.with_gaps).sum();
    let mut excluded = [0u64; 4];
    for c in &ranked.counts {
        for (i, x) in c.excluded.iter().enumerate() {
            excluded[i] += x;
        }
    }
    eprintln!(
        "ranked {} people with open gaps in {} clinics (as of {}): {} listed; excluded: {}",
        total,
        patients.clinics.len(),
        info.as_of_text,
        ranked.entries.len(),
        Rule::ALL
            .iter()
            .zip(excluded)
            .map(|(r, x)| format!("{} {x}", r.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "wrote {}/{{risk,calllist,exclusions}}.parquet and {}/",
        args.run.display(),
        calllists.display()
    );
    Ok(())
}
