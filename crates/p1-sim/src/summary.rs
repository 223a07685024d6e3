//! The one line every run ends with on stderr (unless `-q`): telegrams written and
//! dropped, the simulated span, energy imported and exported, the month's peak and the
//! files written. [`Summary`] watches frames go by; `run`, `fixtures` and live runs each
//! feed it and print it once.

use std::fmt;
use std::io::Write;

use p1_meter::{MJ_PER_WH, SimTime};
use p1_scenario::SimFrame;
use p1_wire::Peak;

use crate::live::{LiveSummary, StopReason};

/// What a run did, accumulated frame by frame (constant memory).
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Scenarios played (more than one for `fixtures`).
    scenarios: u64,
    /// Telegram instants with a telegram.
    telegrams: u64,
    /// Telegram instants without one (port disabled, no mains power).
    silent: u64,
    /// Telegrams lost on the way (live sinks only).
    dropped: u64,
    /// Simulated time covered, ms (summed over scenarios).
    span_ms: i64,
    /// First and last telegram instants of the scenario being observed.
    first: Option<SimTime>,
    last: Option<SimTime>,
    /// Telegram interval of the scenario being observed, ms.
    step_ms: i64,
    /// Energy registers (both tariffs) at the first and latest frame, mJ.
    import_mj: Option<(u64, u64)>,
    export_mj: Option<(u64, u64)>,
    /// Energy of scenarios already closed, mJ.
    closed_import_mj: u64,
    closed_export_mj: u64,
    /// The meter's running month peak at the latest frame.
    peak: Option<Peak>,
    /// Files written, as shown to the user.
    files: Vec<String>,
    /// Set by a live run: how it ended and how many clients it had.
    live: Option<(StopReason, u64)>,
    /// Compared with golden files instead of written (`fixtures --check`).
    checked: bool,
}

impl Summary {
    /// A summary of one scenario whose telegrams are `step_ms` apart.
    pub fn new(step_ms: i64) -> Summary {
        Summary {
            scenarios: 1,
            step_ms,
            ..Summary::default()
        }
    }

    /// Counts `frame`.
    pub fn observe(&mut self, frame: &SimFrame) {
        if frame.bytes.is_empty() {
            self.silent += 1;
        } else {
            self.telegrams += 1;
        }
        self.first.get_or_insert(frame.at);
        self.last = Some(frame.at);
        let s = &frame.state;
        let total = |r: [u64; 2]| r[0].saturating_add(r[1]);
        let (imp, exp) = (total(s.import_mj), total(s.export_mj));
        self.import_mj = Some((self.import_mj.map_or(imp, |p| p.0), imp));
        self.export_mj = Some((self.export_mj.map_or(exp, |p| p.0), exp));
        self.peak = s.demand.peak;
    }

    /// Notes a file written.
    pub fn file(&mut self, shown: impl Into<String>) {
        self.files.push(shown.into());
    }

    /// Takes a live run's counts: what reached readers, what was dropped, how it ended.
    pub fn live(&mut self, live: &LiveSummary) {
        self.telegrams = live.written;
        self.dropped = live.dropped;
        self.live = Some((live.stopped, live.clients));
    }

    /// Adds a finished scenario's summary to this total (`fixtures`); the peak, being
    /// one meter's, is not carried over.
    pub fn absorb(&mut self, other: &Summary) {
        self.scenarios += other.scenarios;
        self.telegrams += other.telegrams;
        self.silent += other.silent;
        self.dropped += other.dropped;
        self.span_ms = self.span_ms.saturating_add(other.span());
        self.closed_import_mj += other.imported_mj();
        self.closed_export_mj += other.exported_mj();
        self.files.extend(other.files.iter().cloned());
    }

    /// A total over several scenarios, starting empty; `checked` when the telegrams
    /// were compared with golden files rather than written.
    pub fn total(checked: bool) -> Summary {
        Summary {
            checked,
            ..Summary::default()
        }
    }

    fn span(&self) -> i64 {
        let open = match (self.first, self.last) {
            (Some(a), Some(b)) => b.millis() - a.millis() + self.step_ms,
            _ => 0,
        };
        self.span_ms.saturating_add(open)
    }

    fn imported_mj(&self) -> u64 {
        self.closed_import_mj + self.import_mj.map_or(0, |(a, b)| b.saturating_sub(a))
    }

    fn exported_mj(&self) -> u64 {
        self.closed_export_mj + self.export_mj.map_or(0, |(a, b)| b.saturating_sub(a))
    }

    /// Prints the line on `stderr` unless `quiet`. A failing stderr is not an error of
    /// the run.
    pub fn report(&self, quiet: bool, stderr: &mut dyn Write) {
        if !quiet {
            let _ = writeln!(stderr, "p1sim: {self}");
        }
    }
}

/// `1234 Wh` as `1.234 kWh`, from mJ (exact integers; Wh truncated like the registers).
fn kwh(mj: u64) -> String {
    let wh = mj / MJ_PER_WH;
    format!("{}.{:03} kWh", wh / 1000, wh % 1000)
}

/// A duration for a person: `55 min`, `2 h 5 min`, `7 d 1 h`, `12 s`.
pub(crate) fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

impl fmt::Display for Summary {
    /// One line: `1200 telegrams written, 0 dropped; 20 min simulated from 2026-02-10
    /// 18:00 (Belgian time); imported 0.512 kWh, exported 0.000 kWh; month peak 1.178 kW
    /// (260210181500W); wrote out.p1, truth.jsonl`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scenarios > 1 {
            write!(f, "{} scenarios, ", self.scenarios)?;
        }
        let verb = if self.checked { "checked" } else { "written" };
        write!(f, "{} telegrams {verb}", self.telegrams)?;
        if self.live.is_some() || self.dropped > 0 {
            write!(f, ", {} dropped", self.dropped)?;
        }
        if self.silent > 0 {
            write!(f, ", {} silent instants", self.silent)?;
        }
        write!(f, "; {} simulated", duration(self.span()))?;
        if let (1, Some(first)) = (self.scenarios, self.first) {
            write!(
                f,
                " from {} (Belgian time)",
                first.local().0.format("%Y-%m-%d %H:%M:%S")
            )?;
        }
        write!(
            f,
            "; imported {}, exported {}",
            kwh(self.imported_mj()),
            kwh(self.exported_mj())
        )?;
        if self.scenarios == 1 {
            match self.peak {
                Some(p) => write!(
                    f,
                    "; month peak {}.{:03} kW ({})",
                    p.w / 1000,
                    p.w % 1000,
                    p.at
                )?,
                None => write!(f, "; no month peak yet")?,
            }
        }
        if let Some((stopped, clients)) = self.live {
            let why = match stopped {
                StopReason::Finished => "at the end of the scenario",
                StopReason::Signal => "by a signal",
                StopReason::Requested => "on request",
            };
            write!(f, "; {clients} clients; stopped {why}")?;
        }
        match self.files.len() {
            0 => Ok(()),
            1..=4 => write!(f, "; wrote {}", self.files.join(", ")),
            n => write!(f, "; wrote {n} files ({}, ...)", self.files[0]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(12_000), "12 s");
        assert_eq!(duration(55 * 60_000), "55 min");
        assert_eq!(duration(2 * 3_600_000 + 5 * 60_000), "2 h 5 min");
        assert_eq!(duration(365 * 86_400_000), "365 d");
        assert_eq!(kwh(3_600_000 * 1234), "1.234 kWh");
    }
}
