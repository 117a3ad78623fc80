//! What each fuzz target asserts, shared by the targets (`fuzz_targets/`) and
//! by the regression test of the normal test run (`tests/fuzz_regressions.rs`),
//! which replays every file of `fuzz/corpus/` and `fuzz/regressions/`.
//!
//! Beyond "no panic", each check asserts the entry point's own invariants.

#![allow(dead_code)]

use std::path::Path;

use caregap::data::{self, LoadOptions, Table};
use caregap::eval::{self, EvalOptions, EvidenceMode};
use caregap::lang::{self, diag::SourceFile};
use caregap::sql::{self, Dialect, SqlOptions};
use caregap::testcase;

/// A few people to evaluate a fuzzed library on (the shipped cardiac cases).
fn people() -> (data::Population, data::Day) {
    let text = include_str!("../criteria/tests/cardiac.toml");
    let file = testcase::parse_case_file("cardiac.toml", text)
        .unwrap_or_else(|e| panic!("the shipped case file must parse: {e:?}"));
    (testcase::build_population(&file), file.as_of)
}

/// The folder the `loader` and `import` targets write each input into:
/// one per process, memory-backed (`/dev/shm`) where available.
pub fn scratch_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap()
    })
    .path()
}

/// The criteria language, whole: a TOML library file as bytes. Compiles it;
/// a library with an error is refused (`None`) and one without is returned;
/// every diagnostic points into the file on character boundaries and renders;
/// an accepted library plans, evaluates on a few people and emits SQL in every
/// dialect.
pub fn library(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let files = [SourceFile {
        name: "fuzz.toml".into(),
        text: text.to_string(),
    }];
    let (lib, diags) = lang::compile_library(&files);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    assert_eq!(
        lib.is_some(),
        errors == 0,
        "refused iff an error: {diags:?}"
    );
    for d in &diags {
        assert_eq!(d.file, "fuzz.toml");
        assert!(
            d.span.start <= d.span.end && d.span.end <= text.len(),
            "{d:?}"
        );
        assert!(
            text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end),
            "{d:?}"
        );
        assert!(d.line >= 1 && d.column >= 1, "{d:?}");
        for (span, _) in &d.secondary {
            assert!(
                span.end <= text.len() && text.is_char_boundary(span.start),
                "{d:?}"
            );
        }
    }
    let _ = lang::diag::render(&diags, &files, false);
    let Some(lib) = lib else { return };
    let plan = caregap::plan::compile(&lib);
    let (pop, as_of) = people();
    let opts = EvalOptions {
        evidence: EvidenceMode::Firings,
        progress: None,
    };
    let e = eval::evaluate(&plan, &pop, as_of, &opts).expect("evaluation of a checked library");
    assert_eq!(e.alive.len(), pop.patients.len());
    for dialect in [Dialect::DuckDb, Dialect::Spark, Dialect::Postgres] {
        let _ = sql::emit(&lib, as_of, dialect, &SqlOptions::default());
    }
}

/// parquet-rs still panics on some corrupt pages (apache/arrow-rs#11121); the
/// loader catches such a panic and returns an error naming the file
/// (`DataError::Corrupt`). libFuzzer's panic hook aborts on any panic before
/// it can be caught, so panics raised inside the parquet crate are let
/// through to the loader's catch; a panic anywhere else still aborts.
fn tolerate_parquet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let upstream = info
                .location()
                .is_some_and(|l| l.file().contains("/parquet-") && l.file().contains("/src/"));
            if !upstream {
                previous(info);
            }
        }));
    });
}

/// The Parquet loader: the bytes are the `events` table (first byte even) or
/// the `patients` table (odd) of a data folder whose other table is valid.
/// Loading either fails with an error value or accounts for every row.
pub fn loader(bytes: &[u8], dir: &Path) {
    tolerate_parquet_panics();
    let Some((&first, rest)) = bytes.split_first() else {
        return;
    };
    let valid = include_bytes!("valid.parquet.tables");
    let (patients, events) = split_tables(valid);
    let (p, e) = if first % 2 == 0 {
        (patients, rest)
    } else {
        (rest, events)
    };
    std::fs::write(dir.join("patients.parquet"), p).unwrap();
    std::fs::write(dir.join("events.parquet"), e).unwrap();
    let opts = LoadOptions::new(data::parse_day("2026-01-01").unwrap());
    let Ok(ds) = data::load(dir, &opts) else {
        return;
    };
    for t in &ds.report.tables {
        assert_eq!(
            t.rows_read,
            t.rows_used + t.rows_rejected + t.rows_after_as_of,
            "{t:?}"
        );
    }
    let pop = &ds.population;
    let used = ds.report.table(Table::Events).map_or(0, |t| t.rows_used);
    assert_eq!(pop.events.len() as u64, used);
    assert_eq!(pop.events.offsets.len(), pop.patients.len() + 1);
    for p in 0..pop.patients.len() {
        let dates = &pop.events.date[pop.events.range(p)];
        assert!(
            dates.windows(2).all(|w| w[0] <= w[1]),
            "events sorted by date"
        );
        assert!(
            dates.iter().all(|&d| d <= opts.as_of),
            "no event after as_of"
        );
    }
}

