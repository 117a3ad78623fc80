//! The generator codes its laboratory results the way the shipped library
//! reads them: a test's LOINC codes sit in the same value set of
//! `criteria/valuesets_lab.toml` as its LOCAL code, so LOINC-coded and
//! LOCAL-coded clinics are seen alike.

use std::path::Path;

use caregap_synth::codes::LABS;

/// A `[lab.NAME]` table of the library: (name, LOINC codes, LOCAL codes, unit).
type LibraryLab = (String, Vec<String>, Vec<String>, Option<String>);

fn library_labs() -> Vec<LibraryLab> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("criteria/valuesets_lab.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let codes = |t: &toml::Table, key: &str| -> Vec<String> {
        t.get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .map(|s| s.trim_start_matches('=').to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    doc["lab"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(name, v)| {
            let t = v.as_table().unwrap();
            let unit = t.get("unit").and_then(|u| u.as_str()).map(str::to_string);
            (name.clone(), codes(t, "LOINC"), codes(t, "LOCAL"), unit)
        })
        .collect()
}

#[test]
fn loinc_and_local_codes_share_a_library_value_set() {
    let lib = library_labs();
    let mut wrong = Vec::new();
    for (name, lab) in LABS {
        let Some(local) = lab.local else { continue };
        let Some((set, loinc, _, unit)) =
            lib.iter().find(|(_, _, l, _)| l.iter().any(|c| c == local))
        else {
            wrong.push(format!("{name}: LOCAL {local} is in no library value set"));
            continue;
        };
        for (code, _) in lab.loinc {
            if !loinc.iter().any(|c| c == code) {
                wrong.push(format!(
                    "{name}: LOINC {code} is not in lab.{set}, the value set of LOCAL {local}"
                ));
            }
        }
        if let (Some(want), Some(got)) = (unit, lab.unit)
            && want != got
        {
            wrong.push(format!("{name}: unit {got} but lab.{set} declares {want}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn lithium_is_coded_as_lithium() {
    let (_, lithium) = LABS.iter().find(|(n, _)| *n == "lithium").unwrap();
    let codes: Vec<&str> = lithium.loinc.iter().map(|(c, _)| *c).collect();
    // 14334-7 is Lithium [Moles/volume] in Serum or Plasma; 14933-6 is urate.
    assert_eq!(codes, ["14334-7"]);
}
