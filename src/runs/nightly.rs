//! The nightly job as one function: [`run_night`].
//!
//! One TOML file ([`NightlyConfig`]) says where the data, the library and the
//! run history are. A night is: take the history's lock → settle what an
//! interrupted night left → (import) → score → rank → diff with the previous
//! good run → (outreach effect) → report → `nightly.json` → the run folder
//! appears under its name → `latest` switches to it → retention. The steps
//! that read and write the engine's files (import, score, rank, report) are
//! the caller's ([`Steps`]; the CLI runs its own subcommands in-process), the
//! rest is here.
//!
//! The history folder `RUNS/`:
//!
//! - `RUNS/<as_of>-<HHMMSS>/`: one good night each (UTC start time): the
//!   scoring run, ranked, with `diff/`, `report.html`, `nightly.json` (and
//!   `effect/` when configured). A night is built in the hidden
//!   `RUNS/.night-<name>/` and renamed to its name only when every step
//!   succeeded, so a visible run folder is always a whole one.
//! - `RUNS/latest`: a relative symlink to the last good night, switched by
//!   renaming a fresh symlink over it (one `rename`, atomic: a reader sees the
//!   previous night or the new one). `caregap serve --run RUNS/latest` follows it.
//! - `RUNS/history.jsonl`: one JSON line per event (`started`, `succeeded`,
//!   `failed` with the reason, `interrupted`, `refused`), appended with one
//!   write each; never rewritten.
//! - `RUNS/.latest.lock`: the OS lock ([`OutputLock`]) a night holds from start
//!   to end; a second night is refused at once ([`NightlyError::Busy`]).
//!
//! A night killed at any point leaves `latest` and every visible run as they
//! were. The next night (holding the lock, so the killed one is surely gone)
//! removes its hidden folders, writes an `interrupted` line for it, and removes
//! its run folder if it was renamed but `latest` never switched to it (or, if
//! `latest` did switch, records it as `succeeded`).
//!
//! Retention keeps the newest `keep` good runs (by name: `as_of`, then time)
//! and never removes the one `latest` names.

use crate::data::{Day, format_day, parse_day};
use crate::output::{OutputError, OutputLock, write_file_atomic};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The name of the symlink to the last good night.
pub const LATEST: &str = "latest";
/// The history's log, one JSON object a line.
pub const HISTORY: &str = "history.jsonl";
/// The machine-readable summary in every run folder.
pub const SUMMARY: &str = "nightly.json";
const WORK_PREFIX: &str = ".night-";

/// What went wrong in a night, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum NightlyError {
    #[error("{file}: {message}")]
    Config { file: String, message: String },
    #[error(
        "another caregap nightly is running in {} ({holder}); this night was not started. Wait for it to finish (or, if that process is gone, run again: its lock went with it)",
        runs.display()
    )]
    Busy { runs: PathBuf, holder: String },
    #[error("step {step} failed: {message}")]
    Step { step: String, message: String },
    #[error("{}: cannot {doing}: {source}", path.display())]
    Io {
        path: PathBuf,
        doing: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] OutputError),
}

fn io(path: &Path, doing: &'static str) -> impl FnOnce(std::io::Error) -> NightlyError {
    let path = path.to_path_buf();
    move |source| NightlyError::Io {
        path,
        doing,
        source,
    }
}

/// An import step run before scoring: the arguments of `caregap import`
/// (e.g. `["fhir", "/exports/today", "--pseudonymise", "/secure/key", "--out", "pop"]`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImportStep {
    pub args: Vec<String>,
}

/// The outreach-effect step (`caregap effect` on the night's data).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EffectStep {
    /// Days between the past scoring dates (must divide every horizon).
    #[serde(default = "default_grid")]
    pub grid_days: u32,
    /// How far back contacts are read.
    #[serde(default = "default_lookback")]
    pub lookback_days: u32,
}

fn default_grid() -> u32 {
    15
}
fn default_lookback() -> u32 {
    730
}
fn default_keep() -> usize {
    14
}
fn default_min_cell() -> u64 {
    5
}

