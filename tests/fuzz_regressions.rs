//! Every input of the fuzz corpus (`fuzz/corpus/`) and every input that ever
//! made a fuzz target fail (`fuzz/regressions/`), replayed through the same
//! checks as the fuzz targets, in the normal test run.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files: Vec<PathBuf> = ["corpus", "regressions"]
        .iter()
        .flat_map(|kind| {
            std::fs::read_dir(root.join(kind).join(target))
                .into_iter()
                .flatten()
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs for {target}");
    files
}

fn replay(target: &str, check: impl Fn(&[u8])) {
    for path in inputs(target) {
        let bytes = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)));
        assert!(
            outcome.is_ok(),
            "{} fails the {target} check",
            path.display()
        );
    }
}

#[test]
fn library_inputs_pass() {
    replay("library", checks::library);
}

#[test]
fn loader_inputs_pass() {
    let dir = tempfile::tempdir().unwrap();
    replay("loader", |bytes| checks::loader(bytes, dir.path()));
}

#[test]
fn import_inputs_pass() {
    let dir = tempfile::tempdir().unwrap();
    replay("import", |bytes| checks::import(bytes, dir.path()));
}

/// A `caregap demo` run for the service's inputs, made by the built binary.
fn demo_run(dir: &Path) -> PathBuf {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_caregap"))
        .args(["demo", "--patients", "300", "--out", "d"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("d/run")
}

#[test]
fn serve_inputs_pass() {
    let dir = tempfile::tempdir().unwrap();
    let service = checks::service(&demo_run(dir.path()));
    replay("serve", |bytes| checks::serve(&service, bytes));
}
