//! `caregap calllist --run OUTDIR --clinic ID`: one clinic's call list, in
//! priority order, cut at its capacity, as CSV, Parquet or JSON. Reads
//! `OUTDIR/calllist.parquet` (written by `caregap rank`); every access is
//! appended to `OUTDIR/audit.log`.

use super::rank::{Format, io, read_capacities};
use anyhow::{Context, Result, bail};
use arrow::array::BooleanArray;
use arrow::compute::filter_record_batch;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The output folder of `caregap score` + `caregap rank`.
    #[arg(long)]
    pub run: PathBuf,
    /// The clinic (`clinic_id` as in patients).
    #[arg(long)]
    pub clinic: String,
    /// How many people to list (overrides the capacities file).
    #[arg(long)]
    pub capacity: Option<u32>,
    /// Clinic capacities: CSV `clinic_id,capacity` or TOML.
    #[arg(long)]
    pub capacities: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Write here instead of standard output (required for parquet).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let path = args.run.join("calllist.parquet");
    if !path.exists() {
        bail!(
            "{} does not exist: run `caregap rank --run {}` first",
            path.display(),
            args.run.display()
        );
    }
    let all = io::read_parquet(&path)?;
    let clinics = io::strings(&all, "clinic_id", &path)?;
    let known = io::read_parquet(&args.run.join("exclusions.parquet"))
        .and_then(|b| {
            Ok(io::strings(
                &b,
                "clinic_id",
                &args.run.join("exclusions.parquet"),
            )?)
        })
        .unwrap_or_default();
    if !known.iter().flatten().any(|c| *c == args.clinic)
        && !clinics.iter().flatten().any(|c| *c == args.clinic)
    {
        let mut names: Vec<&str> = known.iter().flatten().map(String::as_str).collect();
        names.sort_unstable();
        bail!(
            "unknown clinic {:?}; clinics of this run: {}",
            args.clinic,
            names.join(", ")
        );
    }
    let mask: BooleanArray = clinics
        .iter()
        .map(|c| Some(c.as_deref() == Some(args.clinic.as_str())))
        .collect();
    let mine = filter_record_batch(&all, &mask)?;
    let cap = args
        .capacity
        .or(read_capacities(args.capacities.as_deref())?.of(&args.clinic))
        .map_or(mine.num_rows(), |c| (c as usize).min(mine.num_rows()));
    let list = mine.slice(0, cap);
    // Drop the clinic column: the list is for one clinic.
    let list = list.project(&(1..list.num_columns()).collect::<Vec<_>>())?;
    let bytes = args.format.encode(&list)?;
    let target = match &args.out {
        Some(out) => {
            io::write_atomic(out, &bytes)?;
            out.display().to_string()
        }
        None if args.format == Format::Parquet => bail!("--format parquet needs --out FILE"),
        None => {
            std::io::stdout()
                .lock()
                .write_all(&bytes)
                .context("writing to standard output")?;
            "stdout".to_string()
        }
    };
    io::audit(
        &args.run,
        "calllist",
        &args.clinic,
        list.num_rows(),
        &target,
    )?;
    Ok(())
}
