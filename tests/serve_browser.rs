//! The scheduler's story in a real browser: headless Chromium (Debian's
//! `chromium` and `chromium-driver`) over WebDriver. Log in, see the list,
//! open a person, record "booked" and see them leave the list, withdraw
//! consent and see it take effect, be refused another clinic's person,
//! change the language, log out.
//!
//! `scripts/test.sh` installs Chromium when missing and sets
//! `CAREGAP_REQUIRE_BROWSER=1`; without it and without a chromedriver this
//! test prints SKIPPED.

mod serve_util;

use fantoccini::{ClientBuilder, Locator};
use serve_util::{Client, PASSWORD, Server, demo};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromedriver() -> Option<String> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(str::to_string)
}

struct Driver(std::process::Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_works_through_the_list_in_a_browser() {
    let Some(driver) = chromedriver() else {
        assert!(
            std::env::var("CAREGAP_REQUIRE_BROWSER").is_err(),
            "CAREGAP_REQUIRE_BROWSER is set but chromedriver is missing: apt-get install chromium chromium-driver"
        );
        eprintln!("SKIPPED: no chromedriver (apt-get install chromium chromium-driver)");
        return;
    };
    let run = demo().run.clone();
    let s = tokio::task::spawn_blocking(move || Server::start(&run, &[]))
        .await
        .unwrap();
    let url = s.url.clone();
    // Another clinic's person and the first two of HC01's list, through the API.
    let u = url.clone();
    let (theirs, mine) = tokio::task::spawn_blocking(move || {
        let mut c = Client::new(&u);
        c.login("both");
        let first = |c: &mut Client, clinic: &str| -> Vec<String> {
            c.get(&format!("/api/clinics/{clinic}/list?per_page=3"))
                .json()["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["patient_id"].as_str().unwrap().to_string())
                .collect()
        };
        (first(&mut c, "HC02"), first(&mut c, "HC01"))
    })
    .await
    .unwrap();

    let port = free_port();
    let _driver = Driver(
        Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    let b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with headless Chromium");

    let result = story(&b, &url, &mine, &theirs).await;
    let _ = b.close().await;
    result.unwrap();
}

type R = Result<(), Box<dyn std::error::Error>>;

/// The ids listed on the current page, once `want` holds of them (a click
/// that submits a form may return before the next page replaces this one; a
/// read that meets the old page's elements is tried again, for up to 10 s).
async fn listed_when(
    b: &fantoccini::Client,
    want: impl Fn(&[String]) -> bool,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut last = Vec::new();
    for _ in 0..100 {
        let mut ids = Vec::new();
        let mut ok = true;
        match b.find_all(Locator::Css("tr[data-person]")).await {
            Ok(rows) => {
                for row in rows {
                    match row.attr("data-person").await {
                        Ok(id) => ids.push(id.unwrap_or_default()),
                        Err(_) => ok = false,
                    }
                }
            }
            Err(_) => ok = false,
        }
        if ok && want(&ids) {
            return Ok(ids);
        }
        if ok {
            last = ids;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(last)
}

async fn listed(b: &fantoccini::Client) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    listed_when(b, |ids| !ids.is_empty()).await
}

/// The text of `css` on the current page once `want` holds of it, or the
/// last text read after 10 s (see `listed_when`).
async fn text_when(
    b: &fantoccini::Client,
    loc: Locator<'_>,
    want: impl Fn(&str) -> bool,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = b.find(loc).await
            && let Ok(t) = e.text().await
        {
            if want(&t) {
                return Ok(t);
            }
            last = t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(last)
}

/// Waits (up to 10 s) until the browser is on a page whose path ends with
/// `path`: a click that submits a form returns before the browser has
/// followed the answer's redirect.
async fn at_path(b: &fantoccini::Client, path: &str) -> R {
    let start = std::time::Instant::now();
    while !b.current_url().await?.path().ends_with(path) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "not at {path}: {}",
            b.current_url().await?
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn story(b: &fantoccini::Client, url: &str, mine: &[String], theirs: &[String]) -> R {
    // Log in.
    b.goto(&format!("{url}/login?lang=en")).await?;
    b.find(Locator::Id("user")).await?.send_keys("s1").await?;
    b.find(Locator::Id("password"))
        .await?
        .send_keys(PASSWORD)
        .await?;
    b.find(Locator::Id("login")).await?.click().await?;
    // The list of the scheduler's clinic (once the browser has followed the
    // login's redirect: the click returns before the next page is loaded).
    at_path(b, "/clinics/HC01/list").await?;
    let ids = listed(b).await?;
    assert_eq!(&ids[..2], &mine[..2]);
    let text = text_when(b, Locator::Css("main"), |t| t.contains("Call list of HC01")).await?;
    assert!(text.contains("Call list of HC01"), "{text}");
    // Open the first person.
    b.find(Locator::Css(&format!(
        "tr[data-person='{}'] a.person",
        ids[0]
    )))
    .await?
    .click()
    .await?;
    let want = format!("Person {}", ids[0]);
    assert_eq!(text_when(b, Locator::Css("h1"), |t| t == want).await?, want);
    let status = text_when(b, Locator::Id("list-status"), |t| t.contains("number 1")).await?;
    assert!(status.contains("number 1"), "{status}");
    // Record "booked": the person leaves the list.
    b.find(Locator::Css("input[name='outcome'][value='booked']"))
        .await?
        .click()
        .await?;
    b.find(Locator::Id("note"))
        .await?
        .send_keys("Thursday 9:30")
        .await?;
    b.find(Locator::Id("record")).await?.click().await?;
    let status = text_when(b, Locator::Id("list-status"), |t| {
        t.contains("appointment is booked")
    })
    .await?;
    assert!(status.contains("appointment is booked"), "{status}");
    let history = text_when(b, Locator::Id("history"), |t| t.contains("Thursday 9:30")).await?;
    assert!(history.contains("Thursday 9:30"), "{history}");
    b.find(Locator::Css("main p a")).await?.click().await?; // back to the list
    let now = listed_when(b, |now| !now.is_empty() && !now.contains(&ids[0])).await?;
    assert!(!now.contains(&ids[0]), "the booked person is still listed");
    assert_eq!(now[0], ids[1]);
    // Withdraw consent on the next person's behalf: off the list at once.
    b.find(Locator::Css(&format!(
        "tr[data-person='{}'] a.person",
        ids[1]
    )))
    .await?
    .click()
    .await?;
    // Each click loads a new page: wait for its element, not the old page's.
    b.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("withdraw-outreach"))
        .await?
        .click()
        .await?;
    b.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("consent-withdrawn"))
        .await?;
    b.find(Locator::Id("grant-outreach")).await?;
    b.goto(&format!("{url}/clinics/HC01/list")).await?;
    assert!(
        !listed_when(b, |now| !now.is_empty() && !now.contains(&ids[1]))
            .await?
            .contains(&ids[1]),
        "withdrawn consent still listed"
    );
    // Another clinic's person: refused.
    b.goto(&format!("{url}/people/{}", theirs[0])).await?;
    let body = b.find(Locator::Css("body")).await?.text().await?;
    assert!(body.contains("403"), "{body}");
    assert!(!body.contains("Care gaps"), "{body}");
    // The same page in Swedish.
    b.goto(&format!("{url}/clinics/HC01/list")).await?;
    b.find(Locator::Css("select#lang option[value='sv']"))
        .await?
        .click()
        .await?;
    b.find(Locator::Css("form[action='/settings/language'] button"))
        .await?
        .click()
        .await?;
    let text = text_when(b, Locator::Css("main h1"), |t| t == "Samtalslista HC01").await?;
    assert_eq!(text, "Samtalslista HC01");
    // Log out: the list is behind the login again.
    b.find(Locator::Id("logout")).await?.click().await?;
    at_path(b, "/login").await?;
    b.goto(&format!("{url}/clinics/HC01/list")).await?;
    assert!(b.current_url().await?.path().ends_with("/login"));
    Ok(())
}
