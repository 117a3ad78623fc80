//! The Parquet loader against small hand-written tables.

mod data_util;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, DictionaryArray, Int32Array, LargeStringArray, StringViewArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::Int32Type;
use caregap::data::*;
use data_util::*;

fn opts(as_of: Day) -> LoadOptions {
    LoadOptions::new(as_of)
}

fn load_err(dir: &Path, opts: &LoadOptions) -> String {
    match load(dir, opts) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message lacks {p:?}: {msg}");
    }
}

/// Events of patient `p` as (date, kind, system, code, value, unit).
fn view(pop: &Population, p: usize) -> Vec<(Day, EventKind, String, String, Option<f64>, String)> {
    let ev = &pop.events;
    ev.range(p)
        .map(|i| {
            let c = &pop.codes.entries[ev.code[i] as usize];
            (
                ev.date[i],
                c.kind,
                c.system.clone(),
                c.code.clone(),
                ev.has_value[i].then_some(ev.value[i]),
                pop.units[ev.unit[i] as usize].clone(),
            )
        })
        .collect()
}

#[test]
fn loads_events_grouped_sorted_and_normalised() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("patients.parquet"),
        &simple_patients(&[30, 10, 20]),
        2,
    );
    let mut rows = vec![
        ev(10, 200, "diagnosis", "icd10", "e11.9", None),
        ev(20, 100, "measurement", "LOINC", "4548-4", Some(7.5)),
        ev(10, 100, "diagnosis", "ICD10", " E11-9 ", None),
        ev(10, 200, "diagnosis", "ICD10", "I10", None),
        ev(10, 150, "medication", "ATC", "C09AA02", None),
    ];
    rows[1].unit = Some("%".into());
    write(&dir.path().join("events.parquet"), &events_batch(&rows), 2);
    let ds = load(dir.path(), &opts(1000)).unwrap();
    let pop = &ds.population;
    assert_eq!(pop.patients.ids, PatientIds::Int(vec![30, 10, 20]));
    assert_eq!(pop.events.offsets, [0, 0, 4, 5]);
    let p10: Vec<_> = view(pop, 1).into_iter().map(|e| (e.0, e.3)).collect();
    // Date order; the two day-200 events keep input order.
    assert_eq!(
        p10,
        [
            (100, "E119".into()),
            (150, "C09AA02".into()),
            (200, "E119".into()),
            (200, "I10".into())
        ]
    );
    // e11.9/icd10 and E11-9/ICD10 are one code.
    let e119: Vec<_> = pop
        .codes
        .entries
        .iter()
        .filter(|c| c.code == "E119")
        .collect();
    assert_eq!(e119.len(), 1);
    assert_eq!(e119[0].system, "ICD10");
    assert_eq!(view(pop, 2)[0].4, Some(7.5));
    assert_eq!(view(pop, 2)[0].5, "%");
    assert_eq!(view(pop, 1)[1].4, None, "a null supply stays null");
    assert_eq!(pop.units[0], "");
    assert_eq!(ds.report.total_rejected(), 0);
    let events = ds.report.table(Table::Events).unwrap();
    assert_eq!((events.rows_read, events.rows_used), (5, 5));
}

