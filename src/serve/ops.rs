//! The operations of the service, called alike by the pages and the API:
//! so both doors apply the same rules and write the same audit rows.
//! Access was checked by the extractor that produced the handler's
//! `ClinicAccess` / `PersonAccess` / `AggregateAccess`.

use super::auth::{AppError, Auth};
use super::overlay::{Off, Overlay};
use super::store::{self, ConsentRow, OutcomeRow, Write};
use super::{App, Shared, today};
use crate::data::{Day, format_day};
use crate::rank::exclusions::Cooldowns;
use crate::report::suppress::{Counts, suppress};
use crate::runs::{DataConsent, DataContact, Firing, ListRow, ListText, Run};
use axum::http::StatusCode;
use serde::Serialize;
use std::collections::BTreeMap;

/// People per page unless asked otherwise.
pub const PER_PAGE: usize = 50;
/// Most people per page.
pub const MAX_PER_PAGE: usize = 500;

/// A contact as lists and pages show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LastContact {
    pub date: String,
    pub outcome: String,
    pub criterion: Option<String>,
    /// `service` (recorded here) or `data` (the data folder's outreach table).
    pub source: &'static str,
}

/// One row of a list page.
#[derive(Debug, Clone, Serialize)]
pub struct ListItem {
    /// Position on the list as it is now (1-based).
    pub position: usize,
    /// Rank in the run.
    pub rank: u32,
    pub patient_id: String,
    pub language: Option<String>,
    pub score: Option<f64>,
    pub criteria: Vec<String>,
    pub reasons: String,
    pub evidence: String,
    pub risk: String,
    pub risk_band: Option<String>,
    pub utilisation: String,
    pub action: String,
    pub resting_gaps: String,
    pub last_contact: Option<LastContact>,
    /// Within the clinic's capacity.
    pub within_capacity: bool,
    /// Columns of the run's call list this service has no place for.
    pub extra: BTreeMap<String, String>,
}

/// A page of a clinic's list.
#[derive(Debug, Clone, Serialize)]
pub struct ListPage {
    pub clinic: String,
    pub as_of: String,
    pub page: usize,
    pub per_page: usize,
    pub pages: usize,
    /// People on the list now (the run's list less those the service took off).
    pub total: usize,
    /// Taken off since the run (outcomes, consent withdrawals).
    pub taken_off: usize,
    pub capacity: Option<u32>,
    pub rows: Vec<ListItem>,
    /// People of the clinic called (service or data log) whose gap closed
    /// since the previous run: off the list, "closed since the call".
    pub closed_since_call: Vec<ClosedSinceCall>,
}

/// A gap closed since the previous run of a person who had been called.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClosedSinceCall {
    pub patient_id: String,
    pub criterion: String,
    pub last_contact: LastContact,
}

/// The clinic's closed gaps (this run's diff) of people with a recorded
/// contact about that gap (or a general one).
fn closed_since_call(app: &App, run: &Run, clinic: usize) -> Vec<ClosedSinceCall> {
    run.closed_since
        .get(clinic)
        .into_iter()
        .flatten()
        .filter_map(|(person, criterion)| {
            let c = last_contact(app, run, *person)?;
            if c.criterion.as_ref().is_some_and(|x| x != criterion) {
                return None;
            }
            Some(ClosedSinceCall {
                patient_id: run.people[*person as usize].id.clone(),
                criterion: criterion.clone(),
                last_contact: c,
            })
        })
        .collect()
}

fn last_contact(app: &App, run: &Run, person: u32) -> Option<LastContact> {
    let id = &run.people[person as usize].id;
    let service = app
        .overlay
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .last_contact(id)
        .map(|c| LastContact {
            date: format_day(c.day),
            outcome: c.outcome.clone(),
            criterion: c.criterion.clone(),
            source: "service",
        });
    let data = run
        .history
        .get(&person)
        .and_then(|h| h.first())
        .map(|c| LastContact {
            date: c.date.clone(),
            outcome: c.outcome.clone(),
            criterion: c.criterion.clone(),
            source: "data",
        });
    match (service, data) {
        (Some(s), Some(d)) => Some(if d.date > s.date { d } else { s }),
        (s, d) => s.or(d),
    }
}

