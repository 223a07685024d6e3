//! `[meter]` and `[[meter.mbus]]`: the raw tables (model, grid, firmware, registers,
//! tariff calendar, peaks, history, prepaid, M-Bus devices) and their conversion into a
//! [`p1_meter::MeterConfig`].

use std::fmt;

use chrono::NaiveTime;
use std::ops::Range;

use p1_meter::{
    ConfigError, ConfigField, EmptyPeak, Grid, MbusConfig, MbusField, MbusKind, MeterConfig,
    PeakStamp, Prepaid, TariffCalendar,
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
    pub clock_offset: Option<Spanned<Duration>>,
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
    pub power: Option<Spanned<Power>>,
}

/// `[meter.prepaid]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrepaid {
    pub credit_eur: Money,
    pub price_eur_per_kwh: Spanned<Money>,
    pub release_delay: Option<Spanned<Duration>>,
}

/// One `[[meter.mbus]]` device (also the `device` of an M-Bus event).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMbus {
    pub channel: Spanned<u8>,
    pub kind: Spanned<KindName>,
    pub equipment_id: Spanned<String>,
    pub initial_m3: Option<crate::units::Volume>,
    pub capture_period: Option<Spanned<Duration>>,
    pub capture_phase: Option<Duration>,
    pub capture_jitter: Option<Spanned<Duration>>,
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

/// M-Bus device kind: `"gas"`, `"water"`, or a device type number (3 gas, 7 water; any
/// other is read here and refused by the meter with the key's position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KindName(pub MbusKind);

