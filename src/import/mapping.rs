//! Code-system URIs → the data model's system names, UCUM codes → the units
//! the criteria libraries use.
//!
//! The built-in table is `src/import/mapping.toml` (compiled in); a user file
//! of the same shape adds to it ([`Mapping::extend_toml`]), an entry there
//! replacing a built-in one for the same key.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

/// The built-in mapping file, as shipped.
pub const BUILTIN: &str = include_str!("mapping.toml");

/// The UCUM code system URI.
pub const UCUM: &str = "http://unitsofmeasure.org";

/// What a unit becomes in the `unit` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit<'a> {
    /// No unit (null).
    None,
    /// This text.
    Text(&'a str),
}

/// A compiled mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    systems: HashMap<String, String>,
    units: HashMap<String, String>,
    unitless: HashSet<String>,
    vocabularies: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    systems: HashMap<String, String>,
    #[serde(default)]
    units: HashMap<String, String>,
    #[serde(default)]
    unitless: Unitless,
    #[serde(default)]
    omop_vocabularies: HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Unitless {
    #[serde(default)]
    codes: Vec<String>,
}

/// Normalises a system URI for lookup: surrounding spaces and one trailing `/` removed.
fn key(uri: &str) -> &str {
    let t = uri.trim();
    t.strip_suffix('/').unwrap_or(t)
}

impl Mapping {
    /// The built-in mapping.
    pub fn builtin() -> Mapping {
        let mut m = Mapping {
            systems: HashMap::new(),
            units: HashMap::new(),
            unitless: HashSet::new(),
            vocabularies: HashMap::new(),
        };
        m.extend_toml(BUILTIN)
            .expect("the built-in mapping file is valid TOML of the documented shape");
        m
    }

    /// Adds the entries of a mapping file (`[systems]`, `[units]`,
    /// `[unitless] codes`); an entry replaces an existing one for the same key.
    /// The error says what is wrong and where.
    pub fn extend_toml(&mut self, text: &str) -> Result<(), String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        for (uri, name) in file.systems {
            if name.trim().is_empty() {
                return Err(format!("[systems] {uri:?}: the system name is empty"));
            }
            self.systems.insert(key(&uri).to_string(), name);
        }
        for (ucum, unit) in file.units {
            self.unitless.remove(&ucum);
            self.units.insert(ucum, unit);
        }
        self.vocabularies.extend(file.omop_vocabularies);
        for code in file.unitless.codes {
            self.units.remove(&code);
            self.unitless.insert(code);
        }
        Ok(())
    }

    /// The system name of a code-system URI, if mapped.
    pub fn system(&self, uri: &str) -> Option<&str> {
        self.systems.get(key(uri)).map(String::as_str)
    }

    /// The system name of an OMOP vocabulary (`vocabulary_id` itself when not mapped).
    pub fn vocabulary<'a>(&'a self, vocabulary_id: &'a str) -> &'a str {
        self.vocabularies
            .get(vocabulary_id)
            .map_or(vocabulary_id, String::as_str)
    }

    /// A system name's URI (the first in sorted order; for writers and tests).
    pub fn uri_of(&self, name: &str) -> Option<&str> {
        self.systems
            .iter()
            .filter(|(_, n)| n.as_str() == name)
            .map(|(u, _)| u.as_str())
            .min()
    }

    /// The unit written for a quantity: a UCUM code (`system` is UCUM) is
    /// mapped (or kept as it is when the mapping does not know it); otherwise
    /// the quantity's `unit` text is kept; neither gives no unit.
    pub fn unit<'a>(
        &'a self,
        system: Option<&str>,
        code: Option<&'a str>,
        text: Option<&'a str>,
    ) -> Unit<'a> {
        if let (Some(s), Some(c)) = (system, code)
            && key(s) == UCUM
        {
            if self.unitless.contains(c) {
                return Unit::None;
            }
            return Unit::Text(self.units.get(c).map_or(c, String::as_str));
        }
        match text.or(code) {
            Some(t) => Unit::Text(t),
            None => Unit::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_maps_well_known_systems_and_units() {
        let m = Mapping::builtin();
        assert_eq!(m.system("http://loinc.org"), Some("LOINC"));
        assert_eq!(m.system("http://loinc.org/"), Some("LOINC"));
        assert_eq!(m.system("urn:oid:1.2.246.537.6.1"), Some("ICD10"));
        assert_eq!(
            m.system("http://hl7.org/fhir/sid/icd-10-cm"),
            Some("ICD10CM")
        );
        assert_eq!(m.system("http://example.org/unknown"), None);
        assert_eq!(
            m.unit(Some(UCUM), Some("mm[Hg]"), Some("mmHg")),
            Unit::Text("mmHg")
        );
        assert_eq!(m.unit(Some(UCUM), Some("{INR}"), Some("INR")), Unit::None);
        assert_eq!(
            m.unit(Some(UCUM), Some("mg/g"), Some("x")),
            Unit::Text("mg/g")
        );
        assert_eq!(m.unit(None, None, Some("mm[Hg]")), Unit::Text("mm[Hg]"));
        assert_eq!(m.unit(None, None, None), Unit::None);
    }

    #[test]
    fn user_file_extends_and_overrides() {
        let mut m = Mapping::builtin();
        m.extend_toml(
            "[systems]\n\"http://lab.example/codes\" = \"LOCAL\"\n\"http://loinc.org\" = \"LN\"\n[units]\n\"{INR}\" = \"INR\"\n",
        )
        .unwrap();
        assert_eq!(m.system("http://lab.example/codes"), Some("LOCAL"));
        assert_eq!(m.system("http://loinc.org"), Some("LN"));
        assert_eq!(m.unit(Some(UCUM), Some("{INR}"), None), Unit::Text("INR"));
        let err = m.extend_toml("[sistems]\n").unwrap_err();
        assert!(err.contains("sistems"), "{err}");
    }
}
