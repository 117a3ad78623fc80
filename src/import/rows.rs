//! The rows an import collects before it writes the data model's tables:
//! compact event rows with interned strings, patients, consents; chunk-local
//! collections ([`Chunk`]) parsed in parallel and merged in input order into
//! one [`Collected`], which [`Collected::finish`] turns into sorted tables.

use std::collections::HashMap;

use rayon::prelude::*;

use super::pseudonym::Key;
use super::report::{ImportReport, Loc, Partial};
use crate::data::Day;
pub use crate::data::EventKind as Kind;

/// `unit` of an event with no unit.
pub const NO_UNIT: u32 = u32::MAX;

/// Strings to dense ids.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    map: HashMap<String, u32>,
    pub strings: Vec<String>,
}

impl Interner {
    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.strings.len() as u32;
        self.strings.push(s.to_string());
        self.map.insert(s.to_string(), i);
        i
    }

    pub fn get(&self, s: &str) -> Option<u32> {
        self.map.get(s).copied()
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

/// One event. `patient` is a patient-reference id (chunk-local, then global,
/// then the patient's rank in the output); `system`, `code`, `unit` are string ids.
#[derive(Debug, Clone, Copy)]
pub struct EventRow {
    pub patient: u32,
    pub date: Day,
    pub kind: Kind,
    /// The first event of its resource (resources are counted by these).
    pub first: bool,
    /// The resource type (an index into the reader's list of types).
    pub rtype: u8,
    pub system: u32,
    pub code: u32,
    pub unit: u32,
    pub value: Option<f64>,
    pub loc: Loc,
}

/// One person.
#[derive(Debug, Clone)]
pub struct PatientRow {
    /// The patient-reference id of the person's own identifier.
    pub id: u32,
    pub birth: Day,
    pub sex: String,
    pub clinic: Option<String>,
    pub death: Option<Day>,
    pub municipality: Option<String>,
    pub language: Option<String>,
    pub loc: Loc,
}

/// One consent decision.
#[derive(Debug, Clone, Copy)]
pub struct ConsentRow {
    pub patient: u32,
    /// `outreach` or `research`.
    pub scope: &'static str,
    pub granted: bool,
    pub date: Day,
    pub loc: Loc,
}

/// A medication event whose code is in a Medication resource found elsewhere
/// (`medicationReference`), resolved when every input has been read.
#[derive(Debug, Clone)]
pub struct PendingMed {
    pub event: EventRow,
    /// The reference as written (`Medication/123`, `urn:uuid:...`).
    pub reference: String,
}

/// What one chunk of input produced (ids chunk-local).
#[derive(Debug, Default)]
pub struct Chunk {
    pub strings: Interner,
    pub refs: Interner,
    pub events: Vec<EventRow>,
    pub patients: Vec<PatientRow>,
    pub consents: Vec<ConsentRow>,
    /// Medication resources: reference key → codings (system, code string ids).
    pub medications: Vec<(String, Vec<(u32, u32)>)>,
    pub pending: Vec<PendingMed>,
    pub report: Partial,
}

/// Everything read so far (ids global).
#[derive(Debug, Default)]
pub struct Collected {
    pub strings: Interner,
    pub refs: Interner,
    pub events: Vec<EventRow>,
    pub patients: Vec<PatientRow>,
    /// Patient row of each reference id (`u32::MAX`: none yet).
    patient_of_ref: Vec<u32>,
    pub consents: Vec<ConsentRow>,
    pub medications: HashMap<String, Vec<(u32, u32)>>,
    pub pending: Vec<PendingMed>,
    pub report: ImportReport,
    /// What patient records are called in the report (`Patient` when empty; `person` for OMOP).
    pub patient_type: &'static str,
    /// Write integer ids as Int64 when every id is one (OMOP).
    pub integer_ids: bool,
}

/// The tables, ready to write: patients sorted by id, events by patient then
/// date (ties in input order), consents by patient then date.
#[derive(Debug)]
pub struct Tables {
    pub strings: Vec<String>,
    /// Output `patient_id` of each patient rank.
    pub ids: Vec<String>,
    /// Every output id is a 64-bit integer (OMOP `person_id` without
    /// pseudonyms): `patient_id` is written as Int64 and ordered numerically.
    pub int_ids: Option<Vec<i64>>,
    /// Patients in rank order.
    pub patients: Vec<PatientRow>,
    /// Events with `patient` = rank.
    pub events: Vec<EventRow>,
    /// Consents with `patient` = rank.
    pub consents: Vec<ConsentRow>,
    /// With a key: (pseudonym, original identifier) of every patient, by pseudonym.
    pub reidentification: Vec<(String, String)>,
}

/// Names a resource type index (for counting at the end).
pub type TypeName = fn(u8) -> &'static str;

impl Collected {
    /// Merges a chunk (chunks must be merged in input order).
    pub fn merge(&mut self, chunk: Chunk, example: impl Fn(Loc) -> String) {
        let Chunk {
            strings,
            refs,
            mut events,
            patients,
            mut consents,
            medications,
            mut pending,
            report,
        } = chunk;
        self.report.merge(report);
        let smap: Vec<u32> = strings.strings.iter().map(|s| self.strings.id(s)).collect();
        let rmap: Vec<u32> = refs.strings.iter().map(|s| self.refs.id(s)).collect();
        let remap = |e: &mut EventRow| {
            e.patient = rmap[e.patient as usize];
            e.system = smap[e.system as usize];
            e.code = smap[e.code as usize];
            if e.unit != NO_UNIT {
                e.unit = smap[e.unit as usize];
            }
        };
        events.iter_mut().for_each(remap);
        // A pending medication's system and code are placeholders until its
        // Medication is resolved (`finish`): only its patient is remapped.
        pending
            .iter_mut()
            .for_each(|p| p.event.patient = rmap[p.event.patient as usize]);
        consents
            .iter_mut()
            .for_each(|c| c.patient = rmap[c.patient as usize]);
        self.events.append(&mut events);
        self.consents.append(&mut consents);
        self.pending.append(&mut pending);
        for (key, codings) in medications {
            let codings = codings
                .into_iter()
                .map(|(s, c)| (smap[s as usize], smap[c as usize]))
                .collect();
            self.medications.entry(key).or_insert(codings);
        }
        self.patient_of_ref.resize(self.refs.len(), u32::MAX);
        for mut p in patients {
            p.id = rmap[p.id as usize];
            let slot = &mut self.patient_of_ref[p.id as usize];
            let name = if self.patient_type.is_empty() {
                "Patient"
            } else {
                self.patient_type
            };
            let t = self.report.resources.entry(name.into()).or_default();
            if *slot != u32::MAX {
                let r = t
                    .rejected
                    .entry("duplicate Patient id (the first one read is kept)".into())
                    .or_default();
                r.count += 1;
                if r.examples.len() < super::report::EXAMPLES {
                    r.examples.push(example(p.loc));
                }
                continue;
            }
            t.used += 1;
            *slot = self.patients.len() as u32;
            self.patients.push(p);
        }
    }

    /// Resolves medication references, drops (and counts) resources of
    /// unknown patients, orders and pseudonymises: the tables to write.
    pub fn finish(
        mut self,
        key: Option<&Key>,
        type_name: TypeName,
        example: impl Fn(Loc) -> String + Sync,
    ) -> (Tables, ImportReport) {
        let mut report = std::mem::take(&mut self.report);
        let reject = |report: &mut ImportReport, ty: &str, why: &str, loc: Loc| {
            let r = report
                .resources
                .entry(ty.to_string())
                .or_default()
                .rejected
                .entry(why.to_string())
                .or_default();
            r.count += 1;
            if r.examples.len() < super::report::EXAMPLES {
                r.examples.push(example(loc));
            }
        };
        // Medication references.
        for p in std::mem::take(&mut self.pending) {
            match self.medications.get(&p.reference) {
                Some(codings) if !codings.is_empty() => {
                    for (i, &(system, code)) in codings.iter().enumerate() {
                        self.events.push(EventRow {
                            system,
                            code,
                            first: i == 0,
                            ..p.event
                        });
                    }
                }
                Some(_) => reject(
                    &mut report,
                    type_name(p.event.rtype),
                    "referenced Medication has no coding in a mapped code system",
                    p.event.loc,
                ),
                None => reject(
                    &mut report,
                    type_name(p.event.rtype),
                    "medicationReference not found among the Medication resources read",
                    p.event.loc,
                ),
            }
        }
        // Output ids and ranks.
        self.patient_of_ref.resize(self.refs.len(), u32::MAX);
        let originals: Vec<&str> = self
            .patients
            .iter()
            .map(|p| self.refs.strings[p.id as usize].as_str())
            .collect();
        let out_ids: Vec<String> = match key {
            Some(k) => originals.par_iter().map(|s| k.pseudonym(s)).collect(),
            None => originals.iter().map(|s| s.to_string()).collect(),
        };
        let mut order: Vec<u32> = (0..self.patients.len() as u32).collect();
        let ints: Option<Vec<i64>> = if self.integer_ids && key.is_none() {
            // Int64 only when every id is an integer written canonically, so
            // that distinct ids stay distinct.
            out_ids
                .iter()
                .map(|s| s.parse::<i64>().ok().filter(|n| n.to_string() == *s))
                .collect()
        } else {
            None
        };
        match &ints {
            Some(n) => order.par_sort_by_key(|&a| n[a as usize]),
            None => order.par_sort_by(|&a, &b| out_ids[a as usize].cmp(&out_ids[b as usize])),
        }
        let mut rank_of_row = vec![0u32; self.patients.len()];
        for (rank, &row) in order.iter().enumerate() {
            rank_of_row[row as usize] = rank as u32;
        }
        let rank_of_ref: Vec<u32> = self
            .patient_of_ref
            .iter()
            .map(|&row| {
                if row == u32::MAX {
                    u32::MAX
                } else {
                    rank_of_row[row as usize]
                }
            })
            .collect();
        let reidentification = match key {
            Some(_) => order
                .iter()
                .map(|&r| {
                    (
                        out_ids[r as usize].clone(),
                        originals[r as usize].to_string(),
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        // Events: orphans out, used counted, sorted.
        let mut events = std::mem::take(&mut self.events);
        let mut used: HashMap<u8, u64> = HashMap::new();
        events.retain_mut(|e| {
            let rank = rank_of_ref[e.patient as usize];
            if rank == u32::MAX {
                if e.first {
                    reject(
                        &mut report,
                        type_name(e.rtype),
                        "subject is not an imported Patient",
                        e.loc,
                    );
                }
                return false;
            }
            if e.first {
                *used.entry(e.rtype).or_default() += 1;
            }
            e.patient = rank;
            true
        });
        for (t, n) in used {
            report
                .resources
                .entry(type_name(t).to_string())
                .or_default()
                .used += n;
        }
        events.par_sort_by_key(|e| (e.patient, e.date));
        for e in &events {
            *report
                .events_by_kind
                .entry(e.kind.as_str().to_string())
                .or_default() += 1;
        }
        let mut consents = std::mem::take(&mut self.consents);
        let mut consents_used = 0;
        consents.retain_mut(|c| {
            let rank = rank_of_ref[c.patient as usize];
            if rank == u32::MAX {
                reject(
                    &mut report,
                    "Consent",
                    "subject is not an imported Patient",
                    c.loc,
                );
                return false;
            }
            consents_used += 1;
            c.patient = rank;
            true
        });
        if consents_used > 0 {
            report.resources.entry("Consent".into()).or_default().used += consents_used;
        }
        consents.sort_by_key(|c| (c.patient, c.date));
        let mut patients: Vec<Option<PatientRow>> = std::mem::take(&mut self.patients)
            .into_iter()
            .map(Some)
            .collect();
        let patients: Vec<PatientRow> = order
            .iter()
            .map(|&r| patients[r as usize].take().expect("each row once"))
            .collect();
        let int_ids = ints.map(|n| order.iter().map(|&r| n[r as usize]).collect());
        let mut ids = vec![String::new(); out_ids.len()];
        for (row, id) in out_ids.into_iter().enumerate() {
            ids[rank_of_row[row] as usize] = id;
        }
        report.patients_without_clinic =
            patients.iter().filter(|p| p.clinic.is_none()).count() as u64;
        report.rows.insert("patients".into(), patients.len() as u64);
        report.rows.insert("events".into(), events.len() as u64);
        report.rows.insert("consents".into(), consents.len() as u64);
        (
            Tables {
                strings: self.strings.strings,
                ids,
                int_ids,
                patients,
                events,
                consents,
                reidentification,
            },
            report,
        )
    }
}
