//! The fast engine against the reference evaluator on random valid libraries
//! and small tricky populations: every person's status per criterion, every
//! feature value, and the unit-mismatch counts must agree exactly.
//!
//! `CAREGAP_PROPTEST_CASES=5000 cargo test --release --test engine_vs_reference`
//! for a heavy run (default: 96 cases).

mod reference;
mod support;

use caregap::data::Population;
use caregap::eval::{EvalOptions, Evaluation, EvidenceMode, FeatureValues, Status, evaluate};
use caregap::lang::ir::Library;
use caregap::plan;
use proptest::prelude::*;
use reference::{RefStatus, V};
use support::*;

fn cases() -> u32 {
    std::env::var("CAREGAP_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(96)
}

fn ref_status(s: Status) -> RefStatus {
    match s {
        Status::NotInPopulation => RefStatus::NotInPopulation,
        Status::Excluded => RefStatus::Excluded,
        Status::Open => RefStatus::Open,
        Status::Closed => RefStatus::Closed,
    }
}

fn feature_value(e: &Evaluation, f: usize, i: usize) -> Option<f64> {
    let col = &e.features[f];
    if !col.valid[i] {
        return None;
    }
    Some(match &col.values {
        FeatureValues::Num(v) => v[i],
        FeatureValues::Bool(v) => v[i] as u8 as f64,
    })
}

/// Compares engine and reference for one library, population and date.
pub fn compare(lib: &Library, pop: &Population, as_of: i32) -> Result<(), String> {
    let plan = plan::compile(lib);
    let opts = EvalOptions {
        evidence: EvidenceMode::InPopulation,
        ..EvalOptions::default()
    };
    let eval = evaluate(&plan, pop, as_of, &opts).map_err(|e| e.to_string())?;
    let r = reference::evaluate(lib, pop, as_of);
    let ref_alive: Vec<u32> = (0..pop.patients.len() as u32)
        .filter(|&p| r.people[p as usize].is_some())
        .collect();
    if eval.alive != ref_alive {
        return Err(format!(
            "alive differs: engine {:?} reference {:?}",
            eval.alive, ref_alive
        ));
    }
    for (i, &p) in eval.alive.iter().enumerate() {
        let rp = r.people[p as usize].as_ref().unwrap();
        for c in 0..lib.criteria.len() {
            let got = ref_status(eval.status[c][i]);
            if got != rp.status[c] {
                return Err(format!(
                    "person {p} criterion {}: engine {got:?}, reference {:?}",
                    lib.criteria[c].id, rp.status[c]
                ));
            }
        }
        for f in 0..lib.features.len() {
            let got = feature_value(&eval, f, i);
            let want = rp.features[f];
            let same = match (got, want) {
                (None, None) => true,
                (Some(a), Some(b)) => a == b,
                _ => false,
            };
            if !same {
                return Err(format!(
                    "person {p} feature {}: engine {got:?}, reference {want:?}",
                    lib.features[f].name
                ));
            }
        }
    }
    if eval.unit_mismatches != r.unit_mismatches {
        return Err(format!(
            "unit mismatches: engine {:?} reference {:?}",
            eval.unit_mismatches, r.unit_mismatches
        ));
    }
    // Evidence rows are exactly the in-population (person, criterion) pairs.
    let mut expected = Vec::new();
    for (i, &p) in eval.alive.iter().enumerate() {
        for c in 0..lib.criteria.len() {
            if eval.status[c][i] != Status::NotInPopulation {
                expected.push((p, c as u32, eval.status[c][i]));
            }
        }
    }
    let got: Vec<_> = eval
        .firings
        .iter()
        .map(|f| (f.patient, f.criterion, f.status))
        .collect();
    if got != expected {
        return Err("evidence rows differ from statuses".into());
    }
    let _ = V::Null;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_reference(seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let lib = random_library(&mut rng);
        let load_as_of = random_as_of(&mut rng);
        let pop = random_population(&mut rng, load_as_of, 40);
        // Also evaluate earlier than the load date (model training does).
        let as_of = load_as_of - *rng.pick(&[0, 0, 1, 31, 365]);
        if let Err(msg) = compare(&lib, &pop, as_of) {
            return Err(TestCaseError::fail(format!("{msg}\nlibrary: {lib:#?}")));
        }
    }
}
