//! The codec commands: `p1sim verify`, `p1sim decode` and `p1sim encode`.
//!
//! Inputs are streamed through [`p1_wire::Decoder`] in fixed-size chunks, so memory stays
//! bounded whatever the input length.

use std::io::{self, BufRead, Read, Write};

use p1_wire::{Checked, DecodeError, Decoder, Frame, Line, Readout, Telegram};
use serde::{Deserialize, Serialize};

use crate::error::CliError;
use crate::input::Input;

/// One telegram of `p1sim decode` output (one JSON object per line; see docs/json.md).
#[derive(Debug, Serialize, Deserialize)]
pub struct DecodedJson {
    /// Offset of the telegram's `/` in the input.
    pub offset: usize,
    /// Telegram length in bytes; absent on errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<usize>,
    /// CRC printed after `!`, four upper-case hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc: Option<String>,
    /// Text after `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identification: Option<String>,
    /// Every data line in order, with the raw text of each value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<Line>>,
    /// Typed content (exact integer units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readout: Option<Readout>,
    /// Why the telegram is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorJson>,
}

/// A decoding error in JSON.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorJson {
    /// Offset of the problem in the input.
    pub offset: usize,
    /// 1-based line within the telegram.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl DecodedJson {
    fn from_result(r: &Result<Frame, DecodeError>) -> DecodedJson {
        match r {
            Ok(f) => DecodedJson {
                offset: f.offset,
                length: Some(f.len),
                crc: Some(format!("{:04X}", f.crc)),
                identification: Some(f.telegram.identification.clone()),
                lines: Some(f.telegram.lines.clone()),
                readout: Some(f.readout.clone()),
                error: None,
            },
            Err(e) => DecodedJson {
                offset: e.telegram_offset,
                length: None,
                crc: None,
                identification: None,
                lines: None,
                readout: None,
                error: Some(ErrorJson {
                    offset: e.offset,
                    line: e.line,
                    column: e.column,
                    message: e.to_string(),
                }),
            },
        }
    }
}

/// What [`scan`] calls for each telegram found.
pub(crate) type OnTelegram<'e> =
    dyn FnMut(Result<Checked<'_>, DecodeError>) -> Result<(), CliError> + 'e;

/// Feeds `input` through a decoder, calling `each` per telegram; returns bytes skipped.
pub(crate) fn scan(input: &mut Input, each: &mut OnTelegram<'_>) -> Result<usize, CliError> {
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut failure = None;
    loop {
        let n = match input.reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CliError::io(&input.name, e)),
        };
        decoder.feed_checked(&buf[..n], &mut |r| {
            if failure.is_none() {
                if let Err(e) = each(r) {
                    failure = Some(e);
                }
            }
        });
        if let Some(e) = failure.take() {
            return Err(e);
        }
    }
    decoder.finish_checked(&mut |r| {
        if failure.is_none() {
            if let Err(e) = each(r) {
                failure = Some(e);
            }
        }
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(decoder.skipped()),
    }
}

/// `p1sim verify`: one line per telegram; `Ok(true)` when at least one telegram was found
/// and all are valid.
pub fn verify(inputs: &[String], out: &mut dyn Write) -> Result<bool, CliError> {
    let mut found = 0usize;
    let mut bad = 0usize;
    let names: Vec<String> = if inputs.is_empty() {
        vec!["-".into()]
    } else {
        inputs.to_vec()
    };
    for name in &names {
        let mut input = Input::open(name)?;
        let shown = input.name.clone();
        let mut index = 0usize;
        let skipped = scan(&mut input, &mut |r| {
            index += 1;
            found += 1;
            match &r {
                Ok(f) => {
                    let r = &f.readout;
                    writeln!(
                        out,
                        "{shown}: telegram {index} at offset {}: OK {:?} {} {} CRC {:04X}",
                        f.offset,
                        r.model,
                        r.version.code(),
                        r.time,
                        f.crc
                    )
                }
                Err(e) => {
                    bad += 1;
                    writeln!(
                        out,
                        "{shown}: telegram {index} at offset {}: {e}",
                        e.telegram_offset
                    )
                }
            }
            .map_err(CliError::stdout)
        })?;
        if index == 0 {
            writeln!(out, "{shown}: no telegram found ('/' ... '!' CRC)")
                .map_err(CliError::stdout)?;
        } else if skipped > 0 {
            writeln!(out, "{shown}: {skipped} byte(s) outside telegrams skipped")
                .map_err(CliError::stdout)?;
        }
    }
    Ok(found > 0 && bad == 0)
}

