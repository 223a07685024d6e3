//! Static configuration of a simulated meter ([`MeterConfig`]): model, grid, firmware,
//! identities, initial registers and history, tariff calendar, limiter, prepaid, M-Bus.
//! Plain data; validation happens in [`crate::Meter::new`].

use chrono::{NaiveDate, NaiveTime};
use p1_wire::{HistoryEntry, Model, Peak, Version};
use serde::{Deserialize, Serialize};

/// How the meter is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grid {
    /// 1x230V (S211 only).
    #[serde(rename = "1x230V")]
    OnePhase230,
    /// 3x230V delta without neutral (T211), measured with two elements (Aron) and L2 as
    /// the common reference: L2 voltage and L2 power read 0, loads sit between L1-L2
    /// (phase 1) and L3-L2 (phase 3), and L2 carries their return current
    /// (see `Meter::currents`: |I2| = sqrt(I1² + I3² ± I1·I3)).
    #[serde(rename = "3x230V")]
    Delta230,
    /// 3x400V star with neutral (T211).
    #[serde(rename = "3x400V")]
    Star400,
}

/// Which boundary of the winning quarter 1-0:1.6.0 is stamped with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeakStamp {
    /// The start of the quarter (hh:00 for the quarter hh:00-hh:15).
    Start,
    /// The end of the quarter, when the demand register captures it (DLMS capture time).
    #[default]
    End,
}

/// What `1-0:1.6.0` shows while the running month has no completed quarter yet (from local
/// midnight on the 1st until the first quarter ends, or after a fresh start without
/// [`MeterConfig::month_peak`]). No capture shows this moment (spec §4, §8), so it is a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmptyPeak {
    /// `(632525252525W)(00.000*kW)`: the COSEM "not specified" capture time. Default, because
    /// it is exactly the "no value" entry real meters push into `0-0:98.1.0` for a month whose
    /// peak was never captured (spec §3.3), i.e. what `1.6.0` must have held at month end.
    #[default]
    Invalid,
    /// `(YYMM01000000X)(00.000*kW)`: zero stamped with the start of the running month.
    MonthStart,
}

/// The day/night tariff calendar. Tariff 1 (day) applies on `day_weekdays` between
/// `day_start` and `day_end` local time, except on `night_days`; tariff 2 (night) otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TariffCalendar {
    /// Start of the day tariff, local time (default 07:00).
    pub day_start: NaiveTime,
    /// End of the day tariff, local time (default 22:00).
    pub day_end: NaiveTime,
    /// Weekdays with a day tariff, Monday = index 0 (default Monday to Friday).
    pub day_weekdays: [bool; 7],
    /// Extra all-night days, such as public holidays.
    pub night_days: Vec<NaiveDate>,
}

impl Default for TariffCalendar {
    fn default() -> Self {
        TariffCalendar {
            day_start: NaiveTime::from_hms_opt(7, 0, 0).unwrap_or_default(),
            day_end: NaiveTime::from_hms_opt(22, 0, 0).unwrap_or_default(),
            day_weekdays: [true, true, true, true, true, false, false],
            night_days: Vec::new(),
        }
    }
}

/// Prepaid (budget meter) settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepaid {
    /// Starting credit, in micro-euro.
    pub credit_ueur: i64,
    /// Price of imported energy, micro-euro per kWh.
    pub price_ueur_per_kwh: i64,
    /// Delay between a top-up and the operator's release (breaker 0 -> 2), ms.
    pub release_delay_ms: i64,
}

/// Kind of M-Bus sub-meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MbusKind {
    /// Device type 003, with valve line and `24.2.3`.
    Gas,
    /// Device type 007, `24.2.1`, no valve.
    Water,
    /// Another OMS device type, kept as is (printed with `24.2.1`).
    Other(u16),
}

/// One coupled M-Bus sub-meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MbusConfig {
    /// Channel 1 to 4.
    pub channel: u8,
    /// Device kind.
    pub kind: MbusKind,
    /// Equipment id, 14 ASCII characters; the medium digit is 7 for gas, 8 for water.
    pub equipment_id: String,
    /// Index at the start, dm³ (litres).
    pub initial_dm3: u64,
    /// Nominal time between two captures, ms (default 300 000).
    pub capture_period_ms: i64,
    /// Offset of this device's captures within the period, ms (taken modulo the period).
    /// `None` (the default): an offset derived from the equipment id
    /// ([`MbusConfig::capture_phase`]), so devices capture at their own arbitrary second
    /// within the period as real ones do (stamps such as 20:39:58, 12:46:16, 12:10:02;
    /// spec §5), deterministically.
    #[serde(default)]
    pub capture_phase_ms: Option<i64>,
    /// Maximum jitter added to each capture, ms (drawn deterministically from the device id
    /// and the capture number, never from an OS source).
    pub capture_jitter_ms: i64,
}

