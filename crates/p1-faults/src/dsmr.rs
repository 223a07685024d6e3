//! A model of what dsmr_parser 1.11.2 (PyPI; the parser behind Home Assistant's dsmr
//! integration) does with bytes, used to predict [`crate::Verdict`]'s `dsmr_parser` and
//! `dsmr_reader` fields.
//!
//! Written from its source (`parsers.py`, `clients/telegram_buffer.py`,
//! `clients/protocol.py`) and guide/oracles.md §B.2; the conformance test runs the real
//! package on every fault kind and compares. Modelled: the CRC check (`\/.+\!` from the
//! first `/` to the last `!`, then the first `!` followed by 1..4 of `[0-9A-Z]`, read with
//! `int(.., 16)`), the empty result of LF-only input, the framing regex of
//! `TelegramBuffer` (`\/[^\/]+?\![A-F0-9]{0,4}\0?\r\n`) and the ASCII check of the
//! asyncio reader. Not modelled: object-level effects other than the one this crate causes
//! on purpose (a letter inside a decimal value, which raises `decimal.InvalidOperation`).

use serde::{Deserialize, Serialize};

use p1_wire::crc16;

/// What dsmr_parser does with a telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// Parsed with at least one object.
    Accept,
    /// `InvalidChecksumError` or `ParseError`: readers log it and drop the telegram.
    Reject,
    /// Parsed without error into zero objects (LF-only line ends).
    SilentEmpty,
    /// The reader's `TelegramBuffer` never cuts it out of the stream, so it is never parsed.
    NotFramed,
    /// Another exception escapes (`ValueError`, `decimal.InvalidOperation`,
    /// `UnicodeDecodeError`): the reader's loop or Home Assistant's protocol dies.
    Crash,
}

/// What the bytes contain that the model cannot see by itself.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hints {
    /// A decimal value (before `*unit`) holds a letter and the CRC covers it.
    pub(crate) letter_in_decimal: bool,
}

/// `TelegramParser(BELGIUM_FLUVIUS).parse(text, throw_ex=True)` on the whole text.
pub(crate) fn parse(text: &[u8], hints: Hints) -> Expect {
    let Some(slash) = text.iter().position(|&b| b == b'/') else {
        return Expect::Reject;
    };
    let Some(bang) = text.iter().rposition(|&b| b == b'!') else {
        return Expect::Reject;
    };
    // `.+` needs at least one character between `/` and `!`.
    if bang < slash + 2 {
        return Expect::Reject;
    }
    let is_digit = |b: &u8| b.is_ascii_digit() || b.is_ascii_uppercase();
    let Some(start) = (1..text.len()).find(|&i| text[i - 1] == b'!' && is_digit(&text[i])) else {
        return Expect::Reject;
    };
    let digits: Vec<u8> = text[start..]
        .iter()
        .take(4)
        .take_while(|b| is_digit(b))
        .copied()
        .collect();
    let mut value: u32 = 0;
    for d in &digits {
        match (*d as char).to_digit(16) {
            Some(v) => value = value * 16 + v,
            // int('G', 16): ValueError, not one of dsmr_parser's exceptions.
            None => return Expect::Crash,
        }
    }
    if u32::from(crc16(&text[slash..=bang])) != value {
        return Expect::Reject;
    }
    if !has_objects(text) {
        return Expect::SilentEmpty;
    }
    if hints.letter_in_decimal {
        return Expect::Crash;
    }
    Expect::Accept
}

/// Whether any `^\d-\d:` line is followed somewhere by CR LF (every object regex of the
/// Belgian specification ends in `.+?\r\n`, DOTALL).
fn has_objects(text: &[u8]) -> bool {
    let starts = (0..text.len()).filter(|&p| p == 0 || text[p - 1] == b'\n');
    for p in starts {
        let t = &text[p..];
        if t.len() >= 4
            && t[0].is_ascii_digit()
            && t[1] == b'-'
            && t[2].is_ascii_digit()
            && t[3] == b':'
        {
            return t.windows(2).any(|w| w == b"\r\n");
        }
    }
    false
}

