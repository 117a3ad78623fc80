//! Diagnostics: what went wrong, where (file, item, byte span, line:column), and
//! what to do. Built by the compiler as plain values; [`render`] turns them into
//! text with the offending span underlined (pure: it takes the sources, no IO).

use std::fmt;
use std::ops::Range;

use ariadne::{Config, IndexType, Label, Report, ReportKind};

/// One file of a criteria library, already read by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The file name as it should appear in messages (e.g. `cardio.toml`).
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The library is refused.
    Error,
    /// Worth knowing; the library is still usable.
    Warning,
}

/// A problem found in a library. Spans and line/column are in the TOML file,
/// not in the expression string: an error inside `gap = "..."` points at the
/// exact characters of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, documented in `docs/errors.md` (e.g. `E0203`).
    pub code: &'static str,
    pub severity: Severity,
    pub file: String,
    /// The criterion, definition, feature or value set the problem is in, with
    /// the field when it is an expression: `criterion HTN.X (gap)`.
    pub item: Option<String>,
    /// Byte range in the file.
    pub span: Range<usize>,
    /// 1-based line of `span.start`.
    pub line: u32,
    /// 1-based column of `span.start`, counted in characters (Unicode scalar values).
    pub column: u32,
    pub message: String,
    /// Short text under the underlined span.
    pub label: String,
    /// Further spans in the same file worth showing (e.g. the other operand).
    pub secondary: Vec<(Range<usize>, String)>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            file: String::new(),
            item: None,
            span: 0..0,
            line: 0,
            column: 0,
            message: message.into(),
            label: String::new(),
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, file: &str, span: Range<usize>) -> Diagnostic {
        self.file = file.to_string();
        self.span = span;
        self
    }

    pub fn item(mut self, item: Option<String>) -> Diagnostic {
        self.item = item;
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    pub fn secondary(mut self, span: Range<usize>, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Fills `line` and `column` from the file text (spans past the end are clamped).
    pub(crate) fn locate(&mut self, text: &str) {
        let (line, column) = line_column(text, self.span.start);
        self.line = line;
        self.column = column;
    }
}

/// 1-based line and character column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line as u32, column as u32)
}

impl fmt::Display for Diagnostic {
    /// One line: `file:line:column: error[E0203]: message (in item)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}[{}]: {}",
            self.file, self.line, self.column, self.code, self.message
        )?;
        if let Some(item) = &self.item {
            write!(f, " (in {item})")?;
        }
        Ok(())
    }
}

/// Renders diagnostics as text with the offending spans underlined. `color`
/// adds ANSI colours (only for terminals). A diagnostic whose file is not among
/// `files` is rendered as its one-line form.
pub fn render(diagnostics: &[Diagnostic], files: &[SourceFile], color: bool) -> String {
    let mut out = Vec::new();
    for d in diagnostics {
        let Some(file) = files.iter().find(|f| f.name == d.file) else {
            out.extend_from_slice(format!("{d}\n").as_bytes());
            continue;
        };
        let clamp = |r: &Range<usize>| {
            let start = r.start.min(file.text.len());
            start..r.end.clamp(start, file.text.len())
        };
        let kind = match d.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let name = file.name.clone();
        let message = match &d.item {
            Some(item) => format!("{} (in {item})", d.message),
            None => d.message.clone(),
        };
        let mut report = Report::build(kind, (name.clone(), clamp(&d.span)))
            .with_config(
                Config::default()
                    .with_color(color)
                    .with_index_type(IndexType::Byte),
            )
            .with_code(d.code)
            .with_message(message)
            .with_label(Label::new((name.clone(), clamp(&d.span))).with_message(&d.label));
        for (span, label) in &d.secondary {
            report = report.with_label(Label::new((name.clone(), clamp(span))).with_message(label));
        }
        for note in &d.notes {
            report = report.with_note(note);
        }
        if let Some(help) = &d.help {
            report = report.with_help(help);
        }
        let cache = ariadne::sources([(name, file.text.clone())]);
        // Writing into a Vec cannot fail.
        let _ = report.finish().write(cache, &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every diagnostic code with a short title; `docs/errors.md` documents each
/// one with an input that triggers it (a test keeps the two in step).
pub const CODES: &[(&str, &str)] = &[
    ("E0001", "invalid TOML"),
    ("E0002", "unknown top-level key"),
    ("E0003", "wrong TOML type for a key"),
    ("E0004", "missing required field"),
    ("E0005", "unknown field in [[criterion]] or [[feature]]"),
    ("E0006", "priority not an integer from 1 to 10"),
    ("E0007", "duplicate criterion id"),
    ("E0008", "duplicate value set"),
    ("E0009", "duplicate definition"),
    ("E0010", "duplicate feature"),
    ("E0011", "person attribute redefined"),
    ("E0012", "name cannot be used in expressions"),
    ("E0101", "unexpected character"),
    ("E0102", "unterminated string"),
    ("E0103", "malformed number"),
    ("E0104", "invalid window"),
    ("E0105", "syntax error"),
    ("E0106", "comparisons do not chain"),
    ("E0107", "expression too long"),
    ("E0201", "unknown name"),
    ("E0202", "unknown function"),
    ("E0203", "unknown value set"),
    ("E0204", "value set of the wrong kind for the function"),
    ("E0205", "wrong argument count"),
    ("E0206", "a window where none fits"),
    ("E0207", "grace period not in days"),
    ("E0208", "value set used as a value"),
    ("E0209", "function needs a value set"),
    ("E0210", "function needs a window"),
    ("E0211", "operand of the wrong type"),
    ("E0212", "operands of different types"),
    ("E0213", "criterion or feature expression of the wrong type"),
    ("E0214", "definition cycle"),
    ("E0301", "empty pattern"),
    ("E0302", "range bounds of unequal length"),
    ("E0303", "range bounds out of order"),
    ("E0304", "range with an empty bound"),
    ("E0305", "malformed pattern"),
    ("W0301", "value set without code systems"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "a\nää = 1\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 2), (2, 1));
        // after two two-byte characters and a space
        assert_eq!(line_column(text, 7), (2, 4));
        assert_eq!(line_column(text, 999), (3, 1));
    }
}
