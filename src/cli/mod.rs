//! One module per subcommand. Only the CLI reads and writes files.
pub mod inspect;
pub mod synth;
