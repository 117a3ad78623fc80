//! Shared by the service's tests: a demo run made once per test binary, and a
//! real `caregap serve` process per test on a random loopback port with its
//! own database file.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_caregap")
}

/// A demo run (1,500 people), made once.
pub struct Demo {
    _dir: tempfile::TempDir,
    pub run: PathBuf,
    pub out: PathBuf,
}

pub fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(bin())
            .args(["demo", "--patients", "1500", "--out", "d"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Demo {
            run: dir.path().join("d/run"),
            out: dir.path().join("d"),
            _dir: dir,
        }
    })
}

/// Runs `caregap` with `args`, the password on stdin; panics on failure.
pub fn caregap(args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "caregap {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test users' password.
pub const PASSWORD: &str = "correct horse battery";

/// A running service.
pub struct Server {
    child: Child,
    pub url: String,
    pub db: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Serves `run` with users `s1` (scheduler of HC01), `s2` (scheduler of
    /// HC02), `both` (HC01 and HC02), `analyst` and `admin`.
    pub fn start(run: &Path, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("serve.db");
        let d = db.to_str().unwrap();
        for (name, role, clinics) in [
            ("s1", "scheduler", vec!["HC01"]),
            ("s2", "scheduler", vec!["HC02"]),
            ("both", "scheduler", vec!["HC01", "HC02"]),
            ("analyst", "analyst", vec![]),
            ("admin", "admin", vec![]),
        ] {
            let mut args = vec![
                "users",
                "add",
                name,
                "--role",
                role,
                "--db",
                d,
                "--password-stdin",
                "--language",
                "en",
            ];
            for c in &clinics {
                args.push("--clinic");
                args.push(c);
            }
            caregap(&args, &format!("{PASSWORD}\n"));
        }
        let mut child = Command::new(bin())
            .args([
                "serve",
                "--run",
                run.to_str().unwrap(),
                "--db",
                d,
                "--bind",
                "127.0.0.1:0",
                "--watch-ms",
                "100",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server {
            child,
            url,
            db,
            dir,
        }
    }
}

/// A small HTTP client that keeps cookies (ureq without redirects).
pub struct Client {
    agent: ureq::Agent,
    pub base: String,
    pub cookies: Vec<(String, String)>,
    /// The session's CSRF token after [`Client::login`].
    pub csrf: String,
}

/// A response: status, headers, body.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Client {
    pub fn new(base: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Client {
            agent,
            base: base.to_string(),
            cookies: Vec::new(),
            csrf: String::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take(&mut self, r: ureq::http::Response<ureq::Body>) -> Resp {
        let status = r.status().as_u16();
        let headers: Vec<(String, String)> = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        for (k, v) in &headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                let kv = v.split(';').next().unwrap();
                let (name, value) = kv.split_once('=').unwrap();
                self.cookies.retain(|(n, _)| n != name);
                if !value.is_empty() {
                    self.cookies.push((name.to_string(), value.to_string()));
                }
            }
        }
        let mut r = r;
        let body = r.body_mut().read_to_string().unwrap_or_default();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn get(&mut self, path: &str) -> Resp {
        let r = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .call()
            .unwrap();
        self.take(r)
    }

    /// POST with a content type and optional CSRF header.
    pub fn post(&mut self, path: &str, content_type: &str, body: &str, csrf: Option<&str>) -> Resp {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header("Content-Type", content_type);
        if let Some(t) = csrf {
            req = req.header("X-CSRF-Token", t);
        }
        let r = req.send(body.as_bytes()).unwrap();
        self.take(r)
    }

    /// POST JSON to the API with the session's CSRF token.
    pub fn api_post(&mut self, path: &str, body: serde_json::Value) -> Resp {
        let csrf = self.csrf.clone();
        self.post(path, "application/json", &body.to_string(), Some(&csrf))
    }

    /// POST a form (fields URL-encoded).
    pub fn form(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.post(path, "application/x-www-form-urlencoded", &body, None)
    }

    /// Logs in through the API; panics unless it works.
    pub fn login(&mut self, user: &str) -> serde_json::Value {
        let r = self.post(
            "/api/login",
            "application/json",
            &serde_json::json!({"user": user, "password": PASSWORD}).to_string(),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        self.csrf = v["csrf"].as_str().unwrap().to_string();
        v
    }
}
