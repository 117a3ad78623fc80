//! Libraries, populations, scoring, ranking and call lists: each a call of
//! the `caregap` library with the GIL released.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::ffi_stream::RecordBatchStreamReader as ArrowArrayStreamReader;
use arrow::pyarrow::PyArrowType;
use arrow::record_batch::RecordBatchReader;
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde_json::json;

use caregap::data::{self, Dataset, Day, LoadOptions, MemoryTable, MemoryTables};
use caregap::eval::{EvalOptions, EvidenceMode};
use caregap::lang::{self, Diagnostic, SourceFile};
use caregap::output::batches::{ScoredTables, score_tables};
use caregap::plan::{self, Plan};
use caregap::rank::config::{Capacities, RankConfig};
use caregap::rank::export::CriterionText;
use caregap::rank::pipeline::{self, ClinicSlice, RankInputs, Table};

use crate::errors::{self, diagnostics_list, from_err, msg};
use crate::stream::ArrowStream;

fn parse_as_of(py: Python<'_>, as_of: Option<&str>) -> PyResult<Day> {
    match as_of {
        None => Ok(data::today()),
        Some(s) => data::parse_day(s).ok_or_else(|| {
            msg(
                py,
                format!("as_of {s:?} is not a date; write it as YYYY-MM-DD"),
            )
        }),
    }
}

/// A compiled criteria library (checked, with its plan).
#[pyclass(frozen, module = "caregap._caregap")]
pub struct Library {
    path: PathBuf,
    files: Vec<String>,
    library: lang::ir::Library,
    plan: Plan,
    warnings: Vec<Diagnostic>,
}

/// Reads and compiles a library; a library with errors is refused with its
/// diagnostics and the command line's message.
fn compile(path: &Path) -> Result<Library, (String, Vec<Diagnostic>)> {
    let files: Vec<SourceFile> =
        caregap::runs::library::read_library(path).map_err(|e| (e, Vec::new()))?;
    let (library, diagnostics) = lang::compile_library(&files);
    let Some(library) = library else {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        let text = format!(
            "the library {} has {errors} error{} and was refused\n{}",
            path.display(),
            if errors == 1 { "" } else { "s" },
            lang::render(&diagnostics, &files, false)
        );
        return Err((text, diagnostics));
    };
    let plan = plan::compile(&library);
    Ok(Library {
        path: path.to_path_buf(),
        files: files.into_iter().map(|f| f.name).collect(),
        library,
        plan,
        warnings: diagnostics,
    })
}

#[pymethods]
impl Library {
    /// Reads and compiles the library at `path` (a folder of `*.toml` files
    /// or one file). Raises CaregapError with `.diagnostics` when it has errors.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Library> {
        py.detach(|| compile(&path))
            .map_err(|(text, diagnostics)| errors::error(py, text, &diagnostics))
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The library's SHA-256 (as in `run.json`).
    #[getter]
    fn hash(&self) -> &str {
        &self.library.hash
    }

    /// Criterion ids in library order.
    #[getter]
    fn criteria(&self) -> Vec<String> {
        self.library.criteria.iter().map(|c| c.id.clone()).collect()
    }

    /// Feature names in library order (the columns of `features` after
    /// `patient_id` and `clinic_id`).
    #[getter]
    fn features(&self) -> Vec<String> {
        self.library
            .features
            .iter()
            .map(|f| f.name.clone())
            .collect()
    }

    /// The warnings of a library that compiled (list of dicts).
    #[getter]
    fn diagnostics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        diagnostics_list(py, &self.warnings)
    }

    fn __repr__(&self) -> String {
        format!(
            "<caregap.Library {} ({} criteria, {} features)>",
            self.path.display(),
            self.library.criteria.len(),
            self.library.features.len()
        )
    }
}

/// `caregap check`: the diagnostics of a library (warnings only, as a list
/// of dicts, when it compiles); raises CaregapError carrying every
/// diagnostic when it has errors.
#[pyfunction]
pub fn check<'py>(py: Python<'py>, library_path: PathBuf) -> PyResult<Bound<'py, PyList>> {
    let lib = Library::load(py, library_path)?;
    diagnostics_list(py, &lib.warnings)
}

