//! Load time and peak memory of the Parquet loader against merely decoding
//! the same Parquet columns, on a real-sized dataset.
//!
//! ```text
//! # a dataset (or use `caregap synth --patients 640000 ... --out DIR`)
//! cargo run --release --example load_bench -- generate DIR 640000 100
//! # each mode in its own process so that peak RSS is its own
//! /usr/bin/time -v cargo run --release --example load_bench -- decode DIR
//! /usr/bin/time -v cargo run --release --example load_bench -- load DIR 2026-01-01
//! ```
//! `decode` reads the columns the loader reads (all of `patients`'s and
//! `events`'s data-model columns) with the parquet crate's Arrow reader, row
//! groups in parallel on rayon's threads (`RAYON_NUM_THREADS`), and only
//! counts rows. `load` runs `caregap::data::load`. Both print wall time and
//! the process's peak RSS (VmHWM); `load` also the in-memory size of the event
//! columns, the yardstick of the memory target.

#[path = "../tests/data_util/mod.rs"]
mod data_util;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use rayon::prelude::*;

const USAGE: &str =
    "usage: load_bench generate DIR PATIENTS EVENTS_PER_PATIENT | decode DIR | load DIR [AS_OF]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["generate", dir, n, per] => {
            let start = Instant::now();
            let n: usize = n.parse().expect("PATIENTS is a number");
            let per: usize = per.parse().expect("EVENTS_PER_PATIENT is a number");
            data_util::write_generated(Path::new(dir), n, per, (n / 20_000).max(1), 42);
            println!(
                "generated {n} patients in {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
        ["decode", dir] => decode(Path::new(dir)),
        ["load", dir] => load(Path::new(dir), "2026-01-01"),
        ["load", dir, as_of] => load(Path::new(dir), as_of),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

fn table_files(dir: &Path, table: &str) -> Vec<PathBuf> {
    let file = dir.join(format!("{table}.parquet"));
    if file.is_file() {
        return vec![file];
    }
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir.join(table))
        .expect("table folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    parts.sort();
    parts
}

fn decode(dir: &Path) {
    let start = Instant::now();
    let mut units = Vec::new();
    for (table, cols) in [
        (
            "patients",
            &[
                "patient_id",
                "birth_date",
                "sex",
                "clinic_id",
                "death_date",
                "municipality",
                "language",
            ][..],
        ),
        (
            "events",
            &[
                "patient_id",
                "date",
                "kind",
                "system",
                "code",
                "value",
                "unit",
            ][..],
        ),
    ] {
        for path in table_files(dir, table) {
            let meta =
                ArrowReaderMetadata::load(&File::open(&path).unwrap(), ArrowReaderOptions::new())
                    .unwrap();
            let roots: Vec<usize> = meta
                .schema()
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| cols.contains(&f.name().as_str()))
                .map(|(i, _)| i)
                .collect();
            let mask = ProjectionMask::roots(meta.parquet_schema(), roots);
            for rg in 0..meta.metadata().num_row_groups() {
                units.push((path.clone(), meta.clone(), mask.clone(), rg));
            }
        }
    }
    let rows: usize = units
        .into_par_iter()
        .with_max_len(1)
        .map(|(path, meta, mask, rg)| {
            let reader =
                ParquetRecordBatchReaderBuilder::new_with_metadata(File::open(path).unwrap(), meta)
                    .with_projection(mask)
                    .with_row_groups(vec![rg])
                    .with_batch_size(64 * 1024)
                    .build()
                    .unwrap();
            reader.map(|b| b.unwrap().num_rows()).sum::<usize>()
        })
        .sum();
    println!(
        "decode: {rows} rows in {:.3} s on {} threads; peak RSS {}",
        start.elapsed().as_secs_f64(),
        rayon::current_num_threads(),
        peak_rss()
    );
}

fn load(dir: &Path, as_of: &str) {
    let as_of = caregap::data::parse_day(as_of).expect("AS_OF as YYYY-MM-DD");
    let start = Instant::now();
    let ds =
        caregap::data::load(dir, &caregap::data::LoadOptions::new(as_of)).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1)
        });
    let secs = start.elapsed().as_secs_f64();
    let ev = &ds.population.events;
    let column_bytes = ev.len() * (4 + 4 + 8 + 1 + 4) + ev.offsets.len() * 4;
    println!(
        "load: {} patients, {} events ({} rejected) in {secs:.3} s on {} threads; peak RSS {}; event columns {:.1} MiB",
        ds.population.patients.len(),
        ev.len(),
        ds.report.total_rejected(),
        rayon::current_num_threads(),
        peak_rss(),
        column_bytes as f64 / (1 << 20) as f64
    );
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l[6..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
