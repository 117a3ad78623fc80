//! The criteria language (`shared/spec/criteria-language.md`): TOML files to a
//! checked, typed [`ir::Library`], or every error of the library at once.
//!
//! Pipeline: TOML with spans ([`library`]) → expression strings → tokens
//! ([`lexer`]) → syntax tree ([`ast`], [`parser`]) → typed IR ([`check`]).
//! The language knows nothing of files on disk, Arrow or Parquet: callers hand
//! in [`SourceFile`]s and get `(Option<Library>, Vec<Diagnostic>)` back;
//! [`render`] turns diagnostics into text for people.
//!
//! # Decisions where the spec is silent
//!
//! Lexical:
//! - Names (definitions, attributes, functions) are ASCII
//!   `[A-Za-z_][A-Za-z0-9_]*`, case-sensitive. Keywords (`and or not between in
//!   is null true false`) and function names are lower case: `AND` and `HAS` are
//!   ordinary, unknown names (the messages suggest the lower-case form).
//! - A value set is one token `kind.name` with no spaces: an identifier, a dot,
//!   then `[A-Za-z0-9_]+` (so `lab.25oh_vitd` works). Value-set names that
//!   cannot be written this way (e.g. `[dx.diabetes-t2]`) are error E0012.
//! - Whitespace is ASCII whitespace (including newlines, so multi-line TOML
//!   strings work). There are no comments inside expressions.
//! - Numbers are `digits` or `digits.digits`; a number glued to letters is a
//!   window (`30d`, `6mo`, `2y`) or error E0104 (`12m`, `2w`, `1e5`, `1.5y`).
//! - There are no negative literals: `-2` is unary minus applied to `2`, which
//!   binds tighter than everything (`-2 * x` is `(-2) * x`; `- -x` is allowed).
//! - An expression may hold at most [`parser::MAX_TOKENS`] tokens (E0107): this
//!   bounds the depth of every tree walked recursively downstream.
//!
//! Syntax:
//! - `x between a and b`: `x`, `a` and `b` are additive expressions (arithmetic
//!   and unary minus, no comparison or `not` without parentheses); so
//!   `x between 1 and 2 and y` is `(x between 1 and 2) and y`.
//! - `x in (a, b, ...)`: the items are full expressions; the list holds at least
//!   one item; no trailing comma (in function calls neither).
//! - `x is null` / `x is not null` are comparisons: they do not chain either
//!   (`a == b is null` is E0106); write `(a == b) is null`.
//! - `not` binds more loosely than comparisons, so it cannot appear as an
//!   operand of a comparison or arithmetic without parentheses (`a == not b` is
//!   a syntax error; `a == (not b)` is fine). `not not x` is allowed.
//! - Parentheses belong to the span of what they enclose, so an error on
//!   `(a + b)` underlines the parentheses too.
//! - One syntax error ends the parse of that expression (later syntax errors in
//!   the same string would be guesses); all lexical errors of an expression are
//!   reported, as are all type errors, and every other expression of the
//!   library is still checked.
//!
//! Types:
//! - The literal `null` has type `Null`, which fits every type. `null == null`,
//!   `null in (1, 2)`, `null is null` are booleans; `null + 1`, `-null`,
//!   `abs(null)`, `least(null)` are numbers; `if(c, null, null)`,
//!   `coalesce(null)` and a definition equal to `null` keep type `Null`.
//! - `==`, `!=`, `in`, the branches of `if` and the arguments of `coalesce`
//!   must share one type, null aside; the first non-null operand fixes it and
//!   each operand of another type is one error, pointing at that operand.
//! - `least` and `greatest` take one or more numbers (like `coalesce`).
//! - A criterion's `population`, `gap` and `exclude` must be boolean (or the
//!   literal `null`, which then never fires). A feature must be a number or a
//!   boolean (or `null`). Definitions may be of any type, strings included.
//! - Definitions are resolved by bare name; `age`, `sex`, `clinic` always mean
//!   the person's attributes. A definition may have a function's name (`count`
//!   alone is the definition, `count(...)` the function). A definition whose
//!   name cannot be referred to (not an identifier, or a keyword) is E0012, but
//!   its expression is still checked.
//! - A definition with an error makes every expression using it silent about
//!   it (no cascade of errors), so does every definition in a cycle.
//!
//! TOML:
//! - Code-system keys of one value set that differ only in case (`ICD10`,
//!   `icd10`) are one system: their patterns are merged.
//! - `unit` is stored trimmed. A value set with no code system is warning W0301
//!   (it can never match), not an error.
//! - A pattern is first trimmed; `=` then marks an exact pattern; otherwise the
//!   first `..` splits a range (more than one `..`, or `..` in an exact pattern,
//!   is E0305); each part is normalised with [`crate::data::normalise_code`].
//! - `id` and feature `name` must be non-empty strings.
//! - Errors inside expression strings point at the file's own characters:
//!   literal strings map by offset, basic strings are decoded escape by escape
//!   (an escape's characters map to its backslash); see [`strmap`].
//! - A file that is not valid TOML reports its TOML errors only; the names it
//!   declares still count, so other files do not report them as unknown.

pub mod ast;
pub mod check;
pub mod diag;
pub mod ir;
pub mod lexer;
pub mod library;
pub mod parser;
pub mod strmap;
mod summary;

pub use diag::{Diagnostic, Severity, SourceFile, render};
pub use library::{compile_library, library_hash};
