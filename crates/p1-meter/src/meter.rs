//! The meter state machine: [`Meter`] integrates the household's [`Load`] over simulated
//! time into registers, tracks demand and the monthly peak, the breaker, the prepaid
//! credit and the M-Bus sub-meters, and reads out a [`p1_wire::Readout`].
//!
//! Everything happens on the event grid: [`Meter::advance_to`] jumps from boundary to
//! boundary (quarter end, tariff switch, month start, M-Bus capture, prepaid release or
//! exhaustion), integrating the constant load exactly in between, so a year costs as many
//! steps as it has boundaries, never one per second.

use std::fmt;

use p1_wire::{Breaker, Demand, Model, PhaseReadout, Readout};
use serde::Serialize;

use crate::demand::{self, DemandState, QUARTER_MS};
use crate::mbus::{self, Channel, ChannelStatus, MbusState};
use crate::tariff;
use crate::time::{month_start_after, month_start_containing};
use crate::{Grid, MbusConfig, MbusKind, MeterConfig, SimTime};

/// mJ (W·ms) per Wh.
pub const MJ_PER_WH: u64 = 3_600_000;
/// mJ per kWh, the unit the prepaid price is quoted in.
const MJ_PER_KWH: i128 = 3_600_000_000;

/// What the meter measures at an instant.
#[derive(Debug, Clone, Copy)]
struct Measured {
    /// Total import, W.
    import_w: u32,
    /// Total export, W.
    export_w: u32,
    /// L1..L3 as shown (phases the model or grid does not measure read 0 V).
    phases: [PhaseReadout; 3],
    /// The meter clock as printed: one time-zone lookup serves the readout and the state.
    meter_time: p1_wire::Tst,
}
/// Minimum button press that reconnects a released meter (Fluvius customer manual).
pub const BUTTON_HOLD_MS: i64 = 3000;
/// First instant the model supports: 1970-01-01T00:00:00Z.
pub const MIN_TIME: SimTime = SimTime(0);
/// End of the instants the model supports, 2100-01-01T00:00:00Z: the wire prints two-digit
/// years, and bounding time keeps every calendar computation inside chrono's range.
pub const MAX_TIME: SimTime = SimTime(4_102_444_800_000);
/// Longest text message, bytes (DSMR 5.0.2 §6.12: 1024 characters).
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// What one phase draws or injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PhaseLoad {
    /// Active power, W: positive = import from the grid, negative = export (PV).
    pub power_w: i64,
    /// Voltage, dV (0.1 V).
    pub voltage_dv: u32,
    /// Power factor in per-mille (1000 = resistive); current = |P| / (V x pf). Values
    /// outside 1..=1000 are clamped into it (0 would mean an infinite current).
    pub power_factor_permille: u32,
}

/// What the installation does right now: constant until the driver says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Load {
    /// Per phase, L1..L3 (only the first is used on an S211).
    pub phases: [PhaseLoad; 3],
    /// Flow through the M-Bus sub-meter on channel n+1, cm³ (ml) per hour.
    pub mbus_ml_per_h: [u64; 4],
}

/// A state change from outside the meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// The operator opens the breaker remotely (1 or 2 -> 0).
    RemoteDisconnect,
    /// The operator releases the meter for reconnection (0 -> 2).
    Release,
    /// The operator reconnects directly (0 or 2 -> 1).
    RemoteConnect,
    /// The customer presses the yellow-green button for `held_ms`; at least 3000 ms
    /// reconnects a meter in state 2.
    Button {
        /// How long the button is held, ms.
        held_ms: i64,
    },
    /// New power limiter threshold `0-0:17.0.0`, hW (9999 = off).
    SetLimiter {
        /// Threshold, hW.
        hw: u32,
    },
    /// New current threshold `1-0:31.4.0`, A (999 = off).
    SetFuse {
        /// Threshold, A.
        a: u32,
    },
    /// Prepaid credit added, micro-euro.
    TopUp {
        /// Amount, micro-euro.
        ueur: i64,
    },
    /// The operator enables or disables the user port.
    Port {
        /// Enabled after the command.
        enabled: bool,
    },
    /// Mains power lost: no telegrams, clock and registers survive.
    PowerFail,
    /// Mains power back.
    PowerRestore,
    /// A sub-meter is coupled on a channel.
    MbusCouple(MbusConfig),
    /// The sub-meter stops communicating; the channel shows valve 0 and the silent reading.
    MbusDecouple {
        /// Channel 1 to 4.
        channel: u8,
    },
    /// The channel is removed: no lines at all.
    MbusRemove {
        /// Channel 1 to 4.
        channel: u8,
    },
    /// The meter's clock is set off by `by_ms` from where it was.
    ClockJump {
        /// Jump, ms (negative = backwards).
        by_ms: i64,
    },
    /// Text message `0-0:96.13.0` (empty = none).
    TextMessage {
        /// Bytes of the message (printed as hex).
        bytes: Vec<u8>,
    },
    /// The sub-meter on `old_channel` is exchanged for `new` on another (free) channel; the
    /// old channel is left stale: it keeps printing its last capture (spec §5, dsmrreader-5).
    /// (An [`Command::MbusCouple`] on an occupied channel instead replaces in place.)
    MbusReplace {
        /// Channel of the device taken out, 1 to 4.
        old_channel: u8,
        /// The new device, on a channel different from `old_channel`.
        new: MbusConfig,
    },
    /// The operator sets a gas valve `0-n:24.4.0`; a valve other than connected stops the flow.
    GasValve {
        /// Channel 1 to 4 of a gas meter.
        channel: u8,
        /// New valve state.
        state: Breaker,
    },
    /// The tariff is imposed from outside instead of following the calendar (`Some(1)` day,
    /// `Some(2)` night), or handed back to the calendar (`None`). Used to replay a portal
    /// export whose Day/Night labels are the ground truth, whatever calendar made them.
    ForceTariff {
        /// The imposed tariff, or `None` for the calendar.
        tariff: Option<u8>,
    },
}

/// A command the meter refuses in its current state (e.g. the button on a connected meter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// What was refused and why.
    pub message: String,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandError {}

fn refuse<T>(message: impl Into<String>) -> Result<T, CommandError> {
    Err(CommandError {
        message: message.into(),
    })
}

/// A configuration the real meter cannot have (e.g. an S211 on 3x400V).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Which setting: a typed path into [`MeterConfig`] (displayed like `grid` or
    /// `mbus[2].equipment_id`), which a scenario maps back to the key it came from.
    pub field: ConfigField,
    /// What is wrong and what was expected.
    pub message: String,
}

