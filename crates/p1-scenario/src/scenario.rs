//! [`Scenario`]: a parsed and validated scenario file. Converts the TOML
//! ([`crate::schema`]) into a [`p1_meter::MeterConfig`], load models and a sorted event
//! list, and reports every problem at its file, line and column.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveTime, Timelike};
use p1_faults::{FaultError, FaultInjector, FaultSpec, Schedule};
use p1_meter::{
    Command, Grid, MbusConfig, MbusKind, Meter, MeterConfig, PeakStamp, Prepaid, SimTime,
    TariffCalendar,
};
use p1_panel::{Code, PanelConfig};
use p1_wire::{Breaker, HistoryEntry, Model, Peak, Tst, Version};
use toml::Spanned;

use crate::error::{ScenarioError, suggest, with_suggestion};
use crate::loads::{Draw, LoadKind, LoadSpec, Pulse, compose, local_instant, program_cycle};
use crate::replay::{self, Label};
use crate::schema::{
    Action, Kind, RawEvent, RawFault, RawFaultSchedule, RawLoads, RawMbus, RawMeter, RawPanel,
    RawScenario, RawSupply, RawWindow, ReplayTariff,
};
use crate::units::{At, MAX_DURATION_MS, Weekday};

/// The scenario file shipped as `scenarios/quickstart.toml`.
const QUICKSTART: &str = include_str!("../../../scenarios/quickstart.toml");

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

/// The tariff labels of one `[[loads.replay]]`: tariff (1 day, 2 night) by quarter start,
/// for the labelled quarters within the scenario.
#[derive(Debug, Clone)]
pub(crate) struct TariffLabels {
    /// The replay load's name (its labels count while it is enabled).
    pub load: String,
    /// Tariff by quarter start.
    pub quarters: BTreeMap<SimTime, u8>,
}

/// What the grid delivers: voltage per phase, its seeded jitter and the power factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supply {
    /// Nominal voltage per phase, dV.
    pub voltage_dv: [u32; 3],
    /// Voltage varies uniformly within ± this, dV (0 = steady).
    pub jitter_dv: u32,
    /// How long each voltage draw holds, ms.
    pub jitter_period_ms: i64,
    /// Power factor, per-mille.
    pub power_factor_permille: u32,
}

/// Something that happens at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub at: SimTime,
    /// What.
    pub action: EventAction,
    /// Line of the `[[event]]` in the scenario file.
    pub line: usize,
}

/// What an event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAction {
    /// A command to the meter.
    Meter(Command),
    /// The named load starts contributing.
    LoadEnable(String),
    /// The named load stops contributing.
    LoadDisable(String),
    /// The named load's power and flow are multiplied by `permille` / 1000.
    LoadScale {
        /// Load name.
        load: String,
        /// Factor, per-mille.
        permille: i64,
    },
    /// Something done at the front panel.
    Panel(PanelAction),
}

/// What a panel event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PanelAction {
    /// The button is released at the event's instant after being held `held_ms`
    /// (`press` and `hold`); the panel decides whether the meter gets a
    /// [`Command::Button`] (only while the breaker is ready for reconnection).
    Press {
        /// How long the button was held, ms.
        held_ms: i64,
    },
    /// The `F` (serious error) indicator is set or cleared.
    Error(bool),
    /// Network registration and signal bars.
    Network {
        /// Registered on the communication network.
        registered: bool,
        /// Signal bars; `None`: all bars while registered, none otherwise.
        signal: Option<u8>,
    },
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

