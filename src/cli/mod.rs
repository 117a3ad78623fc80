//! One module per subcommand. Only the CLI reads and writes files.
pub mod check;
pub mod inspect;
pub mod plan;
pub mod score;
pub mod sql;
pub mod synth;
