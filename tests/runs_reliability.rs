//! Runs that die or collide (issue 22): `caregap score` killed with SIGKILL at
//! many points leaves its output folder exactly the previous run or exactly
//! the new one, never a mix; the next run clears what the killed ones left and
//! says so; a second run into the same folder while one is writing is refused
//! with a clear message, and the first finishes untouched.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod cli_util;

use cli_util::{assert_reported, caregap, ok, root};

fn synth(dir: &Path, patients: u32) {
    ok(caregap()
        .args(["synth", "--patients", &patients.to_string(), "--seed", "7"])
        .args(["--as-of", "2026-01-01", "--years", "3", "--out"])
        .arg(dir)
        .output()
        .unwrap());
}

fn score(data: &Path, out: &Path, as_of: &str) -> Command {
    let mut c = caregap();
    c.arg("score")
        .arg("--data")
        .arg(data)
        .arg("--criteria")
        .arg(root().join("criteria"))
        .args(["--as-of", as_of, "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// A run folder's files and contents. `run.json` holds timings, so only its
/// `as_of` is kept; every other output is deterministic byte for byte.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let bytes = fs::read(e.path()).unwrap();
        let bytes = if name == "run.json" {
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            v["as_of"].to_string().into_bytes()
        } else {
            bytes
        };
        files.insert(name, bytes);
    }
    files
}

fn leftovers(parent: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".run.") && n != ".run.lock")
        .collect();
    v.sort();
    v
}

fn kill_after(mut child: Child, after: Duration) -> bool {
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

/// Starts the other of two versions `steps` times (`start(version)`) and
/// kills it at points spread from 5 % to 115 % of `took`; after each, the
/// output (`now()`) must be exactly one of the two `whole` versions. Returns
/// how many runs were killed.
fn kill_alternating<T: PartialEq>(
    steps: usize,
    took: Duration,
    whole: &[T],
    mut state: usize,
    start: impl Fn(usize) -> Child,
    now: impl Fn() -> T,
    what: &str,
) -> usize {
    let mut killed = 0;
    for i in 0..steps {
        let after = took.mul_f64(0.05 + 1.1 * i as f64 / steps as f64);
        if !kill_after(start(1 - state), after) {
            killed += 1;
        }
        let now = now();
        state = whole
            .iter()
            .position(|w| *w == now)
            .unwrap_or_else(|| panic!("killed after {after:?}: {what} is neither version"));
    }
    killed
}

#[test]
fn a_killed_score_leaves_the_previous_run_or_the_new_one_never_a_mix() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pop");
    synth(&data, 3000);
    let work = tmp.path().join("work");
    fs::create_dir(&work).unwrap();
    let run = work.join("run");

    // The two whole runs every killed run must leave one of.
    let dates = ["2025-06-30", "2026-01-01"];
    let mut whole = Vec::new();
    let mut took = Duration::ZERO;
    for as_of in dates {
        let reference = tmp.path().join(format!("ref-{as_of}"));
        let t = Instant::now();
        ok(score(&data, &reference, as_of).output().unwrap());
        took = took.max(t.elapsed());
        whole.push(snapshot(&reference));
    }
    assert_ne!(whole[0], whole[1]);
    ok(score(&data, &run, dates[0]).output().unwrap());
    let state = 0;
    assert_eq!(snapshot(&run), whole[state]);

    // Kill points spread over the whole run, from its start to past its end.
    let steps = 16;
    let start = |v: usize| score(&data, &run, dates[v]).spawn().unwrap();
    let killed = kill_alternating(
        steps,
        took,
        &whole,
        state,
        start,
        || snapshot(&run),
        "the run folder",
    );
    // Kill points follow the reference runs' time; on a loaded machine a
    // run may take much longer or shorter than they did, so only a few kills
    // are required (every point is checked either way).
    assert!(killed >= 3, "only {killed} of {steps} runs were killed");

    // The next run clears what the killed ones left, and says so.
    let left = leftovers(&work);
    assert_reported(&left, &ok(score(&data, &run, dates[0]).output().unwrap()));
    assert_eq!(leftovers(&work), Vec::<String>::new());
    assert_eq!(snapshot(&run), whole[0]);
}

