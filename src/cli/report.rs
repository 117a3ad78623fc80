//! `caregap report --run OUTDIR --out report.html [--min-cell 5]`: the
//! aggregate report of a scored and ranked run, with small-cell suppression
//! (see `caregap::report::suppress`). Reads `run.json`,
//! `criteria_summary.parquet`, `risk.parquet` and `exclusions.parquet`.

use super::rank::io;
use anyhow::{Result, bail};
use caregap::rank::exclusions::Rule;
use caregap::rank::risk::UtilTier;
use caregap::rank::score2::RiskBand;
use caregap::report::{CriterionCounts, Grid, ReportData, render_html_with};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The output folder of `caregap score` + `caregap rank`.
    #[arg(long)]
    pub run: PathBuf,
    /// The HTML file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Counts under this are suppressed (`<N`), with their complements.
    #[arg(long, default_value_t = 5)]
    pub min_cell: u64,
}

/// Counts `(clinic, category)` pairs into a grid; `None` categories go to the last column.
fn grid(
    clinics: &[String],
    categories: Vec<String>,
    pairs: impl Iterator<Item = (Option<String>, Option<usize>)>,
) -> Grid {
    let at: HashMap<&str, usize> = clinics
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let mut rows = vec![vec![0u64; categories.len()]; clinics.len()];
    let last = categories.len() - 1;
    for (clinic, cat) in pairs {
        if let Some(&i) = clinic.as_deref().and_then(|c| at.get(c)) {
            rows[i][cat.unwrap_or(last)] += 1;
        }
    }
    Grid { categories, rows }
}

