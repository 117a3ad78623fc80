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

use caregap::data::{self, Day, LoadOptions, Loaded};
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
    /// Event rows per chunk of the streaming evaluation: events sorted by
    /// patient (as `caregap synth` and `caregap import` write them) are read,
    /// evaluated and dropped a patient range of about this many rows at a
    /// time, so memory is bounded by the chunk, not the population. Unsorted
    /// events, or fewer rows than this, are read whole; 0 always reads them
    /// whole. The outputs are the same either way.
    #[arg(long, value_name = "ROWS", default_value_t = DEFAULT_CHUNK_EVENTS)]
    pub chunk_events: u64,
}

/// [`ScoreArgs::chunk_events`]' default: about 1 GB of event columns.
pub const DEFAULT_CHUNK_EVENTS: u64 = 50_000_000;

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

    let opts = LoadOptions {
        as_of,
        strict: args.strict,
        extra_event_files: Vec::new(),
    };
    let evidence = if args.status {
        EvidenceMode::InPopulation
    } else {
        EvidenceMode::Firings
    };
    // The patients, the events' files and, when the events are sorted by
    // patient, the plan of the ranges; or the whole population.
    let t = Instant::now();
    let loaded = data::load_streaming(&args.data, &opts, args.chunk_events)
        .with_context(|| cannot_load(&args.data))?;
    let read_s = t.elapsed().as_secs_f64();
    let mut scored = match loaded {
        Loaded::Whole(dataset) => score_in_memory(dataset, &plan, evidence, staging.dir())?,
        Loaded::Streaming(s) => score_streaming(s, &args.data, &plan, evidence, staging.dir())?,
    };
    scored.load_s += read_s;
    let Evaluated {
        dataset,
        summary,
        open,
        firings_rows,
        n_alive,
        n_events,
        unit_mismatches: mismatches,
        load_s,
        eval_s,
        write_s: files_s,
        patient_ranges,
    } = scored;
    let t = Instant::now();
    output::write_parquet(
        &staging.path("criteria_summary.parquet"),
        &tables::summary_batch(&summary)?,
    )?;
    let write_s = files_s + t.elapsed().as_secs_f64();
    let n_patients = dataset.population.patients.len();

    let unit_mismatches: serde_json::Map<String, serde_json::Value> = plan
        .value_sets
        .iter()
        .zip(&mismatches)
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
            "alive": n_alive,
            "events": n_events,
            "firings": open,
            "firings_rows": firings_rows,
        },
        "options": {"status": args.status, "strict": args.strict, "chunk_events": args.chunk_events},
        // 1: the events were read whole; more: a patient range at a time.
        "patient_ranges": patient_ranges,
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
        n_alive,
        data::format_day(as_of),
        plan.criteria.len(),
        out.display()
    );
    Ok(Scored {
        summary: text,
        tables: super::rank::DataTables::from_dataset(&args.data, as_of, dataset),
    })
}

/// What scoring leaves before the summary file and `run.json` are written.
struct Evaluated {
    /// The data folder's tables; the population's events are not kept.
    dataset: data::Dataset,
    summary: Vec<eval::SummaryRow>,
    open: usize,
    firings_rows: usize,
    n_alive: usize,
    n_events: usize,
    unit_mismatches: Vec<u64>,
    /// Reading the events range by range (the first read is the caller's).
    load_s: f64,
    eval_s: f64,
    /// Closing `firings.parquet` and `features.parquet`.
    write_s: f64,
    /// The patient ranges read one after another (1: read whole).
    patient_ranges: usize,
}

/// Adds a block's rows and counts.
fn add_blocks(
    blocks: Vec<Result<tables::ScoredBlock, output::OutputError>>,
    rows: &mut tables::FiringsRows,
    counts: &mut eval::SummaryCounts,
) -> Result<()> {
    for block in blocks {
        let block = block?;
        rows.open += block.firings.open;
        rows.rows += block.firings.rows;
        counts.add(&block.counts);
    }
    Ok(())
}

fn cannot_load(dir: &std::path::Path) -> String {
    format!("cannot load the population from {}", dir.display())
}

