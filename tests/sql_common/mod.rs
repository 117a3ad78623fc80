//! Shared helpers of the SQL tests: IR builders, test tables, and running a
//! script on DuckDB through the Python venv made by `scripts/sql/setup-venv.sh`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use caregap::data::EventKind;
use caregap::lang::ir::*;
use caregap::sql::Dialect;

/// An SQL engine the tests can run scripts on.
#[derive(Debug, Clone)]
pub struct Engine {
    pub python: PathBuf,
    pub dialect: Dialect,
}

impl Engine {
    fn name(&self) -> &'static str {
        match self.dialect {
            Dialect::DuckDb => "duckdb",
            Dialect::Postgres => "postgres",
            Dialect::Spark => "spark",
        }
    }
}

/// The venv's Python, or `None` (with a message) when it is missing and
/// `CAREGAP_REQUIRE_DUCKDB` is unset. With the flag set, a missing venv fails.
pub fn duckdb_python(test: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = std::env::var_os("CAREGAP_SQL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv-sql"));
    let python = venv.join("bin/python");
    if python.exists() {
        return Some(python);
    }
    if std::env::var_os("CAREGAP_REQUIRE_DUCKDB").is_some() {
        panic!(
            "{test}: CAREGAP_REQUIRE_DUCKDB is set but {} does not exist; run scripts/sql/setup-venv.sh",
            python.display()
        );
    }
    eprintln!(
        "SKIPPED {test}: no DuckDB venv at {} (run scripts/sql/setup-venv.sh, or set \
         CAREGAP_REQUIRE_DUCKDB=1 to make this a failure)",
        venv.display()
    );
    None
}

/// The engines to test on: DuckDB (when the venv exists), PostgreSQL when
/// `CAREGAP_PG_DSN` is set, Spark when `CAREGAP_SQL_SPARK` is set and
/// `spark` is allowed (a local session takes seconds to start).
pub fn engines(test: &str, spark: bool) -> Vec<Engine> {
    let Some(python) = duckdb_python(test) else {
        return Vec::new();
    };
    let mut out = vec![Engine {
        python: python.clone(),
        dialect: Dialect::DuckDb,
    }];
    if std::env::var_os("CAREGAP_PG_DSN").is_some() {
        out.push(Engine {
            python: python.clone(),
            dialect: Dialect::Postgres,
        });
    }
    if spark && std::env::var_os("CAREGAP_SQL_SPARK").is_some() {
        out.push(Engine {
            python,
            dialect: Dialect::Spark,
        });
    }
    out
}

/// Runs `setup` then `script` on a fresh session of `engine`; returns the rows.
pub fn run_sql(engine: &Engine, setup: &str, script: &str) -> Vec<Vec<serde_json::Value>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let setup_path = dir.path().join("setup.sql");
    let script_path = dir.path().join("script.sql");
    std::fs::write(&setup_path, setup).expect("write setup");
    std::fs::write(&script_path, script).expect("write script");
    let runner = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/sql/run_sql.py");
    let out = Command::new(&engine.python)
        .arg(runner)
        .arg("--engine")
        .arg(engine.name())
        .arg("--setup")
        .arg(&setup_path)
        .arg(&script_path)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{} failed:\n{}\n--- script ---\n{script}",
        engine.name(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON rows")
}

