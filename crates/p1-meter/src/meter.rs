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
use crate::time::{LocalDay, month_start_after, month_start_containing};
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

/// A readout that [`Meter::readout_into`] fills entirely: the values are placeholders.
fn blank_readout() -> Readout {
    Readout {
        model: Model::S211,
        version: p1_wire::Version::V50217,
        equipment_id: String::new(),
        time: p1_wire::Tst::INVALID,
        import_wh: [0; 2],
        export_wh: [0; 2],
        tariff: 0,
        demand: None,
        import_w: 0,
        export_w: 0,
        phases: Vec::new(),
        breaker: Breaker::Connected,
        limiter_hw: 0,
        fuse_a: 0,
        message: Vec::new(),
        mbus: Vec::new(),
    }
}

/// A state that [`Meter::state_into`] fills entirely: the values are placeholders.
fn blank_state() -> MeterState {
    MeterState {
        true_ms: 0,
        meter_ms: 0,
        clock_offset_ms: 0,
        meter_time: p1_wire::Tst::INVALID,
        import_mj: [0; 2],
        export_mj: [0; 2],
        import_wh: [0; 2],
        export_wh: [0; 2],
        tariff: 0,
        next_tariff_change_meter_ms: None,
        import_w: 0,
        export_w: 0,
        phases: [PhaseReadout::default(); 3],
        demand: DemandState {
            quarter_start_meter_ms: 0,
            quarter_import_mj: 0,
            current_w: 0,
            peak: None,
            month_start: p1_wire::Tst::INVALID,
            next_month_meter_ms: 0,
            history: Vec::new(),
        },
        breaker: Breaker::Connected,
        cut_reason: None,
        limiter_hw: 0,
        fuse_a: 0,
        prepaid: None,
        port_enabled: false,
        powered: false,
        message: Vec::new(),
        mbus: Vec::new(),
        load: Load::default(),
    }
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
    /// The meter clock's local day, kept covering the meter instant wherever time moves
    /// (a cache: [`LocalDay::tst_or_zone`] falls back to the zone outside it).
    clock: LocalDay,
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
    /// The earliest boundary (there always is one: the quarter's end). An absent boundary
    /// counts as `i64::MAX`, which never lowers a minimum that includes the quarter.
    fn min(&self) -> i64 {
        let or_max = |t: Option<i64>| t.unwrap_or(i64::MAX);
        let mut min = self
            .quarter
            .min(self.month)
            .min(or_max(self.tariff))
            .min(or_max(self.release))
            .min(or_max(self.exhaustion));
        for &c in &self.captures {
            min = min.min(or_max(c));
        }
        min
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
    let pf = pf_permille.clamp(1, 1000);
    // Both divisions are floors of the same non-negative fraction: the 64-bit one, taken
    // whenever its numerator fits, spares the 128-bit division on the per-telegram path.
    if let Some(n) = p.unsigned_abs().checked_mul(1_000_000) {
        let ca = n / (u64::from(v_dv) * u64::from(pf));
        return u32::try_from(ca).unwrap_or(u32::MAX);
    }
    let ca = i128::from(p).abs() * 1_000_000 / (i128::from(v_dv) * i128::from(pf));
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
            clock: LocalDay::containing(m),
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
            let next = due.min().min(target);
            // Every deadline lies after `self.now` by construction; the guard keeps a
            // broken invariant from looping forever.
            let next = next.max(self.now.saturating_add(1));
            self.integrate(next - self.now);
            self.now = next;
            self.fire(&due, next);
            for ch in &mut self.channels {
                ch.sync_next_capture(next);
            }
        }
        self.sync_clock();
    }

    /// Keeps [`Meter::clock`] covering the meter instant (after time or the offset moved).
    fn sync_clock(&mut self) {
        let m = self.now.saturating_add(self.offset);
        if !self.clock.covers(m) {
            self.clock = LocalDay::containing(m);
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
        self.sync_clock();
        Ok(())
    }

    /// The next instant after [`Meter::now`] at which the meter changes on its own.
    pub fn next_deadline(&self) -> Option<SimTime> {
        Some(SimTime(self.due().min()))
    }

    /// The telegram content at [`Meter::now`], or `None` while the line is silent
    /// (port disabled, power failure). It is the wire form ([`Readout::wire_form`]):
    /// exactly what decoding the telegram gives back, so values the firmware does not
    /// print read 0 or `None` (per-phase power before 50215, demand before 50217) and
    /// 50213 currents are whole amperes. [`Meter::state`] keeps the exact values.
    pub fn readout(&self) -> Option<Readout> {
        let mut readout = None;
        self.readout_into(&self.measure(), &mut readout);
        readout
    }

    /// [`Meter::readout`] and [`Meter::state`] at once, from one measurement: what a
    /// driver needs at each telegram instant.
    pub fn snapshot(&self) -> (Option<Readout>, MeterState) {
        let measured = self.measure();
        let mut readout = None;
        self.readout_into(&measured, &mut readout);
        let mut state = blank_state();
        self.state_into(&measured, &mut state);
        (readout, state)
    }

    /// [`Meter::snapshot`] into `readout` and `state`, in place, reusing their strings and
    /// vectors: once they have held a snapshot of this meter, a steady-state call
    /// allocates nothing (and moves no whole readout or state around).
    pub fn snapshot_into(&self, readout: &mut Option<Readout>, state: &mut MeterState) {
        let measured = self.measure();
        self.readout_into(&measured, readout);
        self.state_into(&measured, state);
    }

    /// Makes `slot` the readout from `measured` ([`Meter::measure`] at [`Meter::now`]),
    /// filled in place when it holds one. Every field is assigned (the destructuring
    /// names them all), so whatever `slot` held before cannot show through.
    fn readout_into(&self, measured: &Measured, slot: &mut Option<Readout>) {
        if !self.port_enabled || !self.powered {
            *slot = None;
            return;
        }
        let r = slot.get_or_insert_with(blank_readout);
        let firmware = self.cfg.firmware;
        {
            let Readout {
                model,
                version,
                equipment_id,
                time,
                import_wh,
                export_wh,
                tariff,
                demand,
                import_w,
                export_w,
                phases,
                breaker,
                limiter_hw,
                fuse_a,
                message,
                mbus,
            } = &mut *r;
            *model = self.cfg.model;
            *version = firmware;
            equipment_id.clone_from(&self.cfg.equipment_id);
            *time = measured.meter_time;
            *import_wh = self.import_mj.map(|mj| mj / MJ_PER_WH);
            *export_wh = self.export_mj.map(|mj| mj / MJ_PER_WH);
            *tariff = self.tariff;
            if firmware.has_demand() {
                let current_w = self.demand.current_w;
                let peak = self.demand.peak_readout(self.cfg.empty_peak);
                match demand {
                    Some(d) => {
                        let Demand {
                            current_w: c,
                            peak: p,
                            history,
                        } = d;
                        *c = current_w;
                        *p = peak;
                        history.clone_from(&self.demand.history);
                    }
                    None => {
                        *demand = Some(Demand {
                            current_w,
                            peak,
                            history: self.demand.history.clone(),
                        });
                    }
                }
            } else {
                *demand = None;
            }
            *import_w = measured.import_w;
            *export_w = measured.export_w;
            phases.clear();
            phases.extend_from_slice(&measured.phases[..self.cfg.model.phases()]);
            *breaker = self.breaker;
            *limiter_hw = self.limiter_hw;
            *fuse_a = self.fuse_a;
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
        }
        r.make_wire_form();
    }

    /// The breaker state.
    pub fn breaker(&self) -> Breaker {
        self.breaker
    }

    /// Exact state for the truth file.
    pub fn state(&self) -> MeterState {
        let mut state = blank_state();
        self.state_into(&self.measure(), &mut state);
        state
    }

    /// Makes `st` the state from `measured` ([`Meter::measure`] at [`Meter::now`]), in
    /// place and in its allocations. Every field is assigned (the destructuring names
    /// them all), so whatever `st` held before cannot show through.
    fn state_into(&self, measured: &Measured, st: &mut MeterState) {
        let MeterState {
            true_ms,
            meter_ms,
            clock_offset_ms,
            meter_time,
            import_mj,
            export_mj,
            import_wh,
            export_wh,
            tariff,
            next_tariff_change_meter_ms,
            import_w,
            export_w,
            phases,
            demand,
            breaker,
            cut_reason,
            limiter_hw,
            fuse_a,
            prepaid,
            port_enabled,
            powered,
            message,
            mbus,
            load,
        } = st;
        *true_ms = self.now;
        *meter_ms = self.now.saturating_add(self.offset);
        *clock_offset_ms = self.offset;
        *meter_time = measured.meter_time;
        *import_mj = self.import_mj;
        *export_mj = self.export_mj;
        *import_wh = self.import_mj.map(|mj| mj / MJ_PER_WH);
        *export_wh = self.export_mj.map(|mj| mj / MJ_PER_WH);
        *tariff = self.tariff;
        *next_tariff_change_meter_ms = self.tariff_next;
        *import_w = measured.import_w;
        *export_w = measured.export_w;
        *phases = measured.phases;
        {
            let DemandState {
                quarter_start_meter_ms,
                quarter_import_mj,
                current_w,
                peak,
                month_start,
                next_month_meter_ms,
                history,
            } = demand;
            let d = &self.demand;
            *quarter_start_meter_ms = d.quarter_start_meter_ms;
            *quarter_import_mj = d.quarter_import_mj;
            *current_w = d.current_w;
            *peak = d.peak;
            *month_start = d.month_start;
            *next_month_meter_ms = d.next_month_meter_ms;
            history.clone_from(&d.history);
        }
        *breaker = self.breaker;
        *cut_reason = self.cut_reason;
        *limiter_hw = self.limiter_hw;
        *fuse_a = self.fuse_a;
        *prepaid = self.prepaid.as_ref().map(|p| PrepaidState {
            credit_ueur: i64::try_from(p.credit.div_euclid(MJ_PER_KWH)).unwrap_or(i64::MIN),
            credit_ueur_mj_per_kwh: p.credit,
            price_ueur_per_kwh: p.price,
            release_at_ms: p.release_at,
        });
        *port_enabled = self.port_enabled;
        *powered = self.powered;
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
        *load = self.load.clone();
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
            meter_time: self.clock.tst_or_zone(self.now.saturating_add(self.offset)),
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
            *slot = (self.powered && c.captures()).then(|| c.next_capture_at(self.now));
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

#[cfg(test)]
mod tests {
    //! The meter's caches against the plain computations they stand for: the local day
    //! of the meter clock, each channel's next capture, the earliest boundary, the 64-bit
    //! current, and snapshots filled in place over older ones.

    use proptest::prelude::*;

    use super::*;
    use crate::{MbusConfig, Prepaid};

    const HOUR: i64 = 3_600_000;

    /// Instants where the caches' spans end: DST transitions, month and year starts (all
    /// 2026, Belgian time), and an ordinary noon.
    const EDGES: [i64; 6] = [
        1_774_746_000_000, // 2026-03-29T01:00:00Z, spring forward
        1_792_890_000_000, // 2026-10-25T01:00:00Z, fall back
        1_780_264_800_000, // 2026-05-31T22:00:00Z, 1 June local midnight
        1_798_758_000_000, // 2026-12-31T23:00:00Z, new year local midnight
        1_777_586_400_000, // 2026-04-30T22:00:00Z, 1 May local midnight
        1_781_517_600_000, // 2026-06-15T10:00:00Z
    ];

    #[derive(Debug, Clone)]
    enum Op {
        Advance(i64),
        Load([i64; 3], [u64; 2]),
        Command(Command),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1i64..5_000).prop_map(Op::Advance),
            3 => (1i64..2 * HOUR).prop_map(Op::Advance),
            1 => (1i64..4 * 24 * HOUR).prop_map(Op::Advance),
            2 => (prop::array::uniform3(-9000i64..9000), prop::array::uniform2(0u64..500_000))
                .prop_map(|(p, f)| Op::Load(p, f)),
            1 => (-30 * HOUR..30 * HOUR).prop_map(|by_ms| Op::Command(Command::ClockJump { by_ms })),
            1 => Just(Op::Command(Command::PowerFail)),
            1 => Just(Op::Command(Command::PowerRestore)),
            1 => any::<bool>().prop_map(|enabled| Op::Command(Command::Port { enabled })),
            1 => Just(Op::Command(Command::MbusDecouple { channel: 1 })),
            1 => Just(Op::Command(Command::MbusCouple(MbusConfig::new(
                1,
                MbusKind::Gas,
                "7FLO4100000999",
                12,
            )))),
            1 => Just(Op::Command(Command::RemoteDisconnect)),
            1 => Just(Op::Command(Command::RemoteConnect)),
            1 => (1i64..5_000_000).prop_map(|ueur| Op::Command(Command::TopUp { ueur })),
            1 => prop::collection::vec(any::<u8>(), 0..20)
                .prop_map(|bytes| Op::Command(Command::TextMessage { bytes })),
        ]
    }

    fn config(prepaid: bool, jitter_ms: i64, firmware: p1_wire::Version) -> MeterConfig {
        let mut c = MeterConfig::new(Model::T211, Grid::Star400, firmware, "1SAG3100000292");
        let mut gas = MbusConfig::new(1, MbusKind::Gas, "7FLO4100000123", 1_843_512);
        gas.capture_jitter_ms = jitter_ms;
        let mut water = MbusConfig::new(2, MbusKind::Water, "8SAG4100000456", 412_087);
        water.capture_phase_ms = Some(47_000);
        water.capture_period_ms = 60_000;
        water.capture_jitter_ms = jitter_ms.min(59_999);
        c.mbus = if firmware.has_water() {
            vec![gas, water]
        } else {
            vec![gas]
        };
        c.history = vec![p1_wire::HistoryEntry {
            period: SimTime(1_775_000_000_000).tst(),
            at: SimTime(1_775_000_000_000).tst(),
            w: 3870,
        }];
        if prepaid {
            c.prepaid = Some(Prepaid {
                credit_ueur: 20_000,
                price_ueur_per_kwh: 300_000,
                release_delay_ms: 90_000,
            });
        }
        c
    }

    /// A readout unlike any blank or real one in every field (each differs from
    /// `blank_readout`'s), so a field `readout_into` forgot to assign would show.
    fn garbage_readout() -> Readout {
        let t = p1_wire::Tst::new(99, 12, 31, 23, 59, 58, true).expect("valid");
        let mbus = |channel| p1_wire::MbusReadout {
            channel,
            device_type: 99,
            equipment_id: "garbage-garbage-garbage".into(),
            valve: Some(Breaker::ReadyForReconnection),
            capture: p1_wire::MbusCapture::Reading { at: t, dm3: 77 },
        };
        Readout {
            model: Model::T211,
            version: p1_wire::Version::V50214,
            equipment_id: "garbage".into(),
            time: t,
            import_wh: [11, 12],
            export_wh: [13, 14],
            tariff: 7,
            demand: Some(Demand {
                current_w: 15,
                peak: p1_wire::Peak { at: t, w: 16 },
                history: vec![
                    p1_wire::HistoryEntry {
                        period: t,
                        at: t,
                        w: 17
                    };
                    20
                ],
            }),
            import_w: 18,
            export_w: 19,
            phases: vec![
                PhaseReadout {
                    import_w: 20,
                    export_w: 21,
                    voltage_dv: 22,
                    current_ca: 23,
                };
                5
            ],
            breaker: Breaker::ReadyForReconnection,
            limiter_hw: 24,
            fuse_a: 25,
            message: b"garbage".to_vec(),
            mbus: vec![mbus(3), mbus(4), mbus(5), mbus(6), mbus(7)],
        }
    }

    /// A state unlike any blank or real one in every field (each differs from
    /// `blank_state`'s), so a field `state_into` forgot to assign would show.
    fn garbage_state() -> MeterState {
        let t = p1_wire::Tst::new(99, 12, 31, 23, 59, 58, true).expect("valid");
        let mbus = |channel| MbusState {
            channel,
            kind: MbusKind::Other(99),
            equipment_id: "garbage-garbage-garbage".into(),
            status: crate::ChannelStatus::Stale,
            valve: Some(Breaker::ReadyForReconnection),
            last_capture: Some(crate::Capture {
                true_ms: 1,
                at: t,
                dm3: 2,
            }),
            live_ml: 3,
            live_dm3: 4,
            next_capture_ms: Some(5),
        };
        let phase = PhaseReadout {
            import_w: 20,
            export_w: 21,
            voltage_dv: 22,
            current_ca: 23,
        };
        let garbage_phase = PhaseLoad {
            power_w: -26,
            voltage_dv: 27,
            power_factor_permille: 28,
        };
        MeterState {
            true_ms: 31,
            meter_ms: 32,
            clock_offset_ms: 33,
            meter_time: t,
            import_mj: [34, 35],
            export_mj: [36, 37],
            import_wh: [38, 39],
            export_wh: [40, 41],
            tariff: 42,
            next_tariff_change_meter_ms: Some(43),
            import_w: 44,
            export_w: 45,
            phases: [phase; 3],
            demand: DemandState {
                quarter_start_meter_ms: 46,
                quarter_import_mj: 47,
                current_w: 48,
                peak: Some(p1_wire::Peak { at: t, w: 49 }),
                month_start: t,
                next_month_meter_ms: 50,
                history: vec![
                    p1_wire::HistoryEntry {
                        period: t,
                        at: t,
                        w: 51
                    };
                    20
                ],
            },
            breaker: Breaker::ReadyForReconnection,
            cut_reason: Some(CutReason::Fuse),
            limiter_hw: 52,
            fuse_a: 53,
            prepaid: Some(PrepaidState {
                credit_ueur: 54,
                credit_ueur_mj_per_kwh: 55,
                price_ueur_per_kwh: 56,
                release_at_ms: Some(57),
            }),
            port_enabled: true,
            powered: true,
            message: b"garbage".to_vec(),
            mbus: vec![mbus(3), mbus(4), mbus(5), mbus(6), mbus(7)],
            load: Load {
                phases: [garbage_phase; 3],
                mbus_ml_per_h: [58; 4],
            },
        }
    }

    /// What the caches stand for, computed plainly, compared with what the meter uses.
    fn check(m: &Meter) -> Result<(), TestCaseError> {
        let meter_ms = m.now.saturating_add(m.offset);
        // Time only moves through `advance_to` and `apply`, which keep the day covering.
        prop_assert!(m.clock.covers(meter_ms), "clock cache left behind");
        prop_assert_eq!(m.clock.tst(meter_ms), SimTime(meter_ms).tst());
        prop_assert_eq!(m.measure().meter_time, SimTime(meter_ms).tst());
        for c in &m.channels {
            prop_assert_eq!(c.next_capture_at(m.now), c.next_capture_after(m.now));
        }
        let due = m.due();
        let plain = [
            Some(due.quarter),
            Some(due.month),
            due.tariff,
            due.release,
            due.exhaustion,
        ]
        .into_iter()
        .chain(due.captures)
        .flatten()
        .min();
        prop_assert_eq!(Some(due.min()), plain);
        // The captures `due` schedules are the plain schedule's.
        for (c, slot) in m.channels.iter().zip(due.captures) {
            let plain = (m.powered && c.captures()).then(|| c.next_capture_after(m.now));
            prop_assert_eq!(slot, plain);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Through any history of steps, loads and commands around DST transitions and
        /// month starts, the caches agree with the plain computations, and a snapshot
        /// filled in place over an older one (of this meter, of a meter unlike it, or
        /// garbage in every field) equals a fresh one.
        #[test]
        fn caches_and_in_place_snapshots_equal_the_plain_path(
            edge in 0usize..EDGES.len(),
            before in 0i64..3 * HOUR,
            offset in prop_oneof![Just(0i64), -2 * HOUR..2 * HOUR],
            prepaid in any::<bool>(),
            jitter in 0i64..300_000,
            old_firmware in any::<bool>(),
            ops in prop::collection::vec(op(), 1..50),
        ) {
            let start = SimTime(EDGES[edge] - before);
            let firmware = if old_firmware {
                p1_wire::Version::V50213
            } else {
                p1_wire::Version::V50217
            };
            let mut cfg = config(prepaid, jitter, firmware);
            cfg.clock_offset_ms = offset;
            let mut m = Meter::new(cfg, start).expect("valid");
            // A snapshot of an unlike meter: other model, message, no M-Bus, prepaid.
            let mut other_cfg =
                MeterConfig::new(Model::S211, Grid::OnePhase230, p1_wire::Version::V50217, "1SAG1100000001");
            other_cfg.prepaid = Some(Prepaid {
                credit_ueur: 5,
                price_ueur_per_kwh: 1,
                release_delay_ms: 0,
            });
            let mut other = Meter::new(other_cfg, SimTime(1_700_000_000_000)).expect("valid");
            other.apply(other.now(), Command::TextMessage { bytes: b"hello".to_vec() }).expect("ok");
            let foreign = other.snapshot();
            let (mut readout, mut state) = m.snapshot();
            check(&m)?;
            for op in ops {
                let now = m.now();
                match op {
                    Op::Advance(dt) => m.advance_to(now.plus_ms(dt)),
                    Op::Load(p, f) => {
                        let mut load = Load::default();
                        for (ph, w) in load.phases.iter_mut().zip(p) {
                            *ph = PhaseLoad {
                                power_w: w,
                                voltage_dv: 2300,
                                power_factor_permille: 950,
                            };
                        }
                        load.mbus_ml_per_h[..2].copy_from_slice(&f);
                        m.set_load(now, &load);
                    }
                    Op::Command(cmd) => {
                        let _ = m.apply(now, cmd);
                    }
                }
                check(&m)?;
                let fresh = m.snapshot();
                m.snapshot_into(&mut readout, &mut state);
                prop_assert_eq!(&readout, &fresh.0);
                prop_assert_eq!(&state, &fresh.1);
                for (r, s) in [foreign.clone(), (Some(garbage_readout()), garbage_state())] {
                    let (mut r, mut s) = (r, s);
                    m.snapshot_into(&mut r, &mut s);
                    prop_assert_eq!(&r, &fresh.0);
                    prop_assert_eq!(&s, &fresh.1);
                }
                prop_assert_eq!(m.readout(), fresh.0);
                prop_assert_eq!(m.state(), fresh.1);
            }
        }

        /// The 64-bit current equals the 128-bit formula for every power, voltage and
        /// power factor.
        #[test]
        fn current_takes_the_exact_floor(
            p in prop_oneof![any::<i64>(), -100_000i64..100_000, Just(i64::MIN), Just(i64::MAX)],
            v in prop_oneof![any::<u32>(), 1u32..3000],
            pf in prop_oneof![any::<u32>(), 0u32..1100],
        ) {
            let plain = if v == 0 {
                0
            } else {
                let pf = i128::from(pf.clamp(1, 1000));
                let ca = i128::from(p).abs() * 1_000_000 / (i128::from(v) * pf);
                u32::try_from(ca).unwrap_or(u32::MAX)
            };
            prop_assert_eq!(current_ca(p, v, pf), plain);
        }
    }
}
