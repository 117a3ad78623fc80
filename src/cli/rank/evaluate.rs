//! `caregap rank evaluate --run RUN [--data DIR]`: scores the list orders by
//! the next year's outcomes of a generated population
//! (`caregap_synth`'s `outcomes.parquet`). Reads the run like `caregap rank`,
//! ranks in the library twice (benefit, additive), derives the random and
//! oracle orders ([`caregap::rank::evaluate`]) and writes
//! `RUN/evaluation.parquet` (per clinic, order and capacity; clinic `ALL`
//! sums the clinics); prints the `ALL` rows and where the urgent people stand.

use super::io;
use super::{RunFiles, read_config};
use anyhow::{Context, Result, bail};
use caregap::rank::benefit::{Band, Order};
use caregap::rank::columns::IdIndex;
use caregap::rank::config::RankConfig;
use caregap::rank::evaluate::{
    CAPACITIES, capture, capture_batch, lists, next_year, oracle_order, places, quantile,
    random_order,
};
use caregap::rank::pipeline;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The output folder of `caregap score` (ranked or not).
    #[arg(long)]
    pub run: PathBuf,
    /// The generated data folder holding `outcomes.parquet` (default: the run's data folder).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Ranking configuration (TOML), as for `caregap rank`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// People called per clinic, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = CAPACITIES)]
    pub capacities: Vec<usize>,
    /// Seed of the random order.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where to write the table (default RUN/evaluation.parquet).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    if args.capacities.is_empty() || args.capacities.contains(&0) {
        bail!("--capacities: give one or more whole numbers above 0, e.g. 50,200,1000");
    }
    let config = read_config(args.config.as_deref(), None)?;
    let files = RunFiles::read(&args.run, args.config.as_deref(), &config, None)?;
    let data = args.data.clone().unwrap_or_else(|| files.info.data.clone());
    let outcomes_file = data.join("outcomes.parquet");
    if !outcomes_file.is_file() {
        bail!(
            "{}: no outcomes table; `caregap rank evaluate` needs a population from `caregap synth` (which writes it)",
            outcomes_file.display()
        );
    }
    let prepared = pipeline::prepare(&files.inputs())?;
    drop(files);
    let p = &prepared.patients;
    let n = p.clinic.len();
    let next = next_year(
        &io::read_parquet(&outcomes_file)?,
        &outcomes_file,
        &IdIndex::new(&p.ids),
        n,
    )?;

    let with = |order| RankConfig {
        order,
        ..config.clone()
    };
    let benefit = prepared.rank(&with(Order::Benefit));
    let additive = prepared.rank(&with(Order::Additive));
    let new_lists = lists(&benefit, p.clinics.len());
    let old_lists = lists(&additive, p.clinics.len());
    let random: Vec<Vec<u32>> = new_lists
        .iter()
        .map(|l| random_order(l, args.seed))
        .collect();
    let oracle: Vec<Vec<u32>> = new_lists.iter().map(|l| oracle_order(l, &next)).collect();
    let mut urgent = vec![false; n];
    for e in &benefit.entries {
        urgent[e.person as usize] = e.band == Band::Urgent;
    }
    let orders = [
        ("benefit", new_lists),
        ("additive", old_lists),
        ("random", random),
        ("oracle", oracle),
    ];
    let rows = capture(&orders, &p.clinics, &p.clinic, &next, &args.capacities);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join("evaluation.parquet"));
    io::write_parquet_atomic(&out, &capture_batch(&rows)?)
        .with_context(|| format!("writing {}", out.display()))?;

    let clinic_events = rows
        .iter()
        .find(|r| r.clinic == "ALL")
        .map_or(0, |r| r.events_clinic);
    println!(
        "next-year outcomes (MI, stroke, major bleeding, hyperkalaemia admission): {clinic_events} in {} clinics; listed people per order are the same",
        p.clinics.len()
    );
    println!(
        "{:<9} {:>8} {:>9} {:>8} {:>7} {:>10} {:>10} {:>9}",
        "order", "capacity", "reached", "events", "share", "expected", "prevented", "emergency"
    );
    for r in rows.iter().filter(|r| r.clinic == "ALL") {
        println!(
            "{:<9} {:>8} {:>9} {:>8} {:>6.1}% {:>10.1} {:>10.1} {:>9}",
            r.order,
            r.capacity,
            r.reached,
            r.events_reached,
            100.0 * r.share(),
            r.expected_reached,
            r.prevented_reached,
            r.emergency_reached
        );
    }
    for (name, l) in &orders[..2] {
        let pl = places(l, &urgent);
        println!(
            "urgent people ({}) in the {name} order: median place {}, p90 {}, worst {}, below place 1000: {}",
            pl.len(),
            quantile(&pl, 0.5),
            quantile(&pl, 0.9),
            pl.last().copied().unwrap_or(0),
            pl.iter().filter(|&&x| x > 1000).count()
        );
    }
    eprintln!("wrote {}", out.display());
    Ok(())
}