#[test]
fn unusable_rows_are_counted_by_reason_and_strict_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("patients.parquet"),
        &simple_patients(&[1, 2]),
        10,
    );
    let rows = vec![
        ev(1, 10, "diagnosis", "ICD10", "I10", None),
        ev(99, 10, "diagnosis", "ICD10", "I10", None), // orphan
        ev(1, 10, "Diagnosis", "ICD10", "I10", None),  // unknown kind (exact)
        ev(1, 501, "visit", "VISIT", "GP", None),      // after as_of
        ev(2, 500, "visit", "VISIT", "GP", None),      // on as_of: kept
        ev(2, 20, "medication", "ATC", "C09", Some(-1.0)), // negative supply
        ev(2, 20, "measurement", "LOINC", "X", Some(-1.0)), // negative value is fine
        ev(2, 20, "medication", "ATC", "C09", Some(0.0)), // zero supply kept
    ];
    let mut batch = events_batch(&rows);
    // Null code on an extra row.
    let extra = events_batch(&[ev(1, 5, "diagnosis", "ICD10", "I10", None)]);
    let extra = data_util::batch(vec![
        ("patient_id", extra.column(0).clone()),
        ("date", extra.column(1).clone()),
        ("kind", extra.column(2).clone()),
        ("system", extra.column(3).clone()),
        ("code", opt_strs(&[None])),
        ("value", extra.column(5).clone()),
        ("unit", extra.column(6).clone()),
    ]);
    batch = arrow::compute::concat_batches(&batch.schema(), &[batch.clone(), extra]).unwrap();
    write(&dir.path().join("events.parquet"), &batch, 3);
    let ds = load(dir.path(), &opts(500)).unwrap();
    let r = &ds.report;
    assert_eq!(r.count(Table::Events, &Reason::OrphanPatient), 1);
    assert_eq!(r.count(Table::Events, &Reason::UnknownKind), 1);
    assert_eq!(r.count(Table::Events, &Reason::NegativeSupply), 1);
    assert_eq!(
        r.count(Table::Events, &Reason::NullRequired { column: "code" }),
        1
    );
    // The event after as_of is set aside, not rejected (the data model).
    assert_eq!(r.total_rejected(), 4);
    let t = r.table(Table::Events).unwrap();
    assert_eq!(
        (
            t.rows_read,
            t.rows_used,
            t.rows_rejected,
            t.rows_after_as_of
        ),
        (9, 4, 4, 1)
    );
    assert_eq!(ds.population.events.len(), 4);
    assert!(ds.population.events.date.iter().all(|&d| d <= 500));
    let orphan = r
        .rejected
        .iter()
        .find(|x| x.reason == Reason::OrphanPatient)
        .unwrap();
    assert_eq!(orphan.examples[0].row, 2);
    assert_eq!(orphan.examples[0].value, "patient_id = 99");
    assert!(orphan.examples[0].file.ends_with("events.parquet"));
    let kind = r
        .rejected
        .iter()
        .find(|x| x.reason == Reason::UnknownKind)
        .unwrap();
    assert_eq!(kind.examples[0].value, "kind = \"Diagnosis\"");
    // Serialisable for run records.
    let json = serde_json::to_string(r).unwrap();
    assert!(json.contains("\"reason\":\"orphan_patient\""), "{json}");
    assert!(json.contains("\"column\":\"code\""), "{json}");

    let strict = LoadOptions {
        strict: true,
        ..opts(500)
    };
    let msg = load_err(dir.path(), &strict);
    assert_mentions(
        &msg,
        &[
            "events.parquet",
            "row 2",
            "patient_id not in the patients table",
            "4 unusable",
        ],
    );
}

#[test]
fn events_after_as_of_are_counted_apart_and_strict_keeps_them_apart() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("patients.parquet"),
        &simple_patients(&[1, 2]),
        10,
    );
    let rows = vec![
        ev(1, 499, "visit", "VISIT", "GP", None),
        ev(1, 500, "visit", "VISIT", "GP", None), // on as_of: kept
        ev(1, 501, "visit", "VISIT", "GP", None), // after as_of
        ev(2, 900, "measurement", "LOINC", "X", Some(1.0)), // after as_of
    ];
    write(&dir.path().join("events.parquet"), &events_batch(&rows), 2);
    // A real extract runs past a back-dated scoring date: strict loads it.
    let strict = LoadOptions {
        strict: true,
        ..opts(500)
    };
    let ds = load(dir.path(), &strict).unwrap();
    let t = ds.report.table(Table::Events).unwrap();
    assert_eq!(
        (
            t.rows_read,
            t.rows_used,
            t.rows_rejected,
            t.rows_after_as_of
        ),
        (4, 2, 0, 2)
    );
    assert!(ds.report.rejected.is_empty());
    assert_eq!(ds.population.events.date, [499, 500]);

    // An unusable row is unusable whatever its date: strict still refuses it.
    let rows = vec![
        ev(1, 500, "visit", "VISIT", "GP", None),
        ev(1, 600, "medication", "ATC", "C09", Some(-5.0)),
    ];
    write(&dir.path().join("events.parquet"), &events_batch(&rows), 2);
    let ds = load(dir.path(), &opts(500)).unwrap();
    assert_eq!(ds.report.count(Table::Events, &Reason::NegativeSupply), 1);
    assert_eq!(ds.report.table(Table::Events).unwrap().rows_after_as_of, 0);
    let msg = load_err(dir.path(), &strict);
    assert_mentions(&msg, &["row 2", "negative supply", "--strict"]);
}