/// The telegrams `TelegramBuffer.get_all()` cuts out of `text` (as `findall` does).
pub(crate) fn frames(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut s = 0;
    while s < text.len() {
        if text[s] != b'/' {
            s += 1;
            continue;
        }
        match frame_at(text, s) {
            Some(end) => {
                out.push(&text[s..end]);
                s = end;
            }
            None => s += 1,
        }
    }
    out
}

/// End of the match of `\/[^\/]+?\![A-F0-9]{0,4}\0?\r\n` starting at `s`, if any.
fn frame_at(text: &[u8], s: usize) -> Option<usize> {
    // `[^\/]+?` covers s+1..p (at least one byte, no `/`), then `!` at p.
    for p in s + 2..text.len() {
        if text[p - 1] == b'/' {
            return None;
        }
        if text[p] != b'!' {
            continue;
        }
        let hex = text[p + 1..]
            .iter()
            .take(4)
            .take_while(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
            .count();
        for k in (0..=hex).rev() {
            let q = p + 1 + k;
            if text.get(q) == Some(&0) && text.get(q + 1..q + 3) == Some(b"\r\n") {
                return Some(q + 3);
            }
            if text.get(q..q + 2) == Some(b"\r\n") {
                return Some(q + 2);
            }
        }
    }
    None
}

/// What the asyncio reader (`create_dsmr_reader`, Home Assistant) does with `text`
/// arriving on its own: the outcome of the last telegram it cuts out, or `NotFramed`.
pub(crate) fn read(text: &[u8], hints: Hints) -> Expect {
    let mut last = Expect::NotFramed;
    for f in frames(text) {
        last = if f.is_ascii() {
            parse(f, hints)
        } else {
            Expect::Crash
        };
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut v = body.to_vec();
        v.extend_from_slice(format!("{:04X}\r\n", crc16(body)).as_bytes());
        v
    }

    #[test]
    fn buffer_regex() {
        let t = framed(b"/ABC5\\x\r\n\r\n1-0:1.8.1(1)\r\n!");
        assert_eq!(frames(&t), vec![&t[..]]);
        // Lower-case CRC: no match.
        let mut lower = t.clone();
        lower.make_ascii_lowercase();
        assert!(frames(&lower).is_empty());
        // Empty CRC and NUL before CR LF are allowed.
        assert_eq!(frames(b"/ab!\r\n").len(), 1);
        assert_eq!(frames(b"/ab!12\0\r\n").len(), 1);
        // A `/` inside restarts.
        assert_eq!(frames(b"/ab/cd!\r\n"), vec![&b"/cd!\r\n"[..]]);
        // LF only after the CRC: never framed.
        assert!(frames(b"/ab!1234\n").is_empty());
        // A bad `!` is skipped; a later one frames.
        assert_eq!(frames(b"/a!x!12\r\n").len(), 1);
    }

    #[test]
    fn parse_model() {
        let t = framed(b"/ABC5\\x\r\n\r\n1-0:1.8.1(1)\r\n!");
        assert_eq!(parse(&t, Hints::default()), Expect::Accept);
        let body = b"/ABC5\\x\n\n1-0:1.8.1(1)\n!";
        let mut lf = body.to_vec();
        lf.extend_from_slice(format!("{:04X}\n", crc16(body)).as_bytes());
        assert_eq!(parse(&lf, Hints::default()), Expect::SilentEmpty);
        // A CR LF anywhere after an object line lets the DOTALL regexes match again.
        assert_eq!(parse(&framed(body), Hints::default()), Expect::Accept);
        assert_eq!(parse(b"/ABC!\r\n", Hints::default()), Expect::Reject);
        assert_eq!(parse(b"/ABC!GZ\r\n", Hints::default()), Expect::Crash);
    }
}