/// A path into [`MeterConfig`] (or the start instant given to [`Meter::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigField {
    /// The start instant.
    Start,
    /// [`MeterConfig::grid`] (for the model).
    Grid,
    /// [`MeterConfig::equipment_id`].
    EquipmentId,
    /// [`MeterConfig::clock_offset_ms`].
    ClockOffset,
    /// Entry `index` of [`MeterConfig::history`].
    History {
        /// 0-based.
        index: usize,
    },
    /// [`MeterConfig::limiter_hw`].
    LimiterHw,
    /// [`MeterConfig::fuse_a`].
    FuseA,
    /// [`crate::Prepaid::price_ueur_per_kwh`].
    PrepaidPrice,
    /// [`crate::Prepaid::release_delay_ms`].
    PrepaidReleaseDelay,
    /// A field of device `index` of [`MeterConfig::mbus`].
    Mbus {
        /// 0-based.
        index: usize,
        /// Which field.
        field: MbusField,
    },
}

/// A field of an [`MbusConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MbusField {
    /// The device as a whole (e.g. one device too many).
    Device,
    /// [`MbusConfig::channel`].
    Channel,
    /// [`MbusConfig::kind`].
    Kind,
    /// [`MbusConfig::equipment_id`].
    EquipmentId,
    /// [`MbusConfig::capture_period_ms`].
    CapturePeriod,
    /// [`MbusConfig::capture_jitter_ms`].
    CaptureJitter,
}

impl fmt::Display for MbusField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MbusField::Device => "",
            MbusField::Channel => ".channel",
            MbusField::Kind => ".kind",
            MbusField::EquipmentId => ".equipment_id",
            MbusField::CapturePeriod => ".capture_period_ms",
            MbusField::CaptureJitter => ".capture_jitter_ms",
        })
    }
}

impl fmt::Display for ConfigField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigField::Start => f.write_str("start"),
            ConfigField::Grid => f.write_str("grid"),
            ConfigField::EquipmentId => f.write_str("equipment_id"),
            ConfigField::ClockOffset => f.write_str("clock_offset_ms"),
            ConfigField::History { index } => write!(f, "history[{index}]"),
            ConfigField::LimiterHw => f.write_str("limiter_hw"),
            ConfigField::FuseA => f.write_str("fuse_a"),
            ConfigField::PrepaidPrice => f.write_str("prepaid.price_ueur_per_kwh"),
            ConfigField::PrepaidReleaseDelay => f.write_str("prepaid.release_delay_ms"),
            ConfigField::Mbus { index, field } => write!(f, "mbus[{index}]{field}"),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Why the breaker last opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CutReason {
    /// [`Command::RemoteDisconnect`].
    Remote,
    /// Total import above `0-0:17.0.0`.
    Limiter,
    /// A phase current above `1-0:31.4.0`.
    Fuse,
    /// Prepaid credit exhausted.
    Prepaid,
}

/// Prepaid state for the truth file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrepaidState {
    /// Credit left, micro-euro (rounded down; exact value in `credit_ueur_mj_per_kwh`).
    pub credit_ueur: i64,
    /// Credit left, micro-euro x mJ/kWh (exact: imported mJ x price).
    pub credit_ueur_mj_per_kwh: i128,
    /// Price, micro-euro per kWh.
    pub price_ueur_per_kwh: i64,
    /// True instant at which the operator releases the meter after a top-up, if pending.
    pub release_at_ms: Option<i64>,
}

/// A serializable snapshot of everything the meter knows, for truth files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterState {
    /// True instant, ms since the epoch.
    pub true_ms: i64,
    /// Meter-clock instant (true + offset), ms since the epoch.
    pub meter_ms: i64,
    /// Meter clock minus true time, ms.
    pub clock_offset_ms: i64,
    /// Meter-clock local time as printed in `0-0:1.0.0`.
    pub meter_time: p1_wire::Tst,
    /// Import registers day/night, mJ (exact).
    pub import_mj: [u64; 2],
    /// Export registers day/night, mJ (exact).
    pub export_mj: [u64; 2],
    /// Import registers day/night, Wh (as printed: mJ / 3 600 000, truncated).
    pub import_wh: [u64; 2],
    /// Export registers day/night, Wh.
    pub export_wh: [u64; 2],
    /// Tariff in force, 1 day or 2 night.
    pub tariff: u8,
    /// Meter-clock instant of the next tariff change, if any.
    pub next_tariff_change_meter_ms: Option<i64>,
    /// Net import power `1-0:1.7.0`, W.
    pub import_w: u32,
    /// Net export power `1-0:2.7.0`, W.
    pub export_w: u32,
    /// L1..L3 as measured (S211: only L1 is meaningful).
    pub phases: [PhaseReadout; 3],
    /// Demand, peak and history.
    pub demand: DemandState,
    /// Breaker `0-0:96.3.10`.
    pub breaker: Breaker,
    /// Why the breaker last opened, until it is connected again.
    pub cut_reason: Option<CutReason>,
    /// `0-0:17.0.0`, hW.
    pub limiter_hw: u32,
    /// `1-0:31.4.0`, A.
    pub fuse_a: u32,
    /// Prepaid state, for a budget meter.
    pub prepaid: Option<PrepaidState>,
    /// User port enabled.
    pub port_enabled: bool,
    /// Mains power present.
    pub powered: bool,
    /// Text message bytes.
    pub message: Vec<u8>,
    /// M-Bus channels in channel order.
    pub mbus: Vec<MbusState>,
    /// The load the installation asks for (drawn only while connected and powered).
    pub load: Load,
}

#[derive(Debug, Clone)]
struct PrepaidRt {
    /// Micro-euro x mJ/kWh, so that one mJ at `price` costs exactly `price` units.
    credit: i128,
    price: i64,
    release_delay_ms: i64,
    release_at: Option<i64>,
}

/// Allocations of an old [`MeterState`] that [`Meter::snapshot_into`] fills again.
#[derive(Default)]
struct Reuse {
    history: Vec<p1_wire::HistoryEntry>,
    message: Vec<u8>,
    mbus: Vec<MbusState>,
}

