//! Checks of a model report (`report.html` of `caregap model fit|bench`):
//! well-formed markup, the expected sections, and every number in it equal
//! to the command's JSON.
#![allow(dead_code)]

use std::path::Path;

use serde_json::Value;

/// The headings every report has.
pub const SECTIONS: &[&str] = &[
    "Metrics",
    "Calibration by decile",
    "Observed and predicted by group",
    "Lift and top-10 % capture",
];

/// HTML elements without a closing tag.
const VOID: [&str; 6] = ["meta", "br", "link", "img", "input", "hr"];

/// The element names in `text`, after checking that every element opened is
/// closed in order (`<!DOCTYPE>` and comments skipped, void HTML elements and
/// `<x/>` close themselves). Panics naming the first mismatch.
pub fn balanced_elements(text: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix("!--") {
            let end = r.find("-->").expect("unclosed comment");
            rest = &r[end + 3..];
            continue;
        }
        let end = rest.find('>').expect("unclosed tag");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(open, name, "<{open}> closed by </{name}>");
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '/')
            .collect();
        assert!(!name.is_empty(), "empty tag <{tag}>");
        names.push(name.clone());
        if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "never closed: {stack:?}");
    names
}

/// The value of `attr="…"` in the tag text `tag`.
fn attr<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
    let key = format!(" {attr}=\"");
    let i = tag.find(&key)? + key.len();
    Some(&tag[i..i + tag[i..].find('"')?])
}

/// The opening tags of `element` carrying `class`, as their attribute text.
fn tags_with<'a>(html: &'a str, element: &str, has_attr: &str) -> Vec<&'a str> {
    let open = format!("<{element} ");
    html.match_indices(&open)
        .map(|(i, _)| &html[i..i + html[i..].find('>').unwrap()])
        .filter(|t| t.contains(&format!(" {has_attr}=\"")))
        .collect()
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
}

/// A JSON number (null = NaN).
fn json_num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// The interval of `metric` in a model section of the report's JSON.
pub fn metric(section: &Value, metric: &str) -> Option<Value> {
    section["metrics"]
        .as_array()?
        .iter()
        .find(|iv| iv["metric"] == metric)
        .cloned()
}

/// Checks `dir/report.html` against `model_report` (the `model_report`
/// object of the command's JSON): well-formed, with `headings`, every figure
/// file parsed and inlined, and every metric and decile equal to the JSON.
/// Returns the HTML.
pub fn check_report(dir: &Path, model_report: &Value, headings: &[&str]) -> String {
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let names = balanced_elements(&html);
    assert!(!html.contains("<script") && !html.contains(" src=\"") && !html.contains("href="));
    for h in headings {
        assert!(html.contains(&format!(">{h}</h2>")), "no heading {h:?}");
    }
    // Each figure: a standalone SVG file, well-formed, and inlined unchanged.
    let mut svgs = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "svg") {
            let svg = std::fs::read_to_string(&path).unwrap();
            assert!(
                svg.starts_with("<svg") && svg.contains("xmlns=\"http://www.w3.org/2000/svg\"")
            );
            assert_eq!(balanced_elements(&svg)[0], "svg");
            assert!(html.contains(&svg), "{} is not inlined", path.display());
            svgs += 1;
        }
    }
    assert_eq!(names.iter().filter(|n| *n == "svg").count(), svgs);
    assert!(svgs >= 2);

    let models = model_report["models"].as_array().unwrap();
    let cells = tags_with(&html, "td", "data-metric");
    let mut checked = 0;
    for m in models {
        let name = m["name"].as_str().unwrap();
        for iv in m["metrics"].as_array().unwrap() {
            let metric = iv["metric"].as_str().unwrap();
            let cell = cells
                .iter()
                .find(|t| {
                    attr(t, "data-model") == Some(name) && attr(t, "data-metric") == Some(metric)
                })
                .unwrap_or_else(|| panic!("no cell for {name} {metric}"));
            for k in ["estimate", "low", "high"] {
                let shown = num(attr(cell, &format!("data-{k}")).unwrap());
                assert!(
                    same(shown, json_num(&iv[k])),
                    "{name} {metric} {k}: {shown} vs {}",
                    iv[k]
                );
            }
            // The visible text starts with the estimate.
            let est = json_num(&iv["estimate"]);
            let start = html.find(*cell).unwrap() + cell.len() + 1;
            if est.is_finite() && est.abs() >= 1e-3 && est.abs() < 1e5 {
                assert!(
                    html[start..].starts_with(&format!("{est:.4}")),
                    "{name} {metric}"
                );
            }
            checked += 1;
        }
        let deciles = tags_with(&html, "tr", "data-decile");
        for (i, b) in m["calibration"].as_array().unwrap().iter().enumerate() {
            let row = deciles
                .iter()
                .find(|t| {
                    attr(t, "data-model") == Some(name)
                        && attr(t, "data-decile") == Some(&(i + 1).to_string())
                })
                .unwrap_or_else(|| panic!("no decile {} of {name}", i + 1));
            assert!(same(
                num(attr(row, "data-pred").unwrap()),
                json_num(&b["mean_pred"])
            ));
            assert!(same(
                num(attr(row, "data-obs").unwrap()),
                json_num(&b["mean_obs"])
            ));
        }
    }
    assert!(checked > 0);
    assert_eq!(checked, cells.len(), "a metric cell not in the JSON");
    html
}
