//! Finding and checking telegrams in a byte stream ([`Decoder`], [`decode_all`]).
//!
//! The decoder is fed arbitrary bytes — a serial line with noise, a file of concatenated
//! telegrams — and yields, for every telegram it finds, either a [`Frame`] (framing,
//! syntax, CRC and every known object's format are right) or a [`DecodeError`] that says
//! where (byte offset, line, column) and what was expected.
//!
//! It never panics and buffers at most [`MAX_TELEGRAM_LEN`] bytes, whatever the input.

use std::fmt;

use crate::fields::Place;
use crate::telegram::crc16;
use crate::{Line, Obis, Readout, Telegram};

/// Largest telegram body the decoder accepts, in bytes from `/` through `!`; the CRC line
/// after it adds at most 7 more before the decoder gives up on it.
///
/// Real S211/T211 telegrams are 447 to about 1600 bytes; the text message alone may add
/// 2048 hex characters, so 8 KiB leaves room for every legal telegram.
pub const MAX_TELEGRAM_LEN: usize = 8192;

/// A telegram found in the stream, with its position and its typed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Offset of its `/` in the stream.
    pub offset: usize,
    /// Length in bytes, from `/` through the CRLF after the CRC.
    pub len: usize,
    /// The printed lines.
    pub telegram: Telegram,
    /// The CRC it carries (and that matches).
    pub crc: u16,
    /// The typed content.
    pub readout: Readout,
}

/// What went wrong with a telegram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input ended before the telegram's `!` or CRC line.
    Truncated,
    /// A `/` started a new telegram before this one's `!`.
    Interrupted,
    /// No `!` within [`MAX_TELEGRAM_LEN`] bytes of `/`.
    TooLong,
    /// The bytes do not follow the telegram grammar.
    Syntax {
        /// What the grammar requires here.
        expected: String,
        /// What is there.
        found: String,
    },
    /// The CRC line is not `!` + four upper-case hex digits + CR LF.
    CrcFormat {
        /// The trailer as found.
        found: String,
    },
    /// The CRC does not match the bytes.
    CrcMismatch {
        /// CRC-16/ARC computed over `/`..`!`.
        computed: u16,
        /// CRC printed after `!`.
        found: u16,
    },
    /// A known object has the wrong format, is missing, or is repeated.
    Object {
        /// The object concerned.
        obis: Option<Obis>,
        /// What the object should look like.
        expected: String,
        /// What is there.
        found: String,
    },
}

