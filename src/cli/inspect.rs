//! `caregap inspect DIR`: what a dataset holds and what the loader set aside.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use caregap::data::{
    ConsentScope, Dataset, Day, EventKind, LoadOptions, Outcome, format_day, load, parse_day, today,
};

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Dataset directory holding patients, events and optionally consents and
    /// outreach (each `<table>.parquet` or a folder `<table>/` of parts).
    pub dir: PathBuf,
    /// Scoring date (YYYY-MM-DD): events after it are set aside. Default: today.
    #[arg(long, value_parser = parse_date)]
    pub as_of: Option<Day>,
    /// Treat any unusable row as an error.
    #[arg(long)]
    pub strict: bool,
    /// How many of the most frequent codes to show per kind.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// More event files read as part of the events table (e.g. events_future.parquet).
    #[arg(long = "extra-events", value_name = "FILE")]
    pub extra_events: Vec<PathBuf>,
    /// Print the load time and the load report as JSON after the summary.
    #[arg(long)]
    pub timing: bool,
}

fn parse_date(s: &str) -> Result<Day, String> {
    parse_day(s).ok_or_else(|| format!("`{s}` is not a date; write it as YYYY-MM-DD"))
}

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let opts = LoadOptions {
        as_of: args.as_of.unwrap_or_else(today),
        strict: args.strict,
        extra_event_files: args.extra_events.clone(),
    };
    let spinner = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(format!("loading {}", args.dir.display()));
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let start = Instant::now();
    let loaded = load(&args.dir, &opts);
    let elapsed = start.elapsed();
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let ds =
        loaded.with_context(|| format!("cannot load the dataset in {}", args.dir.display()))?;
    let mut out = render(&ds, &args.dir.display().to_string(), args.top);
    if args.timing {
        let _ = writeln!(out, "\nLoad time: {:.3} s", elapsed.as_secs_f64());
        let _ = writeln!(
            out,
            "Load report (JSON):\n{}",
            serde_json::to_string_pretty(&ds.report)?
        );
    }
    print!("{out}");
    Ok(())
}