fn convert_meter(
    ctx: &mut Ctx<'_>,
    m: &RawMeter,
    start: SimTime,
) -> Result<MeterConfig, ScenarioError> {
    let model = m.model.as_ref().map_or(Model::T211, |s| s.get_ref().0);
    let default_grid = match model {
        Model::S211 => Grid::OnePhase230,
        Model::T211 => Grid::Star400,
    };
    let grid = m.grid.as_ref().map_or(default_grid, |s| s.get_ref().0);
    if let Some(g) = &m.grid {
        ctx.note("grid", g);
        match (model, grid) {
            (Model::S211, Grid::Delta230 | Grid::Star400) => {
                return Err(ctx.err(
                    &g.span(),
                    "an S211 is a single-phase meter: grid must be \"1x230V\" (use model \
                     \"T211\" for a three-phase connection)",
                ));
            }
            (Model::T211, Grid::OnePhase230) => {
                return Err(ctx.err(
                    &g.span(),
                    "a T211 is a three-phase meter: grid must be \"3x400V\" or \"3x230V\" \
                     (use model \"S211\" for a single-phase connection)",
                ));
            }
            _ => {}
        }
    }
    if let Some(v) = &m.model {
        ctx.note("model", v);
    }
    let firmware = m
        .firmware
        .as_ref()
        .map_or(Version::V50217, |f| f.get_ref().0);
    if let Some(f) = &m.firmware {
        ctx.note("firmware", f);
    }
    let equipment_id = match &m.equipment_id {
        Some(id) => {
            ctx.note("equipment_id", id);
            check_id(ctx, id, '1', "an electricity meter")?;
            id.get_ref().clone()
        }
        None => match model {
            Model::S211 => "1SAG1100000001".to_owned(),
            Model::T211 => "1SAG3100000001".to_owned(),
        },
    };
    let wh = |e: &Option<Spanned<crate::units::Energy>>| -> Result<u64, ScenarioError> {
        match e {
            None => Ok(0),
            Some(s) => u64::try_from(s.get_ref().0)
                .map_err(|_| ctx.err(&s.span(), "a register cannot be negative")),
        }
    };
    let import_wh = [wh(&m.import_day_kwh)?, wh(&m.import_night_kwh)?];
    let export_wh = [wh(&m.export_day_kwh)?, wh(&m.export_night_kwh)?];
    for (key, v) in [
        ("import_wh", &m.import_day_kwh),
        ("export_wh", &m.export_day_kwh),
    ] {
        if let Some(v) = v {
            ctx.note(key, v);
        }
    }
    let tariff = match &m.tariff {
        None => TariffCalendar::default(),
        Some(t) => {
            ctx.note("tariff", t);
            let t = t.get_ref();
            let mut cal = TariffCalendar::default();
            if let Some(s) = t.day_start {
                cal.day_start = s.0;
            }
            if let Some(e) = t.day_end {
                cal.day_end = e.0;
            }
            if let Some(days) = &t.day_weekdays {
                cal.day_weekdays = weekdays(Some(days));
            }
            if let Some(n) = &t.night_days {
                cal.night_days = n.iter().map(|d| d.0).collect();
            }
            cal
        }
    };
    let month_peak = match &m.month_peak {
        None => None,
        Some(p) => {
            ctx.note("month_peak", p);
            let w = peak_w(ctx, &p.get_ref().power)?;
            Some(Peak {
                at: p.get_ref().at.0.tst(),
                w,
            })
        }
    };
    let mut history = Vec::new();
    if let Some(h) = &m.history {
        ctx.note("history", h);
        if h.get_ref().len() > 13 {
            return Err(ctx.err(
                &h.get_ref()[13].span(),
                "0-0:98.1.0 holds at most 13 months; this is the 14th entry",
            ));
        }
        for (i, entry) in h.get_ref().iter().enumerate() {
            ctx.note(&format!("history[{i}]"), entry);
            let e = entry.get_ref();
            let next_month = e
                .month
                .0
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(e.month.0);
            history.push(HistoryEntry {
                period: local_instant(next_month, NaiveTime::MIN).tst(),
                at: e.at.map_or(Tst::INVALID, |a| a.0.tst()),
                w: peak_w(ctx, &e.power)?,
            });
        }
    }
    let (limiter_hw, fuse_a) = (
        m.limiter_kw.as_ref().map_or(9999, |l| l.get_ref().0),
        m.fuse_a.as_ref().map_or(999, |f| f.get_ref().0),
    );
    if let Some(l) = &m.limiter_kw {
        ctx.note("limiter_hw", l);
    }
    if let Some(f) = &m.fuse_a {
        ctx.note("fuse_a", f);
    }
    let prepaid = match &m.prepaid {
        None => None,
        Some(p) => {
            ctx.note("prepaid", p);
            let r = p.get_ref();
            if r.price_eur_per_kwh.0 <= 0 {
                return Err(ctx.err(&p.span(), "`price_eur_per_kwh` must be positive"));
            }
            let release_delay_ms = match &r.release_delay {
                Some(d) if d.get_ref().0 < 0 => {
                    return Err(ctx.err(&d.span(), "the release delay cannot be negative"));
                }
                Some(d) => d.get_ref().0,
                None => 60_000,
            };
            Some(Prepaid {
                credit_ueur: r.credit_eur.0,
                price_ueur_per_kwh: r.price_eur_per_kwh.0,
                release_delay_ms,
            })
        }
    };
    let mut mbus: Vec<MbusConfig> = Vec::new();
    for (i, dev) in m.mbus.iter().flatten().enumerate() {
        if i == 4 {
            return Err(ctx.err(
                &dev.span(),
                "a meter has at most 4 M-Bus channels; this is a 5th device",
            ));
        }
        ctx.note(&format!("mbus[{i}]"), dev);
        ctx.note(&format!("mbus[{i}].channel"), &dev.get_ref().channel);
        ctx.note(&format!("mbus[{i}].kind"), &dev.get_ref().kind);
        ctx.note(
            &format!("mbus[{i}].equipment_id"),
            &dev.get_ref().equipment_id,
        );
        let cfg = convert_mbus(ctx, dev.get_ref())?;
        if mbus.iter().any(|o| o.channel == cfg.channel) {
            return Err(ctx.err(
                &dev.get_ref().channel.span(),
                format!("channel {} is already used by another device", cfg.channel),
            ));
        }
        mbus.push(cfg);
    }
    let _ = start;
    let mut config = MeterConfig::new(model, grid, firmware, &equipment_id);
    config.clock_offset_ms = m.clock_offset.map_or(0, |d| d.0);
    config.import_wh = import_wh;
    config.export_wh = export_wh;
    config.history = history;
    config.month_peak = month_peak;
    config.peak_stamp = m.peak_stamp.unwrap_or(PeakStamp::End);
    config.tariff = tariff;
    config.limiter_hw = limiter_hw;
    config.fuse_a = fuse_a;
    config.prepaid = prepaid;
    config.mbus = mbus;
    config.port_enabled = m.port_enabled.unwrap_or(true);
    if let Some(e) = m.empty_peak {
        config.empty_peak = e;
    }
    if let Some(k) = m.keep_stale_history_head {
        config.keep_stale_history_head = k;
    }
    Ok(config)
}

fn peak_w(ctx: &Ctx<'_>, p: &Spanned<crate::units::Power>) -> Result<u32, ScenarioError> {
    u32::try_from(p.get_ref().0)
        .ok()
        .filter(|&w| w <= 99_999)
        .ok_or_else(|| ctx.err(&p.span(), "a peak is between 0 and 99.999 kW"))
}

