//! The meter state machine: [`Meter`] integrates the household's [`Load`] over simulated
//! time into registers, tracks demand and the monthly peak, the breaker, the prepaid
//! credit and the M-Bus sub-meters, and reads out a [`p1_wire::Readout`].
//!
//! API CONTRACT (implementation pending, see issue 3).

use p1_wire::{Breaker, Readout};
use serde::Serialize;

use crate::{MbusConfig, MeterConfig, SimTime};

/// What one phase draws or injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PhaseLoad {
    /// Active power, W: positive = import from the grid, negative = export (PV).
    pub power_w: i64,
    /// Voltage, dV (0.1 V).
    pub voltage_dv: u32,
    /// Power factor in per-mille (1000 = resistive); current = |P| / (V x pf).
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
}

/// A command the meter refuses in its current state (e.g. the button on a connected meter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// What was refused and why.
    pub message: String,
}

/// A configuration the real meter cannot have (e.g. an S211 on 3x400V).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Which setting (e.g. `grid`, `mbus[2].equipment_id`).
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
}

/// A serializable snapshot of everything the meter knows, for truth files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterState {}

/// The simulated meter.
#[derive(Debug, Clone)]
pub struct Meter {}

impl Meter {
    /// A meter configured by `config`, starting at `start` with no load.
    pub fn new(config: MeterConfig, start: SimTime) -> Result<Meter, ConfigError> {
        let _ = (config, start);
        todo!()
    }

    /// The instant the meter has been advanced to.
    pub fn now(&self) -> SimTime {
        todo!()
    }

    /// Integrates the current load up to `now` (>= [`Meter::now`]), handling every
    /// boundary in between (quarter, tariff, month, captures).
    pub fn advance_to(&mut self, now: SimTime) {
        let _ = now;
        todo!()
    }

    /// Advances to `now`, then makes `load` the installation's demand from `now` on
    /// (the limiter may trip at once).
    pub fn set_load(&mut self, now: SimTime, load: &Load) {
        let _ = (now, load);
        todo!()
    }

    /// Advances to `now`, then applies `cmd`.
    pub fn apply(&mut self, now: SimTime, cmd: Command) -> Result<(), CommandError> {
        let _ = (now, cmd);
        todo!()
    }

    /// The next instant after [`Meter::now`] at which the meter changes on its own.
    pub fn next_deadline(&self) -> Option<SimTime> {
        todo!()
    }

    /// The telegram content at [`Meter::now`], or `None` while the line is silent
    /// (port disabled, power failure).
    pub fn readout(&self) -> Option<Readout> {
        todo!()
    }

    /// The breaker state.
    pub fn breaker(&self) -> Breaker {
        todo!()
    }

    /// Exact state for the truth file.
    pub fn state(&self) -> MeterState {
        todo!()
    }
}
