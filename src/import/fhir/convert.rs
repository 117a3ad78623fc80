//! One FHIR resource → rows of the data model (the rules are in docs/import.md).

use std::collections::HashMap;

use super::resource::{CodeableConcept, Coding, MedicationPart, Quantity, Resource, Str};
use crate::import::date;
use crate::import::mapping::{Mapping, Unit};
use crate::import::report::Loc;
use crate::import::rows::{Chunk, ConsentRow, EventRow, Kind, NO_UNIT, PatientRow, PendingMed};

/// The resource types read, by index (`EventRow::rtype`).
pub const TYPES: [&str; 11] = [
    "Patient",
    "Encounter",
    "Condition",
    "Observation",
    "MedicationRequest",
    "MedicationDispense",
    "MedicationStatement",
    "Immunization",
    "Procedure",
    "Consent",
    "Medication",
];

pub use crate::import::report::NOT_IMPORTED;
/// The pseudo-type lines that are not resources are counted under.
pub const UNREADABLE: &str = "(unreadable)";

pub fn type_name(t: u8) -> &'static str {
    TYPES.get(t as usize).copied().unwrap_or("?")
}

/// What a resource is read with.
pub struct Ctx<'a> {
    pub mapping: &'a Mapping,
    pub file: u32,
    pub file_name: &'a str,
    /// In a Bundle: `fullUrl` → patient key of the Bundle's Patient entries.
    pub urns: Option<&'a HashMap<String, String>>,
}

impl Ctx<'_> {
    fn example(&self, line: u32, detail: &str) -> String {
        if detail.is_empty() {
            format!("{}:{line}", self.file_name)
        } else {
            format!("{}:{line} ({detail})", self.file_name)
        }
    }
}

/// The patient key a reference points at: a Bundle-local `urn:` resolved
/// through the Bundle's Patient entries; `Patient/123`, `.../Patient/123/_history/2` → `123`.
pub fn patient_key<'r>(reference: &'r str, urns: Option<&'r HashMap<String, String>>) -> &'r str {
    if let Some(k) = urns.and_then(|u| u.get(reference)) {
        return k;
    }
    match reference.rfind("Patient/") {
        Some(i) => {
            let rest = &reference[i + "Patient/".len()..];
            rest.split('/').next().unwrap_or(rest)
        }
        None => reference,
    }
}

/// Reads one resource's JSON text into `chunk`. `full_url` is the Bundle
/// entry's (for a Patient without an id and for Medication references).
pub fn resource(chunk: &mut Chunk, ctx: &Ctx, json: &str, line: u32, full_url: Option<&str>) {
    let loc = Loc {
        file: ctx.file,
        line,
    };
    let r: Resource = match serde_json::from_str(json) {
        Ok(r) => r,
        Err(e) => {
            // Name the type if the text at least says it.
            let ty = peek_type(json).unwrap_or(UNREADABLE);
            chunk.report.read(ty);
            let why = if e.is_syntax() || e.is_eof() {
                "malformed JSON"
            } else {
                "JSON does not have the FHIR R4 shape"
            };
            chunk
                .report
                .reject(ty, why, || ctx.example(line, &e.to_string()));
            return;
        }
    };
    let Some(ty) = r.resource_type.as_deref() else {
        chunk.report.read(UNREADABLE);
        chunk
            .report
            .reject(UNREADABLE, "no resourceType", || ctx.example(line, ""));
        return;
    };
    let Some(t) = TYPES.iter().position(|&x| x == ty) else {
        chunk.report.read(ty);
        chunk
            .report
            .reject(ty, NOT_IMPORTED, || ctx.example(line, ""));
        return;
    };
    let ty = TYPES[t];
    chunk.report.read(ty);
    let mut rd = Reader {
        chunk,
        ctx,
        ty,
        t: t as u8,
        line,
        loc,
    };
    match ty {
        "Patient" => rd.patient(&r, full_url),
        "Medication" => rd.medication(&r, full_url),
        "Consent" => rd.consent(&r),
        _ => rd.events(&r),
    }
}

fn peek_type(json: &str) -> Option<&'static str> {
    let i = json.find("\"resourceType\"")?;
    let rest = json[i + 14..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let name = &rest[..rest.find('"')?];
    TYPES.iter().copied().find(|&t| t == name)
}

