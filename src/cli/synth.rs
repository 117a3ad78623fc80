//! `caregap synth`: generate a synthetic population.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

/// Generate a deterministic synthetic Finland-like population (Parquet).
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of people (alive and deceased) to generate.
    #[arg(long, default_value_t = 10_000)]
    pub patients: u64,
    /// Random seed; the same seed gives the same files on any thread count.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Scoring date (YYYY-MM-DD): history ends on it, `events_future` covers the year(s) after it.
    #[arg(long, value_parser = parse_date)]
    pub as_of: NaiveDate,
    /// Years of history before `--as-of`.
    #[arg(long, default_value_t = 5)]
    pub years: u32,
    /// Years after `--as-of` written to `events_future` (1..=5): labels for
    /// `model bench --horizons 1,2,3` need 3. 1 keeps the data of earlier versions.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub future_years: u32,
    /// Output folder (created if missing; existing files of the same names are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Write patient ids as strings (`P0000001`) instead of 64-bit integers.
    #[arg(long)]
    pub string_ids: bool,
    /// Add rows that are unusable per the data model (orphans, unknown kinds, null codes,
    /// future-dated events, null consent decisions) to test loaders.
    #[arg(long)]
    pub messy: bool,
    /// Output format: the data model's Parquet tables, or the same population
    /// as FHIR R4 Bulk Data NDJSON (one file per resource type) or collection
    /// Bundles (1,000 resources each) for `caregap import fhir`,
    /// or as OMOP CDM v5.4 CSV tables with a concept table for `caregap import omop`.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    pub format: Format,
    /// Extra outreach-log contacts per person with hypertension or type 2
    /// diabetes over the last two years (Poisson mean; not targeted at open
    /// gaps), about HTN.BP_UNCONTROLLED or DM.HBA1C_OVERDUE (docs/effect.md).
    #[arg(long, default_value_t = 0.0, value_name = "N")]
    pub outreach_contacts: f64,
    /// The generated effect of outreach: the share of `booked` contacts about
    /// those two criteria followed within 21 days by the measurement that
    /// closes the gap (0..1; docs/effect.md).
    #[arg(long, default_value_t = 0.0, value_name = "E")]
    pub outreach_effect: f64,
}

/// What `caregap synth` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Parquet,
    FhirNdjson,
    FhirBundle,
    Omop,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("expected a date YYYY-MM-DD, got {s:?}: {e}"))
}

pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let mut cfg = caregap_synth::Config::new(args.patients, args.seed, args.as_of);
    cfg.years = args.years;
    cfg.future_years = args.future_years;
    cfg.string_ids = args.string_ids;
    cfg.messy = args.messy;
    cfg.outreach_contacts = args.outreach_contacts;
    cfg.outreach_effect = args.outreach_effect;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(args.patients);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} generating [{bar:40}] {pos}/{len} people ({eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Some(bar)
    } else {
        None
    };
    let progress = |p: caregap_synth::Progress| {
        if let Some(bar) = &bar {
            bar.set_position(p.done);
        }
    };
    // Other formats are converted from the Parquet tables, generated into a
    // hidden folder inside `--out` and removed afterwards.
    let parquet_dir = match args.format {
        Format::Parquet => args.out.clone(),
        _ => args
            .out
            .join(format!(".synth-parquet-{}", std::process::id())),
    };
    let generated = caregap_synth::generate(&cfg, &parquet_dir, &progress)
        .with_context(|| format!("generating a population into {}", parquet_dir.display()));
    let summary = match (generated, args.format) {
        (Ok(s), Format::Parquet) => s,
        (generated, format) => {
            let converted = generated.and_then(|mut s| {
                s.files = match format {
                    Format::Omop => caregap_synth::omop::write_csv(&parquet_dir, &args.out),
                    Format::FhirBundle => {
                        caregap_synth::fhir::write_bundles(&parquet_dir, &args.out)
                    }
                    _ => caregap_synth::fhir::write_ndjson(&parquet_dir, &args.out),
                }
                .with_context(|| format!("writing {format:?} into {}", args.out.display()))?;
                Ok(s)
            });
            let _ = std::fs::remove_dir_all(&parquet_dir);
            converted?
        }
    };

    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    println!(
        "generated {} people (seed {}, as of {}, {} years) in {:.1} s",
        args.patients,
        args.seed,
        args.as_of,
        args.years,
        summary.elapsed.as_secs_f64()
    );
    let mut total = 0;
    for f in &summary.files {
        total += f.bytes;
        println!(
            "  {:<40} {:>12} rows {:>10.1} MB",
            f.path.display(),
            f.rows,
            f.bytes as f64 / 1e6
        );
    }
    println!(
        "  {:<40} {:>12}      {:>10.1} MB",
        "total",
        "",
        total as f64 / 1e6
    );
    let fig = &summary.figures;
    println!(
        "alive on as_of: {} ({} adults), died before: {}; history events per person: {:.1}",
        fig.alive, fig.adults, fig.died_before_as_of, fig.events_per_person
    );
    println!(
        "primary-care visits in the last year: mean {:.2}, top 10% of people make {:.0}% of them; mean expected next year {:.2}",
        fig.mean_pc_visits,
        fig.top10_visit_share * 100.0,
        fig.mean_expected_visits
    );
    let kinds: Vec<String> = fig
        .events_per_person_by_kind
        .iter()
        .map(|(k, n)| format!("{k} {n:.1}"))
        .collect();
    println!("history events per person by kind: {}", kinds.join(", "));
    let prev: Vec<String> = fig
        .prevalence
        .iter()
        .map(|(n, p)| format!("{n} {:.1}%", p * 100.0))
        .collect();
    println!("adult prevalence: {}", prev.join(", "));
    Ok(())
}
