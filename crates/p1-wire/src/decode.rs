//! Finding and checking telegrams in a byte stream ([`Decoder`], [`decode_all`]).
//!
//! The decoder is fed arbitrary bytes — a serial line with noise, a file of concatenated
//! telegrams — and yields, for every telegram it finds, either a [`Frame`] (framing,
//! syntax, CRC and every known object's format are right) or a [`DecodeError`] that says
//! where (byte offset, line, column) and what was expected.
//!
//! It never panics and buffers at most [`MAX_TELEGRAM_LEN`] bytes, whatever the input.
//!
//! Each framed telegram whose CRC matches goes through the fast lane ([`fast`]) first,
//! which reads a telegram printed as meters print it in one pass and allocates nothing;
//! whenever it declines, the full checks here and in [`crate::fields`] decide, and they
//! alone write errors.

mod fast;

use std::fmt;

use crate::fields::{LineRef, Place};
use crate::telegram::crc16;
use crate::{Breaker, Line, Model, Obis, Readout, Telegram, Tst, Version};

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
    /// A run of bytes holding several `/` but no telegram: each `/` was followed by the
    /// next before any line ended (a flood of `/`, noise). Reported once for the whole
    /// run, so the report stays proportional to the telegrams found.
    Unframed {
        /// Length of the run, from its first `/` to the byte before the `/` that ended it.
        len: usize,
        /// How many `/` in it started a candidate telegram.
        starts: usize,
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
            ErrorKind::Unframed { len, starts } => write!(
                f,
                "expected a telegram, found {len} byte(s) in which {starts} '/' start none \
                 (each is followed by another '/' before a line ends)"
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

/// The CRC line after `!` as meters print it: four hex digits, CR, LF.
const CRC_LINE: usize = 6;

/// A telegram that passed every check, borrowed from the decoder: what
/// [`Decoder::feed_checked`] hands out without building the owned line list or
/// allocating a readout.
#[derive(Debug)]
pub struct Checked<'a> {
    /// Offset of its `/` in the stream.
    pub offset: usize,
    /// The telegram's bytes, from `/` through the CRLF after the CRC.
    pub bytes: &'a [u8],
    /// The CRC it carries (and that matches).
    pub crc: u16,
    /// The typed content (the decoder's, reused for the next telegram).
    pub readout: &'a Readout,
}

impl Checked<'_> {
    /// The printed lines, owned.
    pub fn telegram(&self) -> Telegram {
        let bang = self.bytes.len().saturating_sub(7);
        let mut spans = Spans::default();
        let ident = match parse_body(&self.bytes[..bang], &mut spans) {
            Ok(ident) => ident,
            // `bytes` passed `parse_body` when the decoder checked it.
            Err(_) => {
                return Telegram {
                    identification: String::new(),
                    lines: Vec::new(),
                };
            }
        };
        spans.telegram(&self.bytes[..bang], ident)
    }

    /// The owned [`Frame`].
    pub fn into_frame(self) -> Frame {
        Frame {
            offset: self.offset,
            len: self.bytes.len(),
            telegram: self.telegram(),
            crc: self.crc,
            readout: self.readout.clone(),
        }
    }
}

/// A run of failed candidates being coalesced (see [`ErrorKind::Unframed`]).
#[derive(Debug)]
struct Run {
    /// The first candidate's error, reported as it is when the run has only it.
    first: DecodeError,
    /// Offset just after the last candidate's last byte.
    end: usize,
    starts: usize,
}

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
    /// Where the data lines and values of the telegram being checked are (reused).
    spans: Spans,
    /// The last valid telegram's content, which [`Checked`] lends; the fast lane reads
    /// into it in place, so its strings and vectors are reused.
    readout: Readout,
    /// Candidates interrupted before a line ended, not reported yet.
    run: Option<Run>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

