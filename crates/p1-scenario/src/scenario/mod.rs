//! [`Scenario`]: a parsed and validated scenario file. [`Scenario::parse_in`] reads the
//! top level (start, end, interval, seed) and hands each table to its module, which holds
//! the table's raw serde struct (values in human units, see [`crate::units`]) and its
//! conversion: [`meter`] (`[meter]`, `[[meter.mbus]]`), [`supply`], [`loads`]
//! (`[loads.*]`), [`replay`] (`[[loads.replay]]`), [`event`] (`[[event]]` and its
//! action table), [`panel`] and [`faults`]. Every problem is reported at its file, line
//! and column. `docs/scenarios.md` documents every key; keep the two in step.

mod event;
mod faults;
mod loads;
mod meter;
mod panel;
mod replay;
mod supply;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use p1_faults::{FaultError, FaultSpec};
use p1_meter::{Grid, Meter, MeterConfig, SimTime};
use p1_panel::PanelConfig;
use p1_wire::Model;
use serde::Deserialize;
use toml::Spanned;

use crate::error::{ScenarioError, with_suggestion};
use crate::loads::LoadSpec;
use crate::units::{Duration, Instant, MAX_DURATION_MS, Weekday};

pub use event::{DEFAULT_PRESS_MS, Event, EventAction, PanelAction};
pub(crate) use loads::Program;
pub(crate) use replay::TariffLabels;
pub use supply::Supply;

use event::{RawEvent, convert_event};
use faults::{RawFault, convert_faults};
use loads::{RawLoads, convert_loads};
use meter::{RawMeter, convert_meter};
use panel::{RawPanel, convert_panel};
use supply::{RawSupply, convert_supply};

/// The scenario file shipped as `scenarios/quickstart.toml`.
const QUICKSTART: &str = include_str!("../../../../scenarios/quickstart.toml");

/// A validated scenario, ready to be simulated with [`crate::Simulation::new`].
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name (the file stem by default).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Seed of every random draw.
    pub seed: u64,
    /// First telegram instant.
    pub start: SimTime,
    /// End of the simulation (exclusive): the last telegram is before it.
    pub end: SimTime,
    /// Time between telegrams, ms.
    pub interval_ms: i64,
    /// Emit only every n-th telegram instant (1 = all).
    pub every: u64,
    /// The meter.
    pub meter: MeterConfig,
    /// Voltage and power factor of the supply.
    pub supply: Supply,
    /// Events in time order (file order for equal times).
    pub events: Vec<Event>,
    /// Scheduled faults (`[[faults]]`), in file order, instants resolved to ms since the
    /// epoch.
    pub faults: Vec<FaultSpec>,
    /// The front panel: `Some` when the file has a `[panel]` table or panel events
    /// (`press`, `hold`, `error`, `network`); then [`crate::Simulation`] runs a
    /// [`p1_panel::Panel`] and every frame (and truth record) carries its view. Set it to
    /// simulate a panel for a scenario that has none.
    pub panel: Option<PanelConfig>,
    pub(crate) loads: Vec<LoadSpec>,
    /// Day/Night labels of the replays that set the tariff, in file order.
    pub(crate) tariff_labels: Vec<TariffLabels>,
    pub(crate) origin: Origin,
}

/// Where the scenario came from, to report errors found later at the right place.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub path: String,
    /// Line and column of meter settings, keyed like `ConfigError::field`.
    pub spans: BTreeMap<String, (usize, usize)>,
    /// Line and column of each `[[faults]]` table, in file order.
    pub faults: Vec<(usize, usize)>,
}

impl Origin {
    /// Maps a meter configuration error to the setting it names.
    pub(crate) fn config_error(&self, field: &str, message: &str) -> ScenarioError {
        let mut key = field.to_owned();
        let (line, column) = loop {
            if let Some(&pos) = self.spans.get(&key) {
                break pos;
            }
            match key.rfind(['.', '[']) {
                Some(i) => key.truncate(i),
                None => break self.spans.get("").copied().unwrap_or((1, 1)),
            }
        };
        ScenarioError {
            path: self.path.clone(),
            line,
            column,
            message: format!("meter: {field}: {message}"),
        }
    }

    /// Maps a fault injector error to the `[[faults]]` table it names.
    pub(crate) fn fault_error(&self, e: &FaultError) -> ScenarioError {
        let (line, column) = self.faults.get(e.index).copied().unwrap_or((1, 1));
        ScenarioError {
            path: self.path.clone(),
            line,
            column,
            message: format!("faults: {e}"),
        }
    }
}

