//! `[loads]`: the raw tables of every load model except replays (constant, schedule,
//! household, appliance, EV, PV, flow) and their conversion into [`LoadSpec`]s.

use chrono::NaiveTime;
use p1_meter::{MeterConfig, SimTime};
use serde::Deserialize;
use toml::Spanned;

use super::replay::{RawReplay, TariffLabels, convert_replay};
use super::{Ctx, check_channel, convert_phases, weekdays};
use crate::error::ScenarioError;
use crate::loads::{Draw, LoadKind, LoadSpec, program_cycle};
use crate::units::{Duration, Energy, Flow, Instant, Power, Ratio, TimeOfDay, Weekday};

/// `[loads]`: one array per kind of load.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoads {
    #[serde(default)]
    pub constant: Vec<Spanned<RawConstant>>,
    #[serde(default)]
    pub schedule: Vec<Spanned<RawSchedule>>,
    #[serde(default)]
    pub household: Vec<Spanned<RawHousehold>>,
    #[serde(default)]
    pub appliance: Vec<Spanned<RawAppliance>>,
    #[serde(default)]
    pub ev: Vec<Spanned<RawEv>>,
    #[serde(default)]
    pub pv: Vec<Spanned<RawPv>>,
    #[serde(default)]
    pub flow: Vec<Spanned<RawFlow>>,
    #[serde(default)]
    pub replay: Vec<Spanned<RawReplay>>,
}

/// `[[loads.constant]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConstant {
    pub name: Spanned<String>,
    pub enabled: Option<bool>,
    pub phases: Option<Spanned<Vec<i64>>>,
    pub power: Power,
}

/// `[[loads.schedule]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSchedule {
    pub name: Spanned<String>,
    pub enabled: Option<bool>,
    pub phases: Option<Spanned<Vec<i64>>>,
    pub days: Option<Vec<Weekday>>,
    pub daily: Spanned<Vec<(TimeOfDay, Power)>>,
}

/// `[[loads.household]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHousehold {
    pub name: Spanned<String>,
    pub enabled: Option<bool>,
    pub phases: Option<Spanned<Vec<i64>>>,
    pub base: Option<Power>,
    pub fridge: Option<bool>,
    pub cooking: Option<bool>,
    pub lighting: Option<bool>,
}

/// Built-in appliance programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Program {
    WashingMachine,
    Dishwasher,
    Dryer,
    Oven,
    Kettle,
    HeatPump,
}

/// `[[loads.appliance]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAppliance {
    pub name: Spanned<String>,
    pub enabled: Option<bool>,
    pub phases: Option<Spanned<Vec<i64>>>,
    pub program: Option<Program>,
    pub cycle: Option<Spanned<Vec<(Duration, Power)>>>,
    pub continuous: Option<bool>,
    pub at: Option<Vec<TimeOfDay>>,
    pub starts: Option<Vec<Instant>>,
    pub days: Option<Vec<Weekday>>,
    pub jitter: Option<Spanned<Duration>>,
}

/// One `sessions` entry of an EV charger.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSession {
    pub start: Instant,
    pub energy_kwh: Spanned<Energy>,
}

/// `[[loads.ev]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEv {
    pub name: Spanned<String>,
    pub enabled: Option<bool>,
    pub phases: Option<Spanned<Vec<i64>>>,
    pub power: Spanned<Power>,
    pub sessions: Option<Vec<RawSession>>,
    pub plug_in: Option<TimeOfDay>,
    pub daily_kwh: Option<Spanned<Energy>>,
    pub days: Option<Vec<Weekday>>,
    pub jitter: Option<Spanned<Duration>>,
}

/// `[[loads.pv]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPv {
    pub name: Spanned<String>,
    pub enabled: Option<bool>,
    pub phases: Option<Spanned<Vec<i64>>>,
    pub peak: Spanned<Power>,
    pub clouds: Option<Spanned<Ratio>>,
}

/// One `draws` entry of a flow: random draws such as showers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDraw {
    pub from: TimeOfDay,
    pub to: TimeOfDay,
    pub count: Option<u32>,
    pub duration: Spanned<Duration>,
    pub flow: Flow,
    pub days: Option<Vec<Weekday>>,
}

/// `[[loads.flow]]`: gas or water through an M-Bus channel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlow {
    pub name: Spanned<String>,
    pub enabled: Option<bool>,
    pub channel: Spanned<i64>,
    pub flow: Option<Flow>,
    pub daily: Option<Vec<(TimeOfDay, Flow)>>,
    pub draws: Option<Vec<Spanned<RawDraw>>>,
}

/// Most times a flow draw may happen in one day.
const MAX_DRAWS_PER_DAY: u32 = 10_000;