#[test]
fn a_second_score_into_the_same_folder_is_refused_while_the_first_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pop");
    synth(&data, 3000);
    let run = tmp.path().join("run");
    let first = score(&data, &run, "2026-01-01").spawn().unwrap();
    // Wait until the first holds the lock (it writes its pid into the lock file).
    let lock = tmp.path().join(".run.lock");
    let pid = format!("process {}", first.id());
    let start = Instant::now();
    while !fs::read_to_string(&lock).is_ok_and(|s| s.contains(&pid)) {
        assert!(start.elapsed() < Duration::from_secs(60), "no lock taken");
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = score(&data, &run, "2025-01-01").output().unwrap();
    assert!(!second.status.success());
    let msg = String::from_utf8_lossy(&second.stderr);
    assert!(
        msg.contains("another caregap run is writing") && msg.contains(&pid),
        "{msg}"
    );
    let first = first.wait_with_output().unwrap();
    ok(first);
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(json["as_of"], "2026-01-01");
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

/// A small tmpfs mounted for the test's life (root only).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status();
        status
            .is_ok_and(|s| s.success())
            .then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_names_the_file_and_leaves_the_previous_run_and_no_temporary_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pop");
    synth(&data, 2000);
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "4m") else {
        // CI runs as root and must run this test; a developer without root
        // is told it did not run.
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot mount a tmpfs (needs root)"
        );
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    let run = disk.0.join("run");
    ok(score(&data, &run, "2026-01-01").output().unwrap());
    let before = snapshot(&run);
    // Fill the disk but for a few kilobytes.
    let avail = String::from_utf8(
        Command::new("df")
            .args(["-k", "--output=avail"])
            .arg(&disk.0)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let avail: u64 = avail.lines().last().unwrap().trim().parse().unwrap();
    fs::write(
        disk.0.join("filler"),
        vec![0u8; ((avail - 40) * 1024) as usize],
    )
    .unwrap();

    let out = score(&data, &run, "2025-06-01").output().unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("No space left on device") && msg.contains(".parquet"),
        "{msg}"
    );
    assert_eq!(snapshot(&run), before, "the previous run changed");
    assert_eq!(leftovers(&disk.0), Vec::<String>::new());
}

#[test]
fn concurrent_outreach_writers_lose_no_rows_and_tear_none() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pop");
    synth(&data, 300);
    let count = |data: &Path| -> Vec<(i64, i32, String)> {
        let mut rows = Vec::new();
        for f in [data.join("outreach.parquet")] {
            if !f.exists() {
                continue;
            }
            let file = fs::File::open(&f).unwrap();
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .unwrap()
                    .build()
                    .unwrap();
            for b in reader {
                use arrow::array::AsArray;
                let b = b.unwrap();
                let ids = b.column_by_name("patient_id").unwrap();
                let ids = ids.as_primitive::<arrow::datatypes::Int64Type>();
                let dates = b.column_by_name("date").unwrap();
                let dates = dates.as_primitive::<arrow::datatypes::Date32Type>();
                let outcome = b.column_by_name("outcome").unwrap();
                let outcome =
                    arrow::compute::cast(outcome, &arrow::datatypes::DataType::Utf8).unwrap();
                let outcome = outcome.as_string::<i32>();
                for i in 0..b.num_rows() {
                    rows.push((ids.value(i), dates.value(i), outcome.value(i).to_string()));
                }
            }
        }
        rows.sort();
        rows
    };
    let before = count(&data);
    let writers = 12;
    let children: Vec<Child> = (0..writers)
        .map(|i| {
            caregap()
                .args(["outreach", "record", "--data"])
                .arg(&data)
                .args(["--patient", &(i + 1).to_string()])
                .args(["--date", &format!("2025-12-{:02}", i + 1)])
                .args(["--outcome", "booked", "--criterion", "HTN.BP_UNCONTROLLED"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        ok(c.wait_with_output().unwrap());
    }
    let after = count(&data);
    assert_eq!(after.len(), before.len() + writers as usize, "rows lost");
    for i in 0..writers {
        let day = 20423 + i; // 2025-12-01 + i
        assert!(
            after.contains(&(i as i64 + 1, day, "booked".to_string())),
            "writer {i}'s row is missing"
        );
    }
    for b in &before {
        assert!(after.contains(b), "an earlier row was lost: {b:?}");
    }
}

/// A folder's files (subfolders too, as `sub/name`) and contents, but for
/// `audit.log` (each command appends its time) and `run.json`'s timings.
fn snapshot_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (name, bytes) in snapshot_files(dir) {
        if name != "audit.log" {
            files.insert(name, bytes);
        }
    }
    files
}

fn snapshot_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            for (sub, bytes) in snapshot_files(&e.path()) {
                out.push((format!("{name}/{sub}"), bytes));
            }
        } else if name == "run.json" {
            let v: serde_json::Value =
                serde_json::from_slice(&fs::read(e.path()).unwrap()).unwrap();
            out.push((name, v["as_of"].to_string().into_bytes()));
        } else {
            out.push((name, fs::read(e.path()).unwrap()));
        }
    }
    out
}

