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
        /// `--out tcp:`: start only once N clients are connected (with `--fast`, so the
        /// run does not end before a reader connects).
        #[arg(long, value_name = "N", default_value_t = 0)]
        wait_clients: usize,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the scenario's `every`: emit only every N-th telegram instant.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        every: Option<u64>,
    },
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
    /// Draw what the meter did as an SVG or PNG picture: power, quarter demand and the
    /// month's peak, tariff bands, breaker, prepaid credit, gas and water captures, with
    /// DST changes, month starts and events marked (Belgian local time).
    Plot {
        /// Scenario file (the built-in quickstart without it and without --telegrams).
        #[arg(conflicts_with = "telegrams")]
        scenario: Option<PathBuf>,
        /// Plot a capture instead (decoded with p1sim's decoder; `-` for standard input).
        #[arg(long, value_name = "FILE")]
        telegrams: Option<String>,
        /// Picture file, `.svg` or `.png`.
        #[arg(short, long, value_name = "FILE")]
        out: PathBuf,
        /// First instant drawn, Belgian local time (`2026-03-29 01:30`).
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// End of the drawing, Belgian local time.
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        /// Also draw each phase's import and export power.
        #[arg(long)]
        phases: bool,
        /// Draw every N-th telegram instant [default: all, or on long spans 64 per
        /// pixel column].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        every: Option<u64>,
        /// Picture size in pixels, WIDTHxHEIGHT.
        #[arg(long, default_value = "1200x900", value_parser = parse_size)]
        size: (u32, u32),
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
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

/// Parses `WIDTHxHEIGHT`.
fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected WIDTHxHEIGHT such as 1200x900, found {text:?}"))?;
    let side = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("expected WIDTHxHEIGHT such as 1200x900, found {text:?}"))
    };
    Ok((side(w)?, side(h)?))
}
