//! Parse + check of a generated library of realistic criteria.
//!
//! `cargo bench --bench compile`. The library is generated as TOML text:
//! several domain files, each with diagnosis, lab, medication, visit and
//! procedure value sets, shared definitions, criteria in the shapes the
//! shipped library uses (last value over threshold, missing measurement,
//! untreated condition, composite scores) and model features.

use criterion::{Criterion, criterion_group, criterion_main};
use std::fmt::Write;
use std::hint::black_box;

use caregap::lang::{SourceFile, compile_library};

/// A library of `domains` files with `per_domain` criteria each.
fn generate(domains: usize, per_domain: usize) -> Vec<SourceFile> {
    (0..domains)
        .map(|d| {
            let mut t = String::new();
            for i in 0..12 {
                let _ = writeln!(
                    t,
                    "[dx.d{d}_{i}]\ntitle = \"Condition {d}.{i}\"\nICD10 = [\"{}{:02}..{}{:02}\", \"Z{d}{i}.1\"]\nICPC2 = [\"K{i:02}\"]\n",
                    (b'A' + (i % 20) as u8) as char,
                    i,
                    (b'A' + (i % 20) as u8) as char,
                    i + 5
                );
            }
            for i in 0..6 {
                let _ = writeln!(
                    t,
                    "[lab.l{d}_{i}]\nLOINC = [\"={d}{i}48-4\", \"={d}{i}57-7\"]\nLOCAL = [\"LAB-{d}-{i}\"]\nunit = \"mmol/l\"\n"
                );
            }
            for i in 0..4 {
                let _ = writeln!(t, "[med.m{d}_{i}]\nATC = [\"C{d:02}A{i}\", \"C{d:02}B{i}\"]\n");
            }
            let _ = writeln!(t, "[visit.v{d}]\nVISIT = [\"R{d}0\", \"R{d}1\"]\n");
            let _ = writeln!(t, "[proc.p{d}]\nNOMESCO = [\"CK{d}\"]\n");
            let _ = writeln!(
                t,
                "[define]\nrisk{d} = \"if(has(dx.d{d}_0), 1, 0) + if(has(dx.d{d}_1), 1, 0) + if(age >= 75, 2, if(age >= 65, 1, 0)) + if(sex == 'F', 1, 0)\"\n\
                 treated{d} = \"active(med.m{d}_0, 30d) or active(med.m{d}_1)\"\n\
                 control{d} = \"coalesce(last(lab.l{d}_0, 12mo), mean(lab.l{d}_0, 24mo))\"\n"
            );
            for c in 0..per_domain {
                let i = c % 12;
                let l = c % 6;
                let m = c % 4;
                let (pop, gap) = match c % 6 {
                    0 => (
                        format!("age >= 18 and has(dx.d{d}_{i})"),
                        format!("last(lab.l{d}_{l}, 12mo) >= {} or last(lab.l{d}_{}, 12mo) >= 90", 100 + c, (l + 1) % 6),
                    ),
                    1 => (
                        format!("has(dx.d{d}_{i}) and age between 40 and 80"),
                        format!("count(lab.l{d}_{l}, 2y) == 0"),
                    ),
                    2 => (
                        format!("risk{d} >= 2 and not has(dx.d{d}_{}, 12mo)", (i + 1) % 12),
                        format!("not treated{d}"),
                    ),
                    3 => (
                        format!("has(dx.d{d}_{i}) and sex in ('F', 'M')"),
                        format!("control{d} > {}.5 and not active(med.m{d}_{m}, 14d)", c % 10),
                    ),
                    4 => (
                        format!("days_since_first(dx.d{d}_{i}) > 365 and clinic != 'X'"),
                        format!("days_since(visit.v{d}) > 540 or days_since(visit.v{d}) is null"),
                    ),
                    _ => (
                        format!("has(dx.d{d}_{i}, 5y) and age >= 50"),
                        format!("not has(proc.p{d}, 24mo) and max(lab.l{d}_{l}, 36mo) - min(lab.l{d}_{l}, 36mo) > 1"),
                    ),
                };
                let _ = writeln!(
                    t,
                    "[[criterion]]\nid = \"D{d}.C{c:03}\"\ntitle = \"Generated criterion {d}.{c}\"\ndomain = \"domain{d}\"\n\
                     population = \"{pop}\"\ngap = \"{gap}\"\nexclude = \"has(dx.d{d}_11, 12mo)\"\npriority = {}\n\
                     action = \"Invite for a visit\"\n",
                    1 + c % 10
                );
            }
            for f in 0..8 {
                let _ = writeln!(
                    t,
                    "[[feature]]\nname = \"f{d}_{f}\"\nexpr = \"count(dx.d{d}_{f}, 12mo) + count(visit.v{d}, {}mo)\"\n",
                    6 * (f + 1)
                );
            }
            SourceFile {
                name: format!("domain{d:02}.toml"),
                text: t,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for (domains, per_domain) in [(6, 55), (10, 100)] {
        let files = generate(domains, per_domain);
        let (lib, diags) = compile_library(&files);
        let lib = lib.unwrap_or_else(|| {
            panic!(
                "generated library refused: {:?}",
                &diags[..diags.len().min(5)]
            )
        });
        let n = lib.criteria.len();
        let bytes: usize = files.iter().map(|f| f.text.len()).sum();
        eprintln!(
            "library: {n} criteria, {} value sets, {bytes} bytes",
            lib.value_sets.len()
        );
        c.bench_function(&format!("compile_library/{n}_criteria"), |b| {
            b.iter(|| compile_library(black_box(&files)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