/// The simulated meter.
#[derive(Debug, Clone)]
pub struct Meter {
    cfg: MeterConfig,
    now: i64,
    offset: i64,
    import_mj: [u64; 2],
    export_mj: [u64; 2],
    load: Load,
    tariff: u8,
    /// Meter-clock instant of the next tariff change.
    tariff_next: Option<i64>,
    /// A tariff imposed by [`Command::ForceTariff`], overriding the calendar.
    tariff_forced: Option<u8>,
    demand: DemandState,
    breaker: Breaker,
    cut_reason: Option<CutReason>,
    limiter_hw: u32,
    fuse_a: u32,
    prepaid: Option<PrepaidRt>,
    port_enabled: bool,
    powered: bool,
    message: Vec<u8>,
    /// Sorted by channel number.
    channels: Vec<Channel>,
}

/// The boundaries ahead of an instant, all in true ms.
struct Due {
    quarter: i64,
    month: i64,
    tariff: Option<i64>,
    /// Next capture of each channel, in `Meter::channels` order (channels are 1 to 4,
    /// each at most once, so four slots hold them all; an array keeps `due` free of
    /// allocation on the per-step path).
    captures: [Option<i64>; 4],
    release: Option<i64>,
    exhaustion: Option<i64>,
}

impl Due {
    fn min(&self) -> Option<i64> {
        [
            Some(self.quarter),
            Some(self.month),
            self.tariff,
            self.release,
            self.exhaustion,
        ]
        .into_iter()
        .chain(self.captures.iter().copied())
        .flatten()
        .min()
    }
}

/// Checks a configuration: the one place meter settings are checked.
fn validate(c: &MeterConfig) -> Result<(), ConfigError> {
    let err = |field: ConfigField, message: String| ConfigError { field, message };
    match (c.model, c.grid) {
        (Model::S211, Grid::OnePhase230) | (Model::T211, Grid::Delta230 | Grid::Star400) => {}
        (Model::S211, _) => {
            return Err(err(
                ConfigField::Grid,
                "an S211 is a single-phase meter: grid must be \"1x230V\" (use model \
                 \"T211\" for a three-phase connection)"
                    .into(),
            ));
        }
        (Model::T211, _) => {
            return Err(err(
                ConfigField::Grid,
                "a T211 is a three-phase meter: grid must be \"3x400V\" or \"3x230V\" \
                 (use model \"S211\" for a single-phase connection)"
                    .into(),
            ));
        }
    }
    mbus::check_equipment_id(&c.equipment_id, '1', "an electricity meter")
        .map_err(|m| err(ConfigField::EquipmentId, m))?;
    if c.history.len() > demand::HISTORY_LEN {
        return Err(err(
            ConfigField::History {
                index: demand::HISTORY_LEN,
            },
            "0-0:98.1.0 holds at most 13 months; this is the 14th entry".into(),
        ));
    }
    if c.limiter_hw > Readout::LIMITER_OFF_HW {
        return Err(err(
            ConfigField::LimiterHw,
            format!("expected 0..=9999 hW, found {}", c.limiter_hw),
        ));
    }
    if c.fuse_a > Readout::FUSE_OFF_A {
        return Err(err(
            ConfigField::FuseA,
            format!("expected 0..=999 A, found {}", c.fuse_a),
        ));
    }
    if let Some(p) = &c.prepaid {
        if p.price_ueur_per_kwh <= 0 {
            return Err(err(
                ConfigField::PrepaidPrice,
                format!(
                    "the price must be positive, found {} µEUR/kWh",
                    p.price_ueur_per_kwh
                ),
            ));
        }
        if p.release_delay_ms < 0 {
            return Err(err(
                ConfigField::PrepaidReleaseDelay,
                format!(
                    "the release delay cannot be negative, found {} ms",
                    p.release_delay_ms
                ),
            ));
        }
    }
    for (index, m) in c.mbus.iter().enumerate() {
        let at = |field| ConfigField::Mbus { index, field };
        if index == 4 {
            return Err(err(
                at(MbusField::Device),
                "a meter has at most 4 M-Bus channels; this is a 5th device".into(),
            ));
        }
        m.validate(c.firmware)
            .map_err(|(field, message)| err(at(field), message))?;
        if c.mbus[..index].iter().any(|o| o.channel == m.channel) {
            return Err(err(
                at(MbusField::Channel),
                format!("channel {} is already used by another device", m.channel),
            ));
        }
    }
    Ok(())
}

/// Current in cA of `p` W at `v_dv` dV and power factor `pf` per mille:
/// I = |P| / (V x pf) = |P| x 10 x 1000 / (dV x permille) A = that x 100 cA.
fn current_ca(p: i64, v_dv: u32, pf_permille: u32) -> u32 {
    if v_dv == 0 {
        return 0;
    }
    let pf = i128::from(pf_permille.clamp(1, 1000));
    let ca = i128::from(p).abs() * 1_000_000 / (i128::from(v_dv) * pf);
    u32::try_from(ca).unwrap_or(u32::MAX)
}

/// The L2 line current of a delta grid, cA, from the L1 and L3 line currents `i1`, `i3`
/// (cA) whose phasors are 60 degrees apart, or 120 degrees when `opposite` (one element
/// imports, the other exports): floor(sqrt(i1² + i3² ± i1·i3)). See [`Meter::currents`].
fn delta_return_ca(i1: u32, i3: u32, opposite: bool) -> u32 {
    let (a, b) = (u128::from(i1), u128::from(i3));
    let squares = a * a + b * b;
    // a² + b² - ab >= 0 for all a, b (it is ((a - b)² + a² + b²) / 2).
    let sum = if opposite {
        squares - a * b
    } else {
        squares + a * b
    };
    u32::try_from(sum.isqrt()).unwrap_or(u32::MAX)
}

fn clamp_u32(x: i128) -> u32 {
    u32::try_from(x.max(0)).unwrap_or(u32::MAX)
}

fn clamp_u64(x: i128) -> u64 {
    u64::try_from(x.max(0)).unwrap_or(u64::MAX)
}

impl Meter {
    /// The configuration the meter was built with.
    pub fn config(&self) -> &MeterConfig {
        &self.cfg
    }

