//! [`TruthRecord`]: one line of the JSON-lines truth file written next to a telegram
//! stream, saying what was simulated, what the meter meant and what was sent.
//! `docs/truth.md` documents the schema; keep the two in step.

use std::borrow::Cow;

use p1_faults::{Applied, Expect};
use p1_meter::MeterState;
use p1_panel::PanelView;
use p1_wire::Readout;
use serde::Serialize;

use crate::sim::{Frame, Refusal};

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
    pub fn from_frame(frame: &'a Frame) -> TruthRecord<'a> {
        let faulty = frame.faults_scheduled;
        // The meter's own bytes, as produced once by the simulation (ASCII: a readout
        // encodes to printable text and CR LF only).
        let bytes = frame.telegram();
        let telegram = (!bytes.is_empty()).then(|| String::from_utf8_lossy(bytes));
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
            utc: frame
                .at
                .utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
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

    fn write_json(&self, out: &mut Vec<u8>) {
        // Serializing plain data with string keys into a Vec cannot fail.
        let _ = serde_json::to_writer(out, self);
    }
}
