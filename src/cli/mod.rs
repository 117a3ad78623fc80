//! One module per subcommand. Only the CLI reads and writes files.
pub mod calllist;
pub mod check;
pub mod demo;
pub mod import;
pub mod inspect;
pub mod model;
pub mod outreach;
pub mod plan;
pub mod rank;
pub mod report;
pub mod score;
pub mod sql;
pub mod synth;
pub mod test_library;
// The scheduler service's doors.
pub mod audit;
pub mod serve;
pub mod users;
// The nightly operation: run history, diffs, outreach effect.
pub mod diff;
pub mod effect;
pub mod nightly;

/// Says what a command removed before writing: what runs killed earlier left
/// beside its output (`output::StagingDir`, `replace_file`, `remove_leftovers`).
pub fn say_removed(stale: &[std::path::PathBuf]) {
    for path in stale {
        eprintln!("removed {}, left behind by a killed run", path.display());
    }
}
