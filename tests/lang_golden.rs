//! Golden files for diagnostics: every entry of `tests/golden/lang/` is a
//! library (a `.toml` file, or a folder of them) and `<entry>.out` holds the
//! rendered diagnostics. Regenerate with `UPDATE_GOLDEN=1 cargo test --test lang_golden`.

use std::fs;
use std::path::{Path, PathBuf};

use caregap::lang::{self, SourceFile, diag::CODES};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/lang")
}

fn read_entry(path: &Path) -> Vec<SourceFile> {
    let mut paths: Vec<PathBuf> = if path.is_dir() {
        fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    paths.sort();
    paths
        .into_iter()
        .map(|p| SourceFile {
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            text: fs::read_to_string(&p).unwrap(),
        })
        .collect()
}

/// What a golden file holds: the rendered diagnostics and the verdict.
fn render_entry(files: &[SourceFile]) -> String {
    let (library, diagnostics) = lang::compile_library(files);
    let mut out = lang::render(&diagnostics, files, false);
    out.push_str("--- one-line forms\n");
    for d in &diagnostics {
        out.push_str(&format!("{d}\n"));
    }
    out.push_str(match library {
        Some(_) => "--- library accepted\n",
        None => "--- library refused\n",
    });
    out
}

fn entries() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

#[test]
fn diagnostics_match_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for entry in entries() {
        let actual = render_entry(&read_entry(&entry));
        let expected_path = entry.with_extension("out");
        if update {
            fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
                entry.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden file(s) differ (UPDATE_GOLDEN=1 regenerates):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Each error class has its own golden entry, named after the code, which
/// triggers that code; and `docs/errors.md` documents every code.
#[test]
fn every_code_has_a_golden_file_and_documentation() {
    let docs =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md")).unwrap();
    let entries = entries();
    for (code, title) in CODES {
        assert!(
            docs.contains(&format!("## {code}")),
            "docs/errors.md lacks a `## {code}` section ({title})"
        );
        let entry = entries
            .iter()
            .find(|e| e.file_name().unwrap().to_string_lossy().starts_with(code))
            .unwrap_or_else(|| panic!("no golden entry for {code} ({title})"));
        let (_, diagnostics) = lang::compile_library(&read_entry(entry));
        assert!(
            diagnostics.iter().any(|d| d.code == *code),
            "{} does not trigger {code}: {:?}",
            entry.display(),
            diagnostics.iter().map(|d| d.code).collect::<Vec<_>>()
        );
    }
}
