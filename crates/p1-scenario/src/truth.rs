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
use crate::truth_json::{self as json, Json};

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

impl<'a> FaultTruth<'a> {
    /// The fault part of `frame`'s record.
    pub(crate) fn of(frame: &'a SimFrame) -> FaultTruth<'a> {
        FaultTruth {
            sent: (!frame.bytes.is_empty()).then(|| latin1(&frame.bytes)),
            faults: &frame.applied,
            verdict: frame.verdict.map(|v| TruthVerdict {
                should_accept: v.spec_valid,
                dsmr_parser: v.dsmr_parser,
                dsmr_reader: v.dsmr_reader,
            }),
            sent_readout: frame.sent_readout.as_ref(),
        }
    }
}

/// The four hex digits after the last `!` of a telegram, if there are four.
pub(crate) fn crc_text(telegram: &[u8]) -> Option<&str> {
    let bang = telegram.iter().rposition(|&b| b == b'!')?;
    std::str::from_utf8(telegram.get(bang + 1..bang + 5)?).ok()
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
        let crc = crc_text(bytes);
        let faults = faulty.then(|| FaultTruth::of(frame));
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
        out.raw(b"{\"utc\":");
        out.string(&self.utc);
        out.raw(b",\"local\":");
        out.string(&self.local);
        out.raw(b",\"meter_time\":");
        json::opt_string(out, self.meter_time.as_deref());
        out.raw(b",\"telegram\":");
        json::opt_string(out, self.telegram.as_deref());
        out.raw(b",\"crc\":");
        json::opt_string(out, self.crc);
        write_rest(
            out,
            self.readout,
            self.state,
            self.refused,
            self.faults.as_ref(),
            self.panel,
        );
    }
}

/// A record's members from `readout` on, and its closing brace: what
/// [`TruthRecord::write_json`] and [`crate::TruthWriter`] share.
pub(crate) fn write_rest<J: Json>(
    j: &mut J,
    readout: Option<&Readout>,
    state: &MeterState,
    refused: &[Refusal],
    faults: Option<&FaultTruth>,
    panel: Option<&PanelView>,
) {
    j.raw(b",\"readout\":");
    json::opt(j, readout, json::readout);
    j.raw(b",\"state\":");
    json::meter_state(j, state);
    j.raw(b",\"refused\":");
    j.choice(u64::from(refused.is_empty()));
    if refused.is_empty() {
        j.raw(b"[]");
    } else {
        j.serde(refused);
    }
    j.choice(u64::from(faults.is_some()));
    if let Some(f) = faults {
        j.raw(b",\"sent\":");
        json::opt_string(j, f.sent.as_deref());
        j.raw(b",\"faults\":");
        j.serde(f.faults);
        j.raw(b",\"verdict\":");
        j.serde(&f.verdict);
        j.raw(b",\"sent_readout\":");
        json::opt(j, f.sent_readout, json::readout);
    }
    j.choice(u64::from(panel.is_some()));
    if let Some(panel) = panel {
        j.raw(b",\"panel\":");
        j.serde(panel);
    }
    j.raw(b"}");
}

/// `t` as RFC 3339 UTC with milliseconds (`2026-03-29T00:30:00.000Z`), as chrono's
/// `to_rfc3339_opts(Millis, true)` prints it, without chrono's formatting machinery.
fn rfc3339_millis(t: SimTime) -> String {
    match rfc3339_json(t) {
        Some(quoted) => String::from_utf8_lossy(&quoted[1..25]).into_owned(),
        None => t.utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }
}

/// [`rfc3339_millis`] as a JSON string, quotes included, for the years 0 to 9999
/// (`None` outside them: chrono then prints a sign or more digits).
pub(crate) fn rfc3339_json(t: SimTime) -> Option<[u8; 26]> {
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
        return None;
    }
    let mut out = [b'"'; 26];
    let mut put = |at: usize, v: i64, width: usize| {
        let mut v = v;
        for i in (1 + at..1 + at + width).rev() {
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
        out[1 + at] = sep;
    }
    Some(out)
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
