//! A run folder (`caregap score` + `caregap rank`) read as one unit.
//!
//! [`Run::open`] reads everything the service shows from a run folder, or
//! from a `latest` symlink to one, into memory: `run.json`, `risk.parquet`
//! (one row per person alive on `as_of`: the clinic of every person, their
//! risk figures), `calllist.parquet` (every clinic's whole ordered list),
//! `exclusions.parquet`, `criteria_summary.parquet`, an index of
//! `firings.parquet` (which rows belong to whom; the rows themselves are read
//! on demand by [`Run::firings_of`]), the data folder's `outreach` and
//! `consents` tables and the library's criterion titles and actions.
//!
//! Columns are found by name and extra columns are tolerated: a call-list
//! column the reader does not know is kept as text and shown
//! ([`Run::extra_columns`]), so a richer `caregap rank` needs no change here.
//!
//! [`version_key`] names the state of a run path (the folder a symlink points
//! to and its files' sizes and times); the service reloads when it changes.
//! A run is never half-read: [`Run::open`] fails rather than return a run
//! whose files changed while it was reading them.
pub mod diff;
pub mod effect;
pub mod library;
pub mod nightly;
pub mod table;

use crate::data::{Day, parse_day};
use crate::rank::export::CriterionText;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What went wrong reading a run, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct RunError {
    pub path: PathBuf,
    pub message: String,
}

impl RunError {
    pub fn new(path: &Path, message: impl Into<String>) -> RunError {
        RunError {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub fn io(path: &Path, doing: &str, e: std::io::Error) -> RunError {
        RunError::new(path, format!("{doing}: {e}"))
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for RunError {}

/// One person alive on the run's `as_of` (a row of `risk.parquet`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Person {
    pub id: String,
    pub clinic: u32,
    pub age: Option<f64>,
    pub sex: Option<String>,
    pub cv_risk_pct: Option<f64>,
    pub cv_model: Option<String>,
    pub cv_band: Option<String>,
    pub cv_reason: Option<String>,
    pub utilisation_measure: Option<String>,
    pub utilisation: Option<f64>,
    pub utilisation_tier: Option<String>,
}

/// One row of a clinic's call list, in the run's order. Its texts stay in
/// the run's Arrow columns ([`Run::list_text`], [`Run::list_extra`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListRow {
    pub person: u32,
    pub rank: u32,
    pub score: Option<f64>,
    /// Criterion ids of the listed gaps.
    pub criteria: Vec<String>,
    /// The row of `calllist.parquet` (of the run's text columns).
    pub row: u32,
}

/// A text column of the call list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListText {
    Language,
    Reasons,
    Evidence,
    Risk,
    Utilisation,
    Action,
    RestingGaps,
}

impl ListText {
    const ALL: [ListText; 7] = [
        ListText::Language,
        ListText::Reasons,
        ListText::Evidence,
        ListText::Risk,
        ListText::Utilisation,
        ListText::Action,
        ListText::RestingGaps,
    ];

    fn column(self) -> &'static str {
        match self {
            ListText::Language => "language",
            ListText::Reasons => "reasons",
            ListText::Evidence => "evidence",
            ListText::Risk => "risk",
            ListText::Utilisation => "utilisation",
            ListText::Action => "action",
            ListText::RestingGaps => "resting_gaps",
        }
    }
}

/// The call list's texts as Arrow arrays: one buffer per column for the
/// whole city, not a `String` per cell (the texts are most of a run's size).
#[derive(Debug, Default)]
struct ListTexts {
    /// As [`ListText::ALL`]; `None` when the run has no such column.
    known: Vec<Option<arrow::array::StringArray>>,
    /// As [`Run::extra_columns`].
    extras: Vec<arrow::array::StringArray>,
}

fn cell(col: Option<&arrow::array::StringArray>, row: u32) -> Option<&str> {
    use arrow::array::Array;
    let col = col?;
    let r = row as usize;
    (r < col.len() && !col.is_null(r)).then(|| col.value(r))
}

/// A contact of the data folder's `outreach` table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DataContact {
    pub date: String,
    pub criterion: Option<String>,
    pub outcome: String,
}

/// A decision of the data folder's `consents` table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DataConsent {
    pub date: String,
    pub scope: String,
    pub granted: bool,
}

/// One row of `criteria_summary.parquet` (`clinic` is `ALL` for the whole population).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub criterion: String,
    pub clinic: String,
    /// In the population and not excluded (the rate's denominator).
    pub eligible: u64,
    pub open: u64,
}

