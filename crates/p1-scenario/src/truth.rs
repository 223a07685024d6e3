//! [`TruthRecord`]: one line of the JSON-lines truth file written next to a telegram
//! stream, saying what was simulated and what was sent. `docs/truth.md` documents the
//! schema; keep the two in step.

use p1_meter::MeterState;
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
    /// The meter's own clock as sent in `0-0:1.0.0`, or `null` while silent.
    pub meter_time: Option<String>,
    /// The telegram text exactly as sent (CR LF kept), or `null` while silent.
    pub telegram: Option<String>,
    /// The four hex digits after `!`, or `null` while silent.
    pub crc: Option<String>,
    /// What the telegram means, typed (the `readout` schema of docs/json.md), or `null`
    /// while silent: compare a parser's output with this.
    pub readout: Option<&'a Readout>,
    /// The meter's exact state.
    pub state: &'a MeterState,
    /// Scenario events the meter refused since the previous record.
    pub refused: &'a [Refusal],
}

impl<'a> TruthRecord<'a> {
    /// The record of `frame`.
    pub fn from_frame(frame: &'a Frame) -> TruthRecord<'a> {
        let telegram =
            (!frame.bytes.is_empty()).then(|| String::from_utf8_lossy(&frame.bytes).into_owned());
        let crc = telegram.as_ref().and_then(|t| {
            let bang = t.rfind('!')?;
            t.get(bang + 1..bang + 5).map(str::to_owned)
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
        }
    }

    /// The record as one line of JSON, without the trailing newline.
    pub fn to_json_line(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
