//! The scenario file as written: serde structs mirroring the TOML, every table with
//! `deny_unknown_fields`, values in human units (see [`crate::units`]). Positions are kept
//! (`Spanned`) where a later check needs to point at a value. `docs/scenarios.md`
//! documents every key; keep the two in step.

use std::fmt;

use p1_meter::{EmptyPeak, Grid, PeakStamp};
use p1_wire::Breaker;
use p1_wire::{Model, Version};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use crate::units::{
    At, Date, Duration, Energy, Flow, Instant, Money, Month, Power, Ratio, TimeOfDay, Voltage,
    Weekday, parse_decimal,
};

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

/// `[panel]`: the front panel's settings ([`p1_panel::PanelConfig`]) in human units.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPanel {
    pub screen_timeout: Option<Spanned<Duration>>,
    pub sequence: Option<Spanned<Vec<Spanned<String>>>>,
    pub control_imp_per_kwh: Option<Spanned<i64>>,
    pub blind_imp_per_kvarh: Option<Spanned<i64>>,
    pub led_flash: Option<Spanned<Duration>>,
    pub signal_max: Option<Spanned<i64>>,
}

/// One `[[faults]]` table: p1-faults' [`p1_faults::FaultKind`] as is, and a schedule whose
/// instants may be written like any scenario instant (converted to the milliseconds
/// p1-faults expects by [`crate::scenario`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub fault: Spanned<p1_faults::FaultKind>,
    pub schedule: Spanned<RawFaultSchedule>,
}

/// `schedule = { .. }` of a fault: p1-faults' forms plus `at` and `window = { from, until }`
/// with scenario instants or offsets from `start`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawFaultSchedule {
    AtIndex(u64),
    AtMs(i64),
    At(Spanned<At>),
    Window(Spanned<RawWindow>),
    Every {
        n: u64,
        #[serde(default)]
        offset: u64,
    },
    Probability(f64),
}

/// `window = { from = "+1m", until = "+2m" }` (or `from_ms`/`until_ms`): telegrams with
/// `from <= t < until`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWindow {
    pub from: Option<Spanned<At>>,
    pub until: Option<Spanned<At>>,
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

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

/// `[supply]`: what the grid delivers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSupply {
    pub voltage_v: Option<Spanned<Vec<Voltage>>>,
    pub voltage_jitter_v: Option<Voltage>,
    pub jitter_period: Option<Spanned<Duration>>,
    pub power_factor: Option<Spanned<Ratio>>,
}

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

/// `[[loads.replay]]`: Fluvius portal exports.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReplay {
    pub name: Spanned<String>,
    pub enabled: Option<bool>,
    pub electricity: Option<Spanned<String>>,
    pub gas: Option<Spanned<String>>,
    pub phase: Option<Spanned<i64>>,
    pub gas_channel: Option<Spanned<i64>>,
    pub tariff: Option<ReplayTariffName>,
}

/// Who sets the tariff during a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayTariff {
    /// The export's Day/Night labels (the default): the driver forces each quarter's.
    Labels,
    /// The meter's calendar; a label that contradicts it is an error.
    Calendar,
}

/// Event actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Action {
    RemoteDisconnect,
    Release,
    RemoteConnect,
    Button,
    SetLimiter,
    SetFuse,
    TopUp,
    PortDisable,
    PortEnable,
    PowerFail,
    PowerRestore,
    MbusCouple,
    MbusDecouple,
    MbusRemove,
    MbusReplace,
    GasValve,
    ClockJump,
    TextMessage,
    LoadEnable,
    LoadDisable,
    LoadScale,
    Press,
    Hold,
    Error,
    Network,
}

