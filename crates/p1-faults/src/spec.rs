//! The scenario-file schema of a fault ([`FaultSpec`]: what goes wrong, [`FaultKind`], and
//! when, [`Schedule`]) and its validation ([`FaultError`]).
//!
//! In TOML one fault is one `[[faults]]` table:
//!
//! ```toml
//! [[faults]]
//! fault = { kind = "bit_flip", obis = "1-0:1.8.1", crc = "recomputed" }
//! schedule = { every = { n = 10, offset = 3 } }
//! ```
//!
//! Every table denies unknown fields, so a typo is an error, not a silently ignored key.

use std::fmt;

use p1_wire::obis::codes;
use p1_wire::{Obis, Tst};
use serde::{Deserialize, Serialize};

/// One scheduled fault: a `[[faults]]` table of the scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What goes wrong.
    pub fault: FaultKind,
    /// Which telegrams it hits.
    pub schedule: Schedule,
}

/// Which telegrams a fault hits. Times are milliseconds since the Unix epoch, as the
/// driver resolves them; indices count telegrams from 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// `{ at_index = 12 }`: the telegram with this index.
    AtIndex(u64),
    /// `{ at_ms = 1700000000000 }`: once, on the first telegram at or after this instant.
    AtMs(i64),
    /// `{ window = { from_ms = .., until_ms = .. } }`: every telegram with
    /// `from_ms <= at < until_ms`.
    Window {
        /// First instant hit.
        from_ms: i64,
        /// First instant no longer hit.
        until_ms: i64,
    },
    /// `{ every = { n = 10, offset = 3 } }`: telegrams whose index is `offset` modulo `n`.
    Every {
        /// Period in telegrams (at least 1).
        n: u64,
        /// Index of the first hit, below `n`.
        #[serde(default)]
        offset: u64,
    },
    /// `{ probability = 0.05 }`: each telegram independently, drawn from a ChaCha8 stream
    /// of the scenario seed (the draw for a telegram depends only on seed, fault position
    /// and telegram index).
    Probability(f64),
}

/// Which timestamps [`FaultKind::InvalidTimestamp`] replaces by `632525252525W`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TstField {
    /// Every M-Bus capture time (`0-n:24.2.x`), values kept.
    Mbus,
    /// The month peak's capture time (`1-0:1.6.0`).
    Peak,
    /// Every 98.1.0 entry's peak capture time.
    History,
}

/// Whether a byte fault happens before the CRC is computed or on the wire after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrcMode {
    /// On the wire: the CRC still covers the original bytes, so it no longer matches.
    #[default]
    Stale,
    /// Upstream of the CRC (a gateway that re-frames): the CRC covers the changed bytes.
    Recomputed,
}

/// What follows `!` in [`FaultKind::MissingCrc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingCrc {
    /// `!` then CR LF.
    #[default]
    Crlf,
    /// `!` and nothing else.
    Nothing,
}

/// What noise bytes look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoisePattern {
    /// 0x00 bytes (a line held low).
    Zeros,
    /// 0xFF bytes (an idle line read with the wrong polarity, esphome/issues#2393).
    #[default]
    Ones,
    /// Bytes drawn from the seed.
    Random,
}

