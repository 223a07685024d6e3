//! `p1sim panel`: the meter's front panel over a scenario. Headless with `--script` (the
//! simulated clock, no sleeping, one text frame per step with `--frames`), otherwise an
//! interactive terminal UI paced in real time (`--speed`), optionally serving the same
//! meter's P1 telegrams (`--out pty|tcp:...`). docs/panel.md describes both.

pub mod script;
pub mod session;
mod tui;

use std::io::Write;
use std::path::PathBuf;

use p1_meter::SimTime;
use p1_panel::{Code, PanelConfig, render_text};

use crate::error::CliError;
use crate::live::LiveSinkSpec;
use script::Step;
pub use session::Session;

/// Options of `p1sim panel`, parsed once from the command line (clap) or built by a
/// caller.
#[derive(Debug, Clone, clap::Args)]
pub struct PanelOptions {
    /// Scenario file (the built-in quickstart without it).
    pub scenario: Option<PathBuf>,
    /// Headless: steps such as "press; press; wait 10s; hold 3s" (docs/panel.md).
    #[arg(long)]
    pub script: Option<String>,
    /// Headless: print a text frame after every step, not only after the last.
    #[arg(long, requires = "script")]
    pub frames: bool,
    /// Interactive: simulated seconds per real second.
    #[arg(long, default_value_t = 1.0, conflicts_with = "script")]
    pub speed: f64,
    /// Interactive: also serve the meter's P1 stream on `pty` or `tcp:HOST:PORT`.
    #[arg(long, conflicts_with = "script")]
    pub out: Option<LiveSinkSpec>,
    /// Panel settings given on the command line.
    #[command(flatten)]
    pub panel: PanelOverrides,
}

/// Panel settings from the command line; each one given replaces the scenario's `[panel]`
/// setting (or the default when the scenario has none).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PanelOverrides {
    /// Seconds the screen stays lit after the last press [default: the scenario's
    /// [panel] screen_timeout, else 30].
    #[arg(long = "screen-timeout", value_name = "SECONDS")]
    pub screen_timeout_s: Option<u32>,
    /// Control LED pulses per kWh [default: the scenario's [panel], else 1000].
    #[arg(long = "imp-per-kwh", value_name = "N")]
    pub control_imp_per_kwh: Option<u32>,
    /// Blind LED pulses per kvarh [default: the scenario's [panel], else 1000].
    #[arg(long = "imp-per-kvarh", value_name = "N")]
    pub blind_imp_per_kvarh: Option<u32>,
    /// Display sequence, comma-separated [default: the scenario's [panel], else
    /// 1.8.1,1.8.2,1.7.0,1.6.0,2.8.1,2.8.2,2.7.0,96.1.1].
    #[arg(long, value_delimiter = ',')]
    pub sequence: Vec<Code>,
}

impl PanelOverrides {
    /// `base` with the settings given here.
    pub fn over(&self, base: PanelConfig) -> PanelConfig {
        PanelConfig {
            screen_timeout_ms: self
                .screen_timeout_s
                .map_or(base.screen_timeout_ms, |s| i64::from(s) * 1000),
            control_imp_per_kwh: self.control_imp_per_kwh.unwrap_or(base.control_imp_per_kwh),
            blind_imp_per_kvarh: self.blind_imp_per_kvarh.unwrap_or(base.blind_imp_per_kvarh),
            sequence: if self.sequence.is_empty() {
                base.sequence
            } else {
                self.sequence.clone()
            },
            ..base
        }
    }
}

/// `p1sim panel`.
pub fn run(opts: &PanelOptions, stdout: &mut dyn Write) -> Result<i32, CliError> {
    let scenario = crate::run::load(opts.scenario.as_deref())?;
    let cfg = opts
        .panel
        .over(scenario.panel().cloned().unwrap_or_default());
    match &opts.script {
        Some(text) => {
            let steps = script::parse(text).map_err(|e| CliError::Input {
                path: "--script".into(),
                line: e.line,
                column: e.column,
                message: e.message,
            })?;
            let session = Session::new(scenario, cfg, false)?;
            headless(session, &steps, opts.frames, stdout)?;
            Ok(0)
        }
        None => tui::run(scenario, cfg, opts),
    }
}

/// `2026-06-15 12:00:10.200` (Belgian local time).
fn local_text(t: SimTime) -> String {
    t.local().0.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// The header line printed above each headless frame.
fn header(session: &Session, index: usize, step: &str) -> String {
    let t = session.now();
    let since = t.0 - session.start().0;
    let p1 = match session.last_telegram() {
        Some((at, Some(r))) => format!(
            "last telegram {} 96.3.10={}",
            local_text(*at),
            r.breaker.code()
        ),
        Some((at, None)) => format!("last telegram {} silent", local_text(*at)),
        None => "no telegram yet".to_owned(),
    };
    format!(
        "--- step {index}: {step} | {} (+{}) | P1 {p1}\n",
        local_text(t),
        script::ms_text(since),
    )
}

/// Runs `steps` on the simulated clock and prints the frames.
pub fn headless(
    mut session: Session,
    steps: &[Step],
    frames: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut print = |session: &mut Session, index: usize, step: &str| -> Result<(), CliError> {
        let t = session.now();
        let view = session.view(t);
        let text = format!("{}{}", header(session, index, step), render_text(&view));
        out.write_all(text.as_bytes()).map_err(CliError::Write)
    };
    if frames {
        print(&mut session, 0, "start")?;
    }
    for (i, step) in steps.iter().enumerate() {
        let now = session.now();
        let next = match step {
            Step::Press { held_ms, .. } | Step::Wait { ms: held_ms } => now.plus_ms(*held_ms),
            _ => now,
        };
        if next >= session.end() {
            return Err(CliError::Usage(format!(
                "--script step {} ({step}) goes past the end of the scenario at {}",
                i + 1,
                local_text(session.end())
            )));
        }
        match step {
            Step::Press { held_ms, .. } => {
                session.press(next, *held_ms)?;
            }
            Step::Wait { .. } => {
                session.view(next);
            }
            Step::Error(on) => session.set_error(*on),
            Step::Network { registered, signal } => {
                session.set_network(*registered, signal.unwrap_or(u8::MAX));
            }
        }
        if frames || i + 1 == steps.len() {
            print(&mut session, i + 1, &step.to_string())?;
        }
    }
    Ok(())
}