pub fn run(args: Args) -> Result<()> {
    let info = io::RunInfo::read(&args.run)?;
    let exf = args.run.join("exclusions.parquet");
    if !exf.exists() {
        bail!(
            "{} does not exist: run `caregap rank --run {}` first",
            exf.display(),
            args.run.display()
        );
    }
    let ex = io::read_parquet(&exf)?;
    let ex_clinic = io::strings(&ex, "clinic_id", &exf)?;
    let mut clinics: Vec<String> = ex_clinic.iter().flatten().cloned().collect();
    clinics.sort();
    let order: HashMap<&str, usize> = clinics
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();

    // Exclusions grid.
    let mut cats = vec!["listed".to_string()];
    cats.extend(Rule::ALL.iter().map(|r| r.as_str().to_string()));
    let mut ex_rows = vec![vec![0u64; cats.len()]; clinics.len()];
    for (j, name) in cats.iter().enumerate() {
        for (r, v) in io::counts(&ex, name, &exf)?.into_iter().enumerate() {
            if let Some(&i) = ex_clinic[r].as_deref().and_then(|c| order.get(c)) {
                ex_rows[i][j] = v;
            }
        }
    }
    let exclusions = Grid {
        categories: cats,
        rows: ex_rows,
    };

    // Risk and tiers.
    let rf = args.run.join("risk.parquet");
    let risk = io::read_parquet(&rf)?;
    let r_clinic = io::strings(&risk, "clinic_id", &rf)?;
    let band = io::strings(&risk, "cv_band", &rf)?;
    let tier = io::strings(&risk, "utilisation_tier", &rf)?;
    let mut band_cats: Vec<String> = RiskBand::ALL
        .iter()
        .map(|b| b.as_str().to_string())
        .collect();
    band_cats.push("no estimate".into());
    let bands = grid(
        &clinics,
        band_cats,
        r_clinic.iter().cloned().zip(band.iter().map(|b| {
            RiskBand::ALL
                .iter()
                .position(|x| Some(x.as_str()) == b.as_deref())
        })),
    );
    let mut tier_cats: Vec<String> = UtilTier::ALL
        .iter()
        .map(|t| t.as_str().to_string())
        .collect();
    tier_cats.push("no measure".into());
    let tiers = grid(
        &clinics,
        tier_cats,
        r_clinic.iter().cloned().zip(tier.iter().map(|t| {
            UtilTier::ALL
                .iter()
                .position(|x| Some(x.as_str()) == t.as_deref())
        })),
    );

    // Criteria.
    let sf = args.run.join("criteria_summary.parquet");
    let s = io::read_parquet(&sf)?;
    let s_crit = io::strings(&s, "criterion_id", &sf)?;
    let s_clinic = io::strings(&s, "clinic_id", &sf)?;
    // The denominator is the engine's: in the population and not excluded.
    let s_pop: Vec<u64> = io::counts(&s, "in_population", &sf)?
        .into_iter()
        .zip(io::counts(&s, "excluded", &sf)?)
        .map(|(p, x)| p.saturating_sub(x))
        .collect();
    let s_open = io::counts(&s, "open", &sf)?;
    let texts = match &info.library {
        Some(lib) => super::rank::criterion_texts(lib)?,
        None => HashMap::new(),
    };
    let mut crits: BTreeMap<String, CriterionCounts> = BTreeMap::new();
    for r in 0..s.num_rows() {
        let (Some(id), Some(clinic)) = (&s_crit[r], &s_clinic[r]) else {
            continue;
        };
        let c = crits.entry(id.clone()).or_insert_with(|| CriterionCounts {
            id: id.clone(),
            title: texts
                .get(id)
                .map_or_else(|| id.clone(), |t| t.title.clone()),
            in_population: vec![0; clinics.len()],
            open: vec![0; clinics.len()],
            all_in_population: 0,
            all_open: 0,
        });
        if clinic == "ALL" {
            c.all_in_population = s_pop[r];
            c.all_open = s_open[r];
        } else if let Some(&i) = order.get(clinic.as_str()) {
            c.in_population[i] = s_pop[r];
            c.open[i] = s_open[r];
        }
    }
    let data = ReportData {
        subtitle: format!(
            "as of {}; data {}; library {}{}",
            info.as_of_text,
            info.data.display(),
            info.library
                .as_ref()
                .map_or_else(|| "?".into(), |l| l.display().to_string()),
            info.library_hash
                .as_ref()
                .map(|h| format!(" (sha256 {h})"))
                .unwrap_or_default()
        ),
        clinics,
        criteria: crits.into_values().collect(),
        bands,
        tiers,
        exclusions,
        capture: read_capture(&args.run)?,
    };
    // A nightly run's diff with the previous run and outreach effect, when present.
    let mut sections = Vec::new();
    if let Some(d) = caregap::runs::diff::read_summary(&args.run.join("diff")) {
        sections.push(caregap::report::nightly::diff_section(&d));
    }
    if let Some(e) = caregap::runs::effect::read_effect(&args.run.join("effect")) {
        sections.push(caregap::report::nightly::effect_section(&e));
    }
    let html = render_html_with(&data, args.min_cell, &sections);
    super::say_removed(&caregap::output::replace_file(&args.out, html.as_bytes())?);
    eprintln!(
        "wrote {} (cells under {} suppressed)",
        args.out.display(),
        args.min_cell
    );
    Ok(())
}

/// The all-clinic rows of `RUN/evaluation.parquet` (`caregap rank evaluate`), if any.
fn read_capture(run: &std::path::Path) -> Result<Vec<caregap::report::CapturePoint>> {
    let file = run.join("evaluation.parquet");
    if !file.is_file() {
        return Ok(Vec::new());
    }
    let b = io::read_parquet(&file)?;
    let clinic = io::strings(&b, "clinic_id", &file)?;
    let order = io::strings(&b, "order", &file)?;
    let capacity = io::counts(&b, "capacity", &file)?;
    let reached = io::counts(&b, "events_reached", &file)?;
    let total = io::counts(&b, "events_clinic", &file)?;
    Ok((0..b.num_rows())
        .filter(|&r| clinic[r].as_deref() == Some("ALL"))
        .map(|r| caregap::report::CapturePoint {
            order: order[r].clone().unwrap_or_default(),
            capacity: capacity[r],
            events_reached: reached[r],
            events_total: total[r],
        })
        .collect())
}
