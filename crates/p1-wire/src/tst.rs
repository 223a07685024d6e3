//! `TST` timestamps (`YYMMDDhhmmssX`) as printed on the wire. No calendar or time-zone
//! logic lives here: the S/W flag is whatever the caller says it is.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A wire timestamp `YYMMDDhhmmssX`, X = `S` (summer time) or `W` (winter time).
///
/// Fields are kept as printed, so placeholders real meters emit, such as the COSEM
/// "not specified" `632525252525W` or the factory default `000101010000W`, are ordinary
/// values; [`Tst::is_valid`] says whether the digits form a calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tst {
    /// Two-digit year (0..=99).
    pub year: u8,
    /// Month as printed.
    pub month: u8,
    /// Day as printed.
    pub day: u8,
    /// Hour as printed.
    pub hour: u8,
    /// Minute as printed.
    pub minute: u8,
    /// Second as printed.
    pub second: u8,
    /// `true` for `S` (daylight-saving time in force), `false` for `W`.
    pub dst: bool,
}

impl Tst {
    /// `632525252525W`: the "no value" timestamp of silent M-Bus channels and of
    /// stale 98.1.0 entries.
    pub const INVALID: Tst = Tst {
        year: 63,
        month: 25,
        day: 25,
        hour: 25,
        minute: 25,
        second: 25,
        dst: false,
    };

    /// `000101010000W`: the clock of a meter that lost its time (factory default).
    pub const FACTORY_DEFAULT: Tst = Tst {
        year: 0,
        month: 1,
        day: 1,
        hour: 1,
        minute: 0,
        second: 0,
        dst: false,
    };

    /// Builds a timestamp; `None` when a field does not fit two digits.
    pub fn new(
        year: u8,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        dst: bool,
    ) -> Option<Tst> {
        let t = Tst {
            year,
            month,
            day,
            hour,
            minute,
            second,
            dst,
        };
        [year, month, day, hour, minute, second]
            .iter()
            .all(|&f| f <= 99)
            .then_some(t)
    }

    /// Whether the digits name a real calendar instant (month 1..=12, a day that exists
    /// in that month, hour < 24, minute and second < 60).
    pub fn is_valid(&self) -> bool {
        let leap = self.year % 4 == 0; // years 2000..=2099
        let days = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return false,
        };
        (1..=days).contains(&self.day) && self.hour < 24 && self.minute < 60 && self.second < 60
    }

    /// Parses exactly 13 bytes `YYMMDDhhmmssX`.
    pub fn parse(text: &[u8]) -> Option<Tst> {
        let [digits @ .., flag] = text else {
            return None;
        };
        let dst = match flag {
            b'S' => true,
            b'W' => false,
            _ => return None,
        };
        let digits: &[u8; 12] = digits.try_into().ok()?;
        // Two words of eight digits, the second padded with `0000`.
        let (date, time) = digits.split_at(8);
        let date = u64::from_le_bytes(date.try_into().ok()?);
        let time = u64::from_le_bytes([time[0], time[1], time[2], time[3], b'0', b'0', b'0', b'0']);
        let (date, time) = (digit_pairs(date)?, digit_pairs(time)?);
        let field = |word: u64, pair: u32| (word >> (16 * pair)) as u8;
        Some(Tst {
            year: field(date, 0),
            month: field(date, 1),
            day: field(date, 2),
            hour: field(date, 3),
            minute: field(time, 0),
            second: field(time, 1),
            dst,
        })
    }
}

/// Eight ASCII digits, the first in the low byte of `word`, read as four two-digit
/// numbers: the one of digits `2i` and `2i + 1` in byte `2i` of the result. `None`
/// unless all eight bytes are digits. Eight bytes at a time (SWAR), as every telegram
/// carries several timestamps.
fn digit_pairs(word: u64) -> Option<u64> {
    const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);
    const HIGH_NIBBLES: u64 = u64::from_le_bytes([0xF0; 8]);
    const SIXES: u64 = u64::from_le_bytes([6; 8]);
    // A digit is 0x30..=0x39: high nibble 3, and still 3 after adding 6 to the low one
    // (no byte carries into the next once every high nibble is 3).
    let digits = word & HIGH_NIBBLES == ZEROS && word.wrapping_add(SIXES) & HIGH_NIBBLES == ZEROS;
    if !digits {
        return None;
    }
    // Each byte 0..=9 now; byte 2i becomes 10 x digit 2i + digit 2i + 1 (at most 99,
    // so no byte overflows into the next).
    let values = word - ZEROS;
    Some(values * 10 + (values >> 8))
}