    /// A meter configured by `config`, starting at `start` with no load.
    ///
    /// M-Bus devices of the configuration are taken to have been running: each channel
    /// starts with its latest scheduled capture at or before `start`, showing
    /// `initial_dm3`. A prepaid meter with no credit starts disconnected. The running
    /// quarter's demand starts at 0; a driver that knows the load was already running
    /// calls [`Meter::assume_load_since_quarter_start`] after its first
    /// [`Meter::set_load`].
    pub fn new(config: MeterConfig, start: SimTime) -> Result<Meter, ConfigError> {
        validate(&config)?;
        let in_range = |t: i64| (MIN_TIME.0..MAX_TIME.0).contains(&t);
        if !in_range(start.0) {
            return Err(ConfigError {
                field: ConfigField::Start,
                message: format!("expected an instant in 1970..2100, found {} ms", start.0),
            });
        }
        if !start
            .0
            .checked_add(config.clock_offset_ms)
            .is_some_and(in_range)
        {
            return Err(ConfigError {
                field: ConfigField::ClockOffset,
                message: format!(
                    "the meter clock must read a time in 1970..2100, offset {} ms does not",
                    config.clock_offset_ms
                ),
            });
        }
        let now = start.0;
        let offset = config.clock_offset_ms;
        let m = now.saturating_add(offset);
        let demand = DemandState {
            quarter_start_meter_ms: demand::quarter_start(m),
            quarter_import_mj: 0,
            current_w: 0,
            peak: config.month_peak,
            month_start: SimTime(month_start_containing(m)).tst(),
            next_month_meter_ms: month_start_after(m),
            history: config.history.clone(),
        };
        let mut channels: Vec<Channel> = config
            .mbus
            .iter()
            .map(|c| Channel::new(c.clone(), now, offset, true))
            .collect();
        channels.sort_by_key(|c| c.cfg.channel);
        let prepaid = config.prepaid.as_ref().map(|p| PrepaidRt {
            credit: i128::from(p.credit_ueur) * MJ_PER_KWH,
            price: p.price_ueur_per_kwh,
            release_delay_ms: p.release_delay_ms,
            release_at: None,
        });
        let mut meter = Meter {
            tariff: tariff::tariff_at_ms(&config.tariff, m),
            tariff_next: tariff::next_change(&config.tariff, m),
            tariff_forced: None,
            import_mj: config.import_wh.map(|wh| wh.saturating_mul(MJ_PER_WH)),
            export_mj: config.export_wh.map(|wh| wh.saturating_mul(MJ_PER_WH)),
            load: Load::default(),
            demand,
            breaker: Breaker::Connected,
            cut_reason: None,
            limiter_hw: config.limiter_hw,
            fuse_a: config.fuse_a,
            prepaid,
            port_enabled: config.port_enabled,
            powered: true,
            message: Vec::new(),
            channels,
            now,
            offset,
            cfg: config,
        };
        meter.check_protection();
        Ok(meter)
    }

    /// The instant the meter has been advanced to.
    pub fn now(&self) -> SimTime {
        SimTime(self.now)
    }

    /// The meter clock's instant (true time plus the clock offset).
    pub fn meter_time(&self) -> SimTime {
        SimTime(self.now.saturating_add(self.offset))
    }

    /// Integrates the current load up to `now` (>= [`Meter::now`]), handling every
    /// boundary in between (quarter, tariff, month, captures). An instant before
    /// [`Meter::now`] is ignored: simulated time never runs backwards; time stops at
    /// [`MAX_TIME`] (true and meter clock).
    pub fn advance_to(&mut self, now: SimTime) {
        let limit = MAX_TIME.0.min(MAX_TIME.0.saturating_sub(self.offset));
        let target = now.0.min(limit);
        while self.now < target {
            let due = self.due();
            let next = due.min().map_or(target, |d| d.min(target));
            // Every deadline lies after `self.now` by construction; the guard keeps a
            // broken invariant from looping forever.
            let next = next.max(self.now.saturating_add(1));
            self.integrate(next - self.now);
            self.now = next;
            self.fire(&due, next);
        }
    }

    /// Takes the load in force to have been running since the running quarter began on
    /// the meter clock: the quarter's demand accumulator (`1-0:1.4.0`) is set to the
    /// import that load would have brought since the quarter's start, as if the meter had
    /// been measuring it all along. Nothing else changes: the energy registers, prepaid
    /// credit and M-Bus indexes are given at the start and stay as they are.
    ///
    /// A driver calls this once, right after the initial [`Meter::set_load`] at the start
    /// instant: a run starting mid-quarter then does not start `1-0:1.4.0` from 0, so that
    /// partial quarter cannot become a too-small (or, worse, the month's) peak. A meter
    /// that draws nothing (breaker open, no mains) or exports pre-rolls nothing.
    pub fn assume_load_since_quarter_start(&mut self) {
        let m = self.now.saturating_add(self.offset);
        let elapsed = m.saturating_sub(self.demand.quarter_start_meter_ms).max(0);
        let import_w = self.net_w().max(0);
        let mj = clamp_u64(import_w.saturating_mul(i128::from(elapsed)));
        self.demand.quarter_import_mj = mj;
        self.demand.current_w = demand::demand_w(mj);
    }

    /// Advances to `now`, then makes `load` the installation's demand from `now` on
    /// (the limiter may trip at once).
    pub fn set_load(&mut self, now: SimTime, load: &Load) {
        self.advance_to(now);
        self.load = load.clone();
        self.check_protection();
    }

    /// Advances to `now`, then applies `cmd`. A refused command changes nothing (beyond
    /// the advance). While mains power is off only [`Command::PowerRestore`] and
    /// [`Command::TopUp`] (an account operation) are accepted.
    pub fn apply(&mut self, now: SimTime, cmd: Command) -> Result<(), CommandError> {
        self.advance_to(now);
        if !self.powered && !matches!(cmd, Command::PowerRestore | Command::TopUp { .. }) {
            return refuse(format!("{cmd:?} refused: the meter has no mains power"));
        }
        self.execute(cmd)?;
        self.check_protection();
        Ok(())
    }

    /// The next instant after [`Meter::now`] at which the meter changes on its own.
    pub fn next_deadline(&self) -> Option<SimTime> {
        self.due().min().map(SimTime)
    }

    /// The telegram content at [`Meter::now`], or `None` while the line is silent
    /// (port disabled, power failure). It is the wire form ([`Readout::wire_form`]):
    /// exactly what decoding the telegram gives back, so values the firmware does not
    /// print read 0 or `None` (per-phase power before 50215, demand before 50217) and
    /// 50213 currents are whole amperes. [`Meter::state`] keeps the exact values.
    pub fn readout(&self) -> Option<Readout> {
        self.readout_of(&self.measure(), None)
    }

    /// [`Meter::readout`] and [`Meter::state`] at once, from one measurement: what a
    /// driver needs at each telegram instant.
    pub fn snapshot(&self) -> (Option<Readout>, MeterState) {
        let measured = self.measure();
        let readout = self.readout_of(&measured, None);
        (readout, self.state_of(&measured, Reuse::default()))
    }

