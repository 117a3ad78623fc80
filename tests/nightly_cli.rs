//! `caregap nightly` and `caregap diff` (issue 20) on a small generated
//! population: three nights with events added between them give the expected
//! changes; a night killed at many points leaves `latest` on the previous good
//! run and the history consistent; a second night while one runs is refused;
//! a failing step leaves `latest` where it was and says why; `caregap serve
//! --run RUNS/latest` shows the diff, the effect and "closed since the call",
//! and follows new nights.

mod cli_util;
mod data_util;
mod serve_util;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use caregap::runs::nightly::{self, HistoryEntry};
use caregap::runs::table;
use cli_util::{caregap, ok, root};

/// A generated population whose events are a folder of parts, so that a test
/// can add events by adding a part.
fn population(dir: &Path, patients: u32) {
    population_with(dir, patients, &[]);
}

fn population_with(dir: &Path, patients: u32, extra: &[&str]) {
    ok(caregap()
        .args(["synth", "--patients", &patients.to_string(), "--seed", "11"])
        .args(extra)
        .args(["--as-of", "2026-01-01", "--years", "3", "--out"])
        .arg(dir)
        .stdout(Stdio::null())
        .output()
        .unwrap());
    fs::create_dir(dir.join("events")).unwrap();
    fs::rename(
        dir.join("events.parquet"),
        dir.join("events").join("part-0.parquet"),
    )
    .unwrap();
}

fn config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("nightly.toml");
    let text = format!(
        "runs = \"runs\"\ndata = \"pop\"\nlibrary = {:?}\nas_of = \"2026-01-01\"\nstatus = true\nkeep = 10\n{extra}",
        root().join("criteria").display().to_string()
    );
    fs::write(&path, text).unwrap();
    path
}