#[test]
fn missing_column_names_file_column_and_type() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("patients.parquet"),
        &simple_patients(&[1]),
        10,
    );
    let full = events_batch(&[ev(1, 1, "visit", "VISIT", "GP", None)]);
    let no_code = full.project(&[0, 1, 2, 3, 5]).unwrap();
    write(&dir.path().join("events.parquet"), &no_code, 10);
    let msg = load_err(dir.path(), &opts(10));
    assert_mentions(
        &msg,
        &[
            "events.parquet",
            "`code`",
            "Utf8",
            "columns found",
            "system (Utf8)",
        ],
    );
}

#[test]
fn wrong_type_names_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let ts: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![0i64]));
    let p = data_util::batch(vec![
        ("patient_id", ints(&[1])),
        ("birth_date", ts),
        ("sex", strs(&["F"])),
        ("clinic_id", strs(&["C"])),
    ]);
    write(&dir.path().join("patients.parquet"), &p, 10);
    write(&dir.path().join("events.parquet"), &events_batch(&[]), 10);
    let msg = load_err(dir.path(), &opts(10));
    assert_mentions(
        &msg,
        &[
            "patients.parquet",
            "`birth_date`",
            "expected Date32",
            "Timestamp",
            "pa.date32()",
        ],
    );

    // An Int32 value column.
    write(
        &dir.path().join("patients.parquet"),
        &simple_patients(&[1]),
        10,
    );
    let e = events_batch(&[ev(1, 1, "visit", "VISIT", "GP", None)]);
    let e = data_util::batch(vec![
        ("patient_id", e.column(0).clone()),
        ("date", e.column(1).clone()),
        ("kind", e.column(2).clone()),
        ("system", e.column(3).clone()),
        ("code", e.column(4).clone()),
        ("value", Arc::new(Int32Array::from(vec![1])) as ArrayRef),
    ]);
    write(&dir.path().join("events.parquet"), &e, 10);
    let msg = load_err(dir.path(), &opts(10));
    assert_mentions(&msg, &["events.parquet", "`value`", "Float64", "Int32"]);
}

#[test]
fn id_types_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("patients.parquet"),
        &simple_patients(&[1]),
        10,
    );
    let e = events_batch(&[ev(1, 1, "visit", "VISIT", "GP", None)]);
    let e = data_util::batch(vec![
        ("patient_id", strs(&["1"])),
        ("date", e.column(1).clone()),
        ("kind", e.column(2).clone()),
        ("system", e.column(3).clone()),
        ("code", e.column(4).clone()),
    ]);
    write(&dir.path().join("events.parquet"), &e, 10);
    let msg = load_err(dir.path(), &opts(10));
    assert_mentions(
        &msg,
        &["events.parquet", "patient_id", "Utf8", "Int64", "same type"],
    );
}

#[test]
fn duplicate_patient_id_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("patients/a.parquet"),
        &simple_patients(&[5, 77]),
        10,
    );
    write(
        &dir.path().join("patients/b.parquet"),
        &simple_patients(&[8, 77]),
        10,
    );
    write(&dir.path().join("events.parquet"), &events_batch(&[]), 10);
    let msg = load_err(dir.path(), &opts(10));
    assert_mentions(
        &msg,
        &[
            "patient_id 77",
            "b.parquet, row 2",
            "a.parquet, row 2",
            "unique",
        ],
    );
}

#[test]
fn missing_and_ambiguous_tables() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("patients.parquet"),
        &simple_patients(&[1]),
        10,
    );
    let msg = load_err(dir.path(), &opts(10));
    assert_mentions(&msg, &["no `events` table", "events.parquet", "events/"]);
    write(&dir.path().join("events.parquet"), &events_batch(&[]), 10);
    write(&dir.path().join("events/p.parquet"), &events_batch(&[]), 10);
    let msg = load_err(dir.path(), &opts(10));
    assert_mentions(&msg, &["given twice", "remove or rename"]);
}

#[test]
fn folder_of_parts_is_one_table_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("patients.parquet"),
        &simple_patients(&[1]),
        10,
    );
    // Same date everywhere: the order must be parts by name, then rows.
    let e = |code: &str| ev(1, 7, "diagnosis", "ICD10", code, None);
    write(
        &dir.path().join("events/part-10.parquet"),
        &events_batch(&[e("C1"), e("C2")]),
        1,
    );
    write(
        &dir.path().join("events/part-02.parquet"),
        &events_batch(&[e("B1")]),
        1,
    );
    write(
        &dir.path().join("events/part-01.parquet"),
        &events_batch(&[e("A1"), e("A2")]),
        1,
    );
    std::fs::write(dir.path().join("events/_SUCCESS"), "").unwrap();
    let ds = load(dir.path(), &opts(10)).unwrap();
    let codes: Vec<_> = view(&ds.population, 0).into_iter().map(|e| e.3).collect();
    assert_eq!(codes, ["A1", "A2", "B1", "C1", "C2"]);
    assert_eq!(ds.report.table(Table::Events).unwrap().files.len(), 3);
}