struct Reader<'c, 'x> {
    chunk: &'c mut Chunk,
    ctx: &'c Ctx<'x>,
    ty: &'static str,
    t: u8,
    line: u32,
    loc: Loc,
}

/// A value and unit to attach to events.
#[derive(Clone, Copy)]
struct Val {
    value: Option<f64>,
    unit: u32,
}

const NO_VAL: Val = Val {
    value: None,
    unit: NO_UNIT,
};

impl Reader<'_, '_> {
    fn reject(&mut self, why: &str, detail: &str) {
        let (ctx, line) = (self.ctx, self.line);
        self.chunk
            .report
            .reject(self.ty, why, || ctx.example(line, detail));
    }

    /// A FHIR date → day, counting its precision; `None` (after rejecting)
    /// when missing or not a date.
    fn date(&mut self, s: Option<&str>, what: &str) -> Option<i32> {
        let Some(s) = s else {
            self.reject(&format!("no date ({what})"), "");
            return None;
        };
        match date::parse(s) {
            Some((d, p)) => {
                *self
                    .chunk
                    .report
                    .date_precision
                    .entry(p.name())
                    .or_default() += 1;
                Some(d)
            }
            None => {
                self.reject("date is not a FHIR date", s);
                None
            }
        }
    }

    /// The usable codings of a concept (mapped system, non-blank code), each once.
    fn codings(&mut self, cc: Option<&CodeableConcept>) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        let Some(codings) = cc.and_then(|c| c.coding.as_ref()) else {
            return out;
        };
        for c in codings {
            if let Some(pair) = self.coding(c)
                && !out.contains(&pair)
            {
                out.push(pair);
            }
        }
        out
    }

    fn coding(&mut self, c: &Coding) -> Option<(u32, u32)> {
        let code = c.code.as_deref().filter(|s| !s.trim().is_empty())?;
        let uri = c.system.as_deref().unwrap_or("(no system)");
        let Some(name) = self.ctx.mapping.system(uri) else {
            *self
                .chunk
                .report
                .unmapped_systems
                .entry(uri.to_string())
                .or_default() += 1;
            return None;
        };
        if !self.chunk.report.codings_by_system.contains_key(name) {
            self.chunk
                .report
                .codings_by_system
                .insert(name.to_string(), 0);
        }
        *self
            .chunk
            .report
            .codings_by_system
            .get_mut(name)
            .expect("inserted") += 1;
        Some((self.chunk.strings.id(name), self.chunk.strings.id(code)))
    }

    fn quantity(&mut self, q: Option<&Quantity>, integer: Option<f64>) -> Val {
        let Some(q) = q else {
            return Val {
                value: integer,
                unit: NO_UNIT,
            };
        };
        let unit =
            match self
                .ctx
                .mapping
                .unit(q.system.as_deref(), q.code.as_deref(), q.unit.as_deref())
            {
                Unit::None => NO_UNIT,
                Unit::Text(t) => self.chunk.strings.id(t),
            };
        Val {
            value: q.value.filter(|v| v.is_finite()),
            unit,
        }
    }

    fn subject(&mut self, r: &Resource) -> Option<u32> {
        let reference = r
            .subject
            .as_ref()
            .or(r.patient.as_ref())
            .and_then(|s| s.reference.as_deref());
        let Some(reference) = reference else {
            self.reject("no subject/patient reference", "");
            return None;
        };
        let key = patient_key(reference, self.ctx.urns);
        Some(self.chunk.refs.id(key))
    }

    fn status_left_out(&mut self, r: &Resource, statuses: &[&str]) -> bool {
        match r.status.as_deref() {
            Some(s) if statuses.contains(&s) => {
                self.reject(&format!("status {s}"), "");
                true
            }
            _ => false,
        }
    }

    fn push(&mut self, kind: Kind, patient: u32, date: i32, codings: &[(u32, u32)], v: Val) {
        for (i, &(system, code)) in codings.iter().enumerate() {
            self.chunk.events.push(EventRow {
                patient,
                date,
                kind,
                first: i == 0,
                rtype: self.t,
                system,
                code,
                unit: v.unit,
                value: v.value,
                loc: self.loc,
            });
        }
    }

    fn patient(&mut self, r: &Resource, full_url: Option<&str>) {
        let Some(key) = r.id.as_deref().or(full_url) else {
            self.reject("Patient has no id", "");
            return;
        };
        let key = key.to_string();
        if r.deceased_boolean == Some(true) && r.deceased_date_time.is_none() {
            self.reject(
                "deceased without a date (cannot tell on which days the person was alive)",
                "",
            );
            return;
        }
        let Some(birth) = self.date(r.birth_date.as_deref(), "birthDate") else {
            return;
        };
        let death = match r.deceased_date_time.as_deref() {
            Some(s) => match self.date(Some(s), "deceasedDateTime") {
                Some(d) => Some(d),
                None => return,
            },
            None => None,
        };
        let sex = match r.gender.as_deref() {
            Some("female") => "F",
            Some("male") => "M",
            Some("other") => "other",
            _ => "unknown",
        };
        let org = |reference: &str| {
            reference
                .rfind("Organization/")
                .map(|i| reference[i + "Organization/".len()..].to_string())
        };
        let clinic = r
            .general_practitioner
            .iter()
            .flatten()
            .filter_map(|g| g.reference.as_deref())
            .find_map(org)
            .or_else(|| {
                r.managing_organization
                    .as_ref()
                    .and_then(|m| m.reference.as_deref())
                    .and_then(org)
            });
        let municipality = r
            .address
            .iter()
            .flatten()
            .find_map(|a| a.city.as_deref())
            .map(str::to_string);
        let comms = r.communication.as_deref().unwrap_or(&[]);
        let language = comms
            .iter()
            .find(|c| c.preferred == Some(true))
            .or(comms.first())
            .and_then(|c| c.language.as_ref())
            .and_then(|l| l.coding.as_ref())
            .and_then(|c| c.first())
            .and_then(|c| c.code.as_deref())
            .map(str::to_string);
        let id = self.chunk.refs.id(&key);
        self.chunk.patients.push(PatientRow {
            id,
            birth,
            sex: sex.to_string(),
            clinic,
            death,
            municipality,
            language,
            loc: self.loc,
        });
    }

    fn medication(&mut self, r: &Resource, full_url: Option<&str>) {
        let codings = self.codings(r.code.as_ref());
        let mut keys = Vec::new();
        if let Some(id) = r.id.as_deref() {
            keys.push(format!("Medication/{id}"));
        }
        if let Some(u) = full_url {
            keys.push(u.to_string());
        }
        if keys.is_empty() {
            self.reject("Medication has no id", "");
            return;
        }
        for k in keys {
            self.chunk.medications.push((k, codings.clone()));
        }
        self.chunk.report.used(self.ty);
    }

    fn consent(&mut self, r: &Resource) {
        match r.status.as_deref() {
            Some("active") => {}
            other => {
                let s = other.unwrap_or("missing");
                self.reject(
                    &format!("status {s} (only active consents are decisions in force)"),
                    "",
                );
                return;
            }
        }
        let mut scope = None;
        let mut look = |cc: &CodeableConcept| {
            for c in cc.coding.iter().flatten() {
                match c.code.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    Some("outreach") => scope = scope.or(Some("outreach")),
                    Some("research") => scope = scope.or(Some("research")),
                    _ => {}
                }
            }
        };
        if let Some(s) = &r.scope {
            look(s);
        }
        if let Some(raw) = r.category
            && let Ok(cats) = serde_json::from_str::<Vec<CodeableConcept>>(raw.get())
        {
            cats.iter().for_each(&mut look);
        }
        let Some(scope) = scope else {
            self.reject(
                "scope is neither outreach nor research (no coding with either code in scope or category)",
                "",
            );
            return;
        };
        let granted = match r.provision.as_ref().and_then(|p| p.type_.as_deref()) {
            Some("permit") => true,
            Some("deny") => false,
            _ => {
                self.reject("no decision (provision.type permit or deny)", "");
                return;
            }
        };
        let Some(patient) = self.subject(r) else {
            return;
        };
        let Some(date) = self.date(r.date_time.as_deref(), "dateTime") else {
            return;
        };
        self.chunk.consents.push(ConsentRow {
            patient,
            scope,
            granted,
            date,
            loc: self.loc,
        });
    }

    fn events(&mut self, r: &Resource) {
        let first = |a: &Option<Str>, p: &Option<super::resource::Period>| {
            a.as_deref().map(str::to_string).or_else(|| {
                p.as_ref()
                    .and_then(|p| p.start.as_deref().or(p.end.as_deref()))
                    .map(str::to_string)
            })
        };
        match self.ty {
            "Encounter" => {
                if self.status_left_out(r, &["planned", "cancelled", "entered-in-error"]) {
                    return;
                }
                let mut codings = Vec::new();
                if let Some(raw) = r.type_
                    && let Ok(types) = serde_json::from_str::<Vec<CodeableConcept>>(raw.get())
                {
                    for t in &types {
                        for c in self.codings(Some(t)) {
                            if !codings.contains(&c) {
                                codings.push(c);
                            }
                        }
                    }
                }
                if codings.is_empty()
                    && let Some(raw) = r.class
                    && let Ok(class) = serde_json::from_str::<Coding>(raw.get())
                {
                    codings.extend(self.coding(&class));
                }
                let date = first(&None, &r.period);
                self.finish(r, Kind::Visit, codings, date.as_deref(), "period", NO_VAL);
            }
            "Condition" => {
                let verification = r
                    .verification_status
                    .as_ref()
                    .and_then(|v| v.coding.as_ref())
                    .into_iter()
                    .flatten()
                    .find_map(|c| match c.code.as_deref() {
                        Some(s @ ("entered-in-error" | "refuted")) => Some(s),
                        _ => None,
                    });
                if let Some(s) = verification {
                    self.reject(&format!("verificationStatus {s}"), "");
                    return;
                }
                let codings = self.codings(r.code.as_ref());
                let date = first(&r.onset_date_time, &r.onset_period)
                    .or_else(|| r.recorded_date.as_deref().map(str::to_string));
                self.finish(
                    r,
                    Kind::Diagnosis,
                    codings,
                    date.as_deref(),
                    "onset[x] or recordedDate",
                    NO_VAL,
                );
            }
            "Observation" => {
                if self.status_left_out(r, &["entered-in-error", "cancelled"]) {
                    return;
                }
                let date = first(&r.effective_date_time, &r.effective_period)
                    .or_else(|| r.effective_instant.as_deref().map(str::to_string))
                    .or_else(|| r.issued.as_deref().map(str::to_string));
                let components = r.component.as_deref().unwrap_or(&[]);
                let has_value = r.value_quantity.is_some() || r.value_integer.is_some();
                let mut groups: Vec<(Vec<(u32, u32)>, Val)> = Vec::new();
                for c in components {
                    let codings = self.codings(c.code.as_ref());
                    let v = self.quantity(c.value_quantity.as_ref(), c.value_integer);
                    groups.push((codings, v));
                }
                if components.is_empty() || has_value {
                    let codings = self.codings(r.code.as_ref());
                    let v = self.quantity(r.value_quantity.as_ref(), r.value_integer);
                    groups.insert(0, (codings, v));
                }
                if groups.iter().all(|(c, _)| c.is_empty()) {
                    self.reject("no coding in a mapped code system", "");
                    return;
                }
                let Some(patient) = self.subject(r) else {
                    return;
                };
                let Some(date) = self.date(date.as_deref(), "effective[x] or issued") else {
                    return;
                };
                let mut first_event = true;
                for (codings, v) in groups {
                    let start = self.chunk.events.len();
                    self.push(Kind::Measurement, patient, date, &codings, v);
                    if let Some(e) = self.chunk.events.get_mut(start) {
                        e.first = first_event;
                        first_event = false;
                    }
                }
            }
            "MedicationRequest" | "MedicationDispense" | "MedicationStatement" => {
                let (left_out, date, what, supply): (&[&str], Option<String>, &str, Option<f64>) =
                    match self.ty {
                        "MedicationRequest" => (
                            &["entered-in-error", "cancelled", "draft"],
                            r.authored_on.as_deref().map(str::to_string),
                            "authoredOn",
                            r.dispense_request
                                .as_ref()
                                .and_then(|d| d.expected_supply_duration.as_ref())
                                .and_then(duration_days),
                        ),
                        "MedicationDispense" => (
                            &["entered-in-error", "cancelled", "declined", "preparation"],
                            r.when_handed_over
                                .as_deref()
                                .or(r.when_prepared.as_deref())
                                .map(str::to_string),
                            "whenHandedOver or whenPrepared",
                            r.days_supply.as_ref().and_then(duration_days),
                        ),
                        _ => (
                            &["entered-in-error", "not-taken", "intended"],
                            first(&r.effective_date_time, &r.effective_period)
                                .or_else(|| r.date_asserted.as_deref().map(str::to_string)),
                            "effective[x] or dateAsserted",
                            None,
                        ),
                    };
                if self.status_left_out(r, left_out) {
                    return;
                }
                let v = Val {
                    value: supply,
                    unit: NO_UNIT,
                };
                if let Some(cc) = &r.medication_codeable_concept {
                    let codings = self.codings(Some(cc));
                    self.finish(r, Kind::Medication, codings, date.as_deref(), what, v);
                    return;
                }
                let Some(reference) = r
                    .medication_reference
                    .as_ref()
                    .and_then(|m| m.reference.as_deref())
                else {
                    self.reject("no medication (medication[x])", "");
                    return;
                };
                if let Some(local) = reference.strip_prefix('#') {
                    let codings = self.contained(r, local);
                    self.finish(r, Kind::Medication, codings, date.as_deref(), what, v);
                    return;
                }
                // A Medication read elsewhere: resolved at the end.
                let Some(patient) = self.subject(r) else {
                    return;
                };
                let Some(day) = self.date(date.as_deref(), what) else {
                    return;
                };
                let key = match reference.rfind("Medication/") {
                    Some(i) => reference[i..].to_string(),
                    None => reference.to_string(),
                };
                self.chunk.pending.push(PendingMed {
                    event: EventRow {
                        patient,
                        date: day,
                        kind: Kind::Medication,
                        first: true,
                        rtype: self.t,
                        system: 0,
                        code: 0,
                        unit: NO_UNIT,
                        value: v.value,
                        loc: self.loc,
                    },
                    reference: key,
                });
            }
            "Immunization" => {
                if self.status_left_out(r, &["not-done", "entered-in-error"]) {
                    return;
                }
                let codings = self.codings(r.vaccine_code.as_ref());
                let date = r.occurrence_date_time.as_deref().map(str::to_string);
                self.finish(
                    r,
                    Kind::Immunization,
                    codings,
                    date.as_deref(),
                    "occurrenceDateTime",
                    NO_VAL,
                );
            }
            "Procedure" => {
                if self.status_left_out(r, &["not-done", "entered-in-error", "preparation"]) {
                    return;
                }
                let codings = self.codings(r.code.as_ref());
                let date = first(&r.performed_date_time, &r.performed_period);
                self.finish(
                    r,
                    Kind::Procedure,
                    codings,
                    date.as_deref(),
                    "performed[x]",
                    NO_VAL,
                );
            }
            _ => unreachable!("every type of TYPES is handled"),
        }
    }

    fn contained(&mut self, r: &Resource, local: &str) -> Vec<(u32, u32)> {
        for raw in r.contained.iter().flatten() {
            if let Ok(m) = serde_json::from_str::<MedicationPart>(raw.get())
                && m.resource_type.as_deref() == Some("Medication")
                && m.id.as_deref() == Some(local)
            {
                return self.codings(m.code.as_ref());
            }
        }
        Vec::new()
    }

    /// The common end: codings, subject, date, then the events.
    fn finish(
        &mut self,
        r: &Resource,
        kind: Kind,
        codings: Vec<(u32, u32)>,
        date: Option<&str>,
        what: &str,
        v: Val,
    ) {
        if codings.is_empty() {
            self.reject("no coding in a mapped code system", "");
            return;
        }
        let Some(patient) = self.subject(r) else {
            return;
        };
        let Some(day) = self.date(date, what) else {
            return;
        };
        self.push(kind, patient, day, &codings, v);
    }
}

/// A duration (`daysSupply`, `expectedSupplyDuration`) in days: UCUM `d`,
/// `wk`; or a unit text `day(s)`, `week(s)`. Other units give no supply.
fn duration_days(q: &Quantity) -> Option<f64> {
    let v = q.value.filter(|v| v.is_finite())?;
    let unit = q.code.as_deref().or(q.unit.as_deref());
    match unit.map(str::trim) {
        None | Some("d" | "day" | "days" | "D") => Some(v),
        Some("wk" | "week" | "weeks") => Some(v * 7.0),
        _ => None,
    }
}
