//! `caregap check LIBRARY`: compile a criteria library, print every error (and
//! exit non-zero) or a summary of what it holds.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::bail;
use caregap::lang::{self, SourceFile, check::kind_prefix, ir::Library};
use clap::Args as ClapArgs;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// The criteria library: a folder of `*.toml` files (or one `.toml` file).
    pub library: PathBuf,
}

/// Reads a library folder: every `*.toml` file directly in it, sorted by name.
/// A single file is a library of one file. Names in messages are file names.
pub fn read_library(path: &Path) -> anyhow::Result<Vec<SourceFile>> {
    caregap::runs::library::read_library(path).map_err(anyhow::Error::msg)
}

/// Reads and compiles a library, printing its diagnostics to stderr (in colour
/// on a terminal). Errors make this fail with the count; warnings only print.
pub fn load_library(path: &Path) -> anyhow::Result<Library> {
    let files = read_library(path)?;
    let (library, diagnostics) = lang::compile_library(&files);
    if !diagnostics.is_empty() {
        let color = std::io::stderr().is_terminal();
        eprint!("{}", lang::render(&diagnostics, &files, color));
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    match library {
        Some(lib) => Ok(lib),
        None => bail!(
            "the library {} has {errors} error{} and was refused",
            path.display(),
            if errors == 1 { "" } else { "s" }
        ),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let library = load_library(&args.library)?;
    print!("{}", summary(&library));
    Ok(())
}

/// The human summary of a checked library.
pub fn summary(lib: &Library) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "library ok (sha256 {})", lib.hash);
    let _ = writeln!(s, "criteria: {}", lib.criteria.len());
    for (domain, n) in lib.criteria_per_domain() {
        let _ = writeln!(s, "  {:<24} {n}", domain.unwrap_or("(no domain)"));
    }
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for v in &lib.value_sets {
        *kinds.entry(kind_prefix(v.kind)).or_insert(0) += 1;
    }
    let _ = writeln!(s, "value sets: {}", lib.value_sets.len());
    for (kind, n) in kinds {
        let _ = writeln!(s, "  {kind:<24} {n}");
    }
    let _ = writeln!(s, "definitions: {}", lib.definitions.len());
    let numeric = lib
        .features
        .iter()
        .filter(|f| f.expr.ty != lang::ir::Type::Bool)
        .count();
    let _ = writeln!(
        s,
        "features: {} ({numeric} numeric, {} boolean)",
        lib.features.len(),
        lib.features.len() - numeric
    );
    let uses = lib.value_set_uses();
    let unused: Vec<&str> = lib
        .value_sets
        .iter()
        .zip(&uses)
        .filter(|(_, n)| **n == 0)
        .map(|(v, _)| v.name.as_str())
        .collect();
    if unused.is_empty() {
        let _ = writeln!(s, "unused value sets: none");
    } else {
        let _ = writeln!(s, "unused value sets: {}", unused.len());
        for name in unused {
            let _ = writeln!(s, "  {name}");
        }
    }
    s
}