fn rank(run: &Path, order: &str) -> Command {
    let mut c = caregap();
    c.arg("rank")
        .arg("--run")
        .arg(run)
        .args(["--order", order])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

#[test]
fn a_killed_rank_leaves_the_previous_ranking_or_the_new_one_never_a_mix() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pop");
    synth(&data, 3000);
    let work = tmp.path().join("work");
    fs::create_dir(&work).unwrap();
    let run = work.join("run");
    ok(score(&data, &run, "2026-01-01").output().unwrap());

    // The two whole rankings (the two orders list people differently).
    let orders = ["benefit", "additive"];
    let mut whole = Vec::new();
    let mut took = Duration::ZERO;
    for order in orders {
        let t = Instant::now();
        ok(rank(&run, order).output().unwrap());
        took = took.max(t.elapsed());
        whole.push(snapshot_tree(&run));
    }
    assert_ne!(whole[0], whole[1]);
    assert!(whole[0].keys().any(|k| k.starts_with("calllists/")));
    let state = 1;

    let steps = 16;
    let start = |v: usize| rank(&run, orders[v]).spawn().unwrap();
    let killed = kill_alternating(
        steps,
        took,
        &whole,
        state,
        start,
        || snapshot_tree(&run),
        "the run folder",
    );
    assert!(killed >= 3, "only {killed} of {steps} ranks were killed");

    // The next rank clears what the killed ones left, and says so.
    let left = leftovers(&work);
    assert_reported(&left, &ok(rank(&run, orders[0]).output().unwrap()));
    assert_eq!(leftovers(&work), Vec::<String>::new());
    assert_eq!(snapshot_tree(&run), whole[0]);
    // Every rank that finished wrote its audit lines; none was lost.
    let audit = fs::read_to_string(run.join("audit.log")).unwrap();
    assert!(audit.lines().filter(|l| l.contains("command=rank")).count() >= 3);
}

/// Files beside `dir`'s `name` that a killed writer of it left (`.NAME.tmp-PID`).
fn file_leftovers(dir: &Path, name: &str) -> Vec<String> {
    let prefix = format!(".{name}.tmp-");
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    v.sort();
    v
}

#[test]
fn a_killed_report_leaves_the_previous_report_or_the_new_one_and_the_next_clears_its_leftovers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pop");
    synth(&data, 2000);
    let run = tmp.path().join("run");
    ok(score(&data, &run, "2026-01-01").output().unwrap());
    ok(rank(&run, "benefit").output().unwrap());
    let out = tmp.path().join("report.html");
    let report = |min_cell: &str| {
        let mut c = caregap();
        c.arg("report")
            .arg("--run")
            .arg(&run)
            .arg("--out")
            .arg(&out)
            .args(["--min-cell", min_cell])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    let cells = ["5", "50"];
    let mut whole = Vec::new();
    let mut took = Duration::ZERO;
    for c in cells {
        let t = Instant::now();
        ok(report(c).output().unwrap());
        took = took.max(t.elapsed());
        whole.push(fs::read(&out).unwrap());
    }
    assert_ne!(whole[0], whole[1]);
    let state = 1;
    let start = |v: usize| report(cells[v]).spawn().unwrap();
    kill_alternating(
        12,
        took,
        &whole,
        state,
        start,
        || fs::read(&out).unwrap(),
        "report.html",
    );
    let left = file_leftovers(tmp.path(), "report.html");
    assert_reported(&left, &ok(report(cells[0]).output().unwrap()));
    assert_eq!(
        file_leftovers(tmp.path(), "report.html"),
        Vec::<String>::new()
    );
    assert_eq!(fs::read(&out).unwrap(), whole[0]);
}

#[test]
fn a_killed_outreach_record_leaves_the_log_with_or_without_its_row_never_torn() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pop");
    synth(&data, 3000);
    let log = data.join("outreach.parquet");
    let rows = |path: &Path| -> i64 {
        let file = fs::File::open(path).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file)
            .unwrap_or_else(|e| panic!("the outreach log is torn: {e}"));
        parquet::file::reader::FileReader::metadata(&reader)
            .file_metadata()
            .num_rows()
    };
    let record = |i: usize| {
        let mut c = caregap();
        c.args(["outreach", "record", "--data"])
            .arg(&data)
            .args(["--patient", &(i % 2000 + 1).to_string()])
            .args([
                "--date",
                &format!("2025-{:02}-{:02}", i % 12 + 1, i % 28 + 1),
            ])
            .args(["--outcome", "no_answer"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    let t = Instant::now();
    ok(record(0).output().unwrap());
    let took = t.elapsed();
    let mut count = rows(&log);
    let steps = 16;
    for i in 1..=steps {
        let after = took.mul_f64(0.05 + 1.1 * i as f64 / steps as f64);
        kill_after(record(i).spawn().unwrap(), after);
        let now = rows(&log);
        assert!(
            now == count || now == count + 1,
            "killed after {after:?}: {count} rows became {now}"
        );
        count = now;
    }
    let left = file_leftovers(&data, "outreach.parquet");
    assert_reported(&left, &ok(record(steps + 1).output().unwrap()));
    assert_eq!(
        file_leftovers(&data, "outreach.parquet"),
        Vec::<String>::new()
    );
    assert_eq!(rows(&log), count + 1);
}
