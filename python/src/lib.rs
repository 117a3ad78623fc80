//! `caregap._caregap`: the Python extension module of the `caregap` package
//! (python/caregap/ wraps it). A thin layer over the `caregap` and
//! `caregap-models` libraries: it converts arguments, releases the GIL around
//! the library calls and hands the engine's Arrow record batches to Python
//! through the Arrow C stream interface (PyCapsule, no copy). Every
//! computation is the library's; nothing here re-implements one.
//!
//! Errors: [`errors`] maps the libraries' errors to one exception class,
//! `CaregapError`, with the same messages (and `.diagnostics` for a library
//! that does not compile).

mod errors;
mod models;
mod score;
mod stream;

use pyo3::prelude::*;

#[pymodule]
fn _caregap(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("CaregapError", py.get_type::<errors::CaregapError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<stream::ArrowStream>()?;
    m.add_class::<score::Library>()?;
    m.add_class::<score::Population>()?;
    m.add_class::<score::ScoreResult>()?;
    m.add_class::<score::RankResult>()?;
    m.add_function(wrap_pyfunction!(score::check, m)?)?;
    m.add_function(wrap_pyfunction!(score::score, m)?)?;
    m.add_function(wrap_pyfunction!(score::rank, m)?)?;
    m.add_function(wrap_pyfunction!(score::calllist, m)?)?;
    m.add_class::<models::FittedModel>()?;
    m.add_function(wrap_pyfunction!(models::fit, m)?)?;
    Ok(())
}
