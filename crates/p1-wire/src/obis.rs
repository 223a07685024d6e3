//! OBIS reduced identifiers `A-B:C.D.E` ([`Obis`]) and the codes this crate knows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An OBIS reduced identifier `A-B:C.D.E`, e.g. `1-0:1.8.1`; B is the M-Bus channel
/// for sub-meter objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Obis {
    /// Medium group A (0 abstract, 1 electricity).
    pub a: u8,
    /// Channel B.
    pub b: u8,
    /// Quantity C.
    pub c: u8,
    /// Processing D.
    pub d: u8,
    /// Tariff / storage E.
    pub e: u8,
}

impl Obis {
    /// Builds `a-b:c.d.e`.
    pub const fn new(a: u8, b: u8, c: u8, d: u8, e: u8) -> Obis {
        Obis { a, b, c, d, e }
    }

    /// The same object on M-Bus channel `b`.
    pub const fn on_channel(self, b: u8) -> Obis {
        Obis { b, ..self }
    }

    /// Appends `A-B:C.D.E` as `Display` prints it.
    #[inline]
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(ObisText::of(*self).as_bytes());
    }

    /// Parses the identifier at the start of `text`; returns it with its length in bytes.
    pub fn parse_prefix(text: &[u8]) -> Option<(Obis, usize)> {
        let mut pos = 0;
        let mut fields = [0u8; 5];
        for (i, sep) in [b'-', b':', b'.', b'.', 0].into_iter().enumerate() {
            let start = pos;
            let mut value: u16 = 0;
            while pos < text.len() && text[pos].is_ascii_digit() && pos - start < 3 {
                value = value * 10 + u16::from(text[pos] - b'0');
                pos += 1;
            }
            // No leading zeros: `01` would parse as 1 and re-encode differently.
            let leading_zero = pos - start > 1 && text[start] == b'0';
            if pos == start || value > 255 || leading_zero {
                return None;
            }
            fields[i] = value as u8;
            if sep != 0 {
                if text.get(pos) != Some(&sep) {
                    return None;
                }
                pos += 1;
            }
        }
        let [a, b, c, d, e] = fields;
        Some((Obis { a, b, c, d, e }, pos))
    }
}

/// The printed form of an [`Obis`], computed by a `const fn` so that the encoder's
/// fixed codes are printed at compile time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObisText {
    bytes: [u8; 19],
    len: u8,
}

impl ObisText {
    /// The text of `o`, `A-B:C.D.E` without leading zeros.
    pub(crate) const fn of(o: Obis) -> ObisText {
        let fields = [o.a, o.b, o.c, o.d, o.e];
        let seps = [b'-', b':', b'.', b'.', 0];
        let mut bytes = [0u8; 19];
        let mut n = 0;
        let mut i = 0;
        while i < 5 {
            let v = fields[i];
            if v >= 100 {
                bytes[n] = b'0' + v / 100;
                n += 1;
            }
            if v >= 10 {
                bytes[n] = b'0' + v / 10 % 10;
                n += 1;
            }
            bytes[n] = b'0' + v % 10;
            n += 1;
            if seps[i] != 0 {
                bytes[n] = seps[i];
                n += 1;
            }
            i += 1;
        }
        ObisText {
            bytes,
            len: n as u8,
        }
    }

    /// The printed bytes.
    pub(crate) const fn as_bytes(&self) -> &[u8] {
        self.bytes.split_at(self.len as usize).0
    }
}

impl fmt::Display for Obis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}:{}.{}.{}", self.a, self.b, self.c, self.d, self.e)
    }
}

/// Error of [`Obis::from_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObisParseError(pub String);

impl fmt::Display for ObisParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected an OBIS code like 1-0:1.8.1, found {:?}",
            self.0
        )
    }
}

impl std::error::Error for ObisParseError {}

impl FromStr for Obis {
    type Err = ObisParseError;
    fn from_str(s: &str) -> Result<Obis, ObisParseError> {
        match Obis::parse_prefix(s.as_bytes()) {
            Some((o, n)) if n == s.len() => Ok(o),
            _ => Err(ObisParseError(s.to_owned())),
        }
    }
}

impl Serialize for Obis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = ObisText::of(*self);
        // Digits and separators only.
        s.serialize_str(std::str::from_utf8(text.as_bytes()).unwrap_or_default())
    }
}

impl<'de> Deserialize<'de> for Obis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Obis, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The objects of a Fluvius telegram (e-MUCS P1 1.3 to 1.7.1, spec section 3.2).
pub mod codes {
    use super::Obis;