/// A loaded population (the data model's tables in the engine's layout).
#[pyclass(frozen, module = "caregap._caregap")]
pub struct Population {
    dataset: Dataset,
    source: String,
    strict: bool,
    load_s: f64,
}

fn memory_table(
    py: Python<'_>,
    name: &str,
    reader: PyArrowType<ArrowArrayStreamReader>,
) -> PyResult<MemoryTable> {
    let reader = reader.0;
    let schema: SchemaRef = reader.schema();
    let batches = reader
        .collect::<Result<Vec<RecordBatch>, _>>()
        .map_err(|e| msg(py, format!("cannot read the {name} table: {e}")))?;
    Ok(MemoryTable { schema, batches })
}

#[pymethods]
impl Population {
    /// Loads the data model's Parquet tables from `data_dir` as of `as_of`
    /// (YYYY-MM-DD; default today); `strict` makes any unusable row an error.
    #[staticmethod]
    #[pyo3(signature = (data_dir, as_of=None, strict=false))]
    fn load(
        py: Python<'_>,
        data_dir: PathBuf,
        as_of: Option<&str>,
        strict: bool,
    ) -> PyResult<Population> {
        let as_of = parse_as_of(py, as_of)?;
        let opts = LoadOptions {
            as_of,
            strict,
            extra_event_files: Vec::new(),
        };
        let t = Instant::now();
        let dataset = py.detach(|| data::load(&data_dir, &opts)).map_err(|e| {
            msg(
                py,
                format!(
                    "cannot load the population from {}: {}",
                    data_dir.display(),
                    errors::message(&e)
                ),
            )
        })?;
        Ok(Population {
            dataset,
            source: data_dir.display().to_string(),
            strict,
            load_s: t.elapsed().as_secs_f64(),
        })
    }

    /// Loads a population from Arrow tables (anything with
    /// `__arrow_c_stream__`: pyarrow tables, polars DataFrames, ...) with
    /// the data model's columns, with the same checks as `load`.
    #[staticmethod]
    #[pyo3(signature = (patients, events, consents=None, outreach=None, as_of=None, strict=false))]
    fn from_tables(
        py: Python<'_>,
        patients: PyArrowType<ArrowArrayStreamReader>,
        events: PyArrowType<ArrowArrayStreamReader>,
        consents: Option<PyArrowType<ArrowArrayStreamReader>>,
        outreach: Option<PyArrowType<ArrowArrayStreamReader>>,
        as_of: Option<&str>,
        strict: bool,
    ) -> PyResult<Population> {
        let as_of = parse_as_of(py, as_of)?;
        let tables = MemoryTables {
            patients: memory_table(py, "patients", patients)?,
            events: memory_table(py, "events", events)?,
            consents: consents
                .map(|t| memory_table(py, "consents", t))
                .transpose()?,
            outreach: outreach
                .map(|t| memory_table(py, "outreach", t))
                .transpose()?,
        };
        let opts = LoadOptions {
            as_of,
            strict,
            extra_event_files: Vec::new(),
        };
        let t = Instant::now();
        let dataset = py
            .detach(|| data::load_tables(tables, &opts))
            .map_err(|e| {
                msg(
                    py,
                    format!(
                        "cannot load the population from the tables given: {}",
                        errors::message(&e)
                    ),
                )
            })?;
        Ok(Population {
            dataset,
            source: "(tables in memory)".to_string(),
            strict,
            load_s: t.elapsed().as_secs_f64(),
        })
    }

    /// The date the population was loaded for (YYYY-MM-DD).
    #[getter]
    fn as_of(&self) -> String {
        data::format_day(self.dataset.population.as_of)
    }

    #[getter]
    fn n_patients(&self) -> usize {
        self.dataset.population.patients.len()
    }

    #[getter]
    fn n_events(&self) -> usize {
        self.dataset.population.events.len()
    }

