//! Generation speed. The 640,000-person measurement is a documented command
//! (see data-synth/README.md); this bench times a 20,000-person run so that
//! regressions show up without hogging the machine.

use std::hint::black_box;

use caregap_synth::{Config, generate};
use chrono::NaiveDate;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench_generate(c: &mut Criterion) {
    let patients = 20_000;
    let cfg = Config::new(
        patients,
        42,
        NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date"),
    );
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut group = c.benchmark_group("synth");
    group.sample_size(10);
    group.throughput(Throughput::Elements(patients));
    group.bench_function("generate_20k_people_5y", |b| {
        b.iter(|| black_box(generate(&cfg, dir.path(), &|_| {}).expect("generation succeeds")))
    });
    group.finish();
}

criterion_group!(benches, bench_generate);
criterion_main!(benches);