/// Shared state while converting one file.
struct Ctx<'a> {
    path: &'a str,
    text: &'a str,
    base: PathBuf,
    spans: BTreeMap<String, (usize, usize)>,
}

impl Ctx<'_> {
    fn err(&self, span: &Range<usize>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at_span(self.path, self.text, span, message.into())
    }

    fn note<T>(&mut self, key: &str, value: &Spanned<T>) {
        let pos = crate::error::line_col(self.text, value.span().start);
        self.spans.insert(key.to_owned(), pos);
    }
}

impl Scenario {
    /// Reads and validates the scenario file at `path`; replay files are found relative
    /// to its directory.
    pub fn from_path(path: &Path) -> Result<Scenario, ScenarioError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: label.clone(),
            line: 1,
            column: 1,
            message: format!("cannot read the scenario: {e}"),
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut scenario = Scenario::parse_in(&label, &text, &base)?;
        if scenario.name.is_empty() {
            scenario.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        Ok(scenario)
    }

    /// Validates scenario `text`, naming it `path` in errors; replay files are found
    /// relative to the current directory.
    pub fn parse(path: &str, text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_in(path, text, Path::new(""))
    }

    /// The built-in quickstart scenario (`scenarios/quickstart.toml`).
    pub fn quickstart() -> Scenario {
        match Scenario::parse("scenarios/quickstart.toml", QUICKSTART) {
            Ok(s) => s,
            // The file is part of the crate and checked by the test suite.
            Err(e) => panic!("built-in quickstart scenario is invalid: {e}"),
        }
    }

    /// Sets [`Scenario::every`] (e.g. from a command-line option) with the check the
    /// scenario file's `every` gets: at least 1, and `every` × `interval` at most 100
    /// years. On error the scenario is unchanged and the message says what was expected.
    pub fn set_every(&mut self, every: u64) -> Result<(), String> {
        check_every(every, self.interval_ms)?;
        self.every = every;
        Ok(())
    }

    /// Time between emitted telegrams, ms: `interval` × `every`, saturating (both are
    /// bounded when they come from a file or [`Scenario::set_every`]).
    pub fn telegram_step_ms(&self) -> i64 {
        self.interval_ms
            .saturating_mul(i64::try_from(self.every).unwrap_or(i64::MAX))
    }

    /// Names of the loads, in seeding order.
    pub fn load_names(&self) -> Vec<&str> {
        self.loads.iter().map(|l| l.name.as_str()).collect()
    }

    /// Validates scenario `text`, resolving replay files against `base`.
    pub fn parse_in(path: &str, text: &str, base: &Path) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            ScenarioError::at_offset(path, text, offset, with_suggestion(e.message().trim()))
        })?;
        let mut ctx = Ctx {
            path,
            text,
            base: base.to_path_buf(),
            spans: BTreeMap::new(),
        };
        let start = raw.start.get_ref().0;
        let end = match (&raw.end, &raw.duration) {
            (Some(end), None) => end.get_ref().0,
            (None, Some(d)) if d.get_ref().0 > 0 => start.plus_ms(d.get_ref().0),
            (None, Some(d)) => return Err(ctx.err(&d.span(), "the duration must be positive")),
            (Some(end), Some(_)) => {
                return Err(ctx.err(&end.span(), "give either `end` or `duration`, not both"));
            }
            (None, None) => {
                return Err(ctx.err(&raw.start.span(), "the scenario needs `end` or `duration`"));
            }
        };
        if end <= start {
            let span = raw.end.as_ref().map_or(raw.start.span(), Spanned::span);
            return Err(ctx.err(&span, "`end` must be after `start`"));
        }
        let interval_ms = match &raw.interval {
            Some(i) if i.get_ref().0 <= 0 => {
                return Err(ctx.err(&i.span(), "the interval must be positive"));
            }
            Some(i) => i.get_ref().0,
            None => 1000,
        };
        let every = match &raw.every {
            Some(e) => {
                check_every(*e.get_ref(), interval_ms).map_err(|m| ctx.err(&e.span(), m))?;
                *e.get_ref()
            }
            None => 1,
        };
        let meter = match &raw.meter {
            Some(m) => {
                let pos = crate::error::line_col(text, m.span().start);
                ctx.spans.insert(String::new(), pos);
                convert_meter(&mut ctx, m.get_ref(), start)?
            }
            None => convert_meter(&mut ctx, &RawMeter::default(), start)?,
        };
        let supply = convert_supply(&ctx, raw.supply.as_ref(), &meter)?;
        let mut tariff_labels = Vec::new();
        let loads = match &raw.loads {
            Some(l) => convert_loads(&ctx, l, &meter, start, end, &mut tariff_labels)?,
            None => Vec::new(),
        };
        let panel_table = match &raw.panel {
            Some(p) => {
                ctx.note("panel", p);
                Some(convert_panel(&ctx, p)?)
            }
            None => None,
        };
        let signal_max = panel_table
            .as_ref()
            .map_or(p1_panel::DEFAULT_SIGNAL_MAX, |p| p.signal_max);
        let mut events = Vec::new();
        for e in &raw.event {
            convert_event(&ctx, e, start, &loads, signal_max, &mut events)?;
        }
        let has_panel_events = events
            .iter()
            .any(|e| matches!(e.action, EventAction::Panel(_)));
        let panel = panel_table.or_else(|| has_panel_events.then(PanelConfig::default));
        events.sort_by_key(|e| e.at);
        let seed = raw.seed.unwrap_or(0);
        let faults = convert_faults(&ctx, &raw.faults, start, seed)?;
        let origin = Origin {
            path: path.to_owned(),
            spans: ctx.spans,
            faults: raw
                .faults
                .iter()
                .map(|f| crate::error::line_col(text, f.span().start))
                .collect(),
        };
        Meter::new(meter.clone(), start).map_err(|e| origin.config_error(&e.field, &e.message))?;
        Ok(Scenario {
            name: raw.name.clone().unwrap_or_default(),
            description: raw.description.clone().unwrap_or_default(),
            seed,
            start,
            end,
            interval_ms,
            every,
            meter,
            supply,
            events,
            faults,
            panel,
            loads,
            tariff_labels,
            origin,
        })
    }
}

