//! [`TruthRecord`]: one line of the JSON-lines truth file written next to a telegram
//! stream, saying what was simulated, what the meter meant and what was sent.
//! `docs/truth.md` documents the schema; keep the two in step.

use std::borrow::Cow;

use p1_faults::{Applied, Expect};
use p1_meter::{MeterState, SimTime};
use p1_panel::PanelView;
use p1_wire::Readout;
use serde::Serialize;

use crate::sim::{Refusal, SimFrame};
use crate::truth_json as json;

/// The truth about one telegram instant.
#[derive(Debug, Clone, Serialize)]
pub struct TruthRecord<'a> {
    /// The simulated instant, RFC 3339 UTC with milliseconds (`2026-03-29T00:30:00.000Z`).
    pub utc: String,
    /// The same instant as a Belgian local wire timestamp (`YYMMDDhhmmssX`), true time.
    pub local: String,
    /// The meter's own clock as printed in `0-0:1.0.0`, or `null` while silent.
    pub meter_time: Option<String>,
    /// The telegram the meter meant, exactly (CR LF kept), or `null` while silent. Without
    /// faults this is also what was sent.
    pub telegram: Option<Cow<'a, str>>,
    /// The four hex digits after `!` of `telegram`, or `null` while silent.
    pub crc: Option<&'a str>,
    /// What the meter meant, typed (the `readout` schema of docs/json.md), or `null`
    /// while silent: compare a parser's output with this.
    pub readout: Option<&'a Readout>,
    /// The meter's exact state.
    pub state: &'a MeterState,
    /// Scenario events the meter refused since the previous record.
    pub refused: &'a [Refusal],
    /// Only in scenarios with `[[faults]]`: what was sent and how consumers should react.
    #[serde(flatten)]
    pub faults: Option<FaultTruth<'a>>,
    /// Only in scenarios with a front panel (a `[panel]` table or panel events): what the
    /// panel shows at this instant. Absent otherwise, so panel-free truth files are
    /// unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panel: Option<&'a PanelView>,
}

/// The fault part of a truth record (scenarios with `[[faults]]` only).
#[derive(Debug, Clone, Serialize)]
pub struct FaultTruth<'a> {
    /// The bytes actually sent, each byte as the code point of the same value (latin-1,
    /// so noise bytes survive: encode as latin-1 to get the bytes back), or `null` when
    /// nothing was sent.
    pub sent: Option<String>,
    /// The faults that changed this telegram, in the order applied.
    pub faults: &'a [Applied],
    /// How consumers should react to `sent`; `null` while the meter is silent.
    pub verdict: Option<TruthVerdict>,
    /// What the sent telegram says after content quirks (read correctly), or `null` when
    /// nothing was sent.
    pub sent_readout: Option<&'a Readout>,
}

/// A verdict as written in the truth file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TruthVerdict {
    /// A strict e-MUCS consumer (`p1sim verify`) should accept the sent bytes: exactly
    /// one valid telegram, noise outside it skipped.
    pub should_accept: bool,
    /// What dsmr_parser's `TelegramParser.parse(sent, throw_ex=True)` does.
    pub dsmr_parser: Expect,
    /// What dsmr_parser's stream reader does with `sent` on its own.
    pub dsmr_reader: Expect,
}

/// Each byte as the character with the same code point (ASCII unchanged).
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

impl<'a> TruthRecord<'a> {
    /// The record of `frame`.
    pub fn from_frame(frame: &'a SimFrame) -> TruthRecord<'a> {
        let faulty = frame.faults_scheduled;
        // The meter's own bytes, as produced once by the simulation (ASCII: a readout
        // encodes to printable text and CR LF only).
        let bytes = frame.telegram();
        // `from_utf8` checks ASCII a word at a time; the lossy form only for the impossible.
        let telegram = (!bytes.is_empty()).then(|| match std::str::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(bytes),
        });
        let crc = bytes.iter().rposition(|&b| b == b'!').and_then(|bang| {
            let digits = bytes.get(bang + 1..bang + 5)?;
            std::str::from_utf8(digits).ok()
        });
        let faults = faulty.then(|| FaultTruth {
            sent: (!frame.bytes.is_empty()).then(|| latin1(&frame.bytes)),
            faults: &frame.applied,
            verdict: frame.verdict.map(|v| TruthVerdict {
                should_accept: v.spec_valid,
                dsmr_parser: v.dsmr_parser,
                dsmr_reader: v.dsmr_reader,
            }),
            sent_readout: frame.sent_readout.as_ref(),
        });
        TruthRecord {
            utc: rfc3339_millis(frame.at),
            local: frame.at.tst().to_string(),
            meter_time: frame.readout.as_ref().map(|r| r.time.to_string()),
            telegram,
            crc,
            readout: frame.readout.as_ref(),
            state: &frame.state,
            refused: &frame.refused,
            faults,
            panel: frame.panel.as_ref(),
        }
    }

