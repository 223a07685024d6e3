//! What the panel shows at an instant ([`PanelView`]): the screen, the indicators and the
//! two LEDs. Plain serializable data, for the truth file, the TUI and the text renderer.

use serde::Serialize;

/// The screen's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScreenMode {
    /// Dark: no press within the timeout, or no mains power.
    Off,
    /// Lit by the first press: indicators only, no code yet.
    Home,
    /// Lit and showing a code (see [`PanelView::screen`]).
    Code,
}

/// The code and value on the screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Screen {
    /// The code as printed, e.g. `1.8.1` or `96.1.1-1`.
    pub code: String,
    /// The value as printed, e.g. `004213.379`; dashes if the value has gone (a channel
    /// decoupled while shown).
    pub value: String,
    /// Unit, e.g. `kWh`, `kW`; empty for a serial number.
    pub unit: String,
    /// The DIM metrology mark (legally relevant value).
    pub dim: bool,
}

/// The tariff triangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tariff {
    /// Tariff 1.
    Day,
    /// Tariff 2.
    Night,
}

/// An indicator that can be dark, lit or blinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Blink {
    /// Dark.
    Off,
    /// Lit steadily.
    Steady,
    /// Blinking (lit the first half of every second of simulated time).
    Blinking,
}

/// One phase indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseIndicator {
    /// `L1`, `L2` or `L3`.
    pub name: String,
    /// Whether the phase has voltage.
    pub lit: bool,
    /// The asterisk next to L2 on a 3x230V (delta) connection.
    pub asterisk: bool,
}

/// The LCD's indicators (computed even while the screen is dark, for the truth file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Indicators {
    /// Tariff triangle.
    pub tariff: Tariff,
    /// `F`: serious error.
    pub error: bool,
    /// L1 (S211) or L1, L2, L3 (T211).
    pub phases: Vec<PhaseIndicator>,
    /// `P+`: net import.
    pub importing: bool,
    /// `P-`: net injection.
    pub exporting: bool,
    /// User port (P1) enabled.
    pub port_enabled: bool,
    /// Triangle: registered on the communication network.
    pub network_registered: bool,
    /// Signal strength, 0..=`signal_max`.
    pub signal: u8,
    /// Number of bars.
    pub signal_max: u8,
    /// A budget (prepaid) meter.
    pub prepaid: bool,
    /// Breaker closed (`0-0:96.3.10` = 1).
    pub breaker_closed: bool,
    /// `0-0:96.3.10` as on P1.
    pub breaker_code: u8,
    /// Breaker Disconnect triangle: steady while open (0), blinking while the customer may
    /// reconnect by holding the button 3 s (2), dark while closed (1).
    pub breaker_disconnect: Blink,
    /// Whether the Breaker Disconnect triangle is lit at this instant.
    pub breaker_disconnect_lit: bool,
}

/// One LED.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Led {
    /// Pulses since the panel first observed the meter.
    pub pulses: u64,
    /// Whether the LED is lit at this instant.
    pub lit: bool,
    /// Instant of the latest pulse, ms since the epoch.
    pub last_pulse_ms: Option<i64>,
    /// Pulses per kWh (control) or kvarh (blind).
    pub constant: u32,
}

/// Everything the front panel shows at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PanelView {
    /// The instant, ms since the epoch (true time).
    pub at_ms: i64,
    /// Mains power present (without it the whole panel is dark).
    pub powered: bool,
    /// Screen state.
    pub mode: ScreenMode,
    /// Code and value, when [`ScreenMode::Code`].
    pub screen: Option<Screen>,
    /// Indicators (shown only while the screen is lit).
    pub indicators: Indicators,
    /// Reactive power the blind LED counts now, var.
    pub reactive_var: u64,
    /// Control LED (active energy).
    pub control_led: Led,
    /// Blind LED (reactive energy).
    pub blind_led: Led,
}
