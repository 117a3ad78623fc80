//! The TOML layer and the whole-library compile: files to a checked
//! [`Library`], or every error of the library at once.
//!
//! Stages: each file is parsed as TOML with spans; its tables are read into raw
//! items (value sets, definitions, criteria, features) whose expressions keep a
//! map from expression offsets to file offsets ([`StrMap`]); then names are
//! registered across files (duplicates reported), definitions are ordered by
//! dependency (cycles reported once) and type-checked, and finally criteria and
//! features are checked against the complete scope.
//!
//! A file that is not valid TOML reports its TOML errors only: the names it
//! still declares (as far as the parser recovered them) are registered, so that
//! other files do not report them as unknown, but its contents are not checked.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use sha2::{Digest, Sha256};
use toml::de::{DeTable, DeValue};

use super::ast;
use super::check::{self, DefSlot, Scope, VALUE_SET_KINDS, suggest, type_name};
use super::diag::{Diagnostic, SourceFile, line_column};
use super::ir::{
    Criterion, Definition, Expr, Feature, Library, Origin, Pattern, Span, Type, ValueSet,
};
use super::lexer;
use super::parser;
use super::strmap::{StrMap, map_string};
use crate::data::{EventKind, normalise_code, normalise_system, well_known_system_meant};

const TOP_LEVEL: [&str; 9] = [
    "dx",
    "lab",
    "med",
    "proc",
    "imm",
    "visit",
    "define",
    "criterion",
    "feature",
];
const CRITERION_FIELDS: [&str; 9] = [
    "id",
    "title",
    "domain",
    "source",
    "population",
    "gap",
    "exclude",
    "priority",
    "action",
];
const FEATURE_FIELDS: [&str; 2] = ["name", "expr"];

/// A decoded TOML string and the span of its token in the file.
#[derive(Debug, Clone)]
struct Str {
    value: String,
    span: Range<usize>,
}

/// An expression string, ready to be parsed.
#[derive(Debug)]
struct RawExpr {
    text: String,
    map: StrMap,
}

#[derive(Debug)]
struct RawValueSet {
    file: usize,
    kind: EventKind,
    /// `kind.name`.
    name: String,
    span: Range<usize>,
    title: Option<String>,
    unit: Option<String>,
    systems: Vec<(String, Vec<Pattern>)>,
}

#[derive(Debug)]
struct RawDef {
    file: usize,
    name: String,
    span: Range<usize>,
    expr: RawExpr,
}

#[derive(Debug)]
struct RawCriterion {
    file: usize,
    /// The item's header (`[[criterion]]`) or inline table.
    span: Range<usize>,
    /// 1-based position among the file's criteria, to name it without an id.
    index: usize,
    id: Option<Str>,
    title: Option<String>,
    domain: Option<String>,
    source: Option<String>,
    action: Option<String>,
    population: Option<RawExpr>,
    gap: Option<RawExpr>,
    exclude: Option<RawExpr>,
    priority: Option<u8>,
    /// A field had an error of its own.
    broken: bool,
}

#[derive(Debug)]
struct RawFeature {
    file: usize,
    index: usize,
    name: Option<Str>,
    expr: Option<RawExpr>,
    broken: bool,
}

/// Collects diagnostics with the file set.
struct Sink<'a> {
    files: &'a [SourceFile],
    diags: Vec<Diagnostic>,
}

impl Sink<'_> {
    fn push(&mut self, file: usize, item: Option<String>, d: Diagnostic) {
        let span = d.span.clone();
        self.diags
            .push(d.at(&self.files[file].name, span).item(item));
    }

    /// A diagnostic whose spans are relative to an expression.
    fn push_expr(&mut self, file: usize, item: &str, expr: &RawExpr, mut d: Diagnostic) {
        d.span = expr.map.file_range(d.span.clone());
        for (span, _) in &mut d.secondary {
            *span = expr.map.file_range(span.clone());
        }
        self.push(file, Some(item.to_string()), d);
    }

    fn location(&self, file: usize, offset: usize) -> String {
        let (line, column) = line_column(&self.files[file].text, offset);
        format!("{}:{line}:{column}", self.files[file].name)
    }
}

/// Registers a criterion id or feature name as first seen at `(file, span)`;
/// when it was seen before, reports `dup` at this place with a note naming the
/// first, and returns false.
fn claim_unique(
    seen: &mut HashMap<String, (usize, usize)>,
    sink: &mut Sink,
    (file, item, name): (usize, &str, &Str),
    dup: Diagnostic,
    (label, first): (&str, &str),
) -> bool {
    if let Some(&(ff, off)) = seen.get(&name.value) {
        let note = format!("{first} {}", sink.location(ff, off));
        sink.push(
            file,
            Some(item.to_string()),
            dup.at("", name.span.clone()).label(label).note(note),
        );
        false
    } else {
        seen.insert(name.value.clone(), (file, name.span.start));
        true
    }
}