    /// `0-0:96.1.4` e-MUCS version.
    pub const VERSION: Obis = Obis::new(0, 0, 96, 1, 4);
    /// `0-0:96.1.1` equipment id (also `0-n:96.1.1` on M-Bus channels).
    pub const EQUIPMENT_ID: Obis = Obis::new(0, 0, 96, 1, 1);
    /// `0-0:1.0.0` telegram time.
    pub const TIME: Obis = Obis::new(0, 0, 1, 0, 0);
    /// `1-0:1.8.1` import, tariff 1 (day).
    pub const IMPORT_T1: Obis = Obis::new(1, 0, 1, 8, 1);
    /// `1-0:1.8.2` import, tariff 2 (night).
    pub const IMPORT_T2: Obis = Obis::new(1, 0, 1, 8, 2);
    /// `1-0:2.8.1` export, tariff 1.
    pub const EXPORT_T1: Obis = Obis::new(1, 0, 2, 8, 1);
    /// `1-0:2.8.2` export, tariff 2.
    pub const EXPORT_T2: Obis = Obis::new(1, 0, 2, 8, 2);
    /// `0-0:96.14.0` tariff indicator.
    pub const TARIFF: Obis = Obis::new(0, 0, 96, 14, 0);
    /// `1-0:1.4.0` demand of the running quarter.
    pub const DEMAND: Obis = Obis::new(1, 0, 1, 4, 0);
    /// `1-0:1.6.0` the month's peak.
    pub const PEAK: Obis = Obis::new(1, 0, 1, 6, 0);
    /// `0-0:98.1.0` 13-month peak history.
    pub const HISTORY: Obis = Obis::new(0, 0, 98, 1, 0);
    /// `1-0:1.7.0` total import power.
    pub const IMPORT_POWER: Obis = Obis::new(1, 0, 1, 7, 0);
    /// `1-0:2.7.0` total export power.
    pub const EXPORT_POWER: Obis = Obis::new(1, 0, 2, 7, 0);
    /// `1-0:21/41/61.7.0` import power per phase.
    pub const PHASE_IMPORT: [Obis; 3] = [
        Obis::new(1, 0, 21, 7, 0),
        Obis::new(1, 0, 41, 7, 0),
        Obis::new(1, 0, 61, 7, 0),
    ];
    /// `1-0:22/42/62.7.0` export power per phase.
    pub const PHASE_EXPORT: [Obis; 3] = [
        Obis::new(1, 0, 22, 7, 0),
        Obis::new(1, 0, 42, 7, 0),
        Obis::new(1, 0, 62, 7, 0),
    ];
    /// `1-0:32/52/72.7.0` voltage per phase.
    pub const VOLTAGE: [Obis; 3] = [
        Obis::new(1, 0, 32, 7, 0),
        Obis::new(1, 0, 52, 7, 0),
        Obis::new(1, 0, 72, 7, 0),
    ];
    /// `1-0:31/51/71.7.0` current per phase.
    pub const CURRENT: [Obis; 3] = [
        Obis::new(1, 0, 31, 7, 0),
        Obis::new(1, 0, 51, 7, 0),
        Obis::new(1, 0, 71, 7, 0),
    ];
    /// `0-0:96.3.10` breaker state.
    pub const BREAKER: Obis = Obis::new(0, 0, 96, 3, 10);
    /// `0-0:17.0.0` power limiter threshold.
    pub const LIMITER: Obis = Obis::new(0, 0, 17, 0, 0);
    /// `1-0:31.4.0` current threshold.
    pub const FUSE: Obis = Obis::new(1, 0, 31, 4, 0);
    /// `0-0:96.13.0` text message.
    pub const MESSAGE: Obis = Obis::new(0, 0, 96, 13, 0);
    /// `0-n:24.1.0` M-Bus device type (channel 0 placeholder; use `on_channel`).
    pub const MBUS_TYPE: Obis = Obis::new(0, 0, 24, 1, 0);
    /// `0-n:24.4.0` gas valve.
    pub const MBUS_VALVE: Obis = Obis::new(0, 0, 24, 4, 0);
    /// `0-n:24.2.3` gas reading, not temperature-corrected.
    pub const MBUS_GAS: Obis = Obis::new(0, 0, 24, 2, 3);
    /// `0-n:24.2.1` water (and other) reading.
    pub const MBUS_WATER: Obis = Obis::new(0, 0, 24, 2, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for text in ["1-0:1.8.1", "0-0:96.3.10", "0-4:24.2.3", "0-0:98.1.0"] {
            assert_eq!(text.parse::<Obis>().unwrap().to_string(), text);
            let mut bytes = Vec::new();
            text.parse::<Obis>().unwrap().write_to(&mut bytes);
            assert_eq!(bytes, text.as_bytes());
        }
        for bad in [
            "1-0:1.8",
            "1-0:1.8.1x",
            "1:0-1.8.1",
            "1-0:1.8.256",
            "",
            "1-0:1.8.1234",
        ] {
            assert!(bad.parse::<Obis>().is_err(), "{bad}");
        }
    }
}