fn item(app: &App, run: &Run, r: &ListRow, position: usize, capacity: Option<u32>) -> ListItem {
    let p = &run.people[r.person as usize];
    let text = |t: ListText| run.list_text(r, t).unwrap_or_default().to_string();
    ListItem {
        position,
        rank: r.rank,
        patient_id: p.id.clone(),
        language: run.list_text(r, ListText::Language).map(str::to_string),
        score: r.score,
        criteria: r.criteria.clone(),
        reasons: text(ListText::Reasons),
        evidence: text(ListText::Evidence),
        risk: text(ListText::Risk),
        risk_band: p.cv_band.clone(),
        utilisation: text(ListText::Utilisation),
        action: text(ListText::Action),
        resting_gaps: text(ListText::RestingGaps),
        last_contact: last_contact(app, run, r.person),
        within_capacity: capacity.is_none_or(|c| position <= c as usize),
        extra: run
            .extra_columns
            .iter()
            .enumerate()
            .filter_map(|(k, name)| run.list_extra(r, k).map(|v| (name.clone(), v.to_string())))
            .collect(),
    }
}

/// A clinic's list as it is now: the run's list less the rows the service's
/// records take off (see `overlay`), without copying the list.
#[derive(Debug, Clone)]
pub struct CurrentList<'r> {
    /// The run's whole list of the clinic.
    pub rows: &'r [ListRow],
    /// Positions in `rows` taken off, ascending.
    pub off: Vec<usize>,
}

impl<'r> CurrentList<'r> {
    /// People on the list now.
    pub fn len(&self) -> usize {
        self.rows.len() - self.off.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows on the list now from the `start`th (0-based), each with its
    /// position on the list now (1-based).
    pub fn from(&self, start: usize) -> impl Iterator<Item = (usize, &'r ListRow)> + '_ {
        // The run position of the `start`th row still listed: every row taken
        // off at or before it pushes it one further.
        let mut at = start;
        let mut k = 0;
        while k < self.off.len() && self.off[k] <= at {
            at += 1;
            k += 1;
        }
        let rows = self.rows;
        (at..rows.len())
            .filter(move |i| {
                while k < self.off.len() && self.off[k] < *i {
                    k += 1;
                }
                self.off.get(k) != Some(i)
            })
            .enumerate()
            .map(move |(n, i)| (start + n + 1, &rows[i]))
    }

    /// Where `person` is on the list now: position (1-based) and row.
    pub fn position_of(
        &self,
        run: &Run,
        clinic: usize,
        person: u32,
    ) -> Option<(usize, &'r ListRow)> {
        run.list_positions(person)
            .filter(|&(c, i)| c == clinic && self.off.binary_search(&i).is_err())
            .map(|(_, i)| (i + 1 - self.off.partition_point(|&o| o < i), &self.rows[i]))
            .min_by_key(|&(pos, _)| pos)
    }
}

/// Per clinic, the rows of its list the overlay takes off on `day`
/// (ascending positions): only the people the service has records of can be
/// off, so only their rows are tested (through the run's person → list-row
/// index), never the whole lists.
pub fn taken_off(run: &Run, o: &Overlay, day: Day, cd: &Cooldowns) -> Vec<Vec<usize>> {
    let mut off = vec![Vec::new(); run.lists.len()];
    if o.is_empty() {
        return off;
    }
    for id in o.people() {
        let Some(p) = run.by_canonical_id(id) else {
            continue;
        };
        for (c, i) in run.list_positions(p) {
            if o.off_list(id, &run.lists[c][i].criteria, day, cd).is_some() {
                off[c].push(i);
            }
        }
    }
    for v in &mut off {
        v.sort_unstable();
        v.dedup();
    }
    off
}

/// [`taken_off`] as last computed, and for what: the run (its version key),
/// the overlay's [`Overlay::epoch`] and the day. Every list, person page and
/// export of the same state shares it; a write or a new run or day
/// recomputes it once.
#[derive(Debug, Default)]
pub struct OffCache {
    of: Option<(String, u64, Day)>,
    off: std::sync::Arc<Vec<Vec<usize>>>,
}

/// The clinic's list as it is now: the run's list less the people the
/// service's records take off (see `overlay`).
pub fn current_list<'r>(app: &App, run: &'r Run, clinic: usize) -> CurrentList<'r> {
    let day = today();
    let o = app.overlay.read().unwrap_or_else(|e| e.into_inner());
    let mut cache = app.off_cache.lock().unwrap_or_else(|e| e.into_inner());
    let fresh = cache
        .of
        .as_ref()
        .is_some_and(|(k, e, d)| *k == run.key && *e == o.epoch && *d == day);
    if !fresh {
        cache.off = std::sync::Arc::new(taken_off(run, &o, day, &app.config.cooldowns));
        cache.of = Some((run.key.clone(), o.epoch, day));
    }
    CurrentList {
        rows: &run.lists[clinic],
        off: cache.off.get(clinic).cloned().unwrap_or_default(),
    }
}