/// Every fault the injector knows. Layers: content quirks change the readout; line faults
/// change the printed lines; CRC and framing faults change the framed bytes; wire faults
/// change what is written and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    // ---- content quirks (readout) ----
    /// `632525252525W` in place of M-Bus, 1.6.0 or 98.1.0 capture times.
    InvalidTimestamp {
        /// Which timestamps.
        field: TstField,
    },
    /// The telegram time reads `000101010000W` (a meter that lost its clock).
    FactoryClock,
    /// The telegram time is shifted by `seconds` (display only; registers untouched).
    ClockShift {
        /// Shift, negative = backwards.
        seconds: i64,
    },
    /// The oldest 98.1.0 entry becomes `(period)(632525252525W)(00.000*kW)`.
    StaleHistoryHead,
    /// An extra gas channel whose capture is frozen at `(at)(00000.000*m3)`.
    StaleGasChannel {
        /// Channel 1..=4; default the first free one.
        #[serde(default)]
        channel: Option<u8>,
        /// Frozen capture time; default `230119124005W` (dsmr-reader#1794).
        #[serde(default)]
        at: Option<Tst>,
    },
    /// A channel reads `(632525252525W)(00000.000)`: configured, device silent, no unit.
    UnitlessReading {
        /// Channel 1..=4; default the first channel (a gas channel 1 is added if none).
        #[serde(default)]
        channel: Option<u8>,
    },
    /// 98.1.0 holds all 13 months.
    FullHistory,
    /// All four M-Bus channels are installed (gas, water, gas, water; gas only before 50216).
    AllMbusChannels,
    /// The text message 0-0:96.13.0 carries `bytes` bytes (hex-printed, at most 1024).
    LongMessage {
        /// Message length in bytes.
        bytes: usize,
    },
    /// Full history, all M-Bus channels, and a text message long enough for the telegram
    /// to reach `min_len` bytes (e.g. 1501 to pass ESPHome's default, 2049 to pass 2 KiB).
    Oversize {
        /// Target length in bytes.
        min_len: usize,
    },

    // ---- line faults (printed lines) ----
    /// One line is missing.
    DropLine {
        /// The line; default one drawn from the seed.
        #[serde(default)]
        obis: Option<Obis>,
    },
    /// One line is printed twice in a row.
    DuplicateLine {
        /// The line; default one drawn from the seed.
        #[serde(default)]
        obis: Option<Obis>,
    },
    /// Two lines swap places.
    ReorderLines {
        /// First line; default drawn from the seed.
        #[serde(default)]
        first: Option<Obis>,
        /// Second line; default drawn from the seed.
        #[serde(default)]
        second: Option<Obis>,
    },
    /// An extra line with an object the meter does not print.
    UnknownLine {
        /// Its identifier; default `0-0:96.13.1`.
        #[serde(default = "default_unknown_obis")]
        obis: Obis,
        /// Its values (each printed in parentheses); default one empty value.
        #[serde(default = "default_unknown_values")]
        values: Vec<String>,
        /// Inserted after this line; default before `!`.
        #[serde(default)]
        after: Option<Obis>,
    },
    /// One digit of a measured value has bit 6 flipped (`5` becomes `u`).
    BitFlip {
        /// The line; default one drawn from the seed among lines with a `*unit` value.
        #[serde(default)]
        obis: Option<Obis>,
        /// Whether the CRC covers the flipped byte.
        #[serde(default)]
        crc: CrcMode,
    },
    /// A `/` at the start of a data line.
    StraySlash {
        /// The line; default one drawn from the seed.
        #[serde(default)]
        obis: Option<Obis>,
        /// Whether the CRC covers the inserted byte.
        #[serde(default)]
        crc: CrcMode,
    },
    /// The empty line after the identification is missing.
    NoBlankLine,

    // ---- CRC and framing ----
    /// The CRC printed is the right one XOR `xor`.
    WrongCrc {
        /// Non-zero mask; default `0x0001`.
        #[serde(default = "default_xor")]
        xor: u16,
    },
    /// The CRC is printed in lower case (`!3ad7`).
    LowerCaseCrc {
        /// Add a salt line `0-0:96.99.0(n)` until the CRC has a letter; otherwise the
        /// fault only shows when the CRC happens to have one (85% of telegrams).
        #[serde(default)]
        force: bool,
    },
    /// The CRC is printed without leading zeros (`!B9F`).
    UnpaddedCrc {
        /// Add a salt line `0-0:96.99.0(n)` until the CRC is below 0x1000; otherwise the
        /// fault only shows when it is (1 telegram in 16), as on a meter that never pads.
        #[serde(default)]
        force: bool,
    },
    /// No CRC after `!`.
    MissingCrc {
        /// What follows `!`.
        #[serde(default)]
        trailer: MissingCrc,
    },
    /// Every CR LF is a bare LF, the CRC computed over those bytes (a misconfigured gateway).
    LfOnly,
    /// The first `skip` bytes are lost (a reader that opened the port mid-telegram).
    TruncateHead {
        /// Bytes lost, at least 1; default drawn from the seed.
        #[serde(default)]
        skip: Option<usize>,
    },
    /// Only the first `keep` bytes are sent.
    TruncateTail {
        /// Bytes kept, at least 1; default drawn from the seed.
        #[serde(default)]
        keep: Option<usize>,
    },
    /// The first `keep` bytes of the telegram (cut before `!`) run straight into the whole
    /// telegram: an interrupted telegram followed by a complete one.
    RunTogether {
        /// Bytes of the interrupted copy, at least 1 and before `!`; default drawn.
        #[serde(default)]
        keep: Option<usize>,
    },

    // ---- the wire ----
    /// `len` noise bytes before the telegram. Never a `/` unless `allow_slash`.
    Noise {
        /// Number of bytes.
        len: usize,
        /// Their shape.
        #[serde(default)]
        pattern: NoisePattern,
        /// Random noise may contain `/` (which starts a bogus telegram).
        #[serde(default)]
        allow_slash: bool,
    },
    /// The emission is written in `pieces` writes with `pause_ms` between them.
    Split {
        /// Number of writes, at least 2.
        pieces: usize,
        /// Pause after each write but the last.
        pause_ms: u32,
    },
    /// Nothing is sent.
    Silence,
}

