//! Fault injection for e-MUCS P1 telegrams: every way a P1 line goes wrong, scheduled by
//! the scenario file and reproducible from its seed.
//!
//! A [`FaultInjector`] holds the scenario's [`FaultSpec`]s. For each telegram the meter
//! model produces, [`FaultInjector::apply`] returns an [`Emission`]: the bytes to send,
//! how to split them into writes, which faults changed what, the content after content
//! quirks, and a [`Verdict`] saying whether a strict consumer must accept the bytes and
//! what dsmr_parser 1.11.2 does with them.
//!
//! This crate does no I/O and reads no clock; time arrives as an argument and randomness
//! comes only from `ChaCha8Rng` seeded by the scenario seed.

mod content;
mod dsmr;
mod inject;
mod spec;

pub use dsmr::Expect;
pub use inject::{Applied, Emission, FaultInjector, Piece, Verdict};
pub use spec::{
    CrcMode, FaultError, FaultKind, FaultPart, FaultSpec, MAX_NOISE, MAX_OVERSIZE, MissingCrc,
    NoisePattern, SALT, Schedule, TstField,
};
