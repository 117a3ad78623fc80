//! `caregap score`: load the population, compile the library, evaluate every
//! criterion and feature for the people alive on `as_of`, and write
//! `firings.parquet`, `criteria_summary.parquet`, `features.parquet` (when the
//! library has features) and `run.json` into OUTDIR atomically: everything is
//! written into a hidden sibling directory that is renamed into place at the
//! end, so a failed or killed run never leaves a half-written OUTDIR.
//!
//! The evaluation runs block by block ([`eval::evaluate_blocks`] with a
//! [`tables::ScoreSink`]): each block of at most [`tables::BLOCK_PEOPLE`]
//! people becomes a row group of `firings.parquet`, encoded part by part as
//! soon as each part is evaluated, and of `features.parquet` (appended to the
//! files in block order as soon as the blocks before it are), and summary
//! counts. So in `run.json`'s `timings_s`, `evaluate` includes encoding
//! and appending those two files' row groups, and `write` is closing and
//! syncing them and writing `criteria_summary.parquet`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use caregap::data::{self, Day, LoadOptions};
use caregap::eval::{self, EvalOptions, EvidenceMode};
use caregap::output::{self, InOrderFile, StagingDir, tables};
use caregap::plan;

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Folder of the population's Parquet tables (patients, events, ...).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Criteria library: a folder of *.toml files (or one .toml file).
    #[arg(long, value_name = "LIBRARY")]
    pub criteria: PathBuf,
    /// Scoring date, YYYY-MM-DD (default: today).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Output folder (replaced atomically when the run succeeds).
    #[arg(long, value_name = "OUTDIR")]
    pub out: PathBuf,
    /// Also write the excluded and closed rows of every person in a
    /// criterion's population to firings.parquet.
    #[arg(long)]
    pub status: bool,
    /// Make any unusable input row an error instead of counting it.
    #[arg(long)]
    pub strict: bool,
    /// Print the summary table per clinic too (criteria_summary.parquet always
    /// has every clinic; by default stdout shows the all-clinics rows).
    #[arg(long)]
    pub by_clinic: bool,
}

/// Parses `YYYY-MM-DD`, or today when absent.
pub fn parse_as_of(arg: Option<&str>) -> Result<Day> {
    match arg {
        None => Ok(data::today()),
        Some(s) => data::parse_day(s)
            .with_context(|| format!("--as-of {s:?} is not a date; write it as YYYY-MM-DD")),
    }
}

fn progress_bar(len: u64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:10} [{bar:40}] {pos}/{len} people ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("scoring");
    Some(bar)
}

pub fn run(args: ScoreArgs) -> Result<()> {
    print!("{}", execute(args)?.summary);
    Ok(())
}

/// What a scoring leaves to its caller.
pub struct Scored {
    /// The per-criterion summary table as text, for the caller to show.
    pub summary: String,
    /// The data folder's patients, consents and outreach, for a ranking
    /// that follows in the same process ([`super::rank::run_with`]).
    pub tables: super::rank::DataTables,
}

