//! Pathological but legal inputs (issue 22), through the real binary: a person
//! with 1,000,000 events, a 10,000-character code, 100,000 distinct codes,
//! dates at 0001-01-01 and 9999-12-31, values NaN and ±infinity. Each has a
//! clear, documented behaviour (docs/reliability.md), checked here.

mod data_util;

use std::fs;
use std::process::Command;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type};
use data_util::{Ev, batch, dates, ev, events_batch, ints, opt_dates, strs};

const LIBRARY: &str = r#"
[dx.htn]
ICD10 = ["I10..I15"]

[dx.z]
ICD10 = ["Z"]

[visit.any]
VISIT = ["GP"]

[lab.sbp]
LOINC = ["=8480-6"]

[[feature]]
name = "visits"
expr = "count(visit.any)"

[[feature]]
name = "visits_12mo"
expr = "count(visit.any, 12mo)"

[[feature]]
name = "htn"
expr = "has(dx.htn)"

[[feature]]
name = "z_codes"
expr = "count(dx.z)"

[[feature]]
name = "age"
expr = "age"

[[feature]]
name = "htn_days"
expr = "days_since_first(dx.htn)"

[[feature]]
name = "sbp_last"
expr = "last(lab.sbp)"

[[feature]]
name = "sbp_max"
expr = "max(lab.sbp)"

[[feature]]
name = "sbp_min"
expr = "min(lab.sbp)"

[[feature]]
name = "sbp_mean"
expr = "mean(lab.sbp)"

[[feature]]
name = "sbp_count"
expr = "count(lab.sbp)"

[[criterion]]
id = "HTN.HIGH"
title = "High"
population = "has(dx.htn)"
gap = "max(lab.sbp) >= 140"
priority = 5
"#;

const FIRST_DAY: i32 = -719_162; // 0001-01-01
const LAST_DAY: i32 = 2_932_896; // 9999-12-31
const AS_OF: i32 = 20_454; // 2026-01-01

#[test]
fn pathological_but_legal_inputs_behave_as_documented() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let lib = tmp.path().join("lib");
    fs::create_dir_all(&lib).unwrap();
    fs::write(lib.join("lib.toml"), LIBRARY).unwrap();

    let ids = [1, 2, 3, 4, 5];
    data_util::write(
        &data.join("patients.parquet"),
        &batch(vec![
            ("patient_id", ints(&ids)),
            (
                "birth_date",
                dates(&[-3653, FIRST_DAY, -3653, -3653, -3653]),
            ),
            ("sex", strs(&["F"; 5])),
            ("clinic_id", strs(&["C1"; 5])),
            (
                "death_date",
                opt_dates(&[None, Some(LAST_DAY), None, None, None]),
            ),
        ]),
        10,
    );
    let mut rows: Vec<Ev> = Vec::new();
    // 1: a million visits, one a day back from as_of (about 2,700 years).
    rows.extend((0..1_000_000).map(|i| ev(1, AS_OF - i, "visit", "VISIT", "GP", None)));
    // 2: born and diagnosed on 0001-01-01, dies on 9999-12-31.
    rows.push(ev(2, FIRST_DAY, "diagnosis", "ICD10", "I10", None));
    // 3: a 10,000-character code (a hypertension code by its first three
    // characters) and 100,000 distinct Z codes.
    let long = format!("I10{}", "9".repeat(9_997));
    rows.push(ev(3, AS_OF - 10, "diagnosis", "ICD10", &long, None));
    rows.extend((0..100_000).map(|i| {
        ev(
            3,
            AS_OF - 5,
            "diagnosis",
            "ICD10",
            &format!("Z{i:06}"),
            None,
        )
    }));
    // 4: blood pressures NaN, +inf, -inf and 150, on four days.
    for (i, v) in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 150.0]
        .into_iter()
        .enumerate()
    {
        rows.push(ev(
            4,
            AS_OF - 40 + i as i32,
            "measurement",
            "LOINC",
            "8480-6",
            Some(v),
        ));
    }
    rows.push(ev(4, AS_OF - 50, "diagnosis", "ICD10", "I10", None));
    // 5: an event on 9999-12-31: after as_of, counted apart.
    rows.push(ev(5, LAST_DAY, "diagnosis", "ICD10", "I10", None));
    data_util::write(&data.join("events.parquet"), &events_batch(&rows), 262_144);

    let out = tmp.path().join("run");
    let status = Command::new(env!("CARGO_BIN_EXE_caregap"))
        .args(["score", "--strict", "--as-of", "2026-01-01", "--data"])
        .arg(&data)
        .arg("--criteria")
        .arg(&lib)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    // Memory stays bounded: the largest resident size of the run (this test
    // binary's only child) is printed, and held under the fuzzers' 2 GiB
    // limit for unbounded memory (docs/reliability.md has the measured size).
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getrusage only writes the struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        assert_eq!(
            unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
            0
        );
        let mib = usage.ru_maxrss as f64 / 1024.0;
        eprintln!("caregap score on the pathological inputs: peak resident {mib:.0} MiB");
        assert!(mib < 2048.0, "peak resident {mib:.0} MiB");
    }

    let run: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("run.json")).unwrap()).unwrap();
    let events = &run["inputs"][1];
    assert_eq!(events["rows_after_as_of"], 1);
    assert_eq!(events["rows_rejected"], 0);

    let f = data_util::read_parquet(&out.join("features.parquet"));
    let pid = f
        .column_by_name("patient_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(pid.values().to_vec(), ids.to_vec(), "everyone is alive");
    let num = |name: &str, row: usize| -> Option<f64> {
        let c = f
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Float64Type>();
        c.is_valid(row).then(|| c.value(row))
    };
    let flag = |name: &str, row: usize| f.column_by_name(name).unwrap().as_boolean().value(row);
    // 1: every visit counted; a year holds 365 of them.
    assert_eq!(num("visits", 0), Some(1_000_000.0));
    assert_eq!(num("visits_12mo", 0), Some(365.0));
    // 2: 2,025 completed years on 2026-01-01; 739,616 days since 0001-01-01.
    assert_eq!(num("age", 1), Some(2025.0));
    assert_eq!(num("htn_days", 1), Some(739_616.0));
    // 3: the long code matches by its first characters; every Z code counts.
    assert!(flag("htn", 2));
    assert_eq!(num("z_codes", 2), Some(100_000.0));
    // 4: NaN is null (still an event); ±inf are values; inf + -inf is no mean.
    assert_eq!(num("sbp_count", 3), Some(4.0));
    assert_eq!(num("sbp_last", 3), Some(150.0));
    assert_eq!(num("sbp_max", 3), Some(f64::INFINITY));
    assert_eq!(num("sbp_min", 3), Some(f64::NEG_INFINITY));
    assert_eq!(num("sbp_mean", 3), None);
    // 5: the event after as_of is not seen.
    assert!(!flag("htn", 4));

    // Person 4 fires: max = +inf >= 140, with readable evidence.
    let firings = data_util::read_parquet(&out.join("firings.parquet"));
    let fp = firings
        .column_by_name("patient_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(fp.values().to_vec(), vec![4]);
}