/// `nightly.toml`. Relative paths are relative to the file's folder.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NightlyConfig {
    /// The run history folder (created if missing).
    pub runs: PathBuf,
    /// The data folder (what `import` writes, when there is an import step).
    pub data: PathBuf,
    /// The criteria library folder.
    pub library: PathBuf,
    /// Scoring date `YYYY-MM-DD`; default: today.
    #[serde(default)]
    pub as_of: Option<String>,
    /// Clinic capacities (CSV or TOML, as `caregap rank --capacities`).
    #[serde(default)]
    pub capacities: Option<PathBuf>,
    /// Ranking configuration (as `caregap rank --config`).
    #[serde(default)]
    pub rank_config: Option<PathBuf>,
    /// Good runs kept (at least 1; the one `latest` names is always kept).
    #[serde(default = "default_keep")]
    pub keep: usize,
    /// Small-cell threshold of the report and the diff's aggregates.
    #[serde(default = "default_min_cell")]
    pub min_cell: u64,
    /// Score with `--status` (excluded and closed rows in `firings.parquet`):
    /// the diff then tells a criterion's exclusion from a closed gap.
    #[serde(default)]
    pub status: bool,
    #[serde(default)]
    pub import: Option<ImportStep>,
    #[serde(default)]
    pub effect: Option<EffectStep>,
}

impl NightlyConfig {
    /// Parses the TOML text of `file`; relative paths are taken from `base`.
    pub fn parse(file: &str, text: &str, base: &Path) -> Result<NightlyConfig, NightlyError> {
        let err = |message: String| NightlyError::Config {
            file: file.to_string(),
            message,
        };
        let mut c: NightlyConfig = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        if c.keep == 0 {
            return Err(err(
                "keep = 0 would remove every run; keep at least 1".into()
            ));
        }
        if let Some(d) = &c.as_of
            && parse_day(d).is_none()
        {
            return Err(err(format!("as_of {d:?} is not a date; write YYYY-MM-DD")));
        }
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        abs(&mut c.runs);
        abs(&mut c.data);
        abs(&mut c.library);
        if let Some(p) = &mut c.capacities {
            abs(p);
        }
        if let Some(p) = &mut c.rank_config {
            abs(p);
        }
        Ok(c)
    }

    /// Reads and parses a config file.
    pub fn read(path: &Path) -> Result<NightlyConfig, NightlyError> {
        let text = std::fs::read_to_string(path).map_err(io(path, "read the nightly config"))?;
        let base = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        NightlyConfig::parse(&path.display().to_string(), &text, &base)
    }

    /// The scoring date.
    pub fn as_of(&self) -> Day {
        self.as_of
            .as_deref()
            .and_then(parse_day)
            .unwrap_or_else(crate::data::today)
    }
}

/// The engine's steps that read and write files, run by the caller. Each
/// returns the message of its error (shown and logged as the night's reason).
pub trait Steps {
    /// `caregap import ARGS`.
    fn import(&mut self, cfg: &NightlyConfig, step: &ImportStep) -> Result<(), String>;
    /// `caregap score` into the new folder `out`.
    fn score(&mut self, cfg: &NightlyConfig, as_of: Day, out: &Path) -> Result<(), String>;
    /// `caregap rank --run run`.
    fn rank(&mut self, cfg: &NightlyConfig, run: &Path) -> Result<(), String>;
    /// `caregap report --run run --out run/report.html` (it shows `run/diff`
    /// and `run/effect` when present).
    fn report(&mut self, cfg: &NightlyConfig, run: &Path) -> Result<(), String>;
    /// A step starts (`None`) or ended after so many seconds.
    fn progress(&mut self, step: &str, finished: Option<f64>);
}

/// One line of `history.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HistoryEntry {
    /// UTC, RFC 3339.
    pub time: String,
    /// The night's run name (`<as_of>-<HHMMSS>`); empty for `refused`.
    pub night: String,
    pub pid: u32,
    /// `started`, `succeeded`, `failed`, `interrupted` or `refused`.
    pub event: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Reads `history.jsonl` (lines that are not JSON are skipped).
pub fn read_history(runs: &Path) -> Vec<HistoryEntry> {
    std::fs::read_to_string(runs.join(HISTORY))
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn append_history(
    runs: &Path,
    night: &str,
    event: &str,
    message: &str,
) -> Result<(), NightlyError> {
    let entry = HistoryEntry {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        night: night.to_string(),
        pid: std::process::id(),
        event: event.to_string(),
        message: message.replace('\n', " "),
    };
    let mut line = serde_json::to_string(&entry).unwrap_or_default();
    line.push('\n');
    let path = runs.join(HISTORY);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io(&path, "open the history log"))?;
    // One write of one line (O_APPEND): lines never interleave or tear.
    f.write_all(line.as_bytes())
        .map_err(io(&path, "append to the history log"))?;
    f.sync_all().map_err(io(&path, "sync the history log"))
}

