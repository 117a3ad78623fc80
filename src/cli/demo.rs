//! `caregap demo`: the main job end to end on a generated population, in
//! process: generate (seed 42, as of 2026-01-01, 5 years of history) → score
//! with the shipped criteria library → rank → report, then the top of one
//! clinic's call list.
//!
//! Layout of `--out DIR` (default `./demo`): `data/` (the generated tables),
//! `run/` (scoring, risk, call lists, `audit.log`) and `report.html`. Files of
//! an earlier demo in the same folder are replaced. Showing the list on the
//! terminal is an access like any other and is written to `run/audit.log`.

use super::rank::{self, Format, io};
use super::{report, score};
use anyhow::{Context, Result, bail};
use arrow::array::{Array, AsArray, RecordBatch};
use chrono::NaiveDate;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The demo population's scoring date.
const AS_OF: &str = "2026-01-01";
/// The demo population's seed.
const SEED: u64 = 42;
/// Rows of the call list shown.
const SHOWN: usize = 10;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of people to generate.
    #[arg(long, default_value_t = 20_000)]
    pub patients: u64,
    /// Folder for the data, the run and the report (created if missing).
    #[arg(long, default_value = "demo")]
    pub out: PathBuf,
    /// The clinic whose call list is shown (default: the one with the most people listed).
    #[arg(long)]
    pub clinic: Option<String>,
    /// Criteria library (default: `criteria/` in the current folder, else the one
    /// shipped with the source tree this binary was built from).
    #[arg(long)]
    pub criteria: Option<PathBuf>,
    /// Then serve the run to a demo scheduler and analyst (`caregap serve`), printing
    /// their passwords once and the address last.
    #[arg(long)]
    pub serve: bool,
}

/// The library to score with: the option, `./criteria`, or the source tree's.
fn find_criteria(arg: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = arg {
        if !p.exists() {
            bail!("--criteria {}: no such file or folder", p.display());
        }
        return Ok(p.to_path_buf());
    }
    let here = PathBuf::from("criteria");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("criteria");
    [here, shipped.clone()]
        .into_iter()
        .find(|p| p.is_dir())
        .with_context(|| {
            format!(
                "no criteria library: neither ./criteria nor {} exists; pass --criteria DIR",
                shipped.display()
            )
        })
}

/// One step's line: what, where, how long.
fn step(what: &str, path: &Path, started: Instant) {
    println!(
        "  {what:<9} {:<32} {:>6.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
}

/// Cuts `s` to `n` characters, marking the cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Rows of one clinic in the whole ordered list (`calllist.parquet`).
fn clinic_rows(all: &RecordBatch, clinic: &str, path: &Path) -> Result<Vec<usize>> {
    let clinics = io::strings(all, "clinic_id", path)?;
    Ok((0..all.num_rows())
        .filter(|r| clinics[*r].as_deref() == Some(clinic))
        .collect())
}

/// The clinic with the most people listed (ties: the smallest id).
fn busiest_clinic(all: &RecordBatch, path: &Path) -> Result<Option<String>> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for c in io::strings(all, "clinic_id", path)?.into_iter().flatten() {
        *counts.entry(c).or_default() += 1;
    }
    Ok(counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(c, _)| c))
}

