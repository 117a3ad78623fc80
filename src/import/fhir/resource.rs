//! The parts of FHIR R4 resources the import reads, deserialised straight from
//! the JSON text (strings borrowed where they have no escapes; every other
//! field skipped without building a value).
//!
//! One struct holds the fields of every resource type read; fields whose
//! shape differs between types (`category`, `class`, `contained`) are kept as
//! raw JSON and parsed only where they are used.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

pub type Str<'a> = Cow<'a, str>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource<'a> {
    #[serde(borrow)]
    pub resource_type: Option<Str<'a>>,
    #[serde(borrow)]
    pub id: Option<Str<'a>>,
    #[serde(borrow)]
    pub status: Option<Str<'a>>,

    // Patient
    #[serde(borrow)]
    pub birth_date: Option<Str<'a>>,
    #[serde(borrow)]
    pub gender: Option<Str<'a>>,
    #[serde(borrow)]
    pub deceased_date_time: Option<Str<'a>>,
    pub deceased_boolean: Option<bool>,
    #[serde(borrow)]
    pub general_practitioner: Option<Vec<Reference<'a>>>,
    #[serde(borrow)]
    pub managing_organization: Option<Reference<'a>>,
    #[serde(borrow)]
    pub address: Option<Vec<Address<'a>>>,
    #[serde(borrow)]
    pub communication: Option<Vec<Communication<'a>>>,

    // Who it is about.
    #[serde(borrow)]
    pub subject: Option<Reference<'a>>,
    #[serde(borrow)]
    pub patient: Option<Reference<'a>>,

    #[serde(borrow)]
    pub code: Option<CodeableConcept<'a>>,

    // Condition
    #[serde(borrow)]
    pub verification_status: Option<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub onset_date_time: Option<Str<'a>>,
    #[serde(borrow)]
    pub onset_period: Option<Period<'a>>,
    #[serde(borrow)]
    pub recorded_date: Option<Str<'a>>,

    // Observation
    #[serde(borrow)]
    pub effective_date_time: Option<Str<'a>>,
    #[serde(borrow)]
    pub effective_period: Option<Period<'a>>,
    #[serde(borrow)]
    pub effective_instant: Option<Str<'a>>,
    #[serde(borrow)]
    pub issued: Option<Str<'a>>,
    #[serde(borrow)]
    pub value_quantity: Option<Quantity<'a>>,
    pub value_integer: Option<f64>,
    #[serde(borrow)]
    pub component: Option<Vec<Component<'a>>>,

    // MedicationRequest / MedicationDispense / MedicationStatement
    #[serde(borrow)]
    pub medication_codeable_concept: Option<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub medication_reference: Option<Reference<'a>>,
    #[serde(borrow)]
    pub contained: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    pub authored_on: Option<Str<'a>>,
    #[serde(borrow)]
    pub when_handed_over: Option<Str<'a>>,
    #[serde(borrow)]
    pub when_prepared: Option<Str<'a>>,
    #[serde(borrow)]
    pub days_supply: Option<Quantity<'a>>,
    #[serde(borrow)]
    pub dispense_request: Option<DispenseRequest<'a>>,
    #[serde(borrow)]
    pub date_asserted: Option<Str<'a>>,

    // Immunization
    #[serde(borrow)]
    pub vaccine_code: Option<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub occurrence_date_time: Option<Str<'a>>,

    // Procedure
    #[serde(borrow)]
    pub performed_date_time: Option<Str<'a>>,
    #[serde(borrow)]
    pub performed_period: Option<Period<'a>>,

    // Encounter
    #[serde(borrow)]
    pub class: Option<&'a RawValue>,
    #[serde(borrow, rename = "type")]
    pub type_: Option<&'a RawValue>,
    #[serde(borrow)]
    pub period: Option<Period<'a>>,

    // Consent
    #[serde(borrow)]
    pub scope: Option<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub category: Option<&'a RawValue>,
    #[serde(borrow)]
    pub provision: Option<Provision<'a>>,
    #[serde(borrow)]
    pub date_time: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Reference<'a> {
    #[serde(borrow)]
    pub reference: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Coding<'a> {
    #[serde(borrow)]
    pub system: Option<Str<'a>>,
    #[serde(borrow)]
    pub code: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeableConcept<'a> {
    #[serde(borrow)]
    pub coding: Option<Vec<Coding<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Quantity<'a> {
    pub value: Option<f64>,
    #[serde(borrow)]
    pub unit: Option<Str<'a>>,
    #[serde(borrow)]
    pub system: Option<Str<'a>>,
    #[serde(borrow)]
    pub code: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Period<'a> {
    #[serde(borrow)]
    pub start: Option<Str<'a>>,
    #[serde(borrow)]
    pub end: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component<'a> {
    #[serde(borrow)]
    pub code: Option<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub value_quantity: Option<Quantity<'a>>,
    pub value_integer: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DispenseRequest<'a> {
    #[serde(borrow)]
    pub expected_supply_duration: Option<Quantity<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Address<'a> {
    #[serde(borrow)]
    pub city: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Communication<'a> {
    #[serde(borrow)]
    pub language: Option<CodeableConcept<'a>>,
    pub preferred: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Provision<'a> {
    #[serde(borrow, rename = "type")]
    pub type_: Option<Str<'a>>,
}

/// A contained or stand-alone Medication: its id and code.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MedicationPart<'a> {
    #[serde(borrow)]
    pub resource_type: Option<Str<'a>>,
    #[serde(borrow)]
    pub id: Option<Str<'a>>,
    #[serde(borrow)]
    pub code: Option<CodeableConcept<'a>>,
}

/// One entry of a Bundle.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry<'a> {
    #[serde(borrow)]
    pub full_url: Option<Str<'a>>,
    #[serde(borrow)]
    pub resource: Option<&'a RawValue>,
}

/// A Bundle: its type and entries (each entry's resource kept as raw JSON).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle<'a> {
    #[serde(borrow)]
    pub resource_type: Option<Str<'a>>,
    #[serde(borrow, rename = "type")]
    pub type_: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub entry: Vec<Entry<'a>>,
}
