//! A case file as an in-memory population, built the way the loader builds one:
//! codes normalised and dictionary-encoded, events grouped by person and sorted
//! by date.

use std::collections::HashMap;

use crate::data::{
    CodeEntry, CodeTable, DictColumn, Events, PatientIds, Patients, Population, normalise_code,
    normalise_system,
};

use super::format::CaseFile;

fn dict<'a>(values: impl Iterator<Item = &'a str>) -> DictColumn {
    let mut col = DictColumn::default();
    let mut ids: HashMap<&str, u32> = HashMap::new();
    for v in values {
        let next = col.values.len() as u32;
        let id = *ids.entry(v).or_insert_with(|| {
            col.values.push(v.to_string());
            next
        });
        col.codes.push(Some(id));
    }
    col
}

/// The population of a case file, loaded for the file's `as_of`. Patient ids
/// are the people's names; patient index `i` is the file's `i`-th person.
pub fn build_population(file: &CaseFile) -> Population {
    let mut codes: Vec<CodeEntry> = Vec::new();
    let mut code_ids: HashMap<CodeEntry, u32> = HashMap::new();
    let mut units: Vec<String> = vec![String::new()];
    let mut unit_ids: HashMap<&str, u32> = HashMap::new();
    let mut events = Events {
        offsets: vec![0],
        ..Events::default()
    };
    for person in &file.people {
        let mut order: Vec<usize> = (0..person.events.len()).collect();
        order.sort_by_key(|&i| person.events[i].date);
        for i in order {
            let e = &person.events[i];
            let entry = CodeEntry {
                kind: e.kind,
                system: normalise_system(&e.system),
                code: normalise_code(&e.code),
            };
            let next = codes.len() as u32;
            let code = *code_ids.entry(entry.clone()).or_insert_with(|| {
                codes.push(entry);
                next
            });
            let unit = match &e.unit {
                None => 0,
                Some(u) => {
                    let next = units.len() as u32;
                    *unit_ids.entry(u.as_str()).or_insert_with(|| {
                        units.push(u.clone());
                        next
                    })
                }
            };
            events.date.push(e.date);
            events.code.push(code);
            events.value.push(e.value.unwrap_or(0.0));
            events.has_value.push(e.value.is_some());
            events.unit.push(unit);
        }
        events.offsets.push(events.date.len() as u32);
    }
    let n = file.people.len();
    Population {
        as_of: file.as_of,
        patients: Patients {
            ids: PatientIds::Str(file.people.iter().map(|p| p.name.clone()).collect()),
            birth_date: file.people.iter().map(|p| p.birth).collect(),
            sex: dict(file.people.iter().map(|p| p.sex.as_str())),
            clinic: dict(file.people.iter().map(|p| p.clinic.as_str())),
            death_date: file.people.iter().map(|p| p.death).collect(),
            municipality: DictColumn {
                codes: vec![None; n],
                values: Vec::new(),
            },
            language: DictColumn {
                codes: vec![None; n],
                values: Vec::new(),
            },
        },
        events,
        codes: CodeTable { entries: codes },
        units,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testcase::parse_case_file;

    #[test]
    fn events_are_grouped_sorted_and_dictionary_encoded() {
        let text = r#"
            [[person]]
            name = "a"
            age = 50
            sex = "F"
            events = ["1d dx icd10 e11.9", "3y dx ICD10 E119", "2mo lab LOINC 8480-6 150 mmHg"]
            fire = ["X"]
            [[person]]
            name = "b"
            age = 40
            sex = "M"
            clinic = "HC02"
            fire = ["X"]
        "#;
        let file = parse_case_file("t.toml", text).unwrap();
        let pop = build_population(&file);
        assert_eq!(pop.events.offsets, vec![0, 3, 3]);
        assert!(pop.events.date.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(pop.codes.entries.len(), 2, "E11.9 spellings share one code");
        assert_eq!(pop.units, vec![String::new(), "mmHg".to_string()]);
        assert_eq!(pop.patients.clinic.get(1), Some("HC02"));
        assert_eq!(pop.patients.ids.display(1), "b");
    }
}
