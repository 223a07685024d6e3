//! The typed content of one e-MUCS P1 telegram ([`Readout`]) in exact integer units,
//! and its conversion to and from the generic line list ([`crate::Telegram`]).
//!
//! Units are the finest resolution the wire carries, so a readout converts to bytes
//! without rounding: energy in Wh (`F9(3,3)` kWh), power in W (`F5(3,3)` kW), voltage in
//! dV (`F4(1,1)` V), current in cA (`F5(2,2)` A; whole amperes on 50213), gas and water in
//! dm³ (`F8(3,3)` m³), the power limiter in hW (`F4(1,1)` kW).

use serde::{Deserialize, Serialize};

use crate::Tst;

/// The meter model, which decides the header and the per-phase lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Model {
    /// Sagemcom Siconia S211, single phase: header `/FLU5\253770234_A`.
    S211,
    /// Sagemcom Siconia T211, three phases: header `/FLU5\253769484_A`.
    T211,
}

impl Model {
    /// The identification after `/` in the first line (the backslash is a literal byte).
    pub const fn identification(self) -> &'static str {
        match self {
            Model::S211 => "FLU5\\253770234_A",
            Model::T211 => "FLU5\\253769484_A",
        }
    }

    /// The model whose identification this is, if any.
    pub fn from_identification(ident: &str) -> Option<Model> {
        [Model::S211, Model::T211]
            .into_iter()
            .find(|m| m.identification() == ident)
    }

    /// Number of phases the telegram reports.
    pub const fn phases(self) -> usize {
        match self {
            Model::S211 => 1,
            Model::T211 => 3,
        }
    }
}

/// The e-MUCS P1 version printed in `0-0:96.1.4`; it decides which objects exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Version {
    /// e-MUCS 1.3: integer currents, no per-phase power.
    #[serde(rename = "50213")]
    V50213,
    /// e-MUCS 1.4: currents with two decimals.
    #[serde(rename = "50214")]
    V50214,
    /// e-MUCS 1.5: per-phase import and export power.
    #[serde(rename = "50215")]
    V50215,
    /// e-MUCS 1.6: water meters on M-Bus.
    #[serde(rename = "50216")]
    V50216,
    /// e-MUCS 1.7 / 1.7.1: quarter-hour demand, monthly peak and 13-month history.
    #[serde(rename = "50217")]
    V50217,
}

impl Version {
    /// Every version, oldest first.
    pub const ALL: [Version; 5] = [
        Version::V50213,
        Version::V50214,
        Version::V50215,
        Version::V50216,
        Version::V50217,
    ];

    /// The five digits printed on the wire.
    pub const fn code(self) -> u32 {
        match self {
            Version::V50213 => 50213,
            Version::V50214 => 50214,
            Version::V50215 => 50215,
            Version::V50216 => 50216,
            Version::V50217 => 50217,
        }
    }

    /// The version printed as `code`, if it is one we know.
    pub fn from_code(code: u32) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.code() == code)
    }

    /// Currents are printed as whole amperes `F3(0,0)` (50213) instead of `F5(2,2)`.
    pub const fn integer_currents(self) -> bool {
        matches!(self, Version::V50213)
    }

    /// Per-phase import/export power lines `x1.7.0`/`x2.7.0` exist (from 50215).
    pub const fn has_phase_power(self) -> bool {
        self.code() >= 50215
    }

    /// Water meters (device type 007, `24.2.1`) are published (from 50216).
    pub const fn has_water(self) -> bool {
        self.code() >= 50216
    }

    /// `1-0:1.4.0`, `1-0:1.6.0` and `0-0:98.1.0` exist (50217).
    pub const fn has_demand(self) -> bool {
        self.code() >= 50217
    }
}

/// Breaker state `0-0:96.3.10`, also used by the gas valve `0-n:24.4.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Breaker {
    /// `0`: disconnected.
    Disconnected,
    /// `1`: connected.
    Connected,
    /// `2`: ready for reconnection (released; the customer may press the button).
    ReadyForReconnection,
}

