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
const PEAK_TEXT: &str = "1-0:1.6.0";

fn read_history(o: &Obj) -> Res<Vec<HistoryEntry>> {
    let shape =
        "(n)(1-0:1.6.0)(1-0:1.6.0) then n x (period)(peak time)(00.000*kW), or () when n is 0";
    if o.values.len() < 3 {
        return Err(o.fail(shape));
    }
    let n: usize = (o.values[0].len() <= 2 && o.values[0].bytes().all(|b| b.is_ascii_digit()))
        .then(|| o.values[0].parse().ok())
        .flatten()
        .filter(|n| *n <= 13)
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
    #[test]
    fn peak_text_is_the_peak_code() {
        assert_eq!(super::PEAK_TEXT, crate::obis::codes::PEAK.to_string());
    }
}
