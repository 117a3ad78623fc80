//! The generator is deterministic for a seed: across runs, thread counts and chunk sizes.

use std::path::Path;

use arrow::record_batch::RecordBatch;
use caregap_synth::{Config, FILES, generate};
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn config(patients: u64, seed: u64) -> Config {
    let mut cfg = Config::new(patients, seed, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    cfg.chunk_patients = 300;
    cfg
}

fn run_with_threads(cfg: &Config, dir: &Path, threads: usize) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| generate(cfg, dir, &|_| {})).unwrap();
}

fn read_all(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    vec![arrow::compute::concat_batches(&schema, &batches).unwrap()]
}

#[test]
fn same_seed_same_bytes_on_one_and_two_threads() {
    let cfg = config(1000, 7);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    run_with_threads(&cfg, a.path(), 1);
    run_with_threads(&cfg, b.path(), 2);
    for name in FILES {
        let fa = std::fs::read(a.path().join(format!("{name}.parquet"))).unwrap();
        let fb = std::fs::read(b.path().join(format!("{name}.parquet"))).unwrap();
        assert!(fa == fb, "{name}.parquet differs between 1 and 2 threads");
    }
}

#[test]
fn chunk_size_does_not_change_rows() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let mut cfg = config(600, 11);
    run_with_threads(&cfg, a.path(), 2);
    cfg.chunk_patients = 97;
    cfg.row_group_rows = 5000;
    run_with_threads(&cfg, b.path(), 2);
    for name in FILES {
        let ra = read_all(&a.path().join(format!("{name}.parquet")));
        let rb = read_all(&b.path().join(format!("{name}.parquet")));
        assert_eq!(ra, rb, "{name}.parquet rows differ between chunk sizes");
    }
}

#[test]
fn different_seeds_differ() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    run_with_threads(&config(200, 1), a.path(), 2);
    run_with_threads(&config(200, 2), b.path(), 2);
    let ra = read_all(&a.path().join("events.parquet"));
    let rb = read_all(&b.path().join("events.parquet"));
    assert_ne!(ra, rb);
}
