//! `p1sim plot`: draws what a meter did — a scenario's simulation or a decoded capture —
//! as an SVG or PNG picture (power, quarter demand and monthly peak, tariff bands,
//! breaker, prepaid credit, gas and water captures, calendar and event marks).
//!
//! Samples stream into per-pixel columns ([`columns::Columns`]), so memory is fixed by
//! the picture's width whatever the span; [`draw`] turns the columns into the picture.

mod axis;
mod columns;
mod draw;

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use p1_meter::time::{from_local_forward, local_instants};
use p1_meter::{PeakStamp, SimTime};
use p1_scenario::{EventAction, Scenario, Simulation};
use p1_wire::{MbusCapture, Readout, Tst};

use crate::error::CliError;
use crate::input::Input;
use columns::Columns;

/// Options of `p1sim plot`, parsed once from the command line (clap) or built by a caller.
#[derive(Debug, Clone, clap::Args)]
pub struct PlotOptions {
    /// Scenario file (the built-in quickstart without it and without --telegrams).
    #[arg(conflicts_with = "telegrams")]
    pub scenario: Option<PathBuf>,
    /// Plot a capture instead (decoded with p1sim's decoder; `-` for standard input).
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub telegrams: Option<String>,
    /// Plot a Fluvius portal export (quarter-hour electricity CSV) as `p1sim replay`
    /// plays it with its defaults.
    #[arg(long, value_name = "EXPORT.csv", conflicts_with = "scenario")]
    pub replay: Option<PathBuf>,
    /// Picture file, `.svg` or `.png`.
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,
    /// First instant drawn, Belgian local time (`2026-03-29 01:30`).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the drawing, Belgian local time.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Also draw each phase's import and export power.
    #[arg(long)]
    pub phases: bool,
    /// Draw every N-th telegram instant of a scenario [default: all, or on long spans
    /// as many as [`SAMPLES_PER_COLUMN`] (64) per pixel column].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub every: Option<u64>,
    /// Picture size in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1200x900", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
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

/// On long spans, telegram instants drawn per pixel column: enough for the min/max of
/// each column to show what the meter did, few enough that a year at 1 s draws in
/// seconds. The instants drawn are exactly the telegrams of the full run (a scenario's
/// `every` keeps the same stream), and the registers stay exact in between.
pub const SAMPLES_PER_COLUMN: u64 = 64;

/// The picture formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Svg,
    Png,
}

/// A mark on the time axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mark {
    pub(crate) at_ms: i64,
    pub(crate) kind: MarkKind,
    pub(crate) label: String,
}

/// What a mark stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkKind {
    Dst,
    Month,
    Event,
}

/// A month's peak quarter as the telegrams stated it last in that month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeakMark {
    /// The stamp printed in 1.6.0.
    pub(crate) stamp_ms: i64,
    /// The quarter it names, `[start, end)`.
    pub(crate) quarter: (i64, i64),
    pub(crate) w: u32,
}

/// Everything [`draw`] needs: the reduced series and the marks.
#[derive(Debug, Clone)]
pub(crate) struct Recording {
    pub(crate) title: String,
    pub(crate) from_ms: i64,
    pub(crate) to_ms: i64,
    pub(crate) columns: Columns,
    /// Device type per M-Bus channel 1..=4, once seen.
    pub(crate) mbus_kinds: [Option<u16>; 4],
    pub(crate) peaks: Vec<PeakMark>,
    pub(crate) marks: Vec<Mark>,
    pub(crate) phases: usize,
    pub(crate) samples: u64,
    /// Scenario: the telegram interval and the interval between instants drawn, ms.
    pub(crate) sampling: Option<(i64, i64)>,
}

/// Streams samples into a [`Recording`].
struct Recorder {
    rec: Recording,
    stamp: PeakStamp,
    last_capture: [Option<i64>; 4],
    /// Local (year, month) of the latest sample, to start a new month's peak.
    month: Option<(i32, u32)>,
}

