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
