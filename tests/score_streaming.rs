//! The streaming evaluation (issue 21): events sorted by patient are read,
//! evaluated and dropped a patient range at a time, and every output is the
//! same as when the events are read whole: firings, features, the summary and
//! `run.json`'s counts and load report, unusable rows included. Unsorted
//! events are read whole.

mod cli_util;
mod data_util;

use arrow::array::RecordBatch;
use cli_util::{caregap, ok, root};
use std::path::Path;

const AS_OF: &str = "2025-06-30";

/// A generated population whose events are rewritten in row groups of
/// `rg_rows`, with some unusable rows spread through them.
fn population(dir: &Path, rg_rows: usize) {
    ok(caregap()
        .args([
            "synth",
            "--patients",
            "2500",
            "--seed",
            "13",
            "--as-of",
            AS_OF,
        ])
        .args(["--years", "3", "--out"])
        .arg(dir)
        .output()
        .unwrap());
    let events = nullable(&data_util::read_parquet(&dir.join("events.parquet")));
    // Unusable rows: an unknown patient, a null code, a negative supply
    // value on a medication... (whatever the loader rejects), kept in place.
    let n = events.num_rows();
    let mut rows: Vec<RecordBatch> = Vec::new();
    let mut at = 0;
    for (k, cut) in [n / 5, n / 2, 4 * n / 5].into_iter().enumerate() {
        rows.push(events.slice(at, cut - at));
        rows.push(bad_row(&events, cut, k));
        at = cut;
    }
    rows.push(events.slice(at, n - at));
    let all = arrow::compute::concat_batches(&events.schema(), &rows).unwrap();
    data_util::write(&dir.join("events.parquet"), &all, rg_rows);
}

/// The same columns, each nullable (the generator declares required ones not null).
fn nullable(b: &RecordBatch) -> RecordBatch {
    let schema = b.schema();
    data_util::batch(
        schema
            .fields()
            .iter()
            .zip(b.columns())
            .map(|(f, c)| (f.name().as_str(), c.clone()))
            .collect(),
    )
}

/// Row `i` of `events` made unusable in one of three ways.
fn bad_row(events: &RecordBatch, i: usize, how: usize) -> RecordBatch {
    let row = events.slice(i, 1);
    let (name, replacement): (&str, arrow::array::ArrayRef) = match how {
        0 => ("patient_id", data_util::ints(&[987_654_321])),
        1 => ("code", data_util::opt_strs(&[None])),
        _ => ("date", data_util::opt_dates(&[None])),
    };
    let schema = row.schema();
    let columns = schema
        .fields()
        .iter()
        .zip(row.columns())
        .map(|(f, c)| {
            if f.name() == name {
                arrow::compute::cast(&replacement, c.data_type()).unwrap()
            } else {
                c.clone()
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

fn score(data: &Path, out: &Path, chunk_events: u64, extra: &[&str]) -> std::process::Output {
    caregap()
        .args(["score", "--criteria"])
        .arg(root().join("criteria"))
        .args([
            "--as-of",
            AS_OF,
            "--chunk-events",
            &chunk_events.to_string(),
        ])
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn run_json(out: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    for k in ["timings_s", "options"] {
        o.remove(k);
    }
    v
}

/// Every output of `b` equals `a`'s, row for row; returns `b`'s patient ranges.
fn assert_same(a: &Path, b: &Path) -> u64 {
    for f in ["firings", "features", "criteria_summary"] {
        let (x, y) = (
            data_util::read_parquet(&a.join(format!("{f}.parquet"))),
            data_util::read_parquet(&b.join(format!("{f}.parquet"))),
        );
        assert_eq!(x.num_rows(), y.num_rows(), "{f}");
        assert_eq!(x, y, "{f}.parquet differs");
    }
    let (mut x, mut y) = (run_json(a), run_json(b));
    let ranges = y["patient_ranges"].as_u64().unwrap();
    x.as_object_mut().unwrap().remove("patient_ranges");
    y.as_object_mut().unwrap().remove("patient_ranges");
    assert_eq!(x, y, "run.json differs");
    ranges
}

#[test]
fn a_patient_range_at_a_time_gives_the_outputs_of_reading_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    population(&data, 4_000);
    let whole = tmp.path().join("whole");
    ok(score(&data, &whole, 0, &["--status"]));
    let v = run_json(&whole);
    assert_eq!(v["patient_ranges"], 1);
    let rejected: u64 = v["inputs"][1]["rows_rejected"].as_u64().unwrap();
    assert_eq!(rejected, 3, "the three unusable rows are counted");
    let mut seen = Vec::new();
    // One row group per range, a few per range, and ranges of uneven size.
    for chunk in [1, 9_000, 33_333, 100_000] {
        let out = tmp.path().join(format!("chunk-{chunk}"));
        ok(score(&data, &out, chunk, &["--status"]));
        seen.push(assert_same(&whole, &out));
    }
    assert!(seen[0] > 20, "one row group per range: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] >= w[1]) && seen[3] > 1,
        "{seen:?}"
    );

    // Row groups smaller than a person's history: people span several row
    // groups, ranges start inside row groups, some row groups hold one person.
    let small = tmp.path().join("small");
    population(&small, 37);
    let whole = tmp.path().join("small-whole");
    ok(score(&small, &whole, 0, &[]));
    for chunk in [400, 5_000] {
        let out = tmp.path().join(format!("small-{chunk}"));
        ok(score(&small, &out, chunk, &[]));
        assert!(assert_same(&whole, &out) > 10);
    }
}

#[test]
fn strict_refuses_the_same_first_row_and_unsorted_events_are_read_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    population(&data, 4_000);
    let whole = score(&data, &tmp.path().join("a"), 0, &["--strict"]);
    let streamed = score(&data, &tmp.path().join("b"), 5_000, &["--strict"]);
    assert!(!whole.status.success() && !streamed.status.success());
    let (e1, e2) = (
        String::from_utf8_lossy(&whole.stderr),
        String::from_utf8_lossy(&streamed.stderr),
    );
    assert!(e1.contains("row"), "{e1}");
    assert_eq!(e1, e2, "the same first unusable row");
    assert!(
        !tmp.path().join("b").exists(),
        "a refused run writes nothing"
    );

    // Row groups out of patient order: read whole, the same outputs.
    let events = data_util::read_parquet(&data.join("events.parquet"));
    let half = events.num_rows() / 2;
    let swapped = arrow::compute::concat_batches(
        &events.schema(),
        &[
            events.slice(half, events.num_rows() - half),
            events.slice(0, half),
        ],
    )
    .unwrap();
    let unsorted = tmp.path().join("unsorted");
    std::fs::create_dir_all(&unsorted).unwrap();
    for t in ["patients", "consents", "outreach"] {
        std::fs::copy(
            data.join(format!("{t}.parquet")),
            unsorted.join(format!("{t}.parquet")),
        )
        .unwrap();
    }
    data_util::write(&unsorted.join("events.parquet"), &swapped, 4_000);
    let (a, b) = (tmp.path().join("u0"), tmp.path().join("u1"));
    ok(score(&unsorted, &a, 0, &[]));
    ok(score(&unsorted, &b, 5_000, &[]));
    assert_eq!(run_json(&b)["patient_ranges"], 1, "unsorted: read whole");
    // (The events are the same rows in another order: the load report's
    // examples may name other rows, so compare the tables only.)
    for f in ["firings", "features", "criteria_summary"] {
        assert_eq!(
            data_util::read_parquet(&a.join(format!("{f}.parquet"))),
            data_util::read_parquet(&b.join(format!("{f}.parquet"))),
        );
    }
}