/// What the decoder hands to its caller's callback.
type Emit<'e> = dyn FnMut(Result<Checked<'_>, DecodeError>) + 'e;

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
            spans: Spans::default(),
            readout: placeholder(),
            run: None,
        }
    }

    /// Bytes skipped so far outside any telegram (noise, garbage).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Feeds `bytes`; calls `emit` for every telegram completed or abandoned.
    pub fn feed(&mut self, bytes: &[u8], emit: &mut dyn FnMut(Result<Frame, DecodeError>)) {
        self.feed_checked(bytes, &mut |r| emit(r.map(Checked::into_frame)));
    }

    /// Ends the stream: a telegram still open is reported as truncated.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Result<Frame, DecodeError>)) {
        self.finish_checked(&mut |r| emit(r.map(Checked::into_frame)));
    }

    /// [`Decoder::feed`] without building each telegram's owned line list: the fast path
    /// of `p1sim verify`. Every check is the same.
    pub fn feed_checked(&mut self, bytes: &[u8], emit: &mut Emit<'_>) {
        let mut rest = bytes;
        // Whole spans of bytes are taken at once; `step` sees only the bytes that change
        // the state (`/`, `!`, the trailer, a full buffer), with `pos` at their offset.
        while !rest.is_empty() {
            let used = match self.state {
                State::Hunting => match memchr::memchr(b'/', rest) {
                    Some(p) => {
                        self.skipped += p;
                        self.pos += p;
                        let len = match self.whole(&rest[p..], emit) {
                            Some(len) => len,
                            None => {
                                self.step(b'/', emit);
                                1
                            }
                        };
                        self.pos += len;
                        p + len
                    }
                    None => {
                        self.skipped += rest.len();
                        self.pos += rest.len();
                        rest.len()
                    }
                },
                State::Body => {
                    let room = MAX_TELEGRAM_LEN.saturating_sub(self.buf.len());
                    let window = &rest[..rest.len().min(room)];
                    match memchr::memchr2(b'/', b'!', window) {
                        Some(p) => {
                            self.buf.extend_from_slice(&window[..p]);
                            self.pos += p;
                            self.step(rest[p], emit);
                            self.pos += 1;
                            p + 1
                        }
                        None if window.is_empty() => {
                            self.step(rest[0], emit);
                            self.pos += 1;
                            1
                        }
                        None => {
                            self.buf.extend_from_slice(window);
                            self.pos += window.len();
                            window.len()
                        }
                    }
                }
                State::Trailer => {
                    self.step(rest[0], emit);
                    self.pos += 1;
                    1
                }
            };
            rest = &rest[used..];
        }
    }

    /// [`Decoder::finish`] for [`Decoder::feed_checked`].
    pub fn finish_checked(&mut self, emit: &mut Emit<'_>) {
        if self.state != State::Hunting {
            self.abandon(self.buf.len(), ErrorKind::Truncated, emit);
        }
        self.flush_run(emit);
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

    /// Reports the run of unframed candidates, if any.
    fn flush_run(&mut self, emit: &mut Emit<'_>) {
        let Some(run) = self.run.take() else { return };
        if run.starts == 1 {
            emit(Err(run.first));
            return;
        }
        let at = run.first.telegram_offset;
        emit(Err(DecodeError {
            telegram_offset: at,
            offset: at,
            line: 1,
            column: 1,
            kind: ErrorKind::Unframed {
                len: run.end - at,
                starts: run.starts,
            },
        }));
    }

    /// Reports the open telegram as failed at index `at` of the buffer (its length: the
    /// byte being fed) and starts hunting again. A candidate interrupted by the next `/`
    /// before any line ended joins the run of such candidates instead (reported by
    /// [`Decoder::flush_run`] as one error).
    fn abandon(&mut self, at: usize, kind: ErrorKind, emit: &mut Emit<'_>) {
        let (line, column) = line_col(&self.buf, at);
        let error = DecodeError {
            telegram_offset: self.start,
            offset: self.start + at,
            line,
            column,
            kind,
        };
        let end = self.start + self.buf.len();
        let unframed = matches!(error.kind, ErrorKind::Interrupted | ErrorKind::Truncated)
            && !self.buf.contains(&b'\n');
        match &mut self.run {
            Some(run) if unframed && run.end == self.start => {
                run.end = end;
                run.starts += 1;
            }
            _ => {
                self.flush_run(emit);
                if unframed {
                    self.run = Some(Run {
                        first: error,
                        end,
                        starts: 1,
                    });
                } else {
                    emit(Err(error));
                }
            }
        }
        self.reset();
    }

    /// Frames and checks a telegram that lies whole in `bytes` (which start at its `/`)
    /// where it is, without copying it into the buffer, and returns its length; `None`,
    /// having done nothing, for anything but what the byte-by-byte path would frame as
    /// `/`, no `/` before the `!` within [`MAX_TELEGRAM_LEN`] bytes, and a CRC line of
    /// [`CRC_LINE`] bytes with neither `/` nor LF before its final LF.
    ///
    /// A valid telegram is framed by the fast lane as it reads it ([`fast_frame`]),
    /// without a search for its `!` first.
    fn whole(&mut self, bytes: &[u8], emit: &mut Emit<'_>) -> Option<usize> {
        if let Some((len, crc)) = fast_frame(bytes, &mut self.readout) {
            self.flush_run(emit);
            self.start = self.pos;
            emit(Ok(Checked {
                offset: self.start,
                bytes: &bytes[..len],
                crc,
                readout: &self.readout,
            }));
            return Some(len);
        }
        let window = bytes.get(1..bytes.len().min(MAX_TELEGRAM_LEN))?;
        let bang = 1 + memchr::memchr2(b'/', b'!', window)?;
        let [b'!', trailer @ ..] = bytes.get(bang..bang + 1 + CRC_LINE)? else {
            return None;
        };
        let [crc_digits @ .., b'\n'] = trailer else {
            return None;
        };
        if crc_digits.iter().any(|&b| b == b'/' || b == b'\n') {
            return None;
        }
        let len = bang + 1 + CRC_LINE;
        self.flush_run(emit);
        self.start = self.pos;
        emit(verdict(
            &bytes[..len],
            self.start,
            bang,
            &mut self.spans,
            &mut self.readout,
        ));
        Some(len)
    }

    fn step(&mut self, b: u8, emit: &mut Emit<'_>) {
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
                    self.flush_run(emit);
                    emit(verdict(
                        &self.buf,
                        self.start,
                        self.bang,
                        &mut self.spans,
                        &mut self.readout,
                    ));
                    self.reset();
                } else if self.buf.len() - self.bang >= MAX_TRAILER {
                    let found = show(&self.buf[self.bang + 1..]);
                    self.abandon(self.bang + 1, ErrorKind::CrcFormat { found }, emit);
                }
            }
        }
    }
}

