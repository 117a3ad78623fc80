//! The HTML pages (maud). Pure: data and a translator in, markup out. Every
//! visible text is a Fluent key (`tr.t(key)`); data (ids, evidence, titles
//! from the library) is shown as it is, escaped by maud.

use super::handlers::segment;
use super::i18n::{LANGUAGES, Tr};
use super::ops::{ListPage, Overview, PersonDetail, Shown};
use super::store::{OUTCOMES, Role, User};
use maud::{DOCTYPE, Markup, html};

/// What every page of a logged-in user needs.
pub struct Frame<'a> {
    pub tr: Tr<'a>,
    pub user: &'a User,
    pub csrf: &'a str,
    /// The path of this page (the language form comes back to it).
    pub here: &'a str,
}

fn page(tr: Tr, title: &str, frame: Option<&Frame>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(tr.lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (tr.t("app-name")) }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header {
                    strong { (tr.t("app-name")) }
                    @if let Some(f) = frame {
                        nav {
                            @if f.user.role == Role::Scheduler {
                                @for c in &f.user.clinics {
                                    a href={"/clinics/" (c) "/list"} { (tr.ta("nav-list", &[("clinic", c.clone())])) }
                                }
                            } @else {
                                a href="/overview" { (tr.t("nav-overview")) }
                            }
                        }
                        span.who { (tr.ta("signed-in-as", &[("user", f.user.name.clone()), ("role", tr.t(&format!("role-{}", f.user.role.as_str())))])) }
                        form.inline method="post" action="/settings/language" {
                            input type="hidden" name="csrf" value=(f.csrf);
                            input type="hidden" name="back" value=(f.here);
                            label for="lang" { (tr.t("language")) }
                            select id="lang" name="lang" {
                                @for l in LANGUAGES {
                                    option value=(l) selected[l == tr.lang] { (tr.t(&format!("language-{l}"))) }
                                }
                            }
                            button type="submit" { (tr.t("language-change")) }
                        }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(f.csrf);
                            button type="submit" id="logout" { (tr.t("logout")) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The login page.
pub fn login(tr: Tr, csrf: &str, error: Option<&str>) -> Markup {
    page(
        tr,
        &tr.t("login-title"),
        None,
        html! {
            h1 { (tr.t("login-title")) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                p { label for="user" { (tr.t("login-user")) } br; input id="user" name="user" autocomplete="username" required; }
                p { label for="password" { (tr.t("login-password")) } br; input id="password" name="password" type="password" autocomplete="current-password" required; }
                p { button type="submit" id="login" { (tr.t("login-submit")) } }
            }
            p.lang-links {
                @for l in LANGUAGES { a href={"/login?lang=" (l)} { (tr.t(&format!("language-{l}"))) } " " }
            }
        },
    )
}

fn count(tr: Tr, v: Shown, k: u64) -> String {
    match v {
        Some(v) => v.to_string(),
        None => tr.ta("suppressed", &[("k", k.to_string())]),
    }
}

fn outcome_name(tr: Tr, o: &str) -> String {
    tr.t(&format!("outcome-{}", o.replace('_', "-")))
}

fn band_name(tr: Tr, b: Option<&str>) -> String {
    match b {
        Some(b) => tr.t(&format!("band-{}", b.replace('_', "-"))),
        None => tr.t("band-none"),
    }
}

/// A clinic's call list.
pub fn list(f: &Frame, l: &ListPage) -> Markup {
    let tr = f.tr;
    let title = tr.ta("list-title", &[("clinic", l.clinic.clone())]);
    let nav = |page: usize, key: &str| {
        html! {
            a href={"/clinics/" (segment(&l.clinic)) "/list?page=" (page)} { (tr.t(key)) }
        }
    };
    page(
        tr,
        &title,
        Some(f),
        html! {
            h1 { (title) }
            p.summary {
                (tr.ta("list-summary", &[("total", l.total.to_string()), ("as_of", l.as_of.clone())]))
                @if let Some(c) = l.capacity { " " (tr.ta("list-capacity", &[("capacity", c.to_string())])) }
                @if l.taken_off > 0 { " " (tr.ta("list-taken-off", &[("n", l.taken_off.to_string())])) }
            }
            p {
                a href={"/clinics/" (segment(&l.clinic)) "/export.csv"} download { (tr.t("list-export")) }
            }
            @if l.rows.is_empty() {
                p { (tr.t("list-empty")) }
            } @else {
                table.list {
                    thead { tr {
                        th { (tr.t("col-position")) } th { (tr.t("col-person")) } th { (tr.t("col-reasons")) }
                        th { (tr.t("col-action")) } th { (tr.t("col-evidence")) } th { (tr.t("col-risk")) }
                        th { (tr.t("col-last-contact")) }
                    } }
                    tbody {
                        @for r in &l.rows {
                            tr class=(if r.within_capacity { "in" } else { "beyond" }) data-person=(r.patient_id) {
                                td { (r.position) @if !r.within_capacity { br; small { (tr.t("beyond-capacity")) } } }
                                td {
                                    a.person href={"/people/" (segment(&r.patient_id))} { (r.patient_id) }
                                    @if let Some(lang) = &r.language { br; small { (tr.ta("person-language", &[("language", lang.clone())])) } }
                                }
                                td { (r.reasons) @for (k, v) in &r.extra { br; small { (k) ": " (v) } } }
                                td { (r.action) }
                                td { small { (r.evidence) } }
                                td { (band_name(tr, r.risk_band.as_deref())) br; small { (r.risk) } }
                                td {
                                    @match &r.last_contact {
                                        Some(c) => { (c.date) " " (outcome_name(tr, &c.outcome)) }
                                        None => { (tr.t("never-contacted")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !l.closed_since_call.is_empty() {
                h2 { (tr.t("list-closed-since-call")) }
                table id="closed-since-call" {
                    thead { tr { th { (tr.t("col-person")) } th { (tr.t("col-criterion")) } th { (tr.t("col-last-contact")) } } }
                    tbody { @for c in &l.closed_since_call { tr data-person=(c.patient_id) {
                        td { a.person href={"/people/" (c.patient_id)} { (c.patient_id) } }
                        td { (c.criterion) }
                        td { (c.last_contact.date) " " (outcome_name(tr, &c.last_contact.outcome)) }
                    } } }
                }
            }
            nav.pages {
                @if l.page > 1 { (nav(l.page - 1, "page-previous")) " " }
                (tr.ta("page-of", &[("page", l.page.to_string()), ("pages", l.pages.to_string())]))
                @if l.page < l.pages { " " (nav(l.page + 1, "page-next")) }
            }
        },
    )
}

/// One person.
/// The original identifier on the person page ([`super::reveal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reveal<'a> {
    /// The service has no re-identification file: no button.
    Unavailable,
    /// A button that asks for it.
    Offered,
    /// Asked for, audited and shown.
    Shown(&'a str),
}

pub fn person(f: &Frame, p: &PersonDetail, notice: Option<&str>, reveal: Reveal) -> Markup {
    let tr = f.tr;
    let title = tr.ta("person-title", &[("id", p.patient_id.clone())]);
    let back = format!("/clinics/{}/list", segment(&p.clinic));
    page(
        tr,
        &title,
        Some(f),
        html! {
            p { a href=(back) { (tr.ta("back-to-list", &[("clinic", p.clinic.clone())])) } }
            h1 { (title) }
            @if let Some(n) = notice { p.notice role="status" { (n) } }
            @match reveal {
                Reveal::Unavailable => {}
                Reveal::Offered => {
                    form.inline id="reveal-form" method="post" action={"/people/" (segment(&p.patient_id)) "/reveal"} {
                        input type="hidden" name="csrf" value=(f.csrf);
                        button type="submit" id="reveal" { (tr.t("reveal-button")) }
                        " " small { (tr.t("reveal-help")) }
                    }
                }
                Reveal::Shown(original) => {
                    p.notice id="original-id" role="status" { (tr.ta("reveal-shown", &[("id", original.to_string())])) }
                }
            }
            @if p.consents.iter().any(|c| c.scope == "outreach" && !c.allowed) {
                p.warning id="consent-withdrawn" { (tr.t("person-outreach-withdrawn")) }
            }
            p id="list-status" {
                @match (&p.listed, &p.off_list) {
                    (Some(l), _) => { (tr.ta("person-on-list", &[("position", l.position.to_string())])) }
                    (None, Some(why)) => { (tr.t(&format!("person-off-{}", why.replace('_', "-")))) }
                    (None, None) => { (tr.t("person-not-listed")) }
                }
            }
            h2 { (tr.t("person-risk")) }
            dl {
                dt { (tr.t("person-age")) } dd { (p.age.map_or(String::new(), |a| format!("{a:.0}"))) }
                dt { (tr.t("person-sex")) } dd { (p.sex.clone().unwrap_or_default()) }
                dt { (tr.t("person-band")) } dd { (band_name(tr, p.cv_band.as_deref())) }
                dt { (tr.t("person-cv-risk")) } dd {
                    @match p.cv_risk_pct { Some(x) => { (format!("{x:.1} %")) " (" (p.cv_model.clone().unwrap_or_default()) ")" } None => { (p.cv_reason.clone().unwrap_or_default()) } }
                }
                dt { (tr.t("person-utilisation")) } dd {
                    (p.utilisation_tier.clone().unwrap_or_default()) " "
                    @if let Some(u) = p.utilisation { "(" (p.utilisation_measure.clone().unwrap_or_default()) " " (u) ")" }
                }
            }
            h2 { (tr.t("person-gaps")) }
            @if p.gaps.is_empty() { p { (tr.t("person-no-gaps")) } } @else {
                table {
                    thead { tr { th { (tr.t("col-criterion")) } th { (tr.t("col-priority")) } th { (tr.t("col-status")) } th { (tr.t("col-evidence")) } th { (tr.t("col-action")) } } }
                    tbody { @for g in &p.gaps { tr {
                        td { (g.title) br; small { (g.criterion) } }
                        td { (g.priority.map_or(String::new(), |x| format!("{x:.0}"))) }
                        td { (g.status) }
                        td { small { (g.evidence) } }
                        td { (g.action.clone().unwrap_or_default()) }
                    } } }
                }
            }
            h2 { (tr.t("record-outcome")) }
            form id="outcome-form" method="post" action={"/people/" (segment(&p.patient_id)) "/outcome"} {
                input type="hidden" name="csrf" value=(f.csrf);
                fieldset {
                    legend { (tr.t("record-outcome-what")) }
                    @for o in OUTCOMES {
                        label { input type="radio" name="outcome" value=(o) required; " " (outcome_name(tr, o)) } " "
                    }
                }
                p {
                    label for="criterion" { (tr.t("record-about")) } " "
                    select id="criterion" name="criterion" {
                        option value="" { (tr.t("record-about-all")) }
                        @for g in &p.gaps { option value=(g.criterion) { (g.title) } }
                    }
                }
                p { label for="note" { (tr.t("record-note")) } br; textarea id="note" name="note" rows="2" cols="60" maxlength="2000" {} }
                p { button type="submit" id="record" { (tr.t("record-submit")) } }
            }
            h2 { (tr.t("consent-title")) }
            table id="consents" {
                thead { tr { th { (tr.t("col-scope")) } th { (tr.t("col-state")) } th {} } }
                tbody { @for c in &p.consents { tr data-scope=(c.scope) {
                    td { (tr.t(&format!("scope-{}", c.scope))) }
                    td.state { (if c.allowed { tr.t("consent-allowed") } else { tr.t("consent-withdrawn") })
                        @if let Some(s) = &c.since { " " small { (tr.ta("since", &[("date", s.clone())])) } } }
                    td {
                        form.inline method="post" action={"/people/" (segment(&p.patient_id)) "/consent"} {
                            input type="hidden" name="csrf" value=(f.csrf);
                            input type="hidden" name="scope" value=(c.scope);
                            @if c.allowed {
                                input type="hidden" name="decision" value="withdraw";
                                button type="submit" id={"withdraw-" (c.scope)} { (tr.t("consent-withdraw")) }
                            } @else {
                                input type="hidden" name="decision" value="grant";
                                button type="submit" id={"grant-" (c.scope)} { (tr.t("consent-grant")) }
                            }
                        }
                    }
                } } }
            }
            p { small { (tr.t("consent-help")) } }
            h2 { (tr.t("history-title")) }
            @if p.service_outcomes.is_empty() && p.data_contacts.is_empty() && p.service_consents.is_empty() {
                p { (tr.t("history-none")) }
            } @else {
                table id="history" {
                    thead { tr { th { (tr.t("col-date")) } th { (tr.t("col-what")) } th { (tr.t("col-by")) } th { (tr.t("col-note")) } } }
                    tbody {
                        @for o in p.service_outcomes.iter().rev() { tr {
                            td { (o.day) } td { (outcome_name(tr, &o.outcome)) @if let Some(c) = &o.criterion_id { " (" (c) ")" } }
                            td { (o.user) } td { (o.note) }
                        } }
                        @for c in p.service_consents.iter().rev() { tr {
                            td { (c.day) } td { (tr.t(&format!("scope-{}", c.scope))) ": " (if c.granted { tr.t("consent-allowed") } else { tr.t("consent-withdrawn") }) }
                            td { (c.user) } td { (c.note) }
                        } }
                        @for c in &p.data_contacts { tr {
                            td { (c.date) } td { (outcome_name(tr, &c.outcome)) @if let Some(x) = &c.criterion { " (" (x) ")" } }
                            td { (tr.t("history-from-data")) } td {}
                        } }
                    }
                }
            }
        },
    )
}

fn pct(x: Option<f64>) -> String {
    x.map_or(String::new(), |x| format!("{x:.1} %"))
}

/// The analyst's overview.
pub fn overview(f: &Frame, o: &Overview, filter: &str) -> Markup {
    let tr = f.tr;
    let k = o.min_cell;
    page(
        tr,
        &tr.t("overview-title"),
        Some(f),
        html! {
            h1 { (tr.t("overview-title")) }
            p { (tr.ta("overview-run", &[("as_of", o.as_of.clone()), ("library", o.library_hash.clone().unwrap_or_default().chars().take(12).collect::<String>())])) }
            section.headline {
                div { strong { (count(tr, o.people, k)) } br; (tr.t("overview-people")) }
                div { strong { (count(tr, o.listed, k)) } br; (tr.t("overview-listed")) }
                div { strong { (count(tr, o.open_gaps, k)) } br; (tr.t("overview-open-gaps")) }
                div { strong { (count(tr, o.outcomes_recorded, k)) } br; (tr.t("overview-outcomes")) }
                div { strong { (count(tr, o.consents_recorded, k)) } br; (tr.t("overview-consents")) }
            }
            @if o.trend.len() > 1 {
            h2 { (tr.t("overview-trend")) }
            table id="trend" {
                thead { tr { th { (tr.t("col-run")) } th { (tr.t("overview-open-gaps")) } } }
                tbody { @for (as_of, folder, open) in &o.trend { tr {
                    td { (as_of) " " small { (folder) } } td { (count(tr, *open, k)) }
                } } }
            }
        }
        @if let Some(d) = &o.changes {
            h2 { (tr.t("overview-since")) }
            p id="since" { (tr.ta("overview-since-line", &[
                ("run", d.run_a.clone()),
                ("opened", count(tr, d.opened, d.min_cell)),
                ("closed", count(tr, d.closed, d.min_cell)),
                ("still", count(tr, d.still_open, d.min_cell)),
                ("excluded", count(tr, d.newly_excluded, d.min_cell)),
            ])) }
            @if !d.top.is_empty() {
                table id="changes" {
                    thead { tr { th { (tr.t("col-criterion")) } th { (tr.t("col-clinic")) } th { (tr.t("overview-change")) } } }
                    tbody { @for t in &d.top { tr { td { (t.criterion) } td { (t.clinic) } td { (format!("{:+}", t.net)) } } } }
                }
            }
        }
        @if !o.effect.is_empty() {
            h2 { (tr.t("overview-effect")) }
            p { small { (tr.t("overview-effect-note")) } }
            table id="effect" {
                thead { tr {
                    th { (tr.t("col-criterion")) } th { (tr.t("col-outcome")) } th { (tr.t("overview-days")) }
                    th { (tr.t("overview-closed-share")) } th { (tr.t("overview-difference")) }
                } }
                tbody { @for r in &o.effect { tr {
                    td { (r.criterion) } td { (outcome_name(tr, &r.outcome)) } td { (r.horizon_days) }
                    td { (pct(r.share.map(|v| 100.0 * v))) @if let (Some(l), Some(h)) = (r.share_low, r.share_high) { " [" (format!("{:.1}–{:.1}", 100.0 * l, 100.0 * h)) "]" } }
                    td { @if let (Some(d), Some(l), Some(h)) = (r.difference, r.difference_low, r.difference_high) { (format!("{:+.1} [{:+.1}, {:+.1}]", 100.0 * d, 100.0 * l, 100.0 * h)) } }
                } } }
            }
        }
        h2 { (tr.t("overview-by-clinic")) }
            table {
                thead { tr { th { (tr.t("col-clinic")) } th { (tr.t("overview-listed")) } th { (tr.t("overview-top-gaps")) } } }
                tbody { @for (j, c) in o.clinics.iter().enumerate() { tr {
                    td { (c) } td { (count(tr, o.listed_by_clinic[j], k)) }
                    td { @for (i, (g, n)) in o.top_gaps[j].iter().enumerate() { @if i > 0 { ", " } (g) " (" (n) ")" } }
                } } }
            }
            h2 { (tr.t("overview-table")) }
            form method="get" action="/overview" {
                label for="filter" { (tr.t("overview-filter")) } " "
                input id="filter" name="filter" value=(filter);
                " " button type="submit" { (tr.t("overview-filter-apply")) }
            }
            p { small { (tr.ta("overview-suppression", &[("k", k.to_string())])) } }
            table.wide {
                thead { tr {
                    th { (tr.t("col-criterion")) } th { (tr.t("overview-all")) }
                    @for c in &o.clinics { th { (c) } }
                } }
                tbody { @for r in &o.rows { tr {
                    td { (r.title) br; small { (r.criterion) } }
                    td { (count(tr, r.all_open, k)) " / " (count(tr, r.all_eligible, k)) br; small { (pct(r.all_rate)) } }
                    @for j in 0..o.clinics.len() {
                        td { (count(tr, r.open[j], k)) " / " (count(tr, r.eligible[j], k)) br; small { (pct(r.rate[j])) } }
                    }
                } } }
            }
        },
    )
}

/// The style sheet (small; no scripts anywhere).
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#111}
header{background:#0b4f6c;color:#fff;padding:.5em 1em;display:flex;gap:1em;flex-wrap:wrap;align-items:center}
header a{color:#fff;margin-right:.8em}header .who{margin-left:auto}
main{padding:1em}form.inline{display:inline}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}
tr.beyond{color:#666;background:#f4f4f4}.error,.warning{color:#a00;font-weight:bold}
.notice{color:#064;font-weight:bold}.headline{display:flex;gap:2em}.headline strong{font-size:1.6em}
table.wide{font-size:.9em}";