    /// [`Meter::snapshot`] into `readout` and `state`, reusing their strings and vectors:
    /// once they have held a snapshot of this meter, a steady-state call allocates nothing.
    pub fn snapshot_into(&self, readout: &mut Option<Readout>, state: &mut MeterState) {
        let measured = self.measure();
        *readout = self.readout_of(&measured, readout.take());
        let reuse = Reuse {
            history: std::mem::take(&mut state.demand.history),
            message: std::mem::take(&mut state.message),
            mbus: std::mem::take(&mut state.mbus),
        };
        *state = self.state_of(&measured, reuse);
    }

    /// The readout from `measured` ([`Meter::measure`] at [`Meter::now`]), built in the
    /// allocations of `old` when there is one.
    fn readout_of(&self, measured: &Measured, old: Option<Readout>) -> Option<Readout> {
        if !self.port_enabled || !self.powered {
            return None;
        }
        let Measured {
            import_w,
            export_w,
            ref phases,
            meter_time: time,
        } = *measured;
        let firmware = self.cfg.firmware;
        let (mut equipment_id, mut phase_v, mut message, mut mbus, mut history) = match old {
            Some(r) => (
                r.equipment_id,
                r.phases,
                r.message,
                r.mbus,
                r.demand.map(|d| d.history).unwrap_or_default(),
            ),
            None => Default::default(),
        };
        equipment_id.clone_from(&self.cfg.equipment_id);
        phase_v.clear();
        phase_v.extend_from_slice(&phases[..self.cfg.model.phases()]);
        message.clone_from(&self.message);
        let channels = self
            .channels
            .iter()
            .filter(|c| firmware.has_water() || c.cfg.kind != MbusKind::Water);
        let mut n = 0;
        for c in channels {
            match mbus.get_mut(n) {
                Some(slot) => *slot = c.readout_with(std::mem::take(&mut slot.equipment_id)),
                None => mbus.push(c.readout_with(String::new())),
            }
            n += 1;
        }
        mbus.truncate(n);
        let demand = firmware.has_demand().then(|| {
            history.clone_from(&self.demand.history);
            Demand {
                current_w: self.demand.current_w,
                peak: self.demand.peak_readout(self.cfg.empty_peak),
                history,
            }
        });
        let mut meant = Readout {
            model: self.cfg.model,
            version: firmware,
            equipment_id,
            time,
            import_wh: self.import_mj.map(|mj| mj / MJ_PER_WH),
            export_wh: self.export_mj.map(|mj| mj / MJ_PER_WH),
            tariff: self.tariff,
            demand,
            import_w,
            export_w,
            phases: phase_v,
            breaker: self.breaker,
            limiter_hw: self.limiter_hw,
            fuse_a: self.fuse_a,
            message,
            mbus,
        };
        meant.make_wire_form();
        Some(meant)
    }

    /// The breaker state.
    pub fn breaker(&self) -> Breaker {
        self.breaker
    }

    /// Exact state for the truth file.
    pub fn state(&self) -> MeterState {
        self.state_of(&self.measure(), Reuse::default())
    }

    /// The state from `measured` ([`Meter::measure`] at [`Meter::now`]), in the
    /// allocations of `reuse`.
    fn state_of(&self, measured: &Measured, reuse: Reuse) -> MeterState {
        let Measured {
            import_w,
            export_w,
            phases,
            meter_time,
        } = *measured;
        let Reuse {
            mut history,
            mut message,
            mut mbus,
        } = reuse;
        history.clone_from(&self.demand.history);
        message.clone_from(&self.message);
        mbus.truncate(self.channels.len());
        for (i, c) in self.channels.iter().enumerate() {
            match mbus.get_mut(i) {
                Some(slot) => {
                    let id = std::mem::take(&mut slot.equipment_id);
                    *slot = c.state_with(self.now, self.powered, id);
                }
                None => mbus.push(c.state_with(self.now, self.powered, String::new())),
            }
        }
        MeterState {
            true_ms: self.now,
            meter_ms: self.now.saturating_add(self.offset),
            clock_offset_ms: self.offset,
            meter_time,
            import_mj: self.import_mj,
            export_mj: self.export_mj,
            import_wh: self.import_mj.map(|mj| mj / MJ_PER_WH),
            export_wh: self.export_mj.map(|mj| mj / MJ_PER_WH),
            tariff: self.tariff,
            next_tariff_change_meter_ms: self.tariff_next,
            import_w,
            export_w,
            phases,
            demand: DemandState {
                history,
                ..self.demand
            },
            breaker: self.breaker,
            cut_reason: self.cut_reason,
            limiter_hw: self.limiter_hw,
            fuse_a: self.fuse_a,
            prepaid: self.prepaid.as_ref().map(|p| PrepaidState {
                credit_ueur: i64::try_from(p.credit.div_euclid(MJ_PER_KWH)).unwrap_or(i64::MIN),
                credit_ueur_mj_per_kwh: p.credit,
                price_ueur_per_kwh: p.price,
                release_at_ms: p.release_at,
            }),
            port_enabled: self.port_enabled,
            powered: self.powered,
            message,
            mbus,
            load: self.load.clone(),
        }
    }

    /// Whether the installation draws power: mains present and breaker closed.
    fn drawing(&self) -> bool {
        self.powered && self.breaker == Breaker::Connected
    }

    /// Per-phase active power as the meter measures it, W. On 3x230V (delta, Aron
    /// measurement with L2 as the common reference) the meter has two measuring elements:
    /// L1 (current I1, voltage U12) and L3 (current I3, voltage U32), so it shows no L2
    /// power. `Load::phases[0]` and `[2]` are then the loads connected L1-L2 and L3-L2. A
    /// delta grid has no load "on L2" (scenario files refuse one); a library caller's
    /// `phases[1]` is still metered, attributed half to the L1 element and half to the L3
    /// element, so the totals stay the algebraic sum of the phases shown (as in
    /// p1dongel-1) and the L1/L3 currents follow the same split ([`Meter::currents`]).
    fn phase_powers(&self) -> [i64; 3] {
        if !self.drawing() {
            return [0; 3];
        }
        let p = self.load.phases.map(|ph| ph.power_w);
        match (self.cfg.model, self.cfg.grid) {
            (Model::S211, _) => [p[0], 0, 0],
            (Model::T211, Grid::Delta230) => {
                let half = p[1] / 2;
                [
                    p[0].saturating_add(half),
                    0,
                    p[2].saturating_add(p[1] - half),
                ]
            }
            (Model::T211, _) => p,
        }
    }

    /// Net power (import positive), W.
    fn net_w(&self) -> i128 {
        self.phase_powers().iter().map(|&p| i128::from(p)).sum()
    }

