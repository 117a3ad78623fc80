//! The criteria language: lexer, parser, type checker, diagnostics.
pub mod ir;
