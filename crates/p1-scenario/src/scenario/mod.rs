//! [`Scenario`]: a parsed and validated scenario file. [`Scenario::parse_in`] reads the
//! top level (start, end, interval, seed) and hands each table to its module, which holds
//! the table's raw serde struct (values in human units, see [`crate::units`]) and its
//! conversion: [`meter`] (`[meter]`, `[[meter.mbus]]`), [`supply`], [`loads`]
//! (`[loads.*]`), [`replay`] (`[[loads.replay]]`), [`event`] (`[[event]]` and its
//! action table), [`panel`] and [`faults`]. Every problem is reported at its file, line
//! and column. `docs/scenarios.md` documents every key; keep the two in step.
//!
//! Each rule is checked in one place. This layer checks what only the file knows (units,
//! shapes, which keys go together, instants against `start`, load names); the meter's,
//! the panel's and the faults' rules are their constructors' ([`Meter::new`],
//! [`Panel::new`], [`FaultInjector::new`]), which return errors naming a typed field path
//! that the table's module maps back to the key's position. The built parts are kept, so
//! nothing is built twice and [`crate::Simulation::new`] cannot fail.

mod event;
mod faults;
mod loads;
mod meter;
mod panel;
mod replay;
mod supply;

use std::ops::Range;
use std::path::{Path, PathBuf};

use p1_faults::{FaultInjector, FaultSpec};
use p1_meter::{Command, ConfigError, Grid, MbusConfig, Meter, MeterConfig, SimTime};
use p1_panel::{Panel, PanelConfig, PanelConfigError};
use p1_wire::Model;
use serde::Deserialize;
use toml::Spanned;

use crate::error::ScenarioError;
use crate::loads::LoadSpec;
use crate::units::{Duration, Instant, MAX_DURATION_MS, Weekday};

pub use event::{DEFAULT_PRESS_MS, Event, EventAction, PanelAction};
pub(crate) use loads::Program;
pub(crate) use replay::TariffLabels;
pub use supply::Supply;

use event::{EventContext, RawEvent, convert_event};
use faults::{RawFault, convert_faults};
use loads::{RawLoads, convert_loads};
use meter::{RawMeter, convert_meter};
use panel::{RawPanel, convert_panel};
use supply::{RawSupply, convert_supply};

/// The scenario file shipped as `scenarios/quickstart.toml`.
const QUICKSTART: &str = include_str!("../../../../scenarios/quickstart.toml");

/// A validated scenario, ready to be simulated with [`crate::Simulation::new`] (which
/// cannot fail: the scenario holds the meter, fault injector and panel already built,
/// each checked once by its own constructor).
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name (the file stem by default).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Seed of every random draw ([`Scenario::set_seed`] changes it).
    seed: u64,
    /// First telegram instant (the meter is built at it).
    start: SimTime,
    /// End of the simulation (exclusive): the last telegram is before it.
    pub end: SimTime,
    /// Time between telegrams, ms (positive).
    interval_ms: i64,
    /// Emit only every n-th telegram instant (1 = all; [`Scenario::set_every`]).
    every: u64,
    /// The meter at `start`, built from `[meter]`.
    pub(crate) meter: Meter,
    /// Voltage and power factor of the supply.
    pub supply: Supply,
    /// Events in time order (file order for equal times).
    pub events: Vec<Event>,
    /// The `[[faults]]` injector; `None` without faults.
    pub(crate) faults: Option<FaultInjector>,
    /// The front panel, when the file has a `[panel]` table or panel events.
    pub(crate) panel: Option<Panel>,
    pub(crate) loads: Vec<LoadSpec>,
    /// Day/Night labels of the replays that set the tariff, in file order.
    pub(crate) tariff_labels: Vec<TariffLabels>,
}

/// Shared state while converting one file.
struct Ctx<'a> {
    path: &'a str,
    text: &'a str,
    base: PathBuf,
}

impl Ctx<'_> {
    fn err(&self, span: &Range<usize>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at_span(self.path, self.text, span, message.into())
    }
}

impl Scenario {
    /// Reads and validates the scenario file at `path`; replay files are found relative
    /// to its directory.
    pub fn from_path(path: &Path) -> Result<Scenario, ScenarioError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ScenarioError::unreadable(&label, format!("cannot read the scenario: {e}"))
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