fn default_unknown_obis() -> Obis {
    Obis::new(0, 0, 96, 13, 1)
}

fn default_unknown_values() -> Vec<String> {
    vec![String::new()]
}

fn default_xor() -> u16 {
    1
}

/// Longest noise burst and text message accepted.
pub const MAX_NOISE: usize = 65_536;
/// Largest [`FaultKind::Oversize`] target: well under the decoder's 8 KiB limit with the
/// longest legal message.
pub const MAX_OVERSIZE: usize = 4096;

impl FaultKind {
    /// The snake_case name used in scenario files and truth files.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::InvalidTimestamp { .. } => "invalid_timestamp",
            FaultKind::FactoryClock => "factory_clock",
            FaultKind::ClockShift { .. } => "clock_shift",
            FaultKind::StaleHistoryHead => "stale_history_head",
            FaultKind::StaleGasChannel { .. } => "stale_gas_channel",
            FaultKind::UnitlessReading { .. } => "unitless_reading",
            FaultKind::FullHistory => "full_history",
            FaultKind::AllMbusChannels => "all_mbus_channels",
            FaultKind::LongMessage { .. } => "long_message",
            FaultKind::Oversize { .. } => "oversize",
            FaultKind::DropLine { .. } => "drop_line",
            FaultKind::DuplicateLine { .. } => "duplicate_line",
            FaultKind::ReorderLines { .. } => "reorder_lines",
            FaultKind::UnknownLine { .. } => "unknown_line",
            FaultKind::BitFlip { .. } => "bit_flip",
            FaultKind::StraySlash { .. } => "stray_slash",
            FaultKind::NoBlankLine => "no_blank_line",
            FaultKind::WrongCrc { .. } => "wrong_crc",
            FaultKind::LowerCaseCrc { .. } => "lower_case_crc",
            FaultKind::UnpaddedCrc { .. } => "unpadded_crc",
            FaultKind::MissingCrc { .. } => "missing_crc",
            FaultKind::LfOnly => "lf_only",
            FaultKind::TruncateHead { .. } => "truncate_head",
            FaultKind::TruncateTail { .. } => "truncate_tail",
            FaultKind::RunTogether { .. } => "run_together",
            FaultKind::Noise { .. } => "noise",
            FaultKind::Split { .. } => "split",
            FaultKind::Silence => "silence",
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        let channel_ok = |c: &Option<u8>| match c {
            Some(c) if !(1..=4).contains(c) => Err(format!("channel 1..=4, found {c}")),
            _ => Ok(()),
        };
        match self {
            FaultKind::StaleGasChannel { channel, .. } | FaultKind::UnitlessReading { channel } => {
                channel_ok(channel)
            }
            FaultKind::LongMessage { bytes } if *bytes > 1024 => Err(format!(
                "a text message of at most 1024 bytes (2048 hex characters), found {bytes}"
            )),
            FaultKind::Oversize { min_len } if *min_len > MAX_OVERSIZE => {
                Err(format!("min_len at most {MAX_OVERSIZE}, found {min_len}"))
            }
            FaultKind::UnknownLine { obis, values, .. } => {
                if is_known(*obis) {
                    return Err(format!(
                        "an object the meter does not print (not {obis}); use duplicate_line to repeat one"
                    ));
                }
                if values.is_empty() {
                    return Err("at least one value".into());
                }
                match values
                    .iter()
                    .flat_map(|v| v.bytes())
                    .find(|b| !(0x20..=0x7E).contains(b) || b"()/!".contains(b))
                {
                    Some(b) => Err(format!(
                        "values of printable ASCII without ( ) / !, found byte 0x{b:02X}"
                    )),
                    None => Ok(()),
                }
            }
            FaultKind::WrongCrc { xor: 0 } => Err("a non-zero xor mask".into()),
            FaultKind::TruncateHead { skip: Some(0) } => Err("skip at least 1".into()),
            FaultKind::TruncateTail { keep: Some(0) }
            | FaultKind::RunTogether { keep: Some(0) } => Err("keep at least 1".into()),
            FaultKind::Noise { len, .. } if *len == 0 || *len > MAX_NOISE => {
                Err(format!("len 1..={MAX_NOISE}, found {len}"))
            }
            FaultKind::Split { pieces, .. } if !(2..=4096).contains(pieces) => {
                Err(format!("pieces 2..=4096, found {pieces}"))
            }
            _ => Ok(()),
        }
    }
}

