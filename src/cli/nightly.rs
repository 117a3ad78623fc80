//! `caregap nightly --config nightly.toml`: the whole night (score → rank →
//! diff → report, optionally import first and the outreach effect) into the
//! run history, `latest` switched only when every step succeeded. The night
//! itself is `caregap::runs::nightly::run_night`; this file runs the steps
//! that are subcommands (in-process, the ranking on the scoring's tables of
//! the data folder) and shows progress.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use caregap::data::{Day, format_day};
use caregap::runs::nightly::{self, ImportStep, NightlyConfig, Steps};
use clap::Parser;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The nightly configuration (TOML; see README "The nightly job").
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// `caregap import` arguments parsed as on the command line.
#[derive(Parser)]
#[command(name = "import")]
struct ImportCli {
    #[command(flatten)]
    args: super::import::Args,
}

/// The steps as the CLI's own subcommands, with a spinner per step on a terminal.
struct CliSteps {
    terminal: bool,
    spinner: Option<indicatif::ProgressBar>,
    /// The scoring step's patients, consents and outreach, handed to the
    /// ranking step (which would otherwise read the data folder again).
    scored: Option<super::rank::DataTables>,
}

fn msg(e: &anyhow::Error) -> String {
    format!("{e:#}")
}

impl Steps for CliSteps {
    fn import(&mut self, _cfg: &NightlyConfig, step: &ImportStep) -> Result<(), String> {
        let argv = std::iter::once("import".to_string()).chain(step.args.iter().cloned());
        let parsed = ImportCli::try_parse_from(argv)
            .map_err(|e| format!("the [import] args of the config: {e}"))?;
        super::import::run(parsed.args).map_err(|e| msg(&e))
    }

    fn score(
        &mut self,
        cfg: &NightlyConfig,
        as_of: Day,
        out: &std::path::Path,
    ) -> Result<(), String> {
        super::score::execute(super::score::ScoreArgs {
            data: cfg.data.clone(),
            criteria: cfg.library.clone(),
            as_of: Some(format_day(as_of)),
            out: out.to_path_buf(),
            status: cfg.status,
            strict: false,
            by_clinic: false,
            chunk_events: super::score::DEFAULT_CHUNK_EVENTS,
        })
        .map(|scored| self.scored = Some(scored.tables))
        .map_err(|e| msg(&e))
    }

    fn rank(&mut self, cfg: &NightlyConfig, run: &std::path::Path) -> Result<(), String> {
        super::rank::run_with(
            super::rank::Args {
                command: None,
                run: Some(run.to_path_buf()),
                order: None,
                config: cfg.rank_config.clone(),
                capacities: cfg.capacities.clone(),
                format: super::rank::Format::Csv,
            },
            self.scored.take(),
        )
        .map_err(|e| msg(&e))
    }

    fn report(&mut self, cfg: &NightlyConfig, run: &std::path::Path) -> Result<(), String> {
        super::report::run(super::report::Args {
            run: run.to_path_buf(),
            out: run.join("report.html"),
            min_cell: cfg.min_cell,
        })
        .map_err(|e| msg(&e))
    }

    fn progress(&mut self, step: &str, finished: Option<f64>) {
        if !self.terminal {
            return;
        }
        match finished {
            None => {
                let s = indicatif::ProgressBar::new_spinner();
                s.set_style(
                    indicatif::ProgressStyle::with_template("{spinner} {msg:8} {elapsed}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
                s.set_message(step.to_string());
                s.enable_steady_tick(std::time::Duration::from_millis(200));
                self.spinner = Some(s);
            }
            Some(secs) => {
                if let Some(s) = self.spinner.take() {
                    s.finish_and_clear();
                }
                eprintln!("  {step:<8} {secs:>8.1} s");
            }
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    let cfg = NightlyConfig::read(&args.config)?;
    let mut steps = CliSteps {
        terminal: std::io::stderr().is_terminal(),
        spinner: None,
        scored: None,
    };
    let summary = nightly::run_night(&cfg, &mut steps)?;
    let total: f64 = summary.total_seconds;
    let steps_text: Vec<String> = summary
        .steps
        .iter()
        .map(|s| format!("{} {:.1} s", s.step, s.seconds))
        .collect();
    eprintln!(
        "night {} (as of {}) succeeded in {total:.1} s ({}); {} -> {}",
        summary.night,
        summary.as_of,
        steps_text.join(", "),
        cfg.runs.join(nightly::LATEST).display(),
        summary.night
    );
    if let Some(d) = &summary.diff {
        eprintln!("{}", d.line());
    }
    if !summary.removed.is_empty() {
        eprintln!("retention removed {}", summary.removed.join(", "));
    }
    Ok(())
}