/// The run folder `latest` names (a name in `runs`), if any.
pub fn latest(runs: &Path) -> Option<String> {
    let target = std::fs::read_link(runs.join(LATEST)).ok()?;
    let name = target.file_name()?.to_string_lossy().into_owned();
    runs.join(&name).join(SUMMARY).is_file().then_some(name)
}

/// The good runs in `runs` (visible folders with a `nightly.json`), by name.
pub fn good_runs(runs: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(runs)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && runs.join(n).join(SUMMARY).is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// One step's time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepTime {
    pub step: String,
    pub seconds: f64,
}

/// `nightly.json`: what a good night did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NightSummary {
    pub night: String,
    pub status: String,
    pub as_of: String,
    pub started: String,
    pub finished: String,
    pub engine_version: String,
    pub config: NightlyConfig,
    /// The previous good run the diff compares with.
    pub previous: Option<String>,
    pub steps: Vec<StepTime>,
    pub total_seconds: f64,
    /// Open gaps and people alive (from `run.json`).
    pub open_gaps: Option<u64>,
    pub people_alive: Option<u64>,
    /// The diff's totals (small cells suppressed), when there was a previous run.
    pub diff: Option<super::diff::DiffSummary>,
    /// Runs removed by retention after the switch (not in this file: it is
    /// written before; see the `succeeded` line of the history).
    #[serde(default)]
    pub removed: Vec<String>,
}

/// Runs one night; see the module docs. Returns the summary written to
/// `nightly.json` (with the runs retention removed).
pub fn run_night(cfg: &NightlyConfig, steps: &mut dyn Steps) -> Result<NightSummary, NightlyError> {
    let runs = &cfg.runs;
    std::fs::create_dir_all(runs).map_err(io(runs, "create the runs folder"))?;
    let _lock = match OutputLock::acquire(&runs.join(LATEST)) {
        Ok(l) => l,
        Err(OutputError::Busy { holder, .. }) => {
            let e = NightlyError::Busy {
                runs: runs.clone(),
                holder,
            };
            append_history(runs, "", "refused", &e.to_string())?;
            return Err(e);
        }
        Err(e) => return Err(e.into()),
    };
    settle_interrupted(runs)?;

    let as_of = cfg.as_of();
    let now = chrono::Utc::now();
    let mut name = format!("{}-{}", format_day(as_of), now.format("%H%M%S"));
    let mut n = 2;
    while runs.join(&name).exists() || runs.join(format!("{WORK_PREFIX}{name}")).exists() {
        name = format!("{}-{}-{n}", format_day(as_of), now.format("%H%M%S"));
        n += 1;
    }
    append_history(runs, &name, "started", "")?;
    let work = runs.join(format!("{WORK_PREFIX}{name}"));
    let started = Instant::now();
    match night(cfg, steps, &name, as_of, &work, now) {
        Ok(mut summary) => {
            summary.removed = retention(runs, cfg.keep, &name)?;
            let msg = format!(
                "latest = {name} ({:.1} s){}",
                started.elapsed().as_secs_f64(),
                if summary.removed.is_empty() {
                    String::new()
                } else {
                    format!("; removed {}", summary.removed.join(", "))
                }
            );
            append_history(runs, &name, "succeeded", &msg)?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work);
            remove_leftovers(runs, &name);
            let keep = latest(runs).map_or_else(
                || "no previous good run".to_string(),
                |l| format!("latest stays on {l}"),
            );
            append_history(runs, &name, "failed", &format!("{e}; {keep}"))?;
            Err(e)
        }
    }
}

/// Times one step and turns its error into [`NightlyError::Step`].
fn step<T>(
    steps: &mut dyn Steps,
    times: &mut Vec<StepTime>,
    name: &str,
    f: impl FnOnce(&mut dyn Steps) -> Result<T, String>,
) -> Result<T, NightlyError> {
    steps.progress(name, None);
    let t = Instant::now();
    let r = f(steps).map_err(|message| NightlyError::Step {
        step: name.to_string(),
        message,
    })?;
    let seconds = t.elapsed().as_secs_f64();
    steps.progress(name, Some(seconds));
    times.push(StepTime {
        step: name.to_string(),
        seconds,
    });
    Ok(r)
}

