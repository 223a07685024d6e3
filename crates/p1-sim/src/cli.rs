//! Command-line arguments (clap derive): the "low-level" view of what the user typed.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// p1sim: a simulated Fluvius S211/T211 meter and its P1 port.
#[derive(Debug, Parser)]
#[command(name = "p1sim", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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
    Run {
        /// Scenario file (TOML, see docs/scenarios.md).
        scenario: Option<PathBuf>,
        /// Destination: `-` (stdout), FILE, DIR/ (one file per telegram), `pty`,
        /// `tcp:HOST:PORT` (or `tcp:PORT` on 127.0.0.1), `serial:DEVICE`.
        #[arg(long, default_value = "-")]
        out: String,
        /// Also write the truth file: one JSON line per telegram (docs/truth.md).
        #[arg(long, value_name = "FILE")]
        truth: Option<PathBuf>,
        /// Live ports: send as fast as possible instead of in real time.
        #[arg(long)]
        fast: bool,
        /// Live ports: simulated seconds per real second.
        #[arg(long, default_value_t = 1.0, conflicts_with = "fast")]
        speed: f64,
        /// `--out pty`: keep a symlink to the device at PATH (removed on exit).
        #[arg(long, value_name = "PATH")]
        link: Option<PathBuf>,
        /// Live ports: write each telegram at the 115200-baud line rate.
        #[arg(long)]
        baud_pacing: bool,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the scenario's `every`: emit only every N-th telegram instant.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        every: Option<u64>,
    },
    /// Play your own Fluvius portal export (quarter-hour electricity, hourly gas) as a
    /// live meter: no scenario needed (docs/scenarios.md, `[[loads.replay]]`).
    Replay(Box<crate::replay::ReplayArgs>),
    /// The meter's front panel: screen, indicators, LEDs and the button (docs/panel.md).
    ///
    /// Interactive in a terminal (space/enter = press, h = hold 3 s, q = quit), or
    /// headless with --script on the simulated clock.
    Panel {
        /// Scenario file (the built-in quickstart without it).
        scenario: Option<PathBuf>,
        /// Headless: steps such as "press; press; wait 10s; hold 3s" (docs/panel.md).
        #[arg(long)]
        script: Option<String>,
        /// Headless: print a text frame after every step, not only after the last.
        #[arg(long, requires = "script")]
        frames: bool,
        /// Interactive: simulated seconds per real second.
        #[arg(long, default_value_t = 1.0, conflicts_with = "script")]
        speed: f64,
        /// Interactive: also serve the meter's P1 stream on `pty` or `tcp:HOST:PORT`.
        #[arg(long, conflicts_with = "script")]
        out: Option<String>,
        /// Seconds the screen stays lit after the last press [default: the scenario's
        /// [panel] screen_timeout, else 30].
        #[arg(long)]
        screen_timeout: Option<u32>,
        /// Control LED pulses per kWh [default: the scenario's [panel], else 1000].
        #[arg(long)]
        imp_per_kwh: Option<u32>,
        /// Blind LED pulses per kvarh [default: the scenario's [panel], else 1000].
        #[arg(long)]
        imp_per_kvarh: Option<u32>,
        /// Display sequence, comma-separated [default: the scenario's [panel], else
        /// 1.8.1,1.8.2,1.7.0,1.6.0,2.8.1,2.8.2,2.7.0,96.1.1].
        #[arg(long, value_delimiter = ',')]
        sequence: Vec<p1_panel::Code>,
    },
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