impl Tst {
    /// Appends the 13 printed bytes (more if a field is over 99), as `Display` shows them.
    #[inline]
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let fields = [
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
        ];
        let flag = if self.dst { b'S' } else { b'W' };
        if fields.iter().all(|&v| v < 100) {
            let mut text = [flag; 13];
            for (i, v) in fields.into_iter().enumerate() {
                text[2 * i] = b'0' + v / 10;
                text[2 * i + 1] = b'0' + v % 10;
            }
            out.extend_from_slice(&text);
        } else {
            for v in fields {
                crate::format::write_two(out, v);
            }
            out.push(flag);
        }
    }
}

impl Tst {
    /// The printed text in a stack buffer (at most 6 x 3 digits and the flag).
    fn text(&self) -> ([u8; 19], usize) {
        let mut out = [0u8; 19];
        let fields = [
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
        ];
        let mut n = 0;
        for v in fields {
            if v >= 100 {
                out[n] = b'0' + v / 100;
                n += 1;
            }
            out[n] = b'0' + v / 10 % 10;
            out[n + 1] = b'0' + v % 10;
            n += 2;
        }
        out[n] = if self.dst { b'S' } else { b'W' };
        (out, n + 1)
    }
}

impl fmt::Display for Tst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (text, n) = self.text();
        // Digits and S/W only.
        f.write_str(std::str::from_utf8(&text[..n]).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Tst {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (text, n) = self.text();
        s.serialize_str(std::str::from_utf8(&text[..n]).unwrap_or_default())
    }
}

impl<'de> Deserialize<'de> for Tst {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tst, D::Error> {
        let text = String::deserialize(d)?;
        Tst::parse(text.as_bytes()).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected a timestamp YYMMDDhhmmssS|W, found {text:?}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_round_trip() {
        for text in [
            "632525252525W",
            "000101010000W",
            "221220204556W",
            "230401000000S",
        ] {
            let t = Tst::parse(text.as_bytes()).unwrap();
            assert_eq!(t.to_string(), text);
        }
        assert!(!Tst::INVALID.is_valid());
        assert!(Tst::FACTORY_DEFAULT.is_valid());
        assert_eq!(Tst::INVALID.to_string(), "632525252525W");
        let wide = Tst {
            year: 255,
            ..Tst::INVALID
        };
        assert_eq!(wide.to_string(), "2552525252525W");
    }

    #[test]
    fn rejects_malformed() {
        for text in [
            "63252525252W",
            "632525252525X",
            "6325252525a5W",
            "632525252525WW",
        ] {
            assert_eq!(Tst::parse(text.as_bytes()), None, "{text}");
        }
        assert!(!Tst::parse(b"230229000000W").unwrap().is_valid());
        assert!(Tst::parse(b"240229000000W").unwrap().is_valid());
    }

    /// What [`Tst::parse`] means, a byte at a time.
    fn parse_plainly(text: &[u8]) -> Option<Tst> {
        if text.len() != 13 || !text[..12].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let two = |i: usize| (text[i] - b'0') * 10 + (text[i + 1] - b'0');
        let dst = match text[12] {
            b'S' => true,
            b'W' => false,
            _ => return None,
        };
        Tst::new(two(0), two(2), two(4), two(6), two(8), two(10), dst)
    }

    #[test]
    fn parse_is_the_plain_reading_for_every_byte_anywhere() {
        for base in [&b"632525252525W"[..], b"000101010000S", b"991231235959W"] {
            assert_eq!(Tst::parse(base), parse_plainly(base));
            for at in 0..base.len() {
                for b in 0..=u8::MAX {
                    let mut text = base.to_vec();
                    text[at] = b;
                    assert_eq!(Tst::parse(&text), parse_plainly(&text), "{text:?}");
                    text.insert(at, b);
                    assert_eq!(Tst::parse(&text), parse_plainly(&text), "{text:?}");
                    text.remove(at);
                    text.remove(at);
                    assert_eq!(Tst::parse(&text), parse_plainly(&text), "{text:?}");
                }
            }
        }
    }
}
