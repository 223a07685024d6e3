//! Sans-IO model of a Fluvius Sagemcom S211/T211 electricity meter.
//!
//! The model never reads a clock, never sleeps and does no I/O: every operation takes the
//! current instant as a [`SimTime`], and [`Meter::next_deadline`] says when something
//! happens on its own (quarter boundary, tariff switch, month change, M-Bus capture,
//! pending prepaid release, prepaid exhaustion), so a driver can jump from event to event.
//!
//! Registers are integers in fine units (energy in mJ = W·ms internally, Wh on the wire),
//! so no floating point ever reaches a register.

pub mod config;
pub mod demand;
pub mod mbus;
pub mod meter;
mod tariff;
pub mod time;

pub use config::{
    EmptyPeak, Grid, MbusConfig, MbusKind, MeterConfig, PeakStamp, Prepaid, TariffCalendar,
};
pub use demand::DemandState;
pub use mbus::{Capture, ChannelStatus, MBUS_CHANNELS, MbusState, check_channel};
pub use meter::{
    BUTTON_HOLD_MS, Command, CommandError, ConfigError, ConfigField, CutReason, Load, MAX_TIME,
    MIN_TIME, MJ_PER_WH, MbusField, Meter, MeterState, PhaseLoad, PrepaidState,
};
pub use time::{LocalClock, SimTime};