/// TOML syntax errors shown per file (see [`compile_library`]).
pub const MAX_TOML_ERRORS: usize = 20;

/// Compiles a whole library. `Some` only when there is no error; the
/// diagnostics hold every error and warning of the library (TOML syntax
/// errors: the first of each line, at most [`MAX_TOML_ERRORS`] a file), sorted by file
/// (in name order) and position.
pub fn compile_library(files: &[SourceFile]) -> (Option<Library>, Vec<Diagnostic>) {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|&a, &b| files[a].name.cmp(&files[b].name));
    let sorted: Vec<SourceFile> = order.iter().map(|&i| files[i].clone()).collect();
    let files = sorted.as_slice();
    let mut sink = Sink {
        files,
        diags: Vec::new(),
    };

    let mut raw = Raw::default();
    let mut broken_files = HashSet::new();
    for (fi, file) in files.iter().enumerate() {
        let (doc, errors) = DeTable::parse_recoverable(&file.text);
        // The parser recovers and goes on, but after one slip (an unclosed
        // bracket) it can report an error at nearly every token that
        // follows: the first error of each line is kept, and at most
        // MAX_TOML_ERRORS of them; the last one says how many more there were.
        let mut lines = HashSet::new();
        let firsts: Vec<_> = errors
            .iter()
            .filter(|e| {
                let at = e.span().map_or(0, |s| s.start).min(file.text.len());
                let line = file.text.as_bytes()[..at]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                lines.insert(line)
            })
            .collect();
        let shown = firsts.len().min(MAX_TOML_ERRORS);
        for (i, e) in firsts.iter().take(shown).enumerate() {
            let span = e.span().unwrap_or(0..0);
            let mut d =
                Diagnostic::error("E0001", format!("invalid TOML: {}", e.message().trim_end()))
                    .at("", span)
                    .label("here")
                    .help("see https://toml.io for the syntax");
            if i + 1 == shown && errors.len() > shown {
                d = d.note(format!(
                    "{} more TOML syntax errors in this file are not shown; they often follow from an earlier one",
                    errors.len() - shown
                ));
            }
            sink.push(fi, None, d);
        }
        if !errors.is_empty() {
            broken_files.insert(file.name.clone());
        }
        read_file(fi, doc.get_ref(), &mut raw, &mut sink);
    }

    let library = compile_raw(raw, &mut sink);

    let mut diags: Vec<Diagnostic> = sink
        .diags
        .into_iter()
        .filter(|d| d.code == "E0001" || !broken_files.contains(&d.file))
        .collect();
    let file_rank: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str(), i))
        .collect();
    for d in &mut diags {
        if let Some(&i) = file_rank.get(d.file.as_str()) {
            d.locate(&files[i].text);
        }
    }
    diags.sort_by(|a, b| {
        let ra = file_rank.get(a.file.as_str());
        let rb = file_rank.get(b.file.as_str());
        (ra, a.span.start, a.span.end, a.code).cmp(&(rb, b.span.start, b.span.end, b.code))
    });
    let failed = diags.iter().any(Diagnostic::is_error);
    let library = library.filter(|_| !failed).map(|mut lib| {
        lib.hash = library_hash(files);
        lib
    });
    (library, diags)
}

/// SHA-256 over the files in name order: for each, its name, a zero byte, the
/// length of its text as a little-endian u64, and the text.
pub fn library_hash(files: &[SourceFile]) -> String {
    let mut sorted: Vec<&SourceFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut h = Sha256::new();
    for f in sorted {
        h.update(f.name.as_bytes());
        h.update([0u8]);
        h.update((f.text.len() as u64).to_le_bytes());
        h.update(f.text.as_bytes());
    }
    hex::encode(h.finalize())
}

#[derive(Default)]
struct Raw {
    value_sets: Vec<RawValueSet>,
    /// Names of value sets declared with an error.
    broken_value_sets: HashSet<String>,
    defs: Vec<RawDef>,
    criteria: Vec<RawCriterion>,
    features: Vec<RawFeature>,
}

