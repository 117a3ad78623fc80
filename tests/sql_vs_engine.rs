//! The emitted SQL against the engine on random valid libraries and small
//! tricky populations (the engine's own generators, `tests/support`): the
//! firings (patient, criterion) and every feature value must agree.
//!
//! Runs on DuckDB (and PostgreSQL with `CAREGAP_PG_DSN`, Spark with
//! `CAREGAP_SQL_SPARK`). Cases: `CAREGAP_SQL_PROPTEST_CASES` (default 6).
//! Skips with a message when the DuckDB venv is missing (see `sql_common`).

mod sql_common;
mod support;

use std::collections::BTreeSet;

use caregap::data::{Day, PatientIds, Population};
use caregap::eval::{EvalOptions, FeatureValues, Status, evaluate};
use caregap::lang::ir::Library;
use caregap::plan;
use caregap::sql::{Dialect, SqlOptions, emit};
use proptest::prelude::*;
use serde_json::Value;
use sql_common::Engine;

fn cases() -> u32 {
    std::env::var("CAREGAP_SQL_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6)
}

fn date_text(day: Day) -> String {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    (epoch + chrono::TimeDelta::days(day.into()))
        .format("%Y-%m-%d")
        .to_string()
}

fn quote(d: Dialect, s: &str) -> String {
    match d {
        Dialect::Spark => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        _ => format!("'{}'", s.replace('\'', "''")),
    }
}

/// Statements creating `patients` and `events` holding the population.
fn population_sql(d: Dialect, pop: &Population) -> String {
    let double = if d == Dialect::Postgres {
        "DOUBLE PRECISION"
    } else {
        "DOUBLE"
    };
    let string = if d == Dialect::Spark {
        "STRING"
    } else {
        "VARCHAR"
    };
    let PatientIds::Int(ids) = &pop.patients.ids else {
        panic!("the generator makes integer ids")
    };
    let p = &pop.patients;
    let patients: Vec<String> = (0..p.len())
        .map(|i| {
            let death =
                p.death_date[i].map_or("NULL".into(), |x| format!("DATE '{}'", date_text(x)));
            format!(
                "({}, DATE '{}', {}, {}, {death})",
                ids[i],
                date_text(p.birth_date[i]),
                quote(d, p.sex.get(i).unwrap_or_default()),
                quote(d, p.clinic.get(i).unwrap_or_default()),
            )
        })
        .collect();
    let ev = &pop.events;
    let mut events = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        for e in ev.range(i) {
            let code = &pop.codes.entries[ev.code[e] as usize];
            let value = if ev.has_value[e] {
                format!("CAST('{:?}' AS {double})", ev.value[e])
            } else {
                "NULL".into()
            };
            let unit = match ev.unit[e] {
                0 => "NULL".into(),
                u => quote(d, &pop.units[u as usize]),
            };
            events.push(format!(
                "({}, DATE '{}', {}, {}, {}, {value}, {unit})",
                id,
                date_text(ev.date[e]),
                quote(d, code.kind.as_str()),
                quote(d, &code.system),
                quote(d, &code.code),
            ));
        }
    }
    if events.is_empty() {
        // Keep the column types: one event of an unknown kind is unusable.
        events.push(format!(
            "({}, DATE '2000-01-01', 'none', 'X', 'X', NULL, NULL)",
            ids.first().copied().unwrap_or(0)
        ));
    }
    let cols_p = [
        ("patient_id", "BIGINT"),
        ("birth_date", "DATE"),
        ("sex", string),
        ("clinic_id", string),
        ("death_date", "DATE"),
    ];
    let cols_e = [
        ("patient_id", "BIGINT"),
        ("date", "DATE"),
        ("kind", string),
        ("system", string),
        ("code", string),
        ("value", double),
        ("unit", string),
    ];
    let mut out = String::new();
    for (table, cols, rows) in [
        ("patients", &cols_p[..], &patients),
        ("events", &cols_e[..], &events),
    ] {
        let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
        let casts: Vec<String> = cols
            .iter()
            .map(|(n, t)| format!("CAST({n} AS {t}) AS {n}"))
            .collect();
        let (view, values) = if d == Dialect::Spark {
            (
                "CREATE OR REPLACE TEMP VIEW",
                format!("VALUES {}", rows.join(", ")),
            )
        } else {
            ("CREATE TEMP TABLE", format!("(VALUES {})", rows.join(", ")))
        };
        out += &format!(
            "{view} {table} AS SELECT {} FROM {values} AS t({});\n",
            casts.join(", "),
            names.join(", ")
        );
    }
    out
}