/// The instant a wire timestamp names: Belgian local time, the S/W flag choosing between
/// the two instants of the repeated October hour. `None` for placeholders.
pub(crate) fn tst_ms(t: &Tst) -> Option<i64> {
    if !t.is_valid() {
        return None;
    }
    let naive = chrono::NaiveDate::from_ymd_opt(
        2000 + i32::from(t.year),
        u32::from(t.month),
        u32::from(t.day),
    )?
    .and_hms_opt(u32::from(t.hour), u32::from(t.minute), u32::from(t.second))?;
    let all = local_instants(naive);
    let pick = if t.dst { all.first() } else { all.last() };
    Some(
        pick.copied()
            .unwrap_or_else(|| from_local_forward(naive))
            .millis(),
    )
}

const QUARTER_MS: i64 = 15 * 60_000;

impl Recorder {
    fn new(title: String, from_ms: i64, to_ms: Option<i64>, width: u32, stamp: PeakStamp) -> Self {
        let n = usize::try_from(width).unwrap_or(1);
        let columns = match to_ms {
            Some(to) => Columns::covering(from_ms, to, n),
            None => Columns::new(from_ms, 1000, n),
        };
        Recorder {
            rec: Recording {
                title,
                from_ms,
                to_ms: to_ms.unwrap_or(from_ms + 1000),
                columns,
                mbus_kinds: [None; 4],
                peaks: Vec::new(),
                marks: Vec::new(),
                phases: 1,
                samples: 0,
                sampling: None,
            },
            stamp,
            last_capture: [None; 4],
            month: None,
        }
    }

    fn push(&mut self, at_ms: i64, r: &Readout, credit_ueur: Option<i64>) {
        self.rec.samples += 1;
        self.rec.phases = self.rec.phases.max(r.phases.len());
        let Some(col) = self.rec.columns.at(at_ms) else {
            return;
        };
        col.import.add(i64::from(r.import_w));
        col.export.add(i64::from(r.export_w));
        for (i, p) in r.phases.iter().take(3).enumerate() {
            col.phase_import[i].add(i64::from(p.import_w));
            col.phase_export[i].add(i64::from(p.export_w));
        }
        if r.tariff < 8 {
            col.tariffs |= 1 << r.tariff;
        }
        col.breaker |= 1 << r.breaker.code();
        if let Some(c) = credit_ueur {
            col.credit.add(c);
        }
        if let Some(d) = &r.demand {
            col.demand.add(i64::from(d.current_w));
            if let Some(stamp_ms) = tst_ms(&d.peak.at) {
                col.peak.add(i64::from(d.peak.w));
                self.note_peak(at_ms, stamp_ms, d.peak.w);
            }
        }
        for m in &r.mbus {
            let Some(i) = usize::from(m.channel).checked_sub(1).filter(|&i| i < 4) else {
                continue;
            };
            self.rec.mbus_kinds[i] = Some(m.device_type);
            if let MbusCapture::Reading { at, dm3 } = m.capture {
                let Some(ms) = tst_ms(&at) else { continue };
                if self.last_capture[i] != Some(ms) {
                    self.last_capture[i] = Some(ms);
                    if let Some(c) = self.rec.columns.at(ms) {
                        c.mbus[i].add(i64::try_from(dm3).unwrap_or(i64::MAX));
                    }
                }
            }
        }
        self.rec.to_ms = self.rec.to_ms.max(at_ms + 1);
    }

    /// Keeps the latest peak of each local month the samples pass through.
    fn note_peak(&mut self, at_ms: i64, stamp_ms: i64, w: u32) {
        use chrono::Datelike;
        let local = SimTime(at_ms).local().0;
        let month = (local.year(), local.month());
        let quarter = match self.stamp {
            PeakStamp::End => (stamp_ms - QUARTER_MS, stamp_ms),
            PeakStamp::Start => (stamp_ms, stamp_ms + QUARTER_MS),
        };
        let mark = PeakMark {
            stamp_ms,
            quarter,
            w,
        };
        if self.month == Some(month) {
            if let Some(last) = self.rec.peaks.last_mut() {
                *last = mark;
                return;
            }
        }
        self.month = Some(month);
        self.rec.peaks.push(mark);
    }
}

/// Parses a `--from`/`--to` local time: `YYYY-MM-DD HH:MM[:SS]` or `YYYY-MM-DD`
/// (`T` may stand for the space). In the repeated October hour `--from` takes the first
/// instant and `--to` the second.
fn parse_local(flag: &str, text: &str, later: bool) -> Result<i64, CliError> {
    let t = text.trim().replace('T', " ");
    let naive = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&t, f).ok())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{flag}: expected a Belgian local time such as \"2026-03-29 01:30\", found {text:?}"
            ))
        })?;
    let all = local_instants(naive);
    let pick = if later { all.last() } else { all.first() };
    Ok(pick
        .copied()
        .unwrap_or_else(|| from_local_forward(naive))
        .millis())
}