/// `valid.parquet.tables` is a patients file and an events file, each
/// preceded by its length as 8 little-endian bytes.
pub fn split_tables(bytes: &[u8]) -> (&[u8], &[u8]) {
    let len = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let n = len(bytes);
    let patients = &bytes[8..8 + n];
    let rest = &bytes[8 + n..];
    let m = len(rest);
    (patients, &rest[8..8 + m])
}

/// The OMOP tables an `import` input can hold, in the order its parts fill them.
pub const OMOP_TABLES: [&str; 9] = [
    "person",
    "death",
    "care_site",
    "visit_occurrence",
    "condition_occurrence",
    "measurement",
    "observation",
    "drug_exposure",
    "procedure_occurrence",
];

/// The importers: the first byte's low two bits pick FHIR NDJSON (0), a FHIR
/// Bundle (1) or an OMOP folder (2, 3: the rest split at NUL bytes into the
/// tables of [`OMOP_TABLES`], an empty part a missing table, tab-separated when a part's first line holds a
/// tab); bit 2 asks for pseudonyms, bit 3 for `--strict`. An import fails
/// with a message or writes a data folder that accounts for every record
/// read (used or rejected under a reason) and that the loader reads.
pub fn import(bytes: &[u8], dir: &Path) {
    use caregap::import::{self, Key, Mapping, Options, omop::SourceSystems};
    let Some((&first, rest)) = bytes.split_first() else {
        return;
    };
    let input = dir.join("in");
    let out = dir.join("out");
    for d in [&input, &out] {
        let _ = std::fs::remove_dir_all(d);
    }
    std::fs::create_dir_all(&input).unwrap();
    let opts = Options {
        mapping: Mapping::builtin(),
        key: (first & 4 != 0).then(|| Key::from_file_bytes(&[7u8; 32]).unwrap()),
        strict: first & 8 != 0,
    };
    let result = match first & 3 {
        0 | 1 => {
            let name = if first & 3 == 0 {
                "in.ndjson"
            } else {
                "in.json"
            };
            std::fs::write(input.join(name), rest).unwrap();
            import::import_fhir(&[input.join(name)], &out, &opts, &|_| {})
        }
        _ => {
            for (part, table) in rest.split(|&b| b == 0).zip(OMOP_TABLES) {
                if part.is_empty() {
                    continue; // a table the folder does not have
                }
                let first_line = part.split(|&b| b == b'\n').next().unwrap_or(&[]);
                let ext = if first_line.contains(&b'\t') {
                    "tsv"
                } else {
                    "csv"
                };
                std::fs::write(input.join(format!("{table}.{ext}")), part).unwrap();
            }
            import::import_omop(&input, &out, &opts, &SourceSystems::default())
        }
    };
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            assert!(
                !e.to_string().trim().is_empty(),
                "an error says what: {e:?}"
            );
            return;
        }
    };
    let report = &outcome.report;
    for (ty, t) in &report.resources {
        assert_eq!(t.read, t.used + t.rejected_total(), "{ty}: {t:?}");
        for (why, r) in &t.rejected {
            assert!(!why.is_empty() && r.count > 0, "{ty}: {t:?}");
        }
    }
    if opts.strict {
        assert!(
            report.first_rejection().is_none(),
            "--strict wrote a rejection"
        );
    }
    assert_eq!(
        outcome.reidentification.is_empty(),
        opts.key.is_none() || report.rows.get("patients").copied().unwrap_or(0) == 0
    );
    let as_of = data::parse_day("9999-12-31").unwrap();
    let ds = data::load(&out, &LoadOptions::new(as_of))
        .unwrap_or_else(|e| panic!("the loader refuses an import's output: {e}"));
    for (table, name) in [(Table::Patients, "patients"), (Table::Events, "events")] {
        let written = report.rows.get(name).copied().unwrap_or(0);
        let read = ds.report.table(table).map_or(0, |t| t.rows_read);
        assert_eq!(read, written, "the loader reads every {name} row written");
    }
}

/// The scheduler service over one run, with two sessions, for [`serve`].
pub struct Service {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    /// (token, CSRF token) of a scheduler of `clinic` and of an analyst.
    sessions: [(String, String); 2],
    person: String,
    clinic: String,
    _dir: tempfile::TempDir,
}