/// A page of a clinic's list; audited (`list_view`, the ids shown).
pub async fn list_page(
    app: &Shared,
    auth: &Auth,
    run: &Run,
    clinic: usize,
    page: Option<usize>,
    per_page: Option<usize>,
) -> Result<ListPage, AppError> {
    let per_page = per_page.unwrap_or(PER_PAGE).clamp(1, MAX_PER_PAGE);
    let name = run.clinics[clinic].clone();
    let capacity = app.config.capacities.of(&name);
    let list = current_list(app, run, clinic);
    let pages = list.len().div_ceil(per_page).max(1);
    let page = page.unwrap_or(1).clamp(1, pages);
    let start = (page - 1) * per_page;
    let items: Vec<ListItem> = list
        .from(start)
        .take(per_page)
        .map(|(pos, r)| item(app, run, r, pos, capacity))
        .collect();
    let closed = closed_since_call(app, run, clinic);
    let mut a = auth.audit("list_view", &name);
    a.patients = items
        .iter()
        .map(|i| i.patient_id.clone())
        .chain(closed.iter().map(|c| c.patient_id.clone()))
        .collect();
    a.count = items.len() as u64;
    a.detail = format!("page {page} of {pages}, run {}", run.as_of_text);
    app.writer
        .write(Write::AuditOnly, a)
        .await
        .map_err(|e| AppError::internal(auth.api, e))?;
    Ok(ListPage {
        clinic: name,
        as_of: run.as_of_text.clone(),
        page,
        per_page,
        pages,
        total: list.len(),
        taken_off: list.off.len(),
        capacity,
        rows: items,
        closed_since_call: closed,
    })
}

/// A clinic's list as CSV (cut at its capacity); audited (`export`, every id).
pub async fn export_csv(
    app: &Shared,
    auth: &Auth,
    run: &Run,
    clinic: usize,
) -> Result<String, AppError> {
    use crate::rank::export::csv_field;
    let name = run.clinics[clinic].clone();
    let capacity = app.config.capacities.of(&name);
    let list = current_list(app, run, clinic);
    let n = capacity.map_or(list.len(), |c| (c as usize).min(list.len()));
    let mut out = String::from(
        "position,rank,patient_id,language,score,criteria,reasons,evidence,risk,risk_band,utilisation,action,resting_gaps,last_contact,last_outcome",
    );
    for c in &run.extra_columns {
        out.push(',');
        out.push_str(&csv_field(c));
    }
    out.push('\n');
    let mut ids = Vec::with_capacity(n);
    for (pos, r) in list.from(0).take(n) {
        let it = item(app, run, r, pos, capacity);
        let lc = it.last_contact.as_ref();
        let fields = [
            it.position.to_string(),
            it.rank.to_string(),
            it.patient_id.clone(),
            it.language.clone().unwrap_or_default(),
            it.score.map_or(String::new(), |s| s.to_string()),
            it.criteria.join("; "),
            it.reasons.clone(),
            it.evidence.clone(),
            it.risk.clone(),
            it.risk_band.clone().unwrap_or_default(),
            it.utilisation.clone(),
            it.action.clone(),
            it.resting_gaps.clone(),
            lc.map_or(String::new(), |c| c.date.clone()),
            lc.map_or(String::new(), |c| c.outcome.clone()),
        ];
        let extras = run
            .extra_columns
            .iter()
            .map(|c| it.extra.get(c).cloned().unwrap_or_default());
        for (j, f) in fields.into_iter().chain(extras).enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(&csv_field(&f));
        }
        out.push('\n');
        ids.push(it.patient_id);
    }
    let mut a = auth.audit("export", &name);
    a.count = ids.len() as u64;
    a.patients = ids;
    a.detail = format!("csv, run {}", run.as_of_text);
    app.writer
        .write(Write::AuditOnly, a)
        .await
        .map_err(|e| AppError::internal(auth.api, e))?;
    Ok(out)
}

/// One open gap of a person.
#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    pub criterion: String,
    pub title: String,
    pub action: Option<String>,
    pub priority: Option<f64>,
    pub status: String,
    pub evidence: String,
}

/// The effective consent of one scope.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentState {
    pub scope: String,
    /// `false` when the latest decision (service or data) withdraws it.
    pub allowed: bool,
    pub since: Option<String>,
}