/// Checks a framed candidate (as [`check`] takes it) with the fast lane first, then, if
/// it declines, with the full checks, which give the same result on everything the fast
/// lane accepts. The readout is read into `slot` and lent from there.
fn verdict<'a>(
    buf: &'a [u8],
    start: usize,
    bang: usize,
    spans: &mut Spans,
    slot: &'a mut Readout,
) -> Result<Checked<'a>, DecodeError> {
    let crc = match check_fast(buf, bang, slot) {
        Some(crc) => crc,
        None => {
            let (crc, readout) = check(buf, start, bang, spans)?;
            *slot = readout;
            crc
        }
    };
    Ok(Checked {
        offset: start,
        bytes: buf,
        crc,
        readout: slot,
    })
}

/// The decoder's readout before its first telegram (never lent).
fn placeholder() -> Readout {
    Readout {
        model: Model::T211,
        version: Version::V50217,
        equipment_id: String::new(),
        time: Tst::INVALID,
        import_wh: [0; 2],
        export_wh: [0; 2],
        tariff: 1,
        demand: None,
        import_w: 0,
        export_w: 0,
        phases: Vec::new(),
        breaker: Breaker::Connected,
        limiter_hw: 0,
        fuse_a: 0,
        message: Vec::new(),
        mbus: Vec::new(),
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

/// Where the data lines and their values are in a telegram body.
#[derive(Debug, Default)]
struct Spans {
    /// Per data line: its code, the index of its first value in `values`, how many
    /// values it has, and the offset where the line starts.
    lines: Vec<(Obis, usize, usize, usize)>,
    /// Byte ranges of the values (inside the parentheses).
    values: Vec<(usize, usize)>,
}

impl Spans {
    /// The owned telegram of `body` (from `/` up to `!`), identification at `ident`.
    fn telegram(&self, body: &[u8], ident: (usize, usize)) -> Telegram {
        let text = |(a, b): (usize, usize)| String::from_utf8_lossy(&body[a..b]).into_owned();
        Telegram {
            identification: text(ident),
            lines: self
                .lines
                .iter()
                .map(|&(obis, first, n, _)| Line {
                    obis,
                    values: self.values[first..first + n]
                        .iter()
                        .map(|&r| text(r))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Parses the generic layer of `body` (from `/` up to `!`) into `spans`; returns the
/// identification's byte range, or where the grammar fails and what it expected there.
fn parse_body(body: &[u8], spans: &mut Spans) -> Result<(usize, usize), (usize, &'static str)> {
    spans.lines.clear();
    spans.values.clear();
    // Identification line.
    let ident_end = body
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .ok_or((body.len(), "CR LF ending the identification line"))?;
    let ident = &body[1..ident_end];
    if let Some(i) = ident.iter().position(|b| !(0x21..=0x7E).contains(b)) {
        return Err((1 + i, "printable identification characters"));
    }
    if ident.len() < 5 {
        return Err((1, "an identification of at least 5 characters (XXX5...)"));
    }
    let mut at = ident_end;
    for _ in 0..2 {
        if !body[at..].starts_with(b"\r\n") {
            return Err((
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
    while at < body.len() {
        let line_start = at;
        let Some((obis, n)) = Obis::parse_prefix(&body[at..]) else {
            return Err((at, "an OBIS code A-B:C.D.E"));
        };
        at += n;
        let first = spans.values.len();
        while body.get(at) == Some(&b'(') {
            at += 1;
            // The value runs to the next ')' (found with SIMD), and every byte before it
            // must be printable and not '('; the first that is not is the error.
            let close = memchr::memchr(b')', &body[at..]);
            let scan = &body[at..at + close.unwrap_or(body.len() - at)];
            let bad = |b: &u8| !(0x20..=0x7E).contains(b) || *b == b'(';
            let len = match (scan.iter().any(bad), close) {
                (false, Some(len)) => len,
                (true, _) => scan.iter().position(bad).unwrap_or(scan.len()),
                (false, None) => return Err((body.len(), "')' closing the value")),
            };
            if body[at + len] != b')' {
                return Err((at + len, "')' closing the value"));
            }
            spans.values.push((at, at + len));
            at += len + 1;
        }
        let n_values = spans.values.len() - first;
        if n_values == 0 {
            return Err((at, "'(' opening a value"));
        }
        if !body[at..].starts_with(b"\r\n") {
            return Err((at, "')' or CR LF ending the line"));
        }
        at += 2;
        spans.lines.push((obis, first, n_values, line_start));
    }
    Ok((1, ident_end))
}

/// The CRC printed in a trailer: four upper-case hex digits, then CR LF, nothing else.
fn printed_crc(trailer: &[u8]) -> Option<u16> {
    let [digits @ .., b'\r', b'\n'] = trailer else {
        return None;
    };
    let [a, b, c, d] = *digits else { return None };
    let hex = |x: u8| match x {
        b'0'..=b'9' => Some(u16::from(x - b'0')),
        b'A'..=b'F' => Some(u16::from(x - b'A' + 10)),
        _ => None,
    };
    Some(hex(a)? << 12 | hex(b)? << 8 | hex(c)? << 4 | hex(d)?)
}

/// The fast lane over the telegram at the start of `bytes` (from its `/`): its length
/// and CRC when [`fast::read`] reads it into `out` up to a `!` within
/// [`MAX_TELEGRAM_LEN`] bytes, the CRC line after it is as meters print it, and the CRC
/// matches. The byte-by-byte framing would end the telegram at the same byte, since
/// the fast lane reads neither `/` nor `!` before its `!` and the CRC line has no `/`
/// and one LF, its last byte.
fn fast_frame(bytes: &[u8], out: &mut Readout) -> Option<(usize, u16)> {
    let window = &bytes[..bytes.len().min(MAX_TELEGRAM_LEN)];
    let bang = fast::read(window, out)?;
    let len = bang + 1 + CRC_LINE;
    let crc = printed_crc(bytes.get(bang + 1..len)?)?;
    (crc16(&bytes[..=bang]) == crc).then_some((len, crc))
}

/// The fast lane over one framed candidate (as [`check`] takes it): its CRC when
/// [`fast_frame`] takes all of it; `None` sends the candidate to [`check`].
fn check_fast(buf: &[u8], bang: usize, out: &mut Readout) -> Option<u16> {
    let (len, crc) = fast_frame(buf, out)?;
    (len == buf.len() && len == bang + 1 + CRC_LINE).then_some(crc)
}

/// Checks one framed candidate: `buf` runs from `/` through the LF ending the CRC line,
/// `bang` is the index of `!`. Gives the CRC and the typed content, or the first
/// problem, where it is and what was expected there.
fn check(
    buf: &[u8],
    start: usize,
    bang: usize,
    spans: &mut Spans,
) -> Result<(u16, Readout), DecodeError> {
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
    let ident = parse_body(body, spans).map_err(|(at, expected)| syntax(at, expected))?;

    // CRC line.
    let trailer = &buf[bang + 1..];
    let found = printed_crc(trailer).ok_or_else(|| {
        err(
            bang + 1,
            ErrorKind::CrcFormat {
                found: show(trailer),
            },
        )
    })?;
    let computed = crc16(&buf[..=bang]);
    if computed != found {
        return Err(err(bang + 1, ErrorKind::CrcMismatch { computed, found }));
    }

    // Every byte of the body is ASCII now (the grammar above admits nothing else), so
    // one UTF-8 check covers every value.
    let text = std::str::from_utf8(body).map_err(|e| syntax(e.valid_up_to(), "ASCII"))?;
    let values: Vec<&str> = spans.values.iter().map(|&(a, b)| &text[a..b]).collect();
    let lines: Vec<LineRef<'_>> = spans
        .lines
        .iter()
        .map(|&(obis, first, n, _)| LineRef {
            obis,
            values: &values[first..first + n],
        })
        .collect();
    let readout = crate::fields::readout(&text[ident.0..ident.1], &lines).map_err(|e| {
        let at = match e.place {
            Place::Header => 1,
            Place::Line(idx) => spans.lines.get(idx).map_or(body.len(), |l| l.3),
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
    Ok((found, readout))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURE: &[u8] = include_bytes!("../tests/fixtures/fluvius-t211-arduinodsmrtest-1.txt");

    /// Results as comparable text.
    fn results(input: &[u8], chunk: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut d = Decoder::new();
        for piece in input.chunks(chunk.max(1)) {
            d.feed(piece, &mut |r| out.push(format!("{r:?}")));
        }
        d.finish(&mut |r| out.push(format!("{r:?}")));
        out.push(format!("skipped {}", d.skipped()));
        out
    }

    #[test]
    fn chunking_does_not_change_what_is_found() {
        // Telegrams, noise, an interrupted one, an oversized one, a bad trailer.
        let mut input = b"noise /".to_vec();
        input.extend_from_slice(CAPTURE);
        input.extend_from_slice(&CAPTURE[..300]);
        input.extend_from_slice(CAPTURE);
        input.push(b'/');
        input.extend(std::iter::repeat_n(b'x', MAX_TELEGRAM_LEN + 10));
        input.extend_from_slice(b"!12\r\n/");
        input.extend_from_slice(CAPTURE);
        input.extend_from_slice(b"/ab/cd//");
        let whole = results(&input, input.len());
        for chunk in [1, 2, 7, 64, 1000, 4096] {
            assert_eq!(results(&input, chunk), whole, "chunk {chunk}");
        }
        assert_eq!(whole.iter().filter(|r| r.starts_with("Ok(")).count(), 3);
    }

    #[test]
    fn a_flood_of_slashes_is_one_error_with_offset_and_length() {
        let mut input = b"ab".to_vec();
        input.extend(std::iter::repeat_n(b'/', 100_000));
        input.extend_from_slice(CAPTURE);
        let out = decode_all(&input);
        assert_eq!(out.len(), 2, "{out:?}");
        let err = out[0].as_ref().unwrap_err();
        assert_eq!(err.telegram_offset, 2);
        assert_eq!(
            err.kind,
            ErrorKind::Unframed {
                len: 100_000,
                starts: 100_000
            }
        );
        assert!(err.to_string().contains("100000 byte(s)"), "{err}");
        assert_eq!(out[1].as_ref().map(|f| f.offset).ok(), Some(100_002));
        // At the end of the input the open candidate joins the run too.
        let out = decode_all(&[b'/'; 5000]);
        assert_eq!(out.len(), 1, "{out:?}");
        // A single cut candidate is still reported as what it is.
        let mut one = CAPTURE[..10].to_vec();
        one.extend_from_slice(CAPTURE);
        let out = decode_all(&one);
        assert_eq!(out[0].as_ref().unwrap_err().kind, ErrorKind::Interrupted);
        assert!(out[1].is_ok());
    }

    #[test]
    fn checked_telegram_is_the_frames() {
        let mut d = Decoder::new();
        let mut seen = 0;
        d.feed_checked(CAPTURE, &mut |r| {
            let c = r.expect("capture is valid");
            assert_eq!(c.bytes, CAPTURE);
            assert_eq!(c.telegram().to_bytes(), CAPTURE);
            seen += 1;
        });
        assert_eq!(seen, 1);
    }
}