/// Checks a 14-character equipment id and its medium digit.
fn check_id(
    ctx: &Ctx<'_>,
    id: &Spanned<String>,
    medium: char,
    what: &str,
) -> Result<(), ScenarioError> {
    let text = id.get_ref();
    if text.len() != 14 || !text.is_ascii() {
        return Err(ctx.err(
            &id.span(),
            format!(
                "an equipment id is 14 ASCII characters; `{text}` has {}",
                text.chars().count()
            ),
        ));
    }
    if !text.starts_with(medium) {
        let first = text.chars().next().unwrap_or(' ');
        let named = match first {
            '1' => " (electricity)",
            '7' => " (gas)",
            '8' => " (water)",
            _ => "",
        };
        return Err(ctx.err(
            &id.span(),
            format!(
                "{what}'s equipment id starts with its medium digit {medium}; \
                 `{text}` starts with {first}{named}"
            ),
        ));
    }
    Ok(())
}

fn convert_mbus(ctx: &Ctx<'_>, dev: &RawMbus) -> Result<MbusConfig, ScenarioError> {
    let channel = *dev.channel.get_ref();
    if !(1..=4).contains(&channel) {
        return Err(ctx.err(
            &dev.channel.span(),
            format!("M-Bus channels are 1 to 4, found {channel}"),
        ));
    }
    let kind = match *dev.kind.get_ref() {
        Kind::Gas => {
            check_id(ctx, &dev.equipment_id, '7', "a gas meter")?;
            MbusKind::Gas
        }
        Kind::Water => {
            check_id(ctx, &dev.equipment_id, '8', "a water meter")?;
            MbusKind::Water
        }
        Kind::Other(t) => MbusKind::Other(t),
    };
    let capture_period_ms = match &dev.capture_period {
        Some(p) if p.get_ref().0 <= 0 => {
            return Err(ctx.err(&p.span(), "the capture period must be positive"));
        }
        Some(p) => p.get_ref().0,
        None => 300_000,
    };
    Ok(MbusConfig {
        channel: channel as u8,
        kind,
        equipment_id: dev.equipment_id.get_ref().clone(),
        initial_dm3: dev.initial_m3.map_or(0, |v| v.0.max(0) as u64),
        capture_period_ms,
        capture_phase_ms: dev.capture_phase.map(|d| d.0),
        capture_jitter_ms: dev.capture_jitter.map_or(30_000, |d| d.0),
    })
}