/// `p1sim decode`: one JSON object per telegram; `Ok(true)` when all were valid.
pub fn decode(input: &str, out: &mut dyn Write) -> Result<bool, CliError> {
    let mut input = Input::open(input)?;
    let mut all_ok = true;
    let mut found = 0usize;
    scan(&mut input, &mut |r| {
        found += 1;
        all_ok &= r.is_ok();
        let r = r.map(Checked::into_frame);
        let json = serde_json::to_string(&DecodedJson::from_result(&r))
            .map_err(|e| CliError::Internal(e.to_string()))?;
        writeln!(out, "{json}").map_err(CliError::stdout)
    })?;
    Ok(all_ok && found > 0)
}

/// Longest JSON line `encode` reads: far above any decoded telegram (8 KiB of telegram
/// gives well under 100 kB of JSON), small enough to bound memory on any input.
pub const MAX_JSON_LINE: usize = 1 << 20;

/// `p1sim encode`: reads `decode`'s JSON objects (one per line) and writes each
/// telegram's bytes, from its `lines` (or, without them, its `readout`).
pub fn encode(input: &str, out: &mut dyn Write) -> Result<(), CliError> {
    let input = Input::open(input)?;
    let name = input.name.clone();
    let mut reader = io::BufReader::new(input.reader);
    let mut bytes = Vec::with_capacity(4096);
    let mut raw = Vec::with_capacity(4096);
    for lineno in 1.. {
        // Read at most one byte past the limit: memory stays bounded whatever the input.
        raw.clear();
        let n = (&mut reader)
            .take(MAX_JSON_LINE as u64 + 1)
            .read_until(b'\n', &mut raw)
            .map_err(|e| CliError::io(&name, e))?;
        if n == 0 {
            break;
        }
        let bad = |column: usize, message: String| CliError::Input {
            path: name.clone(),
            line: lineno,
            column,
            message,
        };
        if raw.len() > MAX_JSON_LINE && raw.last() != Some(&b'\n') {
            return Err(bad(
                MAX_JSON_LINE + 1,
                format!(
                    "expected a JSON line of at most {MAX_JSON_LINE} bytes (one decoded \
                     telegram), found a longer one"
                ),
            ));
        }
        let line = std::str::from_utf8(&raw).map_err(|e| {
            bad(
                e.valid_up_to() + 1,
                format!(
                    "expected UTF-8 JSON, found byte 0x{:02X}",
                    raw[e.valid_up_to()]
                ),
            )
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let json: DecodedJson =
            serde_json::from_str(line).map_err(|e| bad(e.column(), e.to_string()))?;
        bytes.clear();
        match (json.identification, json.lines, json.readout) {
            (Some(identification), Some(lines), _) => Telegram {
                identification,
                lines,
            }
            .write_to(&mut bytes),
            (_, _, Some(readout)) => readout.to_telegram().write_to(&mut bytes),
            _ => {
                let why = match json.error {
                    Some(e) => format!("this telegram did not decode ({})", e.message),
                    None => "expected \"identification\" and \"lines\", or \"readout\"".into(),
                };
                return Err(bad(1, why));
            }
        }
        out.write_all(&bytes).map_err(CliError::stdout)?;
    }
    out.flush().map_err(CliError::stdout)
}
