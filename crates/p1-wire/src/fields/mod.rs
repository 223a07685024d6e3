//! The object table: every known object's exact format per e-MUCS version (spec §3.2),
//! and the typed reading of a telegram's lines into a [`Readout`].
//!
//! Lines may come in any order; unknown objects are left to the generic layer. A known
//! object with the wrong width, decimals or unit, a repeated object, or a missing one is
//! an error naming the object and what it should look like. Each object family reads
//! its own lines: [`electricity`] (registers, tariff, powers, phases, breaker and
//! thresholds, message), [`demand`] (1.4.0, 1.6.0, 98.1.0) and [`mbus`] (channel
//! blocks); this module holds what they share and puts a [`Readout`] together.
//!
//! Lines are read borrowed ([`LineRef`]), so the decoder checks a telegram without
//! allocating a string per value.

mod demand;
mod electricity;
mod mbus;

pub(crate) use demand::{PEAK_TEXT, history_count};

use crate::format::{self, Fixed};
use crate::obis::codes;
use crate::{Breaker, Model, Obis, Readout, Tst, Version};

/// One data line, borrowed from the decoder's buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineRef<'a> {
    pub(crate) obis: Obis,
    pub(crate) values: &'a [&'a str],
}

/// Where a typed-reading error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The identification line.
    Header,
    /// Data line number n (0-based).
    Line(usize),
    /// Nowhere in particular (a missing object): the end of the telegram.
    End,
}

/// A typed-reading error; [`crate::decode`] turns it into a positioned `DecodeError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) obis: Option<Obis>,
    pub(crate) place: Place,
    pub(crate) expected: String,
    pub(crate) found: String,
}

pub(super) type Res<T> = Result<T, FieldError>;

fn quoted(values: &[&str]) -> String {
    let mut s = String::new();
    for v in values {
        s.push('(');
        s.push_str(v);
        s.push(')');
    }
    format!("{s:?}")
}

/// The value of an upper-case hex digit.
#[inline]
pub(crate) const fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The octet printed as two upper-case hex digits.
#[inline]
pub(crate) fn hex_octet(pair: [u8; 2]) -> Option<u8> {
    Some(nibble(pair[0])? << 4 | nibble(pair[1])?)
}

/// Decodes upper-case hex octets (`None` for odd length, lower case or non-hex).
pub(crate) fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    b.chunks_exact(2).map(|p| hex_octet([p[0], p[1]])).collect()
}

/// Longest equipment id `96.1.1`, in hex characters (48 octets).
pub(crate) const MAX_ID_HEX: usize = 96;
/// Longest text message `96.13.0`, in hex characters.
pub(crate) const MAX_MESSAGE_HEX: usize = 2 * Readout::MAX_MESSAGE_BYTES;

/// Whether a decoded equipment id is printable ASCII: graphic characters and spaces.
#[inline]
pub(crate) fn is_printable_id(c: char) -> bool {
    c.is_ascii_graphic() || c == ' '
}

/// A line being read: its index and values, with error constructors. Descriptions of
/// the expected form are built only when there is an error to report.
pub(super) struct Obj<'a> {
    pub(super) idx: usize,
    pub(super) obis: Obis,
    pub(super) values: &'a [&'a str],
}