/// A run beside the one served (a sibling folder of the run path), for trends.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrendPoint {
    pub as_of: String,
    pub folder: String,
    /// Open gaps in the whole population (`criteria_summary.parquet`, clinic `ALL`).
    pub open: u64,
}

/// The runs in the folder that holds `path` (itself included), by `as_of`:
/// every sub-folder with a `run.json` and a `criteria_summary.parquet`.
/// Unreadable folders are skipped.
pub fn trend(path: &Path) -> Vec<TrendPoint> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(&parent) else {
        return out;
    };
    for e in rd.flatten() {
        // A night being built (`nightly`'s hidden `.night-*`) is not a run yet.
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(dir) = std::fs::canonicalize(e.path()) else {
            continue;
        };
        if !dir.is_dir() || !seen.insert(dir.clone()) {
            continue;
        }
        let point = || -> Option<TrendPoint> {
            let info: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).ok()?).ok()?;
            let as_of = info.get("as_of")?.as_str()?.to_string();
            let sf = dir.join("criteria_summary.parquet");
            let b = table::read(&sf, Some(&["clinic_id", "open"])).ok()?;
            let clinic = table::text(&b, "clinic_id", &sf).ok()??;
            let open = table::number(&b, "open")?;
            let open = clinic
                .iter()
                .zip(open)
                .filter(|(c, _)| c.as_deref() == Some("ALL"))
                .map(|(_, o)| o.unwrap_or(0.0) as u64)
                .sum();
            Some(TrendPoint {
                as_of,
                folder: dir.file_name()?.to_string_lossy().into_owned(),
                open,
            })
        };
        if let Some(p) = point() {
            out.push(p);
        }
    }
    out.sort_by(|a, b| a.as_of.cmp(&b.as_of).then(a.folder.cmp(&b.folder)));
    out
}

/// One firing of a person (a row of `firings.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    pub criterion: String,
    pub priority: Option<f64>,
    pub status: String,
    pub evidence: String,
}

/// A run folder in memory. See the module docs.
#[derive(Debug)]
pub struct Run {
    /// The folder read (a symlink resolved).
    pub dir: PathBuf,
    /// [`version_key`] of the path when it was read.
    pub key: String,
    pub as_of: Day,
    pub as_of_text: String,
    pub library_hash: Option<String>,
    /// Clinics, sorted (from `exclusions.parquet` and `risk.parquet`).
    pub clinics: Vec<String>,
    pub people: Vec<Person>,
    index: HashMap<String, u32>,
    int_ids: bool,
    /// Per clinic (as in [`Run::clinics`]): its whole ordered list.
    pub lists: Vec<Vec<ListRow>>,
    /// Call-list columns this reader does not know, kept as text.
    pub extra_columns: Vec<String>,
    /// Per clinic: the columns of `exclusions.parquet` with their counts.
    pub exclusions: Vec<Vec<(String, u64)>>,
    pub summary: Vec<SummaryRow>,
    pub texts: HashMap<String, CriterionText>,
    pub history: HashMap<u32, Vec<DataContact>>,
    pub data_consents: HashMap<u32, Vec<DataConsent>>,
    /// The runs beside this one, by `as_of` ([`trend`]).
    pub trend: Vec<TrendPoint>,
    /// What changed since the previous run (a nightly run's `diff/diff.json`).
    pub changes: Option<diff::DiffSummary>,
    /// Whether outreach closes gaps (a nightly run's `effect/effect.json`).
    pub effect: Option<effect::Effect>,
    /// Per clinic (as in [`Run::clinics`]): the gaps (person, criterion) this
    /// run found closed since the previous one (a nightly run's
    /// `diff/changes.parquet`), for "closed since the call".
    pub closed_since: Vec<Vec<(u32, String)>>,
    firings_file: PathBuf,
    /// The footer of `firings.parquet` with its page index, read once.
    firings_meta: Option<parquet::arrow::arrow_reader::ArrowReaderMetadata>,
    /// Per person: row ranges `(first, count)` of `firings.parquet`.
    firing_rows: HashMap<u32, Vec<(u64, u32)>>,
    list_texts: ListTexts,
    /// Every list row as `(person, clinic, position in the clinic's list)`,
    /// sorted: where a person is listed ([`Run::list_positions`]).
    list_at: Vec<(u32, u32, u32)>,
}

