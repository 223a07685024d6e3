//! Panel settings ([`PanelConfig`]) with their documented defaults, and the display codes
//! ([`Code`]) the button steps through.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Default time the screen stays lit after the last press, ms (30 s).
///
/// Long enough to read a value and press again at a relaxed pace; short enough that a
/// display left on in a meter cupboard goes dark on its own. No Fluvius document found
/// gives the real figure, so it is a setting.
pub const DEFAULT_SCREEN_TIMEOUT_MS: i64 = 30_000;
/// Default control-LED constant, pulses per kWh of active energy.
///
/// 1000 imp/kWh is the usual constant of direct-connected static meters (one pulse per Wh,
/// so a 1 kW load blinks every 3.6 s and a 10 kW load every 0.36 s, slow enough to count
/// by eye and fast enough for a test bench). The S211/T211 nameplate value was not found
/// in a public source; it is a setting.
pub const DEFAULT_CONTROL_IMP_PER_KWH: u32 = 1000;
/// Default blind-LED constant, pulses per kvarh of reactive energy (same reasoning).
pub const DEFAULT_BLIND_IMP_PER_KVARH: u32 = 1000;
/// Default time an LED stays lit after each pulse, ms.
pub const DEFAULT_LED_FLASH_MS: i64 = 50;
/// Default number of signal-strength bars (0 to 5).
pub const DEFAULT_SIGNAL_MAX: u8 = 5;

/// One entry of the display sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// `1.8.1`: total import, tariff 1 (day), kWh.
    ImportDay,
    /// `1.8.2`: total import, tariff 2 (night), kWh.
    ImportNight,
    /// `1.7.0`: import power now, kW.
    ImportPower,
    /// `1.6.0`: the running month's import peak (quarter-hour demand), kW; 50217 only.
    MonthPeak,
    /// `2.8.1`: total injection, tariff 1, kWh.
    ExportDay,
    /// `2.8.2`: total injection, tariff 2, kWh.
    ExportNight,
    /// `2.7.0`: injection power now, kW.
    ExportPower,
    /// `96.1.1` in a configured sequence: one `96.1.1-X` per coupled M-Bus channel, in
    /// channel order. Never shown itself.
    MbusSerials,
    /// `96.1.1-X`: serial number (equipment id) of the device coupled on channel X.
    MbusSerial(u8),
}

impl Code {
    /// The factory sequence: 1.8.1, 1.8.2, 1.7.0, 1.6.0, 2.8.1, 2.8.2, 2.7.0, 96.1.1-X.
    pub const DEFAULT_SEQUENCE: [Code; 8] = [
        Code::ImportDay,
        Code::ImportNight,
        Code::ImportPower,
        Code::MonthPeak,
        Code::ExportDay,
        Code::ExportNight,
        Code::ExportPower,
        Code::MbusSerials,
    ];

    /// Whether the value is legally relevant (billing registers and the capacity-tariff
    /// peak), which the display marks with the DIM metrology sign.
    pub const fn is_legal(self) -> bool {
        matches!(
            self,
            Code::ImportDay
                | Code::ImportNight
                | Code::ExportDay
                | Code::ExportNight
                | Code::MonthPeak
        )
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::ImportDay => f.write_str("1.8.1"),
            Code::ImportNight => f.write_str("1.8.2"),
            Code::ImportPower => f.write_str("1.7.0"),
            Code::MonthPeak => f.write_str("1.6.0"),
            Code::ExportDay => f.write_str("2.8.1"),
            Code::ExportNight => f.write_str("2.8.2"),
            Code::ExportPower => f.write_str("2.7.0"),
            Code::MbusSerials => f.write_str("96.1.1"),
            Code::MbusSerial(n) => write!(f, "96.1.1-{n}"),
        }
    }
}

/// A code that is not one the panel knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeParseError(pub String);

impl fmt::Display for CodeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected one of 1.8.1, 1.8.2, 1.7.0, 1.6.0, 2.8.1, 2.8.2, 2.7.0, 96.1.1, 96.1.1-1..4, found {:?}",
            self.0
        )
    }
}

impl std::error::Error for CodeParseError {}

impl FromStr for Code {
    type Err = CodeParseError;