impl Obj<'_> {
    pub(super) fn fail(&self, expected: impl Into<String>) -> FieldError {
        FieldError {
            obis: Some(self.obis),
            place: Place::Line(self.idx),
            expected: expected.into(),
            found: quoted(self.values),
        }
    }

    /// `n` values, or an error saying `what` was expected.
    pub(super) fn count(&self, n: usize, what: impl FnOnce() -> String) -> Res<()> {
        if self.values.len() == n {
            Ok(())
        } else {
            Err(self.fail(what()))
        }
    }

    pub(super) fn fixed_at(&self, i: usize, fmt: Fixed) -> Res<u64> {
        fmt.parse(self.values[i])
            .ok_or_else(|| self.fail(fmt.describe()))
    }

    pub(super) fn fixed(&self, fmt: Fixed) -> Res<u64> {
        self.count(1, || fmt.describe())?;
        self.fixed_at(0, fmt)
    }

    pub(super) fn tst_at(&self, i: usize) -> Res<Tst> {
        Tst::parse(self.values[i].as_bytes())
            .ok_or_else(|| self.fail("a timestamp YYMMDDhhmmssS|W"))
    }

    pub(super) fn hex(&self, max_chars: usize) -> Res<Vec<u8>> {
        let desc = || format!("upper-case hex octets, at most {max_chars} characters");
        self.count(1, desc)?;
        if self.values[0].len() > max_chars {
            return Err(self.fail(desc()));
        }
        hex_decode(self.values[0]).ok_or_else(|| self.fail(desc()))
    }

    pub(super) fn ascii_id(&self) -> Res<String> {
        let bytes = self.hex(MAX_ID_HEX)?;
        String::from_utf8(bytes)
            .ok()
            .filter(|s| s.chars().all(is_printable_id))
            .ok_or_else(|| self.fail("hex of a printable ASCII equipment id"))
    }

    pub(super) fn breaker(&self) -> Res<Breaker> {
        let v = self.fixed(format::STATE)?;
        Breaker::from_code(v as u8).ok_or_else(|| self.fail("0, 1 or 2"))
    }
}

/// Reads the typed content of a telegram: its identification and data lines.
pub(crate) fn readout(identification: &str, lines: &[LineRef<'_>]) -> Res<Readout> {
    let whole = |expected: String, found: String| FieldError {
        obis: None,
        place: Place::End,
        expected,
        found,
    };
    let model = Model::from_identification(identification).ok_or_else(|| FieldError {
        place: Place::Header,
        ..whole(
            format!(
                "identification {:?} (S211) or {:?} (T211)",
                Model::S211.identification(),
                Model::T211.identification()
            ),
            format!("{identification:?}"),
        )
    })?;

    // The version decides formats, so read it first.
    let (vidx, vline) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| l.obis == codes::VERSION)
        .ok_or_else(|| whole("object 0-0:96.1.4 (version)".into(), "none".into()))?;
    let vobj = Obj {
        idx: vidx,
        obis: vline.obis,
        values: vline.values,
    };
    let code = vobj.fixed(format::VERSION)?;
    let version = Version::from_code(code as u32)
        .ok_or_else(|| vobj.fail("a known e-MUCS version 50213..50217"))?;

    // Codes seen so far, packed into integers so the repeat check is a fast scan.
    let key = |o: Obis| u64::from_be_bytes([0, 0, 0, o.a, o.b, o.c, o.d, o.e]);
    let mut seen: Vec<u64> = Vec::with_capacity(lines.len());
    let mut elec = electricity::Reading::new(model, version);
    let mut dem = demand::Reading::new(version);
    let mut channels = mbus::Reading::default();
    for (idx, line) in lines.iter().enumerate() {
        let o = Obj {
            idx,
            obis: line.obis,
            values: line.values,
        };
        let obis = line.obis;
        if seen.contains(&key(obis)) {
            // Data line `k` (0-based) is line k + 3 of the telegram, after the
            // identification and the empty line.
            let first = lines[..idx].iter().position(|l| l.obis == obis);
            return Err(FieldError {
                found: format!("it again (first on line {})", first.map_or(0, |k| k + 3)),
                ..o.fail("each object once")
            });
        }
        seen.push(key(obis));
        // Each family claims its own objects; the rest (unknown objects, other objects
        // on an M-Bus channel) stay in the generic layer.
        let _claimed =
            obis == codes::VERSION || elec.read(&o)? || dem.read(&o)? || channels.read(&o)?;
    }

    let missing = |obis: Obis| FieldError {
        obis: Some(obis),
        place: Place::End,
        expected: format!(
            "object {obis}, which version {} always prints",
            version.code()
        ),
        found: "none".into(),
    };
    let demand = dem.finish(&missing)?;
    elec.finish(&missing, demand, channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_upper_case() {
        assert_eq!(hex_decode("31534147"), Some(b"1SAG".to_vec()));
        assert_eq!(hex_decode("3153414"), None);
        assert_eq!(hex_decode("315341a7"), None);
        assert_eq!(hex_decode("3G"), None);
    }
}
