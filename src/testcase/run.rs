//! Runs case files against a compiled library and reports failures and coverage.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::eval::calendar::{age_years, format_day};
use crate::eval::{EvalOptions, EvidenceMode, Status, evaluate};
use crate::plan::Plan;

use super::build::build_population;
use super::format::{CaseError, CaseFile};

/// What a case file says about a (person, criterion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    Fire,
    NoFire,
}

/// One expectation that did not hold, with what the engine saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub file: String,
    pub person: String,
    pub criterion: String,
    pub expected: Expectation,
    /// The person's status; `None` when not alive on `as_of`.
    pub got: Option<Status>,
    /// The engine's evidence for the criterion (the aggregates it read), when
    /// the person is in its population; otherwise a note saying why not.
    pub evidence: String,
    pub age: i32,
    /// The person's events as written, oldest first, with their dates.
    pub events: Vec<String>,
}

/// Per criterion: how many people check it, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub id: String,
    /// `fire` expectations that hold.
    pub fire_cases: usize,
    /// `no_fire` expectations that hold for a person in the population
    /// (closed or excluded): near misses.
    pub near_misses: usize,
    /// `no_fire` expectations that hold for a person outside the population.
    pub outside_population: usize,
}

/// The result of a run over case files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub files: usize,
    pub people: usize,
    /// Expectations checked.
    pub checks: usize,
    pub failures: Vec<Failure>,
    /// One entry per criterion of the library, in library order.
    pub coverage: Vec<Coverage>,
}

impl Report {
    /// Criteria without a passing firing case or without a passing near miss.
    pub fn uncovered(&self) -> impl Iterator<Item = &Coverage> {
        self.coverage
            .iter()
            .filter(|c| c.fire_cases == 0 || c.near_misses == 0)
    }

    /// The report for people: every failure with its evidence, then a summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.failures {
            let expected = match f.expected {
                Expectation::Fire => "to fire",
                Expectation::NoFire => "not to fire",
            };
            let got = f.got.map_or("not alive on as_of", Status::as_str);
            let _ = writeln!(
                out,
                "FAIL {}: person '{}' (age {}): expected {} {expected}, status is {got}",
                f.file, f.person, f.age, f.criterion
            );
            let _ = writeln!(out, "  evidence: {}", f.evidence);
            for e in &f.events {
                let _ = writeln!(out, "  event: {e}");
            }
        }
        let _ = writeln!(
            out,
            "{} case files, {} people, {} checks, {} failed",
            self.files,
            self.people,
            self.checks,
            self.failures.len()
        );
        out
    }
}

/// Evaluates `plan` over every case file and checks each expectation.
/// A criterion id in a case file that is not in the plan is an error.
pub fn run_cases(plan: &Plan, files: &[CaseFile]) -> Result<Report, Vec<CaseError>> {
    let index: HashMap<&str, usize> = plan
        .criteria
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let mut errors = Vec::new();
    for file in files {
        for person in &file.people {
            for id in person.fire.iter().chain(&person.no_fire) {
                if !index.contains_key(id.as_str()) {
                    errors.push(CaseError {
                        file: file.name.clone(),
                        place: format!("person '{}'", person.name),
                        message: format!("{id} is not a criterion of the library"),
                    });
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut report = Report {
        files: files.len(),
        coverage: plan
            .criteria
            .iter()
            .map(|c| Coverage {
                id: c.id.clone(),
                fire_cases: 0,
                near_misses: 0,
                outside_population: 0,
            })
            .collect(),
        ..Report::default()
    };
    let options = EvalOptions {
        evidence: EvidenceMode::InPopulation,
        progress: None,
    };
    for file in files {
        let pop = build_population(file);
        let eval = evaluate(plan, &pop, file.as_of, &options).map_err(|e| {
            vec![CaseError {
                file: file.name.clone(),
                place: "file".into(),
                message: e.to_string(),
            }]
        })?;
        let evidence: HashMap<(u32, u32), &str> = eval
            .firings
            .iter()
            .map(|f| ((f.patient, f.criterion), eval.evidence(f)))
            .collect();
        report.people += file.people.len();
        for (p, person) in file.people.iter().enumerate() {
            let p = p as u32;
            let expectations = person
                .fire
                .iter()
                .map(|id| (id, Expectation::Fire))
                .chain(person.no_fire.iter().map(|id| (id, Expectation::NoFire)));
            for (id, expected) in expectations {
                report.checks += 1;
                let c = index[id.as_str()];
                let got = eval.status_of(c, p);
                let fired = got == Some(Status::Open);
                let holds = fired == (expected == Expectation::Fire);
                if holds {
                    let cov = &mut report.coverage[c];
                    match (expected, got) {
                        (Expectation::Fire, _) => cov.fire_cases += 1,
                        (_, Some(Status::Closed | Status::Excluded)) => cov.near_misses += 1,
                        _ => cov.outside_population += 1,
                    }
                    continue;
                }
                let evidence = match got {
                    None => format!(
                        "the person is not alive on {} (born {}, died {})",
                        format_day(file.as_of),
                        format_day(person.birth),
                        person.death.map_or("-".to_string(), format_day)
                    ),
                    Some(Status::NotInPopulation) => {
                        "the population expression is not true for this person".to_string()
                    }
                    Some(_) => evidence
                        .get(&(p, c as u32))
                        .map_or_else(|| "(no evidence recorded)".to_string(), |e| e.to_string()),
                };
                let mut events: Vec<_> = person.events.iter().collect();
                events.sort_by_key(|e| e.date);
                report.failures.push(Failure {
                    file: file.name.clone(),
                    person: person.name.clone(),
                    criterion: id.clone(),
                    expected,
                    got,
                    evidence,
                    age: age_years(person.birth, file.as_of),
                    events: events
                        .iter()
                        .map(|e| format!("{} {}", format_day(e.date), e.written))
                        .collect(),
                });
            }
        }
    }
    Ok(report)
}