/// `1234567` as `1 234 567`.
fn n(v: impl Into<u64>) -> String {
    let s = v.into().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn range(days: impl Iterator<Item = Day>) -> String {
    let (lo, hi) = days.fold((Day::MAX, Day::MIN), |(lo, hi), d| (lo.min(d), hi.max(d)));
    if lo > hi {
        "none".into()
    } else {
        format!("{} .. {}", format_day(lo), format_day(hi))
    }
}

/// The summary as readable text tables.
pub fn render(ds: &Dataset, dir: &str, top: usize) -> String {
    let pop = &ds.population;
    let pts = &pop.patients;
    let as_of = pop.as_of;
    let mut o = String::new();
    let w = &mut o;
    let _ = writeln!(w, "Dataset {dir}, as of {}\n", format_day(as_of));

    let _ = writeln!(w, "Tables");
    let _ = writeln!(
        w,
        "  {:<10} {:>6} {:>14} {:>14} {:>12} {:>14}",
        "table", "files", "rows read", "used", "rejected", "after as_of"
    );
    for t in &ds.report.tables {
        let _ = writeln!(
            w,
            "  {:<10} {:>6} {:>14} {:>14} {:>12} {:>14}",
            t.table.as_str(),
            t.files.len(),
            n(t.rows_read),
            n(t.rows_used),
            n(t.rows_rejected),
            n(t.rows_after_as_of)
        );
    }

    let alive = (0..pts.len()).filter(|&p| pts.is_alive(p, as_of)).count();
    let dead = pts
        .death_date
        .iter()
        .filter(|d| d.is_some_and(|d| d <= as_of))
        .count();
    let unborn = pts.birth_date.iter().filter(|&&b| b > as_of).count();
    let _ = writeln!(w, "\nPatients: {}", n(pts.len() as u64));
    let _ = writeln!(
        w,
        "  alive on {}: {}; dead on or before it: {}; born after it: {}",
        format_day(as_of),
        n(alive as u64),
        n(dead as u64),
        n(unborn as u64)
    );
    let _ = writeln!(w, "  birth dates {}", range(pts.birth_date.iter().copied()));
    let _ = writeln!(
        w,
        "  death dates {}",
        range(pts.death_date.iter().flatten().copied())
    );
    for (label, col) in [("sex", &pts.sex), ("language", &pts.language)] {
        let mut counts = vec![0u64; col.values.len()];
        let mut nulls = 0u64;
        for c in &col.codes {
            match c {
                Some(c) => counts[*c as usize] += 1,
                None => nulls += 1,
            }
        }
        let mut parts: Vec<String> = col
            .values
            .iter()
            .zip(&counts)
            .map(|(v, c)| format!("{v} {}", n(*c)))
            .collect();
        if nulls > 0 {
            parts.push(format!("(null) {}", n(nulls)));
        }
        let _ = writeln!(w, "  {label}: {}", parts.join(", "));
    }

    let _ = writeln!(w, "\nPatients per clinic");
    let _ = writeln!(w, "  {:<20} {:>12} {:>12}", "clinic", "patients", "alive");
    let mut clinics: Vec<(String, u64, u64)> = pts
        .clinic
        .values
        .iter()
        .map(|v| (v.clone(), 0, 0))
        .collect();
    for p in 0..pts.len() {
        if let Some(c) = pts.clinic.codes[p] {
            let row = &mut clinics[c as usize];
            row.1 += 1;
            row.2 += pts.is_alive(p, as_of) as u64;
        }
    }
    clinics.sort_by(|a, b| a.0.cmp(&b.0));
    for (clinic, total, alive) in &clinics {
        let _ = writeln!(w, "  {clinic:<20} {:>12} {:>12}", n(*total), n(*alive));
    }

    let ev = &pop.events;
    let _ = writeln!(
        w,
        "\nEvents: {}, dates {}",
        n(ev.len() as u64),
        range(ev.date.iter().copied())
    );
    let mut per_code = vec![0u64; pop.codes.entries.len()];
    for &c in &ev.code {
        per_code[c as usize] += 1;
    }
    let _ = writeln!(w, "  {:<14} {:>14} {:>10}", "kind", "events", "codes");
    for kind in EventKind::ALL {
        let (events, codes) = pop
            .codes
            .entries
            .iter()
            .zip(&per_code)
            .filter(|(e, _)| e.kind == kind)
            .fold((0u64, 0u64), |(ev, codes), (_, c)| (ev + c, codes + 1));
        let _ = writeln!(
            w,
            "  {:<14} {:>14} {:>10}",
            kind.as_str(),
            n(events),
            n(codes)
        );
    }
    let _ = writeln!(
        w,
        "\nMost frequent codes per kind (system:code after normalisation)"
    );
    for kind in EventKind::ALL {
        let mut codes: Vec<(usize, u64)> = pop
            .codes
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == kind)
            .map(|(i, _)| (i, per_code[i]))
            .collect();
        if codes.is_empty() {
            continue;
        }
        codes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let _ = writeln!(w, "  {}", kind.as_str());
        for (i, count) in codes.into_iter().take(top) {
            let e = &pop.codes.entries[i];
            let _ = writeln!(
                w,
                "    {:<30} {:>14}",
                format!("{}:{}", e.system, e.code),
                n(count)
            );
        }
    }

    if ds.report.table(caregap::data::Table::Consents).is_some() {
        let rows = &ds.consents.rows;
        let _ = writeln!(
            w,
            "\nConsents: {} decisions, dates {}",
            n(rows.len() as u64),
            range(rows.iter().map(|c| c.date))
        );
        for scope in [ConsentScope::Outreach, ConsentScope::Research] {
            let denied = ds
                .consents
                .allowed(scope, as_of)
                .iter()
                .filter(|a| !**a)
                .count();
            let _ = writeln!(
                w,
                "  {} withdrawn on {}: {} patients",
                scope.as_str(),
                format_day(as_of),
                n(denied as u64)
            );
        }
    }
    if ds.report.table(caregap::data::Table::Outreach).is_some() {
        let rows = &ds.outreach.rows;
        let _ = writeln!(
            w,
            "\nOutreach: {} contacts, dates {}",
            n(rows.len() as u64),
            range(rows.iter().map(|c| c.date))
        );
        for outcome in [
            Outcome::Booked,
            Outcome::Declined,
            Outcome::NoAnswer,
            Outcome::NotReachable,
        ] {
            let count = rows.iter().filter(|c| c.outcome == outcome).count();
            let _ = writeln!(w, "  {:<14} {:>12}", outcome.as_str(), n(count as u64));
        }
    }

    let _ = writeln!(w, "\nRejected rows");
    if ds.report.rejected.is_empty() {
        let _ = writeln!(w, "  none");
    }
    for r in &ds.report.rejected {
        let _ = writeln!(
            w,
            "  {:<10} {:<45} {:>12}",
            r.table.as_str(),
            r.reason.to_string(),
            n(r.count)
        );
        for e in &r.examples {
            let _ = writeln!(w, "      {}, row {}: {}", e.file, e.row, e.value);
        }
    }
    o
}
