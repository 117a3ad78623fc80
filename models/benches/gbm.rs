//! Gradient-boosting kernels: histogram building (all rows, and a random
//! eighth of the rows as in a deeper leaf), tree growth, and a full 10-round
//! training run, on 640,000 simulated people × 30 features.

use caregap_models::gbm::binning::BinMapper;
use caregap_models::gbm::histogram::{self, BinStat, Layout, Rows};
use caregap_models::gbm::split::SplitRules;
use caregap_models::gbm::tree::{GrowContext, Growth, Workspace, grow};
use caregap_models::gbm::{GbmParams, Objective, train};
use caregap_models::simulate::simulate;
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let sim = simulate(640_000, 1);
    let d = &sim.train;
    let n = d.n_rows();
    let mappers: Vec<BinMapper> = (0..d.n_features())
        .map(|j| BinMapper::fit(d.column(j), 255, 200_000, 0))
        .collect();
    let bins: Vec<Vec<u8>> = mappers
        .iter()
        .enumerate()
        .map(|(j, m)| m.bin_column(d.column(j)))
        .collect();
    let layout = Layout::new(&mappers.iter().map(BinMapper::n_bins).collect::<Vec<_>>());
    // As in training: the most frequent bin of mostly-one-value features is skipped.
    let layout_skip = layout.clone().with_most_frequent_bins(&bins);
    let obj = Objective::poisson();
    let score = vec![obj.init_score(d.labels(), None); n];
    let mut gh = vec![[0f32; 2]; n];
    obj.gradients(d.labels(), None, &score, &mut gh);
    let used = vec![true; d.n_features()];
    let mut hist = vec![BinStat::default(); layout.total()];

    let mut grp = c.benchmark_group("gbm_640k_rows");
    grp.sample_size(10);
    grp.bench_function("histogram_all_rows", |b| {
        b.iter(|| histogram::build(&mut hist, &layout, &bins, &used, &Rows::All { gh: &gh }))
    });
    let rows: Vec<u32> = (0..n as u32)
        .filter(|i| i.wrapping_mul(2_654_435_761) % 8 == 0)
        .collect();
    let ogh: Vec<[f32; 2]> = rows.iter().map(|&r| gh[r as usize]).collect();
    grp.bench_function("histogram_eighth_of_rows", |b| {
        b.iter(|| {
            histogram::build(
                &mut hist,
                &layout,
                &bins,
                &used,
                &Rows::Some {
                    rows: &rows,
                    gh: &ogh,
                },
            )
        })
    });
    for (name, rows) in [
        (
            "histogram_all_rows_skip_most_frequent",
            Rows::All { gh: &gh },
        ),
        (
            "histogram_eighth_of_rows_skip_most_frequent",
            Rows::Some {
                rows: &rows,
                gh: &ogh,
            },
        ),
    ] {
        grp.bench_function(name, |b| {
            b.iter(|| histogram::build(&mut hist, &layout_skip, &bins, &used, &rows))
        });
    }
    let ctx = GrowContext {
        bins: &bins,
        mappers: &mappers,
        layout: &layout_skip,
        rules: SplitRules {
            lambda_l2: 0.0,
            min_data_in_leaf: 20,
            min_sum_hessian: 1e-3,
            min_gain_to_split: 0.0,
        },
        num_leaves: 31,
        max_depth: None,
        growth: Growth::LeafWise,
        learning_rate: 0.1,
    };
    let mut ws = Workspace::new(n);
    grp.bench_function("grow_tree_31_leaves", |b| {
        b.iter(|| {
            ws.indices.clear();
            ws.indices.extend(0..n as u32);
            grow(&ctx, &mut ws, &gh, &used, true)
        })
    });
    grp.bench_function("train_10_rounds", |b| {
        b.iter(|| {
            train(
                d,
                None,
                &GbmParams {
                    num_rounds: 10,
                    ..GbmParams::default()
                },
            )
            .unwrap()
        })
    });
    grp.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