fn convert_supply(
    ctx: &Ctx<'_>,
    s: Option<&RawSupply>,
    meter: &MeterConfig,
) -> Result<Supply, ScenarioError> {
    let mut supply = Supply {
        voltage_dv: [2300; 3],
        jitter_dv: 0,
        jitter_period_ms: 60_000,
        power_factor_permille: 1000,
    };
    let Some(s) = s else {
        return Ok(supply);
    };
    if let Some(v) = &s.voltage_v {
        let n = meter.model.phases();
        match v.get_ref().as_slice() {
            [one] => supply.voltage_dv = [one.0; 3],
            [a, b, c] if n == 3 => supply.voltage_dv = [a.0, b.0, c.0],
            _ => {
                return Err(ctx.err(
                    &v.span(),
                    format!("give one voltage, or one per phase ({n} for this model)"),
                ));
            }
        }
    }
    if let Some(j) = s.voltage_jitter_v {
        supply.jitter_dv = j.0;
    }
    if let Some(p) = &s.jitter_period {
        if p.get_ref().0 <= 0 {
            return Err(ctx.err(&p.span(), "the jitter period must be positive"));
        }
        supply.jitter_period_ms = p.get_ref().0;
    }
    if let Some(pf) = &s.power_factor {
        let v = pf.get_ref().0;
        if !(1..=1000).contains(&v) {
            return Err(ctx.err(&pf.span(), "a power factor is above 0 and at most 1"));
        }
        supply.power_factor_permille = v as u32;
    }
    Ok(supply)
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

fn convert_loads(
    ctx: &Ctx<'_>,
    l: &RawLoads,
    meter: &MeterConfig,
    start: SimTime,
    end: SimTime,
    tariff_labels: &mut Vec<TariffLabels>,
) -> Result<Vec<LoadSpec>, ScenarioError> {
    let mut specs: Vec<(Spanned<String>, bool, LoadKind)> = Vec::new();
    for c in &l.constant {
        let c = c.get_ref();
        let phases = convert_phases(ctx, &c.phases, meter)?;
        let kind = LoadKind::Constant {
            phases,
            power_w: c.power.0,
        };
        specs.push((c.name.clone(), c.enabled.unwrap_or(true), kind));
    }
    for s in &l.schedule {
        let s = s.get_ref();
        let phases = convert_phases(ctx, &s.phases, meter)?;
        let entries: Vec<(NaiveTime, i64)> =
            s.daily.get_ref().iter().map(|(t, p)| (t.0, p.0)).collect();
        if entries.is_empty() || entries.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(ctx.err(
                &s.daily.span(),
                "a schedule lists at least one [time, power] pair, in increasing time order",
            ));
        }
        let kind = LoadKind::Schedule {
            phases,
            days: weekdays(s.days.as_ref()),
            entries,
        };
        specs.push((s.name.clone(), s.enabled.unwrap_or(true), kind));
    }
    for h in &l.household {
        let h = h.get_ref();
        let kind = LoadKind::Household {
            phases: convert_phases(ctx, &h.phases, meter)?,
            base_w: h.base.map_or(150, |p| p.0),
            fridge: h.fridge.unwrap_or(true),
            cooking: h.cooking.unwrap_or(true),
            lighting: h.lighting.unwrap_or(true),
        };
        specs.push((h.name.clone(), h.enabled.unwrap_or(true), kind));
    }
    for a in &l.appliance {
        let span = a.span();
        let a = a.get_ref();
        let phases = convert_phases(ctx, &a.phases, meter)?;
        let (cycle, continuous) = match (&a.program, &a.cycle) {
            (Some(p), None) => program_cycle(*p),
            (None, Some(c)) => {
                let cycle: Vec<(i64, i64)> = c.get_ref().iter().map(|(d, p)| (d.0, p.0)).collect();
                if cycle.is_empty() || cycle.iter().any(|&(d, _)| d <= 0) {
                    return Err(ctx.err(
                        &c.span(),
                        "a cycle lists [duration, power] pairs with positive durations",
                    ));
                }
                (cycle, false)
            }
            _ => {
                return Err(ctx.err(
                    &span,
                    "an appliance needs exactly one of `program` or `cycle`",
                ));
            }
        };
        let continuous = a.continuous.unwrap_or(continuous);
        let at: Vec<NaiveTime> = a.at.iter().flatten().map(|t| t.0).collect();
        let starts: Vec<SimTime> = a.starts.iter().flatten().map(|t| t.0).collect();
        if !continuous && at.is_empty() && starts.is_empty() {
            return Err(ctx.err(
                &span,
                "an appliance needs `at` (daily start times), `starts` (instants) or \
                 `continuous = true`",
            ));
        }
        let jitter_ms = nonneg(ctx, &a.jitter)?;
        let kind = LoadKind::Appliance {
            phases,
            cycle,
            continuous,
            at,
            starts,
            days: weekdays(a.days.as_ref()),
            jitter_ms,
        };
        specs.push((a.name.clone(), a.enabled.unwrap_or(true), kind));
    }
    for e in &l.ev {
        let span = e.span();
        let e = e.get_ref();
        let phases = convert_phases(ctx, &e.phases, meter)?;
        let power_w = e.power.get_ref().0;
        if power_w <= 0 {
            return Err(ctx.err(&e.power.span(), "a charger's power must be positive"));
        }
        let mut sessions = Vec::new();
        for s in e.sessions.iter().flatten() {
            if s.energy_kwh.get_ref().0 <= 0 {
                return Err(ctx.err(&s.energy_kwh.span(), "a session's energy must be positive"));
            }
            sessions.push((s.start.0, s.energy_kwh.get_ref().0));
        }
        let daily_wh = match (&e.plug_in, &e.daily_kwh) {
            (Some(_), Some(k)) if k.get_ref().0 > 0 => k.get_ref().0,
            (Some(_), Some(k)) => return Err(ctx.err(&k.span(), "`daily_kwh` must be positive")),
            (None, None) => 0,
            _ => return Err(ctx.err(&span, "`plug_in` and `daily_kwh` go together")),
        };
        if sessions.is_empty() && daily_wh == 0 {
            return Err(ctx.err(
                &span,
                "an EV charger needs `sessions` or `plug_in` with `daily_kwh`",
            ));
        }
        let kind = LoadKind::Ev {
            phases,
            power_w,
            sessions,
            plug_in: e.plug_in.map(|t| t.0),
            daily_wh,
            days: weekdays(e.days.as_ref()),
            jitter_ms: nonneg(ctx, &e.jitter)?,
        };
        specs.push((e.name.clone(), e.enabled.unwrap_or(true), kind));
    }
    for p in &l.pv {
        let p = p.get_ref();
        let peak_w = p.peak.get_ref().0;
        if peak_w <= 0 {
            return Err(ctx.err(&p.peak.span(), "the PV peak power must be positive"));
        }
        let clouds_permille = match &p.clouds {
            Some(c) if !(0..=1000).contains(&c.get_ref().0) => {
                return Err(ctx.err(&c.span(), "`clouds` is a fraction between 0 and 1"));
            }
            Some(c) => c.get_ref().0,
            None => 0,
        };
        let kind = LoadKind::Pv {
            phases: convert_phases(ctx, &p.phases, meter)?,
            peak_w,
            clouds_permille,
        };
        specs.push((p.name.clone(), p.enabled.unwrap_or(true), kind));
    }
    for f in &l.flow {
        let f = f.get_ref();
        let channel = check_channel(ctx, &f.channel)?;
        let daily: Vec<(NaiveTime, i64)> = f
            .daily
            .iter()
            .flatten()
            .map(|(t, v)| (t.0, v.0 as i64))
            .collect();
        let mut draws = Vec::new();
        for d in f.draws.iter().flatten() {
            let span = d.span();
            let d = d.get_ref();
            if d.to.0 <= d.from.0 {
                return Err(ctx.err(&span, "a draw window's `to` must be after its `from`"));
            }
            if d.duration.get_ref().0 <= 0 {
                return Err(ctx.err(&d.duration.span(), "a draw's duration must be positive"));
            }
            // Each draw is planned as a pulse of its day: an unbounded count would
            // exhaust memory instead of failing.
            if d.count.unwrap_or(1) > MAX_DRAWS_PER_DAY {
                return Err(ctx.err(&span, "a draw's `count` is at most 10000 a day"));
            }
            draws.push(Draw {
                from: d.from.0,
                to: d.to.0,
                count: d.count.unwrap_or(1),
                duration_ms: d.duration.get_ref().0,
                ml_per_h: d.flow.0 as i64,
                days: weekdays(d.days.as_ref()),
            });
        }
        let kind = LoadKind::Flow {
            channel,
            constant: f.flow.map_or(0, |v| v.0 as i64),
            daily,
            draws,
        };
        specs.push((f.name.clone(), f.enabled.unwrap_or(true), kind));
    }
    for r in &l.replay {
        let span = r.span();
        let r = r.get_ref();
        let (kind, labels) = convert_replay(ctx, &span, r, meter, start, end)?;
        if !labels.is_empty() {
            tariff_labels.push(TariffLabels {
                load: r.name.get_ref().clone(),
                quarters: labels,
            });
        }
        specs.push((r.name.clone(), r.enabled.unwrap_or(true), kind));
    }
    let mut out: Vec<LoadSpec> = Vec::new();
    for (name, enabled, kind) in specs {
        if out.iter().any(|o| &o.name == name.get_ref()) {
            return Err(ctx.err(
                &name.span(),
                format!("a load named `{}` already exists", name.get_ref()),
            ));
        }
        out.push(LoadSpec {
            name: name.into_inner(),
            enabled,
            kind,
        });
    }
    Ok(out)
}

