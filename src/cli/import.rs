//! `caregap import fhir|omop`: real records in, the data model's tables out.
//! Argument parsing and printing only; the work is `caregap::import`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use caregap::import::{self, Key, Mapping, Options, Progress};
use clap::{Args as ClapArgs, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

/// Import FHIR R4 or OMOP CDM records into a data folder (patients, events, consents).
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// FHIR R4: Bulk Data NDJSON files (gzip too) and JSON Bundles, files or folders, mixed.
    Fhir(FhirArgs),
    /// OMOP CDM v5.4: a folder of CDM tables as CSV (tab or comma, .gz too) or Parquet.
    Omop(OmopArgs),
}

/// Options every importer shares.
#[derive(Debug, ClapArgs)]
struct Common {
    /// The data folder to write (created if missing): patients.parquet,
    /// events.parquet, consents.parquet and import_report.json are replaced;
    /// other files in it (the outreach log) are left alone.
    #[arg(long)]
    out: PathBuf,
    /// Replace every person identifier by a keyed HMAC-SHA-256 pseudonym made
    /// with the key in this file (at least 32 bytes; keep it outside the data
    /// folder). The same key gives the same pseudonyms on every import.
    #[arg(long, value_name = "KEYFILE")]
    pseudonymise: Option<PathBuf>,
    /// With --pseudonymise: also write (pseudonym, original id) pairs to this
    /// CSV file, which must be outside the data folder.
    #[arg(long, value_name = "FILE", requires = "pseudonymise")]
    reidentification: Option<PathBuf>,
    /// A mapping file adding code-system URIs and UCUM units to the built-in
    /// ones (the shape of src/import/mapping.toml; see docs/import.md).
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
    /// Make any record that cannot be used an error (resource types the import
    /// does not read, such as Organization, are still only counted).
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, ClapArgs)]
struct FhirArgs {
    /// NDJSON files (*.ndjson, *.jsonl), Bundles or single resources (*.json),
    /// optionally gzipped (.gz), or folders of them (a Bulk Data export).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, ClapArgs)]
struct OmopArgs {
    /// The folder holding person, death, care_site, visit_occurrence,
    /// condition_occurrence, measurement, observation, drug_exposure,
    /// procedure_occurrence and optionally the vocabulary's concept table.
    #[arg(value_name = "INPUT")]
    input: PathBuf,
    /// The system of a table's `*_source_value` when its concepts cannot be
    /// resolved (no concept table, concept 0), e.g. `condition_occurrence=ICD10`.
    /// Defaults: condition_occurrence=ICD10, drug_exposure=ATC, measurement=LOINC,
    /// observation=LOCAL, procedure_occurrence=LOCAL, visit_occurrence=VISIT.
    #[arg(long = "source-system", value_name = "TABLE=SYSTEM")]
    source_systems: Vec<String>,
    #[command(flatten)]
    common: Common,
}

fn options(c: &Common) -> anyhow::Result<Options> {
    let mut mapping = Mapping::builtin();
    if let Some(path) = &c.mapping {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the mapping file {}", path.display()))?;
        mapping
            .extend_toml(&text)
            .map_err(|e| anyhow::anyhow!("mapping file {}: {e}", path.display()))?;
    }
    let key = match &c.pseudonymise {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading the key file {}", path.display()))?;
            Some(
                Key::from_file_bytes(&bytes)
                    .map_err(|e| anyhow::anyhow!("key file {}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    if let Some(file) = &c.reidentification {
        import::check_reidentification_path(file, &c.out)?;
    }
    if let Some(keyfile) = &c.pseudonymise
        && import::check_reidentification_path(keyfile, &c.out).is_err()
    {
        anyhow::bail!(
            "the key file {} is inside the data folder {}: keep it apart, or anyone who can read the data can recompute the pseudonyms",
            keyfile.display(),
            c.out.display()
        );
    }
    Ok(Options {
        mapping,
        key,
        strict: c.strict,
    })
}

fn bar() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    Some(bar)
}

fn finish(out: &Path, common: &Common, outcome: import::Outcome) -> anyhow::Result<()> {
    if let Some(file) = &common.reidentification {
        import::write::write_reidentification(file, &outcome.reidentification)
            .with_context(|| format!("writing the re-identification file {}", file.display()))?;
    }
    print!("{}", outcome.report.render());
    println!("wrote {}", out.display());
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Fhir(a) => {
            let opts = options(&a.common)?;
            let bar = bar();
            let progress = |p: Progress| {
                if let Some(bar) = &bar {
                    bar.set_length(p.total);
                    bar.set_position(p.done);
                }
            };
            let outcome = import::import_fhir(&a.inputs, &a.common.out, &opts, &progress)
                .with_context(|| format!("importing FHIR into {}", a.common.out.display()))?;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            finish(&a.common.out, &a.common, outcome)
        }
        Command::Omop(a) => {
            let opts = options(&a.common)?;
            let mut systems = import::omop::SourceSystems::default();
            for s in &a.source_systems {
                let Some((table, system)) = s.split_once('=') else {
                    anyhow::bail!(
                        "--source-system {s:?}: expected TABLE=SYSTEM, e.g. condition_occurrence=ICD10"
                    );
                };
                systems
                    .0
                    .insert(table.trim().to_string(), system.trim().to_string());
            }
            let outcome = import::import_omop(&a.input, &a.common.out, &opts, &systems)
                .with_context(|| format!("importing OMOP CDM into {}", a.common.out.display()))?;
            finish(&a.common.out, &a.common, outcome)
        }
    }
}
