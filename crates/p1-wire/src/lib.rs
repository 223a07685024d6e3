//! Byte-exact e-MUCS P1 telegrams as the Fluvius Sagemcom S211/T211 emit them.
//!
//! Two views of a telegram: [`Telegram`], the printed lines in order (unknown objects
//! included), which round-trips any telegram byte for byte; and [`Readout`], its typed
//! content in exact integer units, which the meter model produces. [`Readout::to_bytes`]
//! encodes; [`Decoder`] and [`decode_all`] find and check telegrams in a byte stream.
//!
//! This crate knows bytes only: no clock, time zone, randomness or I/O.

mod crc_delta;
pub mod decode;
pub mod encode;
pub mod encoder;
mod fields;
mod format;
pub mod obis;
pub mod readout;
#[cfg(any(test, feature = "proptest"))]
pub mod strategies;
pub mod telegram;
pub mod tst;

pub use decode::{Checked, DecodeError, Decoder, ErrorKind, Frame, MAX_TELEGRAM_LEN, decode_all};
pub use encode::reading_obis;
pub use encoder::Encoder;
pub use obis::Obis;
pub use readout::{
    Breaker, Demand, HistoryEntry, MbusCapture, MbusReadout, Model, Peak, PhaseReadout, Readout,
    Version,
};
pub use telegram::{CRC, Line, Telegram, crc16};
pub use tst::Tst;