/// A person's page.
#[derive(Debug, Clone, Serialize)]
pub struct PersonDetail {
    pub patient_id: String,
    pub clinic: String,
    pub as_of: String,
    pub age: Option<f64>,
    pub sex: Option<String>,
    pub cv_risk_pct: Option<f64>,
    pub cv_model: Option<String>,
    pub cv_band: Option<String>,
    pub cv_reason: Option<String>,
    pub utilisation_tier: Option<String>,
    pub utilisation: Option<f64>,
    pub utilisation_measure: Option<String>,
    /// On the clinic's list now: its row.
    pub listed: Option<ListItem>,
    /// Taken off the list by the service's records: why.
    pub off_list: Option<String>,
    pub gaps: Vec<Gap>,
    pub consents: Vec<ConsentState>,
    pub service_outcomes: Vec<OutcomeRow>,
    pub service_consents: Vec<ConsentRow>,
    pub data_contacts: Vec<DataContact>,
    pub data_consents: Vec<DataConsent>,
}

fn off_name(o: Off) -> &'static str {
    match o {
        Off::ConsentWithdrawn => "consent_withdrawn",
        Off::Booked => "booked",
        Off::Resting => "cool_down",
    }
}

/// A person's page; audited (`person_view`).
pub async fn person(
    app: &Shared,
    auth: &Auth,
    run: &Run,
    person: u32,
) -> Result<PersonDetail, AppError> {
    let p = &run.people[person as usize];
    let clinic = run.clinics[p.clinic as usize].clone();
    let firings: Vec<Firing> = run
        .firings_of(person)
        .map_err(|e| AppError::internal(auth.api, e))?;
    let id = p.id.clone();
    let (outcomes, consents) = app
        .read(move |c| store::person_history(c, &id))
        .await
        .map_err(|e| AppError::internal(auth.api, e))?;
    let list = current_list(app, run, p.clinic as usize);
    let capacity = app.config.capacities.of(&clinic);
    let listed = list
        .position_of(run, p.clinic as usize, person)
        .map(|(pos, r)| item(app, run, r, pos, capacity));
    let off_list = {
        let o = app.overlay.read().unwrap_or_else(|e| e.into_inner());
        // The person's first row of the run's list of their clinic.
        let crit = run
            .list_positions(person)
            .find(|&(c, _)| c == p.clinic as usize)
            .map(|(c, i)| &run.lists[c][i].criteria);
        crit.and_then(|c| o.off_list(&p.id, c, today(), &app.config.cooldowns))
            .map(|x| off_name(x).to_string())
    };
    let data_consents = run.data_consents.get(&person).cloned().unwrap_or_default();
    let consent_states = store::SCOPES
        .iter()
        .map(|scope| {
            let svc = consents
                .iter()
                .filter(|c| c.scope == *scope)
                .max_by(|a, b| a.time.cmp(&b.time));
            let dat = data_consents
                .iter()
                .filter(|c| c.scope == *scope)
                .max_by(|a, b| {
                    // Same day: a withdrawal wins.
                    a.date.cmp(&b.date).then(b.granted.cmp(&a.granted))
                });
            match (svc, dat) {
                (Some(s), _) => ConsentState {
                    scope: scope.to_string(),
                    allowed: s.granted,
                    since: Some(s.day.clone()),
                },
                (None, Some(d)) => ConsentState {
                    scope: scope.to_string(),
                    allowed: d.granted,
                    since: Some(d.date.clone()),
                },
                (None, None) => ConsentState {
                    scope: scope.to_string(),
                    allowed: true,
                    since: None,
                },
            }
        })
        .collect();
    let gaps = firings
        .into_iter()
        .map(|f| {
            let t = run.texts.get(&f.criterion);
            Gap {
                title: t.map_or_else(|| f.criterion.clone(), |t| t.title.clone()),
                action: t.and_then(|t| t.action.clone()),
                criterion: f.criterion,
                priority: f.priority,
                status: f.status,
                evidence: f.evidence,
            }
        })
        .collect();
    let mut a = auth.audit("person_view", &clinic);
    a.patients = vec![p.id.clone()];
    a.count = 1;
    a.detail = format!("run {}", run.as_of_text);
    app.writer
        .write(Write::AuditOnly, a)
        .await
        .map_err(|e| AppError::internal(auth.api, e))?;
    Ok(PersonDetail {
        patient_id: p.id.clone(),
        clinic,
        as_of: run.as_of_text.clone(),
        age: p.age,
        sex: p.sex.clone(),
        cv_risk_pct: p.cv_risk_pct,
        cv_model: p.cv_model.clone(),
        cv_band: p.cv_band.clone(),
        cv_reason: p.cv_reason.clone(),
        utilisation_tier: p.utilisation_tier.clone(),
        utilisation: p.utilisation,
        utilisation_measure: p.utilisation_measure.clone(),
        listed,
        off_list,
        gaps,
        consents: consent_states,
        service_outcomes: outcomes,
        service_consents: consents,
        data_contacts: run.history.get(&person).cloned().unwrap_or_default(),
        data_consents,
    })
}