fn nightly(config: &Path) -> Command {
    let mut c = caregap();
    c.arg("nightly")
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// One event row to add: (patient, date as days since 1970, kind, system, code, value, unit).
type Ev = (
    i64,
    i32,
    &'static str,
    &'static str,
    &'static str,
    Option<f64>,
    Option<&'static str>,
);

fn day(s: &str) -> i32 {
    caregap::data::parse_day(s).unwrap()
}

fn add_events(data: &Path, part: &str, rows: &[Ev]) {
    let rows: Vec<data_util::Ev> = rows
        .iter()
        .map(
            |&(pid, date, kind, system, code, value, unit)| data_util::Ev {
                unit: unit.map(Into::into),
                ..data_util::ev(pid, date, kind, system, code, value)
            },
        )
        .collect();
    data_util::write(
        &data.join("events").join(part),
        &data_util::events_batch(&rows),
        rows.len(),
    );
}

/// (patient, criterion) → status of a run's firings.parquet.
fn firings(run: &Path) -> BTreeMap<(String, String), String> {
    let f = run.join("firings.parquet");
    let b = table::read(&f, Some(&["patient_id", "criterion_id", "status"])).unwrap();
    let p = table::text_req(&b, "patient_id", &f).unwrap();
    let c = table::text_req(&b, "criterion_id", &f).unwrap();
    let s = table::text_req(&b, "status", &f).unwrap();
    (0..b.num_rows())
        .map(|i| {
            (
                (p[i].clone().unwrap(), c[i].clone().unwrap()),
                s[i].clone().unwrap(),
            )
        })
        .collect()
}

/// (patient, criterion) → change of a diff's changes.parquet.
fn changes(dir: &Path) -> BTreeMap<(String, String), String> {
    let f = dir.join("changes.parquet");
    let b = table::read(&f, None).unwrap();
    let p = table::text_req(&b, "patient_id", &f).unwrap();
    let c = table::text_req(&b, "criterion_id", &f).unwrap();
    let ch = table::text_req(&b, "change", &f).unwrap();
    let mut m = BTreeMap::new();
    for i in 0..b.num_rows() {
        let k = (p[i].clone().unwrap(), c[i].clone().unwrap());
        assert!(
            m.insert(k, ch[i].clone().unwrap()).is_none(),
            "a duplicate row"
        );
    }
    m
}

/// The diff a careful reader expects from two runs' firings (open / excluded
/// rows, and who is alive in the later run).
fn expected(
    a: &BTreeMap<(String, String), String>,
    b: &BTreeMap<(String, String), String>,
) -> BTreeMap<(String, String), String> {
    let mut m = BTreeMap::new();
    for (k, s) in b {
        if s == "open" {
            let was = a.get(k).is_some_and(|s| s == "open");
            m.insert(
                k.clone(),
                if was { "still_open" } else { "opened" }.to_string(),
            );
        }
    }
    for (k, s) in a {
        if s == "open" && !m.contains_key(k) {
            let ch = if b.get(k).is_some_and(|s| s == "excluded") {
                "newly_excluded"
            } else {
                "closed"
            };
            m.insert(k.clone(), ch.to_string());
        }
    }
    m
}

fn history(runs: &Path) -> Vec<HistoryEntry> {
    nightly::read_history(runs)
}

fn latest(runs: &Path) -> Option<String> {
    nightly::latest(runs)
}

fn first_open(f: &BTreeMap<(String, String), String>, criterion: &str, not: &[&str]) -> String {
    f.iter()
        .find(|((p, c), s)| c == criterion && *s == "open" && !not.contains(&p.as_str()))
        .map(|((p, _), _)| p.clone())
        .unwrap_or_else(|| panic!("nobody has {criterion} open"))
}

#[test]
fn three_nights_with_events_added_between_them_give_the_expected_diffs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pop");
    population(&data, 400);
    let cfg = config(tmp.path(), "");
    let runs = tmp.path().join("runs");

    ok(nightly(&cfg).output().unwrap());
    let n1 = latest(&runs).expect("latest after night 1");
    assert!(
        !runs.join(&n1).join("diff").exists(),
        "no previous run, no diff"
    );
    let f1 = firings(&runs.join(&n1));

    // Between nights 1 and 2: X has an HbA1c (closes DM.HBA1C_OVERDUE); Y,
    // not hypertensive, gets a hypertension diagnosis and 165/102 mmHg.
    let x = first_open(&f1, "DM.HBA1C_OVERDUE", &[]);
    let pop_b = table::read(&data.join("patients.parquet"), None).unwrap();
    let ids = table::text_req(&pop_b, "patient_id", &data.join("patients.parquet")).unwrap();
    let hypertensive: BTreeSet<&str> = f1
        .keys()
        .filter(|(_, c)| c == "HTN.BP_UNCONTROLLED")
        .map(|(p, _)| p.as_str())
        .collect();
    let alive: BTreeSet<String> = {
        let rf = runs.join(&n1).join("risk.parquet");
        let r = table::read(&rf, None).unwrap();
        let p = table::text_req(&r, "patient_id", &rf).unwrap();
        let age = table::number(&r, "age").unwrap();
        p.into_iter()
            .zip(age)
            .filter(|(_, a)| a.is_some_and(|a| (40.0..70.0).contains(&a)))
            .filter_map(|(p, _)| p)
            .collect()
    };
    let y = ids
        .iter()
        .flatten()
        .find(|p| alive.contains(*p) && !hypertensive.contains(p.as_str()) && **p != x)
        .expect("someone of 40-69 without hypertension")
        .clone();
    let d = day("2025-12-15");
    add_events(
        &data,
        "part-1.parquet",
        &[
            (
                x.parse().unwrap(),
                d,
                "measurement",
                "LOINC",
                "4548-4",
                Some(47.0),
                Some("mmol/mol"),
            ),
            (
                y.parse().unwrap(),
                d,
                "diagnosis",
                "ICD10",
                "I10",
                None,
                None,
            ),
            (
                y.parse().unwrap(),
                d,
                "measurement",
                "LOINC",
                "8480-6",
                Some(165.0),
                Some("mmHg"),
            ),
            (
                y.parse().unwrap(),
                d,
                "measurement",
                "LOINC",
                "8462-4",
                Some(102.0),
                Some("mmHg"),
            ),
        ],
    );
    std::thread::sleep(Duration::from_millis(1100)); // a new run name (seconds)
    let out = ok(nightly(&cfg).output().unwrap());
    let n2 = latest(&runs).unwrap();
    assert_ne!(n1, n2);
    let f2 = firings(&runs.join(&n2));
    let c2 = changes(&runs.join(&n2).join("diff"));
    assert_eq!(c2, expected(&f1, &f2));
    assert_eq!(c2[&(x.clone(), "DM.HBA1C_OVERDUE".into())], "closed");
    assert_eq!(c2[&(y.clone(), "HTN.BP_UNCONTROLLED".into())], "opened");
    // Nobody else changed.
    for ((p, c), ch) in &c2 {
        if *p != x && *p != y {
            assert_eq!(ch, "still_open", "{p} {c}");
        }
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("since {n1}")), "{stderr}");

    // Between nights 2 and 3: Z, with uncontrolled blood pressure, enters
    // palliative care (which excludes it), and X's HbA1c stays.
    let z = first_open(&f2, "HTN.BP_UNCONTROLLED", &[&x, &y]);
    add_events(
        &data,
        "part-2.parquet",
        &[(
            z.parse().unwrap(),
            day("2025-12-20"),
            "diagnosis",
            "ICD10",
            "Z51.5",
            None,
            None,
        )],
    );
    std::thread::sleep(Duration::from_millis(1100));
    ok(nightly(&cfg).output().unwrap());
    let n3 = latest(&runs).unwrap();
    let f3 = firings(&runs.join(&n3));
    let c3 = changes(&runs.join(&n3).join("diff"));
    assert_eq!(c3, expected(&f2, &f3));
    assert_eq!(
        c3[&(z.clone(), "HTN.BP_UNCONTROLLED".into())],
        "newly_excluded"
    );
    assert!(!c3.contains_key(&(x.clone(), "DM.HBA1C_OVERDUE".into())));
    assert!(
        c3.iter().all(|((p, _), ch)| *p == z || ch == "still_open"),
        "only Z changed"
    );

    // The clinic aggregate: one closed gap is a small cell (null), the
    // whole-population still-open count is shown and right.
    let cf = runs.join(&n2).join("diff").join("clinic_changes.parquet");
    let cb = table::read(&cf, None).unwrap();
    let clinic = table::text_req(&cb, "clinic_id", &cf).unwrap();
    let crit = table::text_req(&cb, "criterion_id", &cf).unwrap();
    let closed = table::number(&cb, "closed").unwrap();
    let row = (0..cb.num_rows())
        .find(|&i| {
            clinic[i].as_deref() == Some("ALL") && crit[i].as_deref() == Some("DM.HBA1C_OVERDUE")
        })
        .expect("an ALL row of DM.HBA1C_OVERDUE");
    assert_eq!(closed[row], None, "1 closed gap must be suppressed");
    let summary: serde_json::Value =
        serde_json::from_slice(&fs::read(runs.join(&n2).join("diff").join("diff.json")).unwrap())
            .unwrap();
    let still = c2.values().filter(|c| *c == "still_open").count() as u64;
    assert_eq!(summary["still_open"].as_u64(), Some(still));
    assert_eq!(summary["closed"], serde_json::Value::Null);
    assert_eq!(summary["run_a"], n1.as_str());
    assert_eq!(summary["run_b"], n2.as_str());

    // The report shows the diff; nightly.json has every step's time.
    let html = fs::read_to_string(runs.join(&n3).join("report.html")).unwrap();
    assert!(
        html.contains("Since the previous run") && html.contains(&n2),
        "no diff section"
    );
    let nj: serde_json::Value =
        serde_json::from_slice(&fs::read(runs.join(&n3).join("nightly.json")).unwrap()).unwrap();
    let steps: Vec<&str> = nj["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["score", "rank", "diff", "report"]);
    assert_eq!(nj["previous"], n2.as_str());

    // `caregap diff` on the runs themselves gives the nightly's diff.
    let out = tmp.path().join("d13");
    ok(caregap()
        .arg("diff")
        .arg(runs.join(&n1))
        .arg(runs.join(&n3))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap());
    assert_eq!(changes(&out), expected(&f1, &f3));

    // The history: three nights, each started and succeeded.
    let h = history(&runs);
    let events: Vec<(&str, &str)> = h
        .iter()
        .map(|e| (e.night.as_str(), e.event.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            (n1.as_str(), "started"),
            (n1.as_str(), "succeeded"),
            (n2.as_str(), "started"),
            (n2.as_str(), "succeeded"),
            (n3.as_str(), "started"),
            (n3.as_str(), "succeeded"),
        ]
    );
}