/// Converts `[loads]` into load specs in seeding order (kind by kind, file order within
/// a kind), collecting the Day/Night labels of replays that set the tariff.
pub(super) fn convert_loads(
    ctx: &Ctx<'_>,
    l: &RawLoads,
    meter: &MeterConfig,
    start: SimTime,
    end: SimTime,
    tariff_labels: &mut Vec<TariffLabels>,
) -> Result<Vec<LoadSpec>, ScenarioError> {
    let mut specs: Vec<(Spanned<String>, bool, LoadKind)> = Vec::new();
    for raw in &l.constant {
        let r = raw.get_ref();
        specs.push((
            r.name.clone(),
            r.enabled.unwrap_or(true),
            constant(ctx, raw, meter)?,
        ));
    }
    for raw in &l.schedule {
        let r = raw.get_ref();
        specs.push((
            r.name.clone(),
            r.enabled.unwrap_or(true),
            schedule(ctx, raw, meter)?,
        ));
    }
    for raw in &l.household {
        let r = raw.get_ref();
        specs.push((
            r.name.clone(),
            r.enabled.unwrap_or(true),
            household(ctx, raw, meter)?,
        ));
    }
    for raw in &l.appliance {
        let r = raw.get_ref();
        specs.push((
            r.name.clone(),
            r.enabled.unwrap_or(true),
            appliance(ctx, raw, meter)?,
        ));
    }
    for raw in &l.ev {
        let r = raw.get_ref();
        specs.push((
            r.name.clone(),
            r.enabled.unwrap_or(true),
            ev(ctx, raw, meter)?,
        ));
    }
    for raw in &l.pv {
        let r = raw.get_ref();
        specs.push((
            r.name.clone(),
            r.enabled.unwrap_or(true),
            pv(ctx, raw, meter)?,
        ));
    }
    for raw in &l.flow {
        let r = raw.get_ref();
        specs.push((
            r.name.clone(),
            r.enabled.unwrap_or(true),
            flow_load(ctx, raw)?,
        ));
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

/// `[[loads.constant]]`.
fn constant(
    ctx: &Ctx<'_>,
    raw: &Spanned<RawConstant>,
    meter: &MeterConfig,
) -> Result<LoadKind, ScenarioError> {
    let c = raw.get_ref();
    let phases = convert_phases(ctx, &c.phases, meter)?;
    let kind = LoadKind::Constant {
        phases,
        power_w: c.power.0,
    };
    Ok(kind)
}

/// `[[loads.schedule]]`.
fn schedule(
    ctx: &Ctx<'_>,
    raw: &Spanned<RawSchedule>,
    meter: &MeterConfig,
) -> Result<LoadKind, ScenarioError> {
    let s = raw.get_ref();
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
    Ok(kind)
}

/// `[[loads.household]]`.
fn household(
    ctx: &Ctx<'_>,
    raw: &Spanned<RawHousehold>,
    meter: &MeterConfig,
) -> Result<LoadKind, ScenarioError> {
    let h = raw.get_ref();
    let kind = LoadKind::Household {
        phases: convert_phases(ctx, &h.phases, meter)?,
        base_w: h.base.map_or(150, |p| p.0),
        fridge: h.fridge.unwrap_or(true),
        cooking: h.cooking.unwrap_or(true),
        lighting: h.lighting.unwrap_or(true),
    };
    Ok(kind)
}

/// `[[loads.appliance]]`.
fn appliance(
    ctx: &Ctx<'_>,
    raw: &Spanned<RawAppliance>,
    meter: &MeterConfig,
) -> Result<LoadKind, ScenarioError> {
    let span = raw.span();
    let a = raw.get_ref();
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
    Ok(kind)
}

/// `[[loads.ev]]`.
fn ev(ctx: &Ctx<'_>, raw: &Spanned<RawEv>, meter: &MeterConfig) -> Result<LoadKind, ScenarioError> {
    let span = raw.span();
    let e = raw.get_ref();
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
    Ok(kind)
}

/// `[[loads.pv]]`.
fn pv(ctx: &Ctx<'_>, raw: &Spanned<RawPv>, meter: &MeterConfig) -> Result<LoadKind, ScenarioError> {
    let p = raw.get_ref();
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
    Ok(kind)
}

/// `[[loads.flow]]`.
fn flow_load(ctx: &Ctx<'_>, raw: &Spanned<RawFlow>) -> Result<LoadKind, ScenarioError> {
    let f = raw.get_ref();
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
    Ok(kind)
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

/// Refuses gas or water flows (`[[loads.flow]]`, a replay's `gas`) on a channel where no
/// device ever is (`devices`: the channels of `[[meter.mbus]]` and of coupling events):
/// the meter would silently count nothing.
pub(super) fn check_flow_devices(
    ctx: &Ctx<'_>,
    l: &RawLoads,
    devices: &[u8],
) -> Result<(), ScenarioError> {
    let has_device = |c: i64| devices.iter().any(|&d| i64::from(d) == c);
    let refuse = |span: &std::ops::Range<usize>, c: i64| {
        ctx.err(
            span,
            format!(
                "no M-Bus device on channel {c}: add a [[meter.mbus]] with `channel = {c}` \
                 (or couple one with an `mbus_couple` event), or flow to a device's channel"
            ),
        )
    };
    for f in &l.flow {
        let c = &f.get_ref().channel;
        if !has_device(*c.get_ref()) {
            return Err(refuse(&c.span(), *c.get_ref()));
        }
    }
    for r in &l.replay {
        let r = r.get_ref();
        let Some(gas) = &r.gas else { continue };
        let (c, span) = r
            .gas_channel
            .as_ref()
            .map_or((1, gas.span()), |c| (*c.get_ref(), c.span()));
        if !has_device(c) {
            return Err(refuse(&span, c));
        }
    }
    Ok(())
}