    fn from_str(s: &str) -> Result<Code, CodeParseError> {
        let code = match s.trim() {
            "1.8.1" => Code::ImportDay,
            "1.8.2" => Code::ImportNight,
            "1.7.0" => Code::ImportPower,
            "1.6.0" => Code::MonthPeak,
            "2.8.1" => Code::ExportDay,
            "2.8.2" => Code::ExportNight,
            "2.7.0" => Code::ExportPower,
            "96.1.1" | "96.1.1-X" => Code::MbusSerials,
            "96.1.1-1" => Code::MbusSerial(1),
            "96.1.1-2" => Code::MbusSerial(2),
            "96.1.1-3" => Code::MbusSerial(3),
            "96.1.1-4" => Code::MbusSerial(4),
            _ => return Err(CodeParseError(s.to_owned())),
        };
        Ok(code)
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Code, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Everything that configures a panel. `PanelConfig::default()` is the factory setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PanelConfig {
    /// Time the screen stays lit after the last press, ms (> 0).
    pub screen_timeout_ms: i64,
    /// Codes the button steps through, in order; codes the firmware or the couplings do
    /// not have are skipped.
    pub sequence: Vec<Code>,
    /// Control LED: pulses per kWh of active energy (import + injection), 1..=1 000 000.
    pub control_imp_per_kwh: u32,
    /// Blind LED: pulses per kvarh of reactive energy, 1..=1 000 000.
    pub blind_imp_per_kvarh: u32,
    /// Time an LED stays lit after a pulse, ms (> 0).
    pub led_flash_ms: i64,
    /// Number of signal-strength bars, 1..=9.
    pub signal_max: u8,
}

impl Default for PanelConfig {
    fn default() -> Self {
        PanelConfig {
            screen_timeout_ms: DEFAULT_SCREEN_TIMEOUT_MS,
            sequence: Code::DEFAULT_SEQUENCE.to_vec(),
            control_imp_per_kwh: DEFAULT_CONTROL_IMP_PER_KWH,
            blind_imp_per_kvarh: DEFAULT_BLIND_IMP_PER_KVARH,
            led_flash_ms: DEFAULT_LED_FLASH_MS,
            signal_max: DEFAULT_SIGNAL_MAX,
        }
    }
}

/// A panel setting, as a field path of [`PanelConfig`] (what a [`PanelConfigError`] is
/// about; a scenario maps it to the position of the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelField {
    /// [`PanelConfig::screen_timeout_ms`].
    ScreenTimeout,
    /// [`PanelConfig::sequence`].
    Sequence,
    /// [`PanelConfig::control_imp_per_kwh`].
    ControlImpPerKwh,
    /// [`PanelConfig::blind_imp_per_kvarh`].
    BlindImpPerKvarh,
    /// [`PanelConfig::led_flash_ms`].
    LedFlash,
    /// [`PanelConfig::signal_max`].
    SignalMax,
}

impl PanelField {
    /// The Rust field name.
    pub const fn name(self) -> &'static str {
        match self {
            PanelField::ScreenTimeout => "screen_timeout_ms",
            PanelField::Sequence => "sequence",
            PanelField::ControlImpPerKwh => "control_imp_per_kwh",
            PanelField::BlindImpPerKvarh => "blind_imp_per_kvarh",
            PanelField::LedFlash => "led_flash_ms",
            PanelField::SignalMax => "signal_max",
        }
    }
}

/// A panel setting out of range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelConfigError {
    /// Which setting.
    pub field: PanelField,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for PanelConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field.name(), self.message)
    }
}

impl std::error::Error for PanelConfigError {}

impl PanelConfig {
    /// Checks every setting's range: the one place panel settings are checked
    /// ([`crate::Panel::new`] calls it).
    pub fn validate(&self) -> Result<(), PanelConfigError> {
        let err = |field, message| Err(PanelConfigError { field, message });
        if self.screen_timeout_ms <= 0 {
            return err(
                PanelField::ScreenTimeout,
                format!(
                    "the screen timeout must be positive, found {} ms",
                    self.screen_timeout_ms
                ),
            );
        }
        if self.sequence.is_empty() {
            return err(
                PanelField::Sequence,
                "the sequence lists at least one code".to_owned(),
            );
        }
        for (field, c) in [
            (PanelField::ControlImpPerKwh, self.control_imp_per_kwh),
            (PanelField::BlindImpPerKvarh, self.blind_imp_per_kvarh),
        ] {
            if !(1..=1_000_000).contains(&c) {
                return err(
                    field,
                    format!("an LED constant is 1 to 1000000 pulses, found {c}"),
                );
            }
        }
        if self.led_flash_ms <= 0 {
            return err(
                PanelField::LedFlash,
                format!(
                    "the LED flash must be positive, found {} ms",
                    self.led_flash_ms
                ),
            );
        }
        if !(1..=9).contains(&self.signal_max) {
            return err(
                PanelField::SignalMax,
                format!("`signal_max` is 1 to 9 bars, found {}", self.signal_max),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_text() {
        for c in Code::DEFAULT_SEQUENCE
            .into_iter()
            .chain((1..=4).map(Code::MbusSerial))
        {
            assert_eq!(c.to_string().parse::<Code>(), Ok(c));
        }
        assert!("1.8.3".parse::<Code>().is_err());
        assert!("96.1.1-5".parse::<Code>().is_err());
    }

    #[test]
    fn defaults_are_valid_and_ranges_checked() {
        assert_eq!(PanelConfig::default().validate(), Ok(()));
        let bad = PanelConfig {
            control_imp_per_kwh: 0,
            ..PanelConfig::default()
        };
        assert_eq!(
            bad.validate().map_err(|e| e.field),
            Err(PanelField::ControlImpPerKwh)
        );
        let bad = PanelConfig {
            screen_timeout_ms: 0,
            ..PanelConfig::default()
        };
        assert_eq!(
            bad.validate().map_err(|e| e.field),
            Err(PanelField::ScreenTimeout)
        );
        let bad = PanelConfig {
            sequence: Vec::new(),
            ..PanelConfig::default()
        };
        assert_eq!(
            bad.validate().map_err(|e| e.field),
            Err(PanelField::Sequence)
        );
    }
}
