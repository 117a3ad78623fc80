//! Reading a criteria library folder, for the texts a run's pages show.

use crate::lang::{self, SourceFile};
use crate::rank::export::CriterionText;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Reads a library folder: every `*.toml` file directly in it, sorted by name
/// (a single file is a library of one file). Names are file names.
pub fn read_library(path: &Path) -> Result<Vec<SourceFile>, String> {
    let mut paths: Vec<PathBuf> = Vec::new();
    if path.is_dir() {
        let rd = std::fs::read_dir(path)
            .map_err(|e| format!("cannot read the library folder {}: {e}", path.display()))?;
        for entry in rd {
            let p = entry
                .map_err(|e| format!("cannot list {}: {e}", path.display()))?
                .path();
            if p.is_file() && p.extension().is_some_and(|e| e == "toml") {
                paths.push(p);
            }
        }
        if paths.is_empty() {
            return Err(format!("{} holds no *.toml file", path.display()));
        }
    } else {
        paths.push(path.to_path_buf());
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read {} (is it UTF-8 text?): {e}", p.display()))?;
            let name = p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            Ok(SourceFile { name, text })
        })
        .collect()
}

/// Criterion titles and actions of a library; an error when it does not compile.
pub fn criterion_texts(path: &Path) -> Result<HashMap<String, CriterionText>, String> {
    let files = read_library(path)?;
    let (library, diagnostics) = lang::compile_library(&files);
    let library = library.ok_or_else(|| {
        format!(
            "the library {} has {} errors (see `caregap check`)",
            path.display(),
            diagnostics.len()
        )
    })?;
    Ok(library
        .criteria
        .into_iter()
        .map(|c| {
            (
                c.id,
                CriterionText {
                    title: c.title,
                    action: c.action,
                },
            )
        })
        .collect())
}