/// `(person, clinic, position)` of every list row, sorted.
fn list_index(lists: &[Vec<ListRow>]) -> Vec<(u32, u32, u32)> {
    let mut at: Vec<(u32, u32, u32)> = lists
        .iter()
        .enumerate()
        .flat_map(|(c, l)| {
            l.iter()
                .enumerate()
                .map(move |(i, r)| (r.person, c as u32, i as u32))
        })
        .collect();
    at.sort_unstable();
    at
}

/// Call-list columns with a meaning here; every other column is an extra.
const KNOWN: [&str; 14] = [
    "clinic_id",
    "rank",
    "patient_id",
    "language",
    "score",
    "criteria",
    "reasons",
    "evidence",
    "risk",
    "utilisation",
    "action",
    "resting_gaps",
    "score_gaps",
    "score_risk",
];

/// Names the state of a run path: the folder it resolves to and the size and
/// modification time of the files read. Changes whenever a new run lands.
pub fn version_key(path: &Path) -> Result<String, RunError> {
    let dir = std::fs::canonicalize(path).map_err(|e| RunError::io(path, "opening the run", e))?;
    let mut key = dir.display().to_string();
    for f in [
        "run.json",
        "risk.parquet",
        "calllist.parquet",
        "exclusions.parquet",
        "criteria_summary.parquet",
        "firings.parquet",
    ] {
        if let Ok(m) = std::fs::metadata(dir.join(f)) {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            key.push_str(&format!("|{f}:{}:{t}", m.len()));
        }
    }
    Ok(key)
}

impl Run {
    /// Reads the run at `path` (a folder or a symlink to one). Fails when a
    /// file the service needs is missing or unreadable, or when the run
    /// changed while it was being read (try again).
    pub fn open(path: &Path) -> Result<Run, RunError> {
        let key = version_key(path)?;
        let dir =
            std::fs::canonicalize(path).map_err(|e| RunError::io(path, "opening the run", e))?;
        let mut run = Run::read(&dir, key.clone())?;
        run.trend = trend(path);
        run.closed_since = run.read_closed_since(&dir.join("diff").join("changes.parquet"))?;
        if version_key(path)? != key {
            return Err(RunError::new(
                path,
                "the run changed while it was being read; it is read again when it is complete",
            ));
        }
        Ok(run)
    }

    fn read(dir: &Path, key: String) -> Result<Run, RunError> {
        let info_path = dir.join("run.json");
        let text = std::fs::read_to_string(&info_path).map_err(|e| {
            RunError::io(
                &info_path,
                "reading (is this a `caregap score` run folder?)",
                e,
            )
        })?;
        let info: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| RunError::new(&info_path, format!("not valid JSON: {e}")))?;
        let as_of_text = info
            .get("as_of")
            .and_then(|v| v.as_str())
            .ok_or_else(|| RunError::new(&info_path, "no `as_of`"))?
            .to_string();
        let as_of = parse_day(&as_of_text).ok_or_else(|| {
            RunError::new(&info_path, format!("`as_of` {as_of_text:?} is not a date"))
        })?;
        let library_hash = info
            .get("library_hash")
            .and_then(|v| v.as_str())
            .or_else(|| {
                info.get("library")
                    .and_then(|l| l.get("hash"))
                    .and_then(|h| h.as_str())
            })
            .map(str::to_string);
        let path_of = |keys: &[&str]| {
            keys.iter().find_map(|k| {
                let x = info.get(*k)?;
                let s = x
                    .as_str()
                    .or_else(|| x.get("path").and_then(|p| p.as_str()))?;
                let p = PathBuf::from(s);
                Some(if p.is_relative() && !p.exists() {
                    dir.join(p)
                } else {
                    p
                })
            })
        };
        let data_dir = path_of(&["data", "data_dir"]);
        let library_dir = path_of(&["library", "library_path", "criteria"]);

        // People: risk.parquet.
        let rf = dir.join("risk.parquet");
        if !rf.exists() {
            return Err(RunError::new(
                &rf,
                "missing: run `caregap rank --run` on this folder first",
            ));
        }
        let risk = table::read(&rf, None)?;
        let int_ids = risk
            .column_by_name("patient_id")
            .is_some_and(|c| c.data_type().is_integer());
        let ids = table::text_req(&risk, "patient_id", &rf)?;
        let r_clinic = table::text_req(&risk, "clinic_id", &rf)?;
        let opt = |name: &str| table::text(&risk, name, &rf);
        let (sex, model, band, reason, measure, tier) = (
            opt("sex")?,
            opt("cv_model")?,
            opt("cv_band")?,
            opt("cv_reason")?,
            opt("utilisation_measure")?,
            opt("utilisation_tier")?,
        );
        let (age, pct, util) = (
            table::number(&risk, "age"),
            table::number(&risk, "cv_risk_pct"),
            table::number(&risk, "utilisation"),
        );