/// Entries of a table in source order (the TOML map is sorted by key).
fn entries<'t, 'i>(
    t: &'t DeTable<'i>,
) -> Vec<(
    &'t toml::Spanned<std::borrow::Cow<'i, str>>,
    &'t toml::Spanned<DeValue<'i>>,
)> {
    let mut v: Vec<_> = t.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

fn toml_type(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn shape_error(what: &str, expected: &str, found: &DeValue<'_>, span: Range<usize>) -> Diagnostic {
    Diagnostic::error(
        "E0003",
        format!("{what} must be {expected}, found {}", toml_type(found)),
    )
    .at("", span)
    .label(format!("expected {expected}"))
}

fn read_file(fi: usize, doc: &DeTable<'_>, raw: &mut Raw, sink: &mut Sink<'_>) {
    let text = &sink.files[fi].text;
    for (key, value) in entries(doc) {
        let k = key.get_ref().as_ref();
        if let Some(&(prefix, kind)) = VALUE_SET_KINDS.iter().find(|(p, _)| *p == k) {
            let Some(table) = value.get_ref().as_table() else {
                sink.push(
                    fi,
                    None,
                    shape_error(
                        &format!("`{k}`"),
                        &format!("a table of value sets (`[{k}.name]`)"),
                        value.get_ref(),
                        key.span(),
                    ),
                );
                continue;
            };
            for (name, vs) in entries(table) {
                match read_value_set(fi, prefix, kind, name.get_ref(), name.span(), vs, sink) {
                    Some(v) => raw.value_sets.push(v),
                    None => {
                        raw.broken_value_sets
                            .insert(format!("{prefix}.{}", name.get_ref()));
                    }
                }
            }
            continue;
        }
        match k {
            "define" => {
                let Some(table) = value.get_ref().as_table() else {
                    sink.push(
                        fi,
                        None,
                        shape_error(
                            "`define`",
                            "a table (`[define]`)",
                            value.get_ref(),
                            key.span(),
                        ),
                    );
                    continue;
                };
                for (name, def) in entries(table) {
                    let item = format!("definition {}", name.get_ref());
                    match expr_string(text, def) {
                        Some(expr) => raw.defs.push(RawDef {
                            file: fi,
                            name: name.get_ref().to_string(),
                            span: name.span(),
                            expr,
                        }),
                        None => sink.push(
                            fi,
                            Some(item),
                            shape_error(
                                "a definition",
                                "an expression string",
                                def.get_ref(),
                                def.span(),
                            ),
                        ),
                    }
                }
            }
            "criterion" | "feature" => {
                let tables = match value.get_ref() {
                    DeValue::Array(items) => items
                        .iter()
                        .map(|it| it.get_ref().as_table().map(|t| (t, it.span())))
                        .collect::<Option<Vec<_>>>(),
                    _ => None,
                };
                let Some(tables) = tables else {
                    sink.push(
                        fi,
                        None,
                        shape_error(
                            &format!("`{k}`"),
                            &format!("an array of tables (`[[{k}]]`)"),
                            value.get_ref(),
                            key.span(),
                        ),
                    );
                    continue;
                };
                for (i, (table, span)) in tables.into_iter().enumerate() {
                    // A `[[criterion]]` header's span may reach past its line; keep the first line.
                    let line_end = text
                        .get(span.clone())
                        .and_then(|h| h.find('\n'))
                        .map_or(span.end, |n| span.start + n);
                    let span = span.start..line_end;
                    if k == "criterion" {
                        raw.criteria
                            .push(read_criterion(fi, i + 1, span, table, sink));
                    } else {
                        raw.features
                            .push(read_feature(fi, i + 1, span, table, sink));
                    }
                }
            }
            _ => {
                let mut d = Diagnostic::error("E0002", format!("unknown top-level key `{k}`"))
                    .at("", key.span())
                    .label("not part of a criteria library")
                    .note(format!("the top-level keys are {}", TOP_LEVEL.join(", ")));
                if let Some(s) = suggest(k, TOP_LEVEL.iter().copied()) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                sink.push(fi, None, d);
            }
        }
    }
}

/// The expression string of a value, with its offset map.
fn expr_string(text: &str, v: &toml::Spanned<DeValue<'_>>) -> Option<RawExpr> {
    let s = v.get_ref().as_str()?;
    let (map, _exact) = map_string(text, v.span(), s);
    Some(RawExpr {
        text: s.to_string(),
        map,
    })
}

fn read_value_set(
    fi: usize,
    prefix: &str,
    kind: EventKind,
    name: &str,
    name_span: Range<usize>,
    value: &toml::Spanned<DeValue<'_>>,
    sink: &mut Sink<'_>,
) -> Option<RawValueSet> {
    let full = format!("{prefix}.{name}");
    let item = Some(format!("value set {full}"));
    let Some(table) = value.get_ref().as_table() else {
        sink.push(
            fi,
            item,
            shape_error(
                &format!("value set `{full}`"),
                &format!("a table (`[{full}]`)"),
                value.get_ref(),
                value.span(),
            ),
        );
        return None;
    };
    let mut ok = true;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        sink.push(
            fi,
            item.clone(),
            Diagnostic::error(
                "E0012",
                format!("value set name `{full}` cannot be used in expressions"),
            )
            .at("", name_span.clone())
            .label("not usable in an expression")
            .help("name value sets with ASCII letters, digits and `_` only (e.g. `diabetes_t2`)"),
        );
        ok = false;
    }
    let mut title = None;
    let mut unit = None;
    let mut systems: Vec<(String, Vec<Pattern>)> = Vec::new();
    for (key, v) in entries(table) {
        let k = key.get_ref().as_ref();
        if k == "title" || k == "unit" {
            match v.get_ref().as_str() {
                Some(s) if k == "title" => title = Some(s.to_string()),
                Some(s) => {
                    if s.trim().is_empty() {
                        sink.push(
                            fi,
                            item.clone(),
                            Diagnostic::warning(
                                "W0302",
                                format!("value set `{full}` declares a blank unit"),
                            )
                            .at("", v.span())
                            .label("an empty or blank unit is a unit that matches no declared unit")
                            .help("only measurements with no unit can match; remove `unit` to take every unit"),
                        );
                    }
                    unit = Some(s.trim().to_string())
                }
                None => {
                    sink.push(
                        fi,
                        item.clone(),
                        shape_error(&format!("`{k}`"), "a string", v.get_ref(), v.span()),
                    );
                    ok = false;
                }
            }
            continue;
        }
        let strings = match v.get_ref() {
            DeValue::Array(a) => a
                .iter()
                .map(|s| s.get_ref().as_str().map(|t| (t, s.span())))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        let Some(strings) = strings else {
            sink.push(
                fi,
                item.clone(),
                shape_error(
                    &format!("code system `{k}`"),
                    "a list of code pattern strings",
                    v.get_ref(),
                    v.span(),
                )
                .note("`title` and `unit` are the only reserved keys: every other key of a value set is a code system"),
            );
            ok = false;
            continue;
        };
        let mut patterns = Vec::new();
        for (s, span) in strings {
            match parse_pattern(s) {
                Ok(p) => patterns.push(p),
                Err(d) => {
                    sink.push(fi, item.clone(), (*d).at("", span));
                    ok = false;
                }
            }
        }
        if let Some(meant) = well_known_system_meant(k) {
            sink.push(
                fi,
                item.clone(),
                Diagnostic::warning(
                    "W0303",
                    format!("code system `{k}` is not the well-known name `{meant}`"),
                )
                .at("", key.span())
                .label(format!("matches only events whose system is `{k}`"))
                .help(format!(
                    "systems are compared case-insensitively and nothing else; write `{meant}` \
                     (the data model's name, which importers write) unless your events really \
                     say `{k}`"
                )),
            );
        }
        let system = normalise_system(k);
        // `ICD10` and `icd10` are one system: their patterns are merged.
        match systems.iter_mut().find(|(s, _)| *s == system) {
            Some((_, ps)) => ps.extend(patterns),
            None => systems.push((system, patterns)),
        }
    }
    if systems.is_empty() && ok {
        sink.push(
            fi,
            item,
            Diagnostic::warning("W0301", format!("value set `{full}` has no code system"))
                .at("", name_span.clone())
                .label("matches no event")
                .help("add a code system key with patterns, e.g. `ICD10 = [\"E11\"]`"),
        );
    }
    ok.then_some(RawValueSet {
        file: fi,
        kind,
        name: full,
        span: name_span,
        title,
        unit,
        systems,
    })
}

/// Parses one code pattern: `=exact`, `lo..hi` or a prefix.
pub fn parse_pattern(raw: &str) -> Result<Pattern, Box<Diagnostic>> {
    let bad = |code, message: String, label: &str| {
        Err(Box::new(
            Diagnostic::error(code, message).label(label.to_string()),
        ))
    };
    let trimmed = raw.trim();
    if let Some(rest) = trimmed.strip_prefix('=') {
        if rest.contains("..") {
            return bad(
                "E0305",
                format!("malformed pattern `{raw}`"),
                "a pattern is exact (`=...`) or a range (`lo..hi`), not both",
            );
        }
        let code = normalise_code(rest);
        if code.is_empty() {
            return bad(
                "E0301",
                format!("empty pattern `{raw}`"),
                "no code after `=`",
            );
        }
        return Ok(Pattern::Exact(code));
    }
    if let Some((lo, hi)) = raw.split_once("..") {
        if hi.contains("..") {
            return bad(
                "E0305",
                format!("malformed pattern `{raw}`"),
                "a range has exactly one `..`",
            );
        }
        let (lo, hi) = (normalise_code(lo), normalise_code(hi));
        if lo.is_empty() || hi.is_empty() {
            return bad(
                "E0304",
                format!("range `{raw}` has an empty bound"),
                "both bounds of a range need a code",
            );
        }
        let (nl, nh) = (lo.chars().count(), hi.chars().count());
        if nl != nh {
            let d = Diagnostic::error(
                "E0302",
                format!("range `{raw}` has bounds of unequal length"),
            )
            .label(format!("`{lo}` has {nl} characters, `{hi}` has {nh}"))
            .help(
                "both bounds must have as many characters (after normalisation): e.g. `I10..I15`",
            );
            return Err(Box::new(d));
        }
        if lo > hi {
            let d = Diagnostic::error("E0303", format!("range `{raw}` is out of order"))
                .label(format!("`{lo}` comes after `{hi}`"))
                .help(format!("write the lower bound first: `{hi}..{lo}`"));
            return Err(Box::new(d));
        }
        return Ok(Pattern::Range(lo, hi));
    }
    let code = normalise_code(raw);
    if code.is_empty() {
        return bad(
            "E0301",
            format!("empty pattern `{raw}`"),
            "nothing is left after removing spaces, dots and dashes",
        );
    }
    Ok(Pattern::Prefix(code))
}

/// Reads the string field `key` of an item, reporting a wrong type.
fn string_field(
    fi: usize,
    table: &DeTable<'_>,
    key: &str,
    item: &Option<String>,
    broken: &mut bool,
    sink: &mut Sink<'_>,
) -> Option<Str> {
    let v = table.get(key)?;
    match v.get_ref().as_str() {
        Some(s) if !s.trim().is_empty() || !matches!(key, "id" | "name") => Some(Str {
            value: s.to_string(),
            span: v.span(),
        }),
        Some(_) => {
            sink.push(
                fi,
                item.clone(),
                Diagnostic::error("E0003", format!("`{key}` must not be empty"))
                    .at("", v.span())
                    .label("empty"),
            );
            *broken = true;
            None
        }
        None => {
            sink.push(
                fi,
                item.clone(),
                shape_error(&format!("`{key}`"), "a string", v.get_ref(), v.span()),
            );
            *broken = true;
            None
        }
    }
}

fn unknown_fields(
    fi: usize,
    table: &DeTable<'_>,
    known: &[&str],
    what: &str,
    item: &Option<String>,
    sink: &mut Sink<'_>,
) -> bool {
    let mut any = false;
    for (key, _) in entries(table) {
        let k = key.get_ref().as_ref();
        if known.contains(&k) {
            continue;
        }
        any = true;
        let mut d = Diagnostic::error("E0005", format!("unknown field `{k}` in [[{what}]]"))
            .at("", key.span())
            .label("not a field")
            .note(format!("the fields of [[{what}]] are {}", known.join(", ")));
        if let Some(s) = suggest(k, known.iter().copied()) {
            d = d.help(format!("did you mean `{s}`?"));
        }
        sink.push(fi, item.clone(), d);
    }
    any
}

fn missing_fields(
    fi: usize,
    table: &DeTable<'_>,
    required: &[&str],
    what: &str,
    span: &Range<usize>,
    item: &Option<String>,
    sink: &mut Sink<'_>,
) -> bool {
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| table.get(*k).is_none())
        .collect();
    for k in &missing {
        sink.push(
            fi,
            item.clone(),
            Diagnostic::error(
                "E0004",
                format!("[[{what}]] is missing the required field `{k}`"),
            )
            .at("", span.clone())
            .label(format!("this {what} has no `{k}`"))
            .note(format!("required: {}", required.join(", "))),
        );
    }
    !missing.is_empty()
}

fn expr_field(
    fi: usize,
    table: &DeTable<'_>,
    key: &str,
    item: &Option<String>,
    broken: &mut bool,
    sink: &mut Sink<'_>,
) -> Option<RawExpr> {
    let v = table.get(key)?;
    let expr = expr_string(&sink.files[fi].text, v);
    if expr.is_none() {
        sink.push(
            fi,
            item.clone(),
            shape_error(
                &format!("`{key}`"),
                "an expression string",
                v.get_ref(),
                v.span(),
            ),
        );
        *broken = true;
    }
    expr
}

fn read_criterion(
    fi: usize,
    index: usize,
    span: Range<usize>,
    table: &DeTable<'_>,
    sink: &mut Sink<'_>,
) -> RawCriterion {
    let id_text = table
        .get("id")
        .and_then(|v| v.get_ref().as_str())
        .filter(|s| !s.trim().is_empty());
    let item = Some(match id_text {
        Some(id) => format!("criterion {id}"),
        None => format!("criterion #{index}"),
    });
    let mut broken = unknown_fields(fi, table, &CRITERION_FIELDS, "criterion", &item, sink);
    broken |= missing_fields(
        fi,
        table,
        &["id", "title", "population", "gap", "priority"],
        "criterion",
        &span,
        &item,
        sink,
    );
    let mut c = RawCriterion {
        file: fi,
        span,
        index,
        id: string_field(fi, table, "id", &item, &mut broken, sink),
        title: string_field(fi, table, "title", &item, &mut broken, sink).map(|s| s.value),
        domain: string_field(fi, table, "domain", &item, &mut broken, sink).map(|s| s.value),
        source: string_field(fi, table, "source", &item, &mut broken, sink).map(|s| s.value),
        action: string_field(fi, table, "action", &item, &mut broken, sink).map(|s| s.value),
        population: expr_field(fi, table, "population", &item, &mut broken, sink),
        gap: expr_field(fi, table, "gap", &item, &mut broken, sink),
        exclude: expr_field(fi, table, "exclude", &item, &mut broken, sink),
        priority: None,
        broken: false,
    };
    if let Some(v) = table.get("priority") {
        let value = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
            _ => None,
        };
        match value {
            Some(p @ 1..=10) => c.priority = Some(p as u8),
            _ => {
                let found = match v.get_ref() {
                    DeValue::Integer(_) => format!("`{}`", &sink.files[fi].text[v.span()]),
                    other => toml_type(other).to_string(),
                };
                sink.push(
                    fi,
                    item.clone(),
                    Diagnostic::error(
                        "E0006",
                        format!("priority must be an integer from 1 to 10, found {found}"),
                    )
                    .at("", v.span())
                    .label("not an integer from 1 to 10")
                    .help("write a TOML integer without quotes, e.g. `priority = 8`"),
                );
                broken = true;
            }
        }
    }
    c.broken = broken;
    c
}