fn night(
    cfg: &NightlyConfig,
    steps: &mut dyn Steps,
    name: &str,
    as_of: Day,
    work: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<NightSummary, NightlyError> {
    let runs = &cfg.runs;
    let t0 = Instant::now();
    let mut times = Vec::new();
    if let Some(imp) = &cfg.import {
        step(steps, &mut times, "import", |s| s.import(cfg, imp))?;
    }
    step(steps, &mut times, "score", |s| s.score(cfg, as_of, work))?;
    step(steps, &mut times, "rank", |s| s.rank(cfg, work))?;
    let previous = latest(runs);
    let diff = match &previous {
        Some(prev) => Some(step(steps, &mut times, "diff", |_| {
            let mut d = super::diff::diff_runs(&runs.join(prev), work, cfg.min_cell)
                .map_err(|e| e.to_string())?;
            d.summary.run_b = name.to_string();
            super::diff::write_diff(&d, &work.join("diff")).map_err(|e| e.to_string())?;
            Ok(d.summary)
        })?),
        None => None,
    };
    if let Some(eff) = &cfg.effect {
        step(steps, &mut times, "effect", |_| {
            let opts = super::effect::EffectOptions {
                grid_days: eff.grid_days,
                lookback_days: eff.lookback_days,
                min_cell: cfg.min_cell,
                ..super::effect::EffectOptions::default()
            };
            let e = super::effect::estimate(&cfg.data, &cfg.library, as_of, &opts, &|_| {})
                .map_err(|e| e.to_string())?;
            super::effect::write_effect(&e, &work.join("effect")).map_err(|e| e.to_string())
        })?;
    }
    step(steps, &mut times, "report", |s| s.report(cfg, work))?;

    let run_json: serde_json::Value = std::fs::read(work.join("run.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let count = |k: &str| run_json["counts"][k].as_u64();
    let summary = NightSummary {
        night: name.to_string(),
        status: "succeeded".into(),
        as_of: format_day(as_of),
        started: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        engine_version: env!("CARGO_PKG_VERSION").to_string(),
        config: cfg.clone(),
        previous,
        steps: times,
        total_seconds: t0.elapsed().as_secs_f64(),
        open_gaps: count("firings"),
        people_alive: count("alive"),
        diff,
        removed: Vec::new(),
    };
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    write_file_atomic(&work.join(SUMMARY), text.as_bytes())?;
    sync_dir(work);

    // The run appears whole under its name, then `latest` switches to it.
    let dir = runs.join(name);
    std::fs::rename(work, &dir).map_err(io(&dir, "rename the night's folder into place"))?;
    sync_dir(runs);
    switch_latest(runs, name)?;
    Ok(summary)
}

/// Points `runs/latest` at `name` by renaming a fresh symlink over it.
pub fn switch_latest(runs: &Path, name: &str) -> Result<(), NightlyError> {
    let tmp = runs.join(format!(".{LATEST}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    symlink(Path::new(name), &tmp).map_err(io(&tmp, "create the latest symlink"))?;
    std::fs::rename(&tmp, runs.join(LATEST)).map_err(io(&runs.join(LATEST), "switch latest"))?;
    sync_dir(runs);
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "caregap nightly needs symbolic links (Unix)",
    ))
}

fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Removes the hidden folders and files of nights (a night's work folder, the
/// score step's staging folder beside it, a half-made `latest` symlink):
/// every one when `night` is empty, else only that night's.
fn remove_leftovers(runs: &Path, night: &str) -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(rd) = std::fs::read_dir(runs) else {
        return removed;
    };
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let ours = if night.is_empty() {
            n.starts_with(WORK_PREFIX)
                || n.starts_with(&format!(".{WORK_PREFIX}"))
                || n.starts_with(&format!(".{LATEST}.tmp-"))
        } else {
            n == format!("{WORK_PREFIX}{night}")
                || n.starts_with(&format!(".{WORK_PREFIX}{night}."))
        };
        if !ours {
            continue;
        }
        let p = e.path();
        let gone = if e.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        if gone.is_ok() {
            removed.push(n);
        }
    }
    removed
}

/// Settles the nights that started and never ended (the caller holds the
/// lock, so they are gone): see the module docs.
fn settle_interrupted(runs: &Path) -> Result<(), NightlyError> {
    remove_leftovers(runs, "");
    let mut open: BTreeMap<String, u32> = BTreeMap::new();
    for e in read_history(runs) {
        match e.event.as_str() {
            "started" => {
                open.insert(e.night, e.pid);
            }
            "succeeded" | "failed" | "interrupted" => {
                open.remove(&e.night);
            }
            _ => {}
        }
    }
    let latest = latest(runs);
    for (night, pid) in open {
        if latest.as_deref() == Some(night.as_str()) {
            append_history(
                runs,
                &night,
                "succeeded",
                &format!("latest = {night} (process {pid} ended before logging it)"),
            )?;
            continue;
        }
        let dir = runs.join(&night);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io(&dir, "remove an interrupted night's run"))?;
        }
        let keep = latest.as_deref().map_or_else(
            || "no previous good run".to_string(),
            |l| format!("latest stayed on {l}"),
        );
        append_history(
            runs,
            &night,
            "interrupted",
            &format!("process {pid} ended without finishing the night (killed?); {keep}"),
        )?;
    }
    Ok(())
}

