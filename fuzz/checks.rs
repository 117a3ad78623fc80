//! What each fuzz target asserts, shared by the targets (`fuzz_targets/`) and
//! by the regression test of the normal test run (`tests/fuzz_regressions.rs`),
//! which replays every file of `fuzz/corpus/` and `fuzz/regressions/`.
//!
//! Beyond "no panic", each check asserts the entry point's own invariants.

#![allow(dead_code)]

use std::path::Path;

use caregap::data::{self, LoadOptions, Table};
use caregap::eval::{self, EvalOptions, EvidenceMode};
use caregap::lang::{self, diag::SourceFile};
use caregap::sql::{self, Dialect, SqlOptions};
use caregap::testcase;

/// A few people to evaluate a fuzzed library on (the shipped cardiac cases).
fn people() -> (data::Population, data::Day) {
    let text = include_str!("../criteria/tests/cardiac.toml");
    let file = testcase::parse_case_file("cardiac.toml", text)
        .unwrap_or_else(|e| panic!("the shipped case file must parse: {e:?}"));
    (testcase::build_population(&file), file.as_of)
}

/// The criteria language, whole: a TOML library file as bytes. Compiles it;
/// a library with an error is refused (`None`) and one without is returned;
/// every diagnostic points into the file on character boundaries and renders;
/// an accepted library plans, evaluates on a few people and emits SQL in every
/// dialect.
pub fn library(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let files = [SourceFile {
        name: "fuzz.toml".into(),
        text: text.to_string(),
    }];
    let (lib, diags) = lang::compile_library(&files);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    assert_eq!(
        lib.is_some(),
        errors == 0,
        "refused iff an error: {diags:?}"
    );
    for d in &diags {
        assert_eq!(d.file, "fuzz.toml");
        assert!(
            d.span.start <= d.span.end && d.span.end <= text.len(),
            "{d:?}"
        );
        assert!(
            text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end),
            "{d:?}"
        );
        assert!(d.line >= 1 && d.column >= 1, "{d:?}");
        for (span, _) in &d.secondary {
            assert!(
                span.end <= text.len() && text.is_char_boundary(span.start),
                "{d:?}"
            );
        }
    }
    let _ = lang::diag::render(&diags, &files, false);
    let Some(lib) = lib else { return };
    let plan = caregap::plan::compile(&lib);
    let (pop, as_of) = people();
    let opts = EvalOptions {
        evidence: EvidenceMode::Firings,
        progress: None,
    };
    let e = eval::evaluate(&plan, &pop, as_of, &opts).expect("evaluation of a checked library");
    assert_eq!(e.alive.len(), pop.patients.len());
    for dialect in [Dialect::DuckDb, Dialect::Spark, Dialect::Postgres] {
        let _ = sql::emit(&lib, as_of, dialect, &SqlOptions::default());
    }
}

/// The Parquet loader: the bytes are the `events` table (first byte even) or
/// the `patients` table (odd) of a data folder whose other table is valid.
/// Loading either fails with an error value or accounts for every row.
pub fn loader(bytes: &[u8], dir: &Path) {
    let Some((&first, rest)) = bytes.split_first() else {
        return;
    };
    let valid = include_bytes!("valid.parquet.tables");
    let (patients, events) = split_tables(valid);
    let (p, e) = if first % 2 == 0 {
        (patients, rest)
    } else {
        (rest, events)
    };
    std::fs::write(dir.join("patients.parquet"), p).unwrap();
    std::fs::write(dir.join("events.parquet"), e).unwrap();
    let opts = LoadOptions::new(data::parse_day("2026-01-01").unwrap());
    let Ok(ds) = data::load(dir, &opts) else {
        return;
    };
    for t in &ds.report.tables {
        assert_eq!(
            t.rows_read,
            t.rows_used + t.rows_rejected + t.rows_after_as_of,
            "{t:?}"
        );
    }
    let pop = &ds.population;
    let used = ds.report.table(Table::Events).map_or(0, |t| t.rows_used);
    assert_eq!(pop.events.len() as u64, used);
    assert_eq!(pop.events.offsets.len(), pop.patients.len() + 1);
    for p in 0..pop.patients.len() {
        let dates = &pop.events.date[pop.events.range(p)];
        assert!(
            dates.windows(2).all(|w| w[0] <= w[1]),
            "events sorted by date"
        );
        assert!(
            dates.iter().all(|&d| d <= opts.as_of),
            "no event after as_of"
        );
    }
}

/// `valid.parquet.tables` is a patients file and an events file, each
/// preceded by its length as 8 little-endian bytes.
pub fn split_tables(bytes: &[u8]) -> (&[u8], &[u8]) {
    let len = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let n = len(bytes);
    let patients = &bytes[8..8 + n];
    let rest = &bytes[8 + n..];
    let m = len(rest);
    (patients, &rest[8..8 + m])
}