/// One `[[event]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEvent {
    pub at: Spanned<At>,
    pub action: Spanned<Action>,
    pub held: Option<Spanned<Duration>>,
    pub limiter_kw: Option<Spanned<Limiter>>,
    pub fuse_a: Option<Spanned<Fuse>>,
    pub amount_eur: Option<Spanned<Money>>,
    pub channel: Option<Spanned<i64>>,
    pub device: Option<Spanned<RawMbus>>,
    pub by: Option<Spanned<Duration>>,
    pub text: Option<Spanned<String>>,
    pub load: Option<Spanned<String>>,
    pub factor: Option<Spanned<Ratio>>,
    pub valve: Option<Spanned<Valve>>,
    pub on: Option<Spanned<bool>>,
    pub registered: Option<Spanned<bool>>,
    pub signal: Option<Spanned<i64>>,
}

/// A valve or breaker state: 0, 1, 2 or `"disconnected"`, `"connected"`, `"ready"`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Valve(pub Breaker);

impl<'de> Deserialize<'de> for Valve {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Valve, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Valve;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("0, 1, 2, \"disconnected\", \"connected\" or \"ready\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Valve, E> {
                u8::try_from(v)
                    .ok()
                    .and_then(Breaker::from_code)
                    .map(Valve)
                    .ok_or_else(|| E::custom(format!("a valve state is 0, 1 or 2, found {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Valve, E> {
                match v {
                    "disconnected" => Ok(Valve(Breaker::Disconnected)),
                    "connected" => Ok(Valve(Breaker::Connected)),
                    "ready" => Ok(Valve(Breaker::ReadyForReconnection)),
                    _ => Err(E::custom(format!(
                        "unknown valve state `{v}`: expected \"disconnected\", \"connected\" \
                         or \"ready\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
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

/// Power limiter `0-0:17.0.0`: `"off"`, `"2.3"` (kW) or `10` (kW), kept in hW.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limiter(pub u32);

fn limiter_from(hw: i64) -> Result<Limiter, String> {
    u32::try_from(hw)
        .ok()
        .filter(|&v| v <= 9999)
        .map(Limiter)
        .ok_or_else(|| "a limiter must be between 0.0 and 999.9 kW, or \"off\"".to_owned())
}

impl<'de> Deserialize<'de> for Limiter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Limiter, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Limiter;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a limiter in kW such as \"2.3\", or \"off\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Limiter, E> {
                limiter_from(v.saturating_mul(10)).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Limiter, E> {
                if v.trim() == "off" {
                    return Ok(Limiter(9999));
                }
                let hw =
                    parse_decimal(v.trim().trim_end_matches("kW").trim(), 1).map_err(E::custom)?;
                limiter_from(hw).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Current threshold `1-0:31.4.0`: `10` (A) or `"off"`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fuse(pub u32);

impl<'de> Deserialize<'de> for Fuse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fuse, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Fuse;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a current threshold in A such as 10, or \"off\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Fuse, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|&a| a <= 999)
                    .map(Fuse)
                    .ok_or_else(|| E::custom("a current threshold must be 0 to 999 A, or \"off\""))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Fuse, E> {
                match v.trim() {
                    "off" => Ok(Fuse(999)),
                    other => match other.trim_end_matches('A').trim().parse::<i64>() {
                        Ok(a) => self.visit_i64(a),
                        Err(_) => Err(E::custom(format!(
                            "`{v}` is not a current threshold: write e.g. 10 or \"off\""
                        ))),
                    },
                }
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

/// Generates a `Deserialize` wrapper for a closed set of names, with suggestions.
macro_rules! named {
    ($ty:ident, $inner:ty, $what:expr, [$(($name:expr, $value:expr)),+ $(,)?]) => {
        #[derive(Debug, Clone, Copy)]
        pub(crate) struct $ty(pub $inner);

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "{}: {}", $what, [$(concat!("\"", $name, "\"")),+].join(", "))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        $(if v == $name { return Ok($ty($value)); })+
                        let hint = crate::error::suggest(v, [$($name),+])
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                        Err(E::custom(format!(
                            "unknown {} `{v}`, expected {}{hint}",
                            $what,
                            [$(concat!("`", $name, "`")),+].join(" or ")
                        )))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
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
named!(
    ReplayTariffName,
    ReplayTariff,
    "replay tariff",
    [
        ("labels", ReplayTariff::Labels),
        ("calendar", ReplayTariff::Calendar)
    ]
);
