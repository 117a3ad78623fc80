//! Load benchmark and soak of `caregap serve` on loopback (a documented
//! command, not a test):
//!
//! ```sh
//! cargo run --release --example serve_load -- --run RUN [--users 50] [--seconds 60] [--swap-every 30] [--write-every 5] [--think-ms 0]
//! cargo run --release --example serve_load -- --run RUN --seconds 600 --swap-every 60   # the soak
//! ```
//!
//! Serves RUN in process through a `latest` symlink (in a temporary folder,
//! with its own database), with `--users` simulated schedulers spread over the
//! run's clinics. Each logs in, then loops: a page of its clinic's list as
//! HTML, the same page through the API, one person of it through the API,
//! and every `--write-every`th round records an outcome (`no_answer`). Every
//! `--swap-every` seconds the symlink is switched (rename over it) between
//! RUN and a copy of it made of hard links, so the service loads a whole new
//! run while the load goes on. Prints latency percentiles per request kind,
//! failed requests, outcome writes per second, the outcomes counted in the
//! database afterwards (none may be lost), the swaps seen, and the process's
//! resident memory over time.
//!
//! The simulated schedulers run on a runtime of their own (one thread,
//! `load-client`) beside the service's, and read no more of an answer than
//! they need (the ids of a list page are found in its text, not by parsing
//! the whole JSON); the CPU time of the load generator and of the rest of
//! the process are printed apart, with the machine's load average.

use axum::body::Body;
use caregap::serve::{App, Config, store};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Parser)]
struct Args {
    #[arg(long)]
    run: PathBuf,
    #[arg(long, default_value_t = 50)]
    users: usize,
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    #[arg(long, default_value_t = 30)]
    swap_every: u64,
    #[arg(long, default_value_t = 5)]
    write_every: u64,
    /// Each scheduler pauses this long before every request (0: none, the
    /// saturation test: latency is then the queue of 50 busy clients).
    #[arg(long, default_value_t = 0)]
    think_ms: u64,
}

type Http = Client<HttpConnector, Body>;

struct Stats {
    lat: tokio::sync::Mutex<BTreeMap<&'static str, Vec<f64>>>,
    errors: tokio::sync::Mutex<BTreeMap<String, u64>>,
    writes_ok: AtomicU64,
}

async fn call(
    http: &Http,
    method: &str,
    url: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<String>,
) -> Result<(u16, Vec<u8>, Option<String>), String> {
    let mut b = axum::http::Request::builder().method(method).uri(url);
    if !cookie.is_empty() {
        b = b.header("cookie", cookie);
    }
    if let Some(t) = csrf {
        b = b.header("x-csrf-token", t);
    }
    let req = match body {
        Some(s) => b
            .header("content-type", "application/json")
            .body(Body::from(s)),
        None => b.body(Body::empty()),
    }
    .map_err(|e| e.to_string())?;
    let resp = http.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let set = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_string());
    let bytes = axum::body::to_bytes(Body::new(resp.into_body()), usize::MAX)
        .await
        .map_err(|e| e.to_string())?;
    Ok((status, bytes.to_vec(), set))
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |k| k / 1024.0)
}

/// CPU seconds (user + system) of this process's threads, split into those
/// whose name starts with `prefix` and the rest.
fn cpu_split(prefix: &str) -> (f64, f64) {
    // SAFETY: sysconf reads a constant.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let (mut mine, mut rest) = (0.0, 0.0);
    for t in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ... utime stime: fields 14 and 15; comm may hold spaces.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
        let secs = (ticks(11) + ticks(12)) / tick;
        if comm.starts_with(prefix) {
            mine += secs;
        } else {
            rest += secs;
        }
    }
    (mine, rest)
}

async fn think_for(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The `patient_id`s of a list page's rows, found in the JSON text (the rows
/// come before `closed_since_call`).
fn row_ids(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let rows = text.split("\"closed_since_call\"").next().unwrap_or("");
    rows.split("\"patient_id\":\"")
        .skip(1)
        .filter_map(|s| s.split('"').next().map(str::to_string))
        .collect()
}

fn hardlink_copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            let dest = to.join(e.file_name());
            if std::fs::hard_link(e.path(), &dest).is_err() {
                std::fs::copy(e.path(), &dest).unwrap();
            }
        }
    }
}

