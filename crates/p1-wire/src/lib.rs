//! Byte-exact e-MUCS P1 telegrams as the Fluvius Sagemcom S211/T211 emit them.
//!
//! Knows bytes only: no clock, time zone, randomness or I/O.

pub mod readout;
pub mod tst;

pub use readout::{
    Breaker, Demand, HistoryEntry, MbusCapture, MbusReadout, Model, PhaseReadout, Peak, Readout,
    Version,
};
pub use tst::Tst;
