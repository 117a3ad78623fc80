//! Quality-measure counts per criterion and clinic.

use rayon::prelude::*;

use super::{Evaluation, Status};
use crate::data::Population;
use crate::plan::Plan;

/// The clinic id of the all-clinics row.
pub const ALL_CLINICS: &str = "ALL";

/// Status counts of one criterion in one clinic (or all clinics).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub criterion: String,
    pub clinic: String,
    /// Alive people whose `population` is true.
    pub in_population: u64,
    /// In population with `exclude` true (never counted open).
    pub excluded: u64,
    /// In population, not excluded, gap true: firings.
    pub open: u64,
    /// In population, not excluded, gap not true.
    pub closed: u64,
}

impl SummaryRow {
    /// `closed / (in_population - excluded)`; `None` when the denominator is 0.
    pub fn rate(&self) -> Option<f64> {
        let denom = self.in_population - self.excluded;
        (denom > 0).then(|| self.closed as f64 / denom as f64)
    }
}

/// Per criterion (plan order): the all-clinics row (clinic [`ALL_CLINICS`]),
/// then one row per clinic with alive people, clinics in name order.
pub fn summarize(plan: &Plan, pop: &Population, eval: &Evaluation) -> Vec<SummaryRow> {
    let counts = SummaryCounts::count(pop, &eval.alive, &eval.status);
    counts.rows(plan, pop)
}

/// Status counts per criterion and clinic, added up block by block (see
/// [`super::evaluate_blocks`]) and turned into [`SummaryRow`]s at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryCounts {
    /// Per criterion, per clinic dictionary code (the last index: a null
    /// clinic), the people per status (indexed by `Status as usize`, 0 = not
    /// in population: every alive person is counted once per criterion).
    counts: Vec<Vec<[u64; 4]>>,
}

impl SummaryCounts {
    /// No one counted yet, for the criteria of `plan`.
    pub fn zeros(plan: &Plan, pop: &Population) -> SummaryCounts {
        let n_codes = pop.patients.clinic.values.len();
        SummaryCounts {
            counts: vec![vec![[0u64; 4]; n_codes + 1]; plan.criteria.len()],
        }
    }

    /// Counts `people` (alive, population indices) whose statuses per
    /// criterion (plan order) are `status[criterion][k]` for `people[k]`.
    /// Criteria are counted in parallel.
    pub fn count(pop: &Population, people: &[u32], status: &[Vec<Status>]) -> SummaryCounts {
        let (code, alive) = clinic_codes(pop, people);
        let counts = status
            .par_iter()
            .map(|status| {
                let mut counts = vec![[0u64; 4]; alive.len()];
                add_criterion(&mut counts, status, &code, &alive);
                counts
            })
            .collect();
        SummaryCounts { counts }
    }

    /// Adds `people` (alive, population indices) whose statuses per
    /// criterion (plan order) are `status[criterion][k]` for `people[k]`, on
    /// the calling thread (for the [`Part`](super::Part)s of a block).
    pub fn add_people(&mut self, pop: &Population, people: &[u32], status: &[Vec<Status>]) {
        let (code, alive) = clinic_codes(pop, people);
        for (counts, status) in self.counts.iter_mut().zip(status) {
            add_criterion(counts, status, &code, &alive);
        }
    }

    /// Adds `other`'s counts (of the same plan and population).
    pub fn add(&mut self, other: &SummaryCounts) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            for (x, y) in a.iter_mut().zip(b) {
                for k in 0..4 {
                    x[k] += y[k];
                }
            }
        }
    }

    /// Per criterion (plan order): the all-clinics row, then one row per
    /// clinic with people counted, clinics in name order (a null clinic is
    /// shown as "", and counts of one name are one row).
    pub fn rows(&self, plan: &Plan, pop: &Population) -> Vec<SummaryRow> {
        let codes = &pop.patients.clinic;
        let n_codes = codes.values.len();
        let name = |c: usize| codes.values.get(c).map_or("", String::as_str);
        // Every counted person has a status for every criterion, so the
        // first criterion's counts tell which clinics have people.
        let seen = |c: usize| {
            self.counts
                .first()
                .is_some_and(|k| k[c].iter().sum::<u64>() > 0)
        };
        let mut names: Vec<&str> = (0..=n_codes).filter(|&c| seen(c)).map(name).collect();
        names.sort_unstable();
        names.dedup();
        let code_slot: Vec<usize> = (0..=n_codes)
            .map(|c| names.binary_search(&name(c)).unwrap_or(0))
            .collect();
        let mut rows = Vec::with_capacity(plan.criteria.len() * (names.len() + 1));
        for (crit, by_code) in plan.criteria.iter().zip(&self.counts) {
            let mut by_slot = vec![[0u64; 4]; names.len()];
            for (c, k) in by_code.iter().enumerate() {
                if seen(c) {
                    for s in 0..4 {
                        by_slot[code_slot[c]][s] += k[s];
                    }
                }
            }
            let mut all = [0u64; 4];
            for k in &by_slot {
                for s in 1..4 {
                    all[s] += k[s];
                }
            }
            let make = |clinic: &str, c: [u64; 4]| SummaryRow {
                criterion: crit.id.clone(),
                clinic: clinic.to_string(),
                in_population: c[1] + c[2] + c[3],
                excluded: c[Status::Excluded as usize],
                open: c[Status::Open as usize],
                closed: c[Status::Closed as usize],
            };
            rows.push(make(ALL_CLINICS, all));
            for (name, k) in names.iter().zip(by_slot) {
                rows.push(make(name, k));
            }
        }
        rows
    }
}

/// Per person, the clinic's dictionary code (the null clinic: the number of
/// codes); and the people per code.
fn clinic_codes(pop: &Population, people: &[u32]) -> (Vec<u32>, Vec<u64>) {
    let codes = &pop.patients.clinic;
    let n_codes = codes.values.len();
    let code: Vec<u32> = people
        .iter()
        .map(|&p| codes.codes[p as usize].map_or(n_codes as u32, |c| c))
        .collect();
    let mut alive = vec![0u64; n_codes + 1];
    for &k in &code {
        alive[k as usize] += 1;
    }
    (code, alive)
}

/// Adds one criterion's statuses of the people with clinic codes `code` to
/// its per-clinic `counts`. Everyone starts as "not in population" (`alive`
/// per clinic) and moves to their status.
fn add_criterion(counts: &mut [[u64; 4]], status: &[Status], code: &[u32], alive: &[u64]) {
    for (c, &a) in counts.iter_mut().zip(alive) {
        c[0] += a;
    }
    let not_in = Status::NotInPopulation;
    for (block, codes) in status.chunks(16).zip(code.chunks(16)) {
        // Most people are outside most criteria's populations: runs of 16 of
        // them are skipped (`fold`, not `any`: no early exit, so the test
        // vectorises).
        if !block.iter().fold(false, |any, &st| any | (st != not_in)) {
            continue;
        }
        for (&st, &k) in block.iter().zip(codes) {
            let c = &mut counts[k as usize];
            c[st as usize] += 1;
            c[0] -= 1;
        }
    }
}
