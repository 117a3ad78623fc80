//! Column names of the emitted script: readable, unique, and short enough for
//! PostgreSQL (which cuts identifiers at 63 bytes).

use std::collections::HashMap;

use crate::lang::ir::{Aggregate, Library, Window};

/// Longest generated identifier, in bytes.
const MAX_IDENT: usize = 60;

/// The aggregates and definitions a script needs, in order, with their columns.
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub aggregates: Vec<(Aggregate, String)>,
    agg_index: HashMap<Aggregate, usize>,
    /// Per definition of the library: its column (set for the needed ones).
    definitions: Vec<Option<String>>,
    null_definitions: Vec<usize>,
}

impl Names {
    pub fn new(lib: &Library) -> Names {
        Names {
            definitions: vec![None; lib.definitions.len()],
            ..Names::default()
        }
    }

    /// Registers an aggregate (once) and names its column.
    pub fn add_aggregate(&mut self, lib: &Library, a: Aggregate) {
        if self.agg_index.contains_key(&a) {
            return;
        }
        let i = self.aggregates.len();
        let vs = &lib.value_sets[a.value_set].name;
        let mut text = format!("a{i}_{}_{vs}", a.func.name());
        if let Some(w) = a.window {
            text.push('_');
            text.push_str(&window_text(w));
        }
        self.agg_index.insert(a, i);
        self.aggregates.push((a, sanitize(&text)));
    }

    pub fn add_definition(&mut self, lib: &Library, id: usize) -> bool {
        if self.definitions[id].is_some() {
            return false;
        }
        self.definitions[id] = Some(sanitize(&format!("d{id}_{}", lib.definitions[id].name)));
        if lib.definitions[id].expr.ty == crate::lang::ir::Type::Null {
            self.null_definitions.push(id);
        }
        true
    }

    pub fn is_needed(&self, id: usize) -> bool {
        self.definitions[id].is_some()
    }

    pub fn aggregate(&self, a: &Aggregate) -> &str {
        &self.aggregates[self.agg_index[a]].1
    }

    /// Whether definition `id` is of the literal-null type (always null).
    pub fn is_null_definition(&self, id: usize) -> bool {
        self.null_definitions.contains(&id)
    }

    pub fn definition(&self, id: usize) -> &str {
        self.definitions[id]
            .as_deref()
            .expect("every definition an expression uses is registered before it is written")
    }
}

pub(crate) fn window_text(w: Window) -> String {
    match w {
        Window::Days(d) => format!("{d}d"),
        Window::Months(m) => format!("{m}mo"),
    }
}

/// Lower-case ASCII letters, digits and `_`; anything else becomes `_`; cut to
/// [`MAX_IDENT`] bytes. Uniqueness comes from the index prefix.
fn sanitize(text: &str) -> String {
    let mut s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    s.truncate(MAX_IDENT);
    s
}