    /// Current of each phase, cA.
    ///
    /// On 1x230V and 3x400V each phase's current is its own load's: I = |P| / (V x pf).
    ///
    /// On 3x230V (delta, no neutral) L1 and L3 carry the currents of their measuring
    /// elements (the element power of [`Meter::phase_powers`] at that phase's voltage and
    /// power factor), and L2 is the common return of both: I2 = -(I1 + I3) as phasors
    /// (Kirchhoff at the L2 terminal). The loads sit between L1-L2 and L3-L2, whose line
    /// voltages U12 and U32 are 60 degrees apart; assuming both loads have about the same
    /// power factor, the element currents are 60 degrees apart too, and
    /// |I2| = sqrt(I1² + I3² + I1·I3). When one element imports and the other exports
    /// (PV behind one pair), one current is reversed, the angle becomes 120 degrees and
    /// the cross term changes sign: |I2| = sqrt(I1² + I3² - I1·I3). The real 3x230V
    /// captures agree with this within their unknown power factors (p1dongel-1: 1.00 A
    /// imported on L1, 7.97 A exported on L3, 7.74 A on L2; the model gives 7.52 A, the
    /// same-sign formula 8.51 A). I2 is computed from the truncated cA values of I1 and
    /// I3 with an integer square root (truncated).
    fn currents(&self) -> [u32; 3] {
        if !self.drawing() {
            return [0; 3];
        }
        let ph = &self.load.phases;
        let c = |p: i64, i: usize| current_ca(p, ph[i].voltage_dv, ph[i].power_factor_permille);
        match (self.cfg.model, self.cfg.grid) {
            (Model::S211, _) => [c(ph[0].power_w, 0), 0, 0],
            (Model::T211, Grid::Delta230) => {
                let p = self.phase_powers();
                let (i1, i3) = (c(p[0], 0), c(p[2], 2));
                let opposite = (p[0] > 0 && p[2] < 0) || (p[0] < 0 && p[2] > 0);
                [i1, delta_return_ca(i1, i3, opposite), i3]
            }
            (Model::T211, _) => [
                c(ph[0].power_w, 0),
                c(ph[1].power_w, 1),
                c(ph[2].power_w, 2),
            ],
        }
    }

    /// Totals and per-phase values as measured now.
    fn measure(&self) -> Measured {
        let powers = self.phase_powers();
        let currents = self.currents();
        let net = self.net_w();
        let mut phases = [PhaseReadout::default(); 3];
        for i in 0..3 {
            let shown = !matches!(
                (self.cfg.model, self.cfg.grid, i),
                (Model::S211, _, 1 | 2) | (Model::T211, Grid::Delta230, 1)
            );
            let p = i128::from(powers[i]);
            phases[i] = PhaseReadout {
                import_w: clamp_u32(p),
                export_w: clamp_u32(-p),
                voltage_dv: if shown {
                    self.load.phases[i].voltage_dv
                } else {
                    0
                },
                current_ca: currents[i],
            };
        }
        Measured {
            import_w: clamp_u32(net),
            export_w: clamp_u32(-net),
            phases,
            meter_time: self.meter_time().tst(),
        }
    }

    fn refresh_tariff(&mut self) {
        if let Some(forced) = self.tariff_forced {
            self.tariff = forced;
            self.tariff_next = None;
            return;
        }
        let m = self.now.saturating_add(self.offset);
        self.tariff = tariff::tariff_at_ms(&self.cfg.tariff, m);
        self.tariff_next = tariff::next_change(&self.cfg.tariff, m);
    }

    fn due(&self) -> Due {
        let off = self.offset;
        let quarter = self
            .demand
            .quarter_start_meter_ms
            .saturating_add(QUARTER_MS)
            .saturating_sub(off);
        let month = self.demand.next_month_meter_ms.saturating_sub(off);
        let tariff = self.tariff_next.map(|t| t.saturating_sub(off));
        let mut captures = [None; 4];
        for (slot, c) in captures.iter_mut().zip(&self.channels) {
            *slot = (self.powered && c.captures()).then(|| c.next_capture_after(self.now));
        }
        let release = self
            .prepaid
            .as_ref()
            .and_then(|p| p.release_at)
            .filter(|_| self.powered)
            .map(|t| t.max(self.now.saturating_add(1)));
        let exhaustion = self.prepaid.as_ref().and_then(|p| {
            let import = self.net_w().max(0);
            let rate = import.saturating_mul(i128::from(p.price));
            (self.drawing() && rate > 0 && p.credit > 0).then(|| {
                let ms = p.credit.saturating_add(rate - 1) / rate;
                let ms = i64::try_from(ms).unwrap_or(i64::MAX);
                self.now.saturating_add(ms)
            })
        });
        Due {
            quarter,
            month,
            tariff,
            captures,
            release,
            exhaustion,
        }
    }

    /// Integrates the constant load over `dt` ms, all in the tariff and quarter in force.
    fn integrate(&mut self, dt: i64) {
        let net = self.net_w();
        let dt128 = i128::from(dt);
        let import_mj = clamp_u64(net.saturating_mul(dt128));
        let export_mj = clamp_u64(net.saturating_neg().saturating_mul(dt128));
        let ix = if self.tariff == tariff::DAY { 0 } else { 1 };
        self.import_mj[ix] = self.import_mj[ix].saturating_add(import_mj);
        self.export_mj[ix] = self.export_mj[ix].saturating_add(export_mj);
        self.demand.add_import(import_mj);
        if let Some(p) = &mut self.prepaid {
            p.credit = p
                .credit
                .saturating_sub(i128::from(import_mj).saturating_mul(i128::from(p.price)));
        }
        for ch in &mut self.channels {
            let flow = usize::from(ch.cfg.channel)
                .checked_sub(1)
                .and_then(|i| self.load.mbus_ml_per_h.get(i))
                .copied()
                .unwrap_or(0);
            ch.integrate(flow, dt);
        }
    }

    /// Handles every boundary that falls at `t` (quarter before month, so the quarter
    /// ending at midnight on the 1st counts for the month it belongs to).
    fn fire(&mut self, due: &Due, t: i64) {
        let m = t.saturating_add(self.offset);
        if due.quarter <= t {
            self.demand
                .close_quarter(self.cfg.peak_stamp, demand::quarter_start(m));
        }
        if due.month <= t {
            self.roll_months(m);
        }
        if due.tariff.is_some_and(|d| d <= t) {
            self.refresh_tariff();
        }
        for (ch, when) in self.channels.iter_mut().zip(&due.captures) {
            if when.is_some_and(|d| d <= t) {
                ch.capture(t, self.offset);
            }
        }
        if due.release.is_some_and(|d| d <= t) {
            self.release_now();
        }
        self.check_protection();
    }

