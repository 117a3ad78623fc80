//! Arrow tables handed to Python without a copy: an [`ArrowStream`] holds
//! record batches (shared `Arc` buffers) and exports them through the Arrow
//! PyCapsule interface (`__arrow_c_stream__`), which pyarrow, polars,
//! DuckDB and others import as they are.

use arrow::array::{Array, ArrayData, RecordBatch, RecordBatchIterator};
use arrow::datatypes::SchemaRef;
use arrow::ffi_stream::FFI_ArrowArrayStream;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// A table of record batches with the Arrow PyCapsule stream interface:
/// `pyarrow.table(stream)` (or `polars.from_arrow`, `duckdb.arrow`) reads it
/// without copying a buffer.
#[pyclass(frozen, module = "caregap._caregap")]
pub struct ArrowStream {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl ArrowStream {
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        ArrowStream { schema, batches }
    }
}

fn add_buffers(data: &ArrayData, out: &mut Vec<usize>) {
    for b in data.buffers() {
        out.push(b.as_ptr() as usize);
    }
    if let Some(n) = data.nulls() {
        out.push(n.buffer().as_ptr() as usize);
    }
    // Children, and a dictionary array's values (its one child).
    for c in data.child_data() {
        add_buffers(c, out);
    }
}

#[pymethods]
impl ArrowStream {
    /// Exports the batches as an `ArrowArrayStream` capsule. A requested
    /// schema is not applied: the engine's types are given as they are (the
    /// protocol lets a producer ignore it; cast on the consumer's side).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let reader = RecordBatchIterator::new(
            self.batches.clone().into_iter().map(Ok),
            self.schema.clone(),
        );
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    /// Rows in all batches.
    #[getter]
    fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// Record batches.
    #[getter]
    fn num_batches(&self) -> usize {
        self.batches.len()
    }

    /// The start address of every buffer of every column of every batch
    /// (validity, offsets, values, dictionary values), for tests that check
    /// the tables reach Python without a copy.
    fn buffer_addresses(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for b in &self.batches {
            for c in b.columns() {
                add_buffers(&c.to_data(), &mut out);
            }
        }
        out
    }
}
