//! The scheduler service through its JSON API and forms, as a client sees
//! it: a real `caregap serve` on a random loopback port with its own
//! database per test. Every access rule, CSRF, the cool-downs and consent
//! taking effect at once, the audit chain and the run swap.

mod serve_util;

use serde_json::json;
use serve_util::{Client, PASSWORD, Server, caregap, demo};

/// The first `n` people of a clinic's list (as a scheduler of both clinics sees it).
fn listed(s: &Server, clinic: &str, n: usize) -> Vec<String> {
    let mut c = Client::new(&s.url);
    c.login("both");
    let r = c.get(&format!("/api/clinics/{clinic}/list?per_page={n}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["patient_id"].as_str().unwrap().to_string())
        .collect()
}

fn total(c: &mut Client, clinic: &str) -> u64 {
    let r = c.get(&format!("/api/clinics/{clinic}/list?per_page=500"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["total"].as_u64().unwrap()
}

fn all_ids(c: &mut Client, clinic: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut page = 1;
    loop {
        let v = c
            .get(&format!(
                "/api/clinics/{clinic}/list?per_page=500&page={page}"
            ))
            .json();
        ids.extend(
            v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["patient_id"].as_str().unwrap().to_string()),
        );
        if page >= v["pages"].as_u64().unwrap() as usize {
            return ids;
        }
        page += 1;
    }
}

#[test]
fn login_sets_a_strict_http_only_cookie_and_logout_ends_the_session() {
    let s = Server::start(&demo().run, &[]);
    let mut c = Client::new(&s.url);
    assert_eq!(c.get("/api/me").status, 401);
    let r = c.post(
        "/api/login",
        "application/json",
        &json!({"user": "s1", "password": "wrong password"}).to_string(),
        None,
    );
    assert_eq!(r.status, 401);
    let r = c.post(
        "/api/login",
        "application/json",
        &json!({"user": "s1", "password": PASSWORD}).to_string(),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r.header("set-cookie").unwrap().to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Max-Age=", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "no Secure flag over plain HTTP: {cookie}"
    );
    c.csrf = r.json()["csrf"].as_str().unwrap().to_string();
    let me = c.get("/api/me").json();
    assert_eq!(me["role"], "scheduler");
    assert_eq!(me["clinics"], json!(["HC01"]));
    // Logout needs the CSRF token too.
    assert_eq!(
        c.post("/api/logout", "application/json", "{}", None).status,
        403
    );
    assert_eq!(c.api_post("/api/logout", json!({})).status, 200);
    assert_eq!(c.get("/api/me").status, 401);
    // A page without a session goes to the login page.
    let r = c.get("/clinics/HC01/list");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login"));
    // JSON login must be JSON (no cross-site form can send that).
    let r = c.post(
        "/api/login",
        "application/x-www-form-urlencoded",
        "user=s1&password=x",
        None,
    );
    assert_eq!(r.status, 415);
}

#[test]
fn sessions_expire() {
    let s = Server::start(&demo().run, &["--session-hours", "0.0003"]); // ~1 s
    let mut c = Client::new(&s.url);
    c.login("s1");
    assert_eq!(c.get("/api/me").status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1600));
    assert_eq!(c.get("/api/me").status, 401);
}

#[test]
fn failed_logins_are_rate_limited() {
    let s = Server::start(&demo().run, &[]);
    let mut c = Client::new(&s.url);
    for _ in 0..5 {
        let r = c.post(
            "/api/login",
            "application/json",
            &json!({"user": "s2", "password": "not it at all"}).to_string(),
            None,
        );
        assert_eq!(r.status, 401);
    }
    // Even the right password is refused now.
    let r = c.post(
        "/api/login",
        "application/json",
        &json!({"user": "s2", "password": PASSWORD}).to_string(),
        None,
    );
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("900"));
    // Another user is not locked out.
    c.login("s1");
    let audit = caregap(
        &[
            "audit",
            "show",
            "--db",
            s.db.to_str().unwrap(),
            "--user",
            "s2",
        ],
        "",
    );
    assert_eq!(audit.matches("login_failed").count(), 5, "{audit}");
    assert!(audit.contains("login_limited"), "{audit}");
}

#[test]
fn a_scheduler_gets_403_for_anything_of_another_clinic_however_it_is_written() {
    let s = Server::start(&demo().run, &[]);
    let theirs = listed(&s, "HC02", 3);
    let mine = listed(&s, "HC01", 1);
    let mut c = Client::new(&s.url);
    c.login("s1");
    assert_eq!(c.get("/api/clinics/HC01/list").status, 200);
    assert_eq!(c.get("/clinics/HC01/list").status, 200);
    for clinic in [
        "HC02",
        "hc01",
        "HC01%20",
        "%20HC01",
        "HC1",
        "HC001",
        "..%2FHC02",
        "HC02%00",
        "ALL",
        "*",
    ] {
        for path in [
            format!("/api/clinics/{clinic}/list"),
            format!("/clinics/{clinic}/list"),
            format!("/api/clinics/{clinic}/export.csv"),
            format!("/clinics/{clinic}/export.csv"),
        ] {
            let r = c.get(&path);
            assert_eq!(r.status, 403, "{path}: {}", r.body);
            assert!(!r.body.contains(&theirs[0]), "{path} leaked a person");
        }
    }
    let id = &theirs[0];
    let n: i64 = id.parse().unwrap();
    for written in [
        id.clone(),
        format!("0{id}"),
        format!("00{id}"),
        format!("%2B{id}"),
        format!("%20{id}"),
        format!("{id}%20"),
    ] {
        for path in [
            format!("/api/people/{written}"),
            format!("/people/{written}"),
        ] {
            let r = c.get(&path);
            assert_eq!(r.status, 403, "{path}: {}", r.body);
        }
        let r = c.api_post(
            &format!("/api/people/{written}/outcomes"),
            json!({"outcome": "booked"}),
        );
        assert_eq!(r.status, 403, "{written}");
        let r = c.api_post(
            &format!("/api/people/{written}/consents"),
            json!({"scope": "outreach", "granted": false}),
        );
        assert_eq!(r.status, 403, "{written}");
    }
    // Guessed ids: neighbours, far away, not a number. Unknown is 403 too (no oracle).
    for guess in [n + 1, n - 1, 999_999_999, -1, 0] {
        let r = c.get(&format!("/api/people/{guess}"));
        assert!(r.status == 403 || r.status == 200, "{guess}: {}", r.status);
        if r.status == 200 {
            assert_eq!(
                r.json()["clinic"],
                "HC01",
                "{guess} answered for another clinic"
            );
        }
    }
    assert_eq!(c.get("/api/people/not-a-number").status, 403);
    assert_eq!(c.get("/api/people/999999999").status, 403);
    // Own people, however written.
    let r = c.get(&format!("/api/people/0{}", mine[0]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["patient_id"], mine[0].as_str());
    // No aggregate view for schedulers.
    assert_eq!(c.get("/api/overview").status, 403);
    assert_eq!(c.get("/overview").status, 403);
    // Every refusal is in the audit trail.
    let audit = caregap(
        &[
            "audit",
            "show",
            "--db",
            s.db.to_str().unwrap(),
            "--user",
            "s1",
        ],
        "",
    );
    assert!(audit.matches("denied").count() >= 40, "{audit}");
}

#[test]
fn analysts_and_admins_get_aggregates_and_never_person_level_data() {
    let s = Server::start(&demo().run, &[]);
    let people = listed(&s, "HC01", 500);
    for user in ["analyst", "admin"] {
        let mut c = Client::new(&s.url);
        c.login(user);
        for path in [
            "/api/clinics/HC01/list",
            "/clinics/HC01/list",
            "/api/clinics/HC01/export.csv",
            "/clinics/HC01/export.csv",
        ] {
            assert_eq!(c.get(path).status, 403, "{user} {path}");
        }
        for p in &people[..3] {
            assert_eq!(c.get(&format!("/api/people/{p}")).status, 403);
            assert_eq!(c.get(&format!("/people/{p}")).status, 403);
            assert_eq!(
                c.api_post(
                    &format!("/api/people/{p}/outcomes"),
                    json!({"outcome": "booked"})
                )
                .status,
                403
            );
        }
        let r = c.get("/api/overview");
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert!(
            !r.body.contains("patient_id"),
            "person-level field in the overview"
        );
        assert!(v["rows"].as_array().unwrap().len() > 50);
        // Small cells are suppressed: no shown count under the threshold.
        let mut shown = 0;
        for row in v["rows"].as_array().unwrap() {
            for x in row["open"]
                .as_array()
                .unwrap()
                .iter()
                .chain(row["eligible"].as_array().unwrap())
            {
                if let Some(n) = x.as_u64() {
                    assert!(n >= 5, "a count under 5 is shown: {row}");
                    shown += 1;
                }
            }
        }
        assert!(shown > 0);
        let page = c.get("/overview");
        assert_eq!(page.status, 200);
        assert!(page.body.contains("&lt;5"), "suppressed cells shown as <5");
        for p in &people {
            assert!(
                !page.body.contains(&format!("/people/{p}\"")),
                "link to a person in the overview"
            );
        }
    }
}

/// A refused POST (wrong CSRF token, another clinic's person) must leave a
/// kept-alive connection usable: the body that arrives after the headers is
/// read, not left for the server to close the connection over. The body is
/// sent late on purpose; answered before it arrives, the connection drops.
#[test]
fn a_refused_post_keeps_the_connection_alive() {
    use std::io::{BufRead, BufReader, Read, Write};
    let s = Server::start(&demo().run, &[]);
    let mut c = Client::new(&s.url);
    c.login("s1");
    let p = listed(&s, "HC01", 1).remove(0);
    let other_clinic = listed(&s, "HC02", 1).remove(0);
    let addr = s.url.trim_start_matches("http://").trim_end_matches('/');
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let body = "outcome=no_answer";
    let cases = [
        (format!("/people/{p}/outcome"), "csrf-missing", 403),
        (
            format!("/people/{other_clinic}/outcome"),
            c.csrf.as_str(),
            403,
        ),
    ];
    for (path, token, status) in &cases {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {}\r\n\
             X-CSRF-Token: {token}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n",
            c.cookie_header(),
            body.len()
        );
        writer.write_all(head.as_bytes()).unwrap();
        writer.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        writer.write_all(body.as_bytes()).unwrap();
        writer.flush().unwrap();
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        assert!(
            status_line.starts_with(&format!("HTTP/1.1 {status} ")),
            "{path}: {status_line:?}"
        );
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            assert!(
                !line.to_ascii_lowercase().starts_with("connection: close"),
                "{path}: the server closes the connection"
            );
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut rest = vec![0; length];
        reader.read_exact(&mut rest).unwrap();
    }
    // The same connection still answers.
    let head = format!(
        "GET /api/me HTTP/1.1\r\nHost: {addr}\r\nCookie: {}\r\n\r\n",
        c.cookie_header()
    );
    writer.write_all(head.as_bytes()).unwrap();
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    assert!(status_line.starts_with("HTTP/1.1 200 "), "{status_line:?}");
}

#[test]
fn every_state_changing_request_needs_the_csrf_token() {
    let s = Server::start(&demo().run, &[]);
    let p = listed(&s, "HC01", 1).remove(0);
    let mut c = Client::new(&s.url);
    c.login("s1");
    let body = json!({"outcome": "no_answer"}).to_string();
    let path = format!("/api/people/{p}/outcomes");
    assert_eq!(c.post(&path, "application/json", &body, None).status, 403);
    assert_eq!(
        c.post(&path, "application/json", &body, Some("0123"))
            .status,
        403
    );
    let other = "a".repeat(64);
    assert_eq!(
        c.post(&path, "application/json", &body, Some(&other))
            .status,
        403
    );
    // Forms: without the field, with a wrong one, then right.
    let form = format!("/people/{p}/outcome");
    assert_eq!(c.form(&form, &[("outcome", "no_answer")]).status, 403);
    assert_eq!(
        c.form(&form, &[("outcome", "no_answer"), ("csrf", &other)])
            .status,
        403
    );
    assert_eq!(
        c.form("/settings/language", &[("lang", "sv"), ("back", "/")])
            .status,
        403
    );
    assert_eq!(c.form("/logout", &[]).status, 403);
    // Another user's token does not work either.
    let mut d = Client::new(&s.url);
    d.login("both");
    assert_eq!(
        c.post(&path, "application/json", &body, Some(&d.csrf.clone()))
            .status,
        403
    );
    let csrf = c.csrf.clone();
    let r = c.form(&form, &[("outcome", "no_answer"), ("csrf", &csrf)]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        c.api_post(&path, json!({"outcome": "no_answer"})).status,
        201
    );
    // Nothing was recorded by the refused requests.
    let (o, _) = count_records(&s);
    assert_eq!(o, 2);
    // The login form needs its double-submit token.
    let mut e = Client::new(&s.url);
    let r = e.form("/login", &[("user", "s1"), ("password", PASSWORD)]);
    assert!(
        !r.header("set-cookie")
            .unwrap_or("")
            .contains("caregap_session="),
        "a session without the login token"
    );
    assert_eq!(e.get("/api/me").status, 401);
    e.get("/login"); // the login cookie, but a form without its token
    let r = e.form("/login", &[("user", "s1"), ("password", PASSWORD)]);
    assert_eq!(r.status, 403);
    assert_eq!(e.get("/api/me").status, 401);
    let page = e.get("/login");
    let token = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = e.form(
        "/login",
        &[("user", "s1"), ("password", PASSWORD), ("csrf", &token)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(e.get("/api/me").status, 200);
}

fn count_records(s: &Server) -> (i64, i64) {
    let c = rusqlite::Connection::open(&s.db).unwrap();
    let n = |t: &str| {
        c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    };
    (n("outcomes"), n("consents"))
}

#[test]
fn booked_and_declined_leave_the_list_at_once_and_no_answer_rests() {
    let s = Server::start(&demo().run, &[]);
    let ids = listed(&s, "HC01", 6);
    let mut c = Client::new(&s.url);
    c.login("s1");
    let before = total(&mut c, "HC01");
    let r = c.api_post(
        &format!("/api/people/{}/outcomes", ids[0]),
        json!({"outcome": "booked", "note": "Tue 10:00"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(total(&mut c, "HC01"), before - 1);
    assert!(!all_ids(&mut c, "HC01").contains(&ids[0]));
    let r = c.api_post(
        &format!("/api/people/{}/outcomes", ids[1]),
        json!({"outcome": "declined"}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(total(&mut c, "HC01"), before - 2);
    // Reached rests nothing; a declined single gap keeps the others listed.
    let r = c.api_post(
        &format!("/api/people/{}/outcomes", ids[2]),
        json!({"outcome": "reached"}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(total(&mut c, "HC01"), before - 2);
    let p3 = c.get(&format!("/api/people/{}", ids[3])).json();
    let crits: Vec<String> = p3["listed"]["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    let r = c.api_post(
        &format!("/api/people/{}/outcomes", ids[3]),
        json!({"outcome": "declined", "criterion": crits[0]}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(all_ids(&mut c, "HC01").contains(&ids[3]), crits.len() > 1);
    // Wrong input is refused and nothing is recorded.
    assert_eq!(
        c.api_post(
            &format!("/api/people/{}/outcomes", ids[4]),
            json!({"outcome": "maybe"})
        )
        .status,
        422
    );
    assert_eq!(
        c.api_post(
            &format!("/api/people/{}/outcomes", ids[4]),
            json!({"outcome": "booked", "criterion": "NO.SUCH"})
        )
        .status,
        422
    );
    assert_eq!(
        c.api_post(
            &format!("/api/people/{}/outcomes", ids[4]),
            json!({"outcome": "booked", "note": "x".repeat(2001)})
        )
        .status,
        422
    );
    assert_eq!(
        c.api_post(
            &format!("/api/people/{}/outcomes", ids[4]),
            json!({"nothing": 1})
        )
        .status,
        400
    );
    assert_eq!(count_records(&s).0, 4);
    // The person page says why they left; the CSV export agrees with the list.
    let p0 = c.get(&format!("/api/people/{}", ids[0])).json();
    assert_eq!(p0["off_list"], "booked");
    assert_eq!(p0["service_outcomes"][0]["note"], "Tue 10:00");
    let csv = c.get("/api/clinics/HC01/export.csv");
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let rows: Vec<&str> = csv.body.lines().skip(1).collect();
    assert_eq!(rows.len() as u64, before - 2);
    assert!(
        !csv.body.contains(&format!("\n1,{},", ids[0]))
            && !rows
                .iter()
                .any(|r| r.split(',').nth(2) == Some(ids[0].as_str()))
    );
}

#[test]
fn a_consent_withdrawal_takes_effect_in_every_list_and_export_at_once() {
    let s = Server::start(&demo().run, &[]);
    let ids = listed(&s, "HC02", 2);
    let mut a = Client::new(&s.url);
    a.login("s2");
    let mut b = Client::new(&s.url);
    b.login("both");
    let before = total(&mut b, "HC02");
    let r = a.api_post(
        &format!("/api/people/{}/consents", ids[0]),
        json!({"scope": "outreach", "granted": false, "note": "by phone"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // Another user's next request sees it.
    assert_eq!(total(&mut b, "HC02"), before - 1);
    assert!(!all_ids(&mut b, "HC02").contains(&ids[0]));
    assert!(
        !b.get("/api/clinics/HC02/export.csv")
            .body
            .lines()
            .any(|l| l.split(',').nth(2) == Some(ids[0].as_str()))
    );
    let p = a.get(&format!("/api/people/{}", ids[0])).json();
    assert_eq!(p["off_list"], "consent_withdrawn");
    assert_eq!(p["consents"][0]["allowed"], false);
    let page = a.get(&format!("/people/{}", ids[0]));
    assert!(
        page.body.contains("id=\"consent-withdrawn\""),
        "the person page warns"
    );
    // Research scope does not touch the lists; granting again restores.
    assert_eq!(
        a.api_post(
            &format!("/api/people/{}/consents", ids[1]),
            json!({"scope": "research", "granted": false})
        )
        .status,
        201
    );
    assert_eq!(total(&mut b, "HC02"), before - 1);
    assert_eq!(
        a.api_post(
            &format!("/api/people/{}/consents", ids[0]),
            json!({"scope": "outreach", "granted": true})
        )
        .status,
        201
    );
    assert_eq!(total(&mut b, "HC02"), before);
    assert_eq!(
        a.api_post(
            &format!("/api/people/{}/consents", ids[0]),
            json!({"scope": "marketing", "granted": true})
        )
        .status,
        422
    );
    // Through the page's form as well.
    let csrf = a.csrf.clone();
    let r = a.form(
        &format!("/people/{}/consent", ids[0]),
        &[
            ("csrf", &csrf),
            ("scope", "outreach"),
            ("decision", "withdraw"),
        ],
    );
    assert_eq!(r.status, 303);
    assert_eq!(total(&mut b, "HC02"), before - 1);
}

#[test]
fn the_audit_trail_records_who_saw_whom_and_detects_tampering() {
    let s = Server::start(&demo().run, &[]);
    let ids = listed(&s, "HC01", 3);
    let mut c = Client::new(&s.url);
    c.login("s1");
    c.get(&format!("/api/people/{}", ids[1]));
    c.get(&format!("/people/{}", ids[1]));
    c.get("/api/clinics/HC01/export.csv");
    c.api_post(
        &format!("/api/people/{}/outcomes", ids[1]),
        json!({"outcome": "no_answer"}),
    );
    let db_path = s.db.clone();
    let db = db_path.to_str().unwrap();
    let who = caregap(
        &["audit", "show", "--db", db, "--patient", &ids[1], "--json"],
        "",
    );
    let rows: Vec<serde_json::Value> = who
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["user"].as_str().unwrap(), r["action"].as_str().unwrap()))
        .collect();
    for want in [
        ("s1", "person_view"),
        ("s1", "outcome"),
        ("s1", "export"),
        ("both", "list_view"),
    ] {
        assert!(actions.contains(&want), "{want:?} not in {actions:?}");
    }
    assert!(
        rows.iter()
            .all(|r| r["address"] == "127.0.0.1" || r["user"] == "both")
    );
    let since = caregap(&["audit", "show", "--db", db, "--since", "2999-01-01"], "");
    assert!(since.trim().is_empty());
    assert!(caregap(&["audit", "verify", "--db", db], "").contains("audit trail intact"));
    s_stop(s, db);
}

/// Stops the server, tampers with the trail three ways and checks each is found.
fn s_stop(s: Server, db: &str) {
    let db = db.to_string();
    let keep = tempfile::tempdir().unwrap();
    let dir = keep.path().to_path_buf();
    let copy = |name: &str| {
        let p = dir.join(name);
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute("VACUUM INTO ?1", [p.to_str().unwrap()]).unwrap();
        p
    };
    let changed = copy("changed.db");
    let removed = copy("removed.db");
    let inserted = copy("inserted.db");
    drop(s);
    let tamper = |p: &std::path::Path, sql: &str| {
        let c = rusqlite::Connection::open(p).unwrap();
        // Triggers refuse it first.
        assert!(c.execute_batch(sql).is_err());
        c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
            .unwrap();
        c.execute_batch(sql).unwrap();
    };
    tamper(&changed, "UPDATE audit SET user = 'someone' WHERE seq = 3");
    tamper(&removed, "DELETE FROM audit WHERE seq = 4");
    // An inserted row whose own hash is right (the forger knows the scheme):
    // the next row's `prev` gives it away.
    {
        let c = rusqlite::Connection::open(&inserted).unwrap();
        c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
            .unwrap();
        c.execute_batch("UPDATE audit SET seq = seq + 1000000 WHERE seq >= 5; UPDATE audit SET seq = seq - 999999 WHERE seq >= 1000000;").unwrap();
        let rows = caregap::serve::store::audit_rows(&c, &Default::default()).unwrap();
        let r4 = &rows[3];
        let canonical = caregap::serve::store::canonical(5, &r4.time, &r4.entry);
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(r4.hash.as_bytes());
        h.update(canonical.as_bytes());
        let hash = hex::encode(h.finalize());
        let e = &r4.entry;
        c.execute(
            "INSERT INTO audit(seq,time,user,role,clinic,action,patients,count,address,detail,prev,hash) VALUES (5,?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
            rusqlite::params![r4.time, e.user, e.role, e.clinic, e.action, if e.patients.is_empty() { String::new() } else { format!(",{},", e.patients.join(",")) }, e.count as i64, e.address, e.detail, r4.hash, hash],
        )
        .unwrap();
    }
    for (p, row) in [(&changed, 3), (&removed, 5), (&inserted, 6)] {
        let out = std::process::Command::new(serve_util::bin())
            .args(["audit", "verify", "--db", p.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("broken at row {row}")),
            "{}: {err}",
            p.display()
        );
    }
}

#[test]
fn users_are_managed_on_the_command_line_and_disabling_ends_sessions() {
    let s = Server::start(&demo().run, &[]);
    let db = s.db.to_str().unwrap();
    let list = caregap(&["users", "list", "--db", db], "");
    assert!(list.contains("s1") && list.contains("scheduler") && list.contains("HC01"));
    assert!(!list.contains("argon2"), "no hash printed");
    // No short passwords; no scheduler without a clinic; no duplicate.
    for (args, stdin) in [
        (
            vec![
                "users",
                "add",
                "x",
                "--role",
                "analyst",
                "--db",
                db,
                "--password-stdin",
            ],
            "short\n",
        ),
        (
            vec![
                "users",
                "add",
                "y",
                "--role",
                "scheduler",
                "--db",
                db,
                "--password-stdin",
            ],
            "long enough password\n",
        ),
        (
            vec![
                "users",
                "add",
                "s1",
                "--role",
                "analyst",
                "--db",
                db,
                "--password-stdin",
            ],
            "long enough password\n",
        ),
        (
            vec![
                "users",
                "add",
                "z",
                "--role",
                "boss",
                "--db",
                db,
                "--password-stdin",
            ],
            "long enough password\n",
        ),
    ] {
        let mut child = std::process::Command::new(serve_util::bin())
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        assert!(!child.wait().unwrap().success(), "{args:?} should fail");
    }
    let stored: String = rusqlite::Connection::open(&s.db)
        .unwrap()
        .query_row("SELECT password FROM users WHERE name = 's1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    let mut c = Client::new(&s.url);
    c.login("s1");
    caregap(&["users", "disable", "s1", "--db", db], "");
    assert_eq!(c.get("/api/me").status, 401);
    let r = c.post(
        "/api/login",
        "application/json",
        &json!({"user": "s1", "password": PASSWORD}).to_string(),
        None,
    );
    assert_eq!(r.status, 401);
    caregap(
        &["users", "passwd", "s1", "--db", db, "--password-stdin"],
        "a brand new password\n",
    );
    let r = c.post(
        "/api/login",
        "application/json",
        &json!({"user": "s1", "password": "a brand new password"}).to_string(),
        None,
    );
    assert_eq!(r.status, 200);
    let audit = caregap(&["audit", "show", "--db", db, "--json"], "");
    for a in ["user_add", "user_disable", "user_passwd"] {
        assert!(audit.contains(a), "{a}");
    }
}

#[test]
fn a_new_run_is_picked_up_without_a_restart() {
    let d = demo();
    let tmp = tempfile::tempdir().unwrap();
    let copy = |name: &str, as_of: &str| {
        let to = tmp.path().join(name);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&d.run).unwrap() {
            let e = e.unwrap();
            if e.path().is_file() {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
        let info = std::fs::read_to_string(to.join("run.json")).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&info).unwrap();
        v["as_of"] = json!(as_of);
        // Keep the data folder found from the copy.
        if let Some(data) = v.get("data").and_then(|x| x.as_str()) {
            let p = std::path::Path::new(data);
            if p.is_relative() {
                v["data"] = json!(d.run.join(p).to_str().unwrap());
            }
        }
        std::fs::write(to.join("run.json"), v.to_string()).unwrap();
        to
    };
    let a = copy("run-a", "2026-01-01");
    let b = copy("run-b", "2026-01-02");
    let latest = tmp.path().join("latest");
    std::os::unix::fs::symlink(&a, &latest).unwrap();
    let s = Server::start(&latest, &[]);
    let mut c = Client::new(&s.url);
    c.login("s1");
    assert_eq!(c.get("/api/run").json()["as_of"], "2026-01-01");
    // Swap the symlink atomically (rename over it), as a nightly job would.
    let tmp_link = tmp.path().join("latest.new");
    std::os::unix::fs::symlink(&b, &tmp_link).unwrap();
    std::fs::rename(&tmp_link, &latest).unwrap();
    let start = std::time::Instant::now();
    loop {
        let v = c.get("/api/run").json();
        if v["as_of"] == "2026-01-02" {
            break;
        }
        assert!(
            start.elapsed().as_secs() < 20,
            "the new run was not picked up"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        c.get("/api/clinics/HC01/list").json()["as_of"],
        "2026-01-02"
    );
    // A broken run is not swapped in: the service keeps serving the last good one.
    let broken = tmp.path().join("run-broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("run.json"), "{}").unwrap();
    let tmp_link = tmp.path().join("latest.new");
    std::os::unix::fs::symlink(&broken, &tmp_link).unwrap();
    std::fs::rename(&tmp_link, &latest).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(c.get("/api/clinics/HC01/list").status, 200);
    assert_eq!(c.get("/api/run").json()["as_of"], "2026-01-02");
}

#[test]
fn outreach_export_writes_the_data_model_tables() {
    let s = Server::start(&demo().run, &[]);
    let ids = listed(&s, "HC01", 3);
    let mut c = Client::new(&s.url);
    c.login("s1");
    for (id, o) in ids.iter().zip(["booked", "wrong_number", "reached"]) {
        assert_eq!(
            c.api_post(&format!("/api/people/{id}/outcomes"), json!({"outcome": o}))
                .status,
            201
        );
    }
    c.api_post(
        &format!("/api/people/{}/consents", ids[0]),
        json!({"scope": "research", "granted": false}),
    );
    let out = s.dir.path().join("export");
    let msg = caregap(
        &[
            "outreach",
            "export",
            "--store",
            s.db.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(msg.contains("wrote 2 outreach rows"), "{msg}");
    // The data loader reads them as the data model's tables.
    let data = s.dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for t in ["patients", "events"] {
        std::fs::copy(
            demo().out.join(format!("data/{t}.parquet")),
            data.join(format!("{t}.parquet")),
        )
        .unwrap();
    }
    std::fs::copy(out.join("outreach.parquet"), data.join("outreach.parquet")).unwrap();
    std::fs::copy(out.join("consents.parquet"), data.join("consents.parquet")).unwrap();
    let today = chrono::Utc::now().date_naive();
    let ds = caregap::data::load(
        &data,
        &caregap::data::LoadOptions::new(caregap::data::day_from_date(today)),
    )
    .unwrap();
    let outcomes: Vec<&str> = ds
        .outreach
        .rows
        .iter()
        .map(|c| c.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["booked", "not_reachable"]);
    assert_eq!(ds.consents.rows.len(), 1);
    assert_eq!(
        ds.report
            .tables
            .iter()
            .map(|t| t.rows_rejected)
            .sum::<u64>(),
        0
    );
}

/// Starts `caregap serve` with `args`; returns the child and its first line.
fn spawn_serve(args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(serve_util::bin())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

#[test]
fn plain_http_only_on_loopback_unless_allowed_and_https_sets_secure_cookies() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("s.db");
    let run = demo().run.to_str().unwrap().to_string();
    let (mut child, line) = spawn_serve(&[
        "serve",
        "--run",
        &run,
        "--db",
        db.to_str().unwrap(),
        "--bind",
        "0.0.0.0:0",
    ]);
    let status = child.wait().unwrap();
    assert!(
        !status.success() && line.is_empty(),
        "plain HTTP on 0.0.0.0 must be refused: {line}"
    );
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains("--cert") && err.contains("--allow-http"),
        "{err}"
    );
    let (mut child, line) = spawn_serve(&[
        "serve",
        "--run",
        &run,
        "--db",
        db.to_str().unwrap(),
        "--bind",
        "0.0.0.0:0",
        "--allow-http",
    ]);
    assert!(line.starts_with("listening on http://0.0.0.0:"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();

    // HTTPS with a self-signed certificate.
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (apt-get install openssl)");
    assert!(ok.success());
    caregap(
        &[
            "users",
            "add",
            "s1",
            "--role",
            "scheduler",
            "--clinic",
            "HC01",
            "--db",
            db.to_str().unwrap(),
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    let (mut child, line) = spawn_serve(&[
        "serve",
        "--run",
        &run,
        "--db",
        db.to_str().unwrap(),
        "--bind",
        "0.0.0.0:0",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .replace("0.0.0.0", "127.0.0.1");
    assert!(url.starts_with("https://"), "{line}");
    let out = std::process::Command::new("curl")
        .args([
            "-sk",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "Content-Type: application/json",
            "-d",
        ])
        .arg(json!({"user": "s1", "password": PASSWORD}).to_string())
        .arg(format!("{url}/api/login"))
        .output()
        .expect("curl (apt-get install curl)");
    child.kill().unwrap();
    child.wait().unwrap();
    let headers = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(headers.starts_with("http/"), "{headers}");
    let cookie = headers
        .lines()
        .find(|l| l.starts_with("set-cookie: caregap_session="))
        .expect("a session cookie");
    for flag in ["httponly", "samesite=strict", "secure"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
}

#[test]
fn demo_serve_prints_the_address_and_passwords_that_work() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(serve_util::bin())
        .args(["demo", "--serve", "--patients", "1200", "--out", "d"])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut passwords = std::collections::HashMap::new();
    let mut url = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() >= 3 && words[0].starts_with("demo-") && words[1] == "password" {
            passwords.insert(words[0].to_string(), words[2].to_string());
        }
        if line.starts_with("http://127.0.0.1:") {
            url = line.trim().to_string();
            break;
        }
    }
    assert!(!url.is_empty(), "no address printed");
    let mut c = Client::new(&url);
    let login = |c: &mut Client, user: &str| {
        let r = c.post(
            "/api/login",
            "application/json",
            &json!({"user": user, "password": passwords[user]}).to_string(),
            None,
        );
        assert_eq!(r.status, 200, "{user}: {}", r.body);
        c.csrf = r.json()["csrf"].as_str().unwrap().to_string();
        r.json()
    };
    let me = login(&mut c, "demo-scheduler");
    let clinic = me["clinics"][0].as_str().unwrap().to_string();
    let list = c.get(&format!("/api/clinics/{clinic}/list"));
    assert_eq!(list.status, 200);
    assert!(list.json()["total"].as_u64().unwrap() > 0);
    let mut a = Client::new(&url);
    login(&mut a, "demo-analyst");
    assert_eq!(a.get("/api/overview").status, 200);
    assert_eq!(a.get(&format!("/api/clinics/{clinic}/list")).status, 403);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn extra_call_list_columns_are_kept_and_shown() {
    use arrow::array::{Float64Array, RecordBatch, StringArray};
    use std::sync::Arc;
    let d = demo();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    for e in std::fs::read_dir(&d.run).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), run.join(e.file_name())).unwrap();
        }
    }
    // A richer ranking: two more columns in calllist.parquet.
    let f = std::fs::File::open(run.join("calllist.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let n = b.num_rows();
    let group: StringArray = (0..n)
        .map(|i| Some(if i % 2 == 0 { "A" } else { "B" }))
        .collect();
    let score: Float64Array = (0..n).map(|i| Some(i as f64 / 10.0)).collect();
    let mut fields: Vec<arrow::datatypes::Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    // Columns the service does not know (the ranking's own new columns,
    // e.g. `band`, are unknown to it too and shown the same way).
    let known_extra: Vec<String> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| ["band", "time_frame", "expected_benefit", "top_reasons"].contains(&n.as_str()))
        .collect();
    fields.push(arrow::datatypes::Field::new(
        "pilot_group",
        arrow::datatypes::DataType::Utf8,
        true,
    ));
    fields.push(arrow::datatypes::Field::new(
        "pilot_score",
        arrow::datatypes::DataType::Float64,
        true,
    ));
    let mut cols = b.columns().to_vec();
    cols.push(Arc::new(group));
    cols.push(Arc::new(score));
    let b = RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), cols).unwrap();
    let out = std::fs::File::create(run.join("calllist.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(out, b.schema(), None).unwrap();
    w.write(&b).unwrap();
    w.close().unwrap();
    let s = Server::start(&run, &[]);
    let mut c = Client::new(&s.url);
    c.login("s1");
    let v = c.get("/api/clinics/HC01/list").json();
    let row = &v["rows"][0];
    assert!(row["extra"]["pilot_group"].is_string(), "{row}");
    assert!(row["extra"]["pilot_score"].is_string(), "{row}");
    let extra: Vec<String> = c.get("/api/run").json()["extra_columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(
        extra.ends_with(&["pilot_group".to_string(), "pilot_score".to_string()]),
        "{extra:?}"
    );
    for k in &known_extra {
        assert!(extra.contains(k), "{k} not shown: {extra:?}");
    }
    let csv = c.get("/api/clinics/HC01/export.csv").body;
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",pilot_group,pilot_score"),
        "{}",
        csv.lines().next().unwrap()
    );
    // The person page's gaps are that person's firings (read from firings.parquet on demand).
    let id = row["patient_id"].as_str().unwrap();
    let p = c.get(&format!("/api/people/{id}")).json();
    let gaps: std::collections::BTreeSet<&str> = p["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["criterion"].as_str().unwrap())
        .collect();
    let f = std::fs::File::open(run.join("firings.parquet")).unwrap();
    let mut expected = std::collections::BTreeSet::new();
    for b in parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
    {
        let b = b.unwrap();
        let pid = arrow::compute::cast(
            b.column_by_name("patient_id").unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let pid = pid.as_any().downcast_ref::<StringArray>().unwrap();
        let crit = arrow::compute::cast(
            b.column_by_name("criterion_id").unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let crit = crit.as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..b.num_rows() {
            if pid.value(i) == id {
                expected.insert(crit.value(i).to_string());
            }
        }
    }
    let expected: std::collections::BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(gaps, expected);
    for crit in row["criteria"].as_array().unwrap() {
        assert!(gaps.contains(crit.as_str().unwrap()));
    }
}

/// Issue 18's re-identification through the service: only a scheduler of the
/// person's clinic, only on a request carrying the CSRF token, never in a
/// page or list unasked, and every reveal (found or not) audited.
#[test]
fn a_scheduler_reveals_an_original_identifier_only_of_her_clinic_and_every_reveal_is_audited() {
    let plain = Server::start(&demo().run, &[]);
    let hc01 = listed(&plain, "HC01", 3);
    let hc02 = listed(&plain, "HC02", 1);
    // Without a re-identification file: no button, and the API says how to give one.
    let mut c = Client::new(&plain.url);
    c.login("s1");
    assert!(
        !c.get(&format!("/people/{}", hc01[0]))
            .body
            .contains("id=\"reveal\"")
    );
    let r = c.api_post(&format!("/api/people/{}/reveal", hc01[0]), json!({}));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("--reidentification FILE"), "{}", r.body);
    drop(plain);

    // The file as `caregap import --reidentification` writes it; hc01[2] is not in it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reidentification.csv");
    let original = |id: &str| format!("ORIG-{id}, \"quoted\"");
    let mut text = String::from("patient_id,original_id\n");
    for id in [&hc01[0], &hc01[1], &hc02[0]] {
        text.push_str(&format!("{id},\"{}\"\n", original(id).replace('"', "\"\"")));
    }
    std::fs::write(&file, text).unwrap();
    let s = Server::start(&demo().run, &["--reidentification", file.to_str().unwrap()]);
    let mut c = Client::new(&s.url);
    c.login("s1");
    let path = |id: &str| format!("/api/people/{id}/reveal");

    let r = c.api_post(&path(&hc01[0]), json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["original_id"], original(&hc01[0]));
    assert_eq!(r.json()["patient_id"], hc01[0].as_str());
    // No CSRF token, another clinic's person, an analyst: refused.
    assert_eq!(
        c.post(&path(&hc01[0]), "application/json", "{}", None)
            .status,
        403
    );
    assert_eq!(c.api_post(&path(&hc02[0]), json!({})).status, 403);
    let mut a = Client::new(&s.url);
    a.login("analyst");
    assert_eq!(a.api_post(&path(&hc01[0]), json!({})).status, 403);
    // Not in the file: 404, audited all the same.
    let r = c.api_post(&path(&hc01[2]), json!({}));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(
        r.body.contains("not in the re-identification file"),
        "{}",
        r.body
    );

    // The page: the original only after the button's POST.
    let page = c.get(&format!("/people/{}", hc01[1]));
    assert!(page.body.contains("id=\"reveal\""), "no reveal button");
    assert!(!page.body.contains(&format!("ORIG-{}", hc01[1])));
    assert!(!c.get("/clinics/HC01/list").body.contains("ORIG-"));
    assert!(!c.get("/api/clinics/HC01/export.csv").body.contains("ORIG-"));
    let csrf = c.csrf.clone();
    let shown = c.form(&format!("/people/{}/reveal", hc01[1]), &[("csrf", &csrf)]);
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(
        shown
            .body
            .contains(&format!("ORIG-{}, &quot;quoted&quot;", hc01[1])),
        "{}",
        shown.body
    );
    assert_eq!(
        c.form(&format!("/people/{}/reveal", hc01[1]), &[("csrf", "wrong")])
            .status,
        403
    );

    let db = s.db.to_str().unwrap().to_string();
    let reveals = |id: &str| -> Vec<(String, String)> {
        caregap(
            &["audit", "show", "--db", &db, "--patient", id, "--json"],
            "",
        )
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["action"] == "reveal")
        .map(|r| {
            (
                r["user"].as_str().unwrap().to_string(),
                r["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
    };
    let shown = ("s1".to_string(), "original identifier shown".to_string());
    assert_eq!(reveals(&hc01[0]), vec![shown.clone()]);
    assert_eq!(
        reveals(&hc01[1]),
        vec![shown],
        "one reveal: the refused one is not"
    );
    assert_eq!(
        reveals(&hc01[2]),
        vec![(
            "s1".to_string(),
            "not in the re-identification file".to_string()
        )]
    );
    assert!(
        reveals(&hc02[0]).is_empty(),
        "the refused reveal is a `denied` row"
    );
    assert!(caregap(&["audit", "verify", "--db", &db], "").contains("audit trail intact"));
}
