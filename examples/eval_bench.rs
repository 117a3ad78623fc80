//! The evaluation stage of `caregap score` on a real dataset and library,
//! population already loaded, split into its parts.
//!
//! ```text
//! cargo run --release --example eval_bench -- DIR LIBRARY AS_OF [REPEATS]
//! # e.g. on a generated population with the shipped library:
//! cargo run --release --example eval_bench -- pop640k criteria 2026-01-01 3
//! ```
//! Loads `DIR` once, compiles the library, then per repeat times
//! `evaluate` without evidence (statuses and features only), `evaluate` with
//! the evidence of every firing kept in memory, `evaluate_blocks` streaming
//! each block into `firings.parquet`, `features.parquet` and the summary
//! counts (what `caregap score` runs), and for comparison `summarize` and
//! `features.parquet` from whole columns (files in a temporary folder). Prints every repeat and the best; threads: rayon's
//! default (`RAYON_NUM_THREADS`).

use std::path::Path;
use std::time::Instant;

use caregap::data::{self, LoadOptions};
use caregap::eval::{self, EvalOptions, EvidenceMode};
use caregap::lang::{self, SourceFile};
use caregap::output::tables;
use caregap::plan;
use caregap::timing::cpu_seconds;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: eval_bench DIR LIBRARY AS_OF [REPEATS]");
        std::process::exit(2);
    }
    let repeats: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let Some(as_of) = data::parse_day(&args[2]) else {
        eprintln!("AS_OF must be YYYY-MM-DD");
        std::process::exit(2);
    };
    let files = library_files(Path::new(&args[1]));
    let (library, diagnostics) = lang::compile_library(&files);
    let Some(library) = library else {
        eprint!("{}", lang::render(&diagnostics, &files, false));
        std::process::exit(1);
    };
    let plan = plan::compile(&library);
    let t = Instant::now();
    let dataset = match data::load(Path::new(&args[0]), &LoadOptions::new(as_of)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let pop = &dataset.population;
    println!(
        "loaded {} people, {} events in {:.3} s; {} criteria, {} features, {} aggregates, {} nodes; {} threads",
        pop.patients.len(),
        pop.events.len(),
        t.elapsed().as_secs_f64(),
        plan.criteria.len(),
        plan.features.len(),
        plan.aggregates.len(),
        plan.nodes.len(),
        rayon::current_num_threads()
    );
    // The program's nodes by kind (where column-wise time goes).
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for op in &plan.nodes {
        let name = format!("{op:?}");
        let kind = name
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or("?")
            .to_string();
        *kinds.entry(kind).or_default() += 1;
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!("nodes by kind: {}", kinds.join(", "));
    let out = tempfile::tempdir().expect("a temporary folder");
    let mut best = [f64::INFINITY; 5];
    for r in 0..repeats {
        let opts = |evidence| EvalOptions {
            evidence,
            progress: None,
        };
        let timed = |f: &mut dyn FnMut()| {
            let (t, cpu) = (Instant::now(), cpu_seconds());
            f();
            (t.elapsed().as_secs_f64(), cpu_seconds() - cpu)
        };
        let (bare, bare_cpu) = timed(&mut || {
            eval::evaluate(&plan, pop, as_of, &opts(EvidenceMode::None))
                .expect("as_of is the load date");
        });
        let mut n_firings = 0;
        let (with_evidence, evidence_cpu) = timed(&mut || {
            let e = eval::evaluate(&plan, pop, as_of, &opts(EvidenceMode::Firings))
                .expect("as_of is the load date");
            n_firings = e.firings.len();
        });
        // What `caregap score` runs: each block encoded into firings.parquet
        // and features.parquet and counted for the summary.
        let firings_path = out.path().join("firings.parquet");
        let features_path = out.path().join("features.parquet");
        let (scored, scored_cpu) = timed(&mut || {
            let sink = tables::ScoreSink::create(out.path(), &plan, pop)
                .expect("the temporary folder is writable");
            let (_, blocks) = eval::evaluate_blocks(
                &plan,
                pop,
                as_of,
                &opts(EvidenceMode::Firings),
                tables::BLOCK_PEOPLE,
                &sink,
            )
            .expect("as_of is the load date");
            for b in blocks {
                b.expect("the temporary folder is writable");
            }
            sink.finish().expect("the temporary folder is writable");
        });
        let e = eval::evaluate(&plan, pop, as_of, &opts(EvidenceMode::None))
            .expect("as_of is the load date");
        let mut n_rows = 0;
        let (summary, summary_cpu) = timed(&mut || n_rows = eval::summarize(&plan, pop, &e).len());
        let (features, features_cpu) = timed(&mut || {
            tables::write_features(&features_path, pop, &e)
                .expect("the temporary folder is writable");
        });
        println!(
            "repeat {r}: evaluate {bare:.3} s ({bare_cpu:.2} CPU-s); with evidence in memory {with_evidence:.3} s \
             ({evidence_cpu:.2} CPU-s, {n_firings} firings); streamed into firings.parquet and features.parquet {scored:.3} s \
             ({scored_cpu:.2} CPU-s, {} MB); summarize (whole columns) {summary:.3} s ({summary_cpu:.2} CPU-s, {n_rows} rows); \
             features.parquet from whole columns {features:.3} s ({features_cpu:.2} CPU-s, {} MB)",
            file_mb(&firings_path),
            file_mb(&features_path),
        );
        for (b, x) in best
            .iter_mut()
            .zip([bare, with_evidence, scored, summary, features])
        {
            *b = b.min(x);
        }
    }
    println!(
        "best: evaluate {:.3} s; with evidence {:.3} s; streamed (the evaluation stage of `caregap score`) {:.3} s; \
         summarize {:.3} s; features.parquet {:.3} s",
        best[0], best[1], best[2], best[3], best[4]
    );
}

fn file_mb(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len() >> 20)
}

/// The `*.toml` files of a library folder (or the one file given).
fn library_files(path: &Path) -> Vec<SourceFile> {
    let paths: Vec<_> = if path.is_dir() {
        let mut v: Vec<_> = std::fs::read_dir(path)
            .expect("readable library folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    paths
        .into_iter()
        .map(|p| SourceFile {
            name: p
                .file_name()
                .map(|n| n.to_string_lossy().into())
                .unwrap_or_default(),
            text: std::fs::read_to_string(&p).expect("readable library file"),
        })
        .collect()
}