/// Starts the service in-process on the run folder `run` (a `caregap demo`'s
/// `run/`) with a fresh store holding a scheduler of its first clinic and an
/// analyst, both logged in.
pub fn service(run: &Path) -> Service {
    use caregap::rank::config::{Capacities, RankConfig};
    use caregap::serve::handlers::{LoginResult, try_login};
    use caregap::serve::store::{self, AuditEntry, NewUser, Role};
    use caregap::serve::{App, Config};
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        run: run.to_path_buf(),
        db: dir.path().join("caregap.db"),
        bind: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        allow_http: false,
        cooldowns: RankConfig::default().cooldown_days,
        capacities: Capacities::default(),
        min_cell: 5,
        watch: std::time::Duration::from_secs(3600),
        session: std::time::Duration::from_secs(24 * 3600),
        reidentification: None,
    };
    let app = std::sync::Arc::new(App::new(config).unwrap_or_else(|e| panic!("{e}")));
    let run = app.run.load();
    let clinic = run.clinics.first().expect("a run with a clinic").clone();
    let listed = run.lists[0].first().expect("a listed person").person;
    let person = run.people[listed as usize].id.clone();
    drop(run);
    let mut c = store::open(&dir.path().join("caregap.db")).unwrap();
    let hash = store::hash_password("fuzz password 1").unwrap();
    let actor = AuditEntry {
        user: "fuzz".into(),
        role: "admin".into(),
        clinic: String::new(),
        action: "setup".into(),
        patients: vec![],
        count: 0,
        address: "local".into(),
        detail: String::new(),
    };
    for (name, role, clinics) in [
        ("sched", Role::Scheduler, vec![clinic.clone()]),
        ("analyst", Role::Analyst, vec![]),
    ] {
        let user = NewUser {
            name,
            role,
            clinics: &clinics,
            language: "en",
            password_hash: &hash,
        };
        store::add_user(&mut c, &user, &actor).unwrap();
    }
    drop(c);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let login = |name: &str| match rt
        .block_on(try_login(&app, name, "fuzz password 1", "127.0.0.1"))
        .unwrap()
    {
        LoginResult::Ok { token, csrf, .. } => (token, csrf),
        _ => panic!("the fuzz users log in"),
    };
    let sessions = [login("sched"), login("analyst")];
    Service {
        router: caregap::serve::router(app),
        rt,
        sessions,
        person,
        clinic,
        _dir: dir,
    }
}

/// The service's request parsing: the bytes are a request. The first byte
/// picks the method (bits 0-1: GET, POST, HEAD, PUT), the session (bits 2-3:
/// none, the scheduler, the analyst, the scheduler with a forged CSRF token)
/// and whether the CSRF token goes in a header (bit 4); the rest is text:
/// the path and query on the first line, `Name: value` header lines, an empty
/// line and the body. `{P}`, `{C}` and `{T}` stand for a listed person, the
/// scheduler's clinic and the session's CSRF token, so inputs reach past the
/// route matching. Every request gets a response within 10 s that is not a
/// server error (a request can be refused, never break the service), and
/// its body can be read whole.
pub fn serve(svc: &Service, bytes: &[u8]) {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::{Method, Request};
    use tower::ServiceExt;
    let Some((&first, rest)) = bytes.split_first() else {
        return;
    };
    let method =
        [Method::GET, Method::POST, Method::HEAD, Method::PUT][(first & 3) as usize].clone();
    let session = match (first >> 2) & 3 {
        0 => None,
        1 => Some(svc.sessions[0].clone()),
        2 => Some(svc.sessions[1].clone()),
        _ => Some((svc.sessions[0].0.clone(), "0".repeat(64))),
    };
    let csrf = session.as_ref().map_or("", |s| s.1.as_str());
    let text = String::from_utf8_lossy(rest)
        .replace("{P}", &svc.person)
        .replace("{C}", &svc.clinic)
        .replace("{T}", csrf);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let target = lines.next().unwrap_or("/");
    if target.contains("logout") {
        return; // ends the shared sessions: another input's state, not this one's
    }
    let mut req = Request::builder().method(method).uri(target);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        req = req.header(name.trim(), value.trim());
    }
    if let Some((token, csrf)) = &session {
        req = req.header("cookie", format!("caregap_session={token}"));
        if first & 16 != 0 {
            req = req.header("x-csrf-token", csrf.as_str());
        }
    }
    let Ok(mut req) = req.body(Body::from(body.to_string())) else {
        return; // not a request http would ever hand the service
    };
    req.extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))));
    let router = svc.router.clone();
    let answered = svc.rt.block_on(async move {
        tokio::time::timeout(std::time::Duration::from_secs(10), async move {
            let response = router.oneshot(req).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 64 << 20).await;
            (
                status,
                body.map(|b| String::from_utf8_lossy(&b).into_owned()),
            )
        })
        .await
    });
    let (status, body) = answered.expect("a response within 10 s");
    let body = body.unwrap_or_else(|e| panic!("a body read whole for {text:?}: {e}"));
    assert!(!status.is_server_error(), "{status} for {text:?}: {body}");
}
