//! Quality-measure counts per criterion and clinic.

use std::collections::BTreeMap;

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
    let clinic_codes = &pop.patients.clinic;
    // Clinic dictionary index per alive person (`None`: null clinic, shown as "").
    let person_clinic: Vec<Option<u32>> = eval
        .alive
        .iter()
        .map(|&p| clinic_codes.codes[p as usize])
        .collect();
    let mut clinics: BTreeMap<&str, Option<u32>> = BTreeMap::new();
    for c in &person_clinic {
        clinics.insert(
            c.map_or("", |c| clinic_codes.values[c as usize].as_str()),
            *c,
        );
    }
    let slot: BTreeMap<Option<u32>, usize> =
        clinics.values().enumerate().map(|(i, c)| (*c, i)).collect();
    let person_slot: Vec<u32> = person_clinic.iter().map(|c| slot[c] as u32).collect();
    let names: Vec<&str> = clinics.keys().copied().collect();
    // Criteria are independent: counted in parallel, rows kept in plan order.
    let per_criterion: Vec<Vec<SummaryRow>> = plan
        .criteria
        .par_iter()
        .zip(&eval.status)
        .map(|(crit, status)| {
            // counts[clinic] = [in_population, excluded, open, closed], indexed
            // by `Status as usize` (0 = not in population, skipped below).
            let mut counts = vec![[0u64; 4]; names.len()];
            for (&st, &k) in status.iter().zip(&person_slot) {
                counts[k as usize][st as usize] += 1;
            }
            let mut all = [0u64; 4];
            for c in &counts {
                for k in 1..4 {
                    all[k] += c[k];
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
            let mut rows = Vec::with_capacity(names.len() + 1);
            rows.push(make(ALL_CLINICS, all));
            for (name, c) in names.iter().zip(counts) {
                rows.push(make(name, c));
            }
            rows
        })
        .collect();
    let rows: Vec<SummaryRow> = per_criterion.into_iter().flatten().collect();
    rows
}