/// Everything that configures a simulated meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterConfig {
    /// S211 or T211.
    pub model: Model,
    /// Grid connection.
    pub grid: Grid,
    /// Firmware (e-MUCS version), which decides the objects and formats.
    pub firmware: Version,
    /// Electricity equipment id, 14 ASCII characters starting with the medium digit 1.
    pub equipment_id: String,
    /// Meter clock minus true time, ms (real meters drift).
    pub clock_offset_ms: i64,
    /// Initial import registers, day and night, Wh.
    pub import_wh: [u64; 2],
    /// Initial export registers, day and night, Wh.
    pub export_wh: [u64; 2],
    /// Initial 98.1.0 history, oldest first (at most 13).
    pub history: Vec<HistoryEntry>,
    /// Peak of the running month so far, if any.
    pub month_peak: Option<Peak>,
    /// Which quarter boundary stamps the peak.
    pub peak_stamp: PeakStamp,
    /// Tariff calendar.
    pub tariff: TariffCalendar,
    /// `0-0:17.0.0`, hW; 9999 = off.
    pub limiter_hw: u32,
    /// `1-0:31.4.0`, A; 999 = off.
    pub fuse_a: u32,
    /// Prepaid settings, if the meter is a budget meter.
    pub prepaid: Option<Prepaid>,
    /// M-Bus devices.
    pub mbus: Vec<MbusConfig>,
    /// Whether the user port starts enabled.
    pub port_enabled: bool,
    /// What `1-0:1.6.0` shows before the first quarter of a month completes.
    #[serde(default)]
    pub empty_peak: EmptyPeak,
    /// When `0-0:98.1.0` is full and its oldest entry is a "no value" entry (capture time
    /// `632525252525W`), drop the second-oldest instead, so the stale head survives, as seen
    /// on two real meters (spec §3.3: slxjenergymeter-1, creadme-1). Default `true`.
    #[serde(default = "default_true")]
    pub keep_stale_history_head: bool,
}

fn default_true() -> bool {
    true
}

impl MeterConfig {
    /// A meter with zero registers, empty history, default calendar, limiter and fuse off,
    /// no prepaid, no M-Bus, port enabled, clock exact; fields can be changed afterwards.
    pub fn new(model: Model, grid: Grid, firmware: Version, equipment_id: &str) -> MeterConfig {
        MeterConfig {
            model,
            grid,
            firmware,
            equipment_id: equipment_id.to_string(),
            clock_offset_ms: 0,
            import_wh: [0; 2],
            export_wh: [0; 2],
            history: Vec::new(),
            month_peak: None,
            peak_stamp: PeakStamp::End,
            tariff: TariffCalendar::default(),
            limiter_hw: 9999,
            fuse_a: 999,
            prepaid: None,
            mbus: Vec::new(),
            port_enabled: true,
            empty_peak: EmptyPeak::Invalid,
            keep_stale_history_head: true,
        }
    }
}

impl MbusConfig {
    /// A sub-meter with the nominal 5-minute capture period, the capture phase derived from
    /// its id and 30 s jitter.
    pub fn new(channel: u8, kind: MbusKind, equipment_id: &str, initial_dm3: u64) -> MbusConfig {
        MbusConfig {
            channel,
            kind,
            equipment_id: equipment_id.to_string(),
            initial_dm3,
            capture_period_ms: 300_000,
            capture_phase_ms: None,
            capture_jitter_ms: 30_000,
        }
    }

    /// The offset of this device's captures within its period, ms, in
    /// `0..capture_period_ms`: the configured [`MbusConfig::capture_phase_ms`] modulo the
    /// period, or by default a fixed function of the equipment id (FNV-1a of its bytes,
    /// mixed by SplitMix64, modulo the period): the same id always captures at the same
    /// offset, and different ids almost always at different ones.
    pub fn capture_phase(&self) -> i64 {
        let period = self.capture_period_ms.max(1);
        match self.capture_phase_ms {
            Some(phase) => phase.rem_euclid(period),
            None => crate::mbus::default_phase(&self.equipment_id, period),
        }
    }
}