    /// Pushes one history entry per month start at or before meter instant `m`.
    fn roll_months(&mut self, m: i64) {
        while m >= self.demand.next_month_meter_ms {
            let at = self.demand.next_month_meter_ms;
            self.demand
                .close_month(SimTime(at).tst(), self.cfg.keep_stale_history_head);
            let next = month_start_after(at);
            if next <= at {
                break;
            }
            self.demand.next_month_meter_ms = next;
        }
    }

    /// The operator's pending release after a top-up takes effect.
    fn release_now(&mut self) {
        if let Some(p) = &mut self.prepaid {
            p.release_at = None;
        }
        if self.breaker == Breaker::Disconnected {
            self.breaker = Breaker::ReadyForReconnection;
        }
    }

    /// Opens the breaker if the prepaid credit is gone, the import exceeds the limiter or
    /// a phase current exceeds the fuse threshold. Thresholds trip instantly (no delay is
    /// documented); after a limiter or fuse trip the meter is at once ready for
    /// reconnection (2), so the customer can reconnect with the button once the load is
    /// reduced (Fluvius customer manual); after a prepaid cut it stays at 0 until a
    /// top-up and the operator's release.
    fn check_protection(&mut self) {
        if !self.drawing() {
            return;
        }
        if self.prepaid.as_ref().is_some_and(|p| p.credit <= 0) {
            self.breaker = Breaker::Disconnected;
            self.cut_reason = Some(CutReason::Prepaid);
            return;
        }
        if self.limiter_hw != Readout::LIMITER_OFF_HW
            && self.net_w() > i128::from(self.limiter_hw) * 100
        {
            self.breaker = Breaker::ReadyForReconnection;
            self.cut_reason = Some(CutReason::Limiter);
            return;
        }
        if self.fuse_a != Readout::FUSE_OFF_A && self.over_fuse() {
            self.breaker = Breaker::ReadyForReconnection;
            self.cut_reason = Some(CutReason::Fuse);
        }
    }

    /// Whether a phase's exact current (not the printed, truncated cA) exceeds the fuse
    /// threshold: |P| x 10^6 / (dV x pf) > A x 100, compared without division. On a delta
    /// grid L1 and L3 carry their elements' currents and L2 their return (see
    /// [`Meter::currents`]), compared squared over a common denominator; should that
    /// overflow (absurd loads), the truncated cA value of L2 decides.
    fn over_fuse(&self) -> bool {
        let limit = i128::from(self.fuse_a) * 100;
        // The exact current of `p` W on phase `i` as the fraction n / d cA (None without
        // voltage: no current is computed then).
        let frac = |p: i64, i: usize| {
            let ph = &self.load.phases[i];
            let pf = i128::from(ph.power_factor_permille.clamp(1, 1000));
            (ph.voltage_dv != 0).then(|| {
                (
                    i128::from(p).abs() * 1_000_000,
                    i128::from(ph.voltage_dv) * pf,
                )
            })
        };
        let over = |(n, d): (i128, i128)| n > limit * d;
        let p = self.phase_powers();
        match (self.cfg.model, self.cfg.grid) {
            (Model::S211, _) => frac(p[0], 0).is_some_and(over),
            (Model::T211, Grid::Delta230) => {
                let (f1, f3) = (frac(p[0], 0), frac(p[2], 2));
                if f1.is_some_and(over) || f3.is_some_and(over) {
                    return true;
                }
                let ((n1, d1), (n3, d3)) = (f1.unwrap_or((0, 1)), f3.unwrap_or((0, 1)));
                let opposite = (p[0] > 0 && p[2] < 0) || (p[0] < 0 && p[2] > 0);
                // I2² > limit² with I1 = n1/d1, I3 = n3/d3, times (d1 d3)²:
                // x² + y² ± xy > z², x = n1 d3, y = n3 d1, z = limit d1 d3.
                let exact = || -> Option<bool> {
                    let x = n1.checked_mul(d3)?;
                    let y = n3.checked_mul(d1)?;
                    let z = limit.checked_mul(d1)?.checked_mul(d3)?;
                    let squares = x.checked_mul(x)?.checked_add(y.checked_mul(y)?)?;
                    let xy = x.checked_mul(y)?;
                    let lhs = if opposite {
                        squares - xy
                    } else {
                        squares.checked_add(xy)?
                    };
                    Some(lhs > z.checked_mul(z)?)
                };
                exact().unwrap_or_else(|| i128::from(self.currents()[1]) > limit)
            }
            (Model::T211, _) => (0..3).any(|i| frac(p[i], i).is_some_and(over)),
        }
    }

    fn connect(&mut self) {
        self.breaker = Breaker::Connected;
        self.cut_reason = None;
        if let Some(p) = &mut self.prepaid {
            p.release_at = None;
        }
    }

    fn channel_index(&self, channel: u8) -> Result<usize, CommandError> {
        match self.channels.iter().position(|c| c.cfg.channel == channel) {
            Some(i) => Ok(i),
            None => refuse(format!("no M-Bus device on channel {channel}")),
        }
    }

    fn check_mbus(&self, cfg: &MbusConfig) -> Result<(), CommandError> {
        cfg.validate(self.cfg.firmware)
            .map_err(|(field, message)| CommandError {
                message: format!("mbus{field}: {message}"),
            })
    }

    fn insert_channel(&mut self, cfg: MbusConfig) {
        let ch = Channel::new(cfg, self.now, self.offset, false);
        let pos = self
            .channels
            .iter()
            .position(|c| c.cfg.channel > ch.cfg.channel)
            .unwrap_or(self.channels.len());
        self.channels.insert(pos, ch);
    }