/// Scores and writes OUTDIR (one line of totals on stderr).
pub fn execute(args: ScoreArgs) -> Result<Scored> {
    let started = Instant::now();
    let as_of = parse_as_of(args.as_of.as_deref())?;

    // The output is locked (a second run into it is refused at once) and
    // what killed runs left beside it is cleared before the long work starts.
    let staging = StagingDir::new(&args.out)?;
    super::say_removed(staging.removed_stale());

    let t = Instant::now();
    let library = super::check::load_library(&args.criteria)?;
    let lib_files = super::check::read_library(&args.criteria)?;
    let plan = plan::compile(&library);
    let compile_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let opts = LoadOptions {
        as_of,
        strict: args.strict,
        extra_event_files: Vec::new(),
    };
    let mut dataset = data::load(&args.data, &opts)
        .with_context(|| format!("cannot load the population from {}", args.data.display()))?;
    let pop = &dataset.population;
    let load_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let bar = progress_bar(pop.patients.len() as u64);
    let tick = |n: usize| {
        if let Some(b) = &bar {
            b.inc(n as u64);
        }
    };
    let eval_opts = EvalOptions {
        evidence: if args.status {
            EvidenceMode::InPopulation
        } else {
            EvidenceMode::Firings
        },
        progress: Some(&tick),
    };
    // Part by part and block by block, while they are in cache, the
    // evaluation's results become row groups of firings.parquet and
    // features.parquet and summary counts; nothing of the size of the
    // population is kept (so the evaluation time includes encoding the two
    // files).
    let sink = tables::ScoreSink::create(staging.dir(), &plan, pop)?;
    let (done, blocks) =
        eval::evaluate_blocks(&plan, pop, as_of, &eval_opts, tables::BLOCK_PEOPLE, &sink)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut rows = tables::FiringsRows::default();
    // (No block when nobody is alive: every criterion's row is then zeros.)
    let mut counts = eval::SummaryCounts::zeros(&plan, pop);
    for block in blocks {
        let block = block?;
        rows.open += block.firings.open;
        rows.rows += block.firings.rows;
        counts.add(&block.counts);
    }
    let summary = counts.rows(&plan, pop);
    let eval_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let (open, firings_rows) = (rows.open, rows.rows);
    let (n_patients, n_events) = (pop.patients.len(), pop.events.len());
    let (firings, features) = sink.into_files()?;
    // The events (most of the memory) are not needed any more: their pages
    // are given back on another thread while the files are closed.
    let events = std::mem::take(&mut dataset.population.events);
    std::thread::spawn(move || drop(events));
    let (firings, features) = rayon::join(
        || firings.finish(),
        || features.map_or(Ok(()), InOrderFile::finish),
    );
    firings?;
    features?;
    output::write_parquet(
        &staging.path("criteria_summary.parquet"),
        &tables::summary_batch(&summary)?,
    )?;
    let write_s = t.elapsed().as_secs_f64();

    let unit_mismatches: serde_json::Map<String, serde_json::Value> = plan
        .value_sets
        .iter()
        .zip(&done.unit_mismatches)
        .filter(|(vs, _)| vs.unit.is_some())
        .map(|(vs, &n)| (vs.name.clone(), json!(n)))
        .collect();
    let run = json!({
        "engine_version": env!("CARGO_PKG_VERSION"),
        "as_of": data::format_day(as_of),
        "data_dir": args.data.display().to_string(),
        "inputs": dataset.report.tables.iter().map(|t| json!({
            "table": t.table.as_str(),
            "files": t.files.iter().map(|f| json!({"path": f.path, "rows": f.rows})).collect::<Vec<_>>(),
            "rows_read": t.rows_read,
            "rows_used": t.rows_used,
            "rows_rejected": t.rows_rejected,
            "rows_after_as_of": t.rows_after_as_of,
        })).collect::<Vec<_>>(),
        "rejected_rows": dataset.report.rejected,
        "library": {
            "path": args.criteria.display().to_string(),
            "hash": library.hash,
            "files": lib_files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            "value_sets": library.value_sets.len(),
            "definitions": library.definitions.len(),
            "criteria": library.criteria.len(),
            "features": library.features.len(),
            "distinct_aggregates": plan.aggregates.len(),
        },
        "unit_mismatches": unit_mismatches,
        "counts": {
            "patients": n_patients,
            "alive": done.alive.len(),
            "events": n_events,
            "firings": open,
            "firings_rows": firings_rows,
        },
        "options": {"status": args.status, "strict": args.strict},
        "timings_s": {
            "compile": compile_s,
            "load": load_s,
            "evaluate": eval_s,
            "write": write_s,
            "total": started.elapsed().as_secs_f64(),
        },
    });
    let text = serde_json::to_string_pretty(&run).context("cannot serialise run.json")?;
    std::fs::write(staging.path("run.json"), text)
        .with_context(|| format!("cannot write {}", staging.path("run.json").display()))?;
    let out = staging.commit()?;

    let text = if args.by_clinic {
        tables::summary_text(&summary)
    } else {
        let all: Vec<_> = summary
            .iter()
            .filter(|r| r.clinic == "ALL")
            .cloned()
            .collect();
        tables::summary_text(&all)
    };
    eprintln!(
        "scored {} people alive on {} against {} criteria: {open} open gaps; wrote {}",
        done.alive.len(),
        data::format_day(as_of),
        plan.criteria.len(),
        out.display()
    );
    Ok(Scored {
        summary: text,
        tables: super::rank::DataTables::from_dataset(&args.data, as_of, dataset),
    })
}