fn check(engine: &Engine, lib: &Library, pop: &Population, as_of: Day) -> Result<(), String> {
    let d = engine.dialect;
    let plan = plan::compile(lib);
    let eval = evaluate(&plan, pop, as_of, &EvalOptions::default()).map_err(|e| e.to_string())?;
    let PatientIds::Int(ids) = &pop.patients.ids else {
        unreachable!()
    };
    let setup = population_sql(d, pop);

    // Firings.
    let mut want = BTreeSet::new();
    for (c, statuses) in eval.status.iter().enumerate() {
        for (i, s) in statuses.iter().enumerate() {
            if *s == Status::Open {
                want.insert((ids[eval.alive[i] as usize], lib.criteria[c].id.clone()));
            }
        }
    }
    let script = emit(lib, as_of, d, &SqlOptions::default());
    let rows = sql_common::run_sql(engine, &setup, &script);
    let got: BTreeSet<(i64, String)> = rows
        .iter()
        .map(|r| (r[0].as_i64().unwrap(), r[2].as_str().unwrap().to_string()))
        .collect();
    if got.len() != rows.len() {
        return Err(format!("{d:?}: duplicate firing rows"));
    }
    if got != want {
        let only_sql: Vec<_> = got.difference(&want).take(5).collect();
        let only_engine: Vec<_> = want.difference(&got).take(5).collect();
        return Err(format!(
            "{d:?}: firings differ: only SQL {only_sql:?}, only engine {only_engine:?}\n{script}"
        ));
    }

    // Features.
    let opts = SqlOptions {
        features: true,
        ..SqlOptions::default()
    };
    let script = emit(lib, as_of, d, &opts);
    let mut rows = sql_common::run_sql(engine, &setup, &script);
    rows.sort_by_key(|r| r[0].as_i64());
    if rows.len() != eval.alive.len() {
        return Err(format!(
            "{d:?}: {} feature rows, engine {} people alive",
            rows.len(),
            eval.alive.len()
        ));
    }
    for (i, row) in rows.iter().enumerate() {
        for (f, col) in eval.features.iter().enumerate() {
            let want = col.valid[i].then(|| match &col.values {
                FeatureValues::Num(v) => v[i],
                FeatureValues::Bool(v) => v[i] as u8 as f64,
            });
            let got = match &row[2 + f] {
                Value::Null => None,
                Value::Bool(b) => Some(*b as u8 as f64),
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.parse().ok(),
                v => return Err(format!("unexpected cell {v}")),
            };
            let same = match (got, want) {
                (None, None) => true,
                // `mean` may be summed in another order.
                (Some(a), Some(b)) => a == b || (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                _ => false,
            };
            if !same {
                return Err(format!(
                    "{d:?}: person {} feature {}: SQL {got:?}, engine {want:?}\n{:#?}",
                    row[0], lib.features[f].name, lib.features[f].expr
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn emitted_sql_matches_the_engine_on_random_libraries() {
    for engine in sql_common::engines("emitted_sql_matches_the_engine_on_random_libraries", true) {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: cases(),
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        runner
            .run(&any::<u64>(), |seed| {
                let mut rng = support::Rng(seed);
                let lib = support::random_library(&mut rng);
                let as_of = support::random_as_of(&mut rng);
                let pop = support::random_population(&mut rng, as_of, 40);
                check(&engine, &lib, &pop, as_of).map_err(TestCaseError::fail)
            })
            .unwrap();
    }
}