/// The original identifier of a person of the scheduler's clinic, from the
/// service's re-identification file ([`super::reveal`]). The audit row
/// `reveal` is committed first, also when the person is not in the file; a
/// reveal that cannot be audited is not made.
pub async fn reveal(app: &Shared, auth: &Auth, run: &Run, person: u32) -> Result<String, AppError> {
    if app.reidentification.is_none() {
        return Err(AppError::new(
            auth.api,
            StatusCode::NOT_FOUND,
            "this service has no re-identification file: start it with \
             `caregap serve --reidentification FILE` (the file that \
             `caregap import --pseudonymise KEY --reidentification FILE` wrote)",
        ));
    }
    let p = &run.people[person as usize];
    let clinic = run.clinics[p.clinic as usize].clone();
    let (a, id) = (app.clone(), p.id.clone());
    // A stat, and a read when the file changed: off the async threads.
    let original = tokio::task::spawn_blocking(move || match &a.reidentification {
        Some(r) => r.original(&id),
        None => Ok(None),
    })
    .await
    .map_err(|e| AppError::internal(auth.api, e))?
    .map_err(|e| AppError::internal(auth.api, e))?;
    let mut a = auth.audit("reveal", &clinic);
    a.patients = vec![p.id.clone()];
    a.count = 1;
    a.detail = match original {
        Some(_) => "original identifier shown",
        None => "not in the re-identification file",
    }
    .to_string();
    app.writer
        .write(Write::AuditOnly, a)
        .await
        .map_err(|e| AppError::internal(auth.api, e))?;
    original.ok_or_else(|| {
        AppError::new(
            auth.api,
            StatusCode::NOT_FOUND,
            format!(
                "{} is not in the re-identification file: it was imported without \
                 --pseudonymise, or by another import than the file's",
                p.id
            ),
        )
    })
}

/// Longest note kept, in characters.
pub const MAX_NOTE: usize = 2000;

fn bad(api: bool, m: impl Into<String>) -> AppError {
    AppError::new(api, StatusCode::UNPROCESSABLE_ENTITY, m)
}

/// A note of an outcome or a consent decision is at most [`MAX_NOTE`] characters.
fn check_note(api: bool, note: &str) -> Result<(), AppError> {
    if note.chars().count() > MAX_NOTE {
        return Err(bad(
            api,
            format!("the note is longer than {MAX_NOTE} characters"),
        ));
    }
    Ok(())
}

/// Records an outcome for a person (committed, in the overlay, audited).
pub async fn record_outcome(
    app: &Shared,
    auth: &Auth,
    run: &Run,
    person: u32,
    outcome: &str,
    criterion: Option<&str>,
    note: &str,
) -> Result<OutcomeRow, AppError> {
    if !store::OUTCOMES.contains(&outcome) {
        return Err(bad(
            auth.api,
            format!(
                "unknown outcome {outcome:?}; one of {}",
                store::OUTCOMES.join(", ")
            ),
        ));
    }
    let criterion = criterion.map(str::trim).filter(|c| !c.is_empty());
    if let Some(c) = criterion
        && !run.texts.is_empty()
        && !run.texts.contains_key(c)
    {
        return Err(bad(auth.api, format!("unknown criterion {c:?}")));
    }
    check_note(auth.api, note)?;
    let p = &run.people[person as usize];
    let clinic = run.clinics[p.clinic as usize].clone();
    let mut row = OutcomeRow {
        id: 0,
        time: store::now_text(),
        day: format_day(today()),
        user: auth.user.name.clone(),
        clinic: clinic.clone(),
        patient_id: p.id.clone(),
        criterion_id: criterion.map(str::to_string),
        outcome: outcome.to_string(),
        note: note.to_string(),
    };
    let mut a = auth.audit("outcome", &clinic);
    a.patients = vec![p.id.clone()];
    a.count = 1;
    a.detail = format!("{outcome} {}", criterion.unwrap_or("(general)"));
    row.id = app
        .writer
        .write(Write::Outcome(row.clone()), a)
        .await
        .map_err(|e| AppError::internal(auth.api, e))?;
    Ok(row)
}

