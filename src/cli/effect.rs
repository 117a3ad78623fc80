//! `caregap effect`: the share of gaps closed 30, 90 and 180 days after each
//! outreach outcome, and the stratified difference from people not contacted
//! (`caregap::runs::effect`; method and limits in docs/effect.md).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use caregap::output::StagingDir;
use caregap::runs::effect::{self, EffectOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data folder (its `outreach` table is the log read).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The criteria library.
    #[arg(long, value_name = "LIBRARY")]
    pub criteria: PathBuf,
    /// The last scoring date (YYYY-MM-DD; default today).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Output folder (replaced atomically): effect.parquet, effect.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Days between the past scoring dates (must divide every horizon).
    #[arg(long, default_value_t = 15)]
    pub grid_days: u32,
    /// Contacts of the last this many days are used.
    #[arg(long, default_value_t = 730)]
    pub lookback_days: u32,
    /// Horizons in days, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "30,90,180")]
    pub horizons: Vec<u32>,
    /// Counts under this are suppressed.
    #[arg(long, default_value_t = 5)]
    pub min_cell: u64,
}

pub fn run(args: Args) -> Result<()> {
    let as_of = super::score::parse_as_of(args.as_of.as_deref())?;
    let staging = StagingDir::new(&args.out)?;
    let opts = EffectOptions {
        horizons: args.horizons.clone(),
        grid_days: args.grid_days,
        lookback_days: args.lookback_days,
        min_cell: args.min_cell,
        ..EffectOptions::default()
    };
    let dates = args.lookback_days.div_ceil(args.grid_days.max(1)) as u64 + 1;
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(dates);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "scoring past dates [{bar:40}] {pos}/{len} ({eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let progress = |n: usize| {
        if let Some(b) = &bar {
            b.set_position(n as u64);
        }
    };
    let e = effect::estimate(&args.data, &args.criteria, as_of, &opts, &progress)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    effect::write_effect(&e, staging.dir())?;
    let out = staging.commit()?;
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.1}", 100.0 * v));
    println!(
        "{:<28} {:<14} {:>5} {:>8} {:>20} {:>24}",
        "criterion", "outcome", "days", "units", "closed % [95% CI]", "difference pp [95% CI]"
    );
    for r in &e.rows {
        println!(
            "{:<28} {:<14} {:>5} {:>8} {:>20} {:>24}",
            r.criterion,
            r.outcome,
            r.horizon_days,
            r.units
                .map_or_else(|| format!("<{}", e.min_cell), |n| n.to_string()),
            format!(
                "{} [{}, {}]",
                pct(r.share),
                pct(r.share_low),
                pct(r.share_high)
            ),
            if r.difference.is_some() {
                format!(
                    "{} [{}, {}]",
                    pct(r.difference),
                    pct(r.difference_low),
                    pct(r.difference_high)
                )
            } else {
                String::new()
            }
        );
    }
    eprintln!(
        "{} contacts with the gap open, {} scoring dates; wrote {}",
        e.contacts_read,
        e.dates,
        out.display()
    );
    Ok(())
}