impl<'de> Deserialize<'de> for KindName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KindName, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KindName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"gas\", \"water\" or a device type number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KindName, E> {
                match v {
                    3 => Ok(KindName(MbusKind::Gas)),
                    7 => Ok(KindName(MbusKind::Water)),
                    0..=255 => Ok(KindName(MbusKind::Other(v as u16))),
                    _ => Err(E::custom("an OMS device type is 0 to 255")),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KindName, E> {
                match v {
                    "gas" => Ok(KindName(MbusKind::Gas)),
                    "water" => Ok(KindName(MbusKind::Water)),
                    _ => {
                        let hint = crate::error::suggest(v, ["gas", "water"])
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                        Err(E::custom(format!(
                            "unknown M-Bus kind `{v}`: expected \"gas\" or \"water\"{hint}"
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

/// Converts `[meter]` into the meter's configuration. Only the units and the shape of
/// the file are checked here; the meter's rules are [`p1_meter::Meter::new`]'s, whose
/// errors [`locate`] maps back to the key they name.
pub(super) fn convert_meter(ctx: &Ctx<'_>, m: &RawMeter) -> Result<MeterConfig, ScenarioError> {
    let model = m.model.as_ref().map_or(Model::T211, |s| s.get_ref().0);
    let default_grid = match model {
        Model::S211 => Grid::OnePhase230,
        Model::T211 => Grid::Star400,
    };
    let grid = m.grid.as_ref().map_or(default_grid, |s| s.get_ref().0);
    let firmware = m
        .firmware
        .as_ref()
        .map_or(Version::V50217, |f| f.get_ref().0);
    let equipment_id = match &m.equipment_id {
        Some(id) => id.get_ref().clone(),
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
    let mut config = MeterConfig::new(model, grid, firmware, &equipment_id);
    config.import_wh = [wh(&m.import_day_kwh)?, wh(&m.import_night_kwh)?];
    config.export_wh = [wh(&m.export_day_kwh)?, wh(&m.export_night_kwh)?];
    config.clock_offset_ms = m.clock_offset.as_ref().map_or(0, |d| d.get_ref().0);
    config.tariff = m
        .tariff
        .as_ref()
        .map_or_else(TariffCalendar::default, |t| tariff(t.get_ref()));
    config.month_peak = match &m.month_peak {
        None => None,
        Some(p) => Some(Peak {
            at: p.get_ref().at.0.tst(),
            w: peak_w(ctx, &p.get_ref().power)?,
        }),
    };
    if let Some(h) = &m.history {
        config.history = h
            .get_ref()
            .iter()
            .map(|e| history_entry(ctx, e))
            .collect::<Result<_, _>>()?;
    }
    config.limiter_hw = m.limiter_kw.as_ref().map_or(9999, |l| l.get_ref().0);
    config.fuse_a = m.fuse_a.as_ref().map_or(999, |f| f.get_ref().0);
    config.prepaid = m.prepaid.as_ref().map(|p| {
        let r = p.get_ref();
        Prepaid {
            credit_ueur: r.credit_eur.0,
            price_ueur_per_kwh: r.price_eur_per_kwh.get_ref().0,
            release_delay_ms: r.release_delay.as_ref().map_or(60_000, |d| d.get_ref().0),
        }
    });
    config.mbus = m
        .mbus
        .iter()
        .flatten()
        .map(|d| mbus_config(d.get_ref()))
        .collect();
    config.peak_stamp = m.peak_stamp.unwrap_or(PeakStamp::End);
    config.port_enabled = m.port_enabled.unwrap_or(true);
    if let Some(e) = m.empty_peak {
        config.empty_peak = e;
    }
    if let Some(k) = m.keep_stale_history_head {
        config.keep_stale_history_head = k;
    }
    Ok(config)
}

/// `[meter.tariff]` over the default calendar.
fn tariff(t: &RawTariff) -> TariffCalendar {
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

/// One `[[meter.history]]` entry: with `at` and `power` a captured peak; with neither a
/// "no value" entry, as the meter prints it (`632525252525W`, `00.000*kW`).
fn history_entry(
    ctx: &Ctx<'_>,
    entry: &Spanned<RawHistory>,
) -> Result<HistoryEntry, ScenarioError> {
    let e = entry.get_ref();
    let next_month = e
        .month
        .0
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(e.month.0);
    let period = local_instant(next_month, NaiveTime::MIN).tst();
    match (&e.at, &e.power) {
        (Some(at), Some(power)) => Ok(HistoryEntry {
            period,
            at: at.0.tst(),
            w: peak_w(ctx, power)?,
        }),
        (None, None) => Ok(HistoryEntry {
            period,
            at: Tst::INVALID,
            w: 0,
        }),
        (None, Some(power)) => Err(ctx.err(
            &power.span(),
            "a \"no value\" entry (without `at`) has no power: give `at` with the power, \
             or leave both out",
        )),
        (Some(_), None) => {
            Err(ctx.err(&entry.span(), "a history entry with `at` needs its `power`"))
        }
    }
}

fn peak_w(ctx: &Ctx<'_>, p: &Spanned<crate::units::Power>) -> Result<u32, ScenarioError> {
    u32::try_from(p.get_ref().0)
        .ok()
        .filter(|&w| w <= 99_999)
        .ok_or_else(|| ctx.err(&p.span(), "a peak is between 0 and 99.999 kW"))
}

/// An M-Bus device as written; the meter checks it ([`MbusConfig::validate`]).
pub(super) fn mbus_config(dev: &RawMbus) -> MbusConfig {
    MbusConfig {
        channel: *dev.channel.get_ref(),
        kind: dev.kind.get_ref().0,
        equipment_id: dev.equipment_id.get_ref().clone(),
        initial_dm3: dev.initial_m3.map_or(0, |v| v.0.max(0) as u64),
        capture_period_ms: dev
            .capture_period
            .as_ref()
            .map_or(300_000, |p| p.get_ref().0),
        capture_phase_ms: dev.capture_phase.map(|d| d.0),
        capture_jitter_ms: dev
            .capture_jitter
            .as_ref()
            .map_or(30_000, |d| d.get_ref().0),
    }
}

/// Where an M-Bus device's `field` is written.
pub(super) fn mbus_span(dev: &Spanned<RawMbus>, field: MbusField) -> Range<usize> {
    let d = dev.get_ref();
    match field {
        MbusField::Device => Some(dev.span()),
        MbusField::Channel => Some(d.channel.span()),
        MbusField::Kind => Some(d.kind.span()),
        MbusField::EquipmentId => Some(d.equipment_id.span()),
        MbusField::CapturePeriod => d.capture_period.as_ref().map(Spanned::span),
        MbusField::CaptureJitter => d.capture_jitter.as_ref().map(Spanned::span),
    }
    .unwrap_or_else(|| dev.span())
}

/// Where the setting a meter configuration error names is written: the key, or the
/// nearest table that holds it. `m` is `[meter]` (absent: every setting is a default),
/// `start` the scenario's `start`.
pub(super) fn locate(
    ctx: &Ctx<'_>,
    m: Option<&Spanned<RawMeter>>,
    start: &Range<usize>,
    e: &ConfigError,
) -> ScenarioError {
    let span = |s: Option<Range<usize>>| s.or_else(|| m.map(Spanned::span));
    let span = match (e.field, m.map(Spanned::get_ref)) {
        (ConfigField::Start, _) => Some(start.clone()),
        (ConfigField::ClockOffset, r) => {
            span(r.and_then(|r| r.clock_offset.as_ref()).map(Spanned::span))
        }
        (_, None) => None,
        (ConfigField::Grid, Some(r)) => span(
            r.grid
                .as_ref()
                .map(Spanned::span)
                .or_else(|| r.model.as_ref().map(Spanned::span)),
        ),
        (ConfigField::EquipmentId, Some(r)) => span(r.equipment_id.as_ref().map(Spanned::span)),
        (ConfigField::History { index }, Some(r)) => span(r.history.as_ref().map(|h| {
            h.get_ref()
                .get(index)
                .map_or_else(|| h.span(), Spanned::span)
        })),
        (ConfigField::LimiterHw, Some(r)) => span(r.limiter_kw.as_ref().map(Spanned::span)),
        (ConfigField::FuseA, Some(r)) => span(r.fuse_a.as_ref().map(Spanned::span)),
        (ConfigField::PrepaidPrice, Some(r)) => span(
            r.prepaid
                .as_ref()
                .map(|p| p.get_ref().price_eur_per_kwh.span()),
        ),
        (ConfigField::PrepaidReleaseDelay, Some(r)) => span(r.prepaid.as_ref().map(|p| {
            p.get_ref()
                .release_delay
                .as_ref()
                .map_or_else(|| p.span(), Spanned::span)
        })),
        (ConfigField::Mbus { index, field }, Some(r)) => span(
            r.mbus
                .as_ref()
                .and_then(|list| list.get(index))
                .map(|dev| mbus_span(dev, field)),
        ),
    };
    ctx.err(&span.unwrap_or(0..0), e.message.clone())
}