    // Long: one arm per `Command`, each the meter's documented reaction in its state;
    // the match is the command table, read in one place.
    fn execute(&mut self, cmd: Command) -> Result<(), CommandError> {
        match cmd {
            Command::RemoteDisconnect => {
                if self.breaker == Breaker::Disconnected {
                    return refuse("RemoteDisconnect refused: the breaker is already open (0)");
                }
                self.breaker = Breaker::Disconnected;
                self.cut_reason = Some(CutReason::Remote);
                if let Some(p) = &mut self.prepaid {
                    p.release_at = None;
                }
            }
            Command::Release => {
                if self.breaker != Breaker::Disconnected {
                    return refuse(format!(
                        "Release refused: only a disconnected meter (0) can be released, breaker is {}",
                        self.breaker.code()
                    ));
                }
                self.release_now();
            }
            Command::RemoteConnect => {
                if self.breaker == Breaker::Connected {
                    return refuse("RemoteConnect refused: the breaker is already connected (1)");
                }
                self.connect();
            }
            Command::Button { held_ms } => {
                if held_ms < 0 {
                    return refuse(format!("Button refused: negative hold time {held_ms} ms"));
                }
                match self.breaker {
                    Breaker::Connected => {
                        return refuse("Button refused: the meter is already connected (1)");
                    }
                    Breaker::Disconnected => {
                        return refuse(
                            "Button refused: the meter is disconnected (0) and not released by the operator",
                        );
                    }
                    Breaker::ReadyForReconnection => {
                        // A shorter press is a real, harmless event: nothing happens.
                        if held_ms >= BUTTON_HOLD_MS {
                            self.connect();
                        }
                    }
                }
            }
            Command::SetLimiter { hw } => {
                if hw > Readout::LIMITER_OFF_HW {
                    return refuse(format!(
                        "SetLimiter refused: expected 0..=9999 hW, found {hw}"
                    ));
                }
                self.limiter_hw = hw;
            }
            Command::SetFuse { a } => {
                if a > Readout::FUSE_OFF_A {
                    return refuse(format!("SetFuse refused: expected 0..=999 A, found {a}"));
                }
                self.fuse_a = a;
            }
            Command::TopUp { ueur } => {
                let now = self.now;
                let cut_by_prepaid = self.breaker == Breaker::Disconnected
                    && self.cut_reason == Some(CutReason::Prepaid);
                let Some(p) = &mut self.prepaid else {
                    return refuse("TopUp refused: this is not a prepaid meter");
                };
                if ueur <= 0 {
                    return refuse(format!(
                        "TopUp refused: expected a positive amount, found {ueur}"
                    ));
                }
                p.credit = p
                    .credit
                    .saturating_add(i128::from(ueur).saturating_mul(MJ_PER_KWH));
                if cut_by_prepaid && p.credit > 0 && p.release_at.is_none() {
                    p.release_at = Some(now.saturating_add(p.release_delay_ms));
                }
                if p.release_at.is_some_and(|t| t <= now) && self.powered {
                    self.release_now();
                }
            }
            Command::Port { enabled } => self.port_enabled = enabled,
            Command::PowerFail => self.powered = false,
            Command::PowerRestore => {
                if self.powered {
                    return refuse("PowerRestore refused: mains power is present");
                }
                self.powered = true;
                let now = self.now;
                if self
                    .prepaid
                    .as_ref()
                    .and_then(|p| p.release_at)
                    .is_some_and(|t| t <= now)
                {
                    self.release_now();
                }
            }
            Command::MbusCouple(cfg) => {
                self.check_mbus(&cfg)?;
                if let Ok(i) = self.channel_index(cfg.channel) {
                    self.channels.remove(i);
                }
                self.insert_channel(cfg);
            }
            Command::MbusDecouple { channel } => {
                let i = self.channel_index(channel)?;
                if self.channels[i].status == ChannelStatus::Decoupled {
                    return refuse(format!(
                        "MbusDecouple refused: channel {channel} is already decoupled"
                    ));
                }
                self.channels[i].status = ChannelStatus::Decoupled;
            }
            Command::MbusRemove { channel } => {
                let i = self.channel_index(channel)?;
                self.channels.remove(i);
            }
            Command::MbusReplace { old_channel, new } => {
                let i = self.channel_index(old_channel)?;
                if self.channels[i].status != ChannelStatus::Live {
                    return refuse(format!(
                        "MbusReplace refused: channel {old_channel} has no live device to replace"
                    ));
                }
                self.check_mbus(&new)?;
                if self.channel_index(new.channel).is_ok() {
                    return refuse(format!(
                        "MbusReplace refused: channel {} is occupied; the new device needs a free channel",
                        new.channel
                    ));
                }
                self.channels[i].status = ChannelStatus::Stale;
                self.insert_channel(new);
            }
            Command::GasValve { channel, state } => {
                let i = self.channel_index(channel)?;
                let ch = &mut self.channels[i];
                if ch.cfg.kind != MbusKind::Gas {
                    return refuse(format!(
                        "GasValve refused: channel {channel} is not a gas meter"
                    ));
                }
                if ch.status != ChannelStatus::Live {
                    return refuse(format!(
                        "GasValve refused: channel {channel} does not communicate"
                    ));
                }
                ch.valve = state;
            }
            Command::ClockJump { by_ms } => {
                let offset = self.offset.saturating_add(by_ms);
                let meter = self.now.saturating_add(offset);
                if !(MIN_TIME.0..MAX_TIME.0).contains(&meter) {
                    return refuse(format!(
                        "ClockJump refused: the meter clock would leave 1970..2100 ({meter} ms)"
                    ));
                }
                self.offset = offset;
                self.after_clock_jump();
            }
            Command::TextMessage { bytes } => {
                if bytes.len() > MAX_MESSAGE_BYTES {
                    return refuse(format!(
                        "TextMessage refused: at most {MAX_MESSAGE_BYTES} bytes, found {}",
                        bytes.len()
                    ));
                }
                self.message = bytes;
            }
            Command::ForceTariff { tariff } => {
                if let Some(t) = tariff.filter(|t| ![tariff::DAY, tariff::NIGHT].contains(t)) {
                    return refuse(format!(
                        "ForceTariff refused: tariff must be 1 (day) or 2 (night), found {t}"
                    ));
                }
                self.tariff_forced = tariff;
                self.refresh_tariff();
            }
        }
        Ok(())
    }

    /// A clock set that leaves the running quarter ends it early (its demand so far
    /// competes for the peak, stamped from the old quarter); a forward set across month
    /// starts pushes one history entry per month start crossed; a backward set across a
    /// month start pushes nothing and keeps the running peak (a real meter's behaviour is
    /// unknown). Tariff follows the new clock.
    fn after_clock_jump(&mut self) {
        let m = self.now.saturating_add(self.offset);
        let q = demand::quarter_start(m);
        if q != self.demand.quarter_start_meter_ms {
            self.demand.close_quarter(self.cfg.peak_stamp, q);
        }
        self.roll_months(m);
        self.demand.next_month_meter_ms = month_start_after(m);
        self.demand.month_start = SimTime(month_start_containing(m)).tst();
        self.refresh_tariff();
    }
}