/// A precise decoding error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset of the telegram's `/` in the stream.
    pub telegram_offset: usize,
    /// Offset of the problem in the stream.
    pub offset: usize,
    /// 1-based line within the telegram (the `/` line is line 1).
    pub line: usize,
    /// 1-based column within that line.
    pub column: usize,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "offset {} (line {}, column {}): ",
            self.offset, self.line, self.column
        )?;
        match &self.kind {
            ErrorKind::Truncated => write!(f, "input ends before the telegram's '!' and CRC line"),
            ErrorKind::Interrupted => write!(
                f,
                "expected '!' and CRC, found '/' starting another telegram"
            ),
            ErrorKind::TooLong => write!(f, "no '!' within {MAX_TELEGRAM_LEN} bytes of '/'"),
            ErrorKind::Syntax { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ErrorKind::CrcFormat { found } => write!(
                f,
                "expected four upper-case hex digits and CR LF after '!', found {found}"
            ),
            ErrorKind::CrcMismatch { computed, found } => write!(
                f,
                "CRC mismatch: computed {computed:04X} over '/'..'!', telegram says {found:04X}"
            ),
            ErrorKind::Object {
                obis,
                expected,
                found,
            } => {
                if let Some(o) = obis {
                    write!(f, "{o}: ")?;
                }
                write!(f, "expected {expected}, found {found}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Shows bytes for an error message: printable ASCII as is, others escaped, cut at 40.
pub(crate) fn show(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "end of telegram".into();
    }
    let mut s = String::from("\"");
    for &b in bytes.iter().take(40) {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7E => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02X}")),
        }
    }
    if bytes.len() > 40 {
        s.push_str("...");
    }
    s.push('"');
    s
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Skipping bytes until a `/`.
    Hunting,
    /// Inside a telegram, before `!`.
    Body,
    /// After `!`, until LF.
    Trailer,
}

/// Longest CRC line accepted: `!` + 4 hex + CR + LF, plus slack to report bad ones.
const MAX_TRAILER: usize = 8;

/// A push decoder: feed it bytes as they arrive, get telegrams and errors back.
#[derive(Debug)]
pub struct Decoder {
    state: State,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    start: usize,
    /// Stream offset of the next byte fed.
    pos: usize,
    /// Bytes skipped outside telegrams so far.
    skipped: usize,
    bang: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder at offset 0.
    pub fn new() -> Decoder {
        Decoder {
            state: State::Hunting,
            buf: Vec::new(),
            start: 0,
            pos: 0,
            skipped: 0,
            bang: 0,
        }
    }

    /// Bytes skipped so far outside any telegram (noise, garbage).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Feeds `bytes`; calls `emit` for every telegram completed or abandoned.
    pub fn feed(&mut self, bytes: &[u8], emit: &mut dyn FnMut(Result<Frame, DecodeError>)) {
        for &b in bytes {
            self.step(b, emit);
            self.pos += 1;
        }
    }

    /// Ends the stream: a telegram still open is reported as truncated.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Result<Frame, DecodeError>)) {
        if self.state != State::Hunting {
            self.abandon(self.buf.len(), ErrorKind::Truncated, emit);
        }
    }

    fn reset(&mut self) {
        self.state = State::Hunting;
        self.buf.clear();
    }

    fn begin(&mut self) {
        self.state = State::Body;
        self.buf.clear();
        self.buf.push(b'/');
        self.start = self.pos;
    }

    /// Reports the open telegram as failed at index `at` of the buffer (its length: the
    /// byte being fed) and starts hunting again.
    fn abandon(
        &mut self,
        at: usize,
        kind: ErrorKind,
        emit: &mut dyn FnMut(Result<Frame, DecodeError>),
    ) {
        let (line, column) = line_col(&self.buf, at);
        emit(Err(DecodeError {
            telegram_offset: self.start,
            offset: self.start + at,
            line,
            column,
            kind,
        }));
        self.reset();
    }

    fn step(&mut self, b: u8, emit: &mut dyn FnMut(Result<Frame, DecodeError>)) {
        match self.state {
            State::Hunting => {
                if b == b'/' {
                    self.begin();
                } else {
                    self.skipped += 1;
                }
            }
            State::Body => {
                if b == b'/' {
                    self.abandon(self.buf.len(), ErrorKind::Interrupted, emit);
                    self.begin();
                } else if self.buf.len() >= MAX_TELEGRAM_LEN {
                    self.abandon(self.buf.len(), ErrorKind::TooLong, emit);
                } else {
                    self.buf.push(b);
                    if b == b'!' {
                        self.state = State::Trailer;
                        self.bang = self.buf.len() - 1;
                    }
                }
            }
            State::Trailer => {
                if b == b'/' {
                    // The next telegram began where the CRC should be: say so rather
                    // than "end of telegram".
                    let found = match &self.buf[self.bang + 1..] {
                        [] => "'/' starting another telegram".to_owned(),
                        crc => format!("{} then '/' starting another telegram", show(crc)),
                    };
                    self.abandon(self.bang + 1, ErrorKind::CrcFormat { found }, emit);
                    self.begin();
                    return;
                }
                self.buf.push(b);
                if b == b'\n' {
                    let result = check(&self.buf, self.start, self.bang);
                    emit(result);
                    self.reset();
                } else if self.buf.len() - self.bang >= MAX_TRAILER {
                    let found = show(&self.buf[self.bang + 1..]);
                    self.abandon(self.bang + 1, ErrorKind::CrcFormat { found }, emit);
                }
            }
        }
    }
}

/// Decodes every telegram in `input`, in order.
pub fn decode_all(input: &[u8]) -> Vec<Result<Frame, DecodeError>> {
    let mut out = Vec::new();
    let mut d = Decoder::new();
    d.feed(input, &mut |r| out.push(r));
    d.finish(&mut |r| out.push(r));
    out
}

/// 1-based line and column of byte `at` within `buf`.
fn line_col(buf: &[u8], at: usize) -> (usize, usize) {
    let at = at.min(buf.len());
    let before = &buf[..at];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let col_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    (line, at - col_start + 1)
}