impl Breaker {
    /// The digit printed on the wire.
    pub const fn code(self) -> u8 {
        match self {
            Breaker::Disconnected => 0,
            Breaker::Connected => 1,
            Breaker::ReadyForReconnection => 2,
        }
    }

    /// The state printed as `code`.
    pub const fn from_code(code: u8) -> Option<Breaker> {
        match code {
            0 => Some(Breaker::Disconnected),
            1 => Some(Breaker::Connected),
            2 => Some(Breaker::ReadyForReconnection),
            _ => None,
        }
    }
}

/// Values of one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PhaseReadout {
    /// Import power `x1.7.0` (21/41/61), W. Printed only from 50215.
    pub import_w: u32,
    /// Export power `x2.7.0` (22/42/62), W. Printed only from 50215.
    pub export_w: u32,
    /// Voltage `32/52/72.7.0`, dV (0.1 V).
    pub voltage_dv: u32,
    /// Current magnitude `31/51/71.7.0`, cA (0.01 A). On 50213 it is printed in whole
    /// amperes, truncated.
    pub current_ca: u32,
}

/// The running month's peak `1-0:1.6.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peak {
    /// When the peak quarter was captured.
    pub at: Tst,
    /// Quarter-hour demand, W.
    pub w: u32,
}

/// One entry of the 13-month history `0-0:98.1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The closing instant of the month, `YYMM01000000X`.
    pub period: Tst,
    /// When the month's peak quarter was captured (may be [`Tst::INVALID`]).
    pub at: Tst,
    /// The month's peak, W.
    pub w: u32,
}

/// Quarter-hour demand objects (50217 only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demand {
    /// `1-0:1.4.0`: demand of the running quarter, W.
    pub current_w: u32,
    /// `1-0:1.6.0`: the month's peak.
    pub peak: Peak,
    /// `0-0:98.1.0`: up to 13 entries, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// What an M-Bus channel's reading line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MbusCapture {
    /// `(TST)(NNNNN.NNN*m3)`: the last value the sub-meter sent, in dm³ (litres).
    Reading {
        /// Capture instant.
        at: Tst,
        /// Index, dm³.
        dm3: u64,
    },
    /// `(632525252525W)(00000.000)`: configured channel whose device does not
    /// communicate (no unit).
    Silent,
}

/// One M-Bus channel block (`0-n:24.1.0`, `0-n:96.1.1`, `[0-n:24.4.0]`, reading).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MbusReadout {
    /// Channel `n`, 1 to 4.
    pub channel: u8,
    /// OMS device type: 3 gas, 7 water; others are kept as they are.
    pub device_type: u16,
    /// Equipment id (14 ASCII characters for real devices); printed as hex.
    pub equipment_id: String,
    /// Valve state `0-n:24.4.0`, printed for gas only.
    pub valve: Option<Breaker>,
    /// Reading line: `24.2.3` for gas, `24.2.1` for water and other types.
    pub capture: MbusCapture,
}

impl MbusReadout {
    /// OMS device type of a gas meter.
    pub const GAS: u16 = 3;
    /// OMS device type of a water meter.
    pub const WATER: u16 = 7;
}