/// Whether the meter prints (or the decoder interprets) this object: every fixed code and
/// anything on an M-Bus channel.
pub(crate) fn is_known(obis: Obis) -> bool {
    let fixed = [
        codes::VERSION,
        codes::EQUIPMENT_ID,
        codes::TIME,
        codes::IMPORT_T1,
        codes::IMPORT_T2,
        codes::EXPORT_T1,
        codes::EXPORT_T2,
        codes::TARIFF,
        codes::DEMAND,
        codes::PEAK,
        codes::HISTORY,
        codes::IMPORT_POWER,
        codes::EXPORT_POWER,
        codes::BREAKER,
        codes::LIMITER,
        codes::FUSE,
        codes::MESSAGE,
        SALT,
    ];
    fixed.contains(&obis)
        || codes::PHASE_IMPORT.contains(&obis)
        || codes::PHASE_EXPORT.contains(&obis)
        || codes::VOLTAGE.contains(&obis)
        || codes::CURRENT.contains(&obis)
        || (obis.a == 0 && (1..=4).contains(&obis.b))
}

/// The object of the salt line that forces a CRC shape (`force = true`).
pub const SALT: Obis = Obis::new(0, 0, 96, 99, 0);

impl Schedule {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Schedule::Window { from_ms, until_ms } if from_ms >= until_ms => Err(format!(
                "from_ms before until_ms, found {from_ms} >= {until_ms}"
            )),
            Schedule::Every { n: 0, .. } => Err("n at least 1".into()),
            Schedule::Every { n, offset } if offset >= n => {
                Err(format!("offset below n, found offset {offset} with n {n}"))
            }
            Schedule::Probability(p) if !(0.0..=1.0).contains(p) => {
                Err(format!("a probability in 0..=1, found {p}"))
            }
            _ => Ok(()),
        }
    }
}

/// A fault specification that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultError {
    /// Position of the fault in the list (0-based).
    pub index: usize,
    /// Its kind name.
    pub kind: &'static str,
    /// Which part of the fault is wrong.
    pub part: FaultPart,
    /// What was expected.
    pub message: String,
}

/// The part of a [`FaultSpec`] a [`FaultError`] is about: the field path a scenario maps
/// to a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPart {
    /// The fault itself ([`FaultSpec::fault`]: a parameter out of range).
    Fault,
    /// Its schedule ([`FaultSpec::schedule`]).
    Schedule,
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fault {} ({}): expected {}",
            self.index + 1,
            self.kind,
            self.message
        )
    }
}

impl std::error::Error for FaultError {}
