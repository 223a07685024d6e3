//! Quarter-hour demand objects (50217): `1-0:1.4.0`, the month's peak `1-0:1.6.0` and
//! the 13-month history `0-0:98.1.0`.

use super::{FieldError, Obj, Res};
use crate::format;
use crate::obis::codes;
use crate::{Demand, HistoryEntry, Obis, Peak, Version};

/// What the lines read so far say about the demand objects.
pub(super) struct Reading {
    version: Version,
    current: Option<u32>,
    peak: Option<Peak>,
    history: Option<Vec<HistoryEntry>>,
}

impl Reading {
    pub(super) fn new(version: Version) -> Reading {
        Reading {
            version,
            current: None,
            peak: None,
            history: None,
        }
    }

    /// Reads `o` if it is a demand object; `Ok(false)` if it is not.
    pub(super) fn read(&mut self, o: &Obj) -> Res<bool> {
        let obis = o.obis;
        if obis != codes::DEMAND && obis != codes::PEAK && obis != codes::HISTORY {
            return Ok(false);
        }
        if !self.version.has_demand() {
            return Err(o.fail(format!("no such object in version {}", self.version.code())));
        }
        if obis == codes::DEMAND {
            self.current = Some(o.fixed(format::POWER)? as u32);
        } else if obis == codes::PEAK {
            o.count(2, || "(timestamp)(00.000*kW)".into())?;
            let at = o.tst_at(0)?;
            let w = o.fixed_at(1, format::POWER)? as u32;
            self.peak = Some(Peak { at, w });
        } else {
            self.history = Some(read_history(o)?);
        }
        Ok(true)
    }

    /// The demand objects: `Some` exactly when the version has them, all three present.
    pub(super) fn finish(self, missing: &dyn Fn(Obis) -> FieldError) -> Res<Option<Demand>> {
        if !self.version.has_demand() {
            return Ok(None);
        }
        Ok(Some(Demand {
            current_w: self.current.ok_or_else(|| missing(codes::DEMAND))?,
            peak: self.peak.ok_or_else(|| missing(codes::PEAK))?,
            history: self.history.ok_or_else(|| missing(codes::HISTORY))?,
        }))
    }
}

/// The printed code of the peak object, which 98.1.0 repeats twice.
pub(crate) const PEAK_TEXT: &str = "1-0:1.6.0";

/// Most entries 98.1.0 holds (13 months).
const MAX_HISTORY: usize = 13;

/// The entry count that opens 98.1.0: one or two digits, at most 13.
pub(crate) fn history_count(text: &[u8]) -> Option<usize> {
    let digit = |b: u8| b.is_ascii_digit().then(|| usize::from(b - b'0'));
    let n = match *text {
        [d] => digit(d)?,
        [tens, units] => digit(tens)? * 10 + digit(units)?,
        _ => return None,
    };
    (n <= MAX_HISTORY).then_some(n)
}

fn read_history(o: &Obj) -> Res<Vec<HistoryEntry>> {
    let shape =
        "(n)(1-0:1.6.0)(1-0:1.6.0) then n x (period)(peak time)(00.000*kW), or () when n is 0";
    if o.values.len() < 3 {
        return Err(o.fail(shape));
    }
    let n = history_count(o.values[0].as_bytes())
        .ok_or_else(|| o.fail("an entry count 0..13 without padding"))?;
    if o.values[1] != PEAK_TEXT || o.values[2] != PEAK_TEXT {
        return Err(o.fail(shape));
    }
    let rest = &o.values[3..];
    if n == 0 {
        return if rest.len() == 1 && rest[0].is_empty() {
            Ok(Vec::new())
        } else {
            Err(o.fail("(0)(1-0:1.6.0)(1-0:1.6.0)() for an empty history"))
        };
    }
    if rest.len() != 3 * n {
        return Err(o.fail(format!("{n} entries of three values, as the count says")));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let base = 3 + 3 * i;
        out.push(HistoryEntry {
            period: o.tst_at(base)?,
            at: o.tst_at(base + 1)?,
            w: o.fixed_at(base + 2, format::POWER)? as u32,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::history_count;

    #[test]
    fn peak_text_is_the_peak_code() {
        assert_eq!(super::PEAK_TEXT, crate::obis::codes::PEAK.to_string());
    }

    #[test]
    fn history_count_is_one_or_two_digits_up_to_13() {
        // What `str::parse` of at most two ASCII digits gives, capped at 13.
        for text in [
            "", "0", "7", "00", "09", "13", "14", "99", "100", "+1", " 1", "1a",
        ] {
            let by_parse = (text.len() <= 2 && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse::<usize>().ok())
                .flatten()
                .filter(|n| *n <= 13);
            assert_eq!(history_count(text.as_bytes()), by_parse, "{text:?}");
        }
    }
}