#[test]
fn string_ids_and_other_string_encodings() {
    let dir = tempfile::tempdir().unwrap();
    let dict: DictionaryArray<Int32Type> = vec!["C1", "C2", "C1"].into_iter().collect();
    let p = data_util::batch(vec![
        ("patient_id", strs(&["p-a", "p-b", "p-c"])),
        ("birth_date", dates(&[0, 1, 2])),
        (
            "sex",
            Arc::new(LargeStringArray::from(vec!["F", "M", "X"])) as ArrayRef,
        ),
        ("clinic_id", Arc::new(dict) as ArrayRef),
        ("death_date", opt_dates(&[None, Some(50), None])),
        ("language", opt_strs(&[Some("fi"), None, Some("sv")])),
        ("ignored", ints(&[1, 2, 3])),
    ]);
    write(&dir.path().join("patients.parquet"), &p, 2);
    let kinds: DictionaryArray<Int32Type> = vec!["visit", "diagnosis"].into_iter().collect();
    let e = data_util::batch(vec![
        (
            "patient_id",
            Arc::new(StringViewArray::from(vec!["p-c", "p-a"])) as ArrayRef,
        ),
        ("date", dates(&[3, 4])),
        ("kind", Arc::new(kinds) as ArrayRef),
        (
            "system",
            Arc::new(StringViewArray::from(vec!["visit", "ICD10"])) as ArrayRef,
        ),
        (
            "code",
            Arc::new(LargeStringArray::from(vec!["gp", "i10"])) as ArrayRef,
        ),
    ]);
    write(&dir.path().join("events.parquet"), &e, 10);
    let ds = load(dir.path(), &opts(100)).unwrap();
    let pop = &ds.population;
    assert_eq!(
        pop.patients.ids,
        PatientIds::Str(vec!["p-a".into(), "p-b".into(), "p-c".into()])
    );
    assert_eq!(pop.patients.clinic.get(1), Some("C2"));
    assert_eq!(pop.patients.sex.get(2), Some("X"));
    assert_eq!(pop.patients.language.get(1), None);
    assert_eq!(pop.patients.municipality.get(0), None);
    assert!(!pop.patients.is_alive(1, 50) && pop.patients.is_alive(1, 49));
    assert_eq!(view(pop, 0)[0].3, "I10");
    assert_eq!(
        (view(pop, 2)[0].2.as_str(), view(pop, 2)[0].3.as_str()),
        ("VISIT", "GP")
    );
    assert_eq!(pop.events.offsets, [0, 1, 1, 2]);
}

#[test]
fn patient_rows_with_nulls_are_rejected_and_their_events_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let p = data_util::batch(vec![
        ("patient_id", ints(&[1, 2, 3])),
        ("birth_date", opt_dates(&[Some(0), None, Some(0)])),
        ("sex", strs(&["F", "M", "F"])),
        ("clinic_id", opt_strs(&[Some("C"), Some("C"), None])),
    ]);
    write(&dir.path().join("patients.parquet"), &p, 10);
    let e = events_batch(&[
        ev(1, 1, "visit", "VISIT", "GP", None),
        ev(2, 1, "visit", "VISIT", "GP", None),
        ev(3, 1, "visit", "VISIT", "GP", None),
    ]);
    write(&dir.path().join("events.parquet"), &e, 10);
    let ds = load(dir.path(), &opts(10)).unwrap();
    let r = &ds.report;
    assert_eq!(ds.population.patients.len(), 1);
    assert_eq!(
        r.count(
            Table::Patients,
            &Reason::NullRequired {
                column: "birth_date"
            }
        ),
        1
    );
    assert_eq!(
        r.count(
            Table::Patients,
            &Reason::NullRequired {
                column: "clinic_id"
            }
        ),
        1
    );
    assert_eq!(r.count(Table::Events, &Reason::RejectedPatient), 2);
    assert_eq!(ds.population.events.len(), 1);
}

