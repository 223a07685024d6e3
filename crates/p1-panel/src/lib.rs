//! Sans-IO model of the front panel of a Fluvius Sagemcom S211/T211 meter: the LCD with its
//! code sequence and indicators, the two pulse LEDs and the yellow-green button.
//!
//! A [`Panel`] never reads a clock and never touches a meter itself. The driver hands it
//! what the meter knows ([`Panel::observe`] with a [`p1_meter::MeterState`]), the button
//! ([`Panel::press`], which returns the [`p1_meter::Command::Button`] the driver must apply
//! to the *same* meter, so the panel and `0-0:96.3.10` on P1 come from one state machine),
//! the error flag and the network status; it answers with a serializable [`PanelView`] and
//! a stable plain-text frame ([`render_text`]).
//!
//! Counting is integer: the control LED counts active energy in mJ (W·ms) from the meter's
//! own registers, the blind LED integrates reactive power in var·ms; a pulse is emitted
//! each time `energy x constant` crosses a whole kWh (kvarh).

mod config;
mod leds;
mod panel;
mod render;
mod view;

pub use config::{
    Code, CodeParseError, DEFAULT_BLIND_IMP_PER_KVARH, DEFAULT_CONTROL_IMP_PER_KWH,
    DEFAULT_LED_FLASH_MS, DEFAULT_SCREEN_TIMEOUT_MS, DEFAULT_SIGNAL_MAX, PanelConfig,
    PanelConfigError, PanelField,
};
pub use leds::{UNITS_PER_KILO_HOUR, reactive_var};
pub use panel::Panel;
pub use render::render_text;
pub use view::{Blink, Indicators, Led, PanelView, PhaseIndicator, Screen, ScreenMode, Tariff};
