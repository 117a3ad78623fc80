//! The `caregap` command line. Each subcommand lives in `src/cli/<name>.rs`
//! with its clap `Args` and a `run` function; this file only dispatches.

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "caregap",
    version,
    about = "Care-gap detection and risk stratification for primary care"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a criteria library and summarise it.
    Check(cli::check::Args),
    /// Print a criteria library as one SQL script (DuckDB, Spark or PostgreSQL).
    Sql(cli::sql::Args),
    /// Print what a dataset holds: tables, patients, events, codes, rejected rows.
    Inspect(cli::inspect::InspectArgs),
    /// Generate a synthetic population (Parquet) for demos, tests and benchmarks.
    Synth(cli::synth::SynthArgs),
    /// Score a population against a criteria library: firings, summary, features, run.json.
    Score(cli::score::ScoreArgs),
    /// Show the compiled plan of a criteria library: shared aggregates, definitions, program.
    Plan(cli::plan::PlanArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::Check(args) => cli::check::run(args),
        Command::Sql(args) => cli::sql::run(args),
        Command::Inspect(args) => cli::inspect::run(args),
        Command::Synth(args) => cli::synth::run(args),
        Command::Score(args) => cli::score::run(args),
        Command::Plan(args) => cli::plan::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
