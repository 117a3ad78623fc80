//! The store's per-patient event view equals a plain stable sort of the input
//! rows by (patient, date), whatever the split into files and row groups.
//! More cases: `PROPTEST_CASES=1000 cargo test --test data_proptest`.

mod data_util;

use caregap::data::*;
use data_util::*;
use proptest::prelude::*;

const KINDS: [&str; 4] = ["diagnosis", "visit", "measurement", "Visit"];
const CODES: [&str; 4] = ["e11.9", "E119", "I10", "gp"];

#[derive(Debug, Clone)]
struct Case {
    n_patients: usize,
    /// (patient id, date, kind index, code index)
    rows: Vec<(i64, i32, usize, usize)>,
    /// Rows per file (the rest goes to the last file) and row-group size.
    files: Vec<(usize, usize)>,
    as_of: i32,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..12)
        .prop_flat_map(|n| {
            (
                Just(n),
                prop::collection::vec((0..n as i64 + 2, 0i32..8, 0usize..4, 0usize..4), 0..120),
                prop::collection::vec((0usize..40, 1usize..9), 1..5),
                4i32..9,
            )
        })
        .prop_map(|(n_patients, rows, files, as_of)| Case {
            n_patients,
            rows,
            files,
            as_of,
        })
}

fn run(case: &Case) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    // Patient ids in reverse order, so that ids and indices differ.
    let ids: Vec<i64> = (0..case.n_patients as i64).rev().collect();
    write(
        &dir.path().join("patients.parquet"),
        &simple_patients(&ids),
        3,
    );
    // Each row carries its input position as `value` to identify it.
    let rows: Vec<Ev> = case
        .rows
        .iter()
        .enumerate()
        .map(|(i, &(pid, date, k, c))| ev(pid, date, KINDS[k], "ICD10", CODES[c], Some(i as f64)))
        .collect();
    let mut start = 0;
    for (f, &(len, rg)) in case.files.iter().enumerate() {
        let end = if f + 1 == case.files.len() {
            rows.len()
        } else {
            (start + len).min(rows.len())
        };
        write(
            &dir.path().join(format!("events/part-{f:02}.parquet")),
            &events_batch(&rows[start..end]),
            rg,
        );
        start = end;
    }
    let ds = load(dir.path(), &LoadOptions::new(case.as_of)).unwrap();
    let pop = &ds.population;

    // Reference: usable rows, stably sorted by (patient index, date).
    let index = |pid: i64| ids.iter().position(|&x| x == pid);
    let mut expected: Vec<(usize, i32, usize)> = case
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| index(r.0).is_some() && r.1 <= case.as_of && KINDS[r.2] != "Visit")
        .map(|(i, r)| (index(r.0).unwrap(), r.1, i))
        .collect();
    expected.sort_by_key(|&(p, d, _)| (p, d));
    let got: Vec<(usize, i32, usize)> = (0..pop.patients.len())
        .flat_map(|p| pop.events.range(p).map(move |i| (p, i)))
        .map(|(p, i)| (p, pop.events.date[i], pop.events.value[i] as usize))
        .collect();
    prop_assert_eq!(&got, &expected);
    for (i, &(_, _, row)) in expected.iter().enumerate() {
        let entry = &pop.codes.entries[pop.events.code[i] as usize];
        prop_assert_eq!(&entry.code, &normalise_code(CODES[case.rows[row].3]));
        prop_assert_eq!(entry.kind.as_str(), KINDS[case.rows[row].2]);
    }
    let t = ds.report.table(Table::Events).unwrap();
    prop_assert_eq!(t.rows_read, case.rows.len() as u64);
    prop_assert_eq!(
        t.rows_used + t.rows_rejected + t.rows_after_as_of,
        t.rows_read
    );
    // Usable rows after as_of are counted apart, not rejected.
    let after = case
        .rows
        .iter()
        .filter(|r| index(r.0).is_some() && r.1 > case.as_of && KINDS[r.2] != "Visit")
        .count();
    prop_assert_eq!(t.rows_after_as_of, after as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
    ))]
    #[test]
    fn per_patient_view_is_a_stable_sort_of_the_input(case in case()) {
        run(&case)?;
    }
}