/// Days since 1970-01-01 of a `yyyy-mm-dd` date.
pub fn day(ymd: &str) -> i32 {
    let d = chrono::NaiveDate::parse_from_str(ymd, "%Y-%m-%d").expect("date");
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

pub struct Patient {
    pub id: i64,
    pub birth: &'static str,
    pub sex: &'static str,
    pub clinic: &'static str,
    pub death: Option<&'static str>,
}

pub struct Event {
    pub patient: i64,
    pub date: Option<&'static str>,
    pub kind: Option<&'static str>,
    pub system: Option<&'static str>,
    pub code: Option<&'static str>,
    pub value: Option<f64>,
    pub unit: Option<&'static str>,
}

pub fn ev(
    patient: i64,
    date: &'static str,
    kind: &'static str,
    system: &'static str,
    code: &'static str,
) -> Event {
    Event {
        patient,
        date: Some(date),
        kind: Some(kind),
        system: Some(system),
        code: Some(code),
        value: None,
        unit: None,
    }
}

impl Event {
    pub fn value(mut self, v: f64) -> Event {
        self.value = Some(v);
        self
    }
    pub fn unit(mut self, u: &'static str) -> Event {
        self.unit = Some(u);
        self
    }
}

fn q(d: Dialect, x: Option<&str>) -> String {
    match (d, x) {
        (_, None) => "NULL".into(),
        (Dialect::Spark, Some(x)) => format!("'{}'", x.replace('\\', "\\\\").replace('\'', "\\'")),
        (_, Some(x)) => format!("'{}'", x.replace('\'', "''")),
    }
}

fn date(x: Option<&str>) -> String {
    x.map_or("NULL".into(), |x| format!("DATE '{x}'"))
}

/// Statements (one per line, each ending in `;`) creating the session's
/// `patients` and `events` tables with the given rows.
pub fn tables_sql(d: Dialect, patients: &[Patient], events: &[Event]) -> String {
    let double = if d == Dialect::Postgres {
        "DOUBLE PRECISION"
    } else {
        "DOUBLE"
    };
    let patient_rows: Vec<String> = patients
        .iter()
        .map(|p| {
            format!(
                "({}, DATE '{}', {}, {}, {})",
                p.id,
                p.birth,
                q(d, Some(p.sex)),
                q(d, Some(p.clinic)),
                date(p.death)
            )
        })
        .collect();
    let event_rows: Vec<String> = events
        .iter()
        .map(|e| {
            let value = match e.value {
                None => "NULL".to_string(),
                Some(v) if v.is_nan() => format!("CAST('NaN' AS {double})"),
                Some(v) => format!("CAST('{v:?}' AS {double})"),
            };
            format!(
                "({}, {}, {}, {}, {}, {value}, {})",
                e.patient,
                date(e.date),
                q(d, e.kind),
                q(d, e.system),
                q(d, e.code),
                q(d, e.unit)
            )
        })
        .collect();
    let string = if d == Dialect::Spark {
        "STRING"
    } else {
        "VARCHAR"
    };
    let cols_p = [
        ("patient_id", "BIGINT"),
        ("birth_date", "DATE"),
        ("sex", string),
        ("clinic_id", string),
        ("death_date", "DATE"),
    ];
    let cols_e = [
        ("patient_id", "BIGINT"),
        ("date", "DATE"),
        ("kind", string),
        ("system", string),
        ("code", string),
        ("value", double),
        ("unit", string),
    ];
    let mut out = String::new();
    for (table, cols, rows) in [
        ("patients", &cols_p[..], &patient_rows),
        ("events", &cols_e[..], &event_rows),
    ] {
        let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
        let casts: Vec<String> = cols
            .iter()
            .map(|(n, t)| format!("CAST({n} AS {t}) AS {n}"))
            .collect();
        let values = if d == Dialect::Spark {
            format!("VALUES {}", rows.join(", "))
        } else {
            format!("(VALUES {})", rows.join(", "))
        };
        let view = if d == Dialect::Spark {
            "CREATE OR REPLACE TEMP VIEW"
        } else {
            "CREATE TEMP TABLE"
        };
        out += &format!(
            "{view} {table} AS SELECT {} FROM {values} AS t({});\n",
            casts.join(", "),
            names.join(", ")
        );
    }
    out
}

// ---- IR builders ----

pub fn x(ty: Type, kind: ExprKind) -> Expr {
    Expr {
        ty,
        span: Span::default(),
        kind,
    }
}
pub fn num(v: f64) -> Expr {
    x(Type::Num, ExprKind::Lit(Literal::Num(v)))
}
pub fn text(v: &str) -> Expr {
    x(Type::Str, ExprKind::Lit(Literal::Str(v.into())))
}
pub fn null() -> Expr {
    x(Type::Null, ExprKind::Lit(Literal::Null))
}
pub fn agg(func: AggFunc, value_set: usize, window: Option<Window>) -> Expr {
    let ty = match func {
        AggFunc::Has | AggFunc::Active => Type::Bool,
        _ => Type::Num,
    };
    x(
        ty,
        ExprKind::Agg(Aggregate {
            func,
            value_set,
            window,
        }),
    )
}
pub fn cmp(op: CmpOp, a: Expr, b: Expr) -> Expr {
    x(Type::Bool, ExprKind::Cmp(op, Box::new(a), Box::new(b)))
}
pub fn arith(op: ArithOp, a: Expr, b: Expr) -> Expr {
    x(Type::Num, ExprKind::Arith(op, Box::new(a), Box::new(b)))
}
pub fn not(a: Expr) -> Expr {
    x(Type::Bool, ExprKind::Not(Box::new(a)))
}

pub fn value_set(
    name: &str,
    kind: EventKind,
    unit: Option<&str>,
    systems: Vec<(&str, Vec<Pattern>)>,
) -> ValueSet {
    ValueSet {
        name: name.into(),
        kind,
        title: None,
        unit: unit.map(Into::into),
        systems: systems.into_iter().map(|(s, p)| (s.into(), p)).collect(),
        file: "test.toml".into(),
    }
}

pub fn origin() -> Origin {
    Origin {
        file: "test.toml".into(),
        line: 1,
        column: 1,
    }
}

pub fn feature(name: &str, expr: Expr) -> Feature {
    Feature {
        name: name.into(),
        expr,
        origin: origin(),
    }
}

pub fn criterion(id: &str, population: Expr, gap: Expr, exclude: Option<Expr>) -> Criterion {
    Criterion {
        id: id.into(),
        title: format!("test criterion {id}"),
        domain: None,
        source: None,
        population,
        gap,
        exclude,
        priority: 5,
        action: None,
        origin: origin(),
    }
}
