//! Load time of a small generated dataset (20,000 patients, ~50 events each,
//! 1M event rows) next to merely decoding the same Parquet columns.
//! `cargo bench --bench load`. The 640,000-person measurement is the
//! `load_bench` example (see examples/load_bench.rs).

#[path = "../tests/data_util/mod.rs"]
mod data_util;

use std::fs::File;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use rayon::prelude::*;

fn parts(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.push(dir.join("patients.parquet"));
    v
}

/// Decodes every column of every row group (the generated files hold only
/// the columns the loader reads), row groups in parallel.
fn decode_only(files: &[PathBuf]) -> usize {
    let units: Vec<(PathBuf, ArrowReaderMetadata, usize)> = files
        .iter()
        .flat_map(|p| {
            let meta =
                ArrowReaderMetadata::load(&File::open(p).unwrap(), ArrowReaderOptions::new())
                    .unwrap();
            (0..meta.metadata().num_row_groups()).map(move |rg| (p.clone(), meta.clone(), rg))
        })
        .collect();
    units
        .into_par_iter()
        .with_max_len(1)
        .map(|(p, meta, rg)| {
            ParquetRecordBatchReaderBuilder::new_with_metadata(File::open(p).unwrap(), meta)
                .with_row_groups(vec![rg])
                .with_batch_size(64 * 1024)
                .build()
                .unwrap()
                .map(|b| b.unwrap().num_rows())
                .sum::<usize>()
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    data_util::write_generated(dir.path(), 20_000, 50, 4, 42);
    let files = parts(dir.path());
    let opts = caregap::data::LoadOptions::new(caregap::data::parse_day("2026-01-01").unwrap());
    let mut group = c.benchmark_group("load_20k_patients");
    group.sample_size(10);
    group.bench_function("decode_only", |b| b.iter(|| decode_only(&files)));
    group.bench_function("load", |b| {
        b.iter(|| {
            caregap::data::load(dir.path(), &opts)
                .unwrap()
                .population
                .events
                .len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
