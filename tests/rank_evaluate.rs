//! `caregap synth`'s outcomes table and `caregap rank evaluate` on a small
//! generated population, through the real binary.

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type, UInt32Type, UInt64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;
use std::process::Command;

fn caregap(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_caregap"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "caregap {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn read(path: &Path) -> RecordBatch {
    let f = std::fs::File::open(path).unwrap();
    let r = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = r.map(Result::unwrap).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

fn f64s(b: &RecordBatch, name: &str) -> Vec<f64> {
    b.column_by_name(name)
        .unwrap()
        .as_primitive::<Float64Type>()
        .values()
        .to_vec()
}

fn u64s(b: &RecordBatch, name: &str) -> Vec<u64> {
    b.column_by_name(name)
        .unwrap()
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec()
}

fn strs(b: &RecordBatch, name: &str) -> Vec<String> {
    let a = b.column_by_name(name).unwrap().as_string::<i32>();
    a.iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect()
}

#[test]
fn outcomes_and_evaluation_on_a_generated_population() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, run) = (tmp.path().join("data"), tmp.path().join("run"));
    let (d, r) = (data.to_str().unwrap(), run.to_str().unwrap());
    let criteria = concat!(env!("CARGO_MANIFEST_DIR"), "/criteria");
    caregap(&[
        "synth",
        "--patients",
        "3000",
        "--seed",
        "5",
        "--as-of",
        "2026-01-01",
        "--out",
        d,
    ]);

    // One outcomes row per truth row (people alive on as_of), same ids.
    let truth = read(&data.join("truth.parquet"));
    let out = read(&data.join("outcomes.parquet"));
    let ids = |b: &RecordBatch| -> Vec<i64> {
        b.column_by_name("patient_id")
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec()
    };
    assert_eq!(ids(&truth), ids(&out));
    let (expected, preventable) = (f64s(&out, "expected_events"), f64s(&out, "preventable"));
    for name in ["p_mi", "p_stroke", "p_bleeding", "p_hyperkalaemia"] {
        assert!(
            f64s(&out, name).iter().all(|p| (0.0..=1.0).contains(p)),
            "{name}"
        );
    }
    assert!(
        expected
            .iter()
            .zip(&preventable)
            .all(|(e, p)| *p >= 0.0 && p <= e)
    );
    let events: u32 = ["mi", "stroke", "bleeding", "hyperkalaemia"]
        .iter()
        .map(|n| {
            let a = out.column_by_name(n).unwrap().as_primitive::<UInt32Type>();
            assert!(a.values().iter().all(|v| *v <= 1));
            a.values().iter().sum::<u32>()
        })
        .sum();
    // Events drawn agree with the probabilities (within 5 standard deviations).
    let mean: f64 = expected.iter().sum();
    assert!(mean > 10.0, "expected events {mean}");
    assert!(
        (f64::from(events) - mean).abs() < 5.0 * mean.sqrt(),
        "{events} events, {mean} expected"
    );

    caregap(&[
        "score",
        "--data",
        d,
        "--criteria",
        criteria,
        "--as-of",
        "2026-01-01",
        "--out",
        r,
    ]);
    let stdout = caregap(&["rank", "evaluate", "--run", r, "--capacities", "5,20,80"]);
    assert!(stdout.contains("urgent people"), "{stdout}");
    assert!(stdout.contains("oracle"), "{stdout}");
    let ev = read(&run.join("evaluation.parquet"));
    let (clinic, order) = (strs(&ev, "clinic_id"), strs(&ev, "order"));
    let (cap, reached) = (u64s(&ev, "capacity"), u64s(&ev, "reached"));
    let (got, total) = (u64s(&ev, "events_reached"), u64s(&ev, "events_clinic"));
    let exp = f64s(&ev, "expected_reached");
    let n_clinics = clinic.iter().filter(|c| *c != "ALL").count() / 12;
    assert_eq!(ev.num_rows(), 4 * 3 * (n_clinics + 1));
    let row = |o: &str, c: &str, k: u64| {
        (0..ev.num_rows())
            .find(|&i| order[i] == o && clinic[i] == c && cap[i] == k)
            .unwrap()
    };
    for i in 0..ev.num_rows() {
        assert!(got[i] <= total[i]);
        assert!(
            reached[i]
                <= cap[i]
                    * if clinic[i] == "ALL" {
                        n_clinics as u64
                    } else {
                        1
                    }
        );
    }
    for c in clinic.iter().filter(|c| *c != "ALL") {
        for k in [5, 20, 80] {
            // Every order picks from the same people; the oracle takes the
            // most expected events of them; more capacity never reaches less.
            let o = row("oracle", c, k);
            for name in ["benefit", "additive", "random"] {
                let x = row(name, c, k);
                assert_eq!(reached[x], reached[o]);
                assert!(exp[x] <= exp[o] + 1e-9, "{name} {c} {k}");
            }
            if k > 5 {
                for name in ["benefit", "additive", "random", "oracle"] {
                    assert!(got[row(name, c, k)] >= got[row(name, c, k / 4)]);
                }
            }
        }
    }
    // The all-clinic rows sum the clinics.
    let sum = |o: &str, k: u64| -> u64 {
        (0..ev.num_rows())
            .filter(|&i| order[i] == o && cap[i] == k && clinic[i] != "ALL")
            .map(|i| got[i])
            .sum()
    };
    assert_eq!(got[row("benefit", "ALL", 20)], sum("benefit", 20));

    // The report draws capture against capacity from the evaluation.
    let report = tmp.path().join("report.html");
    caregap(&["rank", "--run", r]);
    caregap(&["report", "--run", r, "--out", report.to_str().unwrap()]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("Outcomes reached by list order"));
    assert!(html.contains("Share of next-year outcomes reached"));
    // `rank` without --run is an error that says what to pass.
    let bad = Command::new(env!("CARGO_BIN_EXE_caregap"))
        .args(["rank"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--run"));
}