/// Records a consent decision on the person's behalf (committed, in effect at once, audited).
pub async fn record_consent(
    app: &Shared,
    auth: &Auth,
    run: &Run,
    person: u32,
    scope: &str,
    granted: bool,
    note: &str,
) -> Result<ConsentRow, AppError> {
    if !store::SCOPES.contains(&scope) {
        return Err(bad(
            auth.api,
            format!(
                "unknown scope {scope:?}; one of {}",
                store::SCOPES.join(", ")
            ),
        ));
    }
    check_note(auth.api, note)?;
    let p = &run.people[person as usize];
    let clinic = run.clinics[p.clinic as usize].clone();
    let mut row = ConsentRow {
        id: 0,
        time: store::now_text(),
        day: format_day(today()),
        user: auth.user.name.clone(),
        clinic: clinic.clone(),
        patient_id: p.id.clone(),
        scope: scope.to_string(),
        granted,
        note: note.to_string(),
    };
    let mut a = auth.audit("consent", &clinic);
    a.patients = vec![p.id.clone()];
    a.count = 1;
    a.detail = format!("{scope} {}", if granted { "granted" } else { "withdrawn" });
    row.id = app
        .writer
        .write(Write::Consent(row.clone()), a)
        .await
        .map_err(|e| AppError::internal(auth.api, e))?;
    Ok(row)
}

/// A count as published: the number, or `None` when suppressed.
pub type Shown = Option<u64>;

/// One criterion's row of the overview table.
#[derive(Debug, Clone, Serialize)]
pub struct OverviewRow {
    pub criterion: String,
    pub title: String,
    /// Per clinic (as in [`Overview::clinics`]): open gaps, eligible, rate %.
    pub open: Vec<Shown>,
    pub eligible: Vec<Shown>,
    pub rate: Vec<Option<f64>>,
    pub all_open: Shown,
    pub all_eligible: Shown,
    pub all_rate: Option<f64>,
}

/// An analyst's overview: aggregates only, small cells suppressed.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub as_of: String,
    pub library_hash: Option<String>,
    pub min_cell: u64,
    pub people: Shown,
    pub listed: Shown,
    pub open_gaps: Shown,
    pub clinics: Vec<String>,
    pub listed_by_clinic: Vec<Shown>,
    /// Per clinic: the most frequent open gaps (criterion, open), shown counts only.
    pub top_gaps: Vec<Vec<(String, u64)>>,
    pub rows: Vec<OverviewRow>,
    /// Outcomes and consent decisions recorded in the service (all time).
    pub outcomes_recorded: Shown,
    pub consents_recorded: Shown,
    /// Runs beside this one (as_of, folder, open gaps in the city), when there are several.
    pub trend: Vec<(String, String, Shown)>,
    /// Since the previous run (a nightly run's diff; suppressed already).
    pub changes: Option<crate::runs::diff::DiffSummary>,
    /// Does outreach close gaps (a nightly run's effect; suppressed already).
    pub effect: Vec<crate::runs::effect::EffectRow>,
}

fn show(v: u64, k: u64) -> Shown {
    (v >= k).then_some(v)
}