fn format_of(path: &Path) -> Result<Format, CliError> {
    match path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .as_deref()
    {
        Some("svg") => Ok(Format::Svg),
        Some("png") => Ok(Format::Png),
        _ => Err(CliError::Usage(format!(
            "-o {}: expected a file name ending in .svg or .png",
            path.display()
        ))),
    }
}

/// A short name for an event, for its mark: the command's name in words.
fn event_label(action: &EventAction) -> String {
    let words = |name: &str| {
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    };
    match action {
        EventAction::Meter(cmd) => {
            let debug = format!("{cmd:?}");
            let end = debug.find([' ', '(', '{']).unwrap_or(debug.len());
            words(&debug[..end])
        }
        EventAction::LoadEnable(name) => format!("{name} on"),
        EventAction::LoadDisable(name) => format!("{name} off"),
        EventAction::LoadScale { load, permille } => {
            format!(
                "{load} x{}.{:03}",
                permille / 1000,
                permille.rem_euclid(1000)
            )
        }
        EventAction::Panel(_) => "panel".to_owned(),
    }
}

/// The scenario `p1sim replay` plays for `export` with its defaults (T211, gaps
/// refused, a household shape within each quarter, telegrams every second).
fn replayed(export: &Path) -> Result<(Scenario, String), CliError> {
    use crate::replay::{Registers, ReplayOptions};
    use crate::run::{OutputArgs, RunOptions};
    crate::replay::scenario(&ReplayOptions {
        electricity: Some(export.to_path_buf()),
        gas: None,
        model: None,
        grid: None,
        meter: None,
        registers: Registers::default(),
        gaps: p1_scenario::replay::Gaps::Refuse,
        shape: p1_scenario::replay::Shape::Household,
        interval: "1s".to_owned(),
        write_scenario: None,
        run: RunOptions {
            scenario: None,
            output: OutputArgs::default(),
            seed: None,
            every: None,
            quiet: true,
        },
    })
}

fn record_scenario(opts: &PlotOptions, width: u32) -> Result<Recording, CliError> {
    let (mut scenario, title) = match &opts.replay {
        Some(export) => {
            let (s, name) = replayed(export)?;
            (
                s,
                format!("{name} (Fluvius export, as p1sim replay plays it)"),
            )
        }
        None => {
            let s = crate::run::load(opts.scenario.as_deref())?;
            let title = title_of(&s);
            (s, title)
        }
    };
    if let Some(seed) = opts.seed {
        scenario.set_seed(seed);
    }
    let from = match &opts.from {
        Some(t) => parse_local("--from", t, false)?.max(scenario.start().millis()),
        None => scenario.start().millis(),
    };
    let to = match &opts.to {
        Some(t) => parse_local("--to", t, true)?.min(scenario.end.millis()),
        None => scenario.end.millis(),
    };
    if to <= from {
        return Err(CliError::Usage(format!(
            "--from/--to: nothing to draw between {} and {} (the scenario runs from {} to {})",
            SimTime(from).utc(),
            SimTime(to).utc(),
            scenario.start().utc(),
            scenario.end.utc()
        )));
    }
    let interval = scenario.interval_ms().max(1);
    let instants = u64::try_from((to - from) / interval).unwrap_or(0);
    let every = opts.every.unwrap_or_else(|| {
        let budget = u64::from(width) * SAMPLES_PER_COLUMN;
        instants.div_ceil(budget).max(1)
    });
    scenario
        .set_every(every)
        .map_err(|e| CliError::Usage(format!("--every: {e}")))?;
    let mut rec = Recorder::new(title, from, Some(to), width, scenario.meter().peak_stamp);
    let sim = Simulation::new(&scenario);
    for frame in sim {
        let at = frame.at.millis();
        if at >= to {
            break;
        }
        if at < from {
            continue;
        }
        if let Some(r) = &frame.readout {
            let credit = frame.state.prepaid.as_ref().map(|p| p.credit_ueur);
            rec.push(at, r, credit);
        }
    }
    rec.rec.to_ms = to;
    rec.rec.sampling = Some((interval, scenario.telegram_step_ms()));
    rec.rec.marks = scenario
        .events
        .iter()
        .filter(|e| (from..to).contains(&e.at.millis()))
        .map(|e| Mark {
            at_ms: e.at.millis(),
            kind: MarkKind::Event,
            label: event_label(&e.action),
        })
        .collect();
    Ok(rec.rec)
}