fn weekdays(days: Option<&Vec<Weekday>>) -> [bool; 7] {
    match days {
        None => [true; 7],
        Some(list) => {
            let mut set = [false; 7];
            for d in list {
                set[d.0] = true;
            }
            set
        }
    }
}

fn convert_phases(
    ctx: &Ctx<'_>,
    phases: &Option<Spanned<Vec<i64>>>,
    meter: &MeterConfig,
) -> Result<Vec<usize>, ScenarioError> {
    let Some(p) = phases else {
        return Ok(vec![1]);
    };
    let list = p.get_ref();
    if list.is_empty() {
        return Err(ctx.err(&p.span(), "give at least one phase"));
    }
    let mut out: Vec<usize> = Vec::new();
    for &ph in list {
        let max = meter.model.phases() as i64;
        if !(1..=max).contains(&ph) {
            return Err(ctx.err(
                &p.span(),
                match meter.model {
                    Model::S211 => format!("an S211 has one phase: phases must be [1], found {ph}"),
                    Model::T211 => format!("phases are 1, 2 or 3, found {ph}"),
                },
            ));
        }
        if ph == 2 && meter.grid == Grid::Delta230 {
            return Err(ctx.err(
                &p.span(),
                "on a 3x230V delta grid the meter measures L1 and L3 only (L2 is the \
                 reference): put loads on phases 1 and 3",
            ));
        }
        if out.contains(&(ph as usize)) {
            return Err(ctx.err(&p.span(), format!("phase {ph} is listed twice")));
        }
        out.push(ph as usize);
    }
    Ok(out)
}

fn check_channel(ctx: &Ctx<'_>, ch: &Spanned<i64>) -> Result<usize, ScenarioError> {
    let c = *ch.get_ref();
    if !(1..=4).contains(&c) {
        return Err(ctx.err(&ch.span(), format!("M-Bus channels are 1 to 4, found {c}")));
    }
    Ok(c as usize)
}

/// Whether `every` telegram instants `interval_ms` apart are a valid emission step.
fn check_every(every: u64, interval_ms: i64) -> Result<(), String> {
    if every == 0 {
        return Err("`every` must be at least 1".to_owned());
    }
    let interval = u64::try_from(interval_ms).unwrap_or(u64::MAX);
    if every.saturating_mul(interval) > MAX_DURATION_MS as u64 {
        return Err("`every` x `interval` is longer than 100 years".to_owned());
    }
    Ok(())
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Option<String>,
    pub description: Option<String>,
    pub seed: Option<u64>,
    pub start: Spanned<Instant>,
    pub end: Option<Spanned<Instant>>,
    pub duration: Option<Spanned<Duration>>,
    pub interval: Option<Spanned<Duration>>,
    pub every: Option<Spanned<u64>>,
    pub meter: Option<Spanned<RawMeter>>,
    pub supply: Option<RawSupply>,
    pub loads: Option<RawLoads>,
    #[serde(default)]
    pub event: Vec<Spanned<RawEvent>>,
    #[serde(default)]
    pub faults: Vec<Spanned<RawFault>>,
    pub panel: Option<Spanned<RawPanel>>,
}
