//! `caregap plan LIBRARY`: compile a criteria library and print the plan the
//! engine would run: every distinct aggregate once with how many criteria and
//! features read it, the shared definitions, and the flat program.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use caregap::plan;

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Criteria library: a folder of *.toml files (or one .toml file).
    #[arg(value_name = "LIBRARY")]
    pub library: PathBuf,
}

pub fn run(args: PlanArgs) -> Result<()> {
    let library = super::check::load_library(&args.library)?;
    print!("{}", plan::compile(&library).explain());
    Ok(())
}
