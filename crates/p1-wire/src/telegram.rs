//! The generic telegram: identification and ordered data lines exactly as printed
//! ([`Telegram`], [`Line`]), framing with CRLF and the CRC-16/ARC trailer.
//!
//! This layer keeps every line, known or not, in its place, so decoding then encoding a
//! telegram reproduces its bytes. The typed view is [`crate::Readout`].

use serde::{Deserialize, Serialize};

use crate::Obis;

/// CRC-16/ARC (poly 0x8005 reflected, init 0, no final XOR), as DSMR 5.0.2 §6.2 requires,
/// with the `crc` crate's slice-by-16 table (8 KiB, 16 bytes a step: several times the
/// byte-at-a-time table's speed, the same result).
pub const CRC: crc::Crc<u16, crc::Table<16>> =
    crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_ARC);

/// CRC-16/ARC of `bytes` (for a telegram: from `/` through `!`, both included).
pub fn crc16(bytes: &[u8]) -> u16 {
    CRC.checksum(bytes)
}

/// One data line: `OBIS(value)(value)...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The object identifier.
    pub obis: Obis,
    /// The text inside each pair of parentheses, unit included (`003457.591*kWh`).
    pub values: Vec<String>,
}

impl Line {
    /// A line with one value.
    pub fn single(obis: Obis, value: impl Into<String>) -> Line {
        Line {
            obis,
            values: vec![value.into()],
        }
    }
}

/// A telegram as printed: `/` identification, one empty line, data lines, `!` CRC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Telegram {
    /// Text after `/` on the first line, e.g. `FLU5\253769484_A`.
    pub identification: String,
    /// Data lines in the order they are printed.
    pub lines: Vec<Line>,
}

impl Telegram {
    /// The first line with this identifier.
    pub fn find(&self, obis: Obis) -> Option<&Line> {
        self.lines.iter().find(|l| l.obis == obis)
    }

    /// Appends the body, from `/` through `!`, the part the CRC covers.
    pub fn write_body(&self, out: &mut Vec<u8>) {
        out.push(b'/');
        out.extend_from_slice(self.identification.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        for line in &self.lines {
            line.obis.write_to(out);
            for v in &line.values {
                out.push(b'(');
                out.extend_from_slice(v.as_bytes());
                out.push(b')');
            }
            out.extend_from_slice(b"\r\n");
        }
        out.push(b'!');
    }

    /// Appends the whole telegram, CRC line and final CRLF included.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let start = out.len();
        self.write_body(out);
        let crc = crc16(&out[start..]);
        push_crc(out, crc);
    }

    /// The exact bytes a meter sends for this telegram.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        self.write_to(&mut out);
        out
    }
}

/// Appends `XXXX\r\n`: the CRC in four upper-case hex digits.
pub(crate) fn push_crc(out: &mut Vec<u8>, crc: u16) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((crc >> shift) & 0xF)]);
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_is_arc() {
        // The published check value of CRC-16/ARC.
        assert_eq!(crc16(b"123456789"), 0xBB3D);
        // The sliced table agrees with the byte-at-a-time one on every length and offset.
        let bytes: Vec<u8> = (0..300u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let simple = crc::Crc::<u16>::new(&crc::CRC_16_ARC);
        for start in 0..17 {
            for end in start..bytes.len() {
                assert_eq!(
                    crc16(&bytes[start..end]),
                    simple.checksum(&bytes[start..end])
                );
            }
        }
    }

    #[test]
    fn prints_framing() {
        let t = Telegram {
            identification: "FLU5\\253770234_A".into(),
            lines: vec![Line::single("0-0:96.1.4".parse().unwrap(), "50217")],
        };
        let bytes = t.to_bytes();
        let body = b"/FLU5\\253770234_A\r\n\r\n0-0:96.1.4(50217)\r\n!";
        assert_eq!(&bytes[..body.len()], body);
        let crc = format!("{:04X}\r\n", crc16(body));
        assert_eq!(&bytes[body.len()..], crc.as_bytes());
    }
}