fn nonneg(
    ctx: &Ctx<'_>,
    d: &Option<Spanned<crate::units::Duration>>,
) -> Result<i64, ScenarioError> {
    match d {
        Some(d) if d.get_ref().0 < 0 => Err(ctx.err(&d.span(), "this duration cannot be negative")),
        Some(d) => Ok(d.get_ref().0),
        None => Ok(0),
    }
}

/// The calendar's tariff for the instant `t` (1 = day, 2 = night).
pub(crate) fn calendar_tariff(cal: &TariffCalendar, t: SimTime) -> u8 {
    let (local, _) = t.local();
    let weekday = local.weekday().num_days_from_monday() as usize;
    let time = local.time().with_nanosecond(0).unwrap_or(local.time());
    let day = cal.day_weekdays[weekday]
        && !cal.night_days.contains(&local.date())
        && time >= cal.day_start
        && time < cal.day_end;
    if day { 1 } else { 2 }
}

fn convert_replay(
    ctx: &Ctx<'_>,
    span: &Range<usize>,
    r: &crate::schema::RawReplay,
    meter: &MeterConfig,
    start: SimTime,
    end: SimTime,
) -> Result<(LoadKind, BTreeMap<SimTime, u8>), ScenarioError> {
    let phase = match &r.phase {
        Some(p) => {
            let list = Spanned::new(p.span(), vec![*p.get_ref()]);
            convert_phases(ctx, &Some(list), meter)?[0]
        }
        None => 1,
    };
    let gas_channel = match &r.gas_channel {
        Some(c) => check_channel(ctx, c)?,
        None => 1,
    };
    if r.electricity.is_none() && r.gas.is_none() {
        return Err(ctx.err(
            span,
            "a replay needs `electricity` and/or `gas` (CSV paths)",
        ));
    }
    let read = |file: &Spanned<String>| -> Result<(String, std::fs::File), ScenarioError> {
        let full = ctx.base.join(file.get_ref());
        let label = full.display().to_string();
        std::fs::File::open(&full)
            .map(|t| (label.clone(), t))
            .map_err(|e| ctx.err(&file.span(), format!("cannot read `{label}`: {e}")))
    };
    let mut pulses = Vec::new();
    let mut labels = BTreeMap::new();
    if let Some(file) = &r.electricity {
        let (label, text) = read(file)?;
        let quarters = replay::read_electricity(&label, text, replay::Gaps::Zero, None)?;
        let strict = r.tariff.is_some_and(|t| t.0 == ReplayTariff::Calendar);
        for q in quarters
            .iter()
            .filter(|q| q.start >= start && q.start < end)
        {
            if let Some(l) = q.label {
                let expected = match l {
                    Label::Day => 1,
                    Label::Night => 2,
                };
                if strict && calendar_tariff(&meter.tariff, q.start) != expected {
                    let (local, _) = q.start.local();
                    return Err(ScenarioError {
                        path: label,
                        line: q.line,
                        column: 1,
                        message: format!(
                            "the export labels the quarter at {local} {l:?}, but the \
                             scenario's [meter.tariff] calendar gives tariff {}, and this \
                             replay has `tariff = \"calendar\"`: adjust [meter.tariff], or \
                             drop `tariff` to let the labels set the tariff",
                            3 - expected
                        ),
                    });
                }
                if !strict {
                    labels.insert(q.start, expected);
                }
            }
            let q_end = q.start.plus_ms(900_000);
            let half = q.start.plus_ms(450_000);
            // Quarters are bounded by `MAX_QUARTER_WH` when parsed; saturating keeps
            // hand-built ones from overflowing.
            match (q.offtake_wh, q.injection_wh) {
                (0, 0) => {}
                (imp, 0) => pulses.push(Pulse {
                    start: q.start,
                    end: q_end,
                    value: crate::loads::Contribution::power(imp.saturating_mul(4), &[phase]),
                }),
                (0, exp) => pulses.push(Pulse {
                    start: q.start,
                    end: q_end,
                    value: crate::loads::Contribution::power(exp.saturating_mul(-4), &[phase]),
                }),
                (imp, exp) => {
                    pulses.push(Pulse {
                        start: q.start,
                        end: half,
                        value: crate::loads::Contribution::power(imp.saturating_mul(8), &[phase]),
                    });
                    pulses.push(Pulse {
                        start: half,
                        end: q_end,
                        value: crate::loads::Contribution::power(exp.saturating_mul(-8), &[phase]),
                    });
                }
            }
        }
    }
    if let Some(file) = &r.gas {
        let (label, text) = read(file)?;
        for h in replay::read_gas(&label, text, replay::Gaps::Zero, None)?.iter() {
            if h.start >= start.plus_ms(-3_600_000) && h.start < end && h.dm3 > 0 {
                pulses.push(Pulse {
                    start: h.start,
                    end: h.start.plus_ms(3_600_000),
                    value: crate::loads::Contribution::flow(
                        h.dm3.saturating_mul(1000),
                        gas_channel,
                    ),
                });
            }
        }
    }
    let (mut steps, _) = compose(start..end, &pulses);
    // Nothing is known past the scenario's end: the replay stops there.
    steps.push(crate::loads::Step {
        at: end,
        value: crate::loads::Contribution::default(),
    });
    Ok((LoadKind::Steps(steps), labels))
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

/// Most times a flow draw may happen in one day.
const MAX_DRAWS_PER_DAY: u32 = 10_000;

/// Default hold of a `press` event, ms: a short press.
pub const DEFAULT_PRESS_MS: i64 = 200;

/// The `held` of a button event, positive, or `default`.
fn held(ctx: &Ctx<'_>, e: &RawEvent, default: i64) -> Result<i64, ScenarioError> {
    match &e.held {
        Some(h) if h.get_ref().0 <= 0 => {
            Err(ctx.err(&h.span(), "the button is held for a positive time"))
        }
        Some(h) => Ok(h.get_ref().0),
        None => Ok(default),
    }
}

/// Converts `[panel]` into the panel's settings, checking each where it is written.
fn convert_panel(ctx: &Ctx<'_>, p: &Spanned<RawPanel>) -> Result<PanelConfig, ScenarioError> {
    let r = p.get_ref();
    let mut cfg = PanelConfig::default();
    let positive = |d: &Spanned<crate::units::Duration>, what: &str| {
        let ms = d.get_ref().0;
        if ms > 0 {
            Ok(ms)
        } else {
            Err(ctx.err(&d.span(), format!("{what} must be positive")))
        }
    };
    if let Some(d) = &r.screen_timeout {
        cfg.screen_timeout_ms = positive(d, "the screen timeout")?;
    }
    if let Some(d) = &r.led_flash {
        cfg.led_flash_ms = positive(d, "the LED flash")?;
    }
    for (value, slot) in [
        (&r.control_imp_per_kwh, &mut cfg.control_imp_per_kwh),
        (&r.blind_imp_per_kvarh, &mut cfg.blind_imp_per_kvarh),
    ] {
        if let Some(v) = value {
            *slot = u32::try_from(*v.get_ref())
                .ok()
                .filter(|c| (1..=1_000_000).contains(c))
                .ok_or_else(|| {
                    ctx.err(
                        &v.span(),
                        format!(
                            "an LED constant is 1 to 1000000 pulses, found {}",
                            v.get_ref()
                        ),
                    )
                })?;
        }
    }
    if let Some(v) = &r.signal_max {
        cfg.signal_max = u8::try_from(*v.get_ref())
            .ok()
            .filter(|n| (1..=9).contains(n))
            .ok_or_else(|| {
                ctx.err(
                    &v.span(),
                    format!("`signal_max` is 1 to 9 bars, found {}", v.get_ref()),
                )
            })?;
    }
    if let Some(seq) = &r.sequence {
        if seq.get_ref().is_empty() {
            return Err(ctx.err(&seq.span(), "the sequence lists at least one code"));
        }
        cfg.sequence = seq
            .get_ref()
            .iter()
            .map(|c| {
                c.get_ref()
                    .parse::<Code>()
                    .map_err(|e| ctx.err(&c.span(), e.to_string()))
            })
            .collect::<Result<_, _>>()?;
    }
    // The panel's own checks, so that `Simulation::new` cannot fail on them later.
    cfg.validate()
        .map_err(|e| ctx.err(&p.span(), format!("panel: {e}")))?;
    Ok(cfg)
}

/// Fields of an `[[event]]` that carry parameters, with their spans.
fn event_params(e: &RawEvent) -> Vec<(&'static str, Range<usize>)> {
    let mut v = Vec::new();
    let mut add = |name: &'static str, span: Option<Range<usize>>| {
        if let Some(s) = span {
            v.push((name, s));
        }
    };
    add("held", e.held.as_ref().map(Spanned::span));
    add("limiter_kw", e.limiter_kw.as_ref().map(Spanned::span));
    add("fuse_a", e.fuse_a.as_ref().map(Spanned::span));
    add("amount_eur", e.amount_eur.as_ref().map(Spanned::span));
    add("channel", e.channel.as_ref().map(Spanned::span));
    add("device", e.device.as_ref().map(Spanned::span));
    add("by", e.by.as_ref().map(Spanned::span));
    add("text", e.text.as_ref().map(Spanned::span));
    add("load", e.load.as_ref().map(Spanned::span));
    add("factor", e.factor.as_ref().map(Spanned::span));
    add("valve", e.valve.as_ref().map(Spanned::span));
    add("on", e.on.as_ref().map(Spanned::span));
    add("registered", e.registered.as_ref().map(Spanned::span));
    add("signal", e.signal.as_ref().map(Spanned::span));
    v
}