/// Checks one framed candidate: `buf` runs from `/` through the LF ending the CRC line,
/// `bang` is the index of `!`.
fn check(buf: &[u8], start: usize, bang: usize) -> Result<Frame, DecodeError> {
    let err = |at: usize, kind: ErrorKind| {
        let (line, column) = line_col(buf, at);
        DecodeError {
            telegram_offset: start,
            offset: start + at,
            line,
            column,
            kind,
        }
    };
    let syntax = |at: usize, expected: &str| {
        err(
            at,
            ErrorKind::Syntax {
                expected: expected.into(),
                found: show(&buf[at..bang.max(at).min(buf.len())]),
            },
        )
    };
    let body = &buf[..bang];

    // Identification line.
    let ident_end = body
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .ok_or_else(|| syntax(body.len(), "CR LF ending the identification line"))?;
    let ident = &body[1..ident_end];
    if let Some(i) = ident.iter().position(|b| !(0x21..=0x7E).contains(b)) {
        return Err(syntax(1 + i, "printable identification characters"));
    }
    if ident.len() < 5 {
        return Err(syntax(
            1,
            "an identification of at least 5 characters (XXX5...)",
        ));
    }
    let mut at = ident_end;
    for _ in 0..2 {
        if !body[at..].starts_with(b"\r\n") {
            return Err(syntax(
                at,
                if at == ident_end {
                    "CR LF after the identification"
                } else {
                    "an empty line (CR LF) after the identification"
                },
            ));
        }
        at += 2;
    }

    // Data lines.
    let mut lines = Vec::new();
    while at < body.len() {
        let Some((obis, n)) = Obis::parse_prefix(&body[at..]) else {
            return Err(syntax(at, "an OBIS code A-B:C.D.E"));
        };
        at += n;
        let mut values = Vec::new();
        loop {
            if body.get(at) != Some(&b'(') {
                break;
            }
            at += 1;
            let len = body[at..]
                .iter()
                .position(|&b| b == b')' || !(0x20..=0x7E).contains(&b) || b == b'(')
                .ok_or_else(|| syntax(body.len(), "')' closing the value"))?;
            if body[at + len] != b')' {
                return Err(syntax(at + len, "')' closing the value"));
            }
            // Every byte is printable ASCII, checked just above.
            values.push(String::from_utf8_lossy(&body[at..at + len]).into_owned());
            at += len + 1;
        }
        if values.is_empty() {
            return Err(syntax(at, "'(' opening a value"));
        }
        if !body[at..].starts_with(b"\r\n") {
            return Err(syntax(at, "')' or CR LF ending the line"));
        }
        at += 2;
        lines.push(Line { obis, values });
    }

    // CRC line.
    let trailer = &buf[bang + 1..];
    let crc_ok = trailer.len() == 6
        && trailer[..4]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
        && &trailer[4..] == b"\r\n";
    if !crc_ok {
        return Err(err(
            bang + 1,
            ErrorKind::CrcFormat {
                found: show(trailer),
            },
        ));
    }
    let found = trailer[..4].iter().fold(0u16, |acc, &b| {
        (acc << 4) | u16::from((b as char).to_digit(16).unwrap_or(0) as u8)
    });
    let computed = crc16(&buf[..=bang]);
    if computed != found {
        return Err(err(bang + 1, ErrorKind::CrcMismatch { computed, found }));
    }

    let telegram = Telegram {
        identification: String::from_utf8_lossy(ident).into_owned(),
        lines,
    };
    let readout = crate::fields::readout(&telegram).map_err(|e| {
        let at = match e.place {
            Place::Header => 1,
            Place::Line(idx) => line_start(body, ident_end + 4, idx),
            Place::End => body.len(),
        };
        err(
            at,
            ErrorKind::Object {
                obis: e.obis,
                expected: e.expected,
                found: e.found,
            },
        )
    })?;
    Ok(Frame {
        offset: start,
        len: buf.len(),
        telegram,
        crc: found,
        readout,
    })
}

/// Index in `body` where data line number `idx` (0-based) starts.
fn line_start(body: &[u8], first: usize, idx: usize) -> usize {
    let mut at = first;
    for _ in 0..idx {
        match body[at..].iter().position(|&b| b == b'\n') {
            Some(p) => at += p + 1,
            None => return body.len(),
        }
    }
    at.min(body.len())
}