    /// Time between telegram instants, ms.
    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }

    /// Emit only every n-th telegram instant (1 = all).
    pub fn every(&self) -> u64 {
        self.every
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

    /// Seed of every random draw.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Draws every random choice (loads, supply, faults) from `seed` instead (e.g. from a
    /// command-line option); nothing in a valid scenario depends on the seed's value.
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
        if let Some(f) = &mut self.faults {
            f.set_seed(seed);
        }
    }

    /// Renames the meter (a fleet gives each of its meters its own identity): the
    /// electricity meter gets `equipment_id`, and every M-Bus device, those of `[meter]`
    /// and those an event couples, gets `mbus_id(n, device)`, `n` counting the devices in
    /// that order (configured ones first, then events in time order). The meter is
    /// rebuilt by [`Meter::new`], the one checker of ids; on error the scenario is
    /// unchanged.
    pub fn set_equipment_ids(
        &mut self,
        equipment_id: &str,
        mut mbus_id: impl FnMut(usize, &MbusConfig) -> String,
    ) -> Result<(), ConfigError> {
        let mut config = self.meter.config().clone();
        config.equipment_id = equipment_id.to_owned();
        let mut n = 0;
        for device in &mut config.mbus {
            device.equipment_id = mbus_id(n, device);
            n += 1;
        }
        let meter = Meter::new(config, self.start)?;
        let mut events = self.events.clone();
        for event in &mut events {
            if let EventAction::Meter(
                Command::MbusCouple(device) | Command::MbusReplace { new: device, .. },
            ) = &mut event.action
            {
                device.equipment_id = mbus_id(n, device);
                n += 1;
            }
        }
        self.meter = meter;
        self.events = events;
        Ok(())
    }

    /// First telegram instant.
    pub fn start(&self) -> SimTime {
        self.start
    }

    /// The meter's configuration.
    pub fn meter(&self) -> &MeterConfig {
        self.meter.config()
    }

    /// Scheduled faults (`[[faults]]`), in file order, instants resolved to ms since the
    /// epoch.
    pub fn faults(&self) -> &[FaultSpec] {
        self.faults.as_ref().map_or(&[], FaultInjector::specs)
    }

    /// The front panel's settings: `Some` when the file has a `[panel]` table or panel
    /// events (`press`, `hold`, `error`, `network`); then [`crate::Simulation`] runs a
    /// [`p1_panel::Panel`] and every frame (and truth record) carries its view.
    pub fn panel(&self) -> Option<&PanelConfig> {
        self.panel.as_ref().map(Panel::config)
    }

    /// Runs a front panel with settings `cfg` (replacing the scenario's own, or adding one
    /// to a scenario that has none). On error the scenario is unchanged.
    pub fn set_panel(&mut self, cfg: PanelConfig) -> Result<(), PanelConfigError> {
        self.panel = Some(Panel::new(cfg, self.meter.config())?);
        Ok(())
    }

    /// Validates scenario `text`, resolving replay files against `base`.
    pub fn parse_in(path: &str, text: &str, base: &Path) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            ScenarioError::toml(path, text, offset, e.message())
        })?;
        let ctx = Ctx {
            path,
            text,
            base: base.to_path_buf(),
        };
        let Timing {
            start,
            end,
            interval_ms,
            every,
        } = timing(&ctx, &raw)?;
        let config = match &raw.meter {
            Some(m) => convert_meter(&ctx, m.get_ref())?,
            None => convert_meter(&ctx, &RawMeter::default())?,
        };
        let meter = Meter::new(config, start)
            .map_err(|e| meter::locate(&ctx, raw.meter.as_ref(), &raw.start.span(), &e))?;
        let config = meter.config();
        let supply = convert_supply(&ctx, raw.supply.as_ref(), config)?;
        let mut tariff_labels = Vec::new();
        let loads = match &raw.loads {
            Some(l) => convert_loads(&ctx, l, config, start, end, &mut tariff_labels)?,
            None => Vec::new(),
        };
        let panel_config = match &raw.panel {
            Some(p) => Some(convert_panel(&ctx, p)?),
            None => None,
        };
        let mut panel = match panel_config {
            Some(cfg) => Some(
                Panel::new(cfg, config)
                    .map_err(|e| panel::locate(&ctx, raw.panel.as_ref(), &(0..0), &e))?,
            ),
            None => None,
        };
        let with = EventContext {
            start,
            loads: &loads,
            firmware: config.firmware,
            signal_max: panel
                .as_ref()
                .map_or(p1_panel::DEFAULT_SIGNAL_MAX, |p| p.config().signal_max),
        };
        let mut events = Vec::new();
        for e in &raw.event {
            convert_event(&ctx, e, &with, &mut events)?;
        }
        let panel_event = events
            .iter()
            .position(|e| matches!(e.action, EventAction::Panel(_)));
        if let (None, Some(i)) = (&panel, panel_event) {
            let at = raw.event.get(i).map_or(0..0, Spanned::span);
            panel = Some(
                Panel::new(PanelConfig::default(), config)
                    .map_err(|e| panel::locate(&ctx, None, &at, &e))?,
            );
        }
        events.sort_by_key(|e| e.at);
        if let Some(l) = &raw.loads {
            let mut devices: Vec<u8> = config.mbus.iter().map(|d| d.channel).collect();
            devices.extend(events.iter().filter_map(|e| match &e.action {
                EventAction::Meter(Command::MbusCouple(d))
                | EventAction::Meter(Command::MbusReplace { new: d, .. }) => Some(d.channel),
                _ => None,
            }));
            loads::check_flow_devices(&ctx, l, &devices)?;
        }
        let seed = raw.seed.unwrap_or(0);
        let faults = convert_faults(&ctx, &raw.faults, start, seed)?;
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
        })
    }
}

/// The scenario's time axis.
struct Timing {
    start: SimTime,
    end: SimTime,
    interval_ms: i64,
    every: u64,
}

/// `start`, `end` or `duration`, `interval` and `every`.
fn timing(ctx: &Ctx<'_>, raw: &RawScenario) -> Result<Timing, ScenarioError> {
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
    Ok(Timing {
        start,
        end,
        interval_ms,
        every,
    })
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

/// A channel named by a flow or an event, by the meter's channel rule.
fn check_channel(ctx: &Ctx<'_>, ch: &Spanned<i64>) -> Result<usize, ScenarioError> {
    p1_meter::check_channel(*ch.get_ref())
        .map(usize::from)
        .map_err(|m| ctx.err(&ch.span(), m))
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