/// The visible folders of the history: every one must be a whole night.
fn visible_runs(runs: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(runs)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

fn hidden(runs: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(runs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != ".latest.lock")
        .collect();
    v.sort();
    v
}

fn kill_after(mut child: std::process::Child, after: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    false
}

#[test]
fn a_killed_night_leaves_latest_on_the_previous_run_and_the_history_consistent() {
    let tmp = tempfile::tempdir().unwrap();
    population(&tmp.path().join("pop"), 300);
    let cfg = config(tmp.path(), "");
    let runs = tmp.path().join("runs");
    let t = Instant::now();
    ok(nightly(&cfg).output().unwrap());
    let took = t.elapsed();
    let mut good = latest(&runs).unwrap();

    let steps = 10;
    let mut killed = 0;
    for i in 0..steps {
        std::thread::sleep(Duration::from_millis(1010)); // distinct night names
        let after = took.mul_f64(0.05 + 1.1 * f64::from(i) / f64::from(steps));
        let child = nightly(&cfg).spawn().unwrap();
        let finished = kill_after(child, after);
        let now = latest(&runs).expect("latest always names a good run");
        if finished {
            assert_ne!(now, good, "a finished night switches latest");
            good = now;
        } else {
            killed += 1;
            // Killed after renaming and switching but before logging is
            // possible (a tiny window): latest is then the new, whole night.
            if now != good {
                assert!(runs.join(&now).join("nightly.json").is_file());
                good = now;
            }
        }
        // Every visible run folder is a whole night.
        for r in visible_runs(&runs) {
            assert!(
                runs.join(&r).join("nightly.json").is_file()
                    && runs.join(&r).join("report.html").is_file(),
                "{r} is not a whole night"
            );
        }
    }
    // On a loaded machine nights run slower than the first one did, so fewer
    // are still running at their kill point: at least a third must be killed.
    assert!(
        killed >= steps / 3,
        "only {killed} of {steps} nights were killed"
    );

    // The next night settles what the killed ones left.
    std::thread::sleep(Duration::from_millis(1010));
    ok(nightly(&cfg).output().unwrap());
    assert_eq!(hidden(&runs), Vec::<String>::new(), "leftovers");
    let h = history(&runs);
    let mut ends: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in &h {
        ends.entry(e.night.as_str())
            .or_default()
            .push(e.event.as_str());
    }
    let mut interrupted = 0;
    for (night, ev) in &ends {
        assert_eq!(ev.len(), 2, "{night}: {ev:?}");
        assert_eq!(ev[0], "started", "{night}: {ev:?}");
        match ev[1] {
            "succeeded" => assert!(runs.join(night).join("nightly.json").is_file(), "{night}"),
            "interrupted" => {
                interrupted += 1;
                assert!(!runs.join(night).exists(), "{night} left a folder");
            }
            other => panic!("{night}: {other}"),
        }
    }
    assert!(interrupted >= 1);
    assert_eq!(
        visible_runs(&runs).len(),
        h.iter().filter(|e| e.event == "succeeded").count()
    );
}

#[test]
fn a_second_night_is_refused_while_one_runs_and_a_failed_step_keeps_latest() {
    let tmp = tempfile::tempdir().unwrap();
    population(&tmp.path().join("pop"), 300);
    let cfg = config(tmp.path(), "");
    let runs = tmp.path().join("runs");
    ok(nightly(&cfg).output().unwrap());
    let first_good = latest(&runs).unwrap();

    std::thread::sleep(Duration::from_millis(1010));
    let first = nightly(&cfg).spawn().unwrap();
    let lock = runs.join(".latest.lock");
    let pid = format!("process {}", first.id());
    let start = Instant::now();
    while !fs::read_to_string(&lock).is_ok_and(|s| s.contains(&pid)) {
        assert!(start.elapsed() < Duration::from_secs(60), "no lock taken");
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = nightly(&cfg).output().unwrap();
    assert!(!second.status.success());
    let msg = String::from_utf8_lossy(&second.stderr);
    assert!(
        msg.contains("another caregap nightly is running") && msg.contains(&pid),
        "{msg}"
    );
    ok(first.wait_with_output().unwrap());
    let second_good = latest(&runs).unwrap();
    assert_ne!(first_good, second_good);
    assert!(history(&runs).iter().any(|e| e.event == "refused"));

    // A step that fails (capacities file missing): non-zero exit, the reason
    // on stderr and in the history, latest unchanged, nothing left behind.
    let bad = config(tmp.path(), "capacities = \"no-such-file.csv\"\n");
    std::thread::sleep(Duration::from_millis(1010));
    let out = nightly(&bad).output().unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("step rank failed") && msg.contains("no-such-file.csv"),
        "{msg}"
    );
    assert_eq!(latest(&runs).unwrap(), second_good);
    let last = history(&runs).pop().unwrap();
    assert_eq!(last.event, "failed");
    assert!(
        last.message.contains("no-such-file.csv")
            && last
                .message
                .contains(&format!("latest stays on {second_good}")),
        "{}",
        last.message
    );
    assert_eq!(hidden(&runs), Vec::<String>::new());
    assert_eq!(visible_runs(&runs), vec![first_good, second_good]);
}

#[test]
fn the_service_serves_latest_with_the_diff_the_effect_and_closed_since_the_call() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pop");
    population_with(&data, 400, &["--outreach-contacts", "2"]);
    let cfg = config(
        tmp.path(),
        "[effect]\ngrid_days = 30\nlookback_days = 180\n",
    );
    let runs = tmp.path().join("runs");
    ok(nightly(&cfg).output().unwrap());
    let n1 = latest(&runs).unwrap();

    // X, called about an overdue HbA1c, has it measured before the next night.
    let f1 = firings(&runs.join(&n1));
    let x = first_open(&f1, "DM.HBA1C_OVERDUE", &[]);
    let rf = runs.join(&n1).join("risk.parquet");
    let r = table::read(&rf, None).unwrap();
    let ids = table::text_req(&r, "patient_id", &rf).unwrap();
    let clinics = table::text_req(&r, "clinic_id", &rf).unwrap();
    let clinic = (0..r.num_rows())
        .find(|&i| ids[i].as_deref() == Some(x.as_str()))
        .and_then(|i| clinics[i].clone())
        .unwrap();
    ok(caregap()
        .args([
            "outreach",
            "record",
            "--patient",
            &x,
            "--date",
            "2025-12-10",
        ])
        .args([
            "--outcome",
            "booked",
            "--criterion",
            "DM.HBA1C_OVERDUE",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap());
    add_events(
        &data,
        "part-1.parquet",
        &[(
            x.parse().unwrap(),
            day("2025-12-20"),
            "measurement",
            "LOINC",
            "4548-4",
            Some(49.0),
            Some("mmol/mol"),
        )],
    );
    std::thread::sleep(Duration::from_millis(1010));
    ok(nightly(&cfg).output().unwrap());
    let n2 = latest(&runs).unwrap();

    let s = serve_util::Server::start(&runs.join("latest"), &[]);
    serve_util::caregap(
        &[
            "users",
            "add",
            "sx",
            "--role",
            "scheduler",
            "--clinic",
            &clinic,
            "--db",
            s.db.to_str().unwrap(),
            "--password-stdin",
            "--language",
            "en",
        ],
        &format!("{}\n", serve_util::PASSWORD),
    );
    let mut c = serve_util::Client::new(&s.url);
    c.login("analyst");
    let v = c.get("/api/overview").json();
    assert_eq!(v["changes"]["run_a"], n1.as_str(), "{v:#}");
    assert!(
        !v["effect"].as_array().unwrap().is_empty(),
        "no effect rows"
    );
    let page = c.get("/overview").body;
    assert!(
        page.contains("id=\"since\"") && page.contains(&n1),
        "{page}"
    );
    assert!(page.contains("Does outreach close care gaps?"), "{page}");

    let mut sx = serve_util::Client::new(&s.url);
    sx.login("sx");
    let page = sx.get(&format!("/clinics/{clinic}/list")).body;
    let section = page
        .split("id=\"closed-since-call\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no closed-since-the-call section: {page}"));
    assert!(
        section.contains(&format!("data-person=\"{x}\"")) && section.contains("DM.HBA1C_OVERDUE"),
        "{section}"
    );

    // A third night: the running service swaps to it.
    std::thread::sleep(Duration::from_millis(1010));
    ok(nightly(&cfg).output().unwrap());
    let start = Instant::now();
    loop {
        let v = c.get("/api/overview").json();
        if v["changes"]["run_a"] == n2.as_str() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no swap: {v:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