fn read_feature(
    fi: usize,
    index: usize,
    span: Range<usize>,
    table: &DeTable<'_>,
    sink: &mut Sink<'_>,
) -> RawFeature {
    let name_text = table
        .get("name")
        .and_then(|v| v.get_ref().as_str())
        .filter(|s| !s.trim().is_empty());
    let item = Some(match name_text {
        Some(n) => format!("feature {n}"),
        None => format!("feature #{index}"),
    });
    let mut broken = unknown_fields(fi, table, &FEATURE_FIELDS, "feature", &item, sink);
    broken |= missing_fields(fi, table, &FEATURE_FIELDS, "feature", &span, &item, sink);
    let name = string_field(fi, table, "name", &item, &mut broken, sink);
    let expr = expr_field(fi, table, "expr", &item, &mut broken, sink);
    RawFeature {
        file: fi,
        index,
        name,
        expr,
        broken,
    }
}

/// Lexes and parses an expression, reporting its errors.
fn parse_expr(fi: usize, item: &str, expr: &RawExpr, sink: &mut Sink<'_>) -> Option<ast::Expr> {
    let (tokens, errors) = lexer::lex(&expr.text);
    let as_diag = |code, span: Span, message: String, label: String, help: Option<String>| {
        let mut d = Diagnostic::error(code, message)
            .at("", span.start as usize..span.end as usize)
            .label(label);
        d.help = help;
        d
    };
    if !errors.is_empty() {
        for e in errors {
            let d = as_diag(e.code, e.span, e.message, e.label, e.help);
            sink.push_expr(fi, item, expr, d);
        }
        return None;
    }
    match parser::parse(&expr.text, &tokens) {
        Ok(e) => Some(e),
        Err(e) => {
            let d = as_diag(e.code, e.span, e.message, e.label, e.help);
            sink.push_expr(fi, item, expr, d);
            None
        }
    }
}

