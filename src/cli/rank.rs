//! `caregap rank --run OUTDIR`: risk per person, priorities, exclusions and the
//! call lists of every clinic, from a `caregap score` run folder.
//!
//! Reads `OUTDIR/run.json`, `features.parquet`, `firings.parquet`, the data
//! folder's `patients`, `consents` and `outreach` tables and the library's
//! criterion texts. Writes, each atomically: `risk.parquet`,
//! `calllist.parquet` (every clinic's whole ordered list), `exclusions.parquet`
//! and `calllists/<clinic>.csv|parquet|json` (cut at each clinic's capacity).

pub mod evaluate;
pub mod io;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use caregap::data::{Dataset, Day, LoadOptions};
use caregap::output::StagingDir;
use caregap::rank::benefit::Order;
use caregap::rank::config::{Capacities, RankConfig};
use caregap::rank::exclusions::Rule;
use caregap::rank::export::{CALLLIST_STYLES, CriterionText};
use caregap::rank::pipeline::{self, RankInputs, Table};
use io::RunInfo;
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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

    /// Writes the batch in this format as the new file `path` (CSV
    /// streamed row by row).
    pub fn write(self, b: &RecordBatch, path: &Path) -> Result<()> {
        match self {
            Format::Csv => {
                let mut f = std::fs::File::create(path)?;
                caregap::rank::export::write_csv(b, &mut f)?;
                Ok(())
            }
            _ => Ok(std::fs::write(path, self.encode(b)?)?),
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
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<RankCommand>,
    /// The output folder of `caregap score`.
    #[arg(long, required = true)]
    pub run: Option<PathBuf>,
    /// List order: `benefit` (urgent band first, then expected benefit) or
    /// `additive` (the old priority score). Overrides `order` in --config.
    #[arg(long, value_enum)]
    pub order: Option<Order>,
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

#[derive(Debug, clap::Subcommand)]
pub enum RankCommand {
    /// Score list orders by the next year's outcomes of a generated population.
    Evaluate(evaluate::Args),
}

/// What a ranking reads of the data folder: the people, their consents and
/// the outreach log (not the events). `caregap score` hands its own over when
/// a ranking follows in the same process (`caregap nightly`, `caregap demo`),
/// so the folder is read once a night instead of twice.
pub struct DataTables {
    /// The data folder and the `as_of` they were loaded for.
    pub data: PathBuf,
    pub as_of: Day,
    pub patients: caregap::data::Patients,
    pub consents: caregap::data::Consents,
    pub outreach: caregap::data::Outreach,
    /// What the load set aside of the consents and the outreach log, said
    /// by the ranking that uses them.
    warnings: Vec<String>,
}

impl DataTables {
    /// Loads the data folder through the data layer (its events dropped).
    pub fn load(data: &Path, as_of: Day) -> Result<DataTables> {
        let ds = caregap::data::load(data, &LoadOptions::new(as_of))
            .with_context(|| format!("loading the data folder {}", data.display()))?;
        Ok(DataTables::from_dataset(data, as_of, ds))
    }

    /// Keeps what a ranking needs of a loaded folder.
    pub fn from_dataset(data: &Path, as_of: Day, ds: Dataset) -> DataTables {
        let warnings = ds
            .report
            .tables
            .iter()
            .filter(|t| {
                t.rows_rejected > 0
                    && matches!(
                        t.table,
                        caregap::data::Table::Consents | caregap::data::Table::Outreach
                    )
            })
            .map(|t| {
                format!(
                    "warning: {}: {} of {} rows unusable (see `caregap inspect`): not used",
                    t.table, t.rows_rejected, t.rows_read
                )
            })
            .collect();
        DataTables {
            warnings,
            data: data.to_path_buf(),
            as_of,
            patients: ds.population.patients,
            consents: ds.consents,
            outreach: ds.outreach,
        }
    }

    /// Whether these were loaded from `data` for `as_of`.
    fn loaded_for(&self, data: &Path, as_of: Day) -> bool {
        let same = match (
            std::fs::canonicalize(&self.data),
            std::fs::canonicalize(data),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        same && self.as_of == as_of
    }
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

/// Reads a capacities file when given.
pub fn read_capacities(path: Option<&Path>) -> Result<Capacities> {
    let Some(path) = path else {
        return Ok(Capacities::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Capacities::parse(&path.display().to_string(), &text)?)
}

/// Reads the run's files, ranks in the library and writes the outputs.
pub fn run(args: Args) -> Result<()> {
    run_with(args, None)
}

/// [`run`] with the data folder's tables already loaded (by the scoring step
/// of the same process); they are used when they are of the run's data
/// folder and `as_of`, else the folder is read.
pub fn run_with(args: Args, tables: Option<DataTables>) -> Result<()> {
    if let Some(RankCommand::Evaluate(e)) = args.command {
        return evaluate::run(e);
    }
    let run_dir = args
        .run
        .clone()
        .context("--run RUN is required (the output folder of `caregap score`)")?;
    let config = read_config(args.config.as_deref(), args.order)?;
    let capacities = read_capacities(args.capacities.as_deref())?;
    let files = RunFiles::read(&run_dir, args.config.as_deref(), &config, tables)?;
    let inputs = files.inputs();
    let out = pipeline::rank_run(&inputs, &config, &files.texts, &capacities)?;
    drop(files);

    // The ranking's outputs switch into the run folder as one unit with it
    // (a new version of the folder, the score's files hard-linked): a killed
    // rank leaves the previous ranking whole, never a mix of two.
    let staging = StagingDir::update(&run_dir)?;
    super::say_removed(staging.removed_stale());
    let calllists = staging.path("calllists");
    if calllists.exists() {
        // Links to the previous version's lists: removing them leaves those whole.
        std::fs::remove_dir_all(&calllists)
            .with_context(|| format!("clearing {}", calllists.display()))?;
    }
    std::fs::create_dir(&calllists).with_context(|| format!("creating {}", calllists.display()))?;
    // The three tables and every clinic's list are written at once, spread
    // over the cores (the lists' text is most of the work).
    let tables = || -> Result<()> {
        for (name, batch, styles) in [
            ("risk.parquet", &out.risk, &[][..]),
            ("calllist.parquet", &out.calllist, &CALLLIST_STYLES[..]),
            ("exclusions.parquet", &out.exclusions, &[][..]),
        ] {
            caregap::output::write_parquet_styled(&staging.path(name), batch, styles)
                .with_context(|| format!("writing {name} of {}", run_dir.display()))?;
        }
        Ok(())
    };
    let lists = || -> Result<Vec<(String, usize, String)>> {
        out.clinics
            .par_iter()
            .map(|c| {
                let batch = out.calllist.slice(c.start, c.cut);
                let name = format!(
                    "{}.{}",
                    io::clinic_file_stem(&c.clinic),
                    args.format.extension()
                );
                let path = calllists.join(&name);
                args.format.write(&batch, &path).with_context(|| {
                    format!("writing calllists/{name} of {}", run_dir.display())
                })?;
                Ok((c.clinic.clone(), c.cut, name))
            })
            .collect()
    };
    let (written, audit_rows) = rayon::join(tables, lists);
    written?;
    let audit_rows = audit_rows?;
    staging.commit()?;
    let calllists = run_dir.join("calllists");
    let ranked = &out.ranked;
    io::audit(
        &run_dir,
        "rank",
        "ALL",
        ranked.entries.len(),
        "calllist.parquet",
    )?;
    for (clinic, rows, name) in &audit_rows {
        io::audit(
            &run_dir,
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
    let urgent = ranked
        .entries
        .iter()
        .filter(|e| e.band == caregap::rank::benefit::Band::Urgent)
        .count();
    eprintln!(
        "ranked {} people with open gaps in {} clinics (as of {}, order {}): {} listed, {} urgent; excluded: {}",
        total,
        out.clinics.len(),
        files_as_of(&run_dir)?,
        config.order.as_str(),
        ranked.entries.len(),
        urgent,
        Rule::ALL
            .iter()
            .zip(excluded)
            .map(|(r, x)| format!("{} {x}", r.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "wrote {}/{{risk,calllist,exclusions}}.parquet and {}/",
        run_dir.display(),
        calllists.display()
    );
    Ok(())
}

fn files_as_of(run: &Path) -> Result<String> {
    Ok(RunInfo::read(run)?.as_of_text)
}

/// The ranking configuration: `--config` (or defaults), `--order` over it.
pub fn read_config(path: Option<&Path>, order: Option<Order>) -> Result<RankConfig> {
    let mut config = match path {
        Some(p) => RankConfig::parse(
            &p.display().to_string(),
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )?,
        None => RankConfig::default(),
    };
    if let Some(o) = order {
        config.order = o;
    }
    Ok(config)
}

/// The files a ranking reads, read: the data folder (through the loader),
/// features, firings, predictions and the library's texts.
pub struct RunFiles {
    pub info: RunInfo,
    /// The data folder's patients, consents and outreach (its events are
    /// dropped once loaded: ranking reads none of them).
    pub patients: caregap::data::Patients,
    pub consents: caregap::data::Consents,
    pub outreach: caregap::data::Outreach,
    pub features_file: PathBuf,
    pub features: RecordBatch,
    pub firings_file: PathBuf,
    pub firings: RecordBatch,
    pub predictions: Option<(PathBuf, RecordBatch)>,
    pub texts: HashMap<String, CriterionText>,
}

impl RunFiles {
    /// Reads the run's files; `tables` when they are of the run's data
    /// folder and `as_of` (see [`run_with`]), else the data folder.
    pub fn read(
        run: &Path,
        config_file: Option<&Path>,
        config: &RankConfig,
        tables: Option<DataTables>,
    ) -> Result<RunFiles> {
        let info = RunInfo::read(run)?;
        let DataTables {
            patients,
            consents,
            outreach,
            warnings,
            ..
        } = match tables {
            Some(t) if t.loaded_for(&info.data, info.as_of) => t,
            _ => DataTables::load(&info.data, info.as_of)?,
        };
        for w in warnings {
            eprintln!("{w}");
        }
        let features_file = run.join("features.parquet");
        let firings_file = run.join("firings.parquet");
        let predictions = match &config.predictions {
            Some(pred) => {
                let p = PathBuf::from(pred);
                let p = if p.is_relative() {
                    config_file
                        .and_then(Path::parent)
                        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
                        .join(p)
                } else {
                    p
                };
                let b = io::read_parquet(&p)?;
                Some((p, b))
            }
            None => None,
        };
        let texts = || match &info.library {
            Some(lib) => criterion_texts(lib),
            None => {
                eprintln!(
                    "warning: run.json names no library: call lists show criterion ids instead of titles and no actions"
                );
                Ok(HashMap::new())
            }
        };
        // The two run files and the library, read at once.
        let ((features, firings), texts) = rayon::join(
            || {
                rayon::join(
                    || io::read_parquet(&features_file),
                    || io::read_parquet(&firings_file),
                )
            },
            texts,
        );
        Ok(RunFiles {
            features: features?,
            firings: firings?,
            texts: texts?,
            info,
            patients,
            consents,
            outreach,
            features_file,
            firings_file,
            predictions,
        })
    }

    pub fn inputs(&self) -> RankInputs<'_> {
        RankInputs {
            as_of: self.info.as_of,
            patients: &self.patients,
            consents: &self.consents,
            outreach: &self.outreach,
            features: Table {
                file: &self.features_file,
                batch: &self.features,
            },
            firings: Table {
                file: &self.firings_file,
                batch: &self.firings,
            },
            predictions: self
                .predictions
                .as_ref()
                .map(|(f, b)| Table { file: f, batch: b }),
        }
    }
}
