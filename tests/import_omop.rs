//! `caregap import omop` end to end: hand-written CDM tables (comma, tab and
//! Parquet, no concept table) against golden tables and counts, and the round
//! trip synth → OMOP CSV → import → score against scoring the Parquet.

mod data_util;
mod import_util;

use std::fs;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, StringArray};

use import_util::{caregap, report, run, scores_identically};

#[test]
fn hand_written_cdm_tables_without_a_vocabulary() {
    let tmp = tempfile::tempdir().unwrap();
    let cdm = tmp.path().join("cdm");
    fs::create_dir(&cdm).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import_fixtures/omop");
    for e in fs::read_dir(&fixtures).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, cdm.join(p.file_name().unwrap())).unwrap();
    }
    // measurement as Parquet, with typed columns.
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("measurement_id", Arc::new(Int64Array::from(vec![1, 2, 3]))),
        ("person_id", Arc::new(Int64Array::from(vec![1, 1, 3]))),
        (
            "measurement_concept_id",
            Arc::new(Int64Array::from(vec![0, 0, 0])),
        ),
        // 2024-03-05 = day 19787
        (
            "measurement_date",
            Arc::new(Date32Array::from(vec![19787, 19787, 19787])),
        ),
        (
            "value_as_number",
            Arc::new(Float64Array::from(vec![Some(142.0), None, Some(5.0)])),
        ),
        (
            "measurement_source_value",
            Arc::new(StringArray::from(vec!["8480-6", "4548-4", "2093-3"])),
        ),
        (
            "unit_source_value",
            Arc::new(StringArray::from(vec![
                Some("mmHg"),
                Some("mmol/mol"),
                None,
            ])),
        ),
    ];
    data_util::write(
        &cdm.join("measurement.parquet"),
        &data_util::batch(cols),
        1024,
    );
    let out = tmp.path().join("data");
    run(caregap()
        .args(["import", "omop"])
        .arg(&cdm)
        .args(["--source-system", "drug_exposure=ATC", "--out"])
        .arg(&out));
    let events = data_util::read_parquet(&out.join("events.parquet"));
    let patients = data_util::read_parquet(&out.join("patients.parquet"));
    let text = |b: &arrow::array::RecordBatch| {
        let opts = arrow::util::display::FormatOptions::default().with_null("null");
        (0..b.num_rows())
            .map(|r| {
                b.columns()
                    .iter()
                    .map(|c| {
                        arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &opts)
                            .unwrap()
                            .value(r)
                            .to_string()
                    })
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        text(&patients),
        [
            "1 | 1950-04-12 | F | HC01 | null | null | null",
            "2 | 1961-01-01 | X | UNASSIGNED | 2024-02-03 | null | null",
        ]
    );
    assert_eq!(
        text(&events),
        [
            "1 | 2019-05-20 | diagnosis | ICD10 | E11.9 | null | null",
            "1 | 2020-01-01 | diagnosis | ICD10 | I10 | null | null",
            "1 | 2023-10-20 | immunization | ATC | J07BB02 | null | null",
            "1 | 2024-01-10 | medication | ATC | A10BA02 | 90.0 | null",
            "1 | 2024-03-05 | measurement | LOINC | 8480-6 | 142.0 | mmHg",
            "1 | 2024-03-05 | measurement | LOINC | 4548-4 | null | mmol/mol",
        ]
    );
    let r = report(&out);
    let rejected = |t: &str, why: &str| r["resources"][t]["rejected"][why]["count"].as_u64();
    assert_eq!(
        rejected("person", "no year_of_birth / birth_datetime"),
        Some(1)
    );
    assert_eq!(
        rejected("condition_occurrence", "no date or not a date"),
        Some(1)
    );
    assert_eq!(
        rejected("condition_occurrence", "subject is not an imported Patient"),
        Some(1)
    );
    assert_eq!(
        rejected(
            "condition_occurrence",
            "no concept in the concept table and no source value"
        ),
        Some(1)
    );
    assert_eq!(rejected("drug_exposure", "negative days_supply"), Some(1));
    assert_eq!(
        rejected("measurement", "subject is not an imported Patient"),
        Some(1)
    );
    assert_eq!(
        r["resources"]["condition_occurrence"]["rejected"]["no date or not a date"]["examples"][0],
        "condition_occurrence.tsv:4"
    );
    // --strict refuses the folder.
    let o = caregap()
        .args(["import", "omop", "--strict"])
        .arg(&cdm)
        .arg("--out")
        .arg(tmp.path().join("strict"))
        .output()
        .unwrap();
    assert!(!o.status.success());
}

#[test]
fn round_trip_through_omop_scores_identically() {
    let people =
        std::env::var("CAREGAP_IMPORT_ROUNDTRIP_PEOPLE_OMOP").unwrap_or_else(|_| "5000".into());
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for (format, out) in [("parquet", "pq"), ("omop", "cdm")] {
        run(caregap()
            .args([
                "synth",
                "--patients",
                &people,
                "--seed",
                "11",
                "--as-of",
                "2025-06-30",
            ])
            .args(["--format", format, "--out"])
            .arg(t.join(out)));
    }
    run(caregap()
        .args(["import", "omop"])
        .arg(t.join("cdm"))
        .arg("--out")
        .arg(t.join("imported")));
    let r = report(&t.join("imported"));
    for (ty, c) in r["resources"].as_object().unwrap() {
        assert_eq!(c["read"], c["used"], "{ty}: {c}");
    }
    scores_identically(t, "pq", "imported");
}