fn swap_link(link: &Path, to: &Path) {
    let tmp = link.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(to, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = <Args as clap::Parser>::parse();
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("load-client")
        .enable_all()
        .build()
        .expect("the load generator's runtime");
    let run = std::fs::canonicalize(&args.run).expect("the run folder");
    let tmp = tempfile::tempdir().unwrap();
    // A second run: the same files, hard-linked into another folder. Its
    // run.json is a copy (a new file), so the service sees a new run.
    let run_b = tmp.path().join("run-b");
    hardlink_copy(&run, &run_b);
    let info = std::fs::read_to_string(run.join("run.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&info).unwrap();
    if let Some(d) = v.get("data").and_then(|x| x.as_str())
        && Path::new(d).is_relative()
    {
        v["data"] = serde_json::json!(run.join(d));
    }
    std::fs::remove_file(run_b.join("run.json")).unwrap();
    std::fs::write(run_b.join("run.json"), v.to_string()).unwrap();
    let link = tmp.path().join("latest");
    std::os::unix::fs::symlink(&run, &link).unwrap();
    let db = tmp.path().join("serve.db");

    let t = Instant::now();
    let loaded = caregap::runs::Run::open(&link).expect("the run");
    let clinics: Vec<String> = loaded
        .clinics
        .iter()
        .zip(&loaded.lists)
        .filter(|(_, l)| !l.is_empty())
        .map(|(c, _)| c.clone())
        .collect();
    let people = loaded.people.len();
    drop(loaded);
    println!(
        "run {} read in {:.1} s: {people} people, {} clinics with a list",
        run.display(),
        t.elapsed().as_secs_f64(),
        clinics.len()
    );
    let password = "load test password";
    {
        let mut c = store::open(&db).unwrap();
        let hash = store::hash_password(password).unwrap();
        let actor = store::AuditEntry {
            user: "load".into(),
            ..Default::default()
        };
        for u in 0..args.users {
            let cl = vec![clinics[u % clinics.len()].clone()];
            store::add_user(
                &mut c,
                &store::NewUser {
                    name: &format!("s{u}"),
                    role: store::Role::Scheduler,
                    clinics: &cl,
                    language: "fi",
                    password_hash: &hash,
                },
                &actor,
            )
            .unwrap();
        }
    }
    let cfg = Config {
        run: link.clone(),
        db: db.clone(),
        bind: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        allow_http: false,
        cooldowns: Default::default(),
        capacities: Default::default(),
        min_cell: 5,
        watch: Duration::from_millis(500),
        session: Duration::from_secs(24 * 3600),
        reidentification: None,
    };
    let app = App::new(cfg).expect("the service");
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        caregap::serve::serve(app, move |url| {
            let _ = tx.send(url);
        })
        .await
        .unwrap();
    });
    let base = rx.await.unwrap();
    println!(
        "serving on {base}; {} schedulers for {} s, a run swap every {} s, {} ms pause before each request",
        args.users, args.seconds, args.swap_every, args.think_ms
    );
    let rss_start = rss_mib();
    let load_start = load_average();
    let cpu_start = cpu_split("load-client");

    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.users)
        .build_http();
    let stats = Arc::new(Stats {
        lat: Default::default(),
        errors: Default::default(),
        writes_ok: AtomicU64::new(0),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for u in 0..args.users {
        let (http, stats, stop, base) = (http.clone(), stats.clone(), stop.clone(), base.clone());
        let clinic = clinics[u % clinics.len()].clone();
        let write_every = args.write_every.max(1);
        let think = Duration::from_millis(args.think_ms);
        tasks.push(clients.spawn(async move {
            let body = serde_json::json!({"user": format!("s{u}"), "password": password}).to_string();
            let (status, bytes, set) = call(&http, "POST", &format!("{base}/api/login"), "", None, Some(body)).await.unwrap();
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
            let cookie = set.unwrap();
            let csrf = serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["csrf"].as_str().unwrap().to_string();
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let page = 1 + (round % 5);
                let record = |name: &'static str, t: Instant| {
                    let stats = stats.clone();
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    async move { stats.lat.lock().await.entry(name).or_default().push(ms) }
                };
                let fail = |name: &str, what: String| {
                    let stats = stats.clone();
                    let key = format!("{name}: {}", what.chars().take(80).collect::<String>());
                    async move { *stats.errors.lock().await.entry(key).or_default() += 1 }
                };
                think_for(think).await;
                let t = Instant::now();
                match call(&http, "GET", &format!("{base}/clinics/{clinic}/list?page={page}"), &cookie, None, None).await {
                    Ok((200, _, _)) => record("list page (HTML)", t).await,
                    Ok((s, b, _)) => fail("list page", format!("{s} {}", String::from_utf8_lossy(&b))).await,
                    Err(e) => fail("list page", e).await,
                }
                think_for(think).await;
                let t = Instant::now();
                let ids: Vec<String> = match call(&http, "GET", &format!("{base}/api/clinics/{clinic}/list?page={page}"), &cookie, None, None).await {
                    Ok((200, b, _)) => {
                        record("list (API)", t).await;
                        row_ids(&b)
                    }
                    Ok((s, b, _)) => {
                        fail("list api", format!("{s} {}", String::from_utf8_lossy(&b))).await;
                        Vec::new()
                    }
                    Err(e) => {
                        fail("list api", e).await;
                        Vec::new()
                    }
                };
                let Some(id) = ids.get((round as usize * 7 + u) % ids.len().max(1)).cloned() else { continue };
                think_for(think).await;
                let t = Instant::now();
                match call(&http, "GET", &format!("{base}/api/people/{id}"), &cookie, None, None).await {
                    Ok((200, _, _)) => record("person (API)", t).await,
                    Ok((s, b, _)) => fail("person", format!("{s} {}", String::from_utf8_lossy(&b))).await,
                    Err(e) => fail("person", e).await,
                }
                if round.is_multiple_of(write_every) {
                    think_for(think).await;
                let t = Instant::now();
                    let body = serde_json::json!({"outcome": "no_answer", "note": format!("load {u}/{round}")}).to_string();
                    match call(&http, "POST", &format!("{base}/api/people/{id}/outcomes"), &cookie, Some(&csrf), Some(body)).await {
                        Ok((201, _, _)) => {
                            record("outcome write (API)", t).await;
                            stats.writes_ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok((s, b, _)) => fail("outcome", format!("{s} {}", String::from_utf8_lossy(&b))).await,
                        Err(e) => fail("outcome", e).await,
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    let mut swaps = 0;
    let mut on_b = false;
    let mut rss = vec![(0u64, rss_start)];
    let mut next_swap = args.swap_every;
    let mut last_rss = 0;
    while started.elapsed().as_secs() < args.seconds {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let s = started.elapsed().as_secs();
        if args.swap_every > 0 && s >= next_swap && s < args.seconds {
            on_b = !on_b;
            swap_link(&link, if on_b { &run_b } else { &run });
            swaps += 1;
            next_swap += args.swap_every;
        }
        if s >= last_rss + 10 {
            last_rss = s;
            rss.push((s, rss_mib()));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    clients.shutdown_background();
    let secs = started.elapsed().as_secs_f64();
    rss.push((secs as u64, rss_mib()));
    let cpu_end = cpu_split("load-client");
    let load_end = load_average();

    println!(
        "\n{:<22} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "request", "count", "p50 ms", "p90 ms", "p99 ms", "max ms", "per s"
    );
    let lat = stats.lat.lock().await;
    for (name, v) in lat.iter() {
        let mut v = v.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
        println!(
            "{name:<22} {:>9} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9.0}",
            v.len(),
            q(0.5),
            q(0.9),
            q(0.99),
            v[v.len() - 1],
            v.len() as f64 / secs
        );
    }
    let errors = stats.errors.lock().await;
    let failed: u64 = errors.values().sum();
    println!("\nfailed requests: {failed}");
    for (k, n) in errors.iter() {
        println!("  {n} × {k}");
    }
    let ok = stats.writes_ok.load(Ordering::Relaxed);
    let c = store::open(&db).unwrap();
    let stored = store::count(&c, "outcomes").unwrap();
    println!(
        "outcome writes: {ok} answered 201 ({:.0}/s); {stored} in the database afterwards: {}",
        ok as f64 / secs,
        if stored as u64 == ok {
            "none lost"
        } else {
            "MISMATCH"
        }
    );
    let v = store::verify_audit(&c).unwrap();
    println!(
        "audit trail: {} rows, {}",
        v.rows,
        if v.broken.is_none() {
            "intact"
        } else {
            "BROKEN"
        }
    );
    println!("run swaps: {swaps} (the service reloads within 0.5 s of each)");
    println!(
        "CPU seconds over the {secs:.0} s: load generator {:.1}, service (and the rest of the process) {:.1}",
        cpu_end.0 - cpu_start.0,
        cpu_end.1 - cpu_start.1
    );
    println!("load average (1, 5, 15 min): at the start {load_start}, at the end {load_end}");
    println!(
        "resident memory (MiB) by second: {}",
        rss.iter()
            .map(|(s, m)| format!("{s}s {m:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