    /// Where the population came from (the data folder, or tables in memory).
    #[getter]
    fn source(&self) -> &str {
        &self.source
    }

    /// The load report (rows read, used, rejected by reason, after as_of)
    /// as JSON text.
    fn report_json(&self, py: Python<'_>) -> PyResult<String> {
        serde_json::to_string(&self.dataset.report).map_err(|e| from_err(py, &e))
    }

    fn __repr__(&self) -> String {
        format!(
            "<caregap.Population {} people, {} events, as of {} from {}>",
            self.n_patients(),
            self.n_events(),
            self.as_of(),
            self.source
        )
    }
}

/// A scoring run's tables in memory.
#[pyclass(frozen, module = "caregap._caregap")]
pub struct ScoreResult {
    tables: ScoredTables,
    as_of: Day,
    run_info: String,
    population: Py<Population>,
    library: Py<Library>,
}

/// Calls Python's `sys.stderr.write` (so that a notebook shows it) from a
/// worker thread while the GIL is released.
fn python_stderr(line: &str) {
    Python::attach(|py| {
        let _ = py
            .import("sys")
            .and_then(|sys| sys.getattr("stderr"))
            .and_then(|err| err.call_method1("write", (line,)));
    });
}

/// `caregap score` in memory: every criterion and feature for the people of
/// `population` alive on `as_of`.
#[pyfunction]
#[pyo3(signature = (population, library, as_of=None, status=false, progress=false))]
pub fn score(
    py: Python<'_>,
    population: Bound<'_, Population>,
    library: Bound<'_, Library>,
    as_of: Option<&str>,
    status: bool,
    progress: bool,
) -> PyResult<ScoreResult> {
    let pop_ref = population.get();
    let lib = library.get();
    let as_of = match as_of {
        None => pop_ref.dataset.population.as_of,
        Some(_) => parse_as_of(py, as_of)?,
    };
    let pop = &pop_ref.dataset.population;
    let total = pop.patients.len();
    let done = AtomicUsize::new(0);
    let step = (total / 10).max(1);
    let tick = |n: usize| {
        let before = done.fetch_add(n, Ordering::Relaxed);
        let after = before + n;
        if after / step > before / step || after == total {
            python_stderr(&format!("scoring: {after}/{total} people\n"));
        }
    };
    let opts = EvalOptions {
        evidence: if status {
            EvidenceMode::InPopulation
        } else {
            EvidenceMode::Firings
        },
        progress: if progress { Some(&tick) } else { None },
    };
    let t = Instant::now();
    let tables = py
        .detach(|| score_tables(&lib.plan, pop, as_of, &opts))
        .map_err(|e| from_err(py, &e))?;
    let eval_s = t.elapsed().as_secs_f64();
    let report = &pop_ref.dataset.report;
    let run = json!({
        "engine_version": caregap_version(),
        "as_of": data::format_day(as_of),
        "data_dir": pop_ref.source,
        "inputs": report.tables.iter().map(|t| json!({
            "table": t.table.as_str(),
            "files": t.files.iter().map(|f| json!({"path": f.path, "rows": f.rows})).collect::<Vec<_>>(),
            "rows_read": t.rows_read,
            "rows_used": t.rows_used,
            "rows_rejected": t.rows_rejected,
            "rows_after_as_of": t.rows_after_as_of,
        })).collect::<Vec<_>>(),
        "rejected_rows": report.rejected,
        "library": {
            "path": lib.path.display().to_string(),
            "hash": lib.library.hash,
            "files": lib.files,
            "value_sets": lib.library.value_sets.len(),
            "definitions": lib.library.definitions.len(),
            "criteria": lib.library.criteria.len(),
            "features": lib.library.features.len(),
            "distinct_aggregates": lib.plan.aggregates.len(),
        },
        "unit_mismatches": tables.unit_mismatches.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "counts": {
            "patients": pop.patients.len(),
            "alive": tables.alive,
            "events": pop.events.len(),
            "firings": tables.open,
            "firings_rows": tables.firings_rows,
        },
        "options": {"status": status, "strict": pop_ref.strict},
        "timings_s": {"load": pop_ref.load_s, "evaluate": eval_s},
    });
    Ok(ScoreResult {
        tables,
        as_of,
        run_info: run.to_string(),
        population: population.unbind(),
        library: library.unbind(),
    })
}