#[test]
fn consents_and_outreach_rows() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("patients.parquet"),
        &simple_patients(&[1, 2, 3]),
        10,
    );
    write(&dir.path().join("events.parquet"), &events_batch(&[]), 10);
    let c = data_util::batch(vec![
        ("patient_id", ints(&[1, 1, 2, 2, 3, 9, 3, 3])),
        (
            "scope",
            opt_strs(&[
                Some("outreach"),
                Some("outreach"),
                Some("research"),
                Some("Outreach"),
                Some("outreach"),
                Some("outreach"),
                None,
                Some("outreach"),
            ]),
        ),
        (
            "granted",
            bools(&[
                Some(false),
                Some(true),
                Some(false),
                Some(false),
                Some(true),
                Some(false),
                Some(false),
                None,
            ]),
        ),
        ("date", dates(&[10, 20, 5, 5, 7, 1, 1, 1])),
    ]);
    write(&dir.path().join("consents.parquet"), &c, 3);
    let o = data_util::batch(vec![
        ("patient_id", ints(&[1, 2, 7])),
        ("date", dates(&[3, 4, 5])),
        (
            "criterion_id",
            opt_strs(&[Some("htn.untreated"), None, None]),
        ),
        ("outcome", strs(&["booked", "maybe", "declined"])),
    ]);
    write(&dir.path().join("outreach.parquet"), &o, 10);
    let ds = load(dir.path(), &opts(100)).unwrap();
    let r = &ds.report;
    assert_eq!(ds.consents.rows.len(), 4);
    assert_eq!(r.count(Table::Consents, &Reason::UnknownScope), 1);
    assert_eq!(r.count(Table::Consents, &Reason::OrphanPatient), 1);
    assert_eq!(r.count(Table::Consents, &Reason::NullGranted), 1);
    assert_eq!(
        r.count(Table::Consents, &Reason::NullRequired { column: "scope" }),
        1
    );
    assert_eq!(
        ds.consents.allowed(ConsentScope::Outreach, 100),
        [true, true, true]
    );
    assert_eq!(
        ds.consents.allowed(ConsentScope::Outreach, 15),
        [false, true, true]
    );
    assert_eq!(
        ds.consents.allowed(ConsentScope::Research, 100),
        [true, false, true]
    );
    assert_eq!(
        ds.outreach.rows,
        [Contact {
            patient: 0,
            date: 3,
            criterion_id: Some("htn.untreated".into()),
            outcome: Outcome::Booked,
        }]
    );
    assert_eq!(r.count(Table::Outreach, &Reason::UnknownOutcome), 1);
    assert_eq!(r.count(Table::Outreach, &Reason::OrphanPatient), 1);
}

#[test]
fn extra_event_files_join_the_events_table() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("patients.parquet"),
        &simple_patients(&[1]),
        10,
    );
    write(
        &dir.path().join("events.parquet"),
        &events_batch(&[ev(1, 5, "visit", "VISIT", "GP", None)]),
        10,
    );
    let future = dir.path().join("events_future.parquet");
    write(
        &future,
        &events_batch(&[
            ev(1, 15, "visit", "VISIT", "GP", None),
            ev(1, 30, "visit", "VISIT", "GP", None),
        ]),
        10,
    );
    let plain = load(dir.path(), &opts(20)).unwrap();
    assert_eq!(
        plain.population.events.len(),
        1,
        "events_future is not part of `events`"
    );
    let with = load(
        dir.path(),
        &LoadOptions {
            extra_event_files: vec![future],
            ..opts(20)
        },
    )
    .unwrap();
    assert_eq!(with.population.events.date, [5, 15]);
    assert_eq!(
        with.report.table(Table::Events).unwrap().rows_after_as_of,
        1
    );
}

#[test]
fn generated_population_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    write_generated(dir.path(), 300, 20, 3, 7);
    let ds = load(dir.path(), &opts(30_000)).unwrap();
    let pop = &ds.population;
    assert_eq!(pop.patients.len(), 300);
    let total = ds.report.table(Table::Events).unwrap().rows_read;
    assert_eq!(pop.events.len() as u64, total);
    assert_eq!(pop.events.offsets.len(), 301);
    for p in 0..300 {
        assert!(pop.events.date[pop.events.range(p)].is_sorted());
    }
    // 11 raw codes, e11.9/icd10 normalised once.
    assert!(
        pop.codes
            .entries
            .iter()
            .any(|c| c.system == "ICD10" && c.code == "E119")
    );
    assert_eq!(pop.units, ["", "mmol/mol"]);
    assert_eq!(pop.patients.clinic.values.len(), 5);
    // Same result with one thread.
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let again = single.install(|| load(dir.path(), &opts(30_000)).unwrap());
    assert_eq!(again, ds);
}