fn title_of(s: &Scenario) -> String {
    if s.description.is_empty() {
        s.name.clone()
    } else {
        format!("{}: {}", s.name, s.description)
    }
}

fn record_telegrams(path: &str, opts: &PlotOptions, width: u32) -> Result<Recording, CliError> {
    let from = opts
        .from
        .as_deref()
        .map(|t| parse_local("--from", t, false))
        .transpose()?;
    let to = opts
        .to
        .as_deref()
        .map(|t| parse_local("--to", t, true))
        .transpose()?;
    let mut input = Input::open(path)?;
    let mut rec: Option<Recorder> = None;
    let title = format!("{} (decoded capture)", input.name);
    crate::codec::scan(&mut input, &mut |r| {
        let Ok(frame) = r else { return Ok(()) };
        let Some(at) = tst_ms(&frame.readout.time) else {
            return Ok(());
        };
        if from.is_some_and(|f| at < f) || to.is_some_and(|t| at >= t) {
            return Ok(());
        }
        let rec = rec.get_or_insert_with(|| {
            Recorder::new(title.clone(), from.unwrap_or(at), to, width, PeakStamp::End)
        });
        rec.push(at, frame.readout, None);
        Ok(())
    })?;
    let rec = rec.ok_or_else(|| {
        CliError::Failed(format!(
            "{path}: no valid telegram with a valid time{} to plot",
            if from.is_some() || to.is_some() {
                " between --from and --to"
            } else {
                ""
            }
        ))
    })?;
    let mut recording = rec.rec;
    if let Some(t) = to {
        recording.to_ms = t;
    }
    Ok(recording)
}

/// `p1sim plot`: returns the exit code.
pub fn plot(opts: &PlotOptions, stderr: &mut dyn Write) -> Result<i32, CliError> {
    let format = format_of(&opts.out)?;
    let (w, h) = opts.size;
    if !(200..=20_000).contains(&w) || !(200..=20_000).contains(&h) {
        return Err(CliError::Usage(format!(
            "--size {w}x{h}: expected each side between 200 and 20000 pixels"
        )));
    }
    let rec = match &opts.telegrams {
        Some(path) => record_telegrams(path, opts, w)?,
        None => record_scenario(opts, w)?,
    };
    let bytes = draw::render(&rec, opts.phases, format, opts.size)?;
    crate::staged::write_whole(&opts.out, &bytes)?;
    writeln!(
        stderr,
        "p1sim: plotted {} telegrams into {} ({} bytes)",
        rec.samples,
        opts.out.display(),
        bytes.len()
    )
    .map_err(CliError::Write)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_times_name_the_right_instant_in_the_repeated_hour() {
        let s = Tst::parse(b"261025023000S").and_then(|t| tst_ms(&t));
        let w = Tst::parse(b"261025023000W").and_then(|t| tst_ms(&t));
        assert_eq!(s, Some(1_792_888_200_000)); // 00:30 UTC
        assert_eq!(w, Some(1_792_891_800_000)); // 01:30 UTC
        assert_eq!(tst_ms(&Tst::INVALID), None);
    }

    #[test]
    fn local_times_parse_and_refuse_clearly() {
        assert_eq!(
            parse_local("--from", "2026-01-31 23:40", false).ok(),
            Some(1_769_899_200_000)
        );
        let e = parse_local("--to", "tomorrow", true)
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("--to") && e.contains("tomorrow")));
    }

    #[test]
    fn event_labels_are_words() {
        use p1_meter::Command;
        assert_eq!(
            event_label(&EventAction::Meter(Command::RemoteDisconnect)),
            "remote disconnect"
        );
        assert_eq!(
            event_label(&EventAction::Meter(Command::TopUp { ueur: 5 })),
            "top up"
        );
    }
}
