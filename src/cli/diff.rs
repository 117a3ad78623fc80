//! `caregap diff RUN_A RUN_B --out DIR`: what changed between two runs, per
//! person and criterion and per clinic (`caregap::runs::diff`).

use std::path::PathBuf;

use anyhow::Result;
use caregap::output::StagingDir;
use caregap::runs::diff;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The earlier run folder (scored and ranked).
    pub run_a: PathBuf,
    /// The later run folder.
    pub run_b: PathBuf,
    /// Output folder (replaced atomically): changes.parquet,
    /// clinic_changes.parquet, diff.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Aggregate counts under this are suppressed (null in clinic_changes.parquet).
    #[arg(long, default_value_t = 5)]
    pub min_cell: u64,
}

pub fn run(args: Args) -> Result<()> {
    let staging = StagingDir::new(&args.out)?;
    let d = diff::diff_runs(&args.run_a, &args.run_b, args.min_cell)?;
    diff::write_diff(&d, staging.dir())?;
    let out = staging.commit()?;
    println!("{}", d.summary.line());
    eprintln!(
        "wrote {} person-criterion changes to {}",
        d.changes.num_rows(),
        out.display()
    );
    Ok(())
}
