//! Command-line arguments (clap derive): the "low-level" view of what the user typed.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::panel::PanelOptions;
use crate::plot::PlotOptions;
use crate::run::RunOptions;

/// p1sim: a simulated Fluvius S211/T211 meter and its P1 port.
#[derive(Debug, Parser)]
#[command(name = "p1sim", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// No summary line on stderr at the end of `run`, `fixtures` and `plot`.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check telegrams: one line per telegram found (OK, or what is wrong and where).
    ///
    /// Exits 0 only if at least one telegram was found and all are valid.
    Verify {
        /// Files to read; `-` or none for standard input.
        files: Vec<String>,
    },
    /// Print one JSON object per telegram (schema: docs/json.md).
    Decode {
        /// File to read; `-` for standard input.
        #[arg(default_value = "-")]
        file: String,
    },
    /// Turn `decode`'s JSON objects back into telegram bytes.
    Encode {
        /// File to read; `-` for standard input.
        #[arg(default_value = "-")]
        file: String,
    },
    /// Play a scenario and write its telegrams (the built-in quickstart without SCENARIO).
    Run(RunOptions),
    /// Play your own Fluvius portal export (quarter-hour electricity, hourly gas) as a
    /// live meter: no scenario needed (docs/scenarios.md, `[[loads.replay]]`).
    Replay(Box<crate::replay::ReplayArgs>),
    /// The meter's front panel: screen, indicators, LEDs and the button (docs/panel.md).
    ///
    /// Interactive in a terminal (space/enter = press, h = hold 3 s, q = quit), or
    /// headless with --script on the simulated clock.
    Panel(PanelOptions),
    /// Draw what the meter did as an SVG or PNG picture: power, quarter demand and the
    /// month's peak, tariff bands, breaker, prepaid credit, gas and water captures, with
    /// DST changes, month starts and events marked (Belgian local time).
    Plot(PlotOptions),
    /// Regenerate golden/<name>.p1 and golden/<name>.truth.jsonl from scenarios/*.toml.
    Fixtures {
        /// Regenerate in memory and fail on any byte difference instead of writing.
        #[arg(long)]
        check: bool,
        /// Directory of scenario files.
        #[arg(long, default_value = "scenarios")]
        scenarios: PathBuf,
        /// Directory of golden files.
        #[arg(long, default_value = "golden")]
        golden: PathBuf,
    },
}
