//! GLM fitting speed: Poisson IRLS and NB2 on simulated people.

use caregap_models::glm::{GlmParams, fit_negative_binomial, fit_poisson};
use caregap_models::simulate::simulate;
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let sim = simulate(100_000, 1);
    let mut g = c.benchmark_group("glm_100k_rows");
    g.sample_size(10);
    g.bench_function("poisson_irls", |b| {
        b.iter(|| fit_poisson(&sim.train, &GlmParams::default()).unwrap())
    });
    g.bench_function("negative_binomial", |b| {
        b.iter(|| fit_negative_binomial(&sim.train, &GlmParams::default()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
