//! The data layer's front door: real records in, the data model's tables out.
//!
//! - [`import_fhir`]: FHIR R4 Bulk Data NDJSON (gzip too) and Bundles
//!   ([`fhir`]); every resource is counted as used or rejected under one
//!   reason with examples (`file:line`).
//! - [`mapping`]: code-system URIs → the spec's system names and UCUM codes →
//!   the criteria libraries' units, from a documented, extensible TOML file.
//! - [`pseudonym`]: `--pseudonymise KEYFILE`, keyed HMAC-SHA-256 pseudonyms
//!   for person identifiers (the key never enters the output).
//! - [`write`]: `patients.parquet`, `events.parquet` (sorted by patient, then
//!   date), `consents.parquet` and `import_report.json`, each renamed into
//!   place from a staging folder.
//!
//! Like the Parquet loader (`data`), an import reads and writes files itself:
//! it is the data layer's IO edge; the CLI only parses arguments and prints.
//! The rules are documented for users in docs/import.md.

pub mod date;
pub mod fhir;
pub mod mapping;
pub mod omop;
pub mod pseudonym;
pub mod report;
pub mod rows;
pub mod write;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use mapping::Mapping;
pub use pseudonym::Key;
pub use report::ImportReport;

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Input(String),
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "--strict: a record could not be used: {0}. Without --strict it is counted in import_report.json and the rest is imported"
    )]
    Strict(String),
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
}

/// Input bytes read so far.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// How to import.
#[derive(Debug, Clone)]
pub struct Options {
    pub mapping: Mapping,
    /// Pseudonymise person identifiers with this key.
    pub key: Option<Key>,
    /// Any rejected record is an error (resource types the import does not
    /// read, such as Organization, are not).
    pub strict: bool,
}

/// What an import did.
#[derive(Debug)]
pub struct Outcome {
    pub report: ImportReport,
    /// With a key: (pseudonym, original identifier) per patient, for a
    /// re-identification file kept apart from the data folder.
    pub reidentification: Vec<(String, String)>,
}

/// Imports FHIR R4 files and folders into the data folder `out`.
pub fn import_fhir(
    inputs: &[PathBuf],
    out: &Path,
    opts: &Options,
    progress: &dyn Fn(Progress),
) -> Result<Outcome, ImportError> {
    let started = Instant::now();
    let files = fhir::list_inputs(inputs)?;
    let names: Vec<String> = files
        .iter()
        .map(|i| {
            i.path.file_name().map_or_else(
                || i.path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let mut collected = rows::Collected::default();
    fhir::read_all(&files, &opts.mapping, &mut collected, opts.strict, progress)?;
    let (tables, report) = collected.finish(opts.key.as_ref(), fhir::convert::type_name, |l| {
        format!("{}:{}", names[l.file as usize], l.line)
    });
    finish(tables, report, "fhir", out, opts, started)
}

/// Imports an OMOP CDM v5.4 folder (CSV or Parquet tables) into the data folder `out`.
pub fn import_omop(
    input: &Path,
    out: &Path,
    opts: &Options,
    source_systems: &omop::SourceSystems,
) -> Result<Outcome, ImportError> {
    let started = Instant::now();
    let mut collected = rows::Collected::default();
    collected.patient_type = "person";
    collected.integer_ids = true;
    let files = omop::read_all(input, &opts.mapping, source_systems, &mut collected)?;
    let (tables, report) = collected.finish(opts.key.as_ref(), omop::type_name, |l| {
        format!("{}:{}", files[l.file as usize], l.line)
    });
    finish(tables, report, "omop", out, opts, started)
}

fn finish(
    tables: rows::Tables,
    mut report: ImportReport,
    format: &str,
    out: &Path,
    opts: &Options,
    started: Instant,
) -> Result<Outcome, ImportError> {
    if opts.strict
        && let Some(why) = report.first_rejection()
    {
        return Err(ImportError::Strict(why));
    }
    report.format = format.into();
    report.strict = opts.strict;
    report.pseudonymised = opts.key.is_some();
    report.key_fingerprint = opts.key.as_ref().map(Key::fingerprint);
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    write::write_tables(out, &tables, &report)?;
    Ok(Outcome {
        report,
        reidentification: tables.reidentification,
    })
}

/// Refuses a re-identification file inside the data folder (it would undo
/// the pseudonymisation for anyone who can read the data).
pub fn check_reidentification_path(file: &Path, out: &Path) -> Result<(), ImportError> {
    let abs = |p: &Path| -> PathBuf {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        // Resolve what exists (symlinks, ..) so a path cannot sneak in.
        let mut existing = p.clone();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.file_name(), existing.parent()) {
                (Some(n), Some(parent)) => {
                    rest.push(n.to_os_string());
                    existing = parent.to_path_buf();
                }
                _ => break,
            }
        }
        let mut full = existing.canonicalize().unwrap_or(existing);
        for n in rest.into_iter().rev() {
            full.push(n);
        }
        full
    };
    let (f, o) = (abs(file), abs(out));
    if f.starts_with(&o) {
        return Err(ImportError::Input(format!(
            "the re-identification file {} is inside the data folder {}: keep it apart \
             (another folder, other permissions), or the pseudonyms protect nothing",
            file.display(),
            out.display()
        )));
    }
    Ok(())
}