fn caregap_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymethods]
impl ScoreResult {
    fn firings_stream(&self) -> ArrowStream {
        ArrowStream::new(
            self.tables.firings_schema.clone(),
            self.tables.firings.clone(),
        )
    }

    /// None when the library has no features.
    fn features_stream(&self) -> Option<ArrowStream> {
        self.tables
            .features_schema
            .as_ref()
            .map(|s| ArrowStream::new(s.clone(), self.tables.features.clone()))
    }

    fn summary_stream(&self) -> ArrowStream {
        ArrowStream::new(
            self.tables.summary.schema(),
            vec![self.tables.summary.clone()],
        )
    }

    /// What `run.json` says of the run, as JSON text.
    #[getter]
    fn run_info_json(&self) -> &str {
        &self.run_info
    }

    #[getter]
    fn as_of(&self) -> String {
        data::format_day(self.as_of)
    }

    #[getter]
    fn population(&self, py: Python<'_>) -> Py<Population> {
        self.population.clone_ref(py)
    }

    #[getter]
    fn library(&self, py: Python<'_>) -> Py<Library> {
        self.library.clone_ref(py)
    }
}

/// A ranking of a scoring run: risk, the whole ordered call list and the
/// exclusions, with each clinic's slice.
#[pyclass(frozen, module = "caregap._caregap")]
pub struct RankResult {
    risk: RecordBatch,
    calllist: RecordBatch,
    exclusions: RecordBatch,
    clinics: Vec<ClinicSlice>,
}

fn one_batch(py: Python<'_>, schema: SchemaRef, batches: &[RecordBatch]) -> PyResult<RecordBatch> {
    concat_batches(&schema, batches).map_err(|e| from_err(py, &e))
}

fn read_text(py: Python<'_>, path: &Path) -> PyResult<String> {
    std::fs::read_to_string(path).map_err(|e| msg(py, format!("reading {}: {e}", path.display())))
}

/// Capacities from an int (every clinic), a dict {clinic: n} (with an
/// optional "default") or a capacities file (CSV or TOML, as `--capacities`).
fn capacities(py: Python<'_>, arg: Option<&Bound<'_, PyAny>>) -> PyResult<Capacities> {
    let Some(arg) = arg else {
        return Ok(Capacities::default());
    };
    if let Ok(n) = arg.extract::<u32>() {
        return Ok(Capacities {
            default: Some(n),
            clinics: Default::default(),
        });
    }
    if let Ok(mut map) = arg.extract::<HashMap<String, u32>>() {
        let default = map.remove("default");
        return Ok(Capacities {
            default,
            clinics: map.into_iter().collect(),
        });
    }
    let path: PathBuf = arg.extract()?;
    let text = read_text(py, &path)?;
    Capacities::parse(&path.display().to_string(), &text).map_err(|e| from_err(py, &e))
}