    /// The record as one line of JSON, without the trailing newline.
    pub fn to_json_line(&self) -> String {
        let mut out = Vec::with_capacity(4096);
        self.write_json(&mut out);
        // serde_json writes UTF-8.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the record as one line of JSON and its newline to `out`: the same bytes
    /// as [`TruthRecord::to_json_line`], streamed by serde into the caller's buffer.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        self.write_json(out);
        out.push(b'\n');
    }

    /// The same bytes as `serde_json::to_writer(out, self)`, without serde on the hot
    /// path: the strings, the readout and the meter state are written by hand
    /// ([`crate::truth_json`]); serde writes only the parts that are empty or absent
    /// in ordinary runs (refusals, faults, panel).
    fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_with(out, &mut |out, text| json::string(out, text));
    }

    /// [`TruthRecord::write_json`] with `telegram` writing the telegram's JSON string
    /// (the [`crate::TruthWriter`] patches it from the previous one).
    pub(crate) fn write_json_with(
        &self,
        out: &mut Vec<u8>,
        telegram: &mut dyn FnMut(&mut Vec<u8>, &str),
    ) {
        out.extend_from_slice(b"{\"utc\":");
        json::string(out, &self.utc);
        out.extend_from_slice(b",\"local\":");
        json::string(out, &self.local);
        out.extend_from_slice(b",\"meter_time\":");
        json::opt_string(out, self.meter_time.as_deref());
        out.extend_from_slice(b",\"telegram\":");
        match self.telegram.as_deref() {
            Some(text) => telegram(out, text),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"crc\":");
        json::opt_string(out, self.crc);
        out.extend_from_slice(b",\"readout\":");
        match self.readout {
            Some(r) => json::readout(out, r),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"state\":");
        json::meter_state(out, self.state);
        out.extend_from_slice(b",\"refused\":");
        if self.refused.is_empty() {
            out.extend_from_slice(b"[]");
        } else {
            serde_into(out, self.refused);
        }
        if let Some(f) = &self.faults {
            out.extend_from_slice(b",\"sent\":");
            json::opt_string(out, f.sent.as_deref());
            out.extend_from_slice(b",\"faults\":");
            serde_into(out, f.faults);
            out.extend_from_slice(b",\"verdict\":");
            serde_into(out, &f.verdict);
            out.extend_from_slice(b",\"sent_readout\":");
            match f.sent_readout {
                Some(r) => json::readout(out, r),
                None => out.extend_from_slice(b"null"),
            }
        }
        if let Some(panel) = self.panel {
            out.extend_from_slice(b",\"panel\":");
            serde_into(out, panel);
        }
        out.push(b'}');
    }
}

/// Appends `v` as serde_json's compact form.
fn serde_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    // Plain data with string keys into a Vec: serializing cannot fail.
    let _ = serde_json::to_writer(out, v);
}

/// `t` as RFC 3339 UTC with milliseconds (`2026-03-29T00:30:00.000Z`), as chrono's
/// `to_rfc3339_opts(Millis, true)` prints it, without chrono's formatting machinery.
fn rfc3339_millis(t: SimTime) -> String {
    let ms = t.millis();
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Days since 1970-01-01 to a civil date (the proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return t.utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    }
    let mut out = [0u8; 24];
    let mut put = |at: usize, v: i64, width: usize| {
        let mut v = v;
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, in_day / 3_600_000, 2);
    put(14, in_day / 60_000 % 60, 2);
    put(17, in_day / 1000 % 60, 2);
    put(20, in_day % 1000, 3);
    for (at, sep) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        out[at] = sep;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut all: String = (0u8..=0x7F).map(char::from).collect();
        all.push_str("é€\u{1F600}\\\"/FLU5\\253769484_A\r\n");
        for s in [all.as_str(), "", "plain", "\r\n!0F49\r\n"] {
            let mut out = Vec::new();
            json::opt_string(&mut out, Some(s));
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
        let mut out = Vec::new();
        json::opt_string(&mut out, None);
        assert_eq!(out, b"null");
    }

    #[test]
    fn the_fast_line_is_the_derived_serialization() {
        let mut sim = crate::Simulation::new(&crate::Scenario::quickstart());
        let mut n = 0;
        while let Some(frame) = sim.next_frame() {
            let record = TruthRecord::from_frame(frame);
            assert_eq!(
                record.to_json_line(),
                serde_json::to_string(&record).unwrap()
            );
            n += 1;
        }
        assert_eq!(n, 600);
    }

    #[test]
    fn utc_is_printed_as_chrono_prints_it() {
        let mut t: i64 = -86_400_000 * 400;
        while t < 4_200_000_000_000 {
            let at = SimTime(t);
            let want = at
                .utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            assert_eq!(rfc3339_millis(at), want, "{t}");
            t += 7_919_999_937;
        }
        for t in [0, 951_782_400_000, 951_868_799_999, 4_102_444_799_999] {
            let at = SimTime(t);
            let want = at
                .utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            assert_eq!(rfc3339_millis(at), want, "{t}");
        }
    }
}