        let exf = dir.join("exclusions.parquet");
        let ex = table::read(&exf, None)?;
        let ex_clinic = table::text_req(&ex, "clinic_id", &exf)?;
        let mut clinics: Vec<String> = ex_clinic.iter().flatten().cloned().collect();
        clinics.extend(r_clinic.iter().flatten().cloned());
        clinics.sort();
        clinics.dedup();
        let clinic_at: HashMap<String, u32> = clinics
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i as u32))
            .collect();

        let mut people = Vec::with_capacity(ids.len());
        let mut index = HashMap::with_capacity(ids.len());
        let at = |v: &Option<Vec<Option<String>>>, i: usize| v.as_ref().and_then(|v| v[i].clone());
        let num = |v: &Option<Vec<Option<f64>>>, i: usize| v.as_ref().and_then(|v| v[i]);
        for i in 0..ids.len() {
            let (Some(id), Some(c)) = (&ids[i], &r_clinic[i]) else {
                continue;
            };
            index.insert(id.clone(), people.len() as u32);
            people.push(Person {
                id: id.clone(),
                clinic: clinic_at[c],
                age: num(&age, i),
                sex: at(&sex, i),
                cv_risk_pct: num(&pct, i),
                cv_model: at(&model, i),
                cv_band: at(&band, i),
                cv_reason: at(&reason, i),
                utilisation_measure: at(&measure, i),
                utilisation: num(&util, i),
                utilisation_tier: at(&tier, i),
            });
        }

        let mut exclusions = vec![Vec::new(); clinics.len()];
        for field in ex.schema().fields().iter() {
            if field.name() == "clinic_id" {
                continue;
            }
            if let Some(v) = table::number(&ex, field.name()) {
                for (r, c) in ex_clinic.iter().enumerate() {
                    if let (Some(c), Some(x)) = (c, v[r]) {
                        exclusions[clinic_at[c] as usize].push((field.name().clone(), x as u64));
                    }
                }
            }
        }

        // Call lists.
        let lf = dir.join("calllist.parquet");
        let list = table::read(&lf, None)?;
        let l_clinic = table::text_req(&list, "clinic_id", &lf)?;
        let l_id = table::text_req(&list, "patient_id", &lf)?;
        let l_rank = table::number(&list, "rank");
        let l_score = table::number(&list, "score");
        let crit = table::text_array(&list, "criteria", &lf)?;
        let known = ListText::ALL
            .iter()
            .map(|t| table::text_array(&list, t.column(), &lf))
            .collect::<Result<Vec<_>, _>>()?;
        let extra_columns: Vec<String> = list
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| !KNOWN.contains(&n.as_str()) && !n.starts_with("score_"))
            .collect();
        let extras = extra_columns
            .iter()
            .map(|n| table::text_array_req(&list, n, &lf))
            .collect::<Result<Vec<_>, _>>()?;
        let mut lists: Vec<Vec<ListRow>> = vec![Vec::new(); clinics.len()];
        for r in 0..list.num_rows() {
            let (Some(c), Some(id)) = (&l_clinic[r], &l_id[r]) else {
                continue;
            };
            let Some(&ci) = clinic_at.get(c) else {
                continue;
            };
            let person = match index.get(id) {
                Some(&p) => p,
                None => {
                    index.insert(id.clone(), people.len() as u32);
                    people.push(Person {
                        id: id.clone(),
                        clinic: ci,
                        ..Person::default()
                    });
                    people.len() as u32 - 1
                }
            };
            let row = &mut lists[ci as usize];
            row.push(ListRow {
                person,
                rank: num(&l_rank, r).map_or(row.len() as u32 + 1, |x| x as u32),
                score: num(&l_score, r),
                criteria: cell(crit.as_ref(), r as u32)
                    .unwrap_or_default()
                    .split(';')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect(),
                row: r as u32,
            });
        }

        let sf = dir.join("criteria_summary.parquet");
        let mut summary = Vec::new();
        if sf.exists() {
            let b = table::read(
                &sf,
                Some(&[
                    "criterion_id",
                    "clinic_id",
                    "in_population",
                    "excluded",
                    "open",
                ]),
            )?;
            let c = table::text_req(&b, "criterion_id", &sf)?;
            let k = table::text_req(&b, "clinic_id", &sf)?;
            let pop = table::number(&b, "in_population").unwrap_or_default();
            let exc = table::number(&b, "excluded").unwrap_or_default();
            let open = table::number(&b, "open").unwrap_or_default();
            for r in 0..b.num_rows() {
                let (Some(c), Some(k)) = (&c[r], &k[r]) else {
                    continue;
                };
                let g = |v: &Vec<Option<f64>>| v.get(r).copied().flatten().unwrap_or(0.0) as u64;
                summary.push(SummaryRow {
                    criterion: c.clone(),
                    clinic: k.clone(),
                    eligible: g(&pop).saturating_sub(g(&exc)),
                    open: g(&open),
                });
            }
        }

        // Firings: which rows are whose.
        let ff = dir.join("firings.parquet");
        let mut firing_rows: HashMap<u32, Vec<(u64, u32)>> = HashMap::new();
        if ff.exists() {
            let b = table::read(&ff, Some(&["patient_id"]))?;
            let col = arrow::compute::cast(
                b.column_by_name("patient_id")
                    .ok_or_else(|| RunError::new(&ff, "no column `patient_id`"))?,
                &arrow::datatypes::DataType::Utf8,
            )
            .map_err(|e| RunError::new(&ff, e.to_string()))?;
            use arrow::array::{Array, AsArray};
            let ids = col.as_string::<i32>();
            // A person's firings are written together: look an id up once per run of rows.
            let mut last: Option<(&str, Option<u32>)> = None;
            for r in 0..ids.len() {
                if ids.is_null(r) {
                    continue;
                }
                let id = ids.value(r);
                let person = match last {
                    Some((l, p)) if l == id => p,
                    _ => index.get(id).copied(),
                };
                last = Some((id, person));
                let Some(p) = person else {
                    continue;
                };
                let ranges = firing_rows.entry(p).or_default();
                match ranges.last_mut() {
                    Some((first, n)) if *first + *n as u64 == r as u64 => *n += 1,
                    _ => ranges.push((r as u64, 1)),
                }
            }
        }

        let mut history: HashMap<u32, Vec<DataContact>> = HashMap::new();
        let mut data_consents: HashMap<u32, Vec<DataConsent>> = HashMap::new();
        if let Some(data) = &data_dir {
            for f in table::table_files(data, "outreach") {
                let b = table::read(&f, Some(&["patient_id", "date", "criterion_id", "outcome"]))?;
                let (p, d, c, o) = (
                    table::text_req(&b, "patient_id", &f)?,
                    table::text_req(&b, "date", &f)?,
                    table::text(&b, "criterion_id", &f)?,
                    table::text_req(&b, "outcome", &f)?,
                );
                for r in 0..b.num_rows() {
                    let (Some(p), Some(d), Some(o)) = (&p[r], &d[r], &o[r]) else {
                        continue;
                    };
                    if let Some(&i) = index.get(p) {
                        history.entry(i).or_default().push(DataContact {
                            date: d.clone(),
                            criterion: at(&c, r),
                            outcome: o.clone(),
                        });
                    }
                }
            }
            for f in table::table_files(data, "consents") {
                let b = table::read(&f, Some(&["patient_id", "date", "scope", "granted"]))?;
                let (p, d, s, g) = (
                    table::text_req(&b, "patient_id", &f)?,
                    table::text_req(&b, "date", &f)?,
                    table::text_req(&b, "scope", &f)?,
                    table::text_req(&b, "granted", &f)?,
                );
                for r in 0..b.num_rows() {
                    let (Some(p), Some(d), Some(s), Some(g)) = (&p[r], &d[r], &s[r], &g[r]) else {
                        continue;
                    };
                    if let Some(&i) = index.get(p) {
                        data_consents.entry(i).or_default().push(DataConsent {
                            date: d.clone(),
                            scope: s.clone(),
                            granted: g == "true",
                        });
                    }
                }
            }
            for v in history.values_mut() {
                v.sort_by(|a, b| b.date.cmp(&a.date));
            }
            for v in data_consents.values_mut() {
                v.sort_by(|a, b| b.date.cmp(&a.date));
            }
        }

        let firings_meta = if ff.exists() {
            let file = std::fs::File::open(&ff).map_err(|e| RunError::io(&ff, "opening", e))?;
            let opts = parquet::arrow::arrow_reader::ArrowReaderOptions::new()
                .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Optional);
            Some(
                parquet::arrow::arrow_reader::ArrowReaderMetadata::load(&file, opts)
                    .map_err(|e| RunError::new(&ff, e.to_string()))?,
            )
        } else {
            None
        };

        let texts = match &library_dir {
            Some(lib) if lib.exists() => library::criterion_texts(lib).unwrap_or_default(),
            _ => HashMap::new(),
        };

        Ok(Run {
            list_at: list_index(&lists),
            dir: dir.to_path_buf(),
            key,
            as_of,
            as_of_text,
            library_hash,
            clinics,
            people,
            index,
            int_ids,
            lists,
            extra_columns,
            exclusions,
            summary,
            texts,
            history,
            data_consents,
            trend: Vec::new(),
            changes: diff::read_summary(&dir.join("diff")),
            closed_since: Vec::new(),
            effect: effect::read_effect(&dir.join("effect")),
            list_texts: ListTexts { known, extras },
            firings_file: ff,
            firings_meta,
            firing_rows,
        })
    }

    /// A run held in memory only (no folder, no firings, no data folder):
    /// people, clinics (sorted) and their ordered lists. For tests and tools
    /// that build lists themselves.
    pub fn in_memory(
        as_of: Day,
        clinics: Vec<String>,
        people: Vec<Person>,
        lists: Vec<Vec<ListRow>>,
    ) -> Run {
        let int_ids = !people.is_empty() && people.iter().all(|p| p.id.parse::<i64>().is_ok());
        let index = people
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i as u32))
            .collect();
        Run {
            dir: PathBuf::new(),
            key: String::new(),
            as_of,
            as_of_text: crate::data::format_day(as_of),
            library_hash: None,
            clinics,
            people,
            index,
            int_ids,
            list_at: list_index(&lists),
            list_texts: ListTexts::default(),
            lists,
            extra_columns: Vec::new(),
            exclusions: Vec::new(),
            summary: Vec::new(),
            texts: HashMap::new(),
            history: HashMap::new(),
            data_consents: HashMap::new(),
            trend: Vec::new(),
            changes: None,
            effect: None,
            closed_since: Vec::new(),
            firings_file: PathBuf::new(),
            firings_meta: None,
            firing_rows: HashMap::new(),
        }
    }

    /// The person an id names, however it is written: integer ids are
    /// compared as numbers (`0017`, `+17` and ` 17 ` are person 17), text ids
    /// after trimming. `None` when no person of this run has it.
    /// The closed gaps of a diff's `changes.parquet` (none when absent), per clinic.
    fn read_closed_since(&self, file: &Path) -> Result<Vec<Vec<(u32, String)>>, RunError> {
        let mut out = vec![Vec::new(); self.clinics.len()];
        if !file.is_file() {
            return Ok(out);
        }
        let b = table::read(file, Some(&["patient_id", "criterion_id", "change"]))?;
        let p = table::text_req(&b, "patient_id", file)?;
        let c = table::text_req(&b, "criterion_id", file)?;
        let ch = table::text_req(&b, "change", file)?;
        for i in 0..b.num_rows() {
            if ch[i].as_deref() != Some("closed") {
                continue;
            }
            let (Some(id), Some(crit)) = (&p[i], &c[i]) else {
                continue;
            };
            if let Some(person) = self.find(id) {
                let clinic = self.people[person as usize].clinic as usize;
                if let Some(v) = out.get_mut(clinic) {
                    v.push((person, crit.clone()));
                }
            }
        }
        Ok(out)
    }

    pub fn find(&self, id: &str) -> Option<u32> {
        let id = id.trim();
        if self.int_ids {
            let n: i64 = id.parse().ok()?;
            self.index.get(&n.to_string()).copied()
        } else {
            self.index.get(id).copied()
        }
    }

    /// The canonical text of an id (as the run writes it), when it is one of this run's people.
    pub fn canonical_id(&self, id: &str) -> Option<&str> {
        self.find(id).map(|p| self.people[p as usize].id.as_str())
    }

    /// The index of a clinic, exactly as written in the run.
    pub fn clinic_index(&self, clinic: &str) -> Option<usize> {
        self.clinics
            .binary_search_by(|c| c.as_str().cmp(clinic))
            .ok()
    }

    /// A text of a list row (`None`: null, or the run has no such column).
    pub fn list_text(&self, row: &ListRow, text: ListText) -> Option<&str> {
        let i = ListText::ALL.iter().position(|t| *t == text)?;
        cell(self.list_texts.known.get(i)?.as_ref(), row.row)
    }

    /// The value of the `k`th of [`Run::extra_columns`] of a list row (`None`: null).
    pub fn list_extra(&self, row: &ListRow, k: usize) -> Option<&str> {
        cell(self.list_texts.extras.get(k), row.row)
    }

    /// The person whose id is exactly `id` as the run writes it (the
    /// service's records store that text).
    pub fn by_canonical_id(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// Where `person` is listed: `(clinic, position in its list)`, in order.
    pub fn list_positions(&self, person: u32) -> impl Iterator<Item = (usize, usize)> + '_ {
        let from = self.list_at.partition_point(|&(p, _, _)| p < person);
        self.list_at[from..]
            .iter()
            .take_while(move |&&(p, _, _)| p == person)
            .map(|&(_, c, i)| (c as usize, i as usize))
    }

    /// Whether person ids are integers.
    pub fn int_ids(&self) -> bool {
        self.int_ids
    }

    /// A person's rows of `firings.parquet` (every status), read now.
    pub fn firings_of(&self, person: u32) -> Result<Vec<Firing>, RunError> {
        use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
        let (Some(ranges), Some(meta)) = (self.firing_rows.get(&person), &self.firings_meta) else {
            return Ok(Vec::new());
        };
        let f = &self.firings_file;
        // The file as it was when the run was read: a run folder is replaced whole, never
        // rewritten in place (see the module docs), so the footer read then still holds.
        let file = std::fs::File::open(f).map_err(|e| RunError::io(f, "opening", e))?;
        let builder =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::new_with_metadata(
                file,
                meta.clone(),
            );
        // Only the row groups holding the person's rows; selection relative to them.
        let mut groups = Vec::new();
        let mut starts = Vec::new();
        let mut at = 0u64;
        for (g, rg) in builder.metadata().row_groups().iter().enumerate() {
            let n = rg.num_rows() as u64;
            if ranges.iter().any(|&(s, c)| s < at + n && s + c as u64 > at) {
                groups.push(g);
                starts.push((at, n));
            }
            at += n;
        }
        // The selection counts rows of the selected groups only.
        let mut selectors = Vec::new();
        let mut base = 0u64; // file row of the current position
        for &(gs, gn) in &starts {
            base = base.max(gs);
            for &(s, c) in ranges {
                let (s, e) = (s.max(gs), (s + c as u64).min(gs + gn));
                if s >= e || s < base {
                    continue;
                }
                selectors.push(RowSelector::skip((s - base) as usize));
                selectors.push(RowSelector::select((e - s) as usize));
                base = e;
            }
            if base < gs + gn {
                selectors.push(RowSelector::skip((gs + gn - base) as usize));
                base = gs + gn;
            }
        }
        let schema = builder.parquet_schema();
        let fields = schema.root_schema().get_fields();
        let roots: Vec<usize> = (0..fields.len())
            .filter(|&i| {
                ["criterion_id", "priority", "status", "evidence"].contains(&fields[i].name())
            })
            .collect();
        let mask = parquet::arrow::ProjectionMask::roots(schema, roots);
        let reader = builder
            .with_row_groups(groups)
            .with_row_selection(RowSelection::from(selectors))
            .with_projection(mask)
            .build()
            .map_err(|e| RunError::new(f, e.to_string()))?;
        let mut out = Vec::new();
        for b in reader {
            let b = b.map_err(|e| RunError::new(f, e.to_string()))?;
            let c = table::text_req(&b, "criterion_id", f)?;
            let s = table::text(&b, "status", f)?;
            let e = table::text(&b, "evidence", f)?;
            let p = table::number(&b, "priority");
            for r in 0..b.num_rows() {
                out.push(Firing {
                    criterion: c[r].clone().unwrap_or_default(),
                    priority: p.as_ref().and_then(|p| p[r]),
                    status: s.as_ref().and_then(|s| s[r].clone()).unwrap_or_default(),
                    evidence: e.as_ref().and_then(|e| e[r].clone()).unwrap_or_default(),
                });
            }
        }
        Ok(out)
    }
}