/// Scores a population read whole.
fn score_in_memory(
    mut dataset: data::Dataset,
    plan: &plan::Plan,
    evidence: EvidenceMode,
    dir: &std::path::Path,
) -> Result<Evaluated> {
    let pop = &dataset.population;
    let as_of = pop.as_of;
    let t = Instant::now();
    let bar = progress_bar(pop.patients.len() as u64);
    let tick = ticker(&bar);
    let eval_opts = EvalOptions {
        evidence,
        progress: Some(&tick),
    };
    // Part by part and block by block, while they are in cache, the
    // evaluation's results become row groups of firings.parquet and
    // features.parquet and summary counts; nothing of the size of the
    // population is kept (so the evaluation time includes encoding the two
    // files).
    let sink = tables::ScoreSink::create(dir, plan, pop)?;
    let (done, blocks) =
        eval::evaluate_blocks(plan, pop, as_of, &eval_opts, tables::BLOCK_PEOPLE, &sink)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut rows = tables::FiringsRows::default();
    // (No block when nobody is alive: every criterion's row is then zeros.)
    let mut counts = eval::SummaryCounts::zeros(plan, pop);
    add_blocks(blocks, &mut rows, &mut counts)?;
    let summary = counts.rows(plan, pop);
    let eval_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let n_events = pop.events.len();
    let (firings, features) = sink.into_files()?;
    // The events (most of the memory) are not needed any more: their pages
    // are given back on another thread while the files are closed.
    let events = std::mem::take(&mut dataset.population.events);
    std::thread::spawn(move || drop(events));
    finish_files(firings, features)?;
    Ok(Evaluated {
        dataset,
        summary,
        open: rows.open,
        firings_rows: rows.rows,
        n_alive: done.alive.len(),
        n_events,
        unit_mismatches: done.unit_mismatches,
        load_s: 0.0,
        eval_s,
        write_s: t.elapsed().as_secs_f64(),
        patient_ranges: 1,
    })
}

/// The progress bar's tick (nothing without a bar).
fn ticker(bar: &Option<indicatif::ProgressBar>) -> impl Fn(usize) + Sync + '_ {
    move |n| {
        if let Some(b) = bar {
            b.inc(n as u64);
        }
    }
}

fn finish_files(firings: InOrderFile, features: Option<InOrderFile>) -> Result<()> {
    let (firings, features) = rayon::join(
        || firings.finish(),
        || features.map_or(Ok(()), InOrderFile::finish),
    );
    firings?;
    features?;
    Ok(())
}

/// Reads and evaluates a patient range at a time ([`data::Streaming`]): the
/// blocks of every range go to one sink, numbered on from the range before,
/// so the files hold the same rows in the same order as [`score_in_memory`]
/// writes them.
fn score_streaming(
    mut s: data::Streaming,
    data_dir: &std::path::Path,
    plan: &plan::Plan,
    evidence: EvidenceMode,
    dir: &std::path::Path,
) -> Result<Evaluated> {
    let as_of = s.as_of();
    let everyone = s.patients_only();
    let sink = tables::ScoreSink::create(dir, plan, &everyone)?;
    let bar = progress_bar(s.n_patients() as u64);
    let tick = ticker(&bar);
    let eval_opts = EvalOptions {
        evidence,
        progress: Some(&tick),
    };
    let ranges = s.chunks();
    let mut rows = tables::FiringsRows::default();
    let mut counts = eval::SummaryCounts::zeros(plan, &everyone);
    let mut unit_mismatches = vec![0u64; plan.value_sets.len()];
    let (mut n_alive, mut n_events, mut next_block) = (0, 0, 0);
    let (mut load_s, mut eval_s) = (0.0, 0.0);
    for k in 0..ranges {
        let t = Instant::now();
        let chunk = s.read_chunk(k).with_context(|| cannot_load(data_dir))?;
        load_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let (done, blocks) = eval::evaluate_blocks_in(
            plan,
            &chunk.population,
            as_of,
            &eval_opts,
            tables::BLOCK_PEOPLE,
            chunk.people.clone(),
            next_block,
            &sink,
        )?;
        next_block += blocks.len();
        add_blocks(blocks, &mut rows, &mut counts)?;
        n_alive += done.alive.len();
        n_events += chunk.population.events.len();
        for (sum, x) in unit_mismatches.iter_mut().zip(&done.unit_mismatches) {
            *sum += x;
        }
        s.restore(chunk);
        eval_s += t.elapsed().as_secs_f64();
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let summary = counts.rows(plan, &everyone);
    let t = Instant::now();
    let (firings, features) = sink.into_files()?;
    finish_files(firings, features)?;
    let write_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let dataset = s.finish().with_context(|| cannot_load(data_dir))?;
    load_s += t.elapsed().as_secs_f64();
    Ok(Evaluated {
        dataset,
        summary,
        open: rows.open,
        firings_rows: rows.rows,
        n_alive,
        n_events,
        unit_mismatches,
        load_s,
        eval_s,
        write_s,
        patient_ranges: ranges,
    })
}
