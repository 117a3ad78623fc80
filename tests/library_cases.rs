//! The shipped library (`criteria/`) against its own test cases
//! (`criteria/tests/*.toml`): every expectation holds, every criterion has a
//! firing case and a near miss, and the library keeps the conventions its
//! README promises (sources with years, actions, domains, the ids and feature
//! names other parts of caregap rely on).

use std::path::{Path, PathBuf};

use caregap::lang::{self, SourceFile, ir::Library};
use caregap::plan;
use caregap::testcase::{self, CaseFile, Report};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("criteria")
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
}

fn library() -> Library {
    let files: Vec<SourceFile> = toml_files(&root())
        .into_iter()
        .map(|p| SourceFile {
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            text: std::fs::read_to_string(&p).unwrap(),
        })
        .collect();
    let (lib, diags) = lang::compile_library(&files);
    assert!(
        diags.is_empty(),
        "the shipped library has diagnostics:\n{}",
        lang::render(&diags, &files, false)
    );
    lib.expect("no diagnostics, so a library")
}

fn cases() -> Vec<CaseFile> {
    toml_files(&root().join("tests"))
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            testcase::parse_case_file(&name, &text).unwrap_or_else(|errors| {
                let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
                panic!("{}", text.join("\n"))
            })
        })
        .collect()
}

fn report() -> Report {
    let lib = library();
    let plan = plan::compile(&lib);
    testcase::run_cases(&plan, &cases()).unwrap_or_else(|errors| {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("{}", text.join("\n"))
    })
}

#[test]
fn every_test_case_expectation_holds() {
    let report = report();
    assert!(report.failures.is_empty(), "{}", report.render());
    assert!(report.checks > 600, "only {} checks", report.checks);
}

#[test]
fn every_criterion_has_a_firing_case_and_a_near_miss() {
    let report = report();
    let uncovered: Vec<String> = report
        .uncovered()
        .map(|c| {
            format!(
                "{}: {} firing case(s), {} near miss(es)",
                c.id, c.fire_cases, c.near_misses
            )
        })
        .collect();
    assert!(
        uncovered.is_empty(),
        "criteria without a firing case or a near miss (a no_fire person in the population):\n{}",
        uncovered.join("\n")
    );
}

#[test]
fn the_library_keeps_its_conventions() {
    let lib = library();
    assert!(lib.criteria.len() >= 300, "{} criteria", lib.criteria.len());
    let mut problems = Vec::new();
    for c in &lib.criteria {
        let (domain_part, name) = c.id.split_once('.').unwrap_or(("", ""));
        let upper = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == '_')
        };
        if !upper(domain_part) || !upper(name) {
            problems.push(format!("{}: id is not DOMAIN.NAME", c.id));
        }
        if c.domain.as_deref().is_none_or(str::is_empty) {
            problems.push(format!("{}: no domain", c.id));
        }
        if c.action.as_deref().is_none_or(str::is_empty) {
            problems.push(format!("{}: no action", c.id));
        }
        let source = c.source.as_deref().unwrap_or("");
        let has_year = source
            .as_bytes()
            .windows(4)
            .any(|w| w.iter().all(u8::is_ascii_digit) && (w[0] == b'1' || w[0] == b'2'));
        if !has_year {
            problems.push(format!("{}: source without a year: {source:?}", c.id));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    for id in [
        "HTN.BP_UNCONTROLLED",
        "DM.HBA1C_OVERDUE",
        "SCR.CERVICAL_OVERDUE",
    ] {
        assert!(
            lib.criteria.iter().any(|c| c.id == id),
            "{id} is used by the outreach log and must stay"
        );
    }
    for name in [
        "visits_pc_12mo",
        "visits_pc_24mo",
        "age",
        "female",
        "chronic_condition_count",
        "active_med_count",
        "key_gap_count",
        "score2_sbp",
        "score2_total_chol",
        "score2_hdl",
        "score2_smoker",
        "has_cvd",
        "has_diabetes",
    ] {
        assert!(
            lib.features.iter().any(|f| f.name == name),
            "feature {name} is read by ranking or the models and must stay"
        );
    }
}