/// The overview; audited (`overview`, no people).
pub async fn overview(
    app: &Shared,
    auth: &Auth,
    run: &Run,
    filter: &str,
) -> Result<Overview, AppError> {
    let k = app.config.min_cell;
    let clinics = run.clinics.clone();
    let at: BTreeMap<&str, usize> = clinics
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    // Per criterion: open and eligible per clinic, then the whole city's.
    type Counts4 = (Vec<u64>, Vec<u64>, u64, u64);
    let mut by: BTreeMap<&str, Counts4> = BTreeMap::new();
    for r in &run.summary {
        let e = by
            .entry(r.criterion.as_str())
            .or_insert_with(|| (vec![0; clinics.len()], vec![0; clinics.len()], 0, 0));
        if r.clinic == "ALL" {
            e.2 = r.open;
            e.3 = r.eligible;
        } else if let Some(&i) = at.get(r.clinic.as_str()) {
            e.0[i] = r.open;
            e.1[i] = r.eligible;
        }
    }
    let ids: Vec<&str> = by.keys().copied().collect();
    // Open gaps and eligible people: criteria × clinics with the whole-city total per criterion.
    let table = |which: usize| {
        let cells: Vec<Vec<u64>> = ids
            .iter()
            .map(|c| {
                if which == 0 {
                    by[c].0.clone()
                } else {
                    by[c].1.clone()
                }
            })
            .collect();
        let totals: Vec<u64> = ids
            .iter()
            .map(|c| if which == 0 { by[c].2 } else { by[c].3 })
            .collect();
        let counts = Counts {
            cells,
            row_totals: Some(totals),
            col_totals: None,
            grand: None,
        };
        let m = suppress(&counts, k);
        (counts, m)
    };
    let (oc, om) = table(0);
    let (ec, em) = table(1);
    let filter = filter.trim().to_lowercase();
    let mut rows = Vec::new();
    for (i, c) in ids.iter().enumerate() {
        let title = run
            .texts
            .get(*c)
            .map_or_else(|| c.to_string(), |t| t.title.clone());
        if !filter.is_empty()
            && !c.to_lowercase().contains(&filter)
            && !title.to_lowercase().contains(&filter)
        {
            continue;
        }
        let cell = |cnt: &Counts, m: &crate::report::suppress::Mask, j: usize| {
            (!m.cells[i][j]).then_some(cnt.cells[i][j])
        };
        let open: Vec<Shown> = (0..clinics.len()).map(|j| cell(&oc, &om, j)).collect();
        let eligible: Vec<Shown> = (0..clinics.len()).map(|j| cell(&ec, &em, j)).collect();
        let rate = open
            .iter()
            .zip(&eligible)
            .map(|(o, e)| match (o, e) {
                (Some(o), Some(e)) if *e > 0 => Some(100.0 * *o as f64 / *e as f64),
                _ => None,
            })
            .collect();
        let all_open = (!om.row_totals[i]).then_some(oc.row_totals.as_ref().map_or(0, |t| t[i]));
        let all_eligible =
            (!em.row_totals[i]).then_some(ec.row_totals.as_ref().map_or(0, |t| t[i]));
        let all_rate = match (all_open, all_eligible) {
            (Some(o), Some(e)) if e > 0 => Some(100.0 * o as f64 / e as f64),
            _ => None,
        };
        rows.push(OverviewRow {
            criterion: c.to_string(),
            title,
            open,
            eligible,
            rate,
            all_open,
            all_eligible,
            all_rate,
        });
    }
    let top_gaps = (0..clinics.len())
        .map(|j| {
            let mut v: Vec<(String, u64)> = ids
                .iter()
                .enumerate()
                .filter(|(i, _)| !om.cells[*i][j])
                .map(|(i, c)| (c.to_string(), oc.cells[i][j]))
                .collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            v.truncate(5);
            v
        })
        .collect();
    // Listed people per clinic with their total: suppressed as one line.
    let lc = Counts {
        cells: vec![run.lists.iter().map(|l| l.len() as u64).collect()],
        row_totals: Some(vec![run.lists.iter().map(|l| l.len() as u64).sum()]),
        col_totals: None,
        grand: None,
    };
    let lm = suppress(&lc, k);
    let listed_by_clinic: Vec<Shown> = (0..clinics.len())
        .map(|j| (!lm.cells[0][j]).then_some(lc.cells[0][j]))
        .collect();
    let listed_shown = (!lm.row_totals[0]).then_some(lc.row_totals.as_ref().map_or(0, |t| t[0]));
    let open_gaps: u64 = by.values().map(|v| v.2).sum();
    let (o, c) = app
        .read(|c| Ok((store::count(c, "outcomes")?, store::count(c, "consents")?)))
        .await
        .map_err(|e| AppError::internal(auth.api, e))?;
    let mut a = auth.audit("overview", "");
    a.detail = format!("run {}", run.as_of_text);
    app.writer
        .write(Write::AuditOnly, a)
        .await
        .map_err(|e| AppError::internal(auth.api, e))?;
    Ok(Overview {
        as_of: run.as_of_text.clone(),
        library_hash: run.library_hash.clone(),
        min_cell: k,
        people: show(run.people.len() as u64, k),
        listed: listed_shown,
        open_gaps: show(open_gaps, k),
        clinics,
        listed_by_clinic,
        top_gaps,
        rows,
        outcomes_recorded: show(o as u64, k),
        consents_recorded: show(c as u64, k),
        trend: run
            .trend
            .iter()
            .map(|t| (t.as_of.clone(), t.folder.clone(), show(t.open, k)))
            .collect(),
        changes: run.changes.clone(),
        effect: run
            .effect
            .as_ref()
            .map_or_else(Vec::new, |e| e.rows.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::Person;
    use proptest::prelude::*;

    /// The list as it is now, by the definition: every row of the run's
    /// list tested against the overlay, in order.
    fn slow_scan(run: &Run, clinic: usize, o: &Overlay, day: Day, cd: &Cooldowns) -> Vec<usize> {
        run.lists[clinic]
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                o.off_list(&run.people[r.person as usize].id, &r.criteria, day, cd)
                    .is_some()
            })
            .map(|(i, _)| i)
            .collect()
    }

    const CRITERIA: [&str; 3] = ["A", "B", "C"];

    /// A run of `people` people over `clinics` clinics, lists of random
    /// people (any clinic, repeats allowed) with random listed gaps; and the
    /// service's records about random people (some unknown to the run).
    fn case() -> impl Strategy<Value = (Run, Overlay, Day)> {
        (1usize..30, 1usize..4).prop_flat_map(|(people, clinics)| {
            let person = (0..people as u32, 0u8..8);
            let lists = prop::collection::vec(prop::collection::vec(person, 0..40), clinics);
            let contact = (0..people as u32 + 2, -100i32..3, 0usize..5, 0usize..4);
            let contacts = prop::collection::vec(contact, 0..25);
            let consent = (0..people as u32 + 2, 0u32..50, any::<bool>());
            let consents = prop::collection::vec(consent, 0..6);
            let homes = prop::collection::vec(0..clinics as u32, people);
            (lists, contacts, consents, homes).prop_map(
                move |(lists, contacts, consents, homes)| {
                    let today: Day = 20_600;
                    let people: Vec<Person> = homes
                        .iter()
                        .enumerate()
                        .map(|(i, &c)| Person {
                            id: (i + 1).to_string(),
                            clinic: c,
                            ..Person::default()
                        })
                        .collect();
                    let lists = lists
                        .into_iter()
                        .map(|l| {
                            l.into_iter()
                                .enumerate()
                                .map(|(i, (p, gaps))| ListRow {
                                    person: p,
                                    rank: i as u32 + 1,
                                    criteria: CRITERIA
                                        .iter()
                                        .enumerate()
                                        .filter(|(k, _)| gaps & (1 << k) != 0)
                                        .map(|(_, c)| c.to_string())
                                        .collect(),
                                    ..ListRow::default()
                                })
                                .collect()
                        })
                        .collect();
                    let clinic_ids = (0..clinics).map(|c| format!("HC{c:02}")).collect();
                    let run = Run::in_memory(today, clinic_ids, people, lists);
                    let mut o = Overlay::default();
                    for (p, d, outcome, crit) in contacts {
                        o.add_outcome(&OutcomeRow {
                            id: 0,
                            time: format!("t{:03}", d + 100),
                            day: format_day(today + d),
                            user: "u".into(),
                            clinic: "HC00".into(),
                            patient_id: (p + 1).to_string(),
                            criterion_id: CRITERIA.get(crit).map(|c| c.to_string()),
                            outcome: store::OUTCOMES[outcome].into(),
                            note: String::new(),
                        });
                    }
                    for (p, t, granted) in consents {
                        o.add_consent(&ConsentRow {
                            id: 0,
                            time: format!("t{t:03}"),
                            day: format_day(today),
                            user: "u".into(),
                            clinic: "HC00".into(),
                            patient_id: (p + 1).to_string(),
                            scope: "outreach".into(),
                            granted,
                            note: String::new(),
                        });
                    }
                    (run, o, today)
                },
            )
        })
    }

    proptest! {
        /// The indexed list (rows taken off, pages, a person's position)
        /// equals a scan of the whole list.
        #[test]
        fn indexed_list_equals_a_full_scan((run, o, today) in case()) {
            let cd = Cooldowns::default();
            let all = taken_off(&run, &o, today, &cd);
            prop_assert_eq!(all.len(), run.clinics.len());
            for (clinic, off) in all.into_iter().enumerate() {
                prop_assert_eq!(&off, &slow_scan(&run, clinic, &o, today, &cd));
                let list = CurrentList { rows: &run.lists[clinic], off };
                let now: Vec<&ListRow> = run.lists[clinic]
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| list.off.binary_search(i).is_err())
                    .map(|(_, r)| r)
                    .collect();
                prop_assert_eq!(list.len(), now.len());
                for start in 0..=now.len() + 1 {
                    let fast: Vec<(usize, u32)> =
                        list.from(start).map(|(pos, r)| (pos, r.rank)).collect();
                    let slow: Vec<(usize, u32)> = now
                        .iter()
                        .enumerate()
                        .skip(start)
                        .map(|(i, r)| (i + 1, r.rank))
                        .collect();
                    prop_assert_eq!(fast, slow);
                }
                for person in 0..run.people.len() as u32 {
                    let fast = list
                        .position_of(&run, clinic, person)
                        .map(|(pos, r)| (pos, r.rank));
                    let slow = now
                        .iter()
                        .position(|r| r.person == person)
                        .map(|i| (i + 1, now[i].rank));
                    prop_assert_eq!(fast, slow);
                }
            }
        }
    }
}