/// Type-checks a parsed expression, reporting its errors.
fn check_expr(
    fi: usize,
    item: &str,
    raw: &RawExpr,
    e: &ast::Expr,
    scope: &Scope<'_>,
    sink: &mut Sink<'_>,
) -> Option<Expr> {
    let mut out = Vec::new();
    let checked = check::check(e, scope, &mut out);
    for d in out {
        sink.push_expr(fi, item, raw, d);
    }
    checked
}

fn origin(files: &[SourceFile], fi: usize, raw: &RawExpr) -> Origin {
    let (line, column) = line_column(&files[fi].text, raw.map.file_offset(0));
    Origin {
        file: files[fi].name.clone(),
        line,
        column,
    }
}

/// Parses, checks and type-tests a criterion or feature expression.
fn item_expr(
    fi: usize,
    item: &str,
    raw: &RawExpr,
    scope: &Scope<'_>,
    allowed: &[Type],
    what: &str,
    sink: &mut Sink<'_>,
) -> Option<Expr> {
    let e = parse_expr(fi, item, raw, sink)?;
    let checked = check_expr(fi, item, raw, &e, scope, sink)?;
    if allowed.contains(&checked.ty) || checked.ty == Type::Null {
        return Some(checked);
    }
    let want: Vec<String> = allowed
        .iter()
        .map(|t| format!("a {}", type_name(*t)))
        .collect();
    let mut d = Diagnostic::error(
        "E0213",
        format!(
            "{what} must be {}, found a {}",
            want.join(" or "),
            type_name(checked.ty)
        ),
    )
    .at("", checked.span.start as usize..checked.span.end as usize)
    .label(format!("this is a {}", type_name(checked.ty)));
    if checked.ty == Type::Num && allowed == [Type::Bool] {
        d = d.help("compare the number to make a condition, e.g. `count(visit.any, 12mo) >= 1`");
    }
    sink.push_expr(fi, item, raw, d);
    None
}

