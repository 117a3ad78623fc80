//! `caregap serve --run RUNS/latest` over the nightly's history (issue 20):
//! the analyst's overview shows what changed since the previous night and the
//! outreach effect, and a new night is picked up by the running service.

mod serve_util;

use serve_util::{Client, Server};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(c: &mut Command) {
    let out = c.stdout(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn night(cfg: &Path) {
    std::thread::sleep(Duration::from_millis(1010)); // distinct night names
    run(Command::new(serve_util::bin())
        .arg("nightly")
        .arg("--config")
        .arg(cfg));
}

#[test]
fn the_service_serves_latest_with_the_diff_and_the_effect_and_follows_new_nights() {
    let tmp = tempfile::tempdir().unwrap();
    run(Command::new(serve_util::bin())
        .args(["synth", "--patients", "300", "--seed", "3", "--years", "3"])
        .args(["--as-of", "2026-01-01", "--outreach-contacts", "2", "--out"])
        .arg(tmp.path().join("pop")));
    let criteria = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("criteria");
    let cfg = tmp.path().join("nightly.toml");
    std::fs::write(
        &cfg,
        format!(
            "runs = \"runs\"\ndata = \"pop\"\nlibrary = {:?}\nas_of = \"2026-01-01\"\n\
             [effect]\ngrid_days = 30\nlookback_days = 180\n",
            criteria.display().to_string()
        ),
    )
    .unwrap();
    night(&cfg);
    night(&cfg);
    let runs = tmp.path().join("runs");
    let names = caregap::runs::nightly::good_runs(&runs);
    assert_eq!(names.len(), 2);

    let s = Server::start(&runs.join("latest"), &[]);
    let mut c = Client::new(&s.url);
    c.login("analyst");
    let r = c.get("/api/overview");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["changes"]["run_a"], names[0].as_str(), "{v:#}");
    assert!(
        !v["effect"].as_array().unwrap().is_empty(),
        "no effect rows"
    );
    let page = c.get("/overview").body;
    assert!(
        page.contains("id=\"since\"") && page.contains(&names[0]),
        "{page}"
    );
    assert!(page.contains("Does outreach close care gaps?"), "{page}");

    // A third night: the service swaps to it.
    night(&cfg);
    let names = caregap::runs::nightly::good_runs(&runs);
    let start = Instant::now();
    loop {
        let v = c.get("/api/overview").json();
        if v["changes"]["run_a"] == names[1].as_str() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no swap: {v:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
