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

/// Longest JSON line `encode` reads: a telegram's `decode` object is a few times its
/// [`p1_wire::MAX_TELEGRAM_LEN`] bytes, so 1 MiB leaves room for every legal one while
/// keeping memory bounded whatever the input.
pub const MAX_JSON_LINE: usize = 1 << 20;

/// `p1sim encode`: reads `decode`'s JSON objects (one per line) and writes each
/// telegram's bytes, from its `lines` (or, without them, its `readout`).
pub fn encode(input: &str, out: &mut dyn Write) -> Result<(), CliError> {
    let input = Input::open(input)?;
    let name = input.name.clone();
    encode_stream(&name, &mut io::BufReader::new(input.reader), out)
}

/// [`encode`] over any reader; `name` is how errors name the input.
///
/// Every telegram is decoded again with the strict decoder before it is written, and must
/// come back as exactly one telegram, whole, with the same lines (or the same readout):
/// a value that smuggles a CRLF, a `!` or a `/` into the stream, an object the decoder's
/// tables refuse (too many history entries, an overlong value) or a telegram over
/// [`p1_wire::MAX_TELEGRAM_LEN`] is refused with the JSON line and the field at fault,
/// and nothing of it is written. One rule, the decoder's, so `encode` cannot write what
/// `verify` rejects.
pub fn encode_stream(
    name: &str,
    reader: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut raw = Vec::with_capacity(4096);
    let mut bytes = Vec::with_capacity(4096);
    let mut lineno = 0usize;
    loop {
        lineno += 1;
        raw.clear();
        let n = (&mut *reader)
            .take(MAX_JSON_LINE as u64 + 1)
            .read_until(b'\n', &mut raw)
            .map_err(|e| CliError::io(name, e))?;
        if n == 0 {
            break;
        }
        let bad = |column: usize, message: String| CliError::Input {
            path: name.to_owned(),
            line: lineno,
            column,
            message,
        };
        if raw.len() > MAX_JSON_LINE && raw.last() != Some(&b'\n') {
            return Err(bad(
                1,
                format!("line longer than {MAX_JSON_LINE} bytes; a telegram's JSON is far shorter"),
            ));
        }
        let text = std::str::from_utf8(&raw).map_err(|e| {
            let before = String::from_utf8_lossy(&raw[..e.valid_up_to()]);
            bad(
                before.chars().count() + 1,
                "expected UTF-8 text, found a byte that is not".into(),
            )
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let json: DecodedJson = serde_json::from_str(text).map_err(|e| {
            // serde_json appends its own "at line L column C"; we print ours first.
            let full = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
            bad(e.column().max(1), message)
        })?;
        bytes.clear();
        let wanted = match (json.identification, json.lines, json.readout) {
            (Some(identification), Some(lines), _) => Wanted::Lines(Telegram {
                identification,
                lines,
            }),
            (_, _, Some(readout)) => Wanted::Readout(readout),
            _ => {
                let why = match json.error {
                    Some(e) => format!("this telegram did not decode ({})", e.message),
                    None => "expected \"identification\" and \"lines\", or \"readout\"".into(),
                };
                return Err(bad(1, why));
            }
        };
        wanted.encode_checked(&mut bytes).map_err(|m| bad(1, m))?;
        out.write_all(&bytes).map_err(CliError::stdout)?;
    }
    out.flush().map_err(CliError::stdout)
}

/// What one JSON object asks `encode` to print.
enum Wanted {
    /// Exactly these lines.
    Lines(Telegram),
    /// The telegram of this readout.
    Readout(Readout),
}

impl Wanted {
    /// Appends the telegram to `bytes` if the strict decoder gives back exactly what was
    /// asked for; otherwise says which field is at fault and why.
    fn encode_checked(&self, bytes: &mut Vec<u8>) -> Result<(), String> {
        let telegram = match self {
            Wanted::Lines(t) => t.clone(),
            Wanted::Readout(r) => r.to_telegram(),
        };
        telegram.write_to(bytes);
        let field_at = |offset: usize| self.field_at(&telegram, offset);
        let mut frames = p1_wire::decode_all(bytes).into_iter();
        let first = frames.next();
        let refused = |field: String, why: String| {
            Err(format!(
                "field {field}: refused, the telegram it makes would not decode back: {why}"
            ))
        };
        match first {
            None => refused(field_at(0), "no telegram found in it".into()),
            Some(Err(e)) => refused(field_at(e.offset), decode_reason(&e)),
            Some(Ok(frame)) if frame.offset != 0 || frame.len != bytes.len() => refused(
                field_at(frame.offset + frame.len),
                format!(
                    "a telegram ends at byte {} of {}; the rest would be read as another",
                    frame.offset + frame.len,
                    bytes.len()
                ),
            ),
            Some(Ok(frame)) => match self {
                Wanted::Lines(t) if frame.telegram != *t => {
                    let i = t
                        .lines
                        .iter()
                        .zip(&frame.telegram.lines)
                        .position(|(a, b)| a != b)
                        .unwrap_or(t.lines.len().min(frame.telegram.lines.len()));
                    let field = if frame.telegram.identification != t.identification {
                        "identification".to_owned()
                    } else {
                        line_field(t, i)
                    };
                    refused(field, "it decodes to other lines".into())
                }
                Wanted::Readout(r) if frame.readout != *r => {
                    let field = first_difference(r, &frame.readout);
                    refused(
                        format!("readout.{field}"),
                        "the wire cannot carry this value; it decodes to another".into(),
                    )
                }
                _ => Ok(()),
            },
        }
    }

    /// The JSON field whose bytes hold `offset` of the encoded telegram.
    fn field_at(&self, telegram: &Telegram, offset: usize) -> String {
        // `/` + identification + CRLF, the empty line, then each data line with its CRLF.
        let mut end = 1 + telegram.identification.len() + 2;
        if offset < end {
            return match self {
                Wanted::Lines(_) => "identification".into(),
                Wanted::Readout(_) => "readout.model".into(),
            };
        }
        end += 2;
        for (i, line) in telegram.lines.iter().enumerate() {
            end += line.obis.to_string().len()
                + line.values.iter().map(|v| v.len() + 2).sum::<usize>()
                + 2;
            if offset < end {
                return match self {
                    Wanted::Lines(_) => line_field(telegram, i),
                    Wanted::Readout(_) => readout_field(&line.obis.to_string()),
                };
            }
        }
        match self {
            Wanted::Lines(_) => "lines".into(),
            Wanted::Readout(_) => "readout".into(),
        }
    }
}

/// The `readout` key that prints as the `obis` line (docs/json.md's table).
fn readout_field(obis: &str) -> String {
    let key = match obis {
        "0-0:96.1.4" => "version",
        "0-0:96.1.1" => "equipment_id",
        "0-0:1.0.0" => "time",
        "1-0:1.8.1" | "1-0:1.8.2" => "import_wh",
        "1-0:2.8.1" | "1-0:2.8.2" => "export_wh",
        "0-0:96.14.0" => "tariff",
        "1-0:1.4.0" => "demand.current_w",
        "1-0:1.6.0" => "demand.peak",
        "0-0:98.1.0" => "demand.history",
        "1-0:1.7.0" => "import_w",
        "1-0:2.7.0" => "export_w",
        "0-0:96.3.10" => "breaker",
        "0-0:17.0.0" => "limiter_hw",
        "1-0:31.4.0" => "fuse_a",
        "0-0:96.13.0" => "message",
        o if o.starts_with("1-0:") => "phases",
        o if !o.starts_with("0-0:") => "mbus",
        _ => return format!("readout (its {obis} line)"),
    };
    format!("readout.{key} (the {obis} line)")
}

fn line_field(t: &Telegram, i: usize) -> String {
    match t.lines.get(i) {
        Some(l) => format!("lines[{i}] ({})", l.obis),
        None => "lines".into(),
    }
}

/// The decoder's reason without its own position (the position in the re-encoded
/// telegram means nothing to the JSON's author; the field is named instead).
fn decode_reason(e: &DecodeError) -> String {
    let full = e.to_string();
    let prefix = format!(
        "offset {} (line {}, column {}): ",
        e.offset, e.line, e.column
    );
    full.strip_prefix(&prefix).unwrap_or(&full).to_owned()
}

/// The dotted path of the first value that differs between two readouts.
fn first_difference(a: &Readout, b: &Readout) -> String {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, path: &mut String) {
        use serde_json::Value;
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                if let Some((k, va)) = x.iter().find(|(k, v)| y.get(*k) != Some(*v)) {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    if let Some(vb) = y.get(k) {
                        walk(va, vb, path);
                    }
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                if let Some(i) = x.iter().zip(y).position(|(p, q)| p != q) {
                    path.push_str(&format!("[{i}]"));
                    walk(&x[i], &y[i], path);
                }
            }
            _ => {}
        }
    }
    let (Ok(a), Ok(b)) = (serde_json::to_value(a), serde_json::to_value(b)) else {
        return String::new();
    };
    let mut path = String::new();
    walk(&a, &b, &mut path);
    path
}