fn compile_raw(mut raw: Raw, sink: &mut Sink<'_>) -> Option<Library> {
    let files = sink.files;
    // Value sets.
    let mut value_sets = Vec::new();
    let mut vs_index: HashMap<String, (usize, EventKind)> = HashMap::new();
    let mut vs_first: HashMap<String, (usize, usize)> = HashMap::new();
    for v in std::mem::take(&mut raw.value_sets) {
        if let Some(&(ff, off)) = vs_first.get(&v.name) {
            let first = sink.location(ff, off);
            sink.push(
                v.file,
                Some(format!("value set {}", v.name)),
                Diagnostic::error("E0008", format!("duplicate value set `{}`", v.name))
                    .at("", v.span.clone())
                    .label("defined again here")
                    .note(format!("first defined at {first}")),
            );
            continue;
        }
        vs_first.insert(v.name.clone(), (v.file, v.span.start));
        vs_index.insert(v.name.clone(), (value_sets.len(), v.kind));
        value_sets.push(ValueSet {
            name: v.name,
            kind: v.kind,
            title: v.title,
            unit: v.unit,
            systems: v.systems,
            file: files[v.file].name.clone(),
        });
    }

    // Definitions: register, parse, order, check.
    let mut registered: Vec<(RawDef, Option<ast::Expr>)> = Vec::new();
    let mut orphans: Vec<(RawDef, Option<ast::Expr>)> = Vec::new();
    let mut def_first: HashMap<String, (usize, usize)> = HashMap::new();
    let mut defs: HashMap<String, DefSlot> = HashMap::new();
    for d in std::mem::take(&mut raw.defs) {
        let item = format!("definition {}", d.name);
        let problem = if check::ATTRIBUTES.iter().any(|(a, _)| *a == d.name) {
            Some(
                Diagnostic::error("E0011", format!("`{}` cannot be redefined", d.name))
                    .label("a person attribute")
                    .help("`age`, `sex` and `clinic` always mean the person's attributes: choose another name"),
            )
        } else if !lexer::is_identifier(&d.name) {
            Some(
                Diagnostic::error("E0012", format!("definition name `{}` cannot be used in expressions", d.name))
                    .label("not a name an expression can refer to")
                    .help("use ASCII letters, digits and `_`, starting with a letter or `_`, and not a keyword"),
            )
        } else if let Some(&(ff, off)) = def_first.get(&d.name) {
            Some(
                Diagnostic::error("E0009", format!("duplicate definition `{}`", d.name))
                    .label("defined again here")
                    .note(format!("first defined at {}", sink.location(ff, off))),
            )
        } else {
            None
        };
        let parsed = parse_expr(d.file, &item, &d.expr, sink);
        match problem {
            Some(p) => {
                sink.push(d.file, Some(item), p.at("", d.span.clone()));
                orphans.push((d, parsed));
            }
            None => {
                def_first.insert(d.name.clone(), (d.file, d.span.start));
                if parsed.is_none() {
                    defs.insert(d.name.clone(), DefSlot::Broken);
                }
                registered.push((d, parsed));
            }
        }
    }
    let index_of: HashMap<&str, usize> = registered
        .iter()
        .enumerate()
        .map(|(i, (d, _))| (d.name.as_str(), i))
        .collect();
    let edges: Vec<Vec<usize>> = registered
        .iter()
        .map(|(_, ast)| {
            let mut deps: Vec<usize> = ast
                .as_ref()
                .map(|a| {
                    check::referenced_names(a)
                        .into_iter()
                        .filter_map(|n| index_of.get(n).copied())
                        .collect()
                })
                .unwrap_or_default();
            deps.sort_unstable();
            deps.dedup();
            deps
        })
        .collect();
    let mut definitions: Vec<Definition> = Vec::new();
    for scc in strongly_connected(&edges) {
        let cyclic = scc.len() > 1 || edges[scc[0]].contains(&scc[0]);
        if cyclic {
            let path = cycle_path(&scc, &edges);
            let names: Vec<&str> = path
                .iter()
                .map(|&i| registered[i].0.name.as_str())
                .collect();
            let first = &registered[path[0]].0;
            let mut d = Diagnostic::error(
                "E0214",
                format!("definition cycle: {} -> {}", names.join(" -> "), names[0]),
            )
            .label("this definition depends on itself")
            .help("a definition may use other definitions, but not itself, directly or through others");
            for &i in &path[1..] {
                let other = &registered[i].0;
                d = d.note(format!(
                    "`{}` is defined at {}",
                    other.name,
                    sink.location(other.file, other.span.start)
                ));
            }
            sink.push(
                first.file,
                Some(format!("definition {}", first.name)),
                d.at("", first.span.clone()),
            );
            for &i in &scc {
                defs.insert(registered[i].0.name.clone(), DefSlot::Broken);
            }
            continue;
        }
        let (d, ast) = &registered[scc[0]];
        let Some(ast) = ast else { continue };
        let item = format!("definition {}", d.name);
        let scope = Scope {
            value_sets: &vs_index,
            broken_value_sets: &raw.broken_value_sets,
            defs: &defs,
        };
        match check_expr(d.file, &item, &d.expr, ast, &scope, sink) {
            Some(expr) => {
                defs.insert(
                    d.name.clone(),
                    DefSlot::Ready {
                        id: definitions.len(),
                        ty: expr.ty,
                    },
                );
                definitions.push(Definition {
                    name: d.name.clone(),
                    expr,
                    origin: origin(files, d.file, &d.expr),
                });
            }
            None => {
                defs.insert(d.name.clone(), DefSlot::Broken);
            }
        }
    }
    let scope = Scope {
        value_sets: &vs_index,
        broken_value_sets: &raw.broken_value_sets,
        defs: &defs,
    };
    // Definitions that could not be registered are still checked for errors.
    for (d, ast) in &orphans {
        if let Some(ast) = ast {
            check_expr(
                d.file,
                &format!("definition {}", d.name),
                &d.expr,
                ast,
                &scope,
                sink,
            );
        }
    }

    // Criteria.
    let mut criteria = Vec::new();
    let mut ids: HashMap<String, (usize, usize)> = HashMap::new();
    for c in std::mem::take(&mut raw.criteria) {
        let item = match &c.id {
            Some(id) => format!("criterion {}", id.value),
            None => format!("criterion #{}", c.index),
        };
        let mut ok = !c.broken;
        if let Some(id) = &c.id {
            ok &= claim_unique(
                &mut ids,
                sink,
                (c.file, &item, id),
                Diagnostic::error("E0007", format!("duplicate criterion id `{}`", id.value)),
                ("used again here", "first used at"),
            );
        }
        let mut field = |raw: &Option<RawExpr>, name: &str| {
            raw.as_ref().map(|r| {
                item_expr(
                    c.file,
                    &format!("{item} ({name})"),
                    r,
                    &scope,
                    &[Type::Bool],
                    &format!("`{name}`"),
                    sink,
                )
            })
        };
        let population = field(&c.population, "population");
        let gap = field(&c.gap, "gap");
        let exclude = field(&c.exclude, "exclude");
        if !ok {
            continue;
        }
        let (Some(Some(population)), Some(Some(gap)), Some(id), Some(title), Some(priority)) =
            (population, gap, c.id, c.title, c.priority)
        else {
            continue;
        };
        let exclude = match exclude {
            None => None,
            Some(Some(e)) => Some(e),
            Some(None) => continue,
        };
        let anchor = c
            .population
            .as_ref()
            .map_or(c.span.start, |r| r.map.file_offset(0));
        let (line, column) = line_column(&files[c.file].text, anchor);
        criteria.push(Criterion {
            id: id.value,
            title,
            domain: c.domain,
            source: c.source,
            population,
            gap,
            exclude,
            priority,
            action: c.action,
            origin: Origin {
                file: files[c.file].name.clone(),
                line,
                column,
            },
        });
    }

    // Features.
    let mut features = Vec::new();
    let mut names: HashMap<String, (usize, usize)> = HashMap::new();
    for f in std::mem::take(&mut raw.features) {
        let item = match &f.name {
            Some(n) => format!("feature {}", n.value),
            None => format!("feature #{}", f.index),
        };
        let mut ok = !f.broken;
        if let Some(n) = &f.name {
            ok &= claim_unique(
                &mut names,
                sink,
                (f.file, &item, n),
                Diagnostic::error("E0010", format!("duplicate feature `{}`", n.value)),
                ("defined again here", "first defined at"),
            );
        }
        let expr = f.expr.as_ref().and_then(|r| {
            item_expr(
                f.file,
                &item,
                r,
                &scope,
                &[Type::Num, Type::Bool],
                "a feature",
                sink,
            )
        });
        if let (true, Some(name), Some(expr), Some(raw)) = (ok, f.name, expr, &f.expr) {
            features.push(Feature {
                name: name.value,
                expr,
                origin: origin(files, f.file, raw),
            });
        }
    }

    Some(Library {
        value_sets,
        definitions,
        criteria,
        features,
        hash: String::new(),
    })
}

/// Tarjan's algorithm: strongly connected components, each one emitted after
/// every component it depends on (dependencies first). Nodes are visited in
/// index order, so the result is deterministic.
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'e> {
        edges: &'e [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &s.edges[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                scc.push(w);
                if w == v {
                    break;
                }
            }
            scc.sort_unstable();
            s.out.push(scc);
        }
    }
    let n = edges.len();
    let mut s = State {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

/// A cycle through the smallest node of a strongly connected component, as
/// the list of nodes before returning to the first.
fn cycle_path(scc: &[usize], edges: &[Vec<usize>]) -> Vec<usize> {
    let start = scc[0];
    if edges[start].contains(&start) {
        return vec![start];
    }
    // Breadth-first search inside the component for the shortest way back.
    let inside: HashSet<usize> = scc.iter().copied().collect();
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &edges[v] {
            if w == start {
                let mut path = vec![v];
                let mut cur = v;
                while let Some(&p) = parent.get(&cur) {
                    path.push(p);
                    cur = p;
                }
                path.reverse();
                if path[0] != start {
                    path.insert(0, start);
                }
                return path;
            }
            if inside.contains(&w) && w != start && !parent.contains_key(&w) {
                parent.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    scc.to_vec()
}