fn convert_event(
    ctx: &Ctx<'_>,
    event: &Spanned<RawEvent>,
    start: SimTime,
    loads: &[LoadSpec],
    signal_max: u8,
    out: &mut Vec<Event>,
) -> Result<(), ScenarioError> {
    let e = event.get_ref();
    let at = e.at.get_ref().resolve(start);
    if at < start {
        return Err(ctx.err(&e.at.span(), "this event is before the scenario's `start`"));
    }
    let line = crate::error::line_col(ctx.text, event.span().start).0;
    let action = *e.action.get_ref();
    let (needs, optional): (&[&str], &[&str]) = match action {
        Action::Button => (&[], &["held"]),
        Action::SetLimiter => (&["limiter_kw"], &[]),
        Action::SetFuse => (&["fuse_a"], &[]),
        Action::TopUp => (&["amount_eur"], &[]),
        Action::MbusCouple => (&["device"], &[]),
        Action::MbusReplace => (&["channel", "device"], &[]),
        Action::GasValve => (&["channel", "valve"], &[]),
        Action::MbusDecouple | Action::MbusRemove => (&["channel"], &[]),
        Action::ClockJump => (&["by"], &[]),
        Action::TextMessage => (&["text"], &[]),
        Action::LoadEnable | Action::LoadDisable => (&["load"], &[]),
        Action::LoadScale => (&["load", "factor"], &[]),
        Action::Press | Action::Hold => (&[], &["held"]),
        Action::Error => (&["on"], &[]),
        Action::Network => (&["registered"], &["signal"]),
        _ => (&[], &[]),
    };
    let params = event_params(e);
    let action_name = ctx.text[e.action.span()]
        .trim_matches(['"', '\''])
        .to_owned();
    for (name, span) in &params {
        if !needs.contains(name) && !optional.contains(name) {
            let takes: Vec<String> = needs
                .iter()
                .chain(optional)
                .map(|n| format!("`{n}`"))
                .collect();
            let takes = if takes.is_empty() {
                "nothing".to_owned()
            } else {
                takes.join(", ")
            };
            return Err(ctx.err(
                span,
                format!("`{name}` does not apply to action `{action_name}`, which takes {takes}"),
            ));
        }
    }
    for need in needs {
        if !params.iter().any(|(n, _)| n == need) {
            return Err(ctx.err(
                &event.span(),
                format!("action `{action_name}` needs `{need}`"),
            ));
        }
    }
    let load_name = |ctx: &Ctx<'_>| -> Result<String, ScenarioError> {
        let Some(l) = &e.load else {
            return Err(ctx.err(&event.span(), "missing `load`"));
        };
        let name = l.get_ref();
        if loads.iter().any(|s| &s.name == name) {
            return Ok(name.clone());
        }
        let hint = suggest(name, loads.iter().map(|s| s.name.as_str()))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        Err(ctx.err(&l.span(), format!("no load named `{name}`{hint}")))
    };
    let push = |out: &mut Vec<Event>, action: EventAction| out.push(Event { at, action, line });
    let meter = |out: &mut Vec<Event>, cmd: Command| push(out, EventAction::Meter(cmd));
    let channel = || -> Result<u8, ScenarioError> {
        match &e.channel {
            Some(c) => check_channel(ctx, c).map(|c| c as u8),
            None => Err(ctx.err(&event.span(), "missing `channel`")),
        }
    };
    match action {
        Action::RemoteDisconnect => meter(out, Command::RemoteDisconnect),
        Action::Release => meter(out, Command::Release),
        Action::RemoteConnect => meter(out, Command::RemoteConnect),
        Action::Button => meter(
            out,
            Command::Button {
                held_ms: held(ctx, e, p1_meter::BUTTON_HOLD_MS)?,
            },
        ),
        Action::Press | Action::Hold => {
            let default = if action == Action::Press {
                DEFAULT_PRESS_MS
            } else {
                p1_meter::BUTTON_HOLD_MS
            };
            let held_ms = held(ctx, e, default)?;
            push(out, EventAction::Panel(PanelAction::Press { held_ms }));
        }
        Action::Error => {
            let on = e.on.as_ref().is_some_and(|o| *o.get_ref());
            push(out, EventAction::Panel(PanelAction::Error(on)));
        }
        Action::Network => {
            let registered = e.registered.as_ref().is_some_and(|r| *r.get_ref());
            let signal = match &e.signal {
                None => None,
                Some(s) => match u8::try_from(*s.get_ref()) {
                    Ok(v) if v <= signal_max => Some(v),
                    _ => {
                        return Err(ctx.err(
                            &s.span(),
                            format!(
                                "signal bars are 0 to {signal_max} (the panel's `signal_max`), \
                                 found {}",
                                s.get_ref()
                            ),
                        ));
                    }
                },
            };
            push(
                out,
                EventAction::Panel(PanelAction::Network { registered, signal }),
            );
        }
        Action::SetLimiter => {
            let hw = e.limiter_kw.as_ref().map_or(9999, |l| l.get_ref().0);
            meter(out, Command::SetLimiter { hw });
        }
        Action::SetFuse => {
            let a = e.fuse_a.as_ref().map_or(999, |f| f.get_ref().0);
            meter(out, Command::SetFuse { a });
        }
        Action::TopUp => {
            let ueur = e.amount_eur.as_ref().map_or(0, |m| m.get_ref().0);
            meter(out, Command::TopUp { ueur });
        }
        Action::PortDisable => meter(out, Command::Port { enabled: false }),
        Action::PortEnable => meter(out, Command::Port { enabled: true }),
        Action::PowerFail => meter(out, Command::PowerFail),
        Action::PowerRestore => meter(out, Command::PowerRestore),
        Action::MbusCouple | Action::MbusReplace => {
            let Some(dev) = &e.device else {
                return Err(ctx.err(&event.span(), "missing `device`"));
            };
            let cfg = convert_mbus(ctx, dev.get_ref())?;
            if action == Action::MbusReplace {
                let old_channel = channel()?;
                if old_channel == cfg.channel {
                    return Err(ctx.err(
                        &dev.get_ref().channel.span(),
                        "the new device goes on another channel than the one it replaces \
                         (to exchange a device in place, use `mbus_couple` on its channel)",
                    ));
                }
                meter(
                    out,
                    Command::MbusReplace {
                        old_channel,
                        new: cfg,
                    },
                );
            } else {
                meter(out, Command::MbusCouple(cfg));
            }
        }
        Action::GasValve => {
            let state = e
                .valve
                .as_ref()
                .map_or(Breaker::Connected, |v| v.get_ref().0);
            meter(
                out,
                Command::GasValve {
                    channel: channel()?,
                    state,
                },
            );
        }
        Action::MbusDecouple => meter(
            out,
            Command::MbusDecouple {
                channel: channel()?,
            },
        ),
        Action::MbusRemove => meter(
            out,
            Command::MbusRemove {
                channel: channel()?,
            },
        ),
        Action::ClockJump => {
            let by_ms = e.by.as_ref().map_or(0, |b| b.get_ref().0);
            meter(out, Command::ClockJump { by_ms });
        }
        Action::TextMessage => {
            let bytes = e
                .text
                .as_ref()
                .map(|t| t.get_ref().as_bytes().to_vec())
                .unwrap_or_default();
            meter(out, Command::TextMessage { bytes });
        }
        Action::LoadEnable => push(out, EventAction::LoadEnable(load_name(ctx)?)),
        Action::LoadDisable => push(out, EventAction::LoadDisable(load_name(ctx)?)),
        Action::LoadScale => {
            let permille = e.factor.as_ref().map_or(1000, |f| f.get_ref().0);
            if permille < 0 {
                let span = e.factor.as_ref().map_or(event.span(), Spanned::span);
                return Err(ctx.err(&span, "a scale factor cannot be negative"));
            }
            push(
                out,
                EventAction::LoadScale {
                    load: load_name(ctx)?,
                    permille,
                },
            );
        }
    }
    Ok(())
}

