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
//! the evidence of every firing (what `caregap score` runs) and `summarize`
//! (the per-criterion, per-clinic counts). Prints every repeat and the best;
//! threads: rayon's default (`RAYON_NUM_THREADS`).

use std::path::Path;
use std::time::Instant;

use caregap::data::{self, LoadOptions};
use caregap::eval::{self, EvalOptions, EvidenceMode};
use caregap::lang::{self, SourceFile};
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
    let mut best = [f64::INFINITY; 3];
    for r in 0..repeats {
        let run = |evidence| {
            let (t, cpu) = (Instant::now(), cpu_seconds());
            let opts = EvalOptions {
                evidence,
                progress: None,
            };
            let e = eval::evaluate(&plan, pop, as_of, &opts).expect("as_of is the load date");
            (e, t.elapsed().as_secs_f64(), cpu_seconds() - cpu)
        };
        let (_, bare, bare_cpu) = run(EvidenceMode::None);
        let (e, with_evidence, evidence_cpu) = run(EvidenceMode::Firings);
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let rows = eval::summarize(&plan, pop, &e);
        let (summary, summary_cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        println!(
            "repeat {r}: evaluate {bare:.3} s ({bare_cpu:.2} CPU-s); with evidence {with_evidence:.3} s \
             ({evidence_cpu:.2} CPU-s, {} firings); summarize {summary:.3} s ({summary_cpu:.2} CPU-s, {} rows)",
            e.firings.len(),
            rows.len()
        );
        for (b, x) in best.iter_mut().zip([bare, with_evidence, summary]) {
            *b = b.min(x);
        }
    }
    println!(
        "best: evaluate {:.3} s; with evidence {:.3} s; summarize {:.3} s; evaluation stage of `caregap score` {:.3} s",
        best[0],
        best[1],
        best[2],
        best[1] + best[2]
    );
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
