//! Quality-measure counts per criterion and clinic.

use std::collections::BTreeMap;

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
    let names: Vec<&str> = clinics.keys().copied().collect();
    let mut rows = Vec::with_capacity(plan.criteria.len() * (names.len() + 1));
    for (ci, crit) in plan.criteria.iter().enumerate() {
        // counts[clinic] = [in_population, excluded, open, closed]
        let mut counts = vec![[0u64; 4]; names.len()];
        for (i, st) in eval.status[ci].iter().enumerate() {
            let k = match st {
                Status::NotInPopulation => continue,
                Status::Excluded => 1,
                Status::Open => 2,
                Status::Closed => 3,
            };
            let row = &mut counts[slot[&person_clinic[i]]];
            row[0] += 1;
            row[k] += 1;
        }
        let mut all = [0u64; 4];
        for c in &counts {
            for k in 0..4 {
                all[k] += c[k];
            }
        }
        let make = |clinic: &str, c: [u64; 4]| SummaryRow {
            criterion: crit.id.clone(),
            clinic: clinic.to_string(),
            in_population: c[0],
            excluded: c[1],
            open: c[2],
            closed: c[3],
        };
        rows.push(make(ALL_CLINICS, all));
        for (name, c) in names.iter().zip(counts) {
            rows.push(make(name, c));
        }
    }
    rows
}
