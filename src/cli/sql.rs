//! `caregap sql`: print a criteria library as one SQL script for DuckDB, Spark
//! or PostgreSQL (see `docs/sql.md`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use caregap::sql::{self, Dialect, SqlOptions};
use chrono::NaiveDate;
use clap::{Args as ClapArgs, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DialectArg {
    Duckdb,
    Spark,
    Postgres,
}

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// The criteria library: a folder of `*.toml` files (or one `.toml` file).
    #[arg(long)]
    pub criteria: PathBuf,
    /// The scoring date (YYYY-MM-DD).
    #[arg(long)]
    pub as_of: String,
    #[arg(long, value_enum, default_value = "duckdb")]
    pub dialect: DialectArg,
    /// Compute the feature table instead of the firings.
    #[arg(long)]
    pub features: bool,
    /// The patients table as SQL (a table name, a view, or for DuckDB
    /// `read_parquet('...')`).
    #[arg(long, default_value = "patients")]
    pub patients_table: String,
    /// The events table as SQL.
    #[arg(long, default_value = "events")]
    pub events_table: String,
    /// DuckDB and Spark: read `patients` and `events` from this data folder
    /// (`patients.parquet` or a `patients/` folder of parts; likewise events).
    #[arg(long, conflicts_with_all = ["patients_table", "events_table"])]
    pub data: Option<PathBuf>,
}

/// A table of the data folder (`NAME.parquet`, or a folder `NAME/` of
/// `*.parquet` parts) as SQL: DuckDB's `read_parquet('...')`, Spark's
/// `parquet.\`...\`` (absolute, so that a cluster's executors on this machine
/// find it).
fn parquet_source(dir: &Path, name: &str, dialect: Dialect) -> anyhow::Result<String> {
    let file = dir.join(format!("{name}.parquet"));
    let folder = dir.join(name);
    let (path, parts) = if file.is_file() {
        (file, false)
    } else if folder.is_dir() {
        (folder, true)
    } else {
        bail!(
            "the data folder {} has neither {name}.parquet nor a {name}/ folder of parts",
            dir.display()
        );
    };
    let path =
        std::path::absolute(&path).with_context(|| format!("cannot resolve {}", path.display()))?;
    Ok(match dialect {
        Dialect::Spark => format!(
            "parquet.`{}`",
            path.display().to_string().replace('`', "``")
        ),
        _ => {
            let path = if parts { path.join("*.parquet") } else { path };
            format!(
                "read_parquet('{}')",
                path.display().to_string().replace('\'', "''")
            )
        }
    })
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let as_of = NaiveDate::parse_from_str(&args.as_of, "%Y-%m-%d")
        .with_context(|| format!("--as-of {:?} is not a date (YYYY-MM-DD)", args.as_of))?;
    let as_of = (as_of - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days();
    let as_of = i32::try_from(as_of).context("--as-of is out of range")?;
    let dialect = match args.dialect {
        DialectArg::Duckdb => Dialect::DuckDb,
        DialectArg::Spark => Dialect::Spark,
        DialectArg::Postgres => Dialect::Postgres,
    };
    let (patients, events) = match &args.data {
        Some(dir) => {
            if dialect == Dialect::Postgres {
                bail!(
                    "--data reads Parquet files, which PostgreSQL cannot: load the tables and name them with --patients-table/--events-table"
                );
            }
            (
                parquet_source(dir, "patients", dialect)?,
                parquet_source(dir, "events", dialect)?,
            )
        }
        None => (args.patients_table, args.events_table),
    };
    let library = super::check::load_library(&args.criteria)?;
    let opts = SqlOptions {
        features: args.features,
        patients,
        events,
    };
    print!("{}", sql::emit(&library, as_of, dialect, &opts));
    Ok(())
}
