//! `caregap test-library LIBRARY`: compile a criteria library, run its test
//! cases (`LIBRARY/tests/*.toml` unless `--cases` says otherwise) and report
//! every failure with the evidence.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use caregap::plan;
use caregap::testcase::{self, CaseFile};
use clap::Args as ClapArgs;

use super::check::load_library;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// The criteria library: a folder of `*.toml` files.
    pub library: PathBuf,
    /// The folder of test-case files (default: LIBRARY/tests).
    #[arg(long)]
    pub cases: Option<PathBuf>,
    /// Also fail when a criterion has no passing firing case or no passing
    /// near miss (a person in its population for whom it must not fire).
    #[arg(long)]
    pub require_coverage: bool,
}

/// Reads and parses every `*.toml` case file of a folder, in name order.
/// All problems of all files are reported together.
pub fn read_cases(dir: &Path) -> anyhow::Result<Vec<CaseFile>> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the test-case folder {}", dir.display()))?
    {
        let p = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if p.is_file() && p.extension().is_some_and(|e| e == "toml") {
            paths.push(p);
        }
    }
    if paths.is_empty() {
        bail!("{} holds no *.toml test-case file", dir.display());
    }
    paths.sort();
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p)
            .with_context(|| format!("cannot read {} (is it UTF-8 text?)", p.display()))?;
        let name = p.display().to_string();
        match testcase::parse_case_file(&name, &text) {
            Ok(f) => files.push(f),
            Err(errors) => problems.extend(errors),
        }
    }
    if !problems.is_empty() {
        for e in &problems {
            eprintln!("error: {e}");
        }
        bail!("{} problem(s) in the test-case files", problems.len());
    }
    Ok(files)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let library = load_library(&args.library)?;
    let cases_dir = args.cases.unwrap_or_else(|| args.library.join("tests"));
    let files = read_cases(&cases_dir)?;
    let plan = plan::compile(&library);
    let report = match testcase::run_cases(&plan, &files) {
        Ok(r) => r,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            bail!("{} problem(s) in the test-case files", errors.len());
        }
    };
    print!("{}", report.render());
    let uncovered: Vec<_> = report.uncovered().collect();
    for c in &uncovered {
        let mut missing = Vec::new();
        if c.fire_cases == 0 {
            missing.push("a passing firing case");
        }
        if c.near_misses == 0 {
            missing.push("a passing near miss");
        }
        println!("uncovered {}: lacks {}", c.id, missing.join(" and "));
    }
    println!(
        "{} of {} criteria covered (a firing case and a near miss each)",
        report.coverage.len() - uncovered.len(),
        report.coverage.len()
    );
    if !report.failures.is_empty() {
        bail!("{} test-case check(s) failed", report.failures.len());
    }
    if args.require_coverage && !uncovered.is_empty() {
        bail!(
            "{} criteria lack a firing case or a near miss",
            uncovered.len()
        );
    }
    Ok(())
}