/// Prints the top of `clinic`'s list and logs the access.
fn show_top(run: &Path, clinic: Option<&str>) -> Result<()> {
    let path = run.join("calllist.parquet");
    let all = io::read_parquet(&path)?;
    let clinic = match clinic {
        Some(c) => c.to_string(),
        None => match busiest_clinic(&all, &path)? {
            Some(c) => c,
            None => {
                println!("\nno one is on any call list");
                return Ok(());
            }
        },
    };
    let exf = run.join("exclusions.parquet");
    let known = io::strings(&io::read_parquet(&exf)?, "clinic_id", &exf)?;
    if !known.iter().flatten().any(|c| *c == clinic) {
        let names: Vec<&str> = known.iter().flatten().map(String::as_str).collect();
        bail!(
            "--clinic {clinic:?} is not a clinic of the demo population; clinics: {}",
            names.join(", ")
        );
    }
    let rows = clinic_rows(&all, &clinic, &path)?;
    let ids = arrow::compute::cast(
        all.column_by_name("patient_id")
            .context("calllist.parquet: no patient_id")?,
        &arrow::datatypes::DataType::Utf8,
    )?;
    let ids = ids.as_string::<i32>();
    let band = io::strings(&all, "band", &path)?;
    let when = io::strings(&all, "time_frame", &path)?;
    let benefit = io::strings(&all, "expected_benefit", &path)?;
    let reasons = io::strings(&all, "top_reasons", &path)?;
    let text = |v: &[Option<String>], r: usize| v[r].clone().unwrap_or_default();
    println!(
        "\ncall list of {clinic}: {} people listed ({} urgent), top {}:",
        rows.len(),
        rows.iter()
            .filter(|&&r| band[r].as_deref() == Some("urgent"))
            .count(),
        rows.len().min(SHOWN)
    );
    println!(
        "  {:>3} {:>7}  band, when: expected benefit",
        "#", "patient"
    );
    println!("  {:>11}  reasons (the first three)", "");
    let shown = &rows[..rows.len().min(SHOWN)];
    for (i, &r) in shown.iter().enumerate() {
        println!(
            "  {:>3} {:>7}  {}, {}: {}",
            i + 1,
            if ids.is_null(r) { "" } else { ids.value(r) },
            text(&band, r),
            text(&when, r),
            text(&benefit, r),
        );
        println!("  {:>11}  {}", "", clip(&text(&reasons, r), 100));
    }
    io::audit(run, "demo", &clinic, shown.len(), "stdout")?;
    println!(
        "\nthe whole list: caregap calllist --run {} --clinic {clinic} --capacity 50",
        run.display()
    );
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    let criteria = find_criteria(args.criteria.as_deref())?;
    let data = args.out.join("data");
    let run = args.out.join("run");
    let report_file = args.out.join("report.html");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let as_of = NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d")?;
    println!(
        "caregap demo: {} generated people, as of {AS_OF}, criteria {}",
        args.patients,
        criteria.display()
    );

    let t = Instant::now();
    let mut cfg = caregap_synth::Config::new(args.patients, SEED, as_of);
    cfg.years = 5;
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| indicatif::ProgressBar::new(args.patients).with_message("generating"));
    caregap_synth::generate(&cfg, &data, &|p: caregap_synth::Progress| {
        if let Some(bar) = &bar {
            bar.set_position(p.done);
        }
    })
    .with_context(|| format!("generating the demo population into {}", data.display()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    step("generate", &data, t);

    let t = Instant::now();
    // The per-criterion table is in run/criteria_summary.parquet and the report.
    let scored = score::execute(score::ScoreArgs {
        data: data.clone(),
        criteria,
        as_of: Some(AS_OF.into()),
        out: run.clone(),
        status: false,
        strict: false,
        by_clinic: false,
        chunk_events: score::DEFAULT_CHUNK_EVENTS,
    })?;
    step("score", &run, t);

    let t = Instant::now();
    rank::run_with(
        rank::Args {
            command: None,
            run: Some(run.clone()),
            order: None,
            config: None,
            capacities: None,
            format: Format::Csv,
        },
        Some(scored.tables),
    )?;
    step("rank", &run.join("calllists"), t);

    let t = Instant::now();
    report::run(report::Args {
        run: run.clone(),
        out: report_file.clone(),
        min_cell: 5,
    })?;
    step("report", &report_file, t);

    show_top(&run, args.clinic.as_deref())?;
    if args.serve {
        super::serve::demo(&args.out, &run, args.clinic.as_deref())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_marks_the_cut() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("ääää", 3), "ää…");
    }
}