/// The typed content of a telegram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readout {
    /// Meter model (header).
    pub model: Model,
    /// `0-0:96.1.4`.
    pub version: Version,
    /// `0-0:96.1.1`: 14 ASCII characters, printed as hex.
    pub equipment_id: String,
    /// `0-0:1.0.0`: local time with the S/W flag.
    pub time: Tst,
    /// `1-0:1.8.1`, `1-0:1.8.2`: import day (tariff 1) and night (tariff 2), Wh.
    pub import_wh: [u64; 2],
    /// `1-0:2.8.1`, `1-0:2.8.2`: export day and night, Wh.
    pub export_wh: [u64; 2],
    /// `0-0:96.14.0`: 1 day, 2 night.
    pub tariff: u8,
    /// Demand objects; `Some` exactly when the version has them.
    pub demand: Option<Demand>,
    /// `1-0:1.7.0`: total import power, W.
    pub import_w: u32,
    /// `1-0:2.7.0`: total export power, W.
    pub export_w: u32,
    /// One entry per phase of the model.
    pub phases: Vec<PhaseReadout>,
    /// `0-0:96.3.10`.
    pub breaker: Breaker,
    /// `0-0:17.0.0`: power limiter threshold, hW (0.1 kW); 9999 = deactivated.
    pub limiter_hw: u32,
    /// `1-0:31.4.0`: current threshold, A; 999 = deactivated.
    pub fuse_a: u32,
    /// `0-0:96.13.0`: text message bytes, printed as hex (empty = `()`); hex in JSON.
    #[serde(with = "hex_bytes")]
    pub message: Vec<u8>,
    /// M-Bus channels in the order they are printed.
    pub mbus: Vec<MbusReadout>,
}

impl Readout {
    /// Limiter value meaning "deactivated" (`999.9*kW`).
    pub const LIMITER_OFF_HW: u32 = 9999;
    /// Fuse value meaning "deactivated" (`999*A`).
    pub const FUSE_OFF_A: u32 = 999;
    /// Longest text message `0-0:96.13.0`, in bytes (1024 characters; DSMR 5.0.2 §7.2).
    pub const MAX_MESSAGE_BYTES: usize = 1024;

    /// This readout as the wire carries it, which is what decoding its telegram gives
    /// back: objects the version does not print are dropped (demand before 50217,
    /// per-phase power before 50215), currents on 50213 are whole amperes (truncated),
    /// the model has its own number of phases, energy registers roll over at
    /// 999999.999 kWh, other values saturate at their field's largest value, and the
    /// text message is cut at [`Readout::MAX_MESSAGE_BYTES`].
    pub fn wire_form(&self) -> Readout {
        let mut r = self.clone();
        r.make_wire_form();
        r
    }

    /// Turns this readout into its [`Readout::wire_form`] in place (no allocation but
    /// for growing `phases` to the model's count).
    pub fn make_wire_form(&mut self) {
        use crate::format;
        let sat = |v: u32, f: format::Fixed| v.min(u32::try_from(f.max()).unwrap_or(u32::MAX));
        let power = |w: u32| sat(w, format::POWER);
        let version = self.version;
        let current = format::current(version);
        self.phases
            .resize(self.model.phases(), PhaseReadout::default());
        for p in &mut self.phases {
            if !version.has_phase_power() {
                p.import_w = 0;
                p.export_w = 0;
            }
            p.import_w = power(p.import_w);
            p.export_w = power(p.export_w);
            p.voltage_dv = sat(p.voltage_dv, format::VOLTAGE);
            let unit = 10u32.pow(2 - current.dec as u32);
            p.current_ca = sat(p.current_ca / unit, current) * unit;
        }
        if !version.has_demand() {
            self.demand = None;
        }
        if let Some(d) = &mut self.demand {
            d.current_w = power(d.current_w);
            d.peak.w = power(d.peak.w);
            for e in &mut d.history {
                e.w = power(e.w);
            }
        }
        for m in &mut self.mbus {
            if let MbusCapture::Reading { dm3, .. } = &mut m.capture {
                *dm3 = (*dm3).min(format::VOLUME.max());
            }
        }
        self.message.truncate(Readout::MAX_MESSAGE_BYTES);
        self.import_wh = self.import_wh.map(|wh| wh % 1_000_000_000);
        self.export_wh = self.export_wh.map(|wh| wh % 1_000_000_000);
        self.import_w = power(self.import_w);
        self.export_w = power(self.export_w);
        self.limiter_hw = sat(self.limiter_hw, format::LIMITER);
        self.fuse_a = sat(self.fuse_a, format::FUSE);
    }
}

/// Serde representation of octet strings as upper-case hex, as on the wire.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::encode::hex(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        crate::fields::hex_decode(&text)
            .ok_or_else(|| serde::de::Error::custom("expected upper-case hex octets"))
    }
}