/// Removes the oldest good runs beyond `keep`, never the one `latest` names
/// nor `current`. Returns the names removed.
fn retention(runs: &Path, keep: usize, current: &str) -> Result<Vec<String>, NightlyError> {
    let good = good_runs(runs);
    let latest = latest(runs);
    let mut removed = Vec::new();
    if good.len() <= keep {
        return Ok(removed);
    }
    let excess = good.len() - keep;
    for name in good.iter().take(excess) {
        if Some(name) == latest.as_ref() || name == current {
            continue;
        }
        let dir = runs.join(name);
        std::fs::remove_dir_all(&dir).map_err(io(&dir, "remove an old run (retention)"))?;
        removed.push(name.clone());
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make_run(runs: &Path, name: &str) {
        std::fs::create_dir_all(runs.join(name)).unwrap();
        std::fs::write(runs.join(name).join(SUMMARY), "{}").unwrap();
    }

    #[test]
    fn retention_keeps_the_newest_and_never_the_latest() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path();
        for n in [
            "2026-01-01-010000",
            "2026-01-02-010000",
            "2026-01-03-010000",
        ] {
            make_run(runs, n);
        }
        // latest on the oldest (e.g. the newer nights' switch was undone by hand).
        switch_latest(runs, "2026-01-01-010000").unwrap();
        let removed = retention(runs, 1, "2026-01-03-010000").unwrap();
        assert_eq!(removed, vec!["2026-01-02-010000".to_string()]);
        assert_eq!(
            good_runs(runs),
            vec!["2026-01-01-010000".to_string(), "2026-01-03-010000".into()]
        );
        assert_eq!(latest(runs).as_deref(), Some("2026-01-01-010000"));
    }

    #[test]
    fn an_interrupted_night_is_logged_and_its_unswitched_run_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path();
        make_run(runs, "2026-01-01-010000");
        switch_latest(runs, "2026-01-01-010000").unwrap();
        append_history(runs, "2026-01-02-010000", "started", "").unwrap();
        make_run(runs, "2026-01-02-010000"); // renamed, never switched
        std::fs::create_dir(runs.join(".night-2026-01-03-010000")).unwrap();
        append_history(runs, "2026-01-03-010000", "started", "").unwrap();
        settle_interrupted(runs).unwrap();
        assert_eq!(good_runs(runs), vec!["2026-01-01-010000".to_string()]);
        assert!(!runs.join(".night-2026-01-03-010000").exists());
        let h = read_history(runs);
        let ev: Vec<(&str, &str)> = h
            .iter()
            .map(|e| (e.night.as_str(), e.event.as_str()))
            .collect();
        assert_eq!(
            ev[2..],
            [
                ("2026-01-02-010000", "interrupted"),
                ("2026-01-03-010000", "interrupted")
            ]
        );
        assert!(h[2].message.contains("latest stayed on 2026-01-01-010000"));
        // Settled once: a second look adds nothing.
        settle_interrupted(runs).unwrap();
        assert_eq!(read_history(runs).len(), 4);
    }

    #[test]
    fn config_paths_are_relative_to_the_file_and_keep_zero_is_refused() {
        let c = NightlyConfig::parse(
            "n.toml",
            "runs = \"runs\"\ndata = \"/d\"\nlibrary = \"lib\"\n[effect]\n",
            Path::new("/etc/cg"),
        )
        .unwrap();
        assert_eq!(c.runs, Path::new("/etc/cg/runs"));
        assert_eq!(c.data, Path::new("/d"));
        assert_eq!(c.keep, 14);
        assert_eq!(c.effect.unwrap().grid_days, 15);
        let e = NightlyConfig::parse(
            "n.toml",
            "runs = \"r\"\ndata = \"d\"\nlibrary = \"l\"\nkeep = 0\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.to_string().contains("keep at least 1"), "{e}");
        let e = NightlyConfig::parse("n.toml", "runs = \"r\"\nlibary = \"l\"\n", Path::new("."))
            .unwrap_err();
        assert!(e.to_string().contains("libary"), "{e}");
    }
}
