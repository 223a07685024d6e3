//! `[meter]` and `[[meter.mbus]]`: the raw tables (model, grid, firmware, registers,
//! tariff calendar, peaks, history, prepaid, M-Bus devices) and their conversion into a
//! [`p1_meter::MeterConfig`].

use std::fmt;

use chrono::NaiveTime;
use p1_meter::{
    EmptyPeak, Grid, MbusConfig, MbusKind, MeterConfig, PeakStamp, Prepaid, SimTime, TariffCalendar,
};
use p1_wire::{HistoryEntry, Model, Peak, Tst, Version};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use super::{Ctx, weekdays};
use crate::error::ScenarioError;
use crate::loads::local_instant;
use crate::schema::{Fuse, Limiter, named};
use crate::units::{Date, Duration, Energy, Instant, Money, Month, Power, TimeOfDay, Weekday};

/// `[meter]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMeter {
    pub model: Option<Spanned<ModelName>>,
    pub grid: Option<Spanned<GridName>>,
    pub firmware: Option<Spanned<Firmware>>,
    pub equipment_id: Option<Spanned<String>>,
    pub clock_offset: Option<Duration>,
    pub import_day_kwh: Option<Spanned<Energy>>,
    pub import_night_kwh: Option<Spanned<Energy>>,
    pub export_day_kwh: Option<Spanned<Energy>>,
    pub export_night_kwh: Option<Spanned<Energy>>,
    pub peak_stamp: Option<PeakStamp>,
    pub limiter_kw: Option<Spanned<Limiter>>,
    pub fuse_a: Option<Spanned<Fuse>>,
    pub port_enabled: Option<bool>,
    pub empty_peak: Option<EmptyPeak>,
    pub keep_stale_history_head: Option<bool>,
    pub tariff: Option<Spanned<RawTariff>>,
    pub month_peak: Option<Spanned<RawPeak>>,
    pub history: Option<Spanned<Vec<Spanned<RawHistory>>>>,
    pub prepaid: Option<Spanned<RawPrepaid>>,
    pub mbus: Option<Vec<Spanned<RawMbus>>>,
}

/// `[meter.tariff]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTariff {
    pub day_start: Option<TimeOfDay>,
    pub day_end: Option<TimeOfDay>,
    pub day_weekdays: Option<Vec<Weekday>>,
    pub night_days: Option<Vec<Date>>,
}

/// `[meter.month_peak]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPeak {
    pub at: Instant,
    pub power: Spanned<Power>,
}

/// One `[[meter.history]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHistory {
    pub month: Month,
    pub at: Option<Instant>,
    pub power: Spanned<Power>,
}

/// `[meter.prepaid]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrepaid {
    pub credit_eur: Money,
    pub price_eur_per_kwh: Money,
    pub release_delay: Option<Spanned<Duration>>,
}

/// One `[[meter.mbus]]` device (also the `device` of an M-Bus event).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMbus {
    pub channel: Spanned<i64>,
    pub kind: Spanned<Kind>,
    pub equipment_id: Spanned<String>,
    pub initial_m3: Option<crate::units::Volume>,
    pub capture_period: Option<Spanned<Duration>>,
    pub capture_phase: Option<Duration>,
    pub capture_jitter: Option<Duration>,
}

/// Firmware version, `"50217"` or `50217`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Firmware(pub Version);

fn firmware_from(code: i64) -> Result<Firmware, String> {
    u32::try_from(code)
        .ok()
        .and_then(Version::from_code)
        .map(Firmware)
        .ok_or_else(|| {
            format!("unknown firmware `{code}`: expected 50213, 50214, 50215, 50216 or 50217")
        })
}

impl<'de> Deserialize<'de> for Firmware {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Firmware, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Firmware;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a firmware version such as \"50217\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Firmware, E> {
                firmware_from(v).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Firmware, E> {
                let code = v.trim().parse::<i64>().map_err(|_| {
                    E::custom(format!("unknown firmware `{v}`: expected e.g. \"50217\""))
                })?;
                firmware_from(code).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// M-Bus device kind: `"gas"`, `"water"`, or an OMS device type number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Gas,
    Water,
    Other(u16),
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"gas\", \"water\" or an OMS device type number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
                match v {
                    3 => Ok(Kind::Gas),
                    7 => Ok(Kind::Water),
                    0..=255 => Ok(Kind::Other(v as u16)),
                    _ => Err(E::custom("an OMS device type is 0 to 255")),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
                match v {
                    "gas" => Ok(Kind::Gas),
                    "water" => Ok(Kind::Water),
                    _ => {
                        let hint = crate::error::suggest(v, ["gas", "water"])
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                        Err(E::custom(format!(
                            "unknown M-Bus kind `{v}`: expected \"gas\", \"water\" or a device \
                             type number{hint}"
                        )))
                    }
                }
            }
        }
        d.deserialize_any(V)
    }
}

named!(
    ModelName,
    Model,
    "model",
    [("S211", Model::S211), ("T211", Model::T211)]
);
named!(
    GridName,
    Grid,
    "grid",
    [
        ("1x230V", Grid::OnePhase230),
        ("3x230V", Grid::Delta230),
        ("3x400V", Grid::Star400)
    ]
);

pub(super) fn convert_meter(
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

pub(super) fn convert_mbus(ctx: &Ctx<'_>, dev: &RawMbus) -> Result<MbusConfig, ScenarioError> {
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
