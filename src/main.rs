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
    /// The whole job on a generated population: generate, score, rank, report, show a call list.
    Demo(cli::demo::Args),
    /// Generate a synthetic population (Parquet) for demos, tests and benchmarks.
    Synth(cli::synth::SynthArgs),
    /// Import FHIR R4 (Bulk Data NDJSON, Bundles) or OMOP CDM into a data folder.
    #[command(subcommand_required = true)]
    Import(cli::import::Args),
    /// Print what a dataset holds: tables, patients, events, codes, rejected rows.
    Inspect(cli::inspect::InspectArgs),
    /// Validate a criteria library and summarise it.
    Check(cli::check::Args),
    /// Show the compiled plan of a criteria library: shared aggregates, definitions, program.
    Plan(cli::plan::PlanArgs),
    /// Run a criteria library's test cases and report failures with evidence.
    TestLibrary(cli::test_library::Args),
    /// Score a population against a criteria library: firings, summary, features, run.json.
    Score(cli::score::ScoreArgs),
    /// Risk per person, priorities, exclusions and every clinic's call list.
    Rank(cli::rank::Args),
    /// One clinic's call list (CSV, Parquet or JSON), audited.
    Calllist(cli::calllist::Args),
    /// Record or import outreach outcomes into the data folder's log.
    Outreach(cli::outreach::Args),
    /// Aggregate HTML report with small-cell suppression.
    Report(cli::report::Args),
    /// Next-year visit models: train, evaluate, predict, bench.
    #[command(subcommand_required = true)]
    Model(cli::model::Args),
    /// Print a criteria library as one SQL script (DuckDB, Spark or PostgreSQL).
    Sql(cli::sql::Args),
    /// The scheduler service: call lists, outcomes and consent in web pages and a JSON API.
    Serve(cli::serve::Args),
    /// The service's users: add, list, disable, passwd.
    #[command(subcommand_required = true)]
    Users(cli::users::Args),
    /// The service's audit trail: verify the hash chain, show who saw whom.
    #[command(subcommand_required = true)]
    Audit(cli::audit::Args),
    /// The whole night from one config file: score, rank, diff, report into the run history.
    Nightly(cli::nightly::Args),
    /// What changed between two runs, per person and criterion and per clinic.
    Diff(cli::diff::Args),
    /// Share of gaps closed after each outreach outcome, against people not contacted.
    Effect(cli::effect::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::Demo(args) => cli::demo::run(args),
        Command::Synth(args) => cli::synth::run(args),
        Command::Import(args) => cli::import::run(args),
        Command::Inspect(args) => cli::inspect::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Plan(args) => cli::plan::run(args),
        Command::TestLibrary(args) => cli::test_library::run(args),
        Command::Score(args) => cli::score::run(args),
        Command::Rank(args) => cli::rank::run(args),
        Command::Calllist(args) => cli::calllist::run(args),
        Command::Outreach(args) => cli::outreach::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::Model(args) => cli::model::run(args),
        Command::Sql(args) => cli::sql::run(args),
        Command::Serve(args) => cli::serve::run(args),
        Command::Users(args) => cli::users::run(args),
        Command::Audit(args) => cli::audit::run(args),
        Command::Nightly(args) => cli::nightly::run(args),
        Command::Diff(args) => cli::diff::run(args),
        Command::Effect(args) => cli::effect::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
