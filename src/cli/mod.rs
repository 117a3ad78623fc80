//! One module per subcommand. Only the CLI reads and writes files.
pub mod check;
pub mod inspect;
pub mod sql;
pub mod synth;