/// Converts the `[[faults]]` tables: scenario instants in schedules become the ms since
/// the epoch p1-faults expects, and every fault is checked where it is written.
fn convert_faults(
    ctx: &Ctx<'_>,
    raw: &[Spanned<RawFault>],
    start: SimTime,
    seed: u64,
) -> Result<Vec<FaultSpec>, ScenarioError> {
    let mut out = Vec::with_capacity(raw.len());
    for f in raw {
        let r = f.get_ref();
        let fault = r.fault.get_ref().clone();
        if let Err(m) = fault.validate() {
            return Err(ctx.err(
                &r.fault.span(),
                format!("fault `{}`: expected {m}", fault.name()),
            ));
        }
        let schedule = convert_schedule(ctx, &r.schedule, start)?;
        if let Err(m) = schedule.validate() {
            return Err(ctx.err(&r.schedule.span(), format!("schedule: expected {m}")));
        }
        out.push(FaultSpec { fault, schedule });
    }
    // The injector's own checks, so that `Simulation::new` cannot fail on them later.
    FaultInjector::new(out.clone(), seed).map_err(|e| {
        let span = raw.get(e.index).map_or(0..0, Spanned::span);
        ctx.err(&span, format!("faults: {e}"))
    })?;
    Ok(out)
}

fn convert_schedule(
    ctx: &Ctx<'_>,
    s: &Spanned<RawFaultSchedule>,
    start: SimTime,
) -> Result<Schedule, ScenarioError> {
    Ok(match s.get_ref() {
        RawFaultSchedule::AtIndex(n) => Schedule::AtIndex(*n),
        RawFaultSchedule::AtMs(ms) => Schedule::AtMs(*ms),
        RawFaultSchedule::At(at) => {
            let t = at.get_ref().resolve(start);
            if t < start {
                return Err(ctx.err(&at.span(), "this instant is before the scenario's `start`"));
            }
            Schedule::AtMs(t.millis())
        }
        RawFaultSchedule::Window(w) => {
            let RawWindow {
                from,
                until,
                from_ms,
                until_ms,
            } = w.get_ref();
            let bound = |at: &Option<Spanned<At>>, ms: &Option<i64>, name: &str| match (at, ms) {
                (Some(a), None) => Ok(a.get_ref().resolve(start).millis()),
                (None, Some(ms)) => Ok(*ms),
                (Some(_), Some(_)) => Err(ctx.err(
                    &w.span(),
                    format!("give either `{name}` or `{name}_ms`, not both"),
                )),
                (None, None) => Err(ctx.err(
                    &w.span(),
                    format!("a window needs `{name}` (an instant or \"+10m\") or `{name}_ms`"),
                )),
            };
            let (a, b) = (
                bound(from, from_ms, "from")?,
                bound(until, until_ms, "until")?,
            );
            if a >= b {
                let span = until.as_ref().map_or(w.span(), Spanned::span);
                return Err(ctx.err(&span, "a window's `until` must be after its `from`"));
            }
            Schedule::Window {
                from_ms: a,
                until_ms: b,
            }
        }
        RawFaultSchedule::Every { n, offset } => Schedule::Every {
            n: *n,
            offset: *offset,
        },
        RawFaultSchedule::Probability(p) => Schedule::Probability(*p),
    })
}