/// `caregap rank` in memory: risk per person, exclusions and every clinic's
/// ordered call list, from a score result (its population's consents and
/// outreach, its library's texts).
#[pyfunction]
#[pyo3(signature = (result, order=None, config=None, capacities=None, predictions=None))]
pub fn rank(
    py: Python<'_>,
    result: Bound<'_, ScoreResult>,
    order: Option<&str>,
    config: Option<PathBuf>,
    capacities: Option<Bound<'_, PyAny>>,
    predictions: Option<PyArrowType<ArrowArrayStreamReader>>,
) -> PyResult<RankResult> {
    let r = result.get();
    let mut cfg = match &config {
        Some(p) => RankConfig::parse(&p.display().to_string(), &read_text(py, p)?)
            .map_err(|e| from_err(py, &e))?,
        None => RankConfig::default(),
    };
    if let Some(o) = order {
        // The order's names are the configuration file's.
        cfg.order = RankConfig::parse("order", &format!("order = {o:?}"))
            .map_err(|e| from_err(py, &e))?
            .order;
    }
    if cfg.predictions.is_some() && predictions.is_none() {
        return Err(msg(
            py,
            "the ranking configuration names a predictions file; caregap.rank reads no files: \
             pass the predictions as a table (predictions=...)",
        ));
    }
    let capacities = self::capacities(py, capacities.as_ref())?;
    let predictions = predictions
        .map(|p| {
            let t = memory_table(py, "predictions", p)?;
            one_batch(py, t.schema, &t.batches)
        })
        .transpose()?;
    let pop = r.population.bind(py).get();
    let lib = r.library.bind(py).get();
    let tables = &r.tables;
    let features = match &tables.features_schema {
        Some(s) => one_batch(py, s.clone(), &tables.features)?,
        None => RecordBatch::new_empty(std::sync::Arc::new(Schema::empty())),
    };
    let firings = one_batch(py, tables.firings_schema.clone(), &tables.firings)?;
    let texts: HashMap<String, CriterionText> = lib
        .library
        .criteria
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                CriterionText {
                    title: c.title.clone(),
                    action: c.action.clone(),
                },
            )
        })
        .collect();
    let (features_file, firings_file, predictions_file) = (
        Path::new("features (in memory)"),
        Path::new("firings (in memory)"),
        Path::new("predictions (in memory)"),
    );
    let inputs = RankInputs {
        as_of: r.as_of,
        patients: &pop.dataset.population.patients,
        consents: &pop.dataset.consents,
        outreach: &pop.dataset.outreach,
        features: Table {
            file: features_file,
            batch: &features,
        },
        firings: Table {
            file: firings_file,
            batch: &firings,
        },
        predictions: predictions.as_ref().map(|batch| Table {
            file: predictions_file,
            batch,
        }),
    };
    let out = py
        .detach(|| pipeline::rank_run(&inputs, &cfg, &texts, &capacities))
        .map_err(|e| from_err(py, &e))?;
    Ok(RankResult {
        risk: out.risk,
        calllist: out.calllist,
        exclusions: out.exclusions,
        clinics: out.clinics,
    })
}

fn stream_of(b: &RecordBatch) -> ArrowStream {
    ArrowStream::new(b.schema(), vec![b.clone()])
}

#[pymethods]
impl RankResult {
    fn risk_stream(&self) -> ArrowStream {
        stream_of(&self.risk)
    }
    fn calllist_stream(&self) -> ArrowStream {
        stream_of(&self.calllist)
    }
    fn exclusions_stream(&self) -> ArrowStream {
        stream_of(&self.exclusions)
    }
    /// Clinic ids in the order of the call list.
    #[getter]
    fn clinics(&self) -> Vec<String> {
        self.clinics.iter().map(|c| c.clinic.clone()).collect()
    }
}

/// `caregap calllist`: one clinic's list in order, cut at `capacity` (else
/// the capacities the ranking was given), without the clinic column.
#[pyfunction]
#[pyo3(signature = (ranking, clinic, capacity=None))]
pub fn calllist(
    py: Python<'_>,
    ranking: &RankResult,
    clinic: &str,
    capacity: Option<u32>,
) -> PyResult<ArrowStream> {
    let Some(slice) = ranking.clinics.iter().find(|c| c.clinic == clinic) else {
        let mut names: Vec<&str> = ranking.clinics.iter().map(|c| c.clinic.as_str()).collect();
        names.sort_unstable();
        return Err(msg(
            py,
            format!(
                "unknown clinic {clinic:?}; clinics of this run: {}",
                names.join(", ")
            ),
        ));
    };
    let n = capacity.map_or(slice.cut, |c| (c as usize).min(slice.len));
    let list = ranking.calllist.slice(slice.start, n);
    let list = list
        .project(&(1..list.num_columns()).collect::<Vec<_>>())
        .map_err(|e| from_err(py, &e))?;
    Ok(stream_of(&list))
}
