//! Outreach with a known effect, for checking `caregap effect` against the
//! truth it was generated with (`caregap synth --outreach-contacts N
//! --outreach-effect E`).
//!
//! Both are off by default, and then nothing here draws a random number or
//! changes a row: every table is exactly what it was without them.
//!
//! - **Contacts** (`outreach_contacts` = N): every person alive and with
//!   hypertension or type 2 diabetes at some point of the last two years gets
//!   a Poisson(N) number of extra rows in the outreach log, each on a day
//!   drawn uniformly from the two years before `as_of` on which the person is
//!   alive and has the condition, about `HTN.BP_UNCONTROLLED` or
//!   `DM.HBA1C_OVERDUE` (one of the person's conditions, evenly), with the
//!   outcomes of the ordinary log: booked 40 %, declined 15 %, no answer
//!   30 %, not reachable 15 %. Whether the gap is open on that day plays no
//!   part (the log is not targeted: the estimator has to find the open gaps).
//! - **Effect** (`outreach_effect` = E, 0..=1): after every `booked` row about
//!   one of those two criteria (the ordinary log's and the extra ones), with
//!   probability E the measurement that closes the gap follows 1 to 21 days
//!   later: an HbA1c (LOINC 4548-4, mmol/mol) for `DM.HBA1C_OVERDUE`, a
//!   controlled blood pressure (128/78 mmHg, LOINC 8480-6 and 8462-4) for
//!   `HTN.BP_UNCONTROLLED`. The ordinary history is left as it was, so a
//!   booked person whose gap would have closed anyway closes it anyway:
//!   if p0 is the share of open gaps closed H days later without the call
//!   (H ≥ 21), the booked share is p0 + E (1 − p0), and the true difference
//!   booked − not contacted is **E (1 − p0)** (exactly, for the HbA1c gap,
//!   which a measurement closes for 12 months; the blood-pressure gap can
//!   reopen at the next uncontrolled measurement, so less than that).
//!
//! The draws come from person *i*'s stream of the seed mixed with a constant
//! of its own, so the other tables do not depend on them.

use crate::codes::Cond;
use crate::model::{
    Calendar, Day, Ev, Output, OutreachRow, Person, normal, outreach_outcome, poisson,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const STREAM_SALT: u64 = 0x6f75_7472_6561_6368; // "outreach"

/// The criteria whose closing measurement an effect adds.
pub const EFFECT_CRITERIA: [&str; 2] = ["DM.HBA1C_OVERDUE", "HTN.BP_UNCONTROLLED"];

/// Adds the extra contacts and the effect's measurements to one person's rows.
pub(crate) fn add(
    out: &mut Output,
    contacts: f64,
    effect: f64,
    seed: u64,
    idx: u64,
    p: &Person,
    cal: &Calendar,
) {
    if contacts <= 0.0 && effect <= 0.0 {
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ STREAM_SALT);
    rng.set_stream(idx);
    let as_of = cal.as_of;
    let from: Day = as_of - 730;
    if contacts > 0.0 {
        let conds: Vec<(Cond, &'static str)> = [
            (Cond::Htn, "HTN.BP_UNCONTROLLED"),
            (Cond::T2d, "DM.HBA1C_OVERDUE"),
        ]
        .into_iter()
        .filter(|(c, _)| p.has(*c, as_of) && p.alive_on(from.max(p.onset[*c as usize])))
        .collect();
        if !conds.is_empty() {
            for _ in 0..poisson(&mut rng, contacts) {
                let (c, criterion) = conds[rng.random_range(0..conds.len())];
                let first = from.max(p.onset[c as usize]) + 1;
                let last = as_of.min(p.death - 1);
                if first > last {
                    continue;
                }
                let date = rng.random_range(first..=last);
                let outcome = outreach_outcome(rng.random());
                out.outreach.push(OutreachRow {
                    date,
                    criterion: Some(criterion),
                    outcome,
                });
            }
            out.outreach.sort_by_key(|o| o.date);
        }
    }
    if effect <= 0.0 {
        return;
    }
    let mut added = false;
    for i in 0..out.outreach.len() {
        let o = out.outreach[i];
        let Some(criterion) = o.criterion else {
            continue;
        };
        if o.outcome != "booked" || !EFFECT_CRITERIA.contains(&criterion) {
            continue;
        }
        if rng.random::<f64>() >= effect {
            continue;
        }
        let date = o.date + rng.random_range(1..=21);
        if !p.in_life(date) || date > cal.end {
            continue;
        }
        let measurement = |code: &'static str, value: f64| Ev {
            date,
            kind: "measurement",
            system: "LOINC",
            code: Some(code),
            unit: Some("mmHg"),
            value: Some(value),
        };
        if criterion == "DM.HBA1C_OVERDUE" {
            let v = (48.0 + 6.0 * normal(&mut rng)).clamp(30.0, 110.0).round();
            out.events.push(Ev {
                unit: Some("mmol/mol"),
                ..measurement("4548-4", v)
            });
        } else {
            out.events.push(measurement("8480-6", 128.0));
            out.events.push(measurement("8462-4", 78.0));
        }
        added = true;
    }
    if added {
        out.events.sort_by_key(|e| e.date);
    }
}
