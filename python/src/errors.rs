//! One exception class for every caregap error, with the library's message.

use caregap::lang::diag::{Diagnostic, Severity};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

pyo3::create_exception!(
    _caregap,
    CaregapError,
    pyo3::exceptions::PyException,
    "An error of caregap, with the same message the command line prints. \
     `.diagnostics` holds the diagnostics (list of dicts: file, line, column, \
     code, severity, item, message) when a criteria library does not compile, \
     otherwise an empty list."
);

/// The message of an error and its causes, `: `-joined (as the command
/// line prints them).
pub fn message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// A `CaregapError` with `message` and `diagnostics`.
pub fn error(py: Python<'_>, message: String, diagnostics: &[Diagnostic]) -> PyErr {
    let err = CaregapError::new_err(message);
    let list =
        diagnostics_list(py, diagnostics).and_then(|l| err.value(py).setattr("diagnostics", l));
    match list {
        Ok(()) => err,
        Err(e) => e,
    }
}

/// A `CaregapError` from a library error value.
pub fn from_err(py: Python<'_>, e: &(dyn std::error::Error + 'static)) -> PyErr {
    error(py, message(e), &[])
}

/// A `CaregapError` from a message.
pub fn msg(py: Python<'_>, message: impl Into<String>) -> PyErr {
    error(py, message.into(), &[])
}

/// Diagnostics as a list of dicts.
pub fn diagnostics_list<'py>(
    py: Python<'py>,
    diagnostics: &[Diagnostic],
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for d in diagnostics {
        let item = PyDict::new(py);
        item.set_item("file", &d.file)?;
        item.set_item("line", d.line)?;
        item.set_item("column", d.column)?;
        item.set_item("code", d.code)?;
        item.set_item(
            "severity",
            match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
        )?;
        item.set_item("item", d.item.as_deref())?;
        item.set_item("message", &d.message)?;
        list.append(item)?;
    }
    Ok(list)
}
